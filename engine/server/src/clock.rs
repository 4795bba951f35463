//! The driver's clocks. The engine never reads a clock: before every step the driver hands it
//! the monotonic time (microseconds since this process started) and the wall time (Unix
//! microseconds) through `Cx::set_time`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A process-wide monotonic origin, shared (copied) by every thread so that all threads agree on
/// what `now_mono_us` means: timers armed on one thread's clock fire on the same scale.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            origin: Instant::now(),
        }
    }

    pub fn now_mono_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Unix time in microseconds; a clock set before 1970 reads as 0.
    pub fn wall_us(&self) -> u64 {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX)
    }

    /// The instant a monotonic deadline stands for, for the runtime's timers.
    pub fn instant_at(&self, at_mono_us: u64) -> Instant {
        self.origin + Duration::from_micros(at_mono_us)
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn mono_is_relative_to_origin_and_round_trips() {
        let clock = Clock::start();
        let a = clock.now_mono_us();
        let b = clock.now_mono_us();
        assert!(a <= b);
        assert!(b < 60_000_000, "a fresh clock reads near zero");
        assert_eq!(
            clock.instant_at(a).duration_since(clock.origin).as_micros(),
            u128::from(a)
        );
        // 2020-01-01 in Unix microseconds: the wall clock is real time, not process time.
        assert!(clock.wall_us() > 1_577_836_800_000_000);
    }
}
