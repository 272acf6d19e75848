//! What the notifier says: alerts, reports, resolutions and mails. The words are in the
//! catalogs (`crates/common/locales/*/notify.ftl`); this module decides which and lays them out.
//!
//! Telegram messages are HTML (`parse_mode=HTML`) with every user-controlled value escaped by
//! [`html`]; mails carry a plain-text and an HTML part; subjects go through [`header_safe`].

use chrono::{DateTime, Utc};
use common::i18n;
use common::messages::{IncidentEvent, IncidentEventKind, IncidentReport};
use common::msg;

/// Telegram's limit on one message's text.
pub const TELEGRAM_MAX_CHARS: usize = 4096;

pub use common::i18n::Language;

/// Escapes text for Telegram's HTML parse mode and for HTML mail (text and attributes).
pub fn html(s: &str) -> String {
    common::html::escape(s)
}

/// A value fit for a mail header: control characters (CR, LF, TAB…) become spaces, runs of
/// spaces collapse, and the result is capped at 200 characters.
pub fn header_safe(s: &str) -> String {
    let replaced: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let collapsed = replaced.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(200).collect()
}

/// A one-line value for a message body: control characters become spaces.
pub fn one_line(s: &str) -> String {
    header_safe(s)
}

/// An instant as shown to people (UTC).
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The facts of an event, in plain words, ready to be rendered into any format.
#[derive(Debug, Clone)]
pub struct Alert {
    /// Emoji and one word: `🔴 DOWN`.
    pub badge: String,
    /// The target's (or pinger's) name, unescaped.
    pub name: String,
    /// Headline without the badge, unescaped: `Shop is down`.
    pub headline: String,
    /// `label: value` lines, unescaped.
    pub facts: Vec<(String, String)>,
    /// Link to the incident in the dashboard.
    pub link: String,
    /// A signed link that acknowledges the incident (opened alerts, when the key is set).
    pub ack_link: Option<String>,
}

/// Builds the facts of an event in `lang`; `link` is the incident's dashboard URL.
pub fn alert(event: &IncidentEvent, lang: Language, link: &str) -> Alert {
    let name = event
        .target
        .as_ref()
        .map(|t| one_line(&t.name))
        .or_else(|| event.pinger_id.as_deref().map(one_line))
        .unwrap_or_else(|| "PingTower".into());
    let (badge, headline) = match event.kind {
        IncidentEventKind::Opened if event.state == common::messages::TargetStatus::Degraded => {
            ("notify-badge-degraded", msg!("notify-headline-degraded", name))
        }
        IncidentEventKind::Opened => ("notify-badge-down", msg!("notify-headline-down", name)),
        IncidentEventKind::Resolved => ("notify-badge-resolved", msg!("notify-headline-resolved", name)),
        IncidentEventKind::CertExpiring => ("notify-badge-certificate", msg!("notify-headline-certificate", name)),
        IncidentEventKind::Flapping => ("notify-badge-flapping", msg!("notify-headline-flapping", name)),
        IncidentEventKind::ProbeDegraded => ("notify-badge-probe", msg!("notify-headline-probe", name)),
    };
    let (badge, headline) = (lang.text(badge), headline.render(lang));
    let mut facts = Vec::new();
    if let Some(t) = &event.target {
        facts.push((lang.text("notify-fact-target"), one_line(&t.address)));
    }
    let failure = event.evidence.results.iter().rev().find_map(|r| r.failure.as_ref());
    if let Some(f) = failure
        && event.kind != IncidentEventKind::Resolved
    {
        facts.push((
            lang.text("notify-fact-failure"),
            format!("{} ({})", one_line(&f.message), f.kind.as_str()),
        ));
    }
    if let Some(cert) = &event.evidence.certificate {
        facts.push((
            lang.text("notify-fact-certificate"),
            msg!(
                "notify-certificate-expires",
                when = when(cert.not_after),
                days = i18n::days(cert.days_left)
            )
            .render(lang),
        ));
    }
    facts.push((lang.text("notify-fact-since"), when(event.started_at)));
    if let Some(end) = event.resolved_at {
        facts.push((
            lang.text("notify-fact-downtime"),
            i18n::duration((end - event.started_at).num_seconds()).render(lang),
        ));
    }
    if !event.regions.is_empty() {
        facts.push((lang.text("notify-fact-regions"), one_line(&event.regions.join(", "))));
    }
    // Held while a dependency was down, sent now that it recovered.
    if let Some(cause) = &event.caused_by
        && cause.released_at.is_some()
        && event.kind == IncidentEventKind::Opened
    {
        facts.push((
            lang.text("notify-fact-dependency"),
            msg!("notify-dependency-recovered", name = one_line(&cause.target_name)).render(lang),
        ));
    }
    Alert {
        badge,
        name,
        headline,
        facts,
        link: link.to_owned(),
        ack_link: None,
    }
}

