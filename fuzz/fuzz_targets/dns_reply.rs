//! Fuzzes kmsdns's interpretation of the DNS replies it receives: the
//! transport's match against the request, `Response::status`,
//! `records_of` and `zone_soa`, and for a signed UPDATE the TSIG verdict
//! and the outcome (`kmsdns::dns::fuzzing::read_reply`, which asserts the
//! promises the commands rest on).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kmsdns::dns::fuzzing::read_reply(data);
});
