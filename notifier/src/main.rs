#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::service::main("notifier", |config, shutdown| {
        notifier::run_with(config, shutdown, |_| {})
    })
    .await
}
