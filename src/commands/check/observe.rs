//! What `check` reads from the network for one domain: the SRV RRset
//! through the resolver and at the zone's primary (or the configured
//! server, or another authoritative server standing in), and every
//! target's A and AAAA with its CNAME chain; for a signed zone, the
//! signatures at every authoritative server ([`dns::dnssec`]), and the
//! resolver again with CD when it answered SERVFAIL.

use std::net::SocketAddr;

use futures_util::future::join_all;
use hickory_proto::rr::{Name, RData, RecordType};

use super::judge::{DomainObservation, Rrset, RrsetRead, TargetAddresses, TargetLookup};
use crate::concurrency::deadline::Overrun;
use crate::config::{srv_owner, Domain};
use crate::dns::dnssec::{self, KeyMemo, SignedServer, Validation, ZoneSignatures};
use crate::dns::{self, Addresses, AnswerStatus, DnsOptions, LookupError, Resolver, TtlScope};

/// Everything read for one domain, and the zone found for it.
pub(super) async fn observe(
    domain: &Name,
    configured: Option<&Domain>,
    resolver: &Resolver,
    nameserver: Option<SocketAddr>,
    opts: &DnsOptions,
    zone_keys: &KeyMemo,
) -> (Option<Name>, DomainObservation) {
    let owner = srv_owner(domain);
    let ((through_resolver, validation), (zone, authoritative, primary_unread)) = tokio::join!(
        resolver_read(&owner, resolver, nameserver, opts),
        authoritative_read(&owner, configured, resolver, opts)
    );
    let signatures = match &zone {
        Some(zone) => Some(signatures(zone, &owner, resolver, opts, zone_keys).await),
        None => None,
    };
    let ttl_scope = match &zone {
        Some(zone) => ttl_scope(zone, &authoritative, opts).await,
        None => None,
    };
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
    let looked_up = join_all(names.into_iter().map(|target| async move {
        let found = resolver.addresses(&target).await;
        let validation = match &found {
            Err(LookupError::ServFail { name, rtype, .. }) => {
                dnssec::validation(resolver.servers(), name, *rtype, opts).await
            }
            _ => Validation::Consistent,
        };
        let result = found
            .map(|found| TargetAddresses {
                addresses: found.ips(),
                canonical: canonical(&target, &found),
                exists: found.ipv4.status != AnswerStatus::NxDomain
                    || found.ipv6.status != AnswerStatus::NxDomain,
            })
            .map_err(|e| e.to_string());
        (TargetLookup { target, result }, validation)
    }))
    .await;
    let mut targets = Vec::new();
    let mut target_validations = Vec::new();
    for (lookup, validation) in looked_up {
        if validation != Validation::Consistent {
            target_validations.push((lookup.target.clone(), validation));
        }
        targets.push(lookup);
    }
    let observation = DomainObservation {
        domain: domain.clone(),
        resolver: through_resolver,
        authoritative,
        primary_unread,
        targets,
        validation,
        target_validations,
        signatures,
        ttl_scope,
    };
    (zone, observation)
}

/// What the server behind `read` keeps a TTL for, when its answer carries
/// different TTLs: that decides whether they are normal (AD) or not.
async fn ttl_scope(zone: &Name, read: &RrsetRead, opts: &DnsOptions) -> Option<TtlScope> {
    let mixed = read.result.as_ref().is_ok_and(|rrset| rrset.mixed_ttls());
    let server: SocketAddr = read.server.as_deref()?.parse().ok()?;
    if !mixed {
        return None;
    }
    Some(dns::ttl::ttl_scope(server, zone, opts).await)
}

/// The signatures of `owner` and its in-zone targets at every server of
/// the zone's NS set; the NS set, the DNSKEY RRsets and the DS are read
/// once per zone and run (`zone_keys`), so an unsigned zone costs its
/// domains after the first no query at all.
async fn signatures(
    zone: &Name,
    owner: &Name,
    resolver: &Resolver,
    opts: &DnsOptions,
    zone_keys: &KeyMemo,
) -> ZoneSignatures {
    let keys = zone_keys
        .get_or_read(zone, || async {
            let servers = zone_servers(zone, resolver, opts).await;
            dnssec::read_zone_keys(zone, servers, resolver, opts).await
        })
        .await;
    dnssec::observe_with_keys(zone, std::slice::from_ref(owner), &keys, opts).await
}

/// Every address of every server of the zone's NS set.
async fn zone_servers(zone: &Name, resolver: &Resolver, opts: &DnsOptions) -> Vec<SignedServer> {
    dns::authoritative_servers(zone, resolver, opts)
        .await
        .unwrap_or_default()
        .into_iter()
        .flat_map(|server| {
            let addresses = server.addresses.unwrap_or_default();
            addresses.into_iter().map(move |address| SignedServer {
                label: format!("{} ({address})", server.name),
                address,
            })
        })
        .collect()
}

/// What is known of a domain whose deadline passed: nothing was read.
pub(super) fn cut_off(domain: &Name, resolver: &Resolver, overrun: &Overrun) -> DomainObservation {
    let unread = |source: String| RrsetRead {
        source,
        server: None,
        result: Err(format!(
            "not read: the domain's {} deadline passed",
            humantime::format_duration(overrun.limit)
        )),
    };
    DomainObservation {
        domain: domain.clone(),
        resolver: unread(resolver.via().to_string()),
        authoritative: unread("the zone's servers".to_owned()),
        primary_unread: None,
        targets: Vec::new(),
        validation: Validation::Consistent,
        target_validations: Vec::new(),
        signatures: None,
        ttl_scope: None,
    }
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

/// The SRV RRset as a client's resolver answers it; after a SERVFAIL,
/// whether checking disabled (CD) gets records: a validation failure.
async fn resolver_read(
    owner: &Name,
    resolver: &Resolver,
    nameserver: Option<SocketAddr>,
    opts: &DnsOptions,
) -> (RrsetRead, Validation) {
    let result = resolver.srv(owner).await;
    let validation = match &result {
        Err(LookupError::ServFail { .. }) => {
            dnssec::validation(resolver.servers(), owner, RecordType::SRV, opts).await
        }
        _ => Validation::Consistent,
    };
    let read = RrsetRead {
        source: resolver.via().to_string(),
        server: nameserver.map(|s| s.to_string()),
        result: result.map_err(|e| e.to_string()),
    };
    (read, validation)
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
