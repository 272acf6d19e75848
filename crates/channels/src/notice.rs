//! What one message says, free of any service's format: the notifier writes it in the
//! recipient's language, each kind lays it out.

use chrono::{DateTime, Utc};
use common::i18n::{Language, Msg};
use uuid::Uuid;

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// An incident opened (down or degraded).
    Opened,
    /// It resolved.
    Resolved,
    /// Its report (rule-based or LLM) is written.
    Report,
    /// A certificate expires soon.
    Certificate,
    /// A target changes state too often.
    Flapping,
    /// It is still open and unacknowledged.
    Reminder,
    /// Several incidents at once (a mass outage or its end).
    Digest,
    /// A pinger lost its own connectivity (operators).
    Probe,
    /// "Send a test message".
    Test,
}

impl Event {
    /// Its name in payloads and routing rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Opened => "opened",
            Event::Resolved => "resolved",
            Event::Report => "report",
            Event::Certificate => "certificate",
            Event::Flapping => "flapping",
            Event::Reminder => "reminder",
            Event::Digest => "digest",
            Event::Probe => "probe",
            Event::Test => "test",
        }
    }
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Resolutions, reports, tests.
    Info,
    /// Degraded, certificates, flapping.
    Warning,
    /// Down.
    Critical,
}

impl Severity {
    /// Its name in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One incident of a digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DigestItem {
    /// The target's name.
    pub name: String,
    /// What happened (`is down: connection refused`).
    pub headline: String,
    /// The incident in the dashboard.
    pub link: Option<String>,
}

