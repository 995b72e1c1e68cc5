//! DCE/RPC connection-oriented PDUs for the KMS bind: the bind request we
//! send and the bind_ack / bind_nak we accept back. Pure: no I/O.
//!
//! Layouts follow DCE 1.1 (C706) §12.6.3 (common header), §12.6.4.3 (bind),
//! §12.6.4.4 (bind_ack) and §12.6.4.5 (bind_nak); bind-time feature
//! negotiation and the extra bind_nak reasons come from MS-RPCE §2.2.2.14 and
//! §3.3.1.5.3. Every multi-byte field is little-endian: we say so in the
//! data representation we send, and a reply that does not is not trusted.
//!
//! The parser treats its input as hostile: every read is bounds-checked, it
//! never panics, and nothing is allocated from a length field beyond the
//! bytes actually received.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// Length of the common header that starts every connection-oriented PDU.
pub const HEADER_LEN: usize = 16;

/// The fragment size we offer for both directions, as Windows clients do.
pub const MAX_FRAG: u16 = 5840;

/// `ptype` of a request PDU: a method call. The probe never sends one.
pub const PTYPE_REQUEST: u8 = 0;
/// `ptype` of a bind PDU.
pub const PTYPE_BIND: u8 = 11;
/// `ptype` of a bind_ack PDU.
pub const PTYPE_BIND_ACK: u8 = 12;
/// `ptype` of a bind_nak PDU.
pub const PTYPE_BIND_NAK: u8 = 13;

const RPC_VERS: u8 = 5;
const RPC_VERS_MINOR: u8 = 0;
/// PFC_FIRST_FRAG | PFC_LAST_FRAG: the bind fits in one fragment.
const PFC_FIRST_LAST: u8 = 0x03;
/// Integer and char representation byte: little-endian integers, ASCII.
const DREP_LITTLE_ENDIAN_ASCII: u8 = 0x10;

/// A UUID, held in its canonical (RFC 4122, big-endian) byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid([u8; 16]);

impl Uuid {
    /// The all-zero UUID, sent in results that carry no transfer syntax.
    pub const NIL: Uuid = Uuid([0; 16]);

    /// Builds a UUID from its textual fields (`d1-d2-d3-d4[0..2]-d4[2..]`).
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Uuid {
        let a = d1.to_be_bytes();
        let b = d2.to_be_bytes();
        let c = d3.to_be_bytes();
        Uuid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// Reads a UUID written as C706 and MS-RPCE write them
    /// (`51c82175-844e-4750-b0d8-ec255555bc06`), for the constants above:
    /// evaluated when the crate is built, so a typo in one fails the build
    /// instead of the probe.
    const fn parse(text: &str) -> Uuid {
        const fn digit(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => panic!("a UUID holds hex digits"),
            }
        }
        let text = text.as_bytes();
        assert!(text.len() == 36, "a UUID is 36 characters long");
        let mut bytes = [0u8; 16];
        let (mut at, mut byte) = (0, 0);
        while at < text.len() {
            if matches!(at, 8 | 13 | 18 | 23) {
                assert!(text[at] == b'-', "a UUID's groups are split by '-'");
                at += 1;
                continue;
            }
            bytes[byte] = digit(text[at]) << 4 | digit(text[at + 1]);
            byte += 1;
            at += 2;
        }
        Uuid(bytes)
    }

    /// The wire form of an NDR little-endian UUID: the first three fields
    /// byte-swapped, the last eight bytes as they are.
    pub fn to_bytes_le(self) -> [u8; 16] {
        let mut le = self.0;
        le[0..4].reverse();
        le[4..6].reverse();
        le[6..8].reverse();
        le
    }

    /// Reads the wire form written by [`Uuid::to_bytes_le`].
    pub fn from_bytes_le(le: [u8; 16]) -> Uuid {
        // The swap is its own inverse.
        Uuid(Uuid(le).to_bytes_le())
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// An interface or transfer syntax: a UUID and a version.
///
/// On the wire an abstract syntax carries `u16 major, u16 minor` and a
/// transfer syntax one `u32`; both are the same four little-endian bytes, so
/// `version` here is `major | minor << 16` for an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyntaxId {
    /// The interface or transfer syntax UUID.
    pub uuid: Uuid,
    /// Its version, as the four bytes after the UUID.
    pub version: u32,
}

impl SyntaxId {
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.uuid.to_bytes_le());
        out.extend_from_slice(&self.version.to_le_bytes());
    }
}

/// The KMS activation interface v1.0.
pub const KMS_INTERFACE: SyntaxId = SyntaxId {
    uuid: Uuid::parse("51c82175-844e-4750-b0d8-ec255555bc06"),
    version: 1,
};

/// The NDR (32-bit) transfer syntax v2.
pub const NDR32: SyntaxId = SyntaxId {
    uuid: Uuid::parse("8a885d04-1ceb-11c9-9fe8-08002b104860"),
    version: 2,
};

/// The NDR64 transfer syntax v1.
pub const NDR64: SyntaxId = SyntaxId {
    uuid: Uuid::parse("71710533-beba-4937-8319-b5dbef9ccc36"),
    version: 1,
};

/// The feature bits we offer: security-context multiplexing (0x01) and
/// keep-connection-on-orphan (0x02), as Windows clients do.
pub const BTFN_FEATURES: u64 = 0x03;

