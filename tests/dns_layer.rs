//! The DNS layer (`kmsdns::dns`) against real BIND 9.18 servers: the test
//! bed of `tests/common/bind.rs` (ns1 = 127.53.0.1 primary, ns2/ns3
//! secondaries, `recursion no`, zones of `zones/`).
//!
//! Each test starts its own test bed, so updates in one never show in
//! another. Assertions about what the servers hold go through the test
//! bed's own queries, never through the code under test.

use crate::common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::bind::{key_file, nsupdate, Server, TestBed};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use kmsdns::config::key::{load_key_file, TsigKey};
use kmsdns::dns::{
    self, AnswerStatus, DiscoveryError, DnsOptions, Expected, LookupError, PrerequisiteRcode,
    ReplyError, Resolver, Transport, TsigError, UpdateError, UpdateRequest,
};

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("valid test name")
}

fn opts(bed: &TestBed) -> DnsOptions {
    DnsOptions {
        timeout: Duration::from_secs(2),
        attempts: 2,
        dns_port: bed.port(),
    }
}

fn key(stem: &str) -> TsigKey {
    load_key_file(&key_file(stem), None).expect("test key file")
}

fn srv(target: &str) -> SRV {
    SRV::new(0, 0, 1688, name(target))
}

fn srv_record(owner: &str, target: &str, ttl: u32) -> Record {
    Record::from_rdata(name(owner), ttl, RData::SRV(srv(target)))
}

fn set(records: &[&str]) -> BTreeSet<String> {
    records.iter().map(|record| record.to_string()).collect()
}

const SECURE_OWNER: &str = "_vlmcs._tcp.secure.example.";

/// An update of the SRV RRset at `owner` in `zone`.
fn update(
    zone: &str,
    owner: &str,
    expected: Expected,
    delete: &[&str],
    add: &[&str],
) -> UpdateRequest {
    UpdateRequest {
        zone: name(zone),
        name: name(owner),
        expected,
        delete: delete.iter().map(|t| srv_record(owner, t, 0)).collect(),
        add: add.iter().map(|t| srv_record(owner, t, 3600)).collect(),
    }
}

/// Waits until every thread of `pid` is stopped: SIGSTOP is delivered
/// asynchronously, and a thread still running can answer one more query.
fn wait_stopped(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process exists");
        let all_stopped = tasks.filter_map(Result::ok).all(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().next());
            matches!(state, Some("T" | "t"))
        });
        if all_stopped {
            return;
        }
        assert!(Instant::now() < deadline, "named {pid} did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A port nothing listens on: bound once to find it free, then released.
fn unused_port() -> SocketAddr {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    socket.local_addr().expect("local address")
}

#[tokio::test]
async fn queries_tell_records_nodata_nxdomain_and_refused_apart() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    let primary = bed.primary();

    let records = dns::query(
        primary,
        &name("_vlmcs._tcp.static.example."),
        RecordType::SRV,
        &opts,
    )
    .await
    .expect("a reply");
    assert_eq!(records.rcode(), ResponseCode::NoError);
    assert!(records.is_authoritative());
    assert!(
        !records.recursion_available(),
        "the test bed has recursion no"
    );
    assert_eq!(records.status(), Ok(AnswerStatus::Records));
    assert_eq!(records.question_records().map(|r| r.len()), Ok(2));
    assert_eq!(records.transport(), Transport::Udp);

    let nodata = dns::query(
        primary,
        &name("ns1.static.example."),
        RecordType::SRV,
        &opts,
    )
    .await
    .expect("a reply");
    assert_eq!(nodata.status(), Ok(AnswerStatus::NoData));
    assert_eq!(nodata.question_records(), Ok(Vec::new()));
    let (zone, _) = nodata.zone_soa().expect("the SOA of a negative answer");
    assert_eq!(zone, &name("static.example."));

    let nxdomain = dns::query(
        primary,
        &name("_vlmcs._tcp.nowhere.static.example."),
        RecordType::SRV,
        &opts,
    )
    .await
    .expect("a reply");
    assert_eq!(nxdomain.status(), Ok(AnswerStatus::NxDomain));
    assert_eq!(nxdomain.rcode(), ResponseCode::NXDomain);
    let (zone, soa) = nxdomain.zone_soa().expect("NXDOMAIN carries the SOA");
    assert_eq!(zone, &name("static.example."));
    assert_eq!(soa.minimum(), 60);

    // Not a zone of this server, and it does not recurse: REFUSED, which
    // must never read as "no records".
    let refused = dns::query(
        primary,
        &name("_vlmcs._tcp.elsewhere.test."),
        RecordType::SRV,
        &opts,
    )
    .await
    .expect("a reply");
    assert_eq!(refused.rcode(), ResponseCode::Refused);
    assert!(matches!(
        refused.question_records(),
        Err(ReplyError::Refused { .. })
    ));
    assert!(refused.status().is_err());

    // RD set: the authoritative server answers the same from its zone.
    let recursive = dns::query_recursive(
        primary,
        &name("_vlmcs._tcp.static.example."),
        RecordType::SRV,
        &opts,
    )
    .await
    .expect("a reply");
    assert_eq!(recursive.question_records().map(|r| r.len()), Ok(2));
}

