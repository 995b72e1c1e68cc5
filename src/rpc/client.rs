//! Probes one address the way a KMS client starts talking to its host: TCP
//! connect, a DCE/RPC bind for the KMS interface, one reply PDU, close.
//!
//! **Only a bind (ptype 11) is ever sent; never a request (ptype 0).** A
//! bind is answered by the RPC runtime (DCE 1.1, C706 ch. 12; MS-RPCE
//! §3.3.1.5) and never reaches the KMS activation method, so probing adds no
//! client to the host's count table. The only bytes written come from
//! [`BindPdu`], which cannot encode anything else.
//!
//! The reply is untrusted: the read is bounded in size ([`MAX_REPLY_LEN`])
//! and in time ([`Timeouts::reply`]), and a header that is not a bind reply
//! ends the read at once, without waiting for more bytes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time;

use crate::concurrency::deadline::{self, Overrun};

use super::pdu::{
    rejection_reason_name, result_name, BindPdu, ParseError, RejectReason, ReplyHeader, Verdict,
    HEADER_LEN,
};

/// The largest reply read. A KMS bind_ack is under 100 bytes; a header
/// announcing more than this is not the answer of a KMS host.
pub const MAX_REPLY_LEN: usize = 4096;

/// How long each step may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Bound on the TCP handshake.
    pub connect: Duration,
    /// Bound on sending the bind and reading the whole reply.
    pub reply: Duration,
}

impl Default for Timeouts {
    /// Three seconds each: a healthy host answers a bind in milliseconds.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(3),
            reply: Duration::from_secs(3),
        }
    }
}

/// The step of the exchange at which a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// The TCP handshake.
    Connect,
    /// Writing the bind.
    Send,
    /// Reading the 16-byte reply header.
    ReadHeader,
    /// Reading the rest of the reply PDU.
    ReadBody,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Connect => "connect",
            Step::Send => "sending the bind",
            Step::ReadHeader => "reading the reply header",
            Step::ReadBody => "reading the reply body",
        })
    }
}

/// What probing one address found. JSON: `"verdict"` plus the details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Outcome {
    /// The host accepted the KMS interface: a KMS client would get through.
    Kms,
    /// An RPC server without the KMS interface (context result 1 or 2).
    RpcNotKms {
        /// Context result code (1 user, 2 provider rejection).
        result: u16,
        /// Rejection reason code (1 abstract syntax not supported).
        reason: u16,
    },
    /// An RPC server that refused the bind as a whole (bind_nak).
    RpcBindRefused {
        /// Its reject reason, with code and name.
        reason: RejectReason,
    },
    /// The port answers, but not as DCE/RPC.
    NotRpc {
        /// What gave it away.
        why: String,
    },
    /// The TCP connection could not be made (refused, or unreachable).
    TcpRefused {
        /// The system's error.
        error: String,
    },
    /// A step did not finish in time.
    TcpTimeout {
        /// The step that was pending.
        step: Step,
    },
    /// `--deadline` passed before the probe ended (the domain's or the
    /// host's deadline, docs/timeouts.md).
    DeadlineExceeded {
        /// When it passed and the step the probe was on.
        error: Overrun,
    },
    /// The connection was reset or closed before a full reply.
    Reset {
        /// The step at which it happened.
        step: Step,
        /// The system's error, or how many bytes had arrived.
        error: String,
    },
}

impl Outcome {
    /// True when a KMS client would be served at this address.
    pub fn is_kms(&self) -> bool {
        matches!(self, Outcome::Kms)
    }
}

impl From<Verdict> for Outcome {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Kms => Outcome::Kms,
            Verdict::RpcNotKms { result, reason } => Outcome::RpcNotKms { result, reason },
            Verdict::RpcBindRefused { reason } => Outcome::RpcBindRefused { reason },
            Verdict::NotRpc { why } => Outcome::NotRpc { why },
        }
    }
}

impl fmt::Display for Outcome {
    /// One line for people, e.g. "RPC server without the KMS interface".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Kms => f.write_str("KMS interface accepted"),
            Outcome::RpcNotKms { result, reason } => write!(
                f,
                "RPC server without the KMS interface ({}: {})",
                result_name(*result),
                rejection_reason_name(*reason)
            ),
            Outcome::RpcBindRefused { reason } => {
                write!(f, "RPC server refused the bind: {reason}")
            }
            Outcome::NotRpc { why } => write!(f, "port open but not DCE/RPC: {why}"),
            Outcome::TcpRefused { error } => write!(f, "TCP connection failed: {error}"),
            Outcome::TcpTimeout { step } => write!(f, "timed out at {step}"),
            Outcome::DeadlineExceeded { error } => write!(f, "{error}"),
            Outcome::Reset { step, error } => write!(f, "connection lost at {step}: {error}"),
        }
    }
}

