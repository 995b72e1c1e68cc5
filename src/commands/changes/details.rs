//! What `plan`, `publish` and `remove` report: per domain, the change
//! planned or made (the serde types of `details`), and the findings, built
//! from each domain's outcome.

use serde::Serialize;

use super::engine::{DomainOutcome, Failure, Outcome, Signer};
use super::planner::{Change, Plan, TtlScope};
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
    // Each record read is shown with its own TTL (AD keeps one per record).
    let served = |r: &SrvRecord| presentation(owner, plan.read.ttl_of(r).unwrap_or(current_ttl), r);
    let line = |op, record, from| ChangeLine {
        op,
        record,
        from,
        prune: false,
        ttl_note: None,
    };
    plan.changes
        .iter()
        .map(|change| match change {
            Change::Add(r) => line("+", presentation(owner, plan.ttl, r), None),
            Change::Delete(r) => line("-", served(r), None),
            Change::Modify { from, to } => {
                line("~", presentation(owner, plan.ttl, to), Some(served(from)))
            }
            Change::Keep(r) => line(" ", served(r), None),
            Change::Foreign(r) => ChangeLine {
                ttl_note: foreign_ttl_note(plan, r),
                ..line("=", served(r), None)
            },
            Change::Prune(r) => ChangeLine {
                prune: true,
                ..line("-", served(r), None)
            },
        })
        .collect()
}

/// What a TTL change does to another host's record, which is never
/// re-added: on AD it keeps its own; where the TTL is the RRset's, the
/// server gives it the new one with ours.
fn foreign_ttl_note(plan: &Plan, record: &SrvRecord) -> Option<String> {
    if !plan.sets_ttl() {
        return None;
    }
    let own = plan.read.ttl_of(record)?;
    let new = plan.ttl;
    Some(match plan.scope {
        TtlScope::Record => format!("foreign record keeps TTL {own}"),
        TtlScope::Rrset if own == new => format!("foreign record already has TTL {new}"),
        TtlScope::Rrset => {
            format!("foreign record's TTL changes from {own} to {new} with the RRset")
        }
        TtlScope::Unknown => format!(
            "foreign record keeps TTL {own} if the server keeps a TTL per record (Active Directory), else changes to {new} with the RRset"
        ),
    })
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

/// `ttl-mixed` for an RRset as read whose records carry different TTLs,
/// left so: a remove or a publish without `--set-ttl`.
fn left_mixed(verb: Verb, outcome: &DomainOutcome, owner: &str) -> Option<Finding> {
    let plan = outcome.plan.as_ref()?;
    if verb == Verb::Remove || plan.sets_ttl() || !plan.read.mixed_ttls() {
        return None;
    }
    let configured = plan.ttl_change.map(|t| t.to);
    Some(crate::dns::ttl::mixed_finding(
        owner,
        &plan.read.records,
        &plan.read.record_ttls,
        plan.scope,
        configured,
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
        // Records that disagree on their TTL, left so; the whole news of a
        // plan that is pending for that alone.
        let mut mixed = left_mixed(verb, outcome, &owner);
        let only_mixed = matches!(outcome.outcome, Outcome::Pending)
            && mixed.is_some()
            && counts(outcome).is_empty();
        let pending_mixed = mixed.take_if(|_| only_mixed);
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
            Outcome::Pending => (
                "pending",
                pending_mixed.unwrap_or_else(|| {
                    Finding::new(
                        FindingId::ChangesPending,
                        Severity::Warning,
                        format!("changes pending: {}", counts(outcome)),
                    )
                    .hint("kmsdns publish applies them")
                }),
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
        if let Some(mixed) = mixed {
            report.push(mixed.domain(&domain));
        } else if let Some(ttl) = outcome
            .plan
            .as_ref()
            .and_then(|p| p.ttl_change)
            .filter(|t| !t.applied && !only_mixed && verb != Verb::Remove)
        {
            let reach = match ttl.scope {
                TtlScope::Record => {
                    "to our records; other hosts' keep theirs (AD keeps a TTL per record)"
                }
                TtlScope::Rrset => "to every host's record (TTL belongs to the whole RRset)",
                TtlScope::Unknown => {
                    "to our records, and to every host's where the TTL belongs to the whole RRset"
                }
            };
            report.push(
                Finding::new(
                    FindingId::TtlDiffers,
                    Severity::Info,
                    format!(
                        "the RRset TTL is {}, the configuration says {}",
                        ttl.from, ttl.to
                    ),
                )
                .domain(&domain)
                .hint(format!("--set-ttl applies it, {reach}")),
            );
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
                    ttl_note: None,
                }))
                .collect(),
            retries: outcome.retries,
            error: outcome.outcome.message(),
        });
    }
    report.with_details(ChangeDetails { domains })
}

/// `plan`, `publish`, `remove`: per domain, what was (or would be) changed.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// For `=` with `--set-ttl`: what becomes of the record's TTL, which
    /// is the server's doing (AD keeps it, others change it with ours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_note: Option<String>,
}
