//! Reading, planning and changing one domain's `_vlmcs._tcp` RRset on its
//! primary: the engine behind `plan`, `publish` and `remove`.
//!
//! Per domain (RFC 2136 §4 and DESIGN §7):
//! 1. find the zone and its primary from the SOA, unless a server is
//!    configured;
//! 2. read the RRset from the primary;
//! 3. plan with [`crate::commands::changes::planner`];
//! 4. send one UPDATE per zone (every domain of it together) whose
//!    prerequisites are the RRsets exactly as read;
//! 5. on a prerequisite failure (someone else changed the RRset), go back
//!    to 2, a bounded number of times;
//! 6. read back and check the primary serves what was planned.
//!
//! Steps 2–6 for one zone are [`zone`]'s; every exchange with DNS goes
//! through [`Exchange`], so the safety loop is unit-tested without a
//! server. A failure in one domain never stops the others: every domain
//! ends with an [`Outcome`].

mod exchange;
mod outcome;
#[cfg(test)]
mod tests;
mod zone;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::concurrency::deadline::{self, Overrun};
use crate::concurrency::in_order;
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record};

use super::planner::Plan;
use crate::config::{Config, SrvRecord};
use crate::dns::{
    DiscoveryError, DnsOptions, Expected, GssAuth, Resolver, SrvRrset, UpdateRequest,
};
pub use exchange::{Dns, Exchange};
pub use outcome::{Carried, Failure, NameAfter, Note, Outcome, ReadProblem, Refusal};

/// How many times a domain is re-read and re-planned after another host
/// changed its RRset between our read and our update.
pub const MAX_RETRIES: u32 = 3;

/// What to do with each domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Read and plan a publish; change nothing.
    Plan { set_ttl: bool, prune: bool },
    /// Make our records exactly the configured ones; with `prune`, also
    /// delete the records of targets that are no configured host.
    Publish { set_ttl: bool, prune: bool },
    /// Delete our records (only `host`'s when given).
    Remove { force: bool, host: Option<Name> },
}

/// A callback given the domain being worked on.
pub type DomainHook = Arc<dyn Fn(&Name) + Send + Sync>;

/// Test seams. Production code leaves them empty.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Called after a domain is planned and before its UPDATE is sent.
    pub before_update: Option<DomainHook>,
}

/// Where a domain's updates go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub zone: Name,
    /// The primary's addresses, first the one that answered.
    pub primary: Vec<SocketAddr>,
}

/// Everything known about one domain after the run.
#[derive(Debug, Clone)]
pub struct DomainOutcome {
    pub domain: Name,
    pub target: Option<Target>,
    /// The plan that was applied, or would be.
    pub plan: Option<Plan>,
    pub outcome: Outcome,
    /// How many times another host's concurrent change forced a re-read.
    pub retries: u32,
    /// Why the update counts as applied without a verified reply.
    pub note: Option<Note>,
    /// A/AAAA records of KMS hosts inside the zone to add (`--addresses`),
    /// in zone-file syntax; reported on the zone's first domain.
    pub addresses: Vec<String>,
    /// Who signed: the TSIG key's name, or the Kerberos principal (the
    /// negotiated context's when there was one).
    pub signer: Option<Signer>,
}

/// The identity an update was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    Key(String),
    Principal(String),
}

impl DomainOutcome {
    /// A domain nothing is known of yet.
    fn new(domain: &Name) -> Self {
        DomainOutcome {
            domain: domain.clone(),
            target: None,
            plan: None,
            outcome: Outcome::InSync,
            retries: 0,
            note: None,
            addresses: Vec::new(),
            signer: None,
        }
    }
}

/// The engine: DNS options, the resolver for discovery, and hooks.
pub struct Engine {
    pub opts: DnsOptions,
    pub resolver: Resolver,
    pub hooks: Hooks,
    pub concurrency: usize,
    /// Also add the configured A/AAAA of KMS hosts whose names lie inside
    /// a zone being changed (`--addresses`). Addresses are only added, never
    /// deleted: a host may have others that kmsdns does not know.
    pub publish_addresses: bool,
    /// `--deadline`: bounds finding each domain's zone and each read
    /// before an UPDATE; an UPDATE in flight and the read-back after it
    /// run to their own bounds, so no outcome is left unknown.
    pub deadline: Duration,
}

/// A domain's zone and primary, as looked up (or why not).
type Found = Result<Result<Target, DiscoveryError>, Overrun>;