/// The result of probing one address, with the time each step took.
///
/// A latency is the time until the step finished or failed; `None` when the
/// step was never reached. JSON carries them as `connect_ms` / `reply_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressProbe {
    /// The address probed.
    pub address: SocketAddr,
    /// What was found.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// TCP handshake time.
    #[serde(rename = "connect_ms", serialize_with = "millis")]
    pub connect: Option<Duration>,
    /// Time from sending the bind to the end of the reply.
    #[serde(rename = "reply_ms", serialize_with = "millis")]
    pub reply: Option<Duration>,
}

fn millis<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_f64(duration.as_secs_f64() * 1000.0),
        None => serializer.serialize_none(),
    }
}

/// Each probe uses a fresh call_id, so a reply cannot be taken for the
/// answer to another bind.
static NEXT_CALL_ID: AtomicU32 = AtomicU32::new(1);

/// Probes `addr`: connect, bind to the KMS interface, read one reply, close.
///
/// Never fails: every way the exchange can go is an [`Outcome`].
pub async fn probe_address(addr: SocketAddr, timeouts: Timeouts) -> AddressProbe {
    let bind = BindPdu::kms(NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed));

    let started = Instant::now();
    let connecting = deadline::step(|| format!("probing {addr}"));
    let connected = time::timeout(timeouts.connect, TcpStream::connect(addr)).await;
    let connect = Some(started.elapsed());
    let mut stream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            return AddressProbe {
                address: addr,
                outcome: connect_failure(error),
                connect,
                reply: None,
            }
        }
        Err(_elapsed) => {
            return AddressProbe {
                address: addr,
                outcome: Outcome::TcpTimeout {
                    step: Step::Connect,
                },
                connect,
                reply: None,
            }
        }
    };
    drop(connecting);
    // The bind is one small write; do not let Nagle hold it back.
    let _ = stream.set_nodelay(true);

    let mut step = Step::Send;
    let sent = Instant::now();
    let _waiting = deadline::step(|| format!("waiting for the RPC bind reply from {addr}"));
    let exchanged = time::timeout(timeouts.reply, exchange(&mut stream, &bind, &mut step)).await;
    let reply = Some(sent.elapsed());
    let outcome = exchanged.unwrap_or(Outcome::TcpTimeout { step });
    // Dropping the stream closes the connection; nothing else is sent.
    drop(stream);
    AddressProbe {
        address: addr,
        outcome,
        connect,
        reply,
    }
}

fn connect_failure(error: io::Error) -> Outcome {
    match error.kind() {
        io::ErrorKind::TimedOut => Outcome::TcpTimeout {
            step: Step::Connect,
        },
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Outcome::Reset {
            step: Step::Connect,
            error: error.to_string(),
        },
        // Refused, and also host/network unreachable: no TCP session.
        _ => Outcome::TcpRefused {
            error: error.to_string(),
        },
    }
}

/// Sends the bind and reads one reply PDU. `step` tracks progress so that a
/// timeout around this future can say where it stopped.
async fn exchange(stream: &mut TcpStream, bind: &BindPdu, step: &mut Step) -> Outcome {
    *step = Step::Send;
    if let Err(error) = stream.write_all(bind.as_bytes()).await {
        return Outcome::Reset {
            step: Step::Send,
            error: error.to_string(),
        };
    }

    *step = Step::ReadHeader;
    let mut reply = vec![0u8; MAX_REPLY_LEN];
    let mut filled = 0;
    // The header is checked after every read, so garbage ends the read as
    // soon as it shows, instead of waiting for sixteen bytes or a timeout.
    let header = loop {
        match ReplyHeader::parse(&reply[..filled], bind.call_id()) {
            Ok(header) => break header,
            Err(error) if !error.is_truncated() => {
                return Outcome::NotRpc {
                    why: error.to_string(),
                }
            }
            Err(_) => {}
        }
        if let Err(lost) = read_some(stream, &mut reply[..HEADER_LEN], &mut filled).await {
            return lost.into_outcome(Step::ReadHeader, filled, HEADER_LEN);
        }
    };

    let frag_length = usize::from(header.frag_length);
    if frag_length > MAX_REPLY_LEN {
        return Outcome::NotRpc {
            why: ParseError::FragLengthOverCap {
                frag_length: header.frag_length,
                cap: MAX_REPLY_LEN,
            }
            .to_string(),
        };
    }

    *step = Step::ReadBody;
    while filled < frag_length {
        if let Err(lost) = read_some(stream, &mut reply[..frag_length], &mut filled).await {
            return lost.into_outcome(Step::ReadBody, filled, frag_length);
        }
    }
    bind.judge(&reply[..frag_length]).into()
}

