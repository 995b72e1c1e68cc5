//! A fault-injecting DNS relay on loopback, between kmsdns and a real BIND.
//!
//! [`Relay::start`] listens for DNS over UDP and TCP (RFC 1035 §4.2) on one
//! loopback address and port and forwards every message to a backend (a
//! test bed's primary), one backend exchange per message. Per test, a
//! script of [`Rule`]s says what goes wrong: the first rule that matches a
//! message (by opcode, question name or type, transport) and has uses left
//! decides its [`Fault`]; a message no rule matches passes through
//! untouched. The faults are those of a hostile or broken network: lost
//! replies, late replies, truncation, spoofed and duplicated replies, error
//! rcodes, cut and garbage datagrams, TCP connections closed mid-message or
//! never answered.
//!
//! The relay counts what it received and what it forwarded per opcode, so a
//! test can assert how many UPDATEs reached BIND, and wait for the n-th one
//! ([`Relay::wait_forwarded`]). Every decision is logged
//! ([`Relay::log`]) for the message of a failing assertion.
//!
//! The relay owns a small tokio runtime, so synchronous tests use it as they
//! use the test bed; dropping the [`Relay`] stops it (every socket closes,
//! held replies are never sent).
//!
//! Spoofed replies (wrong ID, another question) are NOERROR and carry an
//! SRV record pointing at `spoofed.invalid.` for SRV questions, so a client
//! that took one would show it, or would report an update as applied that
//! BIND refused.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::runtime::Runtime;

/// How long the relay waits for the backend's reply to one message.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(5);

/// The target of every spoofed SRV record.
pub const SPOOFED_TARGET: &str = "spoofed.invalid.";

/// The question name of a reply about another question.
pub const SPOOFED_NAME: &str = "_vlmcs._tcp.spoofed.invalid.";

/// What kind of message a request is, from its opcode (RFC 6895 §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// OPCODE 0.
    Query,
    /// OPCODE 5 (RFC 2136).
    Update,
    /// Anything else (NOTIFY from BIND to a relay listed in an NS set).
    Other,
}

/// The transport a message came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Udp,
    Tcp,
}

/// What goes wrong with one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forwarded untouched: with [`Rule::times`], lets a later rule apply
    /// only from the n+1-th matching message on.
    Pass,
    /// The request never reaches the backend, and nothing is answered.
    DropRequest,
    /// The request reaches the backend; its reply is lost.
    DropReply,
    /// The request reaches the backend; its reply is held this long.
    Delay(Duration),
    /// UDP only: the client gets a reply with TC set, the question and no
    /// records (RFC 2181 §9), so it must ask again over TCP. With
    /// `forward`, the backend got the request first (as a server whose
    /// reply was too large: an UPDATE is then already applied).
    Truncate { forward: bool },
    /// Forwarded; a NOERROR reply with another message ID comes first,
    /// then the backend's.
    WrongIdFirst,
    /// Forwarded; a NOERROR reply with the right ID about another
    /// question (another zone, for an UPDATE) comes first, then the
    /// backend's.
    OtherQuestionFirst,
    /// Forwarded; the backend's reply is sent twice.
    Duplicate,
    /// The network duplicated the request: the backend gets it twice, one
    /// after the other, and both replies are sent.
    DuplicateRequest,
    /// Not forwarded; the relay answers this rcode itself.
    Rcode(ResponseCode),
    /// Forwarded; only the first `n` bytes of the reply are sent (its ID
    /// intact, TC clear): a datagram cut short.
    Cut(usize),
    /// Forwarded; a datagram of garbage (not our ID) comes first, then the
    /// backend's reply.
    GarbageFirst,
    /// Forwarded; the reply is only garbage with the request's ID.
    GarbageWithId,
    /// TCP only: forwarded; the length and half the reply are written, then
    /// the connection is closed.
    CloseMidMessage,
    /// Forwarded; an unsigned reply with the request's ID, its question and
    /// this rcode comes first (someone on the path who saw the request),
    /// then the backend's.
    ForgedFirst(ResponseCode),
    /// Forwarded; the request itself comes back first, as a reply with
    /// this rcode (QR set, every record kept, its TSIG unchanged: the form
    /// of Samba's error replies, sent by someone who saw the request),
    /// then the backend's.
    EchoFirst(ResponseCode),
    /// Forwarded; a bare 12-byte header with the request's ID and opcode,
    /// this rcode and no question comes first, then the backend's.
    QuestionlessFirst(ResponseCode),
    /// Not forwarded; a NOERROR that echoes the question but whose answer
    /// holds only another name's SRV record.
    OtherOwnerAnswer,
    /// Forwarded (the backend acts on it), but the client gets only an
    /// unsigned reply with this rcode in place of the backend's.
    ForgedInstead(ResponseCode),
    /// TCP only: the connection is accepted and the request read, but not
    /// forwarded and never answered; the connection stays open.
    NeverAnswer,
    /// Held until the test calls [`Relay::open_gate`], then forwarded
    /// and its reply sent: for a test that changes the zone between a
    /// client's read and its update, as another client would.
    Gate,
    /// Forwarded without its prerequisite section (an unsigned UPDATE):
    /// the backend then acts as a server that ignores prerequisites
    /// (RFC 2136 §3.2), which must never be taken for one that honours them.
    IgnorePrerequisites,
    /// Forwarded; the first record of the reply's answer section gets this
    /// TTL: an RRset whose records disagree, as BIND never serves one.
    FirstAnswerTtl(u32),
}

