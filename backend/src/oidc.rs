//! Single sign-on with OpenID Connect, the protocol side (no axum, no database): the provider's
//! metadata and keys from discovery, the authorization URL (code flow with PKCE S256, `state`
//! and `nonce`), the code exchange and the ID token's validation (signature against the
//! provider's JWKS, issuer, audience, expiry, nonce, access-token hash) by the `openidconnect`
//! crate, and the identity it proves: subject, email, whether the provider verified the email,
//! and the organisation role its claim maps to.
//!
//! The issuer is the operator's choice (`PINGTOWER_OIDC_ISSUER`), so its requests do not pass
//! the address guard that user-supplied URLs do (an in-house Keycloak on a private address is
//! normal); they never follow redirects (openidconnect's advice: a redirect from the token
//! endpoint would be a way to reach elsewhere), are bounded in time, and answers are read up
//! to [`MAX_ANSWER_BYTES`].
//!
//! The metadata and JWKS are cached for [`METADATA_MAX_AGE`] and fetched again after any
//! failure: an ID token whose signature no cached key verifies is checked once more against
//! keys fetched anew (the provider may have rotated them), and a failed token exchange drops
//! the cache so the next sign-in discovers again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::{RoleMap, SignInConfig};

/// Longest answer read from the provider (discovery, JWKS, token, userinfo).
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest a request to the provider may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long discovered metadata and keys are used before they are fetched again.
pub const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// Values of the role claim looked at, at most (and bytes of each).
const MAX_ROLE_VALUES: usize = 1000;
const MAX_ROLE_VALUE_BYTES: usize = 256;
/// Longest subject kept (OpenID Connect Core: at most 255 ASCII characters).
const MAX_SUBJECT_BYTES: usize = 255;

/// The path of the callback under `PINGTOWER_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/api/auth/oidc/callback";

/// Claims beyond the standard ones, kept so that the configured role claim can be read by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type TokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<TokenFields, CoreTokenType>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The signature algorithms accepted on ID tokens: the asymmetric ones (a token signed with
/// the client secret, or not at all, is refused).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why a sign-in failed; [`SignInError::code`] is what the browser is told.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Discovery or the JWKS could not be fetched or read.
    #[error("provider discovery failed: {0}")]
    Discovery(String),
    /// The token endpoint refused the code or did not answer.
    #[error("token exchange failed: {0}")]
    Exchange(String),
    /// The token answer had no ID token.
    #[error("the token answer has no ID token")]
    NoIdToken,
    /// The ID token's signature is not one of the provider's keys.
    #[error("ID token signature: {0}")]
    Signature(String),
    /// The ID token has expired.
    #[error("ID token expired: {0}")]
    Expired(String),
    /// The ID token's nonce is not the one this sign-in sent.
    #[error("ID token nonce: {0}")]
    Nonce(String),
    /// Another check of the ID token failed (issuer, audience, access-token hash, ...).
    #[error("ID token invalid: {0}")]
    Invalid(String),
    /// The userinfo endpoint failed.
    #[error("userinfo failed: {0}")]
    UserInfo(String),
}

impl SignInError {
    /// A stable code for the sign-in page (`/login?error=<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Discovery(_) => "provider_unavailable",
            Self::Exchange(_) => "token_exchange_failed",
            Self::NoIdToken => "id_token_missing",
            Self::Signature(_) => "id_token_signature",
            Self::Expired(_) => "id_token_expired",
            Self::Nonce(_) => "id_token_nonce",
            Self::Invalid(_) => "id_token_invalid",
            Self::UserInfo(_) => "userinfo_failed",
        }
    }
}

/// A sign-in about to be sent to the provider.
pub struct Started {
    /// The provider's authorization URL to redirect the browser to.
    pub url: url::Url,
    /// The `state` sent (kept server-side, hashed).
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE verifier whose S256 challenge was sent (the browser keeps it in a cookie).
    pub pkce_verifier: String,
}

/// What a valid ID token (and userinfo) proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The issuer, as configured (and as the token names it).
    pub issuer: String,
    /// The subject: the user's stable id at the provider.
    pub subject: String,
    /// The email the provider reports, if any (not normalised).
    pub email: Option<String>,
    /// Whether the provider says it verified that email (`email_verified`).
    pub email_verified: bool,
    /// The organisation role the role claim maps to, when one is configured and matches.
    pub role: Option<&'static str>,
}

/// The configured OpenID provider and the cache of its metadata.
pub struct Provider {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    scopes: Vec<Scope>,
    role_claim: Option<String>,
    role_map: RoleMap,
    http: Http,
    clock: Clock,
    cached: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    client: Arc<OidcClient>,
    fetched: Instant,
}

