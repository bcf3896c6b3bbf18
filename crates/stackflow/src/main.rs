//! `stackflow`: the StackFlow change management server and its CLI.

mod cli;
mod config;
mod demo;
mod serve;
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "groundwork for the CMDB issue: the impact benchmark and the demo use it once bulk import lands"
    )
)]
mod synthetic;
mod telemetry;

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    telemetry::init(&args.log_format);
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
