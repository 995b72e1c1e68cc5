//! The output of `check`, `replication` and `probe`, made window by window as the
//! command goes (`--window`), so that a run keeps only one window's
//! domains in memory, whatever the estate's size.
//!
//! Each window's report is rendered as soon as it is done into unnamed
//! temporary files, with audit's spools ([`super::audit`]), and the run's
//! totals counted; at the end the parts are written in the order of the
//! format, totals first where it puts them first. Findings about no domain
//! (the configuration's warnings), found again by every window, are kept
//! once and come after the findings about domains, as in a report written
//! at once. The output is the same whatever the window size. JSON takes
//! the whole estate as one window and is written as one document.

use std::io::{self, BufWriter, Write};
use std::time::SystemTime;

use super::audit::{JsonlSpool, NagiosSpool, PrometheusSpool, Spool, TextFindings};
use super::{json, prometheus, text, Document, Io};
use crate::commands::audit::metrics::Metrics;
use crate::context::Format;
use crate::report::palette::Palette;
use crate::report::{Finding, Severity, Summary};

/// The output of one command, fed window by window.
pub struct ReportWriter {
    command: &'static str,
    format: Format,
    palette: Palette,
    quiet: bool,
    status: Severity,
    summary: Summary,
    /// The findings about no domain, each once.
    general: Vec<Finding>,
    /// JSON: the one window, written at the end.
    whole: Option<Document>,
    text: Option<TextSpool>,
    nagios: Option<NagiosSpool>,
    prometheus: Option<PrometheusSpool>,
    jsonl: Option<JsonlSpool>,
}

impl ReportWriter {
    pub fn new(
        command: &'static str,
        format: Format,
        palette: Palette,
        quiet: bool,
    ) -> io::Result<Self> {
        Ok(ReportWriter {
            command,
            format,
            palette,
            quiet,
            status: Severity::Ok,
            summary: Summary::default(),
            general: Vec::new(),
            whole: None,
            text: (format == Format::Text).then(TextSpool::new).transpose()?,
            nagios: (format == Format::Nagios)
                .then(NagiosSpool::new)
                .transpose()?,
            prometheus: (format == Format::Prometheus).then(PrometheusSpool::new),
            jsonl: (format == Format::Jsonl)
                .then(JsonlSpool::new)
                .transpose()?,
        })
    }

    /// How many domains a window may hold: `window`, or `None` (the whole
    /// estate in one) for JSON, which is one document.
    pub fn window_size(&self, window: usize) -> Option<usize> {
        (self.format != Format::Json).then_some(window)
    }

    /// Takes the report of a finished window.
    pub fn window(&mut self, mut report: Document) -> io::Result<()> {
        if self.format == Format::Json {
            self.whole = Some(report);
            return Ok(());
        }
        let (about_domains, general) = std::mem::take(&mut report.findings)
            .into_iter()
            .partition(|f| f.subject.domain.is_some());
        report.findings = about_domains;
        for finding in general {
            if !self.general.contains(&finding) {
                self.general.push(finding);
            }
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
        Ok(())
    }

    /// Writes the output once every window is done; returns the exit status.
    pub fn finish(mut self, io: &mut Io<'_>) -> io::Result<u8> {
        if let Some(report) = self.whole.take() {
            json::render(&report, io.stdout)?;
            io.stdout.flush()?;
            return Ok(report.exit_status());
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
            self.blank |= text::render_details(details, palette, &mut self.details.file)?;
        }
        self.findings.add(&report.findings, quiet)
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
