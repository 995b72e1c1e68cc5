//! Reader of BIND 9 `named.conf` for the static part of `kmsdns updates`:
//! who named would let change the `_vlmcs._tcp` SRV records of a zone, or
//! send their lookup elsewhere.
//!
//! It reads a `named.conf` and every file it `include`s (globs too;
//! comments in the three styles, quoted strings, `!` negation) into a
//! generic statement tree ([`syntax`]), one top-level statement at a time,
//! and keeps what the audit needs of each ([`model`]; of a zone, where it
//! is, read again from its file and modelled when asked for: [`zones`]):
//! `options`, `acl`,
//! `key` (name and algorithm only: the secret is dropped as it is read),
//! `view`, `zone` with `allow-update` /
//! `update-policy` / `allow-query`, `dlz`, and `primaries` / `masters`
//! lists, and checks it as named does when it loads ([`check`]): a file
//! named refuses gets named's reason, not a verdict. Address match lists
//! are compiled and matched as BIND does ([`acl`]); [`update`] decides an
//! UPDATE step by step as named 9.18 does; [`grants`] takes that decision
//! for every kind of client of each view and turns it into the audit's
//! issues and verdicts (DESIGN §2: `allow-update { any; }` lets anyone
//! redirect every KMS client). The differential test
//! (`tests/named_conf_live.rs`) holds the decision to a live named's.
//!
//! Every error names the file, line and column
//! (`named.conf:12:5: missing ';' after 'master', found '}'`), input of any
//! kind is read without panicking, and the work is bounded by [`Limits`].

pub mod acl;
pub mod check;
mod files;
mod glob;
pub mod grant_line;
pub mod grants;
mod lexer;
pub mod model;
mod name;
pub mod syntax;
pub mod update;
pub mod zones;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use acl::Endpoint;
pub use check::{Refusal, Rejection};
pub use grants::{
    audit_domains, audit_domains_each, audit_zones, audit_zones_each, find_zone, vlmcs_name,
    zone_location, zones_holding, zones_of_domain, Access, AclSource, GrantIssue, NameScope, Reach,
    ScopedZone, TypeScope, Verdict, ZoneAudit, ZoneLookup,
};
pub use model::{
    Acl, AddressMatchElement, AddressMatchList, Dlz, ElementKind, Key, NamedConf, Options,
    PrimariesList, RemoteServer, RuleMode, RuleType, UpdatePolicy, UpdateRule, View, Zone,
};
pub use syntax::Limits;
pub use update::{Decision, Denial, Outcome, Server, UpdateRequest};
pub use zones::Zones;

/// A place in a configuration file: 1-based line and column (characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as it was opened (the top path or the resolved include).
    pub file: Arc<Path>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why an `include` could not be followed.
#[derive(Debug, thiserror::Error)]
pub enum IncludeProblem {
    /// No candidate path exists.
    #[error("file not found (looked for {})", display_paths(tried))]
    NotFound {
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// The file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The path that was opened.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is already being read further up the include chain.
    #[error("include cycle: {}", display_chain(chain))]
    Cycle {
        /// The files of the cycle, the repeated one first and last.
        chain: Vec<PathBuf>,
    },
    /// The include chain is deeper than the limit.
    #[error("includes nested more than {limit} deep")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More files were included than the limit.
    #[error("more than {limit} included files")]
    TooMany {
        /// The limit.
        limit: usize,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn display_chain(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" includes ")
}

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NamedConfError {
    /// The top file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The text is not valid configuration syntax.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What is wrong, in the words of someone reading the file.
        message: String,
    },
    /// An `include` statement could not be followed.
    #[error("{at}: include \"{path}\": {problem}")]
    Include {
        /// The `include` statement.
        at: Location,
        /// The path as written.
        path: String,
        /// Why.
        problem: IncludeProblem,
    },
    /// A bound of [`Limits`] was reached.
    #[error("{at}: {message}")]
    Limit {
        /// Where.
        at: Location,
        /// Which bound.
        message: String,
    },
}

impl NamedConfError {
    /// Where the error is, when it is inside a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            NamedConfError::Read { .. } => None,
            NamedConfError::Syntax { at, .. }
            | NamedConfError::Include { at, .. }
            | NamedConfError::Limit { at, .. } => Some(at),
        }
    }
}

impl NamedConf {
    /// Reads `path` and every file it includes, with the default [`Limits`].
    pub fn load(path: &Path) -> Result<NamedConf, NamedConfError> {
        Self::load_with_limits(path, Limits::default())
    }

    /// Reads `path` and every file it includes, within `limits`.
    pub fn load_with_limits(path: &Path, limits: Limits) -> Result<NamedConf, NamedConfError> {
        let mut reader = syntax::Reader::new(path, limits);
        let mut builder = model::Builder::default();
        reader.read_top_each(path, &mut |statement| builder.add(statement))?;
        builder.finish(reader.files, reader.stamps, reader.rejections)
    }

    /// The first file found changed since it was read, when a zone was
    /// read again from it ([`zones`]): what was asked of that zone has no
    /// answer, and a command must say so rather than give its verdicts.
    pub fn changed(&self) -> Option<&Path> {
        let scopes = std::iter::once(&self.zones).chain(self.views.iter().map(|v| &v.zones));
        scopes.into_iter().find_map(Zones::changed)
    }

    /// Parses `text` as the content of the file `path` (relative includes
    /// are looked up from there).
    pub fn parse_str(path: &Path, text: &str) -> Result<NamedConf, NamedConfError> {
        Self::parse_str_with_limits(path, text, Limits::default())
    }

    /// Parses `text` as [`NamedConf::parse_str`] does, within `limits`
    /// (`max_includes: 0` refuses every `include`, as the fuzz target does
    /// for input that could name a file outside its own directory).
    pub fn parse_str_with_limits(
        path: &Path,
        text: &str,
        limits: Limits,
    ) -> Result<NamedConf, NamedConfError> {
        let mut reader = syntax::Reader::new(path, limits);
        let mut builder = model::Builder::default();
        reader.parse_text_each(path, text, &mut |statement| builder.add(statement))?;
        builder.finish(reader.files, reader.stamps, reader.rejections)
    }
}
