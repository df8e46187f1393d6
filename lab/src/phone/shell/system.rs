//! System commands: `getprop`, `settings`, `cmd location`, `logcat`, `reboot`, and the few
//! file and utility commands a host script leans on (`cat`, `ls`, `sleep`).

use super::Output;
use crate::phone::device::Phone;
use crate::phone::lifecycle;
use crate::phone::wifi;
use std::sync::Arc;
use std::time::Duration;

/// Longest `sleep` the emulated shell honours (a host mistake must not hang a connection).
const MAX_SLEEP: Duration = Duration::from_secs(60);

fn props(phone: &Phone) -> Vec<(&'static str, String)> {
    let booted = if phone.state().rebooting { "0" } else { "1" };
    vec![
        ("gsm.sim.state", "ABSENT".into()),
        ("persist.sys.timezone", "UTC".into()),
        (
            "ro.build.fingerprint",
            "matador/lab/emu64:14/UQ1A.240105.004/1:user/release-keys".into(),
        ),
        ("ro.build.version.release", "14".into()),
        ("ro.build.version.sdk", "34".into()),
        ("ro.product.cpu.abi", "x86_64".into()),
        ("ro.product.device", "emu64".into()),
        ("ro.product.manufacturer", "MATAdOR".into()),
        ("ro.product.model", phone.role.model.clone()),
        ("ro.product.name", "matador_lab".into()),
        ("ro.serialno", phone.serial.clone()),
        ("sys.boot_completed", booted.into()),
        ("wifi.interface", "wlan0".into()),
    ]
}

/// `getprop [NAME]`: one value, or every property as `[name]: [value]`.
pub fn getprop(phone: &Phone, args: &[&str]) -> Output {
    let all = props(phone);
    match args.first() {
        Some(name) => Output::ok(format!(
            "{}\n",
            all.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        )),
        None => Output::ok(
            all.iter()
                .map(|(k, v)| format!("[{k}]: [{v}]\n"))
                .collect::<String>(),
        ),
    }
}

/// `settings get|put|delete|list NAMESPACE …`, with the side effects the host relies on:
/// airplane mode turns Wi-Fi off (and back on), location mode 0 turns location off.
pub fn settings(phone: &Arc<Phone>, args: &[&str]) -> Output {
    let usage = || {
        Output::fail(
            255,
            "usage: settings [--user N] get|put|delete|list NAMESPACE [KEY [VALUE]]\n",
        )
    };
    let args: Vec<&str> = match args {
        ["--user", _, rest @ ..] => rest.to_vec(),
        other => other.to_vec(),
    };
    let (Some(verb), Some(ns)) = (args.first(), args.get(1)) else {
        return usage();
    };
    if !matches!(*ns, "system" | "secure" | "global") {
        return Output::fail(255, format!("Invalid namespace '{ns}'\n"));
    }
    let key = |k: &str| (ns.to_string(), k.to_string());
    match (*verb, args.get(2), args.get(3)) {
        ("get", Some(k), None) => Output::ok(format!(
            "{}\n",
            phone
                .state()
                .settings
                .get(&key(k))
                .cloned()
                .unwrap_or_else(|| "null".into())
        )),
        ("put", Some(k), Some(v)) => {
            phone.state().settings.insert(key(k), v.to_string());
            if *ns == "global" && *k == "airplane_mode_on" {
                wifi::set_enabled(phone, *v == "0");
            }
            Output::quiet()
        }
        ("delete", Some(k), None) => {
            let removed = phone.state().settings.remove(&key(k)).is_some();
            Output::ok(format!("Deleted {} rows\n", u8::from(removed)))
        }
        ("list", None, None) => Output::ok(
            phone
                .state()
                .settings
                .iter()
                .filter(|((n, _), _)| n == ns)
                .map(|((_, k), v)| format!("{k}={v}\n"))
                .collect::<String>(),
        ),
        _ => usage(),
    }
}