#[tokio::test]
async fn a_truncated_reply_is_asked_again_over_tcp_and_a_large_update_goes_over_tcp() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    // 60 SRV records: the update is far above 512 bytes, the answer above
    // the 1232-byte EDNS payload.
    let targets: Vec<String> = (0..60)
        .map(|n| format!("kms{n:02}.secure.example."))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let request = update(
        "secure.example.",
        SECURE_OWNER,
        Expected::Absent,
        &[],
        &targets,
    );
    let sent = dns::send_update(bed.primary(), &request, Some(&key("kmsdns-secure")), &opts)
        .await
        .expect("the update applies");
    assert_eq!(sent.transport, Transport::Tcp);
    assert!(sent.signed, "the TCP reply verifies with our key");

    let response = dns::query(bed.primary(), &name(SECURE_OWNER), RecordType::SRV, &opts)
        .await
        .expect("a reply");
    assert_eq!(response.transport(), Transport::Tcp);
    assert_eq!(response.question_records().map(|r| r.len()), Ok(60));

    // The resolver falls back to TCP as well.
    let resolver = Resolver::with_nameserver(bed.primary(), &opts);
    let answer = resolver.srv(&name(SECURE_OWNER)).await.expect("an answer");
    assert_eq!(answer.records.len(), 60);
}

