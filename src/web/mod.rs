//! The web UI: server-rendered askama pages that work without JavaScript. Sign-in uses a
//! double-submit CSRF cookie; every later form carries the session's CSRF token. Templates
//! and static files are compiled into the binary: one file to deploy, no CDN. One file per
//! page family; `routes.rs` mounts the pages. It may use `state.rs` and `edge/`, never
//! `http/` or `routes.rs`.

pub mod account;
mod alarm_chart;
mod alarm_stats;
pub mod alarms;
pub mod assets;
mod chart;
mod chart_data;
mod chart_marks;
mod chart_range;
mod chart_time;
pub mod control;
pub mod control_panel;
pub mod dashboard;
pub mod dashboard_live;
pub mod devices;
pub mod failure_codes;
pub mod firmware;
pub mod firmware_section;
mod health_common;
pub mod local_time;
pub mod maintenance;
mod maintenance_calendar;
pub mod numbers;
pub mod pages;
mod plan_form;
mod qr;
pub mod reports;
pub mod requests;
mod rule_form;
pub mod rules;
mod session;
pub mod settings;
pub mod table;
pub mod telemetry;
pub mod tokens;
pub mod users;
mod views;
pub mod webhooks;
mod wo_common;
mod workorder_form;
mod workorder_page;
pub mod workorders;
