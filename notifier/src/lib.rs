//! notifier: delivers incidents to people. Alerts go out at once from `incidents.notify`;
//! reports from `reports.notify` follow (the Telegram alert is edited, the mail is answered
//! in its thread). Exactly once per (incident, channel, kind), at most one duplicate after a
//! crash. Also the Telegram bot (linking, commands, alert buttons) and email verification.
//!
//! # Layout
//! - [`config`]: command line and environment ([`Config`]).
//! - [`deliver`]: events and reports → notifications, around the notification log.
//! - [`escalation`]: escalation policies' steps and reminders, on a tick.
//! - [`store`]: PostgreSQL (recipients, the log, channels, secrets).
//! - [`text`]: what is said, in English and Russian; escaping; splitting.
//! - [`transport`]: every kind's rendering and sending behind one trait.
//! - [`telegram`]: Bot API sends within Telegram's limits.
//! - [`email`]: SMTP mails (lettre).
//! - [`bot`]: the bot's long-polling loop, commands and buttons.
//! - [`verify`]: verification mails for new email channels.
//! - [`fault`]: fault points for crash tests.
//! - [`telemetry`]: metric names.
//! - [`run_with`]: the service.

pub mod bot;
pub mod config;
pub mod deliver;
pub mod digest;
pub mod email;
pub mod escalation;
pub mod fault;
pub mod held;
pub mod http_kinds;
pub mod pacer;
pub mod store;
pub mod telegram;
pub mod telemetry;
pub mod text;
pub mod transport;
pub mod verify;

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use bus::{Broker, ConsumerOptions, HandlerError, ReadinessExt, consume};
use common::health::Readiness;
use common::messages::{
    CHANNELS_TEST_QUEUE, ChannelTest, ChannelTestResult, Envelope, INCIDENTS_NOTIFY_QUEUE, IncidentEvent,
    IncidentReport, Message, REPORTS_NOTIFY_QUEUE,
};
use common::service::{OnBound, Service};
use secrecy::ExposeSecret;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use config::Config;
pub use deliver::{Deliverer, Delivery};

