//! `kmsdns completions`: shell completion scripts, generated from the clap
//! definitions so they never drift from the real options.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;

/// Print a shell completion script to standard output.
///
/// bash: `kmsdns completions bash > /etc/bash_completion.d/kmsdns`;
/// zsh: `kmsdns completions zsh > /usr/local/share/zsh/site-functions/_kmsdns`;
/// fish: `kmsdns completions fish > ~/.config/fish/completions/kmsdns.fish`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for `args.shell`.
pub fn run(args: &CompletionsArgs) -> String {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "kmsdns", &mut script);
    // clap_complete writes only text built from UTF-8 strings.
    String::from_utf8_lossy(&script).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_script_naming_the_commands() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let script = run(&CompletionsArgs { shell });
            assert!(script.contains("kmsdns"), "{shell}");
            assert!(script.contains("replication"), "{shell}: {script}");
            assert!(script.contains("fail-on"), "{shell}: {script}");
        }
    }
}
