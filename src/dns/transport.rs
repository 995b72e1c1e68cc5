//! One request, one reply: DNS over UDP and TCP (RFC 1035 §4.2, RFC 7766).
//!
//! The same bytes are resent on every attempt, so a late reply to the first
//! copy is as good as a reply to the last one (the socket stays open and the
//! message ID is unchanged). Over UDP, datagrams that do not answer our
//! request (wrong ID, not a response, another question, or bytes with our
//! ID that do not parse) are dropped and the wait goes on, as RFC 5452 §9.1
//! asks: anyone can send a datagram with our ID, and the real reply may
//! still come. Over TCP the stream belongs to us, so such a reply is an
//! error at once; but a reply to a signed request that does not verify is
//! set aside on either transport while a verified one may still come
//! ([`exchange_verified`]).
//!
//! A server that let every attempt of a query time out is remembered for
//! the run ([`SocketPool`]), with the name it was asked about: later
//! queries to it over the same transport about that name or a name below
//! it fail at once with [`TransportError::Silent`], so a dead `server =`
//! costs a domain one exchange bound, not one per question (issue 17).
//! The run keeps the last [`REMEMBERED_SILENCES`] of them, four for each
//! domain in flight at the highest `--concurrency`: what it forgets is
//! asked again, which costs time (a `--deadline` counts it).
//! Other names are still asked: a resolver waiting on a dead zone's
//! servers, or an authoritative server dropping one zone's queries, is
//! silent about that zone and answers the rest, recursive or not. Only
//! plain queries take part ([`exchange_remembering`]): a server may drop a
//! CHAOS `version.bind` query, a signed read or an UPDATE and still answer
//! queries. Polling, and the reads after an UPDATE ([`asking_again`]),
//! neither use nor feed that memory: a server may come back between two
//! polls, and what an UPDATE did must be read, not guessed.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::Name;
use lru::LruCache;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::trace;
use crate::concurrency::deadline;
use udp::Channel;

mod udp;

/// The largest UDP payload kmsdns advertises with EDNS(0): the 2020 "DNS
/// flag day" value, which avoids IP fragmentation (RFC 9715).
pub(crate) const EDNS_PAYLOAD: u16 = 1232;

/// Without EDNS a DNS message over UDP is limited to 512 bytes
/// (RFC 1035 §4.2.1); larger requests go over TCP.
pub(crate) const CLASSIC_UDP_LIMIT: usize = 512;

/// Which transport carried an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// DNS over UDP (RFC 1035 §4.2.1).
    Udp,
    /// DNS over TCP (RFC 7766), after truncation or for a large message.
    Tcp,
}

/// What the reply must match.
pub(crate) struct Expect<'a> {
    pub id: u16,
    pub op_code: OpCode,
    /// The question (for UPDATE: the zone section). An empty question
    /// section in the reply is accepted only in error replies that say
    /// nothing about it (RFC 6891 §7 FORMERR, RFC 2136 §3.8).
    pub question: &'a Query,
}

/// A reply that matched the request.
pub(crate) struct Exchanged {
    /// The reply as received (needed for TSIG verification).
    pub bytes: Vec<u8>,
    /// The parsed reply; `None` only for a truncated UDP reply that did not
    /// parse (it is followed by TCP anyway).
    pub message: Option<Message>,
    pub truncated: bool,
    pub transport: Transport,
    /// How many times the request was sent before this reply came.
    pub sends: u32,
    /// Replies to a signed request that did not verify and were set aside
    /// while waiting for one that does (RFC 8945 §5.3.2).
    pub discarded: u32,
}

/// Whether a reply (as received, and parsed) is signed as the request's
/// answer must be: for a TSIG-signed request, its MAC verifies.
pub(crate) type Verify<'a> = dyn Fn(&[u8], &Message) -> bool + 'a;

/// Why an exchange produced no usable reply.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// Nothing matching came back within `attempts × timeout`.
    Timeout { attempts: u32 },
    /// Not sent: the server let every attempt of an earlier query time
    /// out in this run.
    Silent,
    /// Connection refused (TCP RST, or ICMP port unreachable on UDP):
    /// nothing listens there.
    Unreachable(io::Error),
    /// Any other socket error.
    Io(io::Error),
    /// A reply with our ID that is not a DNS message we can parse.
    Malformed(String),
    /// Only replies that did not answer our request came back.
    Mismatch(String),
}

/// A fresh, unpredictable message ID (RFC 5452 §4.3).
pub(crate) fn random_id() -> u16 {
    (random_u64() & 0xffff) as u16
}

/// 64 unpredictable bits (message IDs, the update probe's sentinel).
///
/// `RandomState` is seeded from the operating system's random source once
/// per thread and re-keyed on every call; hashing a counter and the clock
/// with it is enough for a value that an off-path attacker cannot guess,
/// without another dependency.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(nanos);
    hasher.finish()
}

/// Sends `request` to `server` over `transport` and waits for the reply
/// that matches `expect`, at most `attempts` times `per_try`; with `-v`,
/// the exchange is recorded ([`trace`]).
pub(crate) async fn exchange(
    transport: Transport,
    server: SocketAddr,
    request: &[u8],
    expect: &Expect<'_>,
    per_try: Duration,
    attempts: u32,
) -> Result<Exchanged, TransportError> {
    let sending = Sending::new(transport, server, request, expect, per_try, attempts);
    sending.run(None, false).await
}

