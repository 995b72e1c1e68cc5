//! plan, publish and remove against the real BIND test bed: every other
//! host's record survives, concurrent changes are caught by the
//! prerequisite, failures are named and change nothing.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::bind::{key_file, nsupdate, Server, TestBed};
use common::run::{Kmsdns, Run};

const OWNER: &str = "_vlmcs._tcp.secure.example.";
const KMS1: &str = "0 0 1688 kms1.secure.example.";
const KMS2: &str = "0 0 1688 kms2.secure.example.";
const FOREIGN: &str = "5 5 1688 other-kms.example.";

/// A configuration file for the test bed in its own temp dir.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(body: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key_file("kmsdns-secure");
        let text = format!(
            "{body}\n[tsig-key.secure]\nfile = \"{}\"\n[tsig-key.wrong]\nfile = \"{}\"\n[tsig-key.unknown]\nfile = \"{}\"\n",
            key.display(),
            key_file("wrong-secret").display(),
            key_file("unknown").display()
        );
        std::fs::write(dir.path().join("kmsdns.toml"), text).expect("write config");
        Setup { dir }
    }

    /// Hosts kms1 and kms2 publishing to `domains`, signed with `key`.
    fn hosts(domains: &[&str], key: &str) -> Setup {
        let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
        Setup::new(&format!(
            "key = \"{key}\"\npublish-list = [{}]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
            list.join(", ")
        ))
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("kmsdns.toml")
    }
}

fn kmsdns(bed: &TestBed, config: &Path, args: &[&str]) -> Run {
    Kmsdns::new()
        .args(["-c", config.to_str().expect("UTF-8 path")])
        .bed(bed)
        .args(args)
        .run()
}

fn set(records: &[&str]) -> BTreeSet<String> {
    records.iter().map(|r| r.to_string()).collect()
}

fn add_foreign(bed: &TestBed, owner: &str) {
    add_srv(bed, owner, FOREIGN);
}

/// Adds `owner 3600 IN SRV <rdata>` to secure.example with nsupdate.
fn add_srv(bed: &TestBed, owner: &str, rdata: &str) {
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &format!(
            "server {} {}\nzone secure.example\nupdate add {owner} 3600 IN SRV {rdata}\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
}

#[test]
fn publish_to_empty_rrset_then_again_changes_nothing() {
    let bed = TestBed::start();
    let setup = Setup::hosts(&["secure.example"], "secure");

    let plan = kmsdns(&bed, &setup.path(), &["plan"]);
    assert_eq!(
        plan.status, 1,
        "changes pending:\n{}{}",
        plan.stdout, plan.stderr
    );
    assert!(
        plan.stdout
            .contains(&format!("+ {OWNER} 3600 IN SRV {KMS1}")),
        "{}",
        plan.stdout
    );
    assert!(
        bed.srv_set(Server::PRIMARY, OWNER).is_empty(),
        "plan changed nothing"
    );

    let first = kmsdns(&bed, &setup.path(), &["publish"]);
    assert_eq!(first.status, 0, "{}{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("updated: 2 add"), "{}", first.stdout);
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1, KMS2]));
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");

    let second = kmsdns(&bed, &setup.path(), &["--format", "json", "publish"]);
    assert_eq!(second.status, 0, "{}{}", second.stdout, second.stderr);
    let doc: serde_json::Value = second.json();
    assert_eq!(doc["details"]["domains"][0]["outcome"], "in-sync");
    // The identity the updates are signed with (issue 16).
    assert_eq!(doc["details"]["domains"][0]["key"], "kmsdns-secure");
    assert!(doc["details"]["domains"][0].get("principal").is_none());
    assert_eq!(doc["status"], "ok");
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "secure.example"),
        serial,
        "no update sent"
    );

    let plan = kmsdns(&bed, &setup.path(), &["plan"]);
    assert_eq!(plan.status, 0, "in sync:\n{}", plan.stdout);
}

