use std::time::Duration;

use bus::testing::TestBroker;
use common::testing::assert_health_endpoints;

#[tokio::test]
async fn it_serves_health_and_metrics_and_stops_on_shutdown() {
    // Arrange
    let broker = TestBroker::new().await;
    let config = crate::helpers::config(&broker);

    // Act
    let service = crate::helpers::Service::start(config).await;

    // Assert
    assert_health_endpoints(service.addr, Duration::from_secs(20)).await;
    service.stop().await;
}
