//! The edge of capture: an AF_PACKET socket (through `pnet_datalink`) read on its own thread,
//! each frame filtered, spooled and handed to the sink, until `stop`.
//!
//! Timestamps are the receive time read with `SystemTime::now()` as each frame comes out of the
//! socket (pnet exposes no kernel timestamp): they lag the wire by the scheduling delay, some
//! microseconds on an idle router, more under load, and they follow the wall clock (NTP steps
//! included).

use super::{CaptureConfig, CaptureError, CaptureReport, PhoneFilter, Spool};
use matador_probe::flows::{LinkType, Packet};
use pnet_datalink::{Channel, DataLinkReceiver, NetworkInterface};
use std::io::{self, ErrorKind};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Receives every kept frame (Ethernet) as it arrives, also after writing stopped at a cap; it
/// runs on the capture thread, so a slow sink shows up as `kernel_drops`.
pub type PacketSink = Box<dyn FnMut(&Packet<'_>) + Send>;

/// How long a read waits before the stop flag is looked at again.
const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// Room for the largest frame the kernel hands over (GSO super-frames reach 64 KiB and more).
const READ_BUFFER: usize = (256 << 10) + 256;
/// Socket receive queue asked for, so bursts are not dropped while a file is synced.
const RECEIVE_QUEUE: libc::c_int = 4 << 20;
/// Pause after a failed read, so a socket in error does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(50);

/// A capture running on its own thread; `stop` ends it and says what it wrote.
pub struct Capture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<CaptureReport>>,
}

