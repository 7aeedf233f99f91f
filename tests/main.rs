//! plantd's integration tests: one test binary (fast to link) that starts the real
//! `plantd` binary per test, on its own ports and data directory, and talks to it over real
//! sockets: MQTT with rumqttc, HTTP with ureq, the UI with Chromium.
//!
//! `PLANTD_TEST_DATABASE_URL=postgres://user@host/` runs every test on PostgreSQL (each
//! server gets a fresh database); without it each server uses its own SQLite file.

// rumqttc's ConnectionError is large; tests return it as is.
#![allow(clippy::result_large_err)]

mod support;

mod a11y;
mod api;
mod auth;
mod backpressure;
mod bench;
mod broker_limits;
mod charts;
mod cli;
mod commands;
mod dashboard;
mod device_pages;
mod devices;
mod events;
mod faults;
mod firmware;
mod firmware_quota;
mod firmware_transfer;
mod flood;
mod health;
mod health_pages;
mod ingest;
mod listeners;
mod log_flooding;
mod login_blocking;
mod maintenance;
mod migrations;
mod mqtt5;
mod reports;
mod security;
mod security_http;
mod settings;
mod settings_pages;
mod shadow;
mod side_channels;
mod simulate;
mod storm;
mod tables;
mod telemetry;
mod tls;
mod topics;
mod ui;
mod users;
mod webhooks;
mod wills;
mod workorder_pages;
mod workorders;