#[tokio::test]
async fn find_zone_for_an_apex_and_for_a_name_below_it() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    let resolver = Resolver::with_nameserver(bed.primary(), &opts);
    let ns1 = SocketAddr::new(Server::Ns1.ip().into(), bed.port());

    let apex = dns::find_zone(&name("secure.example."), &resolver, &opts)
        .await
        .expect("the zone of its own apex");
    assert_eq!(apex.zone, name("secure.example."));
    assert_eq!(apex.mname, name("ns1.secure.example."));
    assert_eq!(apex.serial, 1);
    assert_eq!(
        (apex.refresh, apex.retry, apex.expire, apex.minimum),
        (3600, 600, 86400, 60)
    );
    assert_eq!(apex.primary, vec![ns1], "MNAME's address at --dns-port");

    // `branch` does not exist: NXDOMAIN, and the SOA in the authority
    // section still names the zone.
    let below = dns::find_zone(
        &name("_vlmcs._tcp.branch.secure.example."),
        &resolver,
        &opts,
    )
    .await
    .expect("the zone of a name below the apex");
    assert_eq!(below.zone, name("secure.example."));
    assert_eq!(below.primary, vec![ns1]);

    // An existing name below the apex (NODATA for SOA).
    let host = dns::find_zone(&name("kms1.secure.example."), &resolver, &opts)
        .await
        .expect("the zone of an existing host");
    assert_eq!(host.zone, name("secure.example."));

    // An explicit server: asked directly, and it is where updates go.
    let secondary = bed.addr(Server::Ns2);
    let at = dns::find_zone_at(
        secondary,
        &name("_vlmcs._tcp.branch.secure.example."),
        &opts,
    )
    .await
    .expect("the zone from an explicit server");
    assert_eq!(at.zone, name("secure.example."));
    assert_eq!(at.mname, name("ns1.secure.example."));
    assert_eq!(at.primary, vec![secondary]);

    // A name the server does not serve: its REFUSED is an error.
    let refused =
        dns::find_zone_at(bed.primary(), &name("_vlmcs._tcp.elsewhere.test."), &opts).await;
    assert!(
        matches!(
            refused,
            Err(DiscoveryError::Reply {
                source: ReplyError::Refused { .. },
                ..
            })
        ),
        "{refused:?}"
    );
    let refused = dns::find_zone(&name("_vlmcs._tcp.elsewhere.test."), &resolver, &opts).await;
    assert!(
        matches!(
            refused,
            Err(DiscoveryError::Lookup {
                source: LookupError::Refused { .. },
                ..
            })
        ),
        "{refused:?}"
    );

    let servers = dns::authoritative_servers(&name("secure.example."), &resolver, &opts)
        .await
        .expect("the NS set");
    let found: Vec<(String, Vec<SocketAddr>)> = servers
        .into_iter()
        .map(|server| (server.name.to_ascii(), server.addresses.expect("addresses")))
        .collect();
    let mut found = found;
    found.sort();
    let expected: Vec<(String, Vec<SocketAddr>)> = Server::ALL
        .iter()
        .map(|server| {
            (
                format!("{}.secure.example.", server.name()),
                vec![bed.addr(*server)],
            )
        })
        .collect();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn the_resolver_accepts_an_authoritative_only_server_and_keeps_refused_apart() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    let resolver = Resolver::with_nameserver(bed.primary(), &opts);
    assert_eq!(resolver.via(), format!("nameserver {}", bed.primary()));

    // Answers without RA are accepted.
    let srv = resolver
        .srv(&name("_vlmcs._tcp.static.example."))
        .await
        .expect("an answer");
    assert_eq!(srv.status, AnswerStatus::Records);
    assert_eq!(srv.ttl, Some(3600));
    let targets: BTreeSet<String> = srv.records.iter().map(|s| s.target.to_ascii()).collect();
    assert_eq!(
        targets,
        set(&["kms1.secure.example.", "kms2.secure.example."])
    );

    let nx = resolver
        .srv(&name("_vlmcs._tcp.nowhere.static.example."))
        .await
        .expect("NXDOMAIN is an answer");
    assert_eq!(nx.status, AnswerStatus::NxDomain);
    assert!(nx.records.is_empty());
    let nodata = resolver
        .srv(&name("ns1.static.example."))
        .await
        .expect("NODATA is an answer");
    assert_eq!(nodata.status, AnswerStatus::NoData);
    let nodata = resolver
        .lookup(&name("ns1.static.example."), RecordType::SRV)
        .await
        .expect("NODATA is an answer");
    assert!(nodata.soa.is_some(), "the negative answer keeps its SOA");

    let refused = resolver.srv(&name("_vlmcs._tcp.elsewhere.test.")).await;
    assert!(
        matches!(refused, Err(LookupError::Refused { .. })),
        "{refused:?}"
    );

    let kms1 = resolver
        .addresses(&name("kms1.secure.example."))
        .await
        .expect("addresses");
    assert_eq!(kms1.ipv4.records, vec![Ipv4Addr::new(127, 53, 1, 1)]);
    assert_eq!(kms1.ipv6.status, AnswerStatus::NoData);
    assert!(!kms1.is_alias());

    // RFC 2782: a target that is an alias is visible as such.
    let alias = resolver
        .addresses(&name("alias.broken.example."))
        .await
        .expect("addresses");
    assert!(alias.is_alias());
    assert_eq!(alias.ipv4.records, vec![Ipv4Addr::new(127, 53, 1, 1)]);

    let noaddr = resolver
        .addresses(&name("noaddr.broken.example."))
        .await
        .expect("addresses");
    assert!(noaddr.is_empty());
    assert_eq!(noaddr.ipv4.status, AnswerStatus::NoData);

    // No cache: a change is seen at once.
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\nupdate add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms1.secure.example.\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let before = resolver
        .srv(&name("_vlmcs._tcp.open.example."))
        .await
        .expect("an answer");
    assert_eq!(before.records.len(), 1);
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\nupdate add _vlmcs._tcp.open.example. 3600 IN SRV 0 0 1688 kms2.secure.example.\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let after = resolver
        .srv(&name("_vlmcs._tcp.open.example."))
        .await
        .expect("an answer");
    assert_eq!(after.records.len(), 2);
}

#[tokio::test]
async fn signed_add_and_delete_change_only_their_own_record() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    let key = key("kmsdns-secure");
    let primary = bed.primary();
    let zone = "secure.example.";

    let added = dns::send_update(
        primary,
        &update(
            zone,
            SECURE_OWNER,
            Expected::Absent,
            &[],
            &["kms1.secure.example."],
        ),
        Some(&key),
        &opts,
    )
    .await
    .expect("the first add applies");
    assert!(added.signed);
    assert_eq!(added.sends, 1);
    assert_eq!(added.transport, Transport::Udp);
    assert_eq!(
        bed.srv_set(Server::PRIMARY, SECURE_OWNER),
        set(&["0 0 1688 kms1.secure.example."])
    );

    dns::send_update(
        primary,
        &update(
            zone,
            SECURE_OWNER,
            Expected::Exactly(vec![srv("kms1.secure.example.")]),
            &[],
            &["kms2.secure.example."],
        ),
        Some(&key),
        &opts,
    )
    .await
    .expect("the second add applies");
    assert_eq!(
        bed.srv_set(Server::PRIMARY, SECURE_OWNER),
        set(&[
            "0 0 1688 kms1.secure.example.",
            "0 0 1688 kms2.secure.example."
        ])
    );

    dns::send_update(
        primary,
        &update(
            zone,
            SECURE_OWNER,
            Expected::Exactly(vec![
                srv("kms2.secure.example."),
                srv("kms1.secure.example."),
            ]),
            &["kms1.secure.example."],
            &[],
        ),
        Some(&key),
        &opts,
    )
    .await
    .expect("the delete applies");
    assert_eq!(
        bed.srv_set(Server::PRIMARY, SECURE_OWNER),
        set(&["0 0 1688 kms2.secure.example."])
    );
    assert_eq!(bed.soa_serial(Server::PRIMARY, "secure.example"), 4);

    // Below the apex, in the same zone.
    let branch = "_vlmcs._tcp.branch.secure.example.";
    dns::send_update(
        primary,
        &update(
            zone,
            branch,
            Expected::Absent,
            &[],
            &["kms1.secure.example."],
        ),
        Some(&key),
        &opts,
    )
    .await
    .expect("the branch add applies");
    assert_eq!(
        bed.srv_set(Server::PRIMARY, branch),
        set(&["0 0 1688 kms1.secure.example."])
    );

    // An open zone takes unsigned updates.
    let open = "_vlmcs._tcp.open.example.";
    let unsigned = dns::send_update(
        primary,
        &update(
            "open.example.",
            open,
            Expected::Absent,
            &[],
            &["kms1.secure.example."],
        ),
        None,
        &opts,
    )
    .await
    .expect("the open zone accepts it");
    assert!(!unsigned.signed);
}

