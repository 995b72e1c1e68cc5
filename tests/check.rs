//! `kmsdns check` against the real BIND test bed: a clean zone is ok,
//! every broken-on-purpose record has its finding, a missing RRset names
//! the Windows error, a refused or timed-out read is never "no record".

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::bind::{nsupdate, Server, TestBed};
use common::run::{kmsdns, Kmsdns, Run};
use serde::Deserialize;

/// Runs kmsdns with `nameserver` as resolver.
fn kmsdns_via(bed: &TestBed, nameserver: String, args: &[&str]) -> Run {
    Kmsdns::new()
        .cwd(bed.dir())
        .args(["--nameserver", &nameserver])
        .args(["--dns-port", &bed.port().to_string()])
        .args(args)
        .run()
}

/// A configuration file: hosts kms1 and kms2 of secure.example publishing
/// to `domains`, plus `extra` at the top.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(domains: &[&str], extra: &str) -> Config {
        let dir = tempfile::tempdir().expect("temp dir");
        let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
        let text = format!(
            "{extra}\npublish-list = [{}]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
            list.join(", ")
        );
        std::fs::write(dir.path().join("kmsdns.toml"), text).expect("write config");
        Config { dir }
    }

    fn path(&self) -> String {
        let path: PathBuf = self.dir.path().join("kmsdns.toml");
        path.display().to_string()
    }
}

/// Sends `updates` (nsupdate lines) to open.example, which takes unsigned
/// updates.
fn update_open(bed: &TestBed, updates: &str) {
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n{updates}\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
}

// The JSON document as README documents it; unknown fields are allowed
// (adding fields keeps schema 1), missing ones fail the test.

#[derive(Debug, Deserialize)]
struct Document {
    schema: u32,
    command: String,
    status: String,
    summary: Summary,
    details: Details,
    findings: Vec<Finding>,
}

#[derive(Debug, Deserialize)]
struct Summary {
    ok: usize,
    critical: usize,
}

#[derive(Debug, Deserialize)]
struct Details {
    domains: Vec<DomainCheck>,
}

#[derive(Debug, Deserialize)]
struct DomainCheck {
    domain: String,
    zone: Option<String>,
    authoritative: Source,
    resolver: Source,
    targets: Vec<Target>,
}

