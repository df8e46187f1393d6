//! ADB wire messages: the command set, the 24-byte header, encoding and a streaming decoder.

/// The first protocol version whose peers ignore the payload checksum.
pub const A_VERSION_SKIP_CHECKSUM: u32 = 0x0100_0001;
/// The protocol version this device speaks.
pub const A_VERSION: u32 = A_VERSION_SKIP_CHECKSUM;
/// The largest payload this device accepts or sends.
pub const MAX_PAYLOAD: usize = 256 * 1024;
/// Length of the fixed message header.
pub const HEADER_LEN: usize = 24;

/// The eight message commands of the ADB transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Connection request and reply, carries version, max payload and banner.
    Cnxn,
    /// Authentication token, signature or public key.
    Auth,
    /// Open a stream to a named service.
    Open,
    /// Stream opened, or previous write consumed.
    Okay,
    /// Data on a stream.
    Wrte,
    /// Stream closed.
    Clse,
    /// Obsolete transport sync marker.
    Sync,
    /// Request to switch the transport to TLS.
    Stls,
}

impl Command {
    /// Every command, for tests and exhaustive checks.
    pub const ALL: [Command; 8] = [
        Command::Cnxn,
        Command::Auth,
        Command::Open,
        Command::Okay,
        Command::Wrte,
        Command::Clse,
        Command::Sync,
        Command::Stls,
    ];

    /// The little-endian wire value (the ASCII name read as a u32).
    pub const fn code(self) -> u32 {
        let name = match self {
            Command::Cnxn => *b"CNXN",
            Command::Auth => *b"AUTH",
            Command::Open => *b"OPEN",
            Command::Okay => *b"OKAY",
            Command::Wrte => *b"WRTE",
            Command::Clse => *b"CLSE",
            Command::Sync => *b"SYNC",
            Command::Stls => *b"STLS",
        };
        u32::from_le_bytes(name)
    }

    /// The command for a wire value, if it is one of the eight.
    pub fn from_code(code: u32) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// One transport message: header fields and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// What the message does.
    pub command: Command,
    /// First argument (meaning depends on the command).
    pub arg0: u32,
    /// Second argument (meaning depends on the command).
    pub arg1: u32,
    /// Payload bytes; at most the negotiated maximum.
    pub payload: Vec<u8>,
}

impl Message {
    /// A message with the given fields.
    pub fn new(command: Command, arg0: u32, arg1: u32, payload: impl Into<Vec<u8>>) -> Message {
        Message {
            command,
            arg0,
            arg1,
            payload: payload.into(),
        }
    }

    /// Appends header and payload to `out`.
    ///
    /// The checksum is always filled in: newer hosts ignore it, while old hosts and
    /// adb_client (which checks it whatever version was negotiated) need it.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let code = self.command.code();
        let length = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        out.reserve(HEADER_LEN + self.payload.len());
        for word in [
            code,
            self.arg0,
            self.arg1,
            length,
            checksum(&self.payload),
            !code,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&self.payload);
    }

    /// Header and payload as one buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

/// The "crc32" of the ADB header, which is really a byte sum.
pub fn checksum(data: &[u8]) -> u32 {
    data.iter()
        .fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)))
}

/// Why a byte stream is not a valid sequence of ADB messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The magic word is not the command's complement.
    #[error("bad magic {magic:#010x} for command {command:#010x}")]
    BadMagic {
        /// Command word as received.
        command: u32,
        /// Magic word as received.
        magic: u32,
    },
    /// The command word is none of the eight.
    #[error("unknown command {0:#010x}")]
    UnknownCommand(u32),
    /// The announced payload is larger than allowed.
    #[error("payload length {length} exceeds the maximum {max}")]
    TooLong {
        /// Announced length.
        length: u32,
        /// Allowed maximum.
        max: usize,
    },
    /// The payload does not sum to the announced checksum.
    #[error("checksum {announced:#010x} does not match payload sum {actual:#010x}")]
    BadChecksum {
        /// Checksum from the header.
        announced: u32,
        /// Sum of the received payload.
        actual: u32,
    },
}

/// The header fields, validated except for the payload checksum.
struct Header {
    command: Command,
    arg0: u32,
    arg1: u32,
    length: usize,
    checksum: u32,
}

fn word(bytes: &[u8], index: usize) -> u32 {
    let start = index * 4;
    let mut w = [0u8; 4];
    if let Some(src) = bytes.get(start..start + 4) {
        w.copy_from_slice(src);
    }
    u32::from_le_bytes(w)
}

fn parse_header(bytes: &[u8], max_payload: usize) -> Result<Header, DecodeError> {
    let code = word(bytes, 0);
    let magic = word(bytes, 5);
    if magic != !code {
        return Err(DecodeError::BadMagic {
            command: code,
            magic,
        });
    }
    let command = Command::from_code(code).ok_or(DecodeError::UnknownCommand(code))?;
    let announced = word(bytes, 3);
    let length = usize::try_from(announced)
        .ok()
        .filter(|&l| l <= max_payload)
        .ok_or(DecodeError::TooLong {
            length: announced,
            max: max_payload,
        })?;
    Ok(Header {
        command,
        arg0: word(bytes, 1),
        arg1: word(bytes, 2),
        length,
        checksum: word(bytes, 4),
    })
}

/// Splits a byte stream into messages; after an error the stream is unusable.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    start: usize,
    max_payload: usize,
    check_checksum: bool,
}

impl Decoder {
    /// A decoder accepting payloads up to `max_payload`, checking checksums.
    pub fn new(max_payload: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_payload,
            check_checksum: true,
        }
    }

    /// Turns checksum verification on (protocol < 0x01000001) or off.
    pub fn set_check_checksum(&mut self, check: bool) {
        self.check_checksum = check;
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // Compact once per read rather than once per message.
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, DecodeError> {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        let Some(head) = pending.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let header = parse_header(head, self.max_payload)?;
        let Some(payload) = pending.get(HEADER_LEN..HEADER_LEN + header.length) else {
            return Ok(None);
        };
        if self.check_checksum {
            let actual = checksum(payload);
            if actual != header.checksum {
                return Err(DecodeError::BadChecksum {
                    announced: header.checksum,
                    actual,
                });
            }
        }
        let message = Message::new(header.command, header.arg0, header.arg1, payload);
        self.start += HEADER_LEN + header.length;
        Ok(Some(message))
    }
}

/// Feeds arbitrary bytes through the decoder, whole and in small pieces (fuzzing entry).
pub fn fuzz_decode(data: &[u8]) {
    for piece in [data.len().max(1), 7] {
        for check in [true, false] {
            let mut decoder = Decoder::new(MAX_PAYLOAD);
            decoder.set_check_checksum(check);
            'feed: for chunk in data.chunks(piece) {
                decoder.feed(chunk);
                loop {
                    match decoder.next_message() {
                        Ok(Some(message)) => {
                            let _ = message.encode();
                        }
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
        }
    }
}
