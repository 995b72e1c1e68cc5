//! `kmsdns check`: what DNS serves for each domain, against RFC 2782,
//! Windows' client behaviour and the configuration (DESIGN §5).
//!
//! Per domain, concurrently across domains (bounded by `--concurrency`):
//! 1. `_vlmcs._tcp.<domain>` SRV through the resolver, RD set: what a
//!    Windows client gets;
//! 2. the same at the zone's primary, RD clear and AA required: what the
//!    zone says (RFC 2136 §4: the primary is the SOA MNAME, or the
//!    configured `server`);
//! 3. every target's A and AAAA through the resolver, keeping the CNAME
//!    chain (RFC 2782 forbids alias targets);
//! 4. [`crate::commands::check::judge`] turns these reads into findings.
//!
//! Why the primary and not every authoritative server: the primary is
//! where `publish` writes and what every secondary converges to, so it is
//! the truth the configuration and the resolver are compared with; a
//! server-by-server comparison is `kmsdns replication`'s job (serials,
//! RRsets, lame and unreachable servers), and doing it here too would
//! report every lagging secondary twice in `audit`. When the primary cannot
//! be read (a hidden primary, unreachable from here), the first other
//! server of the NS set that answers authoritatively stands in for it and
//! an info finding says so.

pub mod details;
pub mod judge;

use std::net::SocketAddr;

use clap::Args;
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use hickory_proto::rr::{Name, RData};

use crate::config::{self, srv_owner, Domain, SrvRecord};
use crate::context::Context;
use crate::context::{parse_domain, Selection};
use crate::dns::{self, Addresses, AnswerStatus, DnsOptions, Resolver};
use crate::error::Error;
use crate::report::Report;
use details::{CheckDetails, DomainCheck, RrsetSource, SrvData};
use judge::{DomainObservation, Expected, Rrset, RrsetRead, TargetAddresses, TargetLookup};

/// Check what DNS serves for every domain of the publish list.
///
/// For each domain, reads the _vlmcs._tcp SRV records through the resolver
/// (--nameserver, or the system's) and at the zone's primary, and every
/// target's A and AAAA records. Reports: no record (the Windows error a
/// client gets), a target without address, an alias (CNAME) or `.` as
/// target, records that differ from the configuration, targets the
/// configuration does not know (critical with `complete = true`: a possible
/// rogue KMS host), a single host (no failover), more than six hosts, and a
/// resolver that answers differently from the zone. A read that fails, is
/// refused or times out is reported as such, never as "no record".
///
/// With --domain, checks those domains only, and works without a
/// configuration file.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check DOMAIN instead of the publish list (repeatable); no configuration file needed
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain)]
    pub domains: Vec<Name>,
}

/// Checks every selected domain.
pub async fn run(args: &CheckArgs, ctx: &Context) -> Result<Report<CheckDetails>, Error> {
    let selection = Selection::new(&args.domains, ctx)?;
    // Every domain asks the addresses of the same targets and MNAME: once
    // per run is enough.
    let resolver = ctx.reading_resolver()?;
    let opts = ctx.dns_options();
    let nameserver = ctx.global.nameserver;
    // Each domain's reads become its findings and details as soon as they
    // are done, straight into the report: only those are kept, so memory
    // grows by what is reported, not by every reply read.
    let mut report = Report::new("check");
    let mut domains = Vec::new();
    let mut judged = stream::iter(&selection.domains)
        .map(|domain| {
            let configured = selection.domain(domain);
            let selection = &selection;
            let (resolver, opts) = (&resolver, &opts);
            async move {
                let (zone, observation) =
                    observe(domain, configured, resolver, nameserver, opts).await;
                let expected = selection.config.as_ref().map(|config| Expected {
                    records: configured.map_or(&[][..], |d| d.records.as_slice()),
                    listed: configured.is_some(),
                    ttl: configured.map_or(config::DEFAULT_TTL, |d| d.ttl),
                    hosts: &config.hosts,
                    complete: config.complete,
                });
                (
                    judge::findings(&observation, expected.as_ref()),
                    domain_details(zone.as_ref(), &observation),
                )
            }
        })
        .buffered(usize::from(ctx.global.concurrency).max(1));
    while let Some((findings, details)) = judged.next().await {
        report.extend(findings);
        domains.push(details);
    }
    if let Some(config) = &selection.config {
        report.extend(config.warnings.iter().cloned());
    }
    Ok(report.with_details(CheckDetails { domains }))
}

