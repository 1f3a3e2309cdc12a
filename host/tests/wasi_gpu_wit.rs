//! Validates the `wasi:gpu` 0.1.0 WIT package (`wasm-modules/wit/wasi-gpu`) with
//! wasm-tools' parser (`wit-parser`): package name, both interfaces with exactly their
//! functions, the `buffer` resource, the `gpu-error` cases and world `ml-compute`; and that
//! the demo guest's world (`wasm-modules/gpu-guest/wit`) resolves against it.

use std::path::PathBuf;

use wit_parser::{Resolve, TypeDefKind, WorldItem, WorldKey};

fn wit_dir(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

fn functions(resolve: &Resolve, pkg: wit_parser::PackageId, iface: &str) -> Vec<String> {
    let id = resolve.packages[pkg].interfaces[iface];
    let mut f: Vec<String> = resolve.interfaces[id].functions.keys().cloned().collect();
    f.sort();
    f
}

#[test]
fn wasi_gpu_package_parses_with_its_interfaces_and_functions() {
    let mut resolve = Resolve::default();
    let (pkg, _files) = resolve
        .push_dir(wit_dir("wasm-modules/wit/wasi-gpu"))
        .expect("wasi:gpu parses");
    let package = &resolve.packages[pkg];
    assert_eq!(package.name.to_string(), "wasi:gpu@0.1.0");

    let mut ifaces: Vec<&String> = package.interfaces.keys().collect();
    ifaces.sort();
    assert_eq!(ifaces, ["compute", "ml-kernels"]);

    assert_eq!(
        functions(&resolve, pkg, "compute"),
        [
            "buffer-copy",
            "buffer-create",
            "buffer-destroy",
            "buffer-read",
            "buffer-write",
            "get-device-info",
            "sync"
        ]
    );
    assert_eq!(
        functions(&resolve, pkg, "ml-kernels"),
        [
            "kernel-average",
            "kernel-batch-predict",
            "kernel-bootstrap-sample",
            "kernel-elementwise",
            "kernel-find-split",
            "kernel-matmul",
            "kernel-reduce"
        ]
    );

    // `buffer` is a resource and `gpu-error` a variant with the eight cases hosts map onto.
    let compute = &resolve.interfaces[package.interfaces["compute"]];
    let buffer = &resolve.types[compute.types["buffer"]];
    assert!(matches!(buffer.kind, TypeDefKind::Resource));
    let TypeDefKind::Variant(v) = &resolve.types[compute.types["gpu-error"]].kind else {
        panic!("gpu-error is not a variant");
    };
    let cases: Vec<&str> = v.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        cases,
        [
            "unsupported",
            "out-of-bounds",
            "zero-size",
            "too-large",
            "shape-mismatch",
            "invalid-argument",
            "quota-exceeded",
            "device"
        ]
    );

    // Every function returns a `result`.
    for iface in ["compute", "ml-kernels"] {
        let i = &resolve.interfaces[package.interfaces[iface]];
        for (name, f) in &i.functions {
            let Some(wit_parser::Type::Id(t)) = f.result else {
                panic!("{iface}.{name} returns no result");
            };
            assert!(
                matches!(resolve.types[t].kind, TypeDefKind::Result(_)),
                "{iface}.{name} does not return a result"
            );
        }
    }

    // World ml-compute imports both interfaces and exports nothing.
    let world = &resolve.worlds[package.worlds["ml-compute"]];
    assert!(world.exports.is_empty());
    let imported: Vec<String> = world
        .imports
        .iter()
        .filter_map(|(k, item)| match (k, item) {
            (WorldKey::Interface(id), WorldItem::Interface { .. }) => resolve.id_of(*id),
            _ => None,
        })
        .collect();
    assert!(
        imported.contains(&"wasi:gpu/compute@0.1.0".to_string()),
        "{imported:?}"
    );
    assert!(
        imported.contains(&"wasi:gpu/ml-kernels@0.1.0".to_string()),
        "{imported:?}"
    );
}

#[test]
fn demo_guest_world_resolves_against_wasi_gpu() {
    let mut resolve = Resolve::default();
    resolve
        .push_dir(wit_dir("wasm-modules/wit/wasi-gpu"))
        .expect("wasi:gpu parses");
    let (pkg, _) = resolve
        .push_dir(wit_dir("wasm-modules/gpu-guest/wit"))
        .expect("the demo world parses");
    let world = &resolve.worlds[resolve.packages[pkg].worlds["gpu-demo"]];
    let mut exports: Vec<String> = world
        .exports
        .keys()
        .map(|k| resolve.name_world_key(k))
        .collect();
    exports.sort();
    assert_eq!(
        exports,
        ["call-loop", "dot", "matmul", "probe", "run", "sum"]
    );
    let imports: Vec<String> = world
        .imports
        .keys()
        .map(|k| resolve.name_world_key(k))
        .collect();
    for want in ["wasi:gpu/compute@0.1.0", "wasi:gpu/ml-kernels@0.1.0"] {
        assert!(
            imports.iter().any(|i| i == want),
            "{want} not in {imports:?}"
        );
    }
}
