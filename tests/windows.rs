//! `check`, `replication`, `probe`, `updates`, `plan`, `publish` and
//! `remove --window N`
//! against the real BIND test bed: a run written window by window, one
//! domain at a time, gives the same output as a run of the whole estate at
//! once, in every format (JSON too: its document is written from the
//! windows' spools), and changes the same records; and what a run learns
//! of a server, it learns once, not once per window.

use crate::common;
use crate::jsonl::{config, lines, run, stable};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::bind::{key_file, Server, TestBed};
use common::kms_responder::{KmsResponder, Mode};
use common::run::Run;
use common::silent::Silent;

/// The estate of the JSON lines tests, its key file readable by every
/// local user: a finding about no domain, which every window finds again.
fn warning_config(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let config = config(dir);
    let key = dir.join("secure.key");
    std::fs::copy(key_file("kmsdns-secure"), &key).expect("copy the key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(
        &key_file("kmsdns-secure").display().to_string(),
        "secure.key",
    );
    std::fs::write(&config, text).expect("config");
    config
}

/// What differs between two runs of the same estate: the run's time and
/// probe's latencies in Prometheus, probe's times in text, timings in
/// JSON lines and JSON.
fn comparable(run: &Run, format: &str) -> Vec<String> {
    if format == "json" {
        return json_comparable(run);
    }
    if format == "jsonl" {
        return lines(run)
            .into_iter()
            .map(|line| stable(line).to_string())
            .collect();
    }
    run.stdout
        .lines()
        .filter(|line| !line.starts_with("kmsdns_last_run_timestamp_seconds "))
        .filter(|line| !line.starts_with("kmsdns_probe_latency"))
        .map(without_times)
        .collect()
}

/// A JSON document as lines, each timing (`"elapsed_ms": N`) as `_`, in
/// order but for the SRV targets (BIND rotates them), then as a value
/// without them ([`stable`]): the same bytes but for the timings and the
/// order of the targets when two runs give the same.
pub(crate) fn json_comparable(run: &Run) -> Vec<String> {
    let mut lines: Vec<String> = run
        .stdout
        .lines()
        .map(|line| match line.find("_ms\": ") {
            Some(at) => format!("{}_", &line[..at + 6]),
            None => line.to_string(),
        })
        .collect();
    // The targets' lines: where the order differs, the sets are the same.
    lines.sort();
    lines.push(stable(run.json()).to_string());
    lines
}

/// `line` with each `N.N ms` as `_ ms`.
fn without_times(line: &str) -> String {
    let words: Vec<&str> = line.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (at, word) in words.iter().enumerate() {
        let number = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit() || c == '.');
        let unit = words.get(at + 1).is_some_and(|w| w.starts_with("ms"));
        out.push(if number && unit { "_" } else { word });
    }
    out.join(" ")
}

#[test]
fn one_domain_at_a_time_is_the_same_output_in_every_format() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = warning_config(dir.path());
    for command in ["check", "replication", "probe"] {
        for format in ["text", "nagios", "prometheus", "jsonl", "json"] {
            for quiet in [&[][..], &["-q"][..]] {
                let args = [quiet, &[command][..]].concat();
                let whole = run(&bed, &config, format, &args);
                let windowed = run(
                    &bed,
                    &config,
                    format,
                    &[&args[..], &["--window", "1"]].concat(),
                );
                assert_eq!(windowed.status, whole.status, "{windowed}\n{whole}");
                assert_eq!(
                    comparable(&windowed, format),
                    comparable(&whole, format),
                    "{windowed}\n{whole}"
                );
            }
        }
    }
    // What is compared holds the three domains, their findings, and the
    // key file's warning once, after them.
    let text = run(&bed, &config, "text", &["check", "--window", "1"]);
    assert_eq!(text.status, 2, "{text}");
    let headings: Vec<&str> = text
        .stdout
        .lines()
        .skip_while(|line| !line.is_empty())
        .filter(|line| !line.starts_with(' ') && !line.is_empty())
        .collect();
    assert_eq!(
        headings,
        [
            "static.example.",
            "broken.example.",
            "open.example.",
            "(general)",
            "CRITICAL 1 ok, 0 info, 6 warning, 1 critical"
        ],
        "{text}"
    );
    assert_eq!(text.lines_with("key-file-permissions").len(), 1, "{text}");
}

