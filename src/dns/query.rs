//! Queries to one named server (RFC 1035 §4, RFC 6891 EDNS(0)).
//!
//! Authoritative checks (replication, reading the RRset before an update)
//! ask each server directly with RD clear, so the answer is the server's own
//! zone data and never a cache. The [`Response`] keeps the rcode and the AA
//! flag; reading records from it goes through [`Response::records_of`],
//! which fails on REFUSED, SERVFAIL, NOTAUTH or a non-authoritative reply, so
//! a failed read can never pass for "no records" (DESIGN §5).

use std::fmt;
use std::io;
use std::net::SocketAddr;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::resolver::AnswerStatus;
use super::transport::{
    exchange_remembering, random_id, Exchanged, Expect, Transport, TransportError, EDNS_PAYLOAD,
};
use super::DnsOptions;

/// Whether a query asks the server to recurse (the RD bit, RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recursion {
    /// RD clear: the server answers from its own zones (authoritative
    /// checks). The reply must then carry AA to be read.
    NotDesired,
    /// RD set: a recursive resolver may look the answer up for us.
    Desired,
}

/// The DNSSEC bits of a query (RFC 4035 §3.2.1, §3.2.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnssecBits {
    /// DO in the OPT record: send the RRSIG, NSEC and NSEC3 records.
    pub dnssec_ok: bool,
    /// CD in the header: a validating resolver answers without validating.
    pub checking_disabled: bool,
}

/// An Extended DNS Error option of a reply (RFC 8914): why a resolver
/// failed, such as "DNSSEC Bogus" or "Signature Expired".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendedError {
    /// The INFO-CODE (RFC 8914 §4).
    pub code: u16,
    /// The EXTRA-TEXT, if any.
    pub text: String,
}

/// Why a query got no reply that can be read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no reply from {server} to the query for {name} {rtype} after {attempts} attempt(s)")]
    Timeout {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        attempts: u32,
    },
    /// Not asked: the server let every attempt of an earlier query time
    /// out in this run.
    #[error(
        "no reply from {server} to the query for {name} {rtype}: {}",
        super::transport::SILENT_EARLIER
    )]
    Silent {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
    },
    #[error("{server} is unreachable (query for {name} {rtype}): {source}")]
    Unreachable {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        source: io::Error,
    },
    #[error("network error while querying {server} for {name} {rtype}: {source}")]
    Io {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        source: io::Error,
    },
    #[error("malformed reply from {server} to the query for {name} {rtype}: {reason}")]
    Malformed {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        reason: String,
    },
    #[error("{server} only sent replies that do not match the query for {name} {rtype}: {reason}")]
    Mismatch {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        reason: String,
    },
}

impl QueryError {
    /// The server the query went to.
    pub fn server(&self) -> SocketAddr {
        match self {
            QueryError::Timeout { server, .. }
            | QueryError::Silent { server, .. }
            | QueryError::Unreachable { server, .. }
            | QueryError::Io { server, .. }
            | QueryError::Malformed { server, .. }
            | QueryError::Mismatch { server, .. } => *server,
        }
    }

    fn from_transport(
        error: TransportError,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
    ) -> Self {
        let name = name.clone();
        match error {
            TransportError::Timeout { attempts } => QueryError::Timeout {
                server,
                name,
                rtype,
                attempts,
            },
            TransportError::Silent => QueryError::Silent {
                server,
                name,
                rtype,
            },
            TransportError::Unreachable(source) => QueryError::Unreachable {
                server,
                name,
                rtype,
                source,
            },
            TransportError::Io(source) => QueryError::Io {
                server,
                name,
                rtype,
                source,
            },
            TransportError::Malformed(reason) => QueryError::Malformed {
                server,
                name,
                rtype,
                reason,
            },
            TransportError::Mismatch(reason) => QueryError::Mismatch {
                server,
                name,
                rtype,
                reason,
            },
        }
    }
}

