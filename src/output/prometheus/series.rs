//! Each command's own facts as Prometheus series, read from its details:
//! `kmsdns_check_*`, `kmsdns_replication_*`, `kmsdns_updates_*` and
//! `kmsdns_probe_*`. `audit` carries the details of its parts, so it gives
//! the same series under the same names for the same facts.
//!
//! The probe and replication measurements that Nagios perfdata also reads
//! are [`Metrics`] (filled by `audit` as it runs, and here from the details
//! of `probe` and `replication` run alone); the rest are [`Family`]s of
//! their own. A fact that could not be read (a failed lookup, a probe
//! without answer) has no sample, never a made-up zero.

use super::Family;
use crate::commands::audit::details::AuditDetails;
use crate::commands::audit::metrics::{HostMetric, Metrics, ServerMetric};
use crate::commands::check::details::{CheckDetails, RrsetSource};
use crate::commands::probe::details::{AddressResult, ProbeDetails};
use crate::commands::replication::details::ReplicationDetails;
use crate::commands::updates::details::{Answer, UpdatesDetails};
use crate::output::Details;

/// The measurements of a command run alone: the domains it worked on, and
/// the addresses `probe` reached or the servers `replication` compared.
/// (`audit` fills its own as its parts finish.)
pub fn metrics(details: Option<&Details>, mut metrics: Metrics) -> Metrics {
    match details {
        Some(Details::Check(check)) => {
            metrics.domains = check.domains.iter().map(|d| d.domain.clone()).collect();
        }
        Some(Details::Probe(probe)) => {
            metrics.domains = probe.domains.iter().map(|d| d.domain.clone()).collect();
            metrics.hosts = probe_hosts(probe);
        }
        Some(Details::Replication(replication)) => {
            metrics.domains = replication
                .zones
                .iter()
                .flat_map(|zone| zone.domains.iter().cloned())
                .collect();
            metrics.servers = ServerMetric::of_replication(replication);
        }
        Some(Details::Updates(updates)) => {
            metrics.domains = updates
                .zones
                .iter()
                .flat_map(|zone| zone.domains.iter().cloned())
                .collect();
        }
        _ => {}
    }
    metrics
}

/// Every address `probe` tried, with the domain whose records named it
/// (none for `--host`).
fn probe_hosts(probe: &ProbeDetails) -> Vec<HostMetric> {
    let by_domain = probe
        .domains
        .iter()
        .flat_map(|d| d.targets.iter().map(move |t| (Some(d.domain.as_str()), t)));
    let direct = probe.hosts.iter().map(|t| (None, t));
    let mut hosts = Vec::new();
    for (domain, target) in by_domain.chain(direct) {
        let label = target.label();
        for address in &target.addresses {
            hosts.push(match address {
                AddressResult::Probed(probe) => HostMetric::from_probe(domain, &label, probe),
                AddressResult::DnsFailed(_) => HostMetric::without_address(domain, &label),
            });
        }
    }
    hosts
}

/// The series of the command's own facts that are not [`Metrics`]: those
/// of `check`, `replication` and `updates`, alone or as parts of `audit`.
pub(in crate::output) fn of(details: Option<&Details>) -> Vec<Family> {
    match details {
        Some(Details::Check(check)) => parts(Some(check), None, None),
        Some(Details::Replication(replication)) => parts(None, Some(replication), None),
        Some(Details::Updates(updates)) => parts(None, None, Some(updates)),
        Some(Details::Audit(audit)) => of_audit(audit),
        _ => Vec::new(),
    }
}

/// The series of `audit`'s parts; every family of each part that ran,
/// with or without samples.
pub fn of_audit(audit: &AuditDetails) -> Vec<Family> {
    parts(
        audit.check.as_ref(),
        audit.replication.as_ref(),
        audit.updates.as_ref(),
    )
}

fn parts(
    check: Option<&CheckDetails>,
    replication: Option<&ReplicationDetails>,
    updates: Option<&UpdatesDetails>,
) -> Vec<Family> {
    let mut families = Vec::new();
    if let Some(check) = check {
        families.extend(check_series(check));
    }
    if let Some(replication) = replication {
        families.push(converged(replication));
    }
    if let Some(updates) = updates {
        families.extend(updates_series(updates));
    }
    families
}

