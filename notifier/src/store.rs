//! PostgreSQL operations: who gets an event, the notification log, channels, mutes, secrets.

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::text::Language;

pub use channels::Kind as ChannelKind;

/// A channel an event goes to.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// The channel.
    pub channel_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// Its kind.
    pub kind: ChannelKind,
    /// Chat id, email address, or (other kinds) the summary the dashboard shows.
    pub address: String,
    /// The chat's language, else the user's.
    pub lang: Language,
    /// The kind's settings (HTTP kinds).
    pub settings: serde_json::Value,
    /// Its secrets, sealed (HTTP kinds).
    pub sealed: Option<Vec<u8>>,
    /// Its routing rules, as stored.
    pub routing: serde_json::Value,
    /// Whether its owner may reach private addresses.
    pub may_private: bool,
}

/// A channel row as the recipient queries read it.
struct RecipientRow {
    id: Uuid,
    user_id: Uuid,
    kind: String,
    address: String,
    language: String,
    settings: serde_json::Value,
    secrets: Option<Vec<u8>>,
    routing: serde_json::Value,
    may_private: bool,
}

impl RecipientRow {
    /// The recipient, unless the kind is one this notifier does not know.
    fn recipient(self) -> Option<Recipient> {
        ChannelKind::parse(&self.kind).map(|kind| Recipient {
            channel_id: self.id,
            user_id: self.user_id,
            kind,
            address: self.address,
            lang: Language::from_tag(&self.language),
            settings: self.settings,
            sealed: self.secrets,
            routing: self.routing,
            may_private: self.may_private,
        })
    }
}

/// The owner's verified, enabled, unmuted channels for `target` (only the target's routed
/// channels when it has any).
pub async fn recipients_for_target(
    db: impl PgExecutor<'_>,
    owner_id: Uuid,
    target_id: Uuid,
) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows = sqlx::query_as!(
        RecipientRow,
        r#"select c.id, c.user_id, c.kind, c.address, coalesce(c.language, u.language) as "language!",
                c.settings, c.secrets, c.routing, pingtower_may_private(c.owner_id) as "may_private!"
         from notification_channels c join users u on u.id = c.user_id
         where c.owner_id = $1 and c.verified_at is not null and c.disabled_at is null
           and (c.muted_until is null or c.muted_until <= now())
           and (not exists (select 1 from target_channels tc where tc.target_id = $2)
                or exists (select 1 from target_channels tc where tc.target_id = $2 and tc.channel_id = c.id))
           and not exists (select 1 from notification_mutes m
                           where m.channel_id = c.id and m.target_id = $2 and m.muted_until > now())
         order by c.created_at, c.id"#,
        owner_id,
        target_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(RecipientRow::recipient).collect())
}

// The recipient queries stay written out: a query macro takes literal SQL only.
/// Operators' (admins') verified, enabled, unmuted channels.
pub async fn recipients_for_operators(db: impl PgExecutor<'_>) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows = sqlx::query_as!(
        RecipientRow,
        r#"select c.id, c.user_id, c.kind, c.address, coalesce(c.language, u.language) as "language!",
                c.settings, c.secrets, c.routing, pingtower_may_private(c.owner_id) as "may_private!"
         from notification_channels c join users u on u.id = c.user_id
         where u.is_admin and c.verified_at is not null and c.disabled_at is null
           and (c.muted_until is null or c.muted_until <= now())
         order by c.created_at, c.id"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(RecipientRow::recipient).collect())
}

/// Channels that were sent (or tried) `kind` of `incident`, still enabled.
pub async fn recipients_logged(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    kind: &str,
) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows = sqlx::query_as!(
        RecipientRow,
        r#"select c.id, c.user_id, c.kind, c.address, coalesce(c.language, u.language) as "language!",
                c.settings, c.secrets, c.routing, pingtower_may_private(c.owner_id) as "may_private!"
         from notification_log l
         join notification_channels c on c.id = l.channel_id
         join users u on u.id = c.user_id
         where l.incident_id = $1 and l.kind = $2 and c.disabled_at is null
         order by c.created_at, c.id"#,
        incident_id,
        kind
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(RecipientRow::recipient).collect())
}

/// The owner and target of an incident, if it has a row.
pub async fn incident_owner(db: impl PgExecutor<'_>, incident_id: Uuid) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    let row = sqlx::query!("select owner_id, target_id from incidents where id = $1", incident_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.owner_id, r.target_id)))
}

