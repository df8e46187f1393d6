//! `matador-host lab …`: bring the virtual lab up and down, inspect it, run commands in it.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use matador_lab::control::{self, DaemonCommand};
use matador_lab::plan::Plan;
use matador_lab::topology::{self, DEFAULT_TOPOLOGY};
use std::path::PathBuf;

/// Arguments of `matador-host lab`.
#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Subcommand)]
enum LabCommand {
    /// Build the lab from a topology (the built-in default when no file is given).
    Up {
        /// Topology YAML (schema: docs/lab.md).
        topology: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove every namespace, process and file of the lab (also after a crash).
    Down {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the running lab: vantage nodes (keys, endpoints, resolvers), services, routers.
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a node's namespace, e.g. `lab exec vp-ch -- scamper -i 192.0.2.1`.
    Exec {
        /// Node name (as in the topology).
        node: String,
        /// Command and arguments.
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Register a WireGuard client with a vantage node and print its wg-quick config.
    AddPeer {
        /// Vantage node name.
        node: String,
        /// The client's public key; without it, a key pair is made and the config is complete.
        #[arg(long)]
        public_key: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Cut a phone off, as a crash or a pulled cable does: its processes end at once and its
    /// ADB endpoint refuses connections until `lab plug`.
    Unplug {
        /// Phone name (as in the topology).
        phone: String,
    },
    /// Start an unplugged phone again (a fresh boot: Wi-Fi off, no app running).
    Plug {
        /// Phone name (as in the topology).
        phone: String,
    },
    /// Check a topology file without building anything.
    Check {
        /// Topology YAML.
        topology: Option<PathBuf>,
    },
    /// The lab daemon (started by `lab up`; not for direct use).
    #[command(hide = true)]
    Daemon {
        #[arg(long)]
        plan: PathBuf,
        #[arg(long)]
        dir: PathBuf,
    },
    /// An emulated phone (started by `lab up` in the phone's namespace; not for direct use).
    #[command(hide = true)]
    Phone {
        #[arg(long)]
        plan: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        dir: PathBuf,
    },
}

/// `matador-routerd`, which lab routers run, from beside this binary (or `MATADOR_ROUTERD`).
fn routerd_beside(exe: &std::path::Path) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("MATADOR_ROUTERD") {
        return Ok(PathBuf::from(p));
    }
    let path = exe.with_file_name("matador-routerd");
    anyhow::ensure!(
        path.exists(),
        "{} not found: lab routers run the router daemon; build it with `cargo build -p matador-router` (or set MATADOR_ROUTERD)",
        path.display()
    );
    Ok(path)
}

/// How the lab starts its daemon and phones: this very binary.
fn daemon_command() -> Result<DaemonCommand> {
    let exe = std::env::current_exe().context("locating matador-host for the lab daemon")?;
    // -v: the daemon logs service events (logins, messages) at info level.
    Ok(DaemonCommand {
        program: exe.clone(),
        args: vec!["-v".into(), "lab".into(), "daemon".into()],
        phone_args: vec!["-v".into(), "lab".into(), "phone".into()],
        routerd: routerd_beside(&exe)?,
    })
}

fn load_plan(path: Option<&PathBuf>) -> Result<Plan> {
    let topo = match path {
        Some(p) => topology::load_file(p)?,
        None => topology::parse(DEFAULT_TOPOLOGY, "<built-in default topology>")?,
    };
    Ok(Plan::build(&topo)?)
}

/// Runs a `lab` subcommand; returns the process exit code.
pub fn run(args: LabArgs) -> Result<i32> {
    let dir = control::lab_dir();
    match args.command {
        LabCommand::Up { topology, json } => {
            let plan = load_plan(topology.as_ref())?;
            let daemon = daemon_command()?;
            let report = control::up(&plan, &daemon, &dir).context("lab up")?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"built": report.built, "seconds": report.seconds,
                        "namespaces": report.namespaces, "cleaned": report.cleaned})
                );
            } else if report.built {
                if report.cleaned > 0 {
                    println!(
                        "removed {} namespaces left by an earlier run",
                        report.cleaned
                    );
                }
                println!(
                    "lab `{}` up: {} namespaces in {:.2} s (state in {})",
                    plan.name,
                    report.namespaces,
                    report.seconds,
                    dir.display()
                );
            } else {
                println!("lab `{}` is already up; nothing to do", plan.name);
            }
            Ok(0)
        }
        LabCommand::Down { json } => {
            let _lock = control::LabLock::take(&dir).context("lab lock")?;
            let report = control::teardown(&dir).context("lab down")?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"seconds": report.seconds, "namespaces": report.namespaces,
                        "processes": report.processes})
                );
            } else {
                println!(
                    "lab down: {} namespaces and {} processes removed in {:.2} s",
                    report.namespaces, report.processes, report.seconds
                );
            }
            Ok(0)
        }
        LabCommand::Status { json } => {
            let status = control::status(&dir)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print_status(&status);
            }
            Ok(if status.up { 0 } else { 3 })
        }
        LabCommand::Exec { node, command } => Ok(control::exec(&dir, &node, &command)?),
        LabCommand::AddPeer {
            node,
            public_key,
            json,
        } => {
            let peer = control::add_peer(&dir, &node, public_key.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&peer)?);
            } else {
                print!("{}", peer.wg_quick);
            }
            Ok(0)
        }
        LabCommand::Unplug { phone } => {
            let killed = control::unplug(&dir, &phone)?;
            println!("phone {phone} unplugged ({killed} processes ended)");
            Ok(0)
        }
        LabCommand::Plug { phone } => {
            let daemon = daemon_command()?;
            if control::plug(&daemon, &dir, &phone)? {
                println!("phone {phone} plugged in: its ADB endpoint listens again");
            } else {
                println!("phone {phone} is already plugged in");
            }
            Ok(0)
        }
        LabCommand::Check { topology } => {
            let plan = load_plan(topology.as_ref())?;
            println!(
                "topology `{}` is valid: {} nodes, {} links",
                plan.name,
                plan.nodes.len(),
                plan.links.len()
            );
            Ok(0)
        }
        LabCommand::Daemon { plan, dir } => {
            matador_lab::daemon::run(&plan, &dir)?;
            Ok(0)
        }
        LabCommand::Phone { plan, name, dir } => {
            matador_lab::phone::run(&plan, &name, &dir)
                .with_context(|| format!("emulated phone {name}"))?;
            Ok(0)
        }
    }
}

