//! `audit`'s output, made as the audit goes, so that a run keeps only the
//! domains of one window in memory, whatever the estate's size.
//!
//! Each format starts with what only the whole run knows (the text's
//! summary line and list of domains, Nagios's status line, Prometheus's
//! run families), so each window is rendered as soon as it is done into
//! unnamed temporary files (removed by the system when the run ends, also
//! on a crash), and the run's totals are counted. At the end the totals
//! are written, then the spooled parts, in the order the formats have
//! always had: the output is the same as if the whole estate had been
//! one window. Findings about no domain (the configuration's warnings,
//! named.conf's) are known only at the end and come before the findings
//! about domains.
//!
//! JSON lines (`--format jsonl`) spool each window's domain and zone
//! lines, and end with the totals line. JSON spools each window's domains,
//! zones and findings ([`json::JsonSpool`]) and writes its one document at
//! the end, with the run's counts.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::json::JsonSpool;
use super::spool::{run_stopped, Spool};
use super::{jsonl, nagios, prometheus, text, Details, Document, Io};
use crate::commands::audit::details::{write_domain, AuditDetails, DomainStatus, Tally};
use crate::commands::audit::metrics::Metrics;
use crate::commands::audit::{AuditEnd, AuditSink, AuditWindow};
use crate::context::Format;
use crate::report::palette::Palette;
use crate::report::{Finding, Report, Severity, Summary};

/// The output of one audit, fed window by window.
pub struct AuditWriter {
    format: Format,
    /// Domains a window holds (`audit --window`).
    window: usize,
    palette: Palette,
    quiet: bool,
    textfile: Option<PathBuf>,
    status: Severity,
    summary: Summary,
    json: Option<JsonSpool>,
    /// JSON: the last window's details without their domains and zones.
    skeleton: Option<Box<AuditDetails>>,
    text: Option<TextSpool>,
    nagios: Option<NagiosSpool>,
    prometheus: Option<PrometheusSpool>,
    jsonl: Option<JsonlSpool>,
    /// Why the run stopped after the last window taken: a spool's file
    /// took no more of it.
    stopped: Option<String>,
}

impl AuditWriter {
    pub fn new(
        format: Format,
        window: usize,
        palette: Palette,
        quiet: bool,
        textfile: Option<PathBuf>,
    ) -> io::Result<Self> {
        let prometheus =
            (format == Format::Prometheus || textfile.is_some()).then(PrometheusSpool::new);
        Ok(AuditWriter {
            format,
            window,
            palette,
            quiet,
            textfile,
            status: Severity::Ok,
            summary: Summary::default(),
            json: (format == Format::Json).then(JsonSpool::new).transpose()?,
            skeleton: None,
            text: (format == Format::Text).then(TextSpool::new).transpose()?,
            nagios: (format == Format::Nagios)
                .then(NagiosSpool::new)
                .transpose()?,
            prometheus,
            jsonl: (format == Format::Jsonl)
                .then(JsonlSpool::new)
                .transpose()?,
            stopped: None,
        })
    }

