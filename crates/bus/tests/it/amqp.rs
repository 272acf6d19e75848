use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::testing::TestBroker;
use bus::{ConsumerOptions, HandlerError, PublishError, Publisher, consume};
use common::messages::*;
use common::samples;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::ledger::{new_job, record, record_jobs};

const WAIT: Duration = Duration::from_secs(10);

async fn publisher(broker: &TestBroker) -> Publisher {
    crate::ledger::publisher(broker, &CancellationToken::new())
}

/// Asserts that the next message on `queue` is `expected`, intact.
async fn arrives<T: Message + PartialEq + std::fmt::Debug>(broker: &TestBroker, queue: &str, expected: &Envelope<T>) {
    let got = broker.next_message::<T>(queue, WAIT).await;
    assert_eq!(got.as_ref(), Some(expected), "the message on {queue}");
}

#[tokio::test]
async fn every_message_type_makes_a_round_trip_through_the_topology() {
    // Arrange
    let broker = TestBroker::new().await;
    let publisher = publisher(&broker).await;
    let job = Envelope::new(samples::check_jobs());
    let result = Envelope::new(samples::check_result());
    let event = Envelope::new(samples::incident_event());
    let report = Envelope::new(samples::incident_report());

    // Act
    publisher.publish(&job).await.expect("job confirmed");
    publisher.publish(&result).await.expect("result confirmed");
    publisher.publish(&event).await.expect("event confirmed");
    publisher.publish(&report).await.expect("report confirmed");

    // Assert: each arrives, intact, on every queue bound for it.
    arrives(&broker, "jobs.default", &job).await;
    arrives(&broker, RESULTS_STORE_QUEUE, &result).await;
    arrives(&broker, RESULTS_INCIDENTS_QUEUE, &result).await;
    arrives(&broker, INCIDENTS_NOTIFY_QUEUE, &event).await;
    arrives(&broker, INCIDENTS_LLM_QUEUE, &event).await;
    arrives(&broker, REPORTS_NOTIFY_QUEUE, &report).await;
}

#[tokio::test]
async fn an_unroutable_publish_is_an_error_for_the_caller() {
    let broker = TestBroker::new().await;
    let publisher = publisher(&broker).await;
    let mut job = samples::check_job();
    job.region = "atlantis".into(); // no pinger region declared a queue for it

    let outcome = publisher.publish(&Envelope::new(CheckJobs::one(job))).await;

    match outcome {
        Err(PublishError::Unroutable { routing_key, .. }) => assert_eq!(routing_key, "jobs.atlantis"),
        other => panic!("expected an unroutable error, got {other:?}"),
    }
}

#[tokio::test]
async fn poison_messages_go_to_the_dead_letter_queue_while_the_rest_are_consumed() {
    // Arrange: good results, one that the handler refuses, one that panics it, and garbage.
    let broker = TestBroker::new().await;
    let publisher = publisher(&broker).await;
    let refused = Uuid::new_v4();
    let panics = Uuid::new_v4();
    let mut good = HashSet::new();
    let shutdown = CancellationToken::new();
    let options = ConsumerOptions::new(RESULTS_STORE_QUEUE).concurrency(4);
    let (seen, consumer) = record::<CheckResult>(
        &broker,
        &shutdown,
        options,
        |r| r.result_id,
        move |id| {
            if id == refused {
                return Err(HandlerError::permanent(anyhow::anyhow!("refused")));
            }
            assert_ne!(id, panics, "this handler panics on purpose");
            Ok(())
        },
    );

    // Act
    broker
        .publish_raw(RESULTS_EXCHANGE, "results.default", b"{not json")
        .await;
    for special in [refused, panics] {
        let mut r = samples::check_result();
        r.result_id = special;
        publisher.publish(&Envelope::new(r)).await.unwrap();
    }
    for _ in 0..20 {
        let mut r = samples::check_result();
        r.result_id = Uuid::new_v4();
        good.insert(r.result_id);
        publisher.publish(&Envelope::new(r)).await.unwrap();
    }

    // Assert: the three poison messages are dead-lettered, every good one handled once.
    let mut dead = Vec::new();
    for _ in 0..3 {
        let raw = broker
            .next_raw(DEAD_LETTER_QUEUE, Duration::from_secs(20))
            .await
            .expect("a dead letter arrives");
        dead.push(raw);
    }
    assert!(
        dead.iter().any(|d| d == b"{not json"),
        "the undecodable message is in the DLQ"
    );
    for special in [refused, panics] {
        assert!(
            dead.iter()
                .any(|d| String::from_utf8_lossy(d).contains(&special.to_string())),
            "{special} is in the DLQ"
        );
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.lock().unwrap().len() < good.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*seen.lock().unwrap(), good);
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_it_succeeds_without_dead_lettering() {
    let broker = TestBroker::new().await;
    let publisher = publisher(&broker).await;
    let attempts = Arc::new(Mutex::new(0u32));
    let shutdown = CancellationToken::new();
    let counter = attempts.clone();
    let consumer_broker = broker.broker("test-consumer", shutdown.clone());
    let mut options = ConsumerOptions::new(INCIDENTS_NOTIFY_QUEUE);
    options.max_retry_delay = Duration::from_millis(200);
    let consumer = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            consume::<IncidentEvent, _, _>(&consumer_broker, options, shutdown, move |_env, _| {
                let counter = counter.clone();
                async move {
                    let mut n = counter.lock().unwrap();
                    *n += 1;
                    // More failures than the delivery limit: must not reach the DLQ.
                    if *n <= 8 {
                        Err(HandlerError::transient(anyhow::anyhow!("database down")))
                    } else {
                        Ok(())
                    }
                }
            })
            .await
        }
    });

    publisher
        .publish(&Envelope::new(samples::incident_event()))
        .await
        .unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while *attempts.lock().unwrap() < 9 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*attempts.lock().unwrap(), 9, "retried until success");
    assert!(
        broker
            .next_raw(DEAD_LETTER_QUEUE, Duration::from_millis(500))
            .await
            .is_none(),
        "nothing dead-lettered"
    );
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

