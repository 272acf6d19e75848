//! Signed acknowledgement links: the notifier puts `{public_url}/ack/{token}` in alerts
//! (email, webhook and the other HTTP kinds), and whoever holds the message can acknowledge
//! the incident without signing in — as with the Telegram button. The token names the incident
//! and the channel it was sent to, expires, and is an HMAC-SHA256 under the installation's
//! `PINGTOWER_SECRET_KEY` (its signing half): it cannot be forged or moved to another incident.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::sealed::SecretKey;

/// How long a link acknowledges: a week (an incident open longer is acknowledged in the
/// dashboard).
pub const VALID_FOR: Duration = Duration::days(7);

/// Bytes signed: incident ‖ channel ‖ expiry (seconds, big-endian).
const SIGNED_LEN: usize = 16 + 16 + 8;
/// Bytes of the MAC kept in the token (128 bits).
const MAC_LEN: usize = 16;

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The incident to acknowledge.
    pub incident_id: Uuid,
    /// The channel the link was sent to.
    pub channel_id: Uuid,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

/// Why a token does not acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// Not a token of this installation (malformed, altered, another key).
    #[error("this acknowledgement link is not valid")]
    Invalid,
    /// A valid token past its expiry.
    #[error("this acknowledgement link has expired")]
    Expired,
}

impl Ack {
    /// The token for this link.
    pub fn token(&self, key: &SecretKey) -> String {
        let signed = self.signed();
        let mac = key.sign(&signed);
        let mut bytes = Vec::with_capacity(SIGNED_LEN + MAC_LEN);
        bytes.extend_from_slice(&signed);
        bytes.extend_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A link for `incident` sent to `channel` at `now`, valid for [`VALID_FOR`].
    pub fn new(incident_id: Uuid, channel_id: Uuid, now: DateTime<Utc>) -> Self {
        Self {
            incident_id,
            channel_id,
            expires_at: now + VALID_FOR,
        }
    }

    /// Reads and checks `token` at `now`.
    pub fn verify(key: &SecretKey, token: &str, now: DateTime<Utc>) -> Result<Self, AckError> {
        // A token is 75 characters; anything much longer is not one (and is not decoded).
        if token.len() > 100 {
            return Err(AckError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| AckError::Invalid)?;
        if bytes.len() != SIGNED_LEN + MAC_LEN {
            return Err(AckError::Invalid);
        }
        let (signed, mac) = bytes.split_at(SIGNED_LEN);
        let full = key.sign(signed);
        // Constant-time comparison of the kept prefix.
        let diff = full[..MAC_LEN].iter().zip(mac).fold(0u8, |d, (a, b)| d | (a ^ b));
        if diff != 0 {
            return Err(AckError::Invalid);
        }
        let incident_id = Uuid::from_slice(&signed[..16]).map_err(|_| AckError::Invalid)?;
        let channel_id = Uuid::from_slice(&signed[16..32]).map_err(|_| AckError::Invalid)?;
        let secs = i64::from_be_bytes(signed[32..40].try_into().expect("8 bytes"));
        let expires_at = Utc.timestamp_opt(secs, 0).single().ok_or(AckError::Invalid)?;
        if now >= expires_at {
            return Err(AckError::Expired);
        }
        Ok(Self {
            incident_id,
            channel_id,
            expires_at,
        })
    }

    fn signed(&self) -> [u8; SIGNED_LEN] {
        let mut out = [0u8; SIGNED_LEN];
        out[..16].copy_from_slice(self.incident_id.as_bytes());
        out[16..32].copy_from_slice(self.channel_id.as_bytes());
        out[32..].copy_from_slice(&self.expires_at.timestamp().to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn key(byte: u8) -> SecretKey {
        let encoded = base64::engine::general_purpose::STANDARD.encode([byte; 32]);
        SecretKey::from_config(Some(&SecretString::from(encoded)))
            .expect("a valid key")
            .expect("a key")
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let now = Utc::now();
        let ack = Ack::new(Uuid::now_v7(), Uuid::now_v7(), now);
        let token = ack.token(&key(1));
        assert!(token.len() < 100, "{token}");
        let read = Ack::verify(&key(1), &token, now + Duration::days(6)).expect("valid");
        assert_eq!(read.incident_id, ack.incident_id);
        assert_eq!(read.channel_id, ack.channel_id);
        assert_eq!(
            Ack::verify(&key(1), &token, now + Duration::days(8)),
            Err(AckError::Expired)
        );
    }

    #[test]
    fn another_key_an_altered_byte_or_garbage_is_invalid() {
        let now = Utc::now();
        let token = Ack::new(Uuid::now_v7(), Uuid::now_v7(), now).token(&key(1));
        assert_eq!(Ack::verify(&key(2), &token, now), Err(AckError::Invalid));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        bytes[3] ^= 1; // another incident
        assert_eq!(
            Ack::verify(&key(1), &URL_SAFE_NO_PAD.encode(&bytes), now),
            Err(AckError::Invalid)
        );
        for junk in ["", "abc", "!!!!", &"A".repeat(200)] {
            assert_eq!(Ack::verify(&key(1), junk, now), Err(AckError::Invalid), "{junk}");
        }
    }
}
