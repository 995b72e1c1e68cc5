//! The output of `check`, `replication`, `updates` and `probe` (and of
//! `plan`, `publish` and `remove`), made window by window as the
//! command goes (`--window`), so that a run keeps only one window's
//! domains in memory, whatever the estate's size.
//!
//! Each window's report is rendered as soon as it is done into unnamed
//! temporary files, with audit's spools ([`super::audit`]), and the run's
//! totals counted; at the end the parts are written in the order of the
//! format, totals first where it puts them first. Findings about no domain
//! (the configuration's warnings), found again by every window, are kept
//! once and come after the findings about domains, as in a report written
//! at once (`probe` writes its report with the configuration's warnings
//! first). The output is the same whatever the window size. JSON too is
//! written from spools at the end ([`JsonSpool`]): the document of a report
//! of the whole estate, byte for byte.

use std::io::{self, BufWriter, Write};
use std::time::SystemTime;

use super::audit::{JsonlSpool, NagiosSpool, PrometheusSpool, TextFindings};
use super::json::JsonSpool;
use super::spool::{run_stopped, Spool};
use super::{prometheus, text, Document, Io};
use crate::commands::audit::metrics::Metrics;
use crate::context::Format;
use crate::report::palette::Palette;
use crate::report::{Finding, Severity, Summary};

/// The output of one command, fed window by window.
pub struct ReportWriter {
    command: &'static str,
    palette: Palette,
    quiet: bool,
    status: Severity,
    summary: Summary,
    /// The findings about no domain, each once.
    general: Vec<Finding>,
    json: Option<JsonSpool>,
    text: Option<TextSpool>,
    nagios: Option<NagiosSpool>,
    prometheus: Option<PrometheusSpool>,
    jsonl: Option<JsonlSpool>,
    /// Why the run stopped after the last window taken: a spool's file
    /// took no more of it.
    stopped: Option<String>,
}

impl ReportWriter {
    pub fn new(
        command: &'static str,
        format: Format,
        palette: Palette,
        quiet: bool,
    ) -> io::Result<Self> {
        if format == Format::Prometheus {
            // Its families are spooled as a window is the first to have
            // them: that a file can be made at all is found out now, as
            // the other formats' spools are made now, before the run asks
            // or changes anything.
            tempfile::tempfile()?;
        }
        Ok(ReportWriter {
            command,
            palette,
            quiet,
            status: Severity::Ok,
            summary: Summary::default(),
            general: Vec::new(),
            json: (format == Format::Json).then(JsonSpool::new).transpose()?,
            text: (format == Format::Text).then(TextSpool::new).transpose()?,
            nagios: (format == Format::Nagios)
                .then(NagiosSpool::new)
                .transpose()?,
            prometheus: (format == Format::Prometheus).then(PrometheusSpool::new),
            jsonl: (format == Format::Jsonl)
                .then(JsonlSpool::new)
                .transpose()?,
            stopped: None,
        })
    }

    /// How many domains a window may hold: `window`, in every format
    /// (`None` would be the whole estate in one).
    pub fn window_size(&self, window: usize) -> Option<usize> {
        Some(window)
    }

