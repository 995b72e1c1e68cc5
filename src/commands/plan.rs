//! `kmsdns plan`: what `publish` would change, changing nothing.

use clap::Args;

use super::changes;
use super::changes::details::{ChangeDetails, Verb};
use super::changes::engine::{Hooks, Mode};
use crate::context::Context;
use crate::error::Error;
use crate::report::Report;

/// Show, per domain, the exact change `publish` would make: `+` add,
/// `-` delete, `~` change, `=` another host's record, left alone.
///
/// Reads the _vlmcs._tcp records from each domain's primary (found from the
/// SOA, RFC 2136 §4, unless `server` is configured). Changes nothing. Exit
/// status 0 when every domain is in sync, 1 when changes are pending (so cron
/// can alert on drift), 2 when a domain could not be read.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Plan to give our records the configured TTL (on most servers every host's record gets it; AD keeps other hosts' records at theirs)
    #[arg(long)]
    pub set_ttl: bool,

    /// Also add the configured addresses (A/AAAA) of KMS hosts whose names lie inside a changed zone; never deletes any
    #[arg(long)]
    pub addresses: bool,

    /// Also delete SRV records whose target is no configured host (needs complete = true); never a managed = false host's, never the last record
    #[arg(long)]
    pub prune: bool,
}

/// Reads and plans every domain.
pub async fn run(
    args: &PlanArgs,
    ctx: &Context,
    hooks: Hooks,
) -> Result<Report<ChangeDetails>, Error> {
    if args.prune {
        changes::check_prune(ctx)?;
    }
    let mode = Mode::Plan {
        set_ttl: args.set_ttl,
        prune: args.prune,
    };
    let changed = changes::run(ctx, hooks, &mode, args.addresses, Verb::Plan).await?;
    Ok(changed.report)
}
