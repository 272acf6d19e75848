//! Single sign-on against a real OpenID provider: `oidc-provider` (backend/tests/oidc-provider,
//! unmodified, with its own discovery, JWKS, PKCE, tokens and userinfo) on a loopback port,
//! reached through a small proxy of this test's own that stands where a network would: it
//! counts JWKS fetches, can flip a byte of the ID token's signature in the token endpoint's
//! answer, and can be pointed at another provider process (new keys, same issuer). The browser
//! is a reqwest client with a cookie store that follows every redirect by hand and fills in
//! the provider's login and consent forms.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{PASSWORD, TestApp, client, get_json, spawn_app_with};

const CLIENT_ID: &str = "pingtower";
const CLIENT_SECRET: &str = "a-client-secret-of-the-test-provider";

/// The accounts of the test provider: login → claims.
fn accounts() -> Value {
    json!({
        "alice": {"email": "Alice@Example.com", "email_verified": true, "name": "Alice",
                  "groups": ["pingtower-viewers", "staff", "pingtower-admins"]},
        "bob": {"email": "bob@example.com", "email_verified": true, "groups": ["pingtower-viewers"]},
        "mallory": {"email": "carol@example.com", "email_verified": false},
        "nomail": {"groups": []},
    })
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// `npm ci` in the provider's folder unless its packages are there (the test command installs
/// them first; a test run on its own does it here, one process at a time).
async fn ensure_installed() {
    let dir = provider_dir();
    let installed = |dir: &PathBuf| dir.join("node_modules/oidc-provider/package.json").exists();
    if installed(&dir) {
        return;
    }
    tokio::task::spawn_blocking(move || {
        let lock = std::fs::File::create(dir.join(".npm-ci.lock")).unwrap();
        lock.lock().unwrap();
        if !installed(&dir) {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("npm runs");
            assert!(status.success(), "npm ci in {}", dir.display());
        }
    })
    .await
    .unwrap();
}

/// A running `provider.mjs` (killed when dropped).
struct ProviderProcess {
    _child: tokio::process::Child,
    port: u16,
}

/// Starts the provider claiming `issuer`, with one client whose callback is `redirect`.
async fn start_provider(issuer: &str, redirect: &str) -> ProviderProcess {
    ensure_installed().await;
    let config = json!({
        "issuer": issuer,
        "port": 0,
        "clients": [{
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [redirect],
        }],
        "accounts": accounts(),
    });
    let mut child = tokio::process::Command::new("node")
        .arg("provider.mjs")
        .current_dir(provider_dir())
        .env("OIDC_TEST_CONFIG", config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("the provider prints its port");
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && let Some(port) = v["port"].as_u64()
            {
                return port as u16;
            }
        }
    })
    .await
    .expect("the provider listens within 60 s");
    // What it prints later (oidc-provider's notices) is read on, so it never writes to a
    // closed pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[oidc-provider] {line}");
        }
    });
    ProviderProcess { _child: child, port }
}

/// The proxy in front of the provider: the issuer's address.
#[derive(Clone)]
struct Proxy {
    upstream: Arc<AtomicU16>,
    tamper: Arc<AtomicBool>,
    jwks_fetches: Arc<AtomicUsize>,
    client: reqwest::Client,
}

impl Proxy {
    async fn serve(self, listener: tokio::net::TcpListener) {
        let app = axum::Router::new().fallback(forward).with_state(self);
        axum::serve(listener, app).await.unwrap();
    }
}

