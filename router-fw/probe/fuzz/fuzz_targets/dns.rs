#![no_main]
//! DNS messages: header, question, answers, names with compression pointers, the MobiScope
//! first address.

use libfuzzer_sys::fuzz_target;
use matador_probe::flows::names::dns::{DnsMessage, DnsName, RecordData};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = DnsMessage::parse(data) else {
        return;
    };
    let mut name = DnsName::new();
    let _ = msg.question(&mut name);
    let _ = msg.first_address(&mut name);
    if let Ok(answers) = msg.answers() {
        for record in answers.flatten() {
            let _ = msg.name_at(record.owner_at, &mut name);
            if let RecordData::Cname(at) = record.data {
                let _ = msg.name_at(at, &mut name);
            }
        }
    }
});
