//! Proves the real-BIND test bed of `tests/common/bind.rs` does what the
//! other integration tests rely on: three servers that agree, NOTIFY/IXFR
//! replication, the update rules of each zone, a lagging secondary on
//! request, isolation between test beds, and no process left behind.

use crate::common;

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::time::Duration;

use common::bind::{key_file, nsupdate, try_nsupdate, Server, TestBed, ZONES};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Replication measured at 50–100 ms; generous for a loaded CI machine.
const REPLICATION: Duration = Duration::from_secs(5);

/// An nsupdate script adding one SRV record for `target` to `zone`.
fn add_srv(bed: &TestBed, zone: &str, owner: &str, target: &str) -> String {
    format!(
        "server {} {}\nzone {zone}\nupdate add {owner} 3600 IN SRV 0 0 1688 {target}\nsend\n",
        Server::PRIMARY.ip(),
        bed.port()
    )
}

fn set(records: &[&str]) -> BTreeSet<String> {
    records.iter().map(|record| record.to_string()).collect()
}

#[test]
fn three_servers_answer_authoritatively_with_equal_serials() {
    let bed = TestBed::start();
    for zone in ZONES {
        for server in Server::ALL {
            let response = bed.query(server, zone, RecordType::SOA);
            assert_eq!(
                response.response_code(),
                ResponseCode::NoError,
                "{zone} on {server}"
            );
            assert!(response.authoritative(), "aa flag of {zone} on {server}");
            assert_eq!(
                bed.soa_serial(server, zone),
                1,
                "serial of {zone} on {server}"
            );
        }
    }
    let expected = set(&[
        "0 0 1688 kms1.secure.example.",
        "0 0 1688 kms2.secure.example.",
    ]);
    let broken = set(&[
        "0 0 1688 alias.broken.example.",
        "0 0 1688 noaddr.broken.example.",
        "0 0 1688 rogue.broken.example.",
        "0 0 1688 kms1.secure.example.",
    ]);
    for server in Server::ALL {
        assert_eq!(bed.srv_set(server, "_vlmcs._tcp.static.example"), expected);
        assert_eq!(bed.srv_set(server, "_vlmcs._tcp.broken.example."), broken);
        assert!(bed.srv_set(server, "_vlmcs._tcp.secure.example").is_empty());
    }
}

#[test]
fn signed_update_reaches_both_secondaries() {
    let bed = TestBed::start();
    let owner = "_vlmcs._tcp.secure.example.";
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &add_srv(&bed, "secure.example", owner, "kms1.secure.example."),
    );
    assert_eq!(bed.soa_serial(Server::PRIMARY, "secure.example"), 2);
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "secure.example", 2, REPLICATION);
        assert_eq!(
            bed.srv_set(secondary, owner),
            set(&["0 0 1688 kms1.secure.example."])
        );
    }
    // The grant also covers a publish-list domain below the zone apex.
    let branch = "_vlmcs._tcp.branch.secure.example.";
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &add_srv(&bed, "secure.example", branch, "kms2.secure.example."),
    );
    bed.wait_serial(Server::Ns3, "secure.example", 3, REPLICATION);
    assert_eq!(
        bed.srv_set(Server::Ns3, branch),
        set(&["0 0 1688 kms2.secure.example."])
    );
    // The secondaries caught up incrementally, not by a full transfer.
    let log = std::fs::read_to_string(bed.named(Server::PRIMARY).log()).unwrap();
    for secondary in Server::SECONDARIES {
        let ixfr = format!("{}#", secondary.ip());
        assert!(
            log.lines()
                .any(|line| line.contains(&ixfr) && line.contains("IXFR started (serial 1 -> 2)")),
            "no IXFR to {secondary} in the primary's log:\n{log}"
        );
    }
}

#[test]
fn secure_zone_refuses_unsigned_and_bad_keys() {
    let bed = TestBed::start();
    let script = add_srv(
        &bed,
        "secure.example",
        "_vlmcs._tcp.secure.example.",
        "kms1.secure.example.",
    );
    let refused = |key: Option<&Path>, why: &str| {
        let output = try_nsupdate(key, &script).expect_err("the update must fail");
        assert!(output.contains(why), "expected {why}, got: {output}");
    };
    refused(None, "REFUSED");
    refused(Some(&key_file("wrong-secret")), "BADSIG");
    refused(Some(&key_file("unknown")), "BADKEY");
    // The granted key may change only the _vlmcs._tcp SRV names.
    let address = format!(
        "server {} {}\nzone secure.example\nupdate add kms3.secure.example. 3600 IN A 127.53.1.3\nsend\n",
        Server::PRIMARY.ip(),
        bed.port()
    );
    let output = try_nsupdate(Some(&key_file("kmsdns-secure")), &address)
        .expect_err("the key is not granted A records");
    assert!(output.contains("REFUSED"), "{output}");
    for server in Server::ALL {
        assert_eq!(bed.soa_serial(server, "secure.example"), 1);
    }
}

