//! GSS-TSIG (RFC 3645) against a real MIT KDC and a real BIND, both started
//! here on loopback high ports with every file in a temp dir (see
//! ../shared/notes/gss-tsig.md for the recipe). Needs the `gssapi` feature
//! and the packages krb5-kdc krb5-admin-server krb5-user bind9.
#![cfg(feature = "gssapi")]

use crate::common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::bind::{Grant, NamedConf, Notify, Updates, ZoneConf, ZoneRole};
use common::relay::{Fault, Kind, Proto, Relay, Rule};
use common::run::{Kmsdns, Run};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const REALM: &str = "KMSDNS.TEST";
const OWNER: &str = "_vlmcs._tcp.corp.test.";

/// A port free on 127.0.0.1 for both TCP and UDP, below Linux's ephemeral
/// range: a port drawn from that range (binding port 0) can be taken by
/// any other process's client socket before the KDC or named binds it,
/// and the KDC then exits.
fn free_port() -> u16 {
    common::local::free_port(&[Ipv4Addr::LOCALHOST.into()])
}

fn wait_for_tcp(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited: {status}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} does not listen on {port}");
}

fn run(program: &str, args: &[&str], env: &[(&str, PathBuf)]) {
    let output = Process::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A KDC and a BIND serving corp.test (GSS-only grants) and open.test
/// (allow-update any), killed on drop.
struct Bed {
    dir: tempfile::TempDir,
    kdc: Option<Child>,
    named: Child,
    kdc_port: u16,
    dns_port: u16,
}

impl Bed {
    fn start() -> Bed {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path().to_path_buf();
        let kdc_port = free_port();
        let dns_port = free_port();
        let show = |p: &str| d.join(p).display().to_string();
        std::fs::write(
            d.join("krb5.conf"),
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n \
                 dns_canonicalize_hostname = false\n rdns = false\n udp_preference_limit = 1\n \
                 max_retries = 1\n kdc_timeout = 1000\n\
                 [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:{kdc_port}\n }}\n"
            ),
        )
        .expect("krb5.conf");
        std::fs::write(
            d.join("kdc.conf"),
            format!(
                "[kdcdefaults]\n kdc_ports = {kdc_port}\n kdc_tcp_ports = {kdc_port}\n\
                 [realms]\n {REALM} = {{\n  database_name = {}\n  key_stash_file = {}\n  \
                 acl_file = {}\n  kdc_ports = {kdc_port}\n  kdc_tcp_ports = {kdc_port}\n }}\n\
                 [logging]\n kdc = FILE:{}\n",
                show("principal"),
                show("stash"),
                show("kadm5.acl"),
                show("kdc.log")
            ),
        )
        .expect("kdc.conf");
        std::fs::write(d.join("kadm5.acl"), "").expect("acl");
        let env = [
            ("KRB5_CONFIG", d.join("krb5.conf")),
            ("KRB5_KDC_PROFILE", d.join("kdc.conf")),
        ];
        let password = format!(
            "{:x}{:x}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        );
        run(
            "kdb5_util",
            &["create", "-s", "-r", REALM, "-P", &password],
            &env,
        );
        for (principal, keytab) in [
            ("DNS/ns1.corp.test", "dns.keytab"),
            ("host/kms1.corp.test", "kms1.keytab"),
            ("host/other.corp.test", "other.keytab"),
        ] {
            run(
                "kadmin.local",
                &["-r", REALM, "-q", &format!("addprinc -randkey {principal}")],
                &env,
            );
            run(
                "kadmin.local",
                &[
                    "-r",
                    REALM,
                    "-q",
                    &format!("ktadd -k {} {principal}", show(keytab)),
                ],
                &env,
            );
        }
        let mut kdc = Process::new("krb5kdc")
            .args(["-n", "-r", REALM])
            .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("krb5kdc");
        wait_for_tcp(kdc_port, "krb5kdc", &mut kdc);

        let zone = |name: &str, extra: &str| {
            format!(
                "$TTL 300\n@ IN SOA ns1.corp.test. admin.{name}. 1 3600 600 86400 300\n\
                 @ IN NS ns1.corp.test.\n{extra}"
            )
        };
        std::fs::write(
            d.join("corp.test.db"),
            zone(
                "corp.test",
                "ns1 IN A 127.0.0.1\n_vlmcs._tcp IN SRV 5 5 1688 other-kms.example.\n_vlmcs._tcp IN TXT \"foreign\"\n",
            ),
        )
        .expect("zone");
        std::fs::write(d.join("open.test.db"), zone("open.test", "")).expect("zone");
        // corp.test takes only kms1's GSS-TSIG updates of the SRV RRset;
        // open.test takes anyone's, unsigned.
        let mut conf = NamedConf::new(&d, Ipv4Addr::LOCALHOST, dns_port, "kmsdns-gss-tsig");
        conf.gssapi_keytab = Some(d.join("dns.keytab"));
        let primary = |name: &str, updates| ZoneConf {
            name: name.to_string(),
            file: d.join(format!("{name}.db")),
            role: ZoneRole::Primary {
                updates,
                notify: Notify::NameServers,
            },
        };
        conf.zones.push(primary(
            "corp.test",
            Updates::Policy(vec![Grant {
                key: format!("host/kms1.corp.test@{REALM}"),
                name: OWNER.to_string(),
                rtype: RecordType::SRV,
            }]),
        ));
        conf.zones.push(primary("open.test", Updates::Anyone));
        conf.save(&d.join("named.conf")).expect("named.conf");
        let mut named = Process::new("named")
            .args(["-g", "-c"])
            .arg(d.join("named.conf"))
            .env("KRB5_CONFIG", d.join("krb5.conf"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("named.log")).expect("log"))
            .spawn()
            .expect("named (bind9)");
        wait_for_tcp(dns_port, "named", &mut named);
        // named listens before it has loaded its zones (SERVFAIL meanwhile).
        for zone in ["corp.test", "open.test"] {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let soa = Process::new("dig")
                    .args(["+short", "+tries=1", "+time=1", "-p", &dns_port.to_string()])
                    .args(["@127.0.0.1", zone, "SOA"])
                    .output()
                    .expect("dig");
                if !soa.stdout.is_empty() {
                    break;
                }
                assert!(Instant::now() < deadline, "named does not serve {zone}");
                thread::sleep(Duration::from_millis(20));
            }
        }
        Bed {
            dir,
            kdc: Some(kdc),
            named,
            kdc_port,
            dns_port,
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn stop_kdc(&mut self) {
        if let Some(mut kdc) = self.kdc.take() {
            let _ = kdc.kill();
            let _ = kdc.wait();
        }
    }

    /// A configuration publishing kms1 to `domain` with the `[domain]`
    /// options `options`.
    fn config(&self, domain: &str, options: &str) -> PathBuf {
        self.config_via(self.dns_addr(), domain, options)
    }

    /// [`Bed::config`] with `server` (a relay) as the domain's server.
    fn config_via(&self, server: SocketAddr, domain: &str, options: &str) -> PathBuf {
        let path = self.path("kmsdns.toml");
        std::fs::write(
            &path,
            format!(
                "publish-list = [\"{domain}\"]\n[[host]]\nname = \"kms1.corp.test\"\n\
                 [domain.\"{domain}\"]\nserver = \"{server}\"\n{options}\n"
            ),
        )
        .expect("config");
        path
    }

    /// Where named answers.
    fn dns_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.dns_port))
    }

    fn gss(&self, keytab: &str, principal: &str) -> String {
        format!(
            "auth = \"gss-tsig\"\nkeytab = \"{}\"\nprincipal = \"{principal}@{REALM}\"\n",
            self.path(keytab).display()
        )
    }

    /// kmsdns with the test bed's Kerberos configuration and an empty
    /// credential cache of its own.
    fn kmsdns(&self, config: &Path, args: &[&str]) -> Run {
        self.kmsdns_at(config, self.dns_port, args)
    }

    fn kmsdns_at(&self, config: &Path, dns_port: u16, args: &[&str]) -> Run {
        Kmsdns::new()
            .env("KRB5_CONFIG", self.path("krb5.conf"))
            .env(
                "KRB5CCNAME",
                format!("FILE:{}", self.path("ccache").display()),
            )
            .env_remove("KRB5_CLIENT_KTNAME")
            .args(["-c", config.to_str().expect("UTF-8")])
            .args(["--nameserver", &format!("127.0.0.1:{}", self.dns_port)])
            .args(["--dns-port", &dns_port.to_string()])
            .args(args)
            .timeout(Duration::from_secs(60))
            .run()
    }

    fn dig(&self, rtype: &str) -> Vec<String> {
        let output = Process::new("dig")
            .args([
                "+short",
                "-p",
                &self.dns_port.to_string(),
                "@127.0.0.1",
                OWNER,
                rtype,
            ])
            .output()
            .expect("dig");
        let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        self.stop_kdc();
        let _ = self.named.kill();
        let _ = self.named.wait();
    }
}

