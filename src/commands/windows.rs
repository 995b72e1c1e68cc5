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
/// window's report, with the configuration's warnings, to `sink`, never
/// parting the domains that `together` puts in one group: given the
/// selection, it numbers each domain's group in the order of their first
/// domains (`None`: each domain alone). A window then holds whole groups,
/// `size` domains or more, in the selection's order, and the groups come
/// in the order of their first domains: what a command reports of a group
/// (`updates`' zone and its domains) it reports once, whatever the window
/// size.
pub async fn run<D, Run>(
    domains: Vec<Name>,
    ctx: &Context,
    size: Option<usize>,
    together: impl FnOnce(&[Name]) -> Result<Option<Vec<usize>>, Error>,
    mut command: impl FnMut(Vec<Name>) -> Run,
    sink: &mut dyn FnMut(Report<D>) -> std::io::Result<()>,
) -> Result<(), Error>
where
    Run: Future<Output = Result<Report<D>, Error>>,
{
    let kept = |e: std::io::Error| Error::Runtime(format!("cannot keep the output: {e}"));
    let size = match size {
        Some(size) if size < domains.len() || domains.is_empty() => size,
        // One window: the command selects, as without windows.
        _ => return sink(command(domains).await?).map_err(kept),
    };
    let given = !domains.is_empty();
    // The selection keeps the `--domain` values, not a copy (issue 20).
    let selection = Selection::of_given(domains, ctx)?;
    let warnings = selection.config.as_ref().map(|c| c.warnings.clone());
    // Only the names are needed from here on, not the selection's index
    // of every configured domain.
    let selected = selection.into_domains();
    if size >= selected.len() {
        let domains = if given { selected } else { Vec::new() };
        return sink(command(domains).await?).map_err(kept);
    }
    let groups = together(&selected)?.unwrap_or_else(|| (0..selected.len()).collect());
    for window in cut(&groups, size.max(1)) {
        let names = window.iter().map(|&i| selected[i].clone()).collect();
        let mut report = command(names).await?;
        ctx.window_done();
        // A command given its domains does not always read the
        // configuration (probe): its warnings join every window, and the
        // writer keeps each once.
        report.extend(warnings.iter().flatten().cloned());
        sink(report).map_err(kept)?;
    }
    Ok(())
}

/// The windows of domains numbered by `groups` (numbered in the order of
/// their first domains): whole groups, in that order, cut once a window
/// holds `size` domains; each window's domains in the selection's order.
fn cut(groups: &[usize], size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..groups.len()).collect();
    // Stable: a group's domains stay in the selection's order.
    order.sort_by_key(|&i| groups[i]);
    let mut windows = Vec::new();
    let mut window: Vec<usize> = Vec::new();
    for (at, &domain) in order.iter().enumerate() {
        let starts_group = at == 0 || groups[order[at - 1]] != groups[domain];
        if starts_group && window.len() >= size {
            window.sort_unstable();
            windows.push(std::mem::take(&mut window));
        }
        window.push(domain);
    }
    if !window.is_empty() {
        window.sort_unstable();
        windows.push(window);
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_hold_whole_groups_in_the_order_of_their_first_domains() {
        // Domains 0..6 in groups 0 1 0 2 1 3: a window of 2 would part
        // groups 0 and 1.
        let groups = [0, 1, 0, 2, 1, 3];
        assert_eq!(cut(&groups, 2), [vec![0, 2], vec![1, 4], vec![3, 5]]);
        assert_eq!(cut(&groups, 3), [vec![0, 1, 2, 4], vec![3, 5]]);
        assert_eq!(cut(&groups, 1), [vec![0, 2], vec![1, 4], vec![3], vec![5]]);
        // Each domain alone: windows of consecutive domains.
        let alone: Vec<usize> = (0..5).collect();
        assert_eq!(cut(&alone, 2), [vec![0, 1], vec![2, 3], vec![4]]);
    }
}
