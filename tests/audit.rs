//! `kmsdns audit` against the real BIND test bed, with healthy and broken
//! domains and a KMS-like responder: every format, `-q`, `--fail-on`, the
//! Prometheus textfile parsed back and replaced atomically.

use crate::common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::windows::json_comparable;
use common::bind::published_in_open_example;
use common::bind::{key_file, nsupdate, Server, TestBed};
use common::prometheus::parse;
use common::run::{Kmsdns, Run};

fn config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("kmsdns.toml");
    let text = format!(
        "{body}\n[tsig-key.secure]\nfile = \"{}\"\n",
        key_file("kmsdns-secure").display()
    );
    std::fs::write(&path, text).expect("config");
    path
}

fn audit(bed: &TestBed, config: &Path, args: &[&str]) -> Run {
    Kmsdns::new()
        .args(["-c", config.to_str().expect("UTF-8")])
        .bed(bed)
        .args(["--timeout", "500ms"])
        .args(args)
        .run()
}

/// The ports and the bed's own numbers change every run.
fn redact(text: &str, bed: &TestBed) -> String {
    text.replace(&format!(":{}", bed.port()), ":PORT")
}

#[test]
fn healthy_domains_are_silent_with_quiet_and_exit_0() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        dir.path(),
        "publish-list = [\"static.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
    );
    let quiet = audit(
        &bed,
        &config,
        &["-q", "audit", "--no-probe", "--no-updates"],
    );
    assert_eq!(quiet.status, 0, "{}{}", quiet.stdout, quiet.stderr);
    assert_eq!(quiet.stdout, "", "cron mails nothing when all is OK");
    assert_eq!(quiet.stderr, "");

    let text = audit(&bed, &config, &["audit", "--no-probe", "--no-updates"]);
    assert_eq!(text.status, 0);
    assert!(
        text.stdout
            .starts_with("audit 1 domain(s): 1 ok, 0 warning, 0 critical"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("srv-ok") && text.stdout.contains("replicated"),
        "{}",
        text.stdout
    );
}

