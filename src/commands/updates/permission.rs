//! The live half of `kmsdns updates`: asks each zone's primary whether it
//! would let a sender change the `_vlmcs._tcp` SRV records, and leaves the
//! zone exactly as it was (RFC 2136 dynamic update, RFC 8945 TSIG).
//!
//! DNS has no "may I update?" question, so the probe is a real UPDATE whose
//! net effect is nothing:
//!
//! ```text
//! zone          <zone>. SOA IN                                     (RFC 2136 §2.3)
//! prerequisite  the SRV RRset of _vlmcs._tcp.<domain>. exactly as just read
//!               (§2.4.2; "does not exist", §2.4.3, when it is empty)
//! update        1. add    _vlmcs._tcp.<domain>. <TTL> IN SRV 65535 0 0 kmsdns-probe-<random>.invalid.   (§2.5.1)
//!               2. delete the same RR (class NONE, TTL 0)                                              (§2.5.4)
//! ```
//!
//! Why each part is there (verified against BIND 9.18 in `tests/updates.rs`
//! and in `notes/hickory-and-bind.md`, "May we update?" probes):
//!
//! 1. **A real change at the real name and type.** Permission (§3.3) is
//!    judged on the update section: `allow-update` on the sender,
//!    `update-policy` on the signer *and on every RR's name and type*. An
//!    UPDATE with only a prerequisite and no update RR is not enough: BIND
//!    has no RR to hold against the `update-policy`, so any *valid* key
//!    passes whether or not it is granted the SRV records, and over TCP
//!    BIND skips even its unsigned check for `update-policy` zones. The
//!    sentinel is added at `_vlmcs._tcp.<domain>.` type SRV, exactly what
//!    `publish` changes, so the answer is the grant `publish` will meet.
//! 2. **Add first, then delete.** The update section is applied in order
//!    (§3.4.2): delete-then-add would delete nothing and leave the sentinel
//!    in the zone. This is why the probe is not built by
//!    [`crate::dns::send_update`], whose [`crate::dns::UpdateRequest`]
//!    always puts deletes before adds (right for `publish`); it reuses
//!    [`crate::dns::build_update`] for the zone, prerequisite and add
//!    sections and appends the delete itself.
//! 3. **No net change, serial untouched.** BIND collects the changes of one
//!    message as a minimal diff: the add and the delete of the same RR
//!    cancel out, the diff is empty, and an empty diff bumps no serial,
//!    writes no journal and sends no NOTIFY. The whole message is atomic
//!    (§3.7), so the sentinel never exists for a reader.
//! 4. **The RRset's own TTL.** The TTL belongs to the RRset (RFC 2181 §5.2):
//!    BIND answers an add with another TTL by rewriting the TTL of every RR
//!    of `_vlmcs._tcp` (other hosts' too), and that rewrite does *not*
//!    cancel with the delete — the serial moves. So the TTL is read from the
//!    primary just before, and the sentinel carries it.
//! 5. **The prerequisite.** If another host changes the RRset between our
//!    read and our probe, the server applies nothing and answers
//!    NXRRSET/YXRRSET; the probe re-reads and tries again (a bounded number
//!    of times). Prerequisites carry no TTL (§2.4.2), so a change of the TTL
//!    alone in the milliseconds between read and probe is the one race left:
//!    the probe would then put the old TTL back.
//! 6. **A sentinel that cannot matter.** Its target is a random label under
//!    `invalid.` (RFC 6761 §6.4: never resolves), so it can equal no real
//!    record, and even a server that broke atomicity could send no client
//!    anywhere with it; priority 65535 puts it after every real host
//!    (RFC 2782). An in-zone target would be created by nobody today but
//!    could be tomorrow.
//!
//! The probe goes unsigned first (does the zone accept anyone?), then signed
//! with the domain's configured key (would `publish` be accepted?). It is
//! sent by [`crate::dns::send_update_message`], as `publish` sends its
//! updates: signed with the same TSIG signer, so with every algorithm
//! `publish` uses (hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256/384/512),
//! over UDP as `nsupdate` sends it (TCP beyond 512 bytes or when the reply
//! is truncated). A lost reply is answered by the same message again,
//! which repeats the same no-op. A signed reply is believed only when its
//! TSIG verifies; a rejected signature is reported with the server's TSIG
//! error (BADSIG: wrong secret, BADKEY: unknown key name or algorithm,
//! BADTIME: clock skew).
//!
//! Every attempt is logged by the server (`update 'zone/IN' denied`, or
//! `updating zone …: adding an RR` and `deleting an RR` when accepted).

