//! A stand-in for an OpenAI-compatible provider on loopback: answers chat completions with a
//! well-formed report grounded in the result ids the request carries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Clone)]
pub struct LlmStub {
    pub url: String,
    pub requests: Arc<AtomicU64>,
    /// Every request body the provider received, as text.
    pub bodies: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Seen {
    requests: Arc<AtomicU64>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl LlmStub {
    pub async fn start() -> Self {
        let requests = Arc::new(AtomicU64::new(0));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(Seen {
                requests: requests.clone(),
                bodies: bodies.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, requests, bodies }
    }
}

async fn complete(State(seen): State<Seen>, body: axum::body::Bytes) -> axum::Json<Value> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8_lossy(&body);
    seen.bodies.lock().unwrap().push(text.clone().into_owned());
    // The facts travel as JSON inside the JSON request: quotes arrive escaped.
    let ids: Vec<String> =
        regex::Regex::new(r#"result_id\\?"\s*:\s*\\?"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"#)
            .unwrap()
            .captures_iter(&text)
            .map(|c| c[1].to_owned())
            .collect();
    let opened = regex::Regex::new(r#"event\\?"\s*:\s*\\?"opened"#)
        .unwrap()
        .is_match(&text);
    let report = if opened {
        json!({
            "summary": "The health endpoint answers HTTP 503 Service Unavailable.",
            "probable_cause": "The service behind the endpoint is overloaded or down and reports itself unavailable (HTTP 503).",
            "impact": "Users of this service get errors.",
            "recommended_actions": ["Check the application's logs and restart it if it is stuck."],
            "claims": [{"text": "HTTP 503 from the health endpoint", "result_ids": ids.iter().take(1).cloned().collect::<Vec<_>>()}]
        })
    } else {
        json!({
            "summary": "The service answers normally again.",
            "probable_cause": "The earlier failure has cleared.",
            "impact": "None now.",
            "recommended_actions": ["Review why it failed."],
            "claims": [{"text": "answers again", "result_ids": ids.iter().take(1).cloned().collect::<Vec<_>>()}]
        })
    };
    axum::Json(json!({
        "id": "chatcmpl-acceptance",
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": "stub-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": report.to_string()},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    }))
}
