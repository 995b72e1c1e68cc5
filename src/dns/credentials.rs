//! What signs an UPDATE: a TSIG key (RFC 8945) or a GSS-TSIG identity
//! (RFC 3645). Plain data, read by `config` from key files, environment
//! variables and the configuration; the secret never appears in output,
//! logs or errors: [`Secret`] has no `Display` and its `Debug` is redacted.

use std::fmt;
use std::path::PathBuf;

use hickory_proto::rr::Name;

/// A TSIG secret. Its bytes are only handed to the signer.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps decoded secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// The raw key bytes, for the signer only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The HMAC algorithms BIND offers for TSIG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsigAlgorithm {
    HmacMd5,
    HmacSha1,
    HmacSha224,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl TsigAlgorithm {
    /// The name BIND uses in `key` statements (`hmac-sha256`).
    pub fn bind_name(self) -> &'static str {
        match self {
            TsigAlgorithm::HmacMd5 => "hmac-md5",
            TsigAlgorithm::HmacSha1 => "hmac-sha1",
            TsigAlgorithm::HmacSha224 => "hmac-sha224",
            TsigAlgorithm::HmacSha256 => "hmac-sha256",
            TsigAlgorithm::HmacSha384 => "hmac-sha384",
            TsigAlgorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// Parses a BIND algorithm name, case-insensitively, with or without
    /// the `.sig-alg.reg.int` suffix of hmac-md5.
    pub fn from_bind_name(name: &str) -> Option<Self> {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        Some(match name.as_str() {
            "hmac-md5" | "hmac-md5.sig-alg.reg.int" => TsigAlgorithm::HmacMd5,
            "hmac-sha1" => TsigAlgorithm::HmacSha1,
            "hmac-sha224" => TsigAlgorithm::HmacSha224,
            "hmac-sha256" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            _ => return None,
        })
    }
}

/// Where a key came from, for messages (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// A BIND key file (`tsig-keygen` output).
    File(std::path::PathBuf),
    /// An environment variable holding `NAME:ALG:SECRET`.
    Env(String),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::File(path) => write!(f, "key file {}", path.display()),
            KeyOrigin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// A loaded TSIG key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key name, as the server knows it.
    pub name: Name,
    pub algorithm: TsigAlgorithm,
    pub secret: Secret,
    pub origin: KeyOrigin,
}

/// The GSS-API mechanism the security context is negotiated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GssMechanism {
    /// SPNEGO (RFC 4178), which Windows DNS servers and `nsupdate -g` use.
    #[default]
    Spnego,
    /// Raw Kerberos V5 (RFC 4121), as some older BIND set-ups expect.
    Kerberos,
}

impl fmt::Display for GssMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GssMechanism::Spnego => "spnego",
            GssMechanism::Kerberos => "kerberos",
        })
    }
}

/// How one domain's updates are signed with GSS-TSIG.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GssAuth {
    /// The client principal (`host/kms1.corp.example@CORP.EXAMPLE`,
    /// `KMS1$@CORP.EXAMPLE`); `None`: the credential cache's, or the
    /// keytab's first.
    pub principal: Option<String>,
    /// A client keytab to get the ticket from (no `kinit` needed); `None`:
    /// the current credential cache.
    pub keytab: Option<PathBuf>,
    /// The DNS server's host name in its service principal
    /// `DNS/<host>@REALM`; `None`: the zone's SOA MNAME, as `nsupdate -g`.
    pub service_host: Option<Name>,
    /// SPNEGO unless configured otherwise.
    pub mechanism: GssMechanism,
}

impl GssAuth {
    /// The principal to name in messages before the credential is known.
    pub fn principal_text(&self) -> String {
        match (&self.principal, &self.keytab) {
            (Some(principal), _) => principal.clone(),
            (None, Some(keytab)) => format!("the first principal of keytab {}", keytab.display()),
            (None, None) => "the principal of the credential cache".to_owned(),
        }
    }
}
