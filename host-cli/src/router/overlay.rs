//! The router's ImageBuilder overlay (`images/build.sh --router DIR`) and what the host and
//! the controller need to reach it: rendered from a [`Plan`] and fresh [`Secrets`], then
//! written file by file, atomically and private (the tests read every file back with the
//! daemon's own parsers).

use super::enroll::Plan;
use super::keys::{new_passphrase, new_token, WgKeyPair};
use anyhow::{bail, Context, Result};
use matador_api::identity::ApiIdentity;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The API port the router listens on (the daemon's default).
pub const API_PORT: u16 = 8443;
/// The router's API token, on the router.
const TOKEN_FILE: &str = "/etc/matador/token";
/// The router's state directory (results, the API certificate), on the router.
const STATE_DIR: &str = "/etc/matador/state";
/// netifd's WireGuard interface made from `mgmt.conf` (95-matador-mgmt): the API's only way in.
const MGMT_INTERFACE: &str = "mgmt";

/// Everything enrolling makes. `Debug` shows no secret.
pub struct Secrets {
    /// The router's management-tunnel key pair.
    pub wg: WgKeyPair,
    /// The API token.
    pub token: String,
    /// The Wi-Fi passphrase (given or made).
    pub passphrase: String,
    /// The API certificate and key.
    pub identity: ApiIdentity,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("wg", &self.wg)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// New keys, token and certificate; the plan's passphrase or a new one.
    pub fn generate(plan: &Plan) -> Result<Secrets> {
        Ok(Secrets {
            wg: WgKeyPair::generate()?,
            token: new_token()?,
            passphrase: match &plan.passphrase {
                Some(p) => p.clone(),
                None => new_passphrase()?,
            },
            identity: ApiIdentity::generate()?,
        })
    }
}

/// One file of the overlay.
#[derive(Debug)]
pub struct OverlayFile {
    /// Path inside the overlay (and, with a leading `/`, on the router).
    pub path: &'static str,
    /// What it is, for a person.
    pub what: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// The rendered enrolment.
#[derive(Debug)]
pub struct Enrollment {
    /// The overlay's files, in the order they are written (a key before its certificate).
    pub files: Vec<OverlayFile>,
    /// The `[Peer]` stanza for the controller's WireGuard configuration.
    pub controller_peer: String,
    /// The router's entry for the inventory's `routers:` list (YAML).
    pub inventory_entry: String,
    /// The API certificate's SHA-256, to pin.
    pub fingerprint: String,
    /// The router's WireGuard public key.
    pub public_key: String,
}

/// A UCI value, single-quoted as `uci export` quotes (`'` becomes `'\''`).
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// `/etc/config/matador`: the shipped config's choices (netifd radio, kernel WireGuard,
/// captures in RAM), the management tunnel as netifd's `mgmt`, one access point. Written
/// here, not with the daemon's renderer: the host depends on `matador-api`, never on the
/// daemon (DESIGN.md); the tests read it back with the daemon's own parser.
pub fn uci_config(plan: &Plan, secrets: &Secrets) -> String {
    let mut out = String::from(
        "# /etc/config/matador, written by `matador-host router enroll` (every option:\n\
         # openwrt/matador/files/matador.config and docs/router.md).\n\n\
         config router 'main'\n\t# 1: procd starts the daemon on boot.\n\toption enabled '1'\n",
    );
    let mut option = |key: &str, value: &str| {
        let _ = writeln!(out, "\toption {key} {}", quote(value));
    };
    option("router", &plan.name);
    option("management", &plan.address.to_string());
    option("api_port", &API_PORT.to_string());
    option("token_file", TOKEN_FILE);
    option("state_dir", STATE_DIR);
    option("run_dir", "/var/run/matador");
    option("uplink", &plan.uplink);
    option("radio", "uci");
    option("wireguard", "kernel");
    option("capture_dir", "/tmp/matador/captures");
    option("capture_file_mib", "16");
    option("capture_total_mib", "64");
    option("capture_min_free_mib", "16");
    option("management_interface", MGMT_INTERFACE);
    if let Some(r) = &plan.at_rest_recipient {
        option("at_rest_recipient", r);
    }
    out.push_str(
        "\n# The phone's access point (a change here also goes into the host's inventory\n\
         # entry): interface is the radio's (netifd: phyN-apM), subnet RFC 1918. Vantage\n\
         # nodes are set over the API by the campaign.\n",
    );
    let _ = writeln!(out, "config ap\n\toption name {}", quote(&plan.name));
    let mut option = |key: &str, value: &str| {
        let _ = writeln!(out, "\toption {key} {}", quote(value));
    };
    option("ssid", &plan.ssid);
    option("passphrase", &secrets.passphrase);
    option("interface", &plan.ap_interface);
    option("subnet", &plan.ap_subnet.to_string());
    option("country", &plan.country);
    out
}

/// `mgmt.conf`: the router's side of the management tunnel (wg-quick, what 95-matador-mgmt reads).
fn mgmt_conf(plan: &Plan, secrets: &Secrets) -> String {
    format!(
        "# Management tunnel of MATAdOR router {name}, written by `matador-host router enroll`.\n\
         # First boot (95-matador-mgmt) makes it netifd's WireGuard interface `mgmt`: the router\n\
         # dials the controller and keeps the tunnel open through NAT. Private: keep it so.\n\
         [Interface]\n\
         PrivateKey = {private}\n\
         Address = {address}/32\n\
         \n\
         [Peer]\n\
         # the controller\n\
         PublicKey = {controller}\n\
         Endpoint = {endpoint}\n\
         AllowedIPs = {subnet}\n\
         PersistentKeepalive = 25\n",
        name = plan.name,
        private = secrets.wg.private_key,
        address = plan.address,
        controller = plan.controller_public_key,
        endpoint = plan.controller_endpoint,
        subnet = plan.controller_subnet,
    )
}

/// The stanza the controller adds for this router (no endpoint: the router dials in).
fn controller_peer(plan: &Plan, secrets: &Secrets) -> String {
    format!(
        "# MATAdOR router {}\n[Peer]\nPublicKey = {}\nAllowedIPs = {}/32\n",
        plan.name, secrets.wg.public_key, plan.address
    )
}

/// A YAML scalar: JSON's double-quoted string is YAML's too.
fn yaml(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The router's inventory entry (docs/campaigns.md), one item of `routers:`.
fn inventory_entry(plan: &Plan, secrets: &Secrets, token_file: &Path) -> String {
    let mut out = format!(
        "# {}: enrolled by `matador-host router enroll`; reached through the management tunnel.\n",
        plan.name
    );
    let _ = writeln!(out, "- name: {}", yaml(&plan.name));
    let _ = writeln!(out, "  api: {}", yaml(&plan.api()));
    let _ = writeln!(out, "  token_file: {}", yaml(&token_file.to_string_lossy()));
    let _ = writeln!(
        out,
        "  fingerprint: {}",
        yaml(&secrets.identity.fingerprint())
    );
    let _ = writeln!(out, "  ap: {}", yaml(&plan.name));
    let _ = writeln!(
        out,
        "  wifi: {{ ssid: {}, passphrase: {} }}",
        yaml(&plan.ssid),
        yaml(&secrets.passphrase)
    );
    out
}

/// Renders everything; `out` is the overlay directory as the host will name it (absolute).
pub fn render(plan: &Plan, secrets: &Secrets, out: &Path) -> Result<Enrollment> {
    let config = uci_config(plan, secrets);
    let fingerprint = secrets.identity.fingerprint();
    let file = |path, what, bytes: Vec<u8>| OverlayFile { path, what, bytes };
    let files = vec![
        file(
            "etc/config/matador",
            "the router's configuration",
            config.into_bytes(),
        ),
        file(
            "etc/matador/token",
            "the API token",
            format!("{}\n", secrets.token).into_bytes(),
        ),
        file(
            "etc/matador/mgmt.conf",
            "the management tunnel (wg-quick)",
            mgmt_conf(plan, secrets).into_bytes(),
        ),
        file(
            "etc/matador/state/api-key.der",
            "the API certificate's key",
            secrets.identity.key_der.clone(),
        ),
        file(
            "etc/matador/state/api-cert.der",
            "the API certificate (pinned)",
            secrets.identity.cert_der.clone(),
        ),
        file(
            "etc/matador/state/api-fingerprint",
            "its SHA-256",
            format!("{fingerprint}\n").into_bytes(),
        ),
    ];
    Ok(Enrollment {
        files,
        controller_peer: controller_peer(plan, secrets),
        inventory_entry: inventory_entry(plan, secrets, &out.join("etc/matador/token")),
        fingerprint,
        public_key: secrets.wg.public_key.clone(),
    })
}

/// The host-side file next to the overlay (`routers/zrh` → `routers/zrh.inventory.yaml`):
/// outside it, so that it does not go into the image.
pub fn inventory_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".inventory.yaml");
    out.with_file_name(name)
}

/// Refuses an existing, non-empty `out` unless `force`: new keys would lock out the host and
/// the controller from a router flashed with the old ones.
pub fn check_out(out: &Path, force: bool) -> Result<()> {
    let empty = match fs::read_dir(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("--out {}", out.display())),
        Ok(mut entries) => entries.next().is_none(),
    };
    match empty || force {
        true => Ok(()),
        false => bail!(
            "--out {} already exists: enrolling again makes new keys, token and certificate, \
             so a router flashed from it would no longer match the controller's peer entry and \
             the host's pinned fingerprint. Pass --force to replace them (and flash the router \
             again), or choose another --out",
            out.display()
        ),
    }
}

/// Creates `dir` with `mode` if it is missing (whatever the umask: ImageBuilder copies the
/// overlay's modes into the image, and `/etc` must stay world-readable).
fn make_dir(dir: &Path, mode: u32) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", dir.display()))
}

/// Writes the overlay into `out` and the inventory entry next to it, each file atomically
/// and owner-only.
pub fn write(enrollment: &Enrollment, out: &Path) -> Result<PathBuf> {
    // The overlay holds secrets; inside it, the directories are as on the router.
    make_dir(out, 0o700)?;
    for (dir, mode) in [
        ("etc", 0o755),
        ("etc/config", 0o755),
        ("etc/matador", 0o700),
        ("etc/matador/state", 0o700),
    ] {
        make_dir(&out.join(dir), mode)?;
    }
    let put = |path: &Path, bytes: &[u8]| -> Result<()> {
        matador_lab::atomic::write_private_atomically(path, bytes)
            .with_context(|| format!("writing {}", path.display()))
    };
    for f in &enrollment.files {
        put(&out.join(f.path), &f.bytes)?;
    }
    let inventory = inventory_path(out);
    put(&inventory, enrollment.inventory_entry.as_bytes())?;
    Ok(inventory)
}
