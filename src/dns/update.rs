//! RFC 2136 dynamic UPDATE of one `_vlmcs._tcp` SRV RRset, in one message.
//!
//! The message (RFC 2136 §2, §3):
//! - zone section: the zone, type SOA, class IN (§2.3);
//! - prerequisite section, the RRset as it was read (DESIGN §7):
//!   "RRset does not exist" — class NONE, type SRV, TTL 0, no RDATA
//!   (§2.4.3) — or "RRset exists (value dependent)" — every RR as read,
//!   class IN, TTL 0 (§2.4.2), which the server compares as a whole set;
//! - update section: the deletes of single RRs — class NONE, TTL 0, the
//!   exact RDATA (§2.5.4; BIND answers FORMERR to any other TTL) — then
//!   the adds, class IN with their TTL (§2.5.1).
//!
//! The server applies all of it or nothing (§3.4, §3.7). A concurrent
//! change by another host makes the prerequisite fail (NXRRSET/YXRRSET,
//! §3.2.5), and the caller re-reads and retries instead of overwriting.
//!
//! Retransmission is safe: a lost reply is followed by the *same* message
//! (same ID, same TSIG). If the first copy was applied, the RRset no longer
//! matches the prerequisite and the copy fails with a prerequisite error
//! instead of applying twice; the error then says it came after a
//! retransmission, so the caller re-reads before judging. (An update that
//! leaves the RRset as it found it, like the add-and-delete probe, simply
//! applies again with the same result.)

use std::io;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::transport::{
    exchange_verified, random_id, Exchanged, Expect, Transport, TransportError, Verify,
    CLASSIC_UDP_LIMIT, SILENT_EARLIER,
};
use super::tsig::{ReplyVerifier, Signer, TsigError, TsigVerdict};
use super::DnsOptions;
use crate::dns::credentials::TsigKey;

/// What the SRV RRset must be for the update to apply (the prerequisite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No SRV record at the name (RFC 2136 §2.4.3).
    Absent,
    /// Exactly these SRV records, no more, no fewer (§2.4.2). An empty list
    /// means [`Expected::Absent`].
    Exactly(Vec<SRV>),
    /// An RRset of another type (the A or AAAA of a KMS host inside the
    /// zone): exactly these records, or none when `data` is empty.
    Records { rtype: RecordType, data: Vec<RData> },
}

impl Expected {
    /// The type of the RRset the request is about.
    pub fn record_type(&self) -> RecordType {
        match self {
            Expected::Absent | Expected::Exactly(_) => RecordType::SRV,
            Expected::Records { rtype, .. } => *rtype,
        }
    }
}

/// One atomic change to the SRV RRset at `name` in `zone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    /// The zone (the SOA owner found by discovery).
    pub zone: Name,
    /// The `_vlmcs._tcp.<domain>.` owner name; every record below is owned
    /// by it and is an SRV record.
    pub name: Name,
    /// The RRset as it was read.
    pub expected: Expected,
    /// Single RRs to delete (their class and TTL are set for the wire).
    pub delete: Vec<Record>,
    /// RRs to add, with the TTL they should have (BIND gives the whole
    /// RRset the TTL of the last add).
    pub add: Vec<Record>,
}

/// The server applied the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateResponse {
    pub server: SocketAddr,
    pub zone: Name,
    /// The reply carried a TSIG that verified with our key.
    pub signed: bool,
    pub transport: Transport,
    /// How many times the message was sent (more than one: retransmitted).
    pub sends: u32,
}

/// The prerequisite rcodes of RFC 2136 §2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrerequisiteRcode {
    /// An RRset that should exist does not, or differs (value dependent).
    NxRrset,
    /// An RRset that should not exist does.
    YxRrset,
    /// A name that should exist does not.
    NxDomain,
    /// A name that should not exist does.
    YxDomain,
}

impl std::fmt::Display for PrerequisiteRcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PrerequisiteRcode::NxRrset => "NXRRSET",
            PrerequisiteRcode::YxRrset => "YXRRSET",
            PrerequisiteRcode::NxDomain => "NXDOMAIN",
            PrerequisiteRcode::YxDomain => "YXDOMAIN",
        })
    }
}

