//! `check` output: the JSON details type and its text rendering.
//!
//! Per domain: the `_vlmcs._tcp` RRset as the zone serves it (its primary,
//! RD clear) and as a client's resolver serves it, and every target's
//! addresses. The verdicts are the findings; these details only show what
//! was read.

use std::io::{self, Write};

use hickory_proto::rr::Name;
use serde::Serialize;

use super::judge::{DomainObservation, Rrset, RrsetRead};
use crate::dns::dnssec::{
    self, DenialVerdict, DsMatch, SignatureVerdict, SignedRead, ZoneSignatures,
};
use crate::dns::AnswerStatus;
use crate::report::palette::Palette;

/// What `check` shows above its findings: one entry per domain checked.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDetails {
    pub domains: Vec<DomainCheck>,
}

/// What was read for one domain.
#[derive(Debug, Clone, Serialize)]
pub struct DomainCheck {
    /// The domain, absolute (`corp.example.`).
    pub domain: String,
    /// The zone that holds `_vlmcs._tcp.<domain>`, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The zone's own answer: its primary (SOA MNAME, or the configured
    /// `server`), or another server of its NS set when the primary could
    /// not be read.
    pub authoritative: RrsetSource,
    /// The answer clients get through the resolver (`--nameserver` or the
    /// system's).
    pub resolver: RrsetSource,
    /// Every distinct target of either answer, with its addresses.
    pub targets: Vec<TargetAddresses>,
    /// The zone's DNSSEC state, when the zone was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecState>,
}

/// What the zone's signatures are, server by server (docs/dnssec.md).
#[derive(Debug, Clone, Serialize)]
pub struct DnssecState {
    /// Whether any server serves a DNSKEY RRset at the apex.
    pub signed: bool,
    /// The DS at the parent: `matched`, `mismatch`, `none` or `unknown`
    /// (absent when the zone is not signed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ds: Option<&'static str>,
    /// Each authoritative server (none when the zone is not signed).
    pub servers: Vec<ServerDnssec>,
}

/// The signatures read at one server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerDnssec {
    pub server: String,
    /// The key tags of the signatures that verified there, ascending.
    pub key_tags_verified: Vec<u16>,
    /// RRsets (and denials) checked, and how many of them are valid.
    pub rrsets_checked: usize,
    pub rrsets_valid: usize,
    /// When the first valid signature there expires (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_expiry: Option<String>,
    /// Why the server's DNSKEY set could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One answer for `_vlmcs._tcp.<domain>` SRV.
