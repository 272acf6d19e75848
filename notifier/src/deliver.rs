//! Delivery: an incident event becomes one alert per recipient channel, a report becomes an
//! edit of the Telegram alert or a reply in the mail thread — each exactly once per
//! (incident, channel, kind).
//!
//! The notification log is written around every send: a `sending` row is claimed first, the
//! message goes out, then the row says `sent` with the Telegram message id or Message-ID. A
//! crash between the send and the update leaves `sending`, and the redelivered event sends
//! again: at most one duplicate, never a loss. A `sent` row is never sent again.

use std::sync::Arc;
use std::time::Duration;

use bus::HandlerError;
use channels::{Event, Routing, Severity, Verdict};
use chrono::Utc;
use common::messages::{Envelope, IncidentEvent, IncidentEventKind, IncidentReport};
use futures::future::join_all;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};
use tracing::{debug, info, warn};
use url::Url;
use uuid::Uuid;

use crate::digest;
use crate::email::{Mail, Mailer};
use crate::escalation;
use crate::fault::{self, FaultPoint};
use crate::http_kinds::HttpKinds;
use crate::store::{self, ChannelKind, Claim, Recipient};
use crate::telegram::{SendError, Telegram};
use crate::telemetry;
use crate::text::{self, Language, TELEGRAM_MAX_CHARS};
use crate::transport::{Outgoing, Transport, parse_chat};

/// Delivers events and reports. Cheap to clone.
#[derive(Clone)]
pub struct Deliverer {
    inner: Arc<Delivery>,
    /// The (incident, channel, kind) sends in progress in this process.
    in_flight: Arc<std::sync::Mutex<std::collections::HashSet<(Uuid, Uuid, String)>>>,
}

/// One (incident, channel, kind) being sent here; released when dropped.
struct InFlight {
    set: Arc<std::sync::Mutex<std::collections::HashSet<(Uuid, Uuid, String)>>>,
    key: (Uuid, Uuid, String),
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set.lock().expect("in-flight lock").remove(&self.key);
    }
}

/// What a [`Deliverer`] delivers with: the notification log's database, the senders (either
/// may be off) and the settings of delivery.
pub struct Delivery {
    /// The notification log, recipients and channels.
    pub pool: sqlx::PgPool,
    /// Telegram, when configured.
    pub telegram: Option<Telegram>,
    /// Email, when configured.
    pub mailer: Option<Mailer>,
    /// The HTTP kinds (webhook, Slack, PagerDuty…).
    pub http: Option<HttpKinds>,
    /// The dashboard's public URL (links in alerts and mails).
    pub public_url: Url,
    /// How long a report waits for its alert to be sent before it goes out on its own.
    pub report_wait: Duration,
    /// Tests only: the fault point to crash at.
    pub fault: Option<FaultPoint>,
    /// The mass-outage digest's window (`None`: every event at once).
    pub digest_window: Option<Duration>,
    /// Signs acknowledgement links (`PINGTOWER_SECRET_KEY`; without it alerts have none).
    pub ack_key: Option<common::sealed::SecretKey>,
}

/// What became of one recipient of a report.
enum ReportOutcome {
    Done,
    /// The alert is not sent yet: try again shortly.
    WaitForAlert,
}

impl Deliverer {
    /// A deliverer with `delivery`'s senders and settings.
    pub fn new(delivery: Delivery) -> Self {
        Self {
            inner: Arc::new(delivery),
            in_flight: Arc::default(),
        }
    }

