//! Test fixtures: a scripted phone, a server on 127.0.0.1, test keys and a raw host.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};

use super::auth::{AUTH_RSAPUBLICKEY, AUTH_SIGNATURE, AUTH_TOKEN};
use super::message::{Command, Decoder, Message, A_VERSION, MAX_PAYLOAD};
use super::{AuthPolicy, Device, DeviceProperties, ShellOutput};

/// Every byte value, CR/LF pairs and NULs included, repeated: output that text mangling would break.
pub fn binary_blob(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 256) as u8 ^ (i / 256 % 7) as u8)
        .collect()
}

/// A phone whose shell understands a handful of scripted commands.
pub struct TestDevice {
    pub dir: tempfile::TempDir,
    pub policy: AuthPolicy,
    pub reboots: Mutex<Vec<String>>,
}

impl TestDevice {
    pub fn new(policy: AuthPolicy) -> Arc<TestDevice> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("root/sdcard")).expect("mkdir sdcard");
        Arc::new(TestDevice {
            dir,
            policy,
            reboots: Mutex::new(Vec::new()),
        })
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn keys_path(&self) -> PathBuf {
        self.dir.path().join("adb_keys")
    }

    pub fn key_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.keys_path())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Device for TestDevice {
    fn properties(&self) -> DeviceProperties {
        DeviceProperties {
            product_name: "sdk_gphone64_x86_64".into(),
            model: "Lab Phone".into(),
            device: "emu64xa".into(),
        }
    }

    fn run(&self, command: &str) -> ShellOutput {
        let (name, args) = command.split_once(' ').unwrap_or((command, ""));
        let out = |stdout: Vec<u8>, stderr: &str, exit_code| ShellOutput {
            stdout,
            stderr: stderr.as_bytes().to_vec(),
            exit_code,
        };
        match name {
            "echo" => out(format!("{args}\n").into_bytes(), "", 0),
            "true" => out(Vec::new(), "", 0),
            "false" => out(Vec::new(), "", 1),
            "fail" => out(Vec::new(), &format!("{args}\n"), 3),
            "blob" => out(binary_blob(70_000), "this must not reach exec-out\n", 0),
            "big" => out(binary_blob(args.parse().unwrap_or(0)), "", 0),
            _ => out(
                Vec::new(),
                &format!("/system/bin/sh: {name}: not found\n"),
                127,
            ),
        }
    }

    fn files_root(&self) -> PathBuf {
        self.root()
    }

    fn reboot(&self, target: &str) {
        self.reboots.lock().expect("lock").push(target.to_string());
    }

    fn authorised_keys(&self) -> PathBuf {
        self.keys_path()
    }

    fn auth_policy(&self) -> AuthPolicy {
        self.policy
    }
}

/// The device served on an ephemeral loopback port by its own runtime.
pub struct Server {
    pub addr: SocketAddr,
    pub device: Arc<TestDevice>,
    // Serves until the test drops it.
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    pub fn start(policy: AuthPolicy) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let device = TestDevice::new(policy);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(super::serve(listener, device.clone()));
        Server {
            addr,
            device,
            _runtime: runtime,
        }
    }
}

/// Two 2048-bit keys, generated once per test run (generation is the slow part).
pub fn test_key(which: usize) -> &'static RsaPrivateKey {
    static KEYS: [OnceLock<RsaPrivateKey>; 2] = [OnceLock::new(), OnceLock::new()];
    KEYS[which]
        .get_or_init(|| RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("generate key"))
}

/// Android's RSAPublicKey struct for `key`, computed independently of the parser.
pub fn android_pubkey(key: &RsaPublicKey) -> Vec<u8> {
    let n = key.n();
    let n0 = u32::from_le_bytes(n.to_bytes_le()[..4].try_into().expect("4 bytes"));
    // Newton's iteration doubles the correct low bits of 1/n0 mod 2^32 each round.
    let mut inv: u32 = 1;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
    }
    let rr = (BigUint::from(1u32) << 4096usize) % n;
    let padded = |v: &BigUint| {
        let mut bytes = v.to_bytes_le();
        bytes.resize(256, 0);
        bytes
    };
    let mut blob = Vec::new();
    blob.extend_from_slice(&64u32.to_le_bytes());
    blob.extend_from_slice(&inv.wrapping_neg().to_le_bytes());
    blob.extend_from_slice(&padded(n));
    blob.extend_from_slice(&padded(&rr));
    let e = u32::from_le_bytes(padded(key.e())[..4].try_into().expect("4 bytes"));
    blob.extend_from_slice(&e.to_le_bytes());
    blob
}

