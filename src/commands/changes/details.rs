//! What `plan`, `publish` and `remove` report: per domain, the change
//! planned or made (the serde types of `details`), and the findings, built
//! from each domain's outcome.

use serde::Serialize;

use super::engine::{DomainOutcome, Failure, Outcome, Signer};
use super::planner::{Change, Plan};
use crate::dns::SrvRecord;
use crate::report::{Finding, FindingId, Report, Severity};

/// Which command the report is for: it words the findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Plan,
    Publish,
    Remove,
}

impl Verb {
    /// The command that does it.
    pub fn command(self) -> &'static str {
        match self {
            Verb::Plan => "plan",
            Verb::Publish => "publish",
            Verb::Remove => "remove",
        }
    }
}

/// A record as a zone-file line, its RDATA as [`SrvRecord`] writes it.
fn presentation(owner: &str, ttl: u32, record: &SrvRecord) -> String {
    format!("{owner} {ttl} IN SRV {record}")
}

fn lines(owner: &str, plan: &Plan, current_ttl: u32) -> Vec<ChangeLine> {
    plan.changes
        .iter()
        .map(|change| match change {
            Change::Add(r) => ChangeLine {
                op: "+",
                record: presentation(owner, plan.ttl, r),
                from: None,
                prune: false,
            },
            Change::Delete(r) => ChangeLine {
                op: "-",
                record: presentation(owner, current_ttl, r),
                from: None,
                prune: false,
            },
            Change::Modify { from, to } => ChangeLine {
                op: "~",
                record: presentation(owner, plan.ttl, to),
                from: Some(presentation(owner, current_ttl, from)),
                prune: false,
            },
            Change::Keep(r) => ChangeLine {
                op: " ",
                record: presentation(owner, current_ttl, r),
                from: None,
                prune: false,
            },
            Change::Foreign(r) => ChangeLine {
                op: "=",
                record: presentation(owner, current_ttl, r),
                from: None,
                prune: false,
            },
            Change::Prune(r) => ChangeLine {
                op: "-",
                record: presentation(owner, current_ttl, r),
                from: None,
                prune: true,
            },
        })
        .collect()
}

fn counts(outcome: &DomainOutcome) -> String {
    let mut text = outcome.plan.as_ref().map(plan_counts).unwrap_or_default();
    if !outcome.addresses.is_empty() {
        if !text.is_empty() {
            text.push_str(", ");
        }
        text.push_str(&format!(
            "{} address record(s) to add",
            outcome.addresses.len()
        ));
    }
    text
}

fn plan_counts(plan: &Plan) -> String {
    let (mut add, mut delete, mut modify, mut prune) = (0, 0, 0, 0);
    for change in &plan.changes {
        match change {
            Change::Add(_) => add += 1,
            Change::Delete(_) => delete += 1,
            Change::Prune(_) => prune += 1,
            Change::Modify { .. } => modify += 1,
            _ => {}
        }
    }
    let mut parts = Vec::new();
    if add > 0 {
        parts.push(format!("{add} to add"));
    }
    if delete > 0 {
        parts.push(format!("{delete} to delete"));
    }
    if modify > 0 {
        parts.push(format!("{modify} to change"));
    }
    if prune > 0 {
        parts.push(format!("{prune} to prune"));
    }
    if plan.ttl_change.is_some_and(|t| t.applied) {
        parts.push("the TTL to change".into());
    }
    parts.join(", ")
}

/// `ttl-differs` for an RRset whose records carry different TTLs, left so:
/// never "in sync" (RFC 2181 §5.2: one RRset, one TTL).
fn mixed_ttls(owner: &str, (lowest, highest, configured): (u32, u32, u32)) -> Finding {
    Finding::new(
        FindingId::TtlDiffers,
        Severity::Warning,
        format!(
            "the records of {owner} carry different TTLs ({lowest} to {highest} s): one RRset has one TTL (RFC 2181 §5.2), and caches may keep some records longer than others"
        ),
    )
    .hint(format!(
        "kmsdns publish --set-ttl gives every record the configured {configured} s"
    ))
}

