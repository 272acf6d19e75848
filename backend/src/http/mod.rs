//! The HTTP layer: one module per resource, each owning its routes, handlers and DTOs; this
//! module assembles them into the API listener's application.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod badges;
pub mod baselines;
pub mod channels;
pub mod dependencies;
pub mod edge;
pub mod escalation;
pub mod heartbeats;
pub mod history;
pub mod incidents;
pub mod maintenance;
pub mod oidc;
pub mod organisations;
pub mod pagination;
pub mod pings;
pub mod status_pages;
pub mod targets;
pub mod tokens;
pub mod twofactor;

use axum::Router;

use crate::error::{ApiError, Json};
use crate::openapi;
use crate::state::AppState;

/// The whole HTTP application of the API listener: the API, `/healthz` and the web UI, behind
/// [`edge::guard`]. `/metrics` and `/readyz` are on the ops listener
/// ([`common::health::router`]).
pub fn app(state: AppState) -> Router {
    let state_web_dir = state.config.api.web_dir.clone();
    let guarded = state.clone();
    let api = Router::new()
        .merge(accounts::router())
        .merge(oidc::router(&state))
        .merge(tokens::router())
        .merge(organisations::router())
        .merge(twofactor::router())
        .merge(admin::router())
        .merge(targets::router())
        .merge(dependencies::router())
        .merge(baselines::router())
        .merge(heartbeats::router())
        .merge(history::router())
        .merge(incidents::router())
        .merge(maintenance::router())
        .merge(channels::router())
        .merge(escalation::router())
        .merge(status_pages::router())
        .merge(badges::router())
        .merge(pings::router())
        .merge(audit::router())
        .merge(openapi_router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        .with_state(state);
    let web_dir = state_web_dir;
    let index = web_dir.join("index.html");
    let web = tower_http::services::ServeDir::new(&web_dir).fallback(tower_http::services::ServeFile::new(index));
    Router::new()
        .merge(api)
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(move |req: axum::extract::Request| {
            let web = web.clone();
            async move {
                use axum::response::IntoResponse;
                use tower::ServiceExt;
                let path = req.uri().path();
                // Unknown API, status and badge paths are JSON 404s, never the SPA's page; so
                // are the ops routes, which this listener does not serve.
                if ["/api", "/metrics", "/readyz"].contains(&path)
                    || ["/api/", "/status/", "/badge/", "/ping/"]
                        .iter()
                        .any(|p| path.starts_with(p))
                {
                    return ApiError::not_found().into_response();
                }
                match web.oneshot(req).await {
                    Ok(r) => r.into_response(),
                    Err(e) => ApiError::internal(e).into_response(),
                }
            }
        })
        .layer(axum::middleware::from_fn_with_state(guarded, edge::guard))
}

/// `GET /api/openapi.json`: [`openapi::document`], serialised once.
fn openapi_router() -> Router<AppState> {
    let doc = serde_json::to_value(openapi::document()).expect("the OpenAPI document serialises");
    Router::new().route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { Json(doc) }
        }),
    )
}
