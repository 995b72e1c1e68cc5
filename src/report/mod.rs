//! Reports: what a command found, independent of how it is shown.
//!
//! A command returns a [`Report`]; the renderers in this module turn it into
//! text for people, JSON for programs, or Nagios and Prometheus output for
//! monitoring (with the [`metrics::Metrics`] measured beside the findings).
//! Checks decide, renderers only show.

pub mod audit;
pub mod check;
pub mod discover;
pub mod entries;
pub mod json;
pub mod metrics;
pub mod nagios;
pub mod probe;
pub mod prometheus;
pub mod replication;
pub mod text;
mod types;
pub mod updates;

pub use types::{
    BindDetails, BindFile, BindFiles, ChangeDetails, ChangeLine, Details, DomainChanges, Finding,
    FindingId, Report, Severity, Subject, Summary, SCHEMA_VERSION,
};

use crate::exit;

impl Severity {
    /// The exit status this severity maps to.
    pub fn exit_status(self) -> u8 {
        match self {
            Severity::Ok | Severity::Info => exit::OK,
            Severity::Warning => exit::WARNING,
            Severity::Critical => exit::CRITICAL,
        }
    }
}

impl Report {
    /// An empty report for `command`.
    pub fn new(command: &'static str) -> Self {
        Report {
            schema: SCHEMA_VERSION,
            command,
            status: Severity::Ok,
            summary: Summary::default(),
            findings: Vec::new(),
            details: None,
        }
    }

    /// Adds a finding and keeps the status and summary up to date.
    pub fn push(&mut self, finding: Finding) {
        self.status = self.status.max(finding.severity);
        self.summary.count(finding.severity);
        self.findings.push(finding);
    }

    /// Adds every finding of `findings`.
    pub fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        for finding in findings {
            self.push(finding);
        }
    }

    /// Attaches the command-specific details shown above the findings.
    pub fn with_details(mut self, details: Details) -> Self {
        self.details = Some(details);
        self
    }

    /// The exit status of the whole report: that of its worst finding.
    pub fn exit_status(&self) -> u8 {
        self.status.exit_status()
    }
}

impl Summary {
    fn count(&mut self, severity: Severity) {
        match severity {
            Severity::Ok => self.ok += 1,
            Severity::Info => self.info += 1,
            Severity::Warning => self.warning += 1,
            Severity::Critical => self.critical += 1,
        }
    }
}

impl Finding {
    /// A finding with the given id, severity and message, about nothing in particular yet.
    pub fn new(id: FindingId, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            id,
            severity,
            subject: Subject::default(),
            message: message.into(),
            hint: None,
        }
    }

    /// Names the DNS domain this finding is about.
    pub fn domain(mut self, domain: impl ToString) -> Self {
        self.subject.domain = Some(domain.to_string());
        self
    }

    /// Names the DNS server this finding is about.
    pub fn server(mut self, server: impl ToString) -> Self {
        self.subject.server = Some(server.to_string());
        self
    }

    /// Names the KMS host this finding is about.
    pub fn host(mut self, host: impl ToString) -> Self {
        self.subject.host = Some(host.to_string());
        self
    }

    /// Says how to fix what the finding reports.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_worst_finding() {
        let mut report = Report::new("check");
        assert_eq!(report.exit_status(), exit::OK);
        report.push(Finding::new(FindingId::SrvMissing, Severity::Warning, "w"));
        report.push(Finding::new(FindingId::SrvMissing, Severity::Info, "i"));
        assert_eq!(report.status, Severity::Warning);
        assert_eq!(report.exit_status(), exit::WARNING);
        report.push(Finding::new(FindingId::SrvMissing, Severity::Critical, "c"));
        assert_eq!(report.exit_status(), exit::CRITICAL);
        assert_eq!(report.summary.warning, 1);
        assert_eq!(report.summary.info, 1);
        assert_eq!(report.summary.critical, 1);
    }
}
