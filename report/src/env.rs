//! Collects the [`Environment`] of a run: CPU, GPUs, tool and library versions, guest
//! compilers, git commit. Whatever cannot be found is written as `unknown (<why>)`, never
//! left out silently.

use crate::error::{ReportError, Result};
use crate::model::{Environment, Gpu, Guest};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Crates whose locked versions are recorded (from `Cargo.lock`).
pub const LOCKED_CRATES: &[&str] = &["wasmtime", "wgpu", "cudarc", "criterion"];

/// Go modules whose required versions are recorded (from `go-host/go.mod`), with the
/// name used in the report.
pub const GO_MODULES: &[(&str, &str)] = &[
    ("github.com/bytecodealliance/wasmtime-go", "wasmtime-go"),
    ("github.com/tetratelabs/wazero", "wazero"),
];

/// Runs a command and returns its trimmed stdout, or `unknown (<why>)`.
fn cmd_output(prog: &str, args: &[&str]) -> String {
    match Command::new(prog).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("unknown ({prog} exited with {})", o.status),
        Err(e) => format!("unknown ({prog}: {e})"),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// CPU model name from /proc/cpuinfo (`model name`, or `Model`/`CPU part` on Arm).
fn cpu_model() -> String {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return "unknown (/proc/cpuinfo unreadable)".into();
    };
    for key in ["model name", "Model", "Hardware"] {
        if let Some(v) = info.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        }) {
            return v;
        }
    }
    "unknown (no model name in /proc/cpuinfo)".into()
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{pretty}, kernel {kernel}, {}", std::env::consts::ARCH)
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// GPUs from `nvidia-smi --query-gpu`; on failure an empty list and the reason.
fn gpus() -> (Vec<Gpu>, Option<String>) {
    let out = Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,driver_version,memory.total",
            "--format=csv,noheader",
        ])
        .output();
    match out {
        Err(e) => (Vec::new(), Some(format!("nvidia-smi not runnable: {e}"))),
        Ok(o) if !o.status.success() => (
            Vec::new(),
            Some(format!(
                "nvidia-smi failed: {}",
                first_line(&String::from_utf8_lossy(&o.stderr))
            )),
        ),
        Ok(o) => {
            let gpus: Vec<Gpu> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let mut f = l.split(',').map(|s| s.trim().to_string());
                    Gpu {
                        name: f.next().unwrap_or_default(),
                        driver: f.next().unwrap_or_default(),
                        memory: f.next().unwrap_or_default(),
                    }
                })
                .collect();
            let note = gpus
                .is_empty()
                .then(|| "nvidia-smi listed no GPU".to_string());
            (gpus, note)
        }
    }
}

/// Locked versions of [`LOCKED_CRATES`] from a `Cargo.lock`.
pub fn locked_versions(cargo_lock: &Path) -> Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Pkg>,
    }
    #[derive(serde::Deserialize)]
    struct Pkg {
        name: String,
        version: String,
    }
    let text = std::fs::read_to_string(cargo_lock).map_err(|e| ReportError::io(cargo_lock, e))?;
    let lock: Lock = toml::from_str(&text).map_err(|e| ReportError::Toml {
        path: cargo_lock.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(LOCKED_CRATES
        .iter()
        .map(|name| {
            let mut vs: Vec<&str> = lock
                .package
                .iter()
                .filter(|p| p.name == *name)
                .map(|p| p.version.as_str())
                .collect();
            vs.dedup();
            let v = if vs.is_empty() {
                "not in Cargo.lock".to_string()
            } else {
                vs.join(", ")
            };
            (name.to_string(), v)
        })
        .collect())
}

/// Required versions of [`GO_MODULES`] from a `go.mod` (both `require x v` and the
/// lines of a `require ( ... )` block; major-version suffixes like `/v39` are kept in
/// the version column: `v39.0.1`).
pub fn go_mod_versions(go_mod: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(go_mod).map_err(|e| ReportError::io(go_mod, e))?;
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        let line = line.strip_prefix("require ").unwrap_or(line).trim();
        let mut words = line.split_whitespace();
        let (Some(module), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        for (prefix, name) in GO_MODULES {
            if module == *prefix || module.starts_with(&format!("{prefix}/v")) {
                out.insert(name.to_string(), version.to_string());
            }
        }
    }
    for (_, name) in GO_MODULES {
        out.entry(name.to_string())
            .or_insert_with(|| "not in go.mod".to_string());
    }
    Ok(out)
}

/// Reads every `build/guests/*.json` under `repo`.
pub fn guests(repo: &Path) -> Result<Vec<Guest>> {
    let dir = repo.join("build/guests");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(|e| ReportError::io(p, e))?;
            serde_json::from_str(&text).map_err(|e| ReportError::Json {
                path: p.clone(),
                source: e,
            })
        })
        .collect()
}

