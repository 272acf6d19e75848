//! Every HTTP kind against its loopback fake: each message in both languages reaches the
//! fake in the service's documented shape, and the service's failures mean what they should.
//! A kind added to `Kind` without a fake fails here (`testing::shape` panics).

use std::time::Duration;

use channels::send::HttpSender;
use channels::testing::{FakeService, texts};
use channels::{Disposition, Event, Kind, Notice, Request};
use common::i18n::Language;
use common::netguard::Guard;

const EVENTS: &[Event] = &[
    Event::Opened,
    Event::Resolved,
    Event::Report,
    Event::Certificate,
    Event::Flapping,
    Event::Reminder,
    Event::Digest,
    Event::Test,
];

/// A sender that may reach loopback (the fakes) through the operator's allowed ranges.
fn sender() -> HttpSender {
    let config = common::config::GuardConfig {
        allowed_ranges: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    HttpSender::new(Guard::from_parts(&config, Vec::new()), Duration::from_secs(5)).unwrap()
}

fn request(kind: Kind, fake: &FakeService, notice: &Notice) -> Request {
    let (settings, secrets) = (channels::testing::shape(kind).sample)(&fake.url(""));
    let valid = channels::validate(kind, &settings, &secrets).unwrap_or_else(|e| panic!("{kind}: sample invalid: {e}"));
    channels::render(kind, &valid.settings, &secrets, notice).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

#[tokio::test]
async fn every_message_in_both_languages_has_the_documented_shape() {
    let sender = sender();
    for &kind in Kind::HTTP {
        let fake = FakeService::start(kind).await;
        let mut sent = 0;
        for &lang in &Language::ALL {
            for &event in EVENTS {
                let notice = Notice::sample(event, lang);
                let req = request(kind, &fake, &notice);
                let answer = sender
                    .send(&req, false)
                    .await
                    .unwrap_or_else(|d| panic!("{kind}: {d:?}"));
                sent += 1;
                let got = fake.received().pop().unwrap();
                assert!(got.problems.is_empty(), "{kind} {event:?} {lang:?}: {:?}", got.problems);
                assert!(
                    matches!(channels::classify(kind, &answer), Disposition::Delivered { .. }),
                    "{kind}: the fake's success answer is not delivered: {answer:?}"
                );
                let words = texts(&got);
                assert!(
                    words.contains(&notice.headline)
                        || words.contains(&channels::http::truncate(&notice.headline, 60)[..20]),
                    "{kind} {event:?} {lang:?}: the headline {:?} is not in the message: {words}",
                    notice.headline
                );
            }
        }
        assert_eq!(fake.received().len(), sent, "{kind}: one request per message");
    }
}

#[tokio::test]
async fn rate_limits_permanent_and_transient_failures_are_told_apart() {
    let sender = sender();
    for &kind in Kind::HTTP {
        let fake = FakeService::start(kind).await;
        let req = request(kind, &fake, &Notice::sample(Event::Opened, Language::En));
        fake.respond_next(429, &[("Retry-After", "3")], "{}");
        fake.respond_next(404, &[], "{}");
        fake.respond_next(503, &[], "{}");
        fake.respond_next(400, &[], "{}");
        let mut seen = Vec::new();
        for _ in 0..4 {
            let answer = sender.send(&req, false).await.unwrap();
            seen.push(channels::classify(kind, &answer));
        }
        assert!(
            matches!(seen[0], Disposition::RateLimited { retry_after: Some(d) } if d == Duration::from_secs(3)),
            "{kind}: 429 {:?}",
            seen[0]
        );
        assert!(
            matches!(seen[1], Disposition::Unreachable(_)),
            "{kind}: 404 {:?}",
            seen[1]
        );
        assert!(
            matches!(seen[2], Disposition::Transient(_)),
            "{kind}: 503 {:?}",
            seen[2]
        );
        assert!(
            matches!(seen[3], Disposition::Permanent(_) | Disposition::Unreachable(_)),
            "{kind}: 400 {:?}",
            seen[3]
        );
    }
}

#[tokio::test]
async fn the_guard_refuses_private_destinations_unless_allowed() {
    let strict = HttpSender::new(
        Guard::from_parts(&Default::default(), Vec::new()),
        Duration::from_secs(5),
    )
    .unwrap();
    let fake = FakeService::start(Kind::Slack).await;
    let req = request(Kind::Slack, &fake, &Notice::sample(Event::Test, Language::En));
    let refused = strict.send(&req, false).await.unwrap_err();
    assert!(
        matches!(refused, Disposition::Unreachable(ref why) if why.contains("loopback")),
        "{refused:?}"
    );
    assert!(fake.received().is_empty(), "nothing reached the fake");
}

#[test]
fn unknown_settings_missing_secrets_and_bad_urls_name_their_field() {
    let s =
        |pairs: &[(&str, &str)]| channels::Secrets(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let err = channels::validate(Kind::Slack, &serde_json::json!({}), &s(&[])).unwrap_err();
    assert_eq!(err.field, "secrets.url");
    let err = channels::validate(
        Kind::Slack,
        &serde_json::json!({"colour": 1}),
        &s(&[("url", "https://x.example/")]),
    )
    .unwrap_err();
    assert_eq!(err.field, "settings.colour", "{err}");
    let err = channels::validate(Kind::Slack, &serde_json::json!({}), &s(&[("url", "gopher://x")])).unwrap_err();
    assert_eq!(err.field, "secrets.url");
    let err = channels::validate(
        Kind::Slack,
        &serde_json::json!({}),
        &s(&[("url", "https://x.example/"), ("token", "t")]),
    )
    .unwrap_err();
    assert_eq!(err.field, "secrets.token");
    let err = channels::validate(Kind::Telegram, &serde_json::json!({}), &s(&[])).unwrap_err();
    assert_eq!(err.field, "kind");
}
