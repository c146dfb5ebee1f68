use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    chosync::cli::run(chosync::cli::Cli::parse()).await
}
