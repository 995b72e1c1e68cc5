//! What KMS clients of a domain would do (DESIGN §2), as a model: which
//! suffix's `_vlmcs._tcp` query they use, the RFC 2782 order and chance of
//! each host ([`crate::srv_order`]), the failover, and the findings about
//! it. Pure: the lookups are made by `commands::discover`.
//!
//! Client behaviour modelled (Microsoft's KMS documentation): the client
//! asks its primary DNS suffix, then each domain of its suffix search list,
//! and uses the first answer with records; `slmgr /skms-domain D` makes D
//! the only domain asked. It picks a host by priority and weight; a host
//! that does not answer is dropped and another is picked; the host that
//! answers is cached and used until it fails at a renewal.

use std::collections::BTreeMap;

use hickory_proto::rr::Name;

use crate::commands::discover::details::{
    HostChance, PriorityGroupChances, SimulationSummary, SuffixQuery, SuffixSource,
};
use crate::dns::lookup::{key, AddressLookup, Lookup, LookupStatus};
use crate::dns::SrvRecord;
use crate::report::words::plural;
use crate::report::{Finding, FindingId, Severity};
use crate::srv_order::{first_pick_probabilities, priority_groups, simulate, Weighted};

/// The domains a client asks, in order: the pinned domain alone, or the
/// primary suffix then the search list, each domain once.
pub fn candidates(
    suffix: Option<&Name>,
    search: &[Name],
    pinned: Option<&Name>,
) -> Vec<(Name, SuffixSource)> {
    if let Some(pinned) = pinned {
        return vec![(pinned.clone(), SuffixSource::SkmsDomain)];
    }
    let mut list: Vec<(Name, SuffixSource)> = Vec::new();
    let all = suffix
        .map(|s| (s, SuffixSource::PrimarySuffix))
        .into_iter()
        .chain(search.iter().map(|s| (s, SuffixSource::SearchList)));
    for (name, source) in all {
        if !list.iter().any(|(seen, _)| key(seen) == key(name)) {
            list.push((name.clone(), source));
        }
    }
    list
}

/// The index of the lookup clients use: the first with records.
pub fn selected(lookups: &[Lookup]) -> Option<usize> {
    lookups
        .iter()
        .position(|l| l.answer == LookupStatus::Records && !l.records.is_empty())
}

/// The queries as shown.
pub fn queries(
    lookups: &[Lookup],
    sources: &[SuffixSource],
    used: Option<usize>,
) -> Vec<SuffixQuery> {
    lookups
        .iter()
        .zip(sources)
        .enumerate()
        .map(|(i, (lookup, &source))| SuffixQuery {
            domain: lookup.domain.to_ascii(),
            source,
            query: crate::config::srv_owner(&lookup.domain).to_ascii(),
            answer: lookup.answer,
            records: lookup.records.len(),
            error: lookup.error.clone(),
            used: used == Some(i),
        })
        .collect()
}

/// The priority groups of `records` with each host's chance of being picked
/// first, likeliest first; `addresses` by [`key`] of the target.
pub fn groups(
    records: &[SrvRecord],
    addresses: &BTreeMap<String, AddressLookup>,
) -> Vec<PriorityGroupChances> {
    let weighted = weighted(records);
    priority_groups(&weighted)
        .into_iter()
        .map(|group| {
            let weights: Vec<u16> = group.members.iter().map(|&i| weighted[i].weight).collect();
            let chances = first_pick_probabilities(&weights);
            let mut hosts: Vec<(u128, u128, HostChance)> = group
                .members
                .iter()
                .zip(chances)
                .map(|(&i, chance)| {
                    let record = &records[i];
                    let (found, address_error) = if record.target.is_root() {
                        (
                            Vec::new(),
                            Some("\".\": service not available (RFC 2782)".to_string()),
                        )
                    } else {
                        match addresses.get(&key(&record.target)) {
                            Some(Ok(ips)) => (ips.iter().map(ToString::to_string).collect(), None),
                            Some(Err(error)) => (Vec::new(), Some(error.clone())),
                            None => (Vec::new(), Some("not looked up".to_string())),
                        }
                    };
                    (
                        chance.numerator(),
                        chance.denominator(),
                        HostChance {
                            target: record.target.to_ascii(),
                            port: record.port,
                            weight: record.weight,
                            probability: chance.to_string(),
                            probability_value: chance.value(),
                            addresses: found,
                            address_error,
                            observed: None,
                            observed_count: None,
                        },
                    )
                })
                .collect();
            hosts.sort_by(|a, b| {
                (b.0 * a.1)
                    .cmp(&(a.0 * b.1))
                    .then_with(|| a.2.target.cmp(&b.2.target))
                    .then(a.2.port.cmp(&b.2.port))
            });
            PriorityGroupChances {
                priority: group.priority,
                total_weight: group.total_weight(&weighted),
                hosts: hosts.into_iter().map(|h| h.2).collect(),
            }
        })
        .collect()
}

