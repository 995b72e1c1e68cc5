//! An entry point for the fuzz target `fuzz/fuzz_targets/dns_reply.rs`:
//! kmsdns's reading of a DNS reply it receives, run on bytes without a
//! network. It is public only so that the fuzz crate can reach it.
//!
//! A reply is untrusted input (DESIGN §7). [`read_reply`] takes the bytes
//! through every check kmsdns applies to a reply — the transport's match
//! against the request (RFC 5452 §9.1), [`Response::status`],
//! [`Response::records_of`] and [`Response::zone_soa`] (RFC 2308), and for
//! an UPDATE the TSIG verdict (RFC 8945 §5.3) and the outcome — and asserts
//! the promises the commands rest on, so that a broken promise is a crash
//! the fuzzer reports, not only a panic.

use std::net::{Ipv4Addr, SocketAddr};

use hickory_proto::dnssec::rdata::tsig::{make_tsig_record, message_tbs, TsigAlgorithm as Wire};
use hickory_proto::dnssec::rdata::{DNSSECRData, TSIG};
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{SOA, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::query::{exchanged_message, into_response, Recursion, ReplyError, Response};
use super::resolver::AnswerStatus;
use super::transport::{check_reply, Checked, Exchanged, Expect, Transport};
use super::tsig::{Signer, TsigVerdict};
use super::update::{build_zone_update, judge, Expected, UpdateRequest};
use crate::dns::credentials::{KeyOrigin, Secret, TsigAlgorithm, TsigKey};

/// The clock the TSIG time check is judged against (seconds since 1970),
/// and the time the request is signed at: fixed, so that a run repeats.
pub const FUZZ_NOW: u32 = 1_700_000_000;

/// The server every reply is said to come from.
const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 53, 0, 1)), 53);

/// The throwaway key the UPDATE is signed with: it guards nothing.
const FUZZ_SECRET: &[u8] = b"kmsdns-fuzz-key-guards-nothing!!";

fn name(text: &str) -> Name {
    // Constant, valid names: the root is only there so the fallback is a
    // value, not a panic.
    Name::from_ascii(text).unwrap_or_else(|_| Name::root())
}

fn fuzz_key() -> TsigKey {
    TsigKey {
        name: name("kmsdns-fuzz."),
        algorithm: TsigAlgorithm::HmacSha256,
        secret: Secret::new(FUZZ_SECRET.to_vec()),
        origin: KeyOrigin::Env("KMSDNS_FUZZ".to_owned()),
    }
}

fn update_request() -> UpdateRequest {
    let owner = name("_vlmcs._tcp.corp.example.");
    let srv = SRV::new(0, 0, 1688, name("kms1.corp.example."));
    UpdateRequest {
        zone: name("corp.example."),
        name: owner.clone(),
        expected: Expected::Absent,
        delete: Vec::new(),
        add: vec![Record::from_rdata(owner, 3600, RData::SRV(srv))],
    }
}

/// The signed UPDATE with message ID `id` that the reply answers.
fn signed_update(id: u16) -> Option<(Message, super::tsig::ReplyVerifier)> {
    let mut message = build_zone_update(&[update_request()], id).ok()?;
    let verifier = Signer::new(&fuzz_key()).sign(&mut message, FUZZ_NOW).ok()?;
    Some((message, verifier))
}

/// Reads `bytes` as the reply to an SRV query and as the reply to a signed
/// UPDATE, the message ID taken from the bytes so that most inputs get past
/// the ID check. Panics only when a promise is broken.
pub fn read_reply(bytes: &[u8]) {
    let id = match bytes {
        [high, low, ..] => u16::from_be_bytes([*high, *low]),
        _ => 0,
    };
    read_query_reply(bytes, id);
    read_update_reply(bytes, id);
}

