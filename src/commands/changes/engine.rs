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
//! A failure in one domain never stops the others: every domain ends with
//! an [`Outcome`].

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::planner::{self, Plan};
use crate::config::{srv_owner, Config, Domain, SrvRecord};
use crate::dns::SrvRrset;
use crate::dns::{self, DnsOptions, Expected, Resolver, UpdateError, UpdateRequest};

/// How many times a domain is re-read and re-planned after another host
/// changed its RRset between our read and our update.
pub const MAX_RETRIES: u32 = 3;

/// What to do with each domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Read and plan a publish; change nothing.
    Plan { set_ttl: bool },
    /// Make our records exactly the configured ones.
    Publish { set_ttl: bool },
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

/// How a domain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to change.
    InSync,
    /// Changes would be made (`plan`).
    Pending,
    /// The update was applied and the primary serves the result.
    Applied,
    /// A safety rule stopped the change (e.g. removing the last record).
    Refused { message: String, hint: String },
    /// The domain could not be read or changed.
    Failed {
        message: String,
        hint: Option<String>,
    },
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
    /// The update's reply was lost and the re-read showed it applied.
    pub note: Option<String>,
    /// A/AAAA records of KMS hosts inside the zone to add (`--addresses`),
    /// in zone-file syntax; reported on the zone's first domain.
    pub addresses: Vec<String>,
}

/// The engine: DNS options, the resolver for discovery, and hooks.
pub struct Engine {
    pub opts: DnsOptions,
    pub resolver: Resolver,
    pub hooks: Hooks,
    pub concurrency: usize,
    /// `-v`: say on stderr what is being done.
    pub verbose: bool,
    /// Also add the configured A/AAAA of KMS hosts whose names lie inside
    /// a zone being changed (`--addresses`). Addresses are only added, never
    /// deleted: a host may have others that kmsdns does not know.
    pub publish_addresses: bool,
}

impl Engine {
    /// Runs `mode` over every domain of `config`, results in configuration
    /// order. Zones are found concurrently; then the domains of one zone
    /// (same primary, same key) are changed by one atomic UPDATE, zones
    /// concurrently, both with the `concurrency` bound.
    pub async fn run(&self, config: &Config, mode: &Mode) -> Vec<DomainOutcome> {
        let bound = self.concurrency.max(1);
        let targets: Vec<Result<Target, String>> = stream::iter(&config.domains)
            .map(|domain| self.target(domain))
            .buffered(bound)
            .collect()
            .await;
        let mut outcomes: Vec<DomainOutcome> = config
            .domains
            .iter()
            .map(|domain| DomainOutcome {
                domain: domain.name.clone(),
                target: None,
                plan: None,
                outcome: Outcome::InSync,
                retries: 0,
                note: None,
                addresses: Vec::new(),
            })
            .collect();
        // Domains that share zone, primary and key go into one message.
        let mut groups: Vec<(Target, Vec<usize>)> = Vec::new();
        // The groups of each (target, key name): thousands of zones must not
        // cost a scan of every group per domain.
        let mut groups_of: HashMap<(Target, Option<Name>), Vec<usize>> = HashMap::new();
        for (index, target) in targets.into_iter().enumerate() {
            let domain = &config.domains[index];
            match target {
                Err(message) => {
                    outcomes[index].outcome = Outcome::Failed {
                        message,
                        hint: Some(
                            "check that the domain exists, or set `server` under [domain.\"…\"]"
                                .into(),
                        ),
                    }
                }
                Ok(target) => {
                    self.say(|| {
                        let primary: Vec<String> =
                            target.primary.iter().map(ToString::to_string).collect();
                        format!(
                            "{}: zone {}, primary {}",
                            domain.name,
                            target.zone,
                            primary.join(" ")
                        )
                    });
                    outcomes[index].target = Some(target.clone());
                    let key_name = |i: usize| {
                        let domain = &config.domains[i];
                        (domain.key.as_ref().map(|k| k.name.clone()), &domain.gss)
                    };
                    let candidates = groups_of
                        .entry((target.clone(), key_name(index).0))
                        .or_default();
                    match candidates
                        .iter()
                        .find(|&&at| key_name(groups[at].1[0]) == key_name(index))
                    {
                        Some(&at) => groups[at].1.push(index),
                        None => {
                            candidates.push(groups.len());
                            groups.push((target, vec![index]));
                        }
                    }
                }
            }
        }
        // Host addresses are handled once per zone, with its first group.
        let mut seen_zones: HashSet<Name> = HashSet::new();
        let groups: Vec<(Target, Vec<usize>, bool)> = groups
            .into_iter()
            .map(|(target, members)| {
                let first = seen_zones.insert(target.zone.clone());
                (target, members, first)
            })
            .collect();
        let results: Vec<Vec<(usize, DomainOutcome)>> = stream::iter(groups)
            .map(|(target, members, first)| {
                let addresses =
                    first && self.publish_addresses && !matches!(mode, Mode::Remove { .. });
                self.zone(config, target, members, mode, addresses)
            })
            .buffered(bound)
            .collect()
            .await;
        for (index, outcome) in results.into_iter().flatten() {
            outcomes[index] = outcome;
        }
        outcomes
    }

