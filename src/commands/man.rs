//! `kmsdns man`: the manual page in roff, generated from the clap
//! definitions (clap_mangen), with the sections clap does not know about
//! added: EXIT STATUS, ENVIRONMENT and FILES.

use std::path::PathBuf;

use clap::Args;
use clap_mangen::roff::{bold, roman, Roff};
use clap_mangen::Man;

use crate::error::Error;
use crate::exit;

/// Print the manual page (roff) to standard output.
///
/// Read it with `kmsdns man | man -l -`; install it with
/// `kmsdns man > /usr/local/share/man/man1/kmsdns.1`. With COMMAND, the page
/// of that command (kmsdns-COMMAND(1)) with all its options; with --out, every
/// page, written into DIR.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print instead of kmsdns(1), e.g. bind
    #[arg(value_name = "COMMAND", conflicts_with = "out")]
    pub command: Option<String>,

    /// Write kmsdns.1 and one kmsdns-COMMAND.1 per command into DIR instead of printing
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The page asked for, as roff source; with `--out`, nothing: the pages are
/// written to files.
pub fn run(args: &ManArgs, command: clap::Command) -> Result<String, Error> {
    let kmsdns = kmsdns_command(command);
    if let Some(dir) = &args.out {
        let commands = kmsdns.get_subcommands().map(|c| (c, true));
        for (command, command_page) in std::iter::once((&kmsdns, false)).chain(commands) {
            let (title, page) = page(command, command_page)?;
            let path = dir.join(format!("{}.1", title.to_lowercase()));
            std::fs::write(&path, page).map_err(|source| Error::Write { path, source })?;
        }
        return Ok(String::new());
    }
    let command = match &args.command {
        None => &kmsdns,
        Some(name) => kmsdns
            .get_subcommands()
            .find(|c| c.get_name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = kmsdns.get_subcommands().map(|c| c.get_name()).collect();
                Error::Usage(format!(
                    "no command \"{name}\"; one of: {}",
                    names.join(", ")
                ))
            })?,
    };
    Ok(page(command, args.command.is_some())?.1)
}

/// The whole command line, built: the global options propagated to every
/// command so that a command's page lists them too, and without the `help`
/// command, which has no page worth reading.
fn kmsdns_command(command: clap::Command) -> clap::Command {
    let mut kmsdns = command.disable_help_subcommand(true);
    kmsdns.build();
    kmsdns
}

/// The page title (`KMSDNS`, `KMSDNS-BIND`) and roff source of `command`.
fn page(command: &clap::Command, command_page: bool) -> Result<(String, String), Error> {
    let title = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name())
        .to_uppercase();
    let mut roff = Vec::new();
    Man::new(command.clone())
        .title(title.clone())
        .render(&mut roff)
        .map_err(|e| Error::Runtime(format!("cannot render the manual page: {e}")))?;
    let roff = String::from_utf8_lossy(&roff).into_owned();
    Ok((title, with_sections(&roff, &extra_sections(command_page))))
}

/// Inserts `sections` before VERSION (man-pages(7) puts EXIT STATUS,
/// ENVIRONMENT and FILES after OPTIONS), or appends them.
fn with_sections(page: &str, sections: &str) -> String {
    match page.find("\n.SH VERSION\n") {
        Some(at) => format!("{}\n{}{}", &page[..at], sections, &page[at + 1..]),
        None => format!("{page}{sections}"),
    }
}

/// EXIT STATUS (from [`crate::exit`]), ENVIRONMENT, FILES and, for a
/// command's page, SEE ALSO. Rendered without clap_mangen's apostrophe
/// preamble, which the page already has once: the text has no apostrophe.
fn extra_sections(command_page: bool) -> String {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman("The same for every command, as for a Nagios plugin:")]);
    for (status, meaning) in [
        (exit::OK, "OK: every finding is ok or info, every change was applied."),
        (exit::WARNING, "WARNING: at least one warning, no critical finding."),
        (
            exit::CRITICAL,
            "CRITICAL: a critical finding (clients would fail to activate), or a change that failed.",
        ),
        (
            exit::UNKNOWN,
            "UNKNOWN: kmsdns could not run: usage, configuration or I/O error.",
        ),
    ] {
        roff.control("TP", []);
        roff.text([bold(status.to_string())]);
        roff.text([roman(meaning)]);
    }
    roff.control("PP", []);
    roff.text([
        roman("With "),
        bold("--fail-on critical"),
        roman(", a warning exits 0; the output still says WARNING."),
    ]);

    roff.control("SH", ["ENVIRONMENT"]);
    roff.control("TP", []);
    roff.text([bold("NO_COLOR")]);
    roff.text([roman(
        "When set and not empty, text output is not coloured with --color auto (https://no-color.org).",
    )]);

    roff.control("SH", ["FILES"]);
    roff.control("TP", []);
    roff.text([bold("./kmsdns.toml")]);
    roff.control("TQ", []);
    roff.text([bold("/etc/kmsdns/kmsdns.toml")]);
    roff.text([roman(
        "The configuration, searched in this order unless -c/--config names one.",
    )]);

    if command_page {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([bold("kmsdns"), roman("(1)")]);
    }
    roff.to_roff()
}
