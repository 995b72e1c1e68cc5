//! `kmsdns updates`: who may rewrite the `_vlmcs._tcp` SRV records.
//!
//! 1. Pick the domains: `--domain`, or the configuration's publish list;
//!    with `--named-conf` and neither, every primary zone of every view.
//! 2. Static (`--named-conf`): read BIND's configuration with
//!    [`crate::named_conf`], find the zone of each `_vlmcs._tcp` name in
//!    each view, analyse its grants, and map them to findings with
//!    [`crate::commands::updates::judge`].
//! 3. Live (`--live`, the default without `--named-conf`): probe each
//!    domain's primary with [`crate::commands::updates::observe`], unsigned then signed,
//!    concurrently up to `--concurrency` domains; the probe changes nothing
//!    (an RFC 2136 add of a sentinel RR guarded by a prerequisite that
//!    cannot hold), and the zone is read back after it.
//! 4. Report per zone: static verdicts, live verdicts, then the findings.

pub mod details;
pub mod judge;
pub mod observe;

use std::path::PathBuf;
use std::sync::Arc;

use crate::concurrency::in_order;
use clap::Args;
use hickory_proto::rr::Name;

use crate::config::{self, Config};
use crate::context::{parse_domain, Context, Selection, DOMAIN_SEPARATOR};
use crate::dns::identify::Recognition;
use crate::dns::name::parse_name;
use crate::error::Error;
use crate::named_conf::{
    audit_domains_each, audit_zones_each, zone_location, zones_of_domain, Access, NamedConf,
    Verdict, ZoneAudit,
};
use crate::report::{Finding, Report, Severity};
use details::{
    Answer, KeyReach, LiveVerdict, Reach, StaticVerdict, UpdatesDetails, Who, WhoVerdict,
    ZoneUpdates,
};
use judge::{absolute, domain_of, live_findings, show_name, static_findings, worst};
use observe::{LiveProbe, ProbeAnswer, ProbeTarget};

/// Audit who may change the _vlmcs._tcp records: statically from BIND's
/// named.conf, and live with an update probe that changes nothing.
///
/// With --named-conf FILE: follows include (globs too), views, acl and key
/// as named 9.18 does, and for every zone holding a domain of the publish
/// list (or, with no domain and no configuration, every primary zone of
/// every view) decides who named would let change the _vlmcs._tcp SRV
/// records or redirect them (NS, DNAME, CNAME): allow-update { any; } and
/// address-only grants (critical: anyone who can send from there can point
/// KMS clients at a rogue host), keyed grants wider than the SRV records
/// (the whole zone, every key named knows, a redirection), keys used but
/// not defined, zones not found or served by DLZ, each with its
/// file:line:column. A configuration named would refuse to load gets
/// named's reason, not a verdict.
///
/// With --live (the default without --named-conf): sends each domain's
/// primary one RFC 2136 UPDATE that adds a sentinel SRV record under a
/// prerequisite that cannot hold, so nothing changes, not even the SOA
/// serial: a server that refuses the sender says REFUSED or NOTAUTH, one
/// that would accept it stops at the prerequisite (NXRRSET). Sent
/// unsigned, then signed with the configured key, it tells "accepts
/// unsigned updates" (critical) from "keyed only" (ok) from "our key is
/// refused" (critical: publish will fail), in the words of the server
/// that answered (BIND, Knot DNS, PowerDNS). The serial and the records
/// are read back after each probe. The server logs each attempt.
#[derive(Debug, Args)]
// No argument group of the struct's options: clap would record each
// `--domain` in it a second time (about 360 bytes), and nothing asks it.
#[group(skip)]
pub struct UpdatesArgs {
    /// Audit the update grants of this BIND configuration (includes are followed)
    #[arg(long, value_name = "FILE")]
    pub named_conf: Option<PathBuf>,

    /// Probe the primaries live too (the default without --named-conf)
    #[arg(long)]
    pub live: bool,

    /// Audit DOMAIN instead of the configuration's publish list (repeatable;
    /// with --named-conf, no domain and no configuration: every zone)
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain, value_delimiter = DOMAIN_SEPARATOR)]
    pub domains: Vec<Name>,

    /// Audit N domains at a time: memory grows with N, not with the estate
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

/// One domain to audit.
#[derive(Debug, Clone)]
struct Audited {
    name: Name,
    /// Where it is in the configuration's domains, when it is there:
    /// `publish` is then expected to work. (An index, not a copy of its
    /// key and server: 10,000 copies were 4.5 MB.)
    configured: Option<usize>,
}

