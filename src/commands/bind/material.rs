//! BIND material generated from the configuration: zone-file records, a
//! `named.conf` zone stanza with a narrow `update-policy`, an `nsupdate`
//! script, and the `DnsDomainPublishList` `.reg` file for each KMS host.
//!
//! Pure: returns file contents; the `bind` command decides where they go.
//! Secrets never appear here: keys are `include`d by the path of their
//! BIND key file, and nsupdate is told to read the same file with `-k`.
//!
//! Zones whose domains use `auth = "gss-tsig"` get GSS-TSIG material
//! instead: an `update-policy` grant to the Kerberos principal (quoted)
//! on the `_vlmcs._tcp` SRV names, and a `tkey-gssapi-keytab` line for
//! named's `options` block in its own file, [`GSS_OPTIONS_FILE`].

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::rr::Name;
use serde::Serialize;

use crate::config::gss::GssAuth;
use crate::config::key::KeyOrigin;
use crate::config::publish_list::format_entry;
use crate::config::{reg, Config, Domain, KmsHost};
use crate::named_conf::grant_line::name_grant;

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

/// Choices that are not in the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory named reads zone files from (`file` in the stanza).
    pub zone_dir: PathBuf,
    /// The `dnssec-policy` to sign every zone with, if any.
    pub dnssec_policy: Option<String>,
}

/// A zone as `bind` sees it: a declared zone (`zone =`) or a publish-list
/// domain that has no other publish-list domain above it, with the domains
/// it holds folded in, and the KMS hosts whose addresses it holds.
struct Zone<'a> {
    name: &'a Name,
    domains: Vec<&'a Domain>,
    hosts: Vec<&'a KmsHost>,
}

/// Groups domains into zones. A domain's zone is its `zone =`; else the
/// closest zone some domain declares above it (a delegated `branch.corp.
/// example` holds `x.branch.corp.example` too); else its highest ancestor
/// in the publish list (`branch.corp.example` in `corp.example`), or
/// itself. A KMS host's addresses go into the closest of these zones that
/// holds its name: an UPDATE of a name below a zone cut, sent to the
/// parent zone, is refused.
fn zones(config: &Config) -> Vec<Zone<'_>> {
    // Walking up a domain's labels is linear in the list's size, where
    // comparing every pair of domains was quadratic.
    let listed: HashMap<&Name, &Name> = config.domains.iter().map(|d| (&d.name, &d.name)).collect();
    let declared: HashMap<&Name, &Name> = config
        .domains
        .iter()
        .filter_map(|d| d.zone.as_deref())
        .map(|zone| (zone, zone))
        .collect();
    let mut zones: Vec<Zone<'_>> = Vec::new();
    let mut index: HashMap<&Name, usize> = HashMap::new();
    for domain in &config.domains {
        let apex = match domain.zone.as_deref() {
            Some(zone) => zone,
            None => apex(&domain.name, &listed, &declared),
        };
        match index.get(apex) {
            Some(&at) => zones[at].domains.push(domain),
            None => {
                index.insert(apex, zones.len());
                zones.push(Zone {
                    name: apex,
                    domains: vec![domain],
                    hosts: Vec::new(),
                })
            }
        }
    }
    for host in config
        .hosts
        .iter()
        .filter(|h| h.managed && !h.addresses.is_empty())
    {
        let closest = zones
            .iter_mut()
            .filter(|zone| zone.name.zone_of(&host.name))
            .max_by_key(|zone| zone.name.num_labels());
        if let Some(zone) = closest {
            zone.hosts.push(host);
        }
    }
    zones
}

/// The zone of a domain without `zone =`: the closest declared zone above
/// it, else its highest ancestor in the publish list, else itself.
fn apex<'a>(
    name: &'a Name,
    listed: &HashMap<&Name, &'a Name>,
    declared: &HashMap<&Name, &'a Name>,
) -> &'a Name {
    let mut apex = name;
    let mut ancestor = name.clone();
    loop {
        if let Some(zone) = declared.get(&ancestor) {
            return zone;
        }
        if let Some(listed) = listed.get(&ancestor) {
            apex = listed;
        }
        if ancestor.num_labels() == 0 {
            return apex;
        }
        ancestor = ancestor.base_name();
    }
}