/// Why an update was not applied (or its outcome is unknown).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{server} refused the update to zone {zone}: {}", refused_reason(*signed, key.as_ref(), name))]
    Refused {
        server: SocketAddr,
        zone: Name,
        name: Name,
        signed: bool,
        key: Option<Name>,
    },
    #[error("{}", not_auth_message(*server, zone, key.as_ref(), *tsig_error))]
    NotAuth {
        server: SocketAddr,
        zone: Name,
        key: Option<Name>,
        tsig_error: Option<TsigError>,
    },
    #[error(
        "the SRV records of {name} are no longer as read ({rcode} from {server}){}: re-read them and retry",
        if *retransmitted { "; the reply came after a retransmission, so the first copy may have been applied" } else { "" }
    )]
    PrerequisiteFailed {
        server: SocketAddr,
        zone: Name,
        name: Name,
        rcode: PrerequisiteRcode,
        retransmitted: bool,
    },
    #[error("{server} says {name} is not in zone {zone} (NOTZONE)")]
    NotZone {
        server: SocketAddr,
        zone: Name,
        name: Name,
    },
    #[error("{server} failed to apply the update to zone {zone} (SERVFAIL)")]
    ServFail { server: SocketAddr, zone: Name },
    #[error("{server} could not parse the update to zone {zone} (FORMERR)")]
    FormErr { server: SocketAddr, zone: Name },
    #[error("{server} does not implement dynamic update (NOTIMP, zone {zone})")]
    NotImp { server: SocketAddr, zone: Name },
    #[error("{server} answered {rcode} to the update of zone {zone}")]
    Rcode {
        server: SocketAddr,
        zone: Name,
        rcode: ResponseCode,
    },
    #[error("no reply from {server} to the update of zone {zone} after {attempts} attempt(s); it may or may not have been applied")]
    Timeout {
        server: SocketAddr,
        zone: Name,
        attempts: u32,
    },
    #[error("{server} is unreachable (update of zone {zone}): {source}")]
    Unreachable {
        server: SocketAddr,
        zone: Name,
        source: io::Error,
    },
    #[error("network error while updating zone {zone} on {server}: {source}")]
    Io {
        server: SocketAddr,
        zone: Name,
        source: io::Error,
    },
    #[error("the reply from {server} to the update of zone {zone} fails TSIG verification ({reason}); the outcome is unknown")]
    BadResponseSignature {
        server: SocketAddr,
        zone: Name,
        reason: String,
    },
    #[error("malformed reply from {server} to the update of zone {zone}: {reason}")]
    Malformed {
        server: SocketAddr,
        zone: Name,
        reason: String,
    },
    #[error("cannot build the update of zone {zone}: {reason}")]
    InvalidRequest { zone: Name, reason: String },
    /// GSS-TSIG (RFC 3645) could not sign, or the server would not take it.
    #[cfg(feature = "gssapi")]
    #[error(transparent)]
    Gss(#[from] super::gss::GssError),
}

fn refused_reason(signed: bool, key: Option<&Name>, name: &Name) -> String {
    match (signed, key) {
        (true, Some(key)) => format!(
            "the key {key} is not granted for {name} SRV, or updates are disabled, \
             or the server is not the zone's primary"
        ),
        _ => "it does not accept unsigned updates (a TSIG key is needed), or updates are \
              disabled, or the server is not the zone's primary"
            .to_owned(),
    }
}

fn not_auth_message(
    server: SocketAddr,
    zone: &Name,
    key: Option<&Name>,
    tsig_error: Option<TsigError>,
) -> String {
    let key = key.map_or_else(|| "(none)".to_owned(), ToString::to_string);
    match tsig_error {
        Some(TsigError::BadSig) => format!(
            "{server} rejected the signature of key {key} for zone {zone} (NOTAUTH, BADSIG): the secret differs from the server's"
        ),
        Some(TsigError::BadKey) => format!(
            "{server} does not know key {key} for zone {zone} (NOTAUTH, BADKEY): the key name or algorithm differs from the server's"
        ),
        Some(TsigError::BadTime) => format!(
            "{server} rejected the signature of key {key} for zone {zone} (NOTAUTH, BADTIME): the clocks differ by more than 5 minutes"
        ),
        Some(other) => format!(
            "{server} rejected the signature of key {key} for zone {zone} (NOTAUTH, {other})"
        ),
        None => format!("{server} is not authoritative for zone {zone} (NOTAUTH), or rejected the signature of key {key}"),
    }
}

impl UpdateError {
    /// The server the update went to, if it got that far.
    pub fn server(&self) -> Option<SocketAddr> {
        match self {
            UpdateError::Refused { server, .. }
            | UpdateError::NotAuth { server, .. }
            | UpdateError::PrerequisiteFailed { server, .. }
            | UpdateError::NotZone { server, .. }
            | UpdateError::ServFail { server, .. }
            | UpdateError::FormErr { server, .. }
            | UpdateError::NotImp { server, .. }
            | UpdateError::Rcode { server, .. }
            | UpdateError::Timeout { server, .. }
            | UpdateError::Unreachable { server, .. }
            | UpdateError::Io { server, .. }
            | UpdateError::BadResponseSignature { server, .. }
            | UpdateError::Malformed { server, .. } => Some(*server),
            UpdateError::InvalidRequest { .. } => None,
            #[cfg(feature = "gssapi")]
            UpdateError::Gss(error) => match error {
                super::gss::GssError::Negotiation { server, .. }
                | super::gss::GssError::Refused { server, .. }
                | super::gss::GssError::Denied { server, .. }
                | super::gss::GssError::Rejected { server, .. } => Some(*server),
                _ => None,
            },
        }
    }
}

/// Builds the UPDATE message for `request` with message ID `id`, unsigned.
pub fn build_update(request: &UpdateRequest, id: u16) -> Result<Message, UpdateError> {
    build_zone_update(std::slice::from_ref(request), id)
}

