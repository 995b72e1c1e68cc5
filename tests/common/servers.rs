//! What the Knot DNS and PowerDNS harnesses (`knot.rs`, `pdns.rs`) share:
//! the zone each server is seeded with, the TSIG keys, free addresses, and
//! `dig` at a server.
//!
//! Every server starts with the same zone `secure.example`, served on a
//! loopback address of its own (`ns1` in the zone) and a free high port:
//!
//! ```text
//! secure.example.              3600 SOA   ns1 hostmaster 1 3600 600 86400 60
//! secure.example.              3600 NS    ns1
//! ns1                          3600 A     <the server's address>
//! kms1 / kms2                  3600 A     127.53.1.1 / 127.53.1.2   (the test KMS hosts)
//! other-kms                    3600 A     127.53.1.9   (another KMS host)
//! _vlmcs._tcp                  3600 SRV   5 5 1688 other-kms.secure.example.   (the foreign record)
//! ```
//!
//! The foreign record belongs to a KMS host the test configurations do not
//! know: every command must leave it alone. Two keys: [`GRANTED_KEY`] may
//! change the SRV records of `_vlmcs._tcp` (and of `_vlmcs._tcp.refused`,
//! except where a policy refuses that name on purpose); [`OTHER_KEY`] is
//! known to the server, signs reads, and may update nothing.
//!
//! Assertions read the servers with the real `dig` (`+norec`): what they
//! report never goes through kmsdns code.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::bind::key_file;
use super::local::{soa_serial, tool};

/// The zone every server serves.
pub const ZONE: &str = "secure.example";
/// The `_vlmcs._tcp` name of the zone's own domain.
pub const OWNER: &str = "_vlmcs._tcp.secure.example.";
/// A second publish-list domain inside the zone: granted like [`OWNER`],
/// except on the PowerDNS server whose Lua policy refuses it.
pub const REFUSED_OWNER: &str = "_vlmcs._tcp.refused.secure.example.";
/// RDATA of the record another KMS host published: it must survive. Its
/// target has an address in the zone, so that `check` can resolve it
/// through the server itself.
pub const FOREIGN: &str = "5 5 1688 other-kms.secure.example.";
/// TTL of every seeded record.
pub const SEED_TTL: u32 = 3600;
/// The key granted the `_vlmcs._tcp` SRV records (`zones/keys/kmsdns-secure.key`).
pub const GRANTED_KEY: &str = "kmsdns-secure";
/// A key the servers know but let update nothing (`zones/keys/kmsdns-other.key`).
pub const OTHER_KEY: &str = "kmsdns-other";

//------------ Keys ----------------------------------------------------------

/// A TSIG key as a BIND key file states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: String,
    pub algorithm: String,
    /// Base64, as in the file.
    pub secret: String,
    /// The key file (mode 0600), for nsupdate or a kmsdns configuration.
    pub file: PathBuf,
}

impl Key {
    /// The key of `zones/keys/<stem>.key`, such as [`GRANTED_KEY`].
    pub fn from_file(stem: &str) -> Key {
        let file = key_file(stem);
        let text = fs::read_to_string(&file)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", file.display()));
        // `key "NAME" {`, `algorithm ALG;`, `secret "BASE64";`, one a line;
        // `#` lines are comments.
        let field = |keyword: &str| -> String {
            text.lines()
                .map(str::trim)
                .filter(|line| !line.starts_with('#'))
                .find_map(|line| line.strip_prefix(keyword))
                .map(|rest| {
                    rest.trim()
                        .trim_end_matches(['{', ';'])
                        .trim()
                        .trim_matches('"')
                        .to_string()
                })
                .unwrap_or_else(|| panic!("no `{keyword}` in {}", file.display()))
        };
        Key {
            name: field("key "),
            algorithm: field("algorithm "),
            secret: field("secret "),
            file,
        }
    }
}

/// [`GRANTED_KEY`] and [`OTHER_KEY`].
pub fn keys() -> [Key; 2] {
    [Key::from_file(GRANTED_KEY), Key::from_file(OTHER_KEY)]
}

//------------ The seeded zone -----------------------------------------------

/// One record of the seeded zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRecord {
    /// Absolute owner name, with the trailing dot.
    pub owner: String,
    pub ttl: u32,
    pub rtype: &'static str,
    /// RDATA in presentation format, names absolute.
    pub rdata: String,
}

impl fmt::Display for SeedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} IN {} {}",
            self.owner, self.ttl, self.rtype, self.rdata
        )
    }
}

