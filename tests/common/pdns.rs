//! A PowerDNS Authoritative test server: `pdns_server` in the foreground
//! (`daemon=no guardian=no`) with the gsqlite3 backend, on a loopback
//! address and a free high port, from a configuration and a database
//! written from the typed [`PdnsConf`] in a temporary directory; stopped on
//! `Drop`.
//!
//! Only database backends take RFC 2136 updates. The database gets the
//! zone of `servers.rs`, both keys (`tsigkeys`), and the zone metadata
//! PowerDNS checks before an update:
//!
//! ```text
//! TSIG-ALLOW-DNSUPDATE   kmsdns-secure   (the keys that may update the zone, all of it)
//! ALLOW-DNSUPDATE-FROM   127.0.0.0/8     (checked even for signed updates)
//! ```
//!
//! with the global `allow-dnsupdate-from` empty, so the zone's metadata is
//! all that counts. A wrong secret, an unknown key or a key missing from
//! TSIG-ALLOW-DNSUPDATE gets a plain REFUSED.
//!
//! [`PdnsConf::lua_policy`] installs a `lua-dnsupdate-policy-script`
//! instead ([`REFUSING_POLICY`]): PowerDNS then skips both metadata checks,
//! asks the script about every record of the update section after the
//! prerequisites, skips the records it refuses, and answers NOERROR even
//! when it applied nothing.
//!
//! [`Pdns::records`] dumps the `records` table, to prove that something
//! changed nothing. The security-status query PowerDNS sends by default
//! (`security-poll-suffix`) is off: the tests never leave the machine.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::local::{free_port, random_u64, tool};
use super::servers::{
    ips, keys, on_a_free_port, seed, write, Daemon, Key, GRANTED_KEY, REFUSED_OWNER, ZONE,
};

/// The loopback address of every PowerDNS test server (each has its own
/// port).
pub const PDNS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 32);

/// The gsqlite3 schema the Debian package ships.
const SCHEMA: &str = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql";

/// The Lua update policy of the policy variant: [`GRANTED_KEY`] may change
/// SRV records, except at [`REFUSED_OWNER`], which nobody may change; an
/// unsigned update changes nothing.
pub const REFUSING_POLICY: &str = r#"-- kmsdns test policy; written by tests/common/pdns.rs.
function updatepolicy(request)
  local key = request:getTsigName()
  -- Unsigned: an empty name, which toString() would refuse to print.
  if key:countLabels() == 0 then
    return false
  end
  if request:getQName():toString() == "REFUSED_OWNER" then
    return false
  end
  return key:toString() == "GRANTED_KEY." and request:getQType() == pdns.SRV
end
"#;

//------------ PdnsConf ------------------------------------------------------

/// The `pdns.conf` and the database of one test server.
#[derive(Clone, Debug)]
pub struct PdnsConf {
    /// Absolute directory for the database, the control socket and the log.
    pub dir: PathBuf,
    pub address: Ipv4Addr,
    pub port: u16,
    /// `server-id`, the answer to `id.server CH TXT`: tells our server from
    /// another.
    pub server_id: String,
    /// `version-string`: `None` keeps `full` ("PowerDNS Authoritative
    /// Server 4.7.3").
    pub version_string: Option<String>,
    /// Keys of the `tsigkeys` table.
    pub keys: Vec<Key>,
    /// The zone's TSIG-ALLOW-DNSUPDATE metadata (key names).
    pub tsig_allow: Vec<String>,
    /// The zone's ALLOW-DNSUPDATE-FROM metadata (address ranges).
    pub allow_from: Vec<String>,
    /// `lua-dnsupdate-policy-script`, the script's text.
    pub lua_policy: Option<String>,
    /// `distributor-threads`; `None` keeps PowerDNS's default (3).
    pub distributor_threads: Option<u32>,
}

impl PdnsConf {
    /// The default server: [`ZONE`] seeded from `servers.rs`, both keys,
    /// updates for [`GRANTED_KEY`] from loopback.
    pub fn new(dir: &Path, address: Ipv4Addr, port: u16, server_id: &str) -> PdnsConf {
        PdnsConf {
            dir: dir.to_path_buf(),
            address,
            port,
            server_id: server_id.to_string(),
            version_string: None,
            keys: keys().to_vec(),
            tsig_allow: vec![GRANTED_KEY.into()],
            allow_from: vec!["127.0.0.0/8".into()],
            lua_policy: None,
            distributor_threads: None,
        }
    }