impl Engine {
    /// Runs `mode` over every domain of `config`, in windows of `size`
    /// domains (see [`Engine::windows_with`]), exchanging with DNS through
    /// [`Dns`]; each window's outcomes, in configuration order, go to
    /// `sink` as soon as they are known.
    pub async fn windows<E>(
        &self,
        config: &Config,
        mode: &Mode,
        size: usize,
        sink: impl FnMut(Vec<DomainOutcome>) -> Result<(), E>,
    ) -> Result<(), E> {
        let dns = Dns {
            opts: &self.opts,
            resolver: &self.resolver,
        };
        self.windows_with(&dns, config, mode, size, sink).await
    }

    /// [`Engine::windows`] over the whole configuration at once, outcomes
    /// kept.
    pub async fn run_with(
        &self,
        exchange: &impl Exchange,
        config: &Config,
        mode: &Mode,
    ) -> Vec<DomainOutcome> {
        let mut outcomes = Vec::new();
        let all = config.domains.len().max(1);
        let sink = |window: Vec<DomainOutcome>| {
            outcomes.extend(window);
            Ok::<_, std::convert::Infallible>(())
        };
        let Ok(()) = self.windows_with(exchange, config, mode, all, sink).await;
        outcomes
    }

    /// Runs `mode` over consecutive windows of about `size` domains of the
    /// configuration, so that a run holds one window's plans and outcomes,
    /// whatever the estate's size.
    ///
    /// Each window: its domains' zones are found concurrently; then the
    /// domains of one zone (same primary, same key) are changed by one
    /// atomic UPDATE, zones concurrently, both with the `concurrency`
    /// bound. A window goes on past `size` while the next domain is in the
    /// zone of its last one, so that a zone whose domains are listed
    /// together is never split into two UPDATEs; domains of a zone listed
    /// apart, in different windows, are changed by one UPDATE per window.
    /// The zones of the domains past `size` are found concurrently too,
    /// `concurrency` at a time in batches of `size` (at least
    /// `concurrency`), and only those below
    /// the zone's apex: a zone of 100,000 domains is not 100,000 lookups
    /// one after another. Every domain's zone is looked up once, in a
    /// window or ahead of it.
    /// A zone's host addresses (`--addresses`) are handled once in a run,
    /// with its first domain.
    pub async fn windows_with<E>(
        &self,
        exchange: &impl Exchange,
        config: &Config,
        mode: &Mode,
        size: usize,
        mut sink: impl FnMut(Vec<DomainOutcome>) -> Result<(), E>,
    ) -> Result<(), E> {
        let bound = self.concurrency.max(1);
        let find = |index: usize| {
            deadline::within(self.deadline, exchange.find_target(&config.domains[index]))
        };
        // The zones whose host addresses a window handled: kept only with
        // `--addresses`.
        let mut addressed: HashSet<Name> = HashSet::new();
        // The zones of the domains after the last window, in order, looked
        // up while deciding where that window ends.
        let mut ahead: VecDeque<Found> = VecDeque::new();
        let mut start = 0;
        while start < config.domains.len() {
            let mut end = (start + size.max(1)).min(config.domains.len());
            let mut targets: Vec<Found> = ahead.drain(..ahead.len().min(end - start)).collect();
            let rest: Vec<usize> = (start + targets.len()..end).collect();
            targets.extend(in_order(&rest, bound, |&index| find(index)).collect().await);
            while end < config.domains.len() {
                let Some(Ok(Ok(last))) = targets.last() else {
                    break;
                };
                if ahead.is_empty() {
                    // The next domains that may be in the zone, looked up
                    // together: those below its apex, since a zone holds
                    // no name outside it. Each is looked up all the same,
                    // as one below the apex may be in a child zone.
                    let below: Vec<usize> = (end..config.domains.len())
                        .take(size.max(bound))
                        .take_while(|&index| last.zone.zone_of(&config.domains[index].srv_name()))
                        .collect();
                    ahead.extend(
                        in_order(&below, bound, |&index| find(index))
                            .collect()
                            .await,
                    );
                }
                match ahead.front() {
                    Some(Ok(Ok(next))) if next.zone == last.zone => {}
                    _ => break,
                }
                targets.extend(ahead.pop_front());
                end += 1;
            }
            let outcomes = self
                .window(exchange, config, mode, start, targets, &mut addressed)
                .await;
            sink(outcomes)?;
            start = end;
        }
        Ok(())
    }

