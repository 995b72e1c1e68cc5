//! `kmsdns remove`: delete this configuration's records, and only those.

use clap::Args;
use hickory_proto::rr::Name;

use super::changes::details::Verb;
use super::changes::engine::Mode;
use super::changes::{self, ChangeCommand, Windows};
use crate::dns::name::parse_name;
use crate::error::Error;

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

    /// Remove from N domains at a time, more while the next is in the same zone: memory grows with N, not with the estate
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub window: u32,
}

impl ChangeCommand for RemoveArgs {
    fn name_and_window(&self) -> (&'static str, u32) {
        ("remove", self.window)
    }

    /// Removes our records from every domain.
    async fn run(&self, windows: Windows<'_>) -> Result<(), Error> {
        let ctx = windows.ctx;
        let config = ctx.config()?;
        if let Some(host) = &self.host {
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
            force: self.force,
            host: self.host.clone(),
        };
        let changes = (windows.hooks, &mode, false);
        let size = windows.size;
        changes::run(ctx, changes, Verb::Remove, size, &mut |_| {}, windows.sink).await?;
        Ok(())
    }
}
