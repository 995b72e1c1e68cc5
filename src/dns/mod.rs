//! DNS I/O: the only place where kmsdns talks to DNS servers.
//!
//! - [`query`] asks one server one question (RFC 1035 §4.2: UDP, TCP when
//!   the reply is truncated) and returns a [`Response`] whose rcode cannot be
//!   ignored: REFUSED, SERVFAIL or a timeout are never "no records".
//! - [`Resolver`] answers like a client's stub resolver would (the system's
//!   `/etc/resolv.conf`, or one `--nameserver`).
//! - [`find_primary`] finds the zone that holds a name and where its
//!   updates go: the configured server, or the primary (RFC 2136 §4, from
//!   the SOA MNAME); [`authoritative_servers`] every server of its NS set.
//! - [`read_srv`] and [`read_serial`] read an SRV RRset and a SOA serial
//!   at one server, authoritatively; [`convergence`] compares every server
//!   of a zone with its primary, and waits until they agree.
//! - [`ttl`]: whether a server keeps a TTL per RRset or per record (AD).
//! - [`send_update`] sends one atomic RFC 2136 UPDATE guarded by a
//!   prerequisite on the SRV RRset as it was read, TSIG-signed (RFC 8945)
//!   when a key is given, and maps every failure to a variant of
//!   [`UpdateError`] that says what the administrator has to fix;
//!   [`send_update_message`] sends an UPDATE its caller built the same way.
//!
//! Everything here is async on tokio and bounded by [`DnsOptions`]: no
//! exchange waits longer than `timeout` per attempt, `attempts` times.
//! Replies are untrusted input: they are checked against the request (ID,
//! opcode, question) and parsed without panics.

// Errors carry hickory `Name`s (about 80 bytes each) as context, so some
// are large; they occur at network speed, where their size does not matter.
#![allow(clippy::result_large_err)]

pub mod convergence;
pub mod credentials;
pub mod dnssec;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "gssapi")]
pub mod gss;
#[cfg(feature = "gssapi")]
mod gss_keytab;
pub mod identify;
pub mod lookup;
mod memo;
pub mod name;
mod query;
mod resolver;
pub mod search_list;
pub mod serial;
pub mod srv;
pub mod trace;
mod transport;
mod tsig;
pub mod ttl;
mod update;
mod zone;

use std::time::Duration;

pub use credentials::{GssAuth, GssMechanism, KeyOrigin, Secret, TsigAlgorithm, TsigKey};
pub use query::{
    query, query_dnssec, query_recursive, query_with, DnssecBits, ExtendedError, QueryError,
    Recursion, ReplyError, Response,
};
pub use resolver::{
    parse_nameserver, Addresses, Answer, AnswerStatus, LookupError, NameserverError, Resolver,
    ResolverSetupError,
};
pub use srv::{
    distinct_ttls, read_srv, record_key, srv_owner, ReadError, ReadFailure, SrvAnswer, SrvRecord,
    SrvRrset,
};
#[cfg(test)]
pub(crate) use transport::asks_again;
pub(crate) use transport::random_u64;
pub use transport::{asking_again, SocketPool, Transport};
pub use tsig::TsigError;
pub use ttl::TtlScope;
/// For the `updates` probe signed with GSS-TSIG, which exchanges through
/// [`gss`] and judges the reply as [`send_update_message`] does.
#[cfg(feature = "gssapi")]
pub(crate) use update::judge;
pub use update::{
    build_update, build_zone_update, send_update, send_update_message, send_zone_update, Expected,
    PrerequisiteRcode, UpdateError, UpdateRequest, UpdateResponse,
};
pub use zone::{
    authoritative_servers, find_primary, find_zone, find_zone_at, find_zone_soa, read_serial,
    server_address, DiscoveryError, NameServer, SerialError, ServerSpec, ZoneInfo, ZoneSoa,
};

/// The standard DNS port, used for authoritative servers unless
/// `--dns-port` says otherwise.
pub const DEFAULT_DNS_PORT: u16 = 53;

/// How long and how often kmsdns waits for DNS servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsOptions {
    /// How long to wait for one reply (one UDP attempt, or one TCP connect
    /// and exchange).
    pub timeout: Duration,
    /// How many times a request is sent before giving up on a silent
    /// server (at least 1). The worst case for one exchange is
    /// `attempts × timeout`, doubled when a truncated reply sends it to TCP.
    pub attempts: u32,
    /// The port of every authoritative server contacted (SOA MNAME, NS
    /// targets): 53 in production, a high port for the test bed.
    pub dns_port: u16,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            timeout: Duration::from_secs(2),
            attempts: 3,
            dns_port: DEFAULT_DNS_PORT,
        }
    }
}

impl DnsOptions {
    /// `attempts`, never less than one.
    pub(crate) fn tries(&self) -> u32 {
        self.attempts.max(1)
    }
}
