//! DNSSEC of the `_vlmcs._tcp` RRsets against real BIND
//! (`tests/common/signed.rs`): a zone BIND signs itself (`dnssec-policy
//! default`, inline signing) and replicates, a server without keys, RRSIGs
//! corrupted or expired in a file signed beforehand with `dnssec-signzone`
//! and loaded without re-signing, and a validating BIND resolver in front.
//! Every verdict is what kmsdns reads from these servers, compared with
//! what `dig` or the resolver itself says.

use crate::common;

use std::path::{Path, PathBuf};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use common::run::{Kmsdns, Run};
use common::signed::{
    corrupt_rrsig, corrupt_rrsigs, denial_zone_text, ds_from_keys, presign, presign_zone, query_do,
    signed_answer, Denial, Second, SignedBed, Signing, OWNER, ZONE,
};

/// A configuration publishing kms1 and kms2 of the signed zone.
fn config(dir: &Path) -> PathBuf {
    config_of(dir, &[ZONE])
}

/// A configuration publishing kms1 and kms2 in each of `domains`.
fn config_of(dir: &Path, domains: &[&str]) -> PathBuf {
    let path = dir.join("kmsdns.toml");
    let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
    std::fs::write(
        &path,
        format!(
            "publish-list = [{}]\n[[host]]\nname = \"kms1.{ZONE}\"\n[[host]]\nname = \"kms2.{ZONE}\"\n",
            list.join(", ")
        ),
    )
    .expect("cannot write kmsdns.toml");
    path
}

/// kmsdns with the primary (authoritative only) as resolver, as the test
/// bed of tests/common/bind.rs does.
fn kmsdns(bed: &SignedBed, args: &[&str]) -> Run {
    kmsdns_via(bed, &bed.primary().to_string(), args)
}

fn kmsdns_via(bed: &SignedBed, nameserver: &str, args: &[&str]) -> Run {
    let config = config(bed.dir());
    kmsdns_run(bed, &config, nameserver, args)
}

fn kmsdns_run(bed: &SignedBed, config: &Path, nameserver: &str, args: &[&str]) -> Run {
    Kmsdns::new()
        .cwd(bed.dir())
        .args(["-c", config.to_str().expect("UTF-8 path")])
        .args(["--nameserver", nameserver])
        .args(["--dns-port", &bed.port().to_string()])
        .args(["--format", "json"])
        .args(args)
        .run()
}

/// The findings of a JSON run with `id`.
fn findings<'a>(json: &'a Value, id: &str) -> Vec<&'a Value> {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

fn ids(json: &Value) -> Vec<String> {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| format!("{} {}", f["id"], f["severity"]))
        .collect()
}

/// `audit` without its parts that would leave loopback (the KMS probe of
/// the 192.0.2.x hosts) or write to the zone (the live update probe).
const AUDIT: [&str; 3] = ["audit", "--no-probe", "--no-updates"];

const PROBLEMS: [&str; 5] = [
    "rrsig-missing",
    "rrsig-bogus",
    "rrsig-expiring",
    "rrsig-expired",
    "denial-bogus",
];

#[test]
fn a_zone_signed_by_bind_is_valid_at_every_server_after_publish() {
    let bed = SignedBed::start(Signing::Policy, Second::Secondary, false);
    bed.wait_signed(bed.secondary(), ZONE, RecordType::SOA);

    let publish = kmsdns(&bed, &["publish"]);
    assert_eq!(publish.status, 0, "{publish}");
    // BIND signs the new RRset; the secondary transfers it.
    for server in [bed.primary(), bed.secondary()] {
        bed.wait_signed(server, OWNER, RecordType::SRV);
    }

    for command in [&["check"][..], &["replication"], &AUDIT] {
        let run = kmsdns(&bed, command);
        let json: Value = run.json();
        assert_eq!(run.status, 0, "{command:?}: {:?}\n{run}", ids(&json));
        let ok = findings(&json, "dnssec-ok");
        assert_eq!(ok.len(), 1, "{command:?}: {:?}\n{run}", ids(&json));
        let message = ok[0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("ECDSAP256SHA256") && message.contains("2 server(s)"),
            "{command:?}: {message}"
        );
        for id in PROBLEMS {
            assert!(findings(&json, id).is_empty(), "{command:?}: {id}\n{run}");
        }
    }

    // BIND's default policy signs for 14 days: a 30-day threshold warns,
    // naming each server.
    let early = kmsdns(&bed, &["check", "--sig-expiry-warn", "30days"]);
    let json: Value = early.json();
    assert_eq!(early.status, 1, "{early}");
    let expiring = findings(&json, "rrsig-expiring");
    for server in [bed.primary(), bed.secondary()] {
        assert!(
            expiring.iter().any(|f| f["server"]
                .as_str()
                .is_some_and(|s| s.contains(&server.to_string()))),
            "{server} not named: {early}"
        );
    }
}

