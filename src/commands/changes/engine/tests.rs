//! The safety rules of DESIGN §7, each against a scripted primary: no
//! BIND, no network. [`Primary`] is a tiny RFC 2136 server: it keeps one
//! zone's `_vlmcs._tcp` RRsets, checks each UPDATE's prerequisites
//! against them (NXRRSET / YXRRSET when they differ), applies it
//! atomically, and follows a script for what else happens around each
//! UPDATE (another host's change, a lost reply, a refusal). The BIND
//! integration tests (`tests/publish.rs`, `tests/faults.rs`) prove the
//! same against a real server.

// The scripted server answers with `UpdateError`s, large as they are in
// `dns` (hickory `Name`s as context).
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::commands::changes::planner::TtlScope;
use crate::config::{self, Domain};
use crate::dns::{
    DiscoveryError, PrerequisiteRcode, ReadError, ReadFailure, UpdateError, UpdateRequest,
};

const PRIMARY: &str = "192.0.2.53:53";

/// The domain's outcome matches `pattern`, or the test shows it.
macro_rules! assert_outcome {
    ($done:expr, $pattern:pat) => {
        assert!(matches!($done.outcome, $pattern), "{:?}", $done.outcome)
    };
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn srv(port: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority: 0,
        weight: 0,
        port,
        target: name(target),
    }
}

/// What happens around one UPDATE.
#[derive(Debug, Clone)]
enum Step {
    /// Check the prerequisites, apply, answer NOERROR.
    Apply,
    /// Another host adds this record to every RRset just before the
    /// UPDATE arrives.
    OtherHostAdds(SrvRecord),
    /// Applied; then another host adds this record with this TTL of its
    /// own, before the read-back; the reply is lost if the flag says so.
    OtherHostAddsAfter(SrvRecord, u32, bool),
    /// Applied, but the TTLs stay as they were: a server that takes the
    /// records and not the TTL.
    KeepsTtls,
    /// Applied, but the reply never comes.
    ReplyLost,
    /// Neither the UPDATE nor a reply arrives.
    RequestLost,
    /// The first copy is applied and its reply lost; the retransmitted copy
    /// fails its prerequisite.
    RetransmissionConflicts,
    /// REFUSED: nothing applied.
    Refuse,
    /// REFUSED to an UPDATE signed with key `kmsdns-corp.`.
    RefuseSigned,
    /// Samba's access denied to a principal that does not own the name:
    /// an unsigned echo of the request with SERVFAIL; nothing applied.
    #[cfg(feature = "gssapi")]
    DenyOwnership,
}

/// What the engine asked, in order.
#[derive(Debug, Clone, PartialEq)]
enum Asked {
    Read(Name),
    Update(Vec<UpdateRequest>),
}

/// A scripted primary for the zone `corp.example.`.
struct Primary {
    zone: Name,
    ttl: u32,
    /// Each record's TTL where it is not `ttl`, by [`crate::dns::record_key`].
    record_ttls: Mutex<HashMap<String, u32>>,
    /// Whether an add sets only its own record's TTL (AD) rather than the
    /// whole RRset's (RFC 2136 §3.4.2.2).
    ttl_per_record: bool,
    /// What it is found to keep a TTL for ([`Exchange::ttl_scope`]).
    scope: TtlScope,
    rrsets: Mutex<Vec<(Name, Vec<SrvRecord>)>>,
    /// One step per UPDATE; [`Step::Apply`] once it runs out.
    script: Mutex<VecDeque<Step>>,
    asked: Mutex<Vec<Asked>>,
    /// For each read, whether it ran inside `dns::asking_again` (neither
    /// skipped nor remembered by the run's memory of silent servers).
    asked_again: Mutex<Vec<bool>>,
    /// The types of the other RRsets at the `_vlmcs._tcp` name.
    others: Vec<RecordType>,
    /// What the server says it is.
    software: Option<crate::dns::identify::Software>,
    /// How long each read and each UPDATE takes (on tokio's clock).
    read_time: Duration,
    update_time: Duration,
    /// How long each read takes once an UPDATE has been sent.
    read_time_after_update: Duration,
    /// How long each read of a host's A or AAAA RRset takes.
    address_read_time: Duration,
    /// Zones cut below `zone` or beside it: a domain is in the longest
    /// of them (or `zone`) that holds its `_vlmcs._tcp` name.
    zones: Vec<Name>,
    /// How long finding a domain's zone takes.
    find_time: Duration,
    lookups: Mutex<Lookups>,
}

/// The zone lookups the engine made.
#[derive(Default)]
struct Lookups {
    /// Each domain looked up, in the order asked.
    domains: Vec<Name>,
    in_flight: usize,
    /// The most lookups in flight at once.
    most: usize,
}

impl Primary {
    fn new(records: &[SrvRecord], script: &[Step]) -> Self {
        Primary {
            zone: name("corp.example."),
            ttl: 3600,
            record_ttls: Mutex::new(HashMap::new()),
            ttl_per_record: false,
            scope: TtlScope::Rrset,
            rrsets: Mutex::new(vec![(owner(), records.to_vec())]),
            script: Mutex::new(script.iter().cloned().collect()),
            asked: Mutex::new(Vec::new()),
            asked_again: Mutex::new(Vec::new()),
            others: Vec::new(),
            software: None,
            read_time: Duration::ZERO,
            update_time: Duration::ZERO,
            read_time_after_update: Duration::ZERO,
            address_read_time: Duration::ZERO,
            zones: Vec::new(),
            find_time: Duration::ZERO,
            lookups: Mutex::new(Lookups::default()),
        }
    }

    /// Reads and UPDATEs that take this long.
    fn slow(mut self, read_time: Duration, update_time: Duration) -> Self {
        self.read_time = read_time;
        self.update_time = update_time;
        self
    }

    /// A server keeping a TTL per record (`per_record`, AD) or per RRset,
    /// found to be `scope`, serving `records` with their TTLs.
    fn with_ttls(records: &[(SrvRecord, u32)], per_record: bool, scope: TtlScope) -> Self {
        let plain: Vec<SrvRecord> = records.iter().map(|(r, _)| r.clone()).collect();
        let primary = Primary {
            ttl_per_record: per_record,
            scope,
            ..Primary::new(&plain, &[])
        };
        let mut ttls = primary.record_ttls.lock().unwrap();
        for (record, ttl) in records {
            ttls.insert(crate::dns::record_key(record), *ttl);
        }
        drop(ttls);
        primary
    }

