//! `rds-snapshot-policy`: expand templates, plan or run snapshot actions locally.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = provider::cli::Cli::parse();
    provider::cli::run(cli).await
}