/// Closes every connection of the test's vhost, as `rabbitmqctl close_all_connections` does
/// for the whole broker (scoped so parallel tests are not disturbed).
async fn close_all_connections(broker: &TestBroker) {
    let status = tokio::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "close_all_connections",
            "-p",
            &broker.vhost,
            "test: connection loss",
        ])
        .status()
        .await;
    if !matches!(status, Ok(s) if s.success()) {
        broker
            .management
            .close_vhost_connections()
            .await
            .expect("management API closes connections");
    }
}

#[tokio::test]
async fn publisher_and_consumer_survive_the_broker_closing_all_connections() {
    // Arrange
    let broker = TestBroker::new().await;
    let publisher = publisher(&broker).await;
    let shutdown = CancellationToken::new();
    let (seen, consumer) = record_jobs(&broker, &shutdown);
    let mut sent = HashSet::new();
    let mut publish_batch = async |n: usize| {
        for _ in 0..n {
            let job = new_job();
            sent.insert(job.payload.jobs[0].job_id);
            publisher.publish(&job).await.expect("every publish is confirmed");
        }
    };
    publish_batch(20).await;
    wait_for_count(&seen, 20).await;

    // Act: the broker drops every connection; both sides must recover on their own.
    close_all_connections(&broker).await;
    publish_batch(20).await;

    // Assert: everything published, before and after, is consumed; nothing is lost.
    wait_for_count(&seen, 40).await;
    assert_eq!(*seen.lock().unwrap(), sent);
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

async fn wait_for_count(seen: &Arc<Mutex<HashSet<Uuid>>>, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} consumed",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_request_gets_the_reply_a_worker_sends_to_its_reply_queue() {
    // Arrange: a worker that answers jobs carrying a reply queue with a result.
    let broker = TestBroker::new().await;
    let shutdown = CancellationToken::new();
    let worker_broker = broker.broker("test-worker", shutdown.clone());
    let worker_publisher = publisher(&broker).await;
    let worker = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            consume::<CheckJobs, _, _>(
                &worker_broker,
                ConsumerOptions::new("jobs.default"),
                shutdown,
                move |env, info| {
                    let publisher = worker_publisher.clone();
                    async move {
                        let mut result = samples::check_result();
                        result.job_id = env.payload.jobs[0].job_id;
                        let answer = Envelope::caused_by(env.correlation_id, result);
                        info.reply_to.as_ref().expect("the job carries a reply queue");
                        publisher.answer(&info, &answer).await.map_err(HandlerError::transient)
                    }
                },
            )
            .await
        }
    });
    let client = publisher(&broker).await;
    let mut job = samples::check_job();
    job.job_id = Uuid::new_v4();

    // Act
    let reply: Envelope<CheckResult> = bus::request(
        &client,
        &Envelope::new(CheckJobs::one(job.clone())),
        Duration::from_secs(10),
    )
    .await
    .expect("a reply");

    // Assert: the answer is the worker's, for this job, and nothing went to the results exchange.
    assert_eq!(reply.payload.job_id, job.job_id);
    assert!(
        broker
            .next_raw(RESULTS_STORE_QUEUE, Duration::from_millis(300))
            .await
            .is_none()
    );
    shutdown.cancel();
    worker.await.unwrap().unwrap();
}

