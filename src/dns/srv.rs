//! The `_vlmcs._tcp` SRV records (RFC 2782) that KMS clients look up: the
//! owner name, one record, an RRset as read, and the one authoritative
//! read of it ([`read_srv`]) every command uses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::query::{query, QueryError, ReplyError};
use super::resolver::AnswerStatus;
use super::DnsOptions;

/// One `_vlmcs._tcp` SRV record: what the configuration wants, or what a
/// server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name,
}

impl SrvRecord {
    /// The record as a line of a zone file (RFC 1035 §5.1) without its
    /// newline: `<owner> <ttl> IN SRV <priority> <weight> <port> <target>`,
    /// as BIND's zone files, `nsupdate` and `dig` write it.
    pub fn presentation(&self, owner: &Name, ttl: u32) -> String {
        format!("{} {ttl} IN SRV {self}", owner.to_ascii())
    }
}

/// The RDATA in presentation format (RFC 2782): `<priority> <weight>
/// <port> <target>`, the target as an absolute ASCII name.
impl std::fmt::Display for SrvRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.priority,
            self.weight,
            self.port,
            self.target.to_ascii()
        )
    }
}

impl From<&SRV> for SrvRecord {
    fn from(srv: &SRV) -> Self {
        SrvRecord {
            priority: srv.priority(),
            weight: srv.weight(),
            port: srv.port(),
            target: srv.target().clone(),
        }
    }
}

/// `_vlmcs._tcp.<domain>`.
pub fn srv_owner(domain: &Name) -> Name {
    let mut owner = Name::from_ascii("_vlmcs._tcp")
        .and_then(|prefix| prefix.append_domain(domain))
        .unwrap_or_else(|_| domain.clone());
    owner.set_fqdn(true);
    owner
}

/// `priority weight port target.` with the target in lower case: DNS
/// names compare case-insensitively, and servers keep the case they were
/// given.
pub fn record_key(record: &SrvRecord) -> String {
    record.to_string().to_ascii_lowercase()
}

/// A `_vlmcs._tcp` RRset as read from a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SrvRrset {
    /// TTL of the RRset (the smallest, should the records disagree);
    /// `None` when it does not exist.
    pub ttl: Option<u32>,
    pub records: Vec<SrvRecord>,
    /// Every TTL its records carry, sorted, once each. More than one is an
    /// RRset whose records disagree (see [`SrvRrset::mixed_ttls`]).
    pub ttls: Vec<u32>,
    /// Each record's own TTL, in the order of `records`: Active
    /// Directory keeps a TTL per record, so a `--set-ttl` that re-adds
    /// only our records leaves other hosts' records at theirs.
    pub record_ttls: Vec<u32>,
}

impl SrvRrset {
    /// The RRset of `served` records, each with its own TTL.
    pub fn served(served: Vec<(SrvRecord, u32)>) -> Self {
        let record_ttls: Vec<u32> = served.iter().map(|(_, ttl)| *ttl).collect();
        let ttls: BTreeSet<u32> = record_ttls.iter().copied().collect();
        SrvRrset {
            ttl: ttls.first().copied(),
            records: served.into_iter().map(|(record, _)| record).collect(),
            ttls: ttls.into_iter().collect(),
            record_ttls,
        }
    }

    /// Whether its records carry different TTLs: normal in Active
    /// Directory, which keeps a TTL per record; elsewhere RFC 2181 §5.2
    /// forbids it, and BIND gives the whole RRset the TTL of any add (RFC
    /// 2136 §3.4.2.2), so it can only be a moment's or a non-conforming
    /// server's.
    pub fn mixed_ttls(&self) -> bool {
        self.ttls.len() > 1
    }

    /// The TTL `record` is served with, if it is served.
    pub fn ttl_of(&self, record: &SrvRecord) -> Option<u32> {
        record_ttl(&self.records, &self.record_ttls, record)
    }
}

/// The TTL of `record` among `records`, whose TTLs are `ttls` in order.
fn record_ttl(records: &[SrvRecord], ttls: &[u32], record: &SrvRecord) -> Option<u32> {
    records
        .iter()
        .position(|r| r == record)
        .and_then(|i| ttls.get(i).copied())
}

/// Every TTL of `records`, sorted, once each.
pub fn distinct_ttls(records: &[Record]) -> Vec<u32> {
    let ttls: BTreeSet<u32> = records.iter().map(Record::ttl).collect();
    ttls.into_iter().collect()
}

