//! `kmsdns plan`: what `publish` would change, changing nothing.

use clap::Args;

use super::changes::details::Verb;
use super::changes::engine::Mode;
use super::changes::{self, ChangeCommand, Windows};
use crate::error::Error;

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

    /// Plan N domains at a time, more while the next is in the same zone: memory grows with N, not with the estate
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

impl ChangeCommand for PlanArgs {
    fn name_and_window(&self) -> (&'static str, u32) {
        ("plan", self.window)
    }

    /// Reads and plans every domain.
    async fn run(&self, windows: Windows<'_>) -> Result<(), Error> {
        if self.prune {
            changes::check_prune(windows.ctx)?;
        }
        let mode = Mode::Plan {
            set_ttl: self.set_ttl,
            prune: self.prune,
        };
        let changes = (windows.hooks, &mode, self.addresses);
        let (ctx, size) = (windows.ctx, windows.size);
        changes::run(ctx, changes, Verb::Plan, size, &mut |_| {}, windows.sink).await?;
        Ok(())
    }
}