    /// Reads, plans and updates the domains `members` of one zone.
    async fn zone(
        &self,
        config: &Config,
        target: Target,
        members: Vec<usize>,
        mode: &Mode,
        with_addresses: bool,
    ) -> Vec<(usize, DomainOutcome)> {
        let first_member = members.first().copied();
        let (mut done, address_lines, address_outcome) = self
            .zone_records(config, &target, members, mode, with_addresses)
            .await;
        // Address changes are reported on the zone's first domain.
        if let Some((_, first)) = done.iter_mut().find(|(i, _)| Some(*i) == first_member) {
            first.addresses = address_lines;
            if let Some(outcome) = address_outcome {
                if first.outcome == Outcome::InSync || matches!(outcome, Outcome::Failed { .. }) {
                    first.outcome = outcome;
                }
            }
        }
        done
    }

    /// The body of [`Engine::zone`]: also returns the address lines and
    /// what became of them.
    async fn zone_records(
        &self,
        config: &Config,
        target: &Target,
        members: Vec<usize>,
        mode: &Mode,
        with_addresses: bool,
    ) -> (Vec<(usize, DomainOutcome)>, Vec<String>, Option<Outcome>) {
        let target = target.clone();
        let mut done: Vec<(usize, DomainOutcome)> = Vec::new();
        let mut address_lines: Vec<String> = Vec::new();
        let mut active = members;
        let mut retries = 0;
        // Re-reads after a failed prerequisite, whatever the cause: bounds
        // the loop.
        let mut rereads = 0;
        // The plans of our last UPDATE when a *retransmitted* copy of it
        // failed on its prerequisite: the first copy may have been applied
        // with its reply lost (see `dns::update`), so a re-read that finds
        // nothing left to do means the change is ours, applied once.
        let mut maybe_applied: Vec<(usize, Plan)> = Vec::new();
        let mut last_server: Option<SocketAddr> = None;
        let finish = |index: usize,
                      plan: Option<Plan>,
                      outcome: Outcome,
                      retries: u32,
                      note: Option<String>| {
            let domain = &config.domains[index];
            (
                index,
                DomainOutcome {
                    domain: domain.name.clone(),
                    target: Some(target.clone()),
                    plan,
                    outcome,
                    retries,
                    note,
                    addresses: Vec::new(),
                },
            )
        };
        let make_plan = |domain: &Domain, current: &SrvRrset| match mode {
            Mode::Plan { set_ttl } | Mode::Publish { set_ttl } => {
                planner::publish(current, &domain.records, domain.ttl, *set_ttl, |t| {
                    config.owns_target(t)
                })
            }
            Mode::Remove { host, .. } => {
                planner::remove(current, |t| config.owns_target(t), host.as_ref())
            }
        };

        loop {
            // Read and plan every domain still to do.
            let mut batch: Vec<(usize, SrvRrset, Plan)> = Vec::new();
            let mut server = None;
            for index in std::mem::take(&mut active) {
                let domain = &config.domains[index];
                let name = domain.srv_name();
                let (answered, current) = match self.read(&target, &name).await {
                    Ok(read) => read,
                    Err(message) => {
                        done.push(finish(
                            index,
                            None,
                            Outcome::Failed {
                                message,
                                hint: None,
                            },
                            retries,
                            None,
                        ));
                        continue;
                    }
                };
                server.get_or_insert(answered);
                let plan = make_plan(domain, &current);
                if !plan.has_changes() {
                    let done_here = match maybe_applied.iter().find(|(i, _)| *i == index) {
                        Some((_, sent)) => finish(
                            index,
                            Some(sent.clone()),
                            Outcome::Applied,
                            retries,
                            Some(
                                "the reply was lost; the retransmitted copy found the change already made"
                                    .to_string(),
                            ),
                        ),
                        None => finish(index, Some(plan), Outcome::InSync, retries, None),
                    };
                    done.push(done_here);
                    continue;
                }
                match mode {
                    Mode::Plan { .. } => {
                        done.push(finish(index, Some(plan), Outcome::Pending, retries, None));
                        continue;
                    }
                    Mode::Remove { force: false, .. } if plan.remaining() == 0 => {
                        let refused = Outcome::Refused {
                            message: format!(
                                "removing would leave {} without any KMS record: every client there would fail to activate (0x8007251D)",
                                domain.name
                            ),
                            hint: "publish another KMS host first, or use --force if the domain really has no KMS host any more"
                                .into(),
                        };
                        done.push(finish(index, Some(plan), refused, retries, None));
                        continue;
                    }
                    _ => {}
                }
                batch.push((index, current, plan));
            }
            let Some(server) = server.or(last_server) else {
                return (done, address_lines, None);
            };
            last_server = Some(server);
            let ttl = config.domains[first_index(&done, &batch)].ttl;
            let addresses = if with_addresses {
                match self.address_changes(config, &target, server, ttl).await {
                    Ok(changes) => changes,
                    Err(message) => {
                        return (
                            done,
                            address_lines,
                            Some(Outcome::Failed {
                                message,
                                hint: None,
                            }),
                        );
                    }
                }
            } else {
                Vec::new()
            };
            address_lines = addresses
                .iter()
                .flat_map(|(_, lines)| lines.clone())
                .collect();
            if batch.is_empty() && addresses.is_empty() {
                return (done, address_lines, None);
            }
            if matches!(mode, Mode::Plan { .. }) {
                // Only address changes can be left here in plan mode.
                return (done, address_lines, Some(Outcome::Pending));
            }

            for (index, _, _) in &batch {
                if let Some(hook) = &self.hooks.before_update {
                    hook(&config.domains[*index].name);
                }
            }
            let mut requests: Vec<UpdateRequest> = batch
                .iter()
                .map(|(index, current, plan)| {
                    update_request(
                        &target.zone,
                        &config.domains[*index].srv_name(),
                        current,
                        plan,
                    )
                })
                .collect();
            requests.extend(addresses.iter().map(|(request, _)| request.clone()));
            let key = config.domains[first_index(&done, &batch)].key.as_deref();
            self.say(|| {
                let deletes: usize = requests.iter().map(|r| r.delete.len()).sum();
                let adds: usize = requests.iter().map(|r| r.add.len()).sum();
                let key = key.map_or("unsigned".to_string(), |k| format!("signed with key {}", k.name));
                format!(
                    "zone {}: sending one UPDATE to {server} for {} RRset(s) ({deletes} delete, {adds} add, {key})",
                    target.zone,
                    requests.len()
                )
            });
            #[cfg(feature = "gssapi")]
            let sent = match &config.domains[first_index(&done, &batch)].gss {
                Some(gss) => {
                    dns::gss::send_zone_update_gss(server, &requests, gss, &self.opts).await
                }
                None => dns::send_zone_update(server, &requests, key, &self.opts).await,
            };
            #[cfg(not(feature = "gssapi"))]
            let sent = dns::send_zone_update(server, &requests, key, &self.opts).await;
            match sent {
                Ok(_) => {
                    for (index, _, plan) in batch {
                        let domain = &config.domains[index];
                        let outcome = self
                            .verify(
                                &target,
                                &domain.srv_name(),
                                &|c: &SrvRrset| make_plan(domain, c),
                                server,
                            )
                            .await;
                        done.push(finish(index, Some(plan), outcome, retries, None));
                    }
                    let address_outcome = if addresses.is_empty() {
                        None
                    } else {
                        match self.address_changes(config, &target, server, ttl).await {
                            Ok(left) if left.is_empty() => Some(Outcome::Applied),
                            Ok(_) => Some(Outcome::Failed {
                                message: format!("{server} accepted the update but does not serve the planned addresses"),
                                hint: None,
                            }),
                            Err(message) => Some(Outcome::Failed { message, hint: None }),
                        }
                    };
                    return (done, address_lines, address_outcome);
                }
                Err(UpdateError::PrerequisiteFailed { retransmitted, .. })
                    if rereads < MAX_RETRIES =>
                {
                    // Another host changed an RRset since we read it (or a
                    // retransmitted copy of ours found it already changed):
                    // re-read and plan again.
                    rereads += 1;
                    maybe_applied.clear();
                    if retransmitted {
                        maybe_applied = batch
                            .iter()
                            .map(|(index, _, plan)| (*index, plan.clone()))
                            .collect();
                    } else {
                        retries += 1;
                    }
                    self.say(|| {
                        format!(
                            "zone {}: the records changed since they were read; reading them again",
                            target.zone
                        )
                    });
                    active = batch.into_iter().map(|(index, _, _)| index).collect();
                }
                Err(UpdateError::PrerequisiteFailed { .. }) => {
                    for (index, _, plan) in batch {
                        let failed = Outcome::Failed {
                            message: format!(
                                "the SRV records of {} kept changing while kmsdns tried to update them ({} attempts)",
                                config.domains[index].name,
                                MAX_RETRIES + 1
                            ),
                            hint: Some("another host is updating them at the same time; run publish again".into()),
                        };
                        done.push(finish(index, Some(plan), failed, retries, None));
                    }
                    let address_outcome = (!addresses.is_empty()).then(|| Outcome::Failed {
                        message: "the records kept changing while kmsdns tried to update them"
                            .into(),
                        hint: None,
                    });
                    return (done, address_lines, address_outcome);
                }
                Err(error) if outcome_unknown(&error) => {
                    // The update reached the server, or may have: applied
                    // with its reply lost, cut, forged or unreadable. A
                    // re-read tells.
                    for (index, _, plan) in batch {
                        let domain = &config.domains[index];
                        let (outcome, note) = match self.read(&target, &domain.srv_name()).await {
                            Ok((_, after)) if !make_plan(domain, &after).has_changes() => (
                                Outcome::Applied,
                                Some(match &error {
                                    UpdateError::Timeout { .. } => {
                                        "the reply was lost, but the primary serves the change"
                                            .to_string()
                                    }
                                    _ => "no usable reply came, but the primary serves the change"
                                        .to_string(),
                                }),
                            ),
                            _ => (failed(&error, domain), None),
                        };
                        done.push(finish(index, Some(plan), outcome, retries, note));
                    }
                    let address_outcome = if addresses.is_empty() {
                        None
                    } else {
                        match self.address_changes(config, &target, server, ttl).await {
                            Ok(left) if left.is_empty() => Some(Outcome::Applied),
                            _ => Some(Outcome::Failed {
                                message: error.to_string(),
                                hint: None,
                            }),
                        }
                    };
                    return (done, address_lines, address_outcome);
                }
                Err(error) => {
                    for (index, _, plan) in batch {
                        let outcome = failed(&error, &config.domains[index]);
                        done.push(finish(index, Some(plan), outcome, retries, None));
                    }
                    let address_outcome = (!addresses.is_empty())
                        .then(|| failed(&error, &config.domains[first_index(&done, &[])]));
                    return (done, address_lines, address_outcome);
                }
            }
        }
    }

