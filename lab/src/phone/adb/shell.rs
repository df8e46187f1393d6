//! The `shell:` and `exec:` services: raw (v1) output, shell protocol v2 packets, the interactive prompt.

use std::sync::Arc;

use super::message::MAX_PAYLOAD;
use super::stream::{Closed, StreamIo};
use super::{Device, ShellOutput};

/// Shell protocol v2 packet ids.
pub const ID_STDIN: u8 = 0;
/// Command output.
pub const ID_STDOUT: u8 = 1;
/// Command errors.
pub const ID_STDERR: u8 = 2;
/// Exit status, one byte.
pub const ID_EXIT: u8 = 3;
/// The host's stdin reached end of file.
pub const ID_CLOSE_STDIN: u8 = 4;
/// Terminal resized (ignored here).
pub const ID_WINDOW_SIZE_CHANGE: u8 = 5;
/// id (u8) and length (u32 LE).
const PACKET_HEADER: usize = 5;
/// Time before `exec:` output starts, like a phone starting a process.
const EXEC_LATENCY: std::time::Duration = std::time::Duration::from_millis(100);
/// Longest interactive input line; longer lines are cut.
const MAX_LINE: usize = 64 * 1024;

/// A parsed `shell[,arg…]:command` service request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellRequest {
    /// Shell protocol v2 framing (`v2` argument).
    pub v2: bool,
    /// The host asked for a terminal (`pty`, or no command and no `raw`).
    pub pty: bool,
    /// The command line; empty for an interactive shell.
    pub command: String,
}

/// Parses what follows "shell" in a service name, e.g. ",v2,TERM=xterm,raw:ls".
pub fn parse_shell(rest: &str) -> Option<ShellRequest> {
    let (args, command) = rest.split_once(':')?;
    if !(args.is_empty() || args.starts_with(',')) {
        return None;
    }
    let mut request = ShellRequest {
        v2: false,
        pty: command.is_empty(),
        command: command.to_string(),
    };
    // Unknown arguments (TERM=…, future ones) are ignored, as adbd does.
    for arg in args.split(',') {
        match arg {
            "v2" => request.v2 = true,
            "raw" => request.pty = false,
            "pty" => request.pty = true,
            _ => {}
        }
    }
    Some(request)
}

/// One shell protocol v2 packet.
pub fn packet(id: u8, data: &[u8]) -> Vec<u8> {
    let length = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(PACKET_HEADER + data.len());
    out.push(id);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// A v2 packet from the host claims more than the payload limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("shell packet of {0} bytes is too long")]
pub struct PacketTooLong(pub u32);

/// Reassembles v2 packets from stream data, whatever the WRTE boundaries.
#[derive(Debug, Default)]
pub struct PacketReader {
    buf: Vec<u8>,
}

impl PacketReader {
    /// Appends stream data.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole packet, `Ok(None)` if more data is needed.
    pub fn next_packet(&mut self) -> Result<Option<(u8, Vec<u8>)>, PacketTooLong> {
        let Some(header) = self.buf.get(..PACKET_HEADER) else {
            return Ok(None);
        };
        let id = header[0];
        let mut len = [0u8; 4];
        len.copy_from_slice(&header[1..PACKET_HEADER]);
        let announced = u32::from_le_bytes(len);
        let length = usize::try_from(announced)
            .ok()
            .filter(|&l| l <= MAX_PAYLOAD)
            .ok_or(PacketTooLong(announced))?;
        let Some(data) = self.buf.get(PACKET_HEADER..PACKET_HEADER + length) else {
            return Ok(None);
        };
        let data = data.to_vec();
        self.buf.drain(..PACKET_HEADER + length);
        Ok(Some((id, data)))
    }
}

/// Runs a command on the phone without blocking the connection's tasks.
async fn run(device: &Arc<dyn Device>, command: &str) -> ShellOutput {
    let device = Arc::clone(device);
    let command = command.to_string();
    tokio::task::spawn_blocking(move || device.run(&command))
        .await
        .unwrap_or_else(|e| ShellOutput {
            stdout: Vec::new(),
            stderr: format!("adb: command failed: {e}\n").into_bytes(),
            exit_code: 255,
        })
}

/// Output framing of one shell stream.
struct Shell {
    io: StreamIo,
    v2: bool,
    pty: bool,
    packets: PacketReader,
}

impl Shell {
    async fn emit(&mut self, id: u8, data: &[u8]) -> Result<(), Closed> {
        if data.is_empty() {
            return Ok(());
        }
        // A terminal on the host is in raw mode, so line ends need the carriage return.
        let data = if self.pty {
            data.iter()
                .flat_map(|&b| {
                    if b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![b]
                    }
                })
                .collect()
        } else {
            data.to_vec()
        };
        if !self.v2 {
            return self.io.write(&data).await;
        }
        let room = self.io.max_payload().saturating_sub(PACKET_HEADER).max(1);
        for chunk in data.chunks(room) {
            self.io.write_packet(packet(id, chunk)).await?;
        }
        Ok(())
    }

    async fn output(&mut self, out: &ShellOutput) -> Result<(), Closed> {
        if self.pty {
            // A terminal has one output: stderr goes where stdout goes.
            return self
                .emit(ID_STDOUT, &[&out.stdout[..], &out.stderr].concat())
                .await;
        }
        self.emit(ID_STDOUT, &out.stdout).await?;
        self.emit(ID_STDERR, &out.stderr).await
    }

    async fn exit(&mut self, code: u8) -> Result<(), Closed> {
        if self.v2 {
            self.io.write_packet(packet(ID_EXIT, &[code])).await?;
        }
        Ok(())
    }

    /// The next stdin bytes; `None` at end of input.
    async fn stdin(&mut self) -> Option<Vec<u8>> {
        if !self.v2 {
            return self.io.read().await;
        }
        loop {
            match self.packets.next_packet() {
                Ok(Some((ID_STDIN, data))) => return Some(data),
                Ok(Some((ID_CLOSE_STDIN, _))) | Err(_) => return None,
                // No real terminal to resize.
                Ok(Some((ID_WINDOW_SIZE_CHANGE, _))) => continue,
                Ok(Some(_)) => continue,
                Ok(None) => {}
            }
            let data = self.io.read().await?;
            self.packets.feed(&data);
        }
    }
}