/// Runs the static audit, the live probe or both.
pub async fn run(args: &UpdatesArgs, ctx: &Context) -> Result<Report<UpdatesDetails>, Error> {
    let live = args.live || args.named_conf.is_none();
    let (domains, config) = domains(args, ctx)?;
    let mut zones = Zones::default();

    let mut files = Vec::new();
    let mut domains = domains;
    if let Some(path) = &args.named_conf {
        let conf = ctx.named_conf(path)?;
        files = conf.files.iter().map(|f| f.display().to_string()).collect();
        // Each zone's audit becomes details and findings as soon as it is
        // made: only those are kept, not 100,000 analyses.
        let mut found = FoundDomains::default();
        // Why named refuses the file is the file's, not a window's: the
        // run's first audit reports it (each audit keeps its verdict).
        let mut refusal = !conf.loads() && ctx.first_report_of_refusal();
        let mut add = |audit: ZoneAudit| {
            if domains.is_none() {
                found.add(&audit);
            }
            let report = conf.loads() || std::mem::take(&mut refusal);
            add_static(&mut zones, &conf, audit, report);
        };
        match &domains {
            Some(domains) => {
                let names: Vec<String> = domains.iter().map(|d| d.name.to_ascii()).collect();
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                audit_domains_each(&conf, &names, &mut add);
            }
            // No domain given: every primary zone of every view.
            None => audit_zones_each(&conf, &mut add),
        }
        // A zone read again from a file that changed has no model: the
        // verdicts would mix two configurations.
        if let Some(file) = conf.changed() {
            return Err(Error::Runtime(format!(
                "named.conf changed while kmsdns read it: {}",
                file.display()
            )));
        }
        if domains.is_none() {
            domains = Some(found.domains);
        }
    }

    if live {
        // Zones of one estate share their MNAME: its addresses are asked
        // once per run.
        let resolver = ctx.reading_resolver()?;
        let opts = ctx.dns_options();
        // Each server's software is asked once per run, not per window.
        let identities = ctx.identities();
        // Each probe becomes findings and details as soon as it is done:
        // only those are kept, not every probe's reads.
        let limit = usize::from(ctx.global.concurrency);
        let time_limit = ctx.deadline();
        let mut probes = in_order(domains.unwrap_or_default(), limit, |d| {
            let configured = d
                .configured
                .and_then(|at| Some(&config.as_ref()?.domains[at]));
            // A `--domain` in no publish list is signed with the
            // configuration's top-level key, as every publish-list domain
            // without a key of its own is.
            let key = match configured {
                Some(domain) => domain.key.as_deref(),
                None => config.as_ref().and_then(|c| c.key.as_deref()),
            };
            let target = ProbeTarget {
                domain: d.name,
                key: key.cloned(),
                gss: configured.and_then(|c| c.gss.as_deref().cloned()),
                server: configured.and_then(|c| c.server.as_deref().cloned()),
                multi_master: configured.and_then(|c| c.multi_master),
            };
            let (resolver, opts) = (&resolver, &opts);
            async move {
                let probe =
                    observe::probe_domain(&target, resolver, identities, opts, time_limit).await;
                (probe, configured.is_some())
            }
        });
        while let Some((probe, from_config)) = probes.next().await {
            let findings = live_findings(&probe, from_config);
            let entry = zones.entry(probe.zone.as_ref().map(show_name));
            entry.add_domain(show_name(&probe.domain));
            entry.details.live.push(live_verdict(&probe, &findings));
            entry.findings.extend(findings);
        }
    }

    let mut report = Report::new("updates");
    let mut details = UpdatesDetails {
        named_conf: args.named_conf.as_ref().map(|p| p.display().to_string()),
        files,
        live,
        zones: Vec::new(),
        heading: true,
    };
    for entry in zones.entries {
        report.extend(entry.findings);
        details.zones.push(entry.details);
    }
    if let Some(config) = config {
        report.extend(config.warnings.iter().cloned());
    }
    Ok(report.with_details(details))
}

