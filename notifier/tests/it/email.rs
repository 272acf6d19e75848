//! Email against a real SMTP server on loopback (aiosmtpd, `tests/smtp_sink.py`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(20);

struct SmtpSink {
    port: u16,
    dir: PathBuf,
    _child: Child,
}

impl SmtpSink {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("pingtower-smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs (pip install aiosmtpd)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        assert!(
            matches!(&ready, Ok(Ok(Some(l))) if l == "READY"),
            "the SMTP sink starts (is aiosmtpd installed?): {ready:?}"
        );
        Self {
            port,
            dir,
            _child: child,
        }
    }

    /// Decoded mails received so far, with their raw bytes.
    fn mails(&self) -> Vec<(Value, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let json: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                let raw = String::from_utf8_lossy(&std::fs::read(path.with_extension("eml")).unwrap()).into_owned();
                out.push((json, raw));
            }
        }
        out
    }

    async fn wait_for(&self, n: usize) -> Vec<(Value, String)> {
        eventually(&format!("{n} mails"), WAIT, || async {
            let m = self.mails();
            (m.len() >= n).then_some(m)
        })
        .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn header(mail: &Value, name: &str) -> Vec<String> {
    mail["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h[1].as_str().unwrap().to_owned())
        .collect()
}

fn part(mail: &Value, content_type: &str) -> String {
    mail["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .map(|p| p["text"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The raw header block, unfolded, one header per line.
fn raw_headers(raw: &str) -> Vec<String> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    let mut out: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.push_str(line);
            }
        } else {
            out.push(line.to_owned());
        }
    }
    out
}

fn config(env: &TestEnv, sink: &SmtpSink) -> notifier::Config {
    let mut c = env.config();
    c.telegram.bot_token = None;
    c.email.smtp_host = Some("127.0.0.1".into());
    c.email.smtp_port = Some(sink.port);
    c.email.smtp_tls = notifier::config::SmtpTls::None;
    c.email.mail_from = "PingTower <alerts@pingtower.example>".into();
    c.email.verify_interval = Duration::from_millis(200);
    c
}

#[tokio::test]
async fn an_alert_and_its_report_arrive_as_one_multipart_thread_without_header_injection_or_markup() {
    // Arrange
    let sink = SmtpSink::start().await;
    let mut env = TestEnv::new().await;
    let pool = env.pool().clone();
    let owner = user(&pool, "en").await;
    let evil = "Shop\r\nBcc: victim@evil.example\r\n<b>bold</b><script>x</script>";
    let target = target(&pool, owner, evil).await;
    let incident = incident(&pool, owner, target).await;
    let channel = channel(&pool, owner, "email", "ann@example.com", true).await;
    env.start_with(config(&env, &sink));

    // Act
    env.publish_event(opened(incident, owner, target, evil)).await;
    sink.wait_for(1).await;
    env.publish_report(report(incident, "The <i>shop</i> answers 503."))
        .await;
    let mails = sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Assert
    assert_eq!(sink.mails().len(), 2, "one alert, one follow-up");
    let alert = mails.iter().find(|(m, _)| header(m, "In-Reply-To").is_empty()).unwrap();
    let follow = mails
        .iter()
        .find(|(m, _)| !header(m, "In-Reply-To").is_empty())
        .unwrap();
    for (mail, raw) in [alert, follow] {
        assert_eq!(mail["content_type"], "multipart/alternative");
        assert_eq!(mail["rcpt_tos"], serde_json::json!(["ann@example.com"]));
        let headers = raw_headers(raw);
        assert!(
            !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("bcc")),
            "no injected header: {headers:#?}"
        );
        for name in ["Subject", "From", "To", "Message-ID"] {
            assert_eq!(header(mail, name).len(), 1, "one {name}");
        }
        let html = part(mail, "text/html");
        assert!(
            !html.contains("<script>") && !html.contains("<b>bold</b>") && !html.contains("<i>shop</i>"),
            "{html}"
        );
        assert!(!part(mail, "text/plain").is_empty());
    }
    let subject = &header(&alert.0, "Subject")[0];
    assert!(
        subject.contains("DOWN") && subject.contains("Shop Bcc: victim@evil.example"),
        "{subject}"
    );
    assert!(part(&alert.0, "text/html").contains("&lt;b&gt;bold&lt;/b&gt;"));
    let alert_id = &header(&alert.0, "Message-ID")[0];
    assert_eq!(&header(&follow.0, "In-Reply-To")[0], alert_id);
    assert_eq!(&header(&follow.0, "References")[0], alert_id);
    assert!(header(&follow.0, "Subject")[0].starts_with("Re: "));
    assert!(part(&follow.0, "text/plain").contains("The <i>shop</i> answers 503."));
    assert!(part(&follow.0, "text/html").contains("The &lt;i&gt;shop&lt;/i&gt; answers 503."));
    // The unsubscribe link's token is the one the backend can look up.
    let text = part(&alert.0, "text/plain");
    let token = text
        .split("/api/channels/unsubscribe?token=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("select unsubscribe_token_hash from notification_channels where id = $1")
        .bind(channel)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, Sha256::digest(token.as_bytes()).to_vec());
    env.stop().await;
}

#[tokio::test]
async fn a_new_email_channel_gets_one_verification_link_in_the_users_language() {
    // Arrange
    let sink = SmtpSink::start().await;
    let mut env = TestEnv::new().await;
    let pool = env.pool().clone();
    let owner = user(&pool, "ru").await;
    let channel = channel(&pool, owner, "email", "ivan@example.com", false).await;
    env.start_with(config(&env, &sink));

    // Act
    let mails = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Assert
    assert_eq!(sink.mails().len(), 1, "one verification mail");
    let mail = &mails[0].0;
    assert!(header(mail, "Subject")[0].contains("Подтвердите"));
    let text = part(mail, "text/plain");
    let token = text
        .split(&format!("{PUBLIC_URL}/api/channels/verify?token="))
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(token.len(), 32, "128 bits");
    let row: (Vec<u8>, bool) = sqlx::query_as(
        "select verification_token_hash, verification_expires_at > now() + interval '23 hours' from notification_channels where id = $1",
    )
    .bind(channel)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(row.0, Sha256::digest(token.as_bytes()).to_vec());
    assert!(row.1);
    env.stop().await;
}
