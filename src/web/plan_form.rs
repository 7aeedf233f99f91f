//! The maintenance-plan editor's form: its fields as text (read from a stored plan, shown
//! again after an error) and the plan's JSON (a new plan's body, or a merge patch with
//! `null` for a trigger or field that was emptied). Numbers and dates are checked here,
//! naming the field; the rest is the maintenance module's 422.

use chrono::Utc;
use plantd_contracts::maintenance::{CalendarMode, CalendarUnit, MeterKind, Plan};
use plantd_contracts::DomainError;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::health_common::filled;
use super::rule_form::number;
use super::wo_common::{amount, form_time, lines_of, list_of};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PlanForm {
    pub csrf_token: String,
    pub asset_id: String,
    pub title: String,
    pub description: String,
    /// One task a line: the orders' checklist.
    pub tasks: String,
    pub estimated_hours: String,
    pub skills: String,
    pub tools: String,
    pub parts: String,
    pub stops_asset: String,
    /// The calendar trigger: set when `cal_every` is.
    pub cal_every: String,
    pub cal_unit: String,
    pub cal_mode: String,
    pub cal_start: String,
    /// The meter trigger: set when `meter_metric` is.
    pub meter_device: String,
    pub meter_metric: String,
    pub meter_kind: String,
    pub meter_every: String,
    pub lead_days: String,
    pub lead_meter: String,
}

fn text_of(v: Option<f64>) -> String {
    v.map(amount).unwrap_or_default()
}

fn unit_str(u: CalendarUnit) -> &'static str {
    match u {
        CalendarUnit::Days => "days",
        CalendarUnit::Weeks => "weeks",
        CalendarUnit::Months => "months",
    }
}

pub fn meter_kind_str(k: MeterKind) -> &'static str {
    match k {
        MeterKind::RunHours => "run_hours",
        MeterKind::Counter => "counter",
    }
}

impl PlanForm {
    /// A new plan's form: a fixed monthly calendar from today, run-hour meters.
    pub fn blank(asset_id: String) -> PlanForm {
        PlanForm {
            asset_id,
            cal_unit: "months".into(),
            cal_mode: "fixed".into(),
            cal_start: Utc::now().format("%Y-%m-%d").to_string(),
            meter_kind: "run_hours".into(),
            meter_metric: String::new(),
            ..PlanForm::default()
        }
    }

