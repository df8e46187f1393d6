//! The measurement core in pure Rust: pcap-to-flow extraction (`flows`) and the
//! Paris traceroute engine (`trace`). No daemon, no HTTP, no CLI here: the router daemon and the
//! host compose it.

pub mod flows;
pub mod trace;
