//! The policy file as written: YAML read with serde-saphyr, unknown keys rejected, the
//! places of names and values kept for error messages.

use super::options::PluginOptions;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    #[serde(default)]
    pub defaults: Option<DefaultsFile>,
    #[serde(default)]
    pub plugins: PluginOptions,
    #[serde(default)]
    pub apps: Vec<AppFile>,
    #[serde(default)]
    pub devices: Vec<DeviceFile>,
}

/// What runs when nothing more specific is said.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DefaultsFile {
    pub plugins: Vec<Spanned<String>>,
}

/// An app, on any device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AppFile {
    pub id: Spanned<String>,
    #[serde(default)]
    pub first_party: Vec<Spanned<String>>,
    #[serde(default)]
    pub plugins: Option<Vec<Spanned<String>>>,
}

/// A monitored device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeviceFile {
    pub id: Spanned<String>,
    #[serde(default)]
    pub lab: bool,
    #[serde(default)]
    pub tls_interception: Option<Spanned<bool>>,
    #[serde(default)]
    pub plugins: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub apps: Vec<DeviceAppFile>,
    #[serde(default)]
    pub pii: PiiFile,
}

/// An app on one device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeviceAppFile {
    pub id: Spanned<String>,
    pub plugins: Vec<Spanned<String>>,
}

/// A device's registered personal values as written (a policy device's or an inventory
/// phone's `pii:`); [`check_registered`](super::check_registered) checks them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiFile {
    /// The IMEI.
    #[serde(default)]
    pub imei: Option<Spanned<String>>,
    /// The Android ID.
    #[serde(default)]
    pub android_id: Option<Spanned<String>>,
    /// The advertising ID.
    #[serde(default)]
    pub advertising_id: Option<Spanned<String>>,
    /// A test account's e-mail address.
    #[serde(default)]
    pub email: Option<Spanned<String>>,
    /// The phone number.
    #[serde(default)]
    pub phone: Option<Spanned<String>>,
    /// A test account's password.
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    /// Values under the researcher's own labels.
    #[serde(default)]
    pub other: Vec<LabelledFile>,
}

/// A value under the researcher's own label (an account name, a device name, …).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledFile {
    /// The label reports name it by.
    pub label: Spanned<String>,
    /// The value itself.
    pub value: Spanned<String>,
}