const FOREIGN: &str = "5 5 1688 other-kms.example.";
const KMS1: &str = "0 0 1688 kms1.corp.test.";

#[test]
fn publish_again_and_remove_with_a_host_keytab() {
    let bed = Bed::start();
    let config = bed.config("corp.test", &bed.gss("kms1.keytab", "host/kms1.corp.test"));

    let plan = bed.kmsdns(&config, &["plan"]);
    assert_eq!(plan.status, 1, "plan reads unsigned:\n{}", plan.text());

    let first = bed.kmsdns(&config, &["publish"]);
    assert_eq!(first.status, 0, "publish:\n{}", first.text());
    assert_eq!(bed.dig("SRV"), vec![KMS1.to_owned(), FOREIGN.to_owned()]);

    let second = bed.kmsdns(&config, &["publish"]);
    assert_eq!(second.status, 0, "second publish:\n{}", second.text());
    assert_eq!(bed.dig("SRV"), vec![KMS1.to_owned(), FOREIGN.to_owned()]);

    let removed = bed.kmsdns(&config, &["remove"]);
    assert_eq!(removed.status, 0, "remove:\n{}", removed.text());
    assert_eq!(bed.dig("SRV"), vec![FOREIGN.to_owned()]);
    assert_eq!(bed.dig("TXT"), vec!["\"foreign\"".to_owned()]);
}