/// A reply that says nothing about the records: the server declined or
/// failed, or is not authoritative for the name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("{server} refused the query for {name} {rtype}")]
    Refused {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
    },
    #[error("{server} failed to answer for {name} {rtype} (SERVFAIL)")]
    ServFail {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
    },
    #[error("{server} is not authoritative for {name} (NOTAUTH)")]
    NotAuth {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
    },
    /// RD was clear but AA is not set: a referral, or a lame server.
    #[error("{server} does not answer authoritatively for {name} {rtype} (lame or delegated)")]
    NotAuthoritative {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
    },
    /// A NOERROR reply that does not answer the question: its answer
    /// section holds only other names' records, or a NODATA comes without
    /// the zone's SOA, which a negative answer carries (RFC 2308 §3).
    /// Forged or broken; never "no records".
    #[error("{server}'s reply does not answer the question for {name} {rtype}: {why}")]
    NotAnAnswer {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        why: &'static str,
    },
    #[error("{server} answered {rcode} for {name} {rtype}")]
    Rcode {
        server: SocketAddr,
        name: Name,
        rtype: RecordType,
        rcode: ResponseCode,
    },
}

/// A server's reply to one question, as received.
#[derive(Debug, Clone)]
pub struct Response {
    server: SocketAddr,
    name: Name,
    rtype: RecordType,
    recursion: Recursion,
    rcode: ResponseCode,
    authoritative: bool,
    recursion_available: bool,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additionals: Vec<Record>,
    extended_error: Option<ExtendedError>,
    transport: Transport,
}

impl Response {
    /// The server that replied.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// The name asked about.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The type asked about.
    pub fn record_type(&self) -> RecordType {
        self.rtype
    }

    /// The response code (RFC 1035 §4.1.1, RFC 6895 §2.3).
    pub fn rcode(&self) -> ResponseCode {
        self.rcode
    }

    /// The AA bit: the server answered from a zone it is authoritative for.
    pub fn is_authoritative(&self) -> bool {
        self.authoritative
    }

    /// The RA bit.
    pub fn recursion_available(&self) -> bool {
        self.recursion_available
    }

    /// Whether the query set RD.
    pub fn recursion(&self) -> Recursion {
        self.recursion
    }

    /// The transport that carried the final reply (TCP after truncation).
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The raw answer section, whatever the rcode. Prefer
    /// [`records_of`](Self::records_of).
    pub fn answers(&self) -> &[Record] {
        &self.answers
    }

    /// The raw authority section (the SOA of a negative answer, RFC 2308 §3).
    pub fn authority(&self) -> &[Record] {
        &self.authority
    }

    /// The raw additional section (without OPT and TSIG).
    pub fn additionals(&self) -> &[Record] {
        &self.additionals
    }

    /// The Extended DNS Error the reply carries (RFC 8914), if any.
    pub fn extended_error(&self) -> Option<&ExtendedError> {
        self.extended_error.as_ref()
    }

    /// What the reply says about the question: records, NODATA or NXDOMAIN
    /// (RFC 2308 §1), or why it says nothing.
    ///
    /// With RD clear the AA bit is required: a referral or a lame server
    /// has no authority to say that records do not exist.
    pub fn status(&self) -> Result<AnswerStatus, ReplyError> {
        let (server, name, rtype) = (self.server, self.name.clone(), self.rtype);
        let status = match self.rcode {
            ResponseCode::NoError if self.answers.is_empty() => AnswerStatus::NoData,
            ResponseCode::NoError => AnswerStatus::Records,
            ResponseCode::NXDomain => AnswerStatus::NxDomain,
            ResponseCode::Refused => {
                return Err(ReplyError::Refused {
                    server,
                    name,
                    rtype,
                })
            }
            ResponseCode::ServFail => {
                return Err(ReplyError::ServFail {
                    server,
                    name,
                    rtype,
                })
            }
            ResponseCode::NotAuth => {
                return Err(ReplyError::NotAuth {
                    server,
                    name,
                    rtype,
                })
            }
            rcode => {
                return Err(ReplyError::Rcode {
                    server,
                    name,
                    rtype,
                    rcode,
                })
            }
        };
        if self.recursion == Recursion::NotDesired && !self.authoritative {
            return Err(ReplyError::NotAuthoritative {
                server,
                name,
                rtype,
            });
        }
        let why = match status {
            AnswerStatus::NoData if !self.authority_has_soa() => {
                "a NODATA reply without the zone's SOA"
            }
            AnswerStatus::Records if !self.answers_question() => {
                "its answer holds only records of other names"
            }
            _ => return Ok(status),
        };
        Err(ReplyError::NotAnAnswer {
            server,
            name,
            rtype,
            why,
        })
    }

