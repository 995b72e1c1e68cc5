//! How a domain ended, typed: what was done, or which safety rule stopped
//! it, or which exchange failed. The report words them
//! ([`crate::commands::changes::details`]).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};

use crate::dns::{DiscoveryError, ReadError, ReadFailure, UpdateError};

/// How a domain ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Nothing to change.
    InSync,
    /// Changes would be made (`plan`).
    Pending,
    /// The update was applied and the primary serves the result.
    Applied,
    /// A safety rule stopped the change.
    Refused(Refusal),
    /// The domain could not be read or changed.
    Failed(Failure),
}

impl Outcome {
    /// Why it was refused or failed, for the report.
    pub fn message(&self) -> Option<String> {
        match self {
            Outcome::Refused(refusal) => Some(refusal.to_string()),
            Outcome::Failed(failure) => Some(failure.to_string()),
            _ => None,
        }
    }
}

/// A change a safety rule (DESIGN §7) refused to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `remove` would delete the domain's last KMS record.
    LastRecord { domain: Name },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::LastRecord { domain } => write!(
                f,
                "removing would leave {domain} without any KMS record: every client there would fail to activate (0x8007251D)"
            ),
        }
    }
}

impl Refusal {
    /// What the administrator can do.
    pub fn hint(&self) -> String {
        match self {
            Refusal::LastRecord { .. } => "publish another KMS host first, or use --force if the domain really has no KMS host any more".into(),
        }
    }
}

/// Why an RRset read at the primary gave nothing.
#[derive(Debug, Clone)]
pub enum ReadProblem {
    /// Discovery found a primary without an address to ask.
    NoAddress,
    /// Every address failed; the last one's error.
    Failed(Arc<ReadError>),
}

impl fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadProblem::NoAddress => f.write_str("the primary has no address"),
            ReadProblem::Failed(error) => error.fmt(f),
        }
    }
}

/// Why a domain could not be read or changed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Its zone or primary could not be found.
    Discovery(Arc<DiscoveryError>),
    /// Its RRset could not be read at the primary.
    Read(ReadProblem),
    /// The A/AAAA RRset of a host (`--addresses`) could not be read.
    AddressRead {
        host: Name,
        rtype: RecordType,
        server: SocketAddr,
        reason: Arc<ReadFailure>,
    },
    /// The server did not apply the update. `domain` names the domain the
    /// hint is for.
    Update {
        error: Arc<UpdateError>,
        domain: Name,
    },
    /// The update's outcome is unknown and the re-read shows the addresses
    /// are not all served.
    AddressesUnknown(Arc<UpdateError>),
    /// Another host kept changing the RRset: every attempt failed its
    /// prerequisite.
    KeptChanging { domain: Name, attempts: u32 },
    /// The same, for an update of addresses only.
    AddressesKeptChanging,
    /// The server accepted the update, but the read-back differs from the
    /// plan.
    NotServed { server: SocketAddr },
    /// The same, for the addresses.
    AddressesNotServed { server: SocketAddr },
    /// The server accepted the update, and the read-back failed.
    ReadBack(ReadProblem),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Discovery(error) => error.fmt(f),
            Failure::Read(problem) => problem.fmt(f),
            Failure::AddressRead {
                host,
                rtype,
                server,
                reason,
            } => write!(f, "cannot read {host} {rtype} from {server}: {reason}"),
            Failure::Update { error, .. } | Failure::AddressesUnknown(error) => error.fmt(f),
            Failure::KeptChanging { domain, attempts } => write!(
                f,
                "the SRV records of {domain} kept changing while kmsdns tried to update them ({attempts} attempts)"
            ),
            Failure::AddressesKeptChanging => {
                f.write_str("the records kept changing while kmsdns tried to update them")
            }
            Failure::NotServed { server } => write!(
                f,
                "{server} accepted the update but does not serve the planned records"
            ),
            Failure::AddressesNotServed { server } => write!(
                f,
                "{server} accepted the update but does not serve the planned addresses"
            ),
            Failure::ReadBack(problem) => write!(
                f,
                "the update was accepted, but reading it back failed: {problem}"
            ),
        }
    }
}

impl Failure {
    /// What the administrator can do, when the failure says.
    pub fn hint(&self) -> Option<String> {
        match self {
            Failure::Discovery(_) => {
                Some("check that the domain exists, or set `server` under [domain.\"…\"]".into())
            }
            Failure::Update { error, domain } => update_hint(error, domain),
            Failure::KeptChanging { .. } => {
                Some("another host is updating them at the same time; run publish again".into())
            }
            Failure::NotServed { .. } => {
                Some("another host may have changed them at the same moment; run plan again".into())
            }
            _ => None,
        }
    }
}

fn update_hint(error: &UpdateError, domain: &Name) -> Option<String> {
    match error {
        UpdateError::Refused { signed: false, .. } => Some(format!(
            "configure a TSIG key for {domain} ([tsig-key] and `key`), granted in the zone's update-policy"
        )),
        UpdateError::Refused { signed: true, .. } => Some(
            "grant the key the _vlmcs._tcp SRV name in the zone's update-policy (see `kmsdns bind`)"
                .into(),
        ),
        UpdateError::NotAuth { .. } => Some(
            "compare the key name, algorithm and secret with the server's key statement".into(),
        ),
        UpdateError::Timeout { .. } | UpdateError::Unreachable { .. } => {
            Some("check that the primary is up and reachable on the DNS port".into())
        }
        _ => None,
    }
}

/// Why an update counts as applied although no verified reply said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// A retransmitted copy failed its prerequisite, and the re-read found
    /// nothing left to do: the first copy was applied.
    RetransmissionFoundItDone,
    /// No reply came, and the re-read shows the change.
    ReplyLost,
    /// The reply was unusable (cut, unreadable, unverified), and the
    /// re-read shows the change.
    NoUsableReply,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Note::RetransmissionFoundItDone => {
                "the reply was lost; the retransmitted copy found the change already made"
            }
            Note::ReplyLost => "the reply was lost, but the primary serves the change",
            Note::NoUsableReply => "no usable reply came, but the primary serves the change",
        })
    }
}
