//! A local fake of the Telegram Bot API: records every request, answers sendMessage,
//! editMessageText, answerCallbackQuery, getUpdates (from a queue the test fills) and getMe,
//! and can answer 429 (`retry_after`) or 403 (bot blocked) on demand.

#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: std::time::Instant,
    pub at_utc: DateTime<Utc>,
}

impl Call {
    pub fn chat(&self) -> Option<i64> {
        self.body.get("chat_id").and_then(Value::as_i64)
    }
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

/// The running fake.
#[derive(Clone)]
pub struct FakeTelegram {
    pub url: String,
    inner: Arc<Inner>,
}

pub const BOT_USER_ID: i64 = 999_000;

impl FakeTelegram {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        inner.next_message.store(100, Ordering::SeqCst);
        inner.next_update.store(1, Ordering::SeqCst);
        let app = axum::Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}"),
            inner,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.method == method).collect()
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

    /// A user writes `text` in their private chat `chat`.
    pub fn user_says(&self, chat: i64, text: &str) {
        let message = json!({
            "message_id": self.inner.next_message.fetch_add(1, Ordering::SeqCst),
            "date": Utc::now().timestamp(),
            "chat": {"id": chat, "type": "private", "first_name": "Ann", "username": "ann"},
            "from": {"id": chat, "is_bot": false, "first_name": "Ann", "username": "ann", "language_code": "en"},
            "text": text,
        });
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
        "from": {"id": BOT_USER_ID, "is_bot": true, "first_name": "PingTower", "username": "pt_bot"},
        "text": text,
    })
}

fn ok(result: Value) -> Json<Value> {
    Json(json!({"ok": true, "result": result}))
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
    if method != "getUpdates" {
        inner.calls.lock().unwrap().push(Call {
            method: method.clone(),
            body: body.clone(),
            at: std::time::Instant::now(),
            at_utc: Utc::now(),
        });
    }
    let chat = body.get("chat_id").and_then(Value::as_i64).unwrap_or_default();
    match method.as_str() {
        "sendMessage" | "editMessageText" => {
            if inner.blocked.lock().unwrap().contains(&chat) {
                return Json(
                    json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
                );
            }
            if method == "sendMessage" {
                let mut limited = inner.rate_limited.lock().unwrap();
                if limited.0 > 0 {
                    limited.0 -= 1;
                    let after = limited.1;
                    return Json(json!({
                        "ok": false, "error_code": 429,
                        "description": format!("Too Many Requests: retry after {after}"),
                        "parameters": {"retry_after": after}
                    }));
                }
            }
            let id = match method.as_str() {
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
            "id": BOT_USER_ID, "is_bot": true, "first_name": "PingTower", "username": "pt_bot",
            "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false
        })),
        _ => ok(json!(true)),
    }
}
