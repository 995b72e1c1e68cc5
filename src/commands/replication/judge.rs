//! The findings of `replication` for one zone: every authoritative server
//! against the primary.
//!
//! - The comparison itself (reference, states, RRset differences) is
//!   [`crate::dns::convergence`]'s, shared with `publish --wait-replication`.
//! - Serials are compared with RFC 1982 serial arithmetic
//!   ([`crate::dns::serial`]): a secondary transfers the zone only when the
//!   primary's serial is *newer* than its own, so one that is ahead (or
//!   exactly 2^31 away) never catches up by itself.
//! - The SOA timers (RFC 1035 §3.3.13, RFC 1996 for NOTIFY) say what a lag
//!   means: a secondary normally follows a NOTIFY within seconds, asks the
//!   primary every `refresh` at the latest, and stops answering for the
//!   zone once it has not refreshed for `expire`. One read cannot tell how
//!   long a server has been behind; polls (`--wait`) can, from the first
//!   poll that saw it behind.
//! - Records compare with their TTLs: an authoritative answer carries the
//!   zone's TTL, which a transfer (or AD replication) carries too, so a
//!   server with another TTL has not caught up with a TTL change, or was
//!   changed without a new serial.
//! - Clients' resolvers pick any server of the NS set, so a server that is
//!   unreachable or lame is a warning while another answers for the zone,
//!   and critical when none does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::config::srv_owner;
use crate::dns::convergence::{self, Comparison, MultiMaster};
pub use crate::dns::convergence::{
    OwnerComparison, OwnerRead, ServerComparison as ServerVerdict, ServerObservation, ServerRead,
    ServerState, SoaTimers, TtlDifference, ZoneObservation,
};
use crate::dns::{serial, TtlScope};
use crate::report::{attribute_to_domains, Finding, FindingId, Severity};
use hickory_proto::rr::Name;

/// The verdict on a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneVerdict {
    /// Index in `servers` of the server compared with, if any answered.
    pub reference: Option<usize>,
    /// One per observed server, in the same order.
    pub servers: Vec<ServerVerdict>,
    /// Every server serves the reference's serial and RRsets.
    pub converged: bool,
    /// Each finding with what it is about, and so whose it is.
    pub findings: Vec<(About, Finding)>,
}

/// What a finding on a zone is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// The zone (a server behind, down or lame; its primary; all its
    /// RRsets replicated): a fact of every domain checked in it.
    Zone,
    /// One `_vlmcs._tcp` RRset, by its owner (records that differ, or a
    /// read that failed, at one server): a fact of the domain that owns
    /// it alone. A read that failed for one domain's records says nothing
    /// of another's.
    Rrset(Name),
}

