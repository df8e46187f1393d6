//! The files the proxy appends lines to (key log, flows). Each line opens the file by name,
//! so the router collects one by renaming it at any time: the next line starts a new file,
//! and nothing grows without bound in a router's RAM-backed /tmp.

use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::Error;

/// A file appended to line by line, created owner-only (its lines decrypt traffic).
#[derive(Debug)]
pub(crate) struct AppendFile {
    path: PathBuf,
    // One line at a time: lines of different connections never interleave.
    lock: Mutex<()>,
}

fn open(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

impl AppendFile {
    /// Creates the file now if missing, so a bad path fails at start, not per connection.
    pub fn open(path: &Path) -> Result<Self, Error> {
        open(path).map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_owned(),
            lock: Mutex::new(()),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` (with its newline) in one write.
    pub fn append(&self, line: &[u8]) -> io::Result<()> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        open(&self.path)?.write_all(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_renamed_file_is_left_alone_and_the_next_line_starts_a_new_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.jsonl");
        let file = AppendFile::open(&path).expect("open");
        let mode = std::fs::metadata(&path)
            .expect("created")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        file.append(b"one\n").expect("append");
        let collected = dir.path().join("flows.1.jsonl");
        std::fs::rename(&path, &collected).expect("rename");
        file.append(b"two\n").expect("append");
        assert_eq!(std::fs::read_to_string(&collected).expect("old"), "one\n");
        assert_eq!(std::fs::read_to_string(&path).expect("new"), "two\n");
        assert!(AppendFile::open(&dir.path().join("missing/dir/f")).is_err());
    }
}
