use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("archiver");
    let config = archiver::Config::parse();
    archiver::run(config, common::shutdown::on_signal()).await
}
