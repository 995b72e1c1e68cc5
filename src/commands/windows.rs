//! A command run over consecutive windows of its selection (`--window`),
//! each window's report handed on as soon as it is done, so that a run
//! keeps only one window's domains, whatever the estate's size.
//!
//! A window is a run of consecutive domains of the selection, in its
//! order, given to the command as its `--domain`s. What a run learns of
//! hosts, servers and zones (addresses, each server's software, a zone's
//! keys) it keeps across windows, within bounds of its own, and the
//! servers that did not answer too; which zone holds each domain it
//! forgets after the domain's window ([`Context::window_done`]). One
//! window is the selection as given: the publish list, or `--domain`.

use std::future::Future;

use hickory_proto::rr::Name;

use crate::context::{Context, Selection};
use crate::error::Error;
use crate::report::Report;

/// Runs `command` over windows of `size` domains of the selection of
/// `domains` (`None`: the whole selection at once) and hands each
/// window's report, with the configuration's warnings, to `sink`.
pub async fn run<D, Run>(
    domains: &[Name],
    ctx: &Context,
    size: Option<usize>,
    mut command: impl FnMut(Vec<Name>) -> Run,
    sink: &mut dyn FnMut(Report<D>) -> std::io::Result<()>,
) -> Result<(), Error>
where
    Run: Future<Output = Result<Report<D>, Error>>,
{
    let kept = |e: std::io::Error| Error::Runtime(format!("cannot keep the output: {e}"));
    let Some(size) = size else {
        return sink(command(domains.to_vec()).await?).map_err(kept);
    };
    let selection = Selection::new(domains, ctx)?;
    let warnings = selection.config.as_ref().map(|c| c.warnings.clone());
    // Only the names are needed from here on, not the selection's index
    // of every configured domain.
    let selected = selection.into_domains();
    if size >= selected.len() {
        return sink(command(domains.to_vec()).await?).map_err(kept);
    }
    for window in selected.chunks(size.max(1)) {
        let mut report = command(window.to_vec()).await?;
        ctx.window_done();
        // A command given its domains does not always read the
        // configuration (probe): its warnings join every window, and the
        // writer keeps each once.
        report.extend(warnings.iter().flatten().cloned());
        sink(report).map_err(kept)?;
    }
    Ok(())
}
