//! One zone's change, in steps: read and plan every domain
//! ([`ZoneRun::read_and_plan`]), send one UPDATE ([`ZoneRun::send`]), judge
//! the outcome ([`ZoneRun::judge`]); after a failed prerequisite, again from
//! the read, at most [`MAX_RETRIES`] times.
//!
//! DESIGN §7 as code: the prerequisite is the RRset as read (in
//! [`super::update_request`]), so another host's concurrent change is caught
//! and re-read, never overwritten; whenever the outcome of an UPDATE is not
//! a verified NOERROR or a verified refusal, the RRset is read back before
//! anything is reported.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::outcome::{Carried, Failure, NameAfter, Note, Outcome, ReadProblem, Refusal};
use super::{say, update_request, DomainOutcome, Exchange, Hooks, Mode, Target, MAX_RETRIES};
use crate::commands::changes::planner::{self, Change, Plan, TtlScope};
use crate::concurrency::deadline;
use crate::config::{Config, Domain, KmsHost, TargetKind};
use crate::dns::{self, Expected, SrvRrset, UpdateError, UpdateRequest};

/// One zone's domains (those signed alike), changed together.
pub(super) struct ZoneRun<'a, E> {
    pub exchange: &'a E,
    pub config: &'a Config,
    pub mode: &'a Mode,
    pub target: Target,
    pub hooks: &'a Hooks,
    /// `--deadline`: bounds each read before an UPDATE, never an UPDATE
    /// nor the read-back that says what an unanswered one did.
    pub deadline: Duration,
}

/// A domain read and planned, with changes to send.
struct Planned {
    index: usize,
    current: SrvRrset,
    plan: Plan,
}

/// A planned domain: into the UPDATE, or done without one.
enum Settled {
    Send(Plan),
    Done {
        plan: Plan,
        outcome: Outcome,
        note: Option<Note>,
    },
}

/// The A/AAAA records of one host to add (`--addresses`), and their lines.
struct AddressChange {
    request: UpdateRequest,
    lines: Vec<String>,
}

/// What the reply to an UPDATE means for the safety loop.
#[derive(Debug)]
enum Sent {
    /// NOERROR.
    Accepted,
    /// NXRRSET / YXRRSET: an RRset is no longer as read; nothing was
    /// applied, unless this came to a retransmitted copy.
    Conflict { retransmitted: bool },
    /// No usable reply: the update may have been applied.
    Unknown(Arc<UpdateError>),
    /// The server applied nothing (RFC 2136 §3.8: the update is atomic).
    Failed(Arc<UpdateError>),
}

impl From<Result<(), UpdateError>> for Sent {
    fn from(result: Result<(), UpdateError>) -> Self {
        match result {
            Ok(()) => Sent::Accepted,
            Err(UpdateError::PrerequisiteFailed { retransmitted, .. }) => {
                Sent::Conflict { retransmitted }
            }
            Err(error) if outcome_unknown(&error) => Sent::Unknown(Arc::new(error)),
            Err(error) => Sent::Failed(Arc::new(error)),
        }
    }
}

/// What the zone's loop does after a round.
enum Next {
    /// Every domain has its outcome; the addresses' outcome, if any.
    Done(Option<Outcome>),
    /// Read and plan these domains again.
    Retry(Vec<usize>),
}

/// The loop's state across rounds.
#[derive(Default)]
struct State {
    done: Vec<(usize, DomainOutcome)>,
    /// Re-reads after another host's change.
    retries: u32,
    /// Re-reads after a failed prerequisite, whatever the cause: bounds
    /// the loop.
    rereads: u32,
    /// The plans of our last UPDATE when a *retransmitted* copy of it
    /// failed on its prerequisite: the first copy may have been applied
    /// with its reply lost (see `dns::update`), so a re-read that finds
    /// nothing left to do means the change is ours, applied once.
    maybe_applied: Vec<(usize, Plan)>,
    last_server: Option<SocketAddr>,
    address_lines: Vec<String>,
    /// What the primary keeps a TTL for, once read.
    scope: Option<TtlScope>,
}

