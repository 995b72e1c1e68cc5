//! `kmsdns replication` against the real BIND test bed: servers in sync,
//! stopped, frozen, lagging behind a change, lame, serving another TTL
//! (a secondary behind a relay, two independent primaries as a
//! multi-master zone); `--wait` and `publish --wait-replication` until they
//! converge or the time is up.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use common::bind::{
    nsupdate, Named, NamedConf, Notify, Server, TestBed, Updates, ZoneConf, ZoneRole,
};
use common::relay::{Fault, Kind, Relay, Rule};
use common::run::{kmsdns, Kmsdns};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde::Deserialize;

/// Sends `updates` (nsupdate lines) to open.example on the primary.
fn update_open(bed: &TestBed, updates: &str) {
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n{updates}\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
}

/// `replication --format json --domain <domain>` against the test bed.
fn replication_json(bed: &TestBed, domain: &str) -> common::run::Run {
    kmsdns(
        bed,
        &["--format", "json", "replication", "--domain", domain],
    )
}

/// Adds a KMS record to open.example: one serial increment.
fn add_kms(bed: &TestBed, host: &str) {
    update_open(
        bed,
        &format!("update add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 {host}."),
    );
}

// The JSON document as README documents it.

#[derive(Debug, Deserialize)]
struct Document {
    schema: u32,
    command: String,
    status: String,
    details: Details,
    findings: Vec<Finding>,
}

#[derive(Debug, Deserialize)]
struct Details {
    zones: Vec<Zone>,
}

#[derive(Debug, Deserialize)]
struct Zone {
    zone: String,
    domains: Vec<String>,
    primary: String,
    reference: Option<String>,
    serial: Option<u32>,
    refresh: u32,
    retry: u32,
    expire: u32,
    converged: bool,
    polls: u32,
    elapsed_ms: u64,
    servers: Vec<ServerRow>,
}

#[derive(Debug, Deserialize)]
struct ServerRow {
    name: String,
    address: Option<String>,
    primary: bool,
    in_ns_set: bool,
    state: String,
    serial: Option<u32>,
    behind: Option<u32>,
    rrsets: Vec<Rrset>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Rrset {
    owner: String,
    records: Vec<String>,
    missing: Vec<String>,
    extra: Vec<String>,
    ttl_differs: Vec<TtlDiffers>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct TtlDiffers {
    record: String,
    ttl: u32,
    reference_ttl: u32,
}

#[derive(Debug, Deserialize)]
struct Finding {
    id: String,
    severity: String,
    domain: Option<String>,
    server: Option<String>,
    message: String,
    hint: Option<String>,
}

impl Zone {
    fn server(&self, server: Server, port: u16) -> &ServerRow {
        self.at(&format!("{}:{port}", server.ip()))
    }

    /// The row of the server at `address` (`IP:PORT`).
    fn at(&self, address: &str) -> &ServerRow {
        self.servers
            .iter()
            .find(|s| s.address.as_deref() == Some(address))
            .unwrap_or_else(|| panic!("no row for {address}: {self:#?}"))
    }
}

#[test]
fn servers_in_sync_are_replicated_and_shown_in_a_table() {
    let bed = TestBed::start();
    let run = kmsdns(&bed, &["replication", "--domain", "static.example"]);
    assert_eq!(run.status, 0, "{run}");
    let replicated = run.lines_with("replicated");
    assert_eq!(replicated.len(), 1, "{run}");
    assert!(
        replicated[0].contains("all 3 server(s) (3 address(es)) serve serial 1"),
        "{run}"
    );
    let port = bed.port();
    let table: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("server"))
        .take(4)
        .collect();
    assert_eq!(table.len(), 4, "{run}");
    assert!(
        table[1].contains(&format!("ns1.static.example.  127.53.0.1:{port}"))
            && table[1].ends_with("2 records (reference)"),
        "the primary first:\n{run}"
    );
    assert!(table[2].ends_with("same 2 records"), "{run}");
    // Aligned: every row's serial column ends at the same place.
    let serial_end = table[0].find("serial").expect("serial header") + "serial".len();
    for row in &table[1..] {
        assert_eq!(&row[serial_end - 1..serial_end], "1", "{run}");
    }
}

#[test]
fn a_stopped_or_frozen_secondary_is_unreachable() {
    let mut bed = TestBed::start();
    bed.stop(Server::Ns2);
    bed.pause(Server::Ns3);
    let run = kmsdns(
        &bed,
        &[
            "--timeout",
            "200ms",
            "--format",
            "json",
            "replication",
            "--domain",
            "static.example",
        ],
    );
    bed.resume(Server::Ns3);
    assert_eq!(run.status, 1, "the primary still answers: {run}");
    // About 0.6 s here (6 s with the default --timeout 2s, which this bound
    // never told apart).
    assert!(run.took < common::OVERDUE, "{run}");
    let doc = run.json::<Document>();
    let zone = &doc.details.zones[0];
    assert!(!zone.converged);
    let stopped = zone.server(Server::Ns2, bed.port());
    assert_eq!(stopped.state, "refused", "{stopped:?}");
    assert!(stopped.error.is_some());
    let frozen = zone.server(Server::Ns3, bed.port());
    assert_eq!(frozen.state, "timeout", "{frozen:?}");
    let unreachable: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.id == "server-unreachable")
        .collect();
    assert_eq!(unreachable.len(), 2, "{run}");
    assert!(unreachable.iter().all(|f| f.severity == "warning"));
    let ns2 = format!("127.53.0.2:{}", bed.port());
    assert!(
        unreachable
            .iter()
            .any(|f| f.server.as_deref() == Some(&ns2)
                && f.message.contains("refuses the connection"))
    );
    assert!(unreachable
        .iter()
        .any(|f| f.message.contains("does not answer (timed out)")));
}

