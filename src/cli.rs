//! The command line: global options and one enum of commands, and how
//! argv reaches clap.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

use crate::commands;
use crate::context::{GlobalArgs, DOMAIN_SEPARATOR};

/// Publish, check and remove the DNS SRV records (_vlmcs._tcp) through which
/// Windows finds its KMS activation hosts.
///
/// Exit status: 0 OK, 1 WARNING, 2 CRITICAL (a critical finding or a failed
/// change), 3 UNKNOWN (usage, configuration or I/O error).
#[derive(Debug, Parser)]
#[command(name = "kmsdns", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Plan(commands::plan::PlanArgs),
    Publish(commands::publish::PublishArgs),
    Remove(commands::remove::RemoveArgs),
    Check(commands::check::CheckArgs),
    Replication(commands::replication::ReplicationArgs),
    Updates(commands::updates::UpdatesArgs),
    Probe(commands::probe::ProbeArgs),
    Discover(commands::discover::DiscoverArgs),
    Audit(commands::audit::AuditArgs),
    Bind(commands::bind::BindArgs),
    Completions(commands::completions::CompletionsArgs),
    Man(commands::man::ManArgs),
}

/// argv with each run of consecutive `--domain` arguments made one
/// argument, `--domain=A\0B\0…`, that clap splits back into A, B, … in
/// their order.
///
/// Why: clap keeps for every occurrence of an option a group of parsed
/// values and a group of raw values (two vectors with room for four) and
/// the argument itself, about 1 KB for a `--domain` (issue 20: 100,000 of
/// them took 98 MiB); one occurrence of many values costs each value its
/// own size only. Only what clap cannot read otherwise is joined: before
/// `--`, `--domain=V` and `--domain V`, V neither empty nor starting with
/// `-` (clap would take it for an option) nor holding a NUL. Anything else
/// ends a run and is passed on as it was; no option of kmsdns takes values
/// that look like options, so a `--domain` there is always the option.
/// A command line with `help` before `--` is left whole: clap's `help`
/// names the words it does not know as they were typed.
pub fn join_domains(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    if args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "help")
    {
        return args;
    }
    let mut args = args.into_iter().peekable();
    // The program's name is no option, whatever it reads.
    let mut joined: Vec<OsString> = args.next().into_iter().collect();
    let mut run: Option<OsString> = None;
    while let Some(arg) = args.next() {
        if arg == "--" {
            joined.extend(run.take());
            joined.push(arg);
            joined.extend(args);
            break;
        }
        let value = match arg.to_str() {
            Some("--domain") => args.next_if(|next| joinable(next)),
            Some(text) => text
                .strip_prefix("--domain=")
                .filter(|value| joinable(value.as_ref()))
                .map(OsString::from),
            None => None,
        };
        match (value, &mut run) {
            (Some(value), Some(run)) => {
                run.push(DOMAIN_SEPARATOR.encode_utf8(&mut [0; 4]));
                run.push(value);
            }
            (Some(value), None) => {
                let mut first = OsString::from("--domain=");
                first.push(value);
                run = Some(first);
            }
            (None, _) => {
                joined.extend(run.take());
                joined.push(arg);
            }
        }
    }
    joined.extend(run);
    joined
}