/// `updates` in windows of one domain says what it says of the three
/// zones at once, statically from the primary's own named.conf, live, and
/// both: the named.conf is read once per run, each window audits its own
/// domains in it.
#[test]
fn updates_one_domain_at_a_time_is_the_same_output_in_every_format() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = warning_config(dir.path());
    let conf = bed.dir().join(Server::PRIMARY.name()).join("named.conf");
    let conf = conf.to_str().expect("UTF-8");
    let ways = [
        &["updates"][..],
        &["updates", "--named-conf", conf],
        &["updates", "--named-conf", conf, "--live"],
    ];
    for way in ways {
        for format in ["text", "nagios", "prometheus", "jsonl", "json"] {
            let whole = run(&bed, &config, format, way);
            let windowed = run(&bed, &config, format, &[way, &["--window", "1"]].concat());
            assert_eq!(windowed.status, whole.status, "{windowed}\n{whole}");
            assert_eq!(
                comparable(&windowed, format),
                comparable(&whole, format),
                "{way:?}\n{windowed}\n{whole}"
            );
        }
        // What is compared: the three zones, each once, with its verdicts,
        // and the key file's warning once.
        let json: serde_json::Value =
            run(&bed, &config, "json", &[way, &["--window", "1"]].concat()).json();
        let zones: Vec<&str> = json["details"]["zones"]
            .as_array()
            .expect("zones")
            .iter()
            .map(|zone| zone["zone"].as_str().expect("zone"))
            .collect();
        assert_eq!(
            zones,
            ["static.example.", "broken.example.", "open.example."],
            "{way:?} {json}"
        );
        let zone = &json["details"]["zones"][2];
        let verdicts = (zone["static"].as_array(), zone["live"].as_array());
        let counted = (
            verdicts.0.map_or(0, Vec::len),
            verdicts.1.map_or(0, Vec::len),
        );
        let expected = match way.len() {
            1 => (0, 1),
            3 => (1, 0),
            _ => (1, 1),
        };
        assert_eq!(counted, expected, "{way:?} {zone}");
        let warnings = json["findings"].as_array().expect("findings").iter();
        let warnings = warnings.filter(|f| f["id"] == "key-file-permissions");
        assert_eq!(warnings.count(), 1, "{way:?} {json}");
    }
}

/// The `version.bind` questions in `server`'s query log since it had
/// `skip` bytes.
fn version_questions(bed: &TestBed, server: Server, skip: usize) -> usize {
    let log = std::fs::read(bed.named(server).log()).expect("named's log");
    String::from_utf8_lossy(&log[skip.min(log.len())..])
        .lines()
        .filter(|line| line.contains("query: version.bind CH TXT"))
        .count()
}

/// A live audit of three domains in three windows asks the primary its
/// `version.bind` once, as BIND's own query log counts it: what a server
/// runs is a fact of the run, not of a window (BIND rate-limits CHAOS
/// answers; a dropped one cost a domain's probe a second). Every window's
/// probe still names the software.
#[test]
fn a_run_of_three_windows_asks_each_server_its_version_once() {
    let bed = TestBed::builder()
        .version_like_bind()
        .option("querylog yes")
        .start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = crate::jsonl::config(dir.path());
    let logged = |server: Server| {
        std::fs::metadata(bed.named(server).log())
            .expect("named's log")
            .len() as usize
    };
    let before: Vec<usize> = Server::ALL.iter().map(|s| logged(*s)).collect();
    let audit = run(
        &bed,
        &config,
        "jsonl",
        &["audit", "--no-probe", "--window", "1"],
    );
    let domains: Vec<_> = lines(&audit)
        .into_iter()
        .filter(|line| line["type"] == "domain")
        .collect();
    assert_eq!(domains.len(), 3, "{audit}");
    // named writes its query log as it answers; give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while version_questions(&bed, Server::Ns1, before[0]) == 0
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let asked: Vec<usize> = Server::ALL
        .iter()
        .zip(&before)
        .map(|(server, skip)| version_questions(&bed, *server, *skip))
        .collect();
    assert_eq!(
        asked,
        [1, 0, 0],
        "version.bind asked of ns1, ns2, ns3 (only the primary is probed)\n{audit}"
    );
    let recognised = audit.stdout.matches("\"software\":\"bind\"").count();
    assert!(recognised >= 3, "every window's probe names BIND: {audit}");
}

/// Domains in the zone of [`small_socket_bed`]: many more than its
/// servers' UDP sockets hold queries.
const MANY: usize = 200;

