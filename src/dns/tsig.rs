//! TSIG signing of UPDATE messages and checking of the replies (RFC 8945),
//! for all six HMAC algorithms BIND offers: hmac-md5, hmac-sha1,
//! hmac-sha224, hmac-sha256, hmac-sha384 and hmac-sha512.
//!
//! hickory-proto 0.25.2 computes HMAC-SHA256/384/512 only, so the MAC is
//! computed here ([`mac`], RustCrypto's `hmac`), while the bytes it covers
//! come from hickory's public TSIG pieces: `message_tbs` for a request
//! (RFC 8945 §4.3.1: the message before the TSIG RR, then the TSIG
//! variables of §4.3.3) and `signed_bitmessage_to_buf` for a reply (the
//! same, preceded by the request MAC, §4.3.1 and §5.3).
//!
//! The reply's TSIG record is inspected *before* its MAC: when BIND rejects
//! our signature it answers NOTAUTH with a TSIG whose MAC is empty and
//! whose error field says why (BADSIG: wrong secret; BADKEY: unknown key
//! name or algorithm; RFC 8945 §5.2), and the administrator gets that
//! reason rather than "the MAC does not verify".
//!
//! Not supported: truncated MACs (RFC 8945 §5.2.2.1). kmsdns sends full
//! MACs and reports a truncated one in a reply as a signature that does not
//! verify. BIND truncates only for keys declared with a MAC length
//! (`hmac-sha256-128` and the like), which the key reader refuses.

mod mac;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::dnssec::rdata::tsig::{
    make_tsig_record, message_tbs, signed_bitmessage_to_buf, TsigAlgorithm as HickoryAlgorithm,
};
use hickory_proto::dnssec::rdata::{DNSSECRData, TSIG};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

use crate::dns::credentials::{Secret, TsigAlgorithm, TsigKey};

/// The window a signature is valid in, either side of its time: the value
/// RFC 8945 §10 recommends.
const FUDGE_SECONDS: u16 = 300;

/// The error field of a server's TSIG record (RFC 8945 §3, §5.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigError {
    /// 16: the MAC did not verify: the secret differs from the server's.
    BadSig,
    /// 17: the server does not know this key name with this algorithm.
    BadKey,
    /// 18: the signature time is outside the fudge window (clock skew).
    BadTime,
    /// 22: the MAC was truncated below the server's policy.
    BadTrunc,
    /// Any other code.
    Other(u16),
}

impl TsigError {
    /// The error for a TSIG error field; `None` for 0 (no error).
    pub fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            0 => return None,
            16 => TsigError::BadSig,
            17 => TsigError::BadKey,
            18 => TsigError::BadTime,
            22 => TsigError::BadTrunc,
            other => TsigError::Other(other),
        })
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            TsigError::BadSig => 16,
            TsigError::BadKey => 17,
            TsigError::BadTime => 18,
            TsigError::BadTrunc => 22,
            TsigError::Other(code) => code,
        }
    }
}

impl fmt::Display for TsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsigError::BadSig => f.write_str("BADSIG"),
            TsigError::BadKey => f.write_str("BADKEY"),
            TsigError::BadTime => f.write_str("BADTIME"),
            TsigError::BadTrunc => f.write_str("BADTRUNC"),
            TsigError::Other(code) => write!(f, "TSIG error {code}"),
        }
    }
}

/// The algorithm name as it goes on the wire and into the MAC: the names
/// of RFC 8945 §6 in canonical form (RFC 4034 §6.2: lower case), as BIND
/// writes them. hickory's own `HmacMd5` is spelled
/// `HMAC-MD5.SIG-ALG.REG.INT` and digested in capitals, which BIND 9.18
/// answers with BADSIG; the lower-case name, carried as an `Unknown`
/// algorithm, is written and digested as is.
fn wire_algorithm(algorithm: TsigAlgorithm) -> HickoryAlgorithm {
    match algorithm {
        TsigAlgorithm::HmacMd5 => HickoryAlgorithm::Unknown(hmac_md5_name()),
        TsigAlgorithm::HmacSha1 => HickoryAlgorithm::HmacSha1,
        TsigAlgorithm::HmacSha224 => HickoryAlgorithm::HmacSha224,
        TsigAlgorithm::HmacSha256 => HickoryAlgorithm::HmacSha256,
        TsigAlgorithm::HmacSha384 => HickoryAlgorithm::HmacSha384,
        TsigAlgorithm::HmacSha512 => HickoryAlgorithm::HmacSha512,
    }
}