/// Whether `incident` is held for its cause (a dependency down) or resolved while held: nothing
/// about it is sent (its reports stay in the dashboard until it is released).
pub async fn incident_held(db: impl PgExecutor<'_>, incident_id: Uuid) -> Result<bool, sqlx::Error> {
    let state = sqlx::query_scalar!("select notify_state from incidents where id = $1", incident_id)
        .fetch_optional(db)
        .await?;
    Ok(matches!(state.as_deref(), Some("held" | "silent")))
}

/// The stored report of `incident` for the event `kind` (the llm-service's), if written.
pub async fn stored_report(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    kind: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar!(
        "select report from incident_reports where incident_id = $1 and event_kind = $2",
        incident_id,
        kind
    )
    .fetch_optional(db)
    .await
}

/// What the notification log says about one (incident, channel, kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Ours to send; `attempts` counts this one.
    Send {
        /// The log row.
        log_id: Uuid,
        /// Attempts so far, this one included.
        attempts: i32,
    },
    /// Sent already.
    Sent,
    /// Given up on (blocked bot, bad address).
    Failed,
}

/// Claims (incident, channel, kind) for sending: a new row says `sending`; a row still
/// `sending` (a crash or an error before its send was logged) is claimed again. Nothing is
/// claimed for a channel disabled meanwhile (answered as [`Claim::Sent`]: nothing to do).
pub async fn claim(pool: &PgPool, incident_id: Uuid, channel_id: Uuid, kind: &str) -> Result<Claim, sqlx::Error> {
    let row = sqlx::query!(
        "insert into notification_log (id, incident_id, channel_id, kind, status, attempts)
         select $1, $2, $3, $4, 'sending', 1
         where exists (select 1 from notification_channels where id = $3 and disabled_at is null)
         on conflict (incident_id, channel_id, kind) do update
            set attempts = notification_log.attempts + 1
            where notification_log.status = 'sending'
         returning id, attempts",
        Uuid::now_v7(),
        incident_id,
        channel_id,
        kind
    )
    .fetch_optional(pool)
    .await?;
    if let Some(row) = row {
        return Ok(Claim::Send {
            log_id: row.id,
            attempts: row.attempts,
        });
    }
    let status: Option<String> = sqlx::query_scalar!(
        "select status from notification_log where incident_id = $1 and channel_id = $2 and kind = $3",
        incident_id,
        channel_id,
        kind
    )
    .fetch_optional(pool)
    .await?;
    Ok(match status.as_deref() {
        Some("failed") => Claim::Failed,
        _ => Claim::Sent,
    })
}

/// Records a successful send on `channel_id`; its permanent failures in a row start again
/// from zero.
pub async fn mark_sent(
    pool: &PgPool,
    log_id: Uuid,
    channel_id: Uuid,
    external_id: &str,
    content: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "with sent as (
            update notification_log
            set status = 'sent', external_id = $2, content = $3, sent_at = now(), last_error = null
            where id = $1)
         update notification_channels set permanent_failures = 0 where id = $4 and permanent_failures <> 0",
        log_id,
        external_id,
        content,
        channel_id
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a send given up on.
pub async fn mark_failed(pool: &PgPool, log_id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update notification_log set status = 'failed', last_error = $2 where id = $1",
        log_id,
        truncate(error)
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Records an error of an attempt that will be retried (the row stays `sending`).
pub async fn note_error(pool: &PgPool, log_id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update notification_log set last_error = $2 where id = $1",
        log_id,
        truncate(error)
    )
    .execute(pool)
    .await?;
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(1000).collect()
}

/// A logged notification.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `sending`, `sent` or `failed`.
    pub status: String,
    /// Telegram message id or Message-ID.
    pub external_id: Option<String>,
    /// What it said (Telegram text, mail subject).
    pub content: Option<String>,
}

/// The log row of (incident, channel, kind), if any.
pub async fn logged(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    channel_id: Uuid,
    kind: &str,
) -> Result<Option<Logged>, sqlx::Error> {
    sqlx::query_as!(
        Logged,
        "select status, external_id, content from notification_log
         where incident_id = $1 and channel_id = $2 and kind = $3",
        incident_id,
        channel_id,
        kind
    )
    .fetch_optional(db)
    .await
}

/// Whether `incident` is resolved (an incident without a row counts as resolved).
pub async fn incident_resolved(db: impl PgExecutor<'_>, incident_id: Uuid) -> Result<bool, sqlx::Error> {
    let open = sqlx::query_scalar!(
        "select resolved_at is null as \"open!\" from incidents where id = $1",
        incident_id
    )
    .fetch_optional(db)
    .await?;
    Ok(!open.unwrap_or(false))
}

