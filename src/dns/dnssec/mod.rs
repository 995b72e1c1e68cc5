//! DNSSEC of the `_vlmcs._tcp` RRsets, server by server (RFC 4033–4035,
//! RFC 5155).
//!
//! A signed zone serves its records with RRSIGs; a validating resolver
//! that finds one missing, expired or not verifying answers SERVFAIL, and a
//! Windows client then finds no KMS host at all, while `dig +cd` and every
//! unvalidated read show the records as fine. So, at every authoritative
//! server, with the DO bit (RFC 3225):
//!
//! 1. the DNSKEY RRset at the apex: the zone is signed when a server
//!    serves one; it must be signed by one of its own keys;
//! 2. the `_vlmcs._tcp` SRV RRset of each domain, and the A and AAAA of
//!    each target inside the zone: each must carry a valid RRSIG by a key of
//!    that server's DNSKEY set ([`verify::rrset`]), within its validity
//!    window;
//! 3. a NODATA or NXDOMAIN answer must come with signed NSEC or NSEC3
//!    records that prove it ([`verify::denial`]);
//! 4. through the resolver, the DS RRset at the parent, where it can be
//!    read: one DS must match a key of the set (RFC 4034 §5).
//!
//! What is not verified: the chain of trust above the zone beyond the DS
//! match (the parent's own signatures, up to the root), the wildcard part
//! of an NSEC3 proof, and targets in other zones. Algorithms verified:
//! those of [`VERIFIED_ALGORITHMS`] (hickory-proto with ring).
//!
//! [`validation`] asks a resolver with and without CD (RFC 4035 §3.2.2):
//! a SERVFAIL that CD turns into records is a validation failure.

mod judge;
mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, Record, RecordType};

pub use judge::{findings, validation_finding, DEFAULT_EXPIRY_WARNING};

use super::memo::BoundedMemo;
use super::query::{query_dnssec, DnssecBits, Recursion};
use super::{AnswerStatus, DnsOptions, ExtendedError, Resolver};

/// The DNSSEC algorithms whose signatures kmsdns verifies (RFC 8624):
/// those hickory-proto implements with ring. Others are reported as not
/// verified, never as valid.
pub const VERIFIED_ALGORITHMS: &str =
    "RSASHA1, RSASHA1-NSEC3-SHA1, RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519";

/// What the signatures over one RRset at one server say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureVerdict {
    /// An RRSIG by a zone key verifies and is in its window.
    Valid {
        key_tag: u16,
        algorithm: String,
        /// When the best valid signature expires (seconds since the epoch).
        expiration: u32,
    },
    /// No RRSIG over the RRset by the zone.
    Missing,
    /// RRSIGs only by keys that are not in the zone's DNSKEY set.
    UnknownKey { key_tag: u16 },
    /// An RRSIG by a zone key that does not verify.
    Bogus { key_tag: u16, reason: String },
    /// An RRSIG that verifies but expired.
    Expired { key_tag: u16, expiration: u32 },
    /// An RRSIG that verifies but is not valid yet.
    NotYetValid { key_tag: u16, inception: u32 },
    /// An RRSIG of an algorithm not verified here.
    Unsupported { key_tag: u16, algorithm: String },
}

impl SignatureVerdict {
    /// The key tag of the signature the verdict is about.
    pub fn key_tag(&self) -> Option<u16> {
        match self {
            SignatureVerdict::Missing => None,
            SignatureVerdict::Valid { key_tag, .. }
            | SignatureVerdict::UnknownKey { key_tag }
            | SignatureVerdict::Bogus { key_tag, .. }
            | SignatureVerdict::Expired { key_tag, .. }
            | SignatureVerdict::NotYetValid { key_tag, .. }
            | SignatureVerdict::Unsupported { key_tag, .. } => Some(*key_tag),
        }
    }