fn read_query_reply(bytes: &[u8], id: u16) {
    let fixed = Query::query(name("_vlmcs._tcp.corp.example."), RecordType::SRV);
    // Also the reply's own question, so that replies about any name and
    // type reach the readers below.
    let own = Message::from_vec(bytes)
        .ok()
        .and_then(|message| message.queries().first().cloned());
    for question in std::iter::once(fixed).chain(own) {
        let expect = Expect {
            id,
            op_code: OpCode::Query,
            question: &question,
        };
        let Checked::Reply { message, truncated } = check_reply(bytes, &expect) else {
            continue;
        };
        if let Some(message) = &message {
            assert_eq!(message.id(), id, "a reply with another ID was accepted");
            assert_eq!(message.message_type(), MessageType::Response);
            assert_eq!(message.op_code(), OpCode::Query);
        }
        for transport in [Transport::Udp, Transport::Tcp] {
            let exchanged = Exchanged {
                bytes: bytes.to_vec(),
                message: message.clone(),
                truncated,
                transport,
                sends: 1,
                discarded: 0,
            };
            // query.rs: a truncated UDP reply is never read (TCP follows).
            let Some(message) = exchanged_message(exchanged) else {
                assert!(transport == Transport::Udp && truncated || message.is_none());
                continue;
            };
            for recursion in [Recursion::NotDesired, Recursion::Desired] {
                let response = into_response(
                    SERVER,
                    question.name().clone(),
                    question.query_type(),
                    recursion,
                    message.clone(),
                    transport,
                );
                read_response(&response);
            }
        }
    }
}

/// The promises of [`Response`]: a reply that does not say whether records
/// exist is never read as "no records", and what is read is what was asked.
fn read_response(response: &Response) {
    let status = response.status();
    let records = response.records_of(response.name(), response.record_type());
    assert_eq!(
        status.is_ok(),
        records.is_ok(),
        "records_of must fail exactly when status does"
    );
    match status {
        Ok(AnswerStatus::Records | AnswerStatus::NoData | AnswerStatus::NxDomain) => {
            assert_eq!(
                response.rcode() == ResponseCode::NXDomain,
                status == Ok(AnswerStatus::NxDomain)
            );
            if response.recursion() == Recursion::NotDesired {
                assert!(
                    response.is_authoritative(),
                    "a non-authoritative reply was read"
                );
            }
        }
        // A NOERROR that does not answer the question is refused as such.
        Err(ReplyError::NotAnAnswer { .. }) => {
            assert_eq!(response.rcode(), ResponseCode::NoError)
        }
        Err(_) => assert!(
            response.rcode() != ResponseCode::NoError && response.rcode() != ResponseCode::NXDomain
                || response.recursion() == Recursion::NotDesired && !response.is_authoritative()
        ),
    }
    if let Ok(records) = &records {
        if status == Ok(AnswerStatus::NxDomain) || status == Ok(AnswerStatus::NoData) {
            assert!(records.is_empty(), "records read from a negative answer");
        }
        for record in records {
            assert_eq!(record.name(), response.name());
            assert_eq!(record.record_type(), response.record_type());
            assert_eq!(record.dns_class(), DNSClass::IN);
        }
    }
    if let Ok(srv) = response.records_of(response.name(), RecordType::SRV) {
        for record in &srv {
            // What check and plan do with each record.
            if let RData::SRV(data) = record.data() {
                let _ = (data.priority(), data.weight(), data.port());
                let _ = data.target().to_utf8();
            }
        }
    }
    let _ = response.question_records();
    if let Some((zone, soa)) = response.zone_soa() {
        let in_answers = response
            .answers()
            .iter()
            .any(|r| r.name() == zone && r.name() == response.name());
        let in_authority = response.authority().iter().any(|r| r.name() == zone);
        assert!(in_answers || in_authority, "an SOA from nowhere");
        let _ = read_soa(soa);
    }
}

fn read_soa(soa: &SOA) -> (String, u32) {
    (soa.mname().to_utf8(), soa.serial())
}

