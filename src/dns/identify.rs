//! Which DNS server software answers, so that a verdict names what to fix
//! in *that* server: BIND's `update-policy`, Knot's ACL, PowerDNS's zone
//! metadata.
//!
//! Two sources, both reads that change nothing:
//!
//! 1. `version.bind` in class CH (the convention BIND started; Knot and
//!    PowerDNS answer it too): "9.18.49-1~deb12u3-Debian", "Knot DNS
//!    3.2.6", "PowerDNS Authoritative Server 4.7.3". Administrators often
//!    hide or replace it, so it is believed only when it names one of these.
//!    BIND rate-limits its CHAOS answers (a few a second, then it drops
//!    them), so the question is asked once, with a short wait: a missing
//!    answer only means "by behaviour, then".
//! 2. Behaviour, when it does not: a read signed with a key the server
//!    cannot know ([`throwaway_key`]). RFC 8945 §5.2.2 asks for NOTAUTH
//!    with a TSIG record whose error is BADKEY; BIND and Knot do so,
//!    PowerDNS 4.7 answers NOTAUTH without any TSIG record. (The update
//!    probe adds its own evidence: Knot alone answers an unsigned update
//!    it refuses with NOTAUTH; see `commands::updates::observe`.)
//!
//! [`signed_read`] also tells whether the server knows *our* key: a read
//! signed with it gets a verified answer from a server that has the key
//! and the secret, whether or not it lets the key update anything.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use super::credentials::{KeyOrigin, Secret, TsigAlgorithm, TsigKey};
use super::memo::BoundedMemo;
use super::transport::{exchange, random_id, random_u64, Expect, Transport};
use super::tsig::{Signer, TsigError, TsigVerdict};
use super::DnsOptions;

/// DNS server software whose update behaviour kmsdns knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Software {
    /// ISC BIND 9: `update-policy` / `allow-update` in named.conf.
    Bind,
    /// Knot DNS: `acl` entries with `action: update` in knot.conf.
    Knot,
    /// PowerDNS Authoritative: TSIG-ALLOW-DNSUPDATE and ALLOW-DNSUPDATE-FROM
    /// zone metadata, or a Lua update policy.
    PowerDns,
    /// An Active Directory domain controller's DNS (Samba's internal DNS
    /// or Windows): secure updates only, a security descriptor per name.
    ActiveDirectory,
}

impl Software {
    /// The product's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Software::Bind => "BIND",
            Software::Knot => "Knot DNS",
            Software::PowerDns => "PowerDNS",
            Software::ActiveDirectory => "Active Directory DNS",
        }
    }

    /// The id used in JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Software::Bind => "bind",
            Software::Knot => "knot",
            Software::PowerDns => "powerdns",
            Software::ActiveDirectory => "active-directory",
        }
    }

    /// The software a `version.bind` string names, if it names one.
    pub fn from_version(version: &str) -> Option<Software> {
        let lower = version.trim().to_ascii_lowercase();
        if lower.starts_with("powerdns") || lower.contains("served by powerdns") {
            return Some(Software::PowerDns);
        }
        if lower.starts_with("knot dns") {
            return Some(Software::Knot);
        }
        // BIND answers with its bare version: 9.18.49-1~deb12u3-Debian,
        // 9.16.1-Ubuntu, 9.20.0; some builds prefix "BIND".
        let bare = lower.strip_prefix("bind").unwrap_or(&lower).trim_start();
        let mut parts = bare.split(['.', '-', ' ']);
        let major = parts.next().unwrap_or("");
        let minor = parts.next().unwrap_or("");
        if major == "9" && !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Software::Bind);
        }
        None
    }
}