/// [`exchange`] for a plain query (class IN, unsigned, the run's full
/// attempts): a server that let every attempt time out is remembered for
/// the run, and later queries to it over `transport` fail at once.
pub(crate) async fn exchange_remembering(
    transport: Transport,
    server: SocketAddr,
    request: &[u8],
    expect: &Expect<'_>,
    per_try: Duration,
    attempts: u32,
) -> Result<Exchanged, TransportError> {
    let sending = Sending::new(transport, server, request, expect, per_try, attempts);
    sending.run(None, true).await
}

/// One request to send and how long to wait for its reply.
struct Sending<'a> {
    transport: Transport,
    server: SocketAddr,
    request: &'a [u8],
    expect: &'a Expect<'a>,
    per_try: Duration,
    attempts: u32,
}

impl<'a> Sending<'a> {
    fn new(
        transport: Transport,
        server: SocketAddr,
        request: &'a [u8],
        expect: &'a Expect<'a>,
        per_try: Duration,
        attempts: u32,
    ) -> Self {
        Sending {
            transport,
            server,
            request,
            expect,
            per_try,
            attempts,
        }
    }

    /// Sends, waits, and records the exchange for `-v`; with `remember`,
    /// through the run's memory of silent servers.
    async fn run(
        self,
        verify: Option<&Verify<'_>>,
        remember: bool,
    ) -> Result<Exchanged, TransportError> {
        let Sending {
            transport,
            server,
            request,
            expect,
            per_try,
            attempts,
        } = self;
        let started = Instant::now();
        let memory = if remember { silence_memory() } else { None };
        let result = match &memory {
            Some(pool) if pool.is_silent(server, transport, expect.question.name()) => {
                Err(TransportError::Silent)
            }
            _ => {
                let _step = deadline::step(|| describe(transport, server, expect));
                match transport {
                    Transport::Udp => udp(server, request, expect, per_try, attempts, verify).await,
                    Transport::Tcp => tcp(server, request, expect, per_try, attempts, verify).await,
                }
            }
        };
        if let (Some(pool), Err(TransportError::Timeout { .. })) = (&memory, &result) {
            pool.remember_silent(server, transport, expect.question.name());
        }
        let elapsed = started.elapsed();
        trace::exchange(
            server,
            transport,
            expect.question,
            expect.op_code,
            &result,
            elapsed,
        );
        result
    }
}

/// [`exchange`] for a signed request: a reply that `verify` rejects
/// (unsigned, or a MAC that does not verify) is set aside and the wait
/// goes on for one that verifies, as RFC 8945 §5.3.2 asks, since anyone
/// can send a datagram with our ID and question, and anyone on the path can
/// put a message into a TCP stream. Only when none verifies by the end of
/// the attempt (over TCP: or the peer closes the connection) does the
/// first one set aside come back, for the caller to report as unverified.
pub(crate) async fn exchange_verified(
    transport: Transport,
    server: SocketAddr,
    request: &[u8],
    expect: &Expect<'_>,
    per_try: Duration,
    attempts: u32,
    verify: Option<&Verify<'_>>,
) -> Result<Exchanged, TransportError> {
    let sending = Sending::new(transport, server, request, expect, per_try, attempts);
    sending.run(verify, false).await
}

/// Why a server was not asked: every attempt of an earlier query to it
/// timed out in this run.
pub(crate) const SILENT_EARLIER: &str =
    "no answer earlier in this run (every attempt timed out), so not asked again";

/// The step an exchange is, as a deadline finding names it.
fn describe(transport: Transport, server: SocketAddr, expect: &Expect<'_>) -> String {
    let over = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    let question = expect.question;
    match expect.op_code {
        OpCode::Update => format!(
            "sending the UPDATE of zone {} to {server} over {over}",
            question.name()
        ),
        _ => format!(
            "reading {} {} from {server} over {over}",
            question.name(),
            question.query_type()
        ),
    }
}

/// The run's memory of silent servers: inside [`SocketPool::scope`], and
/// not inside [`asking_again`].
fn silence_memory() -> Option<Arc<PoolInner>> {
    if asks_again() {
        return None;
    }
    POOL.try_with(Arc::clone).ok()
}

/// Runs `future` asking every server again, whatever the run has seen of
/// it, and remembering none of its silence: for polling until servers
/// have caught up (`replication --wait`, `publish --wait-replication`),
/// where a server may come back before the next round, and for the reads
/// after an UPDATE, which say what it did and must not be skipped.
pub async fn asking_again<F: Future>(future: F) -> F::Output {
    POLLING.scope((), future).await
}

/// Whether this task runs inside [`asking_again`].
pub(crate) fn asks_again() -> bool {
    POLLING.try_with(|_| ()).is_ok()
}

/// Sends `request` over UDP and waits for the matching reply, resending the
/// same bytes after each `per_try` timeout, `attempts` times in all.
///
/// Inside [`SocketPool::scope`] the socket is one of the pool's sockets to
/// `server`, shared with the other exchanges in flight to it; elsewhere it
/// is opened for this one exchange.
async fn udp(
    server: SocketAddr,
    request: &[u8],
    expect: &Expect<'_>,
    per_try: Duration,
    attempts: u32,
    verify: Option<&Verify<'_>>,
) -> Result<Exchanged, TransportError> {
    let pool = POOL.try_with(Arc::clone).ok();
    let channel = match &pool {
        Some(pool) => pool.channel(server, expect.id).await?,
        None => Arc::new(Channel::open(server).await?),
    };
    match channel
        .exchange(request, expect, per_try, attempts, verify)
        .await
    {
        Some(result) => result,
        // Another exchange took the ID on this socket while it was being
        // chosen: this one gets a socket of its own.
        None => Arc::new(Channel::open(server).await?)
            .exchange(request, expect, per_try, attempts, verify)
            .await
            .unwrap_or(Err(TransportError::Io(io::Error::other(
                "a fresh socket has an exchange in flight",
            )))),
    }
}

