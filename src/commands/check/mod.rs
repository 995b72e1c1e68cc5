//! `kmsdns check`: what DNS serves for each domain, against RFC 2782,
//! Windows' client behaviour and the configuration (DESIGN §5).
//!
//! Per domain, concurrently across domains (bounded by `--concurrency`):
//! 1. `_vlmcs._tcp.<domain>` SRV through the resolver, RD set: what a
//!    Windows client gets;
//! 2. the same at the zone's primary, RD clear and AA required: what the
//!    zone says (RFC 2136 §4: the primary is the SOA MNAME, or the
//!    configured `server`);
//! 3. every target's A and AAAA through the resolver, keeping the CNAME
//!    chain (RFC 2782 forbids alias targets);
//! 4. [`crate::commands::check::judge`] turns these reads into findings.
//!
//! Why the primary and not every authoritative server: the primary is
//! where `publish` writes and what every secondary converges to, so it is
//! the truth the configuration and the resolver are compared with; a
//! server-by-server comparison is `kmsdns replication`'s job (serials,
//! RRsets, lame and unreachable servers), and doing it here too would
//! report every lagging secondary twice in `audit`. When the primary cannot
//! be read (a hidden primary, unreachable from here), the first other
//! server of the NS set that answers authoritatively stands in for it and
//! an info finding says so.

pub mod details;
pub mod judge;
mod observe;

use std::time::Duration;

use clap::Args;
use hickory_proto::rr::Name;

use crate::concurrency::{deadline, in_order};
use crate::config;
use crate::context::Context;
use crate::context::{parse_domain, parse_duration, Selection, DOMAIN_SEPARATOR};
use crate::error::Error;
use crate::report::{Report, Severity};
use details::CheckDetails;
use judge::Expected;

/// Check what DNS serves for every domain of the publish list.
///
/// For each domain, reads the _vlmcs._tcp SRV records through the resolver
/// (--nameserver, or the system's) and at the zone's primary, and every
/// target's A and AAAA records. Reports: no record (the Windows error a
/// client gets), a target without address, an alias (CNAME) or `.` as
/// target, records that differ from the configuration, targets the
/// configuration does not know (critical with `complete = true`: a possible
/// rogue KMS host), a single host (no failover), more than six hosts, and a
/// resolver that answers differently from the zone. A read that fails, is
/// refused or times out is reported as such, never as "no record".
///
/// In a signed zone, also verifies at every authoritative server the
/// RRSIGs over the SRV RRset and over its in-zone targets' A and AAAA (and
/// the NSEC/NSEC3 proof of a negative answer) against the zone's DNSKEY
/// set, and reports a resolver's SERVFAIL that checking disabled (CD) turns
/// into records as a DNSSEC validation failure (docs/dnssec.md).
///
/// With --domain, checks those domains only, and works without a
/// configuration file.
#[derive(Debug, Args)]
// No argument group of the struct's options: clap would record each
// `--domain` in it a second time (about 360 bytes), and nothing asks it.
#[group(skip)]
pub struct CheckArgs {
    /// Check DOMAIN instead of the publish list (repeatable); no configuration file needed
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = parse_domain, value_delimiter = DOMAIN_SEPARATOR)]
    pub domains: Vec<Name>,

    /// In a signed zone, warn when a valid RRSIG expires within DUR
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "3days")]
    pub sig_expiry_warn: Duration,

    /// Check N domains at a time: memory grows with N, not with the estate
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

/// Checks every selected domain.
pub async fn run(args: &CheckArgs, ctx: &Context) -> Result<Report<CheckDetails>, Error> {
    let selection = Selection::new(&args.domains, ctx)?;
    // Every domain asks the addresses of the same targets and MNAME: once
    // per run is enough.
    let resolver = ctx.reading_resolver()?;
    let opts = ctx.dns_options();
    let nameserver = ctx.global.nameserver;
    // Each domain's reads become its findings and details as soon as they
    // are done, straight into the report: only those are kept, so memory
    // grows by what is reported, not by every reply read.
    let mut report = Report::new("check");
    let mut domains = Vec::new();
    let limit = usize::from(ctx.global.concurrency);
    let expiry_warning = args.sig_expiry_warn;
    let time_limit = ctx.deadline();
    // A zone's NS set, DNSKEY RRsets and DS: once per zone and run, not
    // per domain nor per window.
    let zone_keys = ctx.zone_keys();
    let mut judged = in_order(&selection.domains, limit, |domain| {
        let configured = selection.domain(domain);
        let selection = &selection;
        let (resolver, opts) = (&resolver, &opts);
        async move {
            let observed = deadline::within(
                time_limit,
                observe::observe(domain, configured, resolver, nameserver, opts, zone_keys),
            )
            .await;
            let (zone, observation) = match observed {
                Ok(observed) => observed,
                Err(overrun) => {
                    // Like a failed read: nothing can be said of the records.
                    let finding = overrun
                        .finding(Severity::Critical)
                        .domain(domain.to_ascii());
                    let observation = observe::cut_off(domain, resolver, &overrun);
                    return (vec![finding], details::domain_details(None, &observation));
                }
            };
            let expected = selection.config.as_ref().map(|config| Expected {
                records: configured.map_or(&[][..], |d| &d.records[..]),
                listed: configured.is_some(),
                ttl: configured.map_or(config::DEFAULT_TTL, |d| d.ttl),
                hosts: &config.hosts,
                required_foreign: configured.map_or(&[][..], |d| d.required_foreign.as_slice()),
                complete: config.complete,
            });
            let mut findings = judge::findings(&observation, expected.as_ref());
            findings.extend(judge::signature_findings(&observation, expiry_warning));
            (
                findings,
                details::domain_details(zone.as_ref(), &observation),
            )
        }
    });
    while let Some((findings, details)) = judged.next().await {
        report.extend(findings);
        domains.push(details);
    }
    if let Some(config) = &selection.config {
        report.extend(config.warnings.iter().cloned());
    }
    Ok(report.with_details(CheckDetails { domains }))
}