impl fmt::Display for Software {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the software of a server was recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognition {
    /// Its `version.bind` names it.
    Version(String),
    /// Its answers: what gave it away.
    Behaviour(&'static str),
}

/// A server's software, when something told, and how.
pub type Identity = Option<(Software, Recognition)>;

/// How many servers' software a run remembers, those asked about last:
/// an estate's primaries are few, and what a server runs does not change
/// between windows.
pub const REMEMBERED_SERVERS: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// What is known of each server's software, for a whole run (every
/// window of it): `version.bind` and the signed-read fingerprint are asked
/// once per server address, not once per domain nor per window. BIND
/// rate-limits its CHAOS answers, and each dropped one cost a probe a
/// second. Probes of one server at once wait for the first one's answer
/// instead of asking too. At most [`REMEMBERED_SERVERS`] servers, the
/// least recently asked about forgotten first.
#[derive(Debug)]
pub struct Identities {
    known: BoundedMemo<SocketAddr, Identity>,
}

impl Default for Identities {
    fn default() -> Self {
        Identities {
            known: BoundedMemo::new(REMEMBERED_SERVERS),
        }
    }
}

impl Identities {
    /// What `server` tells of its software by `version.bind`, or by how it
    /// rejects a read of `zone` signed with a key it cannot know.
    pub async fn of(&self, server: SocketAddr, zone: &Name, opts: &DnsOptions) -> Identity {
        self.known
            .get_or_lookup(server, || identify(server, zone, opts))
            .await
    }
}

/// Asks `server` its `version.bind`, then, when that names no software,
/// tries the fingerprint.
async fn identify(server: SocketAddr, zone: &Name, opts: &DnsOptions) -> Identity {
    if let Some(version) = version_bind(server, opts).await {
        if let Some(software) = Software::from_version(&version) {
            return Some((software, Recognition::Version(version)));
        }
    }
    let software = fingerprint(server, zone, opts).await?;
    Some((
        software,
        Recognition::Behaviour(
            "it rejects a read signed with an unknown key without a TSIG record",
        ),
    ))
}

/// How long `version.bind` is waited for: it is optional, and BIND drops
/// CHAOS answers beyond its rate limit.
const VERSION_WAIT: Duration = Duration::from_secs(1);

/// The `version.bind CH TXT` string of `server`, if it gives one: asked
/// once, for at most a second (or `opts.timeout` when shorter).
pub async fn version_bind(server: SocketAddr, opts: &DnsOptions) -> Option<String> {
    let name = Name::from_ascii("version.bind.").ok()?;
    let mut question = Query::query(name, RecordType::TXT);
    question.set_query_class(DNSClass::CH);
    let mut message = Message::new();
    message
        .set_id(random_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false)
        .add_query(question.clone());
    let bytes = message.to_vec().ok()?;
    let expect = Expect {
        id: message.id(),
        op_code: OpCode::Query,
        question: &question,
    };
    let exchanged = exchange(
        Transport::Udp,
        server,
        &bytes,
        &expect,
        opts.timeout.min(VERSION_WAIT),
        1,
    )
    .await
    .ok()?;
    let reply = exchanged.message?;
    let text: String = reply
        .answers()
        .iter()
        .find_map(|record| match record.data() {
            RData::TXT(txt) => Some(
                txt.txt_data()
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect(),
            ),
            _ => None,
        })?;
    // Bounded: it is quoted in reports.
    Some(text.chars().take(80).collect())
}

/// What a read of the domain controllers' locator record says about a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integration {
    /// `_ldap._tcp.dc._msdcs.<zone>` SRV is served: an Active
    /// Directory-integrated zone (or one named like it).
    ActiveDirectory,
    /// The server answered authoritatively that there is no such record.
    Plain,
    /// The read failed (timeout, SERVFAIL, REFUSED…): nothing is known,
    /// and nothing may be assumed either way. Why, for messages.
    Unknown(String),
}

/// Whether `zone` on `server` is Active Directory-integrated: the domain
/// controllers' locator record `_ldap._tcp.dc._msdcs.<zone>` SRV, which
/// every AD DC registers (Samba's internal DNS and Windows alike), is
/// served. Such a zone takes only secure updates, is multi-master, and
/// keeps a directory object per name. A failed read is
/// [`Integration::Unknown`], never "not AD".
pub async fn active_directory(server: SocketAddr, zone: &Name, opts: &DnsOptions) -> Integration {
    let Ok(locator) = Name::from_ascii("_ldap._tcp.dc._msdcs").and_then(|n| n.append_domain(zone))
    else {
        return Integration::Unknown(format!("{zone} is too long for the locator name"));
    };
    match srv_presence(server, &locator, opts).await {
        Ok(true) => Integration::ActiveDirectory,
        Ok(false) => Integration::Plain,
        Err(why) => Integration::Unknown(format!("reading {locator} SRV: {why}")),
    }
}

/// Whether `server` answers SRV records at `name`: `Ok(false)` only for an
/// authoritative NXDOMAIN or NODATA, `Err` when the read failed.
pub(crate) async fn srv_presence(
    server: SocketAddr,
    name: &Name,
    opts: &DnsOptions,
) -> Result<bool, String> {
    let response = super::query(server, name, RecordType::SRV, opts)
        .await
        .map_err(|e| e.to_string())?;
    response.status().map_err(|e| e.to_string())?;
    Ok(response
        .answers()
        .iter()
        .any(|record| record.record_type() == RecordType::SRV))
}

/// Whether `server` answers SRV records at `name`; a failed read counts as
/// "no" (for wording a message only, never for a decision).
#[cfg(feature = "gssapi")]
pub(crate) async fn serves_srv(server: SocketAddr, name: &Name, opts: &DnsOptions) -> bool {
    srv_presence(server, name, opts).await.unwrap_or(false)
}

/// How a server answered a read of the zone's SOA signed with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedRead {
    /// An answer signed with the key that verifies: the server has the key
    /// and its secret.
    Verified,
    /// The server did not accept the signature.
    Rejected {
        /// The TSIG error it named (BADKEY, BADSIG, BADTIME), if any.
        tsig_error: Option<TsigError>,
        /// Whether the rejection carried a TSIG record at all (BIND and
        /// Knot do, as RFC 8945 asks; PowerDNS 4.7 does not).
        with_tsig: bool,
    },
    /// No usable answer, or one that proves nothing.
    Inconclusive(String),
}

