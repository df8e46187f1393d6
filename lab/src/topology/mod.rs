//! Lab topologies: the YAML schema, its validation, and the great-circle link delays.

mod checks;
mod delay;
mod edge;
mod load;
mod model;
mod types;

pub use checks::is_lab_range;
pub use delay::{great_circle_km, one_way_delay_ms};
pub use edge::{AccessPoint, App, PhoneRole, Rect, DEFAULT_ADB_PORT, SCREEN_SIZE};
pub use load::{load_file, parse, DEFAULT_TOPOLOGY};
pub use model::{City, ServiceKind};
pub use types::{Node, NodeRole, TopoLink, Topology, TopologyError};
