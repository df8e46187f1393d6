//! The mapping between `/etc/config/matador` and `RouterConfig`: one `config router`
//! section, one `config ap` per access point, every option known, single and set once (the
//! YAML's strictness), defaults as in YAML; and the way back, `to_uci`.

use super::config::{
    default_country, default_management_interface, default_port, default_radio, default_wireguard,
    ApConfig, CaptureLimits, ManagementTunnel, Radio, RouterConfig, UploadConfig, WireguardBackend,
};
use super::uci::{err, is_name, quote, UciError, UciFile, UciOption, UciSection};
use crate::at_rest::AtRestConfig;
use crate::intercept::InterceptionConfig;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr;

/// The options `config router` takes. `enabled`, `log_level` and `uplink_network` are the
/// init script's (whether to start, `-v`/`-vv`, the netifd interface whose changes reload the
/// service); the daemon only checks their values.
const ROUTER_KEYS: [&str; 26] = [
    "enabled",
    "log_level",
    "uplink_network",
    "router",
    "management",
    "api_port",
    "token_file",
    "state_dir",
    "run_dir",
    "uplink",
    "radio",
    "wireguard",
    "capture_dir",
    "capture_file_mib",
    "capture_total_mib",
    "capture_min_free_mib",
    "management_interface",
    "management_tunnel",
    "upload_url",
    "upload_retry_min_s",
    "upload_retry_max_s",
    "at_rest_recipient",
    "interception_proxy",
    "interception_upstream_ca",
    "interception_port",
    "interception_ingress",
];
/// The options `config ap` takes (`name` when the AP's name cannot be the section's).
const AP_KEYS: [&str; 7] = [
    "name",
    "ssid",
    "passphrase",
    "interface",
    "subnet",
    "country",
    "vantage",
];

/// The options of one section, each checked to be known, single and set once.
struct Options<'a> {
    section: &'a UciSection,
}

impl<'a> Options<'a> {
    fn new(section: &'a UciSection, known: &[&str]) -> Result<Options<'a>, UciError> {
        for (i, o) in section.options.iter().enumerate() {
            let kind = &section.kind;
            if !known.contains(&o.key.as_str()) {
                let known = known.join(", ");
                let m = format!(
                    "unknown option `{}` in `config {kind}` (known: {known})",
                    o.key
                );
                return err(o.line, m);
            }
            if o.list {
                let m = format!(
                    "`list {}` takes one value here: write `option {}`",
                    o.key, o.key
                );
                return err(o.line, m);
            }
            if let Some(first) = section.options[..i].iter().find(|f| f.key == o.key) {
                let m = format!(
                    "option `{}` set twice (first on line {})",
                    o.key, first.line
                );
                return err(o.line, m);
            }
        }
        Ok(Options { section })
    }

    fn get(&self, key: &str) -> Option<&'a UciOption> {
        self.section.options.iter().find(|o| o.key == key)
    }

    /// The option's value parsed as `T` (`what` says what it should be), if it is set.
    fn parsed<T: FromStr>(&self, key: &str, what: &str) -> Result<Option<T>, UciError> {
        let Some(o) = self.get(key) else {
            return Ok(None);
        };
        match o.value.parse() {
            Ok(v) => Ok(Some(v)),
            Err(_) => err(
                o.line,
                format!("option `{key}`: `{}` is not {what}", o.value),
            ),
        }
    }

    fn required<T: FromStr>(&self, key: &str, what: &str) -> Result<T, UciError> {
        let kind = &self.section.kind;
        self.parsed(key, what)?.map_or_else(
            || {
                err(
                    self.section.line,
                    format!("`config {kind}` has no `option {key}`"),
                )
            },
            Ok,
        )
    }

    /// A boolean as UCI writes them (`1`/`0`, `yes`/`no`, `on`/`off`, `true`/`false`), if set.
    fn flag(&self, key: &str) -> Result<Option<bool>, UciError> {
        let Some(o) = self.get(key) else {
            return Ok(None);
        };
        match o.value.as_str() {
            "1" | "yes" | "on" | "true" => Ok(Some(true)),
            "0" | "no" | "off" | "false" => Ok(Some(false)),
            other => err(o.line, format!("option `{key}`: `{other}` is not 0 or 1")),
        }
    }

    /// A path that may be left out or empty.
    fn path(&self, key: &str) -> Option<PathBuf> {
        self.get(key)
            .filter(|o| !o.value.is_empty())
            .map(|o| PathBuf::from(&o.value))
    }
}

fn radio_name(r: Radio) -> &'static str {
    match r {
        Radio::Hostapd => "hostapd",
        Radio::Uci => "uci",
        Radio::Simulated => "simulated",
    }
}

