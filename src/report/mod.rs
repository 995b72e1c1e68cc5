//! Reports: what a command found, independent of how it is shown.
//!
//! The bottom layer of kmsdns: [`Finding`], [`FindingId`], [`Severity`] and
//! [`Report`] are used by every command and renderer, and import nothing of
//! the product but the exit codes. A command returns a `Report` of its own
//! details type; the renderers in `output` turn it into text, JSON, Nagios
//! or Prometheus output. Checks decide, renderers only show.
//!
//! This file *is* the JSON schema of findings. Changing the meaning of a
//! field, or removing one, needs a new [`SCHEMA_VERSION`]; adding a field or
//! a finding id does not.

pub mod palette;
pub mod words;

use std::fmt;

use serde::{Deserialize, Serialize};

/// Version of the JSON document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. Ordered: `Ok < Info < Warning < Critical`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked and found as it should be.
    #[default]
    Ok,
    /// Worth knowing, nothing to fix.
    Info,
    /// Works today, but something should be fixed.
    Warning,
    /// Clients fail to activate, or a change failed.
    Critical,
}

/// The stable identifier of a kind of finding. Monitoring rules match on
/// these strings; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingId {
    /// The domain has `_vlmcs._tcp` records matching the configuration.
    SrvOk,
    /// No `_vlmcs._tcp` SRV record in a domain of the publish list.
    SrvMissing,
    /// The SRV target has no A or AAAA record.
    TargetNoAddress,
    /// The SRV target is an alias (RFC 2782 forbids it).
    TargetIsCname,
    /// The SRV target is `.`: "service decidedly not available".
    TargetIsRoot,
    /// A record differs from the configuration (port, priority, weight, TTL).
    RecordDiffers,
    /// A configured host has no record in a domain of its publish list.
    RecordMissing,
    /// A target the configuration does not know.
    UnknownTarget,
    /// Only one KMS host in a domain: no failover.
    SingleHost,
    /// More distinct hosts than one KMS key can serve.
    TooManyHosts,
    /// A DNS read failed, was refused or timed out.
    DnsReadFailed,
    /// The work for a domain (or zone) passed `--deadline`: the finding
    /// names the step it was on; nothing after it was judged.
    DeadlineExceeded,
    /// The resolver's answer differs from the authoritative one.
    StaleResolver,
    /// Changes are pending (plan).
    ChangesPending,
    /// The domain is in sync with the configuration (plan, publish, remove).
    InSync,
    /// An update was applied.
    UpdateApplied,
    /// The TTL of an RRset differs from the configuration.
    TtlDiffers,
    /// The records of an RRset carry different TTLs: normal where Active
    /// Directory keeps a TTL per record, a moment's or a non-conforming
    /// server's elsewhere.
    TtlMixed,
    /// Every authoritative server serves the change.
    Replicated,
    /// An update failed.
    UpdateFailed,
    /// A removal was refused because it would leave the domain without KMS records.
    RemoveLastRecord,
    /// Authoritative servers serve different serials.
    SerialBehind,
    /// A server serves a newer serial than the primary (RFC 1982), or one
    /// that cannot be ordered: it will not transfer the zone again.
    SerialAhead,
    /// Authoritative servers serve different `_vlmcs._tcp` RRsets.
    RrsetDiffers,
    /// An authoritative server does not answer.
    ServerUnreachable,
    /// A listed server does not answer authoritatively.
    ServerLame,
    /// The zone accepts unsigned updates.
    UnsignedUpdatesAccepted,
    /// Updates are allowed by source address only.
    AddressOnlyGrant,
    /// A grant is wider than the `_vlmcs._tcp` SRV name.
    GrantTooWide,
    /// Our key is refused: publish will fail.
    KeyRefused,
    /// Updates need the key; ours is granted.
    KeyedOnly,
    /// A key is referenced but not defined.
    KeyUndefined,
    /// An `update-policy` grant allows exactly the `_vlmcs._tcp` SRV records.
    NarrowGrant,
    /// A zone sets both `allow-update` and `update-policy`.
    AllowUpdateIgnored,
    /// Nothing in named.conf allows updates of the `_vlmcs._tcp` SRV records.
    NoGrant,
    /// A `deny` rule of an `update-policy` reaches the `_vlmcs._tcp` name.
    DenyRule,
    /// No zone of named.conf (or of one of its views) holds the name.
    ZoneNotFound,
    /// The zone in named.conf is not a primary: its primary decides updates.
    ZoneNotPrimary,
    /// An ACL used in `allow-update` is not defined.
    AclUndefined,
    /// ACLs used in `allow-update` refer to each other in a loop, or too deep.
    AclLoop,
    /// Updates need a TSIG key and none is configured for the domain.
    NoKey,
    /// The live update probe got no usable answer.
    UpdateProbeFailed,
    /// The zone changed around a live update probe, which must change
    /// nothing: what changed, and what kmsdns did about it.
    ProbeChangedZone,
    /// The server's answer to the live update probe cannot tell whether it
    /// would apply a change (PowerDNS past its TSIG and address checks,
    /// where a Lua update policy may still refuse).
    UpdatePolicyUnverifiable,
    /// A key file is readable by group or others.
    KeyFilePermissions,
    /// An imported `.reg` publish list is not what regedit would import
    /// as is: the value set twice, or outside the publish list's key.
    PublishListImport,
    /// The KMS host answered the RPC bind for the KMS interface.
    KmsReachable,
    /// No address of any host in the domain reaches KMS.
    KmsUnreachable,
    /// Some addresses fail; failover still works.
    SomeAddressesFail,
    /// A step took longer than the threshold.
    SlowHost,
    /// The domain whose `_vlmcs._tcp` records clients use (discover).
    DiscoveryDomain,
    /// A weight-0 record shares its priority with weighted ones: RFC 2782
    /// gives it a very small chance of being picked first.
    ZeroWeight,
    /// named refuses to load the named.conf audited: none of its grants is
    /// in force, and none is judged.
    NamedConfRejected,
    /// The zone may be served by a DLZ driver: its permissions are not in
    /// named.conf.
    ZoneInDlz,
    /// A signed zone's RRsets verify at every server (DNSSEC).
    DnssecOk,
    /// An RRset of a signed zone has no RRSIG by a key of its DNSKEY set.
    RrsigMissing,
    /// An RRSIG does not verify: validating resolvers answer SERVFAIL.
    RrsigBogus,
    /// A valid RRSIG expires sooner than `--sig-expiry-warn`.
    RrsigExpiring,
    /// An RRSIG is past its expiration (or before its inception).
    RrsigExpired,
    /// The NSEC/NSEC3 proof of a negative answer does not verify.
    DenialBogus,
    /// No DS at the parent matches the zone's keys (or there is none).
    DsMismatch,
    /// A validating resolver answers SERVFAIL where checking disabled
    /// (CD) gets records.
    ValidationFailed,
    /// The run stopped after the domains reported, its output no longer
    /// kept (a full disk): the others were neither read nor changed.
    RunStopped,
}