/// The report for a run: details per domain, and one finding per domain
/// (plus one for a TTL difference left alone).
pub fn report(
    command: &'static str,
    verb: Verb,
    outcomes: &[DomainOutcome],
) -> Report<ChangeDetails> {
    let mut report = Report::new(command);
    let mut domains = Vec::new();
    for outcome in outcomes {
        let domain = outcome.domain.to_ascii();
        let owner = crate::config::srv_owner(&outcome.domain).to_ascii();
        let current_ttl = outcome
            .plan
            .as_ref()
            .map(|p| p.ttl_change.map_or(p.ttl, |t| t.from))
            .unwrap_or_default();
        let server = outcome
            .target
            .as_ref()
            .and_then(|t| t.primary.first())
            .map(ToString::to_string);
        // Records that disagree on their TTL, left so: (lowest, highest, configured).
        let mixed = outcome
            .plan
            .as_ref()
            .and_then(|p| p.ttl_change)
            .filter(|t| !t.applied)
            .and_then(|t| t.mixed.map(|highest| (t.from, highest, t.to)));
        let (name, finding) = match &outcome.outcome {
            Outcome::InSync => (
                "in-sync",
                Finding::new(
                    FindingId::InSync,
                    Severity::Ok,
                    match verb {
                        Verb::Remove => "none of our records to remove".to_string(),
                        _ => "our records are as configured".to_string(),
                    },
                ),
            ),
            Outcome::Pending if mixed.is_some() && counts(outcome).is_empty() => {
                ("pending", mixed_ttls(&owner, mixed.unwrap_or_default()))
            }
            Outcome::Pending => (
                "pending",
                Finding::new(
                    FindingId::ChangesPending,
                    Severity::Warning,
                    format!("changes pending: {}", counts(outcome)),
                )
                .hint("kmsdns publish applies them"),
            ),
            Outcome::Applied => {
                let plan_counts = counts(outcome);
                let applied = plan_counts.replace(" to ", " ");
                let mut message = format!(
                    "updated: {}",
                    if applied.is_empty() {
                        "TTL".to_string()
                    } else {
                        applied
                    }
                );
                if let Some(note) = &outcome.note {
                    message.push_str(&format!(" ({note})"));
                }
                if outcome.retries > 0 {
                    message.push_str(&format!(
                        " after {} re-read(s): another host changed the records meanwhile",
                        outcome.retries
                    ));
                }
                (
                    "applied",
                    Finding::new(FindingId::UpdateApplied, Severity::Ok, message),
                )
            }
            Outcome::Refused(refusal) => (
                "refused",
                Finding::new(
                    FindingId::RemoveLastRecord,
                    Severity::Critical,
                    refusal.to_string(),
                )
                .hint(refusal.hint()),
            ),
            Outcome::Failed(Failure::Deadline(overrun)) => {
                ("failed", overrun.finding(Severity::Critical))
            }
            Outcome::Failed(failure) => {
                let id = if outcome.target.is_none() || outcome.plan.is_none() {
                    FindingId::DnsReadFailed
                } else {
                    FindingId::UpdateFailed
                };
                let mut finding = Finding::new(id, Severity::Critical, failure.to_string());
                if let Some(hint) = failure.hint() {
                    finding = finding.hint(hint);
                }
                ("failed", finding)
            }
        };
        let mut finding = finding.domain(&domain);
        if let Some(server) = &server {
            finding = finding.server(server);
        }
        report.push(finding);
        if let Some(ttl) = outcome
            .plan
            .as_ref()
            .and_then(|p| p.ttl_change)
            .filter(|t| !t.applied)
        {
            if verb != Verb::Remove
                && !matches!(outcome.outcome, Outcome::Pending if mixed.is_some() && counts(outcome).is_empty())
            {
                report.push(
                    Finding::new(
                        FindingId::TtlDiffers,
                        Severity::Info,
                        format!("the RRset TTL is {}, the configuration says {}", ttl.from, ttl.to),
                    )
                    .domain(&domain)
                    .hint("--set-ttl applies it, to every host's record (TTL belongs to the whole RRset)"),
                );
            }
        }
        domains.push(DomainChanges {
            domain,
            zone: outcome.target.as_ref().map(|t| t.zone.to_ascii()),
            server,
            key: match &outcome.signer {
                Some(Signer::Key(key)) => Some(key.clone()),
                _ => None,
            },
            principal: match &outcome.signer {
                Some(Signer::Principal(principal)) => Some(principal.clone()),
                _ => None,
            },
            outcome: name,
            ttl: outcome.plan.as_ref().map(|p| p.ttl),
            ttl_change: outcome.plan.as_ref().and_then(|p| p.ttl_change),
            changes: outcome
                .plan
                .as_ref()
                .map(|p| lines(&owner, p, current_ttl))
                .unwrap_or_default()
                .into_iter()
                .chain(outcome.addresses.iter().map(|record| ChangeLine {
                    op: "+",
                    record: record.clone(),
                    from: None,
                    prune: false,
                }))
                .collect(),
            retries: outcome.retries,
            error: outcome.outcome.message(),
        });
    }
    report.with_details(ChangeDetails { domains })
}

/// `plan`, `publish`, `remove`: per domain, what was (or would be) changed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeDetails {
    pub domains: Vec<DomainChanges>,
}

/// One domain's plan and outcome.
#[derive(Debug, Clone, Serialize)]
pub struct DomainChanges {
    pub domain: String,
    /// The zone that holds `_vlmcs._tcp.<domain>`, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The primary server read and updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The TSIG key the updates are signed with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The Kerberos principal they are signed as (GSS-TSIG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// `in-sync`, `pending`, `applied`, `refused` or `failed`.
    pub outcome: &'static str,
    /// TTL of added records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_change: Option<super::planner::TtlChange>,
    pub changes: Vec<ChangeLine>,
    /// Re-reads forced by another host's concurrent change.
    pub retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One record in a plan: `+` add, `-` delete, `~` change, `=` another
/// host's record left alone, ` ` ours and unchanged.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeLine {
    pub op: &'static str,
    /// The record in zone-file syntax (the new one for `~`).
    pub record: String,
    /// For `~`: the record it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A `-` of `--prune`: the target is no configured host.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
}
