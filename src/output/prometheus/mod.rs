//! Prometheus text exposition format, for node-exporter's textfile
//! collector (`--collector.textfile.directory`).
//!
//! Every metric is a gauge: a cron run is a snapshot, not a counter. The
//! families, with `# HELP` and `# TYPE` before their samples:
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `kmsdns_up` | | 1 the run completed, 0 kmsdns could not run |
//! | `kmsdns_status` | | 0 ok, 1 warning, 2 critical |
//! | `kmsdns_findings` | `severity` | findings of each severity |
//! | `kmsdns_findings_by_id` | `id`, `severity` | findings of each id |
//! | `kmsdns_domain_status` | `domain` | 0 ok, 1 warning, 2 critical |
//! | `kmsdns_probe_kms` | `domain`, `host`, `address` | 1 the address answered as KMS |
//! | `kmsdns_probe_latency_seconds` | `domain`, `host`, `address` | connect + RPC bind |
//! | `kmsdns_replication_server_up` | `zone`, `server` | 1 the server gave its SOA |
//! | `kmsdns_replication_lag_serials` | `zone`, `server` | serials behind the zone's newest |
//! | `kmsdns_replication_converged` | `zone` | 1 every server has the reference |
//! | `kmsdns_check_answered` | `domain`, `source` | 1 the SRV read got an answer |
//! | `kmsdns_check_srv_records` | `domain`, `source` | SRV records answered |
//! | `kmsdns_check_srv_ttl_seconds` | `domain`, `source` | the RRset's TTL |
//! | `kmsdns_check_target_addresses` | `domain`, `target` | A and AAAA of a target |
//! | `kmsdns_updates_unsigned_accepted` | `domain`, `primary` | 1 unsigned updates would apply |
//! | `kmsdns_updates_key_accepted` | `domain`, `primary`, `key` | 1 our key's updates would apply |
//! | `kmsdns_updates_static_status` | `zone`, `view` | worst named.conf grant finding |
//! | `kmsdns_last_run_timestamp_seconds` | | end of the run, Unix time |
//!
//! The `kmsdns_check_*`, `kmsdns_updates_*` and `kmsdns_replication_converged`
//! series come from the command's details ([`series`]), alone or in `audit`.
//!
//! node-exporter rejects a whole file with a duplicate sample, so a label
//! set is written once (the first one wins), and it reads every `*.prom`
//! file it finds, so [`write_textfile`] never leaves a partial one.

use std::collections::HashSet;
use std::fmt::Display;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub mod series;

use crate::commands::audit::metrics::{status_value, Metrics};
use crate::error::Error;
use crate::output::Document;
use crate::report::{Report, Severity};

/// Writes `report`, `metrics` and the series of the command's own facts
/// ([`series::of`]) in the text exposition format.
pub fn render(report: &Document, metrics: &Metrics, out: &mut dyn Write) -> io::Result<()> {
    let mut by_id = Vec::new();
    count_by_id(&report.findings, &mut by_id);
    let mut families = run_families(report.status, &report.summary, &by_id).to_vec();
    families.extend(estate_families(
        report,
        series::of(report.details.as_ref()),
        metrics,
    ));
    families.push(last_run_family(metrics.last_run));
    for family in &families {
        family.write(out)?;
    }
    Ok(())
}

/// Findings of each id and severity, in order of first appearance.
pub type ByIdCounts = Vec<(String, Severity, usize)>;

/// Adds the findings of `findings` to `counts`.
pub fn count_by_id(findings: &[crate::report::Finding], counts: &mut ByIdCounts) {
    for finding in findings {
        let id = finding.id.to_string();
        match counts
            .iter_mut()
            .find(|(i, s, _)| *i == id && *s == finding.severity)
        {
            Some((_, _, count)) => *count += 1,
            None => counts.push((id, finding.severity, 1)),
        }
    }
}

/// The families of the run as a whole: up, status, findings by severity
/// and by id.
pub fn run_families(
    status: Severity,
    s: &crate::report::Summary,
    by_id: &ByIdCounts,
) -> [Family; 4] {
    let mut up = Family::new(
        "kmsdns_up",
        "1 when the kmsdns run completed, 0 when it could not run",
    );
    up.sample(&[], 1);

    let mut status_family = Family::new(
        "kmsdns_status",
        "Worst finding of the run: 0 ok, 1 warning, 2 critical",
    );
    status_family.sample(&[], status_value(status));

    let mut findings = Family::new("kmsdns_findings", "Findings of the run, by severity");
    for (severity, count) in [
        ("critical", s.critical),
        ("warning", s.warning),
        ("info", s.info),
        ("ok", s.ok),
    ] {
        findings.sample(&[("severity", severity)], count);
    }

    let mut by_id_family = Family::new(
        "kmsdns_findings_by_id",
        "Findings of the run, by finding id and severity",
    );
    for (id, severity, count) in by_id {
        by_id_family.sample(
            &[
                ("id", id),
                ("severity", crate::report::palette::severity_word(*severity)),
            ],
            count,
        );
    }
    [up, status_family, findings, by_id_family]
}