/// Zone names without the final dot, as named.conf writes them.
fn bare(name: &Name) -> String {
    let text = name.to_ascii();
    text.strip_suffix('.').unwrap_or(&text).to_string()
}

fn address_type(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "A",
        IpAddr::V6(_) => "AAAA",
    }
}

/// The material of a configuration (or only files of one kind), made file
/// by file each time it is written: printed, in a JSON document or into
/// files, the material of thousands of zones (tens of MB at 10,000) is
/// never held at once, and files of a kind not wanted are not made.
#[derive(Debug, Clone)]
pub struct Made {
    pub config: Arc<Config>,
    pub options: Options,
    pub only: Option<Kind>,
}

impl Made {
    /// Whether files of `kind` are wanted.
    pub fn wants(&self, kind: Kind) -> bool {
        self.only.is_none_or(|only| only == kind)
    }

    /// Hands each wanted file to `emit`, in [`Material::files`]' order;
    /// stops at the first error of `emit`.
    pub fn each<E>(&self, mut emit: impl FnMut(File<'_>) -> Result<(), E>) -> Result<(), E> {
        let material = Material::new(&self.config, &self.options);
        for file in material.files().filter(|f| self.wants(f.kind())) {
            emit(file)?;
        }
        Ok(())
    }

    /// Writes every wanted file's content, a blank line between two.
    pub fn print(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut first = true;
        self.each(|file| {
            if !first {
                out.write_all(b"\n")?;
            }
            first = false;
            file.write(out)
        })
    }

    /// Writes [`INDEX_FILE`], which includes every key file once, then the
    /// zone stanza of every zone from `dir`, so that one `include` in
    /// named.conf takes it all.
    pub fn write_index(&self, dir: &Path, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "// kmsdns: include this file from named.conf")?;
        let mut seen = BTreeSet::new();
        for key in self.config.domains.iter().filter_map(|d| d.key.as_deref()) {
            match &key.origin {
                KeyOrigin::File(path) => {
                    if seen.insert(path.clone()) {
                        writeln!(out, "include \"{}\";", absolute(path).display())?;
                    }
                }
                KeyOrigin::Env(var) => {
                    if seen.insert(PathBuf::from(var)) {
                        writeln!(
                            out,
                            "// key {} comes from ${var}: define it in named.conf (tsig-keygen output)",
                            bare(&key.name)
                        )?;
                    }
                }
            }
        }
        let dir = absolute(dir);
        let material = Material::new(&self.config, &self.options);
        if material.gss() {
            write!(
                out,
                "// GSS-TSIG zones: named needs tkey-gssapi-keytab in its options block, so\n\
                 // {GSS_OPTIONS_FILE} is not included here: inside options {{ ... }} add\n\
                 // include \"{}\";\n",
                dir.join(GSS_OPTIONS_FILE).display()
            )?;
        }
        for zone in &material.zones {
            let stanza = File {
                part: Part::Stanza(zone),
                options: material.options,
            };
            writeln!(out, "include \"{}\";", dir.join(stanza.name()).display())?;
        }
        Ok(())
    }
}

/// File name of the index of the zone stanzas written with `--out`.
pub const INDEX_FILE: &str = "kmsdns.named.conf";

/// The zones of a configuration, found once, and the files made of them.
struct Material<'a> {
    config: &'a Config,
    options: &'a Options,
    zones: Vec<Zone<'a>>,
}

impl<'a> Material<'a> {
    fn new(config: &'a Config, options: &'a Options) -> Self {
        Material {
            config,
            options,
            zones: zones(config),
        }
    }

    /// Whether a zone's updates are signed with GSS-TSIG, for which named
    /// needs the options snippet.
    fn gss(&self) -> bool {
        self.zones
            .iter()
            .any(|z| zone_key(z).is_none() && zone_gss(z).is_some())
    }

    /// Every file, in a stable order: the GSS-TSIG options snippet if a
    /// zone needs it, each zone's records, stanza and nsupdate script,
    /// then each KMS host's `.reg` file.
    fn files(&self) -> impl Iterator<Item = File<'_>> {
        let options = self.gss().then_some(Part::GssOptions);
        let zones = self
            .zones
            .iter()
            .flat_map(|zone| [Part::Records(zone), Part::Stanza(zone), Part::Script(zone)]);
        // A host of another team (`managed = false`) publishes its own list.
        let hosts = self
            .config
            .hosts
            .iter()
            .filter(|h| h.managed)
            .map(Part::Reg);
        options
            .into_iter()
            .chain(zones)
            .chain(hosts)
            .map(|part| File {
                part,
                options: self.options,
            })
    }
}

