//! Shared helpers: fresh servers, the fake Bot API, the notifier in-process, rows inserted
//! straight into PostgreSQL, and events and reports to publish.

#![allow(dead_code)]

use std::time::Duration;

use bus::testing::TestBroker;
use chrono::{DateTime, Utc};
use common::messages::{
    CheckKind, Envelope, IncidentEvent, IncidentEventKind, IncidentReport, TargetRef, TargetStatus,
};
/// The notifier's input queues, for [`wait_acked`] and [`wait_retried`].
pub use common::messages::{INCIDENTS_NOTIFY_QUEUE, REPORTS_NOTIFY_QUEUE};
use common::testing::TestPg;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use common::testing::FakeTelegram;

pub const PUBLIC_URL: &str = "https://pingtower.example";

pub struct TestEnv {
    pub broker: TestBroker,
    pub pg: TestPg,
    pub tg: FakeTelegram,
    pub shutdown: CancellationToken,
    service: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestEnv {
    pub async fn new() -> Self {
        let (broker, pg, tg) = tokio::join!(TestBroker::new(), TestPg::new(), FakeTelegram::start());
        Self {
            broker,
            pg,
            tg,
            shutdown: CancellationToken::new(),
            service: None,
        }
    }

    /// A fresh environment and one user speaking `language`: (the environment, its pool, the user).
    pub async fn with_user(language: &str) -> (Self, PgPool, Uuid) {
        let env = Self::new().await;
        let pool = env.pool().clone();
        let user = user(&pool, language).await;
        (env, pool, user)
    }

    /// A fresh environment whose user (speaking `language`) has the Telegram chat `chat` and
    /// an incident open on their target "Shop"; the notifier is not started yet.
    pub async fn with_shop_incident(language: &str, chat: i64) -> (Self, PgPool, Outage) {
        let (env, pool, owner) = Self::with_user(language).await;
        let outage = outage(&pool, owner, "Shop").await;
        telegram_chat(&pool, owner, chat).await;
        (env, pool, outage)
    }

    /// [`Self::with_shop_incident`], the notifier started and the incident's alert received.
    pub async fn alerted(language: &str, chat: i64) -> (Self, PgPool, Outage) {
        let (mut env, pool, outage) = Self::with_shop_incident(language, chat).await;
        env.start();
        env.publish_until(outage.event.clone(), chat, 1, "the alert").await;
        // The fake has the message a moment before the log says `sent`.
        let incident = outage.incident;
        eventually("the alert logged as sent", Duration::from_secs(20), || {
            let pool = pool.clone();
            async move {
                let sent: Option<String> = sqlx::query_scalar(
                    "select external_id from notification_log where incident_id = $1 and status = 'sent'",
                )
                .bind(incident)
                .fetch_optional(&pool)
                .await
                .unwrap()
                .flatten();
                sent.map(drop)
            }
        })
        .await;
        (env, pool, outage)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pg.pool
    }

    /// The config for these servers: Telegram at the fake, fast pacing, no email.
    pub fn config(&self) -> notifier::Config {
        let mut c = notifier::Config::new(self.broker.config.clone(), self.pg.config.clone());
        c.telegram.bot_token = Some("123:TEST".to_owned().into());
        c.telegram.api_url = self.tg.url.parse().unwrap();
        c.telegram.bot_username = common::testing::BOT_USERNAME.into();
        c.telegram.poll_timeout = Duration::from_secs(1);
        c.telegram.chat_interval = Duration::from_millis(20);
        c.telegram.global_rate = 0;
        c.public_url = PUBLIC_URL.parse().unwrap();
        c.delivery.report_wait = Duration::from_secs(20);
        c.delivery.max_retry_delay = Duration::from_millis(500);
        c
    }

    pub fn start(&mut self) {
        let config = self.config();
        self.start_with(config);
    }

    pub fn start_with(&mut self, config: notifier::Config) {
        self.service = Some(tokio::spawn(notifier::run_with(config, self.shutdown.clone(), |_| {})));
    }

    /// Stops the notifier cleanly, then starts it again with `config`.
    pub async fn restart_with(&mut self, config: notifier::Config) {
        self.shutdown.cancel();
        if let Some(s) = self.service.take() {
            let r = tokio::time::timeout(Duration::from_secs(15), s).await;
            assert!(matches!(r, Ok(Ok(Ok(())))), "notifier stops cleanly: {r:?}");
        }
        self.shutdown = CancellationToken::new();
        self.start_with(config);
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(s) = self.service.take() {
            let r = tokio::time::timeout(Duration::from_secs(15), s).await;
            assert!(matches!(r, Ok(Ok(Ok(())))), "notifier stops cleanly: {r:?}");
        }
    }

    pub async fn publish_event(&self, event: IncidentEvent) {
        self.broker.publish(&Envelope::new(event)).await;
    }

    /// Publishes `events` at once (see `TestBroker::publish_all`).
    pub async fn publish_events(&self, events: Vec<IncidentEvent>) {
        let envelopes: Vec<_> = events.into_iter().map(Envelope::new).collect();
        self.broker.publish_all(&envelopes).await;
    }

    pub async fn publish_report(&self, report: IncidentReport) {
        self.broker.publish(&Envelope::new(report)).await;
    }

    /// Publishes `event`, then waits (20 s at most) until `chat` has received `n` messages in
    /// all, `what` naming the last of them.
    pub async fn publish_until(&self, event: IncidentEvent, chat: i64, n: usize, what: &str) {
        self.publish_event(event).await;
        self.tg
            .wait_for(what, Duration::from_secs(20), |_| self.tg.sent_to(chat).len() >= n)
            .await;
    }
}

/// A target with an incident open on it.
pub struct Outage {
    pub target: Uuid,
    pub incident: Uuid,
    /// The incident's `opened` event.
    pub event: IncidentEvent,
}

/// Creates a target named `name` of `owner` and opens an incident on it.
pub async fn outage(pool: &PgPool, owner: Uuid, name: &str) -> Outage {
    let target = target(pool, owner, name).await;
    let incident = incident(pool, owner, target).await;
    Outage {
        target,
        incident,
        event: opened(incident, owner, target, name),
    }
}

pub async fn user(pool: &PgPool, language: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("insert into users (id, email, password_hash, language) values ($1, $2, 'x', $3)")
        .bind(id)
        .bind(format!("{}@example.com", id.simple()))
        .bind(language)
        .execute(pool)
        .await
        .unwrap();
    id
}

/// A team organisation whose members are `members` with their roles (one of them `owner`).
pub async fn team(pool: &PgPool, members: &[(Uuid, &str)]) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query("insert into organisations (id, name, personal) values ($1, 'Ops', false)")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    for (user, role) in members {
        sqlx::query("insert into memberships (org_id, user_id, role) values ($1, $2, $3)")
            .bind(id)
            .bind(user)
            .bind(role)
            .execute(pool)
            .await
            .unwrap();
    }
    id
}

