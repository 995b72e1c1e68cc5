//! `kmsdns discover` against the real BIND test bed: which suffix's query
//! clients use, the exact RFC 2782 chances of a known SRV set, a seeded
//! `--simulate` that agrees with them, and the findings.

use crate::common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::bind::{nsupdate, Server, TestBed};
use common::run::{Kmsdns, Run};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Document {
    schema: u32,
    command: String,
    status: String,
    findings: Vec<FindingDoc>,
    details: DetailsDoc,
}

#[derive(Debug, Deserialize)]
struct FindingDoc {
    id: String,
    severity: String,
    domain: Option<String>,
    host: Option<String>,
    message: String,
}

#[derive(Debug, Deserialize)]
struct DetailsDoc {
    model: String,
    model_note: String,
    queries: Vec<QueryDoc>,
    selected: Option<String>,
    groups: Vec<GroupDoc>,
    failover: Vec<String>,
    notes: Vec<String>,
    simulation: Option<SimulationDoc>,
}

#[derive(Debug, Deserialize)]
struct QueryDoc {
    domain: String,
    source: String,
    answer: String,
    records: usize,
    used: bool,
}

#[derive(Debug, Deserialize)]
struct GroupDoc {
    priority: u16,
    total_weight: u64,
    hosts: Vec<HostDoc>,
}

#[derive(Debug, Deserialize)]
struct HostDoc {
    target: String,
    port: u16,
    weight: u16,
    probability: String,
    probability_value: f64,
    addresses: Vec<String>,
    observed: Option<f64>,
    observed_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct SimulationDoc {
    clients: u64,
    seed: u64,
    largest_difference: f64,
}

/// A priority group as compared: priority, total weight, and each host's
/// target, weight and chance.
type GroupView<'a> = (u16, u64, Vec<(&'a str, u16, &'a str)>);

impl Document {
    fn ids(&self) -> Vec<(&str, &str)> {
        self.findings
            .iter()
            .map(|f| (f.id.as_str(), f.severity.as_str()))
            .collect()
    }

    /// `target -> (probability, observed count)` over every group.
    fn chances(&self) -> BTreeMap<String, (String, Option<u64>)> {
        self.details
            .groups
            .iter()
            .flat_map(|g| g.hosts.iter())
            .map(|h| (h.target.clone(), (h.probability.clone(), h.observed_count)))
            .collect()
    }
}

/// Runs kmsdns with the test bed's primary as resolver.
fn kmsdns(bed: &TestBed, args: &[&str]) -> Run {
    Kmsdns::new()
        .args(["--nameserver", &bed.primary().to_string()])
        .args(args)
        .run()
}

/// A known SRV set in open.example: weights 60, 30 and 0 in priority 0, a
/// standby in priority 10; and a domain with one host only.
fn known_set(bed: &TestBed) {
    let mut script = format!(
        "server {} {}\nzone open.example\n",
        Server::PRIMARY.ip(),
        bed.port()
    );
    for (name, ip) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] {
        script.push_str(&format!(
            "update add {name}.open.example. 60 IN A 127.53.1.{}\n",
            60 + ip
        ));
    }
    for (priority, weight, target) in [(0, 60, "a"), (0, 30, "b"), (0, 0, "c"), (10, 0, "d")] {
        script.push_str(&format!(
            "update add _vlmcs._tcp.weights.open.example. 60 IN SRV {priority} {weight} 1688 {target}.open.example.\n"
        ));
    }
    script.push_str(
        "update add _vlmcs._tcp.single.open.example. 60 IN SRV 0 0 1688 a.open.example.\n",
    );
    script.push_str("send\n");
    nsupdate(None, &script);
}

