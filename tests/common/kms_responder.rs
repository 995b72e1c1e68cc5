//! A stand-in for a KMS host's RPC endpoint on loopback, for the probe tests.
//!
//! It answers a DCE/RPC bind the way a KMS host, an unrelated RPC server, a
//! broken server or a silent one would, and records every request it read,
//! so tests can check that only binds (ptype 11) were ever sent.
//!
//! The replies are built here from the wire layout (C706 §12.6.4.4–5,
//! MS-RPCE §3.3.1.5.3), without the crate's own encoder, so that the test
//! cross-checks the parser instead of agreeing with itself. The server stops
//! when the [`KmsResponder`] is dropped.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the responder answers a bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Like a KMS host: NDR32 accepted, BTFN negotiate_ack 0x0003,
    /// secondary address "1688".
    Kms,
    /// Like Windows without the KMS interface: provider rejection, abstract
    /// syntax not supported (2/1), and still a negotiate_ack for BTFN.
    UnrelatedProvider,
    /// Like impacket's `DCERPCServer` for an unknown interface: user
    /// rejection, abstract syntax not supported (1/1) for every context.
    UnrelatedUser,
    /// A bind_nak with this reject reason.
    BindNak(u16),
    /// An HTTP error instead of a PDU, then close.
    Garbage,
    /// The first 40 bytes of a valid KMS bind_ack, then close.
    Truncated,
    /// A bind_ack header claiming 65535 bytes, 30 bytes sent, socket held.
    HugeFragLength,
    /// Accept and close at once, reading nothing.
    CloseImmediately,
    /// Read the bind and never answer, holding the connection open.
    NeverAnswer,
}

/// A loopback server answering binds in one [`Mode`]; stops on drop.
pub struct KmsResponder {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    server: JoinHandle<()>,
}

impl KmsResponder {
    /// Starts a responder on 127.0.0.1 and an ephemeral port.
    pub async fn start(mode: Mode) -> KmsResponder {
        match KmsResponder::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), mode).await {
            Ok(responder) => responder,
            Err(error) => panic!("cannot listen on 127.0.0.1: {error}"),
        }
    }

    /// Starts a responder on `ip` (any 127/8 address, or ::1) and an
    /// ephemeral port.
    pub async fn start_on(ip: IpAddr, mode: Mode) -> io::Result<KmsResponder> {
        KmsResponder::start_at(SocketAddr::new(ip, 0), mode).await
    }

    /// Starts a responder on `addr`: a fixed port, such as 1688 for hosts
    /// a zone publishes (the scale benchmark's).
    pub async fn start_at(addr: SocketAddr, mode: Mode) -> io::Result<KmsResponder> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let server = tokio::spawn(serve(listener, mode, Arc::clone(&received)));
        Ok(KmsResponder {
            addr,
            received,
            server,
        })
    }

    /// The address to probe.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request PDU read so far, one per connection that sent one.
    pub fn received(&self) -> Vec<Vec<u8>> {
        self.received
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for KmsResponder {
    fn drop(&mut self) {
        // Aborting the server drops its listener and its JoinSet, which
        // aborts every connection still held open.
        self.server.abort();
    }
}

async fn serve(listener: TcpListener, mode: Mode, received: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut connections = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                connections.spawn(answer(stream, mode, Arc::clone(&received)));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        while connections.try_join_next().is_some() {}
    }
}

async fn answer(mut stream: TcpStream, mode: Mode, received: Arc<Mutex<Vec<Vec<u8>>>>) {
    if mode == Mode::CloseImmediately {
        return;
    }
    let Some(request) = read_pdu(&mut stream).await else {
        return;
    };
    received
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(request.clone());
    let call_id = field_u32(&request, 12);

    let reply = match mode {
        Mode::Kms => bind_ack(call_id, b"1688\0", &results_for(&request, mode)),
        Mode::UnrelatedProvider | Mode::UnrelatedUser => {
            bind_ack(call_id, b"135\0", &results_for(&request, mode))
        }
        Mode::BindNak(reason) => bind_nak(call_id, reason),
        Mode::Garbage => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(),
        Mode::Truncated => {
            let mut ack = bind_ack(call_id, b"1688\0", &results_for(&request, Mode::Kms));
            ack.truncate(40);
            ack
        }
        Mode::HugeFragLength => {
            let mut ack = bind_ack(call_id, b"1688\0", &results_for(&request, Mode::Kms));
            ack[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
            ack.truncate(30);
            ack
        }
        Mode::NeverAnswer => Vec::new(),
        Mode::CloseImmediately => return,
    };
    if stream.write_all(&reply).await.is_err() {
        return;
    }
    match mode {
        // Closing right after the reply is what these modes are about.
        Mode::Garbage | Mode::Truncated => {}
        // Hold the connection: the prober must not wait for more.
        Mode::NeverAnswer | Mode::HugeFragLength => std::future::pending::<()>().await,
        // A polite server lets the client close first.
        _ => {
            let mut rest = [0u8; 64];
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut rest)).await;
        }
    }
}

/// Reads one PDU: the 16-byte header, then the rest up to frag_length.
async fn read_pdu(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut pdu = vec![0u8; 16];
        stream.read_exact(&mut pdu).await.ok()?;
        let frag_length = usize::from(u16::from_le_bytes([pdu[8], pdu[9]]));
        if frag_length > pdu.len() {
            pdu.resize(frag_length, 0);
            stream.read_exact(&mut pdu[16..]).await.ok()?;
        }
        Some(pdu)
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}

