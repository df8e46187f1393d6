//! The real phone side: `adb_client` through the adb server (USB phones, and phones the
//! server has `connect`ed) or straight to a phone over TCP. These calls block: async code
//! runs them through [`super::handle::Phone`], on blocking threads.

use super::error::PhoneError;
use super::shell::{check_png, Shell};
use adb_client::server::{ADBServer, DeviceState};
use adb_client::server_device::ADBServerDevice;
use adb_client::tcp::ADBTcpDevice;
use adb_client::ADBDeviceExt;
use serde::Serialize;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Most output read from a text command (`dumpsys window` on a busy phone is ~1 MB).
pub const MAX_TEXT_OUTPUT: usize = 8 * 1024 * 1024;
/// Most bytes read for a screenshot (a 1440x3200 PNG is a few MB).
pub const MAX_SCREENSHOT: usize = 64 * 1024 * 1024;
/// The adb server's default port.
pub const DEFAULT_SERVER_PORT: u16 = 5037;
/// How long a newly `connect`ed phone may take to become ready (authorisation).
const CONNECT_WAIT: Duration = Duration::from_secs(15);

/// An adb server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdbServerAddr {
    /// Its address.
    pub addr: SocketAddrV4,
    /// The `adb` program `adb_client` runs (`adb start-server`) when the server is on this
    /// host; `None` for `adb` on the PATH.
    pub adb_bin: Option<String>,
}

impl AdbServerAddr {
    /// The server on this host at `ANDROID_ADB_SERVER_PORT` or 5037, as `adb` finds it.
    pub fn local_default() -> AdbServerAddr {
        let port = std::env::var("ANDROID_ADB_SERVER_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(DEFAULT_SERVER_PORT);
        AdbServerAddr {
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
            adb_bin: None,
        }
    }

    fn server(&self) -> ADBServer {
        ADBServer::new_from_path(self.addr, self.adb_bin.clone())
    }
}

/// How to reach one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdbTarget {
    /// Through the adb server, by serial.
    Server {
        /// The server.
        server: AdbServerAddr,
        /// The phone's serial.
        serial: String,
        /// Ask the server to connect to `serial` (an `IPv4:PORT`) first, as `adb connect`.
        connect: bool,
    },
    /// Straight to the phone's adbd over TCP, authenticating with this private key.
    Direct {
        /// The phone's address.
        address: SocketAddr,
        /// The adb private key (as `~/.android/adbkey`), authorised on the phone.
        key: PathBuf,
    },
}

/// One phone as the adb server lists it, with what it says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// ADB serial.
    pub serial: String,
    /// `device`, `unauthorized`, `offline`, …
    pub state: String,
    /// `ro.product.model`, for a ready phone.
    pub model: Option<String>,
    /// `ro.build.version.release`, for a ready phone.
    pub android: Option<String>,
}

fn adb_err(e: adb_client::RustADBError) -> PhoneError {
    PhoneError::Adb(e.to_string())
}

/// The phones the server knows, each ready one asked for its model and Android version.
pub fn list_devices(server: &AdbServerAddr) -> Result<Vec<DeviceInfo>, PhoneError> {
    let devices = server.server().devices().map_err(adb_err)?;
    let mut out = Vec::new();
    for d in devices {
        let ready = d.state == DeviceState::Device;
        let mut info = DeviceInfo {
            serial: d.identifier.clone(),
            state: d.state.to_string(),
            model: None,
            android: None,
        };
        if ready {
            let mut shell = AdbShell::from_server(server, &d.identifier);
            info.model = shell.getprop("ro.product.model").ok();
            info.android = shell.getprop("ro.build.version.release").ok();
        }
        out.push(info);
    }
    Ok(out)
}

/// Asks the server to connect to a phone over TCP (`adb connect`). adb answers "failed to
/// authenticate" while the phone is still deciding on our key (a real phone shows the "Allow
/// USB debugging?" prompt then); the connection stands and the phone appears in `list` as
/// `unauthorized`, then `device` — so that answer is not an error here.
pub fn connect(server: &AdbServerAddr, address: SocketAddrV4) -> Result<(), PhoneError> {
    // adb_client starts the server when none answers; two phones' threads doing that at
    // once make the second `adb start-server` fail loudly ("Address already in use").
    static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    match server.server().connect_device(address) {
        Err(e) if e.to_string().contains("failed to authenticate") => {
            tracing::info!(%address, "adb: the phone has not accepted our key yet; check `phone list`");
            Ok(())
        }
        other => other.map_err(adb_err),
    }
}

/// What one command printed, and how it ended when the transport says (shell v2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawOutput {
    /// Standard output (over a plain TCP shell, standard error too).
    pub stdout: Vec<u8>,
    /// Standard error (shell v2 only).
    pub stderr: Vec<u8>,
    /// Exit code, when the transport reports one; adb_client 3.2.3 never does (it reads the
    /// shell v2 exit packet, then returns `None` when the stream ends), so the callers
    /// judge commands by their output.
    pub code: Option<u8>,
}

/// A connection to one phone's shell.
pub struct AdbShell {
    device: Box<dyn ADBDeviceExt + Send>,
}

