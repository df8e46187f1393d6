//! DNS messages: the question, the answer records (A, AAAA, CNAME), names with compression
//! pointers (loop-proof), and the address a response resolved its question to first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest name in presentation form (RFC 1035: 255 bytes on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Compression pointers followed per name; real names need one or two.
const MAX_POINTERS: usize = 16;
/// CNAME links followed from the question; real chains are a few long.
const MAX_CNAME_HOPS: usize = 16;
/// Answer records looked at; bounds the work a hostile response can cause.
const MAX_ANSWERS: usize = 64;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

/// Why a DNS message was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The message ends inside a header, name or record.
    #[error("DNS message truncated")]
    Truncated,
    /// A label type other than a plain label or a pointer.
    #[error("DNS name with an unknown label type")]
    BadLabel,
    /// A name longer than 255 bytes.
    #[error("DNS name too long")]
    NameTooLong,
    /// Compression pointers that loop or point forward.
    #[error("DNS compression pointer loop")]
    PointerLoop,
    /// A record whose data does not fit its type.
    #[error("DNS record data of the wrong length")]
    BadRecord,
}

/// A decoded DNS name, in presentation form without the final dot, held inline (no heap).
#[derive(Clone)]
pub struct DnsName {
    bytes: [u8; MAX_NAME_LEN],
    len: usize,
}

impl DnsName {
    /// The empty (root) name.
    pub fn new() -> Self {
        DnsName {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
        }
    }

    /// The name's bytes, labels joined with dots.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Compares names as DNS does: ASCII case does not matter.
    pub fn eq_ignore_case(&self, other: &DnsName) -> bool {
        self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), DnsError> {
        let end = self.len + bytes.len();
        if end > MAX_NAME_LEN {
            return Err(DnsError::NameTooLong);
        }
        self.bytes[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl Default for DnsName {
    fn default() -> Self {
        DnsName::new()
    }
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Reads the name at `at` into `out`; returns where the name ends in the message (after its
/// first pointer, if any).
pub fn read_name(msg: &[u8], at: usize, out: &mut DnsName) -> Result<usize, DnsError> {
    out.len = 0;
    let mut pos = at;
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(end.unwrap_or(pos + 1)),
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(DnsError::Truncated)?;
                if out.len > 0 {
                    out.push(b".")?;
                }
                out.push(label)?;
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(DnsError::Truncated)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(low);
                pointers += 1;
                // Pointers must point back (RFC 1035 "prior occurrence"), so none can loop.
                if target >= pos || pointers > MAX_POINTERS {
                    return Err(DnsError::PointerLoop);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(DnsError::BadLabel),
        }
    }
}

/// Where the name at `at` ends, without decoding it.
fn skip_name(msg: &[u8], at: usize) -> Result<usize, DnsError> {
    let mut pos = at;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xc0 => return Ok(pos + 2),
            _ => return Err(DnsError::BadLabel),
        }
    }
}

/// The data of an answer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A canonical name; its name starts at this message offset.
    Cname(usize),
    /// A record of another type.
    Other(u16),
}

/// One answer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Message offset of the owner name.
    pub owner_at: usize,
    /// What the record says.
    pub data: RecordData,
}

/// A DNS message over UDP, checked far enough to walk its answers.
#[derive(Debug, Clone, Copy)]
pub struct DnsMessage<'a> {
    msg: &'a [u8],
    /// Query id.
    pub id: u16,
    /// Whether the QR bit says response.
    pub is_response: bool,
    /// Response code (low four bits of the flags).
    pub rcode: u8,
    question_count: u16,
    answer_count: u16,
}

impl<'a> DnsMessage<'a> {
    /// Reads the header.
    pub fn parse(msg: &'a [u8]) -> Result<Self, DnsError> {
        if msg.len() < 12 {
            return Err(DnsError::Truncated);
        }
        let be16 = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
        Ok(DnsMessage {
            msg,
            id: be16(0),
            is_response: msg[2] & 0x80 != 0,
            rcode: msg[3] & 0x0f,
            question_count: be16(4),
            answer_count: be16(6),
        })
    }