#[test]
fn mixed_estate_in_every_format() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        dir.path(),
        "publish-list = [\"static.example\", \"broken.example\", \"open.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
    );
    let args = ["audit", "--no-probe"];

    let text = audit(&bed, &config, &args);
    assert_eq!(text.status, 2, "{}{}", text.stdout, text.stderr);
    insta::assert_snapshot!("audit-text", redact(&text.stdout, &bed));
    // One domain at a time, kept on disk until the end: the same output.
    let windowed = |format: &str| {
        audit(
            &bed,
            &config,
            &[&["--format", format][..], &args, &["--window", "1"]].concat(),
        )
    };
    let one_by_one = windowed("text");
    assert_eq!(one_by_one.status, 2);
    assert_eq!(one_by_one.stdout, text.stdout);

    // JSON: one document, every part's details, the same findings; the
    // same document written one domain at a time.
    let json = audit(&bed, &config, &[&["--format", "json"][..], &args].concat());
    assert_eq!(json.status, 2);
    let one_by_one = windowed("json");
    assert_eq!(one_by_one.status, 2);
    assert_eq!(json_comparable(&one_by_one), json_comparable(&json));
    let doc: serde_json::Value = json.json();
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["command"], "audit");
    assert_eq!(doc["status"], "critical");
    assert_eq!(
        doc["details"]["parts"],
        serde_json::json!(["check", "replication", "updates"])
    );
    let ids: Vec<&str> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    for id in [
        "srv-missing",
        "target-is-cname",
        "target-no-address",
        "unknown-target",
        "unsigned-updates-accepted",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let statuses: BTreeMap<&str, &str> = doc["details"]["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap_or(""),
                d["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // No key for a zone that refuses unsigned updates: publish cannot work.
    assert_eq!(statuses["static.example."], "warning");
    assert_eq!(statuses["broken.example."], "warning");
    assert_eq!(statuses["open.example."], "critical");

    // Nagios: one status line with perfdata, then one line per problem.
    let nagios = audit(
        &bed,
        &config,
        &[&["--format", "nagios"][..], &args].concat(),
    );
    assert_eq!(nagios.status, 2);
    insta::assert_snapshot!("audit-nagios", redact(&nagios.stdout, &bed));
    let one_by_one = windowed("nagios");
    assert_eq!(one_by_one.status, 2);
    assert_eq!(one_by_one.stdout, nagios.stdout);
    let first = nagios.stdout.lines().next().expect("status line");
    assert!(first.starts_with("KMSDNS CRITICAL - 3 domains"), "{first}");
    assert!(first.contains("| domains=3 "), "{first}");
    assert!(
        nagios
            .stdout
            .lines()
            .skip(1)
            .any(|l| l.starts_with("CRITICAL open.example.")),
        "{}",
        nagios.stdout
    );

    // Prometheus: the same findings as gauges; the run's time is redacted.
    let prometheus = audit(
        &bed,
        &config,
        &[&["--format", "prometheus"][..], &args].concat(),
    );
    assert_eq!(prometheus.status, 2);
    let stable = |text: &str| {
        redact(text, &bed)
            .lines()
            .map(
                |line| match line.strip_prefix("kmsdns_last_run_timestamp_seconds ") {
                    Some(_) => "kmsdns_last_run_timestamp_seconds [TIME]".to_string(),
                    None => line.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::assert_snapshot!("audit-prometheus", stable(&prometheus.stdout));
    let one_by_one = windowed("prometheus");
    assert_eq!(one_by_one.status, 2);
    assert_eq!(stable(&one_by_one.stdout), stable(&prometheus.stdout));

    // --fail-on critical: a warning alone would exit 0; a critical still exits 2.
    let fail_on = audit(
        &bed,
        &config,
        &[&["--fail-on", "critical"][..], &args].concat(),
    );
    assert_eq!(fail_on.status, 2);
}

#[test]
fn fail_on_chooses_what_makes_a_non_zero_exit() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // kms2 is not in the configuration: a warning (unknown target), nothing critical.
    let config = config(
        dir.path(),
        "publish-list = [\"static.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n",
    );
    let args = ["audit", "--no-probe", "--no-updates"];
    let warning = audit(&bed, &config, &args);
    assert_eq!(warning.status, 1, "{}", warning.stdout);
    let critical_only = audit(
        &bed,
        &config,
        &[&["--fail-on", "critical"][..], &args].concat(),
    );
    assert_eq!(critical_only.status, 0, "{}", critical_only.stdout);
    let warning_on = audit(
        &bed,
        &config,
        &[&["--fail-on", "warning"][..], &args].concat(),
    );
    assert_eq!(warning_on.status, 1);
}

#[test]
fn probe_metrics_reach_prometheus_and_the_textfile_is_replaced_atomically() {
    let bed = TestBed::start();
    let (_runtime, kms) = published_in_open_example(&bed, Ipv4Addr::new(127, 53, 1, 21), "kms21");
    let port = kms.addr().port();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        dir.path(),
        &format!("publish-list = [\"open.example\"]\n[[host]]\nname = \"kms21.open.example\"\nport = {port}\n"),
    );
    let textfile = dir.path().join("kmsdns.prom");
    std::fs::write(&textfile, "old content\n").expect("old file");
    let run = audit(
        &bed,
        &config,
        &[
            "--format",
            "prometheus",
            "audit",
            "--no-updates",
            "--textfile",
            textfile.to_str().expect("UTF-8"),
        ],
    );
    // One host: a warning (no failover).
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    let written = std::fs::read_to_string(&textfile).expect("textfile");
    assert_eq!(written, run.stdout, "the file holds what was printed");
    let samples = parse(&written);
    let value = |name: &str, label: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|(n, labels, _)| {
                n == name && label.is_none_or(|(k, v)| labels.get(k).map(String::as_str) == Some(v))
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(value("kmsdns_up", None), Some(1.0));
    assert_eq!(
        value("kmsdns_domain_status", Some(("domain", "open.example."))),
        Some(1.0)
    );
    assert_eq!(
        value(
            "kmsdns_probe_kms",
            Some(("address", &format!("127.53.1.21:{port}")))
        ),
        Some(1.0)
    );
    assert!(
        value(
            "kmsdns_probe_latency_seconds",
            Some(("host", &format!("kms21.open.example.:{port}")))
        )
        .is_some(),
        "{written}"
    );
    assert!(value("kmsdns_last_run_timestamp_seconds", None).is_some_and(|t| t > 1.7e9));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temp file left: {leftovers:?}");
    drop(kms);
}

/// Three domains of one zone, two served by the same KMS host, one without
/// records: the host and its address count once, and `srv-missing`,
/// found by check and by probe, is one finding with both sources.
#[test]
fn one_finding_per_fact_and_distinct_addresses_counted_once() {
    let bed = TestBed::start();
    let (_runtime, kms) = published_in_open_example(&bed, Ipv4Addr::new(127, 53, 1, 22), "kms22");
    let port = kms.addr().port();
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add _vlmcs._tcp.sub.open.example. 60 IN SRV 0 0 {port} kms22.open.example.\n\
             send\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        dir.path(),
        &format!("publish-list = [\"open.example\", \"sub.open.example\", \"empty.open.example\"]\n[[host]]\nname = \"kms22.open.example\"\nport = {port}\n"),
    );

    let json = audit(
        &bed,
        &config,
        &["--format", "json", "audit", "--no-updates"],
    );
    assert_eq!(json.status, 2, "{}{}", json.stdout, json.stderr);
    let doc: serde_json::Value = json.json();
    let missing: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == "srv-missing")
        .collect();
    assert_eq!(missing.len(), 1, "{doc:#}");
    assert_eq!(missing[0]["domain"], "empty.open.example.");
    assert_eq!(missing[0]["sources"], serde_json::json!(["check", "probe"]));
    let details = &doc["details"];
    assert_eq!(details["addresses_probed"], 1, "{details:#}");
    assert_eq!(details["addresses_reachable"], 1);
    assert_eq!(details["hosts_probed"], 1);
    assert_eq!(details["hosts_reachable"], 1);

    let text = audit(&bed, &config, &["audit", "--no-updates"]);
    assert_eq!(text.lines_with("srv-missing").len(), 1, "{}", text.stdout);
    assert!(
        text.stdout
            .contains("1 of 1 KMS address(es) reachable, 1 of 1 host(s)"),
        "{}",
        text.stdout
    );
    let nagios = audit(
        &bed,
        &config,
        &["--format", "nagios", "audit", "--no-updates"],
    );
    let lines: Vec<&str> = nagios
        .stdout
        .lines()
        .filter(|l| l.contains("srv-missing"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", nagios.stdout);
    drop(kms);
}

/// The delegated sub-zone branch.open.example, served by the three servers.
const BRANCH_ZONE: &str = "$ORIGIN branch.open.example.\n$TTL 3600\n\
@ IN SOA ns1.open.example. hostmaster.open.example. 1 3600 600 86400 60\n\
@ IN NS ns1.open.example.\n@ IN NS ns2.open.example.\n@ IN NS ns3.open.example.\n\
_vlmcs._tcp IN SRV 0 0 1688 kms1.secure.example.\n\
_vlmcs._tcp IN SRV 0 0 1688 kms2.secure.example.\n";

/// Every finding belongs to a configured domain: emea.open.example (a name
/// inside zone open.example, whose apex is not configured) and
/// branch.open.example (a delegated sub-zone), with one secondary
/// stopped. The zone-level facts are filed under each configured domain,
/// naming the zone, and no format lists open.example.
#[test]
fn findings_belong_to_configured_domains_never_to_a_zone_apex() {
    let mut bed = TestBed::builder()
        .zone("branch.open.example", BRANCH_ZONE)
        .start();
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add branch.open.example. 3600 IN NS ns1.open.example.\n\
             update add branch.open.example. 3600 IN NS ns2.open.example.\n\
             update add branch.open.example. 3600 IN NS ns3.open.example.\n\
             update add _vlmcs._tcp.emea.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.\n\
             update add _vlmcs._tcp.emea.open.example. 3600 IN SRV 0 0 1688 kms2.secure.example.\n\
             send\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    bed.wait_serial(
        Server::Ns2,
        "open.example",
        serial,
        std::time::Duration::from_secs(10),
    );
    bed.stop(Server::Ns3);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        dir.path(),
        "publish-list = [\"emea.open.example\", \"branch.open.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
    );
    let configured = ["emea.open.example.", "branch.open.example."];
    let args = ["audit", "--no-updates", "--no-probe"];

    let json = audit(&bed, &config, &[&["--format", "json"][..], &args].concat());
    assert_eq!(
        json.status, 1,
        "a stopped secondary is a warning\n{}{}",
        json.stdout, json.stderr
    );
    let doc: serde_json::Value = json.json();
    let domains: Vec<&str> = doc["details"]["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .filter_map(|d| d["domain"].as_str())
        .collect();
    assert_eq!(domains, configured, "{doc:#}");
    let findings = doc["findings"].as_array().expect("findings");
    for finding in findings {
        let domain = finding["domain"].as_str().unwrap_or_default();
        assert!(configured.contains(&domain), "{finding}");
    }
    // The stopped server is a fact of each zone, so of both domains; the
    // domain inside zone open.example names it.
    for domain in configured {
        let unreachable: Vec<&serde_json::Value> = findings
            .iter()
            .filter(|f| f["id"] == "server-unreachable" && f["domain"] == domain)
            .collect();
        assert!(!unreachable.is_empty(), "{domain}: {doc:#}");
    }
    for (at, _) in configured.iter().enumerate() {
        assert_eq!(
            doc["details"]["domains"][at]["status"], "warning",
            "{doc:#}"
        );
    }
    assert!(findings
        .iter()
        .filter(|f| f["domain"] == "emea.open.example.")
        .any(|f| f["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("zone open.example.: ")));

    let text = audit(&bed, &config, &args);
    assert!(
        text.stdout
            .starts_with("audit 2 domain(s): 0 ok, 2 warning, 0 critical"),
        "{}",
        text.stdout
    );
    assert!(
        !text
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("open.example.")),
        "{}",
        text.stdout
    );
    let nagios = audit(
        &bed,
        &config,
        &[&["--format", "nagios"][..], &args].concat(),
    );
    assert!(
        !nagios
            .stdout
            .lines()
            .any(|l| l.split(' ').nth(1) == Some("open.example.")),
        "{}",
        nagios.stdout
    );
    let prometheus = audit(
        &bed,
        &config,
        &[&["--format", "prometheus"][..], &args].concat(),
    );
    let statuses: Vec<String> = parse(&prometheus.stdout)
        .into_iter()
        .filter(|(name, _, _)| name == "kmsdns_domain_status")
        .filter_map(|(_, labels, _)| labels.get("domain").cloned())
        .collect();
    assert_eq!(statuses, configured, "{}", prometheus.stdout);
}

/// Each window's output waits in unnamed files in the temporary directory:
/// when there is none, the audit says which directory and what to set,
/// before it asks anything, and the textfile says the run failed.
#[test]
fn a_missing_temporary_directory_is_named_with_what_to_do() {
    // Stands for every DNS server: the audit must send it nothing.
    let dns = common::silent::Silent::bind();
    let dns_addr = dns.address();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(
        dir.path(),
        "publish-list = [\"open.example\"]\n[[host]]\nname = \"kms21.open.example\"\n",
    );
    let missing = dir.path().join("no-such-dir");
    let textfile = dir.path().join("kmsdns.prom");
    std::fs::write(&textfile, "kmsdns_up 1\n").expect("old file");
    for format in ["text", "prometheus"] {
        let run = Kmsdns::new()
            .cwd(dir.path())
            .env("TMPDIR", &missing)
            .args(["-c", config.to_str().expect("UTF-8")])
            .args(["--nameserver", &dns_addr.to_string()])
            .args(["--dns-port", &dns_addr.port().to_string()])
            .args(["--timeout", "200ms", "--format", format, "audit"])
            .args(["--no-updates", "--textfile"])
            .arg(&textfile)
            .run();
        assert_eq!(run.status, 3, "{run}");
        let message = format!(
            "kmsdns: error: cannot keep audit's output in the temporary directory {}: No such file or directory",
            missing.display()
        );
        assert!(run.stderr.contains(&message), "{run}");
        assert!(
            run.stderr.contains("set TMPDIR to a writable directory"),
            "{run}"
        );
        let samples = parse(&std::fs::read_to_string(&textfile).expect("textfile"));
        let up: Vec<f64> = samples
            .iter()
            .filter(|(name, _, _)| name == "kmsdns_up")
            .map(|(_, _, value)| *value)
            .collect();
        assert_eq!(up, [0.0], "{format}: {samples:?}");
        dns.assert_unasked(&run);
    }
}
