//! The per-app firewall: on the phone's Wi-Fi, only the app under test's UID may send
//! (`iptables -m owner --uid-owner`), for IPv4 and IPv6; installed after clearing what a
//! crashed run left, verified with `iptables -S OUTPUT`, removed again afterwards.

use super::super::error::PhoneError;
use super::super::shell::{quote, Shell};
use crate::spec::RootVia;
use serde::{Deserialize, Serialize};

const STEP: &str = "firewall";

/// One rule we add to a family's `OUTPUT` chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirewallRule {
    /// `ip6tables` rather than `iptables`.
    pub ipv6: bool,
    /// The rule after `-A`/`-D`, as `iptables -S` prints it: `OUTPUT -o wlan0 … -j DROP`.
    pub spec: String,
}

impl FirewallRule {
    fn tool(&self) -> &'static str {
        tool(self.ipv6)
    }

    /// The interface the rule is for (`-o IFACE`).
    fn interface(&self) -> Option<&str> {
        self.spec
            .strip_prefix("OUTPUT -o ")
            .and_then(|rest| rest.split_whitespace().next())
    }
}

fn tool(ipv6: bool) -> &'static str {
    if ipv6 {
        "ip6tables"
    } else {
        "iptables"
    }
}

/// The rules that let only `uid` out of interface `iface` (Wi-Fi, or the VPN of a phone on
/// a router's WireGuard ingress): accept its packets, drop the rest.
pub fn rules_for(uid: u32, ipv6: bool, iface: &str) -> Vec<FirewallRule> {
    let families: &[bool] = if ipv6 { &[false, true] } else { &[false] };
    families
        .iter()
        .flat_map(|&v6| {
            [
                format!("OUTPUT -o {iface} -m owner --uid-owner {uid} -j ACCEPT"),
                format!("OUTPUT -o {iface} -j DROP"),
            ]
            .map(|spec| FirewallRule { ipv6: v6, spec })
        })
        .collect()
}

/// A command as root: adbd already is, or through `su -c`.
pub fn as_root(root: RootVia, command: &str) -> String {
    match root {
        RootVia::Adbd => command.to_string(),
        RootVia::Su => format!("su -c {}", quote(command)),
    }
}

/// Rules of our shape in `iptables -S OUTPUT` output, for any UID: what a run that died
/// before its cleanup left behind, on interface `iface`.
fn ours(listing: &str, iface: &str) -> Vec<String> {
    let accept = format!("-A OUTPUT -o {iface} -m owner --uid-owner ");
    let drop = format!("-A OUTPUT -o {iface} -j DROP");
    listing
        .lines()
        .map(str::trim)
        .filter(|l| {
            *l == drop
                || l.strip_prefix(&accept)
                    .and_then(|rest| rest.strip_suffix(" -j ACCEPT"))
                    .is_some_and(|uid| !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|l| l.trim_start_matches("-A ").to_string())
        .collect()
}

fn list(shell: &mut dyn Shell, root: RootVia, ipv6: bool) -> Result<String, PhoneError> {
    let out = shell.shell(&as_root(root, &format!("{} -S OUTPUT", tool(ipv6))))?;
    if !out.lines().any(|l| l.starts_with("-P OUTPUT")) {
        // No policy line: iptables did not run (no root, no binary).
        return Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!(
                "`{} -S OUTPUT` printed no chain: {}",
                tool(ipv6),
                out.trim()
            ),
        });
    }
    Ok(out)
}

/// Installs the rules (after removing stale ones) and checks they are listed, in order.
pub fn install(
    shell: &mut dyn Shell,
    root: RootVia,
    rules: &[FirewallRule],
) -> Result<(), PhoneError> {
    for ipv6 in [false, true] {
        let family: Vec<&FirewallRule> = rules.iter().filter(|r| r.ipv6 == ipv6).collect();
        let Some(iface) = family.first().and_then(|r| r.interface()) else {
            continue;
        };
        for stale in ours(&list(shell, root, ipv6)?, iface) {
            shell.shell(&as_root(root, &format!("{} -w -D {stale}", tool(ipv6))))?;
        }
        for r in &family {
            shell.shell(&as_root(root, &format!("{} -w -A {}", r.tool(), r.spec)))?;
        }
        let listing = list(shell, root, ipv6)?;
        let wanted: Vec<String> = family.iter().map(|r| format!("-A {}", r.spec)).collect();
        let got = ours(&listing, iface);
        let got: Vec<String> = got.iter().map(|s| format!("-A {s}")).collect();
        if got != wanted {
            return Err(PhoneError::NotVerified {
                step: STEP,
                problem: format!(
                    "{} -S OUTPUT lists {got:?}, expected exactly {wanted:?}",
                    tool(ipv6)
                ),
            });
        }
    }
    Ok(())
}

/// Removes the rules (each as often as it is listed) and checks none is left.
pub fn remove(
    shell: &mut dyn Shell,
    root: RootVia,
    rules: &[FirewallRule],
) -> Result<(), PhoneError> {
    for ipv6 in [false, true] {
        let family: Vec<&FirewallRule> = rules.iter().filter(|r| r.ipv6 == ipv6).collect();
        if family.is_empty() {
            continue;
        }
        let listing = list(shell, root, ipv6)?;
        for r in &family {
            let copies = listing
                .lines()
                .filter(|l| l.trim() == format!("-A {}", r.spec))
                .count();
            for _ in 0..copies {
                shell.shell(&as_root(root, &format!("{} -w -D {}", r.tool(), r.spec)))?;
            }
        }
        let left = list(shell, root, ipv6)?;
        if let Some(r) = family
            .iter()
            .find(|r| left.lines().any(|l| l.trim() == format!("-A {}", r.spec)))
        {
            return Err(PhoneError::NotVerified {
                step: STEP,
                problem: format!("`-A {}` is still listed after removing it", r.spec),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::WIFI_IFACE;
    use super::*;

    #[test]
    fn stale_rules_of_our_shape_are_found_and_others_kept() {
        let listing = "-P OUTPUT ACCEPT\n-A OUTPUT -j oem_out\n-A OUTPUT -o wlan0 -m owner --uid-owner 10999 -j ACCEPT\n-A OUTPUT -o wlan0 -j DROP\n-A OUTPUT -o rmnet0 -j DROP\n-A OUTPUT -o wlan0 -m owner --uid-owner x -j ACCEPT\n";
        assert_eq!(
            ours(listing, WIFI_IFACE),
            [
                "OUTPUT -o wlan0 -m owner --uid-owner 10999 -j ACCEPT",
                "OUTPUT -o wlan0 -j DROP"
            ]
        );
        assert_eq!(rules_for(10123, true, WIFI_IFACE).len(), 4);
        assert_eq!(
            rules_for(10123, false, "wg0")[0].spec,
            "OUTPUT -o wg0 -m owner --uid-owner 10123 -j ACCEPT"
        );
        assert_eq!(
            as_root(RootVia::Su, "iptables -S OUTPUT"),
            "su -c 'iptables -S OUTPUT'"
        );
    }
}
