//! `kmsdns replication`: does every authoritative server of each zone
//! serve what the primary serves?
//!
//! 1. The zone of each publish-list domain: the SOA found for
//!    `_vlmcs._tcp.<domain>` through the resolver (RFC 2308 §3); domains
//!    of one zone are checked together.
//! 2. Per zone, concurrently across zones (bounded by `--concurrency`),
//!    through [`crate::dns::convergence::watch`]: the
//!    NS set (RFC 1034 §4.2.1) and every NS name's A and AAAA, plus the
//!    primary named by the SOA MNAME (RFC 2136 §4), which may be hidden
//!    (not in the NS set).
//! 3. At every address, RD clear: the zone's SOA serial and each
//!    `_vlmcs._tcp` RRset of the zone's domains, each record with its
//!    (authoritative, so not counting down) TTL.
//! 4. [`crate::dns::convergence`] compares them with the primary (RFC 1982
//!    serials), and [`crate::commands::replication::judge`] says what each
//!    difference means (SOA timers).
//! 5. With `--wait DUR`, steps 3–4 repeat until every server serves the
//!    primary's serial and RRsets with their TTLs, or DUR has passed; the polls tell how
//!    long a server has been seen behind.

pub mod details;
pub mod judge;
mod observe;

use std::collections::HashMap;
use std::time::Duration;

use clap::Args;
use hickory_proto::rr::Name;

use crate::concurrency::per_server::PerServer;
use crate::concurrency::{deadline, in_order};
use crate::config::srv_owner;
use crate::context::Context;
use crate::context::{parse_domain, Selection, DOMAIN_SEPARATOR};
use crate::context::{parse_duration, parse_wait};
use crate::dns::{self, ZoneSoa};
use crate::error::Error;
use crate::report::{attribute_to_domains, Finding, FindingId, Report, Severity};
use details::ReplicationDetails;
use judge::attribute;
use observe::ZoneWork;

/// Compare every authoritative server of each zone with its primary.
///
/// For the zone of each publish-list domain: finds every server (the NS
/// set, each name's A and AAAA records, and the primary from the SOA
/// MNAME), reads at each address the zone's SOA serial and the _vlmcs._tcp
/// records, and reports servers behind the primary (RFC 1982 serials, by
/// how many, and what the zone's refresh and expire timers make of it),
/// records that differ or are served with another TTL, unreachable servers (timeout or refused) and lame
/// ones (REFUSED, SERVFAIL or no authoritative answer for the zone).
///
/// In a signed zone, also verifies at every server the RRSIGs over each
/// _vlmcs._tcp RRset, over its in-zone targets' addresses and over the
/// DNSKEY set (docs/dnssec.md).
///
/// With --wait, polls until every server has caught up or the time is up.
/// With --domain, checks the zones of those domains only, and works without
/// a configuration file.
#[derive(Debug, Args)]
// No argument group of the struct's options: clap would record each
// `--domain` in it a second time (about 360 bytes), and nothing asks it.
#[group(skip)]
pub struct ReplicationArgs {
    /// Poll until every server serves the primary's serial and records, for at most DUR (e.g. 30s; at most 7d)
    #[arg(long, value_name = "DUR", value_parser = parse_wait)]
    pub wait: Option<Duration>,

    /// Check the zone of DOMAIN instead of the publish list's (repeatable); no configuration file needed
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain, value_delimiter = DOMAIN_SEPARATOR)]
    pub domains: Vec<Name>,

    /// In a signed zone, warn when a valid RRSIG expires within DUR
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "3days")]
    pub sig_expiry_warn: Duration,

    /// Check the zones of N domains at a time: memory grows with N, not with the estate (--wait: the whole estate)
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,

    /// Leave the signatures out (audit: check verifies them at every server)
    #[arg(skip)]
    pub no_signatures: bool,
}

/// `dns-read-failed` for a domain whose zone could not be found.
fn unknown_zone(domain: &Name, error: &str) -> Finding {
    Finding::new(
        FindingId::DnsReadFailed,
        Severity::Critical,
        format!("the zone of {domain} is unknown: {error}"),
    )
    .domain(domain)
    .hint("a failed, refused or timed-out read says nothing about the zone: fix the resolver or the path to it, then check again")
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
    let wait_until = args.wait.map(deadline::instant_after);
    // `--wait` is a wait of its own, never cut short: a zone's deadline is
    // the wait plus `--deadline`.
    let zone_limit = ctx.deadline().saturating_add(args.wait.unwrap_or_default());
    let domain_limit = ctx.deadline();
    let signatures = (!args.no_signatures).then_some(args.sig_expiry_warn);
    let mut report = Report::new("replication");

    // 1. The zone of every domain.
    let found: Vec<(Name, Result<ZoneSoa, Finding>)> =
        in_order(&selection.domains, concurrency, |domain| {
            let resolver = &resolver;
            async move {
                let owner = srv_owner(domain);
                let finding_zone = dns::find_zone_soa(&owner, resolver);
                let soa = match deadline::within(domain_limit, finding_zone).await {
                    Ok(Ok(soa)) => Ok(soa),
                    Ok(Err(error)) => Err(unknown_zone(domain, &error.to_string())),
                    Err(overrun) => Err(overrun
                        .finding(Severity::Critical)
                        .domain(domain.to_ascii())),
                };
                (domain.clone(), soa)
            }
        })
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
            Ok(soa) => {
                let multi_master = selection.domain(&domain).and_then(|d| d.multi_master);
                match index.get(&soa.zone) {
                    Some(&at) => {
                        let work = &mut zones[at];
                        work.multi_master = work.multi_master.or(multi_master);
                        work.domains.push(domain);
                    }
                    None => {
                        index.insert(soa.zone.clone(), zones.len());
                        zones.push(Box::new(ZoneWork {
                            soa,
                            domains: vec![domain],
                            multi_master,
                        }))
                    }
                }
            }
            Err(finding) => report.push(finding),
        }
    }

    // 2–5. Every zone, polled until converged or the deadline. A zone's
    // reads become its findings and details as soon as it is done, straight
    // into the report: only those are kept, not every server's reply, so
    // memory grows by what is reported.
    let mut details = Vec::new();
    // `--concurrency` queries in flight to each server, whichever zones
    // they are for: zones of an estate mostly share their servers.
    let in_flight = PerServer::new(concurrency);
    let mut judged = in_order(zones, concurrency, |work| {
        let (resolver, opts, in_flight) = (&resolver, &opts, &in_flight);
        async move {
            let outcome = observe::zone(
                *work, resolver, opts, wait_until, zone_limit, signatures, in_flight,
            )
            .await;
            let details = details::zone_details(&outcome);
            let zone = &outcome.observation.zone;
            let domains: Vec<String> = outcome.domains.iter().map(Name::to_ascii).collect();
            let apex = zone.to_ascii();
            let discovery = attribute_to_domains(outcome.discovery, &apex, &domains);
            let findings = attribute(outcome.verdict.findings, &apex, &outcome.domains, &domains);
            (discovery, findings, details)
        }
    });
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