/// The log row of the alert `channel` got about `incident`: the opened alert's, else the first
/// escalation step's that reached it.
pub async fn alert_logged(
    db: impl PgExecutor<'_>,
    incident_id: Uuid,
    channel_id: Uuid,
) -> Result<Option<Logged>, sqlx::Error> {
    sqlx::query_as!(
        Logged,
        "select status, external_id, content from notification_log
         where incident_id = $1 and channel_id = $2 and (kind = 'opened' or kind like 'escalation:%')
         order by kind = 'opened' desc, created_at limit 1",
        incident_id,
        channel_id
    )
    .fetch_optional(db)
    .await
}

/// A target's name and tags (reports name the target; routing rules read its tags).
pub async fn target_facts(
    db: impl PgExecutor<'_>,
    target_id: Uuid,
) -> Result<Option<(String, Vec<String>)>, sqlx::Error> {
    let row = sqlx::query!("select name, tags from targets where id = $1", target_id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| (r.name, r.tags)))
}

/// Records a permanent failure of a channel: its error, and one more in a row; answers how
/// many in a row there are now.
pub async fn note_permanent_failure(
    db: impl PgExecutor<'_>,
    channel_id: Uuid,
    error: &str,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        "update notification_channels
         set permanent_failures = permanent_failures + 1, last_error = $2, last_error_at = now()
         where id = $1 returning permanent_failures",
        channel_id,
        truncate(error)
    )
    .fetch_one(db)
    .await
}

/// Records a channel's last error (one that will be retried).
pub async fn note_channel_error(db: impl PgExecutor<'_>, channel_id: Uuid, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update notification_channels set last_error = $2, last_error_at = now() where id = $1",
        channel_id,
        truncate(error)
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Logs each of `incidents` as sent to `channel` as `kind` by a digest whose message is
/// `external_id` (follow-ups answer it).
pub async fn log_digested(
    db: impl PgExecutor<'_>,
    incidents: &[Uuid],
    channel_id: Uuid,
    kind: &str,
    external_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into notification_log (id, incident_id, channel_id, kind, status, attempts, external_id, sent_at)
         select gen_random_uuid(), i, $2, $3, 'sent', 1, $4, now() from unnest($1::uuid[]) as i
         on conflict (incident_id, channel_id, kind) do update
            set status = 'sent', external_id = excluded.external_id, sent_at = excluded.sent_at
            where notification_log.status = 'sending'",
        incidents,
        channel_id,
        kind,
        external_id
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Holds `kind` of `incident` for `channel` until `until` (its quiet hours' end).
pub async fn hold(
    db: impl PgExecutor<'_>,
    incident: Uuid,
    channel: Uuid,
    kind: &str,
    until: chrono::DateTime<chrono::Utc>,
    message: &serde_json::Value,
    occurred_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into notification_held (incident_id, channel_id, kind, due_at, message, occurred_at)
         values ($1, $2, $3, $4, $5, $6) on conflict (incident_id, channel_id, kind) do nothing",
        incident,
        channel,
        kind,
        until,
        message,
        occurred_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Channel `channel_id` as a recipient, if it is verified; of `owner` only when one is
/// given; enabled only unless `even_disabled` (a test message helps to find out why a channel
/// was disabled; held messages go only to enabled ones).
pub async fn channel_recipient(
    db: impl PgExecutor<'_>,
    channel_id: Uuid,
    owner: Option<Uuid>,
    even_disabled: bool,
) -> Result<Option<Recipient>, sqlx::Error> {
    let row = sqlx::query_as!(
        RecipientRow,
        r#"select c.id, c.user_id, c.kind, c.address, coalesce(c.language, u.language) as "language!",
                c.settings, c.secrets, c.routing, pingtower_may_private(c.owner_id) as "may_private!"
         from notification_channels c join users u on u.id = c.user_id
         where c.id = $1 and ($2::uuid is null or c.owner_id = $2) and c.verified_at is not null
           and ($3 or c.disabled_at is null)"#,
        channel_id,
        owner,
        even_disabled
    )
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(RecipientRow::recipient))
}

/// The personal channels of those of `members` who still belong to organisation `owner`:
/// verified and enabled channels of their personal organisations (which have the user's id),
/// as (member, channel) pairs. An escalation step that names a member reaches them there; a
/// member who left reaches nothing.
pub async fn member_channels(
    db: impl PgExecutor<'_>,
    owner_id: Uuid,
    members: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "select c.user_id, c.id from notification_channels c
         join memberships m on m.user_id = c.user_id and m.org_id = $1
         where c.user_id = any($2) and c.owner_id = c.user_id
           and c.verified_at is not null and c.disabled_at is null
         order by c.created_at, c.id",
        owner_id,
        members
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.id)).collect())
}

