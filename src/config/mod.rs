//! Configuration: KMS hosts, the publish list, per-domain options and keys.
//!
//! A TOML file (DESIGN §4) is read into raw serde types that reject unknown
//! keys, then validated into [`Config`]. Every error names the file, and the
//! line and column where there is one; a configuration that does not
//! validate changes nothing anywhere.

pub mod gss;
pub mod key;
mod name_index;
pub mod publish_list;
pub mod reg;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::rr::Name;
use serde::Deserialize;
use toml::Spanned;

pub use crate::dns::name;
pub use crate::dns::srv::{srv_owner, SrvRecord};
pub use crate::dns::ServerSpec;
use crate::local_file::{self, Limit};
use crate::report::{Finding, FindingId, Severity};
use key::{KeyError, TsigKey};
use name::{parse_name, parse_srv_target};
use name_index::NameIndex;
use publish_list::{parse_entry, PublishEntry, PublishList};

/// The TCP port KMS hosts listen on unless told otherwise.
pub const DEFAULT_KMS_PORT: u16 = 1688;
/// TTL of the `_vlmcs._tcp` RRset when kmsdns creates it.
pub const DEFAULT_TTL: u32 = 3600;
/// RFC 2181 §8: TTLs are unsigned 31-bit numbers.
pub const MAX_TTL: u32 = 0x7FFF_FFFF;
/// Where the configuration is looked for when `-c` is not given.
pub const SEARCH_PATH: [&str; 2] = ["./kmsdns.toml", "/etc/kmsdns/kmsdns.toml"];

/// A KMS host: the target of SRV records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsHost {
    pub name: Name,
    pub port: u16,
    /// Addresses to publish as A/AAAA when the host lies inside a zone.
    pub addresses: Vec<IpAddr>,
    /// TTL of those A/AAAA records (`address-ttl`, the host's or the
    /// top-level one); `None`: keep the TTL of the RRset already there.
    pub address_ttl: Option<u32>,
    /// The host's `DnsDomainPublishList`; the top-level list is shared by
    /// every host without a list of its own (at 10,000 domains one copy is
    /// about 5 MB). Empty for a host kmsdns does not manage and that has
    /// no list of its own.
    pub publish_list: Arc<PublishList>,
    /// `managed = false`: another team's KMS host, known but never
    /// published, changed, pruned or removed.
    pub managed: bool,
    /// `required = true` (only with `managed = false`): its absence from
    /// a domain of its own publish list is a finding.
    pub required: bool,
}

/// A domain of the publish list with everything needed to manage it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: Name,
    /// TTL for the RRset when kmsdns creates it or `--set-ttl` is given.
    pub ttl: u32,
    /// `server =`: where updates go instead of the SOA MNAME (boxed: rare).
    pub server: Option<Box<ServerSpec>>,
    /// Shared by every domain that names it (at 10,000 domains, one copy
    /// each was 2.7 MB).
    pub key: Option<Arc<TsigKey>>,
    /// `auth = "gss-tsig"`: updates signed with GSS-TSIG instead of `key`
    /// (boxed: rare, and 10,000 empty slots of its size were 1.3 MB).
    pub gss: Option<Box<gss::GssAuth>>,
    /// `zone =`: the zone that holds the domain's names (the domain itself,
    /// or an ancestor), for `bind`; boxed: rare.
    pub zone: Option<Box<Name>>,
    /// `multi-master =`: whether every server of the zone is a primary (an
    /// Active Directory-integrated zone), when the administrator says so
    /// instead of leaving it to detection.
    pub multi_master: Option<bool>,
    /// The records this configuration owns here, one per publishing host;
    /// shared by every domain with the same ones (at 100,000 domains, a
    /// copy each was 35 MB at its peak).
    pub records: Arc<[SrvRecord]>,
    /// Hosts not managed here (`managed = false`, `required = true`) whose
    /// record this domain must have.
    pub required_foreign: Vec<Name>,
}

