//! Two-factor sign-in, the logic without HTTP or storage: TOTP codes (RFC 6238: HMAC-SHA1, 6
//! digits, 30-second steps, one step of clock skew either way) over `totp-rs`, the `otpauth://`
//! URL an authenticator app reads and its QR code, and recovery codes.
//!
//! - **Secret**: 160 random bits ([`TotpSecret`]), shown once as base32 at setup, sealed at rest
//!   under `PINGTOWER_SECRET_KEY` (its `Debug` shows nothing).
//! - **Codes**: [`verify_code`] answers the time step a code matched, so that the caller can
//!   accept each step once (a code replayed within its window is refused); time is passed in
//!   (the backend's [`crate::clock::Clock`]).
//! - **Recovery codes**: [`RECOVERY_CODES`] codes of 80 random bits each, written
//!   `xxxx-xxxx-xxxx-xxxx` in Crockford's base32 (no `i`, `l`, `o`, `u`), stored as SHA-256
//!   ([`recovery_code_hash`]); typing is forgiving (case, dashes, spaces, `o`/`i`/`l` for
//!   `0`/`1`/`1`).

use chrono::{DateTime, Utc};
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The issuer an authenticator app shows beside the account.
pub const ISSUER: &str = "PingTower";
/// Seconds of one time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Steps accepted on either side of the current one (clock drift, typing time).
pub const SKEW_STEPS: u16 = 1;
/// Random bytes of a secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Longest code or recovery code read (anything longer is wrong without looking further).
pub const MAX_CODE_LEN: usize = 64;
/// How long a login challenge (password accepted, second factor awaited) lasts.
pub const CHALLENGE_TTL: std::time::Duration = std::time::Duration::from_secs(5 * 60);
/// Codes one login challenge may try; then the password must be entered again.
pub const CHALLENGE_ATTEMPTS: i32 = 5;

/// Crockford's base32 alphabet, lowercase: recovery codes are written in it.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Characters of a recovery code (80 bits), without the dashes.
const RECOVERY_CHARS: usize = 16;

/// A TOTP secret: its base32 form (RFC 4648, no padding), as authenticator apps take it and as
/// it is sealed at rest. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TotpSecret(String);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh secret of [`SECRET_BYTES`] random bytes.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(Secret::from(bytes.to_vec()).to_base32())
    }

    /// The secret whose base32 form is `base32`; `None` unless it decodes to at least 128 bits.
    pub fn from_base32(base32: &str) -> Option<Self> {
        let secret = Secret::try_from_base32(base32.trim().to_ascii_uppercase()).ok()?;
        (secret.as_bytes().len() >= 16).then(|| Self(secret.to_base32()))
    }

    /// The base32 form (shown once, at setup, for typing into an app by hand).
    pub fn base32(&self) -> &str {
        &self.0
    }

    /// The RFC 6238 generator for this secret, labelled with `account`.
    fn totp(&self, account: &str) -> anyhow::Result<Totp> {
        let secret = Secret::try_from_base32(&self.0).map_err(|e| anyhow::anyhow!("TOTP secret: {e:?}"))?;
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(secret)
            .with_issuer(Some(ISSUER))
            .with_account_name(account_label(account))
            .build()
            .map_err(|e| anyhow::anyhow!("TOTP parameters: {e}"))
    }
}

/// `account` as an otpauth label may hold it: without `:` (the issuer's separator) and never
/// empty.
fn account_label(account: &str) -> String {
    let label: String = account.trim().replace(':', "_");
    if label.is_empty() { "account".into() } else { label }
}

/// The `otpauth://totp/PingTower:{account}?secret=…&issuer=PingTower` URL of `secret` (SHA-1,
/// 6 digits and 30 s are the format's defaults, so the URL leaves them out).
pub fn otpauth_url(secret: &TotpSecret, account: &str) -> anyhow::Result<String> {
    secret
        .totp(account)?
        .to_url()
        .map_err(|e| anyhow::anyhow!("otpauth URL: {e}"))
}

/// `url` as a QR code in an SVG document (black on white, with the quiet zone).
pub fn qr_svg(url: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| anyhow::anyhow!("QR code: {e}"))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

/// The time step of `at`.
pub fn step_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECONDS as i64)
}

/// The time step `code` is right for, within [`SKEW_STEPS`] of `now`'s; `None` when it is no
/// code of this secret in the window (or not 6 digits: spaces between them are allowed).
pub fn verify_code(secret: &TotpSecret, code: &str, now: DateTime<Utc>) -> anyhow::Result<Option<i64>> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != usize::from(DIGITS) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let Ok(seconds) = u64::try_from(now.timestamp()) else {
        return Ok(None);
    };
    // The generator compares in constant time and answers the step that matched.
    let step = secret.totp(ISSUER)?.check(&digits, seconds);
    Ok(step.and_then(|s| i64::try_from(s).ok()))
}

/// [`RECOVERY_CODES`] fresh recovery codes, as shown to the user (`xxxx-xxxx-xxxx-xxxx`).
pub fn generate_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES).map(|_| generate_recovery_code()).collect()
}