/// The SOA and NS records of a zone `name` served by the test bed's
/// servers, to which a test adds its records.
fn zone_head(name: &str) -> String {
    format!(
        "$ORIGIN {name}.\n$TTL 3600\n\
         @ IN SOA ns1.open.example. hostmaster.open.example. 1 3600 600 86400 60\n\
         @ IN NS ns1.open.example.\n@ IN NS ns2.open.example.\n@ IN NS ns3.open.example.\n"
    )
}

/// The test bed with the zone many.example of [`MANY`] domains, each with
/// kms1 and kms2, on servers whose UDP sockets hold some nine queries
/// (`udp-receive-buffer`): what a busy server's do when a client sends
/// more than it reads; BIND drops the rest, unanswered.
fn small_socket_bed(dir: &Path) -> (TestBed, PathBuf) {
    let mut zone = zone_head("many.example");
    let mut domains = Vec::new();
    for n in 0..MANY {
        for host in ["kms1", "kms2"] {
            zone.push_str(&format!(
                "_vlmcs._tcp.d{n} IN SRV 0 0 1688 {host}.secure.example.\n"
            ));
        }
        domains.push(format!("d{n}.many.example"));
    }
    let bed = TestBed::builder()
        .option("udp-receive-buffer 4096")
        .zone("many.example", &zone)
        .start();
    (bed, kms_config(dir, &domains))
}

/// The configuration `kmsdns.toml` in `dir` publishing kms1 and kms2 of
/// secure.example in `domains`.
fn kms_config(dir: &Path, domains: &[String]) -> PathBuf {
    let listed: Vec<String> = domains
        .iter()
        .map(|d| format!("{:?}", d.trim_end_matches('.')))
        .collect();
    let config = dir.join("kmsdns.toml");
    std::fs::write(
        &config,
        format!(
            "publish-list = [{}]\n[[host]]\nname = \"kms1.secure.example\"\n\
             [[host]]\nname = \"kms2.secure.example\"\n",
            listed.join(", ")
        ),
    )
    .expect("config");
    config
}

/// `audit --no-updates --no-probe` of the estate of [`small_socket_bed`].
fn small_socket_audit(bed: &TestBed, config: &Path, format: &str, args: &[&str]) -> Run {
    common::run::Kmsdns::new()
        .args(["-c", config.to_str().expect("UTF-8")])
        .bed(bed)
        .args(["--timeout", "300ms", "--format", format])
        .args(["audit", "--no-updates", "--no-probe"])
        .args(args)
        .run()
}

/// Each domain's findings from replication, as `id severity`, by domain,
/// from a JSON lines run or a JSON document.
fn replication_verdicts(run: &Run, format: &str) -> BTreeMap<String, Vec<String>> {
    let findings: Vec<serde_json::Value> = if format == "json" {
        let doc: serde_json::Value = run.json();
        doc["findings"].as_array().expect("findings").clone()
    } else {
        lines(run)
            .into_iter()
            .filter(|line| line["type"] == "domain")
            .flat_map(|line| line["findings"].as_array().expect("findings").clone())
            .collect()
    };
    let mut verdicts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for finding in findings {
        let from_replication = finding["sources"]
            .as_array()
            .is_some_and(|sources| sources.iter().any(|s| s == "replication"));
        if from_replication {
            let domain = finding["domain"].as_str().unwrap_or("(none)").to_string();
            verdicts.entry(domain).or_default().push(format!(
                "{} {}",
                finding["id"].as_str().unwrap_or_default(),
                finding["severity"].as_str().unwrap_or_default()
            ));
        }
    }
    verdicts
}

/// A zone of 200 domains audited in windows of 2 and in one window of
/// 1,000: every domain is `replicated`, in JSON lines and JSON alike.
/// Replication asked a server for all the RRsets of a window's zone at
/// once, more than a server's socket holds: the server dropped the rest
/// (again at each resend, due together), and a window with an RRset
/// unread reported its domains neither replicated nor why not. With
/// `--concurrency 2`, two at a time, the server answers them all.
#[test]
fn every_domain_of_a_zone_gets_its_replication_verdict_in_any_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (bed, config) = small_socket_bed(dir.path());
    let replicated: BTreeMap<String, Vec<String>> = (0..MANY)
        .map(|n| {
            (
                format!("d{n}.many.example."),
                vec!["replicated ok".to_string()],
            )
        })
        .collect();
    for format in ["jsonl", "json"] {
        for window in ["2", "1000"] {
            let audit = small_socket_audit(
                &bed,
                &config,
                format,
                &["--concurrency", "2", "--window", window],
            );
            assert_eq!(audit.status, 0, "--window {window}: {audit}");
            let verdicts = replication_verdicts(&audit, format);
            assert_eq!(
                verdicts, replicated,
                "--format {format} --window {window}: {audit}"
            );
        }
    }
}

