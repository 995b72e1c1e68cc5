//! What every command gets: the global options, the configuration (read
//! once per run), the resolvers, and the selection of domains to work on.
//!
//! Below the commands and above the DNS layer: commands import it, it
//! imports no command.

mod global;
mod selection;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::dns::dnssec::KeyMemo;
use crate::dns::identify::Identities;
use crate::dns::DnsOptions;

use crate::config::{self, Config};
use crate::dns::search_list::RESOLV_CONF;
use crate::dns::Resolver;
use crate::error::Error;
use crate::named_conf::NamedConf;

pub use global::{parse_duration, parse_wait, ColorChoice, FailOn, Format, GlobalArgs};
pub use selection::{parse_domain, parse_kms_host, split_port, Selection, DOMAIN_SEPARATOR};

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
    /// `--named-conf`, once read, and where from.
    named_conf: OnceLock<(PathBuf, Arc<NamedConf>)>,
    /// The command's `--named-conf`, read before the configuration.
    named_conf_first: Option<PathBuf>,
    /// Each server's software, for the whole run.
    identities: Identities,
    /// Each zone's DNSKEY RRsets, NS set and DS, for the whole run.
    zone_keys: KeyMemo,
    /// Whether why named refuses `--named-conf` has been reported.
    refusal_reported: AtomicBool,
}

impl Context {
    pub fn new(global: GlobalArgs, progress: bool) -> Context {
        Context {
            global,
            progress,
            config: OnceLock::new(),
            reading_resolver: OnceLock::new(),
            named_conf: OnceLock::new(),
            named_conf_first: None,
            identities: Identities::default(),
            zone_keys: KeyMemo::default(),
            refusal_reported: AtomicBool::new(false),
        }
    }

    /// The context of a command given `--named-conf` (`updates`, `audit`),
    /// whose named.conf is then read before the configuration: the text of
    /// its files (20 MB at 100,000 zones) is dropped once read, before the
    /// configuration's domains are held, which keeps the run's peak lower.
    pub fn with_named_conf(self, path: Option<PathBuf>) -> Context {
        Context {
            named_conf_first: path,
            ..self
        }
    }

    /// The configuration from `-c` or the search path; an error when there
    /// is none. Read once per run and shared: `audit`'s parts all use it,
    /// and at 10,000 domains one copy is several MB. The command's
    /// named.conf is read first ([`Context::with_named_conf`]).
    pub fn config(&self) -> Result<Arc<Config>, Error> {
        if let Some(config) = self.config.get() {
            return Ok(Arc::clone(config));
        }
        if let Some(path) = &self.named_conf_first {
            self.named_conf(path)?;
        }
        let path =
            config::locate(self.global.config.as_deref()).ok_or(config::ConfigError::NotFound)?;
        let config = Arc::new(config::load(&path)?);
        Ok(Arc::clone(self.config.get_or_init(|| config)))
    }

    /// BIND's configuration at `path` (`--named-conf`), read once per
    /// run: `audit` audits its grants in every window, and a named.conf of
    /// 100,000 zones took 21 s to read (on a busy machine of two cores).
    pub fn named_conf(&self, path: &Path) -> Result<Arc<NamedConf>, Error> {
        if let Some((read, conf)) = self.named_conf.get() {
            if read == path {
                return Ok(Arc::clone(conf));
            }
        }
        let conf = NamedConf::load(path)
            .map(Arc::new)
            .map_err(|e| Error::Runtime(format!("cannot read the BIND configuration: {e}")))?;
        let _ = self.named_conf.set((path.to_path_buf(), Arc::clone(&conf)));
        Ok(conf)
    }

    /// True the first time it is asked in a run: why named refuses the
    /// `--named-conf` is a fact of the file, reported once for the run,
    /// not once per window.
    pub fn first_report_of_refusal(&self) -> bool {
        !self.refusal_reported.swap(true, Ordering::Relaxed)
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

    /// What the run knows of each server's software (`version.bind`, or
    /// how it answers), kept across windows: the servers are few, and each
    /// is asked once per run ([`Identities`]).
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// The DNSKEY RRsets, NS set and DS read for each zone, kept across
    /// windows, so that a zone whose domains fall in several windows is
    /// read once, not once per window (bounded, see [`KeyMemo`]).
    pub fn zone_keys(&self) -> &KeyMemo {
        &self.zone_keys
    }

    /// Ends a window: what the reading resolver remembered of its domains'
    /// zones is forgotten, as the next window's domains are others; the
    /// facts about hosts, servers and zones stay.
    pub fn window_done(&self) {
        if let Some(resolver) = self.reading_resolver.get() {
            resolver.forget_zones();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        global: GlobalArgs,
    }

    #[test]
    fn named_conf_is_read_once_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("named.conf");
        let zone =
            |name: &str| format!("zone \"{name}\" {{ type primary; file \"{name}.db\"; }};\n");
        std::fs::write(&path, zone("a.example")).unwrap();
        let ctx = Context::new(Cli::parse_from(["kmsdns"]).global, false);
        assert_eq!(ctx.named_conf(&path).unwrap().zones.len(), 1);
        std::fs::write(&path, zone("a.example") + &zone("b.example")).unwrap();
        assert_eq!(
            ctx.named_conf(&path).unwrap().zones.len(),
            1,
            "not read again"
        );
        let missing = ctx
            .named_conf(&dir.path().join("missing.conf"))
            .unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("cannot read the BIND configuration: "),
            "{missing}"
        );
    }

    #[test]
    fn the_named_conf_is_read_before_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let missing_config = dir.path().join("missing.toml");
        let global = || Cli::parse_from(["kmsdns", "-c", missing_config.to_str().unwrap()]).global;
        // Without a named.conf, the configuration's own error.
        let alone = Context::new(global(), false).config().unwrap_err();
        assert!(alone.to_string().contains("missing.toml"), "{alone}");
        // Neither exists: the named.conf's error comes first.
        let missing_conf = Some(dir.path().join("missing.conf"));
        let ctx = Context::new(global(), false).with_named_conf(missing_conf);
        let error = ctx.config().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read the BIND configuration: "),
            "{error}"
        );
        // One that exists is read by asking for the configuration, and kept.
        let path = dir.path().join("named.conf");
        let zone = "zone \"a.example\" { type primary; file \"a.example.db\"; };\n";
        std::fs::write(&path, zone).unwrap();
        let ctx = Context::new(global(), false).with_named_conf(Some(path.clone()));
        let error = ctx.config().unwrap_err();
        assert!(error.to_string().contains("missing.toml"), "{error}");
        std::fs::write(&path, "").unwrap();
        assert_eq!(ctx.named_conf(&path).unwrap().zones.len(), 1, "read first");
    }
}
