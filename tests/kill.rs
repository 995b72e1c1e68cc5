//! Process faults: `kmsdns publish` over several zones, killed with SIGKILL
//! at chosen and at random points, leaves every zone either as it was or
//! as planned (one atomic RFC 2136 UPDATE per zone: never one RRset of a
//! zone changed and the other not, never a change applied twice), and a
//! second `publish` converges.
//!
//! The set-up: one `named` on 127.53.3.1 serving six zones `kN.kill.test`,
//! odd ones TSIG-protected (`update-policy` for the test bed's key), even
//! ones open to unsigned updates. Each zone holds two publish-list domains,
//! the apex and `branch.kN.kill.test`, so each of its UPDATEs changes two
//! RRsets; another host's record lives in both and must survive. kmsdns
//! reaches the server only through the fault-injecting relay of
//! `tests/common/relay.rs` (`server = "<relay>"` for every domain), which
//! holds the reply of a chosen UPDATE so that the kill lands while that
//! UPDATE is applied but unanswered, or delays and truncates at random.
//! Two configurations alternate (`0 0 1688` and `10 50 1688` for the same
//! hosts), so every run turns each zone's records into others: delete and
//! add in one message.
//!
//! What BIND serves is read directly from it, never through the relay.

use crate::common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::bind::{key_file, Named, NamedConf, Notify, Updates, ZoneConf};
use common::bind::{Grant, ZoneRole, SECURE_KEY_NAME};
use common::local::{free_port, query_udp};
use common::relay::{Fault, Kind, Relay, Rule};
use common::run::Kmsdns;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RData, RecordType};

/// The server's address: outside the test bed's 127.53.0.0/24.
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(127, 53, 3, 1);

/// How many zones a run publishes to.
const ZONES: usize = 6;

const FOREIGN: &str = "5 5 1688 other-kms.example.";

/// A run still going after this is a hang.
const DEADLINE: Duration = Duration::from_secs(30);

//------------ The server ----------------------------------------------------

/// The named serving the six zones, and its directory.
struct Server {
    // Declared first: named stops before its files go.
    named: Named,
    _dir: tempfile::TempDir,
}

fn zone(n: usize) -> String {
    format!("k{n}.kill.test")
}