#[test]
fn another_hosts_record_survives_publish_change_and_remove() {
    let bed = TestBed::start();
    add_foreign(&bed, OWNER);
    let setup = Setup::hosts(&["secure.example"], "secure");
    let published = kmsdns(&bed, &setup.path(), &["publish"]);
    assert_eq!(
        published.status, 0,
        "{}{}",
        published.stdout, published.stderr
    );
    assert_eq!(
        bed.srv_set(Server::PRIMARY, OWNER),
        set(&[KMS1, KMS2, FOREIGN])
    );

    let changed = Setup::hosts(&["secure.example, 10, 50"], "secure");
    let plan = kmsdns(&bed, &changed.path(), &["plan"]);
    assert!(
        plan.stdout
            .contains(&format!("~ {OWNER} 3600 IN SRV {KMS1}")),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("= {OWNER} 3600 IN SRV {FOREIGN}")),
        "{}",
        plan.stdout
    );
    let republished = kmsdns(&bed, &changed.path(), &["publish"]);
    assert_eq!(
        republished.status, 0,
        "{}{}",
        republished.stdout, republished.stderr
    );
    assert_eq!(
        bed.srv_set(Server::PRIMARY, OWNER),
        set(&[
            "10 50 1688 kms1.secure.example.",
            "10 50 1688 kms2.secure.example.",
            FOREIGN
        ])
    );

    let removed = kmsdns(&bed, &changed.path(), &["remove"]);
    assert_eq!(removed.status, 0, "{}{}", removed.stdout, removed.stderr);
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[FOREIGN]));
}

#[test]
fn remove_one_host_only() {
    let bed = TestBed::start();
    let setup = Setup::hosts(&["secure.example"], "secure");
    assert_eq!(kmsdns(&bed, &setup.path(), &["publish"]).status, 0);
    let removed = kmsdns(
        &bed,
        &setup.path(),
        &["remove", "--host", "kms2.secure.example"],
    );
    assert_eq!(removed.status, 0, "{}{}", removed.stdout, removed.stderr);
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1]));

    let stranger = kmsdns(
        &bed,
        &setup.path(),
        &["remove", "--host", "other-kms.example"],
    );
    assert_eq!(stranger.status, 3, "{}", stranger.stderr);
    assert!(
        stranger.stderr.contains("not a host of this configuration"),
        "{}",
        stranger.stderr
    );
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1]));
}

#[test]
fn removing_the_last_record_needs_force() {
    let bed = TestBed::start();
    let setup = Setup::hosts(&["secure.example"], "secure");
    assert_eq!(kmsdns(&bed, &setup.path(), &["publish"]).status, 0);
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");

    let refused = kmsdns(&bed, &setup.path(), &["remove"]);
    assert_eq!(refused.status, 2, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("remove-last-record"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("without any KMS record"),
        "{}",
        refused.stdout
    );
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1, KMS2]));
    assert_eq!(bed.soa_serial(Server::PRIMARY, "secure.example"), serial);

    let forced = kmsdns(&bed, &setup.path(), &["remove", "--force"]);
    assert_eq!(forced.status, 0, "{}{}", forced.stdout, forced.stderr);
    assert!(bed.srv_set(Server::PRIMARY, OWNER).is_empty());
}

/// The RRset changes between our read and our update: the prerequisite
/// catches it, kmsdns re-reads and retries, the other record survives.
#[test]
fn concurrent_change_is_caught_and_retried() {
    let bed = TestBed::start();
    let setup = Setup::hosts(&["secure.example"], "secure");
    let port = bed.port();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let hooks = kmsdns::commands::changes::engine::Hooks {
        before_update: Some(Arc::new(move |_domain: &hickory_proto::rr::Name| {
            // Only before the first attempt: a second host publishes.
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                nsupdate(
                    Some(&key_file("kmsdns-secure")),
                    &format!(
                        "server {} {port}\nzone secure.example\nupdate add {OWNER} 3600 IN SRV {FOREIGN}\nsend\n",
                        Server::PRIMARY.ip()
                    ),
                );
            }
        })),
    };
    let args = [
        "kmsdns".to_string(),
        "-c".into(),
        setup.path().display().to_string(),
        "--nameserver".into(),
        bed.primary().to_string(),
        "--dns-port".into(),
        port.to_string(),
        "--format".into(),
        "json".into(),
        "publish".into(),
    ];
    let (status, stdout, stderr) = common::run::in_process(args.into(), hooks);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "planned twice: once before and once after the change"
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(doc["details"]["domains"][0]["retries"], 1, "{stdout}");
    assert_eq!(doc["details"]["domains"][0]["outcome"], "applied");
    assert_eq!(
        bed.srv_set(Server::PRIMARY, OWNER),
        set(&[KMS1, KMS2, FOREIGN])
    );
}

