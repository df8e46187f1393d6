//! Endpoint rules as data (YAML, one file per app): deny and allow lists by address, prefix,
//! name pattern, protocol and port, and the noise baseline of empty runs.

use super::glob::NamePattern;
use super::Endpoint;
use crate::flows::table::Protocol;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Which endpoints to drop or keep, for one app.
///
/// ```yaml
/// app: global-messenger
/// deny:
///   - { protocol: udp, port: 123, reason: NTP }
///   - { port: 53, reason: the local resolver }
///   - { name: "*.analytics.example" }
/// allow:
///   - { name: "*.messenger.example" }
/// baseline:
///   - { address: 203.0.113.9, protocol: tcp, port: 443 }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The app the rules are for.
    #[serde(default)]
    pub app: Option<String>,
    /// Endpoints dropped as noise.
    #[serde(default)]
    pub deny: Vec<Match>,
    /// Endpoints kept whatever `deny` and `baseline` say.
    #[serde(default)]
    pub allow: Vec<Match>,
    /// Keep only endpoints that `allow` matches.
    #[serde(default)]
    pub only_allowed: bool,
    /// Endpoints seen in empty runs (without the app): dropped.
    #[serde(default)]
    pub baseline: Vec<Match>,
}

/// One rule: an endpoint matches when every field given matches.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Exactly this address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    /// An address inside this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<IpNet>,
    /// A name of the endpoint matching this pattern (`*` for any run of characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<NamePattern>,
    /// This transport protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// This port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Why the rule exists, shown when it drops an endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Match {
    /// Whether the endpoint matches every field the rule gives.
    pub fn matches(&self, e: &Endpoint) -> bool {
        self.address.is_none_or(|a| a == e.address)
            && self.prefix.is_none_or(|p| p.contains(&e.address))
            && self.protocol.is_none_or(|p| p == e.protocol)
            && self.port.is_none_or(|p| p == e.port)
            && self
                .name
                .as_ref()
                .is_none_or(|pattern| e.names.iter().any(|n| pattern.matches(n)))
    }

    /// Whether the rule gives no field (and so would match everything).
    fn is_empty(&self) -> bool {
        self.address.is_none()
            && self.prefix.is_none()
            && self.name.is_none()
            && self.protocol.is_none()
            && self.port.is_none()
    }

    /// The rule in a few words, for a dropped endpoint's verdict.
    pub fn describe(&self) -> String {
        if let Some(reason) = &self.reason {
            return reason.clone();
        }
        let mut parts = Vec::new();
        if let Some(a) = self.address {
            parts.push(format!("address {a}"));
        }
        if let Some(p) = self.prefix {
            parts.push(format!("prefix {p}"));
        }
        if let Some(n) = &self.name {
            parts.push(format!("name {}", n.as_str()));
        }
        if let Some(p) = self.protocol {
            parts.push(p.to_string());
        }
        if let Some(p) = self.port {
            parts.push(format!("port {p}"));
        }
        parts.join(" ")
    }
}

/// Rules that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct RulesError {
    /// File the rules came from.
    pub file: String,
    /// 1-based line and column, when the problem has a place.
    pub position: Option<(u64, u64)>,
    /// What is wrong.
    pub message: String,
}

impl Rules {
    /// Reads rules from YAML text; `file` names it in errors. Unknown keys are refused.
    pub fn from_yaml(text: &str, file: &str) -> Result<Rules, RulesError> {
        let rules: Rules = serde_saphyr::from_str(text).map_err(|e| RulesError {
            file: file.to_string(),
            position: e.location().map(|l| (l.line(), l.column())),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
        })?;
        for (list, matches) in [
            ("deny", &rules.deny),
            ("allow", &rules.allow),
            ("baseline", &rules.baseline),
        ] {
            if let Some(i) = matches.iter().position(Match::is_empty) {
                return Err(RulesError {
                    file: file.to_string(),
                    position: None,
                    message: format!(
                        "{list}[{i}] matches everything: give address, prefix, name, protocol or port"
                    ),
                });
            }
        }
        Ok(rules)
    }

    /// Adds the endpoints of an empty run (without the app) to the baseline: by address,
    /// protocol and port, and by each of their names with protocol and port.
    pub fn add_baseline(&mut self, empty_run: &[Endpoint]) {
        for e in empty_run {
            let reason = Some("seen in an empty run".to_string());
            self.baseline.push(Match {
                address: Some(e.address),
                protocol: Some(e.protocol),
                port: Some(e.port),
                reason: reason.clone(),
                ..Match::default()
            });
            for name in &e.names {
                self.baseline.push(Match {
                    name: Some(NamePattern::exact(name)),
                    protocol: Some(e.protocol),
                    port: Some(e.port),
                    reason: reason.clone(),
                    ..Match::default()
                });
            }
        }
    }
}