/// Five domains in three zones, `secure.example` listed apart (split
/// between windows of one domain), `open.example` together; static.example
/// serves our records already.
fn changes_config(dir: &Path) -> PathBuf {
    let path = dir.join("kmsdns.toml");
    let text = format!(
        "key = \"secure\"\n\
         publish-list = [\"secure.example\", \"open.example\", \"a.open.example\", \"branch.secure.example\", \"static.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n\
         [tsig-key.secure]\nfile = \"{}\"\n",
        key_file("kmsdns-secure").display()
    );
    std::fs::write(&path, text).expect("config");
    path
}

/// The SRV records the primary serves for each domain of `changes_config`.
fn served(bed: &TestBed) -> Vec<Vec<String>> {
    let domains = [
        "secure.example.",
        "open.example.",
        "a.open.example.",
        "branch.secure.example.",
        "static.example.",
    ];
    let owners = domains.map(|domain| format!("_vlmcs._tcp.{domain}"));
    owners
        .iter()
        .map(|owner| bed.srv_set(Server::PRIMARY, owner).into_iter().collect())
        .collect()
}

#[test]
fn plan_publish_and_remove_one_domain_at_a_time_say_and_change_the_same() {
    // Records as stored: BIND's default rotation would show them in
    // another order from one run to the next.
    let bed = TestBed::builder()
        .option("rrset-order { order none; }")
        .start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = changes_config(dir.path());
    let before = served(&bed);
    let ours = [
        "0 0 1688 kms1.secure.example.",
        "0 0 1688 kms2.secure.example.",
    ];
    for format in ["text", "json", "nagios", "prometheus", "jsonl"] {
        // Per window size: each step's output and status, and what the
        // primary serves after it.
        let mut runs = Vec::new();
        for window in [&[][..], &["--window", "1"][..]] {
            let mut steps = Vec::new();
            for command in [
                &["plan"][..],
                &["publish"],
                &["publish"],
                &["publish", "--wait-replication", "10s"],
                &["remove", "--force"],
            ] {
                let args = [command, window].concat();
                let done = run(&bed, &config, format, &args);
                steps.push((args, done.status, comparable(&done, format), served(&bed)));
            }
            runs.push(steps);
        }
        for (windowed, whole) in runs[1].iter().zip(&runs[0]) {
            assert_eq!(
                windowed.1, whole.1,
                "{format} {:?}: {windowed:?}\n{whole:?}",
                windowed.0
            );
            assert_eq!(windowed.2, whole.2, "{format} {:?}", windowed.0);
            assert_eq!(windowed.3, whole.3, "{format} {:?}", windowed.0);
        }
        // What is compared: the plan is pending, publish put our records
        // in every zone, remove took them away again.
        let steps = &runs[1];
        assert_eq!(steps[0].1, 1, "{format}: {:?}", steps[0].2);
        assert_eq!(steps[0].3, before, "plan changes nothing");
        for published in &steps[1].3 {
            assert_eq!(published, &ours, "{format}: {:?}", steps[1].2);
        }
        assert_eq!(steps[4].3, before, "{format}: {:?}", steps[4].2);
    }
    // In the text of the wait, each domain's replication follows every
    // domain's change.
    let text = run(
        &bed,
        &config,
        "text",
        &["publish", "--wait-replication", "10s", "--window", "1"],
    );
    let lines: Vec<&str> = text.stdout.lines().collect();
    let at = |id: &str| -> Vec<usize> {
        let found = lines.iter().enumerate().filter(|(_, l)| l.contains(id));
        found.map(|(at, _)| at).collect()
    };
    let (changed, replicated) = (at(" update-applied "), at(" replicated "));
    assert_eq!((changed.len(), replicated.len()), (4, 5), "{text}");
    assert!(changed.last() < replicated.first(), "{text}");
}

/// Domains in each of the two zones of [`alternating_bed`].
const PER_ZONE: usize = 40;

