//! Which zone holds a name, where its primary is, which servers serve it.
//!
//! RFC 2136 §4: an update goes to the zone's primary, named by the MNAME of
//! the zone's SOA. The zone itself is found from the SOA query for the
//! name: a zone apex answers with its SOA; any name below it (existing or
//! not) gets a negative answer with the zone's SOA in the authority
//! section (RFC 2308 §3). So `_vlmcs._tcp.branch.secure.example.` in zone
//! `secure.example.` is found in one query, whether `branch` exists or not.
//!
//! Replication checks need every server of the zone: the NS set (RFC 1034
//! §4.2.1), each name resolved to all its A and AAAA records.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use futures_util::future::join_all;
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, RecordType};

use super::query::{query, QueryError, ReplyError};
use super::resolver::{AnswerStatus, LookupError, Resolver};
use super::DnsOptions;

/// Where updates for a domain go, when not found from the SOA (the
/// configuration's `server =`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSpec {
    /// An address; the port is `--dns-port` unless given.
    Addr { ip: IpAddr, port: Option<u16> },
    /// A host name, resolved when used.
    Name(Name),
}

impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerSpec::Addr {
                ip,
                port: Some(port),
            } => write!(f, "{}", SocketAddr::new(*ip, *port)),
            ServerSpec::Addr { ip, port: None } => write!(f, "{ip}"),
            ServerSpec::Name(name) => write!(f, "{name}"),
        }
    }
}

/// A zone's SOA, found for a name inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSoa {
    /// The zone (the owner of the SOA).
    pub zone: Name,
    /// The primary server's name (MNAME).
    pub mname: Name,
    /// The mailbox of the zone's administrator (RNAME).
    pub rname: Name,
    pub serial: u32,
    /// Seconds (RFC 1035 §3.3.13).
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// The negative-answer TTL (RFC 2308 §4).
    pub minimum: u32,
}

impl ZoneSoa {
    fn new(zone: &Name, soa: &SOA) -> Self {
        // The wire fields are unsigned 32-bit (RFC 1035 §3.3.13); hickory
        // stores some as i32, so take the bits back as they were sent.
        let unsigned = |value: i32| u32::from_be_bytes(value.to_be_bytes());
        ZoneSoa {
            zone: zone.clone(),
            mname: soa.mname().clone(),
            rname: soa.rname().clone(),
            serial: soa.serial(),
            refresh: unsigned(soa.refresh()),
            retry: unsigned(soa.retry()),
            expire: unsigned(soa.expire()),
            minimum: soa.minimum(),
        }
    }
}

/// A zone and where to send its updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    pub zone: Name,
    pub mname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    /// Where updates go: every A/AAAA of MNAME at `dns_port`, or the
    /// explicitly configured server ([`find_zone_at`]).
    pub primary: Vec<SocketAddr>,
}

impl ZoneInfo {
    fn new(soa: ZoneSoa, primary: Vec<SocketAddr>) -> Self {
        ZoneInfo {
            zone: soa.zone,
            mname: soa.mname,
            serial: soa.serial,
            refresh: soa.refresh,
            retry: soa.retry,
            expire: soa.expire,
            minimum: soa.minimum,
            primary,
        }
    }
}

/// One server of a zone's NS set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameServer {
    /// The NS target.
    pub name: Name,
    /// All its addresses at `dns_port`, or why they are unknown; an empty
    /// list means the name has no A/AAAA (a lame delegation).
    pub addresses: Result<Vec<SocketAddr>, LookupError>,
}

