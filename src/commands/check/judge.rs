//! The findings of `check` for one domain (DESIGN §5): what its
//! `_vlmcs._tcp` SRV RRset and the addresses of its targets say, against
//! RFC 2782, Windows' client behaviour and the configuration.
//!
//! Severity rule for a defective record (target `.`, target without
//! address, port other than the host's): a Windows client that picks a
//! host it cannot reach drops it and picks another (DESIGN §2), so a defect
//! is a *warning* while another record of the domain is usable, and
//! *critical* when none is (no client there activates).

use std::collections::BTreeSet;
use std::net::IpAddr;

use hickory_proto::rr::Name;

use crate::config::{KmsHost, SrvRecord};
use crate::dns::dnssec::{self, Validation, ZoneSignatures};
use crate::dns::{record_key, AnswerStatus, TtlScope};
use crate::report::{Finding, FindingId, Severity};

/// One KMS host key may be installed on at most six hosts (DESIGN §2).
pub const MAX_HOSTS_PER_KEY: usize = 6;

/// An SRV RRset as one source served it: records, or NODATA / NXDOMAIN.
pub use crate::dns::SrvAnswer as Rrset;

/// Where an RRset was read, and what came back. A failed read is an error,
/// never an empty RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsetRead {
    /// Who answered, for messages: "nameserver 127.0.0.1:53",
    /// "ns1.corp.example. (192.0.2.53:53)".
    pub source: String,
    /// The server address, for the finding's subject.
    pub server: Option<String>,
    pub result: Result<Rrset, String>,
}

/// The addresses of one SRV target, as a client's resolver returned them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAddresses {
    /// Every A and AAAA, IPv4 first.
    pub addresses: Vec<IpAddr>,
    /// The name at the end of the CNAME chain, when the target is an alias.
    pub canonical: Option<Name>,
    /// Whether the name exists: an empty answer is NODATA, not NXDOMAIN.
    pub exists: bool,
}

/// The address lookup of one distinct SRV target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLookup {
    pub target: Name,
    pub result: Result<TargetAddresses, String>,
}

/// What the configuration says about a domain.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The records the configuration publishes in this domain (empty when
    /// the domain is in no publish list).
    pub records: &'a [SrvRecord],
    /// Whether the domain is in a publish list.
    pub listed: bool,
    /// The configured TTL of the RRset.
    pub ttl: u32,
    /// Every configured KMS host, those not managed here included.
    pub hosts: &'a [KmsHost],
    /// Hosts not managed here whose record must be in this domain
    /// (`managed = false`, `required = true`).
    pub required_foreign: &'a [Name],
    /// The hosts are all there are: any other target is a possible rogue.
    pub complete: bool,
}

/// Everything read for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainObservation {
    pub domain: Name,
    /// The answer a client gets: through the resolver, RD set.
    pub resolver: RrsetRead,
    /// The zone's own answer: the primary, RD clear, AA required.
    pub authoritative: RrsetRead,
    /// Why the primary itself could not be read, when another
    /// authoritative server answered in its place.
    pub primary_unread: Option<String>,
    /// One lookup per distinct target of either RRset (not `.`).
    pub targets: Vec<TargetLookup>,
    /// Whether the resolver's SERVFAIL for the SRV RRset is a DNSSEC
    /// validation failure.
    pub validation: Validation,
    /// The targets whose address lookup failed DNSSEC validation, and
    /// how (only those).
    pub target_validations: Vec<(Name, Validation)>,
    /// The zone's signatures at each authoritative server, when the zone
    /// is known.
    pub signatures: Option<ZoneSignatures>,
    /// What the server that answered keeps a TTL for: read only when the
    /// zone's answer carries different TTLs.
    pub ttl_scope: Option<TtlScope>,
}

/// The owner name of the RRset, for messages.
fn owner(domain: &Name) -> String {
    crate::config::srv_owner(domain).to_ascii()
}

/// The DNSSEC findings of a signed zone (nothing for an unsigned one): a
/// valid signature that expires within `expiry_warning` is a warning.
pub fn signature_findings(
    observation: &DomainObservation,
    expiry_warning: std::time::Duration,
) -> Vec<Finding> {
    let domain = observation.domain.to_ascii();
    observation
        .signatures
        .as_ref()
        .map(|zone| dnssec::findings(&domain, zone, expiry_warning))
        .unwrap_or_default()
}

