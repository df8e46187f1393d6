//! The raw-socket edge: an IPPROTO_RAW socket sends whole IPv4 probes (header written by us,
//! so the Paris fields are exactly ours); IPv6 probes go out through a raw socket of their
//! transport with hop limit and source given per packet, so the kernel writes the IPv6 header
//! with its automatic flow label (constant per source, destination and protocol, as Paris
//! needs; the same label scamper's probes get, which matters because Linux hashes the label
//! into its multipath choice). Raw ICMP/ICMPv6/TCP sockets receive replies with kernel
//! receive timestamps (SO_TIMESTAMPNS). All of them can be bound to an interface
//! (SO_BINDTODEVICE) and marked (SO_MARK) so probes leave through a given tunnel; nothing
//! here needs a link-layer header, so layer-3 interfaces (WireGuard, TUN, ipip) work.

use super::engine::{Network, Received, SendError};
use super::probe::Protocol;
use socket2::{Domain, Protocol as SockProto, SockAddr, Socket, Type};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use sys::{recv_one, send_v6, setsockopt};

mod sys;

/// Where probes leave: an interface, a firewall mark for policy routing, both, or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Binding {
    /// Interface name (SO_BINDTODEVICE).
    pub interface: Option<String>,
    /// Firewall mark (SO_MARK), for `ip rule fwmark` routing into a tunnel's table.
    pub fwmark: Option<u32>,
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.interface, self.fwmark) {
            (Some(i), Some(m)) => write!(f, "interface {i} with fwmark {m:#x}"),
            (Some(i), None) => write!(f, "interface {i}"),
            (None, Some(m)) => write!(f, "fwmark {m:#x}"),
            (None, None) => f.write_str("the main routing table"),
        }
    }
}

impl Binding {
    fn apply(&self, s: &Socket) -> io::Result<()> {
        if let Some(i) = &self.interface {
            s.bind_device(Some(i.as_bytes()))?;
        }
        if let Some(m) = self.fwmark {
            s.set_mark(m)?;
        }
        Ok(())
    }
}

/// The source address the kernel would use toward `dst` through `binding` (a connected UDP
/// socket asks the routing table; nothing is sent).
pub fn source_for(dst: IpAddr, binding: &Binding) -> io::Result<IpAddr> {
    let domain = if dst.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let s = Socket::new(domain, Type::DGRAM, Some(SockProto::UDP))?;
    binding.apply(&s)?;
    s.connect(&SockAddr::from(SocketAddr::new(dst, 33434)))?;
    s.local_addr()?
        .as_socket()
        .map(|a| a.ip())
        .ok_or_else(|| io::Error::other("no local address"))
}

/// What a receive socket hands up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RxKind {
    Ipv4,
    Icmpv6,
    Tcpv6,
}

/// The sockets of a run.
pub struct RawNetwork {
    send4: Option<Socket>,
    /// Raw socket of the probes' transport (the ICMPv6 or TCP receive socket when it is one).
    send6: Option<Send6>,
    rx: Vec<(Socket, RxKind)>,
    buf: Box<[u8; 65536]>,
}

/// Where IPv6 probes leave: a receive socket's index, or a socket of its own (UDP).
enum Send6 {
    Rx(usize),
    Own(Socket),
}

const ICMP_FILTER: libc::c_int = 1;
const ICMP6_FILTER: libc::c_int = 1;

impl RawNetwork {
    /// Opens the sockets for IPv4 and/or IPv6 probes of `proto`. Needs CAP_NET_RAW (and
    /// CAP_NET_ADMIN for a fwmark).
    pub fn open(binding: &Binding, v4: bool, v6: bool, proto: Protocol) -> io::Result<RawNetwork> {
        let mut net = RawNetwork {
            send4: None,
            send6: None,
            rx: Vec::new(),
            buf: Box::new([0; 65536]),
        };
        let raw = SockProto::from(libc::IPPROTO_RAW);
        if v4 {
            // IPPROTO_RAW implies IP_HDRINCL: the kernel sends our header as it is.
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(raw)).map_err(need_root)?;
            s.set_header_included_v4(true)?;
            net.send4 = Some(prepare(s, binding, false)?);
            let icmp = Socket::new(Domain::IPV4, Type::RAW, Some(SockProto::ICMPV4))?;
            // Only echo reply (0), unreachable (3) and time exceeded (11) reach us.
            let mask: u32 = !((1 << 0) | (1 << 3) | (1 << 11));
            setsockopt(&icmp, libc::SOL_RAW, ICMP_FILTER, &mask)?;
            net.rx.push((prepare(icmp, binding, true)?, RxKind::Ipv4));
            if proto == Protocol::Tcp {
                let tcp = Socket::new(Domain::IPV4, Type::RAW, Some(SockProto::TCP))?;
                net.rx.push((prepare(tcp, binding, true)?, RxKind::Ipv4));
            }
        }
        if v6 {
            let icmp =
                Socket::new(Domain::IPV6, Type::RAW, Some(SockProto::ICMPV6)).map_err(need_root)?;
            // ICMP6_FILTER: a set bit blocks the type; pass unreachable, time exceeded, echo reply.
            let mut filter = [u32::MAX; 8];
            for t in [1u32, 3, 129] {
                filter[(t >> 5) as usize] &= !(1 << (t & 31));
            }
            setsockopt(&icmp, libc::IPPROTO_ICMPV6, ICMP6_FILTER, &filter)?;
            setsockopt(
                &icmp,
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVHOPLIMIT,
                &1 as &libc::c_int,
            )?;
            net.rx.push((prepare(icmp, binding, true)?, RxKind::Icmpv6));
            net.send6 = Some(match proto {
                Protocol::Icmp => Send6::Rx(net.rx.len() - 1),
                Protocol::Tcp => {
                    let tcp = Socket::new(Domain::IPV6, Type::RAW, Some(SockProto::TCP))?;
                    setsockopt(
                        &tcp,
                        libc::IPPROTO_IPV6,
                        libc::IPV6_RECVHOPLIMIT,
                        &1 as &libc::c_int,
                    )?;
                    setsockopt(
                        &tcp,
                        libc::IPPROTO_IPV6,
                        libc::IPV6_RECVPKTINFO,
                        &1 as &libc::c_int,
                    )?;
                    net.rx.push((prepare(tcp, binding, true)?, RxKind::Tcpv6));
                    Send6::Rx(net.rx.len() - 1)
                }
                Protocol::Udp => {
                    let udp = Socket::new(Domain::IPV6, Type::RAW, Some(SockProto::UDP))?;
                    // Send only: what it would receive (every UDP datagram) is not read.
                    udp.set_recv_buffer_size(0)?;
                    Send6::Own(prepare(udp, binding, false)?)
                }
            });
        }
        Ok(net)
    }

    /// Reads everything queued on every receive socket; returns how many packets there were.
    fn drain(&mut self, sink: &mut dyn FnMut(Received<'_>)) -> io::Result<usize> {
        let mut n = 0;
        for i in 0..self.rx.len() {
            loop {
                let fd = self.rx[i].0.as_raw_fd();
                let kind = self.rx[i].1;
                match recv_one(fd, &mut self.buf[..])? {
                    None => break,
                    Some(m) => {
                        n += 1;
                        let data = &self.buf[..m.len];
                        let at_ns = m.at_ns.unwrap_or_else(realtime_ns);
                        let rx = match (kind, m.from) {
                            (RxKind::Ipv4, _) => Received::Ipv4 {
                                packet: data,
                                at_ns,
                            },
                            (RxKind::Icmpv6, Some(from)) => Received::Icmpv6 {
                                from,
                                hop_limit: m.hop_limit,
                                msg: data,
                                at_ns,
                            },
                            (RxKind::Tcpv6, Some(from)) => Received::Tcpv6 {
                                from,
                                to: m.to,
                                hop_limit: m.hop_limit,
                                segment: data,
                                at_ns,
                            },
                            _ => continue,
                        };
                        sink(rx);
                    }
                }
            }
        }
        Ok(n)
    }
}

