//! `kmsdns remove`: delete this configuration's records, and only those.

use clap::Args;
use hickory_proto::rr::Name;

use super::changes;
use super::changes::details::{ChangeDetails, Verb};
use super::changes::engine::{Hooks, Mode};
use crate::context::Context;
use crate::dns::name::parse_name;
use crate::error::Error;
use crate::report::Report;

/// Delete the _vlmcs._tcp records whose target is one of this
/// configuration's hosts, by exact RDATA, leaving every other host's record.
///
/// Refuses to remove the last KMS record of a domain (every client there
/// would fail to activate) unless --force. One atomic UPDATE per zone,
/// guarded by the RRset as read.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Remove only this host's records
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub host: Option<Name>,

    /// Remove even the last KMS record of a domain
    #[arg(long)]
    pub force: bool,
}

/// Removes our records from every domain.
pub async fn run(
    args: &RemoveArgs,
    ctx: &Context,
    hooks: Hooks,
) -> Result<Report<ChangeDetails>, Error> {
    let config = ctx.config()?;
    if let Some(host) = &args.host {
        match config.host(host) {
            None => {
                return Err(Error::Usage(format!(
                "{host} is not a host of this configuration; kmsdns only removes records it owns"
            )))
            }
            Some(known) if !known.managed => {
                return Err(Error::Usage(format!(
                "{host} has managed = false in the configuration; kmsdns never removes its records"
            )))
            }
            Some(_) => {}
        }
    }
    let mode = Mode::Remove {
        force: args.force,
        host: args.host.clone(),
    };
    let changed = changes::run(ctx, hooks, &mode, false, Verb::Remove).await?;
    Ok(changed.report)
}