impl fmt::Display for FindingId {
    /// The id as it appears in JSON and monitoring output (serde's kebab-case
    /// rendering is the single source of truth).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(id)) => f.write_str(&id),
            _ => Err(fmt::Error),
        }
    }
}

/// What a finding is about. Empty fields are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One check result. It reads back what it writes (but its `sources`),
/// for an output that keeps findings on disk until the run's end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    #[serde(flatten)]
    pub subject: Subject,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// `audit` only: the parts that found it (`check`, `replication`,
    /// `updates`, `probe`), one fact found by two parts being one finding.
    #[serde(skip_serializing_if = "Vec::is_empty", skip_deserializing)]
    pub sources: Vec<&'static str>,
}

/// Number of findings of each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub info: usize,
    pub warning: usize,
    pub critical: usize,
}

/// The whole result of one command run.
#[derive(Debug, Clone, Serialize)]
pub struct Report<D = ()> {
    pub schema: u32,
    pub command: &'static str,
    /// The worst severity among the findings.
    pub status: Severity,
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<D>,
    pub findings: Vec<Finding>,
}

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

impl Report<()> {
    /// An empty report for `command`; its details come with
    /// [`with_details`](Report::with_details).
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
}

impl<D> Report<D> {
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
    pub fn with_details<E>(self, details: E) -> Report<E> {
        Report {
            schema: self.schema,
            command: self.command,
            status: self.status,
            summary: self.summary,
            details: Some(details),
            findings: self.findings,
        }
    }

