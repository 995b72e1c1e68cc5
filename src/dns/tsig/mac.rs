//! The MAC of TSIG: HMAC (RFC 2104) with the hash of the key's algorithm
//! (RFC 8945 §6), computed by the RustCrypto `hmac` crate over `md-5`,
//! `sha1` and `sha2`, for all six algorithms BIND offers.
//!
//! Only full-length MACs are made and accepted: RFC 8945 §5.2.2.1 allows
//! truncation, but neither BIND nor kmsdns uses it.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha224, Sha256, Sha384, Sha512};

use crate::dns::credentials::TsigAlgorithm;

/// The length of a full MAC: the hash's output length (RFC 2104 §2).
pub(super) fn output_len(algorithm: TsigAlgorithm) -> usize {
    match algorithm {
        TsigAlgorithm::HmacMd5 => 16,
        TsigAlgorithm::HmacSha1 => 20,
        TsigAlgorithm::HmacSha224 => 28,
        TsigAlgorithm::HmacSha256 => 32,
        TsigAlgorithm::HmacSha384 => 48,
        TsigAlgorithm::HmacSha512 => 64,
    }
}

/// The MAC of `data` under `key`.
pub(super) fn sign(algorithm: TsigAlgorithm, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    fn tag<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        Ok(keyed::<M>(key, data)?.finalize().into_bytes().to_vec())
    }
    match algorithm {
        TsigAlgorithm::HmacMd5 => tag::<Hmac<Md5>>(key, data),
        TsigAlgorithm::HmacSha1 => tag::<Hmac<Sha1>>(key, data),
        TsigAlgorithm::HmacSha224 => tag::<Hmac<Sha224>>(key, data),
        TsigAlgorithm::HmacSha256 => tag::<Hmac<Sha256>>(key, data),
        TsigAlgorithm::HmacSha384 => tag::<Hmac<Sha384>>(key, data),
        TsigAlgorithm::HmacSha512 => tag::<Hmac<Sha512>>(key, data),
    }
}

/// Whether `mac` is the full MAC of `data` under `key`, compared in
/// constant time (a timing difference would let a forger find the MAC
/// byte by byte). A MAC of another length never verifies.
pub(super) fn verify(algorithm: TsigAlgorithm, key: &[u8], data: &[u8], mac: &[u8]) -> bool {
    fn check<M: Mac + KeyInit>(key: &[u8], data: &[u8], mac: &[u8]) -> bool {
        keyed::<M>(key, data).is_ok_and(|keyed| keyed.verify_slice(mac).is_ok())
    }
    match algorithm {
        TsigAlgorithm::HmacMd5 => check::<Hmac<Md5>>(key, data, mac),
        TsigAlgorithm::HmacSha1 => check::<Hmac<Sha1>>(key, data, mac),
        TsigAlgorithm::HmacSha224 => check::<Hmac<Sha224>>(key, data, mac),
        TsigAlgorithm::HmacSha256 => check::<Hmac<Sha256>>(key, data, mac),
        TsigAlgorithm::HmacSha384 => check::<Hmac<Sha384>>(key, data, mac),
        TsigAlgorithm::HmacSha512 => check::<Hmac<Sha512>>(key, data, mac),
    }
}

/// An HMAC keyed with `key` that has read `data`. HMAC takes keys of any
/// length (longer ones are hashed first, RFC 2104 §3), so the error is
/// only there because the trait has one; it never names the key.
fn keyed<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Result<M, String> {
    let mut mac = <M as KeyInit>::new_from_slice(key)
        .map_err(|_| "the HMAC implementation refused the key length".to_owned())?;
    Mac::update(&mut mac, data);
    Ok(mac)
}

/// Every algorithm, for the tests here and in [`super`] that try each.
#[cfg(test)]
pub(super) const ALL: [TsigAlgorithm; 6] = [
    TsigAlgorithm::HmacMd5,
    TsigAlgorithm::HmacSha1,
    TsigAlgorithm::HmacSha224,
    TsigAlgorithm::HmacSha256,
    TsigAlgorithm::HmacSha384,
    TsigAlgorithm::HmacSha512,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// RFC 2202 test case 2 (MD5, SHA-1) and RFC 4231 test case 2 (SHA-2):
    /// key "Jefe", data "what do ya want for nothing?".
    #[test]
    fn published_test_vectors() {
        let expected = [
            "750c783e6ab0b503eaa86e310a5db738",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
             8e2240ca5e69e2c78b3239ecfab21649",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
             9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ];
        for (algorithm, expected) in ALL.into_iter().zip(expected) {
            let mac = sign(algorithm, b"Jefe", b"what do ya want for nothing?").unwrap();
            assert_eq!(hex(&mac), expected, "{algorithm:?}");
            assert_eq!(mac.len(), output_len(algorithm), "{algorithm:?}");
        }
    }

    #[test]
    fn verification_needs_the_whole_mac_and_the_same_key() {
        for algorithm in ALL {
            let mac = sign(algorithm, b"key", b"data").unwrap();
            assert!(verify(algorithm, b"key", b"data", &mac), "{algorithm:?}");
            assert!(!verify(algorithm, b"other", b"data", &mac));
            assert!(!verify(algorithm, b"key", b"datA", &mac));
            assert!(!verify(algorithm, b"key", b"data", &mac[..mac.len() / 2]));
            assert!(!verify(algorithm, b"key", b"data", &[]));
        }
    }
}