#[derive(Debug, Deserialize)]
struct Source {
    via: String,
    status: String,
    ttl: Option<u32>,
    records: Vec<Srv>,
    error: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
struct Srv {
    priority: u16,
    weight: u16,
    port: u16,
    target: String,
}

#[derive(Debug, Deserialize)]
struct Target {
    target: String,
    addresses: Vec<String>,
    alias_of: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Finding {
    id: String,
    severity: String,
    domain: Option<String>,
    host: Option<String>,
    server: Option<String>,
    message: String,
    hint: Option<String>,
}

#[test]
fn a_correct_domain_is_ok_with_and_without_configuration() {
    let bed = TestBed::start();
    let config = Config::new(&["static.example"], "complete = true");
    let run = kmsdns(&bed, &["-c", &config.path(), "check"]);
    assert_eq!(run.status, 0, "{run}");
    let ok = run.lines_with("srv-ok");
    assert_eq!(ok.len(), 1, "{run}");
    assert!(ok[0].contains("2 record(s), 2 KMS host(s)"), "{run}");
    assert!(ok[0].contains("as configured"), "{run}");
    assert!(
        run.stdout
            .contains("0 0 1688  kms1.secure.example.  127.53.1.1"),
        "records and addresses shown, aligned:\n{run}"
    );

    let run = kmsdns(&bed, &["check", "--domain", "static.example"]);
    assert_eq!(run.status, 0, "{run}");
    assert!(
        run.stdout.contains("no configuration to compare with"),
        "{run}"
    );
}

#[test]
fn each_broken_record_has_its_finding() {
    let bed = TestBed::start();
    let config = Config::new(&["broken.example"], "");
    let run = kmsdns(&bed, &["-c", &config.path(), "check"]);
    assert_eq!(run.status, 1, "warnings only: kms1 still works\n{run}");
    let cname = run.lines_with("target-is-cname");
    assert_eq!(cname.len(), 1, "{run}");
    assert!(
        cname[0].contains("alias.broken.example.") && cname[0].contains("kms1.secure.example."),
        "names the alias and what it points at:\n{run}"
    );
    let no_address = run.lines_with("target-no-address");
    assert_eq!(no_address.len(), 1, "{run}");
    assert!(no_address[0].contains("noaddr.broken.example."), "{run}");
    assert!(
        no_address[0].contains("exists but has no A or AAAA record"),
        "noaddr has a TXT record:\n{run}"
    );
    let unknown = run.lines_with("unknown-target");
    assert_eq!(
        unknown.len(),
        2,
        "noaddr and rogue; the alias is kms1:\n{run}"
    );
    assert!(
        unknown.iter().all(|l| l.starts_with("  warning")),
        "not critical without complete = true:\n{run}"
    );
    assert!(
        unknown
            .iter()
            .any(|l| l.contains("[host rogue.broken.example.]")),
        "{run}"
    );
    assert!(!unknown.iter().any(|l| l.contains("alias")), "{run}");
    let missing = run.lines_with("record-missing");
    assert_eq!(missing.len(), 1, "{run}");
    assert!(missing[0].contains("kms2.secure.example."), "{run}");
    assert!(run.lines_with("srv-ok").is_empty(), "{run}");

    // complete = true: every KMS host is configured, so the rogue is critical.
    let config = Config::new(&["broken.example"], "complete = true");
    let run = kmsdns(&bed, &["-c", &config.path(), "--format", "json", "check"]);
    assert_eq!(run.status, 2, "{run}");
    let doc = run.json::<Document>();
    let rogue: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.id == "unknown-target")
        .collect();
    assert_eq!(rogue.len(), 2, "{run}");
    assert!(rogue.iter().all(|f| f.severity == "critical"), "{run}");
    let host = rogue
        .iter()
        .find(|f| f.host.as_deref() == Some("rogue.broken.example."))
        .expect("the rogue host");
    assert!(host.message.contains("rogue KMS host"), "{run}");
    assert!(host.hint.is_some());
    let alias = doc.details.domains[0]
        .targets
        .iter()
        .find(|t| t.target == "alias.broken.example.")
        .expect("alias target");
    assert_eq!(alias.alias_of.as_deref(), Some("kms1.secure.example."));
    assert_eq!(alias.addresses, ["127.53.1.1"]);
}

#[test]
fn no_record_names_the_windows_error() {
    let bed = TestBed::start();
    // A zone without the RRset, and a name that does not exist in a zone:
    // both NXDOMAIN.
    for domain in ["secure.example", "nothere.secure.example"] {
        let run = kmsdns(&bed, &["check", "--domain", domain]);
        assert_eq!(run.status, 2, "{domain}: {run}");
        let missing = run.lines_with("srv-missing");
        assert_eq!(missing.len(), 1, "{domain}: {run}");
        assert!(missing[0].contains("0x8007232B"), "{domain}: {run}");
        assert!(missing[0].contains("NXDOMAIN"), "{domain}: {run}");
    }
    // The name exists with another type: NODATA.
    update_open(
        &bed,
        "update add _vlmcs._tcp.open.example. 3600 IN TXT \"not an SRV\"",
    );
    let run = kmsdns(
        &bed,
        &["--format", "json", "check", "--domain", "open.example"],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc = run.json::<Document>();
    assert_eq!(doc.details.domains[0].authoritative.status, "nodata");
    let missing: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.id == "srv-missing")
        .collect();
    assert_eq!(missing.len(), 1, "{run}");
    assert_eq!(missing[0].severity, "critical");
    assert!(missing[0].message.contains("0x8007251D"), "{run}");
}

#[test]
fn a_refused_or_silent_read_is_never_no_record() {
    let mut bed = TestBed::start();
    // BIND refuses a zone it does not serve (recursion is off).
    let run = kmsdns(
        &bed,
        &["--format", "json", "check", "--domain", "notserved.test"],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc = run.json::<Document>();
    assert!(!doc.findings.is_empty(), "{run}");
    for finding in &doc.findings {
        assert_eq!(finding.id, "dns-read-failed", "{run}");
        assert_eq!(finding.severity, "critical", "{run}");
        assert!(!finding.message.contains("0x8007"), "{run}");
    }
    assert!(
        doc.findings.iter().any(|f| f.message.contains("refused")),
        "{run}"
    );
    assert_eq!(doc.details.domains[0].resolver.status, "failed");
    assert!(doc.details.domains[0].resolver.error.is_some());

    // A primary that answers nothing: timed out, bounded by --timeout.
    bed.pause(Server::PRIMARY);
    let started = Instant::now();
    let run = kmsdns(
        &bed,
        &["--timeout", "200ms", "check", "--domain", "static.example"],
    );
    let took = started.elapsed();
    bed.resume(Server::PRIMARY);
    assert_eq!(run.status, 2, "{run}");
    // Three attempts of 200 ms: about 0.6 s here (6 s with the default
    // --timeout 2s, which this bound never told apart).
    assert!(took < common::OVERDUE, "bounded: {took:?}");
    assert!(!run.lines_with("dns-read-failed").is_empty(), "{run}");
    assert!(run.lines_with("srv-missing").is_empty(), "{run}");
    assert!(run.stdout.contains("no reply"), "{run}");
}

#[test]
fn differences_from_the_configuration_name_the_field_and_both_values() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kmsdns.toml");
    std::fs::write(
        &path,
        "ttl = 600\npublish-list = [\"static.example, 10, 0\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\nport = 1689\n\
         [[host]]\nname = \"kms2.secure.example\"\n",
    )
    .expect("write config");
    let run = kmsdns(&bed, &["-c", &path.display().to_string(), "check"]);
    assert_eq!(run.status, 1, "{run}");
    let differs = run.lines_with("record-differs");
    assert_eq!(differs.len(), 2, "{run}");
    let kms1 = differs
        .iter()
        .find(|l| l.contains("kms1.secure.example."))
        .expect("kms1");
    assert!(kms1.contains("port 1688 in DNS, 1689 configured"), "{run}");
    assert!(kms1.contains("priority 0 in DNS, 10 configured"), "{run}");
    let kms2 = differs
        .iter()
        .find(|l| l.contains("kms2.secure.example."))
        .expect("kms2");
    assert!(!kms2.contains("port"), "{run}");
    let ttl = run.lines_with("ttl-differs");
    assert_eq!(ttl.len(), 1, "{run}");
    assert!(
        ttl[0].contains("3600 s") && ttl[0].contains("600 s"),
        "{run}"
    );
}

#[test]
fn a_resolver_that_lags_is_reported() {
    // ns3 keeps open.example's old serial: asked as the resolver, it still
    // says the records do not exist.
    let bed = TestBed::builder()
        .lagging_secondary("open.example", Server::Ns3)
        .start();
    update_open(
        &bed,
        "update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.\n\
         update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms2.secure.example.",
    );
    let lagging = bed.addr(Server::Ns3).to_string();
    let run = kmsdns_via(&bed, lagging, &["check", "--domain", "open.example"]);
    assert_eq!(run.status, 2, "{run}");
    let stale = run.lines_with("stale-resolver");
    assert_eq!(stale.len(), 1, "{run}");
    assert!(stale[0].starts_with("  critical"), "{run}");
    assert!(
        stale[0].contains("lacks 0 0 1688 kms1.secure.example."),
        "{run}"
    );
    assert!(
        run.lines_with("srv-missing").is_empty(),
        "the zone itself has the records:\n{run}"
    );

    // Through the primary, both answers agree.
    let run = kmsdns(&bed, &["check", "--domain", "open.example"]);
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn a_hidden_primary_is_replaced_by_another_authoritative_server() {
    // The SOA names a primary without address and outside the NS set.
    let bed = TestBed::start();
    update_open(
        &bed,
        "update add open.example. 3600 IN SOA hidden.open.example. hostmaster.open.example. 10 3600 600 86400 60\n\
         update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.\n\
         update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms2.secure.example.",
    );
    bed.wait_serial(Server::Ns2, "open.example", 10, Duration::from_secs(5));
    bed.wait_serial(Server::Ns3, "open.example", 10, Duration::from_secs(5));
    let run = kmsdns(
        &bed,
        &["--format", "json", "check", "--domain", "open.example"],
    );
    assert_eq!(run.status, 0, "{run}");
    let doc = run.json::<Document>();
    let ids: Vec<(&str, &str)> = doc
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.severity.as_str()))
        .collect();
    assert_eq!(
        ids,
        [("dns-read-failed", "info"), ("srv-ok", "ok")],
        "{run}"
    );
    assert!(
        doc.findings[0].message.contains("hidden.open.example."),
        "{run}"
    );
    let via = &doc.details.domains[0].authoritative.via;
    assert!(via.starts_with("ns1.open.example. (127.53.0.1:"), "{via}");
}

