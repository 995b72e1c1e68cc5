//! What clients see: lookups through a stub resolver (hickory-resolver).
//!
//! A Windows KMS client asks its configured DNS servers with RD set (DESIGN
//! §2); [`Resolver`] does the same, from `/etc/resolv.conf` or from one
//! `--nameserver ADDR[:PORT]`.
//!
//! hickory-resolver 0.25.2 facts this module relies on (read in its source
//! and checked against BIND 9.18 in `tests/dns_layer.rs`):
//! - it does not look at the RA bit, so an authoritative-only server
//!   (`recursion no`) works as `--nameserver` for the names it serves;
//! - NXDOMAIN, NODATA *and* REFUSED/SERVFAIL all come back as
//!   `Err(NoRecordsFound { response_code, soa, .. })`: the code is mapped
//!   here so that REFUSED and SERVFAIL are errors and only NXDOMAIN and
//!   NODATA are empty answers ([`AnswerStatus`]);
//! - a referral (NOERROR, no SOA, NS in authority) also comes back as
//!   NoRecordsFound with NOERROR: it is an error here, not NODATA;
//! - names under `localhost.` and `.invalid.` are answered locally
//!   (RFC 6761) without a query;
//! - its cache is switched off (size 0 and a zero maximum TTL), so a lookup
//!   after an UPDATE sees the new data.
//!
//! Commands that only read can ask for a per-run memo of address lookups
//! ([`Resolver::remembering_addresses`]): `check` asks the addresses of the
//! same few KMS hosts and of the same MNAME for every domain, `replication`
//! those of the same NS names for every zone. The memo keeps each name's
//! outcome for the run, a failure as that failure (never as "no address").

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::ProtoErrorKind;
use hickory_resolver::config::{
    NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts, ServerOrderingStrategy,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, TokioResolver};
use tokio::sync::OnceCell;

use super::DnsOptions;

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

/// The system resolver configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot use the system resolver configuration: {reason}")]
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

/// The outcome of one name's address lookup, shared by every task that
/// asks for it during a run.
type AddressOutcome = Arc<OnceCell<Result<Addresses, LookupError>>>;

/// A stub resolver, as a KMS client would use (RD set, cache off).
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
    via: String,
    /// Address lookups remembered for the run, when asked for; shared by
    /// clones.
    memo: Option<Arc<Mutex<HashMap<Name, AddressOutcome>>>>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver").field("via", &self.via).finish()
    }
}

impl Resolver {
    /// The resolver of this machine (`/etc/resolv.conf`), with kmsdns'
    /// timeout and attempts.
    pub fn from_system(opts: &DnsOptions) -> Result<Self, ResolverSetupError> {
        let mut builder = TokioResolver::builder_tokio().map_err(|error| ResolverSetupError {
            reason: error.to_string(),
        })?;
        configure(builder.options_mut(), opts);
        let inner = builder.build();
        // Each server is listed twice (UDP and TCP): name it once.
        let mut servers: Vec<String> = Vec::new();
        for server in inner.config().name_servers() {
            let addr = server.socket_addr.to_string();
            if !servers.contains(&addr) {
                servers.push(addr);
            }
        }
        let via = format!("the system resolver ({})", servers.join(", "));
        Ok(Resolver {
            inner,
            via,
            memo: None,
        })
    }

    /// A resolver that asks only `server` (`--nameserver`), over UDP and
    /// TCP.
    pub fn with_nameserver(server: SocketAddr, opts: &DnsOptions) -> Self {
        let group = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
        let config = ResolverConfig::from_parts(None, Vec::new(), group);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        configure(builder.options_mut(), opts);
        Resolver {
            inner: builder.build(),
            via: format!("nameserver {server}"),
            memo: None,
        }
    }

    /// This resolver, remembering for as long as it or a clone lives the
    /// outcome of each [`addresses`](Self::addresses) lookup: one lookup per
    /// name per run instead of one per domain that names it. Concurrent
    /// lookups of one name wait for the first instead of asking again. A
    /// failed lookup (timeout, REFUSED…) stays that failure for the run:
    /// every domain naming the host reports it, never an empty answer.
    /// Only for runs that read: nothing a run changes is looked up twice.
    pub fn remembering_addresses(mut self) -> Self {
        self.memo = Some(Arc::default());
        self
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
        let error = match self.inner.lookup(name.clone(), rtype).await {
            Ok(lookup) => {
                let (records, aliases): (Vec<Record>, Vec<Record>) = lookup
                    .records()
                    .iter()
                    .filter(|record| {
                        record.record_type() == rtype || record.record_type() == RecordType::CNAME
                    })
                    .cloned()
                    .partition(|record| record.record_type() == rtype);
                let ttl = records.iter().map(Record::ttl).min();
                let status = if records.is_empty() {
                    AnswerStatus::NoData
                } else {
                    AnswerStatus::Records
                };
                return Ok(Answer {
                    name,
                    status,
                    records,
                    ttl,
                    aliases,
                    soa: None,
                });
            }
            Err(error) => error,
        };
        self.negative(name, rtype, error)
    }

