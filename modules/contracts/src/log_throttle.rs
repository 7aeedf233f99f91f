//! Throttling of the warning lines a client can cause at will (a refused login, publish or
//! subscription, a rejected payload, a bad report), so that a flood of them cannot fill the
//! disk or drown the log: at most a number of lines per reason in each 10 s window (the
//! `log_warnings_per_10s` setting), then, with the next line of a later window, one line
//! saying how many were suppressed. The counters of what happened keep the totals; the
//! suppressed lines are counted in `plantd_log_lines_suppressed_total`. Also [`clip`], which
//! cuts text a client sent to a length fit for a log line.
//!
//! No I/O here: [`warn_throttled!`](crate::warn_throttled) expands where it is used, with
//! that crate's `tracing` and `metrics`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The length of a throttling window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// The bytes of client-sent text a log line keeps.
pub const CLIP_BYTES: usize = 128;

/// Whether a line may be written, and how many of its reason were suppressed before it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Write { suppressed_before: u64 },
    Suppress,
}

struct Window {
    reason: &'static str,
    started: Instant,
    written: u32,
    suppressed: u64,
}

/// Lines written per reason and window. Reasons are static strings, a few dozen at most.
pub struct LogThrottle {
    per_window: AtomicU32,
    windows: Mutex<Vec<Window>>,
}

impl LogThrottle {
    pub const fn new(per_window: u32) -> Self {
        LogThrottle {
            per_window: AtomicU32::new(per_window),
            windows: Mutex::new(Vec::new()),
        }
    }

    /// Sets the lines written per reason and window (0: none).
    pub fn set_per_window(&self, lines: u32) {
        self.per_window.store(lines, Ordering::Relaxed);
    }

    /// Whether a line for `reason`, at `now`, may be written.
    pub fn check(&self, reason: &'static str, now: Instant) -> Line {
        let per_window = self.per_window.load(Ordering::Relaxed);
        let Ok(mut windows) = self.windows.lock() else {
            return Line::Suppress;
        };
        let index = match windows.iter().position(|w| w.reason == reason) {
            Some(index) => index,
            None => {
                windows.push(Window {
                    reason,
                    started: now,
                    written: 0,
                    suppressed: 0,
                });
                windows.len() - 1
            }
        };
        let window = &mut windows[index];
        let mut suppressed_before = 0;
        if now.saturating_duration_since(window.started) >= WINDOW {
            suppressed_before = std::mem::take(&mut window.suppressed);
            window.started = now;
            window.written = 0;
        }
        if window.written >= per_window {
            window.suppressed += 1;
            return Line::Suppress;
        }
        window.written += 1;
        Line::Write { suppressed_before }
    }
}

/// The throttle of every warning line a client can cause.
pub static WARNINGS: LogThrottle = LogThrottle::new(20);

/// `text` cut to at most [`CLIP_BYTES`] bytes (on a character boundary), saying how long
/// it was when it was cut.
pub fn clip(text: &str) -> Cow<'_, str> {
    if text.len() <= CLIP_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = CLIP_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

/// `tracing::warn!` through [`WARNINGS`] under a static `reason`: a suppressed line is
/// counted in `plantd_log_lines_suppressed_total`, and the first line written after some
/// were suppressed is preceded by one saying how many. The crate using it needs `tracing`
/// and `metrics`.
#[macro_export]
macro_rules! warn_throttled {
    ($reason:expr, $($arg:tt)+) => {{
        let reason: &'static str = $reason;
        match $crate::log_throttle::WARNINGS.check(reason, ::std::time::Instant::now()) {
            $crate::log_throttle::Line::Write { suppressed_before } => {
                if suppressed_before > 0 {
                    ::tracing::warn!(
                        throttled = reason,
                        suppressed = suppressed_before,
                        "similar lines suppressed"
                    );
                }
                ::tracing::warn!($($arg)+);
            }
            $crate::log_throttle::Line::Suppress => {
                ::metrics::counter!("plantd_log_lines_suppressed_total", "reason" => reason)
                    .increment(1);
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_per_reason_and_window_then_the_count_of_the_rest() {
        let throttle = LogThrottle::new(3);
        let start = Instant::now();
        let lines = |reason, at| {
            (0..100)
                .filter(|_| throttle.check(reason, at) != Line::Suppress)
                .count()
        };
        assert_eq!(lines("a", start), 3);
        assert_eq!(lines("b", start), 3, "each reason has its own budget");
        assert_eq!(lines("a", start + WINDOW / 2), 0);
        assert_eq!(
            throttle.check("a", start + WINDOW),
            Line::Write {
                suppressed_before: 197
            }
        );
        assert_eq!(
            throttle.check("a", start + WINDOW),
            Line::Write {
                suppressed_before: 0
            }
        );
        throttle.set_per_window(0);
        assert_eq!(throttle.check("c", start), Line::Suppress);
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_on_a_character() {
        assert_eq!(clip("press-1"), "press-1");
        let long = "é".repeat(200_000);
        let clipped = clip(&long);
        assert!(clipped.len() < CLIP_BYTES + 32, "{}", clipped.len());
        assert!(clipped.ends_with("… (400000 bytes)"));
    }
}
