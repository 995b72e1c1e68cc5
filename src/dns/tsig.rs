//! TSIG signing of UPDATE messages and checking of the replies (RFC 8945).
//!
//! Signing is hickory's `TSigner`. Checking the reply wraps hickory's
//! verifier: the reply's TSIG record is inspected *first*, because when
//! BIND rejects our signature it answers NOTAUTH with a TSIG whose MAC is
//! empty and whose error field says why (BADSIG: wrong secret; BADKEY:
//! unknown key name or algorithm; RFC 8945 §5.3.2). hickory 0.25.2 feeds
//! such a reply to its MAC check and reports a misleading "please file an
//! issue … truncated HMACs"; here the administrator gets the real reason.

use std::fmt;

use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm as HickoryAlgorithm;
use hickory_proto::dnssec::rdata::{DNSSECRData, TSIG};
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageVerifier};
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

use crate::config::key::{TsigAlgorithm, TsigKey};

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

/// hickory's name for our algorithm, if hickory can compute it: with
/// `dnssec-ring`, hickory-proto 0.25.2 implements HMAC-SHA256/384/512 only.
pub(crate) fn hickory_algorithm(algorithm: TsigAlgorithm) -> Option<HickoryAlgorithm> {
    match algorithm {
        TsigAlgorithm::HmacSha256 => Some(HickoryAlgorithm::HmacSha256),
        TsigAlgorithm::HmacSha384 => Some(HickoryAlgorithm::HmacSha384),
        TsigAlgorithm::HmacSha512 => Some(HickoryAlgorithm::HmacSha512),
        TsigAlgorithm::HmacMd5 | TsigAlgorithm::HmacSha1 | TsigAlgorithm::HmacSha224 => None,
    }
}

/// Signs requests with one key. Its `Debug` shows the key name only.
pub(crate) struct Signer {
    signer: TSigner,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key", self.signer.signer_name())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `key`; `None` if hickory cannot compute its algorithm.
    pub(crate) fn new(key: &TsigKey) -> Option<Self> {
        let algorithm = hickory_algorithm(key.algorithm)?;
        TSigner::new(
            key.secret.expose().to_vec(),
            algorithm,
            key.name.clone(),
            FUDGE_SECONDS,
        )
        .ok()
        .map(|signer| Signer { signer })
    }

    /// Appends the TSIG record to `message` (signed at `now`, seconds since
    /// the epoch) with hickory's `TSigner`, and returns the checker for the
    /// reply. The message must not change afterwards.
    pub(crate) fn sign(&self, message: &mut Message, now: u32) -> Result<ReplyVerifier, String> {
        match message.finalize(&self.signer, now) {
            Ok(Some(verifier)) => Ok(ReplyVerifier { verifier }),
            Ok(None) => Err("the TSIG signer returned no verifier".to_owned()),
            Err(error) => Err(error.to_string()),
        }
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
    /// A TSIG that does not verify (wrong key name, bad MAC, outdated).
    Invalid(String),
}

/// Checks the reply to one signed request: first the TSIG error and MAC
/// length, then hickory's verifier (MAC chained to our request's MAC, RFC
/// 8945 §5.3, and the time window).
pub(crate) struct ReplyVerifier {
    verifier: MessageVerifier,
}

impl fmt::Debug for ReplyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplyVerifier")
    }
}

impl ReplyVerifier {
    /// Judges `reply` (as received) whose parsed form is `message`.
    pub(crate) fn check(&mut self, reply: &[u8], message: &Message) -> TsigVerdict {
        let Some(record) = message.signature().last() else {
            return TsigVerdict::Unsigned;
        };
        let RData::DNSSEC(DNSSECRData::TSIG(tsig)) = record.data() else {
            return TsigVerdict::Invalid("the reply is signed with SIG(0), not TSIG".to_owned());
        };
        let fields = match TsigFields::of(tsig) {
            Ok(fields) => fields,
            Err(why) => return TsigVerdict::Invalid(why),
        };
        if let Some(error) = TsigError::from_code(fields.error) {
            return TsigVerdict::Rejected(Some(error));
        }
        if tsig.mac().is_empty() {
            return TsigVerdict::Rejected(None);
        }
        match (self.verifier)(reply) {
            Ok(_) => TsigVerdict::Verified,
            Err(error) => TsigVerdict::Invalid(error.to_string()),
        }
    }
}

/// The fields of a TSIG RDATA that hickory 0.25.2 has no getter for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TsigFields {
    error: u16,
}