/// The findings on a zone as facts of its domains (`names`, the text of
/// `domains`): one about the zone of every domain checked in it
/// ([`attribute_to_domains`]), one about an RRset of the domain that owns
/// it alone. `publish --wait-replication` attributes its findings so too.
pub(crate) fn attribute(
    findings: Vec<(About, Finding)>,
    apex: &str,
    domains: &[Name],
    names: &[String],
) -> Vec<Finding> {
    // Each owner's domain, once an RRset's finding needs it.
    let mut owners: Option<HashMap<Name, &String>> = None;
    let mut attributed = Vec::with_capacity(findings.len());
    for (about, finding) in findings {
        match about {
            About::Zone => attributed.extend(attribute_to_domains(vec![finding], apex, names)),
            About::Rrset(owner) => {
                let owners = owners
                    .get_or_insert_with(|| domains.iter().map(srv_owner).zip(names).collect());
                // Every owner read is one of `domains`'.
                let domain = owners
                    .get(&owner)
                    .map_or_else(|| owner.to_ascii(), |d| d.to_string());
                attributed.push(finding.domain(domain));
            }
        }
    }
    attributed
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// Compares every server of the zone with the reference
/// ([`convergence::compare`]) and says what each difference means.
pub fn evaluate(zone: &ZoneObservation) -> ZoneVerdict {
    let comparison = convergence::compare(zone);
    let mut findings: Vec<(About, Finding)> = reference_finding(zone, comparison.reference)
        .map(|finding| (About::Zone, finding))
        .into_iter()
        .collect();
    for index in 0..zone.servers.len() {
        findings.extend(server_findings(zone, &comparison, index));
    }
    if comparison.converged {
        findings.push((About::Zone, replicated(zone, comparison.reference, None)));
    } else {
        // Only some RRsets keep the zone from converging: every other
        // domain's are replicated, and say so (each domain its verdict).
        for owner in comparison.settled(zone) {
            let finding = replicated(zone, comparison.reference, Some(owner));
            findings.push((About::Rrset(owner.clone()), finding));
        }
    }
    ZoneVerdict {
        reference: comparison.reference,
        servers: comparison.servers,
        converged: comparison.converged,
        findings,
    }
}

/// Why the servers are compared with another server than the primary.
fn reference_finding(zone: &ZoneObservation, reference: Option<usize>) -> Option<Finding> {
    let index = reference.filter(|i| !zone.servers[*i].primary)?;
    let primary = zone.servers.iter().find(|s| s.primary);
    let why = match primary.map(|p| &p.read) {
        None => "it is not among the servers found".to_string(),
        Some(ServerRead::NoAddress) => "it has no A or AAAA record".to_string(),
        Some(
            ServerRead::AddressUnknown(e)
            | ServerRead::Timeout(e)
            | ServerRead::Refused(e)
            | ServerRead::Unreachable(e)
            | ServerRead::Lame(e),
        ) => e.clone(),
        Some(ServerRead::Answered { .. }) => String::new(),
    };
    let hidden = primary.is_none_or(|p| !p.in_ns_set);
    Some(
        Finding::new(
            FindingId::DnsReadFailed,
            if hidden { Severity::Info } else { Severity::Warning },
            format!(
                "the primary {} could not be read ({why}); the servers are compared with the newest serial found, at {}",
                zone.mname,
                zone.servers[index].label()
            ),
        )
        .domain(zone.zone.to_ascii()),
    )
}

/// `replicated`: every server serves the reference's RRsets, or the
/// RRset of `owner`.
fn replicated(zone: &ZoneObservation, reference: Option<usize>, owner: Option<&Name>) -> Finding {
    let addresses = zone.servers.len();
    let names: BTreeSet<String> = zone
        .servers
        .iter()
        .map(|s| s.name.to_lowercase().to_ascii())
        .collect();
    let serial = reference
        .and_then(|i| zone.servers[i].answered())
        .map(|(serial, _)| serial)
        .unwrap_or_default();
    let records = owner.map_or_else(|| "_vlmcs._tcp".to_string(), Name::to_string);
    let what = match &zone.multi_master {
        MultiMaster::Yes => format!("the same {records} records and TTLs (a multi-master zone: every server a primary with its own serial, so serials are not compared)"),
        MultiMaster::Unknown(_) => format!("the same {records} records and TTLs (serials not compared: whether the zone is multi-master is unknown)"),
        MultiMaster::No => format!("serial {serial} and the same {records} records and TTLs"),
    };
    Finding::new(
        FindingId::Replicated,
        Severity::Ok,
        format!(
            "all {} server(s) ({addresses} address(es)) serve {what}",
            names.len()
        ),
    )
    .domain(zone.zone.to_ascii())
}

/// The findings on the server at `index`.
fn server_findings(
    zone: &ZoneObservation,
    comparison: &Comparison,
    index: usize,
) -> Vec<(About, Finding)> {
    let server = &zone.servers[index];
    let mut findings = Vec::new();
    // A hidden primary (not in the NS set) is often unreachable from
    // anywhere but its secondaries: no client asks it, so failing to
    // read it is no finding of its own (the reference finding says it).
    // Once it answered and is the reference, an RRset it could not give
    // still keeps the zone from converging, and is said below.
    let reference = server.answered().is_some() && comparison.reference == Some(index);
    if server.hidden_primary() && !reference {
        return findings;
    }
    let name = zone.zone.to_ascii();
    let mut finding = |about, id, severity, message: String, hint: &str| {
        let mut finding = Finding::new(id, severity, message).domain(&name).hint(hint);
        if let Some(address) = server.address {
            finding = finding.server(address);
        }
        findings.push((about, finding));
    };
    let down_severity = || {
        let others = zone
            .servers
            .iter()
            .any(|s| !std::ptr::eq(s, server) && s.answered().is_some());
        if others {
            Severity::Warning
        } else {
            Severity::Critical
        }
    };
    match &server.read {
        ServerRead::NoAddress => finding(
            About::Zone,
            FindingId::ServerLame,
            down_severity(),
            format!("name server {} has no A or AAAA record: nobody can ask it (lame delegation)", server.name),
            "add its address, or remove it from the zone's NS records (and the parent's delegation)",
        ),
        ServerRead::AddressUnknown(error) => finding(
            About::Zone,
            FindingId::DnsReadFailed,
            Severity::Critical,
            format!("the addresses of name server {} could not be read: {error}", server.name),
            "a failed read says nothing about the server: fix the resolver or the path to it",
        ),
        ServerRead::Timeout(error) => finding(
            About::Zone,
            FindingId::ServerUnreachable,
            down_severity(),
            format!("{} does not answer (timed out): {error}", server.label()),
            "check that named runs there and that the DNS port is open to this host",
        ),
        ServerRead::Refused(error) => finding(
            About::Zone,
            FindingId::ServerUnreachable,
            down_severity(),
            format!(
                "{} refuses the connection (nothing listens on the DNS port): {error}",
                server.label()
            ),
            "check that named runs there and listens on this address and port",
        ),
        ServerRead::Unreachable(error) => finding(
            About::Zone,
            FindingId::ServerUnreachable,
            down_severity(),
            format!("{} is unreachable: {error}", server.label()),
            "check the route and firewalls between this host and the server",
        ),
        ServerRead::Lame(error) => finding(
            About::Zone,
            FindingId::ServerLame,
            down_severity(),
            format!("{} is listed for {name} but does not serve it: {error}", server.label()),
            "configure the zone on this server (as a secondary of the primary), or remove it from the NS records",
        ),
        ServerRead::Answered { serial, .. } => {
            let reference_index = comparison.reference.unwrap_or(index);
            let verdict = &comparison.servers[index];
            if index == reference_index {
                // Only an RRset it could not give: the zone has not
                // converged then, and without this its domains had no
                // verdict at all, neither `replicated` nor why not
                // (`publish --wait-replication` says it too).
                for rrset in verdict.rrsets.iter().filter(|r| r.error.is_some()) {
                    rrset_finding(&mut finding, server, rrset, "", UNREAD_HINT);
                }
                return findings;
            }
            let reference = &zone.servers[reference_index];
            let reference_serial = reference.answered().map_or(*serial, |(s, _)| s);
            let reference_label = reference.label();
            match verdict.state {
                ServerState::Behind => {
                    let by = verdict.behind.unwrap_or_default();
                    let (severity, message) =
                        lag(server, by, *serial, reference_serial, &reference_label, zone);
                    finding(
                        About::Zone,
                        FindingId::SerialBehind,
                        severity,
                        message,
                        "check NOTIFY (also-notify, notify-source) and zone transfers (allow-transfer) from the primary to this server; `rndc refresh ZONE` there asks at once",
                    );
                }
                ServerState::Ahead => {
                    let how = if serial::compare(*serial, reference_serial).is_none() {
                        "exactly 2^31 away from".to_string()
                    } else {
                        format!(
                            "ahead of ({} increments)",
                            serial.wrapping_sub(reference_serial)
                        )
                    };
                    finding(
                        About::Zone,
                        FindingId::SerialAhead,
                        Severity::Critical,
                        format!(
                            "{} serves serial {serial}, {how} the serial {reference_serial} of {reference_label}: RFC 1982 never makes the primary's serial newer, so it will not transfer the zone again",
                            server.label()
                        ),
                        "raise the primary's serial past this one (RFC 1982 §7 explains how to step across), or reload the zone on this server from scratch",
                    );
                }
                _ => {}
            }
            let hint = catch_up_hint(&zone.multi_master, verdict.state);
            for rrset in &verdict.rrsets {
                rrset_finding(&mut finding, server, rrset, &reference_label, hint);
            }
            findings.extend(mixed_ttls(zone, server));
        }
    }
    findings
}

/// The hint of an RRset that could not be read (`publish
/// --wait-replication` gives it too).
pub(crate) const UNREAD_HINT: &str =
    "a failed read says nothing about the records: fix the server, then check again";

/// How a server that serves other records or TTLs catches up: by AD
/// replication between the DCs of a multi-master zone, by zone transfer
/// elsewhere; with the primary's serial, by no transfer at all (the zone
/// changed without a new serial). `publish --wait-replication` says it
/// too.
pub(crate) fn catch_up_hint(multi_master: &MultiMaster, state: ServerState) -> &'static str {
    match (multi_master, state) {
        (MultiMaster::Yes, _) => "the domain controllers replicate the zone among themselves (AD replication), not by zone transfer: --wait waits for it; `samba-tool drs replicate` or `repadmin /syncall` starts it at once",
        (MultiMaster::No, ServerState::Differs) => "the same serial with other contents: the zone was changed without raising its serial (on the primary, or on this server), so no transfer brings the change; raise the primary's serial, or `rndc retransfer ZONE` on this server",
        _ => "the server has not transferred the latest zone: see its serial, NOTIFY and zone transfers",
    }
}

