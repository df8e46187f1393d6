//! The system calls beneath the sockets: options, recvmsg with its control messages (receive
//! timestamp, hop limit, our address), and sendmsg of IPv6 probes with hop limit and source.

use socket2::Socket;
use std::io;
use std::mem::MaybeUninit;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;

/// setsockopt(2) with a typed value.
pub fn setsockopt<T>(
    s: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` is a live, properly sized option value for the duration of the call.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One received message and what its control messages said.
pub struct Message {
    pub len: usize,
    pub at_ns: Option<u64>,
    pub from: Option<Ipv6Addr>,
    pub to: Option<Ipv6Addr>,
    pub hop_limit: u8,
}

/// One non-blocking recvmsg with its control messages; `None` when nothing is queued.
pub fn recv_one(fd: libc::c_int, buf: &mut [u8]) -> io::Result<Option<Message>> {
    let mut name = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the recvmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: fd is an open socket and msg points at valid buffers.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
            _ => Err(e),
        };
    }
    let mut out = Message {
        len: (n as usize).min(buf.len()),
        at_ns: None,
        from: None,
        to: None,
        hop_limit: 0,
    };
    // SAFETY: the kernel filled `name` up to msg_namelen; we read it only as the family it says.
    let storage = unsafe { name.assume_init() };
    if i32::from(storage.ss_family) == libc::AF_INET6 {
        // SAFETY: the family is AF_INET6, so the storage holds a sockaddr_in6.
        let sin6 =
            unsafe { &*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
        out.from = Some(Ipv6Addr::from(sin6.sin6_addr.s6_addr));
    }
    // SAFETY: the CMSG macros walk the control buffer the kernel filled, bounded by
    // msg_controllen; each data read matches the type the (level, type) pair defines.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            let h = &*c;
            let data = libc::CMSG_DATA(c);
            if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(data.cast::<libc::timespec>());
                out.at_ns = Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            } else if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_HOPLIMIT {
                let v = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                out.hop_limit = v.clamp(0, 255) as u8;
            } else if h.cmsg_level == libc::IPPROTO_IPV6 && h.cmsg_type == libc::IPV6_PKTINFO {
                let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                out.to = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Some(out))
}

/// Sends the transport part of a whole IPv6 probe, with its source and hop limit as control
/// messages, so the kernel writes the IPv6 header (and the flow label) itself.
pub fn send_v6(fd: libc::c_int, packet: &[u8], dst: Ipv6Addr) -> io::Result<()> {
    let ip = smoltcp::wire::Ipv6Packet::new_checked(packet)
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let hop_limit = libc::c_int::from(ip.hop_limit());
    let src = ip.src_addr();
    let payload = &packet[crate::trace::probe::IPV6_HEADER..];
    // SAFETY: sockaddr_in6 and in6_pktinfo are plain data, fully initialised below.
    let mut to: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    to.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    to.sin6_addr.s6_addr = dst.octets();
    let mut info: libc::in6_pktinfo = unsafe { std::mem::zeroed() };
    info.ipi6_addr.s6_addr = src.octets();
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut to as *mut libc::sockaddr_in6).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes sizes.
    let space = unsafe {
        libc::CMSG_SPACE(std::mem::size_of::<libc::c_int>() as u32)
            + libc::CMSG_SPACE(std::mem::size_of::<libc::in6_pktinfo>() as u32)
    };
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer (128 bytes) holds both messages (at most 64 bytes); the CMSG
    // macros stay within msg_controllen, and each write matches its header's length.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::IPPROTO_IPV6;
        (*c).cmsg_type = libc::IPV6_HOPLIMIT;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>(), hop_limit);
        let c = libc::CMSG_NXTHDR(&msg, c);
        (*c).cmsg_level = libc::IPPROTO_IPV6;
        (*c).cmsg_type = libc::IPV6_PKTINFO;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<libc::in6_pktinfo>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<libc::in6_pktinfo>(), info);
    }
    // SAFETY: fd is an open socket and msg points at valid buffers.
    let n = unsafe { libc::sendmsg(fd, &msg, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
