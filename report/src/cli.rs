//! The command-line layer of the report tool: [`ReportFlags`], the flags of
//! `offload report` and of the `offload-report` binary, parsed by clap and turned into the
//! plain [`ReportArgs`] that [`crate::run`] takes. Only with the `cli` feature (on by
//! default), so that the library itself does not need clap.
//!
//! - `offload report <dir>`: re-render `REPORT.md` and `plots/` from `<dir>/results.json`.
//! - `offload report --ingest <dir>`: first build `results.json` from the raw inputs.
//! - `offload report --collect-env <dir>`: write `<dir>/env.json` for this machine.
//! - `offload report --compare <old> <new>`: print each benchmark's change.

use std::path::PathBuf;

use crate::ReportArgs;

/// The flags of `offload report` (and of `offload-report`), for `#[command(flatten)]`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportFlags {
    /// Results folder (bench-results/HOST-DATE).
    #[arg(required_unless_present = "compare")]
    pub dir: Option<PathBuf>,
    /// Build results.json from the raw inputs (criterion/, go-bench.txt, cargo-bench.log,
    /// env.json) before rendering.
    #[arg(long, conflicts_with = "compare")]
    pub ingest: bool,
    /// criterion's output folder, when not DIR/criterion.
    #[arg(long, requires = "ingest")]
    pub criterion_dir: Option<PathBuf>,
    /// Only write DIR/env.json describing this machine, then exit.
    #[arg(long, conflicts_with_all = ["ingest", "compare"])]
    pub collect_env: bool,
    /// Repository root, where Cargo.lock, go-host/go.mod and build/guests/ are
    /// (for --collect-env).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The benchmark command line to record in env.json (for --collect-env; default:
    /// this process's own command line).
    #[arg(long = "command-line")]
    pub command_line: Option<String>,
    /// For --collect-env on a machine without the toolchains (the lent GPU machine): an
    /// env.json written where the binaries were built, whose tool and library versions,
    /// guests and git commit replace this machine's.
    #[arg(long, requires = "collect_env")]
    pub build_env: Option<PathBuf>,
    /// Compare two results folders: OLD NEW.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    pub compare: Option<Vec<PathBuf>>,
}

impl From<ReportFlags> for ReportArgs {
    fn from(f: ReportFlags) -> Self {
        ReportArgs {
            dir: f.dir,
            ingest: f.ingest,
            criterion_dir: f.criterion_dir,
            collect_env: f.collect_env,
            repo: f.repo,
            command_line: f.command_line,
            build_env: f.build_env,
            // clap takes exactly two values (`num_args = 2`).
            compare: f
                .compare
                .and_then(|v| <[PathBuf; 2]>::try_from(v).ok())
                .map(|[old, new]| (old, new)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ReportFlags,
    }

    fn parse(args: &[&str]) -> ReportArgs {
        Cli::try_parse_from(std::iter::once("offload-report").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .flags
            .into()
    }

    /// The flags scripts/bench.sh passes reach the plain arguments.
    #[test]
    fn flags_become_plain_arguments() {
        let a = parse(&[
            "--collect-env",
            "dir",
            "--repo",
            "/repo",
            "--build-env",
            "b.json",
            "--command-line",
            "scripts/bench.sh --quick",
        ]);
        assert!(a.collect_env && !a.ingest);
        assert_eq!(a.dir, Some(PathBuf::from("dir")));
        assert_eq!(a.repo, PathBuf::from("/repo"));
        assert_eq!(a.build_env, Some(PathBuf::from("b.json")));
        assert_eq!(a.command_line.as_deref(), Some("scripts/bench.sh --quick"));
        let a = parse(&["--ingest", "dir"]);
        assert!(a.ingest && a.compare.is_none() && a.repo.as_os_str() == ".");
        let a = parse(&["--compare", "old", "new"]);
        assert_eq!(a.compare, Some(("old".into(), "new".into())));
        assert_eq!(a.dir, None);
        assert!(Cli::try_parse_from(["offload-report"]).is_err());
        assert!(Cli::try_parse_from(["offload-report", "--compare", "old"]).is_err());
    }
}
