//! The findings of `replication` for one zone: every authoritative server
//! against the primary.
//!
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
//! - Clients' resolvers pick any server of the NS set, so a server that is
//!   unreachable or lame is a warning while another answers for the zone,
//!   and critical when none does.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::Name;

use crate::commands::replication::details::ServerState;
use crate::dns::serial;
use crate::report::{Finding, FindingId, Severity};

/// The zone's SOA timers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaTimers {
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
}

/// One `_vlmcs._tcp` RRset read at one server: its records as keys
/// (`priority weight port target.`, see [`super::records::record_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRead {
    pub owner: Name,
    pub result: Result<BTreeSet<String>, String>,
}

/// What one server address said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRead {
    /// The NS name exists but has no A or AAAA record (lame delegation).
    NoAddress,
    /// The NS name's addresses could not be looked up.
    AddressUnknown(String),
    /// No reply, every attempt.
    Timeout(String),
    /// Connection refused: nothing listens there.
    Refused(String),
    /// Another network error.
    Unreachable(String),
    /// A reply that does not serve the zone.
    Lame(String),
    /// The zone's SOA serial and each RRset.
    Answered { serial: u32, rrsets: Vec<OwnerRead> },
}

/// One server address and what it said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerObservation {
    pub name: Name,
    pub address: Option<SocketAddr>,
    /// This is the SOA MNAME.
    pub primary: bool,
    /// The name is in the NS set.
    pub in_ns_set: bool,
    pub read: ServerRead,
    /// How long polls have seen it behind the reference without a break
    /// (zero on the first poll that sees it behind; `None` otherwise).
    pub behind_for: Option<Duration>,
}

/// Everything read for one zone in one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneObservation {
    pub zone: Name,
    /// The primary (SOA MNAME).
    pub mname: Name,
    pub timers: SoaTimers,
    /// Every server address, the primary first.
    pub servers: Vec<ServerObservation>,
}

/// How one RRset of one server compares with the reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerComparison {
    pub owner: Name,
    pub records: Vec<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub error: Option<String>,
}

/// The verdict on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVerdict {
    pub state: ServerState,
    pub serial: Option<u32>,
    /// Serial increments behind the reference.
    pub behind: Option<u32>,
    pub rrsets: Vec<OwnerComparison>,
    pub error: Option<String>,
}

/// The verdict on a zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneVerdict {
    /// Index in `servers` of the server compared with, if any answered.
    pub reference: Option<usize>,
    /// One per observed server, in the same order.
    pub servers: Vec<ServerVerdict>,
    /// Every server serves the reference's serial and RRsets.
    pub converged: bool,
    pub findings: Vec<Finding>,
}

fn label(server: &ServerObservation) -> String {
    match server.address {
        Some(address) => format!("{} ({address})", server.name),
        None => server.name.to_string(),
    }
}