/// Everything read for one domain, and the zone found for it.
async fn observe(
    domain: &Name,
    configured: Option<&Domain>,
    resolver: &Resolver,
    nameserver: Option<SocketAddr>,
    opts: &DnsOptions,
) -> (Option<Name>, DomainObservation) {
    let owner = srv_owner(domain);
    let (through_resolver, (zone, authoritative, primary_unread)) = tokio::join!(
        resolver_read(&owner, resolver, nameserver),
        authoritative_read(&owner, configured, resolver, opts)
    );
    let mut names: Vec<Name> = Vec::new();
    for read in [&through_resolver, &authoritative] {
        if let Ok(rrset) = &read.result {
            for record in &rrset.records {
                if !record.target.is_root() && !names.contains(&record.target) {
                    names.push(record.target.clone());
                }
            }
        }
    }
    let targets = join_all(names.into_iter().map(|target| async move {
        let result = resolver
            .addresses(&target)
            .await
            .map(|found| TargetAddresses {
                addresses: found.ips(),
                canonical: canonical(&target, &found),
            })
            .map_err(|e| e.to_string());
        TargetLookup { target, result }
    }))
    .await;
    let observation = DomainObservation {
        domain: domain.clone(),
        resolver: through_resolver,
        authoritative,
        primary_unread,
        targets,
    };
    (zone, observation)
}

/// The name at the end of the CNAME chain from `target`, if it is an alias.
fn canonical(target: &Name, found: &Addresses) -> Option<Name> {
    let aliases: Vec<_> = found
        .ipv4
        .aliases
        .iter()
        .chain(&found.ipv6.aliases)
        .collect();
    let mut current = target.clone();
    // Each step follows one CNAME, so a loop ends after as many steps.
    for _ in 0..aliases.len() {
        let next = aliases.iter().find_map(|record| match record.data() {
            RData::CNAME(cname) if *record.name() == current => Some(cname.0.clone()),
            _ => None,
        });
        match next {
            Some(next) => current = next,
            None => break,
        }
    }
    (current != *target).then_some(current)
}

/// The SRV RRset as a client's resolver answers it.
async fn resolver_read(
    owner: &Name,
    resolver: &Resolver,
    nameserver: Option<SocketAddr>,
) -> RrsetRead {
    let result = resolver.srv(owner).await.map_err(|e| e.to_string());
    RrsetRead {
        source: resolver.via().to_string(),
        server: nameserver.map(|s| s.to_string()),
        result,
    }
}

/// Reads `owner` at `server`, one of `name`'s addresses.
async fn read_at(name: &Name, server: SocketAddr, owner: &Name, opts: &DnsOptions) -> RrsetRead {
    RrsetRead {
        source: format!("{name} ({server})"),
        server: Some(server.to_string()),
        result: dns::read_srv(server, owner, opts)
            .await
            .map_err(|e| e.reason.to_string()),
    }
}

