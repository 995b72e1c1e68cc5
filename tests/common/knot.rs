//! A Knot DNS test server: `knotd` in the foreground on a loopback address
//! and a free high port, from a configuration written from the typed
//! [`KnotConf`], serving the zone of `servers.rs` in a temporary directory;
//! stopped on `Drop`.
//!
//! The default configuration is the minimal one kmsdns needs (the README's
//! "DNS servers" section shows it): a TSIG key, and an ACL that lets that
//! key update only the SRV records of `_vlmcs._tcp` names:
//!
//! ```text
//! acl:
//!   - id: kmsdns-update
//!     key: kmsdns-secure
//!     action: update
//!     update-type: [SRV]
//!     update-owner: name
//!     update-owner-match: equal
//!     update-owner-name: [_vlmcs._tcp, _vlmcs._tcp.refused]
//! ```
//!
//! Knot 3.2 answers a request signed with a key that no ACL of the zone
//! names with BADKEY even for a read, so the second key ([`OTHER_KEY`]) has
//! a transfer ACL: known to the server, signs reads, and may update nothing.
//! An update the ACL denies gets NOTAUTH, with TSIG error BADKEY when signed.
//!
//! The journal (`database.storage`, in the temporary directory) holds every
//! change: [`Knot::journal`] prints it, to prove that something changed
//! nothing.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::local::{free_port, random_u64, tool};
use super::servers::{
    ips, keys, on_a_free_port, write, zone_file, Daemon, Key, GRANTED_KEY, OTHER_KEY, ZONE,
};

/// The loopback address of every Knot test server (each has its own port).
pub const KNOT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 31);

//------------ KnotConf ------------------------------------------------------

/// The `knot.conf` of one test server.
#[derive(Clone, Debug)]
pub struct KnotConf {
    /// Absolute directory for the zone files, the journal and the PID file.
    pub dir: PathBuf,
    pub address: Ipv4Addr,
    pub port: u16,
    /// The answer to `id.server CH TXT`: tells our server from another.
    pub identity: String,
    /// The answer to `version.bind CH TXT`; `None` keeps Knot's own
    /// ("Knot DNS 3.2.6").
    pub version: Option<String>,
    pub keys: Vec<Key>,
    pub acls: Vec<KnotAcl>,
    pub zones: Vec<KnotZone>,
}

/// One `acl` entry.
#[derive(Clone, Debug)]
pub struct KnotAcl {
    pub id: String,
    /// Name of the key it is for.
    pub key: String,
    pub action: KnotAction,
}

/// What an ACL entry allows.
#[derive(Clone, Debug)]
pub enum KnotAction {
    /// `action: update`, restricted to these types at these owner names
    /// (relative to the zone); empty lists restrict nothing.
    Update {
        types: Vec<String>,
        owners: Vec<String>,
    },
    /// `action: transfer`.
    Transfer,
}

/// One `zone` entry.
#[derive(Clone, Debug)]
pub struct KnotZone {
    pub domain: String,
    /// Zone file, relative to [`KnotConf::dir`].
    pub file: String,
    /// Ids of the ACL entries that apply.
    pub acls: Vec<String>,
}

impl KnotConf {
    /// The default server: [`ZONE`] seeded from `servers.rs`, both keys,
    /// updates of the `_vlmcs._tcp` SRV records for [`GRANTED_KEY`].
    pub fn new(dir: &Path, address: Ipv4Addr, port: u16, identity: &str) -> KnotConf {
        KnotConf {
            dir: dir.to_path_buf(),
            address,
            port,
            identity: identity.to_string(),
            version: None,
            keys: keys().to_vec(),
            acls: vec![
                KnotAcl {
                    id: "kmsdns-update".into(),
                    key: GRANTED_KEY.into(),
                    action: KnotAction::Update {
                        types: vec!["SRV".into()],
                        owners: vec!["_vlmcs._tcp".into(), "_vlmcs._tcp.refused".into()],
                    },
                },
                KnotAcl {
                    id: "other-transfer".into(),
                    key: OTHER_KEY.into(),
                    action: KnotAction::Transfer,
                },
            ],
            zones: vec![KnotZone {
                domain: ZONE.into(),
                file: format!("{ZONE}.zone"),
                acls: vec!["kmsdns-update".into(), "other-transfer".into()],
            }],
        }
    }
}

