//! Monitoring output against the real BIND test bed and a KMS-like
//! responder (issue 19): `--format prometheus` of `check`, `replication`,
//! `updates` and `probe` carries each command's own series, `audit` the
//! same names for the same facts, and every file is accepted by
//! `promtool check metrics`. The alerting rules of
//! `contrib/prometheus/kmsdns.rules.yml` are tested with `promtool test
//! rules` on textfiles written by these runs.

use crate::common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::bind::published_in_open_example;
use common::bind::{Server, TestBed};
use common::kms_responder::KmsResponder;
use common::prometheus::{parse, promtool, value, Sample};
use common::run::{Kmsdns, Run};

/// The metric names of `samples`, each once.
fn names(samples: &[Sample]) -> Vec<&str> {
    let mut names: Vec<&str> = samples.iter().map(|(n, _, _)| n.as_str()).collect();
    names.dedup();
    names
}

/// `promtool check metrics` fails on a malformed exposition and on names
/// or help that break Prometheus' conventions.
fn promtool_accepts(text: &str) {
    promtool(&["check", "metrics"], text);
}

/// The estate of these tests: open.example (unsigned updates accepted: a
/// critical finding) publishing one KMS-like responder, and
/// nothing.open.example without any record.
struct Estate {
    bed: TestBed,
    _kms: KmsResponder,
    _runtime: tokio::runtime::Runtime,
    port: u16,
    dir: tempfile::TempDir,
}

impl Estate {
    fn start() -> Estate {
        let bed = TestBed::start();
        let (runtime, kms) =
            published_in_open_example(&bed, Ipv4Addr::new(127, 53, 1, 71), "kms71");
        let port = kms.addr().port();
        let serial = bed.soa_serial(Server::PRIMARY, "open.example");
        for secondary in Server::SECONDARIES {
            bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(10));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("kmsdns.toml"),
            format!(
                "publish-list = [\"open.example\", \"nothing.open.example\"]\n\
                 [[host]]\nname = \"kms71.open.example\"\nport = {port}\n"
            ),
        )
        .expect("config");
        Estate {
            bed,
            _kms: kms,
            _runtime: runtime,
            port,
            dir,
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("kmsdns.toml")
    }

    /// `kmsdns -c CONFIG --format prometheus ARGS` against the bed.
    fn prometheus(&self, args: &[&str]) -> Run {
        Kmsdns::new()
            .cwd(self.dir.path())
            .bed(&self.bed)
            .args(["-c", self.config().to_str().expect("UTF-8")])
            .args(["--timeout", "500ms", "--format", "prometheus"])
            .args(args)
            .run()
    }
}

