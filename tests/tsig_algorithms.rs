//! TSIG with every HMAC algorithm BIND offers (RFC 8945 §6), against a real
//! BIND 9.18: hmac-md5, hmac-sha1 and hmac-sha224 for old servers, and
//! hmac-sha256/384/512.
//!
//! Each test starts one `named` on 127.0.0.1 (a free port below 32768)
//! serving `tsig.example`, whose `update-policy` grants the SRV records of
//! `_vlmcs._tcp.tsig.example.` to keys that `tsig-keygen` makes for the
//! test. A signed update must be applied and its signed reply verified; the
//! same key name and algorithm with another secret must get NOTAUTH with
//! the TSIG error BADSIG, and change nothing. The `updates` probe, signed
//! the same way, must get past the permission check (or get BADSIG) and
//! change nothing. What
//! the server holds is read with the harness's own queries, never through
//! the code under test.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::bind::{Grant, Named, NamedConf, Notify, Updates, ZoneConf, ZoneRole};
use common::local::{free_port, soa_serial, version};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use kmsdns::commands::updates::observe::{send_probe, sentinel};
use kmsdns::config::key::{load_key_file, TsigAlgorithm, TsigKey};
use kmsdns::dns::{
    self, DnsOptions, Expected, PrerequisiteRcode, Transport, TsigError, UpdateError,
    UpdateRequest, UpdateResponse,
};

const ZONE: &str = "tsig.example";
const OWNER: &str = "_vlmcs._tcp.tsig.example.";
const ADDRESS: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// `zone.db`: the smallest zone BIND loads, serial 1.
const ZONE_FILE: &str = "\
$TTL 3600
@    IN SOA ns1.tsig.example. hostmaster.tsig.example. 1 3600 600 86400 300
@    IN NS  ns1.tsig.example.
ns1  IN A   127.0.0.1
";

//------------ One named with generated keys ---------------------------------

/// A `named` serving `tsig.example` with the given keys granted, stopped
/// (and its directory removed unless the test failed) on `Drop`.
struct Server {
    // Declared before `dir`: named stops before its files go.
    named: Named,
    dir: tempfile::TempDir,
}

impl Server {
    /// Starts named with one key per `(name, algorithm)`, each made by
    /// `tsig-keygen` into `<name>.key` and granted the SRV records of
    /// `_vlmcs._tcp.tsig.example.`.
    fn start(keys: &[(&str, &str)]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-tsig-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let port = free_port(&[IpAddr::V4(ADDRESS)]);
        let token = format!("kmsdns-tsig-{port}-{}", std::process::id());
        let mut conf = NamedConf::new(dir.path(), ADDRESS, port, &token);
        for (name, algorithm) in keys {
            conf.includes.push(tsig_keygen(
                dir.path(),
                algorithm,
                name,
                &format!("{name}.key"),
            ));
        }
        fs::write(dir.path().join("zone.db"), ZONE_FILE).expect("cannot write zone.db");
        conf.zones.push(ZoneConf {
            name: ZONE.to_string(),
            file: "zone.db".into(),
            role: ZoneRole::Primary {
                updates: Updates::Policy(
                    keys.iter()
                        .map(|(name, _)| Grant {
                            key: name.to_string(),
                            name: OWNER.to_string(),
                            rtype: RecordType::SRV,
                        })
                        .collect(),
                ),
                notify: Notify::Only(Vec::new()),
            },
        });
        let conf_path = dir.path().join("named.conf");
        conf.save(&conf_path).expect("cannot write named.conf");
        let mut named = Named::start(&conf_path, dir.path(), ADDRESS.into(), port);
        named.wait_zone(ZONE, Duration::from_secs(10));
        let server = Server { named, dir };
        // Two nameds on one port share it silently (SO_REUSEPORT): make
        // sure the one answering is ours.
        assert_eq!(server.version(), token, "another named answers on {port}");
        server
    }

    fn addr(&self) -> SocketAddr {
        self.named.addr()
    }

    fn opts(&self) -> DnsOptions {
        DnsOptions {
            timeout: Duration::from_secs(2),
            attempts: 2,
            dns_port: self.addr().port(),
        }
    }

    /// The key `name` as the server has it.
    fn key(&self, name: &str) -> TsigKey {
        load_key_file(&self.dir.path().join(format!("{name}.key")), None)
            .expect("the generated key file loads")
    }

    /// A key with the same name and algorithm as `name` but a secret of its
    /// own, which the server never saw.
    fn impostor(&self, name: &str, algorithm: &str) -> TsigKey {
        let path = tsig_keygen(self.dir.path(), algorithm, name, &format!("{name}.wrong"));
        load_key_file(&path, None).expect("the generated key file loads")
    }