#[tokio::test]
async fn a_prerequisite_on_the_rrset_as_read_detects_a_concurrent_change() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    let key = key("kmsdns-secure");
    let primary = bed.primary();
    let zone = "secure.example.";

    dns::send_update(
        primary,
        &update(
            zone,
            SECURE_OWNER,
            Expected::Absent,
            &[],
            &["kms1.secure.example."],
        ),
        Some(&key),
        &opts,
    )
    .await
    .expect("the first add applies");

    // Another host publishes its own record meanwhile.
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &format!(
            "server {} {}\nzone secure.example\nupdate add {SECURE_OWNER} 3600 IN SRV 10 50 1688 other.secure.example.\nsend\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");

    let stale = dns::send_update(
        primary,
        &update(
            zone,
            SECURE_OWNER,
            Expected::Exactly(vec![srv("kms1.secure.example.")]),
            &["kms1.secure.example."],
            &["kms2.secure.example."],
        ),
        Some(&key),
        &opts,
    )
    .await;
    assert!(
        matches!(
            stale,
            Err(UpdateError::PrerequisiteFailed {
                rcode: PrerequisiteRcode::NxRrset,
                retransmitted: false,
                ..
            })
        ),
        "{stale:?}"
    );

    let absent = dns::send_update(
        primary,
        &update(
            zone,
            SECURE_OWNER,
            Expected::Absent,
            &[],
            &["kms2.secure.example."],
        ),
        Some(&key),
        &opts,
    )
    .await;
    assert!(
        matches!(
            absent,
            Err(UpdateError::PrerequisiteFailed {
                rcode: PrerequisiteRcode::YxRrset,
                ..
            })
        ),
        "{absent:?}"
    );

    // Nothing changed: the other host's record survived.
    assert_eq!(bed.soa_serial(Server::PRIMARY, "secure.example"), serial);
    assert_eq!(
        bed.srv_set(Server::PRIMARY, SECURE_OWNER),
        set(&[
            "0 0 1688 kms1.secure.example.",
            "10 50 1688 other.secure.example."
        ])
    );
}