/// Runs until `shutdown` is cancelled, reporting the bound health address to `on_bound`
/// (tests bind port 0). On shutdown the consumers stop taking deliveries and finish the ones
/// in hand; the bot and the verification loop stop between rounds.
pub async fn run_with(config: Config, shutdown: CancellationToken, on_bound: impl OnBound) -> anyhow::Result<()> {
    let broker = Broker::from_config(&config.service.amqp, "notifier", shutdown.clone());
    let pg = common::db::pg_pool(&config.service.pg).context("PostgreSQL URL")?;
    let readiness = Readiness::new().amqp(broker.clone()).postgres(pg.clone());
    let describe = [telemetry::describe, bus::telemetry::describe];
    let service = Service::start(config.service.http.addr, readiness, &describe, &shutdown).await?;
    on_bound(service.ops_addr());

    let telegram = config.telegram.bot_token.as_ref().map(|token| {
        let bot = teloxide::Bot::new(token.expose_secret()).set_api_url(config.telegram.api_url.clone());
        telegram::Telegram::new(bot, config.telegram.chat_interval, config.telegram.global_rate)
    });
    let mailer = if config.email.enabled() {
        let Some(key) = unsubscribe_key(&pg, &shutdown).await else {
            return service.stop(Ok(())).await;
        };
        Some(email::Mailer::new(&config.email, key)?)
    } else {
        None
    };
    if telegram.is_none() && mailer.is_none() {
        warn!("neither Telegram nor email is configured: only webhooks and the other HTTP kinds will be delivered");
    }
    // One key opens channel secrets and signs acknowledgement links.
    let key = common::sealed::SecretKey::from_config(config.secret_key.as_ref())?;
    let http = http_kinds(&config, service.ops_addr(), key.clone()).await?;
    let deliverer = Deliverer::new(Delivery {
        pool: pg.clone(),
        telegram: telegram.clone(),
        mailer: mailer.clone(),
        http: Some(http),
        public_url: config.public_url.clone(),
        report_wait: config.delivery.report_wait,
        fault: config.fault,
        digest_window: (!config.delivery.digest_window.is_zero()).then_some(config.delivery.digest_window),
        ack_key: key,
    });

    let mut tasks = JoinSet::new();
    if let (Some(tg), true) = (telegram.clone(), config.telegram.polling) {
        let bot = bot::BotService::new(
            pg.clone(),
            tg,
            config.public_url.clone(),
            config.telegram.bot_username.clone(),
        );
        let (timeout, shutdown) = (config.telegram.poll_timeout, shutdown.clone());
        tasks.spawn(async move {
            bot.run(timeout, shutdown).await;
            Ok(())
        });
    }
    if let Some(mailer) = mailer {
        let verifier = verify::Verifier::new(pg.clone(), mailer, config.public_url.clone(), config.email.verify_ttl);
        let (interval, shutdown) = (config.email.verify_interval, shutdown.clone());
        tasks.spawn(async move {
            verifier.run(interval, shutdown).await;
            Ok(())
        });
    }
    if !config.delivery.digest_window.is_zero() {
        let (deliverer, pool, window, shutdown) = (
            deliverer.clone(),
            pg.clone(),
            config.delivery.digest_window,
            shutdown.clone(),
        );
        tasks.spawn(async move {
            digest::run(deliverer, pool, window, shutdown).await;
            Ok(())
        });
    }
    let consumers = Consumers {
        broker: &broker,
        config: &config,
        deliverer: &deliverer,
        shutdown: &shutdown,
    };
    consumers.spawn(
        &mut tasks,
        INCIDENTS_NOTIFY_QUEUE,
        |deliverer, env: Envelope<IncidentEvent>| async move { deliverer.handle_event(env).await },
    );
    consumers.spawn(
        &mut tasks,
        REPORTS_NOTIFY_QUEUE,
        |deliverer, env: Envelope<IncidentReport>| async move { deliverer.handle_report(env).await },
    );
    {
        let (deliverer, pool, shutdown) = (deliverer.clone(), pg.clone(), shutdown.clone());
        tasks.spawn(async move {
            held::run(deliverer, pool, shutdown).await;
            Ok(())
        });
    }
    {
        let (deliverer, pool, tick, shutdown) = (
            deliverer.clone(),
            pg.clone(),
            config.delivery.escalation_tick,
            shutdown.clone(),
        );
        tasks.spawn(async move {
            escalation::run(deliverer, pool, tick, shutdown).await;
            Ok(())
        });
    }
    spawn_channel_tests(&mut tasks, &broker, &config, &deliverer, &pg, &shutdown);
    info!("notifier started");

    let mut result = Ok(());
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined.context("a notifier task panicked").and_then(|r| r) {
            // A topology conflict: nothing works until an operator fixes the broker.
            warn!(error = format!("{e:#}"), "notifier task failed; shutting down");
            shutdown.cancel();
            result = Err(e);
        }
    }
    broker.close().await;
    pg.close().await;
    service.stop(result).await
}

/// What the two consumers (`incidents.notify`, `reports.notify`) share.
struct Consumers<'a> {
    broker: &'a Broker,
    config: &'a Config,
    deliverer: &'a Deliverer,
    shutdown: &'a CancellationToken,
}

impl Consumers<'_> {
    /// Spawns the consumer of `queue` into `tasks`; `handle` delivers each message.
    fn spawn<T, H, Fut>(&self, tasks: &mut JoinSet<anyhow::Result<()>>, queue: &'static str, handle: H)
    where
        T: Message,
        H: Fn(Deliverer, Envelope<T>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let mut options = ConsumerOptions::new(queue).concurrency(self.config.delivery.concurrency);
        options.max_retry_delay = self.config.delivery.max_retry_delay;
        let (broker, deliverer, shutdown) = (self.broker.clone(), self.deliverer.clone(), self.shutdown.clone());
        tasks.spawn(async move {
            consume(&broker, options, shutdown, move |env: Envelope<T>, _| {
                handle(deliverer.clone(), env)
            })
            .await
            .with_context(|| format!("consuming {queue}"))
        });
    }
}

