//! `probe_address` against a loopback responder in every mode: each gives its
//! verdict, within its timeout, and only ever a bind (ptype 11) is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use kmsdns::concurrency::deadline;
use kmsdns::rpc::{probe_address, AddressProbe, Outcome, RejectReason, Step, Timeouts};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::common::kms_responder::{KmsResponder, Mode};

/// The probe's timeouts. An answer already given comes within a few ms
/// here and must come before the reply timeout, which is long so that a
/// loaded machine does not reach it; the connect timeout is far above the
/// reply timeout plus [`MARGIN`], so that a step that ends by the wrong one
/// fails.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    reply: Duration::from_secs(3),
};

/// How late past its timeout a step may end: scheduling slack on a loaded
/// machine (two cores shared with BIND and the other test threads). Steps
/// end within a few ms of their timeouts here; 3 s is generous and still
/// tells the reply timeout from the connect timeout.
const MARGIN: Duration = Duration::from_secs(3);

/// The 116-byte bind of the design note (call_id 2), without its call_id.
const REFERENCE_BIND: &str = "
    05000b03100000007400000002000000d016d016000000000200000000000100
    7521c8514e845047b0d8ec255555bc0601000000045d888aeb1cc9119fe80800
    2b10486002000000010001007521c8514e845047b0d8ec255555bc0601000000
    2c1cb76c12984045030000000000000001000000";

fn reference_bind() -> Vec<u8> {
    let digits: Vec<u8> = REFERENCE_BIND
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| (b as char).to_digit(16).unwrap_or(0) as u8)
        .collect();
    digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect()
}

/// Probes `addr` with `timeouts` and checks the whole probe stayed within
/// them.
async fn probe_within(addr: SocketAddr, timeouts: Timeouts) -> (AddressProbe, Duration) {
    let started = Instant::now();
    let probe = probe_address(addr, timeouts).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < timeouts.connect + timeouts.reply + MARGIN,
        "{addr}: took {elapsed:?}, beyond {timeouts:?}"
    );
    (probe, elapsed)
}

/// Probes a responder that answers (or closes) at once: no step may have
/// waited for a timeout.
async fn probe_answering(responder: &KmsResponder) -> AddressProbe {
    let (probe, elapsed) = probe_within(responder.addr(), TIMEOUTS).await;
    assert!(
        elapsed < TIMEOUTS.reply,
        "{:?} waited {elapsed:?} for an answer already given",
        probe.outcome
    );
    assert_only_binds_sent(responder);
    probe
}

/// Every PDU the responder read is our bind: ptype 11, never 0, and byte
/// for byte the reference bind apart from its call_id.
fn assert_only_binds_sent(responder: &KmsResponder) {
    let reference = reference_bind();
    for request in responder.received() {
        assert_eq!(request.get(2), Some(&11), "ptype of {request:02x?}");
        assert_eq!(request.len(), 116);
        assert_eq!(request[..12], reference[..12]);
        assert_eq!(request[16..], reference[16..]);
    }
}

#[tokio::test]
async fn kms_host_is_kms() {
    let responder = KmsResponder::start(Mode::Kms).await;
    let probe = probe_answering(&responder).await;
    assert_eq!(probe.outcome, Outcome::Kms);
    assert_eq!(probe.address, responder.addr());
    assert!(probe.connect.is_some() && probe.reply.is_some());
    assert_eq!(responder.received().len(), 1);
}

#[tokio::test]
async fn each_probe_uses_a_new_call_id_and_the_reply_must_echo_it() {
    let responder = KmsResponder::start(Mode::Kms).await;
    for _ in 0..3 {
        assert_eq!(probe_answering(&responder).await.outcome, Outcome::Kms);
    }
    let mut call_ids: Vec<[u8; 4]> = responder
        .received()
        .iter()
        .filter_map(|request| request.get(12..16)?.try_into().ok())
        .collect();
    call_ids.sort_unstable();
    call_ids.dedup();
    assert_eq!(call_ids.len(), 3, "call_ids repeated: {call_ids:02x?}");
}

