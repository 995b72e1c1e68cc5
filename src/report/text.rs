//! Text for people: grouped by domain, aligned, coloured on a terminal.

use std::borrow::Cow;
use std::io::{self, Write};

use hickory_proto::rr::Name;
use owo_colors::{OwoColorize, Style};

use super::{BindFiles, ChangeDetails, Details, Finding, Report, Severity};

/// Whether to colour the output; decided once by the caller from
/// `--color`, `NO_COLOR` and whether stdout is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub color: bool,
}

impl Palette {
    /// `text` in `style` when colouring, plain otherwise.
    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    /// A severity word, coloured by severity.
    pub fn severity(&self, severity: Severity) -> String {
        let style = match severity {
            Severity::Ok => Style::new().green(),
            Severity::Info => Style::new().blue(),
            Severity::Warning => Style::new().yellow().bold(),
            Severity::Critical => Style::new().red().bold(),
        };
        self.paint(severity_word(severity), style)
    }

    /// The overall status, upper-case, coloured by severity.
    pub fn status(&self, severity: Severity) -> String {
        let word = severity_word(severity).to_uppercase();
        match severity {
            Severity::Ok | Severity::Info => self.paint(&word, Style::new().green().bold()),
            Severity::Warning => self.paint(&word, Style::new().yellow().bold()),
            Severity::Critical => self.paint(&word, Style::new().red().bold()),
        }
    }

    /// A heading (domain names), names in Unicode ([`unicode_names`]).
    pub fn heading(&self, text: &str) -> String {
        self.paint(&unicode_names(text), Style::new().bold())
    }

    /// Something of secondary importance (hints, ids).
    pub fn dim(&self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }
}

/// `text` with each word that is an internationalised domain name in
/// punycode (RFC 3492, `xn--` labels) written in Unicode, as its users
/// write it: `xn--bcher-kva.example.` reads `bücher.example.`. Headings
/// use it; record lines keep the wire form that zone files and nsupdate
/// take.
pub fn unicode_names(text: &str) -> Cow<'_, str> {
    if !text.to_ascii_lowercase().contains("xn--") {
        return Cow::Borrowed(text);
    }
    let words: Vec<String> = text
        .split(' ')
        .map(|word| match Name::from_ascii(word) {
            Ok(name) if word.to_ascii_lowercase().contains("xn--") => name.to_utf8(),
            _ => word.to_string(),
        })
        .collect();
    Cow::Owned(words.join(" "))
}

/// The lowercase word for a severity.
pub fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok => "ok",
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// Writes `report` as text. With `quiet`, findings of severity ok and info
/// are left out, and nothing at all is written when everything is ok.
pub fn render(
    report: &Report,
    palette: Palette,
    quiet: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if quiet && report.status <= Severity::Info {
        return Ok(());
    }
    if let Some(details) = &report.details {
        render_details(details, palette, out)?;
    }
    let shown: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !quiet || f.severity >= Severity::Warning)
        .collect();
    render_findings(&shown, palette, out)?;
    let s = &report.summary;
    writeln!(
        out,
        "{} {} ok, {} info, {} warning, {} critical",
        palette.status(report.status),
        s.ok,
        s.info,
        s.warning,
        s.critical
    )
}

/// Findings grouped by domain (in order of first appearance), then those
/// about no domain.
fn render_findings(findings: &[&Finding], palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    let mut groups: Vec<(Option<&str>, Vec<&Finding>)> = Vec::new();
    for finding in findings {
        let domain = finding.subject.domain.as_deref();
        match groups.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, group)) => group.push(finding),
            None => groups.push((domain, vec![finding])),
        }
    }
    let id_width = findings
        .iter()
        .map(|f| f.id.to_string().len())
        .max()
        .unwrap_or(0);
    for (domain, group) in groups {
        writeln!(out, "{}", palette.heading(domain.unwrap_or("(general)")))?;
        for finding in group {
            let word = severity_word(finding.severity);
            let pad = " ".repeat(8 - word.len());
            let id = format!("{:id_width$}", finding.id.to_string());
            let mut about = Vec::new();
            if let Some(server) = &finding.subject.server {
                about.push(format!("server {server}"));
            }
            if let Some(host) = &finding.subject.host {
                about.push(format!("host {host}"));
            }
            let about = if about.is_empty() {
                String::new()
            } else {
                format!("[{}] ", about.join(", "))
            };
            writeln!(
                out,
                "  {}{pad} {}  {about}{}",
                palette.severity(finding.severity),
                palette.dim(&id),
                finding.message,
            )?;
            if let Some(hint) = &finding.hint {
                writeln!(
                    out,
                    "  {:8} {:id_width$}  {}",
                    "",
                    "",
                    palette.dim(&format!("hint: {hint}"))
                )?;
            }
        }
    }
    Ok(())
}