/// Builds one UPDATE message changing several SRV RRsets of one zone
/// (e.g. `_vlmcs._tcp.corp.example.` and `_vlmcs._tcp.branch.corp.example.`),
/// so the whole zone changes atomically (RFC 2136 §3.7): every
/// prerequisite first, then every delete, then every add.
pub fn build_zone_update(requests: &[UpdateRequest], id: u16) -> Result<Message, UpdateError> {
    let first = first_request(requests)?;
    let invalid = |reason: String| UpdateError::InvalidRequest {
        zone: first.zone.clone(),
        reason,
    };
    let mut zone = first.zone.clone();
    zone.set_fqdn(true);
    let mut names = Vec::with_capacity(requests.len());
    for request in requests {
        let mut request_zone = request.zone.clone();
        request_zone.set_fqdn(true);
        if request_zone != zone {
            return Err(invalid(format!(
                "{} and {} are different zones; one message updates one zone",
                request.zone, zone
            )));
        }
        let mut name = request.name.clone();
        name.set_fqdn(true);
        if !zone.zone_of(&name) {
            return Err(invalid(format!("{name} is not inside zone {zone}")));
        }
        let rtype = request.expected.record_type();
        if !matches!(rtype, RecordType::SRV | RecordType::A | RecordType::AAAA) {
            return Err(invalid(format!(
                "kmsdns only changes SRV, A and AAAA records, not {rtype}"
            )));
        }
        if names.contains(&(name.clone(), rtype)) {
            return Err(invalid(format!("{name} {rtype} is listed twice")));
        }
        for record in request.delete.iter().chain(&request.add) {
            if record.name() != &name || record.record_type() != rtype {
                return Err(invalid(format!(
                    "{} {} is not an {rtype} record of {name}",
                    record.name(),
                    record.record_type()
                )));
            }
        }
        names.push((name, rtype));
    }

    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Update)
        .set_recursion_desired(false);

    // §2.3: the zone section names the zone, type SOA, in its class.
    let mut zone_section = Query::query(zone, RecordType::SOA);
    zone_section.set_query_class(DNSClass::IN);
    message.add_zone(zone_section);

    for (request, (name, _)) in requests.iter().zip(&names) {
        match &request.expected {
            Expected::Records { rtype, data } if !data.is_empty() => {
                // §2.4.2 for an address RRset.
                let mut seen: Vec<&RData> = Vec::new();
                for rdata in data {
                    if seen.contains(&rdata) || rdata.record_type() != *rtype {
                        continue;
                    }
                    seen.push(rdata);
                    let mut record = Record::from_rdata(name.clone(), 0, rdata.clone());
                    record.set_dns_class(DNSClass::IN);
                    message.add_pre_requisite(record);
                }
            }
            Expected::Records { rtype, .. } => {
                // §2.4.3 for an address RRset.
                let mut record = Record::update0(name.clone(), 0, *rtype);
                record.set_dns_class(DNSClass::NONE);
                message.add_pre_requisite(record.into_record_of_rdata());
            }
            Expected::Exactly(records) if !records.is_empty() => {
                // §2.4.2: every RR of the set, class IN, TTL 0. Duplicates
                // would not change the set; they are dropped.
                let mut seen: Vec<&SRV> = Vec::new();
                for srv in records {
                    if seen.contains(&srv) {
                        continue;
                    }
                    seen.push(srv);
                    let mut record = Record::from_rdata(name.clone(), 0, RData::SRV(srv.clone()));
                    record.set_dns_class(DNSClass::IN);
                    message.add_pre_requisite(record);
                }
            }
            Expected::Exactly(_) | Expected::Absent => {
                // §2.4.3: class NONE, type SRV, TTL 0, RDLENGTH 0.
                let mut record = Record::update0(name.clone(), 0, RecordType::SRV);
                record.set_dns_class(DNSClass::NONE);
                message.add_pre_requisite(record.into_record_of_rdata());
            }
        }
    }

    for record in requests.iter().flat_map(|r| &r.delete) {
        // §2.5.4: delete one RR: class NONE, TTL 0, exact RDATA.
        let mut delete = record.clone();
        delete.set_dns_class(DNSClass::NONE).set_ttl(0);
        message.add_update(delete);
    }
    for record in requests.iter().flat_map(|r| &r.add) {
        // §2.5.1: add: the zone's class and the record's TTL.
        let mut add = record.clone();
        add.set_dns_class(DNSClass::IN);
        message.add_update(add);
    }
    Ok(message)
}

/// Sends `request` to `server` (the zone's primary), signed with `key`
/// when given, and reports the outcome.
///
/// UDP first (RFC 2136 §3: the requestor may use either); TCP when the
/// message exceeds the 512 bytes of plain DNS over UDP or the reply is
/// truncated. A silent server gets the same message again, `opts.attempts`
/// times in all (see the module documentation for why that is safe).
pub async fn send_update(
    server: SocketAddr,
    request: &UpdateRequest,
    key: Option<&TsigKey>,
    opts: &DnsOptions,
) -> Result<UpdateResponse, UpdateError> {
    send_zone_update(server, std::slice::from_ref(request), key, opts).await
}