    /// Takes the report of a finished window. An error stops the run:
    /// when a spool's file took no more of it, the window is kept all the
    /// same (in memory) and [`ReportWriter::stopped`] says so, so that the
    /// output of every window done is still written, saying what the
    /// run read and changed.
    pub fn window(&mut self, mut report: Document) -> io::Result<()> {
        let (about_domains, general) = std::mem::take(&mut report.findings)
            .into_iter()
            .partition(|f| f.subject.domain.is_some());
        report.findings = about_domains;
        for finding in general {
            if !self.general.contains(&finding) {
                self.general.push(finding);
            }
        }
        if let Some(spool) = &mut self.json {
            if let Some(details) = &report.details {
                spool.details(details)?;
            }
            spool.findings(&report.findings)?;
        }
        for finding in &report.findings {
            self.status = self.status.max(finding.severity);
            self.summary.count(finding.severity);
        }
        if let Some(spool) = &mut self.text {
            spool.add(&report, self.palette, self.quiet)?;
        }
        if let Some(spool) = &mut self.nagios {
            // As a report written at once counts them: by their findings.
            let statuses = Metrics::new(SystemTime::UNIX_EPOCH).domain_statuses(&report);
            let metrics = Metrics::new(SystemTime::UNIX_EPOCH);
            spool.add(&statuses, &report.findings, &metrics)?;
        }
        if let Some(spool) = &mut self.prometheus {
            let details = report.details.as_ref();
            let metrics = prometheus::series::metrics(details, Metrics::new(SystemTime::now()));
            spool.add(&report, prometheus::series::of(details), &metrics)?;
        }
        if let Some(spool) = &mut self.jsonl {
            spool.add(&report)?;
        }
        let Some(failure) = self.failure() else {
            return Ok(());
        };
        let error = io::Error::new(failure.kind(), failure.to_string());
        self.stopped = Some(error.to_string());
        Err(error)
    }

    /// Whether the run stopped because a spool's file took no more: the
    /// windows taken are whole, to be written by [`ReportWriter::finish`].
    pub fn stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// Why a spool's file took no more.
    fn failure(&self) -> Option<&io::Error> {
        let text = self.text.as_ref().and_then(TextSpool::failure);
        let nagios = self.nagios.as_ref().and_then(NagiosSpool::failure);
        let prometheus = self.prometheus.as_ref().and_then(PrometheusSpool::failure);
        let jsonl = self.jsonl.as_ref().and_then(JsonlSpool::failure);
        let json = self.json.as_ref().and_then(JsonSpool::failure);
        text.or(nagios).or(prometheus).or(jsonl).or(json)
    }

    /// Writes the output once every window is done, or the run stopped;
    /// returns the exit status.
    pub fn finish(mut self, io: &mut Io<'_>) -> io::Result<u8> {
        if let Some(error) = self.stopped.take() {
            self.general.push(run_stopped(self.command, &error));
        }
        for finding in &self.general {
            self.status = self.status.max(finding.severity);
            self.summary.count(finding.severity);
        }
        let totals = (self.status, self.summary);
        let mut out = BufWriter::new(&mut *io.stdout);
        if let Some(spool) = self.text.take() {
            spool.write(&self, &mut out)?;
        }
        if let Some(spool) = self.nagios.take() {
            spool.write(totals, &self.general, true, &mut out)?;
        }
        if let Some(spool) = &mut self.prometheus {
            spool.write(
                self.status,
                &self.summary,
                &self.general,
                SystemTime::now(),
                &mut out,
            )?;
        }
        if let Some(spool) = self.jsonl.take() {
            let general = &self.general;
            spool.write(self.command, totals, general, |_| {}, &mut out)?;
        }
        if let Some(spool) = self.json.take() {
            spool.write(self.command, totals, (&[], &self.general), &mut out)?;
        }
        out.flush()?;
        drop(out);
        io.stdout.flush()?;
        Ok(self.status.exit_status())
    }
}

/// The text: each window's details as written, and the findings shown.
struct TextSpool {
    details: Spool,
    /// Whether any window wrote details that a blank line must end.
    blank: bool,
    findings: TextFindings,
}

impl TextSpool {
    fn new() -> io::Result<Self> {
        Ok(TextSpool {
            details: Spool::new()?,
            blank: false,
            findings: TextFindings::new()?,
        })
    }

    fn add(&mut self, report: &Document, palette: Palette, quiet: bool) -> io::Result<()> {
        if let Some(details) = &report.details {
            self.blank |= text::render_details(details, palette, &mut self.details)?;
        }
        self.findings.add(&report.findings, quiet)
    }

    fn failure(&self) -> Option<&io::Error> {
        self.details.failure().or(self.findings.failure())
    }