    /// The verdict in a few words, for messages.
    pub fn describe(&self) -> String {
        match self {
            SignatureVerdict::Valid { key_tag, .. } => format!("valid (key tag {key_tag})"),
            SignatureVerdict::Missing => "no RRSIG".to_owned(),
            SignatureVerdict::UnknownKey { key_tag } => {
                format!("signed only by key tag {key_tag}, which is not in the DNSKEY set")
            }
            SignatureVerdict::Bogus { key_tag, reason } => {
                format!("the RRSIG by key tag {key_tag} does not verify ({reason})")
            }
            SignatureVerdict::Expired {
                key_tag,
                expiration,
            } => format!(
                "the RRSIG by key tag {key_tag} expired at {}",
                timestamp(*expiration)
            ),
            SignatureVerdict::NotYetValid { key_tag, inception } => format!(
                "the RRSIG by key tag {key_tag} is valid only from {}",
                timestamp(*inception)
            ),
            SignatureVerdict::Unsupported { key_tag, algorithm } => {
                format!("the RRSIG by key tag {key_tag} uses {algorithm}, not verified by kmsdns")
            }
        }
    }
}

/// What the NSEC or NSEC3 records of a negative answer prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenialVerdict {
    /// Signed and proving the denial.
    Proven { key_tag: u16 },
    /// Missing, unsigned, badly signed, or proving nothing.
    Bogus {
        key_tag: Option<u16>,
        reason: String,
    },
}

/// One RRset read at one server with DO set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedRead {
    /// Records, and what their signatures say.
    Records(SignatureVerdict),
    /// NODATA or NXDOMAIN, and what its proof says.
    Denied {
        status: AnswerStatus,
        verdict: DenialVerdict,
    },
    /// No usable reply.
    Failed(String),
}

/// One RRset checked at one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsetCheck {
    pub name: Name,
    pub rtype: RecordType,
    pub read: SignedRead,
}

/// Everything checked at one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSignatures {
    /// "ns2.corp.example. (192.0.2.2:53)".
    pub server: String,
    /// The key tags of the server's DNSKEY set, or why it was not read.
    pub keys: Result<Vec<u16>, String>,
    /// The DNSKEY RRset first, then each SRV RRset and target address set.
    pub rrsets: Vec<RrsetCheck>,
}

/// Whether a DS at the parent matches a key of the zone (RFC 4034 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsMatch {
    /// A DS matches the key with this tag.
    Matched { key_tag: u16 },
    /// DS records exist, none matching a key of the set.
    NoMatch { ds_tags: Vec<u16> },
    /// The parent has no DS: validators hold the zone insecure unless
    /// they have a trust anchor for it.
    NoDs,
    /// The DS could not be read.
    Unknown(String),
}

/// The DNSSEC state of one zone at each of its servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSignatures {
    pub zone: Name,
    /// Whether any server serves a DNSKEY RRset at the apex.
    pub signed: bool,
    pub ds: DsMatch,
    pub servers: Vec<ServerSignatures>,
    /// When it was read (seconds since the epoch).
    pub now: u32,
}

/// One authoritative server to check: how to name it, where it is.
#[derive(Debug, Clone)]
pub struct SignedServer {
    pub label: String,
    pub address: SocketAddr,
}

/// Whether every RRset checked at every server is validly signed (or
/// validly denied); true for an unsigned zone.
pub fn all_valid(zone: &ZoneSignatures) -> bool {
    zone.servers.iter().all(|server| {
        server.keys.is_ok()
            && server.rrsets.iter().all(|rrset| {
                matches!(
                    rrset.read,
                    SignedRead::Records(SignatureVerdict::Valid { .. })
                        | SignedRead::Denied {
                            verdict: DenialVerdict::Proven { .. },
                            ..
                        }
                )
            })
    })
}

/// Seconds since the epoch, mod 2^32 as RRSIG times are (RFC 4034 §3.1.5).
pub fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// A signature time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn timestamp(seconds: u32) -> String {
    let days = i64::from(seconds) / 86_400;
    let rest = i64::from(seconds) % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The DNSKEY RRset of one zone at each of its servers, and, when any
/// serves one, its DS at the parent: what every domain of the zone is
/// verified against, read once per zone ([`KeyMemo`]).
#[derive(Debug, Clone)]
pub struct ZoneKeys {
    servers: Vec<SignedServer>,
    /// Per server, in the order of `servers`: the DNSKEY answer (keys and
    /// their RRSIGs), empty when the zone is not signed there.
    keys: Vec<Result<Vec<Record>, String>>,
    /// Read only for a signed zone.
    ds: Option<Result<Vec<DS>, String>>,
}

