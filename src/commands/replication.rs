//! `kmsdns replication`.

use clap::Args;

use super::Context;
use crate::error::Error;
use crate::report::Report;

/// (not built yet)
#[derive(Debug, Args)]
pub struct ReplicationArgs {}

/// Runs `replication`.
pub async fn run(_args: &ReplicationArgs, _ctx: &Context) -> Result<Report, Error> {
    Err(Error::Usage("kmsdns replication is not built yet".into()))
}
