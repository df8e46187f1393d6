//! Starting and stopping apps, rebooting, and the phone's file tree: the transitions that
//! shell commands and the ADB `reboot:` service share.

use super::apps::{self, AppCommand};
use super::device::Phone;
use super::logcat::Priority;
use super::{vpn, wifi};
use crate::topology::App;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long the phone is gone during a reboot.
const REBOOT_TIME: Duration = Duration::from_secs(2);

/// Creates the phone's file tree (`/sdcard`, `/data/local/tmp`, the user CA store) and
/// starts nothing else.
pub fn prepare_files(phone: &Phone) -> std::io::Result<()> {
    for d in [
        "sdcard/Download",
        "sdcard/Pictures",
        "data/local/tmp",
        "data/misc/adb",
        "data/misc/user/0/cacerts-added",
    ] {
        std::fs::create_dir_all(phone.files_root().join(d))?;
    }
    Ok(())
}

/// The host path of a device path, or `None` if it would leave the phone's file tree.
pub fn device_path(phone: &Phone, path: &str) -> Option<PathBuf> {
    let mut out = phone.files_root();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Brings `app` to the front, starting it if it is not running.
pub fn start_app(phone: &Arc<Phone>, app: &App) {
    let mut running = phone.running();
    if !running.contains_key(&app.name) {
        running.insert(app.name.clone(), apps::launch(phone, app));
    }
    drop(running);
    let mut s = phone.state();
    s.focused = Some(app.name.clone());
    s.screens.entry(app.name.clone()).or_default();
    s.logcat.log(
        1000,
        Priority::Info,
        "ActivityTaskManager",
        &format!("START u0 {{cmp={}}} from uid 2000", app.component()),
    );
}

/// Stops `app` (`am force-stop`): its connections close, it leaves the front.
pub fn stop_app(phone: &Phone, app: &App) {
    if let Some(r) = phone.running().remove(&app.name) {
        let _ = r.commands.send(AppCommand::Stop);
    }
    let mut s = phone.state();
    if s.focused.as_deref() == Some(app.name.as_str()) {
        s.focused = None;
    }
    s.logcat.log(
        1000,
        Priority::Info,
        "ActivityManager",
        &format!(
            "Force stopping {} appid={} user=0: from pid 0",
            app.package, app.uid
        ),
    );
}

/// Reboots: every app stops, Wi-Fi drops, the log and the screens clear; after a moment
/// the phone is back and rejoins its saved network; an always-on VPN comes back up.
pub fn reboot(phone: &Arc<Phone>) {
    phone.state().rebooting = true;
    for app in &phone.apps {
        stop_app(phone, app);
    }
    let tunnel = vpn::down(phone);
    wifi::disconnect(phone);
    std::thread::sleep(REBOOT_TIME);
    {
        let mut s = phone.state();
        s.logcat.clear();
        s.screens.clear();
        s.focused = None;
        s.last_action.clear();
        s.rebooting = false;
        s.logcat.log(0, Priority::Info, "boot", "boot completed");
    }
    let (enabled, airplane) = {
        let s = phone.state();
        let airplane = s
            .settings
            .get(&("global".into(), "airplane_mode_on".into()))
            .is_some_and(|v| v != "0");
        (s.wifi.enabled, airplane)
    };
    if enabled && !airplane {
        wifi::set_enabled(phone, true);
    }
    if let Some(name) = tunnel.filter(|_| !airplane) {
        let _ = vpn::up(phone, &name);
    }
}
