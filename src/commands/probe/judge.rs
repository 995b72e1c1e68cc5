//! Judges probe results: what a KMS client of each domain (or pinned to a
//! host) would experience. Pure: no I/O, the same results give the same
//! findings.
//!
//! Windows client errors named (DESIGN §2): 0x8007232B (DNS name does not
//! exist), 0x8007251D (no records found), 0x800706BA (RPC server
//! unavailable, for each host that does not answer), 0xC004F074 (no KMS
//! host could be contacted, once every host failed).

use std::time::Duration;

use super::details::{AddressResult, DomainProbe, TargetProbe};
use crate::dns::lookup::LookupStatus;
use crate::report::{Finding, FindingId, Severity};
use crate::rpc::{AddressProbe, Outcome};

/// How a domain came to be probed, which decides how bad a missing record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// From the publish list or `--domain`: it must have KMS records.
    Required,
    /// From the suffix search list: a client without records here moves on
    /// to the next suffix.
    SearchList,
}

const HINT_UNREACHABLE: &str =
    "check each address above: TCP to the SRV port must reach the host (firewall), \
     the Software Protection service must run with the KMS host key installed, \
     and an RPC server without the KMS interface means the record names the wrong host or port";

const HINT_SOME_FAIL: &str =
    "fix the host or remove its record: every client that picks it first waits \
     for the failure (0x800706BA) before trying another host";

/// The findings about one domain, and its status (the worst of them).
pub fn domain_findings(domain: &DomainProbe, role: Role, slow: Duration) -> Vec<Finding> {
    let mut findings = Vec::new();
    let name = domain.domain.as_str();
    match (domain.answer, role) {
        (LookupStatus::Failed, _) if domain.overrun.is_some() => {
            findings.extend(
                domain
                    .overrun
                    .iter()
                    .map(|overrun| overrun.finding(Severity::Critical).domain(name)),
            );
            return findings;
        }
        (LookupStatus::Failed, _) => {
            findings.push(
                Finding::new(
                    FindingId::DnsReadFailed,
                    Severity::Critical,
                    format!(
                        "the {} SRV lookup failed, so what clients find is unknown: {}",
                        domain.query,
                        domain.error.as_deref().unwrap_or("no answer")
                    ),
                )
                .domain(name)
                .hint("check the resolver (--nameserver) and the zone's servers"),
            );
            return findings;
        }
        (LookupStatus::Nxdomain | LookupStatus::Nodata, Role::SearchList) => {
            findings.push(
                Finding::new(
                    FindingId::SrvMissing,
                    Severity::Info,
                    format!(
                        "no {} record; clients move on to the next suffix",
                        domain.query
                    ),
                )
                .domain(name),
            );
            return findings;
        }
        (LookupStatus::Nxdomain | LookupStatus::Nodata, Role::Required) => {
            findings.push(missing(domain));
            return findings;
        }
        (LookupStatus::Records, _) => {}
    }

    let roots = domain.targets.iter().filter(|t| t.target == ".").count();
    if roots > 0 {
        let all = roots == domain.targets.len();
        findings.push(
            Finding::new(
                FindingId::TargetIsRoot,
                if all {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                if all {
                    "the only SRV target is \".\": KMS is declared not available in this domain (RFC 2782)".to_string()
                } else {
                    "an SRV record with target \".\" sits next to real hosts; clients that pick it fail".to_string()
                },
            )
            .domain(name)
            .hint("remove the \".\" record, or every other record if KMS really is not offered here"),
        );
        if all {
            return findings;
        }
    }

    let hosts = domain.targets.len() - roots;
    if domain.reachable == 0 {
        findings.push(
            Finding::new(
                FindingId::KmsUnreachable,
                Severity::Critical,
                format!(
                    "none of {} answers as a KMS host ({}): clients get 0x800706BA (RPC server unavailable) \
                     for each host, then 0xC004F074 (no KMS host could be contacted)",
                    count(domain.addresses, "address", "addresses"),
                    tally(domain.targets.iter())
                ),
            )
            .domain(name)
            .hint(HINT_UNREACHABLE),
        );
    } else {
        let message = if domain.reachable == domain.addresses {
            format!(
                "all {} of {} answer as KMS hosts",
                count(domain.addresses, "address", "addresses"),
                count(hosts, "host", "hosts")
            )
        } else {
            format!(
                "{} of {} answer as KMS hosts; clients fail over to them",
                domain.reachable,
                count(domain.addresses, "address", "addresses")
            )
        };
        findings.push(Finding::new(FindingId::KmsReachable, Severity::Ok, message).domain(name));
        for target in domain.targets.iter().filter(|t| t.target != ".") {
            if let Some(finding) = failing_addresses(target) {
                findings.push(finding.domain(name));
            }
        }
    }
    for target in &domain.targets {
        findings.extend(overruns(target).map(|f| f.domain(name)));
        findings.extend(slow_addresses(target, slow).map(|f| f.domain(name)));
    }
    findings
}

/// A `deadline-exceeded` finding, critical as everywhere, for each address
/// of `target` whose probe `--deadline` cut off: it names the step
/// ("probing 10.0.0.5:1688", "waiting for the RPC bind reply from …").
fn overruns(target: &TargetProbe) -> impl Iterator<Item = Finding> + '_ {
    target.addresses.iter().filter_map(|result| match result {
        AddressResult::Probed(AddressProbe {
            outcome: Outcome::DeadlineExceeded { error },
            ..
        }) => Some(error.finding(Severity::Critical)),
        _ => None,
    })
}

