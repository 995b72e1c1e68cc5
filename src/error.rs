//! Errors that stop kmsdns from running at all (exit status 3).
//!
//! A check that fails is a finding, not an error: these are for usage,
//! configuration and local I/O problems.

use std::path::PathBuf;

use crate::config::ConfigError;

/// Why a command could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// Why a run window by window cannot keep `command`'s output: each
    /// window's, rendered, waits in unnamed files in the temporary
    /// directory until the run's totals, which come first, are known.
    pub fn unkept(command: &str, error: std::io::Error) -> Error {
        Error::Runtime(format!(
            "cannot keep {command}'s output in the temporary directory {}: {error}; set TMPDIR to a writable directory (each window of --window domains waits there until the run ends)",
            std::env::temp_dir().display()
        ))
    }
}