/// The HTTP kinds' sender, behind a guard that knows the suite's own endpoints.
async fn http_kinds(
    config: &Config,
    ops: std::net::SocketAddr,
    key: Option<common::sealed::SecretKey>,
) -> anyhow::Result<http_kinds::HttpKinds> {
    use secrecy::ExposeSecret;
    let mut suite = common::netguard::amqp_endpoints(&config.service.amqp);
    suite.push(config.service.pg.database_url.expose_secret().to_owned());
    suite.push(ops.to_string());
    let guard = common::netguard::Guard::new(&config.guard, &suite).await;
    let sender = channels::send::HttpSender::new(guard, config.delivery.http_timeout)?;
    Ok(http_kinds::HttpKinds::new(
        sender,
        key,
        config.delivery.channel_interval,
    ))
}

/// How old a test request may be and still be sent (the backend has given up by then).
const TEST_REQUEST_TTL: Duration = Duration::from_secs(60);

/// Spawns the consumer of `channels.test`: sends each channel's test message and answers the
/// backend with the outcome.
fn spawn_channel_tests(
    tasks: &mut JoinSet<anyhow::Result<()>>,
    broker: &Broker,
    config: &Config,
    deliverer: &Deliverer,
    pg: &sqlx::PgPool,
    shutdown: &CancellationToken,
) {
    let options = ConsumerOptions::new(CHANNELS_TEST_QUEUE).concurrency(4);
    let publisher = bus::Publisher::new(broker.clone(), config.delivery.http_timeout);
    let (broker, deliverer, pg, shutdown) = (broker.clone(), deliverer.clone(), pg.clone(), shutdown.clone());
    tasks.spawn(async move {
        consume(&broker, options, shutdown, move |env: Envelope<ChannelTest>, info| {
            let (deliverer, pg, publisher) = (deliverer.clone(), pg.clone(), publisher.clone());
            async move {
                let age = (chrono::Utc::now() - env.occurred_at).to_std().unwrap_or_default();
                if age > TEST_REQUEST_TTL {
                    warn!(channel_id = %env.payload.channel_id, age_s = age.as_secs(), "stale test request; dropped");
                    return Ok(());
                }
                let test = &env.payload;
                let recipient = store::channel_recipient(&pg, test.channel_id, Some(test.owner_id), true)
                    .await
                    .map_err(HandlerError::transient)?;
                let outcome = match recipient {
                    Some(r) => deliverer.send_test(&r, text::Language::from_tag(&test.language)).await,
                    None => Err("no such verified channel".to_owned()),
                };
                let result = ChannelTestResult {
                    delivered: outcome.is_ok(),
                    error: outcome.err(),
                };
                match publisher
                    .answer(&info, &Envelope::caused_by(env.correlation_id, result))
                    .await
                {
                    Ok(()) => Ok(()),
                    // The backend gave up and its reply queue is gone.
                    Err(bus::PublishError::Unroutable { .. }) => Ok(()),
                    Err(e) => Err(HandlerError::transient(e)),
                }
            }
        })
        .await
        .context("consuming channels.test")
    });
}

/// The unsubscribe-token key, waiting for PostgreSQL; `None` on shutdown.
async fn unsubscribe_key(pg: &sqlx::PgPool, shutdown: &CancellationToken) -> Option<Vec<u8>> {
    let mut backoff = common::backoff::Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        match store::secret(pg, "unsubscribe").await {
            Ok(key) => return Some(key),
            Err(error) => {
                let delay = backoff.next_delay();
                warn!(%error, retry_in_ms = delay.as_millis() as u64, "PostgreSQL unavailable");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}
