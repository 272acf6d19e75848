//! The mass-outage digest end to end, with real pingers: twenty loopback targets served by one
//! process; that process killed → each channel (Telegram, email, a webhook) receives exactly
//! one message naming all twenty within K × interval + 10 s (+ the digest window); the process
//! restarted → exactly one resolution digest per channel, and nothing else of the kind.
//!
//! "A message" here is an alert-class message: a new Telegram message that answers nothing, a
//! mail that is no reply, a webhook notice that is no report. Each incident's report follows
//! its alert as a threaded answer (a Telegram reply, a mail with `In-Reply-To`, a webhook
//! `report`); those are counted and shown, and must all be threaded, but are not alerts.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use channels::Kind;
use channels::testing::{FakeService, Received};
use common::testing::{Call, FakeTelegram, SmtpSink};
use serde_json::{Value, json};

use crate::suite::{Suite, eventually};
use crate::{
    Api, CHAT, FAILURES_TO_OPEN, INTERVAL, channel_verified, items, register, status_of, target, verification_link,
};

/// How many targets the one process serves.
const TARGETS: usize = 20;
/// The digest window the suite runs with here.
const WINDOW: u64 = 3;

/// The promise under test: K × interval + 10 s after the kill, plus the digest window.
fn digest_deadline() -> Duration {
    Duration::from_secs(FAILURES_TO_OPEN * INTERVAL + 10 + WINDOW)
}

fn names() -> Vec<String> {
    (0..TARGETS).map(|n| format!("dig-{n:02}")).collect()
}

/// One real process serving every target: `python3 -m http.server` bound to 127.0.0.1 on a
/// fixed port, serving a file per target. Killed with SIGKILL (connections are then refused)
/// and started again on the same port.
struct TargetsProcess {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl TargetsProcess {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("pingtower-acceptance-digest-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("www")).unwrap();
        for name in names() {
            std::fs::write(dir.join("www").join(&name), "ok\n").unwrap();
        }
        let port = common::testing::ports_for_other_processes(1)[0];
        let mut p = Self {
            port,
            dir,
            child: None,
            starts: 0,
        };
        p.spawn();
        p
    }

    /// Starts the server (again) and waits until it accepts connections.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the targets' process is not running");
        let log = std::fs::File::create(self.dir.join(format!("requests-{}.log", self.starts))).unwrap();
        self.starts += 1;
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(self.dir.join("www"))
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("python3 starts");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let start = Instant::now();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "python3 -m http.server listens on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crashing process dies: its port then refuses connections.
    fn kill(&mut self) {
        let mut child = self.child.take().expect("the targets' process runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Requests served so far, over every start (http.server logs one line each).
    fn hits(&self) -> usize {
        (0..self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("requests-{n}.log")))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains("\"GET /dig-"))
                    .count()
            })
            .sum()
    }
}

impl Drop for TargetsProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What one channel received after a point: its alert-class messages' texts, and how many
/// threaded follow-ups (reports) came besides.
#[derive(Debug, Default)]
struct Seen {
    alerts: Vec<String>,
    follow_ups: usize,
}

impl Seen {
    /// The target names that the alert-class messages name.
    fn named(&self) -> BTreeSet<String> {
        names()
            .into_iter()
            .filter(|n| self.alerts.iter().any(|a| a.contains(n.as_str())))
            .collect()
    }
}

fn telegram_since(tg: &FakeTelegram, from: usize) -> Seen {
    let sent: Vec<Call> = tg.sent_to(CHAT).into_iter().skip(from).collect();
    let mut seen = Seen::default();
    for c in sent {
        if c.body.get("reply_parameters").is_some_and(|r| !r.is_null()) {
            seen.follow_ups += 1;
        } else {
            seen.alerts.push(c.body["text"].as_str().unwrap_or_default().to_owned());
        }
    }
    seen
}

fn mail_since(smtp: &SmtpSink, from: usize) -> Seen {
    let mut seen = Seen::default();
    for m in smtp.mails().into_iter().skip(from) {
        if m.header("In-Reply-To").is_empty() {
            seen.alerts
                .push(format!("{}\n{}", m.header("Subject").join(" "), m.part("text/plain")));
        } else {
            seen.follow_ups += 1;
        }
    }
    seen
}

fn webhook_since(hook: &FakeService, from: usize) -> Seen {
    let mut seen = Seen::default();
    for r in hook.received().into_iter().skip(from) {
        let body = r.json();
        if body["event"] == "report" {
            seen.follow_ups += 1;
        } else {
            seen.alerts.push(body.to_string());
        }
    }
    seen
}

