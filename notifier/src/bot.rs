//! The Telegram bot: long polling (no public URL needed), chat linking with `/start <token>`,
//! commands, and the buttons under alerts. Commands read PostgreSQL directly.
//!
//! Linking: the API issues a single-use 128-bit token valid for 10 minutes and stores its
//! SHA-256 in `telegram_link_tokens`; `/start <token>` in a private chat consumes it and
//! links the chat to the token's user. Unknown, used and expired tokens are refused alike,
//! and a chat linked to one account cannot be taken over by another.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use teloxide::RequestError;
use teloxide::payloads::GetUpdatesSetters;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, CallbackQuery, Update, UpdateKind};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use url::Url;
use uuid::Uuid;

use crate::telegram::Telegram;
use crate::telemetry;
use common::i18n::{self, Language};
use common::msg;

use crate::text::{html, when};

/// Longest `/mute`.
const MAX_MUTE: Duration = Duration::from_secs(30 * 24 * 3600);

/// A chat linked to an account.
#[derive(Debug, Clone)]
struct Linked {
    channel_id: Uuid,
    /// Who linked the chat (acknowledgements are theirs).
    user_id: Uuid,
    /// The organisation the chat's channel belongs to: the commands show its targets.
    owner_id: Uuid,
    lang: Language,
}

/// The bot. Cheap to clone.
#[derive(Clone)]
pub struct BotService {
    pool: PgPool,
    tg: Telegram,
    public_url: Url,
    username: String,
}

impl BotService {
    /// A bot answering as `@username`.
    pub fn new(pool: PgPool, tg: Telegram, public_url: Url, username: String) -> Self {
        Self {
            pool,
            tg,
            public_url,
            username: username.trim_start_matches('@').to_owned(),
        }
    }