/// `hmac-md5.sig-alg.reg.int.` (RFC 8945 §6), from its labels.
fn hmac_md5_name() -> Name {
    const LABELS: [&[u8]; 4] = [b"hmac-md5", b"sig-alg", b"reg", b"int"];
    // Four short constant labels always make a valid name; the root is
    // only there so the fallback is a value, not a panic.
    Name::from_labels(LABELS).unwrap_or_else(|_| Name::root())
}

/// An algorithm name compared as DNS names compare: without regard to case
/// or a final dot.
fn algorithm_text(algorithm: &HickoryAlgorithm) -> String {
    algorithm
        .to_name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Seconds since the epoch, for the time checks.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Signs requests with one key. Its `Debug` shows the key name and
/// algorithm, never the secret.
#[derive(Clone)]
pub(crate) struct Signer {
    /// The key name in canonical form (lower case, absolute): RFC 8945
    /// §4.3.3 digests it so, and BIND 9.18 answers BADSIG to a MAC over
    /// the name in capitals from its key file; it finds the key whatever
    /// the case on the wire.
    key_name: Name,
    algorithm: TsigAlgorithm,
    secret: Secret,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key", &self.key_name)
            .field("algorithm", &self.algorithm.bind_name())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `key`, whatever its algorithm.
    pub(crate) fn new(key: &TsigKey) -> Self {
        let mut key_name = key.name.to_lowercase();
        key_name.set_fqdn(true);
        Signer {
            key_name,
            algorithm: key.algorithm,
            secret: key.secret.clone(),
        }
    }

    /// Appends the TSIG record to `message` (signed at `now`, seconds since
    /// the epoch) and returns the checker for the reply. The message must
    /// not change afterwards.
    ///
    /// RFC 8945 §4.3.1: the MAC covers the message as it will be sent,
    /// without the TSIG RR (and with its original ARCOUNT), then the TSIG
    /// variables of §4.3.3; a request has no prior MAC.
    pub(crate) fn sign(&self, message: &mut Message, now: u32) -> Result<ReplyVerifier, String> {
        if !message.signature().is_empty() {
            return Err("the message is already signed".to_owned());
        }
        let unsigned = TSIG::new(
            wire_algorithm(self.algorithm),
            u64::from(now),
            FUDGE_SECONDS,
            Vec::new(),
            message.id(),
            0,
            Vec::new(),
        );
        let covered = message_tbs(None, message, &unsigned, &self.key_name)
            .map_err(|error| format!("cannot encode the message to sign: {error}"))?;
        let request_mac = mac::sign(self.algorithm, self.secret.expose(), &covered)?;
        message.add_tsig(make_tsig_record(
            self.key_name.clone(),
            unsigned.set_mac(request_mac.clone()),
        ));
        Ok(ReplyVerifier {
            signer: self.clone(),
            request_mac,
        })
    }
}

/// What the reply's TSIG says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TsigVerdict {
    /// Signed with our key, MAC and time valid.
    Verified,
    /// No TSIG record at all.
    Unsigned,
    /// The server did not accept our signature: a TSIG error, or an empty
    /// MAC (RFC 8945 §5.3.2: the server could not or would not sign).
    Rejected(Option<TsigError>),
    /// A TSIG that does not verify (wrong key name or algorithm, bad or
    /// truncated MAC, outside the time window).
    Invalid(String),
}

/// Checks the reply to one signed request: first the TSIG error and an
/// empty MAC, then the key, the MAC (chained to our request's MAC, RFC 8945
/// §5.3) and the time window. Its `Debug` never shows the secret.
pub(crate) struct ReplyVerifier {
    signer: Signer,
    request_mac: Vec<u8>,
}