#[test]
fn a_lagging_secondary_is_behind_by_n_and_its_missing_records_are_named() {
    let bed = TestBed::builder()
        .lagging_secondary("open.example", Server::Ns3)
        .start();
    let before = bed.soa_serial(Server::Ns3, "open.example");
    for host in ["kms1.secure.example", "kms2.secure.example", "kms3.example"] {
        add_kms(&bed, host);
    }
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    bed.wait_serial(Server::Ns2, "open.example", serial, Duration::from_secs(5));
    let behind = serial.wrapping_sub(before);
    assert_eq!(behind, 3, "one serial per update");

    let run = kmsdns(&bed, &["replication", "--domain", "open.example"]);
    assert_eq!(run.status, 2, "ns3 serves no record at all: {run}");
    let lag = run.lines_with("serial-behind");
    assert_eq!(lag.len(), 1, "{run}");
    assert!(lag[0].contains("127.53.0.3"), "{run}");
    assert!(lag[0].contains(&format!("behind by {behind}")), "{run}");
    assert!(lag[0].contains("refresh (every 3600 s)"), "{run}");
    assert!(lag[0].contains("expire (86400 s)"), "{run}");
    let differs = run.lines_with("rrset-differs");
    assert_eq!(differs.len(), 1, "{run}");
    assert!(differs[0].contains("127.53.0.3"), "{run}");
    assert!(
        differs[0].contains("missing 0 0 1688 kms1.secure.example."),
        "{run}"
    );

    let run = replication_json(&bed, "open.example");
    let doc = run.json::<Document>();
    let zone = &doc.details.zones[0];
    assert_eq!(zone.serial, Some(serial));
    let ns3 = zone.server(Server::Ns3, bed.port());
    assert_eq!(ns3.state, "behind");
    assert_eq!(ns3.serial, Some(before));
    assert_eq!(ns3.behind, Some(behind));
    assert_eq!(ns3.rrsets[0].owner, "_vlmcs._tcp.open.example.");
    assert!(ns3.rrsets[0].records.is_empty());
    assert_eq!(ns3.rrsets[0].missing.len(), 3);
    let ns2 = zone.server(Server::Ns2, bed.port());
    assert_eq!(ns2.state, "in-sync");
    assert!(ns2.rrsets[0].missing.is_empty() && ns2.rrsets[0].extra.is_empty());
}

#[test]
fn wait_returns_as_soon_as_the_servers_converge() {
    let bed = TestBed::start();
    add_kms(&bed, "kms1.secure.example");
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "replication",
            "--wait",
            "60s",
            "--domain",
            "open.example",
        ],
    );
    assert_eq!(run.status, 0, "{run}");
    // Converged at the first poll (about 10 ms here): well before the wait
    // of 60 s is up, which is twice the bound, so a run that waited it out
    // fails and a loaded machine does not.
    assert!(run.took < common::OVERDUE, "{run}");
    let doc = run.json::<Document>();
    let zone = &doc.details.zones[0];
    assert!(zone.converged, "{run}");
    assert!(zone
        .servers
        .iter()
        .all(|s| s.rrsets[0].records == ["0 0 1688 kms1.secure.example."]));
    assert!(doc.findings.iter().any(|f| f.id == "replicated"));
}

#[test]
fn wait_reports_a_server_that_does_not_catch_up() {
    let bed = TestBed::builder()
        .lagging_secondary("open.example", Server::Ns3)
        .start();
    add_kms(&bed, "kms1.secure.example");
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "replication",
            "--wait",
            "1s",
            "--domain",
            "open.example",
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    assert!(run.took >= Duration::from_secs(1), "waited: {run}");
    // The wait ends when it is up: about 1.0 s here.
    assert!(run.took < common::OVERDUE, "{run}");
    let doc = run.json::<Document>();
    let zone = &doc.details.zones[0];
    assert!(!zone.converged);
    assert!(zone.polls > 1, "{run}");
    assert!(zone.elapsed_ms >= 800, "{run}");
    let lag = doc
        .findings
        .iter()
        .find(|f| f.id == "serial-behind")
        .expect("serial-behind");
    assert!(lag.message.contains("behind by 1"), "{}", lag.message);
    assert!(
        lag.message.contains("still behind after"),
        "what polling has seen: {}",
        lag.message
    );
}

#[test]
fn a_hidden_primary_that_cannot_be_read_is_only_noted() {
    // The SOA names a primary that is in no NS record and has no address,
    // as a hidden primary often looks from a monitoring host.
    let bed = TestBed::start();
    update_open(
        &bed,
        "update add open.example. 3600 IN SOA hidden.open.example. hostmaster.open.example. 10 3600 600 86400 60",
    );
    bed.wait_serial(Server::Ns3, "open.example", 10, Duration::from_secs(5));
    bed.wait_serial(Server::Ns2, "open.example", 10, Duration::from_secs(5));
    let run = replication_json(&bed, "open.example");
    assert_eq!(run.status, 0, "{run}");
    let doc = run.json::<Document>();
    let zone = &doc.details.zones[0];
    assert_eq!(zone.primary, "hidden.open.example.");
    assert!(zone.converged, "{run}");
    assert_eq!(zone.serial, Some(10));
    let hidden = &zone.servers[0];
    assert!(hidden.primary && !hidden.in_ns_set, "{hidden:?}");
    assert_eq!(hidden.state, "no-address");
    let ids: Vec<(&str, &str)> = doc
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.severity.as_str()))
        .collect();
    assert_eq!(
        ids,
        [("dns-read-failed", "info"), ("replicated", "ok")],
        "{run}"
    );
}