/// One file of the material: named at once, made when its content is
/// asked for.
pub struct File<'m> {
    part: Part<'m>,
    options: &'m Options,
}

/// What a file is made of.
#[derive(Clone, Copy)]
enum Part<'m> {
    GssOptions,
    Records(&'m Zone<'m>),
    Stanza(&'m Zone<'m>),
    Script(&'m Zone<'m>),
    Reg(&'m KmsHost),
}

impl File<'_> {
    pub fn kind(&self) -> Kind {
        match self.part {
            Part::GssOptions | Part::Stanza(_) => Kind::NamedConf,
            Part::Records(_) => Kind::Zone,
            Part::Script(_) => Kind::Nsupdate,
            Part::Reg(_) => Kind::Reg,
        }
    }

    /// The zone (or host, for `.reg` files) it is about.
    pub fn about(&self) -> String {
        match self.part {
            Part::GssOptions => "options".into(),
            Part::Records(zone) | Part::Stanza(zone) | Part::Script(zone) => zone.name.to_ascii(),
            Part::Reg(host) => host.name.to_ascii(),
        }
    }

    /// File name inside the output directory.
    pub fn name(&self) -> String {
        match self.part {
            Part::GssOptions => GSS_OPTIONS_FILE.into(),
            Part::Records(zone) => format!("{}.kmsdns.db", bare(zone.name)),
            Part::Stanza(zone) => format!("{}.named.conf", bare(zone.name)),
            Part::Script(zone) => format!("{}.nsupdate", bare(zone.name)),
            Part::Reg(host) => format!("{}.reg", bare(&host.name)),
        }
    }

    /// Writes the content to `out` ([`fmt::Display`]): a file made whole
    /// in one write, a `.reg` file, made in pieces, through a buffer.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        if !matches!(self.part, Part::Reg(_)) {
            return write!(out, "{self}");
        }
        let mut out = BufWriter::new(out);
        write!(out, "{self}")?;
        out.flush()
    }
}

/// The content, written piece by piece: a `.reg` file (13 MB of text at
/// 100,000 domains) is never whole in memory, printed, written into a
/// file or into a JSON string.
impl fmt::Display for File<'_> {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self.part {
            Part::GssOptions => gss_options(),
            Part::Records(zone) => zone_file(zone),
            Part::Stanza(zone) => named_conf(zone, self.options),
            Part::Script(zone) => nsupdate(zone),
            Part::Reg(host) => return write_reg_file(host, out),
        };
        out.write_str(&text)
    }
}

fn zone_file(zone: &Zone<'_>) -> String {
    let mut out = format!(
        "; kmsdns: KMS records for zone {zone}\n\
         ; Add to the zone's file with: $INCLUDE \"{bare}.kmsdns.db\"\n",
        zone = zone.name.to_ascii(),
        bare = bare(zone.name),
    );
    push_srv_records(zone, "", &mut out);
    push_address_lines(zone, &mut out);
    out
}

/// The SRV records of each domain of the zone, one presentation-format
/// line each after `prefix`: the zone file writes them bare, the nsupdate
/// script after `update add ` (whose syntax is a zone-file line,
/// nsupdate(1)).
fn push_srv_records(zone: &Zone<'_>, prefix: &str, out: &mut String) {
    for domain in &zone.domains {
        let owner = domain.srv_name();
        for record in domain.records.iter() {
            out.push_str(&format!(
                "{prefix}{}\n",
                record.presentation(&owner, domain.ttl)
            ));
        }
    }
}

/// The A/AAAA lines of the KMS hosts inside the zone, for the zone file:
/// at the host's `address-ttl`, else without a TTL (the zone's `$TTL`).
fn push_address_lines(zone: &Zone<'_>, out: &mut String) {
    for host in &zone.hosts {
        let ttl = host
            .address_ttl
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        for ip in &host.addresses {
            out.push_str(&format!(
                "{}{ttl} IN {} {ip}\n",
                host.name.to_ascii(),
                address_type(ip)
            ));
        }
    }
}

