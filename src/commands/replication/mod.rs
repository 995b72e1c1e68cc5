//! `kmsdns replication`: does every authoritative server of each zone
//! serve what the primary serves?
//!
//! 1. The zone of each publish-list domain: the SOA found for
//!    `_vlmcs._tcp.<domain>` through the resolver (RFC 2308 §3); domains
//!    of one zone are checked together.
//! 2. Per zone, concurrently across zones (bounded by `--concurrency`): the
//!    NS set (RFC 1034 §4.2.1) and every NS name's A and AAAA, plus the
//!    primary named by the SOA MNAME (RFC 2136 §4), which may be hidden
//!    (not in the NS set).
//! 3. At every address, RD clear: the zone's SOA serial and each
//!    `_vlmcs._tcp` RRset of the zone's domains.
//! 4. [`crate::commands::replication::judge`] compares them with the primary
//!    (RFC 1982 serials, SOA timers).
//! 5. With `--wait DUR`, steps 3–4 repeat until every server serves the
//!    primary's serial and RRsets, or DUR has passed; the polls tell how
//!    long a server has been seen behind.

pub mod details;
pub mod judge;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use hickory_proto::rr::{Name, RData, RecordType};

use super::check::read_srv;
use crate::commands::check::judge::record_key;
use crate::config::srv_owner;
use crate::context::parse_duration;
use crate::context::Context;
use crate::context::{parse_domain, Selection};
use crate::dns::{self, DnsOptions, QueryError, ReplyError, Resolver, ZoneSoa};
use crate::error::Error;
use crate::report::{Finding, FindingId, Report, Severity};
use details::{
    ReplicationDetails, RrsetReplication, ServerReplication, ServerState, ZoneReplication,
};
use judge::{OwnerRead, ServerObservation, ServerRead, SoaTimers, ZoneObservation, ZoneVerdict};

/// Time between two polls with --wait.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Compare every authoritative server of each zone with its primary.
///
/// For the zone of each publish-list domain: finds every server (the NS
/// set, each name's A and AAAA records, and the primary from the SOA
/// MNAME), reads at each address the zone's SOA serial and the _vlmcs._tcp
/// records, and reports servers behind the primary (RFC 1982 serials, by
/// how many, and what the zone's refresh and expire timers make of it),
/// records that differ, unreachable servers (timeout or refused) and lame
/// ones (REFUSED, SERVFAIL or no authoritative answer for the zone).
///
/// With --wait, polls until every server has caught up or the time is up.
/// With --domain, checks the zones of those domains only, and works without
/// a configuration file.
#[derive(Debug, Args)]
pub struct ReplicationArgs {
    /// Poll until every server serves the primary's serial and records, for at most DUR (e.g. 30s)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub wait: Option<Duration>,

    /// Check the zone of DOMAIN instead of the publish list's (repeatable); no configuration file needed
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain)]
    pub domains: Vec<Name>,
}

/// One zone to check and the publish-list domains it holds.
struct ZoneWork {
    soa: ZoneSoa,
    domains: Vec<Name>,
}

/// One address (or an addressless NS name) to read each poll.
#[derive(Debug, Clone)]
struct Target {
    name: Name,
    address: Result<SocketAddr, ServerRead>,
    primary: bool,
    in_ns_set: bool,
}

/// A zone's outcome.
struct ZoneOutcome {
    observation: ZoneObservation,
    verdict: ZoneVerdict,
    domains: Vec<Name>,
    polls: u32,
    elapsed: Duration,
    discovery: Vec<Finding>,
}