/// An SRV RRset as one source served it: records, or NODATA / NXDOMAIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvAnswer {
    pub status: AnswerStatus,
    /// The RRset's TTL (the smallest, should the records disagree).
    pub ttl: Option<u32>,
    pub records: Vec<SrvRecord>,
    /// Every TTL of its records (see [`SrvRrset::ttls`]).
    pub ttls: Vec<u32>,
    /// Each record's own TTL (see [`SrvRrset::record_ttls`]).
    pub record_ttls: Vec<u32>,
}

impl SrvAnswer {
    /// The records as comparable keys (see [`record_key`]).
    pub fn keys(&self) -> BTreeSet<String> {
        self.records.iter().map(record_key).collect()
    }

    /// Each record as a comparable key (see [`record_key`]) with the TTL
    /// it is served with (its own: AD keeps one per record).
    pub fn keyed_ttls(&self) -> BTreeMap<String, u32> {
        self.records
            .iter()
            .map(record_key)
            .zip(self.record_ttls.iter().copied())
            .collect()
    }

    /// The TTL `record` is served with, if it is served.
    pub fn ttl_of(&self, record: &SrvRecord) -> Option<u32> {
        record_ttl(&self.records, &self.record_ttls, record)
    }

    /// Whether its records carry different TTLs (see
    /// [`SrvRrset::mixed_ttls`]).
    pub fn mixed_ttls(&self) -> bool {
        self.ttls.len() > 1
    }

    /// The RRset without the answer's status.
    pub fn into_rrset(self) -> SrvRrset {
        SrvRrset {
            ttl: self.ttl,
            records: self.records,
            ttls: self.ttls,
            record_ttls: self.record_ttls,
        }
    }
}

/// An SRV read at one server that gave no answer, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {owner} SRV from {server}: {reason}")]
pub struct ReadError {
    pub owner: Name,
    pub server: SocketAddr,
    pub reason: ReadFailure,
}

/// Why an authoritative read gave no answer: no usable reply, or a reply
/// that does not answer for the zone (REFUSED, SERVFAIL, no AA…).
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Reply(#[from] ReplyError),
}

/// The SRV RRset of `owner` at `server`, RD clear and AA required: a
/// refused, failed, non-authoritative or silent read is an error, never
/// "no records".
pub async fn read_srv(
    server: SocketAddr,
    owner: &Name,
    opts: &DnsOptions,
) -> Result<SrvAnswer, ReadError> {
    let failed = |reason: ReadFailure| ReadError {
        owner: owner.clone(),
        server,
        reason,
    };
    let response = query(server, owner, RecordType::SRV, opts)
        .await
        .map_err(|e| failed(e.into()))?;
    let status = response.status().map_err(|e| failed(e.into()))?;
    let records = response
        .records_of(owner, RecordType::SRV)
        .map_err(|e| failed(e.into()))?;
    let ttl = records.iter().map(Record::ttl).min();
    let ttls = distinct_ttls(&records);
    let (records, record_ttls) = srv_records(&records);
    // NOERROR with only other types (e.g. a CNAME at the owner) is NODATA
    // for SRV.
    let status = match status {
        AnswerStatus::Records if records.is_empty() => AnswerStatus::NoData,
        status => status,
    };
    Ok(SrvAnswer {
        status,
        ttl,
        records,
        ttls,
        record_ttls,
    })
}

/// The SRV records among `records`, and each one's TTL in the same order.
pub(super) fn srv_records(records: &[Record]) -> (Vec<SrvRecord>, Vec<u32>) {
    records
        .iter()
        .filter_map(|r| match r.data() {
            RData::SRV(srv) => Some((SrvRecord::from(srv), r.ttl())),
            _ => None,
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_as_a_zone_file_line() {
        let record = SrvRecord {
            priority: 0,
            weight: 10,
            port: 1688,
            target: Name::from_ascii("kms1.corp.example.").unwrap(),
        };
        let owner = srv_owner(&Name::from_ascii("corp.example").unwrap());
        assert_eq!(record.to_string(), "0 10 1688 kms1.corp.example.");
        assert_eq!(
            record.presentation(&owner, 3600),
            "_vlmcs._tcp.corp.example. 3600 IN SRV 0 10 1688 kms1.corp.example."
        );
    }
}