    /// Writes the audit once `end` is known (every window done, or the run
    /// stopped); returns the exit status.
    pub fn finish(mut self, mut end: AuditEnd, io: &mut Io<'_>) -> io::Result<u8> {
        if let Some(error) = self.stopped.take() {
            end.general.push(run_stopped("audit", &error));
        }
        for finding in &end.general {
            self.count(finding);
        }
        let last_run = SystemTime::now();
        if let (Some(path), Some(spool)) = (&self.textfile, &mut self.prometheus) {
            let written = prometheus::write_textfile_with(path, |file| {
                let mut out = BufWriter::new(file);
                spool.write(self.status, &self.summary, &end.general, last_run, &mut out)?;
                out.flush()
            });
            if let Err(error) = written {
                return super::write_error("audit", &error.to_string(), self.format, io);
            }
        }
        match self.format {
            Format::Json => {
                let (Some(mut spool), Some(mut details)) = (self.json.take(), self.skeleton.take())
                else {
                    return Err(io::Error::other("the audit gave no window"));
                };
                details.addresses_reachable = end.addresses_reachable;
                details.addresses_probed = end.addresses_probed;
                details.hosts_reachable = end.hosts_reachable;
                details.hosts_probed = end.hosts_probed;
                details.parts = end.parts;
                // Its arrays are empty: the spools have them.
                spool.details(&details)?;
                let mut out = BufWriter::new(&mut *io.stdout);
                let totals = (self.status, self.summary);
                spool.write("audit", totals, (&end.general, &[]), &mut out)?;
                out.flush()?;
            }
            Format::Text => {
                if let Some(spool) = self.text.take() {
                    let tally = Tally {
                        addresses_reachable: end.addresses_reachable,
                        addresses_probed: end.addresses_probed,
                        hosts_reachable: end.hosts_reachable,
                        hosts_probed: end.hosts_probed,
                        parts: end.parts.clone(),
                        ..spool.tally.clone()
                    };
                    let mut out = BufWriter::new(&mut *io.stdout);
                    spool.write(&self, &tally, &end.general, &mut out)?;
                    out.flush()?;
                }
            }
            Format::Nagios => {
                if let Some(spool) = self.nagios.take() {
                    let mut out = BufWriter::new(&mut *io.stdout);
                    spool.write((self.status, self.summary), &end.general, false, &mut out)?;
                    out.flush()?;
                }
            }
            Format::Jsonl => {
                if let Some(spool) = self.jsonl.take() {
                    let mut out = BufWriter::new(&mut *io.stdout);
                    let totals = (self.status, self.summary);
                    spool.write(
                        "audit",
                        totals,
                        &end.general,
                        |rest| end_details(rest, &end),
                        &mut out,
                    )?;
                    out.flush()?;
                }
            }
            Format::Prometheus => {
                if let Some(spool) = &mut self.prometheus {
                    let mut out = BufWriter::new(&mut *io.stdout);
                    spool.write(self.status, &self.summary, &end.general, last_run, &mut out)?;
                    out.flush()?;
                }
            }
        }
        io.stdout.flush()?;
        Ok(self.status.exit_status())
    }

    fn count(&mut self, finding: &Finding) {
        self.status = self.status.max(finding.severity);
        self.summary.count(finding.severity);
    }
}

impl AuditSink for AuditWriter {
    fn window_size(&self) -> Option<usize> {
        Some(self.window)
    }

    fn window(&mut self, window: AuditWindow) -> io::Result<()> {
        for finding in &window.report.findings {
            self.count(finding);
        }
        let statuses = window
            .report
            .details
            .as_ref()
            .map_or(&[][..], |d| d.domains.as_slice());
        if let Some(spool) = &mut self.text {
            spool.add(statuses, &window.report.findings, self.quiet)?;
        }
        if let Some(spool) = &mut self.nagios {
            spool.add(statuses, &window.report.findings, &window.metrics)?;
        }
        if let Some(spool) = &mut self.prometheus {
            let series = window.report.details.as_deref();
            let series = series.map(prometheus::series::of_audit);
            spool.add(&window.report, series.unwrap_or_default(), &window.metrics)?;
        }
        if let Some(spool) = &mut self.jsonl {
            spool.add(&window.report.map_details(Details::Audit))?;
        } else if let Some(spool) = &mut self.json {
            spool.findings(&window.report.findings)?;
            if let Some(details) = window.report.details {
                spool.details(&details)?;
                self.skeleton = Some(without_estate(details));
            }
        }
        // The window is kept all the same (in memory): the output of
        // every window done is still written, with why the run stopped.
        let Some(failure) = self.failure() else {
            return Ok(());
        };
        let error = io::Error::new(failure.kind(), failure.to_string());
        self.stopped = Some(error.to_string());
        Err(error)
    }

