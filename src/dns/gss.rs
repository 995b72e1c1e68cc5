//! GSS-TSIG (RFC 3645): the secure dynamic updates that Active
//! Directory-integrated zones require, signed with the host's Kerberos
//! identity.
//!
//! 1. Negotiate a security context with the server by TKEY queries
//!    (RFC 2930 §4.1, mode 3 "GSS-API negotiation", RFC 3645 §3.1), over TCP
//!    since tickets with a Windows PAC run to several KB, until the context
//!    is complete; the server's last TKEY answer is TSIG-signed with the new
//!    context and must verify (§3.1.3.1).
//! 2. Sign every UPDATE with a TSIG whose algorithm is `gss-tsig` and whose
//!    MAC is the GSS-API MIC (`GSS_GetMIC`) over the bytes RFC 8945 §4.3.1
//!    digests (§3.2), and verify the MIC of every reply (§3.3).
//!
//! A context is negotiated once per server, client principal and service
//! per run and reused: BIND keeps the negotiated key for an hour, and every
//! negotiation costs a KDC round trip.
//!
//! hickory-proto 0.25.2 has no TKEY type: the TKEY RR is written and read
//! here as an unknown type 249 with its RDATA laid out by hand.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::tsig::{
    make_tsig_record, message_tbs, signed_bitmessage_to_buf, TsigAlgorithm,
};
use hickory_proto::dnssec::rdata::{DNSSECRData, TSIG};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name as GssName;
use libgssapi::oid::{
    GSS_MECH_KRB5, GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE, GSS_NT_KRB5_PRINCIPAL,
};

use super::trace;
use super::transport::{exchange, exchange_verified, random_id, Exchanged, Expect, Transport};
use super::tsig::{TsigError, TsigFields};
use super::update::{build_zone_update, first_request, judge, transport_error};
use super::{DnsOptions, UpdateError, UpdateRequest, UpdateResponse};
use crate::dns::credentials::{GssAuth, GssMechanism};

/// TKEY (RFC 2930 §2): not a type hickory 0.25.2 knows.
const TKEY: u16 = 249;
/// RFC 2930 §2.5: "GSS-API negotiation".
const MODE_GSS_API: u16 = 3;
/// The TSIG window either side of the time signed (RFC 8945 §10).
const FUDGE_SECONDS: u16 = 300;
/// How long the key is asked for; BIND grants an hour whatever is asked.
const KEY_LIFETIME: u32 = 3600;
/// A context older than this is negotiated again, well before the
/// server's hour runs out.
const REUSE_FOR: Duration = Duration::from_secs(3000);
/// RFC 3645 §3.1.1: a negotiation that needs more legs is broken.
const MAX_LEGS: usize = 8;

/// Why GSS-TSIG could not sign, or the server would not take it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GssError {
    #[error("no Kerberos credentials for {principal}: run kinit, or set `keytab` for the domain ({detail})")]
    NoCredentials { principal: String, detail: String },
    #[error("the Kerberos KDC is unreachable while getting a ticket for {service} ({detail}): check krb5.conf and that the KDC is up")]
    KdcUnreachable { service: String, detail: String },
    #[error("the KDC does not know the service principal {service} ({detail}): set `service-host` to the DNS server's host name as registered in Kerberos")]
    UnknownService { service: String, detail: String },
    #[error("the clocks of this host and the KDC or DNS server differ by more than 5 minutes ({detail}): synchronise them (NTP)")]
    ClockSkew { detail: String },
    #[error("GSS-API context negotiation with {server} for {service} failed: {detail}")]
    Negotiation {
        server: SocketAddr,
        service: String,
        detail: String,
    },
    #[error("{server} refused the update to zone {zone} signed by Kerberos principal {principal}: it is not granted {name} SRV in the zone's update-policy (see `kmsdns bind`), or the server is not the zone's primary")]
    Refused {
        server: SocketAddr,
        zone: Name,
        name: Name,
        principal: String,
    },
    /// Samba's (and Windows') answer to a principal the name's security
    /// descriptor does not let write: SERVFAIL or REFUSED, sent as an
    /// unsigned echo of the request.
    #[error("{server} refused the update of {name} in zone {zone} signed by Kerberos principal {principal} ({rcode}, unsigned){}", denied_hint(*name_exists, name, zone))]
    Denied {
        server: SocketAddr,
        zone: Name,
        name: Name,
        principal: String,
        /// The rcode's mnemonic: SERVFAIL (Samba's access denied) or REFUSED.
        rcode: String,
        /// Whether the name had records when the refusal came.
        name_exists: bool,
    },
    #[error("{server} rejected the GSS-TSIG signature of {principal} for zone {zone} (NOTAUTH, {}): {}", tsig_error.map_or_else(|| "no TSIG error".to_owned(), |e| e.to_string()), rejection_hint(*tsig_error))]
    Rejected {
        server: SocketAddr,
        zone: Name,
        principal: String,
        tsig_error: Option<TsigError>,
    },
}

/// Why an AD-integrated zone refuses a granted principal: the name's
/// creator owns its directory object (dnsNode), and nobody else may write
/// it unless its security descriptor says so. The records do not show the
/// owner; the directory does.
fn denied_hint(name_exists: bool, name: &Name, zone: &Name) -> String {
    if !name_exists {
        return ": the principal may not create names in the zone (on Active Directory: \
                the zone's security must let it create child objects), or the zone \
                takes no secure updates from it"
            .to_owned();
    }
    format!(
        ": {name} exists, and in Active Directory-integrated DNS the principal that created \
         a name owns it; only the owner (and administrators) may change it. The records do \
         not show the owner, the directory does: `samba-tool dsacl get --objectdn={}` on \
         Samba, the Security tab of the _vlmcs node in DNS Manager or ADSI Edit on Windows. \
         Fix it either way: give a group holding every KMS host's account Full Control on \
         the _VLMCS._TCP node, or publish every host with one principal",
        dns_node_dn(name, zone)
    )
}