#[test]
fn a_server_without_the_keys_serves_records_without_signatures() {
    // ns2 serves its own unsigned copy of the zone (kms1 only), as a
    // server that holds no private key does.
    let bed = SignedBed::start(Signing::Policy, Second::UnsignedCopy, false);
    let run = kmsdns(&bed, &["check"]);
    let json: Value = run.json();
    assert_eq!(run.status, 2, "{run}");
    let missing = findings(&json, "rrsig-missing");
    let at_ns2: Vec<_> = missing
        .iter()
        .filter(|f| {
            f["server"]
                .as_str()
                .is_some_and(|s| s.contains(&bed.secondary().to_string()))
        })
        .collect();
    assert!(
        at_ns2
            .iter()
            .any(|f| f["message"].as_str().unwrap_or_default().contains("DNSKEY")),
        "{run}"
    );
    assert!(
        missing.iter().all(|f| f["severity"] == "critical"
            && f["message"]
                .as_str()
                .unwrap_or_default()
                .contains("SERVFAIL")),
        "{run}"
    );
    // The primary's own signatures are fine.
    assert!(
        missing.iter().all(|f| !f["server"]
            .as_str()
            .unwrap_or_default()
            .contains(&bed.primary().to_string())),
        "{run}"
    );
    // What dig sees at ns2: the SOA, unsigned.
    assert_eq!(
        signed_answer(bed.secondary(), ZONE, RecordType::SOA),
        Ok(false)
    );
}

/// A bed serving a file signed by dnssec-signzone with `-s`/`-e`, first
/// passed through `alter`.
fn presigned(
    inception: &str,
    expiration: &str,
    alter: impl Fn(&Path),
    resolver: bool,
) -> (SignedBed, tempfile::TempDir) {
    let keys = tempfile::tempdir().expect("temp dir");
    let file = presign(keys.path(), inception, expiration);
    alter(&file);
    let signing = Signing::Presigned {
        file,
        updates: false,
    };
    let bed = SignedBed::start(signing, Second::Secondary, resolver);
    (bed, keys)
}

/// A bed whose SRV RRSIG was corrupted after signing (valid for 30 days).
fn bogus_srv(resolver: bool) -> (SignedBed, tempfile::TempDir) {
    let corrupt = |file: &Path| corrupt_rrsig(file, OWNER, "SRV");
    presigned("now-3600", "now+2592000", corrupt, resolver)
}

/// The key tag of the RRSIG over the SRV RRset, as the server sends it.
fn srv_key_tag(bed: &SignedBed) -> u16 {
    let response = query_do(bed.primary(), OWNER, RecordType::SRV).expect("an answer");
    response
        .answers()
        .iter()
        .find_map(|record| match record.data() {
            hickory_proto::rr::RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(
                rrsig,
            )) => Some(rrsig.key_tag()),
            _ => None,
        })
        .expect("an RRSIG over the SRV RRset")
}