#[test]
fn every_command_has_its_own_series_and_audit_the_same_names() {
    let estate = Estate::start();
    let address = format!("127.53.1.71:{}", estate.port);
    let open = "open.example.";
    let nothing = "nothing.open.example.";

    let check = estate.prometheus(&["check"]);
    promtool_accepts(&check.stdout);
    let samples = parse(&check.stdout);
    let authoritative = [("domain", open), ("source", "authoritative")];
    assert_eq!(
        value(&samples, "kmsdns_check_answered", &authoritative),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "kmsdns_check_srv_records", &authoritative),
        Some(1.0),
        "{check}"
    );
    assert_eq!(
        value(&samples, "kmsdns_check_srv_ttl_seconds", &authoritative),
        Some(60.0)
    );
    let resolver = [("domain", nothing), ("source", "resolver")];
    assert_eq!(
        value(&samples, "kmsdns_check_srv_records", &resolver),
        Some(0.0),
        "{check}"
    );
    assert_eq!(
        value(
            &samples,
            "kmsdns_check_target_addresses",
            &[("domain", open), ("target", "kms71.open.example.")]
        ),
        Some(1.0)
    );
    // Every configured domain has a status, the healthy one too.
    assert_eq!(
        value(&samples, "kmsdns_domain_status", &[("domain", nothing)]),
        Some(2.0)
    );

    let replication = estate.prometheus(&["replication"]);
    promtool_accepts(&replication.stdout);
    let samples = parse(&replication.stdout);
    for server in Server::ALL {
        let labels = [
            ("zone", open),
            ("server", &*format!("{}:{}", server.ip(), estate.bed.port())),
        ];
        assert_eq!(
            value(&samples, "kmsdns_replication_server_up", &labels),
            Some(1.0),
            "{server}: {replication}"
        );
        assert_eq!(
            value(&samples, "kmsdns_replication_lag_serials", &labels),
            Some(0.0)
        );
    }
    assert_eq!(
        value(&samples, "kmsdns_replication_converged", &[("zone", open)]),
        Some(1.0),
        "{replication}"
    );

    let updates = estate.prometheus(&["updates"]);
    promtool_accepts(&updates.stdout);
    let samples = parse(&updates.stdout);
    assert_eq!(
        value(
            &samples,
            "kmsdns_updates_unsigned_accepted",
            &[("domain", open)]
        ),
        Some(1.0),
        "{updates}"
    );

    let probe = estate.prometheus(&["probe"]);
    promtool_accepts(&probe.stdout);
    let samples = parse(&probe.stdout);
    let labels = [("domain", open), ("address", address.as_str())];
    assert_eq!(
        value(&samples, "kmsdns_probe_kms", &labels),
        Some(1.0),
        "{probe}"
    );
    assert!(value(&samples, "kmsdns_probe_latency_seconds", &labels).is_some());

    // audit: the union of the four, under the same names.
    let audit = estate.prometheus(&["audit"]);
    promtool_accepts(&audit.stdout);
    let samples = parse(&audit.stdout);
    let own = [
        (&check, "kmsdns_check_"),
        (&replication, "kmsdns_replication_"),
        (&updates, "kmsdns_updates_"),
        (&probe, "kmsdns_probe_"),
    ];
    for (run, prefix) in own {
        let theirs = parse(&run.stdout);
        let expected: Vec<&str> = names(&theirs)
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect();
        assert!(!expected.is_empty(), "no {prefix} series: {run}");
        for name in expected {
            for (_, labels, v) in theirs.iter().filter(|(n, _, _)| n == name) {
                let labels: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let got = value(&samples, name, &labels);
                // Latencies differ between two runs; the rest must not.
                if name.ends_with("_seconds") && !name.contains("ttl") {
                    assert!(got.is_some(), "{name}{labels:?} missing in audit");
                } else {
                    assert_eq!(got, Some(*v), "{name}{labels:?} in audit:\n{audit}");
                }
            }
        }
    }
}

/// `values` of a promtool input series: `value` at every step of `steps`.
fn held(value: &str, steps: u32) -> String {
    format!("{value}+0x{steps}")
}

/// The input series of a promtool test: every sample of `textfile`, its
/// value given by `values`.
fn input_series(textfile: &str, values: impl Fn(&str, &str) -> String) -> String {
    let mut yaml = String::from("    input_series:\n");
    for line in textfile.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        yaml.push_str(&format!(
            "      - series: '{series}'\n        values: '{}'\n",
            values(series, value)
        ));
    }
    yaml
}

/// One `alert_rule_test` entry: `alerts` is each expected alert's labels
/// (besides `alertname`) and annotations, as YAML flow mappings.
fn expect(at: &str, alert: &str, alerts: &[(String, String)]) -> String {
    let mut yaml =
        format!("      - eval_time: {at}\n        alertname: {alert}\n        exp_alerts:");
    if alerts.is_empty() {
        yaml.push_str(" []\n");
        return yaml;
    }
    yaml.push('\n');
    for (labels, annotations) in alerts {
        yaml.push_str(&format!(
            "          - exp_labels: {labels}\n            exp_annotations: {annotations}\n"
        ));
    }
    yaml
}

/// The alert of `contrib/prometheus/kmsdns.rules.yml` on a domain.
fn domain_alert(domain: &str, severity: &str) -> (String, String) {
    let summary = if severity == "critical" {
        format!("KMS clients in {domain} cannot find a working KMS host")
    } else {
        format!("The KMS DNS records of {domain} need attention")
    };
    (
        format!("{{severity: {severity}, domain: \"{domain}\"}}"),
        format!(
            "{{summary: \"{summary}\", description: \"Run `kmsdns audit --domain {domain}` for the findings and their fixes.\"}}"
        ),
    )
}

