//! `kmsdns publish`: apply the plan by RFC 2136 dynamic update.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use clap::Args;
use hickory_proto::rr::Name;

use super::changes::details::{ChangeDetails, Verb};
use super::changes::engine::{DomainOutcome, Engine, Mode, Outcome};
use super::changes::{self, ChangeCommand, Sink, Windows};
use super::replication::judge::{attribute, catch_up_hint, ttl_parts, About, UNREAD_HINT};
use crate::concurrency::per_server::PerServer;
use crate::config::Config;
use crate::context::parse_wait;
use crate::context::Context;
use crate::dns::convergence::{
    self, OwnerComparison, ServerComparison, ServerObservation, ServerState, Watched,
};
use crate::dns::{self, dnssec, srv_owner};
use crate::error::Error;
use crate::report::{Finding, FindingId, Report, Severity};

/// Apply the plan: one atomic RFC 2136 UPDATE per zone, TSIG-signed when
/// a key is configured, guarded by a prerequisite on the RRset as read.
///
/// Only records whose target is one of this configuration's hosts are
/// deleted or changed. If another host changes the RRset between the read
/// and the update, the server rejects the prerequisite and kmsdns re-reads,
/// re-plans and retries (a bounded number of times). The result is read back
/// from the primary. With --wait-replication, waits until every
/// authoritative server serves it, compared as `kmsdns replication --wait`
/// compares them.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Give our records the configured TTL: on most servers the TTL is the RRset's, so every host's record gets it; in AD-integrated zones (a TTL per record) other hosts' records keep theirs
    #[arg(long)]
    pub set_ttl: bool,

    /// Also add the configured addresses (A/AAAA) of KMS hosts whose names lie inside a changed zone; never deletes any
    #[arg(long)]
    pub addresses: bool,

    /// Also delete SRV records whose target is no configured host (needs complete = true); never a managed = false host's, never the last record
    #[arg(long)]
    pub prune: bool,

    /// Then wait up to DUR until every authoritative server serves the change, validly signed in a signed zone (e.g. 30s; at most 7d)
    #[arg(long, value_name = "DUR", value_parser = parse_wait)]
    pub wait_replication: Option<Duration>,

    /// Publish N domains at a time, more while the next is in the same zone: memory grows with N, not with the estate
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

impl ChangeCommand for PublishArgs {
    fn name_and_window(&self) -> (&'static str, u32) {
        ("publish", self.window)
    }

    fn run<'a>(&'a self, windows: Windows<'a>) -> impl Future<Output = Result<(), Error>> + 'a {
        publish(self, windows)
    }
}

/// Publishes every domain, in windows of `size` domains (`None`: all at
/// once), each window's report to `sink`; then optionally waits for
/// replication, its findings a report of their own after the last window
/// (with the one window when all at once: one document).
async fn publish(args: &PublishArgs, windows: Windows<'_>) -> Result<(), Error> {
    let Windows { ctx, size, .. } = windows;
    let sink = windows.sink;
    if args.prune {
        changes::check_prune(ctx)?;
    }
    let mode = Mode::Publish {
        set_ttl: args.set_ttl,
        prune: args.prune,
    };
    let changes = (windows.hooks, &mode, args.addresses);
    let Some(wait) = args.wait_replication else {
        changes::run(ctx, changes, Verb::Publish, size, &mut |_| {}, sink).await?;
        return Ok(());
    };
    let config = ctx.config()?;
    let mut waitlist = Waitlist::default();
    let seen = &mut |outcomes: &[DomainOutcome]| waitlist.add(outcomes, &config);
    // All at once, the one report waits for the wait's findings.
    let mut held = None;
    let keep = &mut |report: Report<_>| {
        held = Some(report);
        Ok(())
    };
    let windows: &mut Sink<'_> = if size.is_some() { sink } else { keep };
    let engine = changes::run(ctx, changes, Verb::Publish, size, seen, windows).await?;
    let waited = wait_replication(&engine, &waitlist, wait, ctx).await;
    // A report of no domain when the windows went ahead: details are theirs.
    let mut report = held.unwrap_or_else(|| {
        Report::new(Verb::Publish.command()).map_details(|()| ChangeDetails::default())
    });
    report.extend(waited);
    sink(report).map_err(|e| Error::Runtime(format!("cannot keep the output: {e}")))
}

