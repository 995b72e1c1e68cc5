//! The scale benchmark's BIND: a primary and two secondaries on loopback
//! (127.53.7.1–3, one free high port), serving N generated zones.
//!
//! Separate from the integration tests' `tests/common/bind.rs` because it
//! needs what those do not: thousands of zones written fast, secondaries
//! that start with the zones already on disk (no 2 × N transfers at
//! start), a statistics channel to count the queries and updates each run
//! makes, and a choice of named worker threads (`-n`). The settings follow
//! `shared/notes/hickory-and-bind.md`: `notify-delay 0`, NOTIFY, SOA-query
//! and transfer rates that never throttle replication, every file and
//! socket of an instance its own.
//!
//! The layout, per zone `dNNNNN.kmsbench.test.` (N = 1 … domains):
//! - SOA MNAME `ns1.kmsbench.test.`, NS `ns1`, `ns2`, `ns3` of
//!   `kmsbench.test.`, served by the same three servers, which also holds
//!   their addresses and those of the two KMS hosts `kms1` and `kms2`;
//! - on the primary an `update-policy` granting the benchmark's TSIG key
//!   `name _vlmcs._tcp.<zone> SRV`, what `kmsdns bind` generates.
//!
//! Every process started here is stopped on drop (SIGTERM, then SIGKILL).
//!
//! What it needs from the machine (loopback addresses, free ports, system
//! tools, random numbers, one blocking DNS query) it shares with the test
//! bed: `tests/common/local.rs`, this module's sibling `local`.

// A sibling, not a child: benches/scale/main.rs includes the file by
// #[path], and the integration tests, which include this file in
// bench_quick, already compile it once as common::local.
use super::local;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, RecordType};

use local::{ensure_loopback, fqdn, free_port, query_udp, random_u64, soa_serial, tool, version};

/// The parent zone holding the servers' and KMS hosts' addresses.
pub const PARENT: &str = "kmsbench.test";
/// The TSIG key granted the `_vlmcs._tcp` SRV records of every zone.
pub const KEY_NAME: &str = "kmsdns-bench";
/// The two KMS hosts every domain publishes, at 127.53.7.11 and .12 (only
/// the probe cases, `probe.rs`, contact them).
pub const HOSTS: [&str; 2] = ["kms1.kmsbench.test", "kms2.kmsbench.test"];
/// The port of every SRV record.
pub const KMS_PORT: u16 = 1688;
/// The TTL of the SRV RRsets, the configuration's and nsupdate's.
pub const TTL: u32 = 3600;

/// How long a server may take to load its zones and answer.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a secondary may lag behind for a zone before the bench sends
/// it the zone's NOTIFY again ([`Bed::wait_replicated`]).
pub const NOTIFY_AGAIN: Duration = Duration::from_secs(3);
/// How long a secondary may lag behind for a zone, NOTIFYs again
/// notwithstanding, before the bench makes it transfer the zone
/// (`rndc retransfer`, [`Bed::wait_replicated`]).
pub const RETRANSFER_AFTER: Duration = Duration::from_secs(30);
/// The name of the key of the servers' control channels (`rndc`).
const RNDC_KEY_NAME: &str = "kmsdns-bench-rndc";

/// How long a SOA query may wait for its answer.
const SOA_TIMEOUT: Duration = Duration::from_secs(1);
/// How long named gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One of the three servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Server {
    Ns1,
    Ns2,
    Ns3,
}

impl Server {
    pub const ALL: [Server; 3] = [Server::Ns1, Server::Ns2, Server::Ns3];

    /// Its fixed loopback address, apart from the test bed's 127.53.0.x.
    pub fn ip(self) -> Ipv4Addr {
        Ipv4Addr::new(127, 53, 7, self as u8 + 1)
    }

    pub fn name(self) -> &'static str {
        match self {
            Server::Ns1 => "ns1",
            Server::Ns2 => "ns2",
            Server::Ns3 => "ns3",
        }
    }
}

/// The zone (and publish-list domain) number `index`, from 1.
pub fn zone_name(index: usize) -> String {
    format!("d{index:05}.{PARENT}")
}

