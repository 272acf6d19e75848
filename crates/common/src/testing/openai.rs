//! A stand-in for an OpenAI-compatible provider on loopback (the provider is outside the
//! machine): answers `POST /v1/chat/completions` in the API's JSON shape with the text a test
//! writes for each request, and records every request.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

/// Writes the assistant's message for one request body (the request's JSON, as text).
pub type Answer = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The running stub; it serves until the test's runtime ends.
#[derive(Clone)]
pub struct OpenAiStub {
    /// The API's base URL, `/v1` included (the provider's `base_url`).
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Stub {
    answer: Answer,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl OpenAiStub {
    /// Starts the stub on a port of its own (bound once, held while it runs); `answer` writes
    /// the assistant's message content for each request.
    pub async fn start(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(Stub {
                answer: Arc::new(answer),
                bodies: bodies.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port for the OpenAI stub");
        let url = format!("http://{}/v1", listener.local_addr().expect("bound address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, bodies }
    }

    /// Every request body received so far, as text, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.bodies.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// An OpenAI chat completion whose assistant message is `content`.
pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_795_000_000u32,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    })
}

async fn complete(State(stub): State<Stub>, body: axum::body::Bytes) -> axum::Json<Value> {
    let text = String::from_utf8_lossy(&body).into_owned();
    let content = (stub.answer)(&text);
    stub.bodies.lock().unwrap_or_else(|p| p.into_inner()).push(text);
    axum::Json(completion(&content))
}
