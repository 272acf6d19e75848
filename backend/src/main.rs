use std::io::Write;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli: backend::Cli = common::config::parse();
    match cli.command {
        // Nothing is started and nothing logged: stdout carries the document alone.
        Some(backend::Command::Openapi) => {
            let json = serde_json::to_string_pretty(&backend::openapi::document())?;
            // An error, not a panic, when the reader goes away (`backend openapi | head`).
            writeln!(std::io::stdout().lock(), "{json}")?;
            Ok(())
        }
        // No signal handler: an interrupted migration stops at once (each step is safe to re-run).
        Some(backend::Command::Migrate) => {
            common::telemetry::init("backend");
            backend::migrate(&cli.config).await
        }
        Some(backend::Command::Serve) | None => {
            common::telemetry::init("backend");
            backend::run_with_listeners(cli.config, common::shutdown::on_signal(), |_| {}).await
        }
    }
}