#[tokio::test]
async fn rejected_updates_say_why() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    let primary = bed.primary();
    let add = update(
        "secure.example.",
        SECURE_OWNER,
        Expected::Absent,
        &[],
        &["kms1.secure.example."],
    );

    let wrong_secret = key("wrong-secret");
    let badsig = dns::send_update(primary, &add, Some(&wrong_secret), &opts).await;
    assert!(
        matches!(
            badsig,
            Err(UpdateError::NotAuth {
                tsig_error: Some(TsigError::BadSig),
                ..
            })
        ),
        "{badsig:?}"
    );
    let shown = format!(
        "{} {:?}",
        badsig.as_ref().unwrap_err(),
        badsig.as_ref().unwrap_err()
    );
    assert!(shown.contains("BADSIG"), "{shown}");
    assert!(
        !shown.contains("G7wWvwdw6K6I95V8kYP9wsgV2qZoF52WKxNL"),
        "no secret in errors"
    );

    let badkey = dns::send_update(primary, &add, Some(&key("unknown")), &opts).await;
    assert!(
        matches!(
            badkey,
            Err(UpdateError::NotAuth {
                tsig_error: Some(TsigError::BadKey),
                ..
            })
        ),
        "{badkey:?}"
    );

    let unsigned = dns::send_update(primary, &add, None, &opts).await;
    assert!(
        matches!(unsigned, Err(UpdateError::Refused { signed: false, .. })),
        "{unsigned:?}"
    );

    // A valid key where it has no grant: another name of the zone, and a
    // zone that takes no updates at all.
    let key = key("kmsdns-secure");
    let ungranted_name = update(
        "secure.example.",
        "_vlmcs._tcp.other.secure.example.",
        Expected::Absent,
        &[],
        &["kms1.secure.example."],
    );
    let refused = dns::send_update(primary, &ungranted_name, Some(&key), &opts).await;
    assert!(
        matches!(
            &refused,
            Err(UpdateError::Refused {
                signed: true,
                key: Some(_),
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("is not granted"));
    let static_zone = update(
        "static.example.",
        "_vlmcs._tcp.static.example.",
        Expected::Absent,
        &[],
        &["kms1.secure.example."],
    );
    let refused = dns::send_update(primary, &static_zone, Some(&key), &opts).await;
    assert!(
        matches!(refused, Err(UpdateError::Refused { signed: true, .. })),
        "{refused:?}"
    );

    // A secondary refuses updates (no forwarding configured). Signed, it
    // would answer BADKEY: the test bed gives the key to the primary only.
    let to_secondary = dns::send_update(bed.addr(Server::Ns2), &add, None, &opts).await;
    assert!(
        matches!(to_secondary, Err(UpdateError::Refused { .. })),
        "{to_secondary:?}"
    );

    for zone in ["secure.example", "static.example"] {
        assert_eq!(bed.soa_serial(Server::PRIMARY, zone), 1, "{zone} unchanged");
    }
}

#[tokio::test]
async fn a_missing_or_silent_server_fails_within_the_bounds() {
    let mut bed = TestBed::start();
    let opts = DnsOptions {
        timeout: Duration::from_millis(300),
        attempts: 2,
        dns_port: bed.port(),
    };
    let owner = name("_vlmcs._tcp.static.example.");
    let add = update(
        "secure.example.",
        SECURE_OWNER,
        Expected::Absent,
        &[],
        &["kms1.secure.example."],
    );

    // Nothing listens: ICMP port unreachable comes back at once (in well
    // under 1 ms here). Asked with a timeout of OVERDUE, so that a call
    // that waited for a reply instead would take at least that long.
    let patient = DnsOptions {
        timeout: common::OVERDUE,
        ..opts
    };
    let nobody = unused_port();
    let started = Instant::now();
    let refused = dns::query(nobody, &owner, RecordType::SRV, &patient).await;
    assert!(
        matches!(refused, Err(dns::QueryError::Unreachable { .. })),
        "{refused:?}"
    );
    let update_refused = dns::send_update(nobody, &add, None, &patient).await;
    assert!(
        matches!(update_refused, Err(UpdateError::Unreachable { .. })),
        "{update_refused:?}"
    );
    assert!(
        started.elapsed() < common::OVERDUE,
        "{:?}",
        started.elapsed()
    );

    // A stopped named: the same.
    bed.stop(Server::Ns3);
    let stopped = dns::query(bed.addr(Server::Ns3), &owner, RecordType::SRV, &opts).await;
    assert!(
        matches!(stopped, Err(dns::QueryError::Unreachable { .. })),
        "{stopped:?}"
    );

    // A paused named: silence, two attempts of 300 ms (0.6 s here). The
    // lower bounds and `attempts: 2` say the timeout held; the upper ones
    // only that nothing waited far longer.
    bed.pause(Server::Ns2);
    wait_stopped(bed.named(Server::Ns2).pid());
    let silent = bed.addr(Server::Ns2);
    let started = Instant::now();
    let timeout = dns::query(silent, &owner, RecordType::SRV, &opts).await;
    let waited = started.elapsed();
    assert!(
        matches!(timeout, Err(dns::QueryError::Timeout { attempts: 2, .. })),
        "{timeout:?}"
    );
    assert!(
        waited >= Duration::from_millis(600) && waited < common::OVERDUE,
        "{waited:?}"
    );

    let started = Instant::now();
    let update_timeout = dns::send_update(silent, &add, Some(&key("kmsdns-secure")), &opts).await;
    assert!(
        matches!(
            update_timeout,
            Err(UpdateError::Timeout { attempts: 2, .. })
        ),
        "{update_timeout:?}"
    );
    assert!(started.elapsed() < common::OVERDUE);

    // The resolver path is bounded the same way.
    let resolver = Resolver::with_nameserver(silent, &opts);
    let started = Instant::now();
    let lookup = resolver.srv(&owner).await;
    assert!(
        matches!(lookup, Err(LookupError::Timeout { .. })),
        "{lookup:?}"
    );
    assert!(
        started.elapsed() < common::OVERDUE,
        "{:?}",
        started.elapsed()
    );
    let resolver = Resolver::with_nameserver(nobody, &opts);
    let lookup = resolver.srv(&owner).await;
    assert!(
        matches!(
            lookup,
            Err(LookupError::Unreachable { .. } | LookupError::Timeout { .. })
        ),
        "{lookup:?}"
    );
    bed.resume(Server::Ns2);
}

/// A UDP relay in front of a server that drops the first `drop` replies,
/// as a lossy network would: the client must resend the same message.
async fn lossy_relay(server: SocketAddr, drop: usize) -> SocketAddr {
    let front = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind the relay");
    let addr = front.local_addr().expect("relay address");
    tokio::spawn(async move {
        let back = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        back.connect(server).await.expect("connect");
        let mut buffer = vec![0u8; 65535];
        let mut reply = vec![0u8; 65535];
        let mut dropped = 0;
        loop {
            let Ok((len, client)) = front.recv_from(&mut buffer).await else {
                return;
            };
            if back.send(&buffer[..len]).await.is_err() {
                return;
            }
            let Ok(got) = back.recv(&mut reply).await else {
                return;
            };
            if dropped < drop {
                dropped += 1;
                continue;
            }
            let _ = front.send_to(&reply[..got], client).await;
        }
    });
    addr
}

#[tokio::test]
async fn a_retransmitted_update_is_applied_once() {
    let bed = TestBed::start();
    let opts = DnsOptions {
        timeout: Duration::from_millis(500),
        attempts: 3,
        dns_port: bed.port(),
    };
    let relay = lossy_relay(bed.primary(), 1).await;
    let add = update(
        "secure.example.",
        SECURE_OWNER,
        Expected::Absent,
        &[],
        &["kms1.secure.example."],
    );
    let replayed = dns::send_update(relay, &add, Some(&key("kmsdns-secure")), &opts).await;
    // The first copy was applied and its reply lost; the second copy, the
    // very same message, fails its prerequisite instead of applying again.
    assert!(
        matches!(
            replayed,
            Err(UpdateError::PrerequisiteFailed {
                rcode: PrerequisiteRcode::YxRrset,
                retransmitted: true,
                ..
            })
        ),
        "{replayed:?}"
    );
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "secure.example"),
        2,
        "applied exactly once"
    );
    assert_eq!(
        bed.srv_set(Server::PRIMARY, SECURE_OWNER),
        set(&["0 0 1688 kms1.secure.example."])
    );
}

