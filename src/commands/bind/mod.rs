//! `kmsdns bind`: BIND material from the configuration.

pub mod details;
pub mod material;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use hickory_proto::rr::Name;

use crate::config::{self, reg, Config, DEFAULT_TTL};
use crate::context::{parse_kms_host, Context};
use crate::error::Error;
use crate::local_file::{self, Limit};
use crate::report::Report;
use details::{BindDetails, BindFiles};
use material::{Kind, Made, INDEX_FILE};

/// Emit BIND material: zone records, a named.conf zone stanza with a narrow
/// update-policy, an nsupdate script, and each KMS host's .reg file.
///
/// Records go into a file meant for `$INCLUDE` in the zone's own file. The
/// stanza grants the configured TSIG key the _vlmcs._tcp SRV name only, never
/// `allow-update { any; }`. Keys are included by the path of their key file;
/// secrets are never printed. A publish-list domain is in the zone its
/// `zone =` names, else in the closest declared zone above it, else in the
/// zone of its highest ancestor in the publish list. A/AAAA records are
/// written at the host's address-ttl; without one, the nsupdate script
/// leaves them out so that an existing RRset keeps its TTL. With
/// --dnssec-policy, each stanza also makes named sign the zone and every
/// update (docs/dnssec.md).
#[derive(Debug, Args)]
pub struct BindArgs {
    /// Write one file per zone and kind (and kmsdns.named.conf) into DIR instead of printing
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Only this kind of material
    #[arg(long, value_enum, value_name = "KIND")]
    pub only: Option<Kind>,

    /// Directory named reads zone files from, for `file` in the stanzas
    #[arg(long, value_name = "DIR", default_value = "/var/lib/bind")]
    pub zone_dir: PathBuf,

    /// Take the publish list from a .reg export of DnsDomainPublishList (or a plain list) instead of a configuration file
    #[arg(long, value_name = "FILE", requires = "host")]
    pub publish_list_reg: Option<PathBuf>,

    /// KMS host publishing that list, NAME[:PORT]; repeat for several
    #[arg(long, value_name = "NAME[:PORT]", value_parser = parse_kms_host, requires = "publish_list_reg")]
    pub host: Vec<(Name, u16)>,

    /// Sign the zones: add `dnssec-policy POLICY` (e.g. default) and `inline-signing yes` to each stanza, so named signs every update
    #[arg(long, value_name = "POLICY", value_parser = parse_policy_name)]
    pub dnssec_policy: Option<String>,
}

/// A `dnssec-policy` name as named.conf takes it quoted: letters, digits,
/// `-`, `_` and `.` (nothing that could end the string).
fn parse_policy_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "\"{text}\" is not a dnssec-policy name (letters, digits, -, _ and . only)"
        ))
    }
}

/// What `bind` produced.
pub enum BindOutput {
    /// Material to print (made while it is written: as text, or in the
    /// details of the JSON document), with the report for its warnings.
    Printed { material: Made, report: Report<()> },
    /// Files written; the report lists them.
    Written(Report<BindDetails>),
}

/// Generates the material and prints or writes it.
pub fn run(args: &BindArgs, ctx: &Context) -> Result<BindOutput, Error> {
    let config = load(args, ctx)?;
    let options = material::Options {
        zone_dir: args.zone_dir.clone(),
        dnssec_policy: args.dnssec_policy.clone(),
    };
    let mut report = Report::new("bind");
    report.extend(config.warnings.iter().cloned());
    let material = Made {
        config,
        options,
        only: args.only,
    };
    match &args.out {
        Some(dir) => {
            write_out(&material, dir)?;
            let files = BindFiles::Written {
                material,
                dir: dir.clone(),
            };
            Ok(BindOutput::Written(
                report.with_details(BindDetails { files }),
            ))
        }
        None => Ok(BindOutput::Printed { material, report }),
    }
}

/// Writes each wanted file into `dir` as soon as it is made, then the
/// index [`INDEX_FILE`] of the zone stanzas, line by line.
fn write_out(material: &Made, dir: &Path) -> Result<(), Error> {
    let failed = |path: PathBuf| move |source| Error::Write { path, source };
    std::fs::create_dir_all(dir).map_err(failed(dir.to_path_buf()))?;
    material.each(|file| {
        let path = dir.join(file.name());
        let written = std::fs::File::create(&path).and_then(|mut created| file.write(&mut created));
        written.map_err(failed(path))
    })?;
    if material.wants(Kind::NamedConf) {
        let path = dir.join(INDEX_FILE);
        let written = std::fs::File::create(&path).and_then(|file| {
            let mut out = BufWriter::new(file);
            material.write_index(dir, &mut out)?;
            out.flush()
        });
        written.map_err(failed(path))?;
    }
    Ok(())
}

fn load(args: &BindArgs, ctx: &Context) -> Result<Arc<Config>, Error> {
    match &args.publish_list_reg {
        Some(path) => {
            let bytes =
                local_file::read(path, Limit::PUBLISH_LIST).map_err(|source| Error::Read {
                    path: path.clone(),
                    source,
                })?;
            let import = reg::parse_publish_list(&bytes)
                .map_err(|problem| Error::Usage(problem.in_file(path)))?;
            let warnings = reg::warnings(&import, path);
            let mut config = config::from_parts(args.host.clone(), import.list, DEFAULT_TTL)?;
            config.warnings = warnings;
            Ok(Arc::new(config))
        }
        None => ctx.config(),
    }
}
