//! Fault injection between kmsdns and a real BIND: `check`, `replication`,
//! `plan`, `publish` and `remove` through the fault-injecting relay of
//! `tests/common/relay.rs`, every fault of issue 8 for every command where
//! it applies. Each case asserts the reported outcome (JSON outcome and
//! finding ids), the exit status, and what BIND serves afterwards, read
//! directly from BIND (never through kmsdns or the relay): an update is
//! applied exactly once (the SOA serial moves by one) or not at all (it
//! does not move), and the relay's counters say how many UPDATEs reached
//! BIND. Every run is bounded (`--timeout 1s`, three attempts), killed
//! and failed as a hang after [`DEADLINE`], and must not panic.
//!
//! Wiring:
//! - `plan`, `publish` and `remove` send every read and every update of a
//!   domain to its configured server: the configuration says
//!   `server = "<relay>"` under `[domain."…"]`, and the relay forwards to
//!   the test bed's primary.
//! - `check` reads the zone's answer at the configured server (one relay)
//!   and what clients see through `--nameserver` (a second relay), so each
//!   path gets its faults on its own. Both go through kmsdns's own
//!   exchange (the resolver asks with RD set), so each fault must end the
//!   same way on either.
//! - `replication` finds its servers in the zone's NS set, all asked at
//!   `--dns-port`, the test bed's port. A relay on another port cannot be
//!   one of them, and BIND holds the bed's port on 127.53.0.1–3. So the
//!   relay listens on 127.53.3.9 *with the bed's port* (Linux routes all of
//!   127/8 to `lo`: a plain socket needs no interface address), and the test
//!   adds `ns9.open.example.` (A 127.53.3.9) to the zone's NS set: a fourth
//!   authoritative server, really the primary behind the relay. Its row and
//!   findings show each fault while the three real servers stay in sync.
//!   A second part makes ns9 the zone's SOA MNAME, so the faulty server is
//!   the primary itself and the newest serial must stand in for it. (A test
//!   bed variant with a relay in front of a secondary would need changes to
//!   `tests/common/bind.rs` and would exercise the same code.)
//!
//! Test beds are shared by the cases of one test: read-only commands leave
//! the zones alone, and each `publish`/`remove` case works on its own
//! domain (`cN.open.example`) or puts the zone back as it found it.

use crate::common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use common::bind::{key_file, nsupdate, Server, TestBed};
use common::relay::{Fault, Kind, Proto, Relay, Rule, SPOOFED_TARGET};
use common::run::{Kmsdns, Run};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

/// `--timeout` of every run: per attempt, three attempts per exchange.
/// How many copies of an update reach BIND is asserted, so an attempt must
/// outlast BIND's slowest answer: with 300 ms, a signed UPDATE that BIND
/// took longer to apply on a loaded CI machine was sent a second time.
const TIMEOUT: Duration = Duration::from_secs(1);

/// How long one faulty run may take: a few exchanges of at most three
/// attempts each, and room for a loaded machine.
const BOUND: Duration = Duration::from_secs(20);

/// A run still going after this is killed and reported as a hang.
const DEADLINE: Duration = Duration::from_secs(60);

const KMS1: &str = "0 0 1688 kms1.secure.example.";
const KMS2: &str = "0 0 1688 kms2.secure.example.";
const FOREIGN: &str = "5 5 1688 other-kms.example.";

//------------ Running kmsdns ------------------------------------------------