/// One message, written in `lang`. Every text is plain (unescaped): kinds escape it for their
/// format.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// What it is about.
    pub event: Event,
    /// How bad.
    pub severity: Severity,
    /// The language it is written in.
    pub lang: Language,
    /// The incident (none for tests and digests): PagerDuty's `dedup_key`, Opsgenie's alias.
    pub incident_id: Option<Uuid>,
    /// This delivery's id, the same on every retry (the notification log's row): the
    /// idempotency key where a service takes one (Matrix' transaction id).
    pub key: Uuid,
    /// Emoji and one word: `🔴 DOWN`.
    pub badge: String,
    /// One line: `Shop is down`.
    pub headline: String,
    /// The target's (or pinger's) name.
    pub name: String,
    /// `label: value` lines.
    pub facts: Vec<(String, String)>,
    /// Longer text (a report's sections), if any.
    pub text: Option<String>,
    /// The incident in the dashboard.
    pub link: Option<String>,
    /// A signed link that acknowledges the incident.
    pub ack_link: Option<String>,
    /// A digest's incidents (at most the digest's limit) …
    pub items: Vec<DigestItem>,
    /// … and how many more there are.
    pub more: usize,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl Notice {
    /// `🔴 DOWN: Shop is down`.
    pub fn title(&self) -> String {
        format!("{}: {}", self.badge, self.headline)
    }

    /// The title without its emoji: `DOWN: Shop is down` (for services that show no emoji).
    pub fn plain_title(&self) -> String {
        let badge: String = self.badge.chars().skip_while(|c| !c.is_alphanumeric()).collect();
        format!("{}: {}", badge.trim(), self.headline)
    }

    /// The body as plain text: facts, text and digest items, one per line (no title, no link).
    pub fn body(&self) -> String {
        let mut out: Vec<String> = self.facts.iter().map(|(l, v)| format!("{l}: {v}")).collect();
        if let Some(t) = &self.text {
            out.push(t.clone());
        }
        out.extend(self.digest_lines());
        out.join("\n")
    }

    /// The digest's lines (`Shop: is down`), with "and N more" last.
    pub fn digest_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .items
            .iter()
            .map(|i| format!("• {}: {}", i.name, i.headline))
            .collect();
        if self.more > 0 {
            out.push(
                Msg::new("notify-digest-more")
                    .arg("count", self.more as i64)
                    .render(self.lang),
            );
        }
        out
    }

    /// The whole message as plain text: title, body and links.
    pub fn plain(&self) -> String {
        let mut out = self.title();
        let body = self.body();
        if !body.is_empty() {
            out.push_str("\n\n");
            out.push_str(&body);
        }
        if let Some(link) = &self.link {
            out.push_str(&format!("\n\n{}: {link}", self.lang.text("notify-open-dashboard")));
        }
        if let Some(ack) = &self.ack_link {
            out.push_str(&format!("\n{}: {ack}", self.lang.text("notify-acknowledge")));
        }
        out
    }

    /// The label of the dashboard link.
    pub fn open_label(&self) -> String {
        self.lang.text("notify-open-dashboard")
    }

    /// The label of the acknowledgement link.
    pub fn ack_label(&self) -> String {
        self.lang.text("notify-acknowledge")
    }

    /// A colour for the severity (`#rrggbb` without the `#`): red, orange, green, blue.
    pub fn color(&self) -> u32 {
        match (self.event, self.severity) {
            (Event::Resolved, _) => 0x2e_b8_86,
            (_, Severity::Critical) => 0xd9_30_25,
            (_, Severity::Warning) => 0xf2_a9_00,
            (_, Severity::Info) => 0x36_7e_d9,
        }
    }

    /// A sample of each event in `lang`: the "send a test message" text, and tests' fixtures.
    pub fn sample(event: Event, lang: Language) -> Notice {
        let incident_id = (event != Event::Test && event != Event::Digest)
            .then(|| Uuid::from_u128(0x0194_0000_0000_7000_8000_0000_0000_0001));
        let name = "Shop API".to_owned();
        let (badge, headline, severity) = match event {
            Event::Opened => ("notify-badge-down", "notify-headline-down", Severity::Critical),
            Event::Resolved => ("notify-badge-resolved", "notify-headline-resolved", Severity::Info),
            Event::Report => ("notify-badge-report", "notify-headline-report", Severity::Info),
            Event::Certificate => (
                "notify-badge-certificate",
                "notify-headline-certificate",
                Severity::Warning,
            ),
            Event::Flapping => ("notify-badge-flapping", "notify-headline-flapping", Severity::Warning),
            Event::Reminder => ("notify-badge-reminder", "notify-headline-reminder", Severity::Critical),
            Event::Digest => ("notify-badge-digest", "notify-headline-digest", Severity::Critical),
            Event::Probe => ("notify-badge-probe", "notify-headline-probe", Severity::Warning),
            Event::Test => ("notify-badge-test", "notify-headline-test", Severity::Info),
        };
        let headline = Msg::new(headline)
            .arg("name", name.as_str())
            .arg("count", 20i64)
            .render(lang);
        let items = if event == Event::Digest {
            (1..=3)
                .map(|i| DigestItem {
                    name: format!("api-{i}.example.com"),
                    headline: Msg::new("notify-headline-down")
                        .arg("name", format!("api-{i}.example.com"))
                        .render(lang),
                    link: Some(format!("https://pingtower.example/incidents/{i}")),
                })
                .collect()
        } else {
            Vec::new()
        };
        Notice {
            event,
            severity,
            lang,
            incident_id,
            key: Uuid::from_u128(0x0194_0000_0000_7000_8000_0000_0000_00ff),
            badge: lang.text(badge),
            headline,
            name,
            facts: vec![
                (
                    lang.text("notify-fact-target"),
                    "https://shop.example.com/api".to_owned(),
                ),
                (lang.text("notify-fact-since"), "2026-12-05 10:00:00 UTC".to_owned()),
            ],
            text: (event == Event::Report).then(|| "Summary: the host refused connections on :443.".to_owned()),
            link: incident_id.map(|id| format!("https://pingtower.example/incidents/{id}")),
            ack_link: (event == Event::Opened || event == Event::Reminder)
                .then(|| "https://pingtower.example/ack/sample-token".to_owned()),
            more: if event == Event::Digest { 17 } else { 0 },
            items,
            at: DateTime::from_timestamp(1_796_464_800, 0).expect("a valid instant"),
        }
    }
}