/// The findings for one domain; `expected` is `None` without a
/// configuration. Ends with `srv-ok` when nothing is wrong.
pub fn findings(observation: &DomainObservation, expected: Option<&Expected<'_>>) -> Vec<Finding> {
    let domain = observation.domain.to_ascii();
    let mut out: Vec<Finding> = Vec::new();
    let mut push = |finding: Finding| out.push(finding.domain(&domain));

    // A SERVFAIL that CD turns into records is DNSSEC failing, not the
    // resolver.
    let what = format!("{} SRV", owner(&observation.domain));
    let validation = dnssec::validation_finding(&domain, &what, &observation.validation);
    let validation_failed = validation.is_some();
    if let Some(finding) = validation {
        push(finding);
    }
    for (read, what) in [
        (&observation.resolver, "the resolver's answer"),
        (&observation.authoritative, "the zone's own answer"),
    ] {
        if let Err(error) = &read.result {
            if validation_failed && std::ptr::eq(read, &observation.resolver) {
                continue;
            }
            let mut finding = Finding::new(
                FindingId::DnsReadFailed,
                Severity::Critical,
                format!("{what} is unknown: {error}"),
            )
            .hint("a failed, refused or timed-out read says nothing about the records: fix the server or the path to it, then check again");
            if let Some(server) = &read.server {
                finding = finding.server(server);
            }
            push(finding);
        }
    }
    if let (Some(why), Ok(_)) = (
        &observation.primary_unread,
        &observation.authoritative.result,
    ) {
        push(
            Finding::new(
                FindingId::DnsReadFailed,
                Severity::Info,
                format!(
                    "the zone's primary could not be read ({why}); compared with {} instead",
                    observation.authoritative.source
                ),
            )
            .hint("kmsdns replication compares every authoritative server with the primary"),
        );
    }

    // The zone's own answer is the truth; the resolver's stands in for it
    // only when the authoritative read failed.
    let (rrset, read) = match (
        &observation.authoritative.result,
        &observation.resolver.result,
    ) {
        (Ok(rrset), _) => (rrset, &observation.authoritative),
        (Err(_), Ok(rrset)) => (rrset, &observation.resolver),
        (Err(_), Err(_)) => return out,
    };

    if rrset.records.is_empty() {
        push(missing(observation, rrset.status, read));
    } else {
        records(observation, rrset, expected, &mut push);
    }

    if let (Ok(served), Ok(seen)) = (
        &observation.authoritative.result,
        &observation.resolver.result,
    ) {
        if let Some(finding) = stale_resolver(observation, served, seen) {
            push(finding);
        }
    }

    if !out.iter().any(|f| f.severity >= Severity::Warning) {
        let hosts = distinct_hosts(rrset, &observation.targets).len();
        let compared = match expected {
            Some(e) if e.listed => ", as configured",
            Some(_) => "; in no publish list: targets compared with the known hosts only",
            None => "; no configuration to compare with",
        };
        out.push(
            Finding::new(
                FindingId::SrvOk,
                Severity::Ok,
                format!(
                    "{} record(s), {hosts} KMS host(s), every target with an address{compared}",
                    rrset.records.len()
                ),
            )
            .domain(&domain),
        );
    }
    out
}

/// `srv-missing`, naming the error a Windows client gets.
fn missing(observation: &DomainObservation, status: AnswerStatus, read: &RrsetRead) -> Finding {
    let owner = owner(&observation.domain);
    let why = match status {
        AnswerStatus::NxDomain => format!(
            "{owner} does not exist (NXDOMAIN): Windows clients here get 0x8007232B (DNS name does not exist) and cannot find a KMS host"
        ),
        _ => format!(
            "{owner} has no SRV record (NODATA): Windows clients here get 0x8007251D (no records found for the DNS query) and cannot find a KMS host"
        ),
    };
    let mut finding = Finding::new(
        FindingId::SrvMissing,
        Severity::Critical,
        format!("no _vlmcs._tcp record, as {} answers: {why}", read.source),
    )
    .hint(format!(
        "kmsdns publish adds the configured hosts' records (or add `{owner} 3600 IN SRV 0 0 1688 <kms host>.` to the zone)"
    ));
    if let Some(server) = &read.server {
        finding = finding.server(server);
    }
    finding
}

/// The canonical name of every non-root target: an alias and the host it
/// points at are one host.
fn distinct_hosts(rrset: &Rrset, targets: &[TargetLookup]) -> BTreeSet<String> {
    rrset
        .records
        .iter()
        .filter(|r| !r.target.is_root())
        .map(|r| {
            let canonical = lookup(targets, &r.target)
                .and_then(|l| l.result.as_ref().ok())
                .and_then(|a| a.canonical.as_ref())
                .unwrap_or(&r.target);
            canonical.to_ascii().to_ascii_lowercase()
        })
        .collect()
}