fn generate_recovery_code() -> String {
    let mut bytes = [0u8; RECOVERY_CHARS * 5 / 8];
    rand::rng().fill_bytes(&mut bytes);
    // 80 bits, read 5 at a time: each picks one character.
    let mut bits = bytes.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let mut chars = Vec::with_capacity(RECOVERY_CHARS);
    for _ in 0..RECOVERY_CHARS {
        chars.push(RECOVERY_ALPHABET[(bits & 31) as usize] as char);
        bits >>= 5;
    }
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a typed recovery code (lowercase, without dashes and spaces, `o` as
/// `0`, `i` and `l` as `1`); `None` when it cannot be one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    if typed.len() > MAX_CODE_LEN {
        return None;
    }
    let canonical: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'o' => '0',
            'i' | 'l' => '1',
            other => other,
        })
        .collect();
    let valid = canonical.len() == RECOVERY_CHARS && canonical.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    valid.then_some(canonical)
}

/// What is stored of a recovery code: SHA-256 of its canonical form (80 random bits need no
/// slow hash); `None` when `typed` cannot be a recovery code.
pub fn recovery_code_hash(typed: &str) -> Option<Vec<u8>> {
    normalise_recovery_code(typed).map(|c| crate::http::auth::hash_secret(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// RFC 6238 Appendix B's SHA-1 key, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret(Secret::from(b"12345678901234567890".to_vec()).to_base32())
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        // Appendix B lists 8 digits; a 6-digit code is the same number's last 6.
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            let code = &eight[2..];
            assert_eq!(
                verify_code(&rfc_secret(), code, at(time)).unwrap(),
                Some(time / 30),
                "{time}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_refused_beyond() {
        let secret = TotpSecret::generate();
        let now = at(1_800_000_015);
        let totp = secret.totp("a@example.com").unwrap();
        let code_at = |offset: i64| totp.generate((1_800_000_015 + offset * 30) as u64).to_string();
        for offset in -1..=1 {
            assert_eq!(
                verify_code(&secret, &code_at(offset), now).unwrap(),
                Some(step_of(now) + offset),
                "{offset}"
            );
        }
        for offset in [-3, -2, 2, 3] {
            let code = code_at(offset);
            // One code in a million is the same at two steps: skip that coincidence.
            if (-1..=1).any(|o| code_at(o) == code) {
                continue;
            }
            assert_eq!(verify_code(&secret, &code, now).unwrap(), None, "{offset}");
        }
    }

    #[test]
    fn only_six_digits_are_a_code() {
        let secret = rfc_secret();
        let now = at(59);
        assert_eq!(verify_code(&secret, "287 082", now).unwrap(), Some(1));
        for wrong in ["", "28708", "2870820", "+87082", "28708a", "２８７０８２", "94287082"] {
            assert_eq!(verify_code(&secret, wrong, now).unwrap(), None, "{wrong:?}");
        }
    }

    #[test]
    fn the_otpauth_url_names_issuer_account_and_secret() {
        let secret = TotpSecret::generate();
        let url = otpauth_url(&secret, "a:b@example.com").unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.scheme(), "otpauth");
        assert_eq!(parsed.host_str(), Some("totp"));
        assert_eq!(
            parsed.path(),
            "/PingTower:a_b%40example.com",
            "the label is percent-encoded"
        );
        let query: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(query["secret"], secret.base32());
        assert_eq!(query["issuer"], ISSUER);
        // The secret round-trips through the URL parser of the same crate.
        let back = Totp::from_url(&url).unwrap();
        assert_eq!(
            back.generate(1_800_000_000),
            secret.totp("x").unwrap().generate(1_800_000_000)
        );
    }

    #[test]
    fn secrets_are_160_random_bits_and_never_shown_by_debug() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_ne!(a, b);
        assert_eq!(a.base32().len(), 32, "20 bytes are 32 base32 characters");
        assert_eq!(TotpSecret::from_base32(&a.base32().to_lowercase()), Some(a.clone()));
        assert_eq!(TotpSecret::from_base32("JBSWY3DP"), None, "40 bits are too few");
        assert!(!format!("{a:?}").contains(a.base32()));
    }

    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg = qr_svg("otpauth://totp/PingTower:a@example.com?secret=ABC&issuer=PingTower").unwrap();
        assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.len() < 64 * 1024);
    }

    #[test]
    fn recovery_codes_are_ten_distinct_80_bit_codes_read_forgivingly() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let pattern = regex::Regex::new(r"^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$").unwrap();
        for code in &codes {
            assert!(pattern.is_match(code), "{code}");
            let hash = recovery_code_hash(code).unwrap();
            let typed = code
                .to_uppercase()
                .replace('-', " ")
                .replace('0', "O")
                .replace('1', "l");
            assert_eq!(recovery_code_hash(&typed), Some(hash.clone()), "{typed}");
            assert_eq!(recovery_code_hash(&format!(" {} ", code.replace('-', ""))), Some(hash));
        }
        for wrong in [
            "",
            "abcd-efgh-jkmn-pqr",
            "abcd-efgh-jkmn-pqrsu",
            "abcd-efgh-jkmn-pqru",
            "123456",
        ] {
            assert_eq!(recovery_code_hash(wrong), None, "{wrong}");
        }
        assert_eq!(recovery_code_hash(&"a".repeat(MAX_CODE_LEN + 1)), None);
    }
}