fn mail_html(body: &str, lang: Language, unsubscribe: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body>{body}<hr><p style=\"font-size:small\"><a href=\"{}\">{}</a></p></body></html>",
        lang.tag(),
        html(unsubscribe),
        html(&lang.text("notify-unsubscribe")),
    )
}

/// The sections of a report, unescaped.
fn report_sections(report: &IncidentReport, lang: Language) -> Vec<(String, Vec<String>)> {
    let mut s = vec![
        (
            lang.text("notify-report-summary"),
            vec![report.summary.trim().to_owned()],
        ),
        (
            lang.text("notify-report-cause"),
            vec![report.probable_cause.trim().to_owned()],
        ),
        (lang.text("notify-report-impact"), vec![report.impact.trim().to_owned()]),
    ];
    if !report.recommended_actions.is_empty() {
        s.push((
            lang.text("notify-report-actions"),
            report
                .recommended_actions
                .iter()
                .map(|a| format!("• {}", a.trim()))
                .collect(),
        ));
    }
    s
}

/// The report as Telegram HTML, headed by a separator line.
pub fn report_telegram(report: &IncidentReport, lang: Language) -> String {
    let mut out = format!("<b>📝 {}</b>", html(&lang.text("notify-report-title")));
    for (title, lines) in report_sections(report, lang) {
        out.push_str(&format!("\n<b>{}</b>", html(&title)));
        for line in lines {
            out.push('\n');
            out.push_str(&html(&line));
        }
    }
    out.push_str(&format!("\n<i>{}</i>", html(&one_line(&report.source))));
    out
}

/// The report mail's plain text.
pub fn report_text(report: &IncidentReport, lang: Language, link: &str, unsubscribe: &str) -> String {
    let mut out = String::new();
    for (title, lines) in report_sections(report, lang) {
        out.push_str(&format!("{title}\n"));
        for line in lines {
            out.push_str(&format!("{line}\n"));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "({})\n\n{}: {link}\n\n-- \n{}: {unsubscribe}\n",
        report.source,
        lang.text("notify-open-dashboard"),
        lang.text("notify-unsubscribe")
    ));
    out
}

/// The report mail's HTML.
pub fn report_html(report: &IncidentReport, lang: Language, link: &str, unsubscribe: &str) -> String {
    let mut body = format!("<h2>{}</h2>", html(&lang.text("notify-report-mail-title")));
    for (title, lines) in report_sections(report, lang) {
        body.push_str(&format!("<h3>{}</h3>", html(&title)));
        for line in lines {
            body.push_str(&format!("<p>{}</p>", html(&line)));
        }
    }
    body.push_str(&format!(
        "<p><i>{}</i></p><p><a href=\"{}\">{}</a></p>",
        html(&report.source),
        html(link),
        html(&lang.text("notify-open-dashboard"))
    ));
    mail_html(&body, lang, unsubscribe)
}