    /// Whether the answer section speaks of the name asked about: a record
    /// of it (of the type asked, or the CNAME that starts a chain), or a
    /// DNAME above it (RFC 6672), as a server puts first in its answer.
    fn answers_question(&self) -> bool {
        // DNAME is type 39; hickory-proto 0.25 has no name for it.
        const DNAME: u16 = 39;
        self.answers.iter().any(|record| {
            let owner = record.name();
            match record.record_type() {
                rtype if u16::from(rtype) == DNAME => {
                    owner.zone_of(&self.name) && owner != &self.name
                }
                RecordType::CNAME => owner == &self.name,
                // An ANY query (RFC 8482 §4.1 lets servers answer it with
                // any subset) is answered by any record of the name.
                _ if self.rtype == RecordType::ANY => owner == &self.name,
                rtype => rtype == self.rtype && owner == &self.name,
            }
        })
    }

    /// Whether the authority section holds a SOA, as a negative answer must
    /// (RFC 2308 §3).
    fn authority_has_soa(&self) -> bool {
        self.authority
            .iter()
            .any(|record| record.record_type() == RecordType::SOA)
    }

    /// The records of type `rtype` owned by `name` in the answer section:
    /// empty for NODATA and NXDOMAIN, an error for every reply that does not
    /// say whether records exist.
    pub fn records_of(&self, name: &Name, rtype: RecordType) -> Result<Vec<Record>, ReplyError> {
        if self.status()? == AnswerStatus::NxDomain {
            // RFC 2308 §2.1: the name does not exist. Records of it beside
            // that RCODE contradict it; they are not read (found by the
            // dns_reply fuzz target).
            return Ok(Vec::new());
        }
        Ok(self
            .answers
            .iter()
            .filter(|record| record.record_type() == rtype && record.name() == name)
            .cloned()
            .collect())
    }

    /// The records that answer the question itself.
    pub fn question_records(&self) -> Result<Vec<Record>, ReplyError> {
        self.records_of(&self.name, self.rtype)
    }

    /// The SOA in the answer section (the name is a zone apex) or else in
    /// the authority section (a negative answer, RFC 2308 §3), with its
    /// owner: the zone that holds the name asked about.
    pub fn zone_soa(&self) -> Option<(&Name, &SOA)> {
        let in_answers = self
            .answers
            .iter()
            .filter(|record| record.name() == &self.name);
        in_answers
            .chain(self.authority.iter())
            .find_map(|record| match record.data() {
                RData::SOA(soa) => Some((record.name(), soa)),
                _ => None,
            })
    }
}

impl fmt::Display for Recursion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recursion::NotDesired => "no recursion",
            Recursion::Desired => "recursion desired",
        })
    }
}

/// Asks `server` for `name`/`rtype` in class IN with RD clear: the
/// authoritative view of one server.
pub async fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    opts: &DnsOptions,
) -> Result<Response, QueryError> {
    query_with(server, name, rtype, Recursion::NotDesired, opts).await
}

/// Asks `server` for `name`/`rtype` with RD set, as a stub resolver would.
pub async fn query_recursive(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    opts: &DnsOptions,
) -> Result<Response, QueryError> {
    query_with(server, name, rtype, Recursion::Desired, opts).await
}

/// Asks `server` one question: over UDP with EDNS(0) (RFC 6891), again over
/// TCP when the reply is truncated (RFC 7766 §5), again without EDNS when
/// the server does not know it (RFC 6891 §7: FORMERR without OPT).
pub async fn query_with(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: Recursion,
    opts: &DnsOptions,
) -> Result<Response, QueryError> {
    query_dnssec(server, name, rtype, recursion, DnssecBits::default(), opts).await
}