impl Domain {
    /// The owner name of the KMS SRV RRset: `_vlmcs._tcp.<domain>`.
    pub fn srv_name(&self) -> Name {
        srv_owner(&self.name)
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from, if any.
    pub path: Option<PathBuf>,
    pub hosts: Vec<KmsHost>,
    /// Every domain of every host's publish list, in first-seen order.
    pub domains: Vec<Domain>,
    /// Where each domain is in `domains`.
    index: NameIndex,
    /// The top-level `key`: that of every domain without its own, and of
    /// a `--domain` that is in no publish list.
    pub key: Option<Arc<TsigKey>>,
    /// The hosts are all the KMS hosts there are: any other SRV target is a rogue.
    pub complete: bool,
    /// Things worth telling that do not stop the run (e.g. key file permissions).
    pub warnings: Vec<Finding>,
}

impl Config {
    /// Whether `target` is one of the KMS hosts this configuration manages:
    /// only their records are ever added, changed or deleted.
    pub fn owns_target(&self, target: &Name) -> bool {
        self.hosts.iter().any(|h| h.managed && h.name == *target)
    }

    /// What the configuration says about an SRV target.
    pub fn target_kind(&self, target: &Name) -> TargetKind {
        match self.host(target) {
            Some(host) if host.managed => TargetKind::Managed,
            Some(_) => TargetKind::Foreign,
            None => TargetKind::Unknown,
        }
    }

    /// Where the domain `name` is in [`domains`](Self::domains), if it is
    /// in a publish list.
    pub fn position(&self, name: &Name) -> Option<usize> {
        self.index.find(&self.domains, |d| &d.name, name)
    }

    /// The configured host named `name`, if any.
    pub fn host(&self, name: &Name) -> Option<&KmsHost> {
        self.hosts.iter().find(|h| h.name == *name)
    }
}

/// What the configuration says about an SRV target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A `[[host]]` kmsdns manages.
    Managed,
    /// A `[[host]]` with `managed = false`: known, never changed.
    Foreign,
    /// Not a configured host.
    Unknown,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    At {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("no configuration file: give -c FILE, or create {}", SEARCH_PATH.join(" or "))]
    NotFound,
    #[error("{0}")]
    Invalid(String),
}

/// Finds the configuration file: `explicit` (which must exist), else the
/// first of [`SEARCH_PATH`] that exists.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_path_buf()),
        None => SEARCH_PATH.iter().map(PathBuf::from).find(|p| p.is_file()),
    }
}

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = local_file::read_to_string(path, Limit::CONFIGURATION).map_err(|source| {
        ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }
    })?;
    parse(&text, path)
}

/// Validates configuration text; `path` names it in errors and anchors
/// relative paths (key files, `.reg` imports).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', "; ");
        match e.span() {
            Some(span) => at(text, path, span.start, message),
            None => ConfigError::File {
                path: path.to_path_buf(),
                message,
            },
        }
    })?;
    Validator { text, path }.validate(raw)
}

