//! `campaign results MEASUREMENT --out DIR`: a measurement's raw results as the routers sent
//! them, out of the result store into files a person opens with the usual tools: the
//! capture as pcapng (with the TLS key log beside it when the router intercepted, so
//! Wireshark decrypts it), flows, traces and the router's log.

use super::state::State;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The file name a result of `kind` from side `side` gets (`a.capture.pcapng`).
pub fn file_name(side: &str, kind: &str) -> String {
    let ext = match kind {
        "capture" => "pcapng",
        "flows" | "traces" => "json",
        "decrypted" => "jsonl",
        "keylog" | "log" => "txt",
        _ => "bin",
    };
    // Side and kind come from the store: keep them to plain names.
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    format!("{}.{}.{ext}", clean(side), clean(kind))
}

/// Writes every raw result of measurement `run` into `out`; the files written.
pub fn write(state: &State, run: &str, out: &Path) -> Result<Vec<PathBuf>> {
    let results = state.result_bytes(run)?;
    if results.is_empty() {
        bail!("no results of measurement {run} in the store (`campaign status --json` lists them)");
    }
    std::fs::create_dir_all(out).with_context(|| format!("--out {}", out.display()))?;
    let mut written = Vec::new();
    for (side, kind, bytes) in results {
        let path = out.join(file_name(&side, &kind));
        // Captures, key logs and decrypted records hold the phones' traffic: owner-only.
        matador_lab::atomic::write_private_atomically(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// What to run to read a side's capture decrypted, when its key log was written.
pub fn wireshark_hints(written: &[PathBuf]) -> Vec<String> {
    written
        .iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let side = name.strip_suffix(".keylog.txt")?;
            let capture = p.with_file_name(file_name(side, "capture"));
            written.contains(&capture).then(|| {
                format!(
                    "wireshark -o tls.keylog_file:{} {}",
                    p.display(),
                    capture.display()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_get_the_extensions_their_tools_expect() {
        assert_eq!(file_name("a", "capture"), "a.capture.pcapng");
        assert_eq!(file_name("b", "keylog"), "b.keylog.txt");
        assert_eq!(file_name("a", "decrypted"), "a.decrypted.jsonl");
        assert_eq!(file_name("../a", "x/y"), "___a.x_y.bin");
        let dir = Path::new("/r");
        let written = vec![
            dir.join("a.capture.pcapng"),
            dir.join("a.keylog.txt"),
            dir.join("b.capture.pcapng"),
        ];
        assert_eq!(
            wireshark_hints(&written),
            ["wireshark -o tls.keylog_file:/r/a.keylog.txt /r/a.capture.pcapng"]
        );
    }
}
