//! A lab router's HTTPS API from the tests, through curl: the token from the lab's status,
//! the certificate pinned by the fingerprint the daemon published.

use super::Lab;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// One lab router's API.
pub struct RouterApi {
    /// `address:port` on 127.0.0.1 (the lab daemon forwards it into the router).
    pub address: String,
    token: String,
}

impl RouterApi {
    /// The API of lab router `name`.
    pub fn of(lab: &Lab, name: &str) -> RouterApi {
        let status = lab.status();
        let lr = status["lab_routers"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["name"] == name))
            .cloned()
            .expect("lab router in status");
        let token = std::fs::read_to_string(lr["api_token_file"].as_str().expect("token file"))
            .expect("token");
        RouterApi {
            address: lr["api"].as_str().expect("api").to_string(),
            token: token.trim().to_string(),
        }
    }

    /// A request; the HTTP status and the body (raw bytes).
    pub fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sk",
            "--max-time",
            "30",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
        ])
        .args(["-H", &format!("Authorization: Bearer {}", self.token)])
        .arg(format!("https://{}{path}", self.address));
        if let Some(b) = body {
            cmd.args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &b.to_string(),
            ]);
        }
        let out = cmd.output().expect("curl runs");
        let mut bytes = out.stdout;
        let split = bytes.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        let code = String::from_utf8_lossy(&bytes[split..])
            .trim()
            .parse()
            .unwrap_or(0);
        bytes.truncate(split);
        (code, bytes)
    }

    /// A request whose answer is JSON.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (code, bytes) = self.raw(method, path, body);
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Waits until measurement `id` is done or failed; its status.
    pub fn wait_measurement(&self, id: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (code, m) = self.call("GET", &format!("/v1/measurements/{id}"), None);
            assert_eq!(code, 200, "{m}");
            if m["state"] == "done" || m["state"] == "failed" {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "measurement {id} still {}",
                m["state"]
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A stored result's bytes.
    pub fn result(&self, id: &str) -> Vec<u8> {
        let (code, bytes) = self.raw("GET", &format!("/v1/results/{id}"), None);
        assert_eq!(
            code,
            200,
            "result {id}: {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes
    }
}

/// Unix time now, in seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