/// Like [`send_update`], for several RRsets of one zone in one atomic
/// message ([`build_zone_update`]). Errors name the first RRset.
pub async fn send_zone_update(
    server: SocketAddr,
    requests: &[UpdateRequest],
    key: Option<&TsigKey>,
    opts: &DnsOptions,
) -> Result<UpdateResponse, UpdateError> {
    let request = first_request(requests)?;
    let message = build_zone_update(requests, random_id())?;
    send_update_message(server, message, &request.name, key, opts).await
}

/// The first RRset of an update, which names it in errors; an update
/// needs at least one.
pub(super) fn first_request(requests: &[UpdateRequest]) -> Result<&UpdateRequest, UpdateError> {
    requests.first().ok_or_else(|| UpdateError::InvalidRequest {
        zone: Name::root(),
        reason: "an update needs at least one RRset".to_owned(),
    })
}

/// Sends `message`, an UPDATE its caller built (ID set, the zone section
/// first), to `server`, signed with `key` when given, and reports the
/// outcome as [`send_update`] does. Errors name `name`, the owner the
/// update is about.
///
/// For updates that [`UpdateRequest`] cannot express, such as the
/// `updates` probe, whose add must come before its delete.
pub async fn send_update_message(
    server: SocketAddr,
    mut message: Message,
    name: &Name,
    key: Option<&TsigKey>,
    opts: &DnsOptions,
) -> Result<UpdateResponse, UpdateError> {
    let Some(zone_section) = message.queries().first().cloned() else {
        return Err(UpdateError::InvalidRequest {
            zone: Name::root(),
            reason: "an update needs a zone section (RFC 2136 §2.3)".to_owned(),
        });
    };
    let zone = zone_section.name().clone();

    let verifier: Option<ReplyVerifier> = match key {
        None => None,
        Some(key) => {
            let signer = Signer::new(key);
            let verifier = signer.sign(&mut message, unix_now()).map_err(|reason| {
                UpdateError::InvalidRequest {
                    zone: zone.clone(),
                    reason: format!("cannot sign with key {}: {reason}", key.name),
                }
            })?;
            Some(verifier)
        }
    };
    let bytes = message
        .to_vec()
        .map_err(|error| UpdateError::InvalidRequest {
            zone: zone.clone(),
            reason: format!("cannot encode the message: {error}"),
        })?;

    let expect = Expect {
        id: message.id(),
        op_code: OpCode::Update,
        question: &zone_section,
    };
    let fail = |error: TransportError| transport_error(error, server, &zone);

    // A reply to a signed update counts only once it verifies: replies that
    // do not are set aside while the real one may still come.
    let verify = |reply: &[u8], parsed: &Message| {
        verifier
            .as_ref()
            .is_none_or(|verifier| verifier.check(reply, parsed) == TsigVerdict::Verified)
    };
    let verify: Option<&Verify<'_>> = key.is_some().then_some(&verify);
    let first = if bytes.len() > CLASSIC_UDP_LIMIT {
        Transport::Tcp
    } else {
        Transport::Udp
    };
    let mut exchanged = exchange_verified(
        first,
        server,
        &bytes,
        &expect,
        opts.timeout,
        opts.tries(),
        verify,
    )
    .await
    .map_err(fail)?;
    let mut sends = exchanged.sends;
    if exchanged.truncated && exchanged.transport == Transport::Udp {
        // The server may have applied it already; the prerequisite makes
        // the copy over TCP harmless.
        let discarded = exchanged.discarded;
        exchanged = exchange_verified(
            Transport::Tcp,
            server,
            &bytes,
            &expect,
            opts.timeout,
            opts.tries(),
            verify,
        )
        .await
        .map_err(fail)?;
        exchanged.discarded += discarded;
        sends += exchanged.sends;
    }
    judge(
        &zone,
        name,
        key,
        server,
        exchanged,
        sends,
        verifier.as_ref(),
    )
}