impl<E: Exchange> ZoneRun<'_, E> {
    /// Reads, plans and updates the domains `members`; host addresses too
    /// when `with_addresses`. Address changes are reported on the zone's
    /// first domain.
    pub async fn run(
        self,
        members: Vec<usize>,
        with_addresses: bool,
    ) -> Vec<(usize, DomainOutcome)> {
        let first_member = members.first().copied();
        let mut state = State::default();
        let address_outcome = self.rounds(&mut state, members, with_addresses).await;
        let mut done = state.done;
        if let Some((_, first)) = done.iter_mut().find(|(i, _)| Some(*i) == first_member) {
            first.addresses = state.address_lines;
            if let Some(outcome) = address_outcome {
                if matches!(first.outcome, Outcome::InSync) || matches!(outcome, Outcome::Failed(_))
                {
                    first.outcome = outcome;
                }
            }
        }
        done
    }

    /// Rounds of read and plan, send, judge, until every domain is done.
    async fn rounds(
        &self,
        state: &mut State,
        mut active: Vec<usize>,
        with_addresses: bool,
    ) -> Option<Outcome> {
        // Until an UPDATE is sent, reads are bounded by the deadline; after
        // one, every read says what it did and is never cut nor skipped.
        let mut sent_any = false;
        loop {
            let (batch, server) = self.read_and_plan(state, active, !sent_any).await;
            let server = server.or(state.last_server)?;
            state.last_server = Some(server);
            let lead = lead(&batch, &state.done);
            let ttl = self.config.domains[lead].ttl;
            let addresses = if with_addresses {
                let reading = self.address_changes(server, ttl);
                let read = if sent_any {
                    dns::asking_again(reading).await
                } else {
                    deadline::within(self.deadline, reading)
                        .await
                        .unwrap_or_else(|overrun| Err(Failure::Deadline(overrun)))
                };
                match read {
                    Ok(changes) => changes,
                    Err(failure) => {
                        // Nothing is sent: the domains planned for this
                        // UPDATE fail with it, never left as in sync.
                        for Planned { index, plan, .. } in batch {
                            let failed = Outcome::Failed(failure.clone());
                            state
                                .done
                                .push(self.finish(state, index, Some(plan), failed, None));
                        }
                        return Some(Outcome::Failed(failure));
                    }
                }
            } else {
                Vec::new()
            };
            state.address_lines = addresses.iter().flat_map(|c| c.lines.clone()).collect();
            if batch.is_empty() && addresses.is_empty() {
                return None;
            }
            if matches!(self.mode, Mode::Plan { .. }) {
                // Only address changes can be left here in plan mode.
                return Some(Outcome::Pending);
            }
            let sent = self.send(server, &batch, &addresses, lead).await;
            sent_any = true;
            let judged = self.judge(state, sent, server, batch, &addresses, ttl);
            match dns::asking_again(judged).await {
                Next::Done(address_outcome) => return address_outcome,
                Next::Retry(indices) => active = indices,
            }
        }
    }

    /// Step 1: reads and plans every domain of `active`, each read within
    /// the deadline while `before_any_update`. Those with nothing to send
    /// are done; the others come back with the server that answered.
    async fn read_and_plan(
        &self,
        state: &mut State,
        active: Vec<usize>,
        before_any_update: bool,
    ) -> (Vec<Planned>, Option<SocketAddr>) {
        let mut batch = Vec::new();
        let mut server = None;
        for index in active {
            let domain = &self.config.domains[index];
            let owner = domain.srv_name();
            let read = if before_any_update {
                deadline::within(self.deadline, self.read(&owner))
                    .await
                    .map_err(Failure::Deadline)
                    .and_then(|read| read.map_err(Failure::Read))
            } else {
                dns::asking_again(self.read(&owner))
                    .await
                    .map_err(Failure::Read)
            };
            let (answered, current) = match read {
                Ok(read) => read,
                Err(failure) => {
                    let failed = Outcome::Failed(failure);
                    state
                        .done
                        .push(self.finish(state, index, None, failed, None));
                    continue;
                }
            };
            server.get_or_insert(answered);
            let scope = self.scope(state, answered, domain, &current).await;
            let plan = self.plan(domain, &current, scope);
            match self.settle(state, index, plan) {
                Settled::Send(plan) => batch.push(Planned {
                    index,
                    current,
                    plan,
                }),
                Settled::Done {
                    plan,
                    mut outcome,
                    note,
                } => {
                    if let Outcome::Refused(Refusal::LastRecord { after, .. }) = &mut outcome {
                        *after = self.name_after(answered, &domain.srv_name()).await;
                    }
                    state
                        .done
                        .push(self.finish(state, index, Some(plan), outcome, note))
                }
            }
        }
        (batch, server)
    }

    /// Whether a planned domain goes into the UPDATE, or is done already:
    /// in sync, found applied by our own lost copy, only planned, or
    /// stopped by the brake on removing the last record.
    fn settle(&self, state: &State, index: usize, plan: Plan) -> Settled {
        let done = |plan, outcome, note| Settled::Done {
            plan,
            outcome,
            note,
        };
        if !plan.has_changes() {
            // Records that disagree on their TTL are never in sync: only
            // `--set-ttl` evens them out.
            let mixed = plan.ttl_change.is_some_and(|t| t.mixed.is_some())
                && !matches!(self.mode, Mode::Remove { .. });
            return match state.maybe_applied.iter().find(|(i, _)| *i == index) {
                Some((_, sent)) => done(
                    sent.clone(),
                    Outcome::Applied,
                    Some(Note::RetransmissionFoundItDone),
                ),
                None if mixed => done(plan, Outcome::Pending, None),
                None => done(plan, Outcome::InSync, None),
            };
        }
        match self.mode {
            Mode::Remove { force: true, .. } => Settled::Send(plan),
            // The brake holds for every other write: `publish --prune`
            // never leaves a domain without a record either. What the
            // name would then be is read in `read_and_plan`.
            _ if plan.remaining() == 0 => {
                let domain = self.config.domains[index].name.clone();
                let after = NameAfter::Unknown(String::new());
                done(
                    plan,
                    Outcome::Refused(Refusal::LastRecord { domain, after }),
                    None,
                )
            }
            Mode::Plan { .. } => done(plan, Outcome::Pending, None),
            _ => Settled::Send(plan),
        }
    }

    /// What `owner` would be without its SRV records, from what `server`
    /// serves at it: the Windows error of the last-record brake.
    async fn name_after(&self, server: SocketAddr, owner: &Name) -> NameAfter {
        // Nothing is sent after it: the read is bounded like every read
        // before an UPDATE.
        let read = deadline::within(self.deadline, self.exchange.types_at(server, owner)).await;
        match read {
            Err(overrun) => NameAfter::Unknown(overrun.to_string()),
            Ok(Ok(types)) => {
                // Signatures and denial records go with the SRV RRset.
                let others: Vec<RecordType> = types
                    .into_iter()
                    .filter(|t| {
                        !matches!(
                            t,
                            RecordType::SRV
                                | RecordType::RRSIG
                                | RecordType::NSEC
                                | RecordType::NSEC3
                        )
                    })
                    .collect();
                if others.is_empty() {
                    NameAfter::Gone
                } else {
                    NameAfter::Stays(others)
                }
            }
            Ok(Err(error)) => NameAfter::Unknown(error.to_string()),
        }
    }

    /// What the primary at `server` keeps a TTL for: read once per zone
    /// (within the deadline, as every read before an UPDATE), and only when
    /// a publish finds a TTL other than the configured one, since the plan
    /// is the same either way otherwise.
    async fn scope(
        &self,
        state: &mut State,
        server: SocketAddr,
        domain: &Domain,
        current: &SrvRrset,
    ) -> TtlScope {
        let differs = current.ttls.iter().any(|ttl| *ttl != domain.ttl);
        if !differs || matches!(self.mode, Mode::Remove { .. }) {
            return state.scope.unwrap_or(TtlScope::Unknown);
        }
        if let Some(scope) = state.scope {
            return scope;
        }
        let read = self.exchange.ttl_scope(server, &self.target.zone);
        let scope = deadline::within(self.deadline, read)
            .await
            .unwrap_or(TtlScope::Unknown);
        say(|| format!("zone {}: {}", self.target.zone, scope.describe()));
        state.scope = Some(scope);
        scope
    }

    /// The plan for `domain` given its RRset as read.
    fn plan(&self, domain: &Domain, current: &SrvRrset, scope: TtlScope) -> Plan {
        let owns = |target: &Name| self.config.owns_target(target);
        match self.mode {
            Mode::Plan { set_ttl, prune } | Mode::Publish { set_ttl, prune } => {
                let wanted = (domain.ttl, *set_ttl);
                let plan = planner::publish(current, &domain.records, wanted, scope, owns);
                if *prune {
                    planner::prune(plan, |target| {
                        self.config.target_kind(target) == TargetKind::Unknown
                    })
                } else {
                    plan
                }
            }
            Mode::Remove { host, .. } => planner::remove(current, owns, host.as_ref()),
        }
    }

    /// Step 2: one UPDATE for the whole batch and the addresses, signed
    /// as the batch's first domain says.
    async fn send(
        &self,
        server: SocketAddr,
        batch: &[Planned],
        addresses: &[AddressChange],
        lead: usize,
    ) -> Sent {
        for planned in batch {
            if let Some(hook) = &self.hooks.before_update {
                hook(&self.config.domains[planned.index].name);
            }
        }
        let mut requests: Vec<UpdateRequest> = batch
            .iter()
            .map(|planned| {
                let owner = self.config.domains[planned.index].srv_name();
                update_request(&self.target.zone, &owner, &planned.current, &planned.plan)
            })
            .collect();
        requests.extend(addresses.iter().map(|change| change.request.clone()));
        let domain = &self.config.domains[lead];
        say(|| {
            let deletes: usize = requests.iter().map(|r| r.delete.len()).sum();
            let adds: usize = requests.iter().map(|r| r.add.len()).sum();
            let key = match (&domain.key, &domain.gss) {
                (Some(k), _) => format!("signed with key {}", k.name),
                (None, Some(gss)) => format!(
                    "signed with GSS-TSIG as Kerberos principal {}",
                    gss.principal_text()
                ),
                (None, None) => "unsigned".to_string(),
            };
            format!(
                "zone {}: sending one UPDATE to {server} for {} RRset(s) ({deletes} delete, {adds} add, {key})",
                self.target.zone,
                requests.len()
            )
        });
        self.exchange.send(server, &requests, domain).await.into()
    }

    /// Step 3: what the reply means for every domain of the batch.
    async fn judge(
        &self,
        state: &mut State,
        sent: Sent,
        server: SocketAddr,
        batch: Vec<Planned>,
        addresses: &[AddressChange],
        ttl: u32,
    ) -> Next {
        let address_outcome = match sent {
            Sent::Accepted => {
                self.verify_all(state, server, batch).await;
                self.addresses_served(addresses, server, ttl, |left| match left {
                    Ok(()) => Outcome::Applied,
                    Err(failure) => Outcome::Failed(failure),
                })
                .await
            }
            Sent::Conflict { retransmitted } if state.rereads < MAX_RETRIES => {
                return Next::Retry(self.conflict(state, retransmitted, batch));
            }
            Sent::Conflict { .. } => {
                self.kept_changing(state, batch);
                (!addresses.is_empty()).then_some(Outcome::Failed(Failure::AddressesKeptChanging))
            }
            Sent::Unknown(error) => {
                self.read_back(state, &error, batch).await;
                self.addresses_served(addresses, server, ttl, |left| match left {
                    Ok(()) => Outcome::Applied,
                    Err(_) => Outcome::Failed(Failure::AddressesUnknown(error.clone())),
                })
                .await
            }
            Sent::Failed(error) => {
                let software = self.exchange.identify(server, &self.target.zone).await;
                let carried = carried(&self.config.domains, &batch, addresses);
                for Planned { index, plan, .. } in batch {
                    let failed = self.update_failed(&error, index, software, &carried);
                    state
                        .done
                        .push(self.finish(state, index, Some(plan), failed, None));
                }
                let lead = lead(&[], &state.done);
                (!addresses.is_empty())
                    .then(|| self.update_failed(&error, lead, software, &carried))
            }
        };
        Next::Done(address_outcome)
    }

    /// Another host changed an RRset since we read it (or a retransmitted
    /// copy of ours found it already changed): the batch is read and
    /// planned again.
    fn conflict(&self, state: &mut State, retransmitted: bool, batch: Vec<Planned>) -> Vec<usize> {
        state.rereads += 1;
        state.maybe_applied.clear();
        if retransmitted {
            state.maybe_applied = batch.iter().map(|p| (p.index, p.plan.clone())).collect();
        } else {
            state.retries += 1;
        }
        say(|| {
            format!(
                "zone {}: the records changed since they were read; reading them again",
                self.target.zone
            )
        });
        batch.into_iter().map(|p| p.index).collect()
    }

    /// Every attempt failed its prerequisite: the batch fails.
    fn kept_changing(&self, state: &mut State, batch: Vec<Planned>) {
        for Planned { index, plan, .. } in batch {
            let failure = Failure::KeptChanging {
                domain: self.config.domains[index].name.clone(),
                attempts: MAX_RETRIES + 1,
            };
            let failed = Outcome::Failed(failure);
            state
                .done
                .push(self.finish(state, index, Some(plan), failed, None));
        }
    }

    /// After an accepted update, each domain's RRset read back.
    async fn verify_all(&self, state: &mut State, server: SocketAddr, batch: Vec<Planned>) {
        for Planned {
            index,
            plan,
            current,
        } in batch
        {
            let outcome = self.verify(index, server, &current, &plan).await;
            state
                .done
                .push(self.finish(state, index, Some(plan), outcome, None));
        }
    }

    /// The update may have been applied although no usable reply says so:
    /// each domain's RRset is read back, and counts as applied only if the
    /// primary serves the plan.
    async fn read_back(&self, state: &mut State, error: &Arc<UpdateError>, batch: Vec<Planned>) {
        let mut software = None;
        for Planned { index, plan, .. } in batch {
            let domain = &self.config.domains[index];
            let (outcome, note) = match self.read(&domain.srv_name()).await {
                Ok((_, after))
                    if self.serves(domain, &plan, &after) && ttls_as_sent(&plan, &after) =>
                {
                    (
                        Outcome::Applied,
                        Some(match **error {
                            UpdateError::Timeout { .. } => Note::ReplyLost,
                            _ => Note::NoUsableReply,
                        }),
                    )
                }
                _ => {
                    if software.is_none() {
                        if let Some(server) = self.target.primary.first() {
                            software = self.exchange.identify(*server, &self.target.zone).await;
                        }
                    }
                    (
                        self.update_failed(error, index, software, &Arc::from([])),
                        None,
                    )
                }
            };
            state
                .done
                .push(self.finish(state, index, Some(plan), outcome, note));
        }
    }

    /// Reads the RRset back after an accepted update: the primary must now
    /// serve what was planned, every record with the TTL the server's
    /// [`TtlScope`] gives it when the plan set one. An RRset exactly as it
    /// was before means nothing was applied (PowerDNS's NOERROR to what
    /// its Lua update policy refuses), not another host's change.
    async fn verify(
        &self,
        index: usize,
        server: SocketAddr,
        before: &SrvRrset,
        sent: &Plan,
    ) -> Outcome {
        let domain = &self.config.domains[index];
        match self.read(&domain.srv_name()).await {
            Ok((_, after)) if self.serves(domain, sent, &after) => {
                if ttls_as_sent(sent, &after) {
                    Outcome::Applied
                } else {
                    Outcome::Failed(Failure::TtlNotServed {
                        server,
                        ttls: after.ttls,
                        wanted: sent.ttl,
                    })
                }
            }
            Ok((_, after)) if unchanged(before, &after) => {
                let software = self.exchange.identify(server, &self.target.zone).await;
                Outcome::Failed(Failure::NothingApplied { server, software })
            }
            Ok(_) => Outcome::Failed(Failure::NotServed { server }),
            Err(problem) => Outcome::Failed(Failure::ReadBack(problem)),
        }
    }

    /// Whether `after`, read back after `sent`, holds the records planned
    /// (whatever their TTLs: see [`ttls_as_sent`]).
    fn serves(&self, domain: &Domain, sent: &Plan, after: &SrvRrset) -> bool {
        let scope = shown_scope(sent, after);
        let again = self.plan(domain, after, scope);
        !again.changes.iter().any(Change::is_change)
    }

    /// After an update with addresses: `judged` says what it means that
    /// none is left to add (`Ok`), or what is.
    async fn addresses_served(
        &self,
        addresses: &[AddressChange],
        server: SocketAddr,
        ttl: u32,
        judged: impl FnOnce(Result<(), Failure>) -> Outcome,
    ) -> Option<Outcome> {
        if addresses.is_empty() {
            return None;
        }
        Some(judged(match self.address_changes(server, ttl).await {
            Ok(left) if left.is_empty() => Ok(()),
            Ok(_) => Err(Failure::AddressesNotServed { server }),
            Err(failure) => Err(failure),
        }))
    }

    fn update_failed(
        &self,
        error: &Arc<UpdateError>,
        index: usize,
        software: Option<crate::dns::identify::Software>,
        carried: &Arc<[Carried]>,
    ) -> Outcome {
        Outcome::Failed(Failure::Update {
            error: error.clone(),
            domain: self.config.domains[index].name.clone(),
            software,
            carried: Arc::clone(carried),
        })
    }

    /// Reads the RRset from the first primary address that answers.
    async fn read(&self, owner: &Name) -> Result<(SocketAddr, SrvRrset), ReadProblem> {
        let mut problem = ReadProblem::NoAddress;
        for server in &self.target.primary {
            match self.exchange.read_srv(*server, owner).await {
                Ok(current) => return Ok((*server, current)),
                Err(error) => problem = ReadProblem::Failed(Arc::new(error)),
            }
        }
        Err(problem)
    }

    /// The A/AAAA records of configured hosts inside the zone that the
    /// primary does not serve yet: one request per RRset (guarded by the
    /// RRset as read), with its lines for the report. Never deletes.
    async fn address_changes(
        &self,
        server: SocketAddr,
        ttl: u32,
    ) -> Result<Vec<AddressChange>, Failure> {
        let mut changes = Vec::new();
        for host in self.config.hosts.iter().filter(|h| h.managed) {
            if !self.target.zone.zone_of(&host.name) {
                continue;
            }
            for rtype in [RecordType::A, RecordType::AAAA] {
                let wanted = wanted_addresses(host, rtype);
                if wanted.is_empty() {
                    continue;
                }
                let read = self.exchange.read_records(server, &host.name, rtype).await;
                let records = read.map_err(|reason| Failure::AddressRead {
                    host: host.name.clone(),
                    rtype,
                    server,
                    reason: Arc::new(reason),
                })?;
                changes.extend(self.address_change(&host.name, rtype, &records, wanted, ttl));
            }
        }
        Ok(changes)
    }

    /// The request adding what of `wanted` the RRset `records` lacks.
    fn address_change(
        &self,
        host: &Name,
        rtype: RecordType,
        records: &[Record],
        wanted: Vec<RData>,
        ttl: u32,
    ) -> Option<AddressChange> {
        let rrset_ttl = records.iter().map(Record::ttl).min().unwrap_or(ttl);
        let current: Vec<RData> = records.iter().map(|r| r.data().clone()).collect();
        let missing: Vec<RData> = wanted
            .into_iter()
            .filter(|w| !current.contains(w))
            .collect();
        if missing.is_empty() {
            return None;
        }
        let lines = missing
            .iter()
            .map(|rdata| format!("{} {rrset_ttl} IN {rtype} {rdata}", host.to_ascii()))
            .collect();
        let request = UpdateRequest {
            zone: self.target.zone.clone(),
            name: host.clone(),
            expected: Expected::Records {
                rtype,
                data: current,
            },
            delete: Vec::new(),
            add: missing
                .into_iter()
                .map(|rdata| Record::from_rdata(host.clone(), rrset_ttl, rdata))
                .collect(),
        };
        Some(AddressChange { request, lines })
    }

    /// A domain's result, with the retries counted so far.
    fn finish(
        &self,
        state: &State,
        index: usize,
        plan: Option<Plan>,
        outcome: Outcome,
        note: Option<Note>,
    ) -> (usize, DomainOutcome) {
        let domain = &self.config.domains[index];
        (
            index,
            DomainOutcome {
                domain: domain.name.clone(),
                target: Some(self.target.clone()),
                plan,
                outcome,
                retries: state.retries,
                note,
                addresses: Vec::new(),
                signer: signer(domain, &self.target.primary),
            },
        )
    }
}

