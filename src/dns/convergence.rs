//! Has every authoritative server of a zone caught up with the primary?
//! The one observation and comparison behind `replication` (and its
//! `--wait`) and `publish --wait-replication`.
//!
//! - The servers: the primary named by the SOA MNAME (RFC 2136 §4), which
//!   may be hidden (not in the NS set), then every NS name (RFC 1034
//!   §4.2.1) at each of its A and AAAA.
//! - At each address, RD clear and AA required: the zone's SOA serial and
//!   each `_vlmcs._tcp` RRset asked about, every record with its TTL. An
//!   authoritative answer carries the TTL the zone holds (a cache's would
//!   count down), so TTLs compare across servers: a zone transfer carries
//!   them, and AD replicates each record's own.
//! - The reference is the primary, or, when it cannot be read, the server
//!   with the newest serial; serials compare in RFC 1982 arithmetic
//!   ([`super::serial`]). The zone has converged when every server a
//!   client may ask serves the reference's serial and RRsets, each record
//!   with the reference's TTL.
//! - [`watch`] reads and compares until the zone has converged or a
//!   deadline passes, and tells for how long each server was seen behind.
//!
//! What a difference *means* (findings, severities, hints) is each
//! command's business; this module only observes and compares.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hickory_proto::rr::{Name, RecordType};
use serde::Serialize;

use super::dnssec::{self, SignedServer, ZoneSignatures};
use super::identify::Integration;
use super::query::{QueryError, ReplyError};
use super::resolver::Resolver;
use super::serial;
use super::srv::{read_srv, SrvRrset};
use super::transport::asking_again;
use super::zone::{authoritative_servers, read_serial, SerialError, ZoneSoa};
use super::DnsOptions;
use crate::concurrency::in_order;
use crate::concurrency::per_server::PerServer;

/// Time between two polls of [`watch`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The zone's SOA timers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaTimers {
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
}

/// The records of an RRset as served: each record's key (`priority weight
/// port target.`, see [`super::srv::record_key`]) and the TTL it carries.
pub type Served = BTreeMap<String, u32>;

/// One `_vlmcs._tcp` RRset read at one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRead {
    pub owner: Name,
    pub result: Result<Served, String>,
    /// The RRset with each record's TTL, when its records carry different
    /// TTLs (`ttl-mixed`).
    pub mixed: Option<SrvRrset>,
}

/// What one server address said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRead {
    /// The NS name exists but has no A or AAAA record (lame delegation).
    NoAddress,
    /// The NS name's addresses could not be looked up.
    AddressUnknown(String),
    /// No reply, every attempt.
    Timeout(String),
    /// Connection refused: nothing listens there.
    Refused(String),
    /// Another network error.
    Unreachable(String),
    /// A reply that does not serve the zone.
    Lame(String),
    /// The zone's SOA serial and each RRset.
    Answered { serial: u32, rrsets: Vec<OwnerRead> },
}

/// One server address and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerObservation {
    pub name: Name,
    pub address: Option<SocketAddr>,
    /// This is the SOA MNAME.
    pub primary: bool,
    /// The name is in the NS set.
    pub in_ns_set: bool,
    pub read: ServerRead,
    /// How long polls have seen it behind the reference without a break
    /// (zero on the first poll that sees it behind; `None` otherwise).
    pub behind_for: Option<Duration>,
}

impl ServerObservation {
    /// `ns2.corp.example. (192.0.2.2:53)`, or the name alone.
    pub fn label(&self) -> String {
        match self.address {
            Some(address) => format!("{} ({address})", self.name),
            None => self.name.to_string(),
        }
    }

    /// The serial and RRsets of a server that answered for the zone.
    pub fn answered(&self) -> Option<(u32, &[OwnerRead])> {
        match &self.read {
            ServerRead::Answered { serial, rrsets } => Some((*serial, rrsets)),
            _ => None,
        }
    }

    /// A primary outside the NS set: no client asks it.
    pub fn hidden_primary(&self) -> bool {
        self.primary && !self.in_ns_set
    }
}