/// The A/AAAA updates of the KMS hosts inside the zone, for nsupdate. An
/// UPDATE that adds a record at another TTL than its RRset's rewrites the
/// whole RRset's TTL (RFC 2136 §3.4.2.2), so only hosts with an
/// `address-ttl` are added; the others are named in a comment.
fn push_address_updates(zone: &Zone<'_>, out: &mut String) {
    for host in &zone.hosts {
        let name = host.name.to_ascii();
        match host.address_ttl {
            Some(ttl) => {
                for ip in &host.addresses {
                    out.push_str(&format!(
                        "update add {name} {ttl} IN {} {ip}\n",
                        address_type(ip)
                    ));
                }
            }
            None => out.push_str(&format!(
                "; {name} has addresses but no address-ttl: they are left out, so that the\n\
                 ; TTL of an A/AAAA RRset already there is not rewritten. Set address-ttl\n\
                 ; for the host to have them added.\n"
            )),
        }
    }
}

/// The key (if any) used for a zone: that of its apex domain.
fn zone_key<'a>(zone: &Zone<'a>) -> Option<&'a crate::config::key::TsigKey> {
    zone.domains.iter().find_map(|d| d.key.as_deref())
}

/// The GSS-TSIG options (if any) of a zone: those of its first domain
/// with `auth = "gss-tsig"`. A TSIG key in the zone takes precedence.
fn zone_gss<'a>(zone: &Zone<'a>) -> Option<&'a GssAuth> {
    zone.domains.iter().find_map(|d| d.gss.as_deref())
}

/// File name of the `options` snippet for GSS-TSIG zones.
pub const GSS_OPTIONS_FILE: &str = "kmsdns.gss-options.conf";

/// Where named reads its own keytab (`DNS/<server host>@REALM`) from:
/// Debian's conventional place, to adapt.
pub const SERVER_KEYTAB: &str = "/etc/bind/dns.keytab";

/// The `tkey-gssapi-keytab` line GSS-TSIG needs. It belongs inside named's
/// one `options` block, so it is a separate snippet (BIND accepts
/// `include` inside `options`), never included by kmsdns.named.conf.
fn gss_options() -> String {
    format!(
        "// kmsdns: GSS-TSIG (Kerberos) for named's options block, NOT the top level:\n\
         // copy the line below into options {{ ... }}, or include this file there.\n\
         // The keytab holds DNS/<this server's host name>@REALM and is readable by named.\n\
         tkey-gssapi-keytab \"{SERVER_KEYTAB}\";\n"
    )
}

/// The realm of a principal (`host/kms1.corp.example@CORP.EXAMPLE`).
fn realm_of(principal: &str) -> Option<&str> {
    principal
        .rsplit_once('@')
        .map(|(_, realm)| realm)
        .filter(|realm| !realm.is_empty())
}

/// The realm assumed for a zone when none is configured: the zone name in
/// capitals, as Active Directory names its realm after its DNS domain.
fn assumed_realm(zone: &Name) -> String {
    bare(zone).to_ascii_uppercase()
}

/// The zone stanza of a GSS-TSIG zone.
fn gss_stanza(zone: &Zone<'_>, gss: &GssAuth, zone_file: &Path, out: &mut String) {
    let name = bare(zone.name);
    out.push_str(
        "// Dynamic updates are signed with GSS-TSIG (Kerberos, RFC 3645). named needs\n\
         // tkey-gssapi-keytab in its options block: see kmsdns.gss-options.conf.\n",
    );
    let grants = match &gss.principal {
        Some(principal) => {
            let signer = match realm_of(principal) {
                Some(_) => principal.clone(),
                None => {
                    let realm = assumed_realm(zone.name);
                    out.push_str(&format!(
                        "// The principal has no realm; {realm} is assumed (as named sees the\n\
                         // signer as principal@REALM): change it if the realm differs.\n"
                    ));
                    format!("{principal}@{realm}")
                }
            };
            let signer = format!("\"{}\"", signer.replace('\\', "\\\\").replace('"', "\\\""));
            out.push_str(&format!(
                "// Updates are granted only to the principal {signer}, and only for the\n\
                 // KMS records. Never use allow-update {{ any; }}: anyone who can reach this\n\
                 // server could then send every KMS client to a rogue host.\n"
            ));
            name_grants(zone, &signer)
        }
        None => {
            let realm = assumed_realm(zone.name);
            out.push_str(&format!(
                "// No principal is configured, so the grant names the realm: krb5-subdomain\n\
                 // lets EVERY principal of {realm} change the SRV records at and below the\n\
                 // names below, which is wider than one KMS host's identity. To narrow it, set\n\
                 // principal = \"host/<kms host>@{realm}\" (or \"<HOST>$@{realm}\") for the\n\
                 // domain and run kmsdns bind again: the grant is then `name` for that\n\
                 // principal only. {realm} is the zone name in capitals (Active Directory's\n\
                 // convention): change it if the realm differs. Never widen the name to the\n\
                 // zone ({name}.), which would cover every SRV record of the zone, nor use\n\
                 // allow-update {{ any; }}.\n"
            ));
            zone.domains
                .iter()
                .map(|domain| {
                    format!(
                        "grant {realm} krb5-subdomain {} SRV;",
                        domain.srv_name().to_ascii()
                    )
                })
                .collect()
        }
    };
    push_policy_stanza(&name, zone_file, &grants, out);
}

