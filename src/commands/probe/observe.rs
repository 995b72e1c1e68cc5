//! End-to-end reachability, as a KMS client finds and reaches its host:
//! `_vlmcs._tcp` SRV lookup, RFC 2782 order, every A and AAAA address of
//! every target, and a DCE/RPC bind to each ([`crate::rpc`]; never an
//! activation request).
//!
//! This module does the I/O, bounded by `--concurrency` at each stage, and
//! asks each name and probes each address once even when several domains
//! share it; `judge` turns the results into findings without I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::Name;

use super::details::{AddressResult, DomainProbe, TargetProbe};
use crate::concurrency::{deadline, in_order};
use crate::config::srv_owner;
use crate::dns::lookup::{key, lookup_all, resolve_all, AddressLookup, Lookup};
use crate::dns::Resolver;
use crate::report::Severity;
use crate::rpc::{probe_address, AddressProbe, Outcome, Timeouts};
use crate::srv_order::{first_pick_probabilities, priority_groups, Weighted};

/// How probes are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Bound on each TCP step.
    pub timeouts: Timeouts,
    /// How many lookups or probes at once (at least 1).
    pub concurrency: usize,
    /// `--deadline`: the bound of each domain's SRV lookup, each target's
    /// address lookup and each address's probe (connect and bind).
    pub deadline: Duration,
}

/// A host given on the command line, like `slmgr /skms NAME:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// A name to resolve, or an address to probe as is.
    pub host: HostName,
    /// The TCP port.
    pub port: u16,
}

/// The host part of a [`HostSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostName {
    /// A DNS name: every A and AAAA address is probed.
    Name(Name),
    /// An address, probed without DNS.
    Ip(IpAddr),
}

impl HostSpec {
    /// Whether probing this host needs DNS.
    pub fn needs_dns(&self) -> bool {
        matches!(self.host, HostName::Name(_))
    }
}

/// Probes every domain of `domains` through its SRV records, in the order
/// given. The results still need their `status` from [`findings`].
pub async fn probe_domains(
    resolver: &Resolver,
    domains: &[Name],
    settings: Settings,
) -> Vec<DomainProbe> {
    let lookups = lookup_all(resolver, domains, settings.concurrency, settings.deadline).await;

    let names: BTreeSet<Name> = lookups
        .iter()
        .flat_map(|l| l.records.iter())
        .filter(|r| !r.target.is_root())
        .map(|r| r.target.clone())
        .collect();
    let addresses = resolve_all(resolver, names, settings.concurrency, settings.deadline).await;

    let mut sockets: BTreeSet<SocketAddr> = BTreeSet::new();
    for lookup in &lookups {
        for record in &lookup.records {
            if let Some(Ok(ips)) = addresses.get(&key(&record.target)) {
                sockets.extend(ips.iter().map(|&ip| SocketAddr::new(ip, record.port)));
            }
        }
    }
    let probes = probe_all(sockets, settings, probe_address).await;

    lookups
        .into_iter()
        .map(|lookup| assemble_domain(lookup, &addresses, &probes))
        .collect()
}

/// Probes each host of `hosts` (all its addresses); `resolver` is needed
/// only for hosts given by name.
pub async fn probe_hosts(
    resolver: Option<&Resolver>,
    hosts: &[HostSpec],
    settings: Settings,
) -> Vec<TargetProbe> {
    let names: BTreeSet<Name> = hosts
        .iter()
        .filter_map(|h| match &h.host {
            HostName::Name(name) => Some(name.clone()),
            HostName::Ip(_) => None,
        })
        .collect();
    let addresses = match resolver {
        Some(resolver) => {
            resolve_all(resolver, names, settings.concurrency, settings.deadline).await
        }
        None => names
            .iter()
            .map(|n| (key(n), Err("no resolver to look it up".to_string())))
            .collect(),
    };
    let host_ips = |host: &HostSpec| -> AddressLookup {
        match &host.host {
            HostName::Ip(ip) => Ok(vec![*ip]),
            HostName::Name(name) => addresses
                .get(&key(name))
                .cloned()
                .unwrap_or_else(|| Err("not looked up".to_string())),
        }
    };
    let sockets: BTreeSet<SocketAddr> = hosts
        .iter()
        .filter_map(|h| host_ips(h).ok().map(|ips| (ips, h.port)))
        .flat_map(|(ips, port)| ips.into_iter().map(move |ip| SocketAddr::new(ip, port)))
        .collect();
    let probes = probe_all(sockets, settings, probe_address).await;
    hosts
        .iter()
        .map(|host| TargetProbe {
            target: match &host.host {
                HostName::Name(name) => name.to_ascii(),
                HostName::Ip(ip) => ip.to_string(),
            },
            port: host.port,
            priority: None,
            weight: None,
            probability: None,
            probability_value: None,
            addresses: address_results(&host_ips(host), host.port, &probes),
        })
        .collect()
}

