//! The engine behind `plan`, `publish` and `remove`: read each domain's
//! `_vlmcs._tcp` RRset at its primary, plan the change ([`planner`], pure),
//! send one atomic RFC 2136 UPDATE per zone ([`engine`]), judge the
//! outcome and report it ([`details`]).

pub mod details;
pub mod engine;
pub mod planner;

use crate::context::Context;
use crate::error::Error;
use engine::{Engine, Hooks};

/// The update engine, set up from the global options, with `hooks` (empty
/// outside tests).
pub fn engine(ctx: &Context, hooks: Hooks) -> Result<Engine, Error> {
    Ok(Engine {
        opts: ctx.dns_options(),
        resolver: ctx.resolver()?,
        hooks,
        concurrency: usize::from(ctx.global.concurrency),
        publish_addresses: false,
    })
}
