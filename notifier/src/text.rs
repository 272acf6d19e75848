//! What the notifier says, in English and Russian: alerts, reports, resolutions and mails.
//!
//! Telegram messages are HTML (`parse_mode=HTML`) with every user-controlled value escaped by
//! [`html`]; mails carry a plain-text and an HTML part; subjects go through [`header_safe`].

use chrono::{DateTime, Utc};
use common::messages::{IncidentEvent, IncidentEventKind, IncidentReport};

/// Telegram's limit on one message's text.
pub const TELEGRAM_MAX_CHARS: usize = 4096;

/// A language of the notifier's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
}

impl Lang {
    /// The language of a tag (`en`, `ru`, `ru-RU`…); English when unknown.
    pub fn from_tag(tag: &str) -> Self {
        if tag.trim().to_ascii_lowercase().starts_with("ru") {
            Lang::Ru
        } else {
            Lang::En
        }
    }

    /// The lowercase tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }

    /// Picks the phrase of this language.
    pub fn pick(self, en: &'static str, ru: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Ru => ru,
        }
    }
}

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

/// A duration as people write it: `2h 5m`, `45s`.
pub fn human_duration(d: chrono::Duration, lang: Lang) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    let (du, hu, mu, su) = match lang {
        Lang::En => ("d", "h", "m", "s"),
        Lang::Ru => ("д", "ч", "мин", "с"),
    };
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}{du}"));
    }
    if hours > 0 {
        parts.push(format!("{hours}{hu}"));
    }
    if mins > 0 && days == 0 {
        parts.push(format!("{mins}{mu}"));
    }
    if parts.is_empty() || (s > 0 && days == 0 && hours == 0) {
        parts.push(format!("{s}{su}"));
    }
    parts.join(" ")
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
}

/// Builds the facts of an event in `lang`; `link` is the incident's dashboard URL.
pub fn alert(event: &IncidentEvent, lang: Lang, link: &str) -> Alert {
    let name = event
        .target
        .as_ref()
        .map(|t| one_line(&t.name))
        .or_else(|| event.pinger_id.as_deref().map(one_line))
        .unwrap_or_else(|| "PingTower".into());
    let (badge, headline) = match event.kind {
        IncidentEventKind::Opened => {
            if event.state == common::messages::TargetStatus::Degraded {
                (
                    lang.pick("🟠 DEGRADED", "🟠 ДЕГРАДАЦИЯ"),
                    format!("{name} {}", lang.pick("is degraded", "работает с перебоями")),
                )
            } else {
                (
                    lang.pick("🔴 DOWN", "🔴 НЕДОСТУПЕН"),
                    format!("{name} {}", lang.pick("is down", "недоступен")),
                )
            }
        }
        IncidentEventKind::Resolved => (
            lang.pick("✅ RESOLVED", "✅ ВОССТАНОВЛЕН"),
            format!("{name} {}", lang.pick("is back up", "снова работает")),
        ),
        IncidentEventKind::CertExpiring => (
            lang.pick("🟡 CERTIFICATE", "🟡 СЕРТИФИКАТ"),
            format!(
                "{name}: {}",
                lang.pick("certificate expires soon", "сертификат скоро истекает")
            ),
        ),
        IncidentEventKind::Flapping => (
            lang.pick("🟣 FLAPPING", "🟣 НЕСТАБИЛЕН"),
            format!(
                "{name} {}",
                lang.pick(
                    "changes state too often; alerts are held until it is stable",
                    "слишком часто меняет состояние; оповещения приостановлены до стабилизации"
                )
            ),
        ),
        IncidentEventKind::ProbeDegraded => (
            lang.pick("⚠️ PROBE", "⚠️ ЗОНД"),
            format!(
                "{} {name} {}",
                lang.pick("Pinger", "Пингер"),
                lang.pick(
                    "lost its own connectivity; its results are not counted",
                    "потерял связь; его результаты не учитываются"
                )
            ),
        ),
    };
    let mut facts = Vec::new();
    if let Some(t) = &event.target {
        facts.push((lang.pick("Target", "Цель").to_owned(), one_line(&t.address)));
    }
    let failure = event.evidence.results.iter().rev().find_map(|r| r.failure.as_ref());
    if let Some(f) = failure
        && event.kind != IncidentEventKind::Resolved
    {
        facts.push((
            lang.pick("What failed", "Что сломалось").to_owned(),
            format!("{} ({})", one_line(&f.message), f.kind.as_str()),
        ));
    }
    if let Some(cert) = &event.evidence.certificate {
        facts.push((
            lang.pick("Certificate", "Сертификат").to_owned(),
            format!(
                "{} {} ({} {})",
                lang.pick("expires", "истекает"),
                when(cert.not_after),
                cert.days_left,
                lang.pick("days left", "дн. осталось")
            ),
        ));
    }
    facts.push((lang.pick("Since", "С").to_owned(), when(event.started_at)));
    if let Some(end) = event.resolved_at {
        facts.push((
            lang.pick("Downtime", "Длительность").to_owned(),
            human_duration(end - event.started_at, lang),
        ));
    }
    if !event.regions.is_empty() {
        facts.push((
            lang.pick("Regions", "Регионы").to_owned(),
            one_line(&event.regions.join(", ")),
        ));
    }
    Alert {
        badge: badge.to_owned(),
        name,
        headline,
        facts,
        link: link.to_owned(),
    }
}