/// A fake server that answers every query with what `reply` makes of it.
async fn fake_server(reply: fn(&hickory_proto::op::Message) -> Vec<Vec<u8>>) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = socket.local_addr().expect("address");
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 65535];
        loop {
            let Ok((len, client)) = socket.recv_from(&mut buffer).await else {
                return;
            };
            let Ok(request) = hickory_proto::op::Message::from_vec(&buffer[..len]) else {
                continue;
            };
            for datagram in reply(&request) {
                let _ = socket.send_to(&datagram, client).await;
            }
        }
    });
    addr
}

/// An authoritative NODATA to `request`, with the zone's SOA in the
/// authority section as a negative answer carries it (RFC 2308 §3).
fn answer_to(request: &hickory_proto::op::Message, id: u16) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType};
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::{RData, Record};
    let zone = name("corp.example.");
    let soa = SOA::new(zone.clone(), zone.clone(), 1, 3600, 600, 86400, 300);
    let mut reply = Message::new();
    reply
        .set_id(id)
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .add_queries(request.queries().to_vec())
        .add_name_server(Record::from_rdata(zone, 300, RData::SOA(soa)));
    reply.to_vec().expect("encode")
}

#[tokio::test]
async fn replies_that_do_not_match_are_dropped_or_reported() {
    let opts = DnsOptions {
        timeout: Duration::from_millis(200),
        attempts: 2,
        dns_port: 53,
    };
    let owner = name("_vlmcs._tcp.corp.example.");

    // A forged reply (wrong ID) first, then the real one: the forgery is
    // ignored and the real answer read.
    let spoofed_first = fake_server(|request| {
        vec![
            answer_to(request, request.id().wrapping_add(1)),
            answer_to(request, request.id()),
        ]
    })
    .await;
    let response = dns::query(spoofed_first, &owner, RecordType::SRV, &opts)
        .await
        .expect("the real reply");
    assert_eq!(response.status(), Ok(AnswerStatus::NoData));

    // Only forgeries: reported as such once the attempts are spent.
    let only_spoofed = fake_server(|request| vec![answer_to(request, request.id() ^ 0x8000)]).await;
    let mismatch = dns::query(only_spoofed, &owner, RecordType::SRV, &opts).await;
    assert!(
        matches!(mismatch, Err(dns::QueryError::Mismatch { .. })),
        "{mismatch:?}"
    );

    // Our ID, but not a DNS message, then the real reply: anyone can send
    // a datagram with our ID, so it is dropped and the real one read.
    let garbage_first = fake_server(|request| {
        let id = request.id().to_be_bytes();
        vec![
            vec![id[0], id[1], 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xff],
            answer_to(request, request.id()),
        ]
    })
    .await;
    let response = dns::query(garbage_first, &owner, RecordType::SRV, &opts)
        .await
        .expect("the real reply after the garbage");
    assert_eq!(response.status(), Ok(AnswerStatus::NoData));

    // Only such garbage: malformed, once the attempts are spent.
    let garbage = fake_server(|request| {
        let id = request.id().to_be_bytes();
        vec![vec![id[0], id[1], 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xff]]
    })
    .await;
    let malformed = dns::query(garbage, &owner, RecordType::SRV, &opts).await;
    assert!(
        matches!(malformed, Err(dns::QueryError::Malformed { .. })),
        "{malformed:?}"
    );
}

