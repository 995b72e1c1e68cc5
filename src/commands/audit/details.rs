//! `audit` output: one run of check, replication, updates and probe.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainStatus {
    pub domain: String,
    /// `Ok` for a domain without findings; `Info` is reported as ok.
    pub status: Severity,
}

/// Domains by status, and the KMS addresses and hosts that answered:
/// the first line of `audit`'s text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub domains: usize,
    /// Domains whose worst finding is ok or info.
    pub ok: usize,
    pub warning: usize,
    pub critical: usize,
    pub addresses_reachable: usize,
    pub addresses_probed: usize,
    pub hosts_reachable: usize,
    pub hosts_probed: usize,
    pub parts: Vec<&'static str>,
}

impl Tally {
    /// Counts one domain of this status.
    pub fn count(&mut self, status: Severity) {
        self.domains += 1;
        match status {
            Severity::Ok | Severity::Info => self.ok += 1,
            Severity::Warning => self.warning += 1,
            Severity::Critical => self.critical += 1,
        }
    }

    /// `audit N domain(s): … ok, … warning, … critical; R of P KMS address(es) …`
    pub fn write(&self, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{} {} domain(s): {} ok, {} warning, {} critical; {} of {} KMS address(es) reachable, {} of {} host(s) ({})",
            palette.heading("audit"),
            self.domains,
            self.ok,
            self.warning,
            self.critical,
            self.addresses_reachable,
            self.addresses_probed,
            self.hosts_reachable,
            self.hosts_probed,
            self.parts.join(", ")
        )
    }
}

/// One line of the list of domains under the summary, the names padded to
/// `width`.
pub fn write_domain(
    domain: &str,
    status: Severity,
    width: usize,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "  {domain:width$}  {}", palette.severity(status))
}

/// Writes the summary: domains by status, then KMS addresses reachable.
/// The findings below it carry the details, grouped by domain.
pub fn render(details: &AuditDetails, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    let mut tally = Tally {
        addresses_reachable: details.addresses_reachable,
        addresses_probed: details.addresses_probed,
        hosts_reachable: details.hosts_reachable,
        hosts_probed: details.hosts_probed,
        parts: details.parts.clone(),
        ..Tally::default()
    };
    for domain in &details.domains {
        tally.count(domain.status);
    }
    tally.write(palette, out)?;
    let width = details
        .domains
        .iter()
        .map(|d| d.domain.len())
        .max()
        .unwrap_or(0);
    for domain in &details.domains {
        write_domain(&domain.domain, domain.status, width, palette, out)?;
    }
    writeln!(out)
}
