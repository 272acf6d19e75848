use std::time::Duration;

use bus::testing::TestBroker;
use common::messages::RESULTS_STORE_QUEUE;
use common::testing::management_get;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret;

fn config(broker: &TestBroker, verify: bool) -> broker_init::Config {
    broker_init::Config {
        amqp: broker.config.clone(),
        verify,
        wait: Duration::from_secs(10),
    }
}

/// Queues (name, arguments) and bindings of the vhost, sorted, as the management API shows them.
async fn snapshot(broker: &TestBroker) -> (Vec<(String, serde_json::Value)>, Vec<(String, String, String)>) {
    let list = async |what: &str| {
        let path = format!("api/{what}/{}", broker.vhost);
        let all = management_get(&broker.config.management_url, &path).await;
        all.as_array()
            .cloned()
            .unwrap_or_else(|| panic!("{path} is a list: {all}"))
    };
    let mut q: Vec<(String, serde_json::Value)> = list("queues")
        .await
        .iter()
        .map(|q| (q["name"].as_str().unwrap().to_owned(), q["arguments"].clone()))
        .collect();
    q.sort_by(|a, b| a.0.cmp(&b.0));
    let mut b: Vec<(String, String, String)> = list("bindings")
        .await
        .iter()
        .map(|b| {
            (
                b["source"].as_str().unwrap().to_owned(),
                b["destination"].as_str().unwrap().to_owned(),
                b["routing_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    b.sort();
    (q, b)
}

#[tokio::test]
async fn declaring_twice_gives_the_same_topology_and_verify_passes() {
    // Arrange
    let broker = TestBroker::new().await;

    // Act
    let first = broker_init::run(&config(&broker, false))
        .await
        .expect("first declare succeeds");
    let after_first = snapshot(&broker).await;
    let second = broker_init::run(&config(&broker, false))
        .await
        .expect("second declare succeeds");
    let after_second = snapshot(&broker).await;
    let verified = broker_init::run(&config(&broker, true)).await.expect("verify runs");

    // Assert
    assert!(matches!(first, broker_init::Outcome::Declared));
    assert!(matches!(second, broker_init::Outcome::Declared));
    assert_eq!(after_first, after_second);
    let names: Vec<&str> = after_first.0.iter().map(|(n, _)| n.as_str()).collect();
    for q in [
        "jobs.default",
        "results.store",
        "results.incidents",
        "incidents.notify",
        "incidents.llm",
        "reports.notify",
        "channels.test",
        "pingtower.dlq",
    ] {
        assert!(names.contains(&q), "queue {q} declared; have {names:?}");
    }
    let store = &after_first.0.iter().find(|(n, _)| n == "results.store").unwrap().1;
    assert_eq!(store["x-queue-type"], "quorum");
    assert_eq!(store["x-dead-letter-exchange"], "pingtower.dlx");
    assert!(store["x-delivery-limit"].as_i64().is_some());
    let incidents = &after_first.0.iter().find(|(n, _)| n == "results.incidents").unwrap().1;
    assert_eq!(incidents["x-single-active-consumer"], true);
    match verified {
        broker_init::Outcome::Verified(problems) => assert!(problems.is_empty(), "no problems: {problems:?}"),
        other => panic!("expected a verification, got {other:?}"),
    }
}

#[tokio::test]
async fn verify_on_an_empty_vhost_names_what_is_missing() {
    let broker = TestBroker::new().await;
    let verified = broker_init::run(&config(&broker, true)).await.expect("verify runs");
    let broker_init::Outcome::Verified(problems) = verified else {
        panic!("expected a verification")
    };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|p| p.contains("queue results.store is missing")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|p| p.contains("exchange pingtower.results is missing")),
        "{text:?}"
    );
}

#[tokio::test]
async fn a_queue_declared_with_other_arguments_fails_verify_and_declare_by_name() {
    // Arrange: someone created results.store as a classic queue.
    let broker = TestBroker::new().await;
    let conn = Connection::connect(broker.config.amqp_url.expose_secret(), ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.queue_declare(
        RESULTS_STORE_QUEUE.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        FieldTable::default(),
    )
    .await
    .unwrap();
    conn.close(200, "bye".into()).await.unwrap();

    // Act
    let verified = broker_init::run(&config(&broker, true)).await.expect("verify runs");
    let declared = broker_init::run(&config(&broker, false)).await;

    // Assert
    let broker_init::Outcome::Verified(problems) = verified else {
        panic!("expected a verification")
    };
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|p| p.contains("queue results.store exists with other arguments")),
        "verify names the queue: {text:?}"
    );
    let err = format!("{:#}", declared.expect_err("declare refuses to change the queue"));
    assert!(err.contains("results.store"), "declare names the queue: {err}");
}