/// Every channel's messages since the marks.
struct Channels<'a> {
    tg: &'a FakeTelegram,
    smtp: &'a SmtpSink,
    hook: &'a FakeService,
}

/// Where each channel's count stood.
#[derive(Clone, Copy, Debug)]
struct Marks {
    telegram: usize,
    email: usize,
    webhook: usize,
}

impl Channels<'_> {
    fn marks(&self) -> Marks {
        Marks {
            telegram: self.tg.sent_to(CHAT).len(),
            email: self.smtp.mails().len(),
            webhook: self.hook.received().len(),
        }
    }

    fn since(&self, m: Marks) -> [(&'static str, Seen); 3] {
        [
            ("Telegram", telegram_since(self.tg, m.telegram)),
            ("email", mail_since(self.smtp, m.email)),
            ("webhook", webhook_since(self.hook, m.webhook)),
        ]
    }

    /// Waits until every channel's alert-class messages since `m` name all the targets.
    async fn wait_all_named(&self, m: Marks, what: &str, within: Duration) {
        eventually(what, within, || {
            let all = self.since(m).iter().all(|(_, seen)| seen.named().len() == TARGETS);
            async move { all.then_some(()) }
        })
        .await
    }

    /// Exactly one alert-class message per channel since `m`, naming all the targets; the rest
    /// (reports) threaded under it.
    fn assert_one_each(&self, m: Marks, what: &str, logs: &str) {
        for (channel, seen) in self.since(m) {
            assert_eq!(
                seen.alerts.len(),
                1,
                "{what}: exactly one {channel} message for {TARGETS} incidents, got {:#?}\n{logs}",
                seen.alerts
            );
            assert_eq!(
                seen.named().len(),
                TARGETS,
                "{what}: the {channel} message names all {TARGETS}"
            );
            println!(
                "acceptance digest: {what}: {channel}: 1 message, {} threaded follow-ups",
                seen.follow_ups
            );
        }
    }
}

/// Registers the first user (the admin: its channels may reach loopback on this installation,
/// which allows private targets), links the Telegram chat, adds and verifies an email channel
/// through the mailed link, and adds a signed webhook to `hook`.
async fn user_with_three_channels(api: &Api, tg: &FakeTelegram, smtp: &SmtpSink, hook: &FakeService) {
    register(api, "dora@example.test").await;

    let link = api.post("/api/channels/telegram/link", json!({})).await;
    let token = link["token"].as_str().unwrap().to_owned();
    tg.user_says(CHAT, &format!("/start {token}"));
    channel_verified(api, "telegram", "the Telegram chat is linked", Duration::from_secs(20)).await;

    api.post("/api/channels/email", json!({"address": "dora@example.test"}))
        .await;
    let verify = verification_link(smtp).await;
    let (url, token) = verify.split_once("?token=").unwrap();
    let verified = reqwest::Client::new()
        .post(url)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert!(verified.status().is_success(), "POST {verify}: {}", verified.status());
    channel_verified(api, "email", "the email channel is verified", Duration::from_secs(10)).await;

    let (settings, secrets) = (channels::testing::shape(Kind::Webhook).sample)(&hook.url(""));
    let created = api
        .post(
            "/api/channels",
            json!({"kind": "webhook", "label": "ops hook", "settings": settings, "secrets": secrets.0}),
        )
        .await;
    assert_eq!(created["kind"], "webhook", "{created}");
    channel_verified(api, "webhook", "the webhook channel is ready", Duration::from_secs(10)).await;
}

/// How many of `ids` have an open incident.
async fn open_incidents(api: &Api, ids: &BTreeSet<String>) -> usize {
    let open = api.get("/api/incidents?status=open&limit=100").await;
    items(&open)
        .iter()
        .filter(|i| i["target_id"].as_str().is_some_and(|t| ids.contains(t)))
        .count()
}

