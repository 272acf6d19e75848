use archiver::{Command, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::service::main("archiver", |config: Config, shutdown| async move {
        match config.command.unwrap_or(Command::Serve) {
            Command::Serve => archiver::run_with(config, shutdown, |_| {}).await,
            Command::RunOnce => {
                let report = archiver::run_once(config, shutdown).await?;
                if report.failed() > 0 {
                    eprintln!("archiver: {} day(s) could not be archived", report.failed());
                    std::process::exit(1);
                }
                Ok(())
            }
        }
    })
    .await
}
