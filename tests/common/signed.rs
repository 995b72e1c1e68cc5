//! A signed zone on real BIND: `signed.example`, served by a primary
//! (`ns1`, 127.53.0.1) and a secondary (`ns2`, 127.53.0.2), optionally
//! with a validating resolver (127.53.0.3) in front.
//!
//! The zone is signed either by BIND itself (`dnssec-policy default` with
//! inline signing, dynamic updates allowed) or beforehand with
//! `dnssec-keygen` and `dnssec-signzone` (signature times chosen by the
//! test, the signed file then altered at will), and then loaded as is,
//! without re-signing. The `named.conf` of each instance is
//! [`NamedConf`]'s, with the zone statement appended, since the typed
//! [`super::bind::ZoneConf`] knows no DNSSEC statements.
//!
//! As everywhere in `tests/common/`, nothing skips: a missing `named`,
//! `dnssec-keygen` or `dnssec-signzone` fails the test, and every process
//! is stopped on `Drop`.

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};

use super::bind::{Named, NamedConf};
use super::local::{ensure_loopback, fqdn, free_port, random_u64, tool, version};

/// The signed zone.
pub const ZONE: &str = "signed.example";

/// Its `_vlmcs._tcp` SRV owner.
pub const OWNER: &str = "_vlmcs._tcp.signed.example.";

/// The addresses of the primary, the secondary and the resolver.
pub const PRIMARY: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 1);
pub const SECONDARY: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 2);
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 53, 0, 3);

/// How long BIND may take to sign the zone and the secondary to transfer
/// it; signing a zone this small takes well under a second.
pub const SIGNING_TIMEOUT: Duration = Duration::from_secs(20);

/// The unsigned zone: two KMS hosts inside it, and the SRV record of the
/// first when `with_srv`.
pub fn zone_text(with_srv: bool) -> String {
    let srv = if with_srv {
        "_vlmcs._tcp IN SRV 0 0 1688 kms1\n"
    } else {
        ""
    };
    format!(
        "$ORIGIN {ZONE}.\n$TTL 3600\n\
         @ IN SOA ns1 hostmaster 1 3600 600 86400 60\n\
         @ IN NS ns1\n@ IN NS ns2\n\
         ns1 IN A {PRIMARY}\nns2 IN A {SECONDARY}\n\
         kms1 IN A 192.0.2.1\nkms2 IN A 192.0.2.2\n{srv}"
    )
}

/// [`zone_text`] with negative answers to prove: the SRV RRset points at
/// kms1 (which has no AAAA: NODATA) and at kms3, which does not exist
/// (NXDOMAIN), and `_vlmcs._tcp.nodata` holds a TXT record but no SRV
/// (NODATA for the domain `nodata.signed.example`).
pub fn denial_zone_text() -> String {
    format!(
        "{}_vlmcs._tcp IN SRV 0 0 1688 kms3\n_vlmcs._tcp.nodata IN TXT \"no KMS here\"\n",
        zone_text(true)
    )
}

/// Alters the signature of every RRSIG over `rtype` in a signed zone file
/// written with `-O full`, so that none verifies.
pub fn corrupt_rrsigs(file: &Path, rtype: &str) {
    let text = fs::read_to_string(file).expect("cannot read the signed zone");
    let owners: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 5 && fields[3] == "RRSIG" && fields[4] == rtype)
                .then(|| fields[0].to_owned())
        })
        .collect();
    assert!(!owners.is_empty(), "no RRSIG {rtype} in {}", file.display());
    for owner in owners {
        corrupt_rrsig(file, &owner, rtype);
    }
}

/// How the primary serves the zone.
#[derive(Clone, Debug)]
pub enum Signing {
    /// BIND signs (`dnssec-policy default; inline-signing yes;`) and
    /// re-signs every update (`allow-update { any; }`).
    Policy,
    /// As [`Signing::Policy`], denials proven by NSEC3 (`nsec3param
    /// iterations 0 optout no salt-length 0`), serving [`denial_zone_text`].
    Nsec3Policy,
    /// The file, signed beforehand, is served as is: no key, no policy;
    /// updates allowed when `updates` (BIND then applies them unsigned).
    Presigned { file: PathBuf, updates: bool },
    /// The unsigned zone, served as is, updates allowed: a server that
    /// holds no key.
    Unsigned,
}

/// How the second server serves the zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Second {
    /// A secondary that transfers from the primary on NOTIFY.
    Secondary,
    /// A secondary that the primary does not notify and that refreshes
    /// only hourly: it keeps the version it loaded at start.
    Lagging,
    /// A primary of its own for the unsigned zone: no key to sign with.
    UnsignedCopy,
}