    /// The first question's name, if there is a question.
    pub fn question(&self, out: &mut DnsName) -> Result<bool, DnsError> {
        if self.question_count == 0 {
            return Ok(false);
        }
        read_name(self.msg, 12, out)?;
        Ok(true)
    }

    /// The answer section, record by record.
    pub fn answers(&self) -> Result<Answers<'a>, DnsError> {
        let mut at = 12;
        for _ in 0..self.question_count {
            at = skip_name(self.msg, at)? + 4;
        }
        Ok(Answers {
            msg: self.msg,
            at,
            left: self.answer_count,
        })
    }

    /// The name of a record's owner or CNAME target at `at`.
    pub fn name_at(&self, at: usize, out: &mut DnsName) -> Result<(), DnsError> {
        read_name(self.msg, at, out).map(|_| ())
    }

    /// What the response resolved its question to first: follow the CNAME chain from the
    /// question, then take the first A/AAAA record of the chain's last name (or, if none
    /// matches, the first A/AAAA record of the answer section). Writes the question to `query`.
    /// A message cut short is read up to its last complete record.
    pub fn first_address(&self, query: &mut DnsName) -> Result<Option<IpAddr>, DnsError> {
        if !self.is_response || !self.question(query)? {
            return Ok(None);
        }
        let mut target = query.clone();
        let mut owner = DnsName::new();
        'chain: for _ in 0..MAX_CNAME_HOPS {
            for record in self.answers()?.take(MAX_ANSWERS) {
                let Ok(record) = record else {
                    break;
                };
                if let RecordData::Cname(at) = record.data {
                    self.name_at(record.owner_at, &mut owner)?;
                    if owner.eq_ignore_case(&target) {
                        self.name_at(at, &mut target)?;
                        continue 'chain;
                    }
                }
            }
            break;
        }
        let mut first_any = None;
        let mut truncated = false;
        for record in self.answers()?.take(MAX_ANSWERS) {
            // A response cut short (a first fragment, a short capture) still names the
            // addresses of its complete records.
            let Ok(record) = record else {
                truncated = true;
                break;
            };
            let address = match record.data {
                RecordData::A(a) => IpAddr::V4(a),
                RecordData::Aaaa(a) => IpAddr::V6(a),
                _ => continue,
            };
            self.name_at(record.owner_at, &mut owner)?;
            if owner.eq_ignore_case(&target) {
                return Ok(Some(address));
            }
            first_any.get_or_insert(address);
        }
        match first_any {
            None if truncated => Err(DnsError::Truncated),
            found => Ok(found),
        }
    }
}

/// Iterator over answer records; stops after the first error.
pub struct Answers<'a> {
    msg: &'a [u8],
    at: usize,
    left: u16,
}

impl Iterator for Answers<'_> {
    type Item = Result<Record, DnsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let record = self.read();
        if record.is_err() {
            self.left = 0;
        }
        Some(record)
    }
}

impl Answers<'_> {
    fn read(&mut self) -> Result<Record, DnsError> {
        let owner_at = self.at;
        let fixed = skip_name(self.msg, owner_at)?;
        let header = self.msg.get(fixed..fixed + 10).ok_or(DnsError::Truncated)?;
        let kind = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let data_at = fixed + 10;
        let data = self
            .msg
            .get(data_at..data_at + len)
            .ok_or(DnsError::Truncated)?;
        self.at = data_at + len;
        let data = match kind {
            TYPE_A => RecordData::A(Ipv4Addr::from(
                <[u8; 4]>::try_from(data).map_err(|_| DnsError::BadRecord)?,
            )),
            TYPE_AAAA => RecordData::Aaaa(Ipv6Addr::from(
                <[u8; 16]>::try_from(data).map_err(|_| DnsError::BadRecord)?,
            )),
            TYPE_CNAME => RecordData::Cname(data_at),
            other => RecordData::Other(other),
        };
        Ok(Record { owner_at, data })
    }
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