/// The distinguished name of `name`'s dnsNode object when `zone` is stored
/// in the domain's DomainDnsZones partition, as Samba and Windows store
/// AD-integrated zones by default.
fn dns_node_dn(name: &Name, zone: &Name) -> String {
    let text = |n: &Name| n.to_ascii().trim_end_matches('.').to_owned();
    let zone_text = text(zone);
    let full = text(name);
    let relative = full
        .strip_suffix(&zone_text)
        .map(|head| head.trim_end_matches('.'))
        .filter(|head| !head.is_empty())
        .unwrap_or("@");
    let domain: Vec<String> = zone_text
        .split('.')
        .map(|label| format!("DC={label}"))
        .collect();
    format!(
        "DC={relative},DC={zone_text},CN=MicrosoftDNS,DC=DomainDnsZones,{}",
        domain.join(",")
    )
}

fn rejection_hint(error: Option<TsigError>) -> &'static str {
    match error {
        Some(TsigError::BadKey) => {
            "the server does not know the negotiated key (expired, or the server restarted): run again"
        }
        Some(TsigError::BadTime) => "the clocks differ by more than 5 minutes",
        _ => "the MIC does not verify with the server's context",
    }
}

/// A negotiated context: the TKEY key name and the GSS context behind it.
struct Session {
    key_name: Name,
    ctx: ClientCtx,
    principal: String,
    negotiated: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Session>>>;

/// Contexts per (server, authentication settings), for this run.
fn sessions() -> &'static Mutex<HashMap<(SocketAddr, GssAuth), Slot>> {
    static SESSIONS: OnceLock<Mutex<HashMap<(SocketAddr, GssAuth), Slot>>> = OnceLock::new();
    SESSIONS.get_or_init(|| Mutex::new(HashMap::new()))
}

fn slot(server: SocketAddr, auth: &GssAuth) -> Slot {
    let mut map = sessions()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry((server, auth.clone())).or_default().clone()
}

/// The client principal of the context negotiated with `server` for
/// `auth` in this run, if there is one and no exchange holds it.
pub fn negotiated_principal(server: SocketAddr, auth: &GssAuth) -> Option<String> {
    let slot = sessions()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&(server, auth.clone()))?
        .clone();
    let session = slot.try_lock().ok()?;
    session.as_ref().map(|s| s.principal.clone())
}

/// Like [`super::send_zone_update`], signed with GSS-TSIG: negotiates (or
/// reuses) the context with `server`, sends the UPDATE over TCP signed with
/// the context's MIC, and verifies the reply's.
///
/// An unsigned echo of the request (Samba's error replies) is read by its
/// rcode: NXRRSET and YXRRSET are failed prerequisites, which the caller
/// re-reads and retries; SERVFAIL and REFUSED are a refusal of this
/// principal ([`GssError::Denied`]), which nobody signed, so the caller
/// reads back whether anything changed before reporting it.
pub async fn send_zone_update_gss(
    server: SocketAddr,
    requests: &[UpdateRequest],
    auth: &GssAuth,
    opts: &DnsOptions,
) -> Result<UpdateResponse, UpdateError> {
    let request = first_request(requests)?;
    let message = build_zone_update(requests, random_id())?;
    let signed = exchange_signed(server, &request.zone, auth, message, opts).await?;
    let principal = signed.principal;
    match judge(
        &request.zone,
        &request.name,
        None,
        server,
        signed.exchanged,
        1,
        None,
    ) {
        Err(UpdateError::Refused { zone, .. } | UpdateError::ServFail { zone, .. })
            if signed.echoed =>
        {
            let name = request.name.clone();
            // A refusal on a name that has records is AD's ownership problem.
            let name_exists = super::identify::serves_srv(server, &name, opts).await;
            Err(UpdateError::Gss(GssError::Denied {
                server,
                zone,
                name,
                principal,
                rcode: signed.rcode,
                name_exists,
            }))
        }
        Err(UpdateError::Refused {
            server, zone, name, ..
        }) => Err(UpdateError::Gss(GssError::Refused {
            server,
            zone,
            name,
            principal,
        })),
        Err(UpdateError::NotAuth {
            server,
            zone,
            tsig_error,
            ..
        }) => Err(UpdateError::Gss(GssError::Rejected {
            server,
            zone,
            principal,
            tsig_error,
        })),
        Ok(mut response) => {
            response.signed = true;
            Ok(response)
        }
        other => other,
    }
}

/// A signed exchange: what came back, who signed, and whether the reply
/// was an unsigned echo of the request.
pub(crate) struct SignedExchange {
    pub exchanged: Exchanged,
    /// The client principal of the context that signed.
    pub principal: String,
    /// The reply carried the request's own TSIG: its rcode is the server's
    /// unsigned word.
    pub echoed: bool,
    /// The reply's rcode mnemonic, as dig prints it.
    pub rcode: String,
}