/// The email of `member` while they belong to organisation `owner` (`None`: they left).
pub async fn member_name(db: impl PgExecutor<'_>, owner_id: Uuid, member: Uuid) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select u.email from users u join memberships m on m.user_id = u.id and m.org_id = $1 where u.id = $2",
        owner_id,
        member
    )
    .fetch_optional(db)
    .await
}

/// Channels `ids` that may hear about `owner`'s `target` now: the owner's, or personal ones of
/// its members (what a step naming a member resolves to); verified, enabled, and muted
/// neither wholly nor for the target (escalation steps name channels outside the target's
/// routed ones, but a mute still wins).
pub async fn unmuted_channels(
    db: impl PgExecutor<'_>,
    owner_id: Uuid,
    target_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<Recipient>, sqlx::Error> {
    let rows = sqlx::query_as!(
        RecipientRow,
        r#"select c.id, c.user_id, c.kind, c.address, coalesce(c.language, u.language) as "language!",
                c.settings, c.secrets, c.routing, pingtower_may_private(c.owner_id) as "may_private!"
         from notification_channels c join users u on u.id = c.user_id
         where (c.owner_id = $1
                or (c.owner_id = c.user_id
                    and exists (select 1 from memberships ms where ms.org_id = $1 and ms.user_id = c.user_id)))
           and c.id = any($3) and c.verified_at is not null and c.disabled_at is null
           and (c.muted_until is null or c.muted_until <= now())
           and not exists (select 1 from notification_mutes m
                           where m.channel_id = c.id and m.target_id = $2 and m.muted_until > now())
         order by c.created_at, c.id"#,
        owner_id,
        target_id,
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().filter_map(RecipientRow::recipient).collect())
}

/// The group incident every one of some incidents belongs to, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroup {
    /// The group.
    pub id: Uuid,
    /// Its cause signal (`incident_groups.cause`).
    pub cause: String,
    /// Members still open.
    pub open: i64,
    /// The group is over (its last member resolved).
    pub resolved: bool,
}

/// The group incident every one of `incidents` belongs to (`None`: they are not all members
/// of one group).
pub async fn shared_group(db: impl PgExecutor<'_>, incidents: &[Uuid]) -> Result<Option<SharedGroup>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select g.id, g.cause, g.resolved_at is not null as "resolved!", count(*) as "members!",
                  (select count(*) from incidents o where o.group_id = g.id and o.resolved_at is null) as "open!"
           from incidents i join incident_groups g on g.id = i.group_id
           where i.id = any($1) group by g.id, g.cause, g.resolved_at"#,
        incidents
    )
    .fetch_all(db)
    .await?;
    Ok(match rows.as_slice() {
        [one] if one.members == incidents.len() as i64 => Some(SharedGroup {
            id: one.id,
            cause: one.cause.clone(),
            open: one.open,
            resolved: one.resolved,
        }),
        _ => None,
    })
}

/// Whether `channel` was sent the opened alert (alone or in a digest) of a member of `group`
/// other than `except`.
pub async fn group_heard(
    db: impl PgExecutor<'_>,
    group: Uuid,
    channel: Uuid,
    except: &[Uuid],
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select exists (
               select 1 from notification_log l join incidents i on i.id = l.incident_id
               where l.channel_id = $2 and l.kind = 'opened' and l.status = 'sent'
                 and i.group_id = $1 and not (l.incident_id = any($3))
           ) as "heard!""#,
        group,
        channel,
        except
    )
    .fetch_one(db)
    .await
}

/// Disables a channel, saying why in the dashboard.
pub async fn disable_channel(db: impl PgExecutor<'_>, channel_id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update notification_channels set disabled_at = now(), disabled_reason = $2, updated_at = now()
         where id = $1 and disabled_at is null",
        channel_id,
        reason
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Sets a channel's unsubscribe-token hash when it differs.
pub async fn set_unsubscribe_hash(db: impl PgExecutor<'_>, channel_id: Uuid, hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update notification_channels set unsubscribe_token_hash = $2, updated_at = now()
         where id = $1 and unsubscribe_token_hash is distinct from $2",
        channel_id,
        hash
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The installation secret `name`, created (32 random bytes) on first use.
pub async fn secret(pool: &PgPool, name: &str) -> Result<Vec<u8>, sqlx::Error> {
    let fresh: [u8; 32] = rand::random();
    sqlx::query!(
        "insert into notifier_secrets (name, value) values ($1, $2) on conflict (name) do nothing",
        name,
        &fresh[..]
    )
    .execute(pool)
    .await?;
    sqlx::query_scalar!("select value from notifier_secrets where name = $1", name)
        .fetch_one(pool)
        .await
}