impl std::fmt::Debug for AdbShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdbShell")
    }
}

impl AdbShell {
    fn from_server(server: &AdbServerAddr, serial: &str) -> AdbShell {
        AdbShell {
            device: Box::new(ADBServerDevice::new(serial.to_string(), Some(server.addr))),
        }
    }

    /// Opens the phone; through the server only once the server lists it as ready.
    pub fn open(target: &AdbTarget) -> Result<AdbShell, PhoneError> {
        match target {
            AdbTarget::Direct { address, key } => {
                let device =
                    ADBTcpDevice::new_with_custom_private_key(*address, key).map_err(adb_err)?;
                Ok(AdbShell {
                    device: Box::new(device),
                })
            }
            AdbTarget::Server {
                server,
                serial,
                connect: wants_connect,
            } => {
                if *wants_connect {
                    let addr: SocketAddrV4 = serial.parse().map_err(|_| PhoneError::NotReady {
                        serial: serial.clone(),
                        state: "not an IPv4:PORT to connect to".into(),
                    })?;
                    connect(server, addr)?;
                    match wait_ready(server, serial, CONNECT_WAIT) {
                        // adb keeps a TCP phone that went away (crash, reboot, network) as
                        // `offline` and never dials it again: drop it and connect anew.
                        Err(PhoneError::NotReady { state, .. }) if state == "offline" => {
                            tracing::info!(%serial, "adb: the phone is offline; connecting again");
                            let _ = server.server().disconnect_device(addr);
                            connect(server, addr)?;
                            wait_ready(server, serial, CONNECT_WAIT)?;
                        }
                        other => other?,
                    }
                } else {
                    wait_ready(server, serial, Duration::ZERO)?;
                }
                Ok(AdbShell::from_server(server, serial))
            }
        }
    }

    /// Runs a command, reading at most `limit` bytes of output.
    pub fn run(&mut self, command: &str, limit: usize) -> Result<RawOutput, PhoneError> {
        let mut stdout = Capped::new(limit);
        let mut stderr = Capped::new(limit);
        let result = self
            .device
            .shell_command(&command, Some(&mut stdout), Some(&mut stderr));
        if stdout.overflow || stderr.overflow {
            return Err(PhoneError::TooMuchOutput {
                command: command.to_string(),
                limit,
            });
        }
        let code = result.map_err(adb_err)?;
        Ok(RawOutput {
            stdout: stdout.buf,
            stderr: stderr.buf,
            code,
        })
    }

    /// Copies `bytes` to `path` on the phone (adb's `sync:` SEND, as `adb push` does).
    pub fn push(&mut self, bytes: &[u8], path: &str) -> Result<(), PhoneError> {
        let mut reader = bytes;
        self.device.push(&mut reader, &path).map_err(adb_err)
    }

    fn getprop(&mut self, name: &str) -> Result<String, PhoneError> {
        Ok(self.shell(&format!("getprop {name}"))?.trim().to_string())
    }
}

/// Waits up to `wait` for the server to list `serial` as a ready device.
fn wait_ready(server: &AdbServerAddr, serial: &str, wait: Duration) -> Result<(), PhoneError> {
    let deadline = Instant::now() + wait;
    loop {
        let devices = server.server().devices().map_err(adb_err)?;
        let state = devices
            .iter()
            .find(|d| d.identifier == serial)
            .map(|d| d.state.clone());
        if state == Some(DeviceState::Device) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(PhoneError::NotReady {
                serial: serial.to_string(),
                state: state.map_or_else(|| "not on the adb server".to_string(), |s| s.to_string()),
            });
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

impl Shell for AdbShell {
    fn shell(&mut self, command: &str) -> Result<String, PhoneError> {
        let out = self.run(command, MAX_TEXT_OUTPUT)?;
        match out.code {
            Some(code) if code != 0 => {
                let text = if out.stderr.is_empty() {
                    &out.stdout
                } else {
                    &out.stderr
                };
                let text = String::from_utf8_lossy(&text[..text.len().min(500)]);
                Err(PhoneError::Failed {
                    command: command.to_string(),
                    code,
                    output: text.trim().to_string(),
                })
            }
            _ => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        }
    }

    fn screencap(&mut self) -> Result<Vec<u8>, PhoneError> {
        // `shell_command`, not `exec`: adb_client's exec drops output that arrives early.
        let out = self.run("screencap -p", MAX_SCREENSHOT)?;
        check_png(out.stdout)
    }
}

/// A writer that refuses more than `limit` bytes: phones' replies are untrusted.
struct Capped {
    buf: Vec<u8>,
    limit: usize,
    overflow: bool,
}

impl Capped {
    fn new(limit: usize) -> Capped {
        Capped {
            buf: Vec::new(),
            limit,
            overflow: false,
        }
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.overflow = true;
            return Err(std::io::Error::other("output limit reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped() {
        let mut w = Capped::new(4);
        assert!(w.write_all(b"abc").is_ok());
        assert!(w.write_all(b"de").is_err());
        assert!(w.overflow);
        assert_eq!(w.buf, b"abc");
    }
}