/// The bind-time feature negotiation pseudo transfer syntax
/// (`6cb71c2c-9812-4540-…` v1) carrying `features` in its last eight bytes
/// (MS-RPCE §2.2.2.14).
pub const fn btfn(features: u64) -> SyntaxId {
    SyntaxId {
        uuid: Uuid::from_fields(0x6cb7_1c2c, 0x9812, 0x4540, features.to_le_bytes()),
        version: 1,
    }
}

/// Whether a transfer syntax is one in which KMS can actually be called.
fn is_ndr(syntax: SyntaxId) -> bool {
    syntax == NDR32 || syntax == NDR64
}

/// One presentation context offered in a bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentationContext {
    /// `p_cont_id`, the context's number.
    pub id: u16,
    /// The interface the context is for.
    pub abstract_syntax: SyntaxId,
    /// The single transfer syntax offered for it.
    pub transfer_syntax: SyntaxId,
}

/// What the probe offers: context 0 = KMS v1.0 over NDR32, context 1 = KMS
/// v1.0 over BTFN, as a Windows client does. A Windows 8+ host offered NDR64
/// too would reject NDR32 and take NDR64; offering only NDR32 keeps the
/// verdict a single context's result.
pub const KMS_CONTEXTS: [PresentationContext; 2] = [
    PresentationContext {
        id: 0,
        abstract_syntax: KMS_INTERFACE,
        transfer_syntax: NDR32,
    },
    PresentationContext {
        id: 1,
        abstract_syntax: KMS_INTERFACE,
        transfer_syntax: btfn(BTFN_FEATURES),
    },
];

/// An encoded bind PDU (ptype 11). The only bytes the probe ever writes to a
/// KMS host; nothing else in this crate can build a PDU to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindPdu {
    bytes: Vec<u8>,
    call_id: u32,
    contexts: &'static [PresentationContext],
}

impl BindPdu {
    /// The bind for the KMS interface ([`KMS_CONTEXTS`]) with `call_id`.
    pub fn kms(call_id: u32) -> BindPdu {
        BindPdu::encode(call_id, &KMS_CONTEXTS)
    }

    /// C706 §12.6.4.3: common header, fragment sizes, association group,
    /// then the presentation context list.
    fn encode(call_id: u32, contexts: &'static [PresentationContext]) -> BindPdu {
        let mut out = Vec::with_capacity(28 + contexts.len() * 44);
        out.extend_from_slice(&[RPC_VERS, RPC_VERS_MINOR, PTYPE_BIND, PFC_FIRST_LAST]);
        out.extend_from_slice(&[DREP_LITTLE_ENDIAN_ASCII, 0, 0, 0]);
        out.extend_from_slice(&[0, 0]); // frag_length, patched below
        out.extend_from_slice(&0u16.to_le_bytes()); // auth_length: anonymous
        out.extend_from_slice(&call_id.to_le_bytes());
        out.extend_from_slice(&MAX_FRAG.to_le_bytes()); // max_xmit_frag
        out.extend_from_slice(&MAX_FRAG.to_le_bytes()); // max_recv_frag
        out.extend_from_slice(&0u32.to_le_bytes()); // assoc_group_id: a new one
                                                    // The context list is a compile-time constant of at most a few
                                                    // entries, so these narrowing casts cannot truncate.
        out.extend_from_slice(&[contexts.len() as u8, 0, 0, 0]);
        for context in contexts {
            out.extend_from_slice(&context.id.to_le_bytes());
            out.extend_from_slice(&[1, 0]); // n_transfer_syn, reserved
            context.abstract_syntax.write(&mut out);
            context.transfer_syntax.write(&mut out);
        }
        let frag_length = (out.len() as u16).to_le_bytes();
        out[8..10].copy_from_slice(&frag_length);
        BindPdu {
            bytes: out,
            call_id,
            contexts,
        }
    }

    /// The bytes to write on the connection.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The call_id the reply must echo.
    pub fn call_id(&self) -> u32 {
        self.call_id
    }

    /// The presentation contexts offered, in order.
    pub fn contexts(&self) -> &'static [PresentationContext] {
        self.contexts
    }

    /// Parses `reply` as the answer to this bind and judges it.
    pub fn judge(&self, reply: &[u8]) -> Verdict {
        match parse_reply(reply, self.call_id) {
            Ok(parsed) => parsed.verdict(self.contexts),
            Err(error) => Verdict::NotRpc {
                why: error.to_string(),
            },
        }
    }
}

/// Why bytes are not an acceptable reply to our bind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes end before a field that should be there.
    #[error("reply ends after {len} bytes, inside the {field} at offset {offset}")]
    Truncated {
        /// The field that is cut.
        field: &'static str,
        /// Where that field starts.
        offset: usize,
        /// How many bytes there are.
        len: usize,
    },
    /// The first byte is not `rpc_vers` 5.
    #[error("first byte {0:#04x} is not DCE/RPC version 5")]
    NotVersion5(u8),
    /// `rpc_vers_minor` is not 0.
    #[error("protocol version 5.{0}, not DCE/RPC 5.0")]
    MinorVersion(u8),
    /// A PDU type that does not answer a bind.
    #[error("PDU type {ptype} ({}), not bind_ack or bind_nak", ptype_name(*.ptype))]
    PacketType {
        /// The `ptype` received.
        ptype: u8,
    },
    /// Integers are not little-endian (or the byte is not a known drep).
    #[error("data representation {drep:#04x} is not little-endian ASCII")]
    DataRepresentation {
        /// The first `drep` byte.
        drep: u8,
    },
    /// `frag_length` shorter than the common header.
    #[error("frag_length {0} is shorter than the 16-byte header")]
    FragLengthTooShort(u16),
    /// `frag_length` larger than the bytes received.
    #[error("frag_length {frag_length} but only {received} bytes received")]
    FragLengthBeyondReceived {
        /// What the header claims.
        frag_length: u16,
        /// What was actually received.
        received: usize,
    },
    /// `frag_length` larger than the probe is willing to read.
    #[error("frag_length {frag_length} exceeds the {cap}-byte limit for a bind reply")]
    FragLengthOverCap {
        /// What the header claims.
        frag_length: u16,
        /// The limit.
        cap: usize,
    },
    /// The reply's call_id is not the one we sent.
    #[error("call_id {got} does not echo our call_id {expected}")]
    CallId {
        /// The call_id we sent.
        expected: u32,
        /// The call_id received.
        got: u32,
    },
}