/// How a read ended without data.
enum Lost {
    Closed,
    Error(io::Error),
}

impl Lost {
    fn into_outcome(self, step: Step, got: usize, wanted: usize) -> Outcome {
        let error = match self {
            Lost::Closed => format!("closed by the peer after {got} of {wanted} bytes"),
            Lost::Error(error) => format!("{error} after {got} of {wanted} bytes"),
        };
        Outcome::Reset { step, error }
    }
}

/// Reads whatever is available into `buffer[*filled..]`.
async fn read_some(
    stream: &mut TcpStream,
    buffer: &mut [u8],
    filled: &mut usize,
) -> Result<(), Lost> {
    match stream.read(&mut buffer[*filled..]).await {
        Ok(0) => Err(Lost::Closed),
        Ok(n) => {
            *filled += n;
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(error) => Err(Lost::Error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::pdu::{PTYPE_BIND, PTYPE_REQUEST};

    #[tokio::test]
    async fn under_a_deadline_a_bind_never_answered_names_its_step() {
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            panic!("cannot listen on loopback");
        };
        let addr = listener
            .local_addr()
            .unwrap_or(SocketAddr::from(([0; 4], 0)));
        // Accepts and holds the connection, never answering.
        let silent = tokio::spawn(async move {
            let held = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(held);
        });
        let timeouts = Timeouts {
            connect: Duration::from_secs(5),
            reply: Duration::from_secs(5),
        };
        let cut = deadline::within(Duration::from_millis(200), probe_address(addr, timeouts)).await;
        silent.abort();
        let step = cut.err().and_then(|overrun| overrun.step);
        assert_eq!(
            step,
            Some(format!("waiting for the RPC bind reply from {addr}"))
        );
    }

    #[test]
    fn call_ids_differ_and_binds_are_never_requests() {
        let a = BindPdu::kms(NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed));
        let b = BindPdu::kms(NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed));
        assert_ne!(a.call_id(), b.call_id());
        for bind in [a, b] {
            assert_eq!(bind.as_bytes()[2], PTYPE_BIND);
            assert_ne!(bind.as_bytes()[2], PTYPE_REQUEST);
        }
    }

    #[test]
    fn serialises_with_kebab_verdicts_and_millisecond_latencies() {
        let probe = AddressProbe {
            address: SocketAddr::from(([192, 0, 2, 7], 1688)),
            outcome: Outcome::Kms,
            connect: Some(Duration::from_micros(1500)),
            reply: Some(Duration::from_millis(3)),
        };
        let json = serde_json::to_value(&probe).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({
                "address": "192.0.2.7:1688",
                "verdict": "kms",
                "connect_ms": 1.5,
                "reply_ms": 3.0,
            }))
        );
    }

    #[test]
    fn every_outcome_has_its_verdict_name() {
        let outcomes = [
            (Outcome::Kms, "kms"),
            (
                Outcome::RpcNotKms {
                    result: 2,
                    reason: 1,
                },
                "rpc-not-kms",
            ),
            (
                Outcome::RpcBindRefused {
                    reason: RejectReason::from_code(4),
                },
                "rpc-bind-refused",
            ),
            (Outcome::NotRpc { why: "x".into() }, "not-rpc"),
            (Outcome::TcpRefused { error: "x".into() }, "tcp-refused"),
            (
                Outcome::TcpTimeout {
                    step: Step::Connect,
                },
                "tcp-timeout",
            ),
            (
                Outcome::Reset {
                    step: Step::ReadBody,
                    error: "x".into(),
                },
                "reset",
            ),
        ];
        for (outcome, name) in outcomes {
            let probe = AddressProbe {
                address: SocketAddr::from(([127, 0, 0, 1], 1688)),
                outcome,
                connect: Some(Duration::ZERO),
                reply: None,
            };
            let json = serde_json::to_value(&probe).unwrap_or_default();
            assert_eq!(json["verdict"], name);
            assert_eq!(json["connect_ms"], 0.0);
            assert!(json["reply_ms"].is_null());
        }
    }

    #[test]
    fn details_are_serialised_beside_the_verdict() {
        let json = serde_json::to_value(Outcome::RpcBindRefused {
            reason: RejectReason::from_code(4),
        })
        .unwrap_or_default();
        assert_eq!(json["reason"]["name"], "protocol-version-not-supported");
        let json = serde_json::to_value(Outcome::Reset {
            step: Step::ReadHeader,
            error: "closed".into(),
        })
        .unwrap_or_default();
        assert_eq!(json["step"], "read-header");
    }
}
