//! Nagios plugin output, per the Nagios Plugin Development Guidelines
//! ("Plugin Output", "Performance data"), which Icinga, Naemon and Shinken
//! read the same way:
//!
//! ```text
//! KMSDNS CRITICAL - 3 domains: 1 critical, 1 warning, 1 ok; c.example.: no SRV record (+1 more) | domains=3 critical=1;;;0 warning=1;;;0
//! CRITICAL c.example. srv-missing: no SRV record
//! WARNING b.example. single-host [host kms1.b.example.:1688]: only one KMS host
//! ```
//!
//! The first line is what notifications show; the lines after it (the
//! "long output") name every finding that is not ok, worst first. The exit
//! status (0/1/2/3) is the caller's: the plugin state is the exit status,
//! the status word only repeats it for people.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use crate::commands::audit::metrics::Metrics;
use crate::report::words::plural;
use crate::report::{Finding, Report, Severity, Summary};

/// The service name at the start of the status line.
const SERVICE: &str = "KMSDNS";

/// Writes `report` as Nagios plugin output: status line with perfdata, then
/// one long-output line per finding that is not ok.
pub fn render<D>(report: &Report<D>, metrics: &Metrics, out: &mut dyn Write) -> io::Result<()> {
    let mut problems: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Ok)
        .collect();
    // Worst first; the sort is stable, so findings keep their order within
    // a severity.
    problems.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut line = StatusLine {
        status: report.status,
        summary: report.summary,
        findings: report.findings.len(),
        worst: problems
            .iter()
            .find(|f| f.severity >= Severity::Warning)
            .map(|f| (*f).clone()),
        latency: metrics.probe_latency_max(),
        lag: metrics.replication_lag_max(),
        ..StatusLine::default()
    };
    for domain in metrics.domain_statuses(report) {
        line.count_domain(domain.status);
    }
    line.write(out)?;
    for finding in problems {
        write_long_line(finding, out)?;
    }
    Ok(())
}

/// What the first line says: the run's counts, its worst finding and the
/// largest measurements.
#[derive(Debug, Clone, Default)]
pub struct StatusLine {
    pub status: Severity,
    pub summary: Summary,
    /// Findings of every severity.
    pub findings: usize,
    /// Domains, and those whose worst finding is critical, warning, ok
    /// (or info).
    pub domains: usize,
    pub critical: usize,
    pub warning: usize,
    pub ok: usize,
    /// The first finding of the worst severity, warning or critical.
    pub worst: Option<Finding>,
    pub latency: Option<std::time::Duration>,
    pub lag: Option<u32>,
}

impl StatusLine {
    /// Counts one domain of this status.
    pub fn count_domain(&mut self, status: Severity) {
        self.domains += 1;
        match status.exit_status() {
            2 => self.critical += 1,
            1 => self.warning += 1,
            _ => self.ok += 1,
        }
    }

    /// Writes the status line with its performance data.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "{SERVICE} {} - {} | {}",
            status_word(self.status),
            one_line(&self.text()),
            self.perfdata()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        )
    }

    /// Domains by worst status, then the worst finding, so that a
    /// notification that shows only this line says what to look at first.
    fn text(&self) -> String {
        let s = &self.summary;
        let mut text = if self.domains == 0 {
            format!(
                "{} finding{}: {} critical, {} warning",
                self.findings,
                plural(self.findings),
                s.critical,
                s.warning
            )
        } else {
            format!(
                "{} domain{}: {} critical, {} warning, {} ok",
                self.domains,
                plural(self.domains),
                self.critical,
                self.warning,
                self.ok
            )
        };
        if let Some(worst) = &self.worst {
            text.push_str("; ");
            if let Some(domain) = &worst.subject.domain {
                text.push_str(domain);
                text.push_str(": ");
            }
            text.push_str(&worst.message);
            let alarming = s.critical + s.warning;
            if alarming > 1 {
                text.push_str(&format!(" (+{} more)", alarming - 1));
            }
        }
        text
    }

    /// The performance data: counts always, latency and lag when measured.
    fn perfdata(&self) -> Vec<PerfDatum> {
        let mut data = vec![
            PerfDatum::new("domains", self.domains.to_string()),
            PerfDatum::new("critical", self.summary.critical.to_string()).min(0),
            PerfDatum::new("warning", self.summary.warning.to_string()).min(0),
        ];
        if let Some(latency) = self.latency {
            data.push(
                PerfDatum::new(
                    "probe_latency_max",
                    format!("{:.1}", latency.as_secs_f64() * 1000.0),
                )
                .unit("ms")
                .min(0),
            );
        }
        if let Some(lag) = self.lag {
            data.push(PerfDatum::new("replication_lag_max", lag.to_string()).min(0));
        }
        data
    }
}

