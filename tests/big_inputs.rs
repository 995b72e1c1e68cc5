//! Big and odd inputs (issue 8): a 10,000-domain configuration, an RRset of
//! hundreds of SRV records (only TCP carries it), internationalised domain
//! names (punycode on the wire, Unicode for people), names with and without
//! the final dot, and names in any case. Name lengths (253 and 254
//! characters, and the 241 that leave room for `_vlmcs._tcp.`) are unit
//! tests beside the parser, `src/config/name.rs`.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Instant;

use common::bind::{nsupdate, Server, TestBed};
use common::run::{Kmsdns, Run};

/// Runs kmsdns with `config`, the test bed (if any) as resolver and its
/// port for authoritative servers.
fn kmsdns(bed: Option<&TestBed>, config: &Path, args: &[&str]) -> Run {
    let mut kmsdns = Kmsdns::new().args(["-c", config.to_str().expect("UTF-8 path")]);
    if let Some(bed) = bed {
        kmsdns = kmsdns.bed(bed);
    }
    kmsdns.args(args).run()
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("kmsdns.toml");
    std::fs::write(&path, text).expect("write the configuration");
    path
}

/// The SRV RRset at `owner` on the primary, read over TCP with dig (the
/// harness's UDP query cannot carry hundreds of records), as
/// `"prio weight port target."` in wire (ASCII) form.
fn srv_over_tcp(bed: &TestBed, owner: &str) -> BTreeSet<String> {
    let output = Process::new("dig")
        .arg(format!("@{}", Server::PRIMARY.ip()))
        .args(["-p", &bed.port().to_string()])
        .args(["+tcp", "+norecurse", "+short", "+noidnout", owner, "SRV"])
        .output()
        .expect("dig runs (bind9-dnsutils)");
    assert!(output.status.success(), "dig {owner} SRV failed");
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|line| line.to_ascii_lowercase())
        .collect()
}

/// Adds `records` (`"prio weight port target."`) at `owner` in open.example
/// (allow-update { any; }), `batch` records per UPDATE.
fn add_records(bed: &TestBed, owner: &str, records: &[String], batch: usize) {
    for chunk in records.chunks(batch) {
        let mut script = format!(
            "server {} {}\nzone open.example\n",
            Server::PRIMARY.ip(),
            bed.port()
        );
        for record in chunk {
            script.push_str(&format!("update add {owner} 3600 IN SRV {record}\n"));
        }
        script.push_str("send\n");
        nsupdate(None, &script);
    }
}

#[test]
fn ten_thousand_domains_are_read_and_bind_writes_them_all() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut text = String::from("publish-list = [\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "  \"branch{i:05}.corp.example, {}, {}\",\n",
            i % 10,
            i % 100
        ));
    }
    text.push_str("]\n\n[[host]]\nname = \"kms1.corp.example\"\n\n[[host]]\nname = \"kms2.corp.example\"\nport = 11688\n");
    let config = write_config(dir.path(), &text);

    let started = Instant::now();
    let parsed = kmsdns::config::parse(&text, &config).expect("a valid configuration");
    eprintln!("10,000 domains parsed in {:?}", started.elapsed());
    assert_eq!(parsed.domains.len(), 10_000);
    assert!(parsed.domains.iter().all(|d| d.records.len() == 2));
    assert_eq!(
        parsed.domains[9_999].name.to_ascii(),
        "branch09999.corp.example."
    );

    let started = Instant::now();
    let bind = kmsdns(None, &config, &["bind", "--only", "zone"]);
    eprintln!(
        "bind --only zone for 10,000 domains: {:?}",
        started.elapsed()
    );
    assert_eq!(bind.status, 0, "{}", bind.stderr);
    let srv_lines = bind.stdout.lines().filter(|l| l.contains(" SRV ")).count();
    assert_eq!(srv_lines, 20_000, "two records per domain");
    assert!(bind
        .stdout
        .contains("_vlmcs._tcp.branch09999.corp.example."));

    let out = dir.path().join("material");
    let started = Instant::now();
    let bind = kmsdns(
        None,
        &config,
        &["bind", "--out", out.to_str().expect("UTF-8")],
    );
    eprintln!("bind --out for 10,000 domains: {:?}", started.elapsed());
    assert_eq!(bind.status, 0, "{}", bind.stderr);
    let written: String = std::fs::read_dir(&out)
        .expect("the output directory")
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
        .collect();
    assert_eq!(
        written.matches(" SRV ").count() - written.matches("update add").count(),
        20_000,
        "every record in the zone material"
    );

    // One duplicate among the 10,000 (another case, a final dot) is named.
    let duplicate = text.replace(
        "\"branch07777.corp.example, 7, 77\"",
        "\"BRANCH00001.Corp.Example., 7, 77\"",
    );
    let err = kmsdns::config::parse(&duplicate, &config)
        .unwrap_err()
        .to_string();
    assert!(err.contains("listed twice"), "{err}");
    assert!(err.contains(":7779:"), "the line of the duplicate: {err}");
}