    fn stopped(&self) -> bool {
        self.stopped.is_some()
    }
}

impl AuditWriter {
    /// Why a spool of the format's (or `--textfile`'s) took no more (see
    /// [`Spool`]).
    fn failure(&self) -> Option<&io::Error> {
        let textfile = self.prometheus.as_ref().and_then(PrometheusSpool::failure);
        let format = match self.format {
            Format::Text => self.text.as_ref().and_then(TextSpool::failure),
            Format::Nagios => self.nagios.as_ref().and_then(NagiosSpool::failure),
            Format::Jsonl => self.jsonl.as_ref().and_then(JsonlSpool::failure),
            Format::Json => self.json.as_ref().and_then(JsonSpool::failure),
            Format::Prometheus => None,
        };
        format.or(textfile)
    }
}

/// `details` without what [`JsonSpool`] spools, the arrays of domains and
/// zones: what the document needs of them at the end.
fn without_estate(mut details: Box<AuditDetails>) -> Box<AuditDetails> {
    details.domains = Vec::new();
    if let Some(check) = &mut details.check {
        check.domains = Vec::new();
    }
    if let Some(replication) = &mut details.replication {
        replication.zones = Vec::new();
    }
    if let Some(updates) = &mut details.updates {
        updates.zones = Vec::new();
    }
    if let Some(probe) = &mut details.probe {
        probe.domains = Vec::new();
    }
    details
}

/// The audit's details of no domain or zone, with what only the whole
/// run knows.
fn end_details(details: &mut Option<serde_json::Value>, end: &AuditEnd) {
    let details = details.get_or_insert_with(|| serde_json::json!({}));
    details["addresses_reachable"] = end.addresses_reachable.into();
    details["addresses_probed"] = end.addresses_probed.into();
    details["hosts_reachable"] = end.hosts_reachable.into();
    details["hosts_probed"] = end.hosts_probed.into();
    details["parts"] = end.parts.clone().into();
}

/// The text: the domains with their status, the findings shown, grouped
/// by domain, and what the first line and the alignment need.
struct TextSpool {
    domains: Spool,
    findings: TextFindings,
    tally: Tally,
    /// The longest domain name shown, for alignment.
    domain_width: usize,
}

impl TextSpool {
    fn new() -> io::Result<Self> {
        Ok(TextSpool {
            domains: Spool::new()?,
            findings: TextFindings::new()?,
            tally: Tally::default(),
            domain_width: 0,
        })
    }

    fn add(
        &mut self,
        statuses: &[DomainStatus],
        findings: &[Finding],
        quiet: bool,
    ) -> io::Result<()> {
        for domain in statuses {
            self.tally.count(domain.status);
            self.domain_width = self.domain_width.max(domain.domain.len());
            self.domains.push(domain)?;
        }
        self.findings.add(findings, quiet)
    }

    /// Why a spool's file took no more (see [`Spool`]).
    fn failure(&self) -> Option<&io::Error> {
        self.domains.failure().or(self.findings.failure())
    }

    /// As `text::render` writes a report with audit's details.
    fn write(
        mut self,
        writer: &AuditWriter,
        tally: &Tally,
        general: &[Finding],
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (palette, quiet) = (writer.palette, writer.quiet);
        if quiet && writer.status <= Severity::Info {
            return Ok(());
        }
        tally.write(palette, out)?;
        for domain in self.domains.values::<DomainStatus>()? {
            let domain = domain?;
            write_domain(
                &domain.domain,
                domain.status,
                self.domain_width,
                palette,
                out,
            )?;
        }
        writeln!(out)?;
        self.findings.write(general, false, (palette, quiet), out)?;
        text::write_totals(writer.status, &writer.summary, palette, out)
    }
}

/// The findings a text shows, grouped by domain as each window's come,
/// and the width their ids are aligned to.
pub(super) struct TextFindings {
    spool: Spool,
    id_width: usize,
}