#[test]
fn key_and_permission_errors_are_named_and_change_nothing() {
    let bed = TestBed::start();
    let cases = [
        ("wrong", "secure.example", "BADSIG"),
        ("unknown", "secure.example", "BADKEY"),
        ("secure", "static.example, 1, 1", "refused the update"),
    ];
    for (key, domain, want) in cases {
        let setup = Setup::hosts(&[domain], key);
        let zone = domain.split(',').next().expect("domain");
        let owner = format!("_vlmcs._tcp.{zone}.");
        let before = bed.srv_set(Server::PRIMARY, &owner);
        let serial = bed.soa_serial(Server::PRIMARY, zone);
        let run = kmsdns(&bed, &setup.path(), &["publish"]);
        assert_eq!(
            run.status, 2,
            "{key}/{domain}: {}{}",
            run.stdout, run.stderr
        );
        assert!(
            run.stdout.contains(want),
            "{key}/{domain}: wanted {want}:\n{}",
            run.stdout
        );
        assert!(run.stdout.contains("update-failed"), "{}", run.stdout);
        assert_eq!(
            bed.srv_set(Server::PRIMARY, &owner),
            before,
            "{key}/{domain}"
        );
        assert_eq!(
            bed.soa_serial(Server::PRIMARY, zone),
            serial,
            "{key}/{domain}"
        );
    }
    // The key is never printed, whatever the failure.
    let secret = std::fs::read_to_string(key_file("wrong-secret")).expect("key");
    let secret = secret.split('"').nth(3).expect("secret in key file");
    let setup = Setup::hosts(&["secure.example"], "wrong");
    let run = kmsdns(&bed, &setup.path(), &["-v", "publish"]);
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
}

#[test]
fn unsigned_update_to_a_keyed_zone_is_refused() {
    let bed = TestBed::start();
    let setup = Setup::new(
        "publish-list = [\"secure.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n",
    );
    let run = kmsdns(&bed, &setup.path(), &["publish"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("does not accept unsigned updates"),
        "{}",
        run.stdout
    );
    assert!(bed.srv_set(Server::PRIMARY, OWNER).is_empty());
}

#[test]
fn primary_down_times_out_with_exit_2() {
    let mut bed = TestBed::start();
    let setup = Setup::new(&format!(
        "key = \"secure\"\npublish-list = [\"secure.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n[domain.\"secure.example\"]\nserver = \"{}\"\n",
        Server::PRIMARY.ip()
    ));
    bed.pause(Server::PRIMARY);
    let started = std::time::Instant::now();
    let run = kmsdns(&bed, &setup.path(), &["--timeout", "300ms", "publish"]);
    bed.resume(Server::PRIMARY);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    // The reads time out after 300 ms each: about 0.9 s here (6 s with the
    // default --timeout 2s, which this bound never told apart).
    assert!(
        started.elapsed() < common::OVERDUE,
        "bounded: {:?}",
        started.elapsed()
    );
    assert!(run.stdout.contains("dns-read-failed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("timed out") || run.stdout.contains("no reply"),
        "{}",
        run.stdout
    );
    assert!(bed.srv_set(Server::PRIMARY, OWNER).is_empty());
}

#[test]
fn one_refusing_zone_does_not_stop_the_others() {
    let bed = TestBed::start();
    let setup = Setup::hosts(
        &[
            "static.example, 1, 1",
            "secure.example",
            "branch.secure.example",
        ],
        "secure",
    );
    let run = kmsdns(&bed, &setup.path(), &["--format", "json", "publish"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    let doc: serde_json::Value = run.json();
    let domains = doc["details"]["domains"].as_array().expect("domains");
    let outcomes: Vec<(&str, &str)> = domains
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap_or(""),
                d["outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("static.example.", "failed"),
            ("secure.example.", "applied"),
            ("branch.secure.example.", "applied")
        ]
    );
    assert_eq!(
        domains[2]["zone"], "secure.example.",
        "a domain below its zone"
    );
    assert!(domains[0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("REFUSED") || e.contains("refused")));
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1, KMS2]));
    assert_eq!(
        bed.srv_set(Server::PRIMARY, "_vlmcs._tcp.branch.secure.example."),
        set(&[KMS1, KMS2])
    );
}

