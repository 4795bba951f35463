//! A latency histogram laid out as HdrHistogram with Redis's parameters (values 1 ns to 1 s,
//! two significant digits), so that INFO latencystats reports the same bucket edges Redis does:
//! a value is counted in a bucket whose width is 1/128 to 1/256 of its magnitude, and a
//! percentile answers the highest value of its bucket (12 µs shows as 12.031).
//!
//! Buckets: bucket 0 holds 0..256 one unit apart; bucket k ≥ 1 holds 128·2^k..256·2^k in 128
//! steps of 2^k. The counts array is indexed as HdrHistogram indexes it, so two histograms add
//! element by element (INFO sums every thread's).

/// Redis's `LATENCY_HISTOGRAM_MIN_VALUE`: shorter durations count as 1 ns.
pub const LATENCY_MIN_NS: u64 = 1;
/// Redis's `LATENCY_HISTOGRAM_MAX_VALUE`: longer durations count as 1 s.
pub const LATENCY_MAX_NS: u64 = 1_000_000_000;

/// Sub-buckets per bucket: the smallest power of two at least 2·10^2 (two significant digits).
const SUB_BUCKET_COUNT: u64 = 256;
const SUB_BUCKET_HALF_COUNT: u64 = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_HALF_COUNT.trailing_zeros();
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT - 1;
/// Buckets until `SUB_BUCKET_COUNT << (buckets - 1)` exceeds `LATENCY_MAX_NS`.
const BUCKET_COUNT: u64 = 23;
const COUNTS_LEN: usize = ((BUCKET_COUNT + 1) * SUB_BUCKET_HALF_COUNT) as usize;
const _: () = assert!(SUB_BUCKET_COUNT << (BUCKET_COUNT - 1) > LATENCY_MAX_NS);
const _: () = assert!(SUB_BUCKET_COUNT << (BUCKET_COUNT - 2) <= LATENCY_MAX_NS);

#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Box<[u64; COUNTS_LEN]>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: Box::new([0; COUNTS_LEN]),
            total: 0,
        }
    }
}

fn bucket_index(value: u64) -> u32 {
    let pow2_ceiling = 64 - (value | SUB_BUCKET_MASK).leading_zeros();
    pow2_ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)
}

fn counts_index(value: u64) -> usize {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let base = u64::from(bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
    (base + sub_bucket - SUB_BUCKET_HALF_COUNT) as usize
}

/// The lowest value counted at `index`.
fn value_at_index(index: usize) -> u64 {
    let index = index as u64;
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    sub_bucket << bucket
}

/// The highest value counted together with `value`.
fn highest_equivalent(value: u64) -> u64 {
    let bucket = bucket_index(value);
    let sub_bucket = value >> bucket;
    let lowest = sub_bucket << bucket;
    let adjusted = if sub_bucket >= SUB_BUCKET_COUNT {
        bucket + 1
    } else {
        bucket
    };
    lowest + (1u64 << adjusted) - 1
}

impl LatencyHistogram {
    /// Counts one duration, clamped into the tracked range as Redis clamps it.
    pub fn record_ns(&mut self, duration_ns: u64) {
        let value = duration_ns.clamp(LATENCY_MIN_NS, LATENCY_MAX_NS);
        self.counts[counts_index(value)] += 1;
        self.total += 1;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Adds another thread's counts.
    pub fn add(&mut self, other: &LatencyHistogram) {
        for (sum, part) in self.counts.iter_mut().zip(other.counts.iter()) {
            *sum += part;
        }
        self.total += other.total;
    }

    /// HdrHistogram's `value_at_percentile`: the highest value of the bucket where the count
    /// reaches `percentile` of the total (the lowest, for percentile 0); 0 when empty.
    pub fn value_at_percentile_ns(&self, percentile: f64) -> u64 {
        let requested = percentile.min(100.0);
        let wanted = (((requested / 100.0) * self.total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                let value = value_at_index(index);
                return if percentile == 0.0 {
                    value
                } else {
                    highest_equivalent(value)
                };
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_answer_the_bucket_edges_redis_prints() {
        // Figures from redis-server 7.0's INFO latencystats for single calls of 12, 15, 9, 6,
        // 26 and 76 µs: "p50=12.031", "p50=15.039", "9.023", "6.015", "26.111", "76.287".
        for (us, shown_ns) in [
            (12, 12_031),
            (15, 15_039),
            (9, 9_023),
            (6, 6_015),
            (26, 26_111),
            (76, 76_287),
            (73, 73_215),
        ] {
            let mut h = LatencyHistogram::default();
            h.record_ns(us * 1000);
            assert_eq!(h.value_at_percentile_ns(50.0), shown_ns, "{us} µs");
        }
    }

    #[test]
    fn small_values_are_exact_and_out_of_range_values_clamp() {
        let mut h = LatencyHistogram::default();
        h.record_ns(0);
        assert_eq!(h.value_at_percentile_ns(50.0), 1);
        h.record_ns(255);
        assert_eq!(h.value_at_percentile_ns(100.0), 255);
        let mut big = LatencyHistogram::default();
        big.record_ns(u64::MAX);
        assert!(big.value_at_percentile_ns(99.0) >= LATENCY_MAX_NS);
        assert_eq!(LatencyHistogram::default().value_at_percentile_ns(50.0), 0);
    }

    #[test]
    fn percentiles_split_the_counts_and_sums_add() {
        let mut fast = LatencyHistogram::default();
        for _ in 0..99 {
            fast.record_ns(1000);
        }
        let mut slow = LatencyHistogram::default();
        slow.record_ns(1_000_000);
        fast.add(&slow);
        assert_eq!(fast.total(), 100);
        assert_eq!(fast.value_at_percentile_ns(50.0), 1003);
        assert_eq!(fast.value_at_percentile_ns(99.0), 1003);
        assert_eq!(fast.value_at_percentile_ns(99.9), 1_003_519);
        assert_eq!(fast.value_at_percentile_ns(0.0), 1000);
    }
}