impl Fault {
    /// Whether the fault makes sense on `proto`.
    fn applies_to(&self, proto: Proto) -> bool {
        match self {
            Fault::Truncate { .. } => proto == Proto::Udp,
            Fault::CloseMidMessage | Fault::NeverAnswer => proto == Proto::Tcp,
            _ => true,
        }
    }
}

/// When a [`Fault`] applies: every condition given must hold.
#[derive(Clone, Debug)]
pub struct Rule {
    fault: Fault,
    kind: Option<Kind>,
    name: Option<Name>,
    under: Option<Name>,
    qtype: Option<RecordType>,
    proto: Option<Proto>,
    times: Option<usize>,
}

impl Rule {
    /// `fault` for every message (of a transport it applies to), forever.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            kind: None,
            name: None,
            under: None,
            qtype: None,
            proto: None,
            times: None,
        }
    }

    /// Only UPDATE messages.
    pub fn updates(mut self) -> Rule {
        self.kind = Some(Kind::Update);
        self
    }

    /// Only queries (OPCODE 0).
    pub fn queries(mut self) -> Rule {
        self.kind = Some(Kind::Query);
        self
    }

    /// Only messages whose question (an UPDATE's zone) is `name`.
    pub fn name(mut self, name: &str) -> Rule {
        self.name = Some(absolute(name));
        self
    }

    /// Only messages whose question is `zone` or below it.
    pub fn under(mut self, zone: &str) -> Rule {
        self.under = Some(absolute(zone));
        self
    }

    /// Only questions of type `rtype`.
    pub fn qtype(mut self, rtype: RecordType) -> Rule {
        self.qtype = Some(rtype);
        self
    }

    /// Only over UDP.
    pub fn udp(mut self) -> Rule {
        self.proto = Some(Proto::Udp);
        self
    }

    /// Only over TCP.
    pub fn tcp(mut self) -> Rule {
        self.proto = Some(Proto::Tcp);
        self
    }

    /// Only the first `n` matching messages; later ones pass to the next
    /// rule.
    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    fn matches(&self, request: &Request, proto: Proto) -> bool {
        self.times != Some(0)
            && self.fault.applies_to(proto)
            && self.proto.is_none_or(|p| p == proto)
            && self.kind.is_none_or(|k| k == request.kind)
            && self.qtype.is_none_or(|t| Some(t) == request.qtype)
            && self
                .name
                .as_ref()
                .is_none_or(|n| request.name.as_ref() == Some(n))
            && self
                .under
                .as_ref()
                .is_none_or(|zone| request.name.as_ref().is_some_and(|n| zone.zone_of(n)))
    }
}

fn absolute(name: &str) -> Name {
    let mut name =
        Name::from_ascii(name).unwrap_or_else(|err| panic!("relay rule name {name:?}: {err}"));
    name.set_fqdn(true);
    name
}

/// A request as the relay understood it.
struct Request {
    bytes: Vec<u8>,
    id: u16,
    kind: Kind,
    /// The parsed message, when it parses.
    message: Option<Message>,
    name: Option<Name>,
    qtype: Option<RecordType>,
}