fn wireguard_name(w: WireguardBackend) -> &'static str {
    match w {
        WireguardBackend::Kernel => "kernel",
        WireguardBackend::Userspace => "userspace",
    }
}

/// The value of an enum option by its name (the same names as in YAML).
fn choice<T: Copy>(
    o: &Options,
    key: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Option<T>, UciError> {
    let Some(opt) = o.get(key) else {
        return Ok(None);
    };
    if let Some(v) = all.iter().find(|v| name(**v) == opt.value) {
        return Ok(Some(*v));
    }
    let names: Vec<_> = all.iter().map(|v| name(*v)).collect();
    let m = format!(
        "option `{key}`: `{}` is none of {}",
        opt.value,
        names.join(", ")
    );
    err(opt.line, m)
}

fn ap(section: &UciSection) -> Result<ApConfig, UciError> {
    let o = Options::new(section, &AP_KEYS)?;
    let Some(name) = o.parsed("name", "a name")?.or_else(|| section.name.clone()) else {
        return err(
            section.line,
            "an access point needs a name: `config ap '<name>'`, or `option name`",
        );
    };
    Ok(ApConfig {
        name,
        ssid: o.required("ssid", "an SSID")?,
        passphrase: o.required("passphrase", "a passphrase")?,
        interface: o.required("interface", "an interface")?,
        subnet: o.required("subnet", "an IPv4 subnet like 10.77.1.0/24")?,
        country: o
            .parsed("country", "a country code")?
            .unwrap_or_else(default_country),
        vantage: o.path("vantage"),
        ingress: None,
    })
}

/// Maps a parsed `/etc/config/matador` onto the configuration (not yet checked: see
/// `RouterConfig::parse_uci`).
pub fn to_config(file: &UciFile) -> Result<RouterConfig, UciError> {
    if let Some((package, line)) = file.package.as_ref().filter(|(p, _)| p != "matador") {
        return err(
            *line,
            format!("`package {package}`: this is matador's configuration"),
        );
    }
    let (mut router, mut aps) = (None::<&UciSection>, Vec::new());
    for s in &file.sections {
        match s.kind.as_str() {
            "router" => {
                if let Some(first) = router.replace(s) {
                    return err(
                        s.line,
                        format!(
                            "a second `config router` (the first is on line {})",
                            first.line
                        ),
                    );
                }
            }
            "ap" => aps.push(ap(s)?),
            other => {
                return err(
                    s.line,
                    format!("unknown section type `{other}` (matador has `router` and `ap`)"),
                )
            }
        }
    }
    let Some(section) = router else {
        return err(0, "no `config router` section");
    };
    if aps.is_empty() {
        return err(
            0,
            "no `config ap` section: the router needs at least one access point",
        );
    }
    let o = Options::new(section, &ROUTER_KEYS)?;
    // Read by the init script, not the daemon: only checked here.
    o.flag("enabled")?;
    if let Some(l) = o.get("log_level") {
        if !["info", "debug", "trace"].contains(&l.value.as_str()) {
            let m = format!(
                "option `log_level`: `{}` is none of info, debug, trace",
                l.value
            );
            return err(l.line, m);
        }
    }
    if let Some(n) = o.get("uplink_network").filter(|n| !is_name(&n.value)) {
        let m = format!(
            "option `uplink_network`: `{}` is not a netifd interface name",
            n.value
        );
        return err(n.line, m);
    }
    let mib = |key: &str, default: u64| -> Result<u64, UciError> {
        Ok(o.parsed(key, "a whole number of MiB")?.unwrap_or(default))
    };
    let defaults = CaptureLimits::default();
    Ok(RouterConfig {
        router: o.required("router", "a name")?,
        management: o.required("management", "an IP address")?,
        api_port: o
            .parsed("api_port", "a port number")?
            .unwrap_or_else(default_port),
        token_file: o.required("token_file", "a path")?,
        state_dir: o.required("state_dir", "a path")?,
        run_dir: o.required("run_dir", "a path")?,
        uplink: o.required("uplink", "an interface")?,
        radio: choice(
            &o,
            "radio",
            &[Radio::Hostapd, Radio::Uci, Radio::Simulated],
            radio_name,
        )?
        .unwrap_or_else(default_radio),
        wireguard: choice(
            &o,
            "wireguard",
            &[WireguardBackend::Kernel, WireguardBackend::Userspace],
            wireguard_name,
        )?
        .unwrap_or_else(default_wireguard),
        aps,
        capture: CaptureLimits {
            dir: o.path("capture_dir"),
            file_mib: mib("capture_file_mib", defaults.file_mib)?,
            total_mib: mib("capture_total_mib", defaults.total_mib)?,
            min_free_mib: mib("capture_min_free_mib", defaults.min_free_mib)?,
        },
        management_tunnel: match (o.get("management_interface"), o.path("management_tunnel")) {
            (None, None) => None,
            (interface, config) => Some(ManagementTunnel {
                interface: interface
                    .map(|i| i.value.clone())
                    .unwrap_or_else(default_management_interface),
                config,
            }),
        },
        upload: match o.get("upload_url") {
            None => None,
            Some(url) => Some(UploadConfig {
                url: url.value.clone(),
                retry_min_s: o
                    .parsed("upload_retry_min_s", "a whole number of seconds")?
                    .unwrap_or(2),
                retry_max_s: o
                    .parsed("upload_retry_max_s", "a whole number of seconds")?
                    .unwrap_or(300),
            }),
        },
        at_rest: o.get("at_rest_recipient").map(|r| AtRestConfig {
            recipient: r.value.clone(),
        }),
        interception: interception(&o)?,
    })
}

/// The `interception` section from its four options (any of them makes it; the others
/// take their defaults).
fn interception(o: &Options) -> Result<Option<InterceptionConfig>, UciError> {
    let keys = [
        "interception_proxy",
        "interception_upstream_ca",
        "interception_port",
        "interception_ingress",
    ];
    if keys.iter().all(|k| o.get(k).is_none()) {
        return Ok(None);
    }
    let d = InterceptionConfig::default();
    Ok(Some(InterceptionConfig {
        proxy: o.path("interception_proxy"),
        upstream_ca: o.path("interception_upstream_ca").unwrap_or(d.upstream_ca),
        port: o
            .parsed("interception_port", "a port number")?
            .unwrap_or(d.port),
        ingress: o.flag("interception_ingress")?.unwrap_or(d.ingress),
    }))
}

/// The configuration as `/etc/config/matador` (what `to_config` reads back unchanged).
pub fn to_uci(c: &RouterConfig) -> String {
    let mut out = String::from("package matador\n\nconfig router 'main'\n");
    let option = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "\toption {key} {}", quote(value));
    };
    let path = |p: &PathBuf| p.to_string_lossy().into_owned();
    option(&mut out, "router", &c.router);
    option(&mut out, "management", &c.management.to_string());
    option(&mut out, "api_port", &c.api_port.to_string());
    option(&mut out, "token_file", &path(&c.token_file));
    option(&mut out, "state_dir", &path(&c.state_dir));
    option(&mut out, "run_dir", &path(&c.run_dir));
    option(&mut out, "uplink", &c.uplink);
    option(&mut out, "radio", radio_name(c.radio));
    option(&mut out, "wireguard", wireguard_name(c.wireguard));
    if let Some(dir) = &c.capture.dir {
        option(&mut out, "capture_dir", &path(dir));
    }
    option(
        &mut out,
        "capture_file_mib",
        &c.capture.file_mib.to_string(),
    );
    option(
        &mut out,
        "capture_total_mib",
        &c.capture.total_mib.to_string(),
    );
    option(
        &mut out,
        "capture_min_free_mib",
        &c.capture.min_free_mib.to_string(),
    );
    if let Some(m) = &c.management_tunnel {
        option(&mut out, "management_interface", &m.interface);
        if let Some(p) = &m.config {
            option(&mut out, "management_tunnel", &path(p));
        }
    }
    if let Some(u) = &c.upload {
        option(&mut out, "upload_url", &u.url);
        option(&mut out, "upload_retry_min_s", &u.retry_min_s.to_string());
        option(&mut out, "upload_retry_max_s", &u.retry_max_s.to_string());
    }
    if let Some(a) = &c.at_rest {
        option(&mut out, "at_rest_recipient", &a.recipient);
    }
    if let Some(i) = &c.interception {
        if let Some(p) = &i.proxy {
            option(&mut out, "interception_proxy", &path(p));
        }
        option(&mut out, "interception_upstream_ca", &path(&i.upstream_ca));
        option(&mut out, "interception_port", &i.port.to_string());
        if i.ingress {
            option(&mut out, "interception_ingress", "1");
        }
    }
    for ap in &c.aps {
        // A name UCI cannot take as a section name (`lab-a`) goes into `option name`.
        if is_name(&ap.name) {
            let _ = writeln!(out, "\nconfig ap {}", quote(&ap.name));
        } else {
            out.push_str("\nconfig ap\n");
            option(&mut out, "name", &ap.name);
        }
        option(&mut out, "ssid", &ap.ssid);
        option(&mut out, "passphrase", &ap.passphrase);
        option(&mut out, "interface", &ap.interface);
        option(&mut out, "subnet", &ap.subnet.to_string());
        option(&mut out, "country", &ap.country);
        if let Some(v) = &ap.vantage {
            option(&mut out, "vantage", &path(v));
        }
    }
    out
}
