//! The KMS reachability probe: one DCE/RPC bind for the KMS interface on TCP,
//! never an activation request.
//!
//! A bind is answered by the host's RPC runtime (DCE 1.1, C706 ch. 12, with
//! Microsoft's extensions in MS-RPCE §2.2.2 and §3.3.1.5.3) and never reaches
//! the KMS method, so the host's client-count table is left untouched.
//!
//! - [`pdu`] encodes the bind request and parses the reply (pure, no I/O);
//! - [`client`] connects to one address, sends the bind, reads one PDU and
//!   turns it into an [`Outcome`] with the latency of each step.

pub mod client;
pub mod pdu;

pub use client::{probe_address, AddressProbe, Outcome, Step, Timeouts};
pub use pdu::{RejectReason, Verdict};
