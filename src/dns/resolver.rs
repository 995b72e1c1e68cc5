//! What clients see: lookups through a stub resolver.
//!
//! A Windows KMS client asks its configured DNS servers with RD set (DESIGN
//! §2); [`Resolver`] does the same, to the servers of `/etc/resolv.conf` or `--resolv-conf`
//! (parsed by hickory-resolver's `system_conf`) or to one
//! `--nameserver ADDR[:PORT]`, through [`query_recursive`] — the same
//! exchange, socket pool and reply checks as every other query:
//! - the servers are asked in their configured order; a timeout, an
//!   unreachable server, REFUSED or SERVFAIL moves on to the next, and
//!   when none answers, the last failure is the lookup's error;
//! - the RA bit is not required, so an authoritative-only server
//!   (`recursion no`) works as `--nameserver` for the names it serves;
//! - NXDOMAIN and NODATA are answers ([`AnswerStatus`]); REFUSED, SERVFAIL
//!   and every other rcode are errors; a referral (NOERROR, no answer, NS
//!   and no SOA in authority) is an error, not NODATA;
//! - a CNAME chain in the answer is followed to its end, and asked again
//!   from there when the server stopped before the data (at most
//!   [`MAX_ALIASES`] aliases); every alias is kept (RFC 2782 forbids an
//!   SRV target that is an alias);
//! - there is no cache: a lookup after an UPDATE sees the new data.
//!
//! hickory-resolver's own lookup engine was used before: it opened a
//! socket per query and cost twice as much per query as kmsdns's own
//! exchange; its semantics above were checked against BIND 9.18 in
//! `tests/dns_layer.rs` and are kept.
//!
//! Commands that only read can ask for a memo of address and zone lookups
//! ([`Resolver::remembering`]): `check` asks the addresses of the same few
//! KMS hosts and of the same MNAME for every domain, `replication` those of
//! the same NS names for every zone, and the parts of `audit` would each
//! find every domain's zone again. The memo keeps each name's outcome, a
//! failure as that failure (never as "no address"), within bounds that do
//! not grow with the estate: the [`REMEMBERED_HOSTS`] host names used last,
//! and the zone lookups of one window ([`Resolver::forget_zones`]).

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::{ProtoError, ProtoErrorKind};

use super::memo::BoundedMemo;
use super::query::{query_recursive, QueryError, Response};
use super::srv::SrvAnswer;
use super::DnsOptions;
use crate::dns::search_list::RESOLV_CONF;
use crate::local_file::{self, Limit};

/// The longest CNAME chain followed (BIND's resolver stops at 16; a KMS
/// target needs none).
pub const MAX_ALIASES: usize = 8;

/// What an answer says about a name and type (RFC 2308 §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerStatus {
    /// The answer section holds data (NOERROR).
    Records,
    /// The name exists but has no record of this type (NOERROR, empty):
    /// a Windows client reports 0x8007251D.
    NoData,
    /// The name does not exist (NXDOMAIN): 0x8007232B.
    NxDomain,
}

impl fmt::Display for AnswerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AnswerStatus::Records => "records",
            AnswerStatus::NoData => "NODATA",
            AnswerStatus::NxDomain => "NXDOMAIN",
        })
    }
}

/// A successful lookup: records, or a definite "none" that says which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    /// The name asked about.
    pub name: Name,
    /// Records, NODATA or NXDOMAIN.
    pub status: AnswerStatus,
    /// The data of the type asked for (at the end of any CNAME chain).
    pub records: Vec<T>,
    /// The smallest TTL among `records`, if any.
    pub ttl: Option<u32>,
    /// CNAME records followed on the way (RFC 2782 forbids an SRV target
    /// that is an alias).
    pub aliases: Vec<Record>,
    /// The SOA of a negative answer (RFC 2308 §3), when the server sent one.
    pub soa: Option<Record>,
}

impl<T> Answer<T> {
    /// No record of the type asked for (NODATA, NXDOMAIN, or only aliases).
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl Answer<Record> {
    /// The same answer with each record turned into its data.
    fn convert<U>(self, data: impl Fn(&RData) -> Option<U>) -> Answer<U> {
        Answer {
            name: self.name,
            status: self.status,
            records: self.records.iter().filter_map(|r| data(r.data())).collect(),
            ttl: self.ttl,
            aliases: self.aliases,
            soa: self.soa,
        }
    }
}

/// All addresses of a host name, as a client would get them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    pub ipv4: Answer<Ipv4Addr>,
    pub ipv6: Answer<Ipv6Addr>,
}