/// `ttl-mixed` for each RRset whose records carry different TTLs at
/// `server`, one compared with the reference (whose answer `check` and
/// `plan` judge): normal where every server is a primary (Active
/// Directory keeps a TTL per record), a warning elsewhere.
fn mixed_ttls(zone: &ZoneObservation, server: &ServerObservation) -> Vec<(About, Finding)> {
    let scope = match zone.multi_master {
        MultiMaster::Yes => TtlScope::Record,
        MultiMaster::No => TtlScope::Rrset,
        MultiMaster::Unknown(_) => TtlScope::Unknown,
    };
    let Some((_, rrsets)) = server.answered() else {
        return Vec::new();
    };
    rrsets
        .iter()
        .filter_map(|read| {
            let rrset = read.mixed.as_ref()?;
            let owner = format!("{} at {}", read.owner, server.label());
            let finding = crate::dns::ttl::mixed_finding(
                &owner,
                &rrset.records,
                &rrset.record_ttls,
                scope,
                None,
            )
            .domain(zone.zone.to_ascii());
            let finding = match server.address {
                Some(address) => finding.server(address),
                None => finding,
            };
            Some((About::Rrset(read.owner.clone()), finding))
        })
        .collect()
}

/// `serial-behind`: by how much, and what the SOA timers make of it.
fn lag(
    server: &ServerObservation,
    by: u32,
    serial: u32,
    reference_serial: u32,
    reference: &str,
    zone: &ZoneObservation,
) -> (Severity, String) {
    let SoaTimers {
        refresh, expire, ..
    } = zone.timers;
    let head = format!(
        "{} serves serial {serial}, {reference} has {reference_serial}: behind by {by}",
        server.label()
    );
    let refresh_d = Duration::from_secs(refresh.into());
    let expire_d = Duration::from_secs(expire.into());
    match server.behind_for.filter(|d| !d.is_zero()) {
        Some(d) if d >= expire_d => (
            Severity::Critical,
            format!(
                "{head}; behind for at least {}, longer than expire ({expire} s): it has stopped refreshing and will stop answering for the zone",
                seconds(d)
            ),
        ),
        Some(d) if d >= refresh_d => (
            Severity::Warning,
            format!(
                "{head}; still behind after {}, longer than the zone's refresh ({refresh} s): neither NOTIFY nor its own refresh brought it up to date, and once it cannot refresh for expire ({expire} s) it stops answering for the zone",
                seconds(d)
            ),
        ),
        Some(d) => (
            Severity::Warning,
            format!(
                "{head}; still behind after {} of polling: NOTIFY normally brings a secondary up to date within seconds; without it, it catches up at its next refresh (every {refresh} s), and one that cannot refresh for expire ({expire} s) stops answering for the zone",
                seconds(d)
            ),
        ),
        None => (
            Severity::Warning,
            format!(
                "{head}; one read cannot tell for how long (--wait polls): NOTIFY normally brings a secondary up to date within seconds; without it, it catches up at its next refresh (every {refresh} s), and one that cannot refresh for expire ({expire} s) stops answering for the zone"
            ),
        ),
    }
}