/// The findings about one host given with `--host`.
pub fn host_findings(host: &TargetProbe, slow: Duration) -> Vec<Finding> {
    let mut findings = Vec::new();
    let label = host.label();
    let reachable = host.reachable();
    if reachable == 0 {
        findings.push(
            Finding::new(
                FindingId::KmsUnreachable,
                Severity::Critical,
                format!(
                    "{} does not answer as a KMS host ({}): clients pinned to it (slmgr /skms) get \
                     0x800706BA (RPC server unavailable), then 0xC004F074",
                    label,
                    tally(std::iter::once(host))
                ),
            )
            .host(&label)
            .hint(HINT_UNREACHABLE),
        );
    } else {
        findings.push(
            Finding::new(
                FindingId::KmsReachable,
                Severity::Ok,
                format!(
                    "{reachable} of {} answer as a KMS host",
                    count(host.addresses.len(), "address", "addresses")
                ),
            )
            .host(&label),
        );
        findings.extend(failing_addresses(host));
    }
    findings.extend(overruns(host).map(|f| f.host(&label)));
    findings.extend(slow_addresses(host, slow));
    findings
}

/// When a search list was probed and none of its domains has records,
/// clients find no KMS host at all.
pub fn search_list_finding(domains: &[DomainProbe]) -> Option<Finding> {
    if domains.iter().any(|d| d.answer == LookupStatus::Records) {
        return None;
    }
    let failed = domains.iter().any(|d| d.answer == LookupStatus::Failed);
    let nxdomain = domains.iter().all(|d| d.answer == LookupStatus::Nxdomain);
    let names: Vec<&str> = domains.iter().map(|d| d.domain.as_str()).collect();
    Some(
        Finding::new(
            FindingId::SrvMissing,
            Severity::Critical,
            format!(
                "no domain of the search list ({}) has _vlmcs._tcp records{}: clients report {}",
                names.join(", "),
                if failed { " that could be read" } else { "" },
                if nxdomain {
                    "0x8007232B (DNS name does not exist)"
                } else {
                    "0x8007251D (no records found)"
                }
            ),
        )
        .hint("publish the records in the first suffix clients search (kmsdns publish), or pin a host with slmgr /skms"),
    )
}

fn missing(domain: &DomainProbe) -> Finding {
    let (status, code) = match domain.answer {
        LookupStatus::Nxdomain => ("NXDOMAIN", "0x8007232B (DNS name does not exist)"),
        _ => ("NODATA", "0x8007251D (no records found)"),
    };
    Finding::new(
        FindingId::SrvMissing,
        Severity::Critical,
        format!(
            "no {} record ({status}): clients report {code}",
            domain.query
        ),
    )
    .domain(&domain.domain)
    .hint("publish the records (kmsdns publish), or let the KMS host publish them (slmgr /sdns)")
}

