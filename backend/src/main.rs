#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: backend::Cli = common::service::init("backend");
    match cli.command {
        // No signal handler: an interrupted migration stops at once (each step is safe to re-run).
        Some(backend::Command::Migrate) => backend::migrate(&cli.config).await,
        Some(backend::Command::Serve) | None => {
            backend::run_with_listeners(cli.config, common::shutdown::on_signal(), |_| {}).await
        }
    }
}