impl ZoneKeys {
    /// Whether any server serves a DNSKEY RRset at the apex.
    pub fn signed(&self) -> bool {
        self.keys
            .iter()
            .any(|k| matches!(k, Ok(keys) if !keys.is_empty()))
    }
}

/// Asks every one of `servers` for the DNSKEY RRset of `zone`, and, when
/// any serves one, the resolver for the DS.
///
/// Every server is asked, not only the first: a zone the primary serves
/// unsigned while another server signs it (a stale copy, a signer of its
/// own) fails validating resolvers whenever they ask that server, and
/// asking the first alone would hide it. [`KeyMemo`] keeps the cost to one
/// query per server per zone and run.
pub async fn read_zone_keys(
    zone: &Name,
    servers: Vec<SignedServer>,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> ZoneKeys {
    let keys = join_all(servers.iter().map(|s| read_keys(s.address, zone, opts))).await;
    let mut read = ZoneKeys {
        servers,
        keys,
        ds: None,
    };
    if read.signed() {
        read.ds = Some(read_ds(zone, resolver).await);
    }
    read
}

/// How many zones' keys a run remembers, those read or used last: a zone
/// with domains in several windows is read once, and a run over more zones
/// holds no more than this (a signed zone's keys from three servers are a
/// few KB).
pub const REMEMBERED_ZONES: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// The [`ZoneKeys`] read during one run, by zone, so that the domains of
/// one zone ask its servers for the DNSKEY RRset (and its NS set and DS)
/// once, not once each nor once per window; at most [`REMEMBERED_ZONES`],
/// the least recently used forgotten first. Domains of one zone checked
/// at once wait for the same read.
#[derive(Debug)]
pub struct KeyMemo {
    zones: BoundedMemo<Name, ZoneKeys>,
}

impl Default for KeyMemo {
    fn default() -> Self {
        KeyMemo {
            zones: BoundedMemo::new(REMEMBERED_ZONES),
        }
    }
}

impl KeyMemo {
    /// The keys of `zone`: remembered, or read by `read` and remembered.
    pub async fn get_or_read<F, R>(&self, zone: &Name, read: F) -> ZoneKeys
    where
        F: FnOnce() -> R,
        R: Future<Output = ZoneKeys>,
    {
        let mut key = zone.clone();
        key.set_fqdn(true);
        self.zones.get_or_lookup(key, read).await
    }
}

/// Reads and verifies, at every server of `zone`, the DNSKEY RRset, the
/// SRV RRsets at `owners` and the addresses of their targets inside the
/// zone; the DS through `resolver`.
pub async fn observe_zone(
    zone: &Name,
    owners: &[Name],
    servers: &[SignedServer],
    resolver: &Resolver,
    opts: &DnsOptions,
) -> ZoneSignatures {
    let keys = read_zone_keys(zone, servers.to_vec(), resolver, opts).await;
    observe_with_keys(zone, owners, &keys, opts).await
}

/// [`observe_zone`] with the zone's keys already read: nothing more is
/// asked when the zone is not signed.
pub async fn observe_with_keys(
    zone: &Name,
    owners: &[Name],
    keys: &ZoneKeys,
    opts: &DnsOptions,
) -> ZoneSignatures {
    let now = unix_now();
    let (true, Some(ds)) = (keys.signed(), &keys.ds) else {
        return ZoneSignatures {
            zone: zone.clone(),
            signed: false,
            ds: DsMatch::NoDs,
            servers: Vec::new(),
            now,
        };
    };
    let checked = keys
        .servers
        .iter()
        .zip(&keys.keys)
        .map(|(server, keys)| observe_server(server, zone, owners, keys.clone(), opts, now));
    let servers = join_all(checked).await;
    let all_keys: Vec<DNSKEY> = servers.iter().flat_map(|(_, keys)| keys.clone()).collect();
    ZoneSignatures {
        zone: zone.clone(),
        signed: true,
        ds: ds_match(ds.clone(), zone, &all_keys),
        servers: servers.into_iter().map(|(server, _)| server).collect(),
        now,
    }
}

/// The DNSKEY RRset at `server`: the reply's answer section (keys and
/// their RRSIGs), empty when the zone is not signed there.
async fn read_keys(
    server: SocketAddr,
    zone: &Name,
    opts: &DnsOptions,
) -> Result<Vec<Record>, String> {
    let response = signed_query(server, zone, RecordType::DNSKEY, opts).await?;
    response.status().map_err(|e| e.to_string())?;
    Ok(response.answers().to_vec())
}

async fn signed_query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    opts: &DnsOptions,
) -> Result<super::Response, String> {
    let bits = DnssecBits {
        dnssec_ok: true,
        checking_disabled: false,
    };
    query_dnssec(server, name, rtype, Recursion::NotDesired, bits, opts)
        .await
        .map_err(|e| e.to_string())
}

