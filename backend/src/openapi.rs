//! `GET /api/openapi.json`: the machine-readable contract.
//!
//! Every route is described from its handler (utoipa), in the `Doc` of its
//! [`crate::http`] module; [`document`] merges them and adds what every route shares: the error
//! body of every non-2xx answer, the 401 of authenticated routes, the 404 of a malformed or
//! foreign id, the edge's 403/415/504, the 503 of an unavailable database, and the two ways to
//! authenticate. A malformed id in a path is a 404 with the JSON error body, like an unknown
//! one: it can name nothing the caller owns.

use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, Info, OpenApi as Document, Ref, RefOr};

/// Routes anyone may call: no 401, no security requirement.
const PUBLIC: &[&str] = &[
    "/api/config",
    "/api/auth/register",
    "/api/auth/login",
    "/api/channels/verify",
    "/api/channels/unsubscribe",
    "/api/openapi.json",
    "/status/{slug}",
    "/badge/{token}/{file}",
    "/healthz",
];

/// The whole document.
pub fn document() -> Document {
    let mut doc = crate::http::accounts::Doc::openapi();
    for other in [
        crate::http::tokens::Doc::openapi(),
        crate::http::admin::Doc::openapi(),
        crate::http::targets::Doc::openapi(),
        crate::http::history::Doc::openapi(),
        crate::http::incidents::Doc::openapi(),
        crate::http::maintenance::Doc::openapi(),
        crate::http::channels::Doc::openapi(),
        crate::http::status_pages::Doc::openapi(),
        crate::http::badges::Doc::openapi(),
    ] {
        doc.merge(other);
    }
    doc.info = Info::new("PingTower API", env!("CARGO_PKG_VERSION"));
    doc.info.description = Some(
        "Auth: session cookie `pt_session` or `Authorization: Bearer pt_…`. Errors: \
         `{\"error\": {\"code\", \"message\", \"field\"?}}`; a malformed id answers 404 like an \
         unknown one. See docs/API.md."
            .into(),
    );
    for (path, tag, summary, content_type) in [
        (
            "/healthz",
            "health",
            "Alive (`/readyz` and `/metrics` are on the ops listener, PINGTOWER_OPS_ADDR)",
            "text/plain",
        ),
        ("/api/openapi.json", "meta", "This document", "application/json"),
    ] {
        let body = ObjectBuilder::new()
            .schema_type(if content_type == "text/plain" {
                Type::String
            } else {
                Type::Object
            })
            .build();
        let op = OperationBuilder::new()
            .tag(tag)
            .summary(Some(summary))
            .response(
                "200",
                ResponseBuilder::new()
                    .description(summary)
                    .content(content_type, Content::new(Some(body)))
                    .build(),
            )
            .build();
        doc.paths.add_path_operation(path, vec![HttpMethod::Get], op);
    }
    add_shared_answers(&mut doc);
    doc
}

/// The error body schema, `ErrorBody`.
fn error_schema() -> utoipa::openapi::schema::Schema {
    let inner = ObjectBuilder::new()
        .property("code", ObjectBuilder::new().schema_type(Type::String).description(Some("stable machine code: validation, unauthorized, forbidden, not_found, conflict, rate_limited, unavailable, internal")))
        .required("code")
        .property("message", ObjectBuilder::new().schema_type(Type::String).description(Some("what went wrong, for people")))
        .required("message")
        .property("field", ObjectBuilder::new().schema_type(Type::String).description(Some("the request field at fault (`spec.url`)")))
        .build();
    ObjectBuilder::new()
        .property("error", inner)
        .required("error")
        .description(Some("Every non-2xx answer of the API"))
        .build()
        .into()
}

/// Adds what every route shares (see the module's documentation), then gives every non-2xx
/// answer the `ErrorBody` schema.
fn add_shared_answers(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert("ErrorBody".into(), RefOr::T(error_schema()));
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("pt_…")
                .build(),
        ),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("pt_session"))),
    );
    let signed_in = vec![
        SecurityRequirement::new("bearer", Vec::<String>::new()),
        SecurityRequirement::new("session", Vec::<String>::new()),
    ];
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        let has_path_params = path.contains('{');
        let ops = [
            (false, &mut item.get),
            (true, &mut item.post),
            (true, &mut item.put),
            (true, &mut item.patch),
            (true, &mut item.delete),
        ];
        for (write, op) in ops {
            let Some(op) = op.as_mut() else { continue };
            if public {
                op.security = Some(vec![SecurityRequirement::default()]);
            } else {
                op.security = Some(signed_in.clone());
                add(op, "401", "not signed in: no valid session cookie or API token");
            }
            if has_path_params {
                add(op, "404", "no such resource of yours (a malformed id, too)");
            }
            let has_query = op
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
            if has_query {
                add(op, "400", "a malformed query string (a value of the wrong type)");
                add(op, "422", "a query parameter is invalid; `field` names it");
            }
            if op.request_body.is_some() {
                add(
                    op,
                    "422",
                    "the body is malformed or a field is invalid; `field` names it",
                );
                add(op, "415", "the body's Content-Type is not one the route reads");
            }
            if write {
                add(
                    op,
                    "403",
                    "refused: a cookie-authenticated write from another Origin, or not allowed",
                );
                add(
                    op,
                    "415",
                    "a cookie-authenticated write whose Content-Type is not application/json",
                );
            }
            if path != "/healthz" && path != "/api/openapi.json" {
                add(op, "503", "a dependency (the database) is unavailable; try again");
            }
            add(op, "504", "the request took longer than PINGTOWER_REQUEST_TIMEOUT");
            for (status, response) in op.responses.responses.iter_mut() {
                if status.starts_with('2') || status.starts_with('3') {
                    continue;
                }
                if let RefOr::T(r) = response
                    && r.content.is_empty()
                {
                    r.content.insert(
                        "application/json".into(),
                        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
                    );
                }
            }
        }
    }
}

/// Adds the answer `status` to `op` unless it is described already.
fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::T(Response::new(description)));
}