fn signed(n: usize) -> bool {
    n % 2 == 1
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-kill-")
            .tempdir()
            .expect("temp dir");
        let port = free_port(&[IpAddr::V4(SERVER_IP)]);
        let mut conf = NamedConf::new(dir.path(), SERVER_IP, port, "kmsdns-kill-test");
        conf.includes.push(key_file(SECURE_KEY_NAME));
        for n in 1..=ZONES {
            let zone = zone(n);
            let file = format!("{zone}.zone");
            std::fs::write(
                dir.path().join(&file),
                format!(
                    "$ORIGIN {zone}.\n$TTL 3600\n\
                     @ IN SOA ns1 hostmaster 1 3600 600 86400 60\n\
                     \x20 IN NS ns1\n\
                     ns1 IN A {SERVER_IP}\n\
                     _vlmcs._tcp IN SRV {FOREIGN}\n\
                     _vlmcs._tcp.branch IN SRV {FOREIGN}\n"
                ),
            )
            .expect("zone file");
            let updates = if signed(n) {
                Updates::Policy(
                    [
                        format!("_vlmcs._tcp.{zone}."),
                        format!("_vlmcs._tcp.branch.{zone}."),
                    ]
                    .into_iter()
                    .map(|name| Grant {
                        key: SECURE_KEY_NAME.to_string(),
                        name,
                        rtype: RecordType::SRV,
                    })
                    .collect(),
                )
            } else {
                Updates::Anyone
            };
            conf.zones.push(ZoneConf {
                name: zone,
                file: file.into(),
                role: ZoneRole::Primary {
                    updates,
                    notify: Notify::Only(Vec::new()),
                },
            });
        }
        let path = dir.path().join("named.conf");
        conf.save(&path).expect("named.conf");
        let mut named = Named::start(&path, dir.path(), SERVER_IP.into(), port);
        for n in 1..=ZONES {
            named.wait_zone(&zone(n), Duration::from_secs(10));
        }
        Server { named, _dir: dir }
    }

    fn addr(&self) -> SocketAddr {
        self.named.addr()
    }

    /// What zone `n` serves: its serial and the records of both owners.
    fn read(&self, n: usize) -> ZoneState {
        let zone = zone(n);
        let ask = |name: &str, rtype| {
            query_udp(
                self.addr(),
                name,
                rtype,
                DNSClass::IN,
                Duration::from_secs(2),
            )
            .unwrap_or_else(|e| panic!("{name} {rtype}: {e}"))
        };
        let soa = ask(&zone, RecordType::SOA);
        let serial = soa
            .answers()
            .iter()
            .find_map(|r| match r.data() {
                RData::SOA(soa) => Some(soa.serial()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no SOA for {zone}: {soa:?}"));
        let srv = |owner: String| -> BTreeSet<String> {
            let response = ask(&owner, RecordType::SRV);
            assert_eq!(response.response_code(), ResponseCode::NoError, "{owner}");
            response
                .answers()
                .iter()
                .filter_map(|r| match r.data() {
                    RData::SRV(srv) => Some(format!(
                        "{} {} {} {}",
                        srv.priority(),
                        srv.weight(),
                        srv.port(),
                        srv.target()
                    )),
                    _ => None,
                })
                .collect()
        };
        ZoneState {
            serial,
            records: (
                srv(format!("_vlmcs._tcp.{zone}.")),
                srv(format!("_vlmcs._tcp.branch.{zone}.")),
            ),
        }
    }

    fn read_all(&self) -> Vec<ZoneState> {
        (1..=ZONES).map(|n| self.read(n)).collect()
    }
}

/// One zone as BIND serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ZoneState {
    serial: u32,
    /// The apex's and the branch's `_vlmcs._tcp` records.
    records: (BTreeSet<String>, BTreeSet<String>),
}

//------------ Configurations ------------------------------------------------

/// The records one configuration wants in every domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Only the other host's record: the zone files as loaded.
    Initial,
    /// kms1 and kms2 with priority 0, weight 0.
    A,
    /// kms1 and kms2 with priority 10, weight 50.
    B,
}

impl Target {
    fn records(self) -> BTreeSet<String> {
        let ours = match self {
            Target::Initial => return BTreeSet::from([FOREIGN.to_string()]),
            Target::A => "0 0",
            Target::B => "10 50",
        };
        [
            FOREIGN.to_string(),
            format!("{ours} 1688 kms1.secure.example."),
            format!("{ours} 1688 kms2.secure.example."),
        ]
        .into()
    }

    fn suffix(self) -> &'static str {
        match self {
            Target::B => ", 10, 50",
            _ => "",
        }
    }
}

/// A configuration file publishing `target` to both domains of every zone
/// through `relay`.
fn config(dir: &Path, target: Target, relay: SocketAddr) -> PathBuf {
    let mut list = Vec::new();
    let mut domains = String::new();
    for n in 1..=ZONES {
        let zone = zone(n);
        for domain in [zone.clone(), format!("branch.{zone}")] {
            list.push(format!("\"{domain}{}\"", target.suffix()));
            domains.push_str(&format!("[domain.\"{domain}\"]\nserver = \"{relay}\"\n"));
            if signed(n) {
                domains.push_str("key = \"secure\"\n");
            }
        }
    }
    let text = format!(
        "publish-list = [{}]\n\
         [[host]]\nname = \"kms1.secure.example\"\n\
         [[host]]\nname = \"kms2.secure.example\"\n\
         {domains}\
         [tsig-key.secure]\nfile = \"{}\"\n",
        list.join(", "),
        key_file(SECURE_KEY_NAME).display()
    );
    let path = dir.join(format!("{target:?}.toml"));
    std::fs::write(&path, text).expect("config");
    path
}

//------------ Running and killing -------------------------------------------

/// Starts `kmsdns publish` with `config` (a long timeout: nothing is
/// retransmitted before the kill).
fn spawn_publish(config: &Path, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kmsdns"))
        .env("NO_COLOR", "1")
        .args(["-c", config.to_str().expect("UTF-8 path")])
        .args(["--timeout", "5s", "--format", "json"])
        .args(extra)
        .arg("publish")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kmsdns starts")
}

