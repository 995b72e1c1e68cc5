//! A real-BIND test bed: one primary and two secondaries on loopback.
//!
//! [`TestBed::start`] runs three `named -g` processes (BIND 9.18) on the fixed
//! addresses 127.53.0.1 (primary, `ns1`), 127.53.0.2 and 127.53.0.3
//! (secondaries, `ns2` and `ns3`), all on one free port chosen per test bed,
//! in a fresh temporary directory. The primary serves the four zones of
//! `zones/` (see `zones/README.md`) and replicates them by NOTIFY (RFC 1996)
//! and IXFR (RFC 1995). Each `named.conf` is written from the typed
//! [`NamedConf`], so a test states what it needs instead of editing text.
//!
//! The query helpers send their queries with [`query_udp`] of `local.rs`
//! (hickory-proto messages over a plain UDP socket): assertions never go
//! through kmsdns code, never follow referrals, and work the same from
//! synchronous and `#[tokio::test]` tests. `local.rs` also has the rest of
//! the machine plumbing this bed shares with the scale benchmark
//! (`benches/scale/bed.rs`): loopback addresses, free ports, system tools.
//!
//! Nothing here skips: a machine without BIND fails the tests with a message
//! saying what to install. Every process started here is stopped on `Drop`,
//! also when the test panicked; the directory of a failed test is kept for
//! inspection and its path printed.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};

use super::kms_responder::{KmsResponder, Mode};
use super::local::{
    ensure_loopback, fqdn, free_port, query_udp, random_u64, soa_serial, soa_serial_of, tool,
    version,
};

/// The zones of `zones/` that every test bed serves, by file `<zone>.zone`.
pub const ZONES: [&str; 4] = [
    "secure.example",
    "open.example",
    "static.example",
    "broken.example",
];

/// Name of the TSIG key granted the `_vlmcs._tcp` SRV records of secure.example.
pub const SECURE_KEY_NAME: &str = "kmsdns-secure";

/// How long a server may take to answer for all its zones after exec.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Default wait for one UDP answer; loopback answers take well under 1 ms.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `named` gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Lines of a named log quoted in a panic message.
const LOG_TAIL_LINES: usize = 40;

//------------ Server --------------------------------------------------------

/// One of the three servers of a test bed, named after its NS record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    /// The primary, 127.53.0.1: the only one that accepts updates.
    Ns1,
    /// The first secondary, 127.53.0.2.
    Ns2,
    /// The second secondary, 127.53.0.3.
    Ns3,
}

impl Server {
    /// All servers, primary first.
    pub const ALL: [Server; 3] = [Server::Ns1, Server::Ns2, Server::Ns3];
    /// The primary.
    pub const PRIMARY: Server = Server::Ns1;
    /// The secondaries.
    pub const SECONDARIES: [Server; 2] = [Server::Ns2, Server::Ns3];

    /// The server's fixed address, the same in every test bed.
    pub fn ip(self) -> Ipv4Addr {
        Ipv4Addr::new(127, 53, 0, self.index() as u8 + 1)
    }

    /// `ns1`, `ns2` or `ns3`, as in the zones' NS records.
    pub fn name(self) -> &'static str {
        match self {
            Server::Ns1 => "ns1",
            Server::Ns2 => "ns2",
            Server::Ns3 => "ns3",
        }
    }

    /// Whether this is a secondary.
    pub fn is_secondary(self) -> bool {
        self != Server::PRIMARY
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.ip())
    }
}

//------------ NamedConf -----------------------------------------------------

/// The `named.conf` of one test instance.
///
/// Holds only what the tests need; [`NamedConf::new`] fills in the settings
/// every instance must have (see the `Display` impl for why each is there).
#[derive(Clone, Debug)]
pub struct NamedConf {
    /// Absolute working directory; relative zone files are read from here.
    pub directory: PathBuf,
    /// The only address the instance listens on and sends from.
    pub address: Ipv4Addr,
    /// Port listened on, and used for outgoing NOTIFY, SOA and transfers.
    pub port: u16,
    /// Answer to `version.bind CH TXT`, to tell our instance from another.
    pub version: String,
    /// Files included at the top, such as TSIG key files.
    pub includes: Vec<PathBuf>,
    /// Further `options` statements, without the `;`.
    pub options: Vec<String>,
    /// `tkey-gssapi-keytab`: the keytab holding the server's `DNS/`
    /// principal, for GSS-TSIG (RFC 3645) updates.
    pub gssapi_keytab: Option<PathBuf>,
    /// The zones served.
    pub zones: Vec<ZoneConf>,
}

