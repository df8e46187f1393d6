//! The TLS secrets of both halves of every intercepted connection, in the NSS key log
//! format (SSLKEYLOGFILE) that Wireshark reads, so a capture of the phone's traffic decrypts.

use std::fmt::Write as _;
use std::path::Path;

use crate::append::AppendFile;
use crate::Error;

/// Appends key log lines to a file (see `append` for how the router collects it).
#[derive(Debug)]
pub struct KeyLogFile {
    file: AppendFile,
}

impl KeyLogFile {
    /// Creates `path` if missing (owner-only: the secrets decrypt everything).
    pub fn open(path: &Path) -> Result<Self, Error> {
        Ok(Self {
            file: AppendFile::open(path)?,
        })
    }
}

/// One key log line: `LABEL <client random hex> <secret hex>\n`.
pub fn line(label: &str, client_random: &[u8], secret: &[u8]) -> String {
    let mut out = String::with_capacity(label.len() + 2 * (client_random.len() + secret.len()) + 3);
    out.push_str(label);
    out.push(' ');
    for b in client_random {
        let _ = write!(out, "{b:02x}");
    }
    out.push(' ');
    for b in secret {
        let _ = write!(out, "{b:02x}");
    }
    out.push('\n');
    out
}

impl rustls::KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        // Unbuffered: the line is in the file when the handshake goes on, so Wireshark
        // reading the file during a live capture has it.
        let text = line(label, client_random, secret);
        if let Err(e) = self.file.append(text.as_bytes()) {
            tracing::warn!(path = %self.file.path().display(), error = %e, "cannot write the TLS key log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::KeyLog as _;

    #[test]
    fn lines_are_nss_key_log_lines_appended_to_the_file() {
        assert_eq!(
            line("CLIENT_RANDOM", &[0, 0xab], &[1, 2, 0xff]),
            "CLIENT_RANDOM 00ab 0102ff\n"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys.log");
        std::fs::write(&path, "EXISTING 00 00\n").expect("seed");
        let log = KeyLogFile::open(&path).expect("open");
        log.log("CLIENT_TRAFFIC_SECRET_0", &[1; 32], &[2; 32]);
        log.log("SERVER_TRAFFIC_SECRET_0", &[1; 32], &[3; 32]);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("CLIENT_TRAFFIC_SECRET_0 0101"));
        assert_eq!(lines[2].split(' ').nth(2).map(str::len), Some(64));
    }
}
