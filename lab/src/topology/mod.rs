//! Lab topologies: the YAML schema, its validation, and the great-circle link delays.

mod cellular;
mod checks;
mod delay;
mod edge;
mod imei;
mod load;
mod model;
mod types;

pub use checks::is_lab_range;
pub use delay::{great_circle_km, one_way_delay_ms};
pub use edge::{AccessPoint, App, PhoneRole, Rect, DEFAULT_ADB_PORT, SCREEN_SIZE};
pub use imei::{default_imei, imei_problem, DEFAULT_TAC};
pub use load::{load_file, parse, DEFAULT_TOPOLOGY};
pub use model::{City, ServiceKind};
pub use types::{Node, NodeRole, TopoLink, Topology, TopologyError};

#[cfg(test)]
pub(crate) mod cellular_tests;
