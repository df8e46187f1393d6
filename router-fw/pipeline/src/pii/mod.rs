//! The PII plugin: finds a device's registered values (plain, percent-encoded, hex, base64,
//! MD5/SHA-1/SHA-256) and generic identifiers (IMEI-shaped numbers, e-mail addresses,
//! phone numbers, locations) in a flow's names and readable payload, and says so when the
//! payload is encrypted and so could not be inspected.

mod decode;
mod encode;
mod evidence;
mod generic;
mod registered;

pub use encode::{base64_fragments, MIN_BASE64_FRAGMENT};
pub use evidence::{excerpt, mask};
pub use generic::luhn_valid;
pub use registered::{Hit, PiiError, RegisteredPii, RegisteredValue};

use crate::flow::{FlowRecord, PayloadKind};
use crate::plugin::{
    Detail, DeviceContext, Encoding, Finding, Location, PiiKind, PiiLeak, Plugin, PluginOutput,
};
use crate::policy::{GenericPii, PiiOptions};
use std::collections::{HashMap, HashSet};

/// Most distinct PII findings reported for one flow; the rest are counted in a note.
pub const MAX_FINDINGS: usize = 64;

/// What a report says about an encrypted payload.
pub const ENCRYPTED_NOTE: &str =
    "payload encrypted (TLS not decrypted): not inspected, a leak in it would not be visible";

/// The PII-leak detector.
#[derive(Debug, Clone)]
pub struct PiiPlugin {
    generic: Vec<GenericPii>,
    scan_responses: bool,
}

impl PiiPlugin {
    /// The plugin with the given options.
    pub fn new(options: &PiiOptions) -> Self {
        PiiPlugin {
            generic: options.generic.clone(),
            scan_responses: options.scan_responses,
        }
    }

    fn scan(&self, bytes: &[u8], location: Location, ctx: &DeviceContext<'_>, out: &mut Leaks) {
        for hit in ctx.registered.find(bytes) {
            out.add(
                Key::registered(hit.value.kind, &hit.value.label, hit.encoding, hit.form),
                location,
                || excerpt(bytes, hit.start, hit.end),
            );
        }
        if self.generic.is_empty() {
            return;
        }
        let view = View {
            location,
            encoding: Encoding::Plain,
            form: "plain",
        };
        let mut plain = HashSet::new();
        self.scan_shapes(bytes, view, ctx, &mut plain, false, out);
        if let Some(decoded) = decode::percent_decoded(bytes) {
            let view = View {
                encoding: Encoding::Url,
                form: "percent-decoded",
                ..view
            };
            self.scan_shapes(&decoded, view, ctx, &mut plain, true, out);
        }
        for decoded in decode::base64_runs(bytes) {
            let view = View {
                encoding: Encoding::Base64,
                form: "base64-decoded",
                ..view
            };
            self.scan_shapes(&decoded, view, ctx, &mut plain, true, out);
        }
    }

    /// Shape matches in one view of the bytes. Texts seen in the plain view are collected
    /// in `plain`, and skipped in decoded views (`decoded`), where they reappear unchanged.
    fn scan_shapes(
        &self,
        bytes: &[u8],
        view: View,
        ctx: &DeviceContext<'_>,
        plain: &mut HashSet<Vec<u8>>,
        decoded: bool,
        out: &mut Leaks,
    ) {
        for m in generic::scan(bytes, &self.generic) {
            let text = &bytes[m.start..m.end];
            // A registered value is already reported under its own label.
            if ctx.registered.is_registered(text) {
                continue;
            }
            let lower = text.to_ascii_lowercase();
            if decoded {
                if plain.contains(&lower) {
                    continue;
                }
            } else {
                plain.insert(lower.clone());
            }
            let key = Key::generic(m.kind, view.encoding, view.form, lower);
            out.add(key, view.location, || excerpt(bytes, m.start, m.end));
        }
    }
}

impl Plugin for PiiPlugin {
    fn name(&self) -> &str {
        "pii"
    }

    fn inspect(&self, flow: &FlowRecord, ctx: &DeviceContext<'_>) -> PluginOutput {
        let destination = flow.destination();
        let mut leaks = Leaks::default();
        for (_, name) in flow.names.all() {
            self.scan(name.as_bytes(), Location::ServerName, ctx, &mut leaks);
        }
        let mut notes = Vec::new();
        match &flow.payload {
            Some(p) if p.kind == PayloadKind::Encrypted => {
                let mut note = ENCRYPTED_NOTE.to_string();
                if ctx.tls_interception {
                    note.push_str(
                        "; TLS interception is on for this device, so the app may pin its \
                         certificates or bypass the interception",
                    );
                }
                notes.push(note);
            }
            Some(p) => {
                self.scan(&p.to_server, Location::ToServer, ctx, &mut leaks);
                if self.scan_responses {
                    self.scan(&p.to_client, Location::ToClient, ctx, &mut leaks);
                }
            }
            None => {}
        }
        if leaks.dropped > 0 {
            notes.push(format!(
                "{} more PII matches in this flow are not listed (at most {MAX_FINDINGS} are)",
                leaks.dropped
            ));
        }
        let finding = |detail| Finding {
            plugin: self.name().to_string(),
            destination: destination.clone(),
            detail,
        };
        let mut findings: Vec<Finding> = leaks
            .list
            .into_iter()
            .map(|leak| finding(Detail::Pii(leak)))
            .collect();
        findings.extend(
            notes
                .into_iter()
                .map(|message| finding(Detail::Note { message })),
        );
        PluginOutput::pass(findings)
    }
}

/// One view of a buffer the shape detectors run over.
#[derive(Debug, Clone, Copy)]
struct View {
    location: Location,
    encoding: Encoding,
    form: &'static str,
}

/// What makes two matches the same finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: PiiKind,
    label: Option<String>,
    encoding: Encoding,
    form: String,
    /// For generic detections, the matched text: two e-mail addresses are two findings.
    text: Option<Vec<u8>>,
}

impl Key {
    fn registered(kind: PiiKind, label: &str, encoding: Encoding, form: &str) -> Key {
        Key {
            kind,
            label: Some(label.to_string()),
            encoding,
            form: form.to_string(),
            text: None,
        }
    }

    fn generic(kind: PiiKind, encoding: Encoding, form: &str, text: Vec<u8>) -> Key {
        Key {
            kind,
            label: None,
            encoding,
            form: form.to_string(),
            text: Some(text),
        }
    }
}

/// The PII findings of one flow, one per key and location, bounded.
#[derive(Default)]
struct Leaks {
    index: HashMap<(Key, Location), usize>,
    list: Vec<PiiLeak>,
    dropped: usize,
}

impl Leaks {
    /// Counts a match; the evidence is made only for the first of its kind.
    fn add(&mut self, key: Key, location: Location, evidence: impl FnOnce() -> String) {
        if let Some(&i) = self.index.get(&(key.clone(), location)) {
            if let Some(leak) = self.list.get_mut(i) {
                leak.occurrences = leak.occurrences.saturating_add(1);
            }
            return;
        }
        if self.list.len() >= MAX_FINDINGS {
            self.dropped += 1;
            return;
        }
        self.list.push(PiiLeak {
            kind: key.kind,
            label: key.label.clone(),
            encoding: key.encoding,
            form: key.form.clone(),
            location,
            evidence: evidence(),
            occurrences: 1,
        });
        self.index.insert((key, location), self.list.len() - 1);
    }
}

#[cfg(test)]
#[path = "pii_tests.rs"]
mod tests;
