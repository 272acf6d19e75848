#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("backend");
    let cli: backend::Cli = common::config::parse();
    match cli.command {
        Some(backend::Command::Migrate) => backend::migrate(&cli.config).await,
        Some(backend::Command::Serve) | None => backend::run(cli.config, common::shutdown::on_signal()).await,
    }
}
