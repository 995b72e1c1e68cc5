//! `replication` output: the JSON details type and its text rendering.
//!
//! Per zone: the primary's SOA timers, then one row per authoritative
//! server address with its SOA serial and the state of its `_vlmcs._tcp`
//! RRsets against the reference (the primary). The verdicts are computed by
//! [`crate::commands::replication::judge`]; this module only shows them.

use std::io::{self, Write};

use hickory_proto::rr::Name;
use owo_colors::Style;
use serde::Serialize;

use super::observe::ZoneOutcome;

use crate::report::palette::Palette;

/// What `replication` shows above its findings: one entry per zone.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicationDetails {
    pub zones: Vec<ZoneReplication>,
}

/// One zone: its servers compared with its primary.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneReplication {
    /// The zone, absolute (`corp.example.`).
    pub zone: String,
    /// The publish-list domains whose `_vlmcs._tcp` records the zone holds.
    pub domains: Vec<String>,
    /// The primary named by the SOA MNAME (RFC 1035 §3.3.13).
    pub primary: String,
    /// The server every other is compared with: the primary, or, when it
    /// cannot be read, the server with the newest serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The reference's SOA serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
    /// The zone's SOA timers in seconds: a secondary asks the primary for
    /// changes every `refresh`, retries every `retry` after a failure, and
    /// stops answering for the zone after `expire` without a refresh.
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Every server serves the reference serial and RRsets.
    pub converged: bool,
    /// How many times the servers were read (more than one with `--wait`).
    pub polls: u32,
    /// Time from the first read to the last, in milliseconds.
    pub elapsed_ms: u64,
    /// One entry per server address (a name without address has one entry
    /// without `address`), the primary first.
    pub servers: Vec<ServerReplication>,
}

/// How one server address compares with the reference (computed by
/// [`crate::dns::convergence`]).
pub use crate::dns::convergence::ServerState;

/// One server address of a zone.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReplication {
    /// The NS name (or the SOA MNAME for a primary outside the NS set).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// This is the zone's primary (SOA MNAME).
    pub primary: bool,
    /// The name is in the zone's NS set (a primary may be hidden).
    pub in_ns_set: bool,
    pub state: ServerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
    /// How many serial increments behind the reference (RFC 1982).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind: Option<u32>,
    /// Per publish-list domain of the zone: the `_vlmcs._tcp` RRset here.
    pub rrsets: Vec<RrsetReplication>,
    /// Why the server could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One `_vlmcs._tcp` RRset on one server, against the reference's.