    /// Marks (incident, channel, kind) as being sent. A second delivery of the same message
    /// while the first is still sending (the event published twice, a redelivery) is a
    /// transient failure: its retry finds the first one's outcome in the log. A `sending` row
    /// alone cannot tell a send in progress from a crashed one.
    fn in_flight(&self, incident: Uuid, channel: Uuid, kind: &str) -> Result<InFlight, HandlerError> {
        let key = (incident, channel, kind.to_owned());
        let mut set = self.in_flight.lock().expect("in-flight lock");
        if !set.insert(key.clone()) {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "{kind} of incident {incident} to channel {channel} is being sent by another delivery"
            )));
        }
        Ok(InFlight {
            set: self.in_flight.clone(),
            key,
        })
    }

    /// Sends "send a test message" to `r` in `lang` (not logged: no incident); answers why
    /// not when the service refused.
    pub async fn send_test(&self, r: &Recipient, lang: Language) -> Result<(), String> {
        if !self.available(r) {
            return Err(format!("{} is not configured on this installation", r.kind));
        }
        let base = self.inner.public_url.as_str().trim_end_matches('/');
        let notice = channels::Notice {
            facts: Vec::new(),
            link: Some(format!("{base}/channels")),
            ack_link: None,
            incident_id: None,
            key: Uuid::now_v7(),
            name: "PingTower".into(),
            ..channels::Notice::sample(Event::Test, lang)
        };
        let (sent, _) = self
            .transmit(r, &notice, (notice.key, "test"), None, None)
            .await
            .map_err(|e| e.to_string())?;
        sent.map(drop).map_err(|e| match e {
            SendError::Transient(e) | SendError::Permanent(e) | SendError::Unreachable(e) => e,
        })
    }

    /// Sends `notice` to `r` in its kind's form — the one send path of every kind: Telegram
    /// HTML (with `buttons`, answering `parent`), a multipart mail (threaded under `parent`,
    /// its Message-ID from `mail_key`), or the HTTP kind's request. Answers the send's outcome
    /// and what the log keeps of it (the Telegram text, the mail subject, the title).
    async fn transmit(
        &self,
        r: &Recipient,
        notice: &channels::Notice,
        mail_key: (Uuid, &str),
        parent: Option<String>,
        buttons: Option<InlineKeyboardMarkup>,
    ) -> Result<(Result<String, SendError>, String), HandlerError> {
        let unsubscribe = match (r.kind, &self.inner.mailer) {
            (ChannelKind::Email, Some(mailer)) => Some(self.unsubscribe_link(mailer, r).await?),
            _ => None,
        };
        let out = Outgoing {
            notice,
            key: mail_key,
            parent,
            buttons,
            unsubscribe,
        };
        let unavailable = "checked by available()";
        Ok(match r.kind {
            ChannelKind::Telegram => {
                self.inner
                    .telegram
                    .as_ref()
                    .expect(unavailable)
                    .send_notice(r, &out)
                    .await
            }
            ChannelKind::Email => {
                self.inner
                    .mailer
                    .as_ref()
                    .expect(unavailable)
                    .send_notice(r, &out)
                    .await
            }
            _ => self.inner.http.as_ref().expect(unavailable).send_notice(r, &out).await,
        })
    }

    /// The dashboard URL of an incident.
    pub fn incident_link(&self, incident_id: Uuid) -> String {
        incident_link(&self.inner.public_url, incident_id)
    }

    fn available(&self, r: &Recipient) -> bool {
        match r.kind {
            ChannelKind::Telegram => self.inner.telegram.is_some(),
            ChannelKind::Email => self.inner.mailer.is_some(),
            _ => self.inner.http.is_some(),
        }
    }

    /// Handles one event from `incidents.notify`: opened and resolved events of targets wait
    /// for the mass-outage digest (when it is on); the rest are delivered at once. An event held
    /// for its cause (a dependency down) is not sent at all: when the cause recovers and the
    /// incident is still open, the engine publishes its `opened` event again, released.
    pub async fn handle_event(&self, envelope: Envelope<IncidentEvent>) -> Result<(), HandlerError> {
        if envelope.payload.held() {
            debug!(incident_id = %envelope.payload.incident_id, kind = envelope.payload.kind.as_str(),
                "held for its cause; not sent");
            metrics::counter!(telemetry::HELD_FOR_CAUSE, "kind" => envelope.payload.kind.as_str()).increment(1);
            return Ok(());
        }
        // The escalation policies start before anyone is told: their later steps' channels
        // wait for their step.
        escalation::start(&self.inner.pool, &envelope.payload)
            .await
            .map_err(HandlerError::transient)?;
        if self.inner.digest_window.is_some() && digest::digested(&envelope.payload) {
            return digest::hold(&self.inner.pool, &envelope)
                .await
                .map_err(HandlerError::transient);
        }
        let released = released(&envelope.payload);
        let incident = envelope.payload.incident_id;
        self.deliver_now(envelope).await?;
        if released {
            self.follow_released(incident).await?;
        }
        Ok(())
    }

    /// After the alert of a released incident: its report, written while it was held (and not
    /// sent then), follows as usual (a report arriving later is sent once all the same).
    async fn follow_released(&self, incident: Uuid) -> Result<(), HandlerError> {
        let stored = store::stored_report(&self.inner.pool, incident, IncidentEventKind::Opened.as_str())
            .await
            .map_err(HandlerError::transient)?;
        let Some(report) = stored else { return Ok(()) };
        let report: IncidentReport = serde_json::from_value(report).map_err(HandlerError::permanent)?;
        let mut envelope = Envelope::new(report);
        // Written long ago: it waits for no alert (the alert is out).
        envelope.occurred_at = Utc::now() - chrono::Duration::from_std(self.inner.report_wait).unwrap_or_default();
        self.handle_report(envelope).await
    }

    /// The channels that get `event` now: the owner's (or operators'), available here, and
    /// whose routing rules take it. Those whose quiet hours hold it get it at the end of them.
    pub(crate) async fn recipients_of(
        &self,
        envelope: &Envelope<IncidentEvent>,
    ) -> Result<Vec<Recipient>, HandlerError> {
        let event = &envelope.payload;
        let pool = &self.inner.pool;
        let recipients = match &event.target {
            Some(t) => store::recipients_for_target(pool, t.owner_id, t.id).await,
            None => store::recipients_for_operators(pool).await,
        }
        .map_err(HandlerError::transient)?;
        let recipients = match &event.target {
            Some(t) => escalation::with_plan(pool, event.incident_id, recipients, t.owner_id, t.id)
                .await
                .map_err(HandlerError::transient)?,
            None => recipients,
        };
        let (_, tags) = self.target_facts(event.target.as_ref().map(|t| t.id)).await?;
        let (class, severity) = text::event_class(event);
        self.route(
            recipients,
            class,
            severity,
            &tags,
            event.incident_id,
            event.kind.as_str(),
            envelope,
        )
        .await
    }

    /// A signed link that acknowledges `incident`, for a message to `channel`.
    fn ack_link(&self, incident: Uuid, channel: Uuid) -> Option<String> {
        let key = self.inner.ack_key.as_ref()?;
        let token = common::ack::Ack::new(incident, channel, Utc::now()).token(key);
        Some(format!(
            "{}/ack/{token}",
            self.inner.public_url.as_str().trim_end_matches('/')
        ))
    }

    /// Sends a step of an escalation policy to `r`: the alert of the opened incident with the
    /// step named (`note`: step number, minutes, policy), logged as `log_kind`. `false`: the
    /// channel's routing rules do not take it.
    pub(crate) async fn deliver_step(
        &self,
        envelope: &Envelope<IncidentEvent>,
        r: &Recipient,
        log_kind: &str,
        (step, minutes, policy): (usize, i64, &str),
        tags: &[String],
    ) -> Result<bool, HandlerError> {
        if !self.available(r) || !routed(r, Event::Opened, envelope, tags) {
            return Ok(false);
        }
        let fact = (
            r.lang.text("notify-fact-escalation"),
            common::i18n::Msg::new("notify-escalation-step")
                .arg("step", step as i64)
                .arg("policy", text::one_line(policy))
                .arg("duration", common::i18n::duration(minutes * 60).render(r.lang))
                .render(r.lang),
        );
        self.deliver_alert(envelope, r, log_kind, Some(fact)).await?;
        Ok(true)
    }

    /// Sends reminder `log_kind` (`reminder:{n}`) of the open incident to `r`: still down
    /// (or degraded), for how long, with the acknowledgement link. `false`: not sent (its
    /// routing rules, quiet hours, or not available here).
    pub(crate) async fn deliver_reminder(
        &self,
        envelope: &Envelope<IncidentEvent>,
        r: &Recipient,
        log_kind: &str,
        now: chrono::DateTime<Utc>,
        tags: &[String],
    ) -> Result<bool, HandlerError> {
        if !self.available(r) || !routed(r, Event::Reminder, envelope, tags) {
            return Ok(false);
        }
        let event = &envelope.payload;
        let pool = &self.inner.pool;
        let _in_flight = self.in_flight(event.incident_id, r.channel_id, log_kind)?;
        let Claim::Send { log_id, attempts } = store::claim(pool, event.incident_id, r.channel_id, log_kind)
            .await
            .map_err(HandlerError::transient)?
        else {
            return Ok(true);
        };
        let link = self.incident_link(event.incident_id);
        let alert = text::alert(event, r.lang, &link);
        let mut notice = text::reminder_notice(event, &alert, r.lang, log_id, now);
        notice.ack_link = self.ack_link(event.incident_id, r.channel_id);
        let parent = store::alert_logged(pool, event.incident_id, r.channel_id)
            .await
            .map_err(HandlerError::transient)?
            .filter(|l| l.status == "sent")
            .and_then(|l| l.external_id);
        let buttons = (r.kind == ChannelKind::Telegram)
            .then(|| keyboard(event.incident_id, event.target.as_ref().map(|t| t.id), &link, r.lang));
        let (sent, content) = self
            .transmit(r, &notice, (event.incident_id, log_kind), parent, buttons)
            .await?;
        self.settle(log_id, attempts, r, log_kind, sent, Some(&content), now)
            .await?;
        Ok(true)
    }

    /// A target's name and tags (none for operator events or a target gone).
    async fn target_facts(&self, target: Option<Uuid>) -> Result<(Option<String>, Vec<String>), HandlerError> {
        let Some(t) = target else { return Ok((None, Vec::new())) };
        Ok(store::target_facts(&self.inner.pool, t)
            .await
            .map_err(HandlerError::transient)?
            .map_or((None, Vec::new()), |(name, tags)| (Some(name), tags)))
    }

    /// The recipients to send to now; those whose quiet hours hold the message get it saved
    /// (as `kind` of `incident`) for the end of the hours.
    #[allow(clippy::too_many_arguments)]
    async fn route<T: serde::Serialize>(
        &self,
        recipients: Vec<Recipient>,
        class: Event,
        severity: Severity,
        tags: &[String],
        incident: Uuid,
        kind: &str,
        envelope: &Envelope<T>,
    ) -> Result<Vec<Recipient>, HandlerError> {
        let now = Utc::now();
        let mut now_recipients = Vec::new();
        for r in recipients.into_iter().filter(|r| self.available(r)) {
            match Routing::from_stored(&r.routing).verdict(class, severity, tags, now) {
                Verdict::Send => now_recipients.push(r),
                Verdict::Skip => {}
                Verdict::Hold { until } => {
                    debug!(channel_id = %r.channel_id, %until, kind, "quiet hours: held");
                    let message = serde_json::to_value(&envelope.payload).expect("a message serialises");
                    store::hold(
                        &self.inner.pool,
                        incident,
                        r.channel_id,
                        kind,
                        until,
                        &message,
                        envelope.occurred_at,
                    )
                    .await
                    .map_err(HandlerError::transient)?;
                }
            }
        }
        Ok(now_recipients)
    }

    /// Sends the alert of one event to every recipient; a transient failure of any of them
    /// fails the whole (the ones sent are skipped on the retry).
    pub(crate) async fn deliver_now(&self, envelope: Envelope<IncidentEvent>) -> Result<(), HandlerError> {
        let event = &envelope.payload;
        let recipients = self.recipients_of(&envelope).await?;
        debug!(incident_id = %event.incident_id, kind = event.kind.as_str(), recipients = recipients.len(), "delivering");
        // Without the digest, a member of a group incident the channel heard of is still an
        // update of the group (see `deliver_digest`), one per event.
        let grouped = digest::digested(event);
        let results = join_all(recipients.iter().map(|r| async {
            if grouped {
                self.deliver_digest(r, &[&envelope]).await
            } else {
                self.deliver_event(&envelope, r).await
            }
        }))
        .await;
        results.into_iter().collect::<Result<Vec<()>, _>>().map(|_| ())
    }

    /// Sends one digest of `envelopes` (all of one kind, several incidents) to `r`, then logs
    /// each incident as sent to it.
    pub(crate) async fn deliver_digest(
        &self,
        r: &Recipient,
        envelopes: &[&Envelope<IncidentEvent>],
    ) -> Result<(), HandlerError> {
        let pool = &self.inner.pool;
        let event_kind = envelopes[0].payload.kind;
        let kind = event_kind.as_str();
        // Incidents this channel has had already (a flush repeated after a crash) are left out.
        let mut fresh = Vec::new();
        for e in envelopes {
            let logged = store::logged(pool, e.payload.incident_id, r.channel_id, kind)
                .await
                .map_err(HandlerError::transient)?;
            if logged.is_none_or(|l| l.status == "sending") {
                fresh.push(*e);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<Uuid> = fresh.iter().map(|e| e.payload.incident_id).collect();
        ids.sort();
        // Members of one group incident: the message names the cause. Once a channel heard of
        // the group, members joining or recovering are updates of it, never alerts of their own,
        // and the last recoveries say the outage is over.
        let group = store::shared_group(pool, &ids).await.map_err(HandlerError::transient)?;
        let note = match &group {
            Some(g) => {
                let except: &[Uuid] = if event_kind == IncidentEventKind::Opened {
                    &ids
                } else {
                    &[]
                };
                let heard = store::group_heard(pool, g.id, r.channel_id, except)
                    .await
                    .map_err(HandlerError::transient)?;
                let cause = g.cause.as_str();
                match (event_kind, heard) {
                    (IncidentEventKind::Opened, false) => Some(text::GroupNote::Outage { cause }),
                    (IncidentEventKind::Opened, true) => Some(text::GroupNote::Joined { cause }),
                    (IncidentEventKind::Resolved, true) if g.resolved => Some(text::GroupNote::Over { cause }),
                    (IncidentEventKind::Resolved, true) => Some(text::GroupNote::Recovered {
                        cause,
                        still_down: g.open,
                    }),
                    _ => None,
                }
            }
            None => None,
        };
        let update = !matches!(note, None | Some(text::GroupNote::Outage { .. }));
        if let [one] = fresh.as_slice()
            && !update
        {
            return self.deliver_event(one, r).await;
        }
        let log_kind = format!("digest:{kind}");
        let key = digest::digest_key(r.channel_id, kind, &ids);
        let _in_flight = self.in_flight(key, r.channel_id, &log_kind)?;
        let Claim::Send { log_id, attempts } = store::claim(pool, key, r.channel_id, &log_kind)
            .await
            .map_err(HandlerError::transient)?
        else {
            return Ok(());
        };
        let events: Vec<&IncidentEvent> = fresh.iter().map(|e| &e.payload).collect();
        let notice = text::digest_notice(
            event_kind,
            &events,
            note,
            r.lang,
            &self.inner.public_url,
            log_id,
            Utc::now(),
        );
        let (sent, content) = self.transmit(r, &notice, (key, &log_kind), None, None).await?;
        let external = sent.as_ref().ok().cloned();
        self.settle(
            log_id,
            attempts,
            r,
            &log_kind,
            sent,
            Some(&content),
            digest::earliest(&fresh),
        )
        .await?;
        if let Some(external) = external {
            store::log_digested(pool, &ids, r.channel_id, kind, &external)
                .await
                .map_err(HandlerError::transient)?;
        }
        Ok(())
    }

    /// Sends one event to one recipient.
    pub(crate) async fn deliver_event(
        &self,
        envelope: &Envelope<IncidentEvent>,
        r: &Recipient,
    ) -> Result<(), HandlerError> {
        self.deliver_alert(envelope, r, envelope.payload.kind.as_str(), None)
            .await
    }

    /// Sends the alert of one event to one recipient, logged as `kind` (the event's kind, or
    /// an escalation step's), with one more fact if given.
    async fn deliver_alert(
        &self,
        envelope: &Envelope<IncidentEvent>,
        r: &Recipient,
        kind: &str,
        extra: Option<(String, String)>,
    ) -> Result<(), HandlerError> {
        let event = &envelope.payload;
        let pool = &self.inner.pool;
        let _in_flight = self.in_flight(event.incident_id, r.channel_id, kind)?;
        let Claim::Send { log_id, attempts } = store::claim(pool, event.incident_id, r.channel_id, kind)
            .await
            .map_err(HandlerError::transient)?
        else {
            return Ok(());
        };
        let link = self.incident_link(event.incident_id);
        let mut alert = text::alert(event, r.lang, &link);
        alert.facts.extend(extra);
        if event.kind == IncidentEventKind::Opened {
            alert.ack_link = self.ack_link(event.incident_id, r.channel_id);
        }
        // Follow-ups of an alert (resolved, …) answer it.
        let parent = if event.kind == IncidentEventKind::Opened {
            None
        } else {
            store::alert_logged(pool, event.incident_id, r.channel_id)
                .await
                .map_err(HandlerError::transient)?
                .filter(|l| l.status == "sent")
                .and_then(|l| l.external_id)
        };
        let notice = text::event_notice(event, &alert, r.lang, log_id, envelope.occurred_at);
        let buttons = (r.kind == ChannelKind::Telegram && event.kind == IncidentEventKind::Opened)
            .then(|| keyboard(event.incident_id, event.target.as_ref().map(|t| t.id), &link, r.lang));
        let (sent, content) = self
            .transmit(r, &notice, (event.incident_id, kind), parent, buttons)
            .await?;
        self.settle(log_id, attempts, r, kind, sent, Some(&content), envelope.occurred_at)
            .await
    }

    /// Records the outcome of one send in the log, metrics and (if unreachable) the channel.
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        log_id: Uuid,
        attempts: i32,
        r: &Recipient,
        kind: &str,
        sent: Result<String, SendError>,
        content: Option<&str>,
        occurred_at: chrono::DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        let pool = &self.inner.pool;
        let channel = r.kind.as_str();
        match sent {
            Ok(external_id) => {
                if attempts == 1 {
                    // Tests: the message is out, the log still says `sending`.
                    fault::hit(self.inner.fault, FaultPoint::CrashAfterSend);
                }
                store::mark_sent(pool, log_id, r.channel_id, &external_id, content)
                    .await
                    .map_err(HandlerError::transient)?;
                metrics::counter!(telemetry::SENT, "channel" => channel, "kind" => kind.to_owned()).increment(1);
                let latency = (Utc::now() - occurred_at).to_std().unwrap_or_default();
                metrics::histogram!(telemetry::DELIVERY_LATENCY, "channel" => channel).record(latency.as_secs_f64());
                Ok(())
            }
            Err(SendError::Unreachable(error)) => {
                info!(channel_id = %r.channel_id, %error, "recipient unreachable; disabling the channel");
                let reason = match r.kind {
                    ChannelKind::Telegram => format!("Telegram refused delivery ({error}); link the chat again"),
                    ChannelKind::Email => format!("email refused ({error})"),
                    other => format!("{other} refused delivery ({error}); check the channel's settings"),
                };
                store::disable_channel(pool, r.channel_id, &reason)
                    .await
                    .map_err(HandlerError::transient)?;
                store::mark_failed(pool, log_id, &error)
                    .await
                    .map_err(HandlerError::transient)?;
                metrics::counter!(telemetry::DISABLED, "channel" => channel).increment(1);
                metrics::counter!(telemetry::FAILED, "channel" => channel, "reason" => "unreachable").increment(1);
                Ok(())
            }
            Err(SendError::Permanent(error)) => {
                warn!(channel_id = %r.channel_id, %error, "notification cannot be sent; giving up");
                store::mark_failed(pool, log_id, &error)
                    .await
                    .map_err(HandlerError::transient)?;
                let in_a_row = store::note_permanent_failure(pool, r.channel_id, &error)
                    .await
                    .map_err(HandlerError::transient)?;
                if in_a_row >= channels::routing::DISABLE_AFTER {
                    let reason = format!("{} refused {in_a_row} messages in a row (last: {error})", r.kind);
                    info!(channel_id = %r.channel_id, in_a_row, "channel keeps failing; disabling it");
                    store::disable_channel(pool, r.channel_id, &reason)
                        .await
                        .map_err(HandlerError::transient)?;
                    metrics::counter!(telemetry::DISABLED, "channel" => channel).increment(1);
                }
                metrics::counter!(telemetry::FAILED, "channel" => channel, "reason" => "permanent").increment(1);
                Ok(())
            }
            Err(SendError::Transient(error)) => {
                let _ = store::note_error(pool, log_id, &error).await;
                let _ = store::note_channel_error(pool, r.channel_id, &error).await;
                metrics::counter!(telemetry::RETRIED, "channel" => channel, "reason" => "transient").increment(1);
                Err(HandlerError::Transient(anyhow::anyhow!(
                    "sending to channel {}: {error}",
                    r.channel_id
                )))
            }
        }
    }

    async fn unsubscribe_link(&self, mailer: &Mailer, r: &Recipient) -> Result<String, HandlerError> {
        let (token, hash) = mailer.unsubscribe_token(r.channel_id);
        store::set_unsubscribe_hash(&self.inner.pool, r.channel_id, &hash)
            .await
            .map_err(HandlerError::transient)?;
        Ok(format!(
            "{}/api/channels/unsubscribe?token={token}",
            self.inner.public_url.as_str().trim_end_matches('/')
        ))
    }

    /// Delivers a report: edits the Telegram alert (or answers it when the text would be too
    /// long), replies in the mail thread. A report that overtakes its alert waits (transient
    /// retries) up to the report wait, then goes out on its own.
    pub async fn handle_report(&self, envelope: Envelope<IncidentReport>) -> Result<(), HandlerError> {
        let report = &envelope.payload;
        let pool = &self.inner.pool;
        let event_kind = report.event_kind.as_str();
        if store::incident_held(pool, report.incident_id)
            .await
            .map_err(HandlerError::transient)?
        {
            debug!(incident_id = %report.incident_id, "report of an incident held for its cause; not sent");
            metrics::counter!(telemetry::HELD_FOR_CAUSE, "kind" => format!("report:{event_kind}")).increment(1);
            return Ok(());
        }
        let owner = store::incident_owner(pool, report.incident_id)
            .await
            .map_err(HandlerError::transient)?;
        let recipients = match owner {
            Some((owner_id, target_id)) => store::recipients_for_target(pool, owner_id, target_id).await,
            None => store::recipients_logged(pool, report.incident_id, event_kind).await,
        }
        .map_err(HandlerError::transient)?;
        let recipients = match owner {
            Some((owner_id, target_id)) => {
                escalation::with_plan(pool, report.incident_id, recipients, owner_id, target_id)
                    .await
                    .map_err(HandlerError::transient)?
            }
            None => recipients,
        };
        let age = (Utc::now() - envelope.occurred_at).to_std().unwrap_or_default();
        let may_wait = age < self.inner.report_wait;
        let target_id = owner.map(|(_, t)| t);
        let (name, tags) = self.target_facts(target_id).await?;
        let kind = format!("report:{event_kind}");
        let recipients = self
            .route(
                recipients,
                Event::Report,
                Severity::Info,
                &tags,
                report.incident_id,
                &kind,
                &envelope,
            )
            .await?;
        let outcomes = join_all(
            recipients
                .iter()
                .map(|r| self.deliver_report(&envelope, r, may_wait, target_id, name.as_deref())),
        )
        .await;
        let mut wait = false;
        for o in outcomes {
            if matches!(o?, ReportOutcome::WaitForAlert) {
                wait = true;
            }
        }
        if wait {
            return Err(HandlerError::Transient(anyhow::anyhow!(
                "the alert of incident {} is not sent yet; the report waits",
                report.incident_id
            )));
        }
        Ok(())
    }

    /// Delivers what quiet hours held for `r`, now that they are over: an event as usual, a
    /// report without waiting for its alert.
    pub(crate) async fn deliver_held(
        &self,
        r: &Recipient,
        kind: &str,
        message: serde_json::Value,
        occurred_at: chrono::DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        if kind.starts_with("report:") {
            let report: IncidentReport = serde_json::from_value(message).map_err(HandlerError::permanent)?;
            let target = store::incident_owner(&self.inner.pool, report.incident_id)
                .await
                .map_err(HandlerError::transient)?
                .map(|(_, t)| t);
            let (name, _) = self.target_facts(target).await?;
            let mut envelope = Envelope::new(report);
            envelope.occurred_at = occurred_at;
            self.deliver_report(&envelope, r, false, target, name.as_deref())
                .await
                .map(drop)
        } else {
            let event: IncidentEvent = serde_json::from_value(message).map_err(HandlerError::permanent)?;
            let mut envelope = Envelope::new(event);
            envelope.occurred_at = occurred_at;
            self.deliver_event(&envelope, r).await
        }
    }

    async fn deliver_report(
        &self,
        envelope: &Envelope<IncidentReport>,
        r: &Recipient,
        may_wait: bool,
        target_id: Option<Uuid>,
        target_name: Option<&str>,
    ) -> Result<ReportOutcome, HandlerError> {
        let report = &envelope.payload;
        let pool = &self.inner.pool;
        let event_kind = report.event_kind.as_str();
        let alert = if report.event_kind == IncidentEventKind::Opened {
            // The alert may have been an escalation step.
            store::alert_logged(pool, report.incident_id, r.channel_id).await
        } else {
            store::logged(pool, report.incident_id, r.channel_id, event_kind).await
        }
        .map_err(HandlerError::transient)?;
        let alert = match alert {
            // Alerted by a mass-outage digest (logged without content of its own): one report
            // per incident would undo the digest; the reports stay in the dashboard.
            Some(a) if a.status == "sent" && a.content.is_none() => return Ok(ReportOutcome::Done),
            Some(a) if a.status == "sent" => Some(a),
            Some(a) if a.status == "failed" => return Ok(ReportOutcome::Done),
            _ if may_wait => return Ok(ReportOutcome::WaitForAlert),
            _ => None,
        };
        // PagerDuty's Events API has no note: a report goes as a `trigger` with the incident's
        // dedup_key, which would re-open an incident PagerDuty has resolved.
        if r.kind == ChannelKind::Pagerduty
            && store::incident_resolved(pool, report.incident_id)
                .await
                .map_err(HandlerError::transient)?
        {
            return Ok(ReportOutcome::Done);
        }
        let kind = format!("report:{event_kind}");
        let _in_flight = self.in_flight(report.incident_id, r.channel_id, &kind)?;
        let Claim::Send { log_id, attempts } = store::claim(pool, report.incident_id, r.channel_id, &kind)
            .await
            .map_err(HandlerError::transient)?
        else {
            return Ok(ReportOutcome::Done);
        };
        let link = self.incident_link(report.incident_id);
        let (sent, content) = match r.kind {
            ChannelKind::Telegram => {
                let tg = self.inner.telegram.as_ref().expect("checked by available()");
                let body = text::report_telegram(report, r.lang);
                let sent = match parse_chat(&r.address) {
                    Ok(chat) => {
                        self.telegram_follow_up(tg, chat, alert, &body, report, target_id, &link, r.lang)
                            .await
                    }
                    Err(e) => Err(e),
                };
                (sent, body)
            }
            ChannelKind::Email => {
                let mailer = self.inner.mailer.as_ref().expect("checked by available()");
                let unsubscribe = self.unsubscribe_link(mailer, r).await?;
                let subject = match alert.as_ref().and_then(|a| a.content.clone()) {
                    Some(s) => format!("Re: {s}"),
                    None => r.lang.text("notify-report-subject"),
                };
                let mail = Mail {
                    to: r.address.clone(),
                    subject: subject.clone(),
                    text: text::report_text(report, r.lang, &link, &unsubscribe),
                    html: text::report_html(report, r.lang, &link, &unsubscribe),
                    message_id: mailer.message_id(report.incident_id, &kind, r.channel_id),
                    in_reply_to: alert.and_then(|a| a.external_id),
                };
                (mailer.send(&mail).await, subject)
            }
            _ => {
                let notice = text::report_notice(
                    report,
                    target_name.unwrap_or("PingTower"),
                    r.lang,
                    &link,
                    log_id,
                    envelope.occurred_at,
                );
                self.transmit(r, &notice, (report.incident_id, &kind), None, None)
                    .await?
            }
        };
        self.settle(log_id, attempts, r, &kind, sent, Some(&content), envelope.occurred_at)
            .await?;
        Ok(ReportOutcome::Done)
    }

    /// The report under the alert: an edit when the whole fits one message, else an answer.
    #[allow(clippy::too_many_arguments)]
    async fn telegram_follow_up(
        &self,
        tg: &Telegram,
        chat: i64,
        alert: Option<store::Logged>,
        body: &str,
        report: &IncidentReport,
        target_id: Option<Uuid>,
        link: &str,
        lang: Language,
    ) -> Result<String, SendError> {
        let parent = alert
            .as_ref()
            .and_then(|a| a.external_id.as_deref()?.parse::<i32>().ok());
        if let (Some(message_id), Some(original)) = (parent, alert.as_ref().and_then(|a| a.content.as_deref())) {
            let combined = format!("{original}\n\n{body}");
            if combined.chars().count() <= TELEGRAM_MAX_CHARS {
                let markup = (report.event_kind == IncidentEventKind::Opened)
                    .then(|| keyboard(report.incident_id, target_id, link, lang));
                match tg.edit(chat, message_id, &combined, markup).await {
                    Ok(()) => return Ok(message_id.to_string()),
                    // Too old to edit, deleted…: answer it instead.
                    Err(SendError::Permanent(e)) => debug!(error = %e, "could not edit the alert; answering it"),
                    Err(e) => return Err(e),
                }
            }
        }
        tg.send(chat, body, None, parent).await.map(|id| id.to_string())
    }
}