/// Writes the status line of a run that could not happen: `KMSDNS UNKNOWN
/// - why`. The caller exits 3.
pub fn render_error(message: &str, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{SERVICE} UNKNOWN - {}", one_line(message))
}

/// The plugin state word of a report status (info counts as OK).
pub fn status_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Ok | Severity::Info => "OK",
        Severity::Warning => "WARNING",
        Severity::Critical => "CRITICAL",
    }
}

/// One line of the long output: a finding that is not ok.
pub fn write_long_line(finding: &Finding, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", one_line(&long_line(finding)))
}

/// `CRITICAL c.example. target-is-cname [host kms3.c.example.:1688]: message`.
fn long_line(finding: &Finding) -> String {
    let mut line = String::from(status_word(finding.severity));
    if finding.severity == Severity::Info {
        // Info is OK to Nagios, but the long output should still say it is
        // not a plain confirmation.
        line = String::from("INFO");
    }
    if let Some(domain) = &finding.subject.domain {
        line.push(' ');
        line.push_str(domain);
    }
    line.push(' ');
    line.push_str(&finding.id.to_string());
    let mut about = Vec::new();
    if let Some(server) = &finding.subject.server {
        about.push(format!("server {server}"));
    }
    if let Some(host) = &finding.subject.host {
        about.push(format!("host {host}"));
    }
    if !about.is_empty() {
        line.push_str(&format!(" [{}]", about.join(", ")));
    }
    line.push_str(": ");
    line.push_str(&finding.message);
    line
}

/// One performance datum: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfDatum {
    pub label: String,
    /// The value, already formatted (digits, `.`, optional `-`).
    pub value: String,
    /// Unit of measurement: `s`, `ms`, `us`, `%`, `B`, `KB`, `MB`, `TB`,
    /// `c`, or empty for a plain number.
    pub unit: &'static str,
    /// The minimum the value can take, for graphs.
    pub min: Option<i64>,
}

impl PerfDatum {
    /// A datum without unit or range.
    pub fn new(label: impl Into<String>, value: String) -> Self {
        PerfDatum {
            label: label.into(),
            value,
            unit: "",
            min: None,
        }
    }

    /// Sets the unit of measurement.
    pub fn unit(mut self, unit: &'static str) -> Self {
        self.unit = unit;
        self
    }

    /// Sets the minimum (written as `;;;min`: no thresholds).
    pub fn min(mut self, min: i64) -> Self {
        self.min = Some(min);
        self
    }
}

impl fmt::Display for PerfDatum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}{}", perf_label(&self.label), self.value, self.unit)?;
        if let Some(min) = self.min {
            write!(f, ";;;{min}")?;
        }
        Ok(())
    }
}

