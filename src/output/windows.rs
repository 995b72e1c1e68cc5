//! The output of `check` and `replication`, made window by window as the
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

use super::audit::{shown, JsonlSpool, NagiosSpool, PrometheusSpool, Spool};
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

/// The text: each window's details as written, the findings shown, and
/// what their alignment needs.
struct TextSpool {
    details: Spool,
    /// Whether any window wrote details that a blank line must end.
    blank: bool,
    findings: Spool,
    id_width: usize,
}

impl TextSpool {
    fn new() -> io::Result<Self> {
        Ok(TextSpool {
            details: Spool::new()?,
            blank: false,
            findings: Spool::new()?,
            id_width: 0,
        })
    }

    fn add(&mut self, report: &Document, palette: Palette, quiet: bool) -> io::Result<()> {
        if let Some(details) = &report.details {
            self.blank |= text::render_details(details, palette, &mut self.details.file)?;
        }
        let shown: Vec<&Finding> = report.findings.iter().filter(|f| shown(f, quiet)).collect();
        self.id_width = self.id_width.max(text::id_width(shown.iter().copied()));
        for (_, group) in text::grouped(&shown) {
            for finding in group {
                self.findings.push(finding)?;
            }
        }
        Ok(())
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
        let general: Vec<&Finding> = writer.general.iter().filter(|f| shown(f, quiet)).collect();
        let id_width = self.id_width.max(text::id_width(general.iter().copied()));
        let mut heading = None;
        for finding in self.findings.values::<Finding>()? {
            let finding = finding?;
            let this = text::heading(&finding);
            if heading.as_ref() != Some(&this) {
                writeln!(out, "{}", palette.heading(&this))?;
                heading = Some(this);
            }
            text::write_finding(&finding, id_width, palette, out)?;
        }
        for (heading, group) in text::grouped(&general) {
            writeln!(out, "{}", palette.heading(&heading))?;
            for finding in group {
                text::write_finding(finding, id_width, palette, out)?;
            }
        }
        text::write_totals(writer.status, &writer.summary, palette, out)
    }
}
