//! End-to-end acceptance: the suite as a user meets it, every service a separate process as
//! `scripts/start.sh` starts them, with fakes only for what lies outside the machine (Telegram,
//! an LLM provider) and a real SMTP server on loopback.

mod digest;
mod llm;
mod suite;
mod targets;

use std::time::{Duration, Instant};

use common::testing::{Call, FakeTelegram, SmtpSink};
use reqwest::StatusCode;
use serde_json::{Value, json};

use suite::{SERVICES, Suite, eventually};
use targets::{HttpService, HttpsService, Mode};

const CHAT: i64 = 777_001;
const INTERVAL: u64 = 2;
const FAILURES_TO_OPEN: u64 = 3;

/// K × interval + 5 s: the longest an alert may take after a target goes down.
fn alert_deadline() -> Duration {
    Duration::from_secs(FAILURES_TO_OPEN * INTERVAL + 5)
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder().cookie_store(true).build().unwrap(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, out) = self.call(reqwest::Method::POST, path, Some(body)).await;
        assert!(status.is_success(), "POST {path}: {status} {out}");
        out
    }
}

fn items(v: &Value) -> Vec<Value> {
    v.get("items").and_then(Value::as_array).cloned().unwrap_or_default()
}

/// Telegram messages to the user's chat that mention `needle`.
fn telegram_about(tg: &FakeTelegram, needle: &str) -> Vec<Call> {
    tg.sent_to(CHAT)
        .into_iter()
        .filter(|c| c.body["text"].as_str().unwrap_or_default().contains(needle))
        .collect()
}

/// Every mail received, raw, in arrival order.
fn mails(smtp: &SmtpSink) -> Vec<String> {
    smtp.mails().into_iter().map(|m| m.raw).collect()
}

fn mails_about(smtp: &SmtpSink, needle: &str) -> Vec<String> {
    mails(smtp).into_iter().filter(|m| m.contains(needle)).collect()
}

/// Secrets of the shop-web target, each unique enough to grep for.
const HEADER_SECRET: &str = "acc-header-secret-5b7e21";
const MARKED_SECRET: &str = "acc-marked-secret-c0d3a9";
const PASSWORD_SECRET: &str = "acc-password-secret-77f1e4";
const QUERY_SECRET: &str = "acc-query-secret-9a0b6c";

async fn target(api: &Api, name: &str, spec: Value) -> String {
    let created = api
        .post(
            "/api/targets",
            json!({
                "name": name,
                "spec": spec,
                "interval_seconds": INTERVAL,
                "failure_threshold": FAILURES_TO_OPEN,
                "success_threshold": 2,
                "tags": ["acceptance"],
            }),
        )
        .await;
    created["id"].as_str().unwrap().to_owned()
}