    /// The TTL `record` is served with.
    fn ttl_of(&self, record: &SrvRecord) -> u32 {
        let ttls = self.record_ttls.lock().unwrap();
        ttls.get(&crate::dns::record_key(record))
            .copied()
            .unwrap_or(self.ttl)
    }

    /// The records of `_vlmcs._tcp.corp.example.` with their TTLs, sorted.
    fn served(&self) -> Vec<String> {
        let mut served: Vec<String> = self
            .records()
            .iter()
            .map(|r| format!("{} {r}", self.ttl_of(r)))
            .collect();
        served.sort();
        served
    }

    fn server() -> SocketAddr {
        PRIMARY.parse().unwrap()
    }

    /// The records the zone now holds at `_vlmcs._tcp.corp.example.`.
    fn records(&self) -> Vec<SrvRecord> {
        self.rrset(&owner())
    }

    fn rrset(&self, owner: &Name) -> Vec<SrvRecord> {
        let rrsets = self.rrsets.lock().unwrap();
        rrsets
            .iter()
            .find(|(name, _)| name == owner)
            .map(|(_, records)| records.clone())
            .unwrap_or_default()
    }

    fn updates(&self) -> Vec<Vec<UpdateRequest>> {
        let asked = self.asked.lock().unwrap();
        asked
            .iter()
            .filter_map(|a| match a {
                Asked::Update(requests) => Some(requests.clone()),
                Asked::Read(_) => None,
            })
            .collect()
    }

    fn reads(&self) -> usize {
        let asked = self.asked.lock().unwrap();
        asked.iter().filter(|a| matches!(a, Asked::Read(_))).count()
    }

    /// RFC 2136 §3.2: every prerequisite holds, or the rcode that says
    /// which does not.
    fn prerequisites(&self, requests: &[UpdateRequest]) -> Result<(), PrerequisiteRcode> {
        for request in requests {
            let now: Vec<RData> = self.rrset(&request.name).iter().map(rdata).collect();
            let holds = |want: &[SRV]| {
                want.len() == now.len() && want.iter().all(|r| now.contains(&RData::SRV(r.clone())))
            };
            match &request.expected {
                Expected::Absent if !now.is_empty() => return Err(PrerequisiteRcode::YxRrset),
                Expected::Exactly(want) if !holds(want) => return Err(PrerequisiteRcode::NxRrset),
                _ => {}
            }
        }
        Ok(())
    }

    /// RFC 2136 §3.4: deletes by exact RDATA, then adds, all at once.
    fn apply(&self, requests: &[UpdateRequest]) {
        self.apply_keeping(requests, false);
    }

    /// The same, the TTLs left as they were if `keep_ttls`.
    fn apply_keeping(&self, requests: &[UpdateRequest], keep_ttls: bool) {
        let mut rrsets = self.rrsets.lock().unwrap();
        for request in requests {
            let at = match rrsets.iter().position(|(n, _)| *n == request.name) {
                Some(at) => at,
                None => {
                    rrsets.push((request.name.clone(), Vec::new()));
                    rrsets.len() - 1
                }
            };
            let records = &mut rrsets[at].1;
            for delete in &request.delete {
                records.retain(|r| rdata(r) != *delete.data());
            }
            for add in &request.add {
                if let RData::SRV(s) = add.data() {
                    let record = SrvRecord {
                        priority: s.priority(),
                        weight: s.weight(),
                        port: s.port(),
                        target: s.target().clone(),
                    };
                    let mut ttls = self.record_ttls.lock().unwrap();
                    let given: Vec<&SrvRecord> = match (keep_ttls, self.ttl_per_record) {
                        (true, _) => Vec::new(),
                        (false, true) => vec![&record],
                        (false, false) => records.iter().chain([&record]).collect(),
                    };
                    for held in given {
                        ttls.insert(crate::dns::record_key(held), add.ttl());
                    }
                    if !records.contains(&record) {
                        records.push(record);
                    }
                }
            }
        }
    }

    fn other_host_adds(&self, record: &SrvRecord) {
        let mut rrsets = self.rrsets.lock().unwrap();
        for (_, records) in rrsets.iter_mut() {
            records.push(record.clone());
        }
    }

    fn conflict(&self, rcode: PrerequisiteRcode, retransmitted: bool) -> UpdateError {
        UpdateError::PrerequisiteFailed {
            server: Primary::server(),
            zone: self.zone.clone(),
            name: owner(),
            rcode,
            retransmitted,
        }
    }

    fn timeout(&self) -> UpdateError {
        UpdateError::Timeout {
            server: Primary::server(),
            zone: self.zone.clone(),
            attempts: 3,
        }
    }
}

fn owner() -> Name {
    name("_vlmcs._tcp.corp.example.")
}

fn rdata(record: &SrvRecord) -> RData {
    RData::SRV(srv_rdata(record))
}

impl Exchange for Primary {
    async fn find_target(&self, domain: &Domain) -> Result<Target, DiscoveryError> {
        {
            let mut lookups = self.lookups.lock().unwrap();
            lookups.domains.push(domain.name.clone());
            lookups.in_flight += 1;
            lookups.most = lookups.most.max(lookups.in_flight);
        }
        tokio::time::sleep(self.find_time).await;
        self.lookups.lock().unwrap().in_flight -= 1;
        let owner = domain.srv_name();
        let zone = self
            .zones
            .iter()
            .filter(|zone| zone.zone_of(&owner))
            .max_by_key(|zone| zone.num_labels())
            .unwrap_or(&self.zone);
        Ok(Target {
            zone: zone.clone(),
            primary: vec![Primary::server()],
        })
    }

