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
        findings: warnings.to_vec(),
        parts: Vec::new(),
        state: RandomState::new(),
        seen: HashMap::new(),
        warnings: &warnings,
    };
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
        hosts_reachable: 0,
        hosts_probed: 0,
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
            let mut reach = Reach::default();
            for domain in &d.domains {
                for target in &domain.targets {
                    let label = target.label();
                    for address in &target.addresses {
                        reach.add(&label, address);
                        metrics.hosts.push(match address {
                            AddressResult::Probed(probe) => {
                                HostMetric::from_probe(Some(&domain.domain), &label, probe)
                            }
                            AddressResult::DnsFailed(_) => {
                                HostMetric::without_address(Some(&domain.domain), &label)
                            }
                        });
                    }
                }
            }
            reach.fill(&mut details);
            details.probe = Some(d);
        }
    }
    let (report, parts) = merged.report();
    details.parts = parts;
    details.domains = metrics.domain_statuses(&report);
    Ok(AuditOutcome {
        report: report.with_details(Box::new(details)),
        metrics,
    })
}

/// The audit's findings as the parts' findings join it: one per fact.
struct Merged<'a> {
    findings: Vec<Finding>,
    /// The parts merged, in order.
    parts: Vec<&'static str>,
    /// Findings already there, by the hash of their id, domain and host:
    /// thousands of domains must cost neither a scan per finding
    /// nor a second copy of every finding.
    state: RandomState,
    seen: HashMap<u64, Vec<usize>>,
    /// The configuration's own warnings, which come once, not once per
    /// part.
    warnings: &'a [Finding],
}

impl Merged<'_> {
    /// Adds the findings of `part`, each fact once; returns its details.
    ///
    /// A finding another part made about the same thing (id, domain and
    /// host, and the same server when both name one: `srv-missing` of a
    /// domain from check, which names the server it read, and from probe,
    /// which asked the resolver) is the same fact: it is merged into the
    /// one already there, which keeps the worse severity with its words
    /// and lists both parts in `sources`. Two findings of one part are two
    /// facts (two differing records of one host), and stay two.
    fn merge<D>(&mut self, part: Report<D>, name: &'static str) -> Option<D> {
        self.parts.push(name);
        for mut finding in part.findings {
            if self.warnings.contains(&finding) {
                continue;
            }
            let subject = &finding.subject;
            let key = self
                .state
                .hash_one((finding.id, &subject.domain, &subject.host));
            let same = self.seen.entry(key).or_default();
            let earlier = same.iter().copied().find(|&at| {
                let there = &self.findings[at];
                if there.id != finding.id {
                    return false;
                }
                if there.sources.contains(&name) {
                    return there.subject == *subject && same_words(there, &finding);
                }
                there.subject.domain == subject.domain
                    && there.subject.host == subject.host
                    && (there.subject.server.is_none()
                        || subject.server.is_none()
                        || there.subject.server == subject.server)
            });
            match earlier {
                Some(at) => absorb(&mut self.findings[at], finding, name),
                None => {
                    finding.sources = vec![name];
                    same.push(self.findings.len());
                    self.findings.push(finding);
                }
            }
        }
        part.details
    }

    /// The report of every finding merged.
    fn report(self) -> (Report<()>, Vec<&'static str>) {
        let mut report = Report::new("audit");
        report.extend(self.findings);
        (report, self.parts)
    }
}

/// Whether two findings say the same words (a failed read seen twice).
fn same_words(a: &Finding, b: &Finding) -> bool {
    a.severity == b.severity && a.message == b.message && a.hint == b.hint
}

/// `finding` of `part` joins `into`, the same fact found earlier: the
/// worse severity wins with its words; both parts are sources.
fn absorb(into: &mut Finding, finding: Finding, part: &'static str) {
    if into.subject.server.is_none() {
        into.subject.server = finding.subject.server;
    }
    if finding.severity > into.severity {
        into.severity = finding.severity;
        into.message = finding.message;
        into.hint = finding.hint;
    }
    if !into.sources.contains(&part) {
        into.sources.push(part);
    }
}