    /// Reads the RRset back after an accepted update: the primary must now
    /// serve what was planned.
    async fn verify(
        &self,
        target: &Target,
        name: &Name,
        make_plan: &dyn Fn(&SrvRrset) -> Plan,
        server: SocketAddr,
    ) -> Outcome {
        match self.read(target, name).await {
            Ok((_, after)) if !make_plan(&after).has_changes() => Outcome::Applied,
            Ok(_) => Outcome::Failed {
                message: format!(
                    "{server} accepted the update but does not serve the planned records"
                ),
                hint: Some(
                    "another host may have changed them at the same moment; run plan again".into(),
                ),
            },
            Err(message) => Outcome::Failed {
                message: format!("the update was accepted, but reading it back failed: {message}"),
                hint: None,
            },
        }
    }

    /// The A/AAAA records of configured hosts inside `target`'s zone that
    /// the primary does not serve yet: one request per RRset (guarded by
    /// the RRset as read), with its lines for the report. Never deletes.
    async fn address_changes(
        &self,
        config: &Config,
        target: &Target,
        server: SocketAddr,
        ttl: u32,
    ) -> Result<Vec<(UpdateRequest, Vec<String>)>, String> {
        let mut changes = Vec::new();
        for host in &config.hosts {
            if !target.zone.zone_of(&host.name) || host.addresses.is_empty() {
                continue;
            }
            for rtype in [RecordType::A, RecordType::AAAA] {
                let wanted: Vec<RData> = host
                    .addresses
                    .iter()
                    .filter_map(|ip| match (ip, rtype) {
                        (IpAddr::V4(v4), RecordType::A) => Some(RData::A((*v4).into())),
                        (IpAddr::V6(v6), RecordType::AAAA) => Some(RData::AAAA((*v6).into())),
                        _ => None,
                    })
                    .collect();
                if wanted.is_empty() {
                    continue;
                }
                let response = dns::query(server, &host.name, rtype, &self.opts)
                    .await
                    .map_err(|e| format!("cannot read {} {rtype} from {server}: {e}", host.name))?;
                let records = response
                    .records_of(&host.name, rtype)
                    .map_err(|e| format!("cannot read {} {rtype} from {server}: {e}", host.name))?;
                let rrset_ttl = records.iter().map(Record::ttl).min().unwrap_or(ttl);
                let current: Vec<RData> = records.iter().map(|r| r.data().clone()).collect();
                let missing: Vec<&RData> = wanted.iter().filter(|w| !current.contains(w)).collect();
                if missing.is_empty() {
                    continue;
                }
                let lines = missing
                    .iter()
                    .map(|rdata| format!("{} {rrset_ttl} IN {rtype} {rdata}", host.name.to_ascii()))
                    .collect();
                let request = UpdateRequest {
                    zone: target.zone.clone(),
                    name: host.name.clone(),
                    expected: Expected::Records {
                        rtype,
                        data: current,
                    },
                    delete: Vec::new(),
                    add: missing
                        .into_iter()
                        .map(|rdata| {
                            Record::from_rdata(host.name.clone(), rrset_ttl, rdata.clone())
                        })
                        .collect(),
                };
                changes.push((request, lines));
            }
        }
        Ok(changes)
    }