/// [`query_with`] with the DNSSEC bits `bits`: with DO the reply carries
/// the RRSIGs of its RRsets and the NSEC or NSEC3 records of a denial.
pub async fn query_dnssec(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    recursion: Recursion,
    bits: DnssecBits,
    opts: &DnsOptions,
) -> Result<Response, QueryError> {
    let mut name = name.clone();
    name.set_fqdn(true);
    let question = Query::query(name.clone(), rtype);
    let id = random_id();
    let expect = Expect {
        id,
        op_code: OpCode::Query,
        question: &question,
    };
    let fail = |error| QueryError::from_transport(error, server, &name, rtype);

    let mut use_edns = true;
    loop {
        let request = query_bytes(id, &question, recursion, bits, use_edns);
        let mut exchanged = exchange_remembering(
            Transport::Udp,
            server,
            &request,
            &expect,
            opts.timeout,
            opts.tries(),
        )
        .await
        .map_err(fail)?;
        if exchanged.truncated {
            exchanged = exchange_remembering(
                Transport::Tcp,
                server,
                &request,
                &expect,
                opts.timeout,
                opts.tries(),
            )
            .await
            .map_err(fail)?;
        }
        let transport = exchanged.transport;
        let Some(message) = exchanged_message(exchanged) else {
            return Err(QueryError::Malformed {
                server,
                name,
                rtype,
                reason: "truncated reply over TCP".to_owned(),
            });
        };
        if use_edns
            && message.response_code() == ResponseCode::FormErr
            && message.extensions().is_none()
        {
            use_edns = false;
            continue;
        }
        return Ok(into_response(
            server, name, rtype, recursion, message, transport,
        ));
    }
}

/// The reply of an exchange, if it is whole: over TCP, or over UDP and
/// not truncated.
pub(super) fn exchanged_message(exchanged: Exchanged) -> Option<Message> {
    match (exchanged.transport, exchanged.truncated) {
        (Transport::Tcp, _) | (Transport::Udp, false) => exchanged.message,
        (Transport::Udp, true) => None,
    }
}

/// The wire form of a query (RFC 1035 §4.1): the header, one question
/// and, with EDNS, an OPT record (RFC 6891 §6.1.2) advertising
/// [`EDNS_PAYLOAD`] bytes, DO as `bits` say and no option. Without EDNS
/// there is no DO bit (RFC 3225 §3).
///
/// Written here rather than through hickory's `Message`: its encoder keeps
/// a copy of every name suffix it might compress later, and a message of
/// one name has nothing to compress. That was a quarter of the
/// allocations of a query, for 30 to 60 bytes.
fn query_bytes(
    id: u16,
    question: &Query,
    recursion: Recursion,
    bits: DnssecBits,
    use_edns: bool,
) -> Vec<u8> {
    // A Name's labels are at most 63 bytes and the whole at most 255
    // (RFC 1035 §2.3.4): hickory checks that when a Name is made.
    let name: usize = question.name().iter().map(|label| label.len() + 1).sum();
    let mut bytes = Vec::with_capacity(12 + name + 1 + 4 + 11);
    bytes.extend_from_slice(&id.to_be_bytes());
    // QR 0, opcode QUERY, AA 0, TC 0, RD as asked | RA 0, Z 0, AD 0, CD
    // as asked, rcode 0.
    bytes.push(u8::from(recursion == Recursion::Desired));
    bytes.push(if bits.checking_disabled { 0x10 } else { 0 });
    // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1 with the OPT record.
    bytes.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(use_edns)]);
    for label in question.name().iter() {
        bytes.push(label.len() as u8);
        bytes.extend_from_slice(label);
    }
    bytes.push(0);
    bytes.extend_from_slice(&u16::from(question.query_type()).to_be_bytes());
    bytes.extend_from_slice(&u16::from(question.query_class()).to_be_bytes());
    if use_edns {
        // Owner: the root; TYPE 41; CLASS: the payload size; TTL: extended
        // rcode 0, version 0, flags (DO is the top bit); RDLENGTH 0.
        bytes.push(0);
        bytes.extend_from_slice(&41u16.to_be_bytes());
        bytes.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
        let flags = if bits.dnssec_ok { 0x80 } else { 0 };
        bytes.extend_from_slice(&[0, 0, flags, 0, 0, 0]);
    }
    bytes
}

