//! MATAdOR's flow pipeline: flows of monitored devices run, in the order a per-device and
//! per-app policy gives, through plugins that report findings (classification, PII leaks,
//! trackers) and verdicts (pass, block, rewrite). Pure logic: no sockets, no capture, no
//! TLS interception here; see `README.md` for the policy format and each plugin.
//!
//! ```
//! use matador_pipeline::{FlowRecord, FlowSide, Payload, PayloadKind, Pipeline, Protocol};
//!
//! let policy = "
//! devices:
//!   - id: phone-a
//!     pii:
//!       imei: \"490154203237518\"
//! ";
//! let pipeline = Pipeline::from_yaml(policy, "policy.yaml").expect("valid policy");
//! let mut flow = FlowRecord::new(
//!     "phone-a",
//!     Protocol::Tcp,
//!     FlowSide::new([10, 0, 0, 2].into(), 40000),
//!     FlowSide::new([192, 0, 2, 7].into(), 80),
//! );
//! flow.names.http_host = Some("collect.example".into());
//! flow.payload = Some(Payload {
//!     kind: PayloadKind::Cleartext,
//!     to_server: b"GET /t?id=490154203237518 HTTP/1.1\r\n\r\n".to_vec(),
//!     to_client: Vec::new(),
//! });
//! let result = pipeline.run(&flow);
//! assert_eq!(result.ran, ["classification", "pii", "tracker"]);
//! assert!(!result.is_blocked());
//! ```

pub mod blocking;
pub mod classify;
pub mod flow;
pub mod pii;
pub mod pipeline;
pub mod plugin;
pub mod policy;
pub mod tracker;

pub use flow::{FlowRecord, FlowSide, NameSource, Names, Payload, PayloadKind, Protocol};
pub use pipeline::{Pipeline, PipelineResult, RewriteRequest};
pub use plugin::registry::{builtin, Constructor, PluginError, Registry, BUILTIN_PLUGINS};
pub use plugin::{
    AppProtocol, Classification, Detail, DeviceContext, Direction, Edit, Encoding, Finding,
    Location, Party, PiiKind, PiiLeak, Plugin, PluginOutput, TrackerHit, Verdict,
};
pub use policy::{Policy, PolicyError};
