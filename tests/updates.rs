//! `kmsdns updates` against the real BIND test bed and the named.conf
//! fixtures: the static audit names each grant with its file and line, the
//! live probe tells "anyone may update" from "keyed only" from "our key is
//! refused" — and leaves every zone exactly as it was, serial included, on
//! the primary and on both secondaries.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use common::bind::{key_file, nsupdate, try_nsupdate, Server, TestBed, ZONES};
use common::run::{Kmsdns, Run};
use hickory_proto::rr::{Name, RecordType};
use kmsdns::commands::updates::observe::{answer_of, send_probe, sentinel, ProbeAnswer};
use kmsdns::config::key::{load_key_file, TsigKey};
use kmsdns::dns::DnsOptions;
use serde_json::Value;

/// Long enough for a NOTIFY and a transfer on the test bed (50–100 ms), so
/// a serial bump by the probe would be seen on the secondaries.
const SETTLE: Duration = Duration::from_millis(600);

/// Runs kmsdns in an empty directory (no ./kmsdns.toml is found by
/// accident) with `args`, pointed at the test bed when there is one.
fn kmsdns(bed: Option<&TestBed>, args: &[&str]) -> Run {
    let cwd = tempfile::tempdir().expect("temp dir");
    let mut kmsdns = Kmsdns::new().cwd(cwd.path());
    if let Some(bed) = bed {
        kmsdns = kmsdns.bed(bed);
    }
    kmsdns.args(args).run()
}

/// A configuration file: `publish-list` and optional default key, one host,
/// the three test keys, and `extra` TOML at the end.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(domains: &[&str], key: Option<&str>, extra: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
        let key = key.map_or(String::new(), |k| format!("key = \"{k}\"\n"));
        let text = format!(
            "{key}publish-list = [{}]\n[[host]]\nname = \"kms1.secure.example\"\n\
             [tsig-key.secure]\nfile = \"{}\"\n[tsig-key.wrong]\nfile = \"{}\"\n\
             [tsig-key.unknown]\nfile = \"{}\"\n{extra}",
            list.join(", "),
            key_file("kmsdns-secure").display(),
            key_file("wrong-secret").display(),
            key_file("unknown").display()
        );
        fs::write(dir.path().join("kmsdns.toml"), text).expect("write config");
        Setup { dir }
    }

    fn path(&self) -> String {
        self.dir
            .path()
            .join("kmsdns.toml")
            .to_str()
            .expect("UTF-8 path")
            .to_string()
    }
}

/// The test bed primary's own named.conf.
fn primary_conf(bed: &TestBed) -> PathBuf {
    bed.dir().join(Server::PRIMARY.name()).join("named.conf")
}

fn fixture(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/named_conf")
        .join(relative)
        .to_str()
        .expect("UTF-8 path")
        .to_string()
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> usize {
    let text = fs::read_to_string(file).expect("read named.conf");
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {}", file.display()))
}

/// Every finding of the JSON report as (id, severity, domain).
fn findings(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
                f["domain"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn finding<'a>(doc: &'a Value, id: &str, domain: &str) -> &'a Value {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == id && f["domain"] == domain)
        .unwrap_or_else(|| panic!("no {id} finding for {domain}:\n{doc:#}"))
}

fn zone<'a>(doc: &'a Value, zone: &str) -> &'a Value {
    doc["details"]["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .find(|z| z["zone"] == zone)
        .unwrap_or_else(|| panic!("no zone {zone} in the details:\n{doc:#}"))
}

/// The live verdict of `domain` in the details.
fn live<'a>(doc: &'a Value, domain: &str) -> &'a Value {
    doc["details"]["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .flat_map(|z| z["live"].as_array().into_iter().flatten())
        .find(|l| l["domain"] == domain)
        .unwrap_or_else(|| panic!("no live verdict for {domain}:\n{doc:#}"))
}

//------------ the zone is left as it was ------------------------------------