tokio::task_local! {
    static POOL: Arc<PoolInner>;
    static POLLING: ();
}

/// UDP sockets kept for one command run, a few per server, each shared by
/// the exchanges in flight to its server ([`udp::Channel`]).
///
/// Opening a socket for every query costs five system calls beyond the
/// send and the receive (socket, bind, connect, and registering it with
/// the runtime and back) and a port search in the kernel: at thousands of
/// queries a run, that was most of kmsdns's system time. A socket per
/// exchange in flight still cost a wasted read per reply; a shared socket
/// brings several replies per wake-up (issue 20). Inside
/// [`scope`](Self::scope) an exchange takes an idle socket to its server,
/// or opens one while there are fewer than [`SOCKETS_PER_SERVER`], or else
/// one of them at random: each has its own random source port from the
/// kernel (RFC 5452 §10), so a run's queries to one server come from
/// several.
///
/// The sockets of the last [`KEPT_SERVERS`] servers asked are kept, not
/// every server's: a run over many distinct servers (a `server =` or an
/// NS set per zone, or many silent ones) would otherwise hold a socket
/// and its 4 KiB buffer for each server it ever asked, and run out of
/// file descriptors at the process's limit (1,024 by default). A socket
/// forgotten with its server is closed once the exchanges still using it
/// end; the server's next exchange opens a fresh one, on a fresh port.
#[derive(Clone, Default)]
pub struct SocketPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    /// The sockets of the servers asked last, the least recently asked
    /// forgotten first.
    channels: Mutex<LruCache<SocketAddr, Vec<Arc<Channel>>>>,
    opened: AtomicUsize,
    /// Which server was silent, over which transport, about which name
    /// (fully qualified): not asked again about that name or any name
    /// below it while remembered, the least recently used forgotten first.
    silent: Mutex<LruCache<Silence, ()>>,
}

/// A server, the transport it was asked over, and the name it was silent
/// about.
type Silence = (SocketAddr, Transport, Name);

/// Sockets kept per server.
const SOCKETS_PER_SERVER: usize = 4;

/// How many servers' sockets a run keeps: well above the servers a run
/// asks at once (a few per domain in flight, 64 domains by default). A
/// server has more than one socket only if several exchanges to it were
/// in flight at once, so most of these hold one.
const KEPT_SERVERS: NonZeroUsize = NonZeroUsize::new(256).unwrap();

/// How many (server, name) silences a run remembers: a domain needs its
/// own only between its zone's read and its RRset's, so four for each of
/// the most domains `--concurrency` lets be in flight (4,096) cover a
/// domain's servers and resolver even then; about 200 bytes each (3 MiB
/// when full). One forgotten costs another exchange: time, which a
/// `--deadline` counts.
pub(crate) const REMEMBERED_SILENCES: NonZeroUsize = NonZeroUsize::new(16_384).unwrap();

impl Default for PoolInner {
    fn default() -> Self {
        PoolInner::bounded(KEPT_SERVERS, REMEMBERED_SILENCES)
    }
}

impl SocketPool {
    /// An empty pool.
    pub fn new() -> SocketPool {
        SocketPool::default()
    }

    /// Runs `future` with every UDP exchange in it (in this task) drawing
    /// on this pool. The sockets are closed when the pool is dropped.
    pub async fn scope<F: Future>(&self, future: F) -> F::Output {
        POOL.scope(Arc::clone(&self.inner), future).await
    }

    /// How many sockets the pool has opened so far.
    pub fn opened(&self) -> usize {
        self.inner.opened.load(Ordering::Relaxed)
    }
}

impl PoolInner {
    /// A pool that keeps the sockets of at most `servers` servers and
    /// remembers at most `silences` silences; both lists start empty and
    /// grow as needed (most runs meet no silent server).
    fn bounded(servers: NonZeroUsize, silences: NonZeroUsize) -> PoolInner {
        PoolInner {
            channels: Mutex::new(LruCache::new(servers)),
            opened: AtomicUsize::new(0),
            silent: Mutex::new(LruCache::sparse(silences)),
        }
    }

    fn channels(&self) -> std::sync::MutexGuard<'_, LruCache<SocketAddr, Vec<Arc<Channel>>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A socket to `server` for an exchange with `id`: an idle one, a new
    /// one while there are fewer than [`SOCKETS_PER_SERVER`], else one at
    /// random among those without an exchange with `id` in flight.
    async fn channel(&self, server: SocketAddr, id: u16) -> Result<Arc<Channel>, TransportError> {
        let kept = self.channels().get(&server).cloned().unwrap_or_default();
        let start = random_u64() as usize;
        let mut in_random_order = (0..kept.len()).map(|step| &kept[(start + step) % kept.len()]);
        if let Some(idle) = in_random_order
            .clone()
            .find(|channel| channel.in_flight() == 0)
        {
            return Ok(Arc::clone(idle));
        }
        if kept.len() >= SOCKETS_PER_SERVER {
            if let Some(free) = in_random_order.find(|channel| !channel.uses(id)) {
                return Ok(Arc::clone(free));
            }
        }
        let channel = Arc::new(Channel::open(server).await?);
        self.opened.fetch_add(1, Ordering::Relaxed);
        let mut channels = self.channels();
        // Forgets the least recently asked server's sockets when full.
        let kept = channels.get_or_insert_mut(server, Vec::new);
        if kept.len() < SOCKETS_PER_SERVER {
            kept.push(Arc::clone(&channel));
        }
        Ok(channel)
    }