/// A named on `ip` (the test bed's port) serving `zones` from files
/// written into `dir`: each `(zone, file content)`, taking `updates`.
fn extra_named(
    bed: &TestBed,
    dir: &Path,
    ip: [u8; 4],
    zones: &[(&str, &str)],
    updates: Updates,
) -> Named {
    std::fs::create_dir_all(dir).expect("dir");
    let mut conf = NamedConf::new(dir, ip.into(), bed.port(), "lame");
    for (zone, content) in zones {
        let file = format!("{zone}.zone");
        std::fs::write(dir.join(&file), content).expect("zone file");
        conf.zones.push(ZoneConf {
            name: zone.to_string(),
            file: file.into(),
            role: ZoneRole::Primary {
                updates: updates.clone(),
                notify: Notify::Only(Vec::new()),
            },
        });
    }
    let path = dir.join("named.conf");
    conf.save(&path).expect("named.conf");
    Named::start(&path, dir, ip.into(), bed.port())
}

#[test]
fn lame_servers_are_named_with_the_reason() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // 127.53.0.4 serves nothing: REFUSED. 127.53.0.5 serves the parent
    // zone `example.` and delegates open.example: a referral, without AA.
    let _refusing = extra_named(
        &bed,
        &dir.path().join("ns4"),
        [127, 53, 0, 4],
        &[],
        Updates::Refused,
    );
    let parent = "$TTL 3600\n\
        @ IN SOA ns hostmaster 1 3600 600 86400 60\n\
        \x20 IN NS ns\n\
        ns IN A 127.53.0.5\n\
        open IN NS ns1.open.example.\n\
        ns1.open IN A 127.53.0.1\n";
    let _referring = extra_named(
        &bed,
        &dir.path().join("ns5"),
        [127, 53, 0, 5],
        &[("example", parent)],
        Updates::Refused,
    );
    update_open(
        &bed,
        "update add open.example. 3600 IN NS ns4.open.example.\n\
         update add ns4.open.example. 3600 IN A 127.53.0.4\n\
         update add open.example. 3600 IN NS ns5.open.example.\n\
         update add ns5.open.example. 3600 IN A 127.53.0.5\n\
         update add open.example. 3600 IN NS noaddr.broken.example.",
    );
    // The secondaries follow by NOTIFY; only the extra servers are lame.
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
    let run = replication_json(&bed, "open.example");
    assert_eq!(run.status, 1, "the other servers answer: {run}");
    let doc = run.json::<Document>();
    let lame: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.id == "server-lame")
        .collect();
    assert_eq!(lame.len(), 3, "{run}");
    let about = |needle: &str| {
        lame.iter()
            .find(|f| f.message.contains(needle))
            .unwrap_or_else(|| panic!("no lame finding about {needle}: {run}"))
    };
    assert!(
        about("ns4.open.example.").message.contains("REFUSED"),
        "{run}"
    );
    assert!(
        about("ns5.open.example.").message.contains("AA bit"),
        "{run}"
    );
    assert!(
        about("noaddr.broken.example.")
            .message
            .contains("no A or AAAA record"),
        "{run}"
    );
    let zone = &doc.details.zones[0];
    let states: Vec<(&str, &str)> = zone
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.state.as_str()))
        .collect();
    assert!(
        states.contains(&("ns4.open.example.", "lame")),
        "{states:?}"
    );
    assert!(
        states.contains(&("ns5.open.example.", "lame")),
        "{states:?}"
    );
    assert!(
        states.contains(&("noaddr.broken.example.", "no-address")),
        "{states:?}"
    );
    assert!(
        states.contains(&("ns2.open.example.", "in-sync")),
        "{states:?}"
    );
}

#[test]
fn an_unknown_zone_is_a_failed_read_and_json_has_the_documented_fields() {
    let bed = TestBed::start();
    let run = kmsdns(
        &bed,
        &[
            "--format",
            "json",
            "replication",
            "--domain",
            "notserved.test",
            "--domain",
            "branch.secure.example",
            "--domain",
            "secure.example",
        ],
    );
    assert_eq!(run.status, 2, "{run}");
    let doc = run.json::<Document>();
    assert_eq!(doc.schema, 1);
    assert_eq!(doc.command, "replication");
    assert_eq!(doc.status, "critical");
    let failed: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.id == "dns-read-failed")
        .collect();
    assert_eq!(failed.len(), 1, "{run}");
    assert_eq!(failed[0].domain.as_deref(), Some("notserved.test."));
    assert_eq!(failed[0].severity, "critical");
    assert!(failed[0].message.contains("refused"), "{run}");

    // Two domains of one zone: one zone, both RRsets on every server.
    assert_eq!(doc.details.zones.len(), 1, "{run}");
    let zone = &doc.details.zones[0];
    assert_eq!(zone.zone, "secure.example.");
    assert_eq!(zone.domains, ["branch.secure.example.", "secure.example."]);
    assert_eq!(zone.primary, "ns1.secure.example.");
    assert_eq!(
        zone.reference.as_deref(),
        Some(format!("127.53.0.1:{}", bed.port()).as_str())
    );
    assert_eq!((zone.refresh, zone.retry, zone.expire), (3600, 600, 86400));
    assert!(zone.converged);
    assert_eq!(zone.polls, 1);
    assert_eq!(zone.servers.len(), 3);
    let primary = &zone.servers[0];
    assert!(primary.primary && primary.in_ns_set);
    assert_eq!(primary.name, "ns1.secure.example.");
    assert_eq!(primary.state, "reference");
    assert_eq!(primary.serial, zone.serial);
    assert_eq!(primary.behind, None);
    let owners: Vec<&str> = primary.rrsets.iter().map(|r| r.owner.as_str()).collect();
    assert_eq!(
        owners,
        [
            "_vlmcs._tcp.branch.secure.example.",
            "_vlmcs._tcp.secure.example."
        ]
    );
    assert!(primary
        .rrsets
        .iter()
        .all(|r| r.records.is_empty() && r.missing.is_empty() && r.extra.is_empty()));
}

