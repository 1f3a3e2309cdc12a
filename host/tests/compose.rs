//! `offload compose` (issue 7): the matrix client plugged into provider-cpu and
//! provider-gpu composes into valid components that run and agree; plugs that do not
//! fit give errors naming the client's import.
//!
//! Needs `build/components/{matrix-client,provider-cpu,provider-gpu}.wasm`
//! (`./build.sh components`; `./build.sh test` builds them first). The bad plugs are
//! tiny components written in WAT below.

use std::path::{Path, PathBuf};
use std::process::Command;

use offload_host::compose::{self, ComposeError, MatrixClient, Plug};
use offload_host::wasi_gpu::{Device, GpuHost, Limits};

/// The client's import every provider must satisfy.
const IMPORT: &str = "offload:provider/matrix@0.1.0";

fn components_dir() -> PathBuf {
    match std::env::var_os("OFFLOAD_COMPONENTS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/components"),
    }
}

/// A built component; fails the test (with the command to run) when it is missing.
fn component(name: &str) -> (PathBuf, Vec<u8>) {
    let path = components_dir().join(format!("{name}.wasm"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the components with ./build.sh components (./build.sh test does it)",
            path.display()
        )
    });
    (path, bytes)
}

fn compose_with(provider: &str) -> compose::Composition {
    let (_, client) = component("matrix-client");
    let (_, plug) = component(provider);
    let name = format!("{provider}.wasm");
    compose::compose(
        &client,
        &[Plug {
            name: &name,
            bytes: &plug,
        }],
    )
    .unwrap_or_else(|e| panic!("composing matrix-client with {provider}: {e}"))
}

/// Writes `bytes` into a temporary directory (kept alive by the returned guard).
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write temp file");
    (dir, path)
}

/// `checksum <x>` out of the example's line.
fn checksum(line: &str) -> f64 {
    let rest = line
        .split("checksum ")
        .nth(1)
        .unwrap_or_else(|| panic!("no checksum in {line:?}"));
    let num = rest.split(',').next().expect("number");
    num.trim()
        .parse()
        .unwrap_or_else(|e| panic!("checksum {num:?} in {line:?}: {e}"))
}

/// A wasi:gpu host on offload-core's `cpu` backend (the reference; runs everywhere).
fn cpu_host() -> GpuHost {
    let device = Device::open("cpu").unwrap_or_else(|e| panic!("cpu backend: {e}"));
    GpuHost::new(device, Limits::default()).unwrap_or_else(|e| panic!("wasi:gpu host: {e}"))
}

fn run_example(host: &GpuHost, path: &Path) -> String {
    let mut client = MatrixClient::load(host, path).unwrap_or_else(|e| panic!("{e}"));
    let line = client
        .run_matrix_example()
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("run-matrix-example returned an error: {e}"));
    assert_eq!(client.device_buffers(), 0, "the client frees its buffers");
    line
}

#[test]
fn both_compositions_compose_and_validate() {
    for provider in ["provider-cpu", "provider-gpu"] {
        let c = compose_with(provider);
        compose::validate(&c.bytes).expect("composed component validates");
        assert!(wasmparser::Parser::is_component(&c.bytes));
        assert_eq!(c.plugged.len(), 1, "{provider}: {:?}", c.plugged);
        assert_eq!(c.plugged[0].import, IMPORT);
        assert!(
            !c.imports.iter().any(|i| i.starts_with("offload:provider/")),
            "{provider}: the provider import must be satisfied, imports: {:?}",
            c.imports
        );
        assert_eq!(c.exports, ["run-matmul", "run-matrix-example"]);
        let gpu_imports = c
            .imports
            .iter()
            .filter(|i| i.starts_with("wasi:gpu/"))
            .count();
        match provider {
            "provider-gpu" => assert_eq!(gpu_imports, 2, "{:?}", c.imports),
            _ => assert_eq!(gpu_imports, 0, "{:?}", c.imports),
        }
    }
}

