//! How pages write a number: a reading (every page, chart and readout label) and a size in
//! bytes, so each looks the same everywhere. Pure: touches nothing.

/// A reading as pages show it: integers without decimals, others to at most three.
pub(crate) fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_owned()
        } else {
            text.to_owned()
        }
    }
}

/// Bytes in the largest unit that keeps a number ≥ 1: `812 KiB`, `1.4 GiB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} bytes"),
        _ if value < 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.0} {}", UNITS[unit]),
    }
}

#[cfg(test)]
mod tests {
    use super::format_value;

    #[test]
    fn integers_lose_their_decimals_others_keep_at_most_three() {
        assert_eq!(format_value(42.0), "42");
        assert_eq!(format_value(2.5), "2.5");
        assert_eq!(format_value(1.23456), "1.235");
        assert_eq!(format_value(-0.0001), "0");
    }
}
