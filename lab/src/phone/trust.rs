//! What an emulated app trusts for TLS: the lab CA, and the CAs the phone's user installed in
//! Android's user CA store. An interception proxy's CA pushed there (`adb push mitm.pem
//! /data/misc/user/0/cacerts-added/`) is trusted by apps launched afterwards, as by an app
//! whose network security config trusts user CAs.

use super::device::Phone;
use super::lifecycle::device_path;
use crate::services::{client_config_from_pems, pem_certificates};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Android's store of user-installed CA certificates; every file in it is a PEM file with
/// one or more certificates.
pub const USER_CA_DIR: &str = "/data/misc/user/0/cacerts-added";

/// The CA certificates an app trusts, as the TLS client configuration its connections share,
/// and what it had to leave out.
#[derive(Debug, Clone)]
pub struct TrustStore {
    /// The configuration, built once at launch (every reconnect and report reuses it), or why
    /// there is none.
    config: Result<Arc<rustls::ClientConfig>, String>,
    /// How many of the trusted files come from the user CA store.
    user_cas: usize,
    /// Files left out, with why.
    skipped: Vec<String>,
}

/// What [`TrustStore::read`] gathers before the configuration is built.
#[derive(Default)]
struct Gathered {
    pems: Vec<String>,
    user_cas: usize,
    skipped: Vec<String>,
}

impl TrustStore {
    /// Reads the lab CA and every file of the phone's user CA store, in name order. Called
    /// while still root: the app's UID may not read the lab directory.
    pub fn read(phone: &Phone) -> TrustStore {
        let mut store = Gathered::default();
        // No lab CA file: TLS then fails at connect time with a clear error.
        if let Ok(pem) = std::fs::read_to_string(phone.lab_dir.join("ca.pem")) {
            store.add("lab CA", pem, false);
        }
        for file in device_path(phone, USER_CA_DIR)
            .map(|dir| files_in(&dir))
            .unwrap_or_default()
        {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match std::fs::read_to_string(&file) {
                Ok(pem) => store.add(&format!("user CA {name}"), pem, true),
                Err(e) => store.skipped.push(format!("user CA {name}: {e}")),
            }
        }
        TrustStore {
            config: client_config_from_pems(&store.pems).map_err(|e| e.to_string()),
            user_cas: store.user_cas,
            skipped: store.skipped,
        }
    }

    /// A TLS client configuration trusting every certificate of the store.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, String> {
        self.config.clone()
    }

    /// How many user-installed CA files it trusts.
    pub fn user_cas(&self) -> usize {
        self.user_cas
    }

    /// Files left out (not PEM, unreadable), each with why.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

impl Gathered {
    /// Adds a PEM text if it holds a certificate, else notes why not.
    fn add(&mut self, what: &str, pem: String, user: bool) {
        match pem_certificates(&pem) {
            Ok(_) => {
                self.pems.push(pem);
                self.user_cas += usize::from(user);
            }
            Err(e) => self.skipped.push(format!("{what}: {e}")),
        }
    }
}

/// The regular files in `dir`, sorted; none if it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;
    use crate::services::LabCa;
    use crate::topology::{parse, DEFAULT_TOPOLOGY};

    #[test]
    fn the_lab_ca_and_user_cas_are_trusted_and_junk_is_skipped() {
        let plan =
            Plan::build(&parse(DEFAULT_TOPOLOGY, "default").expect("topology")).expect("plan");
        let dir = tempfile::tempdir().expect("tempdir");
        let phone = Phone::from_plan(&plan, "phone-a", dir.path().join("p"), dir.path().into())
            .expect("phone-a");
        crate::phone::lifecycle::prepare_files(&phone).expect("files");
        let store = TrustStore::read(&phone);
        assert!(store.client_config().is_err(), "nothing to trust yet");

        let (lab, mitm) = (
            LabCa::generate().expect("lab"),
            LabCa::generate().expect("mitm"),
        );
        std::fs::write(dir.path().join("ca.pem"), lab.ca_pem()).expect("lab CA");
        let users = device_path(&phone, USER_CA_DIR).expect("inside the phone");
        assert!(users.is_dir(), "the phone starts with a user CA store");
        std::fs::write(users.join("matador-mitm.pem"), mitm.ca_pem()).expect("user CA");
        std::fs::write(users.join("notes.txt"), "not a certificate").expect("junk");

        let store = TrustStore::read(&phone);
        assert_eq!(store.user_cas(), 1);
        assert_eq!(store.skipped().len(), 1, "{:?}", store.skipped());
        assert!(store.skipped()[0].contains("notes.txt"));
        assert!(store.client_config().is_ok());
    }
}