impl fmt::Display for KnotConf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        writeln!(
            f,
            "# One kmsdns test server; written by tests/common/knot.rs."
        )?;
        writeln!(f, "server:")?;
        writeln!(f, "    rundir: \"{dir}\"")?;
        writeln!(f, "    listen: {}@{}", self.address, self.port)?;
        writeln!(f, "    identity: \"{}\"", self.identity)?;
        if let Some(version) = &self.version {
            writeln!(f, "    version: \"{version}\"")?;
        }
        // The journal lives here.
        writeln!(f, "database:")?;
        writeln!(f, "    storage: \"{dir}/db\"")?;
        writeln!(f, "log:")?;
        writeln!(f, "  - target: stderr")?;
        writeln!(f, "    any: info")?;
        writeln!(f, "key:")?;
        for key in &self.keys {
            writeln!(f, "  - id: {}", key.name)?;
            writeln!(f, "    algorithm: {}", key.algorithm)?;
            writeln!(f, "    secret: {}", key.secret)?;
        }
        writeln!(f, "acl:")?;
        for acl in &self.acls {
            writeln!(f, "  - id: {}", acl.id)?;
            writeln!(f, "    key: {}", acl.key)?;
            match &acl.action {
                KnotAction::Transfer => writeln!(f, "    action: transfer")?,
                KnotAction::Update { types, owners } => {
                    writeln!(f, "    action: update")?;
                    if !types.is_empty() {
                        writeln!(f, "    update-type: [{}]", types.join(", "))?;
                    }
                    if !owners.is_empty() {
                        writeln!(f, "    update-owner: name")?;
                        writeln!(f, "    update-owner-match: equal")?;
                        writeln!(f, "    update-owner-name: [{}]", owners.join(", "))?;
                    }
                }
            }
        }
        writeln!(f, "zone:")?;
        for zone in &self.zones {
            writeln!(f, "  - domain: {}", zone.domain)?;
            writeln!(f, "    storage: \"{dir}\"")?;
            writeln!(f, "    file: \"{}\"", zone.file)?;
            // Changes stay in the journal; the zone file is never rewritten.
            writeln!(f, "    zonefile-sync: -1")?;
            writeln!(f, "    acl: [{}]", zone.acls.join(", "))?;
        }
        Ok(())
    }
}

//------------ Knot ----------------------------------------------------------

/// A running `knotd` with its directory; stopped, then the directory
/// removed, on `Drop` (kept and named when the test panicked).
#[derive(Debug)]
pub struct Knot {
    // Declared before `dir`: the server stops before its files go.
    daemon: Daemon,
    conf: KnotConf,
    conf_path: PathBuf,
    dir: tempfile::TempDir,
}

impl Knot {
    /// The default server (see [`KnotConf::new`]).
    pub fn start() -> Knot {
        Knot::start_with(|_| {})
    }

    /// A server whose default configuration `edit` changed first.
    pub fn start_with(edit: impl Fn(&mut KnotConf)) -> Knot {
        on_a_free_port("knotd", || Knot::try_start(&edit))
    }

    fn try_start(edit: &impl Fn(&mut KnotConf)) -> Result<Knot, String> {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-knot-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let port = free_port(&ips(KNOT_IP));
        let token = format!("kmsdns-knot-{:016x}", random_u64());
        let mut conf = KnotConf::new(dir.path(), KNOT_IP, port, &token);
        edit(&mut conf);
        // Knot does not create its database directory, and without it every
        // update fails (SERVFAIL, "not exists" in the log).
        std::fs::create_dir(dir.path().join("db")).expect("cannot create db/");
        for zone in &conf.zones {
            write(dir.path(), &zone.file, &zone_file(KNOT_IP));
        }
        let conf_path = write(dir.path(), "knot.conf", &conf.to_string());
        let mut command = Command::new(tool("knotd", "knot"));
        command.arg("-c").arg(&conf_path);
        let addr = SocketAddr::new(KNOT_IP.into(), port);
        let daemon = Daemon::spawn("knotd", command, addr, &dir.path().join("knotd.log"));
        let mut knot = Knot {
            daemon,
            conf,
            conf_path,
            dir,
        };
        knot.daemon.wait_ready(&token, ZONE)?;
        Ok(knot)
    }

    /// Address and port it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Its directory (zone files, `knot.conf`, `knotd.log`, `db/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration it runs with.
    pub fn conf(&self) -> &KnotConf {
        &self.conf
    }

    /// What `knotd` logged so far.
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    /// The zone's journal as `kjournalprint` prints it: every change since
    /// the zone was loaded (nothing at all before the first one).
    pub fn journal(&self) -> String {
        let output = Command::new(tool("kjournalprint", "knot"))
            .arg("-c")
            .arg(&self.conf_path)
            .arg("-x")
            .arg(format!("{ZONE}."))
            .output()
            .unwrap_or_else(|err| panic!("cannot run kjournalprint: {err}"));
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
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

impl Drop for Knot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!(
                "Knot test server kept for inspection: {} (knot.conf, knotd.log)",
                self.dir.path().display()
            );
        }
    }
}
