//! `/v1/aps/{ap}/blocklist` over the real server with the fake daemon.

use super::client::request;
use super::harness::{Harness, TOKEN};
use crate::api::ApiLimits;
use matador_api::Blocklist;

#[tokio::test]
async fn a_blocklist_is_normalised_kept_read_back_and_emptied() {
    let h = Harness::start(ApiLimits::default()).await;
    let put = |body: &'static [u8]| {
        request(
            h.addr,
            &h.pin,
            "PUT",
            "/v1/aps/ap0/blocklist",
            Some(TOKEN),
            Some(body),
        )
    };
    let reply =
        put(br#"{"domains":["Ads.Tracker.Example.","doubleclick.net","ads.tracker.example"]}"#)
            .await
            .unwrap();
    assert_eq!(reply.status, 200);
    let want = vec!["ads.tracker.example".to_string(), "doubleclick.net".into()];
    assert_eq!(reply.json::<Blocklist>().domains, want);
    assert_eq!(*h.control.blocked.lock().unwrap(), want);

    let got = request(
        h.addr,
        &h.pin,
        "GET",
        "/v1/aps/ap0/blocklist",
        Some(TOKEN),
        None,
    )
    .await
    .unwrap();
    assert_eq!(got.json::<Blocklist>().domains, want);

    let gone = request(
        h.addr,
        &h.pin,
        "DELETE",
        "/v1/aps/ap0/blocklist",
        Some(TOKEN),
        None,
    )
    .await
    .unwrap();
    assert_eq!(gone.status, 204);
    assert!(h.control.blocked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_domain_that_could_inject_dnsmasq_options_is_refused_and_nothing_changes() {
    let h = Harness::start(ApiLimits::default()).await;
    *h.control.blocked.lock().unwrap() = vec!["doubleclick.net".into()];
    for body in [
        &br#"{"domains":["tracker.example/4#inet#matador#block0"]}"#[..],
        br#"{"domains":["a.example\nserver=192.0.2.1"]}"#,
        br#"{"domains":["com"]}"#,
        br#"{"domain":["tracker.example"]}"#,
    ] {
        let reply = request(
            h.addr,
            &h.pin,
            "PUT",
            "/v1/aps/ap0/blocklist",
            Some(TOKEN),
            Some(body),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(*h.control.blocked.lock().unwrap(), vec!["doubleclick.net"]);
    let unknown = request(
        h.addr,
        &h.pin,
        "PUT",
        "/v1/aps/nope/blocklist",
        Some(TOKEN),
        Some(br#"{"domains":[]}"#),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn the_hosts_client_sets_reads_and_clears_a_blocklist() {
    let h = Harness::start(ApiLimits::default()).await;
    let c = h.client();
    let kept = c
        .set_blocklist("ap0", &["Tracker.Example".into(), "doubleclick.net".into()])
        .await
        .unwrap();
    assert_eq!(kept, vec!["doubleclick.net", "tracker.example"]);
    assert_eq!(c.blocklist("ap0").await.unwrap(), kept);
    // Refused by the client before anything is sent.
    assert!(c
        .set_blocklist("ap0", &["a/b.example".into()])
        .await
        .is_err());
    assert_eq!(c.blocklist("ap0").await.unwrap(), kept);
    c.clear_blocklist("ap0").await.unwrap();
    assert!(c.blocklist("ap0").await.unwrap().is_empty());
}