/// What `--wait-replication` needs of each zone now as planned, kept from
/// window to window instead of the plans: by zone, its name, its domains
/// now as planned and the `multi-master =` one of them says (usually none).
#[derive(Default)]
struct Waitlist {
    zones: BTreeMap<String, (Name, Vec<Name>, Option<bool>)>,
}

impl Waitlist {
    /// Takes a window's outcomes: every domain now as planned joins the
    /// wait for its zone.
    fn add(&mut self, outcomes: &[DomainOutcome], config: &Config) {
        for outcome in outcomes {
            if !matches!(outcome.outcome, Outcome::Applied | Outcome::InSync) {
                continue;
            }
            let Some(target) = &outcome.target else {
                continue;
            };
            let key = target.zone.to_ascii().to_ascii_lowercase();
            let zone = self
                .zones
                .entry(key)
                .or_insert_with(|| (target.zone.clone(), Vec::new(), None));
            zone.1.push(outcome.domain.clone());
            let said = config.position(&outcome.domain);
            zone.2 = zone
                .2
                .or(said.and_then(|at| config.domains[at].multi_master));
        }
    }
}

/// `--wait-replication`: every zone now as planned, watched as
/// `replication --wait` watches it ([`convergence::watch`]) until every
/// server a client may ask serves the primary's serial and records (and,
/// in a signed zone, valid signatures over them), or `wait` has passed.
async fn wait_replication(
    engine: &Engine,
    waitlist: &Waitlist,
    wait: Duration,
    ctx: &Context,
) -> Vec<Finding> {
    let deadline = crate::concurrency::deadline::instant_after(wait);
    let progress = ctx.progress_bar(
        waitlist.zones.len() as u64,
        "{spinner} waiting for replication: {pos}/{len} zone(s) ({msg})",
    );
    let mut findings = Vec::new();
    for (zone, domains, multi_master) in waitlist.zones.values() {
        progress.set_message(zone.to_string());
        let owners: Vec<Name> = domains.iter().map(srv_owner).collect();
        // The zone's SOA as `replication` finds it: its MNAME is the
        // reference, its NS set the servers compared.
        let found = match dns::find_zone_soa(&owners[0], &engine.resolver).await {
            Ok(soa) => {
                let watched = convergence::watch(
                    &soa,
                    &owners,
                    &engine.resolver,
                    &engine.opts,
                    Some(deadline),
                    *multi_master,
                    &PerServer::new(engine.concurrency),
                )
                .await;
                let waited = replication_findings(zone, wait, &watched);
                // The RRsets called replicated: every one once the zone
                // converged, else those of the domains not held back.
                let replicated: Vec<Name> = if watched.comparison.converged {
                    owners
                } else {
                    let observation = &watched.observation;
                    watched.comparison.settled(observation).cloned().collect()
                };
                if replicated.is_empty() {
                    waited
                } else {
                    signature_wait(zone, &replicated, &watched, deadline, engine, waited).await
                }
            }
            Err(error) => vec![(
                About::Zone,
                Finding::new(
                    FindingId::DnsReadFailed,
                    Severity::Critical,
                    error.to_string(),
                )
                .domain(zone),
            )],
        };
        // A finding on the zone is a fact of every domain published in
        // it; one on an RRset, of its domain alone.
        let published: Vec<String> = domains.iter().map(Name::to_ascii).collect();
        findings.extend(attribute(found, &zone.to_string(), domains, &published));
        progress.inc(1);
    }
    progress.finish_and_clear();
    findings
}

