//! What `kmsdns updates` reads from the network: the live permission probe,
//! which asks each zone's primary whether it would let a sender change the
//! `_vlmcs._tcp` SRV records, and leaves the zone exactly as it was
//! (RFC 2136 dynamic update, RFC 8945 TSIG).
//!
//! DNS has no "may I update?" question, so the probe is a real UPDATE that
//! cannot apply:
//!
//! ```text
//! zone          <zone>. SOA IN                                                        (RFC 2136 §2.3)
//! prerequisite  _vlmcs._tcp.<domain>. SRV 65535 0 0 kmsdns-probe-<random>.invalid.    "RRset exists, value dependent" (§2.4.2)
//! update        add _vlmcs._tcp.<domain>. <TTL> IN SRV 65535 0 0 kmsdns-probe-<random>.invalid.   (§2.5.1)
//! ```
//!
//! The prerequisite says the RRset is exactly the sentinel, which never
//! holds: the sentinel's target is a random name under `invalid.`, which
//! nobody can have published (RFC 6761 §6.4). So a server that honours
//! prerequisites applies nothing, whoever sends it. What the probe learns
//! is *which check stops it*:
//!
//! - **REFUSED, or NOTAUTH** (from the primary, which has just answered
//!   the RRset read authoritatively): the permission check. This sender may
//!   not change the SRV records.
//! - **NXRRSET**: the prerequisite. The sender got past every permission
//!   check the server makes before the prerequisites — it would be allowed.
//! - **NOERROR**: the server applied an update whose prerequisite cannot
//!   hold. kmsdns reads the zone back, says exactly what changed
//!   (critical), and deletes the sentinel again.
//!
//! Why this form, as verified against the real servers in
//! `tests/updates.rs` and `tests/server_matrix.rs`:
//!
//! 1. **An add at the real name and type.** BIND 9.18 checks
//!    `update-policy` against every record of the update section *before*
//!    the prerequisites (`send_update`'s prescan), and for SRV records
//!    only when the record is added or exists: a delete of a record that
//!    does not exist passes any key, granted or not, and an UPDATE without
//!    update records passes any valid key. Knot 3.2 checks its ACL
//!    (`update-type`, `update-owner`) per record before anything else, and
//!    answers NOTAUTH (BADKEY when signed with a key it knows). PowerDNS
//!    4.7 checks TSIG-ALLOW-DNSUPDATE and ALLOW-DNSUPDATE-FROM for the
//!    whole message first, and answers REFUSED. The sentinel is added at
//!    `_vlmcs._tcp.<domain>.` type SRV, exactly what `publish` changes, so
//!    the answer is the grant `publish` will meet.
//! 2. **No add+delete.** The previous probe added the sentinel and deleted
//!    it in one message: a no-op on BIND (the two cancel in one diff) and
//!    Knot, but PowerDNS applies all deletes of a message before all adds,
//!    so the sentinel stayed and the serial moved on every run.
//! 3. **The RRset's own TTL.** Should a server ignore the prerequisite, an
//!    add with another TTL would also rewrite the TTL of every record
//!    (RFC 2181 §5.2): the sentinel carries the TTL just read.
//! 4. **A sentinel that cannot matter**: priority 65535 (after every real
//!    host, RFC 2782), port 0, a target that never resolves.
//!
//! What no probe that changes nothing can tell: a PowerDNS server with a
//! `lua-dnsupdate-policy-script` consults the script after the
//! prerequisites, record by record, skips what it refuses and answers
//! NOERROR either way; its answer to an unchangeable probe is NXRRSET for
//! everyone. The findings say so rather than guess (`judge.rs`), and
//! `publish` reads back what it sent.
//!
//! **Active Directory-integrated zones** (recognised by the DCs' locator
//! record, [`identify::active_directory`]) get another form: an UPDATE
//! with its zone section and nothing else. Samba 4.17 checks prerequisites
//! *before* it checks who sends (an unsigned sentinel probe gets NXRRSET,
//! which would read as "unsigned updates accepted"), and AD keeps a
//! directory object per name, owned by its creator: any update at
//! `_vlmcs._tcp` may leave one. The empty UPDATE touches no name; AD
//! answers it REFUSED unsigned (secure updates only) and NOERROR to a
//! principal it authenticates. What it cannot tell is whether that
//! principal owns `_vlmcs._tcp` — `publish` says so when it does not.
//!
//! After each probe the primary's SOA serial and SRV RRset (every record's
//! TTL included) are read again and compared with what they were before.
//!
//! The probe goes unsigned first (does the zone accept anyone?), then signed
//! with the domain's configured key (would `publish` be accepted?), signed
//! as `publish` signs ([`crate::dns::send_update_message`]). The software of
//! the primary ([`crate::dns::identify`]) is recognised from `version.bind`
//! where it says, and from behaviour where it does not, so that the findings
//! name what to fix in the server that answered.