#[test]
fn the_client_alone_imports_the_provider_interface() {
    let (_, client) = component("matrix-client");
    let (imports, exports) = compose::component_interface(&client).expect("client");
    assert!(imports.iter().any(|i| i == IMPORT), "{imports:?}");
    assert_eq!(exports, ["run-matmul", "run-matrix-example"]);
    let (_, cpu) = component("provider-cpu");
    let (imports, exports) = compose::component_interface(&cpu).expect("provider-cpu");
    assert_eq!(exports, [IMPORT]);
    assert!(
        imports.iter().all(|i| i.starts_with("wasi:")),
        "{imports:?}"
    );
}

#[test]
fn both_compositions_run_and_give_the_same_product() {
    let host = cpu_host();
    let cpu = compose_with("provider-cpu");
    let (_d1, cpu_path) = temp_file("composed-cpu.wasm", &cpu.bytes);
    let gpu = compose_with("provider-gpu");
    let (_d2, gpu_path) = temp_file("composed-gpu.wasm", &gpu.bytes);

    let cpu_line = run_example(&host, &cpu_path);
    assert!(
        cpu_line.starts_with("matmul 64x48 * 48x32 = 64x32:"),
        "{cpu_line}"
    );
    assert!(
        cpu_line.contains("provider provider-cpu (plain wasm)"),
        "{cpu_line}"
    );
    assert!(
        cpu_line.contains("max_rel_err 0e0"),
        "exact inputs: {cpu_line}"
    );

    let gpu_line = run_example(&host, &gpu_path);
    assert!(
        gpu_line.starts_with("matmul 64x48 * 48x32 = 64x32:"),
        "{gpu_line}"
    );
    assert!(
        gpu_line.contains("provider provider-gpu (wasi:gpu cpu: "),
        "{gpu_line}"
    );
    assert!(
        gpu_line.contains("max_rel_err 0e0"),
        "exact inputs: {gpu_line}"
    );

    // Entries are multiples of 1/8, so both providers give the same bits.
    let (a, b) = (checksum(&cpu_line), checksum(&gpu_line));
    assert!(a.is_finite() && a != 0.0, "{cpu_line}");
    assert_eq!(a, b, "composed-cpu: {cpu_line}\ncomposed-gpu: {gpu_line}");
}

#[test]
fn run_matmul_checks_its_product_on_both_providers() {
    let host = cpu_host();
    let mut sums = Vec::new();
    for provider in ["provider-cpu", "provider-gpu"] {
        let c = compose_with(provider);
        let (_dir, path) = temp_file("composed.wasm", &c.bytes);
        let mut client = MatrixClient::load(&host, &path).unwrap_or_else(|e| panic!("{e}"));
        // check: Σ C against colsum(a)·rowsum(b), and 64 entries against f64 dots.
        let a = client
            .run_matmul(33, 5, true)
            .expect("no trap")
            .expect("ok");
        let b = client
            .run_matmul(33, 5, false)
            .expect("no trap")
            .expect("ok");
        assert_eq!(a, b, "{provider}: same operands, same provider, same bits");
        let other = client
            .run_matmul(33, 6, true)
            .expect("no trap")
            .expect("ok");
        assert_ne!(a, other, "{provider}: another seed gives another product");
        let zero = client.run_matmul(0, 5, true).expect("no trap");
        assert!(
            zero.as_ref()
                .is_err_and(|e| e.contains("n must be at least 1")),
            "{provider}: {zero:?}"
        );
        assert_eq!(client.device_buffers(), 0, "{provider} frees its buffers");
        sums.push(a);
    }
    let rel = (sums[0] - sums[1]).abs() / sums[0].abs().max(1.0);
    assert!(rel < 1e-5, "cpu {} vs gpu {}", sums[0], sums[1]);
}

