//! Options that behave the same in every command (issue 19):
//! - `--resolv-conf FILE` gives the nameservers AND the search list of
//!   every command that resolves, as `/etc/resolv.conf` would: the file
//!   names a relay on port 53 of a loopback address (resolv.conf has no
//!   port) in front of the real BIND test bed, and no `--nameserver` is
//!   given, so a command that still asked `/etc/resolv.conf` would not
//!   find the test zones;
//! - `-c` gives a `--domain` in no publish list the configuration's
//!   top-level `key`.

use crate::common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use common::bind::{key_file, TestBed};
use common::local::random_u64;
use common::relay::{Kind, Relay};
use common::run::{Kmsdns, Run};
use serde_json::Value;

/// A resolv.conf in a temporary directory whose only nameserver is a relay
/// to the test bed's primary on port 53 of a loopback address of its own.
struct ClientConf {
    relay: Relay,
    dir: tempfile::TempDir,
}

impl ClientConf {
    /// `search` is the file's search list (empty: no `search` line).
    fn new(bed: &TestBed, search: &[&str]) -> ClientConf {
        let relay = relay_on_port_53(bed.primary());
        let dir = tempfile::tempdir().expect("temp dir");
        let mut text = format!("# kmsdns test\nnameserver {}\n", relay.addr().ip());
        if !search.is_empty() {
            text.push_str(&format!("search {}\n", search.join(" ")));
        }
        std::fs::write(dir.path().join("resolv.conf"), text).expect("write resolv.conf");
        ClientConf { relay, dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("resolv.conf")
    }

    /// Runs kmsdns with this file and the bed's port for authoritative
    /// servers, without `--nameserver`, in an empty directory.
    fn kmsdns(&self, bed: &TestBed, args: &[&str]) -> Run {
        Kmsdns::new()
            .cwd(self.dir.path())
            .args(["--dns-port", &bed.port().to_string()])
            .arg("--resolv-conf")
            .arg(self.path())
            .args(args)
            .run()
    }

    /// Queries that reached the file's nameserver.
    fn queries(&self) -> usize {
        self.relay.received(Kind::Query)
    }
}

/// A relay on 127.55.X.Y:53, X and Y chosen at random until one is free
/// (tests and engineers run beside each other).
fn relay_on_port_53(backend: SocketAddr) -> Relay {
    let mut last = None;
    for _ in 0..50 {
        let n = random_u64();
        let ip = Ipv4Addr::new(127, 55, (n % 250) as u8 + 1, ((n >> 8) % 250) as u8 + 1);
        match Relay::start_on(SocketAddr::new(IpAddr::V4(ip), 53), backend) {
            Ok(relay) => return relay,
            Err(error) => last = Some(error),
        }
    }
    panic!("no loopback address free on port 53 for the relay: {last:?}")
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn check_and_replication_resolve_through_the_resolv_conf_nameserver() {
    let bed = TestBed::start();
    let conf = ClientConf::new(&bed, &[]);
    let run = conf.kmsdns(
        &bed,
        &["--format", "json", "check", "--domain", "static.example"],
    );
    assert_eq!(run.status, 0, "{run}");
    let doc: Value = run.json();
    let resolver = &doc["details"]["domains"][0]["resolver"];
    assert_eq!(resolver["status"], "records", "{doc:#}");
    let via = resolver["via"].as_str().unwrap_or("");
    let file = conf.path();
    assert!(
        via.contains(utf8(&file)) && via.contains(&conf.relay.addr().ip().to_string()),
        "the resolver is not the file's: {via}"
    );
    assert!(conf.queries() > 0, "{}", conf.relay.log());

    let before = conf.queries();
    let run = conf.kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "replication",
            "--domain",
            "static.example",
        ],
    );
    assert_eq!(run.status, 0, "{run}");
    let doc: Value = run.json();
    assert_eq!(doc["details"]["zones"][0]["zone"], "static.example.");
    assert!(conf.queries() > before, "{}", conf.relay.log());
}

#[test]
fn probe_search_takes_both_the_search_list_and_the_nameserver() {
    let bed = TestBed::start();
    let conf = ClientConf::new(&bed, &["static.example"]);
    let run = conf.kmsdns(&bed, &["--format", "json", "probe", "--search"]);
    let doc: Value = run.json();
    let domain = &doc["details"]["domains"][0];
    assert_eq!(domain["domain"], "static.example.", "{run}");
    // The SRV records were found: their targets were probed.
    assert_eq!(domain["answer"], "records", "{run}");
    assert_eq!(domain["targets"].as_array().map(Vec::len), Some(2), "{run}");
    assert!(conf.queries() > 0, "{}", conf.relay.log());
}

#[test]
fn discover_takes_both_the_search_list_and_the_nameserver() {
    let bed = TestBed::start();
    let conf = ClientConf::new(&bed, &["nothing.open.example", "static.example"]);
    let run = conf.kmsdns(&bed, &["--format", "json", "discover"]);
    assert_eq!(run.status, 0, "{run}");
    let doc: Value = run.json();
    assert_eq!(doc["details"]["selected"], "static.example.", "{doc:#}");
    assert!(conf.queries() > 0, "{}", conf.relay.log());
}

#[test]
fn plan_finds_the_zone_through_the_resolv_conf_nameserver() {
    let bed = TestBed::start();
    let conf = ClientConf::new(&bed, &[]);
    let config = conf.dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        "publish-list = [\"static.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n\
         [[host]]\nname = \"kms2.secure.example\"\n",
    )
    .expect("write config");
    let run = conf.kmsdns(&bed, &["-c", utf8(&config), "--format", "json", "plan"]);
    // The records are already as configured: nothing to do.
    assert_eq!(run.status, 0, "{run}");
    assert!(conf.queries() > 0, "{}", conf.relay.log());
}

#[test]
fn a_resolv_conf_without_nameserver_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("resolv.conf");
    std::fs::write(&file, "search corp.example\n").expect("write");
    let run = Kmsdns::new()
        .cwd(dir.path())
        .args([
            "--resolv-conf",
            utf8(&file),
            "check",
            "--domain",
            "corp.example",
        ])
        .run();
    assert_eq!(run.status, 3, "{run}");
    assert!(
        run.stderr.contains(utf8(&file)) && run.stderr.contains("no nameserver"),
        "{run}"
    );
}

#[test]
fn updates_domain_takes_the_configuration_top_level_key() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kmsdns.toml");
    // secure.example is in no publish list: only the top-level key can
    // sign its probe.
    std::fs::write(
        &config,
        format!(
            "key = \"secure\"\npublish-list = [\"open.example\"]\n\
             [[host]]\nname = \"kms1.secure.example\"\n\
             [tsig-key.secure]\nfile = \"{}\"\n",
            key_file("kmsdns-secure").display()
        ),
    )
    .expect("write config");
    let run = Kmsdns::new()
        .cwd(dir.path())
        .bed(&bed)
        .args(["-c", utf8(&config), "--format", "json"])
        .args(["updates", "--domain", "secure.example"])
        .run();
    assert_eq!(run.status, 0, "{run}");
    let doc: Value = run.json();
    let live = &doc["details"]["zones"][0]["live"][0];
    assert_eq!(live["key"], "kmsdns-secure", "{doc:#}");
    assert_eq!(live["signed"], "accepted", "{doc:#}");
    assert_eq!(live["verdict"], "keyed-only", "{doc:#}");
}