impl Provider {
    /// The provider of `config` (`None` when single sign-on is not configured); the callback is
    /// `public_url` + [`CALLBACK_PATH`]; ID tokens expire by `clock`.
    pub fn new(config: &SignInConfig, public_url: &url::Url, clock: Clock) -> anyhow::Result<Option<Self>> {
        let (Some(issuer), Some(client_id)) = (&config.oidc_issuer, &config.oidc_client_id) else {
            return Ok(None);
        };
        let redirect = format!("{}{CALLBACK_PATH}", public_url.as_str().trim_end_matches('/'));
        let mut scopes: Vec<Scope> = vec![Scope::new("openid".into())];
        for scope in config.oidc_scopes.split_whitespace().filter(|s| *s != "openid") {
            scopes.push(Scope::new(scope.to_owned()));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT.min(Duration::from_secs(5)))
            .user_agent(concat!("PingTower/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            issuer: IssuerUrl::new(issuer.clone())?,
            client_id: ClientId::new(client_id.clone()),
            client_secret: config
                .oidc_client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose_secret().to_owned())),
            redirect: RedirectUrl::new(redirect)?,
            scopes,
            role_claim: config.oidc_role_claim.clone().filter(|c| !c.trim().is_empty()),
            role_map: config.oidc_role_map.clone(),
            http: Http(http),
            clock,
            cached: tokio::sync::Mutex::new(None),
        }))
    }

    /// The issuer, as configured.
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// The client over the cached metadata, discovered anew when there is none, when it is
    /// older than [`METADATA_MAX_AGE`], or when `fresh` asks for it. One discovery at a time.
    async fn client(&self, fresh: bool) -> Result<Arc<OidcClient>, SignInError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && !fresh
            && c.fetched.elapsed() < METADATA_MAX_AGE
        {
            return Ok(c.client.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| SignInError::Discovery(error_chain(&e)))?;
        let client = OidcClient::from_provider_metadata(metadata, self.client_id.clone(), self.client_secret.clone())
            .set_redirect_uri(self.redirect.clone());
        let client = Arc::new(client);
        *cached = Some(Cached {
            client: client.clone(),
            fetched: Instant::now(),
        });
        Ok(client)
    }

    /// Forgets the cached metadata: the next sign-in discovers again.
    async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// A new sign-in: the authorization URL with a fresh `state`, `nonce` and PKCE challenge.
    pub async fn start(&self) -> Result<Started, SignInError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.scopes.iter().skip(1) {
            request = request.add_scope(scope.clone());
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Ends a sign-in: exchanges `code` (with the PKCE verifier), validates the ID token
    /// against `nonce`, and reads the email and role claims from the ID token or, where it
    /// lacks them, from userinfo.
    pub async fn finish(&self, code: String, pkce_verifier: String, nonce: String) -> Result<Identity, SignInError> {
        let mut client = self.client(false).await?;
        let exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&self.http)
            .await;
        let tokens = match exchange {
            Ok(tokens) => tokens,
            Err(e) => {
                self.forget().await;
                return Err(SignInError::Exchange(error_chain(&e)));
            }
        };
        let id_token = tokens.id_token().ok_or(SignInError::NoIdToken)?;
        let nonce = Nonce::new(nonce);
        let verified = match self.verify(&client, id_token, &nonce) {
            // The provider may have rotated its keys since they were fetched: once more with
            // keys fetched now. (A signature failure needs a token the provider just issued to
            // this client for a code, so it cannot be used to make us fetch at will.)
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                client = self.client(true).await?;
                self.verify(&client, id_token, &nonce)
            }
            other => other,
        };
        let claims = verified.map_err(|e| match e {
            ClaimsVerificationError::SignatureVerification(e) => SignInError::Signature(e.to_string()),
            ClaimsVerificationError::Expired(e) => SignInError::Expired(e),
            ClaimsVerificationError::InvalidNonce(e) => SignInError::Nonce(e),
            other => SignInError::Invalid(other.to_string()),
        })?;
        // The access token must be the one issued with this ID token (when it says which).
        if let Some(expected) = claims.access_token_hash() {
            let verifier = self.verifier(&client);
            let actual = id_token
                .signing_alg()
                .and_then(|alg| Ok((alg, id_token.signing_key(&verifier)?)))
                .map_err(|e| SignInError::Invalid(e.to_string()))
                .and_then(|(alg, key)| {
                    AccessTokenHash::from_token(tokens.access_token(), alg, key)
                        .map_err(|e| SignInError::Invalid(e.to_string()))
                })?;
            if actual != *expected {
                return Err(SignInError::Invalid("the access token hash does not match".into()));
            }
        }
        let subject = claims.subject().as_str().to_owned();
        if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
            return Err(SignInError::Invalid("the subject is empty or too long".into()));
        }
        let mut email = claims.email().map(|e| e.as_str().to_owned());
        let mut email_verified = email.is_some() && claims.email_verified() == Some(true);
        let mut role_values = self.role_values(claims.additional_claims());
        let wants_role = self.role_claim.is_some() && role_values.is_none();
        // Providers keep the scope's claims in userinfo rather than in the ID token (OpenID
        // Connect Core 5.4, for the code flow): ask it when the token lacks any.
        if (email.is_none() || wants_role)
            && let Ok(request) = client.user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        {
            let info: openidconnect::UserInfoClaims<OtherClaims, CoreGenderClaim> = request
                .request_async(&self.http)
                .await
                .map_err(|e| SignInError::UserInfo(error_chain(&e)))?;
            if email.is_none() {
                email = info.email().map(|e| e.as_str().to_owned());
                email_verified = email.is_some() && info.email_verified() == Some(true);
            }
            if wants_role {
                role_values = self.role_values(info.additional_claims());
            }
        }
        let role = role_values.and_then(|values| self.role_map.role_for(values.iter().map(String::as_str)));
        Ok(Identity {
            issuer: self.issuer.as_str().to_owned(),
            subject,
            email,
            email_verified,
            role,
        })
    }

    fn verifier<'a>(&self, client: &'a OidcClient) -> openidconnect::IdTokenVerifier<'a, CoreJsonWebKey> {
        let clock = self.clock;
        client
            .id_token_verifier()
            .set_allowed_algs(ALGORITHMS)
            .set_time_fn(move || clock.now())
    }

    fn verify<'t>(
        &self,
        client: &OidcClient,
        id_token: &'t openidconnect::IdToken<
            OtherClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            CoreJwsSigningAlgorithm,
        >,
        nonce: &Nonce,
    ) -> Result<&'t openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>, ClaimsVerificationError> {
        id_token.claims(&self.verifier(client), nonce)
    }

    /// The role claim's values in `claims` (a string or a list of strings), if it is there.
    fn role_values(&self, claims: &OtherClaims) -> Option<Vec<String>> {
        let value = claims.0.get(self.role_claim.as_deref()?)?;
        Some(role_values(value))
    }
}