    /// As `text::render` writes a report.
    fn write(mut self, writer: &ReportWriter, out: &mut dyn Write) -> io::Result<()> {
        let (palette, quiet) = (writer.palette, writer.quiet);
        if quiet && writer.status <= Severity::Info {
            return Ok(());
        }
        self.details.copy_to(out)?;
        if self.blank {
            writeln!(out)?;
        }
        self.findings
            .write(&writer.general, true, (palette, quiet), out)?;
        text::write_totals(writer.status, &writer.summary, palette, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::check::details::{CheckDetails, DomainCheck, RrsetSource};
    use crate::output::{json, Details};
    use crate::report::{FindingId, Report};

    fn check(domain: &str) -> DomainCheck {
        let source = RrsetSource {
            via: "ns1.corp.test.".into(),
            status: "nodata",
            ttl: None,
            records: Vec::new(),
            error: None,
        };
        DomainCheck {
            domain: domain.into(),
            zone: Some("corp.test.".into()),
            authoritative: source.clone(),
            resolver: source,
            targets: Vec::new(),
            dnssec: None,
        }
    }

    fn warning() -> Finding {
        Finding::new(FindingId::KeyFilePermissions, Severity::Warning, "readable")
    }

    /// A report of `domains`, the configuration's warning first or last.
    fn report(domains: &[&str], warning_first: bool) -> Document {
        let mut report = Report::new("check");
        if warning_first {
            report.push(warning());
        }
        for domain in domains {
            report.push(
                Finding::new(FindingId::SrvMissing, Severity::Critical, "none").domain(domain),
            );
        }
        if !warning_first {
            report.push(warning());
        }
        let domains = domains.iter().map(|d| check(d)).collect();
        report.with_details(Details::Check(CheckDetails { domains }))
    }

    /// The run stopped by a spool's file that took nothing of a window
    /// (its disk full) still writes that window, whole, and why it stopped,
    /// with a failing exit status: after `publish`'s UPDATEs, what was
    /// changed is said.
    #[test]
    fn a_window_its_spool_cannot_take_stops_the_run_and_is_written_whole() {
        let palette = Palette { color: false };
        let mut writer = ReportWriter::new("publish", Format::Text, palette, false).unwrap();
        // A file open only for reading takes no write, as a full disk.
        let named = tempfile::NamedTempFile::new().unwrap();
        let file = std::fs::File::open(named.path()).unwrap();
        writer.text.as_mut().unwrap().details = Spool::on(file);
        // More than a spool holds before it writes to its file.
        let names: Vec<String> = (0..100).map(|n| format!("d{n}.corp.test.")).collect();
        let domains: Vec<&str> = names.iter().map(String::as_str).collect();
        let stopped = writer.window(report(&domains, false));
        let error = stopped.expect_err("the run stops");
        assert!(writer.stopped(), "{error}");
        let (status, written) = crate::output::finished(|io| writer.finish(io));
        assert_eq!(status, 2);
        let message = format!(
            "publish stopped: cannot keep the output: {error}; the domains not in this report were neither read nor changed"
        );
        let mut whole = report(&domains, false);
        whole.push(Finding::new(
            FindingId::RunStopped,
            Severity::Critical,
            message,
        ));
        let expected = crate::output::written(|out| text::render(&whole, palette, false, out));
        assert_eq!(written, expected);
    }

    #[test]
    fn json_in_windows_is_the_document_of_the_whole_estate() {
        let domains = ["a.corp.test.", "b.corp.test.", "c.corp.test."];
        for warning_first in [false, true] {
            let mut writer =
                ReportWriter::new("check", Format::Json, Palette { color: false }, false).unwrap();
            for domain in domains {
                // Every window finds the configuration's warning again.
                writer.window(report(&[domain], warning_first)).unwrap();
            }
            let (status, written) = crate::output::finished(|io| writer.finish(io));
            assert_eq!(status, 2);
            // The findings about no domain come last, as `check` has them.
            let whole = report(&domains, false);
            let expected = crate::output::written(|out| json::render(&whole, out));
            assert_eq!(written, expected);
            assert_eq!(written.matches("key-file-permissions").count(), 1);
        }
    }
}