impl Addresses {
    /// Neither A nor AAAA.
    pub fn is_empty(&self) -> bool {
        self.ipv4.is_empty() && self.ipv6.is_empty()
    }

    /// Every address, IPv4 first.
    pub fn ips(&self) -> Vec<IpAddr> {
        let v4 = self.ipv4.records.iter().copied().map(IpAddr::from);
        let v6 = self.ipv6.records.iter().copied().map(IpAddr::from);
        v4.chain(v6).collect()
    }

    /// Every address with `port`.
    pub fn socket_addrs(&self, port: u16) -> Vec<SocketAddr> {
        self.ips()
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect()
    }

    /// Whether the name is an alias (CNAME) for A or AAAA.
    pub fn is_alias(&self) -> bool {
        !self.ipv4.aliases.is_empty() || !self.ipv6.aliases.is_empty()
    }
}

/// A lookup that did not say whether records exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("{via} refused the query for {name} {rtype}")]
    Refused {
        via: String,
        name: Name,
        rtype: RecordType,
    },
    #[error("{via} failed to answer for {name} {rtype} (SERVFAIL)")]
    ServFail {
        via: String,
        name: Name,
        rtype: RecordType,
    },
    #[error("{via} answered {rcode} for {name} {rtype}")]
    Rcode {
        via: String,
        name: Name,
        rtype: RecordType,
        rcode: ResponseCode,
    },
    /// NOERROR with only NS records in the authority section: the server
    /// is neither recursive nor authoritative for the name.
    #[error(
        "{via} sent a referral for {name} {rtype} instead of an answer (not a recursive resolver?)"
    )]
    Referral {
        via: String,
        name: Name,
        rtype: RecordType,
    },
    #[error("no reply from {via} for {name} {rtype}")]
    Timeout {
        via: String,
        name: Name,
        rtype: RecordType,
    },
    #[error("{via} is unreachable (query for {name} {rtype}): {reason}")]
    Unreachable {
        via: String,
        name: Name,
        rtype: RecordType,
        reason: String,
    },
    #[error("lookup of {name} {rtype} through {via} failed: {reason}")]
    Failed {
        via: String,
        name: Name,
        rtype: RecordType,
        reason: String,
    },
}

/// The resolver configuration (`/etc/resolv.conf` or `--resolv-conf`) could not be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the resolver configuration: {reason}")]
pub struct ResolverSetupError {
    pub reason: String,
}

/// A `--nameserver` value that is not `ADDR` or `ADDR:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid nameserver {input:?}: expected ADDR, ADDR:PORT or [IPv6]:PORT")]
pub struct NameserverError {
    pub input: String,
}

/// Parses `--nameserver ADDR[:PORT]`: `192.0.2.1`, `192.0.2.1:5353`, `::1`,
/// `[::1]:5353`. The port defaults to 53.
pub fn parse_nameserver(input: &str) -> Result<SocketAddr, NameserverError> {
    let text = input.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, super::DEFAULT_DNS_PORT))
        .map_err(|_| NameserverError {
            input: input.to_owned(),
        })
}

/// How many host names' addresses a run remembers, those used last: an
/// estate's KMS hosts, MNAMEs and NS names are few and asked again and
/// again; a host named by one domain alone (beyond this many) is asked
/// again only if another part of its window names it after 1,024 others.
pub const REMEMBERED_HOSTS: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// Lookups remembered for a run, by name (see [`Resolver::remembering`]).
struct Memo {
    /// At most [`REMEMBERED_HOSTS`], the least recently used forgotten
    /// first.
    addresses: BoundedMemo<Name, Result<Addresses, LookupError>>,
    /// By value in one table, not each behind its own allocation: one per
    /// domain, they are freed at once by [`Resolver::forget_zones`] and
    /// leave no holes among what the run still holds (at 10,000 domains,
    /// 5 MiB more resident memory at the end of an audit). A domain's zone
    /// is looked up by one task at a time, so nobody waits for another.
    /// Keyed by the name looked up, `_vlmcs._tcp.<domain>`: no other
    /// window asks it again, so the windowed commands forget them after
    /// each window, and they hold one window's domains at most.
    soa: Mutex<HashMap<Name, Result<Answer<Record>, LookupError>>>,
}

