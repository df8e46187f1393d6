//! `phone enroll`: a phone as a WireGuard peer of a router's VPN ingress. Makes the phone's
//! key pair, asks the router to add the peer, and writes the profile for the WireGuard app
//! (`<device>.conf`) with its QR code (`<device>.png`), both owner-only: they hold the phone's
//! private key.

use super::fleet::{fleet, lab_endpoint};
use super::profile::{
    check_address, choose_ingress, first_free_address, render_profile, PhoneProfile,
};
use super::qr::{self, Colours, Qr};
use crate::router::WgKeyPair;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use matador_api::{check_device_name, check_endpoint, AddPeer};
use matador_lab::atomic::write_private_atomically;
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// Arguments of `matador-host phone enroll`.
#[derive(Args)]
pub struct EnrollArgs {
    /// The inventory naming the router (docs/campaigns.md).
    #[arg(long)]
    inventory: PathBuf,
    /// The router whose ingress the phone joins.
    #[arg(long)]
    router: String,
    /// The device's name: 1 to 32 of A-Z a-z 0-9 . _ -, not starting with '.' or '-'.
    #[arg(long)]
    device: String,
    /// The AP whose ingress the phone joins [default: the router's only ingress].
    #[arg(long)]
    ap: Option<String>,
    /// Where the phone reaches the ingress, the router's public HOST:PORT [default: for a lab
    /// router, its ingress endpoint from the running lab; required for a field router].
    #[arg(long, value_name = "HOST:PORT")]
    endpoint: Option<String>,
    /// The phone's resolver [default: the ingress's gateway, the router].
    #[arg(long)]
    dns: Option<IpAddr>,
    /// The phone's tunnel address [default: the first free host after the gateway].
    #[arg(long)]
    address: Option<Ipv4Addr>,
    /// Where `<device>.conf` and `<device>.png` go.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// One JSON object `{device, router, ap, address, public_key, conf, png}` instead of the
    /// profile and QR code.
    #[arg(long)]
    json: bool,
    /// A test phone (its adb serial) to push the profile to and bring the tunnel up on, with
    /// the WireGuard app's remote control intent, instead of scanning the QR code.
    #[arg(long, value_name = "SERIAL")]
    pub push: Option<String>,
}

/// What `phone enroll` did. `Debug` leaves out the profile's text (it holds the private key).
pub struct Enrolled {
    /// The profile written.
    pub profile: PhoneProfile,
    /// Its text.
    pub text: String,
    /// The AP of the ingress.
    pub ap: String,
    /// The phone's public key.
    pub public_key: String,
    /// The profile's file.
    pub conf: PathBuf,
    /// The QR code's file.
    pub png: PathBuf,
}

/// Runs `phone enroll`, pushing the profile to the phone `push` reaches if given; the exit
/// code.
pub fn run(args: &EnrollArgs, push: Option<&super::adb::AdbTarget>) -> Result<i32> {
    let done = enroll(args)?;
    if let Some(target) = push {
        super::push::push_profile(target, &args.device, &done.text).with_context(|| {
            format!(
                "device {} is enrolled, but its profile did not reach the phone ({} is kept)",
                args.device,
                done.conf.display()
            )
        })?;
        eprintln!(
            "Pushed the profile to {}/{}.conf and brought the tunnel up.",
            super::push::PROFILE_DIR,
            args.device
        );
    }
    if args.json {
        println!("{:#}", done.json());
        return Ok(0);
    }
    let colours = if std::io::stdout().is_terminal() {
        Colours::Ansi
    } else {
        Colours::Plain
    };
    let qr = Qr::encode(&done.text)?;
    print!("{}", done.report(&qr::terminal_art(&qr, colours)));
    Ok(0)
}