/// The families of each domain, KMS address and server of `report` and
/// `metrics`, then `series` (the command's own, [`series::of`]), every one
/// of them even when it has no sample, always in the same order: a run's
/// windows can each add theirs.
pub fn estate_families<D>(
    report: &Report<D>,
    series: Vec<Family>,
    metrics: &Metrics,
) -> Vec<Family> {
    let mut families = Vec::new();
    let mut domains = Family::new(
        "kmsdns_domain_status",
        "Worst finding about the domain: 0 ok, 1 warning, 2 critical",
    );
    for domain in metrics.domain_statuses(report) {
        domains.sample(&[("domain", &domain.domain)], status_value(domain.status));
    }
    families.push(domains);

    let mut kms = Family::new(
        "kmsdns_probe_kms",
        "1 when the address answered the RPC bind for the KMS interface",
    );
    let mut latency = Family::new(
        "kmsdns_probe_latency_seconds",
        "TCP connect plus RPC bind time of an address that answered as KMS",
    );
    for host in &metrics.hosts {
        let address = host.address.map(|a| a.to_string()).unwrap_or_default();
        let labels = [
            ("domain", host.domain.as_deref().unwrap_or("")),
            ("host", host.host.as_str()),
            ("address", address.as_str()),
        ];
        kms.sample(&labels, u8::from(host.kms));
        if let Some(seconds) = host.latency {
            latency.sample(&labels, seconds.as_secs_f64());
        }
    }
    families.push(kms);
    families.push(latency);

    let mut server_up = Family::new(
        "kmsdns_replication_server_up",
        "1 when the authoritative server gave the zone's SOA",
    );
    let mut lag = Family::new(
        "kmsdns_replication_lag_serials",
        "SOA serials the server is behind the newest serial of the zone (RFC 1982)",
    );
    for server in &metrics.servers {
        let labels = [
            ("zone", server.zone.as_str()),
            ("server", server.server.as_str()),
        ];
        server_up.sample(&labels, u8::from(server.serial_lag.is_some()));
        if let Some(serials) = server.serial_lag {
            lag.sample(&labels, serials);
        }
    }
    families.push(server_up);
    families.push(lag);

    families.extend(series);
    families
}

/// Writes the metrics of a run that could not happen (configuration, usage
/// or I/O error): `kmsdns_up 0`, so an alert fires instead of the old file
/// going stale in silence.
pub fn render_error(last_run: SystemTime, out: &mut dyn Write) -> io::Result<()> {
    let mut up = Family::new(
        "kmsdns_up",
        "1 when the kmsdns run completed, 0 when it could not run",
    );
    up.sample(&[], 0);
    up.write(out)?;
    last_run_family(last_run).write(out)
}

/// When the run ended.
pub fn last_run_family(time: SystemTime) -> Family {
    let mut family = Family::new(
        "kmsdns_last_run_timestamp_seconds",
        "When the kmsdns run finished, in seconds since the Unix epoch",
    );
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    family.sample(&[], seconds);
    family
}

