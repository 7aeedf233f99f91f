//! The health module's Prometheus metrics: their descriptions, and the gauges of open
//! alarms by state.

use plantd_contracts::health::{Alarm, AlarmState};

pub fn describe_metrics() {
    metrics::describe_counter!(
        "plantd_health_samples_evaluated_total",
        "Samples forwarded to rule evaluation"
    );
    metrics::describe_counter!(
        "plantd_alarms_raised_total",
        "Alarm episodes raised, by severity"
    );
    metrics::describe_counter!(
        "plantd_alarms_chattering_total",
        "Alarms flagged as chattering (3 raises within a minute)"
    );
    metrics::describe_gauge!("plantd_alarms_open", "Open alarms, by state");
    metrics::describe_histogram!(
        "plantd_alarm_raise_latency_seconds",
        "From the sample reaching plantd to its alarm being stored"
    );
    metrics::describe_counter!(
        "plantd_health_write_failures_total",
        "Alarm or detector writes that failed (retried)"
    );
    metrics::describe_gauge!(
        "plantd_health_pending_writes",
        "Alarm changes waiting to be written"
    );
    for state in AlarmState::ALL {
        if state.is_open() {
            metrics::gauge!("plantd_alarms_open", "state" => state.as_str()).set(0.0);
        }
    }
}

pub(crate) fn set_open_gauges<'a>(open: impl Iterator<Item = &'a Alarm>) {
    let mut counts = [0usize; 7];
    for a in open {
        if let Some(i) = AlarmState::ALL.iter().position(|s| *s == a.state) {
            counts[i] += 1;
        }
    }
    for (state, n) in AlarmState::ALL.iter().zip(counts) {
        if state.is_open() {
            metrics::gauge!("plantd_alarms_open", "state" => state.as_str()).set(n as f64);
        }
    }
}
