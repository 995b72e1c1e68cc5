//! The scale benchmark's quick mode (issue 7): the harness of
//! `benches/scale` run with N = 20 zones and one repetition, so that the
//! test suite proves the benchmark still works and what it measures is
//! right. Timing is not asserted; correctness is, inside the harness and
//! again here: every kmsdns run exited 0, publish applied all 20 domains
//! and each server serves both SRV records in each zone, check,
//! replication and audit found everything in order, and BIND counted the
//! requests each run made. dnsperf is not needed (the full benchmark
//! measures BIND's ceiling with it).

#[path = "../benches/scale/bed.rs"]
#[allow(dead_code)]
mod bed;
#[path = "../benches/scale/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../benches/scale/operations.rs"]
mod operations;
#[path = "../benches/scale/silent.rs"]
mod silent;
// bed and harness take the machine helpers as their sibling `local`.
use crate::common::local;

use bed::{Bed, Nudges, Server, Setup};
use operations::Operation;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const DOMAINS: usize = 20;

/// The quick mode's options: N = 20, one repetition, no dnsperf.
fn quick(operations: Vec<Operation>) -> harness::Options {
    harness::Options {
        domains: DOMAINS,
        repetitions: 1,
        named_threads: 1,
        kmsdns: PathBuf::from(env!("CARGO_BIN_EXE_kmsdns")),
        dnsperf_seconds: 0,
        baselines: true,
        kmsdns_args: Vec::new(),
        verbose: false,
        keep: false,
        hold: None,
        operations,
    }
}

#[test]
fn quick_mode_publishes_verifies_and_measures_every_operation() {
    let started = Instant::now();
    let results = harness::run(&quick(Operation::ALL.to_vec()))
        .unwrap_or_else(|error| panic!("the benchmark failed: {error}"));

    let operations: Vec<&str> = results.rows.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        operations,
        [
            "bind",
            "bind --out DIR (63 files)",
            "updates --named-conf, 20 --domain",
            "publish (from empty)",
            "publish again (no change)",
            "remove --force (all published)",
            "check",
            "replication",
            "audit --no-probe --no-updates",
            "audit --no-probe",
        ],
        "every operation measured, in order"
    );
    for row in &results.rows {
        assert_eq!(
            row.kmsdns.runs.len(),
            1,
            "{}: one repetition",
            row.operation
        );
        assert!(
            row.kmsdns.median > 0.0,
            "{}: a time was taken",
            row.operation
        );
        assert!(
            row.peak_rss_mib > 0.0,
            "{}: wait4 reported the peak RSS",
            row.operation
        );
    }
    let row = |name: &str| {
        results
            .rows
            .iter()
            .find(|r| r.operation == name)
            .expect("row")
    };
    // One UPDATE per zone from empty, none when nothing changes; BIND
    // counted them.
    assert_eq!(row("publish (from empty)").updates, DOMAINS as u64);
    assert_eq!(row("publish again (no change)").updates, 0);
    // remove: one UPDATE per zone, its CPU per request measured like the
    // reads'.
    let remove = row("remove --force (all published)");
    assert_eq!(remove.updates, DOMAINS as u64);
    assert!(
        remove.cpu.is_some_and(|cpu| cpu.kmsdns > 0.0),
        "{:?}",
        remove.cpu
    );
    // The live update probe of audit: unsigned and signed, per domain.
    assert_eq!(row("audit --no-probe").updates, 2 * DOMAINS as u64);
    for name in ["check", "replication", "audit --no-probe --no-updates"] {
        let row = row(name);
        assert!(
            row.queries >= DOMAINS as u64,
            "{name}: BIND counted {} queries",
            row.queries
        );
        assert_eq!(row.updates, 0, "{name} sends no update");
        let cpu = row.cpu.expect("CPU per request measured");
        assert!(
            cpu.kmsdns > 0.0 && cpu.named_under_kmsdns >= 0.0,
            "{name}: wait4 and /proc gave CPU times: {cpu:?}"
        );
        assert!(cpu.dnsperf.is_none(), "{name}: dnsperf did not run");
        assert!(
            row.baseline_time.is_some(),
            "{name}: the dig -f baseline ran"
        );
    }
    // audit's parts share the run's lookups: each domain's zone is found
    // once, not once by check and again by replication.
    let parts = row("check").queries + row("replication").queries;
    let audit = row("audit --no-probe --no-updates").queries;
    assert!(
        audit <= parts - DOMAINS as u64,
        "audit asked {audit} queries; check and replication apart {parts}"
    );
    let publish = row("publish (from empty)");
    assert!(publish.baseline_time.is_some(), "the nsupdate baseline ran");
    assert!(
        publish.ceiling.is_some(),
        "the concurrent nsupdate ceiling ran"
    );
    let names: Vec<&str> = results.baselines.iter().map(|b| b.name.as_str()).collect();
    for processes in [1, 4, 8] {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("nsupdate -k, {processes} "))),
            "nsupdate with {processes} process(es) measured: {names:?}"
        );
    }
    // The static audit of all 20 was checked: status ok, 20 zones.
    assert!(
        results
            .verified
            .iter()
            .any(|v| v.starts_with("updates --named-conf: every run exited 0")),
        "{:#?}",
        results.verified
    );
    assert!(results.verified.len() >= 4, "{:#?}", results.verified);

    // The table and the JSON are produced from it.
    let table = results.table();
    assert!(table.contains("| publish (from empty) |"), "{table}");
    let json = serde_json::to_value(&results).expect("results serialize");
    assert_eq!(json["domains"], DOMAINS);
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(10));
    // Not asserted (the machine may be loaded): it takes a few seconds.
    eprintln!("quick mode took {:?}", started.elapsed());
}

