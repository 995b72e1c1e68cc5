//! Whose TTL a server keeps, and the `ttl-mixed` finding about an RRset
//! whose records disagree.
//!
//! RFC 2181 §5.2 gives an RRset one TTL, and RFC 2136 §3.4.2.2 has an
//! UPDATE that adds a record with another TTL set the whole RRset's: so do
//! BIND, Knot (on a delete and re-add) and PowerDNS. Active Directory
//! keeps a TTL per record (one directory value each): an add changes the
//! TTL of the record added only, and other hosts' records keep theirs.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use hickory_proto::rr::Name;
use serde::Serialize;

use super::identify::{self, Integration};
use super::srv::SrvRecord;
use super::DnsOptions;
use crate::report::{Finding, FindingId, Severity};

/// What a server keeps a TTL for: what an add with another TTL changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TtlScope {
    /// The whole RRset (RFC 2136 §3.4.2.2: BIND, Knot, PowerDNS): an add
    /// with another TTL gives every record of the RRset that TTL, other
    /// hosts' records too.
    Rrset,
    /// Each record (Active Directory-integrated zones): an add changes
    /// only the record added.
    Record,
    /// Not known (whether the zone is AD-integrated could not be read):
    /// either may happen.
    Unknown,
}

impl TtlScope {
    /// The scope in words, for `-v` and findings.
    pub fn describe(self) -> &'static str {
        match self {
            TtlScope::Rrset => "the TTL belongs to the whole RRset (RFC 2136 §3.4.2.2)",
            TtlScope::Record => {
                "each record keeps a TTL of its own (an Active Directory-integrated zone)"
            }
            TtlScope::Unknown => {
                "whether the TTL belongs to the whole RRset or to each record (Active Directory) is not known"
            }
        }
    }
}

/// What `server` keeps a TTL for in `zone`: each record where the zone is
/// Active Directory-integrated (its DC locator record is served), the
/// RRset where it is not, unknown when that read fails.
pub async fn ttl_scope(server: SocketAddr, zone: &Name, opts: &DnsOptions) -> TtlScope {
    match identify::active_directory(server, zone, opts).await {
        Integration::ActiveDirectory => TtlScope::Record,
        Integration::Plain => TtlScope::Rrset,
        Integration::Unknown(_) => TtlScope::Unknown,
    }
}

/// `ttl-mixed` for the RRset `owner` whose `records` carry the TTLs
/// `ttls` (in the same order), not all the same: info where TTLs are per
/// record, where it is normal; a warning elsewhere, where it can only be
/// a change caught midway or a server that does not conform.
/// `configured`: the TTL `publish --set-ttl` would give, for the hint;
/// `None` when it would have nothing to do.
pub fn mixed_finding(
    owner: &str,
    records: &[SrvRecord],
    ttls: &[u32],
    scope: TtlScope,
    configured: Option<u32>,
) -> Finding {
    let mut by_ttl: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (record, ttl) in records.iter().zip(ttls) {
        by_ttl
            .entry(*ttl)
            .or_default()
            .push(record.target.to_ascii());
    }
    let carried: Vec<String> = by_ttl
        .iter()
        .map(|(ttl, targets)| format!("{ttl} s: {}", targets.join(" ")))
        .collect();
    let carried = carried.join("; ");
    let one_ttl = "one RRset has one TTL (RFC 2181 §5.2) and an update that adds a record sets the whole RRset's (RFC 2136 §3.4.2.2, as BIND does), so this is a change caught midway or a server that does not conform; caches may keep some records longer than others";
    let (severity, why) = match scope {
        TtlScope::Record => (
            Severity::Info,
            "normal in an Active Directory-integrated zone, which keeps a TTL per record".to_string(),
        ),
        TtlScope::Rrset => (Severity::Warning, one_ttl.to_string()),
        TtlScope::Unknown => (
            Severity::Warning,
            format!("normal if the zone is Active Directory-integrated (a TTL per record), which could not be read; elsewhere {one_ttl}"),
        ),
    };
    let finding = Finding::new(
        FindingId::TtlMixed,
        severity,
        format!("the records of {owner} carry different TTLs ({carried}): {why}"),
    );
    match (scope, configured) {
        (TtlScope::Record, Some(ttl)) => finding.hint(format!(
            "kmsdns publish --set-ttl gives our records the configured {ttl} s; other hosts' records keep theirs"
        )),
        (_, Some(ttl)) => finding.hint(format!(
            "kmsdns publish --set-ttl gives every record the configured {ttl} s"
        )),
        (_, None) => finding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(target: &str) -> SrvRecord {
        SrvRecord {
            priority: 0,
            weight: 0,
            port: 1688,
            target: Name::from_ascii(target).unwrap(),
        }
    }

    #[test]
    fn mixed_ttls_are_named_with_their_records_and_judged_by_scope() {
        let records = [srv("kms1.a."), srv("other.a."), srv("kms2.a.")];
        let ttls = [300, 3600, 300];
        let on_ad = mixed_finding("_vlmcs._tcp.a.", &records, &ttls, TtlScope::Record, None);
        assert_eq!(on_ad.id, FindingId::TtlMixed);
        assert_eq!(on_ad.severity, Severity::Info);
        assert!(
            on_ad
                .message
                .contains("(300 s: kms1.a. kms2.a.; 3600 s: other.a.)"),
            "{}",
            on_ad.message
        );
        assert!(on_ad.message.contains("Active Directory"));
        for scope in [TtlScope::Rrset, TtlScope::Unknown] {
            let finding = mixed_finding("_vlmcs._tcp.a.", &records, &ttls, scope, Some(600));
            assert_eq!(finding.severity, Severity::Warning, "{scope:?}");
            assert!(
                finding.message.contains("caught midway"),
                "{}",
                finding.message
            );
        }
    }
}