#[test]
fn one_host_too_many_hosts_and_the_root_target() {
    let bed = TestBed::start();
    update_open(
        &bed,
        "update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.",
    );
    let run = kmsdns(&bed, &["check", "--domain", "open.example"]);
    assert_eq!(run.status, 1, "{run}");
    let single = run.lines_with("single-host");
    assert_eq!(single.len(), 1, "{run}");
    assert!(single[0].contains("no failover"), "{run}");

    let mut updates = String::new();
    for i in 2..=7 {
        updates.push_str(&format!(
            "update add k{i}.open.example. 3600 IN A 127.53.1.{i}\n\
             update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 k{i}.open.example.\n"
        ));
    }
    update_open(&bed, &updates);
    let run = kmsdns(&bed, &["check", "--domain", "open.example"]);
    assert_eq!(run.status, 1, "{run}");
    let many = run.lines_with("too-many-hosts");
    assert_eq!(many.len(), 1, "{run}");
    assert!(many[0].contains("7 distinct KMS hosts"), "{run}");

    // "." as the only target: no KMS here, decidedly.
    update_open(
        &bed,
        "update delete _vlmcs._tcp.open.example. SRV\n\
         update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 0 .",
    );
    let run = kmsdns(&bed, &["check", "--domain", "open.example"]);
    assert_eq!(run.status, 2, "{run}");
    let root = run.lines_with("target-is-root");
    assert_eq!(root.len(), 1, "{run}");
    assert!(root[0].starts_with("  critical"), "{run}");
}

