//! Delayed point-to-point links: a TUN interface in each end's namespace, pumped by the
//! lab daemon through a fixed-delay queue each way (this kernel has no netem). An idle
//! link is two tasks parked on epoll: no CPU.

mod forward;
mod pump;
mod tun;

pub use forward::forward_into;
pub use pump::{pump_link, LinkStats};
pub use tun::create_tun;