/// One zone's static audit, into its entry of the report; its findings
/// too when `report`.
fn add_static(zones: &mut Zones, conf: &NamedConf, audit: ZoneAudit, report: bool) {
    let findings = static_findings(conf, &audit);
    let (verdict, severity) = verdict_of(&findings);
    // The zone statement, or (no zone: named will not load the file, or
    // no zone holds the names) the first issue's place.
    let at = audit
        .names
        .first()
        .and_then(|name| zone_location(conf, audit.view.as_deref(), name))
        .filter(|_| audit.zone.is_some())
        .map(ToString::to_string)
        .or_else(|| {
            audit
                .issues
                .iter()
                .find_map(|issue| issue.location())
                .map(ToString::to_string)
        });
    let entry = zones.entry(audit.zone.as_deref().map(absolute));
    for name in &audit.names {
        entry.add_domain(domain_of(name));
    }
    // Mostly one view: not room for four (31 MB of 100,000 zones).
    entry.details.static_verdicts.reserve_exact(1);
    entry.details.static_verdicts.push(StaticVerdict {
        view: audit.view,
        defined_in_view: audit.defined_in_view,
        at,
        verdict,
        severity,
        who: audit
            .access
            .iter()
            .map(|(name, access)| who(name, access))
            .collect(),
    });
    if report {
        entry.findings.extend(findings);
    }
}

/// The domains the audit found by going through every zone, for the live
/// probe: each `_vlmcs._tcp` name's domain, once.
#[derive(Default)]
struct FoundDomains {
    seen: std::collections::HashSet<String>,
    domains: Vec<Audited>,
}

impl FoundDomains {
    fn add(&mut self, audit: &ZoneAudit) {
        for name in &audit.names {
            let domain = domain_of(name);
            if !self.seen.insert(domain.clone()) {
                continue;
            }
            if let Ok(name) = parse_name(&domain) {
                self.domains.push(Audited {
                    name,
                    configured: None,
                });
            }
        }
    }
}

