//! UDP exchanges over a few sockets per server, shared by every exchange
//! in flight to it and kept for the run (issue 20).
//!
//! A socket per exchange cost a reply two reads: the one after the send
//! found nothing yet (EAGAIN), the one after the wake-up read the reply.
//! Here every exchange waiting on a [`Channel`] waits for the socket to
//! be readable; the first one polled reads every datagram that is ready
//! and hands each to the exchange whose message ID it carries, so a
//! wake-up costs one EAGAIN however many replies it brings (the others
//! find the readiness cleared and read nothing). Any of them may read: a
//! single reader stalled every exchange on its socket whenever its own
//! future was not being polled (2 s resends under load).
//!
//! What a socket per exchange gave is kept (RFC 5452): each socket has its
//! own random source port from the kernel and is connected, so it receives
//! only from its server; every query has a fresh random ID, and no two
//! exchanges in flight on one socket share one; each exchange still checks
//! every datagram with its ID against its question ([`check_reply`]) and
//! waits past the ones that do not match. A datagram with an ID that no
//! exchange on the socket is waiting for is dropped: a late copy of a
//! reply already read silently, any other (a forgery, a broken server) as
//! a mismatch every waiting exchange reports if nothing better comes.
//!
//! Queries are sent in batches: an exchange puts its request in the
//! socket's outbox and lets the other exchanges of the scheduler turn put
//! theirs; the first to resume sends them all with one `sendmmsg`
//! (Linux), the others find them sent. Each sends whatever is queued, so
//! none depends on another being polled again. On loopback each `send`
//! delivered its datagram to the server and woke it there and then, and
//! the server's thread often took the CPU from kmsdns before its next
//! send: 30% of kmsdns's CPU (perf). A batch wakes the server once for
//! every query that the replies of one wake-up let go on.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use super::{check_reply, classify, Checked, Exchanged, Expect, Transport, TransportError, Verify};
use crate::concurrency::deadline;

/// The receive buffer of a socket: well above the payload size kmsdns
/// advertises ([`super::EDNS_PAYLOAD`]) and the 512 bytes of plain DNS,
/// which are all a server may send over UDP (RFC 6891 §6.2.5); a datagram
/// that fills it is taken as truncated.
pub(super) const UDP_BUFFER: usize = 4096;

/// How many IDs of finished exchanges a socket remembers: a datagram with
/// one of them is a late or duplicated copy of a reply already read (or
/// given up on), dropped without a word.
const FINISHED_IDS: usize = 256;

/// One connected UDP socket and the exchanges waiting on it.
pub(super) struct Channel {
    socket: UdpSocket,
    state: Mutex<State>,
    /// Requests not yet sent, in the order queued, each with the ID of
    /// its exchange (whose end takes back a request still queued).
    outbox: Mutex<Vec<Queued>>,
    /// How many system calls sent requests: the tests' view of batching.
    #[cfg(test)]
    sends: std::sync::atomic::AtomicUsize,
}

struct State {
    /// The exchanges in flight, by message ID.
    waiting: HashMap<u16, Arc<Inbox>>,
    /// IDs of the last [`FINISHED_IDS`] exchanges that ended, oldest first.
    finished: VecDeque<u16>,
    /// Filled by each read without being zeroed first.
    buffer: Vec<u8>,
}

/// What the socket's readers handed to one exchange.
#[derive(Default)]
struct Inbox {
    mail: Mutex<Mail>,
    arrived: Notify,
}

