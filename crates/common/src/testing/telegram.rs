//! A fake of Telegram's Bot API on loopback (Telegram is outside the machine): records every
//! call, answers sendMessage, editMessageText, answerCallbackQuery, getUpdates (long polling,
//! from a queue the test fills) and getMe in the Bot API's JSON shape, and can answer 429
//! (`retry_after`) or 403 (bot blocked) on demand.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// One recorded Bot API call (getUpdates is not recorded).
#[derive(Debug, Clone)]
pub struct Call {
    /// The method, as the Bot API documents it (`sendMessage`).
    pub method: String,
    /// The request's JSON body.
    pub body: Value,
    /// The id of the message sent or edited, when the call succeeded.
    pub message_id: Option<i64>,
    /// When it arrived.
    pub at: std::time::Instant,
    /// When it arrived, in UTC.
    pub at_utc: DateTime<Utc>,
}

impl Call {
    /// The `chat_id` it names (a number, or a number in a string).
    pub fn chat(&self) -> Option<i64> {
        self.body.get("chat_id").and_then(chat_id_of)
    }

    /// The `text` it carries, or "".
    pub fn text(&self) -> &str {
        self.body.get("text").and_then(Value::as_str).unwrap_or_default()
    }
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    updates: Mutex<VecDeque<Value>>,
    next_message: AtomicI64,
    next_update: AtomicI64,
    blocked: Mutex<HashSet<i64>>,
    rate_limited: Mutex<(u32, u32)>,
    notify: tokio::sync::Notify,
}

/// The running fake; it serves until the test's runtime ends.
#[derive(Clone)]
pub struct FakeTelegram {
    /// The Bot API's base URL (the bot's `api_url`).
    pub url: String,
    inner: Arc<Inner>,
}

/// The bot's user id.
pub const BOT_USER_ID: i64 = 999_000;
/// The bot's username (getMe).
pub const BOT_USERNAME: &str = "pt_bot";

impl FakeTelegram {
    /// Starts the fake on a port of its own (bound once, held while it runs).
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        inner.next_message.store(100, Ordering::SeqCst);
        inner.next_update.store(1, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(handle).get(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port for the fake Bot API");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            inner,
        }
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    /// Every call of `method` so far (case-insensitive, as the Bot API's method names).
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .collect()
    }

    /// Messages sent (successfully or not) to `chat`.
    pub fn sent_to(&self, chat: i64) -> Vec<Call> {
        self.calls_of("sendMessage")
            .into_iter()
            .filter(|c| c.chat() == Some(chat))
            .collect()
    }

    /// The next `n` sendMessage calls answer 429 with `retry_after` seconds.
    pub fn rate_limit_next(&self, n: u32, retry_after: u32) {
        *self.inner.rate_limited.lock().unwrap() = (n, retry_after);
    }

    /// Every message to `chat` answers 403 (bot blocked).
    pub fn block(&self, chat: i64) {
        self.inner.blocked.lock().unwrap().insert(chat);
    }

    /// A user writes `text` in their private chat `chat` (a leading `/command` marked as a
    /// bot command entity, as Telegram does).
    pub fn user_says(&self, chat: i64, text: &str) {
        let mut message = json!({
            "message_id": self.inner.next_message.fetch_add(1, Ordering::SeqCst),
            "date": Utc::now().timestamp(),
            "chat": {"id": chat, "type": "private", "first_name": "Ann", "username": "ann"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "username": "ann", "language_code": "en"},
            "text": text,
        });
        let command = text.split_whitespace().next().filter(|w| w.starts_with('/'));
        if let Some(command) = command {
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": command.len()}]);
        }
        self.push(json!({"message": message}));
    }

    /// A user writes `text` in a group chat.
    pub fn group_says(&self, chat: i64, user: i64, text: &str) {
        let message = json!({
            "message_id": self.inner.next_message.fetch_add(1, Ordering::SeqCst),
            "date": Utc::now().timestamp(),
            "chat": {"id": chat, "type": "group", "title": "Ops"},
            "from": {"id": user, "is_bot": false, "first_name": "Ann"},
            "text": text,
        });
        self.push(json!({"message": message}));
    }