/// The running servers of a signed zone.
#[derive(Debug)]
pub struct SignedBed {
    // Before `dir`: the servers stop before their files go.
    servers: Vec<Named>,
    dir: tempfile::TempDir,
    port: u16,
    /// BIND's statistics channel, on each authoritative server.
    stats_port: u16,
}

impl SignedBed {
    /// Starts the primary and the second server, and with `resolver` a
    /// validating resolver trusting the primary's key-signing key; waits
    /// until both serve the zone.
    pub fn start(signing: Signing, second: Second, resolver: bool) -> SignedBed {
        super::servers::on_a_free_port("named", || {
            SignedBed::try_start(signing.clone(), second, resolver)
        })
    }

    fn try_start(signing: Signing, second: Second, resolver: bool) -> Result<SignedBed, String> {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-signed-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let ips: Vec<IpAddr> = [PRIMARY, SECONDARY, RESOLVER]
            .into_iter()
            .map(IpAddr::V4)
            .collect();
        for ip in &ips {
            ensure_loopback(*ip);
        }
        let port = free_port(&ips);
        let stats_port = std::iter::repeat_with(|| free_port(&ips))
            .find(|&stats| stats != port)
            .expect("a free port");
        let mut bed = SignedBed {
            servers: Vec::new(),
            dir,
            port,
            stats_port,
        };
        prepare(bed.dir.path(), &signing);
        let primary = bed.instance("ns1", PRIMARY, &primary_zone(&signing, second, port));
        bed.servers.push(primary?);
        // A secondary started before the first signing would transfer the
        // unsigned zone.
        if !matches!(signing, Signing::Unsigned) {
            bed.wait_signed(bed.primary(), ZONE, RecordType::SOA);
        }
        let zone = match second {
            Second::UnsignedCopy => {
                fs::write(bed.dir.path().join("copy.zone"), zone_text(false))
                    .expect("cannot write the copy");
                format!(
                    "zone \"{ZONE}\" {{\n    type primary;\n    file \"copy.zone\";\n    allow-update {{ any; }};\n}};\n"
                )
            }
            Second::Secondary | Second::Lagging => format!(
                "zone \"{ZONE}\" {{\n    type secondary;\n    file \"{ZONE}.db\";\n    primaries {{ {PRIMARY} port {port}; }};\n    notify no;\n}};\n"
            ),
        };
        let second = bed.instance("ns2", SECONDARY, &zone);
        bed.servers.push(second?);
        if resolver {
            let resolver = bed.resolver()?;
            bed.servers.push(resolver);
        }
        Ok(bed)
    }

    /// Starts one authoritative instance serving `zone` (a zone
    /// statement), waiting until it answers with its own token.
    fn instance(&self, name: &str, address: Ipv4Addr, zone: &str) -> Result<Named, String> {
        let dir = self.dir.path().join(name);
        fs::create_dir_all(&dir).expect("cannot create an instance directory");
        for file in ["signed.zone", "copy.zone"] {
            let source = self.dir.path().join(file);
            if source.exists() {
                fs::copy(&source, dir.join(file)).expect("cannot copy the zone file");
            }
        }
        let token = format!("kmsdns-signed-{:016x}-{name}", random_u64());
        let conf = NamedConf::new(&dir, address, self.port, &token);
        let stats = format!(
            "statistics-channels {{ inet {address} port {} allow {{ 127.0.0.0/8; }}; }};\n",
            self.stats_port
        );
        let text = format!("{conf}{stats}{zone}");
        let path = dir.join("named.conf");
        fs::write(&path, text).expect("cannot write named.conf");
        let mut named = Named::start(&path, &dir, IpAddr::V4(address), self.port);
        let answered = version(named.addr(), Duration::from_millis(500))?;
        if answered != token {
            return Err(format!("{address}:{} answered as {answered:?}", self.port));
        }
        named.wait_zone(ZONE, SIGNING_TIMEOUT);
        Ok(named)
    }