/// Why the zone or its servers could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("cannot find the zone of {name}: {source}")]
    Lookup { name: Name, source: LookupError },
    #[error("cannot find the zone of {name}: {source}")]
    Query { name: Name, source: QueryError },
    #[error("cannot find the zone of {name}: {source}")]
    Reply { name: Name, source: ReplyError },
    #[error("{via} sent no SOA for {name}, so its zone is unknown")]
    NoSoa { name: Name, via: String },
    #[error("{via} answered with the SOA of {owner}, which does not contain {name}")]
    SoaOutsideName {
        name: Name,
        owner: Name,
        via: String,
    },
    #[error("the primary {mname} of zone {zone} (its SOA MNAME) has {}; configure the server to send updates to", if *nxdomain { "no such name" } else { "no A or AAAA record" })]
    NoPrimaryAddress {
        zone: Name,
        mname: Name,
        nxdomain: bool,
    },
    #[error("cannot find the address of {mname}, primary of zone {zone}: {source}")]
    PrimaryLookup {
        zone: Name,
        mname: Name,
        source: LookupError,
    },
    #[error("cannot read the NS records of zone {zone}: {source}")]
    NsLookup { zone: Name, source: LookupError },
    #[error("{via} has no NS records for zone {zone}")]
    NoNameServers { zone: Name, via: String },
    #[error("cannot find the address of the configured server {host}: {source}")]
    ServerLookup { host: Name, source: LookupError },
    #[error("the configured server {host} has no A or AAAA record")]
    ServerNoAddress { host: Name },
}