/// Signs `message` (an UPDATE of `zone`) with the context for `server`,
/// sends it over TCP and verifies the reply's TSIG. A reply that does not
/// verify is set aside while the server's may still come on the
/// connection ([`is_readable`]); only when none does is it judged. A reply with a TSIG
/// error or an empty MAC is returned as it is (its rcode says NOTAUTH), and
/// so is an error reply that echoes the request's own TSIG; a MIC that does
/// not verify, or an unsigned (or echoed) success, is an error.
pub(crate) async fn exchange_signed(
    server: SocketAddr,
    zone: &Name,
    auth: &GssAuth,
    mut message: Message,
    opts: &DnsOptions,
) -> Result<SignedExchange, UpdateError> {
    let slot = slot(server, auth);
    let mut guard = slot.lock().await;
    if guard
        .as_ref()
        .is_none_or(|session| session.negotiated.elapsed() > REUSE_FOR)
    {
        *guard = None;
        *guard = Some(negotiate(server, zone, auth, opts).await?);
    }
    let Some(session) = guard.as_mut() else {
        return Err(UpdateError::InvalidRequest {
            zone: zone.clone(),
            reason: "no GSS-API context".to_owned(),
        });
    };
    let invalid = |reason: String| UpdateError::InvalidRequest {
        zone: zone.clone(),
        reason,
    };
    let request_mac = sign(
        &mut message,
        &session.key_name,
        &mut session.ctx,
        unix_now(),
    )
    .map_err(invalid)?;
    let bytes = message
        .to_vec()
        .map_err(|error| invalid(format!("cannot encode the message: {error}")))?;
    let question = message
        .queries()
        .first()
        .cloned()
        .unwrap_or_else(|| Query::query(zone.clone(), RecordType::SOA));
    let expect = Expect {
        id: message.id(),
        op_code: message.op_code(),
        question: &question,
    };
    // The verdicts of the replies exchange_verified may return (the one
    // that ends the wait, or the first set aside) are kept, as the
    // context's replay detection lets a MIC verify only once; the others
    // are dropped, however many come.
    let first_set_aside: RefCell<Option<(Vec<u8>, Verdict)>> = RefCell::new(None);
    let ending: RefCell<Option<(Vec<u8>, Verdict)>> = RefCell::new(None);
    let ctx = RefCell::new(&mut session.ctx);
    let readable = |bytes: &[u8], reply: &Message| {
        let verdict = verify(bytes, reply, Some(&request_mac), &mut ctx.borrow_mut());
        let readable = is_readable(&verdict, reply.response_code());
        let keep = if readable { &ending } else { &first_set_aside };
        keep.borrow_mut()
            .get_or_insert_with(|| (bytes.to_vec(), verdict));
        readable
    };
    let exchanged = exchange_verified(
        Transport::Tcp,
        server,
        &bytes,
        &expect,
        opts.timeout,
        opts.tries(),
        Some(&readable),
    )
    .await
    .map_err(|error| transport_error(error, server, zone))?;
    let Some(reply) = &exchanged.message else {
        return Err(UpdateError::Malformed {
            server,
            zone: zone.clone(),
            reason: "the reply does not parse".to_owned(),
        });
    };
    let rcode = reply.response_code();
    let verdict = [ending.into_inner(), first_set_aside.into_inner()]
        .into_iter()
        .flatten()
        .find(|(bytes, _)| *bytes == exchanged.bytes)
        .map_or(Verdict::Unsigned, |(_, verdict)| verdict);
    let echoed = verdict == Verdict::Echo;
    if let Verdict::Verified(form) = &verdict {
        trace::note(|| format!("GSS-TSIG reply from {server} verified ({form})"));
    }
    if verdict == Verdict::Echo && rcode != ResponseCode::NoError {
        trace::note(|| {
            format!(
                "{server} answered {} by echoing the request with its own TSIG: an unsigned error reply",
                trace::rcode(&exchanged.bytes, false)
            )
        });
    }
    believe(verdict, rcode, server, zone, &session.principal)?;
    let principal = session.principal.clone();
    let rcode = trace::rcode(&exchanged.bytes, false);
    Ok(SignedExchange {
        exchanged,
        principal,
        echoed,
        rcode,
    })
}

/// Whether a reply whose TSIG got `verdict` ends the wait for the server's
/// answer: one [`believe`] reads by its rcode. Any other (unsigned, a MIC
/// that does not verify, a TSIG error nobody signed) is set aside while a
/// verified reply may still come on the connection.
fn is_readable(verdict: &Verdict, rcode: ResponseCode) -> bool {
    match verdict {
        Verdict::Verified(_) => true,
        Verdict::Echo => rcode != ResponseCode::NoError,
        Verdict::Unsigned | Verdict::Rejected(_) | Verdict::Invalid(_) => false,
    }
}

/// Whether a reply whose TSIG got `verdict` may be read by its `rcode`.
///
/// A verified reply may. So may an error that echoes the request (Samba
/// answers errors with the request itself, rcode set): it is read as an
/// unsigned error reply, never as a forgery, and the caller reads back
/// what changed before reporting a refusal. Any other unsigned reply is not
/// believed, whatever its rcode (RFC 8945 §5.3.2, as on the HMAC path):
/// anyone who saw the request can send REFUSED or SERVFAIL with its ID, so
/// the outcome is unknown and the caller reads the zone back.
fn believe(
    verdict: Verdict,
    rcode: ResponseCode,
    server: SocketAddr,
    zone: &Name,
    principal: &str,
) -> Result<(), UpdateError> {
    let bad = |reason: String| UpdateError::BadResponseSignature {
        server,
        zone: zone.clone(),
        reason,
    };
    match verdict {
        Verdict::Verified(_) => Ok(()),
        Verdict::Rejected(tsig_error) => Err(UpdateError::Gss(GssError::Rejected {
            server,
            zone: zone.clone(),
            principal: principal.to_owned(),
            tsig_error,
        })),
        Verdict::Echo if rcode != ResponseCode::NoError => Ok(()),
        Verdict::Echo => Err(bad(
            "the reply says NOERROR but carries the request's own MAC, not the server's".into(),
        )),
        Verdict::Unsigned => Err(bad(format!(
            "the reply to a signed update is not signed (it said {rcode})"
        ))),
        Verdict::Invalid(reason) => Err(bad(reason)),
    }
}

