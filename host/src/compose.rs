//! `offload compose`: plugs provider components into a client component's imports.
//!
//! This is `wac plug` as a library call: [`compose`] registers the client (the
//! *socket*) and each provider (a *plug*) in a [`wac_graph::CompositionGraph`], wires
//! every plug export whose name and type satisfy a client import
//! ([`wac_graph::plug`]), encodes one component that instantiates both and re-exports
//! the client's exports, and validates it with `wasmparser` (component model on).
//! Imports no plug satisfies (WASI, `wasi:gpu`) stay imports of the composition, for
//! the host to provide.
//!
//! Before wac sees the plugs, each one is checked against the client's imports by name
//! (exact, or semver-compatible as the component model allows: `0.1.0` ↔ `0.1.3`, not
//! `0.2.0`) and type, so that a plug that does not fit gives an error that names the
//! client's import (e.g. `offload:provider/matrix@0.1.0`) and what the plug offers,
//! rather than wac's "no matching imports".
//!
//! ```no_run
//! use offload_host::compose;
//! let c = compose::compose_files(
//!     "build/components/matrix-client.wasm".as_ref(),
//!     &["build/components/provider-cpu.wasm".into()],
//! )?;
//! std::fs::write("composed-cpu.wasm", &c.bytes)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use wac_graph::types::{are_semver_compatible, Package, SubtypeChecker};
use wac_graph::{CompositionGraph, EncodeOptions};

/// Why a composition failed. Every variant that concerns an import names it as the
/// component model spells it (`namespace:package/interface@version`).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not a binary component (e.g. a core module or a WIT file).
    #[error("{what} is not a WebAssembly component ({why})")]
    NotAComponent {
        /// `client` or `plug <name>`.
        what: String,
        /// What it is instead, or the parse error.
        why: String,
    },
    /// The plug exports the client's interface at a version that is not
    /// semver-compatible with the one the client imports.
    #[error(
        "plug {plug} cannot satisfy the client's import `{import}`: it exports `{export}`, \
         and versions {import_version} and {export_version} are not semver-compatible"
    )]
    VersionMismatch {
        /// The client's import, e.g. `offload:provider/matrix@0.1.0`.
        import: String,
        /// The plug's export of the same interface at another version.
        export: String,
        /// Version of the import.
        import_version: String,
        /// Version of the export.
        export_version: String,
        /// The plug (file name).
        plug: String,
    },
    /// The plug exports the client's import by name, but its type is not a subtype of
    /// the one the client expects (a missing function, a different signature).
    #[error(
        "plug {plug} exports `{export}` for the client's import `{import}`, but its type does \
         not match: {reason}"
    )]
    TypeMismatch {
        /// The client's import.
        import: String,
        /// The plug's export.
        export: String,
        /// The plug (file name).
        plug: String,
        /// wac's subtype check, in one line.
        reason: String,
    },
    /// The plug exports nothing the client imports.
    #[error(
        "plug {plug} exports nothing the client imports: the client imports {}{}; the plug \
         exports {}",
        list(imports),
        host_note(*host_imports),
        if exports.is_empty() { "nothing".to_string() } else { list(exports) }
    )]
    NothingToPlug {
        /// The plug (file name).
        plug: String,
        /// The client's imports a plug could satisfy (everything outside `wasi:`).
        imports: Vec<String>,
        /// How many `wasi:` imports the client has besides (the host provides those).
        host_imports: usize,
        /// The plug's exports.
        exports: Vec<String>,
    },
    /// wac failed to read a component, to wire the graph or to encode it.
    #[error("wac-graph: {0:#}")]
    Graph(anyhow::Error),
    /// The composed bytes do not validate (a bug in the composition, never expected).
    #[error("the composed component does not validate: {0}")]
    Invalid(#[from] wasmparser::BinaryReaderError),
}

fn list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn host_note(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" (and {n} wasi: interfaces the host provides)")
    }
}

/// One provider to plug in: a name for messages (its file name) and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Plug<'a> {
    /// Shown in errors and in [`Composition::plugged`].
    pub name: &'a str,
    /// The plug's component binary.
    pub bytes: &'a [u8],
}

/// A client import satisfied by a plug export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugged {
    /// The client's import, e.g. `offload:provider/matrix@0.1.0`.
    pub import: String,
    /// The plug's export wired to it (the same name, or a semver-compatible one).
    pub export: String,
    /// The plug's name.
    pub plug: String,
}

/// The result of [`compose`]: the component and what was wired.
#[derive(Debug, Clone)]
pub struct Composition {
    /// The composed component binary (validated).
    pub bytes: Vec<u8>,
    /// The client imports the plugs satisfy.
    pub plugged: Vec<Plugged>,
    /// Imports of the composed component (what the host must provide), sorted.
    pub imports: Vec<String>,
    /// Exports of the composed component (the client's exports), sorted.
    pub exports: Vec<String>,
}