fn git_commit(repo: &Path) -> String {
    let dir = repo.to_string_lossy();
    let head = cmd_output("git", &["-C", &dir, "rev-parse", "HEAD"]);
    if head.starts_with("unknown") {
        return head;
    }
    let dirty = cmd_output("git", &["-C", &dir, "status", "--porcelain"]);
    if dirty.is_empty() {
        head
    } else {
        format!("{head}-dirty")
    }
}

/// Collects the environment of this machine for a run of `command_line` in the
/// repository at `repo` (where `Cargo.lock`, `go-host/go.mod` and `build/guests/` are).
pub fn collect(repo: &Path, command_line: &str) -> Result<Environment> {
    let mut tools = BTreeMap::new();
    tools.insert("rustc".into(), cmd_output("rustc", &["--version"]));
    tools.insert("cargo".into(), cmd_output("cargo", &["--version"]));
    tools.insert("go".into(), cmd_output("go", &["version"]));
    tools.insert(
        "clang".into(),
        first_line(&cmd_output("clang", &["--version"])),
    );
    tools.insert("tinygo".into(), cmd_output("tinygo", &["version"]));
    tools.insert("python3".into(), cmd_output("python3", &["--version"]));
    let mut libraries = BTreeMap::new();
    // scikit-learn, the forest peer: python3's own, else the venv scripts/bench.sh makes.
    let sklearn = |py: &str| {
        let v = cmd_output(
            py,
            &[
                "-c",
                // The installed distributions' metadata: no import of numpy or sklearn.
                "from importlib.metadata import version as v; \
                 print(v('scikit-learn'), '(numpy', v('numpy') + ')')",
            ],
        );
        (!v.starts_with("unknown")).then_some(v)
    };
    let venv = repo.join("build/venv/bin/python");
    libraries.insert(
        "scikit-learn".into(),
        sklearn("python3")
            .or_else(|| sklearn(&venv.to_string_lossy()))
            .unwrap_or_else(|| "not installed (python3 has no sklearn, no build/venv)".into()),
    );
    let lock = repo.join("Cargo.lock");
    if lock.exists() {
        libraries.extend(locked_versions(&lock)?);
    }
    let go_mod = repo.join("go-host/go.mod");
    if go_mod.exists() {
        libraries.extend(go_mod_versions(&go_mod)?);
    }
    let (gpus, gpu_note) = gpus();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| cmd_output("hostname", &[]));
    Ok(Environment {
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        host,
        os: os_name(),
        cpu_model: cpu_model(),
        cpu_cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory: memory(),
        gpus,
        gpu_note,
        tools,
        libraries,
        guests: guests(repo)?,
        git_commit: git_commit(repo),
        command_line: command_line.to_string(),
        // filled by ingest from the benches' `threads <path>: <n>` lines
        threads: Default::default(),
    })
}

/// Takes what describes the build from `built` (an environment collected where the
/// binaries were compiled): tool versions (keys prefixed `built with `), library versions,
/// guests and git commit. The machine fields (CPU, GPU, OS, date) stay this machine's.
pub fn merge_build_env(env: &mut Environment, built: Environment) {
    env.tools = built
        .tools
        .into_iter()
        .map(|(k, v)| (format!("built with {k}"), v))
        .collect();
    env.libraries = built.libraries;
    env.guests = built.guests;
    env.git_commit = built.git_commit;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_mod_and_merge() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("go.mod");
        std::fs::write(
            &f,
            "module x\n\ngo 1.24.0\n\nrequire (\n\tgithub.com/bytecodealliance/wasmtime-go/v39 \
             v39.0.1 // indirect\n)\nrequire github.com/tetratelabs/wazero v1.11.0\n",
        )
        .unwrap();
        let v = go_mod_versions(&f).unwrap();
        assert_eq!(v["wasmtime-go"], "v39.0.1");
        assert_eq!(v["wazero"], "v1.11.0");

        let mut here = Environment {
            cpu_model: "device CPU".into(),
            ..Default::default()
        };
        here.tools
            .insert("rustc".into(), "unknown (rustc: not found)".into());
        let mut built = Environment {
            cpu_model: "build CPU".into(),
            git_commit: "abc".into(),
            ..Default::default()
        };
        built.tools.insert("rustc".into(), "rustc 1.95.0".into());
        merge_build_env(&mut here, built);
        assert_eq!(here.cpu_model, "device CPU");
        assert_eq!(here.git_commit, "abc");
        assert_eq!(here.tools["built with rustc"], "rustc 1.95.0");
        assert!(!here.tools.contains_key("rustc"));
    }
}