    /// The SRV records at `_vlmcs._tcp.tsig.example.`, as `"prio weight
    /// port target."`; asked over TCP, since a large set is truncated
    /// over UDP.
    fn srv_set(&self) -> BTreeSet<String> {
        let response = query_tcp(self.addr(), OWNER, RecordType::SRV);
        assert!(
            matches!(
                response.response_code(),
                ResponseCode::NoError | ResponseCode::NXDomain
            ),
            "SRV {OWNER}: {}",
            response.response_code()
        );
        response
            .answers()
            .iter()
            .filter_map(|record| match record.data() {
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
    }

    fn serial(&self) -> u32 {
        soa_serial(self.addr(), ZONE, Duration::from_secs(2)).unwrap_or_else(|why| panic!("{why}"))
    }

    fn version(&self) -> String {
        version(self.addr(), Duration::from_secs(2)).expect("version.bind answers")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "kept for inspection: {} (named.conf, named.log, key files)\n--- named.log ---\n{}",
                self.dir.path().display(),
                self.named.log_tail()
            );
        }
    }
}

/// Asks `server` one question over TCP (RFC 1035 §4.2.2: each message
/// preceded by its length in two bytes) and returns the answer.
fn query_tcp(server: SocketAddr, qname: &str, rtype: RecordType) -> Message {
    let mut query = Message::new();
    query
        .set_id(0x7a5e)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .add_query(Query::query(name(qname), rtype));
    let wire = query.to_vec().expect("the query encodes");
    let length = u16::try_from(wire.len()).expect("a short query");
    let mut stream = TcpStream::connect(server).expect("connect over TCP");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("set a timeout");
    stream.write_all(&length.to_be_bytes()).expect("send");
    stream.write_all(&wire).expect("send");
    let mut length = [0; 2];
    stream
        .read_exact(&mut length)
        .expect("read the reply length");
    let mut reply = vec![0; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut reply).expect("read the reply");
    let reply = Message::from_vec(&reply).expect("the reply parses");
    assert_eq!(reply.id(), query.id(), "{qname} {rtype} over TCP");
    reply
}

/// Runs `tsig-keygen -a ALGORITHM NAME` and writes its output (a BIND
/// `key` statement with a fresh random secret) to `dir/file`.
fn tsig_keygen(dir: &Path, algorithm: &str, name: &str, file: &str) -> PathBuf {
    let output = Command::new(tool("tsig-keygen"))
        .args(["-a", algorithm, name])
        .output()
        .expect("cannot run tsig-keygen");
    assert!(
        output.status.success(),
        "tsig-keygen -a {algorithm} {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = dir.join(file);
    fs::write(&path, &output.stdout).expect("cannot write the key file");
    path
}

/// A BIND tool from PATH or the sbin directories; these tests need BIND
/// and never skip.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found: install BIND 9 (Debian/Ubuntu: apt-get install bind9 \
                 bind9-utils). These tests never skip."
            )
        })
}

//------------ Updates -------------------------------------------------------

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("valid test name")
}

fn srv_record(target: &str) -> Record {
    Record::from_rdata(
        name(OWNER),
        3600,
        RData::SRV(SRV::new(0, 0, 1688, name(target))),
    )
}

/// Adds `add` to the SRV RRset, which must hold exactly `expected`.
fn update(expected: &[&str], add: &[&str]) -> UpdateRequest {
    UpdateRequest {
        zone: name("tsig.example."),
        name: name(OWNER),
        expected: Expected::Exactly(
            expected
                .iter()
                .map(|target| SRV::new(0, 0, 1688, name(target)))
                .collect(),
        ),
        delete: Vec::new(),
        add: add.iter().map(|target| srv_record(target)).collect(),
    }
}

fn set(targets: &[&str]) -> BTreeSet<String> {
    targets
        .iter()
        .map(|target| format!("0 0 1688 {target}"))
        .collect()
}

/// The `updates` probe signed with `key`: a sentinel's add under a
/// prerequisite that cannot hold. A granted key gets a verified NXRRSET.
async fn probe(server: &Server, key: &TsigKey) -> Result<UpdateResponse, UpdateError> {
    let sentinel = sentinel(common::local::random_u64()).expect("a sentinel");
    send_probe(
        server.addr(),
        &name("tsig.example."),
        &name(OWNER),
        &sentinel,
        3600,
        Some(key),
        &server.opts(),
    )
    .await
}

/// Whether the probe got past the permission check to its prerequisite;
/// an NXRRSET counts only from a reply whose signature verified.
fn past_permission(probed: &Result<UpdateResponse, UpdateError>) -> bool {
    matches!(
        probed,
        Err(UpdateError::PrerequisiteFailed {
            rcode: PrerequisiteRcode::NxRrset,
            ..
        })
    )
}

