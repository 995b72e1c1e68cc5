//! Pure DNSSEC verification of what one server sent (RFC 4035 §5.3,
//! §5.4): the RRSIGs over one RRset against the zone's DNSKEY set, and the
//! NSEC (RFC 4034 §4) or NSEC3 (RFC 5155 §8) records of a denial.
//!
//! The cryptography, the to-be-signed form (RFC 4034 §3.1.8.1, canonical
//! order and names) and the NSEC proof are hickory-proto's, with ring.
//! Time is an argument, so every verdict can be tested with a fixed clock.

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, NSEC, NSEC3, RRSIG};
use hickory_proto::dnssec::{verify_nsec, Proof, Verifier};
use hickory_proto::op::Query;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{DenialVerdict, SignatureVerdict};
use crate::dns::AnswerStatus;

/// Whether RFC 1982 serial `a` comes after `b` (RFC 4034 §3.1.5: RRSIG
/// times are serial numbers, so they survive 2106).
fn after(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// The RRSIG records over `name`/`rtype` in `records`.
fn rrsigs<'a>(
    records: &'a [Record],
    name: &'a Name,
    rtype: RecordType,
) -> impl Iterator<Item = &'a RRSIG> + 'a {
    records
        .iter()
        .filter_map(move |record| match record.data() {
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig))
                if record.name() == name && rrsig.type_covered() == rtype =>
            {
                Some(rrsig)
            }
            _ => None,
        })
}

/// The zone keys of `keys` that may have made `rrsig` (RFC 4035 §5.3.1:
/// same algorithm and key tag, the zone key flag set, not revoked).
fn candidate_keys<'a>(keys: &'a [DNSKEY], rrsig: &RRSIG) -> Vec<&'a DNSKEY> {
    keys.iter()
        .filter(|key| key.zone_key() && !key.revoke())
        .filter(|key| key.algorithm() == rrsig.algorithm())
        .filter(|key| key.calculate_key_tag().ok() == Some(rrsig.key_tag()))
        .collect()
}

/// What one RRSIG says about the RRset at `name`.
fn one_signature(
    rrsig: &RRSIG,
    name: &Name,
    rrset: &[Record],
    keys: &[DNSKEY],
    now: u32,
) -> SignatureVerdict {
    let key_tag = rrsig.key_tag();
    let algorithm = rrsig.algorithm();
    if !algorithm.is_supported() {
        return SignatureVerdict::Unsupported {
            key_tag,
            algorithm: algorithm.to_string(),
        };
    }
    let candidates = candidate_keys(keys, rrsig);
    if candidates.is_empty() {
        return SignatureVerdict::UnknownKey { key_tag };
    }
    // Key tags collide (RFC 4034 Appendix B): any key with the tag will do.
    let mut failure = String::new();
    let verified = candidates.iter().any(|key| {
        match key.verify_rrsig(name, DNSClass::IN, rrsig, rrset.iter()) {
            Ok(()) => true,
            Err(error) => {
                // ring says only "Unspecified" for a signature that does
                // not match; anything else (a malformed key) is worth
                // quoting.
                let text = error.to_string();
                failure = if text.contains("Unspecified") {
                    "it does not match the RRset served".to_owned()
                } else {
                    text
                };
                false
            }
        }
    });
    if !verified {
        return SignatureVerdict::Bogus {
            key_tag,
            reason: failure,
        };
    }
    let (inception, expiration) = (rrsig.sig_inception().get(), rrsig.sig_expiration().get());
    if after(inception, now) {
        SignatureVerdict::NotYetValid { key_tag, inception }
    } else if after(now, expiration) {
        SignatureVerdict::Expired {
            key_tag,
            expiration,
        }
    } else {
        SignatureVerdict::Valid {
            key_tag,
            algorithm: algorithm.to_string(),
            expiration,
        }
    }
}