/// SIGKILL (what `Child::kill` sends on Unix), then reaps it. Returns
/// whether the kill ended it (false: it had exited already).
fn kill(mut child: Child) -> bool {
    let _ = child.kill();
    let status = child.wait().expect("reap kmsdns");
    status.signal() == Some(9)
}

/// Waits until BIND has answered every UPDATE the relay forwarded, so its
/// zones are final.
fn settle(relay: &Relay) {
    // A datagram sent just before the kill may still be in the relay's
    // socket buffer, about to be forwarded.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        relay.wait_settled(Kind::Update, Duration::from_secs(10)),
        "BIND did not answer every UPDATE:\n{}",
        relay.log()
    );
}

/// Every zone is either as before or as planned, both RRsets together,
/// and its serial moved by one exactly when it changed. Returns which
/// zones changed.
fn assert_atomic(
    before: &[ZoneState],
    after: &[ZoneState],
    planned: Target,
    case: &str,
) -> Vec<bool> {
    let want = (planned.records(), planned.records());
    before
        .iter()
        .zip(after)
        .enumerate()
        .map(|(i, (before, after))| {
            let moved = after.serial.wrapping_sub(before.serial);
            if after.records == before.records {
                assert_eq!(
                    moved,
                    0,
                    "zone {} unchanged, serial moved: {case}",
                    zone(i + 1)
                );
                false
            } else {
                assert_eq!(
                    after.records,
                    want,
                    "zone {} is neither as before nor as planned: {case}\nbefore {:?}",
                    zone(i + 1),
                    before.records
                );
                assert_eq!(
                    moved,
                    1,
                    "zone {} changed exactly once: {case}",
                    zone(i + 1)
                );
                true
            }
        })
        .collect()
}