/// Checks the flags and the router's ingress, writes the profile and its QR code, then adds
/// the peer; the files are removed again when the router refuses it.
pub fn enroll(args: &EnrollArgs) -> Result<Enrolled> {
    check_device_name(&args.device).map_err(|e| anyhow!("--device: {e}"))?;
    let fleet = fleet(&args.inventory, Some(&args.router))?;
    let client = fleet.only()?;
    let list = fleet
        .block_on(client.ingress())
        // Flattened: the client's errors already name their cause.
        .map_err(|e| anyhow!("router {}: its VPN ingress: {e}", args.router))?;
    let ingress = choose_ingress(&list, args.ap.as_deref())
        .map_err(|e| anyhow!("router {}: {e}", args.router))?;
    if let Some((i, p)) = list.iter().find_map(|i| {
        i.peers
            .iter()
            .find(|p| p.device == args.device)
            .map(|p| (i, p))
    }) {
        bail!(
            "device {} is already enrolled on router {} (AP {}, address {}): `matador-host \
             phone stop` it first, or choose another name",
            args.device,
            args.router,
            i.ap,
            p.address
        );
    }
    let from_lab = || {
        let lab = fleet.lab_status.as_deref()?;
        fleet
            .lab_routers
            .contains(&args.router)
            .then(|| lab_endpoint(lab, &args.router, &ingress.ap))?
    };
    let Some(endpoint) = args.endpoint.clone().or_else(from_lab) else {
        bail!(
            "--endpoint HOST:PORT is required: the inventory has no public address for router \
             {} (its ingress on AP {} listens on UDP port {})",
            args.router,
            ingress.ap,
            ingress.listen_port
        );
    };
    check_endpoint("--endpoint", &endpoint)?;
    let address = match args.address {
        Some(a) => check_address(ingress, a).map(|()| a),
        None => {
            let taken: Vec<Ipv4Addr> = ingress.peers.iter().map(|p| p.address).collect();
            first_free_address(ingress.subnet, ingress.gateway, &taken)
        }
    }
    .map_err(|e| anyhow!("--address: {e}"))?;
    let keys = WgKeyPair::generate()?;
    let profile = PhoneProfile {
        device: args.device.clone(),
        router: args.router.clone(),
        private_key: keys.private_key.clone(),
        address,
        dns: args.dns.unwrap_or(IpAddr::V4(ingress.gateway)),
        ingress_public_key: ingress.public_key.clone(),
        endpoint,
    };
    let text = render_profile(&profile)?;
    let png = qr::png(&Qr::encode(&text)?)?;

    std::fs::create_dir_all(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    let out =
        std::path::absolute(&args.out).with_context(|| format!("--out {}", args.out.display()))?;
    let conf_file = out.join(format!("{}.conf", args.device));
    let png_file = out.join(format!("{}.png", args.device));
    // Written before the router adds the peer: a peer whose private key was never saved
    // would be a phone nobody can set up.
    write_private(&conf_file, text.as_bytes())?;
    write_private(&png_file, &png)?;
    let request = AddPeer {
        public_key: keys.public_key.clone(),
        address,
    };
    let added = match fleet.block_on(client.add_ingress_peer(&ingress.ap, &args.device, &request)) {
        Ok(added) => added,
        Err(e) => {
            let refused = e.status().is_some();
            if refused {
                // The router answered no: nothing to keep.
                let _ = std::fs::remove_file(&conf_file);
                let _ = std::fs::remove_file(&png_file);
            }
            let kept = if refused {
                String::new()
            } else {
                format!(
                    " (no answer: the router may have added the peer; the profile is kept in \
                     {}, and running `phone enroll` again says whether the device is enrolled)",
                    out.display()
                )
            };
            bail!(
                "router {}: adding {} to the ingress on AP {}: {e}{kept}",
                args.router,
                args.device,
                ingress.ap
            );
        }
    };
    if added.public_key != request.public_key || added.address != address {
        bail!(
            "router {} added {} with key {} and address {}, not the profile's {} and {}: \
             `phone stop` it and enroll again",
            args.router,
            args.device,
            added.public_key,
            added.address,
            request.public_key,
            address
        );
    }
    Ok(Enrolled {
        profile,
        text,
        ap: ingress.ap.clone(),
        public_key: keys.public_key,
        conf: conf_file,
        png: png_file,
    })
}

impl std::fmt::Debug for Enrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolled")
            .field("profile", &self.profile)
            .field("ap", &self.ap)
            .field("public_key", &self.public_key)
            .field("conf", &self.conf)
            .field("png", &self.png)
            .finish_non_exhaustive()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_private_atomically(path, bytes).with_context(|| format!("writing {}", path.display()))
}