#[test]
fn refusals_and_missing_credentials_are_named() {
    let mut bed = Bed::start();

    // Unsigned: REFUSED.
    let config = bed.config("corp.test", "");
    let unsigned = bed.kmsdns(&config, &["publish"]);
    assert_eq!(unsigned.status, 2, "{}", unsigned.text());
    assert!(unsigned.text().contains("refused"), "{}", unsigned.text());

    // Signed by a principal that is not granted: REFUSED naming it.
    let config = bed.config(
        "corp.test",
        &bed.gss("other.keytab", "host/other.corp.test"),
    );
    let other = bed.kmsdns(&config, &["publish"]);
    assert_eq!(other.status, 2, "{}", other.text());
    assert!(
        other.text().contains("refused")
            && other.text().contains("host/other.corp.test@KMSDNS.TEST"),
        "{}",
        other.text()
    );

    // No keytab and an empty credential cache.
    let config = bed.config(
        "corp.test",
        &format!("auth = \"gss-tsig\"\nprincipal = \"host/kms1.corp.test@{REALM}\"\n"),
    );
    let none = bed.kmsdns(&config, &["publish"]);
    assert_eq!(none.status, 2, "{}", none.text());
    assert!(
        none.text().contains("no Kerberos credentials") && none.text().contains("kinit"),
        "{}",
        none.text()
    );

    // The KDC is down.
    bed.stop_kdc();
    let config = bed.config("corp.test", &bed.gss("kms1.keytab", "host/kms1.corp.test"));
    let down = bed.kmsdns(&config, &["publish"]);
    assert_eq!(down.status, 2, "{}", down.text());
    assert!(
        down.text().contains("KDC is unreachable"),
        "{}",
        down.text()
    );
    let _ = bed.kdc_port;
}

/// A TCP relay to BIND that flips the last byte of the MAC of every UPDATE
/// reply (opcode 5): the MIC no longer verifies.
fn tampering_relay(upstream: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("relay");
    let port = listener.local_addr().expect("addr").port();
    // Reads go over UDP: relayed untouched.
    let udp = UdpSocket::bind(("127.0.0.1", port)).expect("UDP relay");
    thread::spawn(move || {
        let mut buffer = [0u8; 65_535];
        while let Ok((length, client)) = udp.recv_from(&mut buffer) {
            let Ok(upstream_socket) = UdpSocket::bind("127.0.0.1:0") else {
                continue;
            };
            let _ = upstream_socket.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = upstream_socket.send_to(&buffer[..length], ("127.0.0.1", upstream));
            let mut reply = [0u8; 65_535];
            if let Ok(got) = upstream_socket.recv(&mut reply) {
                let _ = udp.send_to(&reply[..got], client);
            }
        }
    });
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            thread::spawn(move || relay_one(client, upstream));
        }
    });
    port
}