/// Who signs `domain`'s updates: its key, or the principal of the context
/// negotiated with one of `servers` (else the configured principal).
fn signer(domain: &crate::config::Domain, servers: &[SocketAddr]) -> Option<super::Signer> {
    if let Some(key) = &domain.key {
        return Some(super::Signer::Key(
            key.name.to_ascii().trim_end_matches('.').to_string(),
        ));
    }
    let gss = domain.gss.as_deref()?;
    #[cfg(feature = "gssapi")]
    if let Some(principal) = servers
        .iter()
        .find_map(|server| crate::dns::gss::negotiated_principal(*server, gss))
    {
        return Some(super::Signer::Principal(principal));
    }
    #[cfg(not(feature = "gssapi"))]
    let _ = servers;
    gss.principal.clone().map(super::Signer::Principal)
}

/// Whether the RRset read back is exactly the one read before the update:
/// the same records, each with the same TTL.
fn unchanged(before: &SrvRrset, after: &SrvRrset) -> bool {
    let served = |rrset: &SrvRrset| -> std::collections::BTreeSet<(String, u32)> {
        rrset
            .records
            .iter()
            .zip(&rrset.record_ttls)
            .map(|(record, ttl)| (crate::dns::record_key(record), *ttl))
            .collect()
    };
    served(before) == served(after)
}

