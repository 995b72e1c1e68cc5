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