fn render_details(details: &Details, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    match details {
        Details::Bind(bind) => {
            let written = match &bind.files {
                BindFiles::Written(files) => files.as_slice(),
                BindFiles::Made(_) => &[],
            };
            for file in written {
                if let Some(path) = &file.path {
                    writeln!(out, "{} {}", palette.dim("wrote"), path.display())?;
                }
            }
            Ok(())
        }
        Details::Changes(changes) => render_changes(changes, palette, out),
        Details::Check(details) => super::check::render(details, palette, out),
        Details::Replication(details) => super::replication::render(details, palette, out),
        Details::Updates(details) => super::updates::render(details, palette, out),
        Details::Probe(details) => super::probe::render(details, palette, out),
        Details::Discover(details) => super::discover::render(details, palette, out),
        Details::Audit(details) => super::audit::render(details, palette, out),
    }
}

fn render_changes(
    details: &ChangeDetails,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    for domain in &details.domains {
        if domain.zone.is_none() && domain.changes.is_empty() {
            // Nothing was read: the finding below says why.
            continue;
        }
        let mut about = Vec::new();
        if let Some(zone) = &domain.zone {
            about.push(format!("zone {zone}"));
        }
        if let Some(server) = &domain.server {
            about.push(format!("primary {server}"));
        }
        about.push(domain.outcome.to_string());
        writeln!(
            out,
            "{} {}",
            palette.heading(&domain.domain),
            palette.dim(&format!("({})", about.join(", ")))
        )?;
        for line in &domain.changes {
            let op = match line.op {
                "+" => palette.paint("+", Style::new().green()),
                "-" => palette.paint("-", Style::new().red()),
                "~" => palette.paint("~", Style::new().yellow()),
                other => other.to_string(),
            };
            match &line.from {
                Some(from) => writeln!(out, "  {op} {from}\n      -> {}", line.record)?,
                None if line.op == "=" => writeln!(
                    out,
                    "  {op} {} {}",
                    line.record,
                    palette.dim("(not ours: left alone)")
                )?,
                None => writeln!(out, "  {op} {}", line.record)?,
            }
        }
        if let Some(ttl) = &domain.ttl_change {
            let how = if ttl.applied {
                "applied"
            } else {
                "not applied: use --set-ttl"
            };
            writeln!(
                out,
                "  {} TTL {} -> {} for every record of the RRset, other hosts' too ({how})",
                palette.paint("~", Style::new().yellow()),
                ttl.from,
                ttl.to
            )?;
        }
    }
    if !details.domains.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FindingId, Report};

    fn sample() -> Report {
        let mut report = Report::new("check");
        report.push(
            Finding::new(
                FindingId::SrvOk,
                Severity::Ok,
                "2 records match the configuration",
            )
            .domain("a.example."),
        );
        report.push(
            Finding::new(
                FindingId::TargetIsCname,
                Severity::Critical,
                "target is an alias",
            )
            .domain("b.example.")
            .host("kms3.b.example.")
            .hint("point the SRV record at the canonical name"),
        );
        report
    }

    #[test]
    fn groups_by_domain_and_ends_with_summary() {
        let mut out = Vec::new();
        render(&sample(), Palette { color: false }, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "a.example.\n\
             \x20 ok       srv-ok           2 records match the configuration\n\
             b.example.\n\
             \x20 critical target-is-cname  [host kms3.b.example.] target is an alias\n\
             \x20                           hint: point the SRV record at the canonical name\n\
             CRITICAL 1 ok, 0 info, 0 warning, 1 critical\n"
        );
    }

    #[test]
    fn quiet_hides_ok_and_is_silent_when_all_ok() {
        let mut out = Vec::new();
        render(&sample(), Palette { color: false }, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("srv-ok"), "{text}");
        assert!(text.contains("target-is-cname"), "{text}");

        let mut ok = Report::new("check");
        ok.push(Finding::new(FindingId::SrvOk, Severity::Ok, "fine").domain("a.example."));
        let mut out = Vec::new();
        render(&ok, Palette { color: false }, true, &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn headings_show_internationalised_names_in_unicode() {
        assert_eq!(unicode_names("xn--bcher-kva.example."), "bücher.example.");
        assert_eq!(
            unicode_names("zone xn--bcher-kva.example (primary 127.0.0.1:53)"),
            "zone bücher.example (primary 127.0.0.1:53)"
        );
        assert_eq!(unicode_names("corp.example."), "corp.example.");
        let palette = Palette { color: false };
        assert_eq!(palette.heading("xn--bcher-kva.example."), "bücher.example.");
    }

    #[test]
    fn no_escape_codes_without_colour() {
        let mut out = Vec::new();
        render(&sample(), Palette { color: false }, false, &mut out).unwrap();
        assert!(!out.contains(&0x1b));
        let mut out = Vec::new();
        render(&sample(), Palette { color: true }, false, &mut out).unwrap();
        assert!(out.contains(&0x1b));
    }
}
