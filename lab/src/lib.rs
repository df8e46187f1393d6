//! The virtual lab: an emulated Internet in network namespaces, with delayed links, vantage
//! nodes, messaging services and a geolocation database for its own address plan.

pub mod atomic;
pub mod civil;
pub mod control;
pub mod daemon;
pub mod link;
pub mod mmdb;
pub mod netns;
pub mod phone;
pub mod plan;
pub mod services;
pub mod topology;
