//! Device pages: the list (filters by state, kind, label; provision form) and one device's
//! page (registry fields, presence and counters, latest values, edit, credentials, state,
//! delete). Every form posts the session's CSRF token; admins and engineers may change,
//! viewers read. Handlers only translate forms to devices messages and render replies.

use super::local_time::{duration, exact_ms as format_ms, Age};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use plantd_contracts::devices::{
    BrowseDevices, DeleteDevice, DeviceCredentials, DeviceSort, DeviceState, DeviceView, GetDevice,
    MetadataChange, PatchDevice, ProvisionDevice, RotateCredentials, SetDeviceEnabled,
};
use plantd_contracts::identity::SessionView;
use plantd_contracts::telemetry::{GetTelemetryStatus, LatestValues, TelemetryStatus};
use plantd_contracts::window::SortDir;
use plantd_contracts::{DeviceId, DomainError};
use serde::Deserialize;

use super::control_panel::ControlPanel;
use super::firmware_section::FirmwareSection;
use super::session::{self, can_change, changer, redirect};
use super::table::{Table, TableQuery};

/// What a viewer is told when a changing form is refused.
const VIEWER_REFUSAL: &str = "your role may only read devices";
use super::telemetry::{self, RangeParam, TelemetrySection};
use crate::edge::{device_assets, render};
use crate::state::AppState;

/// A device as the pages show it: times formatted, options flattened.
pub struct DeviceItem {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub asset_id: String,
    pub labels: Vec<String>,
    pub enabled: bool,
    pub online: bool,
    pub state: &'static str,
    /// Its age (`3 min ago`, the exact time on hover), or `never`.
    pub last_seen: Age,
    pub connected_since: String,
    pub client_address: String,
    pub protocol: String,
    pub messages_in: u64,
    pub last_message_at: Age,
    pub created_at: String,
    pub updated_at: String,
    pub metadata_pretty: String,
}

/// A time for the page, or `none` when there is none.
fn time<T: Into<Option<i64>>>(ms: T, none: &str) -> String {
    ms.into().map(format_ms).unwrap_or_else(|| none.to_owned())
}

impl From<DeviceView> for DeviceItem {
    fn from(d: DeviceView) -> Self {
        DeviceItem {
            state: match (d.enabled, d.online) {
                (false, _) => "disabled",
                (true, true) => "online",
                (true, false) => "offline",
            },
            id: d.id.to_string(),
            name: d.name,
            kind: d.kind.unwrap_or_default(),
            asset_id: d.asset_id.unwrap_or_default(),
            labels: d.labels,
            enabled: d.enabled,
            online: d.online,
            last_seen: Age::of(d.last_seen, Utc::now(), "never"),
            // The time it connected, and for how long: `2026-12-01 08:00:00 CET (2 h 14 min)`.
            connected_since: d
                .connected_since
                .map(|t| {
                    let up = (Utc::now() - t).num_seconds().max(0).unsigned_abs();
                    format!("{} ({})", format_ms(t.timestamp_millis()), duration(up))
                })
                .unwrap_or_else(|| "—".to_owned()),
            client_address: d.client_address.unwrap_or_else(|| "not known".to_owned()),
            protocol: match d.protocol_version {
                Some(5) => "MQTT 5".to_owned(),
                Some(_) => "MQTT 3.1.1".to_owned(),
                None => "—".to_owned(),
            },
            messages_in: d.messages_in,
            last_message_at: Age::of(d.last_message_at, Utc::now(), "—"),
            created_at: time(d.created_at.timestamp_millis(), ""),
            updated_at: time(d.updated_at.timestamp_millis(), ""),
            metadata_pretty: serde_json::to_string_pretty(&d.metadata)
                .unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "devices.html")]
pub struct DevicesPage {
    pub username: String,
    pub role: String,
    pub csrf_token: String,
    pub can_write: bool,
    pub devices: Vec<DeviceItem>,
    pub filter_state: String,
    pub filter_kind: String,
    pub filter_label: String,
    /// Sort, search and paging (`templates/partials/pager.html`).
    pub table: Table,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "device.html")]