#[test]
fn open_zone_accepts_unsigned_and_static_zone_refuses() {
    let bed = TestBed::start();
    let owner = "_vlmcs._tcp.open.example.";
    nsupdate(
        None,
        &add_srv(&bed, "open.example", owner, "kms1.secure.example."),
    );
    bed.wait_serial(Server::Ns2, "open.example", 2, REPLICATION);
    assert_eq!(
        bed.srv_set(Server::Ns2, owner),
        set(&["0 0 1688 kms1.secure.example."])
    );

    let script = add_srv(
        &bed,
        "static.example",
        "_vlmcs._tcp.static.example.",
        "rogue.example.",
    );
    let output = try_nsupdate(None, &script).expect_err("static.example must refuse");
    assert!(output.contains("REFUSED"), "{output}");
    let output = try_nsupdate(Some(&key_file("kmsdns-secure")), &script)
        .expect_err("static.example must refuse a signed update too");
    assert!(output.contains("REFUSED"), "{output}");
    assert_eq!(bed.soa_serial(Server::PRIMARY, "static.example"), 1);
}

#[test]
fn lagging_secondary_stays_behind() {
    let bed = TestBed::builder()
        .lagging_secondary("open.example", Server::Ns3)
        .start();
    let owner = "_vlmcs._tcp.open.example.";
    nsupdate(
        None,
        &add_srv(&bed, "open.example", owner, "kms1.secure.example."),
    );
    bed.wait_serial(Server::Ns2, "open.example", 2, REPLICATION);
    // Ns2 got it from the NOTIFY; give Ns3 the same time again to be sure.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(bed.soa_serial(Server::Ns3, "open.example"), 1);
    assert!(bed.srv_set(Server::Ns3, owner).is_empty());
    // Only that zone lags.
    nsupdate(
        Some(&key_file("kmsdns-secure")),
        &add_srv(
            &bed,
            "secure.example",
            "_vlmcs._tcp.secure.example.",
            "kms1.secure.example.",
        ),
    );
    bed.wait_serial(Server::Ns3, "secure.example", 2, REPLICATION);
}

#[test]
fn stopped_server_refuses_and_paused_server_times_out() {
    let mut bed = TestBed::start();
    let short = Duration::from_millis(300);

    bed.pause(Server::Ns2);
    let err = bed
        .try_query(Server::Ns2, "secure.example", RecordType::SOA, short)
        .expect_err("a paused server must not answer");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    bed.resume(Server::Ns2);
    assert_eq!(bed.soa_serial(Server::Ns2, "secure.example"), 1);

    bed.stop(Server::Ns3);
    let err = bed
        .try_query(Server::Ns3, "secure.example", RecordType::SOA, short)
        .expect_err("a stopped server must not answer");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
    assert_eq!(bed.soa_serial(Server::Ns1, "secure.example"), 1);
}

#[test]
fn two_test_beds_do_not_interfere() {
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(TestBed::start);
        let second = scope.spawn(TestBed::start);
        (first.join().unwrap(), second.join().unwrap())
    });
    assert_ne!(first.port(), second.port());
    let owner = "_vlmcs._tcp.open.example.";
    nsupdate(
        None,
        &add_srv(&first, "open.example", owner, "kms1.secure.example."),
    );
    first.wait_serial(Server::Ns3, "open.example", 2, REPLICATION);
    for server in Server::ALL {
        assert_eq!(second.soa_serial(server, "open.example"), 1);
        assert!(second.srv_set(server, owner).is_empty());
    }
}

#[test]
fn drop_leaves_no_named_process() {
    let mut bed = TestBed::start();
    // A paused server must be stopped too.
    bed.pause(Server::Ns2);
    let pids: Vec<u32> = Server::ALL.iter().map(|&s| bed.named(s).pid()).collect();
    let dir = bed.dir().to_path_buf();
    drop(bed);
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "named {pid} survived"
        );
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
