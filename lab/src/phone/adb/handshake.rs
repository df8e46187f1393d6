//! The connection handshake as a state machine over messages: host CNXN, AUTH rounds, device CNXN.

use super::auth::{
    new_token, parse_key_line, KeyError, KeyStore, AUTH_RSAPUBLICKEY, AUTH_SIGNATURE, AUTH_TOKEN,
    TOKEN_LEN,
};
use super::message::{Command, Message, A_VERSION, A_VERSION_SKIP_CHECKSUM, MAX_PAYLOAD};
use super::{AuthPolicy, DeviceProperties};

/// Features this device implements, advertised in its banner.
pub const FEATURES: &[&str] = &["shell_v2", "cmd", "fixed_push_mkdir"];
/// Wrong signatures tolerated before the connection is dropped (hosts try each of their keys).
const MAX_AUTH_FAILURES: u32 = 16;
/// Smallest payload any host understands (protocol v1 devices).
const MIN_PAYLOAD: usize = 4096;

/// Why the handshake gave up on a connection.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The host kept sending signatures that match no authorised key.
    #[error("{0} failed authentication attempts")]
    TooManyFailures(u32),
    /// The host offered a public key that cannot be read.
    #[error("unreadable public key: {0}")]
    BadKey(#[from] KeyError),
    /// AUTH with a type the host may not send.
    #[error("unexpected AUTH type {0}")]
    BadAuthType(u32),
}

/// The device banner: product properties and features, as adbd sends it in CNXN.
pub fn device_banner(props: &DeviceProperties) -> String {
    format!(
        "device::ro.product.name={};ro.product.model={};ro.product.device={};features={}",
        props.product_name,
        props.model,
        props.device,
        FEATURES.join(",")
    )
}

/// Where a connection is in its handshake, and what was negotiated.
#[derive(Debug)]
pub struct Handshake {
    policy: AuthPolicy,
    keys: KeyStore,
    banner: String,
    token: Option<[u8; TOKEN_LEN]>,
    failures: u32,
    host_version: Option<u32>,
    host_max_payload: usize,
    online: bool,
}

impl Handshake {
    /// A handshake for a device with this policy, key store and banner.
    pub fn new(policy: AuthPolicy, keys: KeyStore, banner: String) -> Handshake {
        Handshake {
            policy,
            keys,
            banner,
            token: None,
            failures: 0,
            host_version: None,
            host_max_payload: MIN_PAYLOAD,
            online: false,
        }
    }

    /// True once the host is authenticated and the device CNXN was produced.
    pub fn is_online(&self) -> bool {
        self.online
    }

    /// The lower of the host's and our protocol versions.
    pub fn version(&self) -> u32 {
        self.host_version.map_or(A_VERSION, |v| v.min(A_VERSION))
    }

    /// True while incoming payload checksums must be verified.
    pub fn checksums_required(&self) -> bool {
        // Until both sides have exchanged CNXN the host still fills checksums in.
        !self.online || self.version() < A_VERSION_SKIP_CHECKSUM
    }

    /// Largest payload the device may send to this host.
    pub fn max_payload(&self) -> usize {
        self.host_max_payload.clamp(MIN_PAYLOAD, MAX_PAYLOAD)
    }

    /// The device's CNXN message.
    pub fn connect_message(&self) -> Message {
        let max = u32::try_from(MAX_PAYLOAD).unwrap_or(u32::MAX);
        Message::new(Command::Cnxn, A_VERSION, max, self.banner.as_bytes())
    }

    fn go_online(&mut self) -> Option<Message> {
        self.online = true;
        self.token = None;
        Some(self.connect_message())
    }

    fn challenge(&mut self) -> Option<Message> {
        let token = new_token();
        self.token = Some(token);
        Some(Message::new(Command::Auth, AUTH_TOKEN, 0, token.to_vec()))
    }

    /// Feeds one host message; returns the reply to send, if any.
    pub fn on_message(&mut self, msg: &Message) -> Result<Option<Message>, HandshakeError> {
        match msg.command {
            Command::Cnxn => {
                self.host_version = Some(msg.arg0);
                self.host_max_payload = usize::try_from(msg.arg1).unwrap_or(MAX_PAYLOAD);
                tracing::debug!(
                    version = format_args!("{:#010x}", msg.arg0),
                    max_payload = msg.arg1,
                    banner = %String::from_utf8_lossy(&msg.payload),
                    "adb host CNXN"
                );
                if self.online || self.policy == AuthPolicy::Disabled {
                    return Ok(self.go_online());
                }
                Ok(self.challenge())
            }
            Command::Auth if self.online || self.host_version.is_none() => Ok(None),
            Command::Auth => self.on_auth(msg),
            // adbd ignores everything else until the host is online.
            _ => Ok(None),
        }
    }

    fn on_auth(&mut self, msg: &Message) -> Result<Option<Message>, HandshakeError> {
        match msg.arg0 {
            AUTH_SIGNATURE => {
                let Some(token) = self.token else {
                    return Ok(None);
                };
                if self.keys.verify(&token, &msg.payload) {
                    return Ok(self.go_online());
                }
                self.failures += 1;
                if self.failures > MAX_AUTH_FAILURES {
                    return Err(HandshakeError::TooManyFailures(self.failures));
                }
                Ok(self.challenge())
            }
            AUTH_RSAPUBLICKEY => {
                let key = parse_key_line(&msg.payload)?;
                match self.policy {
                    AuthPolicy::KnownOnly => {
                        // Like a user who never taps "Allow": the host stays unauthorised.
                        tracing::info!("adb host offered an unknown key; policy refuses it");
                        Ok(None)
                    }
                    AuthPolicy::AcceptNew | AuthPolicy::Disabled => {
                        if let Err(e) = self.keys.authorise(&msg.payload, key) {
                            tracing::warn!(error = %e, "could not store the adb key; allowing once");
                        }
                        Ok(self.go_online())
                    }
                }
            }
            other => Err(HandshakeError::BadAuthType(other)),
        }
    }
}
