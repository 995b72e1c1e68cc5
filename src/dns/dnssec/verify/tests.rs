//! Verdicts on RRsets and denials signed here with a fresh ECDSA P-256 key
//! (hickory-proto's signer), at a fixed clock.

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, NSEC, NSEC3, RRSIG};
use hickory_proto::dnssec::{Algorithm, Nsec3HashAlgorithm, SigningKey, TBS};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{denial, next_hash, rrset};
use crate::dns::dnssec::{DenialVerdict, SignatureVerdict};
use crate::dns::AnswerStatus;

const NOW: u32 = 1_800_000_000;
const DAY: u32 = 86_400;

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn zone() -> Name {
    name("signed.example.")
}

fn owner() -> Name {
    name("_vlmcs._tcp.signed.example.")
}

struct Key {
    signer: EcdsaSigningKey,
    dnskey: DNSKEY,
    tag: u16,
}

impl Key {
    /// A DNSKEY set of this key alone.
    fn keys(&self) -> &[DNSKEY] {
        std::slice::from_ref(&self.dnskey)
    }
}

fn key() -> Key {
    let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).unwrap();
    let signer = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256).unwrap();
    let dnskey = DNSKEY::new(true, false, false, signer.to_public_key().unwrap());
    let tag = dnskey.calculate_key_tag().unwrap();
    Key {
        signer,
        dnskey,
        tag,
    }
}

fn srv_records() -> Vec<Record> {
    ["kms1.signed.example.", "kms2.signed.example."]
        .into_iter()
        .map(|target| {
            Record::from_rdata(
                owner(),
                3600,
                RData::SRV(SRV::new(0, 0, 1688, name(target))),
            )
        })
        .collect()
}

/// An RRSIG by `key` over `records` (all of `name`/`rtype`), valid from
/// `inception` to `expiration`.
fn sign(
    key: &Key,
    records: &[Record],
    name: &Name,
    rtype: RecordType,
    inception: u32,
    expiration: u32,
) -> Record {
    let rrsig = |signature| {
        RRSIG::new(
            rtype,
            Algorithm::ECDSAP256SHA256,
            name.num_labels(),
            3600,
            expiration,
            inception,
            key.tag,
            zone(),
            signature,
        )
    };
    let tbs = TBS::from_sig(name, DNSClass::IN, &rrsig(Vec::new()), records.iter()).unwrap();
    let rrsig = rrsig(key.signer.sign(&tbs).unwrap());
    Record::from_rdata(name.clone(), 3600, RData::DNSSEC(DNSSECRData::RRSIG(rrsig)))
}

fn signed_srv(key: &Key, inception: u32, expiration: u32) -> Vec<Record> {
    let mut records = srv_records();
    let rrsig = sign(
        key,
        &records,
        &owner(),
        RecordType::SRV,
        inception,
        expiration,
    );
    records.push(rrsig);
    records
}

fn verdict(records: &[Record], keys: &[DNSKEY]) -> SignatureVerdict {
    rrset(records, &owner(), RecordType::SRV, &zone(), keys, NOW)
}

#[test]
fn a_signature_by_a_zone_key_in_its_window_is_valid() {
    let key = key();
    let records = signed_srv(&key, NOW - DAY, NOW + 14 * DAY);
    assert_eq!(
        verdict(&records, key.keys()),
        SignatureVerdict::Valid {
            key_tag: key.tag,
            algorithm: "ECDSAP256SHA256".to_owned(),
            expiration: NOW + 14 * DAY,
        }
    );
}

#[test]
fn a_changed_record_makes_the_signature_bogus() {
    let key = key();
    let mut records = signed_srv(&key, NOW - DAY, NOW + DAY);
    records[0] = Record::from_rdata(
        owner(),
        3600,
        RData::SRV(SRV::new(0, 0, 1688, name("rogue.signed.example."))),
    );
    assert!(matches!(
        verdict(&records, key.keys()),
        SignatureVerdict::Bogus { key_tag, .. } if key_tag == key.tag
    ));
}

#[test]
fn signatures_out_of_their_window_are_expired_or_not_yet_valid() {
    let key = key();
    let expired = signed_srv(&key, NOW - 30 * DAY, NOW - DAY);
    assert_eq!(
        verdict(&expired, key.keys()),
        SignatureVerdict::Expired {
            key_tag: key.tag,
            expiration: NOW - DAY
        }
    );
    let early = signed_srv(&key, NOW + DAY, NOW + 30 * DAY);
    assert_eq!(
        verdict(&early, key.keys()),
        SignatureVerdict::NotYetValid {
            key_tag: key.tag,
            inception: NOW + DAY
        }
    );
}

#[test]
fn one_valid_signature_is_enough_and_the_best_verdict_wins() {
    let (old, new) = (key(), key());
    let mut records = signed_srv(&old, NOW - 30 * DAY, NOW - DAY);
    records.push(sign(
        &new,
        &srv_records(),
        &owner(),
        RecordType::SRV,
        NOW - DAY,
        NOW + DAY,
    ));
    let keys = [old.dnskey.clone(), new.dnskey.clone()];
    assert!(matches!(
        verdict(&records, &keys),
        SignatureVerdict::Valid { key_tag, .. } if key_tag == new.tag
    ));
}

