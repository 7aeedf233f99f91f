//! Work-order pages: the list (filters by status, asset, assignee, type, overdue as a GET
//! form, newest first, paged), the board by status, and the "new order" form (write
//! scope). One order's page is `workorder_page.rs`. Talks to the work-order module and
//! health (asset names; a new order's asset must exist, its location is copied on) by
//! messages only.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use plantd_contracts::identity::SessionView;
use plantd_contracts::window::SortDir;
use plantd_contracts::workorders::{
    BrowseWorkOrders, CreateWorkOrder, ListWorkOrders, OrderSort, Priority, WorkOrderFilter,
    WorkOrderStatus, WorkOrderType,
};
use plantd_contracts::DomainError;
use serde::Deserialize;

use super::health_common::{answer, asset_names, filled, reader, with_status, Head};
use super::session::{changer, redirect};
use super::table::{Table, TableQuery};
use super::wo_common::{status_label, OrderRow, VIEWERS_READ};
use super::workorder_form::OrderForm;
use crate::edge::device_assets::asset_location;
use crate::edge::{render, Problem};
use crate::state::AppState;

/// Cards per column of the board (done and cancelled: the most recent).
const BOARD_OPEN: u32 = 100;
const BOARD_RECENT: u32 = 20;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/work-orders", web::get().to(list))
        .route("/work-orders", web::post().to(create))
        .route("/work-orders/board", web::get().to(board))
        .route("/work-orders/new", web::get().to(new))
        .configure(super::workorder_page::routes);
}

/// Assets by name, for the forms' pick lists.
pub async fn asset_choices(state: &AppState) -> (HashMap<String, String>, Vec<(String, String)>) {
    let names = asset_names(state).await;
    let mut sorted: Vec<(String, String)> =
        names.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    sorted.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    (names, sorted)
}

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    asset_id: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    overdue: String,
    #[serde(flatten)]
    table: TableQuery,
}

/// The columns the order table sorts by.
const SORT_KEYS: [&str; 6] = ["created", "number", "status", "kind", "assignee", "due"];

fn filter_of(f: &Filter) -> Result<WorkOrderFilter, Problem> {
    let status = match f.status.as_str() {
        "" => None,
        "open" => Some(
            WorkOrderStatus::ALL
                .into_iter()
                .filter(|s| s.is_open())
                .collect(),
        ),
        s => Some(vec![WorkOrderStatus::parse(s).ok_or_else(|| {
            Problem::from(DomainError::invalid("status", "not a work-order status"))
        })?]),
    };
    let kind = match f.kind.as_str() {
        "" => None,
        k => Some(
            WorkOrderType::parse(k)
                .ok_or_else(|| Problem::from(DomainError::invalid("kind", "not a type")))?,
        ),
    };
    Ok(WorkOrderFilter {
        status,
        asset_id: filled(&f.asset_id),
        assignee: filled(&f.assignee),
        kind,
        overdue: (f.overdue == "1").then_some(true),
        ..WorkOrderFilter::default()
    })
}

#[derive(Template)]
#[template(path = "workorders.html")]
struct ListPage {
    head: Head,
    error: Option<String>,
    statuses: Vec<(&'static str, &'static str)>,
    kinds: Vec<&'static str>,
    assets: Vec<(String, String)>,
    filter: Filter,
    orders: Vec<OrderRow>,
    /// Sort, search and paging (`templates/partials/pager.html`).
    table: Table,
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    filter: web::Query<Filter>,
) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let f = filter.into_inner();
    let (names, assets) = asset_choices(&state).await;
    let table = Table::new(
        "/work-orders",
        &f.table,
        &SORT_KEYS,
        ("created", SortDir::Desc),
        state.ui_page_size,
    )
    .keep("status", &f.status)
    .keep("kind", &f.kind)
    .keep("asset_id", &f.asset_id)
    .keep("assignee", &f.assignee)
    .keep("overdue", &f.overdue);
    let page = match filter_of(&f) {
        Ok(filter) => answer(
            state
                .workorders
                .send(BrowseWorkOrders {
                    filter,
                    q: table.search(),
                    sort: OrderSort::parse(table.sort).unwrap_or_default(),
                    dir: table.dir,
                    window: table.window(),
                })
                .await,
        ),
        Err(p) => Err(p),
    };
    let (orders, total, error) = match page {
        Ok(page) => (
            page.items.iter().map(|o| OrderRow::of(o, &names)).collect(),
            page.total,
            None,
        ),
        Err(p) => (Vec::new(), 0, Some(p)),
    };
    let status = error.as_ref().map(|p| p.status);
    let statuses = std::iter::once(("open", "open (not done)"))
        .chain(
            WorkOrderStatus::ALL
                .into_iter()
                .map(|s| (s.as_str(), status_label(s))),
        )
        .collect();
    with_status(
        render(&ListPage {
            head: Head::of(&current),
            error: error.map(|p| p.detail),
            statuses,
            kinds: WorkOrderType::ALL.iter().map(|k| k.as_str()).collect(),
            assets,
            filter: f,
            orders,
            table: table.counted(total),
        }),
        status,
    )
}