impl TsigFields {
    /// Reads the RDATA back from its wire form (RFC 8945 §4.2): algorithm
    /// name, time signed (48 bits), fudge, MAC size, MAC, original ID,
    /// error, other len, other data.
    fn of(tsig: &TSIG) -> Result<Self, String> {
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
    use crate::config::key::{KeyOrigin, Secret};
    use hickory_proto::dnssec::rdata::tsig::make_tsig_record;
    use hickory_proto::op::{MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::RecordType;

    fn key(algorithm: TsigAlgorithm) -> TsigKey {
        TsigKey {
            name: Name::from_ascii("kmsdns-secure.").unwrap(),
            algorithm,
            secret: Secret::new(b"0123456789abcdef0123456789abcdef".to_vec()),
            origin: KeyOrigin::Env("KMSDNS_KEY".to_owned()),
        }
    }

    fn update() -> Message {
        let mut message = Message::new();
        message
            .set_id(42)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Update)
            .add_query(Query::query(
                Name::from_ascii("secure.example.").unwrap(),
                RecordType::SOA,
            ));
        message
    }

    /// BIND's answer to a signature it rejects: NOTAUTH, TSIG with an empty
    /// MAC and the error code.
    fn rejection(error: u16) -> (Vec<u8>, Message) {
        let mut reply = update();
        reply
            .set_message_type(MessageType::Response)
            .set_response_code(ResponseCode::NotAuth);
        let tsig = TSIG::new(
            HickoryAlgorithm::HmacSha256,
            1_700_000_000,
            300,
            Vec::new(),
            42,
            error,
            Vec::new(),
        );
        reply.add_tsig(make_tsig_record(
            Name::from_ascii("kmsdns-secure.").unwrap(),
            tsig,
        ));
        let bytes = reply.to_vec().unwrap();
        let parsed = Message::from_vec(&bytes).unwrap();
        (bytes, parsed)
    }

    #[test]
    fn only_sha2_algorithms_can_sign() {
        assert!(Signer::new(&key(TsigAlgorithm::HmacSha256)).is_some());
        assert!(Signer::new(&key(TsigAlgorithm::HmacSha512)).is_some());
        assert!(Signer::new(&key(TsigAlgorithm::HmacMd5)).is_none());
        assert!(Signer::new(&key(TsigAlgorithm::HmacSha1)).is_none());
    }

    #[test]
    fn the_signer_debug_hides_the_secret() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacSha256)).unwrap();
        let shown = format!("{signer:?}");
        assert!(shown.contains("kmsdns-secure"));
        assert!(!shown.contains("0123456789abcdef"));
    }

    #[test]
    fn an_empty_mac_with_an_error_is_a_rejection_not_a_truncated_hmac() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacSha256)).unwrap();
        for (code, expected) in [
            (16, TsigError::BadSig),
            (17, TsigError::BadKey),
            (18, TsigError::BadTime),
        ] {
            let mut request = update();
            let mut verifier = signer.sign(&mut request, 1_700_000_000).unwrap();
            let (bytes, parsed) = rejection(code);
            assert_eq!(
                verifier.check(&bytes, &parsed),
                TsigVerdict::Rejected(Some(expected))
            );
        }
        let mut request = update();
        let mut verifier = signer.sign(&mut request, 1_700_000_000).unwrap();
        let (bytes, parsed) = rejection(0);
        assert_eq!(verifier.check(&bytes, &parsed), TsigVerdict::Rejected(None));
    }

    #[test]
    fn a_reply_signed_with_our_key_verifies_and_a_forged_one_does_not() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacSha256)).unwrap();
        let mut request = update();
        let now = 1_700_000_000;
        let mut verifier = signer.sign(&mut request, now).unwrap();
        let request_mac = match request.signature()[0].data() {
            RData::DNSSEC(DNSSECRData::TSIG(tsig)) => tsig.mac().to_vec(),
            _ => unreachable!(),
        };

        // Sign the reply as a server would (RFC 8945 §5.3: the request MAC
        // is prepended to the digest).
        let mut reply = update();
        reply.set_message_type(MessageType::Response);
        let pre = TSIG::new(
            HickoryAlgorithm::HmacSha256,
            u64::from(now),
            300,
            Vec::new(),
            42,
            0,
            Vec::new(),
        );
        let tbs = hickory_proto::dnssec::rdata::tsig::message_tbs(
            Some(&request_mac),
            &reply,
            &pre,
            &Name::from_ascii("kmsdns-secure.").unwrap(),
        )
        .unwrap();
        let mac = signer.signer.sign(&tbs).unwrap();
        reply.add_tsig(make_tsig_record(
            Name::from_ascii("kmsdns-secure.").unwrap(),
            pre.set_mac(mac),
        ));
        let bytes = reply.to_vec().unwrap();
        let parsed = Message::from_vec(&bytes).unwrap();
        assert_eq!(verifier.check(&bytes, &parsed), TsigVerdict::Verified);

        let mut forged = bytes.clone();
        let last = forged.len() - 7; // inside the MAC
        forged[last] ^= 0xff;
        let mut verifier = signer.sign(&mut update(), now).unwrap();
        let parsed = Message::from_vec(&forged).unwrap();
        assert!(matches!(
            verifier.check(&forged, &parsed),
            TsigVerdict::Invalid(_)
        ));
    }

    #[test]
    fn the_request_mac_covers_the_bytes_as_sent() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacSha256)).unwrap();
        let mut request = update();
        let target = Name::from_ascii("kms1.secure.example.").unwrap();
        request.add_answer(hickory_proto::rr::Record::from_rdata(
            Name::from_ascii("_vlmcs._tcp.secure.example.").unwrap(),
            3600,
            RData::SRV(hickory_proto::rr::rdata::SRV::new(0, 0, 1688, target)),
        ));
        signer.sign(&mut request, 1_700_000_000).unwrap();
        let bytes = request.to_vec().unwrap();
        // What the server does: verify the MAC over the bytes received.
        assert!(signer
            .signer
            .verify_message_byte(None, &bytes, true)
            .is_ok());
        // hickory writes SRV targets uncompressed, as RFC 2782 asks:
        // priority, weight, port 1688, then the whole name.
        let rdata = b"\x00\x00\x00\x00\x06\x98\x04kms1\x06secure\x07example\x00";
        assert!(bytes.windows(rdata.len()).any(|window| window == rdata));
    }

    #[test]
    fn an_unsigned_reply_is_unsigned() {
        let signer = Signer::new(&key(TsigAlgorithm::HmacSha256)).unwrap();
        let mut verifier = signer.sign(&mut update(), 1_700_000_000).unwrap();
        let mut reply = update();
        reply.set_message_type(MessageType::Response);
        let bytes = reply.to_vec().unwrap();
        assert_eq!(verifier.check(&bytes, &reply), TsigVerdict::Unsigned);
    }
}