/// The records of [`ZONE`] for a server whose `ns1` is `ns_ip`.
pub fn seed(ns_ip: Ipv4Addr) -> Vec<SeedRecord> {
    let record = |owner: &str, rtype, rdata: String| SeedRecord {
        owner: if owner == "@" {
            format!("{ZONE}.")
        } else {
            format!("{owner}.{ZONE}.")
        },
        ttl: SEED_TTL,
        rtype,
        rdata,
    };
    vec![
        record(
            "@",
            "SOA",
            format!("ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60"),
        ),
        record("@", "NS", format!("ns1.{ZONE}.")),
        record("ns1", "A", ns_ip.to_string()),
        record("kms1", "A", "127.53.1.1".into()),
        record("kms2", "A", "127.53.1.2".into()),
        record("other-kms", "A", "127.53.1.9".into()),
        record("_vlmcs._tcp", "SRV", FOREIGN.into()),
    ]
}

/// [`seed`] as a zone file.
pub fn zone_file(ns_ip: Ipv4Addr) -> String {
    let mut text =
        format!("; {ZONE} for a kmsdns test server; written by tests/common/servers.rs.\n");
    for record in seed(ns_ip) {
        text.push_str(&format!("{record}\n"));
    }
    text
}

//------------ Reading a server with dig ------------------------------------

/// One answer record as dig prints it: owner, TTL, type, RDATA.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Answer {
    pub owner: String,
    pub ttl: u32,
    pub rtype: String,
    pub rdata: String,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} IN {} {}",
            self.owner, self.ttl, self.rtype, self.rdata
        )
    }
}

/// `dig +norec @server name rtype`: the answer section, which must come
/// with NOERROR (or NXDOMAIN, then empty) and the `aa` flag; panics on
/// anything else, so that a refused or failed read is never an empty set.
pub fn dig(server: SocketAddr, name: &str, rtype: &str) -> Vec<Answer> {
    let output = Command::new(tool("dig", "bind9-dnsutils"))
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args(["+norec", "+time=2", "+tries=3", "+nocmd", "+noall"])
        .args(["+comments", "+answer", name, rtype])
        .output()
        .unwrap_or_else(|err| panic!("cannot run dig: {err}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "dig @{server} {name} {rtype} failed ({}):\n{text}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let status_ok = text.contains("status: NOERROR") || text.contains("status: NXDOMAIN");
    let flags = text
        .lines()
        .find_map(|line| line.strip_prefix(";; flags:"))
        .unwrap_or("");
    assert!(
        status_ok && flags.split(';').next().unwrap_or("").contains(" aa"),
        "dig @{server} {name} {rtype}: not an authoritative answer:\n{text}"
    );
    text.lines()
        .filter(|line| !line.starts_with(';') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert!(fields.len() >= 5, "dig printed {line:?}");
            Answer {
                owner: fields[0].to_ascii_lowercase(),
                ttl: fields[1].parse().expect("a TTL"),
                rtype: fields[3].to_string(),
                rdata: fields[4..].join(" "),
            }
        })
        .collect()
}

/// The SOA serial of `zone` at `server`, read with dig.
pub fn serial(server: SocketAddr, zone: &str) -> u32 {
    let answers = dig(server, zone, "SOA");
    let soa = answers
        .iter()
        .find(|a| a.rtype == "SOA")
        .unwrap_or_else(|| panic!("no SOA of {zone} at {server}"));
    soa.rdata
        .split_whitespace()
        .nth(2)
        .and_then(|serial| serial.parse().ok())
        .unwrap_or_else(|| panic!("SOA without a serial: {soa}"))
}

/// The SRV records at `name` as `(TTL, "prio weight port target.")`.
pub fn srv(server: SocketAddr, name: &str) -> BTreeSet<(u32, String)> {
    dig(server, name, "SRV")
        .into_iter()
        .filter(|a| a.rtype == "SRV")
        .map(|a| (a.ttl, a.rdata.to_ascii_lowercase()))
        .collect()
}

/// The SRV RDATA at `name`, without TTLs.
pub fn srv_rdata(server: SocketAddr, name: &str) -> BTreeSet<String> {
    srv(server, name)
        .into_iter()
        .map(|(_, rdata)| rdata)
        .collect()
}

//------------ Processes and files -------------------------------------------

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
    path
}

