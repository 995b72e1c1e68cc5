//! `kmsdns audit`: everything a cron job or a monitoring system needs, in
//! one run: check + replication + updates (live) + probe.

pub mod details;
pub mod metrics;

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use clap::Args;
use hickory_proto::rr::Name;
use indicatif::ProgressBar;

use super::check::CheckArgs;
use super::probe::ProbeArgs;
use super::replication::ReplicationArgs;
use super::updates::UpdatesArgs;
use crate::commands::check::details::CheckDetails;
use crate::commands::probe::details::{AddressResult, ProbeDetails};
use crate::commands::replication::details::ReplicationDetails;
use crate::commands::updates::details::UpdatesDetails;
use crate::config::Config;
use crate::context::Context;
use crate::context::{parse_domain, parse_duration, Selection, DOMAIN_SEPARATOR};
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
// No argument group of the struct's options: clap would record each
// `--domain` in it a second time (about 360 bytes), and nothing asks it.
#[group(skip)]
pub struct AuditArgs {
    /// Audit DOMAIN instead of the publish list (repeatable)
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain, value_delimiter = DOMAIN_SEPARATOR)]
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

    /// Audit N domains at a time: memory grows with N, not with the estate (in every format)
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

/// One window of the audit: its domains' findings, each fact once, the
/// details of each part for those domains, and their measurements.
pub struct AuditWindow {
    pub report: Report<Box<AuditDetails>>,
    pub metrics: Metrics,
}

/// What only the whole run knows, once every window is done.
pub struct AuditEnd {
    /// Findings about no domain (the configuration's warnings first), each
    /// fact once over the run: every window's parts may find them again.
    pub general: Vec<Finding>,
    /// The parts that ran, in order.
    pub parts: Vec<&'static str>,
    /// Distinct KMS addresses and hosts probed, and how many answered.
    pub addresses_reachable: usize,
    pub addresses_probed: usize,
    pub hosts_reachable: usize,
    pub hosts_probed: usize,
}

/// Where the audit hands each window as soon as it is done, so that a run
/// keeps only the domains of one window, whatever the estate's size.
pub trait AuditSink {
    /// How many domains a window may hold; `None`: the whole estate in
    /// one window.
    fn window_size(&self) -> Option<usize>;
    /// Takes a finished window. An error stops the run.
    fn window(&mut self, window: AuditWindow) -> std::io::Result<()>;
    /// Whether the run stopped because the sink could keep no more output:
    /// the windows it took are whole, and are still written.
    fn stopped(&self) -> bool;
}

/// Runs every part over each window of the estate, merges their reports
/// and hands each window to `sink`; returns what the whole run knows.
///
/// A window is a run of consecutive domains of the selection, in its
/// order; the parts of a window run as they did over the whole estate
/// (the DNS parts one after another, the probe beside them). What the run
/// learns of hosts, servers and zones (addresses, each server's software,
/// a zone's DNSSEC keys) it keeps across windows, within bounds of its
/// own, and the servers that did not answer too; which zone holds each domain is
/// forgotten after its window. What a part finds per zone (replication's
/// serials) and each KMS address probed are a window's own: a zone with
/// domains in two windows is polled in each, and a KMS host silent for
/// one window's probe is waited for again in the next.
pub async fn run(
    args: &AuditArgs,
    ctx: &Context,
    sink: &mut dyn AuditSink,
) -> Result<AuditEnd, Error> {
    // Fails early, with one message, on a bad configuration.
    let selected = Selected::new(args, ctx)?;
    let warnings = selected.warnings();
    let spooled = sink.window_size();
    if spooled.is_some() {
        // Before any query: a run that cannot keep its windows would find
        // that out only after the first one.
        tempfile::tempfile().map_err(|e| Error::unkept("audit", e))?;
    }
    let count = selected.len();
    let size = spooled.unwrap_or(usize::MAX).clamp(1, count.max(1));
    let one = size >= count;
    let progress = progress_bar(ctx, args, count.div_ceil(size).max(1));
    let mut general = General::new(&warnings);
    let mut reach = Reach::default();
    let mut parts = Vec::new();
    for start in (0..count).step_by(size) {
        let chunk = selected.window(start..count.min(start + size));
        // One window: the parts take the selection as given (the publish
        // list, or --domain); more: each window's domains as --domain.
        let domains = if one { &args.domains[..] } else { &chunk[..] };
        let audited: Vec<String> = chunk.iter().map(Name::to_ascii).collect();
        let window = audit_window(args, ctx, domains, &warnings, &progress).await?;
        ctx.window_done();
        let (merged, details) = window;
        let (mut report, window_parts) = merged.report(&mut general);
        parts = window_parts;
        by_domain(&mut report.findings, &audited);
        let mut metrics = Metrics::new(SystemTime::now());
        metrics.domains = audited;
        let details = window_details(details, &mut metrics, &mut reach);
        let mut details = Box::new(details);
        details.parts = parts.clone();
        details.domains = metrics.domain_statuses(&report);
        let taken = sink.window(AuditWindow {
            report: report.with_details(details),
            metrics,
        });
        match taken {
            Err(error) if !sink.stopped() => return Err(Error::unkept("audit", error)),
            // The windows done are written, and why the run stopped.
            Err(_) => break,
            Ok(()) => {}
        }
    }
    progress.finish_and_clear();
    let (addresses_reachable, addresses_probed, hosts_reachable, hosts_probed) = reach.counts();
    Ok(AuditEnd {
        general: general.findings,
        parts,
        addresses_reachable,
        addresses_probed,
        hosts_reachable,
        hosts_probed,
    })
}