    /// A validating resolver: recursion on, the zone's key-signing key as
    /// a static trust anchor, the primary as the zone's static stub (asked
    /// on the instance's `port`, which named also uses for queries out).
    fn resolver(&self) -> Result<Named, String> {
        let anchor = self.key_signing_key();
        let dir = self.dir.path().join("resolver");
        fs::create_dir_all(&dir).expect("cannot create the resolver directory");
        let token = format!("kmsdns-signed-{:016x}-resolver", random_u64());
        let conf = NamedConf::new(&dir, RESOLVER, self.port, &token)
            .to_string()
            .replace(
                "    recursion no;\n",
                "    recursion yes;\n    allow-recursion { any; };\n",
            )
            .replace(
                "    dnssec-validation no;\n",
                "    dnssec-validation yes;\n",
            );
        let text = format!(
            "{conf}trust-anchors {{\n    \"{ZONE}.\" static-key {anchor};\n}};\n\
             zone \"{ZONE}\" {{\n    type static-stub;\n    server-addresses {{ {PRIMARY}; }};\n}};\n"
        );
        let path = dir.join("named.conf");
        fs::write(&path, text).expect("cannot write named.conf");
        let named = Named::start(&path, &dir, IpAddr::V4(RESOLVER), self.port);
        let answered = version(named.addr(), Duration::from_millis(500))?;
        if answered != token {
            return Err(format!("{RESOLVER}:{} answered as {answered:?}", self.port));
        }
        Ok(named)
    }

    /// The primary's key-signing key as `flags protocol algorithm "key"`.
    fn key_signing_key(&self) -> String {
        let output = Command::new(tool("dig", "bind9-dnsutils"))
            .arg(format!("@{PRIMARY}"))
            .args(["-p", &self.port.to_string()])
            .args(["+norec", "+short", "+time=2", ZONE, "DNSKEY"])
            .output()
            .expect("cannot run dig");
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .find(|line| line.starts_with("257 "))
            .unwrap_or_else(|| panic!("no key-signing key at the primary:\n{text}"));
        let mut fields = line.split_whitespace();
        let head: Vec<&str> = fields.by_ref().take(3).collect();
        format!("{} \"{}\"", head.join(" "), fields.collect::<String>())
    }

    /// The port every server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The primary's address and port.
    pub fn primary(&self) -> SocketAddr {
        SocketAddr::new(PRIMARY.into(), self.port)
    }

    /// The second server's address and port.
    pub fn secondary(&self) -> SocketAddr {
        SocketAddr::new(SECONDARY.into(), self.port)
    }

    /// The validating resolver's address and port.
    pub fn resolver_addr(&self) -> SocketAddr {
        SocketAddr::new(RESOLVER.into(), self.port)
    }