    /// Polls for updates and answers them until shutdown.
    pub async fn run(&self, poll_timeout: Duration, shutdown: CancellationToken) {
        let mut offset: i32 = 0;
        let mut backoff = common::backoff::Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        loop {
            let request = self
                .tg
                .bot()
                .get_updates()
                .offset(offset)
                .timeout(poll_timeout.as_secs() as u32)
                .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = request.send() => r,
            };
            let delay = match result {
                Ok(updates) => {
                    backoff.reset();
                    for update in updates {
                        offset = offset.max(i32::try_from(update.id.0).unwrap_or(i32::MAX).saturating_add(1));
                        self.handle(update).await;
                    }
                    continue;
                }
                Err(RequestError::RetryAfter(after)) => after.duration(),
                Err(error) => {
                    let delay = backoff.next_delay();
                    warn!(%error, retry_in_ms = delay.as_millis() as u64, "getUpdates failed");
                    delay
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Answers one update.
    pub async fn handle(&self, update: Update) {
        match update.kind {
            UpdateKind::Message(msg) => self.on_message(msg).await,
            UpdateKind::CallbackQuery(q) => self.on_callback(q).await,
            _ => {}
        }
    }

    async fn on_message(&self, msg: Message) {
        let Some(text) = msg.text() else { return };
        let Some((command, args)) = parse_command(text, &self.username) else {
            return;
        };
        let chat = msg.chat.id.0;
        let user_lang = msg
            .from
            .as_ref()
            .and_then(|u| u.language_code.as_deref())
            .map(Language::from_tag)
            .unwrap_or(Language::En);
        let reply = if !msg.chat.is_private() {
            user_lang.text("bot-private-chat-only")
        } else {
            let label = msg.from.as_ref().map(|u| match &u.username {
                Some(name) => format!("@{name}"),
                None => u.full_name(),
            });
            match self.answer(chat, &command, &args, user_lang, label).await {
                Ok(r) => r,
                Err(error) => {
                    warn!(error = format!("{error:#}"), command, "bot command failed");
                    user_lang.text("bot-failed")
                }
            }
        };
        metrics::counter!(telemetry::COMMANDS, "command" => known_command(&command)).increment(1);
        if let Err(error) = self.tg.send(chat, &reply, None, None).await {
            warn!(%error, chat, "could not answer a command");
        }
    }

    async fn answer(
        &self,
        chat: i64,
        command: &str,
        args: &str,
        user_lang: Language,
        label: Option<String>,
    ) -> anyhow::Result<String> {
        let linked = self.linked(chat).await?;
        let lang = linked.as_ref().map(|l| l.lang).unwrap_or(user_lang);
        if command == "start" {
            return self.start(chat, args.trim(), lang, linked, label).await;
        }
        if command == "help" {
            return Ok(help(lang));
        }
        let Some(linked) = linked else {
            return Ok(not_linked(lang));
        };
        match command {
            "status" => self.status(&linked).await,
            "targets" => self.targets(&linked).await,
            "incidents" => self.incidents(&linked).await,
            "mute" => self.mute(&linked, args).await,
            "unmute" => self.unmute(&linked, args).await,
            "lang" => self.set_lang(&linked, args).await,
            "unlink" => self.unlink(&linked).await,
            _ => Ok(format!("{}\n\n{}", lang.text("bot-unknown-command"), help(lang))),
        }
    }

    async fn linked(&self, chat: i64) -> Result<Option<Linked>, sqlx::Error> {
        let row = sqlx::query_as!(
            LinkedRow,
            r#"select c.id, c.user_id, c.owner_id, coalesce(c.language, u.language) as "language!"
             from notification_channels c join users u on u.id = c.user_id
             where c.kind = 'telegram' and c.address = $1 and c.disabled_at is null and c.verified_at is not null
             order by c.created_at limit 1"#,
            chat.to_string()
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Linked {
            channel_id: r.id,
            user_id: r.user_id,
            owner_id: r.owner_id,
            lang: Language::from_tag(&r.language),
        }))
    }

    async fn start(
        &self,
        chat: i64,
        token: &str,
        lang: Language,
        linked: Option<Linked>,
        label: Option<String>,
    ) -> anyhow::Result<String> {
        if token.is_empty() {
            return Ok(if linked.is_some() {
                format!("{}\n\n{}", lang.text("bot-start-linked"), help(lang))
            } else {
                not_linked(lang)
            });
        }
        let refused = lang.text("bot-start-refused");
        if !valid_token(token) {
            return Ok(refused);
        }
        let hash = Sha256::digest(token.as_bytes()).to_vec();
        let mut tx = self.pool.begin().await?;
        // The chat joins the organisation the link was made in (the personal one for older
        // links), while its maker still belongs to it.
        let token = sqlx::query!(
            r#"update telegram_link_tokens t set used_at = now()
               where token_hash = $1 and used_at is null and expires_at > now()
                 and (t.org_id is null
                      or exists (select 1 from memberships m where m.org_id = t.org_id and m.user_id = t.user_id))
               returning user_id, coalesce(org_id, user_id) as "owner_id!""#,
            &hash
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, owner_id)) = token.map(|t| (t.user_id, t.owner_id)) else {
            return Ok(refused);
        };
        if let Some(l) = &linked
            && l.user_id != user_id
        {
            // Leave the token unused: its owner may link another chat with it.
            tx.rollback().await?;
            return Ok(lang.text("bot-start-linked-elsewhere"));
        }
        sqlx::query!(
            "insert into notification_channels (id, user_id, owner_id, kind, address, label, verified_at)
             values ($1, $2, $5, 'telegram', $3, $4, now())
             on conflict (user_id, kind, address) where kind in ('telegram', 'email') do update
                set verified_at = now(), disabled_at = null, disabled_reason = null, owner_id = excluded.owner_id,
                    label = coalesce(excluded.label, notification_channels.label), updated_at = now()",
            Uuid::now_v7(),
            user_id,
            chat.to_string(),
            label.map(|l| l.chars().take(100).collect::<String>()),
            owner_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let lang = self.linked(chat).await?.map(|l| l.lang).unwrap_or(lang);
        Ok(format!("{}\n\n{}", lang.text("bot-start-done"), help(lang)))
    }

    async fn status(&self, l: &Linked) -> anyhow::Result<String> {
        let rows = sqlx::query_as!(
            UnhealthyRow,
            "select t.name, s.status, s.since
             from targets t join target_state s on s.target_id = t.id
             where t.owner_id = $1 and not t.paused and s.status in ('down', 'degraded', 'flapping')
             order by s.since limit 50",
            l.owner_id
        )
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar!(
            r#"select count(*) as "count!" from targets where owner_id = $1"#,
            l.owner_id
        )
        .fetch_one(&self.pool)
        .await?;
        let lang = l.lang;
        if rows.is_empty() {
            return Ok(msg!("bot-status-all-up", total).render(lang));
        }
        let mut out = format!("<b>{}</b>\n", html(&lang.text("bot-status-title")));
        for r in rows {
            let (status, since) = (r.status, r.since);
            out.push_str(
                &msg!(
                    "bot-status-line",
                    icon = status_icon(&status),
                    name = html(&r.name),
                    status = html(&status_word(&status, lang)),
                    since = when(since)
                )
                .render(lang),
            );
            out.push('\n');
        }
        Ok(out)
    }

    async fn targets(&self, l: &Linked) -> anyhow::Result<String> {
        let rows = sqlx::query_as!(
            TargetRow,
            r#"select t.name, t.paused, coalesce(s.status, 'unknown') as "status!"
             from targets t left join target_state s on s.target_id = t.id
             where t.owner_id = $1 order by lower(t.name), t.id limit 50"#,
            l.owner_id
        )
        .fetch_all(&self.pool)
        .await?;
        let lang = l.lang;
        Ok(listing(lang, ("bot-targets-title", "bot-targets-none"), rows, |r| {
            let status: String = if r.paused { "paused".into() } else { r.status };
            format!(
                "{} {} — {}\n",
                status_icon(&status),
                html(&r.name),
                html(&status_word(&status, lang))
            )
        }))
    }

    async fn incidents(&self, l: &Linked) -> anyhow::Result<String> {
        let rows = sqlx::query_as!(
            IncidentRow,
            "select i.id, t.name, i.opened_at, i.resolved_at, i.acknowledged_at
             from incidents i join targets t on t.id = i.target_id
             where i.owner_id = $1
             order by (i.resolved_at is null) desc, i.opened_at desc limit 10",
            l.owner_id
        )
        .fetch_all(&self.pool)
        .await?;
        let lang = l.lang;
        Ok(listing(
            lang,
            ("bot-incidents-title", "bot-incidents-none"),
            rows,
            |r| {
                let (id, opened, resolved, acked) = (r.id, r.opened_at, r.resolved_at, r.acknowledged_at);
                let state = match (resolved, acked) {
                    (Some(end), _) => msg!(
                        "bot-incident-resolved",
                        lasted = i18n::duration((end - opened).num_seconds())
                    )
                    .render(lang),
                    (None, Some(_)) => lang.text("bot-incident-acknowledged"),
                    (None, None) => lang.text("bot-incident-open"),
                };
                let line = msg!(
                    "bot-incident-line",
                    name = html(&r.name),
                    state = html(&state),
                    since = when(opened)
                );
                format!(
                    "{} <a href=\"{}\">↗</a>\n",
                    line.render(lang),
                    html(&crate::deliver::incident_link(&self.public_url, id))
                )
            },
        ))
    }

    async fn find_target(&self, l: &Linked, name: &str) -> Result<Option<(Uuid, String)>, sqlx::Error> {
        let row = sqlx::query_as!(
            TargetNameRow,
            "select id, name from targets
             where owner_id = $1 and (lower(name) = lower($2) or id::text = lower($2))
             order by created_at limit 1",
            l.owner_id,
            name.trim()
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.id, r.name)))
    }

