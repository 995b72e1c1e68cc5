//! Text for people: grouped by domain, aligned, coloured on a terminal.

use std::collections::HashMap;
use std::io::{self, Write};

use owo_colors::Style;

use super::{Details, Document};
use crate::commands::bind::details::BindFiles;
use crate::commands::changes::details::ChangeDetails;
use crate::dns::TtlScope;
use crate::report::palette::{severity_word, Palette};
use crate::report::{Finding, Severity};

/// Writes `report` as text. With `quiet`, findings of severity ok and info
/// are left out, and nothing at all is written when everything is ok.
pub fn render(
    report: &Document,
    palette: Palette,
    quiet: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if quiet && report.status <= Severity::Info {
        return Ok(());
    }
    if let Some(details) = &report.details {
        if render_details(details, palette, out)? {
            writeln!(out)?;
        }
    }
    let shown: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| !quiet || f.severity >= Severity::Warning)
        .collect();
    render_findings(&shown, palette, out)?;
    write_totals(report.status, &report.summary, palette, out)
}

/// Findings grouped by what they are about, in order of first appearance:
/// their domain, or for a host asked about without a domain (`probe
/// --host`) that host, or else nothing in particular. Groups are found
/// through an index: a scan of the groups per finding was quadratic in
/// the number of domains.
fn render_findings(findings: &[&Finding], palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    write_groups(findings, id_width(findings.iter().copied()), palette, out)
}

/// `findings` under their headings ([`grouped`]), ids padded to `id_width`.
pub(super) fn write_groups(
    findings: &[&Finding],
    id_width: usize,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    for (heading, group) in grouped(findings) {
        writeln!(out, "{}", palette.heading(&heading))?;
        for finding in group {
            write_finding(finding, id_width, palette, out)?;
        }
    }
    Ok(())
}

/// `findings` by [`heading`], each group where its first finding is.
pub(super) fn grouped<'a>(findings: &[&'a Finding]) -> Vec<(String, Vec<&'a Finding>)> {
    let mut groups: Vec<(String, Vec<&Finding>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for finding in findings {
        let heading = heading(finding);
        match index.get(&heading) {
            Some(&at) => groups[at].1.push(finding),
            None => {
                index.insert(heading.clone(), groups.len());
                groups.push((heading, vec![finding]));
            }
        }
    }
    groups
}

/// What a finding is grouped under: its domain, its host, or nothing.
pub(super) fn heading(finding: &Finding) -> String {
    match (&finding.subject.domain, &finding.subject.host) {
        (Some(domain), _) => domain.clone(),
        (None, Some(host)) => format!("host {host}"),
        (None, None) => "(general)".to_owned(),
    }
}

/// The width the ids of `findings` are padded to: the longest.
pub(super) fn id_width<'a>(findings: impl Iterator<Item = &'a Finding>) -> usize {
    findings.map(|f| f.id.to_string().len()).max().unwrap_or(0)
}

/// One finding, its id padded to `id_width`, and its hint below it.
pub(super) fn write_finding(
    finding: &Finding,
    id_width: usize,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
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
    Ok(())
}

/// The last line: the status word and the findings of each severity.
pub(super) fn write_totals(
    status: Severity,
    s: &crate::report::Summary,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{} {} ok, {} info, {} warning, {} critical",
        palette.status(status),
        s.ok,
        s.info,
        s.warning,
        s.critical
    )
}