/// A warning naming every address of `target` that fails, if any.
fn failing_addresses(target: &TargetProbe) -> Option<Finding> {
    let failing: Vec<String> = target
        .addresses
        .iter()
        .filter(|a| !a.is_kms())
        .map(|a| match a {
            AddressResult::Probed(probe) => {
                format!("{} {}: {}", probe.address, a.verdict(), probe.outcome)
            }
            AddressResult::DnsFailed(failure) => format!("dns-failed: {}", failure.error),
        })
        .collect();
    if failing.is_empty() {
        return None;
    }
    Some(
        Finding::new(
            FindingId::SomeAddressesFail,
            Severity::Warning,
            failing.join("; "),
        )
        .host(target.label())
        .hint(HINT_SOME_FAIL),
    )
}

/// A warning for each address that answered as KMS, but slowly.
fn slow_addresses(target: &TargetProbe, slow: Duration) -> impl Iterator<Item = Finding> + '_ {
    target.addresses.iter().filter_map(move |result| {
        let AddressResult::Probed(probe) = result else {
            return None;
        };
        if !probe.outcome.is_kms() {
            return None;
        }
        let connect = probe.connect.unwrap_or_default();
        let reply = probe.reply.unwrap_or_default();
        let total = connect + reply;
        (total > slow).then(|| {
            Finding::new(
                FindingId::SlowHost,
                Severity::Warning,
                format!(
                    "{} took {:.0} ms (connect {:.0} ms, bind {:.0} ms), above --slow {} ms",
                    probe.address,
                    total.as_secs_f64() * 1000.0,
                    connect.as_secs_f64() * 1000.0,
                    reply.as_secs_f64() * 1000.0,
                    slow.as_millis()
                ),
            )
            .host(target.label())
            .hint("a loaded host or a long network path: clients time out sooner than kmsdns does")
        })
    })
}