/// `ip` as an `IpAddr`, for [`super::local::free_port`].
pub fn ips(ip: Ipv4Addr) -> [IpAddr; 1] {
    [IpAddr::V4(ip)]
}

pub use super::local::chaos_txt;

/// Starts a server by `try_start` until one gets a port nobody took between
/// the port check and the server's bind: at most [`PORT_ATTEMPTS`] tries,
/// then the test fails with every clash.
pub fn on_a_free_port<T>(what: &str, mut try_start: impl FnMut() -> Result<T, String>) -> T {
    let mut clashes = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        match try_start() {
            Ok(server) => return server,
            Err(clash) => clashes.push(clash),
        }
    }
    panic!("every port tried was already served by another {what}: {clashes:?}")
}

/// How many free ports a server start tries before the test fails.
pub const PORT_ATTEMPTS: usize = 5;

/// How long a server may take to serve its zone after exec; they take
/// 50–300 ms.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Lines of a log quoted in a panic message.
const LOG_TAIL_LINES: usize = 40;

/// One server process started by a test, its output in `log`; stopped
/// (SIGTERM, then SIGKILL) on `Drop`, also when the test panicked.
#[derive(Debug)]
pub struct Daemon {
    what: &'static str,
    child: Option<Child>,
    addr: SocketAddr,
    log: PathBuf,
}

impl Daemon {
    /// Runs `command` (in the foreground, so its PID is the server's) with
    /// stdout and stderr to `log`.
    pub fn spawn(what: &'static str, mut command: Command, addr: SocketAddr, log: &Path) -> Daemon {
        let file = fs::File::create(log)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log.display()));
        let err_file = file.try_clone().expect("clone a file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err_file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {what}: {err}"));
        Daemon {
            what,
            child: Some(child),
            addr,
            log: log.to_path_buf(),
        }
    }

    /// Waits until the server answers `id.server` with `token` (so it is
    /// ours, not another test's on the same address and port) and serves
    /// `zone` authoritatively. `Err` when another server answered there;
    /// panics with the log tail when it exits or stays silent.
    pub fn wait_ready(&mut self, token: &str, zone: &str) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                self.fail(&format!("exited ({status}) before it served {zone}"));
            }
            let ready = chaos_txt(self.addr, "id.server", Duration::from_millis(200))
                .and_then(|id| {
                    if id == token {
                        Ok(())
                    } else {
                        Err(format!("answered id.server {id:?}, not {token:?}"))
                    }
                })
                .and_then(|()| soa_serial(self.addr, zone, Duration::from_millis(500)).map(drop));
            match ready {
                Ok(()) => return Ok(()),
                Err(why) if why.contains("answered id.server") => return Err(why),
                Err(why) if Instant::now() >= deadline => self.fail(&format!(
                    "did not serve {zone} within {READY_TIMEOUT:?}: {why}"
                )),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Address and port it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The last lines of its output.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Its whole output so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after 2 s; the process is reaped either way.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{} on {} {what}\n--- last lines of {} ---\n{}",
            self.what,
            self.addr,
            self.log.display(),
            self.log_tail()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

//------------ One server of each kind ---------------------------------------

/// The servers the commands run against, each seeded the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// BIND 9 with `update-policy { grant kmsdns-secure name … SRV; }` for
    /// [`OWNER`] and [`REFUSED_OWNER`]; [`OTHER_KEY`] defined, not granted.
    Bind,
    /// Knot DNS with the ACL of `knot.rs`.
    Knot,
    /// PowerDNS with TSIG-ALLOW-DNSUPDATE and ALLOW-DNSUPDATE-FROM.
    PowerDns,
    /// PowerDNS with the Lua update policy that refuses [`REFUSED_OWNER`].
    PowerDnsLua,
}

impl Flavour {
    /// Every flavour.
    pub const ALL: [Flavour; 4] = [
        Flavour::Bind,
        Flavour::Knot,
        Flavour::PowerDns,
        Flavour::PowerDnsLua,
    ];
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Bind => "BIND",
            Flavour::Knot => "Knot DNS",
            Flavour::PowerDns => "PowerDNS",
            Flavour::PowerDnsLua => "PowerDNS with a Lua policy",
        })
    }
}

/// The loopback address of every single BIND test server of this module.
pub const BIND_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 33);

/// One running test server of any flavour; stopped on `Drop`.
#[derive(Debug)]
pub enum TestServer {
    Bind {
        // Declared before `dir`: the server stops before its files go.
        named: super::bind::Named,
        dir: tempfile::TempDir,
    },
    Knot(super::knot::Knot),
    PowerDns(super::pdns::Pdns),
}