/// A test bed with the zones one.example and two.example (anyone may
/// update them), and a configuration publishing kms1 and kms2 in
/// [`PER_ZONE`] domains of each, listed one zone after the other: every
/// window of `--window 1` holds one domain. Returns the domains in their
/// order too.
fn alternating_bed(dir: &Path) -> (TestBed, PathBuf, Vec<String>) {
    alternating_bed_to(dir, None)
}

/// The bed of [`alternating_bed`], each of its domains served with one SRV
/// record to the KMS host `kms` (as `kms.<zone>`), when given.
fn alternating_bed_to(dir: &Path, kms: Option<SocketAddr>) -> (TestBed, PathBuf, Vec<String>) {
    let zone = |name: &str| {
        let mut zone = zone_head(name);
        if let Some(kms) = kms {
            let (ip, port) = (kms.ip(), kms.port());
            zone.push_str(&format!("kms IN A {ip}\n"));
            for n in 0..PER_ZONE {
                zone.push_str(&format!("_vlmcs._tcp.d{n} IN SRV 0 0 {port} kms\n"));
            }
        }
        zone
    };
    let bed = TestBed::builder()
        .zone("one.example", &zone("one.example"))
        .zone("two.example", &zone("two.example"))
        .start();
    let domains: Vec<String> = (0..PER_ZONE)
        .flat_map(|n| [format!("d{n}.one.example."), format!("d{n}.two.example.")])
        .collect();
    let config = kms_config(dir, &domains);
    (bed, config, domains)
}

/// `kmsdns --format json COMMAND --window 1` whose files may not grow past
/// `limit` bytes (RLIMIT_FSIZE, SIGXFSZ ignored): its temporary files fail
/// as on a full disk, deterministically.
fn within_file_size(bed: &TestBed, config: &Path, limit: u64, command: &[&str]) -> Run {
    use std::os::unix::process::CommandExt;
    let args: Vec<String> = [
        &[
            "-c",
            config.to_str().expect("UTF-8"),
            "--nameserver",
            &bed.primary().to_string(),
            "--dns-port",
            &bed.port().to_string(),
            "--format",
            "json",
        ][..],
        command,
        &["--window", "1"],
    ]
    .concat()
    .into_iter()
    .map(String::from)
    .collect();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kmsdns"));
    command
        .env("NO_COLOR", "1")
        .current_dir(bed.dir())
        .args(&args);
    // SAFETY: between fork and exec, only signal(2) and setrlimit(2),
    // both async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let bound = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            match libc::setrlimit(libc::RLIMIT_FSIZE, &bound) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let started = std::time::Instant::now();
    let output = command.output().expect("kmsdns runs");
    Run {
        args,
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        took: started.elapsed(),
    }
}

/// The domains of the JSON `document` of a `command` stopped midway by its
/// full temporary files, once it is checked that `run-stopped` says so
/// and that they are the first of `domains`, some but not all.
fn stopped_midway<'a>(
    run: &Run,
    document: &'a serde_json::Value,
    command: &str,
    domains: &[String],
) -> Vec<&'a str> {
    let findings = document["findings"].as_array().expect("findings");
    let stopped: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["id"] == "run-stopped")
        .collect();
    assert_eq!(stopped.len(), 1, "{run}");
    assert_eq!(stopped[0]["severity"], "critical", "{run}");
    let message = stopped[0]["message"].as_str().expect("message");
    let said = format!("{command} stopped: cannot keep the output: ");
    assert!(message.starts_with(&said), "{message}");
    assert!(
        message.ends_with("; the domains not in this report were neither read nor changed"),
        "{message}"
    );
    let reported = reported_domains(document);
    assert!(
        !reported.is_empty(),
        "nothing done before the disk filled: {run}"
    );
    assert!(
        reported.len() < domains.len(),
        "the disk never filled: {run}"
    );
    assert_eq!(reported, domains[..reported.len()], "{run}");
    reported
}

/// The domains a JSON `document` reports, in its order: each entry of
/// `details.domains[]`, or each domain of every entry of `details.zones[]`
/// (replication, updates: a zone's entry per window).
fn reported_domains(document: &serde_json::Value) -> Vec<&str> {
    let details = &document["details"];
    if let Some(domains) = details["domains"].as_array() {
        return domains
            .iter()
            .map(|d| d["domain"].as_str().expect("domain"))
            .collect();
    }
    let zones = details["zones"].as_array().expect("details");
    let domains = zones
        .iter()
        .flat_map(|z| z["domains"].as_array().expect("domains"));
    domains.map(|d| d.as_str().expect("domain")).collect()
}

