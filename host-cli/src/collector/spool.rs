//! Where the collector keeps what routers upload: `<dir>/<router>/<result id>` with a
//! `<result id>.json` beside it (who sent it, when, and how far the router's clock was off).
//! A result is written to a temporary file, checked against the hash the router sent,
//! synced, then renamed: a file under its final name is always whole and correct, which is
//! what makes acknowledging it (and so letting the router delete it) safe.

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A router clock further than this from ours is reported.
pub const CLOCK_SKEW_WARN_S: i64 = 300;

/// What the collector records about an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    /// The router.
    pub router: String,
    /// `<measurement>.<kind>`.
    pub id: String,
    /// The measurement.
    pub measurement: String,
    /// Its kind (flows, pcapng, traces, ...).
    pub kind: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// When the router stored it, by the router's clock.
    pub created: u64,
    /// The router's clock when it sent it.
    pub router_time: u64,
    /// Ours when it arrived.
    pub received: u64,
    /// `router_time - received`: a router that never reached NTP shows a large skew.
    pub clock_skew_s: i64,
    /// The bytes are an age file to the researcher's key (a device's result, encrypted at
    /// rest on the router): `matador-host decrypt` reads them. Absent in older records.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
}

/// What to do with an upload, given what is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Nothing under that name: store it.
    New,
    /// The same bytes are already stored (the router missed our acknowledgement): ack again.
    Same,
    /// Other bytes under that name: refuse, keep ours.
    Different(String),
}

/// The directory of one router's results.
pub fn router_dir(dir: &Path, router: &str) -> PathBuf {
    dir.join(router)
}

/// Compares an upload with what is stored under its name.
pub fn existing(dir: &Path, router: &str, id: &str, sha256: &str) -> std::io::Result<Existing> {
    let meta = router_dir(dir, router).join(format!("{id}.json"));
    match std::fs::read(&meta) {
        Ok(bytes) => {
            let stored: Received = serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            Ok(if stored.sha256 == sha256 {
                Existing::Same
            } else {
                Existing::Different(stored.sha256)
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Existing::New),
        Err(e) => Err(e),
    }
}

/// The temporary file an upload is written to.
pub fn temp_path(dir: &Path, router: &str, id: &str) -> PathBuf {
    router_dir(dir, router).join(format!(".{id}.part"))
}

/// Makes a checked temporary file final: the data under its name, then its record (whose
/// presence is what `existing` looks at), each synced before the next step.
pub fn commit(dir: &Path, received: &Received) -> std::io::Result<()> {
    let rdir = router_dir(dir, &received.router);
    let data = rdir.join(&received.id);
    std::fs::rename(temp_path(dir, &received.router, &received.id), &data)?;
    let meta = rdir.join(format!("{}.json", received.id));
    let tmp = rdir.join(format!(".{}.json.part", received.id));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&serde_json::to_vec_pretty(received).map_err(std::io::Error::other)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &meta)?;
    std::fs::File::open(&rdir)?.sync_all()
}

/// Every result received so far, per router (for `collector list` and tests).
pub fn list(dir: &Path) -> std::io::Result<Vec<Received>> {
    let mut out = Vec::new();
    let Ok(routers) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for router in routers.flatten().filter(|e| e.path().is_dir()) {
        for e in std::fs::read_dir(router.path())?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let bytes = std::fs::read(e.path())?;
            match serde_json::from_slice::<Received>(&bytes) {
                Ok(r) => out.push(r),
                Err(err) => {
                    tracing::warn!(file = %e.path().display(), error = %err, "not a result record")
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.router, &a.id).cmp(&(&b.router, &b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(sha: &str) -> Received {
        Received {
            router: "lr-a".into(),
            id: "m1.flows".into(),
            measurement: "m1".into(),
            kind: "flows".into(),
            size: 3,
            sha256: sha.into(),
            created: 1,
            router_time: 2,
            received: 3,
            clock_skew_s: -1,
            encrypted: false,
        }
    }

    #[test]
    fn a_committed_result_is_found_again_by_its_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        assert_eq!(
            existing(d, "lr-a", "m1.flows", "aa").expect("read"),
            Existing::New
        );
        std::fs::create_dir_all(router_dir(d, "lr-a")).expect("dir");
        std::fs::write(temp_path(d, "lr-a", "m1.flows"), b"abc").expect("part");
        commit(d, &received("aa")).expect("commit");
        assert_eq!(
            std::fs::read(d.join("lr-a/m1.flows")).expect("data"),
            b"abc"
        );
        assert!(!temp_path(d, "lr-a", "m1.flows").exists());
        assert_eq!(
            existing(d, "lr-a", "m1.flows", "aa").expect("read"),
            Existing::Same
        );
        assert_eq!(
            existing(d, "lr-a", "m1.flows", "bb").expect("read"),
            Existing::Different("aa".into())
        );
        assert_eq!(list(d).expect("list"), vec![received("aa")]);
    }

    #[test]
    fn a_data_file_without_its_record_does_not_count_as_received() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("lr-a")).expect("dir");
        // A crash between the two renames: the router has no ack, will upload again.
        std::fs::write(dir.path().join("lr-a/m1.flows"), b"abc").expect("data");
        assert_eq!(
            existing(dir.path(), "lr-a", "m1.flows", "aa").expect("read"),
            Existing::New
        );
        assert!(list(dir.path()).expect("list").is_empty());
    }
}