#[test]
fn the_shipped_alerts_fire_on_textfiles_kmsdns_wrote() {
    let estate = Estate::start();
    let dir = estate.dir.path();
    let open = "open.example.";
    let nothing = "nothing.open.example.";

    // A run as the timer makes it, and one that cannot run at all.
    let broken = dir.join("broken.prom");
    let run = estate.prometheus(&["audit", "--textfile", broken.to_str().expect("UTF-8")]);
    assert_eq!(run.status, 2, "{run}");
    let broken = std::fs::read_to_string(&broken).expect("textfile");
    // The timestamp counts seconds: the second run ends in another one.
    std::thread::sleep(Duration::from_millis(1100));
    let failed = dir.join("failed.prom");
    let run = Kmsdns::new()
        .cwd(dir)
        .args([
            "-c",
            "gone.toml",
            "--format",
            "prometheus",
            "audit",
            "--textfile",
        ])
        .arg(&failed)
        .run();
    assert_eq!(run.status, 3, "{run}");
    let failed = std::fs::read_to_string(&failed).expect("a textfile, even when the run failed");
    let samples = parse(&broken);
    // What the alerts below expect of the estate.
    assert_eq!(
        value(&samples, "kmsdns_domain_status", &[("domain", open)]),
        Some(2.0)
    );
    assert_eq!(
        value(&samples, "kmsdns_domain_status", &[("domain", nothing)]),
        Some(2.0)
    );
    assert_eq!(value(&parse(&failed), "kmsdns_up", &[]), Some(0.0));
    let stamp = |text: &str| {
        value(&parse(text), "kmsdns_last_run_timestamp_seconds", &[])
            .expect("a timestamp")
            .to_string()
    };
    let (first, second) = (stamp(&broken), stamp(&failed));
    assert_ne!(first, second, "two runs, two timestamps");
    let primary = format!("{}:{}", Server::PRIMARY.ip(), estate.bed.port());

    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus/kmsdns.rules.yml");
    let mut yaml = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n",
        rules.display()
    );
    // 1. The broken estate, audited every 15 minutes (each run a new
    //    timestamp): its domains alert after 30 minutes, the healthy KMS
    //    host and the running audit do not.
    yaml.push_str("  - interval: 1m\n");
    yaml.push_str(&input_series(&broken, |series, value| {
        if series == "kmsdns_last_run_timestamp_seconds" {
            // Alternating between two real timestamps: a new run every 15m.
            (0..8)
                .map(|i| format!("{}x14", if i % 2 == 0 { &first } else { &second }))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            held(value, 120)
        }
    }));
    yaml.push_str("    alert_rule_test:\n");
    yaml.push_str(&expect("20m", "KmsDnsCritical", &[]));
    yaml.push_str(&expect(
        "40m",
        "KmsDnsCritical",
        &[
            domain_alert(open, "critical"),
            domain_alert(nothing, "critical"),
        ],
    ));
    yaml.push_str(&expect("3h", "KmsDnsWarning", &[]));
    // Both domains are in open.example, which takes anyone's update.
    let unsigned = |domain: &str| {
        (
            format!("{{severity: critical, domain: \"{domain}\", primary: \"{primary}\"}}"),
            format!(
                "{{summary: \"{primary} accepts unsigned updates of the KMS records of {domain}\", \
                 description: \"Anyone who can reach it can point KMS clients at a rogue host; run `kmsdns updates`.\"}}"
            ),
        )
    };
    yaml.push_str(&expect(
        "1m",
        "KmsDnsUnsignedUpdates",
        &[unsigned(nothing), unsigned(open)],
    ));
    yaml.push_str(&expect("1h", "KmsHostUnreachable", &[]));
    yaml.push_str(&expect("2h", "KmsDnsReplicationLag", &[]));
    yaml.push_str(&expect("2h", "KmsDnsAuditFailed", &[]));
    yaml.push_str(&expect("2h", "KmsDnsAuditStale", &[]));
    // 2. The run that could not run, and nothing since: kmsdns_up 0 and a
    //    timestamp that no longer moves.
    yaml.push_str("  - interval: 1m\n");
    yaml.push_str(&input_series(&failed, |_, value| held(value, 120)));
    yaml.push_str("    alert_rule_test:\n");
    yaml.push_str(&expect("20m", "KmsDnsAuditFailed", &[]));
    let failed_alert = (
        "{severity: warning}".to_string(),
        "{summary: \"kmsdns audit could not run\", description: \"See `journalctl -u kmsdns-audit` for why.\"}".to_string(),
    );
    yaml.push_str(&expect("40m", "KmsDnsAuditFailed", &[failed_alert]));
    let stale_alert = (
        "{severity: warning}".to_string(),
        "{summary: \"No kmsdns audit has finished for 90 minutes\", description: \"Is kmsdns-audit.timer enabled (`systemctl list-timers kmsdns-audit.timer`)?\"}".to_string(),
    );
    yaml.push_str(&expect("20m", "KmsDnsAuditStale", &[]));
    yaml.push_str(&expect("40m", "KmsDnsAuditStale", &[stale_alert]));

    let file = dir.join("kmsdns.rules.test.yml");
    std::fs::write(&file, &yaml).expect("write the rules test");
    promtool(&["check", "rules", rules.to_str().expect("UTF-8")], "");
    let out = promtool(&["test", "rules", file.to_str().expect("UTF-8")], "");
    assert!(out.contains("SUCCESS"), "{out}\n{yaml}");
}