    async fn read_srv(&self, _server: SocketAddr, owner: &Name) -> Result<SrvRrset, ReadError> {
        self.asked.lock().unwrap().push(Asked::Read(owner.clone()));
        let again = crate::dns::asks_again();
        self.asked_again.lock().unwrap().push(again);
        let after_update = !self.updates().is_empty();
        tokio::time::sleep(if after_update {
            self.read_time_after_update
        } else {
            self.read_time
        })
        .await;
        let records = self.rrset(owner);
        Ok(SrvRrset::served(
            records
                .into_iter()
                .map(|r| {
                    let ttl = self.ttl_of(&r);
                    (r, ttl)
                })
                .collect(),
        ))
    }

    async fn ttl_scope(&self, _server: SocketAddr, _zone: &Name) -> TtlScope {
        self.scope
    }

    async fn identify(
        &self,
        _server: SocketAddr,
        _zone: &Name,
    ) -> Option<crate::dns::identify::Software> {
        self.software
    }

    async fn read_records(
        &self,
        _server: SocketAddr,
        _name: &Name,
        _rtype: RecordType,
    ) -> Result<Vec<Record>, ReadFailure> {
        tokio::time::sleep(self.address_read_time).await;
        Ok(Vec::new())
    }

    async fn types_at(
        &self,
        _server: SocketAddr,
        name: &Name,
    ) -> Result<Vec<RecordType>, ReadFailure> {
        let mut types = self.others.clone();
        if !self.rrset(name).is_empty() {
            types.push(RecordType::SRV);
        }
        Ok(types)
    }

    async fn send(
        &self,
        _server: SocketAddr,
        requests: &[UpdateRequest],
        _domain: &Domain,
    ) -> Result<(), UpdateError> {
        self.asked
            .lock()
            .unwrap()
            .push(Asked::Update(requests.to_vec()));
        tokio::time::sleep(self.update_time).await;
        let step = self.script.lock().unwrap().pop_front();
        let checked_and_applied = || {
            self.prerequisites(requests)
                .map(|()| self.apply(requests))
                .map_err(|rcode| self.conflict(rcode, false))
        };
        match step.unwrap_or(Step::Apply) {
            Step::Apply => checked_and_applied(),
            Step::OtherHostAdds(record) => {
                self.other_host_adds(&record);
                checked_and_applied()
            }
            Step::OtherHostAddsAfter(record, ttl, reply_lost) => {
                checked_and_applied()?;
                self.other_host_adds(&record);
                let key = crate::dns::record_key(&record);
                self.record_ttls.lock().unwrap().insert(key, ttl);
                if reply_lost {
                    Err(self.timeout())
                } else {
                    Ok(())
                }
            }
            Step::KeepsTtls => self
                .prerequisites(requests)
                .map(|()| self.apply_keeping(requests, true))
                .map_err(|rcode| self.conflict(rcode, false)),
            Step::ReplyLost => checked_and_applied().and(Err(self.timeout())),
            Step::RequestLost => Err(self.timeout()),
            Step::RetransmissionConflicts => {
                checked_and_applied()?;
                let rcode = self.prerequisites(requests).err();
                Err(self.conflict(rcode.unwrap_or(PrerequisiteRcode::NxRrset), true))
            }
            Step::Refuse => Err(UpdateError::Refused {
                server: Primary::server(),
                zone: self.zone.clone(),
                name: owner(),
                signed: false,
                key: None,
            }),
            Step::RefuseSigned => Err(UpdateError::Refused {
                server: Primary::server(),
                zone: self.zone.clone(),
                name: owner(),
                signed: true,
                key: Some(name("kmsdns-corp.")),
            }),
            #[cfg(feature = "gssapi")]
            Step::DenyOwnership => Err(UpdateError::Gss(crate::dns::gss::GssError::Denied {
                server: Primary::server(),
                zone: self.zone.clone(),
                name: owner(),
                principal: "KMS2$@CORP.EXAMPLE".to_owned(),
                rcode: "SERVFAIL".to_owned(),
                name_exists: true,
            })),
        }
    }
}

/// kms1 and kms2 are ours; kms9 belongs to someone else.
fn config() -> Config {
    config_with("")
}

/// `config()` with `extra` appended to its file.
fn config_with(extra: &str) -> Config {
    config::parse(
        &format!(
            r#"
publish-list = ["corp.example"]

[[host]]
name = "kms1.corp.example"

[[host]]
name = "kms2.corp.example"
{extra}"#
        ),
        Path::new("/nonexistent/kmsdns.toml"),
    )
    .unwrap()
}

fn ours() -> Vec<SrvRecord> {
    config().domains[0].records.to_vec()
}

fn foreign() -> SrvRecord {
    srv(1688, "kms9.corp.example.")
}

/// The engine's `--deadline`.
const DEADLINE: Duration = Duration::from_secs(15);

fn engine() -> Engine {
    let opts = DnsOptions::default();
    Engine {
        opts,
        resolver: Resolver::with_nameserver(Primary::server(), &opts),
        hooks: Hooks::default(),
        concurrency: 1,
        publish_addresses: false,
        deadline: DEADLINE,
    }
}

const PUBLISH: Mode = Mode::Publish {
    set_ttl: false,
    prune: false,
};
const PRUNE: Mode = Mode::Publish {
    set_ttl: false,
    prune: true,
};

fn remove(force: bool) -> Mode {
    Mode::Remove { force, host: None }
}

/// Runs `mode` against `primary` and returns the one domain's outcome.
fn run(primary: &Primary, mode: &Mode) -> DomainOutcome {
    run_config(primary, mode, &config())
}

/// The same with another configuration.
fn run_config(primary: &Primary, mode: &Mode, config: &Config) -> DomainOutcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut outcomes = runtime.block_on(engine().run_with(primary, config, mode));
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

fn sorted(mut records: Vec<SrvRecord>) -> Vec<String> {
    let mut keys: Vec<String> = records
        .drain(..)
        .map(|r| crate::dns::record_key(&r))
        .collect();
    keys.sort();
    keys
}

/// Rule: a concurrent change is detected by the prerequisite (NXRRSET on
/// an RRset that had records), re-read and retried, never overwritten.
#[test]
fn a_failed_prerequisite_on_a_changed_rrset_is_reread_and_retried() {
    let other = srv(1688, "kms8.corp.example.");
    let primary = Primary::new(&[foreign()], &[Step::OtherHostAdds(other.clone())]);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(done.retries, 1);
    let updates = primary.updates();
    assert_eq!(updates.len(), 2, "one retry");
    // The retry's prerequisite is the RRset as re-read: the other host's
    // record included.
    let Expected::Exactly(expected) = &updates[1][0].expected else {
        panic!("{:?}", updates[1][0].expected);
    };
    assert!(expected.contains(&srv_rdata(&other)));
    let mut want = ours();
    want.extend([foreign(), other]);
    assert_eq!(sorted(primary.records()), sorted(want));
}