// The errors are the DNS layer's `UpdateError`, large because they carry
// hickory `Name`s as context; they occur at network speed.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::concurrency::deadline::{self, Overrun};
use crate::config::gss::GssAuth;
use crate::config::key::TsigKey;
use crate::config::srv_owner;
use crate::dns::identify::{self, Identities, Integration, Recognition, SignedRead, Software};
use crate::dns::{
    self, random_u64, DnsOptions, Expected, Resolver, TsigError, UpdateError, UpdateRequest,
    UpdateResponse,
};
use crate::dns::{ServerSpec, SrvRecord};

/// Priority of the sentinel: the last any client would try (RFC 2782).
pub const SENTINEL_PRIORITY: u16 = 65535;
/// Weight of the sentinel.
pub const SENTINEL_WEIGHT: u16 = 0;
/// Port of the sentinel: no service listens on port 0.
pub const SENTINEL_PORT: u16 = 0;

/// A domain whose `_vlmcs._tcp` records are probed.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The publish-list domain.
    pub domain: Name,
    /// The key `publish` signs with, if any.
    pub key: Option<TsigKey>,
    /// `auth = "gss-tsig"`: the probe is signed with GSS-TSIG instead.
    pub gss: Option<GssAuth>,
    /// Where updates go, when configured instead of the SOA MNAME.
    pub server: Option<ServerSpec>,
    /// `multi-master =` of the domain: an Active Directory-integrated zone
    /// (or not) by configuration, instead of by its locator record.
    pub multi_master: Option<bool>,
}

/// How the primary answered one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// NXRRSET: the probe got past the permission checks and stopped at
    /// its prerequisite — a real change from this sender would be applied.
    Accepted,
    /// REFUSED, or NOTAUTH from the zone's own primary: this sender may not
    /// change the SRV records.
    Refused {
        /// The server said NOTAUTH (Knot's refusal), not REFUSED.
        notauth: bool,
    },
    /// The server did not accept our signature.
    KeyRejected {
        /// The TSIG error the server named (BADSIG, BADKEY, BADTIME), if any.
        tsig_error: Option<TsigError>,
        /// Whether a read signed with the same key verified: the server
        /// knows the key (name, algorithm and secret) and refuses it the
        /// update only. `None`: not asked, or no usable answer.
        key_known: Option<bool>,
        /// The whole explanation.
        message: String,
    },
    /// NOERROR: the server applied an update whose prerequisite cannot
    /// hold (see the probe's changes).
    Applied,
    /// No usable answer: what the server allows is unknown.
    Failed {
        /// Why.
        message: String,
    },
}

/// What one probe changed in the zone, although it should change nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeChange {
    /// Which probe: `unsigned`, or the key it was signed with.
    pub probe: String,
    /// Exactly what differs, before → after.
    pub changes: Vec<String>,
    /// What kmsdns did about it (the sentinel deleted again, or why not).
    pub repair: Option<String>,
}

/// What the live probe learnt about one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveProbe {
    /// The publish-list domain.
    pub domain: Name,
    /// `_vlmcs._tcp.<domain>.`
    pub name: Name,
    /// The zone holding the name, when found.
    pub zone: Option<Name>,
    /// The primary address probed.
    pub primary: Option<SocketAddr>,
    /// The primary's software, when recognised, and how.
    pub software: Option<(Software, Recognition)>,
    /// TTL of the RRset as read (`None`: the RRset is empty).
    pub ttl: Option<u32>,
    /// Number of SRV records as read.
    pub records: usize,
    /// Why nothing could be probed (zone, primary or RRset unknown).
    pub error: Option<String>,
    /// Finding the zone and reading it before the probe passed
    /// `--deadline`: nothing was sent.
    pub overrun: Option<Overrun>,
    /// The answer to the unsigned probe.
    pub unsigned: Option<ProbeAnswer>,
    /// The key of the signed probe.
    pub key: Option<Name>,
    /// The Kerberos principal of a probe signed with GSS-TSIG.
    pub principal: Option<String>,
    /// The answer to the signed probe.
    pub signed: Option<ProbeAnswer>,
    /// Changes found after a probe: none, normally.
    pub changed: Vec<ProbeChange>,
}

impl LiveProbe {
    /// The software, when recognised.
    pub fn software(&self) -> Option<Software> {
        self.software.as_ref().map(|(software, _)| *software)
    }
}

