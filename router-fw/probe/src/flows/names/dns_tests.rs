//! DNS parsing tests: CNAME chains, compression, hostile pointers, arbitrary bytes.

use super::*;
use crate::flows::messages::{dns_name, dns_query, dns_response, Answer};
use proptest::prelude::*;

fn resolve(msg: &[u8]) -> Result<Option<(String, IpAddr)>, DnsError> {
    let mut q = DnsName::new();
    let m = DnsMessage::parse(msg)?;
    Ok(m.first_address(&mut q)?.map(|a| (q.to_string(), a)))
}

#[test]
fn cname_chain_is_followed_to_its_address() {
    let msg = dns_response(
        1,
        "chat.app.example",
        &[
            Answer::Cname("chat.app.example".into(), "edge.cdn.example".into()),
            Answer::Cname("edge.cdn.example".into(), "pop7.cdn.example".into()),
            Answer::A("pop7.cdn.example".into(), [203, 0, 113, 7]),
            Answer::A("pop7.cdn.example".into(), [203, 0, 113, 8]),
        ],
    );
    assert_eq!(
        resolve(&msg).unwrap(),
        Some(("chat.app.example".into(), "203.0.113.7".parse().unwrap()))
    );
}

#[test]
fn chain_target_beats_an_earlier_unrelated_address() {
    let msg = dns_response(
        1,
        "a.example",
        &[
            Answer::A("other.example".into(), [192, 0, 2, 1]),
            Answer::Cname("a.example".into(), "B.example".into()),
            Answer::Aaaa("b.EXAMPLE".into(), "2001:db8::5".parse().unwrap()),
        ],
    );
    assert_eq!(
        resolve(&msg).unwrap().unwrap().1,
        "2001:db8::5".parse::<IpAddr>().unwrap()
    );
    // Without a match on the chain, the first address of the section.
    let msg = dns_response(
        1,
        "a.example",
        &[Answer::A("x.example".into(), [192, 0, 2, 9])],
    );
    assert_eq!(
        resolve(&msg).unwrap().unwrap().1,
        "192.0.2.9".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn queries_and_empty_answers_resolve_nothing() {
    assert_eq!(resolve(&dns_query(3, "a.example")).unwrap(), None);
    assert_eq!(resolve(&dns_response(3, "a.example", &[])).unwrap(), None);
}

#[test]
fn answers_iterate_in_order() {
    let msg = dns_response(
        1,
        "a.example",
        &[
            Answer::Cname("a.example".into(), "b.example".into()),
            Answer::A("b.example".into(), [192, 0, 2, 1]),
        ],
    );
    let m = DnsMessage::parse(&msg).unwrap();
    let records: Vec<Record> = m.answers().unwrap().map(|r| r.unwrap()).collect();
    let RecordData::Cname(at) = records[0].data else {
        panic!()
    };
    let mut name = DnsName::new();
    m.name_at(at, &mut name).unwrap();
    assert_eq!(name.to_string(), "b.example");
    assert_eq!(records[1].data, RecordData::A(Ipv4Addr::new(192, 0, 2, 1)));
}

#[test]
fn pointer_loops_and_forward_pointers_are_refused() {
    // A question whose name is a pointer to itself.
    let mut msg = vec![
        0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1,
    ];
    let mut out = DnsName::new();
    assert_eq!(read_name(&msg, 12, &mut out), Err(DnsError::PointerLoop));
    msg[13] = 14;
    assert_eq!(read_name(&msg, 12, &mut out), Err(DnsError::PointerLoop));
    // A long chain of backward pointers is cut off too.
    let mut long = vec![0u8; 12];
    long.extend(dns_name("a"));
    for i in 0..40u16 {
        let target = if i == 0 { 12 } else { 12 + 3 + 2 * (i - 1) };
        long.extend((0xc000 | target).to_be_bytes());
    }
    let last = long.len() - 2;
    assert_eq!(read_name(&long, last, &mut out), Err(DnsError::PointerLoop));
}

#[test]
fn overlong_names_are_refused() {
    let mut msg = vec![0u8; 12];
    for _ in 0..5 {
        msg.push(63);
        msg.extend([b'x'; 63]);
    }
    msg.push(0);
    let mut out = DnsName::new();
    assert_eq!(read_name(&msg, 12, &mut out), Err(DnsError::NameTooLong));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(m) = DnsMessage::parse(&data) {
            let mut q = DnsName::new();
            let _ = m.first_address(&mut q);
            if let Ok(answers) = m.answers() {
                for _ in answers {}
            }
        }
    }

    #[test]
    fn names_round_trip(labels in prop::collection::vec("[a-z0-9-]{1,20}", 1..6)) {
        let name = labels.join(".");
        let msg = dns_response(9, &name, &[Answer::A(name.clone(), [192, 0, 2, 3])]);
        let got = resolve(&msg).unwrap().unwrap();
        prop_assert_eq!(got.0, name);
    }

    #[test]
    fn mutated_responses_never_panic(at in 0usize..100, value in any::<u8>()) {
        let mut msg = dns_response(1, "a.example", &[
            Answer::Cname("a.example".into(), "b.example".into()),
            Answer::A("b.example".into(), [192, 0, 2, 1]),
        ]);
        let at = at % msg.len();
        msg[at] = value;
        let _ = resolve(&msg);
    }
}
