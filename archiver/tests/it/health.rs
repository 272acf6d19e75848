use std::time::Duration;

use common::testing::assert_health_endpoints;

use crate::helpers::{App, TestEnv};

#[tokio::test]
async fn it_serves_health_and_metrics_and_stops_on_shutdown() {
    // Arrange
    let env = TestEnv::new().await;

    // Act
    let app = App::spawn(env.config()).await;

    // Assert
    assert_health_endpoints(app.addr, Duration::from_secs(20)).await;
    app.stop().await;
}
