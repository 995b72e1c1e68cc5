//! What `replication` reads from the network for one zone: its servers
//! and, at each, the serial and the `_vlmcs._tcp` RRsets, polled with
//! `--wait` ([`crate::dns::convergence::watch`]); then, for a signed zone,
//! the signatures each server serves ([`crate::dns::dnssec`]).

use std::time::{Duration, Instant};

use hickory_proto::rr::Name;

use super::judge::{self, ZoneObservation, ZoneVerdict};
use crate::config::srv_owner;
use crate::dns::dnssec;
use crate::dns::{convergence, DnsOptions, Resolver, ZoneSoa};
use crate::report::{Finding, FindingId, Severity};

/// One zone to check and the publish-list domains it holds.
pub(super) struct ZoneWork {
    pub soa: ZoneSoa,
    pub domains: Vec<Name>,
}

/// A zone's outcome.
pub(super) struct ZoneOutcome {
    pub observation: ZoneObservation,
    pub verdict: ZoneVerdict,
    pub domains: Vec<Name>,
    pub polls: u32,
    pub elapsed: Duration,
    pub discovery: Vec<Finding>,
}

/// Finds the servers of one zone and polls them
/// ([`crate::dns::convergence::watch`]), then judges the last poll.
pub(super) async fn zone(
    work: ZoneWork,
    resolver: &Resolver,
    opts: &DnsOptions,
    deadline: Option<Instant>,
    signatures: Option<Duration>,
) -> ZoneOutcome {
    let soa = &work.soa;
    let owners: Vec<Name> = work.domains.iter().map(srv_owner).collect();
    let watched = convergence::watch(soa, &owners, resolver, opts, deadline).await;
    let mut discovery = Vec::new();
    if let Some(error) = watched.ns_error {
        let name = soa.zone.to_ascii();
        discovery.push(
            Finding::new(
                FindingId::DnsReadFailed,
                Severity::Critical,
                format!("the NS set of {name} is unknown: {error}; only the primary is compared"),
            )
            .domain(&name),
        );
    }
    let mut verdict = judge::evaluate(&watched.observation);
    if let Some(expiry_warning) = signatures {
        let servers = convergence::signed_servers(&watched.observation);
        let zone = dnssec::observe_zone(&soa.zone, &owners, &servers, resolver, opts).await;
        verdict.findings.extend(dnssec::findings(
            &soa.zone.to_ascii(),
            &zone,
            expiry_warning,
        ));
    }
    ZoneOutcome {
        verdict,
        observation: watched.observation,
        domains: work.domains,
        polls: watched.polls,
        elapsed: watched.elapsed,
        discovery,
    }
}