    /// The same findings, without details.
    pub fn without_details<E>(self) -> Report<E> {
        Report {
            schema: self.schema,
            command: self.command,
            status: self.status,
            summary: self.summary,
            details: None,
            findings: self.findings,
        }
    }

    /// The same report with its details turned into `E` (a renderer's
    /// union of every command's details).
    pub fn map_details<E>(self, wrap: impl FnOnce(D) -> E) -> Report<E> {
        Report {
            schema: self.schema,
            command: self.command,
            status: self.status,
            summary: self.summary,
            details: self.details.map(wrap),
            findings: self.findings,
        }
    }

    /// The exit status of the whole report: that of its worst finding.
    pub fn exit_status(&self) -> u8 {
        self.status.exit_status()
    }
}

impl Summary {
    /// Counts one finding of `severity`.
    pub fn count(&mut self, severity: Severity) {
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
            sources: Vec::new(),
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

/// Zone-level findings (about `zone`: a lagging server, a serial, RRsets
/// that differ) as facts of every domain checked in the zone: monitoring
/// counts and alerts per configured domain, and a zone apex that is not
/// one of them must not appear. The zone is named in the message of a
/// domain inside it. Other findings, and all of them when `domains` is
/// empty, are left as they are.
pub fn attribute_to_domains(
    findings: Vec<Finding>,
    zone: &str,
    domains: &[String],
) -> Vec<Finding> {
    let mut out = Vec::with_capacity(findings.len() * domains.len().max(1));
    for finding in findings {
        let about_zone = finding
            .subject
            .domain
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case(zone));
        if !about_zone || domains.is_empty() {
            out.push(finding);
            continue;
        }
        for domain in domains {
            let mut copy = finding.clone();
            if !domain.eq_ignore_ascii_case(zone) {
                copy.message = format!("zone {zone}: {}", finding.message);
            }
            copy.subject.domain = Some(domain.clone());
            out.push(copy);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_findings_belong_to_each_domain_of_the_zone() {
        let lag = Finding::new(
            FindingId::SerialBehind,
            Severity::Warning,
            "ns2 is 1 behind",
        )
        .domain("corp.test.")
        .server("127.0.0.2:53");
        let other =
            Finding::new(FindingId::DnsReadFailed, Severity::Critical, "x").domain("b.test.");
        let domains = ["emea.corp.test.".to_string(), "corp.test.".to_string()];
        let found = attribute_to_domains(vec![lag, other], "corp.test.", &domains);
        let about: Vec<(&str, &str)> = found
            .iter()
            .map(|f| {
                (
                    f.subject.domain.as_deref().unwrap_or(""),
                    f.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            about,
            [
                ("emea.corp.test.", "zone corp.test.: ns2 is 1 behind"),
                ("corp.test.", "ns2 is 1 behind"),
                ("b.test.", "x"),
            ]
        );
        assert_eq!(found[0].subject.server.as_deref(), Some("127.0.0.2:53"));
    }

    #[test]
    fn status_is_the_worst_finding() {
        let mut report = Report::<()>::new("check");
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
