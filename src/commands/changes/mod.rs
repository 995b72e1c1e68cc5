//! The engine behind `plan`, `publish` and `remove`: read each domain's
//! `_vlmcs._tcp` RRset at its primary, plan the change ([`planner`], pure),
//! send one atomic RFC 2136 UPDATE per zone ([`engine`]), judge the
//! outcome and report it ([`details`]).

pub mod details;
pub mod engine;
pub mod planner;

use crate::context::Context;
use crate::error::Error;
use crate::report::Report;
use details::{ChangeDetails, Verb};
use engine::{DomainOutcome, Engine, Hooks, Mode};

/// What one run of `plan`, `publish` or `remove` did.
pub struct Changed {
    /// The engine, for what comes after (publish's wait for replication).
    pub engine: Engine,
    pub outcomes: Vec<DomainOutcome>,
    /// Each domain's outcome, and the configuration's own warnings.
    pub report: Report<ChangeDetails>,
}

/// Runs the engine over every domain of the configuration in `mode`
/// (`addresses`: also add the hosts' A/AAAA in changed zones), with `hooks`
/// (empty outside tests).
pub async fn run(
    ctx: &Context,
    hooks: Hooks,
    mode: &Mode,
    addresses: bool,
    verb: Verb,
) -> Result<Changed, Error> {
    let config = ctx.config()?;
    let engine = Engine {
        opts: ctx.dns_options(),
        resolver: ctx.resolver()?,
        hooks,
        concurrency: usize::from(ctx.global.concurrency),
        publish_addresses: addresses,
        deadline: ctx.deadline(),
    };
    let outcomes = engine.run(&config, mode).await;
    let mut report = details::report(verb.command(), verb, &outcomes);
    report.extend(config.warnings.iter().cloned());
    Ok(Changed {
        engine,
        outcomes,
        report,
    })
}

/// `--prune` deletes whatever the configuration does not know: only a
/// configuration that says it lists every KMS host may ask for it.
pub fn check_prune(ctx: &Context) -> Result<(), Error> {
    let config = ctx.config()?;
    if config.complete {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--prune deletes every SRV record whose target is not a [[host]] of {}: set complete = true there first (and list other teams' hosts with managed = false)",
        config
            .path
            .as_ref()
            .map_or("the configuration".to_string(), |p| p.display().to_string())
    )))
}
