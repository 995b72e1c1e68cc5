//! `kmsdns audit`: everything a cron job or a monitoring system needs, in
//! one run: check + replication + updates (live) + probe.

pub mod details;
pub mod metrics;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use hickory_proto::rr::Name;
use indicatif::ProgressBar;

use super::check::CheckArgs;
use super::probe::ProbeArgs;
use super::replication::ReplicationArgs;
use super::updates::UpdatesArgs;
use crate::commands::probe::details::AddressResult;
use crate::context::Context;
use crate::context::{parse_domain, parse_duration, Selection};
use crate::error::Error;
use crate::report::{Finding, Report};
use details::AuditDetails;
use metrics::{HostMetric, Metrics, ServerMetric};

/// Audit everything in one run, for cron and monitoring: check +
/// replication + updates (live probe) + probe, over the whole publish list.
///
/// Every finding of the underlying commands, grouped by domain, with a
/// summary of domains by status and KMS addresses reachable. The DNS parts
/// run one after another, the probe beside them, each bounded by
/// --concurrency. Formats: text (with -q, nothing at all when everything is
/// OK, so cron mails only on problems),
/// json, nagios (one status line with performance data, then one line per
/// problem), prometheus (node-exporter textfile format; --textfile writes it
/// atomically). --fail-on chooses what makes a non-zero exit.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Audit DOMAIN instead of the publish list (repeatable)
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain)]
    pub domains: Vec<Name>,

    /// Also audit the update grants in this BIND configuration
    #[arg(long, value_name = "FILE")]
    pub named_conf: Option<PathBuf>,

    /// Skip the live update probe (an UPDATE of a sentinel record that cannot apply)
    #[arg(long)]
    pub no_updates: bool,

    /// Skip the KMS probe (TCP and RPC bind to every host)
    #[arg(long)]
    pub no_probe: bool,

    /// Warn when connect plus bind takes longer than MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub slow: u64,

    /// Also write the Prometheus metrics to PATH, atomically (node-exporter textfile collector)
    #[arg(long, value_name = "PATH")]
    pub textfile: Option<PathBuf>,

    /// In a signed zone, warn when a valid RRSIG expires within DUR
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "3days")]
    pub sig_expiry_warn: std::time::Duration,
}

/// The report, and the measurements monitoring formats graph.
pub struct AuditOutcome {
    pub report: Report<Box<AuditDetails>>,
    pub metrics: Metrics,
}