    /// The SRV RRset of `name` (`_vlmcs._tcp.<domain>.`).
    pub async fn srv(&self, name: &Name) -> Result<Answer<SRV>, LookupError> {
        let answer = self.lookup(name, RecordType::SRV).await?;
        Ok(answer.convert(|data| match data {
            RData::SRV(srv) => Some(srv.clone()),
            _ => None,
        }))
    }

    /// All A and AAAA addresses of `name`, asked for concurrently (or
    /// remembered, see [`remembering_addresses`](Self::remembering_addresses)).
    pub async fn addresses(&self, name: &Name) -> Result<Addresses, LookupError> {
        let Some(memo) = &self.memo else {
            return self.lookup_addresses(name).await;
        };
        let mut key = name.clone();
        key.set_fqdn(true);
        let outcome: AddressOutcome = memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default()
            .clone();
        outcome
            .get_or_init(|| self.lookup_addresses(name))
            .await
            .clone()
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

    /// Sorts hickory's errors into "definitely none" and "don't know".
    fn negative(
        &self,
        name: Name,
        rtype: RecordType,
        error: ResolveError,
    ) -> Result<Answer<Record>, LookupError> {
        let via = self.via.clone();
        let Some(proto) = error.proto() else {
            return Err(LookupError::Failed {
                via,
                name,
                rtype,
                reason: error.to_string(),
            });
        };
        match proto.kind() {
            ProtoErrorKind::NoRecordsFound {
                response_code,
                soa,
                ns,
                ..
            } => {
                let status = match *response_code {
                    ResponseCode::NXDomain => AnswerStatus::NxDomain,
                    // A referral has NS records and no SOA in authority; a
                    // real NODATA carries the SOA (RFC 2308 §2.2).
                    ResponseCode::NoError if soa.is_none() && ns.is_some() => {
                        return Err(LookupError::Referral { via, name, rtype })
                    }
                    ResponseCode::NoError => AnswerStatus::NoData,
                    ResponseCode::Refused => return Err(LookupError::Refused { via, name, rtype }),
                    ResponseCode::ServFail => {
                        return Err(LookupError::ServFail { via, name, rtype })
                    }
                    rcode => {
                        return Err(LookupError::Rcode {
                            via,
                            name,
                            rtype,
                            rcode,
                        })
                    }
                };
                Ok(Answer {
                    name,
                    status,
                    records: Vec::new(),
                    ttl: None,
                    aliases: Vec::new(),
                    soa: soa
                        .as_ref()
                        .map(|soa| soa.as_ref().clone().into_record_of_rdata()),
                })
            }
            ProtoErrorKind::Timeout => Err(LookupError::Timeout { via, name, rtype }),
            ProtoErrorKind::Io(io) => Err(LookupError::Unreachable {
                via,
                name,
                rtype,
                reason: io.to_string(),
            }),
            ProtoErrorKind::NoConnections => Err(LookupError::Unreachable {
                via,
                name,
                rtype,
                reason: "no connection could be made".to_owned(),
            }),
            _ => Err(LookupError::Failed {
                via,
                name,
                rtype,
                reason: error.to_string(),
            }),
        }
    }
}

/// The options every kmsdns resolver shares.
fn configure(options: &mut ResolverOpts, opts: &DnsOptions) {
    options.timeout = opts.timeout;
    // hickory counts retries after the first try.
    options.attempts = usize::try_from(opts.tries().saturating_sub(1)).unwrap_or(0);
    // No cache: every lookup asks (a cached answer would hide an update).
    options.cache_size = 0;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    // DNS only: KMS clients find hosts through DNS, not /etc/hosts.
    options.use_hosts_file = ResolveHosts::Never;
    options.edns0 = true;
    options.recursion_desired = true;
    options.preserve_intermediates = true;
    options.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
}

#[cfg(test)]
mod tests {
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
        let resolver = Resolver::with_nameserver(server, &opts).remembering_addresses();
        let name = Name::from_ascii("kms1.corp.example.").expect("name");
        let first = resolver.addresses(&name).await;
        assert!(first.is_err(), "no answer must be an error: {first:?}");
        let started = std::time::Instant::now();
        // A clone shares the memo, and case does not matter.
        let upper = Name::from_ascii("KMS1.Corp.Example.").expect("name");
        let again = resolver.clone().addresses(&upper).await;
        assert_eq!(again, first);
        assert!(
            started.elapsed() < Duration::from_millis(250),
            "the failure was asked again: {:?}",
            started.elapsed()
        );
        // Without the memo, the same lookup asks (and waits) again.
        let plain = Resolver::with_nameserver(server, &opts);
        let started = std::time::Instant::now();
        assert!(plain.addresses(&name).await.is_err());
        assert!(started.elapsed() >= Duration::from_millis(250));
    }
}
