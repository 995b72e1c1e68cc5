//! Monitoring output against the real BIND test bed and a KMS-like
//! responder (issue 19): `--format prometheus` of `check`, `replication`,
//! `updates` and `probe` carries each command's own series, `audit` the
//! same names for the same facts, and every file is accepted by
//! `promtool check metrics`. The alerting rules of
//! `contrib/prometheus/kmsdns.rules.yml` are tested with `promtool test
//! rules` on textfiles written by these runs.

use crate::common;

use std::path::PathBuf;
use std::time::Duration;

use common::bind::{nsupdate, Server, TestBed};
use common::kms_responder::{KmsResponder, Mode};
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
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let kms = runtime
            .block_on(KmsResponder::start_on(
                "127.53.1.71".parse().expect("ip"),
                Mode::Kms,
            ))
            .expect("responder");
        let port = kms.addr().port();
        nsupdate(
            None,
            &format!(
                "server {} {}\nzone open.example\n\
                 update add kms71.open.example. 60 IN A 127.53.1.71\n\
                 update add _vlmcs._tcp.open.example. 60 IN SRV 0 0 {port} kms71.open.example.\n\
                 send\n",
                Server::PRIMARY.ip(),
                bed.port()
            ),
        );
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
