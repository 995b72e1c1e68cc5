//! BIND material generated from the configuration: zone-file records, a
//! `named.conf` zone stanza with a narrow `update-policy`, an `nsupdate`
//! script, and the `DnsDomainPublishList` `.reg` file for each KMS host.
//!
//! Pure: returns file contents; the `bind` command decides where they go.
//! Secrets never appear here: keys are `include`d by the path of their
//! BIND key file, and nsupdate is told to read the same file with `-k`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use serde::Serialize;

use crate::config::key::KeyOrigin;
use crate::config::publish_list::format_entry;
use crate::config::{reg, Config, Domain, KmsHost};

/// What a generated file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Zone-file records, for `$INCLUDE` in the zone's file
    Zone,
    /// A `named.conf` zone stanza with a narrow update-policy
    NamedConf,
    /// An `nsupdate` script applying the same records
    Nsupdate,
    /// The `DnsDomainPublishList` `.reg` file of a KMS host
    Reg,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedFile {
    pub kind: Kind,
    /// The zone (or host, for `.reg` files) it is about.
    pub about: String,
    /// File name inside the output directory.
    pub file_name: String,
    pub content: String,
}

/// Choices that are not in the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory named reads zone files from (`file` in the stanza).
    pub zone_dir: PathBuf,
}

/// A zone as `bind` sees it: a publish-list domain that has no other
/// publish-list domain above it, with the domains below it folded in.
struct Zone<'a> {
    name: &'a Name,
    domains: Vec<&'a Domain>,
}

/// Groups domains into zones: a domain below another publish-list domain
/// is taken to live in that domain's zone (e.g. `branch.corp.example` in
/// `corp.example`).
fn zones(config: &Config) -> Vec<Zone<'_>> {
    let mut zones: Vec<Zone<'_>> = Vec::new();
    for domain in &config.domains {
        let apex = config
            .domains
            .iter()
            .filter(|other| other.name.zone_of(&domain.name))
            .min_by_key(|other| other.name.num_labels())
            .map_or(&domain.name, |d| &d.name);
        match zones.iter_mut().find(|z| z.name == apex) {
            Some(zone) => zone.domains.push(domain),
            None => zones.push(Zone {
                name: apex,
                domains: vec![domain],
            }),
        }
    }
    zones
}

/// Zone names without the final dot, as named.conf writes them.
fn bare(name: &Name) -> String {
    let text = name.to_ascii();
    text.strip_suffix('.').unwrap_or(&text).to_string()
}

/// Hosts that live inside `zone` and have addresses to publish there.
fn hosts_inside<'a>(config: &'a Config, zone: &Name) -> Vec<&'a KmsHost> {
    config
        .hosts
        .iter()
        .filter(|h| zone.zone_of(&h.name) && !h.addresses.is_empty())
        .collect()
}

fn address_type(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "A",
        IpAddr::V6(_) => "AAAA",
    }
}

/// Every file for the configuration, in a stable order.
pub fn generate(config: &Config, options: &Options) -> Vec<GeneratedFile> {
    let mut files = Vec::new();
    for zone in zones(config) {
        files.push(zone_file(config, &zone));
        files.push(named_conf(config, &zone, options));
        files.push(nsupdate(config, &zone));
    }
    for host in &config.hosts {
        files.push(reg_file(host));
    }
    files
}

fn zone_file(config: &Config, zone: &Zone<'_>) -> GeneratedFile {
    let mut out = format!(
        "; kmsdns: KMS records for zone {zone}\n\
         ; Add to the zone's file with: $INCLUDE \"{bare}.kmsdns.db\"\n",
        zone = zone.name.to_ascii(),
        bare = bare(zone.name),
    );
    for domain in &zone.domains {
        for record in &domain.records {
            out.push_str(&format!(
                "{} {} IN SRV {} {} {} {}\n",
                domain.srv_name().to_ascii(),
                domain.ttl,
                record.priority,
                record.weight,
                record.port,
                record.target.to_ascii()
            ));
        }
    }
    let ttl = zone
        .domains
        .first()
        .map_or(crate::config::DEFAULT_TTL, |d| d.ttl);
    for host in hosts_inside(config, zone.name) {
        for ip in &host.addresses {
            out.push_str(&format!(
                "{} {ttl} IN {} {ip}\n",
                host.name.to_ascii(),
                address_type(ip)
            ));
        }
    }
    GeneratedFile {
        kind: Kind::Zone,
        about: zone.name.to_ascii(),
        file_name: format!("{}.kmsdns.db", bare(zone.name)),
        content: out,
    }
}

/// The key (if any) used for a zone: that of its apex domain.
fn zone_key<'a>(zone: &Zone<'a>) -> Option<&'a crate::config::key::TsigKey> {
    zone.domains.iter().find_map(|d| d.key.as_ref())
}