/// Turns a reply into the outcome, TSIG first: a reply whose signature is
/// rejected or forged says nothing trustworthy about the rcode. `zone` and
/// `name` are what the errors name.
pub(crate) fn judge(
    zone: &Name,
    name: &Name,
    key: Option<&TsigKey>,
    server: SocketAddr,
    exchanged: Exchanged,
    sends: u32,
    verifier: Option<&ReplyVerifier>,
) -> Result<UpdateResponse, UpdateError> {
    let zone = zone.clone();
    let Some(message) = exchanged.message else {
        return Err(UpdateError::Malformed {
            server,
            zone,
            reason: "a truncated reply that does not parse".to_owned(),
        });
    };
    let rcode = message.response_code();
    let key_name = key.map(|key| key.name.clone());

    let mut signed = false;
    if let Some(verifier) = verifier {
        match verifier.check(&exchanged.bytes, &message) {
            TsigVerdict::Verified => signed = true,
            TsigVerdict::Rejected(tsig_error) => {
                return Err(UpdateError::NotAuth {
                    server,
                    zone,
                    key: key_name,
                    tsig_error,
                })
            }
            TsigVerdict::Invalid(reason) => {
                return Err(UpdateError::BadResponseSignature {
                    server,
                    zone,
                    reason,
                })
            }
            // RFC 8945 §5.3.2: an unsigned reply to a signed request is not
            // believed, whatever its rcode: anyone can send REFUSED or
            // NXRRSET with our ID. Its rcode is said, and the outcome is
            // unknown, so the caller reads the zone back.
            TsigVerdict::Unsigned => {
                return Err(UpdateError::BadResponseSignature {
                    server,
                    zone,
                    reason: unverified_reason(rcode, exchanged.discarded),
                })
            }
        }
    }

    let name = name.clone();
    let prerequisite = |rcode| UpdateError::PrerequisiteFailed {
        server,
        zone: zone.clone(),
        name: name.clone(),
        rcode,
        retransmitted: sends > 1,
    };
    Err(match rcode {
        ResponseCode::NoError => {
            return Ok(UpdateResponse {
                server,
                zone,
                signed,
                transport: exchanged.transport,
                sends,
            })
        }
        ResponseCode::Refused => UpdateError::Refused {
            server,
            zone,
            name,
            signed: key.is_some(),
            key: key_name,
        },
        ResponseCode::NotAuth => UpdateError::NotAuth {
            server,
            zone,
            key: key_name,
            tsig_error: None,
        },
        ResponseCode::NXRRSet => prerequisite(PrerequisiteRcode::NxRrset),
        ResponseCode::YXRRSet => prerequisite(PrerequisiteRcode::YxRrset),
        ResponseCode::NXDomain => prerequisite(PrerequisiteRcode::NxDomain),
        ResponseCode::YXDomain => prerequisite(PrerequisiteRcode::YxDomain),
        ResponseCode::NotZone => UpdateError::NotZone { server, zone, name },
        ResponseCode::ServFail => UpdateError::ServFail { server, zone },
        ResponseCode::FormErr => UpdateError::FormErr { server, zone },
        ResponseCode::NotImp => UpdateError::NotImp { server, zone },
        rcode => UpdateError::Rcode {
            server,
            zone,
            rcode,
        },
    })
}

/// Why an unsigned reply to a signed update is not believed, with what it
/// claimed and how many other unverifiable replies came.
fn unverified_reason(rcode: ResponseCode, discarded: u32) -> String {
    let others = match discarded {
        0 | 1 => String::new(),
        n => format!(", one of {n} unverifiable replies"),
    };
    format!("the reply to a signed update is not signed (it said {rcode}{others})")
}

pub(super) fn transport_error(
    error: TransportError,
    server: SocketAddr,
    zone: &Name,
) -> UpdateError {
    let zone = zone.clone();
    match error {
        TransportError::Timeout { attempts } => UpdateError::Timeout {
            server,
            zone,
            attempts,
        },
        TransportError::Unreachable(source) => UpdateError::Unreachable {
            server,
            zone,
            source,
        },
        // Only plain queries are ever skipped so, never an UPDATE.
        TransportError::Silent => UpdateError::Unreachable {
            server,
            zone,
            source: io::Error::new(io::ErrorKind::TimedOut, SILENT_EARLIER),
        },
        TransportError::Io(source) => UpdateError::Io {
            server,
            zone,
            source,
        },
        TransportError::Malformed(reason) | TransportError::Mismatch(reason) => {
            UpdateError::Malformed {
                server,
                zone,
                reason,
            }
        }
    }
}