async fn forward(
    axum::extract::State(proxy): axum::extract::State<Proxy>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    if parts.uri.path() == "/jwks" {
        proxy.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    }
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    // The Host header stays: the provider names its endpoints after the host it was asked at.
    let headers = parts.headers;
    let upstream = proxy.upstream.load(Ordering::SeqCst);
    let answer = proxy
        .client
        .request(parts.method, format!("http://127.0.0.1:{upstream}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let mut headers = answer.headers().clone();
    let mut body = answer.bytes().await.unwrap().to_vec();
    if parts.uri.path() == "/token" && status.is_success() && proxy.tamper.load(Ordering::SeqCst) {
        body = flip_signature_byte(&body);
        headers.remove(axum::http::header::CONTENT_LENGTH);
    }
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The token answer with one character of the ID token's signature changed (to another
/// base64url character, so the token still parses and only the signature is wrong).
fn flip_signature_byte(body: &[u8]) -> Vec<u8> {
    let mut answer: Value = serde_json::from_slice(body).unwrap();
    let token = answer["id_token"].as_str().expect("an ID token").to_owned();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let mut signature = signature.as_bytes().to_vec();
    let i = signature.len() / 2;
    signature[i] = if signature[i] == b'A' { b'B' } else { b'A' };
    answer["id_token"] = format!("{signed}.{}", String::from_utf8(signature).unwrap()).into();
    serde_json::to_vec(&answer).unwrap()
}

/// A backend configured for single sign-on with the provider behind the proxy.
struct Sso {
    app: TestApp,
    proxy: Proxy,
    issuer: String,
    callback: String,
    _provider: ProviderProcess,
}

/// A free loopback port (the backend's: the provider must know the callback before the
/// backend starts), below Linux's ephemeral range (32768 and up), so no listener of a test
/// running beside this one, which binds port 0, can take it before the backend does.
fn free_port() -> u16 {
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

async fn sso_app(tweak: impl FnOnce(&mut backend::Config)) -> Sso {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let backend_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let callback = format!("http://{backend_addr}/api/auth/oidc/callback");
    let provider = start_provider(&issuer, &callback).await;
    let proxy = Proxy {
        upstream: Arc::new(AtomicU16::new(provider.port)),
        tamper: Arc::default(),
        jwks_fetches: Arc::default(),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    tokio::spawn(proxy.clone().serve(listener));
    let app = spawn_app_with(|c| {
        c.http.addr = backend_addr;
        c.api.public_url = format!("http://{backend_addr}").parse().unwrap();
        let sign_in = &mut c.api.sign_in;
        sign_in.oidc_issuer = Some(issuer.clone());
        sign_in.oidc_client_id = Some(CLIENT_ID.into());
        sign_in.oidc_client_secret = Some(CLIENT_SECRET.into());
        sign_in.oidc_scopes = "openid email profile groups".into();
        sign_in.oidc_role_claim = Some("groups".into());
        sign_in.oidc_role_map = backend::config::RoleMap(vec![
            ("pingtower-admins".into(), "admin"),
            ("pingtower-viewers".into(), "viewer"),
        ]);
        tweak(c);
    })
    .await;
    Sso {
        app,
        proxy,
        issuer,
        callback,
        _provider: provider,
    }
}

/// A browser: cookies kept, redirects followed by the test.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    assert!(
        r.status().is_redirection(),
        "{} {}: not a redirect",
        r.status(),
        r.url()
    );
    let to = r.headers()[reqwest::header::LOCATION].to_str().unwrap();
    r.url().join(to).unwrap().to_string()
}

impl Sso {
    /// `GET /api/auth/oidc/login` in `browser`: the provider's authorization URL.
    async fn begin(&self, browser: &reqwest::Client) -> String {
        let r = browser.get(self.app.url("/api/auth/oidc/login")).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let to = location(&r);
        assert!(
            to.starts_with(&format!("{}/auth?", self.issuer)),
            "{to} (issuer {})",
            self.issuer
        );
        to
    }

    /// Goes through the provider from `url` as `login` (login form, then consent) until it
    /// sends the browser back; that callback URL.
    async fn at_provider(&self, browser: &reqwest::Client, mut url: String, login: &str) -> String {
        for _ in 0..20 {
            if url.starts_with(&self.callback) {
                return url;
            }
            let r = browser.get(&url).send().await.unwrap();
            if r.status().is_redirection() {
                url = location(&r);
                continue;
            }
            let page = r.text().await.unwrap();
            let action = if page.contains(r#"data-prompt="login""#) {
                browser.post(format!("{url}/login")).form(&[("login", login)])
            } else if page.contains(r#"data-prompt="consent""#) {
                browser.post(format!("{url}/confirm"))
            } else {
                panic!("unexpected page at {url}: {page}");
            };
            let r = action.send().await.unwrap();
            url = location(&r);
        }
        panic!("the provider did not send the browser back");
    }

    /// `GET` of the callback `url` in `browser`: where the backend sends it.
    async fn callback(&self, browser: &reqwest::Client, url: &str) -> String {
        let r = browser.get(url).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap_or_default());
        r.headers()[reqwest::header::LOCATION].to_str().unwrap().to_owned()
    }

    /// A whole sign-in of `login` in `browser`; where the backend sends it at the end.
    async fn sign_in(&self, browser: &reqwest::Client, login: &str) -> String {
        let url = self.begin(browser).await;
        let callback = self.at_provider(browser, url, login).await;
        self.callback(browser, &callback).await
    }

    /// Who `browser` is signed in as (`None`: 401).
    async fn me(&self, browser: &reqwest::Client) -> Option<Value> {
        let r = browser.get(self.app.url("/api/auth/me")).send().await.unwrap();
        match r.status().as_u16() {
            200 => Some(r.json().await.unwrap()),
            401 => None,
            other => panic!("GET /api/auth/me: {other}"),
        }
    }

    async fn users(&self) -> Vec<(uuid::Uuid, String, bool, Option<String>)> {
        sqlx::query_as("select id, email, password_hash is not null, oidc_role from users order by created_at, email")
            .fetch_all(&self.app.pg.pool)
            .await
            .unwrap()
    }

    async fn identities(&self) -> Vec<(String, String, uuid::Uuid)> {
        sqlx::query_as("select issuer, subject, user_id from oidc_identities order by subject")
            .fetch_all(&self.app.pg.pool)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn single_sign_on_creates_an_account_just_in_time_with_the_mapped_role_and_signs_it_in() {
    // Arrange
    let sso = sso_app(|_| {}).await;
    let config = get_json(&client(), sso.app.url("/api/config")).await;
    assert_eq!(
        (config["oidc"].as_bool(), config["password_login"].as_bool()),
        (Some(true), Some(true))
    );
    let browser = browser();

    // Act
    let landed = sso.sign_in(&browser, "alice").await;

    // Assert: the dashboard, signed in as the provider's (verified) email, normalised.
    assert_eq!(landed, "/");
    let me = sso.me(&browser).await.expect("signed in");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["is_admin"], true, "the installation's first account is its admin");
    let users = sso.users().await;
    assert_eq!(users.len(), 1);
    let (id, _, has_password, role) = &users[0];
    assert_eq!(me["id"], id.to_string());
    assert!(!has_password, "a just-in-time account has no password");
    assert_eq!(role.as_deref(), Some("admin"), "the highest role of the mapped groups");
    assert_eq!(sso.identities().await, vec![(sso.issuer.clone(), "alice".into(), *id)]);
    let pending: i64 = sqlx::query_scalar("select count(*) from oidc_logins")
        .fetch_one(&sso.app.pg.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "the sign-in's state is consumed");

    // Signing in again (another browser, a new provider session) finds the same account by
    // its subject; a password sign-in of the password-less account is refused like a wrong one.
    let again = browser_signed_in(&sso, "alice").await;
    assert_eq!(sso.me(&again).await.unwrap()["id"], me["id"]);
    assert_eq!(sso.users().await.len(), 1);
    let r = sso.app.login(&client(), "alice@example.com", PASSWORD).await;
    crate::helpers::assert_error(r, 401, "unauthorized", None).await;
}

async fn browser_signed_in(sso: &Sso, login: &str) -> reqwest::Client {
    let b = browser();
    assert_eq!(sso.sign_in(&b, login).await, "/");
    b
}

#[tokio::test]
async fn a_verified_email_matches_the_password_account_and_an_unverified_one_is_refused() {
    // Arrange: bob and carol registered with passwords.
    let sso = sso_app(|_| {}).await;
    sso.app.user("bob@example.com").await;
    sso.app.user("carol@example.com").await;
    let before = sso.users().await;

    // Act: mallory's provider account claims carol's email, unverified.
    let mallory = browser();
    let refused = sso.sign_in(&mallory, "mallory").await;
    // bob's provider account has his email, verified.
    let bob = browser();
    let matched = sso.sign_in(&bob, "bob").await;

    // Assert
    assert_eq!(refused, "/login?error=email_not_verified");
    assert!(sso.me(&mallory).await.is_none(), "no session for an unverified email");
    assert_eq!(matched, "/");
    let me = sso.me(&bob).await.unwrap();
    assert_eq!(me["email"], "bob@example.com");
    let after = sso.users().await;
    assert_eq!(after.len(), 2, "matched, not duplicated: {after:?}");
    let bob_id = before.iter().find(|u| u.1 == "bob@example.com").unwrap().0;
    assert_eq!(me["id"], bob_id.to_string());
    assert_eq!(sso.identities().await, vec![(sso.issuer.clone(), "bob".into(), bob_id)]);
    let bob_row = after.iter().find(|u| u.0 == bob_id).unwrap();
    assert!(bob_row.2, "bob keeps his password");
    assert_eq!(bob_row.3.as_deref(), Some("viewer"));
    let r = sso.app.login(&client(), "bob@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn an_identity_without_an_account_is_refused_when_sign_ups_are_off_and_without_an_email() {
    // Arrange
    let sso = sso_app(|c| c.api.sign_in.oidc_sign_up = false).await;

    // Act
    let new_user = sso.sign_in(&browser(), "alice").await;
    let no_email = sso.sign_in(&browser(), "nomail").await;

    // Assert
    assert_eq!(new_user, "/login?error=sign_up_closed");
    assert_eq!(no_email, "/login?error=email_missing");
    assert!(sso.users().await.is_empty());
}

#[tokio::test]
async fn a_replayed_state_and_a_callback_in_another_browser_are_refused() {
    // Arrange: a sign-in that reached its callback.
    let sso = sso_app(|_| {}).await;
    let browser = browser();
    let url = sso.begin(&browser).await;
    let callback = sso.at_provider(&browser, url, "alice").await;
    assert_eq!(sso.callback(&browser, &callback).await, "/");

    // Act: the same callback again, in the same browser and in another.
    let replayed = sso.callback(&browser, &callback).await;
    let elsewhere = self::browser();
    let replayed_elsewhere = sso.callback(&elsewhere, &callback).await;

    // A sign-in started in one browser and finished in another (login CSRF).
    let victim = self::browser();
    let attacker = self::browser();
    let url = sso.begin(&attacker).await;
    let planted = sso.at_provider(&attacker, url, "bob").await;
    let csrf = sso.callback(&victim, &planted).await;

    // Assert
    assert_eq!(replayed, "/login?error=invalid_state");
    assert_eq!(replayed_elsewhere, "/login?error=invalid_state");
    assert!(sso.me(&elsewhere).await.is_none());
    assert_eq!(csrf, "/login?error=browser_mismatch");
    assert!(sso.me(&victim).await.is_none());
    assert_eq!(sso.users().await.len(), 1, "only alice's sign-in made an account");
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    // Arrange: the authorization request's nonce replaced on the way to the provider.
    let sso = sso_app(|_| {}).await;
    let browser = browser();
    let mut url = url::Url::parse(&sso.begin(&browser).await).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "not-the-nonce-we-sent".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    assert!(pairs.iter().any(|(k, _)| k == "nonce"), "a nonce is sent");
    url.query_pairs_mut().clear().extend_pairs(pairs);

    // Act
    let callback = sso.at_provider(&browser, url.to_string(), "alice").await;
    let landed = sso.callback(&browser, &callback).await;

    // Assert
    assert_eq!(landed, "/login?error=id_token_nonce");
    assert!(sso.me(&browser).await.is_none());
    assert!(sso.users().await.is_empty());
}

#[tokio::test]
async fn a_tampered_id_token_is_refused_after_the_keys_are_fetched_again() {
    // Arrange: the proxy flips a byte of the ID token's signature.
    let sso = sso_app(|_| {}).await;
    sso.proxy.tamper.store(true, Ordering::SeqCst);

    // Act
    let tampered = sso.sign_in(&browser(), "alice").await;
    let fetches_after_tampering = sso.proxy.jwks_fetches.load(Ordering::SeqCst);
    sso.proxy.tamper.store(false, Ordering::SeqCst);
    let untouched = sso.sign_in(&browser(), "alice").await;

    // Assert: refused for its signature, after one more look at the provider's keys; the same
    // sign-in untouched works (with the keys cached).
    assert_eq!(tampered, "/login?error=id_token_signature");
    assert_eq!(
        fetches_after_tampering, 2,
        "discovery's JWKS, then once more on the bad signature"
    );
    assert_eq!(untouched, "/");
    assert_eq!(sso.proxy.jwks_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(sso.users().await.len(), 1);
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    // Arrange: the backend's clock two hours ahead of the provider's, past the ID token's
    // lifetime (one hour).
    let ahead = chrono::Utc::now() + chrono::Duration::hours(2);
    let sso = sso_app(|c| c.api.clock = backend::clock::Clock::starting_at(ahead)).await;
    let browser = browser();

    // Act
    let landed = sso.sign_in(&browser, "alice").await;

    // Assert
    assert_eq!(landed, "/login?error=id_token_expired");
    assert!(sso.me(&browser).await.is_none());
    assert!(sso.users().await.is_empty());
}

#[tokio::test]
async fn new_signing_keys_of_the_provider_are_fetched_when_a_token_needs_them() {
    // Arrange: a sign-in caches the provider's keys; then the provider is replaced by one with
    // new keys at the same issuer.
    let sso = sso_app(|_| {}).await;
    assert_eq!(sso.sign_in(&browser(), "alice").await, "/");
    let rotated = start_provider(&sso.issuer, &sso.callback).await;
    sso.proxy.upstream.store(rotated.port, Ordering::SeqCst);

    // Act
    let landed = sso.sign_in(&browser(), "alice").await;

    // Assert
    assert_eq!(landed, "/");
    assert_eq!(sso.proxy.jwks_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(sso.users().await.len(), 1);
}

#[tokio::test]
async fn password_sign_in_turned_off_answers_403_and_the_config_says_so() {
    // Arrange
    let app = spawn_app_with(|c| c.api.sign_in.password_login = false).await;
    let c = client();

    // Act
    let register = app.register(&c, "alice@example.com", PASSWORD).await;
    let login = app.login(&c, "alice@example.com", PASSWORD).await;
    let config = get_json(&c, app.url("/api/config")).await;
    let sso = c.get(app.url("/api/auth/oidc/login")).send().await.unwrap();

    // Assert
    let body = crate::helpers::assert_error(register, 403, "forbidden", None).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("single sign-on"),
        "{body}"
    );
    crate::helpers::assert_error(login, 403, "forbidden", None).await;
    assert_eq!(
        (config["password_login"].as_bool(), config["oidc"].as_bool()),
        (Some(false), Some(false))
    );
    crate::helpers::assert_error(sso, 404, "not_found", None).await;
}

#[tokio::test]
async fn the_mapped_role_is_the_membership_of_the_configured_organisation() {
    // Arrange: a team organisation whose members the provider's groups decide.
    let team = uuid::Uuid::now_v7();
    let sso = sso_app(|c| c.api.sign_in.oidc_organisation = Some(team)).await;
    sqlx::query("insert into organisations (id, name) values ($1, 'SSO team')")
        .bind(team)
        .execute(&sso.app.pg.pool)
        .await
        .unwrap();
    let role_of = |user: String| {
        let pool = sso.app.pg.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("select role from memberships where org_id = $1 and user_id = $2::uuid")
                .bind(team)
                .bind(user)
                .fetch_optional(&pool)
                .await
                .unwrap()
        }
    };

    // Act: alice (admins and viewers) and bob (viewers) sign in.
    let alice = browser_signed_in(&sso, "alice").await;
    let bob = browser_signed_in(&sso, "bob").await;

    // Assert: each is a member with the highest mapped role, and may switch to it.
    let alice_id = sso.me(&alice).await.unwrap()["id"].as_str().unwrap().to_owned();
    let bob_id = sso.me(&bob).await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(role_of(alice_id).await.as_deref(), Some("admin"));
    assert_eq!(role_of(bob_id.clone()).await.as_deref(), Some("viewer"));
    let r = crate::helpers::send_json(
        bob.put(sso.app.url("/api/session/organisation")),
        json!({"organisation_id": team}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let me = sso.me(&bob).await.unwrap();
    assert_eq!(
        (me["organisation_id"].as_str(), me["role"].as_str()),
        (Some(team.to_string().as_str()), Some("viewer"))
    );
    // A role the provider no longer maps leaves the organisation at the next sign-in.
    sqlx::query("update memberships set role = 'editor' where org_id = $1 and user_id = $2::uuid")
        .bind(team)
        .bind(&bob_id)
        .execute(&sso.app.pg.pool)
        .await
        .unwrap();
    let _again = browser_signed_in(&sso, "bob").await;
    assert_eq!(
        role_of(bob_id).await.as_deref(),
        Some("viewer"),
        "the provider's role wins again"
    );
}
