//! Discovery of built guests: `<dir>/*.wasm`, each with `<name>.json` beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The metadata file a guest build writes beside the module (`<name>.json`), naming
/// the compiler so that reports can label the path honestly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestMeta {
    /// Benchmark path name, e.g. `wasm-rust`.
    pub path: String,
    /// Source language (`rust`, `c`, `go`).
    #[serde(default)]
    pub language: Option<String>,
    /// Compiler and version that built the module.
    #[serde(default)]
    pub compiler: Option<String>,
    /// Compiler flags.
    #[serde(default)]
    pub flags: Option<String>,
    /// Whether the module was built with simd128 (absent: not stated).
    #[serde(default)]
    pub simd128: Option<bool>,
    /// Any further fields, kept as they are.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// One built guest found by [`discover`].
#[derive(Debug, Clone, PartialEq)]
pub struct GuestFile {
    /// The file stem, e.g. `wasm-rust` (the path name used on the command line).
    pub name: String,
    /// The `.wasm` file.
    pub wasm: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The parsed `<name>.json`, `None` when there is no such file.
    pub meta: Option<GuestMeta>,
}

/// Lists the vector guests `dir/*.wasm` sorted by name, each with its metadata (a module
/// whose metadata names another `abi`, such as the wasi:gpu demo guest, is left out).
///
/// # Errors
/// [`Error::Io`] when `dir` or a file cannot be read; [`Error::Metadata`] when a
/// `<name>.json` exists but is not valid metadata JSON.
pub fn discover(dir: impl AsRef<Path>) -> Result<Vec<GuestFile>> {
    let dir = dir.as_ref();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| Error::Io { path, error }
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let wasm = entry.path();
        if wasm.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let Some(name) = wasm.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let size = entry.metadata().map_err(io(&wasm))?.len();
        let json = wasm.with_extension("json");
        let meta = match std::fs::read_to_string(&json) {
            Ok(text) => {
                Some(
                    serde_json::from_str::<GuestMeta>(&text).map_err(|e| Error::Metadata {
                        path: json.clone(),
                        message: e.to_string(),
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(Error::Io { path: json, error }),
        };
        // A guest of another ABI kept here too (the wasi:gpu demo guest, `"abi":
        // "wasi-gpu-..."`) is not a vector guest.
        let other_abi = meta
            .as_ref()
            .and_then(|m| m.extra.get("abi"))
            .and_then(|v| v.as_str())
            .is_some_and(|abi| !abi.starts_with("vector"));
        if other_abi {
            continue;
        }
        found.push(GuestFile {
            name: name.to_string(),
            wasm,
            size,
            meta,
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Resolves a guest argument: a path name (`wasm-rust`) becomes `dir/wasm-rust.wasm`;
/// anything ending in `.wasm` or containing a path separator is taken as a file path.
pub fn resolve(dir: impl AsRef<Path>, guest: &str) -> PathBuf {
    if guest.ends_with(".wasm") || guest.contains(std::path::MAIN_SEPARATOR) {
        PathBuf::from(guest)
    } else {
        dir.as_ref().join(format!("{guest}.wasm"))
    }
}
