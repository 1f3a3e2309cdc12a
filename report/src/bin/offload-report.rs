//! Standalone `offload report`: the same arguments as the `report` subcommand of the
//! `offload` CLI (see [`offload_report::ReportArgs`]).

use clap::Parser;

/// Joins criterion and go test results into results.json, REPORT.md and SVG plots.
#[derive(Parser)]
#[command(name = "offload-report", version)]
struct Cli {
    #[command(flatten)]
    args: offload_report::ReportArgs,
}

fn main() -> anyhow::Result<()> {
    offload_report::run(Cli::parse().args)
}
