//! How a domain ended, typed: what was done, or which safety rule stopped
//! it, or which exchange failed. The report words them
//! ([`crate::commands::changes::details`]).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::rr::{Name, RecordType};

use crate::concurrency::deadline::Overrun;
use crate::dns::identify::Software;
use crate::dns::{DiscoveryError, ReadError, ReadFailure, TsigError, UpdateError};
use crate::named_conf::grant_line::name_grant;

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
    /// `remove` (or `publish --prune`) would delete the domain's last KMS
    /// record; `after` is what its `_vlmcs._tcp` name would then be.
    LastRecord { domain: Name, after: NameAfter },
}

/// What a `_vlmcs._tcp` name would be once its SRV records are gone,
/// decided from what the primary serves at it: the Windows error its
/// clients would get differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameAfter {
    /// Nothing else is at the name: NXDOMAIN, 0x8007232B.
    Gone,
    /// Other RRsets stay at the name (their types): NODATA, 0x8007251D.
    Stays(Vec<RecordType>),
    /// The name could not be read (why): one of the two.
    Unknown(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::LastRecord { domain, after } => {
                write!(
                    f,
                    "removing would leave {domain} without any KMS record: every client there would fail to activate"
                )?;
                match after {
                    NameAfter::Gone => f.write_str(
                        " with 0x8007232B (DNS name does not exist): nothing else is at _vlmcs._tcp, so the name would be NXDOMAIN",
                    ),
                    NameAfter::Stays(types) => {
                        let types: Vec<String> = types.iter().map(ToString::to_string).collect();
                        write!(
                            f,
                            " with 0x8007251D (no records found): the name keeps its {} record(s), so the SRV query would be NODATA",
                            types.join(", ")
                        )
                    }
                    NameAfter::Unknown(why) => write!(
                        f,
                        " with 0x8007232B (name does not exist) or 0x8007251D (no records found); what else is at the name could not be read: {why}"
                    ),
                }
            }
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

/// An RRset an UPDATE changed: its owner and the types added or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub owner: Name,
    pub types: Vec<RecordType>,
}