/// Appends a GSS-TSIG record to `message` signed at `now` (RFC 3645 §3.2:
/// RFC 8945's digest, with the MIC as MAC) and returns the MAC, which the
/// reply's digest starts with.
fn sign(
    message: &mut Message,
    key_name: &Name,
    ctx: &mut ClientCtx,
    now: u64,
) -> Result<Vec<u8>, String> {
    let unsigned = TSIG::new(
        TsigAlgorithm::Gss,
        now,
        FUDGE_SECONDS,
        Vec::new(),
        message.id(),
        0,
        Vec::new(),
    );
    let covered = message_tbs(None, message, &unsigned, key_name)
        .map_err(|error| format!("cannot encode the message to sign: {error}"))?;
    let mic = ctx
        .get_mic(&covered)
        .map_err(|error| format!("GSS_GetMIC failed: {error}"))?
        .to_vec();
    message.add_tsig(make_tsig_record(
        key_name.clone(),
        unsigned.set_mac(mic.clone()),
    ));
    Ok(mic)
}

/// The digest a reply's MIC verified over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignatureForm {
    /// RFC 8945 §4.3.3: the request MAC with its 2-byte length, then the
    /// reply (BIND).
    Rfc8945,
    /// The request MAC without its length (Samba 4's internal DNS server).
    /// Accepted for GSS-TSIG only: an HMAC key is never checked this way.
    SambaMacWithoutLength,
}

impl std::fmt::Display for SignatureForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureForm::Rfc8945 => "RFC 8945 form",
            SignatureForm::SambaMacWithoutLength => {
                "Samba's form: the request MAC without its length"
            }
        })
    }
}

/// What a reply's GSS-TSIG says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Verified(SignatureForm),
    Unsigned,
    /// The reply carries the request's own TSIG, MAC unchanged: the server
    /// echoed the request with an rcode set (Samba does so for errors).
    /// Nothing in it is signed by the server.
    Echo,
    Rejected(Option<TsigError>),
    Invalid(String),
}

/// Verifies the TSIG of `bytes` (parsed: `reply`) with the context: the
/// server's error first, then the algorithm, the MIC over RFC 8945 §4.3's
/// digest chained to `request_mac` (else over Samba's form of it), and the
/// time.
fn verify(
    bytes: &[u8],
    reply: &Message,
    request_mac: Option<&[u8]>,
    ctx: &mut ClientCtx,
) -> Verdict {
    verify_with(bytes, reply, request_mac, &mut |covered, mic| {
        ctx.verify_mic(covered, mic)
            .map(|_| ())
            .map_err(|error| error.to_string())
    })
}

/// GSS_VerifyMIC of a MIC over some bytes: `(covered, mic)`.
type VerifyMic<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), String> + 'a;

/// [`verify`] with `verify_mic(covered, mic)` standing for the context's
/// GSS_VerifyMIC.
fn verify_with(
    bytes: &[u8],
    reply: &Message,
    request_mac: Option<&[u8]>,
    verify_mic: &mut VerifyMic<'_>,
) -> Verdict {
    let Some(record) = reply.signature().last() else {
        return Verdict::Unsigned;
    };
    let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
        return Verdict::Invalid("the reply is signed with SIG(0), not TSIG".to_owned());
    };
    let fields = match TsigFields::of(tsig) {
        Ok(fields) => fields,
        Err(why) => return Verdict::Invalid(why),
    };
    if let Some(error) = TsigError::from_code(fields.error) {
        return Verdict::Rejected(Some(error));
    }
    if tsig.mac().is_empty() {
        return Verdict::Rejected(None);
    }
    if is_echo(tsig.mac(), request_mac) {
        return Verdict::Echo;
    }
    if tsig.algorithm() != &TsigAlgorithm::Gss {
        return Verdict::Invalid(format!(
            "signed with algorithm {}, not gss-tsig",
            tsig.algorithm()
        ));
    }
    let (covered, record) = match signed_bitmessage_to_buf(request_mac, bytes, true) {
        Ok(parts) => parts,
        Err(error) => return Verdict::Invalid(format!("cannot read the reply: {error}")),
    };
    let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
        return Verdict::Invalid("the reply's last record is not TSIG".to_owned());
    };
    let form = match verify_either_form(verify_mic, &covered, request_mac.is_some(), tsig.mac()) {
        Ok(form) => form,
        Err(error) => return Verdict::Invalid(format!("the GSS MIC does not verify: {error}")),
    };
    let now = unix_now();
    let fudge = u64::from(tsig.fudge().min(FUDGE_SECONDS));
    if now.abs_diff(tsig.time()) > fudge {
        return Verdict::Invalid(format!(
            "signed at {} (seconds since 1970), more than {fudge} s from our clock ({now})",
            tsig.time()
        ));
    }
    Verdict::Verified(form)
}

/// Whether a reply's MAC is the request's own: an echo, not a signature.
fn is_echo(reply_mac: &[u8], request_mac: Option<&[u8]>) -> bool {
    request_mac.is_some_and(|request| request == reply_mac)
}

/// The MIC over `covered` (RFC 8945's digest, starting with the request
/// MAC's length when `chained`), else over the same bytes without that
/// length, as Samba digests: the form that verified, or the RFC form's
/// error.
fn verify_either_form(
    verify_mic: &mut VerifyMic<'_>,
    covered: &[u8],
    chained: bool,
    mic: &[u8],
) -> Result<SignatureForm, String> {
    let rfc_error = match verify_mic(covered, mic) {
        Ok(()) => return Ok(SignatureForm::Rfc8945),
        Err(error) => error,
    };
    match samba_form(covered, chained) {
        Some(without_length) if verify_mic(without_length, mic).is_ok() => {
            Ok(SignatureForm::SambaMacWithoutLength)
        }
        _ => Err(rfc_error),
    }
}

