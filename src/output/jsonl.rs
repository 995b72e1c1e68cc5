//! JSON lines for programs (`--format jsonl`, NDJSON): one object per
//! line, each domain's as soon as it is done, so that a consumer (a
//! monitoring pipeline, `jq -c`) reads the estate as it comes and a run
//! need not hold it whole.
//!
//! Each line has a `type`:
//! - `domain`: one domain, its status (the worst severity of its
//!   findings), its findings and its entry of the command's details (what
//!   `--format json` has under `details.domains[]` for it);
//! - `zone`: the details of one zone (`replication`, `updates`), as
//!   `details.zones[]` has them, after the line of the zone's first domain;
//! - `totals`, last: the schema, command, status and summary of the whole
//!   run, the number of domains, the findings about no domain, and the
//!   details that belong to no domain or zone;
//! - `error`, alone: why kmsdns could not run.
//!
//! The findings and details are those of `--format json`, cut into lines.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::Serialize;
use serde_json::{json, Value};

use super::{prometheus, Details, Document};
use crate::commands::audit::details::DomainStatus;
use crate::commands::audit::metrics::Metrics;
use crate::commands::bind::details::{BindDetails, BindFile, BindFiles, Content};
use crate::commands::bind::material::Kind;
use crate::commands::changes::details::DomainChanges;
use crate::commands::check::details::DomainCheck;
use crate::commands::probe::details::DomainProbe;
use crate::commands::replication::details::ZoneReplication;
use crate::commands::updates::details::ZoneUpdates;
use crate::report::{Finding, Severity, Summary, SCHEMA_VERSION};

/// Writes `report` as JSON lines: its domains, its zones, its totals.
pub fn render(report: &Document, out: &mut dyn Write) -> io::Result<()> {
    let domains = write_lines(report, out)?;
    let general: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.subject.domain.is_none())
        .collect();
    let totals = Totals {
        status: report.status,
        summary: report.summary,
        domains,
        details: report.details.as_ref().and_then(rest),
    };
    match &report.details {
        Some(Details::Bind(bind)) => {
            totals.write_with(report.command, &general, Some(&BindSorted(bind)), out)
        }
        _ => totals.write(report.command, &general, out),
    }
}

/// Writes the line of each domain of `report` (in the order of its
/// details, then of its findings) and of each zone of its details;
/// returns how many domains. Findings about no domain are the totals'.
pub fn write_lines(report: &Document, out: &mut dyn Write) -> io::Result<usize> {
    let details = report.details.as_ref();
    let statuses = match details {
        Some(Details::Audit(audit)) => audit.domains.clone(),
        _ => prometheus::series::metrics(details, Metrics::new(SystemTime::UNIX_EPOCH))
            .domain_statuses(report),
    };
    let mut findings: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for finding in &report.findings {
        if let Some(domain) = &finding.subject.domain {
            findings.entry(domain).or_default().push(finding);
        }
    }
    let entries = details.map(domain_entries).unwrap_or_default();
    // Each zone's line follows the line of its first domain: the same
    // order however the estate is cut into windows.
    let mut zones: Vec<Option<ZoneLine>> = Vec::new();
    let mut after: HashMap<&str, Vec<usize>> = HashMap::new();
    for (zone, domains, entry) in details.map(zone_entries).unwrap_or_default() {
        if let Some(first) = domains.first() {
            after.entry(first.as_str()).or_default().push(zones.len());
        }
        zones.push(Some(ZoneLine {
            kind: "zone",
            command: report.command,
            zone,
            details: entry,
        }));
    }
    for DomainStatus { domain, status } in &statuses {
        let line = DomainLine {
            kind: "domain",
            command: report.command,
            domain,
            status: *status,
            findings: findings.remove(domain.as_str()).unwrap_or_default(),
            details: entries.get(domain.as_str()),
        };
        write_line(&line, out)?;
        for at in after.remove(domain.as_str()).unwrap_or_default() {
            if let Some(zone) = zones[at].take() {
                write_line(&zone, out)?;
            }
        }
    }
    for zone in zones.iter().flatten() {
        write_line(zone, out)?;
    }
    Ok(statuses.len())
}