/// The verification mail: subject, text, HTML.
pub fn verification_mail(lang: Language, link: &str) -> (String, String, String) {
    let subject = lang.text("notify-verify-subject");
    let intro = lang.text("notify-verify-intro");
    let ignore = lang.text("notify-verify-ignore");
    let text = format!("{intro}\n\n{link}\n\n{ignore}\n");
    let html_body = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body><p>{}</p><p><a href=\"{}\">{}</a></p><p>{}</p></body></html>",
        lang.tag(),
        html(&intro),
        html(link),
        html(&lang.text("notify-verify-confirm")),
        html(&ignore)
    );
    (subject, text, html_body)
}

/// Splits Telegram HTML into messages of at most [`TELEGRAM_MAX_CHARS`] characters, at line
/// ends where possible, never inside an HTML entity. Callers keep tags within one line.
pub fn split_telegram(text: &str) -> Vec<String> {
    split_at(text, TELEGRAM_MAX_CHARS)
}

fn split_at(text: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split('\n') {
        let line_len = line.chars().count();
        let sep = usize::from(!current.is_empty());
        if current_len + sep + line_len <= max {
            if sep == 1 {
                current.push('\n');
            }
            current.push_str(line);
            current_len += sep + line_len;
            continue;
        }
        if line_len <= max {
            parts.push(std::mem::take(&mut current));
            current.push_str(line);
            current_len = line_len;
            continue;
        }
        // A line longer than a message (escaped text): fill the room left, never cutting
        // inside `&…;`.
        if sep == 1 && current_len < max {
            current.push('\n');
            current_len += 1;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut start = 0;
        loop {
            let room = max - current_len;
            if chars.len() - start <= room {
                current.extend(&chars[start..]);
                current_len += chars.len() - start;
                break;
            }
            let mut end = start + room;
            if let Some(amp) = chars[start..end].iter().rposition(|&c| c == '&') {
                let amp = start + amp;
                if !chars[amp..end].contains(&';') {
                    end = amp;
                }
            }
            current.extend(&chars[start..end]);
            parts.push(std::mem::take(&mut current));
            current_len = 0;
            start = end;
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts.retain(|p| !p.trim().is_empty());
    if parts.is_empty() {
        parts.push(String::new());
    }
    parts
}

/// What an event is for channels of every kind: its [`channels::Event`] and severity.
pub fn event_class(event: &IncidentEvent) -> (channels::Event, channels::Severity) {
    use channels::{Event, Severity};
    match event.kind {
        IncidentEventKind::Opened if event.state == common::messages::TargetStatus::Degraded => {
            (Event::Opened, Severity::Warning)
        }
        IncidentEventKind::Opened => (Event::Opened, Severity::Critical),
        IncidentEventKind::Resolved => (Event::Resolved, Severity::Info),
        IncidentEventKind::CertExpiring => (Event::Certificate, Severity::Warning),
        IncidentEventKind::Flapping => (Event::Flapping, Severity::Warning),
        IncidentEventKind::ProbeDegraded => (Event::Probe, Severity::Warning),
    }
}

/// The notice of an event for the HTTP kinds, from its [`Alert`]; `key` is the delivery's
/// log row.
pub fn event_notice(
    event: &IncidentEvent,
    alert: &Alert,
    lang: Language,
    key: uuid::Uuid,
    at: DateTime<Utc>,
) -> channels::Notice {
    let (kind, severity) = event_class(event);
    channels::Notice {
        event: kind,
        severity,
        lang,
        incident_id: Some(event.incident_id),
        key,
        badge: alert.badge.clone(),
        headline: alert.headline.clone(),
        name: alert.name.clone(),
        facts: alert.facts.clone(),
        text: None,
        link: Some(alert.link.clone()),
        ack_link: alert.ack_link.clone(),
        items: Vec::new(),
        more: 0,
        at,
    }
}

/// The notice of a reminder: the incident is still down (or degraded) at `now`, for how long.
pub fn reminder_notice(
    event: &IncidentEvent,
    alert: &Alert,
    lang: Language,
    key: uuid::Uuid,
    now: DateTime<Utc>,
) -> channels::Notice {
    let (_, severity) = event_class(event);
    let (badge, headline) = if severity == channels::Severity::Critical {
        ("notify-badge-reminder", "notify-headline-reminder")
    } else {
        ("notify-badge-reminder-degraded", "notify-headline-reminder-degraded")
    };
    let mut facts = alert.facts.clone();
    facts.push((
        lang.text("notify-fact-open-for"),
        i18n::duration((now - event.started_at).num_seconds()).render(lang),
    ));
    channels::Notice {
        event: channels::Event::Reminder,
        badge: lang.text(badge),
        headline: common::i18n::Msg::new(headline)
            .arg("name", alert.name.as_str())
            .render(lang),
        facts,
        at: now,
        ..event_notice(event, alert, lang, key, now)
    }
}

/// The notice of a report for the HTTP kinds: its sections as text.
pub fn report_notice(
    report: &IncidentReport,
    name: &str,
    lang: Language,
    link: &str,
    key: uuid::Uuid,
    at: DateTime<Utc>,
) -> channels::Notice {
    let mut text = String::new();
    for (title, lines) in report_sections(report, lang) {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&title);
        for line in lines {
            text.push('\n');
            text.push_str(&line);
        }
    }
    let name = one_line(name);
    channels::Notice {
        event: channels::Event::Report,
        severity: channels::Severity::Info,
        lang,
        incident_id: Some(report.incident_id),
        key,
        badge: lang.text("notify-badge-report"),
        headline: msg!("notify-headline-report", name).render(lang),
        name,
        facts: Vec::new(),
        text: Some(text),
        link: Some(link.to_owned()),
        ack_link: None,
        items: Vec::new(),
        more: 0,
        at,
    }
}

/// A group incident's cause (`incident_groups.cause`, see the backend's `correlate`) in
/// words; `None` for a cause this notifier cannot read.
pub fn cause_text(cause: &str, lang: Language) -> Option<String> {
    common::i18n::cause_msg(cause).map(|m| m.render(lang))
}

/// What a message of members of one group incident says of the group (see
/// `Deliverer::deliver_digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupNote<'a> {
    /// The channel's first word of the group: "14 targets are down: all resolve to …".
    Outage {
        /// The cause signal (`incident_groups.cause`).
        cause: &'a str,
    },
    /// Members joined a group the channel heard of: "2 more targets joined the outage: …".
    Joined {
        /// The cause signal.
        cause: &'a str,
    },
    /// Members recovered while others are still down: "3 targets recovered from the outage
    /// (…); 11 still down".
    Recovered {
        /// The cause signal.
        cause: &'a str,
        /// Members still open.
        still_down: i64,
    },
    /// The last members recovered: "The outage is over (…): 3 targets recovered".
    Over {
        /// The cause signal.
        cause: &'a str,
    },
}

impl GroupNote<'_> {
    /// The note's headline for `count` incidents, `None` for a cause this build cannot read.
    fn headline(self, count: i64, lang: Language) -> Option<String> {
        use common::i18n::Msg;
        let (id, cause, still_down) = match self {
            GroupNote::Outage { cause } => ("notify-headline-digest-cause", cause, 0),
            GroupNote::Joined { cause } => ("notify-headline-group-update", cause, 0),
            GroupNote::Recovered { cause, still_down } => ("notify-headline-group-recovered", cause, still_down),
            GroupNote::Over { cause } => ("notify-headline-group-over", cause, 0),
        };
        let cause = cause_text(cause, lang)?;
        Some(
            Msg::new(id)
                .arg("count", count)
                .arg("cause", cause)
                .arg("open", still_down)
                .render(lang),
        )
    }
}

