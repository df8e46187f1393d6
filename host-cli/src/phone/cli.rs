//! `matador-host phone …`: list the phones the adb server knows, run a shell command on
//! one, save its screen as PNG, ask the server to connect to a phone over TCP; enroll a phone
//! on a router's VPN ingress, list or delete its data, stop its monitoring.

use super::adb::{self, AdbServerAddr, AdbShell, AdbTarget, MAX_TEXT_OUTPUT};
use super::shell::Shell;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::Write;
use std::net::SocketAddrV4;
use std::path::PathBuf;

/// Arguments of `matador-host phone`.
#[derive(Args)]
pub struct PhoneArgs {
    /// The adb server, IPv4:PORT [default: 127.0.0.1:5037, or $ANDROID_ADB_SERVER_PORT].
    #[arg(long, global = true, value_name = "HOST:PORT")]
    adb: Option<String>,
    /// The adb program run to start the server (`adb start-server`) when it is on this host.
    #[arg(long, global = true, value_name = "PATH")]
    adb_bin: Option<String>,
    #[command(subcommand)]
    command: PhoneCommand,
}

#[derive(Subcommand)]
enum PhoneCommand {
    /// The phones the adb server knows: serial, model, Android version, state.
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Run a shell command on a phone: `phone shell SERIAL -- getprop ro.product.model`.
    ///
    /// The command's exit code is not passed on: adb_client does not report it.
    Shell {
        /// The phone's serial (`phone list`).
        serial: String,
        /// Command and arguments (joined with spaces, as `adb shell` does).
        #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Save the phone's screen as a PNG.
    Screenshot {
        /// The phone's serial.
        serial: String,
        /// Where to write the PNG.
        out: PathBuf,
    },
    /// Ask the adb server to connect to a phone over TCP (as `adb connect`).
    Connect {
        /// The phone's IPv4:PORT, e.g. a lab phone's 127.0.0.1:25550.
        address: String,
    },
    /// Enroll a phone (no root, no ADB) as a WireGuard peer of a router's VPN ingress: writes
    /// DIR/DEVICE.conf for the WireGuard app and its QR code DIR/DEVICE.png, and prints both.
    ///
    /// Walk-through: docs/monitoring.md.
    Enroll(Box<super::enroll::EnrollArgs>),
    /// List a device's results on the routers that know it.
    Data(super::device_data::DataArgs),
    /// Delete a device's results on the routers that know it (asks first, unless --yes), and
    /// print what was deleted.
    Forget(super::device_data::ForgetArgs),
    /// Stop monitoring a device: its ingress peer is removed at once (results stay).
    Stop(super::stop::StopArgs),
    /// Put a router's TLS interception CA into a test phone's user CA store (lab phones
    /// only: interception runs only for devices whose policy says `tls_interception: true`).
    InstallCa(super::push::InstallCaArgs),
}

fn server(args: &PhoneArgs) -> Result<AdbServerAddr> {
    let mut server = AdbServerAddr::local_default();
    if let Some(a) = &args.adb {
        server.addr = parse_addr(a).with_context(|| format!("--adb {a}"))?;
    }
    server.adb_bin = args.adb_bin.clone();
    Ok(server)
}

fn parse_addr(text: &str) -> Result<SocketAddrV4> {
    let text = text.replace("localhost:", "127.0.0.1:");
    text.parse()
        .map_err(|_| anyhow::anyhow!("expected an IPv4 address and port such as 127.0.0.1:5037"))
}

/// Runs `matador-host phone`; the exit code.
pub fn run(args: PhoneArgs) -> Result<i32> {
    let server = server(&args)?;
    // A phone over TCP (`IPv4:PORT`) is (re)connected first, as `adb connect` would: the adb
    // server keeps one that went away as `offline` and never dials it again.
    let target = |serial: &str| AdbTarget::Server {
        server: server.clone(),
        serial: serial.to_string(),
        connect: serial.parse::<SocketAddrV4>().is_ok(),
    };
    match &args.command {
        PhoneCommand::List { json } => {
            let devices = adb::list_devices(&server).context("listing phones")?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&devices)?);
                return Ok(0);
            }
            println!("{:<24} {:<20} {:<8} STATE", "SERIAL", "MODEL", "ANDROID");
            for d in devices {
                let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!(
                    "{:<24} {:<20} {:<8} {}",
                    d.serial,
                    or_dash(&d.model),
                    or_dash(&d.android),
                    d.state
                );
            }
            Ok(0)
        }
        PhoneCommand::Shell { serial, command } => {
            let mut shell = AdbShell::open(&target(serial))?;
            let out = shell.run(&command.join(" "), MAX_TEXT_OUTPUT)?;
            std::io::stdout().write_all(&out.stdout)?;
            std::io::stderr().write_all(&out.stderr)?;
            // adb_client 3.2.3 drops the exit status it reads, so the code is mostly unknown.
            Ok(out.code.map_or(0, i32::from))
        }
        PhoneCommand::Screenshot { serial, out } => {
            let png = AdbShell::open(&target(serial))?.screencap()?;
            matador_lab::atomic::write_atomically(out, &png)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("{}: {} bytes", out.display(), png.len());
            Ok(0)
        }
        PhoneCommand::Enroll(args) => {
            let push = args.push.as_deref().map(target);
            super::enroll::run(args, push.as_ref())
        }
        PhoneCommand::InstallCa(args) => super::push::install_ca(args, &target(&args.serial)),
        PhoneCommand::Data(args) => super::device_data::data(args),
        PhoneCommand::Forget(args) => super::device_data::forget(args),
        PhoneCommand::Stop(args) => super::stop::run(args),
        PhoneCommand::Connect { address } => {
            let Ok(addr) = parse_addr(address) else {
                bail!("{address}: expected IPv4:PORT, e.g. 127.0.0.1:25550");
            };
            adb::connect(&server, addr)?;
            println!("connected to {addr}");
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_parse() {
        assert_eq!(
            parse_addr("localhost:15037").ok(),
            Some(SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 15037))
        );
        assert!(parse_addr("adb-host").is_err());
    }
}
