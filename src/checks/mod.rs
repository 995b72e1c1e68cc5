//! Checks: pure functions that turn what was read from DNS into findings.
//!
//! Nothing here talks to the network or prints (STYLE: a check returns
//! findings, a renderer shows them). The commands gather observations with
//! [`crate::dns`] and hand them to these modules:
//!
//! - [`records`]: one domain's `_vlmcs._tcp` RRset, its targets and the
//!   configuration (`check`);
//! - [`replication`]: one zone's authoritative servers, their SOA serials
//!   (RFC 1982) and RRsets (`replication`);
//! - [`updates`]: named.conf grants and the answers to the live update
//!   probe (`updates`).

pub mod records;
pub mod replication;
pub mod updates;
