//! Every command against every server users run: BIND, Knot DNS, PowerDNS
//! (gsqlite3) and PowerDNS with a Lua update policy, each seeded with the
//! same zone and a foreign `_vlmcs._tcp` record (`tests/common/servers.rs`).
//!
//! - The live permission probe tells a granted key from a known key that is
//!   not granted, from an unknown key, from a wrong secret, and from no key,
//!   on each server, in the words of that server — and changes nothing: 20
//!   runs each of `updates --live` and `audit` leave the serial, the
//!   records, their TTLs and the server's own store (BIND's and Knot's
//!   journal, PowerDNS's records table) exactly as they were.
//! - Every command on each server (`every_command`): plan, publish, publish
//!   again, check, replication, updates --live, audit, publish --set-ttl, a
//!   rival host publishing between read and update, remove, the
//!   last-record brake and --force; the foreign record survives them all.
//! - Refused publishes name what to fix in the server that refused, and
//!   PowerDNS's Lua refusals (NOERROR, nothing applied) are named as such.
//!
//! No message about Knot DNS or PowerDNS uses BIND's words. Every assertion
//! about what a server serves is made with `dig +norec`.

use crate::common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::bind::{key_file, nsupdate};
use common::run::{Kmsdns, Run};
use common::servers::{
    serial, srv, srv_rdata, Flavour, Key, ServerState, TestServer, FOREIGN, GRANTED_KEY, OTHER_KEY,
    OWNER, REFUSED_OWNER, ZONE,
};
use serde_json::Value;

/// A kmsdns configuration for the seeded zone: the publish list
/// `secure.example` and `refused.secure.example`, hosts kms1 and kms2, and
/// every test key, `key` naming the one to sign with.
struct Setup {
    dir: tempfile::TempDir,
}

/// The keys a configuration can sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signer {
    /// The key every server grants the SRV records.
    Granted,
    /// A key the server knows but does not let update.
    Other,
    /// A key the server does not know.
    Unknown,
    /// The granted key's name with another secret.
    WrongSecret,
    /// No key.
    None,
}

impl Setup {
    fn new(signer: Signer, extra: &str) -> Setup {
        Setup::for_domains(&["secure.example", "refused.secure.example"], signer, extra)
    }

