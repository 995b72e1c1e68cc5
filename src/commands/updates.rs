//! `kmsdns updates`.

use clap::Args;

use super::Context;
use crate::error::Error;
use crate::report::Report;

/// (not built yet)
#[derive(Debug, Args)]
pub struct UpdatesArgs {}

/// Runs `updates`.
pub async fn run(_args: &UpdatesArgs, _ctx: &Context) -> Result<Report, Error> {
    Err(Error::Usage("kmsdns updates is not built yet".into()))
}
