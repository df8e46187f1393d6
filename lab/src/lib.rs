//! The virtual lab: an emulated Internet in network namespaces.