/// Inside a socket pool one socket serves exchange after exchange, and a
/// late copy of an earlier reply waiting on it is neither read as the
/// next answer nor reported as a forgery.
#[tokio::test]
async fn a_pooled_socket_is_reused_and_skips_late_copies() {
    let opts = DnsOptions {
        timeout: Duration::from_millis(300),
        attempts: 1,
        dns_port: 53,
    };
    // Every question about `twice.` is answered twice; the rest never.
    let server = fake_server(|request| {
        let twice = request
            .queries()
            .first()
            .is_some_and(|q| q.name().to_ascii().starts_with("twice."));
        if twice {
            vec![answer_to(request, request.id()); 2]
        } else {
            Vec::new()
        }
    })
    .await;
    let pool = dns::SocketPool::new();
    pool.scope(async {
        for _ in 0..5 {
            let response = dns::query(server, &name("twice.corp.example."), RecordType::SRV, &opts)
                .await
                .expect("the reply");
            assert_eq!(response.status(), Ok(AnswerStatus::NoData));
        }
        // The copy of the last reply is waiting on the socket: still, no
        // reply came to this question.
        let silent = dns::query(server, &name("never.corp.example."), RecordType::SRV, &opts).await;
        assert!(
            matches!(silent, Err(dns::QueryError::Timeout { .. })),
            "{silent:?}"
        );
    })
    .await;
    assert_eq!(pool.opened(), 1, "one socket for every exchange");

    // Outside a pool, each exchange has a socket of its own.
    let response = dns::query(server, &name("twice.corp.example."), RecordType::SRV, &opts)
        .await
        .expect("the reply");
    assert_eq!(response.status(), Ok(AnswerStatus::NoData));
    assert_eq!(pool.opened(), 1);
}

/// The resolver asks its servers in order and takes the first that
/// answers; when none does, the last failure is the lookup's.
#[tokio::test]
async fn the_resolver_moves_on_to_the_next_server() {
    let bed = TestBed::start();
    let opts = DnsOptions {
        timeout: Duration::from_millis(300),
        attempts: 1,
        dns_port: bed.port(),
    };
    // Bound and never read: queries to it go unanswered.
    let silent_socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let silent = silent_socket.local_addr().expect("address");
    let nobody = unused_port();

    let resolver =
        Resolver::with_nameservers(&[nobody, silent, bed.primary()], &opts).expect("servers");
    let srv = resolver
        .srv(&name("_vlmcs._tcp.static.example."))
        .await
        .expect("the third server answers");
    assert_eq!(srv.records.len(), 2);
    // NXDOMAIN is an answer: nobody else is asked.
    let nx = resolver
        .srv(&name("_vlmcs._tcp.nowhere.static.example."))
        .await
        .expect("an answer");
    assert_eq!(nx.status, AnswerStatus::NxDomain);

    // REFUSED from the first (not authoritative), records from the second.
    let elsewhere = Resolver::with_nameservers(&[bed.primary(), silent], &opts).expect("servers");
    let refused = elsewhere
        .srv(&name("_vlmcs._tcp.elsewhere.test."))
        .await
        .expect_err("nobody knows it");
    assert!(
        matches!(refused, LookupError::Timeout { .. }),
        "the last server's failure: {refused:?}"
    );
    assert!(Resolver::with_nameservers(&[], &opts).is_none());
}

