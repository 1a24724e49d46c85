//! `rkafka-codegen`: generates `rkafka-protocol`'s message types from Kafka's
//! JSON message specs.
//!
//! ```text
//! rkafka-codegen <spec-dir> <out-dir> --error-codes <kafka-error-codes.tsv>
//! ```
//! writes `<out-dir>/messages/*.rs`, `<out-dir>/api_key.rs` and
//! `<out-dir>/error_code.rs`, formatted with rustfmt. The output depends only
//! on the inputs, so regenerating into a temporary folder and diffing checks
//! that the committed code is current.

mod emit_index;
mod emit_message;
mod model;
mod names;
mod spec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use model::MessageModel;
use spec::SpecKind;

fn main() -> ExitCode {
    match run() {
        Ok(n) => {
            eprintln!("rkafka-codegen: wrote {n} files");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rkafka-codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rkafka-codegen <spec-dir> <out-dir> --error-codes <tsv>";
    let (spec_dir, out_dir, tsv) = match &args[..] {
        [s, o, flag, t] if flag == "--error-codes" => {
            (PathBuf::from(s), PathBuf::from(o), PathBuf::from(t))
        }
        _ => return Err(usage.into()),
    };
    let models = load_specs(&spec_dir)?;
    check_pairs(&models)?;
    let rows = emit_index::parse_error_codes(
        &std::fs::read_to_string(&tsv).map_err(|e| format!("{}: {e}", tsv.display()))?,
    )?;

    let msg_dir = out_dir.join("messages");
    std::fs::create_dir_all(&msg_dir).map_err(|e| format!("{}: {e}", msg_dir.display()))?;
    let mut files: BTreeMap<PathBuf, String> = BTreeMap::new();
    for m in &models {
        files.insert(
            msg_dir.join(format!("{}.rs", names::snake(&m.name))),
            emit_message::emit(m),
        );
    }
    files.insert(msg_dir.join("mod.rs"), emit_index::emit_mod(&models));
    files.insert(
        out_dir.join("api_key.rs"),
        emit_index::emit_api_key(&models),
    );
    files.insert(
        out_dir.join("error_code.rs"),
        emit_index::emit_error_codes(&rows),
    );

    // Files of specs that no longer exist would otherwise linger.
    for entry in std::fs::read_dir(&msg_dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "rs") && !files.contains_key(&path) {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    for (path, text) in &files {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    rustfmt(files.keys())?;
    Ok(files.len())
}

fn load_specs(dir: &Path) -> Result<Vec<MessageModel>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!("no *.json specs in {}", dir.display()));
    }
    paths
        .iter()
        .map(|p| spec::load(p).and_then(MessageModel::resolve))
        .collect()
}

/// Every request needs its response (same key, same valid versions).
fn check_pairs(models: &[MessageModel]) -> Result<(), String> {
    let by_name: BTreeMap<&str, &MessageModel> =
        models.iter().map(|m| (m.name.as_str(), m)).collect();
    let mut keys = BTreeMap::new();
    for m in models.iter().filter(|m| m.kind == SpecKind::Request) {
        let base = m
            .name
            .strip_suffix("Request")
            .ok_or_else(|| format!("request {} does not end in Request", m.name))?;
        let resp = by_name
            .get(format!("{base}Response").as_str())
            .ok_or_else(|| format!("{} has no response spec", m.name))?;
        if resp.api_key != m.api_key || resp.valid != m.valid {
            return Err(format!(
                "{} and its response disagree on key or versions",
                m.name
            ));
        }
        if let Some(prev) = keys.insert(m.api_key, &m.name) {
            return Err(format!(
                "API key {:?} used by {prev} and {}",
                m.api_key, m.name
            ));
        }
    }
    Ok(())
}

fn rustfmt<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> Result<(), String> {
    let status = Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(paths)
        .status()
        .map_err(|e| format!("running rustfmt: {e}"))?;
    if !status.success() {
        return Err(format!("rustfmt failed: {status}"));
    }
    Ok(())
}