/// `--only remove,check`: only those two are measured, and verified as in
/// the full run; publish runs as their set-up, unmeasured and without its
/// nsupdate baselines, and check is still compared with its dig batch.
#[test]
fn quick_mode_measures_only_the_operations_chosen() {
    let chosen = Operation::parse_list("check,remove").expect("known names");
    let results = harness::run(&quick(chosen))
        .unwrap_or_else(|error| panic!("the benchmark failed: {error}"));

    let operations: Vec<&str> = results.rows.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(
        operations,
        ["remove --force (all published)", "check"],
        "the two chosen, in the table's order"
    );
    assert_eq!(results.operations, ["remove", "check"]);
    let remove = &results.rows[0];
    assert_eq!(remove.updates, DOMAINS as u64, "one UPDATE per zone");
    let check = &results.rows[1];
    assert!(check.queries >= DOMAINS as u64, "{check:?}");
    assert_eq!(check.updates, 0);
    assert!(check.baseline_time.is_some(), "the dig -f baseline ran");
    let names: Vec<&str> = results.baselines.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["dig -f, sequential: the queries of check"]);
    let verified = results.verified.join("\n");
    for step in [
        "publish (set-up, not measured): applied all 20",
        "remove --force: every run removed the records of all 20",
        "replication: both secondaries serve",
        "check, replication, audit (--format jsonl): every run exited 0",
    ] {
        assert!(verified.contains(step), "{step}: {verified}");
    }
    assert!(
        results.table().contains("; only remove, check"),
        "{}",
        results.table()
    );
}

/// `--only`'s names: each operation's own, in any order and repeated;
/// anything else is refused with the list of names.
#[test]
fn only_takes_each_operation_by_name_and_refuses_others() {
    for operation in Operation::ALL {
        assert_eq!(Operation::parse_list(operation.name()), Ok(vec![operation]));
    }
    assert_eq!(
        Operation::parse_list("audit, bind,audit"),
        Ok(vec![Operation::Bind, Operation::Audit])
    );
    for wrong in ["check,remov", "", "check,", "Check"] {
        let problem = Operation::parse_list(wrong).expect_err(wrong);
        assert!(
            problem.contains("unknown operation") && problem.contains(&Operation::names()),
            "{wrong:?}: {problem}"
        );
    }
}

