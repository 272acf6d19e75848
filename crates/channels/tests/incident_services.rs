//! The incident services keep one incident on one alert, and Matrix posts a retried delivery
//! once: each against its loopback fake, through the guarded sender.
//! - PagerDuty: opened then resolved → a trigger then a resolve with the same `dedup_key`,
//!   the incident's id.
//! - Opsgenie: opened then resolved → a create with `alias` = the incident's id, then a
//!   close of that alias.
//! - Matrix: the same delivery sent twice (same key, the transaction id) → the same event.

use std::time::Duration;

use channels::send::HttpSender;
use channels::testing::FakeService;
use channels::{Disposition, Event, Kind, Notice, Response};
use common::i18n::Language;
use common::netguard::Guard;

/// A sender that may reach loopback (the fakes) through the operator's allowed ranges.
fn sender() -> HttpSender {
    let config = common::config::GuardConfig {
        allowed_ranges: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    HttpSender::new(Guard::from_parts(&config, Vec::new()), Duration::from_secs(5)).unwrap()
}

/// Sends `notice` on a `kind` channel pointing at `fake`; answers the answer and what it means.
async fn send(fake: &FakeService, notice: &Notice) -> (Response, Disposition) {
    let kind = fake.kind();
    let (settings, secrets) = (channels::testing::shape(kind).sample)(&fake.url(""));
    let valid = channels::validate(kind, &settings, &secrets).unwrap();
    let request = channels::render(kind, &valid.settings, &secrets, notice).unwrap();
    let answer = sender().send(&request, false).await.unwrap();
    let disposition = channels::classify(kind, &answer);
    (answer, disposition)
}

fn delivered_id(d: &Disposition) -> String {
    match d {
        Disposition::Delivered { external_id: Some(id) } => id.clone(),
        other => panic!("not delivered with an id: {other:?}"),
    }
}

#[tokio::test]
async fn pagerduty_resolves_the_alert_its_trigger_opened() {
    let fake = FakeService::start(Kind::Pagerduty).await;
    let opened = Notice::sample(Event::Opened, Language::En);
    let mut resolved = Notice::sample(Event::Resolved, Language::En);
    resolved.key = uuid::Uuid::from_u128(2);
    let incident = opened.incident_id.unwrap().to_string();
    assert_eq!(resolved.incident_id, opened.incident_id);

    let (_, first) = send(&fake, &opened).await;
    let (_, second) = send(&fake, &resolved).await;
    let got = fake.wait_for(2, Duration::from_secs(5)).await;

    assert!(
        got.iter().all(|r| r.problems.is_empty()),
        "{:?}",
        got.iter().map(|r| &r.problems).collect::<Vec<_>>()
    );
    let (trigger, resolve) = (got[0].json(), got[1].json());
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(trigger["dedup_key"], incident.as_str());
    assert_eq!(resolve["dedup_key"], incident.as_str());
    assert_eq!(delivered_id(&first), incident);
    assert_eq!(delivered_id(&second), incident);
    assert_eq!(got.len(), 2);
}

#[tokio::test]
async fn opsgenie_closes_the_alert_it_created_by_alias() {
    let fake = FakeService::start(Kind::Opsgenie).await;
    let opened = Notice::sample(Event::Opened, Language::Ru);
    let resolved = Notice::sample(Event::Resolved, Language::Ru);
    let incident = opened.incident_id.unwrap().to_string();

    let (_, created) = send(&fake, &opened).await;
    let (_, closed) = send(&fake, &resolved).await;
    let got = fake.wait_for(2, Duration::from_secs(5)).await;

    assert!(
        got.iter().all(|r| r.problems.is_empty()),
        "{:?}",
        got.iter().map(|r| &r.problems).collect::<Vec<_>>()
    );
    assert_eq!((got[0].method.as_str(), got[0].path.as_str()), ("POST", "/v2/alerts"));
    assert_eq!(got[0].json()["alias"], incident.as_str());
    assert_eq!(got[1].path, format!("/v2/alerts/{incident}/close"));
    assert_eq!(got[1].query, "identifierType=alias");
    assert!(got[1].json()["note"].as_str().unwrap().contains(&resolved.headline));
    assert_ne!(
        delivered_id(&created),
        delivered_id(&closed),
        "each request has its own requestId"
    );
}

#[tokio::test]
async fn matrix_posts_a_retried_delivery_once() {
    let fake = FakeService::start(Kind::Matrix).await;
    let notice = Notice::sample(Event::Opened, Language::En);
    let mut other = Notice::sample(Event::Opened, Language::En);
    other.key = uuid::Uuid::from_u128(7);

    // The first try fails (a proxy's 502); the retry, and a second retry, carry the same
    // transaction id and get the same event.
    fake.respond_next(502, &[], "Bad Gateway");
    let (_, failed) = send(&fake, &notice).await;
    assert!(matches!(failed, Disposition::Transient(_)), "{failed:?}");
    let (_, first) = send(&fake, &notice).await;
    let (_, retry) = send(&fake, &notice).await;
    let (_, next) = send(&fake, &other).await;
    let got = fake.wait_for(4, Duration::from_secs(5)).await;

    assert!(
        got.iter().all(|r| r.problems.is_empty()),
        "{:?}",
        got.iter().map(|r| &r.problems).collect::<Vec<_>>()
    );
    assert_eq!(got[0].method, "PUT");
    assert!(
        got[..3].iter().all(|r| r.path == got[0].path),
        "every try reuses the transaction id"
    );
    assert_ne!(got[3].path, got[0].path);
    assert!(
        got[0].path.ends_with(&format!("/send/m.room.message/{}", notice.key)),
        "{}",
        got[0].path
    );
    assert!(
        got[0].path.contains("/rooms/%21AbCdEfGh1234%3Amatrix.example.org/"),
        "{}",
        got[0].path
    );
    let (first, retry, next) = (delivered_id(&first), delivered_id(&retry), delivered_id(&next));
    assert!(first.starts_with('$'));
    assert_eq!(first, retry, "the same delivery is the same event");
    assert_ne!(first, next, "another delivery is another event");
}

#[tokio::test]
async fn matrix_rate_limits_wait_for_retry_after_ms() {
    let fake = FakeService::start(Kind::Matrix).await;
    fake.respond_next(
        429,
        &[("Retry-After", "30")],
        r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000}"#,
    );
    let (_, limited) = send(&fake, &Notice::sample(Event::Test, Language::En)).await;
    assert_eq!(
        limited,
        Disposition::RateLimited {
            retry_after: Some(Duration::from_millis(2000))
        }
    );
}

#[tokio::test]
async fn pushover_and_pagerduty_tell_a_dead_key_from_a_bad_message() {
    let pushover = FakeService::start(Kind::Pushover).await;
    pushover.respond_next(
        400,
        &[],
        r#"{"token":"invalid","errors":["application token is invalid"],"status":0}"#,
    );
    pushover.respond_next(
        400,
        &[],
        r#"{"message":"cannot be blank","errors":["message cannot be blank"],"status":0}"#,
    );
    let notice = Notice::sample(Event::Opened, Language::En);
    assert!(matches!(send(&pushover, &notice).await.1, Disposition::Unreachable(_)));
    assert!(matches!(send(&pushover, &notice).await.1, Disposition::Permanent(_)));

    let pagerduty = FakeService::start(Kind::Pagerduty).await;
    pagerduty.respond_next(
        400,
        &[],
        r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#,
    );
    assert!(matches!(send(&pagerduty, &notice).await.1, Disposition::Unreachable(_)));
}