    async fn mute(&self, l: &Linked, args: &str) -> anyhow::Result<String> {
        let lang = l.lang;
        let usage = lang.text("bot-mute-usage");
        let args = args.trim();
        let Some((name, duration)) = args.rsplit_once(char::is_whitespace) else {
            return Ok(html(&usage));
        };
        let Ok(duration) = humantime::parse_duration(duration.trim()) else {
            return Ok(html(&usage));
        };
        if duration.is_zero() {
            return Ok(html(&usage));
        }
        let duration = duration.min(MAX_MUTE);
        let until = Utc::now() + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::hours(1));
        let name = name.trim();
        if name.eq_ignore_ascii_case("all") {
            sqlx::query!(
                "update notification_channels set muted_until = $2, updated_at = now() where id = $1",
                l.channel_id,
                until
            )
            .execute(&self.pool)
            .await?;
            return Ok(msg!("bot-mute-all-done", until = when(until)).render(lang));
        }
        let Some((target_id, target_name)) = self.find_target(l, name).await? else {
            return Ok(msg!("bot-no-such-target", name = html(name)).render(lang));
        };
        self.mute_target(l.channel_id, target_id, until).await?;
        Ok(msg!("bot-mute-done", name = html(&target_name), until = when(until)).render(lang))
    }

    // The mute statements stay written out: a query macro takes literal SQL only.
    async fn mute_target(&self, channel_id: Uuid, target_id: Uuid, until: DateTime<Utc>) -> Result<(), sqlx::Error> {
        sqlx::query!(
            "insert into notification_mutes (channel_id, target_id, muted_until) values ($1, $2, $3)
             on conflict (channel_id, target_id) do update set muted_until = excluded.muted_until",
            channel_id,
            target_id,
            until
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unmute(&self, l: &Linked, args: &str) -> anyhow::Result<String> {
        let lang = l.lang;
        let name = args.trim();
        if name.is_empty() || name.eq_ignore_ascii_case("all") {
            sqlx::query!("delete from notification_mutes where channel_id = $1", l.channel_id)
                .execute(&self.pool)
                .await?;
            sqlx::query!(
                "update notification_channels set muted_until = null, updated_at = now() where id = $1",
                l.channel_id
            )
            .execute(&self.pool)
            .await?;
            return Ok(lang.text("bot-unmute-all-done"));
        }
        let Some((target_id, target_name)) = self.find_target(l, name).await? else {
            return Ok(msg!("bot-no-such-target", name = html(name)).render(lang));
        };
        sqlx::query!(
            "delete from notification_mutes where channel_id = $1 and target_id = $2",
            l.channel_id,
            target_id
        )
        .execute(&self.pool)
        .await?;
        Ok(msg!("bot-unmute-done", name = html(&target_name)).render(lang))
    }

    async fn set_lang(&self, l: &Linked, args: &str) -> anyhow::Result<String> {
        let tag = args.trim().to_ascii_lowercase();
        if tag != "en" && tag != "ru" {
            return Ok(l.lang.text("bot-lang-usage"));
        }
        sqlx::query!(
            "update notification_channels set language = $2, updated_at = now() where id = $1",
            l.channel_id,
            &tag
        )
        .execute(&self.pool)
        .await?;
        Ok(Language::from_tag(&tag).text("bot-lang-done"))
    }

    async fn unlink(&self, l: &Linked) -> anyhow::Result<String> {
        sqlx::query!("update notification_channels set disabled_at = now(), disabled_reason = 'unlinked in Telegram (/unlink)', updated_at = now()
             where id = $1", l.channel_id)
        .execute(&self.pool)
        .await?;
        Ok(l.lang.text("bot-unlink-done"))
    }

    async fn on_callback(&self, q: CallbackQuery) {
        let chat = q.message.as_ref().map(|m| m.chat().id.0).unwrap_or(q.from.id.0 as i64);
        let data = q.data.clone().unwrap_or_default();
        let answer = match self.press(chat, &data).await {
            Ok(text) => text,
            Err(error) => {
                warn!(error = format!("{error:#}"), "button failed");
                Language::En.text("bot-failed")
            }
        };
        metrics::counter!(telemetry::COMMANDS, "command" => "button").increment(1);
        if let Err(error) = self.tg.answer_callback(q.id.0.clone(), &answer).await {
            debug!(%error, "could not answer a button press");
        }
    }

    async fn press(&self, chat: i64, data: &str) -> anyhow::Result<String> {
        let Some(l) = self.linked(chat).await? else {
            return Ok(not_linked(Language::En));
        };
        let lang = l.lang;
        let (action, id) = data.split_once(':').unwrap_or((data, ""));
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(lang.text("bot-button-unknown"));
        };
        match action {
            "ack" => {
                let done = sqlx::query!(
                    "update incidents set acknowledged_at = now(), acknowledged_by = $2, updated_at = now()
                     where id = $1 and acknowledged_at is null
                       and owner_id in (select org_id from memberships where user_id = $2)",
                    id,
                    l.user_id
                )
                .execute(&self.pool)
                .await?
                .rows_affected();
                if done == 1 {
                    return Ok(lang.text("bot-button-ack-done"));
                }
                let exists: bool = sqlx::query_scalar!(
                    "select exists (select 1 from incidents where id = $1
                                   and owner_id in (select org_id from memberships where user_id = $2)) as \"exists!\"",
                    id,
                    l.user_id
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(if exists {
                    lang.text("bot-button-ack-already")
                } else {
                    lang.text("bot-button-incident-not-found")
                }
                .to_owned())
            }
            "mute" => {
                let owned: bool = sqlx::query_scalar!(
                    "select exists (select 1 from targets where id = $1
                                   and owner_id in (select org_id from memberships where user_id = $2)) as \"exists!\"",
                    id,
                    l.user_id
                )
                .fetch_one(&self.pool)
                .await?;
                if !owned {
                    return Ok(lang.text("bot-button-target-not-found"));
                }
                self.mute_target(l.channel_id, id, Utc::now() + chrono::Duration::hours(1))
                    .await?;
                Ok(lang.text("bot-button-mute-done"))
            }
            _ => Ok(lang.text("bot-button-unknown")),
        }
    }
}