/// The address of a configured server: its own, at `opts.dns_port` unless
/// it names a port, or the first address of its name.
pub async fn server_address(
    spec: &ServerSpec,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> Result<SocketAddr, DiscoveryError> {
    match spec {
        ServerSpec::Addr { ip, port } => Ok(SocketAddr::new(*ip, port.unwrap_or(opts.dns_port))),
        ServerSpec::Name(host) => resolver
            .addresses(host)
            .await
            .map_err(|source| DiscoveryError::ServerLookup {
                host: host.clone(),
                source,
            })?
            .socket_addrs(opts.dns_port)
            .into_iter()
            .next()
            .ok_or_else(|| DiscoveryError::ServerNoAddress { host: host.clone() }),
    }
}

/// The zone that holds `name` and where its updates go: the configured
/// `server` when there is one ([`find_zone_at`]), else the primary named by
/// the SOA MNAME ([`find_zone`], RFC 2136 §4).
pub async fn find_primary(
    name: &Name,
    server: Option<&ServerSpec>,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> Result<ZoneInfo, DiscoveryError> {
    match server {
        None => find_zone(name, resolver, opts).await,
        Some(spec) => {
            let server = server_address(spec, resolver, opts).await?;
            find_zone_at(server, name, opts).await
        }
    }
}

/// The zone that holds `name` and its SOA, as `resolver` sees it.
pub async fn find_zone_soa(name: &Name, resolver: &Resolver) -> Result<ZoneSoa, DiscoveryError> {
    let mut name = name.clone();
    name.set_fqdn(true);
    let answer = resolver
        .soa(&name)
        .await
        .map_err(|source| DiscoveryError::Lookup {
            name: name.clone(),
            source,
        })?;
    let found = answer
        .records
        .iter()
        .chain(answer.soa.as_ref())
        .find_map(|record| match record.data() {
            RData::SOA(soa) => Some(ZoneSoa::new(record.name(), soa)),
            _ => None,
        });
    let via = resolver.via().to_owned();
    let Some(soa) = found else {
        return Err(DiscoveryError::NoSoa { name, via });
    };
    if !soa.zone.zone_of(&name) {
        return Err(DiscoveryError::SoaOutsideName {
            name,
            owner: soa.zone,
            via,
        });
    }
    Ok(soa)
}

/// The zone that holds `name` and its primary (RFC 2136 §4): the SOA
/// through `resolver`, then every A and AAAA of MNAME at `opts.dns_port`.
pub async fn find_zone(
    name: &Name,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> Result<ZoneInfo, DiscoveryError> {
    let soa = find_zone_soa(name, resolver).await?;
    let addresses =
        resolver
            .addresses(&soa.mname)
            .await
            .map_err(|source| DiscoveryError::PrimaryLookup {
                zone: soa.zone.clone(),
                mname: soa.mname.clone(),
                source,
            })?;
    let primary = addresses.socket_addrs(opts.dns_port);
    if primary.is_empty() {
        return Err(DiscoveryError::NoPrimaryAddress {
            zone: soa.zone,
            mname: soa.mname,
            nxdomain: addresses.ipv4.status == AnswerStatus::NxDomain,
        });
    }
    Ok(ZoneInfo::new(soa, primary))
}

/// The zone that holds `name`, asking the configured `server` directly
/// (RD clear, AA required); updates then go to that server, whatever MNAME
/// says (a hidden primary, or a primary that clients cannot resolve).
pub async fn find_zone_at(
    server: SocketAddr,
    name: &Name,
    opts: &DnsOptions,
) -> Result<ZoneInfo, DiscoveryError> {
    let mut name = name.clone();
    name.set_fqdn(true);
    let response = query(server, &name, RecordType::SOA, opts)
        .await
        .map_err(|source| DiscoveryError::Query {
            name: name.clone(),
            source,
        })?;
    response.status().map_err(|source| DiscoveryError::Reply {
        name: name.clone(),
        source,
    })?;
    let via = format!("server {server}");
    let Some((owner, soa)) = response.zone_soa() else {
        return Err(DiscoveryError::NoSoa { name, via });
    };
    let soa = ZoneSoa::new(owner, soa);
    if !soa.zone.zone_of(&name) {
        return Err(DiscoveryError::SoaOutsideName {
            name,
            owner: soa.zone,
            via,
        });
    }
    Ok(ZoneInfo::new(soa, vec![server]))
}

/// Every server of `zone`'s NS set with all its addresses at
/// `opts.dns_port`, in the order of the NS answer. A server whose address
/// lookup fails is listed with the error, so one bad name does not hide
/// the others.
pub async fn authoritative_servers(
    zone: &Name,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> Result<Vec<NameServer>, DiscoveryError> {
    let mut zone = zone.clone();
    zone.set_fqdn(true);
    let answer = resolver
        .lookup(&zone, RecordType::NS)
        .await
        .map_err(|source| DiscoveryError::NsLookup {
            zone: zone.clone(),
            source,
        })?;
    let mut names: Vec<Name> = Vec::new();
    for record in &answer.records {
        if let RData::NS(ns) = record.data() {
            if !names.contains(&ns.0) {
                names.push(ns.0.clone());
            }
        }
    }
    if names.is_empty() {
        return Err(DiscoveryError::NoNameServers {
            zone,
            via: resolver.via().to_owned(),
        });
    }
    let port = opts.dns_port;
    let lookups = names.into_iter().map(|name| async move {
        let addresses = resolver
            .addresses(&name)
            .await
            .map(|found| found.socket_addrs(port));
        NameServer { name, addresses }
    });
    Ok(join_all(lookups).await)
}

/// Why a server gave no SOA serial for a zone.
#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    /// No usable reply.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A reply that does not answer for the zone (REFUSED, SERVFAIL, no
    /// AA…).
    #[error(transparent)]
    Reply(#[from] ReplyError),
    /// An authoritative answer without the zone's SOA: the server serves
    /// another zone (a parent?).
    #[error("{server} answers {status} for the SOA of {zone}: it serves another zone")]
    NoSoa {
        server: SocketAddr,
        zone: Name,
        status: AnswerStatus,
    },
}

/// The SOA serial of `zone` at `server`, RD clear and AA required.
pub async fn read_serial(
    server: SocketAddr,
    zone: &Name,
    opts: &DnsOptions,
) -> Result<u32, SerialError> {
    let response = query(server, zone, RecordType::SOA, opts).await?;
    let status = response.status()?;
    response
        .records_of(zone, RecordType::SOA)?
        .iter()
        .find_map(|record| match record.data() {
            RData::SOA(soa) => Some(soa.serial()),
            _ => None,
        })
        .ok_or_else(|| SerialError::NoSoa {
            server,
            zone: zone.clone(),
            status,
        })
}