/// What the server keeps a TTL for, as `after` shows it once `sent` was
/// applied: when it was not known before, an add that left another
/// host's record at a TTL of its own shows TTLs per record (AD), one that
/// did not shows them per RRset.
fn shown_scope(sent: &Plan, after: &SrvRrset) -> TtlScope {
    if sent.scope != TtlScope::Unknown || sent.adds().is_empty() {
        return sent.scope;
    }
    let kept_own = foreign(sent).any(|r| after.ttl_of(r).is_some_and(|ttl| ttl != sent.ttl));
    if kept_own {
        TtlScope::Record
    } else {
        TtlScope::Rrset
    }
}

/// Whether the TTLs of `after` are those `sent` leads to on its server:
/// one TTL for the whole RRset, the new one when `sent` set it; or, where
/// TTLs are per record, ours at the new one when `sent` set it and other
/// hosts' records at their own as read.
fn ttls_as_sent(sent: &Plan, after: &SrvRrset) -> bool {
    match shown_scope(sent, after) {
        TtlScope::Rrset => {
            (!sent.sets_ttl() || after.ttls.iter().all(|t| *t == sent.ttl)) && !after.mixed_ttls()
        }
        TtlScope::Record => after
            .records
            .iter()
            .zip(&after.record_ttls)
            .all(|(r, ttl)| {
                if foreign(sent).any(|f| f == r) {
                    Some(*ttl) == sent.read.ttl_of(r)
                } else {
                    !sent.sets_ttl() || *ttl == sent.ttl
                }
            }),
        TtlScope::Unknown => true,
    }
}

