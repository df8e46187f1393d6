//! A simulated network for tests: routers along per-flow paths (with load balancing on the
//! fields real balancers hash), silent routers, ICMP rate limits, and replies built as a
//! Linux router builds them (quoting the probe). Runs on a virtual clock.

use super::checksum;
use super::engine::{Network, Received, SendError};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::IpAddr;

/// Builds an ICMP error (`kind`, `code`) from `router` quoting `probe` (a whole IP packet):
/// IPv4 gives a whole packet, IPv6 the ICMPv6 message only (as the raw sockets hand them up).
pub fn icmp_error(router: IpAddr, probe: &[u8], kind: u8, code: u8, quote_len: usize) -> Vec<u8> {
    let v6 = probe[0] >> 4 == 6;
    let quote = &probe[..probe.len().min(quote_len)];
    let mut msg = vec![kind, code, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(quote);
    if v6 {
        let dst = IpAddr::from(<[u8; 16]>::try_from(&probe[8..24]).unwrap());
        let s = checksum::add(
            checksum::pseudo_header(router, dst, 58, msg.len() as u32),
            checksum::sum(&msg),
        );
        msg[2..4].copy_from_slice(&checksum::finish(s).to_be_bytes());
        return msg;
    }
    let s = checksum::finish(checksum::sum(&msg));
    msg[2..4].copy_from_slice(&s.to_be_bytes());
    let dst = IpAddr::from(<[u8; 4]>::try_from(&probe[12..16]).unwrap());
    ipv4(router, dst, 1, 60, &msg)
}

/// A whole IPv4 packet around `payload`.
pub fn ipv4(src: IpAddr, dst: IpAddr, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!("IPv4 only")
    };
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, ttl, proto, 0, 0];
    p[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    let c = checksum::finish(checksum::sum(&p));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// The target's answer to a probe: echo reply, SYN-ACK (or RST), or port unreachable.
pub fn destination_reply(probe: &[u8], rst: bool) -> Vec<u8> {
    let v6 = probe[0] >> 4 == 6;
    let (hl, proto) = if v6 {
        (40, probe[6])
    } else {
        (usize::from(probe[0] & 15) * 4, probe[9])
    };
    let (src, dst) = addrs(probe);
    let t = &probe[hl..];
    match proto {
        1 | 58 => {
            let mut m = t.to_vec();
            m[0] = if v6 { 129 } else { 0 };
            m[2] = 0;
            m[3] = 0;
            if v6 {
                let c = checksum::add(
                    checksum::pseudo_header(dst, src, 58, m.len() as u32),
                    checksum::sum(&m),
                );
                m[2..4].copy_from_slice(&checksum::finish(c).to_be_bytes());
                m
            } else {
                let c = checksum::finish(checksum::sum(&m));
                m[2..4].copy_from_slice(&c.to_be_bytes());
                ipv4(dst, src, 1, 64, &m)
            }
        }
        6 => {
            let seq = u32::from_be_bytes([t[4], t[5], t[6], t[7]]);
            let mut m = vec![0u8; 20];
            m[0..2].copy_from_slice(&t[2..4]);
            m[2..4].copy_from_slice(&t[0..2]);
            m[8..12].copy_from_slice(&seq.wrapping_add(1).to_be_bytes());
            m[12] = 5 << 4;
            m[13] = if rst { 0x14 } else { 0x12 };
            let c = checksum::add(checksum::pseudo_header(dst, src, 6, 20), checksum::sum(&m));
            m[16..18].copy_from_slice(&checksum::finish(c).to_be_bytes());
            if v6 {
                m
            } else {
                ipv4(dst, src, 6, 64, &m)
            }
        }
        _ => icmp_error(
            dst,
            probe,
            if v6 { 1 } else { 3 },
            if v6 { 4 } else { 3 },
            128,
        ),
    }
}

/// Source and destination of a whole probe.
pub fn addrs(p: &[u8]) -> (IpAddr, IpAddr) {
    if p[0] >> 4 == 6 {
        let s: [u8; 16] = p[8..24].try_into().unwrap();
        let d: [u8; 16] = p[24..40].try_into().unwrap();
        (IpAddr::from(s), IpAddr::from(d))
    } else {
        let s: [u8; 4] = p[12..16].try_into().unwrap();
        let d: [u8; 4] = p[16..20].try_into().unwrap();
        (IpAddr::from(s), IpAddr::from(d))
    }
}

/// One router of the simulation.
#[derive(Debug, Clone)]
pub struct Router {
    /// Address it answers from.
    pub addr: IpAddr,
    /// Never answers.
    pub silent: bool,
}

/// A simulated network.
pub struct SimNet {
    /// Virtual now (ns).
    pub now: u64,
    /// Paths per target: a list of hops, each hop one or more routers (load balanced).
    pub paths: HashMap<IpAddr, Vec<Vec<Router>>>,
    /// Targets that never answer.
    pub silent_targets: Vec<IpAddr>,
    /// ICMP error budget per router: (burst, per second); `None`: unlimited.
    pub rate_limit: Option<(f64, f64)>,
    /// One-way delay per hop (ns).
    pub hop_delay: u64,
    /// Probes sent.
    pub sent: Vec<Vec<u8>>,
    buckets: HashMap<IpAddr, (f64, u64)>,
    queue: VecDeque<(u64, Pkt)>,
}

/// A reply on its way: IPv4 packets whole; IPv6 ones without header, sender beside them.
#[derive(Debug, Clone)]
struct Pkt {
    from: IpAddr,
    to: IpAddr,
    tcp: bool,
    bytes: Vec<u8>,
}

impl SimNet {
    /// An empty network at time 1 s after the epoch.
    pub fn new() -> SimNet {
        SimNet {
            now: 1_000_000_000,
            paths: HashMap::new(),
            silent_targets: Vec::new(),
            rate_limit: None,
            hop_delay: 100_000,
            sent: Vec::new(),
            buckets: HashMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// Which branch a probe takes at a load-balanced hop: a hash of what balancers hash
    /// (addresses, protocol, and the first four transport bytes: ports, or ICMP type, code
    /// and checksum), never of TTL, IP ID, sequence numbers or payload.
    fn branch(probe: &[u8], ways: usize) -> usize {
        let v6 = probe[0] >> 4 == 6;
        let hl = if v6 {
            40
        } else {
            usize::from(probe[0] & 15) * 4
        };
        let mut h: u64 = 1469598103934665603;
        let (src, dst) = addrs(probe);
        let mut feed = |b: u8| h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
        for b in format!("{src}{dst}").bytes() {
            feed(b);
        }
        feed(if v6 { probe[6] } else { probe[9] });
        for &b in &probe[hl..hl + 4] {
            feed(b);
        }
        (h % ways as u64) as usize
    }

    fn allowed(&mut self, router: IpAddr) -> bool {
        let Some((burst, rate)) = self.rate_limit else {
            return true;
        };
        let now = self.now;
        let b = self.buckets.entry(router).or_insert((burst, now));
        b.0 = (b.0 + (now - b.1) as f64 / 1e9 * rate).min(burst);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Network for SimNet {
    fn send(&mut self, packet: &[u8], dst: IpAddr) -> Result<u64, SendError> {
        self.sent.push(packet.to_vec());
        let v6 = packet[0] >> 4 == 6;
        let ttl = if v6 { packet[7] } else { packet[8] };
        let path = self.paths.get(&dst).cloned().unwrap_or_default();
        let at = self.now;
        let reply = if usize::from(ttl) <= path.len() {
            let hop = &path[usize::from(ttl) - 1];
            let r = &hop[Self::branch(packet, hop.len())];
            let addr = r.addr;
            let to = addrs(packet).0;
            (!r.silent && self.allowed(addr)).then(|| Pkt {
                from: addr,
                to,
                tcp: false,
                bytes: icmp_error(
                    addr,
                    packet,
                    if v6 { 3 } else { 11 },
                    0,
                    if v6 { 1232 } else { 28 },
                ),
            })
        } else if self.silent_targets.contains(&dst) {
            None
        } else {
            let proto = if v6 { packet[6] } else { packet[9] };
            let is_error = proto == 17;
            let to = addrs(packet).0;
            (!is_error || self.allowed(dst)).then(|| Pkt {
                from: dst,
                to,
                tcp: proto == 6,
                bytes: destination_reply(packet, false),
            })
        };
        if let Some(r) = reply {
            let hops = u64::from(ttl).min(path.len() as u64 + 1);
            let due = at + 2 * hops * self.hop_delay;
            let pos = self
                .queue
                .iter()
                .position(|(t, _)| *t > due)
                .unwrap_or(self.queue.len());
            self.queue.insert(pos, (due, r));
        }
        Ok(at)
    }

    fn receive(&mut self, until_ns: u64, sink: &mut dyn FnMut(Received<'_>)) -> io::Result<()> {
        let target = until_ns.max(self.now);
        if let Some(&(due, _)) = self.queue.front() {
            if due <= target {
                self.now = self.now.max(due);
                while let Some((due, pkt)) = self.queue.front().cloned() {
                    if due > self.now {
                        break;
                    }
                    self.queue.pop_front();
                    match pkt.from {
                        IpAddr::V4(_) => sink(Received::Ipv4 {
                            packet: &pkt.bytes,
                            at_ns: due,
                        }),
                        IpAddr::V6(from) if pkt.tcp => {
                            let to = match pkt.to {
                                IpAddr::V6(a) => Some(a),
                                IpAddr::V4(_) => None,
                            };
                            sink(Received::Tcpv6 {
                                from,
                                to,
                                hop_limit: 60,
                                segment: &pkt.bytes,
                                at_ns: due,
                            })
                        }
                        IpAddr::V6(from) => sink(Received::Icmpv6 {
                            from,
                            hop_limit: 60,
                            msg: &pkt.bytes,
                            at_ns: due,
                        }),
                    }
                }
                return Ok(());
            }
        }
        self.now = target;
        Ok(())
    }

    fn now_ns(&self) -> u64 {
        self.now
    }
}
