//! The generic webhook: its signature as a receiver checks it (valid, replayed, tampered,
//! stale), its templates in both languages, and what it keeps out of logs.

use std::time::Duration;

use channels::kinds::webhook::{self, VerifyError, fake};
use channels::send::HttpSender;
use channels::testing::FakeService;
use channels::{Event, Kind, Notice, Request, Secrets};
use common::i18n::Language;
use common::netguard::Guard;
use serde_json::{Value, json};

fn sender() -> HttpSender {
    let config = common::config::GuardConfig {
        allowed_ranges: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    HttpSender::new(Guard::from_parts(&config, Vec::new()), Duration::from_secs(5)).unwrap()
}

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    Secrets(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// The sample channel's request for `event`, sent to `fake`.
fn sample_request(fake: &FakeService, event: Event) -> Request {
    let (settings, secrets) = fake::sample(&fake.url(""));
    let valid = channels::validate(Kind::Webhook, &settings, &secrets).unwrap();
    channels::render(
        Kind::Webhook,
        &valid.settings,
        &secrets,
        &Notice::sample(event, Language::En),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The request with its timestamp and signature replaced.
fn resigned(mut req: Request, timestamp: i64, secret: &str) -> Request {
    let signature = webhook::signature(secret, timestamp, &req.body);
    for (name, value) in &mut req.headers {
        match name.as_str() {
            "X-PingTower-Timestamp" => *value = timestamp.to_string(),
            "X-PingTower-Signature" => *value = signature.clone(),
            _ => {}
        }
    }
    req
}

fn render(settings: Value, secrets: &Secrets, event: Event, lang: Language) -> Result<Request, channels::FieldError> {
    let valid = channels::validate(Kind::Webhook, &settings, secrets)?;
    channels::render(Kind::Webhook, &valid.settings, secrets, &Notice::sample(event, lang))
}

#[tokio::test]
async fn a_receiver_verifies_the_signature_and_refuses_a_replay() {
    let fake = FakeService::start(Kind::Webhook).await;
    let req = sample_request(&fake, Event::Opened);
    let (ts, sig) = (
        req.header_value("X-PingTower-Timestamp").unwrap(),
        req.header_value("X-PingTower-Signature").unwrap(),
    );
    assert!(sig.starts_with("v1=") && sig.len() == 3 + 64, "{sig}");
    assert_eq!(
        webhook::verify(fake::SAMPLE_SECRET, ts, sig, &req.body, now(), 300),
        Ok(())
    );
    assert_eq!(
        webhook::verify("another-secret-of-16+", ts, sig, &req.body, now(), 300),
        Err(VerifyError::Mismatch)
    );

    let sender = sender();
    let first = sender.send(&req, false).await.unwrap();
    assert_eq!(first.status, 204, "{first:?}");
    let replay = sender.send(&req, false).await.unwrap();
    assert_eq!(replay.status, 400, "the same bytes again are refused: {replay:?}");
    let got = fake.received();
    assert!(got[0].problems.is_empty(), "{:?}", got[0].problems);
    assert!(
        got[1].problems.iter().any(|p| p.starts_with("replayed")),
        "{:?}",
        got[1].problems
    );
    assert_eq!(got[0].body, got[1].body, "the replay carried the same bytes");
}

#[tokio::test]
async fn a_tampered_body_and_an_old_timestamp_are_refused() {
    let fake = FakeService::start(Kind::Webhook).await;
    let sender = sender();

    let mut tampered = sample_request(&fake, Event::Resolved);
    let text = String::from_utf8(tampered.body.clone())
        .unwrap()
        .replace("Shop API", "Shop APl");
    assert_ne!(text.as_bytes(), tampered.body.as_slice());
    tampered.body = text.into_bytes();
    let answer = sender.send(&tampered, false).await.unwrap();
    assert_eq!(answer.status, 400);
    let got = fake.received().pop().unwrap();
    assert!(
        got.problems.iter().any(|p| p.contains("does not match")),
        "{:?}",
        got.problems
    );

    let old = resigned(sample_request(&fake, Event::Report), now() - 3600, fake::SAMPLE_SECRET);
    let answer = sender.send(&old, false).await.unwrap();
    assert_eq!(answer.status, 400);
    let got = fake.received().pop().unwrap();
    assert!(
        got.problems.iter().any(|p| p.contains("outside the tolerance")),
        "{:?}",
        got.problems
    );

    let body = b"{}";
    let sig = webhook::signature("k".repeat(16).as_str(), 1_000, body);
    assert_eq!(webhook::verify(&"k".repeat(16), "1000", &sig, body, 1_200, 300), Ok(()));
    assert_eq!(
        webhook::verify(&"k".repeat(16), "1000", &sig, body, 1_301, 300),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        webhook::verify(&"k".repeat(16), "1000", &sig, body, 699, 300),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        webhook::verify(&"k".repeat(16), "soon", &sig, body, 1_000, 300),
        Err(VerifyError::Timestamp)
    );
    assert_eq!(
        webhook::verify(&"k".repeat(16), "1000", "sha256=00", body, 1_000, 300),
        Err(VerifyError::Malformed)
    );
    assert_eq!(
        webhook::verify(&"k".repeat(16), "1000", &format!("v1=00, {sig}"), body, 1_000, 300),
        Ok(()),
        "one of several signatures (a rotated secret) may match"
    );
}

#[test]
fn the_default_body_and_headers_are_documented() {
    let s = secrets(&[("secret", fake::SAMPLE_SECRET)]);
    let req = render(
        json!({"url": "https://hooks.example.com/in"}),
        &s,
        Event::Opened,
        Language::En,
    )
    .unwrap();
    let n = Notice::sample(Event::Opened, Language::En);
    let b = req.body_json().unwrap();
    assert_eq!(b["version"], 1);
    assert_eq!(b["event"], "opened");
    assert_eq!(b["severity"], "critical");
    assert_eq!(b["delivery_id"], n.key.to_string());
    assert_eq!(b["incident_id"], n.incident_id.unwrap().to_string());
    assert_eq!(b["headline"], n.headline);
    assert_eq!(b["facts"][0]["label"], n.facts[0].0);
    assert_eq!(b["ack_url"], n.ack_link.unwrap());
    assert_eq!(b["occurred_at"], "2026-12-05T10:00:00Z");
    assert_eq!(b["language"], "en");
    assert_eq!(req.header_value("X-PingTower-Event"), Some("opened"));
    assert_eq!(
        req.header_value("X-PingTower-Delivery"),
        Some(n.key.to_string().as_str())
    );
    assert_eq!(req.header_value("Content-Type"), Some("application/json"));

    let unsigned = render(
        json!({"url": "https://hooks.example.com/in"}),
        &Secrets::default(),
        Event::Test,
        Language::En,
    )
    .unwrap();
    assert_eq!(
        unsigned.header_value("X-PingTower-Signature"),
        None,
        "no secret, no signature"
    );
    assert!(unsigned.header_value("X-PingTower-Timestamp").is_some());
}

#[test]
fn a_template_renders_the_documented_variables_in_both_languages() {
    let template = r#"{
  "summary": {{ title|tojson }},
  "who": {{ name|tojson }},
  "event": "{{ event }}/{{ severity }}",
  "facts": { {% for f in facts %}{{ f.label|tojson }}: {{ f.value|tojson }}{% if not loop.last %}, {% endif %}{% endfor %} },
  "items": [{% for i in items %}{{ (i.name ~ " " ~ i.headline)|tojson }}{% if not loop.last %}, {% endif %}{% endfor %}],
  "more": {{ more }},
  "ack": {{ ack_url|tojson }},
  "at": {{ occurred_at|tojson }},
  "lang": {{ language|tojson }}
}"#;
    for lang in Language::ALL {
        for event in [Event::Opened, Event::Digest] {
            let n = Notice::sample(event, lang);
            let req = render(
                json!({"url": "https://hooks.example.com/in", "template": template}),
                &Secrets::default(),
                event,
                lang,
            )
            .unwrap_or_else(|e| panic!("{lang:?} {event:?}: {e}"));
            let b = req
                .body_json()
                .unwrap_or_else(|| panic!("{lang:?}: not JSON: {}", String::from_utf8_lossy(&req.body)));
            assert_eq!(b["summary"], n.title(), "{lang:?}");
            assert_eq!(b["who"], n.name);
            assert_eq!(b["event"], format!("{}/{}", event.as_str(), n.severity.as_str()));
            assert_eq!(
                b["facts"][&n.facts[0].0], n.facts[0].1,
                "{lang:?}: the facts' labels are in the language"
            );
            assert_eq!(b["items"].as_array().unwrap().len(), n.items.len());
            assert_eq!(b["more"], n.more);
            assert_eq!(b["ack"], json!(n.ack_link));
            assert_eq!(b["lang"], lang.tag());
        }
    }
    let ru = Notice::sample(Event::Opened, Language::Ru);
    let en = Notice::sample(Event::Opened, Language::En);
    assert_ne!(ru.headline, en.headline, "the sample is translated");

    let text = render(
        json!({"url": "https://hooks.example.com/in", "template": "{{ badge }} {{ headline }}", "content_type": "text/plain; charset=utf-8"}),
        &Secrets::default(),
        Event::Resolved,
        Language::Ru,
    )
    .unwrap();
    let n = Notice::sample(Event::Resolved, Language::Ru);
    assert_eq!(
        String::from_utf8(text.body).unwrap(),
        format!("{} {}", n.badge, n.headline)
    );
    assert_eq!(
        text.headers[0],
        ("Content-Type".to_owned(), "text/plain; charset=utf-8".to_owned())
    );
}

#[test]
fn a_template_that_breaks_is_a_field_error() {
    let url = "https://hooks.example.com/in";
    let cases = [
        r#"{"text": "{{ headline }}", }"#, // invalid JSON
        r#"{"text": {{ headline }}}"#,     // an unquoted string
        "{{ headline ",                    // a syntax error
        r#"{"x": "{{ no_such_name }}"}"#,  // an unknown variable
        "{% include 'other' %}",           // no loader
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}", // fuel
        "",
    ];
    for template in cases {
        let err = channels::validate(
            Kind::Webhook,
            &json!({"url": url, "template": template}),
            &Secrets::default(),
        )
        .expect_err(template);
        assert_eq!(err.field, "settings.template", "{template}: {err}");
    }
    let big = "x".repeat(channels::limits::TEMPLATE + 1);
    let err = channels::validate(
        Kind::Webhook,
        &json!({"url": url, "template": big, "content_type": "text/plain"}),
        &Secrets::default(),
    )
    .unwrap_err();
    assert_eq!(err.field, "settings.template");

    // Stored before this check (or a notice unlike the samples): render refuses too.
    let settings = json!({"url": url, "template": r#"{"a": {{ name }}}"#, "content_type": "application/json"});
    let err = channels::render(
        Kind::Webhook,
        &settings,
        &Secrets::default(),
        &Notice::sample(Event::Test, Language::Ru),
    )
    .unwrap_err();
    assert_eq!(err.field, "settings.template", "{err}");
}

#[test]
fn settings_and_headers_are_checked_by_field() {
    let url = json!({"url": "https://hooks.example.com/in"});
    let field = |settings: &Value, s: &Secrets| channels::validate(Kind::Webhook, settings, s).unwrap_err().field;
    assert_eq!(field(&json!({}), &Secrets::default()), "settings.url");
    assert_eq!(field(&json!({"url": "ftp://x"}), &Secrets::default()), "settings.url");
    assert_eq!(
        field(
            &json!({"url": "https://h.example/", "content_type": "text/plain"}),
            &Secrets::default()
        ),
        "settings.content_type"
    );
    assert_eq!(
        field(
            &json!({"url": "https://h.example/", "content_type": "json"}),
            &Secrets::default()
        ),
        "settings.content_type"
    );
    assert_eq!(field(&url, &secrets(&[("secret", "short")])), "secrets.secret");
    assert_eq!(field(&url, &secrets(&[("header:Host", "x")])), "secrets.header:Host");
    assert_eq!(
        field(&url, &secrets(&[("header:x-pingtower-signature", "x")])),
        "secrets.header:x-pingtower-signature"
    );
    assert_eq!(
        field(&url, &secrets(&[("header:Bad Name", "x")])),
        "secrets.header:Bad Name"
    );
    assert_eq!(
        field(&url, &secrets(&[("header:X-Key", "a\nb")])),
        "secrets.header:X-Key"
    );
    assert_eq!(field(&url, &secrets(&[("token", "t")])), "secrets.token");
    let many: Vec<(String, String)> = (0..=channels::limits::HEADERS)
        .map(|i| (format!("header:X-H{i}"), "v".into()))
        .collect();
    assert_eq!(field(&url, &Secrets(many.into_iter().collect())), "secrets");

    let valid = channels::validate(
        Kind::Webhook,
        &json!({"url": "https://hooks.example.com/in?token=abc"}),
        &secrets(&[("header:Authorization", "Bearer t")]),
    )
    .unwrap();
    assert_eq!(
        valid.settings["content_type"], "application/json",
        "the default is stored"
    );
    assert_eq!(valid.summary, "Webhook (hooks.example.com)");
}

#[test]
fn secrets_never_appear_in_a_requests_debug() {
    let s = secrets(&[
        ("secret", "signing-secret-7f3a9c1d"),
        ("header:Authorization", "Bearer header-secret-19af"),
    ]);
    let settings = json!({"url": "https://hooks.example.com/in/path-token-55?token=query-token-66"});
    let req = render(settings.clone(), &s, Event::Opened, Language::En).unwrap();
    assert_eq!(
        req.header_value("Authorization"),
        Some("Bearer header-secret-19af"),
        "the header is sent"
    );
    let shown = format!("{req:?} {s:?}");
    for secret in [
        "signing-secret-7f3a9c1d",
        "header-secret-19af",
        "path-token-55",
        "query-token-66",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    let summary = channels::validate(Kind::Webhook, &settings, &s).unwrap().summary;
    assert!(!summary.contains("token"), "{summary}");
}