/// Whether clap reads `value` after `--domain` as its value, and splits
/// it into itself alone.
fn joinable(value: &std::ffi::OsStr) -> bool {
    value.to_str().is_some_and(|text| {
        !text.is_empty() && !text.starts_with('-') && !text.contains(DOMAIN_SEPARATOR)
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use clap_complete::Shell;

    use super::*;
    use crate::commands::completions::{self, CompletionsArgs};
    use crate::commands::man::{self, ManArgs};
    use crate::error::Error;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// What clap makes of `args`: the parsed command line, or the error
    /// it would print.
    fn parsed(args: Vec<OsString>) -> Result<String, (clap::error::ErrorKind, String)> {
        Cli::try_parse_from(args)
            .map(|cli| format!("{cli:?}"))
            .map_err(|e| (e.kind(), e.render().to_string()))
    }

    #[test]
    fn each_run_of_domains_becomes_one_argument() {
        let joined = join_domains(os(&[
            "--domain=program",
            "check",
            "--domain",
            "a.example",
            "--domain=b.example",
            "--domain",
            "c.example",
            "--window",
            "5",
            "--domain=d.example",
            "--domain=-e.example",
            "--domain",
            "-",
            "--domain=",
            "--domain=f.example",
            "--",
            "--domain=g.example",
            "--domain=h.example",
        ]));
        assert_eq!(
            joined,
            os(&[
                "--domain=program",
                "check",
                "--domain=a.example\0b.example\0c.example",
                "--window",
                "5",
                "--domain=d.example",
                "--domain=-e.example",
                "--domain",
                "-",
                "--domain=",
                "--domain=f.example",
                "--",
                "--domain=g.example",
                "--domain=h.example",
            ])
        );
        assert_eq!(
            join_domains(os(&["kmsdns", "check", "--domain"])),
            os(&["kmsdns", "check", "--domain"])
        );
    }

    /// Every spelling of `--domain`, repeated, mixed and interleaved with
    /// other options, gives each command the same domains, duplicates and
    /// order kept, as clap alone did.
    #[test]
    fn joined_domains_parse_as_given_one_by_one() {
        let spellings: [&[&str]; 6] = [
            &[
                "check",
                "--domain",
                "b.example",
                "--domain=a.example",
                "--domain",
                "b.example",
            ],
            &[
                "replication",
                "--domain=b.example",
                "--wait",
                "5s",
                "--domain=a.example",
                "--domain=b.example",
            ],
            &[
                "updates",
                "--domain=b.example",
                "--named-conf",
                "n.conf",
                "--domain",
                "a.example",
                "--domain=b.example",
            ],
            &[
                "audit",
                "--domain",
                "b.example",
                "--domain",
                "a.example",
                "--no-updates",
                "--domain=b.example",
            ],
            &[
                "probe",
                "--domain=b.example",
                "--domain=a.example",
                "--host",
                "kms1.example",
                "--domain=b.example",
            ],
            &[
                "-c",
                "k.toml",
                "check",
                "--domain=b.example",
                "--domain=a.example",
                "--domain=b.example",
                "--format",
                "json",
            ],
        ];
        for spelling in spellings {
            let args = os(&[&["kmsdns"], spelling].concat());
            let joined = join_domains(args.clone());
            assert!(joined.len() < args.len(), "{spelling:?} was not joined");
            let (alone, through) = (parsed(args), parsed(joined));
            assert_eq!(alone, through, "{spelling:?}");
            assert!(through.is_ok(), "{spelling:?}: {through:?}");
            let cli = Cli::try_parse_from(join_domains(os(&[&["kmsdns"], spelling].concat())));
            let domains = match &cli.unwrap().command {
                Command::Check(args) => args.domains.clone(),
                Command::Replication(args) => args.domains.clone(),
                Command::Updates(args) => args.domains.clone(),
                Command::Audit(args) => args.domains.clone(),
                Command::Probe(args) => args.domain.clone(),
                other => panic!("{other:?}"),
            };
            let domains: Vec<String> = domains.iter().map(|d| d.to_ascii()).collect();
            assert_eq!(
                domains,
                ["b.example.", "a.example.", "b.example."],
                "{spelling:?}"
            );
        }
    }

    /// A value clap would not take, a `--domain` where no command takes it
    /// and a bad name are refused with the same words as before.
    #[test]
    fn misused_domains_are_refused_as_before() {
        let misuses: [&[&str]; 10] = [
            &["check", "--domain", "a.example", "--domain", "-x"],
            &["check", "--domain=a.example", "--domain="],
            &["check", "--domain=a.example", "--domain"],
            &[
                "check",
                "--domain=a.example",
                "--domain=bad..name",
                "--domain=c.example",
            ],
            &["check", "--domain=a.example", "--domain", "bad name"],
            &["--domain=a.example", "--domain", "b.example", "check"],
            &["bind", "--domain=a.example", "--domain=b.example"],
            &["help", "check", "--domain", "a.example"],
            &["help", "check", "--domain=a.example", "--domain=b.example"],
            &[
                "check",
                "--domain=a.example",
                "--domain=b.example",
                "--frobnicate",
            ],
        ];
        for misuse in misuses {
            let args = os(&[&["kmsdns"], misuse].concat());
            let (alone, through) = (parsed(args.clone()), parsed(join_domains(args)));
            assert!(alone.is_err(), "{misuse:?}: {alone:?}");
            assert_eq!(alone, through, "{misuse:?}");
        }
    }

    /// What [`join_domains`] relies on: every `--domain` splits its value
    /// at the separator, and no option or positional takes a value that
    /// looks like an option (which a `--domain` could then be).
    #[test]
    fn every_domain_option_splits_what_join_domains_joined() {
        let mut cli = Cli::command();
        cli.build();
        let mut commands = vec![&cli];
        let mut domain_options = 0;
        while let Some(command) = commands.pop() {
            commands.extend(command.get_subcommands());
            for arg in command.get_arguments() {
                let name = format!("{} {}", command.get_name(), arg.get_id());
                assert!(
                    !arg.is_allow_hyphen_values_set()
                        && !arg.is_allow_negative_numbers_set()
                        && !arg.is_trailing_var_arg_set()
                        && !arg.is_last_set(),
                    "{name}"
                );
                let aliases = arg.get_all_aliases().unwrap_or_default();
                if arg.get_long() == Some("domain") || aliases.contains(&"domain") {
                    assert_eq!(arg.get_value_delimiter(), Some(DOMAIN_SEPARATOR), "{name}");
                    domain_options += 1;
                }
            }
        }
        assert_eq!(domain_options, 5);
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_commands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let script = completions::run(&CompletionsArgs { shell }, Cli::command());
            assert!(script.contains("kmsdns"), "{shell}");
            assert!(script.contains("replication"), "{shell}: {script}");
            assert!(script.contains("fail-on"), "{shell}: {script}");
        }
    }

    #[test]
    fn the_page_has_a_title_and_the_exit_status_section_before_version() {
        let page = man::run(
            &ManArgs {
                command: None,
                out: None,
            },
            Cli::command(),
        )
        .unwrap();
        assert!(page.contains("\n.TH KMSDNS 1"), "{page}");
        let exit = page.find(".SH \"EXIT STATUS\"").unwrap();
        let version = page.find(".SH VERSION").unwrap();
        assert!(exit < version, "{page}");
        assert!(page.contains("UNKNOWN: kmsdns could not run"), "{page}");
        assert!(page.contains("\\-\\-fail\\-on critical"), "{page}");
    }

    #[test]
    fn a_command_page_lists_its_own_and_the_global_options() {
        let page = man::run(
            &ManArgs {
                command: Some("bind".into()),
                out: None,
            },
            Cli::command(),
        )
        .unwrap();
        assert!(page.contains(".TH KMSDNS-BIND 1"), "{page}");
        assert!(page.contains("\\-\\-zone\\-dir"), "{page}");
        assert!(page.contains("\\-\\-dns\\-port"), "{page}");
        assert!(page.contains(".SH \"SEE ALSO\""), "{page}");
    }

    #[test]
    fn an_unknown_command_is_a_usage_error() {
        let error = man::run(
            &ManArgs {
                command: Some("frobnicate".into()),
                out: None,
            },
            Cli::command(),
        )
        .unwrap_err();
        assert!(
            matches!(&error, Error::Usage(m) if m.contains("bind")),
            "{error}"
        );
        assert!(man::run(
            &ManArgs {
                command: Some("help".into()),
                out: None,
            },
            Cli::command(),
        )
        .is_err());
    }

    #[test]
    fn out_writes_every_page() {
        let dir = std::env::temp_dir().join(format!("kmsdns-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let printed = man::run(
            &ManArgs {
                command: None,
                out: Some(dir.clone()),
            },
            Cli::command(),
        )
        .unwrap();
        assert_eq!(printed, "");
        let top = std::fs::read_to_string(dir.join("kmsdns.1")).unwrap();
        assert!(top.contains(".TH KMSDNS 1"));
        assert!(!top.contains("kmsdns\\-help"), "{top}");
        assert!(!top.contains("SEE ALSO"), "{top}");
        let bind = std::fs::read_to_string(dir.join("kmsdns-bind.1")).unwrap();
        assert!(bind.contains(".TH KMSDNS-BIND 1"));
        assert!(bind.contains(".SH \"SEE ALSO\""));
        assert!(!dir.join("kmsdns-help.1").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