pub struct Column {
    pub status: &'static str,
    pub title: &'static str,
    pub orders: Vec<OrderRow>,
    /// More than the board shows: the list has them all.
    pub more: bool,
}

#[derive(Template)]
#[template(path = "workorder_board.html")]
struct BoardPage {
    head: Head,
    error: Option<String>,
    columns: Vec<Column>,
}

pub async fn board(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = match reader(&req, &state).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let names = asset_names(&state).await;
    let mut columns = Vec::new();
    let mut error = None;
    for (status, title, limit) in [
        (WorkOrderStatus::Open, "Open", BOARD_OPEN),
        (WorkOrderStatus::InProgress, "In progress", BOARD_OPEN),
        (WorkOrderStatus::OnHold, "On hold", BOARD_OPEN),
        (WorkOrderStatus::Done, "Done (recent)", BOARD_RECENT),
        (
            WorkOrderStatus::Cancelled,
            "Cancelled (recent)",
            BOARD_RECENT,
        ),
    ] {
        let sent = state
            .workorders
            .send(ListWorkOrders {
                filter: WorkOrderFilter {
                    status: Some(vec![status]),
                    ..WorkOrderFilter::default()
                },
                after: None,
                limit,
            })
            .await;
        let (orders, more) = match answer(sent) {
            Ok(page) => (
                page.items.iter().map(|o| OrderRow::of(o, &names)).collect(),
                page.next_cursor.is_some(),
            ),
            Err(p) => {
                error.get_or_insert(p);
                (Vec::new(), false)
            }
        };
        columns.push(Column {
            status: status.as_str(),
            title,
            orders,
            more,
        });
    }
    let status = error.as_ref().map(|p| p.status);
    with_status(
        render(&BoardPage {
            head: Head::of(&current),
            error: error.map(|p| p.detail),
            columns,
        }),
        status,
    )
}

#[derive(Template)]
#[template(path = "workorder_new.html")]
struct NewPage {
    head: Head,
    error: Option<String>,
    errors: HashMap<String, String>,
    form: OrderForm,
    kinds: Vec<&'static str>,
    priorities: Vec<&'static str>,
    assets: Vec<(String, String)>,
}

impl NewPage {
    fn err(&self, field: &str) -> &str {
        self.errors.get(field).map(String::as_str).unwrap_or("")
    }
}

async fn new_page(
    state: &AppState,
    session: &SessionView,
    form: OrderForm,
    problem: Option<Problem>,
) -> HttpResponse {
    let (_, assets) = asset_choices(state).await;
    let status = problem.as_ref().map(|p| p.status);
    let (error, errors) = match problem {
        None => (None, HashMap::new()),
        Some(p) if !p.errors.is_empty() => (None, p.errors.into_iter().collect()),
        Some(p) => (Some(p.detail), HashMap::new()),
    };
    with_status(
        render(&NewPage {
            head: Head::of(session),
            error,
            errors,
            form,
            kinds: WorkOrderType::ALL.iter().map(|k| k.as_str()).collect(),
            priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
            assets,
        }),
        status,
    )
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    asset_id: String,
}

pub async fn new(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NewQuery>,
) -> HttpResponse {
    match reader(&req, &state).await {
        Ok(current) => {
            let form = OrderForm {
                kind: "corrective".into(),
                priority: "medium".into(),
                asset_id: query.into_inner().asset_id,
                ..OrderForm::default()
            };
            new_page(&state, &current, form, None).await
        }
        Err(refusal) => refusal,
    }
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<OrderForm>,
) -> HttpResponse {
    let current = match changer(&req, &state, &form.csrf_token, VIEWERS_READ).await {
        Ok(current) => current,
        Err(refusal) => return refusal,
    };
    let form = form.into_inner();
    let body = match form.body() {
        Ok(body) => body,
        Err(e) => return new_page(&state, &current, form, Some(Problem::from(e))).await,
    };
    let location = match asset_location(&state, body.get("asset_id")).await {
        Ok(location) => location,
        Err(p) => return new_page(&state, &current, form, Some(p)).await,
    };
    let sent = state
        .workorders
        .send(CreateWorkOrder {
            body,
            by: current.username.clone(),
            location,
        })
        .await;
    match answer(sent) {
        Ok(order) => {
            tracing::info!(by = %current.username, order = %order.id, "work order created from the UI");
            redirect(&format!("/work-orders/{}", order.id))
        }
        Err(p) => new_page(&state, &current, form, Some(p)).await,
    }
}
