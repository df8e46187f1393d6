//! The measurement core in pure Rust: the traceroute engine (`trace`) and pcap-to-flow
//! extraction (`flows`). Empty until the capture and traceroute issues land.