impl TextFindings {
    pub(super) fn new() -> io::Result<Self> {
        Ok(TextFindings {
            spool: Spool::new()?,
            id_width: 0,
        })
    }

    /// Takes a window's findings about domains.
    pub(super) fn add(&mut self, findings: &[Finding], quiet: bool) -> io::Result<()> {
        let shown: Vec<&Finding> = findings.iter().filter(|f| shown(f, quiet)).collect();
        self.id_width = self.id_width.max(text::id_width(shown.iter().copied()));
        for (_, group) in text::grouped(&shown) {
            for finding in group {
                self.spool.push(finding)?;
            }
        }
        Ok(())
    }

    /// Why its spool's file took no more (see [`Spool`]).
    pub(super) fn failure(&self) -> Option<&io::Error> {
        self.spool.failure()
    }

    /// Writes every finding under its heading, those about no domain
    /// (`general`) first, or last when `general_last`.
    pub(super) fn write(
        mut self,
        general: &[Finding],
        general_last: bool,
        (palette, quiet): (Palette, bool),
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let general: Vec<&Finding> = general.iter().filter(|f| shown(f, quiet)).collect();
        let id_width = self.id_width.max(text::id_width(general.iter().copied()));
        if !general_last {
            text::write_groups(&general, id_width, palette, out)?;
        }
        let mut heading = None;
        for finding in self.spool.values::<Finding>()? {
            let finding = finding?;
            let this = text::heading(&finding);
            if heading.as_ref() != Some(&this) {
                writeln!(out, "{}", palette.heading(&this))?;
                heading = Some(this);
            }
            text::write_finding(&finding, id_width, palette, out)?;
        }
        if general_last {
            text::write_groups(&general, id_width, palette, out)?;
        }
        Ok(())
    }
}

/// Whether the text shows `finding`: with `-q`, only warnings and worse.
fn shown(finding: &Finding, quiet: bool) -> bool {
    !quiet || finding.severity >= Severity::Warning
}

/// Nagios: the long output, one spool per severity (worst first, each in
/// the order found), and what the status line needs.
pub(super) struct NagiosSpool {
    critical: Spool,
    warning: Spool,
    info: Spool,
    line: nagios::StatusLine,
    /// The first warning, in case no critical comes.
    first_warning: Option<Finding>,
    latency: Option<Duration>,
    lag: Option<u32>,
}

impl NagiosSpool {
    pub(super) fn new() -> io::Result<Self> {
        Ok(NagiosSpool::of([
            Spool::new()?,
            Spool::new()?,
            Spool::new()?,
        ]))
    }

    /// One made once the windows are done, whose spools keep what they
    /// are given in memory if no temporary file can be made
    /// ([`Spool::during_run`]): the output of every window is then still
    /// written.
    fn at_end() -> Self {
        NagiosSpool::of([(); 3].map(|()| Spool::during_run()))
    }

    fn of([critical, warning, info]: [Spool; 3]) -> Self {
        NagiosSpool {
            critical,
            warning,
            info,
            line: nagios::StatusLine::default(),
            first_warning: None,
            latency: None,
            lag: None,
        }
    }

    /// Takes a window: its domains, its findings, its measurements.
    pub(super) fn add(
        &mut self,
        statuses: &[DomainStatus],
        findings: &[Finding],
        metrics: &Metrics,
    ) -> io::Result<()> {
        for domain in statuses {
            self.line.count_domain(domain.status);
        }
        for finding in findings {
            self.problem(finding)?;
        }
        self.latency = self.latency.max(metrics.probe_latency_max());
        self.lag = self.lag.max(metrics.replication_lag_max());
        Ok(())
    }