    /// Uses [`REFUSING_POLICY`].
    pub fn with_refusing_policy(&mut self) {
        self.lua_policy = Some(
            REFUSING_POLICY
                .replace("REFUSED_OWNER", REFUSED_OWNER)
                .replace("GRANTED_KEY", GRANTED_KEY),
        );
    }

    fn database(&self) -> PathBuf {
        self.dir.join("pdns.sqlite3")
    }

    /// SQL that fills a database made from [`SCHEMA`]: the zone, the keys
    /// and the metadata, as `pdnsutil load-zone`, `import-tsig-key` and
    /// `set-meta` would (names without their trailing dot; an SRV record's
    /// priority in its own column).
    fn seed_sql(&self) -> String {
        let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
        let bare = |name: &str| name.trim_end_matches('.').to_string();
        let mut sql = String::from("BEGIN;\n");
        sql.push_str(&format!(
            "INSERT INTO domains (id, name, type) VALUES (1, {}, 'NATIVE');\n",
            quote(ZONE)
        ));
        for record in seed(self.address) {
            let (prio, content) = match record.rtype {
                "SRV" => {
                    let (prio, rest) = record.rdata.split_once(' ').expect("SRV RDATA");
                    (prio.parse::<u16>().expect("SRV priority"), rest.to_string())
                }
                _ => (0, record.rdata.clone()),
            };
            // Names inside RDATA lose their trailing dot too.
            let content = content
                .split(' ')
                .map(|word| {
                    if word.ends_with('.') {
                        bare(word)
                    } else {
                        word.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            sql.push_str(&format!(
                "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) \
                 VALUES (1, {}, {}, {}, {}, {prio}, 0, 1);\n",
                quote(&bare(&record.owner)),
                quote(record.rtype),
                quote(&content),
                record.ttl
            ));
        }
        for key in &self.keys {
            sql.push_str(&format!(
                "INSERT INTO tsigkeys (name, algorithm, secret) VALUES ({}, {}, {});\n",
                quote(&key.name),
                quote(&key.algorithm),
                quote(&key.secret)
            ));
        }
        let metadata = self
            .tsig_allow
            .iter()
            .map(|key| ("TSIG-ALLOW-DNSUPDATE", key))
            .chain(
                self.allow_from
                    .iter()
                    .map(|range| ("ALLOW-DNSUPDATE-FROM", range)),
            );
        for (kind, content) in metadata {
            sql.push_str(&format!(
                "INSERT INTO domainmetadata (domain_id, kind, content) VALUES (1, {}, {});\n",
                quote(kind),
                quote(content)
            ));
        }
        sql.push_str("COMMIT;\n");
        sql
    }
}

impl fmt::Display for PdnsConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        writeln!(
            f,
            "# One kmsdns test server; written by tests/common/pdns.rs."
        )?;
        writeln!(f, "launch=gsqlite3")?;
        writeln!(f, "gsqlite3-database={}", self.database().display())?;
        writeln!(f, "local-address={}", self.address)?;
        writeln!(f, "local-port={}", self.port)?;
        writeln!(f, "socket-dir={dir}")?;
        // In the foreground, one process: its PID is the server's.
        writeln!(f, "daemon=no")?;
        writeln!(f, "guardian=no")?;
        writeln!(f, "api=no")?;
        writeln!(f, "webserver=no")?;
        writeln!(f, "disable-syslog=yes")?;
        // Never ask the internet about PowerDNS's security status.
        writeln!(f, "security-poll-suffix=")?;
        writeln!(f, "server-id={}", self.server_id)?;
        if let Some(version) = &self.version_string {
            writeln!(f, "version-string={version}")?;
        }
        // Every read sees the database as it is now.
        writeln!(f, "cache-ttl=0")?;
        writeln!(f, "query-cache-ttl=0")?;
        writeln!(f, "negquery-cache-ttl=0")?;
        writeln!(f, "receiver-threads=1")?;
        // Not distributor-threads=1: with one distributor thread, PowerDNS
        // 4.7.3 hands a Lua update policy the TSIG key name of the previous
        // signed request for an unsigned one (other_servers.rs pins it).
        if let Some(threads) = self.distributor_threads {
            writeln!(f, "distributor-threads={threads}")?;
        }
        // Info level: every update is logged with what it did.
        writeln!(f, "loglevel=6")?;
        writeln!(f, "dnsupdate=yes")?;
        // Only the zone's ALLOW-DNSUPDATE-FROM metadata says who may.
        writeln!(f, "allow-dnsupdate-from=")?;
        if self.lua_policy.is_some() {
            writeln!(
                f,
                "lua-dnsupdate-policy-script={}",
                self.dir.join("policy.lua").display()
            )?;
        }
        Ok(())
    }
}

//------------ Pdns ----------------------------------------------------------

/// A running `pdns_server` with its directory; stopped, then the directory
/// removed, on `Drop` (kept and named when the test panicked).
#[derive(Debug)]
pub struct Pdns {
    // Declared before `dir`: the server stops before its files go.
    daemon: Daemon,
    conf: PdnsConf,
    dir: tempfile::TempDir,
}

impl Pdns {
    /// The default server (see [`PdnsConf::new`]).
    pub fn start() -> Pdns {
        Pdns::start_with(|_| {})
    }

