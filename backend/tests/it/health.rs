use std::time::Duration;

use common::testing::{TestBroker, TestClickHouse, TestPg, assert_health_endpoints};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn it_serves_health_and_metrics_and_stops_on_shutdown() {
    // Arrange
    let broker = TestBroker::new().await;
    let pg = TestPg::new().await;
    let ch = TestClickHouse::new().await;
    let config = backend::Config {
        amqp: broker.config.clone(),
        pg: pg.config.clone(),
        clickhouse: ch.config.clone(),
        http: common::config::HttpConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
        },
        api: Default::default(),
    };
    let shutdown = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let service = tokio::spawn(backend::run_with(config, shutdown.clone(), move |addr| {
        let _ = tx.send(addr);
    }));
    let addr = rx.await.expect("backend binds");

    // Act + Assert
    assert_health_endpoints(addr, Duration::from_secs(20)).await;
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), service).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "backend stops cleanly: {stopped:?}");
}