#[test]
fn no_signature_or_a_key_outside_the_set_is_missing() {
    let (key, stranger) = (key(), key());
    assert_eq!(
        verdict(&srv_records(), key.keys()),
        SignatureVerdict::Missing
    );
    let records = signed_srv(&stranger, NOW - DAY, NOW + DAY);
    assert_eq!(
        verdict(&records, key.keys()),
        SignatureVerdict::UnknownKey {
            key_tag: stranger.tag
        }
    );
}

#[test]
fn a_key_without_the_zone_flag_signs_nothing() {
    let key = key();
    let records = signed_srv(&key, NOW - DAY, NOW + DAY);
    let not_zone = DNSKEY::with_flags(0, key.dnskey.public_key().clone());
    assert!(matches!(
        verdict(&records, &[not_zone]),
        SignatureVerdict::UnknownKey { .. }
    ));
}

/// The NSEC at `owner` pointing at `next` with `types`, signed by `key`.
fn signed_nsec(key: &Key, owner: &Name, next: &str, types: Vec<RecordType>) -> Vec<Record> {
    let nsec = Record::from_rdata(
        owner.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(name(next), types))),
    );
    let rrsig = sign(
        key,
        std::slice::from_ref(&nsec),
        owner,
        RecordType::NSEC,
        NOW - DAY,
        NOW + DAY,
    );
    vec![nsec, rrsig]
}

/// The verdict on a negative answer for the SRV RRset.
fn deny(authority: &[Record], status: AnswerStatus, keys: &[DNSKEY]) -> DenialVerdict {
    denial(
        authority,
        &owner(),
        RecordType::SRV,
        status,
        &zone(),
        keys,
        NOW,
    )
}

#[test]
fn nodata_is_proven_by_a_signed_nsec_without_the_type() {
    let key = key();
    let keys = [key.dnskey.clone()];
    let authority = signed_nsec(&key, &owner(), "zz.signed.example.", vec![RecordType::TXT]);
    let proven = deny(&authority, AnswerStatus::NoData, &keys);
    assert_eq!(proven, DenialVerdict::Proven { key_tag: key.tag });

    let listed = signed_nsec(&key, &owner(), "zz.signed.example.", vec![RecordType::SRV]);
    let bogus = deny(&listed, AnswerStatus::NoData, &keys);
    assert!(matches!(bogus, DenialVerdict::Bogus { .. }), "{bogus:?}");
}

#[test]
fn a_denial_without_nsec_or_with_a_bad_signature_is_bogus() {
    let key = key();
    let keys = [key.dnskey.clone()];
    let none = denial(
        &[],
        &owner(),
        RecordType::SRV,
        AnswerStatus::NxDomain,
        &zone(),
        &keys,
        NOW,
    );
    assert!(matches!(none, DenialVerdict::Bogus { key_tag: None, .. }));

    // The NSEC said another next name when it was signed.
    let mut authority = signed_nsec(&key, &zone(), "a.signed.example.", vec![RecordType::SOA]);
    authority[0] = Record::from_rdata(
        zone(),
        3600,
        RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(
            name("zz.signed.example."),
            vec![RecordType::SOA],
        ))),
    );
    let forged = deny(&authority, AnswerStatus::NxDomain, &keys);
    assert!(
        matches!(forged, DenialVerdict::Bogus { key_tag: Some(tag), .. } if tag == key.tag),
        "{forged:?}"
    );
}

#[test]
fn nxdomain_is_proven_by_a_covering_nsec() {
    let key = key();
    let keys = [key.dnskey.clone()];
    // The apex's NSEC spans the whole zone: it covers the name and the
    // wildcard.
    let authority = signed_nsec(
        &key,
        &zone(),
        "zz.signed.example.",
        vec![RecordType::SOA, RecordType::NS],
    );
    let proven = deny(&authority, AnswerStatus::NxDomain, &keys);
    assert_eq!(proven, DenialVerdict::Proven { key_tag: key.tag });

    // An NSEC that covers another stretch proves nothing here.
    let elsewhere = signed_nsec(
        &key,
        &name("zz.signed.example."),
        "zzz.signed.example.",
        vec![RecordType::A],
    );
    let bogus = deny(&elsewhere, AnswerStatus::NxDomain, &keys);
    assert!(matches!(bogus, DenialVerdict::Bogus { .. }), "{bogus:?}");
}

#[test]
fn a_records_of_a_target_verify_like_srv() {
    let key = key();
    let target = name("kms1.signed.example.");
    let mut records = vec![Record::from_rdata(
        target.clone(),
        3600,
        RData::A(A::new(192, 0, 2, 1)),
    )];
    records.push(sign(
        &key,
        &records,
        &target,
        RecordType::A,
        NOW - DAY,
        NOW + DAY,
    ));
    assert!(matches!(
        rrset(&records, &target, RecordType::A, &zone(), key.keys(), NOW),
        SignatureVerdict::Valid { .. }
    ));
}

