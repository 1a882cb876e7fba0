//! `rds-snapshot-policy`: expand templates, plan or run snapshot actions locally.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = app::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
                // The SDK's credential and region chains warn at length about every source
                // they try; the CLI's own error names the fix. `--verbose` shows them.
                tracing_subscriber::EnvFilter::new(if cli.verbose {
                    "info"
                } else {
                    "warn,aws_config=error,aws_smithy_runtime=error,aws_smithy_runtime_api=error,aws_runtime=error"
                })
            }),
        )
        .init();
    app::cli::run(cli).await
}
