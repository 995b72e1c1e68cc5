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
use crate::error::Error;

/// What every command gets: the global options.
#[derive(Debug)]
pub struct Context {
    pub global: GlobalArgs,
    /// Whether long runs may draw progress on stderr: a terminal, text
    /// output, not `-q`.
    pub progress: bool,
    /// The configuration, once read.
    config: OnceLock<Arc<Config>>,
}

impl Context {
    pub fn new(global: GlobalArgs, progress: bool) -> Context {
        Context {
            global,
            progress,
            config: OnceLock::new(),
        }
    }

    /// The configuration from `-c` or the search path; an error when there
    /// is none. Read once per run and shared: `audit`'s parts all use it,
    /// and at 10,000 domains one copy is about 11 MB.
    pub fn config(&self) -> Result<Arc<Config>, Error> {
        if let Some(config) = self.config.get() {
            return Ok(Arc::clone(config));
        }
        let path =
            config::locate(self.global.config.as_deref()).ok_or(config::ConfigError::NotFound)?;
        let config = Arc::new(config::load(&path)?);
        Ok(Arc::clone(self.config.get_or_init(|| config)))
    }
}