/// Replaces the file at `path` with `text` atomically: readers see the
/// whole old file or the whole new one, never a part.
///
/// The text goes to a temporary file in the same directory (a rename is
/// atomic only within one file system), is flushed to disk, and is renamed
/// over `path`. On any error the temporary file is removed and the old
/// file is left as it was. The temporary name starts with `.` and ends in
/// `.tmp`, so node-exporter, which reads `*.prom`, never sees it. An
/// existing file's permissions are kept.
pub fn write_textfile(path: &Path, text: &str) -> Result<(), Error> {
    replace_file(path, |file| file.write_all(text.as_bytes())).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// [`write_textfile`] with the text written by `write`, for text that is
/// not in memory in one piece.
pub fn write_textfile_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), Error> {
    replace_file(path, write).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// [`write_textfile`] with the writing step given, so tests can make it fail.
fn replace_file(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let (temp_path, mut file) = create_temp(dir, &name.to_string_lossy())?;
    let written = (|| {
        if let Ok(old) = fs::metadata(path) {
            file.set_permissions(old.permissions())?;
        }
        write(&mut file)?;
        file.sync_all()?;
        fs::rename(&temp_path, path)
    })();
    if let Err(e) = written {
        drop(file);
        let _ = fs::remove_file(&temp_path);
        return Err(e);
    }
    // The rename survives a crash only once the directory is on disk too.
    // Best effort: not every system lets a directory be opened and synced,
    // and the new file is in place either way.
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates `.NAME.PID.N.tmp` in `dir`, never reusing an existing file (two
/// runs writing the same textfile each get their own).
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let mut attempt = 0u32;
    loop {
        let candidate = dir.join(format!(".{name}.{pid}.{attempt}.tmp"));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// One metric family: its `# HELP`, `# TYPE gauge` and samples.
#[derive(Clone)]
pub struct Family {
    pub name: &'static str,
    help: &'static str,
    /// Rendered label sets (`{a="b"}` or empty) and values.
    samples: Vec<(String, String)>,
    /// The label sets of `samples`: a set is written once.
    labels: HashSet<String>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Family {
            name,
            help,
            samples: Vec::new(),
            labels: HashSet::new(),
        }
    }

    /// Adds a sample, unless one with the same labels is already there.
    fn sample(&mut self, labels: &[(&str, &str)], value: impl Display) {
        let labels = if labels.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(name, value)| format!("{name}=\"{}\"", escape_label_value(value)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        };
        if self.labels.insert(labels.clone()) {
            self.samples.push((labels, value.to_string()));
        }
    }

    /// Writes the family; nothing at all when it has no sample.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.samples.is_empty() {
            return Ok(());
        }
        self.write_head(out)?;
        self.write_samples(out)
    }

    /// `# HELP` and `# TYPE`.
    pub fn write_head(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "# HELP {} {}", self.name, escape_help(self.help))?;
        writeln!(out, "# TYPE {} gauge", self.name)
    }

    /// The samples alone, one a line.
    pub fn write_samples(&self, out: &mut dyn Write) -> io::Result<()> {
        for (labels, value) in &self.samples {
            writeln!(out, "{}{labels} {value}", self.name)?;
        }
        Ok(())
    }

    /// Keeps the samples whose label set (`{a="b",…}`) `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.samples.retain(|(labels, _)| keep(labels));
    }
}

