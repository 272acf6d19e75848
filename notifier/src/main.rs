#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("notifier");
    let config: notifier::Config = common::config::parse();
    notifier::run(config, common::shutdown::on_signal()).await
}