impl Enrolled {
    /// The report for a person: what was done, the profile, its QR code (`art`), what next.
    pub fn report(&self, art: &str) -> String {
        let p = &self.profile;
        format!(
            "Enrolled device {} on router {} (AP {}, address {}).\n\
             Profile: {} (owner-only: it holds the phone's private key)\n\
             QR code: {}\n\n{}\n{}\n\
             In the WireGuard app: + → scan from QR code (or import the .conf file).\n\
             Android: Settings → Network → VPN → WireGuard → Always-on VPN and Block connections \
             without VPN.\n\
             iOS: the tunnel's On-Demand, for Wi-Fi and cellular.\n",
            p.device,
            p.router,
            self.ap,
            p.address,
            self.conf.display(),
            self.png.display(),
            self.text,
            art
        )
    }

    /// The report for scripts.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "device": self.profile.device,
            "router": self.profile.router,
            "ap": self.ap,
            "address": self.profile.address.to_string(),
            "public_key": self.public_key,
            "conf": self.conf.display().to_string(),
            "png": self.png.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolled() -> Enrolled {
        let profile = PhoneProfile {
            device: "pixel".into(),
            router: "zrh".into(),
            private_key: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=".into(),
            address: Ipv4Addr::new(10, 99, 0, 2),
            dns: IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1)),
            ingress_public_key: "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=".into(),
            endpoint: "203.0.113.7:51820".into(),
        };
        Enrolled {
            text: render_profile(&profile).unwrap(),
            profile,
            ap: "ap0".into(),
            public_key: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=".into(),
            conf: "/tmp/out/pixel.conf".into(),
            png: "/tmp/out/pixel.png".into(),
        }
    }

    #[test]
    fn the_json_has_the_agreed_fields_and_no_private_key() {
        let json = enrolled().json();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = [
            "device",
            "router",
            "ap",
            "address",
            "public_key",
            "conf",
            "png",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["address"], "10.99.0.2");
        assert_eq!(json["conf"], "/tmp/out/pixel.conf");
        assert_eq!(
            json["public_key"],
            "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
        );
        assert!(!json.to_string().contains("yAnz5TF"));
        assert!(!format!("{:?}", enrolled()).contains("yAnz5TF"));
    }

    #[test]
    fn the_qr_code_holds_the_profile_and_fits_a_terminal() {
        let mut e = enrolled();
        e.profile.endpoint = "a-rather-long-router-name.example.org:51820".into();
        e.profile.device = "participant-0123456789abcdefghij".into();
        let text = render_profile(&e.profile).unwrap();
        let qr = Qr::encode(&text).unwrap();
        let (read, side) = crate::phone::qr::tests::read_png(&qr::png(&qr).unwrap());
        assert_eq!(read, text);
        assert_eq!(side, qr.framed_width() * qr::PNG_SCALE);
        assert!(qr.framed_width() <= 80, "{} columns", qr.framed_width());
    }

    #[test]
    fn the_report_has_the_files_the_profile_and_the_art() {
        let e = enrolled();
        let text = e.report("<art>\n");
        assert!(
            text.starts_with("Enrolled device pixel on router zrh (AP ap0, address 10.99.0.2).")
        );
        assert!(
            text.contains("Profile: /tmp/out/pixel.conf (owner-only"),
            "{text}"
        );
        assert!(text.contains(&e.text));
        assert!(text.contains("\n<art>\n"));
    }
}
