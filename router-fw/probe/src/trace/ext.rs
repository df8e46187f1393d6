//! ICMP extensions (RFC 4884 structure, RFC 4950 MPLS label stack): where the quote ends, and
//! the MPLS labels a router reported. Bounded: at most [`MAX_MPLS`] labels are kept.

use super::checksum;

/// MPLS label stack entries kept per reply; deeper stacks are cut.
pub const MAX_MPLS: usize = 4;

/// Offset of the extension structure in RFC 4884's "compatibility" layout, used by routers
/// that append extensions without setting the length field.
const LEGACY_OFFSET: usize = 128;

/// One MPLS label stack entry (RFC 4950).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MplsEntry {
    /// The 20-bit label.
    pub label: u32,
    /// Traffic class (formerly EXP) bits.
    pub exp: u8,
    /// Bottom-of-stack flag.
    pub bottom: bool,
    /// The label's TTL.
    pub ttl: u8,
}

/// The extensions of one reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extensions {
    /// A valid extension structure was present.
    pub present: bool,
    /// The length field of RFC 4884 was set (as opposed to the legacy layout).
    pub rfc4884: bool,
    /// MPLS label stack entries, `mpls_len` of them used.
    pub mpls: [MplsEntry; MAX_MPLS],
    /// How many of `mpls` are used.
    pub mpls_len: u8,
}

impl Extensions {
    /// The MPLS entries present.
    pub fn mpls(&self) -> &[MplsEntry] {
        &self.mpls[..usize::from(self.mpls_len).min(MAX_MPLS)]
    }
}

/// Splits an ICMP error's body into the quoted datagram and its extensions. `declared` is
/// the RFC 4884 length field in bytes (0 when unset).
pub fn split(body: &[u8], declared: usize) -> (&[u8], Extensions) {
    if declared > 0 {
        // RFC 4884: a declared length shorter than 128 bytes is not compliant; the quote is
        // still good, but what follows is not trusted as extensions.
        if declared >= LEGACY_OFFSET && declared <= body.len() {
            let (quote, rest) = body.split_at(declared);
            let mut ext = parse(rest);
            ext.rfc4884 = ext.present;
            return (quote, ext);
        }
        return (&body[..declared.min(body.len())], Extensions::default());
    }
    if body.len() >= LEGACY_OFFSET + 8 {
        let ext = parse(&body[LEGACY_OFFSET..]);
        if ext.present {
            return (&body[..LEGACY_OFFSET], ext);
        }
    }
    (body, Extensions::default())
}

/// Parses an extension structure: a version-2 header with a valid checksum, then objects.
fn parse(data: &[u8]) -> Extensions {
    let mut ext = Extensions::default();
    if data.len() < 4 || data[0] >> 4 != 2 {
        return ext;
    }
    // A zero checksum means "not computed" (RFC 4884 section 7).
    let sum_field = u16::from_be_bytes([data[2], data[3]]);
    if sum_field != 0 && checksum::sum(data) != 0xffff {
        return ext;
    }
    ext.present = true;
    let mut rest = &data[4..];
    while rest.len() >= 4 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if len < 4 || len > rest.len() {
            break;
        }
        let (class, ctype) = (rest[2], rest[3]);
        if class == 1 && ctype == 1 {
            for entry in rest[4..len].chunks_exact(4) {
                if usize::from(ext.mpls_len) == MAX_MPLS {
                    break;
                }
                let v = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
                ext.mpls[usize::from(ext.mpls_len)] = MplsEntry {
                    label: v >> 12,
                    exp: ((v >> 9) & 7) as u8,
                    bottom: v & 0x100 != 0,
                    ttl: v as u8,
                };
                ext.mpls_len += 1;
            }
        }
        rest = &rest[len..];
    }
    ext
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mpls_ext(labels: &[u32]) -> Vec<u8> {
        let mut obj = vec![0, 0, 1, 1];
        for l in labels {
            obj.extend_from_slice(&((l << 12) | 0x100 | 1).to_be_bytes());
        }
        let n = obj.len() as u16;
        obj[..2].copy_from_slice(&n.to_be_bytes());
        let mut e = vec![0x20, 0, 0, 0];
        e.extend_from_slice(&obj);
        let s = !checksum::sum(&e);
        e[2..4].copy_from_slice(&s.to_be_bytes());
        e
    }

    #[test]
    fn rfc4884_length_splits_quote_and_extensions() {
        let mut body = vec![0x45u8; 128];
        body.extend(mpls_ext(&[16004, 17]));
        let (quote, ext) = split(&body, 128);
        assert_eq!(quote.len(), 128);
        assert!(ext.present && ext.rfc4884);
        assert_eq!(ext.mpls().len(), 2);
        assert_eq!(ext.mpls()[0].label, 16004);
        assert_eq!(ext.mpls()[1].ttl, 1);
    }

    #[test]
    fn legacy_layout_is_found_at_128_bytes() {
        let mut body = vec![0u8; 128];
        body.extend(mpls_ext(&[5]));
        let (quote, ext) = split(&body, 0);
        assert_eq!(quote.len(), 128);
        assert!(ext.present && !ext.rfc4884);
    }

    #[test]
    fn bad_checksum_or_short_length_is_no_extension() {
        let mut body = vec![0u8; 128];
        let mut e = mpls_ext(&[5]);
        e[3] ^= 1;
        body.extend(e);
        assert!(!split(&body, 0).1.present);
        assert_eq!(split(&body, 64).0.len(), 64);
        assert_eq!(split(&body, 4000).0.len(), body.len());
    }

    #[test]
    fn deep_stacks_are_cut() {
        let mut body = vec![0u8; 128];
        body.extend(mpls_ext(&[1, 2, 3, 4, 5, 6]));
        assert_eq!(split(&body, 128).1.mpls().len(), MAX_MPLS);
    }
}