/// The SRV RR the probe adds: priority 65535, weight 0, port 0, target
/// `kmsdns-probe-<nonce>.invalid.`.
pub fn sentinel(nonce: u64) -> Result<SRV, String> {
    let target = Name::from_ascii(format!("kmsdns-probe-{nonce:016x}.invalid."))
        .map_err(|e| format!("cannot make the sentinel's name: {e}"))?;
    Ok(SRV::new(
        SENTINEL_PRIORITY,
        SENTINEL_WEIGHT,
        SENTINEL_PORT,
        target,
    ))
}

/// The probe message: zone, the prerequisite "the RRset is exactly the
/// sentinel" (which cannot hold), and the sentinel's add with `ttl`.
pub fn build_probe(
    zone: &Name,
    name: &Name,
    sentinel: &SRV,
    ttl: u32,
    id: u16,
) -> Result<Message, UpdateError> {
    let mut owner = name.clone();
    owner.set_fqdn(true);
    let request = UpdateRequest {
        zone: zone.clone(),
        name: owner.clone(),
        expected: Expected::Exactly(vec![sentinel.clone()]),
        delete: Vec::new(),
        add: vec![Record::from_rdata(owner, ttl, RData::SRV(sentinel.clone()))],
    };
    dns::build_update(&request, id)
}

/// How the probe asks (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeForm {
    /// The sentinel, added behind a prerequisite that cannot hold.
    Sentinel,
    /// An UPDATE of the zone with no prerequisite and no update: for
    /// Active Directory-integrated zones, where it touches no name.
    ZoneOnly,
}

/// The probe form when it is known without reading the locator record:
/// never the zone-only form for BIND, Knot or PowerDNS, which answer an
/// UPDATE without records NOERROR for any valid key (BIND checks
/// `update-policy` per record), hiding a key that may change nothing;
/// then what the configuration says.
fn known_form(software: Option<Software>, multi_master: Option<bool>) -> Option<ProbeForm> {
    match (software, multi_master) {
        (Some(Software::Bind | Software::Knot | Software::PowerDns), _) => {
            Some(ProbeForm::Sentinel)
        }
        (_, Some(true)) => Some(ProbeForm::ZoneOnly),
        (_, Some(false)) => Some(ProbeForm::Sentinel),
        (Some(Software::ActiveDirectory), None) => Some(ProbeForm::ZoneOnly),
        (None, None) => None,
    }
}

/// An UPDATE of `zone` with its zone section only (RFC 2136 §2.3): a
/// server applies nothing, and answers whether it takes updates from the
/// sender at all.
pub fn build_zone_only_probe(zone: &Name, id: u16) -> Message {
    use hickory_proto::op::{MessageType, OpCode, Query};
    let mut zone = zone.clone();
    zone.set_fqdn(true);
    let mut message = Message::new();
    message
        .set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Update)
        .add_query(Query::query(zone, RecordType::SOA));
    message
}

/// Sends the probe for `name` to `server`, signed with `key` when given.
/// `Err(PrerequisiteFailed)` is the server's "you may" (see the module
/// docs); `Ok` means it applied the sentinel.
pub async fn send_probe(
    server: SocketAddr,
    zone: &Name,
    name: &Name,
    sentinel: &SRV,
    ttl: u32,
    key: Option<&TsigKey>,
    opts: &DnsOptions,
) -> Result<UpdateResponse, UpdateError> {
    let id = (random_u64() & 0xffff) as u16;
    let message = build_probe(zone, name, sentinel, ttl, id)?;
    dns::send_update_message(server, message, name, key, opts).await
}

/// The answer a probe's outcome stands for. `signed`: the probe was signed
/// (a NOTAUTH then concerns the signature).
pub fn answer_of(outcome: &Result<UpdateResponse, UpdateError>, signed: bool) -> ProbeAnswer {
    match outcome {
        Ok(_) => ProbeAnswer::Applied,
        Err(UpdateError::PrerequisiteFailed { .. }) => ProbeAnswer::Accepted,
        Err(UpdateError::Refused { .. }) => ProbeAnswer::Refused { notauth: false },
        // The primary has just answered the RRset read authoritatively, so
        // an unsigned NOTAUTH is no "not authoritative": it is a refusal
        // (Knot's answer to an update its ACL denies).
        Err(UpdateError::NotAuth {
            tsig_error: None, ..
        }) if !signed => ProbeAnswer::Refused { notauth: true },
        Err(error @ UpdateError::NotAuth { tsig_error, .. }) => ProbeAnswer::KeyRejected {
            tsig_error: *tsig_error,
            key_known: None,
            message: error.to_string(),
        },
        Err(error) => ProbeAnswer::Failed {
            message: error.to_string(),
        },
    }
}

