//! kmsdns: publish, check and remove the `_vlmcs._tcp` SRV records through
//! which Windows KMS clients find their activation hosts.
//!
//! `main` parses nothing itself: it hands argv to [`run`], which parses the
//! command line, runs one command to a [`report::Report`], renders it and
//! returns the exit status.

pub mod apply;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod discovery;
pub mod dns;
pub mod error;
pub mod exit;
pub mod material;
pub mod named_conf;
pub mod plan;
pub mod reachability;
pub mod report;
pub mod rpc;
pub mod search_list;
pub mod serial;
pub mod srv_order;
pub mod update_probe;

use std::ffi::OsString;
use std::io::{self, Write};
use std::time::SystemTime;

use clap::Parser;

use cli::{Cli, ColorChoice, Command, Format};
use commands::Context;
use error::Error;
use report::metrics::Metrics;
use report::text::Palette;
use report::Report;

/// Where a run writes, and whether those streams are terminals.
pub struct Io<'a> {
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
}

/// What a command hands back to be rendered.
enum Output {
    Report(Report),
    /// Material printed as it is made (`bind` without `--out`); the report's
    /// findings go to stderr.
    Material {
        material: material::Made,
        report: Report,
    },
    /// Text printed as is, whatever `--format` says (completions, man page).
    Text(String),
    /// `audit`: a report with the measurements monitoring formats graph,
    /// and where to write the Prometheus textfile.
    Audit {
        report: Report,
        metrics: Box<Metrics>,
        textfile: Option<std::path::PathBuf>,
    },
}

/// Runs kmsdns with `args` (argv, program name first) and returns the exit
/// status (see [`exit`]).
pub fn run<I, T>(args: I, io: &mut Io<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with_hooks(args, io, apply::Hooks::default())
}

/// [`run`] with test seams (e.g. a change injected between plan and update).
pub fn run_with_hooks<I, T>(args: I, io: &mut Io<'_>, hooks: apply::Hooks) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, io),
    };
    let palette = Palette {
        color: use_color(cli.global.color, io.stdout_is_terminal),
    };
    let format = cli.global.format;
    let quiet = cli.global.quiet;
    let fail_on = cli.global.fail_on;
    let command_name = command_name(&cli.command);
    // audit's text report shows no part's details, only its own summary.
    let details_as_values = format == Format::Text && !matches!(cli.command, Command::Audit(_));
    let ctx = Context::new(
        cli.global.clone(),
        io.stderr_is_terminal && format == Format::Text && !quiet,
        details_as_values,
    );
    let result = dispatch(cli.command, &ctx, hooks);
    let written = match result {
        Ok(Output::Report(report)) => {
            write_report(&report, format, palette, quiet, io).map(|_| report.exit_status())
        }
        Ok(Output::Material { material, report }) => {
            write_material(material, report, format, palette, io)
        }
        Ok(Output::Audit {
            report,
            metrics,
            textfile,
        }) => write_audit(
            &report,
            &metrics,
            textfile.as_deref(),
            format,
            palette,
            quiet,
            io,
        ),
        Ok(Output::Text(text)) => io
            .stdout
            .write_all(text.as_bytes())
            .and_then(|_| io.stdout.flush())
            .map(|_| exit::OK),
        Err(error) => write_error(command_name, &error.to_string(), format, io),
    };
    match written {
        Ok(status) => fail_on.exit_status(status),
        // A closed pipe (`kmsdns check | head`) is not an error worth a word.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            let _ = writeln!(io.stderr, "kmsdns: error: cannot write output: {e}");
            exit::UNKNOWN
        }
    }
}

fn dispatch(command: Command, ctx: &Context, hooks: apply::Hooks) -> Result<Output, Error> {
    match command {
        Command::Plan(args) => block_on(commands::plan::run(&args, ctx, hooks)).map(Output::Report),
        Command::Publish(args) => {
            block_on(commands::publish::run(&args, ctx, hooks)).map(Output::Report)
        }
        Command::Remove(args) => {
            block_on(commands::remove::run(&args, ctx, hooks)).map(Output::Report)
        }
        Command::Check(args) => block_on(commands::check::run(&args, ctx)).map(Output::Report),
        Command::Replication(args) => {
            block_on(commands::replication::run(&args, ctx)).map(Output::Report)
        }
        Command::Updates(args) => block_on(commands::updates::run(&args, ctx)).map(Output::Report),
        Command::Probe(args) => block_on(commands::probe::run(&args, ctx)).map(Output::Report),
        Command::Discover(args) => {
            block_on(commands::discover::run(&args, ctx)).map(Output::Report)
        }
        Command::Bind(args) => match commands::bind::run(&args, ctx)? {
            commands::bind::BindOutput::Printed { material, report } => {
                Ok(Output::Material { material, report })
            }
            commands::bind::BindOutput::Written(report) => Ok(Output::Report(report)),
        },
        Command::Audit(args) => {
            let outcome = block_on(commands::audit::run(&args, ctx))?;
            Ok(Output::Audit {
                report: outcome.report,
                metrics: Box::new(outcome.metrics),
                textfile: args.textfile,
            })
        }
        Command::Completions(args) => Ok(Output::Text(commands::completions::run(&args))),
        Command::Man(args) => commands::man::run(&args).map(Output::Text),
    }
}