/// How a bed starts: what its zone files hold, whom the primary notifies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup {
    /// Every zone's two SRV records already in its files, as `publish`
    /// leaves them ([`Bed::start_published`]).
    pub published: bool,
    /// A secondary the primary never notifies (`notify explicit`, the
    /// other one in `also-notify`): one that lost every NOTIFY, as
    /// secondaries lose some under the load of 100,000 updates. Only the
    /// NOTIFY again of [`Bed::wait_replicated`] brings it a change before
    /// its hourly SOA refresh (`tests/bench_quick.rs`).
    pub unnotified: Option<Server>,
}

/// A running primary and two secondaries, and the files they use.
pub struct Bed {
    // Declared before `dir`: the servers stop before their files go.
    servers: Vec<Named>,
    dir: tempfile::TempDir,
    pub port: u16,
    /// TCP port of each server's statistics channel.
    pub stats_port: u16,
    /// The zones, in publish-list order, without trailing dot.
    pub zones: Vec<String>,
    /// tsig-keygen output for [`KEY_NAME`], mode 0600.
    pub key_file: PathBuf,
    /// TCP port of each server's control channel, for `rndc`.
    control_port: u16,
    /// tsig-keygen output for [`RNDC_KEY_NAME`], mode 0600.
    rndc_key: PathBuf,
}

impl Bed {
    /// Writes N zones, a key made by `tsig-keygen`, three named.conf, and
    /// starts the servers with `threads` workers each; returns once every
    /// server answers for the first and last zone and the start-up
    /// NOTIFY/SOA traffic has died down.
    pub fn start(domains: usize, threads: u32) -> Bed {
        Bed::start_with(domains, threads, Setup::default())
    }

    /// [`Bed::start`] with the two SRV records of every zone already in
    /// its zone files, as `publish` would leave them: an estate to read,
    /// without N updates and 2 × N transfers first.
    pub fn start_published(domains: usize, threads: u32) -> Bed {
        let setup = Setup {
            published: true,
            ..Setup::default()
        };
        Bed::start_with(domains, threads, setup)
    }

    /// [`Bed::start`], set up as `setup` says.
    pub fn start_with(domains: usize, threads: u32, setup: Setup) -> Bed {
        let dir = tempfile::Builder::new()
            .prefix("kmsdns-bench-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let ips: Vec<IpAddr> = Server::ALL.iter().map(|s| IpAddr::V4(s.ip())).collect();
        for ip in &ips {
            ensure_loopback(*ip);
        }
        let port = free_port(&ips);
        // Nothing holds `port` yet, nor the others, so a draw may pick one
        // of them again.
        let other_port = |taken: &[u16]| {
            std::iter::repeat_with(|| free_port(&ips))
                .find(|drawn| !taken.contains(drawn))
                .expect("free ports are drawn without end")
        };
        let stats_port = other_port(&[port]);
        let control_port = other_port(&[port, stats_port]);
        let zones: Vec<String> = (1..=domains).map(zone_name).collect();
        let key_file = dir.path().join("bench.key");
        keygen(&key_file, KEY_NAME);
        let rndc_key = dir.path().join("rndc.key");
        keygen(&rndc_key, RNDC_KEY_NAME);
        let mut bed = Bed {
            servers: Vec::new(),
            dir,
            port,
            stats_port,
            zones,
            key_file,
            control_port,
            rndc_key,
        };
        let token = format!("kmsdns-bench-{:016x}", random_u64());
        for server in Server::ALL {
            let dir = bed.dir.path().join(server.name());
            fs::create_dir_all(dir.join("zones")).expect("cannot create an instance directory");
            bed.write_zones(&dir, setup.published);
            let conf = dir.join("named.conf");
            let version = format!("{token}-{}", server.name());
            fs::write(&conf, bed.conf(server, &dir, &version, setup.unnotified))
                .expect("cannot write named.conf");
            bed.servers
                .push(Named::spawn(&conf, &dir, bed.addr(server), threads));
        }
        let first = bed
            .zones
            .first()
            .cloned()
            .unwrap_or_else(|| PARENT.to_string());
        let last = bed
            .zones
            .last()
            .cloned()
            .unwrap_or_else(|| PARENT.to_string());
        for (index, server) in Server::ALL.into_iter().enumerate() {
            let expected = format!("{token}-{}", server.name());
            let addr = bed.addr(server);
            bed.servers[index].wait_for("answer as our instance", READY_TIMEOUT, || match version(
                addr,
                Duration::from_millis(500),
            ) {
                Ok(found) if found == expected => Ok(()),
                Ok(found) => Err(format!(
                    "another named answers there ({found:?}); stop it or retry"
                )),
                Err(e) => Err(e),
            });
            for zone in [PARENT, &first, &last] {
                bed.servers[index].wait_for(&format!("serve {zone}"), READY_TIMEOUT, || {
                    soa_serial(addr, zone, SOA_TIMEOUT).map(drop)
                });
            }
            let log = bed.servers[index].log.clone();
            bed.servers[index].wait_for("log `running`", READY_TIMEOUT, || {
                let log = fs::read_to_string(&log).unwrap_or_default();
                if log.contains("running") {
                    Ok(())
                } else {
                    Err("not yet".into())
                }
            });
        }
        bed.settle();
        bed
    }

    /// Waits until no server has counted a new query for 500 ms (the
    /// start-up NOTIFYs and the secondaries' SOA checks are over).
    pub fn settle(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = self.counters().ok();
        let mut still_since = Instant::now();
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
            let now = self.counters().ok();
            if now.is_some() && now == last {
                if still_since.elapsed() >= Duration::from_millis(500) {
                    return;
                }
            } else {
                still_since = Instant::now();
                last = now;
            }
        }
    }