/// `/cmd@bot args` → (`cmd`, `args`); `None` when not a command or addressed to another bot.
pub fn parse_command(text: &str, username: &str) -> Option<(String, String)> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let (head, args) = match rest.split_once(char::is_whitespace) {
        Some((h, a)) => (h, a.trim().to_owned()),
        None => (rest, String::new()),
    };
    let (command, addressee) = match head.split_once('@') {
        Some((c, bot)) => (c, Some(bot)),
        None => (head, None),
    };
    if let Some(bot) = addressee
        && !bot.eq_ignore_ascii_case(username)
    {
        return None;
    }
    if command.is_empty() || command.len() > 32 {
        return None;
    }
    Some((command.to_ascii_lowercase(), args))
}

/// `/start` payloads: 1–64 characters of `[A-Za-z0-9_-]` (Telegram's deep-link alphabet).
pub fn valid_token(token: &str) -> bool {
    (1..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn known_command(command: &str) -> &'static str {
    match command {
        "start" => "start",
        "help" => "help",
        "status" => "status",
        "targets" => "targets",
        "incidents" => "incidents",
        "mute" => "mute",
        "unmute" => "unmute",
        "lang" => "lang",
        "unlink" => "unlink",
        _ => "unknown",
    }
}

fn help(lang: Language) -> String {
    html(&lang.text("bot-help"))
}

fn not_linked(lang: Language) -> String {
    lang.text("bot-not-linked")
}

fn status_icon(status: &str) -> &'static str {
    match status {
        "up" => "🟢",
        "down" => "🔴",
        "degraded" => "🟠",
        "flapping" => "🟣",
        "pending" => "🟡",
        "paused" => "⏸",
        _ => "⚪",
    }
}