/// Reads the SOA of `zone` from `server`, signed with `key`.
pub async fn signed_read(
    server: SocketAddr,
    zone: &Name,
    key: &TsigKey,
    opts: &DnsOptions,
) -> SignedRead {
    let mut zone = zone.clone();
    zone.set_fqdn(true);
    let question = Query::query(zone, RecordType::SOA);
    let mut message = Message::new();
    message
        .set_id(random_id())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false)
        .add_query(question.clone());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as u32;
    let verifier = match Signer::new(key).sign(&mut message, now) {
        Ok(verifier) => verifier,
        Err(reason) => return SignedRead::Inconclusive(reason),
    };
    let Ok(bytes) = message.to_vec() else {
        return SignedRead::Inconclusive("cannot encode the signed read".into());
    };
    let expect = Expect {
        id: message.id(),
        op_code: OpCode::Query,
        question: &question,
    };
    // Plain exchange: the first matching reply is judged here. This read
    // only chooses the wording of a verdict; nothing is changed by it.
    let exchanged = match exchange(
        Transport::Udp,
        server,
        &bytes,
        &expect,
        opts.timeout,
        opts.tries(),
    )
    .await
    {
        Ok(exchanged) => exchanged,
        Err(error) => return SignedRead::Inconclusive(format!("{error:?}")),
    };
    let Some(reply) = &exchanged.message else {
        return SignedRead::Inconclusive("a truncated reply".into());
    };
    match verifier.check(&exchanged.bytes, reply) {
        TsigVerdict::Verified => SignedRead::Verified,
        TsigVerdict::Rejected(tsig_error) => SignedRead::Rejected {
            tsig_error,
            with_tsig: true,
        },
        TsigVerdict::Unsigned
            if reply.response_code() == hickory_proto::op::ResponseCode::NotAuth =>
        {
            SignedRead::Rejected {
                tsig_error: None,
                with_tsig: false,
            }
        }
        TsigVerdict::Unsigned => {
            SignedRead::Inconclusive(format!("an unsigned {} reply", reply.response_code()))
        }
        TsigVerdict::Invalid(reason) => SignedRead::Inconclusive(reason),
    }
}

