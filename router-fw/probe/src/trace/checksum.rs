//! Internet checksums (RFC 1071) and the Paris traceroute trick that steers a checksum to a
//! chosen value by filling two payload bytes.

use std::net::IpAddr;

/// Ones'-complement sum of `data` as big-endian 16-bit words (odd tail padded with zero),
/// folded to 16 bits, not yet complemented.
pub fn sum(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u32::from(*last) << 8;
    }
    fold(acc)
}

/// Ones'-complement addition of two folded sums.
pub fn add(a: u16, b: u16) -> u16 {
    fold(u32::from(a) + u32::from(b))
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Sum of the TCP/UDP/ICMPv6 pseudo-header for `len` bytes of protocol `proto`.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u16 {
    let mut acc = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => add(sum(&s.octets()), sum(&d.octets())),
        (s, d) => add(sum(&octets16(s)), sum(&octets16(d))),
    };
    acc = add(acc, (len >> 16) as u16);
    acc = add(acc, len as u16);
    add(acc, u16::from(proto))
}

fn octets16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The checksum field value for a message whose words (checksum field zero) sum to `s`.
pub fn finish(s: u16) -> u16 {
    !s
}

/// The two bytes that, added to a message whose other words (checksum field zero, the two
/// bytes zero) sum to `rest`, make its checksum field come out as `want`.
///
/// Paris traceroute keeps a checksum constant (ICMP, which load balancers may hash) or makes
/// it carry the probe's identity (UDP) this way, without touching any hashed field.
pub fn compensate(rest: u16, want: u16) -> [u8; 2] {
    // checksum = !(rest + c) = want  =>  c = !want - rest = !want + !rest.
    add(!want, !rest).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // The example of RFC 1071 section 3: sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(
            sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    proptest! {
        #[test]
        fn compensation_hits_the_wanted_checksum(body in proptest::collection::vec(any::<u8>(), 0..64), want in 1u16..0xffff) {
            let mut msg = body.clone();
            if msg.len() % 2 == 1 { msg.push(0); }
            let rest = sum(&msg);
            let c = compensate(rest, want);
            msg.extend_from_slice(&c);
            prop_assert_eq!(finish(sum(&msg)), want);
        }
    }
}