    /// Stops `server` (SIGSTOP) until the guard is dropped (SIGCONT): it
    /// takes every query and answers none, like a server that is down.
    pub fn pause(&self, server: Server) -> Paused<'_> {
        let pid = self.servers[server as usize].child.id() as libc::pid_t;
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        Paused { _bed: self, pid }
    }

    /// Address and port of `server`.
    pub fn addr(&self, server: Server) -> SocketAddr {
        SocketAddr::new(server.ip().into(), self.port)
    }

    /// The working directory (configuration, scripts, outputs go here).
    /// The named.conf `server` runs with.
    pub fn named_conf(&self, server: Server) -> PathBuf {
        self.dir.path().join(server.name()).join("named.conf")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the directory after the run, for inspection.
    pub fn keep(&mut self) {
        self.dir.disable_cleanup(true);
    }

    /// The zone files of one instance: the same text on all three, so the
    /// secondaries start with every zone instead of transferring it.
    fn write_zones(&self, dir: &Path, published: bool) {
        let mut parent = String::new();
        let soa = |zone: &str| {
            format!(
                "$TTL {TTL}\n{zone}. IN SOA ns1.{PARENT}. hostmaster.{PARENT}. 1 3600 600 86400 300\n"
            )
        };
        parent.push_str(&soa(PARENT));
        for server in Server::ALL {
            let _ = writeln!(parent, "{PARENT}. IN NS {}.{PARENT}.", server.name());
        }
        for server in Server::ALL {
            let _ = writeln!(parent, "{}.{PARENT}. IN A {}", server.name(), server.ip());
        }
        for (n, host) in HOSTS.iter().enumerate() {
            let _ = writeln!(parent, "{host}. IN A 127.53.7.{}", 11 + n);
        }
        fs::write(dir.join("parent.zone"), parent).expect("cannot write the parent zone");
        for zone in &self.zones {
            let mut text = soa(zone);
            for server in Server::ALL {
                let _ = writeln!(text, "{zone}. IN NS {}.{PARENT}.", server.name());
            }
            if published {
                for host in HOSTS {
                    let _ = writeln!(text, "_vlmcs._tcp.{zone}. IN SRV 0 0 {KMS_PORT} {host}.");
                }
            }
            fs::write(dir.join("zones").join(format!("{zone}.zone")), text)
                .expect("cannot write a zone file");
        }
    }

    /// `server`'s named.conf; the primary notifies each secondary but
    /// `unnotified`. Each server has a control channel for `rndc` (the
    /// wait's retransfer), and gives up a zone transfer that has sent
    /// nothing for a minute (`max-transfer-idle-in`, an hour by default):
    /// a transfer stalled under load would otherwise keep its zone behind,
    /// retransfer or not, for the rest of the run.
    fn conf(
        &self,
        server: Server,
        dir: &Path,
        version: &str,
        unnotified: Option<Server>,
    ) -> String {
        let (ip, port, stats) = (server.ip(), self.port, self.stats_port);
        let (control, rndc_key) = (self.control_port, self.rndc_key.display());
        let dir = dir.display();
        let mut conf = String::new();
        let _ = writeln!(conf, "include \"{rndc_key}\";");
        if server == Server::Ns1 {
            let _ = writeln!(conf, "include \"{}\";", self.key_file.display());
        }
        let _ = write!(
            conf,
            r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ {ip}; }};
    listen-on-v6 {{ none; }};
    port {port};
    query-source address {ip};
    notify-source {ip};
    transfer-source {ip};
    automatic-interface-scan no;
    recursion no;
    dnssec-validation no;
    empty-zones-enable no;
    max-cache-size 16m;
    version "{version}";
    masterfile-format text;
    notify-delay 0;
    notify-rate 2000;
    startup-notify-rate 2000;
    serial-query-rate 2000;
    transfers-in 100;
    transfers-out 100;
    transfers-per-ns 100;
    max-transfer-idle-in 1;
}};
controls {{ inet {ip} port {control} allow {{ 127.0.0.0/8; }} keys {{ "{RNDC_KEY_NAME}"; }}; }};
statistics-channels {{ inet {ip} port {stats} allow {{ 127.0.0.0/8; }}; }};
"#
        );
        let primary = Server::Ns1.ip();
        // Without a secondary to leave out, the NS set is notified.
        let notify = match unnotified {
            None => "notify yes;".to_string(),
            Some(left_out) => {
                let told: String = [Server::Ns2, Server::Ns3]
                    .into_iter()
                    .filter(|secondary| *secondary != left_out)
                    .map(|secondary| format!(" {} port {port};", secondary.ip()))
                    .collect();
                format!("notify explicit;\n    also-notify {{{told} }};")
            }
        };
        let role = |zone: &str, file: &str, updates: bool| -> String {
            if server == Server::Ns1 {
                let policy = if updates {
                    format!(
                        "    update-policy {{ grant {KEY_NAME} name _vlmcs._tcp.{zone}. SRV; }};\n"
                    )
                } else {
                    String::new()
                };
                format!("zone \"{zone}\" {{\n    type primary;\n    file \"{file}\";\n{policy}    {notify}\n}};\n")
            } else {
                format!(
                    "zone \"{zone}\" {{\n    type secondary;\n    file \"{file}\";\n    primaries {{ {primary} port {port}; }};\n    notify no;\n}};\n"
                )
            }
        };
        conf.push_str(&role(PARENT, "parent.zone", false));
        for zone in &self.zones {
            conf.push_str(&role(zone, &format!("zones/{zone}.zone"), true));
        }
        conf
    }

    /// CPU time (user + system, seconds) the three nameds have used since
    /// they started, from `/proc/PID/stat` (clock ticks): read before and
    /// after a run, it separates the servers' CPU from the client's.
    pub fn named_cpu(&self) -> f64 {
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let used = |named: &Named| {
            let stat = fs::read_to_string(format!("/proc/{}/stat", named.child.id()));
            // Fields 14 and 15 (utime, stime), counted after the command
            // name, which is in parentheses and may hold spaces.
            stat.ok()
                .and_then(|stat| {
                    let rest = stat.rsplit_once(')')?.1;
                    let fields: Vec<&str> = rest.split_whitespace().collect();
                    Some(
                        fields.get(11)?.parse::<u64>().ok()?
                            + fields.get(12)?.parse::<u64>().ok()?,
                    )
                })
                .unwrap_or(0)
        };
        self.servers.iter().map(used).sum::<u64>() as f64 / ticks
    }

    /// QUERY and UPDATE requests counted by each server since it started
    /// (BIND's statistics channel, `opcodes`), summed over the three.
    pub fn counters(&self) -> Result<Counters, String> {
        let mut total = Counters::default();
        for server in Server::ALL {
            let json = http_get(
                SocketAddr::new(server.ip().into(), self.stats_port),
                "/json/v1/server",
            )?;
            let value: serde_json::Value = serde_json::from_str(&json)
                .map_err(|e| format!("statistics of {}: {e}", server.name()))?;
            let count = |op: &str| value["opcodes"][op].as_u64().unwrap_or(0);
            total.queries += count("QUERY");
            total.updates += count("UPDATE");
            total.per_server.insert(server.name(), count("QUERY"));
        }
        Ok(total)
    }

    /// The SRV records of `_vlmcs._tcp.<zone>` at `server`, each as
    /// `"prio weight port target."`, sorted; an error unless the answer is
    /// authoritative NOERROR or NXDOMAIN. Asked up to three times: at
    /// 100,000 zones on a loaded machine, named can leave one of hundreds
    /// of thousands of questions unanswered for two seconds while it
    /// writes its journals, which says nothing about the records.
    pub fn srv_set(&self, server: Server, zone: &str) -> Result<Vec<String>, String> {
        let owner = format!("_vlmcs._tcp.{zone}");
        let ask = || {
            query_udp(
                self.addr(server),
                &owner,
                RecordType::SRV,
                DNSClass::IN,
                Duration::from_secs(2),
            )
        };
        let response = ask()
            .or_else(|_| ask())
            .or_else(|_| ask())
            .map_err(|e| format!("SRV {owner} at {}: {e}", server.name()))?;
        let code = response.response_code();
        if !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain)
            || !response.authoritative()
        {
            return Err(format!(
                "SRV {owner} at {}: {code}, aa {}",
                server.name(),
                response.authoritative()
            ));
        }
        let mut set: Vec<String> = response
            .answers()
            .iter()
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
            .collect();
        set.sort();
        Ok(set)
    }

    /// The SOA serial of `zone` at `server`.
    pub fn serial(&self, server: Server, zone: &str) -> Result<u32, String> {
        soa_serial(self.addr(server), zone, SOA_TIMEOUT)
    }

    /// Sends `server` the NOTIFY for `zone` that the primary sends after a
    /// change, from the primary's address (which the secondary takes
    /// NOTIFY from). Under the load of 100,000 updates a secondary drops
    /// some of the primary's, and the zone then waits for its SOA refresh
    /// (an hour).
    fn notify(&self, server: Server, zone: &str) -> Result<(), String> {
        let failed = |e: &dyn std::fmt::Display| format!("NOTIFY {zone} to {}: {e}", server.name());
        let mut notify = Message::new();
        notify
            .set_id(random_u64() as u16)
            .set_message_type(MessageType::Query)
            .set_op_code(OpCode::Notify)
            .set_authoritative(true)
            .add_query(Query::query(
                fqdn(zone).map_err(|e| failed(&e))?,
                RecordType::SOA,
            ));
        let wire = notify.to_vec().map_err(|e| failed(&e))?;
        let socket = UdpSocket::bind((Server::Ns1.ip(), 0)).map_err(|e| failed(&e))?;
        socket
            .send_to(&wire, self.addr(server))
            .map(drop)
            .map_err(|e| failed(&e))
    }

    /// Makes `server` transfer `zone` from the primary now, whatever its
    /// refresh timers say (`rndc retransfer`).
    pub fn retransfer(&self, server: Server, zone: &str) -> Result<(), String> {
        self.rndc(server, &["retransfer", zone]).map(drop)
    }

    /// What `server` says of `zone`'s state (`rndc zonestatus`: serial,
    /// refresh and expiry times, a transfer running), to name why it lags.
    fn zone_status(&self, server: Server, zone: &str) -> String {
        self.rndc(server, &["zonestatus", zone])
            .unwrap_or_else(|error| error)
    }

    /// `rndc ARGS` on `server`'s control channel: its standard output, or
    /// an error with its standard error.
    fn rndc(&self, server: Server, args: &[&str]) -> Result<String, String> {
        let output = Command::new(tool("rndc", "bind9-utils"))
            .arg("-k")
            .arg(&self.rndc_key)
            .args(["-s", &server.ip().to_string()])
            .args(["-p", &self.control_port.to_string()])
            .args(args)
            .output()
            .map_err(|e| format!("rndc {}: {e}", args.join(" ")))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "rndc {} at {}: {} {}",
                args.join(" "),
                server.name(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// [`Bed::wait_replicated_with`] the bench's nudges: NOTIFY again after
    /// [`NOTIFY_AGAIN`], retransfer after [`RETRANSFER_AFTER`].
    pub fn wait_replicated(&self, timeout: Duration) -> Result<Nudged, String> {
        let nudges = Nudges {
            notify_after: Some(NOTIFY_AGAIN),
            retransfer_after: RETRANSFER_AFTER,
        };
        self.wait_replicated_with(timeout, nudges)
    }

    /// Waits until both secondaries serve the primary's serial of every
    /// zone; `Err` naming a straggler, and what the secondary says of the
    /// zone, after `timeout`, plus 2 ms a zone (the secondaries transfer
    /// 100,000 zones in minutes on two shared cores). The zones are read
    /// by sixteen threads, and every question is asked again until the
    /// deadline: one datagram lost under load is not a straggler.
    ///
    /// A secondary still behind is nudged, as `nudges` says: sent the
    /// zone's NOTIFY again (a NOTIFY lost), then made to transfer the zone
    /// (a NOTIFY that named set aside while a refresh of the zone it had
    /// started under load ran out, which leaves the zone to its SOA retry
    /// timer: 100,000-domain runs failed that way, NOTIFY again every 3 s
    /// for 500 s notwithstanding). `Ok` counts the nudges.
    pub fn wait_replicated_with(
        &self,
        timeout: Duration,
        nudges: Nudges,
    ) -> Result<Nudged, String> {
        let deadline =
            Instant::now() + timeout + Duration::from_millis(2) * self.zones.len() as u32;
        let serial = |server: Server, zone: &str| loop {
            match self.serial(server, zone) {
                Ok(serial) => return Ok(serial),
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        };
        // Until `server` serves `want` for `zone`: the nudges it took.
        let caught_up = |server: Server, zone: &str, want: u32| -> Result<Nudged, String> {
            let mut nudged = Nudged::default();
            let behind_since = Instant::now();
            let mut notify = nudges.notify_after.map(|after| behind_since + after);
            let mut retransfer = behind_since + nudges.retransfer_after;
            loop {
                let now = Instant::now();
                match serial(server, zone) {
                    Ok(seen) if seen == want => return Ok(nudged),
                    seen if now >= deadline => {
                        return Err(format!(
                            "{} still serves {seen:?} for {zone}, the primary {want}, after {} NOTIFY(s) and {} retransfer(s) of the zone; it says:\n{}",
                            server.name(),
                            nudged.notifies,
                            nudged.retransfers,
                            self.zone_status(server, zone).trim_end()
                        ))
                    }
                    _ if now >= retransfer => {
                        self.retransfer(server, zone)?;
                        nudged.retransfers += 1;
                        retransfer = now + nudges.retransfer_after;
                    }
                    _ if notify.is_some_and(|at| now >= at) => {
                        self.notify(server, zone)?;
                        nudged.notifies += 1;
                        notify = nudges.notify_after.map(|after| now + after);
                    }
                    _ => thread::sleep(Duration::from_millis(20)),
                }
            }
        };
        let replicated = |zones: &[String]| -> Result<Nudged, String> {
            let mut nudged = Nudged::default();
            for zone in zones {
                let want = serial(Server::Ns1, zone)?;
                for server in [Server::Ns2, Server::Ns3] {
                    nudged += caught_up(server, zone, want)?;
                }
            }
            Ok(nudged)
        };
        let share = self.zones.len().div_ceil(16).max(1);
        thread::scope(|scope| {
            let readers: Vec<_> = self
                .zones
                .chunks(share)
                .map(|zones| scope.spawn(move || replicated(zones)))
                .collect();
            readers
                .into_iter()
                .try_fold(Nudged::default(), |total, reader| {
                    let nudged = reader.join().expect("a replication reader panicked")?;
                    Ok(total + nudged)
                })
        })
    }
}

/// How [`Bed::wait_replicated_with`] nudges a secondary behind for a zone.
#[derive(Clone, Copy, Debug)]
pub struct Nudges {
    /// Send it the zone's NOTIFY again after this long behind, and again
    /// as long after each (never if `None`).
    pub notify_after: Option<Duration>,
    /// Make it transfer the zone after this long behind, and again as long
    /// after each.
    pub retransfer_after: Duration,
}

/// The nudges a wait for the secondaries gave, over all zones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nudged {
    pub notifies: usize,
    pub retransfers: usize,
}

impl std::ops::Add for Nudged {
    type Output = Nudged;

    fn add(self, other: Nudged) -> Nudged {
        Nudged {
            notifies: self.notifies + other.notifies,
            retransfers: self.retransfers + other.retransfers,
        }
    }
}

impl std::ops::AddAssign for Nudged {
    fn add_assign(&mut self, other: Nudged) {
        *self = *self + other;
    }
}

/// Requests counted by BIND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub queries: u64,
    pub updates: u64,
    pub per_server: HashMap<&'static str, u64>,
}

