//! `stackflow`: the StackFlow change management server and its CLI.

mod bench;
mod check;
mod cli;
mod config;
mod demo;
mod schedule;
mod serve;
mod synthetic;
mod telemetry;
mod transfer;
mod workflow;

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