    /// Changes the domains from `start` whose zones were looked up
    /// (`targets`), and returns their outcomes in configuration order.
    async fn window(
        &self,
        exchange: &impl Exchange,
        config: &Config,
        mode: &Mode,
        start: usize,
        targets: Vec<Found>,
        addressed: &mut HashSet<Name>,
    ) -> Vec<DomainOutcome> {
        let (mut outcomes, found) = self.found(config, start, targets);
        let mut groups = groups(config, found);
        let addresses = self.publish_addresses && !matches!(mode, Mode::Remove { .. });
        for group in &mut groups {
            group.first = addresses && addressed.insert(group.target.zone.clone());
        }
        let results: Vec<Vec<(usize, DomainOutcome)>> =
            in_order(groups, self.concurrency.max(1), |group| {
                let run = zone::ZoneRun {
                    exchange,
                    config,
                    mode,
                    target: group.target,
                    hooks: &self.hooks,
                    deadline: self.deadline,
                };
                async move { run.run(group.members, group.first).await }
            })
            .collect()
            .await;
        for (index, outcome) in results.into_iter().flatten() {
            outcomes[index - start] = outcome;
        }
        outcomes
    }

    /// Every domain's outcome so far (failed where its zone is unknown),
    /// from `start` on, and the domains whose zone was found.
    fn found(
        &self,
        config: &Config,
        start: usize,
        targets: Vec<Found>,
    ) -> (Vec<DomainOutcome>, Vec<(usize, Target)>) {
        let domains = &config.domains[start..start + targets.len()];
        let mut outcomes: Vec<DomainOutcome> = domains
            .iter()
            .map(|domain| DomainOutcome::new(&domain.name))
            .collect();
        let mut found = Vec::new();
        for (at, target) in targets.into_iter().enumerate() {
            match target {
                Err(overrun) => outcomes[at].outcome = Outcome::Failed(Failure::Deadline(overrun)),
                Ok(Err(error)) => {
                    outcomes[at].outcome = Outcome::Failed(Failure::Discovery(Arc::new(error)))
                }
                Ok(Ok(target)) => {
                    say(|| found_line(&domains[at].name, &target));
                    outcomes[at].target = Some(target.clone());
                    found.push((start + at, target));
                }
            }
        }
        (outcomes, found)
    }
}

/// A step of the engine, shown with `-v` ([`crate::dns::trace`]).
fn say(line: impl FnOnce() -> String) {
    crate::dns::trace::note(line);
}

/// `-v`: where a domain's updates go.
fn found_line(domain: &Name, target: &Target) -> String {
    let primary: Vec<String> = target.primary.iter().map(ToString::to_string).collect();
    format!(
        "{domain}: zone {}, primary {}",
        target.zone,
        primary.join(" ")
    )
}

/// The domains of one zone that go into one UPDATE.
struct Group {
    target: Target,
    members: Vec<usize>,
    /// The zone's first group in the run: host addresses are handled
    /// with it (`--addresses`).
    first: bool,
}

/// Groups the domains whose zone was found by zone, primary and key
/// (TSIG key name and GSS-TSIG options), in configuration order.
fn groups(config: &Config, found: Vec<(usize, Target)>) -> Vec<Group> {
    let key = |i: usize| -> (Option<Name>, &Option<Box<GssAuth>>) {
        let domain = &config.domains[i];
        (domain.key.as_ref().map(|k| k.name.clone()), &domain.gss)
    };
    let mut groups: Vec<Group> = Vec::new();
    // The groups of each (target, key name): thousands of zones must not
    // cost a scan of every group per domain.
    let mut groups_of: HashMap<(Target, Option<Name>), Vec<usize>> = HashMap::new();
    for (index, target) in found {
        let candidates = groups_of.entry((target.clone(), key(index).0)).or_default();
        match candidates
            .iter()
            .find(|&&at| key(groups[at].members[0]) == key(index))
        {
            Some(&at) => groups[at].members.push(index),
            None => {
                candidates.push(groups.len());
                groups.push(Group {
                    target,
                    members: vec![index],
                    first: false,
                });
            }
        }
    }
    groups
}

fn srv_rdata(record: &SrvRecord) -> SRV {
    SRV::new(
        record.priority,
        record.weight,
        record.port,
        record.target.clone(),
    )
}

fn srv_record(owner: &Name, ttl: u32, record: &SrvRecord) -> Record {
    Record::from_rdata(owner.clone(), ttl, RData::SRV(srv_rdata(record)))
}

/// The UPDATE for a plan: prerequisite = the RRset as read; deletes by
/// exact RDATA; adds with the plan's TTL.
pub fn update_request(zone: &Name, owner: &Name, current: &SrvRrset, plan: &Plan) -> UpdateRequest {
    let expected = if current.records.is_empty() {
        Expected::Absent
    } else {
        Expected::Exactly(current.records.iter().map(srv_rdata).collect())
    };
    UpdateRequest {
        zone: zone.clone(),
        name: owner.clone(),
        expected,
        delete: plan
            .deletes()
            .into_iter()
            .map(|r| srv_record(owner, 0, r))
            .collect(),
        add: plan
            .adds()
            .into_iter()
            .map(|r| srv_record(owner, plan.ttl, r))
            .collect(),
    }
}