fn read_frame(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).ok()?;
    let mut frame = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut frame).ok()?;
    Some(frame)
}

fn write_frame(stream: &mut TcpStream, frame: &[u8]) -> Option<()> {
    let length = u16::try_from(frame.len()).ok()?.to_be_bytes();
    stream.write_all(&length).ok()?;
    stream.write_all(frame).ok()
}

fn relay_one(mut client: TcpStream, upstream: u16) -> Option<()> {
    let mut server = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], upstream))).ok()?;
    loop {
        let request = read_frame(&mut client)?;
        write_frame(&mut server, &request)?;
        let mut reply = read_frame(&mut server)?;
        let opcode = (reply.get(2)? >> 3) & 0x0f;
        // TSIG RDATA ends: MAC, original ID (2), error (2), other len (2).
        if opcode == 5 && reply.len() > 8 {
            let at = reply.len() - 7;
            reply[at] ^= 0xff;
        }
        write_frame(&mut client, &reply)?;
    }
}

#[test]
fn a_reply_with_a_bad_mic_is_rejected() {
    let bed = Bed::start();
    let relay = tampering_relay(bed.dns_port);
    let path = bed.path("tampered.toml");
    std::fs::write(
        &path,
        format!(
            "publish-list = [\"corp.test\"]\n[[host]]\nname = \"kms1.corp.test\"\n\
             [domain.\"corp.test\"]\nserver = \"127.0.0.1:{relay}\"\n{}",
            bed.gss("kms1.keytab", "host/kms1.corp.test")
        ),
    )
    .expect("config");
    // The probe reports the reply as unverifiable.
    let probe = bed.kmsdns(&path, &["updates", "--live"]);
    assert!(
        probe.text().contains("fails TSIG verification")
            && probe.text().contains("MIC does not verify"),
        "{}",
        probe.text()
    );
    // publish does not believe the reply, and re-reads to learn the outcome.
    let run = bed.kmsdns(&path, &["publish"]);
    assert!(
        run.text().contains("no usable reply came"),
        "{}",
        run.text()
    );
}

#[test]
fn the_updates_probe_tells_gss_only_from_open_zones() {
    let bed = Bed::start();
    let config = bed.config("corp.test", &bed.gss("kms1.keytab", "host/kms1.corp.test"));
    let gss_only = bed.kmsdns(&config, &["updates", "--live"]);
    assert_eq!(gss_only.status, 0, "GSS-only zone:\n{}", gss_only.text());

    let config = bed.config("open.test", "");
    let open = bed.kmsdns(&config, &["updates", "--live"]);
    assert_eq!(open.status, 2, "allow-update any:\n{}", open.text());
    assert!(open.text().contains("unsigned"), "{}", open.text());
}

//------------ forged unsigned refusals, through the relay -----------------

/// The SRV records of corp.test after publish and after remove.
const PUBLISHED: [&str; 2] = [KMS1, FOREIGN];

