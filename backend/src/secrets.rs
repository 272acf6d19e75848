//! Write-only secrets of target specs: basic-auth passwords, bearer tokens and the values of
//! secret headers ([`HttpHeader::is_secret`]).
//!
//! - **At rest**: `targets.spec` keeps [`SECRET_MASK`] in place of every secret, so whatever
//!   reads specs (lists, history, the incident engine, the llm-service) never sees one. The
//!   values live in `targets.secrets`: nonce ‖ ChaCha20-Poly1305 ciphertext of a JSON map
//!   keyed by place ([`Secrets`]), under `PINGTOWER_SECRET_KEY`.
//! - **In answers**: [`mask_json`] masks every secret place again and marks it `secret: true`
//!   (also legacy plaintext specs written before encryption).
//! - **In writes**: a mask sent back keeps the stored value of the same place ([`resolve`]); a
//!   mask with nothing stored there is refused, naming the field.
//! - **Decrypted** only into jobs: the scheduler and "Test now" [`fill`] a job's spec.

use std::collections::BTreeMap;

use anyhow::Context;
use common::messages::{CheckSpec, HttpAuth, is_secret_header_name};
use serde_json::Value;

use crate::error::ApiError;

/// What every API answer and export shows in place of a secret value.
pub const SECRET_MASK: &str = "********";

/// The secret values of one target, keyed by place (`auth:basic`, `auth:bearer`,
/// `header:<lower-case name>:<occurrence>`). Its `Debug` shows the places only.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Secrets(BTreeMap<String, String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    /// Whether there is no secret.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stored value of `place`.
    fn get(&self, place: &str) -> Option<&String> {
        self.0.get(place)
    }
}

pub use common::sealed::SecretKey;

/// One secret place of a spec: its key in [`Secrets`], its field path below `spec`, its value.
struct Place<'a> {
    key: String,
    field: String,
    value: &'a mut String,
}

/// Every secret place of `spec` (HTTP checks only carry secrets).
fn places(spec: &mut CheckSpec) -> Vec<Place<'_>> {
    let CheckSpec::Http(h) = spec else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, header) in h.headers.iter_mut().enumerate() {
        let lower = header.name.to_ascii_lowercase();
        let n = seen.entry(lower.clone()).or_default();
        let occurrence = *n;
        *n += 1;
        if header.is_secret() {
            // Stored specs carry the marker, so answers show it without a name check.
            header.secret = true;
            out.push(Place {
                key: format!("header:{lower}:{occurrence}"),
                field: format!("headers[{i}].value"),
                value: &mut header.value,
            });
        }
    }
    match &mut h.auth {
        Some(HttpAuth::Basic { password, .. }) => out.push(Place {
            key: "auth:basic".into(),
            field: "auth.password".into(),
            value: password,
        }),
        Some(HttpAuth::Bearer { token }) => out.push(Place {
            key: "auth:bearer".into(),
            field: "auth.token".into(),
            value: token,
        }),
        None => {}
    }
    out
}

/// Replaces each mask in `spec` by the value `old` holds for the same place. A mask with no
/// stored value is refused, naming `{prefix}.{field}`.
pub fn resolve(prefix: &str, spec: &mut CheckSpec, old: Option<&Secrets>) -> Result<(), ApiError> {
    for p in places(spec) {
        if p.value != SECRET_MASK {
            continue;
        }
        match old.and_then(|o| o.get(&p.key)) {
            Some(v) => *p.value = v.clone(),
            None => {
                return Err(ApiError::validation(
                    format!("{prefix}.{}", p.field),
                    format!("{SECRET_MASK} stands for a stored secret, but none is stored here; send the value"),
                ));
            }
        }
    }
    Ok(())
}

/// The first secret field of `spec` (`{prefix}.headers[0].value`), if it has any.
pub fn first_field(prefix: &str, spec: &CheckSpec) -> Option<String> {
    let mut spec = spec.clone();
    places(&mut spec)
        .into_iter()
        .next()
        .map(|p| format!("{prefix}.{}", p.field))
}