#[derive(Debug, Clone, Serialize)]
pub struct RrsetReplication {
    /// `_vlmcs._tcp.<domain>.`
    pub owner: String,
    /// The records here, `priority weight port target.`, sorted.
    pub records: Vec<String>,
    /// Records the reference has and this server lacks.
    pub missing: Vec<String>,
    /// Records this server has and the reference lacks.
    pub extra: Vec<String>,
    /// Records both serve, here with another TTL than at the reference.
    pub ttl_differs: Vec<TtlDiffers>,
    /// Why the RRset could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A record served here with another TTL than at the reference.
#[derive(Debug, Clone, Serialize)]
pub struct TtlDiffers {
    /// `priority weight port target.`
    pub record: String,
    /// Its TTL here.
    pub ttl: u32,
    /// Its TTL at the reference.
    pub reference_ttl: u32,
}

/// Writes the details as text: per zone a heading with the primary and
/// its timers, then an aligned table of servers × serial × RRset state.
/// The caller ends the details with a blank line.
pub fn render(
    details: &ReplicationDetails,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    for zone in &details.zones {
        let mut about = vec![format!("primary {}", zone.primary)];
        if let Some(serial) = zone.serial {
            about.push(format!("serial {serial}"));
        }
        about.push(format!(
            "refresh {} s, retry {} s, expire {} s",
            zone.refresh, zone.retry, zone.expire
        ));
        if zone.polls > 1 {
            about.push(format!(
                "{} polls in {:.1} s",
                zone.polls,
                zone.elapsed_ms as f64 / 1000.0
            ));
        }
        writeln!(
            out,
            "{} {}",
            palette.heading(&zone.zone),
            palette.dim(&format!("({})", about.join(", ")))
        )?;
        let mut rows = vec![[
            "server".to_string(),
            "address".to_string(),
            "serial".to_string(),
            "behind".to_string(),
            "_vlmcs._tcp".to_string(),
        ]];
        let mut states = vec![None];
        for server in &zone.servers {
            let name = if server.primary && !server.in_ns_set {
                format!("{} (hidden primary)", server.name)
            } else {
                server.name.clone()
            };
            rows.push([
                name,
                server.address.clone().unwrap_or_else(|| "-".into()),
                server.serial.map_or("-".into(), |s| s.to_string()),
                server.behind.map_or("-".into(), |b| b.to_string()),
                rrset_cell(server),
            ]);
            states.push(Some(server.state));
        }
        let widths: Vec<usize> = (0..4)
            .map(|column| rows.iter().map(|row| row[column].len()).max().unwrap_or(0))
            .collect();
        for (row, state) in rows.iter().zip(&states) {
            let line = format!(
                "  {:w0$}  {:w1$}  {:>w2$}  {:>w3$}  ",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
            let last = match state {
                None => palette.dim(&row[4]),
                Some(ServerState::Reference | ServerState::InSync) => row[4].clone(),
                Some(ServerState::Behind | ServerState::Differs) => {
                    palette.paint(&row[4], Style::new().yellow())
                }
                Some(_) => palette.paint(&row[4], Style::new().red()),
            };
            match state {
                None => writeln!(out, "{}{last}", palette.dim(&line))?,
                Some(_) => writeln!(out, "{line}{last}")?,
            }
        }
    }
    Ok(())
}

/// The last column: what the server serves, or why nothing is known.
fn rrset_cell(server: &ServerReplication) -> String {
    let records: usize = server.rrsets.iter().map(|r| r.records.len()).sum();
    let missing: usize = server.rrsets.iter().map(|r| r.missing.len()).sum();
    let extra: usize = server.rrsets.iter().map(|r| r.extra.len()).sum();
    let ttls: usize = server.rrsets.iter().map(|r| r.ttl_differs.len()).sum();
    let unread = server.rrsets.iter().filter(|r| r.error.is_some()).count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    match server.state {
        ServerState::Timeout => "no reply (timeout)".into(),
        ServerState::Refused => "connection refused".into(),
        ServerState::Unreachable => "unreachable".into(),
        ServerState::Lame => "lame".into(),
        ServerState::NoAddress => "no address".into(),
        ServerState::Reference => format!("{records} record{} (reference)", plural(records)),
        _ if unread > 0 => format!("{unread} RRset{} unreadable", plural(unread)),
        _ if missing + extra + ttls == 0 => format!("same {records} record{}", plural(records)),
        _ if missing + extra == 0 => format!("differs: {ttls} with another TTL"),
        _ if ttls == 0 => format!("differs: {missing} missing, {extra} extra"),
        _ => format!("differs: {missing} missing, {extra} extra, {ttls} with another TTL"),
    }
}

/// The details of one zone.
pub(super) fn zone_details(outcome: &ZoneOutcome) -> ZoneReplication {
    let observation = &outcome.observation;
    let verdict = &outcome.verdict;
    let reference = verdict.reference.map(|i| &observation.servers[i]);
    ZoneReplication {
        zone: observation.zone.to_ascii(),
        domains: outcome.domains.iter().map(Name::to_ascii).collect(),
        primary: observation.mname.to_ascii(),
        reference: reference.map(|s| match s.address {
            Some(address) => address.to_string(),
            None => s.name.to_ascii(),
        }),
        serial: verdict
            .reference
            .and_then(|i| verdict.servers.get(i))
            .and_then(|s| s.serial),
        refresh: observation.timers.refresh,
        retry: observation.timers.retry,
        expire: observation.timers.expire,
        converged: verdict.converged,
        polls: outcome.polls,
        elapsed_ms: u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX),
        servers: observation
            .servers
            .iter()
            .zip(&verdict.servers)
            .map(|(server, verdict)| ServerReplication {
                name: server.name.to_ascii(),
                address: server.address.map(|a| a.to_string()),
                primary: server.primary,
                in_ns_set: server.in_ns_set,
                state: verdict.state,
                serial: verdict.serial,
                behind: verdict.behind,
                rrsets: verdict
                    .rrsets
                    .iter()
                    .map(|rrset| RrsetReplication {
                        owner: rrset.owner.to_ascii(),
                        records: rrset.records.clone(),
                        missing: rrset.missing.clone(),
                        extra: rrset.extra.clone(),
                        ttl_differs: rrset
                            .ttl_differs
                            .iter()
                            .map(|difference| TtlDiffers {
                                record: difference.record.clone(),
                                ttl: difference.ttl,
                                reference_ttl: difference.reference_ttl,
                            })
                            .collect(),
                        error: rrset.error.clone(),
                    })
                    .collect(),
                error: verdict.error.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, state: ServerState, serial: Option<u32>) -> ServerReplication {
        ServerReplication {
            name: name.into(),
            address: Some("127.53.0.1:5300".into()),
            primary: state == ServerState::Reference,
            in_ns_set: true,
            state,
            serial,
            behind: None,
            rrsets: vec![RrsetReplication {
                owner: "_vlmcs._tcp.corp.example.".into(),
                records: vec!["0 0 1688 kms1.corp.example.".into()],
                missing: Vec::new(),
                extra: Vec::new(),
                ttl_differs: Vec::new(),
                error: None,
            }],
            error: None,
        }
    }

    #[test]
    fn a_zone_is_an_aligned_table() {
        let mut behind = server("ns3.corp.example.", ServerState::Behind, Some(8));
        behind.behind = Some(3);
        behind.rrsets[0].records.clear();
        behind.rrsets[0].missing = vec!["0 0 1688 kms1.corp.example.".into()];
        let mut down = server("ns2.corp.example.", ServerState::Timeout, None);
        down.rrsets.clear();
        let mut ttl = server("ns4.corp.example.", ServerState::Differs, Some(11));
        ttl.rrsets[0].ttl_differs = vec![TtlDiffers {
            record: "0 0 1688 kms1.corp.example.".into(),
            ttl: 3600,
            reference_ttl: 600,
        }];
        let details = ReplicationDetails {
            zones: vec![ZoneReplication {
                zone: "corp.example.".into(),
                domains: vec!["corp.example.".into()],
                primary: "ns1.corp.example.".into(),
                reference: Some("127.53.0.1:5300".into()),
                serial: Some(11),
                refresh: 3600,
                retry: 600,
                expire: 86400,
                converged: false,
                polls: 1,
                elapsed_ms: 3,
                servers: vec![
                    server("ns1.corp.example.", ServerState::Reference, Some(11)),
                    down,
                    behind,
                    ttl,
                ],
            }],
        };
        let mut out = Vec::new();
        render(&details, Palette { color: false }, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "corp.example. (primary ns1.corp.example., serial 11, refresh 3600 s, retry 600 s, expire 86400 s)\n\
             \x20 server             address          serial  behind  _vlmcs._tcp\n\
             \x20 ns1.corp.example.  127.53.0.1:5300      11       -  1 record (reference)\n\
             \x20 ns2.corp.example.  127.53.0.1:5300       -       -  no reply (timeout)\n\
             \x20 ns3.corp.example.  127.53.0.1:5300       8       3  differs: 1 missing, 0 extra\n\
             \x20 ns4.corp.example.  127.53.0.1:5300      11       -  differs: 1 with another TTL\n"
        );
    }
}