    /// A configuration publishing kms1 and kms2 to `domains` (Windows'
    /// entry syntax).
    fn for_domains(domains: &[&str], signer: Signer, extra: &str) -> Setup {
        let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let key = match signer {
            Signer::Granted => "key = \"granted\"\n",
            Signer::Other => "key = \"other\"\n",
            Signer::Unknown => "key = \"unknown\"\n",
            Signer::WrongSecret => "key = \"wrong\"\n",
            Signer::None => "",
        };
        let mut text = format!(
            "{key}publish-list = [{}]\n\
             [[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
            list.join(", ")
        );
        for (name, stem) in [
            ("granted", GRANTED_KEY),
            ("other", OTHER_KEY),
            ("unknown", "unknown"),
            ("wrong", "wrong-secret"),
        ] {
            let _ = write!(
                text,
                "[tsig-key.{name}]\nfile = \"{}\"\n",
                key_file(stem).display()
            );
        }
        text.push_str(extra);
        std::fs::write(dir.path().join("kmsdns.toml"), text).expect("write config");
        Setup { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("kmsdns.toml")
    }
}

/// Runs kmsdns with `setup` against `server` (its resolver and its port).
fn kmsdns(server: &TestServer, setup: &Setup, args: &[&str]) -> Run {
    let addr = server.addr();
    Kmsdns::new()
        .cwd(setup.dir.path())
        .args(["-c", setup.path().to_str().expect("UTF-8 path")])
        .args(["--nameserver", &addr.to_string()])
        .args(["--dns-port", &addr.port().to_string()])
        // PowerDNS answers a signature it rejects without TSIG; kmsdns
        // waits out the attempt for a reply that verifies.
        .args(["--timeout", "500ms"])
        .args(args)
        .timeout(Duration::from_secs(60))
        .run()
}

/// Every finding of a JSON report as `(domain, id)`.
fn findings(doc: &Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["domain"].as_str().unwrap_or("").to_string(),
                f["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The live verdict of `domain` in the details of `updates`.
fn live<'a>(doc: &'a Value, domain: &str) -> &'a Value {
    doc["details"]["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .flat_map(|z| z["live"].as_array().into_iter().flatten())
        .find(|l| l["domain"] == domain)
        .unwrap_or_else(|| panic!("no live verdict for {domain}:\n{doc:#}"))
}

/// BIND's words, which must never reach a message about another server.
const BIND_WORDS: [&str; 5] = [
    "named.conf",
    "update-policy {",
    "update-policy grant",
    "allow-update",
    "kmsdns bind",
];

/// Panics if `run`'s output says anything BIND-specific.
fn assert_no_bind_words(flavour: Flavour, run: &Run) {
    let text = run.text();
    for word in BIND_WORDS {
        assert!(
            !text.contains(word),
            "{flavour}: {word:?} in a message about it:\n{run}"
        );
    }
}

/// `before` and `after` are the same; else the difference.
fn assert_same(flavour: Flavour, what: &str, before: &ServerState, after: &ServerState) {
    assert_eq!(
        before.serial, after.serial,
        "{flavour}: serial after {what}"
    );
    assert_eq!(
        before.rrsets, after.rrsets,
        "{flavour}: records after {what}"
    );
    assert!(
        before.store == after.store,
        "{flavour}: the server's store changed after {what}:\n--- before ---\n{}\n--- after ---\n{}",
        before.store,
        after.store
    );
}

/// What `updates --live` must find for both domains, per server and key.
fn expected(flavour: Flavour, signer: Signer) -> Vec<&'static str> {
    use Flavour::*;
    use Signer::*;
    match (flavour, signer) {
        // A Lua policy is consulted after the prerequisite: unknowable.
        (PowerDnsLua, Granted | Other) => vec!["update-policy-unverifiable"],
        (PowerDnsLua, Unknown | WrongSecret) => {
            vec!["update-policy-unverifiable", "key-refused"]
        }
        (PowerDnsLua, None) => vec!["update-policy-unverifiable"],
        (_, Granted) => vec!["keyed-only"],
        (_, Other | Unknown | WrongSecret) => vec!["key-refused"],
        (_, None) => vec!["no-key"],
    }
}

/// The live probe's verdicts on every server, for every kind of key, and
/// the zone left as it was.
#[test]
fn the_probe_tells_who_may_update_on_every_server() {
    for flavour in Flavour::ALL {
        let server = TestServer::start(flavour);
        let before = server.state();
        for signer in [
            Signer::Granted,
            Signer::Other,
            Signer::Unknown,
            Signer::WrongSecret,
            Signer::None,
        ] {
            let setup = Setup::new(signer, "");
            let run = kmsdns(&server, &setup, &["--format", "json", "updates", "--live"]);
            let doc: Value = run.json();
            for domain in ["secure.example.", "refused.secure.example."] {
                let ids: Vec<String> = findings(&doc)
                    .into_iter()
                    .filter(|(d, _)| d == domain)
                    .map(|(_, id)| id)
                    .collect();
                assert_eq!(
                    ids,
                    expected(flavour, signer),
                    "{flavour}, {signer:?} key, {domain}:\n{run}"
                );
                let verdict = live(&doc, domain);
                let software = match flavour {
                    Flavour::Bind => "bind",
                    Flavour::Knot => "knot",
                    Flavour::PowerDns | Flavour::PowerDnsLua => "powerdns",
                };
                assert_eq!(verdict["software"], software, "{flavour}: {verdict:#}");
                assert!(verdict.get("changed").is_none(), "{flavour}: {verdict:#}");
            }
            if flavour != Flavour::Bind {
                assert_no_bind_words(flavour, &run);
                let text = kmsdns(&server, &setup, &["updates", "--live"]);
                assert_no_bind_words(flavour, &text);
            }
        }
        assert_same(flavour, "the probes", &before, &server.state());
    }
}

/// The words of each verdict name what to fix in the server that answered.
#[test]
fn verdicts_name_what_to_fix_in_the_server_that_answered() {
    let cases = [
        (
            Flavour::Bind,
            Signer::Other,
            "update-policy { grant kmsdns-other name _vlmcs._tcp.secure.example. SRV; }",
        ),
        (
            Flavour::Knot,
            Signer::Other,
            "knows key kmsdns-other (a read signed with it verifies)",
        ),
        (
            Flavour::Knot,
            Signer::Other,
            "update-owner-name: [_vlmcs._tcp]",
        ),
        (
            Flavour::Knot,
            Signer::Unknown,
            "the key section of knot.conf",
        ),
        (Flavour::Knot, Signer::WrongSecret, "BADSIG"),
        (
            Flavour::PowerDns,
            Signer::Other,
            "pdnsutil set-meta secure.example TSIG-ALLOW-DNSUPDATE kmsdns-other",
        ),
        (
            Flavour::PowerDns,
            Signer::Unknown,
            "pdnsutil list-tsig-keys",
        ),
        (
            Flavour::PowerDns,
            Signer::WrongSecret,
            "does not accept the signature of key kmsdns-secure",
        ),
        (
            Flavour::PowerDns,
            Signer::Granted,
            "TSIG-ALLOW-DNSUPDATE change the whole zone",
        ),
        (
            Flavour::PowerDnsLua,
            Signer::Granted,
            "lua-dnsupdate-policy-script",
        ),
        (
            Flavour::Knot,
            Signer::Granted,
            "the primary (Knot DNS) refuses unsigned updates",
        ),
    ];
    let mut servers: Vec<(Flavour, TestServer)> = Vec::new();
    for (flavour, signer, words) in cases {
        if !servers.iter().any(|(f, _)| *f == flavour) {
            servers.push((flavour, TestServer::start(flavour)));
        }
        let server = &servers
            .iter()
            .find(|(f, _)| *f == flavour)
            .expect("started")
            .1;
        let run = kmsdns(server, &Setup::new(signer, ""), &["updates", "--live"]);
        assert!(
            run.stdout.contains(words),
            "{flavour}, {signer:?} key: {words:?} missing:\n{run}"
        );
    }
}

/// 20 runs each of `updates --live` and `audit` on `flavour`: the serial,
/// every record and TTL, and the server's own store are exactly as before.
fn twenty_probes_and_audits_change_nothing(flavour: Flavour) {
    let server = TestServer::start(flavour);
    let setup = Setup::new(Signer::Granted, "");
    let before = server.state();
    for run in 0..20 {
        let probed = kmsdns(&server, &setup, &["updates", "--live"]);
        assert!(
            !probed.stdout.contains("probe-changed-zone"),
            "{flavour}, run {run}:\n{probed}"
        );
        let audited = kmsdns(&server, &setup, &["audit"]);
        assert!(
            audited.stdout.contains("keyed-only")
                || audited.stdout.contains("update-policy-unverifiable"),
            "{flavour}, run {run}:\n{audited}"
        );
    }
    assert_same(
        flavour,
        "20 updates --live and 20 audit runs",
        &before,
        &server.state(),
    );
}

#[test]
fn twenty_probes_and_audits_change_nothing_on_bind() {
    twenty_probes_and_audits_change_nothing(Flavour::Bind);
}

#[test]
fn twenty_probes_and_audits_change_nothing_on_knot() {
    twenty_probes_and_audits_change_nothing(Flavour::Knot);
}

#[test]
fn twenty_probes_and_audits_change_nothing_on_powerdns() {
    twenty_probes_and_audits_change_nothing(Flavour::PowerDns);
}

#[test]
fn twenty_probes_and_audits_change_nothing_on_powerdns_with_lua() {
    twenty_probes_and_audits_change_nothing(Flavour::PowerDnsLua);
}

//------------ every command -------------------------------------------------

/// kms1's and kms2's records as the configuration publishes them.
const KMS1: &str = "0 0 1688 kms1.secure.example.";
const KMS2: &str = "0 0 1688 kms2.secure.example.";
/// A record another host publishes while kmsdns works.
const RIVAL: &str = "7 7 1688 another-kms.example.";

/// The SRV records at `name` with their TTLs, as a set to compare with.
fn records(entries: &[(u32, &str)]) -> BTreeSet<(u32, String)> {
    entries.iter().map(|(t, r)| (*t, r.to_string())).collect()
}

/// Runs `args` with `setup` against `server`; the exit status must be
/// `status`, and no BIND wording may appear about another server.
fn step(flavour: Flavour, server: &TestServer, setup: &Setup, args: &[&str], status: i32) -> Run {
    let run = kmsdns(server, setup, args);
    assert_eq!(run.status, status, "{flavour}: {run}");
    if flavour != Flavour::Bind {
        assert_no_bind_words(flavour, &run);
    }
    run
}

/// `publish` in this process, with a second host publishing [`RIVAL`]
/// between kmsdns's read and its update (the engine's test hook).
fn publish_racing_a_rival(server: &TestServer, setup: &Setup) -> (u8, String) {
    let addr = server.addr();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let hooks = kmsdns::commands::changes::engine::Hooks {
        before_update: Some(Arc::new(move |_domain: &hickory_proto::rr::Name| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                nsupdate(
                    Some(&Key::from_file(GRANTED_KEY).file),
                    &format!(
                        "server {} {}\nzone {ZONE}\nupdate add {OWNER} 3600 IN SRV {RIVAL}\nsend\n",
                        addr.ip(),
                        addr.port()
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
        addr.to_string(),
        "--dns-port".into(),
        addr.port().to_string(),
        "--format".into(),
        "json".into(),
        "publish".into(),
    ];
    let (status, stdout, stderr) = common::run::in_process(args.into(), hooks);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "planned before and after");
    (status, format!("{stdout}{stderr}"))
}

/// plan, publish (again, with --set-ttl, racing another host), check,
/// replication, updates --live, audit, remove (braked on the last record,
/// then forced) against `flavour`; after each, what the server serves,
/// read with dig, and the foreign record still there.
fn every_command(flavour: Flavour) {
    let server = TestServer::start(flavour);
    let addr = server.addr();
    let setup = Setup::for_domains(&["secure.example"], Signer::Granted, "");
    let seeded = records(&[(3600, FOREIGN)]);
    let start = server.state();
    assert_eq!(srv(addr, OWNER), seeded, "{flavour}: the seed");

    // plan: what publish would add; nothing changes.
    let plan = step(flavour, &server, &setup, &["plan"], 1);
    for line in [
        format!("+ {OWNER} 3600 IN SRV {KMS1}"),
        format!("= {OWNER} 3600 IN SRV {FOREIGN}"),
    ] {
        assert!(plan.stdout.contains(&line), "{flavour}: {line}\n{plan}");
    }
    assert_eq!(server.state(), start, "{flavour}: plan changed nothing");

    // publish: both hosts added beside the foreign record.
    step(flavour, &server, &setup, &["publish"], 0);
    let published = records(&[(3600, KMS1), (3600, KMS2), (3600, FOREIGN)]);
    assert_eq!(srv(addr, OWNER), published, "{flavour}: publish");
    let serial = serial(addr, ZONE);
    assert_ne!(serial, start.serial, "{flavour}: publish moved the serial");

    // Again: in sync, no update.
    let again = step(
        flavour,
        &server,
        &setup,
        &["--format", "json", "publish"],
        0,
    );
    let doc: Value = again.json();
    assert_eq!(
        doc["details"]["domains"][0]["outcome"], "in-sync",
        "{again}"
    );
    let state = server.state();
    assert_eq!(state.serial, serial, "{flavour}: nothing sent");

    // check, replication, updates --live, audit: read only.
    let check = step(flavour, &server, &setup, &["--format", "json", "check"], 1);
    let ids: Vec<String> = findings(&check.json())
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    assert!(
        ids.contains(&"unknown-target".to_string()),
        "{flavour}: {check}"
    );
    assert!(
        !ids.contains(&"dns-read-failed".to_string()),
        "{flavour}: {check}"
    );
    let replication = step(flavour, &server, &setup, &["replication"], 0);
    assert!(replication.stdout.contains("replicated"), "{replication}");
    let lua = flavour == Flavour::PowerDnsLua;
    let (verdict, status) = if lua {
        ("update-policy-unverifiable", 1)
    } else {
        ("keyed-only", 0)
    };
    let probed = step(flavour, &server, &setup, &["updates", "--live"], status);
    assert!(probed.stdout.contains(verdict), "{flavour}: {probed}");
    step(flavour, &server, &setup, &["audit", "--no-probe"], 1);
    assert_eq!(server.state(), state, "{flavour}: the read-only commands");

    // publish --set-ttl: the whole RRset takes the configured TTL.
    let short = Setup::for_domains(
        &["secure.example"],
        Signer::Granted,
        "[domain.\"secure.example\"]\nttl = 600\n",
    );
    let pending = step(flavour, &server, &short, &["plan"], 0);
    assert!(pending.stdout.contains("ttl-differs"), "{pending}");
    // The plan says what the server will do to the foreign record's TTL.
    let planned = step(flavour, &server, &short, &["plan", "--set-ttl"], 1);
    assert!(
        planned.stdout.contains(&format!(
            "= {OWNER} 3600 IN SRV {FOREIGN} (foreign record's TTL changes from 3600 to 600 with the RRset)"
        )),
        "{flavour}: {planned}"
    );
    step(flavour, &server, &short, &["publish", "--set-ttl"], 0);
    assert_eq!(
        srv(addr, OWNER),
        records(&[(600, KMS1), (600, KMS2), (600, FOREIGN)]),
        "{flavour}: --set-ttl"
    );
    step(flavour, &server, &short, &["plan"], 0);

    // A rival publishes between our read and our update: caught by the
    // prerequisite, re-read, and both survive.
    let moved = Setup::for_domains(&["secure.example, 10, 50"], Signer::Granted, "");
    let (status, output) = publish_racing_a_rival(&server, &moved);
    assert_eq!(status, 0, "{flavour}: {output}");
    let doc: Value = serde_json::from_str(&output).expect("JSON");
    assert_eq!(doc["details"]["domains"][0]["retries"], 1, "{output}");
    assert_eq!(
        srv_rdata(addr, OWNER),
        [
            "10 50 1688 kms1.secure.example.",
            "10 50 1688 kms2.secure.example.",
            FOREIGN,
            RIVAL
        ]
        .map(String::from)
        .into(),
        "{flavour}: after the race"
    );

    // remove: ours go, the other hosts' stay.
    step(flavour, &server, &moved, &["remove"], 0);
    assert_eq!(
        srv_rdata(addr, OWNER),
        [FOREIGN, RIVAL].map(String::from).into(),
        "{flavour}: remove"
    );

    // The last records of a domain: the brake, then --force. (The Lua
    // policy refuses refused.secure.example; it allows branch.)
    let (domain, owner) = if lua {
        (
            "branch.secure.example",
            "_vlmcs._tcp.branch.secure.example.",
        )
    } else {
        ("refused.secure.example", REFUSED_OWNER)
    };
    let alone = Setup::for_domains(&[domain], Signer::Granted, "");
    step(flavour, &server, &alone, &["publish"], 0);
    let braked = step(flavour, &server, &alone, &["remove"], 2);
    assert!(braked.stdout.contains("remove-last-record"), "{braked}");
    assert_eq!(
        srv_rdata(addr, owner),
        [KMS1, KMS2].map(String::from).into(),
        "{flavour}: braked"
    );
    step(flavour, &server, &alone, &["remove", "--force"], 0);
    assert!(srv(addr, owner).is_empty(), "{flavour}: forced");
    assert!(
        srv_rdata(addr, OWNER).contains(FOREIGN),
        "{flavour}: the foreign record"
    );
}

#[test]
fn every_command_on_bind() {
    every_command(Flavour::Bind);
}

#[test]
fn every_command_on_knot() {
    every_command(Flavour::Knot);
}

#[test]
fn every_command_on_powerdns() {
    every_command(Flavour::PowerDns);
}

#[test]
fn every_command_on_powerdns_with_lua() {
    every_command(Flavour::PowerDnsLua);
}

/// PowerDNS with a Lua update policy answers NOERROR to what the policy
/// refuses: publish reads back, finds nothing applied, and says the policy
/// refused it — not that another host changed the records.
#[test]
fn powerdns_lua_refusals_are_named_by_publish() {
    let flavour = Flavour::PowerDnsLua;
    let server = TestServer::start(flavour);
    let addr = server.addr();
    let before = server.state();
    for (domains, signer) in [
        (&["refused.secure.example"][..], Signer::Granted),
        (&["secure.example"][..], Signer::None),
        (&["secure.example"][..], Signer::Other),
    ] {
        let setup = Setup::for_domains(domains, signer, "");
        let run = kmsdns(&server, &setup, &["publish"]);
        assert_eq!(run.status, 2, "{signer:?}: {run}\n{}", server.log());
        assert_no_bind_words(flavour, &run);
        assert!(
            run.stdout
                .contains("applied nothing: the server's update policy refused it"),
            "{signer:?}: {run}"
        );
        assert!(!run.stdout.contains("another host"), "{signer:?}: {run}");
        assert!(run.stdout.contains("lua-dnsupdate-policy-script"), "{run}");
        assert_same(flavour, "a refused publish", &before, &server.state());
    }
    // What the policy allows is applied.
    let allowed = Setup::for_domains(&["secure.example"], Signer::Granted, "");
    step(flavour, &server, &allowed, &["publish"], 0);
    assert_eq!(
        srv_rdata(addr, OWNER),
        [KMS1, KMS2, FOREIGN].map(String::from).into()
    );
}

/// A refused publish names what to change in the server that refused it,
/// and changes nothing.
#[test]
fn publish_refusals_name_what_to_fix_in_each_server() {
    let cases: [(Flavour, Signer, &[&str]); 7] = [
        (Flavour::Bind, Signer::Other, &["update-policy"]),
        (
            Flavour::Knot,
            Signer::Other,
            &["NOTAUTH, BADKEY", "Knot DNS answers so", "acl with key"],
        ),
        (
            Flavour::Knot,
            Signer::None,
            &["refused the unsigned update", "NOTAUTH", "acl"],
        ),
        (
            Flavour::PowerDns,
            Signer::Other,
            &["pdnsutil set-meta secure.example TSIG-ALLOW-DNSUPDATE"],
        ),
        (
            Flavour::PowerDns,
            Signer::Unknown,
            &[
                "PowerDNS does so for a key it does not know",
                "pdnsutil list-tsig-keys",
            ],
        ),
        (
            Flavour::PowerDns,
            Signer::WrongSecret,
            &["PowerDNS does so for a key it does not know"],
        ),
        (Flavour::PowerDns, Signer::None, &["TSIG-ALLOW-DNSUPDATE"]),
    ];
    let mut servers: Vec<(Flavour, TestServer)> = Vec::new();
    for (flavour, signer, words) in cases {
        if !servers.iter().any(|(f, _)| *f == flavour) {
            servers.push((flavour, TestServer::start(flavour)));
        }
        let server = &servers
            .iter()
            .find(|(f, _)| *f == flavour)
            .expect("started")
            .1;
        let before = server.state();
        let setup = Setup::for_domains(&["secure.example"], signer, "");
        let run = step(flavour, server, &setup, &["publish"], 2);
        for word in words {
            assert!(
                run.stdout.contains(word),
                "{flavour}, {signer:?}: {word:?}\n{run}"
            );
        }
        assert_same(flavour, "a refused publish", &before, &server.state());
    }
}

/// Servers that hide their version are recognised by how they answer:
/// PowerDNS rejects a read signed with an unknown key without TSIG, Knot
/// refuses an unsigned update with NOTAUTH; their words follow.
#[test]
fn servers_that_hide_their_version_are_recognised_by_behaviour() {
    let knot = TestServer::Knot(common::knot::Knot::start_with(|conf| {
        conf.version = Some(String::new());
    }));
    let pdns = TestServer::PowerDns(common::pdns::Pdns::start_with(|conf| {
        conf.version_string = Some("none of your business".into());
    }));
    for (flavour, server, software) in [
        (Flavour::Knot, &knot, "knot"),
        (Flavour::PowerDns, &pdns, "powerdns"),
    ] {
        let version =
            common::servers::chaos_txt(server.addr(), "version.bind", Duration::from_secs(2))
                .unwrap_or_default();
        assert!(
            !version.contains("Knot") && !version.contains("PowerDNS"),
            "{flavour}: {version:?}"
        );
        let run = kmsdns(
            server,
            &Setup::new(Signer::Other, ""),
            &["--format", "json", "updates", "--live"],
        );
        let doc: Value = run.json();
        let verdict = live(&doc, "secure.example.");
        assert_eq!(verdict["software"], software, "{flavour}: {run}");
        assert!(
            verdict["recognised_by"]
                .as_str()
                .unwrap_or("")
                .starts_with("behaviour"),
            "{flavour}: {run}"
        );
        assert_no_bind_words(flavour, &run);
    }
}