/// Moves every secret out of `spec` (leaving the mask and the `secret` marker).
pub fn take(spec: &mut CheckSpec) -> Secrets {
    let mut out = BTreeMap::new();
    for p in places(spec) {
        out.insert(p.key, std::mem::replace(p.value, SECRET_MASK.to_owned()));
    }
    Secrets(out)
}

/// Puts the values of `secrets` back into `spec` (for a job).
pub fn fill(spec: &mut CheckSpec, secrets: &Secrets) {
    for p in places(spec) {
        if let Some(v) = secrets.get(&p.key) {
            *p.value = v.clone();
        }
    }
}

/// Masks every secret of a spec's JSON and marks it `secret: true` (for answers and exports;
/// also covers plaintext specs stored before encryption).
pub fn mask_json(spec: &mut Value) {
    if spec.get("kind").and_then(Value::as_str) != Some("http") {
        return;
    }
    if let Some(headers) = spec.get_mut("headers").and_then(Value::as_array_mut) {
        for h in headers.iter_mut().filter_map(Value::as_object_mut) {
            let named = h.get("name").and_then(Value::as_str).is_some_and(is_secret_header_name);
            let marked = h.get("secret").and_then(Value::as_bool) == Some(true);
            if named || marked {
                h.insert("value".into(), SECRET_MASK.into());
                h.insert("secret".into(), true.into());
            }
        }
    }
    if let Some(auth) = spec.get_mut("auth").and_then(Value::as_object_mut) {
        for key in ["password", "token"] {
            if auth.contains_key(key) {
                auth.insert(key.into(), SECRET_MASK.into());
            }
        }
        auth.insert("secret".into(), true.into());
    }
}

/// The masked spec and the sealed secrets to store for `spec`. Without a key, a spec with a
/// secret is refused (naming its field under `prefix`); without secrets nothing is sealed.
pub fn seal_spec(
    key: Option<&SecretKey>,
    prefix: &str,
    spec: &CheckSpec,
) -> Result<(CheckSpec, Option<Vec<u8>>), ApiError> {
    let mut masked = spec.clone();
    let secrets = take(&mut masked);
    if secrets.is_empty() {
        return Ok((masked, None));
    }
    let Some(key) = key else {
        let field = first_field(prefix, spec).unwrap_or_else(|| prefix.to_owned());
        return Err(ApiError::validation(
            field,
            "this value is a secret, and storing secrets needs PINGTOWER_SECRET_KEY (base64 of 32 bytes) \
             to be configured on the server",
        ));
    };
    Ok((masked, Some(key.seal(&secrets))))
}

/// The secrets stored for a target: opened from `sealed`, or (a target stored before
/// encryption) taken from the plaintext of its spec.
pub fn stored(key: Option<&SecretKey>, spec: &CheckSpec, sealed: Option<&[u8]>) -> anyhow::Result<Secrets> {
    match sealed {
        Some(bytes) => key
            .context("this target's secrets are encrypted but PINGTOWER_SECRET_KEY is not set")?
            .open(bytes),
        None => Ok(take(&mut spec.clone())),
    }
}