/// The domains of the audit: `--domain`'s, or the publish list's, whose
/// names are copied a window at a time (all of them at once were 8 MB at
/// 100,000 domains).
enum Selected {
    Given(Selection),
    Configured(Arc<Config>),
}

impl Selected {
    fn new(args: &AuditArgs, ctx: &Context) -> Result<Selected, Error> {
        if args.domains.is_empty() {
            return Ok(Selected::Configured(ctx.config()?));
        }
        Selection::new(&args.domains, ctx).map(Selected::Given)
    }

    /// The configuration's warnings, if there is one.
    fn warnings(&self) -> Vec<Finding> {
        let config = match self {
            Selected::Given(selection) => selection.config.as_deref(),
            Selected::Configured(config) => Some(&**config),
        };
        config.map(|c| c.warnings.clone()).unwrap_or_default()
    }

    fn len(&self) -> usize {
        match self {
            Selected::Given(selection) => selection.domains.len(),
            Selected::Configured(config) => config.domains.len(),
        }
    }

    /// The names of the domains at `range`, in order.
    fn window(&self, range: Range<usize>) -> Cow<'_, [Name]> {
        match self {
            Selected::Given(selection) => Cow::Borrowed(&selection.domains[range]),
            Selected::Configured(config) => Cow::Owned(
                config.domains[range]
                    .iter()
                    .map(|d| d.name.clone())
                    .collect(),
            ),
        }
    }
}

/// Orders `findings` by their domain's place in `domains`, each domain's
/// in the order the parts found them: the same order however the estate
/// is cut into windows. Findings about another domain come last.
fn by_domain(findings: &mut [Finding], domains: &[String]) {
    let place: HashMap<&str, usize> = domains
        .iter()
        .enumerate()
        .map(|(at, domain)| (domain.as_str(), at))
        .collect();
    findings.sort_by_key(|finding| {
        finding
            .subject
            .domain
            .as_deref()
            .and_then(|domain| place.get(domain).copied())
            .unwrap_or(usize::MAX)
    });
}

/// Every part's details of one window, before the audit's own are added.
struct Parts {
    check: Option<CheckDetails>,
    replication: Option<ReplicationDetails>,
    updates: Option<UpdatesDetails>,
    probe: Option<ProbeDetails>,
}