/// Issue 16: a BIND primary with secondaries serving a zone named like an
/// Active Directory one (the DCs' locator record) is not multi-master: its
/// secondaries name ns1 in their SOA, so serials are still compared and a
/// lagging secondary is `serial-behind`, not just different records.
#[test]
fn a_bind_zone_named_like_active_directory_keeps_its_serial_comparison() {
    let bed = TestBed::builder()
        .ad_locator("open.example")
        .lagging_secondary("open.example", Server::Ns3)
        .start();
    add_kms(&bed, "kms1.secure.example");
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    bed.wait_serial(Server::Ns2, "open.example", serial, Duration::from_secs(5));
    let run = kmsdns(&bed, &["replication", "--domain", "open.example"]);
    assert_eq!(run.status, 2, "{run}");
    let lag = run.lines_with("serial-behind");
    assert_eq!(lag.len(), 1, "{run}");
    assert!(lag[0].contains("127.53.0.3"), "{run}");
    assert!(run.lines_with("multi-master").is_empty(), "{run}");
}

const KMS1_RECORD: &str = "0 0 1688 kms1.secure.example.";

/// Issue 16: a secondary with the primary's serial that serves the records
/// with another TTL has not got the zone the primary serves (a transfer
/// carries TTLs): `rrset-differs` naming both TTLs, until the primary's
/// TTL is the one it serves. The secondary is ns3 behind a relay that
/// rewrites its SRV answers' TTL to 60, listed as `ns9`.
#[test]
fn a_secondary_serving_another_ttl_differs_until_the_ttls_agree() {
    let bed = TestBed::start();
    let port = bed.port();
    let ns9 = Ipv4Addr::new(127, 53, 3, 19);
    let relay = Relay::start_on(SocketAddr::new(ns9.into(), port), bed.addr(Server::Ns3))
        .unwrap_or_else(|e| panic!("relay on {ns9} with the test bed's port: {e}"));
    relay.push(Rule::new(Fault::FirstAnswerTtl(60)).qtype(RecordType::SRV));
    update_open(
        &bed,
        &format!(
            "update add open.example. 3600 IN NS ns9.open.example.\n\
             update add ns9.open.example. 3600 IN A {ns9}\n\
             update add _vlmcs._tcp.open.example. 3600 IN SRV {KMS1_RECORD}"
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
    let replication = || replication_json(&bed, "open.example");
    let ns9_address = format!("{ns9}:{port}");
    let run = replication();
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(run.status, 1, "a warning: {case}");
    let doc = run.json::<Document>();
    let zone = &doc.details.zones[0];
    assert!(!zone.converged, "{case}");
    let row = zone.at(&ns9_address);
    assert_eq!(row.state, "differs", "same serial, other TTL: {case}");
    assert_eq!(row.serial, Some(serial));
    let rrset = &row.rrsets[0];
    assert!(rrset.missing.is_empty() && rrset.extra.is_empty(), "{case}");
    assert_eq!(
        rrset.ttl_differs,
        [TtlDiffers {
            record: KMS1_RECORD.into(),
            ttl: 60,
            reference_ttl: 3600,
        }],
        "{case}"
    );
    for server in Server::SECONDARIES {
        assert_eq!(zone.server(server, port).state, "in-sync", "{case}");
    }
    let differs: Vec<&Finding> = doc
        .findings
        .iter()
        .filter(|f| f.id == "rrset-differs")
        .collect();
    assert_eq!(differs.len(), 1, "{case}");
    assert_eq!(differs[0].severity, "warning");
    assert_eq!(differs[0].server.as_deref(), Some(ns9_address.as_str()));
    assert!(
        differs[0].message.contains(&format!(
            "serves the _vlmcs._tcp.open.example. records with TTL 60 where ns1.open.example. (127.53.0.1:{port}) has 3600: {KMS1_RECORD}"
        )),
        "{case}"
    );
    assert!(!doc.findings.iter().any(|f| f.id == "replicated"), "{case}");

    // The primary now serves the TTL ns9 shows: the TTLs agree.
    update_open(
        &bed,
        &format!("update add _vlmcs._tcp.open.example. 60 IN SRV {KMS1_RECORD}"),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
    let run = replication();
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(run.status, 0, "{case}");
    let doc = run.json::<Document>();
    assert!(doc.details.zones[0].converged, "{case}");
    assert_eq!(
        doc.details.zones[0].at(&ns9_address).state,
        "in-sync",
        "{case}"
    );
    let replicated = doc.findings.iter().find(|f| f.id == "replicated");
    assert!(
        replicated.is_some_and(|f| f.message.contains("same _vlmcs._tcp records and TTLs")),
        "{case}"
    );
}

/// The zone `mm.example` as one of two independent primaries serves it:
/// each names itself in its SOA, as every AD domain controller does, and
/// both serve kms1's record at TTL 3600.
fn multi_master_zone(mname: &str) -> String {
    format!(
        "$TTL 3600\n\
         @ IN SOA {mname} hostmaster 1 3600 600 86400 60\n\
         \x20 IN NS ns1\n\
         \x20 IN NS ns4\n\
         ns1 IN A 127.53.0.1\n\
         ns4 IN A 127.53.0.4\n\
         _vlmcs._tcp IN SRV {KMS1_RECORD}\n"
    )
}

/// The TTLs of `_vlmcs._tcp.mm.example.` SRV at `server`.
fn mm_ttls(server: SocketAddr) -> Vec<u32> {
    let timeout = Duration::from_secs(2);
    common::local::query_udp(
        server,
        "_vlmcs._tcp.mm.example.",
        RecordType::SRV,
        hickory_proto::rr::DNSClass::IN,
        timeout,
    )
    .expect("SRV answer")
    .answers()
    .iter()
    .map(|record| record.ttl())
    .collect()
}

/// Issue 16: two independent BIND primaries of one zone, both in its NS
/// set, stand in for the domain controllers of a multi-master zone
/// (`multi-master = true`). `publish --set-ttl` changes the TTL at ns1
/// only: `--wait-replication` must not call that replicated while ns4
/// serves the old TTL, nor `replication` call the zone in sync; once ns4
/// takes the TTL too (while a publish waits), both say replicated.
#[test]
fn a_ttl_change_on_a_multi_master_zone_is_replicated_only_once_every_primary_serves_it() {
    let bed = TestBed::builder()
        .zone("mm.example", &multi_master_zone("ns1"))
        .start();
    let port = bed.port();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ns4 = extra_named(
        &bed,
        &dir.path().join("ns4"),
        [127, 53, 0, 4],
        &[("mm.example", &multi_master_zone("ns4"))],
        Updates::Anyone,
    );
    ns4.wait_zone("mm.example", Duration::from_secs(10));
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        "ttl = 600\npublish-list = [\"mm.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n\
         [domain.\"mm.example\"]\nmulti-master = true\n",
    )
    .expect("config");
    let run = |args: &[&str]| {
        Kmsdns::new()
            .args(["-c", config.to_str().expect("UTF-8 path")])
            .bed(&bed)
            .args(args)
            .run()
    };
    let ns4_address = SocketAddr::new(Ipv4Addr::new(127, 53, 0, 4).into(), port);

    let published = run(&["publish", "--set-ttl", "--wait-replication", "1s"]);
    let case = format!("{published}\nns1: {:?}", mm_ttls(bed.primary()));
    assert_eq!(published.status, 2, "{case}");
    assert_eq!(mm_ttls(bed.primary()), [600], "applied at ns1: {case}");
    assert_eq!(mm_ttls(ns4_address), [3600], "{case}");
    assert!(published.took >= Duration::from_secs(1), "waited: {case}");
    assert!(published.lines_with("replicated").is_empty(), "{case}");
    // A DC lags by its records, never by a serial.
    assert!(published.lines_with("serial-behind").is_empty(), "{case}");
    let behind = published.lines_with("rrset-differs");
    assert_eq!(behind.len(), 1, "{case}");
    assert!(
        published.stdout.contains(&format!(
            "{ns4_address}) had not caught up after 1s: serves the SRV records for _vlmcs._tcp.mm.example. with TTL 3600 where the primary has 600: {KMS1_RECORD}"
        )),
        "{case}"
    );
    assert!(
        published
            .stdout
            .contains("hint: the domain controllers replicate the zone among themselves"),
        "not a zone transfer's hint: {case}"
    );

    let checked = run(&["--format", "json", "replication"]);
    assert_eq!(checked.status, 1, "{checked}");
    let doc = checked.json::<Document>();
    let ids: Vec<&str> = doc.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["rrset-differs"], "no serial findings: {checked}");
    assert!(
        doc.findings[0].message.contains(&format!(
            "serves the _vlmcs._tcp.mm.example. records with TTL 3600 where ns1.mm.example. (127.53.0.1:{port}) has 600"
        )),
        "{checked}"
    );
    assert!(
        doc.findings[0]
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("AD replication")),
        "{checked}"
    );
    let row = doc.details.zones[0].at(&ns4_address.to_string());
    assert_eq!(row.state, "differs", "{checked}");
    assert_eq!(
        row.rrsets[0].ttl_differs,
        [TtlDiffers {
            record: KMS1_RECORD.into(),
            ttl: 3600,
            reference_ttl: 600,
        }]
    );

    // ns4 takes the TTL about a second into a publish that waits for it.
    let update = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let began = Instant::now();
        nsupdate(
            None,
            &format!(
                "server 127.53.0.4 {port}\nzone mm.example\n\
                 update add _vlmcs._tcp.mm.example. 600 IN SRV {KMS1_RECORD}\nsend\n"
            ),
        );
        began
    });
    let published = run(&["publish", "--set-ttl", "--wait-replication", "30s"]);
    let finished = Instant::now();
    let update_began = update.join().expect("nsupdate");
    assert_eq!(published.status, 0, "{published}");
    assert_eq!(published.lines_with("replicated").len(), 1, "{published}");
    // Not before ns4 was sent the TTL (however long nsupdate took to exit).
    assert!(
        finished > update_began,
        "replicated only after ns4 was updated: {published}"
    );
    assert!(published.took < common::OVERDUE, "{published}");
    assert_eq!(mm_ttls(ns4_address), [600]);

    let checked = run(&["replication"]);
    assert_eq!(checked.status, 0, "{checked}");
    let replicated = checked.lines_with("replicated");
    assert_eq!(replicated.len(), 1, "{checked}");
    assert!(
        replicated[0].contains("records and TTLs (a multi-master zone"),
        "{checked}"
    );
}

