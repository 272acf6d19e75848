//! Two-factor sign-in against the running backend, with codes computed by an independent
//! implementation: Debian's `oathtool` (installed when missing). Most tests run the backend on
//! a clock that stands (almost) still at a chosen moment, so each code's time step is exactly
//! the one the test means.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, client, get_json, send_json, spawn_app_with};

/// The backend's time in the frozen-clock tests: 15 s into a time step (2027-01-15 08:00:15
/// UTC), so a step of 30 s either way stays clear of the step's edges.
const NOW: i64 = 1_800_000_015;
/// One time step.
const STEP: i64 = 30;

/// A clock reading [`NOW`] and running a thousand times slower than real time: a minute of
/// test moves it 60 ms.
fn frozen_clock() -> backend::clock::Clock {
    let origin = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    backend::clock::Clock::accelerated(origin, 0.001)
}

/// The code `oathtool` computes for base32 `secret` at Unix time `at`.
async fn oathtool(secret: &str, at: i64) -> String {
    ensure_oathtool().await;
    let out = tokio::process::Command::new("oathtool")
        .args(["--totp", "-b", secret, "-N", &format!("@{at}")])
        .output()
        .await
        .expect("oathtool runs");
    assert!(
        out.status.success(),
        "oathtool fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{code:?}");
    code
}

/// Installs Debian's `oathtool` when it is missing (as root, or through sudo; apt waits for a
/// concurrent install's lock).
async fn ensure_oathtool() {
    static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let runs = |program: &str, args: &[&str]| {
                std::process::Command::new(program)
                    .args(args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            };
            if runs("oathtool", &["--version"]) {
                return;
            }
            let installed = tokio::task::spawn_blocking(move || {
                let root = runs("sh", &["-c", "test \"$(id -u)\" = 0"]);
                for args in [
                    &["update"][..],
                    &["install", "-y", "--no-install-recommends", "oathtool"],
                ] {
                    let mut all: Vec<&str> = if root { vec![] } else { vec!["-n", "apt-get"] };
                    all.extend(["-o", "DPkg::Lock::Timeout=300", "-qq"]);
                    all.extend(args);
                    let status = std::process::Command::new(if root { "apt-get" } else { "sudo" })
                        .args(&all)
                        .env("DEBIAN_FRONTEND", "noninteractive")
                        .status();
                    assert!(
                        status.as_ref().is_ok_and(|s| s.success()),
                        "apt-get {args:?} (for oathtool) failed: {status:?}"
                    );
                }
            })
            .await;
            if let Err(panic) = installed {
                std::panic::resume_unwind(panic.into_panic());
            }
            assert!(
                runs("oathtool", &["--version"]),
                "oathtool is on PATH after installing it"
            );
        })
        .await;
}

/// A code that is wrong for `secret` at every step around [`NOW`] (one code in a million is
/// right at some step: never guess it).
async fn wrong_code(secret: &str) -> String {
    let mut near = Vec::new();
    for offset in -3..=3 {
        near.push(oathtool(secret, NOW + offset * STEP).await);
    }
    ["000000", "111111", "222222"]
        .into_iter()
        .find(|w| !near.iter().any(|n| n == w))
        .unwrap()
        .to_owned()
}

/// POSTs `body` to `path` with `c`.
async fn post(app: &TestApp, c: &reqwest::Client, path: &str, body: Value) -> reqwest::Response {
    send_json(c.post(app.url(path)), body).await
}

/// Starts enrolment for `c`: the base32 secret.
async fn setup(app: &TestApp, c: &reqwest::Client) -> String {
    let r = post(app, c, "/api/account/2fa/setup", json!({})).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["secret"].as_str().unwrap().to_owned()
}

