//! The forest guest's ABI as the host sees it: where the guest is built, the ABI version,
//! the guest's error codes, [`ForestGuestError`] and [`RawParams`] (hyperparameters as the
//! ABI's `i32`s).

use offload_core::forest::{ForestError, ForestParams};

/// Where `scripts/build-forest-guest.sh` puts the guest, relative to the repository
/// root. (Not beside the vector guests in `build/guests/`: everything reading
/// `build/guests/*.wasm` expects the vector-guest ABI there.)
pub const DEFAULT_PATH: &str = "build/guests/forest/forest-rust.wasm";

/// The forest ABI version this host speaks (`forest_abi_version()` must return it).
pub const FOREST_ABI_VERSION: i32 = 1;

/// Guest error code: a pointer or count is bad.
pub const ERR_ARGUMENT: i32 = -1;
/// Guest error code: a hyperparameter is out of range.
pub const ERR_PARAMS: i32 = -2;
/// Guest error code: predict before a successful fit.
pub const ERR_NOT_FITTED: i32 = -3;
/// Guest error code: the guest could not allocate.
pub const ERR_OOM: i32 = -4;
/// Guest error code: the training data is empty.
pub const ERR_DATA: i32 = -5;

/// Longest error message read back from the guest, in bytes.
pub(super) const MAX_MESSAGE: i32 = 4096;

/// Everything that can go wrong loading or calling the forest guest. None leaves the
/// [`ForestGuest`](super::ForestGuest) unusable: after [`ForestGuestError::Trap`] the instance has been
/// rebuilt (without a forest).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForestGuestError {
    /// Reading, validating or compiling the module failed, or the engine could not be
    /// created (see [`crate::Error`]).
    #[error(transparent)]
    Load(#[from] crate::Error),

    /// Linking or instantiating failed (an import other than WASI preview 1, a start
    /// function that failed, ...).
    #[error("cannot instantiate {origin}: {message}")]
    Instantiate {
        /// Where the module came from.
        origin: String,
        /// wasmtime's message.
        message: String,
    },

    /// A forest ABI export is absent or has the wrong type.
    #[error("{origin}: export `{name}`: {message}")]
    Export {
        /// Where the module came from.
        origin: String,
        /// The export's name.
        name: &'static str,
        /// What is wrong (missing, or wasmtime's type mismatch).
        message: String,
    },

    /// `forest_abi_version()` is not [`FOREST_ABI_VERSION`].
    #[error("forest ABI version mismatch: the guest's forest_abi_version() is {found}, this host speaks {expected}")]
    AbiVersion {
        /// What the guest returned.
        found: i32,
        /// [`FOREST_ABI_VERSION`].
        expected: i32,
    },

    /// The guest returned an error code; `message` is its `forest_last_error`.
    #[error("guest `{op}` returned error {code}: {message}")]
    Guest {
        /// The export that failed.
        op: &'static str,
        /// The code ([`ERR_ARGUMENT`], [`ERR_PARAMS`], [`ERR_NOT_FITTED`], [`ERR_OOM`],
        /// [`ERR_DATA`], or another negative value).
        code: i32,
        /// The guest's message.
        message: String,
    },

    /// The guest trapped, called `proc_exit`, or ran past its deadline
    /// ([`ForestGuest::set_deadline`](super::ForestGuest::set_deadline); the message then says `deadline`); the instance
    /// was rebuilt and holds no forest.
    #[error("guest trapped in `{op}`: {message} (instance rebuilt, forest dropped)")]
    Trap {
        /// The export that was running.
        op: &'static str,
        /// wasmtime's description.
        message: String,
    },

    /// The guest handed back a pointer the host refuses to use.
    #[error("guest `forest_alloc({bytes})` returned {ptr}: {reason}")]
    BadPointer {
        /// The pointer (a linear-memory offset).
        ptr: i32,
        /// Bytes asked for.
        bytes: usize,
        /// Why it was refused (misaligned, past the end of linear memory).
        reason: String,
    },

    /// Bad hyperparameters or input shape, caught on the host with `offload-core`'s own
    /// check (the same error the native path gives).
    #[error(transparent)]
    Forest(#[from] ForestError),

    /// The input cannot be expressed in the forest ABI (a count over `i32`, lengths
    /// that disagree, `max_depth = Some(0)`, `bootstrap = false`).
    #[error("input not expressible in the forest ABI: {0}")]
    Input(String),

    /// [`ForestGuest::predict`](super::ForestGuest::predict) or [`ForestGuest::node_count`](super::ForestGuest::node_count) before a successful fit.
    #[error("no forest: call fit first (or the last fit failed)")]
    NotFitted,

    /// After a trap the instance could not be rebuilt; the next call tries again.
    #[error("cannot rebuild the instance of {origin}: {message}")]
    Rebuild {
        /// Where the module came from.
        origin: String,
        /// Why.
        message: String,
    },
}

/// `Result` with [`ForestGuestError`].
pub type Result<T, E = ForestGuestError> = std::result::Result<T, E>;

/// The hyperparameters exactly as `forest_fit` receives them (`i32` each, `seed` as
/// the `u64`'s bits): `max_features` 0 = all, `max_depth` 0 = unlimited, every tree
/// bootstrapped. [`ForestGuest::fit_raw`](super::ForestGuest::fit_raw) passes them unchecked, so conformance tests
/// can hand the guest values that [`ForestParams`] cannot hold (negative ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawParams {
    /// Trees (≥ 1).
    pub n_trees: i32,
    /// Features per node, 0 = all, else 1..=d.
    pub max_features: i32,
    /// Depth limit, 0 = unlimited.
    pub max_depth: i32,
    /// Least weight of a node that is split (≥ 2).
    pub min_samples_split: i32,
    /// Least weight on each side of a split (≥ 1).
    pub min_samples_leaf: i32,
    /// Seed bits.
    pub seed: i64,
}