impl ParseError {
    /// True when the bytes so far are consistent and only more are missing.
    pub fn is_truncated(&self) -> bool {
        matches!(self, ParseError::Truncated { .. })
    }
}

/// A short name for a connection-oriented `ptype` (C706 §12.6.4).
pub fn ptype_name(ptype: u8) -> &'static str {
    match ptype {
        0 => "request",
        2 => "response",
        3 => "fault",
        11 => "bind",
        12 => "bind_ack",
        13 => "bind_nak",
        14 => "alter_context",
        15 => "alter_context_resp",
        16 => "auth3",
        17 => "shutdown",
        18 => "co_cancel",
        19 => "orphaned",
        20 => "rts",
        _ => "unknown",
    }
}

/// The fields of a reply's common header that matter to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    /// [`PTYPE_BIND_ACK`] or [`PTYPE_BIND_NAK`].
    pub ptype: u8,
    /// Length of the whole PDU, header included.
    pub frag_length: u16,
    /// The call_id, equal to the one we sent.
    pub call_id: u32,
}

impl ReplyHeader {
    /// Validates the common header of a reply to a bind with `call_id`.
    ///
    /// `bytes` may be a prefix of the header: every byte present is checked
    /// in order, so [`ParseError::Truncated`] means "consistent so far" and
    /// a reader can give up on garbage before sixteen bytes have arrived.
    pub fn parse(bytes: &[u8], call_id: u32) -> Result<ReplyHeader, ParseError> {
        let mut r = Reader::new(bytes);
        let major = r.u8("rpc_vers")?;
        if major != RPC_VERS {
            return Err(ParseError::NotVersion5(major));
        }
        let minor = r.u8("rpc_vers_minor")?;
        if minor != RPC_VERS_MINOR {
            return Err(ParseError::MinorVersion(minor));
        }
        let ptype = r.u8("ptype")?;
        if ptype != PTYPE_BIND_ACK && ptype != PTYPE_BIND_NAK {
            return Err(ParseError::PacketType { ptype });
        }
        // pfc_flags: a bind reply always fits one fragment, and the flags
        // say nothing we act on.
        r.u8("pfc_flags")?;
        let drep = r.u8("drep")?;
        if drep != DREP_LITTLE_ENDIAN_ASCII {
            return Err(ParseError::DataRepresentation { drep });
        }
        r.skip(3, "drep")?;
        let frag_length = r.u16("frag_length")?;
        if usize::from(frag_length) < HEADER_LEN {
            return Err(ParseError::FragLengthTooShort(frag_length));
        }
        // auth_length: we bound anonymously; a verifier, if any, sits after
        // the fields we read and is ignored.
        r.u16("auth_length")?;
        let got = r.u32("call_id")?;
        if got != call_id {
            return Err(ParseError::CallId {
                expected: call_id,
                got,
            });
        }
        Ok(ReplyHeader {
            ptype,
            frag_length,
            call_id,
        })
    }
}

/// A parsed reply to our bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// ptype 12: the server took the bind and judged each context.
    BindAck(BindAck),
    /// ptype 13: the server refused the whole bind.
    BindNak(BindNak),
}

/// The body of a bind_ack (C706 §12.6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    /// Largest fragment the server will send.
    pub max_xmit_frag: u16,
    /// Largest fragment the server will receive.
    pub max_recv_frag: u16,
    /// The association group the connection joined.
    pub assoc_group_id: u32,
    /// The secondary address as sent (for KMS, the port: `b"1688\0"`).
    pub secondary_address: Vec<u8>,
    /// One result per offered context, in order.
    pub results: Vec<ContextResult>,
}

impl BindAck {
    /// The secondary address as text, without its terminating NUL.
    pub fn secondary_address_text(&self) -> String {
        let bytes = self.secondary_address.as_slice();
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// The feature bits the server acknowledged by bind-time feature
    /// negotiation, if it did.
    pub fn negotiated_features(&self) -> Option<u16> {
        self.results
            .iter()
            .find(|result| result.result == ContextOutcome::NegotiateAck)
            .map(|result| result.reason)
    }
}

/// The server's answer for one presentation context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextResult {
    /// Accepted, rejected, or a feature negotiation acknowledgement.
    pub result: ContextOutcome,
    /// Why it was rejected; for a negotiate_ack, the accepted feature bits.
    pub reason: u16,
    /// The transfer syntax accepted (all zero when rejected).
    pub transfer_syntax: SyntaxId,
}

