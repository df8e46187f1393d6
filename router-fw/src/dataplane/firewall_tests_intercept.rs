//! TLS interception in the firewall (root, private namespaces `mtr-<pid>-*` as in
//! `firewall_tests`): the rules as `nft` lists them, refilled without touching the
//! blocklists' sets; and a phone's TCP 443 redirected to a stand-in proxy on the router,
//! which reads the original destination and reaches the server through the AP's tunnel by
//! binding to it, as `matador-mitm --upstream-device wg-ap0` does.

use super::firewall::{self, ApiFence};
use super::firewall_intercept::{self, Redirect};
use super::firewall_tests::{ap0, namespaces, run};
use crate::test_host::in_netns;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::time::Duration;

fn redirect() -> Redirect {
    Redirect {
        from: "10.77.1.0/24".parse().expect("subnet"),
        to: "10.77.1.1:18443".parse().expect("address"),
    }
}

fn install(ns: &str, redirect: Option<Redirect>) {
    let fence = ApiFence {
        interface: "wg-mgmt".into(),
        port: 8443,
    };
    in_netns(ns, move || {
        firewall::batch_with(&[ap0()], Some(&fence), &[true], &[redirect])
            .and_then(|b| firewall::send(&b))
    })
    .expect("the kernel takes the batch");
}

fn set(ns: &str, redirect: Option<Redirect>) {
    in_netns(ns, move || {
        firewall_intercept::batch(0, &ap0(), redirect.as_ref()).and_then(|b| firewall::send(&b))
    })
    .expect("the kernel takes the refill");
}

fn listing(ns: &str) -> String {
    run(&[
        "ip", "netns", "exec", ns, "nft", "list", "table", "inet", "matador",
    ])
}

#[test]
fn the_rules_list_as_generated_and_a_refill_keeps_the_blocklist_set() {
    let ns = namespaces("tlsfw", &["r"]);
    let r = ns.0[0].clone();
    install(&r, Some(redirect()));
    let [skip, dnat, accept] = firewall_intercept::rules_text(0, &ap0(), &redirect());
    let listed = listing(&r);
    for rule in [
        skip.as_str(),
        dnat.as_str(),
        accept.as_str(),
        "iifname \"ap0\" jump tls_in0",
        "iifname \"ap0\" jump tls_dnat0",
        "chain tls_in0 {",
        "chain tls_dnat0 {",
    ] {
        assert!(listed.contains(rule), "no `{rule}` in\n{listed}");
    }
    // In `input`, the jump comes before the AP's fence.
    let input = listed
        .split("chain input {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("chain input");
    let jump = input.find("jump tls_in0").expect("jump");
    let fence = input
        .find("iifname \"ap0\" counter packets 0 bytes 0 drop")
        .expect("fence");
    assert!(jump < fence, "{input}");
    // What dnsmasq put into the blocklist's set survives removing and setting the redirect.
    super::firewall_tests::add_blocked(&r, "block0", "192.0.2.7");
    set(&r, None);
    let cleared = listing(&r);
    assert!(
        !cleared.contains(&dnat) && !cleared.contains(&accept),
        "{cleared}"
    );
    assert!(cleared.contains("chain tls_dnat0 {"), "{cleared}");
    assert!(cleared.contains("elements = { 192.0.2.7 }"), "{cleared}");
    set(&r, Some(redirect()));
    set(&r, Some(redirect()));
    let again = listing(&r);
    assert_eq!(again.matches(dnat.as_str()).count(), 1, "{again}");
    assert!(again.contains("elements = { 192.0.2.7 }"), "{again}");
}

/// SO_ORIGINAL_DST (linux/netfilter_ipv4.h).
const SO_ORIGINAL_DST: libc::c_int = 80;

fn original_dst(s: &TcpStream) -> SocketAddrV4 {
    // SAFETY: an all-zero sockaddr_in is valid; the kernel fills at most `len` bytes.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a valid socket and a buffer of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_IP,
            SO_ORIGINAL_DST,
            (&mut addr as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    assert_eq!(
        rc,
        0,
        "SO_ORIGINAL_DST: {}",
        std::io::Error::last_os_error()
    );
    SocketAddrV4::new(
        Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
        u16::from_be(addr.sin_port),
    )
}

/// A TCP connection to `to` from a socket bound to `device` (SO_BINDTODEVICE).
fn connect_through(device: &str, to: SocketAddrV4) -> TcpStream {
    // SAFETY: plain socket calls on a descriptor we own; the stream takes it over.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let rc = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            device.as_ptr().cast(),
            device.len() as libc::socklen_t,
        );
        assert_eq!(
            rc,
            0,
            "SO_BINDTODEVICE: {}",
            std::io::Error::last_os_error()
        );
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: to.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*to.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::connect(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "connect {to}: {}", std::io::Error::last_os_error());
        stream
    }
}

fn line_from(ns: &str, to: SocketAddr) -> std::io::Result<String> {
    let ns = ns.to_string();
    in_netns(&ns, move || {
        let stream = TcpStream::connect_timeout(&to, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line.trim().to_string())
    })
}

/// Phone `p` — router `r` — server `s`, routed as the daemon routes an AP: a source rule
/// into table 1000, whose default leads into `wg-ap0` and whose AP subnet is on `ap0`.
#[test]
fn a_phones_tls_reaches_the_proxy_which_reaches_the_server_through_the_tunnel() {
    let (_ns, p, r, s) = super::firewall_tests::phone_router_server("tls", 1500, true);
    install(&r, Some(redirect()));

    let server: SocketAddrV4 = "198.51.100.10:443".parse().expect("address");
    let listener = in_netns(&s, move || TcpListener::bind(server)).expect("server");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let peer = stream
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let _ = (&stream).write_all(format!("server saw {peer}\n").as_bytes());
        }
    });
    let proxy = in_netns(&r, || TcpListener::bind("10.77.1.1:18443")).expect("proxy");
    let r2 = r.clone();
    std::thread::spawn(move || {
        in_netns(&r2, move || {
            for phone in proxy.incoming().flatten() {
                let to = original_dst(&phone);
                let mut upstream = String::new();
                let _ = connect_through("wg-ap0", to).read_to_string(&mut upstream);
                let answer = format!("proxy for {to}: {}\n", upstream.trim());
                let _ = (&phone).write_all(answer.as_bytes());
            }
        })
    });

    // Nobody reaches the proxy's port without the DNAT.
    assert!(line_from(&p, "10.77.1.1:18443".parse().expect("a")).is_err());
    let got = line_from(&p, server.into()).expect("the phone's TLS connection");
    assert_eq!(got, "proxy for 198.51.100.10:443: server saw 172.31.0.1");
    // Without the redirect the phone goes to the server itself (masqueraded into the tunnel).
    set(&r, None);
    let got = line_from(&p, server.into()).expect("direct");
    assert_eq!(got, "server saw 172.31.0.1");
}
