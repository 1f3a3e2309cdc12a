//! Standalone `offload report`: the same flags as the `report` subcommand of the
//! `offload` CLI ([`offload_report::cli::ReportFlags`]), run by [`offload_report::run`].

use clap::Parser;

/// Joins criterion and go test results into results.json, REPORT.md and SVG plots.
#[derive(Parser)]
#[command(name = "offload-report", version)]
struct Cli {
    #[command(flatten)]
    flags: offload_report::cli::ReportFlags,
}

fn main() -> anyhow::Result<()> {
    offload_report::run(Cli::parse().flags.into())
}