/// A second `publish` of `target` without faults: exit 0, every zone as
/// planned, each domain `applied` where the kill left its zone as before
/// and `in-sync` where it was already done.
fn assert_rerun_converges(
    server: &Server,
    relay: &Relay,
    config: &Path,
    target: Target,
    changed: &[bool],
    case: &str,
) {
    relay.clear();
    let before = server.read_all();
    let rerun = Kmsdns::new()
        .args(["-c", config.to_str().expect("UTF-8 path")])
        .args(["--timeout", "2s", "--format", "json", "publish"])
        .timeout(DEADLINE)
        .run();
    let run = format!("{case}, rerun: {rerun}");
    assert_eq!(rerun.status, 0, "{run}");
    let doc: serde_json::Value = rerun.json();
    let outcomes: Vec<(String, String)> = doc["details"]["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .map(|d| {
            (
                d["domain"].as_str().unwrap_or_default().to_string(),
                d["outcome"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = (1..=ZONES)
        .flat_map(|n| {
            let outcome = if changed[n - 1] { "in-sync" } else { "applied" };
            [
                (format!("{}.", zone(n)), outcome.to_string()),
                (format!("branch.{}.", zone(n)), outcome.to_string()),
            ]
        })
        .collect();
    assert_eq!(outcomes, expected, "{run}");
    let after = server.read_all();
    assert_eq!(
        assert_atomic(&before, &after, target, &run),
        changed.iter().map(|c| !c).collect::<Vec<_>>(),
        "only the zones left as before were updated: {run}"
    );
    for (i, state) in after.iter().enumerate() {
        assert_eq!(
            state.records,
            (target.records(), target.records()),
            "zone {}: {run}",
            zone(i + 1)
        );
    }
}

//------------ The tests -----------------------------------------------------

/// Killed while the K-th zone's UPDATE is applied but its reply held by
/// the relay (`--concurrency 1`: zones in configuration order), for every
/// K from 0 (killed during the first read) to all six: exactly the first K
/// zones are as planned, the others as before. Then a rerun converges.
#[test]
fn killed_after_k_updates_leaves_exactly_k_zones_changed_and_a_rerun_converges() {
    let server = Server::start();
    let relay = Relay::start(server.addr());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut current = Target::Initial;
    for k in 0..=ZONES {
        let target = if current == Target::A {
            Target::B
        } else {
            Target::A
        };
        let config = config(dir.path(), target, relay.addr());
        let hold = Rule::new(Fault::Delay(Duration::from_secs(20)));
        relay.script(if k == 0 {
            vec![hold.queries()]
        } else {
            vec![
                Rule::new(Fault::Pass).updates().times(k - 1),
                hold.updates(),
            ]
        });
        let before = server.read_all();
        let child = spawn_publish(&config, &["--concurrency", "1"]);
        let reached = if k == 0 {
            relay.wait_received(Kind::Query, 1, DEADLINE)
        } else {
            relay.wait_forwarded(Kind::Update, k, DEADLINE)
        };
        let killed = kill(child);
        let case = format!(
            "K = {k}, {current:?} -> {target:?}\n--- relay ---\n{}",
            relay.log()
        );
        assert!(reached, "kmsdns never got there: {case}");
        assert!(killed, "kmsdns was still running when killed: {case}");
        settle(&relay);
        assert_eq!(relay.forwarded(Kind::Update), k, "{case}");
        let changed = assert_atomic(&before, &server.read_all(), target, &case);
        let expected: Vec<bool> = (1..=ZONES).map(|n| n <= k).collect();
        assert_eq!(changed, expected, "the first K zones: {case}");
        assert_rerun_converges(&server, &relay, &config, target, &changed, &case);
        current = target;
    }
}

/// SplitMix64: a fixed seed gives the same kill points and delays on every
/// machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Killed at a random moment (seed 42) while the six zones are updated,
/// one, two or all at a time, every message delayed at random (so the
/// zones' UPDATEs go out spread over the run), some UPDATEs go over TCP
/// after a truncated UDP reply. Whatever the moment, every zone is as
/// before or as planned, changed at most once, and a rerun converges. The
/// rounds must include kills that leave some zones changed and others not.
#[test]
fn killed_at_random_points_every_zone_is_before_or_planned_and_a_rerun_converges() {
    let server = Server::start();
    let relay = Relay::start(server.addr());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut random = SplitMix64(42);
    let mut current = Target::Initial;
    let (mut killed_mid_run, mut partial) = (0, 0);
    let rounds = 16;
    for round in 0..rounds {
        let target = if current == Target::A {
            Target::B
        } else {
            Target::A
        };
        let config = config(dir.path(), target, relay.addr());
        // One rule per message, in arrival order: every read late by up to
        // 60 ms (three reads per domain); every UPDATE over UDP late by up
        // to 200 ms, truncated (the TCP copy then passes), or on time.
        let ms = |random: &mut SplitMix64, most| Duration::from_millis(random.below(most));
        let mut rules: Vec<Rule> = (0..ZONES * 2 * 3)
            .map(|_| {
                Rule::new(Fault::Delay(ms(&mut random, 60)))
                    .queries()
                    .times(1)
            })
            .collect();
        rules.extend((0..ZONES).map(|_| {
            let fault = match random.below(3) {
                0 => Fault::Delay(ms(&mut random, 200)),
                1 => Fault::Truncate {
                    forward: random.below(2) == 0,
                },
                _ => Fault::Pass,
            };
            Rule::new(fault).updates().udp().times(1)
        }));
        relay.script(rules);
        let concurrency = ["1", "2", "64"][random.below(3) as usize];
        let kill_after = ms(&mut random, 700);
        let before = server.read_all();
        let child = spawn_publish(&config, &["--concurrency", concurrency]);
        std::thread::sleep(kill_after);
        let killed = kill(child);
        settle(&relay);
        let case = format!(
            "round {round}, --concurrency {concurrency}, killed after {kill_after:?} ({}), \
             {current:?} -> {target:?}\n--- relay ---\n{}",
            if killed { "running" } else { "already done" },
            relay.log()
        );
        let changed = assert_atomic(&before, &server.read_all(), target, &case);
        if killed {
            killed_mid_run += 1;
        } else {
            assert!(changed.iter().all(|c| *c), "a finished run: {case}");
        }
        if changed.iter().any(|c| *c) && !changed.iter().all(|c| *c) {
            partial += 1;
        }
        assert_rerun_converges(&server, &relay, &config, target, &changed, &case);
        current = target;
    }
    assert!(
        killed_mid_run >= rounds / 2 && partial >= 2,
        "the seed should kill most runs while they work, some between zones: \
         {killed_mid_run} killed, {partial} with some zones changed, of {rounds}"
    );
}