/// What the last line says of the whole run.
pub struct Totals {
    pub status: Severity,
    pub summary: Summary,
    pub domains: usize,
    /// The details that belong to no domain or zone ([`rest`]).
    pub details: Option<Value>,
}

impl Totals {
    /// Writes the totals line, with `general`: the findings about no domain.
    pub fn write(
        &self,
        command: &str,
        general: &[&Finding],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.write_with(command, general, self.details.as_ref(), out)
    }

    /// [`Self::write`] with `details` in place of the totals' own.
    fn write_with(
        &self,
        command: &str,
        general: &[&Finding],
        details: Option<&impl Serialize>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let line = TotalsLine {
            kind: "totals",
            schema: SCHEMA_VERSION,
            command,
            status: self.status,
            summary: &self.summary,
            domains: self.domains,
            findings: general,
            details,
        };
        write_line(&line, out)
    }
}

/// Writes why kmsdns could not run, as one line.
pub fn render_error(command: Option<&str>, error: &str, out: &mut dyn Write) -> io::Result<()> {
    let line = json!({
        "type": "error",
        "schema": SCHEMA_VERSION,
        "command": command,
        "status": "unknown",
        "error": error,
    });
    write_line(&line, out)
}

fn write_line(line: &impl Serialize, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    writeln!(out)
}

#[derive(Serialize)]
struct DomainLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    command: &'a str,
    domain: &'a str,
    status: Severity,
    findings: Vec<&'a Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a DomainEntry<'a>>,
}

#[derive(Serialize)]
struct ZoneLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    command: &'a str,
    zone: Option<&'a str>,
    details: ZoneEntry<'a>,
}

#[derive(Serialize)]
struct TotalsLine<'a, D> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: u32,
    command: &'a str,
    status: Severity,
    summary: &'a Summary,
    domains: usize,
    findings: &'a [&'a Finding],
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a D>,
}