/// RFC 8945's reply digest without the 2-byte length of the request MAC it
/// starts with; `None` when it starts with no request MAC.
fn samba_form(covered: &[u8], chained: bool) -> Option<&[u8]> {
    if chained {
        covered.get(2..)
    } else {
        None
    }
}

/// The first leg, which may contact the KDC (blocking): the credential,
/// the context and its first token.
fn start(auth: &GssAuth, service: &str) -> Result<(ClientCtx, String, Vec<u8>), GssError> {
    let wanted = auth.principal_text();
    if let Some(keytab) = &auth.keytab {
        if !keytab.is_file() {
            return Err(GssError::NoCredentials {
                principal: wanted,
                detail: format!("keytab {} does not exist", keytab.display()),
            });
        }
    }
    let mech = match auth.mechanism {
        GssMechanism::Spnego => GSS_MECH_SPNEGO,
        GssMechanism::Kerberos => GSS_MECH_KRB5,
    };
    let no_credentials = |detail: String| GssError::NoCredentials {
        principal: wanted.clone(),
        detail,
    };
    let cred = match &auth.keytab {
        // A private, in-memory credential cache: the ticket got from the
        // keytab never lands in (or mixes with) the user's cache.
        Some(keytab) => super::gss_keytab::acquire(auth.principal.as_deref(), keytab),
        None => {
            let name = match &auth.principal {
                Some(principal) => Some(
                    GssName::new(principal.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL))
                        .map_err(|e| no_credentials(format!("invalid principal: {e}")))?,
                ),
                None => None,
            };
            Cred::acquire(name.as_ref(), None, CredUsage::Initiate, None)
        }
    }
    .map_err(|e| classify(&e.to_string(), &wanted, service))?;
    let principal = cred
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| wanted.clone());
    let target = GssName::new(service.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE)).map_err(|e| {
        GssError::UnknownService {
            service: service.to_owned(),
            detail: e.to_string(),
        }
    })?;
    let mut ctx = ClientCtx::new(
        Some(cred),
        target,
        CtxFlags::GSS_C_MUTUAL_FLAG | CtxFlags::GSS_C_REPLAY_FLAG | CtxFlags::GSS_C_INTEG_FLAG,
        Some(mech),
    );
    let token = ctx
        .step(None, None)
        .map_err(|e| classify(&e.to_string(), &principal, service))?
        .map(|t| t.to_vec())
        .unwrap_or_default();
    Ok((ctx, principal, token))
}

/// Names a GSS-API failure by MIT Kerberos's minor status text.
fn classify(detail: &str, principal: &str, service: &str) -> GssError {
    let lower = detail.to_ascii_lowercase();
    let detail = detail.trim().to_owned();
    let service_principal = format!("DNS/{}", service.trim_start_matches("DNS@"));
    if lower.contains("cannot contact any kdc")
        || lower.contains("cannot find kdc")
        || lower.contains("unable to reach any kdc")
    {
        GssError::KdcUnreachable {
            service: service_principal,
            detail,
        }
    } else if lower.contains("clock skew") {
        GssError::ClockSkew { detail }
    } else if lower.contains("server") && lower.contains("not found in kerberos database") {
        GssError::UnknownService {
            service: service_principal,
            detail,
        }
    } else if lower.contains("no kerberos credentials")
        || lower.contains("no credentials")
        || lower.contains("not found in kerberos database")
        || lower.contains("key table")
        || lower.contains("keytab")
        || lower.contains("credentials cache")
        || lower.contains("expired")
    {
        GssError::NoCredentials {
            principal: principal.to_owned(),
            detail,
        }
    } else {
        GssError::KdcUnreachable {
            service: service_principal,
            detail,
        }
    }
}

/// RFC 3645 §3.1: TKEY queries until the context is complete, then the
/// check of the server's signed last answer.
async fn negotiate(
    server: SocketAddr,
    zone: &Name,
    auth: &GssAuth,
    opts: &DnsOptions,
) -> Result<Session, UpdateError> {
    let host = match &auth.service_host {
        Some(host) => host.clone(),
        None => soa_mname(server, zone, opts).await?,
    };
    let host = host.to_ascii().trim_end_matches('.').to_owned();
    let service = format!("DNS@{host}");
    let auth_owned = auth.clone();
    let service_owned = service.clone();
    let (mut ctx, principal, mut token) =
        tokio::task::spawn_blocking(move || start(&auth_owned, &service_owned))
            .await
            .map_err(|e| UpdateError::InvalidRequest {
                zone: zone.clone(),
                reason: format!("the Kerberos task failed: {e}"),
            })?
            .map_err(UpdateError::Gss)?;
    let fail = |detail: String| {
        UpdateError::Gss(GssError::Negotiation {
            server,
            service: format!("DNS/{host}"),
            detail,
        })
    };
    // RFC 3645 §3.1.1: a fresh, unique key name per context.
    let key_name = Name::from_ascii(format!("{}.sig-kmsdns.", random_u32()))
        .map_err(|e| fail(format!("cannot make the key name: {e}")))?;

    for _ in 0..MAX_LEGS {
        let query = tkey_query(&key_name, &token, random_id(), unix_now())
            .map_err(|e| fail(e.to_string()))?;
        let bytes = query.to_vec().map_err(|e| fail(e.to_string()))?;
        let question = query.queries()[0].clone();
        let expect = Expect {
            id: query.id(),
            op_code: OpCode::Query,
            question: &question,
        };
        let exchanged = exchange(
            Transport::Tcp,
            server,
            &bytes,
            &expect,
            opts.timeout,
            opts.tries(),
        )
        .await
        .map_err(|error| transport_error(error, server, zone))?;
        let Some(reply) = &exchanged.message else {
            return Err(fail("the TKEY reply does not parse".into()));
        };
        if reply.response_code() != ResponseCode::NoError {
            return Err(fail(format!(
                "the server answered {} to TKEY (is tkey-gssapi-keytab or tkey-gssapi-credential configured, with the key of DNS/{host}?)",
                reply.response_code()
            )));
        }
        let answer = parse_tkey_answer(reply, &key_name).map_err(fail)?;
        match answer.error {
            0 => {}
            17 => return Err(fail(format!("the server rejected our ticket (TKEY BADKEY): its keytab has no current key for DNS/{host}, or the clocks differ"))),
            code => return Err(fail(format!("the server answered TKEY error {code}"))),
        }
        if ctx.is_complete() {
            // Only possible if the server sent nothing to complete it.
            return Err(fail(
                "the server sent a token after the context was complete".into(),
            ));
        }
        let next = ctx
            .step(Some(&answer.key), None)
            .map_err(|e| fail(format!("the server's token is not accepted: {e}")))?;
        match next {
            Some(more) if !ctx.is_complete() => token = more.to_vec(),
            _ => {
                // §3.1.3.1: the last answer is signed with the new context.
                return match verify(&exchanged.bytes, reply, None, &mut ctx) {
                    Verdict::Verified(_) => Ok(Session {
                        key_name,
                        ctx,
                        principal,
                        negotiated: Instant::now(),
                    }),
                    Verdict::Unsigned | Verdict::Echo => {
                        Err(fail("the server's final TKEY answer is not signed".into()))
                    }
                    Verdict::Rejected(error) => Err(fail(format!(
                        "the server's final TKEY answer carries TSIG error {error:?}"
                    ))),
                    Verdict::Invalid(reason) => Err(fail(format!(
                        "the server's final TKEY answer fails verification: {reason}"
                    ))),
                };
            }
        }
    }
    Err(fail(format!(
        "no complete context after {MAX_LEGS} TKEY exchanges"
    )))
}