/// One `zone` statement.
#[derive(Clone, Debug)]
pub struct ZoneConf {
    /// Zone name, without the trailing dot.
    pub name: String,
    /// Zone file, relative to [`NamedConf::directory`] or absolute.
    pub file: PathBuf,
    /// Primary or secondary, with what goes with it.
    pub role: ZoneRole,
}

/// Whether a zone is served from its file or transferred from a primary.
#[derive(Clone, Debug)]
pub enum ZoneRole {
    /// `type primary`.
    Primary {
        /// Who may send RFC 2136 updates.
        updates: Updates,
        /// Whom to NOTIFY after a change.
        notify: Notify,
    },
    /// `type secondary`, transferring from `primary`.
    Secondary {
        /// The primary's address and port.
        primary: SocketAddr,
    },
}

/// Who may update a primary zone.
#[derive(Clone, Debug)]
pub enum Updates {
    /// Nobody: every UPDATE is refused.
    Refused,
    /// `allow-update { any; }`: anyone, unsigned.
    Anyone,
    /// `update-policy { grant ...; }`.
    Policy(Vec<Grant>),
}

/// One `grant KEY name NAME TYPE;` rule of an `update-policy`.
#[derive(Clone, Debug)]
pub struct Grant {
    /// Name of the TSIG key granted, or the Kerberos principal
    /// (`host/kms1.corp.test@REALM`) a GSS-TSIG update must come from.
    pub key: String,
    /// The one owner name the key may change (absolute, with trailing dot).
    pub name: String,
    /// The record type it may change there.
    pub rtype: RecordType,
}

/// Whom a primary zone notifies.
#[derive(Clone, Debug)]
pub enum Notify {
    /// Every server in the zone's NS set (BIND's default).
    NameServers,
    /// Only these (`notify explicit; also-notify { ... };`); none is `notify no`.
    Only(Vec<SocketAddr>),
}

impl NamedConf {
    /// A configuration with no zones for an instance on `address`:`port`
    /// keeping all its files in `directory`.
    pub fn new(directory: &Path, address: Ipv4Addr, port: u16, version: &str) -> NamedConf {
        assert!(
            directory.is_absolute(),
            "named needs an absolute directory, got {}",
            directory.display()
        );
        NamedConf {
            directory: directory.to_path_buf(),
            address,
            port,
            version: version.to_string(),
            includes: Vec::new(),
            options: Vec::new(),
            gssapi_keytab: None,
            zones: Vec::new(),
        }
    }

    /// Writes the configuration to `path`.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        fs::write(path, self.to_string())
    }
}