    fn silences(&self) -> std::sync::MutexGuard<'_, LruCache<Silence, ()>> {
        self.silent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `server` was silent earlier in the run about `name` or a
    /// name above it (as far as the run remembers).
    fn is_silent(&self, server: SocketAddr, transport: Transport, name: &Name) -> bool {
        let mut silent = self.silences();
        // Every query asks: nothing to hash while no server was silent.
        !silent.is_empty()
            && and_above(name).any(|name| silent.get(&(server, transport, name)).is_some())
    }

    fn remember_silent(&self, server: SocketAddr, transport: Transport, name: &Name) {
        if !self.is_silent(server, transport, name) {
            self.silences()
                .put((server, transport, qualified(name)), ());
        }
    }
}

/// `name` as remembered: fully qualified (a `Name` hashes and compares
/// without case already).
fn qualified(name: &Name) -> Name {
    let mut name = name.clone();
    name.set_fqdn(true);
    name
}

/// `name`, then each name above it up to the root: the names a silence
/// about which covers `name` (what `Name::zone_of` says).
fn and_above(name: &Name) -> impl Iterator<Item = Name> {
    std::iter::successors(Some(qualified(name)), |name| {
        (!name.is_root()).then(|| name.base_name())
    })
}

/// How long a signed exchange over TCP still waits once it has set a
/// message aside: the server's own reply follows a forged one within
/// milliseconds, while a genuine unsigned TSIG error (BIND's BADKEY,
/// BADSIG, BADTIME with an empty MAC) is all that comes, and should not
/// cost a whole `--timeout`.
const SET_ASIDE_GRACE: Duration = Duration::from_secs(1);

/// Sends `request` over TCP (RFC 1035 §4.2.2: two-byte length prefix), one
/// connection per attempt, each attempt bounded by `per_try`.
///
/// For a signed request, a reply that `verify` rejects is set aside and
/// the next message on the same connection is read, as over UDP (RFC 8945
/// §5.3.2): whoever can put one message into the stream can put a forged
/// one before the server's. The wait ends at the first reply that
/// verifies, when the attempt's time runs out ([`SET_ASIDE_GRACE`] after
/// the first message set aside, at the latest), or when the peer closes the
/// connection; then the first reply set aside comes back, for the caller
/// to report as unverified. A message that is no reply to ours (another
/// ID or question, unreadable, or cut with TC) is set aside the same way,
/// and its error comes back only when nothing else did. Each message is
/// at most 65,535 bytes (its length is a `u16`), and only the first one
/// set aside is kept.
async fn tcp(
    server: SocketAddr,
    request: &[u8],
    expect: &Expect<'_>,
    per_try: Duration,
    attempts: u32,
    verify: Option<&Verify<'_>>,
) -> Result<Exchanged, TransportError> {
    let length = u16::try_from(request.len()).map_err(|_| {
        TransportError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a {} byte message does not fit in DNS over TCP",
                request.len()
            ),
        ))
    })?;
    let attempts = attempts.max(1);
    for sends in 1..=attempts {
        let mut deadline = Instant::from_std(deadline::instant_after(per_try));
        let mut stream = match timeout_at(deadline, tcp_send(server, length, request)).await {
            Err(_elapsed) => continue,
            Ok(stream) => stream.map_err(classify)?,
        };
        let mut unverified: Option<Exchanged> = None;
        // The first message of a signed exchange that was no reply at all.
        let mut rejected: Option<TransportError> = None;
        let mut discarded = 0;
        loop {
            let reply = match timeout_at(deadline, tcp_read(&mut stream)).await {
                Err(_elapsed) => break,
                Ok(Ok(reply)) => reply,
                // Closed by the peer: nothing more will come on it.
                Ok(Err(_)) if unverified.is_some() || rejected.is_some() => break,
                Ok(Err(error)) => return Err(classify(error)),
            };
            let (message, truncated) = match (check_reply(&reply, expect), verify) {
                (Checked::Reply { message, truncated }, _) => (message, truncated),
                (Checked::Mismatch(why), None) => return Err(TransportError::Mismatch(why)),
                (Checked::Malformed(why), None) => return Err(TransportError::Malformed(why)),
                // Signed: a message that is not our reply proves nothing
                // and must not end the wait for the one that verifies.
                (Checked::Mismatch(why), Some(_)) => {
                    discarded += 1;
                    rejected.get_or_insert(TransportError::Mismatch(why));
                    deadline = deadline.min(Instant::now() + SET_ASIDE_GRACE);
                    continue;
                }
                (Checked::Malformed(why), Some(_)) => {
                    discarded += 1;
                    rejected.get_or_insert(TransportError::Malformed(why));
                    deadline = deadline.min(Instant::now() + SET_ASIDE_GRACE);
                    continue;
                }
            };
            // Signed, a reply that cannot be read whole (TC without a
            // message) cannot be verified either: set aside.
            let verified = match (verify, &message) {
                (Some(verify), Some(message)) => verify(&reply, message),
                (Some(_), None) => false,
                (None, _) => true,
            };
            let exchanged = Exchanged {
                bytes: reply,
                message,
                truncated,
                transport: Transport::Tcp,
                sends,
                discarded,
            };
            if verified {
                return Ok(exchanged);
            }
            discarded += 1;
            unverified.get_or_insert(exchanged);
            deadline = deadline.min(Instant::now() + SET_ASIDE_GRACE);
        }
        // Someone answered this attempt, but not verifiably: as over UDP,
        // sending again would only ask the same path again.
        if let Some(reply) = unverified {
            return Ok(Exchanged { discarded, ..reply });
        }
        if let Some(error) = rejected {
            return Err(error);
        }
    }
    Err(TransportError::Timeout { attempts })
}

