use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("pinger");
    let config = pinger::Config::parse();
    pinger::run(config, common::shutdown::on_signal()).await
}
