//! `GET /api/openapi.json`: the machine-readable contract.
//!
//! Routes of this crate's account, target and channel modules are described from their
//! handlers (utoipa); the incident, history, maintenance and status-page routes are listed
//! here from docs/API.md so that the document names every route.

use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{Info, OpenApi as Document};

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
    (
        "get",
        "/healthz",
        "health",
        "Alive (`/readyz` and `/metrics` are served on the ops listener, PINGTOWER_OPS_ADDR)",
    ),
    ("get", "/api/openapi.json", "meta", "This document"),
];

/// Answers of the routes in [`OTHER_ROUTES`] besides 200, as `(path, status, description)`.
const OTHER_RESPONSES: &[(&str, &str, &str)] = &[
    ("/status/{slug}", "404", "no such page"),
    (
        "/status/{slug}",
        "429",
        "too many public requests from this client; see Retry-After",
    ),
    ("/badge/{token}/{kind}", "404", "unknown token or badge"),
    (
        "/badge/{token}/{kind}",
        "429",
        "too many public requests from this client; see Retry-After",
    ),
];

/// The whole document.
pub fn document() -> Document {
    let mut doc = crate::http::accounts::Doc::openapi();
    doc.merge(crate::http::targets::Doc::openapi());
    doc.merge(crate::http::channels::Doc::openapi());
    doc.merge(crate::http::admin::Doc::openapi());
    doc.merge(crate::http::tokens::Doc::openapi());
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
        let mut op = OperationBuilder::new()
            .tag(*tag)
            .summary(Some(*summary))
            .response("200", ResponseBuilder::new().description("see docs/API.md").build());
        for (_, status, description) in OTHER_RESPONSES.iter().filter(|(p, ..)| p == path) {
            op = op.response(*status, ResponseBuilder::new().description(*description).build());
        }
        let op = op.build();
        doc.paths.add_path_operation(*path, vec![method], op);
    }
    add_edge_responses(&mut doc);
    doc
}

/// The answers every route may give from the edge ([`crate::http::edge::guard`]): 504 past the
/// request timeout, and for writes the cross-site guard's 403 and 415.
fn add_edge_responses(doc: &mut Document) {
    let add = |op: &mut utoipa::openapi::path::Operation, status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| ResponseBuilder::new().description(description).build().into());
    };
    for item in doc.paths.paths.values_mut() {
        let writes = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in writes.into_iter().flatten() {
            add(
                op,
                "403",
                "refused: a cookie-authenticated write from another Origin (or not allowed)",
            );
            add(
                op,
                "415",
                "a cookie-authenticated write whose Content-Type is not application/json",
            );
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            add(op, "504", "the request took longer than PINGTOWER_REQUEST_TIMEOUT");
        }
    }
}