/// Connects and writes the length-prefixed request.
async fn tcp_send(server: SocketAddr, length: u16, request: &[u8]) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(request);
    stream.write_all(&framed).await?;
    Ok(stream)
}

/// Reads one length-prefixed message.
async fn tcp_read(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut prefix = [0u8; 2];
    stream.read_exact(&mut prefix).await?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut reply).await?;
    Ok(reply)
}

fn classify(error: io::Error) -> TransportError {
    match error.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => TransportError::Unreachable(error),
        _ => TransportError::Io(error),
    }
}

pub(crate) enum Checked {
    Reply {
        message: Option<Message>,
        truncated: bool,
    },
    Mismatch(String),
    Malformed(String),
}

/// Header flag bit of TC in the third byte (RFC 1035 §4.1.1).
const TC_BIT: u8 = 0x02;
/// Header flag bit of QR in the third byte.
const QR_BIT: u8 = 0x80;

/// Whether a reply with this rcode may leave the question out: only errors
/// that say nothing about names or records (RFC 6891 §7 FORMERR, RFC 2136
/// §3.8); a reply that speaks of records, their absence or a prerequisite
/// (NOERROR, NXDOMAIN, YXDOMAIN, YXRRSET, NXRRSET), or any rcode kmsdns does
/// not know, must say which question it answers.
fn may_omit_question(rcode: ResponseCode) -> bool {
    matches!(
        rcode,
        ResponseCode::FormErr
            | ResponseCode::ServFail
            | ResponseCode::NotImp
            | ResponseCode::Refused
            | ResponseCode::NotAuth
            | ResponseCode::NotZone
    )
}