/// The whole check for one algorithm: accepted and verified with the
/// server's key, BADSIG with another secret, and the zone changed by the
/// update only, never by the probe.
async fn signs_and_verifies(algorithm: &str, expected: TsigAlgorithm) {
    let key_name = format!("kmsdns-{algorithm}");
    let server = Server::start(&[(&key_name, algorithm)]);
    let opts = server.opts();
    let key = server.key(&key_name);
    assert_eq!(key.algorithm, expected);

    // The probe signs as publish does, so the answer is the one publish
    // will get; its prerequisite cannot hold, so it applies nothing.
    let probed = probe(&server, &key).await;
    assert!(past_permission(&probed), "{algorithm}: probe {probed:?}");
    assert_eq!(server.srv_set(), set(&[]), "{algorithm}: probe");
    assert_eq!(server.serial(), 1, "{algorithm}: the probe changed nothing");

    let applied = dns::send_update(
        server.addr(),
        &update(&[], &["kms1.tsig.example."]),
        Some(&key),
        &opts,
    )
    .await;
    assert!(
        matches!(
            applied,
            Ok(UpdateResponse {
                signed: true,
                sends: 1,
                ..
            })
        ),
        "{algorithm}: {applied:?}"
    );
    assert_eq!(
        server.srv_set(),
        set(&["kms1.tsig.example."]),
        "{algorithm}"
    );
    assert_eq!(server.serial(), 2, "{algorithm}: one change, one serial");

    let impostor = server.impostor(&key_name, algorithm);
    assert_eq!(impostor.name, key.name);
    assert_eq!(impostor.algorithm, key.algorithm);
    assert_ne!(impostor.secret, key.secret);
    let rejected = dns::send_update(
        server.addr(),
        &update(&["kms1.tsig.example."], &["kms2.tsig.example."]),
        Some(&impostor),
        &opts,
    )
    .await;
    assert!(
        matches!(
            &rejected,
            Err(UpdateError::NotAuth {
                tsig_error: Some(TsigError::BadSig),
                ..
            })
        ),
        "{algorithm}: {rejected:?}"
    );
    let message = rejected.map(drop).unwrap_err().to_string();
    assert!(message.contains("BADSIG"), "{message}");
    assert_eq!(
        server.srv_set(),
        set(&["kms1.tsig.example."]),
        "{algorithm}"
    );
    assert_eq!(
        server.serial(),
        2,
        "{algorithm}: the impostor changed nothing"
    );

    let probed = probe(&server, &impostor).await;
    assert!(
        matches!(
            &probed,
            Err(UpdateError::NotAuth {
                tsig_error: Some(TsigError::BadSig),
                ..
            })
        ),
        "{algorithm}: probe {probed:?}"
    );
}

#[tokio::test]
async fn hmac_md5_signs_and_verifies() {
    signs_and_verifies("hmac-md5", TsigAlgorithm::HmacMd5).await;
}

#[tokio::test]
async fn hmac_sha1_signs_and_verifies() {
    signs_and_verifies("hmac-sha1", TsigAlgorithm::HmacSha1).await;
}

#[tokio::test]
async fn hmac_sha224_signs_and_verifies() {
    signs_and_verifies("hmac-sha224", TsigAlgorithm::HmacSha224).await;
}

#[tokio::test]
async fn hmac_sha256_signs_and_verifies() {
    signs_and_verifies("hmac-sha256", TsigAlgorithm::HmacSha256).await;
}

#[tokio::test]
async fn hmac_sha384_signs_and_verifies() {
    signs_and_verifies("hmac-sha384", TsigAlgorithm::HmacSha384).await;
}

#[tokio::test]
async fn hmac_sha512_signs_and_verifies() {
    signs_and_verifies("hmac-sha512", TsigAlgorithm::HmacSha512).await;
}

/// RFC 8945 §4.3.3 digests the key name in canonical (lower-case) form:
/// a key file that spells it with capitals must still sign what BIND
/// computes. The update is large enough to go over TCP (more than 512
/// bytes), so the reply's MAC is checked there too. The probe of the RRset
/// it makes (a small message whatever the RRset) must change nothing.
#[tokio::test]
async fn a_key_name_in_capitals_signs_over_tcp_too() {
    let server = Server::start(&[("KmsDns-Legacy", "hmac-md5")]);
    let key = server.key("KmsDns-Legacy");
    assert_eq!(key.name.to_ascii(), "KmsDns-Legacy");
    let targets: Vec<String> = (1..=16)
        .map(|n| format!("kms{n:02}.branch-office.tsig.example."))
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let applied = dns::send_update(
        server.addr(),
        &update(&[], &targets),
        Some(&key),
        &server.opts(),
    )
    .await;
    assert!(
        matches!(
            applied,
            Ok(UpdateResponse {
                signed: true,
                transport: Transport::Tcp,
                ..
            })
        ),
        "{applied:?}"
    );
    assert_eq!(server.srv_set(), set(&targets));
    assert_eq!(server.serial(), 2);

    let probed = probe(&server, &key).await;
    assert!(past_permission(&probed), "{probed:?}");
    assert_eq!(server.srv_set(), set(&targets));
    assert_eq!(server.serial(), 2, "the probe changed nothing");
}
