//! `kmsdns probe` end to end: SRV records in the real BIND test bed point at
//! loopback responders that answer like a KMS host, like an unrelated RPC
//! server, or not at all (a closed port), and each address gets its verdict
//! and each domain its severity. Also `--host` without DNS, IPv6 through an
//! AAAA record, `--timeout`, `--slow` and `--search`.

use crate::common;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use common::bind::{nsupdate, Server, TestBed};
use common::kms_responder::{KmsResponder, Mode};
use common::run::{Kmsdns, Run};
use serde::Deserialize;

//------------ The JSON document, as a consumer reads it -----------------------

#[derive(Debug, Deserialize)]
struct Document {
    schema: u32,
    command: String,
    status: String,
    findings: Vec<FindingDoc>,
    details: DetailsDoc,
}

#[derive(Debug, Deserialize)]
struct FindingDoc {
    id: String,
    severity: String,
    domain: Option<String>,
    host: Option<String>,
    message: String,
}

#[derive(Debug, Deserialize)]
struct DetailsDoc {
    resolver: Option<String>,
    timeout_ms: u64,
    slow_ms: u64,
    domains: Vec<DomainDoc>,
    hosts: Vec<TargetDoc>,
}

#[derive(Debug, Deserialize)]
struct DomainDoc {
    domain: String,
    query: String,
    answer: String,
    status: String,
    reachable: usize,
    addresses: usize,
    targets: Vec<TargetDoc>,
}

#[derive(Debug, Deserialize)]
struct TargetDoc {
    target: String,
    port: u16,
    priority: Option<u16>,
    weight: Option<u16>,
    probability: Option<String>,
    addresses: Vec<AddressDoc>,
}

#[derive(Debug, Deserialize)]
struct AddressDoc {
    address: Option<SocketAddr>,
    verdict: String,
    connect_ms: Option<f64>,
    reply_ms: Option<f64>,
    error: Option<String>,
}

impl Document {
    fn domain(&self, name: &str) -> &DomainDoc {
        self.details
            .domains
            .iter()
            .find(|d| d.domain == name)
            .unwrap_or_else(|| panic!("no domain {name} in {:#?}", self.details.domains))
    }

    fn ids_for(&self, domain: &str) -> Vec<(&str, &str)> {
        self.findings
            .iter()
            .filter(|f| f.domain.as_deref() == Some(domain))
            .map(|f| (f.id.as_str(), f.severity.as_str()))
            .collect()
    }
}

impl DomainDoc {
    /// `(address, verdict)` for every address of every target, in order.
    fn verdicts(&self) -> Vec<(Option<SocketAddr>, &str)> {
        self.targets
            .iter()
            .flat_map(|t| t.addresses.iter())
            .map(|a| (a.address, a.verdict.as_str()))
            .collect()
    }
}

//------------ Running kmsdns -------------------------------------------------

/// Runs the kmsdns binary off the async runtime, so the responders keep
/// answering while it runs.
async fn kmsdns(args: Vec<String>) -> Run {
    tokio::task::spawn_blocking(move || Kmsdns::new().args(args).run())
        .await
        .expect("the kmsdns run did not panic")
}