/// The other hosts' records a plan leaves alone.
fn foreign(plan: &Plan) -> impl Iterator<Item = &crate::config::SrvRecord> {
    plan.changes.iter().filter_map(|c| match c {
        Change::Foreign(r) => Some(r),
        _ => None,
    })
}

/// The configured addresses of `host` of type `rtype`.
fn wanted_addresses(host: &KmsHost, rtype: RecordType) -> Vec<RData> {
    host.addresses
        .iter()
        .filter_map(|ip| match (ip, rtype) {
            (IpAddr::V4(v4), RecordType::A) => Some(RData::A((*v4).into())),
            (IpAddr::V6(v6), RecordType::AAAA) => Some(RData::AAAA((*v6).into())),
            _ => None,
        })
        .collect()
}

/// A domain of the group to take the TTL and key from: the first one
/// being changed, else the first one done.
fn lead(batch: &[Planned], done: &[(usize, DomainOutcome)]) -> usize {
    batch
        .first()
        .map(|planned| planned.index)
        .or_else(|| done.first().map(|(index, _)| *index))
        .unwrap_or_default()
}

/// Whether the update may have been applied although no usable reply
/// says so: nothing came back, the reply could not be read or verified, or
/// the connection broke after the request went out. A server's own verified
/// error rcode (REFUSED, SERVFAIL…) means it applied nothing (RFC 2136
/// §3.8: the update is atomic). A TSIG rejection (NOTAUTH with BADSIG,
/// BADKEY, BADTIME or an empty MAC) cannot be signed with our key, so
/// anyone who saw the request could have sent it: it is read back too,
/// and reported as the server's word only when the zone is unchanged.
///
/// A GSS-TSIG refusal that came as an unsigned echo of the request (Samba)
/// is read back for the same reason.
fn outcome_unknown(error: &UpdateError) -> bool {
    #[cfg(feature = "gssapi")]
    if matches!(
        error,
        UpdateError::Gss(crate::dns::gss::GssError::Denied { .. })
    ) {
        return true;
    }
    matches!(
        error,
        UpdateError::Timeout { .. }
            | UpdateError::Malformed { .. }
            | UpdateError::BadResponseSignature { .. }
            | UpdateError::NotAuth { .. }
            | UpdateError::Io { .. }
            | UpdateError::Unreachable { .. }
    )
}

/// Every RRset an UPDATE carried, in its order: a server that refuses it
/// whole (BIND's REFUSED) does not say which one it would not take.
fn carried(domains: &[Domain], batch: &[Planned], addresses: &[AddressChange]) -> Arc<[Carried]> {
    let srv = batch.iter().map(|planned| Carried {
        owner: domains[planned.index].srv_name(),
        types: vec![RecordType::SRV],
    });
    let hosts = addresses.iter().map(|change| {
        let mut types: Vec<RecordType> =
            change.request.add.iter().map(Record::record_type).collect();
        types.dedup();
        Carried {
            owner: change.request.name.clone(),
            types,
        }
    });
    srv.chain(hosts).collect()
}