/// CNAME chains as BIND serves them: followed to the data, asked again
/// where the server stops at an alias it is not authoritative for, and
/// never forever; a referral is not an answer.
#[tokio::test]
async fn the_resolver_follows_aliases_and_knows_a_referral() {
    let bed = TestBed::start();
    let opts = opts(&bed);
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add hop.open.example. 300 IN CNAME alias.broken.example.\n\
             update add away.open.example. 300 IN CNAME kms.elsewhere.test.\n\
             update add loop1.open.example. 300 IN CNAME loop2.open.example.\n\
             update add loop2.open.example. 300 IN CNAME loop1.open.example.\n\
             update add child.open.example. 300 IN NS ns.child.open.example.\n\
             update add ns.child.open.example. 300 IN A 127.53.9.9\n\
             send\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    let resolver = Resolver::with_nameserver(bed.primary(), &opts);

    // hop -> alias.broken.example -> kms1.secure.example: two aliases.
    let hop = resolver
        .lookup(&name("hop.open.example."), RecordType::A)
        .await
        .expect("addresses");
    assert_eq!(hop.status, AnswerStatus::Records);
    assert_eq!(hop.aliases.len(), 2, "{hop:?}");
    assert_eq!(hop.records.len(), 1);
    assert_eq!(hop.records[0].name(), &name("kms1.secure.example."));

    // BIND stops at the alias it cannot follow; asked for the target, it
    // refuses, and so the lookup says.
    let away = resolver
        .lookup(&name("away.open.example."), RecordType::A)
        .await;
    match away {
        Err(LookupError::Refused { name: asked, .. }) => {
            assert_eq!(asked, name("kms.elsewhere.test."))
        }
        other => panic!("{other:?}"),
    }

    // BIND finds the loop itself and fails the query.
    let looped = resolver
        .lookup(&name("loop1.open.example."), RecordType::A)
        .await;
    assert!(
        matches!(looped, Err(LookupError::ServFail { .. })),
        "{looped:?}"
    );

    let referral = resolver
        .lookup(&name("host.child.open.example."), RecordType::A)
        .await;
    assert!(
        matches!(referral, Err(LookupError::Referral { .. })),
        "{referral:?}"
    );
}

/// A server that hands out one alias per reply, in a circle, or a chain
/// longer than any real one: the lookup ends with an error, not forever.
#[tokio::test]
async fn the_resolver_stops_at_alias_loops_and_endless_chains() {
    use hickory_proto::op::Message;
    use hickory_proto::rr::rdata::CNAME;
    let opts = DnsOptions {
        timeout: Duration::from_millis(300),
        attempts: 1,
        dns_port: 53,
    };
    // a.loop. -> b.loop. -> a.loop.; N.chain. -> N+1.chain.
    let server = fake_server(|request| {
        let Some(question) = request.queries().first() else {
            return Vec::new();
        };
        let asked = question.name().to_ascii();
        let target = match asked.as_str() {
            "a.loop." => "b.loop.".to_owned(),
            "b.loop." => "a.loop.".to_owned(),
            chain => {
                let n: u32 = chain
                    .split('.')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                format!("{}.chain.", n + 1)
            }
        };
        let reply = answer_to(request, request.id());
        let mut reply = Message::from_vec(&reply).expect("decode");
        reply.add_answer(Record::from_rdata(
            question.name().clone(),
            60,
            RData::CNAME(CNAME(Name::from_ascii(&target).expect("name"))),
        ));
        vec![reply.to_vec().expect("encode")]
    })
    .await;
    let resolver = Resolver::with_nameserver(server, &opts);
    let looped = resolver.lookup(&name("a.loop."), RecordType::A).await;
    assert!(
        matches!(&looped, Err(LookupError::Failed { reason, .. }) if reason.contains("loop")),
        "{looped:?}"
    );
    let endless = resolver.lookup(&name("0.chain."), RecordType::A).await;
    assert!(
        matches!(&endless, Err(LookupError::Failed { reason, .. }) if reason.contains("more than")),
        "{endless:?}"
    );
}

/// A UDP reply larger than any server may send (RFC 6891: at most the
/// payload size kmsdns advertises) fills the receive buffer and may have
/// been cut: it is never read as the answer; TCP is asked instead (here,
/// nothing listens there).
#[tokio::test]
async fn an_oversized_udp_reply_is_taken_as_truncated() {
    let opts = DnsOptions {
        timeout: Duration::from_millis(300),
        attempts: 1,
        dns_port: 53,
    };
    // A well-formed reply followed by 5,000 bytes: whatever part of it
    // arrives parses.
    let server = fake_server(|request| {
        let mut reply = answer_to(request, request.id());
        reply.extend(std::iter::repeat_n(0u8, 5000));
        vec![reply]
    })
    .await;
    let big = name("big.corp.example.");
    for pool in [None, Some(dns::SocketPool::new())] {
        let ask = dns::query(server, &big, RecordType::SRV, &opts);
        let result = match &pool {
            Some(pool) => pool.scope(ask).await,
            None => ask.await,
        };
        assert!(
            matches!(result, Err(dns::QueryError::Unreachable { .. })),
            "over TCP, where nothing listens: {result:?}"
        );
    }
}