/// Every request the webhook receiver refused (wrong shape, bad signature, a replay).
fn webhook_problems(received: &[Received]) -> Vec<String> {
    received.iter().flat_map(|r| r.problems.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_targets_of_one_killed_process_are_one_digest_per_channel() {
    let tg = FakeTelegram::start().await;
    let smtp = SmtpSink::start().await;
    let hook = FakeService::start(Kind::Webhook).await;
    let mut server = TargetsProcess::start();
    let suite = Suite::start(&[
        ("PINGTOWER_MIN_INTERVAL_SECONDS", "1".into()),
        ("PINGTOWER_TELEGRAM_BOT_TOKEN", "4200000:acceptance-token".into()),
        ("PINGTOWER_TELEGRAM_API_URL", tg.url.clone()),
        ("PINGTOWER_TELEGRAM_BOT_USERNAME", common::testing::BOT_USERNAME.into()),
        ("PINGTOWER_SMTP_URL", format!("smtp://127.0.0.1:{}", smtp.port)),
        ("PINGTOWER_MAIL_FROM", "PingTower <alerts@pingtower.test>".into()),
        ("PINGTOWER_NOTIFIER_DIGEST_WINDOW", format!("{WINDOW}s")),
    ])
    .await;
    let api = Api::new(&suite.api);
    user_with_three_channels(&api, &tg, &smtp, &hook).await;
    let channels = Channels {
        tg: &tg,
        smtp: &smtp,
        hook: &hook,
    };

    let mut ids = BTreeSet::new();
    for name in names() {
        let id = target(
            &api,
            &name,
            json!({"kind": "http", "url": server.url(&name), "timeout_ms": 1500}),
        )
        .await;
        ids.insert(id);
    }
    eventually("all twenty targets are up", Duration::from_secs(30), || async {
        for id in &ids {
            if status_of(&api, id).await != "up" {
                return None;
            }
        }
        Some(())
    })
    .await;

    // The process serving all twenty dies.
    let before = channels.marks();
    let killed = Instant::now();
    server.kill();
    channels
        .wait_all_named(
            before,
            &format!(
                "every channel names all {TARGETS} targets within K × interval + 10 s + the {WINDOW} s digest window"
            ),
            digest_deadline(),
        )
        .await;
    let time_to_digest = killed.elapsed();
    assert_eq!(
        open_incidents(&api, &ids).await,
        TARGETS,
        "an incident open for each target"
    );
    channels.assert_one_each(before, "the outage", &suite.logs());
    let opened = telegram_since(&tg, before.telegram).alerts.join("\n");
    // Cause correlation grouped them: the one message names what they share.
    assert!(
        opened.contains(&format!(
            "{TARGETS} targets are down: all are on 127.0.0.1 (connect_refused)"
        )),
        "the Telegram digest counts them and names the shared cause: {opened}"
    );

    // The process comes back on the same port: one resolution digest per channel.
    let down = channels.marks();
    let restarted = Instant::now();
    server.spawn();
    channels
        .wait_all_named(
            down,
            &format!("every channel names all {TARGETS} resolutions"),
            // No bound in the promise; generous, because each incident's report (twenty per
            // channel) is paced one a second per chat or channel, ahead of the resolution.
            Duration::from_secs(60),
        )
        .await;
    let time_to_resolution = restarted.elapsed();
    eventually(
        "every incident resolved, as the API shows",
        Duration::from_secs(10),
        || async { (open_incidents(&api, &ids).await == 0).then_some(()) },
    )
    .await;
    // Two more rounds of checks of all twenty after the resolutions: a late or doubled alert or
    // resolution (a second digest, a lone straggler) would have gone out by then.
    let hits = server.hits();
    eventually(
        "two more rounds of checks after the resolutions",
        Duration::from_secs(INTERVAL * 2 + 10),
        || {
            let now = server.hits();
            async move { (now >= hits + 2 * TARGETS).then_some(()) }
        },
    )
    .await;
    channels.assert_one_each(down, "the recovery", &suite.logs());
    let resolved = telegram_since(&tg, down.telegram).alerts.join("\n");
    assert!(
        resolved.contains(&format!(
            "Outage over: the last {TARGETS} targets recovered (all are on 127.0.0.1 (connect_refused))"
        )),
        "the Telegram resolution digest counts them and says the group's outage is over: {resolved}"
    );
    let problems = webhook_problems(&hook.received());
    assert!(
        problems.is_empty(),
        "the webhook requests were well-formed and signed: {problems:?}"
    );
    let bodies: Vec<Value> = hook.received().iter().map(Received::json).collect();
    assert!(
        bodies.iter().filter(|b| b["event"] == "digest").count() == 2,
        "the webhook got the outage and the recovery as digests: {bodies:#?}"
    );

    for (channel, seen) in channels.since(before) {
        println!(
            "acceptance digest: {channel}: {} messages in all, {} threaded follow-ups (reports)",
            seen.alerts.len(),
            seen.follow_ups
        );
    }
    println!(
        "acceptance digest: {TARGETS} targets, one process killed: digest after {:.1} s (deadline {} s), resolution digest {:.1} s after the restart",
        time_to_digest.as_secs_f64(),
        digest_deadline().as_secs(),
        time_to_resolution.as_secs_f64()
    );
}