#[test]
fn json_has_the_documented_fields_for_every_domain_in_order() {
    let bed = TestBed::start();
    let config = Config::new(&["static.example", "broken.example", "secure.example"], "");
    let run = kmsdns(
        &bed,
        &[
            "-c",
            &config.path(),
            "--format",
            "json",
            "--concurrency",
            "2",
            "check",
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc = run.json::<Document>();
    assert_eq!(doc.schema, 1);
    assert_eq!(doc.command, "check");
    assert_eq!(doc.status, "critical");
    assert_eq!(doc.summary.ok, 1, "static.example: {run}");
    assert_eq!(doc.summary.critical, 1, "secure.example: {run}");
    let domains: Vec<&str> = doc
        .details
        .domains
        .iter()
        .map(|d| d.domain.as_str())
        .collect();
    assert_eq!(
        domains,
        ["static.example.", "broken.example.", "secure.example."],
        "configuration order"
    );
    let static_example = &doc.details.domains[0];
    assert_eq!(static_example.zone.as_deref(), Some("static.example."));
    assert_eq!(static_example.authoritative.status, "records");
    assert_eq!(static_example.authoritative.ttl, Some(3600));
    assert!(
        static_example
            .authoritative
            .via
            .contains("ns1.static.example."),
        "read from the primary: {}",
        static_example.authoritative.via
    );
    assert!(static_example.resolver.via.starts_with("nameserver "));
    assert_eq!(
        static_example.authoritative.records,
        [
            Srv {
                priority: 0,
                weight: 0,
                port: 1688,
                target: "kms1.secure.example.".into()
            },
            Srv {
                priority: 0,
                weight: 0,
                port: 1688,
                target: "kms2.secure.example.".into()
            }
        ]
    );
    assert_eq!(
        static_example.authoritative.records,
        static_example.resolver.records
    );
    assert!(static_example.authoritative.error.is_none());
    let secure = &doc.details.domains[2];
    assert_eq!(secure.authoritative.status, "nxdomain");
    let missing = doc
        .findings
        .iter()
        .find(|f| f.id == "srv-missing")
        .expect("srv-missing");
    assert_eq!(missing.domain.as_deref(), Some("secure.example."));
    assert!(
        missing
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("127.53.0.1:")),
        "{missing:?}"
    );
}

#[test]
fn without_configuration_or_domain_it_cannot_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = Kmsdns::new().cwd(dir.path()).args(["check"]).run();
    assert_eq!(run.status, 3, "{run}");
    assert!(run.stderr.contains("no configuration file"), "{run}");
}

