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

/// A device's registered personal values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PiiFile {
    #[serde(default)]
    pub imei: Option<Spanned<String>>,
    #[serde(default)]
    pub android_id: Option<Spanned<String>>,
    #[serde(default)]
    pub advertising_id: Option<Spanned<String>>,
    #[serde(default)]
    pub email: Option<Spanned<String>>,
    #[serde(default)]
    pub phone: Option<Spanned<String>>,
    #[serde(default)]
    pub password: Option<Spanned<String>>,
    #[serde(default)]
    pub other: Vec<LabelledFile>,
}

/// A value under the researcher's own label.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LabelledFile {
    pub label: Spanned<String>,
    pub value: Spanned<String>,
}