fn status_word(status: &str, lang: Language) -> String {
    match status {
        "up" => lang.text("status-up"),
        "down" => lang.text("status-down"),
        "degraded" => lang.text("status-degraded"),
        "flapping" => lang.text("status-flapping"),
        "pending" => lang.text("status-pending"),
        "paused" => lang.text("status-paused"),
        _ => lang.text("status-unknown"),
    }
    .to_owned()
}

/// The Telegram channel a chat is linked through, and its language.
struct LinkedRow {
    id: Uuid,
    user_id: Uuid,
    owner_id: Uuid,
    language: String,
}

/// A target that is not healthy, for /status.
struct UnhealthyRow {
    name: String,
    status: String,
    since: DateTime<Utc>,
}

/// A target and its state, for /targets.
struct TargetRow {
    name: String,
    paused: bool,
    status: String,
}

/// An incident, for /incidents.
struct IncidentRow {
    id: Uuid,
    name: String,
    opened_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    acknowledged_at: Option<DateTime<Utc>>,
}

/// A target found by name or id.
struct TargetNameRow {
    id: Uuid,
    name: String,
}

/// A list answer in `lang`: its title and one `line` a row, or the `none` text when there
/// are no rows.
fn listing<R>(
    lang: Language,
    (title, none): (&'static str, &'static str),
    rows: Vec<R>,
    line: impl FnMut(R) -> String,
) -> String {
    if rows.is_empty() {
        return lang.text(none);
    }
    let title = html(&lang.text(title));
    std::iter::once(format!("<b>{title}</b>\n"))
        .chain(rows.into_iter().map(line))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_parsed_with_and_without_the_bot_name() {
        assert_eq!(
            parse_command("/status", "pt_bot"),
            Some(("status".into(), String::new()))
        );
        assert_eq!(
            parse_command("/mute@PT_bot Shop  2h", "pt_bot"),
            Some(("mute".into(), "Shop  2h".into()))
        );
        assert_eq!(parse_command("/status@other_bot", "pt_bot"), None);
        assert_eq!(parse_command("hello", "pt_bot"), None);
    }

    #[test]
    fn the_help_lists_one_command_a_line_in_both_languages() {
        for (lang, title) in [(Language::En, "Commands:"), (Language::Ru, "Команды:")] {
            let text = help(lang);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], title);
            assert_eq!(lines.len(), 9, "{text}");
            assert!(lines[1..].iter().all(|l| l.starts_with('/')), "{text}");
            assert!(
                text.contains("&lt;"),
                "angle brackets are escaped for Telegram HTML: {text}"
            );
        }
    }

    #[test]
    fn link_tokens_must_use_the_deep_link_alphabet() {
        assert!(valid_token("abcDEF012_-"));
        assert!(!valid_token(""));
        assert!(!valid_token("a b"));
        assert!(!valid_token(&"a".repeat(65)));
        assert!(!valid_token("x'; drop table users; --"));
    }
}
