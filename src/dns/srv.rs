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

impl SrvRecord {
    /// The record as a line of a zone file (RFC 1035 §5.1) without its
    /// newline: `<owner> <ttl> IN SRV <priority> <weight> <port> <target>`,
    /// as BIND's zone files, `nsupdate` and `dig` write it.
    pub fn presentation(&self, owner: &Name, ttl: u32) -> String {
        format!("{} {ttl} IN SRV {self}", owner.to_ascii())
    }
}

/// The RDATA in presentation format (RFC 2782): `<priority> <weight>
/// <port> <target>`, the target as an absolute ASCII name.
impl std::fmt::Display for SrvRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.priority,
            self.weight,
            self.port,
            self.target.to_ascii()
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_as_a_zone_file_line() {
        let record = SrvRecord {
            priority: 0,
            weight: 10,
            port: 1688,
            target: Name::from_ascii("kms1.corp.example.").unwrap(),
        };
        let owner = srv_owner(&Name::from_ascii("corp.example").unwrap());
        assert_eq!(record.to_string(), "0 10 1688 kms1.corp.example.");
        assert_eq!(
            record.presentation(&owner, 3600),
            "_vlmcs._tcp.corp.example. 3600 IN SRV 0 10 1688 kms1.corp.example."
        );
    }
}