/// `p_cont_def_result_t`, with MS-RPCE's negotiate_ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextOutcome {
    /// 0: the context is usable.
    Acceptance,
    /// 1: rejected by the server application (impacket answers this).
    UserRejection,
    /// 2: rejected by the RPC runtime (Windows answers this).
    ProviderRejection,
    /// 3: acknowledges bind-time feature negotiation (MS-RPCE §3.3.1.5.3).
    NegotiateAck,
    /// Any other value.
    Other(u16),
}

impl ContextOutcome {
    /// Reads the wire value.
    pub fn from_code(code: u16) -> ContextOutcome {
        match code {
            0 => ContextOutcome::Acceptance,
            1 => ContextOutcome::UserRejection,
            2 => ContextOutcome::ProviderRejection,
            3 => ContextOutcome::NegotiateAck,
            other => ContextOutcome::Other(other),
        }
    }

    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            ContextOutcome::Acceptance => 0,
            ContextOutcome::UserRejection => 1,
            ContextOutcome::ProviderRejection => 2,
            ContextOutcome::NegotiateAck => 3,
            ContextOutcome::Other(other) => other,
        }
    }
}

/// A name for a context result code.
pub fn result_name(code: u16) -> &'static str {
    match code {
        0 => "acceptance",
        1 => "user rejection",
        2 => "provider rejection",
        3 => "negotiate_ack",
        _ => "unknown result",
    }
}

/// A name for a context rejection reason (`p_provider_reason_t`).
pub fn rejection_reason_name(code: u16) -> &'static str {
    match code {
        0 => "reason not specified",
        1 => "abstract syntax not supported",
        2 => "proposed transfer syntaxes not supported",
        3 => "local limit exceeded",
        _ => "unknown reason",
    }
}

/// The body of a bind_nak (C706 §12.6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindNak {
    /// Why the bind was refused.
    pub reject_reason: RejectReason,
    /// The protocol versions (major, minor) the server supports.
    pub versions: Vec<(u8, u8)>,
}

/// `provider_reject_reason` of a bind_nak: C706 codes 0–7, MS-RPCE 8–9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// 0: reason not specified.
    NotSpecified,
    /// 1: temporary congestion.
    TemporaryCongestion,
    /// 2: local limit exceeded.
    LocalLimitExceeded,
    /// 3: called presentation address unknown.
    CalledPaddrUnknown,
    /// 4: protocol version not supported.
    ProtocolVersionNotSupported,
    /// 5: default context not supported.
    DefaultContextNotSupported,
    /// 6: user data not readable.
    UserDataNotReadable,
    /// 7: no presentation service access point available.
    NoPsapAvailable,
    /// 8: authentication type not recognized (MS-RPCE).
    AuthenticationTypeNotRecognized,
    /// 9: invalid checksum (MS-RPCE).
    InvalidChecksum,
    /// Any other code.
    Other(u16),
}

impl RejectReason {
    /// Reads the wire value.
    pub fn from_code(code: u16) -> RejectReason {
        match code {
            0 => RejectReason::NotSpecified,
            1 => RejectReason::TemporaryCongestion,
            2 => RejectReason::LocalLimitExceeded,
            3 => RejectReason::CalledPaddrUnknown,
            4 => RejectReason::ProtocolVersionNotSupported,
            5 => RejectReason::DefaultContextNotSupported,
            6 => RejectReason::UserDataNotReadable,
            7 => RejectReason::NoPsapAvailable,
            8 => RejectReason::AuthenticationTypeNotRecognized,
            9 => RejectReason::InvalidChecksum,
            other => RejectReason::Other(other),
        }
    }

    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            RejectReason::NotSpecified => 0,
            RejectReason::TemporaryCongestion => 1,
            RejectReason::LocalLimitExceeded => 2,
            RejectReason::CalledPaddrUnknown => 3,
            RejectReason::ProtocolVersionNotSupported => 4,
            RejectReason::DefaultContextNotSupported => 5,
            RejectReason::UserDataNotReadable => 6,
            RejectReason::NoPsapAvailable => 7,
            RejectReason::AuthenticationTypeNotRecognized => 8,
            RejectReason::InvalidChecksum => 9,
            RejectReason::Other(other) => other,
        }
    }

    /// A stable kebab-case name, as it appears in JSON.
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::NotSpecified => "not-specified",
            RejectReason::TemporaryCongestion => "temporary-congestion",
            RejectReason::LocalLimitExceeded => "local-limit-exceeded",
            RejectReason::CalledPaddrUnknown => "called-paddr-unknown",
            RejectReason::ProtocolVersionNotSupported => "protocol-version-not-supported",
            RejectReason::DefaultContextNotSupported => "default-context-not-supported",
            RejectReason::UserDataNotReadable => "user-data-not-readable",
            RejectReason::NoPsapAvailable => "no-psap-available",
            RejectReason::AuthenticationTypeNotRecognized => "authentication-type-not-recognized",
            RejectReason::InvalidChecksum => "invalid-checksum",
            RejectReason::Other(_) => "unknown",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// Serialised as `{"code": 4, "name": "protocol-version-not-supported"}`.
impl Serialize for RejectReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut reason = serializer.serialize_struct("RejectReason", 2)?;
        reason.serialize_field("code", &self.code())?;
        reason.serialize_field("name", self.name())?;
        reason.end()
    }
}