/// Runs the parts over `domains` (empty: the publish list) and merges
/// their findings, each fact once.
async fn audit_window<'w>(
    args: &AuditArgs,
    ctx: &Context,
    domains: &[Name],
    warnings: &'w [Finding],
    progress: &ProgressBar,
) -> Result<(Merged<'w>, Parts), Error> {
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
            progress,
            super::check::run(
                &CheckArgs {
                    domains: domains.to_vec(),
                    sig_expiry_warn: args.sig_expiry_warn,
                    // The audit's own windows are the window.
                    window: args.window,
                },
                ctx,
            )
            .await,
            "check",
        )
    };
    let replication = async {
        step(
            progress,
            super::replication::run(
                &ReplicationArgs {
                    wait: None,
                    domains: domains.to_vec(),
                    sig_expiry_warn: args.sig_expiry_warn,
                    // check verifies them at every server already.
                    no_signatures: true,
                    window: args.window,
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
            domains: domains.to_vec(),
            // audit runs its own windows: this one is given its domains.
            window: args.window,
        };
        Some(step(
            progress,
            super::updates::run(&updates_args, ctx).await,
            "updates",
        ))
    };
    let probe = async {
        if args.no_probe {
            return None;
        }
        let probe_args = ProbeArgs {
            domain: domains.to_vec(),
            search: false,
            host: Vec::new(),
            slow: args.slow,
            window: args.window,
        };
        Some(step(
            progress,
            super::probe::run(&probe_args, ctx).await,
            "probe",
        ))
    };
    // The DNS parts run one after another, beside the probe (bound by TCP
    // connects to the KMS hosts). They share what bounds them, the CPU and
    // the DNS servers, so running them at once saved little time, and it
    // held the transient state of all three at once (at 10,000 domains,
    // 83 MiB against 71). updates comes first: it holds its details as
    // values until it is done (it groups them by zone).
    let mut merged = Merged {
        findings: Vec::new(),
        parts: Vec::new(),
        state: RandomState::new(),
        seen: HashMap::new(),
        warnings,
    };
    // Each part's findings join the audit's as soon as the part is done,
    // in the order check, replication, updates, probe.
    let dns_parts = async {
        let updates = updates.await.transpose()?;
        let check = merged.merge(check.await?, "check");
        let replication = merged.merge(replication.await?, "replication");
        let updates = updates.and_then(|updates| merged.merge(updates, "updates"));
        Ok::<_, Error>((check, replication, updates))
    };
    let (dns_parts, probe) = tokio::join!(dns_parts, probe);
    let (check, replication, updates) = dns_parts?;
    let probe = probe.transpose()?;
    let probe = probe.and_then(|probe| merged.merge(probe, "probe"));
    Ok((
        merged,
        Parts {
            check,
            replication,
            updates,
            probe,
        },
    ))
}

/// The audit's details of one window, and its measurements: the servers
/// replication compared, each KMS address probed (counted in `reach`).
fn window_details(parts: Parts, metrics: &mut Metrics, reach: &mut Reach) -> AuditDetails {
    let mut window = Reach::default();
    if let Some(d) = &parts.replication {
        metrics.servers.extend(ServerMetric::of_replication(d));
    }
    if let Some(d) = &parts.probe {
        for domain in &d.domains {
            for target in &domain.targets {
                let label = target.label();
                for address in &target.addresses {
                    window.add(&label, address);
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
    }
    let (addresses_reachable, addresses_probed, hosts_reachable, hosts_probed) = window.counts();
    AuditDetails {
        domains: Vec::new(),
        addresses_reachable,
        addresses_probed,
        hosts_reachable,
        hosts_probed,
        parts: Vec::new(),
        check: parts.check,
        replication: parts.replication,
        updates: parts.updates,
        probe: parts.probe,
    }
}

/// Findings about no domain, over the whole run: the configuration's
/// warnings, then each other such fact once (every window's parts may
/// find it again), its sources merged.
struct General {
    findings: Vec<Finding>,
}

impl General {
    fn new(warnings: &[Finding]) -> Self {
        General {
            findings: warnings.to_vec(),
        }
    }

    /// Keeps the findings about no domain of `window`, returns the others.
    fn take(&mut self, window: Vec<Finding>) -> Vec<Finding> {
        let mut about_domains = Vec::with_capacity(window.len());
        for finding in window {
            if finding.subject.domain.is_some() {
                about_domains.push(finding);
                continue;
            }
            let same = self.findings.iter_mut().find(|there| {
                there.id == finding.id
                    && there.subject == finding.subject
                    && same_words(there, &finding)
            });
            match same {
                Some(there) => {
                    for source in finding.sources {
                        if !there.sources.contains(&source) {
                            there.sources.push(source);
                        }
                    }
                }
                None => self.findings.push(finding),
            }
        }
        about_domains
    }
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

    /// The report of every finding merged about a domain; those about
    /// none join `general`.
    fn report(self, general: &mut General) -> (Report<()>, Vec<&'static str>) {
        let mut report = Report::new("audit");
        report.extend(general.take(self.findings));
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

    /// Addresses reachable and probed, hosts reachable and probed.
    fn counts(&self) -> (usize, usize, usize, usize) {
        let count = |map: &HashMap<String, bool>| map.values().filter(|kms| **kms).count();
        (
            count(&self.addresses),
            self.addresses.len(),
            count(&self.hosts),
            self.hosts.len(),
        )
    }
}

/// A progress line on stderr, drawn only when it is a terminal (indicatif
/// checks) and the output is text for people.
fn progress_bar(ctx: &Context, args: &AuditArgs, windows: usize) -> ProgressBar {
    let parts =
        2 + u64::from(!(args.no_updates && args.named_conf.is_none())) + u64::from(!args.no_probe);
    let bar = ctx.progress_bar(
        parts * windows as u64,
        "{spinner} audit: {pos}/{len} parts ({msg})",
    );
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
        let (report, _) = audit.report(&mut General::new(&[]));
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
        let (report, _) = audit.report(&mut General::new(&[]));
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
        let (report, _) = audit.report(&mut General::new(&[]));
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].severity, Severity::Critical);
        assert_eq!(report.findings[0].message, "critical");
        assert_eq!(report.summary.warning, 0);
    }
}
