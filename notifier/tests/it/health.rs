use std::time::Duration;

use bus::testing::TestBroker;
use common::testing::{RunningService, TestPg, assert_health_endpoints};

#[tokio::test]
async fn it_serves_health_and_metrics_and_stops_on_shutdown() {
    // Arrange
    let (broker, pg) = tokio::join!(TestBroker::new(), TestPg::new());
    let config = notifier::Config::new(broker.config.clone(), pg.config.clone());

    // Act
    let service = RunningService::spawn(|shutdown, on_bound| notifier::run_with(config, shutdown, on_bound)).await;

    // Assert
    assert_health_endpoints(service.addr, Duration::from_secs(20)).await;
    service.stop().await;
}