    /// A user presses a button with `data` under message `message_id` in chat `chat`.
    pub fn user_presses(&self, chat: i64, message_id: i64, data: &str) {
        let id = self.inner.next_update.load(Ordering::SeqCst);
        let query = json!({
            "id": format!("cq{id}"),
            "from": {"id": chat, "is_bot": false, "first_name": "Ann"},
            "message": message_json(message_id, chat, "alert"),
            "chat_instance": "ci",
            "data": data,
        });
        self.push(json!({"callback_query": query}));
    }

    fn push(&self, mut update: Value) {
        let id = self.inner.next_update.fetch_add(1, Ordering::SeqCst);
        update["update_id"] = json!(id);
        self.inner.updates.lock().unwrap().push_back(update);
        self.inner.notify.notify_waiters();
    }

    /// Waits until `pred` holds for the recorded calls, or panics after `timeout`.
    pub async fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; calls: {calls:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn message_json(id: i64, chat: i64, text: &str) -> Value {
    json!({
        "message_id": id,
        "date": Utc::now().timestamp(),
        "chat": {"id": chat, "type": "private", "first_name": "Ann"},
        "from": {"id": BOT_USER_ID, "is_bot": true, "first_name": "PingTower", "username": BOT_USERNAME},
        "text": text,
    })
}

fn ok(result: Value) -> Value {
    json!({"ok": true, "result": result})
}

fn chat_id_of(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path((_bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Telegram's method names are case-insensitive; teloxide sends `SendMessage`.
    let mut chars = method.chars();
    let method: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    let (at, at_utc) = (std::time::Instant::now(), Utc::now());
    let answer = answer(&inner, &method, &body).await;
    if method != "getUpdates" {
        let message_id = answer["result"]["message_id"].as_i64();
        inner.calls.lock().unwrap().push(Call {
            method,
            body,
            message_id,
            at,
            at_utc,
        });
    }
    Json(answer)
}

/// The Bot API's answer to `method` with `body`.
async fn answer(inner: &Inner, method: &str, body: &Value) -> Value {
    let chat = body.get("chat_id").and_then(chat_id_of).unwrap_or_default();
    match method {
        "sendMessage" | "editMessageText" => {
            if inner.blocked.lock().unwrap().contains(&chat) {
                return json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"});
            }
            if method == "sendMessage" {
                let mut limited = inner.rate_limited.lock().unwrap();
                if limited.0 > 0 {
                    limited.0 -= 1;
                    let after = limited.1;
                    return json!({
                        "ok": false, "error_code": 429,
                        "description": format!("Too Many Requests: retry after {after}"),
                        "parameters": {"retry_after": after}
                    });
                }
            }
            let id = match method {
                "sendMessage" => inner.next_message.fetch_add(1, Ordering::SeqCst),
                _ => body.get("message_id").and_then(Value::as_i64).unwrap_or_default(),
            };
            let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
            ok(message_json(id, chat, text))
        }
        "getUpdates" => {
            let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
            for _ in 0..2 {
                let notified = inner.notify.notified();
                {
                    let mut updates = inner.updates.lock().unwrap();
                    while updates
                        .front()
                        .is_some_and(|u| u["update_id"].as_i64().unwrap_or(0) < offset)
                    {
                        updates.pop_front();
                    }
                    if !updates.is_empty() {
                        return ok(Value::Array(updates.iter().cloned().collect()));
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(300), notified).await;
            }
            ok(json!([]))
        }
        "getMe" => ok(json!({
            "id": BOT_USER_ID, "is_bot": true, "first_name": "PingTower", "username": BOT_USERNAME,
            "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false
        })),
        _ => ok(json!(true)),
    }
}