/// The same when the RRset did not exist: YXRRSET, re-read, retried.
#[test]
fn a_failed_prerequisite_on_an_absent_rrset_is_reread_and_retried() {
    let other = srv(1688, "kms8.corp.example.");
    let primary = Primary::new(&[], &[Step::OtherHostAdds(other.clone())]);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(done.retries, 1);
    let updates = primary.updates();
    assert_eq!(updates[0][0].expected, Expected::Absent);
    assert!(matches!(updates[1][0].expected, Expected::Exactly(_)));
    let mut want = ours();
    want.push(other);
    assert_eq!(sorted(primary.records()), sorted(want));
}

/// The loop is bounded: MAX_RETRIES re-reads, then a failure that says
/// the records kept changing, and the other hosts' records all survive.
#[test]
fn retries_are_bounded_by_max_retries() {
    let script: Vec<Step> = (0..10)
        .map(|n| Step::OtherHostAdds(srv(2000 + n, "kms8.corp.example.")))
        .collect();
    let primary = Primary::new(&[foreign()], &script);
    let done = run(&primary, &PUBLISH);
    let attempts = MAX_RETRIES + 1;
    assert!(
        matches!(
            &done.outcome,
            Outcome::Failed(Failure::KeptChanging { attempts: a, .. }) if *a == attempts
        ),
        "{:?}",
        done.outcome
    );
    assert_eq!(primary.updates().len(), attempts as usize);
    assert_eq!(done.retries, MAX_RETRIES);
    assert!(ours().iter().all(|r| !primary.records().contains(r)));
    assert_eq!(primary.records().len(), 1 + attempts as usize);
}

/// Rule: an UPDATE whose reply is lost may have been applied: the RRset
/// is read back, and it counts as applied because the primary serves it.
#[test]
fn a_lost_reply_is_read_back_and_the_change_found() {
    let primary = Primary::new(&[foreign()], &[Step::ReplyLost]);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(done.note, Some(Note::ReplyLost));
    assert_eq!(primary.updates().len(), 1, "not sent again");
    assert_eq!(primary.reads(), 2, "read, then read back");
}

/// Rule: every read after an UPDATE (the verification of an accepted
/// one, the read-back of an unanswered one, the re-read after a failed
/// prerequisite) says what it did, so none is skipped for a silence seen
/// earlier in the run; the reads before it are.
#[test]
fn reads_after_an_update_are_never_skipped_as_silent() {
    for (step, reads) in [
        (Step::Apply, 2),
        (Step::ReplyLost, 2),
        (Step::RequestLost, 2),
        (Step::RetransmissionConflicts, 2),
        (Step::OtherHostAdds(srv(1688, "kms9.corp.example.")), 3),
    ] {
        let primary = Primary::new(&[foreign()], std::slice::from_ref(&step));
        run(&primary, &PUBLISH);
        let asked_again = primary.asked_again.lock().unwrap().clone();
        let mut want = vec![true; reads];
        want[0] = false;
        assert_eq!(asked_again, want, "{step:?}");
    }
}