/// `kmsdns -c CONFIG --format prometheus audit --textfile DIR/NAME` against
/// `bed`, in `dir`: the textfile the shipped timer writes, read back.
fn audit_textfile(bed: &TestBed, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let run = Kmsdns::new()
        .cwd(dir)
        .bed(bed)
        .args(["-c", "kmsdns.toml", "--timeout", "500ms"])
        .args(["--format", "prometheus", "audit", "--textfile"])
        .arg(&path)
        .run();
    assert!(run.status <= 2, "{run}");
    std::fs::read_to_string(&path).expect("the textfile")
}

/// A `tests:` group of a promtool rules test: `textfile`'s samples held for
/// two hours, then `alerts`.
fn alert_group(textfile: &str, alerts: &[String]) -> String {
    let mut yaml = String::from("  - interval: 1m\n");
    yaml.push_str(&input_series(textfile, |_, value| held(value, 240)));
    yaml.push_str("    alert_rule_test:\n");
    for alert in alerts {
        yaml.push_str(alert);
    }
    yaml
}

/// KmsDnsWarning, KmsHostUnreachable and KmsDnsReplicationLag, each made to
/// fire by what kmsdns wrote about a real estate: secure.example publishing
/// a working KMS host beside a dead address (a warning, no critical), then
/// the same with a stopped secondary; and open.example on a secondary that
/// missed a change (the other half of the replication alert).
#[test]
fn the_warning_unreachable_and_lag_alerts_fire_on_textfiles_kmsdns_wrote() {
    let mut bed = TestBed::builder()
        .lagging_secondary("open.example", Server::Ns2)
        .start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // kms1.secure.example (127.53.1.1) answers as KMS; nothing listens on
    // kms2.secure.example (127.53.1.2) at the same port.
    let kms = runtime
        .block_on(KmsResponder::start_on(
            Ipv4Addr::new(127, 53, 1, 1).into(),
            common::kms_responder::Mode::Kms,
        ))
        .expect("responder");
    let port = kms.addr().port();
    common::bind::nsupdate(
        Some(&common::bind::key_file("kmsdns-secure")),
        &format!(
            "server {} {}\nzone secure.example\n\
             update add _vlmcs._tcp.secure.example. 60 IN SRV 0 0 {port} kms1.secure.example.\n\
             update add _vlmcs._tcp.secure.example. 60 IN SRV 0 0 {port} kms2.secure.example.\n\
             send\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "secure.example", serial, Duration::from_secs(10));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("kmsdns.toml"),
        format!(
            "publish-list = [\"secure.example\"]\n\
             [[host]]\nname = \"kms1.secure.example\"\nport = {port}\n\
             [[host]]\nname = \"kms2.secure.example\"\nport = {port}\n"
        ),
    )
    .expect("config");
    let domain = "secure.example.";
    let zone = "secure.example.";
    let dead = format!("127.53.1.2:{port}");
    let ns3 = format!("{}:{}", Server::Ns3.ip(), bed.port());

    let all_up = audit_textfile(&bed, dir.path(), "up.prom");
    let samples = parse(&all_up);
    // What the alerts below expect of the estate.
    assert_eq!(
        value(&samples, "kmsdns_domain_status", &[("domain", domain)]),
        Some(1.0),
        "a warning, no critical:\n{all_up}"
    );
    assert_eq!(
        value(&samples, "kmsdns_probe_kms", &[("address", &dead)]),
        Some(0.0),
        "{all_up}"
    );
    let host = samples
        .iter()
        .find(|(n, labels, _)| n == "kmsdns_probe_kms" && labels.get("address") == Some(&dead))
        .and_then(|(_, labels, _)| labels.get("host").cloned())
        .expect("the dead address's host label");
    assert!(host.starts_with("kms2.secure.example."), "{host}");

    // A change of open.example that ns2 never hears of: a serial behind.
    let open = "open.example.";
    let ns2 = format!("{}:{}", Server::Ns2.ip(), bed.port());
    common::bind::nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add lag.open.example. 60 IN TXT \"lag\"\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    bed.wait_serial(Server::Ns3, "open.example", serial, Duration::from_secs(10));
    let behind = Kmsdns::new()
        .cwd(dir.path())
        .bed(&bed)
        .args(["--timeout", "500ms", "--format", "prometheus"])
        .args(["replication", "--domain", "open.example"])
        .run();
    let ns2_behind = behind.stdout.clone();
    assert_eq!(
        value(
            &parse(&ns2_behind),
            "kmsdns_replication_lag_serials",
            &[("zone", open), ("server", &ns2)]
        ),
        Some(1.0),
        "{behind}"
    );

    bed.stop(Server::Ns3);
    let ns3_down = audit_textfile(&bed, dir.path(), "down.prom");
    assert_eq!(
        value(
            &parse(&ns3_down),
            "kmsdns_replication_server_up",
            &[("zone", zone), ("server", &ns3)]
        ),
        Some(0.0),
        "{ns3_down}"
    );

    let warning = domain_alert(domain, "warning");
    let unreachable = (
        format!("{{severity: warning, domain: \"{domain}\", host: \"{host}\", address: \"{dead}\"}}"),
        format!(
            "{{summary: \"{host} ({dead}) does not answer as a KMS host\", \
             description: \"Clients in {domain} that pick it wait for the connection to fail before trying the next host.\"}}"
        ),
    );
    let lag = (
        format!("{{severity: warning, zone: \"{zone}\", server: \"{ns3}\"}}"),
        format!(
            "{{summary: \"{ns3} serves an old copy of {zone}, or none\", \
             description: \"Clients asking it see old _vlmcs._tcp records; run `kmsdns replication`.\"}}"
        ),
    );
    let behind_alert = (
        format!("{{severity: warning, zone: \"{open}\", server: \"{ns2}\"}}"),
        format!(
            "{{summary: \"{ns2} serves an old copy of {open}, or none\", \
             description: \"Clients asking it see old _vlmcs._tcp records; run `kmsdns replication`.\"}}"
        ),
    );
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus/kmsdns.rules.yml");
    let mut yaml = format!(
        "rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n",
        rules.display()
    );
    // Every server up: a warning after two hours, the dead address after
    // 30 minutes; no replication alert, no critical one.
    yaml.push_str(&alert_group(
        &all_up,
        &[
            expect("1h", "KmsDnsWarning", &[]),
            expect("3h", "KmsDnsWarning", &[warning]),
            expect("20m", "KmsHostUnreachable", &[]),
            expect("40m", "KmsHostUnreachable", &[unreachable]),
            expect("3h", "KmsDnsReplicationLag", &[]),
            expect("3h", "KmsDnsCritical", &[]),
        ],
    ));
    // ns3 stopped: its copy is missing after an hour.
    yaml.push_str(&alert_group(
        &ns3_down,
        &[
            expect("50m", "KmsDnsReplicationLag", &[]),
            expect("70m", "KmsDnsReplicationLag", &[lag]),
        ],
    ));
    // ns2 a serial behind on open.example.
    yaml.push_str(&alert_group(
        &ns2_behind,
        &[
            expect("50m", "KmsDnsReplicationLag", &[]),
            expect("70m", "KmsDnsReplicationLag", &[behind_alert]),
        ],
    ));
    let file = dir.path().join("kmsdns.rules.test.yml");
    std::fs::write(&file, &yaml).expect("write the rules test");
    let out = promtool(&["test", "rules", file.to_str().expect("UTF-8")], "");
    assert!(out.contains("SUCCESS"), "{out}\n{yaml}");
    drop(kms);
}