impl RawParams {
    /// Converts [`ForestParams`] for data with `d` features.
    ///
    /// # Errors
    /// [`ForestGuestError::Forest`] for `max_features = Some(0)` (the ABI's 0 means
    /// "all", so the guest could not see the mistake); [`ForestGuestError::Input`] for a
    /// value over `i32::MAX`, `max_depth = Some(0)` (0 means unlimited in the ABI) or
    /// `bootstrap = false` (the ABI always bootstraps). Everything else is left to the
    /// guest to check.
    pub fn from_params(p: &ForestParams, d: usize) -> Result<RawParams> {
        if p.max_features == Some(0) {
            return Err(ForestError::MaxFeatures { got: 0, d }.into());
        }
        if p.max_depth == Some(0) {
            return Err(ForestGuestError::Input(
                "max_depth = Some(0) (root-only trees): the ABI reads 0 as unlimited".into(),
            ));
        }
        if !p.bootstrap {
            return Err(ForestGuestError::Input(
                "bootstrap = false: forest ABI v1 always draws bootstrap samples".into(),
            ));
        }
        Ok(RawParams {
            n_trees: to_i32("n_trees", p.n_trees)?,
            max_features: to_i32("max_features", p.max_features.unwrap_or(0))?,
            max_depth: to_i32("max_depth", p.max_depth.unwrap_or(0))?,
            min_samples_split: to_i32("min_samples_split", p.min_samples_split)?,
            min_samples_leaf: to_i32("min_samples_leaf", p.min_samples_leaf)?,
            seed: p.seed as i64,
        })
    }
}

pub(super) fn to_i32(what: &str, v: usize) -> Result<i32> {
    i32::try_from(v).map_err(|_| ForestGuestError::Input(format!("{what} = {v} is over i32::MAX")))
}

pub(super) type FitParams = (i32, i32, i32, i32, i32, i32, i32, i32, i32, i64);