    fn problem(&mut self, finding: &Finding) -> io::Result<()> {
        self.line.findings += 1;
        let spool = match finding.severity {
            Severity::Ok => return Ok(()),
            Severity::Info => &mut self.info,
            Severity::Warning => {
                if self.first_warning.is_none() {
                    self.first_warning = Some(finding.clone());
                }
                &mut self.warning
            }
            Severity::Critical => {
                if self.line.worst.is_none() {
                    self.line.worst = Some(finding.clone());
                }
                &mut self.critical
            }
        };
        nagios::write_long_line(finding, spool)
    }

    /// Why a spool's file took no more (see [`Spool`]).
    pub(super) fn failure(&self) -> Option<&io::Error> {
        [&self.critical, &self.warning, &self.info]
            .into_iter()
            .find_map(Spool::failure)
    }

    /// Writes the status line and the long output, the findings about no
    /// domain (`general`) first in each severity, or last when
    /// `general_last` (as a command's report has them).
    pub(super) fn write(
        self,
        (status, summary): (Severity, Summary),
        general: &[Finding],
        general_last: bool,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        // Through a spool of their own.
        let mut other = NagiosSpool::at_end();
        for finding in general {
            other.problem(finding)?;
        }
        let (first, then) = match general_last {
            false => (other, self),
            true => (self, other),
        };
        let mut line = first.line;
        line.findings += then.line.findings;
        line.worst = line
            .worst
            .or(then.line.worst)
            .or(first.first_warning)
            .or(then.first_warning);
        line.domains += then.line.domains;
        line.critical += then.line.critical;
        line.warning += then.line.warning;
        line.ok += then.line.ok;
        line.status = status;
        line.summary = summary;
        line.latency = first.latency.max(then.latency);
        line.lag = first.lag.max(then.lag);
        line.write(out)?;
        for (mut before, mut after) in [
            (first.critical, then.critical),
            (first.warning, then.warning),
            (first.info, then.info),
        ] {
            before.copy_to(out)?;
            after.copy_to(out)?;
        }
        Ok(())
    }
}

/// JSON lines: each window's domain and zone lines, and what the totals
/// line needs.
pub(super) struct JsonlSpool {
    lines: Spool,
    domains: usize,
    /// The details of no domain or zone, as the last window has them.
    rest: Option<serde_json::Value>,
}

impl JsonlSpool {
    pub(super) fn new() -> io::Result<Self> {
        Ok(JsonlSpool {
            lines: Spool::new()?,
            domains: 0,
            rest: None,
        })
    }

    /// Takes a window: the lines of its domains and zones.
    pub(super) fn add(&mut self, report: &Document) -> io::Result<()> {
        self.domains += jsonl::write_lines(report, &mut self.lines)?;
        self.rest = report.details.as_ref().and_then(jsonl::rest);
        Ok(())
    }

    /// Why its spool's file took no more (see [`Spool`]).
    pub(super) fn failure(&self) -> Option<&io::Error> {
        self.lines.failure()
    }

    /// Writes every line, then the totals, with `general`: the findings
    /// about no domain; `finish` completes the details of the totals.
    pub(super) fn write(
        mut self,
        command: &str,
        (status, summary): (Severity, Summary),
        general: &[Finding],
        finish: impl FnOnce(&mut Option<serde_json::Value>),
        out: &mut dyn Write,
    ) -> io::Result<()> {
        self.lines.copy_to(out)?;
        finish(&mut self.rest);
        let totals = jsonl::Totals {
            status,
            summary,
            domains: self.domains,
            details: self.rest,
        };
        let general: Vec<&Finding> = general.iter().collect();
        totals.write(command, &general, out)
    }
}

/// Prometheus: one spool per family of the estate (domains, addresses,
/// servers, the parts' series), and the findings counted by id.
pub(super) struct PrometheusSpool {
    /// Each family of the estate (its samples cleared) and its spool, in
    /// the order the families are written.
    families: Vec<(prometheus::Family, Spool)>,
    by_id: prometheus::ByIdCounts,
    /// The zones whose samples an earlier window wrote: a zone with
    /// domains in two windows is read in both, and node-exporter rejects a
    /// file with a sample twice.
    zones: HashSet<u64>,
    state: RandomState,
}

