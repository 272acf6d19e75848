use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // A one-shot tool: no ops server, and no signal handler (an interrupt ends it at once).
    let config: broker_init::Config = common::service::init("broker-init");
    match broker_init::run(&config).await {
        Ok(broker_init::Outcome::Declared) => {
            tracing::info!("topology declared");
            ExitCode::SUCCESS
        }
        Ok(broker_init::Outcome::Verified(problems)) if problems.is_empty() => {
            tracing::info!("topology verified: everything is in place");
            ExitCode::SUCCESS
        }
        Ok(broker_init::Outcome::Verified(problems)) => {
            for p in &problems {
                eprintln!("broker-init: {p}");
            }
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("broker-init: {e:#}");
            ExitCode::from(2)
        }
    }
}
