//! The engine behind `plan`, `publish` and `remove`: read each domain's
//! `_vlmcs._tcp` RRset at its primary, plan the change ([`planner`], pure),
//! send one atomic RFC 2136 UPDATE per zone ([`engine`]), judge the
//! outcome and report it ([`details`]).

pub mod details;
pub mod engine;
pub mod planner;

use std::future::Future;

use crate::context::Context;
use crate::error::Error;
use crate::report::Report;
use details::{ChangeDetails, Verb};
use engine::{DomainOutcome, Engine, Hooks, Mode};

/// Where each window's report goes ([`crate::output::windows::ReportWriter`]).
pub type Sink<'a> = dyn FnMut(Report<ChangeDetails>) -> std::io::Result<()> + 'a;

/// A command of the engine (`plan`, `publish`, `remove`), as `kmsdns::run`
/// dispatches it: all three are run window by window into one writer.
pub trait ChangeCommand {
    /// The command's name, as its report has it, and its `--window`.
    fn name_and_window(&self) -> (&'static str, u32);

    /// Runs the command over `windows`.
    fn run<'a>(&'a self, windows: Windows<'a>) -> impl Future<Output = Result<(), Error>> + 'a;
}

/// How a [`ChangeCommand`] runs: with `hooks` (empty outside tests), in
/// windows of `size` domains (`None`: all at once), each window's report
/// to `sink`.
pub struct Windows<'a> {
    pub ctx: &'a Context,
    pub hooks: Hooks,
    pub size: Option<usize>,
    pub sink: &'a mut Sink<'a>,
}

/// Runs the engine over every domain of the configuration in `mode`
/// (`addresses`: also add the hosts' A/AAAA in changed zones), with `hooks`
/// (empty outside tests), in windows of `size` domains (`None`: all at
/// once). Each window's report goes to `sink`, the configuration's
/// warnings with it, once its outcomes have been shown to `seen` (what a
/// run keeps of them, if anything); only one window's plans and outcomes
/// are held at a time. Returns the engine, for what comes after
/// (publish's wait for replication).
pub async fn run(
    ctx: &Context,
    (hooks, mode, addresses): (Hooks, &Mode, bool),
    verb: Verb,
    size: Option<usize>,
    seen: &mut dyn FnMut(&[DomainOutcome]),
    sink: &mut Sink<'_>,
) -> Result<Engine, Error> {
    let config = ctx.config()?;
    let engine = Engine {
        opts: ctx.dns_options(),
        resolver: ctx.resolver()?,
        hooks,
        concurrency: usize::from(ctx.global.concurrency),
        publish_addresses: addresses,
        deadline: ctx.deadline(),
    };
    let size = size.unwrap_or(config.domains.len());
    let mut window = |outcomes: Vec<DomainOutcome>| {
        seen(&outcomes);
        let mut report = details::report(verb.command(), verb, &outcomes);
        // Every window's, as a report made at once has them: the writer
        // keeps each once.
        report.extend(config.warnings.iter().cloned());
        sink(report)
    };
    let kept = |e: std::io::Error| Error::Runtime(format!("cannot keep the output: {e}"));
    if config.domains.is_empty() {
        // No window: the report still says what the configuration warns of.
        window(Vec::new()).map_err(kept)?;
    }
    engine
        .windows(&config, mode, size, window)
        .await
        .map_err(kept)?;
    Ok(engine)
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