fn print_status(s: &control::LabStatus) {
    println!(
        "lab `{}`: {}",
        s.topology,
        if s.up {
            "up"
        } else {
            "DEGRADED (run `lab up` again)"
        }
    );
    println!(
        "geolocation db: {}   lab CA: {}",
        s.mmdb.display(),
        s.ca_pem.display()
    );
    println!(
        "\n{:<8} {:<3} {:<14} {:<22} {:<12} public key",
        "vantage", "cc", "city", "endpoint", "resolver"
    );
    for v in &s.vantage_nodes {
        println!(
            "{:<8} {:<3} {:<14} {:<22} {:<12} {}",
            v.name,
            v.country,
            v.city,
            v.endpoint,
            v.resolver.to_string(),
            v.public_key
        );
    }
    println!(
        "\n{:<11} {:<9} {:<3} {:<14} names",
        "service", "kind", "cc", "address"
    );
    for x in &s.services {
        let addr = x.address.map(|a| a.to_string()).unwrap_or_default();
        let kind = serde_json::to_value(x.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        println!(
            "{:<11} {:<9} {:<3} {:<14} {}",
            x.name,
            kind,
            x.country,
            addr,
            x.names.join(", ")
        );
    }
    if !s.lab_routers.is_empty() {
        println!(
            "\n{:<10} {:<3} {:<14} {:<12} {:<15} phone",
            "lab router", "cc", "uplink", "ssid", "subnet"
        );
        for r in &s.lab_routers {
            let addr = r.address.map(|a| a.to_string()).unwrap_or_default();
            // A router's cellular phones join its ingress, not its Wi-Fi: named as such.
            let phone: Vec<String> = r
                .phone
                .iter()
                .cloned()
                .chain(
                    s.phones
                        .iter()
                        .filter(|p| p.router == r.name && p.network == "cellular")
                        .map(|p| format!("{} (ingress)", p.name)),
                )
                .collect();
            let phone = phone.join(", ");
            println!(
                "{:<10} {:<3} {:<14} {:<12} {:<15} {phone}",
                r.name, r.country, addr, r.ssid, r.subnet
            );
        }
    }
    if !s.phones.is_empty() {
        println!(
            "\n{:<10} {:<10} {:<9} {:<16} {:<16} packages",
            "phone", "router", "network", "adb", "model"
        );
        for p in &s.phones {
            println!(
                "{:<10} {:<10} {:<9} {:<16} {:<16} {}",
                p.name,
                p.router,
                p.network,
                p.adb,
                p.model,
                p.packages.join(", ")
            );
        }
    }
    let down: Vec<String> = s
        .processes
        .iter()
        .filter(|p| !p.alive)
        .map(|p| format!("{} ({})", p.what, p.pid))
        .collect();
    if !down.is_empty() {
        println!("\nnot running: {}", down.join(", "));
    }
}