/// A publish whose temporary files stop taking its output midway (the
/// disk full) stops after the window it was writing, and still reports
/// every change it made, as one JSON document: the domains it says were
/// applied, a prefix of the publish list, are what the primary serves;
/// no other domain was changed; `run-stopped` says why, and the exit
/// status is critical.
#[test]
fn a_publish_whose_output_fills_the_disk_says_what_it_changed_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (bed, config, domains) = alternating_bed(dir.path());
    let run = within_file_size(&bed, &config, 4096, &["publish"]);
    assert_eq!(run.status, 2, "{run}");
    let document: serde_json::Value = run.json();
    let reported = stopped_midway(&run, &document, "publish", &domains);
    let applied: Vec<&str> = document["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == "update-applied")
        .map(|f| f["domain"].as_str().expect("domain"))
        .collect();
    assert_eq!(applied, reported, "{run}");
    let ours = [
        "0 0 1688 kms1.secure.example.",
        "0 0 1688 kms2.secure.example.",
    ];
    for (at, domain) in domains.iter().enumerate() {
        let served = bed.srv_set(Server::PRIMARY, &format!("_vlmcs._tcp.{domain}"));
        let served: Vec<String> = served.into_iter().collect();
        if at < applied.len() {
            assert_eq!(served, ours, "{domain}: {run}");
        } else {
            assert!(served.is_empty(), "{domain} changed unreported: {run}");
        }
    }
}

/// A check, an audit without the probe, a replication and an updates (its
/// live probe) whose temporary files stop taking their output midway (the
/// disk full) stop after the window they were writing and still report
/// every window read, as one JSON document: a prefix of the publish list,
/// each of its domains with its command's verdict, no other domain's;
/// `run-stopped` says why, and the exit status is critical. The UPDATEs of
/// updates' probe changed nothing: the zones' serials are as before, and
/// no domain has records.
#[test]
fn a_read_whose_output_fills_the_disk_reports_the_windows_read_and_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (bed, config, domains) = alternating_bed(dir.path());
    let zones = ["one.example", "two.example"];
    let serials = || zones.map(|zone| bed.soa_serial(Server::PRIMARY, zone));
    let before = serials();
    // Each command with what it finds of every domain of the bed.
    let reads = [
        (&["check"][..], "srv-missing"),
        (&["audit", "--no-probe"], "srv-missing"),
        // Every server serves the same: no record.
        (&["replication"], "replicated"),
        (&["updates"], "unsigned-updates-accepted"),
    ];
    for (command, verdict) in reads {
        let run = within_file_size(&bed, &config, 4096, command);
        assert_eq!(run.status, 2, "{run}");
        let document: serde_json::Value = run.json();
        let reported = stopped_midway(&run, &document, command[0], &domains);
        let findings = document["findings"].as_array().expect("findings");
        let judged: Vec<&str> = findings
            .iter()
            .filter(|f| f["id"] == verdict)
            .map(|f| f["domain"].as_str().expect("domain"))
            .collect();
        assert_eq!(judged, reported, "{run}");
        let about: std::collections::BTreeSet<&str> = findings
            .iter()
            .filter_map(|f| f["domain"].as_str())
            .collect();
        assert!(about.iter().all(|d| reported.contains(d)), "{run}");
    }
    assert_eq!(serials(), before, "a zone changed");
    for domain in &domains {
        let served = bed.srv_set(Server::PRIMARY, &format!("_vlmcs._tcp.{domain}"));
        assert!(served.is_empty(), "{domain}: {served:?}");
    }
}

/// A probe whose temporary files stop taking its output midway (the disk
/// full) stops after the window it was writing and still reports every
/// window probed, as one JSON document: a prefix of the publish list, each
/// domain's KMS host reachable; `run-stopped` says why, and the exit status
/// is critical. The KMS host was sent one bind per window reported (each
/// window probes its address once), and nothing but binds: no domain after
/// them was probed.
#[test]
fn a_probe_whose_output_fills_the_disk_reports_the_windows_probed_and_fails() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let kms = runtime.block_on(KmsResponder::start(Mode::Kms));
    let dir = tempfile::tempdir().expect("temp dir");
    let (bed, config, domains) = alternating_bed_to(dir.path(), Some(kms.addr()));
    let run = within_file_size(&bed, &config, 4096, &["probe"]);
    assert_eq!(run.status, 2, "{run}");
    let document: serde_json::Value = run.json();
    let reported = stopped_midway(&run, &document, "probe", &domains);
    let findings = document["findings"].as_array().expect("findings");
    let reachable: Vec<&str> = findings
        .iter()
        .filter(|f| f["id"] == "kms-reachable")
        .map(|f| f["domain"].as_str().expect("domain"))
        .collect();
    assert_eq!(reachable, reported, "{run}");
    let critical = findings.iter().filter(|f| f["severity"] == "critical");
    assert_eq!(critical.count(), 1, "only run-stopped: {run}");
    assert_eq!(kms.received().len(), reported.len(), "{run}");
    crate::probe::assert_only_binds(&[&kms]);
}