/// Everything read for one zone in one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneObservation {
    pub zone: Name,
    /// The primary (SOA MNAME).
    pub mname: Name,
    pub timers: SoaTimers,
    /// Every server address, the primary first.
    pub servers: Vec<ServerObservation>,
    /// Whether every server is a primary (Active Directory-integrated
    /// DNS): each keeps its own serial, which says nothing of what it
    /// serves (Samba does not even move it on updates; Microsoft KB
    /// 282826), so only the records are compared — and serials are not
    /// compared either while this is unknown.
    pub multi_master: MultiMaster,
}

/// Whether every server of a zone is a primary, as far as is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiMaster {
    /// Configured (`multi-master = true`), or shown by behaviour: the
    /// domain controllers' locator record is served and every server's
    /// own SOA names itself as the primary.
    Yes,
    /// One primary: serials are compared.
    No,
    /// Neither the configuration nor the reads tell (why): serials are
    /// not compared, and the report says so.
    Unknown(String),
}

impl MultiMaster {
    /// Whether serials say anything about replication here.
    pub fn compares_serials(&self) -> bool {
        *self == MultiMaster::No
    }
}

/// How one server address compares with the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    /// The server the others are compared with.
    Reference,
    /// Same serial, same RRsets.
    InSync,
    /// An older serial (RFC 1982): it has not transferred the last changes.
    Behind,
    /// A newer serial than the reference, or one RFC 1982 cannot order: it
    /// will not transfer from the primary.
    Ahead,
    /// Same serial but other `_vlmcs._tcp` records or TTLs (or an RRset
    /// that could not be read).
    Differs,
    /// No reply within the timeout.
    Timeout,
    /// Connection refused (TCP RST, ICMP port unreachable): nothing
    /// listens there.
    Refused,
    /// Another network error (no route, …).
    Unreachable,
    /// Replies, but not authoritatively for the zone (REFUSED, SERVFAIL, no
    /// AA, another zone's SOA).
    Lame,
    /// The NS name has no A or AAAA record, or its lookup failed.
    NoAddress,
}

impl ServerState {
    /// The state as in JSON.
    pub fn word(self) -> &'static str {
        match self {
            ServerState::Reference => "reference",
            ServerState::InSync => "in-sync",
            ServerState::Behind => "behind",
            ServerState::Ahead => "ahead",
            ServerState::Differs => "differs",
            ServerState::Timeout => "timeout",
            ServerState::Refused => "refused",
            ServerState::Unreachable => "unreachable",
            ServerState::Lame => "lame",
            ServerState::NoAddress => "no-address",
        }
    }

    /// Serves what the reference serves.
    pub fn caught_up(self) -> bool {
        matches!(self, ServerState::Reference | ServerState::InSync)
    }
}

/// How one RRset of one server compares with the reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerComparison {
    pub owner: Name,
    pub records: Vec<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    /// Records both serve, here with another TTL than at the reference.
    pub ttl_differs: Vec<TtlDifference>,
    pub error: Option<String>,
}

impl OwnerComparison {
    /// Unknown, or other records or TTLs than the reference's.
    pub fn differs(&self) -> bool {
        self.error.is_some() || self.records_differ() || !self.ttl_differs.is_empty()
    }

    /// Records missing or extra (TTLs aside).
    pub fn records_differ(&self) -> bool {
        !self.missing.is_empty() || !self.extra.is_empty()
    }
}

/// A record served both here and at the reference, with other TTLs: a
/// change of TTL not yet replicated (or made on this server only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TtlDifference {
    /// The record's key (see [`super::srv::record_key`]).
    pub record: String,
    /// Its TTL here.
    pub ttl: u32,
    /// Its TTL at the reference.
    pub reference_ttl: u32,
}

/// One server against the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerComparison {
    pub state: ServerState,
    pub serial: Option<u32>,
    /// Serial increments behind the reference.
    pub behind: Option<u32>,
    pub rrsets: Vec<OwnerComparison>,
    pub error: Option<String>,
}