/// When the read-back shows the change was not made, the failure is
/// reported as what it was (a timeout), and nothing is sent again.
#[test]
fn a_lost_request_is_read_back_and_reported_failed() {
    let primary = Primary::new(&[foreign()], &[Step::RequestLost]);
    let done = run(&primary, &PUBLISH);
    match &done.outcome {
        Outcome::Failed(failure @ Failure::Update { error, .. }) => {
            assert!(matches!(**error, UpdateError::Timeout { .. }));
            assert!(failure.hint().unwrap().contains("reachable"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(done.note, None);
    assert_eq!(primary.updates().len(), 1);
    assert_eq!(primary.reads(), 2, "read, then read back");
    assert_eq!(primary.records(), [foreign()], "the zone as it was");
}

/// A retransmitted copy that fails its prerequisite because the first
/// copy was applied: the re-read finds nothing left to do, and the change
/// is reported applied once, not as another host's.
#[test]
fn a_retransmission_that_finds_its_own_change_is_applied_once() {
    let primary = Primary::new(&[foreign()], &[Step::RetransmissionConflicts]);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(done.note, Some(Note::RetransmissionFoundItDone));
    assert_eq!(done.retries, 0, "no other host was involved");
    assert_eq!(primary.updates().len(), 1);
}

/// Rule: only our records change. Another host's record is in no delete
/// (neither by publish nor by remove) and survives both.
#[test]
fn a_foreign_record_is_never_touched() {
    let stale = srv(11688, "kms1.corp.example.");
    let primary = Primary::new(&[foreign(), stale.clone()], &[]);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    let deleted: Vec<RData> = primary.updates()[0][0]
        .delete
        .iter()
        .map(|r| r.data().clone())
        .collect();
    assert_eq!(deleted, [rdata(&stale)], "only our stale record");
    assert!(primary.records().contains(&foreign()));

    let done = run(&primary, &remove(false));
    assert_outcome!(done, Outcome::Applied);
    let removal = &primary.updates()[1][0];
    assert!(removal
        .delete
        .iter()
        .all(|r| *r.data() != rdata(&foreign())));
    assert_eq!(removal.delete.len(), ours().len());
    assert_eq!(primary.records(), [foreign()]);
}

/// Rule: removing the last KMS record of a domain is refused without
/// --force (every client there would fail to activate); nothing is sent.
/// The Windows error named is the one the name would give: NXDOMAIN
/// (0x8007232B) when nothing else is at it.
#[test]
fn removing_the_last_record_is_braked() {
    let primary = Primary::new(&ours(), &[]);
    let done = run(&primary, &remove(false));
    match &done.outcome {
        Outcome::Refused(refusal @ Refusal::LastRecord { domain, after }) => {
            assert_eq!(*domain, name("corp.example."));
            assert_eq!(*after, NameAfter::Gone);
            assert!(refusal.to_string().contains("0x8007232B"), "{refusal}");
            assert!(!refusal.to_string().contains("0x8007251D"), "{refusal}");
            assert!(refusal.hint().contains("--force"));
        }
        other => panic!("{other:?}"),
    }
    assert!(primary.updates().is_empty(), "nothing sent");
    assert_eq!(sorted(primary.records()), sorted(ours()));

    let done = run(&primary, &remove(true));
    assert_outcome!(done, Outcome::Applied);
    assert!(primary.records().is_empty());
}

/// With another RRset at the name (a TXT), the SRV query would be NODATA:
/// 0x8007251D.
#[test]
fn the_last_record_brake_names_nodata_when_the_name_stays() {
    let mut primary = Primary::new(&ours(), &[]);
    primary.others = vec![RecordType::TXT];
    let done = run(&primary, &remove(false));
    match &done.outcome {
        Outcome::Refused(refusal @ Refusal::LastRecord { after, .. }) => {
            assert_eq!(*after, NameAfter::Stays(vec![RecordType::TXT]));
            assert!(refusal.to_string().contains("0x8007251D"), "{refusal}");
            assert!(!refusal.to_string().contains("0x8007232B"), "{refusal}");
            assert!(refusal.to_string().contains("TXT"), "{refusal}");
        }
        other => panic!("{other:?}"),
    }
    assert!(primary.updates().is_empty(), "nothing sent");
}

/// kms1 and kms2 are ours, other-team is known but not managed, and the
/// list is complete: `--prune` may delete what no [[host]] names.
fn complete_config() -> Config {
    config::parse(
        r#"
complete = true
publish-list = ["corp.example"]

[[host]]
name = "kms1.corp.example"

[[host]]
name = "kms2.corp.example"

[[host]]
name = "other-team.corp.example"
managed = false
"#,
        Path::new("/nonexistent/kmsdns.toml"),
    )
    .unwrap()
}

/// Rule: `--prune` deletes the records of unknown targets in the same
/// UPDATE as our adds, under the same prerequisite (the RRset as read),
/// and never a `managed = false` host's.
#[test]
fn prune_deletes_unknown_targets_in_the_same_guarded_update() {
    let stale = srv(1688, "stale.corp.example.");
    let other_team = srv(1688, "other-team.corp.example.");
    let primary = Primary::new(&[stale.clone(), other_team.clone()], &[]);
    let done = run_config(&primary, &PRUNE, &complete_config());
    assert_outcome!(done, Outcome::Applied);
    let updates = primary.updates();
    assert_eq!(updates.len(), 1, "one UPDATE");
    assert_eq!(updates[0].len(), 1, "one RRset");
    let request = &updates[0][0];
    let Expected::Exactly(expected) = &request.expected else {
        panic!("{:?}", request.expected);
    };
    assert_eq!(expected.len(), 2, "the RRset as read is the prerequisite");
    assert_eq!(request.delete.len(), 1);
    assert_eq!(*request.delete[0].data(), rdata(&stale));
    assert_eq!(request.add.len(), 2);
    let mut want = ours();
    want.push(other_team);
    assert_eq!(sorted(primary.records()), sorted(want));

    // Without --prune the stale record stays.
    let primary = Primary::new(std::slice::from_ref(&stale), &[]);
    run_config(&primary, &PUBLISH, &complete_config());
    assert!(primary.records().contains(&stale));
}

/// Rule: the last-record brake holds for `--prune` too: a domain whose
/// only records would be pruned, with nothing of ours to add, keeps them.
#[test]
fn prune_never_deletes_the_last_record() {
    let stale = srv(1688, "stale.corp.example.");
    let primary = Primary::new(std::slice::from_ref(&stale), &[]);
    let mut config = complete_config();
    config.domains[0].records = Arc::new([]);
    let done = run_config(&primary, &PRUNE, &config);
    match &done.outcome {
        Outcome::Refused(Refusal::LastRecord { after, .. }) => {
            assert_eq!(*after, NameAfter::Gone)
        }
        other => panic!("{other:?}"),
    }
    assert!(primary.updates().is_empty(), "nothing sent");
    assert_eq!(primary.records(), [stale]);
    let plan = Mode::Plan {
        set_ttl: false,
        prune: true,
    };
    let done = run_config(&primary, &plan, &config);
    assert_outcome!(done, Outcome::Refused(_));
}

/// A refused UPDATE applied nothing (RFC 2136 §3.8): it is reported as
/// refused, with what to configure, and neither retried nor read back.
#[test]
fn a_refused_update_is_reported_and_not_retried() {
    let primary = Primary::new(&[foreign()], &[Step::Refuse]);
    let done = run(&primary, &PUBLISH);
    match &done.outcome {
        Outcome::Failed(failure @ Failure::Update { error, .. }) => {
            assert!(matches!(**error, UpdateError::Refused { .. }));
            assert!(failure.to_string().contains("refused"), "{failure}");
            assert!(failure.hint().unwrap().contains("TSIG key"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(done.retries, 0);
    assert_eq!(primary.updates().len(), 1, "not retried");
    assert_eq!(primary.reads(), 1, "not read back");
    assert_eq!(primary.records(), [foreign()]);
}

/// A signed UPDATE refused whole names every RRset it carried, says any
/// may lack a grant, and for BIND quotes the grant lines `kmsdns bind`
/// writes for them.
#[test]
fn a_refused_signed_update_names_every_rrset_and_the_grants() {
    let mut primary = Primary::new(&[], &[Step::RefuseSigned]);
    primary.software = Some(crate::dns::identify::Software::Bind);
    let done = run(&primary, &PUBLISH);
    let Outcome::Failed(failure) = &done.outcome else {
        panic!("{:?}", done.outcome);
    };
    let message = failure.to_string();
    assert!(
        message.contains("carried 1 RRset(s): _vlmcs._tcp.corp.example. SRV"),
        "{message}"
    );
    assert!(message.contains("any of them"), "{message}");
    let hint = failure.hint().unwrap();
    assert!(
        hint.contains("grant kmsdns-corp. name _vlmcs._tcp.corp.example. SRV;"),
        "{hint}"
    );
    assert!(primary.records().is_empty());
}

/// An AD refusal comes unsigned (an echo of the request): nobody vouches
/// that nothing was applied, so the RRset is read back; unchanged, the
/// refusal is reported with AD's ownership explained, and not retried.
#[cfg(feature = "gssapi")]
#[test]
fn an_unsigned_ad_refusal_is_read_back_then_reported_with_the_owner_problem() {
    let primary = Primary::new(&[foreign()], &[Step::DenyOwnership]);
    let done = run(&primary, &PUBLISH);
    match &done.outcome {
        Outcome::Failed(failure @ Failure::Update { error, .. }) => {
            assert!(matches!(**error, UpdateError::Gss(_)));
            let text = failure.to_string();
            assert!(text.contains("KMS2$@CORP.EXAMPLE"), "{text}");
            assert!(
                text.contains("the principal that created a name owns it"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(done.retries, 0);
    assert_eq!(primary.updates().len(), 1, "not retried");
    assert_eq!(primary.reads(), 2, "read, then read back");
    assert_eq!(primary.records(), [foreign()]);
}

/// `plan` reads and plans, and sends nothing.
#[test]
fn plan_sends_nothing() {
    let primary = Primary::new(&[foreign()], &[]);
    let done = run(
        &primary,
        &Mode::Plan {
            set_ttl: false,
            prune: false,
        },
    );
    assert_outcome!(done, Outcome::Pending);
    assert!(primary.updates().is_empty());
    let done = run(&Primary::new(&ours(), &[]), &PUBLISH);
    assert_outcome!(done, Outcome::InSync);
}

/// Runs `mode` on tokio's paused clock, where sleeps take no real time.
fn run_paused(primary: &Primary, mode: &Mode) -> DomainOutcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let mut outcomes = runtime.block_on(engine().run_with(primary, &config(), mode));
    outcomes.remove(0)
}

/// Rule: a read before the UPDATE that outlasts `--deadline` ends the
/// domain with `deadline-exceeded`, and nothing is sent for it.
#[test]
fn a_read_past_the_deadline_sends_nothing() {
    let primary = Primary::new(&[], &[]).slow(DEADLINE * 2, Duration::ZERO);
    let done = run_paused(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Failed(Failure::Deadline(_)));
    assert!(primary.updates().is_empty());
    assert!(primary.records().is_empty());
    let Outcome::Failed(failure) = &done.outcome else {
        unreachable!("matched above")
    };
    assert!(failure.to_string().contains("(--deadline)"), "{failure}");
}

/// Rule: an UPDATE in flight is never abandoned at the deadline: it runs
/// to its own bound and its outcome is judged (here: applied and read
/// back).
#[test]
fn an_update_in_flight_outlives_the_deadline() {
    let primary = Primary::new(&[], &[]).slow(Duration::ZERO, DEADLINE * 2);
    let done = run_paused(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(sorted(primary.records()), sorted(ours()));
}

/// Rule: after an UPDATE, reads are never cut by the deadline: a re-read
/// after a lost reply's retransmission conflicted (first copy applied)
/// finds the change, however slow the primary is.
#[test]
fn reads_after_an_update_outlive_the_deadline() {
    let mut primary = Primary::new(&[], &[Step::RetransmissionConflicts]);
    primary.read_time_after_update = DEADLINE * 2;
    let done = run_paused(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(sorted(primary.records()), sorted(ours()));
}

/// Rule: the reads of hosts' addresses (`--addresses`) before the UPDATE
/// are bounded by the deadline like the SRV RRset's: past it, nothing is
/// sent.
#[test]
fn an_address_read_past_the_deadline_sends_nothing() {
    let config = config::parse(
        r#"
publish-list = ["corp.example"]

[[host]]
name = "kms1.corp.example"
addresses = ["192.0.2.10"]
"#,
        Path::new("/nonexistent/kmsdns.toml"),
    )
    .unwrap();
    let mut primary = Primary::new(&[], &[]);
    primary.address_read_time = DEADLINE * 2;
    let engine = Engine {
        publish_addresses: true,
        ..engine()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let done = runtime.block_on(engine.run_with(&primary, &config, &PUBLISH));
    assert_outcome!(done[0], Outcome::Failed(Failure::Deadline(_)));
    assert!(primary.updates().is_empty());
}

const SET_TTL: Mode = Mode::Publish {
    set_ttl: true,
    prune: false,
};

/// kms1 and kms2 (ours) at 600, kms9 (another host's) at 7200; the
/// configuration wants 3600.
fn mixed() -> Vec<(SrvRecord, u32)> {
    let mut records: Vec<(SrvRecord, u32)> = ours().into_iter().map(|r| (r, 600)).collect();
    records.push((foreign(), 7200));
    records
}

/// Rule: on AD (a TTL per record) `--set-ttl` re-adds only our records,
/// the other host's keeps its TTL, the read-back accepts that, and the
/// next run is in sync although the TTLs stay mixed.
#[test]
fn set_ttl_on_ad_changes_our_records_and_accepts_the_foreign_ttl_kept() {
    let primary = Primary::with_ttls(&mixed(), true, TtlScope::Record);
    let done = run(&primary, &SET_TTL);
    assert_outcome!(done, Outcome::Applied);
    let updates = primary.updates();
    assert_eq!(updates.len(), 1);
    let touched: Vec<&Name> = updates[0][0]
        .add
        .iter()
        .chain(&updates[0][0].delete)
        .filter_map(|r| match r.data() {
            RData::SRV(srv) => Some(srv.target()),
            _ => None,
        })
        .collect();
    assert_eq!(touched.len(), 4, "ours deleted and added back: {touched:?}");
    assert!(!touched.contains(&&foreign().target), "{touched:?}");
    assert!(updates[0][0].add.iter().all(|r| r.ttl() == 3600));
    assert_eq!(
        primary.served(),
        [
            "3600 0 0 1688 kms1.corp.example.",
            "3600 0 0 1688 kms2.corp.example.",
            "7200 0 0 1688 kms9.corp.example."
        ]
    );

    // Ours are as configured: in sync, although the TTLs stay mixed.
    let done = run(&primary, &SET_TTL);
    assert_outcome!(done, Outcome::InSync);
    assert_eq!(primary.updates().len(), 1, "nothing more sent");
    let plan = done.plan.expect("a plan");
    assert!(
        plan.read.mixed_ttls() && plan.ttl_change.is_none(),
        "{plan:?}"
    );
}

/// Rule: where the TTL is the RRset's, the server gives the other host's
/// record the new TTL with ours: the read-back accepts it (and only it).
#[test]
fn set_ttl_where_the_ttl_is_the_rrsets_accepts_the_whole_rrset_changed() {
    let primary = Primary::with_ttls(&mixed(), false, TtlScope::Rrset);
    let done = run(&primary, &SET_TTL);
    assert_outcome!(done, Outcome::Applied);
    assert!(primary.served().iter().all(|r| r.starts_with("3600 ")));

    // A server that takes the records and not the TTL: not what was sent.
    let primary = Primary::with_ttls(&mixed(), false, TtlScope::Rrset);
    primary.script.lock().unwrap().push_back(Step::KeepsTtls);
    let done = run(&primary, &SET_TTL);
    assert_outcome!(done, Outcome::Failed(Failure::TtlNotServed { .. }));
}

/// Rule: a zone not read as AD-integrated whose server keeps a TTL per
/// record all the same (ours at the new TTL, the other host's at its own)
/// applied what it was sent: applied, with a note that says so.
#[test]
fn set_ttl_on_a_zone_read_as_plain_that_keeps_ttls_per_record_is_applied_with_a_note() {
    let primary = Primary::with_ttls(&mixed(), true, TtlScope::Rrset);
    let done = run(&primary, &SET_TTL);
    assert_outcome!(done, Outcome::Applied);
    assert_eq!(done.note, Some(Note::TtlPerRecord));
    assert_eq!(primary.ttl_of(&ours()[0]), 3600);
    assert_eq!(primary.ttl_of(&foreign()), 7200);
}

/// `config()` with `multi-master = multi_master` for corp.example.
fn config_multi_master(multi_master: bool) -> Config {
    config_with(&format!(
        "\n[domain.\"corp.example\"]\nmulti-master = {multi_master}\n"
    ))
}

/// Rule: what the configuration says (`multi-master =`) decides the TTL
/// scope, whatever the DC locator read says: per record when the zone is
/// said multi-master, per RRset when it is said not to be.
#[test]
fn multi_master_in_the_configuration_decides_the_ttl_scope() {
    for (multi_master, read, want) in [
        (true, TtlScope::Rrset, TtlScope::Record),
        (true, TtlScope::Unknown, TtlScope::Record),
        (false, TtlScope::Record, TtlScope::Rrset),
    ] {
        let primary = Primary::with_ttls(&mixed(), multi_master, read);
        let done = run_config(&primary, &SET_TTL, &config_multi_master(multi_master));
        assert_outcome!(done, Outcome::Applied);
        assert_eq!(done.note, None, "{multi_master} {read:?}");
        let plan = done.plan.expect("a plan");
        assert_eq!(plan.scope, want, "{multi_master} {read:?}");
    }
}

/// Rule: on AD, a record another host adds (at a TTL of its own) between
/// our update and its read-back is that host's change: our records carry
/// the new TTL, so the update is applied, whether its reply came or not.
#[test]
fn set_ttl_on_ad_accepts_a_record_another_host_added_meanwhile() {
    let other = srv(1688, "kms8.corp.example.");
    for reply_lost in [false, true] {
        let primary = Primary::with_ttls(&mixed(), true, TtlScope::Record);
        let step = Step::OtherHostAddsAfter(other.clone(), 1200, reply_lost);
        primary.script.lock().unwrap().push_back(step);
        let done = run(&primary, &SET_TTL);
        assert_outcome!(done, Outcome::Applied);
        assert_eq!(primary.updates().len(), 1, "no retry");
        assert_eq!(primary.ttl_of(&ours()[0]), 3600);
        assert_eq!(primary.ttl_of(&other), 1200);
    }
}

/// Rule: a server whose scope could not be read is judged by what it did
/// with our update: either way is applied.
#[test]
fn set_ttl_on_an_unknown_server_accepts_what_it_did() {
    for (per_record, foreign_after) in [(true, 7200), (false, 3600)] {
        let primary = Primary::with_ttls(&mixed(), per_record, TtlScope::Unknown);
        let done = run(&primary, &SET_TTL);
        assert_outcome!(done, Outcome::Applied);
        assert_eq!(primary.ttl_of(&foreign()), foreign_after);
        assert_eq!(primary.ttl_of(&ours()[0]), 3600);
    }
}

/// Rule: without `--set-ttl`, a mixed RRset whose records of ours are as
/// configured is in sync on AD, and pending where the TTL is the RRset's.
#[test]
fn without_set_ttl_ad_mixed_ttls_are_in_sync_and_others_pending() {
    let mut records = mixed();
    records[0].1 = 3600;
    records[1].1 = 3600;
    let primary = Primary::with_ttls(&records, true, TtlScope::Record);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::InSync);
    let primary = Primary::with_ttls(&records, false, TtlScope::Rrset);
    let done = run(&primary, &PUBLISH);
    assert_outcome!(done, Outcome::Pending);
    assert!(primary.updates().is_empty());
}

/// Three domains of `corp.example.`, listed together.
fn one_zone_three_domains() -> Config {
    config::parse(
        r#"
publish-list = ["corp.example", "eu.corp.example", "us.corp.example"]

[[host]]
name = "kms1.corp.example"
"#,
        Path::new("/nonexistent/kmsdns.toml"),
    )
    .unwrap()
}

/// Runs `mode` over `config` in windows of `size`: each window's outcomes.
fn windows(primary: &Primary, config: &Config, size: usize) -> Vec<Vec<DomainOutcome>> {
    windows_at(primary, config, size, 1)
}

/// The same, `concurrency` exchanges at once, on tokio's paused clock.
fn windows_at(
    primary: &Primary,
    config: &Config,
    size: usize,
    concurrency: usize,
) -> Vec<Vec<DomainOutcome>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let mut windows = Vec::new();
    let sink = |window| {
        windows.push(window);
        Ok::<_, std::convert::Infallible>(())
    };
    let engine = Engine {
        concurrency,
        ..engine()
    };
    let Ok(()) = runtime.block_on(engine.windows_with(primary, config, &PUBLISH, size, sink));
    windows
}

/// A configuration publishing kms1 in `domains`, in this order.
fn publishing_in(domains: &[&str]) -> Config {
    let list: Vec<String> = domains.iter().map(|d| format!("{d:?}")).collect();
    let text = format!(
        "publish-list = [{}]\n\n[[host]]\nname = \"kms1.corp.example\"\n",
        list.join(", ")
    );
    config::parse(&text, Path::new("/nonexistent/kmsdns.toml")).unwrap()
}

/// Each window's domains, and each UPDATE's zone and owners.
fn windows_and_updates(
    done: &[Vec<DomainOutcome>],
    primary: &Primary,
) -> (Vec<Vec<String>>, Vec<String>) {
    let windows = done
        .iter()
        .map(|window| window.iter().map(|o| o.domain.to_ascii()).collect())
        .collect();
    let updates = primary
        .updates()
        .iter()
        .map(|requests| {
            let owners: Vec<String> = requests.iter().map(|r| r.name.to_ascii()).collect();
            format!("{} {}", requests[0].zone, owners.join(" "))
        })
        .collect();
    (windows, updates)
}

/// Rule: the zones of the domains a window goes on to (to the end of its
/// zone) are looked up `--concurrency` at a time, not one after another,
/// and each domain's once.
#[test]
fn the_zones_a_window_goes_on_to_are_looked_up_together() {
    let names = ["corp.example", "a.corp.example", "b.corp.example"];
    let more = ["c.corp.example", "d.corp.example", "e.corp.example"];
    let last = ["f.corp.example", "g.corp.example", "h.corp.example"];
    let domains: Vec<&str> = names.iter().chain(&more).chain(&last).copied().collect();
    let config = publishing_in(&domains);
    let primary = Primary {
        find_time: Duration::from_secs(1),
        ..Primary::new(&[], &[])
    };
    let done = windows_at(&primary, &config, 1, 4);
    let (windows, updates) = windows_and_updates(&done, &primary);
    let fqdn: Vec<String> = domains.iter().map(|d| format!("{d}.")).collect();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(windows[0], fqdn);
    assert_eq!(updates.len(), 1, "{updates:?}");
    for outcome in &done[0] {
        assert_outcome!(outcome, Outcome::Applied);
    }
    let lookups = primary.lookups.lock().unwrap();
    // The window's one domain, then the next 4 and 4 at once.
    assert_eq!(lookups.most, 4);
    let mut looked_up: Vec<String> = lookups.domains.iter().map(Name::to_ascii).collect();
    looked_up.sort();
    let mut expected = fqdn;
    expected.sort();
    assert_eq!(looked_up, expected);
}

/// Rule: a window ends where its zone does, also at a zone cut below the
/// zone's apex (a child zone), and the run changes what a run at once
/// changes: the same outcomes, one UPDATE per zone and window.
#[test]
fn a_window_ends_at_a_child_zone_and_changes_what_a_run_at_once_does() {
    let domains = [
        "corp.example",
        "eu.corp.example",
        "x.child.corp.example",
        "us.corp.example",
        "other.example",
    ];
    let config = publishing_in(&domains);
    let primary = || Primary {
        zones: vec![name("child.corp.example."), name("other.example.")],
        ..Primary::new(&[], &[])
    };
    let (windowed, whole) = (primary(), primary());
    let done = windows_at(&windowed, &config, 1, 4);
    let at_once = windows_at(&whole, &config, domains.len(), 4);
    let (windows, updates) = windows_and_updates(&done, &windowed);
    assert_eq!(
        windows,
        [
            vec!["corp.example.", "eu.corp.example."],
            vec!["x.child.corp.example."],
            vec!["us.corp.example."],
            vec!["other.example."],
        ]
    );
    assert_eq!(
        updates,
        [
            "corp.example. _vlmcs._tcp.corp.example. _vlmcs._tcp.eu.corp.example.",
            "child.corp.example. _vlmcs._tcp.x.child.corp.example.",
            "corp.example. _vlmcs._tcp.us.corp.example.",
            "other.example. _vlmcs._tcp.other.example.",
        ]
    );
    let summary = |windows: Vec<Vec<DomainOutcome>>| -> Vec<String> {
        let outcomes = windows.into_iter().flatten();
        outcomes
            .map(|o| format!("{} {:?} {:?} {:?}", o.domain, o.target, o.outcome, o.plan))
            .collect()
    };
    assert_eq!(summary(done), summary(at_once));
    // Each domain's zone looked up once.
    assert_eq!(
        windowed.lookups.lock().unwrap().domains.len(),
        domains.len()
    );
}

/// Rule: a window never splits a zone whose domains are listed together:
/// windows of one domain still send one atomic UPDATE for the zone.
#[test]
fn a_window_goes_on_to_the_end_of_its_zone() {
    let config = one_zone_three_domains();
    let primary = Primary::new(&[], &[]);
    let done = windows(&primary, &config, 1);
    assert_eq!(done.len(), 1, "one window: {done:?}");
    let names: Vec<String> = done[0].iter().map(|o| o.domain.to_ascii()).collect();
    assert_eq!(
        names,
        ["corp.example.", "eu.corp.example.", "us.corp.example."]
    );
    for outcome in &done[0] {
        assert_outcome!(outcome, Outcome::Applied);
    }
    let updates = primary.updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].len(), 3, "{updates:?}");
}

/// Rule: the windows' outcomes are the run's, in configuration order,
/// whatever the window size.
#[test]
fn windows_give_the_outcomes_of_a_run_at_once() {
    let config = one_zone_three_domains();
    let whole = windows(&Primary::new(&[], &[]), &config, 3);
    let windowed = windows(&Primary::new(&[], &[]), &config, 1);
    let summary = |windows: Vec<Vec<DomainOutcome>>| -> Vec<String> {
        let outcomes = windows.into_iter().flatten();
        outcomes
            .map(|o| format!("{} {:?} {:?}", o.domain, o.outcome, o.plan))
            .collect()
    };
    assert_eq!(summary(windowed), summary(whole));
}