fn lookup<'a>(targets: &'a [TargetLookup], name: &Name) -> Option<&'a TargetLookup> {
    targets.iter().find(|t| t.target == *name)
}

fn host<'a>(expected: Option<&Expected<'a>>, name: &Name) -> Option<&'a KmsHost> {
    expected.and_then(|e| e.hosts.iter().find(|h| h.name == *name))
}

/// The findings about the records of a non-empty RRset.
fn records(
    observation: &DomainObservation,
    rrset: &Rrset,
    expected: Option<&Expected<'_>>,
    push: &mut impl FnMut(Finding),
) {
    let targets = &observation.targets;
    let complete = expected.is_some_and(|e| e.complete);
    // Which host a target stands for: itself, or what its alias points at.
    let known = |target: &Name| -> Option<&KmsHost> {
        host(expected, target).or_else(|| {
            let canonical = lookup(targets, target)?
                .result
                .as_ref()
                .ok()?
                .canonical
                .as_ref()?;
            host(expected, canonical)
        })
    };
    let usable = |record: &SrvRecord| -> bool {
        if record.target.is_root() {
            return false;
        }
        let has_address = lookup(targets, &record.target)
            .and_then(|l| l.result.as_ref().ok())
            .is_some_and(|a| !a.addresses.is_empty());
        let right_port = known(&record.target).is_none_or(|h| h.port == record.port);
        let trusted = !complete || known(&record.target).is_some();
        has_address && right_port && trusted
    };
    let defect = if rrset.records.iter().any(usable) {
        Severity::Warning
    } else {
        Severity::Critical
    };
    let defect_note = if defect == Severity::Critical {
        "no record of this domain is usable: no client here can activate"
    } else {
        "clients that pick it lose an attempt and fail over to another host"
    };

    // Per distinct target: `.`, address, alias, known or not.
    // In name order: servers rotate the RRset, the findings should not.
    let mut sorted: Vec<&SrvRecord> = rrset.records.iter().collect();
    sorted.sort_by_key(|r| r.target.to_lowercase());
    let mut seen: Vec<&Name> = Vec::new();
    for record in sorted {
        let target = &record.target;
        if seen.contains(&target) {
            continue;
        }
        seen.push(target);
        let name = target.to_ascii();
        if target.is_root() {
            push(
                Finding::new(
                    FindingId::TargetIsRoot,
                    defect,
                    format!("a record has the target \".\", which means \"service decidedly not available\" here (RFC 2782); {defect_note}"),
                )
                .hint("delete the `.` record, or the whole RRset if KMS is really not offered in this domain"),
            );
            continue;
        }
        match lookup(targets, target).map(|l| &l.result) {
            None => {}
            Some(Err(error)) => {
                let failed = observation
                    .target_validations
                    .iter()
                    .find(|(failed, _)| failed == target)
                    .and_then(|(_, validation)| {
                        dnssec::validation_finding(
                            &observation.domain.to_ascii(),
                            &format!("the addresses of {name}"),
                            validation,
                        )
                    });
                push(
                    failed
                        .unwrap_or_else(|| {
                            Finding::new(
                                FindingId::DnsReadFailed,
                                Severity::Critical,
                                format!(
                                    "the addresses of target {name} could not be read: {error}"
                                ),
                            )
                        })
                        .host(&name),
                )
            }
            Some(Ok(found)) => {
                if let Some(canonical) = &found.canonical {
                    push(
                        Finding::new(
                            FindingId::TargetIsCname,
                            Severity::Warning,
                            format!(
                                "target {name} is an alias (CNAME) of {canonical}: RFC 2782 forbids aliases as SRV targets, and clients that do not follow them cannot use this record"
                            ),
                        )
                        .host(&name)
                        .hint(format!("point the SRV record at {canonical} itself")),
                    );
                }
                if found.addresses.is_empty() {
                    // A name that does not exist is a typo or a removed
                    // host; one that exists lacks only its addresses.
                    let what = if found.exists {
                        "exists but has no A or AAAA record"
                    } else {
                        "does not exist (NXDOMAIN)"
                    };
                    push(
                        Finding::new(
                            FindingId::TargetNoAddress,
                            defect,
                            format!("target {name} {what}: {defect_note}"),
                        )
                        .host(&name)
                        .hint(format!(
                            "add the address of {name}, or delete the records that point at it"
                        )),
                    );
                }
            }
        }
        let Some(expected) = expected else {
            continue;
        };
        match known(target) {
            None => {
                let severity = if complete {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                let why = if complete {
                    "the configuration lists every KMS host (complete = true): this may be a rogue KMS host that clients here activate against"
                } else {
                    "a host this configuration does not know (possibly a rogue KMS host)"
                };
                push(
                    Finding::new(FindingId::UnknownTarget, severity, format!("target {name} is not a configured KMS host: {why}"))
                        .host(&name)
                        .hint("if it is a KMS host of yours, add it as a [[host]]; if not, find who published it and delete its record"),
                );
            }
            // A host of another team (`managed = false`) may be anywhere.
            Some(host)
                if host.managed
                    && expected.listed
                    && !expected.records.iter().any(|r| r.target == host.name) =>
            {
                push(
                Finding::new(
                    FindingId::UnknownTarget,
                    Severity::Warning,
                    format!(
                        "target {name} is a configured KMS host, but its publish list does not include {}",
                        observation.domain
                    ),
                )
                .host(&name)
                .hint("add the domain to the host's publish list, or remove its record here (kmsdns remove)"),
            )
            }
            Some(_) => {}
        }
    }

    if let Some(expected) = expected {
        compare_with_configuration(observation, rrset, expected, defect, push);
    }
    if rrset.mixed_ttls() {
        let scope = observation.ttl_scope.unwrap_or(TtlScope::Unknown);
        // Where TTLs are per record, `--set-ttl` has something to do only
        // when a configured record is not at the configured TTL.
        let configured = expected.filter(|e| e.listed).map(|e| e.ttl).filter(|ttl| {
            scope != TtlScope::Record
                || expected.is_some_and(|e| {
                    e.records
                        .iter()
                        .any(|r| rrset.ttl_of(r).is_some_and(|served| served != *ttl))
                })
        });
        push(crate::dns::ttl::mixed_finding(
            &owner(&observation.domain),
            &rrset.records,
            &rrset.record_ttls,
            scope,
            configured,
        ));
    }

    let hosts = distinct_hosts(rrset, targets);
    if hosts.len() == 1 {
        let only = hosts.iter().next().map(String::as_str).unwrap_or_default();
        push(
            Finding::new(
                FindingId::SingleHost,
                Severity::Warning,
                format!("only one KMS host ({only}): no failover when it is down"),
            )
            .hint("Microsoft recommends at least two KMS hosts; publish a second one here"),
        );
    }
    if hosts.len() > MAX_HOSTS_PER_KEY {
        push(
            Finding::new(
                FindingId::TooManyHosts,
                Severity::Warning,
                format!(
                    "{} distinct KMS hosts: one KMS host key may be installed on at most {MAX_HOSTS_PER_KEY}",
                    hosts.len()
                ),
            )
            .hint("remove records of hosts that are no longer KMS hosts, or check that each has its own key"),
        );
    }
}

/// `record-differs`, `record-missing` and `ttl-differs` for the configured
/// hosts of a listed domain.
fn compare_with_configuration(
    observation: &DomainObservation,
    rrset: &Rrset,
    expected: &Expected<'_>,
    defect: Severity,
    push: &mut impl FnMut(Finding),
) {
    if !expected.listed {
        return;
    }
    for host in expected.required_foreign {
        if !rrset.records.iter().any(|r| r.target == *host) {
            let name = host.to_ascii();
            push(
                Finding::new(
                    FindingId::RecordMissing,
                    Severity::Warning,
                    format!(
                        "{name} (managed = false, required = true) has no record here: clients cannot fail over to it"
                    ),
                )
                .host(&name)
                .hint(format!(
                    "kmsdns never publishes {name}: ask whoever runs it to publish its record here"
                )),
            );
        }
    }
    for want in expected.records {
        let name = want.target.to_ascii();
        let served: Vec<&SrvRecord> = rrset
            .records
            .iter()
            .filter(|r| r.target == want.target)
            .collect();
        if served.is_empty() {
            push(
                Finding::new(
                    FindingId::RecordMissing,
                    Severity::Warning,
                    format!(
                        "{name} publishes here in the configuration ({} {} {}), but DNS has no record for it",
                        want.priority, want.weight, want.port
                    ),
                )
                .host(&name)
                .hint("kmsdns publish adds it"),
            );
            continue;
        }
        let exact = served.contains(&want);
        for got in served.iter().filter(|r| **r != want) {
            let mut differences = Vec::new();
            for (field, dns, configured) in [
                ("port", got.port, want.port),
                ("priority", got.priority, want.priority),
                ("weight", got.weight, want.weight),
            ] {
                if dns != configured {
                    differences.push(format!("{field} {dns} in DNS, {configured} configured"));
                }
            }
            let severity = if got.port != want.port {
                defect
            } else {
                Severity::Warning
            };
            let message = if exact {
                format!(
                    "an extra record for {name} ({}) besides the configured one: {}",
                    record_key(got),
                    differences.join(", ")
                )
            } else {
                format!(
                    "the record for {name} differs from the configuration: {}",
                    differences.join(", ")
                )
            };
            push(
                Finding::new(FindingId::RecordDiffers, severity, message)
                    .host(&name)
                    .hint("kmsdns plan shows the change, kmsdns publish applies it"),
            );
        }
    }
    // Mixed TTLs are `ttl-mixed` (see `records`), not a difference.
    if let Some(ttl) = rrset
        .ttl
        .filter(|ttl| *ttl != expected.ttl && !rrset.mixed_ttls())
    {
        push(
            Finding::new(
                FindingId::TtlDiffers,
                Severity::Info,
                format!(
                    "the TTL of {} is {ttl} s, the configuration says {} s",
                    owner(&observation.domain),
                    expected.ttl
                ),
            )
            .hint("kmsdns publish --set-ttl applies it (to every host's record: the TTL belongs to the whole RRset)"),
        );
    }
}

/// `stale-resolver`: the resolver serves other records than the zone.
fn stale_resolver(
    observation: &DomainObservation,
    served: &Rrset,
    seen: &Rrset,
) -> Option<Finding> {
    let (served_keys, seen_keys) = (served.keys(), seen.keys());
    if served_keys == seen_keys {
        return None;
    }
    let missing: Vec<&str> = served_keys
        .difference(&seen_keys)
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = seen_keys
        .difference(&served_keys)
        .map(String::as_str)
        .collect();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("it lacks {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!("it still has {}", extra.join(", ")));
    }
    let severity = if seen_keys.is_empty() {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let ttl = seen
        .ttl
        .or(served.ttl)
        .map_or(String::new(), |t| format!(" ({t} s)"));
    let mut finding = Finding::new(
        FindingId::StaleResolver,
        severity,
        format!(
            "{} answers differently from {}: {}",
            observation.resolver.source,
            observation.authoritative.source,
            parts.join("; ")
        ),
    )
    .hint(format!(
        "a cache keeps an old answer until its TTL{ttl} runs out; if the difference lasts longer, run kmsdns replication: an authoritative server may lag"
    ));
    if let Some(server) = &observation.resolver.server {
        finding = finding.server(server);
    }
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: name(target),
        }
    }

    fn kms(host: &str) -> KmsHost {
        KmsHost {
            name: name(host),
            port: 1688,
            addresses: Vec::new(),
            address_ttl: None,
            publish_list: Default::default(),
            managed: true,
            required: false,
        }
    }

    fn rrset(records: Vec<SrvRecord>) -> Rrset {
        let status = if records.is_empty() {
            AnswerStatus::NxDomain
        } else {
            AnswerStatus::Records
        };
        let served = crate::dns::SrvRrset::served(records.into_iter().map(|r| (r, 3600)).collect());
        Rrset {
            status,
            ttl: served.ttl,
            ttls: served.ttls,
            records: served.records,
            record_ttls: served.record_ttls,
        }
    }

    fn read(source: &str, result: Result<Rrset, String>) -> RrsetRead {
        RrsetRead {
            source: source.to_string(),
            server: Some("192.0.2.53:53".into()),
            result,
        }
    }

    fn address(target: &str, ip: Option<&str>) -> TargetLookup {
        TargetLookup {
            target: name(target),
            result: Ok(TargetAddresses {
                addresses: ip.map(|ip| ip.parse().unwrap()).into_iter().collect(),
                canonical: None,
                exists: true,
            }),
        }
    }

    fn observe(records: Vec<SrvRecord>, targets: Vec<TargetLookup>) -> DomainObservation {
        DomainObservation {
            domain: name("corp.example."),
            resolver: read("nameserver 192.0.2.1:53", Ok(rrset(records.clone()))),
            authoritative: read("ns1.corp.example. (192.0.2.53:53)", Ok(rrset(records))),
            primary_unread: None,
            targets,
            validation: Validation::Consistent,
            target_validations: Vec::new(),
            signatures: None,
            ttl_scope: None,
        }
    }

    fn ids(findings: &[Finding]) -> Vec<(String, Severity)> {
        findings
            .iter()
            .map(|f| (f.id.to_string(), f.severity))
            .collect()
    }

    const KMS1: &str = "kms1.corp.example.";
    const KMS2: &str = "kms2.corp.example.";

    fn two_hosts() -> (Vec<SrvRecord>, Vec<TargetLookup>) {
        (
            vec![srv(0, 0, 1688, KMS1), srv(0, 0, 1688, KMS2)],
            vec![
                address(KMS1, Some("192.0.2.10")),
                address(KMS2, Some("192.0.2.11")),
            ],
        )
    }

    /// kms1 (configured) at 300, kms2 (a host not managed here) at 3600.
    #[test]
    fn mixed_ttls_are_ttl_mixed_at_the_scope_s_severity_and_never_ttl_differs() {
        let (records, targets) = two_hosts();
        let mut other = kms(KMS2);
        other.managed = false;
        let hosts = [kms(KMS1), other];
        let mixed = crate::dns::SrvRrset::served(vec![
            (records[0].clone(), 300),
            (records[1].clone(), 3600),
        ]);
        for (scope, configured, severity, hint) in [
            (TtlScope::Record, 300, Severity::Info, None),
            (
                TtlScope::Record,
                600,
                Severity::Info,
                Some("our records the configured 600 s"),
            ),
            (
                TtlScope::Rrset,
                300,
                Severity::Warning,
                Some("every record the configured 300 s"),
            ),
            (
                TtlScope::Unknown,
                300,
                Severity::Warning,
                Some("every record"),
            ),
        ] {
            let ours = [records[0].clone()];
            let expected = Expected {
                records: &ours,
                listed: true,
                ttl: configured,
                hosts: &hosts,
                required_foreign: &[],
                complete: true,
            };
            let mut observation = observe(records.clone(), targets.clone());
            observation.ttl_scope = Some(scope);
            if let Ok(answer) = &mut observation.authoritative.result {
                answer.ttl = mixed.ttl;
                answer.ttls = mixed.ttls.clone();
                answer.record_ttls = mixed.record_ttls.clone();
            }
            let found = findings(&observation, Some(&expected));
            let case = format!("{scope:?} {configured}: {found:?}");
            // Info leaves the domain `srv-ok`; a warning does not.
            let mut want = vec![("ttl-mixed".to_string(), severity)];
            if severity == Severity::Info {
                want.push(("srv-ok".to_string(), Severity::Ok));
            }
            assert_eq!(ids(&found), want, "{case}");
            assert!(
                found[0]
                    .message
                    .contains("(300 s: kms1.corp.example.; 3600 s: kms2.corp.example.)"),
                "{case}"
            );
            match hint {
                None => assert_eq!(found[0].hint, None, "{case}"),
                Some(words) => assert!(
                    found[0].hint.as_deref().is_some_and(|h| h.contains(words)),
                    "{case}"
                ),
            }
        }
    }

    #[test]
    fn a_good_domain_is_ok() {
        let (records, targets) = two_hosts();
        let hosts = [kms(KMS1), kms(KMS2)];
        let expected = Expected {
            records: &records,
            listed: true,
            ttl: 3600,
            hosts: &hosts,
            required_foreign: &[],
            complete: true,
        };
        let found = findings(&observe(records.clone(), targets), Some(&expected));
        assert_eq!(ids(&found), [("srv-ok".to_string(), Severity::Ok)]);
        assert!(found[0].message.contains("as configured"), "{:?}", found[0]);
    }

    #[test]
    fn no_record_names_the_windows_error() {
        let mut observation = observe(Vec::new(), Vec::new());
        let found = findings(&observation, None);
        assert_eq!(
            ids(&found),
            [("srv-missing".to_string(), Severity::Critical)]
        );
        assert!(
            found[0].message.contains("0x8007232B"),
            "{}",
            found[0].message
        );

        let nodata = Rrset {
            status: AnswerStatus::NoData,
            ttl: None,
            records: Vec::new(),
            ttls: Vec::new(),
            record_ttls: Vec::new(),
        };
        observation.authoritative.result = Ok(nodata.clone());
        observation.resolver.result = Ok(nodata);
        let found = findings(&observation, None);
        assert!(
            found[0].message.contains("0x8007251D"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_failed_read_is_never_no_record() {
        let mut observation = observe(Vec::new(), Vec::new());
        observation.authoritative.result = Err("192.0.2.53:53 refused the query".into());
        observation.resolver.result = Err("nameserver refused the query".into());
        let found = findings(&observation, None);
        assert_eq!(
            ids(&found),
            [
                ("dns-read-failed".to_string(), Severity::Critical),
                ("dns-read-failed".to_string(), Severity::Critical)
            ]
        );
        assert!(found.iter().all(|f| !f.message.contains("0x8007")));
    }

    #[test]
    fn a_target_that_does_not_exist_is_told_from_one_without_address() {
        let records = vec![
            srv(0, 0, 1688, KMS1),
            srv(0, 0, 1688, "gone.corp.example."),
            srv(0, 0, 1688, "txtonly.corp.example."),
        ];
        let mut gone = address("gone.corp.example.", None);
        if let Ok(found) = &mut gone.result {
            found.exists = false;
        }
        let targets = vec![
            address(KMS1, Some("192.0.2.10")),
            gone,
            address("txtonly.corp.example.", None),
        ];
        let found = findings(&observe(records, targets), None);
        let message = |host: &str| {
            found
                .iter()
                .find(|f| {
                    f.id == FindingId::TargetNoAddress && f.subject.host.as_deref() == Some(host)
                })
                .map(|f| f.message.clone())
                .unwrap_or_else(|| panic!("no target-no-address for {host}: {found:?}"))
        };
        assert!(message("gone.corp.example.").contains("does not exist (NXDOMAIN)"));
        assert!(message("txtonly.corp.example.").contains("exists but has no A or AAAA record"));
    }

    #[test]
    fn defects_are_warnings_while_another_record_works() {
        let records = vec![
            srv(0, 0, 1688, KMS1),
            srv(0, 0, 1688, "noaddr.corp.example."),
            srv(0, 0, 1688, "."),
        ];
        let targets = vec![
            address(KMS1, Some("192.0.2.10")),
            address("noaddr.corp.example.", None),
        ];
        let found = findings(&observe(records, targets), None);
        let ids = ids(&found);
        assert!(
            ids.contains(&("target-no-address".into(), Severity::Warning)),
            "{ids:?}"
        );
        assert!(
            ids.contains(&("target-is-root".into(), Severity::Warning)),
            "{ids:?}"
        );

        let records = vec![srv(0, 0, 1688, "noaddr.corp.example.")];
        let targets = vec![address("noaddr.corp.example.", None)];
        let found = findings(&observe(records, targets), None);
        let ids = super::tests::ids(&found);
        assert!(
            ids.contains(&("target-no-address".into(), Severity::Critical)),
            "{ids:?}"
        );
        assert!(
            ids.contains(&("single-host".into(), Severity::Warning)),
            "{ids:?}"
        );
    }

    #[test]
    fn an_alias_of_a_known_host_is_not_a_rogue() {
        let records = vec![
            srv(0, 0, 1688, "alias.corp.example."),
            srv(0, 0, 1688, KMS1),
        ];
        let targets = vec![
            TargetLookup {
                target: name("alias.corp.example."),
                result: Ok(TargetAddresses {
                    addresses: vec!["192.0.2.10".parse().unwrap()],
                    canonical: Some(name(KMS1)),
                    exists: true,
                }),
            },
            address(KMS1, Some("192.0.2.10")),
        ];
        let hosts = [kms(KMS1)];
        let configured = [srv(0, 0, 1688, KMS1)];
        let expected = Expected {
            records: &configured,
            listed: true,
            ttl: 3600,
            hosts: &hosts,
            required_foreign: &[],
            complete: true,
        };
        let found = findings(&observe(records, targets), Some(&expected));
        let ids = ids(&found);
        assert!(
            ids.contains(&("target-is-cname".into(), Severity::Warning)),
            "{ids:?}"
        );
        assert!(!ids.iter().any(|(id, _)| id == "unknown-target"), "{ids:?}");
        // Alias and host are one host.
        assert!(
            ids.contains(&("single-host".into(), Severity::Warning)),
            "{ids:?}"
        );
    }

    #[test]
    fn a_host_not_managed_here_is_ok_and_missing_only_when_required() {
        const OTHER: &str = "other-team.corp.example.";
        let (mut records, mut targets) = two_hosts();
        records.push(srv(0, 0, 1688, OTHER));
        targets.push(address(OTHER, Some("192.0.2.77")));
        let mut foreign = kms(OTHER);
        foreign.managed = false;
        let hosts = [kms(KMS1), kms(KMS2), foreign];
        let configured = [srv(0, 0, 1688, KMS1), srv(0, 0, 1688, KMS2)];
        let required = [name(OTHER)];
        let mut expected = Expected {
            records: &configured,
            listed: true,
            ttl: 3600,
            hosts: &hosts,
            required_foreign: &[],
            complete: true,
        };
        // Present, with complete = true: neither unknown nor out of its list.
        let found = findings(&observe(records, targets.clone()), Some(&expected));
        assert_eq!(ids(&found), [("srv-ok".to_string(), Severity::Ok)]);
        // Absent and not required: nothing to say.
        let (ours, our_targets) = two_hosts();
        let found = findings(&observe(ours.clone(), our_targets.clone()), Some(&expected));
        assert_eq!(ids(&found), [("srv-ok".to_string(), Severity::Ok)]);
        // Absent and required: record-missing, naming it.
        expected.required_foreign = &required;
        let found = findings(&observe(ours, our_targets), Some(&expected));
        assert_eq!(
            ids(&found),
            [("record-missing".to_string(), Severity::Warning)]
        );
        assert!(found[0].message.contains(OTHER), "{:?}", found[0]);
    }

    #[test]
    fn unknown_targets_are_critical_only_when_the_list_is_complete() {
        let (mut records, mut targets) = two_hosts();
        records.push(srv(0, 0, 1688, "rogue.corp.example."));
        targets.push(address("rogue.corp.example.", Some("192.0.2.66")));
        let hosts = [kms(KMS1), kms(KMS2)];
        let configured = [srv(0, 0, 1688, KMS1), srv(0, 0, 1688, KMS2)];
        let mut expected = Expected {
            records: &configured,
            listed: true,
            ttl: 3600,
            hosts: &hosts,
            required_foreign: &[],
            complete: false,
        };
        let observation = observe(records, targets);
        let found = findings(&observation, Some(&expected));
        assert_eq!(
            ids(&found),
            [("unknown-target".to_string(), Severity::Warning)]
        );
        expected.complete = true;
        let found = findings(&observation, Some(&expected));
        assert_eq!(
            ids(&found),
            [("unknown-target".to_string(), Severity::Critical)]
        );
        assert_eq!(
            found[0].subject.host.as_deref(),
            Some("rogue.corp.example.")
        );
    }

    #[test]
    fn differences_from_the_configuration_name_both_values() {
        let records = vec![srv(10, 0, 1689, KMS1), srv(0, 0, 1688, KMS2)];
        let targets = vec![
            address(KMS1, Some("192.0.2.10")),
            address(KMS2, Some("192.0.2.11")),
        ];
        let mut rrset = rrset(records.clone());
        rrset.ttl = Some(600);
        let mut observation = observe(records, targets);
        observation.authoritative.result = Ok(rrset.clone());
        observation.resolver.result = Ok(rrset);
        let hosts = [kms(KMS1), kms(KMS2), kms("kms3.corp.example.")];
        let configured = [
            srv(0, 0, 1688, KMS1),
            srv(0, 0, 1688, KMS2),
            srv(0, 0, 1688, "kms3.corp.example."),
        ];
        let expected = Expected {
            records: &configured,
            listed: true,
            ttl: 3600,
            hosts: &hosts,
            required_foreign: &[],
            complete: true,
        };
        let found = findings(&observation, Some(&expected));
        let differs = found
            .iter()
            .find(|f| f.id == FindingId::RecordDiffers)
            .expect("record-differs");
        assert!(
            differs
                .message
                .contains("port 1689 in DNS, 1688 configured"),
            "{}",
            differs.message
        );
        assert!(
            differs.message.contains("priority 10 in DNS, 0 configured"),
            "{}",
            differs.message
        );
        assert_eq!(differs.severity, Severity::Warning, "kms2 still works");
        assert!(found.iter().any(|f| f.id == FindingId::RecordMissing
            && f.subject.host.as_deref() == Some("kms3.corp.example.")));
        let ttl = found
            .iter()
            .find(|f| f.id == FindingId::TtlDiffers)
            .expect("ttl");
        assert!(
            ttl.message.contains("600 s") && ttl.message.contains("3600 s"),
            "{}",
            ttl.message
        );
    }

    #[test]
    fn a_resolver_that_lags_is_named() {
        let (records, targets) = two_hosts();
        let mut observation = observe(records.clone(), targets);
        observation.resolver.result = Ok(rrset(records[..1].to_vec()));
        let found = findings(&observation, None);
        let stale = found
            .iter()
            .find(|f| f.id == FindingId::StaleResolver)
            .expect("stale-resolver");
        assert_eq!(stale.severity, Severity::Warning);
        assert!(
            stale.message.contains("lacks 0 0 1688 kms2.corp.example."),
            "{}",
            stale.message
        );

        observation.resolver.result = Ok(rrset(Vec::new()));
        let found = findings(&observation, None);
        assert!(found
            .iter()
            .any(|f| f.id == FindingId::StaleResolver && f.severity == Severity::Critical));
    }

    #[test]
    fn more_than_six_hosts() {
        let names: Vec<String> = (1..=7).map(|i| format!("kms{i}.corp.example.")).collect();
        let records = names.iter().map(|n| srv(0, 0, 1688, n)).collect();
        let targets = names
            .iter()
            .map(|n| address(n, Some("192.0.2.10")))
            .collect();
        let found = findings(&observe(records, targets), None);
        assert_eq!(
            ids(&found),
            [("too-many-hosts".to_string(), Severity::Warning)]
        );
    }
}