/// The key line a host sends in AUTH RSAPUBLICKEY.
pub fn key_line(key: &RsaPrivateKey, comment: &str) -> Vec<u8> {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(android_pubkey(&key.to_public_key()));
    format!("{encoded} {comment}\0").into_bytes()
}

/// What a host sends in AUTH SIGNATURE for `token`.
pub fn sign(key: &RsaPrivateKey, token: &[u8]) -> Vec<u8> {
    key.sign(Pkcs1v15Sign::new::<sha1::Sha1>(), token)
        .expect("sign")
}

/// A host speaking raw messages over a blocking socket.
pub struct RawHost {
    pub stream: TcpStream,
    decoder: Decoder,
}

impl RawHost {
    pub fn connect(addr: SocketAddr) -> RawHost {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut decoder = Decoder::new(MAX_PAYLOAD);
        decoder.set_check_checksum(true);
        RawHost { stream, decoder }
    }

    pub fn send(&mut self, message: Message) {
        self.stream.write_all(&message.encode()).expect("send");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        // The device may already have hung up; that is what some tests want.
        let _ = self.stream.write_all(bytes);
    }

    /// The next message, or `None` when the device closed the connection or went quiet.
    pub fn try_recv(&mut self, wait: Duration) -> Option<Message> {
        self.stream.set_read_timeout(Some(wait)).expect("timeout");
        let mut buf = [0u8; 65536];
        loop {
            if let Some(message) = self.decoder.next_message().expect("device sent garbage") {
                return Some(message);
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }

    pub fn recv(&mut self) -> Message {
        self.try_recv(Duration::from_secs(10))
            .expect("device closed the connection or timed out")
    }

    /// True if the device closes the connection within `wait` (ignoring anything it sends first).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = std::time::Instant::now() + wait;
        self.stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let mut buf = [0u8; 4096];
        while std::time::Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => {}
            }
        }
        false
    }

    /// CNXN with the given max payload; returns the device's first reply.
    pub fn hello(&mut self, max_payload: u32) -> Message {
        self.send(Message::new(
            Command::Cnxn,
            A_VERSION,
            max_payload,
            b"host::features=shell_v2\0".to_vec(),
        ));
        self.recv()
    }

    /// Full handshake with `key`, offering the public key if the signature is refused.
    pub fn login(&mut self, key: &RsaPrivateKey, max_payload: u32) -> Message {
        let mut reply = self.hello(max_payload);
        if reply.command == Command::Auth && reply.arg0 == AUTH_TOKEN {
            self.send(Message::new(
                Command::Auth,
                AUTH_SIGNATURE,
                0,
                sign(key, &reply.payload),
            ));
            reply = self.recv();
        }
        if reply.command == Command::Auth && reply.arg0 == AUTH_TOKEN {
            self.send(Message::new(
                Command::Auth,
                AUTH_RSAPUBLICKEY,
                0,
                key_line(key, "test@lab"),
            ));
            reply = self.recv();
        }
        assert_eq!(
            reply.command,
            Command::Cnxn,
            "handshake did not finish: {reply:?}"
        );
        reply
    }

    /// Opens `service` as host stream `id`; returns the device's stream id.
    pub fn open(&mut self, id: u32, service: &str) -> u32 {
        self.send(Message::new(
            Command::Open,
            id,
            0,
            format!("{service}\0").into_bytes(),
        ));
        let reply = self.recv();
        let got = (reply.command, reply.arg0, reply.arg1, reply.payload.len());
        assert_eq!(
            (got.0, got.2),
            (Command::Okay, id),
            "open {service}: (cmd, arg0, arg1, len) = {got:?}"
        );
        reply.arg0
    }

    /// Reads one stream to its CLSE, acknowledging each WRTE; returns the data.
    pub fn read_to_close(&mut self, id: u32) -> Vec<u8> {
        let mut data = Vec::new();
        loop {
            let message = self.recv();
            assert_eq!(message.arg1, id, "{:?} for another stream", message.command);
            match message.command {
                Command::Wrte => {
                    data.extend_from_slice(&message.payload);
                    self.send(Message::new(Command::Okay, id, message.arg0, Vec::new()));
                }
                Command::Clse => return data,
                Command::Okay => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

/// Runs a blocking host-side test body, failing instead of hanging if it takes over `limit`.
pub fn within<T: Send + 'static>(limit: Duration, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(limit) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: surface its message.
            match worker.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("body finished without a result"),
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("test body hung for {limit:?}"),
    }
}