#[tokio::test]
async fn unrelated_rpc_server_is_rpc_not_kms() {
    let responder = KmsResponder::start(Mode::UnrelatedProvider).await;
    assert_eq!(
        probe_answering(&responder).await.outcome,
        Outcome::RpcNotKms {
            result: 2,
            reason: 1
        }
    );
}

#[tokio::test]
async fn impacket_style_server_is_rpc_not_kms() {
    let responder = KmsResponder::start(Mode::UnrelatedUser).await;
    assert_eq!(
        probe_answering(&responder).await.outcome,
        Outcome::RpcNotKms {
            result: 1,
            reason: 1
        }
    );
}

#[tokio::test]
async fn bind_nak_is_rpc_bind_refused_for_every_reason() {
    for code in [0, 1, 2, 4, 8, 9] {
        let responder = KmsResponder::start(Mode::BindNak(code)).await;
        assert_eq!(
            probe_answering(&responder).await.outcome,
            Outcome::RpcBindRefused {
                reason: RejectReason::from_code(code)
            }
        );
    }
}

#[tokio::test]
async fn garbage_is_not_rpc() {
    let responder = KmsResponder::start(Mode::Garbage).await;
    let probe = probe_answering(&responder).await;
    assert!(
        matches!(probe.outcome, Outcome::NotRpc { ref why } if why.contains("0x48")),
        "{:?}",
        probe.outcome
    );
}

#[tokio::test]
async fn truncated_reply_is_a_reset_while_reading_the_body() {
    let responder = KmsResponder::start(Mode::Truncated).await;
    let probe = probe_answering(&responder).await;
    assert!(
        matches!(
            probe.outcome,
            Outcome::Reset { step: Step::ReadBody, ref error } if error.contains("40 of 84")
        ),
        "{:?}",
        probe.outcome
    );
}

#[tokio::test]
async fn huge_frag_length_is_not_rpc_without_waiting_for_it() {
    let responder = KmsResponder::start(Mode::HugeFragLength).await;
    let probe = probe_answering(&responder).await;
    assert!(
        matches!(probe.outcome, Outcome::NotRpc { ref why } if why.contains("65535")),
        "{:?}",
        probe.outcome
    );
}

#[tokio::test]
async fn immediate_close_is_a_reset() {
    let responder = KmsResponder::start(Mode::CloseImmediately).await;
    let probe = probe_answering(&responder).await;
    assert!(
        matches!(
            probe.outcome,
            Outcome::Reset {
                step: Step::Send | Step::ReadHeader,
                ..
            }
        ),
        "{:?}",
        probe.outcome
    );
}

#[tokio::test]
async fn silent_server_times_out_reading_the_header() {
    let responder = KmsResponder::start(Mode::NeverAnswer).await;
    let (probe, elapsed) = probe_within(responder.addr(), TIMEOUTS).await;
    assert_eq!(
        probe.outcome,
        Outcome::TcpTimeout {
            step: Step::ReadHeader
        }
    );
    assert!(elapsed >= TIMEOUTS.reply && elapsed < TIMEOUTS.reply + MARGIN);
    assert!(probe.reply.is_some_and(|reply| reply >= TIMEOUTS.reply));
    assert_only_binds_sent(&responder);
    assert_eq!(responder.received().len(), 1);
}

#[tokio::test]
async fn closed_port_is_tcp_refused() {
    // Take a free port, then close it.
    let addr = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await {
        Ok(listener) => listener.local_addr().ok(),
        Err(_) => None,
    };
    let Some(addr) = addr else {
        panic!("no loopback port");
    };
    let (probe, elapsed) = probe_within(addr, TIMEOUTS).await;
    assert!(
        matches!(probe.outcome, Outcome::TcpRefused { .. }),
        "{:?}",
        probe.outcome
    );
    assert!(elapsed < TIMEOUTS.connect);
    assert!(probe.connect.is_some());
    assert_eq!(probe.reply, None);
}

/// A listener on `ip` that never accepts, with a backlog of 1, and the
/// connections that fill its queue: once it is full, Linux drops further
/// SYNs and a handshake never completes.
async fn full_accept_queue(ip: Ipv4Addr) -> (TcpListener, SocketAddr, Vec<TcpStream>) {
    let Ok(socket) = TcpSocket::new_v4() else {
        panic!("no socket");
    };
    let bound = socket.bind(SocketAddr::from((ip, 0)));
    let Ok(listener) = bound.and_then(|()| socket.listen(1)) else {
        panic!("cannot listen on {ip}");
    };
    let Ok(addr) = listener.local_addr() else {
        panic!("no local address");
    };
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let connect = TcpStream::connect(addr);
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_millis(200), connect).await {
            fillers.push(stream);
        }
    }
    (listener, addr, fillers)
}