/// The serial and RRsets of a server that answered for the zone.
fn answered(server: &ServerObservation) -> Option<(u32, &[OwnerRead])> {
    match &server.read {
        ServerRead::Answered { serial, rrsets } => Some((*serial, rrsets)),
        _ => None,
    }
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

/// Compares every server of the zone with the reference: the primary, or,
/// when it cannot be read, the server with the newest serial.
pub fn evaluate(zone: &ZoneObservation) -> ZoneVerdict {
    let name = zone.zone.to_ascii();
    let mut findings = Vec::new();
    let reference = zone
        .servers
        .iter()
        .position(|s| s.primary && answered(s).is_some())
        .or_else(|| newest(zone));
    if let Some(index) = reference.filter(|i| !zone.servers[*i].primary) {
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
        findings.push(
            Finding::new(
                FindingId::DnsReadFailed,
                if hidden { Severity::Info } else { Severity::Warning },
                format!(
                    "the primary {} could not be read ({why}); the servers are compared with the newest serial found, at {}",
                    zone.mname,
                    label(&zone.servers[index])
                ),
            )
            .domain(&name),
        );
    }
    let any_authoritative = zone.servers.iter().any(|s| answered(s).is_some());
    let down_severity = |this: &ServerObservation| {
        let others = zone
            .servers
            .iter()
            .any(|s| !std::ptr::eq(s, this) && answered(s).is_some());
        if others {
            Severity::Warning
        } else {
            Severity::Critical
        }
    };

    let mut verdicts = Vec::new();
    let mut converged = reference.is_some();
    for (index, server) in zone.servers.iter().enumerate() {
        // A hidden primary (not in the NS set) is often unreachable from
        // anywhere but its secondaries: no client asks it, so failing to
        // read it is no finding of its own (the reference finding says it).
        let hidden_primary = server.primary && !server.in_ns_set;
        let mut finding = |id, severity, message: String, hint: &str| {
            if hidden_primary {
                return;
            }
            let mut finding = Finding::new(id, severity, message).domain(&name).hint(hint);
            if let Some(address) = server.address {
                finding = finding.server(address);
            }
            findings.push(finding);
        };
        let unread = |state: ServerState, error: Option<String>| ServerVerdict {
            state,
            serial: None,
            behind: None,
            rrsets: Vec::new(),
            error,
        };
        let verdict = match &server.read {
            ServerRead::NoAddress => {
                finding(
                    FindingId::ServerLame,
                    down_severity(server),
                    format!("name server {} has no A or AAAA record: nobody can ask it (lame delegation)", server.name),
                    "add its address, or remove it from the zone's NS records (and the parent's delegation)",
                );
                unread(ServerState::NoAddress, None)
            }
            ServerRead::AddressUnknown(error) => {
                finding(
                    FindingId::DnsReadFailed,
                    Severity::Critical,
                    format!("the addresses of name server {} could not be read: {error}", server.name),
                    "a failed read says nothing about the server: fix the resolver or the path to it",
                );
                unread(ServerState::NoAddress, Some(error.clone()))
            }
            ServerRead::Timeout(error) => {
                finding(
                    FindingId::ServerUnreachable,
                    down_severity(server),
                    format!("{} does not answer (timed out): {error}", label(server)),
                    "check that named runs there and that the DNS port is open to this host",
                );
                unread(ServerState::Timeout, Some(error.clone()))
            }
            ServerRead::Refused(error) => {
                finding(
                    FindingId::ServerUnreachable,
                    down_severity(server),
                    format!(
                        "{} refuses the connection (nothing listens on the DNS port): {error}",
                        label(server)
                    ),
                    "check that named runs there and listens on this address and port",
                );
                unread(ServerState::Refused, Some(error.clone()))
            }
            ServerRead::Unreachable(error) => {
                finding(
                    FindingId::ServerUnreachable,
                    down_severity(server),
                    format!("{} is unreachable: {error}", label(server)),
                    "check the route and firewalls between this host and the server",
                );
                unread(ServerState::Unreachable, Some(error.clone()))
            }
            ServerRead::Lame(error) => {
                finding(
                    FindingId::ServerLame,
                    down_severity(server),
                    format!("{} is listed for {name} but does not serve it: {error}", label(server)),
                    "configure the zone on this server (as a secondary of the primary), or remove it from the NS records",
                );
                unread(ServerState::Lame, Some(error.clone()))
            }
            ServerRead::Answered { serial, rrsets } => {
                let reference_index = reference.unwrap_or(index);
                let (reference_serial, reference_rrsets) =
                    answered(&zone.servers[reference_index]).unwrap_or((*serial, rrsets));
                let comparisons = compare(rrsets, reference_rrsets);
                let differs = comparisons
                    .iter()
                    .any(|c| c.error.is_some() || !c.missing.is_empty() || !c.extra.is_empty());
                let mut behind = None;
                let mut state = if index == reference_index {
                    ServerState::Reference
                } else {
                    ServerState::InSync
                };
                if index != reference_index {
                    let reference_label = label(&zone.servers[reference_index]);
                    match serial::compare(*serial, reference_serial) {
                        Some(std::cmp::Ordering::Equal) => {}
                        Some(std::cmp::Ordering::Less) => {
                            let by =
                                serial::behind_by(*serial, reference_serial).unwrap_or_default();
                            behind = Some(by);
                            state = ServerState::Behind;
                            let (severity, message) = lag(
                                server,
                                by,
                                *serial,
                                reference_serial,
                                &reference_label,
                                zone,
                            );
                            finding(
                                FindingId::SerialBehind,
                                severity,
                                message,
                                "check NOTIFY (also-notify, notify-source) and zone transfers (allow-transfer) from the primary to this server; `rndc refresh ZONE` there asks at once",
                            );
                        }
                        ordering => {
                            state = ServerState::Ahead;
                            let how = if ordering.is_none() {
                                "exactly 2^31 away from".to_string()
                            } else {
                                format!(
                                    "ahead of ({} increments)",
                                    serial.wrapping_sub(reference_serial)
                                )
                            };
                            finding(
                                FindingId::SerialAhead,
                                Severity::Critical,
                                format!(
                                    "{} serves serial {serial}, {how} the serial {reference_serial} of {reference_label}: RFC 1982 never makes the primary's serial newer, so it will not transfer the zone again",
                                    label(server)
                                ),
                                "raise the primary's serial past this one (RFC 1982 §7 explains how to step across), or reload the zone on this server from scratch",
                            );
                        }
                    }
                    for comparison in &comparisons {
                        rrset_finding(&mut finding, server, comparison, &reference_label);
                    }
                    if differs && state == ServerState::InSync {
                        state = ServerState::Differs;
                    }
                }
                if state != ServerState::Reference && state != ServerState::InSync {
                    converged = false;
                }
                ServerVerdict {
                    state,
                    serial: Some(*serial),
                    behind,
                    rrsets: comparisons,
                    error: None,
                }
            }
        };
        // Clients never ask a hidden primary: the zone has converged when
        // every server they may ask serves the reference.
        if !hidden_primary && !matches!(verdict.state, ServerState::Reference | ServerState::InSync)
        {
            converged = false;
        }
        verdicts.push(verdict);
    }
    if !any_authoritative {
        converged = false;
    }
    if converged {
        let addresses = zone.servers.len();
        let names: BTreeSet<String> = zone
            .servers
            .iter()
            .map(|s| s.name.to_lowercase().to_ascii())
            .collect();
        let serial = reference
            .and_then(|i| answered(&zone.servers[i]))
            .map(|(serial, _)| serial)
            .unwrap_or_default();
        findings.push(
            Finding::new(
                FindingId::Replicated,
                Severity::Ok,
                format!(
                    "all {} server(s) ({addresses} address(es)) serve serial {serial} and the same _vlmcs._tcp records",
                    names.len()
                ),
            )
            .domain(&name),
        );
    }
    ZoneVerdict {
        reference,
        servers: verdicts,
        converged,
        findings,
    }
}

/// The answering server with the newest serial (RFC 1982), first found
/// on ties and on pairs RFC 1982 cannot order.
fn newest(zone: &ZoneObservation) -> Option<usize> {
    let mut best: Option<(usize, u32)> = None;
    for (index, server) in zone.servers.iter().enumerate() {
        if let ServerRead::Answered { serial, .. } = &server.read {
            match best {
                Some((_, current))
                    if serial::compare(*serial, current) != Some(std::cmp::Ordering::Greater) => {}
                _ => best = Some((index, *serial)),
            }
        }
    }
    best.map(|(index, _)| index)
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
        label(server)
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

/// Each owner's RRset against the reference's.
fn compare(rrsets: &[OwnerRead], reference: &[OwnerRead]) -> Vec<OwnerComparison> {
    rrsets
        .iter()
        .map(|read| {
            let want = reference
                .iter()
                .find(|r| r.owner == read.owner)
                .and_then(|r| r.result.as_ref().ok());
            match (&read.result, want) {
                (Ok(got), Some(want)) => OwnerComparison {
                    owner: read.owner.clone(),
                    records: got.iter().cloned().collect(),
                    missing: want.difference(got).cloned().collect(),
                    extra: got.difference(want).cloned().collect(),
                    error: None,
                },
                // Nothing to compare with: the reference's read failed.
                (Ok(got), None) => OwnerComparison {
                    owner: read.owner.clone(),
                    records: got.iter().cloned().collect(),
                    missing: Vec::new(),
                    extra: Vec::new(),
                    error: None,
                },
                (Err(error), _) => OwnerComparison {
                    owner: read.owner.clone(),
                    records: Vec::new(),
                    missing: Vec::new(),
                    extra: Vec::new(),
                    error: Some(error.clone()),
                },
            }
        })
        .collect()
}

/// `rrset-differs` (or `dns-read-failed`) for one owner on one server.
fn rrset_finding(
    finding: &mut impl FnMut(FindingId, Severity, String, &str),
    server: &ServerObservation,
    comparison: &OwnerComparison,
    reference: &str,
) {
    let owner = &comparison.owner;
    if let Some(error) = &comparison.error {
        finding(
            FindingId::DnsReadFailed,
            Severity::Critical,
            format!("{owner} SRV at {} is unknown: {error}", label(server)),
            "a failed read says nothing about the records: fix the server, then check again",
        );
        return;
    }
    if comparison.missing.is_empty() && comparison.extra.is_empty() {
        return;
    }
    let mut parts = Vec::new();
    if !comparison.missing.is_empty() {
        parts.push(format!("missing {}", comparison.missing.join(", ")));
    }
    if !comparison.extra.is_empty() {
        parts.push(format!("extra {}", comparison.extra.join(", ")));
    }
    // Clients sent to a server without any record get "no records" there
    // (0x8007232B / 0x8007251D); other differences still lead somewhere.
    let severity = if comparison.records.is_empty() {
        Severity::Critical
    } else {
        Severity::Warning
    };
    finding(
        FindingId::RrsetDiffers,
        severity,
        format!(
            "{} serves other {owner} records than {reference}: {}",
            label(server),
            parts.join("; ")
        ),
        "the server has not transferred the latest zone: see its serial, NOTIFY and zone transfers",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    const OWNER: &str = "_vlmcs._tcp.corp.example.";

    fn answered(serial: u32, records: &[&str]) -> ServerRead {
        ServerRead::Answered {
            serial,
            rrsets: vec![OwnerRead {
                owner: name(OWNER),
                result: Ok(records.iter().map(|r| r.to_string()).collect()),
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

    fn zone(servers: Vec<ServerObservation>) -> ZoneObservation {
        ZoneObservation {
            zone: name("corp.example."),
            mname: name("ns1.corp.example."),
            timers: SoaTimers {
                refresh: 3600,
                retry: 600,
                expire: 86400,
            },
            servers,
        }
    }

    const KMS1: &str = "0 0 1688 kms1.corp.example.";
    const KMS2: &str = "0 0 1688 kms2.corp.example.";

    fn ids(verdict: &ZoneVerdict) -> Vec<(String, Severity)> {
        verdict
            .findings
            .iter()
            .map(|f| (f.id.to_string(), f.severity))
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

    #[test]
    fn a_lagging_secondary_is_behind_and_its_records_are_named() {
        let mut lagging = server(3, answered(4, &[KMS1]));
        lagging.behind_for = Some(Duration::from_secs(5));
        let verdict = evaluate(&zone(vec![server(1, answered(7, &[KMS1, KMS2])), lagging]));
        assert!(!verdict.converged);
        assert_eq!(verdict.servers[1].state, ServerState::Behind);
        assert_eq!(verdict.servers[1].behind, Some(3));
        assert_eq!(verdict.servers[1].rrsets[0].missing, [KMS2]);
        let behind = &verdict.findings[0];
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
        let differs = &verdict.findings[1];
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
            .message
            .contains("longer than the zone's refresh (3600 s)"));
        lagging.behind_for = Some(Duration::from_secs(90000));
        let verdict = evaluate(&zone(vec![server(1, answered(7, &[KMS1])), lagging]));
        assert_eq!(verdict.findings[0].severity, Severity::Critical);
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
            .any(|f| f.id == FindingId::DnsReadFailed && f.severity == Severity::Info));
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