fn read_update_reply(bytes: &[u8], id: u16) {
    let Some((request_message, _)) = signed_update(id) else {
        return;
    };
    let Some(zone_section) = request_message.queries().first().cloned() else {
        return;
    };
    let expect = Expect {
        id,
        op_code: OpCode::Update,
        question: &zone_section,
    };
    let Checked::Reply { message, truncated } = check_reply(bytes, &expect) else {
        return;
    };
    let request = update_request();
    let key = fuzz_key();
    for signed in [false, true] {
        let Some((_, verifier)) = signed_update(id) else {
            return;
        };
        let verdict = message
            .as_ref()
            .map(|reply| verifier.check_at(bytes, reply, u64::from(FUZZ_NOW)));
        let exchanged = Exchanged {
            bytes: bytes.to_vec(),
            message: message.clone(),
            truncated,
            transport: Transport::Tcp,
            sends: 1,
            discarded: 0,
        };
        let (key, verifier) = if signed {
            (Some(&key), Some(&verifier))
        } else {
            (None, None)
        };
        let outcome = judge(
            &request.zone,
            &request.name,
            key,
            SERVER,
            exchanged,
            1,
            verifier,
        );
        if let Ok(applied) = &outcome {
            let reply = message.as_ref().expect("an outcome from a parsed reply");
            assert_eq!(
                reply.response_code(),
                ResponseCode::NoError,
                "success without NOERROR"
            );
            // A signed update succeeds only on a reply signed with our key
            // (judge checks against the real clock; the fixed-time verdict
            // must agree that the MAC verifies).
            assert_eq!(applied.signed, signed);
            if signed {
                assert!(
                    matches!(
                        verdict,
                        Some(TsigVerdict::Verified | TsigVerdict::Invalid(_))
                    ),
                    "success on a reply that is not signed with our key: {verdict:?}"
                );
            }
        }
    }
}