impl Alert {
    /// The Telegram (HTML) text.
    pub fn telegram(&self, lang: Lang) -> String {
        let mut out = format!("<b>{}</b>: {}\n", html(&self.badge), html(&self.headline));
        for (label, value) in &self.facts {
            out.push_str(&format!("{}: {}\n", html(label), html(value)));
        }
        out.push_str(&format!(
            "<a href=\"{}\">{}</a>",
            html(&self.link),
            html(lang.pick("Open in dashboard", "Открыть в панели"))
        ));
        out
    }

    /// The subject of the mail (header-safe).
    pub fn subject(&self) -> String {
        let badge: String = self.badge.chars().skip_while(|c| !c.is_alphabetic()).collect();
        header_safe(&format!("[PingTower] {badge}: {}", self.headline))
    }

    /// The plain-text mail body.
    pub fn text(&self, lang: Lang, unsubscribe: &str) -> String {
        let mut out = format!("{}: {}\n\n", self.badge, self.headline);
        for (label, value) in &self.facts {
            out.push_str(&format!("{label}: {value}\n"));
        }
        out.push_str(&format!(
            "\n{}: {}\n\n-- \n{}: {}\n",
            lang.pick("Open in dashboard", "Открыть в панели"),
            self.link,
            lang.pick("Unsubscribe", "Отписаться"),
            unsubscribe
        ));
        out
    }

    /// The HTML mail body.
    pub fn html(&self, lang: Lang, unsubscribe: &str) -> String {
        let mut rows = String::new();
        for (label, value) in &self.facts {
            rows.push_str(&format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                html(label),
                html(value)
            ));
        }
        mail_html(
            &format!(
                "<h2>{} {}</h2><table>{rows}</table><p><a href=\"{}\">{}</a></p>",
                html(&self.badge),
                html(&self.headline),
                html(&self.link),
                html(lang.pick("Open in dashboard", "Открыть в панели")),
            ),
            lang,
            unsubscribe,
        )
    }
}

fn mail_html(body: &str, lang: Lang, unsubscribe: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body>{body}<hr><p style=\"font-size:small\"><a href=\"{}\">{}</a></p></body></html>",
        lang.tag(),
        html(unsubscribe),
        html(lang.pick("Unsubscribe", "Отписаться")),
    )
}

/// The sections of a report, unescaped.
fn report_sections(report: &IncidentReport, lang: Lang) -> Vec<(String, Vec<String>)> {
    let mut s = vec![
        (
            lang.pick("Summary", "Кратко").to_owned(),
            vec![report.summary.trim().to_owned()],
        ),
        (
            lang.pick("Probable cause", "Вероятная причина").to_owned(),
            vec![report.probable_cause.trim().to_owned()],
        ),
        (
            lang.pick("Impact", "Влияние").to_owned(),
            vec![report.impact.trim().to_owned()],
        ),
    ];
    if !report.recommended_actions.is_empty() {
        s.push((
            lang.pick("What to do", "Что делать").to_owned(),
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
pub fn report_telegram(report: &IncidentReport, lang: Lang) -> String {
    let mut out = format!("<b>📝 {}</b>", html(lang.pick("Report", "Отчёт")));
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
pub fn report_text(report: &IncidentReport, lang: Lang, link: &str, unsubscribe: &str) -> String {
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
        lang.pick("Open in dashboard", "Открыть в панели"),
        lang.pick("Unsubscribe", "Отписаться")
    ));
    out
}

/// The report mail's HTML.
pub fn report_html(report: &IncidentReport, lang: Lang, link: &str, unsubscribe: &str) -> String {
    let mut body = format!("<h2>{}</h2>", html(lang.pick("Incident report", "Отчёт об инциденте")));
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
        html(lang.pick("Open in dashboard", "Открыть в панели"))
    ));
    mail_html(&body, lang, unsubscribe)
}

/// The verification mail: subject, text, HTML.
pub fn verification_mail(lang: Lang, link: &str) -> (String, String, String) {
    let subject = lang
        .pick(
            "[PingTower] Confirm your email address",
            "[PingTower] Подтвердите адрес электронной почты",
        )
        .to_owned();
    let intro = lang.pick(
        "Someone (hopefully you) added this address to PingTower for alerts. Open the link to confirm it:",
        "Кто-то (надеемся, вы) добавил этот адрес в PingTower для оповещений. Откройте ссылку, чтобы подтвердить его:",
    );
    let ignore = lang.pick(
        "If it was not you, ignore this mail: nothing will be sent.",
        "Если это были не вы, просто проигнорируйте письмо: ничего отправлено не будет.",
    );
    let text = format!("{intro}\n\n{link}\n\n{ignore}\n");
    let html_body = format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"></head><body><p>{}</p><p><a href=\"{}\">{}</a></p><p>{}</p></body></html>",
        lang.tag(),
        html(intro),
        html(link),
        html(lang.pick("Confirm", "Подтвердить")),
        html(ignore)
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn durations_read_naturally() {
        assert_eq!(human_duration(chrono::Duration::seconds(45), Lang::En), "45s");
        assert_eq!(human_duration(chrono::Duration::seconds(3725), Lang::En), "1h 2m");
        assert_eq!(human_duration(chrono::Duration::seconds(90), Lang::Ru), "1мин 30с");
    }

    #[test]
    fn alerts_escape_user_names() {
        let mut event = common::samples::incident_event();
        if let Some(t) = event.target.as_mut() {
            t.name = "<script>alert(1)</script>".into();
        }
        let text = alert(&event, Lang::En, "http://x/incidents/1").telegram(Lang::En);
        assert!(!text.contains("<script>"));
        assert!(text.contains("&lt;script&gt;"));
    }
}
