//! The check of a device's registered personal values as written (`pii:`): each present,
//! long enough not to match by chance, each label once. Shared by the policy's devices and
//! the host inventory's phones.

use super::file::PiiFile;
use super::validate::pos;
use super::MIN_VALUE_LEN;
use crate::pii::RegisteredValue;
use crate::plugin::PiiKind;
use serde_saphyr::Spanned;
use std::collections::HashSet;

/// A registered value that cannot be used: where it was written and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RegisteredError {
    /// 1-based line and column of the offending label or value, when it was read from a file.
    pub position: Option<(u64, u64)>,
    /// What is wrong, starting with the subject (e.g. "device `a`: ").
    pub message: String,
}

/// The registered values of `pii`, checked; `subject` (e.g. "device `a`") starts each message.
pub fn check_registered(
    subject: &str,
    pii: &PiiFile,
) -> Result<Vec<RegisteredValue>, RegisteredError> {
    let named = [
        (PiiKind::Imei, "imei", &pii.imei),
        (PiiKind::AndroidId, "android_id", &pii.android_id),
        (
            PiiKind::AdvertisingId,
            "advertising_id",
            &pii.advertising_id,
        ),
        (PiiKind::Email, "email", &pii.email),
        (PiiKind::Phone, "phone", &pii.phone),
        (PiiKind::Password, "password", &pii.password),
    ];
    let error = |at: &Spanned<String>, message: String| RegisteredError {
        position: pos(at),
        message: format!("{subject}: {message}"),
    };
    let mut out = Vec::new();
    let mut labels = HashSet::new();
    let mut add = |kind, label: &str, value: &Spanned<String>, at: &Spanned<String>| {
        if !labels.insert(label.to_string()) {
            return Err(error(at, format!("label `{label}` is used twice")));
        }
        let text = value.value.trim();
        if text.is_empty() {
            return Err(error(value, format!("registered value `{label}` is empty")));
        }
        if text.chars().count() < MIN_VALUE_LEN {
            return Err(error(
                value,
                format!(
                    "registered value `{label}` is too short to search for \
                     (at least {MIN_VALUE_LEN} characters)"
                ),
            ));
        }
        out.push(RegisteredValue {
            kind,
            label: label.to_string(),
            value: text.to_string(),
        });
        Ok(())
    };
    for (kind, label, value) in named {
        if let Some(value) = value {
            add(kind, label, value, value)?;
        }
    }
    for other in &pii.other {
        let label = other.label.value.trim();
        if label.is_empty() {
            return Err(error(&other.label, "empty label".to_string()));
        }
        add(PiiKind::Other, label, &other.value, &other.label)?;
    }
    Ok(out)
}
