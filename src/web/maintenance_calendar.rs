//! The maintenance calendar: one month (UTC days, weeks from Monday) of due, projected
//! and overdue maintenance from `MaintenanceCalendar`, with links to the previous and next
//! month and to each entry's plan and order. Read-only; any role.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use plantd_contracts::maintenance::MaintenanceCalendar;
use plantd_contracts::DomainError;
use serde::Deserialize;

use super::health_common::{answer, asset_names, plain, reader, Head};
use crate::edge::{render, Problem};
use crate::state::AppState;

pub struct Entry {
    pub plan_id: String,
    pub title: String,
    pub asset_name: String,
    /// `due`, `projected` or `overdue`.
    pub kind: String,
    pub time: String,
    pub work_order_id: String,
}

pub struct Day {
    /// 0 for the padding days of the weeks around the month.
    pub day: u32,
    pub date: String,
    pub today: bool,
    pub entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "maintenance_calendar.html")]
struct CalendarPage {
    head: Head,
    title: String,
    prev: String,
    next: String,
    weeks: Vec<Vec<Day>>,
    count: usize,
}

#[derive(Deserialize, Default)]
pub struct MonthQuery {
    /// `YYYY-MM`; this month when absent.
    #[serde(default)]
    month: Option<String>,
}

fn first_of(month: Option<&str>) -> Result<NaiveDate, Problem> {
    match month {
        None | Some("") => {
            let today = Utc::now().date_naive();
            Ok(today.with_day(1).unwrap_or(today))
        }
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .map_err(|_| DomainError::invalid("month", "YYYY-MM").into()),
    }
}

fn next_month(first: NaiveDate) -> NaiveDate {
    first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first)
}

/// The weeks (Monday first) that hold the month, each day with its entries.
fn weeks_of(first: NaiveDate, mut by_day: BTreeMap<u32, Vec<Entry>>) -> Vec<Vec<Day>> {
    let end = next_month(first);
    let today = Utc::now().date_naive();
    let lead = first.weekday().num_days_from_monday() as i64;
    let mut weeks = Vec::new();
    let mut day = first - Duration::days(lead);
    while day < end {
        let mut week = Vec::with_capacity(7);
        for _ in 0..7 {
            let inside = day >= first && day < end;
            week.push(Day {
                day: if inside { day.day() } else { 0 },
                date: day.format("%Y-%m-%d").to_string(),
                today: day == today,
                entries: if inside {
                    by_day.remove(&day.day()).unwrap_or_default()
                } else {
                    Vec::new()
                },
            });
            day += Duration::days(1);
        }
        weeks.push(week);
    }
    weeks
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<MonthQuery>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let first = match first_of(query.month.as_deref()) {
        Ok(first) => first,
        Err(p) => return plain(p),
    };
    let end = next_month(first);
    let (Some(from), Some(to)) = (
        first
            .and_hms_opt(0, 0, 0)
            .map(|t| Utc.from_utc_datetime(&t)),
        end.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t)),
    ) else {
        return plain(DomainError::invalid("month", "YYYY-MM").into());
    };
    let entries = match answer(
        state
            .maintenance
            .send(MaintenanceCalendar { from, to })
            .await,
    ) {
        Ok(entries) => entries,
        Err(p) => return plain(p),
    };
    let names = asset_names(&state).await;
    let count = entries.len();
    let mut by_day: BTreeMap<u32, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        by_day.entry(e.at.day()).or_default().push(Entry {
            asset_name: names.get(&e.asset_id).cloned().unwrap_or(e.asset_id),
            plan_id: e.plan_id,
            title: e.title,
            kind: e.kind,
            time: e.at.format("%H:%M").to_string(),
            work_order_id: e.work_order_id.unwrap_or_default(),
        });
    }
    let prev = first
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(first);
    render(&CalendarPage {
        head: Head::of(&current),
        title: first.format("%B %Y").to_string(),
        prev: prev.format("%Y-%m").to_string(),
        next: end.format("%Y-%m").to_string(),
        weeks: weeks_of(first, by_day),
        count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_whole_weeks_from_monday() {
        // December 2026 starts on a Tuesday and ends on a Thursday: 5 weeks.
        let first = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let weeks = weeks_of(first, BTreeMap::new());
        assert_eq!(weeks.len(), 5);
        assert_eq!(weeks[0][0].day, 0, "Monday 30 November is padding");
        assert_eq!(weeks[0][1].day, 1);
        assert_eq!(weeks[4][3].day, 31);
        assert_eq!(weeks[4][4].day, 0);
        assert_eq!(first_of(Some("2026-02")).expect("month").day(), 1);
        assert!(first_of(Some("February")).is_err());
    }
}
