use pinger::config::Command;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config: pinger::Config = common::config::parse();
    match config.command.clone() {
        Some(Command::Check(args)) => {
            let code = pinger::cli::run(args, &config).await?;
            std::process::exit(code);
        }
        Some(Command::Serve) | None => {
            common::telemetry::init("pinger");
            pinger::run_with(config, common::shutdown::on_signal(), |_| {}).await
        }
    }
}