/// Runs every part and merges their reports.
pub async fn run(args: &AuditArgs, ctx: &Context) -> Result<AuditOutcome, Error> {
    // Fails early, with one message, on a bad configuration.
    let selection = Selection::new(&args.domains, ctx)?;
    let warnings: Vec<Finding> = selection
        .config
        .as_ref()
        .map(|c| c.warnings.clone())
        .unwrap_or_default();
    // Only the names are needed from here on, not the selection's index.
    let audited: Vec<String> = selection.domains.iter().map(|d| d.to_ascii()).collect();
    drop(selection);

    let progress = progress_bar(ctx, args);
    fn step<D>(
        progress: &ProgressBar,
        report: Result<Report<D>, Error>,
        name: &str,
    ) -> Result<Report<D>, Error> {
        progress.inc(1);
        progress.set_message(format!("{name} done"));
        report
    }
    let check = async {
        step(
            &progress,
            super::check::run(
                &CheckArgs {
                    domains: args.domains.clone(),
                    sig_expiry_warn: args.sig_expiry_warn,
                },
                ctx,
            )
            .await,
            "check",
        )
    };
    let replication = async {
        step(
            &progress,
            super::replication::run(
                &ReplicationArgs {
                    wait: None,
                    domains: args.domains.clone(),
                    sig_expiry_warn: args.sig_expiry_warn,
                    // check verifies them at every server already.
                    no_signatures: true,
                },
                ctx,
            )
            .await,
            "replication",
        )
    };
    let updates = async {
        if args.no_updates && args.named_conf.is_none() {
            return None;
        }
        let updates_args = UpdatesArgs {
            named_conf: args.named_conf.clone(),
            live: !args.no_updates,
            domains: args.domains.clone(),
        };
        Some(step(
            &progress,
            super::updates::run(&updates_args, ctx).await,
            "updates",
        ))
    };
    let probe = async {
        if args.no_probe {
            return None;
        }
        let probe_args = ProbeArgs {
            domain: args.domains.clone(),
            search: false,
            host: Vec::new(),
            slow: args.slow,
        };
        Some(step(
            &progress,
            super::probe::run(&probe_args, ctx).await,
            "probe",
        ))
    };
    // The DNS parts run one after another, beside the probe (bound by TCP
    // connects to the KMS hosts). They share what bounds them, the CPU and
    // the DNS servers, so running them at once saved little time, and it
    // held the transient state of all three at once (at 10,000 domains,
    // 83 MiB against 71). updates comes first: it holds its details as
    // values until it is done (it groups them by zone); the others keep
    // only compact JSON.
    let mut merged = Merged {
        report: Report::new("audit"),
        parts: Vec::new(),
        state: RandomState::new(),
        seen: HashMap::new(),
        warnings: &warnings,
    };
    merged.report.extend(warnings.iter().cloned());
    // Each part's findings join the audit's as soon as the part is done,
    // in the order check, replication, updates, probe.
    let dns_parts = async {
        let updates = updates.await.transpose()?;
        let check = merged.merge(check.await?, "check");
        let replication = merged.merge(replication.await?, "replication");
        let updates = updates.map(|updates| merged.merge(updates, "updates"));
        Ok::<_, Error>((check, replication, updates))
    };
    let (dns_parts, probe) = tokio::join!(dns_parts, probe);
    progress.finish_and_clear();
    let (check, replication, updates) = dns_parts?;
    let probe = probe.transpose()?;

    let mut details = AuditDetails {
        domains: Vec::new(),
        addresses_reachable: 0,
        addresses_probed: 0,
        parts: Vec::new(),
        check: None,
        replication: None,
        updates: None,
        probe: None,
    };
    let mut metrics = Metrics::new(SystemTime::now());
    metrics.domains = audited;

    if let Some(d) = check {
        details.check = Some(d);
    }
    if let Some(d) = replication {
        metrics.servers.extend(ServerMetric::of_replication(&d));
        details.replication = Some(d);
    }
    if let Some(Some(d)) = updates {
        details.updates = Some(d);
    }
    if let Some(probe) = probe {
        if let Some(d) = merged.merge(probe, "probe") {
            for domain in &d.domains {
                for target in &domain.targets {
                    let label = target.label();
                    for address in &target.addresses {
                        details.addresses_probed += 1;
                        match address {
                            AddressResult::Probed(probe) => {
                                if probe.outcome.is_kms() {
                                    details.addresses_reachable += 1;
                                }
                                metrics.hosts.push(HostMetric::from_probe(
                                    Some(&domain.domain),
                                    &label,
                                    probe,
                                ));
                            }
                            AddressResult::DnsFailed(_) => {
                                metrics.hosts.push(HostMetric::without_address(
                                    Some(&domain.domain),
                                    &label,
                                ));
                            }
                        }
                    }
                }
            }
            details.probe = Some(d);
        }
    }
    let Merged { report, parts, .. } = merged;
    details.parts = parts;
    details.domains = metrics.domain_statuses(&report);
    Ok(AuditOutcome {
        report: report.with_details(Box::new(details)),
        metrics,
    })
}

/// The audit's report as the parts' findings join it.
struct Merged<'a> {
    report: Report<()>,
    /// The parts merged, in order.
    parts: Vec<&'static str>,
    /// Findings already in the report, by hash: the parts overlap (the
    /// configuration's warnings, a failed read seen by two parts), and
    /// thousands of domains must cost neither a scan per finding nor a
    /// second copy of every finding.
    state: RandomState,
    seen: HashMap<u64, Vec<usize>>,
    /// The configuration's own warnings, which come once, not once per
    /// part.
    warnings: &'a [Finding],
}

impl Merged<'_> {
    /// Adds the findings of `part` not already there; returns its details.
    fn merge<D>(&mut self, part: Report<D>, name: &'static str) -> Option<D> {
        self.parts.push(name);
        for finding in part.findings {
            if self.warnings.contains(&finding) {
                continue;
            }
            let same = self.seen.entry(self.state.hash_one(&finding)).or_default();
            if same.iter().any(|&at| self.report.findings[at] == finding) {
                continue;
            }
            same.push(self.report.findings.len());
            self.report.push(finding);
        }
        part.details
    }
}

/// A progress line on stderr, drawn only when it is a terminal (indicatif
/// checks) and the output is text for people.
fn progress_bar(ctx: &Context, args: &AuditArgs) -> ProgressBar {
    let parts =
        2 + u64::from(!(args.no_updates && args.named_conf.is_none())) + u64::from(!args.no_probe);
    let bar = ctx.progress_bar(parts, "{spinner} audit: {pos}/{len} parts ({msg})");
    bar.set_message("running");
    bar
}