/// The outcome kmsdns's JSON reports for the one domain.
fn outcome(run: &Run) -> String {
    run.json::<serde_json::Value>()["details"]["domains"][0]["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A relay in front of the bed's named, and a configuration of corp.test
/// signed as kms1 whose server is the relay.
fn relayed(bed: &Bed) -> (Relay, PathBuf) {
    let relay = Relay::start(bed.dns_addr());
    let config = bed.config_via(
        relay.addr(),
        "corp.test",
        &bed.gss("kms1.keytab", "host/kms1.corp.test"),
    );
    (relay, config)
}

/// Publishes and removes corp.test through the relay with `args`, with
/// `fault` (given a REFUSED, then a SERVFAIL) on every UPDATE: each run
/// must exit 0, be reported applied, have sent one UPDATE (over TCP) that
/// reached BIND, and leave the planned records; `more(run, case)` asserts
/// the rest.
fn forged_changes(fault: fn(ResponseCode) -> Fault, args: &[&str], more: impl Fn(&Run, &str)) {
    let bed = Bed::start();
    let (relay, config) = relayed(&bed);
    for rcode in [ResponseCode::Refused, ResponseCode::ServFail] {
        for (command, after) in [("publish", &PUBLISHED[..]), ("remove", &[FOREIGN][..])] {
            relay.script(vec![Rule::new(fault(rcode)).updates()]);
            let mut all = args.to_vec();
            all.extend(["--format", "json", command]);
            let run = bed.kmsdns(&config, &all);
            let case = format!(
                "{command}, {:?}:\n{run}\n--- relay ---\n{}",
                fault(rcode),
                relay.log()
            );
            assert_eq!(bed.dig("SRV"), after, "{case}");
            assert_eq!(run.status, 0, "{case}");
            assert_eq!(outcome(&run), "applied", "{case}");
            // Sent once: an unverified reply is no reason to send again.
            assert_eq!(relay.received_over(Kind::Update, Proto::Tcp), 1, "{case}");
            assert_eq!(relay.forwarded(Kind::Update), 1, "{case}");
            more(&run, &case);
        }
    }
}

/// Issue 16: a forged unsigned REFUSED or SERVFAIL arriving on the
/// UPDATE's TCP connection before BIND's signed reply is set aside, and
/// BIND's verified NOERROR is the answer: never "refused", nor "no usable
/// reply". (GSS-TSIG updates always go over TCP.)
#[test]
fn a_forged_unsigned_refusal_before_the_signed_reply_is_set_aside() {
    forged_changes(Fault::ForgedFirst, &["-v"], |run, case| {
        assert!(!run.text().contains("no usable reply"), "{case}");
        assert!(
            run.stderr.contains("(1 unverified reply set aside)"),
            "-v counts the forged reply set aside: {case}"
        );
    });
}

/// Issue 16: when the only reply to a signed UPDATE is a forged unsigned
/// refusal (BIND's signed reply dropped on the way), kmsdns waits out the
/// attempt for a verified one, then does not take the refusal as BIND's
/// word: it reads the zone back and reports what it holds. BIND applied
/// the change, so it is reported applied, with the "no usable reply"
/// wording.
#[test]
fn a_forged_unsigned_refusal_in_place_of_the_signed_reply_is_read_back() {
    forged_changes(Fault::ForgedInstead, &["--timeout", "1s"], |run, case| {
        assert!(
            run.stdout
                .contains("no usable reply came, but the primary serves the change"),
            "{case}"
        );
    });
}

/// Issue 16: a forged echo of the request (its own TSIG copied into a
/// REFUSED or SERVFAIL, the form of Samba's unsigned error replies) ahead
/// of BIND's signed reply ends the wait, as Samba's own echo must; but it
/// is never taken as BIND's refusal: the zone is read back, BIND applied
/// the change, and it is reported applied, "no usable reply".
#[test]
fn a_forged_echo_of_the_request_is_read_back_not_believed() {
    forged_changes(Fault::EchoFirst, &["-v"], |run, case| {
        assert!(
            run.stderr
                .contains("by echoing the request with its own TSIG"),
            "{case}"
        );
        assert!(
            run.stdout
                .contains("no usable reply came, but the primary serves the change"),
            "{case}"
        );
    });
}

/// Issue 16: a forged unsigned REFUSED when BIND never got the UPDATE (the
/// relay answers in its place): the zone is read back, is unchanged, and
/// the failure says the reply was not signed, never that BIND refused the
/// principal. Exit 2.
#[test]
fn a_forged_unsigned_refusal_of_an_update_never_sent_is_not_the_servers_refusal() {
    let bed = Bed::start();
    let (relay, config) = relayed(&bed);
    relay.script(vec![
        Rule::new(Fault::Rcode(ResponseCode::Refused)).updates()
    ]);
    let run = bed.kmsdns(&config, &["--timeout", "1s", "--format", "json", "publish"]);
    let case = format!("{run}\n--- relay ---\n{}", relay.log());
    assert_eq!(bed.dig("SRV"), vec![FOREIGN.to_owned()], "{case}");
    assert_eq!(relay.forwarded(Kind::Update), 0, "{case}");
    assert_eq!(run.status, 2, "{case}");
    assert_ne!(outcome(&run), "applied", "{case}");
    assert!(
        run.stdout
            .contains("the reply to a signed update is not signed (it said Query Refused)"),
        "{case}"
    );
    // Never BIND's refusal of the principal.
    assert!(!run.stdout.contains("refused the update"), "{case}");
}
