//! The maintenance report, composed at the edge from three modules by message: the asset
//! tree and the alarm-system figures from health, each asset's operating time from
//! telemetry (its `running` metric), and the figures from the work-order module. The REST
//! resource (`GET /reports/maintenance`) and the reports page both use it.
//!
//! Operating time: for an asset with a device that reports `running` (1 running, 0
//! stopped), the sum over the period's buckets (hour roll-ups; minute roll-ups for
//! periods up to two days) of the bucket's mean of `running` × its width; buckets without
//! samples count nothing. An asset without such a metric counts calendar time (the
//! period less its orders' downtime), labelled so.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, TimeZone, Utc};
use plantd_contracts::health::{AlarmStats, Asset, AssetKind, GetAlarmStats, GetAsset, ListAssets};
use plantd_contracts::telemetry::{Aggregate, LatestValues, QueryAggregate};
use plantd_contracts::time::{to_datetime, Millis};
use plantd_contracts::workorders::{
    ComputeFigures, FiguresReport, OperatingBasis, OperatingTime, Period,
};
use plantd_contracts::DeviceId;

use super::Problem;
use crate::state::AppState;

/// The metric whose mean is the share of time an asset ran.
pub const RUNNING_METRIC: &str = "running";
const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 86_400_000;

pub struct Report {
    pub from: Millis,
    pub to: Millis,
    pub asset_id: Option<String>,
    /// The assets the figures cover (the subtree of `asset_id`, or every asset).
    pub assets: Vec<Asset>,
    pub operating: Vec<OperatingTime>,
    pub figures: FiguresReport,
    /// The label of each series bucket (`2026-01`, `2026-W03` from its first day, …).
    pub labels: Vec<String>,
    /// Plant-wide (alarms are not split by asset); `None` when health did not answer.
    pub alarms: Option<AlarmStats>,
}

