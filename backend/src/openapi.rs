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
    "/api/auth/login/2fa",
    "/api/auth/oidc/login",
    "/api/auth/oidc/callback",
    "/api/channels/verify",
    "/api/channels/unsubscribe",
    "/api/openapi.json",
    "/status/{slug}",
    "/badge/{token}/{file}",
    "/api/ack/{token}",
    "/ping/{token}",
    "/ping/{token}/{action}",
    "/ping/{ping_key}/{slug}/{action}",
    "/healthz",
];

/// The whole document.
pub fn document() -> Document {
    let mut doc = crate::http::accounts::Doc::openapi();
    for other in [
        crate::http::oidc::Doc::openapi(),
        crate::http::tokens::Doc::openapi(),
        crate::http::organisations::Doc::openapi(),
        crate::http::audit::Doc::openapi(),
        crate::http::twofactor::Doc::openapi(),
        crate::http::admin::Doc::openapi(),
        crate::http::targets::Doc::openapi(),
        crate::http::dependencies::Doc::openapi(),
        crate::http::baselines::Doc::openapi(),
        crate::http::heartbeats::Doc::openapi(),
        crate::http::history::Doc::openapi(),
        crate::http::incidents::Doc::openapi(),
        crate::http::maintenance::Doc::openapi(),
        crate::http::channels::Doc::openapi(),
        crate::http::escalation::Doc::openapi(),
        crate::http::status_pages::Doc::openapi(),
        crate::http::badges::Doc::openapi(),
        crate::http::pings::Doc::openapi(),
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
        .property("code", ObjectBuilder::new().schema_type(Type::String).description(Some("stable machine code: validation, unauthorized, forbidden, not_found, gone, conflict, rate_limited, unavailable, internal")))
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
                add(
                    op,
                    "403",
                    "not allowed: your role in the organisation may not do this, or it requires two-factor sign-in",
                );
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::to_value(super::document()).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((path.clone(), method.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn every_path_parameter_is_declared_and_every_id_is_a_uuid() {
        let doc = doc();
        for (path, method, op) in operations(&doc) {
            let names: Vec<&str> = path.split('{').skip(1).map(|s| s.split('}').next().unwrap()).collect();
            for name in names {
                let param = op["parameters"]
                    .as_array()
                    .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "path"))
                    .unwrap_or_else(|| panic!("{method} {path}: path parameter {name} is not declared"));
                assert_eq!(param["required"], true, "{method} {path} {name}");
                if name == "id" {
                    assert_eq!(param["schema"]["format"], "uuid", "{method} {path}");
                }
            }
        }
    }

    #[test]
    fn every_error_answer_has_the_error_body_and_authenticated_routes_answer_401() {
        let doc = doc();
        let ops = operations(&doc);
        assert!(ops.len() >= 60, "{} operations", ops.len());
        for (path, method, op) in ops {
            let responses = op["responses"].as_object().unwrap();
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        r["content"].as_object().is_some_and(|c| !c.is_empty()),
                        "{method} {path} {status} has no body schema"
                    );
                }
            }
            if !super::PUBLIC.contains(&path.as_str()) {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
                assert!(
                    op["security"].as_array().is_some_and(|s| s.len() == 2),
                    "{method} {path}"
                );
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
        }
    }

    /// Checks `value` (serde's output) against `schema`, as far as these types need: the JSON
    /// type (null only where allowed), an enum's values, every key written is a property, every
    /// required property is written. A `oneOf` must match exactly one branch.
    fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        let schemas = &doc["components"]["schemas"];
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            return conforms(doc, &schemas[name], value, at);
        }
        if let Some(branches) = schema["oneOf"].as_array() {
            let matching = branches.iter().filter(|b| conforms(doc, b, value, at).is_ok()).count();
            return match matching {
                1 => Ok(()),
                n => Err(format!("{at}: {value} matches {n} branches of a oneOf")),
            };
        }
        if let Some(parts) = schema["allOf"].as_array() {
            // Each part checks its own properties: the union of them is the object's.
            let names: Vec<&String> = parts
                .iter()
                .map(|p| match p["$ref"].as_str() {
                    Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                    None => p,
                })
                .filter_map(|p| p["properties"].as_object())
                .flat_map(|p| p.keys())
                .collect();
            for part in parts {
                let mut part = match part["$ref"].as_str() {
                    Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
                    None => part.clone(),
                };
                if let Some(props) = part["properties"].as_object_mut() {
                    for name in &names {
                        props.entry(name.as_str()).or_insert(Value::Bool(true));
                    }
                }
                conforms(doc, &part, value, at)?;
            }
            return Ok(());
        }
        let written = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let typed = types.is_empty() || types.contains(&written) || (written == "integer" && types.contains(&"number"));
        if !typed {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(value)
        {
            return Err(format!("{at}: {value} is not in {values:?}"));
        }
        if let (Some(object), Some(props)) = (value.as_object(), schema["properties"].as_object()) {
            for (key, v) in object {
                let Some(prop) = props.get(key) else {
                    return Err(format!("{at}.{key}: written but not in the schema"));
                };
                conforms(doc, prop, v, &format!("{at}.{key}"))?;
            }
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !object.contains_key(name) {
                    return Err(format!("{at}.{name}: required but not written"));
                }
            }
        }
        if let (Some(items), Some(item)) = (value.as_array(), schema.get("items")) {
            for (i, v) in items.iter().enumerate() {
                conforms(doc, item, v, &format!("{at}[{i}]"))?;
            }
        }
        if let (Some(object), Some(extra)) = (value.as_object(), schema.get("additionalProperties"))
            && extra.is_object()
        {
            for (key, v) in object {
                conforms(doc, extra, v, &format!("{at}.{key}"))?;
            }
        }
        Ok(())
    }

    #[test]
    fn the_message_types_are_described_as_serde_writes_them() {
        use common::messages::{CheckSpec, DnsRecordType, DnsSpec, HttpAuth, IcmpSpec, TcpSpec, TlsSpec};
        use common::samples;
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        let schema = |name: &str| serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        // The API's answers and bodies name the message types instead of untyped objects.
        assert_eq!(
            schemas["Target"]["properties"]["spec"]["$ref"],
            "#/components/schemas/CheckSpec"
        );
        assert_eq!(
            schemas["TargetInput"]["properties"]["spec"]["$ref"],
            "#/components/schemas/CheckSpec"
        );
        assert_eq!(schemas["CheckResultJson"]["$ref"], "#/components/schemas/CheckResult");
        let incident = &schemas["Incident"]["properties"];
        assert!(
            incident["evidence"]
                .to_string()
                .contains("#/components/schemas/Evidence")
        );
        assert_eq!(
            incident["reports"]["items"]["$ref"],
            "#/components/schemas/IncidentReport"
        );

        let result = serde_json::to_value(samples::check_result()).unwrap();
        conforms(&doc, &schema("CheckResult"), &result, "result").unwrap();
        // A listed result: kept (the whole result) or rebuilt from the archive's fields.
        assert_eq!(schemas["ListedResultJson"]["$ref"], "#/components/schemas/ListedResult");
        let mut kept = result.clone();
        kept["detail_dropped"] = false.into();
        conforms(&doc, &schema("ListedResult"), &kept, "listed").unwrap();
        let sample = samples::check_result();
        let dropped = common::archive_day::Entry {
            result_id: sample.result_id,
            job_id: sample.job_id,
            region: sample.region.clone(),
            pinger_id: sample.pinger_id.clone(),
            check_kind: "http".into(),
            started_ms: sample.started_at.timestamp_millis(),
            took_ms: 812,
            duration_ms: 812,
            outcome: 1,
            status_code: 200,
            failure_kind: String::new(),
            failure_phase: String::new(),
            failure_message: String::new(),
            timings: [12.6, 41.0, 45.0, 690.0, 3.5],
            resolved_ip: "93.184.216.34".into(),
            tls_days_left: Some(30),
            probe_degraded: false,
            sig: 0,
            detail: None,
        }
        .to_json(sample.target_id);
        assert_eq!(dropped["detail_dropped"], true);
        conforms(&doc, &schema("ListedResult"), &dropped, "listed").unwrap();
        let event = serde_json::to_value(samples::incident_event()).unwrap();
        conforms(&doc, &schema("Evidence"), &event["evidence"], "evidence").unwrap();
        let report = serde_json::to_value(samples::incident_report()).unwrap();
        conforms(&doc, &schema("IncidentReport"), &report, "report").unwrap();
        let mut http = common::messages::HttpSpec::get("https://example.com/");
        http.auth = Some(HttpAuth::Bearer { token: "t".into() });
        for spec in [
            CheckSpec::Http(http),
            CheckSpec::Tcp(serde_json::from_str::<TcpSpec>(r#"{"host":"example.com","port":25}"#).unwrap()),
            CheckSpec::Dns(DnsSpec {
                name: "example.com".into(),
                record_type: DnsRecordType::Aaaa,
                resolver: Some(serde_json::from_str(r#"{"address":"192.0.2.53:53"}"#).unwrap()),
                expected_answers: vec!["2001:db8::1".into()],
                timeout_ms: 500,
            }),
            CheckSpec::Tls(serde_json::from_str::<TlsSpec>(r#"{"host":"example.com"}"#).unwrap()),
            CheckSpec::Icmp(IcmpSpec {
                degraded_loss_percent: Some(20),
                ..IcmpSpec::new("2001:db8::1")
            }),
        ] {
            let json = serde_json::to_value(&spec).unwrap();
            conforms(&doc, &schema("CheckSpec"), &json, "spec").unwrap();
        }
        // The checker itself refuses what serde would not write.
        let mut wrong = result.clone();
        wrong["outcome"] = "sideways".into();
        assert!(conforms(&doc, &schema("CheckResult"), &wrong, "result").is_err());
        wrong = result.clone();
        wrong["tls"] = Value::Null;
        assert!(conforms(&doc, &schema("CheckResult"), &wrong, "result").is_err());
        wrong = result;
        wrong.as_object_mut().unwrap().remove("probe_degraded");
        assert!(conforms(&doc, &schema("CheckResult"), &wrong, "result").is_err());
        let spec = serde_json::json!({"kind": "smtp", "host": "example.com"});
        assert!(conforms(&doc, &schema("CheckSpec"), &spec, "spec").is_err());
    }

    #[test]
    fn the_validators_constraints_are_in_the_schema() {
        let doc = doc();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Credentials"]["properties"]["password"]["minLength"], 10);
        assert_eq!(schemas["PasswordChange"]["properties"]["new_password"]["minLength"], 10);
        assert_eq!(schemas["Language"]["enum"], serde_json::json!(["en", "ru"]));
        let verify = &doc["paths"]["/api/channels/verify"]["get"]["parameters"][0];
        assert_eq!(
            (verify["name"].as_str(), verify["in"].as_str()),
            (Some("token"), Some("query"))
        );
        assert_eq!(verify["required"], true);
        let http = &schemas["HttpSpec"]["properties"];
        assert_eq!(http["max_redirects"]["maximum"], 30);
        assert_eq!(http["timeout_ms"]["minimum"], 1);
        assert_eq!(http["expected_status"]["minItems"], 1);
        assert_eq!(schemas["StatusRange"]["properties"]["from"]["minimum"], 100);
        assert_eq!(schemas["StatusRange"]["properties"]["to"]["maximum"], 599);
        assert_eq!(schemas["TcpSpec"]["properties"]["port"]["minimum"], 1);
        let icmp = &schemas["IcmpSpec"]["properties"];
        assert_eq!(
            (icmp["count"]["minimum"].as_i64(), icmp["count"]["maximum"].as_i64()),
            (Some(1), Some(10))
        );
        assert_eq!(icmp["interval_ms"]["maximum"], 5000);
        assert_eq!(icmp["payload_size"]["maximum"], 1400);
        let link = &doc["paths"]["/api/channels/telegram/link"]["post"]["responses"];
        assert!(link["503"].is_object(), "no bot configured: 503");
        let limit = doc["paths"]["/api/targets"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .cloned()
            .unwrap();
        assert_eq!(limit["in"], "query");
        assert_eq!(
            (limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64()),
            (Some(1), Some(500))
        );
        // The ops listener is not part of the public API document.
        for ops_route in ["/metrics", "/readyz"] {
            assert!(doc["paths"].get(ops_route).is_none(), "{ops_route}");
        }
    }
}
