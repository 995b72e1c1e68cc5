//! `kmsdns completions`: shell completion scripts, generated from the clap
//! definitions so they never drift from the real options.

use clap::Args;
use clap_complete::Shell;

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
pub fn run(args: &CompletionsArgs, mut command: clap::Command) -> String {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "kmsdns", &mut script);
    // clap_complete writes only text built from UTF-8 strings.
    String::from_utf8_lossy(&script).into_owned()
}
