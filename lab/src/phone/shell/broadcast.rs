//! `am broadcast`: an intent's action, extras and target, delivered to the one receiver the
//! emulated phone has, the WireGuard app's remote control (`SET_TUNNEL_UP|DOWN -e tunnel
//! NAME`). Output as `am` prints it; a failure the app reports comes back as the receiver's
//! result code 1 with its message as result data, and exit code 1.

use super::Output;
use crate::phone::device::Phone;
use crate::phone::vpn;

/// An intent as `am` reads it from the command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Intent {
    /// `-a ACTION`.
    pub action: Option<String>,
    /// String extras (`-e`/`--es`), and the other typed extras as text.
    pub extras: Vec<(String, String)>,
    /// `-p PACKAGE`.
    pub package: Option<String>,
    /// `-n COMPONENT`.
    pub component: Option<String>,
}

impl Intent {
    /// A string extra.
    pub fn extra(&self, key: &str) -> Option<&str> {
        self.extras
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// How `am` shows the intent: `Intent { act=… flg=0x400000 pkg=… (has extras) }`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = &self.action {
            parts.push(format!("act={a}"));
        }
        parts.push("flg=0x400000".to_string());
        if let Some(p) = &self.package {
            parts.push(format!("pkg={p}"));
        }
        if let Some(c) = &self.component {
            parts.push(format!("cmp={c}"));
        }
        if !self.extras.is_empty() {
            parts.push("(has extras)".to_string());
        }
        format!("Intent {{ {} }}", parts.join(" "))
    }

    /// Whether the intent may reach an app with this package.
    fn targets(&self, package: &str) -> bool {
        let by_component = self
            .component
            .as_deref()
            .is_none_or(|c| c.split('/').next() == Some(package));
        by_component && self.package.as_deref().is_none_or(|p| p == package)
    }
}

/// Reads `am broadcast`'s arguments; the error is the exception text `am` prints.
pub fn parse_intent(args: &[&str]) -> Result<Intent, String> {
    let mut intent = Intent::default();
    let mut it = args.iter();
    while let Some(&opt) = it.next() {
        let mut value = || {
            it.next()
                .copied()
                .ok_or_else(|| format!("Argument expected after \"{opt}\""))
        };
        match opt {
            "-a" => intent.action = Some(value()?.to_string()),
            "-p" => intent.package = Some(value()?.to_string()),
            "-n" => intent.component = Some(value()?.to_string()),
            "-e" | "--es" | "--ez" | "--ei" | "--el" | "--ef" | "--eu" => {
                let key = value()?.to_string();
                let v = value()?.to_string();
                intent.extras.push((key, v));
            }
            "--esn" => intent.extras.push((value()?.to_string(), String::new())),
            "-c" | "-d" | "-t" | "-f" | "--user" => {
                value()?;
            }
            "--receiver-foreground"
            | "--include-stopped-packages"
            | "--allow-background-activity-starts" => {}
            other if other.starts_with('-') => return Err(format!("Unknown option: {other}")),
            other => return Err(format!("Unexpected argument: {other}")),
        }
    }
    Ok(intent)
}

/// `am broadcast [-a ACTION] [-e KEY VALUE]... [-p PACKAGE] [-n COMPONENT]`.
pub fn broadcast(phone: &Phone, args: &[&str]) -> Output {
    let intent = match parse_intent(args) {
        Ok(i) => i,
        Err(e) => {
            return Output::fail(
                255,
                format!(
                    "Exception occurred while executing 'broadcast':\n\
                     java.lang.IllegalArgumentException: {e}\n"
                ),
            )
        }
    };
    let head = format!("Broadcasting: {}\n", intent.describe());
    match deliver(phone, &intent) {
        Ok(()) => Output::ok(format!("{head}Broadcast completed: result=0\n")),
        Err(data) => Output {
            stdout: format!("{head}Broadcast completed: result=1, data=\"{data}\"\n").into_bytes(),
            stderr: Vec::new(),
            code: 1,
        },
    }
}

/// Hands the intent to its receiver; an action nobody receives completes with result 0,
/// as on Android.
fn deliver(phone: &Phone, intent: &Intent) -> Result<(), String> {
    let installed = phone.role.is_cellular();
    if !installed || !intent.targets(vpn::WIREGUARD_PACKAGE) {
        return Ok(());
    }
    let action = intent.action.as_deref().unwrap_or("");
    if action != vpn::ACTION_UP && action != vpn::ACTION_DOWN {
        return Ok(());
    }
    let Some(tunnel) = intent.extra("tunnel") else {
        return Err("missing string extra 'tunnel' (-e tunnel NAME)".to_string());
    };
    if action == vpn::ACTION_UP {
        return vpn::up(phone, tunnel);
    }
    // Down: of the named tunnel only, and nothing to do if it is not up.
    let up = phone.state().vpn.as_ref().map(|t| t.name.clone());
    if !vpn::valid_name(tunnel) {
        return Err(format!("Invalid name: {tunnel:?}"));
    }
    if up.as_deref() == Some(tunnel) {
        vpn::down(phone);
    }
    Ok(())
}

#[cfg(test)]
#[path = "broadcast_tests.rs"]
mod tests;