/// The series buckets of `[from, to)`: days up to 31 days, weeks up to 26 weeks, else
/// calendar months (UTC).
fn buckets(from: Millis, to: Millis) -> Vec<(Millis, Millis, String)> {
    let span = to - from;
    let mut out = Vec::new();
    if span <= 26 * 7 * DAY_MS {
        let step = if span <= 31 * DAY_MS {
            DAY_MS
        } else {
            7 * DAY_MS
        };
        let mut a = from;
        while a < to {
            let b = (a + step).min(to);
            out.push((a, b, to_datetime(a).format("%Y-%m-%d").to_string()));
            a = b;
        }
        return out;
    }
    let start = to_datetime(from);
    let mut month = Utc
        .with_ymd_and_hms(start.year(), start.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(start);
    while month.timestamp_millis() < to {
        let next = month.checked_add_months(Months::new(1)).unwrap_or(month);
        if next <= month {
            break;
        }
        let a = month.timestamp_millis().max(from);
        let b = next.timestamp_millis().min(to);
        out.push((a, b, month.format("%Y-%m").to_string()));
        month = next;
    }
    out
}

/// `id` and everything under it, or `None` (every asset) without an id. Unknown → 404.
fn scope(all: &[Asset], asset_id: Option<&str>) -> Result<Option<Vec<Asset>>, Problem> {
    let Some(root) = asset_id else {
        return Ok(None);
    };
    if !all.iter().any(|a| a.id == root) {
        return Err(plantd_contracts::DomainError::NotFound(format!("asset {root}")).into());
    }
    let mut ids = BTreeSet::from([root.to_owned()]);
    loop {
        let before = ids.len();
        for a in all {
            if a.parent_id.as_ref().is_some_and(|p| ids.contains(p)) {
                ids.insert(a.id.clone());
            }
        }
        if ids.len() == before {
            break;
        }
    }
    Ok(Some(
        all.iter()
            .filter(|a| ids.contains(&a.id))
            .cloned()
            .collect(),
    ))
}

/// The devices of `devices` that report `running`: one question to telemetry for all
/// of them (a question per device was a thousand round trips on a plant of that size).
async fn running_devices(
    state: &AppState,
    devices: Vec<DeviceId>,
) -> Result<BTreeSet<DeviceId>, Problem> {
    if devices.is_empty() {
        return Ok(BTreeSet::new());
    }
    let latest = state
        .telemetry
        .send(LatestValues {
            devices: Some(devices),
        })
        .await??;
    Ok(latest
        .into_iter()
        .filter(|(_, values)| values.iter().any(|v| v.metric == RUNNING_METRIC))
        .map(|(device, _)| device)
        .collect())
}

/// Hours of `running` per bucket of `bounds`, from the first of the asset's `devices`
/// that reports it (`running`: those that do); `None` when none does.
async fn running_hours(
    state: &AppState,
    devices: &[DeviceId],
    running: &BTreeSet<DeviceId>,
    from: Millis,
    to: Millis,
    bounds: &[(Millis, Millis)],
) -> Result<Option<(f64, Vec<f64>)>, Problem> {
    if let Some(device) = devices.iter().find(|d| running.contains(*d)).cloned() {
        let step_ms = if to - from <= 2 * DAY_MS {
            60_000
        } else {
            HOUR_MS
        };
        let series = state
            .telemetry
            .send(QueryAggregate {
                device_id: device,
                metric: RUNNING_METRIC.to_owned(),
                from,
                to: to - 1,
                step_ms,
                agg: Aggregate::Avg,
                resolution: None,
            })
            .await??;
        let width = series.step_ms as f64 / HOUR_MS as f64;
        let mut total = 0.0;
        let mut per = vec![0.0; bounds.len()];
        for p in &series.points {
            let ts = p.ts.timestamp_millis();
            if !(from..to).contains(&ts) {
                continue;
            }
            let h = p.value.clamp(0.0, 1.0) * width;
            total += h;
            if let Some(i) = bounds.iter().position(|(a, b)| (*a..*b).contains(&ts)) {
                per[i] += h;
            }
        }
        return Ok(Some((total, per)));
    }
    Ok(None)
}

/// The report over `[from, to)` for `asset_id`'s subtree (every asset when `None`).
pub async fn build(
    state: &AppState,
    from: Millis,
    to: Millis,
    asset_id: Option<String>,
) -> Result<Report, Problem> {
    let all = state.health.send(ListAssets).await??;
    let scoped = scope(&all, asset_id.as_deref())?;
    let assets = scoped.clone().unwrap_or_else(|| all.clone());
    let series = buckets(from, to);
    let bounds: Vec<(Millis, Millis)> = series.iter().map(|(a, b, _)| (*a, *b)).collect();
    let mut operating = Vec::new();
    let mut per_bucket: Vec<Vec<OperatingTime>> = vec![Vec::new(); series.len()];
    let mut devices_of = Vec::new();
    for asset in assets.iter().filter(|a| a.kind == AssetKind::Asset) {
        let detail = state.health.send(GetAsset(asset.id.clone())).await??;
        devices_of.push((asset, detail.devices));
    }
    let running = running_devices(
        state,
        devices_of
            .iter()
            .flat_map(|(_, d)| d.iter().cloned())
            .collect(),
    )
    .await?;
    for (asset, devices) in devices_of {
        match running_hours(state, &devices, &running, from, to, &bounds).await? {
            Some((total, per)) => {
                operating.push(OperatingTime {
                    asset_id: asset.id.clone(),
                    hours: total,
                    basis: OperatingBasis::Running,
                });
                for (bucket, hours) in per_bucket.iter_mut().zip(per) {
                    bucket.push(OperatingTime {
                        asset_id: asset.id.clone(),
                        hours,
                        basis: OperatingBasis::Running,
                    });
                }
            }
            None => {
                operating.push(OperatingTime {
                    asset_id: asset.id.clone(),
                    hours: (to - from) as f64 / HOUR_MS as f64,
                    basis: OperatingBasis::Calendar,
                });
                for (bucket, (a, b)) in per_bucket.iter_mut().zip(&bounds) {
                    bucket.push(OperatingTime {
                        asset_id: asset.id.clone(),
                        hours: (b - a) as f64 / HOUR_MS as f64,
                        basis: OperatingBasis::Calendar,
                    });
                }
            }
        }
    }
    // The figures and the alarm statistics read different modules' tables: asked at once.
    let figures = state.workorders.send(ComputeFigures {
        period: Period {
            from: to_datetime(from),
            to: to_datetime(to),
            operating: operating.clone(),
        },
        series: bounds
            .iter()
            .zip(per_bucket)
            .map(|((a, b), operating)| Period {
                from: to_datetime(*a),
                to: to_datetime(*b),
                operating,
            })
            .collect(),
        assets: scoped.map(|s| s.into_iter().map(|a| a.id).collect()),
    });
    let alarms = state.health.send(GetAlarmStats {
        from_ms: from,
        to_ms: to,
    });
    let (figures, alarms) = tokio::join!(figures, alarms);
    let figures = figures??;
    let alarms = match alarms {
        Ok(Ok(stats)) => Some(stats),
        _ => None,
    };
    Ok(Report {
        from,
        to,
        asset_id,
        assets,
        operating,
        figures,
        labels: series.into_iter().map(|(_, _, l)| l).collect(),
        alarms,
    })
}

/// The report as CSV: one row per series bucket and a last row `total`.
pub fn to_csv(report: &Report) -> Result<Vec<u8>, csv::Error> {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "period",
        "from",
        "to",
        "operating_hours",
        "operating_basis",
        "failures",
        "mtbf_hours",
        "mttr_hours",
        "downtime_hours",
        "availability",
        "pm_due",
        "pm_on_time",
        "pm_compliance",
        "planned_share",
        "backlog_weeks",
        "repeat_failure_rate",
        "open_orders",
        "overdue_orders",
    ])?;
    let rows = report
        .labels
        .iter()
        .map(String::as_str)
        .zip(&report.figures.series)
        .chain(std::iter::once(("total", &report.figures.total)));
    for (label, f) in rows {
        w.write_record([
            label.to_owned(),
            plantd_contracts::time::format_ms(f.from.timestamp_millis()),
            plantd_contracts::time::format_ms(f.to.timestamp_millis()),
            format!("{:.4}", f.operating_hours),
            f.operating_basis.clone(),
            f.failures.to_string(),
            opt(f.mtbf_hours),
            opt(f.mttr_hours),
            format!("{:.4}", f.downtime_hours),
            opt(f.availability),
            f.pm_due.to_string(),
            f.pm_on_time.to_string(),
            opt(f.pm_compliance),
            opt(f.planned_share),
            format!("{:.4}", f.backlog_weeks),
            opt(f.repeat_failure_rate),
            f.open_orders.to_string(),
            f.overdue_orders.to_string(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, m: u32, d: u32) -> Millis {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("date")
            .timestamp_millis()
    }

    #[test]
    fn a_year_is_twelve_months_and_a_month_its_days() {
        let year = buckets(ms(2026, 1, 1), ms(2027, 1, 1));
        assert_eq!(year.len(), 12);
        assert_eq!(year[1].2, "2026-02");
        assert_eq!(year[1].1 - year[1].0, 28 * DAY_MS);
        let month = buckets(ms(2026, 3, 1), ms(2026, 4, 1));
        assert_eq!(month.len(), 31);
        let quarter = buckets(ms(2026, 1, 1), ms(2026, 4, 1));
        assert_eq!(quarter.len(), 13);
        assert_eq!(quarter.last().map(|b| b.1), Some(ms(2026, 4, 1)));
    }
}