/// `(id, severity)` of every finding.
fn findings(run: &Run) -> Vec<(String, String)> {
    run.json::<Value>()["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .map(|f| {
                    (
                        f["id"].as_str().unwrap_or_default().to_string(),
                        f["severity"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The message of the first finding with `id`.
fn message(run: &Run, id: &str) -> String {
    run.json::<Value>()["findings"]
        .as_array()
        .and_then(|findings| findings.iter().find(|f| f["id"] == id))
        .and_then(|f| f["message"].as_str())
        .unwrap_or_else(|| panic!("no finding {id}:\n{run}"))
        .to_string()
}

/// Runs kmsdns with `--timeout 1s --format json` before `args`, from a
/// directory without a configuration file; fails the test on a hang, a
/// panic or a run longer than [`BOUND`].
fn kmsdns(args: &[&str]) -> Run {
    let run = Kmsdns::new()
        .cwd(std::env::temp_dir())
        .args(["--timeout", &format!("{}ms", TIMEOUT.as_millis())])
        .args(["--format", "json"])
        .args(args)
        .timeout(DEADLINE)
        .run();
    assert!(!run.stderr.contains("panicked"), "panic:\n{run}");
    assert!(run.took < BOUND, "not bounded:\n{run}");
    run
}

/// A configuration in its own directory: hosts kms1 and kms2 of
/// secure.example publishing to `domains`, each sent to `server`, signed
/// with the test bed's key when `signed`.
struct Config {
    dir: tempfile::TempDir,
}

impl Config {
    fn new(domains: &[&str], server: SocketAddr, signed: bool) -> Config {
        let dir = tempfile::tempdir().expect("temp dir");
        let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
        let mut text = format!(
            "publish-list = [{}]\n\
             [[host]]\nname = \"kms1.secure.example\"\n\
             [[host]]\nname = \"kms2.secure.example\"\n",
            list.join(", ")
        );
        for domain in domains {
            let name = domain.split(',').next().expect("domain").trim();
            text.push_str(&format!("[domain.\"{name}\"]\nserver = \"{server}\"\n"));
            if signed {
                text.push_str("key = \"secure\"\n");
            }
        }
        if signed {
            text.push_str(&format!(
                "[tsig-key.secure]\nfile = \"{}\"\n",
                key_file("kmsdns-secure").display()
            ));
        }
        std::fs::write(dir.path().join("kmsdns.toml"), text).expect("write config");
        Config { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("kmsdns.toml")
    }

    fn arg(&self) -> String {
        self.path().display().to_string()
    }
}

/// `(id, severity)` pairs as [`Run::findings`] returns them.
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(id, severity)| (id.to_string(), severity.to_string()))
        .collect()
}

fn set(records: &[&str]) -> BTreeSet<String> {
    records.iter().map(|r| r.to_string()).collect()
}

fn owner(domain: &str) -> String {
    format!("_vlmcs._tcp.{domain}.")
}

//------------ The faults ----------------------------------------------------

/// The faults of issue 8, each made of relay rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    /// The first reply is lost; the retransmission gets through.
    FirstReplyLost,
    /// Every reply is lost; the requests arrive.
    RepliesLost,
    /// Every request is lost: the server never sees one.
    RequestsLost,
    /// Every reply 100 ms late, well within the timeout.
    Late,
    /// The first reply 1.5 timeouts late: after the retransmission went out.
    FirstReplyPastTimeout,
    /// Every reply 4 timeouts late: after every attempt.
    RepliesTooLate,
    /// TC set, no records, after the server saw the request; TCP works.
    Truncated,
    /// TC set without forwarding: only the TCP copy reaches the server.
    TruncatedUnseen,
    /// A NOERROR reply with another message ID first, then the real one.
    WrongIdFirst,
    /// A NOERROR reply about another question first, then the real one.
    OtherQuestionFirst,
    /// Every reply twice.
    DuplicateReplies,
    /// The request reaches the server twice; both replies come back.
    DuplicateRequest,
    /// The relay answers SERVFAIL itself.
    ServFail,
    /// REFUSED.
    Refused,
    /// FORMERR, always.
    FormErr,
    /// FORMERR once, as a server without EDNS answers (RFC 6891 §7).
    FormErrOnce,
    /// NOTIMP.
    NotImp,
    /// The first reply cut to 20 bytes (its ID intact, TC clear).
    CutOnce,
    /// Every reply cut to 20 bytes.
    CutAlways,
    /// A datagram of garbage first, then the real reply.
    GarbageFirst,
    /// The first reply replaced by garbage carrying the request's ID.
    GarbageWithIdOnce,
    /// TC over UDP; over TCP, half the reply, then the connection closes.
    TcpClosedMidMessage,
    /// TC over UDP; over TCP, accepted, never answered.
    TcpNeverAnswers,
}

impl F {
    const ALL: [F; 23] = [
        F::FirstReplyLost,
        F::RepliesLost,
        F::RequestsLost,
        F::Late,
        F::FirstReplyPastTimeout,
        F::RepliesTooLate,
        F::Truncated,
        F::TruncatedUnseen,
        F::WrongIdFirst,
        F::OtherQuestionFirst,
        F::DuplicateReplies,
        F::DuplicateRequest,
        F::ServFail,
        F::Refused,
        F::FormErr,
        F::FormErrOnce,
        F::NotImp,
        F::CutOnce,
        F::CutAlways,
        F::GarbageFirst,
        F::GarbageWithIdOnce,
        F::TcpClosedMidMessage,
        F::TcpNeverAnswers,
    ];

    /// The rules for this fault, each made by `on` from a [`Fault`] (which
    /// restricts it to the messages a test is about).
    fn rules(self, on: &dyn Fn(Fault) -> Rule) -> Vec<Rule> {
        let ms = Duration::from_millis;
        match self {
            F::FirstReplyLost => vec![on(Fault::DropReply).times(1)],
            F::RepliesLost => vec![on(Fault::DropReply)],
            F::RequestsLost => vec![on(Fault::DropRequest)],
            F::Late => vec![on(Fault::Delay(ms(100)))],
            F::FirstReplyPastTimeout => vec![on(Fault::Delay(TIMEOUT * 3 / 2)).times(1)],
            F::RepliesTooLate => vec![on(Fault::Delay(TIMEOUT * 4))],
            F::Truncated => vec![on(Fault::Truncate { forward: true })],
            F::TruncatedUnseen => vec![on(Fault::Truncate { forward: false })],
            F::WrongIdFirst => vec![on(Fault::WrongIdFirst)],
            F::OtherQuestionFirst => vec![on(Fault::OtherQuestionFirst)],
            F::DuplicateReplies => vec![on(Fault::Duplicate)],
            F::DuplicateRequest => vec![on(Fault::DuplicateRequest)],
            F::ServFail => vec![on(Fault::Rcode(ResponseCode::ServFail))],
            F::Refused => vec![on(Fault::Rcode(ResponseCode::Refused))],
            F::FormErr => vec![on(Fault::Rcode(ResponseCode::FormErr))],
            F::FormErrOnce => vec![on(Fault::Rcode(ResponseCode::FormErr)).times(1)],
            F::NotImp => vec![on(Fault::Rcode(ResponseCode::NotImp))],
            F::CutOnce => vec![on(Fault::Cut(20)).times(1)],
            F::CutAlways => vec![on(Fault::Cut(20))],
            F::GarbageFirst => vec![on(Fault::GarbageFirst)],
            F::GarbageWithIdOnce => vec![on(Fault::GarbageWithId).times(1)],
            F::TcpClosedMidMessage => vec![
                on(Fault::Truncate { forward: false }),
                on(Fault::CloseMidMessage),
            ],
            F::TcpNeverAnswers => vec![
                on(Fault::Truncate { forward: false }),
                on(Fault::NeverAnswer),
            ],
        }
    }

    /// Whether the fault sends the client over TCP.
    fn uses_tcp(self) -> bool {
        matches!(
            self,
            F::Truncated | F::TruncatedUnseen | F::TcpClosedMidMessage | F::TcpNeverAnswers
        )
    }
}

/// What a read through a faulty path comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// The fault is survived: the answer is BIND's.
    Ok,
    /// The read fails; the error says this.
    Fails(&'static str),
}

/// A read by kmsdns's own transport (the zone's answer in `check`, every
/// read of `plan`, `publish`, `remove` and `replication`): retransmission
/// after a timeout, TCP after TC, replies that do not match dropped and
/// waited past (RFC 5452 §9.1), EDNS dropped after a FORMERR without OPT.
fn own_read(fault: F) -> Read {
    match fault {
        F::FirstReplyLost
        | F::Late
        | F::FirstReplyPastTimeout
        | F::Truncated
        | F::TruncatedUnseen
        | F::WrongIdFirst
        | F::OtherQuestionFirst
        | F::DuplicateReplies
        | F::DuplicateRequest
        | F::FormErrOnce
        | F::CutOnce
        | F::GarbageFirst
        | F::GarbageWithIdOnce => Read::Ok,
        F::RepliesLost | F::RequestsLost | F::RepliesTooLate | F::TcpNeverAnswers => {
            Read::Fails("no reply from")
        }
        F::ServFail => Read::Fails("(SERVFAIL)"),
        F::Refused => Read::Fails("refused the query"),
        F::FormErr => Read::Fails("answered Form Error"),
        F::NotImp => Read::Fails("answered Not Implemented"),
        F::CutAlways => Read::Fails("malformed reply"),
        F::TcpClosedMidMessage => Read::Fails("early eof"),
    }
}

//------------ check ---------------------------------------------------------

/// `check` of static.example (two correct records): the zone's answer read
/// through one relay, the resolver's through another; each fault on one
/// path at a time. A survived fault is `srv-ok`; a failed read is
/// `dns-read-failed` (critical, exit 2), never `srv-missing`; a spoofed
/// record never shows.
#[test]
fn check_reports_each_fault_as_a_failed_read_or_survives_it() {
    let bed = TestBed::start();
    let zone_path = Relay::start(bed.primary());
    let client_path = Relay::start(bed.primary());
    let config = Config::new(&["static.example"], zone_path.addr(), false);
    let nameserver = client_path.addr().to_string();
    let owner = owner("static.example");
    let serial = bed.soa_serial(Server::PRIMARY, "static.example");
    let records = bed.srv_set(Server::PRIMARY, &owner);
    assert_eq!(records, set(&[KMS1, KMS2]));

    for (path, relay, quiet, expected) in [
        (
            "authoritative",
            &zone_path,
            &client_path,
            own_read as fn(F) -> Read,
        ),
        (
            "resolver",
            &client_path,
            &zone_path,
            own_read as fn(F) -> Read,
        ),
    ] {
        for fault in F::ALL {
            quiet.clear();
            relay.script(fault.rules(&|f| Rule::new(f).name(&owner).qtype(RecordType::SRV)));
            let run = kmsdns(&[
                "-c",
                &config.arg(),
                "--nameserver",
                &nameserver,
                "--dns-port",
                &bed.port().to_string(),
                "check",
            ]);
            let case = format!(
                "{path} path, {fault:?}:\n{run}\n--- relay ---\n{}",
                relay.log()
            );
            let doc: Value = run.json();
            let domain = &doc["details"]["domains"][0];
            assert!(!run.stdout.contains(SPOOFED_TARGET), "{case}");
            assert!(
                relay.received(Kind::Query) >= 1,
                "the fault was met: {case}"
            );
            if fault.uses_tcp() {
                assert!(
                    relay.received_over(Kind::Query, Proto::Tcp) >= 1,
                    "TC sent it to TCP: {case}"
                );
            }
            match expected(fault) {
                Read::Ok => {
                    assert_eq!(run.status, 0, "{case}");
                    assert_eq!(findings(&run), pairs(&[("srv-ok", "ok")]), "{case}");
                    assert_eq!(domain["authoritative"]["status"], "records", "{case}");
                    assert_eq!(domain["resolver"]["status"], "records", "{case}");
                }
                Read::Fails(says) => {
                    assert_eq!(run.status, 2, "{case}");
                    let findings = findings(&run);
                    assert!(
                        findings.contains(&("dns-read-failed".into(), "critical".into())),
                        "{case}"
                    );
                    assert!(
                        !findings.iter().any(|(id, _)| id == "srv-missing"),
                        "a failed read is never 'no record': {case}"
                    );
                    assert!(message(&run, "dns-read-failed").contains(says), "{case}");
                    let (failed, other) = match path {
                        "authoritative" => ("authoritative", "resolver"),
                        _ => ("resolver", "authoritative"),
                    };
                    assert_eq!(domain[failed]["status"], "failed", "{case}");
                    assert!(
                        domain[failed]["error"]
                            .as_str()
                            .is_some_and(|e| e.contains(says)),
                        "{case}"
                    );
                    assert_eq!(domain[other]["status"], "records", "{case}");
                }
            }
            assert_eq!(relay.received(Kind::Update), 0, "{case}");
        }
    }
    assert_eq!(bed.soa_serial(Server::PRIMARY, "static.example"), serial);
    assert_eq!(bed.srv_set(Server::PRIMARY, &owner), records);
}

/// A zone answer whose records carry different TTLs from a server that is
/// not AD-integrated (BIND behind a relay that changes one record's TTL,
/// as BIND itself never serves): `ttl-mixed` at warning, naming the TTLs,
/// and not `ttl-differs` besides; nothing changed.
#[test]
fn mixed_ttls_from_a_plain_zone_are_a_ttl_mixed_warning() {
    let bed = TestBed::start();
    let zone_path = Relay::start(bed.primary());
    let config = Config::new(&["static.example"], zone_path.addr(), false);
    let owner = owner("static.example");
    let records = bed.srv_set(Server::PRIMARY, &owner);
    zone_path.push(
        Rule::new(Fault::FirstAnswerTtl(60))
            .name(&owner)
            .qtype(RecordType::SRV),
    );
    let run = kmsdns(&[
        "-c",
        &config.arg(),
        "--nameserver",
        &bed.primary().to_string(),
        "--dns-port",
        &bed.port().to_string(),
        "check",
    ]);
    let case = format!("{run}\n--- relay ---\n{}", zone_path.log());
    assert_eq!(run.status, 1, "{case}");
    assert_eq!(findings(&run), pairs(&[("ttl-mixed", "warning")]), "{case}");
    let said = message(&run, "ttl-mixed");
    assert!(said.contains("(60 s: "), "{case}");
    assert!(
        said.contains("caught midway or a server that does not conform"),
        "{case}"
    );
    assert_eq!(zone_path.received(Kind::Update), 0, "{case}");
    assert_eq!(bed.srv_set(Server::PRIMARY, &owner), records);
}

//------------ replication ---------------------------------------------------

/// What the relayed server's row says.
#[derive(Clone, Copy, Debug)]
enum Row {
    /// Read through the fault: serves what the others serve.
    InSync,
    /// Not read: its state, finding id and what the message says.
    Down(&'static str, &'static str, &'static str),
}

fn replication_row(fault: F) -> Row {
    match own_read(fault) {
        Read::Ok => Row::InSync,
        Read::Fails(_) => match fault {
            F::RepliesLost | F::RequestsLost | F::RepliesTooLate | F::TcpNeverAnswers => Row::Down(
                "timeout",
                "server-unreachable",
                "does not answer (timed out)",
            ),
            F::TcpClosedMidMessage => Row::Down("unreachable", "server-unreachable", "early eof"),
            F::ServFail => Row::Down("lame", "server-lame", "answers SERVFAIL"),
            F::Refused => Row::Down("lame", "server-lame", "answers REFUSED"),
            F::FormErr => Row::Down("lame", "server-lame", "answered Form Error"),
            F::NotImp => Row::Down("lame", "server-lame", "answered Not Implemented"),
            F::CutAlways => Row::Down("lame", "server-lame", "malformed reply"),
            other => panic!("no replication row for {other:?}"),
        },
    }
}

/// The relay as a fourth server of open.example's NS set (`ns9`, see the
/// module documentation), every query to it faulty: the three real servers
/// stay in sync; ns9 is in sync through a survivable fault, otherwise
/// unreachable or lame (a warning: exit 1). Then ns9 as the zone's
/// primary: when it cannot be read, the newest serial stands in.
#[test]
fn replication_reports_a_faulty_server_and_a_faulty_primary() {
    let bed = TestBed::start();
    let ns9 = Ipv4Addr::new(127, 53, 3, 9);
    let relay = Relay::start_on(SocketAddr::new(ns9.into(), bed.port()), bed.primary())
        .unwrap_or_else(|e| panic!("relay on {ns9} with the test bed's port: {e}"));
    let port = bed.port();
    nsupdate(
        None,
        &format!(
            "server {} {port}\nzone open.example\n\
             update add open.example. 3600 IN NS ns9.open.example.\n\
             update add ns9.open.example. 3600 IN A {ns9}\nsend\n",
            Server::PRIMARY.ip()
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
    let ns9_addr = format!("{ns9}:{port}");
    let replication = || {
        kmsdns(&[
            "--nameserver",
            &bed.primary().to_string(),
            "--dns-port",
            &port.to_string(),
            "replication",
            "--domain",
            "open.example",
        ])
    };

    for fault in F::ALL {
        relay.script(fault.rules(&|f| Rule::new(f).queries()));
        let run = replication();
        let case = format!("{fault:?}:\n{run}\n--- relay ---\n{}", relay.log());
        let doc: Value = run.json();
        let zone = &doc["details"]["zones"][0];
        let servers = zone["servers"].as_array().expect("servers");
        assert_eq!(servers.len(), 4, "{case}");
        let row = servers
            .iter()
            .find(|s| s["address"] == ns9_addr.as_str())
            .unwrap_or_else(|| panic!("no ns9 row: {case}"));
        for other in servers.iter().filter(|s| s["address"] != ns9_addr.as_str()) {
            assert!(
                matches!(other["state"].as_str(), Some("reference" | "in-sync")),
                "{case}"
            );
        }
        assert_eq!(zone["serial"], serial, "{case}");
        assert!(relay.received(Kind::Query) >= 1, "{case}");
        match replication_row(fault) {
            Row::InSync => {
                assert_eq!(run.status, 0, "{case}");
                assert_eq!(row["state"], "in-sync", "{case}");
                assert_eq!(row["serial"], serial, "{case}");
                assert_eq!(findings(&run), pairs(&[("replicated", "ok")]), "{case}");
            }
            Row::Down(state, id, says) => {
                assert_eq!(run.status, 1, "only one of four servers: {case}");
                assert_eq!(row["state"], state, "{case}");
                assert!(row["error"].as_str().is_some(), "{case}");
                assert_eq!(findings(&run), pairs(&[(id, "warning")]), "{case}");
                let message = message(&run, id);
                assert!(
                    message.contains(&ns9_addr) && message.contains(says),
                    "{case}"
                );
                assert_eq!(zone["converged"], false, "{case}");
            }
        }
    }

    // Two records; ns9 answers them with different TTLs (which BIND never
    // serves): `ttl-mixed` at warning for ns9 alone, and the record at 60
    // where the primary has 3600 is a difference (issue 16): not replicated.
    let owner = owner("open.example");
    nsupdate(
        None,
        &format!(
            "server {} {port}
zone open.example
             update add {owner} 3600 IN SRV {KMS1}
update add {owner} 3600 IN SRV {KMS2}
send
",
            Server::PRIMARY.ip()
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
    relay.script(vec![Rule::new(Fault::FirstAnswerTtl(60))
        .name(&owner)
        .qtype(RecordType::SRV)]);
    let run = replication();
    let case = format!("mixed TTLs at ns9:\n{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(run.status, 1, "{case}");
    assert_eq!(
        findings(&run),
        pairs(&[("rrset-differs", "warning"), ("ttl-mixed", "warning")]),
        "{case}"
    );
    assert!(
        message(&run, "rrset-differs").contains(&format!(
            "with TTL 60 where ns1.open.example. (127.53.0.1:{port}) has 3600"
        )),
        "{case}"
    );
    let said = message(&run, "ttl-mixed");
    assert!(
        said.contains(&ns9_addr) && said.contains("(60 s: "),
        "{case}"
    );

    // ns9 becomes the primary (SOA MNAME): a fault on it now hides the
    // reference, and the newest serial of the others stands in.
    nsupdate(
        None,
        &format!(
            "server {} {port}\nzone open.example\n\
             update add open.example. 3600 IN SOA ns9.open.example. hostmaster.open.example. {} 3600 600 86400 60\nsend\n",
            Server::PRIMARY.ip(),
            serial + 1
        ),
    );
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for secondary in Server::SECONDARIES {
        bed.wait_serial(secondary, "open.example", serial, Duration::from_secs(5));
    }
    for fault in [F::FirstReplyLost, F::Truncated, F::RepliesLost, F::ServFail] {
        relay.script(fault.rules(&|f| Rule::new(f).queries()));
        let run = replication();
        let case = format!("primary, {fault:?}:\n{run}\n--- relay ---\n{}", relay.log());
        let doc: Value = run.json();
        let zone = &doc["details"]["zones"][0];
        assert_eq!(zone["primary"], "ns9.open.example.", "{case}");
        let primary = &zone["servers"][0];
        assert_eq!(primary["primary"], true, "{case}");
        assert_eq!(primary["address"], ns9_addr.as_str(), "{case}");
        assert_eq!(zone["serial"], serial, "{case}");
        match replication_row(fault) {
            Row::InSync => {
                assert_eq!(run.status, 0, "{case}");
                assert_eq!(primary["state"], "reference", "{case}");
                assert_eq!(zone["reference"], ns9_addr.as_str(), "{case}");
            }
            Row::Down(state, id, _) => {
                assert_eq!(primary["state"], state, "{case}");
                assert_ne!(zone["reference"], ns9_addr.as_str(), "{case}");
                let findings = findings(&run);
                assert!(findings.contains(&(id.into(), "warning".into())), "{case}");
                assert!(
                    findings.contains(&("dns-read-failed".into(), "warning".into())),
                    "the newest serial stood in for the primary: {case}"
                );
                assert_eq!(run.status, 1, "{case}");
            }
        }
    }
    assert_eq!(relay.received(Kind::Update), 0);
    assert_eq!(bed.soa_serial(Server::PRIMARY, "open.example"), serial);
}

//------------ plan ----------------------------------------------------------

/// `plan` for static.example (kms1 published, kms3 to add) with every
/// query through the faulty relay: `pending` (exit 1) through a survivable
/// fault, `dns-read-failed` (exit 2) otherwise; never an UPDATE.
#[test]
fn plan_reads_through_each_fault_or_fails_the_domain() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        format!(
            "publish-list = [\"static.example\"]\n\
             [[host]]\nname = \"kms1.secure.example\"\n\
             [[host]]\nname = \"kms3.secure.example\"\n\
             [domain.\"static.example\"]\nserver = \"{}\"\n",
            relay.addr()
        ),
    )
    .expect("config");
    let owner = owner("static.example");
    let serial = bed.soa_serial(Server::PRIMARY, "static.example");
    for fault in F::ALL {
        relay.script(fault.rules(&|f| Rule::new(f).queries()));
        let run = kmsdns(&["-c", &config.display().to_string(), "plan"]);
        let case = format!("{fault:?}:\n{run}\n--- relay ---\n{}", relay.log());
        let doc: Value = run.json();
        let domain = &doc["details"]["domains"][0];
        assert!(!run.stdout.contains(SPOOFED_TARGET), "{case}");
        match own_read(fault) {
            Read::Ok => {
                assert_eq!(run.status, 1, "{case}");
                assert_eq!(domain["outcome"], "pending", "{case}");
                assert_eq!(
                    findings(&run),
                    pairs(&[("changes-pending", "warning")]),
                    "{case}"
                );
                let ops: Vec<(&str, &str)> = domain["changes"]
                    .as_array()
                    .expect("changes")
                    .iter()
                    .map(|c| {
                        (
                            c["op"].as_str().unwrap_or_default(),
                            c["record"].as_str().unwrap_or_default(),
                        )
                    })
                    .collect();
                assert!(
                    ops.contains(&(
                        "+",
                        "_vlmcs._tcp.static.example. 3600 IN SRV 0 0 1688 kms3.secure.example."
                    )),
                    "{case}"
                );
                assert!(
                    ops.contains(&(
                        "=",
                        "_vlmcs._tcp.static.example. 3600 IN SRV 0 0 1688 kms2.secure.example."
                    )),
                    "{case}"
                );
            }
            Read::Fails(says) => {
                assert_eq!(run.status, 2, "{case}");
                assert_eq!(domain["outcome"], "failed", "{case}");
                assert_eq!(
                    findings(&run),
                    pairs(&[("dns-read-failed", "critical")]),
                    "{case}"
                );
                assert!(message(&run, "dns-read-failed").contains(says), "{case}");
            }
        }
        assert_eq!(
            relay.received(Kind::Update),
            0,
            "plan never updates: {case}"
        );
    }
    assert_eq!(bed.soa_serial(Server::PRIMARY, "static.example"), serial);
    assert_eq!(bed.srv_set(Server::PRIMARY, &owner), set(&[KMS1, KMS2]));
}

//------------ publish and remove --------------------------------------------

/// The note an applied outcome carries.
#[derive(Clone, Copy, Debug)]
enum Note {
    /// None: the reply said so.
    None,
    /// Not checked: which reply comes first depends on timing.
    Any,
    /// A note containing this.
    Says(&'static str),
}

/// What an UPDATE through a faulty path comes to.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// Applied once (the serial moves by one); so many UPDATE copies
    /// reached BIND; the finding's note.
    Applied(usize, Note),
    /// Not applied (the serial stays); so many copies reached BIND; the
    /// error says this.
    Failed(usize, &'static str),
}

const RETRANSMITTED: Note = Note::Says("the retransmitted copy found the change already made");
const LOST: Note = Note::Says("the reply was lost, but the primary serves the change");
const UNREADABLE: Note = Note::Says("no usable reply came, but the primary serves the change");

/// Every fault on the UPDATE (reads pass): whether kmsdns reports what BIND
/// did. A retransmitted copy of an applied update fails on its
/// prerequisite instead of applying twice, and kmsdns reads the RRset
/// again to tell "applied, reply lost" from "not applied".
fn update_outcome(fault: F) -> Change {
    match fault {
        F::FirstReplyLost => Change::Applied(2, RETRANSMITTED),
        F::RepliesLost | F::RepliesTooLate => Change::Applied(3, LOST),
        F::RequestsLost | F::TcpNeverAnswers => Change::Failed(0, "no reply from"),
        F::Late
        | F::TruncatedUnseen
        | F::WrongIdFirst
        | F::OtherQuestionFirst
        | F::DuplicateReplies
        | F::GarbageFirst => Change::Applied(1, Note::None),
        F::FirstReplyPastTimeout => Change::Applied(2, Note::Any),
        // The UDP copy was applied; the TCP copy finds it done.
        F::Truncated => Change::Applied(2, RETRANSMITTED),
        // The first copy's reply comes first; the second copy changes nothing.
        F::DuplicateRequest => Change::Applied(2, Note::None),
        F::ServFail => Change::Failed(0, "(SERVFAIL)"),
        F::Refused => Change::Failed(0, "refused the update"),
        // An UPDATE carries no OPT record: there is nothing to fall back from.
        F::FormErr | F::FormErrOnce => Change::Failed(0, "(FORMERR)"),
        F::NotImp => Change::Failed(0, "(NOTIMP, zone"),
        F::CutOnce | F::GarbageWithIdOnce => Change::Applied(2, RETRANSMITTED),
        F::CutAlways => Change::Applied(3, UNREADABLE),
        F::TcpClosedMidMessage => Change::Applied(1, UNREADABLE),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Publish,
    Remove,
}

/// Runs `verb` once per fault, each on its own domain `cN.open.example`
/// (unsigned updates), where another host's record lives and, for
/// `remove`, kms1 and kms2 too. Asserts the outcome, the exit status, the
/// UPDATE copies that reached BIND, the records and the serial.
fn updates_through_each_fault(verb: Verb) {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let port = bed.port();
    let domains: Vec<String> = (0..F::ALL.len())
        .map(|i| format!("c{i}.open.example"))
        .collect();
    let mut script = format!(
        "server {} {port}\nzone open.example\n",
        Server::PRIMARY.ip()
    );
    for domain in &domains {
        let owner = owner(domain);
        script.push_str(&format!("update add {owner} 3600 IN SRV {FOREIGN}\n"));
        if verb == Verb::Remove {
            script.push_str(&format!("update add {owner} 3600 IN SRV {KMS1}\n"));
            script.push_str(&format!("update add {owner} 3600 IN SRV {KMS2}\n"));
        }
    }
    script.push_str("send\n");
    nsupdate(None, &script);
    let (before, after) = match verb {
        Verb::Publish => (set(&[FOREIGN]), set(&[FOREIGN, KMS1, KMS2])),
        Verb::Remove => (set(&[FOREIGN, KMS1, KMS2]), set(&[FOREIGN])),
    };
    let command = match verb {
        Verb::Publish => "publish",
        Verb::Remove => "remove",
    };

    for (fault, domain) in F::ALL.into_iter().zip(&domains) {
        let owner = owner(domain);
        assert_eq!(bed.srv_set(Server::PRIMARY, &owner), before, "{domain}");
        let config = Config::new(&[domain], relay.addr(), false);
        relay.script(fault.rules(&|f| Rule::new(f).updates()));
        let serial = bed.soa_serial(Server::PRIMARY, "open.example");
        let run = kmsdns(&["-c", &config.arg(), command]);
        let case = format!(
            "{command} {domain}, {fault:?}:\n{run}\n--- relay ---\n{}",
            relay.log()
        );
        let doc: Value = run.json();
        let details = &doc["details"]["domains"][0];
        let moved = bed
            .soa_serial(Server::PRIMARY, "open.example")
            .wrapping_sub(serial);
        let served = bed.srv_set(Server::PRIMARY, &owner);
        assert!(relay.received(Kind::Update) >= 1, "{case}");
        match update_outcome(fault) {
            Change::Applied(copies, note) => {
                assert_eq!(served, after, "{case}");
                assert_eq!(moved, 1, "applied exactly once: {case}");
                assert_eq!(run.status, 0, "{case}");
                assert_eq!(details["outcome"], "applied", "{case}");
                assert_eq!(details["retries"], 0, "no other host: {case}");
                assert_eq!(findings(&run), pairs(&[("update-applied", "ok")]), "{case}");
                let message = message(&run, "update-applied");
                let wanted = match verb {
                    Verb::Publish => "updated: 2 add",
                    Verb::Remove => "updated: 2 delete",
                };
                assert!(message.starts_with(wanted), "{case}");
                match note {
                    Note::None => assert!(!message.contains('('), "{case}"),
                    Note::Any => {}
                    Note::Says(says) => assert!(message.contains(says), "{case}"),
                }
                assert_eq!(relay.forwarded(Kind::Update), copies, "{case}");
            }
            Change::Failed(copies, says) => {
                assert_eq!(served, before, "{case}");
                assert_eq!(moved, 0, "not applied: {case}");
                assert_eq!(run.status, 2, "{case}");
                assert_eq!(details["outcome"], "failed", "{case}");
                assert_eq!(
                    findings(&run),
                    pairs(&[("update-failed", "critical")]),
                    "{case}"
                );
                assert!(message(&run, "update-failed").contains(says), "{case}");
                assert_eq!(relay.forwarded(Kind::Update), copies, "{case}");
            }
        }
        if fault.uses_tcp() {
            assert!(
                relay.received_over(Kind::Update, Proto::Tcp) >= 1,
                "TC sent it to TCP: {case}"
            );
        }
    }
}

#[test]
fn publish_applies_exactly_once_or_not_at_all_through_each_fault() {
    updates_through_each_fault(Verb::Publish);
}

#[test]
fn remove_applies_exactly_once_or_not_at_all_through_each_fault() {
    updates_through_each_fault(Verb::Remove);
}

/// TSIG-signed updates of secure.example through the faults that make
/// kmsdns send a copy of the same signed message (same ID, same MAC):
/// BIND applies it once; then `remove --force` through the same fault
/// empties the RRset again, once.
#[test]
fn signed_updates_are_applied_once_through_retransmission() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let config = Config::new(&["secure.example"], relay.addr(), true);
    let owner = owner("secure.example");
    for fault in [
        F::FirstReplyLost,
        F::Truncated,
        F::RepliesLost,
        F::DuplicateRequest,
        F::CutOnce,
        F::TcpClosedMidMessage,
    ] {
        for (command, from, to) in [
            ("publish", set(&[]), set(&[KMS1, KMS2])),
            ("remove", set(&[KMS1, KMS2]), set(&[])),
        ] {
            assert_eq!(bed.srv_set(Server::PRIMARY, &owner), from);
            relay.script(fault.rules(&|f| Rule::new(f).updates()));
            let serial = bed.soa_serial(Server::PRIMARY, "secure.example");
            let path = config.arg();
            let run = match command {
                "publish" => kmsdns(&["-c", &path, "publish"]),
                _ => kmsdns(&["-c", &path, "remove", "--force"]),
            };
            let case = format!(
                "{command}, {fault:?}:\n{run}\n--- relay ---\n{}",
                relay.log()
            );
            let Change::Applied(copies, _) = update_outcome(fault) else {
                panic!("{fault:?} is not an applied case");
            };
            assert_eq!(run.status, 0, "{case}");
            assert_eq!(
                run.json::<Value>()["details"]["domains"][0]["outcome"],
                "applied",
                "{case}"
            );
            assert_eq!(bed.srv_set(Server::PRIMARY, &owner), to, "{case}");
            assert_eq!(
                bed.soa_serial(Server::PRIMARY, "secure.example")
                    .wrapping_sub(serial),
                1,
                "applied exactly once: {case}"
            );
            assert_eq!(relay.forwarded(Kind::Update), copies, "{case}");
        }
    }
}

/// Forged replies never count: a NOERROR with another ID, or with our ID
/// about another zone, comes first, then BIND's real REFUSED (static.example
/// takes no updates): kmsdns reports the refusal; the zone is unchanged.
#[test]
fn a_forged_success_does_not_hide_a_refusal() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let domain = "static.example, 1, 1";
    let config = Config::new(&[domain], relay.addr(), false);
    let owner = owner("static.example");
    let serial = bed.soa_serial(Server::PRIMARY, "static.example");
    for fault in [F::WrongIdFirst, F::OtherQuestionFirst, F::DuplicateReplies] {
        relay.script(fault.rules(&|f| Rule::new(f).updates()));
        let run = kmsdns(&["-c", &config.arg(), "publish"]);
        let case = format!("{fault:?}:\n{run}\n--- relay ---\n{}", relay.log());
        assert_eq!(run.status, 2, "{case}");
        assert_eq!(
            run.json::<Value>()["details"]["domains"][0]["outcome"],
            "failed",
            "{case}"
        );
        assert!(
            message(&run, "update-failed").contains("refused the update"),
            "{case}"
        );
        assert_eq!(relay.forwarded(Kind::Update), 1, "{case}");
    }
    assert_eq!(bed.soa_serial(Server::PRIMARY, "static.example"), serial);
    assert_eq!(bed.srv_set(Server::PRIMARY, &owner), set(&[KMS1, KMS2]));
}

/// Faults on the reads around an update: before it, nothing is sent and
/// the domain failed to read; after it (the read-back), the update is
/// applied once and the report says it was accepted but could not be
/// confirmed.
#[test]
fn publish_with_faulty_reads_sends_nothing_or_says_what_it_could_not_confirm() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");

    // Every read fails: the zone cannot be found, nothing is sent.
    for fault in [
        F::RepliesLost,
        F::ServFail,
        F::CutAlways,
        F::TcpClosedMidMessage,
    ] {
        let config = Config::new(&["reads.open.example"], relay.addr(), false);
        relay.script(fault.rules(&|f| Rule::new(f).queries()));
        let run = kmsdns(&["-c", &config.arg(), "publish"]);
        let case = format!("{fault:?}:\n{run}\n--- relay ---\n{}", relay.log());
        assert_eq!(run.status, 2, "{case}");
        assert_eq!(
            run.json::<Value>()["details"]["domains"][0]["outcome"],
            "failed",
            "{case}"
        );
        assert_eq!(
            findings(&run),
            pairs(&[("dns-read-failed", "critical")]),
            "{case}"
        );
        assert_eq!(relay.received(Kind::Update), 0, "{case}");
    }
    assert_eq!(bed.soa_serial(Server::PRIMARY, "open.example"), serial);
    assert!(bed
        .srv_set(Server::PRIMARY, &owner("reads.open.example"))
        .is_empty());

    // The first SRV read passes, the read-back after the update fails.
    let config = Config::new(&["readback.open.example"], relay.addr(), false);
    let srv = |fault| Rule::new(fault).queries().qtype(RecordType::SRV);
    relay.script(vec![
        srv(Fault::Pass).times(1),
        srv(Fault::Rcode(ResponseCode::ServFail)),
    ]);
    let run = kmsdns(&["-c", &config.arg(), "publish"]);
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(run.status, 2, "{case}");
    assert_eq!(
        run.json::<Value>()["details"]["domains"][0]["outcome"],
        "failed",
        "{case}"
    );
    let message = message(&run, "update-failed");
    assert!(
        message.contains("the update was accepted, but reading it back failed"),
        "{case}"
    );
    assert_eq!(relay.forwarded(Kind::Update), 1, "{case}");
    assert_eq!(
        bed.soa_serial(Server::PRIMARY, "open.example"),
        serial + 1,
        "{case}"
    );
    assert_eq!(
        bed.srv_set(Server::PRIMARY, &owner("readback.open.example")),
        set(&[KMS1, KMS2])
    );

    // A rerun without faults finds it done.
    relay.clear();
    let run = kmsdns(&["-c", &config.arg(), "publish"]);
    assert_eq!(run.status, 0, "{run}");
    assert_eq!(
        run.json::<Value>()["details"]["domains"][0]["outcome"],
        "in-sync",
        "{run}"
    );
    assert_eq!(relay.received(Kind::Update), 0, "{run}");
}

/// The relay itself: a fault is applied only where its rule says, and
/// counts are per kind. Guards the other tests against a relay that
/// silently passes everything.
#[test]
fn the_relay_applies_rules_only_where_they_match() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let config = Config::new(&["relay.open.example"], relay.addr(), false);
    relay.script(vec![
        Rule::new(Fault::Rcode(ResponseCode::Refused))
            .queries()
            .name("nothing.example")
            .times(5),
        Rule::new(Fault::DropReply).updates().tcp(),
    ]);
    let run = kmsdns(&["-c", &config.arg(), "publish"]);
    assert_eq!(run.status, 0, "{run}\n{}", relay.log());
    assert_eq!(relay.forwarded(Kind::Update), 1);
    assert_eq!(relay.received_over(Kind::Update, Proto::Udp), 1);
    assert_eq!(relay.received_over(Kind::Update, Proto::Tcp), 0);
    assert!(relay.forwarded(Kind::Query) >= 3, "SOA, SRV, read-back");
    assert!(
        relay.log().contains("Update open.example. SOA"),
        "{}",
        relay.log()
    );
    assert!(!relay.log().contains("Rcode"), "{}", relay.log());
}

//------------ replies that do not answer, and forged ones ------------------

/// Issue 17, item 1: a reply must answer the question it claims to. A bare
/// header with our ID and no question (here NXDOMAIN, which would read as
/// "no such name") comes first on the zone's path: it is not the answer,
/// the real one that follows is. A NOERROR that echoes the question but
/// holds only another name's record is a failed read, never NODATA.
#[test]
fn a_reply_that_does_not_answer_the_question_is_never_no_record() {
    let bed = TestBed::start();
    let zone_path = Relay::start(bed.primary());
    let client_path = Relay::start(bed.primary());
    let config = Config::new(&["static.example"], zone_path.addr(), false);
    let owner = owner("static.example");
    let check = || {
        kmsdns(&[
            "-c",
            &config.arg(),
            "--nameserver",
            &client_path.addr().to_string(),
            "--dns-port",
            &bed.port().to_string(),
            "check",
        ])
    };
    let on_srv = |fault| vec![Rule::new(fault).name(&owner).qtype(RecordType::SRV)];

    for rcode in [ResponseCode::NXDomain, ResponseCode::NoError] {
        zone_path.script(on_srv(Fault::QuestionlessFirst(rcode)));
        let run = check();
        let case = format!("{rcode} first:\n{run}\n--- relay ---\n{}", zone_path.log());
        assert_eq!(run.status, 0, "{case}");
        assert_eq!(findings(&run), pairs(&[("srv-ok", "ok")]), "{case}");
    }

    zone_path.script(on_srv(Fault::OtherOwnerAnswer));
    let run = check();
    let case = format!("{run}\n--- relay ---\n{}", zone_path.log());
    assert_eq!(run.status, 2, "{case}");
    let found = findings(&run);
    assert!(
        found.contains(&("dns-read-failed".into(), "critical".into())),
        "{case}"
    );
    assert!(!found.iter().any(|(id, _)| id == "srv-missing"), "{case}");
    assert!(
        message(&run, "dns-read-failed").contains("does not answer the question"),
        "{case}"
    );
    assert!(!run.stdout.contains(SPOOFED_TARGET), "{case}");
}

/// Issue 17, item 3: a forged unsigned REFUSED, SERVFAIL or NXRRSET that
/// arrives before BIND's signed NOERROR is set aside: the signed update is
/// applied once and reported applied, exit 0.
#[test]
fn a_forged_unsigned_error_before_the_signed_reply_is_set_aside() {
    signed_changes_through(Fault::ForgedFirst, |check| {
        // Taken from BIND's verified reply, not inferred by reading back.
        assert!(
            !check.run.stdout.contains("no usable reply came"),
            "{}",
            check.case
        );
        if check.command == "publish" {
            assert!(
                check.run.stderr.contains("(1 unverified reply set aside)"),
                "-v counts the reply set aside: {}",
                check.case
            );
        }
        assert_eq!(
            check.serial_moved, 1,
            "applied exactly once: {}",
            check.case
        );
        assert_eq!(check.updates_forwarded, 1, "{}", check.case);
    });
}

/// Issue 16: the same over TCP, where a signed UPDATE goes after a
/// truncated UDP reply: a forged unsigned REFUSED ahead of BIND's signed
/// reply on the connection is set aside, and BIND's reply is the answer
/// (the first message on a TCP connection used to be final).
#[test]
fn a_forged_unsigned_error_before_the_signed_reply_over_tcp_is_set_aside() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let config = Config::new(&["secure.example"], relay.addr(), true);
    let owner = owner("secure.example");
    relay.script(vec![
        Rule::new(Fault::Truncate { forward: false })
            .updates()
            .udp(),
        Rule::new(Fault::ForgedFirst(ResponseCode::Refused))
            .updates()
            .tcp(),
    ]);
    let run = kmsdns(&["-v", "-c", &config.arg(), "publish"]);
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(
        bed.srv_set(Server::PRIMARY, &owner),
        set(&[KMS1, KMS2]),
        "{case}"
    );
    assert_eq!(run.status, 0, "{case}");
    assert_eq!(
        run.json::<Value>()["details"]["domains"][0]["outcome"],
        "applied",
        "{case}"
    );
    assert!(!run.stdout.contains("no usable reply came"), "{case}");
    assert!(
        run.stderr.contains("(1 unverified reply set aside)"),
        "{case}"
    );
    assert_eq!(relay.received_over(Kind::Update, Proto::Tcp), 1, "{case}");
    assert_eq!(relay.forwarded(Kind::Update), 1, "{case}");
}

/// Issue 17, item 3: when the only reply to a signed update is an unsigned
/// error (BIND's signed reply replaced on the way), it is not believed: the
/// zone is read back, and the report says what it holds. Here BIND applied
/// the change, so publish and remove say "applied", never "refused", "failed"
/// or "in sync".
#[test]
fn an_unsigned_error_in_place_of_the_signed_reply_is_read_back() {
    signed_changes_through(Fault::ForgedInstead, |_| {});
}

/// What a signed publish or remove through a forged reply left.
struct SignedChange<'a> {
    command: &'a str,
    run: Run,
    case: String,
    serial_moved: u32,
    updates_forwarded: usize,
}

/// Publishes to secure.example (signed) and removes again, with `fault`
/// (given each of an unsigned REFUSED, SERVFAIL and NXRRSET) on every
/// UPDATE: each run must exit 0, say `applied` and leave BIND with exactly
/// the planned records; `more` asserts the rest.
fn signed_changes_through(fault: fn(ResponseCode) -> Fault, more: impl Fn(&SignedChange)) {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let config = Config::new(&["secure.example"], relay.addr(), true);
    let owner = owner("secure.example");
    for rcode in [
        ResponseCode::Refused,
        ResponseCode::ServFail,
        ResponseCode::NXRRSet,
    ] {
        for (command, from, to) in [
            ("publish", set(&[]), set(&[KMS1, KMS2])),
            ("remove", set(&[KMS1, KMS2]), set(&[])),
        ] {
            assert_eq!(bed.srv_set(Server::PRIMARY, &owner), from);
            relay.script(vec![Rule::new(fault(rcode)).updates()]);
            let serial = bed.soa_serial(Server::PRIMARY, "secure.example");
            let run = match command {
                "publish" => kmsdns(&["-v", "-c", &config.arg(), "publish"]),
                _ => kmsdns(&["-c", &config.arg(), "remove", "--force"]),
            };
            let case = format!(
                "{command}, {:?}:\n{run}\n--- relay ---\n{}",
                fault(rcode),
                relay.log()
            );
            assert_eq!(bed.srv_set(Server::PRIMARY, &owner), to, "{case}");
            assert_eq!(run.status, 0, "{case}");
            assert_eq!(
                run.json::<Value>()["details"]["domains"][0]["outcome"],
                "applied",
                "{case}"
            );
            more(&SignedChange {
                command,
                serial_moved: bed
                    .soa_serial(Server::PRIMARY, "secure.example")
                    .wrapping_sub(serial),
                updates_forwarded: relay.forwarded(Kind::Update),
                run,
                case,
            });
        }
    }
}

/// Issue 17, item 3: the permission probe is not fooled either. A forged
/// unsigned REFUSED before each reply: the unsigned probe is refused (as
/// BIND refuses it), the signed one waits for BIND's signed answer, so the
/// verdict is `keyed-only`, never `key-refused`; the zone is unchanged.
#[test]
fn a_forged_refusal_does_not_make_the_permission_probe_say_key_refused() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let config = Config::new(&["secure.example"], relay.addr(), true);
    let owner = owner("secure.example");
    let serial = bed.soa_serial(Server::PRIMARY, "secure.example");
    let records = bed.srv_set(Server::PRIMARY, &owner);
    relay.script(vec![
        Rule::new(Fault::ForgedFirst(ResponseCode::Refused)).updates()
    ]);
    let run = kmsdns(&["-c", &config.arg(), "updates", "--live"]);
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    let found = findings(&run);
    assert!(
        found.contains(&("keyed-only".into(), "ok".into())),
        "{case}"
    );
    assert!(!found.iter().any(|(id, _)| id == "key-refused"), "{case}");
    assert_eq!(run.status, 0, "{case}");
    assert_eq!(bed.soa_serial(Server::PRIMARY, "secure.example"), serial);
    assert_eq!(bed.srv_set(Server::PRIMARY, &owner), records);
}

/// Issue 16: whether a zone is Active Directory-integrated decides the
/// probe's form (on AD the sentinel at `_vlmcs._tcp` may leave a directory
/// object). A SERVFAIL for the locator record `_ldap._tcp.dc._msdcs.<zone>`
/// (and `version.bind` unanswered, so the software is unknown) is not "not
/// AD": no probe is sent, and the failed read is the finding.
#[test]
fn an_unreadable_locator_record_sends_no_probe() {
    let bed = TestBed::start();
    let relay = Relay::start(bed.primary());
    let config = Config::new(&["secure.example"], relay.addr(), true);
    relay.script(vec![
        Rule::new(Fault::DropRequest).name("version.bind"),
        Rule::new(Fault::Rcode(ResponseCode::ServFail)).name("_ldap._tcp.dc._msdcs.secure.example"),
    ]);
    let run = kmsdns(&["-c", &config.arg(), "updates", "--live"]);
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(
        findings(&run),
        [("dns-read-failed".to_string(), "critical".to_string())],
        "{case}"
    );
    let message = run.json::<Value>()["findings"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("Active Directory-integrated is unknown")
            && message.contains("multi-master = true or false"),
        "{case}"
    );
    assert_eq!(relay.forwarded(Kind::Update), 0, "{case}");
    assert_eq!(run.status, 2, "{case}");
}
