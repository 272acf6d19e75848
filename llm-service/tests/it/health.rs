use std::time::Duration;

use common::testing::assert_health_endpoints;

use crate::helpers::{TestEnv, spawn_service};

#[tokio::test]
async fn it_serves_health_and_metrics_and_stops_on_shutdown() {
    // Arrange
    let env = TestEnv::new().await;

    // Act
    let service = spawn_service(env.config()).await;

    // Assert
    assert_health_endpoints(service.addr, Duration::from_secs(20)).await;
    service.stop().await;
}