/// The zone of `name`, the first address of its primary that answers,
/// and the zone there; or the zone if found, and why it cannot be probed.
async fn locate(
    target: &ProbeTarget,
    name: &Name,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> Result<(Name, SocketAddr, ZoneState), (Option<Name>, String)> {
    let found = dns::find_primary(name, target.server.as_ref(), resolver, opts).await;
    let (zone, primaries) = match found {
        Ok(found) => (found.zone, found.primary),
        Err(error) => return Err((None, error.to_string())),
    };
    // The first primary address that answers the read is the one probed.
    let mut last_error = format!("the primary of {zone} has no address");
    for server in &primaries {
        match ZoneState::read(*server, &zone, name, opts).await {
            Ok(state) => return Ok((zone, *server, state)),
            Err(e) => last_error = e,
        }
    }
    Err((Some(zone), last_error))
}

/// Probes one domain: finds its zone and primary, reads the RRset and the
/// serial (within `limit`, `--deadline`), recognises the software, then
/// sends the probe unsigned and, with a key, signed, reading the zone back
/// after each.
pub async fn probe_domain(
    target: &ProbeTarget,
    resolver: &Resolver,
    identities: &Identities,
    opts: &DnsOptions,
    limit: Duration,
) -> LiveProbe {
    let name = srv_owner(&target.domain);
    let mut probe = LiveProbe {
        domain: target.domain.clone(),
        name: name.clone(),
        zone: None,
        primary: None,
        software: None,
        ttl: None,
        records: 0,
        error: None,
        overrun: None,
        unsigned: None,
        key: target.key.as_ref().map(|k| k.name.clone()),
        principal: None,
        signed: None,
        changed: Vec::new(),
    };
    // Only the reads before the first probe UPDATE are bounded by the
    // deadline: a probe sent is always read back and undone if need be.
    let reads = async {
        let (zone, server, before) = locate(target, &name, resolver, opts).await?;
        let software = identities.of(server, &zone, opts).await;
        let integration = match known_form(software.as_ref().map(|(s, _)| *s), target.multi_master)
        {
            Some(ProbeForm::ZoneOnly) => Integration::ActiveDirectory,
            Some(ProbeForm::Sentinel) => Integration::Plain,
            None => identify::active_directory(server, &zone, opts).await,
        };
        Ok((zone, server, before, software, integration))
    };
    let (zone, server, before, software, integration) = match deadline::within(limit, reads).await {
        Ok(Ok(located)) => located,
        Ok(Err((zone, error))) => {
            probe.zone = zone;
            probe.error = Some(error);
            return probe;
        }
        Err(overrun) => {
            probe.overrun = Some(overrun);
            return probe;
        }
    };
    probe.zone = Some(zone.clone());
    probe.primary = Some(server);
    probe.ttl = before.ttl();
    probe.records = before.records.len();
    probe.software = software;

    let form = match integration {
        Integration::ActiveDirectory => ProbeForm::ZoneOnly,
        Integration::Plain => ProbeForm::Sentinel,
        Integration::Unknown(why) => {
            probe.error = Some(format!(
                "no probe sent: whether {zone} is Active Directory-integrated is unknown ({why}), and on AD a probe at {name} may leave a directory object; set multi-master = true or false under [domain.\"{}\"] to decide",
                target.domain.to_string().trim_end_matches('.')
            ));
            return probe;
        }
    };
    let session = Session {
        server,
        form,
        zone: &zone,
        name: &name,
        opts,
        ttl: before.ttl().unwrap_or(crate::config::DEFAULT_TTL),
        principal: std::sync::OnceLock::new(),
    };
    // Once a probe is sent, every read says what it did: none is skipped
    // for a silence seen earlier in the run.
    dns::asking_again(async {
        let (unsigned, change, _) = session.ask(&before, None, None).await;
        probe.unsigned = Some(unsigned);
        probe.changed.extend(change);
        if let Some(key) = &target.key {
            let (mut signed, change, unverified) = session.ask(&before, Some(key), None).await;
            probe.changed.extend(change);
            session
                .explain_signature(&mut signed, key, unverified)
                .await;
            probe.signed = Some(signed);
        } else if let Some(gss) = &target.gss {
            let (signed, change, _) = session.ask(&before, None, Some(gss)).await;
            // The negotiated principal; the configured one when no context
            // was made (never "the first principal of keytab …").
            probe.principal = session.principal.get().cloned().or(gss.principal.clone());
            probe.changed.extend(change);
            probe.signed = Some(signed);
        }
    })
    .await;
    if probe.software.is_none() {
        probe.software = match form {
            ProbeForm::ZoneOnly => Some((
                Software::ActiveDirectory,
                Recognition::Behaviour(
                    "it serves the domain controllers' locator record _ldap._tcp.dc._msdcs",
                ),
            )),
            ProbeForm::Sentinel => recognise_by_answers(&probe),
        };
    }
    probe
}

/// The software, from how it answered the probes, when neither its
/// `version.bind` nor its rejection of an unknown key said.
fn recognise_by_answers(probe: &LiveProbe) -> Option<(Software, Recognition)> {
    match probe.unsigned {
        Some(ProbeAnswer::Refused { notauth: true }) => Some((
            Software::Knot,
            Recognition::Behaviour("it refuses an unsigned update with NOTAUTH"),
        )),
        Some(ProbeAnswer::Refused { notauth: false }) => Some((
            Software::Bind,
            Recognition::Behaviour(
                "it refuses an unsigned update with REFUSED and rejects unknown keys with BADKEY",
            ),
        )),
        _ => None,
    }
}

/// The primary's serial and SRV RRset, every record with its TTL: what a
/// probe must leave as it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneState {
    pub serial: u32,
    /// `(TTL, record)`, sorted.
    pub records: Vec<(u32, SrvRecord)>,
}