/// A zone's servers against the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Index in `servers` of the server compared with, if any answered.
    pub reference: Option<usize>,
    /// One per observed server, in the same order.
    pub servers: Vec<ServerComparison>,
    /// Every server a client may ask serves the reference's serial and
    /// RRsets.
    pub converged: bool,
    /// Every server a client may ask answered for the zone, with the
    /// reference's serial where serials compare: what keeps the zone from
    /// converging, if anything, is the RRsets of `unsettled` alone, each
    /// one domain's.
    pub caught_up: bool,
    /// The owners whose RRset a server a client may ask serves otherwise
    /// than the reference, or that could not be read there (at the
    /// reference too).
    pub unsettled: BTreeSet<Name>,
}

impl Comparison {
    /// The owners whose RRset every server a client may ask serves as the
    /// reference does while other RRsets keep the zone from converging:
    /// those domains are replicated. None when the zone has converged
    /// (then it is, whole) or some server has not caught up (then no
    /// domain is).
    pub fn settled<'a>(&'a self, zone: &'a ZoneObservation) -> impl Iterator<Item = &'a Name> {
        let partly = self.caught_up && !self.converged;
        let read = self.reference.filter(|_| partly);
        let rrsets = read
            .and_then(|i| zone.servers[i].answered())
            .map_or(&[][..], |(_, rrsets)| rrsets);
        rrsets
            .iter()
            .map(|read| &read.owner)
            .filter(|owner| !self.unsettled.contains(*owner))
    }
}

/// Compares every server of the zone with the reference: the primary, or,
/// when it cannot be read, the server with the newest serial.
pub fn compare(zone: &ZoneObservation) -> Comparison {
    let reference = zone
        .servers
        .iter()
        .position(|s| s.primary && s.answered().is_some())
        .or_else(|| newest(zone));
    let any_authoritative = zone.servers.iter().any(|s| s.answered().is_some());
    let mut caught_up = reference.is_some() && any_authoritative;
    let mut unsettled = BTreeSet::new();
    let mut servers = Vec::new();
    for (index, server) in zone.servers.iter().enumerate() {
        let compared = compare_server(zone, server, reference.unwrap_or(index), index);
        // Clients never ask a hidden primary: the zone has converged when
        // every server they may ask serves the reference. A hidden primary
        // that answers must still agree.
        let counts = !server.hidden_primary() || server.answered().is_some();
        if counts {
            // A server that differs only in RRsets (`Differs`) holds back
            // those RRsets, not the zone.
            if !compared.state.caught_up() && compared.state != ServerState::Differs {
                caught_up = false;
            }
            // An RRset that could not be read, at the reference above
            // all, says nothing of whether the servers agree.
            let differing = compared.rrsets.iter().filter(|rrset| rrset.differs());
            unsettled.extend(differing.map(|rrset| rrset.owner.clone()));
        }
        servers.push(compared);
    }
    Comparison {
        reference,
        servers,
        converged: caught_up && unsettled.is_empty(),
        caught_up,
        unsettled,
    }
}

/// One server against the server at `reference` (itself when none).
fn compare_server(
    zone: &ZoneObservation,
    server: &ServerObservation,
    reference: usize,
    index: usize,
) -> ServerComparison {
    let unread = |state: ServerState, error: Option<&String>| ServerComparison {
        state,
        serial: None,
        behind: None,
        rrsets: Vec::new(),
        error: error.cloned(),
    };
    let (serial, rrsets) = match &server.read {
        ServerRead::NoAddress => return unread(ServerState::NoAddress, None),
        ServerRead::AddressUnknown(e) => return unread(ServerState::NoAddress, Some(e)),
        ServerRead::Timeout(e) => return unread(ServerState::Timeout, Some(e)),
        ServerRead::Refused(e) => return unread(ServerState::Refused, Some(e)),
        ServerRead::Unreachable(e) => return unread(ServerState::Unreachable, Some(e)),
        ServerRead::Lame(e) => return unread(ServerState::Lame, Some(e)),
        ServerRead::Answered { serial, rrsets } => (*serial, rrsets.as_slice()),
    };
    let (reference_serial, reference_rrsets) = zone.servers[reference]
        .answered()
        .unwrap_or((serial, rrsets));
    let rrsets = compare_rrsets(rrsets, reference_rrsets);
    let mut behind = None;
    let state = if index == reference {
        ServerState::Reference
    } else if !zone.multi_master.compares_serials() {
        if rrsets.iter().any(OwnerComparison::differs) {
            ServerState::Differs
        } else {
            ServerState::InSync
        }
    } else {
        match serial::compare(serial, reference_serial) {
            Some(std::cmp::Ordering::Equal) if rrsets.iter().any(OwnerComparison::differs) => {
                ServerState::Differs
            }
            Some(std::cmp::Ordering::Equal) => ServerState::InSync,
            Some(std::cmp::Ordering::Less) => {
                behind = serial::behind_by(serial, reference_serial);
                ServerState::Behind
            }
            _ => ServerState::Ahead,
        }
    };
    ServerComparison {
        state,
        serial: Some(serial),
        behind,
        rrsets,
        error: None,
    }
}