/// A label value as the exposition format wants it: `\`, `"` and line feed
/// escaped as `\\`, `\"` and `\n`.
pub fn escape_label_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// HELP text: `\` and line feed escaped (a quote needs no escape there).
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::commands::audit::metrics::{sample, HostMetric};
    use crate::output::written;
    use crate::report::{Finding, FindingId, Report};

    fn rendered(report: &Report<()>, metrics: &Metrics) -> String {
        let report: Document = report.clone().without_details();
        written(|out| render(&report, metrics, out))
    }

    #[test]
    fn families_labels_and_values() {
        let (report, metrics) = sample();
        assert_eq!(
            rendered(&report, &metrics),
            r#"# HELP kmsdns_up 1 when the kmsdns run completed, 0 when it could not run
# TYPE kmsdns_up gauge
kmsdns_up 1
# HELP kmsdns_status Worst finding of the run: 0 ok, 1 warning, 2 critical
# TYPE kmsdns_status gauge
kmsdns_status 2
# HELP kmsdns_findings Findings of the run, by severity
# TYPE kmsdns_findings gauge
kmsdns_findings{severity="critical"} 1
kmsdns_findings{severity="warning"} 2
kmsdns_findings{severity="info"} 1
kmsdns_findings{severity="ok"} 2
# HELP kmsdns_findings_by_id Findings of the run, by finding id and severity
# TYPE kmsdns_findings_by_id gauge
kmsdns_findings_by_id{id="srv-ok",severity="ok"} 2
kmsdns_findings_by_id{id="single-host",severity="warning"} 1
kmsdns_findings_by_id{id="srv-missing",severity="critical"} 1
kmsdns_findings_by_id{id="serial-behind",severity="warning"} 1
kmsdns_findings_by_id{id="keyed-only",severity="info"} 1
# HELP kmsdns_domain_status Worst finding about the domain: 0 ok, 1 warning, 2 critical
# TYPE kmsdns_domain_status gauge
kmsdns_domain_status{domain="a.example."} 0
kmsdns_domain_status{domain="b.example."} 1
kmsdns_domain_status{domain="c.example."} 2
# HELP kmsdns_probe_kms 1 when the address answered the RPC bind for the KMS interface
# TYPE kmsdns_probe_kms gauge
kmsdns_probe_kms{domain="a.example.",host="kms1.a.example.:1688",address="192.0.2.10:1688"} 1
kmsdns_probe_kms{domain="a.example.",host="kms1.a.example.:1688",address="[2001:db8::10]:1688"} 0
kmsdns_probe_kms{domain="b.example.",host="kms9.b.example.:1688",address=""} 0
# HELP kmsdns_probe_latency_seconds TCP connect plus RPC bind time of an address that answered as KMS
# TYPE kmsdns_probe_latency_seconds gauge
kmsdns_probe_latency_seconds{domain="a.example.",host="kms1.a.example.:1688",address="192.0.2.10:1688"} 0.012345
# HELP kmsdns_replication_server_up 1 when the authoritative server gave the zone's SOA
# TYPE kmsdns_replication_server_up gauge
kmsdns_replication_server_up{zone="a.example.",server="ns1.a.example."} 1
kmsdns_replication_server_up{zone="a.example.",server="ns2.a.example."} 0
kmsdns_replication_server_up{zone="c.example.",server="ns2.c.example."} 1
# HELP kmsdns_replication_lag_serials SOA serials the server is behind the newest serial of the zone (RFC 1982)
# TYPE kmsdns_replication_lag_serials gauge
kmsdns_replication_lag_serials{zone="a.example.",server="ns1.a.example."} 0
kmsdns_replication_lag_serials{zone="c.example.",server="ns2.c.example."} 3
# HELP kmsdns_last_run_timestamp_seconds When the kmsdns run finished, in seconds since the Unix epoch
# TYPE kmsdns_last_run_timestamp_seconds gauge
kmsdns_last_run_timestamp_seconds 1700000000
"#
        );
    }

    #[test]
    fn a_report_without_metrics_has_only_the_run_families() {
        let report = Report::<()>::new("bind");
        let text = rendered(&report, &Metrics::new(UNIX_EPOCH));
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .collect();
        assert_eq!(
            names,
            vec![
                "kmsdns_up gauge",
                "kmsdns_status gauge",
                "kmsdns_findings gauge",
                "kmsdns_last_run_timestamp_seconds gauge"
            ]
        );
    }

    #[test]
    fn errors_say_down() {
        let text = written(|out| render_error(UNIX_EPOCH + Duration::from_secs(5), out));
        assert!(text.contains("\nkmsdns_up 0\n"), "{text}");
        assert!(
            text.ends_with("\nkmsdns_last_run_timestamp_seconds 5\n"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped_and_duplicates_dropped() {
        assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label_value("two\nlines"), r"two\nlines");
        assert_eq!(escape_label_value("corp.example."), "corp.example.");
        let mut report = Report::<()>::new("audit");
        report.push(
            Finding::new(FindingId::SrvMissing, Severity::Critical, "none").domain("we\"ird\\\n."),
        );
        let mut metrics = Metrics::new(UNIX_EPOCH);
        metrics.domains = vec!["we\"ird\\\n.".into()];
        let host = HostMetric::without_address(Some("we\"ird\\\n."), "h:1688");
        metrics.hosts = vec![host.clone(), host];
        let text = rendered(&report, &metrics);
        assert!(
            text.contains("kmsdns_domain_status{domain=\"we\\\"ird\\\\\\n.\"} 2\n"),
            "{text}"
        );
        assert_eq!(text.matches("kmsdns_probe_kms{").count(), 1, "{text}");
        assert!(
            text.lines()
                .all(|l| l.starts_with("# ") || l.starts_with("kmsdns_")),
            "no raw line break: {text}"
        );
    }

    #[test]
    fn help_text_is_escaped() {
        assert_eq!(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");
    }

    fn temp_dir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kmsdns-textfile-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn textfile_is_replaced_in_one_rename() {
        use std::io::Read;
        let dir = temp_dir();
        let path = dir.join("kmsdns.prom");
        fs::write(&path, "kmsdns_up 1\n").unwrap();
        // A reader that opened the old file keeps reading the old file:
        // the new one is a different inode renamed over it, not the old
        // one truncated and rewritten in place.
        let mut reader = File::open(&path).unwrap();
        write_textfile(&path, "kmsdns_up 0\n").unwrap();
        let mut old = String::new();
        reader.read_to_string(&mut old).unwrap();
        assert_eq!(old, "kmsdns_up 1\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "kmsdns_up 0\n");
        assert_eq!(
            entries(&dir),
            vec!["kmsdns.prom"],
            "no temporary file is left"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = temp_dir();
        let path = dir.join("kmsdns.prom");
        fs::write(&path, "kmsdns_up 1\n").unwrap();
        let failed = replace_file(&path, |file| {
            file.write_all(b"kmsdns_up")?;
            Err(io::Error::other("disk full"))
        });
        assert_eq!(
            failed.map_err(|e| e.to_string()),
            Err("disk full".to_string())
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "kmsdns_up 1\n");
        assert_eq!(entries(&dir), vec!["kmsdns.prom"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_file_is_created_and_errors_name_the_path() {
        let dir = temp_dir();
        let path = dir.join("new.prom");
        write_textfile(&path, "x 1\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "x 1\n");
        let missing = dir.join("no-such-dir").join("kmsdns.prom");
        let error = write_textfile(&missing, "x 1\n").unwrap_err().to_string();
        assert!(error.contains("no-such-dir/kmsdns.prom"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir();
        let path = dir.join("kmsdns.prom");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        write_textfile(&path, "new\n").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let _ = fs::remove_dir_all(&dir);
    }
}