/// `updates --named-conf` in windows of one domain says what it says at
/// once where a window would part one fact: the reasons named refuses a
/// file for (reported once, at the run's first domain, not once per
/// window at each window's first), and a zone holding domains of several
/// windows (listed once, with all its domains, not once per window).
#[test]
fn updates_says_a_refused_file_and_a_parted_zone_once_whatever_the_window() {
    let fixture = |relative: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/named_conf")
            .join(relative)
            .display()
            .to_string()
    };
    let cwd = tempfile::tempdir().expect("temp dir");
    let refused = fixture("rejected/acl-loop.conf");
    let narrow = fixture("narrow.conf");
    let cases = [
        (&refused, ["loop.example", "a.example", "b.example"]),
        // corp.example holds x.corp.example: windows 1 and 3.
        (
            &narrow,
            ["corp.example", "branch.example", "x.corp.example"],
        ),
    ];
    for (conf, domains) in &cases {
        let mut args = vec!["updates", "--named-conf", conf.as_str()];
        for domain in domains {
            args.extend(["--domain", domain]);
        }
        let run = |format: &str, window: &[&str]| {
            common::run::Kmsdns::new()
                .cwd(cwd.path())
                .args(["--format", format])
                .args(&args)
                .args(window)
                .run()
        };
        for format in ["text", "nagios", "prometheus", "jsonl", "json"] {
            let whole = run(format, &[]);
            let windowed = run(format, &["--window", "1"]);
            assert_eq!(windowed.status, whole.status, "{windowed}\n{whole}");
            assert_eq!(
                comparable(&windowed, format),
                comparable(&whole, format),
                "{conf}\n{windowed}\n{whole}"
            );
        }
        let json: serde_json::Value = run("json", &["--window", "1"]).json();
        let listed: Vec<(Option<&str>, Vec<&str>)> = json["details"]["zones"]
            .as_array()
            .expect("zones")
            .iter()
            .map(|zone| {
                let domains = zone["domains"].as_array().expect("domains");
                (
                    zone["zone"].as_str(),
                    domains.iter().filter_map(|d| d.as_str()).collect(),
                )
            })
            .collect();
        let findings: Vec<(&str, &str)> = json["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| Some((f["id"].as_str()?, f["domain"].as_str()?)))
            .collect();
        if *conf == &refused {
            // Each domain its own entry, the loop once.
            assert_eq!(
                listed,
                [
                    (None, vec!["loop.example."]),
                    (None, vec!["a.example."]),
                    (None, vec!["b.example."]),
                ],
                "{json}"
            );
            assert_eq!(findings, [("acl-loop", "loop.example.")], "{json}");
        } else {
            assert_eq!(
                listed,
                [
                    (
                        Some("corp.example."),
                        vec!["corp.example.", "x.corp.example."]
                    ),
                    (Some("branch.example."), vec!["branch.example."]),
                ],
                "{json}"
            );
        }
    }
}

/// `kmsdns --format FORMAT ARGS` in `dir`, every DNS server `dns`, with
/// `tmp` as TMPDIR; `midway`: `tmp` is removed once kmsdns sends its first
/// query, so that the spools it makes from then on (a JSON array or a
/// Prometheus family a window is the first to have, Nagios's spools of the
/// end) get no temporary file, while those made at the start have theirs.
fn with_temporary_directory(
    dns: &Silent,
    dir: &Path,
    tmp: &Path,
    midway: bool,
    args: &[&str],
) -> Run {
    // What an earlier run asked is not this one's first query.
    dns.forget();
    let address = dns.address();
    let command = common::run::Kmsdns::new()
        .cwd(dir)
        .env("TMPDIR", tmp)
        .args(["--nameserver", &address.to_string()])
        .args(["--dns-port", &address.port().to_string()])
        .args(["--timeout", "300ms"])
        .args(args)
        .timeout(std::time::Duration::from_secs(60));
    let run = std::thread::spawn(move || command.run());
    if midway {
        dns.wait_for_query(std::time::Duration::from_secs(30));
        std::fs::remove_dir(tmp).expect("remove TMPDIR");
    }
    run.join().expect("kmsdns ran")
}