    /// How many queries of `rtype` `server` (one of the bed's
    /// authoritative servers) received since it started, as BIND's
    /// statistics channel counts them.
    pub fn queries_of(&self, server: SocketAddr, rtype: RecordType) -> u64 {
        let stats = SocketAddr::new(server.ip(), self.stats_port);
        let mut stream = std::net::TcpStream::connect_timeout(&stats, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("statistics channel {stats}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a timeout");
        write!(
            stream,
            "GET /json/v1/server HTTP/1.0\r\nHost: {stats}\r\n\r\n"
        )
        .expect("cannot ask the statistics channel");
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .expect("cannot read the statistics");
        let body = reply.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        let json: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("statistics of {server}: {e}\n{reply}"));
        json["qtypes"][rtype.to_string()].as_u64().unwrap_or(0)
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Restarts the primary signing the zone (`dnssec-policy default`,
    /// inline signing) and waits until it serves it signed; a secondary
    /// it does not notify keeps what it had.
    pub fn sign_primary(&mut self, second: Second) {
        self.servers[0].stop();
        let dir = self.dir.path().join("ns1");
        let path = dir.join("named.conf");
        let text = fs::read_to_string(&path).expect("cannot read named.conf");
        let zone_at = text.find("zone \"").expect("a zone statement");
        let conf = format!(
            "{}{}",
            &text[..zone_at],
            primary_zone(&Signing::Policy, second, self.port)
        );
        fs::write(&path, conf).expect("cannot write named.conf");
        self.servers[0] = Named::start(&path, &dir, IpAddr::V4(PRIMARY), self.port);
        self.wait_signed(self.primary(), ZONE, RecordType::SOA);
    }

    /// Restarts the primary also serving the parent zone `example`, which
    /// delegates the zone to both servers with the DS records `ds` (zone
    /// file lines, as `dnssec-dsfromkey` prints them).
    pub fn serve_parent(&mut self, ds: &str) {
        self.servers[0].stop();
        let dir = self.dir.path().join("ns1");
        let parent = format!(
            "$ORIGIN example.\n$TTL 3600\n\
             @ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n\
             @ IN NS ns1.{ZONE}.\n\
             signed IN NS ns1.signed\nsigned IN NS ns2.signed\n\
             ns1.signed IN A {PRIMARY}\nns2.signed IN A {SECONDARY}\n{ds}\n"
        );
        fs::write(dir.join("parent.zone"), parent).expect("cannot write the parent zone");
        let path = dir.join("named.conf");
        let mut conf = fs::read_to_string(&path).expect("cannot read named.conf");
        conf.push_str("zone \"example\" {\n    type primary;\n    file \"parent.zone\";\n};\n");
        fs::write(&path, conf).expect("cannot write named.conf");
        self.servers[0] = Named::start(&path, &dir, IpAddr::V4(PRIMARY), self.port);
        self.servers[0].wait_zone("example", SIGNING_TIMEOUT);
        self.servers[0].wait_zone(ZONE, SIGNING_TIMEOUT);
    }

    /// Waits until `server` serves `name`/`rtype` with an RRSIG over it.
    pub fn wait_signed(&self, server: SocketAddr, name: &str, rtype: RecordType) {
        let deadline = Instant::now() + SIGNING_TIMEOUT;
        loop {
            if signed_answer(server, name, rtype).is_ok_and(|signed| signed) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{server} did not serve a signed {name} {rtype} within {SIGNING_TIMEOUT:?}\n{}",
                self.servers
                    .iter()
                    .map(Named::log_tail)
                    .collect::<Vec<_>>()
                    .join("\n---\n")
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether `server` answers `name`/`rtype` (DO set) with records and an
/// RRSIG covering them.
pub fn signed_answer(server: SocketAddr, name: &str, rtype: RecordType) -> Result<bool, String> {
    let response = query_do(server, name, rtype)?;
    let records = response.answers().iter().any(|r| r.record_type() == rtype);
    let rrsig = response
        .answers()
        .iter()
        .any(|r| r.record_type() == RecordType::RRSIG);
    Ok(response.response_code() == ResponseCode::NoError && records && rrsig)
}

/// One query with DO set and RD clear.
pub fn query_do(server: SocketAddr, name: &str, rtype: RecordType) -> Result<Message, String> {
    query_flags(server, name, rtype, false, false)
}

/// One query with DO and RD set, and CD when `checking_disabled`: what a
/// validating resolver answers.
pub fn query_recursive(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    checking_disabled: bool,
) -> Result<Message, String> {
    query_flags(server, name, rtype, true, checking_disabled)
}

/// One query with DO set over UDP (a payload large enough for a signed
/// answer), RD and CD as asked.
fn query_flags(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    recursion: bool,
    checking_disabled: bool,
) -> Result<Message, String> {
    let mut query = Query::query(fqdn(name).map_err(|e| e.to_string())?, rtype);
    query.set_query_class(DNSClass::IN);
    let mut edns = Edns::new();
    edns.set_dnssec_ok(true).set_max_payload(4096);
    let mut request = Message::new();
    request
        .set_id(random_u64() as u16)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(recursion)
        .set_checking_disabled(checking_disabled)
        .add_query(query)
        .set_edns(edns);
    let wire = request.to_vec().map_err(|e| e.to_string())?;
    let socket =
        std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    socket.send(&wire).map_err(|e| e.to_string())?;
    let mut buffer = vec![0; 65535];
    let len = socket.recv(&mut buffer).map_err(|e| e.to_string())?;
    Message::from_vec(&buffer[..len]).map_err(|e| e.to_string())
}

/// The zone statement of the primary.
fn primary_zone(signing: &Signing, second: Second, port: u16) -> String {
    let notify = match second {
        Second::Secondary => {
            format!("    notify explicit;\n    also-notify {{ {SECONDARY} port {port}; }};\n")
        }
        Second::Lagging | Second::UnsignedCopy => "    notify no;\n".to_owned(),
    };
    let body = match signing {
        Signing::Policy => {
            "    file \"signed.zone\";\n    dnssec-policy default;\n    inline-signing yes;\n    allow-update { any; };\n"
        }
        Signing::Nsec3Policy => {
            return format!(
                "dnssec-policy \"nsec3\" {{\n    nsec3param iterations 0 optout no salt-length 0;\n}};\n\
                 zone \"{ZONE}\" {{\n    type primary;\n    file \"signed.zone\";\n    dnssec-policy \"nsec3\";\n    inline-signing yes;\n{notify}}};\n"
            )
        }
        Signing::Presigned { updates: false, .. } => "    file \"signed.zone\";\n",
        Signing::Presigned { updates: true, .. } => {
            "    file \"signed.zone\";\n    allow-update { any; };\n"
        }
        Signing::Unsigned => "    file \"signed.zone\";\n    allow-update { any; };\n",
    };
    format!("zone \"{ZONE}\" {{\n    type primary;\n{body}{notify}}};\n")
}

/// Alters one character of the signature of the RRSIG over `rtype` at
/// `owner` in a signed zone file written with `-O full` (one record a
/// line, the signature last), so that it no longer verifies.
pub fn corrupt_rrsig(file: &Path, owner: &str, rtype: &str) {
    let text = fs::read_to_string(file).expect("cannot read the signed zone");
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let ours = fields.len() > 5
                && fields[0].eq_ignore_ascii_case(owner)
                && fields[3] == "RRSIG"
                && fields[4] == rtype;
            if !ours || done {
                return line.to_owned();
            }
            done = true;
            let mut signature: Vec<char> = fields[fields.len() - 1].chars().collect();
            signature[10] = if signature[10] == 'A' { 'B' } else { 'A' };
            let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            let last = fields.len() - 1;
            fields[last] = signature.into_iter().collect();
            fields.join(" ")
        })
        .collect();
    assert!(done, "no RRSIG {rtype} at {owner} in {}", file.display());
    fs::write(file, lines.join("\n") + "\n").expect("cannot write the signed zone");
}

/// Writes the zone file the primary loads into `dir` (the bed's
/// directory): the unsigned zone, or the presigned file.
pub fn prepare(dir: &Path, signing: &Signing) {
    let target = dir.join("signed.zone");
    match signing {
        Signing::Presigned { file, .. } => fs::copy(file, target).map(|_| ()),
        Signing::Policy | Signing::Unsigned => fs::write(target, zone_text(false)),
        Signing::Nsec3Policy => fs::write(target, denial_zone_text()),
    }
    .expect("cannot write the zone file");
}

/// The DS records of the key-signing keys in the signed zone `file`
/// (SHA-256), as `dnssec-dsfromkey` prints them.
pub fn ds_from_keys(file: &Path) -> String {
    let output = Command::new(tool("dnssec-dsfromkey", "bind9-utils"))
        .args(["-2", "-f"])
        .arg(file)
        .arg(ZONE)
        .output()
        .expect("cannot run dnssec-dsfromkey");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && text.contains(" DS "),
        "dnssec-dsfromkey failed:\n{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// Signs [`zone_text`] (with the SRV record) in `dir` with a fresh
/// ECDSA P-256 key-signing and zone-signing key pair, signatures valid
/// from `inception` to `expiration` (dnssec-signzone's `-s`/`-e`, e.g.
/// `now-2592000`), and returns the signed file.
pub fn presign(dir: &Path, inception: &str, expiration: &str) -> PathBuf {
    presign_zone(dir, inception, expiration, &zone_text(true), Denial::Nsec)
}

/// How a zone signed beforehand proves that names or types do not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    Nsec,
    /// NSEC3, SHA-1, no salt, no extra iterations (RFC 9276).
    Nsec3,
}

/// [`presign`] of the zone `text`, denials proven as `denial` says.
pub fn presign_zone(
    dir: &Path,
    inception: &str,
    expiration: &str,
    text: &str,
    denial: Denial,
) -> PathBuf {
    let unsigned = dir.join("unsigned.zone");
    fs::write(&unsigned, text).expect("cannot write the zone");
    let keygen = tool("dnssec-keygen", "bind9-utils");
    for flags in [&["-f", "KSK"][..], &[][..]] {
        let status = Command::new(&keygen)
            .current_dir(dir)
            .args(["-q", "-a", "ECDSAP256SHA256"])
            // Published and active before any inception a test asks for:
            // dnssec-signzone -S signs only with keys active then.
            .args(["-P", "now-400d", "-A", "now-400d"])
            .args(flags)
            .arg(ZONE)
            .output()
            .expect("cannot run dnssec-keygen");
        assert!(status.status.success(), "dnssec-keygen: {status:?}");
    }
    let signed = dir.join("signed.zone.signed");
    let output = Command::new(tool("dnssec-signzone", "bind9-utils"))
        .current_dir(dir)
        // -P: signatures already expired fail the post-signing check.
        .args(["-P", "-S", "-K", ".", "-O", "full"])
        .args(["-s", inception, "-e", expiration])
        .args(match denial {
            Denial::Nsec => &[][..],
            Denial::Nsec3 => &["-3", "-", "-H", "0"][..],
        })
        .args(["-o", ZONE, "-f"])
        .arg(&signed)
        .arg(&unsigned)
        .output()
        .expect("cannot run dnssec-signzone");
    assert!(
        output.status.success(),
        "dnssec-signzone failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    signed
}
