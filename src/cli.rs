//! The command line: global options and one enum of commands.

use clap::{Parser, Subcommand};

use crate::commands;
use crate::context::GlobalArgs;

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
