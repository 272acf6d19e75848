use archiver::{Command, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("archiver");
    let config: Config = common::config::parse();
    let shutdown = common::shutdown::on_signal();
    match config.command.unwrap_or(Command::Serve) {
        Command::Serve => archiver::run(config, shutdown).await,
        Command::RunOnce => {
            let report = archiver::run_once(config, shutdown).await?;
            if report.failed() > 0 {
                eprintln!("archiver: {} day(s) could not be archived", report.failed());
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
