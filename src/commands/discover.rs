//! `kmsdns discover`.

use clap::Args;

use super::Context;
use crate::error::Error;
use crate::report::Report;

/// (not built yet)
#[derive(Debug, Args)]
pub struct DiscoverArgs {}

/// Runs `discover`.
pub async fn run(_args: &DiscoverArgs, _ctx: &Context) -> Result<Report, Error> {
    Err(Error::Usage("kmsdns discover is not built yet".into()))
}