    /// A stored plan's fields as the form shows them.
    pub fn of(plan: &Plan) -> PlanForm {
        let cal = plan.calendar.as_ref();
        let meter = plan.meter.as_ref();
        PlanForm {
            csrf_token: String::new(),
            asset_id: plan.asset_id.clone(),
            title: plan.title.clone(),
            description: plan.description.clone(),
            tasks: plan.tasks.join("\n"),
            estimated_hours: text_of(plan.estimated_hours),
            skills: plan.skills.join(", "),
            tools: plan.tools.join(", "),
            parts: plan.parts.join(", "),
            stops_asset: if plan.stops_asset {
                "on".into()
            } else {
                String::new()
            },
            cal_every: cal.map(|c| c.every.to_string()).unwrap_or_default(),
            cal_unit: cal.map(|c| unit_str(c.unit)).unwrap_or("months").into(),
            cal_mode: cal
                .map(|c| match c.mode {
                    CalendarMode::Fixed => "fixed",
                    CalendarMode::Floating => "floating",
                })
                .unwrap_or("fixed")
                .into(),
            cal_start: cal
                .map(|c| c.start.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            meter_device: meter.map(|m| m.device_id.to_string()).unwrap_or_default(),
            meter_metric: meter.map(|m| m.metric.clone()).unwrap_or_default(),
            meter_kind: meter
                .map(|m| meter_kind_str(m.kind))
                .unwrap_or("run_hours")
                .into(),
            meter_every: text_of(meter.map(|m| m.every)),
            lead_days: text_of(plan.lead.days),
            lead_meter: text_of(plan.lead.meter),
        }
    }

    /// The plan's JSON: with `null`s for what is empty (`keep_nulls`, a merge patch), or
    /// without them (a new plan).
    pub fn body(&self, keep_nulls: bool) -> Result<Value, DomainError> {
        let text = |s: &str| filled(s).map(Value::String).unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("asset_id".into(), text(&self.asset_id));
        m.insert("title".into(), Value::String(self.title.trim().to_owned()));
        m.insert(
            "description".into(),
            Value::String(self.description.trim().to_owned()),
        );
        m.insert("tasks".into(), lines_of(&self.tasks).into());
        m.insert(
            "estimated_hours".into(),
            number("estimated_hours", &self.estimated_hours)?,
        );
        m.insert("skills".into(), list_of(&self.skills).into());
        m.insert("tools".into(), list_of(&self.tools).into());
        m.insert("parts".into(), list_of(&self.parts).into());
        m.insert("stops_asset".into(), Value::Bool(self.stops_asset == "on"));
        let calendar = match filled(&self.cal_every) {
            None => Value::Null,
            Some(every) => {
                let every: u32 = every.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    DomainError::invalid("calendar.every", "a whole number of 1 or more")
                })?;
                let start = form_time("calendar.start", &self.cal_start)?.unwrap_or_else(Utc::now);
                json!({"every": every, "unit": self.cal_unit, "mode": self.cal_mode,
                       "start": start.to_rfc3339()})
            }
        };
        m.insert("calendar".into(), calendar);
        let meter = match filled(&self.meter_metric) {
            None => Value::Null,
            Some(metric) => json!({
                "device_id": self.meter_device.trim(),
                "metric": metric,
                "kind": self.meter_kind,
                "every": number("meter.every", &self.meter_every)?,
            }),
        };
        m.insert("meter".into(), meter);
        let mut lead = Map::new();
        let days = number("lead.days", &self.lead_days)?;
        let meter = number("lead.meter", &self.lead_meter)?;
        if !days.is_null() {
            lead.insert("days".into(), days);
        }
        if !meter.is_null() {
            lead.insert("meter".into(), meter);
        }
        m.insert(
            "lead".into(),
            if lead.is_empty() {
                if keep_nulls {
                    json!({"days": null, "meter": null})
                } else {
                    Value::Null
                }
            } else {
                Value::Object(lead)
            },
        );
        if !keep_nulls {
            m.retain(|_, v| !v.is_null());
        }
        Ok(Value::Object(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_plan_form_becomes_the_issues_minimal_body() {
        let form = PlanForm {
            asset_id: "a-1".into(),
            title: "Grease bearings".into(),
            tasks: "Grease DE bearing\nGrease NDE bearing".into(),
            meter_device: "pump-1".into(),
            meter_metric: "running".into(),
            meter_kind: "run_hours".into(),
            meter_every: "500".into(),
            lead_meter: "20".into(),
            ..PlanForm::default()
        };
        let body = form.body(false).expect("body");
        assert_eq!(
            body["meter"],
            json!({"device_id": "pump-1", "metric": "running",
            "kind": "run_hours", "every": 500.0})
        );
        assert_eq!(body["lead"], json!({"meter": 20.0}));
        assert_eq!(
            body["tasks"],
            json!(["Grease DE bearing", "Grease NDE bearing"])
        );
        assert!(body.get("calendar").is_none(), "{body}");
        let patch = form.body(true).expect("patch");
        assert_eq!(
            patch["calendar"],
            Value::Null,
            "an emptied trigger is removed"
        );
    }

    #[test]
    fn a_calendar_needs_a_whole_interval() {
        let form = PlanForm {
            cal_every: "1.5".into(),
            ..PlanForm::blank("a".into())
        };
        assert!(
            matches!(form.body(false), Err(DomainError::Invalid { field, .. }) if field == "calendar.every")
        );
        let form = PlanForm {
            cal_every: "3".into(),
            cal_start: "2026-12-07".into(),
            ..PlanForm::blank("a".into())
        };
        assert_eq!(
            form.body(false).expect("body")["calendar"],
            json!({"every": 3, "unit": "months", "mode": "fixed", "start": "2026-12-07T00:00:00+00:00"})
        );
    }
}
