//! Folding rounds into figures, and printing them.
//!
//! Per workload and server: throughput is the median over rounds, with the spread as
//! (max − min) / median; latency percentiles come from the rounds' histograms merged (so every
//! request weighs the same); CPU per million operations is total CPU over total operations
//! (summing first, because /proc ticks are 10 ms and one short round's reading is coarse).

use hdrhistogram::Histogram;

use crate::load::{new_histogram, LoadReport};

/// Every round of one workload against one server.
pub struct Series {
    pub server: &'static str,
    ops_per_sec: Vec<f64>,
    ops: u64,
    errors: u64,
    cpu_seconds: f64,
    histogram: Histogram<u64>,
}

#[derive(Clone, Debug)]
pub struct Summary {
    pub server: &'static str,
    pub rounds: usize,
    pub ops_per_sec_median: f64,
    pub spread_pct: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub cpu_s_per_mops: f64,
    pub errors: u64,
}

impl Series {
    pub fn new(server: &'static str) -> Series {
        Series {
            server,
            ops_per_sec: Vec::new(),
            ops: 0,
            errors: 0,
            cpu_seconds: 0.0,
            histogram: new_histogram(),
        }
    }

    pub fn add(&mut self, report: &LoadReport, cpu_seconds: f64) {
        self.ops_per_sec.push(report.ops_per_sec());
        self.ops += report.ops;
        self.errors += report.errors;
        self.cpu_seconds += cpu_seconds;
        self.histogram
            .add(&report.histogram)
            .expect("same histogram bounds");
    }

    pub fn summary(&self) -> Summary {
        let mut sorted = self.ops_per_sec.clone();
        sorted.sort_by(f64::total_cmp);
        let median = match sorted.len() {
            0 => 0.0,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        let spread = sorted.last().unwrap_or(&0.0) - sorted.first().unwrap_or(&0.0);
        let us = |q: f64| self.histogram.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            server: self.server,
            rounds: sorted.len(),
            ops_per_sec_median: median,
            spread_pct: if median > 0.0 {
                spread / median * 100.0
            } else {
                0.0
            },
            p50_us: us(0.50),
            p99_us: us(0.99),
            p999_us: us(0.999),
            cpu_s_per_mops: self.cpu_seconds / (self.ops.max(1) as f64) * 1e6,
            errors: self.errors,
        }
    }
}

pub const TABLE_HEADER: &str =
    "server          ops/s(med)  spread   p50(us)   p99(us) p99.9(us)  cpu s/Mops  errors";

pub fn format_row(s: &Summary) -> String {
    format!(
        "{:<14} {:>11.0} {:>6.1}% {:>9.1} {:>9.1} {:>9.1} {:>11.2} {:>7}",
        s.server,
        s.ops_per_sec_median,
        s.spread_pct,
        s.p50_us,
        s.p99_us,
        s.p999_us,
        s.cpu_s_per_mops,
        s.errors
    )
}

/// `damselfly / redis` for each figure (higher is better for ops/s, lower for the rest).
pub fn format_ratio(damselfly: &Summary, redis: &Summary) -> String {
    let ratio = |a: f64, b: f64| {
        if b > 0.0 {
            format!("{:.2}x", a / b)
        } else {
            "-".into()
        }
    };
    format!(
        "{:<14} {:>11} {:>7} {:>9} {:>9} {:>9} {:>11}",
        "damselfly/redis",
        ratio(damselfly.ops_per_sec_median, redis.ops_per_sec_median),
        "",
        ratio(damselfly.p50_us, redis.p50_us),
        ratio(damselfly.p99_us, redis.p99_us),
        ratio(damselfly.p999_us, redis.p999_us),
        ratio(damselfly.cpu_s_per_mops, redis.cpu_s_per_mops),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn report(ops: u64, secs: u64, latency_ns: u64) -> LoadReport {
        let mut histogram = new_histogram();
        histogram.record_n(latency_ns, ops).unwrap();
        LoadReport {
            ops,
            errors: 0,
            first_error: None,
            elapsed: Duration::from_secs(secs),
            histogram,
        }
    }

    #[test]
    fn median_spread_cpu() {
        let mut series = Series::new("redis");
        series.add(&report(1000, 1, 10_000), 0.01);
        series.add(&report(3000, 1, 20_000), 0.02);
        series.add(&report(2000, 1, 30_000), 0.03);
        let s = series.summary();
        assert_eq!(s.ops_per_sec_median, 2000.0);
        assert_eq!(s.spread_pct, 100.0);
        assert!(
            (s.cpu_s_per_mops - 10.0).abs() < 1e-9,
            "0.06 s over 6000 ops"
        );
        assert!((s.p50_us - 20.0).abs() < 0.1, "p50 {}", s.p50_us);
    }
}