impl TestServer {
    /// Starts a server of `flavour`, serving the seeded zone.
    pub fn start(flavour: Flavour) -> TestServer {
        match flavour {
            Flavour::Bind => start_bind(),
            Flavour::Knot => TestServer::Knot(super::knot::Knot::start()),
            Flavour::PowerDns => TestServer::PowerDns(super::pdns::Pdns::start()),
            Flavour::PowerDnsLua => TestServer::PowerDns(super::pdns::Pdns::start_with_policy()),
        }
    }

    /// Address and port it serves on.
    pub fn addr(&self) -> SocketAddr {
        match self {
            TestServer::Bind { named, .. } => named.addr(),
            TestServer::Knot(knot) => knot.addr(),
            TestServer::PowerDns(pdns) => pdns.addr(),
        }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        match self {
            TestServer::Bind { dir, .. } => dir.path(),
            TestServer::Knot(knot) => knot.dir(),
            TestServer::PowerDns(pdns) => pdns.dir(),
        }
    }

    /// What the server keeps of every change: BIND's journal (its bytes,
    /// hex), Knot's journal (as kjournalprint prints it), PowerDNS's
    /// `records` table (every row, ids included).
    pub fn store(&self) -> String {
        match self {
            TestServer::Bind { dir, .. } => {
                let journal = dir.path().join(format!("{ZONE}.zone.jnl"));
                let bytes = fs::read(journal).unwrap_or_default();
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
            TestServer::Knot(knot) => knot.journal(),
            TestServer::PowerDns(pdns) => pdns.records(),
        }
    }

    /// What its log says so far.
    pub fn log(&self) -> String {
        match self {
            TestServer::Bind { named, .. } => fs::read_to_string(named.log()).unwrap_or_default(),
            TestServer::Knot(knot) => knot.log(),
            TestServer::PowerDns(pdns) => pdns.log(),
        }
    }

    /// Everything a read-only command must leave as it was, read with dig
    /// and from the server's own store.
    pub fn state(&self) -> ServerState {
        let addr = self.addr();
        ServerState {
            serial: serial(addr, ZONE),
            rrsets: [OWNER, REFUSED_OWNER]
                .into_iter()
                .map(|name| (name.to_string(), srv(addr, name)))
                .collect(),
            store: self.store(),
        }
    }
}

/// What a command that changes nothing must leave as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerState {
    pub serial: u32,
    /// Per `_vlmcs._tcp` name, its SRV records with their TTLs.
    pub rrsets: Vec<(String, BTreeSet<(u32, String)>)>,
    /// [`TestServer::store`].
    pub store: String,
}

/// A single BIND primary for [`Flavour::Bind`].
fn start_bind() -> TestServer {
    use super::bind::{Grant, Named, NamedConf, Notify, Updates, ZoneConf, ZoneRole};
    use hickory_proto::rr::RecordType;
    let dir = tempfile::Builder::new()
        .prefix("kmsdns-bind-")
        .tempdir()
        .expect("cannot create a temporary directory");
    super::local::ensure_loopback(IpAddr::V4(BIND_IP));
    let port = super::local::free_port(&ips(BIND_IP));
    let token = format!("kmsdns-bind-{:016x}", super::local::random_u64());
    let mut conf = NamedConf::new(dir.path(), BIND_IP, port, &token);
    conf.includes = keys().iter().map(|key| key.file.clone()).collect();
    write(dir.path(), &format!("{ZONE}.zone"), &zone_file(BIND_IP));
    conf.zones.push(ZoneConf {
        name: ZONE.into(),
        file: format!("{ZONE}.zone").into(),
        role: ZoneRole::Primary {
            updates: Updates::Policy(
                [OWNER, REFUSED_OWNER]
                    .into_iter()
                    .map(|name| Grant {
                        key: GRANTED_KEY.into(),
                        name: name.into(),
                        rtype: RecordType::SRV,
                    })
                    .collect(),
            ),
            notify: Notify::Only(Vec::new()),
        },
    });
    let conf_path = dir.path().join("named.conf");
    conf.save(&conf_path).expect("cannot write named.conf");
    let mut named = Named::start(&conf_path, dir.path(), BIND_IP.into(), port);
    named.wait_zone(ZONE, READY_TIMEOUT);
    TestServer::Bind { named, dir }
}