#[test]
fn open_zone_takes_unsigned_updates() {
    let bed = TestBed::start();
    let setup =
        Setup::new("publish-list = [\"open.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n");
    let run = kmsdns(&bed, &setup.path(), &["publish"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        bed.srv_set(Server::PRIMARY, "_vlmcs._tcp.open.example."),
        set(&[KMS1])
    );
}

#[test]
fn ttl_change_is_shown_and_applied_only_with_set_ttl() {
    let bed = TestBed::start();
    add_foreign(&bed, OWNER);
    let setup = Setup::new(
        "key = \"secure\"\nttl = 600\npublish-list = [\"secure.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n",
    );
    let run = kmsdns(&bed, &setup.path(), &["publish"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert!(run.stdout.contains("TTL 3600 -> 600"), "{}", run.stdout);
    let ttls = |bed: &TestBed| -> BTreeSet<u32> {
        bed.query(Server::PRIMARY, OWNER, hickory_proto::rr::RecordType::SRV)
            .answers()
            .iter()
            .map(|r| r.ttl())
            .collect()
    };
    assert_eq!(
        ttls(&bed),
        BTreeSet::from([3600]),
        "added with the RRset's TTL"
    );
    let run = kmsdns(&bed, &setup.path(), &["publish", "--set-ttl"]);
    assert_eq!(run.status, 0, "{}", run.stdout);
    assert_eq!(ttls(&bed), BTreeSet::from([600]));
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1, FOREIGN]));
}

#[test]
fn wait_replication_returns_when_secondaries_follow_and_names_stragglers() {
    let mut bed = TestBed::start();
    let setup = Setup::hosts(&["secure.example"], "secure");
    let run = kmsdns(
        &bed,
        &setup.path(),
        &["publish", "--wait-replication", "10s"],
    );
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("replicated"), "{}", run.stdout);
    for server in Server::SECONDARIES {
        assert_eq!(bed.srv_set(server, OWNER), set(&[KMS1, KMS2]), "{server}");
    }

    bed.stop(Server::Ns3);
    let changed = Setup::hosts(&["secure.example, 1, 1"], "secure");
    let run = kmsdns(
        &bed,
        &changed.path(),
        &["--timeout", "300ms", "publish", "--wait-replication", "2s"],
    );
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("127.53.0.3"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("127.53.0.2:"),
        "ns2 caught up:\n{}",
        run.stdout
    );
}

/// Two domains of one zone change in one atomic UPDATE: the serial moves once.
#[test]
fn one_update_per_zone() {
    let bed = TestBed::start();
    let setup = Setup::hosts(
        &["secure.example", "branch.secure.example, 10, 75"],
        "secure",
    );
    let before = bed.soa_serial(Server::PRIMARY, "secure.example");
    let run = kmsdns(&bed, &setup.path(), &["-v", "publish"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "secure.example"),
        before + 1
    );
    assert!(
        run.stderr.contains("one UPDATE") && run.stderr.contains("for 2 RRset(s)"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[KMS1, KMS2]));
    assert_eq!(
        bed.srv_set(Server::PRIMARY, "_vlmcs._tcp.branch.secure.example."),
        set(&[
            "10 75 1688 kms1.secure.example.",
            "10 75 1688 kms2.secure.example."
        ])
    );
}