/// One `grant <identity> name <owner> <types>;` rule per name kmsdns
/// writes in the zone: each domain's SRV owner, then each KMS host inside
/// the zone with the address types it has. `name` matches the owner
/// exactly (BIND ARM, update-policy), so the identity can change nothing
/// else.
fn name_grants(zone: &Zone<'_>, identity: &str) -> Vec<String> {
    let mut grants: Vec<String> = zone
        .domains
        .iter()
        .map(|domain| name_grant(identity, &domain.srv_name().to_ascii(), &["SRV"]))
        .collect();
    for host in &zone.hosts {
        let types: BTreeSet<&str> = host.addresses.iter().map(address_type).collect();
        let types: Vec<&str> = types.into_iter().collect();
        grants.push(name_grant(identity, &host.name.to_ascii(), &types));
    }
    grants
}

/// A primary zone stanza whose `update-policy` holds `grants`.
fn push_policy_stanza(name: &str, zone_file: &Path, grants: &[String], out: &mut String) {
    out.push_str(&format!(
        "zone \"{name}\" {{\n\ttype primary;\n\tfile \"{}\";\n\tupdate-policy {{\n",
        zone_file.display()
    ));
    for grant in grants {
        out.push_str(&format!("\t\t{grant}\n"));
    }
    out.push_str("\t};\n};\n");
}

fn named_conf(zone: &Zone<'_>, options: &Options) -> String {
    let name = bare(zone.name);
    let mut out = format!("// kmsdns: zone stanza for {}\n", zone.name.to_ascii());
    let zone_file = options.zone_dir.join(format!("{name}.db"));
    match zone_key(zone) {
        None if zone_gss(zone).is_some() => {
            if let Some(gss) = zone_gss(zone) {
                gss_stanza(zone, gss, &zone_file, &mut out);
            }
        }
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
            let grants = name_grants(zone, &key.name.to_ascii());
            push_policy_stanza(&name, &zone_file, &grants, &mut out);
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
    if let Some(policy) = &options.dnssec_policy {
        sign_with(policy, &mut out);
    }
    out
}

/// Adds to the zone stanza that ends `out` the lines that make named sign
/// the zone, and re-sign it after every dynamic update.
fn sign_with(policy: &str, out: &mut String) {
    let Some(end) = out.rfind("};\n") else {
        return;
    };
    let lines = format!(
        "\t// Signed zone (DNSSEC): named keeps the keys and signs by the policy\n\
         \t// \"{policy}\", and re-signs every dynamic update, so the KMS records\n\
         \t// kmsdns publishes are signed at once. inline-signing keeps the zone\n\
         \t// file as written (signed copy in a .signed file); without it a dynamic\n\
         \t// zone is signed in place. Secondaries transfer the signed zone.\n\
         \tdnssec-policy \"{policy}\";\n\
         \tinline-signing yes;\n"
    );
    out.insert_str(end, &lines);
}

fn nsupdate(zone: &Zone<'_>) -> String {
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
        None => match zone_gss(zone) {
            Some(gss) => out.push_str(&format!(
                "; Apply with GSS-TSIG (a Kerberos ticket of {}, e.g. from kinit -k): nsupdate -g {name}.nsupdate\n",
                gss.principal_text()
            )),
            None => out.push_str(&format!("; Apply with: nsupdate {name}.nsupdate\n")),
        },
    }
    if let Some(server) = zone.domains.iter().find_map(|d| d.server.as_ref()) {
        match &**server {
            crate::config::ServerSpec::Addr { ip, port } => {
                out.push_str(&format!("server {ip} {}\n", port.unwrap_or(53)))
            }
            crate::config::ServerSpec::Name(host) => {
                out.push_str(&format!("server {}\n", host.to_ascii()))
            }
        }
    }
    out.push_str(&format!("zone {}\n", zone.name.to_ascii()));
    push_srv_records(zone, "update add ", &mut out);
    push_address_updates(zone, &mut out);
    out.push_str("send\n");
    out
}

