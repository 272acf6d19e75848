use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("notifier");
    let config = notifier::Config::parse();
    notifier::run(config, common::shutdown::on_signal()).await
}
