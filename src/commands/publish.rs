//! `kmsdns publish`: apply the plan by RFC 2136 dynamic update.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use hickory_proto::rr::Name;

use super::changes::details::{self, ChangeDetails, Verb};
use super::changes::engine::{Hooks, Mode, Outcome};
use super::changes::{self};
use crate::context::parse_duration;
use crate::context::Context;
use crate::dns::srv_owner;
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
/// authoritative server serves it.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Give the RRset the configured TTL; it applies to every host's record
    #[arg(long)]
    pub set_ttl: bool,

    /// Also add the configured addresses (A/AAAA) of KMS hosts whose names lie inside a changed zone; never deletes any
    #[arg(long)]
    pub addresses: bool,

    /// Then wait up to DUR until every authoritative server serves the change (e.g. 30s)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub wait_replication: Option<Duration>,
}

/// Publishes every domain, then optionally waits for replication.
pub async fn run(
    args: &PublishArgs,
    ctx: &Context,
    hooks: Hooks,
) -> Result<Report<ChangeDetails>, Error> {
    let config = ctx.config()?;
    let mut engine = changes::engine(ctx, hooks)?;
    engine.publish_addresses = args.addresses;
    let mode = Mode::Publish {
        set_ttl: args.set_ttl,
    };
    let outcomes = engine.run(&config, &mode).await;
    let mut report = details::report("publish", Verb::Publish, &outcomes);
    report.extend(config.warnings.iter().cloned());

    if let Some(wait) = args.wait_replication {
        let deadline = Instant::now() + wait;
        // One wait per zone, for every domain of it that is now as planned.
        let mut zones: BTreeMap<String, (Name, SocketAddr, Vec<Name>)> = BTreeMap::new();
        for outcome in &outcomes {
            if !matches!(outcome.outcome, Outcome::Applied | Outcome::InSync) {
                continue;
            }
            let Some(target) = &outcome.target else {
                continue;
            };
            let Some(primary) = target.primary.first() else {
                continue;
            };
            zones
                .entry(target.zone.to_ascii().to_ascii_lowercase())
                .or_insert_with(|| (target.zone.clone(), *primary, Vec::new()))
                .2
                .push(srv_owner(&outcome.domain));
        }
        // A spinner on a terminal only (text output, not -q).
        let progress = if ctx.progress {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(zones.len() as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} waiting for replication: {pos}/{len} zone(s) ({msg})",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        for (zone, primary, names) in zones.values() {
            progress.set_message(zone.to_string());
            let waited = engine
                .wait_replication(zone, names, *primary, deadline)
                .await;
            progress.inc(1);
            match waited {
                Ok(stragglers) if stragglers.is_empty() => report.push(
                    Finding::new(
                        FindingId::Replicated,
                        Severity::Ok,
                        format!("every authoritative server of {zone} serves the change"),
                    )
                    .domain(zone),
                ),
                Ok(stragglers) => {
                    for straggler in stragglers {
                        report.push(
                            Finding::new(
                                FindingId::SerialBehind,
                                Severity::Critical,
                                format!(
                                    "{} ({}) had not caught up after {}: {}",
                                    straggler.server,
                                    straggler.address,
                                    humantime::format_duration(wait),
                                    straggler.why
                                ),
                            )
                            .domain(zone)
                            .server(straggler.address)
                            .hint(
                                "check NOTIFY and zone transfers from the primary to this server",
                            ),
                        );
                    }
                }
                Err(message) => report.push(
                    Finding::new(FindingId::DnsReadFailed, Severity::Critical, message)
                        .domain(zone),
                ),
            }
        }
        progress.finish_and_clear();
    }
    Ok(report)
}
