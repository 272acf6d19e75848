use std::time::Duration;

use bus::testing::TestBroker;
use common::testing::{TestPg, assert_health_endpoints};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn it_serves_health_and_metrics_and_stops_on_shutdown() {
    // Arrange
    let (broker, pg) = tokio::join!(TestBroker::new(), TestPg::new());
    let config = notifier::Config::new(broker.config.clone(), pg.config.clone());
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let service = tokio::spawn(notifier::run_with(config, shutdown.clone(), move |addr| {
        let _ = tx.send(addr);
    }));
    let addr = rx.await.expect("service binds");

    // Act + Assert
    assert_health_endpoints(addr, Duration::from_secs(20)).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), service).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "service stops cleanly: {stopped:?}");
}
