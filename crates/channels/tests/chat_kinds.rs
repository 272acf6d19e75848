//! Discord, Microsoft Teams and Google Chat beyond the generic tests: oversized messages stay
//! within each service's limits, the URLs keep their queries, the answers' ids are kept, and
//! the secret URLs stay out of summaries and logs.

use std::time::Duration;

use channels::send::HttpSender;
use channels::testing::{FakeService, Received};
use channels::{Disposition, Event, Kind, Notice, Request, Secrets};
use common::i18n::Language;
use common::netguard::Guard;
use serde_json::json;

fn sender() -> HttpSender {
    let config = common::config::GuardConfig {
        allowed_ranges: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    HttpSender::new(Guard::from_parts(&config, Vec::new()), Duration::from_secs(5)).unwrap()
}

fn url_secret(url: &str) -> Secrets {
    Secrets([("url".to_owned(), url.to_owned())].into())
}

/// A notice far over every service's limits.
fn huge(lang: Language) -> Notice {
    let mut n = Notice::sample(Event::Report, lang);
    n.headline = format!("{} {}", n.headline, "long ".repeat(200));
    n.facts = (0..40)
        .map(|i| (format!("fact {i} {}", "l".repeat(300)), "v".repeat(2000)))
        .collect();
    n.text = Some("Отчёт *важно* <users/all> ".repeat(1000));
    n
}

/// Sends `notice` on the sample channel of `kind` to its fake: the request and what arrived.
async fn deliver(kind: Kind, notice: &Notice) -> (Request, Received, Disposition) {
    let fake = FakeService::start(kind).await;
    let (settings, secrets) = (channels::testing::shape(kind).sample)(&fake.url(""));
    let valid = channels::validate(kind, &settings, &secrets).unwrap();
    let req = channels::render(kind, &valid.settings, &secrets, notice).unwrap();
    let answer = sender().send(&req, false).await.unwrap();
    let got = fake.received().pop().unwrap();
    (req, got, channels::classify(kind, &answer))
}

#[tokio::test]
async fn oversized_messages_stay_within_each_services_limits() {
    for kind in [Kind::Discord, Kind::Teams, Kind::GoogleChat] {
        for lang in Language::ALL {
            let (_, got, disposition) = deliver(kind, &huge(lang)).await;
            assert!(got.problems.is_empty(), "{kind} {lang:?}: {:?}", got.problems);
            assert!(
                matches!(disposition, Disposition::Delivered { .. }),
                "{kind}: {disposition:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_services_message_ids_are_kept() {
    let notice = Notice::sample(Event::Opened, Language::Ru);
    let (_, _, discord) = deliver(Kind::Discord, &notice).await;
    assert_eq!(
        discord,
        Disposition::Delivered {
            external_id: Some("1187000000000000001".into())
        }
    );
    let (_, _, chat) = deliver(Kind::GoogleChat, &notice).await;
    assert_eq!(
        chat,
        Disposition::Delivered {
            external_id: Some("spaces/AAAA/messages/BBBB.BBBB".into())
        }
    );
    let (_, got, teams) = deliver(Kind::Teams, &notice).await;
    assert_eq!((got.status, teams), (202, Disposition::Delivered { external_id: None }));
}

#[test]
fn discord_waits_for_the_message_keeps_the_thread_and_pings_nobody() {
    let secrets = url_secret("https://discord.com/api/webhooks/1/tok?thread_id=77&wait=false");
    let settings = json!({"username": "Pinger", "avatar_url": "https://cdn.example.com/a.png"});
    let valid = channels::validate(Kind::Discord, &settings, &secrets).unwrap();
    let n = Notice::sample(Event::Opened, Language::En);
    let req = channels::render(Kind::Discord, &valid.settings, &secrets, &n).unwrap();
    assert_eq!(req.url.query(), Some("thread_id=77&wait=true"));
    let b = req.body_json().unwrap();
    assert_eq!(b["allowed_mentions"], json!({"parse": []}));
    assert_eq!(b["username"], "Pinger");
    let embed = &b["embeds"][0];
    assert_eq!(embed["title"], n.title());
    assert_eq!(embed["color"], n.color());
    assert_eq!(embed["url"], n.link.clone().unwrap());
    assert_eq!(embed["footer"]["text"], "PingTower");
    assert_eq!(embed["fields"].as_array().unwrap().len(), n.facts.len());
    assert!(
        embed["description"]
            .as_str()
            .unwrap()
            .contains(n.ack_link.as_deref().unwrap())
    );

    let field = |settings: serde_json::Value, secrets: &Secrets| {
        channels::validate(Kind::Discord, &settings, secrets).unwrap_err().field
    };
    assert_eq!(field(json!({}), &Secrets::default()), "secrets.url");
    assert_eq!(
        field(json!({"username": "Discord alerts"}), &secrets),
        "settings.username"
    );
    assert_eq!(
        field(json!({"avatar_url": "javascript:x"}), &secrets),
        "settings.avatar_url"
    );
    assert_eq!(field(json!({"color": 1}), &secrets), "settings.color");
}

#[test]
fn teams_posts_one_adaptive_card() {
    let secrets =
        url_secret("https://prod.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=abc");
    let n = Notice::sample(Event::Opened, Language::Ru);
    let req = channels::render(Kind::Teams, &json!({}), &secrets, &n).unwrap();
    let b = req.body_json().unwrap();
    let card = &b["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["body"][0]["text"], n.title());
    assert_eq!(card["body"][0]["weight"], "Bolder");
    assert_eq!(card["body"][1]["facts"][0]["title"], n.facts[0].0);
    let actions = card["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[1]["url"], n.ack_link.clone().unwrap());
    assert_eq!(actions[1]["title"], n.ack_label());
    assert_eq!(
        channels::validate(Kind::Teams, &json!({}), &url_secret("not a url"))
            .unwrap_err()
            .field,
        "secrets.url"
    );
}

#[test]
fn google_chat_threads_by_incident_and_keeps_the_webhooks_query() {
    let secrets = url_secret(
        "https://chat.googleapis.com/v1/spaces/AAA/messages?key=k1&token=t%3D1&messageReplyOption=REPLY_MESSAGE_OR_FAIL",
    );
    let opened = Notice::sample(Event::Opened, Language::En);
    let req = channels::render(Kind::GoogleChat, &json!({}), &secrets, &opened).unwrap();
    let pairs: Vec<(String, String)> = req.url.query_pairs().into_owned().collect();
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        pairs,
        vec![
            pair("key", "k1"),
            pair("token", "t=1"),
            pair("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
        ]
    );
    let b = req.body_json().unwrap();
    assert_eq!(b["thread"]["threadKey"], opened.incident_id.unwrap().to_string());
    let text = b["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("*{}*", opened.title())), "{text}");
    assert!(
        text.contains(&format!(
            "<{}|{}>",
            opened.ack_link.as_deref().unwrap(),
            opened.ack_label()
        )),
        "{text}"
    );

    let digest = Notice::sample(Event::Digest, Language::Ru);
    let b = channels::render(Kind::GoogleChat, &json!({}), &secrets, &digest)
        .unwrap()
        .body_json()
        .unwrap();
    assert_eq!(
        b["thread"]["threadKey"],
        digest.key.to_string(),
        "no incident: the delivery's own thread"
    );
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .contains("<https://pingtower.example/incidents/1|api-1.example.com>")
    );

    let mut hostile = Notice::sample(Event::Opened, Language::En);
    hostile.name = "<users/all>".into();
    hostile.facts.push(("who".into(), "<users/all>".into()));
    let b = channels::render(Kind::GoogleChat, &json!({}), &secrets, &hostile)
        .unwrap()
        .body_json()
        .unwrap();
    assert!(
        !b["text"].as_str().unwrap().contains("<users/all>"),
        "user text mentions nobody"
    );

    let err = channels::validate(
        Kind::GoogleChat,
        &json!({}),
        &url_secret("https://chat.googleapis.com/v1/spaces/AAA/messages?key=k"),
    )
    .unwrap_err();
    assert_eq!(err.field, "secrets.url");
}

#[test]
fn secret_urls_stay_out_of_summaries_and_logs() {
    let cases = [
        (Kind::Discord, "https://discord.com/api/webhooks/1/tok-d1scord"),
        (Kind::Teams, "https://prod.logic.azure.com/workflows/x?sig=tok-te4ms"),
        (
            Kind::GoogleChat,
            "https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=tok-ch4t",
        ),
    ];
    for (kind, url) in cases {
        let secrets = url_secret(url);
        let token = url.rsplit(['/', '=']).next().unwrap();
        let valid = channels::validate(kind, &json!({}), &secrets).unwrap();
        assert!(!valid.summary.contains(token), "{kind}: {}", valid.summary);
        let req = channels::render(
            kind,
            &valid.settings,
            &secrets,
            &Notice::sample(Event::Test, Language::En),
        )
        .unwrap();
        assert!(!format!("{req:?} {secrets:?}").contains(token), "{kind}: {req:?}");
    }
}
