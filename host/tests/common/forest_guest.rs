//! Shared by the forest-gpu world's tests (the Rust forest-gpu guest and the C++ guest):
//! where the component is, loading it on a backend (skipped by name where the backend does
//! not start), the guest's `err` message, and the hyperparameters every guest must refuse.

use std::path::PathBuf;

use offload_core::data::Dataset;
use offload_core::forest::ForestParams;
use offload_host::forest_gpu_guest::{ForestGpuGuest, ForestGpuGuestError};
use offload_host::wasi_gpu::{Device, Limits};

/// A component of the forest-gpu world: `env` overrides the path (for a test binary run
/// away from the repository, e.g. on the GPU machine), else `default` relative to the
/// repository root, built by `script`.
pub struct ForestGuestFile {
    /// Name in skip messages (`forest-gpu`, `forest-cpp`).
    pub label: &'static str,
    /// Environment variable that overrides the path.
    pub env: &'static str,
    /// Path relative to the repository root.
    pub default: &'static str,
    /// The build script that makes it (named when it is missing).
    pub script: &'static str,
}

impl ForestGuestFile {
    /// The component's path (not checked).
    pub fn path(&self) -> PathBuf {
        match std::env::var_os(self.env) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(self.default),
        }
    }

    /// The guest on `backend`, or `None` (with the reason on stderr) when the backend
    /// does not start; fails the test when the component is not built.
    pub fn on(&self, backend: &str) -> Option<ForestGpuGuest> {
        let device = match Device::open(backend) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("skipping {} guest on {backend}: {e}", self.label);
                return None;
            }
        };
        let path = self.path();
        assert!(
            path.is_file(),
            "{} is not built: run {} (./build.sh test does)",
            path.display(),
            self.script
        );
        Some(ForestGpuGuest::load(&path, device, Limits::default()).expect("the guest loads"))
    }
}

/// The guest's `err` message; fails the test on `Ok` or a host error.
pub fn guest_err<T: std::fmt::Debug>(r: Result<T, ForestGpuGuestError>) -> String {
    match r {
        Err(ForestGpuGuestError::Guest { message, .. }) => message,
        other => panic!("expected the guest's err, got {other:?}"),
    }
}

/// Hyperparameters out of range (on 10 features), each with the start of the message a
/// guest must give; `sep` joins the words of a parameter's name (`_` in offload-core's
/// messages, `-` in the WIT's).
pub fn bad_params(small: &ForestParams, sep: &str) -> Vec<(ForestParams, String)> {
    let name = |n: &str| n.replace('_', sep);
    vec![
        (
            ForestParams {
                n_trees: 0,
                ..small.clone()
            },
            format!("{} must be at least 1", name("n_trees")),
        ),
        (
            ForestParams {
                max_features: Some(0),
                ..small.clone()
            },
            format!("{} must be in 1..=10, got 0", name("max_features")),
        ),
        (
            ForestParams {
                max_features: Some(11),
                ..small.clone()
            },
            format!("{} must be in 1..=10, got 11", name("max_features")),
        ),
        (
            ForestParams {
                min_samples_leaf: 0,
                ..small.clone()
            },
            format!("{} must be at least 1", name("min_samples_leaf")),
        ),
        (
            ForestParams {
                min_samples_split: 1,
                ..small.clone()
            },
            format!("{} must be at least 2", name("min_samples_split")),
        ),
    ]
}

/// The refusals every forest-gpu guest owes on a fresh instance: predict and trees
/// before any fit are "no forest yet", and each of [`bad_params`] (`sep` as there) is an
/// `err` naming the parameter, with no device buffer left behind; with `one_line`, every
/// such message is one line.
pub fn check_refusals(
    g: &mut ForestGpuGuest,
    train: &Dataset,
    test: &Dataset,
    small: &ForestParams,
    sep: &str,
    one_line: bool,
) {
    assert!(guest_err(g.predict(&test.x)).contains("no forest yet"));
    assert!(guest_err(g.trees()).contains("no forest yet"));
    for (p, want) in bad_params(small, sep) {
        let msg = guest_err(g.fit(train, &p));
        assert!(msg.contains(&want), "{p:?}: message {msg:?} lacks {want:?}");
        if one_line {
            assert!(
                !msg.contains('\n'),
                "a message of more than one line: {msg:?}"
            );
        }
        assert_eq!(g.buffers(), 0);
    }
}
