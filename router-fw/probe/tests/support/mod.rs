//! What the integration tests and the benchmark share: packet templates, capture writers,
//! and the agreement corpus.
#![allow(dead_code)]

pub mod capture;
pub mod corpus;
pub mod messages;
pub mod packets;
pub mod trace;