impl fmt::Display for NamedConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = &self.directory;
        let (address, port) = (self.address, self.port);
        writeln!(
            f,
            "// One kmsdns test instance; written by tests/common/bind.rs."
        )?;
        for include in &self.includes {
            writeln!(f, "include {};", quoted(include))?;
        }
        writeln!(f, "options {{")?;
        // The defaults point at /run/named and /var/cache/bind, shared by
        // every instance on the machine.
        writeln!(f, "    directory {};", quoted(dir))?;
        writeln!(f, "    pid-file {};", quoted(dir.join("named.pid")))?;
        writeln!(
            f,
            "    session-keyfile {};",
            quoted(dir.join("session.key"))
        )?;
        writeln!(f, "    managed-keys-directory {};", quoted(dir))?;
        // Without `listen-on-v6 { none; }` named also binds [::1]:53,
        // ignoring the port.
        writeln!(f, "    listen-on port {port} {{ {address}; }};")?;
        writeln!(f, "    listen-on-v6 {{ none; }};")?;
        writeln!(f, "    port {port};")?;
        // Traffic between 127.x aliases would otherwise leave from the
        // destination's address, and a secondary refuses a NOTIFY that does
        // not come from its primary.
        writeln!(f, "    query-source address {address};")?;
        writeln!(f, "    notify-source {address};")?;
        writeln!(f, "    transfer-source {address};")?;
        // Other tests add loopback addresses while we run; a rescan is noise.
        writeln!(f, "    automatic-interface-scan no;")?;
        writeln!(f, "    recursion no;")?;
        writeln!(f, "    dnssec-validation no;")?;
        writeln!(f, "    empty-zones-enable no;")?;
        // The default cache is 90% of RAM.
        writeln!(f, "    max-cache-size 16m;")?;
        writeln!(f, "    version {};", quoted(&self.version))?;
        // Fast replication: BIND's defaults (5 s NOTIFY delay, 20 NOTIFY and
        // SOA queries a second) make a secondary look lagging for seconds.
        writeln!(f, "    notify-delay 0;")?;
        writeln!(f, "    notify-rate 2000;")?;
        writeln!(f, "    startup-notify-rate 2000;")?;
        writeln!(f, "    serial-query-rate 2000;")?;
        writeln!(f, "    transfers-in 100;")?;
        writeln!(f, "    transfers-out 100;")?;
        writeln!(f, "    transfers-per-ns 100;")?;
        if let Some(keytab) = &self.gssapi_keytab {
            writeln!(f, "    tkey-gssapi-keytab {};", quoted(keytab))?;
        }
        for option in &self.options {
            writeln!(f, "    {option};")?;
        }
        writeln!(f, "}};")?;
        // No `controls` statement means every instance listens for rndc on
        // the shared 127.0.0.1:953.
        writeln!(f, "controls {{ }};")?;
        for zone in &self.zones {
            write!(f, "{zone}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ZoneConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "zone {} {{", quoted(&self.name))?;
        match &self.role {
            ZoneRole::Primary { updates, notify } => {
                writeln!(f, "    type primary;")?;
                writeln!(f, "    file {};", quoted(&self.file))?;
                match updates {
                    Updates::Refused => {}
                    Updates::Anyone => writeln!(f, "    allow-update {{ any; }};")?,
                    Updates::Policy(grants) => {
                        writeln!(f, "    update-policy {{")?;
                        for grant in grants {
                            writeln!(
                                f,
                                "        grant {} name {} {};",
                                identity(&grant.key),
                                grant.name,
                                grant.rtype
                            )?;
                        }
                        writeln!(f, "    }};")?;
                    }
                }
                match notify {
                    Notify::NameServers => writeln!(f, "    notify yes;")?,
                    Notify::Only(targets) if targets.is_empty() => writeln!(f, "    notify no;")?,
                    Notify::Only(targets) => {
                        writeln!(f, "    notify explicit;")?;
                        let list = targets.iter().fold(String::new(), |mut list, target| {
                            let _ = write!(list, "{} port {}; ", target.ip(), target.port());
                            list
                        });
                        writeln!(f, "    also-notify {{ {list}}};")?;
                    }
                }
            }
            ZoneRole::Secondary { primary } => {
                writeln!(f, "    type secondary;")?;
                writeln!(f, "    file {};", quoted(&self.file))?;
                writeln!(
                    f,
                    "    primaries {{ {} port {}; }};",
                    primary.ip(),
                    primary.port()
                )?;
                // A secondary notifies the other NS after each transfer by
                // default, which would pull a lagging secondary along.
                writeln!(f, "    notify no;")?;
            }
        }
        writeln!(f, "}};")
    }
}

/// A grant's identity: a key name bare, as the test bed has always written
/// it; anything else (a Kerberos principal) quoted, since named.conf does
/// not take a `/` outside a string.
fn identity(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        key.to_string()
    } else {
        quoted(key)
    }
}

/// A string literal of named.conf; the paths and names used here never
/// need escapes, so one that would is a bug in the test.
fn quoted(value: impl AsRef<Path>) -> String {
    let text = value
        .as_ref()
        .to_str()
        .expect("named.conf strings must be UTF-8");
    assert!(
        !text.contains(['"', '\\', '\n']),
        "cannot quote {text:?} for named.conf"
    );
    format!("\"{text}\"")
}

//------------ Named ---------------------------------------------------------

/// One running `named -g` process, stopped on `Drop`.
#[derive(Debug)]
pub struct Named {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Paused,
    Stopped,
}

impl Named {
    /// Starts `named` with the configuration at `conf`, logging to
    /// `dir/named.log`, and waits until it answers on `addr`:`port`.
    ///
    /// The configuration must make it listen there (see [`NamedConf`]).
    /// Panics with the log tail if it exits or stays silent for 10 s.
    pub fn start(conf: &Path, dir: &Path, addr: IpAddr, port: u16) -> Named {
        let mut named = Named::spawn(conf, dir, SocketAddr::new(addr, port));
        // Any answer will do: the configuration may hide the version.
        named.wait_for("answer", READY_TIMEOUT, |addr| {
            let timeout = Duration::from_millis(200);
            query_udp(addr, "version.bind", RecordType::TXT, DNSClass::CH, timeout)
                .map_err(|err| err.to_string())
        });
        named
    }

    /// Execs named without waiting for it.
    fn spawn(conf: &Path, dir: &Path, addr: SocketAddr) -> Named {
        let named = tool("named", "bind9");
        ensure_loopback(addr.ip());
        let conf = conf
            .canonicalize()
            .unwrap_or_else(|err| panic!("named.conf {}: {err}", conf.display()));
        let log = dir.join("named.log");
        let log_file = fs::File::create(&log)
            .unwrap_or_else(|err| panic!("cannot create {}: {err}", log.display()));
        // -g keeps named in the foreground (we keep its PID) and logs to
        // stderr; -4 because the test bed is IPv4 only; -n 1 is plenty.
        let child = Command::new(&named)
            .arg("-g")
            .arg("-4")
            .args(["-n", "1"])
            .arg("-c")
            .arg(&conf)
            .args(["-u", "root"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start named {}: {err}", named.display()));
        Named {
            child,
            addr,
            log,
            state: State::Running,
        }
    }

    /// The address and port it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Path of its log (named's stderr).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Waits until it answers authoritatively (`aa`, NOERROR) for the SOA of
    /// `zone`; panics with the log tail after `timeout`.
    pub fn wait_zone(&mut self, zone: &str, timeout: Duration) {
        self.wait_for(&format!("serve {zone}"), timeout, |addr| {
            soa_serial(addr, zone, QUERY_TIMEOUT).map(drop)
        });
    }

    /// Polls `probe` until it succeeds; panics with the log tail when the
    /// process exits or `timeout` passes first.
    fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut(SocketAddr) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.state = State::Stopped;
                self.fail(&format!("exited ({status}) before it would {what}"));
            }
            match probe(self.addr) {
                Ok(value) => return value,
                Err(why) if Instant::now() >= deadline => {
                    self.fail(&format!("did not {what} within {timeout:?}: {why}"))
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// SIGTERM, then SIGKILL after 2 s; the process is reaped either way.
    /// Afterwards queries get "connection refused". Stopping twice is fine.
    pub fn stop(&mut self) {
        if self.state == State::Stopped {
            return;
        }
        // A stopped process would only act on SIGTERM once continued.
        if self.state == State::Paused {
            signal(self.pid(), "CONT");
        }
        self.state = State::Stopped;
        signal(self.pid(), "TERM");
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGSTOP: the process keeps its sockets but answers nothing, so
    /// queries time out. Returns once every thread has stopped.
    pub fn pause(&mut self) {
        assert_eq!(
            self.state,
            State::Running,
            "pause: named {} is not running",
            self.addr
        );
        signal(self.pid(), "STOP");
        self.state = State::Paused;
        // SIGSTOP reaches the threads asynchronously: one still running
        // could answer one more query. Wait until every thread shows `T`.
        let deadline = Instant::now() + STOP_GRACE;
        while !all_threads_stopped(self.pid()) {
            assert!(
                Instant::now() < deadline,
                "named {} did not stop after SIGSTOP",
                self.addr
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGCONT after [`Named::pause`].
    pub fn resume(&mut self) {
        assert_eq!(
            self.state,
            State::Paused,
            "resume: named {} is not paused",
            self.addr
        );
        signal(self.pid(), "CONT");
        self.state = State::Running;
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "named on {} {what}\n--- last lines of {} ---\n{}",
            self.addr,
            self.log.display(),
            self.log_tail()
        )
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` (a name such as `TERM`) to `pid` with kill(1).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
    // Failing to signal a process that already exited is fine; the caller
    // reaps it.
    if let Err(err) = status {
        panic!("cannot run kill -{signal} {pid}: {err}");
    }
}

//------------ TestBed -------------------------------------------------------

/// A primary and two secondaries serving the zones of `zones/`.
///
/// ```ignore
/// let bed = TestBed::start();
/// let serial = bed.soa_serial(Server::Ns1, "secure.example");
/// ```
#[derive(Debug)]
pub struct TestBed {
    // Declared before `dir`: the servers stop before their files go.
    servers: Vec<Named>,
    dir: tempfile::TempDir,
    port: u16,
}

/// Options of a [`TestBed`]; start it with [`TestBedBuilder::start`].
#[derive(Clone, Debug, Default)]
pub struct TestBedBuilder {
    lagging: Vec<(String, Server)>,
    /// Further TSIG keys for the primary: (key name, key file).
    keys: Vec<(String, PathBuf)>,
    /// Further `options` statements for every server.
    options: Vec<String>,
    /// Zones that also hold an AD domain controllers' locator record.
    locators: Vec<String>,
    /// `version.bind` answers like a stock BIND (`9.18-…`).
    bind_version: bool,
    /// Further zones, open to unsigned updates: (zone name, zone file text).
    zones: Vec<(String, String)>,
}

impl TestBedBuilder {
    /// Makes `secondary` lag behind for `zone`: the primary notifies only
    /// the other secondary, and the zones' one-hour SOA refresh keeps this
    /// one on the serial it loaded at start.
    pub fn lagging_secondary(mut self, zone: &str, secondary: Server) -> Self {
        assert!(
            ZONES.contains(&zone),
            "lagging_secondary: unknown zone {zone}"
        );
        assert!(
            secondary.is_secondary(),
            "lagging_secondary: {secondary} is the primary"
        );
        self.lagging.push((zone.to_string(), secondary));
        self
    }

    /// Also loads the key file `file`, holding the key `name`, on the
    /// primary and grants that key what `kmsdns-secure` has: the SRV
    /// records of the `_vlmcs._tcp` names of secure.example. For tests that
    /// need a secret of their own (tests/secrets.rs).
    pub fn tsig_key(mut self, name: &str, file: &Path) -> Self {
        self.keys.push((name.to_string(), file.to_path_buf()));
        self
    }

    /// Adds an `options` statement (without `;`) on every server, such as
    /// `max-records-per-type 1000`: BIND 9.18.28 and later refuse an
    /// RRset of more than 100 records unless told otherwise.
    pub fn option(mut self, statement: &str) -> Self {
        self.options.push(statement.to_string());
        self
    }

    /// Adds the Active Directory locator record
    /// `_ldap._tcp.dc._msdcs.<zone>` SRV to `zone` on the primary: a BIND
    /// zone named like an AD-integrated one.
    pub fn ad_locator(mut self, zone: &str) -> Self {
        assert!(ZONES.contains(&zone), "ad_locator: unknown zone {zone}");
        self.locators.push(zone.to_string());
        self
    }

    /// Makes `version.bind` answer as a stock BIND does (`9.18-…`, still
    /// unique per bed), so that kmsdns recognises the software.
    pub fn version_like_bind(mut self) -> Self {
        self.bind_version = true;
        self
    }

    /// Also serves zone `name` from the file text `zone` on the primary
    /// (`allow-update { any; }`) and both secondaries: a delegated
    /// sub-zone of one of `ZONES`, once the test adds the delegation's NS
    /// records to the parent.
    pub fn zone(mut self, name: &str, zone: &str) -> Self {
        self.zones.push((name.to_string(), zone.to_string()));
        self
    }

    /// Starts the three servers and waits until each serves every zone.
    pub fn start(self) -> TestBed {
        super::servers::on_a_free_port("named", || self.try_start())
    }

    /// Starts a test bed on a free port; `Err` when another named answered
    /// there in spite of the port check (it raced us for the port).
    fn try_start(&self) -> Result<TestBed, String> {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-testbed-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let ips: Vec<IpAddr> = Server::ALL.iter().map(|s| IpAddr::V4(s.ip())).collect();
        for ip in &ips {
            ensure_loopback(*ip);
        }
        let port = free_port(&ips);
        let instance = random_u64();
        let mut bed = TestBed {
            servers: Vec::new(),
            dir,
            port,
        };
        let mut tokens = Vec::new();
        // The primary goes first: secondaries that find it up transfer at
        // once instead of waiting for a retry.
        for group in [&[Server::Ns1][..], &Server::SECONDARIES[..]] {
            let first = bed.servers.len();
            for &server in group {
                let prefix = if self.bind_version { "9.18-" } else { "" };
                let token = format!("{prefix}kmsdns-testbed-{instance:016x}-{}", server.name());
                let dir = bed.dir.path().join(server.name());
                fs::create_dir(&dir).expect("cannot create an instance directory");
                let conf = self.conf(server, &dir, port, &token);
                let conf_path = dir.join("named.conf");
                conf.save(&conf_path).expect("cannot write named.conf");
                bed.servers
                    .push(Named::spawn(&conf_path, &dir, bed.addr(server)));
                tokens.push(token);
            }
            for (named, token) in bed.servers[first..].iter_mut().zip(&tokens[first..]) {
                wait_ready(named, token, &self.zones)?;
            }
        }
        Ok(bed)
    }

    /// The configuration of `server`; copies the zone files for the primary.
    fn conf(&self, server: Server, dir: &Path, port: u16, token: &str) -> NamedConf {
        let mut conf = NamedConf::new(dir, server.ip(), port, token);
        conf.options.extend(self.options.iter().cloned());
        let primary = SocketAddr::new(Server::PRIMARY.ip().into(), port);
        let extra = self.zones.iter().map(|(name, _)| name.as_str());
        if server.is_secondary() {
            for zone in ZONES.into_iter().chain(extra) {
                conf.zones.push(ZoneConf {
                    name: zone.to_string(),
                    file: format!("{zone}.db").into(),
                    role: ZoneRole::Secondary { primary },
                });
            }
            return conf;
        }
        for (zone, text) in &self.zones {
            let file = format!("{zone}.zone");
            fs::write(dir.join(&file), text)
                .unwrap_or_else(|err| panic!("cannot write {file}: {err}"));
            conf.zones.push(ZoneConf {
                name: zone.clone(),
                file: file.into(),
                role: ZoneRole::Primary {
                    updates: Updates::Anyone,
                    notify: Notify::NameServers,
                },
            });
        }
        conf.includes.push(key_file(SECURE_KEY_NAME));
        conf.includes
            .extend(self.keys.iter().map(|(_, file)| file.clone()));
        for zone in ZONES {
            let file = format!("{zone}.zone");
            fs::copy(zones_dir().join(&file), dir.join(&file))
                .unwrap_or_else(|err| panic!("cannot copy zones/{file}: {err}"));
            if self.locators.iter().any(|z| z == zone) {
                let mut text = fs::read_to_string(dir.join(&file)).expect("zone file");
                text.push_str("_ldap._tcp.dc._msdcs IN SRV 0 100 389 ns1\n");
                fs::write(dir.join(&file), text).expect("zone file");
            }
            let updates = match zone {
                "secure.example" => Updates::Policy(
                    [
                        "_vlmcs._tcp.secure.example.",
                        "_vlmcs._tcp.branch.secure.example.",
                    ]
                    .into_iter()
                    .flat_map(|name| {
                        let keys = std::iter::once(SECURE_KEY_NAME)
                            .chain(self.keys.iter().map(|(key, _)| key.as_str()));
                        keys.map(move |key| Grant {
                            key: key.to_string(),
                            name: name.to_string(),
                            rtype: RecordType::SRV,
                        })
                    })
                    .collect(),
                ),
                "open.example" => Updates::Anyone,
                _ => Updates::Refused,
            };
            let lagging: Vec<Server> = self
                .lagging
                .iter()
                .filter(|(name, _)| name == zone)
                .map(|(_, server)| *server)
                .collect();
            let notify = if lagging.is_empty() {
                Notify::NameServers
            } else {
                Notify::Only(
                    Server::SECONDARIES
                        .into_iter()
                        .filter(|s| !lagging.contains(s))
                        .map(|s| SocketAddr::new(s.ip().into(), port))
                        .collect(),
                )
            };
            conf.zones.push(ZoneConf {
                name: zone.to_string(),
                file: file.into(),
                role: ZoneRole::Primary { updates, notify },
            });
        }
        conf
    }
}

/// Waits until `named` answers with our `token` and serves every zone
/// authoritatively; `Err` if another named answers for the address.
fn wait_ready(named: &mut Named, token: &str, extra: &[(String, String)]) -> Result<(), String> {
    let started = Instant::now();
    // Asked again until ready, so each try may be short.
    let answered = named.wait_for("answer version.bind", READY_TIMEOUT, |addr| {
        version(addr, Duration::from_millis(500))
    });
    if answered != token {
        return Err(format!(
            "{} answered as {answered:?}, not {token:?}",
            named.addr
        ));
    }
    for zone in ZONES
        .into_iter()
        .chain(extra.iter().map(|(name, _)| name.as_str()))
    {
        named.wait_zone(zone, READY_TIMEOUT.saturating_sub(started.elapsed()));
    }
    Ok(())
}

impl TestBed {
    /// Starts a test bed with default options.
    pub fn start() -> TestBed {
        TestBed::builder().start()
    }

    /// Options for a test bed.
    pub fn builder() -> TestBedBuilder {
        TestBedBuilder::default()
    }

    /// The port all three servers listen on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Address and port of `server`.
    pub fn addr(&self, server: Server) -> SocketAddr {
        SocketAddr::new(server.ip().into(), self.port)
    }

    /// Address and port of the primary.
    pub fn primary(&self) -> SocketAddr {
        self.addr(Server::PRIMARY)
    }

    /// The temporary directory holding one subdirectory per server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process of `server`.
    pub fn named(&self, server: Server) -> &Named {
        &self.servers[server.index()]
    }

    /// Stops `server` (SIGTERM): queries to it are then refused.
    pub fn stop(&mut self, server: Server) {
        self.servers[server.index()].stop();
    }

    /// Freezes `server` (SIGSTOP): queries to it then time out.
    pub fn pause(&mut self, server: Server) {
        self.servers[server.index()].pause();
    }

    /// Unfreezes `server` after [`TestBed::pause`].
    pub fn resume(&mut self, server: Server) {
        self.servers[server.index()].resume();
    }

    /// Queries `server` over UDP for `name`/`rtype` in class IN; panics if
    /// no answer comes. The response is returned whatever its RCODE.
    pub fn query(&self, server: Server, name: &str, rtype: RecordType) -> Message {
        self.try_query(server, name, rtype, QUERY_TIMEOUT)
            .unwrap_or_else(|err| panic!("query {name} {rtype} to {server}: {err}"))
    }

    /// Like [`TestBed::query`], returning the I/O error instead
    /// (`ConnectionRefused` when stopped, `TimedOut` when paused).
    pub fn try_query(
        &self,
        server: Server,
        name: &str,
        rtype: RecordType,
        timeout: Duration,
    ) -> io::Result<Message> {
        query_udp(self.addr(server), name, rtype, DNSClass::IN, timeout)
    }

    /// The SRV records `server` serves at `name`, each as presentation-format
    /// rdata `"prio weight port target."`; empty for NXDOMAIN and NODATA.
    /// Panics on any other answer: a REFUSED is not an empty set.
    pub fn srv_set(&self, server: Server, name: &str) -> BTreeSet<String> {
        let response = self.query(server, name, RecordType::SRV);
        assert!(!response.truncated(), "SRV {name} from {server}: truncated");
        let code = response.response_code();
        assert!(
            matches!(code, ResponseCode::NoError | ResponseCode::NXDomain),
            "SRV {name} from {server}: {code}"
        );
        assert!(
            response.authoritative(),
            "SRV {name} from {server}: not authoritative"
        );
        let owner = fqdn(name).expect("valid name");
        response
            .answers()
            .iter()
            .filter(|record| *record.name() == owner)
            .filter_map(|record| match record.data() {
                RData::SRV(srv) => Some(format!(
                    "{} {} {} {}",
                    srv.priority(),
                    srv.weight(),
                    srv.port(),
                    srv.target().to_ascii()
                )),
                _ => None,
            })
            .collect()
    }

    /// The SOA serial of `zone` on `server`, which must be authoritative.
    pub fn soa_serial(&self, server: Server, zone: &str) -> u32 {
        let response = self.query(server, zone, RecordType::SOA);
        soa_serial_of(&response).unwrap_or_else(|why| panic!("SOA {zone} from {server}: {why}"))
    }

    /// Waits until `server` serves `zone` with a serial at or past `serial`
    /// (RFC 1982 order) and returns it; panics after `timeout`.
    pub fn wait_serial(&self, server: Server, zone: &str, serial: u32, timeout: Duration) -> u32 {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self
                .try_query(server, zone, RecordType::SOA, QUERY_TIMEOUT)
                .map_err(|err| err.to_string())
                .and_then(|response| soa_serial_of(&response));
            match seen {
                Ok(seen) if serial_reached(seen, serial) => return seen,
                _ if Instant::now() >= deadline => panic!(
                    "{server} did not reach serial {serial} of {zone} within {timeout:?} \
                     (last seen: {seen:?})\n--- last lines of {} ---\n{}",
                    self.named(server).log().display(),
                    self.named(server).log_tail()
                ),
                _ => thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for TestBed {
    fn drop(&mut self) {
        // The servers stop when the field drops, right after this.
        if thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "test bed kept for inspection: {} (named.conf and named.log per server)",
                self.dir.path().display()
            );
        }
    }
}

//------------ Serials -------------------------------------------------------

/// RFC 1982: `serial` is `target` or comes after it.
fn serial_reached(serial: u32, target: u32) -> bool {
    (serial.wrapping_sub(target) as i32) >= 0
}

//------------ nsupdate ------------------------------------------------------

/// Runs the real `nsupdate` on `script`, signed with the key file `key` if
/// given, and panics unless it succeeds; returns its output.
///
/// The script must name its `server` (a loopback address with the test
/// bed's port) and its `zone`, so nsupdate never asks the system resolver.
pub fn nsupdate(key: Option<&Path>, script: &str) -> String {
    try_nsupdate(key, script)
        .unwrap_or_else(|output| panic!("nsupdate failed:\n{output}\n--- script ---\n{script}"))
}

/// Like [`nsupdate`], with the output as `Err` when nsupdate fails (for a
/// refused update it contains `update failed: REFUSED`).
pub fn try_nsupdate(key: Option<&Path>, script: &str) -> Result<String, String> {
    let servers: Vec<Option<IpAddr>> = script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("server "))
        .map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        !servers.is_empty()
            && servers
                .iter()
                .all(|ip| ip.is_some_and(|ip| ip.is_loopback())),
        "an nsupdate script here names its `server`, a loopback address:\n{script}"
    );
    assert!(
        script.lines().any(|line| line.trim().starts_with("zone ")),
        "an nsupdate script here names its `zone`:\n{script}"
    );

    let mut command = Command::new(tool("nsupdate", "bind9-dnsutils"));
    command.args(["-t", "10"]);
    if let Some(key) = key {
        command.arg("-k").arg(key);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start nsupdate");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(script.as_bytes())
            .expect("cannot write the nsupdate script");
    }
    let output = child.wait_with_output().expect("cannot wait for nsupdate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{} ({})", text.trim_end(), output.status))
    }
}

//------------ Files and the machine -----------------------------------------

/// The repository's `zones/` directory.
pub fn zones_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones")
}

/// The key file `zones/keys/<stem>.key`, such as `kmsdns-secure`,
/// `wrong-secret` or `unknown`.
///
/// The file is made mode 0600 first: git checks files out world-readable,
/// and kmsdns rightly warns about a world-readable key (exit status 1),
/// which would mask the outcome a test is after.
pub fn key_file(stem: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = zones_dir().join("keys").join(format!("{stem}.key"));
    assert!(path.is_file(), "no key file {}", path.display());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|err| panic!("cannot chmod 600 {}: {err}", path.display()));
    path
}

/// Whether every thread of `pid` is stopped (state `T` in
/// `/proc/<pid>/task/*/stat`, after the parenthesised command name).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).all(|task| {
        let stat = fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next());
        matches!(state, Some("T" | "t"))
    })
}