/// Probes every address once, at most `settings.concurrency` at a time.
pub async fn probe_all<F, Fut>(
    sockets: impl IntoIterator<Item = SocketAddr>,
    settings: Settings,
    probe: F,
) -> BTreeMap<SocketAddr, AddressProbe>
where
    F: Fn(SocketAddr, Timeouts) -> Fut,
    Fut: Future<Output = AddressProbe>,
{
    let probe = &probe;
    in_order(sockets, settings.concurrency, |addr| async move {
        let probed = deadline::within(settings.deadline, probe(addr, settings.timeouts))
            .await
            .unwrap_or_else(|error| AddressProbe {
                address: addr,
                outcome: Outcome::DeadlineExceeded { error },
                connect: None,
                reply: None,
            });
        (addr, probed)
    })
    .collect()
    .await
    .into_iter()
    .collect()
}

fn address_results(
    ips: &AddressLookup,
    port: u16,
    probes: &BTreeMap<SocketAddr, AddressProbe>,
) -> Vec<AddressResult> {
    match ips {
        Ok(ips) => ips
            .iter()
            .map(|&ip| {
                let addr = SocketAddr::new(ip, port);
                match probes.get(&addr) {
                    Some(probe) => AddressResult::Probed(probe.clone()),
                    None => AddressResult::dns_failed(format!("{addr} was not probed")),
                }
            })
            .collect(),
        Err(error) => vec![AddressResult::dns_failed(error.clone())],
    }
}