impl Memo {
    /// A memo of the addresses of at most `hosts` names.
    fn new(hosts: NonZeroUsize) -> Memo {
        Memo {
            addresses: BoundedMemo::new(hosts),
            soa: Mutex::default(),
        }
    }
}

/// A stub resolver, as a KMS client would use (RD set, no cache).
#[derive(Clone)]
pub struct Resolver {
    /// The servers asked, in order.
    servers: Arc<[SocketAddr]>,
    opts: DnsOptions,
    via: String,
    /// Lookups remembered for the run, when asked for; shared by clones.
    memo: Option<Arc<Memo>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").field("via", &self.via).finish()
    }
}

impl Resolver {
    /// The resolver that the resolv.conf(5) at `path` describes
    /// (`--resolv-conf`, or the system's `/etc/resolv.conf`): its
    /// `nameserver` lines, in order, on port 53 as the C library asks them,
    /// with kmsdns' timeout and attempts.
    pub fn from_file(path: &Path, opts: &DnsOptions) -> Result<Self, ResolverSetupError> {
        let text =
            local_file::read(path, Limit::RESOLV_CONF).map_err(|error| ResolverSetupError {
                reason: format!("cannot read {}: {error}", path.display()),
            })?;
        Resolver::from_resolv_conf(&text, path, opts)
    }

    /// The resolver that `text`, the resolv.conf(5) read from `path`,
    /// describes: its `nameserver` lines, in order (hickory-resolver's
    /// parser).
    fn from_resolv_conf(
        text: &[u8],
        path: &Path,
        opts: &DnsOptions,
    ) -> Result<Self, ResolverSetupError> {
        let file = path.display();
        let (config, _) =
            hickory_resolver::system_conf::parse_resolv_conf(text).map_err(|error| {
                // hickory wraps the parser's words in "proto error: io
                // error:"; the I/O error inside says what is wrong.
                let reason = match error.proto().map(ProtoError::kind) {
                    Some(ProtoErrorKind::Io(cause)) => cause.to_string(),
                    _ => error.to_string(),
                };
                ResolverSetupError {
                    reason: format!("{file}: {reason}"),
                }
            })?;
        // Each server is listed twice (UDP and TCP): ask it once.
        let mut servers: Vec<SocketAddr> = Vec::new();
        for server in config.name_servers() {
            if !servers.contains(&server.socket_addr) {
                servers.push(server.socket_addr);
            }
        }
        let listed: Vec<String> = servers.iter().map(ToString::to_string).collect();
        let resolver = Resolver::with_nameservers(&servers, opts).ok_or(ResolverSetupError {
            reason: format!("{file} names no nameserver"),
        })?;
        let whose = if path == Path::new(RESOLV_CONF) {
            "the system resolver".to_owned()
        } else {
            format!("the resolver of {file}")
        };
        Ok(Resolver {
            via: format!("{whose} ({})", listed.join(", ")),
            ..resolver
        })
    }

    /// A resolver that asks only `server` (`--nameserver`), over UDP and
    /// TCP.
    pub fn with_nameserver(server: SocketAddr, opts: &DnsOptions) -> Self {
        Resolver {
            servers: Arc::new([server]),
            opts: *opts,
            via: format!("nameserver {server}"),
            memo: None,
        }
    }

    /// A resolver that asks `servers` in this order, as a client with
    /// several DNS servers configured does; `None` when there is none.
    pub fn with_nameservers(servers: &[SocketAddr], opts: &DnsOptions) -> Option<Self> {
        let listed: Vec<String> = servers.iter().map(ToString::to_string).collect();
        (!servers.is_empty()).then(|| Resolver {
            servers: servers.into(),
            opts: *opts,
            via: format!("nameservers {}", listed.join(", ")),
            memo: None,
        })
    }