// The errors are the DNS layer's `UpdateError`, large because they carry
// hickory `Name`s as context; they occur at network speed.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;

use hickory_proto::op::{Message, UpdateMessage};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{DNSClass, Name, RData, Record};

use crate::config::gss::GssAuth;
use crate::config::key::TsigKey;
use crate::config::srv_owner;
use crate::dns::ServerSpec;
use crate::dns::SrvRrset;
use crate::dns::{
    self, random_u64, DnsOptions, Expected, Resolver, TsigError, UpdateError, UpdateRequest,
    UpdateResponse,
};

/// Priority of the sentinel: the last any client would try (RFC 2782).
pub const SENTINEL_PRIORITY: u16 = 65535;
/// Weight of the sentinel.
pub const SENTINEL_WEIGHT: u16 = 0;
/// Port of the sentinel: no service listens on port 0.
pub const SENTINEL_PORT: u16 = 0;

/// How many times a probe re-reads the RRset after another host changed it
/// between the read and the probe.
pub const MAX_RETRIES: u32 = 3;

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
}

/// How the primary answered one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// NOERROR: the server would apply a change from this sender.
    Accepted,
    /// REFUSED: this sender may not change the SRV records.
    Refused,
    /// NOTAUTH: the server did not accept our signature.
    KeyRejected {
        /// The TSIG error the server named (BADSIG, BADKEY, BADTIME, …).
        tsig_error: Option<TsigError>,
        /// The whole explanation.
        message: String,
    },
    /// No usable answer: what the server allows is unknown.
    Failed {
        /// Why.
        message: String,
    },
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
    /// TTL of the RRset as last read (`None`: the RRset is empty).
    pub ttl: Option<u32>,
    /// Number of SRV records as last read.
    pub records: usize,
    /// Why nothing could be probed (zone, primary or RRset unknown).
    pub error: Option<String>,
    /// The answer to the unsigned probe.
    pub unsigned: Option<ProbeAnswer>,
    /// The key of the signed probe.
    pub key: Option<Name>,
    /// The answer to the signed probe.
    pub signed: Option<ProbeAnswer>,
    /// Re-reads forced by another host changing the RRset meanwhile.
    pub retries: u32,
}

/// The SRV RR the probe adds and deletes: priority 65535, weight 0, port 0,
/// target `kmsdns-probe-<nonce>.invalid.`.
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

/// The probe message: zone, the RRset as read as prerequisite, then the
/// sentinel added with `ttl` and deleted again (see the module docs).
pub fn build_probe(
    zone: &Name,
    name: &Name,
    current: &SrvRrset,
    sentinel: &SRV,
    ttl: u32,
    id: u16,
) -> Result<Message, UpdateError> {
    let mut owner = name.clone();
    owner.set_fqdn(true);
    let add = Record::from_rdata(owner.clone(), ttl, RData::SRV(sentinel.clone()));
    let expected = if current.records.is_empty() {
        Expected::Absent
    } else {
        Expected::Exactly(
            current
                .records
                .iter()
                .map(|r| SRV::new(r.priority, r.weight, r.port, r.target.clone()))
                .collect(),
        )
    };
    let request = UpdateRequest {
        zone: zone.clone(),
        name: owner,
        expected,
        delete: Vec::new(),
        add: vec![add.clone()],
    };
    let mut message = dns::build_update(&request, id)?;
    // §2.5.4: delete one RR: class NONE, TTL 0, the exact RDATA. After the
    // add, so that the two cancel (§3.4.2: in order).
    let mut delete = add;
    delete.set_dns_class(DNSClass::NONE).set_ttl(0);
    message.add_update(delete);
    Ok(message)
}