/// Replies to seed the fuzzer with, by file name: an SRV answer, NODATA,
/// NXDOMAIN with its SOA, REFUSED, a truncated reply, and replies to the
/// signed UPDATE of message ID 0x4b4d: success signed with the fuzz key at
/// [`FUZZ_NOW`], BIND's BADSIG rejection, and an unsigned success.
pub fn seed_replies() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    let owner = name("_vlmcs._tcp.corp.example.");
    let question = Query::query(owner.clone(), RecordType::SRV);
    let reply = |rcode: ResponseCode, answers: Vec<Record>, authority: Vec<Record>| {
        let mut message = Message::new();
        message
            .set_id(0x4b4d)
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Query)
            .set_authoritative(true)
            .set_response_code(rcode)
            .add_query(question.clone())
            .add_answers(answers)
            .add_name_servers(authority);
        message
    };
    let srv = |priority, weight, target: &str| {
        Record::from_rdata(
            owner.clone(),
            3600,
            RData::SRV(SRV::new(priority, weight, 1688, name(target))),
        )
    };
    let soa = Record::from_rdata(
        name("corp.example."),
        60,
        RData::SOA(SOA::new(
            name("ns1.corp.example."),
            name("hostmaster.corp.example."),
            2024010101,
            3600,
            600,
            86400,
            60,
        )),
    );
    let mut push = |file, message: Message| {
        if let Ok(bytes) = message.to_vec() {
            seeds.push((file, bytes));
        }
    };
    push(
        "srv-answer",
        reply(
            ResponseCode::NoError,
            vec![
                srv(0, 60, "kms1.corp.example."),
                srv(10, 0, "kms2.corp.example."),
            ],
            Vec::new(),
        ),
    );
    push(
        "nodata",
        reply(ResponseCode::NoError, Vec::new(), vec![soa.clone()]),
    );
    push(
        "nxdomain",
        reply(ResponseCode::NXDomain, Vec::new(), vec![soa]),
    );
    push(
        "refused",
        reply(ResponseCode::Refused, Vec::new(), Vec::new()),
    );
    let mut truncated = reply(ResponseCode::NoError, Vec::new(), Vec::new());
    truncated.set_truncated(true);
    push("truncated", truncated);

    if let Some((request, _)) = signed_update(0x4b4d) {
        let update_reply = |rcode| {
            let mut message = Message::new();
            message
                .set_id(0x4b4d)
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Update)
                .set_response_code(rcode)
                .add_queries(request.queries().to_vec());
            message
        };
        push(
            "update-unsigned-noerror",
            update_reply(ResponseCode::NoError),
        );
        let request_mac = match request.signature().last().map(Record::data) {
            Some(RData::DNSSEC(DNSSECRData::TSIG(tsig))) => tsig.mac().to_vec(),
            _ => Vec::new(),
        };
        let key_name = name("kmsdns-fuzz.");
        let unsigned = TSIG::new(
            Wire::HmacSha256,
            u64::from(FUZZ_NOW),
            300,
            Vec::new(),
            0x4b4d,
            0,
            Vec::new(),
        );
        let mut signed = update_reply(ResponseCode::NoError);
        let mac = message_tbs(Some(&request_mac), &signed, &unsigned, &key_name)
            .ok()
            .and_then(|covered| {
                let signer = TSigner::new(
                    FUZZ_SECRET.to_vec(),
                    Wire::HmacSha256,
                    key_name.clone(),
                    300,
                )
                .ok()?;
                signer.sign(&covered).ok()
            });
        if let Some(mac) = mac {
            signed.add_tsig(make_tsig_record(key_name.clone(), unsigned.set_mac(mac)));
            push("update-signed-noerror", signed);
        }
        let mut badsig = update_reply(ResponseCode::NotAuth);
        badsig.add_tsig(make_tsig_record(
            key_name,
            TSIG::new(
                Wire::HmacSha256,
                u64::from(FUZZ_NOW),
                300,
                Vec::new(),
                0x4b4d,
                16,
                Vec::new(),
            ),
        ));
        push("update-badsig", badsig);
    }
    seeds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(file: &str) -> Vec<u8> {
        seed_replies()
            .into_iter()
            .find(|(name, _)| *name == file)
            .map(|(_, bytes)| bytes)
            .unwrap_or_else(|| panic!("no seed {file}"))
    }

    #[test]
    fn every_seed_reads_without_breaking_a_promise() {
        let seeds = seed_replies();
        assert_eq!(seeds.len(), 8);
        for (_, bytes) in seeds {
            read_reply(&bytes);
        }
    }

    #[test]
    fn records_beside_nxdomain_are_not_read() {
        // The SRV answer with its RCODE (low 4 bits of byte 3) set to 3,
        // NXDOMAIN: the name does not exist, whatever the answer section
        // holds.
        let mut bytes = seed("srv-answer");
        bytes[3] = (bytes[3] & 0xf0) | 3;
        read_reply(&bytes);
    }

    #[test]
    fn the_signed_seed_verifies_with_the_fuzz_key_at_the_fixed_time() {
        let bytes = seed("update-signed-noerror");
        let message = Message::from_vec(&bytes).unwrap();
        let (_, verifier) = signed_update(0x4b4d).unwrap();
        assert_eq!(
            verifier.check_at(&bytes, &message, u64::from(FUZZ_NOW)),
            TsigVerdict::Verified
        );
        let bytes = seed("update-badsig");
        let message = Message::from_vec(&bytes).unwrap();
        assert!(matches!(
            verifier.check_at(&bytes, &message, u64::from(FUZZ_NOW)),
            TsigVerdict::Rejected(Some(_))
        ));
    }

    /// Writes the seeds into `$KMSDNS_FUZZ_SEEDS` (the fuzz corpus
    /// directory): `KMSDNS_FUZZ_SEEDS=fuzz/corpus/dns_reply cargo test
    /// write_seed_replies -- --ignored`.
    #[test]
    #[ignore = "writes files; run by hand to refresh the fuzz corpus"]
    fn write_seed_replies() {
        let dir = std::env::var("KMSDNS_FUZZ_SEEDS").expect("set KMSDNS_FUZZ_SEEDS");
        for (file, bytes) in seed_replies() {
            std::fs::write(std::path::Path::new(&dir).join(file), bytes).unwrap();
        }
    }
}
