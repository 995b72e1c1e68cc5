//! A Samba 4 Active Directory domain controller with its internal DNS
//! server: the AD-integrated DNS that runs on Linux, for the GSS-TSIG tests
//! of `tests/samba_ad.rs`.
//!
//! `samba-tool domain provision` writes the whole domain (realm
//! `AD.EXAMPLE`, zone `ad.example`, DC `dc1.ad.example`) into a temp dir;
//! `samba` then runs in a network namespace of its own that holds only
//! `lo`, so nothing it does (CLDAP, Kerberos, DNS forwarding, DRS) can leave
//! the machine. Every client — kmsdns, `kinit`, `dig`, `nsupdate -g`,
//! `samba-tool dns query` — runs inside that namespace (`ip netns exec`),
//! with `KRB5_CONFIG` pointing at this bed's krb5.conf and a credential cache
//! per principal; so does a test's relay ([`SambaDc::relay`]). The test
//! process itself never changes its environment.
//!
//! Two KMS hosts have machine accounts (`KMS1$`, `KMS2$`) with keytabs
//! exported by `samba-tool domain exportkeytab`, as a Windows host's
//! account would have its keys.
//!
//! Provisioning takes about 5 s, so one DC is shared by the tests that run
//! at the same time ([`SambaDc::shared`]); each test works under names of
//! its own (`_vlmcs._tcp.<label>.ad.example`). The DC is stopped, and its
//! namespace removed, when the last test holding it drops it.
//!
//! Facts this rests on: /work/shared/notes/other-servers.md, "Samba 4 AD DC".

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::local::tool;
use super::relay::Relay;
use super::run::Run;

/// The DC's address inside its namespace.
pub const DC_ADDRESS: &str = "127.0.0.10";
const DC_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 10);
pub const REALM: &str = "AD.EXAMPLE";
pub const ZONE: &str = "ad.example";
/// The two KMS hosts' machine accounts.
pub const KMS1: &str = "KMS1$";
pub const KMS2: &str = "KMS2$";

const PACKAGES: &str = "samba samba-ad-dc samba-ad-provision krb5-user smbclient winbind ldb-tools";

/// A running Samba AD DC in its own network namespace.
pub struct SambaDc {
    dir: TempDir,
    netns: String,
    samba: Mutex<Option<Child>>,
    /// Serialises `kinit` into one cache, and `samba-tool` writes.
    tools: Mutex<()>,
}

/// The DC the running tests share; gone when the last of them drops it.
static SHARED: Mutex<Weak<SambaDc>> = Mutex::new(Weak::new());