/// `_vlmcs._tcp.a.open.example.`, the RRset the relay of
/// [`a_read_failed_for_one_domain_s_rrset_is_that_domain_s_alone`] fails.
const A_OWNER: &str = "_vlmcs._tcp.a.open.example.";

/// Waits until both secondaries serve the primary's serial of open.example.
fn secondaries_caught_up(bed: &TestBed) {
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
}

/// ns9 at `ns9`: a relay to the primary that answers SERVFAIL for
/// [`A_OWNER`]'s SRV RRset only, added to open.example's NS set with
/// `records` (nsupdate lines, maybe none), the secondaries caught up.
fn ns9_failing_a_owner(bed: &TestBed, ns9: Ipv4Addr, records: &str) -> Relay {
    let relay = Relay::start_on(SocketAddr::new(ns9.into(), bed.port()), bed.primary())
        .unwrap_or_else(|e| panic!("relay on {ns9} with the test bed's port: {e}"));
    relay.push(
        Rule::new(Fault::Rcode(ResponseCode::ServFail))
            .name(A_OWNER)
            .qtype(RecordType::SRV),
    );
    let mut updates = format!(
        "update add open.example. 3600 IN NS ns9.open.example.\n\
         update add ns9.open.example. 3600 IN A {ns9}"
    );
    // A blank line would send the update before `records`.
    if !records.is_empty() {
        updates = format!("{updates}\n{records}");
    }
    update_open(bed, &updates);
    secondaries_caught_up(bed);
    relay
}