impl Request {
    fn parse(bytes: Vec<u8>) -> Request {
        let id = match bytes.as_slice() {
            [a, b, ..] => u16::from_be_bytes([*a, *b]),
            _ => 0,
        };
        // OPCODE: bits 3-6 of the third byte (RFC 1035 §4.1.1).
        let kind = match bytes.get(2).map(|flags| (flags >> 3) & 0x0f) {
            Some(0) => Kind::Query,
            Some(5) => Kind::Update,
            _ => Kind::Other,
        };
        let message = Message::from_vec(&bytes).ok();
        let question = message.as_ref().and_then(|m| m.queries().first().cloned());
        Request {
            id,
            kind,
            name: question.as_ref().map(|q| q.name().clone()),
            qtype: question.as_ref().map(Query::query_type),
            message,
            bytes,
        }
    }

    /// A reply to this request built by the relay: same ID, opcode, RD and
    /// question (or zone), with `rcode`.
    fn reply(&self, id: u16, rcode: ResponseCode) -> Message {
        let mut reply = Message::new();
        reply
            .set_id(id)
            .set_message_type(MessageType::Response)
            .set_response_code(rcode);
        if let Some(request) = &self.message {
            reply
                .set_op_code(request.op_code())
                .set_recursion_desired(request.recursion_desired())
                .add_queries(request.queries().to_vec());
        }
        reply
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .name
            .as_ref()
            .map_or_else(|| "?".to_string(), ToString::to_string);
        let qtype = self
            .qtype
            .map_or_else(|| "?".to_string(), |t| t.to_string());
        write!(f, "{:?} {name} {qtype} id {}", self.kind, self.id)
    }
}

/// Counts per kind of message.
#[derive(Default)]
struct Counters {
    received: HashMap<(Kind, Proto), usize>,
    forwarded: HashMap<Kind, usize>,
    answered: HashMap<Kind, usize>,
    /// UDP messages received and not yet done with (answered, held or
    /// dropped), and the most there were at once.
    in_flight: usize,
    most_in_flight: usize,
}

/// What the relay's tasks share with the test.
struct Shared {
    backend: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    counters: Mutex<Counters>,
    changed: Condvar,
    log: Mutex<Vec<String>>,
    started: Instant,
    /// Open (true) lets requests held by [`Fault::Gate`] go on.
    gate: tokio::sync::watch::Sender<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn note(&self, line: String) {
        let at = self.started.elapsed().as_millis();
        lock(&self.log).push(format!("{at:>6} ms  {line}"));
    }

    fn count(&self, update: impl FnOnce(&mut Counters)) {
        update(&mut lock(&self.counters));
        self.changed.notify_all();
    }

    /// The fault for `request`, using up one of its rule's times.
    fn pick(&self, request: &Request, proto: Proto) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let rule = rules.iter_mut().find(|rule| rule.matches(request, proto))?;
        if let Some(times) = &mut rule.times {
            *times -= 1;
        }
        Some(rule.fault.clone())
    }
}

/// What the relay does after deciding, in order.
enum Step {
    Send(Vec<u8>),
    Wait(Duration),
    /// TCP: write the length and the first half, then close.
    SendHalfAndClose(Vec<u8>),
    /// TCP: never answer, keep the connection open.
    Hold,
}

/// A running relay; stops when dropped.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<Runtime>,
}

impl Relay {
    /// A relay to `backend` on 127.0.0.1 and a port free for UDP and TCP.
    pub fn start(backend: SocketAddr) -> Relay {
        let mut last = None;
        for _ in 0..20 {
            // The kernel picks a UDP port; TCP may already hold it.
            let udp = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .expect("relay: cannot bind UDP on 127.0.0.1");
            let addr = udp.local_addr().expect("relay: UDP address");
            match std::net::TcpListener::bind(addr) {
                Ok(tcp) => return Relay::run(udp, tcp, backend),
                Err(err) => last = Some(err),
            }
        }
        panic!("relay: no port free for both UDP and TCP on 127.0.0.1: {last:?}")
    }

    /// A relay to `backend` listening on `addr` (any 127/8 address: Linux
    /// routes the whole block to `lo`), for a test that needs a fixed port,
    /// such as a test bed's, so that the relay can stand in an NS set.
    pub fn start_on(addr: SocketAddr, backend: SocketAddr) -> io::Result<Relay> {
        let udp = std::net::UdpSocket::bind(addr)?;
        let tcp = std::net::TcpListener::bind(addr)?;
        Ok(Relay::run(udp, tcp, backend))
    }

