//! The app under test: its UID from the phone, force-stopped, and started clean with the
//! focus read back from `dumpsys window`.

use super::super::error::PhoneError;
use super::super::parse::{focused_component, package_uid, printed_error};
use super::super::shell::{quote, wait_for, Clock, Shell};
use super::Timing;

const STEP: &str = "app";

/// The app's UID as the phone says (`pm list packages -U`), else the spec's; an app the
/// phone does not have is an error.
pub fn uid(shell: &mut dyn Shell, package: &str, fallback: Option<u32>) -> Result<u32, PhoneError> {
    let out = shell.shell(&format!("pm list packages -U {}", quote(package)))?;
    if let Some(uid) = package_uid(&out, package) {
        return Ok(uid);
    }
    let installed = out
        .lines()
        .any(|l| l.split_whitespace().next() == Some(&format!("package:{package}")));
    match (installed, fallback) {
        (true, Some(uid)) => Ok(uid),
        (true, None) => Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!("the phone lists {package} without a UID; give `uid` in the app spec"),
        }),
        (false, _) => Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!("{package} is not installed on the phone"),
        }),
    }
}

/// Force-stops the app (nothing of it runs until it is started).
pub fn stop(shell: &mut dyn Shell, package: &str) -> Result<(), PhoneError> {
    shell.shell(&format!("am force-stop {}", quote(package)))?;
    Ok(())
}

/// Checks, with one read, that `package` still has the focus: a phone that rebooted or lost
/// its app during a measurement shows the launcher or nothing.
pub fn in_front(shell: &mut dyn Shell, package: &str) -> Result<(), PhoneError> {
    let windows = shell.shell("dumpsys window")?;
    match focused_component(&windows) {
        Some(c) if c.starts_with(&format!("{package}/")) => Ok(()),
        Some(c) => Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!("{package} lost the focus to {c}"),
        }),
        None => Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!("{package} lost the focus; no window has it"),
        }),
    }
}

/// Starts `package/activity` clean (force-stopped first) and waits until it has the focus;
/// the Unix time just before the start.
pub fn start(
    shell: &mut dyn Shell,
    clock: &dyn Clock,
    package: &str,
    activity: &str,
    timing: &Timing,
) -> Result<f64, PhoneError> {
    stop(shell, package)?;
    let component = format!("{package}/{activity}");
    let command = format!("am start -n {}", quote(&component));
    let launched = clock.now();
    let out = shell.shell(&command)?;
    if let Some(e) = printed_error(&out) {
        return Err(PhoneError::Unexpected {
            command,
            problem: e.to_string(),
        });
    }
    let prefix = format!("{package}/");
    wait_for(clock, "app in front", timing.app_focus, timing.poll, || {
        let windows = shell.shell("dumpsys window")?;
        Ok(match focused_component(&windows) {
            Some(c) if c.starts_with(&prefix) => Ok(()),
            Some(c) => Err(format!("{c} has the focus")),
            None => Err("no window has the focus".to_string()),
        })
    })?;
    Ok(launched)
}