pub(crate) fn check_reply(bytes: &[u8], expect: &Expect<'_>) -> Checked {
    // Look at the raw header first: a datagram that is not even a header
    // with our ID is someone else's and is dropped without parsing.
    if bytes.len() < 12 {
        return Checked::Mismatch(format!(
            "a {} byte datagram is not a DNS reply",
            bytes.len()
        ));
    }
    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
    if id != expect.id {
        return Checked::Mismatch(format!(
            "reply with ID {id} to a request with ID {}",
            expect.id
        ));
    }
    if bytes[2] & QR_BIT == 0 {
        return Checked::Mismatch("a query instead of a reply".to_owned());
    }
    let truncated = bytes[2] & TC_BIT != 0;
    let message = match Message::from_vec(bytes) {
        Ok(message) => message,
        // A truncated reply may end anywhere; TCP will bring the whole one.
        Err(_) if truncated => {
            return Checked::Reply {
                message: None,
                truncated,
            }
        }
        Err(error) => return Checked::Malformed(error.to_string()),
    };
    if message.message_type() != MessageType::Response || message.op_code() != expect.op_code {
        return Checked::Mismatch(format!(
            "reply with opcode {:?} to a request with opcode {:?}",
            message.op_code(),
            expect.op_code
        ));
    }
    match message.queries() {
        // Only an error that does not speak of the question may leave it out
        // (RFC 6891 §7 FORMERR, RFC 2136 §3.8): a reply that says something
        // about names or records must say which.
        [] if may_omit_question(message.response_code()) => {}
        [question]
            if question.name() == expect.question.name()
                && question.query_type() == expect.question.query_type()
                && question.query_class() == expect.question.query_class() => {}
        other => {
            let got: Vec<String> = other.iter().map(ToString::to_string).collect();
            return Checked::Mismatch(format!(
                "reply about {} to a question about {}",
                got.join(", "),
                expect.question
            ));
        }
    }
    Checked::Reply {
        message: Some(message),
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{Name, RecordType};
    use tokio::net::UdpSocket;

    fn question() -> Query {
        Query::query(
            Name::from_ascii("_vlmcs._tcp.corp.example.").unwrap(),
            RecordType::SRV,
        )
    }

    /// What every test sends: a query with ID 7 about `question`.
    fn expect_id_7(question: &Query) -> Expect<'_> {
        Expect {
            id: 7,
            op_code: OpCode::Query,
            question,
        }
    }

    fn reply(id: u16, question: Query) -> Vec<u8> {
        let mut message = Message::new();
        message
            .set_id(id)
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Query)
            .add_query(question);
        message.to_vec().unwrap()
    }

    #[test]
    fn accepts_the_matching_reply_case_insensitively() {
        let q = question();
        let expect = expect_id_7(&q);
        let upper = Query::query(
            Name::from_ascii("_VLMCS._TCP.Corp.Example.").unwrap(),
            RecordType::SRV,
        );
        assert!(matches!(
            check_reply(&reply(7, upper), &expect),
            Checked::Reply {
                message: Some(_),
                truncated: false
            }
        ));
    }

    #[test]
    fn drops_other_ids_questions_and_short_datagrams() {
        let q = question();
        let expect = expect_id_7(&q);
        assert!(matches!(
            check_reply(&reply(8, q.clone()), &expect),
            Checked::Mismatch(_)
        ));
        let other = Query::query(Name::from_ascii("corp.example.").unwrap(), RecordType::SOA);
        assert!(matches!(
            check_reply(&reply(7, other), &expect),
            Checked::Mismatch(_)
        ));
        assert!(matches!(
            check_reply(&[0, 7, 0x80], &expect),
            Checked::Mismatch(_)
        ));
    }

    #[test]
    fn only_an_error_that_says_nothing_of_the_question_may_leave_it_out() {
        let q = question();
        let expect = Expect {
            id: 7,
            op_code: OpCode::Query,
            question: &q,
        };
        // A bare 12-byte header: ID 7, QR set, opcode QUERY, RCODE in the
        // low nibble of the fourth byte, every count zero.
        let header = |rcode: u8| [0, 7, 0x80, rcode, 0, 0, 0, 0, 0, 0, 0, 0];
        for (rcode, name) in [
            (0, "NOERROR"),
            (3, "NXDOMAIN"),
            (6, "YXDOMAIN"),
            (8, "NXRRSET"),
        ] {
            assert!(
                matches!(check_reply(&header(rcode), &expect), Checked::Mismatch(_)),
                "a question-less {name} must not be taken as the answer"
            );
        }
        for (rcode, name) in [
            (1, "FORMERR"),
            (2, "SERVFAIL"),
            (4, "NOTIMP"),
            (5, "REFUSED"),
        ] {
            assert!(
                matches!(check_reply(&header(rcode), &expect), Checked::Reply { .. }),
                "a question-less {name} is an error reply"
            );
        }
    }

    #[test]
    fn a_query_is_not_a_reply() {
        let q = question();
        let expect = expect_id_7(&q);
        let mut bytes = reply(7, q.clone());
        bytes[2] &= !QR_BIT;
        assert!(matches!(check_reply(&bytes, &expect), Checked::Mismatch(_)));
    }

    #[test]
    fn garbage_with_our_id_is_malformed_unless_truncated() {
        let q = question();
        let expect = expect_id_7(&q);
        // ID 7, QR, one question announced, but no question follows.
        let garbage = [0, 7, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            check_reply(&garbage, &expect),
            Checked::Malformed(_)
        ));
        let mut cut = garbage;
        cut[2] |= TC_BIT;
        assert!(matches!(
            check_reply(&cut, &expect),
            Checked::Reply {
                message: None,
                truncated: true
            }
        ));
    }

    /// A reply with ID 7 about `question` and `rcode`.
    fn reply_with(rcode: ResponseCode) -> Vec<u8> {
        let mut message = Message::from_vec(&reply(7, question())).unwrap();
        message.set_response_code(rcode);
        message.to_vec().unwrap()
    }

    /// A scripted DNS-over-TCP peer on loopback: for each connection, reads
    /// the request, writes `replies` (length-prefixed), then closes the
    /// connection or, with `hold`, keeps it open. Its address, and how many
    /// connections it accepted.
    async fn tcp_peer(replies: Vec<Vec<u8>>, hold: bool) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let replies = replies.clone();
                tokio::spawn(async move {
                    if tcp_read(&mut stream).await.is_err() {
                        return;
                    }
                    for reply in replies {
                        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&reply);
                        if stream.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                    if hold {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                });
            }
        });
        (addr, accepted)
    }

    /// A signed exchange over TCP with `peer`, where only NOERROR
    /// "verifies": the rcode it ended with, how many replies were set
    /// aside, and how long it took.
    async fn signed_over_tcp(
        peer: SocketAddr,
        per_try: Duration,
    ) -> (Result<(ResponseCode, u32), String>, Duration) {
        let q = question();
        let expect = expect_id_7(&q);
        let verify = |_: &[u8], message: &Message| message.response_code() == ResponseCode::NoError;
        let started = Instant::now();
        let result = exchange_verified(
            Transport::Tcp,
            peer,
            &reply(7, q.clone()),
            &expect,
            per_try,
            2,
            Some(&verify),
        )
        .await
        .map(|exchanged| {
            let message = exchanged.message.expect("parsed");
            (message.response_code(), exchanged.discarded)
        })
        .map_err(|error| format!("{error:?}"));
        (result, started.elapsed())
    }

    /// Issue 16: a forged reply first on the TCP connection of a signed
    /// exchange is set aside, and the real one after it is the answer.
    #[tokio::test]
    async fn over_tcp_a_reply_that_does_not_verify_is_set_aside_for_the_one_after_it() {
        let (peer, accepted) = tcp_peer(
            vec![
                reply_with(ResponseCode::Refused),
                reply_with(ResponseCode::NoError),
            ],
            true,
        )
        .await;
        let (result, took) = signed_over_tcp(peer, Duration::from_secs(20)).await;
        assert_eq!(result, Ok((ResponseCode::NoError, 1)));
        assert!(took < Duration::from_secs(10), "waited {took:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A message that is no reply to ours ahead of the real reply of a
    /// signed exchange (a bare 12-byte header of another ID; our ID with
    /// garbage after it, TC set or not) is set aside, not the end of the
    /// wait; when nothing else comes, its error does.
    #[tokio::test]
    async fn over_tcp_a_message_that_is_no_reply_is_set_aside_for_the_real_one() {
        let other_id = vec![0, 9, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let garbage = vec![0, 7, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut cut = garbage.clone();
        cut[2] |= TC_BIT;
        for forged in [other_id, garbage, cut] {
            let (peer, accepted) = tcp_peer(
                vec![forged.clone(), reply_with(ResponseCode::NoError)],
                true,
            )
            .await;
            let (result, took) = signed_over_tcp(peer, Duration::from_secs(20)).await;
            assert_eq!(result, Ok((ResponseCode::NoError, 1)), "{forged:?}");
            assert!(took < Duration::from_secs(10), "waited {took:?}");
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        }
        let malformed = vec![0, 7, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let (peer, _) = tcp_peer(vec![malformed], false).await;
        let (result, _) = signed_over_tcp(peer, Duration::from_secs(20)).await;
        assert!(result.is_err_and(|e| e.starts_with("Malformed")));
    }

    /// When nothing verifies, the first reply set aside comes back (for
    /// the caller to report as unverified) once the peer closes the
    /// connection, without waiting out the attempt or sending again.
    #[tokio::test]
    async fn over_tcp_a_closed_connection_ends_the_wait_with_the_first_reply_set_aside() {
        let (peer, accepted) = tcp_peer(
            vec![
                reply_with(ResponseCode::Refused),
                reply_with(ResponseCode::ServFail),
            ],
            false,
        )
        .await;
        let (result, took) = signed_over_tcp(peer, Duration::from_secs(20)).await;
        assert_eq!(result, Ok((ResponseCode::Refused, 2)));
        assert!(took < Duration::from_secs(10), "waited {took:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A peer that sends only a forged reply and keeps the connection open
    /// is waited for until the attempt's time is up, and no longer.
    #[tokio::test]
    async fn over_tcp_the_wait_for_a_verified_reply_is_bounded_by_the_attempt() {
        let (peer, accepted) = tcp_peer(vec![reply_with(ResponseCode::Refused)], true).await;
        let (result, took) = signed_over_tcp(peer, Duration::from_millis(300)).await;
        assert_eq!(result, Ok((ResponseCode::Refused, 1)));
        assert!(took >= Duration::from_millis(300), "waited {took:?}");
        assert!(took < Duration::from_secs(10), "waited {took:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// A reply set aside (a TSIG error nobody signed, as BIND sends for a
    /// key it does not know) on a connection kept open costs the grace
    /// period, not the whole attempt, then comes back as what it is.
    #[tokio::test]
    async fn over_tcp_a_reply_set_aside_is_waited_on_for_the_grace_period_only() {
        let (peer, accepted) = tcp_peer(vec![reply_with(ResponseCode::NotAuth)], true).await;
        let (result, took) = signed_over_tcp(peer, Duration::from_secs(20)).await;
        assert_eq!(result, Ok((ResponseCode::NotAuth, 1)));
        assert!(took >= SET_ASIDE_GRACE, "waited {took:?}");
        assert!(took < SET_ASIDE_GRACE * 4, "waited {took:?}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    /// An unsigned exchange over TCP takes the first reply, whatever it
    /// says: there is nothing to verify.
    #[tokio::test]
    async fn over_tcp_an_unsigned_exchange_takes_the_first_reply() {
        let (peer, _) = tcp_peer(
            vec![
                reply_with(ResponseCode::Refused),
                reply_with(ResponseCode::NoError),
            ],
            true,
        )
        .await;
        let q = question();
        let expect = expect_id_7(&q);
        let exchanged = exchange(
            Transport::Tcp,
            peer,
            &reply(7, q.clone()),
            &expect,
            Duration::from_secs(20),
            1,
        )
        .await
        .map_err(|error| format!("{error:?}"))
        .unwrap();
        assert_eq!(
            exchanged.message.map(|m| m.response_code()),
            Some(ResponseCode::Refused)
        );
    }

    /// Two queries in a row to a UDP socket that never answers, then one
    /// more while polling: how long each took, and how it ended.
    async fn ask_a_silent_server_three_times() -> Vec<(Duration, String)> {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap();
        let q = question();
        let expect = expect_id_7(&q);
        let ask = || async {
            let started = Instant::now();
            let result = exchange_remembering(
                Transport::Udp,
                server,
                &reply(7, q.clone()),
                &expect,
                Duration::from_millis(100),
                2,
            )
            .await;
            let outcome = match result {
                Ok(_) => "reply".to_owned(),
                Err(TransportError::Timeout { attempts }) => format!("timeout after {attempts}"),
                Err(TransportError::Silent) => "silent earlier".to_owned(),
                Err(other) => format!("{other:?}"),
            };
            (started.elapsed(), outcome)
        };
        vec![ask().await, ask().await, asking_again(ask()).await]
    }

    #[tokio::test]
    async fn a_silent_server_is_asked_once_per_run_but_again_when_polling() {
        let pool = SocketPool::new();
        let asked = pool.scope(ask_a_silent_server_three_times()).await;
        assert_eq!(asked[0].1, "timeout after 2");
        assert!(asked[0].0 >= Duration::from_millis(200), "{asked:?}");
        // Not sent again: failed at once.
        assert_eq!(asked[1].1, "silent earlier");
        assert!(asked[1].0 < Duration::from_millis(50), "{asked:?}");
        // Polling asks again: the server may have come back.
        assert_eq!(asked[2].1, "timeout after 2");
        assert!(asked[2].0 >= Duration::from_millis(200), "{asked:?}");
        let name = q_name();
        assert!(pool
            .inner
            .is_silent(asked_server(&pool), Transport::Udp, &name));
    }

    fn q_name() -> Name {
        question().name().clone()
    }

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    /// A server on loopback that answers every query except those about
    /// `dead` or a name below it, as a resolver waiting on a dead zone's
    /// servers does.
    async fn silent_about(dead: Name) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = socket.local_addr().unwrap();
        let answering = tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buffer[..len]) else {
                    continue;
                };
                let Some(question) = query.queries().first().cloned() else {
                    continue;
                };
                if !dead.zone_of(question.name()) {
                    let _ = socket.send_to(&reply(query.id(), question), from).await;
                }
            }
        });
        (server, answering)
    }

    /// How a plain query about `name` to `server` ended.
    async fn ask_about(server: SocketAddr, name: Name, record_type: RecordType) -> String {
        let q = Query::query(name, record_type);
        let expect = expect_id_7(&q);
        let request = reply(7, q.clone());
        let sent = exchange_remembering(
            Transport::Udp,
            server,
            &request,
            &expect,
            Duration::from_millis(100),
            2,
        );
        match sent.await {
            Ok(_) => "reply".to_owned(),
            Err(TransportError::Timeout { .. }) => "timeout".to_owned(),
            Err(TransportError::Silent) => "silent earlier".to_owned(),
            Err(other) => format!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_server_silent_about_one_name_is_still_asked_about_others() {
        let (server, answering) = silent_about(name("dead.test.")).await;
        let pool = SocketPool::new();
        let asked = pool
            .scope(async {
                vec![
                    ask_about(server, name("dead.test."), RecordType::SOA).await,
                    // Below the silent name: one exchange bound per domain.
                    ask_about(server, name("_vlmcs._tcp.Dead.Test."), RecordType::SRV).await,
                    // Other names, above or beside it, are asked.
                    ask_about(server, name("alive.test."), RecordType::SOA).await,
                    ask_about(server, name("test."), RecordType::SOA).await,
                    ask_about(server, name("_vlmcs._tcp.alive.test."), RecordType::SRV).await,
                ]
            })
            .await;
        answering.abort();
        assert_eq!(
            asked,
            ["timeout", "silent earlier", "reply", "reply", "reply"]
        );
    }

    #[test]
    fn the_memory_covers_a_name_and_the_names_below_it() {
        let pool = PoolInner::default();
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        pool.remember_silent(server, Transport::Udp, &name("corp.test."));
        pool.remember_silent(server, Transport::Udp, &name("a.corp.test."));
        assert!(pool.is_silent(server, Transport::Udp, &name("corp.test.")));
        assert!(pool.is_silent(server, Transport::Udp, &name("x.y.CORP.test.")));
        assert!(!pool.is_silent(server, Transport::Udp, &name("test.")));
        assert!(!pool.is_silent(server, Transport::Udp, &name("othercorp.test.")));
        assert!(!pool.is_silent(server, Transport::Tcp, &name("corp.test.")));
        let other: SocketAddr = "127.0.0.2:53".parse().unwrap();
        assert!(!pool.is_silent(other, Transport::Udp, &name("corp.test.")));
        // A name below one remembered adds nothing.
        assert_eq!(pool.silences().len(), 1);
        // The root covers every name.
        pool.remember_silent(other, Transport::Udp, &Name::root());
        assert!(pool.is_silent(other, Transport::Udp, &name("corp.test.")));
        assert!(pool.is_silent(other, Transport::Udp, &name("corp.test")));
    }

    /// The memory of silences keeps the last ones used, at most its
    /// bound: a server forgotten is asked again (a timeout more), one
    /// remembered is not, however many servers were silent before.
    #[test]
    fn the_memory_of_silent_servers_keeps_the_last_ones_used() {
        let pool = PoolInner::bounded(NonZeroUsize::MIN, NonZeroUsize::new(3).unwrap());
        let zone = name("dead.test.");
        let servers: Vec<SocketAddr> = (1..=1000)
            .map(|n| SocketAddr::from(([127, 0, (n / 256) as u8, (n % 256) as u8], 53)))
            .collect();
        for server in &servers {
            pool.remember_silent(*server, Transport::Udp, &zone);
            // The domain's next question, at once: still known.
            assert!(pool.is_silent(*server, Transport::Udp, &name("_vlmcs._tcp.dead.test.")));
        }
        assert_eq!(pool.silences().len(), 3, "bounded, whatever the estate");
        assert!(
            !pool.is_silent(servers[0], Transport::Udp, &zone),
            "forgotten"
        );
        // Asking keeps one: the oldest of the three, used, outlives the
        // next one remembered.
        assert!(pool.is_silent(servers[997], Transport::Udp, &zone));
        pool.remember_silent(servers[0], Transport::Udp, &zone);
        assert!(pool.is_silent(servers[997], Transport::Udp, &zone));
        assert!(!pool.is_silent(servers[998], Transport::Udp, &zone));
    }

    /// The one server a pool remembers as silent.
    fn asked_server(pool: &SocketPool) -> SocketAddr {
        let silent = pool.inner.silences();
        assert_eq!(silent.len(), 1, "one server remembered");
        silent.iter().next().unwrap().0 .0
    }

    #[tokio::test]
    async fn only_plain_queries_are_remembered() {
        // A CHAOS version.bind query, a signed read, an UPDATE: a server
        // may drop them and still answer queries.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap();
        let q = question();
        let expect = expect_id_7(&q);
        let pool = SocketPool::new();
        let asked = pool
            .scope(exchange(
                Transport::Udp,
                server,
                &reply(7, q.clone()),
                &expect,
                Duration::from_millis(50),
                1,
            ))
            .await;
        assert!(matches!(asked, Err(TransportError::Timeout { .. })));
        assert!(!pool.inner.is_silent(server, Transport::Udp, &q_name()));
    }

    #[tokio::test]
    async fn outside_a_run_nothing_is_remembered() {
        let asked = ask_a_silent_server_three_times().await;
        for (took, outcome) in &asked {
            assert_eq!(outcome, "timeout after 2");
            assert!(*took >= Duration::from_millis(200));
        }
    }

    #[tokio::test]
    async fn an_exchange_is_a_step_of_its_deadline() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = silent.local_addr().unwrap();
        let q = question();
        let expect = expect_id_7(&q);
        let request = reply(7, q.clone());
        let asking = exchange(
            Transport::Udp,
            server,
            &request,
            &expect,
            Duration::from_secs(10),
            3,
        );
        let overrun = deadline::within(Duration::from_millis(100), asking)
            .await
            .map(drop)
            .unwrap_err();
        assert_eq!(
            overrun.step.as_deref(),
            Some(format!("reading _vlmcs._tcp.corp.example. SRV from {server} over UDP").as_str())
        );
    }

    #[test]
    fn ids_vary() {
        let ids: std::collections::HashSet<u16> = (0..64).map(|_| random_id()).collect();
        assert!(ids.len() > 32);
    }
}