    /// This resolver, remembering for as long as it or a clone lives the
    /// outcome of each [`addresses`](Self::addresses) and [`soa`](Self::soa)
    /// lookup: one lookup per name per run instead of one per domain that
    /// names it, or per part of an audit that finds the domain's zone
    /// (within [`REMEMBERED_HOSTS`] host names, and the zones until
    /// [`forget_zones`](Self::forget_zones)).
    /// Concurrent lookups of one host's addresses wait for the first
    /// instead of asking again. A failed lookup (timeout, REFUSED…) stays
    /// that failure for the run: every domain naming the host reports it,
    /// never an empty answer. Only for runs that read: nothing a run
    /// changes is looked up twice (the update probe's sentinel changes the
    /// zone's serial, never which zone holds a name nor its primary).
    pub fn remembering(mut self) -> Self {
        self.memo = Some(Arc::new(Memo::new(REMEMBERED_HOSTS)));
        self
    }

    /// The servers asked, in order.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// Who answers: "nameserver 127.0.0.1:5300", "the system resolver (…)".
    pub fn via(&self) -> &str {
        &self.via
    }

    /// Every record of `rtype` for `name`, following CNAMEs.
    pub async fn lookup(
        &self,
        name: &Name,
        rtype: RecordType,
    ) -> Result<Answer<Record>, LookupError> {
        let mut name = name.clone();
        name.set_fqdn(true);
        let mut aliases: Vec<Record> = Vec::new();
        let mut asked = name.clone();
        loop {
            let response = self.ask(&asked, rtype).await?;
            let (end, records) = follow_chain(&response, &asked, rtype, &mut aliases);
            let chained = end != asked;
            if chained && aliases.len() > MAX_ALIASES {
                return Err(self.failed(
                    &name,
                    rtype,
                    format!("more than {MAX_ALIASES} aliases (CNAME) in a chain"),
                ));
            }
            // The SOA of a negative answer (RFC 2308 §3).
            let soa = records
                .is_empty()
                .then(|| negative_soa(&response))
                .flatten();
            let status = match response.rcode() {
                ResponseCode::NoError if !records.is_empty() => AnswerStatus::Records,
                // The server stopped at an alias: ask for its target.
                ResponseCode::NoError if chained => {
                    if aliases[..aliases.len() - 1]
                        .iter()
                        .any(|alias| alias.name() == &end)
                    {
                        return Err(self.failed(&name, rtype, "a CNAME loop".to_owned()));
                    }
                    asked = end;
                    continue;
                }
                ResponseCode::NoError => {
                    let has_ns = response
                        .authority()
                        .iter()
                        .any(|record| record.record_type() == RecordType::NS);
                    if soa.is_none() && has_ns {
                        return Err(LookupError::Referral {
                            via: self.via.clone(),
                            name,
                            rtype,
                        });
                    }
                    // Neither an answer nor a negative one: records of other
                    // names only, or no SOA to say the name has no data
                    // (RFC 2308 §3). Never taken for "no records".
                    if !response.answers().is_empty() {
                        let why = "its answer holds only records of other names";
                        return Err(self.failed(&name, rtype, why.to_owned()));
                    }
                    if soa.is_none() {
                        let why = "a NODATA reply without the zone's SOA";
                        return Err(self.failed(&name, rtype, why.to_owned()));
                    }
                    AnswerStatus::NoData
                }
                ResponseCode::NXDomain => AnswerStatus::NxDomain,
                // `ask` returns no other rcode; should it, it stays an error.
                rcode => return Err(self.rcode_error(&name, rtype, rcode)),
            };
            let ttl = records.iter().map(Record::ttl).min();
            return Ok(Answer {
                name,
                status,
                records,
                ttl,
                aliases,
                soa,
            });
        }
    }

    /// Asks the servers in order for `name`/`rtype` until one answers
    /// NOERROR or NXDOMAIN.
    async fn ask(&self, name: &Name, rtype: RecordType) -> Result<Response, LookupError> {
        let mut failure = None;
        for server in self.servers.iter() {
            match query_recursive(*server, name, rtype, &self.opts).await {
                Ok(response)
                    if matches!(
                        response.rcode(),
                        ResponseCode::NoError | ResponseCode::NXDomain
                    ) =>
                {
                    return Ok(response)
                }
                Ok(response) => failure = Some(self.rcode_error(name, rtype, response.rcode())),
                Err(error) => failure = Some(self.query_error(name, rtype, error)),
            }
        }
        Err(failure.unwrap_or_else(|| self.failed(name, rtype, "no nameserver".to_owned())))
    }