/// Makes ns9 open.example's primary (its SOA MNAME): the server the others
/// are compared with; the secondaries caught up.
fn make_ns9_the_primary(bed: &TestBed) {
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    update_open(
        bed,
        &format!(
            "update add open.example. 3600 IN SOA ns9.open.example. hostmaster.open.example. {} 3600 600 86400 60",
            serial + 1
        ),
    );
    secondaries_caught_up(bed);
}

/// Each domain's status and the ids of its findings (`nagios`: the
/// domains with a problem, and its findings not ok; `prometheus`: no
/// ids), from a run in `format`.
fn verdicts(run: &common::run::Run, format: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut verdicts: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    match format {
        "json" => {
            for finding in run.json::<Document>().findings {
                let domain = finding.domain.expect("every finding names its domain");
                let (status, ids) = verdicts.entry(domain).or_default();
                *status = worse(status, &finding.severity);
                ids.push(finding.id);
            }
        }
        "jsonl" => {
            for line in run.stdout.lines() {
                let line: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
                if line["type"] != "domain" {
                    continue;
                }
                let ids = line["findings"].as_array().expect("findings");
                verdicts.insert(
                    line["domain"].as_str().expect("domain").to_string(),
                    (
                        line["status"].as_str().expect("status").to_string(),
                        ids.iter()
                            .map(|f| f["id"].as_str().expect("id").to_string())
                            .collect(),
                    ),
                );
            }
        }
        "text" => {
            // A domain's name alone on a line, its findings indented below:
            // `  <severity> <id> …`.
            let mut domain = None;
            for line in run.stdout.lines() {
                if line.ends_with('.') && !line.starts_with(' ') && !line.contains(' ') {
                    domain = Some(line.to_string());
                    verdicts.entry(line.to_string()).or_default();
                    continue;
                }
                let mut words = line.split_whitespace();
                let (Some(domain), Some(severity), Some(id)) =
                    (&domain, words.next(), words.next())
                else {
                    continue;
                };
                if line.starts_with("  ") && !line.starts_with("   ") {
                    let (status, ids) = verdicts.get_mut(domain).expect("its header");
                    *status = worse(status, severity);
                    ids.push(id.to_string());
                }
            }
        }
        "nagios" => {
            for line in run.stdout.lines().skip(1) {
                let words: Vec<&str> = line.split(' ').collect();
                let (status, ids) = verdicts.entry(words[1].to_string()).or_default();
                *status = worse(status, &words[0].to_lowercase());
                ids.push(words[2].to_string());
            }
        }
        "prometheus" => {
            for (name, labels, value) in common::prometheus::parse(&run.stdout) {
                if name == "kmsdns_domain_status" {
                    let status = ["ok", "warning", "critical"][value as usize];
                    verdicts.insert(labels["domain"].clone(), (status.to_string(), Vec::new()));
                }
            }
        }
        other => panic!("no verdicts read from {other}"),
    }
    verdicts
}

/// The worse of two severities.
fn worse(a: &str, b: &str) -> String {
    let rank = |s: &str| {
        ["", "ok", "info", "warning", "critical"]
            .iter()
            .position(|r| *r == s)
    };
    if rank(b) > rank(a) { b } else { a }.to_string()
}