#[test]
fn exact_chances_and_a_seeded_simulation_that_agrees() {
    let bed = TestBed::start();
    known_set(&bed);
    let started = Instant::now();
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--skms-domain",
            "weights.open.example",
            "--simulate",
            "20000",
            "--seed",
            "42",
        ],
    );
    // 20,000 picks take about 40 ms here (a debug build); the bound catches
    // a simulation gone quadratic, not a slow machine.
    assert!(
        started.elapsed() < common::OVERDUE,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    let doc = run.json::<Document>();
    assert_eq!(
        (doc.schema, doc.command.as_str(), doc.status.as_str()),
        (1, "discover", "info")
    );
    assert_eq!(doc.details.model, "RFC 2782");
    assert!(
        doc.details.model_note.contains("undocumented"),
        "{}",
        doc.details.model_note
    );
    assert_eq!(
        doc.details.selected.as_deref(),
        Some("weights.open.example.")
    );
    assert_eq!(doc.details.queries.len(), 1);
    assert_eq!(doc.details.queries[0].source, "skms-domain");
    assert_eq!(
        (
            doc.details.queries[0].answer.as_str(),
            doc.details.queries[0].records
        ),
        ("records", 4)
    );

    // S = 90 with one weight 0 in priority 0: 60/91, 30/91, 1/91.
    let groups: Vec<GroupView> = doc
        .details
        .groups
        .iter()
        .map(|g| {
            (
                g.priority,
                g.total_weight,
                g.hosts
                    .iter()
                    .map(|h| (h.target.as_str(), h.weight, h.probability.as_str()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            (
                0,
                90,
                vec![
                    ("a.open.example.", 60, "60/91"),
                    ("b.open.example.", 30, "30/91"),
                    ("c.open.example.", 0, "1/91")
                ]
            ),
            (10, 0, vec![("d.open.example.", 0, "1/1")]),
        ]
    );
    assert_eq!(doc.details.groups[0].hosts[0].addresses, ["127.53.1.61"]);
    assert_eq!(doc.details.groups[0].hosts[0].port, 1688);

    // The simulation lands within a point and a half of every chance.
    let simulation = doc.details.simulation.as_ref().expect("a simulation");
    assert_eq!((simulation.clients, simulation.seed), (20000, 42));
    assert!(simulation.largest_difference < 0.015, "{simulation:?}");
    for host in doc.details.groups.iter().flat_map(|g| g.hosts.iter()) {
        let observed = host.observed.expect("observed share");
        assert!(
            (observed - host.probability_value).abs() < 0.015,
            "{}: observed {observed}, computed {}",
            host.target,
            host.probability
        );
    }
    assert_eq!(
        doc.details.groups[0]
            .hosts
            .iter()
            .filter_map(|h| h.observed_count)
            .sum::<u64>(),
        20000
    );

    // Weight 0 next to weighted records is worth knowing.
    assert_eq!(
        doc.ids(),
        [("discovery-domain", "ok"), ("zero-weight", "info")]
    );
    assert_eq!(
        doc.findings[1].host.as_deref(),
        Some("c.open.example.:1688")
    );
    assert!(
        doc.details.failover[0].starts_with("1. priority 0, first: one of a.open.example. (60/91)")
    );
    assert!(
        doc.details.failover[1].starts_with("2. priority 10, when every host of priority 0 failed")
    );
    assert!(
        doc.details.notes.iter().any(|n| n.contains("cached")),
        "{:?}",
        doc.details.notes
    );
    assert!(doc.details.notes.iter().any(|n| n.contains("0xC004F074")));

    // The same seed gives the same run; another seed another one.
    let again = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--skms-domain",
            "weights.open.example",
            "--simulate",
            "20000",
            "--seed",
            "42",
        ],
    )
    .json::<Document>();
    assert_eq!(again.chances(), doc.chances());
    let other = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--skms-domain",
            "weights.open.example",
            "--simulate",
            "20000",
            "--seed",
            "43",
        ],
    )
    .json::<Document>();
    assert_ne!(other.chances(), doc.chances());

    // Text says it is a model and shows both distributions.
    let text = kmsdns(
        &bed,
        &[
            "discover",
            "--skms-domain",
            "weights.open.example",
            "--simulate",
            "1000",
        ],
    );
    assert_eq!(text.status, 0, "{}{}", text.stdout, text.stderr);
    assert!(text.stdout.contains("RFC 2782 model"), "{}", text.stdout);
    assert!(text.stdout.contains("60/91"), "{}", text.stdout);
    assert!(text.stdout.contains("observed"), "{}", text.stdout);
    assert!(
        text.stdout.contains("simulation: 1000 clients, seed 1"),
        "{}",
        text.stdout
    );
}

#[test]
fn the_first_suffix_with_records_is_used() {
    let bed = TestBed::start();
    known_set(&bed);
    // nothing.open.example: NXDOMAIN; elsewhere.example: not served here,
    // so REFUSED (a failed lookup before the domain used: a warning).
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--suffix",
            "nothing.open.example",
            "--search",
            "elsewhere.example,single.open.example,weights.open.example",
        ],
    );
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    let doc = run.json::<Document>();
    let queries: Vec<(&str, &str, &str, bool)> = doc
        .details
        .queries
        .iter()
        .map(|q| {
            (
                q.domain.as_str(),
                q.source.as_str(),
                q.answer.as_str(),
                q.used,
            )
        })
        .collect();
    assert_eq!(
        queries,
        [
            ("nothing.open.example.", "primary-suffix", "nxdomain", false),
            ("elsewhere.example.", "search-list", "failed", false),
            ("single.open.example.", "search-list", "records", true),
            ("weights.open.example.", "search-list", "records", false),
        ]
    );
    assert_eq!(
        doc.details.selected.as_deref(),
        Some("single.open.example.")
    );
    assert_eq!(
        doc.ids(),
        [
            ("dns-read-failed", "warning"),
            ("discovery-domain", "ok"),
            ("single-host", "warning"),
        ]
    );
    assert_eq!(
        doc.findings[2].domain.as_deref(),
        Some("single.open.example.")
    );

    // The search list defaults to resolv.conf's.
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "search nothing.open.example weights.open.example\n",
    )
    .expect("write");
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--resolv-conf",
            resolv.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.json::<Document>().details.selected.as_deref(),
        Some("weights.open.example.")
    );
}

#[test]
fn no_records_anywhere_is_critical_and_names_the_windows_error() {
    let bed = TestBed::start();
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--skms-domain",
            "nothing.open.example",
        ],
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let doc = run.json::<Document>();
    assert_eq!(doc.ids(), [("srv-missing", "critical")]);
    assert!(
        doc.findings[0].message.contains("0x8007232B"),
        "{}",
        doc.findings[0].message
    );
    assert_eq!(doc.details.selected, None);
    assert!(doc.details.groups.is_empty());
    assert!(doc.details.simulation.is_none());

    // NODATA: the name exists, with a TXT record but no SRV record.
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\nupdate add _vlmcs._tcp.nodata.open.example. 60 IN TXT \"not SRV\"\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let nodata = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "discover",
            "--search",
            "nothing.open.example,nodata.open.example",
        ],
    )
    .json::<Document>();
    assert_eq!(nodata.details.queries[1].answer, "nodata");
    assert!(
        nodata.findings[0].message.contains("0x8007251D"),
        "{}",
        nodata.findings[0].message
    );

    let conflict = kmsdns(
        &bed,
        &[
            "discover",
            "--skms-domain",
            "a.example",
            "--search",
            "b.example",
        ],
    );
    assert_eq!(conflict.status, 3, "{}", conflict.stderr);
}