#[tokio::test]
async fn connections_ask_for_a_short_heartbeat_unless_the_uri_names_one() {
    // Arrange: one connection with the default, one whose URI names its own heartbeat.
    let broker = TestBroker::new().await;
    let ours = broker.broker("heartbeat-default", CancellationToken::new());
    let own_uri = format!(
        "{}?heartbeat=7",
        secrecy::ExposeSecret::expose_secret(&broker.config.amqp_url)
    );
    let theirs = bus::Broker::new(
        own_uri.into(),
        "heartbeat-own",
        broker.topology(),
        CancellationToken::new(),
    );

    // Act
    ours.connection().await.unwrap();
    theirs.connection().await.unwrap();

    // Assert: the heartbeat each connection negotiated, as the broker reports it.
    let connections = format!("api/vhosts/{}/connections", broker.vhost);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let timeouts = loop {
        let list = common::testing::management_get(&broker.config.management_url, &connections).await;
        let timeout_of = |name: &str| {
            list.as_array()?
                .iter()
                .find(|c| c["client_properties"]["connection_name"] == name)
                .and_then(|c| c["timeout"].as_u64())
        };
        let names = ["heartbeat-default", "heartbeat-own"];
        let found: Vec<u64> = names.iter().filter_map(|n| timeout_of(n)).collect();
        if found.len() == names.len() {
            break found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both connections listed: {list}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let default = u64::from(bus::DEFAULT_HEARTBEAT_SECS);
    assert_eq!(timeouts, vec![default, 7]);
    ours.close().await;
    theirs.close().await;
}

/// A loopback relay to the broker whose broker → client direction can be held: a broker that
/// stops answering, as one that blocks publishers does.
async fn relay_to_broker(broker_port: u16, held: Arc<std::sync::atomic::AtomicBool>) -> u16 {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = tokio::net::TcpStream::connect(("127.0.0.1", broker_port))
                .await
                .unwrap();
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut up_rx, mut up_tx) = upstream.into_split();
            tokio::spawn(async move { tokio::io::copy(&mut client_rx, &mut up_tx).await });
            let held = held.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match up_rx.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if held.load(Ordering::SeqCst) {
                        continue; // swallowed: the client never hears of it
                    }
                    if client_tx.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_publication_the_broker_never_confirms_fails_after_the_publish_timeout() {
    // Arrange: a publisher whose connection goes through a relay, with a short timeout.
    let broker = TestBroker::new().await;
    let held = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = reqwest::Url::parse(secrecy::ExposeSecret::expose_secret(&broker.config.amqp_url)).unwrap();
    let port = relay_to_broker(url.port().unwrap_or(5672), held.clone()).await;
    let mut relayed = url.clone();
    relayed.set_port(Some(port)).unwrap();
    let publisher = Publisher::new(
        bus::Broker::new(
            relayed.as_str().to_owned().into(),
            "test-unconfirmed",
            broker.topology(),
            CancellationToken::new(),
        ),
        Duration::from_millis(500),
    );
    let result = Envelope::new(samples::check_result());
    publisher
        .publish(&result)
        .await
        .expect("confirmed while the broker answers");

    // Act: the broker's answers stop reaching the client.
    held.store(true, std::sync::atomic::Ordering::SeqCst);
    let unconfirmed = tokio::time::timeout(WAIT, publisher.publish(&result)).await;

    // Assert: an error the caller can act on (nack, retry), not a wait for ever.
    match unconfirmed {
        Ok(Err(PublishError::Unavailable(waited, why))) => {
            assert_eq!(waited, Duration::from_millis(500));
            assert!(why.contains("did not confirm"), "{why}");
        }
        other => panic!("expected Unavailable after the publish timeout, got {other:?}"),
    }
}
