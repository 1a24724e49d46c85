//! Building a package's runnable example so a test can run the real binary.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::HarnessError;

/// Builds `package`'s example `name` with `cargo build` and returns its path.
///
/// `cargo test --all-targets` compiles examples as test harnesses (their `main`
/// never runs), so tests that run an example build the real binary here. Cargo
/// has released the target directory's lock while tests run. The `CARGO_*`
/// variables cargo sets for the test process are removed: they would change
/// the nested build's fingerprints and rebuild the dependency tree every time.
pub fn build_example(package: &str, name: &str) -> Result<PathBuf, HarnessError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            command.env_remove(key);
        }
    }
    let output = command
        .args(["build", "-q", "-p", package, "--example", name])
        .current_dir(crate::repo_root())
        .output()
        .map_err(|source| HarnessError::Spawn {
            program: cargo.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(HarnessError::Startup {
            peer: format!("cargo build -p {package} --example {name}"),
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    // target/<profile>/deps/<test binary> -> target/<profile>/examples/<name>
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()));
    let path = profile_dir.map(|dir| dir.join("examples").join(name));
    match path {
        Some(path) if path.exists() => Ok(path),
        other => Err(HarnessError::Missing {
            what: format!("example binary {other:?} after cargo build"),
            remedy: "run the test through `cargo test` (it must live in target/<profile>/deps)"
                .into(),
        }),
    }
}

/// Builds `package`'s example `name` ([`build_example`]), runs it with `args` and
/// returns its stdout. It must exit successfully within `timeout`: a failure or a
/// timeout is an error carrying its status, stdout and stderr. It blocks the calling
/// thread: an async test may call it directly when nothing in its runtime has to make
/// progress meanwhile (the peers are other processes), else through `spawn_blocking`.
pub fn run_example(
    package: &str,
    name: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<String, HarnessError> {
    let mut command = Command::new(build_example(package, name)?);
    command.args(args).stdin(Stdio::null());
    crate::process::run_to_end(&format!("example {name}"), command, timeout)
}
