//! Where a redirected connection was going: the kernel's conntrack knows (SO_ORIGINAL_DST
//! after nftables' `redirect`); tests supply the answer themselves.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd as _;

use tokio::net::TcpStream;

/// Finds the destination a client connected to before the router redirected it here.
pub trait OriginalDst: Send + Sync {
    /// The original destination of an accepted connection.
    fn original_dst(&self, stream: &TcpStream) -> io::Result<SocketAddr>;
}

/// The kernel's answer: `getsockopt(SOL_IP, SO_ORIGINAL_DST)` for IPv4 and
/// `getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)` for IPv6 (needs conntrack and a NAT
/// redirect; without one the answer is our own address, which the proxy refuses).
#[derive(Debug, Clone, Copy, Default)]
pub struct SoOriginalDst;

/// linux/netfilter_ipv4.h; the same number for IPv6 in linux/netfilter_ipv6/ip6_tables.h.
const SO_ORIGINAL_DST: libc::c_int = 80;
const IP6T_SO_ORIGINAL_DST: libc::c_int = 80;

impl OriginalDst for SoOriginalDst {
    fn original_dst(&self, stream: &TcpStream) -> io::Result<SocketAddr> {
        let fd = stream.as_raw_fd();
        if stream.local_addr()?.is_ipv4() {
            let addr: libc::sockaddr_in = getsockopt(fd, libc::SOL_IP, SO_ORIGINAL_DST)?;
            let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
            Ok(SocketAddrV4::new(ip, u16::from_be(addr.sin_port)).into())
        } else {
            let addr: libc::sockaddr_in6 = getsockopt(fd, libc::SOL_IPV6, IP6T_SO_ORIGINAL_DST)?;
            let ip = Ipv6Addr::from(addr.sin6_addr.s6_addr);
            let port = u16::from_be(addr.sin6_port);
            // A dual-stack listener reports IPv4 clients as v4-mapped addresses.
            Ok(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddrV4::new(v4, port).into(),
                None => SocketAddrV6::new(ip, port, 0, addr.sin6_scope_id).into(),
            })
        }
    }
}

/// `getsockopt` into a sockaddr structure `T` (only ever `sockaddr_in`/`sockaddr_in6`).
fn getsockopt<T: Copy>(fd: libc::c_int, level: libc::c_int, name: libc::c_int) -> io::Result<T> {
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `value` is `len` writable bytes, and the kernel writes at most `len` of them.
    let rc = unsafe { libc::getsockopt(fd, level, name, value.as_mut_ptr().cast(), &mut len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: zeroed sockaddr structures are valid, and the kernel filled in the rest.
    Ok(unsafe { value.assume_init() })
}

/// Always the same destination: for tests, and to run the proxy in front of one server.
#[derive(Debug, Clone, Copy)]
pub struct FixedOriginalDst(pub SocketAddr);

impl OriginalDst for FixedOriginalDst {
    fn original_dst(&self, _stream: &TcpStream) -> io::Result<SocketAddr> {
        Ok(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_redirect_the_kernel_has_no_other_destination() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = TcpStream::connect(addr).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        // Without conntrack the call fails (ENOENT); with it, the answer is our own address.
        match SoOriginalDst.original_dst(&server) {
            Ok(dst) => assert_eq!(dst, addr),
            Err(e) => assert!(e.raw_os_error().is_some(), "{e}"),
        }
        let fixed = FixedOriginalDst("192.0.2.7:443".parse().expect("addr"));
        assert_eq!(
            fixed.original_dst(&server).expect("fixed").to_string(),
            "192.0.2.7:443"
        );
        drop(client);
    }
}
