//! The phone's location: location on, and test providers (GPS, network) reporting the
//! vantage node's city, so apps that look at the location agree with the network.

use super::super::error::PhoneError;
use super::super::parse::printed_error;
use super::super::shell::Shell;
use super::Location;

const STEP: &str = "location";

/// Providers given the test location: apps read GPS or the network provider (the fused
/// provider builds on both).
pub const TEST_PROVIDERS: [&str; 2] = ["gps", "network"];

/// Runs a command that prints nothing on success; an error it prints is an error.
fn quiet(shell: &mut dyn Shell, command: &str) -> Result<(), PhoneError> {
    let out = shell.shell(command)?;
    match printed_error(&out) {
        Some(e) => Err(PhoneError::Unexpected {
            command: command.to_string(),
            problem: e.to_string(),
        }),
        None => Ok(()),
    }
}

/// Location on and every test provider at `at`; returns the providers set.
pub fn set(shell: &mut dyn Shell, at: Location) -> Result<Vec<String>, PhoneError> {
    // The shell must be allowed to mock locations; without it the provider commands below
    // fail with a SecurityException, which is reported there.
    if let Err(e) = quiet(
        shell,
        "appops set com.android.shell android:mock_location allow",
    ) {
        tracing::debug!("appops mock_location: {e}");
    }
    quiet(shell, "cmd location set-location-enabled true")?;
    let enabled = shell.shell("cmd location is-location-enabled")?;
    if enabled.trim() != "true" {
        return Err(PhoneError::NotVerified {
            step: STEP,
            problem: format!("is-location-enabled reads {:?}", enabled.trim()),
        });
    }
    let coords = format!("{:.6},{:.6}", at.lat, at.lon);
    for p in TEST_PROVIDERS {
        quiet(
            shell,
            &format!("cmd location providers add-test-provider {p}"),
        )?;
        quiet(
            shell,
            &format!("cmd location providers set-test-provider-enabled {p} true"),
        )?;
        quiet(
            shell,
            &format!("cmd location providers set-test-provider-location {p} --location {coords}"),
        )?;
    }
    Ok(TEST_PROVIDERS.iter().map(|p| p.to_string()).collect())
}

/// Removes the test providers (one that is already gone is fine).
pub fn clear(shell: &mut dyn Shell, providers: &[String]) -> Result<(), PhoneError> {
    for p in providers {
        let command = format!("cmd location providers remove-test-provider {p}");
        match shell.shell(&command) {
            Ok(out) if out.contains("does not exist") => {}
            Ok(out) => {
                if let Some(e) = printed_error(&out) {
                    return Err(PhoneError::Unexpected {
                        command,
                        problem: e.to_string(),
                    });
                }
            }
            Err(PhoneError::Failed { output, .. }) if output.contains("does not exist") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