/// Enrols `c` with the code of `at`: the secret and the recovery codes.
async fn enrol(app: &TestApp, c: &reqwest::Client, at: i64) -> (String, Vec<String>) {
    let secret = setup(app, c).await;
    let r = post(
        app,
        c,
        "/api/account/2fa/enable",
        json!({"code": oathtool(&secret, at).await}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let codes = v["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// Logs `c` in with the password: the challenge (asserting that no session was started).
async fn challenge(app: &TestApp, c: &reqwest::Client, email: &str) -> String {
    let r = app.login(c, email, PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session before the second factor"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["two_factor_required"], true, "{v}");
    assert!(v.get("id").is_none(), "no user before the second factor: {v}");
    v["challenge"].as_str().unwrap().to_owned()
}

/// The second step with `factor` (`{"code": …}` or `{"recovery_code": …}`).
async fn second_step(app: &TestApp, c: &reqwest::Client, challenge: &str, factor: Value) -> reqwest::Response {
    let mut body = factor;
    body["challenge"] = json!(challenge);
    post(app, c, "/api/auth/login/2fa", body).await
}

async fn status_of(c: &reqwest::Client, url: String) -> u16 {
    c.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn oathtool_codes_are_accepted_one_step_either_side_once_each_and_enrolment_revokes_older_sessions() {
    // Arrange: a user with a second session and an API token, on a clock standing at NOW.
    let app = spawn_app_with(|c| {
        c.api.clock = frozen_clock();
        c.api.login_max_failures = 100;
    })
    .await;
    let email = "two@example.com";
    let enrolling = app.user(email).await;
    let older = client();
    assert_eq!(app.login(&older, email, PASSWORD).await.status(), 200);
    let token = app.token(&enrolling, "write").await;
    let me = app.url("/api/auth/me");
    let off = get_json(&enrolling, app.url("/api/account/2fa")).await;
    assert_eq!(
        off,
        json!({"enabled": false, "enabled_at": null, "recovery_codes_left": 0})
    );

    // Setup: the secret, its otpauth URL and QR code, shown once and never cached.
    let r = post(&app, &enrolling, "/api/account/2fa/setup", json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let shown: Value = r.json().await.unwrap();
    let secret = shown["secret"].as_str().unwrap().to_owned();
    let url = url::Url::parse(shown["otpauth_url"].as_str().unwrap()).unwrap();
    assert_eq!(url.scheme(), "otpauth");
    assert_eq!(
        url.path(),
        "/PingTower:two%40example.com",
        "the label is percent-encoded"
    );
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["secret"], secret);
    assert_eq!(query["issuer"], "PingTower");
    let svg = shown["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.ends_with("</svg>"), "{svg}");
    let pending = get_json(&enrolling, app.url("/api/account/2fa")).await;
    assert_eq!(pending["enabled"], false, "pending until a code is entered");
    assert!(
        !pending.to_string().contains(&secret),
        "the secret is never shown again"
    );

    // Enable: codes two and three steps away are refused, one step back is accepted.
    for offset in [-2, 2, -3, 3] {
        let code = oathtool(&secret, NOW + offset * STEP).await;
        let r = post(&app, &enrolling, "/api/account/2fa/enable", json!({"code": code})).await;
        assert_error(r, 422, "validation", Some("code")).await;
    }
    let code = oathtool(&secret, NOW - STEP).await;
    let r = post(&app, &enrolling, "/api/account/2fa/enable", json!({"code": code})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let enabled: Value = r.json().await.unwrap();
    assert_eq!(enabled["recovery_codes"].as_array().unwrap().len(), 10);
    assert!(enabled["enabled_at"].is_string());

    // Sessions made before enrolment are revoked (the enrolling one stays); tokens still work.
    assert_eq!(status_of(&enrolling, me.clone()).await, 200);
    assert_eq!(status_of(&older, me.clone()).await, 401);
    let by_token = client().get(&me).bearer_auth(&token).send().await.unwrap();
    assert_eq!(by_token.status(), 200);
    let on = get_json(&enrolling, app.url("/api/account/2fa")).await;
    assert_eq!(on["enabled"], true);
    assert_eq!(on["enabled_at"], enabled["enabled_at"]);
    assert_eq!(on["recovery_codes_left"], 10);
    let again = post(&app, &enrolling, "/api/account/2fa/setup", json!({})).await;
    assert_error(again, 409, "conflict", None).await;

    // A password alone starts no session.
    let fresh = client();
    let first = challenge(&app, &fresh, email).await;
    assert_eq!(status_of(&fresh, me.clone()).await, 401);

    // The enabling code's step is used; two steps away is outside the window.
    for offset in [-1, -2, 2] {
        let code = oathtool(&secret, NOW + offset * STEP).await;
        let r = second_step(&app, &fresh, &first, json!({"code": code})).await;
        assert_error(r, 401, "unauthorized", Some("code")).await;
    }
    let r = second_step(&app, &fresh, &first, json!({"code": oathtool(&secret, NOW).await})).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"].to_str().unwrap().starts_with("pt_session="));
    let user: Value = r.json().await.unwrap();
    assert_eq!(user["email"], email);
    assert_eq!(status_of(&fresh, me.clone()).await, 200);
    let used = second_step(
        &app,
        &client(),
        &first,
        json!({"code": oathtool(&secret, NOW + STEP).await}),
    )
    .await;
    assert_error(used, 401, "unauthorized", Some("challenge")).await;

    // The current step is used now: it is refused, one step ahead is accepted, once.
    let other = client();
    let second = challenge(&app, &other, email).await;
    let replay = second_step(&app, &other, &second, json!({"code": oathtool(&secret, NOW).await})).await;
    assert_error(replay, 401, "unauthorized", Some("code")).await;
    let ahead = second_step(
        &app,
        &other,
        &second,
        json!({"code": oathtool(&secret, NOW + STEP).await}),
    )
    .await;
    assert_eq!(ahead.status(), 200);
    let third_client = client();
    let third = challenge(&app, &third_client, email).await;
    for offset in [1, 0, -1] {
        let code = oathtool(&secret, NOW + offset * STEP).await;
        let r = second_step(&app, &third_client, &third, json!({"code": code})).await;
        assert_error(r, 401, "unauthorized", Some("code")).await;
    }
    assert_eq!(status_of(&third_client, me).await, 401);
}

#[tokio::test]
async fn each_recovery_code_signs_in_once_and_new_ones_replace_the_old() {
    let app = spawn_app_with(|c| {
        c.api.clock = frozen_clock();
        c.api.login_max_failures = 100;
    })
    .await;
    let email = "recover@example.com";
    let c = app.user(email).await;
    let (secret, codes) = enrol(&app, &c, NOW - STEP).await;
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);

    // Nine codes, each once (one typed in capitals without dashes); the code before is refused.
    for (i, code) in codes.iter().take(9).enumerate() {
        let browser = client();
        let ch = challenge(&app, &browser, email).await;
        if i > 0 {
            let again = second_step(&app, &browser, &ch, json!({"recovery_code": codes[i - 1]})).await;
            assert_error(again, 401, "unauthorized", Some("recovery_code")).await;
        }
        let typed = if i == 4 {
            code.to_uppercase().replace('-', "")
        } else {
            code.clone()
        };
        let r = second_step(&app, &browser, &ch, json!({"recovery_code": typed})).await;
        assert_eq!(r.status(), 200, "recovery code {i}");
        assert_eq!(status_of(&browser, app.url("/api/auth/me")).await, 200);
    }
    let status = get_json(&c, app.url("/api/account/2fa")).await;
    assert_eq!(status["recovery_codes_left"], 1);

    // New codes need a current code; the last old one stops working, the new ones work.
    let wrong = wrong_code(&secret).await;
    let wrong = post(&app, &c, "/api/account/2fa/recovery-codes", json!({"code": wrong})).await;
    assert_error(wrong, 422, "validation", Some("code")).await;
    let code = oathtool(&secret, NOW).await;
    let r = post(&app, &c, "/api/account/2fa/recovery-codes", json!({"code": code})).await;
    assert_eq!(r.status(), 200);
    let fresh: Vec<String> =
        serde_json::from_value(r.json::<Value>().await.unwrap()["recovery_codes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|f| !codes.contains(f)));
    assert_eq!(
        get_json(&c, app.url("/api/account/2fa")).await["recovery_codes_left"],
        10
    );
    let browser = client();
    let ch = challenge(&app, &browser, email).await;
    let old = second_step(&app, &browser, &ch, json!({"recovery_code": codes[9]})).await;
    assert_error(old, 401, "unauthorized", Some("recovery_code")).await;
    let both = second_step(
        &app,
        &browser,
        &ch,
        json!({"recovery_code": fresh[0], "code": "123456"}),
    )
    .await;
    assert_error(both, 422, "validation", Some("recovery_code")).await;
    let neither = second_step(&app, &browser, &ch, json!({})).await;
    assert_error(neither, 422, "validation", Some("code")).await;
    assert_eq!(
        second_step(&app, &browser, &ch, json!({"recovery_code": fresh[0]}))
            .await
            .status(),
        200
    );

    // Disabling needs the password and a second factor.
    let disable = |body: Value| post(&app, &c, "/api/account/2fa/disable", body);
    let r = disable(json!({"password": "not the password", "recovery_code": fresh[1]})).await;
    assert_error(r, 401, "unauthorized", Some("password")).await;
    let r = disable(json!({"password": PASSWORD})).await;
    assert_error(r, 422, "validation", Some("code")).await;
    let r = disable(json!({"password": PASSWORD, "code": oathtool(&secret, NOW).await})).await;
    assert_error(r, 422, "validation", Some("code")).await;
    let r = disable(json!({"password": PASSWORD, "recovery_code": fresh[0]})).await;
    assert_error(r, 422, "validation", Some("recovery_code")).await;
    let r = disable(json!({"password": PASSWORD, "recovery_code": fresh[1]})).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        get_json(&c, app.url("/api/account/2fa")).await,
        json!({"enabled": false, "enabled_at": null, "recovery_codes_left": 0})
    );
    let r = disable(json!({"password": PASSWORD, "recovery_code": fresh[2]})).await;
    assert_error(r, 409, "conflict", None).await;
    // Signing in is one step again.
    let browser = client();
    let r = app.login(&browser, email, PASSWORD).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"].to_str().unwrap().starts_with("pt_session="));
    assert_eq!(r.json::<Value>().await.unwrap()["email"], email);
}

#[tokio::test]
async fn wrong_codes_are_limited_per_challenge_and_per_client_and_challenges_expire() {
    // Arrange: 3 failures per (account, client); client addresses from X-Forwarded-For.
    let app = spawn_app_with(|c| {
        c.api.clock = frozen_clock();
        c.api.login_max_failures = 3;
        c.edge.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let email = "limit@example.com";
    let c = app.user(email).await;
    let (secret, _) = enrol(&app, &c, NOW - STEP).await;
    let right = oathtool(&secret, NOW).await;
    let wrong = wrong_code(&secret).await;
    let wrong = wrong.as_str();
    let from = |ip: &'static str| {
        reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(
                [(
                    reqwest::header::HeaderName::from_static("x-forwarded-for"),
                    reqwest::header::HeaderValue::from_static(ip),
                )]
                .into_iter()
                .collect(),
            )
            .build()
            .unwrap()
    };

    // Per (account, client): three wrong codes, then even the right one waits.
    let a = from("203.0.113.1");
    let ch = challenge(&app, &a, email).await;
    for _ in 0..3 {
        let r = second_step(&app, &a, &ch, json!({"code": wrong})).await;
        assert_error(r, 401, "unauthorized", Some("code")).await;
    }
    let r = second_step(&app, &a, &ch, json!({"code": right})).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));

    // Per challenge: five codes in all, from any client; then the password again.
    let b = from("203.0.113.2");
    let ch = challenge(&app, &b, email).await;
    for ip in [
        "203.0.113.2",
        "203.0.113.2",
        "203.0.113.3",
        "203.0.113.3",
        "203.0.113.4",
    ] {
        let r = second_step(&app, &from(ip), &ch, json!({"code": wrong})).await;
        assert_error(r, 401, "unauthorized", Some("code")).await;
    }
    let r = second_step(&app, &b, &ch, json!({"code": right})).await;
    assert_error(r, 401, "unauthorized", Some("challenge")).await;

    // An expired challenge is refused; a fresh one takes the right code.
    let ch = challenge(&app, &b, email).await;
    sqlx::query("update login_challenges set expires_at = now() - interval '1 second'")
        .execute(&app.pg.pool)
        .await
        .unwrap();
    let r = second_step(&app, &b, &ch, json!({"code": right})).await;
    assert_error(r, 401, "unauthorized", Some("challenge")).await;
    let e = from("203.0.113.5");
    let ch = challenge(&app, &e, email).await;
    assert_eq!(second_step(&app, &e, &ch, json!({"code": right})).await.status(), 200);
    let r = second_step(&app, &e, "not a challenge", json!({"code": right})).await;
    assert_error(r, 401, "unauthorized", Some("challenge")).await;

    // A signed-in user's wrong codes count too (a borrowed session is no way to guess).
    for _ in 0..3 {
        let r = post(&app, &c, "/api/account/2fa/recovery-codes", json!({"code": wrong})).await;
        assert_error(r, 422, "validation", Some("code")).await;
    }
    let r = post(&app, &c, "/api/account/2fa/recovery-codes", json!({"code": right})).await;
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn on_the_real_clock_the_code_of_now_enrols_and_the_next_step_signs_in() {
    let app = spawn_app_with(|c| c.api.login_max_failures = 100).await;
    let email = "real@example.com";
    let c = app.user(email).await;
    let secret = setup(&app, &c).await;
    let now = chrono::Utc::now().timestamp();
    let stale = oathtool(&secret, now - 3 * STEP).await;
    let r = post(&app, &c, "/api/account/2fa/enable", json!({"code": stale})).await;
    assert_error(r, 422, "validation", Some("code")).await;
    let r = post(
        &app,
        &c,
        "/api/account/2fa/enable",
        json!({"code": oathtool(&secret, now).await}),
    )
    .await;
    assert_eq!(r.status(), 200);
    // The next step is inside the window (and after the step just used) even if a step
    // boundary passes meanwhile.
    let browser = client();
    let ch = challenge(&app, &browser, email).await;
    let next = oathtool(&secret, now + STEP).await;
    let r = second_step(&app, &browser, &ch, json!({"code": next})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(status_of(&browser, app.url("/api/auth/me")).await, 200);
}

#[tokio::test]
async fn without_a_secret_key_setup_is_unavailable_and_the_api_documents_every_route() {
    let app = spawn_app_with(|c| c.api.secret_key = None).await;
    let c = app.user("nokey@example.com").await;
    let r = post(&app, &c, "/api/account/2fa/setup", json!({})).await;
    let body = assert_error(r, 503, "unavailable", None).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PINGTOWER_SECRET_KEY")
    );
    let r = post(&app, &c, "/api/account/2fa/enable", json!({"code": "123456"})).await;
    assert_error(r, 409, "conflict", None).await;

    let doc = get_json(&client(), app.url("/api/openapi.json")).await;
    for (path, method) in [
        ("/api/account/2fa", "get"),
        ("/api/account/2fa/setup", "post"),
        ("/api/account/2fa/enable", "post"),
        ("/api/account/2fa/disable", "post"),
        ("/api/account/2fa/recovery-codes", "post"),
        ("/api/auth/login/2fa", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let second = &doc["paths"]["/api/auth/login/2fa"]["post"];
    assert_eq!(second["security"], json!([{}]), "the second step is public");
    for status in ["200", "401", "422", "429"] {
        assert!(second["responses"][status].is_object(), "{status}");
    }
    let login = &doc["paths"]["/api/auth/login"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(login["$ref"], "#/components/schemas/LoginAnswer", "{login}");
    let answer = doc["components"]["schemas"]["LoginAnswer"].to_string();
    assert!(
        answer.contains("TwoFactorChallenge") && answer.contains("User"),
        "{answer}"
    );
    let enable = &doc["paths"]["/api/account/2fa/enable"]["post"]["responses"];
    for status in ["200", "401", "409", "422", "429"] {
        assert!(enable[status].is_object(), "enable {status}");
    }
}

#[tokio::test]
async fn an_organisation_that_requires_two_factor_refuses_members_without_it_until_they_enrol() {
    let app = spawn_app_with(|c| c.api.clock = frozen_clock()).await;
    let owner = app.user("owner@example.com").await;
    let r = post(&app, &owner, "/api/organisations", json!({"name": "Ops"})).await;
    let org = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = send_json(
        owner.put(app.url("/api/session/organisation")),
        json!({"organisation_id": org}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &app,
        &owner,
        "/api/organisation/invitations",
        json!({"email": "m@example.com", "role": "editor"}),
    )
    .await;
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let member = app.user("m@example.com").await;
    let r = post(&app, &member, &format!("/api/invitations/{token}/accept"), json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(status_of(&member, app.url("/api/targets")).await, 200);
    // Only an admin may require it; then a member without a second factor is refused there…
    let r = send_json(member.patch(app.url("/api/organisation")), json!({"require_2fa": true})).await;
    assert_eq!(r.status(), 403);
    let r = send_json(owner.patch(app.url("/api/organisation")), json!({"require_2fa": true})).await;
    assert_eq!(r.status(), 200);
    let r = member.get(app.url("/api/targets")).send().await.unwrap();
    let body = assert_error(r, 403, "forbidden", None).await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("two-factor"),
        "{body}"
    );
    // …while their own account and organisations still answer, so they can enrol or leave.
    assert_eq!(status_of(&member, app.url("/api/account/2fa")).await, 200);
    assert_eq!(status_of(&member, app.url("/api/organisations")).await, 200);
    let (_secret, _codes) = enrol(&app, &member, NOW).await;
    assert_eq!(status_of(&member, app.url("/api/targets")).await, 200);
}