/// A claim's values: a string is one, a list its strings (bounded); anything else none.
fn role_values(value: &serde_json::Value) -> Vec<String> {
    let one = |v: &serde_json::Value| {
        v.as_str()
            .filter(|s| s.len() <= MAX_ROLE_VALUE_BYTES)
            .map(str::to_owned)
    };
    match value {
        serde_json::Value::Array(values) => values.iter().take(MAX_ROLE_VALUES).filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The provider's HTTP client: reqwest without redirects, answers bounded.
#[derive(Clone)]
struct Http(reqwest::Client);

/// A request to the provider that failed.
#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut answer = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            let mut response = openidconnect::http::Response::builder()
                .status(answer.status())
                .body(body)?;
            *response.headers_mut() = answer.headers().clone();
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_values_are_a_string_or_the_strings_of_a_list() {
        assert_eq!(role_values(&serde_json::json!("admins")), vec!["admins"]);
        assert_eq!(
            role_values(&serde_json::json!(["a", 1, "b", null, {"c": 1}])),
            vec!["a", "b"]
        );
        assert!(role_values(&serde_json::json!(true)).is_empty());
        let long = "x".repeat(MAX_ROLE_VALUE_BYTES + 1);
        assert!(role_values(&serde_json::json!([long])).is_empty());
        let many: Vec<String> = (0..MAX_ROLE_VALUES + 10).map(|i| i.to_string()).collect();
        assert_eq!(role_values(&serde_json::json!(many)).len(), MAX_ROLE_VALUES);
    }

    #[test]
    fn other_claims_keep_what_the_standard_claims_do_not_name() {
        let json = br#"{"sub": "s1", "email": "a@example.com", "email_verified": true, "groups": ["x"]}"#;
        let claims =
            openidconnect::UserInfoClaims::<OtherClaims, CoreGenderClaim>::from_json::<HttpError>(json, None).unwrap();
        assert_eq!(claims.email().map(|e| e.as_str()), Some("a@example.com"));
        assert_eq!(
            claims.additional_claims().0.get("groups"),
            Some(&serde_json::json!(["x"]))
        );
        assert!(!claims.additional_claims().0.contains_key("email"));
    }
}