#[tokio::test]
async fn full_accept_queue_is_a_connect_timeout() {
    let (_listener, addr, fillers) = full_accept_queue(Ipv4Addr::new(127, 53, 1, 9)).await;
    let timeouts = Timeouts {
        connect: Duration::from_millis(300),
        reply: TIMEOUTS.reply,
    };
    let (probe, elapsed) = probe_within(addr, timeouts).await;
    assert_eq!(
        probe.outcome,
        Outcome::TcpTimeout {
            step: Step::Connect
        }
    );
    assert!(elapsed >= timeouts.connect && elapsed < timeouts.connect + MARGIN);
    assert_eq!(probe.reply, None);
    drop(fillers);
}

#[tokio::test]
async fn under_a_deadline_a_connect_that_never_completes_names_its_step() {
    let (_listener, addr, fillers) = full_accept_queue(Ipv4Addr::new(127, 53, 1, 10)).await;
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        reply: Duration::from_secs(5),
    };
    let started = Instant::now();
    let limit = Duration::from_millis(300);
    let cut = deadline::within(limit, probe_address(addr, timeouts)).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= limit && elapsed < limit + MARGIN, "{elapsed:?}");
    assert_eq!(
        cut.err().and_then(|overrun| overrun.step),
        Some(format!("probing {addr}"))
    );
    drop(fillers);
}

#[tokio::test]
async fn any_loopback_address_works() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 53, 1, 7));
    let responder = match KmsResponder::start_on(ip, Mode::Kms).await {
        Ok(responder) => responder,
        Err(error) => panic!("cannot listen on {ip}: {error}"),
    };
    assert_eq!(probe_answering(&responder).await.outcome, Outcome::Kms);
}

#[tokio::test]
async fn ipv6_loopback_works() {
    let responder = match KmsResponder::start_on(IpAddr::V6(Ipv6Addr::LOCALHOST), Mode::Kms).await {
        Ok(responder) => responder,
        Err(error) => panic!("cannot listen on [::1]: {error}"),
    };
    let probe = probe_answering(&responder).await;
    assert_eq!(probe.outcome, Outcome::Kms);
    assert!(probe.address.is_ipv6());
}

#[tokio::test]
async fn probe_serialises_to_json_with_verdict_and_latencies() {
    let responder = KmsResponder::start(Mode::UnrelatedProvider).await;
    let probe = probe_answering(&responder).await;
    let json = match serde_json::to_value(&probe) {
        Ok(json) => json,
        Err(error) => panic!("not serialisable: {error}"),
    };
    assert_eq!(json["verdict"], "rpc-not-kms");
    assert_eq!(json["result"], 2);
    assert_eq!(json["reason"], 1);
    assert_eq!(json["address"], responder.addr().to_string());
    assert!(json["connect_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(json["reply_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
}

#[tokio::test]
async fn probes_run_concurrently() {
    let modes = [
        Mode::Kms,
        Mode::UnrelatedProvider,
        Mode::Garbage,
        Mode::NeverAnswer,
    ];
    let mut responders = Vec::new();
    for mode in modes {
        responders.push(KmsResponder::start(mode).await);
    }
    let started = Instant::now();
    let probes = futures_util::future::join_all(
        responders
            .iter()
            .map(|responder| probe_address(responder.addr(), TIMEOUTS)),
    )
    .await;
    // One timeout's worth in total, not one per silent address.
    assert!(started.elapsed() < TIMEOUTS.reply + MARGIN);
    assert_eq!(probes[0].outcome, Outcome::Kms);
    assert!(matches!(probes[1].outcome, Outcome::RpcNotKms { .. }));
    assert!(matches!(probes[2].outcome, Outcome::NotRpc { .. }));
    assert!(matches!(probes[3].outcome, Outcome::TcpTimeout { .. }));
}