/// Without a temporary directory, a check or a publish stops before it
/// asks or changes anything, in every format, with a message that names
/// the directory and what to set; nothing is sent to the DNS servers.
#[test]
fn a_run_without_a_temporary_directory_stops_before_it_asks_anything() {
    let dns = Silent::bind();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kmsdns.toml");
    let text = "publish-list = [\"open.example\"]\n[[host]]\nname = \"kms21.open.example\"\n";
    std::fs::write(&config, text).expect("config");
    let missing = dir.path().join("no-such-dir");
    for command in ["check", "publish"] {
        for format in ["text", "json", "jsonl", "nagios", "prometheus"] {
            let args = ["--format", format, command];
            let run = with_temporary_directory(&dns, dir.path(), &missing, false, &args);
            assert_eq!(run.status, 3, "{run}");
            let message = format!(
                "cannot keep {command}'s output in the temporary directory {}: No such file or directory",
                missing.display()
            );
            let said = format!("{}{}", run.stdout, run.stderr);
            assert!(said.contains(&message), "{run}");
            assert!(said.contains("set TMPDIR to a writable directory"), "{run}");
            dns.assert_unasked(&run);
        }
    }
}

/// A run whose temporary directory goes away after it started writes the
/// same report as with it: the spools first needed midway keep what they
/// are given in memory. In JSON (a window's arrays) and Prometheus (its
/// families) that stops the run after the window, which `run-stopped`
/// says, the report of that window whole; Nagios's spools of the end do
/// not stop it.
#[test]
fn spools_made_midway_without_a_temporary_directory_keep_the_whole_report() {
    let dns = Silent::bind();
    let dir = tempfile::tempdir().expect("temp dir");
    let tmp = dir.path().join("tmp");
    let check = ["check", "--domain", "a.example", "--domain", "b.example"];
    let run = |format: &str, midway: bool| {
        std::fs::create_dir_all(&tmp).expect("TMPDIR");
        let args = [&["--format", format][..], &check].concat();
        with_temporary_directory(&dns, dir.path(), &tmp, midway, &args)
    };
    let stopped = |run: &Run| run.stdout.matches("run-stopped").count();
    // JSON: the findings and details of a run with its directory, and why
    // the run stopped.
    let (whole, midway) = (run("json", false), run("json", true));
    assert_eq!((whole.status, midway.status), (2, 2), "{whole}\n{midway}");
    let (whole, midway): (serde_json::Value, serde_json::Value) =
        (stable(whole.json()), stable(midway.json()));
    assert_eq!(midway["details"], whole["details"], "{midway}\n{whole}");
    let findings = |document: &serde_json::Value| -> Vec<serde_json::Value> {
        let findings = document["findings"].as_array().expect("findings");
        findings
            .iter()
            .filter(|f| f["id"] != "run-stopped")
            .cloned()
            .collect()
    };
    assert_eq!(findings(&midway), findings(&whole), "{midway}\n{whole}");
    let reported = whole["details"]["domains"].as_array().expect("domains");
    assert_eq!(reported.len(), 2, "{whole}");
    let message = midway["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["id"] == "run-stopped")
        .map(|f| f["message"].to_string());
    assert!(
        message.is_some_and(|m| m.contains("No such file or directory")),
        "{midway}"
    );
    // Prometheus: every series of the run with its directory.
    let (whole, midway) = (run("prometheus", false), run("prometheus", true));
    assert_eq!(stopped(&midway), 1, "{midway}");
    let series = |run: &Run| -> Vec<String> {
        comparable(run, "prometheus")
            .into_iter()
            .filter(|line| !line.starts_with('#') && !line.starts_with("kmsdns_findings"))
            .collect()
    };
    assert_eq!(series(&midway), series(&whole), "{midway}\n{whole}");
    // Nagios: the same output.
    let (whole, midway) = (run("nagios", false), run("nagios", true));
    assert_eq!(midway.status, whole.status, "{midway}\n{whole}");
    assert_eq!(stopped(&midway), 0, "{midway}");
    assert_eq!(
        comparable(&midway, "nagios"),
        comparable(&whole, "nagios"),
        "{midway}\n{whole}"
    );
}