/// In a signed zone, `replicated` only once every server also serves a
/// valid signature over the RRsets of `owners`, those called replicated
/// ([`convergence::watch_signatures`]); else what is wrong with them.
async fn signature_wait(
    zone: &Name,
    owners: &[Name],
    watched: &Watched,
    deadline: Instant,
    engine: &Engine,
    mut findings: Vec<(About, Finding)>,
) -> Vec<(About, Finding)> {
    let signatures = convergence::watch_signatures(
        &watched.observation,
        owners,
        &engine.resolver,
        &engine.opts,
        deadline,
    )
    .await;
    if dnssec::all_valid(&signatures) {
        return findings;
    }
    findings.retain(|(_, finding)| finding.id != FindingId::Replicated);
    let problems = dnssec::findings(&zone.to_ascii(), &signatures, Duration::ZERO);
    findings.extend(
        problems
            .into_iter()
            .filter(|finding| finding.severity >= Severity::Warning)
            .map(|finding| (About::Zone, finding)),
    );
    findings
}

/// `replicated` when every server caught up, else one finding per server
/// that had not, named for what holds it back: `serial-behind` (or
/// `serial-ahead`) for a serial, `server-unreachable` or `server-lame`
/// for a server that could not be read, each about the zone; for a server
/// with the reference's serial, one `rrset-differs` (other records or
/// TTLs; the only kind on a multi-master zone, whose serials are never
/// compared) or `dns-read-failed` per RRset, about its domain alone, whose
/// other domains are `replicated`.
fn replication_findings(zone: &Name, wait: Duration, watched: &Watched) -> Vec<(About, Finding)> {
    let observation = &watched.observation;
    let comparison = &watched.comparison;
    let mut findings = Vec::new();
    if let Some(error) = &watched.ns_error {
        let finding = Finding::new(
            FindingId::DnsReadFailed,
            Severity::Critical,
            format!("the NS set of {zone} is unknown: {error}; only the primary is compared"),
        );
        findings.push((About::Zone, finding.domain(zone)));
    }
    if comparison.converged {
        let finding = Finding::new(
            FindingId::Replicated,
            Severity::Ok,
            format!("every authoritative server of {zone} serves the change"),
        );
        findings.push((About::Zone, finding.domain(zone)));
        return findings;
    }
    for owner in comparison.settled(observation) {
        let finding = Finding::new(
            FindingId::Replicated,
            Severity::Ok,
            format!("every authoritative server of {zone} serves the change to {owner}"),
        );
        findings.push((About::Rrset(owner.clone()), finding.domain(zone)));
    }
    let reference = comparison.reference.map(|i| &observation.servers[i]);
    let from = match reference {
        Some(r) if r.primary => "the primary".to_string(),
        Some(r) => r.label(),
        None => "no server".to_string(),
    };
    for (server, compared) in observation.servers.iter().zip(&comparison.servers) {
        // Clients never ask a hidden primary that does not answer.
        if compared.state.caught_up() || (server.hidden_primary() && server.answered().is_none()) {
            continue;
        }
        let lags: Vec<(About, bool, String)> = if compared.state == ServerState::Differs {
            let differing = compared.rrsets.iter().filter(|rrset| rrset.differs());
            differing
                .map(|rrset| {
                    let about = About::Rrset(rrset.owner.clone());
                    (about, rrset.error.is_some(), rrset_lag(rrset, &from))
                })
                .collect()
        } else {
            let unread = compared.rrsets.iter().any(|rrset| rrset.error.is_some());
            vec![(About::Zone, unread, lag(compared, reference, &from))]
        };
        for (about, unread, why) in lags {
            // An RRset that could not be read says nothing of the records.
            let (id, hint) = if unread {
                (FindingId::DnsReadFailed, UNREAD_HINT)
            } else {
                let hint = catch_up_hint(&observation.multi_master, compared.state);
                (lag_id(compared.state), hint)
            };
            let mut finding = Finding::new(
                id,
                Severity::Critical,
                format!(
                    "{} had not caught up after {}: {why}",
                    server.label(),
                    humantime::format_duration(wait),
                ),
            )
            .domain(zone)
            .hint(hint);
            if let Some(address) = server.address {
                finding = finding.server(address);
            }
            findings.push((about, finding));
        }
    }
    findings.extend(reference.map_or_else(Vec::new, |r| unread_at_reference(zone, wait, r)));
    findings
}