/// Encrypts plaintext secrets of specs stored before encryption (idempotent: a sealed target
/// is skipped). Does nothing without a key. Returns how many targets it sealed.
pub async fn seal_legacy(pool: &sqlx::PgPool, key: Option<&SecretKey>) -> anyhow::Result<u64> {
    let Some(key) = key else {
        return Ok(0);
    };
    let rows = sqlx::query!("select id, spec from targets where secrets is null and kind = 'http'")
        .fetch_all(pool)
        .await?;
    let mut sealed = 0;
    for row in rows {
        let (id, spec) = (row.id, row.spec);
        let Ok(spec) = serde_json::from_value::<CheckSpec>(spec) else {
            continue;
        };
        let mut masked = spec;
        let secrets = take(&mut masked);
        if secrets.is_empty() {
            continue;
        }
        // `secrets is null` again: another backend starting at the same time may have sealed it.
        let done = sqlx::query!(
            "update targets set spec = $2, secrets = $3 where id = $1 and secrets is null",
            id,
            sqlx::types::Json(&masked) as _,
            key.seal(&secrets)
        )
        .execute(pool)
        .await?;
        sealed += done.rows_affected();
    }
    if sealed > 0 {
        tracing::info!(targets = sealed, "encrypted the plaintext secrets of stored targets");
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use common::messages::{HttpHeader, HttpSpec};
    use secrecy::SecretString;

    fn spec() -> CheckSpec {
        let mut h = HttpSpec::get("https://example.com/");
        h.headers = vec![
            HttpHeader::new("X-Api-Key", "k1"),
            HttpHeader::new("Accept", "text/plain"),
            HttpHeader {
                secret: true,
                ..HttpHeader::new("X-Custom", "c1")
            },
        ];
        h.auth = Some(HttpAuth::Basic {
            username: "u".into(),
            password: "pw".into(),
        });
        CheckSpec::Http(h)
    }

    fn key() -> SecretKey {
        let k = SecretString::from(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        SecretKey::from_config(Some(&k)).unwrap().unwrap()
    }

    #[test]
    fn sealed_secrets_open_with_the_same_key_and_only_with_it() {
        let mut s = spec();
        let secrets = take(&mut s);
        let sealed = key().seal(&secrets);
        assert_eq!(key().open::<Secrets>(&sealed).unwrap(), secrets);
        let other = SecretString::from(base64::engine::general_purpose::STANDARD.encode([8u8; 32]));
        let other = SecretKey::from_config(Some(&other)).unwrap().unwrap();
        assert!(other.open::<Secrets>(&sealed).is_err());
        assert!(!String::from_utf8_lossy(&sealed).contains("pw"));
    }

    #[test]
    fn taking_masks_every_secret_and_filling_restores_them() {
        let original = spec();
        let mut s = original.clone();
        let secrets = take(&mut s);
        let json = serde_json::to_string(&s).unwrap();
        for v in ["k1", "c1", "\"pw\""] {
            assert!(!json.contains(v), "{v} in {json}");
        }
        assert!(json.contains("text/plain"));
        fill(&mut s, &secrets);
        let CheckSpec::Http(h) = &s else { unreachable!() };
        assert_eq!(h.headers[0].value, "k1");
        assert_eq!(h.headers[2].value, "c1");
        assert_eq!(
            h.auth,
            Some(HttpAuth::Basic {
                username: "u".into(),
                password: "pw".into()
            })
        );
    }

    #[test]
    fn a_mask_resolves_to_the_stored_value_of_its_place_or_is_refused() {
        let mut stored_spec = spec();
        let old = take(&mut stored_spec);
        let mut again = stored_spec.clone();
        resolve("spec", &mut again, Some(&old)).unwrap();
        let CheckSpec::Http(h) = &again else { unreachable!() };
        assert_eq!(h.headers[0].value, "k1");
        let mut fresh = stored_spec.clone();
        let e = resolve("targets[2].spec", &mut fresh, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("targets[2].spec.headers[0].value"));
    }

    #[test]
    fn masked_json_hides_plaintext_and_marks_it() {
        let mut v = serde_json::to_value(spec()).unwrap();
        mask_json(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("k1") && !text.contains("c1") && !text.contains("\"pw\""),
            "{text}"
        );
        assert_eq!(v["auth"]["secret"], true);
        assert_eq!(v["headers"][0]["secret"], true);
        assert_eq!(v["headers"][1].get("secret"), None);
    }

    #[test]
    fn debug_output_names_places_not_values() {
        let mut s = spec();
        let secrets = take(&mut s);
        let shown = format!("{secrets:?}");
        assert!(shown.contains("auth:basic") && !shown.contains("pw"), "{shown}");
    }
}