/// `kmsdns_check_*`: what the primary and the resolver answered for each
/// domain's `_vlmcs._tcp` SRV, and the addresses of each target.
fn check_series(check: &CheckDetails) -> [Family; 4] {
    let mut answered = Family::new(
        "kmsdns_check_answered",
        "1 when the source answered for _vlmcs._tcp SRV (records, NODATA or NXDOMAIN), 0 when the read failed",
    );
    let mut records = Family::new(
        "kmsdns_check_srv_records",
        "SRV records in the _vlmcs._tcp RRset, as the source answered",
    );
    let mut ttl = Family::new(
        "kmsdns_check_srv_ttl_seconds",
        "TTL of the _vlmcs._tcp SRV RRset, as the source answered",
    );
    let mut addresses = Family::new(
        "kmsdns_check_target_addresses",
        "A and AAAA addresses of an SRV target (no sample when the lookup failed)",
    );
    for domain in &check.domains {
        let sources: [(&str, &RrsetSource); 2] = [
            ("authoritative", &domain.authoritative),
            ("resolver", &domain.resolver),
        ];
        for (source, read) in sources {
            let labels = [("domain", domain.domain.as_str()), ("source", source)];
            let failed = read.status == "failed";
            answered.sample(&labels, u8::from(!failed));
            if !failed {
                records.sample(&labels, read.records.len());
            }
            if let Some(seconds) = read.ttl {
                ttl.sample(&labels, seconds);
            }
        }
        // In name order: the details list targets as their lookups end.
        let mut targets: Vec<_> = domain
            .targets
            .iter()
            .filter(|t| t.error.is_none())
            .collect();
        targets.sort_by(|a, b| a.target.cmp(&b.target));
        for target in targets {
            let labels = [
                ("domain", domain.domain.as_str()),
                ("target", target.target.as_str()),
            ];
            addresses.sample(&labels, target.addresses.len());
        }
    }
    [answered, records, ttl, addresses]
}

/// `kmsdns_replication_converged`: whether every server of the zone holds
/// the reference's serial and records.
fn converged(replication: &ReplicationDetails) -> Family {
    let mut family = Family::new(
        "kmsdns_replication_converged",
        "1 when every authoritative server of the zone has the reference serial and _vlmcs._tcp records",
    );
    for zone in &replication.zones {
        family.sample(&[("zone", zone.zone.as_str())], u8::from(zone.converged));
    }
    family
}

/// `kmsdns_updates_*`: what the live probe found the primary would accept,
/// and the static verdict of each zone statement.
fn updates_series(updates: &UpdatesDetails) -> [Family; 3] {
    let mut unsigned = Family::new(
        "kmsdns_updates_unsigned_accepted",
        "1 when the primary would apply an unsigned update of the _vlmcs._tcp records, 0 when it refused it",
    );
    let mut signed = Family::new(
        "kmsdns_updates_key_accepted",
        "1 when the primary would apply an update signed with the configured key, 0 when it refused it",
    );
    let mut grants = Family::new(
        "kmsdns_updates_static_status",
        "Worst finding of the named.conf grants of the zone: 0 ok, 1 warning, 2 critical",
    );
    for zone in &updates.zones {
        for live in &zone.live {
            let primary = live.primary.as_deref().unwrap_or("");
            let labels = [("domain", live.domain.as_str()), ("primary", primary)];
            if let Some(value) = live.unsigned.and_then(accepted) {
                unsigned.sample(&labels, value);
            }
            if let (Some(key), Some(value)) = (&live.key, live.signed.and_then(accepted)) {
                let labels = [labels[0], labels[1], ("key", key.as_str())];
                signed.sample(&labels, value);
            }
        }
        let name = zone.zone.as_deref().unwrap_or("");
        for verdict in &zone.static_verdicts {
            let view = verdict.view.as_deref().unwrap_or("");
            grants.sample(
                &[("zone", name), ("view", view)],
                verdict.severity.exit_status(),
            );
        }
    }
    [unsigned, signed, grants]
}

/// 1 for an update the server would apply, 0 for one it refused; `None`
/// when it gave no usable answer.
fn accepted(answer: Answer) -> Option<u8> {
    match answer {
        Answer::Accepted | Answer::Applied => Some(1),
        Answer::Refused | Answer::KeyRejected => Some(0),
        Answer::Failed => None,
    }
}