/// `-v` shows every DNS exchange on stderr (server, transport, question,
/// rcode, time), whatever the format, and leaves stdout to the report.
#[test]
fn verbose_shows_each_exchange_on_stderr() {
    let bed = TestBed::start();
    let run = kmsdns(
        &bed,
        &[
            "-v",
            "--format",
            "json",
            "check",
            "--domain",
            "static.example",
        ],
    );
    assert_eq!(run.status, 0, "{run}");
    let report: serde_json::Value = run.json();
    assert_eq!(report["command"], "check", "{run}");
    let resolver = format!("kmsdns: dns {} udp QUERY", bed.primary());
    let srv = run
        .stderr
        .lines()
        .find(|line| {
            line.starts_with(&resolver) && line.contains("_vlmcs._tcp.static.example. SRV")
        })
        .unwrap_or_else(|| panic!("no SRV exchange with the resolver shown:\n{run}"));
    assert!(srv.contains(": NOERROR in "), "{srv}");
    assert!(srv.ends_with(" ms"), "{srv}");
    assert!(
        run.stderr.lines().all(|line| line.starts_with("kmsdns: ")),
        "only trace lines on stderr:\n{run}"
    );

    let quiet = kmsdns(&bed, &["check", "--domain", "static.example"]);
    assert!(!quiet.stderr.contains("kmsdns: dns "), "{quiet}");
}

/// A target that does not exist (NXDOMAIN) is told from one that exists
/// without an address (NODATA), in the finding, the text and the JSON.
#[test]
fn nxdomain_and_nodata_targets_are_told_apart() {
    let bed = TestBed::start();
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.\n\
             update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 gone.open.example.\n\
             update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 txtonly.open.example.\n\
             update add txtonly.open.example. 3600 IN TXT \"no address\"\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let run = kmsdns(&bed, &["check", "--domain", "open.example"]);
    assert_eq!(run.status, 1, "warnings: kms1 works\n{run}");
    let lines = run.lines_with("target-no-address");
    assert_eq!(lines.len(), 2, "{run}");
    let gone = lines
        .iter()
        .find(|l| l.contains("gone.open.example."))
        .expect("gone");
    assert!(gone.contains("does not exist (NXDOMAIN)"), "{run}");
    let txt = lines
        .iter()
        .find(|l| l.contains("txtonly.open.example."))
        .expect("txtonly");
    assert!(txt.contains("exists but has no A or AAAA record"), "{run}");
    assert!(run.stdout.contains("(does not exist)"), "{run}");

    let json = kmsdns(
        &bed,
        &["--format", "json", "check", "--domain", "open.example"],
    );
    let doc: serde_json::Value = json.json();
    let targets = doc["details"]["domains"][0]["targets"]
        .as_array()
        .expect("targets")
        .clone();
    let nxdomain = |name: &str| {
        targets
            .iter()
            .find(|t| t["target"] == name)
            .map(|t| t["nxdomain"] == true)
            .unwrap_or_else(|| panic!("{name} in {targets:?}"))
    };
    assert!(nxdomain("gone.open.example."));
    assert!(!nxdomain("txtonly.open.example."));
    assert!(!nxdomain("kms1.secure.example."));
}

