//! `offload report`: the report tool of `offload-report` as a subcommand, with the same
//! flags as its own binary ([`offload_report::cli::ReportFlags`]):
//!
//! - `offload report <dir>`: re-render `REPORT.md` and `plots/` from `<dir>/results.json`;
//! - `offload report --ingest <dir>`: first build `results.json` from the raw inputs;
//! - `offload report --collect-env <dir>`: write `<dir>/env.json` for this machine;
//! - `offload report --compare <old> <new>`: print each benchmark's change.

use std::process::ExitCode;

use clap::Args;
use offload_report::cli::ReportFlags;

/// Arguments of `offload report`.
#[derive(Debug, Args)]
pub struct ReportCommand {
    #[command(flatten)]
    flags: ReportFlags,
}

impl ReportCommand {
    /// Runs [`offload_report::run`] with the parsed flags.
    pub fn execute(self) -> anyhow::Result<ExitCode> {
        offload_report::run(self.flags.into())?;
        Ok(ExitCode::SUCCESS)
    }
}