impl fmt::Display for Carried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let types: Vec<String> = self.types.iter().map(ToString::to_string).collect();
        write!(f, "{} {}", self.owner, types.join(" "))
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
    /// Finding its zone, or reading its RRset before an UPDATE, passed
    /// `--deadline`: nothing was sent for it.
    Deadline(Overrun),
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
    /// hint is for; `software`, the primary's, words it; `carried` is every
    /// RRset the UPDATE changed (empty when not known).
    Update {
        error: Arc<UpdateError>,
        domain: Name,
        software: Option<Software>,
        carried: Arc<[Carried]>,
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
    /// The server answered NOERROR, and the read-back shows the RRset
    /// exactly as it was before: it applied nothing. PowerDNS answers so
    /// to what its Lua update policy refuses.
    NothingApplied {
        server: SocketAddr,
        software: Option<Software>,
    },
    /// The server applied the records, but they do not all carry the
    /// planned TTL.
    TtlNotServed {
        server: SocketAddr,
        ttls: Vec<u32>,
        wanted: u32,
    },
    /// The same, for the addresses.
    AddressesNotServed { server: SocketAddr },
    /// The server accepted the update, and the read-back failed.
    ReadBack(ReadProblem),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Discovery(error) => error.fmt(f),
            Failure::Deadline(overrun) => overrun.fmt(f),
            Failure::Read(problem) => problem.fmt(f),
            Failure::AddressRead {
                host,
                rtype,
                server,
                reason,
            } => write!(f, "cannot read {host} {rtype} from {server}: {reason}"),
            Failure::Update {
                error,
                software,
                carried,
                ..
            } => match refusal_in_its_words(error, *software, carried) {
                Some(words) => f.write_str(&words),
                None => error.fmt(f),
            },
            Failure::AddressesUnknown(error) => error.fmt(f),
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
            Failure::NothingApplied { server, software } => write!(
                f,
                "{server} answered NOERROR but applied nothing: the server's update policy refused it{}",
                if *software == Some(Software::Knot) || *software == Some(Software::Bind) {
                    ""
                } else {
                    " (PowerDNS answers NOERROR to what its Lua update policy refuses)"
                }
            ),
            Failure::TtlNotServed {
                server,
                ttls,
                wanted,
            } => {
                let ttls: Vec<String> = ttls.iter().map(u32::to_string).collect();
                write!(
                    f,
                    "{server} applied the update, but its records carry TTL {} s, not the planned {wanted} s",
                    ttls.join(" and ")
                )
            }
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
            Failure::Update {
                error,
                domain,
                software,
                carried,
            } => update_hint(error, domain, *software, carried),
            Failure::NothingApplied { software, .. } => Some(match software {
                Some(Software::PowerDns) | None => "let the key change the _vlmcs._tcp SRV records in the server's update policy: PowerDNS's lua-dnsupdate-policy-script, which answers NOERROR to what it refuses".to_string(),
                Some(software) => format!("check what {software} lets this key change"),
            }),
            Failure::TtlNotServed { .. } => Some(
                "read the records with dig; run kmsdns publish --set-ttl again".into(),
            ),
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

/// A refusal the DNS layer words generically, in the words of the
/// software that sent it; `None`: the generic words are right.
fn refusal_in_its_words(
    error: &UpdateError,
    software: Option<Software>,
    carried: &[Carried],
) -> Option<String> {
    match (error, software) {
        // A signed UPDATE refused whole: the server does not say which
        // RRset it would not take (BIND answers REFUSED to the message).
        (
            UpdateError::Refused {
                server,
                zone,
                signed: true,
                key: Some(key),
                ..
            },
            _,
        ) if !carried.is_empty() => {
            let rrsets: Vec<String> = carried.iter().map(ToString::to_string).collect();
            Some(format!(
                "{server} refused the update to zone {zone} signed with key {key}, which carried {} RRset(s): {}; the server does not say which it refused: the key may lack a grant for any of them (or updates are disabled, or the server is not the zone's primary)",
                carried.len(),
                rrsets.join(", ")
            ))
        }
        // Knot's answer to an update no ACL of the zone allows.
        (
            UpdateError::NotAuth {
                server,
                zone,
                key: None,
                tsig_error: None,
            },
            Some(Software::Knot) | None,
        ) => Some(format!(
            "{server} refused the unsigned update to zone {zone} (NOTAUTH: no ACL of the zone lets an update without a key)"
        )),
        (
            UpdateError::NotAuth {
                server,
                zone,
                key: Some(key),
                tsig_error: Some(TsigError::BadKey),
            },
            Some(Software::Knot),
        ) => Some(format!(
            "{server} did not accept key {key} for an update of zone {zone} (NOTAUTH, BADKEY): Knot DNS answers so to a key it does not know and to one no ACL of the zone lets update"
        )),
        // PowerDNS rejects a key it does not know, or whose secret differs,
        // with REFUSED and no TSIG record at all.
        (UpdateError::BadResponseSignature { server, zone, .. }, Some(Software::PowerDns)) => {
            Some(format!(
                "{server} refused the update to zone {zone} without signing its answer: PowerDNS does so for a key it does not know, or whose secret differs (nothing was applied)"
            ))
        }
        _ => None,
    }
}

/// What to change in the software that answered (or in any, when it is
/// not known).
fn update_hint(
    error: &UpdateError,
    domain: &Name,
    software: Option<Software>,
    carried: &[Carried],
) -> Option<String> {
    // BIND, or a server that does not say what it is: the grant lines.
    if let UpdateError::Refused {
        signed: true,
        key: Some(key),
        ..
    } = error
    {
        if !carried.is_empty() && matches!(software, Some(Software::Bind) | None) {
            return Some(bind_grants_hint(
                &key.to_ascii(),
                carried,
                software.is_none(),
            ));
        }
    }
    let zone = match error {
        UpdateError::Refused { zone, .. }
        | UpdateError::NotAuth { zone, .. }
        | UpdateError::BadResponseSignature { zone, .. } => zone.to_ascii(),
        _ => domain.to_ascii(),
    };
    let zone = zone.trim_end_matches('.');
    let grant = match software {
        Some(Software::Bind) => {
            "grant the key the _vlmcs._tcp SRV name in the zone's update-policy (see `kmsdns bind`)"
                .to_string()
        }
        Some(Software::Knot) => "let the key update in knot.conf: an acl with key: KEY, action: update, update-type: [SRV], update-owner: name, update-owner-name: [_vlmcs._tcp…], listed in the zone's acl".to_string(),
        Some(Software::PowerDns) => format!(
            "name the key in the zone's metadata: pdnsutil set-meta {zone} TSIG-ALLOW-DNSUPDATE KEY, with this host's address in ALLOW-DNSUPDATE-FROM"
        ),
        Some(Software::ActiveDirectory) => "let the principal write the _vlmcs._tcp node: Full Control for a group of every KMS host's account on the _VLMCS._TCP node (DNS Manager: the record's Security tab), or one principal for all hosts".to_string(),
        None => "let the key update the _vlmcs._tcp SRV records on the primary (BIND: update-policy grant; Knot DNS: an acl with action: update; PowerDNS: TSIG-ALLOW-DNSUPDATE metadata)".to_string(),
    };
    let keys = match software {
        Some(Software::Bind) => "the server's key statement",
        Some(Software::Knot) => "the key section of knot.conf",
        Some(Software::PowerDns) => "`pdnsutil list-tsig-keys` on the server",
        Some(Software::ActiveDirectory) | None => "the server's key",
    };
    match error {
        UpdateError::Refused { signed: false, .. }
        | UpdateError::NotAuth {
            key: None,
            tsig_error: None,
            ..
        } => Some(format!(
            "configure a TSIG key for {domain} ([tsig-key] and `key`); {grant}"
        )),
        UpdateError::Refused { signed: true, .. } => Some(grant),
        UpdateError::NotAuth {
            tsig_error: Some(TsigError::BadKey),
            ..
        } if software == Some(Software::Knot) => Some(format!(
            "compare the key name and algorithm with {keys}; if it is there, {grant}"
        )),
        UpdateError::NotAuth { .. } => Some(format!(
            "compare the key name, algorithm and secret with {keys}"
        )),
        UpdateError::BadResponseSignature { .. } if software == Some(Software::PowerDns) => Some(
            format!("compare the key name, algorithm and secret with {keys}"),
        ),
        UpdateError::Timeout { .. } | UpdateError::Unreachable { .. } => {
            Some("check that the primary is up and reachable on the DNS port".into())
        }
        _ => None,
    }
}

/// The `update-policy` lines `kmsdns bind` writes for what the UPDATE
/// carried: what a BIND that refused it may lack.
fn bind_grants_hint(key: &str, carried: &[Carried], unidentified: bool) -> String {
    let grants: Vec<String> = carried
        .iter()
        .map(|rrset| {
            let types: Vec<String> = rrset.types.iter().map(ToString::to_string).collect();
            let types: Vec<&str> = types.iter().map(String::as_str).collect();
            name_grant(key, &rrset.owner.to_ascii(), &types)
        })
        .collect();
    let server = if unidentified {
        "the key's grants on the primary; on BIND, the zone's update-policy"
    } else {
        "the zone's update-policy"
    };
    format!(
        "check {server} holds a grant for each, as `kmsdns bind` writes them: {}",
        grants.join(" ")
    )
}

/// Why an update counts as applied although its reply, or the server as
/// read before it, would not say so.
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
    /// The zone was not read as Active Directory-integrated, yet the
    /// primary kept a TTL per record: ours carry the TTL sent, other hosts'
    /// records kept theirs. The update was applied as that server applies
    /// one.
    TtlPerRecord,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Note::RetransmissionFoundItDone => {
                "the reply was lost; the retransmitted copy found the change already made"
            }
            Note::ReplyLost => "the reply was lost, but the primary serves the change",
            Note::NoUsableReply => "no usable reply came, but the primary serves the change",
            Note::TtlPerRecord => {
                "the primary keeps a TTL per record (as Active Directory does) although the zone was not read as Active Directory-integrated: our records carry the TTL sent, other hosts' records keep theirs"
            }
        })
    }
}