/// The verdict on the RRset `name`/`rtype` among `records` (an answer or
/// authority section), signed by `zone` with one of `keys`, at `now`
/// (seconds since the epoch, mod 2^32).
///
/// One valid signature is enough (RFC 4035 §5.3.3); when none is valid,
/// the verdict is the one a signature came closest with: a signature that
/// verifies but is out of its window, then one that does not verify, then
/// one of an algorithm not verified here, then one by a key the DNSKEY set
/// lacks.
pub fn rrset(
    records: &[Record],
    name: &Name,
    rtype: RecordType,
    zone: &Name,
    keys: &[DNSKEY],
    now: u32,
) -> SignatureVerdict {
    let rrset: Vec<Record> = records
        .iter()
        .filter(|r| r.name() == name && r.record_type() == rtype)
        .cloned()
        .collect();
    let verdicts: Vec<SignatureVerdict> = rrsigs(records, name, rtype)
        .filter(|rrsig| rrsig.signer_name() == zone)
        .map(|rrsig| one_signature(rrsig, name, &rrset, keys, now))
        .collect();
    verdicts
        .into_iter()
        .max_by_key(|verdict| match verdict {
            SignatureVerdict::Valid { expiration, .. } => (6, *expiration),
            SignatureVerdict::Expired { .. } | SignatureVerdict::NotYetValid { .. } => (5, 0),
            SignatureVerdict::Bogus { .. } => (4, 0),
            SignatureVerdict::Unsupported { .. } => (3, 0),
            SignatureVerdict::UnknownKey { .. } => (2, 0),
            SignatureVerdict::Missing => (1, 0),
        })
        .unwrap_or(SignatureVerdict::Missing)
}

/// The verdict on a negative answer for `name`/`rtype` (RFC 4035 §5.4):
/// the NSEC or NSEC3 RRsets of `authority` must each carry a valid
/// signature, and together prove the denial.
pub fn denial(
    authority: &[Record],
    name: &Name,
    rtype: RecordType,
    status: AnswerStatus,
    zone: &Name,
    keys: &[DNSKEY],
    now: u32,
) -> DenialVerdict {
    let mut owners: Vec<(&Name, RecordType)> = Vec::new();
    for record in authority {
        let rtype = record.record_type();
        if matches!(rtype, RecordType::NSEC | RecordType::NSEC3)
            && !owners.contains(&(record.name(), rtype))
        {
            owners.push((record.name(), rtype));
        }
    }
    if owners.is_empty() {
        return DenialVerdict::Bogus {
            key_tag: None,
            reason: "no NSEC or NSEC3 record comes with it".to_owned(),
        };
    }
    let mut key_tag = None;
    for (owner, kind) in &owners {
        match rrset(authority, owner, *kind, zone, keys, now) {
            SignatureVerdict::Valid { key_tag: tag, .. } => key_tag = Some(tag),
            verdict => {
                return DenialVerdict::Bogus {
                    key_tag: verdict.key_tag(),
                    reason: format!("the {kind} record at {owner}: {}", verdict.describe()),
                }
            }
        }
    }
    let proven = if owners.iter().any(|(_, kind)| *kind == RecordType::NSEC) {
        nsec_proves(authority, name, rtype, zone)
    } else {
        nsec3_proves(authority, name, rtype, status, zone)
    };
    match (proven, key_tag) {
        (Ok(()), Some(key_tag)) => DenialVerdict::Proven { key_tag },
        (Err(reason), key_tag) => DenialVerdict::Bogus { key_tag, reason },
        (Ok(()), None) => DenialVerdict::Bogus {
            key_tag: None,
            reason: "no signed NSEC or NSEC3 record".to_owned(),
        },
    }
}

/// RFC 4035 §5.4 with NSEC: hickory's proof (a matching NSEC without the
/// type, or a covering NSEC and no wildcard).
fn nsec_proves(
    authority: &[Record],
    name: &Name,
    rtype: RecordType,
    zone: &Name,
) -> Result<(), String> {
    let nsecs: Vec<(&Name, &NSEC)> = authority
        .iter()
        .filter_map(|record| match record.data() {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some((record.name(), nsec)),
            _ => None,
        })
        .collect();
    match verify_nsec(&Query::query(name.clone(), rtype), zone, &nsecs) {
        Proof::Secure => Ok(()),
        _ => Err(format!(
            "the NSEC records do not prove that {name} {rtype} does not exist"
        )),
    }
}

