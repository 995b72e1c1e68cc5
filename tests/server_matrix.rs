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
//!
//! Every assertion about what a server serves is made with `dig +norec`.

use crate::common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use common::bind::key_file;
use common::run::{Kmsdns, Run};
use common::servers::{Flavour, ServerState, TestServer, GRANTED_KEY, OTHER_KEY};
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
        let dir = tempfile::tempdir().expect("temp dir");
        let key = match signer {
            Signer::Granted => "key = \"granted\"\n",
            Signer::Other => "key = \"other\"\n",
            Signer::Unknown => "key = \"unknown\"\n",
            Signer::WrongSecret => "key = \"wrong\"\n",
            Signer::None => "",
        };
        let mut text = format!(
            "{key}publish-list = [\"secure.example\", \"refused.secure.example\"]\n\
             [[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n"
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
