//! `kmsdns probe`.

use clap::Args;

use super::Context;
use crate::error::Error;
use crate::report::Report;

/// (not built yet)
#[derive(Debug, Args)]
pub struct ProbeArgs {}

/// Runs `probe`.
pub async fn run(_args: &ProbeArgs, _ctx: &Context) -> Result<Report, Error> {
    Err(Error::Usage("kmsdns probe is not built yet".into()))
}