    fn rcode_error(&self, name: &Name, rtype: RecordType, rcode: ResponseCode) -> LookupError {
        let (via, name) = (self.via.clone(), name.clone());
        match rcode {
            ResponseCode::Refused => LookupError::Refused { via, name, rtype },
            ResponseCode::ServFail => LookupError::ServFail { via, name, rtype },
            rcode => LookupError::Rcode {
                via,
                name,
                rtype,
                rcode,
            },
        }
    }

    fn query_error(&self, name: &Name, rtype: RecordType, error: QueryError) -> LookupError {
        let (via, name) = (self.via.clone(), name.clone());
        match error {
            QueryError::Timeout { .. } => LookupError::Timeout { via, name, rtype },
            QueryError::Silent { .. } => LookupError::Failed {
                via,
                name,
                rtype,
                reason: super::transport::SILENT_EARLIER.to_owned(),
            },
            QueryError::Unreachable { source, .. } => LookupError::Unreachable {
                via,
                name,
                rtype,
                reason: source.to_string(),
            },
            QueryError::Io { source, .. } => LookupError::Failed {
                via,
                name,
                rtype,
                reason: source.to_string(),
            },
            QueryError::Malformed { reason, .. } => LookupError::Failed {
                via,
                name,
                rtype,
                reason: format!("malformed reply: {reason}"),
            },
            QueryError::Mismatch { reason, .. } => LookupError::Failed {
                via,
                name,
                rtype,
                reason: format!("only replies that do not match the query came: {reason}"),
            },
        }
    }

    fn failed(&self, name: &Name, rtype: RecordType, reason: String) -> LookupError {
        LookupError::Failed {
            via: self.via.clone(),
            name: name.clone(),
            rtype,
            reason,
        }
    }

    /// The SRV RRset of `name` (`_vlmcs._tcp.<domain>.`).
    pub async fn srv(&self, name: &Name) -> Result<SrvAnswer, LookupError> {
        let answer = self.lookup(name, RecordType::SRV).await?;
        let (records, record_ttls) = super::srv::srv_records(&answer.records);
        // Only aliases and no SRV data is as good as none.
        let status = match answer.status {
            AnswerStatus::Records if records.is_empty() => AnswerStatus::NoData,
            status => status,
        };
        let srv: Vec<Record> = answer
            .records
            .iter()
            .filter(|record| record.record_type() == RecordType::SRV)
            .cloned()
            .collect();
        Ok(SrvAnswer {
            status,
            ttl: answer.ttl,
            records,
            ttls: super::srv::distinct_ttls(&srv),
            record_ttls,
        })
    }

    /// The SOA lookup of `name`, which finds the zone that holds it: the
    /// SOA itself at the apex, or in the authority section of a negative
    /// answer below it (RFC 2308 §3). Remembered, see
    /// [`remembering`](Self::remembering).
    pub async fn soa(&self, name: &Name) -> Result<Answer<Record>, LookupError> {
        let Some(memo) = &self.memo else {
            return self.lookup(name, RecordType::SOA).await;
        };
        let mut key = name.clone();
        key.set_fqdn(true);
        let remembered = memo
            .soa
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(outcome) = remembered {
            return outcome;
        }
        let outcome = self.lookup(name, RecordType::SOA).await;
        memo.soa
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, outcome.clone());
        outcome
    }

    /// Forgets the remembered SOA lookups, once no part of the window will
    /// find a zone again: at 10,000 domains their table is 8 MB, and the
    /// next window's domains are others.
    pub fn forget_zones(&self) {
        if let Some(memo) = &self.memo {
            // Not clear(): that keeps the table's room.
            drop(std::mem::take(
                &mut *memo.soa.lock().unwrap_or_else(PoisonError::into_inner),
            ));
        }
    }

    /// All A and AAAA addresses of `name`, asked for concurrently (or
    /// remembered, see [`remembering`](Self::remembering)).
    pub async fn addresses(&self, name: &Name) -> Result<Addresses, LookupError> {
        let Some(memo) = &self.memo else {
            return self.lookup_addresses(name).await;
        };
        let mut key = name.clone();
        key.set_fqdn(true);
        memo.addresses
            .get_or_lookup(key, || self.lookup_addresses(name))
            .await
    }

    /// Asks for the A and AAAA records of `name`, concurrently.
    async fn lookup_addresses(&self, name: &Name) -> Result<Addresses, LookupError> {
        let (a, aaaa) = tokio::join!(
            self.lookup(name, RecordType::A),
            self.lookup(name, RecordType::AAAA)
        );
        Ok(Addresses {
            ipv4: a?.convert(|data| match data {
                RData::A(a) => Some(a.0),
                _ => None,
            }),
            ipv6: aaaa?.convert(|data| match data {
                RData::AAAA(aaaa) => Some(aaaa.0),
                _ => None,
            }),
        })
    }
}