/// The zone's primary name (SOA MNAME), asked of `server` itself.
async fn soa_mname(
    server: SocketAddr,
    zone: &Name,
    opts: &DnsOptions,
) -> Result<Name, UpdateError> {
    let fail = |reason: String| UpdateError::InvalidRequest {
        zone: zone.clone(),
        reason: format!(
            "cannot find the DNS server's Kerberos name (set `service-host`): {reason}"
        ),
    };
    let response = super::query(server, zone, RecordType::SOA, opts)
        .await
        .map_err(|e| fail(e.to_string()))?;
    response
        .answers()
        .iter()
        .find_map(|record| match record.data() {
            RData::SOA(soa) => Some(soa.mname().clone()),
            _ => None,
        })
        .ok_or_else(|| fail(format!("{server} has no SOA for {zone}")))
}

/// A TKEY query (RFC 2930 §3, RFC 3645 §3.1.1): question `key_name` TKEY
/// ANY, and in the additional section the TKEY RR carrying `token`.
fn tkey_query(
    key_name: &Name,
    token: &[u8],
    id: u16,
    now: u64,
) -> Result<Message, hickory_proto::ProtoError> {
    let mut question = Query::query(key_name.clone(), RecordType::Unknown(TKEY));
    question.set_query_class(DNSClass::ANY);
    let inception = now as u32;
    let rdata = tkey_rdata(
        inception,
        inception.wrapping_add(KEY_LIFETIME),
        MODE_GSS_API,
        0,
        token,
    );
    let mut record = Record::from_rdata(
        key_name.clone(),
        0,
        RData::Unknown {
            code: RecordType::Unknown(TKEY),
            rdata: NULL::with(rdata),
        },
    );
    record.set_dns_class(DNSClass::ANY);
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false)
        .add_query(question)
        .add_additional(record);
    Ok(message)
}

