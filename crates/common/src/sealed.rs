//! Write-only secrets at rest: a value is sealed as nonce ‖ ChaCha20-Poly1305 ciphertext of
//! its JSON under the installation's `PINGTOWER_SECRET_KEY`. The backend seals what users
//! write (target credentials, channel tokens and webhook URLs); only the services that must
//! use a secret (the scheduler filling a job, the notifier sending) open it.

use anyhow::Context;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

/// Length of the ChaCha20-Poly1305 nonce in front of each ciphertext.
const NONCE_LEN: usize = 12;

/// The key that seals and opens secrets (from `PINGTOWER_SECRET_KEY`). Its `Debug` shows
/// nothing of it.
#[derive(Clone)]
pub struct SecretKey {
    cipher: ChaCha20Poly1305,
    /// The key that signs links (acknowledgement links), derived from the same 32 bytes.
    signing: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// The key from its configuration value: base64 (standard or URL-safe) of 32 bytes.
    /// `None` or an empty value: no key (secrets cannot be stored).
    pub fn from_config(value: Option<&SecretString>) -> anyhow::Result<Option<Self>> {
        let Some(v) = value.map(|v| v.expose_secret().trim()).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(v))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v))
            // Never echo the value: the decoder's error names the offending byte.
            .map_err(|_| anyhow::anyhow!("PINGTOWER_SECRET_KEY is not base64"))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "PINGTOWER_SECRET_KEY must be the base64 of 32 bytes (it has {})",
            bytes.len()
        );
        let cipher = ChaCha20Poly1305::new_from_slice(&bytes).context("PINGTOWER_SECRET_KEY")?;
        let signing = hmac_sha256(&bytes, b"pingtower signed links v1");
        Ok(Some(Self { cipher, signing }))
    }

    /// nonce ‖ ciphertext of `value`'s JSON (a fresh random nonce each time).
    pub fn seal<T: Serialize + ?Sized>(&self, value: &T) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(value).expect("a secret map serialises");
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_slice())
            .expect("ChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SecretKey::seal`] made; fails on another key or altered bytes. The error
    /// never quotes the plaintext.
    pub fn open<T: DeserializeOwned>(&self, bytes: &[u8]) -> anyhow::Result<T> {
        anyhow::ensure!(bytes.len() > NONCE_LEN, "sealed secrets are too short");
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| anyhow::anyhow!("the secrets do not open with PINGTOWER_SECRET_KEY (another key?)"))?;
        // serde's error could quote a value; say only that the value is malformed.
        serde_json::from_slice(&plain).map_err(|_| anyhow::anyhow!("the opened secrets are malformed"))
    }

    /// HMAC-SHA256 of `data` under the signing key (a key of its own, not the sealing key).
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.signing, data)
    }

    /// Whether `mac` is [`SecretKey::sign`]'s of `data` (compared in constant time).
    pub fn verify(&self, data: &[u8], mac: &[u8]) -> bool {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.signing).expect("HMAC takes any key length");
        m.update(data);
        m.verify_slice(mac).is_ok()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}
