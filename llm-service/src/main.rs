#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init("llm-service");
    let config: llm_service::Config = common::config::parse();
    llm_service::run(config, common::shutdown::on_signal()).await
}