fn weighted(records: &[SrvRecord]) -> Vec<Weighted> {
    records
        .iter()
        .map(|r| Weighted {
            priority: r.priority,
            weight: r.weight,
        })
        .collect()
}

/// Runs `clients` seeded selections over `records` and writes the observed
/// shares into `groups` (as made by [`groups`] from the same records).
pub fn attach_simulation(
    records: &[SrvRecord],
    groups: &mut [PriorityGroupChances],
    clients: u64,
    seed: u64,
) -> SimulationSummary {
    // Resolvers rotate RRsets (BIND's default is cyclic), so the answer
    // order changes between runs: simulate on a canonical order, or the
    // same seed would give another run.
    let mut records = records.to_vec();
    records.sort_by(|a, b| {
        (a.priority, a.weight, key(&a.target), a.port).cmp(&(
            b.priority,
            b.weight,
            key(&b.target),
            b.port,
        ))
    });
    let counts = simulate(&weighted(&records), clients, seed);
    let mut largest: f64 = 0.0;
    // Records may repeat a target with another port or priority: match each
    // shown host to its record by all three.
    let mut used = vec![false; records.len()];
    for group in groups.iter_mut() {
        for host in &mut group.hosts {
            let found = records.iter().enumerate().position(|(i, r)| {
                !used[i]
                    && r.priority == group.priority
                    && r.port == host.port
                    && r.weight == host.weight
                    && r.target.to_ascii() == host.target
            });
            if let Some(i) = found {
                used[i] = true;
                let share = counts[i] as f64 / clients.max(1) as f64;
                host.observed = Some(share);
                host.observed_count = Some(counts[i]);
                largest = largest.max((share - host.probability_value).abs());
            }
        }
    }
    SimulationSummary {
        clients,
        seed,
        largest_difference: largest,
    }
}

/// What a client does when hosts fail, one line per priority group.
pub fn failover(groups: &[PriorityGroupChances]) -> Vec<String> {
    groups
        .iter()
        .enumerate()
        .map(|(n, group)| {
            let hosts: Vec<String> = group
                .hosts
                .iter()
                .map(|h| format!("{} ({})", h.target, h.probability))
                .collect();
            let when = if n == 0 {
                "first".to_string()
            } else {
                format!("when every host of priority {} failed", groups[n - 1].priority)
            };
            if group.hosts.len() == 1 {
                format!("{}. priority {}, {when}: {}", n + 1, group.priority, hosts.join(", "))
            } else {
                format!(
                    "{}. priority {}, {when}: one of {} picked by weight; one that does not answer is dropped and the pick repeated among the rest",
                    n + 1,
                    group.priority,
                    hosts.join(", ")
                )
            }
        })
        .collect()
}

/// The notes shown with the model.
pub fn notes(found: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if found {
        notes.push(
            "host caching (slmgr /skhc, the default): the first host that answers is cached and \
             used again at every renewal (every 7 days; an activation is valid 180 days) until it \
             fails; only then does the client ask DNS again, so priority and weight shape only the \
             first contact and the failover; with slmgr /ckhc the client asks DNS every time"
                .to_string(),
        );
    }
    notes.push(
        "when no host answers: 0x800706BA (RPC server unavailable) for each, then 0xC004F074 \
         (no KMS host could be contacted); while not activated, the client retries every 120 minutes"
            .to_string(),
    );
    notes
}