fn write_reg_file(host: &KmsHost, out: &mut dyn fmt::Write) -> fmt::Result {
    reg::write_reg_file(host.publish_list.entries().iter().map(format_entry), out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::gss::GssMechanism;

    /// A configuration with corp.example (and branch.corp.example in its
    /// zone) and other.example, both made GSS-TSIG domains by hand, so the
    /// test runs with and without the `gssapi` feature.
    fn gss_config(principal: Option<&str>) -> Config {
        let text =
            "publish-list = [\"corp.example\", \"branch.corp.example\", \"other.example\"]\n\
                    [[host]]\nname = \"kms1.corp.example\"\naddresses = [\"192.0.2.10\"]\n";
        let mut config = crate::config::parse(text, Path::new("kmsdns.toml")).unwrap();
        for domain in &mut config.domains {
            domain.key = None;
            domain.gss = Some(Box::new(GssAuth {
                principal: principal.map(str::to_owned),
                keytab: None,
                service_host: None,
                mechanism: GssMechanism::Spnego,
            }));
        }
        config
    }

    #[test]
    fn a_policy_signs_the_zone_inline() {
        let mut options = options();
        options.dnssec_policy = Some("default".to_owned());
        let files = generate(
            &gss_config(Some("host/kms1.corp.example@CORP.EXAMPLE")),
            &options,
        );
        let stanza = file(&files, "corp.example.named.conf");
        assert!(
            stanza.ends_with("\tdnssec-policy \"default\";\n\tinline-signing yes;\n};\n"),
            "{stanza}"
        );
        let unsigned = generate(&gss_config(None), &self::options());
        assert!(!file(&unsigned, "corp.example.named.conf").contains("dnssec-policy"));
    }

    fn options() -> Options {
        Options {
            zone_dir: PathBuf::from("/var/lib/bind"),
            dnssec_policy: None,
        }
    }

    /// A file made, as the tests read it.
    #[derive(Debug)]
    struct Generated {
        kind: Kind,
        file_name: String,
        content: String,
    }

    /// Every file of the configuration, made at once.
    fn generate(config: &Config, options: &Options) -> Vec<Generated> {
        Material::new(config, options)
            .files()
            .map(|file| Generated {
                kind: file.kind(),
                file_name: file.name(),
                content: file.to_string(),
            })
            .collect()
    }

    fn file<'a>(files: &'a [Generated], name: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.file_name == name)
            .unwrap_or_else(|| panic!("no {name} in {files:#?}"))
            .content
    }

    #[test]
    fn gss_tsig_with_a_principal_grants_that_principal_the_srv_names() {
        let config = gss_config(Some("host/kms1.corp.example@CORP.EXAMPLE"));
        let files = generate(&config, &options());
        assert_eq!(
            file(&files, GSS_OPTIONS_FILE),
            "// kmsdns: GSS-TSIG (Kerberos) for named's options block, NOT the top level:\n\
             // copy the line below into options { ... }, or include this file there.\n\
             // The keytab holds DNS/<this server's host name>@REALM and is readable by named.\n\
             tkey-gssapi-keytab \"/etc/bind/dns.keytab\";\n"
        );
        let stanza = file(&files, "corp.example.named.conf");
        let policy = "zone \"corp.example\" {\n\ttype primary;\n\tfile \"/var/lib/bind/corp.example.db\";\n\
             \tupdate-policy {\n\
             \t\tgrant \"host/kms1.corp.example@CORP.EXAMPLE\" name _vlmcs._tcp.corp.example. SRV;\n\
             \t\tgrant \"host/kms1.corp.example@CORP.EXAMPLE\" name _vlmcs._tcp.branch.corp.example. SRV;\n\
             \t\tgrant \"host/kms1.corp.example@CORP.EXAMPLE\" name kms1.corp.example. A;\n\
             \t};\n};\n";
        assert!(stanza.ends_with(policy), "{stanza}");
        assert!(stanza.contains("tkey-gssapi-keytab"), "{stanza}");
        assert!(!stanza.contains("krb5-subdomain"), "{stanza}");
        let other = file(&files, "other.example.named.conf");
        assert!(
            other.contains(
                "\t\tgrant \"host/kms1.corp.example@CORP.EXAMPLE\" name _vlmcs._tcp.other.example. SRV;\n"
            ),
            "{other}"
        );
        let script = file(&files, "corp.example.nsupdate");
        assert!(
            script.contains("nsupdate -g corp.example.nsupdate"),
            "{script}"
        );

        // The options snippet is not included at the top level.
        let made = Made {
            config: Arc::new(config),
            options: options(),
            only: None,
        };
        let mut index = Vec::new();
        made.write_index(Path::new("/tmp/out"), &mut index).unwrap();
        let index = String::from_utf8(index).unwrap();
        assert!(
            index.contains("// include \"/tmp/out/kmsdns.gss-options.conf\";\n"),
            "{index}"
        );
        assert!(
            !index
                .lines()
                .any(|l| l.starts_with("include") && l.contains(GSS_OPTIONS_FILE)),
            "{index}"
        );
        assert!(index.contains("include \"/tmp/out/corp.example.named.conf\";\n"));
    }

    #[test]
    fn gss_tsig_principal_without_a_realm_gets_the_zone_realm() {
        let files = generate(&gss_config(Some("KMS1$")), &options());
        let stanza = file(&files, "corp.example.named.conf");
        assert!(
            stanza
                .contains("\t\tgrant \"KMS1$@CORP.EXAMPLE\" name _vlmcs._tcp.corp.example. SRV;\n"),
            "{stanza}"
        );
        assert!(stanza.contains("CORP.EXAMPLE is assumed"), "{stanza}");
    }

    #[test]
    fn gss_tsig_without_a_principal_grants_the_realm_and_says_so() {
        let files = generate(&gss_config(None), &options());
        let stanza = file(&files, "corp.example.named.conf");
        assert!(
            stanza.contains(
                "\tupdate-policy {\n\
                 \t\tgrant CORP.EXAMPLE krb5-subdomain _vlmcs._tcp.corp.example. SRV;\n\
                 \t\tgrant CORP.EXAMPLE krb5-subdomain _vlmcs._tcp.branch.corp.example. SRV;\n\
                 \t};\n"
            ),
            "{stanza}"
        );
        assert!(
            stanza.contains("EVERY principal of CORP.EXAMPLE"),
            "{stanza}"
        );
        assert!(stanza.contains("To narrow it, set"), "{stanza}");
        assert!(
            file(&files, "other.example.named.conf")
                .contains("grant OTHER.EXAMPLE krb5-subdomain _vlmcs._tcp.other.example. SRV;"),
            "{files:#?}"
        );
    }

    #[test]
    fn tsig_zones_get_no_gss_material() {
        let text = "publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n";
        let config = crate::config::parse(text, Path::new("kmsdns.toml")).unwrap();
        let files = generate(&config, &options());
        assert!(files.iter().all(|f| f.file_name != GSS_OPTIONS_FILE));
        assert!(files
            .iter()
            .all(|f| !f.content.contains("gss") && !f.content.contains("krb5")));
    }

    /// Made file by file, the material reads as the files generated at once,
    /// joined by a blank line, for every kind and for all of them.
    #[test]
    fn made_material_prints_what_generate_makes() {
        let config = Arc::new(gss_config(Some("KMS1$")));
        let files = generate(&config, &options());
        let kinds = [Kind::Zone, Kind::NamedConf, Kind::Nsupdate, Kind::Reg];
        for only in std::iter::once(None).chain(kinds.map(Some)) {
            let made = Made {
                config: Arc::clone(&config),
                options: options(),
                only,
            };
            let mut printed = Vec::new();
            made.print(&mut printed).unwrap();
            let expected: Vec<&str> = files
                .iter()
                .filter(|f| only.is_none_or(|kind| f.kind == kind))
                .map(|f| f.content.as_str())
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(String::from_utf8(printed).unwrap(), expected.join("\n"));
        }
    }
}