#[test]
fn hundreds_of_srv_records_are_read_over_tcp_and_kept() {
    // BIND 9.18.28 and later refuse more than 100 records in one RRset by
    // default (`too many records`, SERVFAIL to the update).
    let bed = TestBed::builder()
        .option("max-records-per-type 1000")
        .start();
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = "_vlmcs._tcp.open.example.";
    // 400 records of other hosts, with long targets: about 25 KB, far
    // beyond the 1232 bytes of a UDP reply.
    let foreign: Vec<String> = (0..400)
        .map(|i| {
            format!(
                "{} {} 1688 kms-host-{i:03}.a-rather-long-branch-office-name.example.",
                i % 7,
                i % 13
            )
        })
        .collect();
    add_records(&bed, owner, &foreign, 100);
    assert_eq!(srv_over_tcp(&bed, owner).len(), 400);

    let config = write_config(
        dir.path(),
        "publish-list = [\"open.example, 1, 50\"]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"kms2.secure.example\"\n",
    );
    let plan = kmsdns(Some(&bed), &config, &["plan"]);
    assert_eq!(plan.status, 1, "changes pending:\n{}", plan.text());
    let kept = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("= "))
        .count();
    let added = plan
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("+ "))
        .count();
    assert_eq!((kept, added), (400, 2), "{}", plan.stdout);

    let check = kmsdns(Some(&bed), &config, &["--format", "json", "check"]);
    let doc: serde_json::Value = check.json();
    assert!(
        check
            .stdout
            .contains("kms-host-399.a-rather-long-branch-office-name.example"),
        "check read the whole RRset:\n{doc:#}"
    );

    // The UPDATE's prerequisite lists all 400 records: TCP too.
    let publish = kmsdns(Some(&bed), &config, &["publish"]);
    assert_eq!(publish.status, 0, "{}", publish.text());
    let after = srv_over_tcp(&bed, owner);
    assert_eq!(after.len(), 402);
    assert!(after.contains("1 50 1688 kms1.secure.example."));
    assert!(
        foreign.iter().all(|r| after.contains(r)),
        "every other host's record kept"
    );

    let plan = kmsdns(Some(&bed), &config, &["plan"]);
    assert_eq!(plan.status, 0, "in sync:\n{}", plan.text());
    let remove = kmsdns(
        Some(&bed),
        &config,
        &["remove", "--host", "kms2.secure.example"],
    );
    assert_eq!(remove.status, 0, "{}", remove.text());
    assert_eq!(srv_over_tcp(&bed, owner).len(), 401);
}

#[test]
fn internationalised_domains_are_punycode_on_the_wire_and_unicode_for_people() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        "publish-list = [\"bücher.open.example, 5, 10\"]\n[[host]]\nname = \"kms1.secure.example\"\n",
    );
    let plan = kmsdns(Some(&bed), &config, &["plan"]);
    assert_eq!(plan.status, 1, "{}", plan.text());
    assert!(
        plan.stdout.contains("bücher.open.example."),
        "text output shows the name as its users write it:\n{}",
        plan.stdout
    );

    let publish = kmsdns(Some(&bed), &config, &["publish"]);
    assert_eq!(publish.status, 0, "{}", publish.text());
    assert_eq!(
        srv_over_tcp(&bed, "_vlmcs._tcp.xn--bcher-kva.open.example."),
        BTreeSet::from(["5 10 1688 kms1.secure.example.".to_string()]),
        "the record is on the wire under the punycode name"
    );
    let plan = kmsdns(Some(&bed), &config, &["plan"]);
    assert_eq!(plan.status, 0, "in sync:\n{}", plan.text());

    // Machine output and BIND material stay ASCII: zone files and
    // named.conf want the punycode form.
    let json = kmsdns(Some(&bed), &config, &["--format", "json", "plan"]);
    assert!(
        json.stdout.contains("xn--bcher-kva.open.example"),
        "{}",
        json.stdout
    );
    let bind = kmsdns(None, &config, &["bind", "--only", "zone"]);
    assert!(
        bind.stdout
            .contains("_vlmcs._tcp.xn--bcher-kva.open.example."),
        "{}",
        bind.stdout
    );
    assert!(
        !bind.stdout.contains("bücher.open.example. "),
        "{}",
        bind.stdout
    );
}

#[test]
fn case_and_the_final_dot_never_make_two_names() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let owner = "_vlmcs._tcp.open.example.";
    // The record as another tool wrote it: upper case, same RDATA.
    add_records(
        &bed,
        owner,
        &["0 0 1688 KMS1.SECURE.EXAMPLE.".to_string()],
        1,
    );

    let config = write_config(
        dir.path(),
        "publish-list = [\"Open.Example.\"]\n[[host]]\nname = \"kms1.secure.example\"\n[domain.\"OPEN.example\"]\nttl = 3600\n",
    );
    let plan = kmsdns(Some(&bed), &config, &["plan"]);
    assert_eq!(
        plan.status,
        0,
        "in sync whatever the case:\n{}",
        plan.text()
    );
    let remove = kmsdns(Some(&bed), &config, &["remove", "--force"]);
    assert_eq!(remove.status, 0, "{}", remove.text());
    assert!(
        srv_over_tcp(&bed, owner).is_empty(),
        "the upper-case record is ours and was deleted"
    );

    // Duplicates in the configuration are the same name in any spelling.
    for (text, what) in [
        (
            "publish-list = [\"open.example\", \"OPEN.EXAMPLE.\"]\n[[host]]\nname = \"kms1.secure.example\"\n",
            "listed twice",
        ),
        (
            "publish-list = [\"open.example\"]\n[[host]]\nname = \"kms1.secure.example\"\n[[host]]\nname = \"KMS1.Secure.Example.\"\n",
            "listed twice",
        ),
    ] {
        let config = write_config(dir.path(), text);
        let run = kmsdns(None, &config, &["bind"]);
        assert_eq!(run.status, 3, "{}", run.text());
        assert!(run.stderr.contains(what), "{}", run.stderr);
    }
}