    /// The variant with the Lua update policy [`REFUSING_POLICY`].
    pub fn start_with_policy() -> Pdns {
        Pdns::start_with(PdnsConf::with_refusing_policy)
    }

    /// A server whose default configuration `edit` changed first.
    pub fn start_with(edit: impl Fn(&mut PdnsConf)) -> Pdns {
        on_a_free_port("pdns_server", || Pdns::try_start(&edit))
    }

    fn try_start(edit: &impl Fn(&mut PdnsConf)) -> Result<Pdns, String> {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-pdns-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let port = free_port(&ips(PDNS_IP));
        let token = format!("kmsdns-pdns-{:016x}", random_u64());
        let mut conf = PdnsConf::new(dir.path(), PDNS_IP, port, &token);
        edit(&mut conf);
        let schema = std::fs::read_to_string(SCHEMA).unwrap_or_else(|err| {
            panic!("{SCHEMA}: {err}; install pdns-server pdns-backend-sqlite3 sqlite3")
        });
        sqlite(&conf.database(), &format!("{schema}\n{}", conf.seed_sql()));
        if let Some(policy) = &conf.lua_policy {
            write(dir.path(), "policy.lua", policy);
        }
        write(dir.path(), "pdns.conf", &conf.to_string());
        let mut command = Command::new(tool("pdns_server", "pdns-server"));
        command.arg(format!("--config-dir={}", dir.path().display()));
        let addr = SocketAddr::new(PDNS_IP.into(), port);
        let daemon = Daemon::spawn("pdns_server", command, addr, &dir.path().join("pdns.log"));
        let mut pdns = Pdns { daemon, conf, dir };
        pdns.daemon.wait_ready(&token, ZONE)?;
        Ok(pdns)
    }

    /// Address and port it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Its directory (`pdns.conf`, `pdns.sqlite3`, `pdns.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration it runs with.
    pub fn conf(&self) -> &PdnsConf {
        &self.conf
    }

    /// What `pdns_server` logged so far.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// Every row of the `records` table, in id order, ids included: a
    /// record deleted and added back shows up with a new id.
    pub fn records(&self) -> String {
        sqlite(
            &self.conf.database(),
            "SELECT id, name, type, content, ttl, prio, disabled, auth FROM records ORDER BY id;",
        )
    }

    /// Its process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// Stops the server now (SIGTERM).
    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}

impl Drop for Pdns {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "PowerDNS test server kept for inspection: {} (pdns.conf, pdns.log, pdns.sqlite3)",
                self.dir.path().display()
            );
        }
    }
}

/// Runs `sql` on the database `db` with the sqlite3 shell; returns what it
/// printed, panics if it fails.
fn sqlite(db: &Path, sql: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new(tool("sqlite3", "sqlite3"))
        .arg("-batch")
        .arg("-bail")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run sqlite3: {err}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(sql.as_bytes())
        .expect("cannot write to sqlite3");
    let output = child.wait_with_output().expect("cannot wait for sqlite3");
    assert!(
        output.status.success(),
        "sqlite3 {} failed ({}): {}",
        db.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
