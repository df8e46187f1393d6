//! What plugins report: findings about a flow (classification, PII leaks, trackers, notes),
//! each naming the plugin and the destination, ready for JSON and HTML reports.

use crate::flow::NameSource;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One thing a plugin found about a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The plugin that reported it.
    pub plugin: String,
    /// Where the flow went: its server name, else `address:port`.
    pub destination: String,
    /// What was found.
    #[serde(flatten)]
    pub detail: Detail,
}

/// What a finding says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Detail {
    /// The flow's protocol, service and client software.
    Classification(Classification),
    /// Personal data seen in the flow.
    Pii(PiiLeak),
    /// The flow goes to a known tracker.
    Tracker(TrackerHit),
    /// Something a reader must know, e.g. that the payload could not be inspected.
    Note {
        /// The note, in words.
        message: String,
    },
}

/// An application protocol, as far as ports and evidence tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppProtocol {
    /// TLS over TCP.
    Tls,
    /// QUIC over UDP.
    Quic,
    /// HTTP/1.x in cleartext.
    Http,
    /// DNS.
    Dns,
    /// Nothing recognised.
    Unknown,
}

/// The classification plugin's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// The application protocol.
    pub protocol: AppProtocol,
    /// The service name (SNI > HTTP Host > DNS name), if any.
    pub service: Option<String>,
    /// Where the service name came from.
    pub service_source: Option<NameSource>,
    /// The client software named by the User-Agent's product token (e.g. `okhttp`).
    pub client: Option<String>,
    /// The client software's version, if the User-Agent gave one.
    pub client_version: Option<String>,
}

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// A device IMEI.
    Imei,
    /// Android's per-device (per-app-signer) ANDROID_ID.
    AndroidId,
    /// The advertising ID (AAID / IDFA).
    AdvertisingId,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// An account password.
    Password,
    /// A geographic position.
    Location,
    /// A value the researcher registered under their own label.
    Other,
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PiiKind::Imei => "imei",
            PiiKind::AndroidId => "android_id",
            PiiKind::AdvertisingId => "advertising_id",
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Password => "password",
            PiiKind::Location => "location",
            PiiKind::Other => "other",
        })
    }
}

/// How a value was written where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// As is.
    Plain,
    /// Percent-encoded (URL or form).
    Url,
    /// Hex of its bytes.
    Hex,
    /// Base64 (standard or URL-safe, any alignment, padded or not).
    Base64,
    /// MD5 digest (hex or base64).
    Md5,
    /// SHA-1 digest (hex or base64).
    Sha1,
    /// SHA-256 digest (hex or base64).
    Sha256,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Plain => "plain",
            Encoding::Url => "url",
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
            Encoding::Md5 => "md5",
            Encoding::Sha1 => "sha1",
            Encoding::Sha256 => "sha256",
        })
    }
}

/// Where in the flow a value was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// In the bytes the client sent.
    ToServer,
    /// In the bytes the server sent.
    ToClient,
    /// In a name the flow goes by (SNI, Host, DNS name).
    ServerName,
}

/// Personal data seen in a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiiLeak {
    /// What kind of data.
    pub kind: PiiKind,
    /// The label the value was registered under; none for generic detections.
    pub label: Option<String>,
    /// How it was written.
    pub encoding: Encoding,
    /// The exact form, e.g. `sha1 lowercase hex` or `base64 url-safe`.
    pub form: String,
    /// Where in the flow.
    pub location: Location,
    /// A short escaped excerpt around the match, the value masked but for a few characters.
    pub evidence: String,
    /// How many times this form was seen there.
    pub occurrences: u32,
}

/// Whether a destination belongs to the app's own operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// One of the app's own domains (policy `first_party`).
    First,
    /// Anyone else.
    Third,
}

/// A flow to a domain on the tracker list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerHit {
    /// The flow's name that matched.
    pub name: String,
    /// The listed domain it falls under.
    pub domain: String,
    /// The tracker's name.
    pub tracker: String,
    /// The tracker's category (e.g. `advertising`, `site_analytics`).
    pub category: String,
    /// The company that owns the tracker, if known.
    pub owner: Option<String>,
    /// First or third party, for the flow's app.
    pub party: Party,
}