/// Runs `replication`.
pub async fn run(
    args: &ReplicationArgs,
    ctx: &Context,
) -> Result<Report<ReplicationDetails>, Error> {
    let selection = Selection::new(&args.domains, ctx)?;
    // Every zone of an estate usually has the same NS names: their
    // addresses are asked once per run.
    let resolver = ctx.reading_resolver()?;
    let opts = ctx.dns_options();
    let concurrency = usize::from(ctx.global.concurrency).max(1);
    let deadline = args.wait.map(|wait| Instant::now() + wait);
    let mut report = Report::new("replication");

    // 1. The zone of every domain.
    let found: Vec<(Name, Result<ZoneSoa, String>)> = stream::iter(&selection.domains)
        .map(|domain| {
            let resolver = &resolver;
            async move {
                let soa = dns::find_zone_soa(&srv_owner(domain), resolver)
                    .await
                    .map_err(|e| e.to_string());
                (domain.clone(), soa)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    // Nothing after this finds a zone again, in replication nor in an
    // audit, whose last part this is: the report's peak need not hold the
    // zone lookups.
    resolver.forget_zones();
    // Boxed, so that each zone's work is freed as soon as it is taken up,
    // not when the last zone is: at 10,000 zones, 4.7 MB.
    let mut zones: Vec<Box<ZoneWork>> = Vec::new();
    let mut index: HashMap<Name, usize> = HashMap::new();
    for (domain, soa) in found {
        match soa {
            Ok(soa) => match index.get(&soa.zone) {
                Some(&at) => zones[at].domains.push(domain),
                None => {
                    index.insert(soa.zone.clone(), zones.len());
                    zones.push(Box::new(ZoneWork {
                        soa,
                        domains: vec![domain],
                    }))
                }
            },
            Err(error) => report.push(
                Finding::new(
                    FindingId::DnsReadFailed,
                    Severity::Critical,
                    format!("the zone of {domain} is unknown: {error}"),
                )
                .domain(&domain)
                .hint("a failed, refused or timed-out read says nothing about the zone: fix the resolver or the path to it, then check again"),
            ),
        }
    }

    // 2–5. Every zone, polled until converged or the deadline. A zone's
    // reads become its findings and details as soon as it is done, straight
    // into the report: only those are kept, not every server's reply, so
    // memory grows by what is reported.
    let mut details = Vec::new();
    let mut judged = stream::iter(zones)
        .map(|work| {
            let (resolver, opts) = (&resolver, &opts);
            async move {
                let outcome = zone(*work, resolver, opts, deadline).await;
                let details = zone_details(&outcome);
                (outcome.discovery, outcome.verdict.findings, details)
            }
        })
        .buffered(concurrency);
    while let Some((discovery, findings, zone)) = judged.next().await {
        report.extend(discovery);
        report.extend(findings);
        details.push(zone);
    }
    if let Some(config) = &selection.config {
        report.extend(config.warnings.iter().cloned());
    }
    Ok(report.with_details(ReplicationDetails { zones: details }))
}

/// Finds the servers of one zone and polls them.
async fn zone(
    work: ZoneWork,
    resolver: &Resolver,
    opts: &DnsOptions,
    deadline: Option<Instant>,
) -> ZoneOutcome {
    let soa = &work.soa;
    let name = soa.zone.to_ascii();
    let mut discovery = Vec::new();
    let (targets, ns_error) = targets(soa, resolver, opts).await;
    if let Some(error) = ns_error {
        discovery.push(
            Finding::new(
                FindingId::DnsReadFailed,
                Severity::Critical,
                format!("the NS set of {name} is unknown: {error}; only the primary is compared"),
            )
            .domain(&name),
        );
    }
    let owners: Vec<Name> = work.domains.iter().map(srv_owner).collect();
    let timers = SoaTimers {
        refresh: soa.refresh,
        retry: soa.retry,
        expire: soa.expire,
    };

    let started = Instant::now();
    let mut polls = 0;
    // When each server was first seen behind, over consecutive polls.
    let mut behind_since: HashMap<usize, Instant> = HashMap::new();
    loop {
        polls += 1;
        let poll_started = Instant::now();
        let reads = join_all(
            targets
                .iter()
                .map(|target| read(target, &soa.zone, &owners, opts)),
        )
        .await;
        let servers = targets
            .iter()
            .zip(reads)
            .enumerate()
            .map(|(index, (target, read))| ServerObservation {
                name: target.name.clone(),
                address: target.address.as_ref().ok().copied(),
                primary: target.primary,
                in_ns_set: target.in_ns_set,
                read,
                behind_for: behind_since
                    .get(&index)
                    .map(|since| poll_started.saturating_duration_since(*since)),
            })
            .collect();
        let observation = ZoneObservation {
            zone: soa.zone.clone(),
            mname: soa.mname.clone(),
            timers,
            servers,
        };
        let verdict = judge::evaluate(&observation);
        for (index, server) in verdict.servers.iter().enumerate() {
            if server.state == ServerState::Behind {
                behind_since.entry(index).or_insert(poll_started);
            } else {
                behind_since.remove(&index);
            }
        }
        let now = Instant::now();
        let Some(deadline) = deadline.filter(|d| !verdict.converged && now < *d) else {
            return ZoneOutcome {
                observation,
                verdict,
                domains: work.domains,
                polls,
                elapsed: started.elapsed(),
                discovery,
            };
        };
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}

/// The primary (SOA MNAME) first, then every other NS name, each at all
/// its addresses; and why the NS set is unknown, if it is.
async fn targets(
    soa: &ZoneSoa,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> (Vec<Target>, Option<String>) {
    let port = opts.dns_port;
    let (servers, ns_error) = match dns::authoritative_servers(&soa.zone, resolver, opts).await {
        Ok(servers) => (servers, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    // With the NS set unknown, the primary cannot be called hidden.
    let in_ns_set = ns_error.is_some() || servers.iter().any(|s| s.name == soa.mname);
    let primary_addresses = match servers.iter().find(|s| s.name == soa.mname) {
        Some(server) => server.addresses.clone(),
        None => resolver
            .addresses(&soa.mname)
            .await
            .map(|found| found.socket_addrs(port)),
    };
    let mut targets = Vec::new();
    let mut add = |name: &Name, addresses: Result<Vec<SocketAddr>, String>, primary, in_ns_set| {
        let list = match addresses {
            Ok(list) if list.is_empty() => vec![Err(ServerRead::NoAddress)],
            Ok(list) => list.into_iter().map(Ok).collect(),
            Err(error) => vec![Err(ServerRead::AddressUnknown(error))],
        };
        for address in list {
            targets.push(Target {
                name: name.clone(),
                address,
                primary,
                in_ns_set,
            });
        }
    };
    add(
        &soa.mname,
        primary_addresses.map_err(|e| e.to_string()),
        true,
        in_ns_set,
    );
    // The NS answer's order rotates; a stable one reads better.
    let mut others: Vec<_> = servers.iter().filter(|s| s.name != soa.mname).collect();
    others.sort_by_key(|s| s.name.to_lowercase());
    for server in others {
        add(
            &server.name,
            server.addresses.clone().map_err(|e| e.to_string()),
            false,
            true,
        );
    }
    (targets, ns_error)
}

/// One server address: the zone's SOA serial, then each RRset.
async fn read(target: &Target, zone: &Name, owners: &[Name], opts: &DnsOptions) -> ServerRead {
    let server = match &target.address {
        Ok(server) => *server,
        Err(read) => return read.clone(),
    };
    let serial = match soa_serial(server, zone, opts).await {
        Ok(serial) => serial,
        Err(read) => return read,
    };
    let rrsets = join_all(owners.iter().map(|owner| async move {
        OwnerRead {
            owner: owner.clone(),
            result: read_srv(server, owner, opts)
                .await
                .map(|rrset| rrset.records.iter().map(record_key).collect()),
        }
    }))
    .await;
    ServerRead::Answered { serial, rrsets }
}

/// The zone's SOA serial at `server` (RD clear, AA required), or how the
/// server failed: silent, unreachable, or lame for the zone.
async fn soa_serial(server: SocketAddr, zone: &Name, opts: &DnsOptions) -> Result<u32, ServerRead> {
    let response = match dns::query(server, zone, RecordType::SOA, opts).await {
        Ok(response) => response,
        Err(error @ QueryError::Timeout { .. }) => {
            return Err(ServerRead::Timeout(error.to_string()))
        }
        Err(error @ QueryError::Unreachable { .. }) => {
            return Err(ServerRead::Refused(error.to_string()))
        }
        Err(error @ QueryError::Io { .. }) => {
            return Err(ServerRead::Unreachable(error.to_string()))
        }
        Err(error) => return Err(ServerRead::Lame(error.to_string())),
    };
    let status = response.status().map_err(|error| {
        ServerRead::Lame(match error {
            ReplyError::Refused { .. } => "it answers REFUSED for the zone: it is not configured to serve it".to_string(),
            ReplyError::ServFail { .. } => "it answers SERVFAIL for the zone: the zone failed to load there, or expired on this secondary".to_string(),
            ReplyError::NotAuthoritative { .. } => "its answer lacks the AA bit: it is not authoritative for the zone".to_string(),
            other => other.to_string(),
        })
    })?;
    response
        .records_of(zone, RecordType::SOA)
        .ok()
        .and_then(|records| {
            records.iter().find_map(|record| match record.data() {
                RData::SOA(soa) => Some(soa.serial()),
                _ => None,
            })
        })
        .ok_or_else(|| {
            ServerRead::Lame(format!(
                "it answers {status} for the zone's SOA: it serves another zone (a parent?), not {zone}"
            ))
        })
}

/// The details of one zone.
fn zone_details(outcome: &ZoneOutcome) -> ZoneReplication {
    let observation = &outcome.observation;
    let verdict = &outcome.verdict;
    let reference = verdict.reference.map(|i| &observation.servers[i]);
    ZoneReplication {
        zone: observation.zone.to_ascii(),
        domains: outcome.domains.iter().map(Name::to_ascii).collect(),
        primary: observation.mname.to_ascii(),
        reference: reference.map(|s| match s.address {
            Some(address) => address.to_string(),
            None => s.name.to_ascii(),
        }),
        serial: verdict
            .reference
            .and_then(|i| verdict.servers.get(i))
            .and_then(|s| s.serial),
        refresh: observation.timers.refresh,
        retry: observation.timers.retry,
        expire: observation.timers.expire,
        converged: verdict.converged,
        polls: outcome.polls,
        elapsed_ms: u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        servers: observation
            .servers
            .iter()
            .zip(&verdict.servers)
            .map(|(server, verdict)| ServerReplication {
                name: server.name.to_ascii(),
                address: server.address.map(|a| a.to_string()),
                primary: server.primary,
                in_ns_set: server.in_ns_set,
                state: verdict.state,
                serial: verdict.serial,
                behind: verdict.behind,
                rrsets: verdict
                    .rrsets
                    .iter()
                    .map(|rrset| RrsetReplication {
                        owner: rrset.owner.to_ascii(),
                        records: rrset.records.clone(),
                        missing: rrset.missing.clone(),
                        extra: rrset.extra.clone(),
                        error: rrset.error.clone(),
                    })
                    .collect(),
                error: verdict.error.clone(),
            })
            .collect(),
    }
}
