//! The maintenance module's clock: the system clock, or (a test hook only, from
//! `PLANTD_TEST_CLOCK_FILE`) a file read at each look that holds either an RFC 3339 time
//! (the clock stands there) or a number of seconds (signed) added to the system clock. An
//! absent or unreadable file means the system clock. Calendar plans are checked against
//! this clock; meters count by the samples' own times.

use std::path::PathBuf;

use plantd_contracts::time::{now_ms, parse_time, Millis};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// Test hook: the time or offset in this file.
    File(PathBuf),
}

impl Clock {
    pub fn now(&self) -> Millis {
        let system = now_ms();
        let Clock::File(path) = self else {
            return system;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return system;
        };
        let text = text.trim();
        if let Ok(secs) = text.trim_start_matches('+').parse::<f64>() {
            if secs.is_finite() {
                return system.saturating_add((secs * 1000.0) as Millis);
            }
        }
        parse_time(text).unwrap_or(system)
    }
}
