//! What every command gets: the global options, the configuration (read
//! once per run), the resolvers, and the selection of domains to work on.
//!
//! Below the commands and above the DNS layer: commands import it, it
//! imports no command.

mod global;
mod selection;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::dns::DnsOptions;

use crate::config::{self, Config};
use crate::dns::search_list::RESOLV_CONF;
use crate::dns::Resolver;
use crate::error::Error;

pub use global::{parse_duration, parse_wait, ColorChoice, FailOn, Format, GlobalArgs};
pub use selection::{parse_domain, parse_kms_host, split_port, Selection};

/// What every command gets: the global options.
#[derive(Debug)]
pub struct Context {
    pub global: GlobalArgs,
    /// Whether long runs may draw progress on stderr: a terminal, text
    /// output, not `-q`.
    pub progress: bool,
    /// The configuration, once read.
    config: OnceLock<Arc<Config>>,
    /// The remembering resolver of the commands that only read.
    reading_resolver: OnceLock<Resolver>,
}

impl Context {
    pub fn new(global: GlobalArgs, progress: bool) -> Context {
        Context {
            global,
            progress,
            config: OnceLock::new(),
            reading_resolver: OnceLock::new(),
        }
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

    /// A progress line on stderr counting `len` steps, drawn only where
    /// [`progress`](Self::progress) allows: `template` is indicatif's, with
    /// `{pos}`, `{len}` and `{msg}`.
    pub fn progress_bar(&self, len: u64, template: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// DNS options from `--timeout` and `--dns-port`.
    pub fn dns_options(&self) -> DnsOptions {
        DnsOptions {
            timeout: self.global.timeout,
            dns_port: self.global.dns_port,
            ..DnsOptions::default()
        }
    }

    /// `--deadline`: how long one domain's work may take in all
    /// ([`crate::concurrency::deadline`]).
    pub fn deadline(&self) -> Duration {
        self.global.deadline
    }

    /// The resolv.conf(5) of the run: `--resolv-conf`, or the system's.
    /// Its nameservers are the resolver's (unless `--nameserver` is given)
    /// and its search list is the one `discover` and `probe --search` use:
    /// one file, as on the client it stands for.
    pub fn resolv_conf(&self) -> &Path {
        self.global
            .resolv_conf
            .as_deref()
            .unwrap_or(Path::new(RESOLV_CONF))
    }

    /// The resolver: `--nameserver`, or the nameservers of
    /// [`resolv_conf`](Self::resolv_conf).
    pub fn resolver(&self) -> Result<Resolver, Error> {
        let opts = self.dns_options();
        match self.global.nameserver {
            Some(server) => Ok(Resolver::with_nameserver(server, &opts)),
            None => Resolver::from_file(self.resolv_conf(), &opts)
                .map_err(|e| Error::Runtime(e.to_string())),
        }
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