/// Validates `bytes` as a component with wasmparser's default features (the component
/// model included).
pub fn validate(bytes: &[u8]) -> Result<(), ComposeError> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::default())
        .validate_all(bytes)?;
    Ok(())
}

/// Imports and exports of a component, by name, as declared at its top level.
pub fn component_interface(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), ComposeError> {
    let mut graph = CompositionGraph::new();
    let pkg = load(&mut graph, "offload:inspect", "component", bytes)?;
    let world = &graph.types()[pkg.ty()];
    let mut imports: Vec<String> = world.imports.keys().cloned().collect();
    let mut exports: Vec<String> = world.exports.keys().cloned().collect();
    imports.sort();
    exports.sort();
    Ok((imports, exports))
}

/// Reads a component into `graph`'s type collection, or says what the bytes are instead.
fn load(
    graph: &mut CompositionGraph,
    package: &str,
    what: &str,
    bytes: &[u8],
) -> Result<Package, ComposeError> {
    if !wasmparser::Parser::is_component(bytes) {
        let why = if wasmparser::Parser::is_core_wasm(bytes) {
            "it is a core wasm module; wrap it as a component first (e.g. build for \
             wasm32-wasip2)"
                .to_string()
        } else {
            "no component header".to_string()
        };
        return Err(ComposeError::NotAComponent {
            what: what.to_string(),
            why,
        });
    }
    Package::from_bytes(package, None, bytes.to_vec(), graph.types_mut()).map_err(|e| {
        ComposeError::NotAComponent {
            what: what.to_string(),
            why: format!("{e:#}"),
        }
    })
}

/// `name@version` → (`name`, `version`); no `@` → (`name`, "").
fn split_version(name: &str) -> (&str, &str) {
    name.split_once('@').unwrap_or((name, ""))
}

/// Plugs every plug into `client` and returns the validated composition.
///
/// Errors: [`ComposeError::NotAComponent`] for a non-component input;
/// [`ComposeError::VersionMismatch`], [`ComposeError::TypeMismatch`] or
/// [`ComposeError::NothingToPlug`] for a plug that satisfies none of the client's
/// imports (each names the import); [`ComposeError::Graph`] when wac fails;
/// [`ComposeError::Invalid`] when the output does not validate.
pub fn compose(client: &[u8], plugs: &[Plug<'_>]) -> Result<Composition, ComposeError> {
    let mut graph = CompositionGraph::new();
    let socket_pkg = load(&mut graph, "offload:client", "client", client)?;
    let socket_imports: Vec<(String, wac_graph::types::ItemKind)> = graph.types()[socket_pkg.ty()]
        .imports
        .iter()
        .map(|(n, k)| (n.clone(), *k))
        .collect();

    let mut plugged = Vec::new();
    let mut plug_ids = Vec::new();
    for (i, plug) in plugs.iter().enumerate() {
        let what = format!("plug {}", plug.name);
        let pkg = load(&mut graph, &format!("offload:plug{i}"), &what, plug.bytes)?;
        let plug_exports: Vec<(String, wac_graph::types::ItemKind)> = graph.types()[pkg.ty()]
            .exports
            .iter()
            .map(|(n, k)| (n.clone(), *k))
            .collect();

        // The same matching wac_graph::plug does, so that a plug wac would skip gets a
        // precise error here instead of wac's "no matching imports".
        let mut matched = Vec::new();
        let mut type_mismatch = None;
        let mut version_mismatch = None;
        let mut cache = HashSet::new();
        for (export, export_ty) in &plug_exports {
            let compatible = socket_imports
                .iter()
                .find(|(import, _)| import == export)
                .or_else(|| {
                    socket_imports
                        .iter()
                        .find(|(import, _)| are_semver_compatible(export, import))
                });
            match compatible {
                Some((import, import_ty)) => {
                    let mut checker = SubtypeChecker::new(&mut cache);
                    match checker.is_subtype(*export_ty, graph.types(), *import_ty, graph.types()) {
                        Ok(()) => matched.push(Plugged {
                            import: import.clone(),
                            export: export.clone(),
                            plug: plug.name.to_string(),
                        }),
                        Err(e) => {
                            type_mismatch.get_or_insert((
                                import.clone(),
                                export.clone(),
                                format!("{e:#}").replace('\n', " "),
                            ));
                        }
                    }
                }
                None => {
                    let (base, version) = split_version(export);
                    if let Some((import, _)) = socket_imports
                        .iter()
                        .find(|(import, _)| split_version(import).0 == base)
                    {
                        version_mismatch.get_or_insert((
                            import.clone(),
                            export.clone(),
                            split_version(import).1.to_string(),
                            version.to_string(),
                        ));
                    }
                }
            }
        }
        if matched.is_empty() {
            return Err(if let Some((import, export, reason)) = type_mismatch {
                ComposeError::TypeMismatch {
                    import,
                    export,
                    plug: plug.name.to_string(),
                    reason,
                }
            } else if let Some((import, export, import_version, export_version)) = version_mismatch
            {
                ComposeError::VersionMismatch {
                    import,
                    export,
                    import_version,
                    export_version,
                    plug: plug.name.to_string(),
                }
            } else {
                let host_imports = socket_imports
                    .iter()
                    .filter(|(n, _)| n.starts_with("wasi:"))
                    .count();
                ComposeError::NothingToPlug {
                    plug: plug.name.to_string(),
                    imports: socket_imports
                        .iter()
                        .filter(|(n, _)| !n.starts_with("wasi:"))
                        .map(|(n, _)| n.clone())
                        .collect(),
                    host_imports,
                    exports: plug_exports.into_iter().map(|(n, _)| n).collect(),
                }
            });
        }
        plugged.extend(matched);
        plug_ids.push(
            graph
                .register_package(pkg)
                .map_err(|e| ComposeError::Graph(e.into()))?,
        );
    }

    let socket = graph
        .register_package(socket_pkg)
        .map_err(|e| ComposeError::Graph(e.into()))?;
    wac_graph::plug(&mut graph, plug_ids, socket).map_err(|e| ComposeError::Graph(e.into()))?;
    let bytes = graph
        .encode(EncodeOptions {
            // Validated below with the default feature set rather than wac's `all()`,
            // so that the output runs on a stock runtime.
            validate: false,
            ..EncodeOptions::default()
        })
        .map_err(|e| ComposeError::Graph(e.into()))?;
    validate(&bytes)?;
    let (imports, exports) = component_interface(&bytes)?;
    Ok(Composition {
        bytes,
        plugged,
        imports,
        exports,
    })
}

/// [`compose`] on files: reads `client` and each plug (named in errors by file name).
pub fn compose_files(client: &Path, plugs: &[PathBuf]) -> Result<Composition, ComposeError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| ComposeError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let client_bytes = read(client)?;
    let plug_bytes = plugs
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = plugs
        .iter()
        .map(|p| {
            p.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string())
        })
        .collect();
    let plugs: Vec<Plug<'_>> = names
        .iter()
        .zip(&plug_bytes)
        .map(|(name, bytes)| Plug { name, bytes })
        .collect();
    compose(&client_bytes, &plugs)
}

