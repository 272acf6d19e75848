//! Batch messages: several envelopes of one type and routing key in one AMQP message, against
//! the real broker and the bus's one consume engine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::testing::TestBroker;
use bus::{ConsumerOptions, PublishError, consume, consume_batches};
use common::messages::*;
use common::samples;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::ledger::publisher;

const WAIT: Duration = Duration::from_secs(20);

/// `n` results with ids of their own.
fn results(n: usize) -> Vec<Envelope<CheckResult>> {
    (0..n)
        .map(|_| {
            let mut r = samples::check_result();
            r.result_id = Uuid::now_v7();
            Envelope::new(r)
        })
        .collect()
}

fn ids(envelopes: &[Envelope<CheckResult>]) -> Vec<Uuid> {
    envelopes.iter().map(|e| e.payload.result_id).collect()
}

/// Messages ready in `queue`, exactly (a passive declare; the management API's figures lag).
async fn depth(broker: &TestBroker, queue: &str) -> u32 {
    let bus = broker.broker("depth", CancellationToken::new());
    let channel = bus
        .connection()
        .await
        .expect("the broker")
        .create_channel()
        .await
        .expect("a channel");
    let declared = channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("the queue exists");
    let _ = channel.close(200, "done".into()).await;
    declared.message_count()
}

/// A batch consumer of `results.store` (batches of `max_batch`, handled `wait` after their
/// first message at the latest) that keeps the result ids of every batch it is handed.
type Batches = Arc<Mutex<Vec<Vec<Uuid>>>>;
fn read_batches(
    broker: &TestBroker,
    stop: &CancellationToken,
    max_batch: usize,
    wait: Duration,
) -> (Batches, tokio::task::JoinHandle<Result<(), bus::AmqpError>>) {
    let batches: Batches = Arc::default();
    let (bus, kept, stop) = (broker.broker("batches", stop.clone()), batches.clone(), stop.clone());
    let task = tokio::spawn(async move {
        let options = ConsumerOptions::new(RESULTS_STORE_QUEUE).batches(max_batch, wait);
        consume_batches(&bus, options, stop, move |batch: Vec<Envelope<CheckResult>>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(ids(&batch));
                Ok(())
            }
        })
        .await
    });
    (batches, task)
}

/// Waits until `f` holds, or panics naming `what` after [`WAIT`].
async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_batch_message_reaches_every_queue_in_order_and_batches_count_its_messages() {
    // Arrange: two full batch messages, a short one and three plain messages, published before
    // anyone consumes, so the consumers find them all waiting.
    let broker = TestBroker::new().await;
    let stop = CancellationToken::new();
    let publisher = publisher(&broker, &stop);
    let (a, b, c, singles) = (results(BATCH_LIMIT), results(BATCH_LIMIT), results(5), results(3));
    publisher.publish_batch(&a).await.expect("a confirmed");
    publisher.publish_batch(&b).await.expect("b confirmed");
    for single in &singles {
        publisher.publish(single).await.expect("a plain message confirmed");
    }
    publisher.publish_batch(&c).await.expect("c confirmed");
    let published: Vec<Uuid> = [ids(&a), ids(&b), ids(&singles), ids(&c)].concat();
    assert_eq!(
        depth(&broker, RESULTS_STORE_QUEUE).await,
        6,
        "three batch messages and three plain ones: six AMQP messages"
    );

    // Act: a batch consumer of 20 results (at most a second's wait) on one queue, and a
    // one-at-a-time consumer on the other.
    let max_batch = 20;
    let (batches, batching) = read_batches(&broker, &stop, max_batch, Duration::from_secs(1));
    let one_by_one: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let single = {
        let (bus, seen, stop) = (broker.broker("singles", stop.clone()), one_by_one.clone(), stop.clone());
        tokio::spawn(async move {
            consume(
                &bus,
                ConsumerOptions::new(RESULTS_INCIDENTS_QUEUE),
                stop,
                move |env: Envelope<CheckResult>, _| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push(env.payload.result_id);
                        Ok(())
                    }
                },
            )
            .await
        })
    };

    // Assert: every result arrives once on each queue, in the order published.
    until("the batch consumer saw every result", || {
        batches.lock().unwrap().iter().map(Vec::len).sum::<usize>() >= published.len()
    })
    .await;
    until("the plain consumer saw every result", || {
        one_by_one.lock().unwrap().len() >= published.len()
    })
    .await;
    let batches = batches.lock().unwrap().clone();
    assert_eq!(batches.concat(), published, "the batch consumer's results, in order");
    assert_eq!(
        *one_by_one.lock().unwrap(),
        published,
        "the one-at-a-time consumer's results, in order"
    );
    // A batch is due once it holds max_batch messages, counted inside batch messages: the
    // first batch is the two full batch messages (32), not twenty deliveries (all 40).
    assert!(
        batches.iter().all(|b| b.len() < max_batch + BATCH_LIMIT),
        "no batch is larger than max_batch plus one batch message less one: {:?}",
        batches.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(
        batches[0].len(),
        2 * BATCH_LIMIT,
        "the first batch: the two full batch messages"
    );
    stop.cancel();
    batching.await.unwrap().unwrap();
    single.await.unwrap().unwrap();
    // Stopped consumers requeue what they did not ack: every delivery was acked.
    assert_eq!(depth(&broker, RESULTS_STORE_QUEUE).await, 0);
    assert_eq!(depth(&broker, RESULTS_INCIDENTS_QUEUE).await, 0);
}