impl ZoneState {
    /// Reads the state from `server` (RD clear); a refused, failed or
    /// non-authoritative read is an error, never an empty RRset.
    pub async fn read(
        server: SocketAddr,
        zone: &Name,
        name: &Name,
        opts: &DnsOptions,
    ) -> Result<ZoneState, String> {
        let soa = dns::query(server, zone, RecordType::SOA, opts)
            .await
            .map_err(|e| format!("cannot read the SOA of {zone} from {server}: {e}"))?;
        let serial = soa
            .records_of(zone, RecordType::SOA)
            .map_err(|e| format!("cannot read the SOA of {zone} from {server}: {e}"))?
            .iter()
            .find_map(|r| match r.data() {
                RData::SOA(soa) => Some(soa.serial()),
                _ => None,
            })
            .ok_or_else(|| format!("{server} has no SOA for {zone}"))?;
        let response = dns::query(server, name, RecordType::SRV, opts)
            .await
            .map_err(|e| format!("cannot read {name} SRV from {server}: {e}"))?;
        let mut records: Vec<(u32, SrvRecord)> = response
            .records_of(name, RecordType::SRV)
            .map_err(|e| format!("cannot read {name} SRV from {server}: {e}"))?
            .iter()
            .filter_map(|r| match r.data() {
                RData::SRV(srv) => Some((r.ttl(), SrvRecord::from(srv))),
                _ => None,
            })
            .collect();
        records.sort_by_key(|(ttl, record)| (record.to_string().to_ascii_lowercase(), *ttl));
        Ok(ZoneState { serial, records })
    }

    /// The RRset's TTL (the lowest, should its records disagree).
    pub fn ttl(&self) -> Option<u32> {
        self.records.iter().map(|(ttl, _)| *ttl).min()
    }

    /// What differs from `before`, one line each: the serial, records gone,
    /// records come, TTLs changed.
    pub fn changes_since(&self, before: &ZoneState) -> Vec<String> {
        let mut changes = Vec::new();
        if self.serial != before.serial {
            changes.push(format!("serial {} → {}", before.serial, self.serial));
        }
        let key = |record: &SrvRecord| record.to_string().to_ascii_lowercase();
        for (ttl, record) in &before.records {
            match self.records.iter().find(|(_, r)| key(r) == key(record)) {
                None => changes.push(format!("SRV {record} (TTL {ttl}) deleted")),
                Some((now, _)) if now != ttl => {
                    changes.push(format!("SRV {record}: TTL {ttl} → {now}"))
                }
                Some(_) => {}
            }
        }
        for (ttl, record) in &self.records {
            if !before.records.iter().any(|(_, r)| key(r) == key(record)) {
                changes.push(format!("SRV {record} (TTL {ttl}) added"));
            }
        }
        changes
    }
}

/// One domain's probes.
struct Session<'a> {
    server: SocketAddr,
    form: ProbeForm,
    zone: &'a Name,
    name: &'a Name,
    opts: &'a DnsOptions,
    /// The RRset's TTL as read, which the sentinel carries.
    ttl: u32,
    /// The client principal of the GSS-API context that signed a probe:
    /// who the server saw, not what the configuration asked for.
    principal: std::sync::OnceLock<String>,
}