/// For each domain of `selected`, the number of its group, in the order
/// of their first domains: the domains that one zone statement of
/// `--named-conf` holds are one group, so that windows never part them and
/// the zone is listed once with all its domains, as in a run without
/// windows. `None` without `--named-conf`: which zone holds a domain is
/// then found live, window by window.
pub fn together(
    args: &UpdatesArgs,
    ctx: &Context,
    selected: &[Name],
) -> Result<Option<Vec<usize>>, Error> {
    let Some(path) = &args.named_conf else {
        return Ok(None);
    };
    let conf = ctx.named_conf(path)?;
    // Union-find over the domains, joined through the zones they share.
    let mut parent: Vec<usize> = (0..selected.len()).collect();
    fn root(parent: &mut [usize], mut at: usize) -> usize {
        while parent[at] != at {
            parent[at] = parent[parent[at]];
            at = parent[at];
        }
        at
    }
    let mut first_of: std::collections::HashMap<(Option<usize>, usize), usize> =
        std::collections::HashMap::new();
    for (at, name) in selected.iter().enumerate() {
        for zone in zones_of_domain(&conf, &name.to_ascii()) {
            let other = *first_of.entry(zone).or_insert(at);
            let (a, b) = (root(&mut parent, at), root(&mut parent, other));
            // The earlier domain stays the root: groups keep its place.
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut number = vec![usize::MAX; selected.len()];
    let mut next = 0;
    let mut groups = Vec::with_capacity(selected.len());
    for at in 0..selected.len() {
        let first = root(&mut parent, at);
        if number[first] == usize::MAX {
            number[first] = next;
            next += 1;
        }
        groups.push(number[first]);
    }
    Ok(Some(groups))
}

/// The domains to audit (`None`: every zone of the named.conf), and the
/// configuration they come from.
type Chosen = (Option<Vec<Audited>>, Option<Arc<Config>>);

/// Whether there is no selection to audit, nor to cut into windows: no
/// domain and no configuration. With `--named-conf` the audit then finds
/// the domains in every zone; without, it is a usage error.
pub fn no_selection(args: &UpdatesArgs, ctx: &Context) -> bool {
    args.domains.is_empty() && config::locate(ctx.global.config.as_deref()).is_none()
}

/// The domains of `--domain` (keys and servers from `-c` when it names
/// them), or of the configuration's publish list; `None` when the static
/// audit is to go through every zone (`--named-conf` alone).
fn domains(args: &UpdatesArgs, ctx: &Context) -> Result<Chosen, Error> {
    if no_selection(args, ctx) {
        if args.named_conf.is_some() {
            return Ok((None, None));
        }
        return Err(Error::Usage(format!(
            "no domains to audit: give --domain DOMAIN, or a configuration (-c FILE, or {})",
            config::SEARCH_PATH.join(" or ")
        )));
    }
    // The same selection as every command: --domain, with the keys and
    // servers of the configuration when there is one.
    let selection = Selection::new(&args.domains, ctx)?;
    let domains = selection
        .domains
        .iter()
        .map(|name| Audited {
            name: name.clone(),
            configured: selection.position(name),
        })
        .collect();
    Ok((Some(domains), selection.config))
}

/// The JSON form of who may change a name.
fn who(name: &str, access: &Access) -> Who {
    let reach = |r: crate::named_conf::Reach| match r {
        crate::named_conf::Reach::Everyone => Reach::Everyone,
        crate::named_conf::Reach::Some => Reach::Some,
        crate::named_conf::Reach::Nobody => Reach::Nobody,
    };
    let keys = |list: &[(String, crate::named_conf::Reach)]| {
        list.iter()
            .map(|(key, r)| KeyReach {
                key: key.clone(),
                from: reach(*r),
            })
            .collect()
    };
    Who {
        name: name.to_string(),
        verdict: match access.verdict() {
            Verdict::Anyone => WhoVerdict::Anyone,
            Verdict::Addresses => WhoVerdict::Addresses,
            Verdict::KeyHolders => WhoVerdict::KeyHolders,
            Verdict::Nobody => WhoVerdict::Nobody,
        },
        unsigned: reach(access.unsigned.unwrap_or(crate::named_conf::Reach::Nobody)),
        keys: keys(&access.keys),
        principals: keys(&access.principals),
        external: access.external,
    }
}

fn verdict_of(findings: &[Finding]) -> (Option<crate::report::FindingId>, Severity) {
    match worst(findings) {
        Some((id, severity)) => (Some(id), severity),
        None => (None, Severity::Ok),
    }
}

fn answer(probe: Option<&ProbeAnswer>) -> Option<Answer> {
    probe.map(|answer| match answer {
        ProbeAnswer::Accepted => Answer::Accepted,
        ProbeAnswer::Refused { .. } => Answer::Refused,
        // Knot's answer to a key it knows but does not let update.
        ProbeAnswer::KeyRejected {
            tsig_error: Some(crate::dns::TsigError::BadKey),
            key_known: Some(true),
            ..
        } => Answer::Refused,
        ProbeAnswer::KeyRejected { .. } => Answer::KeyRejected,
        ProbeAnswer::Applied => Answer::Applied,
        ProbeAnswer::Failed { .. } => Answer::Failed,
    })
}

fn live_verdict(probe: &LiveProbe, findings: &[Finding]) -> LiveVerdict {
    let (verdict, severity) = verdict_of(findings);
    let failure = |answer: Option<&ProbeAnswer>| match answer {
        Some(ProbeAnswer::Failed { message }) | Some(ProbeAnswer::KeyRejected { message, .. }) => {
            Some(message.clone())
        }
        _ => None,
    };
    LiveVerdict {
        domain: show_name(&probe.domain),
        name: show_name(&probe.name),
        primary: probe.primary.map(|p| p.to_string()),
        software: probe.software().map(|s| s.id().to_string()),
        recognised_by: probe.software.as_ref().map(|(_, how)| match how {
            Recognition::Version(version) => format!("version.bind \"{version}\""),
            Recognition::Behaviour(what) => format!("behaviour: {what}"),
        }),
        ttl: probe.ttl,
        records: probe.records,
        unsigned: answer(probe.unsigned.as_ref()),
        key: probe.key.as_ref().map(|k| k.to_ascii()),
        principal: probe.principal.clone(),
        signed: answer(probe.signed.as_ref()),
        retries: 0,
        changed: probe
            .changed
            .iter()
            .flat_map(|change| {
                let head = change
                    .changes
                    .iter()
                    .map(move |line| format!("{} probe: {line}", change.probe));
                head.chain(change.repair.clone())
            })
            .collect(),
        error: probe
            .error
            .clone()
            .or_else(|| probe.overrun.as_ref().map(ToString::to_string))
            .or_else(|| failure(probe.unsigned.as_ref()))
            .or_else(|| failure(probe.signed.as_ref())),
        verdict,
        severity,
    }
}

/// The zones of the report, in order of first appearance.
#[derive(Default)]
struct Zones {
    entries: Vec<ZoneEntry>,
    /// Where each known zone is in `entries`.
    index: std::collections::HashMap<String, usize>,
}

struct ZoneEntry {
    details: ZoneUpdates,
    findings: Vec<Finding>,
    /// The domains of `details.domains`, to add each once without going
    /// through the list (quadratic with many domains in one zone).
    known: std::collections::HashSet<String>,
}

impl ZoneEntry {
    fn add_domain(&mut self, domain: String) {
        if self.known.insert(domain.clone()) {
            self.details.domains.push(domain);
        }
    }
}

impl Zones {
    /// The entry of `zone`; an unknown zone (`None`) always gets its own.
    fn entry(&mut self, zone: Option<String>) -> &mut ZoneEntry {
        let found = zone.as_ref().and_then(|zone| self.index.get(zone).copied());
        let index = match found {
            Some(index) => index,
            None => {
                if let Some(zone) = &zone {
                    self.index.insert(zone.clone(), self.entries.len());
                }
                self.entries.push(ZoneEntry {
                    details: ZoneUpdates {
                        zone,
                        domains: Vec::new(),
                        static_verdicts: Vec::new(),
                        live: Vec::new(),
                    },
                    findings: Vec::new(),
                    known: std::collections::HashSet::new(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 20: a zone's statement is read again from named.conf once to
    /// find which domains come together, and once in their window, where
    /// the model made to find the window's zones is the one audited,
    /// whatever the audit asks of it (its name, its model, named's
    /// decisions, its place): it was read for each question, then once to
    /// find the window's zones and again to audit each.
    #[test]
    fn a_zone_statement_is_read_again_once_to_group_the_domains_and_once_in_their_window() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("named.conf");
        let text = "key k { algorithm hmac-sha256; secret \"aGVsbG8=\"; };\n\
            zone \"a.example\" { type primary; file \"a\"; update-policy {\n\
              grant k name _vlmcs._tcp.a.example. SRV; grant k subdomain x.a.example. ANY; }; };\n\
            zone \"b.example\" { type primary; file \"b\"; allow-update { any; }; };\n\
            zone \"c.example\" { type primary; file \"c\"; };\n";
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let conf = NamedConf::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let domains = ["a.example", "x.a.example", "b.example"];
        // As `together` finds each domain's zone: a.example once for its
        // two domains, b.example once.
        let found: Vec<_> = domains.iter().map(|d| zones_of_domain(&conf, d)).collect();
        assert_eq!(found, [[(None, 0)], [(None, 0)], [(None, 1)]]);
        assert_eq!(conf.zones.read_again(), 2);
        // A window, as `run` audits it: the zones found again, then each
        // audited and placed, a.example after b.example was read.
        let mut zones = Zones::default();
        audit_domains_each(&conf, &domains, |audit| {
            add_static(&mut zones, &conf, audit, true);
        });
        assert_eq!(conf.zones.read_again(), 2 + 2);
        let verdicts: Vec<_> = zones
            .entries
            .iter()
            .map(|e| {
                let at = e.details.static_verdicts[0]
                    .at
                    .as_deref()
                    .unwrap_or_default();
                (
                    e.details.zone.clone(),
                    e.details.domains.clone(),
                    at.rsplit('/').next().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                (
                    Some("a.example.".into()),
                    vec!["a.example.".to_string(), "x.a.example.".into()],
                    Some("named.conf:2:1".into())
                ),
                (
                    Some("b.example.".into()),
                    vec!["b.example.".to_string()],
                    Some("named.conf:4:1".into())
                ),
            ]
        );
        assert_eq!(conf.changed(), None);
    }

    #[test]
    fn each_zone_lists_its_domains_once_in_order_of_first_appearance() {
        let mut zones = Zones::default();
        for (zone, domain) in [
            ("b.example", "x.b.example"),
            ("a.example", "a.example"),
            ("b.example", "b.example"),
            ("b.example", "x.b.example"),
            ("a.example", "a.example"),
        ] {
            zones.entry(Some(zone.into())).add_domain(domain.into());
        }
        // A zone that is not known gets its own entry each time.
        zones.entry(None).add_domain("c.example".into());
        zones.entry(None).add_domain("c.example".into());
        let listed: Vec<(Option<&str>, Vec<&str>)> = zones
            .entries
            .iter()
            .map(|e| {
                (
                    e.details.zone.as_deref(),
                    e.details.domains.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (Some("b.example"), vec!["x.b.example", "b.example"]),
                (Some("a.example"), vec!["a.example"]),
                (None, vec!["c.example"]),
                (None, vec!["c.example"]),
            ]
        );
    }
}