/// `rrset-differs` (or `dns-read-failed`) for one owner on one server:
/// records missing or extra, and records served with another TTL.
fn rrset_finding(
    finding: &mut impl FnMut(About, FindingId, Severity, String, &str),
    server: &ServerObservation,
    comparison: &OwnerComparison,
    reference: &str,
    hint: &str,
) {
    let owner = &comparison.owner;
    let about = About::Rrset(owner.clone());
    if let Some(error) = &comparison.error {
        finding(
            about,
            FindingId::DnsReadFailed,
            Severity::Critical,
            format!("{owner} SRV at {} is unknown: {error}", server.label()),
            UNREAD_HINT,
        );
        return;
    }
    if !comparison.differs() {
        return;
    }
    let mut parts = Vec::new();
    if !comparison.missing.is_empty() {
        parts.push(format!("missing {}", comparison.missing.join(", ")));
    }
    if !comparison.extra.is_empty() {
        parts.push(format!("extra {}", comparison.extra.join(", ")));
    }
    parts.extend(ttl_parts(&comparison.ttl_differs, reference));
    // Clients sent to a server without any record get "no records" there
    // (0x8007232B / 0x8007251D); other differences still lead somewhere.
    let severity = if comparison.records.is_empty() {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let message = if comparison.records_differ() {
        format!(
            "{} serves other {owner} records than {reference}: {}",
            server.label(),
            parts.join("; ")
        )
    } else {
        format!(
            "{} serves the {owner} records with {}",
            server.label(),
            parts.join("; ")
        )
    };
    finding(about, FindingId::RrsetDiffers, severity, message, hint);
}

/// `TTL 3600 where <reference> has 600: <records>`, one part per pair of
/// TTLs (on AD each record has its own); `publish --wait-replication`
/// says it too.
pub(crate) fn ttl_parts(differences: &[TtlDifference], reference: &str) -> Vec<String> {
    let mut by_ttls: BTreeMap<(u32, u32), Vec<&str>> = BTreeMap::new();
    for difference in differences {
        by_ttls
            .entry((difference.ttl, difference.reference_ttl))
            .or_default()
            .push(&difference.record);
    }
    by_ttls
        .into_iter()
        .map(|((ttl, reference_ttl), records)| {
            format!(
                "TTL {ttl} where {reference} has {reference_ttl}: {}",
                records.join(", ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::convergence::tests::zone;
    use hickory_proto::rr::Name;
    use std::net::SocketAddr;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    const OWNER: &str = "_vlmcs._tcp.corp.example.";

    fn answered(serial: u32, records: &[&str]) -> ServerRead {
        ServerRead::Answered {
            serial,
            rrsets: vec![OwnerRead {
                owner: name(OWNER),
                result: Ok(records.iter().map(|r| (r.to_string(), 3600)).collect()),
                mixed: None,
            }],
        }
    }

    fn server(n: u8, read: ServerRead) -> ServerObservation {
        ServerObservation {
            name: name(&format!("ns{n}.corp.example.")),
            address: Some(SocketAddr::from(([192, 0, 2, n], 53))),
            primary: n == 1,
            in_ns_set: true,
            read,
            behind_for: None,
        }
    }

    const KMS1: &str = "0 0 1688 kms1.corp.example.";
    const KMS2: &str = "0 0 1688 kms2.corp.example.";

    fn ids(verdict: &ZoneVerdict) -> Vec<(String, Severity)> {
        verdict
            .findings
            .iter()
            .map(|(_, f)| (f.id.to_string(), f.severity))
            .collect()
    }

    #[test]
    fn in_sync_servers_converge() {
        let verdict = evaluate(&zone(vec![
            server(1, answered(7, &[KMS1, KMS2])),
            server(2, answered(7, &[KMS2, KMS1])),
        ]));
        assert!(verdict.converged);
        assert_eq!(ids(&verdict), [("replicated".to_string(), Severity::Ok)]);
        assert_eq!(verdict.servers[0].state, ServerState::Reference);
        assert_eq!(verdict.servers[1].state, ServerState::InSync);
    }

    /// The primary gave its serial but not an RRset (its reply lost): the
    /// zone has not converged, and the finding says why, naming the owner
    /// and the server, or the zone's domains would get no verdict at all.
    #[test]
    fn an_rrset_the_reference_could_not_give_is_a_read_failure() {
        for hidden in [false, true] {
            the_reference_could_not_give_an_rrset(hidden);
        }
    }

    /// As above, with the primary in the NS set or hidden (not in it).
    fn the_reference_could_not_give_an_rrset(hidden: bool) {
        let mut read = answered(7, &[KMS1]);
        if let ServerRead::Answered { rrsets, .. } = &mut read {
            rrsets[0].result = Err("no reply after 3 attempt(s)".to_string());
        }
        let mut primary = server(1, read);
        primary.in_ns_set = !hidden;
        let verdict = evaluate(&zone(vec![primary, server(2, answered(7, &[KMS1]))]));
        assert!(!verdict.converged);
        assert_eq!(
            ids(&verdict),
            [("dns-read-failed".to_string(), Severity::Critical)]
        );
        let (about, failed) = &verdict.findings[0];
        assert_eq!(*about, About::Rrset(name(OWNER)));
        assert_eq!(failed.subject.server.as_deref(), Some("192.0.2.1:53"));
        assert!(
            failed.message.contains(OWNER) && failed.message.contains("no reply after 3"),
            "{}",
            failed.message
        );
    }

    /// `read` with a second RRset, of `_vlmcs._tcp.emea.corp.example.`.
    fn with_emea(mut read: ServerRead, result: Result<&[&str], &str>) -> ServerRead {
        if let ServerRead::Answered { rrsets, .. } = &mut read {
            rrsets.push(OwnerRead {
                owner: name(EMEA),
                result: result
                    .map(|records| records.iter().map(|r| (r.to_string(), 3600)).collect())
                    .map_err(str::to_string),
                mixed: None,
            });
        }
        read
    }

    const EMEA: &str = "_vlmcs._tcp.emea.corp.example.";

    fn about(verdict: &ZoneVerdict) -> Vec<(About, String)> {
        verdict
            .findings
            .iter()
            .map(|(about, f)| (about.clone(), f.id.to_string()))
            .collect()
    }

    /// What concerns one RRset is about its owner alone: an RRset the
    /// reference could not give, or another server serves otherwise, holds
    /// back that domain, and every other domain of the zone is replicated.
    /// A server behind is the zone's.
    #[test]
    fn an_rrset_s_findings_are_its_owner_s_and_the_others_are_replicated() {
        let failed = with_emea(answered(7, &[KMS1]), Err("no reply after 3 attempt(s)"));
        let secondary = with_emea(answered(7, &[KMS1]), Ok(&[KMS1]));
        let verdict = evaluate(&zone(vec![server(1, failed), server(2, secondary.clone())]));
        assert!(!verdict.converged);
        let corp = || About::Rrset(name(OWNER));
        let emea = || About::Rrset(name(EMEA));
        assert_eq!(
            about(&verdict),
            [
                (emea(), "dns-read-failed".to_string()),
                (corp(), "replicated".to_string())
            ]
        );
        let replicated = &verdict.findings[1].1;
        assert!(
            replicated
                .message
                .contains(&format!("the same {OWNER} records")),
            "{}",
            replicated.message
        );
        // ns2 lacks emea's record at the primary's serial.
        let primary = with_emea(answered(7, &[KMS1]), Ok(&[KMS1]));
        let lacking = with_emea(answered(7, &[KMS1]), Ok(&[]));
        let verdict = evaluate(&zone(vec![server(1, primary.clone()), server(2, lacking)]));
        assert_eq!(
            about(&verdict),
            [
                (emea(), "rrset-differs".to_string()),
                (corp(), "replicated".to_string())
            ]
        );
        // Behind, it is the zone's: no domain is replicated.
        let behind = with_emea(answered(6, &[KMS1]), Ok(&[]));
        let verdict = evaluate(&zone(vec![server(1, primary), server(2, behind)]));
        assert_eq!(
            about(&verdict),
            [
                (About::Zone, "serial-behind".to_string()),
                (emea(), "rrset-differs".to_string())
            ]
        );
        // All in sync: one `replicated`, the zone's.
        let verdict = evaluate(&zone(vec![
            server(1, secondary.clone()),
            server(2, secondary),
        ]));
        assert_eq!(about(&verdict), [(About::Zone, "replicated".to_string())]);
    }

    /// Each server answers kms1 at 600 and kms2 at 3600; ns2 is compared
    /// with ns1 (the reference, whose answer check and plan judge).
    #[test]
    fn mixed_ttls_at_a_compared_server_are_ttl_mixed_by_the_zone_s_kind() {
        let mixed = || {
            let mut read = answered(7, &[KMS1, KMS2]);
            if let ServerRead::Answered { rrsets, .. } = &mut read {
                rrsets[0].mixed = Some(crate::dns::SrvRrset::served(vec![
                    (srv(KMS1), 600),
                    (srv(KMS2), 3600),
                ]));
            }
            read
        };
        for (multi_master, severity) in [
            (MultiMaster::Yes, Severity::Info),
            (MultiMaster::No, Severity::Warning),
            (MultiMaster::Unknown("timed out".into()), Severity::Warning),
        ] {
            let mut observed = zone(vec![server(1, mixed()), server(2, mixed())]);
            observed.multi_master = multi_master;
            let verdict = evaluate(&observed);
            let found: Vec<&Finding> = verdict
                .findings
                .iter()
                .map(|(_, f)| f)
                .filter(|f| f.id == FindingId::TtlMixed)
                .collect();
            assert_eq!(found.len(), 1, "{:?}", verdict.findings);
            assert_eq!(found[0].severity, severity);
            assert_eq!(found[0].subject.server.as_deref(), Some("192.0.2.2:53"));
            assert!(found[0]
                .message
                .contains("600 s: kms1.corp.example.; 3600 s: kms2.corp.example."));
        }
    }

    fn srv(key: &str) -> crate::dns::SrvRecord {
        let fields: Vec<&str> = key.split(' ').collect();
        crate::dns::SrvRecord {
            priority: fields[0].parse().unwrap(),
            weight: fields[1].parse().unwrap(),
            port: fields[2].parse().unwrap(),
            target: name(fields[3]),
        }
    }

    #[test]
    fn a_lagging_secondary_is_behind_and_its_records_are_named() {
        let mut lagging = server(3, answered(4, &[KMS1]));
        lagging.behind_for = Some(Duration::from_secs(5));
        let verdict = evaluate(&zone(vec![server(1, answered(7, &[KMS1, KMS2])), lagging]));
        assert!(!verdict.converged);
        assert_eq!(verdict.servers[1].state, ServerState::Behind);
        assert_eq!(verdict.servers[1].behind, Some(3));
        assert_eq!(verdict.servers[1].rrsets[0].missing, [KMS2]);
        let behind = &verdict.findings[0].1;
        assert_eq!(behind.id, FindingId::SerialBehind);
        assert!(behind.message.contains("behind by 3"), "{}", behind.message);
        assert!(
            behind.message.contains("still behind after 5.0 s"),
            "{}",
            behind.message
        );
        assert!(
            behind.message.contains("expire (86400 s)"),
            "{}",
            behind.message
        );
        let differs = &verdict.findings[1].1;
        assert_eq!(
            (differs.id, differs.severity),
            (FindingId::RrsetDiffers, Severity::Warning)
        );
        assert!(
            differs.message.contains(&format!("missing {KMS2}")),
            "{}",
            differs.message
        );
    }

    #[test]
    fn lag_beyond_refresh_and_expire() {
        let mut lagging = server(2, answered(6, &[KMS1]));
        lagging.behind_for = Some(Duration::from_secs(4000));
        let verdict = evaluate(&zone(vec![
            server(1, answered(7, &[KMS1])),
            lagging.clone(),
        ]));
        assert!(verdict.findings[0]
            .1
            .message
            .contains("longer than the zone's refresh (3600 s)"));
        lagging.behind_for = Some(Duration::from_secs(90000));
        let verdict = evaluate(&zone(vec![server(1, answered(7, &[KMS1])), lagging]));
        assert_eq!(verdict.findings[0].1.severity, Severity::Critical);
    }

    #[test]
    fn serials_wrap_around() {
        // 4294967295 + 3 wraps to 2: the secondary is behind by 3, not ahead.
        let verdict = evaluate(&zone(vec![
            server(1, answered(2, &[KMS1])),
            server(2, answered(u32::MAX, &[KMS1])),
        ]));
        assert_eq!(verdict.servers[1].behind, Some(3));
        let verdict = evaluate(&zone(vec![
            server(1, answered(u32::MAX, &[KMS1])),
            server(2, answered(2, &[KMS1])),
        ]));
        assert_eq!(verdict.servers[1].state, ServerState::Ahead);
        assert_eq!(
            ids(&verdict),
            [("serial-ahead".to_string(), Severity::Critical)]
        );
    }

    #[test]
    fn down_and_lame_servers() {
        let verdict = evaluate(&zone(vec![
            server(1, answered(7, &[KMS1])),
            server(2, ServerRead::Timeout("no reply".into())),
            server(3, ServerRead::Lame("REFUSED".into())),
        ]));
        assert_eq!(
            ids(&verdict),
            [
                ("server-unreachable".to_string(), Severity::Warning),
                ("server-lame".to_string(), Severity::Warning)
            ]
        );
        assert!(!verdict.converged);
        let verdict = evaluate(&zone(vec![
            server(1, ServerRead::Refused("connection refused".into())),
            server(2, ServerRead::Timeout("no reply".into())),
        ]));
        assert!(ids(&verdict).iter().all(|(_, s)| *s == Severity::Critical));
        assert_eq!(verdict.reference, None);
    }

    #[test]
    fn without_the_primary_the_newest_serial_is_the_reference() {
        let mut hidden = server(1, ServerRead::Timeout("no reply".into()));
        hidden.in_ns_set = false;
        let verdict = evaluate(&zone(vec![
            hidden,
            server(2, answered(5, &[KMS1])),
            server(3, answered(6, &[KMS1])),
        ]));
        assert_eq!(verdict.reference, Some(2));
        assert_eq!(verdict.servers[1].behind, Some(1));
        assert!(verdict
            .findings
            .iter()
            .any(|(_, f)| f.id == FindingId::DnsReadFailed && f.severity == Severity::Info));
    }

    #[test]
    fn an_unreachable_hidden_primary_is_only_worth_an_info() {
        let mut hidden = server(1, ServerRead::NoAddress);
        hidden.in_ns_set = false;
        let verdict = evaluate(&zone(vec![
            hidden,
            server(2, answered(5, &[KMS1])),
            server(3, answered(5, &[KMS1])),
        ]));
        assert_eq!(
            ids(&verdict),
            [
                ("dns-read-failed".to_string(), Severity::Info),
                ("replicated".to_string(), Severity::Ok)
            ]
        );
        assert_eq!(verdict.servers[0].state, ServerState::NoAddress);
    }

    /// `read` with `record` served at `ttl`.
    fn with_ttl(mut read: ServerRead, record: &str, ttl: u32) -> ServerRead {
        if let ServerRead::Answered { rrsets, .. } = &mut read {
            if let Ok(served) = &mut rrsets[0].result {
                served.insert(record.to_string(), ttl);
            }
        }
        read
    }

    #[test]
    fn another_ttl_is_a_difference_named_with_both_ttls() {
        // The primary took `--set-ttl` (600); ns2 still serves 3600.
        let primary = with_ttl(with_ttl(answered(8, &[KMS1, KMS2]), KMS1, 600), KMS2, 600);
        for (multi_master, hint) in [
            (MultiMaster::No, "without raising its serial"),
            (MultiMaster::Yes, "AD replication"),
        ] {
            let mut observed = zone(vec![
                server(1, primary.clone()),
                server(2, answered(8, &[KMS1, KMS2])),
            ]);
            observed.multi_master = multi_master;
            let verdict = evaluate(&observed);
            assert!(!verdict.converged);
            assert_eq!(verdict.servers[1].state, ServerState::Differs);
            assert_eq!(
                ids(&verdict),
                [("rrset-differs".to_string(), Severity::Warning)]
            );
            let finding = &verdict.findings[0].1;
            assert_eq!(
                finding.message,
                format!(
                    "ns2.corp.example. (192.0.2.2:53) serves the {OWNER} records with TTL 3600 \
                     where ns1.corp.example. (192.0.2.1:53) has 600: {KMS1}, {KMS2}"
                )
            );
            assert!(
                finding.hint.as_deref().is_some_and(|h| h.contains(hint)),
                "{finding:?}"
            );
        }
        // Missing records and another TTL: both named, in one finding.
        let verdict = evaluate(&zone(vec![
            server(1, primary),
            server(2, answered(8, &[KMS1])),
        ]));
        assert_eq!(
            verdict.findings[0].1.message,
            format!(
                "ns2.corp.example. (192.0.2.2:53) serves other {OWNER} records than \
                 ns1.corp.example. (192.0.2.1:53): missing {KMS2}; TTL 3600 where \
                 ns1.corp.example. (192.0.2.1:53) has 600: {KMS1}"
            )
        );
    }

    #[test]
    fn a_server_without_records_is_critical() {
        let verdict = evaluate(&zone(vec![
            server(1, answered(7, &[KMS1])),
            server(2, answered(7, &[])),
        ]));
        assert_eq!(verdict.servers[1].state, ServerState::Differs);
        assert_eq!(
            ids(&verdict),
            [("rrset-differs".to_string(), Severity::Critical)]
        );
    }
}
