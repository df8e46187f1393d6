//! Checks of a policy file: plugin names registered and not repeated in a list, devices and
//! apps unique, registered values present and long enough, labels unique per device, TLS
//! interception only on lab devices.

use super::file::{DeviceFile, PolicyFile};
use super::registered::check_registered;
use super::{AppPolicy, DeviceApp, DevicePolicy, Policy, PolicyError, DEFAULT_PLUGINS};
use crate::plugin::registry::Registry;
use serde_saphyr::Spanned;
use std::collections::HashSet;

/// Where a spanned value was written; `None` for values made in code.
pub(super) fn pos<T>(s: &Spanned<T>) -> Option<(u64, u64)> {
    (s.referenced.line() > 0).then(|| (s.referenced.line(), s.referenced.column()))
}

/// Builds errors about one file.
struct Errors<'a> {
    file: &'a str,
}

impl Errors<'_> {
    fn at<T>(&self, s: &Spanned<T>, message: String) -> PolicyError {
        PolicyError {
            file: self.file.to_string(),
            position: pos(s),
            message,
        }
    }
}

/// The checked policy of a parsed file.
pub(super) fn check(
    raw: PolicyFile,
    file: &str,
    registry: &Registry,
) -> Result<Policy, PolicyError> {
    let errors = Errors { file };
    let defaults = match &raw.defaults {
        Some(d) => plugin_list(&d.plugins, registry, &errors)?,
        None => DEFAULT_PLUGINS.iter().map(|p| p.to_string()).collect(),
    };

    let mut apps = Vec::new();
    let mut app_ids = HashSet::new();
    for app in &raw.apps {
        let id = nonempty_id(&app.id, "app", &mut app_ids, &errors)?;
        let mut first_party = Vec::new();
        for d in &app.first_party {
            let domain = d.value.trim().trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() || domain.contains(|c: char| c.is_whitespace() || c == '/') {
                return Err(errors.at(d, format!("first_party `{}` is not a domain name", d.value)));
            }
            first_party.push(domain);
        }
        let plugins = app
            .plugins
            .as_ref()
            .map(|p| plugin_list(p, registry, &errors))
            .transpose()?;
        apps.push(AppPolicy {
            id,
            first_party,
            plugins,
        });
    }

    let mut devices = Vec::new();
    let mut device_ids = HashSet::new();
    for device in &raw.devices {
        devices.push(check_device(device, &mut device_ids, registry, &errors)?);
    }

    Ok(Policy {
        file: file.to_string(),
        defaults,
        options: raw.plugins,
        apps,
        devices,
    })
}

fn check_device(
    device: &DeviceFile,
    ids: &mut HashSet<String>,
    registry: &Registry,
    errors: &Errors<'_>,
) -> Result<DevicePolicy, PolicyError> {
    let id = nonempty_id(&device.id, "device", ids, errors)?;
    let tls_interception = match &device.tls_interception {
        Some(flag) if flag.value && !device.lab => {
            return Err(errors.at(
                flag,
                format!(
                    "device `{id}`: tls_interception is only allowed for lab devices in \
                     controlled experiments; mark the device `lab: true` if it is one"
                ),
            ));
        }
        Some(flag) => flag.value,
        None => false,
    };
    let plugins = device
        .plugins
        .as_ref()
        .map(|p| plugin_list(p, registry, errors))
        .transpose()?;
    let mut apps = Vec::new();
    let mut app_ids = HashSet::new();
    for app in &device.apps {
        let app_id = nonempty_id(
            &app.id,
            &format!("app of device `{id}`"),
            &mut app_ids,
            errors,
        )?;
        apps.push(DeviceApp {
            id: app_id,
            plugins: plugin_list(&app.plugins, registry, errors)?,
        });
    }
    let registered =
        check_registered(&format!("device `{id}`"), &device.pii).map_err(|e| PolicyError {
            file: errors.file.to_string(),
            position: e.position,
            message: e.message,
        })?;
    Ok(DevicePolicy {
        registered,
        id,
        lab: device.lab,
        tls_interception,
        plugins,
        apps,
    })
}

/// A non-empty id not seen before in its list.
fn nonempty_id(
    id: &Spanned<String>,
    what: &str,
    seen: &mut HashSet<String>,
    errors: &Errors<'_>,
) -> Result<String, PolicyError> {
    let text = id.value.trim();
    if text.is_empty() {
        return Err(errors.at(id, format!("{what} with an empty id")));
    }
    if !seen.insert(text.to_string()) {
        return Err(errors.at(id, format!("{what} `{text}` is listed twice")));
    }
    Ok(text.to_string())
}

/// A list of registered plugin names, none twice.
fn plugin_list(
    names: &[Spanned<String>],
    registry: &Registry,
    errors: &Errors<'_>,
) -> Result<Vec<String>, PolicyError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let text = name.value.trim();
        if !registry.contains(text) {
            return Err(errors.at(
                name,
                format!(
                    "unknown plugin `{text}` (registered: {})",
                    registry.names().join(", ")
                ),
            ));
        }
        if out.iter().any(|n| n == text) {
            return Err(errors.at(name, format!("plugin `{text}` is listed twice")));
        }
        out.push(text.to_string());
    }
    Ok(out)
}
