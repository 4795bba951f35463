//! A server's CPU time and resident memory, read from /proc.
//!
//! `/proc/<pid>/stat` fields 14 and 15 (utime, stime) are the whole process's, every thread's
//! included (io-threads, proactor threads), in clock ticks. `/proc/<pid>/status`'s `VmRSS` is
//! the resident set in kB. Ticks are 10 ms at the usual 100 Hz, so CPU per run is only as good
//! as runs are long: the runner sums ticks over rounds before dividing.

use std::fs;
use std::io;

/// User plus system CPU seconds the process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_stat_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc stat"))?;
    // SAFETY: sysconf has no preconditions.
    let ticks_per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks_per_sec <= 0 {
        return Err(io::Error::other("sysconf(_SC_CLK_TCK) failed"));
    }
    Ok(ticks as f64 / ticks_per_sec as f64)
}

/// utime + stime from a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses
/// and may hold spaces or parentheses itself, so fields are counted after its last `)`.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is index 0, so utime (14) is index 11 and stime index 12.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The resident set of `pid` in bytes.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss_kb(&status)
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc status"))
}

fn parse_vm_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_awkward_name() {
        let stat = "42 (redis (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 4 0 99";
        assert_eq!(parse_stat_ticks(stat), Some(22));
    }

    #[test]
    fn vm_rss() {
        let status = "Name:\tredis-server\nVmPeak:\t  9000 kB\nVmRSS:\t    8112 kB\n";
        assert_eq!(parse_vm_rss_kb(status), Some(8112));
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        assert!(rss_bytes(pid).unwrap() > 0);
    }
}