#[test]
fn a_corrupted_rrsig_loaded_without_re_signing_is_bogus() {
    let (bed, _keys) = bogus_srv(false);
    bed.wait_signed(bed.secondary(), OWNER, RecordType::SRV);
    let tag = srv_key_tag(&bed);
    // audit: check's findings only, not replication's copy of them.
    for command in [&["check"][..], &["replication"], &AUDIT] {
        let run = kmsdns(&bed, command);
        let json: Value = run.json();
        assert_eq!(run.status, 2, "{command:?}\n{run}");
        let bogus = findings(&json, "rrsig-bogus");
        assert_eq!(bogus.len(), 2, "one per server: {command:?}\n{run}");
        for finding in bogus {
            let message = finding["message"].as_str().unwrap_or_default();
            assert_eq!(finding["severity"], "critical");
            assert!(message.contains(&format!("key tag {tag}")), "{message}");
            assert!(message.contains("SERVFAIL"), "{message}");
            assert!(message.contains(OWNER), "{message}");
        }
        // The other RRsets verify.
        assert!(findings(&json, "rrsig-missing").is_empty(), "{run}");
        assert!(findings(&json, "rrsig-expired").is_empty(), "{run}");
    }
}

#[test]
fn signatures_made_in_the_past_are_expired() {
    let (bed, _keys) = presigned("now-2592000", "now-86400", |_| {}, false);
    let run = kmsdns(&bed, &["check"]);
    let json: Value = run.json();
    assert_eq!(run.status, 2, "{run}");
    let expired = findings(&json, "rrsig-expired");
    // SRV and DNSKEY, and kms1's A, at both servers.
    for server in [bed.primary(), bed.secondary()] {
        for what in [OWNER, "kms1.signed.example. A", "DNSKEY"] {
            assert!(
                expired.iter().any(|f| {
                    f["server"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(&server.to_string())
                        && f["message"].as_str().unwrap_or_default().contains(what)
                }),
                "{what} at {server}: {run}"
            );
        }
    }
    assert!(findings(&json, "dnssec-ok").is_empty(), "{run}");
}

#[test]
fn a_validating_resolver_servfail_is_a_validation_failure() {
    let (bed, _keys) = bogus_srv(true);
    // The resolver itself: SERVFAIL, and the records with CD.
    let resolver = bed.resolver_addr();
    let plain = common::signed::query_recursive(resolver, OWNER, RecordType::SRV, false)
        .expect("an answer");
    assert_eq!(plain.response_code(), ResponseCode::ServFail);
    let unchecked =
        common::signed::query_recursive(resolver, OWNER, RecordType::SRV, true).expect("an answer");
    assert_eq!(unchecked.response_code(), ResponseCode::NoError);

    let run = kmsdns_via(&bed, &resolver.to_string(), &["check"]);
    let json: Value = run.json();
    assert_eq!(run.status, 2, "{run}");
    let failed = findings(&json, "validation-failed");
    assert_eq!(failed.len(), 1, "{run}");
    assert_eq!(failed[0]["severity"], "critical");
    assert!(
        failed[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("SERVFAIL"),
        "{run}"
    );
    // Never a bare read failure of the resolver.
    assert!(
        findings(&json, "dns-read-failed")
            .iter()
            .all(|f| f["server"]
                .as_str()
                .is_none_or(|s| s != resolver.to_string())),
        "{run}"
    );
    // The authoritative servers say why.
    assert_eq!(findings(&json, "rrsig-bogus").len(), 2, "{run}");
}

#[test]
fn publish_waits_for_valid_signatures_not_only_for_the_records() {
    // Both servers serve the same presigned zone, whose SRV RRset (kms1)
    // is what a configuration of kms1 alone publishes: serials and records
    // agree at once, but the RRSIG over the RRset does not verify.
    let (bed, _keys) = bogus_srv(false);
    bed.wait_signed(bed.secondary(), OWNER, RecordType::SRV);
    let config = bed.dir().join("kms1.toml");
    std::fs::write(
        &config,
        format!("publish-list = [\"{ZONE}\"]\n[[host]]\nname = \"kms1.{ZONE}\"\n"),
    )
    .expect("cannot write the configuration");
    let run = Kmsdns::new()
        .cwd(bed.dir())
        .args(["-c", config.to_str().expect("UTF-8 path")])
        .args(["--nameserver", &bed.primary().to_string()])
        .args(["--dns-port", &bed.port().to_string()])
        .args(["--format", "json", "publish", "--wait-replication", "2s"])
        .run();
    let json: Value = run.json();
    assert_eq!(run.status, 2, "{run}");
    assert_eq!(findings(&json, "in-sync").len(), 1, "{run}");
    assert!(findings(&json, "replicated").is_empty(), "{run}");
    assert!(findings(&json, "serial-behind").is_empty(), "{run}");
    assert_eq!(findings(&json, "rrsig-bogus").len(), 2, "{run}");
    assert!(
        run.took >= std::time::Duration::from_secs(2),
        "waited: {run}"
    );

    // Where BIND signs, the same wait ends with `replicated`, and the
    // secondary already serves the signed RRset when publish returns.
    let bed = SignedBed::start(Signing::Policy, Second::Secondary, false);
    bed.wait_signed(bed.secondary(), ZONE, RecordType::SOA);
    let run = kmsdns(&bed, &["publish", "--wait-replication", "20s"]);
    let json: Value = run.json();
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(findings(&json, "replicated").len(), 1, "{run}");
    assert_eq!(
        signed_answer(bed.secondary(), OWNER, RecordType::SRV),
        Ok(true)
    );
}

#[test]
fn bind_material_with_a_policy_makes_named_sign_the_zone_and_each_update() {
    use common::bind::{key_file, nsupdate, Named, NamedConf};
    let address = common::signed::PRIMARY;
    let dir = tempfile::tempdir().expect("temp dir");
    let (out, zones) = (dir.path().join("out"), dir.path().join("zones"));
    std::fs::create_dir_all(&zones).expect("zone dir");
    key_file("kmsdns-secure");
    let run = Kmsdns::new()
        .args([
            "bind",
            "-c",
            "zones/example.toml",
            "--dnssec-policy",
            "default",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--zone-dir")
        .arg(&zones)
        .run();
    assert!(matches!(run.status, 0 | 1), "{run}");
    let stanza = std::fs::read_to_string(out.join("secure.example.named.conf")).expect("stanza");
    assert!(
        stanza.contains("\tdnssec-policy \"default\";\n\tinline-signing yes;\n"),
        "{stanza}"
    );
    for zone in ["secure.example", "open.example", "static.example"] {
        let records = out.join(format!("{zone}.kmsdns.db"));
        std::fs::write(
            zones.join(format!("{zone}.db")),
            format!(
                "$ORIGIN {zone}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A {address}\n$INCLUDE \"{}\"\n",
                records.display()
            ),
        )
        .expect("zone file");
    }
    let port = common::local::free_port(&[address.into()]);
    let mut conf = NamedConf::new(dir.path(), address, port, "kmsdns-dnssec-bind");
    conf.includes.push(out.join("kmsdns.named.conf"));
    let conf_path = dir.path().join("named.conf");
    conf.save(&conf_path).expect("named.conf");
    let named = Named::start(&conf_path, dir.path(), address.into(), port);
    let server = named.addr();
    // named signs the zone it loaded...
    let deadline = std::time::Instant::now() + common::signed::SIGNING_TIMEOUT;
    while signed_answer(server, "secure.example.", RecordType::DNSKEY) != Ok(true) {
        assert!(std::time::Instant::now() < deadline, "{}", named.log_tail());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // ...and the records the generated nsupdate script adds.
    let owner = "_vlmcs._tcp.secure.example.";
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &format!(
            "server {address} {port}\nzone secure.example\nupdate add {owner} 3600 IN SRV 0 0 1688 new-kms.secure.example.\nsend\n"
        ),
    );
    while signed_answer(server, owner, RecordType::SRV) != Ok(true) {
        assert!(std::time::Instant::now() < deadline, "{}", named.log_tail());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_secondary_frozen_before_the_signed_zone_transfers_serves_no_signatures() {
    // ns2 transfers the zone while it is unsigned; then the primary signs
    // it, and ns2, neither notified nor due to refresh for an hour, keeps
    // the unsigned copy.
    let mut bed = SignedBed::start(Signing::Unsigned, Second::Lagging, false);
    bed.sign_primary(Second::Lagging);
    assert_eq!(
        signed_answer(bed.secondary(), ZONE, RecordType::SOA),
        Ok(false)
    );
    let publish = kmsdns(&bed, &["publish"]);
    assert_eq!(publish.status, 0, "{publish}");
    bed.wait_signed(bed.primary(), OWNER, RecordType::SRV);

    let at = |f: &&Value, server: std::net::SocketAddr| {
        f["server"]
            .as_str()
            .is_some_and(|s| s.contains(&server.to_string()))
    };
    for command in ["check", "replication"] {
        let run = kmsdns(&bed, &[command]);
        let json: Value = run.json();
        assert_eq!(run.status, 2, "{command}\n{run}");
        let missing = findings(&json, "rrsig-missing");
        assert!(
            missing.iter().any(|f| at(f, bed.secondary())
                && f["message"].as_str().unwrap_or_default().contains("DNSKEY")),
            "{command}: {run}"
        );
        assert!(
            !missing.iter().any(|f| at(f, bed.primary())),
            "{command}: {run}"
        );
    }
    // replication also says why: ns2 is behind the primary.
    let run = kmsdns(&bed, &["replication"]);
    let json: Value = run.json();
    assert!(
        findings(&json, "serial-behind")
            .iter()
            .any(|f| at(f, bed.secondary())),
        "{run}"
    );
    // And publish does not call it replicated.
    let wait = kmsdns(&bed, &["publish", "--wait-replication", "1s"]);
    let json: Value = wait.json();
    assert_eq!(wait.status, 2, "{wait}");
    assert!(findings(&json, "replicated").is_empty(), "{wait}");
}

#[test]
fn a_target_address_failing_validation_is_a_validation_failure() {
    // The SRV RRset verifies; the A record of its target does not.
    let corrupt = |file: &Path| corrupt_rrsig(file, "kms1.signed.example.", "A");
    let (bed, _keys) = presigned("now-3600", "now+2592000", corrupt, true);
    let resolver = bed.resolver_addr();
    let a = common::signed::query_recursive(resolver, "kms1.signed.example.", RecordType::A, false)
        .expect("an answer");
    assert_eq!(a.response_code(), ResponseCode::ServFail);

    let run = kmsdns_via(&bed, &resolver.to_string(), &["check"]);
    let json: Value = run.json();
    assert_eq!(run.status, 2, "{run}");
    let failed = findings(&json, "validation-failed");
    assert_eq!(failed.len(), 1, "{run}");
    assert_eq!(failed[0]["host"], "kms1.signed.example.", "{run}");
    assert!(
        findings(&json, "dns-read-failed")
            .iter()
            .all(|f| f["host"] != "kms1.signed.example."),
        "{run}"
    );
    assert!(
        findings(&json, "rrsig-bogus").iter().all(|f| f["message"]
            .as_str()
            .unwrap_or_default()
            .contains("kms1.signed.example. A")),
        "{run}"
    );
}

/// The `dnssec` block of `check`'s details for `domain`.
fn dnssec_block<'a>(json: &'a Value, domain: &str) -> &'a Value {
    json["details"]["domains"]
        .as_array()
        .expect("details.domains")
        .iter()
        .find(|d| d["domain"] == format!("{domain}."))
        .map(|d| &d["dnssec"])
        .unwrap_or_else(|| panic!("no details for {domain}: {json}"))
}

#[test]
fn check_details_say_per_server_which_keys_verified_and_when_signatures_expire() {
    let (bed, _keys) = presigned("now-3600", "now+2592000", |_| {}, false);
    bed.wait_signed(bed.secondary(), OWNER, RecordType::SRV);
    let tag = srv_key_tag(&bed);
    let run = kmsdns(&bed, &["check"]);
    let json: Value = run.json();
    let block = dnssec_block(&json, ZONE);
    assert_eq!(block["signed"], true, "{block}");
    let servers = block["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 2, "{block}");
    for server in servers {
        // DNSKEY, SRV, kms1's A and its AAAA (NODATA, proven by NSEC).
        assert_eq!(server["rrsets_checked"], 4, "{server}");
        assert_eq!(server["rrsets_valid"], 4, "{server}");
        let tags = server["key_tags_verified"].as_array().expect("tags");
        assert!(tags.contains(&Value::from(tag)), "{server}");
        // dnssec-signzone -e now+2592000: 30 days from now.
        let expiry = server["earliest_expiry"].as_str().expect("expiry");
        let in_30_days = std::time::SystemTime::now() + std::time::Duration::from_secs(2_592_000);
        let date = humantime::format_rfc3339(in_30_days).to_string();
        assert!(expiry.starts_with(&date[..10]), "{expiry} vs {date}");
    }
}

#[test]
fn check_details_of_an_unsigned_zone_say_so() {
    let bed = SignedBed::start(Signing::Unsigned, Second::UnsignedCopy, false);
    let run = kmsdns(&bed, &["check"]);
    let json: Value = run.json();
    let block = dnssec_block(&json, ZONE);
    assert_eq!(block["signed"], false, "{run}");
    assert_eq!(block["servers"], Value::Array(Vec::new()), "{run}");
    assert!(findings(&json, "dnssec-ok").is_empty(), "{run}");
}

/// Waits until `server` proves kms3's non-existence with NSEC3: BIND
/// has built the NSEC3 chain.
fn wait_nsec3(server: std::net::SocketAddr) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let nsec3 = query_do(server, &format!("kms3.{ZONE}"), RecordType::A).is_ok_and(|r| {
            r.response_code() == ResponseCode::NXDomain
                && r.name_servers()
                    .iter()
                    .any(|r| r.record_type() == RecordType::NSEC3)
        });
        if nsec3 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{server} serves no NSEC3 proof"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `check` of the zone and of `nodata.signed.example` (a TXT but no SRV).
fn check_denials(bed: &SignedBed) -> (Run, Value) {
    let config = config_of(bed.dir(), &[ZONE, &format!("nodata.{ZONE}")]);
    let run = kmsdns_run(bed, &config, &bed.primary().to_string(), &["check"]);
    let json: Value = run.json();
    (run, json)
}

#[test]
fn nsec3_denials_signed_by_a_bind_policy_verify() {
    let bed = SignedBed::start(Signing::Nsec3Policy, Second::Secondary, false);
    for server in [bed.primary(), bed.secondary()] {
        bed.wait_signed(server, OWNER, RecordType::SRV);
        wait_nsec3(server);
    }
    let (run, json) = check_denials(&bed);
    assert!(findings(&json, "denial-bogus").is_empty(), "{run}");
    for id in PROBLEMS {
        assert!(findings(&json, id).is_empty(), "{id}\n{run}");
    }
    // Every RRset and denial checked verified, at both servers: the SRV
    // RRset, kms1's A, the NODATA of its AAAA, the NXDOMAIN of kms3's A
    // and AAAA; for nodata.signed.example the NODATA of its SRV.
    for (domain, checked) in [(ZONE.to_owned(), 6), (format!("nodata.{ZONE}"), 2)] {
        let block = dnssec_block(&json, &domain);
        for server in block["servers"].as_array().expect("servers") {
            assert_eq!(server["rrsets_checked"], checked, "{domain}: {server}");
            assert_eq!(server["rrsets_valid"], checked, "{domain}: {server}");
        }
    }
}

#[test]
fn a_corrupted_nsec3_signature_is_a_bogus_denial() {
    let keys = tempfile::tempdir().expect("temp dir");
    let text = denial_zone_text();
    let file = presign_zone(keys.path(), "now-3600", "now+2592000", &text, Denial::Nsec3);
    corrupt_rrsigs(&file, "NSEC3");
    let signing = Signing::Presigned {
        file,
        updates: false,
    };
    let bed = SignedBed::start(signing, Second::Secondary, false);
    bed.wait_signed(bed.secondary(), OWNER, RecordType::SRV);
    wait_nsec3(bed.primary());
    wait_nsec3(bed.secondary());
    let (run, json) = check_denials(&bed);
    assert_eq!(run.status, 2, "{run}");
    let bogus = findings(&json, "denial-bogus");
    let nodata_srv = format!("_vlmcs._tcp.nodata.{ZONE}. SRV");
    for server in [bed.primary(), bed.secondary()] {
        let at = |f: &&&Value| {
            f["server"]
                .as_str()
                .is_some_and(|s| s.contains(&server.to_string()))
        };
        let critical: Vec<_> = bogus
            .iter()
            .filter(at)
            .filter(|f| f["severity"] == "critical")
            .collect();
        assert!(
            critical.iter().any(|f| f["message"]
                .as_str()
                .is_some_and(|m| m.contains(&nodata_srv) && m.contains("key tag"))),
            "{server}: {run}"
        );
        // The NXDOMAIN of kms3, a target, is bogus too.
        assert!(
            bogus.iter().filter(at).any(|f| f["message"]
                .as_str()
                .is_some_and(|m| m.contains(&format!("kms3.{ZONE}.")))),
            "{server}: {run}"
        );
    }
    // The records themselves still verify.
    assert!(findings(&json, "rrsig-bogus").is_empty(), "{run}");
}

/// A presigned bed whose primary also serves the parent zone with `ds`.
fn with_parent(alter_ds: impl Fn(String) -> String) -> (SignedBed, tempfile::TempDir) {
    let keys = tempfile::tempdir().expect("temp dir");
    let file = presign(keys.path(), "now-3600", "now+2592000");
    let ds = alter_ds(ds_from_keys(&file));
    let signing = Signing::Presigned {
        file,
        updates: false,
    };
    let mut bed = SignedBed::start(signing, Second::Secondary, false);
    bed.serve_parent(&ds);
    (bed, keys)
}

#[test]
fn a_ds_at_the_parent_matching_the_key_signing_key_is_no_finding() {
    let (bed, _keys) = with_parent(|ds| ds);
    // The parent answers the DS, as the resolver will ask it.
    let response = query_do(bed.primary(), ZONE, RecordType::DS).expect("an answer");
    assert!(
        response
            .answers()
            .iter()
            .any(|r| r.record_type() == RecordType::DS),
        "{response:?}"
    );
    let run = kmsdns(&bed, &["check"]);
    let json: Value = run.json();
    assert!(findings(&json, "ds-mismatch").is_empty(), "{run}");
    assert_eq!(dnssec_block(&json, ZONE)["ds"], "matched", "{run}");
    assert_eq!(findings(&json, "dnssec-ok").len(), 1, "{run}");
}

#[test]
fn a_ds_matching_no_key_is_a_critical_ds_mismatch() {
    // The same DS, its digest's first hex digit changed.
    let (bed, _keys) = with_parent(|ds| {
        let digest_at = ds.rfind(' ').expect("a digest") + 1;
        let mut ds = ds.trim_end().to_owned();
        let first = &ds[digest_at..digest_at + 1];
        let other = if first == "0" { "1" } else { "0" };
        ds.replace_range(digest_at..digest_at + 1, other);
        ds
    });
    let run = kmsdns(&bed, &["check"]);
    let json: Value = run.json();
    let mismatch = findings(&json, "ds-mismatch");
    assert_eq!(mismatch.len(), 1, "{run}");
    assert_eq!(mismatch[0]["severity"], "critical", "{run}");
    assert_eq!(dnssec_block(&json, ZONE)["ds"], "mismatch", "{run}");
    assert_eq!(run.status, 2, "{run}");
}

#[test]
fn check_asks_each_server_for_the_dnskey_set_once_per_zone_not_per_domain() {
    let bed = SignedBed::start(Signing::Unsigned, Second::UnsignedCopy, false);
    let domains: Vec<String> = std::iter::once(ZONE.to_owned())
        .chain(["a", "b", "c"].map(|d| format!("{d}.{ZONE}")))
        .collect();
    let list: Vec<&str> = domains.iter().map(String::as_str).collect();
    let config = config_of(bed.dir(), &list);
    let before = [bed.primary(), bed.secondary()].map(|s| bed.queries_of(s, RecordType::DNSKEY));
    let run = kmsdns_run(&bed, &config, &bed.primary().to_string(), &["check"]);
    let json: Value = run.json();
    for domain in &list {
        assert_eq!(dnssec_block(&json, domain)["signed"], false, "{run}");
    }
    // Four domains of one unsigned zone: one DNSKEY query per server.
    for (server, before) in [bed.primary(), bed.secondary()].into_iter().zip(before) {
        let asked = bed.queries_of(server, RecordType::DNSKEY) - before;
        assert_eq!(asked, 1, "DNSKEY queries at {server}\n{run}");
    }
}