pub async fn target(pool: &PgPool, owner: Uuid, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into targets (id, owner_id, name, kind, spec, interval_seconds) values ($1, $2, $3, 'http', '{}', 60)",
    )
    .bind(id)
    .bind(owner)
    .bind(name)
    .execute(pool)
    .await
    .unwrap();
    id
}

pub async fn target_state(pool: &PgPool, target: Uuid, status: &str) {
    sqlx::query("insert into target_state (target_id, status, since) values ($1, $2, now() - interval '5 minutes')")
        .bind(target)
        .bind(status)
        .execute(pool)
        .await
        .unwrap();
}

pub async fn incident(pool: &PgPool, owner: Uuid, target: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into incidents (id, target_id, owner_id, opened_at) values ($1, $2, $3, now() - interval '1 minute')",
    )
    .bind(id)
    .bind(target)
    .bind(owner)
    .execute(pool)
    .await
    .unwrap();
    id
}

pub async fn channel(pool: &PgPool, user: Uuid, kind: &str, address: &str, verified: bool) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into notification_channels (id, user_id, kind, address, verified_at)
         values ($1, $2, $3, $4, case when $5 then now() end)",
    )
    .bind(id)
    .bind(user)
    .bind(kind)
    .bind(address)
    .bind(verified)
    .execute(pool)
    .await
    .unwrap();
    id
}

pub async fn telegram_chat(pool: &PgPool, user: Uuid, chat: i64) -> Uuid {
    channel(pool, user, "telegram", &chat.to_string(), true).await
}