/// A key no server can know: a random name under `invalid.` and a random
/// secret, for [`fingerprint`].
pub fn throwaway_key() -> TsigKey {
    let nonce = random_u64();
    let name = Name::from_ascii(format!("kmsdns-probe-{nonce:016x}.invalid."))
        .unwrap_or_else(|_| Name::root());
    let mut secret = Vec::with_capacity(32);
    for _ in 0..4 {
        secret.extend_from_slice(&random_u64().to_be_bytes());
    }
    TsigKey {
        name,
        algorithm: TsigAlgorithm::HmacSha256,
        secret: Secret::new(secret),
        origin: KeyOrigin::Env("(a throwaway key)".into()),
    }
}

/// What `server`'s answer to a read signed with [`throwaway_key`] says about
/// its software: PowerDNS rejects it without a TSIG record; BIND and Knot
/// with one (their other differences show in the update probe).
pub async fn fingerprint(server: SocketAddr, zone: &Name, opts: &DnsOptions) -> Option<Software> {
    match signed_read(server, zone, &throwaway_key(), opts).await {
        SignedRead::Rejected {
            with_tsig: false, ..
        } => Some(Software::PowerDns),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_strings_name_their_software() {
        let cases = [
            ("9.18.49-1~deb12u3-Debian", Some(Software::Bind)),
            ("9.16.1-Ubuntu", Some(Software::Bind)),
            ("BIND 9.20.0", Some(Software::Bind)),
            ("Knot DNS 3.2.6", Some(Software::Knot)),
            (
                "PowerDNS Authoritative Server 4.7.3",
                Some(Software::PowerDns),
            ),
            (
                "Served by PowerDNS - https://www.powerdns.com/",
                Some(Software::PowerDns),
            ),
            ("kmsdns-testbed-0123456789abcdef-ns1", None),
            ("none of your business", None),
            ("9", None),
            ("", None),
        ];
        for (version, software) in cases {
            assert_eq!(Software::from_version(version), software, "{version:?}");
        }
    }

    #[test]
    fn a_throwaway_key_is_new_each_time_and_cannot_be_configured() {
        let (a, b) = (throwaway_key(), throwaway_key());
        assert_ne!(a.name, b.name);
        assert_ne!(a.secret, b.secret);
        assert!(a.name.to_ascii().ends_with(".invalid."));
    }

    /// `version.bind` and the fingerprint are asked of a server once per
    /// run: BIND rate-limits CHAOS answers, and a dropped one costs a
    /// second, so asking per zone made a live audit of 10,000 zones take
    /// minutes. The server here never answers; the second call sends
    /// nothing, and the memory holds at most its bound.
    #[tokio::test]
    async fn a_server_is_identified_once_per_run_and_the_memory_is_bounded() {
        let socket = || {
            let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            silent.set_nonblocking(true).expect("non-blocking");
            silent
        };
        let (first, second) = (socket(), socket());
        let opts = DnsOptions {
            timeout: std::time::Duration::from_millis(50),
            attempts: 1,
            ..DnsOptions::default()
        };
        let received = |silent: &std::net::UdpSocket| {
            let mut buffer = [0u8; 512];
            std::iter::from_fn(|| silent.recv(&mut buffer).ok()).count()
        };
        let address = |silent: &std::net::UdpSocket| silent.local_addr().expect("address");
        let identities = Identities {
            known: BoundedMemo::new(NonZeroUsize::MIN),
        };
        let zone = Name::from_ascii("one.example.").expect("name");
        assert_eq!(identities.of(address(&first), &zone, &opts).await, None);
        assert!(received(&first) > 0, "the first zone asks the server");
        let other = Name::from_ascii("two.example.").expect("name");
        assert_eq!(identities.of(address(&first), &other, &opts).await, None);
        assert_eq!(received(&first), 0, "the second zone asks nothing");
        // A second server, beyond the bound of one: the first is forgotten.
        assert_eq!(identities.of(address(&second), &zone, &opts).await, None);
        assert!(received(&second) > 0);
        assert_eq!(identities.known.len(), 1, "the bound holds");
        assert_eq!(identities.of(address(&second), &other, &opts).await, None);
        assert_eq!(received(&second), 0, "still a hit");
        assert_eq!(identities.of(address(&first), &zone, &opts).await, None);
        assert!(received(&first) > 0, "forgotten, so asked again");
    }
}