/// Issue 20 review: what is true of one domain's RRset is that domain's
/// alone. ns9, the primary behind a relay, answers SERVFAIL for
/// a.open.example's SRV RRset only: first as one more server of the NS
/// set, then as the zone's primary (SOA MNAME), whose records the others
/// are compared with. Either way a.open.example has the failed read, and
/// open.example, whose records every server serves alike, is replicated:
/// in every format, and in `audit`.
#[test]
fn a_read_failed_for_one_domain_s_rrset_is_that_domain_s_alone() {
    let bed = TestBed::start();
    let port = bed.port();
    let ns9 = Ipv4Addr::new(127, 53, 3, 39);
    let relay = ns9_failing_a_owner(
        &bed,
        ns9,
        &format!(
            "update add _vlmcs._tcp.open.example. 3600 IN SRV {KMS1_RECORD}\n\
             update add {A_OWNER} 3600 IN SRV {KMS1_RECORD}"
        ),
    );
    let domains = ["--domain", "open.example", "--domain", "a.open.example"];
    let ns9_address = format!("{ns9}:{port}");
    for ns9_is_primary in [false, true] {
        if ns9_is_primary {
            make_ns9_the_primary(&bed);
        }
        for format in ["text", "json", "jsonl", "nagios", "prometheus"] {
            let run = kmsdns(
                &bed,
                &[&["--format", format, "replication"][..], &domains].concat(),
            );
            let case = format!(
                "ns9 primary: {ns9_is_primary}, {format}:\n{run}\n--- relay ---\n{}",
                relay.log()
            );
            assert_eq!(run.status, 2, "{case}");
            let mut verdicts = verdicts(&run, format);
            if format == "nagios" {
                // Only the domains with a problem have a line.
                assert!(
                    run.stdout
                        .starts_with("KMSDNS CRITICAL - 2 domains: 1 critical, 0 warning, 1 ok;"),
                    "{case}"
                );
                verdicts.insert("open.example.".into(), ("ok".into(), Vec::new()));
            }
            let case = format!("{case}\n--- verdicts ---\n{verdicts:?}");
            let verdict = |domain| {
                verdicts
                    .get(domain)
                    .unwrap_or_else(|| panic!("no verdict on {domain}: {case}"))
            };
            let (a, open) = (verdict("a.open.example."), verdict("open.example."));
            assert_eq!(verdicts.len(), 2, "{case}");
            assert_eq!(a.0, "critical", "{case}");
            assert_eq!(open.0, "ok", "{case}");
            match format {
                "prometheus" => {}
                "nagios" => assert_eq!(a.1, ["dns-read-failed"], "{case}"),
                _ => {
                    assert_eq!(a.1, ["dns-read-failed"], "{case}");
                    assert_eq!(open.1, ["replicated"], "{case}");
                }
            }
            if format == "json" {
                let doc = run.json::<Document>();
                let zone = &doc.details.zones[0];
                let reference = ns9_is_primary.then_some(ns9_address.as_str());
                let expected = reference.unwrap_or(&bed.primary().to_string()).to_string();
                assert_eq!(zone.reference.as_deref(), Some(expected.as_str()), "{case}");
                assert!(!zone.converged, "{case}");
                let failed = doc.findings.iter().find(|f| f.id == "dns-read-failed");
                let failed = failed.expect("the failed read");
                assert_eq!(
                    failed.server.as_deref(),
                    Some(ns9_address.as_str()),
                    "{case}"
                );
                assert!(failed.message.starts_with(A_OWNER), "{case}");
                let replicated = doc.findings.iter().find(|f| f.id == "replicated");
                assert!(
                    replicated
                        .expect("replicated")
                        .message
                        .contains("the same _vlmcs._tcp.open.example. records and TTLs"),
                    "{case}"
                );
            }
        }
        // audit takes replication's verdicts as they are.
        let audit = kmsdns(
            &bed,
            &[
                &["--format", "json", "audit", "--no-updates", "--no-probe"][..],
                &domains,
            ]
            .concat(),
        );
        let case = format!("audit, ns9 primary: {ns9_is_primary}:\n{audit}");
        let doc: serde_json::Value = audit.json();
        let mut from_replication: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for finding in doc["findings"].as_array().expect("findings") {
            let sources = finding["sources"].as_array().expect("sources");
            if sources.iter().any(|s| s == "replication") {
                from_replication
                    .entry(finding["domain"].as_str().expect("domain").to_string())
                    .or_default()
                    .push(format!(
                        "{} {}",
                        finding["id"].as_str().expect("id"),
                        finding["severity"].as_str().expect("severity")
                    ));
            }
        }
        assert_eq!(
            from_replication,
            BTreeMap::from([
                (
                    "a.open.example.".to_string(),
                    vec!["dns-read-failed critical".to_string()]
                ),
                (
                    "open.example.".to_string(),
                    vec!["replicated ok".to_string()]
                ),
            ]),
            "{case}"
        );
    }
}

/// Each domain's finding ids, from the JSON of a `publish` run.
fn ids_by_domain(run: &common::run::Run) -> BTreeMap<String, Vec<String>> {
    let doc: serde_json::Value = run.json();
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for finding in doc["findings"].as_array().expect("findings") {
        let domain = finding["domain"]
            .as_str()
            .expect("every finding names its domain");
        let id = finding["id"].as_str().expect("id");
        ids.entry(domain.to_string())
            .or_default()
            .push(id.to_string());
    }
    ids
}