/// Distinct KMS addresses and hosts probed, and which answered: a host
/// in the SRV set of three domains is one host, probed three times.
#[derive(Default)]
struct Reach {
    /// By address (or by host, for a target without one): reachable.
    addresses: HashMap<String, bool>,
    /// By host (`name:port`): reachable at one of its addresses.
    hosts: HashMap<String, bool>,
}

impl Reach {
    fn add(&mut self, host: &str, address: &AddressResult) {
        let kms = address.is_kms();
        let key = match address {
            AddressResult::Probed(probe) => probe.address.to_string(),
            AddressResult::DnsFailed(_) => format!("{host} (no address)"),
        };
        *self.addresses.entry(key).or_default() |= kms;
        *self.hosts.entry(host.to_string()).or_default() |= kms;
    }

    fn fill(&self, details: &mut AuditDetails) {
        let count = |map: &HashMap<String, bool>| map.values().filter(|kms| **kms).count();
        details.addresses_probed = self.addresses.len();
        details.addresses_reachable = count(&self.addresses);
        details.hosts_probed = self.hosts.len();
        details.hosts_reachable = count(&self.hosts);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FindingId, Severity};

    fn merged(warnings: &[Finding]) -> Merged<'_> {
        Merged {
            findings: Vec::new(),
            parts: Vec::new(),
            state: RandomState::new(),
            seen: HashMap::new(),
            warnings,
        }
    }

    fn part(findings: Vec<Finding>) -> Report<()> {
        let mut report = Report::new("part");
        report.extend(findings);
        report
    }

    fn missing(message: &str) -> Finding {
        Finding::new(FindingId::SrvMissing, Severity::Critical, message).domain("a.example.")
    }

    #[test]
    fn one_fact_from_two_parts_is_one_finding_with_both_sources() {
        let mut audit = merged(&[]);
        audit.merge(
            part(vec![missing("as ns1 answers").server("192.0.2.53:53")]),
            "check",
        );
        audit.merge(part(vec![missing("through the resolver")]), "probe");
        let (report, _) = audit.report();
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        let finding = &report.findings[0];
        assert_eq!(finding.sources, ["check", "probe"]);
        assert_eq!(finding.message, "as ns1 answers", "the first words stay");
        assert_eq!(finding.subject.server.as_deref(), Some("192.0.2.53:53"));
        assert_eq!(report.summary.critical, 1);
    }

    #[test]
    fn two_facts_stay_two() {
        let mut audit = merged(&[]);
        let differs = |message: &str| {
            Finding::new(FindingId::RecordDiffers, Severity::Warning, message)
                .domain("a.example.")
                .host("kms1.a.example.")
        };
        let unreachable = |server: &str| {
            Finding::new(FindingId::DnsReadFailed, Severity::Critical, "no reply")
                .domain("a.example.")
                .server(server)
        };
        audit.merge(
            part(vec![
                differs("port"),
                differs("weight"),
                unreachable("192.0.2.1:53"),
            ]),
            "check",
        );
        audit.merge(part(vec![unreachable("192.0.2.2:53")]), "replication");
        let (report, _) = audit.report();
        assert_eq!(report.findings.len(), 4, "{:?}", report.findings);
    }

    #[test]
    fn the_worse_severity_of_a_merged_fact_wins_with_its_words() {
        let mut worse = missing("critical").domain("b.example.");
        worse.severity = Severity::Critical;
        let mut first = missing("warning").domain("b.example.");
        first.severity = Severity::Warning;
        let mut audit = merged(&[]);
        audit.merge(part(vec![first]), "check");
        audit.merge(part(vec![worse]), "probe");
        let (report, _) = audit.report();
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].severity, Severity::Critical);
        assert_eq!(report.findings[0].message, "critical");
        assert_eq!(report.summary.warning, 0);
    }
}