/// The answering server with the newest serial (RFC 1982), first found
/// on ties and on pairs RFC 1982 cannot order.
fn newest(zone: &ZoneObservation) -> Option<usize> {
    let mut best: Option<(usize, u32)> = None;
    for (index, server) in zone.servers.iter().enumerate() {
        if let Some((serial, _)) = server.answered() {
            match best {
                Some((_, current))
                    if serial::compare(serial, current) != Some(std::cmp::Ordering::Greater) => {}
                _ => best = Some((index, serial)),
            }
        }
    }
    best.map(|(index, _)| index)
}

/// Each owner's RRset against the reference's: records missing and extra,
/// and the TTL of every record both serve.
fn compare_rrsets(rrsets: &[OwnerRead], reference: &[OwnerRead]) -> Vec<OwnerComparison> {
    rrsets
        .iter()
        .map(|read| {
            let want = reference
                .iter()
                .find(|r| r.owner == read.owner)
                .and_then(|r| r.result.as_ref().ok());
            let mut comparison = OwnerComparison {
                owner: read.owner.clone(),
                records: Vec::new(),
                missing: Vec::new(),
                extra: Vec::new(),
                ttl_differs: Vec::new(),
                error: None,
            };
            match (&read.result, want) {
                (Ok(got), Some(want)) => {
                    comparison.records = got.keys().cloned().collect();
                    comparison.missing = absent(want, got);
                    comparison.extra = absent(got, want);
                    comparison.ttl_differs = got
                        .iter()
                        .filter_map(|(record, &ttl)| {
                            let &reference_ttl = want.get(record)?;
                            (ttl != reference_ttl).then(|| TtlDifference {
                                record: record.clone(),
                                ttl,
                                reference_ttl,
                            })
                        })
                        .collect();
                }
                // Nothing to compare with: the reference's read failed.
                (Ok(got), None) => comparison.records = got.keys().cloned().collect(),
                (Err(error), _) => comparison.error = Some(error.clone()),
            }
            comparison
        })
        .collect()
}

/// The records of `of` that `among` does not serve.
fn absent(of: &Served, among: &Served) -> Vec<String> {
    of.keys()
        .filter(|record| !among.contains_key(*record))
        .cloned()
        .collect()
}

/// One address (or an addressless NS name) to read each poll.
#[derive(Debug, Clone)]
struct Server {
    name: Name,
    address: Result<SocketAddr, ServerRead>,
    primary: bool,
    in_ns_set: bool,
}

/// The last poll of [`watch`].
#[derive(Debug, Clone)]
pub struct Watched {
    pub observation: ZoneObservation,
    pub comparison: Comparison,
    /// How many times the servers were read.
    pub polls: u32,
    /// From the first read to the last.
    pub elapsed: Duration,
    /// Why the NS set is unknown, if it is: then only the primary was read.
    pub ns_error: Option<String>,
}