/// `--nameserver` for the test bed, then `args`.
fn through(bed: &TestBed, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--nameserver".to_string(), bed.primary().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Adds records to open.example by unsigned dynamic update (the zone takes
/// them from anyone), one `name ttl class type rdata` line each.
fn add_records(bed: &TestBed, records: &[String]) {
    let mut script = format!(
        "server {} {}\nzone open.example\n",
        Server::PRIMARY.ip(),
        bed.port()
    );
    for record in records {
        script.push_str(&format!("update add {record}\n"));
    }
    script.push_str("send\n");
    nsupdate(None, &script);
}

fn srv(owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> String {
    format!("_vlmcs._tcp.{owner}. 60 IN SRV {priority} {weight} {port} {target}.")
}

async fn responder(ip: [u8; 4], mode: Mode) -> KmsResponder {
    KmsResponder::start_on(IpAddr::from(ip), mode)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {ip:?}: {e}"))
}

/// A port on `ip` where nothing listens: bound, then closed.
fn closed_port(ip: [u8; 4]) -> SocketAddr {
    let listener = std::net::TcpListener::bind((IpAddr::from(ip), 0)).expect("bind");
    listener.local_addr().expect("local address")
}

/// Every PDU any responder read was a bind (ptype 11), never a request.
pub(crate) fn assert_only_binds(responders: &[&KmsResponder]) {
    for responder in responders {
        for pdu in responder.received() {
            assert_eq!(pdu.get(2), Some(&11), "ptype of {pdu:02x?}");
        }
    }
}

//------------ Tests ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn each_address_gets_its_verdict_and_each_domain_its_severity() {
    let bed = TestBed::start();
    let kms = responder([127, 53, 1, 11], Mode::Kms).await;
    let other = responder([127, 53, 1, 12], Mode::UnrelatedProvider).await;
    let dead = closed_port([127, 53, 1, 13]);
    let (kms_port, other_port) = (kms.addr().port(), other.addr().port());
    add_records(
        &bed,
        &[
            "kms.open.example. 60 IN A 127.53.1.11".to_string(),
            "other.open.example. 60 IN A 127.53.1.12".to_string(),
            "dead.open.example. 60 IN A 127.53.1.13".to_string(),
            srv("good.open.example", 0, 0, kms_port, "kms.open.example"),
            srv("mixed.open.example", 0, 60, kms_port, "kms.open.example"),
            srv(
                "mixed.open.example",
                0,
                30,
                dead.port(),
                "dead.open.example",
            ),
            srv(
                "mixed.open.example",
                10,
                0,
                other_port,
                "other.open.example",
            ),
            srv("none.open.example", 0, 0, dead.port(), "dead.open.example"),
            srv("none.open.example", 0, 0, other_port, "other.open.example"),
            srv("none.open.example", 5, 0, 1688, "noaddr.open.example"),
        ],
    );

    let run = kmsdns(through(
        &bed,
        &[
            "--format",
            "json",
            "probe",
            "--domain",
            "good.open.example",
            "--domain",
            "mixed.open.example",
            "--domain",
            "none.open.example",
            "--domain",
            "missing.open.example",
        ],
    ))
    .await;
    assert_eq!(
        run.status, 2,
        "critical overall:\n{}{}",
        run.stdout, run.stderr
    );
    let doc = run.json::<Document>();
    assert_eq!(
        (doc.schema, doc.command.as_str(), doc.status.as_str()),
        (1, "probe", "critical")
    );
    assert_eq!(
        doc.details.resolver,
        Some(format!("nameserver {}", bed.primary()))
    );
    assert_eq!((doc.details.timeout_ms, doc.details.slow_ms), (2000, 500));
    assert!(doc.details.hosts.is_empty());

    let kms_addr: SocketAddr = SocketAddr::new([127, 53, 1, 11].into(), kms_port);
    let other_addr: SocketAddr = SocketAddr::new([127, 53, 1, 12].into(), other_port);

    let good = doc.domain("good.open.example.");
    assert_eq!(good.query, "_vlmcs._tcp.good.open.example.");
    assert_eq!(
        (good.answer.as_str(), good.status.as_str()),
        ("records", "ok")
    );
    assert_eq!(good.verdicts(), [(Some(kms_addr), "kms")]);
    assert_eq!(doc.ids_for("good.open.example."), [("kms-reachable", "ok")]);
    let address = &good.targets[0].addresses[0];
    assert!(address.connect_ms.is_some_and(|ms| ms >= 0.0) && address.reply_ms.is_some());

    // RFC 2782 order: priority 0 by chance (60/91 before 30/91), then 10.
    let mixed = doc.domain("mixed.open.example.");
    assert_eq!(mixed.status, "warning");
    assert_eq!(
        mixed.verdicts(),
        [
            (Some(kms_addr), "kms"),
            (Some(dead), "tcp-refused"),
            (Some(other_addr), "rpc-not-kms")
        ]
    );
    let chances: Vec<(Option<u16>, Option<u16>, Option<&str>)> = mixed
        .targets
        .iter()
        .map(|t| (t.priority, t.weight, t.probability.as_deref()))
        .collect();
    // No weight 0: the draw 0 goes to whichever is arranged first.
    assert_eq!(
        chances,
        [
            (Some(0), Some(60), Some("121/182")),
            (Some(0), Some(30), Some("61/182")),
            (Some(10), Some(0), Some("1/1"))
        ]
    );
    assert_eq!((mixed.reachable, mixed.addresses), (1, 3));
    assert_eq!(
        doc.ids_for("mixed.open.example."),
        [
            ("kms-reachable", "ok"),
            ("some-addresses-fail", "warning"),
            ("some-addresses-fail", "warning")
        ]
    );

    let none = doc.domain("none.open.example.");
    assert_eq!(none.status, "critical");
    assert_eq!(
        none.verdicts(),
        [
            (Some(dead), "tcp-refused"),
            (Some(other_addr), "rpc-not-kms"),
            (None, "dns-failed")
        ]
    );
    let dns_failed = &none.targets[2].addresses[0];
    assert!(
        dns_failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("noaddr.open.example.")),
        "{dns_failed:?}"
    );
    assert_eq!(
        doc.ids_for("none.open.example."),
        [("kms-unreachable", "critical")]
    );
    let unreachable = doc
        .findings
        .iter()
        .find(|f| f.id == "kms-unreachable")
        .map(|f| f.message.as_str())
        .unwrap_or_default();
    assert!(
        unreachable.contains("0xC004F074") && unreachable.contains("0x800706BA"),
        "{unreachable}"
    );

    let missing = doc.domain("missing.open.example.");
    assert_eq!(
        (missing.answer.as_str(), missing.status.as_str()),
        ("nxdomain", "critical")
    );
    assert_eq!(
        doc.ids_for("missing.open.example."),
        [("srv-missing", "critical")]
    );

    // One domain at a time: the exit status follows the worst finding.
    let good = kmsdns(through(&bed, &["probe", "--domain", "good.open.example"])).await;
    assert_eq!(good.status, 0, "{}{}", good.stdout, good.stderr);
    assert!(
        good.stdout.contains(&format!("{kms_addr}  kms ")),
        "{}",
        good.stdout
    );
    let mixed = kmsdns(through(&bed, &["probe", "--domain", "mixed.open.example"])).await;
    assert_eq!(mixed.status, 1, "{}{}", mixed.stdout, mixed.stderr);
    assert!(mixed.stdout.contains("tcp-refused"), "{}", mixed.stdout);
    assert!(mixed.stdout.contains("rpc-not-kms"), "{}", mixed.stdout);
    assert!(mixed.stdout.contains("WARNING"), "{}", mixed.stdout);
    let none = kmsdns(through(&bed, &["probe", "--domain", "none.open.example"])).await;
    assert_eq!(none.status, 2, "{}{}", none.stdout, none.stderr);

    assert!(!kms.received().is_empty(), "the KMS responder was probed");
    assert_only_binds(&[&kms, &other]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_are_probed_without_dns_like_slmgr_skms() {
    let kms = responder([127, 53, 1, 21], Mode::Kms).await;
    let nak = responder([127, 53, 1, 22], Mode::BindNak(4)).await;
    let garbage = responder([127, 53, 1, 23], Mode::Garbage).await;
    let dead = closed_port([127, 53, 1, 24]);
    let kms_v6 = KmsResponder::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST), Mode::Kms)
        .await
        .expect("listen on [::1]");

    let run = kmsdns(strings(&[
        "--format",
        "json",
        "probe",
        "--host",
        &kms.addr().to_string(),
        "--host",
        &nak.addr().to_string(),
        "--host",
        &garbage.addr().to_string(),
        "--host",
        &dead.to_string(),
        "--host",
        &kms_v6.addr().to_string(),
    ]))
    .await;
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    let doc = run.json::<Document>();
    assert_eq!(doc.details.resolver, None, "no DNS was needed");
    assert!(doc.details.domains.is_empty());
    let verdicts: Vec<(&str, u16, Option<SocketAddr>, &str)> = doc
        .details
        .hosts
        .iter()
        .map(|h| {
            (
                h.target.as_str(),
                h.port,
                h.addresses[0].address,
                h.addresses[0].verdict.as_str(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("127.53.1.21", kms.addr().port(), Some(kms.addr()), "kms"),
            (
                "127.53.1.22",
                nak.addr().port(),
                Some(nak.addr()),
                "rpc-bind-refused"
            ),
            (
                "127.53.1.23",
                garbage.addr().port(),
                Some(garbage.addr()),
                "not-rpc"
            ),
            ("127.53.1.24", dead.port(), Some(dead), "tcp-refused"),
            ("::1", kms_v6.addr().port(), Some(kms_v6.addr()), "kms"),
        ]
    );
    let by_host: Vec<(Option<&str>, &str)> = doc
        .findings
        .iter()
        .map(|f| (f.host.as_deref(), f.id.as_str()))
        .collect();
    let kms_label = kms.addr().to_string();
    let v6_label = kms_v6.addr().to_string();
    let dead_label = dead.to_string();
    assert!(
        by_host.contains(&(Some(kms_label.as_str()), "kms-reachable")),
        "{by_host:?}"
    );
    assert!(
        by_host.contains(&(Some(v6_label.as_str()), "kms-reachable")),
        "{by_host:?}"
    );
    assert!(
        by_host.contains(&(Some(dead_label.as_str()), "kms-unreachable")),
        "{by_host:?}"
    );
    assert!(doc.findings.iter().all(|f| f.domain.is_none()));

    let alone = kmsdns(strings(&["probe", "--host", &kms.addr().to_string()])).await;
    assert_eq!(alone.status, 0, "{}{}", alone.stdout, alone.stderr);
    assert!(
        alone.stdout.contains("hosts given with --host"),
        "{}",
        alone.stdout
    );
    assert_only_binds(&[&kms, &nak, &garbage, &kms_v6]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ipv6_addresses_come_from_aaaa_records() {
    let bed = TestBed::start();
    let kms_v6 = KmsResponder::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST), Mode::Kms)
        .await
        .expect("listen on [::1]");
    let port = kms_v6.addr().port();
    add_records(
        &bed,
        &[
            "v6only.open.example. 60 IN AAAA ::1".to_string(),
            // Both families: only [::1] listens on the port.
            "dual.open.example. 60 IN A 127.53.1.31".to_string(),
            "dual.open.example. 60 IN AAAA ::1".to_string(),
            srv("v6.open.example", 0, 0, port, "v6only.open.example"),
            srv("dual.open.example", 0, 0, port, "dual.open.example"),
        ],
    );
    let run = kmsdns(through(
        &bed,
        &[
            "--format",
            "json",
            "probe",
            "--domain",
            "v6.open.example",
            "--domain",
            "dual.open.example",
        ],
    ))
    .await;
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    let doc = run.json::<Document>();
    let v6 = doc.domain("v6.open.example.");
    assert_eq!(v6.verdicts(), [(Some(kms_v6.addr()), "kms")]);
    assert_eq!(v6.status, "ok");
    // Every address of the target, IPv4 first.
    let dual = doc.domain("dual.open.example.");
    assert_eq!(
        dual.verdicts(),
        [
            (
                Some(SocketAddr::new([127, 53, 1, 31].into(), port)),
                "tcp-refused"
            ),
            (Some(kms_v6.addr()), "kms"),
        ]
    );
    assert_eq!(dual.status, "warning");
    assert_eq!(dual.targets[0].target, "dual.open.example.");
    assert_eq!(dual.targets[0].port, port);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bind_reply_that_never_comes_is_cut_off_at_the_deadline_naming_the_step() {
    let bed = TestBed::start();
    let silent = responder([127, 53, 1, 44], Mode::NeverAnswer).await;
    add_records(
        &bed,
        &[
            "mute.open.example. 60 IN A 127.53.1.44".to_string(),
            srv(
                "stalled.open.example",
                0,
                0,
                silent.addr().port(),
                "mute.open.example",
            ),
        ],
    );
    // The probe's own bound is 2 × 5 s; the domain may take 1 s in all.
    let run = kmsdns(through(
        &bed,
        &[
            "--timeout",
            "5s",
            "--deadline",
            "1s",
            "--format",
            "json",
            "probe",
            "--domain",
            "stalled.open.example",
        ],
    ))
    .await;
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.took < Duration::from_secs(3),
        "cut at 1 s: {:?}",
        run.took
    );
    let doc = run.json::<Document>();
    let domain = doc.domain("stalled.open.example.");
    assert_eq!(
        domain.verdicts(),
        [(Some(silent.addr()), "deadline-exceeded")]
    );
    assert!(
        doc.ids_for("stalled.open.example.")
            .contains(&("deadline-exceeded", "critical")),
        "{:#?}",
        doc.findings
    );
    let cut = doc
        .findings
        .iter()
        .find(|f| f.id == "deadline-exceeded")
        .map(|f| f.message.as_str())
        .unwrap_or_default();
    assert!(
        cut.contains(&format!(
            "1s (--deadline) while waiting for the RPC bind reply from {}",
            silent.addr()
        )),
        "{cut}"
    );
    assert_only_binds(&[&silent]);
}

/// Accepts, waits `delay`, then relays to `to`: a KMS host far away.
async fn slow_relay(to: SocketAddr, delay: Duration) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.53.1.41", 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    let task = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_bounds_each_step_and_slow_hosts_are_warned_about() {
    let silent = responder([127, 53, 1, 42], Mode::NeverAnswer).await;
    let run = kmsdns(strings(&[
        "--timeout",
        "300ms",
        "--format",
        "json",
        "probe",
        "--host",
        &silent.addr().to_string(),
    ]))
    .await;
    assert_eq!(run.status, 2, "{}{}", run.stdout, run.stderr);
    // About 0.3 s here: one step waits its 300 ms.
    assert!(run.took < common::OVERDUE, "took {:?}", run.took);
    let doc = run.json::<Document>();
    let address = &doc.details.hosts[0].addresses[0];
    assert_eq!(address.verdict, "tcp-timeout");
    assert!(
        address
            .reply_ms
            .is_some_and(|ms| (250.0..1500.0).contains(&ms)),
        "{address:?}"
    );
    assert_eq!(doc.details.timeout_ms, 300);

    let kms = responder([127, 53, 1, 43], Mode::Kms).await;
    let (relay, task) = slow_relay(kms.addr(), Duration::from_millis(300)).await;
    let slow = kmsdns(strings(&[
        "--format",
        "json",
        "probe",
        "--slow",
        "100",
        "--host",
        &relay.to_string(),
    ]))
    .await;
    task.abort();
    assert_eq!(slow.status, 1, "{}{}", slow.stdout, slow.stderr);
    let doc = slow.json::<Document>();
    assert_eq!(doc.details.hosts[0].addresses[0].verdict, "kms");
    let ids: Vec<(&str, &str)> = doc
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.severity.as_str()))
        .collect();
    assert_eq!(ids, [("kms-reachable", "ok"), ("slow-host", "warning")]);
    assert!(
        doc.findings[1].message.contains("above --slow 100 ms"),
        "{}",
        doc.findings[1].message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_list_and_publish_list_choose_the_domains() {
    let bed = TestBed::start();
    let kms = responder([127, 53, 1, 51], Mode::Kms).await;
    add_records(
        &bed,
        &[
            "kms.open.example. 60 IN A 127.53.1.51".to_string(),
            srv(
                "good.open.example",
                0,
                0,
                kms.addr().port(),
                "kms.open.example",
            ),
        ],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 192.0.2.1\nsearch nothing.open.example good.open.example\n",
    )
    .expect("write");
    let resolv = resolv.to_str().expect("UTF-8 path").to_string();

    // A search-list domain without records is no problem when a later one has them.
    let run = kmsdns(through(
        &bed,
        &[
            "--format",
            "json",
            "probe",
            "--search",
            "--resolv-conf",
            &resolv,
        ],
    ))
    .await;
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    let doc = run.json::<Document>();
    assert_eq!(
        doc.ids_for("nothing.open.example."),
        [("srv-missing", "info")]
    );
    assert_eq!(doc.ids_for("good.open.example."), [("kms-reachable", "ok")]);

    std::fs::write(&resolv, "search nothing.open.example\n").expect("write");
    let none = kmsdns(through(
        &bed,
        &[
            "--format",
            "json",
            "probe",
            "--search",
            "--resolv-conf",
            &resolv,
        ],
    ))
    .await;
    assert_eq!(none.status, 2, "{}{}", none.stdout, none.stderr);
    let doc = none.json::<Document>();
    assert!(
        doc.findings
            .iter()
            .any(|f| f.id == "srv-missing" && f.severity == "critical" && f.domain.is_none()),
        "{:#?}",
        doc.findings
    );

    // Without --domain, --search or --host: the publish list of the configuration.
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        format!(
            "publish-list = [\"good.open.example\"]\n[[host]]\nname = \"kms.open.example\"\nport = {}\n",
            kms.addr().port()
        ),
    )
    .expect("write config");
    let run = kmsdns(through(
        &bed,
        &["-c", config.to_str().expect("UTF-8"), "probe"],
    ))
    .await;
    assert_eq!(run.status, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("good.open.example."), "{}", run.stdout);
    assert_only_binds(&[&kms]);
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_3() {
    let no_config = kmsdns(strings(&["-c", "/nonexistent/kmsdns.toml", "probe"])).await;
    assert_eq!(no_config.status, 3, "{}", no_config.stderr);
    let bad_host = kmsdns(strings(&["probe", "--host", "[::1]:0"])).await;
    assert_eq!(bad_host.status, 3, "{}", bad_host.stderr);
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("resolv.conf");
    std::fs::write(&empty, "nameserver 192.0.2.1\n").expect("write");
    let no_search = kmsdns(strings(&[
        "probe",
        "--search",
        "--resolv-conf",
        Path::new(&empty).to_str().expect("UTF-8"),
    ]))
    .await;
    assert_eq!(no_search.status, 3, "{}", no_search.stderr);
    assert!(
        no_search.stderr.contains("no search list"),
        "{}",
        no_search.stderr
    );
}