/// The silent-server case (issue 17) at 20 domains, 8 of them read at
/// silent servers, 4 at once, 300 ms per attempt: both placements run
/// and are verified inside (exactly the 8 domains fail their
/// authoritative read, no domain passes its deadline). One exchange's
/// bound is 0.9 s, so the case's bound is 2 × 0.9 s + 10 %; asking each
/// silent server twice (SOA, then SRV) would take 4 × 0.9 s. Asserted
/// with room for a loaded machine: under 3 s.
#[test]
fn quick_silent_servers_cost_one_exchange_bound_per_wave() {
    let options = silent::SilentOptions {
        domains: DOMAINS,
        silent: 8,
        concurrency: 4,
        timeout: Duration::from_millis(300),
        named_threads: 1,
        kmsdns: PathBuf::from(env!("CARGO_BIN_EXE_kmsdns")),
        verbose: false,
    };
    assert_eq!(options.bound(), Duration::from_millis(1980));
    let results = silent::run(&options)
        .unwrap_or_else(|error| panic!("the silent-server case failed: {error}"));
    let placements: Vec<silent::Placement> = results.runs.iter().map(|r| r.placement).collect();
    assert_eq!(
        placements,
        [silent::Placement::Spread, silent::Placement::First]
    );
    for run in &results.runs {
        assert!(run.seconds < 3.0, "{run:?}");
    }
    let table = results.table();
    assert!(table.contains("| Spread |"), "{table}");
    assert_eq!(
        silent::silent_indices(DOMAINS, 8, silent::Placement::Spread),
        [0, 2, 5, 7, 10, 12, 15, 17]
    );
}

/// A stand-in for kmsdns that runs the real one, except that its first
/// `publish` sends `zone`'s reads and update to `server` (a port where
/// nothing listens): a set-up publish that leaves one domain out, as a
/// loaded primary did at 100,000 domains, but every time. Each run's last
/// argument (the command) is appended to `dir/commands`.
fn failing_first_publish(dir: &Path, zone: &str, server: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("kmsdns");
    let text = format!(
        r#"#!/bin/sh
for last; do :; done
echo "$last" >> '{dir}/commands'
if [ "$last" = publish ] && [ ! -e '{dir}/failed-once' ]; then
    [ "$1" = -c ] || exit 99
    : > '{dir}/failed-once'
    config="$2"
    shift 2
    cp "$config" "$config.first"
    printf '\n[domain."%s"]\nserver = "%s"\n' '{zone}' '{server}' >> "$config.first"
    exec '{kmsdns}' -c "$config.first" "$@"
fi
exec '{kmsdns}' "$@"
"#,
        dir = dir.display(),
        kmsdns = env!("CARGO_BIN_EXE_kmsdns"),
    );
    std::fs::write(&script, text).expect("write the stand-in");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod the stand-in");
    script
}

/// The set-up publish before the reads (unmeasured) is run again when it
/// leaves domains out (issue 20; seen working only in 100,000-domain
/// runs): its first run here fails one domain, the harness notes it,
/// publishes again, and measures check as usual. Without the second run
/// the whole benchmark fails.
#[test]
fn quick_a_set_up_publish_that_leaves_a_domain_out_is_run_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("a port");
    let nobody = closed.local_addr().expect("address").to_string();
    drop(closed);
    let zone = bed::zone_name(1);
    let mut options = quick(vec![Operation::Check]);
    options.kmsdns = failing_first_publish(dir.path(), &zone, &nobody);
    let results =
        harness::run(&options).unwrap_or_else(|error| panic!("the benchmark failed: {error}"));

    let commands = std::fs::read_to_string(dir.path().join("commands")).expect("commands run");
    let publishes = commands.lines().filter(|c| *c == "publish").count();
    assert_eq!(
        publishes, 2,
        "once failing one domain, once more: {commands}"
    );
    let verified = results.verified.join("\n");
    assert!(
        verified.contains(&format!(
            "publish (set-up), run 1 of 3: publish: \"{zone}.\" ended"
        )),
        "{verified}"
    );
    assert!(!verified.contains("run 2 of 3"), "{verified}");
    assert!(
        verified.contains("publish (set-up, not measured): applied all 20"),
        "{verified}"
    );
    let operations: Vec<&str> = results.rows.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(operations, ["check"]);
}