pub struct DevicePage {
    pub username: String,
    pub role: String,
    pub csrf_token: String,
    pub can_write: bool,
    pub device: DeviceItem,
    pub labels_text: String,
    /// The device's ingest counters.
    pub ingest: TelemetryStatus,
    pub last_rejection_at: String,
    pub values: Vec<(String, String, String)>,
    /// Credentials just issued (provisioned or rotated): shown in this response only.
    pub credentials: Option<DeviceCredentials>,
    pub error: Option<String>,
    /// The shadow and commands sections (`templates/partials/{shadow,commands}.html`).
    pub control: ControlPanel,
    /// Charts and latest values (`templates/partials/telemetry.html`).
    pub telemetry: TelemetrySection,
    /// Versions and campaigns (`templates/partials/firmware.html`).
    pub firmware: FirmwareSection,
}

fn status_of(e: &DomainError) -> StatusCode {
    match e {
        DomainError::NotFound(_) => StatusCode::NOT_FOUND,
        DomainError::Conflict(_) => StatusCode::CONFLICT,
        DomainError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DomainError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        DomainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable().body("plantd is not ready; try again in a moment")
}

/// Words separated by commas or spaces.
fn split_labels(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[derive(Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    kind: Option<String>,
    label: Option<String>,
    #[serde(flatten)]
    table: TableQuery,
}

/// The columns the device table sorts by.
const SORT_KEYS: [&str; 5] = ["id", "name", "kind", "state", "last_seen"];

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return redirect("/login");
    };
    list_page(&state, current, query.into_inner(), None, StatusCode::OK).await
}

async fn list_page(
    state: &AppState,
    current: SessionView,
    query: ListQuery,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let (filter_state, filter_kind, filter_label) = (
        nonempty(query.state),
        nonempty(query.kind),
        nonempty(query.label),
    );
    let device_state = match filter_state.as_deref() {
        None => None,
        Some(raw) => match DeviceState::parse(raw) {
            Some(s) => Some(s),
            None => return HttpResponse::BadRequest().body("state is online, offline or disabled"),
        },
    };
    let filter_state = filter_state.unwrap_or_default();
    let filter_kind = filter_kind.unwrap_or_default();
    let filter_label = filter_label.unwrap_or_default();
    let table = Table::new(
        "/devices",
        &query.table,
        &SORT_KEYS,
        ("id", SortDir::Asc),
        state.ui_page_size,
    )
    .keep("state", &filter_state)
    .keep("kind", &filter_kind)
    .keep("label", &filter_label);
    let page = match state
        .devices
        .send(BrowseDevices {
            state: device_state,
            kind: Some(filter_kind.clone()).filter(|k| !k.is_empty()),
            label: Some(filter_label.clone()).filter(|l| !l.is_empty()),
            q: table.search(),
            sort: DeviceSort::parse(table.sort).unwrap_or_default(),
            dir: table.dir,
            window: table.window(),
        })
        .await
    {
        Ok(Ok(page)) => page,
        _ => return unavailable(),
    };
    let mut response = render(&DevicesPage {
        username: current.username.clone(),
        role: current.role.as_str().to_owned(),
        can_write: can_change(&current),
        csrf_token: current.csrf_token,
        devices: page.items.into_iter().map(DeviceItem::from).collect(),
        filter_state,
        filter_kind,
        filter_label,
        table: table.counted(page.total),
        error,
    });
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

#[derive(Deserialize)]
pub struct NewDeviceForm {
    csrf_token: String,
    id: String,
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    asset_id: String,
    #[serde(default)]
    labels: String,
}

pub async fn provision(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewDeviceForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWER_REFUSAL).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let form = form.into_inner();
    let known = device_assets::known_asset(&state, Some(&form.asset_id)).await;
    let result = match (DeviceId::parse(form.id.trim()), known) {
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(id), Ok(())) => {
            let nonempty = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
            match state
                .devices
                .send(ProvisionDevice {
                    id,
                    name: nonempty(form.name),
                    kind: nonempty(form.kind),
                    asset_id: nonempty(form.asset_id),
                    metadata: None,
                    labels: split_labels(&form.labels),
                })
                .await
            {
                Ok(result) => result,
                Err(_) => return unavailable(),
            }
        }
    };
    match result {
        Ok(provisioned) => {
            device_assets::attached(&state, &provisioned.device).await;
            tracing::info!(by = %current.username, device = %provisioned.device.id, "device provisioned in the UI");
            device_page(
                &state,
                current,
                provisioned.device.id,
                Some(provisioned.credentials),
                None,
            )
            .await
        }
        Err(e) => {
            let status = status_of(&e);
            let query = ListQuery {
                state: None,
                kind: None,
                label: None,
                table: TableQuery::default(),
            };
            list_page(&state, current, query, Some(e.to_string()), status).await
        }
    }
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    range: web::Query<RangeParam>,
) -> HttpResponse {
    let Some((_, current)) = session::current(&req, &state).await else {
        return redirect("/login");
    };
    let Ok(id) = DeviceId::parse(&id) else {
        return HttpResponse::NotFound().body("no such device");
    };
    device_page_in(&state, current, id, None, None, &range).await
}

