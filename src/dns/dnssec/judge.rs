//! The findings of a zone's DNSSEC state (shared by `check` and
//! `replication`, which cannot import each other): pure functions of what
//! [`super::observe_zone`] and [`super::validation`] read.
//!
//! Severity: anything that makes a validating resolver answer SERVFAIL for
//! the SRV RRset or a target's address is critical, since a Windows client
//! behind it then finds no KMS host (RFC 4035 §5.5: a bogus answer is not
//! passed on).

use std::time::Duration;

use hickory_proto::rr::RecordType;

use super::{DenialVerdict, DsMatch, SignatureVerdict, SignedRead, Validation, ZoneSignatures};
use crate::report::{Finding, FindingId, Severity};

/// `--sig-expiry-warn`'s default: BIND re-signs (dnssec-policy default)
/// well before the last 3 days of a 14-day signature.
pub const DEFAULT_EXPIRY_WARNING: Duration = Duration::from_secs(3 * 86_400);

const SERVFAIL: &str =
    "validating resolvers answer SERVFAIL, so clients behind them get no KMS host";

/// The findings about `zone`'s signatures, about `domain` (the domain
/// checked, or the zone for `replication`); `dnssec-ok` when all is well,
/// nothing when the zone is not signed.
pub fn findings(domain: &str, zone: &ZoneSignatures, warn_within: Duration) -> Vec<Finding> {
    if !zone.signed {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut valid = 0usize;
    let mut earliest: Option<u32> = None;
    let mut algorithms: Vec<String> = Vec::new();
    for server in &zone.servers {
        let at = |finding: Finding| finding.domain(domain).server(&server.server);
        if let Err(error) = &server.keys {
            out.push(at(Finding::new(
                FindingId::DnsReadFailed,
                Severity::Warning,
                format!("the DNSKEY set of {} at {} is unknown, so its signatures were not checked: {error}", zone.zone, server.server),
            )));
            continue;
        }
        for rrset in &server.rrsets {
            let what = format!("{} {}", rrset.name, rrset.rtype);
            let finding = match &rrset.read {
                SignedRead::Records(SignatureVerdict::Valid {
                    expiration,
                    algorithm,
                    key_tag,
                }) => {
                    valid += 1;
                    earliest = Some(earliest.map_or(*expiration, |e| e.min(*expiration)));
                    if !algorithms.contains(algorithm) {
                        algorithms.push(algorithm.clone());
                    }
                    expiring(
                        &what,
                        &server.server,
                        *key_tag,
                        *expiration,
                        zone.now,
                        warn_within,
                    )
                }
                SignedRead::Records(verdict) => signature_problem(&what, &server.server, verdict),
                SignedRead::Denied {
                    verdict: DenialVerdict::Proven { .. },
                    ..
                } => {
                    valid += 1;
                    None
                }
                SignedRead::Denied {
                    status,
                    verdict: DenialVerdict::Bogus { key_tag, reason },
                } => Some(denial_bogus(
                    &what,
                    &server.server,
                    rrset.rtype,
                    *status,
                    *key_tag,
                    reason,
                )),
                SignedRead::Failed(error) => Some(Finding::new(
                    FindingId::DnsReadFailed,
                    Severity::Warning,
                    format!(
                        "the signatures of {what} at {} are unknown: {error}",
                        server.server
                    ),
                )),
            };
            if let Some(finding) = finding {
                out.push(at(finding));
            }
        }
    }
    if let Some(finding) = ds_finding(zone) {
        out.push(finding.domain(domain));
    }
    if !out.iter().any(|f| f.severity >= Severity::Warning) {
        let expires = earliest.map_or(String::new(), |e| {
            format!("; the first signature expires {}", super::timestamp(e))
        });
        out.push(
            Finding::new(
                FindingId::DnssecOk,
                Severity::Ok,
                format!(
                    "{} is signed ({}): {valid} RRset(s) verified at {} server(s){expires}",
                    zone.zone,
                    algorithms.join(", "),
                    zone.servers.len()
                ),
            )
            .domain(domain),
        );
    }
    out
}

/// `rrsig-expiring` when a valid signature ends within `warn_within`.
fn expiring(
    what: &str,
    server: &str,
    key_tag: u16,
    expiration: u32,
    now: u32,
    warn_within: Duration,
) -> Option<Finding> {
    let left = u64::from(expiration.wrapping_sub(now));
    (left < warn_within.as_secs()).then(|| {
        Finding::new(
            FindingId::RrsigExpiring,
            Severity::Warning,
            format!(
                "the RRSIG over {what} at {server} (key tag {key_tag}) expires {} (in {} h)",
                super::timestamp(expiration),
                left / 3600
            ),
        )
        .hint("the zone is not being re-signed in time: check the signer (dnssec-policy, inline-signing, the private keys) on the primary and that secondaries transfer")
    })
}

/// The finding for a signature that is not valid.
fn signature_problem(what: &str, server: &str, verdict: &SignatureVerdict) -> Option<Finding> {
    let (id, severity, hint) = match verdict {
        SignatureVerdict::Valid { .. } => return None,
        SignatureVerdict::Missing | SignatureVerdict::UnknownKey { .. } => (
            FindingId::RrsigMissing,
            Severity::Critical,
            "the server holds the records but no signature by the zone's keys: a primary without the private keys, no dnssec-policy or inline-signing, or a secondary that has not transferred the re-signed zone",
        ),
        SignatureVerdict::Bogus { .. } => (
            FindingId::RrsigBogus,
            Severity::Critical,
            "re-sign the zone on the primary (rndc sign ZONE, or dnssec-signzone) and let secondaries transfer it",
        ),
        SignatureVerdict::Expired { .. } | SignatureVerdict::NotYetValid { .. } => (
            FindingId::RrsigExpired,
            Severity::Critical,
            "re-sign the zone on the primary, check the clocks, and let secondaries transfer it",
        ),
        SignatureVerdict::Unsupported { .. } => (
            FindingId::RrsigBogus,
            Severity::Info,
            "kmsdns cannot say whether this signature is valid",
        ),
    };
    let consequence = if severity == Severity::Critical {
        format!(": {SERVFAIL}")
    } else {
        String::new()
    };
    Some(
        Finding::new(
            id,
            severity,
            format!("{what} at {server}: {}{consequence}", verdict.describe()),
        )
        .hint(hint),
    )
}

/// `denial-bogus`: critical for the SRV RRset (the negative answer is what
/// clients get), a warning for a target's other address family.
fn denial_bogus(
    what: &str,
    server: &str,
    rtype: RecordType,
    status: crate::dns::AnswerStatus,
    key_tag: Option<u16>,
    reason: &str,
) -> Finding {
    let severity = if rtype == RecordType::SRV {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let tag = key_tag.map_or(String::new(), |t| format!(" (key tag {t})"));
    Finding::new(
        FindingId::DenialBogus,
        severity,
        format!(
            "the {status} answer for {what} at {server} is not proven{tag}: {reason}; validating resolvers answer SERVFAIL instead"
        ),
    )
    .hint("re-sign the zone so its NSEC/NSEC3 chain is complete and signed, and let secondaries transfer it")
}

/// The DS at the parent against the zone's keys.
fn ds_finding(zone: &ZoneSignatures) -> Option<Finding> {
    match &zone.ds {
        DsMatch::Matched { .. } => None,
        DsMatch::NoMatch { ds_tags } => Some(
            Finding::new(
                FindingId::DsMismatch,
                Severity::Critical,
                format!(
                    "no DS of {} at its parent (key tags {ds_tags:?}) matches a key of its DNSKEY set: {SERVFAIL}",
                    zone.zone
                ),
            )
            .hint("publish the DS of the current key-signing key at the parent, or roll the key back"),
        ),
        DsMatch::NoDs => Some(Finding::new(
            FindingId::DsMismatch,
            Severity::Info,
            format!(
                "{} has no DS at its parent: validators treat it as insecure unless they hold a trust anchor for it; the chain of trust above the zone is not checked",
                zone.zone
            ),
        )),
        DsMatch::Unknown(error) => Some(Finding::new(
            FindingId::DsMismatch,
            Severity::Info,
            format!("the DS of {} could not be read: {error}", zone.zone),
        )),
    }
}

/// `validation-failed` when a resolver's validation fails where CD gets
/// records.
pub fn validation_finding(domain: &str, what: &str, validation: &Validation) -> Option<Finding> {
    let Validation::Failed {
        via,
        reason,
        records,
    } = validation
    else {
        return None;
    };
    let reason = reason.as_ref().map_or(
        "the resolver gave no Extended DNS Error".to_owned(),
        |ede| format!("Extended DNS Error {}: {}", ede.code, ede.text),
    );
    Some(
        Finding::new(
            FindingId::ValidationFailed,
            Severity::Critical,
            format!(
                "the validating resolver {via} answers SERVFAIL for {what}, while with checking disabled (CD) it returns {records} record(s): DNSSEC validation fails ({reason}); clients behind it get no KMS host"
            ),
        )
        .domain(domain)
        .server(via)
        .hint("check the zone's signatures at every authoritative server (kmsdns check, kmsdns replication) and the trust anchor or DS the resolver validates with"),
    )
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::Name;

    use super::*;
    use crate::dns::dnssec::{RrsetCheck, ServerSignatures};

    /// A signed zone whose one server signed the SRV RRset as `verdict`.
    fn zone_with(verdict: SignatureVerdict) -> ZoneSignatures {
        let zone = Name::from_ascii("signed.example.").unwrap();
        ZoneSignatures {
            zone: zone.clone(),
            signed: true,
            ds: DsMatch::Matched { key_tag: 1 },
            servers: vec![ServerSignatures {
                server: "ns1.signed.example. (192.0.2.53:53)".to_owned(),
                keys: Ok(vec![4242]),
                rrsets: vec![RrsetCheck {
                    name: Name::from_ascii("_vlmcs._tcp.signed.example.").unwrap(),
                    rtype: RecordType::SRV,
                    read: SignedRead::Records(verdict),
                }],
            }],
            now: 1_800_000_000,
        }
    }

    #[test]
    fn an_algorithm_ring_cannot_verify_is_reported_as_info_not_as_bogus() {
        let verdict = SignatureVerdict::Unsupported {
            key_tag: 4242,
            algorithm: "ECC-GOST".to_owned(),
        };
        let found = findings(
            "signed.example",
            &zone_with(verdict),
            DEFAULT_EXPIRY_WARNING,
        );
        let unverified: Vec<&Finding> = found
            .iter()
            .filter(|f| f.id == FindingId::RrsigBogus)
            .collect();
        assert_eq!(unverified.len(), 1, "{found:?}");
        assert_eq!(unverified[0].severity, Severity::Info);
        let message = &unverified[0].message;
        assert!(
            message.contains("ECC-GOST") && message.contains("key tag 4242"),
            "{message}"
        );
        assert!(!message.contains("SERVFAIL"), "{message}");
        assert!(
            found.iter().all(|f| f.severity < Severity::Warning),
            "{found:?}"
        );
    }
}
