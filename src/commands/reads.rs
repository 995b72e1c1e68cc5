//! The commands that only read (`check`, `replication`, `updates`,
//! `probe`), as `kmsdns::run` dispatches them: each is run window by
//! window ([`super::windows`]) into one writer, as the changes are
//! ([`super::changes::ChangeCommand`]), so that what differs between them
//! is said here once and the run itself is written once.

use std::future::Future;

use hickory_proto::rr::Name;

use super::check::details::CheckDetails;
use super::check::{self, CheckArgs};
use super::probe::details::ProbeDetails;
use super::probe::{self, ProbeArgs};
use super::replication::details::ReplicationDetails;
use super::replication::{self, ReplicationArgs};
use super::updates::details::UpdatesDetails;
use super::updates::{self, UpdatesArgs};
use crate::context::Context;
use crate::error::Error;
use crate::output::Details;
use crate::report::Report;

/// A command that reads, as `kmsdns::run` dispatches it.
pub trait ReadCommand {
    /// Its details, as one window's report has them.
    type Details;

    /// Its name, as its report has it.
    const NAME: &'static str;

    /// The selection as given (`--domain`), taken: the windows keep it,
    /// not a copy (8 MB at 100,000 names, issue 20).
    fn take_domains(&mut self) -> Vec<Name>;

    /// `--window`, or `None` where the run must be one window.
    fn window(&self, ctx: &Context) -> Option<u32>;

    /// Which of the `selected` domains must share a window
    /// ([`super::windows::run`]); `None`: each may stand alone.
    fn together(&self, _ctx: &Context, _selected: &[Name]) -> Result<Option<Vec<usize>>, Error> {
        Ok(None)
    }

    /// Runs the command over one window's `domains`.
    fn run<'a>(
        &'a self,
        domains: Vec<Name>,
        ctx: &'a Context,
    ) -> impl Future<Output = Result<Report<Self::Details>, Error>> + 'a;

    /// A window's details as the renderers take them; `first`: whether
    /// they are the run's first.
    fn details(details: Self::Details, first: bool) -> Details;
}

impl ReadCommand for CheckArgs {
    type Details = CheckDetails;
    const NAME: &'static str = "check";

    fn take_domains(&mut self) -> Vec<Name> {
        std::mem::take(&mut self.domains)
    }

    fn window(&self, _ctx: &Context) -> Option<u32> {
        Some(self.window)
    }

    async fn run<'a>(
        &'a self,
        domains: Vec<Name>,
        ctx: &'a Context,
    ) -> Result<Report<CheckDetails>, Error> {
        check::run(&CheckArgs { domains, ..*self }, ctx).await
    }

    fn details(details: CheckDetails, _first: bool) -> Details {
        Details::Check(details)
    }
}

impl ReadCommand for ReplicationArgs {
    type Details = ReplicationDetails;
    const NAME: &'static str = "replication";

    fn take_domains(&mut self) -> Vec<Name> {
        std::mem::take(&mut self.domains)
    }

    /// `--wait` polls every zone until all converge: one window.
    fn window(&self, _ctx: &Context) -> Option<u32> {
        self.wait.is_none().then_some(self.window)
    }

    async fn run<'a>(
        &'a self,
        domains: Vec<Name>,
        ctx: &'a Context,
    ) -> Result<Report<ReplicationDetails>, Error> {
        replication::run(&ReplicationArgs { domains, ..*self }, ctx).await
    }

    fn details(details: ReplicationDetails, _first: bool) -> Details {
        Details::Replication(details)
    }
}

impl ReadCommand for UpdatesArgs {
    type Details = UpdatesDetails;
    const NAME: &'static str = "updates";

    fn take_domains(&mut self) -> Vec<Name> {
        std::mem::take(&mut self.domains)
    }

    /// Every zone of a named.conf is found by the audit, not selected:
    /// one window.
    fn window(&self, ctx: &Context) -> Option<u32> {
        (!updates::no_selection(self, ctx)).then_some(self.window)
    }

    /// A zone's domains share a window: it is listed once.
    fn together(&self, ctx: &Context, selected: &[Name]) -> Result<Option<Vec<usize>>, Error> {
        updates::together(self, ctx, selected)
    }

    async fn run<'a>(
        &'a self,
        domains: Vec<Name>,
        ctx: &'a Context,
    ) -> Result<Report<UpdatesDetails>, Error> {
        let args = UpdatesArgs {
            domains,
            named_conf: self.named_conf.clone(),
            ..*self
        };
        updates::run(&args, ctx).await
    }

    /// The named.conf is named once, above the first window's zones.
    fn details(mut details: UpdatesDetails, first: bool) -> Details {
        details.heading = first;
        Details::Updates(details)
    }
}

impl ReadCommand for ProbeArgs {
    type Details = ProbeDetails;
    const NAME: &'static str = "probe";

    fn take_domains(&mut self) -> Vec<Name> {
        std::mem::take(&mut self.domain)
    }

    /// The search list and `--host` are not the selection: one window.
    fn window(&self, _ctx: &Context) -> Option<u32> {
        (!self.search && self.host.is_empty()).then_some(self.window)
    }

    async fn run<'a>(
        &'a self,
        domain: Vec<Name>,
        ctx: &'a Context,
    ) -> Result<Report<ProbeDetails>, Error> {
        let args = ProbeArgs {
            domain,
            host: self.host.clone(),
            ..*self
        };
        probe::run(&args, ctx).await
    }

    fn details(details: ProbeDetails, _first: bool) -> Details {
        Details::Probe(details)
    }
}
