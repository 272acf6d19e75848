//! Delivery latency: 1,000 incidents (each owner with their own Telegram chat) pushed at once
//! into `incidents.notify`; prints p50/p99 of publication → the fake Bot API receiving the
//! alert. Run: `cargo run --release -p notifier --example bench_notifier`.
//!
//! Telegram's global limit (30 messages/s) is off here: with it, 1,000 alerts at once take
//! 33 s by design. Per-chat pacing stays on (1 s). 64 events at once, 20 PostgreSQL connections.

use std::collections::HashMap;
use std::time::Duration;

use bus::Publisher;
use bus::testing::TestBroker;
use common::messages::{CheckKind, Envelope, Evidence, IncidentEvent, IncidentEventKind, TargetRef, TargetStatus};
use common::testing::{FakeTelegram, TestPg};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const N: usize = 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (broker, pg, tg) = tokio::join!(TestBroker::new(), TestPg::new(), FakeTelegram::start());
    let pool = pg.pool.clone();
    let mut events = Vec::with_capacity(N);
    for n in 0..N {
        let (user, target, incident, channel) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let name = format!("bench-{n:04}");
        sqlx::query("insert into users (id, email, password_hash) values ($1, $2, 'x')")
            .bind(user)
            .bind(format!("{name}@example.com"))
            .execute(&pool)
            .await?;
        sqlx::query("insert into targets (id, owner_id, name, kind, spec, interval_seconds) values ($1, $2, $3, 'http', '{}', 60)")
            .bind(target)
            .bind(user)
            .bind(&name)
            .execute(&pool)
            .await?;
        sqlx::query("insert into incidents (id, target_id, owner_id, opened_at) values ($1, $2, $3, now())")
            .bind(incident)
            .bind(target)
            .bind(user)
            .execute(&pool)
            .await?;
        sqlx::query("insert into notification_channels (id, user_id, kind, address, verified_at) values ($1, $2, 'telegram', $3, now())")
            .bind(channel)
            .bind(user)
            .bind((10_000 + n).to_string())
            .execute(&pool)
            .await?;
        events.push(IncidentEvent {
            incident_id: incident,
            kind: IncidentEventKind::Opened,
            target: Some(TargetRef {
                id: target,
                owner_id: user,
                name,
                check_kind: CheckKind::Http,
                address: "https://example.com/".into(),
            }),
            state: TargetStatus::Down,
            regions: vec!["default".into()],
            started_at: chrono::Utc::now(),
            resolved_at: None,
            pinger_id: None,
            evidence: Evidence::default(),
            caused_by: None,
            group: None,
        });
    }

    let mut config = notifier::Config::new(broker.config.clone(), pg.config.clone());
    config.telegram.bot_token = Some("123:BENCH".to_owned().into());
    config.telegram.api_url = tg.url.parse()?;
    config.telegram.polling = false;
    config.telegram.global_rate = 0;
    config.delivery.concurrency = 64;
    config.service.pg.max_connections = 20;
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(notifier::run_with(config, shutdown.clone(), |_| {}));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let publisher = Publisher::new(
        broker.broker("bench", CancellationToken::new()),
        Duration::from_secs(30),
    );
    let mut published = HashMap::new();
    let started = std::time::Instant::now();
    let envelopes: Vec<_> = events.into_iter().map(Envelope::new).collect();
    for e in &envelopes {
        published.insert(e.payload.target.as_ref().unwrap().name.clone(), e.occurred_at);
    }
    futures::stream::iter(envelopes)
        .map(|e| {
            let p = publisher.clone();
            async move { p.publish(&e).await }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<()>, _>>()?;
    tg.wait_for("every alert", Duration::from_secs(300), |c| {
        c.iter().filter(|c| c.method == "sendMessage").count() >= N
    })
    .await;
    let total = started.elapsed();

    let mut latencies: Vec<f64> = tg
        .calls_of("sendMessage")
        .iter()
        .filter_map(|c| {
            let name = c.text().split_whitespace().find(|w| w.starts_with("bench-"))?;
            let at = published.get(name)?;
            Some((c.at_utc - *at).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len() - 1)]
    };
    println!(
        "notifier: {} alerts in {:.2}s ({:.0}/s); delivery latency p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latencies.len(),
        total.as_secs_f64(),
        latencies.len() as f64 / total.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or_default()
    );
    shutdown.cancel();
    let _ = service.await;
    publisher.broker().close().await;
    Ok(())
}
