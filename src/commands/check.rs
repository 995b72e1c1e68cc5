//! `kmsdns check`.

use clap::Args;

use super::Context;
use crate::error::Error;
use crate::report::Report;

/// (not built yet)
#[derive(Debug, Args)]
pub struct CheckArgs {}

/// Runs `check`.
pub async fn run(_args: &CheckArgs, _ctx: &Context) -> Result<Report, Error> {
    Err(Error::Usage("kmsdns check is not built yet".into()))
}