/// The zone's answer: the configured server, else the primary (SOA MNAME)
/// at each of its addresses, else the first other NS server that answers.
/// Returns the zone, the read, and why the primary was not the one read.
async fn authoritative_read(
    owner: &Name,
    configured: Option<&Domain>,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> (Option<Name>, RrsetRead, Option<String>) {
    if let Some(spec) = configured.and_then(|d| d.server.as_ref()) {
        let server = match dns::server_address(spec, resolver, opts).await {
            Ok(server) => server,
            Err(error) => {
                return (
                    None,
                    RrsetRead {
                        source: format!("the configured server {spec}"),
                        server: None,
                        result: Err(error.to_string()),
                    },
                    None,
                )
            }
        };
        let zone = dns::find_zone_at(server, owner, opts)
            .await
            .ok()
            .map(|z| z.zone);
        let read = RrsetRead {
            source: format!("the configured server {server}"),
            server: Some(server.to_string()),
            result: dns::read_srv(server, owner, opts)
                .await
                .map_err(|e| e.reason.to_string()),
        };
        return (zone, read, None);
    }

    let soa = match dns::find_zone_soa(owner, resolver).await {
        Ok(soa) => soa,
        Err(e) => {
            return (
                None,
                RrsetRead {
                    source: "the zone's servers".into(),
                    server: None,
                    result: Err(e.to_string()),
                },
                None,
            )
        }
    };
    let zone = Some(soa.zone.clone());

    // RFC 2136 §4: the primary is the SOA MNAME.
    let unread = |result: Result<Rrset, String>| RrsetRead {
        source: format!("the primary {}", soa.mname),
        server: None,
        result,
    };
    let failure = match resolver.addresses(&soa.mname).await {
        Ok(found) => {
            let mut failure = unread(Err(format!(
                "the primary {} (SOA MNAME of {}) has no A or AAAA record",
                soa.mname, soa.zone
            )));
            for (n, server) in found.socket_addrs(opts.dns_port).into_iter().enumerate() {
                let read = read_at(&soa.mname, server, owner, opts).await;
                if read.result.is_ok() {
                    return (zone, read, None);
                }
                if n == 0 {
                    failure = read;
                }
            }
            failure
        }
        Err(e) => unread(Err(format!(
            "cannot find the address of the primary {}: {e}",
            soa.mname
        ))),
    };
    let why = match &failure.result {
        Err(e) => format!("{}: {e}", failure.source),
        Ok(_) => failure.source.clone(),
    };

    // A hidden or unreachable primary: another server of the NS set, in
    // name order (the NS answer's order rotates).
    if let Ok(mut servers) = dns::authoritative_servers(&soa.zone, resolver, opts).await {
        servers.sort_by_key(|s| s.name.to_lowercase());
        for server in servers.iter().filter(|s| s.name != soa.mname) {
            let Ok(addresses) = &server.addresses else {
                continue;
            };
            for address in addresses {
                let read = read_at(&server.name, *address, owner, opts).await;
                if read.result.is_ok() {
                    return (zone, read, Some(why));
                }
            }
        }
    }
    (zone, failure, None)
}

/// The records in RFC 2782 order (priority, then weight, heaviest first),
/// then by target: servers rotate their order on every answer.
fn sorted(records: &[SrvRecord]) -> Vec<SrvData> {
    let mut records: Vec<SrvData> = records
        .iter()
        .map(|r| SrvData {
            priority: r.priority,
            weight: r.weight,
            port: r.port,
            target: r.target.to_ascii(),
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
fn domain_details(zone: Option<&Name>, observation: &DomainObservation) -> DomainCheck {
    let source = |read: &RrsetRead| match &read.result {
        Ok(rrset) => RrsetSource {
            via: read.source.clone(),
            status: match rrset.status {
                AnswerStatus::Records => "records",
                AnswerStatus::NoData => "nodata",
                AnswerStatus::NxDomain => "nxdomain",
            },
            ttl: rrset.ttl,
            records: sorted(&rrset.records),
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
                Ok(found) => details::TargetAddresses {
                    target: lookup.target.to_ascii(),
                    addresses: found.addresses.iter().map(ToString::to_string).collect(),
                    alias_of: found.canonical.as_ref().map(Name::to_ascii),
                    error: None,
                },
                Err(error) => details::TargetAddresses {
                    target: lookup.target.to_ascii(),
                    addresses: Vec::new(),
                    alias_of: None,
                    error: Some(error.clone()),
                },
            })
            .collect(),
    }
}
