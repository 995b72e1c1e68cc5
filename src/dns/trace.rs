//! What `-v` shows: every DNS exchange of a run (server, transport,
//! question, rcode, time) and the notes the commands add, as events sent to
//! whoever writes the run's stderr.
//!
//! The events travel on a channel held in a task-local, as the socket pool
//! does: inside [`scope`] every exchange of this task reports itself; outside
//! it (or without `-v`) nothing is recorded and nothing costs more than one
//! task-local lookup.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{OpCode, Query};
use hickory_proto::rr::RecordType;
use tokio::sync::mpsc::UnboundedSender;

use super::transport::{Exchanged, Transport, TransportError};

/// One line of `-v` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One request and its reply, or why none came.
    Exchange(Exchange),
    /// A step a command took, in its own words.
    Note(String),
}

/// One DNS exchange as `-v` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub server: SocketAddr,
    pub transport: Transport,
    /// QUERY, UPDATE…
    pub op_code: OpCode,
    /// The question (for UPDATE, the zone) as `name TYPE`.
    pub question: String,
    /// The reply's rcode (`NOERROR`, `REFUSED`…), or why there was none.
    pub outcome: String,
    /// How many times the request was sent.
    pub sends: u32,
    /// Replies to a signed request set aside because they did not verify.
    pub discarded: u32,
    pub elapsed: Duration,
}

tokio::task_local! {
    static TRACE: UnboundedSender<Event>;
}

/// Runs `future` with every exchange and note in it (in this task) sent to
/// `events`.
pub async fn scope<F: std::future::Future>(events: UnboundedSender<Event>, future: F) -> F::Output {
    TRACE.scope(events, future).await
}

/// Whether `-v` output is being collected here.
pub fn enabled() -> bool {
    TRACE.try_with(|_| ()).is_ok()
}

/// Adds a note to the `-v` output, made only when it is collected.
pub fn note(text: impl FnOnce() -> String) {
    let _ = TRACE.try_with(|events| events.send(Event::Note(text())));
}

/// Records one exchange, if `-v` output is collected.
pub(crate) fn exchange(
    server: SocketAddr,
    transport: Transport,
    request: &Query,
    op_code: OpCode,
    result: &Result<Exchanged, TransportError>,
    elapsed: Duration,
) {
    let _ = TRACE.try_with(|events| {
        let discarded = result.as_ref().map_or(0, |exchanged| exchanged.discarded);
        let (outcome, sends) = match result {
            Ok(exchanged) => (
                rcode(&exchanged.bytes, exchanged.truncated),
                exchanged.sends,
            ),
            Err(TransportError::Timeout { attempts }) => {
                ("no reply (timeout)".to_owned(), *attempts)
            }
            Err(TransportError::Silent) => ("not sent: no reply earlier in this run".to_owned(), 0),
            Err(TransportError::Unreachable(e)) => (format!("unreachable ({e})"), 1),
            Err(TransportError::Io(e)) => (format!("socket error ({e})"), 1),
            Err(TransportError::Malformed(why)) => (format!("malformed reply ({why})"), 1),
            Err(TransportError::Mismatch(why)) => (format!("no matching reply ({why})"), 1),
        };
        events.send(Event::Exchange(Exchange {
            server,
            transport,
            op_code,
            question: question(request),
            outcome,
            sends,
            discarded,
            elapsed,
        }))
    });
}

fn question(query: &Query) -> String {
    match query.query_type() {
        RecordType::SOA if query.name().is_root() => ". SOA".to_owned(),
        rtype => format!("{} {rtype}", query.name()),
    }
}

/// The rcode of a reply from its header (RFC 1035 §4.1.1; the extended
/// bits of EDNS are not needed to tell what happened).
pub(crate) fn rcode(bytes: &[u8], truncated: bool) -> String {
    // The mnemonics of RFC 1035 §4.1.1 and RFC 2136 §2.2, as dig prints them.
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    let code = bytes.get(3).map_or(0, |b| usize::from(b & 0x0f));
    let name = NAMES
        .get(code)
        .map_or_else(|| format!("RCODE{code}"), |name| (*name).to_owned());
    if truncated {
        format!("{name}, truncated")
    } else {
        name
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Note(text) => write!(f, "kmsdns: {text}"),
            Event::Exchange(e) => {
                let transport = match e.transport {
                    Transport::Udp => "udp",
                    Transport::Tcp => "tcp",
                };
                write!(
                    f,
                    "kmsdns: dns {} {transport} {} {}: {} in {:.1} ms",
                    e.server,
                    e.op_code,
                    e.question,
                    e.outcome,
                    e.elapsed.as_secs_f64() * 1000.0
                )?;
                if e.sends > 1 {
                    write!(f, " ({} sends)", e.sends)?;
                }
                if e.discarded > 0 {
                    write!(
                        f,
                        " ({} unverified repl{} set aside)",
                        e.discarded,
                        if e.discarded == 1 { "y" } else { "ies" }
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rcode_is_read_from_the_header() {
        // ID, flags (QR, opcode 0), then RCODE 5 (REFUSED) in the low nibble.
        let header = [0x12, 0x34, 0x80, 0x05, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(rcode(&header, false), "REFUSED");
        let nxdomain = [0x12, 0x34, 0x80, 0x03, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(rcode(&nxdomain, true), "NXDOMAIN, truncated");
    }

    #[tokio::test]
    async fn notes_are_sent_only_inside_a_scope() {
        note(|| unreachable!("not collected outside a scope"));
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
        scope(sender, async {
            assert!(enabled());
            note(|| "read the RRset".to_owned());
        })
        .await;
        let event = receiver.recv().await;
        assert_eq!(event, Some(Event::Note("read the RRset".into())));
        assert_eq!(
            event.map(|e| e.to_string()).as_deref(),
            Some("kmsdns: read the RRset")
        );
        assert_eq!(receiver.recv().await, None);
    }
}