/// The digest of several incidents' `kind` events (opened or resolved) for one channel: their
/// names and what failed, at most [`crate::digest::DIGEST_LIMIT`], then "and N more". When
/// they are all members of one group incident, `group` says what the message tells of it (the
/// headline names the shared cause).
pub fn digest_notice(
    kind: IncidentEventKind,
    events: &[&IncidentEvent],
    group: Option<GroupNote<'_>>,
    lang: Language,
    public_url: &url::Url,
    key: uuid::Uuid,
    at: DateTime<Utc>,
) -> channels::Notice {
    let resolved = kind == IncidentEventKind::Resolved;
    let count = events.len() as i64;
    let (badge, headline) = if resolved {
        ("notify-badge-digest-resolved", "notify-headline-digest-resolved")
    } else {
        ("notify-badge-digest", "notify-headline-digest")
    };
    let base = public_url.as_str().trim_end_matches('/');
    let items = events
        .iter()
        .take(crate::digest::DIGEST_LIMIT)
        .map(|e| {
            let alert = alert(e, lang, "");
            let failure = e.evidence.results.iter().rev().find_map(|r| r.failure.as_ref());
            let what = match failure {
                Some(f) if !resolved => format!("{} ({})", one_line(&f.message), f.kind.as_str()),
                _ => alert.headline.clone(),
            };
            channels::DigestItem {
                name: alert.name,
                headline: what,
                link: Some(format!("{base}/incidents/{}", e.incident_id)),
            }
        })
        .collect::<Vec<_>>();
    channels::Notice {
        event: channels::Event::Digest,
        severity: if resolved {
            channels::Severity::Info
        } else {
            channels::Severity::Critical
        },
        lang,
        incident_id: None,
        key,
        badge: lang.text(badge),
        headline: group
            .and_then(|g| g.headline(count, lang))
            .unwrap_or_else(|| common::i18n::Msg::new(headline).arg("count", count).render(lang)),
        name: "PingTower".into(),
        facts: Vec::new(),
        text: None,
        link: Some(format!("{base}/incidents")),
        ack_link: None,
        more: events.len().saturating_sub(items.len()),
        items,
        at,
    }
}

