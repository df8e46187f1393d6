//! `matador-host router …`: field routers. `enroll` makes a router's WireGuard keys, API
//! token and pinned certificate ahead of its first boot, writes them with its UCI
//! configuration as an ImageBuilder overlay, and tells the controller and the inventory.

mod enroll;
mod keys;
mod overlay;
mod status;

#[cfg(test)]
mod tests;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::Path;

pub use enroll::{EnrollArgs, Plan};
pub use keys::WgKeyPair;
pub use overlay::{Enrollment, Secrets};
pub use status::api_client;

/// Arguments of `matador-host router`.
#[derive(Args)]
pub struct RouterArgs {
    #[command(subcommand)]
    command: RouterCommand,
}

#[derive(Subcommand)]
enum RouterCommand {
    /// Make a router's keys, token and pinned certificate and its image overlay (DIR), and
    /// print the controller's peer entry and the inventory entry.
    ///
    /// DIR is what `images/build.sh --router DIR` takes: etc/config/matador, etc/matador/token,
    /// etc/matador/mgmt.conf, etc/matador/state/api-{cert,key}.der. The inventory entry is
    /// also written next to it, as DIR.inventory.yaml. Walk-through: docs/flashing.md.
    Enroll(Box<EnrollArgs>),
    /// Each router's report through its API: uptime, spooled results, uploads, and health
    /// warnings (crash loop, full disk, wrong clock, failing uploads). Exit code 0: all
    /// well; 3: a router has warnings; 1: a router did not answer.
    Status(status::StatusArgs),
}

/// Runs `matador-host router`; the exit code.
pub fn run(args: RouterArgs) -> Result<i32> {
    match args.command {
        RouterCommand::Enroll(args) => {
            let json = args.json;
            let done = enroll(&args)?;
            let text = if json {
                format!("{:#}\n", done.json())
            } else {
                done.text()
            };
            print!("{text}");
            Ok(0)
        }
        RouterCommand::Status(args) => status::run(&args),
    }
}

/// What `enroll` did: the plan, the rendered enrolment, where it went.
#[derive(Debug)]
pub struct Enrolled {
    /// The checked flags.
    pub plan: Plan,
    /// The overlay's files and the texts for the controller and the inventory.
    pub enrollment: Enrollment,
    /// The overlay directory, absolute.
    pub out: std::path::PathBuf,
    /// The inventory entry's file.
    pub inventory_file: std::path::PathBuf,
}

/// Checks the flags, refuses to replace an overlay without `--force`, makes the secrets and
/// writes the overlay and the inventory entry.
pub fn enroll(args: &EnrollArgs) -> Result<Enrolled> {
    let plan = Plan::from_args(args)?;
    overlay::check_out(&plan.out, plan.force)?;
    let out =
        std::path::absolute(&plan.out).with_context(|| format!("--out {}", plan.out.display()))?;
    let secrets = Secrets::generate(&plan)?;
    let enrollment = overlay::render(&plan, &secrets, &out)?;
    let inventory_file = overlay::write(&enrollment, &out)?;
    Ok(Enrolled {
        plan,
        enrollment,
        out,
        inventory_file,
    })
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

impl Enrolled {
    /// The report for a person: what was written, then what to do with it.
    pub fn text(&self) -> String {
        let e = &self.enrollment;
        let mut t = format!(
            "Enrolled router {} (management address {}, WireGuard public key {}).\n\n\
             Image overlay {} (for images/build.sh --router):\n",
            self.plan.name,
            self.plan.address,
            e.public_key,
            shown(&self.out)
        );
        for f in &e.files {
            t += &format!("  {:<36} {}\n", f.path, f.what);
        }
        t += &format!(
            "Inventory entry: {}\n\n\
             Pinned API certificate (SHA-256): {}\n\n\
             1. Add this peer to the controller's WireGuard interface (the one at {}), e.g. to\n   \
             /etc/wireguard/wg0.conf; `wg set wg0 peer {} allowed-ips {}/32` applies it now:\n\n{}\n\
             2. Add this router under `routers:` in the inventory (docs/campaigns.md):\n\n{}\n\
             3. Build and flash the image (docs/flashing.md):\n   \
             images/build.sh --package matador-router_….ipk --router {} PROFILE\n",
            shown(&self.inventory_file),
            e.fingerprint,
            self.plan.controller_endpoint,
            e.public_key,
            self.plan.address,
            e.controller_peer,
            e.inventory_entry,
            shown(&self.out),
        );
        t
    }

    /// The report for scripts: one JSON object.
    pub fn json(&self) -> serde_json::Value {
        let e = &self.enrollment;
        serde_json::json!({
            "router": self.plan.name,
            "address": self.plan.address.to_string(),
            "api": self.plan.api(),
            "public_key": e.public_key,
            "fingerprint": e.fingerprint,
            "out": shown(&self.out),
            "files": e.files.iter().map(|f| shown(&self.out.join(f.path))).collect::<Vec<_>>(),
            "token_file": shown(&self.out.join("etc/matador/token")),
            "inventory_file": shown(&self.inventory_file),
            "controller_peer": e.controller_peer,
            "inventory_entry": e.inventory_entry,
        })
    }
}