    fn run(udp: std::net::UdpSocket, tcp: std::net::TcpListener, backend: SocketAddr) -> Relay {
        let addr = udp.local_addr().expect("relay: UDP address");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dns-relay")
            .enable_all()
            .build()
            .expect("relay: tokio runtime");
        let shared = Arc::new(Shared {
            backend,
            rules: Mutex::new(Vec::new()),
            counters: Mutex::new(Counters::default()),
            changed: Condvar::new(),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            gate: tokio::sync::watch::Sender::new(false),
        });
        {
            let _context = runtime.enter();
            udp.set_nonblocking(true).expect("relay: nonblocking UDP");
            tcp.set_nonblocking(true).expect("relay: nonblocking TCP");
            let udp = Arc::new(UdpSocket::from_std(udp).expect("relay: tokio UDP"));
            let tcp = TcpListener::from_std(tcp).expect("relay: tokio TCP");
            runtime.spawn(serve_udp(udp, Arc::clone(&shared)));
            runtime.spawn(serve_tcp(tcp, Arc::clone(&shared)));
        }
        Relay {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Where clients send: the relay's address and port.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the relay forwards to.
    pub fn backend(&self) -> SocketAddr {
        self.shared.backend
    }

    /// Adds a rule after the existing ones.
    pub fn push(&self, rule: Rule) {
        lock(&self.shared.rules).push(rule);
    }

    /// Replaces the script; the counters and the log start over, and the
    /// gate is closed.
    pub fn script(&self, rules: Vec<Rule>) {
        *lock(&self.shared.rules) = rules;
        self.shared.gate.send_replace(false);
        *lock(&self.shared.counters) = Counters::default();
        lock(&self.shared.log).clear();
    }

    /// Lets every request held by [`Fault::Gate`], and every later one,
    /// go on to the backend.
    pub fn open_gate(&self) {
        self.shared.note("gate opened".to_string());
        self.shared.gate.send_replace(true);
    }

    /// Removes every rule: everything passes through.
    pub fn clear(&self) {
        self.script(Vec::new());
    }

    /// Messages of `kind` received from clients, over both transports.
    pub fn received(&self, kind: Kind) -> usize {
        let counters = lock(&self.shared.counters);
        [Proto::Udp, Proto::Tcp]
            .iter()
            .map(|p| counters.received.get(&(kind, *p)).copied().unwrap_or(0))
            .sum()
    }

    /// Messages of `kind` received over `proto`.
    pub fn received_over(&self, kind: Kind, proto: Proto) -> usize {
        lock(&self.shared.counters)
            .received
            .get(&(kind, proto))
            .copied()
            .unwrap_or(0)
    }

    /// Messages of `kind` sent on to the backend (an UPDATE counted here
    /// reached BIND).
    pub fn forwarded(&self, kind: Kind) -> usize {
        lock(&self.shared.counters)
            .forwarded
            .get(&kind)
            .copied()
            .unwrap_or(0)
    }

    /// Backend replies received for messages of `kind`: once it equals
    /// [`Relay::forwarded`], BIND has finished with every one of them.
    pub fn answered(&self, kind: Kind) -> usize {
        lock(&self.shared.counters)
            .answered
            .get(&kind)
            .copied()
            .unwrap_or(0)
    }

    /// The most UDP messages the relay was handling at once (each from
    /// its arrival until the relay answered it or dropped it) since the
    /// last script: with a [`Fault::Delay`], how many requests a client
    /// had in flight to this server at once.
    pub fn most_in_flight(&self) -> usize {
        lock(&self.shared.counters).most_in_flight
    }

    /// Waits until at least `n` messages of `kind` were forwarded; false
    /// after `timeout`.
    pub fn wait_forwarded(&self, kind: Kind, n: usize, timeout: Duration) -> bool {
        self.wait(timeout, |c| {
            c.forwarded.get(&kind).copied().unwrap_or(0) >= n
        })
    }

    /// Waits until at least `n` messages of `kind` were received; false
    /// after `timeout`.
    pub fn wait_received(&self, kind: Kind, n: usize, timeout: Duration) -> bool {
        self.wait(timeout, |c| {
            [Proto::Udp, Proto::Tcp]
                .iter()
                .map(|p| c.received.get(&(kind, *p)).copied().unwrap_or(0))
                .sum::<usize>()
                >= n
        })
    }

    /// Waits until the backend answered every forwarded message of
    /// `kind`; false after `timeout`.
    pub fn wait_settled(&self, kind: Kind, timeout: Duration) -> bool {
        self.wait(timeout, |c| {
            c.answered.get(&kind).copied().unwrap_or(0)
                >= c.forwarded.get(&kind).copied().unwrap_or(0)
        })
    }

    fn wait(&self, timeout: Duration, done: impl Fn(&Counters) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut counters = lock(&self.shared.counters);
        loop {
            if done(&counters) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            counters = self
                .shared
                .changed
                .wait_timeout(counters, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// What the relay did, one line per message, since the last script.
    pub fn log(&self) -> String {
        lock(&self.shared.log).join("\n")
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Aborts every task: sockets close, held replies are never sent.
        // `shutdown_background` is also allowed inside an async context.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("addr", &self.addr)
            .field("backend", &self.shared.backend)
            .finish()
    }
}

//------------ Serving -------------------------------------------------------

async fn serve_udp(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buffer = vec![0u8; 65_535];
    loop {
        let (len, client) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            // An ICMP error from an earlier reply to a client that is gone.
            Err(_) => continue,
        };
        let request = Request::parse(buffer[..len].to_vec());
        let (socket, shared) = (Arc::clone(&socket), Arc::clone(&shared));
        tokio::spawn(async move {
            shared.count(|c| {
                *c.received.entry((request.kind, Proto::Udp)).or_default() += 1;
                c.in_flight += 1;
                c.most_in_flight = c.most_in_flight.max(c.in_flight);
            });
            let mut steps = decide(&shared, &request, Proto::Udp).await;
            let last = steps.pop();
            for step in steps {
                send(&socket, client, step).await;
            }
            // Done before the last step: once the client has the reply,
            // its next request may arrive before this task goes on. A
            // script in between started the counts over.
            shared.count(|c| c.in_flight = c.in_flight.saturating_sub(1));
            if let Some(step) = last {
                send(&socket, client, step).await;
            }
        });
    }
}

/// Takes one step of a UDP reply to `client`.
async fn send(socket: &UdpSocket, client: SocketAddr, step: Step) {
    match step {
        Step::Send(bytes) => {
            let _ = socket.send_to(&bytes, client).await;
        }
        Step::Wait(delay) => tokio::time::sleep(delay).await,
        Step::SendHalfAndClose(_) | Step::Hold => {}
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_connection(stream, Arc::clone(&shared)));
    }
}

/// One TCP connection: length-prefixed messages (RFC 1035 §4.2.2), one
/// after the other.
async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    loop {
        let Ok(bytes) = read_framed(&mut stream).await else {
            return;
        };
        let request = Request::parse(bytes);
        shared.count(|c| *c.received.entry((request.kind, Proto::Tcp)).or_default() += 1);
        for step in decide(&shared, &request, Proto::Tcp).await {
            match step {
                Step::Send(bytes) => {
                    if write_framed(&mut stream, &bytes).await.is_err() {
                        return;
                    }
                }
                Step::Wait(delay) => tokio::time::sleep(delay).await,
                Step::SendHalfAndClose(bytes) => {
                    let length = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
                    let mut partial = length.to_be_bytes().to_vec();
                    partial.extend_from_slice(&bytes[..bytes.len() / 2]);
                    let _ = stream.write_all(&partial).await;
                    let _ = stream.shutdown().await;
                    return;
                }
                Step::Hold => {
                    // Read (and ignore) until the client gives up.
                    let mut sink = [0u8; 512];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    return;
                }
            }
        }
    }
}

async fn read_framed(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await?;
    let mut bytes = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut bytes).await?;
    Ok(bytes)
}

async fn write_framed(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    let length = u16::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await
}

/// Picks the fault for `request` and turns it into steps, forwarding to
/// the backend when the fault needs the real reply.
async fn decide(shared: &Shared, request: &Request, proto: Proto) -> Vec<Step> {
    let fault = shared.pick(request, proto);
    shared.note(format!(
        "{proto:?} {request}: {}",
        fault
            .as_ref()
            .map_or_else(|| "pass".to_string(), |f| format!("{f:?}"))
    ));
    let forwarded = || async {
        let reply = forward(shared, request, proto).await;
        if reply.is_none() {
            shared.note(format!("{proto:?} {request}: no reply from the backend"));
        }
        reply
    };
    let Some(fault) = fault else {
        return forwarded().await.map(Step::Send).into_iter().collect();
    };
    match fault {
        Fault::Pass => forwarded().await.map(Step::Send).into_iter().collect(),
        Fault::DropRequest => Vec::new(),
        Fault::DropReply => {
            forwarded().await;
            Vec::new()
        }
        Fault::Delay(delay) => match forwarded().await {
            Some(reply) => vec![Step::Wait(delay), Step::Send(reply)],
            None => Vec::new(),
        },
        Fault::Truncate { forward } => {
            if forward {
                forwarded().await;
            }
            let mut reply = request.reply(request.id, ResponseCode::NoError);
            reply.set_truncated(true).set_authoritative(true);
            encode(&reply).map(Step::Send).into_iter().collect()
        }
        Fault::ForgedFirst(rcode) => {
            let forged = encode(&request.reply(request.id, rcode));
            with_reply(forged, forwarded().await)
        }
        Fault::EchoFirst(rcode) => {
            let mut echo = request.bytes.clone();
            if echo.len() >= 12 {
                // QR; the rcode in the low nibble of the fourth byte.
                echo[2] |= 0x80;
                echo[3] = (echo[3] & 0xf0) | rcode.low();
            }
            with_reply(Some(echo), forwarded().await)
        }
        Fault::QuestionlessFirst(rcode) => {
            let opcode: u8 = if request.kind == Kind::Update { 5 } else { 0 };
            let mut header = vec![0u8; 12];
            header[..2].copy_from_slice(&request.id.to_be_bytes());
            // QR, the opcode; then the rcode in the low nibble.
            header[2] = 0x80 | (opcode << 3);
            header[3] = rcode.low();
            with_reply(Some(header), forwarded().await)
        }
        Fault::OtherOwnerAnswer => {
            let mut reply = request.reply(request.id, ResponseCode::NoError);
            reply.set_authoritative(true).add_answer(Record::from_rdata(
                absolute(SPOOFED_NAME),
                60,
                RData::SRV(SRV::new(0, 0, 1688, absolute(SPOOFED_TARGET))),
            ));
            encode(&reply).map(Step::Send).into_iter().collect()
        }
        Fault::ForgedInstead(rcode) => {
            forwarded().await;
            encode(&request.reply(request.id, rcode))
                .map(Step::Send)
                .into_iter()
                .collect()
        }
        Fault::WrongIdFirst => {
            let spoof = spoofed(request, request.id.wrapping_add(1), false);
            with_reply(spoof, forwarded().await)
        }
        Fault::OtherQuestionFirst => {
            let spoof = spoofed(request, request.id, true);
            with_reply(spoof, forwarded().await)
        }
        Fault::Duplicate => match forwarded().await {
            Some(reply) => vec![Step::Send(reply.clone()), Step::Send(reply)],
            None => Vec::new(),
        },
        Fault::DuplicateRequest => {
            let first = forwarded().await;
            let second = forwarded().await;
            first.into_iter().chain(second).map(Step::Send).collect()
        }
        Fault::Rcode(rcode) => encode(&request.reply(request.id, rcode))
            .map(Step::Send)
            .into_iter()
            .collect(),
        Fault::Cut(n) => forwarded()
            .await
            .map(|reply| Step::Send(reply[..n.min(reply.len())].to_vec()))
            .into_iter()
            .collect(),
        Fault::GarbageFirst => {
            let mut bytes = garbage(request.id, 48);
            // Never the request's ID: a stray datagram.
            bytes[..2].copy_from_slice(&(!request.id).to_be_bytes());
            with_reply(Some(bytes), forwarded().await)
        }
        Fault::GarbageWithId => {
            forwarded().await;
            let mut bytes = garbage(request.id, 48);
            bytes[..2].copy_from_slice(&request.id.to_be_bytes());
            // QR set, OPCODE kept, TC clear: it claims to be our reply.
            bytes[2] = 0x80 | (request.bytes.get(2).copied().unwrap_or(0) & 0x78);
            vec![Step::Send(bytes)]
        }
        Fault::CloseMidMessage => forwarded()
            .await
            .map(Step::SendHalfAndClose)
            .into_iter()
            .collect(),
        Fault::NeverAnswer => vec![Step::Hold],
        Fault::Gate => {
            // Closed only by a new script, which ends this test's use.
            let _ = shared.gate.subscribe().wait_for(|open| *open).await;
            forwarded().await.map(Step::Send).into_iter().collect()
        }
        Fault::FirstAnswerTtl(ttl) => forwarded()
            .await
            .and_then(|reply| first_answer_ttl(&reply, ttl))
            .map(Step::Send)
            .into_iter()
            .collect(),
        Fault::IgnorePrerequisites => {
            let stripped = request.message.as_ref().and_then(|message| {
                let mut message = message.clone();
                // In an UPDATE the answer section holds the prerequisites.
                message.take_answers();
                message.to_vec().ok()
            });
            let Some(bytes) = stripped else {
                return forwarded().await.map(Step::Send).into_iter().collect();
            };
            forward(shared, &Request::parse(bytes), proto)
                .await
                .map(Step::Send)
                .into_iter()
                .collect()
        }
    }
}

/// `reply` with the TTL of its first answer record set to `ttl`.
fn first_answer_ttl(reply: &[u8], ttl: u32) -> Option<Vec<u8>> {
    let mut message = Message::from_vec(reply).ok()?;
    let mut answers = message.take_answers();
    if let Some(first) = answers.first_mut() {
        first.set_ttl(ttl);
    }
    message.add_answers(answers);
    encode(&message)
}

fn with_reply(first: Option<Vec<u8>>, reply: Option<Vec<u8>>) -> Vec<Step> {
    first.into_iter().chain(reply).map(Step::Send).collect()
}

/// Sends `request` to the backend over `proto` and returns its reply.
async fn forward(shared: &Shared, request: &Request, proto: Proto) -> Option<Vec<u8>> {
    let backend = shared.backend;
    let kind = request.kind;
    let reply = tokio::time::timeout(BACKEND_TIMEOUT, async {
        match proto {
            Proto::Udp => {
                let local: SocketAddr = match backend.ip() {
                    IpAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
                    IpAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
                };
                let socket = UdpSocket::bind(local).await.ok()?;
                socket.connect(backend).await.ok()?;
                socket.send(&request.bytes).await.ok()?;
                shared.count(|c| *c.forwarded.entry(kind).or_default() += 1);
                let mut buffer = vec![0u8; 65_535];
                loop {
                    let len = socket.recv(&mut buffer).await.ok()?;
                    if buffer[..len].get(..2) == request.bytes.get(..2) {
                        return Some(buffer[..len].to_vec());
                    }
                }
            }
            Proto::Tcp => {
                let mut stream = TcpStream::connect(backend).await.ok()?;
                write_framed(&mut stream, &request.bytes).await.ok()?;
                shared.count(|c| *c.forwarded.entry(kind).or_default() += 1);
                read_framed(&mut stream).await.ok()
            }
        }
    })
    .await
    .ok()
    .flatten();
    if reply.is_some() {
        shared.count(|c| *c.answered.entry(kind).or_default() += 1);
    }
    reply
}

/// A NOERROR reply that must not be taken: with another ID, or about
/// another question; an SRV question gets a record at `spoofed.invalid.`.
fn spoofed(request: &Request, id: u16, other_question: bool) -> Option<Vec<u8>> {
    let mut reply = request.reply(id, ResponseCode::NoError);
    reply.set_authoritative(true);
    let qtype = request.qtype.unwrap_or(RecordType::SRV);
    let owner = if other_question {
        let owner = absolute(SPOOFED_NAME);
        let mut question = Query::query(owner.clone(), qtype);
        if let Some(original) = request.message.as_ref().and_then(|m| m.queries().first()) {
            question.set_query_class(original.query_class());
        }
        reply.take_queries();
        reply.add_query(question);
        owner
    } else {
        request
            .name
            .clone()
            .unwrap_or_else(|| absolute(SPOOFED_NAME))
    };
    if request.kind == Kind::Query && qtype == RecordType::SRV {
        reply.add_answer(Record::from_rdata(
            owner,
            60,
            RData::SRV(SRV::new(0, 0, 1688, absolute(SPOOFED_TARGET))),
        ));
    }
    encode(&reply)
}

fn encode(message: &Message) -> Option<Vec<u8>> {
    message.to_vec().ok()
}

/// `len` bytes of SplitMix64 output seeded with `seed`: never a DNS message
/// (the counts claim far more records than follow).
fn garbage(seed: u16, len: usize) -> Vec<u8> {
    let mut state = u64::from(seed) ^ 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        bytes.extend_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    bytes.truncate(len);
    // QDCOUNT and ANCOUNT 0xffff: no parser can find that many records.
    bytes[4..8].copy_from_slice(&[0xff; 4]);
    bytes
}