/// `--addresses` adds the configured A/AAAA of hosts inside the zone,
/// never deletes an address it does not know, and is idempotent.
#[test]
fn addresses_of_hosts_inside_the_zone() {
    let bed = TestBed::start();
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\nupdate add kms9.open.example. 600 IN A 127.53.1.99\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let setup = Setup::new(
        "publish-list = [\"open.example\"]\n\
         [[host]]\nname = \"kms9.open.example\"\naddresses = [\"127.53.1.9\", \"fd00::9\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\naddresses = [\"127.53.1.1\"]\n",
    );
    let addresses = |bed: &TestBed, name: &str, rtype| -> BTreeSet<String> {
        bed.query(Server::PRIMARY, name, rtype)
            .answers()
            .iter()
            .map(|r| format!("{} {}", r.ttl(), r.data()))
            .collect()
    };
    use hickory_proto::rr::RecordType::{A, AAAA};

    let plan = kmsdns(&bed, &setup.path(), &["plan", "--addresses"]);
    assert_eq!(plan.status, 1, "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("+ kms9.open.example. 600 IN A 127.53.1.9"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("+ kms9.open.example. 3600 IN AAAA fd00::9"),
        "{}",
        plan.stdout
    );
    assert!(
        !plan.stdout.contains("kms1.secure.example. 3600 IN A"),
        "outside the zone:\n{}",
        plan.stdout
    );

    let before = bed.soa_serial(Server::PRIMARY, "open.example");
    let run = kmsdns(&bed, &setup.path(), &["publish", "--addresses"]);
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "open.example"),
        before + 1,
        "one UPDATE"
    );
    assert_eq!(
        addresses(&bed, "kms9.open.example.", A),
        BTreeSet::from(["600 127.53.1.9".to_string(), "600 127.53.1.99".to_string()]),
        "the unknown address survives; the RRset keeps its TTL"
    );
    assert_eq!(
        addresses(&bed, "kms9.open.example.", AAAA),
        BTreeSet::from(["3600 fd00::9".to_string()])
    );
    assert_eq!(
        bed.srv_set(Server::PRIMARY, "_vlmcs._tcp.open.example."),
        set(&[
            "0 0 1688 kms1.secure.example.",
            "0 0 1688 kms9.open.example."
        ])
    );

    let again = kmsdns(&bed, &setup.path(), &["publish", "--addresses"]);
    assert_eq!(again.status, 0, "{}", again.stdout);
    assert!(again.stdout.contains("in-sync"), "{}", again.stdout);
    assert_eq!(bed.soa_serial(Server::PRIMARY, "open.example"), before + 1);
}

const STALE: &str = "0 0 1688 old-kms.secure.example.";

/// A complete configuration: kms1 and kms2 managed, other-kms.example
/// (the FOREIGN record's target) known with managed = false.
fn complete_setup(complete: bool) -> Setup {
    Setup::new(&format!(
        "complete = {complete}\nkey = \"secure\"\npublish-list = [\"secure.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n[[host]]\nname = \"other-kms.example\"\nmanaged = false\n"
    ))
}

/// `--prune` deletes the stale host's record in the same UPDATE that adds
/// ours, keeps the managed = false host's, and needs complete = true.
#[test]
fn prune_deletes_stale_hosts_and_keeps_hosts_not_managed_here() {
    let bed = TestBed::start();
    add_foreign(&bed, OWNER);
    add_srv(&bed, OWNER, STALE);
    let before = set(&[FOREIGN, STALE]);
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), before);
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");

    let incomplete = complete_setup(false);
    for command in ["plan", "publish"] {
        let refused = kmsdns(&bed, &incomplete.path(), &[command, "--prune"]);
        assert_eq!(refused.status, 3, "{}{}", refused.stdout, refused.stderr);
        assert!(
            refused.stderr.contains("set complete = true"),
            "{}",
            refused.stderr
        );
    }
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), before);

    let setup = complete_setup(true);
    let plan = kmsdns(&bed, &setup.path(), &["plan", "--prune"]);
    assert_eq!(plan.status, 1, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(&format!(
            "- prune {OWNER} 3600 IN SRV {STALE} (not a configured host)"
        )),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains(&format!("= {OWNER} 3600 IN SRV {FOREIGN}")),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to prune"), "{}", plan.stdout);
    assert_eq!(
        bed.srv_set(Server::PRIMARY, OWNER),
        before,
        "plan changed nothing"
    );

    // Without --prune, publish leaves the stale record.
    let plain = kmsdns(&bed, &setup.path(), &["--format", "json", "plan"]);
    let doc: serde_json::Value = plain.json();
    let changes = doc["details"]["domains"][0]["changes"]
        .as_array()
        .unwrap()
        .clone();
    assert!(changes.iter().all(|c| c["prune"].is_null()), "{changes:?}");

    let published = kmsdns(
        &bed,
        &setup.path(),
        &["--format", "json", "publish", "--prune"],
    );
    assert_eq!(
        published.status, 0,
        "{}{}",
        published.stdout, published.stderr
    );
    let doc: serde_json::Value = published.json();
    let pruned: Vec<&serde_json::Value> = doc["details"]["domains"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["prune"] == true)
        .collect();
    assert_eq!(pruned.len(), 1, "{doc}");
    assert_eq!(pruned[0]["op"], "-");
    assert_eq!(
        bed.srv_set(Server::PRIMARY, OWNER),
        set(&[KMS1, KMS2, FOREIGN])
    );
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "secure.example"),
        serial.wrapping_add(1),
        "one atomic UPDATE"
    );

    // The managed = false host is checked, not reported as unknown, and
    // never removed.
    let check = kmsdns(&bed, &setup.path(), &["check"]);
    assert!(!check.stdout.contains("unknown-target"), "{}", check.stdout);
    let refused = kmsdns(
        &bed,
        &setup.path(),
        &["remove", "--host", "other-kms.example"],
    );
    assert_eq!(refused.status, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("managed = false"),
        "{}",
        refused.stderr
    );
    let removed = kmsdns(&bed, &setup.path(), &["remove"]);
    assert_eq!(removed.status, 0, "{}{}", removed.stdout, removed.stderr);
    assert_eq!(bed.srv_set(Server::PRIMARY, OWNER), set(&[FOREIGN]));
}

