//! A stand-in for an OpenAI-compatible provider on loopback: answers chat completions with a
//! well-formed report grounded in the result ids the request carries.

use common::testing::OpenAiStub;
use serde_json::json;

/// Starts the provider: every chat completion is answered by [`grounded_report`].
pub async fn start() -> OpenAiStub {
    OpenAiStub::start(grounded_report).await
}

/// A well-formed report (as JSON text) grounded in the result ids the request `text` carries.
fn grounded_report(text: &str) -> String {
    // The facts travel as JSON inside the JSON request: quotes arrive escaped.
    let ids: Vec<String> =
        regex::Regex::new(r#"result_id\\?"\s*:\s*\\?"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"#)
            .unwrap()
            .captures_iter(text)
            .map(|c| c[1].to_owned())
            .collect();
    let opened = regex::Regex::new(r#"event\\?"\s*:\s*\\?"opened"#)
        .unwrap()
        .is_match(text);
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
    report.to_string()
}