impl Counters {
    /// What happened between `before` and `self`.
    pub fn since(&self, before: &Counters) -> (u64, u64) {
        (
            self.queries.saturating_sub(before.queries),
            self.updates.saturating_sub(before.updates),
        )
    }

    /// The queries each server counted between `before` and `self`.
    pub fn per_server_since(&self, before: &Counters) -> HashMap<&'static str, u64> {
        let since = |(server, count): (&&'static str, &u64)| {
            let earlier = before.per_server.get(server).copied().unwrap_or(0);
            (*server, count.saturating_sub(earlier))
        };
        self.per_server.iter().map(since).collect()
    }
}

/// A server stopped by [`Bed::pause`]; continued on drop.
pub struct Paused<'a> {
    /// The bed outlives the guard: the PID is still its unreaped child's.
    _bed: &'a Bed,
    pid: libc::pid_t,
}

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the PID of the bed's child, not yet reaped.
        unsafe { libc::kill(self.pid, libc::SIGCONT) };
    }
}

/// One `named -g` process, stopped on drop.
struct Named {
    child: Child,
    log: PathBuf,
}

impl Named {
    fn spawn(conf: &Path, dir: &Path, addr: SocketAddr, threads: u32) -> Named {
        let log = dir.join("named.log");
        let log_file = fs::File::create(&log).expect("cannot create named.log");
        let child = Command::new(tool("named", "bind9"))
            .args(["-g", "-4", "-u", "root"])
            .args(["-n", &threads.to_string()])
            .arg("-c")
            .arg(conf)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start named for {addr}: {e}"));
        Named { child, log }
    }

    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut probe: impl FnMut() -> Result<(), String>,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "named exited ({status}) before it would {what}:\n{}",
                    self.tail()
                );
            }
            match probe() {
                Ok(()) => return,
                Err(why) if Instant::now() >= deadline => {
                    panic!(
                        "named did not {what} within {timeout:?}: {why}\n{}",
                        self.tail()
                    )
                }
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tsig-keygen -a hmac-sha256 NAME > file`, mode 0600.
fn keygen(file: &Path, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let output = Command::new(tool("tsig-keygen", "bind9"))
        .args(["-a", "hmac-sha256", name])
        .output()
        .expect("cannot run tsig-keygen");
    assert!(
        output.status.success(),
        "tsig-keygen failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    fs::write(file, &output.stdout).expect("cannot write the key file");
    fs::set_permissions(file, fs::Permissions::from_mode(0o600))
        .expect("cannot chmod the key file");
}

/// A minimal HTTP/1.0 GET for the statistics channel.
fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .ok_or_else(|| format!("{addr}: no HTTP body"))
}
