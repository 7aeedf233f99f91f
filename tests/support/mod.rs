//! Shared test support: a running plantd server and MQTT/HTTP helpers.

#![allow(dead_code)]

pub mod http;
pub mod mqtt;
pub mod mqtt5;
pub mod proxy;
pub mod raw_mqtt;
pub mod server;
pub mod tls;
pub mod web;

pub use server::Server;

use std::time::{Duration, Instant};

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