impl SambaDc {
    /// The DC shared with the other samba tests now running, provisioned
    /// and started if there is none.
    pub fn shared() -> Arc<SambaDc> {
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dc) = shared.upgrade() {
            return dc;
        }
        let dc = Arc::new(SambaDc::start());
        *shared = Arc::downgrade(&dc);
        dc
    }

    fn start() -> SambaDc {
        let dir = tempfile::tempdir().expect("temp dir");
        let netns = unique_netns();
        let mut dc = SambaDc {
            dir,
            netns,
            samba: Mutex::new(None),
            tools: Mutex::new(()),
        };
        dc.make_netns();
        dc.provision();
        dc.write_krb5_conf();
        for account in [KMS1, KMS2] {
            dc.add_machine_account(account);
        }
        let samba = dc
            .in_netns(&tool("samba", PACKAGES))
            .arg("-s")
            .arg(dc.path("etc/smb.conf"))
            .args(["-F", "--no-process-group", "--debug-stdout"])
            .stdout(log_file(&dc.path("samba.log")))
            .stderr(Stdio::null())
            .spawn()
            .expect("samba starts");
        *dc.samba.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(samba);
        dc.wait_for_dns();
        dc.kinit_admin();
        dc
    }

    /// A file of the bed.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// The keytab of a machine account (`KMS1$`).
    pub fn keytab(&self, account: &str) -> PathBuf {
        self.path(&format!("{}.keytab", account.trim_end_matches('$')))
    }

    /// The account's principal: `KMS1$@AD.EXAMPLE`.
    pub fn principal(account: &str) -> String {
        format!("{account}@{REALM}")
    }

    /// A command run inside the DC's namespace.
    pub fn in_netns(&self, program: &Path) -> Command {
        let mut command = Command::new(tool("ip", "iproute2"));
        command
            .args(["netns", "exec", &self.netns])
            .arg(program)
            .env("KRB5_CONFIG", self.path("krb5.conf"))
            .env_remove("KRB5_CLIENT_KTNAME")
            .env(
                "KRB5CCNAME",
                format!("FILE:{}", self.path("empty.ccache").display()),
            );
        command
    }

    /// kmsdns run inside the namespace with `config`, the DC as resolver,
    /// and a credential cache of its own (empty: the keytab is used).
    pub fn kmsdns(&self, config: &Path, args: &[&str]) -> Run {
        let binary = assert_cmd::cargo::cargo_bin("kmsdns");
        let mut command = self.in_netns(&binary);
        command
            .env("NO_COLOR", "1")
            .env(
                "KRB5CCNAME",
                format!("FILE:{}", self.path("kmsdns.ccache").display()),
            )
            .current_dir(self.dir.path())
            .arg("-c")
            .arg(config)
            .args(["--nameserver", DC_ADDRESS])
            .args(args);
        let mut shown = vec![
            "-c".to_owned(),
            config.display().to_string(),
            "--nameserver".to_owned(),
            DC_ADDRESS.to_owned(),
        ];
        shown.extend(args.iter().map(|a| (*a).to_owned()));
        let started = Instant::now();
        let output = run_with_timeout(command, Duration::from_secs(90));
        let run = Run {
            args: shown,
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("kmsdns writes UTF-8 to stdout"),
            stderr: String::from_utf8(output.stderr).expect("kmsdns writes UTF-8 to stderr"),
            took: started.elapsed(),
        };
        assert!(
            output.status.code().is_some(),
            "kmsdns did not exit ({}): killed by a signal or its timeout\n{run}",
            output.status
        );
        run
    }

    /// A fault-injecting relay ([`Relay`]) to the DC's DNS, listening on
    /// 127.0.0.1 inside the namespace, where kmsdns runs. It is started on
    /// a thread moved into the namespace (setns(2) moves only the calling
    /// thread), so its sockets, and the runtime threads it starts, live
    /// there; nothing else of this process changes namespace or
    /// environment.
    pub fn relay(&self) -> Relay {
        use std::os::fd::AsRawFd;
        let netns = std::fs::File::open(Path::new("/var/run/netns").join(&self.netns))
            .expect("the namespace's handle");
        thread::scope(|scope| {
            scope
                .spawn(move || {
                    // SAFETY: setns on a handle of a network namespace,
                    // which moves only this thread.
                    let moved = unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(moved, 0, "setns: {}", std::io::Error::last_os_error());
                    Relay::start(SocketAddr::from((DC_IP, 53)))
                })
                .join()
                .expect("the relay thread")
        })
    }

    /// `config` with its `server =` pointing at `server` (a relay): a
    /// copy beside it.
    pub fn config_via(&self, config: &Path, server: SocketAddr) -> PathBuf {
        let text = std::fs::read_to_string(config).expect("config");
        let via = text.replace(
            &format!("server = \"{DC_ADDRESS}\""),
            &format!("server = \"{server}\""),
        );
        assert_ne!(via, text, "no server = line in {}", config.display());
        let path = config.with_extension("via.toml");
        std::fs::write(&path, via).expect("config");
        path
    }

    /// A kmsdns configuration publishing `host` to `<label>.ad.example`,
    /// signed with GSS-TSIG as the machine account `account` (its keytab),
    /// and `extra` lines in the domain's table.
    pub fn config(&self, label: &str, host: &str, account: &str, extra: &str) -> PathBuf {
        let path = self.path(&format!("{label}-{}.toml", account.trim_end_matches('$')));
        std::fs::write(
            &path,
            format!(
                "publish-list = [\"{label}.{ZONE}\"]\n\
                 [[host]]\nname = \"{host}\"\n\
                 [domain.\"{label}.{ZONE}\"]\nserver = \"{DC_ADDRESS}\"\n\
                 auth = \"gss-tsig\"\nkeytab = \"{}\"\nprincipal = \"{}\"\n{extra}\n",
                self.keytab(account).display(),
                SambaDc::principal(account),
            ),
        )
        .expect("kmsdns.toml");
        path
    }

    /// `_vlmcs._tcp.<label>.ad.example.`
    pub fn owner_name(label: &str) -> String {
        format!("_vlmcs._tcp.{label}.{ZONE}.")
    }

    /// `dig` in the namespace: the SRV records of `name` as `TTL data`
    /// lines, sorted.
    pub fn srv(&self, name: &str) -> Vec<String> {
        let output = self
            .in_netns(&tool("dig", "bind9-dnsutils"))
            .args(["+noall", "+answer", "+norecurse", "-t", "SRV"])
            .arg(format!("@{DC_ADDRESS}"))
            .arg(name)
            .output()
            .expect("dig runs");
        assert!(output.status.success(), "dig failed: {output:?}");
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields.len() == 8 && fields[3] == "SRV")
                    .then(|| format!("{} {}", fields[1], fields[4..].join(" ")))
            })
            .collect();
        lines.sort();
        lines
    }

    /// Adds `SRV data` at `name` with `nsupdate -g`, signed as `account`
    /// (or Administrator when `None`): a record kmsdns's configuration
    /// does not know, owned by whoever created the name.
    pub fn seed(&self, account: Option<&str>, name: &str, ttl: u32, data: &str) {
        self.nsupdate(account, &format!("add {name} {ttl} IN SRV {data}"));
        self.wait_for(name, data, true);
    }

    /// Deletes `SRV data` at `name` with `nsupdate -g`, signed as `account`.
    pub fn unseed(&self, account: Option<&str>, name: &str, data: &str) {
        self.nsupdate(account, &format!("delete {name} IN SRV {data}"));
        self.wait_for(name, data, false);
    }

    fn nsupdate(&self, account: Option<&str>, update: &str) {
        let ccache = match account {
            Some(account) => self.kinit_keytab(account),
            None => self.path("admin.ccache"),
        };
        let script = format!("server {DC_ADDRESS}\nzone {ZONE}\nupdate {update}\nsend\n");
        let mut command = self.in_netns(&tool("nsupdate", "bind9-dnsutils"));
        command
            .arg("-g")
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()));
        // nsupdate -g cannot verify Samba's reply signature ("tsig verify
        // failure"), whatever happened: the records tell.
        with_stdin(command, &script);
    }

    /// Waits until `name` has (or has not) the SRV record `data`.
    fn wait_for(&self, name: &str, data: &str, present: bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.srv(name).iter().any(|line| line.ends_with(data)) != present {
            assert!(
                Instant::now() < deadline,
                "nsupdate -g did not {} {name} SRV {data}",
                if present { "add" } else { "delete" }
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// `samba-tool dns query` as Administrator (the password from the
    /// environment, not the command line): the SRV records of `name` as
    /// the directory holds them, with TTLs.
    pub fn directory_records(&self, name: &str) -> String {
        let relative = name
            .trim_end_matches('.')
            .trim_end_matches(&format!(".{ZONE}"));
        let output = self
            .in_netns(&tool("samba-tool", PACKAGES))
            .args(["dns", "query", DC_ADDRESS, ZONE, relative, "SRV"])
            .args(["-U", "Administrator"])
            .env("PASSWD", admin_password())
            .output()
            .expect("samba-tool runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "samba-tool dns query failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    }

    /// The owner (an SDDL SID or alias, `O:…`) of the dnsNode object of
    /// `name`, read from the directory itself.
    pub fn node_owner(&self, name: &str) -> String {
        let descriptor = self.node_descriptor(name);
        descriptor
            .split_whitespace()
            .find_map(|word| word.strip_prefix("O:"))
            .and_then(|rest| rest.split("G:").next())
            .unwrap_or_else(|| panic!("no owner in the descriptor of {name}: {descriptor}"))
            .to_owned()
    }

    fn node_descriptor(&self, name: &str) -> String {
        let relative = name
            .trim_end_matches('.')
            .trim_end_matches(&format!(".{ZONE}"));
        let dn =
            format!("DC={relative},DC={ZONE},CN=MicrosoftDNS,DC=DomainDnsZones,DC=ad,DC=example");
        let output = Command::new(tool("samba-tool", PACKAGES))
            .args(["dsacl", "get"])
            .arg(format!("--objectdn={dn}"))
            .arg("-H")
            .arg(self.path("private/sam.ldb"))
            .output()
            .expect("samba-tool runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "samba-tool dsacl get failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text.lines().last().unwrap_or_default().to_owned()
    }

    /// The SID of a machine account.
    pub fn sid(&self, account: &str) -> String {
        let output = Command::new(tool("ldbsearch", PACKAGES))
            .arg("-H")
            .arg(self.path("private/sam.ldb"))
            .arg(format!("(sAMAccountName={account})"))
            .arg("objectSid")
            .output()
            .expect("ldbsearch runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.lines()
            .find_map(|line| line.strip_prefix("objectSid: "))
            .unwrap_or_else(|| panic!("no objectSid for {account}: {text}"))
            .trim()
            .to_owned()
    }

    /// The distinguished names of every dnsNode object of the zone
    /// partition, tombstoned ones included, sorted.
    pub fn dns_nodes(&self) -> Vec<String> {
        let output = Command::new(tool("ldbsearch", PACKAGES))
            .arg("-H")
            .arg(self.path("private/sam.ldb"))
            .args(["--show-deleted", "--show-recycled", "-b"])
            .arg(format!(
                "DC={ZONE},CN=MicrosoftDNS,DC=DomainDnsZones,DC=ad,DC=example"
            ))
            .args(["(objectClass=dnsNode)", "dn"])
            .output()
            .expect("ldbsearch runs");
        assert!(output.status.success(), "ldbsearch failed: {output:?}");
        let mut nodes: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix("dn: ").map(str::to_owned))
            .collect();
        nodes.sort();
        nodes
    }

    fn make_netns(&self) {
        let ip = tool("ip", "iproute2");
        check(Command::new(&ip).args(["netns", "add", &self.netns]));
        check(Command::new(&ip).args([
            "netns",
            "exec",
            &self.netns,
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ]));
        check(Command::new(&ip).args([
            "netns",
            "exec",
            &self.netns,
            "ip",
            "addr",
            "add",
            &format!("{DC_ADDRESS}/8"),
            "dev",
            "lo",
        ]));
        // Name resolution inside the namespace: only the DC.
        let etc = Path::new("/etc/netns").join(&self.netns);
        std::fs::create_dir_all(&etc).expect("/etc/netns");
        std::fs::write(
            etc.join("resolv.conf"),
            format!("nameserver {DC_ADDRESS}\n"),
        )
        .expect("resolv.conf");
        std::fs::write(
            etc.join("hosts"),
            format!("127.0.0.1 localhost\n{DC_ADDRESS} dc1.{ZONE} dc1\n"),
        )
        .expect("hosts");
    }

    fn provision(&self) {
        let d = self.dir.path().display();
        let options = [
            format!("interfaces = {DC_ADDRESS}"),
            "bind interfaces only = yes".to_owned(),
            "server services = -nbt -dnsupdate -wrepl".to_owned(),
            "disable netbios = yes".to_owned(),
            // Forwarding goes nowhere: the namespace has nothing but lo.
            "dns forwarder = 127.0.0.9".to_owned(),
            format!("log file = {d}/log.%m"),
            format!("pid directory = {d}/run"),
            format!("ncalrpc dir = {d}/ncalrpc"),
            format!("winbindd socket directory = {d}/winbindd"),
        ];
        let mut command = Command::new(tool("samba-tool", PACKAGES));
        command
            .args(["domain", "provision"])
            .arg(format!("--targetdir={d}"))
            .arg(format!("--realm={REALM}"))
            .args(["--domain=ADEX", "--server-role=dc"])
            .args(["--dns-backend=SAMBA_INTERNAL", "--host-name=dc1"])
            .arg(format!("--host-ip={DC_ADDRESS}"))
            .arg(format!("--adminpass={}", admin_password()))
            .env("KRB5_CONFIG", self.path("krb5.conf"));
        for option in &options {
            command.arg(format!("--option={option}"));
        }
        check(&mut command);
    }

    /// A krb5.conf of the realm with the KDC at the DC's address, nothing
    /// looked up in DNS.
    fn write_krb5_conf(&self) {
        std::fs::write(
            self.path("krb5.conf"),
            format!(
                "[libdefaults]\n\tdefault_realm = {REALM}\n\tdns_lookup_realm = false\n\
                 \tdns_lookup_kdc = false\n\tdns_canonicalize_hostname = false\n\
                 \trdns = false\n\tudp_preference_limit = 1\n\n\
                 [realms]\n{REALM} = {{\n\tkdc = {DC_ADDRESS}\n\tdefault_domain = {ZONE}\n}}\n\n\
                 [domain_realm]\n\t.{ZONE} = {REALM}\n\t{ZONE} = {REALM}\n"
            ),
        )
        .expect("krb5.conf");
    }

    /// A computer account with a password of its own (an account made
    /// without one has no keys to export), and its keytab.
    fn add_machine_account(&self, account: &str) {
        let sam = self.path("private/sam.ldb");
        let host = account.trim_end_matches('$');
        check(
            Command::new(tool("samba-tool", PACKAGES))
                .args(["computer", "create", host, "-H"])
                .arg(&sam),
        );
        let mut setpassword = Command::new(tool("samba-tool", PACKAGES));
        setpassword
            .args(["user", "setpassword", account, "-H"])
            .arg(&sam)
            .arg(format!("--newpassword={}", admin_password()));
        check(&mut setpassword);
        check(
            Command::new(tool("samba-tool", PACKAGES))
                .args(["domain", "exportkeytab"])
                .arg(self.keytab(account))
                .arg(format!("--principal={account}"))
                .arg("-s")
                .arg(self.path("etc/smb.conf")),
        );
        assert!(
            self.keytab(account).is_file(),
            "samba-tool wrote no keytab for {account}"
        );
    }

    /// Waits until the DC answers for its zone over DNS (about 1 s).
    fn wait_for_dns(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = self
                .in_netns(&tool("dig", "bind9-dnsutils"))
                .args(["+short", "+norecurse", "+time=1", "+tries=1"])
                .arg(format!("@{DC_ADDRESS}"))
                .args([ZONE, "SOA"])
                .output()
                .expect("dig runs");
            if output.status.success() && !output.stdout.is_empty() {
                return;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "Samba does not answer DNS; its log:\n{}",
                std::fs::read_to_string(self.path("samba.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    fn assert_running(&self) {
        let mut samba = self.samba.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(child) = samba.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "samba exited ({status}); its log:\n{}",
                    std::fs::read_to_string(self.path("samba.log")).unwrap_or_default()
                );
            }
        }
    }

    /// Administrator's ticket, for `nsupdate -g` and `samba-tool dns`;
    /// the KDC may need a moment after DNS answers.
    fn kinit_admin(&self) {
        let mut command = self.in_netns(&tool("kinit", "krb5-user"));
        command.arg(format!("Administrator@{REALM}")).env(
            "KRB5CCNAME",
            format!("FILE:{}", self.path("admin.ccache").display()),
        );
        retry_kinit(|| {
            with_stdin(
                self.clone_command(&command),
                &format!("{}\n", admin_password()),
            )
        });
    }

    /// A ticket for `account` from its keytab, in a cache of its own: the
    /// cache's path.
    pub fn kinit_keytab(&self, account: &str) -> PathBuf {
        let _one_at_a_time = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let ccache = self.path(&format!("{}.ccache", account.trim_end_matches('$')));
        let mut command = self.in_netns(&tool("kinit", "krb5-user"));
        command
            .arg("-k")
            .arg("-t")
            .arg(self.keytab(account))
            .arg(SambaDc::principal(account))
            .env("KRB5CCNAME", format!("FILE:{}", ccache.display()));
        retry_kinit(|| self.clone_command(&command).output().expect("kinit runs"));
        ccache
    }

    fn clone_command(&self, command: &Command) -> Command {
        let mut clone = Command::new(command.get_program());
        clone.args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => clone.env(key, value),
                None => clone.env_remove(key),
            };
        }
        clone
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        if let Some(mut samba) = self
            .samba
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = samba.kill();
            let _ = samba.wait();
        }
        // samba's children (one per service) are left in the namespace:
        // kill everything still in it, then remove it.
        let ip = tool("ip", "iproute2");
        if let Ok(output) = Command::new(&ip)
            .args(["netns", "pids", &self.netns])
            .output()
        {
            for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
                let _ = Command::new("kill")
                    .args(["-KILL", pid])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = Command::new(&ip)
            .args(["netns", "delete", &self.netns])
            .status();
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.netns));
    }
}

/// A namespace name no other run or test bed uses.
fn unique_netns() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "kmsdns-samba-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The Administrator and machine account password: random per process,
/// and meeting AD's complexity rules (upper, lower, digit, symbol).
fn admin_password() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD
        .get_or_init(|| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u32(std::process::id());
            format!("Kd9-{:016x}", hasher.finish())
        })
        .clone()
}

fn log_file(path: &Path) -> Stdio {
    std::fs::File::create(path)
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn check(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn with_stdin(mut command: Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("the tool ends")
}

/// `kinit` until it succeeds: the KDC starts with the DC, but not always
/// before its DNS answers.
fn retry_kinit(mut kinit: impl FnMut() -> Output) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = kinit();
        if output.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kinit fails: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        thread::sleep(Duration::from_millis(300));
    }
}

/// Runs `command` to its end, killing it after `limit`.
fn run_with_timeout(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not run: {e}"));
    let id = child.id();
    let (done, waited) = std::sync::mpsc::channel();
    let watchdog = thread::spawn(move || {
        if waited.recv_timeout(limit).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
        }
    });
    let output = child.wait_with_output().expect("the process ends");
    let _ = done.send(());
    let _ = watchdog.join();
    output
}
