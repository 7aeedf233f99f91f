//! How a setting's text becomes a value: addresses, bounded numbers, durations, flags, URLs.
//! Each error is the reason alone; the loader names the setting in front of it. Pure.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::LogFormat;

pub fn addr(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("'{value}' is not an address like 0.0.0.0:8080"))
}

/// An address, or `off` (or empty) for a listener that is switched off.
pub fn addr_or_off(value: &str) -> Result<Option<SocketAddr>, String> {
    match value {
        "" | "off" => Ok(None),
        _ => value
            .parse()
            .map(Some)
            .map_err(|_| format!("'{value}' is neither an address like 0.0.0.0:8883 nor 'off'")),
    }
}

pub fn number<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "'{value}' is not a whole number from {min} to {max}"
        )),
    }
}

pub fn millis(value: &str, min: u64, max: u64) -> Result<Duration, String> {
    number(value, min, max).map(Duration::from_millis)
}

pub fn seconds(value: &str, min: u64, max: u64) -> Result<Duration, String> {
    number(value, min, max).map(Duration::from_secs)
}

/// Days of retention as milliseconds; 0 keeps forever (`None`).
pub fn days(value: &str) -> Result<Option<i64>, String> {
    let days: i64 = number(value, 0, 100_000)?;
    Ok((days > 0).then_some(days * 86_400_000))
}

pub fn boolean(value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("'{value}' is neither true nor false")),
    }
}

/// Empty is unset.
pub fn optional(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// A secret of at least `min` characters; empty is unset. The reason never repeats it.
pub fn secret(value: &str, min: usize) -> Result<Option<String>, String> {
    let length = value.chars().count();
    match length {
        0 => Ok(None),
        n if n < min => Err(format!(
            "too short ({n} characters): use at least {min}, or leave it unset to have one generated"
        )),
        _ => Ok(Some(value.to_owned())),
    }
}

pub fn log_format(value: &str) -> Result<LogFormat, String> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("'{value}' is neither text nor json")),
    }
}

/// A PostgreSQL or SQLite URL, or a file path (SQLite).
pub fn database_url(value: &str) -> Result<Option<String>, String> {
    let url = optional(value);
    if let Some(url) = &url {
        if url.contains("://")
            && !["postgres://", "postgresql://", "sqlite://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            return Err("use postgres://… or sqlite://PATH (or a file path)".to_owned());
        }
    }
    Ok(url)
}

/// An http(s) base URL, without a trailing slash.
pub fn base_url(value: &str) -> Result<Option<String>, String> {
    let url = optional(value).map(|u| u.trim_end_matches('/').to_owned());
    if url
        .as_ref()
        .is_some_and(|u| !u.starts_with("http://") && !u.starts_with("https://"))
    {
        return Err("use http://host:port or https://…".to_owned());
    }
    Ok(url)
}