fn assemble_domain(
    lookup: Lookup,
    addresses: &BTreeMap<String, AddressLookup>,
    probes: &BTreeMap<SocketAddr, AddressProbe>,
) -> DomainProbe {
    let weighted: Vec<Weighted> = lookup
        .records
        .iter()
        .map(|r| Weighted {
            priority: r.priority,
            weight: r.weight,
        })
        .collect();
    let mut targets: Vec<(u16, u128, u128, TargetProbe)> = Vec::new();
    for group in priority_groups(&weighted) {
        let weights: Vec<u16> = group.members.iter().map(|&i| weighted[i].weight).collect();
        let chances = first_pick_probabilities(&weights);
        for (&index, chance) in group.members.iter().zip(chances) {
            let record = &lookup.records[index];
            let results = if record.target.is_root() {
                // RFC 2782: "." means the service is decidedly not
                // available here; there is nothing to look up.
                vec![AddressResult::dns_failed(
                    "the target \".\" means: no KMS service in this domain (RFC 2782)",
                )]
            } else {
                let ips = addresses
                    .get(&key(&record.target))
                    .cloned()
                    .unwrap_or_else(|| Err("not looked up".to_string()));
                address_results(&ips, record.port, probes)
            };
            targets.push((
                record.priority,
                chance.numerator(),
                chance.denominator(),
                TargetProbe {
                    target: record.target.to_ascii(),
                    port: record.port,
                    priority: Some(record.priority),
                    weight: Some(record.weight),
                    probability: Some(chance.to_string()),
                    probability_value: Some(chance.value()),
                    addresses: results,
                },
            ));
        }
    }
    // RFC 2782 order: priority, then the likeliest first pick (compared
    // exactly by cross-multiplying), then by name for a stable display.
    targets.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then((b.1 * a.2).cmp(&(a.1 * b.2)))
            .then_with(|| a.3.target.cmp(&b.3.target))
            .then(a.3.port.cmp(&b.3.port))
    });
    let targets: Vec<TargetProbe> = targets.into_iter().map(|t| t.3).collect();
    DomainProbe {
        domain: lookup.domain.to_ascii(),
        query: srv_owner(&lookup.domain).to_ascii(),
        answer: lookup.answer,
        error: lookup.error,
        overrun: lookup.overrun,
        status: Severity::Ok,
        reachable: targets.iter().map(TargetProbe::reachable).sum(),
        addresses: targets.iter().map(|t| t.addresses.len()).sum(),
        targets,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::dns::lookup::LookupStatus;
    use crate::dns::SrvRecord;

    /// What probing a KMS host at `address` finds.
    fn kms_at(address: SocketAddr) -> AddressProbe {
        AddressProbe {
            address,
            outcome: Outcome::Kms,
            connect: None,
            reply: None,
        }
    }

    #[tokio::test]
    async fn probes_stay_within_the_concurrency_bound() {
        let in_flight = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let settings = Settings {
            timeouts: Timeouts::default(),
            concurrency: 3,
            deadline: Duration::from_secs(15),
        };
        let sockets: Vec<SocketAddr> = (1..=10)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        let probes = probe_all(sockets.clone(), settings, |address, _| {
            let (in_flight, most) = (&in_flight, &most);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                kms_at(address)
            }
        })
        .await;
        assert_eq!(probes.len(), 10);
        assert_eq!(probes.keys().copied().collect::<Vec<_>>(), sockets);
        assert_eq!(most.load(Ordering::SeqCst), 3, "ran three at a time");
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_past_the_deadline_is_cut_off_with_its_step() {
        let settings = Settings {
            timeouts: Timeouts::default(),
            concurrency: 2,
            deadline: Duration::from_secs(1),
        };
        let stalled = SocketAddr::from(([127, 0, 0, 1], 1688));
        let probes = probe_all([stalled], settings, |address, _| async move {
            let _step = deadline::step(|| format!("probing {address}"));
            tokio::time::sleep(Duration::from_secs(60)).await;
            kms_at(address)
        })
        .await;
        let Some(Outcome::DeadlineExceeded { error }) = probes.get(&stalled).map(|p| &p.outcome)
        else {
            panic!("not cut off: {probes:?}");
        };
        assert_eq!(error.limit, Duration::from_secs(1));
        assert_eq!(error.step.as_deref(), Some("probing 127.0.0.1:1688"));
    }

    fn record(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: Name::from_ascii(target).unwrap_or_default(),
        }
    }

    #[test]
    fn targets_come_in_rfc_2782_order_with_their_chances() {
        let lookup = Lookup {
            domain: Name::from_ascii("corp.example.").unwrap_or_default(),
            answer: LookupStatus::Records,
            error: None,
            overrun: None,
            records: vec![
                record(10, 0, 1688, "standby.corp.example."),
                record(0, 0, 1688, "light.corp.example."),
                record(0, 60, 1688, "heavy.corp.example."),
                record(0, 30, 1688, "middle.corp.example."),
                record(0, 0, 1688, "."),
            ],
        };
        let ip: IpAddr = [192, 0, 2, 1].into();
        let mut addresses = BTreeMap::new();
        for name in ["standby", "light", "heavy", "middle"] {
            addresses.insert(format!("{name}.corp.example."), Ok(vec![ip]));
        }
        let mut probes = BTreeMap::new();
        let addr = SocketAddr::new(ip, 1688);
        probes.insert(addr, kms_at(addr));
        let domain = assemble_domain(lookup, &addresses, &probes);
        let order: Vec<(&str, &str)> = domain
            .targets
            .iter()
            .map(|t| (t.target.as_str(), t.probability.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            order,
            [
                ("heavy.corp.example.", "60/91"),
                ("middle.corp.example.", "30/91"),
                (".", "1/182"),
                ("light.corp.example.", "1/182"),
                ("standby.corp.example.", "1/1"),
            ]
        );
        assert_eq!(domain.query, "_vlmcs._tcp.corp.example.");
        assert_eq!(domain.addresses, 5);
        assert_eq!(domain.reachable, 4);
        assert_eq!(domain.targets[2].addresses[0].verdict(), "dns-failed");
    }
}