fn named_conf(config: &Config, zone: &Zone<'_>, options: &Options) -> GeneratedFile {
    let name = bare(zone.name);
    let mut out = format!("// kmsdns: zone stanza for {}\n", zone.name.to_ascii());
    let zone_file = options.zone_dir.join(format!("{name}.db"));
    match zone_key(zone) {
        Some(key) => {
            out.push_str(&format!(
                "// Dynamic updates are granted only to the TSIG key \"{key}\", and only\n\
                 // for the KMS records. Never use allow-update {{ any; }}: anyone who can\n\
                 // reach this server could then send every KMS client to a rogue host.\n",
                key = bare(&key.name)
            ));
            if let KeyOrigin::File(path) = &key.origin {
                out.push_str(&format!(
                    "// The key statement is in {} (included once by kmsdns.named.conf).\n",
                    absolute(path).display()
                ));
            }
            out.push_str(&format!(
                "zone \"{name}\" {{\n\ttype primary;\n\tfile \"{}\";\n\tupdate-policy {{\n",
                zone_file.display()
            ));
            for domain in &zone.domains {
                out.push_str(&format!(
                    "\t\tgrant {} name {} SRV;\n",
                    key.name.to_ascii(),
                    domain.srv_name().to_ascii()
                ));
            }
            for host in hosts_inside(config, zone.name) {
                let types: BTreeSet<&str> = host.addresses.iter().map(address_type).collect();
                out.push_str(&format!(
                    "\t\tgrant {} name {} {};\n",
                    key.name.to_ascii(),
                    host.name.to_ascii(),
                    types.into_iter().collect::<Vec<_>>().join(" ")
                ));
            }
            out.push_str("\t};\n};\n");
        }
        None => {
            out.push_str(
                "// No TSIG key is configured for this zone, so dynamic updates stay off\n\
                 // and the records are maintained in the zone file. Add a [tsig-key] to the\n\
                 // configuration to let kmsdns publish. Never use allow-update { any; }:\n\
                 // anyone who can reach this server could then send every KMS client to a\n\
                 // rogue host.\n",
            );
            out.push_str(&format!(
                "zone \"{name}\" {{\n\ttype primary;\n\tfile \"{}\";\n}};\n",
                zone_file.display()
            ));
        }
    }
    GeneratedFile {
        kind: Kind::NamedConf,
        about: zone.name.to_ascii(),
        file_name: format!("{name}.named.conf"),
        content: out,
    }
}

fn nsupdate(config: &Config, zone: &Zone<'_>) -> GeneratedFile {
    let name = bare(zone.name);
    let mut out = format!(
        "; kmsdns: nsupdate script for zone {}\n",
        zone.name.to_ascii()
    );
    match zone_key(zone).map(|k| &k.origin) {
        Some(KeyOrigin::File(path)) => out.push_str(&format!(
            "; Apply with: nsupdate -k {} {name}.nsupdate\n",
            absolute(path).display()
        )),
        Some(KeyOrigin::Env(var)) => out.push_str(&format!(
            "; Apply with: nsupdate -k <BIND key file holding the key of ${var}> {name}.nsupdate\n"
        )),
        None => out.push_str(&format!("; Apply with: nsupdate {name}.nsupdate\n")),
    }
    if let Some(server) = zone.domains.iter().find_map(|d| d.server.as_ref()) {
        match server {
            crate::config::ServerSpec::Addr { ip, port } => {
                out.push_str(&format!("server {ip} {}\n", port.unwrap_or(53)))
            }
            crate::config::ServerSpec::Name(host) => {
                out.push_str(&format!("server {}\n", host.to_ascii()))
            }
        }
    }
    out.push_str(&format!("zone {}\n", zone.name.to_ascii()));
    for domain in &zone.domains {
        for record in &domain.records {
            out.push_str(&format!(
                "update add {} {} IN SRV {} {} {} {}\n",
                domain.srv_name().to_ascii(),
                domain.ttl,
                record.priority,
                record.weight,
                record.port,
                record.target.to_ascii()
            ));
        }
    }
    let ttl = zone
        .domains
        .first()
        .map_or(crate::config::DEFAULT_TTL, |d| d.ttl);
    for host in hosts_inside(config, zone.name) {
        for ip in &host.addresses {
            out.push_str(&format!(
                "update add {} {ttl} IN {} {ip}\n",
                host.name.to_ascii(),
                address_type(ip)
            ));
        }
    }
    out.push_str("send\n");
    GeneratedFile {
        kind: Kind::Nsupdate,
        about: zone.name.to_ascii(),
        file_name: format!("{name}.nsupdate"),
        content: out,
    }
}

fn reg_file(host: &KmsHost) -> GeneratedFile {
    let entries: Vec<String> = host
        .publish_list
        .entries()
        .iter()
        .map(format_entry)
        .collect();
    GeneratedFile {
        kind: Kind::Reg,
        about: host.name.to_ascii(),
        file_name: format!("{}.reg", bare(&host.name)),
        content: reg::write_reg_file(&entries),
    }
}

/// `kmsdns.named.conf`: includes every key file once, then every zone
/// stanza from `dir`, so one `include` in named.conf takes it all.
pub fn named_conf_index(config: &Config, files: &[GeneratedFile], dir: &Path) -> GeneratedFile {
    let mut out = String::from("// kmsdns: include this file from named.conf\n");
    let mut seen = BTreeSet::new();
    for domain in &config.domains {
        if let Some(key) = &domain.key {
            match &key.origin {
                KeyOrigin::File(path) => {
                    if seen.insert(path.clone()) {
                        out.push_str(&format!("include \"{}\";\n", absolute(path).display()));
                    }
                }
                KeyOrigin::Env(var) => {
                    if seen.insert(PathBuf::from(var)) {
                        out.push_str(&format!(
                            "// key {} comes from ${var}: define it in named.conf (tsig-keygen output)\n",
                            bare(&key.name)
                        ));
                    }
                }
            }
        }
    }
    for file in files.iter().filter(|f| f.kind == Kind::NamedConf) {
        out.push_str(&format!(
            "include \"{}\";\n",
            absolute(&dir.join(&file.file_name)).display()
        ));
    }
    GeneratedFile {
        kind: Kind::NamedConf,
        about: "all zones".into(),
        file_name: "kmsdns.named.conf".into(),
        content: out,
    }
}

/// named resolves relative includes against its own directory, so paths
/// written into named.conf material are made absolute.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}