impl Session<'_> {
    /// One probe, then the zone read back: its answer, what it changed if
    /// anything did, and whether the reply was one a signed request cannot
    /// believe (unsigned, or its TSIG does not verify).
    async fn ask(
        &self,
        before: &ZoneState,
        key: Option<&TsigKey>,
        gss: Option<&GssAuth>,
    ) -> (ProbeAnswer, Option<ProbeChange>, bool) {
        let sentinel = match sentinel(random_u64()) {
            Ok(sentinel) => sentinel,
            Err(message) => return (ProbeAnswer::Failed { message }, None, false),
        };
        let how = match (key, gss) {
            (Some(key), _) => format!("signed with {}", key.name),
            (None, Some(_)) => "signed with GSS-TSIG".to_string(),
            (None, None) => "unsigned".to_string(),
        };
        crate::dns::trace::note(|| {
            match self.form {
            ProbeForm::Sentinel => format!(
                "probing {} at {} ({how}, TTL {}, with a prerequisite that cannot hold)",
                self.name, self.server, self.ttl
            ),
            ProbeForm::ZoneOnly => format!(
                "probing zone {} at {} ({how}, an UPDATE with no records: the zone is Active Directory-integrated, where any update at a name may leave a directory object)",
                self.zone, self.server
            ),
        }
        });
        let id = (random_u64() & 0xffff) as u16;
        let message = match self.form {
            ProbeForm::Sentinel => build_probe(self.zone, self.name, &sentinel, self.ttl, id),
            ProbeForm::ZoneOnly => Ok(build_zone_only_probe(self.zone, id)),
        };
        let outcome = match (message, gss) {
            (Err(error), _) => Err(error),
            (Ok(message), Some(gss)) => self.send_gss(gss, message).await,
            (Ok(message), None) => {
                dns::send_update_message(self.server, message, self.name, key, self.opts).await
            }
        };
        let answer = match (self.form, &outcome) {
            // Nothing to apply: NOERROR is the zone's "you may update".
            (ProbeForm::ZoneOnly, Ok(_)) => ProbeAnswer::Accepted,
            _ => answer_of(&outcome, key.is_some() || gss.is_some()),
        };
        let unverified = matches!(outcome, Err(UpdateError::BadResponseSignature { .. }));
        let change = self.read_back(before, &sentinel, key, &how).await;
        (answer, change, unverified)
    }

    /// Reads the zone again after a probe; when anything differs, says
    /// exactly what, and deletes the sentinel if it is there.
    async fn read_back(
        &self,
        before: &ZoneState,
        sentinel: &SRV,
        key: Option<&TsigKey>,
        probe: &str,
    ) -> Option<ProbeChange> {
        let after = match ZoneState::read(self.server, self.zone, self.name, self.opts).await {
            Ok(after) => after,
            Err(message) => {
                return Some(ProbeChange {
                    probe: probe.to_string(),
                    changes: vec![format!("cannot read the zone back: {message}")],
                    repair: None,
                })
            }
        };
        let changes = after.changes_since(before);
        if changes.is_empty() {
            return None;
        }
        let wanted = SrvRecord {
            priority: sentinel.priority(),
            weight: sentinel.weight(),
            port: sentinel.port(),
            target: sentinel.target().clone(),
        };
        let left = after
            .records
            .iter()
            .find(|(_, r)| r.to_string().eq_ignore_ascii_case(&wanted.to_string()));
        let repair = match left {
            None => None,
            Some((ttl, _)) => Some(self.remove_sentinel(&after, sentinel, *ttl, key).await),
        };
        Some(ProbeChange {
            probe: probe.to_string(),
            changes,
            repair,
        })
    }

    /// Deletes the sentinel the probe left, guarded by the RRset as just
    /// read, as the probe was signed; says how that went.
    async fn remove_sentinel(
        &self,
        now: &ZoneState,
        sentinel: &SRV,
        ttl: u32,
        key: Option<&TsigKey>,
    ) -> String {
        let request = UpdateRequest {
            zone: self.zone.clone(),
            name: self.name.clone(),
            expected: Expected::Exactly(
                now.records
                    .iter()
                    .map(|(_, r)| SRV::new(r.priority, r.weight, r.port, r.target.clone()))
                    .collect(),
            ),
            delete: vec![Record::from_rdata(
                self.name.clone(),
                ttl,
                RData::SRV(sentinel.clone()),
            )],
            add: Vec::new(),
        };
        match dns::send_update(self.server, &request, key, self.opts).await {
            Ok(_) => format!("kmsdns deleted the sentinel {sentinel} again"),
            Err(error) => format!(
                "kmsdns could not delete the sentinel {sentinel}: {error}; delete it by hand"
            ),
        }
    }

    /// Words a rejected or unverifiable signature by what the server does
    /// with a read signed with the same key: a server that verifies the
    /// read knows the key, and only refuses it the update.
    async fn explain_signature(&self, answer: &mut ProbeAnswer, key: &TsigKey, unverified: bool) {
        let unverifiable = unverified
            && matches!(
                identify::signed_read(self.server, self.zone, key, self.opts).await,
                SignedRead::Rejected {
                    with_tsig: false,
                    ..
                }
            );
        if unverifiable {
            // PowerDNS's answer to a key it does not know or whose secret
            // differs: REFUSED without a TSIG record, and a signed read
            // gets NOTAUTH without one.
            *answer = ProbeAnswer::KeyRejected {
                tsig_error: None,
                key_known: Some(false),
                message: format!(
                    "{} does not accept the signature of key {} (it answers without a TSIG record, so it does not say whether the name, the algorithm or the secret differs)",
                    self.server, key.name
                ),
            };
            return;
        }
        if let ProbeAnswer::KeyRejected { key_known, .. } = answer {
            *key_known = match identify::signed_read(self.server, self.zone, key, self.opts).await {
                SignedRead::Verified => Some(true),
                SignedRead::Rejected { .. } => Some(false),
                SignedRead::Inconclusive(_) => None,
            };
        }
    }
}