/// The last-record brake names the Windows error the name would give,
/// from what BIND serves at it: NXDOMAIN when nothing else is there,
/// NODATA when a TXT record stays.
#[test]
fn the_last_record_brake_names_nxdomain_or_nodata_from_the_server() {
    let bed = TestBed::start();
    let owner = "_vlmcs._tcp.open.example.";
    let setup = Setup::hosts(&["open.example"], "secure");
    assert_eq!(kmsdns(&bed, &setup.path(), &["publish"]).status, 0);

    let refused = kmsdns(&bed, &setup.path(), &["remove"]);
    assert_eq!(refused.status, 2, "{}", refused.stdout);
    let line = refused.lines_with("remove-last-record").join("\n");
    assert!(line.contains("0x8007232B"), "{}", refused.stdout);
    assert!(!line.contains("0x8007251D"), "{}", refused.stdout);

    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\nupdate add {owner} 3600 IN TXT \"kms\"\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let refused = kmsdns(&bed, &setup.path(), &["remove"]);
    assert_eq!(refused.status, 2, "{}", refused.stdout);
    let line = refused.lines_with("remove-last-record").join("\n");
    assert!(line.contains("0x8007251D"), "{}", refused.stdout);
    assert!(line.contains("TXT"), "{}", refused.stdout);
    assert!(!line.contains("0x8007232B"), "{}", refused.stdout);
    assert_eq!(
        bed.srv_set(Server::PRIMARY, owner).len(),
        2,
        "nothing removed"
    );

    // What clients get after --force is what the brake said: NODATA.
    assert_eq!(
        kmsdns(&bed, &setup.path(), &["remove", "--force"]).status,
        0
    );
    let answer = bed.query(Server::PRIMARY, owner, hickory_proto::rr::RecordType::SRV);
    assert_eq!(
        answer.response_code(),
        hickory_proto::op::ResponseCode::NoError
    );
    assert!(answer.answers().is_empty());
}

/// BIND refuses a whole UPDATE when the key lacks a grant for one RRset
/// (here kms3's A record, added by --addresses): the failure lists every
/// RRset the UPDATE carried and quotes the grant lines `kmsdns bind`
/// writes, instead of blaming the SRV grant, which exists.
#[test]
fn a_refused_update_lists_its_rrsets_and_the_grants_bind_needs() {
    let bed = TestBed::start();
    let setup = Setup::new(
        "key = \"secure\"\npublish-list = [\"secure.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n\
         [[host]]\nname = \"kms3.secure.example\"\naddresses = [\"127.53.1.3\"]\n",
    );
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");
    let run = kmsdns(&bed, &setup.path(), &["publish", "--addresses"]);
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let text = run.text();
    assert!(
        text.contains(
            "carried 2 RRset(s): _vlmcs._tcp.secure.example. SRV, kms3.secure.example. A"
        ),
        "{text}"
    );
    assert!(text.contains("may lack a grant for any of them"), "{text}");
    assert!(!text.contains("is not granted for"), "{text}");
    assert!(
        text.contains("grant kmsdns-secure name _vlmcs._tcp.secure.example. SRV;"),
        "{text}"
    );
    assert!(
        text.contains("grant kmsdns-secure name kms3.secure.example. A;"),
        "{text}"
    );
    assert!(
        bed.srv_set(Server::PRIMARY, OWNER).is_empty(),
        "nothing applied"
    );
    assert_eq!(bed.soa_serial(Server::PRIMARY, "secure.example"), serial);
}
