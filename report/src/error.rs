//! Errors of the report crate. Every variant that comes from reading an input names the
//! file it came from, so a broken results folder can be fixed without guessing.

use std::path::PathBuf;

/// What can go wrong while ingesting, rendering or comparing benchmark results.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A required input file or folder does not exist.
    #[error("missing input {path}: {what}")]
    Missing {
        /// The path that was looked for.
        path: PathBuf,
        /// What it should have contained and who writes it.
        what: String,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON of the expected shape (also: truncated JSON).
    #[error("{path}: malformed JSON: {source}")]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// serde_json's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The file is not valid TOML (Cargo.lock).
    #[error("{path}: malformed TOML: {message}")]
    Toml {
        /// The file concerned.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A benchmark id does not follow the naming scheme of DESIGN.md (Benchmarks).
    #[error("{path}: unknown benchmark name `{name}`: {why}")]
    UnknownBenchmark {
        /// The file the name was read from.
        path: PathBuf,
        /// The benchmark id as written by the harness.
        name: String,
        /// Which part was not recognised.
        why: String,
    },
    /// A line or value could not be parsed (e.g. a go test result line with no ns/op).
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line number (0 when not line-oriented).
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// `results.json` was written by another version of this tool (its `schema` is not
    /// [`crate::model::SCHEMA_VERSION`]): its records cannot be read as this version's.
    #[error(
        "{path}: results.json schema {found}, but this offload-report reads schema {expected} \
         ({why}); re-ingest the raw benchmark output with `offload report --ingest <dir>`"
    )]
    Schema {
        /// The file concerned.
        path: PathBuf,
        /// The schema the file says it has (0 when it has no `schema` field).
        found: u64,
        /// The schema this tool reads.
        expected: u32,
        /// What changed since (for the versions this tool knows).
        why: String,
    },
    /// A ratio was asked between two records that do not compute the same thing the same
    /// way, or were measured by different harnesses (docs/benchmarks.md: a ratio is only
    /// formed within one op, element type, family and harness).
    #[error("refusing the ratio {numerator} / {denominator}: {why}")]
    CrossFamily {
        /// The numerator's key (`sum-fast/wasm-rust/1000 [criterion]`).
        numerator: String,
        /// The denominator's key.
        denominator: String,
        /// Which of op, element type, family, harness differ.
        why: String,
    },
    /// Drawing a plot failed.
    #[error("{path}: plotting failed: {message}")]
    Plot {
        /// The SVG file being written.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
}

impl ReportError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, ReportError>;