pub(super) fn into_response(
    server: SocketAddr,
    name: Name,
    rtype: RecordType,
    recursion: Recursion,
    mut message: Message,
    transport: Transport,
) -> Response {
    let in_class = |record: &Record| record.dns_class() == DNSClass::IN;
    let extended_error = extended_error(&message);
    Response {
        server,
        name,
        rtype,
        recursion,
        rcode: message.response_code(),
        authoritative: message.authoritative(),
        recursion_available: message.recursion_available(),
        answers: message
            .take_answers()
            .into_iter()
            .filter(in_class)
            .collect(),
        authority: message
            .take_name_servers()
            .into_iter()
            .filter(in_class)
            .collect(),
        additionals: message
            .take_additionals()
            .into_iter()
            .filter(in_class)
            .collect(),
        extended_error,
        transport,
    }
}

/// The Extended DNS Error option of `message` (RFC 8914 §2: INFO-CODE,
/// then EXTRA-TEXT in UTF-8); hickory 0.25 has no type for it.
fn extended_error(message: &Message) -> Option<ExtendedError> {
    const EDE: u16 = 15;
    let option = message.extensions().as_ref()?.option(EdnsCode::from(EDE))?;
    let EdnsOption::Unknown(_, data) = option else {
        return None;
    };
    let (code, text) = data.split_first_chunk::<2>()?;
    Some(ExtendedError {
        code: u16::from_be_bytes(*code),
        text: String::from_utf8_lossy(text)
            .trim_end_matches('\0')
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    use hickory_proto::op::{Edns, MessageType};
    use hickory_proto::rr::rdata::{CNAME, SRV};

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn response(
        rcode: ResponseCode,
        aa: bool,
        recursion: Recursion,
        answers: Vec<Record>,
    ) -> Response {
        Response {
            server: SocketAddr::from((Ipv4Addr::LOCALHOST, 53)),
            name: name("_vlmcs._tcp.corp.example."),
            rtype: RecordType::SRV,
            recursion,
            rcode,
            authoritative: aa,
            recursion_available: false,
            answers,
            authority: Vec::new(),
            additionals: Vec::new(),
            extended_error: None,
            transport: Transport::Udp,
        }
    }

    fn soa(zone: &str) -> Record {
        let soa = SOA::new(name(zone), name(zone), 1, 3600, 600, 86400, 300);
        Record::from_rdata(name(zone), 300, RData::SOA(soa))
    }

    fn srv(target: &str) -> Record {
        Record::from_rdata(
            name("_vlmcs._tcp.corp.example."),
            3600,
            RData::SRV(SRV::new(0, 0, 1688, name(target))),
        )
    }

    /// An ANY query is answered by records of the name of any type, and
    /// still not by records of another name.
    #[test]
    fn an_any_query_is_answered_by_any_type_of_the_name() {
        let txt = Record::from_rdata(
            name("_vlmcs._tcp.corp.example."),
            3600,
            RData::TXT(hickory_proto::rr::rdata::TXT::new(vec!["kms".into()])),
        );
        let mut reply = response(
            ResponseCode::NoError,
            true,
            Recursion::NotDesired,
            vec![txt],
        );
        assert!(
            reply.status().is_err(),
            "a TXT does not answer an SRV query"
        );
        reply.rtype = RecordType::ANY;
        assert_eq!(reply.status().unwrap(), AnswerStatus::Records);
        let mut other = srv("kms1.corp.example.");
        other.set_name(name("other.corp.example."));
        reply.answers = vec![other];
        assert!(
            reply.status().is_err(),
            "another name's records answer nothing"
        );
    }

    #[test]
    fn the_query_message_has_rd_clear_and_edns() {
        let question = Query::query(name("corp.example."), RecordType::SOA);
        let bytes = query_bytes(
            0x1234,
            &question,
            Recursion::NotDesired,
            DnssecBits::default(),
            true,
        );
        #[rustfmt::skip]
        let expected = [
            0x12, 0x34, // ID
            0x00, 0x00, // QR 0, opcode QUERY, AA 0, TC 0, RD 0 | RA 0, Z 0, rcode 0
            0, 1, 0, 0, 0, 0, 0, 1, // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1
            4, b'c', b'o', b'r', b'p', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0,
            0, 6, 0, 1, // QTYPE SOA, QCLASS IN
            0, // OPT: the root
            0, 41, // TYPE OPT
            0x04, 0xd0, // CLASS: UDP payload 1232
            0, 0, 0, 0, // TTL: extended rcode 0, version 0, DO 0, Z 0
            0, 0, // RDLENGTH 0
        ];
        assert_eq!(bytes, expected);

        let recursive = query_bytes(
            1,
            &question,
            Recursion::Desired,
            DnssecBits::default(),
            false,
        );
        assert_eq!(recursive[2], 0x01, "RD set");
        assert_eq!(&recursive[10..12], &[0, 0], "no OPT record");
        assert_eq!(recursive.len(), expected.len() - 11);
    }

    #[test]
    fn do_and_cd_are_set_when_asked() {
        let question = Query::query(name("_vlmcs._tcp.corp.example."), RecordType::SRV);
        let bits = DnssecBits {
            dnssec_ok: true,
            checking_disabled: true,
        };
        let bytes = query_bytes(7, &question, Recursion::Desired, bits, true);
        assert_eq!(bytes[3], 0x10, "CD is bit 4 of the second flags byte");
        let opt = bytes.len() - 11;
        assert_eq!(bytes[opt + 7], 0x80, "DO is the top bit of the OPT flags");
        let parsed = Message::from_vec(&bytes).expect("hickory parses it");
        assert!(parsed.checking_disabled());
        assert!(parsed
            .extensions()
            .as_ref()
            .is_some_and(|edns| edns.flags().dnssec_ok));
    }

    #[test]
    fn an_extended_dns_error_is_read() {
        let mut message = Message::new();
        let mut edns = Edns::new();
        // INFO-CODE 6 (DNSSEC Bogus), EXTRA-TEXT.
        let mut data = vec![0, 6];
        data.extend_from_slice(b"bad sig");
        edns.options_mut().insert(EdnsOption::Unknown(15, data));
        message.set_edns(edns);
        assert_eq!(
            extended_error(&message),
            Some(ExtendedError {
                code: 6,
                text: "bad sig".to_owned()
            })
        );
        assert_eq!(extended_error(&Message::new()), None);
    }

    /// hickory reads back what kmsdns writes: the question, its case, the
    /// flags and the EDNS payload.
    #[test]
    fn hickory_reads_the_query_as_written() {
        for (text, rtype) in [
            ("_vlmcs._tcp.Corp.Example.", RecordType::SRV),
            (".", RecordType::NS),
            ("a.b.c.d.e.f.g.h.example.", RecordType::AAAA),
        ] {
            let question = Query::query(name(text), rtype);
            for (recursion, edns) in [(Recursion::Desired, true), (Recursion::NotDesired, false)] {
                let bytes = query_bytes(0xbeef, &question, recursion, DnssecBits::default(), edns);
                let parsed = Message::from_vec(&bytes).expect("hickory parses it");
                assert_eq!(parsed.id(), 0xbeef);
                assert_eq!(parsed.message_type(), MessageType::Query);
                assert_eq!(parsed.op_code(), OpCode::Query);
                assert_eq!(parsed.recursion_desired(), recursion == Recursion::Desired);
                assert_eq!(parsed.queries(), std::slice::from_ref(&question));
                assert_eq!(parsed.queries()[0].name().to_string(), text);
                assert_eq!(
                    parsed.extensions().as_ref().map(Edns::max_payload),
                    edns.then_some(EDNS_PAYLOAD)
                );
                assert!(parsed.answers().is_empty() && parsed.name_servers().is_empty());
            }
        }
    }

    #[test]
    fn refused_and_servfail_are_never_empty_answers() {
        for rcode in [
            ResponseCode::Refused,
            ResponseCode::ServFail,
            ResponseCode::NotAuth,
        ] {
            let response = response(rcode, true, Recursion::NotDesired, Vec::new());
            assert!(response.question_records().is_err(), "{rcode}");
        }
        let nx = response(
            ResponseCode::NXDomain,
            true,
            Recursion::NotDesired,
            Vec::new(),
        );
        assert_eq!(nx.status(), Ok(AnswerStatus::NxDomain));
        assert_eq!(nx.question_records(), Ok(Vec::new()));
        let mut nodata = response(
            ResponseCode::NoError,
            true,
            Recursion::NotDesired,
            Vec::new(),
        );
        nodata.authority.push(soa("corp.example."));
        assert_eq!(nodata.status(), Ok(AnswerStatus::NoData));
    }

    #[test]
    fn a_reply_that_does_not_answer_the_question_is_no_answer() {
        // NOERROR whose answer is another name's SRV: not NODATA.
        let other = response(
            ResponseCode::NoError,
            true,
            Recursion::NotDesired,
            vec![Record::from_rdata(
                name("_vlmcs._tcp.other.example."),
                3600,
                RData::SRV(SRV::new(0, 0, 1688, name("kms9.other.example."))),
            )],
        );
        assert!(matches!(
            other.status(),
            Err(ReplyError::NotAnAnswer { .. })
        ));
        assert!(other.question_records().is_err());
        // An empty NOERROR without the zone's SOA is not a negative answer.
        let bare = response(
            ResponseCode::NoError,
            true,
            Recursion::NotDesired,
            Vec::new(),
        );
        assert!(matches!(bare.status(), Err(ReplyError::NotAnAnswer { .. })));
        // A CNAME at the name starts a chain: an answer, with no SRV of it.
        let alias = response(
            ResponseCode::NoError,
            true,
            Recursion::Desired,
            vec![Record::from_rdata(
                name("_vlmcs._tcp.corp.example."),
                3600,
                RData::CNAME(CNAME(name("_vlmcs._tcp.elsewhere.example."))),
            )],
        );
        assert_eq!(alias.status(), Ok(AnswerStatus::Records));
        assert_eq!(alias.question_records(), Ok(Vec::new()));
    }

    #[test]
    fn without_aa_an_authoritative_query_is_unreadable() {
        let lame = response(
            ResponseCode::NoError,
            false,
            Recursion::NotDesired,
            vec![srv("kms1.corp.example.")],
        );
        assert!(matches!(
            lame.question_records(),
            Err(ReplyError::NotAuthoritative { .. })
        ));
        let recursive = response(
            ResponseCode::NoError,
            false,
            Recursion::Desired,
            vec![srv("kms1.corp.example.")],
        );
        assert_eq!(recursive.question_records().map(|r| r.len()), Ok(1));
    }

    #[test]
    fn nxdomain_has_no_records_whatever_the_answer_section_says() {
        let reply = response(
            ResponseCode::NXDomain,
            true,
            Recursion::NotDesired,
            vec![srv("kms1.corp.example.")],
        );
        let owner = name("_vlmcs._tcp.corp.example.");
        assert_eq!(reply.status(), Ok(AnswerStatus::NxDomain));
        assert_eq!(reply.records_of(&owner, RecordType::SRV), Ok(Vec::new()));
    }

    #[test]
    fn records_of_filters_owner_and_type() {
        let mut answers = vec![srv("kms1.corp.example."), srv("kms2.corp.example.")];
        answers.push(Record::from_rdata(
            name("kms1.corp.example."),
            3600,
            RData::A(Ipv4Addr::new(192, 0, 2, 1).into()),
        ));
        let response = response(ResponseCode::NoError, true, Recursion::NotDesired, answers);
        assert_eq!(response.question_records().map(|r| r.len()), Ok(2));
        assert_eq!(
            response
                .records_of(&name("kms1.corp.example."), RecordType::A)
                .map(|r| r.len()),
            Ok(1)
        );
    }
}