/// The NSEC3 hash of `name` (SHA-1, no salt, no extra iterations, as
/// `nsec3param iterations 0 optout no salt-length 0` makes BIND use).
fn nsec3_hash(name: &Name) -> Vec<u8> {
    Nsec3HashAlgorithm::SHA1
        .hash(&[], name, 0)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The owner name of the NSEC3 record for `hash`: its base32hex label in
/// the zone.
fn nsec3_owner(hash: &[u8]) -> Name {
    let carrier = NSEC3::new(
        Nsec3HashAlgorithm::SHA1,
        false,
        0,
        Vec::new(),
        hash.to_vec(),
        [],
    );
    let label = next_hash(&carrier).unwrap();
    name(&format!("{label}.signed.example."))
}

/// A hash just before (`step` = -1) or just after (+1) `hash`.
fn beside(hash: &[u8], step: i8) -> Vec<u8> {
    let mut out = hash.to_vec();
    let (edge, reset) = if step < 0 { (0x00, 0xff) } else { (0xff, 0x00) };
    let at = out.iter().rposition(|b| *b != edge).unwrap();
    out[at] = out[at].wrapping_add_signed(step);
    for byte in &mut out[at + 1..] {
        *byte = reset;
    }
    out
}

/// The NSEC3 record with hash `owner`, pointing at `next`, with `types`,
/// signed by `key`.
fn signed_nsec3(key: &Key, owner: &[u8], next: &[u8], types: Vec<RecordType>) -> Vec<Record> {
    let owner = nsec3_owner(owner);
    let nsec3 = NSEC3::new(
        Nsec3HashAlgorithm::SHA1,
        false,
        0,
        Vec::new(),
        next.to_vec(),
        types,
    );
    let record = Record::from_rdata(
        owner.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::NSEC3(nsec3)),
    );
    let rrsig = sign(
        key,
        std::slice::from_ref(&record),
        &owner,
        RecordType::NSEC3,
        NOW - DAY,
        NOW + DAY,
    );
    vec![record, rrsig]
}

#[test]
fn nodata_is_proven_by_a_signed_nsec3_matching_the_name_without_the_type() {
    let key = key();
    let keys = [key.dnskey.clone()];
    let hash = nsec3_hash(&owner());
    let next = beside(&hash, 1);
    let authority = signed_nsec3(&key, &hash, &next, vec![RecordType::TXT]);
    let proven = deny(&authority, AnswerStatus::NoData, &keys);
    assert_eq!(proven, DenialVerdict::Proven { key_tag: key.tag });

    let listed = signed_nsec3(&key, &hash, &next, vec![RecordType::SRV]);
    let bogus = deny(&listed, AnswerStatus::NoData, &keys);
    assert!(matches!(bogus, DenialVerdict::Bogus { .. }), "{bogus:?}");

    // An NSEC3 of another name proves nothing about this one.
    let other = nsec3_hash(&name("kms1.signed.example."));
    let elsewhere = signed_nsec3(&key, &other, &beside(&other, 1), vec![RecordType::TXT]);
    let bogus = deny(&elsewhere, AnswerStatus::NoData, &keys);
    assert!(matches!(bogus, DenialVerdict::Bogus { .. }), "{bogus:?}");
}

#[test]
fn nxdomain_is_proven_by_a_closest_encloser_and_a_covering_nsec3() {
    let key = key();
    let keys = [key.dnskey.clone()];
    // _vlmcs._tcp.signed.example. does not exist: the apex is its closest
    // encloser, _tcp.signed.example. the next closer name.
    let apex = nsec3_hash(&zone());
    let next_closer = nsec3_hash(&name("_tcp.signed.example."));
    let encloser = signed_nsec3(&key, &apex, &beside(&apex, 1), vec![RecordType::SOA]);
    let covering = signed_nsec3(
        &key,
        &beside(&next_closer, -1),
        &beside(&next_closer, 1),
        vec![RecordType::A],
    );
    let authority: Vec<Record> = encloser.iter().chain(&covering).cloned().collect();
    let proven = deny(&authority, AnswerStatus::NxDomain, &keys);
    assert_eq!(proven, DenialVerdict::Proven { key_tag: key.tag });

    // Without the covering record, or without the encloser, no proof.
    let bogus = deny(&encloser, AnswerStatus::NxDomain, &keys);
    assert!(matches!(bogus, DenialVerdict::Bogus { .. }), "{bogus:?}");
    let bogus = deny(&covering, AnswerStatus::NxDomain, &keys);
    assert!(matches!(bogus, DenialVerdict::Bogus { .. }), "{bogus:?}");

    // A covering record whose signature no longer matches it.
    let mut forged = authority.clone();
    forged[2] = Record::from_rdata(
        forged[2].name().clone(),
        3600,
        RData::DNSSEC(DNSSECRData::NSEC3(NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            false,
            0,
            Vec::new(),
            beside(&next_closer, 1),
            vec![RecordType::AAAA],
        ))),
    );
    let bogus = deny(&forged, AnswerStatus::NxDomain, &keys);
    assert!(
        matches!(bogus, DenialVerdict::Bogus { key_tag: Some(tag), .. } if tag == key.tag),
        "{bogus:?}"
    );
}