async fn device_page(
    state: &AppState,
    current: SessionView,
    id: DeviceId,
    credentials: Option<DeviceCredentials>,
    error: Option<(StatusCode, String)>,
) -> HttpResponse {
    // The chart range fitted to the data (no `?range=`).
    let range = RangeParam::default();
    device_page_in(state, current, id, credentials, error, &range).await
}

async fn device_page_in(
    state: &AppState,
    current: SessionView,
    id: DeviceId,
    credentials: Option<DeviceCredentials>,
    error: Option<(StatusCode, String)>,
    range: &RangeParam,
) -> HttpResponse {
    let device = match state.devices.send(GetDevice { id: id.clone() }).await {
        Ok(Ok(device)) => device,
        Ok(Err(DomainError::NotFound(_))) => {
            return HttpResponse::NotFound().body("no such device")
        }
        _ => return unavailable(),
    };
    let (telemetry, latest) = match (
        state
            .telemetry
            .send(GetTelemetryStatus {
                device_id: id.clone(),
            })
            .await,
        state
            .telemetry
            .send(LatestValues {
                devices: Some(vec![id.clone()]),
            })
            .await,
    ) {
        (Ok(status), Ok(Ok(latest))) => (status, latest),
        _ => return unavailable(),
    };
    let values = latest
        .get(&id)
        .map(|values| {
            values
                .iter()
                .map(|v| {
                    (
                        v.metric.clone(),
                        v.value.to_string(),
                        format_ms(v.ts.timestamp_millis()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let mut control =
        match ControlPanel::load(state, id.clone(), current.csrf_token.clone(), current.role).await
        {
            Ok(control) => control,
            Err(DomainError::NotFound(_)) => {
                return HttpResponse::NotFound().body("no such device")
            }
            Err(_) => return unavailable(),
        };
    control.back = format!("/devices/{id}");
    let Ok(telemetry_section) = telemetry::section(state, &id, range).await else {
        return unavailable();
    };
    let firmware = match FirmwareSection::load(state, &id).await {
        Ok(firmware) => firmware,
        Err(DomainError::NotFound(_)) => return HttpResponse::NotFound().body("no such device"),
        Err(_) => return unavailable(),
    };
    let (status, error) = match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    let mut response = render(&DevicePage {
        username: current.username.clone(),
        role: current.role.as_str().to_owned(),
        can_write: can_change(&current),
        csrf_token: current.csrf_token,
        labels_text: device.labels.join(", "),
        device: DeviceItem::from(device),
        last_rejection_at: time(
            telemetry.last_rejection_at.map(|t| t.timestamp_millis()),
            "—",
        ),
        ingest: telemetry,
        values,
        credentials,
        error,
        control,
        telemetry: telemetry_section,
        firmware,
    });
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    // A page with a secret on it must not be kept by the browser or a proxy.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[derive(Deserialize)]
pub struct EditForm {
    csrf_token: String,
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    asset_id: String,
    #[serde(default)]
    labels: String,
    #[serde(default)]
    metadata: String,
}

pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<EditForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWER_REFUSAL).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let Ok(id) = DeviceId::parse(&id) else {
        return HttpResponse::NotFound().body("no such device");
    };
    let form = form.into_inner();
    let metadata = if form.metadata.trim().is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_str(&form.metadata) {
            Ok(value) => value,
            Err(e) => {
                let message = format!("metadata is not JSON: {e}");
                return device_page(
                    &state,
                    current,
                    id,
                    None,
                    Some((StatusCode::UNPROCESSABLE_ENTITY, message)),
                )
                .await;
            }
        }
    };
    if let Err(e) = device_assets::known_asset(&state, Some(&form.asset_id)).await {
        let status = status_of(&e);
        return device_page(&state, current, id, None, Some((status, e.to_string()))).await;
    }
    let result = state
        .devices
        .send(PatchDevice {
            id: id.clone(),
            name: Some(form.name.trim().to_owned()),
            kind: Some(form.kind.trim().to_owned()),
            asset_id: Some(form.asset_id.trim().to_owned()),
            metadata: Some(MetadataChange::Replace(metadata)),
            labels: Some(split_labels(&form.labels)),
        })
        .await;
    if let Ok(Ok(device)) = &result {
        device_assets::attached(&state, device).await;
    }
    after_change(&state, current, id, result.map(|r| r.map(|_| ()))).await
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf_token: String,
}

pub async fn rotate(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWER_REFUSAL).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let Ok(id) = DeviceId::parse(&id) else {
        return HttpResponse::NotFound().body("no such device");
    };
    match state
        .devices
        .send(RotateCredentials { id: id.clone() })
        .await
    {
        Ok(Ok(credentials)) => {
            tracing::info!(by = %current.username, device = %id, "device credentials rotated in the UI");
            device_page(&state, current, id, Some(credentials), None).await
        }
        Ok(Err(e)) => after_change(&state, current, id, Ok(Err(e))).await,
        Err(_) => unavailable(),
    }
}

pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    set_enabled(req, state, id, form, false).await
}

pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    set_enabled(req, state, id, form, true).await
}

async fn set_enabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
    enabled: bool,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWER_REFUSAL).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let Ok(id) = DeviceId::parse(&id) else {
        return HttpResponse::NotFound().body("no such device");
    };
    let result = state
        .devices
        .send(SetDeviceEnabled {
            id: id.clone(),
            enabled,
        })
        .await;
    after_change(&state, current, id, result.map(|r| r.map(|_| ()))).await
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWER_REFUSAL).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let Ok(id) = DeviceId::parse(&id) else {
        return HttpResponse::NotFound().body("no such device");
    };
    match state.devices.send(DeleteDevice { id: id.clone() }).await {
        Ok(Ok(())) => {
            tracing::info!(by = %current.username, device = %id, "device deleted in the UI");
            redirect("/devices")
        }
        Ok(Err(e)) => after_change(&state, current, id, Ok(Err(e))).await,
        Err(_) => unavailable(),
    }
}

/// Back to the device's page: a redirect after success (reloading repeats nothing), the
/// page with the error otherwise.
async fn after_change(
    state: &AppState,
    current: SessionView,
    id: DeviceId,
    result: Result<Result<(), DomainError>, actix::MailboxError>,
) -> HttpResponse {
    match result {
        Ok(Ok(())) => redirect(&format!("/devices/{id}")),
        Ok(Err(DomainError::NotFound(_))) => HttpResponse::NotFound().body("no such device"),
        Ok(Err(e)) => {
            let status = status_of(&e);
            device_page(state, current, id, None, Some((status, e.to_string()))).await
        }
        Err(_) => unavailable(),
    }
}
