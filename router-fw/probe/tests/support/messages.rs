//! Application message templates for tests and the benchmark: DNS queries and responses,
//! TLS ClientHellos and records, HTTP requests, QUIC v1 client Initials sealed with the keys
//! RFC 9001 derives (so our opener is checked against an independent sealer). Shared like
//! `packets.rs`; it uses only std and ring.
#![allow(dead_code)]

/// A DNS name in wire format (no compression).
pub fn dns_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
    out
}

/// One answer record of a DNS response.
#[derive(Debug, Clone)]
pub enum Answer {
    /// owner CNAME target.
    Cname(String, String),
    /// owner A address.
    A(String, [u8; 4]),
    /// owner AAAA address.
    Aaaa(String, std::net::Ipv6Addr),
}

/// A DNS query for `name` (type A).
pub fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    m.extend(dns_name(name));
    m.extend([0, 1, 0, 1]);
    m
}

/// A DNS response to a query for `name`; owners equal to the query name are compressed to a
/// pointer at the question, as servers do.
pub fn dns_response(id: u16, name: &str, answers: &[Answer]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend([0x81, 0x80, 0, 1]);
    m.extend((answers.len() as u16).to_be_bytes());
    m.extend([0, 0, 0, 0]);
    m.extend(dns_name(name));
    m.extend([0, 1, 0, 1]);
    let owner = |m: &mut Vec<u8>, o: &str| {
        if o.eq_ignore_ascii_case(name) {
            m.extend([0xc0, 12]);
        } else {
            m.extend(dns_name(o));
        }
    };
    for a in answers {
        match a {
            Answer::Cname(o, target) => {
                owner(&mut m, o);
                let t = dns_name(target);
                m.extend([0, 5, 0, 1, 0, 0, 0, 60]);
                m.extend((t.len() as u16).to_be_bytes());
                m.extend(t);
            }
            Answer::A(o, addr) => {
                owner(&mut m, o);
                m.extend([0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                m.extend(addr);
            }
            Answer::Aaaa(o, addr) => {
                owner(&mut m, o);
                m.extend([0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
                m.extend(addr.octets());
            }
        }
    }
    m
}

/// A TLS 1.3-style ClientHello handshake message naming `sni`, grown to at least `min_len`
/// bytes with a padding extension (to make it span segments or QUIC packets).
pub fn client_hello(sni: &str, min_len: usize, quic: bool) -> Vec<u8> {
    let ext = |out: &mut Vec<u8>, kind: u16, body: &[u8]| {
        out.extend(kind.to_be_bytes());
        out.extend((body.len() as u16).to_be_bytes());
        out.extend(body);
    };
    let mut exts = Vec::new();
    let name = sni.as_bytes();
    let mut sn = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sn.push(0);
    sn.extend((name.len() as u16).to_be_bytes());
    sn.extend(name);
    ext(&mut exts, 0, &sn);
    ext(&mut exts, 10, &[0, 4, 0, 0x1d, 0, 0x17]);
    ext(&mut exts, 13, &[0, 4, 4, 3, 8, 4]);
    ext(&mut exts, 16, &[0, 3, 2, b'h', b'2']);
    ext(&mut exts, 43, &[2, 3, 4]);
    let mut ks = vec![0, 36, 0, 0x1d, 0, 32];
    ks.extend([0x42; 32]);
    ext(&mut exts, 51, &ks);
    if quic {
        ext(&mut exts, 57, &[1, 2, 0x40, 0x64]);
    }
    let mut body = vec![3, 3];
    body.extend([0x11; 32]);
    body.push(32);
    body.extend([0x22; 32]);
    body.extend([0, 6, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 1, 0]);
    let fixed = 4 + body.len() + 2 + exts.len();
    if fixed + 4 < min_len {
        ext(&mut exts, 21, &vec![0; min_len - fixed - 4]);
    }
    body.extend((exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![1];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    hs
}

/// TLS handshake records carrying `handshake`, at most `max_record` bytes of it per record.
pub fn tls_records(handshake: &[u8], max_record: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in handshake.chunks(max_record) {
        out.extend([0x16, 0x03, 0x01]);
        out.extend((piece.len() as u16).to_be_bytes());
        out.extend(piece);
    }
    out
}

/// An HTTP/1.1 GET request.
pub fn http_request(host: &str, user_agent: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\n\r\n"
    )
    .into_bytes()
}

/// A QUIC variable-length integer.
pub fn varint(v: u64) -> Vec<u8> {
    match v {
        0..=63 => vec![v as u8],
        64..=16383 => ((v as u16) | 0x4000).to_be_bytes().to_vec(),
        16384..=1_073_741_823 => ((v as u32) | 0x8000_0000).to_be_bytes().to_vec(),
        _ => (v | 0xc000_0000_0000_0000).to_be_bytes().to_vec(),
    }
}

/// A CRYPTO frame.
pub fn crypto_frame(offset: u64, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend(varint(offset));
    f.extend(varint(data.len() as u64));
    f.extend(data);
    f
}

struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn expand_label(prk: &ring::hkdf::Prk, label: &[u8], out: &mut [u8]) {
    let len = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len()))
        .unwrap()
        .fill(out)
        .unwrap();
}

/// A client Initial packet of QUIC v1 protected with the keys RFC 9001 derives from `dcid`:
/// `frames` padded with PADDING frames to `pad_to` bytes of datagram.
pub fn quic_initial(
    dcid: &[u8],
    scid: &[u8],
    packet_number: u32,
    frames: &[u8],
    pad_to: usize,
) -> Vec<u8> {
    use ring::aead::{self, quic};
    use ring::hkdf;
    const SALT: [u8; 20] = [
        0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c,
        0xad, 0xcc, 0xbb, 0x7f, 0x0a,
    ];
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &SALT).extract(dcid);
    let mut secret = [0u8; 32];
    expand_label(&initial, b"client in", &mut secret);
    let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&client, b"quic key", &mut key);
    expand_label(&client, b"quic iv", &mut iv);
    expand_label(&client, b"quic hp", &mut hp);

    let mut header = vec![0xc3, 0, 0, 0, 1, dcid.len() as u8];
    header.extend(dcid);
    header.push(scid.len() as u8);
    header.extend(scid);
    header.push(0); // no token
    let header_len = header.len() + 2 + 4;
    let payload_len = frames
        .len()
        .max(pad_to.saturating_sub(header_len + 16))
        .max(20);
    header.extend(((4 + payload_len + 16) as u16 | 0x4000).to_be_bytes());
    let pn_at = header.len();
    header.extend(packet_number.to_be_bytes());
    let mut payload = frames.to_vec();
    payload.resize(payload_len, 0);

    let mut nonce = iv;
    for (n, p) in nonce[8..].iter_mut().zip(packet_number.to_be_bytes()) {
        *n ^= p;
    }
    let sealer = aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &key).unwrap());
    sealer
        .seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&header),
            &mut payload,
        )
        .unwrap();
    let mut packet = header;
    packet.extend(payload);
    let hp = quic::HeaderProtectionKey::new(&quic::AES_128, &hp).unwrap();
    let mask = hp.new_mask(&packet[pn_at + 4..pn_at + 20]).unwrap();
    packet[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        packet[pn_at + i] ^= mask[1 + i];
    }
    packet
}

/// The RFC 9001 Appendix A.2 client Initial (1200 bytes, SNI `example.com`).
pub fn rfc9001_client_initial() -> Vec<u8> {
    let hex: String = include_str!("../data/rfc9001-client-initial.hex")
        .split_whitespace()
        .collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