/// What a reply says about the KMS interface on that address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The KMS interface was accepted over NDR: a KMS host answers here.
    Kms,
    /// An RPC server that rejected the KMS interface (result 1 or 2).
    RpcNotKms {
        /// The context result code.
        result: u16,
        /// The rejection reason code.
        reason: u16,
    },
    /// An RPC server that refused the whole bind (bind_nak).
    RpcBindRefused {
        /// Its reject reason.
        reason: RejectReason,
    },
    /// Whatever answered is not a DCE/RPC server answering our bind.
    NotRpc {
        /// What gave it away.
        why: String,
    },
}

/// Parses one reply PDU answering a bind with `call_id`.
///
/// Only the first PDU is read; bytes after `frag_length` are ignored.
pub fn parse_reply(bytes: &[u8], call_id: u32) -> Result<Reply, ParseError> {
    let header = ReplyHeader::parse(bytes, call_id)?;
    let pdu = bytes.get(..usize::from(header.frag_length)).ok_or(
        ParseError::FragLengthBeyondReceived {
            frag_length: header.frag_length,
            received: bytes.len(),
        },
    )?;
    let mut r = Reader::new(pdu);
    r.skip(HEADER_LEN, "header")?;
    if header.ptype == PTYPE_BIND_NAK {
        parse_bind_nak(&mut r).map(Reply::BindNak)
    } else {
        parse_bind_ack(&mut r).map(Reply::BindAck)
    }
}

fn parse_bind_ack(r: &mut Reader<'_>) -> Result<BindAck, ParseError> {
    let max_xmit_frag = r.u16("max_xmit_frag")?;
    let max_recv_frag = r.u16("max_recv_frag")?;
    let assoc_group_id = r.u32("assoc_group_id")?;
    let secondary_length = r.u16("secondary address length")?;
    let secondary_address = r
        .take(usize::from(secondary_length), "secondary address")?
        .to_vec();
    // C706 §12.6.4.4: padding so that the result list starts on a 4-byte
    // boundary counted from the start of the PDU.
    r.align(4, "padding after the secondary address")?;
    let n_results = r.u8("n_results")?;
    r.skip(3, "reserved bytes after n_results")?;
    // No capacity from n_results: each push follows a successful read.
    let mut results = Vec::new();
    for _ in 0..n_results {
        let result = ContextOutcome::from_code(r.u16("context result")?);
        let reason = r.u16("context reason")?;
        let transfer_syntax = r.syntax("result transfer syntax")?;
        results.push(ContextResult {
            result,
            reason,
            transfer_syntax,
        });
    }
    Ok(BindAck {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        secondary_address,
        results,
    })
}

fn parse_bind_nak(r: &mut Reader<'_>) -> Result<BindNak, ParseError> {
    let reject_reason = RejectReason::from_code(r.u16("reject_reason")?);
    let n_protocols = r.u8("n_protocols")?;
    let mut versions = Vec::new();
    for _ in 0..n_protocols {
        let major = r.u8("protocol version")?;
        let minor = r.u8("protocol version")?;
        versions.push((major, minor));
    }
    Ok(BindNak {
        reject_reason,
        versions,
    })
}

impl Reply {
    /// Judges the reply against the contexts the bind offered.
    ///
    /// KMS is present when an NDR context (NDR32, or NDR64 if offered) is
    /// accepted with the transfer syntax we offered for it. A negotiate_ack
    /// says nothing: Windows acknowledges feature negotiation even for an
    /// interface it does not have.
    pub fn verdict(&self, offered: &[PresentationContext]) -> Verdict {
        let ack = match self {
            Reply::BindNak(nak) => {
                return Verdict::RpcBindRefused {
                    reason: nak.reject_reason,
                }
            }
            Reply::BindAck(ack) => ack,
        };
        // C706: one result per offered context, in the same order.
        if ack.results.len() != offered.len() {
            return Verdict::NotRpc {
                why: format!(
                    "bind_ack carries {} results for {} offered contexts",
                    ack.results.len(),
                    offered.len()
                ),
            };
        }
        let ndr = || {
            offered
                .iter()
                .zip(&ack.results)
                .filter(|(context, _)| is_ndr(context.transfer_syntax))
        };
        for (context, result) in ndr() {
            if result.result == ContextOutcome::Acceptance {
                if result.transfer_syntax == context.transfer_syntax {
                    return Verdict::Kms;
                }
                return Verdict::NotRpc {
                    why: format!(
                        "context {} accepted with transfer syntax {} v{}, which was not offered",
                        context.id, result.transfer_syntax.uuid, result.transfer_syntax.version
                    ),
                };
            }
        }
        match ndr().next() {
            Some((_, result))
                if matches!(
                    result.result,
                    ContextOutcome::UserRejection | ContextOutcome::ProviderRejection
                ) =>
            {
                Verdict::RpcNotKms {
                    result: result.result.code(),
                    reason: result.reason,
                }
            }
            Some((context, result)) => Verdict::NotRpc {
                why: format!(
                    "context {} answered with result {} ({})",
                    context.id,
                    result.result.code(),
                    result_name(result.result.code())
                ),
            },
            None => Verdict::NotRpc {
                why: "the bind offered no NDR context to judge".to_string(),
            },
        }
    }
}