/// A notice as Telegram HTML: the title in bold, the body, the links.
pub fn notice_telegram(n: &channels::Notice) -> String {
    let mut out = format!("<b>{}</b>: {}", html(&n.badge), html(&n.headline));
    let body = n.body();
    if !body.is_empty() {
        out.push_str(&format!("\n{}", html(&body)));
    }
    if let Some(link) = &n.link {
        out.push_str(&format!("\n<a href=\"{}\">{}</a>", html(link), html(&n.open_label())));
    }
    let parts = split_telegram(&out);
    parts.into_iter().next().unwrap_or_default()
}

/// A notice as a mail: subject, plain text, HTML.
pub fn notice_mail(n: &channels::Notice, unsubscribe: &str) -> (String, String, String) {
    let subject = header_safe(&format!("[PingTower] {}", n.plain_title()));
    let text = format!(
        "{}\n\n-- \n{}: {unsubscribe}\n",
        n.plain(),
        n.lang.text("notify-unsubscribe")
    );
    let mut body = format!("<h2>{} {}</h2>", html(&n.badge), html(&n.headline));
    for (l, v) in &n.facts {
        body.push_str(&format!("<p><b>{}</b>: {}</p>", html(l), html(v)));
    }
    if !n.items.is_empty() {
        body.push_str("<ul>");
        for item in &n.items {
            body.push_str(&format!(
                "<li><b>{}</b>: {}</li>",
                html(&item.name),
                html(&item.headline)
            ));
        }
        body.push_str("</ul>");
    }
    if let Some(last) = n.digest_lines().into_iter().nth(n.items.len()) {
        body.push_str(&format!("<p>{}</p>", html(&last)));
    }
    if let Some(link) = &n.link {
        body.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            html(link),
            html(&n.open_label())
        ));
    }
    if let Some(ack) = &n.ack_link {
        body.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            html(ack),
            html(&n.ack_label())
        ));
    }
    (subject, text, mail_html(&body, n.lang, unsubscribe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_causes_read_in_both_languages() {
        assert_eq!(
            cause_text("ip:2001:db8::7:connect_refused", Language::En).as_deref(),
            Some("all resolve to 2001:db8::7 (connect_refused)")
        );
        assert_eq!(
            cause_text("dns:192.0.2.53:53:SERVFAIL", Language::Ru).as_deref(),
            Some("резолвер 192.0.2.53:53 отвечает ошибкой SERVFAIL")
        );
        assert_eq!(
            cause_text("region:eu-west:timeout:connect", Language::En).as_deref(),
            Some("all fail from eu-west only (timeout in the connect phase) while the other regions see them up")
        );
        assert!(
            cause_text("cert:ab12cd34ef56ab12cd34", Language::En)
                .unwrap()
                .contains("ab12cd34ef56ab12…")
        );
        assert_eq!(
            cause_text("host:shop.example.com:http_status", Language::En).as_deref(),
            Some("all are on shop.example.com (http_status)")
        );
        assert_eq!(cause_text("weather:rain", Language::En), None);
        assert_eq!(cause_text("ip", Language::En), None);
    }

    #[test]
    fn group_notes_say_what_became_of_the_outage() {
        let cause = "ip:192.0.2.1:connect_refused";
        let en = |note: GroupNote<'_>, n| note.headline(n, Language::En).unwrap();
        assert_eq!(
            en(GroupNote::Outage { cause }, 14),
            "14 targets are down: all resolve to 192.0.2.1 (connect_refused)"
        );
        assert_eq!(
            en(GroupNote::Joined { cause }, 1),
            "1 more target joined the outage: all resolve to 192.0.2.1 (connect_refused)"
        );
        assert_eq!(
            en(GroupNote::Recovered { cause, still_down: 11 }, 3),
            "3 targets recovered from the outage (all resolve to 192.0.2.1 (connect_refused)); 11 still down"
        );
        assert_eq!(
            en(GroupNote::Over { cause }, 2),
            "Outage over: the last 2 targets recovered (all resolve to 192.0.2.1 (connect_refused))"
        );
        assert_eq!(
            GroupNote::Over { cause }.headline(3, Language::Ru).unwrap(),
            "Сбой закончился: восстановились последние 3 цели (все разрешаются в 192.0.2.1 (connect_refused))"
        );
        assert_eq!(
            GroupNote::Over { cause: "weather:rain" }.headline(3, Language::En),
            None
        );
    }

    #[test]
    fn html_escaping_neutralises_markup() {
        assert_eq!(html("<b>x</b> & \"y\""), "&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;");
    }

    #[test]
    fn header_values_lose_every_line_break() {
        let s = header_safe("Shop\r\nBcc: evil@example.com\n");
        assert!(!s.contains('\r') && !s.contains('\n'));
        assert_eq!(s, "Shop Bcc: evil@example.com");
    }

    #[test]
    fn long_texts_are_split_below_the_telegram_limit_without_cutting_entities() {
        let line = "a&amp;".repeat(1000);
        let text = format!("<b>head</b>\n{line}\n{line}");
        let parts = split_telegram(&text);
        assert!(parts.len() >= 2);
        for p in &parts {
            assert!(p.chars().count() <= TELEGRAM_MAX_CHARS, "{}", p.chars().count());
            assert!(!p.ends_with('&') && !p.ends_with("&amp"));
        }
        assert_eq!(parts.concat().replace('\n', ""), text.replace('\n', ""));
        assert_eq!(parts.len(), 3, "parts are filled: 12,012 characters");
    }

    #[test]
    fn short_texts_stay_whole() {
        assert_eq!(split_telegram("hello\nworld"), vec!["hello\nworld".to_owned()]);
    }

    #[test]
    fn every_message_the_notifier_names_is_in_every_catalog() {
        let sources = [
            include_str!("text.rs"),
            include_str!("bot.rs"),
            include_str!("deliver.rs"),
            include_str!("escalation.rs"),
            include_str!("verify.rs"),
        ];
        let ids: Vec<&str> = sources
            .iter()
            .flat_map(|s| common::i18n::ids_in_source(s, &["bot-", "notify-", "status-"]))
            .collect();
        assert!(ids.len() > 60, "the scan found too few ids: {}", ids.len());
        let missing: Vec<_> = ids.into_iter().filter(|id| !common::i18n::has_message(id)).collect();
        assert!(missing.is_empty(), "not in every catalog: {missing:?}");
    }

    #[test]
    fn alerts_read_as_sentences_with_plural_day_counts() {
        let mut event = common::samples::incident_event();
        event.kind = IncidentEventKind::CertExpiring;
        event.evidence.certificate = event.evidence.results[0].tls.clone();
        let days_left = event
            .evidence
            .certificate
            .as_ref()
            .expect("the sample has TLS")
            .days_left;
        let name = event.target.as_ref().unwrap().name.clone();
        let ru = alert(&event, Language::Ru, "http://x/incidents/1");
        assert_eq!(ru.headline, format!("{name}: сертификат скоро истекает"));
        let en = alert(&event, Language::En, "http://x/incidents/1");
        assert_eq!(en.badge, "🟡 CERTIFICATE");
        let cert = &ru.facts.iter().find(|(label, _)| label == "Сертификат").unwrap().1;
        let left = common::i18n::days(days_left).render(Language::Ru);
        assert!(cert.ends_with(&format!("(осталось {left})")), "{cert}");
        for (event_kind, ru_text) in [
            (IncidentEventKind::Resolved, "снова работает"),
            (IncidentEventKind::Flapping, "слишком часто меняет состояние"),
        ] {
            event.kind = event_kind;
            let a = alert(&event, Language::Ru, "http://x");
            assert!(
                a.headline.starts_with(&name) && a.headline.contains(ru_text),
                "{}",
                a.headline
            );
        }
    }

    #[test]
    fn mails_carry_the_acknowledgement_link_when_there_is_one() {
        let event = common::samples::incident_event();
        let mut a = alert(&event, Language::En, "http://x/incidents/1");
        let notice = |a: &Alert, lang| event_notice(&event, a, lang, uuid::Uuid::nil(), event.started_at);
        assert!(
            !notice_mail(&notice(&a, Language::En), "http://x/u")
                .1
                .contains("Acknowledge")
        );
        a.ack_link = Some("http://x/ack/T0k3n".into());
        let (subject, text, _) = notice_mail(&notice(&a, Language::En), "http://x/u");
        assert!(subject.starts_with("[PingTower] DOWN: "), "{subject}");
        assert!(text.contains("Acknowledge: http://x/ack/T0k3n"), "{text}");
        let (_, _, html) = notice_mail(&notice(&a, Language::Ru), "http://x/u");
        assert!(html.contains("href=\"http://x/ack/T0k3n\">Принять</a>"), "{html}");
        let later = event.started_at + chrono::Duration::minutes(90);
        let (_, text, html) = notice_mail(
            &reminder_notice(&event, &a, Language::En, uuid::Uuid::nil(), later),
            "http://x/u",
        );
        assert!(text.contains("Acknowledge: http://x/ack/T0k3n") && html.contains("http://x/ack/T0k3n"));
        assert!(text.contains("Open for: 1 h 30 min"), "{text}");
    }

    #[test]
    fn alerts_escape_user_names() {
        let mut event = common::samples::incident_event();
        if let Some(t) = event.target.as_mut() {
            t.name = "<script>alert(1)</script>".into();
        }
        let a = alert(&event, Language::En, "http://x/incidents/1");
        let text = notice_telegram(&event_notice(
            &event,
            &a,
            Language::En,
            uuid::Uuid::nil(),
            event.started_at,
        ));
        assert!(!text.contains("<script>"));
        assert!(text.contains("&lt;script&gt;"));
    }
}