fn need_root(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::PermissionDenied {
        io::Error::new(e.kind(), "raw sockets need root or CAP_NET_RAW")
    } else {
        e
    }
}

fn prepare(s: Socket, binding: &Binding, rx: bool) -> io::Result<Socket> {
    binding.apply(&s)?;
    s.set_nonblocking(true)?;
    if rx {
        setsockopt(
            &s,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &1 as &libc::c_int,
        )?;
        // Room for a burst of replies from many targets; the kernel caps it at rmem_max.
        s.set_recv_buffer_size(4 << 20)?;
    }
    Ok(s)
}

/// Now on the clock SO_TIMESTAMPNS uses (CLOCK_REALTIME), ns since the epoch.
pub fn realtime_ns() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64
}

impl Network for RawNetwork {
    fn send(&mut self, packet: &[u8], dst: IpAddr) -> Result<u64, SendError> {
        let at = realtime_ns();
        let sent = match dst {
            IpAddr::V4(_) => match &self.send4 {
                Some(s) => s
                    .send_to(packet, &SockAddr::from(SocketAddr::new(dst, 0)))
                    .map(drop),
                None => return Err(SendError::Fatal(io::Error::other("no IPv4 socket"))),
            },
            IpAddr::V6(dst6) => {
                let fd = match &self.send6 {
                    Some(Send6::Rx(i)) => self.rx[*i].0.as_raw_fd(),
                    Some(Send6::Own(s)) => s.as_raw_fd(),
                    None => return Err(SendError::Fatal(io::Error::other("no IPv6 socket"))),
                };
                send_v6(fd, packet, dst6)
            }
        };
        match sent {
            Ok(()) => Ok(at),
            Err(e) => Err(match e.raw_os_error() {
                Some(libc::EAGAIN | libc::ENOBUFS | libc::EINTR) => SendError::Busy,
                Some(
                    libc::EHOSTUNREACH
                    | libc::ENETUNREACH
                    | libc::EPERM
                    | libc::EACCES
                    | libc::EMSGSIZE
                    | libc::ENETDOWN
                    | libc::EADDRNOTAVAIL
                    | libc::EINVAL,
                ) => SendError::Dropped(e),
                _ => SendError::Fatal(e),
            }),
        }
    }

    fn receive(&mut self, until_ns: u64, sink: &mut dyn FnMut(Received<'_>)) -> io::Result<()> {
        loop {
            if self.drain(sink)? > 0 {
                return Ok(());
            }
            let now = realtime_ns();
            if until_ns <= now {
                return Ok(());
            }
            let wait = until_ns - now;
            let ts = libc::timespec {
                tv_sec: (wait / 1_000_000_000) as _, // time_t: deprecated alias on musl, 64-bit there since 1.2
                tv_nsec: (wait % 1_000_000_000) as libc::c_long,
            };
            // At most four receive sockets: a fixed array, no allocation per wait.
            let mut fds = [libc::pollfd {
                fd: -1,
                events: 0,
                revents: 0,
            }; 4];
            for (p, (s, _)) in fds.iter_mut().zip(&self.rx) {
                *p = libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
            }
            // SAFETY: fds is a valid array of pollfd for the call's duration.
            let r = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    self.rx.len().min(4) as libc::nfds_t,
                    &ts,
                    std::ptr::null(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }

    fn now_ns(&self) -> u64 {
        realtime_ns()
    }
}