/// A KMS-like responder on `ip`, published in the test bed's open.example
/// (unsigned) as `host`.open.example: its A record and one SRV record of
/// open.example, both at TTL 60, served by every server when it returns.
/// The responder runs on the returned runtime: keep both for the test.
pub fn published_in_open_example(
    bed: &TestBed,
    ip: Ipv4Addr,
    host: &str,
) -> (tokio::runtime::Runtime, KmsResponder) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let kms = runtime
        .block_on(KmsResponder::start_on(IpAddr::V4(ip), Mode::Kms))
        .expect("responder");
    let port = kms.addr().port();
    nsupdate(
        None,
        &format!(
            "server {} {}\nzone open.example\n\
             update add {host}.open.example. 60 IN A {ip}\n\
             update add _vlmcs._tcp.open.example. 60 IN SRV 0 0 {port} {host}.open.example.\n\
             send\n",
            Server::PRIMARY.ip(),
            bed.port()
        ),
    );
    // The secondaries serve the records before the test reads them: on a
    // busy machine a read at once found them a serial behind.
    let serial = bed.soa_serial(Server::PRIMARY, "open.example");
    for server in [Server::Ns2, Server::Ns3] {
        bed.wait_serial(server, "open.example", serial, Duration::from_secs(30));
    }
    (runtime, kms)
}