/// TKEY RDATA (RFC 2930 §2): algorithm `gss-tsig.` uncompressed,
/// inception, expiration, mode, error, key size and key, other size 0.
fn tkey_rdata(inception: u32, expiration: u32, mode: u16, error: u16, key: &[u8]) -> Vec<u8> {
    let mut rdata = Vec::with_capacity(32 + key.len());
    rdata.push(8);
    rdata.extend_from_slice(b"gss-tsig");
    rdata.push(0);
    rdata.extend_from_slice(&inception.to_be_bytes());
    rdata.extend_from_slice(&expiration.to_be_bytes());
    rdata.extend_from_slice(&mode.to_be_bytes());
    rdata.extend_from_slice(&error.to_be_bytes());
    // A GSS token is far below 64 KiB: a DNS message cannot hold more.
    rdata.extend_from_slice(&(key.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    rdata.extend_from_slice(key);
    rdata.extend_from_slice(&0u16.to_be_bytes());
    rdata
}

/// The fields of a TKEY answer kmsdns uses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TkeyAnswer {
    mode: u16,
    error: u16,
    key: Vec<u8>,
}

/// Reads a TKEY RDATA (RFC 2930 §2).
fn parse_tkey_rdata(rdata: &[u8]) -> Result<TkeyAnswer, String> {
    let malformed = |e: &dyn std::fmt::Display| format!("malformed TKEY RDATA: {e}");
    let mut decoder = BinDecoder::new(rdata);
    let algorithm = Name::read(&mut decoder).map_err(|e| malformed(&e))?;
    if !algorithm.to_ascii().eq_ignore_ascii_case("gss-tsig.") {
        return Err(format!(
            "the TKEY answer is for algorithm {algorithm}, not gss-tsig"
        ));
    }
    decoder.read_slice(8).map_err(|e| malformed(&e))?;
    let mode = decoder.read_u16().map_err(|e| malformed(&e))?.unverified();
    let error = decoder.read_u16().map_err(|e| malformed(&e))?.unverified();
    let size = decoder.read_u16().map_err(|e| malformed(&e))?.unverified();
    let key = decoder
        .read_slice(usize::from(size))
        .map_err(|e| malformed(&e))?
        .unverified()
        .to_vec();
    Ok(TkeyAnswer { mode, error, key })
}

/// The TKEY RR for `key_name` in the answer section of `reply`.
fn parse_tkey_answer(reply: &Message, key_name: &Name) -> Result<TkeyAnswer, String> {
    let record = reply
        .answers()
        .iter()
        .find(|record| record.record_type() == RecordType::Unknown(TKEY))
        .ok_or_else(|| "the TKEY reply has no TKEY answer".to_owned())?;
    if !record.name().eq_case(key_name) && record.name() != key_name {
        return Err(format!(
            "the TKEY answer is for {}, not {key_name}",
            record.name()
        ));
    }
    let RData::Unknown { rdata, .. } = record.data() else {
        return Err("the TKEY answer does not parse".to_owned());
    };
    let answer = parse_tkey_rdata(rdata.anything())?;
    if answer.mode != MODE_GSS_API {
        return Err(format!(
            "the TKEY answer has mode {}, not 3 (GSS-API)",
            answer.mode
        ));
    }
    Ok(answer)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn random_u32() -> u32 {
    (u32::from(random_id()) << 16) | u32::from(random_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsigned_error_that_is_no_echo_is_not_believed() {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let zone = Name::from_ascii("ad.example.").unwrap();
        let p = "KMS1$@AD.EXAMPLE";
        // A plain unsigned REFUSED or SERVFAIL to a signed UPDATE: anyone
        // could have sent it, so the outcome is unknown (read back), never
        // the server's refusal.
        for rcode in [
            ResponseCode::Refused,
            ResponseCode::ServFail,
            ResponseCode::NoError,
        ] {
            let error = believe(Verdict::Unsigned, rcode, server, &zone, p).unwrap_err();
            assert!(
                matches!(error, UpdateError::BadResponseSignature { .. }),
                "{rcode}: {error:?}"
            );
            assert!(error.to_string().contains("not signed"), "{error}");
        }
        // Samba's echo of the request with an error rcode is read by it.
        for rcode in [
            ResponseCode::Refused,
            ResponseCode::ServFail,
            ResponseCode::NXRRSet,
        ] {
            assert!(believe(Verdict::Echo, rcode, server, &zone, p).is_ok());
        }
        assert!(believe(Verdict::Echo, ResponseCode::NoError, server, &zone, p).is_err());
        assert!(believe(
            Verdict::Verified(SignatureForm::Rfc8945),
            ResponseCode::Refused,
            server,
            &zone,
            p
        )
        .is_ok());
    }

    #[test]
    fn tkey_rdata_wire_form() {
        let rdata = tkey_rdata(0x0102_0304, 0x0506_0708, 3, 0, &[0xaa, 0xbb]);
        #[rustfmt::skip]
        let expected = [
            8, b'g', b's', b's', b'-', b't', b's', b'i', b'g', 0, // algorithm, uncompressed
            1, 2, 3, 4,   // inception
            5, 6, 7, 8,   // expiration
            0, 3,         // mode 3: GSS-API negotiation
            0, 0,         // error
            0, 2,         // key size
            0xaa, 0xbb,   // key: the GSS token
            0, 0,         // other size
        ];
        assert_eq!(rdata, expected);
        let back = parse_tkey_rdata(&rdata).unwrap();
        assert_eq!(
            back,
            TkeyAnswer {
                mode: 3,
                error: 0,
                key: vec![0xaa, 0xbb]
            }
        );
    }

    #[test]
    fn truncated_tkey_rdata_is_an_error() {
        let rdata = tkey_rdata(1, 2, 3, 0, &[1, 2, 3, 4]);
        assert!(parse_tkey_rdata(&rdata[..rdata.len() - 4]).is_err());
    }

    #[test]
    fn tkey_query_round_trips() {
        let key = Name::from_ascii("123.sig-kmsdns.").unwrap();
        let query = tkey_query(&key, b"token", 7, 1_700_000_000).unwrap();
        let parsed = Message::from_vec(&query.to_vec().unwrap()).unwrap();
        assert_eq!(parsed.queries()[0].query_type(), RecordType::Unknown(TKEY));
        assert_eq!(parsed.additionals().len(), 1);
        assert_eq!(parsed.additionals()[0].dns_class(), DNSClass::ANY);
    }

    #[test]
    fn the_dns_node_of_a_name_in_an_ad_zone() {
        let zone = Name::from_ascii("ad.example.").unwrap();
        let name = Name::from_ascii("_vlmcs._tcp.branch.ad.example.").unwrap();
        assert_eq!(
            dns_node_dn(&name, &zone),
            "DC=_vlmcs._tcp.branch,DC=ad.example,CN=MicrosoftDNS,DC=DomainDnsZones,DC=ad,DC=example"
        );
        assert!(dns_node_dn(&zone, &zone).starts_with("DC=@,DC=ad.example,"));
    }

    /// A reply to an UPDATE of `ad.example.`, rcode `rcode`, carrying a
    /// gss-tsig TSIG with `mac`, signed now.
    fn reply_with_mac(rcode: ResponseCode, mac: Vec<u8>) -> Vec<u8> {
        let mut reply = Message::new();
        reply
            .set_id(4242)
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Update)
            .set_response_code(rcode)
            .add_query(Query::query(
                Name::from_ascii("ad.example.").unwrap(),
                RecordType::SOA,
            ));
        let tsig = TSIG::new(
            TsigAlgorithm::Gss,
            unix_now(),
            FUDGE_SECONDS,
            mac,
            4242,
            0,
            Vec::new(),
        );
        reply.add_tsig(make_tsig_record(
            Name::from_ascii("1.sig-kmsdns.").unwrap(),
            tsig,
        ));
        reply.to_vec().unwrap()
    }

    /// A stand-in for GSS: the "MIC" of some bytes is their length and
    /// first eight bytes, so a MIC over one digest never matches another.
    fn fake_mic(covered: &[u8]) -> Vec<u8> {
        let mut mic = (covered.len() as u32).to_be_bytes().to_vec();
        mic.extend(covered.iter().take(8));
        mic
    }

    /// Signs a reply as a server would: the digest of `form` (with the
    /// request MAC's length: RFC 8945; without: Samba) under the fake MIC.
    fn signed_reply(request_mac: &[u8], samba: bool) -> (Vec<u8>, Message) {
        let draft = reply_with_mac(ResponseCode::NoError, vec![0; 12]);
        let (covered, _) = signed_bitmessage_to_buf(Some(request_mac), &draft, true).unwrap();
        let digest = if samba { &covered[2..] } else { &covered[..] };
        let bytes = reply_with_mac(ResponseCode::NoError, fake_mic(digest));
        let message = Message::from_vec(&bytes).unwrap();
        (bytes, message)
    }

    fn check_fake(covered: &[u8], mic: &[u8]) -> Result<(), String> {
        if fake_mic(covered) == mic {
            Ok(())
        } else {
            Err("bad MIC".to_owned())
        }
    }

    #[test]
    fn a_reply_signed_per_rfc_8945_verifies_in_that_form() {
        let request_mac = [7u8; 28];
        let (bytes, reply) = signed_reply(&request_mac, false);
        assert_eq!(
            verify_with(&bytes, &reply, Some(&request_mac), &mut check_fake),
            Verdict::Verified(SignatureForm::Rfc8945)
        );
    }

    #[test]
    fn a_reply_signed_as_samba_signs_verifies_in_samba_form() {
        let request_mac = [7u8; 28];
        let (bytes, reply) = signed_reply(&request_mac, true);
        assert_eq!(
            verify_with(&bytes, &reply, Some(&request_mac), &mut check_fake),
            Verdict::Verified(SignatureForm::SambaMacWithoutLength)
        );
        // Chained to another request's MAC, neither form verifies.
        assert!(matches!(
            verify_with(&bytes, &reply, Some(&[8u8; 28]), &mut check_fake),
            Verdict::Invalid(_)
        ));
    }

    #[test]
    fn samba_form_drops_only_the_request_mac_length() {
        #[rustfmt::skip]
        let covered = [
            0, 3,          // request MAC length
            0xaa, 0xbb, 0xcc, // request MAC
            0x10, 0x92,    // the reply's header follows
        ];
        assert_eq!(
            samba_form(&covered, true),
            Some(&[0xaa, 0xbb, 0xcc, 0x10, 0x92][..])
        );
        // The first message of a context (TKEY) has no request MAC.
        assert_eq!(samba_form(&covered, false), None);
    }

    #[test]
    fn an_error_reply_carrying_the_request_mac_is_an_echo_not_a_forgery() {
        let request_mac = vec![9u8; 28];
        let bytes = reply_with_mac(ResponseCode::NXRRSet, request_mac.clone());
        let reply = Message::from_vec(&bytes).unwrap();
        let mut never =
            |_: &[u8], _: &[u8]| -> Result<(), String> { panic!("an echo has no MIC to verify") };
        assert_eq!(
            verify_with(&bytes, &reply, Some(&request_mac), &mut never),
            Verdict::Echo
        );
        // Another MAC is a signature, checked (and here failing).
        let other = reply_with_mac(ResponseCode::NXRRSet, vec![1u8; 28]);
        let other_reply = Message::from_vec(&other).unwrap();
        assert!(matches!(
            verify_with(&other, &other_reply, Some(&request_mac), &mut check_fake),
            Verdict::Invalid(_)
        ));
    }

    /// Issue 16: a keytab is handed to MIT Kerberos per call, never
    /// through `KRB5_CLIENT_KTNAME` and `KRB5CCNAME`, which every other
    /// thread (libkrb5's included) reads at the same time. An empty keytab
    /// fails before any KDC is looked up.
    #[test]
    fn a_keytab_credential_leaves_the_process_environment_alone() {
        let dir = tempfile::tempdir().unwrap();
        let keytab = dir.path().join("empty.keytab");
        std::fs::write(&keytab, b"").unwrap();
        let environment = || ["KRB5_CLIENT_KTNAME", "KRB5CCNAME"].map(std::env::var_os);
        let before = environment();
        let auth = GssAuth {
            principal: Some("KMS1$@AD.EXAMPLE".to_owned()),
            keytab: Some(keytab),
            service_host: None,
            mechanism: GssMechanism::Spnego,
        };
        let error = start(&auth, "DNS@dc1.ad.example").map(|_| ()).unwrap_err();
        assert!(
            matches!(&error, GssError::NoCredentials { principal, .. } if principal == "KMS1$@AD.EXAMPLE"),
            "{error:?}"
        );
        assert_eq!(environment(), before);
    }

    #[test]
    fn mit_messages_are_named() {
        let s = "DNS@ns1.corp.example";
        assert!(matches!(
            classify("Unspecified GSS failure.  Minor code may provide more information (Cannot contact any KDC for realm 'CORP.EXAMPLE')", "p", s),
            GssError::KdcUnreachable { .. }
        ));
        assert!(matches!(
            classify("No credentials were supplied (No Kerberos credentials available (default cache: FILE:/tmp/x))", "p", s),
            GssError::NoCredentials { .. }
        ));
        assert!(matches!(
            classify("Unspecified GSS failure. (Server DNS/ns1.corp.example@CORP.EXAMPLE not found in Kerberos database)", "p", s),
            GssError::UnknownService { .. }
        ));
        assert!(matches!(
            classify("(Clock skew too great)", "p", s),
            GssError::ClockSkew { .. }
        ));
    }
}
