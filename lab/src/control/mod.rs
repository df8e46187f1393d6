//! Running the lab: `up`, `down`, `status`, `exec` and `add-peer`, over the state file.

mod configure;
mod down;
mod lab_router;
mod phones;
mod spawn;
mod state;
mod status;
mod up;
mod vantage;

pub use configure::{ip_batch, route_command, silent_ruleset};
pub use down::{teardown, DownReport};
pub use lab_router::{hostapd_conf_path, read_hostapd_credentials, router_dir};
pub use phones::{phone_dir, plug, unplug, PHONE_READY_FILE};
pub use state::{
    alive, lab_dir, LabLock, LabState, PeerRecord, ProcessRecord, VantageRecord, DEFAULT_LAB_DIR,
};
pub use status::{add_peer, exec, status, LabStatus, PeerConfig};
pub use status::{LabRouterStatus, PhoneStatus};
pub use up::{geo_database, is_running, up, DaemonCommand, UpReport};
pub use vantage::{dnsmasq_conf, keypair, resolver_conf, WG_SOCKET_DIR};

/// Errors of running the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A namespace, command or system call failed.
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
    /// A file of the lab could not be written or read, or a program not run.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The lab daemon failed to start.
    #[error("{0}")]
    Daemon(String),
    /// The geolocation database could not be written.
    #[error("geolocation database: {0}")]
    Geo(String),
    /// The lab is not up.
    #[error("the lab is not up (run `matador-host lab up`)")]
    NotUp,
    /// A node name that the running lab does not have.
    #[error("no node `{0}` in the running lab")]
    NoSuchNode(String),
}

impl LabError {
    fn io(what: &'static str, source: std::io::Error) -> LabError {
        LabError::Io { what, source }
    }
}