/// `cmd location …`: location on/off and test providers (how the host fakes a location).
pub fn cmd_location(phone: &Phone, args: &[&str]) -> Output {
    let exception = |what: &str| {
        Output::fail(
            255,
            format!("Exception occurred while executing 'providers':\njava.lang.IllegalArgumentException: {what}\n"),
        )
    };
    let enabled = || {
        phone
            .state()
            .settings
            .get(&("secure".into(), "location_mode".into()))
            .map(|m| m != "0")
            .unwrap_or(true)
    };
    match args {
        ["is-location-enabled", ..] => Output::ok(format!("{}\n", enabled())),
        ["set-location-enabled", v, ..] => {
            let mode = if *v == "true" { "3" } else { "0" };
            phone.state().settings.insert(("secure".into(), "location_mode".into()), mode.into());
            Output::quiet()
        }
        ["providers", "add-test-provider", name, ..] => {
            phone.state().providers.entry(name.to_string()).or_default();
            Output::quiet()
        }
        ["providers", "remove-test-provider", name, ..] => match phone.state().providers.remove(*name) {
            Some(_) => Output::quiet(),
            None => exception(&format!("provider {name} does not exist")),
        },
        ["providers", "set-test-provider-enabled", name, v, ..] => {
            match phone.state().providers.get_mut(*name) {
                Some(p) => {
                    p.enabled = *v == "true";
                    Output::quiet()
                }
                None => exception(&format!("provider {name} does not exist")),
            }
        }
        ["providers", "set-test-provider-location", name, rest @ ..] => {
            let location = rest
                .windows(2)
                .find(|w| w[0] == "--location")
                .and_then(|w| w[1].split_once(','))
                .and_then(|(lat, lon)| Some((lat.trim().parse::<f64>().ok()?, lon.trim().parse::<f64>().ok()?)))
                .filter(|(lat, lon)| lat.abs() <= 90.0 && lon.abs() <= 180.0);
            let Some(location) = location else {
                return exception("--location LATITUDE,LONGITUDE is required");
            };
            match phone.state().providers.get_mut(*name) {
                Some(p) => {
                    p.location = Some(location);
                    Output::quiet()
                }
                None => exception(&format!("provider {name} does not exist")),
            }
        }
        _ => Output::fail(255, "Unknown command\nusage: cmd location providers add-test-provider|remove-test-provider|set-test-provider-enabled|set-test-provider-location PROVIDER …\n"),
    }
}

/// `logcat -d [filters]` prints the buffer, `logcat -c` clears it; following (no `-d`) is
/// not emulated, since a shell command here returns its whole output at once.
pub fn logcat(phone: &Phone, args: &[&str]) -> Output {
    if args.contains(&"-c") {
        phone.state().logcat.clear();
        return Output::quiet();
    }
    if !args.contains(&"-d") {
        return Output::fail(
            1,
            "logcat: the emulated phone only dumps (-d) or clears (-c) the log\n",
        );
    }
    match phone.state().logcat.dump(args) {
        Ok(text) => Output::ok(text),
        Err(e) => Output::fail(1, format!("{e}\n")),
    }
}

/// `reboot`: the phone goes down and comes back in the background.
pub fn reboot(phone: &Arc<Phone>) -> Output {
    let phone = phone.clone();
    std::thread::spawn(move || lifecycle::reboot(&phone));
    Output::quiet()
}

/// `sleep SECONDS` (bounded).
pub fn sleep(args: &[&str]) -> Output {
    match args
        .first()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
    {
        Some(s) => {
            std::thread::sleep(Duration::from_secs_f64(s).min(MAX_SLEEP));
            Output::quiet()
        }
        None => Output::fail(1, "sleep: invalid number\n"),
    }
}

/// `cat FILE…` under the phone's file root.
pub fn cat(phone: &Phone, args: &[&str]) -> Output {
    let mut out = Output::quiet();
    for a in args {
        match lifecycle::device_path(phone, a).and_then(|p| std::fs::read(p).ok()) {
            Some(bytes) => out.stdout.extend_from_slice(&bytes),
            None => {
                out.stderr
                    .extend_from_slice(format!("cat: {a}: No such file or directory\n").as_bytes());
                out.code = 1;
            }
        }
    }
    out
}

/// `ls [DIR]` under the phone's file root.
pub fn ls(phone: &Phone, args: &[&str]) -> Output {
    let dir = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .copied()
        .unwrap_or("/");
    let Some(entries) = lifecycle::device_path(phone, dir).and_then(|p| std::fs::read_dir(p).ok())
    else {
        return Output::fail(1, format!("ls: {dir}: No such file or directory\n"));
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Output::ok(names.into_iter().map(|n| n + "\n").collect::<String>())
}
