//! The plant time zone setting: an IANA name (`Europe/Berlin`), or, unset, the server's own
//! zone: `TZ`, then `/etc/timezone`, then the target of the `/etc/localtime` link, else
//! UTC. Reads those two files and `TZ`; touches nothing else.

use chrono_tz::Tz;

/// The zone named `value`; empty is the server's zone.
pub fn plant_time_zone(value: &str) -> Result<Tz, String> {
    if value.is_empty() {
        return Ok(server_zone());
    }
    value.parse::<Tz>().map_err(|_| {
        format!("'{value}' is not a time zone of the IANA database, like Europe/Berlin or UTC")
    })
}

/// The server's zone, as far as it can be named; UTC when it cannot.
pub fn server_zone() -> Tz {
    let from_tz = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_owned());
    let from_file = || {
        std::fs::read_to_string("/etc/timezone")
            .ok()
            .map(|s| s.trim().to_owned())
    };
    let from_link = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        let target = target.to_string_lossy().into_owned();
        target
            .split_once("zoneinfo/")
            .map(|(_, name)| name.to_owned())
    };
    [from_tz, from_file(), from_link()]
        .into_iter()
        .flatten()
        .find_map(|name| name.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}