/// Waits until the user has a verified channel of `kind`, or panics after `within` naming `what`.
/// Registers `email` with the suite's test password (the first user is the admin).
async fn register(api: &Api, email: &str) {
    let (status, me) = api
        .call(
            reqwest::Method::POST,
            "/api/auth/register",
            Some(json!({"email": email, "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{me}");
}

/// The verification link the notifier mails for a new email channel (30 s at most).
async fn verification_link(smtp: &SmtpSink) -> String {
    eventually("the verification mail arrives", Duration::from_secs(30), || {
        let mails = mails(smtp);
        async move {
            let re = regex::Regex::new(r"https?://[^\s<>\x22]+/api/channels/verify\?token=[A-Za-z0-9_\-]+").unwrap();
            mails.iter().find_map(|m| {
                re.find(&m.replace("=\r\n", "").replace("=3D", "="))
                    .map(|x| x.as_str().to_owned())
            })
        }
    })
    .await
}

async fn channel_verified(api: &Api, kind: &str, what: &str, within: Duration) {
    eventually(what, within, || async move {
        let channels = api.get("/api/channels").await;
        items(&channels)
            .iter()
            .any(|c| c["kind"] == kind && c["verified"] == true)
            .then_some(())
    })
    .await
}

async fn status_of(api: &Api, id: &str) -> String {
    let t = api.get(&format!("/api/targets/{id}")).await;
    t["state"]["status"].as_str().unwrap_or("unknown").to_owned()
}

/// Waits for the next Telegram alert about `name` beyond the `seen` already counted.
async fn next_alert(tg: &FakeTelegram, name: &str, seen: usize, what: &str, within: Duration) -> Call {
    eventually(what, within, || {
        let all = telegram_about(tg, name);
        async move { all.get(seen).cloned() }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_meets_the_whole_suite() {
    // What lies outside the machine, and the targets the user watches.
    let tg = FakeTelegram::start().await;
    let scratch = std::env::temp_dir().join(format!("pingtower-acceptance-io-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).unwrap();
    let smtp = SmtpSink::start().await;
    let llm = llm::start().await;
    let web = HttpService::start("127.0.0.1").await;
    let flappy = HttpService::start("127.0.0.1").await;
    let canary = HttpService::start("127.0.0.1").await;
    let https = HttpsService::start(5).await;
    let dns = targets::dns_server().await;
    let tcp = targets::tcp_server().await;
    let ca_file = scratch.join("ca.pem");
    std::fs::write(&ca_file, &https.ca_pem).unwrap();

    let mut suite = Suite::start(&[
        ("PINGTOWER_MIN_INTERVAL_SECONDS", "1".into()),
        ("PINGTOWER_TELEGRAM_BOT_TOKEN", "4200000:acceptance-token".into()),
        ("PINGTOWER_TELEGRAM_API_URL", tg.url.clone()),
        ("PINGTOWER_TELEGRAM_BOT_USERNAME", common::testing::BOT_USERNAME.into()),
        ("PINGTOWER_SMTP_URL", format!("smtp://127.0.0.1:{}", smtp.port)),
        ("PINGTOWER_MAIL_FROM", "PingTower <alerts@pingtower.test>".into()),
        ("PINGTOWER_LLM_BASE_URL", llm.url.clone()),
        ("PINGTOWER_LLM_MODEL", "stub-model".into()),
        ("PINGTOWER_LLM_API_KEY", "sk-acceptance".into()),
        ("PINGTOWER_PINGER_EXTRA_CA_FILE", ca_file.display().to_string()),
        ("PINGTOWER_PINGER_CANARIES", canary.url()),
        // Canary rounds scaled with the 2 s check interval (default 10 s for checks every 60 s).
        ("PINGTOWER_PINGER_CANARY_INTERVAL", "1s".into()),
    ])
    .await;
    let api = Api::new(&suite.api);

    // Register; the first user is the admin (and so also gets operator events).
    register(&api, "Ann@Example.test").await;

    // Link Telegram through the bot's deep link.
    let link = api.post("/api/channels/telegram/link", json!({})).await;
    let token = link["token"].as_str().unwrap().to_owned();
    assert!(
        link["link"].as_str().unwrap().contains(&format!("start={token}")),
        "{link}"
    );
    tg.user_says(CHAT, &format!("/start {token}"));
    channel_verified(&api, "telegram", "the Telegram chat is linked", Duration::from_secs(20)).await;

    // Add an email channel and verify it through the link the notifier mails.
    api.post("/api/channels/email", json!({"address": "ann@example.test"}))
        .await;
    let verify = verification_link(&smtp).await;
    // The link opens a page (a mail scanner following it changes nothing); its button POSTs.
    let page = reqwest::get(&verify).await.unwrap();
    assert!(page.status().is_success(), "{verify}: {}", page.status());
    assert!(page.text().await.unwrap().contains("<form method=\"post\""));
    let token = verify.split_once("token=").unwrap().1.to_owned();
    let verified = reqwest::Client::new()
        .post(verify.split_once('?').unwrap().0)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert!(verified.status().is_success(), "POST {verify}: {}", verified.status());
    channel_verified(&api, "email", "the email channel is verified", Duration::from_secs(10)).await;

    // Targets on loopback: HTTP, HTTPS with a certificate expiring in 5 days, DNS, TCP.
    // shop-web carries secrets: a credential header by name, one the user marks secret, basic
    // auth, and a token in its query string. None may leave the checks themselves.
    let web_id = target(
        &api,
        "shop-web",
        json!({"kind": "http", "url": format!("{}?probe_token={QUERY_SECRET}", web.url()), "timeout_ms": 1500,
               "headers": [{"name": "X-Api-Key", "value": HEADER_SECRET},
                           {"name": "X-Shop-Session", "value": MARKED_SECRET, "secret": true},
                           {"name": "Accept", "value": "text/html"}],
               "auth": {"type": "basic", "username": "monitor", "password": PASSWORD_SECRET}}),
    )
    .await;
    let https_id = target(
        &api,
        "shop-tls",
        json!({"kind": "http", "url": https.url(), "timeout_ms": 1500, "tls_warn_days": 7}),
    )
    .await;
    let dns_id = target(
        &api,
        "shop-dns",
        json!({"kind": "dns", "name": "shop.test.", "record_type": "A", "expected_answers": ["127.0.0.1"],
               "resolver": {"address": dns.to_string()}, "timeout_ms": 1500}),
    )
    .await;
    let tcp_id = target(
        &api,
        "shop-tcp",
        json!({"kind": "tcp", "host": "127.0.0.1", "port": tcp.port(), "timeout_ms": 1500}),
    )
    .await;
    for id in [&web_id, &dns_id, &tcp_id] {
        eventually(&format!("target {id} is up"), Duration::from_secs(30), || async {
            (status_of(&api, id).await == "up").then_some(())
        })
        .await;
    }

    // The certificate warning arrives, once.
    eventually("the certificate warning", Duration::from_secs(30), || {
        let n = telegram_about(&tg, "shop-tls").len();
        async move { (n >= 1).then_some(()) }
    })
    .await;
    assert_ne!(
        status_of(&api, &https_id).await,
        "down",
        "an expiring certificate is not an outage"
    );

    // shop-web goes down: one Telegram alert and one email within K × interval + 5 s.
    let went_down = Instant::now();
    web.set(Mode::Down);
    let alert = next_alert(&tg, "shop-web", 0, "the Telegram alert for shop-web", alert_deadline()).await;
    let time_to_alert = went_down.elapsed();
    eventually("the email alert for shop-web", alert_deadline(), || {
        let n = mails_about(&smtp, "shop-web").len();
        async move { (n >= 1).then_some(()) }
    })
    .await;
    let time_to_email = went_down.elapsed();

    // The report follows: the alert message is edited, the email gets a threaded reply.
    let alert_message = alert.message_id.expect("the alert has a message id");
    eventually("the report edits the Telegram alert", Duration::from_secs(30), || {
        let edits = tg.calls_of("editMessageText");
        async move { edits.iter().any(|e| e.message_id == Some(alert_message)).then_some(()) }
    })
    .await;
    let time_to_report = went_down.elapsed();
    eventually(
        "the report follows by email in the same thread",
        Duration::from_secs(30),
        || {
            let mails = mails_about(&smtp, "shop-web");
            async move { mails.iter().any(|m| m.contains("In-Reply-To:")).then_some(()) }
        },
    )
    .await;

    // The dashboard API shows the incident with its report.
    let incidents = api.get("/api/incidents?status=open").await;
    let incident = items(&incidents)
        .into_iter()
        .find(|i| i["target_id"] == web_id.as_str())
        .expect("an open incident for shop-web");
    let incident_id = incident["id"].as_str().unwrap().to_owned();
    let detail = eventually("the incident carries its report", Duration::from_secs(20), || {
        let api = &api;
        let path = format!("/api/incidents/{incident_id}");
        async move {
            let d = api.get(&path).await;
            d["reports"].as_array().is_some_and(|r| !r.is_empty()).then_some(d)
        }
    })
    .await;
    assert!(
        detail["reports"][0]["source"]
            .as_str()
            .unwrap_or_default()
            .starts_with("llm:"),
        "{detail}"
    );

    // It recovers: one resolution message with the outage's duration.
    web.set(Mode::Up);
    let resolved = next_alert(
        &tg,
        "shop-web",
        1,
        "the resolution for shop-web",
        Duration::from_secs(30),
    )
    .await;
    let text = resolved.body["text"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        text.contains("resolved") || text.contains("back up") || text.contains("recovered"),
        "{text}"
    );
    let overview = api.get(&format!("/api/targets/{web_id}/overview")).await;
    let uptime = overview["uptime"]["h24"].as_f64().expect("24 h uptime");
    assert!(
        uptime < 1.0 && uptime > 0.0,
        "the downtime shows in the uptime: {overview}"
    );

    // A flapping target produces no storm.
    let flappy_id = target(
        &api,
        "shop-flappy",
        json!({"kind": "http", "url": flappy.url(), "timeout_ms": 1500}),
    )
    .await;
    eventually("shop-flappy is up", Duration::from_secs(30), || async {
        (status_of(&api, &flappy_id).await == "up").then_some(())
    })
    .await;
    // Announced once; then ten more checks of flapping (about 20 s) bring no further storm.
    flappy.set(Mode::Flapping);
    next_alert(
        &tg,
        "shop-flappy",
        0,
        "the flapping announcement",
        Duration::from_secs(60),
    )
    .await;
    let announced_at = flappy.hits();
    eventually("ten more checks of shop-flappy", Duration::from_secs(60), || {
        let hits = flappy.hits();
        async move { (hits >= announced_at + 10).then_some(()) }
    })
    .await;
    let flaps = telegram_about(&tg, "shop-flappy").len();
    assert!(
        (1..=2).contains(&flaps),
        "a flapping target is announced, without a storm: {flaps} Telegram messages"
    );
    flappy.set(Mode::Up);

    // Fresh targets for the rest (a target that failed four times within 30 minutes would
    // rightly count as flapping, and its alerts be held): one per service to kill, one for
    // the rule-written report, one watched while the probe itself is broken.
    let mut watched = Vec::new();
    for name in SERVICES
        .iter()
        .map(|s| format!("svc-{s}"))
        .chain(["svc-rules".into(), "svc-probe".into()])
    {
        let server = HttpService::start("127.0.0.1").await;
        let id = target(
            &api,
            &name,
            json!({"kind": "http", "url": server.url(), "timeout_ms": 1500}),
        )
        .await;
        watched.push((name, id, server));
    }
    for (name, id, _) in &watched {
        eventually(&format!("{name} is up"), Duration::from_secs(30), || async {
            (status_of(&api, id).await == "up").then_some(())
        })
        .await;
    }
    let (probe_name, _, probe_server) = watched.pop().unwrap();
    let (rules_name, _, rules_server) = watched.pop().unwrap();

    // kill -9 of any one service during an outage, then its restart: no alert lost or doubled.
    for (service, (name, id, server)) in SERVICES.iter().zip(&watched) {
        server.set(Mode::Down);
        suite.kill_and_restart(service);
        let alert = format!("the alert with {service} killed (target {id})");
        next_alert(&tg, name, 0, &alert, Duration::from_secs(60)).await;
        server.set(Mode::Up);
        let resolution = format!("the resolution with {service} killed (target {id})");
        next_alert(&tg, name, 1, &resolution, Duration::from_secs(60)).await;
        // Two more checks of the target after its resolution: a doubled alert or resolution
        // (a redelivery after the kill) would have gone out by then.
        let hits = server.hits();
        eventually("two more checks after the resolution", Duration::from_secs(30), || {
            let now = server.hits();
            async move { (now >= hits + 2).then_some(()) }
        })
        .await;
        let sent = telegram_about(&tg, name).len();
        assert_eq!(
            sent,
            2,
            "{service} killed: exactly one alert and one resolution\n{}",
            suite.logs()
        );
    }

    // With no LLM provider configured, the rule-based report follows instead.
    suite.restart_with(
        "llm-service",
        &[
            ("PINGTOWER_LLM_BASE_URL", None),
            ("PINGTOWER_LLM_MODEL", None),
            ("PINGTOWER_LLM_API_KEY", None),
        ],
    );
    let edits_before = tg.calls_of("editMessageText").len();
    let llm_requests = llm.requests().len();
    assert!(llm_requests >= 1, "the LLM wrote the earlier reports");
    rules_server.set(Mode::Down);
    next_alert(&tg, &rules_name, 0, "the alert without an LLM", alert_deadline()).await;
    eventually("the rule report edits the alert", Duration::from_secs(30), || {
        let n = tg.calls_of("editMessageText").len();
        async move { (n > edits_before).then_some(()) }
    })
    .await;
    rules_server.set(Mode::Up);
    next_alert(
        &tg,
        &rules_name,
        1,
        "the resolution without an LLM",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        llm.requests().len(),
        llm_requests,
        "no provider configured: the LLM is not asked"
    );

    // The pinger's own egress breaks: no alert per target, one operator event.
    let before_all = tg.sent_to(CHAT).len();
    canary.set(Mode::Unreachable);
    probe_server.set(Mode::Unreachable);
    // Not a wait for state but the promise under test: an alert is due within K × interval +
    // 5 s of a failure, so its absence is read once that window (and 5 s more) has passed.
    tokio::time::sleep(alert_deadline() + Duration::from_secs(5)).await;
    assert_eq!(
        telegram_about(&tg, &probe_name).len(),
        0,
        "no per-target alert while the probe is degraded"
    );
    let operator: Vec<_> = tg.sent_to(CHAT)[before_all..]
        .iter()
        .filter(|c| {
            c.body["text"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("probe")
        })
        .cloned()
        .collect();
    assert_eq!(operator.len(), 1, "one operator event: {operator:?}");
    probe_server.set(Mode::Up);
    canary.set(Mode::Up);

    // Exactly one certificate warning over the whole run.
    let cert = telegram_about(&tg, "shop-tls")
        .into_iter()
        .filter(|c| {
            c.body["text"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
                .contains("certificate")
        })
        .count();
    assert_eq!(cert, 1, "the certificate warning arrives once");

    // The secrets set on create appear nowhere: not in any API answer (target, list, both
    // exports), not in any service's log, not in what the LLM provider was sent, not in any
    // Telegram message or mail. The query-string token never reaches the provider either.
    let mut seen = vec![
        (
            "GET /api/targets/{id}",
            api.get(&format!("/api/targets/{web_id}")).await.to_string(),
        ),
        ("GET /api/targets", api.get("/api/targets?limit=500").await.to_string()),
        ("export json", api.get("/api/targets/export").await.to_string()),
        ("logs", suite.all_logs()),
        ("Telegram", format!("{:?}", tg.sent_to(CHAT))),
        ("Telegram edits", format!("{:?}", tg.calls_of("editMessageText"))),
        ("mails", mails(&smtp).join("\n")),
    ];
    let yaml = api.get("/api/targets/export?format=yaml").await;
    seen.push(("export yaml", yaml.as_str().unwrap_or_default().to_owned()));
    let prompts = llm.requests().join("\n");
    assert!(!prompts.is_empty(), "the provider was asked");
    for (place, text) in &seen {
        for secret in [HEADER_SECRET, MARKED_SECRET, PASSWORD_SECRET] {
            assert!(!text.contains(secret), "{secret} appears in {place}");
        }
    }
    for secret in [HEADER_SECRET, MARKED_SECRET, PASSWORD_SECRET, QUERY_SECRET] {
        assert!(!prompts.contains(secret), "{secret} was sent to the LLM provider");
    }
    assert!(
        seen[0].1.contains("\"secret\":true"),
        "the target shows its secrets masked and marked: {}",
        seen[0].1
    );

    println!(
        "acceptance: time to Telegram alert {:.1} s, to email {:.1} s, to report {:.1} s (K x interval + 5 s = {} s)",
        time_to_alert.as_secs_f64(),
        time_to_email.as_secs_f64(),
        time_to_report.as_secs_f64(),
        alert_deadline().as_secs()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
