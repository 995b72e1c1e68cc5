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
}

impl Context {
    /// Loads the configuration from `-c` or the search path; an error when
    /// there is none.
    pub fn config(&self) -> Result<Config, Error> {
        let path =
            config::locate(self.global.config.as_deref()).ok_or(config::ConfigError::NotFound)?;
        Ok(config::load(&path)?)
    }
}