impl fmt::Debug for ReplyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyVerifier")
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl ReplyVerifier {
    /// Judges `reply` (as received) whose parsed form is `message`, against
    /// the clock now.
    pub(crate) fn check(&self, reply: &[u8], message: &Message) -> TsigVerdict {
        self.check_at(reply, message, unix_now())
    }

    /// Judges `reply` as [`ReplyVerifier::check`] does, at `now` (seconds
    /// since the epoch). The steps follow RFC 8945 §5.2 as a client applies
    /// them to a reply (§5.3.2): the server's error, the key, the MAC, the
    /// time.
    pub(crate) fn check_at(&self, reply: &[u8], message: &Message, now: u64) -> TsigVerdict {
        if let Err(verdict) = tsig_to_verify(message) {
            return verdict;
        }

        let signer = &self.signer;
        let (covered, record) = match signed_bitmessage_to_buf(Some(&self.request_mac), reply, true)
        {
            Ok(parts) => parts,
            Err(error) => return TsigVerdict::Invalid(format!("cannot read the reply: {error}")),
        };
        let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
            return TsigVerdict::Invalid("the reply's last record is not TSIG".to_owned());
        };

        // §5.2.1: the key.
        let key_name = record.name().to_lowercase().to_ascii();
        if key_name.trim_end_matches('.') != signer.key_name.to_ascii().trim_end_matches('.') {
            return TsigVerdict::Invalid(format!(
                "signed with key {}, not {}",
                record.name(),
                signer.key_name
            ));
        }
        let ours = wire_algorithm(signer.algorithm);
        if algorithm_text(tsig.algorithm()) != algorithm_text(&ours) {
            return TsigVerdict::Invalid(format!(
                "signed with algorithm {}, not {}",
                tsig.algorithm(),
                ours
            ));
        }

        // §5.2.2: the MAC, full length only.
        let full = mac::output_len(signer.algorithm);
        if tsig.mac().len() != full {
            return TsigVerdict::Invalid(format!(
                "the MAC is {} bytes long, not {full} (kmsdns does not accept truncated MACs)",
                tsig.mac().len()
            ));
        }
        if !mac::verify(
            signer.algorithm,
            signer.secret.expose(),
            &covered,
            tsig.mac(),
        ) {
            return TsigVerdict::Invalid(format!(
                "the MAC does not verify with key {}",
                signer.key_name
            ));
        }

        match check_time(tsig, now) {
            Ok(()) => TsigVerdict::Verified,
            Err(why) => why,
        }
    }
}

/// RFC 8945 §5.2.3, the last step for every kind of TSIG: the time signed
/// is within the reply's fudge of `now`, but never a wider window than
/// ours.
pub(super) fn check_time(tsig: &TSIG, now: u64) -> Result<(), TsigVerdict> {
    let fudge = u64::from(tsig.fudge().min(FUDGE_SECONDS));
    if now.abs_diff(tsig.time()) > fudge {
        return Err(TsigVerdict::Invalid(format!(
            "signed at {} (seconds since 1970), more than {fudge} s from our clock ({now})",
            tsig.time()
        )));
    }
    Ok(())
}

/// The steps before the MAC, the same for every kind of TSIG (HMAC here,
/// GSS-TSIG in `gss`): the reply's TSIG record, whose key, MAC and time
/// are still to be checked, or the verdict already reached. A server that
/// rejects our signature cannot sign its answer with our key (BADSIG,
/// BADKEY: empty MAC, RFC 8945 §5.3.2), so its reason comes first.
pub(super) fn tsig_to_verify(message: &Message) -> Result<&TSIG, TsigVerdict> {
    let Some(record) = message.signature().last() else {
        return Err(TsigVerdict::Unsigned);
    };
    let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
        return Err(TsigVerdict::Invalid(
            "the reply is signed with SIG(0), not TSIG".to_owned(),
        ));
    };
    let fields = TsigFields::of(tsig).map_err(TsigVerdict::Invalid)?;
    if let Some(error) = TsigError::from_code(fields.error) {
        return Err(TsigVerdict::Rejected(Some(error)));
    }
    if tsig.mac().is_empty() {
        return Err(TsigVerdict::Rejected(None));
    }
    Ok(tsig)
}

/// The fields of a TSIG RDATA that hickory 0.25.2 has no getter for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TsigFields {
    pub(super) error: u16,
}