    /// Prints a progress line on stderr with `-v`.
    fn say(&self, line: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("kmsdns: {}", line());
        }
    }

    /// The zone and primary of a domain: the configured server, or the
    /// SOA's MNAME (RFC 2136 §4).
    async fn target(&self, domain: &Domain) -> Result<Target, String> {
        let name = srv_owner(&domain.name);
        let info = dns::find_primary(&name, domain.server.as_deref(), &self.resolver, &self.opts)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Target {
            zone: info.zone,
            primary: info.primary,
        })
    }

    /// Reads the RRset from the first primary address that answers.
    async fn read(&self, target: &Target, name: &Name) -> Result<(SocketAddr, SrvRrset), String> {
        let mut last_error = String::from("the primary has no address");
        for server in &target.primary {
            match dns::read_srv(*server, name, &self.opts).await {
                Ok(current) => return Ok((*server, current.into_rrset())),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(last_error)
    }
}

/// A domain of the group to take the TTL and key from: the first one
/// being changed, else the first one done.
fn first_index(done: &[(usize, DomainOutcome)], batch: &[(usize, SrvRrset, Plan)]) -> usize {
    batch
        .first()
        .map(|(index, _, _)| *index)
        .or_else(|| done.first().map(|(index, _)| *index))
        .unwrap_or_default()
}

/// Whether the update may have been applied although no usable reply
/// says so: nothing came back, the reply could not be read or verified, or
/// the connection broke after the request went out. A server's own error
/// rcode (REFUSED, SERVFAIL, NOTAUTH…) means it applied nothing (RFC 2136
/// §3.8: the update is atomic), so only these need a re-read.
fn outcome_unknown(error: &UpdateError) -> bool {
    matches!(
        error,
        UpdateError::Timeout { .. }
            | UpdateError::Malformed { .. }
            | UpdateError::BadResponseSignature { .. }
            | UpdateError::Io { .. }
            | UpdateError::Unreachable { .. }
    )
}

fn failed(error: &UpdateError, domain: &Domain) -> Outcome {
    let hint = match error {
        UpdateError::Refused { signed: false, .. } => Some(format!(
            "configure a TSIG key for {} ([tsig-key] and `key`), granted in the zone's update-policy",
            domain.name
        )),
        UpdateError::Refused { signed: true, .. } => {
            Some("grant the key the _vlmcs._tcp SRV name in the zone's update-policy (see `kmsdns bind`)".into())
        }
        UpdateError::NotAuth { .. } => Some("compare the key name, algorithm and secret with the server's key statement".into()),
        UpdateError::Timeout { .. } | UpdateError::Unreachable { .. } => {
            Some("check that the primary is up and reachable on the DNS port".into())
        }
        _ => None,
    };
    Outcome::Failed {
        message: error.to_string(),
        hint,
    }
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
