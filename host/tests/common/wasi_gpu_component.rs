//! Hand-written wasi:gpu test guests (WAT) made into components: the wasi:gpu WIT compiled
//! into the test binary (so that it runs where the source tree is not, e.g. the GPU
//! machine), the guest's own world pushed after it, the component type embedded and the
//! module encoded with wit-component.

/// The files of the wasi:gpu package (`wasm-modules/wit/wasi-gpu`).
pub const WASI_GPU_WIT: &[(&str, &str)] = &[
    (
        "compute.wit",
        include_str!("../../../wasm-modules/wit/wasi-gpu/compute.wit"),
    ),
    (
        "ml-kernels.wit",
        include_str!("../../../wasm-modules/wit/wasi-gpu/ml-kernels.wit"),
    ),
    (
        "worlds.wit",
        include_str!("../../../wasm-modules/wit/wasi-gpu/worlds.wit"),
    ),
];

/// WAT of the canonical ABI's allocator for a hand-written guest: a global `$heap` (mutable
/// i32, starting at `HEAP`, a placeholder the caller replaces, as its exports may reset the
/// heap to it) and an exported `cabi_realloc` that bumps it, traps on a reallocation (the
/// host never asks for one here) and traps when the block would end past `limit` bytes of
/// linear memory. Goes inside a `(module …)` after its imports.
pub fn bump_realloc_wat(limit: u64) -> String {
    format!(
        r#"(global $heap (mut i32) (i32.const HEAP))

  (func (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32)
      (param $size i32) (result i32) (local $p i32)
    (if (local.get $old) (then unreachable))
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (if (i64.gt_u (i64.add (i64.extend_i32_u (local.get $p)) (i64.extend_i32_u (local.get $size)))
                  (i64.const {limit}))
      (then unreachable))
    (global.set $heap (i32.add (local.get $p) (local.get $size)))
    (local.get $p))"#
    )
}

/// The component of core module `core` (bytes, e.g. from `wat::parse_str`) that targets
/// world `world` of the WIT package `wit` (parsed as file `file`; it may import the
/// wasi:gpu interfaces). Panics (fails the test) when the WIT or the module is invalid.
pub fn componentize(mut core: Vec<u8>, file: &str, wit: &str, world: &str) -> Vec<u8> {
    let mut wasi_gpu = wit_parser::SourceMap::new();
    for (name, text) in WASI_GPU_WIT {
        wasi_gpu.push_str(name, *text);
    }
    let mut resolve = wit_parser::Resolve::default();
    resolve
        .push_group(
            wasi_gpu
                .parse()
                .unwrap_or_else(|(_, e)| panic!("wasi:gpu WIT: {e}")),
        )
        .expect("wasi:gpu WIT resolves");
    let pkg = resolve
        .push_str(file, wit)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    let world = resolve
        .select_world(&[pkg], Some(world))
        .unwrap_or_else(|e| panic!("world {world}: {e}"));
    wit_component::embed_component_metadata(
        &mut core,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("embedding the component type");
    wit_component::ComponentEncoder::default()
        .module(&core)
        .expect("core module")
        .validate(true)
        .encode()
        .unwrap_or_else(|e| panic!("componentizing {file}: {e}"))
}