#[derive(Debug, Clone, Serialize)]
pub struct RrsetSource {
    /// Who answered: `nameserver 127.0.0.1:53`, `ns1.corp.example.
    /// (192.0.2.53:53)`, `the system resolver (…)`.
    pub via: String,
    /// `records`, `nodata` (0x8007251D on a client), `nxdomain`
    /// (0x8007232B), or `failed` (the read failed: see `error`).
    pub status: &'static str,
    /// The RRset's TTL in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    pub records: Vec<SrvData>,
    /// Why the read failed (timeout, REFUSED, SERVFAIL, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The data of one SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrvData {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Absolute, `.` for "service decidedly not available".
    pub target: String,
    /// The record's own TTL, given only when the records' TTLs differ
    /// (`ttl-mixed`); else the source's `ttl` is every record's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// The A and AAAA records of one SRV target, through the resolver.
#[derive(Debug, Clone, Serialize)]
pub struct TargetAddresses {
    pub target: String,
    /// IPv4 first, then IPv6.
    pub addresses: Vec<String>,
    /// The name the target is an alias (CNAME) of, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
    /// The name does not exist (NXDOMAIN), rather than having no address.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nxdomain: bool,
    /// Why the addresses could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Writes the details as text: per domain, a heading naming zone and
/// sources, then one line per record with its target's addresses, the
/// records of a domain aligned (each domain on its own, so that a run
/// written window by window looks the same as one written at once). The
/// caller ends the details with a blank line.
pub fn render(details: &CheckDetails, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    let rdata = |r: &SrvData| format!("{} {} {}", r.priority, r.weight, r.port);
    for domain in &details.domains {
        let source = shown(domain);
        let rdata_width = source.records.iter().map(|r| rdata(r).len()).max();
        let rdata_width = rdata_width.unwrap_or(0);
        let target_width = source.records.iter().map(|r| r.target.len()).max();
        let target_width = target_width.unwrap_or(0);
        let mut about = Vec::new();
        if let Some(zone) = &domain.zone {
            about.push(format!("zone {zone}"));
        }
        about.push(format!("read from {}", source.via));
        if source.records.iter().any(|r| r.ttl.is_some()) {
            about.push("TTLs differ: each on its record".to_string());
        } else if let Some(ttl) = source.ttl {
            about.push(format!("TTL {ttl}"));
        }
        writeln!(
            out,
            "{} {}",
            palette.heading(&domain.domain),
            palette.dim(&format!("({})", about.join(", ")))
        )?;
        match source.status {
            "failed" => writeln!(out, "  {}", palette.dim("(not read)"))?,
            "nxdomain" => writeln!(out, "  {}", palette.dim("(no such name: NXDOMAIN)"))?,
            "nodata" => writeln!(out, "  {}", palette.dim("(no SRV record: NODATA)"))?,
            _ => {}
        }
        for record in &source.records {
            let target = domain
                .targets
                .iter()
                .find(|t| t.target.eq_ignore_ascii_case(&record.target));
            let addresses = match target {
                _ if record.target == "." => "(service not available)".to_string(),
                None => String::new(),
                Some(t) => {
                    let mut text = match (&t.error, t.addresses.is_empty()) {
                        (Some(error), _) => format!("(unreadable: {error})"),
                        (None, true) if t.nxdomain => "(does not exist)".to_string(),
                        (None, true) => "(no address)".to_string(),
                        (None, false) => t.addresses.join(" "),
                    };
                    if let Some(alias) = &t.alias_of {
                        text = format!("alias of {alias}: {text}");
                    }
                    text
                }
            };
            let ttl = record.ttl.map_or(String::new(), |ttl| {
                format!("  {}", palette.dim(&format!("TTL {ttl}")))
            });
            writeln!(
                out,
                "  {:rdata_width$}  {:target_width$}  {addresses}{ttl}",
                rdata(record),
                record.target,
            )?;
        }
        if domain.resolver.status != "failed" && source.via != domain.resolver.via {
            let same = domain.resolver.status == source.status
                && same_records(&domain.resolver.records, &source.records);
            let verdict = if same {
                "the same answer".to_string()
            } else if domain.resolver.records.is_empty() {
                format!("no records ({})", domain.resolver.status)
            } else {
                format!("{} record(s), not the same", domain.resolver.records.len())
            };
            writeln!(
                out,
                "  {}",
                palette.dim(&format!("{}: {verdict}", domain.resolver.via))
            )?;
        }
    }
    Ok(())
}

/// The answer the records are judged on: the zone's, unless it failed.
fn shown(domain: &DomainCheck) -> &RrsetSource {
    if domain.authoritative.status == "failed" && domain.resolver.status != "failed" {
        &domain.resolver
    } else {
        &domain.authoritative
    }
}

fn same_records(a: &[SrvData], b: &[SrvData]) -> bool {
    let key = |r: &SrvData| (r.priority, r.weight, r.port, r.target.to_ascii_lowercase());
    let mut a: Vec<_> = a.iter().map(key).collect();
    let mut b: Vec<_> = b.iter().map(key).collect();
    a.sort();
    b.sort();
    a == b
}

/// The records of `rrset` in RFC 2782 order (priority, then weight,
/// heaviest first), then by target: servers rotate their order on every
/// answer. Each with its TTL when they differ.
fn sorted(rrset: &Rrset) -> Vec<SrvData> {
    let mixed = rrset.mixed_ttls();
    let mut records: Vec<SrvData> = rrset
        .records
        .iter()
        .map(|r| SrvData {
            priority: r.priority,
            weight: r.weight,
            port: r.port,
            target: r.target.to_ascii(),
            ttl: rrset.ttl_of(r).filter(|_| mixed),
        })
        .collect();
    let key = |r: &SrvData| {
        (
            r.priority,
            std::cmp::Reverse(r.weight),
            r.target.to_ascii_lowercase(),
            r.port,
        )
    };
    records.sort_by_key(key);
    records
}

/// The details shown for one domain.
pub(super) fn domain_details(zone: Option<&Name>, observation: &DomainObservation) -> DomainCheck {
    let source = |read: &RrsetRead| match &read.result {
        Ok(rrset) => RrsetSource {
            via: read.source.clone(),
            status: match rrset.status {
                AnswerStatus::Records => "records",
                AnswerStatus::NoData => "nodata",
                AnswerStatus::NxDomain => "nxdomain",
            },
            ttl: rrset.ttl,
            records: sorted(rrset),
            error: None,
        },
        Err(error) => RrsetSource {
            via: read.source.clone(),
            status: "failed",
            ttl: None,
            records: Vec::new(),
            error: Some(error.clone()),
        },
    };
    DomainCheck {
        domain: observation.domain.to_ascii(),
        zone: zone.map(Name::to_ascii),
        authoritative: source(&observation.authoritative),
        resolver: source(&observation.resolver),
        targets: observation
            .targets
            .iter()
            .map(|lookup| match &lookup.result {
                Ok(found) => TargetAddresses {
                    target: lookup.target.to_ascii(),
                    addresses: found.addresses.iter().map(ToString::to_string).collect(),
                    alias_of: found.canonical.as_ref().map(Name::to_ascii),
                    nxdomain: !found.exists,
                    error: None,
                },
                Err(error) => TargetAddresses {
                    target: lookup.target.to_ascii(),
                    addresses: Vec::new(),
                    alias_of: None,
                    nxdomain: false,
                    error: Some(error.clone()),
                },
            })
            .collect(),
        dnssec: observation.signatures.as_ref().map(dnssec_state),
    }
}

/// The JSON form of a zone's signatures.
fn dnssec_state(zone: &ZoneSignatures) -> DnssecState {
    let ds = zone.signed.then_some(match zone.ds {
        DsMatch::Matched { .. } => "matched",
        DsMatch::NoMatch { .. } => "mismatch",
        DsMatch::NoDs => "none",
        DsMatch::Unknown(_) => "unknown",
    });
    let servers = zone
        .servers
        .iter()
        .map(|server| {
            let mut tags = Vec::new();
            let mut valid = 0;
            let mut earliest: Option<u32> = None;
            for rrset in &server.rrsets {
                match &rrset.read {
                    SignedRead::Records(SignatureVerdict::Valid {
                        key_tag,
                        expiration,
                        ..
                    }) => {
                        valid += 1;
                        tags.push(*key_tag);
                        // RRSIG times are serial numbers (RFC 4034 §3.1.5).
                        let left = expiration.wrapping_sub(zone.now);
                        if earliest.is_none_or(|e| left < e.wrapping_sub(zone.now)) {
                            earliest = Some(*expiration);
                        }
                    }
                    SignedRead::Denied {
                        verdict: DenialVerdict::Proven { key_tag },
                        ..
                    } => {
                        valid += 1;
                        tags.push(*key_tag);
                    }
                    _ => {}
                }
            }
            tags.sort_unstable();
            tags.dedup();
            ServerDnssec {
                server: server.server.clone(),
                key_tags_verified: tags,
                rrsets_checked: server.rrsets.len(),
                rrsets_valid: valid,
                earliest_expiry: earliest.map(dnssec::timestamp),
                error: server.keys.as_ref().err().cloned(),
            }
        })
        .collect();
    DnssecState {
        signed: zone.signed,
        ds,
        servers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(target: &str) -> SrvData {
        SrvData {
            priority: 0,
            weight: 0,
            port: 1688,
            target: target.into(),
            ttl: None,
        }
    }

    #[test]
    fn records_are_aligned_with_their_addresses() {
        let source = |via: &str| RrsetSource {
            via: via.into(),
            status: "records",
            ttl: Some(3600),
            records: vec![record("kms1.corp.example."), record("noaddr.corp.example.")],
            error: None,
        };
        let details = CheckDetails {
            domains: vec![DomainCheck {
                domain: "corp.example.".into(),
                zone: Some("corp.example.".into()),
                authoritative: source("ns1.corp.example. (192.0.2.53:53)"),
                resolver: source("nameserver 192.0.2.1:53"),
                targets: vec![
                    TargetAddresses {
                        target: "kms1.corp.example.".into(),
                        addresses: vec!["192.0.2.10".into()],
                        alias_of: None,
                        nxdomain: false,
                        error: None,
                    },
                    TargetAddresses {
                        target: "noaddr.corp.example.".into(),
                        addresses: Vec::new(),
                        alias_of: None,
                        nxdomain: false,
                        error: None,
                    },
                ],
                dnssec: None,
            }],
        };
        let mut out = Vec::new();
        render(&details, Palette { color: false }, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "corp.example. (zone corp.example., read from ns1.corp.example. (192.0.2.53:53), TTL 3600)\n\
             \x20 0 0 1688  kms1.corp.example.    192.0.2.10\n\
             \x20 0 0 1688  noaddr.corp.example.  (no address)\n\
             \x20 nameserver 192.0.2.1:53: the same answer\n"
        );
    }
}