/// A `managed = false` host in the RRset is known (no unknown-target, even
/// with complete = true); one with `required = true` that is absent is
/// record-missing.
#[test]
fn hosts_not_managed_here_are_ok_present_and_missing_only_when_required() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("kmsdns.toml"),
        "complete = true\npublish-list = [\"static.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n\
         [[host]]\nname = \"kms2.secure.example\"\nmanaged = false\n\
         [[host]]\nname = \"kms.other-team.example\"\nmanaged = false\nrequired = true\npublish-list = [\"static.example\"]\n",
    )
    .expect("config");
    let config = dir.path().join("kmsdns.toml");
    let run = kmsdns(&bed, &["-c", config.to_str().expect("UTF-8"), "check"]);
    assert_eq!(run.status, 1, "{run}");
    assert!(run.lines_with("unknown-target").is_empty(), "{run}");
    let missing = run.lines_with("record-missing");
    assert_eq!(missing.len(), 1, "{run}");
    assert!(missing[0].contains("kms.other-team.example."), "{run}");
    assert!(missing[0].contains("required = true"), "{run}");
}

/// Issue 16: a TTL other than the configured one (not only mixed TTLs)
/// makes `check` read what the zone keeps a TTL for, and the hint of
/// `ttl-differs` says which records `--set-ttl` would change: BIND
/// without the DC locator record keeps one TTL per RRset; a zone that
/// serves the locator is read as Active Directory (one per record);
/// `multi-master = false` in the configuration decides without the read.
#[test]
fn a_ttl_other_than_configured_is_hinted_by_what_the_zone_keeps_a_ttl_for() {
    let bed = TestBed::builder().ad_locator("open.example").start();
    update_open(
        &bed,
        "update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.\n\
         update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms2.secure.example.",
    );
    let config = Config::new(&["static.example", "open.example"], "ttl = 600");
    let hints = |run: &Run| -> Vec<(String, String)> {
        let doc = run.json::<Document>();
        let mut hints: Vec<(String, String)> = doc
            .findings
            .iter()
            .filter(|f| f.id == "ttl-differs")
            .map(|f| {
                assert!(f.message.contains("3600 s"), "{run}");
                (
                    f.domain.clone().unwrap_or_default(),
                    f.hint.clone().unwrap_or_default(),
                )
            })
            .collect();
        hints.sort();
        hints
    };
    let every_record = "to every host's record: the TTL belongs to the whole RRset";
    let ours = "to our records only: this zone keeps a TTL per record";

    let run = kmsdns(&bed, &["-c", &config.path(), "--format", "json", "check"]);
    let found = hints(&run);
    assert_eq!(found.len(), 2, "{run}");
    assert!(found[0].0.starts_with("open.example"), "{run}");
    assert!(found[0].1.contains(ours), "the locator is served: {run}");
    assert!(found[1].0.starts_with("static.example"), "{run}");
    assert!(found[1].1.contains(every_record), "no locator: {run}");

    let mut text = std::fs::read_to_string(config.path()).expect("config");
    text.push_str("[domain.\"open.example\"]\nmulti-master = false\n");
    std::fs::write(config.path(), text).expect("config");
    let run = kmsdns(&bed, &["-c", &config.path(), "--format", "json", "check"]);
    let found = hints(&run);
    assert_eq!(found.len(), 2, "{run}");
    assert!(
        found.iter().all(|(_, hint)| hint.contains(every_record)),
        "multi-master = false decides: {run}"
    );
}