fn at(text: &str, path: &Path, offset: usize, message: String) -> ConfigError {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ConfigError::At {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    ttl: Option<Spanned<i64>>,
    address_ttl: Option<Spanned<i64>>,
    complete: Option<bool>,
    key: Option<Spanned<String>>,
    publish_list: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    publish_list_reg: Option<Spanned<String>>,
    #[serde(default)]
    host: Vec<Spanned<RawHost>>,
    #[serde(default)]
    domain: BTreeMap<String, Spanned<RawDomain>>,
    #[serde(default)]
    tsig_key: BTreeMap<String, Spanned<RawKey>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHost {
    name: Spanned<String>,
    port: Option<Spanned<i64>>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    address_ttl: Option<Spanned<i64>>,
    publish_list: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    publish_list_reg: Option<Spanned<String>>,
    managed: Option<bool>,
    required: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawDomain {
    ttl: Option<Spanned<i64>>,
    zone: Option<Spanned<String>>,
    multi_master: Option<bool>,
    server: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    auth: Option<Spanned<String>>,
    principal: Option<Spanned<String>>,
    keytab: Option<Spanned<String>>,
    service_host: Option<Spanned<String>>,
    mechanism: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawKey {
    file: Option<Spanned<String>>,
    env: Option<Spanned<String>>,
    name: Option<String>,
}

struct Validator<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn err<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        at(self.text, self.path, spanned.span().start, message.into())
    }

    fn file_err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::File {
            path: self.path.to_path_buf(),
            message: message.into(),
        }
    }

    /// Paths in the file are relative to the file's directory.
    fn relative(&self, file: &str) -> PathBuf {
        let file = Path::new(file);
        if file.is_absolute() {
            file.to_path_buf()
        } else {
            self.path.parent().unwrap_or(Path::new(".")).join(file)
        }
    }

    fn number(
        &self,
        value: &Spanned<i64>,
        what: &str,
        min: i64,
        max: i64,
    ) -> Result<i64, ConfigError> {
        let n = *value.get_ref();
        if n < min || n > max {
            return Err(self.err(
                value,
                format!("{what} {n} is out of range ({min} to {max})"),
            ));
        }
        Ok(n)
    }

    fn validate(&self, mut raw: RawConfig) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        let keys: BTreeMap<String, Arc<TsigKey>> = self
            .keys(&raw.tsig_key, &mut warnings)?
            .into_iter()
            .map(|(label, key)| (label, Arc::new(key)))
            .collect();
        let key_ref = |r: &Spanned<String>| -> Result<Arc<TsigKey>, ConfigError> {
            keys.get(r.get_ref().as_str())
                .cloned()
                .ok_or_else(|| self.err(r, format!("no [tsig-key.{}] is defined", r.get_ref())))
        };
        let default_key = raw.key.as_ref().map(&key_ref).transpose()?;
        let default_ttl = match &raw.ttl {
            Some(ttl) => self.number(ttl, "ttl", 0, MAX_TTL.into())? as u32,
            None => DEFAULT_TTL,
        };
        let address_ttl = |ttl: &Option<Spanned<i64>>| -> Result<Option<u32>, ConfigError> {
            ttl.as_ref()
                .map(|ttl| Ok(self.number(ttl, "address-ttl", 0, MAX_TTL.into())? as u32))
                .transpose()
        };
        let default_address_ttl = address_ttl(&raw.address_ttl)?;
        // Each raw list is dropped once read: at 100,000 domains it is
        // 8 MB, and the domains are made after.
        let global_list = self
            .publish_list(
                raw.publish_list.take(),
                raw.publish_list_reg.as_ref(),
                &mut warnings,
            )?
            .map(Arc::new);

        if raw.host.is_empty() {
            return Err(self.file_err("no KMS host: add at least one [[host]] with a name"));
        }
        let mut hosts: Vec<KmsHost> = Vec::new();
        for host in &mut raw.host {
            let host = host.get_mut();
            let name =
                parse_srv_target(host.name.get_ref()).map_err(|e| self.err(&host.name, e))?;
            if hosts.iter().any(|h| h.name == name) {
                return Err(self.err(&host.name, format!("host {name} is listed twice")));
            }
            let port = match &host.port {
                Some(port) => self.number(port, "port", 1, 65535)? as u16,
                None => DEFAULT_KMS_PORT,
            };
            let mut addresses = Vec::new();
            for address in &host.addresses {
                let ip: IpAddr = address.get_ref().parse().map_err(|_| {
                    self.err(
                        address,
                        format!("\"{}\" is not an IP address", address.get_ref()),
                    )
                })?;
                addresses.push(ip);
            }
            let own_list = self.publish_list(
                host.publish_list.take(),
                host.publish_list_reg.as_ref(),
                &mut warnings,
            )?;
            let managed = host.managed.unwrap_or(true);
            let required = match &host.required {
                Some(required) if managed => {
                    return Err(self.err(
                        required,
                        format!("host {name}: `required` is for hosts with managed = false (a managed host's records are always expected)"),
                    ))
                }
                Some(required) if *required.get_ref() && own_list.is_none() => {
                    return Err(self.err(
                        required,
                        format!("host {name}: required = true needs the host's own publish-list (the domains it must be in)"),
                    ))
                }
                Some(required) => *required.get_ref(),
                None => false,
            };
            let publish_list = match (own_list, &global_list) {
                (Some(list), _) => Arc::new(list),
                // A host of another team does not take this configuration's list.
                (None, _) if !managed => Arc::new(PublishList::default()),
                (None, Some(list)) => Arc::clone(list),
                (None, None) => {
                    return Err(self.err(
                        &host.name,
                        format!("host {name} has no publish list: set publish-list at the top or in this [[host]]"),
                    ))
                }
            };
            hosts.push(KmsHost {
                name,
                port,
                addresses,
                address_ttl: address_ttl(&host.address_ttl)?.or(default_address_ttl),
                publish_list,
                managed,
                required,
            });
        }
        if !hosts.iter().any(|h| h.managed) {
            return Err(self.file_err(
                "every [[host]] has managed = false: add at least one host kmsdns manages",
            ));
        }

        let mut domains = domains_of(&hosts, default_ttl, default_key.as_ref());
        let index = NameIndex::new(&domains, |d| &d.name)
            .map_err(|at| self.file_err(format!("{} is listed twice", domains[at].name)))?;
        for (host, raw_host) in hosts.iter().zip(&raw.host).filter(|(h, _)| !h.managed) {
            for entry in host.publish_list.entries() {
                let Some(at) = index.find(&domains, |d| &d.name, &entry.domain) else {
                    return Err(self.err(
                        &raw_host.get_ref().name,
                        format!(
                            "host {} (managed = false) lists {}, which no managed host publishes to",
                            host.name, entry.domain
                        ),
                    ));
                };
                if host.required {
                    domains[at].required_foreign.push(host.name.clone());
                }
            }
        }

        for (domain_name, options) in &raw.domain {
            let name = parse_name(domain_name)
                .map_err(|e| self.err(options, format!("[domain.\"{domain_name}\"]: {e}")))?;
            let Some(domain) = index
                .find(&domains, |d| &d.name, &name)
                .map(|at| &mut domains[at])
            else {
                return Err(self.err(
                    options,
                    format!("[domain.\"{domain_name}\"] is in no publish list"),
                ));
            };
            let options = options.get_ref();
            if let Some(ttl) = &options.ttl {
                domain.ttl = self.number(ttl, "ttl", 0, MAX_TTL.into())? as u32;
            }
            if let Some(server) = &options.server {
                domain.server = Some(Box::new(
                    parse_server(server.get_ref()).map_err(|e| self.err(server, e))?,
                ));
            }
            if let Some(key) = &options.key {
                domain.key = Some(key_ref(key)?);
            }
            if let Some(zone) = &options.zone {
                domain.zone = Some(Box::new(self.zone_of(zone, &domain.name)?));
            }
            if options.multi_master.is_some() {
                domain.multi_master = options.multi_master;
            }
            if let Some(gss) = self.gss_auth(options)? {
                domain.key = None;
                domain.gss = Some(Box::new(gss));
            }
        }

        for domain in &mut domains {
            domain.required_foreign.shrink_to_fit();
        }
        Ok(Config {
            path: Some(self.path.to_path_buf()),
            hosts,
            domains,
            index,
            key: default_key,
            complete: raw.complete.unwrap_or(false),
            warnings,
        })
    }

    /// `zone = "…"` of the domain `name`: the domain itself or an ancestor.
    fn zone_of(&self, zone: &Spanned<String>, name: &Name) -> Result<Name, ConfigError> {
        let parsed =
            parse_name(zone.get_ref()).map_err(|e| self.err(zone, format!("zone: {e}")))?;
        if !parsed.zone_of(name) {
            return Err(self.err(
                zone,
                format!("zone {parsed} does not hold {name}: give {name} or a zone above it"),
            ));
        }
        Ok(parsed)
    }

    /// The `auth` options of a `[domain."…"]` table: `None` for TSIG
    /// with `key` (the default, `auth = "tsig"`).
    fn gss_auth(&self, options: &RawDomain) -> Result<Option<gss::GssAuth>, ConfigError> {
        let gss_only = [
            &options.principal,
            &options.keytab,
            &options.service_host,
            &options.mechanism,
        ];
        match options.auth.as_ref().map(|a| (a, a.get_ref().as_str())) {
            None | Some((_, "tsig")) => {
                return match gss_only.into_iter().flatten().next() {
                    Some(option) => Err(self.err(
                        option,
                        "principal, keytab, service-host and mechanism need auth = \"gss-tsig\"",
                    )),
                    None => Ok(None),
                }
            }
            Some((auth, "gss-tsig")) => {
                if !cfg!(feature = "gssapi") {
                    return Err(self.err(auth, gss::NOT_BUILT));
                }
                if let Some(key) = &options.key {
                    return Err(self.err(key, "a domain with auth = \"gss-tsig\" signs with Kerberos, not with a TSIG key: remove `key`"));
                }
            }
            Some((auth, other)) => {
                return Err(self.err(
                    auth,
                    format!("auth = \"{other}\": expected \"tsig\" or \"gss-tsig\""),
                ))
            }
        }
        let service_host = match &options.service_host {
            Some(host) => Some(parse_name(host.get_ref()).map_err(|e| self.err(host, e))?),
            None => None,
        };
        let mechanism = match options
            .mechanism
            .as_ref()
            .map(|m| (m, m.get_ref().as_str()))
        {
            None | Some((_, "spnego")) => gss::GssMechanism::Spnego,
            Some((_, "kerberos" | "krb5")) => gss::GssMechanism::Kerberos,
            Some((m, other)) => {
                return Err(self.err(
                    m,
                    format!("mechanism = \"{other}\": expected \"spnego\" or \"kerberos\""),
                ))
            }
        };
        Ok(Some(gss::GssAuth {
            principal: options.principal.as_ref().map(|p| p.get_ref().clone()),
            keytab: options.keytab.as_ref().map(|k| self.relative(k.get_ref())),
            service_host,
            mechanism,
        }))
    }

    fn keys(
        &self,
        raw: &BTreeMap<String, Spanned<RawKey>>,
        warnings: &mut Vec<Finding>,
    ) -> Result<BTreeMap<String, TsigKey>, ConfigError> {
        let mut keys = BTreeMap::new();
        for (label, spanned) in raw {
            let raw_key = spanned.get_ref();
            let key =
                match (&raw_key.file, &raw_key.env) {
                    (Some(file), None) => {
                        let path = self.relative(file.get_ref());
                        let key = key::load_key_file(&path, raw_key.name.as_deref()).map_err(
                            |e| match e {
                                KeyError::Read { .. } => self.err(file, e.to_string()),
                                other => self.err(file, other.to_string()),
                            },
                        )?;
                        if key::readable_by_others(&path) {
                            warnings.push(
                                Finding::new(
                                    FindingId::KeyFilePermissions,
                                    Severity::Warning,
                                    format!(
                                        "key file {} is readable by every local user",
                                        path.display()
                                    ),
                                )
                                .hint(format!("chmod 600 {}", path.display())),
                            );
                        }
                        key
                    }
                    (None, Some(var)) => key::load_key_env(var.get_ref())
                        .map_err(|e| self.err(var, e.to_string()))?,
                    _ => {
                        return Err(self.err(
                            spanned,
                            format!("[tsig-key.{label}] needs exactly one of `file` or `env`"),
                        ))
                    }
                };
            keys.insert(label.clone(), key);
        }
        Ok(keys)
    }

    fn publish_list(
        &self,
        list: Option<Spanned<Vec<Spanned<toml::Value>>>>,
        reg: Option<&Spanned<String>>,
        warnings: &mut Vec<Finding>,
    ) -> Result<Option<PublishList>, ConfigError> {
        match (list, reg) {
            (Some(list), Some(_)) => {
                Err(self.err(&list, "give publish-list or publish-list-reg, not both"))
            }
            (None, None) => Ok(None),
            (None, Some(reg)) => {
                let path = self.relative(reg.get_ref());
                let bytes = local_file::read(&path, Limit::PUBLISH_LIST)
                    .map_err(|e| self.err(reg, format!("cannot read {}: {e}", path.display())))?;
                let import = reg::parse_publish_list(&bytes)
                    .map_err(|problem| self.err(reg, problem.in_file(&path)))?;
                warnings.extend(reg::warnings(&import, &path));
                Ok(Some(import.list))
            }
            (Some(list), None) => {
                if list.get_ref().is_empty() {
                    return Err(self.err(&list, "the publish list is empty"));
                }
                let entries = list
                    .get_ref()
                    .iter()
                    .map(|value| self.entry(value))
                    .collect::<Result<Vec<_>, _>>()?;
                let out = PublishList::new(entries)
                    .map_err(|(at, e)| self.err(&list.get_ref()[at], e))?;
                Ok(Some(out))
            }
        }
    }

    /// An entry is Windows' string syntax or a table.
    fn entry(&self, value: &Spanned<toml::Value>) -> Result<PublishEntry, ConfigError> {
        match value.get_ref() {
            toml::Value::String(text) => parse_entry(text).map_err(|e| self.err(value, e)),
            toml::Value::Table(table) => {
                let mut domain = None;
                let mut priority = 0;
                let mut weight = 0;
                for (k, v) in table {
                    match (k.as_str(), v) {
                        ("domain", toml::Value::String(s)) => {
                            domain = Some(name::parse_domain(s).map_err(|e| self.err(value, e))?)
                        }
                        ("priority" | "weight", toml::Value::Integer(n)) => {
                            let n = u16::try_from(*n).map_err(|_| {
                                self.err(value, format!("{k} {n} is out of range (0 to 65535)"))
                            })?;
                            if k == "priority" {
                                priority = n;
                            } else {
                                weight = n;
                            }
                        }
                        ("domain" | "priority" | "weight", _) => {
                            return Err(self.err(value, format!("publish-list entry: `{k}` has the wrong type")))
                        }
                        _ => {
                            return Err(self.err(
                                value,
                                format!("publish-list entry: unknown key `{k}`, expected domain, priority or weight"),
                            ))
                        }
                    }
                }
                let domain = domain.ok_or_else(|| self.err(value, "publish-list entry has no `domain`"))?;
                Ok(PublishEntry {
                    domain,
                    priority,
                    weight,
                })
            }
            _ => Err(self.err(
                value,
                "publish-list entries are strings (\"corp.example, 10, 75\") or tables ({ domain = \"corp.example\" })",
            )),
        }
    }
}

