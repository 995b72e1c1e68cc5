//! The `_vlmcs._tcp` SRV records (RFC 2782) that KMS clients look up: the
//! owner name, one record, and an RRset as read.

use hickory_proto::rr::Name;

/// One `_vlmcs._tcp` SRV record: what the configuration wants, or what a
/// server serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: Name,
}

/// `_vlmcs._tcp.<domain>`.
pub fn srv_owner(domain: &Name) -> Name {
    let mut owner = Name::from_ascii("_vlmcs._tcp")
        .and_then(|prefix| prefix.append_domain(domain))
        .unwrap_or_else(|_| domain.clone());
    owner.set_fqdn(true);
    owner
}

/// A `_vlmcs._tcp` RRset as read from a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SrvRrset {
    /// TTL of the RRset; `None` when it does not exist.
    pub ttl: Option<u32>,
    pub records: Vec<SrvRecord>,
}