/// Runs one command's work to completion.
///
/// One thread: a run is thousands of small exchanges with no computation
/// worth a second core, and on a machine whose cores are shared with the
/// DNS servers, a multi-threaded scheduler spent more time waking its
/// threads than it saved (check of 1,000 domains: 220 ms on two worker
/// threads, 148 ms on one). Every UDP exchange of the run reuses the
/// sockets of one [`dns::SocketPool`].
fn block_on<T>(work: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(format!("cannot start the async runtime: {e}")))?;
    let pool = dns::SocketPool::new();
    runtime.block_on(pool.scope(work))
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Plan(_) => "plan",
        Command::Publish(_) => "publish",
        Command::Remove(_) => "remove",
        Command::Check(_) => "check",
        Command::Replication(_) => "replication",
        Command::Updates(_) => "updates",
        Command::Probe(_) => "probe",
        Command::Discover(_) => "discover",
        Command::Bind(_) => "bind",
        Command::Audit(_) => "audit",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
    }
}

/// Help and version go to stdout with status 0; every other usage error to
/// stderr with status 3 (clap would use 2, which means CRITICAL here).
fn usage_error(error: clap::Error, io: &mut Io<'_>) -> u8 {
    use clap::error::ErrorKind;
    let text = error.render().to_string();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(io.stdout, "{text}");
            exit::OK
        }
        _ => {
            let _ = write!(io.stderr, "{text}");
            exit::UNKNOWN
        }
    }
}

/// `--color auto` colours only a terminal, and never when `NO_COLOR` is set
/// (https://no-color.org) or the terminal is dumb.
fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        }
    }
}

fn write_report(
    report: &Report,
    format: Format,
    palette: Palette,
    quiet: bool,
    io: &mut Io<'_>,
) -> io::Result<()> {
    match format {
        Format::Text => report::text::render(report, palette, quiet, io.stdout),
        Format::Json => report::json::render(report, io.stdout),
        Format::Nagios => {
            report::nagios::render(report, &Metrics::new(SystemTime::now()), io.stdout)
        }
        Format::Prometheus => {
            report::prometheus::render(report, &Metrics::new(SystemTime::now()), io.stdout)
        }
    }?;
    io.stdout.flush()
}

/// Writes an audit: like any report, but the monitoring formats get the
/// measurements, and `--textfile` gets the Prometheus text atomically.
fn write_audit(
    report: &Report,
    metrics: &Metrics,
    textfile: Option<&std::path::Path>,
    format: Format,
    palette: Palette,
    quiet: bool,
    io: &mut Io<'_>,
) -> io::Result<u8> {
    if let Some(path) = textfile {
        let mut text = Vec::new();
        report::prometheus::render(report, metrics, &mut text)?;
        let text = String::from_utf8_lossy(&text);
        if let Err(error) = report::prometheus::write_textfile(path, &text) {
            return write_error("audit", &error.to_string(), format, io);
        }
    }
    match format {
        Format::Text => report::text::render(report, palette, quiet, io.stdout)?,
        Format::Json => report::json::render(report, io.stdout)?,
        Format::Nagios => report::nagios::render(report, metrics, io.stdout)?,
        Format::Prometheus => report::prometheus::render(report, metrics, io.stdout)?,
    }
    io.stdout.flush()?;
    Ok(report.exit_status())
}

/// Writes why kmsdns could not run, in the format its reader expects, and
/// returns the UNKNOWN exit status.
fn write_error(command: &str, message: &str, format: Format, io: &mut Io<'_>) -> io::Result<u8> {
    match format {
        Format::Text => writeln!(io.stderr, "kmsdns: error: {message}")?,
        Format::Json => report::json::render_error(Some(command), message, io.stdout)?,
        Format::Nagios => report::nagios::render_error(message, io.stdout)?,
        Format::Prometheus => {
            writeln!(io.stderr, "kmsdns: error: {message}")?;
            // Still written, so a textfile shows `kmsdns_up 0` and an alert
            // fires, instead of the last good run going stale in silence.
            report::prometheus::render_error(SystemTime::now(), io.stdout)?;
        }
    }
    io.stdout.flush()?;
    Ok(exit::UNKNOWN)
}

fn write_material(
    material: material::Made,
    report: Report,
    format: Format,
    palette: Palette,
    io: &mut Io<'_>,
) -> io::Result<u8> {
    let report = match format {
        Format::Text => {
            material.print(io.stdout)?;
            if !report.findings.is_empty() {
                let stderr_palette = Palette {
                    color: palette.color && io.stderr_is_terminal,
                };
                report::text::render(&report, stderr_palette, true, io.stderr)?;
            }
            report
        }
        // The document carries the material in its details.
        Format::Json => {
            let files = report::BindFiles::Made(material);
            let report = report.with_details(report::Details::Bind(report::BindDetails { files }));
            report::json::render(&report, io.stdout)?;
            report
        }
        // Material is for people and files: a monitoring system would read
        // it as garbage.
        Format::Nagios | Format::Prometheus => {
            let message = format!(
                "{} prints material, not a status: use --format text or json, or --out DIR",
                report.command
            );
            return write_error(report.command, &message, format, io);
        }
    };
    io.stdout.flush()?;
    Ok(report.exit_status())
}