/// `IP`, `IP:PORT`, `[IPv6]:PORT` or a host name.
pub fn parse_server(text: &str) -> Result<ServerSpec, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ServerSpec::Addr { ip, port: None });
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(format!("server \"{text}\": port 0 is not a port"));
        }
        return Ok(ServerSpec::Addr {
            ip: addr.ip(),
            port: Some(addr.port()),
        });
    }
    parse_name(text)
        .map(ServerSpec::Name)
        .map_err(|e| format!("server \"{text}\" is neither an address nor a host name: {e}"))
}

/// Every domain of the managed hosts' publish lists, in first-seen order,
/// each with one record per managed host that lists it, in the hosts'
/// order. Domains with the same records (the same hosts, priorities and
/// weights: every domain of a list the hosts share) share one copy.
fn domains_of(hosts: &[KmsHost], ttl: u32, key: Option<&Arc<TsigKey>>) -> Vec<Domain> {
    let managed: Vec<&KmsHost> = hosts.iter().filter(|h| h.managed).collect();
    // Each domain's first entry, found first: `domains` is then allocated
    // once at its size (growing it left up to half of it unused at the peak).
    let mut first = Vec::new();
    for (at, host) in managed.iter().enumerate() {
        let earlier = &managed[..at];
        if earlier
            .iter()
            .any(|h| Arc::ptr_eq(&h.publish_list, &host.publish_list))
        {
            continue;
        }
        for entry in host.publish_list.entries() {
            if !earlier
                .iter()
                .any(|h| h.publish_list.get(&entry.domain).is_some())
            {
                first.push(entry);
            }
        }
    }
    // (host, priority, weight) of each record: the records they make.
    type Wanted = Vec<(usize, u16, u16)>;
    let mut shared: HashMap<Wanted, Arc<[SrvRecord]>> = HashMap::new();
    let mut domains = Vec::with_capacity(first.len());
    for entry in first {
        let wanted = managed
            .iter()
            .enumerate()
            .filter_map(|(at, host)| {
                let listed = host.publish_list.get(&entry.domain)?;
                Some((at, listed.priority, listed.weight))
            })
            .collect();
        let records = shared.entry(wanted).or_insert_with_key(|wanted| {
            wanted
                .iter()
                .map(|&(at, priority, weight)| SrvRecord {
                    priority,
                    weight,
                    port: managed[at].port,
                    target: managed[at].name.clone(),
                })
                .collect()
        });
        domains.push(Domain {
            name: entry.domain.clone(),
            ttl,
            server: None,
            key: key.cloned(),
            gss: None,
            zone: None,
            multi_master: None,
            records: Arc::clone(records),
            required_foreign: Vec::new(),
        });
    }
    domains
}

/// A configuration built from the command line (`--publish-list-reg` and
/// `--host`), for runs without a file.
pub fn from_parts(
    hosts: Vec<(Name, u16)>,
    list: PublishList,
    ttl: u32,
) -> Result<Config, ConfigError> {
    let list = Arc::new(list);
    if hosts.is_empty() {
        return Err(ConfigError::Invalid(
            "no KMS host: give --host NAME[:PORT]".into(),
        ));
    }
    let hosts: Vec<KmsHost> = hosts
        .into_iter()
        .map(|(name, port)| KmsHost {
            name,
            port,
            addresses: Vec::new(),
            address_ttl: None,
            publish_list: Arc::clone(&list),
            managed: true,
            required: false,
        })
        .collect();
    let domains = domains_of(&hosts, ttl, None);
    let index = NameIndex::new(&domains, |d| &d.name)
        .map_err(|at| ConfigError::Invalid(format!("{} is listed twice", domains[at].name)))?;
    Ok(Config {
        path: None,
        hosts,
        domains,
        index,
        key: None,
        complete: false,
        warnings: Vec::new(),
    })
}
