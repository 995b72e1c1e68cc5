//! `audit` output: one run of check, replication, updates and probe.

use std::io::{self, Write};

use serde::Serialize;

use crate::commands::check::details::CheckDetails;
use crate::commands::probe::details::ProbeDetails;
use crate::commands::replication::details::ReplicationDetails;
use crate::commands::updates::details::UpdatesDetails;
use crate::report::palette::Palette;
use crate::report::Severity;

/// What `audit` shows above its findings; each part as its own command
/// would show it, absent when skipped.
#[derive(Debug, Clone, Serialize)]
pub struct AuditDetails {
    /// Every domain audited with the worst severity found for it.
    pub domains: Vec<DomainStatus>,
    /// Distinct KMS addresses that answered the RPC bind, of the distinct
    /// addresses probed (an address in three domains counts once).
    pub addresses_reachable: usize,
    pub addresses_probed: usize,
    /// Distinct KMS hosts (`name:port`) with an address that answered, of
    /// those probed.
    pub hosts_reachable: usize,
    pub hosts_probed: usize,
    /// The parts that ran: `check`, `replication`, `updates`, `probe`.
    pub parts: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updates: Option<UpdatesDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeDetails>,
}

/// One domain and the worst severity of its findings: in `audit`'s
/// details, and counted by the Nagios and Prometheus output
/// ([`Metrics::domain_statuses`](super::metrics::Metrics::domain_statuses)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainStatus {
    pub domain: String,
    /// `Ok` for a domain without findings; `Info` is reported as ok.
    pub status: Severity,
}

/// Writes the summary: domains by status, then KMS addresses reachable.
/// The findings below it carry the details, grouped by domain.
pub fn render(details: &AuditDetails, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    let count = |severity: Severity| {
        details
            .domains
            .iter()
            .filter(|d| {
                d.status == severity || (severity == Severity::Ok && d.status == Severity::Info)
            })
            .count()
    };
    writeln!(
        out,
        "{} {} domain(s): {} ok, {} warning, {} critical; {} of {} KMS address(es) reachable, {} of {} host(s) ({})",
        palette.heading("audit"),
        details.domains.len(),
        count(Severity::Ok),
        count(Severity::Warning),
        count(Severity::Critical),
        details.addresses_reachable,
        details.addresses_probed,
        details.hosts_reachable,
        details.hosts_probed,
        details.parts.join(", ")
    )?;
    let width = details
        .domains
        .iter()
        .map(|d| d.domain.len())
        .max()
        .unwrap_or(0);
    for domain in &details.domains {
        writeln!(
            out,
            "  {:width$}  {}",
            domain.domain,
            palette.severity(domain.status)
        )?;
    }
    writeln!(out)
}