/// Reads every server of `soa`'s zone (the primary, then the NS set) and
/// compares them ([`compare`]); with a `deadline`, again every
/// [`POLL_INTERVAL`] until the zone has converged or the deadline has
/// passed. Every query to a server waits for its turn in `in_flight`
/// (`--concurrency` at each server, shared with the zones read beside
/// this one).
pub async fn watch(
    soa: &ZoneSoa,
    owners: &[Name],
    resolver: &Resolver,
    opts: &DnsOptions,
    deadline: Option<Instant>,
    configured: Option<bool>,
    in_flight: &PerServer,
) -> Watched {
    let (servers, ns_error) = servers(soa, resolver, opts).await;
    let multi_master = match configured {
        Some(true) => MultiMaster::Yes,
        Some(false) => MultiMaster::No,
        None => multi_master(&servers, &soa.zone, opts, in_flight).await,
    };
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
            servers
                .iter()
                .map(|server| read(server, &soa.zone, owners, opts, in_flight)),
        );
        // A server silent in one poll may answer in the next: polling
        // asks again whatever the run has seen of it.
        let reads = match deadline {
            Some(_) => asking_again(reads).await,
            None => reads.await,
        };
        let observation = ZoneObservation {
            zone: soa.zone.clone(),
            mname: soa.mname.clone(),
            timers,
            servers: servers
                .iter()
                .zip(reads)
                .enumerate()
                .map(|(index, (server, read))| ServerObservation {
                    name: server.name.clone(),
                    address: server.address.as_ref().ok().copied(),
                    primary: server.primary,
                    in_ns_set: server.in_ns_set,
                    read,
                    behind_for: behind_since
                        .get(&index)
                        .map(|since| poll_started.saturating_duration_since(*since)),
                })
                .collect(),
            multi_master: multi_master.clone(),
        };
        let comparison = compare(&observation);
        for (index, server) in comparison.servers.iter().enumerate() {
            if server.state == ServerState::Behind {
                behind_since.entry(index).or_insert(poll_started);
            } else {
                behind_since.remove(&index);
            }
        }
        let now = Instant::now();
        let Some(deadline) = deadline.filter(|d| !comparison.converged && now < *d) else {
            return Watched {
                observation,
                comparison,
                polls,
                elapsed: started.elapsed(),
                ns_error,
            };
        };
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}

/// The servers of `observation` that answered for the zone, for
/// [`dnssec::observe_zone`].
pub fn signed_servers(observation: &ZoneObservation) -> Vec<SignedServer> {
    observation
        .servers
        .iter()
        .filter(|server| server.answered().is_some())
        .filter_map(|server| {
            Some(SignedServer {
                label: server.label(),
                address: server.address?,
            })
        })
        .collect()
}