/// Sends the probe for `name` to `server`, signed with `key` when given.
/// `Ok` means the server accepted it (and, being a no-op, changed nothing).
pub async fn send_probe(
    server: SocketAddr,
    zone: &Name,
    name: &Name,
    current: &SrvRrset,
    ttl: u32,
    key: Option<&TsigKey>,
    opts: &DnsOptions,
) -> Result<UpdateResponse, UpdateError> {
    let id = (random_u64() & 0xffff) as u16;
    let sentinel = sentinel(random_u64()).map_err(|reason| UpdateError::InvalidRequest {
        zone: zone.clone(),
        reason,
    })?;
    let message = build_probe(zone, name, current, &sentinel, ttl, id)?;
    dns::send_update_message(server, message, name, key, opts).await
}

/// Probes one domain: finds its zone and primary, reads the RRset, then
/// sends the probe unsigned and, with a key, signed.
pub async fn probe_domain(
    target: &ProbeTarget,
    resolver: &Resolver,
    opts: &DnsOptions,
) -> LiveProbe {
    let name = srv_owner(&target.domain);
    let mut probe = LiveProbe {
        domain: target.domain.clone(),
        name: name.clone(),
        zone: None,
        primary: None,
        ttl: None,
        records: 0,
        error: None,
        unsigned: None,
        key: target.key.as_ref().map(|k| k.name.clone()),
        signed: None,
        retries: 0,
    };
    let found = dns::find_primary(&name, target.server.as_ref(), resolver, opts).await;
    let (zone, primaries) = match found {
        Ok(found) => (found.zone, found.primary),
        Err(error) => {
            probe.error = Some(error.to_string());
            return probe;
        }
    };
    probe.zone = Some(zone.clone());
    // The first primary address that answers the read is the one probed.
    let mut last_error = format!("the primary of {zone} has no address");
    let mut found = None;
    for server in &primaries {
        match dns::read_srv(*server, &name, opts).await {
            Ok(current) => {
                found = Some((*server, current.into_rrset()));
                break;
            }
            Err(e) => last_error = e.to_string(),
        }
    }
    let Some((server, current)) = found else {
        probe.error = Some(last_error);
        return probe;
    };
    probe.primary = Some(server);
    probe.ttl = current.ttl;
    probe.records = current.records.len();
    let mut session = Session {
        server,
        zone: &zone,
        name: &name,
        current,
        opts,
        retries: 0,
    };
    probe.unsigned = Some(session.ask(None, None).await);
    if let Some(key) = &target.key {
        probe.signed = Some(session.ask(Some(key), None).await);
    } else if let Some(gss) = &target.gss {
        // The Kerberos principal stands where a key name would: the
        // findings name it as the identity that signed.
        let principal = gss.principal.as_deref().unwrap_or("gss-tsig");
        probe.key = Name::from_ascii(principal)
            .or_else(|_| Name::from_labels(principal.split('.')))
            .or_else(|_| Name::from_ascii("gss-tsig"))
            .ok();
        probe.signed = Some(session.ask(None, Some(gss)).await);
    }
    probe.ttl = session.current.ttl;
    probe.records = session.current.records.len();
    probe.retries = session.retries;
    probe
}

/// The state of one domain's probes: the RRset as last read.
struct Session<'a> {
    server: SocketAddr,
    zone: &'a Name,
    name: &'a Name,
    current: SrvRrset,
    opts: &'a DnsOptions,
    retries: u32,
}