/// Follows the CNAME chain from `name` through the answer section,
/// appending each alias to `aliases`; returns the name at its end and the
/// records of `rtype` that name owns.
fn follow_chain(
    response: &Response,
    name: &Name,
    rtype: RecordType,
    aliases: &mut Vec<Record>,
) -> (Name, Vec<Record>) {
    let answers = response.answers();
    let mut end = name.clone();
    // Bounded by the answer section: a loop within it ends here and is
    // reported by the caller.
    for _ in 0..answers.len() {
        let next = answers.iter().find_map(|record| match record.data() {
            RData::CNAME(target) if record.name() == &end && rtype != RecordType::CNAME => {
                Some((record, target.0.clone()))
            }
            _ => None,
        });
        let Some((alias, target)) = next else { break };
        aliases.push(alias.clone());
        end = target;
        if aliases.len() > MAX_ALIASES {
            break;
        }
    }
    let records = answers
        .iter()
        .filter(|record| record.record_type() == rtype && record.name() == &end)
        .cloned()
        .collect();
    (end, records)
}

/// The SOA of a negative answer (RFC 2308 §3).
fn negative_soa(response: &Response) -> Option<Record> {
    response
        .authority()
        .iter()
        .find(|record| record.record_type() == RecordType::SOA)
        .cloned()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn nameserver_syntax() {
        assert_eq!(
            parse_nameserver("127.0.0.1"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 53)))
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5300"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 5300)))
        );
        assert_eq!(
            parse_nameserver("::1"),
            Ok(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 53))
        );
        assert_eq!(
            parse_nameserver("[::1]:5300"),
            Ok(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 5300))
        );
        assert_eq!(
            parse_nameserver("[::1]"),
            Ok(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 53))
        );
        assert!(parse_nameserver("ns1.example").is_err());
        assert!(parse_nameserver("127.0.0.1:99999").is_err());
    }

    #[test]
    fn the_system_resolver_asks_each_nameserver_once_in_order() {
        let opts = DnsOptions::default();
        let text = b"# written by hand\nsearch corp.example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\noptions timeout:1\n";
        let resolver =
            Resolver::from_resolv_conf(text, Path::new(RESOLV_CONF), &opts).expect("a resolver");
        let expected: [SocketAddr; 2] = [
            "192.0.2.53:53".parse().expect("address"),
            "[2001:db8::53]:53".parse().expect("address"),
        ];
        assert_eq!(&resolver.servers[..], &expected);
        assert_eq!(
            resolver.via(),
            "the system resolver (192.0.2.53:53, [2001:db8::53]:53)"
        );
    }

    #[test]
    fn a_resolv_conf_without_a_usable_nameserver_is_a_clear_error() {
        let opts = DnsOptions::default();
        let cases: [(&[u8], &str); 3] = [
            (b"", "no nameservers found"),
            (b"search corp.example\n", "no nameservers found"),
            (b"nameserver not-an-address\n", "invalid IP address"),
        ];
        for (text, why) in cases {
            let error = Resolver::from_resolv_conf(text, Path::new(RESOLV_CONF), &opts)
                .expect_err("no resolver");
            let message = error.to_string();
            assert!(
                message.starts_with("cannot use the resolver configuration: /etc/resolv.conf: ")
                    && message.contains(why)
                    && !message.contains("proto error"),
                "{message}"
            );
        }
    }

    /// A server on loopback that answers every query REFUSED, at once,
    /// and counts the queries it got.
    fn refusing_server() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let server = socket.local_addr().expect("address");
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buffer) {
                counted.fetch_add(1, Ordering::SeqCst);
                // The query back, QR set and RCODE 5 (REFUSED): its ID and
                // question match.
                buffer[2] |= 0x80;
                buffer[3] = (buffer[3] & 0xf0) | 5;
                let _ = socket.send_to(&buffer[..len], from);
            }
        });
        (server, count)
    }

    /// The address memo holds at most its bound, forgets the host used
    /// least recently, and a host it holds is not asked again.
    #[tokio::test]
    async fn the_address_memo_is_bounded_and_keeps_the_hosts_used_last() {
        use std::sync::atomic::Ordering;
        let (server, asked) = refusing_server();
        let opts = DnsOptions {
            timeout: Duration::from_secs(2),
            attempts: 1,
            ..DnsOptions::default()
        };
        let mut resolver = Resolver::with_nameserver(server, &opts);
        let memo = Arc::new(Memo::new(NonZeroUsize::new(2).expect("two")));
        resolver.memo = Some(Arc::clone(&memo));
        let host = |name: &str| Name::from_ascii(name).expect("name");
        // Each lookup not remembered asks A and AAAA.
        let queries_for = |resolver: &Resolver, name: &'static str| {
            let (resolver, asked) = (resolver.clone(), Arc::clone(&asked));
            async move {
                let before = asked.load(Ordering::SeqCst);
                let outcome = resolver.addresses(&host(name)).await;
                assert!(
                    matches!(outcome, Err(LookupError::Refused { .. })),
                    "{outcome:?}"
                );
                asked.load(Ordering::SeqCst) - before
            }
        };
        assert_eq!(queries_for(&resolver, "a.example.").await, 2);
        assert_eq!(queries_for(&resolver, "b.example.").await, 2);
        assert_eq!(queries_for(&resolver, "a.example.").await, 0, "a hit");
        // A third host: b, used least recently, goes.
        assert_eq!(queries_for(&resolver, "c.example.").await, 2);
        assert_eq!(memo.addresses.len(), 2, "the bound holds");
        assert_eq!(queries_for(&resolver, "a.example.").await, 0, "still a hit");
        assert_eq!(queries_for(&resolver, "c.example.").await, 0, "a hit");
        assert_eq!(queries_for(&resolver, "b.example.").await, 2, "forgotten");
    }

    /// A remembered failure is that failure again, at once: never an empty
    /// answer, and not a second wait for a server that does not answer.
    #[tokio::test]
    async fn remembered_lookups_keep_failures_as_failures() {
        // Bound and never read: queries to it go unanswered.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let opts = DnsOptions {
            timeout: Duration::from_millis(300),
            attempts: 1,
            ..DnsOptions::default()
        };
        let server = silent.local_addr().expect("address");
        let resolver = Resolver::with_nameserver(server, &opts).remembering();
        let name = Name::from_ascii("kms1.corp.example.").expect("name");
        let first = resolver.addresses(&name).await;
        assert!(first.is_err(), "no answer must be an error: {first:?}");
        let first_soa = resolver.soa(&name).await;
        assert!(
            first_soa.is_err(),
            "no answer must be an error: {first_soa:?}"
        );
        let started = std::time::Instant::now();
        // A clone shares the memo, and case does not matter.
        let upper = Name::from_ascii("KMS1.Corp.Example.").expect("name");
        let again = resolver.clone().addresses(&upper).await;
        assert_eq!(again, first);
        assert_eq!(resolver.clone().soa(&upper).await, first_soa);
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "the failure was asked again: {:?}",
            started.elapsed()
        );
        // Without the memo, the same lookups ask (and wait) again.
        let plain = Resolver::with_nameserver(server, &opts);
        let started = std::time::Instant::now();
        assert!(plain.addresses(&name).await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(250));
        let started = std::time::Instant::now();
        assert!(plain.soa(&name).await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(250));
        // Forgotten zone lookups are asked again; addresses stay known.
        resolver.forget_zones();
        let started = std::time::Instant::now();
        assert_eq!(resolver.addresses(&name).await, first);
        assert!(started.elapsed() < Duration::from_millis(250));
        assert!(resolver.soa(&name).await.is_err());
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "the forgotten zone lookup was not asked again"
        );
    }
}