/// KMS interface 51c82175-844e-4750-b0d8-ec255555bc06, little-endian fields.
const KMS_INTERFACE: [u8; 16] = [
    0x75, 0x21, 0xc8, 0x51, 0x4e, 0x84, 0x50, 0x47, 0xb0, 0xd8, 0xec, 0x25, 0x55, 0x55, 0xbc, 0x06,
];
/// NDR 8a885d04-1ceb-11c9-9fe8-08002b104860, little-endian fields.
const NDR32: [u8; 16] = [
    0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60,
];
/// First eight bytes of bind-time feature negotiation, 6cb71c2c-9812-4540.
const BTFN_PREFIX: [u8; 8] = [0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45];

/// One result entry of a bind_ack: result, reason, transfer syntax, version.
type ResultEntry = (u16, u16, [u8; 16], u32);

/// A result for each context of the request, as `mode` would answer it.
fn results_for(request: &[u8], mode: Mode) -> Vec<ResultEntry> {
    let mut results = Vec::new();
    let n_contexts = request.get(24).copied().unwrap_or(0);
    let mut offset = 28;
    for _ in 0..n_contexts {
        // p_cont_id u16, n_transfer_syn u8, reserved u8, abstract syntax 20.
        let n_transfer = usize::from(request.get(offset + 2).copied().unwrap_or(0));
        let abstract_uuid = uuid_at(request, offset + 4);
        let transfers: Vec<([u8; 16], u32)> = (0..n_transfer)
            .map(|i| {
                let at = offset + 24 + 20 * i;
                (uuid_at(request, at), field_u32(request, at + 16))
            })
            .collect();
        offset += 24 + 20 * n_transfer;

        let btfn = transfers.iter().find(|(uuid, _)| uuid[..8] == BTFN_PREFIX);
        let result = match (mode, btfn) {
            (Mode::UnrelatedUser, _) => (1, 1, [0; 16], 0),
            // Windows acknowledges the features it supports, whatever the
            // interface: the offered bits masked by 0x03.
            (_, Some((uuid, _))) => (3, u16::from(uuid[8] & 0x03), [0; 16], 0),
            (Mode::UnrelatedProvider, None) => (2, 1, [0; 16], 0),
            (_, None) if abstract_uuid != KMS_INTERFACE => (2, 1, [0; 16], 0),
            (_, None) if transfers.contains(&(NDR32, 2)) => (0, 0, NDR32, 2),
            (_, None) => (2, 2, [0; 16], 0),
        };
        results.push(result);
    }
    results
}

fn uuid_at(bytes: &[u8], offset: usize) -> [u8; 16] {
    let mut uuid = [0; 16];
    if let Some(slice) = bytes.get(offset..offset + 16) {
        uuid.copy_from_slice(slice);
    }
    uuid
}

fn field_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut field = [0; 4];
    if let Some(slice) = bytes.get(offset..offset + 4) {
        field.copy_from_slice(slice);
    }
    u32::from_le_bytes(field)
}

/// The common header: version 5.0, `ptype`, first|last fragment,
/// little-endian, frag_length patched by [`finish`].
fn header(ptype: u8, call_id: u32) -> Vec<u8> {
    let mut pdu = vec![5, 0, ptype, 0x03, 0x10, 0, 0, 0, 0, 0, 0, 0];
    pdu.extend_from_slice(&call_id.to_le_bytes());
    pdu
}

fn finish(mut pdu: Vec<u8>) -> Vec<u8> {
    let length = pdu.len() as u16;
    pdu[8..10].copy_from_slice(&length.to_le_bytes());
    pdu
}

/// A bind_ack (ptype 12) echoing `call_id`.
fn bind_ack(call_id: u32, secondary_address: &[u8], results: &[ResultEntry]) -> Vec<u8> {
    let mut pdu = header(12, call_id);
    pdu.extend_from_slice(&5840u16.to_le_bytes()); // max_xmit_frag
    pdu.extend_from_slice(&5840u16.to_le_bytes()); // max_recv_frag
    pdu.extend_from_slice(&0x0001_2345u32.to_le_bytes()); // assoc_group_id
    pdu.extend_from_slice(&(secondary_address.len() as u16).to_le_bytes());
    pdu.extend_from_slice(secondary_address);
    while pdu.len() % 4 != 0 {
        pdu.push(0); // align the result list from the start of the PDU
    }
    pdu.extend_from_slice(&[results.len() as u8, 0, 0, 0]);
    for (result, reason, transfer, version) in results {
        pdu.extend_from_slice(&result.to_le_bytes());
        pdu.extend_from_slice(&reason.to_le_bytes());
        pdu.extend_from_slice(transfer);
        pdu.extend_from_slice(&version.to_le_bytes());
    }
    finish(pdu)
}

/// A bind_nak (ptype 13) echoing `call_id`, offering protocol 5.0.
fn bind_nak(call_id: u32, reason: u16) -> Vec<u8> {
    let mut pdu = header(13, call_id);
    pdu.extend_from_slice(&reason.to_le_bytes());
    pdu.extend_from_slice(&[1, 5, 0]); // n_protocols 1: version 5.0
    pdu.extend_from_slice(&[0, 0, 0]); // padding
    finish(pdu)
}
