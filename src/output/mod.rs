//! Rendering: a command's [`Report`] turned into text for people, JSON for
//! programs, or Nagios and Prometheus output for monitoring.
//!
//! The top layer below `lib.rs`: it knows every command's details type
//! (the union [`Details`]), and decides nothing: what is true was decided
//! by the command.

pub mod audit;
pub mod json;
pub mod jsonl;
pub mod nagios;
pub mod prometheus;
mod spool;
pub mod text;
pub mod windows;

use std::io::{self, Write};
use std::time::SystemTime;

use serde::Serialize;

use crate::commands::audit::details::AuditDetails;
use crate::commands::audit::metrics::Metrics;
use crate::commands::bind::details::{BindDetails, BindFiles};
use crate::commands::bind::material::Made;
use crate::commands::changes::details::ChangeDetails;
use crate::commands::check::details::CheckDetails;
use crate::commands::discover::details::DiscoverDetails;
use crate::commands::probe::details::ProbeDetails;
use crate::commands::replication::details::ReplicationDetails;
use crate::commands::updates::details::UpdatesDetails;
use crate::context::Format;
use crate::exit;
use crate::report::palette::Palette;
use crate::report::Report;

/// Command-specific results shown above the findings.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Details {
    Bind(BindDetails),
    Changes(ChangeDetails),
    Check(CheckDetails),
    Replication(ReplicationDetails),
    Updates(UpdatesDetails),
    Probe(ProbeDetails),
    Discover(DiscoverDetails),
    Audit(Box<AuditDetails>),
}

/// A report as the renderers take it: any command's details.
pub type Document = Report<Details>;

/// Where a run writes, and whether those streams are terminals.
pub struct Io<'a> {
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
}

pub(crate) fn write_report(
    report: &Document,
    format: Format,
    palette: Palette,
    quiet: bool,
    io: &mut Io<'_>,
) -> io::Result<()> {
    match format {
        Format::Text => text::render(report, palette, quiet, io.stdout),
        Format::Json => json::render(report, io.stdout),
        Format::Jsonl => jsonl::render(report, io.stdout),
        Format::Nagios => nagios::render(report, &Metrics::new(SystemTime::now()), io.stdout),
        Format::Prometheus => {
            let metrics = Metrics::new(SystemTime::now());
            let metrics = prometheus::series::metrics(report.details.as_ref(), metrics);
            prometheus::render(report, &metrics, io.stdout)
        }
    }?;
    io.stdout.flush()
}

/// Writes why kmsdns could not run, as [`write_error`] does, and for
/// `audit --textfile PATH` writes `kmsdns_up 0` to PATH: node-exporter then
/// shows that the audit failed instead of the last good run's file.
pub(crate) fn write_run_error(
    command: &str,
    message: &str,
    textfile: Option<&std::path::Path>,
    format: Format,
    io: &mut Io<'_>,
) -> io::Result<u8> {
    let Some(path) = textfile else {
        return write_error(command, message, format, io);
    };
    let mut text = Vec::new();
    prometheus::render_error(SystemTime::now(), &mut text)?;
    match prometheus::write_textfile(path, &String::from_utf8_lossy(&text)) {
        Ok(()) => write_error(command, message, format, io),
        Err(error) => write_error(command, &format!("{message}; and {error}"), format, io),
    }
}

/// Writes why kmsdns could not run, in the format its reader expects, and
/// returns the UNKNOWN exit status.
pub(crate) fn write_error(
    command: &str,
    message: &str,
    format: Format,
    io: &mut Io<'_>,
) -> io::Result<u8> {
    match format {
        Format::Text => writeln!(io.stderr, "kmsdns: error: {message}")?,
        Format::Json => json::render_error(Some(command), message, io.stdout)?,
        Format::Jsonl => jsonl::render_error(Some(command), message, io.stdout)?,
        Format::Nagios => nagios::render_error(message, io.stdout)?,
        Format::Prometheus => {
            writeln!(io.stderr, "kmsdns: error: {message}")?;
            // Still written, so a textfile shows `kmsdns_up 0` and an alert
            // fires, instead of the last good run going stale in silence.
            prometheus::render_error(SystemTime::now(), io.stdout)?;
        }
    }
    io.stdout.flush()?;
    Ok(exit::UNKNOWN)
}

pub(crate) fn write_material(
    material: Made,
    report: Report<()>,
    format: Format,
    palette: Palette,
    io: &mut Io<'_>,
) -> io::Result<u8> {
    let status = report.exit_status();
    match format {
        Format::Text => {
            material.print(io.stdout)?;
            if !report.findings.is_empty() {
                let stderr_palette = Palette {
                    color: palette.color && io.stderr_is_terminal,
                };
                text::render(&report.without_details(), stderr_palette, true, io.stderr)?;
            }
        }
        // The document carries the material in its details.
        Format::Json | Format::Jsonl => {
            let files = BindFiles::Made(material);
            let report = report.with_details(Details::Bind(BindDetails { files }));
            match format {
                Format::Json => json::render(&report, io.stdout)?,
                _ => jsonl::render(&report, io.stdout)?,
            }
        }
        // Material is for people and files: a monitoring system would read
        // it as garbage.
        Format::Nagios | Format::Prometheus => {
            let message = format!(
                "{} prints material, not a status: use --format text or json, or --out DIR",
                report.command
            );
            return write_error(report.command, &message, format, io);
        }
    }
    io.stdout.flush()?;
    Ok(status)
}

/// What `write` writes, as text: the renderers' tests compare it.
#[cfg(test)]
pub(crate) fn written(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    write(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// What `finish` writes to stdout through an [`Io`] of no terminal, and
/// the exit status it returns: the writers' tests compare them.
#[cfg(test)]
pub(crate) fn finished(finish: impl FnOnce(&mut Io<'_>) -> io::Result<u8>) -> (u8, String) {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut io = Io {
        stdout: &mut stdout,
        stderr: &mut stderr,
        stdout_is_terminal: false,
        stderr_is_terminal: false,
    };
    let status = finish(&mut io).unwrap();
    (status, String::from_utf8(stdout).unwrap())
}