#[derive(Default)]
struct Mail {
    /// Datagrams with the exchange's ID, in arrival order.
    datagrams: Vec<Vec<u8>>,
    /// A socket error (ICMP port unreachable, …): the socket only talks to
    /// this exchange's server, so it is this exchange's error too.
    error: Option<io::Error>,
    /// The last datagram with an ID nobody waited for.
    stray: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Channel {
    /// A socket connected to `server`, on a fresh ephemeral port.
    pub(super) async fn open(server: SocketAddr) -> Result<Channel, TransportError> {
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await.map_err(classify)?;
        // A connected socket only receives datagrams from `server`, and
        // reports ICMP port unreachable as ECONNREFUSED.
        socket.connect(server).await.map_err(classify)?;
        Ok(Channel {
            socket,
            state: Mutex::new(State {
                waiting: HashMap::new(),
                finished: VecDeque::new(),
                buffer: Vec::with_capacity(UDP_BUFFER),
            }),
            outbox: Mutex::new(Vec::new()),
            #[cfg(test)]
            sends: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How many exchanges are in flight on this socket.
    pub(super) fn in_flight(&self) -> usize {
        lock(&self.state).waiting.len()
    }

    /// Whether an exchange in flight here already uses `id`.
    pub(super) fn uses(&self, id: u16) -> bool {
        lock(&self.state).waiting.contains_key(&id)
    }

    /// Waits for the exchange with `id`, `None` if one in flight already
    /// has it. Dropping the registration ends the wait.
    fn register(self: &Arc<Self>, id: u16) -> Option<Registration> {
        let mut state = lock(&self.state);
        if state.waiting.contains_key(&id) {
            return None;
        }
        let inbox = Arc::new(Inbox::default());
        state.waiting.insert(id, Arc::clone(&inbox));
        Some(Registration {
            channel: Arc::clone(self),
            id,
            inbox,
        })
    }

    /// Reads every datagram that is ready and hands each to its exchange.
    /// Reads nothing when the runtime has not seen the socket become
    /// readable since the last read that came back empty.
    fn read_ready(&self) {
        let mut state = lock(&self.state);
        loop {
            let State {
                waiting,
                finished,
                buffer,
                ..
            } = &mut *state;
            buffer.clear();
            match self.socket.try_recv_buf(buffer) {
                Ok(_) => route(waiting, finished, buffer),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) => return fail_all(waiting, &error),
            }
        }
    }

    /// Hands the socket's pending error to every exchange waiting on it.
    ///
    /// An ICMP error (port unreachable) makes the socket ready for errors,
    /// not for reading: without this it would wait for the next send.
    fn take_error(&self) {
        if let Ok(Some(error)) = self.socket.take_error() {
            fail_all(&lock(&self.state).waiting, &error);
        }
        // The error is taken: clear the readiness it raised, or every wait
        // would end at once.
        let _ = self.socket.try_io(Interest::ERROR, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }

    /// Sends `request` with the other requests queued on this socket in
    /// the same scheduler turn. An error (ICMP port unreachable reported
    /// on a send, …) is that of every exchange on the socket, which gets
    /// it in its mail: they all talk to the one server, and the kernel
    /// reports it once, to whichever call comes first.
    async fn send(&self, id: u16, request: &[u8]) {
        lock(&self.outbox).push(Queued {
            id,
            datagram: request.to_vec(),
        });
        // Deferred by the runtime until the task's other ready futures
        // (the exchanges woken by the same replies) have been polled.
        tokio::task::yield_now().await;
        while !self.send_queued() {
            if let Err(error) = self.socket.writable().await {
                return fail_all(&lock(&self.state).waiting, &error);
            }
        }
    }

    /// Sends the queued requests, in as few system calls as the kernel
    /// takes: whether they all went; when the socket's buffer is full, the
    /// rest is queued again, first.
    fn send_queued(&self) -> bool {
        let mut batch = std::mem::take(&mut *lock(&self.outbox));
        let mut sent = 0;
        while sent < batch.len() {
            let rest = &batch[sent..];
            match self
                .socket
                .try_io(Interest::WRITABLE, || send_batch(&self.socket, rest))
            {
                Ok(count) => {
                    sent += count;
                    #[cfg(test)]
                    self.sends
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    let mut outbox = lock(&self.outbox);
                    batch.drain(..sent);
                    batch.append(&mut outbox);
                    *outbox = batch;
                    return false;
                }
                // Every exchange waiting here has the error now, those
                // whose requests are left unsent included.
                Err(error) => {
                    fail_all(&lock(&self.state).waiting, &error);
                    return true;
                }
            }
        }
        true
    }

    /// Sends `request` and waits for the reply that matches `expect`,
    /// resending the same bytes after each `per_try` timeout, `attempts`
    /// times in all; `None` if an exchange in flight here has its ID.
    pub(super) async fn exchange(
        self: &Arc<Self>,
        request: &[u8],
        expect: &Expect<'_>,
        per_try: Duration,
        attempts: u32,
        verify: Option<&Verify<'_>>,
    ) -> Option<Result<Exchanged, TransportError>> {
        let registration = self.register(expect.id)?;
        Some(
            registration
                .wait(request, expect, per_try, attempts, verify)
                .await,
        )
    }
}

/// Sends the first datagrams of `batch` in one system call: how many left.
#[cfg(target_os = "linux")]
fn send_batch(socket: &UdpSocket, batch: &[Queued]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut parts: Vec<libc::iovec> = batch
        .iter()
        .map(|Queued { datagram, .. }| libc::iovec {
            iov_base: datagram.as_ptr().cast_mut().cast(),
            iov_len: datagram.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = parts
        .iter_mut()
        .map(|part| {
            // SAFETY: mmsghdr is plain data; all zeros is a header with no
            // address (the socket is connected), no control data, no flags.
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = part;
            header.msg_hdr.msg_iovlen = 1;
            header
        })
        .collect();
    // The kernel sends at most UIO_MAXIOV (1,024) a call; the caller loops.
    let count = libc::c_uint::try_from(headers.len()).unwrap_or(1024);
    // SAFETY: `headers` holds `count` headers, each pointing at one iovec
    // of `parts`, each at a datagram of `batch`, all alive for the call;
    // the kernel only reads them (and writes each header's msg_len).
    let sent = unsafe { libc::sendmmsg(socket.as_raw_fd(), headers.as_mut_ptr(), count, 0) };
    match usize::try_from(sent) {
        Err(_) => Err(io::Error::last_os_error()),
        // Only for an empty batch, which is never sent: not a reason to
        // try again forever.
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(sent) => Ok(sent),
    }
}

/// Sends the first datagram of `batch`: elsewhere, one system call each.
#[cfg(not(target_os = "linux"))]
fn send_batch(socket: &UdpSocket, batch: &[Queued]) -> io::Result<usize> {
    socket.try_send(&batch[0].datagram).map(|_| 1)
}

/// Hands the datagram in `buffer` to the exchange whose ID it carries.
fn route(waiting: &HashMap<u16, Arc<Inbox>>, finished: &VecDeque<u16>, buffer: &[u8]) {
    let id = match buffer {
        [high, low, ..] => u16::from_be_bytes([*high, *low]),
        _ => {
            let stray = format!("a {} byte datagram is not a DNS reply", buffer.len());
            return tell_all(waiting, &stray);
        }
    };
    if let Some(inbox) = waiting.get(&id) {
        lock(&inbox.mail).datagrams.push(buffer.to_vec());
        inbox.arrived.notify_one();
    } else if !finished.contains(&id) {
        tell_all(
            waiting,
            &format!("reply with ID {id}, which no query in flight has"),
        );
    }
}

/// Hands a socket error to every exchange waiting on the socket.
fn fail_all(waiting: &HashMap<u16, Arc<Inbox>>, error: &io::Error) {
    for inbox in waiting.values() {
        lock(&inbox.mail).error = Some(io::Error::new(error.kind(), error.to_string()));
        inbox.arrived.notify_one();
    }
}

/// Notes a datagram nobody waited for with every waiting exchange: it came
/// from their server, and may be all it sends.
fn tell_all(waiting: &HashMap<u16, Arc<Inbox>>, stray: &str) {
    for inbox in waiting.values() {
        lock(&inbox.mail).stray = Some(stray.to_owned());
        inbox.arrived.notify_one();
    }
}

/// One exchange waiting on a channel; unregistered when dropped, however
/// the exchange ends (reply, error, timeout, `--deadline`).
struct Registration {
    channel: Arc<Channel>,
    id: u16,
    inbox: Arc<Inbox>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.channel.state);
            state.waiting.remove(&self.id);
            if state.finished.len() == FINISHED_IDS {
                state.finished.pop_front();
            }
            state.finished.push_back(self.id);
        }
        // An exchange dropped (`--deadline`) between queueing its request
        // and the batch leaving takes it back: nobody waits for its reply.
        lock(&self.channel.outbox).retain(|queued| queued.id != self.id);
    }
}

/// A request waiting in a channel's outbox.
struct Queued {
    /// The exchange's ID.
    id: u16,
    datagram: Vec<u8>,
}

impl Registration {
    async fn wait(
        &self,
        request: &[u8],
        expect: &Expect<'_>,
        per_try: Duration,
        attempts: u32,
        verify: Option<&Verify<'_>>,
    ) -> Result<Exchanged, TransportError> {
        let socket = &self.channel.socket;
        let mut mismatch: Option<String> = None;
        let mut malformed: Option<String> = None;
        let mut unverified: Option<Exchanged> = None;
        let mut discarded = 0;
        let attempts = attempts.max(1);
        for sends in 1..=attempts {
            self.channel.send(self.id, request).await;
            let deadline = Instant::from_std(deadline::instant_after(per_try));
            loop {
                let mail = std::mem::take(&mut *lock(&self.inbox.mail));
                if let Some(error) = mail.error {
                    return Err(classify(error));
                }
                if let Some(stray) = mail.stray {
                    mismatch = Some(stray);
                }
                for datagram in mail.datagrams {
                    // A datagram that fills the buffer may have been cut by
                    // the kernel: a server sending more than the payload
                    // size we advertise. Taken as truncated: TCP brings it
                    // whole.
                    let cut = datagram.len() >= UDP_BUFFER;
                    let reply = match check_reply(&datagram, expect) {
                        Checked::Reply { message, truncated } => Exchanged {
                            bytes: datagram,
                            message: message.filter(|_| !cut),
                            truncated: truncated || cut,
                            transport: Transport::Udp,
                            sends,
                            discarded,
                        },
                        Checked::Malformed(_) if cut => Exchanged {
                            bytes: datagram,
                            message: None,
                            truncated: true,
                            transport: Transport::Udp,
                            sends,
                            discarded,
                        },
                        Checked::Mismatch(why) => {
                            mismatch = Some(why);
                            continue;
                        }
                        Checked::Malformed(why) => {
                            malformed = Some(why);
                            continue;
                        }
                    };
                    // A truncated reply goes to TCP, where it is verified
                    // whole.
                    let verified = match (verify, &reply.message) {
                        (Some(verify), Some(message)) if !reply.truncated => {
                            verify(&reply.bytes, message)
                        }
                        _ => true,
                    };
                    if verified {
                        return Ok(Exchanged { discarded, ..reply });
                    }
                    discarded += 1;
                    unverified.get_or_insert(reply);
                }
                self.channel.read_ready();
                if !lock(&self.inbox.mail).is_empty() {
                    continue;
                }
                tokio::select! {
                    biased;
                    () = self.inbox.arrived.notified() => {}
                    ready = socket.ready(Interest::READABLE | Interest::ERROR) => {
                        if ready.map_err(classify)?.is_error() {
                            self.channel.take_error();
                        }
                    }
                    () = sleep_until(deadline) => break,
                }
            }
            // Someone answered this attempt, but not verifiably: sending
            // again would only ask the same question of the same path.
            if let Some(reply) = unverified {
                return Ok(Exchanged { discarded, ..reply });
            }
        }
        Err(match (malformed, mismatch) {
            (Some(why), _) => TransportError::Malformed(why),
            (None, Some(why)) => TransportError::Mismatch(why),
            (None, None) => TransportError::Timeout { attempts },
        })
    }
}

impl Mail {
    fn is_empty(&self) -> bool {
        self.datagrams.is_empty() && self.error.is_none()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future as _;
    use std::net::UdpSocket as StdUdpSocket;

    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    use std::num::NonZeroUsize;

    use super::super::{exchange, PoolInner, SocketPool, SOCKETS_PER_SERVER};
    use super::*;

    fn question(index: usize) -> Query {
        let name = Name::from_ascii(format!("_vlmcs._tcp.d{index}.example.")).unwrap();
        Query::query(name, RecordType::SRV)
    }

    /// A message with `id` about `question`: the request when `response`
    /// is false, else a reply to it.
    fn message(id: u16, question: &Query, response: bool) -> Vec<u8> {
        let mut message = Message::new();
        let kind = if response {
            MessageType::Response
        } else {
            MessageType::Query
        };
        message
            .set_id(id)
            .set_message_type(kind)
            .set_op_code(OpCode::Query)
            .add_query(question.clone());
        message.to_vec().unwrap()
    }

    /// A server on loopback that reads `batch` requests, then sends what
    /// `answer` makes of them (datagrams, in order, each to the asker of
    /// the request at its index) and starts again.
    fn server(
        batch: usize,
        answer: impl Fn(&[Message]) -> Vec<(usize, Vec<u8>)> + Send + 'static,
    ) -> SocketAddr {
        let socket = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            loop {
                let mut requests = Vec::new();
                let mut askers = Vec::new();
                while requests.len() < batch {
                    let Ok((len, peer)) = socket.recv_from(&mut buffer) else {
                        return;
                    };
                    if let Ok(request) = Message::from_vec(&buffer[..len]) {
                        requests.push(request);
                        askers.push(peer);
                    }
                }
                for (index, datagram) in answer(&requests) {
                    let _ = socket.send_to(&datagram, askers[index]);
                }
            }
        });
        address
    }

    /// How `count` queries (IDs 100, 101, …, each about its own name)
    /// sent to `server` at once ended: the name each reply was about, or
    /// the error.
    async fn ask_at_once(pool: &SocketPool, server: SocketAddr, count: usize) -> Vec<String> {
        let asking = (0..count).map(|index| async move {
            let question = question(index);
            let id = 100 + index as u16;
            let expect = Expect {
                id,
                op_code: OpCode::Query,
                question: &question,
            };
            let request = message(id, &question, false);
            let result = exchange(
                Transport::Udp,
                server,
                &request,
                &expect,
                Duration::from_millis(300),
                1,
            )
            .await;
            match result {
                Ok(exchanged) => exchanged.message.unwrap().queries()[0].name().to_ascii(),
                Err(TransportError::Timeout { .. }) => "timeout".to_owned(),
                Err(TransportError::Mismatch(_)) => "mismatch".to_owned(),
                Err(TransportError::Unreachable(_)) => "unreachable".to_owned(),
                Err(other) => format!("{other:?}"),
            }
        });
        pool.scope(futures_util::future::join_all(asking)).await
    }

    fn names(count: usize) -> Vec<String> {
        (0..count)
            .map(|index| format!("_vlmcs._tcp.d{index}.example."))
            .collect()
    }

    #[tokio::test]
    async fn replies_in_any_order_reach_their_exchanges_over_a_few_sockets() {
        // Eight at once, answered in reverse order of arrival.
        let server = server(8, |requests| {
            let replies = requests.iter().enumerate().rev();
            replies
                .map(|(i, r)| (i, message(r.id(), &r.queries()[0], true)))
                .collect()
        });
        let pool = SocketPool::new();
        assert_eq!(ask_at_once(&pool, server, 8).await, names(8));
        assert_eq!(pool.opened(), SOCKETS_PER_SERVER, "sockets are shared");
        // Later queries use the same sockets.
        assert_eq!(ask_at_once(&pool, server, 8).await, names(8));
        assert_eq!(pool.opened(), SOCKETS_PER_SERVER);
    }

    /// One query with `id` (about its own name) to `server`, within 500 ms.
    async fn ask_one(server: SocketAddr, id: u16) -> Result<Exchanged, TransportError> {
        let question = question(usize::from(id));
        let expect = Expect {
            id,
            op_code: OpCode::Query,
            question: &question,
        };
        let request = message(id, &question, false);
        let timeout = Duration::from_millis(500);
        exchange(Transport::Udp, server, &request, &expect, timeout, 1).await
    }

    /// Whether every request queued on the pool's sockets was sent.
    fn outboxes_empty(pool: &SocketPool) -> bool {
        let channels = pool.inner.channels();
        let mut all = channels.iter().flat_map(|(_, kept)| kept);
        all.all(|channel| lock(&channel.outbox).is_empty())
    }

    /// How many exchanges wait on the pool's sockets.
    fn in_flight(pool: &SocketPool) -> usize {
        let channels = pool.inner.channels();
        let all = channels.iter().flat_map(|(_, kept)| kept);
        all.map(|channel| lock(&channel.state).waiting.len()).sum()
    }

    #[tokio::test]
    async fn a_query_dropped_before_its_batch_left_is_never_sent() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let server = server(1, {
            let asked = Arc::clone(&asked);
            move |requests| {
                lock(&asked).push(requests[0].id());
                vec![(
                    0,
                    message(requests[0].id(), &requests[0].queries()[0], true),
                )]
            }
        });
        let pool = SocketPool::new();
        let ask = |id: u16| ask_one(server, id);
        pool.scope(async {
            // Queued, then dropped (as `--deadline` drops a read) before
            // the turn's batch left.
            let mut dropped = Box::pin(ask(100));
            futures_util::future::poll_fn(|cx| {
                let _ = dropped.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
            drop(dropped);
            assert!(outboxes_empty(&pool), "taken back");
            // Every socket sends again.
            for id in 101..101 + 4 * SOCKETS_PER_SERVER as u16 {
                assert!(ask(id).await.is_ok(), "{id}");
            }
        })
        .await;
        let asked = lock(&asked).clone();
        assert!(!asked.contains(&100), "{asked:?}");
        assert_eq!(asked.len(), 4 * SOCKETS_PER_SERVER, "{asked:?}");
    }

    /// How many system calls the pool's sockets made to send.
    fn send_calls(pool: &SocketPool) -> usize {
        let channels = pool.inner.channels();
        let sends = channels.iter().flat_map(|(_, kept)| kept);
        sends
            .map(|channel| channel.sends.load(std::sync::atomic::Ordering::Relaxed))
            .sum()
    }

    #[tokio::test]
    async fn the_queries_of_one_turn_leave_in_one_system_call_per_socket() {
        let server = server(16, |requests| {
            let replies = requests.iter().enumerate();
            replies
                .map(|(i, r)| (i, message(r.id(), &r.queries()[0], true)))
                .collect()
        });
        let pool = SocketPool::new();
        assert_eq!(ask_at_once(&pool, server, 16).await, names(16));
        assert_eq!(pool.opened(), SOCKETS_PER_SERVER);
        // One call per socket, not one per query.
        assert_eq!(send_calls(&pool), SOCKETS_PER_SERVER);
    }

    #[tokio::test]
    async fn a_reply_with_the_right_id_about_another_question_is_dropped() {
        // Each query first gets a reply with its ID about the next query's
        // question (which another exchange on the socket is waiting for),
        // then its real reply.
        let server = server(4, |requests| {
            let forged = requests.iter().enumerate().map(|(i, r)| {
                let other = &requests[(i + 1) % requests.len()].queries()[0];
                (i, message(r.id(), other, true))
            });
            let real = requests.iter().enumerate();
            let real = real.map(|(i, r)| (i, message(r.id(), &r.queries()[0], true)));
            forged.chain(real).collect()
        });
        let pool = SocketPool::new();
        assert_eq!(ask_at_once(&pool, server, 4).await, names(4));
    }

    #[tokio::test]
    async fn only_forgeries_are_reported_as_such() {
        // Replies with IDs nobody asked with: no exchange takes them, each
        // reports them once its attempts are spent.
        let server = server(3, |requests| {
            let forged = requests.iter().enumerate();
            let forged = forged.map(|(i, r)| (i, message(r.id() ^ 0x8000, &r.queries()[0], true)));
            forged.collect()
        });
        let pool = SocketPool::new();
        assert_eq!(ask_at_once(&pool, server, 3).await, ["mismatch"; 3]);
    }

    #[tokio::test]
    async fn a_late_reply_to_a_finished_exchange_is_dropped() {
        // Query 0 is answered, and answered again after query 1 was sent;
        // query 1 itself never is.
        let server = server(1, |requests| {
            let request = &requests[0];
            if request.id() == 100 {
                vec![(0, message(100, &request.queries()[0], true))]
            } else {
                vec![(0, message(100, &question(0), true))]
            }
        });
        let pool = SocketPool::new();
        assert_eq!(ask_at_once(&pool, server, 1).await, names(1));
        let second = pool.scope(async {
            let question = question(1);
            let expect = Expect {
                id: 101,
                op_code: OpCode::Query,
                question: &question,
            };
            let request = message(101, &question, false);
            exchange(
                Transport::Udp,
                server,
                &request,
                &expect,
                Duration::from_millis(200),
                1,
            )
            .await
        });
        // Not taken as the answer, nor reported as a forgery: a copy of a
        // reply already read.
        assert!(matches!(
            second.await,
            Err(TransportError::Timeout { attempts: 1 })
        ));
        assert_eq!(pool.opened(), 1);
    }

    #[tokio::test]
    async fn a_socket_error_reaches_every_exchange_waiting_on_it() {
        // Nothing listens there: the kernel answers with ICMP port
        // unreachable, which a connected socket reports.
        let nobody = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let server = nobody.local_addr().unwrap();
        drop(nobody);
        let pool = SocketPool::new();
        assert_eq!(ask_at_once(&pool, server, 6).await, ["unreachable"; 6]);
        // The sockets stay usable for the run.
        assert_eq!(ask_at_once(&pool, server, 2).await, ["unreachable"; 2]);
    }

    #[tokio::test]
    async fn an_exchange_reads_its_reply_while_the_others_on_its_socket_are_not_polled() {
        // Only the query with ID 200 is answered.
        let server = server(1, |requests| match requests[0].id() {
            200 => vec![(0, message(200, &requests[0].queries()[0], true))],
            _ => Vec::new(),
        });
        let pool = SocketPool::new();
        let ask = |id: u16| ask_one(server, id);
        let answered = pool.scope(async {
            // One exchange in flight on each of the server's sockets, sent
            // and then never polled again (as when its caller waits on
            // something else): polled until its query left the outbox.
            let mut stalled: Vec<_> = (100..100 + SOCKETS_PER_SERVER as u16)
                .map(|id| Box::pin(ask(id)))
                .collect();
            for exchange in &mut stalled {
                for turn in 0.. {
                    assert!(turn < 1000, "the query never left");
                    futures_util::future::poll_fn(|cx| {
                        let _ = exchange.as_mut().poll(cx);
                        std::task::Poll::Ready(())
                    })
                    .await;
                    if outboxes_empty(&pool) {
                        break;
                    }
                    // Lets the runtime find the socket writable.
                    tokio::task::yield_now().await;
                }
            }
            assert_eq!(in_flight(&pool), SOCKETS_PER_SERVER);
            let started = Instant::now();
            let answered = ask(200).await;
            (answered, started.elapsed())
        });
        let (answered, took) = answered.await;
        assert!(answered.is_ok(), "{:?}", answered.err());
        assert!(took < Duration::from_millis(400), "waited {took:?}");
        assert_eq!(pool.opened(), SOCKETS_PER_SERVER, "the socket was shared");
    }

    /// A server that answers every query, `after` each one.
    fn answering(after: Duration) -> SocketAddr {
        server(1, move |requests| {
            std::thread::sleep(after);
            vec![(
                0,
                message(requests[0].id(), &requests[0].queries()[0], true),
            )]
        })
    }

    /// A pool that keeps the sockets of `servers` servers.
    fn keeping(servers: usize) -> SocketPool {
        let servers = NonZeroUsize::new(servers).unwrap();
        let inner = PoolInner::bounded(servers, NonZeroUsize::MIN);
        SocketPool {
            inner: Arc::new(inner),
        }
    }

    #[tokio::test]
    async fn the_sockets_of_the_servers_asked_last_are_kept_the_others_closed() {
        let servers: Vec<SocketAddr> = (0..3).map(|_| answering(Duration::ZERO)).collect();
        let pool = keeping(2);
        let ask = |server: SocketAddr| pool.scope(ask_one(server, 100));
        assert!(ask(servers[0]).await.is_ok());
        let first = Arc::downgrade(&pool.inner.channels().peek(&servers[0]).unwrap()[0]);
        for server in &servers[1..] {
            assert!(ask(*server).await.is_ok());
        }
        assert_eq!(pool.opened(), 3);
        assert_eq!(pool.inner.channels().len(), 2, "bounded");
        assert!(
            first.upgrade().is_none(),
            "the first server's socket closed"
        );
        // The last two keep theirs; the first gets a fresh one.
        assert!(ask(servers[2]).await.is_ok());
        assert!(ask(servers[1]).await.is_ok());
        assert_eq!(pool.opened(), 3);
        assert!(ask(servers[0]).await.is_ok());
        assert_eq!(pool.opened(), 4);
        assert!(!pool.inner.channels().contains(&servers[2]));
    }

    #[tokio::test]
    async fn an_exchange_on_a_socket_forgotten_meanwhile_still_gets_its_reply() {
        let slow = answering(Duration::from_millis(200));
        let fast = answering(Duration::ZERO);
        let pool = keeping(1);
        let (slow_reply, fast_reply) = pool
            .scope(async {
                futures_util::future::join(ask_one(slow, 100), async {
                    // Once the slow server's query has left, the fast
                    // server's socket takes the pool's one place.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    ask_one(fast, 101).await
                })
                .await
            })
            .await;
        assert!(slow_reply.is_ok(), "{:?}", slow_reply.err());
        assert!(fast_reply.is_ok(), "{:?}", fast_reply.err());
        assert_eq!(pool.opened(), 2);
        let channels = pool.inner.channels();
        assert_eq!(
            channels
                .iter()
                .map(|(server, _)| *server)
                .collect::<Vec<_>>(),
            [fast]
        );
    }

    #[tokio::test]
    async fn an_id_in_flight_on_a_socket_is_not_given_twice() {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let channel = Arc::new(Channel::open(server).await.unwrap());
        let held = channel.register(7).expect("a free ID");
        assert!(channel.uses(7));
        assert!(channel.register(7).is_none(), "ID 7 is in flight");
        drop(held);
        assert!(!channel.uses(7));
        assert!(channel.register(7).is_some());
    }
}