/// A bounds-checked little-endian cursor over received bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ParseError> {
        let end = self.offset.saturating_add(n);
        let slice = self
            .bytes
            .get(self.offset..end)
            .ok_or(ParseError::Truncated {
                field,
                offset: self.offset,
                len: self.bytes.len(),
            })?;
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N, field)?);
        Ok(array)
    }

    fn skip(&mut self, n: usize, field: &'static str) -> Result<(), ParseError> {
        self.take(n, field).map(drop)
    }

    fn align(&mut self, to: usize, field: &'static str) -> Result<(), ParseError> {
        let pad = (to - self.offset % to) % to;
        self.skip(pad, field)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        self.array::<1>(field).map(|[b]| b)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ParseError> {
        self.array(field).map(u16::from_le_bytes)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ParseError> {
        self.array(field).map(u32::from_le_bytes)
    }

    fn syntax(&mut self, field: &'static str) -> Result<SyntaxId, ParseError> {
        let uuid = Uuid::from_bytes_le(self.array(field)?);
        let version = self.u32(field)?;
        Ok(SyntaxId { uuid, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text
            .lines()
            .flat_map(|line| line.split('#').next().unwrap_or("").bytes())
            .filter(|b| b.is_ascii_hexdigit())
            .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
            .collect();
        digits
            .chunks(2)
            .map(|pair| pair[0] << 4 | pair[1])
            .collect()
    }

    /// The reference bind from the design note (call_id 2, 116 bytes).
    const REFERENCE_BIND: &str = "
        05000b03100000007400000002000000d016d016000000000200000000000100
        7521c8514e845047b0d8ec255555bc0601000000045d888aeb1cc9119fe80800
        2b10486002000000010001007521c8514e845047b0d8ec255555bc0601000000
        2c1cb76c12984045030000000000000001000000";

    #[test]
    fn bind_matches_the_reference_bytes() {
        let bind = BindPdu::kms(2);
        assert_eq!(bind.as_bytes().len(), 116);
        assert_eq!(bind.as_bytes(), hex(REFERENCE_BIND).as_slice());
    }

    #[test]
    fn bind_is_ptype_11_never_a_request() {
        for call_id in [0, 1, 2, 0xdead_beef, u32::MAX] {
            let bind = BindPdu::kms(call_id);
            assert_eq!(bind.as_bytes()[2], PTYPE_BIND);
            assert_ne!(bind.as_bytes()[2], PTYPE_REQUEST);
            assert_eq!(bind.as_bytes()[12..16], call_id.to_le_bytes());
        }
    }

    #[test]
    fn uuids_print_canonically_and_round_trip() {
        assert_eq!(
            KMS_INTERFACE.uuid.to_string(),
            "51c82175-844e-4750-b0d8-ec255555bc06"
        );
        assert_eq!(
            NDR32.uuid.to_string(),
            "8a885d04-1ceb-11c9-9fe8-08002b104860"
        );
        assert_eq!(
            NDR64.uuid.to_string(),
            "71710533-beba-4937-8319-b5dbef9ccc36"
        );
        assert_eq!(
            btfn(BTFN_FEATURES).uuid.to_string(),
            "6cb71c2c-9812-4540-0300-000000000000"
        );
        let le = NDR32.uuid.to_bytes_le();
        assert_eq!(le[..4], [0x04, 0x5d, 0x88, 0x8a]);
        assert_eq!(Uuid::from_bytes_le(le), NDR32.uuid);
        assert_eq!(btfn(BTFN_FEATURES).uuid.0[8..], [3, 0, 0, 0, 0, 0, 0, 0]);
    }

    /// A public KMS server's answer to the reference bind.
    fn kms_ack() -> Vec<u8> {
        hex("
            05 00 0c 03   # rpc_vers 5.0, ptype 12 bind_ack, first|last frag
            10 00 00 00   # drep: little-endian, ASCII, IEEE
            54 00 00 00   # frag_length 84, auth_length 0
            02 00 00 00   # call_id 2, echoed
            b8 10 b8 10   # max_xmit_frag 4280, max_recv_frag 4280
            1c 3f 05 00   # assoc_group_id 0x00053f1c
            05 00         # secondary address length 5
            31 36 38 38 00  # \"1688\\0\"
            00            # padding: results start at offset 32
            02 00 00 00   # n_results 2, reserved
            00 00 00 00   # context 0: result 0 acceptance, reason 0
            04 5d 88 8a eb 1c c9 11 9f e8 08 00 2b 10 48 60  # NDR32
            02 00 00 00   #   version 2
            03 00 03 00   # context 1: result 3 negotiate_ack, features 0x0003
            00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  # nil syntax
            00 00 00 00   #   version 0
        ")
    }

    #[test]
    fn kms_like_ack_is_kms() {
        let bytes = kms_ack();
        let Ok(Reply::BindAck(ack)) = parse_reply(&bytes, 2) else {
            panic!("not a bind_ack: {:?}", parse_reply(&bytes, 2));
        };
        assert_eq!(ack.max_xmit_frag, 4280);
        assert_eq!(ack.assoc_group_id, 0x0005_3f1c);
        assert_eq!(ack.secondary_address, b"1688\0");
        assert_eq!(ack.secondary_address_text(), "1688");
        assert_eq!(ack.results.len(), 2);
        assert_eq!(ack.results[0].result, ContextOutcome::Acceptance);
        assert_eq!(ack.results[0].transfer_syntax, NDR32);
        assert_eq!(ack.results[1].result, ContextOutcome::NegotiateAck);
        assert_eq!(ack.negotiated_features(), Some(0x0003));
        assert_eq!(BindPdu::kms(2).judge(&bytes), Verdict::Kms);
    }

    #[test]
    fn trailing_bytes_after_the_pdu_are_ignored() {
        let mut bytes = kms_ack();
        bytes.extend_from_slice(b"junk after the fragment");
        assert_eq!(BindPdu::kms(2).judge(&bytes), Verdict::Kms);
    }

    /// Windows without the KMS interface on that port.
    fn unrelated_provider_ack() -> Vec<u8> {
        hex("
            05 00 0c 03   # rpc_vers 5.0, bind_ack, first|last frag
            10 00 00 00   # drep little-endian
            50 00 00 00   # frag_length 80, auth_length 0
            02 00 00 00   # call_id 2
            b8 10 b8 10   # max_xmit_frag, max_recv_frag
            00 00 00 00   # assoc_group_id 0
            00 00         # secondary address length 0
            00 00         # padding: results start at offset 28
            02 00 00 00   # n_results 2
            02 00 01 00   # context 0: provider rejection, abstract syntax not supported
            00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
            00 00 00 00
            03 00 03 00   # context 1: negotiate_ack 0x0003, even for an unknown interface
            00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
            00 00 00 00
        ")
    }

    #[test]
    fn unrelated_server_is_rpc_not_kms_despite_negotiate_ack() {
        assert_eq!(
            BindPdu::kms(2).judge(&unrelated_provider_ack()),
            Verdict::RpcNotKms {
                result: 2,
                reason: 1
            }
        );
    }

    #[test]
    fn impacket_style_user_rejection_is_rpc_not_kms() {
        let bytes = hex("
            05 00 0c 03 10 00 00 00   # bind_ack, little-endian
            54 00 00 00 02 00 00 00   # frag_length 84, call_id 2
            b8 10 b8 10 78 56 34 12   # frag sizes, assoc_group_id 0x12345678
            04 00 31 33 35 00         # secondary address \"135\\0\"
            00 00                     # padding to offset 32
            02 00 00 00               # n_results 2
            01 00 01 00               # context 0: user rejection, abstract syntax not supported
            00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
            01 00 01 00               # context 1: the same
            00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
        ");
        assert_eq!(
            BindPdu::kms(2).judge(&bytes),
            Verdict::RpcNotKms {
                result: 1,
                reason: 1
            }
        );
    }

    #[test]
    fn negotiate_ack_on_the_ndr_context_is_never_kms() {
        let mut bytes = kms_ack();
        bytes[36..40].copy_from_slice(&[3, 0, 3, 0]); // context 0: negotiate_ack
        assert!(matches!(
            BindPdu::kms(2).judge(&bytes),
            Verdict::NotRpc { .. }
        ));
    }

    #[test]
    fn acceptance_with_a_syntax_not_offered_is_not_kms() {
        let mut bytes = kms_ack();
        bytes[40..56].copy_from_slice(&NDR64.uuid.to_bytes_le());
        assert!(matches!(
            BindPdu::kms(2).judge(&bytes),
            Verdict::NotRpc { .. }
        ));
    }

    #[test]
    fn ndr64_acceptance_counts_when_offered() {
        const WITH_NDR64: [PresentationContext; 2] = [
            KMS_CONTEXTS[0],
            PresentationContext {
                id: 1,
                abstract_syntax: KMS_INTERFACE,
                transfer_syntax: NDR64,
            },
        ];
        let mut bytes = kms_ack();
        bytes[36..40].copy_from_slice(&[2, 0, 2, 0]); // NDR32: transfer syntaxes not supported
        bytes[60..64].copy_from_slice(&[0, 0, 0, 0]); // NDR64: acceptance
        bytes[64..80].copy_from_slice(&NDR64.uuid.to_bytes_le());
        bytes[80..84].copy_from_slice(&1u32.to_le_bytes());
        let Ok(reply) = parse_reply(&bytes, 2) else {
            panic!("not parsed");
        };
        assert_eq!(reply.verdict(&WITH_NDR64), Verdict::Kms);
    }

    #[test]
    fn result_count_must_match_the_offer() {
        let mut bytes = kms_ack();
        bytes[32] = 1; // n_results 1; the second result is trailing bytes
        let verdict = BindPdu::kms(2).judge(&bytes);
        assert!(matches!(verdict, Verdict::NotRpc { ref why } if why.contains("1 results")));
    }

    fn bind_nak(reason: u16) -> Vec<u8> {
        let mut bytes = hex("
            05 00 0d 03   # rpc_vers 5.0, ptype 13 bind_nak, first|last frag
            10 00 00 00   # drep little-endian
            18 00 00 00   # frag_length 24, auth_length 0
            02 00 00 00   # call_id 2
            ff ff         # reject_reason, patched below
            01            # n_protocols 1
            05 00         # version 5.0
            00 00 00      # padding
        ");
        bytes[16..18].copy_from_slice(&reason.to_le_bytes());
        bytes
    }

    #[test]
    fn bind_nak_is_refused_with_a_named_reason() {
        let names = [
            (0, "not-specified"),
            (1, "temporary-congestion"),
            (2, "local-limit-exceeded"),
            (3, "called-paddr-unknown"),
            (4, "protocol-version-not-supported"),
            (5, "default-context-not-supported"),
            (6, "user-data-not-readable"),
            (7, "no-psap-available"),
            (8, "authentication-type-not-recognized"),
            (9, "invalid-checksum"),
            (42, "unknown"),
        ];
        for (code, name) in names {
            let bytes = bind_nak(code);
            let Ok(Reply::BindNak(nak)) = parse_reply(&bytes, 2) else {
                panic!("not a bind_nak for reason {code}");
            };
            assert_eq!(nak.versions, [(5, 0)]);
            assert_eq!(nak.reject_reason.code(), code);
            assert_eq!(nak.reject_reason.name(), name);
            assert_eq!(
                BindPdu::kms(2).judge(&bytes),
                Verdict::RpcBindRefused {
                    reason: RejectReason::from_code(code)
                }
            );
        }
    }

    #[test]
    fn reject_reason_serialises_with_code_and_name() {
        let json = serde_json::to_value(RejectReason::ProtocolVersionNotSupported);
        assert_eq!(
            json.ok(),
            Some(serde_json::json!({"code": 4, "name": "protocol-version-not-supported"}))
        );
    }

    fn assert_not_rpc(bytes: &[u8], needle: &str) {
        match BindPdu::kms(2).judge(bytes) {
            Verdict::NotRpc { why } => assert!(why.contains(needle), "{why:?} lacks {needle:?}"),
            other => panic!("{other:?} for {bytes:02x?}"),
        }
    }

    #[test]
    fn garbage_is_not_rpc() {
        assert_not_rpc(b"HTTP/1.1 400 Bad Request\r\n\r\n", "first byte 0x48");
        assert_not_rpc(b"SSH-2.0-OpenSSH_9.6\r\n", "first byte 0x53");
        assert_not_rpc(&[0xff; 64], "first byte 0xff");
        assert_not_rpc(&[], "ends after 0 bytes");
        assert_not_rpc(&[5, 1], "protocol version 5.1");
    }

    #[test]
    fn every_truncation_of_a_valid_ack_is_not_rpc() {
        let bytes = kms_ack();
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            assert!(parse_reply(prefix, 2).is_err(), "prefix of {len} parsed");
            assert!(
                matches!(BindPdu::kms(2).judge(prefix), Verdict::NotRpc { .. }),
                "prefix of {len}"
            );
        }
    }

    #[test]
    fn header_prefixes_are_truncated_not_wrong() {
        let bytes = kms_ack();
        for len in 0..HEADER_LEN {
            let error = ReplyHeader::parse(&bytes[..len], 2);
            assert!(
                matches!(error, Err(ref e) if e.is_truncated()),
                "{len}: {error:?}"
            );
        }
        assert!(ReplyHeader::parse(&bytes[..HEADER_LEN], 2).is_ok());
        // Garbage is refused from its first byte on.
        assert!(matches!(
            ReplyHeader::parse(b"H", 2),
            Err(ParseError::NotVersion5(b'H'))
        ));
    }

    #[test]
    fn frag_length_beyond_received_is_not_rpc() {
        let bytes = hex("
            05 00 0c 03 10 00 00 00   # bind_ack, little-endian
            ff ff 00 00               # frag_length 65535, auth_length 0
            02 00 00 00               # call_id 2
            b8 10 b8 10 00 00 00 00   # then only 14 more bytes
            05 00 31 36 38 38         #
        ");
        assert_eq!(bytes.len(), 30);
        assert_eq!(
            parse_reply(&bytes, 2),
            Err(ParseError::FragLengthBeyondReceived {
                frag_length: 65535,
                received: 30
            })
        );
        assert_not_rpc(&bytes, "65535");
    }

    #[test]
    fn frag_length_shorter_than_a_header_is_not_rpc() {
        let mut bytes = kms_ack();
        bytes[8..10].copy_from_slice(&15u16.to_le_bytes());
        assert_not_rpc(&bytes, "frag_length 15");
    }

    #[test]
    fn frag_length_cutting_the_body_is_not_rpc() {
        let mut bytes = kms_ack();
        bytes[8..10].copy_from_slice(&60u16.to_le_bytes()); // drops context 1
        assert_not_rpc(&bytes, "context result");
    }

    #[test]
    fn secondary_address_longer_than_the_pdu_is_not_rpc() {
        let mut bytes = kms_ack();
        bytes[24..26].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_not_rpc(&bytes, "secondary address");
    }

    #[test]
    fn many_results_claimed_few_sent_is_not_rpc() {
        let mut bytes = kms_ack();
        bytes[32] = 255;
        assert_not_rpc(&bytes, "context result");
    }

    #[test]
    fn wrong_call_id_is_not_rpc() {
        assert!(matches!(
            BindPdu::kms(7).judge(&kms_ack()),
            Verdict::NotRpc { why } if why == "call_id 2 does not echo our call_id 7"
        ));
        assert_eq!(
            parse_reply(&kms_ack(), 3),
            Err(ParseError::CallId {
                expected: 3,
                got: 2
            })
        );
    }

    #[test]
    fn big_endian_drep_is_not_rpc() {
        let mut bytes = kms_ack();
        bytes[4] = 0x00; // integer representation 0: big-endian
        assert_not_rpc(&bytes, "not little-endian");
    }

    #[test]
    fn request_ptype_in_the_reply_is_not_rpc() {
        let mut bytes = kms_ack();
        bytes[2] = PTYPE_REQUEST;
        assert_not_rpc(&bytes, "PDU type 0 (request)");
        bytes[2] = 3;
        assert_not_rpc(&bytes, "PDU type 3 (fault)");
        bytes[2] = PTYPE_BIND;
        assert_not_rpc(&bytes, "PDU type 11 (bind)");
    }

    #[test]
    fn truncated_bind_nak_is_not_rpc() {
        let mut bytes = bind_nak(4);
        bytes[18] = 9; // n_protocols 9, only 3 bytes follow
        assert_not_rpc(&bytes, "protocol version");
        for len in 0..19 {
            assert!(parse_reply(&bind_nak(4)[..len], 2).is_err());
        }
    }
}
