//! One module per subcommand: its clap arguments and its `run`.

pub mod audit;
pub mod bind;
pub mod changes;
pub mod check;
pub mod completions;
pub mod discover;
pub mod man;
pub mod plan;
pub mod probe;
pub mod publish;
pub mod remove;
pub mod replication;
pub mod updates;

use std::sync::{Arc, OnceLock};

use crate::cli::GlobalArgs;
use crate::config::{self, Config};
use crate::dns::Resolver;
use crate::error::Error;
use crate::report::entries::Entries;

/// What every command gets: the global options.
#[derive(Debug)]
pub struct Context {
    pub global: GlobalArgs,
    /// Whether long runs may draw progress on stderr: a terminal, text
    /// output, not `-q`.
    pub progress: bool,
    /// Whether the report's per-domain details are shown as text, and so
    /// kept as values; otherwise they are kept as compact JSON
    /// ([`Entries`](crate::report::entries::Entries)).
    pub details_as_values: bool,
    /// The configuration, once read.
    config: OnceLock<Arc<Config>>,
    /// The remembering resolver of the commands that only read.
    reading_resolver: OnceLock<Resolver>,
}

impl Context {
    pub fn new(global: GlobalArgs, progress: bool, details_as_values: bool) -> Context {
        Context {
            global,
            progress,
            details_as_values,
            config: OnceLock::new(),
            reading_resolver: OnceLock::new(),
        }
    }

    /// An empty list of per-domain details, kept as [`details_as_values`]
    /// says.
    ///
    /// [`details_as_values`]: Self::details_as_values
    pub fn entries<T>(&self) -> Entries<T> {
        Entries::new(self.details_as_values)
    }

    /// The configuration from `-c` or the search path; an error when there
    /// is none. Read once per run and shared: `audit`'s parts all use it,
    /// and at 10,000 domains one copy is several MB.
    pub fn config(&self) -> Result<Arc<Config>, Error> {
        if let Some(config) = self.config.get() {
            return Ok(Arc::clone(config));
        }
        let path =
            config::locate(self.global.config.as_deref()).ok_or(config::ConfigError::NotFound)?;
        let config = Arc::new(config::load(&path)?);
        Ok(Arc::clone(self.config.get_or_init(|| config)))
    }

    /// The resolver of the commands that only read (`check`,
    /// `replication`, `updates` and so `audit`), remembering its lookups
    /// for the run ([`Resolver::remembering`]): each host's addresses are
    /// asked once, and each domain's zone is found once, not once per part
    /// of an audit.
    pub fn reading_resolver(&self) -> Result<Resolver, Error> {
        if let Some(resolver) = self.reading_resolver.get() {
            return Ok(resolver.clone());
        }
        let resolver = self.resolver()?.remembering();
        Ok(self.reading_resolver.get_or_init(|| resolver).clone())
    }
}

/// A detail that could not be kept as JSON (serializing kmsdns's own
/// report types does not fail; should it, the run says so).
pub(crate) fn keep_error(error: serde_json::Error) -> Error {
    Error::Runtime(format!("cannot keep the report's details: {error}"))
}
