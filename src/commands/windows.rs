//! A command run over consecutive windows of its selection (`--window`),
//! each window's report handed on as soon as it is done, so that a run
//! keeps only one window's domains, whatever the estate's size.
//!
//! A window is a run of consecutive domains of the selection, in its
//! order, given to the command as its `--domain`s; what the command
//! remembers within a run (addresses, zones, servers that did not
//! answer) it remembers within a window. One window is the selection as
//! given: the publish list, or `--domain`.

use std::future::Future;

use hickory_proto::rr::Name;

use crate::context::{Context, Selection};
use crate::error::Error;
use crate::report::Report;

/// Runs `command` over windows of `size` domains of the selection of
/// `domains` (`None`: the whole selection at once) and hands each
/// window's report to `sink`.
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
    // Only the names are needed, not the selection's index of every
    // configured domain.
    let selected = Selection::new(domains, ctx)?.into_domains();
    if size >= selected.len() {
        return sink(command(domains.to_vec()).await?).map_err(kept);
    }
    for window in selected.chunks(size.max(1)) {
        sink(command(window.to_vec()).await?).map_err(kept)?;
    }
    Ok(())
}