/// A perfdata label as the guidelines want it: single-quoted when it holds
/// a space or a quote, a quote inside doubled (`'it''s'`, as the
/// monitoring-plugins library writes it). `=` cannot appear in a label at
/// all (it ends the label), so it becomes `_`.
pub fn perf_label(label: &str) -> Cow<'_, str> {
    let label: Cow<'_, str> = if label.contains('=') {
        Cow::Owned(label.replace('=', "_"))
    } else {
        Cow::Borrowed(label)
    };
    if label.is_empty() || label.contains([' ', '\'']) {
        Cow::Owned(format!("'{}'", label.replace('\'', "''")))
    } else {
        label
    }
}

/// Text made safe for one line of plugin output: a `|` would start the
/// perfdata and a line break would start the long output, so `|` becomes
/// `/` and breaks become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '|' => '/',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::commands::audit::metrics::sample;
    use crate::output::written;
    use crate::report::FindingId;

    fn rendered<D>(report: &Report<D>, metrics: &Metrics) -> String {
        written(|out| render(report, metrics, out))
    }

    #[test]
    fn status_line_perfdata_and_long_output() {
        let (report, metrics) = sample();
        assert_eq!(
            rendered(&report, &metrics),
            "KMSDNS CRITICAL - 3 domains: 1 critical, 1 warning, 1 ok; c.example.: no _vlmcs._tcp record (+2 more) \
             | domains=3 critical=1;;;0 warning=2;;;0 probe_latency_max=12.3ms;;;0 replication_lag_max=3;;;0\n\
             CRITICAL c.example. srv-missing: no _vlmcs._tcp record\n\
             WARNING b.example. single-host [host kms1.b.example.:1688]: only one KMS host: no failover\n\
             WARNING c.example. serial-behind [server ns2.c.example.]: serial 41 / 3 behind 44\n\
             INFO keyed-only: updates need the key\n"
        );
    }

    #[test]
    fn all_ok_is_one_line_without_optional_perfdata() {
        let mut report = Report::<()>::new("check");
        report.push(Finding::new(FindingId::SrvOk, Severity::Ok, "fine").domain("a.example."));
        let metrics = Metrics::new(SystemTime::UNIX_EPOCH);
        assert_eq!(
            rendered(&report, &metrics),
            "KMSDNS OK - 1 domain: 0 critical, 0 warning, 1 ok | domains=1 critical=0;;;0 warning=0;;;0\n"
        );
    }

    #[test]
    fn a_report_about_no_domain_counts_findings() {
        let mut report = Report::<()>::new("updates");
        report.push(
            Finding::new(
                FindingId::UnsignedUpdatesAccepted,
                Severity::Critical,
                "anyone can\nchange it",
            )
            .server("127.0.0.1"),
        );
        let metrics = Metrics::new(SystemTime::UNIX_EPOCH);
        assert_eq!(
            rendered(&report, &metrics),
            "KMSDNS CRITICAL - 1 finding: 1 critical, 0 warning; anyone can change it \
             | domains=0 critical=1;;;0 warning=0;;;0\n\
             CRITICAL unsigned-updates-accepted [server 127.0.0.1]: anyone can change it\n"
        );
    }

    #[test]
    fn errors_are_unknown() {
        assert_eq!(
            written(|out| render_error("cannot read kmsdns.toml: |denied|", out)),
            "KMSDNS UNKNOWN - cannot read kmsdns.toml: /denied/\n"
        );
    }

    #[test]
    fn labels_are_quoted_when_they_need_it() {
        assert_eq!(perf_label("domains"), "domains");
        assert_eq!(perf_label("probe latency"), "'probe latency'");
        assert_eq!(perf_label("kms1's latency"), "'kms1''s latency'");
        assert_eq!(perf_label("a=b"), "a_b");
        assert_eq!(perf_label(""), "''");
        let datum = PerfDatum::new("worst latency", "1.5".into())
            .unit("ms")
            .min(0);
        assert_eq!(datum.to_string(), "'worst latency'=1.5ms;;;0");
        assert_eq!(
            PerfDatum::new("domains", "4".into()).to_string(),
            "domains=4"
        );
    }
}