/// `dns-read-failed` for each RRset of the reference (the primary, whose
/// records the others are compared with) that could not be read, about
/// its domain alone: without it the others have nothing to catch up with,
/// and the wait ends unconverged with no server behind.
fn unread_at_reference(
    zone: &Name,
    wait: Duration,
    reference: &ServerObservation,
) -> Vec<(About, Finding)> {
    let Some((_, reads)) = reference.answered() else {
        return Vec::new();
    };
    let failed = reads
        .iter()
        .filter_map(|read| Some((&read.owner, read.result.as_ref().err()?)));
    failed
        .map(|(owner, error)| {
            let mut finding = Finding::new(
                FindingId::DnsReadFailed,
                Severity::Critical,
                format!(
                    "the SRV records of {} could not be read at {} after {}: {error}",
                    owner,
                    reference.label(),
                    humantime::format_duration(wait)
                ),
            )
            .domain(zone)
            .hint(UNREAD_HINT);
            if let Some(address) = reference.address {
                finding = finding.server(address);
            }
            (About::Rrset(owner.clone()), finding)
        })
        .collect()
}

/// The finding of a server not yet serving the change, by its state.
fn lag_id(state: ServerState) -> FindingId {
    match state {
        ServerState::Ahead => FindingId::SerialAhead,
        ServerState::Differs => FindingId::RrsetDiffers,
        ServerState::Timeout | ServerState::Refused | ServerState::Unreachable => {
            FindingId::ServerUnreachable
        }
        ServerState::Lame | ServerState::NoAddress => FindingId::ServerLame,
        ServerState::Reference | ServerState::InSync | ServerState::Behind => {
            FindingId::SerialBehind
        }
    }
}

/// Why a server is not yet serving the change, when it is no RRset of
/// its own ([`rrset_lag`]); `from` names the reference.
fn lag(compared: &ServerComparison, reference: Option<&ServerObservation>, from: &str) -> String {
    let reference_serial = reference
        .and_then(|r| r.answered())
        .map(|(serial, _)| serial);
    match (compared.state, compared.serial, reference_serial) {
        (ServerState::Behind | ServerState::Ahead, Some(serial), Some(wanted)) => {
            format!("serial {serial}, {from} has {wanted}")
        }
        (ServerState::NoAddress, _, _) if compared.error.is_none() => {
            "it has no A or AAAA record".to_string()
        }
        (state, _, _) => compared
            .error
            .clone()
            .unwrap_or_else(|| state.word().to_string()),
    }
}

