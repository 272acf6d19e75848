#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::service::main("llm-service", |config, shutdown| {
        llm_service::run_with(config, shutdown, |_| {})
    })
    .await
}