/// Serves `shell…:` — one command, or an interactive prompt when the command is empty.
pub async fn serve_shell(request: ShellRequest, io: StreamIo, device: Arc<dyn Device>) {
    let mut shell = Shell {
        io,
        v2: request.v2,
        pty: request.pty,
        packets: PacketReader::default(),
    };
    let _ = if request.command.is_empty() {
        interactive(&mut shell, &device).await
    } else {
        let out = run(&device, &request.command).await;
        match shell.output(&out).await {
            Ok(()) => shell.exit(out.exit_code).await,
            Err(e) => Err(e),
        }
    };
    shell.io.close().await;
}

async fn interactive(shell: &mut Shell, device: &Arc<dyn Device>) -> Result<(), Closed> {
    let prompt = format!("{}:/ $ ", device.properties().device);
    let mut line = Vec::new();
    let mut after_cr = false;
    shell.emit(ID_STDOUT, prompt.as_bytes()).await?;
    while let Some(input) = shell.stdin().await {
        // A terminal does not echo by itself in raw mode; echo a whole chunk at once.
        let mut echo = Vec::new();
        for byte in input {
            // A terminal sends "\r", a pipe "\n", some hosts "\r\n": one line end each.
            let skip = byte == b'\n' && after_cr;
            after_cr = byte == b'\r';
            match byte {
                _ if skip => {}
                b'\r' | b'\n' => {
                    echo.push(b'\n');
                    if shell.pty {
                        shell.emit(ID_STDOUT, &std::mem::take(&mut echo)).await?;
                    }
                    let text = String::from_utf8_lossy(&std::mem::take(&mut line))
                        .trim()
                        .to_string();
                    if text == "exit" {
                        return shell.exit(0).await;
                    }
                    if !text.is_empty() {
                        let out = run(device, &text).await;
                        shell.output(&out).await?;
                    }
                    shell.emit(ID_STDOUT, prompt.as_bytes()).await?;
                }
                0x7f | 0x08 if shell.pty => {
                    let erased = line.pop().is_some();
                    if erased {
                        echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                _ if line.len() < MAX_LINE => {
                    line.push(byte);
                    echo.push(byte);
                }
                _ => {}
            }
        }
        if shell.pty {
            shell.emit(ID_STDOUT, &echo).await?;
        }
    }
    shell.exit(0).await
}

/// Serves `exec:` — the command's stdout only, byte for byte, then close.
pub async fn serve_exec(command: String, mut io: StreamIo, device: Arc<dyn Device>) {
    // adb_client's exec drops its session right after OPEN, and that drop reads (and
    // discards) whatever arrives in the next 20 ms while its reader thread waits. A real
    // phone takes longer than that to start a process, so give output the same latency.
    let (out, ()) = tokio::join!(run(&device, &command), tokio::time::sleep(EXEC_LATENCY));
    let _ = io.write(&out.stdout).await;
    io.close().await;
}
