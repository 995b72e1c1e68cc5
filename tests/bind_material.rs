//! `kmsdns bind` output is real BIND material: named-checkzone and
//! named-checkconf accept it, a real named loads it, and the generated
//! update-policy and nsupdate script work against that named.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::bind::{key_file, nsupdate, try_nsupdate, Named, NamedConf};
use common::local::free_port;
use common::run::Kmsdns;
use hickory_proto::rr::RecordType;

const ADDRESS: &str = "127.53.2.1";

fn tool(name: &str) -> Command {
    let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: apt-get install bind9 bind9-utils"));
    Command::new(found)
}

fn check(mut command: Command) -> String {
    let output = command.output().expect("the BIND tool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// A zone file around the generated records, as an administrator would
/// write it: SOA, NS, and `$INCLUDE` of kmsdns's file.
fn zone_file(zone: &str, include: &Path) -> String {
    format!(
        "$ORIGIN {zone}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A {ADDRESS}\n$INCLUDE \"{}\"\n",
        include.display()
    )
}

#[test]
fn example_material_passes_bind_checks_and_loads_in_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let zone_dir = dir.path().join("zones");
    std::fs::create_dir_all(&zone_dir).expect("zone dir");
    let run = Kmsdns::new()
        .args(["bind", "-c", "zones/example.toml", "--out"])
        .arg(&out)
        .arg("--zone-dir")
        .arg(&zone_dir)
        .run();
    // A warning (exit 1) is allowed: a fresh checkout's key file is 0644.
    assert!(matches!(run.status, 0 | 1), "{run}");

    for zone in ["secure.example", "open.example", "static.example"] {
        let fragment = out.join(format!("{zone}.kmsdns.db"));
        assert!(fragment.is_file(), "{} written", fragment.display());
        assert!(out.join(format!("{zone}.named.conf")).is_file());
        assert!(out.join(format!("{zone}.nsupdate")).is_file());
        let file = zone_dir.join(format!("{zone}.db"));
        std::fs::write(&file, zone_file(zone, &fragment)).expect("zone file");
        // -i local: never look up out-of-zone targets through the system resolver.
        let mut checkzone = tool("named-checkzone");
        checkzone.args(["-i", "local", zone]).arg(&file);
        check(checkzone);
    }
    // branch.secure.example lives in secure.example's zone.
    assert!(!out.join("branch.secure.example.named.conf").exists());
    let secure = std::fs::read_to_string(out.join("secure.example.named.conf")).expect("stanza");
    assert!(
        secure.contains("grant kmsdns-secure name _vlmcs._tcp.branch.secure.example. SRV;"),
        "{secure}"
    );
    assert!(
        secure
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .all(|l| !l.contains("allow-update")),
        "{secure}"
    );
    for host in ["kms1.secure.example", "kms2.secure.example"] {
        let reg = std::fs::read(out.join(format!("{host}.reg"))).expect(".reg");
        assert!(reg.starts_with(b"Windows Registry Editor Version 5.00\r\n"));
    }

    let port = free_port(&[ADDRESS.parse().expect("address")]);
    let mut conf = NamedConf::new(
        dir.path(),
        ADDRESS.parse().expect("address"),
        port,
        "kmsdns-bind-test",
    );
    conf.includes.push(out.join("kmsdns.named.conf"));
    let conf_path = dir.path().join("named.conf");
    conf.save(&conf_path).expect("named.conf");
    let mut checkconf = tool("named-checkconf");
    checkconf.arg(&conf_path);
    check(checkconf);

    let mut named = Named::start(
        &conf_path,
        dir.path(),
        ADDRESS.parse().expect("address"),
        port,
    );
    for zone in ["secure.example", "open.example", "static.example"] {
        named.wait_zone(zone, Duration::from_secs(10));
    }
    let srv = common::local::query_udp(
        named.addr(),
        "_vlmcs._tcp.branch.secure.example.",
        RecordType::SRV,
        hickory_proto::rr::DNSClass::IN,
        Duration::from_secs(2),
    )
    .expect("answer");
    assert_eq!(srv.answers().len(), 2, "{srv:?}");

    // The generated nsupdate script applies with the key it names (adding
    // what is already there is a no-op), and the narrow policy refuses
    // anything else signed with the same key.
    let script = std::fs::read_to_string(out.join("secure.example.nsupdate")).expect("script");
    assert!(
        script.contains(&format!(
            "nsupdate -k {}",
            std::fs::canonicalize(key_file("kmsdns-secure"))
                .expect("key")
                .display()
        )),
        "{script}"
    );
    let key = key_file("kmsdns-secure");
    nsupdate(Some(&key), &format!("server {ADDRESS} {port}\n{script}"));
    let wider = try_nsupdate(
        Some(&key),
        &format!("server {ADDRESS} {port}\nzone secure.example.\nupdate add www.secure.example. 60 IN A 127.0.0.9\nsend\n"),
    );
    assert!(
        wider.is_err_and(|e| e.contains("REFUSED")),
        "the grant is limited to the KMS names"
    );
}

/// The TTL of `name`'s `rtype` RRset on `server`.
fn rrset_ttl(server: std::net::SocketAddr, name: &str, rtype: RecordType) -> Option<u32> {
    let reply = common::local::query_udp(
        server,
        name,
        rtype,
        hickory_proto::rr::DNSClass::IN,
        Duration::from_secs(2),
    )
    .expect("answer");
    reply
        .answers()
        .iter()
        .find(|r| r.record_type() == rtype)
        .map(|r| r.ttl())
}

/// Issue 19: a publish-list name inside a delegated sub-zone goes to that
/// zone's material (`zone =`), and each host's addresses to the zone that
/// holds its name; the nsupdate scripts then apply against a named serving
/// the parent and the delegated child (no REFUSED), and an A RRset already
/// there keeps its TTL.
#[test]
fn a_delegated_sub_zone_gets_its_own_material_and_existing_ttls_stay() {
    const CHILD_ADDRESS: &str = "127.53.2.7";
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let zone_dir = dir.path().join("zones");
    std::fs::create_dir_all(&zone_dir).expect("zone dir");
    let key = key_file("kmsdns-secure");
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        format!(
            "key = \"secure\"\n\
             publish-list = [\"corp.test\", \"branch.corp.test\", \"x.branch.corp.test\"]\n\
             [[host]]\nname = \"kms1.corp.test\"\naddresses = [\"{ADDRESS}\"]\n\
             [[host]]\nname = \"kms2.branch.corp.test\"\naddresses = [\"{CHILD_ADDRESS}\"]\naddress-ttl = 600\n\
             [domain.\"branch.corp.test\"]\nzone = \"branch.corp.test\"\n\
             [tsig-key.secure]\nfile = \"{}\"\n",
            key.display()
        ),
    )
    .expect("config");
    let run = Kmsdns::new()
        .args(["bind", "-c"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .arg("--zone-dir")
        .arg(&zone_dir)
        .run();
    assert!(matches!(run.status, 0 | 1), "{run}");
    // branch.corp.test is a zone of its own, and holds x.branch.corp.test.
    let child = std::fs::read_to_string(out.join("branch.corp.test.nsupdate")).expect("script");
    assert!(child.contains("zone branch.corp.test."), "{child}");
    assert!(child.contains("_vlmcs._tcp.x.branch.corp.test."), "{child}");
    assert!(
        child.contains(&format!(
            "update add kms2.branch.corp.test. 600 IN A {CHILD_ADDRESS}"
        )),
        "{child}"
    );
    let parent = std::fs::read_to_string(out.join("corp.test.nsupdate")).expect("script");
    for below in [
        "_vlmcs._tcp.branch.corp.test.",
        "_vlmcs._tcp.x.branch.corp.test.",
        "kms2.branch.corp.test. 600",
    ] {
        assert!(!parent.contains(below), "{below} in the parent:\n{parent}");
    }
    // kms1 has no address-ttl: its A RRset is left alone.
    assert!(!parent.contains("update add kms1.corp.test."), "{parent}");

    // The zones as their administrators keep them: the parent delegates
    // branch (to the same server), and kms1 has an A record at TTL 300.
    std::fs::write(
        zone_dir.join("corp.test.db"),
        format!(
            "$ORIGIN corp.test.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\n\
             ns1 A {ADDRESS}\nkms1 300 A {ADDRESS}\nbranch NS ns1.corp.test.\n"
        ),
    )
    .expect("parent zone");
    std::fs::write(
        zone_dir.join("branch.corp.test.db"),
        "$ORIGIN branch.corp.test.\n$TTL 3600\n@ SOA ns1.corp.test. hostmaster 1 3600 600 86400 60\n\
         @ NS ns1.corp.test.\n",
    )
    .expect("child zone");
    let port = free_port(&[ADDRESS.parse().expect("address")]);
    let mut conf = NamedConf::new(
        dir.path(),
        ADDRESS.parse().expect("address"),
        port,
        "kmsdns-bind-delegation",
    );
    conf.includes.push(out.join("kmsdns.named.conf"));
    let conf_path = dir.path().join("named.conf");
    conf.save(&conf_path).expect("named.conf");
    let mut named = Named::start(
        &conf_path,
        dir.path(),
        ADDRESS.parse().expect("address"),
        port,
    );
    for zone in ["corp.test", "branch.corp.test"] {
        named.wait_zone(zone, Duration::from_secs(10));
    }
    for zone in ["corp.test", "branch.corp.test"] {
        let script = std::fs::read_to_string(out.join(format!("{zone}.nsupdate"))).expect("script");
        nsupdate(Some(&key), &format!("server {ADDRESS} {port}\n{script}"));
    }
    for (name, records) in [
        ("_vlmcs._tcp.corp.test.", 2),
        ("_vlmcs._tcp.branch.corp.test.", 2),
        ("_vlmcs._tcp.x.branch.corp.test.", 2),
    ] {
        let srv = common::local::query_udp(
            named.addr(),
            name,
            RecordType::SRV,
            hickory_proto::rr::DNSClass::IN,
            Duration::from_secs(2),
        )
        .expect("answer");
        assert_eq!(srv.answers().len(), records, "{name}: {srv:?}");
    }
    assert_eq!(
        rrset_ttl(named.addr(), "kms1.corp.test.", RecordType::A),
        Some(300),
        "the existing A RRset keeps its TTL"
    );
    assert_eq!(
        rrset_ttl(named.addr(), "kms2.branch.corp.test.", RecordType::A),
        Some(600)
    );
}

/// The bytes of `bind`'s output for a configuration that mixes what its
/// material depends on (a TSIG key file, a declared sub-zone, `server =`,
/// `address-ttl`, a host of another team), printed
/// whole, with --dnssec-policy, one kind at a time, and in the JSON and
/// JSON lines documents (each file's content a string), so that a change
/// that alters any of them fails here. The temporary directory, written
/// into `include` lines, is shown as `[DIR]`.
#[test]
fn mixed_material_is_pinned() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("secure.key"),
        "key \"secure\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0c2VjcmV0c2VjcmV0\";\n};\n",
    )
    .unwrap();
    // Readable by its owner only, or bind warns (and exits 1).
    std::fs::set_permissions(
        dir.path().join("secure.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kmsdns.toml"),
        r#"publish-list = ["corp.example", "branch.corp.example", "x.branch.corp.example", "secure.example", "b.secure.example, 10, 75"]

[[host]]
name = "kms1.corp.example"
addresses = ["192.0.2.10", "2001:db8::10"]

[[host]]
name = "kms2.branch.corp.example"
addresses = ["192.0.2.11"]
address-ttl = 600

[[host]]
name = "kms3.secure.example"
addresses = ["192.0.2.12"]
managed = false

[domain."branch.corp.example"]
zone = "branch.corp.example"
key = "secure"
server = "127.0.0.1:5353"

[domain."secure.example"]
key = "secure"
ttl = 600

[tsig-key.secure]
file = "secure.key"
"#,
    )
    .unwrap();
    let shown = dir.path().display().to_string();
    let runs: [(&str, &[&str]); 8] = [
        ("all", &["bind"]),
        ("dnssec", &["bind", "--dnssec-policy", "default"]),
        ("zone", &["bind", "--only", "zone"]),
        ("named-conf", &["bind", "--only", "named-conf"]),
        ("nsupdate", &["bind", "--only", "nsupdate"]),
        ("reg", &["bind", "--only", "reg"]),
        ("json", &["--format", "json", "bind"]),
        ("jsonl", &["--format", "jsonl", "bind"]),
    ];
    for (name, args) in runs {
        let run = Kmsdns::new()
            .cwd(dir.path())
            .args(args.iter().copied())
            .run();
        assert_eq!(run.status, 0, "{name}: {}", run.stderr);
        insta::assert_snapshot!(
            format!("bind-mixed-{name}"),
            run.stdout.replace(&shown, "[DIR]")
        );
    }
}