#[tokio::test]
async fn malformed_batch_messages_are_dead_lettered_and_the_good_ones_consumed() {
    // Arrange: an empty array, one over the limit, one holding a non-envelope, then a good one.
    let broker = TestBroker::new().await;
    let stop = CancellationToken::new();
    let publisher = publisher(&broker, &stop);
    let too_many = serde_json::to_vec(&results(BATCH_LIMIT + 1)).unwrap();
    let poison: [&[u8]; 3] = [b"[]", &too_many, br#"[{"message_id": "not an envelope"}]"#];
    for body in poison {
        broker.publish_raw(RESULTS_EXCHANGE, "results.default", body).await;
    }
    let good = results(4);
    publisher.publish_batch(&good).await.expect("confirmed");

    // Act
    let (seen, consumer) = read_batches(&broker, &stop, 100, Duration::from_millis(200));

    // Assert: the three poison bodies are in the DLQ as published; the good batch is handled.
    let mut dead = Vec::new();
    for _ in 0..3 {
        dead.push(
            broker
                .next_raw(DEAD_LETTER_QUEUE, WAIT)
                .await
                .expect("a dead letter arrives"),
        );
    }
    dead.sort();
    let mut expected: Vec<Vec<u8>> = poison.iter().map(|b| b.to_vec()).collect();
    expected.sort();
    assert_eq!(dead, expected, "exactly the malformed batch messages are dead-lettered");
    until("the good batch is handled", || {
        seen.lock().unwrap().concat().len() >= good.len()
    })
    .await;
    assert_eq!(seen.lock().unwrap().concat(), ids(&good));
    stop.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_batch_that_cannot_be_one_message_is_refused_and_nothing_is_published() {
    let broker = TestBroker::new().await;
    let stop = CancellationToken::new();
    let publisher = publisher(&broker, &stop);
    let mut mixed = results(2);
    mixed[1].payload.region = "elsewhere".into();

    for (what, batch) in [
        ("empty", Vec::new()),
        ("over the limit", results(BATCH_LIMIT + 1)),
        ("two routing keys", mixed),
    ] {
        let outcome = publisher.publish_batch(&batch).await;
        assert!(matches!(outcome, Err(PublishError::Batch(_))), "{what}: {outcome:?}");
    }

    // A batch of one is a plain message; it alone reaches the queue.
    let one = results(1);
    publisher.publish_batch(&one).await.expect("confirmed");
    assert_eq!(depth(&broker, RESULTS_STORE_QUEUE).await, 1);
    let got = broker
        .next_message::<CheckResult>(RESULTS_STORE_QUEUE, WAIT)
        .await
        .expect("the plain message");
    assert_eq!(got.payload.result_id, one[0].payload.result_id);
}