/// The findings of a discovery: which domain clients use, and what in its
/// records works against failover or load sharing.
pub fn findings(
    lookups: &[Lookup],
    used: Option<usize>,
    groups: &[PriorityGroupChances],
    pinned: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, lookup) in lookups.iter().enumerate() {
        if lookup.answer != LookupStatus::Failed {
            continue;
        }
        let (severity, why) = match used {
            None => (Severity::Critical, "and no other domain has records"),
            Some(u) if i < u => (
                Severity::Warning,
                "before the domain with records: clients that get this failure may stop here",
            ),
            Some(_) => (Severity::Info, "after the domain clients use"),
        };
        let owner = crate::config::srv_owner(&lookup.domain).to_ascii();
        let finding = match &lookup.overrun {
            Some(overrun) => Finding {
                message: format!("the {owner} query was cut off, {why}: {overrun}"),
                ..overrun.finding(severity)
            },
            None => Finding::new(
                FindingId::DnsReadFailed,
                severity,
                format!(
                    "the {owner} query failed, {why}: {}",
                    lookup.error.as_deref().unwrap_or("no answer")
                ),
            )
            .hint("check the resolver (--nameserver) and the zone's servers"),
        };
        findings.push(finding.domain(lookup.domain.to_ascii()));
    }

    let Some(used) = used else {
        let nxdomain = lookups.iter().all(|l| l.answer == LookupStatus::Nxdomain);
        let names: Vec<String> = lookups.iter().map(|l| l.domain.to_ascii()).collect();
        findings.push(
            Finding::new(
                FindingId::SrvMissing,
                Severity::Critical,
                format!(
                    "no _vlmcs._tcp records in {} {}: clients report {}",
                    if pinned { "the pinned domain" } else { "any domain asked" },
                    names.join(", "),
                    if nxdomain {
                        "0x8007232B (DNS name does not exist)"
                    } else {
                        "0x8007251D (no records found)"
                    }
                ),
            )
            .hint("publish the records in a domain clients search (kmsdns publish), or pin a host with slmgr /skms"),
        );
        return findings;
    };
    let Some(lookup) = lookups.get(used) else {
        return findings;
    };
    let domain = lookup.domain.to_ascii();
    let mut hosts: Vec<String> = lookup
        .records
        .iter()
        .filter(|r| !r.target.is_root())
        .map(|r| key(&r.target))
        .collect();
    hosts.sort();
    hosts.dedup();
    findings.push(
        Finding::new(
            FindingId::DiscoveryDomain,
            Severity::Ok,
            format!(
                "clients use {}: {} record{} for {} host{} in {} priorit{}",
                crate::config::srv_owner(&lookup.domain).to_ascii(),
                lookup.records.len(),
                plural(lookup.records.len()),
                hosts.len(),
                plural(hosts.len()),
                groups.len(),
                if groups.len() == 1 { "y" } else { "ies" }
            ),
        )
        .domain(&domain),
    );
    if lookup.records.iter().any(|r| r.target.is_root()) {
        findings.push(
            Finding::new(
                FindingId::TargetIsRoot,
                if hosts.is_empty() {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                "an SRV record has target \".\", RFC 2782's \"service decidedly not available\"",
            )
            .domain(&domain)
            .hint(
                "remove the \".\" record, or every other record if KMS really is not offered here",
            ),
        );
    }
    if hosts.len() == 1 {
        findings.push(
            Finding::new(
                FindingId::SingleHost,
                Severity::Warning,
                "one KMS host only: when it is down, clients have nothing to fail over to",
            )
            .domain(&domain)
            .hint("publish a second KMS host (Microsoft recommends at least two)"),
        );
    }
    for group in groups {
        if group.total_weight == 0 {
            continue;
        }
        for host in group.hosts.iter().filter(|h| h.weight == 0) {
            findings.push(
                Finding::new(
                    FindingId::ZeroWeight,
                    Severity::Info,
                    format!(
                        "weight 0 next to weighted records in priority {}: picked first by {} of clients ({:.2}%)",
                        group.priority,
                        host.probability,
                        host.probability_value * 100.0
                    ),
                )
                .domain(&domain)
                .host(format!("{}:{}", host.target, host.port))
                .hint("give it a weight to share the load, or a higher priority number to make it a standby"),
            );
        }
    }
    for group in groups {
        for host in group.hosts.iter().filter(|h| h.target != ".") {
            if let Some(error) = &host.address_error {
                findings.push(
                    Finding::new(
                        FindingId::TargetNoAddress,
                        Severity::Warning,
                        format!("clients that pick it cannot connect: {error}"),
                    )
                    .domain(&domain)
                    .host(format!("{}:{}", host.target, host.port))
                    .hint("add the host's A/AAAA records, or remove its SRV record"),
                );
            }
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::concurrency::deadline::Overrun;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap_or_default()
    }

    fn record(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 1688,
            target: name(target),
        }
    }

    fn lookup(domain: &str, answer: LookupStatus, records: Vec<SrvRecord>) -> Lookup {
        Lookup {
            domain: name(domain),
            answer,
            error: (answer == LookupStatus::Failed).then(|| "timeout".to_string()),
            overrun: None,
            records,
        }
    }

    #[test]
    fn candidates_are_suffix_then_search_list_once_each() {
        let list = candidates(
            Some(&name("corp.example.")),
            &[
                name("lab.example."),
                name("CORP.example."),
                name("dev.example."),
            ],
            None,
        );
        let shown: Vec<(String, SuffixSource)> =
            list.iter().map(|(n, s)| (n.to_ascii(), *s)).collect();
        assert_eq!(
            shown,
            [
                ("corp.example.".to_string(), SuffixSource::PrimarySuffix),
                ("lab.example.".to_string(), SuffixSource::SearchList),
                ("dev.example.".to_string(), SuffixSource::SearchList),
            ]
        );
        let pinned = candidates(
            Some(&name("corp.example.")),
            &[name("lab.example.")],
            Some(&name("kms.example.")),
        );
        assert_eq!(pinned.len(), 1);
        assert_eq!(pinned[0].1, SuffixSource::SkmsDomain);
    }

    #[test]
    fn a_query_past_its_deadline_keeps_the_severity_of_its_place() {
        let mut cut = lookup("a.example.", LookupStatus::Failed, vec![]);
        cut.overrun = Some(Overrun {
            limit: Duration::from_secs(1),
            step: Some("reading _vlmcs._tcp.a.example. SRV".to_string()),
        });
        let used = lookup(
            "b.example.",
            LookupStatus::Records,
            vec![record(0, 0, "kms.b.example.")],
        );
        let before = findings(&[cut.clone(), used.clone()], Some(1), &[], false);
        assert_eq!(
            (before[0].id, before[0].severity),
            (FindingId::DeadlineExceeded, Severity::Warning)
        );
        assert!(
            before[0]
                .message
                .contains("while reading _vlmcs._tcp.a.example. SRV"),
            "{}",
            before[0].message
        );
        let after = findings(&[used, cut.clone()], Some(0), &[], false);
        assert_eq!(
            (after[0].id, after[0].severity),
            (FindingId::DeadlineExceeded, Severity::Info)
        );
        let alone = findings(&[cut], None, &[], false);
        assert_eq!(
            (alone[0].id, alone[0].severity),
            (FindingId::DeadlineExceeded, Severity::Critical)
        );
    }

    #[test]
    fn the_first_domain_with_records_is_used() {
        let lookups = [
            lookup("a.example.", LookupStatus::Nxdomain, vec![]),
            lookup("b.example.", LookupStatus::Failed, vec![]),
            lookup(
                "c.example.",
                LookupStatus::Records,
                vec![
                    record(0, 0, "kms1.c.example."),
                    record(0, 0, "kms2.c.example."),
                ],
            ),
            lookup(
                "d.example.",
                LookupStatus::Records,
                vec![record(0, 0, "kms.d.example.")],
            ),
        ];
        assert_eq!(selected(&lookups), Some(2));
        let findings = findings(&lookups, Some(2), &[], false);
        let ids: Vec<(FindingId, Severity)> = findings.iter().map(|f| (f.id, f.severity)).collect();
        assert_eq!(
            ids,
            [
                (FindingId::DnsReadFailed, Severity::Warning),
                (FindingId::DiscoveryDomain, Severity::Ok),
            ]
        );
        assert_eq!(
            findings[1].message,
            "clients use _vlmcs._tcp.c.example.: 2 records for 2 hosts in 0 priorities"
        );
    }

    #[test]
    fn nothing_found_is_critical_with_the_windows_error() {
        let lookups = [
            lookup("a.example.", LookupStatus::Nxdomain, vec![]),
            lookup("b.example.", LookupStatus::Nodata, vec![]),
        ];
        let found = findings(&lookups, selected(&lookups), &[], false);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, FindingId::SrvMissing);
        assert_eq!(found[0].severity, Severity::Critical);
        assert!(
            found[0].message.contains("0x8007251D"),
            "{}",
            found[0].message
        );
        let nx = [lookup("a.example.", LookupStatus::Nxdomain, vec![])];
        assert!(findings(&nx, None, &[], true)[0]
            .message
            .contains("the pinned domain a.example.: clients report 0x8007232B"));
    }

    #[test]
    fn groups_carry_exact_chances_likeliest_first() {
        let records = vec![
            record(0, 0, "light.example."),
            record(0, 60, "heavy.example."),
            record(10, 0, "standby.example."),
            record(0, 30, "middle.example."),
        ];
        let mut addresses = BTreeMap::new();
        addresses.insert(
            "heavy.example.".to_string(),
            Ok(vec!["192.0.2.1".parse().unwrap_or([0u8; 4].into())]),
        );
        addresses.insert(
            "light.example.".to_string(),
            Err("light.example. has no A or AAAA record".to_string()),
        );
        let groups = groups(&records, &addresses);
        let shown: Vec<(u16, Vec<(&str, &str)>)> = groups
            .iter()
            .map(|g| {
                (
                    g.priority,
                    g.hosts
                        .iter()
                        .map(|h| (h.target.as_str(), h.probability.as_str()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                (
                    0,
                    vec![
                        ("heavy.example.", "60/91"),
                        ("middle.example.", "30/91"),
                        ("light.example.", "1/91")
                    ]
                ),
                (10, vec![("standby.example.", "1/1")]),
            ]
        );
        assert_eq!(groups[0].total_weight, 90);
        assert_eq!(groups[0].hosts[0].addresses, ["192.0.2.1"]);

        let lookups = [lookup(
            "corp.example.",
            LookupStatus::Records,
            records.clone(),
        )];
        let ids: Vec<FindingId> = findings(&lookups, Some(0), &groups, false)
            .iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(
            ids,
            [
                FindingId::DiscoveryDomain,
                FindingId::ZeroWeight,
                FindingId::TargetNoAddress,
                FindingId::TargetNoAddress,
                FindingId::TargetNoAddress,
            ]
        );

        let steps = failover(&groups);
        assert_eq!(steps.len(), 2);
        assert!(
            steps[0].starts_with("1. priority 0, first: one of heavy.example. (60/91)"),
            "{}",
            steps[0]
        );
        assert_eq!(
            steps[1],
            "2. priority 10, when every host of priority 0 failed: standby.example. (1/1)"
        );
    }

    #[test]
    fn simulation_lands_on_each_shown_host() {
        let records = vec![
            record(0, 3, "a.example."),
            record(0, 1, "b.example."),
            record(5, 0, "c.example."),
        ];
        let mut groups = groups(&records, &BTreeMap::new());
        let summary = attach_simulation(&records, &mut groups, 20_000, 9);
        assert_eq!(summary.clients, 20_000);
        assert!(summary.largest_difference < 0.02, "{summary:?}");
        for group in &groups {
            let total: u64 = group.hosts.iter().filter_map(|h| h.observed_count).sum();
            assert_eq!(total, 20_000);
        }
        assert_eq!(groups[1].hosts[0].observed, Some(1.0));
    }

    #[test]
    fn the_same_seed_gives_the_same_run_whatever_the_answer_order() {
        let records = vec![
            record(0, 3, "a.example."),
            record(0, 1, "b.example."),
            record(0, 2, "c.example."),
        ];
        let mut rotated = records.clone();
        rotated.rotate_left(1);
        let observe = |records: &[SrvRecord]| {
            let mut groups = groups(records, &BTreeMap::new());
            attach_simulation(records, &mut groups, 500, 4);
            groups[0]
                .hosts
                .iter()
                .map(|h| (h.target.clone(), h.observed_count))
                .collect::<Vec<_>>()
        };
        assert_eq!(observe(&records), observe(&rotated));
    }

    #[test]
    fn the_notes_say_how_host_caching_shapes_the_choice_and_the_real_intervals() {
        let with = notes(true).join("\n");
        assert!(with.contains("slmgr /skhc, the default"), "{with}");
        assert!(with.contains("slmgr /ckhc"), "{with}");
        assert!(with.contains("every 7 days"), "{with}");
        assert!(with.contains("180 days"), "{with}");
        assert!(with.contains("every 120 minutes"), "{with}");
        let without = notes(false).join("\n");
        assert!(!without.contains("skhc"), "{without}");
    }
}