/// Writes the details of a report; returns whether a blank line must end
/// them (the details of `check`, `replication`, `updates` and `probe`, which a run
/// window by window writes in parts, end with none of their own).
pub(super) fn render_details(
    details: &Details,
    palette: Palette,
    out: &mut dyn Write,
) -> io::Result<bool> {
    use crate::commands::{audit, check, discover, probe, replication, updates};
    match details {
        Details::Bind(bind) => {
            if let BindFiles::Written { .. } = &bind.files {
                bind.files.each(|file| match &file.path {
                    Some(path) => writeln!(out, "{} {}", palette.dim("wrote"), path.display()),
                    None => Ok(()),
                })?;
            }
        }
        Details::Changes(changes) => {
            render_changes(changes, palette, out)?;
            return Ok(!changes.domains.is_empty());
        }
        Details::Check(details) => {
            check::details::render(details, palette, out)?;
            return Ok(!details.domains.is_empty());
        }
        Details::Replication(details) => {
            replication::details::render(details, palette, out)?;
            return Ok(!details.zones.is_empty());
        }
        Details::Updates(details) => {
            updates::details::render(details, palette, out)?;
            return Ok(!details.zones.is_empty());
        }
        Details::Probe(details) => {
            probe::details::render(details, palette, out)?;
            return Ok(!details.domains.is_empty() || !details.hosts.is_empty());
        }
        Details::Discover(details) => discover::details::render(details, palette, out)?,
        Details::Audit(details) => audit::details::render(details, palette, out)?,
    }
    Ok(false)
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
        writeln!(out, "{}", palette.heading_about(&domain.domain, &about))?;
        for line in &domain.changes {
            let op = match line.op {
                "+" => palette.paint("+", Style::new().green()),
                "-" => palette.paint("-", Style::new().red()),
                "~" => palette.paint("~", Style::new().yellow()),
                other => other.to_string(),
            };
            match &line.from {
                Some(from) => writeln!(out, "  {op} {from}\n      -> {}", line.record)?,
                None if line.prune => writeln!(
                    out,
                    "  {op} prune {} {}",
                    line.record,
                    palette.dim("(not a configured host)")
                )?,
                None if line.op == "=" => writeln!(
                    out,
                    "  {op} {} {}",
                    line.record,
                    palette.dim(&format!(
                        "({})",
                        line.ttl_note.as_deref().unwrap_or("not ours: left alone")
                    ))
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
            let reach = match ttl.scope {
                TtlScope::Rrset => "every record of the RRset, other hosts' too",
                TtlScope::Record => "our records only: AD keeps a TTL per record",
                TtlScope::Unknown => {
                    "our records, and other hosts' too unless the server keeps a TTL per record"
                }
            };
            writeln!(
                out,
                "  {} TTL {} -> {} for {reach} ({how})",
                palette.paint("~", Style::new().yellow()),
                ttl.from,
                ttl.to
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::written;
    use crate::report::{FindingId, Report};

    fn rendered(report: &Document, color: bool, quiet: bool) -> String {
        written(|out| render(report, Palette { color }, quiet, out))
    }

    fn sample() -> Document {
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
        report.without_details()
    }

    #[test]
    fn groups_by_domain_and_ends_with_summary() {
        assert_eq!(
            rendered(&sample(), false, false),
            "a.example.\n\
             \x20 ok       srv-ok           2 records match the configuration\n\
             b.example.\n\
             \x20 critical target-is-cname  [host kms3.b.example.] target is an alias\n\
             \x20                           hint: point the SRV record at the canonical name\n\
             CRITICAL 1 ok, 0 info, 0 warning, 1 critical\n"
        );
    }

    #[test]
    fn interleaved_findings_are_gathered_under_their_domain() {
        let mut report = Report::new("check");
        for domain in [
            "a.example.",
            "b.example.",
            "a.example.",
            "c.example.",
            "b.example.",
        ] {
            report.push(Finding::new(FindingId::SrvOk, Severity::Ok, "fine").domain(domain));
        }
        let text = rendered(&report.without_details(), false, false);
        let headings: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
        assert_eq!(
            headings,
            [
                "a.example.",
                "b.example.",
                "c.example.",
                "OK 5 ok, 0 info, 0 warning, 0 critical"
            ]
        );
        let under = |heading: &str| {
            text.split('\n')
                .skip_while(|l| *l != heading)
                .skip(1)
                .take_while(|l| l.starts_with(' '))
                .count()
        };
        assert_eq!(
            (
                under("a.example."),
                under("b.example."),
                under("c.example.")
            ),
            (2, 2, 1)
        );
    }

    #[test]
    fn quiet_hides_ok_and_is_silent_when_all_ok() {
        let text = rendered(&sample(), false, true);
        assert!(!text.contains("srv-ok"), "{text}");
        assert!(text.contains("target-is-cname"), "{text}");

        let mut ok = Report::new("check");
        ok.push(Finding::new(FindingId::SrvOk, Severity::Ok, "fine").domain("a.example."));
        assert!(rendered(&ok.without_details(), false, true).is_empty());
    }

    #[test]
    fn a_host_asked_about_without_a_domain_gets_its_own_heading() {
        let mut report = Report::new("probe");
        report.push(
            Finding::new(
                FindingId::KmsReachable,
                Severity::Ok,
                "answers as a KMS host",
            )
            .host("kms9.example.:1688"),
        );
        report.push(Finding::new(
            FindingId::KeyFilePermissions,
            Severity::Warning,
            "k",
        ));
        let mut out = Vec::new();
        render(
            &report.without_details(),
            Palette { color: false },
            false,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let host = text.find("host kms9.example.:1688\n").expect(&text);
        let general = text.find("(general)\n").expect(&text);
        assert!(host < general, "{text}");
    }

    #[test]
    fn no_escape_codes_without_colour() {
        assert!(!rendered(&sample(), false, false).contains('\x1b'));
        assert!(rendered(&sample(), true, false).contains('\x1b'));
    }
}