// ---------------------------------------------------------------------------------
// Running a composed matrix client (tests, benches; `offload invoke` is the CLI's way).
// ---------------------------------------------------------------------------------

use crate::wasi_gpu::{self, GpuHost, GpuInstance};

/// One instance of a composed matrix client (a component exporting the `client`
/// world's `run-matrix-example` and `run-matmul`) on a [`GpuHost`], which links WASI
/// preview 2 and `wasi:gpu` (composed-gpu imports it; composed-cpu does not, and runs
/// on any host).
pub struct MatrixClient {
    inst: GpuInstance,
}

impl MatrixClient {
    /// Compiles and instantiates the component at `path` on `host`.
    /// Errors: [`wasi_gpu::Error::Load`], or [`wasi_gpu::Error::Setup`] naming an
    /// import the host does not provide (e.g. an unplugged
    /// `offload:provider/matrix@0.1.0`).
    pub fn load(host: &GpuHost, path: &Path) -> Result<Self, wasi_gpu::Error> {
        let component = host.load(path)?;
        Ok(Self {
            inst: host.instantiate(&component)?,
        })
    }

    /// Calls `run-matrix-example`: the guest's one-line report or its error message.
    /// Errors: a missing export or a trap.
    pub fn run_matrix_example(&mut self) -> Result<Result<String, String>, wasi_gpu::Error> {
        Ok(self
            .inst
            .call::<(), (Result<String, String>,)>("run-matrix-example", ())?
            .0)
    }

    /// Calls `run-matmul(n, seed, check)`: Σ C of the n×n product (the guest's error
    /// message when `check` finds a mismatch or the provider fails).
    /// Errors: a missing export or a trap.
    pub fn run_matmul(
        &mut self,
        n: u32,
        seed: u64,
        check: bool,
    ) -> Result<Result<f64, String>, wasi_gpu::Error> {
        Ok(self
            .inst
            .call::<(u32, u64, bool), (Result<f64, String>,)>("run-matmul", (n, seed, check))?
            .0)
    }

    /// Device buffers the instance holds now (0 after every `run-*` call: the client
    /// frees what it allocates; only composed-gpu's provider allocates wasi:gpu ones).
    pub fn device_buffers(&self) -> usize {
        self.inst.buffers()
    }
}