/// Seconds since the epoch for the TSIG "time signed" (RFC 8945 §4.2).
fn unix_now() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u32::try_from(elapsed.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::credentials::TsigAlgorithm;
    use hickory_proto::serialize::binary::BinEncodable;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn srv(target: &str) -> SRV {
        SRV::new(0, 0, 1688, name(target))
    }

    fn srv_record(target: &str, ttl: u32) -> Record {
        Record::from_rdata(
            name("_vlmcs._tcp.corp.example."),
            ttl,
            RData::SRV(srv(target)),
        )
    }

    fn request(expected: Expected) -> UpdateRequest {
        UpdateRequest {
            zone: name("corp.example."),
            name: name("_vlmcs._tcp.corp.example."),
            expected,
            delete: vec![srv_record("old.corp.example.", 3600)],
            add: vec![srv_record("kms1.corp.example.", 3600)],
        }
    }

    #[test]
    fn absent_is_rrset_does_not_exist() {
        let message = build_update(&request(Expected::Absent), 1).unwrap();
        assert_eq!(message.op_code(), OpCode::Update);
        assert!(!message.recursion_desired());
        let zones = message.zones();
        assert_eq!(zones.len(), 1);
        assert_eq!(zones[0].name(), &name("corp.example."));
        assert_eq!(zones[0].query_type(), RecordType::SOA);
        assert_eq!(zones[0].query_class(), DNSClass::IN);

        let prerequisites = message.prerequisites();
        assert_eq!(prerequisites.len(), 1);
        let p = &prerequisites[0];
        assert_eq!(p.name(), &name("_vlmcs._tcp.corp.example."));
        assert_eq!(p.record_type(), RecordType::SRV);
        assert_eq!(p.dns_class(), DNSClass::NONE);
        assert_eq!(p.ttl(), 0);
        assert!(p.data().is_update0());
    }

    #[test]
    fn exactly_lists_every_rr_with_class_in_and_ttl_zero() {
        let read = vec![
            srv("a.corp.example."),
            srv("b.corp.example."),
            srv("a.corp.example."),
        ];
        let message = build_update(&request(Expected::Exactly(read)), 1).unwrap();
        let prerequisites = message.prerequisites();
        assert_eq!(prerequisites.len(), 2, "the duplicate is dropped");
        for p in prerequisites {
            assert_eq!(p.dns_class(), DNSClass::IN);
            assert_eq!(p.ttl(), 0);
            assert_eq!(p.record_type(), RecordType::SRV);
        }
        // An empty "exactly" is "absent".
        let empty = build_update(&request(Expected::Exactly(Vec::new())), 1).unwrap();
        assert_eq!(empty.prerequisites()[0].dns_class(), DNSClass::NONE);
    }

    #[test]
    fn deletes_come_first_with_class_none_and_ttl_zero_then_adds() {
        let message = build_update(&request(Expected::Absent), 1).unwrap();
        let updates = message.updates();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].dns_class(), DNSClass::NONE);
        assert_eq!(updates[0].ttl(), 0);
        assert_eq!(updates[0].data(), &RData::SRV(srv("old.corp.example.")));
        assert_eq!(updates[1].dns_class(), DNSClass::IN);
        assert_eq!(updates[1].ttl(), 3600);
        assert_eq!(updates[1].data(), &RData::SRV(srv("kms1.corp.example.")));
    }

    #[test]
    fn wire_form_of_an_absent_prerequisite_and_an_add() {
        let only_add = UpdateRequest {
            delete: Vec::new(),
            ..request(Expected::Absent)
        };
        let bytes = build_update(&only_add, 0xbeef).unwrap().to_vec().unwrap();
        #[rustfmt::skip]
        let header = [
            0xbe, 0xef, // ID
            0x28, 0x00, // QR=0, opcode 5 (UPDATE), RD=0; rcode 0
            0, 1,       // ZOCOUNT
            0, 1,       // PRCOUNT
            0, 1,       // UPCOUNT
            0, 0,       // ADCOUNT
        ];
        assert_eq!(&bytes[..12], &header);
        let mut expected = Vec::new();
        // Zone section: corp.example. SOA IN (at offset 12).
        expected.extend_from_slice(b"\x04corp\x07example\x00");
        expected.extend_from_slice(&[0x00, 6, 0x00, 1]);
        // Prerequisite "RRset does not exist": owner (at offset 30, its
        // suffix a pointer to offset 12), TYPE SRV, CLASS NONE, TTL 0,
        // RDLENGTH 0.
        expected.extend_from_slice(b"\x06_vlmcs\x04_tcp\xc0\x0c");
        expected.extend_from_slice(&[0x00, 33, 0x00, 0xfe, 0, 0, 0, 0, 0x00, 0x00]);
        // The add: owner (a pointer to offset 30), TYPE SRV, CLASS IN,
        // TTL 3600, RDLENGTH 25.
        expected.extend_from_slice(&[0xc0, 30]);
        expected.extend_from_slice(&[0x00, 33, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 25]);
        // RDATA: priority 0, weight 0, port 1688, then the target, which
        // hickory never compresses (RFC 2782).
        expected.extend_from_slice(&[0, 0, 0, 0, 0x06, 0x98]);
        expected.extend_from_slice(b"\x04kms1\x04corp\x07example\x00");
        assert_eq!(&bytes[12..], &expected[..]);
    }

    #[test]
    fn delete_on_the_wire_is_class_none_ttl_zero_with_rdata() {
        let delete = UpdateRequest {
            add: Vec::new(),
            ..request(Expected::Exactly(vec![srv("old.corp.example.")]))
        };
        let message = build_update(&delete, 1).unwrap();
        let update = &message.updates()[0];
        let bytes = update.to_bytes().unwrap();
        // Owner (uncompressed here), then TYPE SRV, CLASS NONE, TTL 0.
        let owner = b"\x06_vlmcs\x04_tcp\x04corp\x07example\x00";
        assert_eq!(&bytes[..owner.len()], owner);
        assert_eq!(
            &bytes[owner.len()..owner.len() + 8],
            &[0, 33, 0, 0xfe, 0, 0, 0, 0]
        );
        let rdlength = u16::from_be_bytes([bytes[owner.len() + 8], bytes[owner.len() + 9]]);
        assert_eq!(usize::from(rdlength), bytes.len() - owner.len() - 10);
        assert!(rdlength > 6);
    }

    #[test]
    fn records_outside_the_name_or_zone_are_refused_before_sending() {
        let mut wrong_owner = request(Expected::Absent);
        wrong_owner.add = vec![Record::from_rdata(
            name("_vlmcs._tcp.other.example."),
            3600,
            RData::SRV(srv("kms1.corp.example.")),
        )];
        assert!(matches!(
            build_update(&wrong_owner, 1),
            Err(UpdateError::InvalidRequest { .. })
        ));

        let mut not_srv = request(Expected::Absent);
        not_srv.add = vec![Record::from_rdata(
            name("_vlmcs._tcp.corp.example."),
            3600,
            RData::A(std::net::Ipv4Addr::LOCALHOST.into()),
        )];
        assert!(matches!(
            build_update(&not_srv, 1),
            Err(UpdateError::InvalidRequest { .. })
        ));

        let outside = UpdateRequest {
            zone: name("other.example."),
            ..request(Expected::Absent)
        };
        assert!(matches!(
            build_update(&outside, 1),
            Err(UpdateError::InvalidRequest { .. })
        ));
    }

    #[test]
    fn one_message_carries_every_rrset_of_a_zone() {
        let branch = UpdateRequest {
            zone: name("corp.example."),
            name: name("_vlmcs._tcp.branch.corp.example."),
            expected: Expected::Exactly(vec![srv("old.corp.example.")]),
            delete: Vec::new(),
            add: vec![Record::from_rdata(
                name("_vlmcs._tcp.branch.corp.example."),
                600,
                RData::SRV(srv("kms1.corp.example.")),
            )],
        };
        let message = build_zone_update(&[request(Expected::Absent), branch.clone()], 7).unwrap();
        assert_eq!(message.zones().len(), 1);
        let prerequisites: Vec<(String, DNSClass)> = message
            .prerequisites()
            .iter()
            .map(|p| (p.name().to_string(), p.dns_class()))
            .collect();
        assert_eq!(
            prerequisites,
            [
                ("_vlmcs._tcp.corp.example.".to_string(), DNSClass::NONE),
                ("_vlmcs._tcp.branch.corp.example.".to_string(), DNSClass::IN),
            ]
        );
        let updates: Vec<(String, DNSClass)> = message
            .updates()
            .iter()
            .map(|u| (u.name().to_string(), u.dns_class()))
            .collect();
        assert_eq!(
            updates,
            [
                ("_vlmcs._tcp.corp.example.".to_string(), DNSClass::NONE),
                ("_vlmcs._tcp.corp.example.".to_string(), DNSClass::IN),
                ("_vlmcs._tcp.branch.corp.example.".to_string(), DNSClass::IN),
            ]
        );

        let elsewhere = UpdateRequest {
            zone: name("other.example."),
            name: name("_vlmcs._tcp.other.example."),
            ..branch.clone()
        };
        assert!(matches!(
            build_zone_update(&[request(Expected::Absent), elsewhere], 1),
            Err(UpdateError::InvalidRequest { .. })
        ));
        assert!(matches!(
            build_zone_update(&[branch.clone(), branch], 1),
            Err(UpdateError::InvalidRequest { .. })
        ));
        assert!(build_zone_update(&[], 1).is_err());
    }

    /// An update of nothing is refused before anything is sent: the server
    /// is a port nothing answers on, and no timeout is waited for.
    #[tokio::test]
    async fn an_update_of_no_rrset_is_refused_unsent() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let opts = DnsOptions {
            timeout: std::time::Duration::from_secs(5),
            ..DnsOptions::default()
        };
        let started = std::time::Instant::now();
        let sent = send_zone_update(silent.local_addr().unwrap(), &[], None, &opts).await;
        assert!(
            matches!(&sent, Err(UpdateError::InvalidRequest { reason, .. }) if reason.contains("at least one")),
            "{sent:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn address_rrsets_use_their_own_type() {
        let host = name("kms1.corp.example.");
        let a = |ip: [u8; 4]| RData::A(std::net::Ipv4Addr::from(ip).into());
        let add_a = UpdateRequest {
            zone: name("corp.example."),
            name: host.clone(),
            expected: Expected::Records {
                rtype: RecordType::A,
                data: vec![a([192, 0, 2, 1])],
            },
            delete: Vec::new(),
            add: vec![Record::from_rdata(host.clone(), 600, a([192, 0, 2, 2]))],
        };
        let none_yet = UpdateRequest {
            expected: Expected::Records {
                rtype: RecordType::AAAA,
                data: Vec::new(),
            },
            add: vec![Record::from_rdata(
                host.clone(),
                600,
                RData::AAAA(std::net::Ipv6Addr::LOCALHOST.into()),
            )],
            ..add_a.clone()
        };
        let message = build_zone_update(&[add_a.clone(), none_yet], 1).unwrap();
        let prerequisites: Vec<(RecordType, DNSClass)> = message
            .prerequisites()
            .iter()
            .map(|p| (p.record_type(), p.dns_class()))
            .collect();
        assert_eq!(
            prerequisites,
            [
                (RecordType::A, DNSClass::IN),
                (RecordType::AAAA, DNSClass::NONE)
            ]
        );
        assert_eq!(message.updates().len(), 2);

        // An SRV record in an A request is refused.
        let mixed = UpdateRequest {
            add: vec![srv_record("kms1.corp.example.", 600)],
            ..add_a
        };
        assert!(matches!(
            build_update(&mixed, 1),
            Err(UpdateError::InvalidRequest { .. })
        ));
    }

    /// The key the judge tests sign with: it guards nothing.
    fn key() -> TsigKey {
        use crate::dns::credentials::{KeyOrigin, Secret};
        TsigKey {
            name: name("kmsdns-secure."),
            algorithm: TsigAlgorithm::HmacSha256,
            secret: Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()),
            origin: KeyOrigin::Env("KMSDNS_KEY".to_owned()),
        }
    }

    /// The update of message ID 9, signed with [`key`]: the verifier of
    /// its reply.
    fn signed_request() -> ReplyVerifier {
        let mut message = build_update(&request(Expected::Absent), 9).unwrap();
        Signer::new(&key()).sign(&mut message, unix_now()).unwrap()
    }

    /// A reply to message 9 with `rcode`, as the transport hands it over.
    fn reply(rcode: ResponseCode, tsig: Option<Record>) -> Exchanged {
        let mut message = Message::new();
        message
            .set_id(9)
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Update)
            .set_response_code(rcode)
            .add_query(Query::query(name("corp.example."), RecordType::SOA));
        if let Some(tsig) = tsig {
            message.add_tsig(tsig);
        }
        Exchanged {
            bytes: message.to_vec().unwrap(),
            message: Some(message),
            truncated: false,
            transport: Transport::Udp,
            sends: 1,
            discarded: 0,
        }
    }

    fn judge_reply(
        exchanged: Exchanged,
        verifier: Option<&ReplyVerifier>,
    ) -> Result<UpdateResponse, UpdateError> {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let key = key();
        judge(
            &name("corp.example."),
            &name("_vlmcs._tcp.corp.example."),
            verifier.is_some().then_some(&key),
            server,
            exchanged,
            1,
            verifier,
        )
    }

    #[test]
    fn a_rejected_signature_names_the_tsig_error() {
        use hickory_proto::dnssec::rdata::tsig::{make_tsig_record, TsigAlgorithm as Wire};
        use hickory_proto::dnssec::rdata::TSIG;
        for (code, word) in [(16, "BADSIG"), (17, "BADKEY"), (18, "BADTIME")] {
            // BIND's answer to a signature it rejects: NOTAUTH with a TSIG
            // whose MAC is empty and whose error says why.
            let tsig = TSIG::new(
                Wire::HmacSha256,
                u64::from(unix_now()),
                300,
                Vec::new(),
                9,
                code,
                Vec::new(),
            );
            let rejection = reply(
                ResponseCode::NotAuth,
                Some(make_tsig_record(name("kmsdns-secure."), tsig)),
            );
            let error = judge_reply(rejection, Some(&signed_request())).unwrap_err();
            assert!(
                matches!(
                    error,
                    UpdateError::NotAuth {
                        tsig_error: Some(_),
                        ..
                    }
                ),
                "{error:?}"
            );
            assert!(error.to_string().contains(word), "{error}");
        }
    }

    #[test]
    fn an_unsigned_success_to_a_signed_update_is_not_believed() {
        let error =
            judge_reply(reply(ResponseCode::NoError, None), Some(&signed_request())).unwrap_err();
        assert!(
            matches!(error, UpdateError::BadResponseSignature { .. }),
            "{error:?}"
        );
        // Unsigned, the same reply is a success.
        assert!(judge_reply(reply(ResponseCode::NoError, None), None).is_ok());
    }

    #[test]
    fn messages_name_the_cause() {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let refused = UpdateError::Refused {
            server,
            zone: name("secure.example."),
            name: name("_vlmcs._tcp.secure.example."),
            signed: true,
            key: Some(name("kmsdns-secure.")),
        };
        assert_eq!(
            refused.to_string(),
            "127.0.0.1:53 refused the update to zone secure.example.: the key kmsdns-secure. is not granted for _vlmcs._tcp.secure.example. SRV, or updates are disabled, or the server is not the zone's primary"
        );
        let badsig = UpdateError::NotAuth {
            server,
            zone: name("secure.example."),
            key: Some(name("kmsdns-secure.")),
            tsig_error: Some(TsigError::BadSig),
        };
        assert!(badsig.to_string().contains("BADSIG"));
        assert!(badsig.to_string().contains("secret differs"));
        let replayed = UpdateError::PrerequisiteFailed {
            server,
            zone: name("secure.example."),
            name: name("_vlmcs._tcp.secure.example."),
            rcode: PrerequisiteRcode::NxRrset,
            retransmitted: true,
        };
        assert!(replayed.to_string().contains("may have been applied"));
    }
}