fn dnskeys(records: &[Record]) -> Vec<DNSKEY> {
    records
        .iter()
        .filter_map(|record| match record.data() {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// Everything checked at one server, and its keys.
async fn observe_server(
    server: &SignedServer,
    zone: &Name,
    owners: &[Name],
    keys: Result<Vec<Record>, String>,
    opts: &DnsOptions,
    now: u32,
) -> (ServerSignatures, Vec<DNSKEY>) {
    let records = match keys {
        Ok(records) => records,
        Err(error) => {
            let checked = ServerSignatures {
                server: server.label.clone(),
                keys: Err(error),
                rrsets: Vec::new(),
            };
            return (checked, Vec::new());
        }
    };
    let keys = dnskeys(&records);
    let mut rrsets = vec![RrsetCheck {
        name: zone.clone(),
        rtype: RecordType::DNSKEY,
        read: if keys.is_empty() {
            SignedRead::Records(SignatureVerdict::Missing)
        } else {
            SignedRead::Records(verify::rrset(
                &records,
                zone,
                RecordType::DNSKEY,
                zone,
                &keys,
                now,
            ))
        },
    }];
    for owner in owners {
        let (check, targets) = check_rrset(
            server.address,
            owner,
            RecordType::SRV,
            zone,
            &keys,
            opts,
            now,
        )
        .await;
        rrsets.push(check);
        for target in targets.iter().filter(|t| zone.zone_of(t)) {
            for rtype in [RecordType::A, RecordType::AAAA] {
                let (check, _) =
                    check_rrset(server.address, target, rtype, zone, &keys, opts, now).await;
                rrsets.push(check);
            }
        }
    }
    let tags = keys
        .iter()
        .filter_map(|k| k.calculate_key_tag().ok())
        .collect();
    let checked = ServerSignatures {
        server: server.label.clone(),
        keys: Ok(tags),
        rrsets,
    };
    (checked, keys)
}

/// Reads `name`/`rtype` at `server` with DO and verifies it; also returns
/// the SRV targets it holds.
async fn check_rrset(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    zone: &Name,
    keys: &[DNSKEY],
    opts: &DnsOptions,
    now: u32,
) -> (RrsetCheck, Vec<Name>) {
    let check = |read| RrsetCheck {
        name: name.clone(),
        rtype,
        read,
    };
    let response = match signed_query(server, name, rtype, opts).await {
        Ok(response) => response,
        Err(error) => return (check(SignedRead::Failed(error)), Vec::new()),
    };
    let status = match response.status() {
        Ok(status) => status,
        Err(error) => return (check(SignedRead::Failed(error.to_string())), Vec::new()),
    };
    if status != AnswerStatus::Records {
        let verdict = verify::denial(response.authority(), name, rtype, status, zone, keys, now);
        return (check(SignedRead::Denied { status, verdict }), Vec::new());
    }
    let targets = response
        .answers()
        .iter()
        .filter_map(|record| match record.data() {
            RData::SRV(srv) if record.name() == name && !srv.target().is_root() => {
                Some(srv.target().clone())
            }
            _ => None,
        })
        .collect();
    let verdict = verify::rrset(response.answers(), name, rtype, zone, keys, now);
    (check(SignedRead::Records(verdict)), targets)
}

/// The DS RRset of `zone` through the resolver.
async fn read_ds(zone: &Name, resolver: &Resolver) -> Result<Vec<DS>, String> {
    let answer = resolver
        .lookup(zone, RecordType::DS)
        .await
        .map_err(|e| e.to_string())?;
    Ok(answer
        .records
        .iter()
        .filter_map(|record| match record.data() {
            RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds.clone()),
            _ => None,
        })
        .collect())
}

fn ds_match(ds: Result<Vec<DS>, String>, zone: &Name, keys: &[DNSKEY]) -> DsMatch {
    let ds = match ds {
        Ok(ds) if ds.is_empty() => return DsMatch::NoDs,
        Ok(ds) => ds,
        Err(error) => return DsMatch::Unknown(error),
    };
    for record in &ds {
        if keys
            .iter()
            .any(|key| record.covers(zone, key).unwrap_or(false))
        {
            return DsMatch::Matched {
                key_tag: record.key_tag(),
            };
        }
    }
    DsMatch::NoMatch {
        ds_tags: ds.iter().map(DS::key_tag).collect(),
    }
}

/// A lookup through a validating resolver, with and without CD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// The resolver answered without CD as it did with it: nothing to say.
    Consistent,
    /// SERVFAIL without CD, records with CD: the resolver's validation
    /// failed, with its Extended DNS Error if it gave one.
    Failed {
        via: String,
        reason: Option<ExtendedError>,
        records: usize,
    },
}

/// Asks each of `servers` (a client's resolvers) for `name`/`rtype` with
/// RD set, then again with CD when the answer is SERVFAIL.
pub async fn validation(
    servers: &[SocketAddr],
    name: &Name,
    rtype: RecordType,
    opts: &DnsOptions,
) -> Validation {
    for server in servers {
        let Ok(response) = recursive_query(*server, name, rtype, false, opts).await else {
            continue;
        };
        if response.rcode() != ResponseCode::ServFail {
            continue;
        }
        let Ok(checked) = recursive_query(*server, name, rtype, true, opts).await else {
            continue;
        };
        let records = checked
            .records_of(name, rtype)
            .map(|r| r.len())
            .unwrap_or(0);
        if checked.rcode() == ResponseCode::NoError && records > 0 {
            return Validation::Failed {
                via: server.to_string(),
                reason: response.extended_error().cloned(),
                records,
            };
        }
    }
    Validation::Consistent
}

/// A query with RD and DO set, CD as asked: what a validating resolver
/// answers, or answers without validating.
async fn recursive_query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    checking_disabled: bool,
    opts: &DnsOptions,
) -> Result<super::Response, super::QueryError> {
    let bits = DnssecBits {
        dnssec_ok: true,
        checking_disabled,
    };
    query_dnssec(server, name, rtype, Recursion::Desired, bits, opts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo holds at most its bound, forgets the zone used least
    /// recently, and a zone it holds is not read again.
    #[tokio::test]
    async fn the_zone_keys_memo_is_bounded_and_keeps_the_zones_used_last() {
        let memo = KeyMemo {
            zones: BoundedMemo::new(NonZeroUsize::new(2).expect("two")),
        };
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let reads_for = |zone: &'static str| {
            let (memo, reads) = (&memo, &reads);
            async move {
                let before = reads.load(std::sync::atomic::Ordering::SeqCst);
                let zone = Name::from_ascii(zone).expect("name");
                memo.get_or_read(&zone, || async {
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    ZoneKeys {
                        servers: Vec::new(),
                        keys: Vec::new(),
                        ds: None,
                    }
                })
                .await;
                reads.load(std::sync::atomic::Ordering::SeqCst) - before
            }
        };
        assert_eq!(reads_for("a.example.").await, 1);
        assert_eq!(reads_for("b.example.").await, 1);
        // Case and the final dot do not make another zone.
        assert_eq!(reads_for("A.Example").await, 0, "a hit");
        assert_eq!(reads_for("c.example.").await, 1, "b goes");
        assert_eq!(memo.zones.len(), 2, "the bound holds");
        assert_eq!(reads_for("a.example.").await, 0, "still a hit");
        assert_eq!(reads_for("c.example.").await, 0, "a hit");
        assert_eq!(reads_for("b.example.").await, 1, "forgotten, read again");
    }
}