/// Everything a probe must not change: per server and zone, the serial;
/// per server and name, the SRV set and its TTLs.
#[derive(Debug, PartialEq, Eq)]
struct State {
    serials: Vec<(Server, &'static str, u32)>,
    rrsets: Vec<(Server, String, BTreeSet<String>, BTreeSet<u32>)>,
    /// Size of the primary's journal of each zone (0: none yet).
    journals: Vec<(&'static str, u64)>,
}

const NAMES: [&str; 5] = [
    "_vlmcs._tcp.secure.example.",
    "_vlmcs._tcp.branch.secure.example.",
    "_vlmcs._tcp.open.example.",
    "_vlmcs._tcp.static.example.",
    "_vlmcs._tcp.broken.example.",
];

fn state(bed: &TestBed) -> State {
    let mut serials = Vec::new();
    let mut rrsets = Vec::new();
    for server in Server::ALL {
        for zone in ZONES {
            serials.push((server, zone, bed.soa_serial(server, zone)));
        }
        for name in NAMES {
            let ttls = bed
                .query(server, name, RecordType::SRV)
                .answers()
                .iter()
                .filter(|r| r.record_type() == RecordType::SRV)
                .map(|r| r.ttl())
                .collect();
            rrsets.push((server, name.to_string(), bed.srv_set(server, name), ttls));
        }
    }
    let journals = ZONES
        .iter()
        .map(|zone| {
            let journal = bed
                .dir()
                .join(Server::PRIMARY.name())
                .join(format!("{zone}.zone.jnl"));
            (*zone, fs::metadata(journal).map_or(0, |m| m.len()))
        })
        .collect();
    State {
        serials,
        rrsets,
        journals,
    }
}

/// Panics with the entries that differ, expected and got, unless
/// `bed` is in the state `before`.
fn assert_unchanged(bed: &TestBed, before: &State) {
    thread::sleep(SETTLE);
    let after = state(bed);
    let mut diffs = Vec::new();
    for (want, got) in before.serials.iter().zip(&after.serials) {
        if want != got {
            diffs.push(format!(
                "serial {} {}: expected {}, got {}",
                want.0, want.1, want.2, got.2
            ));
        }
    }
    for (want, got) in before.rrsets.iter().zip(&after.rrsets) {
        if want != got {
            diffs.push(format!(
                "{} {}: expected {:?} TTL {:?}, got {:?} TTL {:?}",
                want.0, want.1, want.2, want.3, got.2, got.3
            ));
        }
    }
    for (want, got) in before.journals.iter().zip(&after.journals) {
        if want != got {
            diffs.push(format!(
                "journal of {}: expected {} bytes, got {}",
                want.0, want.1, got.1
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "the probe changed a zone:\n{}",
        diffs.join("\n")
    );
}

/// Waits until both secondaries serve the primary's serial of every zone.
fn converged(bed: &TestBed) {
    for zone in ZONES {
        let serial = bed.soa_serial(Server::PRIMARY, zone);
        for secondary in Server::SECONDARIES {
            bed.wait_serial(secondary, zone, serial, Duration::from_secs(10));
        }
    }
}

/// The four-domain configuration with the granted key, plus `extra`.
fn all_domains(extra: &str) -> Setup {
    Setup::new(
        &[
            "secure.example",
            "branch.secure.example",
            "open.example",
            "static.example",
            "broken.example",
        ],
        Some("secure"),
        extra,
    )
}

#[test]
fn live_probes_leave_every_zone_as_it_was() {
    let bed = TestBed::start();
    let setup = all_domains("");

    // Empty RRsets (secure, branch, open) and filled ones (static, broken).
    let before = state(&bed);
    let run = kmsdns(
        Some(&bed),
        &["-c", &setup.path(), "--format", "json", "updates", "--live"],
    );
    assert_eq!(run.status, 2, "open.example is critical:\n{run}");
    assert_unchanged(&bed, &before);

    // RRsets with TTLs other than the default: the sentinel must carry them.
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &format!(
            "server {} {}\nzone secure.example\n\
             update add _vlmcs._tcp.secure.example. 1200 IN SRV 0 0 1688 kms1.secure.example.\n\
             update add _vlmcs._tcp.secure.example. 1200 IN SRV 5 5 1688 other-kms.example.\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add _vlmcs._tcp.open.example. 600 IN SRV 0 0 1688 kms2.secure.example.\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    converged(&bed);
    let before = state(&bed);
    for concurrency in ["1", "8"] {
        let run = kmsdns(
            Some(&bed),
            &[
                "-c",
                &setup.path(),
                "--concurrency",
                concurrency,
                "--format",
                "json",
                "updates",
            ],
        );
        assert_eq!(run.status, 2, "{run}");
        let doc: Value = run.json();
        assert_eq!(live(&doc, "secure.example.")["ttl"], 1200, "{doc:#}");
        assert_eq!(live(&doc, "secure.example.")["records"], 2);
        assert_eq!(live(&doc, "open.example.")["ttl"], 600);
        assert_eq!(live(&doc, "open.example.")["unsigned"], "accepted");
        assert_unchanged(&bed, &before);
    }
}

/// The BIND 9.18 behaviour the probe's design rests on (permission module
/// docs), pinned with the real nsupdate: `update-policy` is checked before
/// the prerequisites, for an added SRV record, but not for the delete of
/// one that does not exist.
#[test]
fn bind_facts_behind_the_probe() {
    let bed = TestBed::start();
    let secure = |body: &str| {
        format!(
            "server {} {}\nzone secure.example\n{body}\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        )
    };
    let owner = "_vlmcs._tcp.secure.example.";
    let branch = "_vlmcs._tcp.static.secure.example.";
    let sentinel = "65535 0 0 kmsdns-probe-0000000000000001.invalid.";
    let granted = key_file("kmsdns-secure");
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");
    let cannot_hold = |name: &str| {
        format!("prereq yxrrset {name} SRV {sentinel}\nupdate add {name} 3600 IN SRV {sentinel}")
    };

    // The granted key at its name: past update-policy, stopped by the
    // prerequisite.
    let granted_probe = try_nsupdate(Some(&granted), &secure(&cannot_hold(owner)));
    assert!(
        granted_probe
            .as_ref()
            .is_err_and(|out| out.contains("NXRRSET")),
        "{granted_probe:?}"
    );
    // Unsigned, or the key at a name it is not granted: REFUSED, although
    // the prerequisite would fail too.
    for (key, name) in [(None, owner), (Some(&granted), branch)] {
        let refused = try_nsupdate(key.map(PathBuf::as_path), &secure(&cannot_hold(name)));
        assert!(
            refused.as_ref().is_err_and(|out| out.contains("REFUSED")),
            "{key:?} {name}: {refused:?}"
        );
    }
    // The delete of an SRV record that does not exist is not held against
    // update-policy: a key not granted the name gets NOERROR. (This is why
    // the probe adds.)
    nsupdate(
        Some(&granted),
        &secure(&format!("update delete {branch} SRV {sentinel}")),
    );
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "secure.example"),
        serial,
        "nothing applied"
    );
}

/// The probe's answers from BIND, through kmsdns's own sender: refused
/// where the sender is not granted, stopped at the prerequisite where it
/// is — and the zone left as it was.
#[test]
#[allow(clippy::result_large_err)] // UpdateError, as kmsdns::dns returns it
fn the_probe_stops_at_the_permission_check_or_at_its_prerequisite() {
    let bed = TestBed::start();
    converged(&bed);
    let before = state(&bed);
    let opts = DnsOptions {
        timeout: Duration::from_secs(2),
        attempts: 1,
        dns_port: bed.port(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let name = |text: &str| Name::from_ascii(text).expect("name");
    let key = load_key_file(&key_file("kmsdns-secure"), None).expect("key");
    let probe = |zone: &str, owner: &str, key: Option<&TsigKey>| {
        let sentinel = sentinel(common::local::random_u64()).expect("sentinel");
        let outcome = runtime.block_on(send_probe(
            bed.primary(),
            &name(zone),
            &name(owner),
            &sentinel,
            3600,
            key,
            &opts,
        ));
        answer_of(&outcome, key.is_some())
    };

    assert_eq!(
        probe("open.example.", "_vlmcs._tcp.open.example.", None),
        ProbeAnswer::Accepted
    );
    assert_eq!(
        probe("secure.example.", "_vlmcs._tcp.secure.example.", None),
        ProbeAnswer::Refused { notauth: false }
    );
    assert_eq!(
        probe("secure.example.", "_vlmcs._tcp.secure.example.", Some(&key)),
        ProbeAnswer::Accepted
    );
    assert_eq!(
        probe(
            "secure.example.",
            "_vlmcs._tcp.static.secure.example.",
            Some(&key)
        ),
        ProbeAnswer::Refused { notauth: false }
    );
    assert_eq!(
        probe("static.example.", "_vlmcs._tcp.static.example.", Some(&key)),
        ProbeAnswer::Refused { notauth: false }
    );
    assert_unchanged(&bed, &before);
}

//------------ static and live verdicts per zone type ------------------------

#[test]
fn open_zone_is_critical_statically_and_live() {
    let bed = TestBed::start();
    let conf = primary_conf(&bed);
    let before = state(&bed);
    let run = kmsdns(
        Some(&bed),
        &[
            "--format",
            "json",
            "updates",
            "--named-conf",
            conf.to_str().expect("UTF-8"),
            "--live",
            "--domain",
            "open.example",
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    assert_eq!(doc["status"], "critical");
    assert_eq!(
        findings(&doc),
        [
            (
                "unsigned-updates-accepted".into(),
                "critical".into(),
                "open.example.".into()
            ),
            (
                "unsigned-updates-accepted".into(),
                "critical".into(),
                "open.example.".into()
            ),
        ]
    );
    // The static finding names the line of `allow-update { any; }`.
    let line = line_of(&conf, "allow-update { any; }");
    let message = doc["findings"][0]["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!("{}:{line}:", conf.display())),
        "{message}"
    );
    let open = zone(&doc, "open.example.");
    assert_eq!(open["static"][0]["verdict"], "unsigned-updates-accepted");
    assert_eq!(open["live"][0]["unsigned"], "accepted");
    assert_eq!(open["live"][0]["primary"], bed.primary().to_string());
    assert!(
        open["live"][0].get("signed").is_none(),
        "no key, no signed probe"
    );
    assert_eq!(doc["details"]["files"].as_array().map(Vec::len), Some(2));
    assert_unchanged(&bed, &before);

    // The same in text: the details per zone, then the findings.
    let text = kmsdns(
        Some(&bed),
        &[
            "updates",
            "--named-conf",
            conf.to_str().expect("UTF-8"),
            "--live",
            "--domain",
            "open.example",
        ],
    );
    assert_eq!(text.status, 2, "{text}");
    assert!(
        text.stdout.contains("zone open.example. (open.example.)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("live    critical unsigned-updates-accepted"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("unsigned accepted"), "{}", text.stdout);
    assert!(
        text.stdout
            .ends_with("CRITICAL 0 ok, 0 info, 0 warning, 2 critical\n"),
        "{}",
        text.stdout
    );
}

#[test]
fn secure_zone_with_the_granted_key_is_ok_statically_and_live() {
    let bed = TestBed::start();
    let conf = primary_conf(&bed);
    let setup = Setup::new(
        &["secure.example", "branch.secure.example"],
        Some("secure"),
        "",
    );
    let before = state(&bed);
    let run = kmsdns(
        Some(&bed),
        &[
            "-c",
            &setup.path(),
            "--format",
            "json",
            "updates",
            "--named-conf",
            conf.to_str().expect("UTF-8"),
            "--live",
        ],
    );
    assert_eq!(run.status, 0, "{run}");
    let doc: Value = run.json();
    let mut got = findings(&doc);
    got.sort();
    let expected: Vec<(String, String, String)> = [
        ("keyed-only", "branch.secure.example."),
        ("keyed-only", "secure.example."),
        ("narrow-grant", "branch.secure.example."),
        ("narrow-grant", "secure.example."),
    ]
    .iter()
    .map(|(id, domain)| (id.to_string(), "ok".to_string(), domain.to_string()))
    .collect();
    assert_eq!(got, expected, "{doc:#}");
    // One zone holds both names.
    let secure = zone(&doc, "secure.example.");
    assert_eq!(
        secure["domains"],
        serde_json::json!(["secure.example.", "branch.secure.example."])
    );
    assert_eq!(secure["static"][0]["verdict"], "narrow-grant");
    for domain in ["secure.example.", "branch.secure.example."] {
        let verdict = live(&doc, domain);
        assert_eq!(verdict["unsigned"], "refused");
        assert_eq!(verdict["signed"], "accepted");
        assert_eq!(verdict["key"], "kmsdns-secure");
        assert_eq!(verdict["verdict"], "keyed-only");
    }
    let narrow = finding(&doc, "narrow-grant", "secure.example.");
    let line = line_of(&conf, "name _vlmcs._tcp.secure.example. SRV");
    assert!(
        narrow["message"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("{}:{line}:", conf.display())),
        "{narrow}"
    );
    assert_unchanged(&bed, &before);
}

#[test]
fn static_zone_refuses_our_key() {
    let bed = TestBed::start();
    let conf = primary_conf(&bed);
    let setup = Setup::new(&["static.example"], Some("secure"), "");
    let before = state(&bed);
    let run = kmsdns(
        Some(&bed),
        &[
            "-c",
            &setup.path(),
            "--format",
            "json",
            "updates",
            "--live",
            "--named-conf",
            conf.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [
            (
                "no-grant".into(),
                "warning".into(),
                "static.example.".into()
            ),
            (
                "key-refused".into(),
                "critical".into(),
                "static.example.".into()
            ),
        ]
    );
    let refused = finding(&doc, "key-refused", "static.example.");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("publish will fail"),
        "{refused}"
    );
    assert_eq!(refused["server"], bed.primary().to_string());
    let verdict = live(&doc, "static.example.");
    assert_eq!(verdict["unsigned"], "refused");
    assert_eq!(verdict["signed"], "refused");
    assert_eq!(verdict["records"], 2);
    assert_eq!(verdict["ttl"], 3600);
    assert_unchanged(&bed, &before);
}

#[test]
fn a_wrong_secret_or_unknown_key_is_named() {
    let bed = TestBed::start();
    let setup = Setup::new(
        &["secure.example", "branch.secure.example"],
        Some("wrong"),
        "[domain.\"branch.secure.example\"]\nkey = \"unknown\"\n",
    );
    let before = state(&bed);
    let run = kmsdns(
        Some(&bed),
        &["-c", &setup.path(), "--format", "json", "updates"],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    let badsig = finding(&doc, "key-refused", "secure.example.");
    let message = badsig["message"].as_str().unwrap_or("");
    assert!(message.contains("BADSIG"), "{message}");
    assert!(message.contains("publish will fail"), "{message}");
    assert!(
        badsig["hint"].as_str().unwrap_or("").contains("secret"),
        "{badsig}"
    );
    let badkey = finding(&doc, "key-refused", "branch.secure.example.");
    assert!(
        badkey["message"].as_str().unwrap_or("").contains("BADKEY"),
        "{badkey}"
    );
    assert_eq!(live(&doc, "secure.example.")["signed"], "key-rejected");
    // The secret itself is never shown.
    let secret = fs::read_to_string(key_file("wrong-secret")).expect("key file");
    let secret = secret
        .lines()
        .find_map(|l| l.trim().strip_prefix("secret \""))
        .and_then(|s| s.split('"').next())
        .expect("a secret line");
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    assert_unchanged(&bed, &before);
}

/// The key as its file spells it: a name in capitals is signed in its
/// canonical lower-case form (RFC 8945 §4.3.3), which BIND accepts; and a
/// key in hmac-md5, hmac-sha1 or hmac-sha224, which `publish` signs with, is
/// probed with too, and accepted where it is granted.
#[test]
fn key_name_case_and_legacy_algorithms() {
    use std::os::unix::fs::PermissionsExt;
    let keys = tempfile::tempdir().expect("temp dir");
    let write = |file: &str, text: String| {
        let path = keys.path().join(file);
        fs::write(&path, text).expect("write key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    };
    let text = fs::read_to_string(key_file("kmsdns-secure")).expect("key file");
    let capitals = write(
        "capitals.key",
        text.replace("key \"kmsdns-secure\"", "key \"KMSDNS-Secure\""),
    );
    // Keys of their own, granted on the primary like kmsdns-secure.
    let legacy: Vec<(String, PathBuf)> = ["hmac-md5", "hmac-sha1", "hmac-sha224"]
        .iter()
        .map(|algorithm| {
            let name = format!("kmsdns-{algorithm}");
            let path = write(
                &format!("{name}.key"),
                format!(
                    "key \"{name}\" {{\n\talgorithm {algorithm};\n\tsecret \"MDEyMzQ1Njc4OWFiY2RlZg==\";\n}};\n"
                ),
            );
            (name, path)
        })
        .collect();
    let bed = legacy
        .iter()
        .fold(TestBed::builder(), |bed, (name, path)| {
            bed.tsig_key(name, path)
        })
        .start();
    let before = state(&bed);
    for (name, path) in &legacy {
        let setup = Setup::new(
            &["secure.example", "branch.secure.example"],
            Some("capitals"),
            &format!(
                "[tsig-key.capitals]\nfile = \"{}\"\n[tsig-key.legacy]\nfile = \"{}\"\n\
                 [domain.\"branch.secure.example\"]\nkey = \"legacy\"\n",
                capitals.display(),
                path.display()
            ),
        );
        let run = kmsdns(
            Some(&bed),
            &["-c", &setup.path(), "--format", "json", "updates"],
        );
        assert_eq!(run.status, 0, "{name}: {run}");
        let doc: Value = run.json();
        assert_eq!(
            findings(&doc),
            [
                ("keyed-only".into(), "ok".into(), "secure.example.".into()),
                (
                    "keyed-only".into(),
                    "ok".into(),
                    "branch.secure.example.".into()
                ),
            ],
            "{name}"
        );
        assert_eq!(live(&doc, "secure.example.")["signed"], "accepted");
        let branch = live(&doc, "branch.secure.example.");
        assert_eq!(branch["unsigned"], "refused", "{name}");
        assert_eq!(branch["signed"], "accepted", "{name}");
        assert_eq!(branch["key"], name.as_str(), "{name}");
        assert_unchanged(&bed, &before);
    }
}

#[test]
fn without_a_key_a_keyed_zone_cannot_be_published() {
    let bed = TestBed::start();
    // From the configuration: publish is expected to work, so a warning.
    let setup = Setup::new(&["secure.example"], None, "");
    let run = kmsdns(
        Some(&bed),
        &["-c", &setup.path(), "--format", "json", "updates"],
    );
    assert_eq!(run.status, 1, "{run}");
    assert_eq!(
        findings(&run.json()),
        [("no-key".into(), "warning".into(), "secure.example.".into())]
    );
    // A --domain without configuration: only worth knowing.
    let run = kmsdns(
        Some(&bed),
        &["--format", "json", "updates", "--domain", "secure.example"],
    );
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(
        findings(&run.json()),
        [("no-key".into(), "info".into(), "secure.example.".into())]
    );
}

#[test]
fn an_unknown_domain_is_a_failed_read_not_a_verdict() {
    let bed = TestBed::start();
    let run = kmsdns(
        Some(&bed),
        &["--format", "json", "updates", "--domain", "nowhere.test"],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [(
            "dns-read-failed".into(),
            "critical".into(),
            "nowhere.test.".into()
        )]
    );
    assert!(doc["details"]["zones"][0]["zone"].is_null(), "{doc:#}");
}

#[test]
fn a_silent_primary_is_critical_not_a_verdict() {
    let mut bed = TestBed::start();
    bed.pause(Server::PRIMARY);
    let run = kmsdns(
        Some(&bed),
        &[
            "--timeout",
            "200ms",
            "--format",
            "json",
            "updates",
            "--domain",
            "open.example",
        ],
    );
    bed.resume(Server::PRIMARY);
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [(
            "dns-read-failed".into(),
            "critical".into(),
            "open.example.".into()
        )]
    );
    assert!(live(&doc, "open.example.").get("unsigned").is_none());
}

#[test]
fn a_secondary_named_conf_points_at_the_primary() {
    let bed = TestBed::start();
    let conf = bed.dir().join(Server::Ns2.name()).join("named.conf");
    let run = kmsdns(
        None,
        &[
            "--format",
            "json",
            "updates",
            "--named-conf",
            conf.to_str().expect("UTF-8"),
            "--domain",
            "open.example",
        ],
    );
    assert_eq!(run.status, 0, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [(
            "zone-not-primary".into(),
            "info".into(),
            "open.example.".into()
        )]
    );
    assert_eq!(doc["details"]["live"], false, "static only: nothing sent");
}

//------------ named.conf through the command --------------------------------

/// Static only (no --live): nothing is sent anywhere, no test bed needed.
fn audit(conf: &str, domains: &[&str]) -> Run {
    let mut args = vec!["--format", "json", "updates", "--named-conf", conf];
    for domain in domains {
        args.extend(["--domain", domain]);
    }
    kmsdns(None, &args)
}

#[test]
fn views_includes_acls_and_comments() {
    let conf = fixture("views/named.conf");
    let run = audit(
        &conf,
        &["corp.example", "branch.corp.example", "lab.corp.example"],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    // Every included file was read.
    assert_eq!(doc["details"]["files"].as_array().map(Vec::len), Some(4));

    // lab.corp.example is granted to an ACL of addresses: critical, with the
    // place of the address inside the included acls.conf. The external view
    // shares the zone (in-view), but every address of the ACL matches the
    // internal view first: through the external view nobody may update it.
    let lab: Vec<&Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == "address-only-grant")
        .collect();
    assert_eq!(lab.len(), 1, "{doc:#}");
    let message = lab[0]["message"].as_str().unwrap_or("");
    assert!(message.contains("conf.d/acls.conf:3:"), "{message}");
    assert!(message.contains("via acl lab"), "{message}");
    assert!(message.ends_with("(view \"internal\")"), "{message}");
    assert_eq!(lab[0]["severity"], "critical");
    assert_eq!(lab[0]["domain"], "lab.corp.example.");
    let external = finding(&doc, "no-grant", "lab.corp.example.");
    assert!(external["message"]
        .as_str()
        .unwrap_or("")
        .ends_with("(view \"external\")"));

    // corp.example: the narrow grant is ok, the zonesub grant too wide.
    let narrow = finding(&doc, "narrow-grant", "corp.example.");
    assert!(narrow["message"]
        .as_str()
        .unwrap_or("")
        .contains("named.conf:33:"));
    let wide = finding(&doc, "grant-too-wide", "corp.example.");
    assert!(
        wide["message"]
            .as_str()
            .unwrap_or("")
            .contains("grant view-local zonesub ANY"),
        "{wide}"
    );
    // branch: allow-update { key K; } opens the whole zone.
    let branch = finding(&doc, "grant-too-wide", "branch.corp.example.");
    assert!(branch["message"]
        .as_str()
        .unwrap_or("")
        .contains("kms-publisher"));
    // The external view holds them on a secondary.
    assert!(findings(&doc).contains(&(
        "zone-not-primary".into(),
        "info".into(),
        "corp.example.".into()
    )));
    let corp = zone(&doc, "corp.example.");
    let views: Vec<&str> = corp["static"]
        .as_array()
        .expect("static")
        .iter()
        .filter_map(|s| s["view"].as_str())
        .collect();
    assert_eq!(views, ["internal", "external"]);
}

#[test]
fn debian_defaults_hold_no_kms_zone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = Path::new(&fixture("debian")).to_path_buf();
    for entry in fs::read_dir(&source).expect("debian fixture").flatten() {
        let text = fs::read_to_string(entry.path()).expect("read");
        let text = text.replace(
            "include \"/etc/bind/",
            &format!("include \"{}/", dir.path().display()),
        );
        fs::write(dir.path().join(entry.file_name()), text).expect("write");
    }
    let top = dir.path().join("named.conf");
    let run = audit(top.to_str().expect("UTF-8"), &["corp.example"]);
    assert_eq!(run.status, 1, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [(
            "zone-not-found".into(),
            "warning".into(),
            "corp.example.".into()
        )]
    );
    let message = doc["findings"][0]["message"].as_str().unwrap_or("");
    assert!(message.starts_with(&top.display().to_string()), "{message}");
}

#[test]
fn narrow_undefined_and_both_grants() {
    let run = audit(&fixture("narrow.conf"), &["corp.example", "branch.example"]);
    assert_eq!(run.status, 0, "{run}");
    assert!(findings(&run.json())
        .iter()
        .all(|(id, severity, _)| id == "narrow-grant" && severity == "ok"));

    let run = audit(&fixture("undefined-key.conf"), &["a.example", "b.example"]);
    assert_eq!(run.status, 1, "{run}");
    let doc: Value = run.json();
    let undefined = finding(&doc, "key-undefined", "a.example.");
    assert!(undefined["message"]
        .as_str()
        .unwrap_or("")
        .contains("missing-key"));
    assert_eq!(undefined["severity"], "warning");
    assert!(finding(&doc, "key-undefined", "b.example.")["message"]
        .as_str()
        .unwrap_or("")
        .contains("missing-policy-key"));

    let run = audit(&fixture("rejected/both.conf"), &["corp.example"]);
    let doc: Value = run.json();
    let both = finding(&doc, "allow-update-ignored", "corp.example.");
    assert_eq!(both["severity"], "warning");
    assert!(both["message"]
        .as_str()
        .unwrap_or("")
        .contains("both.conf:"));

    let run = audit(&fixture("rejected/undefined-acl.conf"), &["corp.example"]);
    assert!(
        findings(&run.json())
            .iter()
            .any(|(id, _, _)| id == "acl-undefined"),
        "{run}"
    );
    // a → b → a: named will not load this, so no grant is judged.
    let run = audit(&fixture("rejected/acl-loop.conf"), &["loop.example"]);
    assert_eq!(run.status, 1, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [("acl-loop".into(), "warning".into(), "loop.example.".into())]
    );
    let message = doc["findings"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("acl-loop.conf:3:")
            && message.contains("named will not load this: acl loop detected: a → b → a"),
        "{message}"
    );
}

/// GSS-TSIG (Kerberos) grants, each zone's verdict through the command;
/// BIND accepts the fixture (named-checkconf does not open the keytab).
#[test]
fn gss_tsig_grants() {
    let conf = fixture("gss.conf");
    let check = std::process::Command::new("named-checkconf")
        .arg(&conf)
        .output()
        .expect("named-checkconf (apt-get install bind9)");
    assert!(
        check.status.success(),
        "named-checkconf refuses {conf}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let only = |domain: &str, status: i32| {
        let run = audit(&conf, &[domain]);
        assert_eq!(run.status, status, "{run}");
        let doc: Value = run.json();
        let found = findings(&doc);
        assert_eq!(found.len(), 1, "{doc:#}");
        let message = doc["findings"][0]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        (found[0].0.clone(), found[0].1.clone(), message)
    };

    // A principal's name grant on exactly the SRV name: narrow, and the
    // principal is not taken for an undefined TSIG key.
    let (id, severity, message) = only("principal.example", 0);
    assert_eq!((id.as_str(), severity.as_str()), ("narrow-grant", "ok"));
    assert!(
        message.contains("host/kms1.principal.example@CORP.EXAMPLE"),
        "{message}"
    );

    // krb5-subdomain on the SRV name (kmsdns bind without a principal):
    // every principal of the realm may write it, so wider than needed.
    let (id, severity, message) = only("realm.example", 1);
    assert_eq!(
        (id.as_str(), severity.as_str()),
        ("grant-too-wide", "warning")
    );
    assert!(
        message.contains("at or below _vlmcs._tcp.realm.example. for any machine of the realm"),
        "{message}"
    );

    // krb5-subdomain / ms-subdomain over the zone: wider still.
    let (id, _, message) = only("krb5-zone.example", 1);
    assert_eq!(id, "grant-too-wide");
    assert!(
        message.contains("at or below krb5-zone.example. for any machine of the realm, SRV only"),
        "{message}"
    );
    let (id, _, message) = only("ms-zone.example", 1);
    assert_eq!(id, "grant-too-wide");
    assert!(
        message.contains("gss.conf:42:3: 'grant CORP.EXAMPLE ms-subdomain . ANY'"),
        "{message}"
    );
    assert!(message.contains("all record types"), "{message}");

    // krb5-self / ms-self reach a machine's own name only: nothing grants
    // the SRV name, and publish will be refused.
    let (id, severity, message) = only("self.example", 1);
    assert_eq!((id.as_str(), severity.as_str()), ("no-grant", "warning"));
    assert!(message.contains("publish will be refused"), "{message}");
}

#[test]
fn malformed_named_conf_is_an_error_with_file_and_line() {
    let conf = fixture("malformed/missing-semicolon.conf");
    let run = kmsdns(
        None,
        &["updates", "--named-conf", &conf, "--domain", "corp.example"],
    );
    assert_eq!(run.status, 3, "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        run.stderr.contains(&format!("{conf}:4:")),
        "file and line:\n{}",
        run.stderr
    );

    // In JSON the error is JSON too.
    let run = kmsdns(
        None,
        &[
            "--format",
            "json",
            "updates",
            "--named-conf",
            &conf,
            "--domain",
            "corp.example",
        ],
    );
    assert_eq!(run.status, 3, "{run}");
    let doc: Value = run.json();
    assert_eq!(doc["status"], "unknown");
    assert_eq!(doc["command"], "updates");
    assert!(
        doc["error"].as_str().unwrap_or("").contains(":4:"),
        "{doc:#}"
    );

    // A missing include names the include statement.
    let run = kmsdns(
        None,
        &[
            "updates",
            "--named-conf",
            &fixture("malformed/missing-include.conf"),
            "--domain",
            "corp.example",
        ],
    );
    assert_eq!(run.status, 3, "{run}");
    assert!(
        run.stderr.contains("missing-include.conf:"),
        "{}",
        run.stderr
    );

    let run = kmsdns(
        None,
        &[
            "updates",
            "--named-conf",
            "/nonexistent/named.conf",
            "--domain",
            "corp.example",
        ],
    );
    assert_eq!(run.status, 3, "{run}");
    assert!(
        run.stderr.contains("/nonexistent/named.conf"),
        "{}",
        run.stderr
    );
}

#[test]
fn named_conf_alone_audits_every_zone() {
    // Issue 18: without --domain or a configuration, every primary zone of
    // the file is audited (it used to exit 3, "no domains to audit").
    let run = kmsdns(
        None,
        &[
            "--format",
            "json",
            "updates",
            "--named-conf",
            &fixture("open.conf"),
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    assert_eq!(
        findings(&doc),
        [
            (
                "unsigned-updates-accepted".into(),
                "critical".into(),
                "corp.example.".into()
            ),
            (
                "unsigned-updates-accepted".into(),
                "critical".into(),
                "inherit.example.".into()
            ),
        ]
    );
    assert_eq!(
        zone(&doc, "corp.example.")["static"][0]["who"][0]["verdict"],
        "anyone"
    );
    assert_eq!(doc["details"]["live"], false, "static only: nothing sent");

    // Without --named-conf there is still nothing to audit.
    let run = kmsdns(None, &["updates"]);
    assert_eq!(run.status, 3, "{run}");
    assert!(run.stderr.contains("--domain"), "{}", run.stderr);
    let run = kmsdns(
        None,
        &[
            "updates",
            "--named-conf",
            &fixture("open.conf"),
            "--domain",
            "not a domain!",
        ],
    );
    assert_eq!(run.status, 3, "{run}");
}

//------------ a server that ignores prerequisites ---------------------------

/// The safety net: a server that applied the probe although its
/// prerequisite cannot hold (here BIND behind a relay that strips the
/// prerequisite) is caught by the read-back: a critical finding says what
/// changed, kmsdns deletes the sentinel again, and only the serial is left
/// moved (twice: the add and the delete).
#[test]
fn a_server_that_ignores_the_prerequisite_is_caught_and_cleaned_up() {
    use common::relay::{Fault, Relay, Rule};
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    relay.push(Rule::new(Fault::IgnorePrerequisites).updates().times(1));
    let setup = Setup::new(
        &["open.example"],
        None,
        &format!("[domain.\"open.example\"]\nserver = \"{}\"\n", relay.addr()),
    );
    let owner = "_vlmcs._tcp.open.example.";
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    let run = kmsdns(
        Some(&bed),
        &["-c", &setup.path(), "--format", "json", "updates", "--live"],
    );
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(run.status, 2, "{case}");
    let doc: Value = run.json();
    let changed = finding(&doc, "probe-changed-zone", "open.example.");
    let message = changed["message"].as_str().expect("message");
    assert!(message.contains("kmsdns-probe-"), "{case}");
    assert!(message.contains("added"), "{case}");
    assert!(message.contains("deleted the sentinel"), "{case}");
    assert!(
        message.contains("applied an update whose prerequisite cannot hold"),
        "{case}"
    );
    assert_eq!(live(&doc, "open.example.")["unsigned"], "applied", "{case}");
    // The records are as before; the serial moved.
    assert!(bed.srv_set(Server::PRIMARY, owner).is_empty(), "{case}");
    assert_ne!(bed.soa_serial(Server::PRIMARY, "open.example"), serial);
}

/// Issue 16: BIND answers an UPDATE without records NOERROR for any valid
/// key (it checks update-policy per record), so the zone-only probe meant
/// for Active Directory would hide a key that may change nothing. A BIND
/// zone named like an AD one (it serves the DCs' locator record) still gets
/// the sentinel probe, and the key without a grant is `key-refused`.
#[test]
fn a_bind_zone_named_like_active_directory_still_meets_the_grant() {
    let bed = TestBed::builder()
        .ad_locator("secure.example")
        .version_like_bind()
        .start();
    // No grant for _vlmcs._tcp.other.secure.example., to any key.
    let setup = Setup::new(&["other.secure.example"], Some("secure"), "");
    let before = state(&bed);
    let run = kmsdns(
        Some(&bed),
        &["-c", &setup.path(), "--format", "json", "updates", "--live"],
    );
    let doc: Value = run.json();
    assert!(
        findings(&doc).contains(&(
            "key-refused".into(),
            "critical".into(),
            "other.secure.example.".into()
        )),
        "{run}"
    );
    let verdict = live(&doc, "other.secure.example.");
    assert_eq!(verdict["signed"], "refused", "{run}");
    assert_eq!(run.status, 2, "{run}");
    assert_unchanged(&bed, &before);
}

/// A fact of a zone (open.example takes unsigned updates) found in
/// named.conf belongs to each configured domain in it, never to the zone
/// apex when the apex is not configured.
#[test]
fn zone_facts_of_the_static_audit_belong_to_the_configured_domains() {
    let bed = TestBed::start();
    let conf = primary_conf(&bed);
    let setup = Setup::new(&["emea.open.example", "lab.open.example"], None, "");
    let run = kmsdns(
        Some(&bed),
        &[
            "-c",
            &setup.path(),
            "--format",
            "json",
            "updates",
            "--named-conf",
            conf.to_str().expect("UTF-8"),
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc: Value = run.json();
    let got = findings(&doc);
    assert!(
        got.iter().all(|(_, _, domain)| domain != "open.example."),
        "{doc:#}"
    );
    for domain in ["emea.open.example.", "lab.open.example."] {
        let unsigned = finding(&doc, "unsigned-updates-accepted", domain);
        assert!(
            unsigned["message"]
                .as_str()
                .unwrap_or_default()
                .starts_with("zone open.example.: "),
            "{unsigned}"
        );
    }
}

/// Issue 20: a zone's statement is read again from named.conf when its
/// domains are audited, not kept. A named.conf changed in between (in
/// place and to the same length: only the statement's bytes tell) fails
/// the run naming the file, and no zone gets a verdict. Windows
/// of one domain make the order certain: window 1 audits open.example
/// statically, then probes it live through the relay, which holds the
/// probe's first message while the test rewrites secure.example's grant;
/// window 2 then reads secure.example's statement again.
#[test]
fn a_named_conf_changed_while_kmsdns_reads_it_fails_the_run() {
    use common::relay::{Fault, Kind, Relay, Rule};
    use std::time::Instant;
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    relay.push(Rule::new(Fault::Gate));
    let setup = Setup::new(
        &["open.example", "secure.example"],
        None,
        &format!("[domain.\"open.example\"]\nserver = \"{}\"\n", relay.addr()),
    );
    let conf = setup.dir.path().join("named.conf");
    let first = "zone \"open.example\" { type primary; file \"open.zone\"; allow-update { any; }; };\n\
                 zone \"secure.example\" { type primary; file \"secure.zone\"; allow-update { any; }; };\n";
    let then = first.replace(
        "\"secure.zone\"; allow-update { any; }",
        "\"secure.zone\"; allow-update {none; }",
    );
    assert!(then != first && then.len() == first.len());
    fs::write(&conf, first).expect("write named.conf");
    let cwd = tempfile::tempdir().expect("temp dir");
    let command = Kmsdns::new().cwd(cwd.path()).bed(&bed).args([
        "-c",
        &setup.path(),
        "--format",
        "json",
        "updates",
        "--named-conf",
        conf.to_str().expect("UTF-8"),
        "--live",
        "--window",
        "1",
    ]);
    let running = thread::spawn(move || command.run());
    let deadline = Instant::now() + Duration::from_secs(30);
    while relay.received(Kind::Query) + relay.received(Kind::Update) == 0 {
        assert!(
            !running.is_finished() && Instant::now() < deadline,
            "the live probe of open.example never reached the relay\n{}",
            relay.log()
        );
        thread::sleep(Duration::from_millis(10));
    }
    fs::write(&conf, &then).expect("rewrite named.conf");
    relay.open_gate();
    let run = running.join().expect("kmsdns ran");
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(run.status, 3, "{case}");
    let doc: Value = run.json();
    assert_eq!(
        doc["error"],
        format!(
            "named.conf changed while kmsdns read it: {}",
            conf.display()
        ),
        "{case}"
    );
    assert_eq!(doc["status"], "unknown", "{case}");
    // No verdict at all: not secure.example's from the changed text, nor
    // open.example's, read before the change.
    assert!(doc.get("details").is_none(), "{case}");
    assert!(doc.get("findings").is_none(), "{case}");
    assert!(!run.stdout.contains("secure.example"), "{case}");
}
