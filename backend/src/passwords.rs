//! Passwords: the length rule and Argon2id hashing and verification behind the bounded hash
//! queue.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted (hashing cost is bounded).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Refuses a password shorter than [`MIN_PASSWORD_LEN`] or longer than [`MAX_PASSWORD_LEN`]
/// characters (422 naming `field`).
pub fn check_password(field: &str, password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(ApiError::validation(
            field,
            format!("password must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > MAX_PASSWORD_LEN {
        return Err(ApiError::validation(
            field,
            format!("password must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Hashes a password with Argon2id (OWASP parameters) off the async threads; 503 with
/// `Retry-After` when the hash queue is full.
pub async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    let _permit = state.edge.hash_queue.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

/// Verifies a password against a stored hash off the async threads; 503 with `Retry-After`
/// when the hash queue is full.
pub async fn verify_password(state: &AppState, password: String, hash: String) -> ApiResult<bool> {
    let _permit = state.edge.hash_queue.acquire().await?;
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .map_err(ApiError::internal)
}

/// A hash nobody's password matches, verified for unknown emails so that timing does not
/// tell which emails have accounts.
pub static DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yb0oCqr/dbmyTyhnn3Lzh0fqZg+0nZfYTcuMPYkAwJw";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn passwords_are_counted_in_characters() {
        assert!(check_password("password", &"é".repeat(MIN_PASSWORD_LEN)).is_ok());
        let short = check_password("password", &"x".repeat(MIN_PASSWORD_LEN - 1)).unwrap_err();
        assert_eq!(short.field.as_deref(), Some("password"));
        assert!(check_password("password", &"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }
}