impl Session<'_> {
    /// The probe signed with GSS-TSIG (RFC 3645), over TCP.
    #[cfg(feature = "gssapi")]
    async fn send_gss(
        &self,
        gss: &GssAuth,
        message: Message,
    ) -> Result<UpdateResponse, UpdateError> {
        let zone = self.zone;
        let signed = dns::gss::exchange_signed(self.server, zone, gss, message, self.opts).await?;
        let _ = self.principal.set(signed.principal);
        let sends = signed.exchanged.sends;
        dns::judge(
            zone,
            self.name,
            None,
            self.server,
            signed.exchanged,
            sends,
            None,
        )
    }

    /// Without the `gssapi` feature a `gss-tsig` domain cannot be probed
    /// signed (the configuration reader refuses it before this).
    #[cfg(not(feature = "gssapi"))]
    async fn send_gss(
        &self,
        _gss: &GssAuth,
        _message: Message,
    ) -> Result<UpdateResponse, UpdateError> {
        Err(UpdateError::InvalidRequest {
            zone: self.zone.clone(),
            reason: crate::config::gss::NOT_BUILT.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{OpCode, UpdateMessage};
    use hickory_proto::rr::DNSClass;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn the_zone_only_probe_never_goes_to_bind_knot_or_powerdns() {
        // An empty signed UPDATE passes any valid key on these servers, so
        // neither the locator record nor the configuration may choose it.
        for software in [Software::Bind, Software::Knot, Software::PowerDns] {
            for configured in [None, Some(true), Some(false)] {
                assert_eq!(
                    known_form(Some(software), configured),
                    Some(ProbeForm::Sentinel)
                );
            }
        }
        assert_eq!(known_form(None, Some(true)), Some(ProbeForm::ZoneOnly));
        assert_eq!(known_form(None, Some(false)), Some(ProbeForm::Sentinel));
        assert_eq!(
            known_form(Some(Software::ActiveDirectory), None),
            Some(ProbeForm::ZoneOnly)
        );
        // Unknown software, nothing configured: the locator record decides.
        assert_eq!(known_form(None, None), None);
    }

    fn record(target: &str) -> SrvRecord {
        SrvRecord {
            priority: 0,
            weight: 0,
            port: 1688,
            target: name(target),
        }
    }

    #[test]
    fn the_sentinel_cannot_be_a_real_record() {
        let srv = sentinel(0x0123_4567_89ab_cdef).unwrap();
        assert_eq!(srv.priority(), 65535);
        assert_eq!(srv.port(), 0);
        assert_eq!(
            srv.target().to_ascii(),
            "kmsdns-probe-0123456789abcdef.invalid."
        );
        assert_ne!(sentinel(1).unwrap(), sentinel(2).unwrap());
    }

    #[test]
    fn the_prerequisite_is_the_sentinel_and_the_update_its_add() {
        let srv = sentinel(7).unwrap();
        let message = build_probe(
            &name("corp.example."),
            &name("_vlmcs._tcp.corp.example."),
            &srv,
            600,
            1,
        )
        .unwrap();
        assert_eq!(message.op_code(), OpCode::Update);
        let prerequisites = message.prerequisites();
        assert_eq!(prerequisites.len(), 1, "the sentinel alone");
        assert_eq!(
            prerequisites[0].dns_class(),
            DNSClass::IN,
            "value dependent"
        );
        assert_eq!(prerequisites[0].ttl(), 0);
        assert_eq!(prerequisites[0].data(), &RData::SRV(srv.clone()));
        let updates = message.updates();
        assert_eq!(updates.len(), 1, "one add, no delete");
        assert_eq!(updates[0].dns_class(), DNSClass::IN);
        assert_eq!(updates[0].ttl(), 600);
        assert_eq!(updates[0].data(), &RData::SRV(srv));
        assert_eq!(updates[0].name(), &name("_vlmcs._tcp.corp.example."));
    }

    #[test]
    fn wire_form_of_the_probe() {
        let message = build_probe(
            &name("corp.example."),
            &name("_vlmcs._tcp.corp.example."),
            &SRV::new(65535, 0, 0, name("p.invalid.")),
            3600,
            0xbeef,
        )
        .unwrap();
        let bytes = message.to_vec().unwrap();
        #[rustfmt::skip]
        let header = [
            0xbe, 0xef, // ID
            0x28, 0x00, // QR=0, opcode 5 (UPDATE); rcode 0
            0, 1,       // ZOCOUNT
            0, 1,       // PRCOUNT: the sentinel
            0, 1,       // UPCOUNT: its add
            0, 0,       // ADCOUNT
        ];
        assert_eq!(&bytes[..12], &header);
        let rdata = b"\xff\xff\x00\x00\x00\x00\x01p\x07invalid\x00";
        // Zone section at offset 12 (18 bytes). The prerequisite at offset
        // 30: owner (_vlmcs._tcp + pointer to the zone, 14 bytes), SRV, IN,
        // TTL 0, RDLENGTH 17, the sentinel.
        let mut expected = b"\x06_vlmcs\x04_tcp\xc0\x0c".to_vec();
        expected.extend_from_slice(&[0, 33, 0, 1, 0, 0, 0, 0, 0, 17]);
        expected.extend_from_slice(rdata);
        // The add: owner (pointer to offset 30), SRV, IN, TTL 3600.
        expected.extend_from_slice(&[0xc0, 30, 0, 33, 0, 1, 0, 0, 0x0e, 0x10, 0, 17]);
        expected.extend_from_slice(rdata);
        assert_eq!(&bytes[30..], &expected[..]);
    }

    #[test]
    fn answers_by_rcode() {
        use crate::dns::PrerequisiteRcode;
        let server: SocketAddr = "192.0.2.53:53".parse().unwrap();
        let zone = name("corp.example.");
        let owner = name("_vlmcs._tcp.corp.example.");
        let nxrrset = Err(UpdateError::PrerequisiteFailed {
            server,
            zone: zone.clone(),
            name: owner.clone(),
            rcode: PrerequisiteRcode::NxRrset,
            retransmitted: false,
        });
        assert_eq!(answer_of(&nxrrset, false), ProbeAnswer::Accepted);
        let refused = Err(UpdateError::Refused {
            server,
            zone: zone.clone(),
            name: owner,
            signed: false,
            key: None,
        });
        assert_eq!(
            answer_of(&refused, false),
            ProbeAnswer::Refused { notauth: false }
        );
        let notauth = Err(UpdateError::NotAuth {
            server,
            zone: zone.clone(),
            key: None,
            tsig_error: None,
        });
        assert_eq!(
            answer_of(&notauth, false),
            ProbeAnswer::Refused { notauth: true }
        );
        let badkey = Err(UpdateError::NotAuth {
            server,
            zone: zone.clone(),
            key: Some(name("k.")),
            tsig_error: Some(TsigError::BadKey),
        });
        assert!(matches!(
            answer_of(&badkey, true),
            ProbeAnswer::KeyRejected {
                tsig_error: Some(TsigError::BadKey),
                ..
            }
        ));
        let applied = Ok(UpdateResponse {
            server,
            zone,
            signed: false,
            transport: crate::dns::Transport::Udp,
            sends: 1,
        });
        assert_eq!(answer_of(&applied, false), ProbeAnswer::Applied);
    }

    #[test]
    fn changes_name_serial_records_and_ttls() {
        let before = ZoneState {
            serial: 7,
            records: vec![
                (3600, record("a.corp.example.")),
                (3600, record("b.corp.example.")),
            ],
        };
        assert!(before.changes_since(&before).is_empty());
        let after = ZoneState {
            serial: 8,
            records: vec![
                (600, record("a.corp.example.")),
                (600, record("c.corp.example.")),
            ],
        };
        assert_eq!(
            after.changes_since(&before),
            [
                "serial 7 → 8",
                "SRV 0 0 1688 a.corp.example.: TTL 3600 → 600",
                "SRV 0 0 1688 b.corp.example. (TTL 3600) deleted",
                "SRV 0 0 1688 c.corp.example. (TTL 600) added",
            ]
        );
        // Case does not make a record another.
        let upper = ZoneState {
            serial: 7,
            records: vec![
                (3600, record("A.corp.example.")),
                (3600, record("b.corp.example.")),
            ],
        };
        assert!(upper.changes_since(&before).is_empty());
    }
}
