//! The output schema: every type that appears in `--format json`.
//!
//! This file *is* the JSON schema. Changing the meaning of a field, or
//! removing one, needs a new [`SCHEMA_VERSION`]; adding a field or a finding
//! id does not.

use std::fmt;

use serde::Serialize;

/// Version of the JSON document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. Ordered: `Ok < Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Checked and found as it should be.
    Ok,
    /// Worth knowing, nothing to fix.
    Info,
    /// Works today, but something should be fixed.
    Warning,
    /// Clients fail to activate, or a change failed.
    Critical,
}

/// The stable identifier of a kind of finding. Monitoring rules match on
/// these strings; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingId {
    /// The domain has `_vlmcs._tcp` records matching the configuration.
    SrvOk,
    /// No `_vlmcs._tcp` SRV record in a domain of the publish list.
    SrvMissing,
    /// The SRV target has no A or AAAA record.
    TargetNoAddress,
    /// The SRV target is an alias (RFC 2782 forbids it).
    TargetIsCname,
    /// The SRV target is `.`: "service decidedly not available".
    TargetIsRoot,
    /// A record differs from the configuration (port, priority, weight, TTL).
    RecordDiffers,
    /// A configured host has no record in a domain of its publish list.
    RecordMissing,
    /// A target the configuration does not know.
    UnknownTarget,
    /// Only one KMS host in a domain: no failover.
    SingleHost,
    /// More distinct hosts than one KMS key can serve.
    TooManyHosts,
    /// A DNS read failed, was refused or timed out.
    DnsReadFailed,
    /// The resolver's answer differs from the authoritative one.
    StaleResolver,
    /// Changes are pending (plan).
    ChangesPending,
    /// The domain is in sync with the configuration (plan, publish, remove).
    InSync,
    /// An update was applied.
    UpdateApplied,
    /// The TTL of an RRset differs from the configuration.
    TtlDiffers,
    /// Every authoritative server serves the change.
    Replicated,
    /// An update failed.
    UpdateFailed,
    /// A removal was refused because it would leave the domain without KMS records.
    RemoveLastRecord,
    /// Authoritative servers serve different serials.
    SerialBehind,
    /// A server serves a newer serial than the primary (RFC 1982), or one
    /// that cannot be ordered: it will not transfer the zone again.
    SerialAhead,
    /// Authoritative servers serve different `_vlmcs._tcp` RRsets.
    RrsetDiffers,
    /// An authoritative server does not answer.
    ServerUnreachable,
    /// A listed server does not answer authoritatively.
    ServerLame,
    /// The zone accepts unsigned updates.
    UnsignedUpdatesAccepted,
    /// Updates are allowed by source address only.
    AddressOnlyGrant,
    /// A grant is wider than the `_vlmcs._tcp` SRV name.
    GrantTooWide,
    /// Our key is refused: publish will fail.
    KeyRefused,
    /// Updates need the key; ours is granted.
    KeyedOnly,
    /// A key is referenced but not defined.
    KeyUndefined,
    /// An `update-policy` grant allows exactly the `_vlmcs._tcp` SRV records.
    NarrowGrant,
    /// A zone sets both `allow-update` and `update-policy`.
    AllowUpdateIgnored,
    /// Nothing in named.conf allows updates of the `_vlmcs._tcp` SRV records.
    NoGrant,
    /// A `deny` rule of an `update-policy` reaches the `_vlmcs._tcp` name.
    DenyRule,
    /// No zone of named.conf (or of one of its views) holds the name.
    ZoneNotFound,
    /// The zone in named.conf is not a primary: its primary decides updates.
    ZoneNotPrimary,
    /// An ACL used in `allow-update` is not defined.
    AclUndefined,
    /// ACLs used in `allow-update` refer to each other in a loop, or too deep.
    AclLoop,
    /// Updates need a TSIG key and none is configured for the domain.
    NoKey,
    /// The live update probe got no usable answer.
    UpdateProbeFailed,
    /// A key file is readable by group or others.
    KeyFilePermissions,
    /// The KMS host answered the RPC bind for the KMS interface.
    KmsReachable,
    /// No address of any host in the domain reaches KMS.
    KmsUnreachable,
    /// Some addresses fail; failover still works.
    SomeAddressesFail,
    /// A step took longer than the threshold.
    SlowHost,
    /// The domain whose `_vlmcs._tcp` records clients use (discover).
    DiscoveryDomain,
    /// A weight-0 record shares its priority with weighted ones: RFC 2782
    /// gives it a very small chance of being picked first.
    ZeroWeight,
}

impl fmt::Display for FindingId {
    /// The id as it appears in JSON and monitoring output (serde's kebab-case
    /// rendering is the single source of truth).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(id)) => f.write_str(&id),
            _ => Err(fmt::Error),
        }
    }
}

/// What a finding is about. Empty fields are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Subject {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// One check result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    #[serde(flatten)]
    pub subject: Subject,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Number of findings of each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub info: usize,
    pub warning: usize,
    pub critical: usize,
}

/// Command-specific results shown above the findings.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Details {
    Bind(BindDetails),
    Changes(ChangeDetails),
    Check(super::check::CheckDetails),
    Replication(super::replication::ReplicationDetails),
    Updates(super::updates::UpdatesDetails),
    Probe(super::probe::ProbeDetails),
    Discover(super::discover::DiscoverDetails),
    Audit(Box<super::audit::AuditDetails>),
}

/// `plan`, `publish`, `remove`: per domain, what was (or would be) changed.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeDetails {
    pub domains: Vec<DomainChanges>,
}

/// One domain's plan and outcome.
#[derive(Debug, Clone, Serialize)]
pub struct DomainChanges {
    pub domain: String,
    /// The zone that holds `_vlmcs._tcp.<domain>`, when found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The primary server read and updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `in-sync`, `pending`, `applied`, `refused` or `failed`.
    pub outcome: &'static str,
    /// TTL of added records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_change: Option<crate::plan::TtlChange>,
    pub changes: Vec<ChangeLine>,
    /// Re-reads forced by another host's concurrent change.
    pub retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One record in a plan: `+` add, `-` delete, `~` change, `=` another
/// host's record left alone, ` ` ours and unchanged.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeLine {
    pub op: &'static str,
    /// The record in zone-file syntax (the new one for `~`).
    pub record: String,
    /// For `~`: the record it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// `bind`: the files generated.
#[derive(Debug, Clone, Serialize)]
pub struct BindDetails {
    pub files: BindFiles,
}

/// The files of `bind`: those written (`--out`), or the material itself,
/// made while the document is written.
#[derive(Debug, Clone)]
pub enum BindFiles {
    Written(Vec<BindFile>),
    Made(crate::material::Made),
}

impl Serialize for BindFiles {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self {
            BindFiles::Written(files) => files.serialize(serializer),
            BindFiles::Made(made) => {
                let mut seq = serializer.serialize_seq(None)?;
                made.each(|file| {
                    seq.serialize_element(&BindFile {
                        kind: file.kind,
                        about: file.about,
                        path: None,
                        content: Some(file.content),
                    })
                })?;
                seq.end()
            }
        }
    }
}

/// One generated file: where it was written, or its content when printed.
#[derive(Debug, Clone, Serialize)]
pub struct BindFile {
    pub kind: crate::material::Kind,
    /// The zone, or the KMS host for `.reg` files.
    pub about: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The whole result of one command run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub command: &'static str,
    /// The worst severity among the findings.
    pub status: Severity,
    pub summary: Summary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Details>,
    pub findings: Vec<Finding>,
}
