//! Email against a real SMTP server on loopback (aiosmtpd, `common::testing::SmtpSink`).

use std::time::Duration;

use common::testing::SmtpSink;
use sha2::{Digest, Sha256};

use crate::helpers::*;

const WAIT: Duration = Duration::from_secs(20);

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
    let (mut env, pool, owner) = TestEnv::with_user("en").await;
    let evil = "Shop\r\nBcc: victim@evil.example\r\n<b>bold</b><script>x</script>";
    let Outage { incident, event, .. } = outage(&pool, owner, evil).await;
    let channel = channel(&pool, owner, "email", "ann@example.com", true).await;
    env.start_with(config(&env, &sink));

    // Act
    env.publish_event(event).await;
    sink.wait_for(1, WAIT).await;
    env.publish_report(report(incident, "The <i>shop</i> answers 503."))
        .await;
    let mails = sink.wait_for(2, WAIT).await;
    wait_acked(INCIDENTS_NOTIFY_QUEUE, 1).await;
    wait_acked(REPORTS_NOTIFY_QUEUE, 1).await;

    // Assert
    assert_eq!(sink.mails().len(), 2, "one alert, one follow-up");
    let alert = mails.iter().find(|m| m.header("In-Reply-To").is_empty()).unwrap();
    let follow = mails.iter().find(|m| !m.header("In-Reply-To").is_empty()).unwrap();
    for mail in [alert, follow] {
        assert_eq!(mail.decoded["content_type"], "multipart/alternative");
        assert_eq!(mail.decoded["rcpt_tos"], serde_json::json!(["ann@example.com"]));
        let headers = raw_headers(&mail.raw);
        assert!(
            !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("bcc")),
            "no injected header: {headers:#?}"
        );
        for name in ["Subject", "From", "To", "Message-ID"] {
            assert_eq!(mail.header(name).len(), 1, "one {name}");
        }
        let html = mail.part("text/html");
        assert!(
            !html.contains("<script>") && !html.contains("<b>bold</b>") && !html.contains("<i>shop</i>"),
            "{html}"
        );
        assert!(!mail.part("text/plain").is_empty());
    }
    let subject = &alert.header("Subject")[0];
    assert!(
        subject.contains("DOWN") && subject.contains("Shop Bcc: victim@evil.example"),
        "{subject}"
    );
    assert!(alert.part("text/html").contains("&lt;b&gt;bold&lt;/b&gt;"));
    let alert_id = &alert.header("Message-ID")[0];
    assert_eq!(&follow.header("In-Reply-To")[0], alert_id);
    assert_eq!(&follow.header("References")[0], alert_id);
    assert!(follow.header("Subject")[0].starts_with("Re: "));
    assert!(follow.part("text/plain").contains("The <i>shop</i> answers 503."));
    assert!(
        follow
            .part("text/html")
            .contains("The &lt;i&gt;shop&lt;/i&gt; answers 503.")
    );
    // The unsubscribe link's token is the one the backend can look up.
    let text = alert.part("text/plain");
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
    let (mut env, pool, owner) = TestEnv::with_user("ru").await;
    let channel = channel(&pool, owner, "email", "ivan@example.com", false).await;
    env.start_with(config(&env, &sink));

    // Act
    let mails = sink.wait_for(1, WAIT).await;
    // The round that sent it commits the channel's token hash after the send; from then on no
    // round selects the channel again (and until then the row is locked and skipped).
    eventually("the verification is recorded", WAIT, || async {
        let hash: Option<Vec<u8>> =
            sqlx::query_scalar("select verification_token_hash from notification_channels where id = $1")
                .bind(channel)
                .fetch_one(&pool)
                .await
                .unwrap();
        hash.map(|_| ())
    })
    .await;

    // Assert
    assert_eq!(sink.mails().len(), 1, "one verification mail");
    let mail = &mails[0];
    assert!(mail.header("Subject")[0].contains("Подтвердите"));
    let text = mail.part("text/plain");
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