/// A link token as the API issues it; `expires_in` may be negative.
pub async fn link_token(pool: &PgPool, user: Uuid, expires_in: chrono::Duration) -> String {
    let token = hex::encode(rand::random::<[u8; 16]>());
    sqlx::query("insert into telegram_link_tokens (token_hash, user_id, expires_at) values ($1, $2, $3)")
        .bind(Sha256::digest(token.as_bytes()).to_vec())
        .bind(user)
        .bind(Utc::now() + expires_in)
        .execute(pool)
        .await
        .unwrap();
    token
}

pub fn opened(incident: Uuid, owner: Uuid, target: Uuid, name: &str) -> IncidentEvent {
    // The sample failed with "HTTP 503 Service Unavailable", which the alerts are checked for.
    let mut result = common::samples::check_result();
    result.target_id = target;
    IncidentEvent {
        incident_id: incident,
        kind: IncidentEventKind::Opened,
        target: Some(TargetRef {
            id: target,
            owner_id: owner,
            name: name.into(),
            check_kind: CheckKind::Http,
            address: "https://shop.example.com/health".into(),
        }),
        state: TargetStatus::Down,
        regions: vec!["default".into()],
        started_at: Utc::now() - chrono::Duration::minutes(1),
        resolved_at: None,
        pinger_id: None,
        evidence: common::messages::Evidence {
            results: vec![result],
            ..Default::default()
        },
        caused_by: None,
        group: None,
    }
}

pub fn resolved(mut event: IncidentEvent, after: chrono::Duration) -> IncidentEvent {
    event.kind = IncidentEventKind::Resolved;
    event.state = TargetStatus::Up;
    event.resolved_at = Some(event.started_at + after);
    event
}

/// The `opened` events of `outages`.
pub fn openings(outages: &[Outage]) -> Vec<IncidentEvent> {
    outages.iter().map(|o| o.event.clone()).collect()
}

/// The `resolved` events of `outages`, each `after` its start.
pub fn resolutions(outages: &[Outage], after: chrono::Duration) -> Vec<IncidentEvent> {
    outages.iter().map(|o| resolved(o.event.clone(), after)).collect()
}

pub fn report(incident: Uuid, summary: &str) -> IncidentReport {
    IncidentReport {
        incident_id: incident,
        event_kind: IncidentEventKind::Opened,
        language: "en".into(),
        summary: summary.into(),
        probable_cause: "The upstream returns 503.".into(),
        impact: "Customers cannot check out.".into(),
        recommended_actions: vec!["Restart the app server.".into()],
        source: "rules".into(),
        claims: vec![],
        generated_at: Utc::now(),
    }
}

pub async fn log_rows(pool: &PgPool, incident: Uuid) -> Vec<(Uuid, String, String, Option<String>)> {
    sqlx::query_as(
        "select channel_id, kind, status, external_id from notification_log where incident_id = $1 order by kind",
    )
    .bind(incident)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The sum of the series of counter `name` in this process's metrics recorder whose labels
/// include every one of `labels` (the notifier runs in the test's process).
fn counted(name: &str, labels: &[(&str, &str)]) -> u64 {
    common::health::metrics_handle()
        .render()
        .lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with('{')))
        .filter(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits (20 s at most) until the notifier has finished with `n` deliveries of `queue` in all
/// (handled and acked): after that, whatever those messages cause has happened, so "nothing
/// more follows" is asserted on what the notifier did, not after a pause.
pub async fn wait_acked(queue: &str, n: u64) {
    let labels = [("queue", queue), ("result", "ack")];
    eventually(
        &format!("{n} deliveries of {queue} acked"),
        Duration::from_secs(20),
        || async move { (counted("pingtower_amqp_consumed_total", &labels) >= n).then_some(()) },
    )
    .await;
}

/// Waits (20 s at most) until a delivery of `queue` has failed transiently at least once and
/// is being retried (held by the notifier, not yet settled).
pub async fn wait_retried(queue: &str) {
    let labels = [("queue", queue)];
    eventually(&format!("a retry on {queue}"), Duration::from_secs(20), || async move {
        (counted("pingtower_amqp_handler_retries_total", &labels) >= 1).then_some(())
    })
    .await;
}

/// Polls `f` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