/// Issue 20 review: `publish --wait-replication` says what is true of one
/// domain's RRset of that domain alone, as `replication` does
/// ([`a_read_failed_for_one_domain_s_rrset_is_that_domain_s_alone`]).
/// ns9, the primary behind a relay, answers SERVFAIL for a.open.example's
/// SRV RRset only: first as one more server of the NS set, then as the
/// zone's primary (SOA MNAME), whose records the others are compared
/// with. The updates and their reads go to the primary itself
/// (`server =`). Either way a.open.example has the failed read, and
/// open.example, whose records every server serves alike, is replicated.
#[test]
fn publish_waits_and_a_read_failed_for_one_domain_s_rrset_is_that_domain_s_alone() {
    let bed = TestBed::start();
    let port = bed.port();
    let ns9 = Ipv4Addr::new(127, 53, 3, 59);
    let relay = ns9_failing_a_owner(&bed, ns9, "");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kmsdns.toml");
    let primary = bed.primary();
    std::fs::write(
        &config,
        format!(
            "publish-list = [\"open.example\", \"a.open.example\"]\n\
             [[host]]\nname = \"kms1.secure.example\"\n\
             [domain.\"open.example\"]\nserver = \"{primary}\"\n\
             [domain.\"a.open.example\"]\nserver = \"{primary}\"\n"
        ),
    )
    .expect("config");
    let ns9_address = format!("{ns9}:{port}");
    for ns9_is_primary in [false, true] {
        if ns9_is_primary {
            make_ns9_the_primary(&bed);
        }
        let run = Kmsdns::new()
            .args(["-c", config.to_str().expect("UTF-8 path")])
            .bed(&bed)
            .args(["--format", "json", "publish", "--wait-replication", "2s"])
            .run();
        let ids = ids_by_domain(&run);
        let case = format!(
            "ns9 primary: {ns9_is_primary}:\n{run}\n--- relay ---\n{}\n--- ids ---\n{ids:?}",
            relay.log()
        );
        assert_eq!(run.status, 2, "{case}");
        // Published (the first run), or already as configured.
        let change = if ns9_is_primary {
            "in-sync"
        } else {
            "update-applied"
        };
        assert_eq!(
            ids,
            BTreeMap::from([
                (
                    "a.open.example.".to_string(),
                    vec![change.to_string(), "dns-read-failed".to_string()]
                ),
                (
                    "open.example.".to_string(),
                    vec![change.to_string(), "replicated".to_string()]
                ),
            ]),
            "{case}"
        );
        let doc: serde_json::Value = run.json();
        let findings = doc["findings"].as_array().expect("findings");
        let failed = findings.iter().find(|f| f["id"] == "dns-read-failed");
        let failed = failed.expect("the failed read");
        assert_eq!(failed["server"], ns9_address.as_str(), "{case}");
        assert_eq!(failed["severity"], "critical", "{case}");
        let message = failed["message"].as_str().expect("message");
        assert!(message.contains(A_OWNER), "{case}");
        assert!(message.contains("SERVFAIL"), "{case}");
        let replicated = findings.iter().find(|f| f["id"] == "replicated");
        let message = replicated.expect("replicated")["message"].as_str();
        assert_eq!(
            message,
            Some(
                "every authoritative server of open.example. serves the change to \
                 _vlmcs._tcp.open.example."
            ),
            "{case}"
        );
    }
    // Published: the records are there, at every server.
    for server in [Server::PRIMARY].into_iter().chain(Server::SECONDARIES) {
        assert_eq!(
            bed.srv_set(server, A_OWNER),
            BTreeSet::from([KMS1_RECORD.to_string()]),
            "{server}"
        );
    }
}

/// Issue 20 review: `--concurrency N` bounds the queries in flight to each
/// server, whichever zones they are for. Six zones of 24 domains share ns9,
/// the primary behind a relay that holds every reply 20 ms: read 4 zones
/// at a time, each zone's RRsets 4 at a time, ns9 had up to 16 queries at
/// once; now at most 4.
#[test]
fn concurrency_bounds_the_queries_in_flight_to_each_server_across_zones() {
    const ZONES: usize = 6;
    const DOMAINS: usize = 24;
    let ns9 = Ipv4Addr::new(127, 53, 3, 49);
    let mut builder = TestBed::builder();
    let mut domains = Vec::new();
    for z in 0..ZONES {
        let zone = format!("z{z}.example");
        let mut text = format!(
            "$ORIGIN {zone}.\n$TTL 3600\n\
             @ IN SOA ns1.open.example. hostmaster.open.example. 1 3600 600 86400 60\n\
             @ IN NS ns1.open.example.\n@ IN NS ns9\nns9 IN A {ns9}\n"
        );
        for d in 0..DOMAINS {
            text.push_str(&format!("_vlmcs._tcp.d{d} IN SRV {KMS1_RECORD}\n"));
            domains.push(format!("d{d}.{zone}"));
        }
        builder = builder.zone(&zone, &text);
    }
    let bed = builder.start();
    let relay = Relay::start_on(SocketAddr::new(ns9.into(), bed.port()), bed.primary())
        .unwrap_or_else(|e| panic!("relay on {ns9} with the test bed's port: {e}"));
    relay.push(Rule::new(Fault::Delay(Duration::from_millis(20))).queries());
    let mut args = vec!["--format", "json", "--concurrency", "4", "replication"];
    for domain in &domains {
        args.extend(["--domain", domain.as_str()]);
    }
    let run = kmsdns(&bed, &args);
    let most = relay.most_in_flight();
    let case = format!(
        "{most} in flight at once:\n{run}\n--- relay ---\n{}",
        relay.log()
    );
    assert_eq!(run.status, 0, "{case}");
    let doc = run.json::<Document>();
    assert_eq!(doc.details.zones.len(), ZONES, "{case}");
    let replicated = doc.findings.iter().filter(|f| f.id == "replicated");
    assert_eq!(replicated.count(), ZONES * DOMAINS, "{case}");
    // Every RRset and serial of every zone was asked of ns9.
    assert!(relay.received(Kind::Query) > ZONES * DOMAINS, "{case}");
    // The bound holds, and is used: replies held 20 ms leave 4 waiting.
    assert!((2..=4).contains(&most), "{case}");
}