impl TsigFields {
    /// Reads the RDATA back from its wire form (RFC 8945 §4.2): algorithm
    /// name, time signed (48 bits), fudge, MAC size, MAC, original ID,
    /// error, other len, other data.
    pub(super) fn of(tsig: &TSIG) -> Result<Self, String> {
        let bytes = tsig
            .to_bytes()
            .map_err(|error| format!("cannot re-encode the reply's TSIG: {error}"))?;
        let malformed = |error: &dyn fmt::Display| format!("malformed TSIG in the reply: {error}");
        let mut decoder = BinDecoder::new(&bytes);
        Name::read(&mut decoder).map_err(|e| malformed(&e))?;
        decoder.read_slice(6 + 2).map_err(|e| malformed(&e))?;
        let mac_size = decoder.read_u16().map_err(|e| malformed(&e))?.unverified();
        decoder
            .read_slice(usize::from(mac_size))
            .map_err(|e| malformed(&e))?;
        decoder.read_u16().map_err(|e| malformed(&e))?;
        let error = decoder.read_u16().map_err(|e| malformed(&e))?.unverified();
        Ok(TsigFields { error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::credentials::KeyOrigin;
    use hickory_proto::dnssec::tsig::TSigner;
    use hickory_proto::op::{MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{DNSClass, RecordType};

    use super::mac::ALL;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u32 = 1_700_000_000;

    fn key_named(name: &str, algorithm: TsigAlgorithm) -> TsigKey {
        TsigKey {
            name: Name::from_ascii(name).unwrap(),
            algorithm,
            secret: Secret::new(SECRET.to_vec()),
            origin: KeyOrigin::Env("KMSDNS_KEY".to_owned()),
        }
    }

    /// The name of the tests' key, as the server's records carry it.
    const KEY_NAME: &str = "kmsdns-secure.";

    fn key_name() -> Name {
        Name::from_ascii(KEY_NAME).unwrap()
    }

    fn key(algorithm: TsigAlgorithm) -> TsigKey {
        key_named(KEY_NAME, algorithm)
    }

    fn update() -> Message {
        let mut zone = Query::query(
            Name::from_ascii("secure.example.").unwrap(),
            RecordType::SOA,
        );
        zone.set_query_class(DNSClass::IN);
        let mut message = Message::new();
        message
            .set_id(0x1234)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Update)
            .add_query(zone);
        message
    }

    fn mac_of(message: &Message) -> Vec<u8> {
        match message.signature().last().map(|record| record.data()) {
            Some(RData::DNSSEC(DNSSECRData::TSIG(tsig))) => tsig.mac().to_vec(),
            other => panic!("not TSIG-signed: {other:?}"),
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The MAC as another implementation computes it: hickory's TSigner
    /// (ring) for the SHA-2 algorithms it has, RustCrypto for the others.
    fn reference_mac(algorithm: TsigAlgorithm, covered: &[u8]) -> Vec<u8> {
        let hickory = match algorithm {
            TsigAlgorithm::HmacSha256 => HickoryAlgorithm::HmacSha256,
            TsigAlgorithm::HmacSha384 => HickoryAlgorithm::HmacSha384,
            TsigAlgorithm::HmacSha512 => HickoryAlgorithm::HmacSha512,
            _ => return mac::sign(algorithm, SECRET, covered).unwrap(),
        };
        TSigner::new(SECRET.to_vec(), hickory, key_name(), FUDGE_SECONDS)
            .unwrap()
            .sign(covered)
            .unwrap()
    }

    /// The reply to `request` signed as a server signs it (RFC 8945 §5.3:
    /// the request MAC, the reply, the TSIG variables) at `time`, with
    /// `rcode`, as sent and as parsed.
    fn signed_reply(
        algorithm: TsigAlgorithm,
        request: &Message,
        rcode: ResponseCode,
        time: u64,
    ) -> (Vec<u8>, Message) {
        let mut reply = reply_to_update(rcode);
        let unsigned = TSIG::new(
            wire_algorithm(algorithm),
            time,
            FUDGE_SECONDS,
            Vec::new(),
            reply.id(),
            0,
            Vec::new(),
        );
        let covered = message_tbs(Some(&mac_of(request)), &reply, &unsigned, &key_name()).unwrap();
        let mac = reference_mac(algorithm, &covered);
        reply.add_tsig(make_tsig_record(key_name(), unsigned.set_mac(mac)));
        received(&reply)
    }

    /// `update()` signed with `key(algorithm)` at `NOW`, and the verifier
    /// of its reply.
    fn signed_update(algorithm: TsigAlgorithm) -> (Message, ReplyVerifier) {
        let mut request = update();
        let verifier = Signer::new(&key(algorithm))
            .sign(&mut request, NOW)
            .unwrap();
        (request, verifier)
    }

    /// `update()`'s reply with `rcode`, not signed yet.
    fn reply_to_update(rcode: ResponseCode) -> Message {
        let mut reply = update();
        reply
            .set_message_type(MessageType::Response)
            .set_response_code(rcode);
        reply
    }

    /// A reply as the verifier gets it: the bytes received, and parsed.
    fn received(reply: &Message) -> (Vec<u8>, Message) {
        let bytes = reply.to_vec().unwrap();
        let parsed = Message::from_vec(&bytes).unwrap();
        (bytes, parsed)
    }

    /// Asserts that `verdict` is `Invalid` for a reason that mentions
    /// `because`.
    #[track_caller]
    fn assert_invalid(verdict: &TsigVerdict, because: &str) {
        assert!(
            matches!(verdict, TsigVerdict::Invalid(why) if why.contains(because)),
            "not invalid for {because:?}: {verdict:?}"
        );
    }

    /// BIND's answer to a signature it rejects: NOTAUTH, TSIG with an empty
    /// MAC and the error code.
    fn rejection(algorithm: TsigAlgorithm, error: u16) -> (Vec<u8>, Message) {
        let mut reply = reply_to_update(ResponseCode::NotAuth);
        let tsig = TSIG::new(
            wire_algorithm(algorithm),
            u64::from(NOW),
            300,
            Vec::new(),
            0x1234,
            error,
            Vec::new(),
        );
        reply.add_tsig(make_tsig_record(key_name(), tsig));
        received(&reply)
    }

    /// What a request's MAC covers (RFC 8945 §4.3.1, §4.3.3) for the
    /// message of `update()` signed with `key(…)` at `NOW`; `algorithm` is
    /// the algorithm name in wire form.
    fn covered_bytes(algorithm: &[u8]) -> Vec<u8> {
        let mut covered = Vec::new();
        #[rustfmt::skip]
        covered.extend_from_slice(&[
            0x12, 0x34, // ID
            0x28, 0x00, // QR=0, opcode 5 (UPDATE); rcode 0
            0, 1,       // ZOCOUNT
            0, 0,       // PRCOUNT
            0, 0,       // UPCOUNT
            0, 0,       // ARCOUNT: without the TSIG RR
        ]);
        // Zone section: secure.example. SOA IN.
        covered.extend_from_slice(b"\x06secure\x07example\x00");
        covered.extend_from_slice(&[0x00, 6, 0x00, 1]);
        // TSIG variables: key name, CLASS ANY, TTL 0, algorithm name,
        // time signed (48 bits: 1_700_000_000 = 0x6553f100), fudge 300,
        // error 0, other len 0.
        covered.extend_from_slice(b"\x0dkmsdns-secure\x00");
        covered.extend_from_slice(&[0x00, 0xff, 0, 0, 0, 0]);
        covered.extend_from_slice(algorithm);
        covered.extend_from_slice(&[0x00, 0x00, 0x65, 0x53, 0xf1, 0x00]);
        covered.extend_from_slice(&[0x01, 0x2c, 0x00, 0x00, 0x00, 0x00]);
        covered
    }

    #[test]
    fn every_algorithm_signs() {
        for algorithm in ALL {
            let mut request = update();
            Signer::new(&key(algorithm))
                .sign(&mut request, NOW)
                .unwrap();
            assert_eq!(mac_of(&request).len(), mac::output_len(algorithm));
        }
    }

    /// The MACs below were computed apart from this code and from hickory,
    /// with Python's `hmac` module over the bytes that `covered_bytes`
    /// spells out, built again field by field:
    ///
    /// ```text
    /// import hmac, hashlib, struct
    /// key = b"0123456789abcdef0123456789abcdef"
    /// def name(s): return b"".join(bytes([len(l)]) + l.encode() for l in s.split(".") if l) + b"\0"
    /// msg = struct.pack(">HHHHHH", 0x1234, 0x2800, 1, 0, 0, 0) + name("secure.example.") + struct.pack(">HH", 6, 1)
    /// for alg, h in [("hmac-md5.sig-alg.reg.int.", "md5"), ("hmac-sha1.", "sha1"), ("hmac-sha224.", "sha224"),
    ///                ("hmac-sha256.", "sha256"), ("hmac-sha384.", "sha384"), ("hmac-sha512.", "sha512")]:
    ///     tsig = name("kmsdns-secure.") + struct.pack(">HI", 255, 0) + name(alg) + struct.pack(">HIHHH", 0, 1700000000, 300, 0, 0)
    ///     print(h, hmac.new(key, msg + tsig, getattr(hashlib, h)).hexdigest())
    /// ```
    #[test]
    fn the_mac_of_a_fixed_message_matches_an_independent_computation() {
        let cases: [(TsigAlgorithm, &[u8], &str); 6] = [
            (
                TsigAlgorithm::HmacMd5,
                b"\x08hmac-md5\x07sig-alg\x03reg\x03int\x00",
                "9483b6e562f13f8a862b92b2040c1a83",
            ),
            (
                TsigAlgorithm::HmacSha1,
                b"\x09hmac-sha1\x00",
                "fd24aa0548febbfd7407820e171dd86d9c00adc8",
            ),
            (
                TsigAlgorithm::HmacSha224,
                b"\x0bhmac-sha224\x00",
                "ef955b6841e68b8f8d930105df91bc4fe97ea4578cbbf92de8c7a46d",
            ),
            (
                TsigAlgorithm::HmacSha256,
                b"\x0bhmac-sha256\x00",
                "1ec1765d3adb64206a340affa0a570bb0ccb57f2d660f91a3e31f6e691f5e33c",
            ),
            (
                TsigAlgorithm::HmacSha384,
                b"\x0bhmac-sha384\x00",
                "2f7c9b4d058a7ff345e9d53b57367daae6c2ac55a1ff0a2d1f33d08c9c1f49d2\
                 fa367a912a7058fce5ccc5e5eba9aa85",
            ),
            (
                TsigAlgorithm::HmacSha512,
                b"\x0bhmac-sha512\x00",
                "1338fc3f6fe5daa675385f2299f26db0dcb3252a91bd32bbba18341e162bee71\
                 6036c826d44fb307ec0924539ccc103874cfb590deff074bba894223072fb680",
            ),
        ];
        for (algorithm, name, expected) in cases {
            let mut request = update();
            Signer::new(&key(algorithm))
                .sign(&mut request, NOW)
                .unwrap();
            let bytes = request.to_vec().unwrap();
            // What was signed is what was sent, less the TSIG RR.
            let (covered, _) = signed_bitmessage_to_buf(None, &bytes, true).unwrap();
            assert_eq!(hex(&covered), hex(&covered_bytes(name)), "{algorithm:?}");
            assert_eq!(hex(&mac_of(&request)), expected, "{algorithm:?}");
        }
    }

    #[test]
    fn the_wire_carries_bind_s_algorithm_names_and_a_lower_case_key_name() {
        let names: [(TsigAlgorithm, &[u8]); 3] = [
            (
                TsigAlgorithm::HmacMd5,
                b"\x08hmac-md5\x07sig-alg\x03reg\x03int\x00",
            ),
            (TsigAlgorithm::HmacSha1, b"\x09hmac-sha1\x00"),
            (TsigAlgorithm::HmacSha224, b"\x0bhmac-sha224\x00"),
        ];
        for (algorithm, name) in names {
            let mut request = update();
            let key = key_named("KmsDns-Secure.", algorithm);
            Signer::new(&key).sign(&mut request, NOW).unwrap();
            let bytes = request.to_vec().unwrap();
            // The TSIG RR: owner, TYPE 250, CLASS ANY, TTL 0, then the
            // RDATA, which opens with the algorithm name.
            let mut rr = b"\x0dkmsdns-secure\x00\x00\xfa\x00\xff\x00\x00\x00\x00".to_vec();
            let at = bytes
                .windows(rr.len())
                .position(|window| window == rr)
                .unwrap_or_else(|| panic!("{algorithm:?}: no TSIG RR in {}", hex(&bytes)));
            rr.extend_from_slice(&[0, 0]); // RDLENGTH, skipped below
            assert_eq!(
                &bytes[at + rr.len()..at + rr.len() + name.len()],
                name,
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacMd5));
        let shown = format!("{signer:?}");
        assert!(shown.contains("kmsdns-secure"), "{shown}");
        assert!(shown.contains("hmac-md5"), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        let verifier = signer.sign(&mut update(), NOW).unwrap();
        let shown = format!("{verifier:?}");
        assert!(shown.contains("kmsdns-secure"), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(!shown.contains("48, 49, 50"), "{shown}");
    }

    #[test]
    fn an_empty_mac_with_an_error_is_a_rejection_not_a_bad_mac() {
        for algorithm in ALL {
            let signer = Signer::new(&key(algorithm));
            for (code, expected) in [
                (16, TsigError::BadSig),
                (17, TsigError::BadKey),
                (18, TsigError::BadTime),
            ] {
                let verifier = signer.sign(&mut update(), NOW).unwrap();
                let (bytes, parsed) = rejection(algorithm, code);
                assert_eq!(
                    verifier.check_at(&bytes, &parsed, u64::from(NOW)),
                    TsigVerdict::Rejected(Some(expected)),
                    "{algorithm:?}"
                );
            }
            let verifier = signer.sign(&mut update(), NOW).unwrap();
            let (bytes, parsed) = rejection(algorithm, 0);
            assert_eq!(
                verifier.check_at(&bytes, &parsed, u64::from(NOW)),
                TsigVerdict::Rejected(None)
            );
        }
    }

    #[test]
    fn a_reply_signed_with_our_key_verifies_and_a_tampered_one_does_not() {
        let now = u64::from(NOW);
        for algorithm in ALL {
            let signer = Signer::new(&key(algorithm));
            let mut request = update();
            let verifier = signer.sign(&mut request, NOW).unwrap();
            let (bytes, parsed) = signed_reply(algorithm, &request, ResponseCode::Refused, now);
            assert_eq!(
                verifier.check_at(&bytes, &parsed, now),
                TsigVerdict::Verified,
                "{algorithm:?}"
            );

            // A REFUSED turned into NOERROR on the way.
            let mut forged = bytes.clone();
            assert_eq!(forged[3] & 0x0f, 5, "rcode REFUSED");
            forged[3] &= 0xf0;
            let parsed = Message::from_vec(&forged).unwrap();
            assert_eq!(parsed.response_code(), ResponseCode::NoError);
            assert_invalid(&verifier.check_at(&forged, &parsed, now), "does not verify");

            // One bit of the MAC changed (the MAC ends 6 bytes before the
            // message: original ID, error, other len follow it).
            let mut forged = bytes.clone();
            let in_mac = forged.len() - 7;
            forged[in_mac] ^= 0x01;
            let parsed = Message::from_vec(&forged).unwrap();
            assert!(matches!(
                verifier.check_at(&forged, &parsed, now),
                TsigVerdict::Invalid(_)
            ));

            // A reply to another request: its MAC chains to another MAC.
            let mut other = update();
            other.set_id(0x4321);
            signer.sign(&mut other, NOW).unwrap();
            let (bytes, parsed) = signed_reply(algorithm, &other, ResponseCode::NoError, now);
            assert!(matches!(
                verifier.check_at(&bytes, &parsed, now),
                TsigVerdict::Invalid(_)
            ));
        }
    }

    #[test]
    fn a_reply_outside_the_fudge_window_does_not_verify() {
        let now = u64::from(NOW);
        let (request, verifier) = signed_update(TsigAlgorithm::HmacSha1);
        for (time, valid) in [
            (now - 300, true),
            (now + 300, true),
            (now - 301, false),
            (now + 301, false),
        ] {
            let (bytes, parsed) = signed_reply(
                TsigAlgorithm::HmacSha1,
                &request,
                ResponseCode::NoError,
                time,
            );
            let verdict = verifier.check_at(&bytes, &parsed, now);
            if valid {
                assert_eq!(verdict, TsigVerdict::Verified, "signed at {time}");
            } else {
                assert_invalid(&verdict, "from our clock");
            }
        }
    }

    #[test]
    fn a_reply_with_another_key_algorithm_or_a_truncated_mac_does_not_verify() {
        let now = u64::from(NOW);
        let (request, verifier) = signed_update(TsigAlgorithm::HmacSha224);
        let signed_with = |algorithm| signed_reply(algorithm, &request, ResponseCode::NoError, now);

        // Signed correctly, but with SHA-256.
        let (bytes, parsed) = signed_with(TsigAlgorithm::HmacSha256);
        assert_invalid(&verifier.check_at(&bytes, &parsed, now), "algorithm");

        // Another key name.
        let (_, mut reply) = signed_with(TsigAlgorithm::HmacSha224);
        let mut tsig = reply.take_signature().remove(0);
        tsig.set_name(Name::from_ascii("someone-else.").unwrap());
        reply.add_tsig(tsig);
        let bytes = reply.to_vec().unwrap();
        assert_invalid(&verifier.check_at(&bytes, &reply, now), "someone-else");

        // The MAC cut to its first half (RFC 8945 §5.2.2.1 would allow it;
        // kmsdns does not).
        let (_, mut reply) = signed_with(TsigAlgorithm::HmacSha224);
        let record = reply.take_signature().remove(0);
        let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
            unreachable!()
        };
        let half = tsig.mac()[..14].to_vec();
        reply.add_tsig(make_tsig_record(
            record.name().clone(),
            tsig.clone().set_mac(half),
        ));
        let bytes = reply.to_vec().unwrap();
        assert_invalid(&verifier.check_at(&bytes, &reply, now), "truncated");
    }

    #[test]
    fn hickory_verifies_our_sha2_requests_and_computes_the_same_mac() {
        for (algorithm, hickory) in [
            (TsigAlgorithm::HmacSha256, HickoryAlgorithm::HmacSha256),
            (TsigAlgorithm::HmacSha384, HickoryAlgorithm::HmacSha384),
            (TsigAlgorithm::HmacSha512, HickoryAlgorithm::HmacSha512),
        ] {
            let mut ours = update();
            Signer::new(&key(algorithm)).sign(&mut ours, NOW).unwrap();
            let tsigner =
                TSigner::new(SECRET.to_vec(), hickory, key_name(), FUDGE_SECONDS).unwrap();
            // What a server does: check the MAC over the bytes received.
            let bytes = ours.to_vec().unwrap();
            assert!(tsigner.verify_message_byte(None, &bytes, true).is_ok());
            let mut theirs = update();
            theirs.finalize(&tsigner, NOW).unwrap();
            assert_eq!(mac_of(&ours), mac_of(&theirs), "{algorithm:?}");
            assert_eq!(bytes, theirs.to_vec().unwrap(), "{algorithm:?}");
        }
    }

    #[test]
    fn the_request_mac_covers_the_bytes_as_sent() {
        for algorithm in ALL {
            let mut request = update();
            let target = Name::from_ascii("kms1.secure.example.").unwrap();
            request.add_answer(hickory_proto::rr::Record::from_rdata(
                Name::from_ascii("_vlmcs._tcp.secure.example.").unwrap(),
                3600,
                RData::SRV(hickory_proto::rr::rdata::SRV::new(0, 0, 1688, target)),
            ));
            Signer::new(&key(algorithm))
                .sign(&mut request, NOW)
                .unwrap();
            let bytes = request.to_vec().unwrap();
            // What the server does: recompute the MAC over the bytes received.
            let (covered, _) = signed_bitmessage_to_buf(None, &bytes, true).unwrap();
            assert!(mac::verify(algorithm, SECRET, &covered, &mac_of(&request)));
            // hickory writes SRV targets uncompressed, as RFC 2782 asks:
            // priority, weight, port 1688, then the whole name.
            let rdata = b"\x00\x00\x00\x00\x06\x98\x04kms1\x06secure\x07example\x00";
            assert!(bytes.windows(rdata.len()).any(|window| window == rdata));
        }
    }

    #[test]
    fn a_message_is_signed_once() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacSha256));
        let mut request = update();
        signer.sign(&mut request, NOW).unwrap();
        assert!(signer.sign(&mut request, NOW).is_err());
        assert_eq!(request.signature().len(), 1);
    }

    #[test]
    fn an_unsigned_reply_is_unsigned() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacMd5));
        let verifier = signer.sign(&mut update(), NOW).unwrap();
        let mut reply = update();
        reply.set_message_type(MessageType::Response);
        let bytes = reply.to_vec().unwrap();
        assert_eq!(verifier.check(&bytes, &reply), TsigVerdict::Unsigned);
    }
}