impl Session<'_> {
    /// One probe, re-read and re-sent when the RRset changed meanwhile.
    async fn ask(&mut self, key: Option<&TsigKey>, gss: Option<&GssAuth>) -> ProbeAnswer {
        let mut attempts = 0;
        loop {
            // An empty RRset has no TTL to keep: the sentinel is alone in it
            // and leaves with it, so any TTL does.
            let ttl = self.current.ttl.unwrap_or(crate::config::DEFAULT_TTL);
            crate::dns::trace::note(|| {
                let how = key.map_or("unsigned".to_string(), |k| {
                    format!("signed with {}", k.name)
                });
                format!(
                    "probing {} at {} ({how}, TTL {ttl}, {} record(s) as prerequisite)",
                    self.name,
                    self.server,
                    self.current.records.len()
                )
            });
            let sent = match gss {
                Some(gss) => self.send_gss(gss, ttl).await,
                None => {
                    send_probe(
                        self.server,
                        self.zone,
                        self.name,
                        &self.current,
                        ttl,
                        key,
                        self.opts,
                    )
                    .await
                }
            };
            return match sent {
                Ok(_) => ProbeAnswer::Accepted,
                Err(UpdateError::Refused { .. }) => ProbeAnswer::Refused,
                Err(error @ UpdateError::NotAuth { .. }) if key.is_some() => {
                    let tsig_error = match &error {
                        UpdateError::NotAuth { tsig_error, .. } => *tsig_error,
                        _ => None,
                    };
                    ProbeAnswer::KeyRejected {
                        tsig_error,
                        message: error.to_string(),
                    }
                }
                Err(UpdateError::PrerequisiteFailed { .. }) if attempts < MAX_RETRIES => {
                    // Another host changed the RRset since it was read:
                    // nothing was applied; read it again and re-probe.
                    attempts += 1;
                    self.retries += 1;
                    match dns::read_srv(self.server, self.name, self.opts).await {
                        Ok(current) => {
                            self.current = current.into_rrset();
                            continue;
                        }
                        Err(error) => ProbeAnswer::Failed {
                            message: error.to_string(),
                        },
                    }
                }
                Err(UpdateError::PrerequisiteFailed { .. }) => ProbeAnswer::Failed {
                    message: format!(
                        "the SRV records of {} kept changing while kmsdns probed ({} attempts)",
                        self.name,
                        MAX_RETRIES + 1
                    ),
                },
                Err(error) => ProbeAnswer::Failed {
                    message: error.to_string(),
                },
            };
        }
    }
}

