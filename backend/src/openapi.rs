//! `GET /api/openapi.json`: the machine-readable contract.
//!
//! Routes of this crate's account, target and channel modules are described from their
//! handlers (utoipa); the incident, history, maintenance and status-page routes are listed
//! here from docs/API.md so that the document names every route.

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{Info, OpenApi as Document};

use crate::AppState;
use crate::error::Json;

/// Routes served by other modules, as `(method, path, tag, summary)`.
const OTHER_ROUTES: &[(&str, &str, &str, &str)] = &[
    (
        "get",
        "/api/targets/{id}/overview",
        "history",
        "State, uptime over 24 h/7 d/30 d/90 d, last latency",
    ),
    (
        "get",
        "/api/targets/{id}/results",
        "history",
        "Check results, newest first",
    ),
    (
        "get",
        "/api/targets/{id}/uptime",
        "history",
        "Uptime, downtime, checks and failures in a range",
    ),
    ("get", "/api/targets/{id}/uptime/daily", "history", "Uptime per day"),
    (
        "get",
        "/api/targets/{id}/latency",
        "history",
        "Latency percentiles by phase per step",
    ),
    ("get", "/api/targets/{id}/incidents", "history", "A target's incidents"),
    (
        "get",
        "/api/overview/sparklines",
        "history",
        "24 hourly latency points per target",
    ),
    (
        "get",
        "/api/overview/uptime",
        "history",
        "Uptime over 24 hours and 30 days per target",
    ),
    ("get", "/api/incidents", "incidents", "Incidents (open or resolved)"),
    (
        "get",
        "/api/incidents/{id}",
        "incidents",
        "One incident with timeline, reports and notes",
    ),
    (
        "post",
        "/api/incidents/{id}/ack",
        "incidents",
        "Acknowledge an incident",
    ),
    (
        "post",
        "/api/incidents/{id}/notes",
        "incidents",
        "Add a note to an incident",
    ),
    ("get", "/api/maintenance", "maintenance", "Maintenance windows"),
    (
        "post",
        "/api/maintenance",
        "maintenance",
        "Create a maintenance window (422 `max_maintenance_windows` over the quota)",
    ),
    ("get", "/api/maintenance/{id}", "maintenance", "One maintenance window"),
    (
        "put",
        "/api/maintenance/{id}",
        "maintenance",
        "Replace a maintenance window",
    ),
    (
        "delete",
        "/api/maintenance/{id}",
        "maintenance",
        "Delete a maintenance window",
    ),
    ("get", "/api/status-pages", "status", "Status pages"),
    (
        "post",
        "/api/status-pages",
        "status",
        "Create a status page (422 `max_status_pages` over the quota, `targets` over the per-page quota)",
    ),
    ("get", "/api/status-pages/{id}", "status", "One status page"),
    (
        "put",
        "/api/status-pages/{id}",
        "status",
        "Replace a status page (422 `targets` over the per-page quota)",
    ),
    ("delete", "/api/status-pages/{id}", "status", "Delete a status page"),
    (
        "post",
        "/api/targets/{id}/badge-token",
        "status",
        "Create a badge token for a target",
    ),
    ("get", "/status/{slug}", "status", "Public status page JSON (no auth)"),
    (
        "get",
        "/badge/{token}/{kind}",
        "status",
        "Badge SVG: status.svg, uptime.svg or response.svg (no auth)",
    ),
    ("get", "/healthz", "health", "Alive"),
    ("get", "/readyz", "health", "Dependencies answer"),
    ("get", "/metrics", "health", "Prometheus metrics"),
    ("get", "/api/openapi.json", "meta", "This document"),
];

/// The whole document.
pub fn document() -> Document {
    let mut doc = crate::accounts::Doc::openapi();
    doc.merge(crate::targets::Doc::openapi());
    doc.merge(crate::channels::Doc::openapi());
    doc.merge(crate::quotas::Doc::openapi());
    doc.info = Info::new("PingTower API", env!("CARGO_PKG_VERSION"));
    doc.info.description = Some(
        "Auth: session cookie `pt_session` or `Authorization: Bearer pt_…`. Errors: \
         `{\"error\": {\"code\", \"message\", \"field\"?}}`. See docs/API.md."
            .into(),
    );
    for (method, path, tag, summary) in OTHER_ROUTES {
        let method = match *method {
            "post" => HttpMethod::Post,
            "put" => HttpMethod::Put,
            "delete" => HttpMethod::Delete,
            "patch" => HttpMethod::Patch,
            _ => HttpMethod::Get,
        };
        let known = doc.paths.paths.get(*path).is_some_and(|item| match method {
            HttpMethod::Get => item.get.is_some(),
            HttpMethod::Post => item.post.is_some(),
            HttpMethod::Put => item.put.is_some(),
            HttpMethod::Delete => item.delete.is_some(),
            _ => false,
        });
        if known {
            continue;
        }
        let op = OperationBuilder::new()
            .tag(*tag)
            .summary(Some(*summary))
            .response("200", ResponseBuilder::new().description("see docs/API.md").build())
            .build();
        doc.paths.add_path_operation(*path, vec![method], op);
    }
    doc
}

/// `GET /api/openapi.json`.
pub fn router() -> Router<AppState> {
    let doc = serde_json::to_value(document()).expect("the OpenAPI document serialises");
    Router::new().route(
        "/api/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { Json(doc) }
        }),
    )
}