impl PrometheusSpool {
    pub(super) fn new() -> Self {
        PrometheusSpool {
            families: Vec::new(),
            by_id: Vec::new(),
            zones: HashSet::new(),
            state: RandomState::new(),
        }
    }

    /// Takes a window: its report, its command's own series, its
    /// measurements.
    pub(super) fn add<D>(
        &mut self,
        report: &Report<D>,
        series: Vec<prometheus::Family>,
        metrics: &Metrics,
    ) -> io::Result<()> {
        prometheus::count_by_id(&report.findings, &mut self.by_id);
        let families = prometheus::estate_families(report, series, metrics);
        let mut zones = Vec::new();
        for (at, mut family) in families.into_iter().enumerate() {
            family.retain(|labels| match zone_of(labels) {
                Some(zone) => {
                    let key = self.state.hash_one(zone);
                    zones.push(key);
                    !self.zones.contains(&key)
                }
                None => true,
            });
            if self.families.len() <= at {
                let mut head = family.clone();
                head.retain(|_| false);
                self.families.push((head, Spool::during_run()));
            }
            family.write_samples(&mut self.families[at].1)?;
        }
        self.zones.extend(zones);
        Ok(())
    }

    /// Why a spool's file took no more (see [`Spool`]).
    pub(super) fn failure(&self) -> Option<&io::Error> {
        self.families.iter().find_map(|(_, spool)| spool.failure())
    }

    pub(super) fn write(
        &mut self,
        status: Severity,
        summary: &Summary,
        general: &[Finding],
        last_run: SystemTime,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut by_id = Vec::new();
        prometheus::count_by_id(general, &mut by_id);
        for (id, severity, count) in &self.by_id {
            match by_id.iter_mut().find(|(i, s, _)| i == id && s == severity) {
                Some((_, _, total)) => *total += count,
                None => by_id.push((id.clone(), *severity, *count)),
            }
        }
        for family in prometheus::run_families(status, summary, &by_id) {
            family.write(out)?;
        }
        for (head, spool) in &mut self.families {
            let mut lines = spool.lines()?.peekable();
            if lines.peek().is_none() {
                continue;
            }
            head.write_head(out)?;
            for line in lines {
                writeln!(out, "{}", line?)?;
            }
        }
        prometheus::last_run_family(last_run).write(out)
    }
}