impl Session<'_> {
    /// The probe signed with GSS-TSIG (RFC 3645), over TCP.
    #[cfg(feature = "gssapi")]
    async fn send_gss(&self, gss: &GssAuth, ttl: u32) -> Result<UpdateResponse, UpdateError> {
        let zone = self.zone;
        let id = (random_u64() & 0xffff) as u16;
        let sentinel = sentinel(random_u64()).map_err(|reason| UpdateError::InvalidRequest {
            zone: zone.clone(),
            reason,
        })?;
        let message = build_probe(zone, self.name, &self.current, &sentinel, ttl, id)?;
        let (exchanged, _principal) =
            dns::gss::exchange_signed(self.server, zone, gss, message, self.opts).await?;
        let sends = exchanged.sends;
        dns::judge(zone, self.name, None, self.server, exchanged, sends, None)
    }

    /// Without the `gssapi` feature a `gss-tsig` domain cannot be probed
    /// signed (the configuration reader refuses it before this).
    #[cfg(not(feature = "gssapi"))]
    async fn send_gss(&self, _gss: &GssAuth, _ttl: u32) -> Result<UpdateResponse, UpdateError> {
        Err(UpdateError::InvalidRequest {
            zone: self.zone.clone(),
            reason: crate::config::gss::NOT_BUILT.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SrvRecord;
    use hickory_proto::op::OpCode;
    use hickory_proto::rr::RecordType;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn current(ttl: Option<u32>, targets: &[&str]) -> SrvRrset {
        SrvRrset {
            ttl,
            records: targets
                .iter()
                .map(|t| SrvRecord {
                    priority: 0,
                    weight: 0,
                    port: 1688,
                    target: name(t),
                })
                .collect(),
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
    fn the_add_comes_before_the_delete_with_the_rrset_ttl() {
        let srv = sentinel(7).unwrap();
        let read = current(Some(600), &["kms1.corp.example.", "kms2.corp.example."]);
        let message = build_probe(
            &name("corp.example."),
            &name("_vlmcs._tcp.corp.example."),
            &read,
            &srv,
            600,
            1,
        )
        .unwrap();
        assert_eq!(message.op_code(), OpCode::Update);
        let prerequisites = message.prerequisites();
        assert_eq!(prerequisites.len(), 2, "the RRset as read, value dependent");
        assert!(prerequisites.iter().all(|p| p.dns_class() == DNSClass::IN));
        let updates = message.updates();
        assert_eq!(updates.len(), 2);
        // 1. the add: class IN, the RRset's TTL.
        assert_eq!(updates[0].dns_class(), DNSClass::IN);
        assert_eq!(updates[0].ttl(), 600);
        assert_eq!(updates[0].data(), &RData::SRV(srv.clone()));
        // 2. the delete of the same RR: class NONE, TTL 0.
        assert_eq!(updates[1].dns_class(), DNSClass::NONE);
        assert_eq!(updates[1].ttl(), 0);
        assert_eq!(updates[1].data(), &RData::SRV(srv));
        for update in updates {
            assert_eq!(update.name(), &name("_vlmcs._tcp.corp.example."));
            assert_eq!(update.record_type(), RecordType::SRV);
        }
    }

    #[test]
    fn an_empty_rrset_is_the_does_not_exist_prerequisite() {
        let message = build_probe(
            &name("corp.example."),
            &name("_vlmcs._tcp.corp.example."),
            &current(None, &[]),
            &sentinel(7).unwrap(),
            3600,
            1,
        )
        .unwrap();
        let prerequisites = message.prerequisites();
        assert_eq!(prerequisites.len(), 1);
        assert_eq!(prerequisites[0].dns_class(), DNSClass::NONE);
        assert_eq!(prerequisites[0].record_type(), RecordType::SRV);
    }

    #[test]
    fn wire_form_of_the_update_section() {
        let message = build_probe(
            &name("corp.example."),
            &name("_vlmcs._tcp.corp.example."),
            &current(None, &[]),
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
            0, 1,       // PRCOUNT: the RRset does not exist
            0, 2,       // UPCOUNT: the add and the delete
            0, 0,       // ADCOUNT
        ];
        assert_eq!(&bytes[..12], &header);
        // Zone (offset 12, 18 bytes) and prerequisite (offset 30: owner
        // with a pointer to the zone, 14 bytes, then 10 bytes of fields).
        let updates = &bytes[12 + 18 + 14 + 10..];
        let rdata = b"\xff\xff\x00\x00\x00\x00\x01p\x07invalid\x00";
        let mut expected = Vec::new();
        // The add: owner (pointer to offset 30), SRV, IN, TTL 3600.
        expected.extend_from_slice(&[0xc0, 30, 0, 33, 0, 1, 0, 0, 0x0e, 0x10, 0, 17]);
        // priority 65535, weight 0, port 0, target p.invalid.
        expected.extend_from_slice(rdata);
        // The delete: the same owner, SRV, class NONE (254), TTL 0.
        expected.extend_from_slice(&[0xc0, 30, 0, 33, 0, 0xfe, 0, 0, 0, 0, 0, 17]);
        expected.extend_from_slice(rdata);
        assert_eq!(updates, &expected[..]);
    }
}
