//! Compiles `tests/c/smoke.c` with the system C compiler (`$CC`, else `cc`) against
//! the checked-in header and this crate's staticlib, runs it, and checks that it
//! reports success: every C entry point is called from real C.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn c_program_calls_every_function() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The test binary lives in <target>/<profile>/deps; for a test build cargo leaves
    // the library's staticlib there too (a plain build puts it one level up).
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let staticlib = [deps, deps.parent().expect("profile dir")]
        .iter()
        .map(|d| d.join("liboffload_capi.a"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("liboffload_capi.a not found next to {}", exe.display()));
    let out = std::env::temp_dir().join(format!("offload_capi_smoke_{}", std::process::id()));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c/smoke.c"))
        .arg(&staticlib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run C compiler {cc}: {e}"));
    assert!(status.success(), "compiling tests/c/smoke.c failed");
    let run = Command::new(&out).output().expect("run the C program");
    let _ = std::fs::remove_file(&out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    // Shown with --nocapture: the devices it ran on, or why wgpu was skipped.
    println!("{stdout}");
    assert!(
        run.status.success(),
        "C program failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("checks passed"),
        "unexpected output: {stdout}"
    );
}