/// The bed's configuration of kmsdns, and `kmsdns publish` of every zone
/// through it: exit 0.
fn publish(bed: &Bed) {
    let config = bed.dir().join("kmsdns.toml");
    std::fs::write(&config, harness::config_text(bed)).expect("write the configuration");
    let port = bed.port.to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_kmsdns"))
        .arg("-c")
        .arg(&config)
        .args(["--nameserver", &format!("{}:{port}", Server::Ns1.ip())])
        .args(["--dns-port", &port, "publish"])
        .output()
        .expect("run kmsdns");
    assert!(output.status.success(), "{output:?}");
}

/// Every zone's SOA serial at `server`.
fn serials(bed: &Bed, server: Server) -> Vec<u32> {
    let zones = bed.zones.iter();
    zones
        .map(|zone| bed.serial(server, zone).expect("SOA"))
        .collect()
}

/// A bed whose primary never notifies ns3 (`notify explicit`), after a
/// publish of its zones: ns2, notified, serves the new serials; ns3 still
/// the old ones. Returns the bed and the primary's new serials.
fn ns3_left_behind(zones: usize) -> (Bed, Vec<u32>) {
    let setup = Setup {
        unnotified: Some(Server::Ns3),
        ..Setup::default()
    };
    let bed = Bed::start_with(zones, 1, setup);
    let before = serials(&bed, Server::Ns1);
    publish(&bed);
    let after = serials(&bed, Server::Ns1);
    assert!(
        before.iter().zip(&after).all(|(b, a)| a > b),
        "{before:?} {after:?}"
    );
    let started = Instant::now();
    while serials(&bed, Server::Ns2) != after {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "ns2 never caught up"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(serials(&bed, Server::Ns3), before, "ns3 got no NOTIFY");
    (bed, after)
}

/// ns3 serves `after` and both SRV records in every zone.
fn assert_ns3_caught_up(bed: &Bed, after: &[u32]) {
    assert_eq!(serials(bed, Server::Ns3), after);
    for zone in &bed.zones {
        assert_eq!(
            bed.srv_set(Server::Ns3, zone).expect("SRV").len(),
            2,
            "{zone}"
        );
    }
}

/// The wait for the secondaries sends a secondary still behind after 3 s
/// the zone's NOTIFY again (issue 20; seen working only in
/// 100,000-domain runs, where a loaded secondary drops some of the
/// primary's): here ns3 never gets the primary's NOTIFY, so without the
/// NOTIFY again it would serve the old zones until its hourly refresh,
/// and the wait would run out.
#[test]
fn quick_a_secondary_that_lost_the_notify_is_notified_again() {
    const ZONES: usize = 4;
    let (bed, after) = ns3_left_behind(ZONES);
    let nudged = bed
        .wait_replicated(Duration::from_secs(10))
        .unwrap_or_else(|error| panic!("the wait ran out: {error}"));
    assert!(
        nudged.notifies >= ZONES,
        "one NOTIFY again per zone of ns3 at least: {nudged:?}"
    );
    assert_eq!(nudged.retransfers, 0, "{nudged:?}");
    assert_ns3_caught_up(&bed, &after);
}

/// A secondary that no NOTIFY moves is made to transfer the zone (`rndc
/// retransfer`): 100,000-domain runs ended on a zone that a secondary
/// still served at its old serial after NOTIFY again every 3 s for 500 s.
/// Here the wait sends no NOTIFY, so only the retransfer brings ns3 the
/// change.
#[test]
fn quick_a_secondary_still_behind_is_made_to_transfer_the_zone() {
    const ZONES: usize = 4;
    let (bed, after) = ns3_left_behind(ZONES);
    let nudges = Nudges {
        notify_after: None,
        retransfer_after: Duration::from_secs(1),
    };
    let nudged = bed
        .wait_replicated_with(Duration::from_secs(20), nudges)
        .unwrap_or_else(|error| panic!("the wait ran out: {error}"));
    assert_eq!(nudged.notifies, 0, "{nudged:?}");
    assert!(
        nudged.retransfers >= ZONES,
        "one retransfer per zone of ns3 at least: {nudged:?}"
    );
    assert_ns3_caught_up(&bed, &after);
}