/// The value of the `zone` label of a label set that starts with it.
fn zone_of(labels: &str) -> Option<&str> {
    let rest = labels.strip_prefix("{zone=\"")?;
    // Values are escaped: a quote inside one is `\"`.
    let mut escaped = false;
    for (at, c) in rest.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(&rest[..at]),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::audit::details::AuditDetails;
    use crate::commands::audit::metrics::{Metrics, ServerMetric};
    use crate::report::FindingId;

    /// A window of one domain in `zone`, with one server of the zone.
    fn window(domain: &str, zone: &str, severity: Severity) -> AuditWindow {
        let mut report = Report::new("audit");
        report.push(Finding::new(FindingId::SrvOk, severity, "as configured").domain(domain));
        let mut metrics = Metrics::new(SystemTime::UNIX_EPOCH);
        metrics.domains = vec![domain.to_string()];
        metrics.servers = vec![ServerMetric {
            zone: zone.to_string(),
            server: "ns1.corp.test.".to_string(),
            serial_lag: Some(0),
        }];
        let details = AuditDetails {
            domains: metrics.domain_statuses(&report),
            addresses_reachable: 0,
            addresses_probed: 0,
            hosts_reachable: 0,
            hosts_probed: 0,
            parts: vec!["replication"],
            check: None,
            replication: None,
            updates: None,
            probe: None,
        };
        AuditWindow {
            report: report.with_details(Box::new(details)),
            metrics,
        }
    }

    fn finished(mut writer: AuditWriter, windows: Vec<AuditWindow>) -> (u8, String) {
        for window in windows {
            writer.window(window).unwrap();
        }
        let end = AuditEnd {
            general: vec![Finding::new(
                FindingId::KeyFilePermissions,
                Severity::Warning,
                "the key file is readable by others",
            )],
            parts: vec!["replication"],
            addresses_reachable: 0,
            addresses_probed: 0,
            hosts_reachable: 0,
            hosts_probed: 0,
        };
        crate::output::finished(|io| writer.finish(end, io))
    }

    fn writer(format: Format) -> AuditWriter {
        AuditWriter::new(format, 1, Palette { color: false }, false, None).unwrap()
    }

    #[test]
    fn a_zone_in_two_windows_has_its_samples_once() {
        let (status, text) = finished(
            writer(Format::Prometheus),
            vec![
                window("a.corp.test.", "corp.test.", Severity::Ok),
                window("b.corp.test.", "corp.test.", Severity::Critical),
            ],
        );
        assert_eq!(status, 2);
        let up = "kmsdns_replication_server_up{zone=\"corp.test.\",server=\"ns1.corp.test.\"} 1";
        assert_eq!(text.matches(up).count(), 1, "{text}");
        assert_eq!(text.matches("# HELP kmsdns_domain_status ").count(), 1);
        assert!(text.contains("kmsdns_domain_status{domain=\"a.corp.test.\"} 0"));
        assert!(text.contains("kmsdns_domain_status{domain=\"b.corp.test.\"} 2"));
        assert!(
            text.contains("kmsdns_findings{severity=\"warning\"} 1"),
            "{text}"
        );
        assert!(text.contains("kmsdns_status 2"));
    }

    #[test]
    fn text_aligns_every_window_alike_and_puts_findings_about_no_domain_first() {
        let (status, text) = finished(
            writer(Format::Text),
            vec![
                window("a.corp.test.", "corp.test.", Severity::Ok),
                window("long-name.corp.test.", "corp.test.", Severity::Warning),
            ],
        );
        assert_eq!(status, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "audit 2 domain(s): 1 ok, 1 warning, 0 critical; 0 of 0 KMS address(es) reachable, 0 of 0 host(s) (replication)",
                "  a.corp.test.          ok",
                "  long-name.corp.test.  warning",
                "",
                "(general)",
                "  warning  key-file-permissions  the key file is readable by others",
                "a.corp.test.",
                "  ok       srv-ok                as configured",
                "long-name.corp.test.",
                "  warning  srv-ok                as configured",
                "WARNING 1 ok, 0 info, 2 warning, 0 critical",
            ]
        );
    }

    #[test]
    fn nagios_names_the_worst_finding_of_any_window() {
        let (status, text) = finished(
            writer(Format::Nagios),
            vec![
                window("a.corp.test.", "corp.test.", Severity::Warning),
                window("b.corp.test.", "corp.test.", Severity::Critical),
            ],
        );
        assert_eq!(status, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "KMSDNS CRITICAL - 2 domains: 1 critical, 1 warning, 0 ok; b.corp.test.: as configured (+2 more) | domains=2 critical=1;;;0 warning=2;;;0 replication_lag_max=0;;;0",
                "CRITICAL b.corp.test. srv-ok: as configured",
                "WARNING key-file-permissions: the key file is readable by others",
                "WARNING a.corp.test. srv-ok: as configured",
            ]
        );
    }

    #[test]
    fn a_zone_label_ends_at_its_unescaped_quote() {
        assert_eq!(
            zone_of(r#"{zone="corp.test.",server="x"}"#),
            Some("corp.test.")
        );
        assert_eq!(zone_of(r#"{zone="a\"b.",server="x"}"#), Some(r#"a\"b."#));
        assert_eq!(zone_of(r#"{domain="corp.test."}"#), None);
    }
}
