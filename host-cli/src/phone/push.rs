//! Files onto test phones over ADB: a WireGuard profile brought up in the phone's WireGuard
//! app (`phone enroll --push`), and a router's TLS interception CA put in the phone's user
//! CA store (`phone install-ca`). Both are for the lab's test phones: a participant's own
//! phone scans the QR code and never gets an interception CA.

use super::adb::{AdbShell, AdbTarget};
use super::fleet::fleet;
use super::parse::printed_error;
use super::shell::Shell as _;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Where the WireGuard app imports a profile from: the phone's Downloads.
pub const PROFILE_DIR: &str = "/sdcard/Download";
/// The intent action the WireGuard app's remote control takes to bring a tunnel up.
pub const TUNNEL_UP: &str = "com.wireguard.android.action.SET_TUNNEL_UP";
/// Android's user CA store, where a certificate installed by the user (or pushed by root)
/// is trusted by apps that trust user CAs.
pub const USER_CA_DIR: &str = "/data/misc/user/0/cacerts-added";
/// The file name of the interception CA in the user CA store.
pub const INTERCEPTION_CA_FILE: &str = "matador-mitm.pem";

/// Copies the profile `text` of `device` to the phone and asks its WireGuard app to bring
/// the tunnel up (the app's `SET_TUNNEL_UP` remote control intent).
pub fn push_profile(target: &AdbTarget, device: &str, text: &str) -> Result<()> {
    let mut phone = AdbShell::open(target).context("opening the phone to push the profile")?;
    let path = format!("{PROFILE_DIR}/{device}.conf");
    phone
        .push(text.as_bytes(), &path)
        .with_context(|| format!("pushing the profile to {path}"))?;
    let command = format!("am broadcast -a {TUNNEL_UP} -e tunnel {device}");
    let out = phone.shell(&command)?;
    if let Some(e) = printed_error(&out) {
        bail!("`{command}` on the phone: {e}");
    }
    Ok(())
}

/// Arguments of `matador-host phone install-ca`.
#[derive(Args)]
pub struct InstallCaArgs {
    /// The phone's serial (`phone list`).
    pub serial: String,
    /// The inventory naming the router (docs/campaigns.md).
    #[arg(long)]
    pub inventory: PathBuf,
    /// The router whose interception CA the phone is to trust.
    #[arg(long)]
    pub router: String,
    /// Also write the certificate (PEM) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `phone install-ca`: fetches the router's interception CA and pushes it into the phone's
/// user CA store; apps started afterwards trust it. Returns the exit code.
pub fn install_ca(args: &InstallCaArgs, target: &AdbTarget) -> Result<i32> {
    let fleet = fleet(&args.inventory, Some(&args.router))?;
    let client = fleet.only()?;
    let pem = fleet
        .block_on(client.interception_ca())
        .map_err(|e| anyhow!("router {}: its interception CA: {e}", args.router))?;
    check_ca_pem(&pem)?;
    if let Some(out) = &args.out {
        matador_lab::atomic::write_atomically(out, pem.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    let mut phone = AdbShell::open(target).context("opening the phone")?;
    let path = format!("{USER_CA_DIR}/{INTERCEPTION_CA_FILE}");
    phone
        .push(pem.as_bytes(), &path)
        .with_context(|| format!("pushing the CA to {path} (the phone needs adb root)"))?;
    println!(
        "Installed router {}'s interception CA on {} ({path}). Apps started from now on trust \
         it; apps that pin their certificates will be reported as pinning.",
        args.router, args.serial
    );
    Ok(0)
}

/// What the router sent is one PEM certificate and nothing else (never a key).
fn check_ca_pem(pem: &str) -> Result<()> {
    let certs = pem.matches("-----BEGIN CERTIFICATE-----").count();
    if certs != 1 || pem.contains("PRIVATE KEY") {
        bail!("the router's answer is not one PEM certificate ({certs} certificates)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_single_certificate_is_accepted_as_the_ca() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(check_ca_pem(cert).is_ok());
        assert!(check_ca_pem("").is_err());
        assert!(check_ca_pem(&format!("{cert}{cert}")).is_err());
        let with_key = format!("{cert}-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
        assert!(check_ca_pem(&with_key).is_err());
    }
}