/// One NSEC3 record of a reply, with its owner's hash label.
struct Nsec3<'a> {
    /// The first label of the owner: the base32hex hash (RFC 5155 §3).
    hash: String,
    nsec3: &'a NSEC3,
}

/// RFC 5155 §8.5–8.6 with NSEC3: NODATA needs an NSEC3 matching the name
/// without the type; NXDOMAIN a closest encloser that matches and an NSEC3
/// that covers the next closer name. The wildcard part of the proof (§8.4)
/// and opt-out are not checked.
fn nsec3_proves(
    authority: &[Record],
    name: &Name,
    rtype: RecordType,
    status: AnswerStatus,
    zone: &Name,
) -> Result<(), String> {
    let records: Vec<Nsec3<'_>> = authority
        .iter()
        .filter_map(|record| match record.data() {
            RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) => Some(Nsec3 {
                hash: record.name().iter().next().map(lower)?,
                nsec3,
            }),
            _ => None,
        })
        .collect();
    let Some(params) = records.first().map(|r| r.nsec3) else {
        return Err("no NSEC3 record".to_owned());
    };
    let hash = |name: &Name| hash_label(params, name);
    let matching = |name: &Name| {
        let hash = hash(name)?;
        records.iter().find(|r| Some(&r.hash) == Some(&hash))
    };
    if status == AnswerStatus::NoData {
        return match matching(name) {
            Some(r)
                if !r
                    .nsec3
                    .type_bit_maps()
                    .any(|t| t == rtype || t == RecordType::CNAME) =>
            {
                Ok(())
            }
            Some(_) => Err(format!("the NSEC3 record of {name} lists {rtype}")),
            None => Err(format!("no NSEC3 record matches {name}")),
        };
    }
    // The closest encloser: the longest ancestor that exists, proven by a
    // matching NSEC3; the next closer name is one label longer.
    let mut next_closer = name.clone();
    let mut encloser = name.base_name();
    loop {
        if matching(&encloser).is_some() {
            break;
        }
        if encloser == *zone || encloser.is_root() {
            return Err(format!(
                "no NSEC3 record proves a closest encloser of {name}"
            ));
        }
        next_closer = encloser.clone();
        encloser = encloser.base_name();
    }
    let Some(target) = hash(&next_closer) else {
        return Err(format!("cannot hash {next_closer}"));
    };
    let covers = records.iter().any(|r| {
        let Some(next) = next_hash(r.nsec3) else {
            return false;
        };
        // The last NSEC3 of the chain wraps to the first.
        (r.hash < target && target < next) || (next <= r.hash && (target > r.hash || target < next))
    });
    if covers {
        Ok(())
    } else {
        Err(format!("no NSEC3 record covers {next_closer}"))
    }
}

fn lower(label: &[u8]) -> String {
    String::from_utf8_lossy(label).to_ascii_lowercase()
}

/// The base32hex label of `name`'s NSEC3 hash with the parameters of
/// `params` (RFC 5155 §5). Base32hex keeps the order of the bytes, so
/// labels compare as the hashes do.
fn hash_label(params: &NSEC3, name: &Name) -> Option<String> {
    let digest = params
        .hash_algorithm()
        .hash(params.salt(), name, params.iterations())
        .ok()?;
    // hickory's encoder, through the one NSEC3 field it encodes.
    let carrier = NSEC3::new(
        params.hash_algorithm(),
        false,
        0,
        Vec::new(),
        digest.as_ref().to_vec(),
        [],
    );
    next_hash(&carrier)
}

/// The next hashed owner name of `nsec3`, in base32hex, lower case.
fn next_hash(nsec3: &NSEC3) -> Option<String> {
    nsec3
        .next_hashed_owner_name_base32()
        .map(|label| label.to_ascii().to_ascii_lowercase())
}

#[cfg(test)]
mod tests;
