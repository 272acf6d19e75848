//! A fake of Telegram's Bot API on loopback: records every call, answers the methods the
//! notifier uses in Telegram's JSON shape, and queues updates (messages the "user" sends).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::{Value, json};

/// One recorded Bot API call.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub body: Value,
    /// The id of the message sent or edited.
    pub message_id: Option<i64>,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    updates: Vec<Value>,
    next_update_id: i64,
    next_message_id: i64,
}

#[derive(Clone)]
pub struct FakeTelegram {
    inner: Arc<Mutex<Inner>>,
    pub url: String,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            next_update_id: 1,
            next_message_id: 100,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/{bot}/{method}", post(handle).get(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { inner, url }
    }

    /// The user sends `text` to the bot from private chat `chat_id`.
    pub fn user_says(&self, chat_id: i64, text: &str) {
        let mut inner = self.inner.lock().unwrap();
        let update_id = inner.next_update_id;
        inner.next_update_id += 1;
        inner.next_message_id += 1;
        let command_len = text
            .split_whitespace()
            .next()
            .filter(|w| w.starts_with('/'))
            .map(str::len);
        let mut message = json!({
            "message_id": inner.next_message_id,
            "date": chrono::Utc::now().timestamp(),
            "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
            "from": {"id": chat_id, "is_bot": false, "first_name": "Ann", "language_code": "en"},
            "text": text,
        });
        if let Some(len) = command_len {
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        inner.updates.push(json!({"update_id": update_id, "message": message}));
    }

    /// Every call of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .cloned()
            .collect()
    }

    /// Texts sent to `chat_id` (sendMessage), in order.
    pub fn sent_to(&self, chat_id: i64) -> Vec<Call> {
        self.calls("sendMessage")
            .into_iter()
            .filter(|c| c.body.get("chat_id").and_then(chat_id_of) == Some(chat_id))
            .collect()
    }
}

fn chat_id_of(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((_bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Method names are case-insensitive in the Bot API (teloxide sends `GetUpdates`).
    let method = method.to_ascii_lowercase();
    if method == "getupdates" {
        let offset = body.get("offset").and_then(Value::as_i64).unwrap_or(0);
        // Long polling, shortened: answer as soon as there is something, or after a second.
        for _ in 0..20 {
            let ready: Vec<Value> = {
                let mut guard = inner.lock().unwrap();
                guard.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                guard.updates.clone()
            };
            if !ready.is_empty() {
                return axum::Json(json!({"ok": true, "result": ready}));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        return axum::Json(json!({"ok": true, "result": []}));
    }
    let mut guard = inner.lock().unwrap();
    let result = match method.as_str() {
        "getme" => json!({
            "id": 4_200_000, "is_bot": true, "first_name": "PingTower", "username": "pingtower_test_bot",
            "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
            "can_connect_to_business": false, "has_main_web_app": false
        }),
        "sendmessage" | "editmessagetext" => {
            guard.next_message_id += 1;
            let message_id = if method == "editmessagetext" {
                body.get("message_id")
                    .and_then(Value::as_i64)
                    .unwrap_or(guard.next_message_id)
            } else {
                guard.next_message_id
            };
            let chat_id = body.get("chat_id").and_then(chat_id_of).unwrap_or(0);
            json!({
                "message_id": message_id,
                "date": chrono::Utc::now().timestamp(),
                "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
                "text": body.get("text").cloned().unwrap_or(Value::Null),
            })
        }
        _ => json!(true),
    };
    guard.calls.push(Call {
        method: method.clone(),
        body: body.clone(),
        message_id: result.get("message_id").and_then(Value::as_i64),
    });
    axum::Json(json!({"ok": true, "result": result}))
}
