//! Options of the built-in plugins, as the policy's `plugins:` section gives them. Every
//! section is optional and rejects unknown keys.

use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

/// Options of every built-in plugin.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginOptions {
    /// The PII plugin's options.
    pub pii: PiiOptions,
    /// The tracker plugin's options (its extra domains are also the blocking plugin's).
    pub tracker: TrackerOptions,
    /// The blocking plugin's options.
    pub blocking: BlockingOptions,
}

/// A kind of personal data found without registration, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenericPii {
    /// 15-digit numbers with a valid Luhn check digit.
    Imei,
    /// E-mail addresses.
    Email,
    /// E.164-style phone numbers (`+` and 8 to 15 digits).
    Phone,
    /// Latitude/longitude pairs in query strings or JSON.
    Location,
}

/// Options of the PII plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PiiOptions {
    /// Which shapes to look for besides the registered values.
    pub generic: Vec<GenericPii>,
    /// Also search what servers sent back (off: only what the phone sent is a leak).
    pub scan_responses: bool,
}

impl Default for PiiOptions {
    fn default() -> Self {
        PiiOptions {
            generic: vec![
                GenericPii::Imei,
                GenericPii::Email,
                GenericPii::Phone,
                GenericPii::Location,
            ],
            scan_responses: false,
        }
    }
}

/// A tracker domain the policy adds to the bundled list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraTracker {
    /// The domain (its subdomains match too).
    pub domain: Spanned<String>,
    /// The tracker's name; the domain when not given.
    #[serde(default)]
    pub tracker: Option<String>,
    /// The category, e.g. `advertising` or `site_analytics`.
    pub category: String,
    /// The owning company.
    #[serde(default)]
    pub owner: Option<String>,
}

/// Options of the tracker plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerOptions {
    /// Whether the bundled WhoTracks.me list is used (the extra domains always are).
    pub bundled: bool,
    /// Domains added to the list.
    pub extra: Vec<ExtraTracker>,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            bundled: true,
            extra: Vec::new(),
        }
    }
}

/// Options of the blocking plugin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlockingOptions {
    /// Tracker categories whose domains are blocked.
    pub categories: Vec<Spanned<String>>,
    /// Domains never blocked (with their subdomains), e.g. multi-purpose ones.
    pub allow: Vec<String>,
}

impl Default for BlockingOptions {
    fn default() -> Self {
        let category = |c: &str| Spanned::new(c.to_string(), Location::UNKNOWN, Location::UNKNOWN);
        BlockingOptions {
            categories: vec![category("advertising"), category("site_analytics")],
            allow: Vec::new(),
        }
    }
}
