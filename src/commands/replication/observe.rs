//! What `replication` reads from the network for one zone: its servers
//! and, at each, the serial and the `_vlmcs._tcp` RRsets, polled with
//! `--wait` ([`crate::dns::convergence::watch`]); then, for a signed zone,
//! the signatures each server serves ([`crate::dns::dnssec`]).

use std::time::{Duration, Instant};

use hickory_proto::rr::Name;

use super::judge::{self, About, ZoneObservation, ZoneVerdict};
use crate::concurrency::deadline;
use crate::concurrency::per_server::PerServer;
use crate::config::srv_owner;
use crate::dns::dnssec;
use crate::dns::{convergence, DnsOptions, Resolver, ZoneSoa};
use crate::report::{Finding, FindingId, Severity};

/// One zone to check and the publish-list domains it holds.
pub(super) struct ZoneWork {
    pub soa: ZoneSoa,
    pub domains: Vec<Name>,
    /// `multi-master =` of the first of its domains that says.
    pub multi_master: Option<bool>,
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
/// ([`crate::dns::convergence::watch`], each query in its turn at its
/// server: `in_flight`), then judges the last poll; a zone whose work
/// outlasts `time_limit` gets a `deadline-exceeded` finding instead.
pub(super) async fn zone(
    work: ZoneWork,
    resolver: &Resolver,
    opts: &DnsOptions,
    wait_until: Option<Instant>,
    time_limit: Duration,
    signatures: Option<Duration>,
    in_flight: &PerServer,
) -> ZoneOutcome {
    let soa = &work.soa;
    let owners: Vec<Name> = work.domains.iter().map(srv_owner).collect();
    let started = Instant::now();
    let watching = convergence::watch(
        soa,
        &owners,
        resolver,
        opts,
        wait_until,
        work.multi_master,
        in_flight,
    );
    let watched = match deadline::within(time_limit, watching).await {
        Ok(watched) => watched,
        Err(overrun) => return cut_off(work, &overrun, started.elapsed()),
    };
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
    if let convergence::MultiMaster::Unknown(why) = &watched.observation.multi_master {
        let name = soa.zone.to_ascii();
        discovery.push(
            Finding::new(
                FindingId::DnsReadFailed,
                Severity::Warning,
                format!("whether {name} is multi-master (every server a primary with its own serial) is unknown: {why}; only records are compared, not serials"),
            )
            .hint("set multi-master = true (Active Directory-integrated) or false under the domain's [domain.\"…\"] to decide")
            .domain(&name),
        );
    }
    let mut verdict = judge::evaluate(&watched.observation);
    if let Some(expiry_warning) = signatures {
        // The signature reads count against the zone's deadline too.
        let servers = convergence::signed_servers(&watched.observation);
        // They ask each server one RRset at a time: a turn at each bounds
        // them with the other zones' reads.
        let reading = async {
            let _turns = in_flight.turns(servers.iter().map(|s| s.address)).await;
            dnssec::observe_zone(&soa.zone, &owners, &servers, resolver, opts).await
        };
        let left = time_limit.saturating_sub(started.elapsed());
        let name = soa.zone.to_ascii();
        match deadline::within(left, reading).await {
            Ok(zone) => verdict.findings.extend(
                dnssec::findings(&name, &zone, expiry_warning)
                    .into_iter()
                    .map(|finding| (About::Zone, finding)),
            ),
            Err(overrun) => verdict.findings.push((
                About::Zone,
                overrun.finding(Severity::Warning).domain(&name),
            )),
        }
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

/// A zone whose deadline passed: no server's reads are kept, only the
/// finding that names the step it was on.
fn cut_off(work: ZoneWork, overrun: &deadline::Overrun, elapsed: Duration) -> ZoneOutcome {
    let soa = work.soa;
    let observation = ZoneObservation {
        zone: soa.zone.clone(),
        mname: soa.mname,
        timers: convergence::SoaTimers {
            refresh: soa.refresh,
            retry: soa.retry,
            expire: soa.expire,
        },
        servers: Vec::new(),
        // Not known either: no server was asked.
        multi_master: convergence::MultiMaster::No,
    };
    // Like a zone whose servers cannot be read: nothing is known.
    let finding = overrun
        .finding(Severity::Critical)
        .domain(soa.zone.to_ascii());
    ZoneOutcome {
        verdict: ZoneVerdict {
            reference: None,
            servers: Vec::new(),
            converged: false,
            findings: vec![(About::Zone, finding)],
        },
        observation,
        domains: work.domains,
        polls: 0,
        elapsed,
        discovery: Vec::new(),
    }
}