/// For a signed zone, reads the signatures at every server of
/// `observation` that answered ([`dnssec::observe_zone`]) until each
/// serves a valid one over every RRset of `owners` (and its in-zone
/// targets' addresses), or `deadline` has passed: an RRset a server has
/// not re-signed, or whose signatures a secondary has not transferred yet,
/// fails validating resolvers. An unsigned zone is read once.
pub async fn watch_signatures(
    observation: &ZoneObservation,
    owners: &[Name],
    resolver: &Resolver,
    opts: &DnsOptions,
    deadline: Instant,
) -> ZoneSignatures {
    let servers = signed_servers(observation);
    loop {
        let signatures =
            dnssec::observe_zone(&observation.zone, owners, &servers, resolver, opts).await;
        let now = Instant::now();
        if dnssec::all_valid(&signatures) || now >= deadline {
            return signatures;
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}

/// Whether the zone is multi-master, by behaviour: the locator record
/// ([`super::identify::active_directory`]) asked of the primary first and
/// of the others while reads fail, and then every server answering as a
/// primary ([`every_server_a_primary`]) — a zone merely named like an AD
/// zone on a BIND primary with secondaries keeps its serial comparison.
async fn multi_master(
    servers: &[Server],
    zone: &Name,
    opts: &DnsOptions,
    in_flight: &PerServer,
) -> MultiMaster {
    let mut why = format!("no server of {zone} has an address");
    for address in servers.iter().filter_map(|s| s.address.as_ref().ok()) {
        let turn = in_flight.turn(*address).await;
        let integration = super::identify::active_directory(*address, zone, opts).await;
        drop(turn);
        match integration {
            Integration::Unknown(error) => why = error,
            Integration::Plain => return MultiMaster::No,
            Integration::ActiveDirectory => {
                return every_server_a_primary(servers, zone, opts, in_flight).await
            }
        }
    }
    MultiMaster::Unknown(why)
}

/// Whether each server's own SOA names that server as the primary, as
/// every AD domain controller's does (a secondary names its primary).
async fn every_server_a_primary(
    servers: &[Server],
    zone: &Name,
    opts: &DnsOptions,
    in_flight: &PerServer,
) -> MultiMaster {
    for server in servers {
        let Ok(address) = &server.address else {
            continue;
        };
        let turn = in_flight.turn(*address).await;
        let read = super::query(*address, zone, RecordType::SOA, opts).await;
        drop(turn);
        let mname = match &read {
            Ok(response) => response.zone_soa().map(|(_, soa)| soa.mname().clone()),
            Err(_) => None,
        };
        match mname {
            Some(mname) if mname == server.name => {}
            Some(_) => return MultiMaster::No,
            None => {
                let why = read.err().map_or("no SOA".to_string(), |e| e.to_string());
                return MultiMaster::Unknown(format!(
                    "reading the SOA of {zone} from {address}: {why}"
                ));
            }
        }
    }
    MultiMaster::Yes
}

/// The primary (SOA MNAME) first, then every other NS name, each at all
/// its addresses; and why the NS set is unknown, if it is.
async fn servers(
    soa: &ZoneSoa,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> (Vec<Server>, Option<String>) {
    let (found, ns_error) = match authoritative_servers(&soa.zone, resolver, opts).await {
        Ok(found) => (found, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    // With the NS set unknown, the primary cannot be called hidden.
    let in_ns_set = ns_error.is_some() || found.iter().any(|s| s.name == soa.mname);
    let primary_addresses = match found.iter().find(|s| s.name == soa.mname) {
        Some(server) => server.addresses.clone(),
        None => resolver
            .addresses(&soa.mname)
            .await
            .map(|addresses| addresses.socket_addrs(opts.dns_port)),
    };
    let mut servers = Vec::new();
    let mut add = |name: &Name, addresses: Result<Vec<SocketAddr>, String>, primary, in_ns_set| {
        let list = match addresses {
            Ok(list) if list.is_empty() => vec![Err(ServerRead::NoAddress)],
            Ok(list) => list.into_iter().map(Ok).collect(),
            Err(error) => vec![Err(ServerRead::AddressUnknown(error))],
        };
        for address in list {
            servers.push(Server {
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
    let mut others: Vec<_> = found.iter().filter(|s| s.name != soa.mname).collect();
    others.sort_by_key(|s| s.name.to_lowercase());
    for server in others {
        add(
            &server.name,
            server.addresses.clone().map_err(|e| e.to_string()),
            false,
            true,
        );
    }
    (servers, ns_error)
}

/// One server address: the zone's SOA serial, then each RRset, each
/// query in its turn at the server (`in_flight`). All of them at once
/// were a window's worth of queries in one burst (2,000 owners of one
/// zone): more than a server's UDP socket holds (BIND's 208 KiB default,
/// some 250 queries on loopback), so the server dropped the rest, and
/// their resends, due together, were dropped again; on a busy server
/// whole windows lost an RRset or more and with it their `replicated`.
async fn read(
    server: &Server,
    zone: &Name,
    owners: &[Name],
    opts: &DnsOptions,
    in_flight: &PerServer,
) -> ServerRead {
    let address = match &server.address {
        Ok(address) => *address,
        Err(read) => return read.clone(),
    };
    let turn = in_flight.turn(address).await;
    let serial = read_serial(address, zone, opts).await;
    drop(turn);
    let serial = match serial {
        Ok(serial) => serial,
        Err(error) => return unanswered(error, zone),
    };
    // No more of the zone's reads wait at once than may be in flight.
    let rrsets = in_order(owners, in_flight.limit(), |owner| async move {
        let turn = in_flight.turn(address).await;
        let read = read_srv(address, owner, opts).await;
        drop(turn);
        let mixed = read
            .as_ref()
            .ok()
            .filter(|answer| answer.mixed_ttls())
            .map(|answer| answer.clone().into_rrset());
        OwnerRead {
            owner: owner.clone(),
            result: read
                .map(|answer| answer.keyed_ttls())
                .map_err(|e| e.reason.to_string()),
            mixed,
        }
    })
    .collect()
    .await;
    ServerRead::Answered { serial, rrsets }
}

/// How a server failed to give the zone's serial: silent, unreachable, or
/// lame for the zone.
fn unanswered(error: SerialError, zone: &Name) -> ServerRead {
    match error {
        SerialError::Query(error @ (QueryError::Timeout { .. } | QueryError::Silent { .. })) => {
            ServerRead::Timeout(error.to_string())
        }
        SerialError::Query(error @ QueryError::Unreachable { .. }) => {
            ServerRead::Refused(error.to_string())
        }
        SerialError::Query(error @ QueryError::Io { .. }) => {
            ServerRead::Unreachable(error.to_string())
        }
        SerialError::Query(error) => ServerRead::Lame(error.to_string()),
        SerialError::Reply(error) => ServerRead::Lame(match error {
            ReplyError::Refused { .. } => "it answers REFUSED for the zone: it is not configured to serve it".to_string(),
            ReplyError::ServFail { .. } => "it answers SERVFAIL for the zone: the zone failed to load there, or expired on this secondary".to_string(),
            ReplyError::NotAuthoritative { .. } => "its answer lacks the AA bit: it is not authoritative for the zone".to_string(),
            other => other.to_string(),
        }),
        SerialError::NoSoa { status, .. } => ServerRead::Lame(format!(
            "it answers {status} for the zone's SOA: it serves another zone (a parent?), not {zone}"
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    /// `host` serving `result`, every record at TTL 3600.
    pub(crate) fn server(
        host: &str,
        primary: bool,
        result: Result<&[&str], &str>,
    ) -> ServerObservation {
        let result = result
            .map(|records| records.iter().map(|r| ((*r).to_owned(), 3600)).collect())
            .map_err(str::to_owned);
        ServerObservation {
            name: name(host),
            address: None,
            primary,
            in_ns_set: true,
            read: ServerRead::Answered {
                serial: 5,
                rrsets: vec![OwnerRead {
                    owner: name("_vlmcs._tcp.corp.example."),
                    result,
                    mixed: None,
                }],
            },
            behind_for: None,
        }
    }

    /// corp.example. with `servers`, its MNAME ns1, and common timers: the
    /// zone the convergence and replication tests observe.
    pub(crate) fn zone(servers: Vec<ServerObservation>) -> ZoneObservation {
        ZoneObservation {
            zone: name("corp.example."),
            mname: name("ns1.corp.example."),
            timers: SoaTimers {
                refresh: 3600,
                retry: 600,
                expire: 86400,
            },
            servers,
            multi_master: MultiMaster::No,
        }
    }

    const KMS1: &str = "0 0 1688 kms1.corp.example.";
    const KMS2: &str = "0 0 1688 kms2.corp.example.";

    /// `server` with another serial.
    fn with_serial(mut server: ServerObservation, new: u32) -> ServerObservation {
        if let ServerRead::Answered { serial, .. } = &mut server.read {
            *serial = new;
        }
        server
    }

    /// `server` serving `record` at `ttl` instead.
    fn with_ttl(mut server: ServerObservation, record: &str, ttl: u32) -> ServerObservation {
        if let ServerRead::Answered { rrsets, .. } = &mut server.read {
            if let Ok(served) = &mut rrsets[0].result {
                served.insert(record.to_owned(), ttl);
            }
        }
        server
    }

    #[test]
    fn a_ttl_not_yet_replicated_is_a_difference_at_the_same_serial() {
        // A secondary with the primary's serial but another TTL (a zone
        // edited without raising its serial), and on AD a DC that has not
        // replicated a `--set-ttl` yet: the records agree, their TTLs not.
        for multi_master in [MultiMaster::No, MultiMaster::Yes] {
            let mut zone = zone(vec![
                with_ttl(
                    server("ns1.corp.example.", true, Ok(&[KMS1, KMS2])),
                    KMS1,
                    600,
                ),
                server("ns2.corp.example.", false, Ok(&[KMS1, KMS2])),
            ]);
            zone.multi_master = multi_master.clone();
            let comparison = compare(&zone);
            assert!(!comparison.converged, "{multi_master:?}: {comparison:?}");
            let ns2 = &comparison.servers[1];
            assert_eq!(ns2.state, ServerState::Differs, "{multi_master:?}");
            let rrset = &ns2.rrsets[0];
            assert!(rrset.differs() && !rrset.records_differ(), "{rrset:?}");
            assert_eq!(
                rrset.ttl_differs,
                [TtlDifference {
                    record: KMS1.to_owned(),
                    ttl: 3600,
                    reference_ttl: 600,
                }]
            );
            // Once it serves the reference's TTL, the zone has converged.
            zone.servers[1] = with_ttl(zone.servers[1].clone(), KMS1, 600);
            assert!(compare(&zone).converged, "{multi_master:?}");
        }
    }

    #[test]
    fn per_record_ttls_that_agree_converge() {
        // AD keeps a TTL per record: mixed TTLs served alike everywhere
        // are in sync; a missing record is not also a TTL difference.
        let dc1 = with_ttl(
            server("dc1.corp.example.", true, Ok(&[KMS1, KMS2])),
            KMS2,
            600,
        );
        let dc2 = with_ttl(
            server("dc2.corp.example.", false, Ok(&[KMS1, KMS2])),
            KMS2,
            600,
        );
        assert!(compare(&zone(vec![dc1.clone(), dc2])).converged);
        let lagging = with_ttl(server("dc2.corp.example.", false, Ok(&[KMS2])), KMS2, 600);
        let comparison = compare(&zone(vec![dc1, lagging]));
        let rrset = &comparison.servers[1].rrsets[0];
        assert_eq!(rrset.missing, [KMS1]);
        assert!(rrset.ttl_differs.is_empty(), "{rrset:?}");
    }

    #[test]
    fn multi_master_zones_compare_records_never_serials() {
        // Two AD DCs: each its own serial, the same records.
        let mut zone = zone(vec![
            with_serial(server("dc1.corp.example.", true, Ok(&[KMS1])), 110),
            with_serial(server("dc2.corp.example.", false, Ok(&[KMS1])), 7),
        ]);
        zone.multi_master = MultiMaster::Yes;
        let comparison = compare(&zone);
        assert!(comparison.converged, "{comparison:?}");
        assert_eq!(comparison.servers[1].state, ServerState::InSync);
        assert_eq!(comparison.servers[1].behind, None);
        // A record not yet replicated to dc2: it differs, whatever the
        // serials say, and is named.
        zone.servers[0] = with_serial(server("dc1.corp.example.", true, Ok(&[KMS1, KMS2])), 110);
        let comparison = compare(&zone);
        assert!(!comparison.converged);
        assert_eq!(comparison.servers[1].state, ServerState::Differs);
        assert_eq!(
            comparison.servers[1].rrsets[0].missing,
            vec![KMS2.to_owned()]
        );
        // The same zone without multi-master is a serial lag.
        zone.multi_master = MultiMaster::No;
        assert_eq!(compare(&zone).servers[1].state, ServerState::Behind);
    }

    #[test]
    fn an_unknown_multi_master_compares_no_serials() {
        // The locator read failed: a serial behind proves nothing, only
        // records are compared.
        let mut zone = zone(vec![
            with_serial(server("dc1.corp.example.", true, Ok(&[KMS1])), 110),
            with_serial(server("dc2.corp.example.", false, Ok(&[KMS1])), 7),
        ]);
        zone.multi_master = MultiMaster::Unknown("timed out".into());
        let comparison = compare(&zone);
        assert_eq!(comparison.servers[1].state, ServerState::InSync);
        assert_eq!(comparison.servers[1].behind, None);
    }

    #[test]
    fn equal_serials_and_records_converge() {
        let zone = zone(vec![
            server("ns1.corp.example.", true, Ok(&[KMS1])),
            server("ns2.corp.example.", false, Ok(&[KMS1])),
        ]);
        assert!(compare(&zone).converged);
    }

    #[test]
    fn an_unread_rrset_at_the_reference_is_not_convergence() {
        // The primary's SRV read failed: the secondary has nothing to be
        // compared with, which proves nothing.
        let zone = zone(vec![
            server("ns1.corp.example.", true, Err("SERVFAIL")),
            server("ns2.corp.example.", false, Ok(&[KMS1])),
        ]);
        let comparison = compare(&zone);
        assert!(!comparison.converged, "{comparison:?}");
    }
}