/// Whether `event` is the `opened` event of an incident released by its cause's recovery.
fn released(event: &IncidentEvent) -> bool {
    event.kind == IncidentEventKind::Opened && event.caused_by.as_ref().is_some_and(|c| c.released_at.is_some())
}

/// Whether `r`'s routing rules take `class` of this incident (its target's `tags`) now; quiet
/// hours, which would hold it, skip an escalation step or a reminder: the next one comes.
fn routed(r: &Recipient, class: Event, envelope: &Envelope<IncidentEvent>, tags: &[String]) -> bool {
    let (_, severity) = text::event_class(&envelope.payload);
    matches!(
        Routing::from_stored(&r.routing).verdict(class, severity, tags, Utc::now()),
        Verdict::Send
    )
}

/// The dashboard URL of an incident.
pub fn incident_link(public_url: &Url, incident_id: Uuid) -> String {
    format!("{}/incidents/{incident_id}", public_url.as_str().trim_end_matches('/'))
}

/// The buttons under an alert: Acknowledge, Mute 1 h, Open in dashboard.
pub fn keyboard(incident_id: Uuid, target_id: Option<Uuid>, link: &str, lang: Language) -> InlineKeyboardMarkup {
    let mut first = vec![InlineKeyboardButton::callback(
        lang.text("notify-button-acknowledge"),
        format!("ack:{incident_id}"),
    )];
    if let Some(t) = target_id {
        first.push(InlineKeyboardButton::callback(
            lang.text("notify-button-mute"),
            format!("mute:{t}"),
        ));
    }
    let mut rows = vec![first];
    if let Ok(url) = Url::parse(link) {
        rows.push(vec![InlineKeyboardButton::url(lang.text("notify-open-dashboard"), url)]);
    }
    InlineKeyboardMarkup::new(rows)
}