/// Why a server with the reference's serial does not yet serve one
/// RRset as `from` (the reference) does.
fn rrset_lag(rrset: &OwnerComparison, from: &str) -> String {
    match &rrset.error {
        Some(error) => error.clone(),
        None if !rrset.records_differ() => format!(
            "serves the SRV records for {} with {}",
            rrset.owner,
            ttl_parts(&rrset.ttl_differs, from).join("; ")
        ),
        None => format!("serves other SRV records for {}", rrset.owner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::convergence::tests::{server, zone};
    use crate::dns::convergence::{compare, OwnerRead, ServerRead, Watched};

    const KMS1: &str = "0 0 1688 kms1.corp.example.";
    const CORP: &str = "_vlmcs._tcp.corp.example.";
    const EMEA: &str = "_vlmcs._tcp.emea.corp.example.";

    /// What `--wait-replication` says once its wait ran out on `servers`,
    /// each finding with what it is about.
    fn about_after_wait(servers: Vec<ServerObservation>) -> Vec<(About, Finding)> {
        let observation = zone(servers);
        let comparison = compare(&observation);
        assert!(!comparison.converged);
        let watched = Watched {
            observation,
            comparison,
            polls: 3,
            elapsed: Duration::from_secs(1),
            ns_error: None,
        };
        let zone = Name::from_ascii("corp.example.").unwrap();
        replication_findings(&zone, Duration::from_secs(1), &watched)
    }

    /// As [`about_after_wait`], the findings alone.
    fn after_wait(servers: Vec<ServerObservation>) -> Vec<Finding> {
        let about = about_after_wait(servers).into_iter();
        about.map(|(_, finding)| finding).collect()
    }

    /// `server` with emea.corp.example's RRset too, read as `result`.
    fn with_emea(mut server: ServerObservation, result: Result<&str, &str>) -> ServerObservation {
        if let ServerRead::Answered { rrsets, .. } = &mut server.read {
            rrsets.push(OwnerRead {
                owner: Name::from_ascii(EMEA).unwrap(),
                result: result
                    .map(|record| [(record.to_string(), 3600)].into_iter().collect())
                    .map_err(str::to_string),
                mixed: None,
            });
        }
        server
    }

    /// Each finding's id and what it is about.
    fn ids(findings: &[(About, Finding)]) -> Vec<(About, String)> {
        let ids = findings
            .iter()
            .map(|(about, f)| (about.clone(), f.id.to_string()));
        ids.collect()
    }

    #[test]
    fn a_server_whose_records_could_not_be_read_is_a_failed_read_not_other_records() {
        let findings = after_wait(vec![
            server("ns1.corp.example.", true, Ok(&[KMS1])),
            server("ns2.corp.example.", false, Err("SERVFAIL")),
        ]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].id, FindingId::DnsReadFailed);
        assert!(findings[0].message.contains("SERVFAIL"), "{findings:?}");
        assert_eq!(findings[0].hint.as_deref(), Some(UNREAD_HINT));
    }

    #[test]
    fn a_primary_whose_records_could_not_be_read_is_never_a_silent_wait() {
        let findings = after_wait(vec![
            server("ns1.corp.example.", true, Err("timed out")),
            server("ns2.corp.example.", false, Ok(&[KMS1])),
        ]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].id, FindingId::DnsReadFailed);
        assert!(
            findings[0].message.starts_with(
                "the SRV records of _vlmcs._tcp.corp.example. could not be read at ns1.corp.example."
            ),
            "{findings:?}"
        );
        assert!(findings[0].message.ends_with(": timed out"), "{findings:?}");
    }

    /// What holds back one RRset, at the primary or at a secondary with
    /// its serial, is about that RRset's domain alone, and the zone's
    /// other domains are replicated.
    #[test]
    fn what_holds_back_one_rrset_is_its_domain_s_and_the_others_are_replicated() {
        let corp = || About::Rrset(Name::from_ascii(CORP).unwrap());
        let emea = || About::Rrset(Name::from_ascii(EMEA).unwrap());
        let primary = |emea| with_emea(server("ns1.corp.example.", true, Ok(&[KMS1])), emea);
        let secondary = |emea| with_emea(server("ns2.corp.example.", false, Ok(&[KMS1])), emea);
        for (ns1, ns2) in [(Err("SERVFAIL"), Ok(KMS1)), (Ok(KMS1), Err("SERVFAIL"))] {
            let findings = about_after_wait(vec![primary(ns1), secondary(ns2)]);
            assert_eq!(
                ids(&findings),
                [
                    (corp(), "replicated".to_string()),
                    (emea(), "dns-read-failed".to_string())
                ],
                "{findings:?}"
            );
        }
        let findings = about_after_wait(vec![primary(Ok(KMS1)), secondary(Ok("0 0 1688 old."))]);
        assert_eq!(
            ids(&findings),
            [
                (corp(), "replicated".to_string()),
                (emea(), "rrset-differs".to_string())
            ],
            "{findings:?}"
        );
        assert!(
            findings[1]
                .1
                .message
                .ends_with(&format!("serves other SRV records for {EMEA}")),
            "{findings:?}"
        );
        // Behind, it is the zone's: no domain is replicated.
        let mut behind = secondary(Ok("0 0 1688 old."));
        if let ServerRead::Answered { serial, .. } = &mut behind.read {
            *serial -= 1;
        }
        let findings = about_after_wait(vec![primary(Ok(KMS1)), behind]);
        assert_eq!(
            ids(&findings),
            [(About::Zone, "serial-behind".to_string())],
            "{findings:?}"
        );
    }
}