/// A component exporting one instance `name` with `provider-name: func() -> string`
/// lifted from a core module (that returns an empty string).
fn wat_plug(export_name: &str) -> Vec<u8> {
    let text = format!(
        r#"(component
  (core module $m
    (memory (export "memory") 1)
    (global $s (mut i32) (i32.const 64))
    (func (export "name") (result i32)
      (i32.store (i32.const 0) (i32.const 16))
      (i32.store (i32.const 4) (i32.const 0))
      (i32.const 0))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 128)))
  (core instance $i (instantiate $m))
  (func $name (result string)
    (canon lift (core func $i "name") (memory (core memory $i "memory"))
      (realloc (core func $i "realloc"))))
  (instance $inst (export "provider-name" (func $name)))
  (export "{export_name}" (instance $inst)))"#
    );
    wat::parse_str(&text).expect("fixture WAT parses")
}

fn compose_bad(plug: &[u8], name: &str) -> ComposeError {
    let (_, client) = component("matrix-client");
    match compose::compose(&client, &[Plug { name, bytes: plug }]) {
        Ok(_) => panic!("composing with {name} must fail"),
        Err(e) => e,
    }
}

#[test]
fn a_plug_that_exports_nothing_the_client_imports_names_the_import() {
    let plug = wat_plug("other:thing/api@1.0.0");
    let e = compose_bad(&plug, "other-thing.wasm");
    assert!(matches!(e, ComposeError::NothingToPlug { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("`{IMPORT}`")), "{msg}");
    assert!(msg.contains("other-thing.wasm"), "{msg}");
    assert!(msg.contains("`other:thing/api@1.0.0`"), "{msg}");
}

#[test]
fn a_plug_of_another_package_version_names_the_import() {
    let plug = wat_plug("offload:provider/matrix@0.2.0");
    let e = compose_bad(&plug, "provider-v2.wasm");
    assert!(matches!(e, ComposeError::VersionMismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("`{IMPORT}`")), "{msg}");
    assert!(msg.contains("offload:provider/matrix@0.2.0"), "{msg}");
    assert!(msg.contains("0.1.0 and 0.2.0"), "{msg}");
}

#[test]
fn a_plug_with_the_right_name_but_the_wrong_type_names_the_import() {
    // Only `provider-name`: allocate, matmul, the resource... are missing.
    let plug = wat_plug(IMPORT);
    let e = compose_bad(&plug, "half-provider.wasm");
    assert!(matches!(e, ComposeError::TypeMismatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("`{IMPORT}`")), "{msg}");
    assert!(msg.contains("half-provider.wasm"), "{msg}");
}

#[test]
fn a_core_module_is_not_a_component() {
    let module = wat::parse_str("(module)").expect("wat");
    let e = compose_bad(&module, "core.wasm");
    assert!(matches!(e, ComposeError::NotAComponent { .. }), "{e:?}");
    assert!(e.to_string().contains("core wasm module"), "{e}");
}

#[test]
fn the_cli_composes_and_reports_bad_plugs() {
    let (client, _) = component("matrix-client");
    let (cpu, _) = component("provider-cpu");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("composed.wasm");
    let o = Command::new(env!("CARGO_BIN_EXE_offload"))
        .arg("compose")
        .arg(&client)
        .arg("--plug")
        .arg(&cpu)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run offload");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(&format!("plugged:   {IMPORT} <- provider-cpu.wasm")),
        "{stdout}"
    );
    compose::validate(&std::fs::read(&out).expect("output written")).expect("valid");

    let bad = dir.path().join("provider-v2.wasm");
    std::fs::write(&bad, wat_plug("offload:provider/matrix@0.2.0")).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_offload"))
        .arg("compose")
        .arg(&client)
        .arg("--plug")
        .arg(&bad)
        .arg("-o")
        .arg(dir.path().join("never.wasm"))
        .output()
        .expect("run offload");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(IMPORT), "{stderr}");
    assert!(!dir.path().join("never.wasm").exists());
}
