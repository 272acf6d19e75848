//! Verification mails: every email channel the API created unverified (no token yet) gets a
//! single-use link `PINGTOWER_PUBLIC_URL/api/channels/verify?token=…`; only the token's
//! SHA-256 is stored, with its expiry. The backend answers the link.

use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use url::Url;
use uuid::Uuid;

use crate::email::{Mail, Mailer};
use crate::telegram::SendError;
use crate::text::{self, Language};

/// Sends verification mails.
#[derive(Clone)]
pub struct Verifier {
    pool: PgPool,
    mailer: Mailer,
    public_url: Url,
    ttl: Duration,
}

impl Verifier {
    /// A verifier; links stay valid for `ttl`.
    pub fn new(pool: PgPool, mailer: Mailer, public_url: Url, ttl: Duration) -> Self {
        Self {
            pool,
            mailer,
            public_url,
            ttl,
        }
    }

    /// Looks for new channels every `interval` until shutdown.
    pub async fn run(&self, interval: Duration, shutdown: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(n) if n > 0 => info!(sent = n, "verification mails sent"),
                Ok(_) => {}
                Err(error) => warn!(error = format!("{error:#}"), "verification round failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Sends the verification mail of every channel waiting for one; returns how many.
    ///
    /// One transaction per channel: the row is locked (`skip locked`, so several notifiers
    /// share the work), the token hash written, the mail sent, then committed. A failed
    /// send rolls back, and the channel is tried again next round.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let mut sent = 0;
        let mut skipped: Vec<Uuid> = Vec::new();
        loop {
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query(
                "select c.id, c.address, u.language
                 from notification_channels c join users u on u.id = c.user_id
                 where c.kind = 'email' and c.verified_at is null and c.verification_token_hash is null
                   and c.disabled_at is null and not (c.id = any($1))
                 order by c.created_at
                 limit 1
                 for update of c skip locked",
            )
            .bind(&skipped)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else { return Ok(sent) };
            let (id, address, lang): (Uuid, String, String) = (row.get(0), row.get(1), row.get(2));
            let mut raw = [0u8; 16];
            rand::rng().fill_bytes(&mut raw);
            let token = hex::encode(raw);
            let hash = Sha256::digest(token.as_bytes()).to_vec();
            let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(1));
            sqlx::query(
                "update notification_channels
                 set verification_token_hash = $2, verification_expires_at = now() + $3, updated_at = now()
                 where id = $1",
            )
            .bind(id)
            .bind(&hash)
            .bind(ttl)
            .execute(&mut *tx)
            .await?;
            let link = format!(
                "{}/api/channels/verify?token={token}",
                self.public_url.as_str().trim_end_matches('/')
            );
            let (subject, text, html) = text::verification_mail(Language::from_tag(&lang), &link);
            let mail = Mail {
                to: address,
                subject,
                text,
                html,
                message_id: self.mailer.message_id(id, "verify", Uuid::now_v7()),
                in_reply_to: None,
            };
            match self.mailer.send(&mail).await {
                Ok(_) => {
                    tx.commit().await?;
                    sent += 1;
                }
                Err(SendError::Transient(e)) => {
                    tx.rollback().await?;
                    anyhow::bail!("SMTP unavailable: {e}");
                }
                Err(e) => {
                    // A bad address: say so in the dashboard instead of trying forever.
                    drop(tx);
                    warn!(channel_id = %id, error = %e, "verification mail refused");
                    crate::store::disable_channel(&self.pool, id, &format!("verification mail refused ({e})")).await?;
                    skipped.push(id);
                }
            }
        }
    }
}
