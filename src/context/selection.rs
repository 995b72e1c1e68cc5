//! Which domains a command works on: `--domain` values, or the
//! configuration's publish list. One parser and one selection for every
//! command.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hickory_proto::rr::Name;

use crate::config::{self, Config, Domain};
use crate::context::Context;
use crate::error::Error;

/// `--domain` values: the configuration's name syntax.
pub fn parse_domain(text: &str) -> Result<Name, String> {
    crate::dns::name::parse_domain(text)
}

/// The domains a command works on, and the configuration when there is one.
pub struct Selection {
    pub config: Option<Arc<Config>>,
    pub domains: Vec<Name>,
    /// Where each configured domain is in `config.domains`.
    index: HashMap<Name, usize>,
}

impl Selection {
    /// `--domain` values when given (a configuration is then optional and
    /// read only if given or found), else every domain of the publish list.
    pub fn new(domains: &[Name], ctx: &Context) -> Result<Selection, Error> {
        if domains.is_empty() {
            let config = ctx.config()?;
            let domains = config.domains.iter().map(|d| d.name.clone()).collect();
            return Ok(Selection::of(Some(config), domains));
        }
        let config = match config::locate(ctx.global.config.as_deref()) {
            Some(_) => Some(ctx.config()?),
            None => None,
        };
        let mut seen = HashSet::new();
        let unique = domains
            .iter()
            .filter(|domain| seen.insert(*domain))
            .cloned()
            .collect();
        Ok(Selection::of(config, unique))
    }

    fn of(config: Option<Arc<Config>>, domains: Vec<Name>) -> Selection {
        let index = config
            .iter()
            .flat_map(|c| c.domains.iter().enumerate())
            .map(|(at, d)| (d.name.clone(), at))
            .collect();
        Selection {
            config,
            domains,
            index,
        }
    }

    /// The configuration's entry for `domain`, if it is in a publish list.
    pub fn domain(&self, domain: &Name) -> Option<&Domain> {
        let at = *self.index.get(domain)?;
        self.config.as_ref().map(|c| &c.domains[at])
    }
}