/// One domain's entry of a command's details.
#[derive(Serialize)]
#[serde(untagged)]
enum DomainEntry<'a> {
    Check(&'a DomainCheck),
    Probe(&'a DomainProbe),
    Changes(&'a DomainChanges),
    /// `audit`: each part's entry, under the part's name.
    Audit {
        #[serde(skip_serializing_if = "Option::is_none")]
        check: Option<&'a DomainCheck>,
        #[serde(skip_serializing_if = "Option::is_none")]
        probe: Option<&'a DomainProbe>,
    },
}

/// One zone's entry of a command's details.
#[derive(Serialize)]
#[serde(untagged)]
enum ZoneEntry<'a> {
    Replication(&'a ZoneReplication),
    Updates(&'a ZoneUpdates),
    /// `audit`: the part's entry under the part's name.
    AuditReplication {
        replication: &'a ZoneReplication,
    },
    AuditUpdates {
        updates: &'a ZoneUpdates,
    },
}

/// Each domain's entry of `details`, by domain.
fn domain_entries(details: &Details) -> HashMap<&str, DomainEntry<'_>> {
    match details {
        Details::Check(check) => check
            .domains
            .iter()
            .map(|d| (d.domain.as_str(), DomainEntry::Check(d)))
            .collect(),
        Details::Probe(probe) => probe
            .domains
            .iter()
            .map(|d| (d.domain.as_str(), DomainEntry::Probe(d)))
            .collect(),
        Details::Changes(changes) => changes
            .domains
            .iter()
            .map(|d| (d.domain.as_str(), DomainEntry::Changes(d)))
            .collect(),
        Details::Audit(audit) => {
            let mut entries = HashMap::new();
            let checks = audit.check.iter().flat_map(|c| &c.domains);
            for check in checks {
                entries.insert(
                    check.domain.as_str(),
                    DomainEntry::Audit {
                        check: Some(check),
                        probe: None,
                    },
                );
            }
            for probe in audit.probe.iter().flat_map(|p| &p.domains) {
                let entry = entries
                    .entry(probe.domain.as_str())
                    .or_insert(DomainEntry::Audit {
                        check: None,
                        probe: None,
                    });
                if let DomainEntry::Audit { probe: slot, .. } = entry {
                    *slot = Some(probe);
                }
            }
            entries
        }
        Details::Replication(_) | Details::Updates(_) | Details::Discover(_) | Details::Bind(_) => {
            HashMap::new()
        }
    }
}

/// Each zone's entry of `details`, in order, with the zone's domains.
fn zone_entries(details: &Details) -> Vec<(Option<&str>, &[String], ZoneEntry<'_>)> {
    match details {
        Details::Replication(r) => r
            .zones
            .iter()
            .map(|z| {
                (
                    Some(z.zone.as_str()),
                    &z.domains[..],
                    ZoneEntry::Replication(z),
                )
            })
            .collect(),
        Details::Updates(u) => u
            .zones
            .iter()
            .map(|z| (z.zone.as_deref(), &z.domains[..], ZoneEntry::Updates(z)))
            .collect(),
        Details::Audit(audit) => {
            let replicated = audit.replication.iter().flat_map(|r| &r.zones);
            let updates = audit.updates.iter().flat_map(|u| &u.zones);
            replicated
                .map(|z| {
                    let entry = ZoneEntry::AuditReplication { replication: z };
                    (Some(z.zone.as_str()), &z.domains[..], entry)
                })
                .chain(updates.map(|z| {
                    let entry = ZoneEntry::AuditUpdates { updates: z };
                    (z.zone.as_deref(), &z.domains[..], entry)
                }))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The details that belong to no domain or zone: those `--format json`
/// has beside its `domains[]` and `zones[]`; `None` when there are none,
/// and for `bind`, whose files [`render`] writes one by one.
pub fn rest(details: &Details) -> Option<Value> {
    let probe = |p: &crate::commands::probe::details::ProbeDetails| {
        json!({
            "resolver": p.resolver,
            "timeout_ms": p.timeout_ms,
            "slow_ms": p.slow_ms,
            "hosts": p.hosts,
        })
    };
    let updates = |u: &crate::commands::updates::details::UpdatesDetails| json!({ "named_conf": u.named_conf, "files": u.files, "live": u.live });
    match details {
        Details::Check(_) | Details::Replication(_) | Details::Changes(_) => None,
        Details::Probe(p) => Some(probe(p)),
        Details::Updates(u) => Some(updates(u)),
        Details::Discover(_) => serde_json::to_value(details).ok(),
        Details::Bind(_) => None,
        Details::Audit(a) => {
            let mut rest = json!({
                "addresses_reachable": a.addresses_reachable,
                "addresses_probed": a.addresses_probed,
                "hosts_reachable": a.hosts_reachable,
                "hosts_probed": a.hosts_probed,
                "parts": a.parts,
            });
            if let Some(p) = &a.probe {
                rest["probe"] = probe(p);
            }
            if let Some(u) = &a.updates {
                rest["updates"] = updates(u);
            }
            Some(rest)
        }
    }
}

/// `bind`'s details as a [`Value`] of them is written, its keys in
/// alphabetical order, but made file by file: a `Value` of the material
/// of 100,000 zones, or of the list of their 300,000 paths, held it all.
struct BindSorted<'a>(&'a BindDetails);

impl Serialize for BindSorted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("files", &SortedFiles(&self.0.files))?;
        map.end()
    }
}

struct SortedFiles<'a>(&'a BindFiles);

impl Serialize for SortedFiles<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        self.0.each(|file| {
            let BindFile {
                kind,
                about,
                path,
                content,
            } = file;
            seq.serialize_element(&SortedFile {
                about,
                content,
                kind,
                path,
            })
        })?;
        seq.end()
    }
}

/// A [`BindFile`], its fields in alphabetical order.
#[derive(Serialize)]
struct SortedFile<'m> {
    about: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Content<'m>>,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
}