impl Capture {
    /// Opens the interface (in the calling thread's network namespace) and the first file, and
    /// starts capturing.
    pub fn start(config: CaptureConfig, sink: PacketSink) -> Result<Capture, CaptureError> {
        let (rx, fd) = open_channel(&config)?;
        let spool = Spool::open(config.spool.clone(), &config.interface)?;
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            rx,
            fd,
            spool,
            filter: config.filter,
            snaplen: config.spool.snaplen as usize,
            link: config.spool.link,
            sink,
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("capture-{}", config.interface))
            .spawn(move || worker.run())
            .map_err(CaptureError::Thread)?;
        Ok(Capture {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops capturing, closes (and fsyncs) the files and reports.
    pub fn stop(mut self) -> Result<CaptureReport, CaptureError> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self
            .thread
            .take()
            .ok_or_else(|| CaptureError::Panicked("the capture was already stopped".into()))?;
        thread.join().map_err(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            CaptureError::Panicked(what)
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the capture thread owns.
struct Worker {
    rx: Box<dyn DataLinkReceiver>,
    fd: RawFd,
    spool: Spool,
    filter: PhoneFilter,
    snaplen: usize,
    link: LinkType,
    sink: PacketSink,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(mut self) -> CaptureReport {
        let (mut seen, mut kept, mut errors) = (0u64, 0u64, 0u64);
        while !self.stop.load(Ordering::Relaxed) {
            match self.rx.next() {
                Ok(frame) => {
                    let timestamp_ns = now_ns();
                    seen += 1;
                    if !self.filter.matches_link(self.link, frame) {
                        continue;
                    }
                    kept += 1;
                    let wire_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
                    let data = &frame[..frame.len().min(self.snaplen)];
                    self.spool.write(timestamp_ns, data, wire_len);
                    (self.sink)(&Packet {
                        timestamp_ns,
                        link: self.link,
                        wire_len,
                        data,
                    });
                }
                Err(e) if is_quiet(&e) => {}
                Err(e) => {
                    errors += 1;
                    if errors == 1 || errors.is_power_of_two() {
                        tracing::warn!(error = %e, errors, "capture read failed");
                    }
                    clear_socket_error(self.fd);
                    std::thread::sleep(ERROR_PAUSE);
                }
            }
        }
        let kernel_drops = kernel_drops(self.fd);
        drop(self.rx);
        let summary = self.spool.finish();
        CaptureReport {
            files: summary.files,
            packets_seen: seen,
            packets_kept: kept,
            packets_written: summary.packets_written,
            bytes_written: summary.bytes_written,
            stopped_writing: summary.stopped.map(|r| r.to_string()),
            kernel_drops,
            receive_errors: errors,
        }
    }
}

/// A read that simply found nothing (timeout, signal).
fn is_quiet(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::TimedOut | ErrorKind::Interrupted | ErrorKind::WouldBlock
    )
}

/// Nanoseconds since the Unix epoch by the wall clock (0 if the clock is before 1970).
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Opens an AF_PACKET socket bound to the interface, in the calling thread's namespace.
fn open_channel(
    config: &CaptureConfig,
) -> Result<(Box<dyn DataLinkReceiver>, RawFd), CaptureError> {
    let name = &config.interface;
    let c_name = std::ffi::CString::new(name.as_bytes()).map_err(|_| {
        CaptureError::InvalidConfig(format!("interface name {name:?} holds a NUL byte"))
    })?;
    // SAFETY: `c_name` is a NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        return Err(CaptureError::NoSuchInterface { name: name.clone() });
    }
    // Protocol 0: the socket receives nothing until it is bound to the interface with ETH_P_ALL,
    // so no frame of another interface slips in between socket() and bind().
    // SAFETY: plain system call with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(socket_error(name, io::Error::last_os_error()));
    }
    set_receive_queue(fd);
    let interface = NetworkInterface {
        name: name.clone(),
        description: String::new(),
        index,
        mac: None,
        ips: Vec::new(),
        flags: 0,
    };
    let settings = pnet_datalink::Config {
        write_buffer_size: 64,
        read_buffer_size: READ_BUFFER,
        read_timeout: Some(READ_TIMEOUT),
        promiscuous: config.promiscuous,
        socket_fd: Some(fd),
        ..Default::default()
    };
    // From here pnet owns the descriptor (it closes it on failure and when dropped).
    match pnet_datalink::channel(&interface, settings) {
        Ok(Channel::Ethernet(_tx, rx)) => Ok((rx, fd)),
        Ok(_) => Err(CaptureError::Socket {
            interface: name.clone(),
            source: io::Error::other("pnet returned a channel that is not Ethernet"),
        }),
        Err(e) => Err(socket_error(name, e)),
    }
}

/// Names the permission and missing-interface cases, which have their own fixes.
fn socket_error(interface: &str, source: io::Error) -> CaptureError {
    match source.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => CaptureError::Permission {
            interface: interface.to_owned(),
            source,
        },
        Some(libc::ENODEV | libc::ENXIO) => CaptureError::NoSuchInterface {
            name: interface.to_owned(),
        },
        _ => CaptureError::Socket {
            interface: interface.to_owned(),
            source,
        },
    }
}

/// Asks for a larger receive queue (beyond rmem_max as root); the default is kept on failure.
fn set_receive_queue(fd: RawFd) {
    let size = RECEIVE_QUEUE;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let ptr = (&size as *const libc::c_int).cast();
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `fd` is an open socket; `ptr` points at a c_int of `len` bytes.
        if unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, option, ptr, len) } == 0 {
            return;
        }
    }
}

/// Reads (and so clears) a pending socket error, which would otherwise wake every poll.
fn clear_socket_error(fd: RawFd) {
    let mut error: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is open while the receiver lives; `error` and `len` are valid for writing.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut error as *mut libc::c_int).cast(),
            &mut len,
        )
    };
}

/// Frames the kernel dropped for lack of queue room since the socket was opened.
fn kernel_drops(fd: RawFd) -> u64 {
    // SAFETY: tpacket_stats is plain old data.
    let mut stats: libc::tpacket_stats = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // SAFETY: `fd` is open while the receiver lives; `stats` and `len` are valid for writing.
    let ok = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&mut stats as *mut libc::tpacket_stats).cast(),
            &mut len,
        )
    } == 0;
    if ok {
        u64::from(stats.tp_drops)
    } else {
        0
    }
}
