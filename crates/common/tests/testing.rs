//! The shared test helpers keep their promises: promtool's verdict is passed on, the fakes
//! answer in their APIs' shapes and record what they were sent.

use common::testing::{ClosedPort, FakeTelegram, OpenAiStub, assert_promtool_accepts, ports_for_other_processes};
use serde_json::{Value, json};

/// POSTs `body` as JSON to `url`; the JSON answer.
async fn post_json(url: String, body: &Value) -> Value {
    let response = reqwest::Client::new().post(url).json(body).send().await;
    response
        .expect("the fake answers")
        .json()
        .await
        .expect("the answer is JSON")
}

#[tokio::test]
async fn promtool_accepts_described_metrics() {
    // Arrange
    let exposition =
        "# HELP pingtower_things_total Things done\n# TYPE pingtower_things_total counter\npingtower_things_total 3\n";

    // Act + Assert
    assert_promtool_accepts(exposition).await;
}

#[tokio::test]
#[should_panic(expected = "no help text")]
async fn promtool_rejects_a_metric_without_help() {
    // Arrange
    let exposition = "# TYPE pingtower_things_total counter\npingtower_things_total 3\n";

    // Act + Assert
    assert_promtool_accepts(exposition).await;
}

#[tokio::test]
async fn the_fake_telegram_answers_and_records_sends_whatever_the_methods_case() {
    // Arrange
    let telegram = FakeTelegram::start().await;

    // Act
    let sent: Value = post_json(
        format!("{}/bot123:abc/SendMessage", telegram.url),
        &json!({"chat_id": "42", "text": "hello"}),
    )
    .await;

    // Assert
    assert_eq!(sent["ok"], true);
    let calls = telegram.sent_to(42);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].text(), "hello");
    assert_eq!(calls[0].message_id, sent["result"]["message_id"].as_i64());
}

#[tokio::test]
async fn the_fake_telegram_hands_out_what_users_say_as_updates() {
    // Arrange
    let telegram = FakeTelegram::start().await;
    telegram.user_says(7, "/start token");

    // Act
    let updates: Value = post_json(format!("{}/bot123:abc/getUpdates", telegram.url), &json!({"offset": 0})).await;

    // Assert
    let message = &updates["result"][0]["message"];
    assert_eq!(message["text"], "/start token");
    assert_eq!(message["entities"][0]["type"], "bot_command");
    assert_eq!(message["entities"][0]["length"], 6);
}

#[tokio::test]
async fn the_openai_stub_answers_a_chat_completion_with_the_tests_text() {
    // Arrange
    let stub = OpenAiStub::start(|request| format!("seen {} bytes", request.len())).await;
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});

    // Act
    let answer: Value = post_json(format!("{}/chat/completions", stub.url), &request).await;

    // Assert
    let expected = format!("seen {} bytes", request.to_string().len());
    assert_eq!(answer["choices"][0]["message"]["content"], expected.as_str());
    assert_eq!(stub.requests(), vec![request.to_string()]);
}

#[tokio::test]
async fn a_closed_port_refuses_connections_and_stays_taken() {
    // Arrange
    let closed = ClosedPort::new();

    // Act
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", closed.port)).await;
    let bind = std::net::TcpListener::bind(("127.0.0.1", closed.port));

    // Assert
    let refused = connect.map(drop).map_err(|e| e.kind());
    assert_eq!(refused, Err(std::io::ErrorKind::ConnectionRefused));
    assert!(bind.is_err(), "nobody else can bind it while it is held");
}

#[test]
fn ports_for_other_processes_are_distinct_free_and_below_the_ephemeral_range() {
    // Arrange
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let ephemeral_low: u16 = range.split_whitespace().next().unwrap().parse().unwrap();

    // Act
    let ports = ports_for_other_processes(6);

    // Assert
    let distinct: std::collections::HashSet<u16> = ports.iter().copied().collect();
    assert_eq!(distinct.len(), 6, "{ports:?}");
    for port in ports {
        assert!((20000..ephemeral_low).contains(&port), "{port}");
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "{port} is free"
        );
    }
}
