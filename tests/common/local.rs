//! What the test bed and the scale benchmark both need from this machine:
//! loopback addresses, free ports below the ephemeral range, system tools,
//! random numbers, one blocking DNS query.
//!
//! `tests/common/bind.rs` uses it as `super::local`; the scale benchmark
//! (`benches/scale/main.rs`) includes this file by `#[path]` for its
//! `bed.rs`, so it depends on nothing else in `tests/common`: only std and
//! hickory-proto.
//!
//! The DNS helpers speak DNS with hickory-proto messages over a plain UDP
//! socket: what they report never goes through kmsdns code, never follows
//! referrals, and works the same from synchronous and `#[tokio::test]`
//! code.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

/// Ports are drawn below 32768, where Linux's ephemeral range starts, so no
/// client socket of another process can hold one by chance.
const PORT_RANGE: std::ops::Range<u16> = 20000..32000;

//------------ DNS -----------------------------------------------------------

/// Sends one query (RD clear) over UDP to `server` and returns the response
/// with the matching id, whatever its RCODE.
pub fn query_udp(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    class: DNSClass,
    timeout: Duration,
) -> io::Result<Message> {
    let qname = fqdn(name)?;
    let id = random_u64() as u16;
    let mut query = Query::query(qname, rtype);
    query.set_query_class(class);
    let mut request = Message::new();
    request
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false)
        .add_query(query);
    let wire = request.to_vec().map_err(io::Error::other)?;

    // Connected, so an ICMP port unreachable surfaces as ConnectionRefused.
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    socket.connect(server)?;
    socket.send(&wire)?;
    let deadline = Instant::now() + timeout;
    let mut buffer = vec![0; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer from {server} within {timeout:?}"),
            ));
        }
        socket.set_read_timeout(Some(left))?;
        let len = match socket.recv(&mut buffer) {
            Ok(len) => len,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(err) => return Err(err),
        };
        // Stray or garbled datagrams are skipped, not taken for the answer.
        match Message::from_vec(&buffer[..len]) {
            Ok(response)
                if response.id() == id && response.message_type() == MessageType::Response =>
            {
                return Ok(response)
            }
            _ => continue,
        }
    }
}

/// `name` as an absolute domain name.
pub fn fqdn(name: &str) -> io::Result<Name> {
    let mut parsed = Name::from_ascii(name)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, format!("{name:?}: {err}")))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// The SOA serial of `zone` at `server`, asked in class IN; `Err` (starting
/// `SOA <zone>:`) without an authoritative NOERROR answer carrying one.
pub fn soa_serial(server: SocketAddr, zone: &str, timeout: Duration) -> Result<u32, String> {
    let response = query_udp(server, zone, RecordType::SOA, DNSClass::IN, timeout)
        .map_err(|err| format!("SOA {zone}: {err}"))?;
    soa_serial_of(&response).map_err(|why| format!("SOA {zone}: {why}"))
}

/// The serial of an authoritative NOERROR answer to a SOA query.
pub fn soa_serial_of(response: &Message) -> Result<u32, String> {
    if response.response_code() != ResponseCode::NoError {
        return Err(format!("rcode {}", response.response_code()));
    }
    if !response.authoritative() {
        return Err("not authoritative (aa clear)".to_string());
    }
    response
        .answers()
        .iter()
        .find_map(|record| match record.data() {
            RData::SOA(soa) => Some(soa.serial()),
            _ => None,
        })
        .ok_or_else(|| "no SOA in the answer".to_string())
}

/// The `version.bind CH TXT` string of `server`, asked once with
/// `timeout`: each BIND instance started here answers with a token of its
/// own, which tells it from another named that holds the same address and
/// port.
pub fn version(server: SocketAddr, timeout: Duration) -> Result<String, String> {
    chaos_txt(server, "version.bind", timeout)
}

/// A `CH TXT` string of `server`, such as `id.server` or `version.bind`,
/// asked once with `timeout`.
pub fn chaos_txt(server: SocketAddr, name: &str, timeout: Duration) -> Result<String, String> {
    let response = query_udp(server, name, RecordType::TXT, DNSClass::CH, timeout)
        .map_err(|err| err.to_string())?;
    response
        .answers()
        .iter()
        .find_map(|record| match record.data() {
            RData::TXT(txt) => Some(
                txt.txt_data()
                    .iter()
                    .map(|part| String::from_utf8_lossy(part))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .ok_or_else(|| format!("no TXT for {name} ({})", response.response_code()))
}

//------------ The machine ---------------------------------------------------

/// Finds a port free for UDP and TCP on all of `ips`, drawn at random from
/// 20000..32000. Two nameds on one address and port do not fail (they use
/// SO_REUSEPORT and share the queries), so a taken port must be seen first.
pub fn free_port(ips: &[IpAddr]) -> u16 {
    for _ in 0..100 {
        let span = PORT_RANGE.end - PORT_RANGE.start;
        let port = PORT_RANGE.start + (random_u64() % u64::from(span)) as u16;
        let free = ips.iter().all(|&ip| {
            UdpSocket::bind((ip, port)).is_ok() && TcpListener::bind((ip, port)).is_ok()
        });
        if free {
            return port;
        }
    }
    panic!("no free port in {PORT_RANGE:?} on {ips:?}")
}

/// A random number mixing the process id, a counter and the clock, so
/// threads and concurrent processes draw different ports, ids and tokens.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.finish()
}

/// Puts `ip` on `lo` unless it is already there: named listens only on
/// addresses of an interface, and `lo` has just 127.0.0.1. Panics, saying
/// root is needed, when `ip addr replace` fails.
pub fn ensure_loopback(ip: IpAddr) {
    // Each address is checked once a process: many test beds start in one.
    static DONE: Mutex<Option<HashSet<IpAddr>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let done = done.get_or_insert_with(HashSet::new);
    if done.contains(&ip) {
        return;
    }
    let ip_tool = tool("ip", "iproute2");
    let shown = Command::new(&ip_tool)
        .args(["-o", "addr", "show", "dev", "lo"])
        .output()
        .unwrap_or_else(|err| panic!("cannot run ip addr show: {err}"));
    let present = String::from_utf8_lossy(&shown.stdout)
        .split_whitespace()
        .any(|word| word.split('/').next() == Some(&ip.to_string()));
    if !present {
        let prefix = if ip.is_ipv4() { 32 } else { 128 };
        let output = Command::new(&ip_tool)
            .args(["addr", "replace", &format!("{ip}/{prefix}"), "dev", "lo"])
            .output()
            .unwrap_or_else(|err| panic!("cannot run ip addr replace: {err}"));
        assert!(
            output.status.success(),
            "`ip addr replace {ip}/{prefix} dev lo` failed ({}): {}\
             The BIND test bed and the scale benchmark need root to put their \
             server addresses on lo.",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    done.insert(ip);
}

/// The absolute path of a system tool, searched in PATH and the sbin
/// directories (often missing from a user's PATH). Panics if absent, naming
/// the `package` to install: the tests need BIND and never skip.
pub fn tool(name: &str, package: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!(
            "`{name}` not found: install {package}. The integration tests and the \
             scale benchmark run a real BIND 9 and never skip (Debian/Ubuntu: apt-get \
             install bind9 bind9-utils bind9-dnsutils iproute2; the benchmark's \
             ceiling also wants dnsperf)."
        )
    })
}

/// The absolute path of a system tool, or `None` if it is not installed
/// (for what is optional, such as dnsperf in the benchmark).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path_var).collect();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