/// `2 tcp-refused, 1 rpc-not-kms`: the verdicts of every address, counted.
fn tally<'a>(targets: impl Iterator<Item = &'a TargetProbe>) -> String {
    let mut counts: Vec<(&'static str, usize)> = Vec::new();
    for result in targets.flat_map(|t| t.addresses.iter()) {
        let verdict = result.verdict();
        match counts.iter_mut().find(|(v, _)| *v == verdict) {
            Some((_, n)) => *n += 1,
            None => counts.push((verdict, 1)),
        }
    }
    if counts.is_empty() {
        return "no address".to_string();
    }
    counts
        .iter()
        .map(|(verdict, n)| format!("{n} {verdict}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::concurrency::deadline::Overrun;

    fn probed(addr: &str, outcome: Outcome, millis: u64) -> AddressResult {
        AddressResult::Probed(AddressProbe {
            address: addr.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
            outcome,
            connect: Some(Duration::from_millis(millis / 2)),
            reply: Some(Duration::from_millis(millis - millis / 2)),
        })
    }

    fn target(name: &str, addresses: Vec<AddressResult>) -> TargetProbe {
        TargetProbe {
            target: name.to_string(),
            port: 1688,
            priority: Some(0),
            weight: Some(0),
            probability: None,
            probability_value: None,
            addresses,
        }
    }

    fn domain(answer: LookupStatus, targets: Vec<TargetProbe>) -> DomainProbe {
        DomainProbe {
            domain: "corp.example.".into(),
            query: "_vlmcs._tcp.corp.example.".into(),
            answer,
            error: None,
            overrun: None,
            status: Severity::Ok,
            reachable: targets.iter().map(TargetProbe::reachable).sum(),
            addresses: targets.iter().map(|t| t.addresses.len()).sum(),
            targets,
        }
    }

    /// A host with one address, probed in 2 ms.
    fn host(name: &str, addr: &str, outcome: Outcome) -> TargetProbe {
        target(name, vec![probed(addr, outcome, 2)])
    }

    /// A domain whose SRV records name `targets`.
    fn answered(targets: Vec<TargetProbe>) -> DomainProbe {
        domain(LookupStatus::Records, targets)
    }

    fn refused() -> Outcome {
        Outcome::TcpRefused {
            error: "Connection refused".into(),
        }
    }

    fn ids(findings: &[Finding]) -> Vec<(FindingId, Severity)> {
        findings.iter().map(|f| (f.id, f.severity)).collect()
    }

    const SLOW: Duration = Duration::from_millis(500);

    #[test]
    fn every_address_kms_is_ok() {
        let d = answered(vec![
            host("kms1.corp.example.", "192.0.2.1:1688", Outcome::Kms),
            host("kms2.corp.example.", "192.0.2.2:1688", Outcome::Kms),
        ]);
        let findings = domain_findings(&d, Role::Required, SLOW);
        assert_eq!(ids(&findings), [(FindingId::KmsReachable, Severity::Ok)]);
        assert_eq!(
            findings[0].message,
            "all 2 addresses of 2 hosts answer as KMS hosts"
        );
    }

    #[test]
    fn some_failing_is_a_warning_per_failing_host() {
        let d = answered(vec![
            host("kms1.corp.example.", "192.0.2.1:1688", Outcome::Kms),
            target(
                "kms2.corp.example.",
                vec![
                    probed("192.0.2.2:1688", refused(), 1),
                    probed("[2001:db8::2]:1688", Outcome::Kms, 2),
                ],
            ),
            target(
                "kms3.corp.example.",
                vec![AddressResult::dns_failed("no A or AAAA")],
            ),
        ]);
        let findings = domain_findings(&d, Role::Required, SLOW);
        assert_eq!(
            ids(&findings),
            [
                (FindingId::KmsReachable, Severity::Ok),
                (FindingId::SomeAddressesFail, Severity::Warning),
                (FindingId::SomeAddressesFail, Severity::Warning),
            ]
        );
        assert_eq!(
            findings[1].subject.host.as_deref(),
            Some("kms2.corp.example.:1688")
        );
        assert!(
            findings[1].message.contains("192.0.2.2:1688 tcp-refused"),
            "{}",
            findings[1].message
        );
        assert!(
            findings[2].message.contains("dns-failed"),
            "{}",
            findings[2].message
        );
        assert_eq!(
            findings[0].message,
            "2 of 4 addresses answer as KMS hosts; clients fail over to them"
        );
    }

    #[test]
    fn none_kms_is_critical_and_names_the_windows_errors() {
        let d = answered(vec![
            host("kms1.corp.example.", "192.0.2.1:1688", refused()),
            host(
                "kms2.corp.example.",
                "192.0.2.2:1688",
                Outcome::RpcNotKms {
                    result: 2,
                    reason: 1,
                },
            ),
        ]);
        let findings = domain_findings(&d, Role::Required, SLOW);
        assert_eq!(
            ids(&findings),
            [(FindingId::KmsUnreachable, Severity::Critical)]
        );
        let message = &findings[0].message;
        assert!(
            message.contains("0xC004F074") && message.contains("0x800706BA"),
            "{message}"
        );
        assert!(
            message.contains("1 tcp-refused, 1 rpc-not-kms"),
            "{message}"
        );
    }

    #[test]
    fn missing_records_depend_on_the_role() {
        let nx = domain(LookupStatus::Nxdomain, Vec::new());
        let findings = domain_findings(&nx, Role::Required, SLOW);
        assert_eq!(
            ids(&findings),
            [(FindingId::SrvMissing, Severity::Critical)]
        );
        assert!(findings[0].message.contains("0x8007232B"));
        let nodata = domain(LookupStatus::Nodata, Vec::new());
        assert!(domain_findings(&nodata, Role::Required, SLOW)[0]
            .message
            .contains("0x8007251D"));
        assert_eq!(
            ids(&domain_findings(&nodata, Role::SearchList, SLOW)),
            [(FindingId::SrvMissing, Severity::Info)]
        );
        let failed = domain(LookupStatus::Failed, Vec::new());
        assert_eq!(
            ids(&domain_findings(&failed, Role::SearchList, SLOW)),
            [(FindingId::DnsReadFailed, Severity::Critical)]
        );
    }

    fn overrun(step: &str) -> Overrun {
        Overrun {
            limit: Duration::from_secs(1),
            step: Some(step.to_string()),
        }
    }

    #[test]
    fn a_lookup_or_a_probe_past_its_deadline_is_critical_and_names_its_step() {
        let mut cut = domain(LookupStatus::Failed, Vec::new());
        cut.overrun = Some(overrun("reading the SRV RRset"));
        let findings = domain_findings(&cut, Role::SearchList, SLOW);
        assert_eq!(
            ids(&findings),
            [(FindingId::DeadlineExceeded, Severity::Critical)]
        );
        assert!(findings[0].message.contains("while reading the SRV RRset"));

        let step = "waiting for the RPC bind reply from 192.0.2.2:1688";
        let stalled = Outcome::DeadlineExceeded {
            error: overrun(step),
        };
        let d = answered(vec![
            host("kms1.corp.example.", "192.0.2.1:1688", Outcome::Kms),
            host("kms2.corp.example.", "192.0.2.2:1688", stalled.clone()),
        ]);
        let findings = domain_findings(&d, Role::Required, SLOW);
        let cut: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.id == FindingId::DeadlineExceeded)
            .collect();
        assert_eq!(cut.len(), 1, "{findings:#?}");
        assert_eq!(cut[0].severity, Severity::Critical);
        assert!(cut[0].message.contains(step), "{}", cut[0].message);

        let findings = host_findings(&host("192.0.2.2", "192.0.2.2:1688", stalled), SLOW);
        assert!(findings
            .iter()
            .any(|f| f.id == FindingId::DeadlineExceeded && f.severity == Severity::Critical));
    }

    #[test]
    fn search_list_without_any_records_is_critical() {
        let lists = [
            vec![domain(LookupStatus::Nxdomain, Vec::new())],
            vec![
                domain(LookupStatus::Nodata, Vec::new()),
                domain(LookupStatus::Nxdomain, Vec::new()),
            ],
        ];
        let nx = search_list_finding(&lists[0]);
        assert!(nx
            .as_ref()
            .is_some_and(|f| f.severity == Severity::Critical && f.message.contains("0x8007232B")));
        let nodata = search_list_finding(&lists[1]);
        assert!(nodata.is_some_and(|f| f.message.contains("0x8007251D")));
        let with_records = [domain(LookupStatus::Records, Vec::new())];
        assert!(search_list_finding(&with_records).is_none());
    }

    #[test]
    fn slow_kms_addresses_are_warned_about() {
        let d = answered(vec![target(
            "kms1.corp.example.",
            vec![
                probed("192.0.2.1:1688", Outcome::Kms, 800),
                probed("192.0.2.2:1688", Outcome::Kms, 20),
            ],
        )]);
        let findings = domain_findings(&d, Role::Required, SLOW);
        assert_eq!(
            ids(&findings),
            [
                (FindingId::KmsReachable, Severity::Ok),
                (FindingId::SlowHost, Severity::Warning)
            ]
        );
        assert!(
            findings[1]
                .message
                .starts_with("192.0.2.1:1688 took 800 ms"),
            "{}",
            findings[1].message
        );
    }

    #[test]
    fn root_target_alone_means_no_service() {
        let d = answered(vec![target(
            ".",
            vec![AddressResult::dns_failed("no service")],
        )]);
        assert_eq!(
            ids(&domain_findings(&d, Role::Required, SLOW)),
            [(FindingId::TargetIsRoot, Severity::Critical)]
        );
    }

    #[test]
    fn hosts_are_judged_alone() {
        let good = host("192.0.2.1", "192.0.2.1:1688", Outcome::Kms);
        assert_eq!(
            ids(&host_findings(&good, SLOW)),
            [(FindingId::KmsReachable, Severity::Ok)]
        );
        let bad = host("kms.corp.example.", "192.0.2.9:1688", refused());
        let findings = host_findings(&bad, SLOW);
        assert_eq!(
            ids(&findings),
            [(FindingId::KmsUnreachable, Severity::Critical)]
        );
        assert_eq!(
            findings[0].subject.host.as_deref(),
            Some("kms.corp.example.:1688")
        );
        assert_eq!(findings[0].subject.domain, None);
    }
}
