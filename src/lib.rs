//! kmsdns: publish, check and remove the `_vlmcs._tcp` SRV records through
//! which Windows KMS clients find their activation hosts.
//!
//! `main` parses nothing itself: it hands argv to [`run`], which parses the
//! command line, runs one command to a [`report::Report`], renders it and
//! returns the exit status.

pub mod cli;
pub mod commands;
pub mod concurrency;
pub mod config;
pub mod context;
pub mod dns;
pub mod error;
pub mod exit;
pub mod local_file;
pub mod named_conf;
pub mod output;
pub mod report;
pub mod rpc;
pub mod srv_order;

use std::ffi::OsString;
use std::io;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use commands::audit::AuditEnd;
use commands::bind::material;
use commands::changes::engine::Hooks;
use commands::changes::ChangeCommand;
use commands::reads::ReadCommand;
use context::{ColorChoice, Context, Format};
use error::Error;
use output::audit::AuditWriter;
use output::windows::ReportWriter;
pub use output::Io;
use output::{write_material, write_report, write_run_error, Details, Document};
use report::palette::Palette;
use report::Report;

/// What a command hands back to be rendered.
enum Output {
    Report(Document),
    /// Material printed as it is made (`bind` without `--out`); the report's
    /// findings go to stderr.
    Material {
        material: material::Made,
        report: Report<()>,
    },
    /// Text printed as is, whatever `--format` says (completions, man page).
    Text(String),
    /// `audit`: each window rendered as it was done; what is left to
    /// write once the whole run is known.
    Audit {
        writer: Box<AuditWriter>,
        end: Box<AuditEnd>,
    },
    /// A command run window by window: each window rendered as it was
    /// done; what is left to write once the whole run is known.
    Windows(Box<ReportWriter>),
}

/// Runs kmsdns with `args` (argv, program name first) and returns the exit
/// status (see [`exit`]).
pub fn run<I, T>(args: I, io: &mut Io<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with_hooks(args, io, Hooks::default())
}

/// [`run`] with test seams (e.g. a change injected between plan and update).
pub fn run_with_hooks<I, T>(args: I, io: &mut Io<'_>, hooks: Hooks) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(cli::join_domains(args.into_iter().map(Into::into))) {
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
    let ctx = Context::new(
        cli.global.clone(),
        io.stderr_is_terminal && format == Format::Text && !quiet,
    )
    .with_named_conf(named_conf(&cli.command));
    let verbose = cli.global.verbose > 0;
    let mut runner = Runner {
        verbose: verbose.then_some(&mut *io.stderr),
    };
    // Written even when the audit cannot run (see `write_run_error`).
    let textfile = match &cli.command {
        Command::Audit(args) => args.textfile.clone(),
        _ => None,
    };
    let result = dispatch(cli.command, &ctx, hooks, &mut runner, palette);
    let written = match result {
        Ok(Output::Report(report)) => {
            write_report(&report, format, palette, quiet, io).map(|_| report.exit_status())
        }
        Ok(Output::Material { material, report }) => {
            write_material(material, report, format, palette, io)
        }
        Ok(Output::Audit { writer, end }) => writer.finish(*end, io),
        Ok(Output::Windows(writer)) => writer.finish(io),
        Ok(Output::Text(text)) => io
            .stdout
            .write_all(text.as_bytes())
            .and_then(|_| io.stdout.flush())
            .map(|_| exit::OK),
        Err(error) => write_run_error(
            command_name,
            &error.to_string(),
            textfile.as_deref(),
            format,
            io,
        ),
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

fn dispatch(
    command: Command,
    ctx: &Context,
    hooks: Hooks,
    runner: &mut Runner<'_>,
    palette: Palette,
) -> Result<Output, Error> {
    match command {
        Command::Plan(args) => changes(&args, ctx, hooks, runner, palette),
        Command::Publish(args) => changes(&args, ctx, hooks, runner, palette),
        Command::Remove(args) => changes(&args, ctx, hooks, runner, palette),
        Command::Check(args) => reads(args, ctx, runner, palette),
        Command::Replication(args) => reads(args, ctx, runner, palette),
        Command::Updates(args) => reads(args, ctx, runner, palette),
        Command::Probe(args) => reads(args, ctx, runner, palette),
        Command::Discover(args) => runner
            .block_on(commands::discover::run(&args, ctx))
            .map(|r| report(r, Details::Discover)),
        Command::Bind(args) => match commands::bind::run(&args, ctx)? {
            commands::bind::BindOutput::Printed { material, report } => {
                Ok(Output::Material { material, report })
            }
            commands::bind::BindOutput::Written(written) => Ok(report(written, Details::Bind)),
        },
        Command::Audit(args) => {
            let global = &ctx.global;
            let window = args.window as usize;
            let mut writer = AuditWriter::new(
                global.format,
                window,
                palette,
                global.quiet,
                args.textfile.clone(),
            )
            .map_err(|e| Error::unkept("audit", e))?;
            let end = runner.block_on(commands::audit::run(&args, ctx, &mut writer))?;
            Ok(Output::Audit {
                writer: Box::new(writer),
                end: Box::new(end),
            })
        }
        Command::Completions(args) => Ok(Output::Text(commands::completions::run(
            &args,
            Cli::command(),
        ))),
        Command::Man(args) => commands::man::run(&args, Cli::command()).map(Output::Text),
    }
}

/// Runs `plan`, `publish` or `remove` window by window into one writer;
/// a run stopped because that writer could keep no more output is still
/// written, so that every change made is said.
fn changes<C: ChangeCommand>(
    args: &C,
    ctx: &Context,
    hooks: Hooks,
    runner: &mut Runner<'_>,
    palette: Palette,
) -> Result<Output, Error> {
    let (name, window) = args.name_and_window();
    let mut writer = report_writer(name, ctx, palette)?;
    let size = writer.window_size(window as usize);
    let sink = &mut |r: Report<_>| writer.window(r.map_details(Details::Changes));
    let windows = commands::changes::Windows {
        ctx,
        hooks,
        size,
        sink,
    };
    let run = runner.block_on(args.run(windows));
    written(run, writer)
}

/// Runs `check`, `replication`, `updates` or `probe` window by window
/// into one writer; a run stopped because that writer could keep no more
/// output is still written, as the changes are.
fn reads<C: ReadCommand>(
    mut args: C,
    ctx: &Context,
    runner: &mut Runner<'_>,
    palette: Palette,
) -> Result<Output, Error> {
    let mut writer = report_writer(C::NAME, ctx, palette)?;
    let size = args
        .window(ctx)
        .and_then(|window| writer.window_size(window as usize));
    let mut first = true;
    let sink = &mut |r: Report<C::Details>| {
        writer.window(r.map_details(|d| C::details(d, std::mem::take(&mut first))))
    };
    let domains = args.take_domains();
    let together = |selected: &[_]| args.together(ctx, selected);
    let command = |domains| args.run(domains, ctx);
    let run = commands::windows::run(domains, ctx, size, together, command, sink);
    let run = runner.block_on(run);
    written(run, writer)
}

/// What a run window by window into `writer` writes: every window done,
/// when it was done or stopped because the writer could keep no more
/// output (what the windows done read and changed is said all the same);
/// else the run's error.
fn written(run: Result<(), Error>, writer: ReportWriter) -> Result<Output, Error> {
    match run {
        Err(error) if !writer.stopped() => Err(error),
        _ => Ok(Output::Windows(Box::new(writer))),
    }
}

/// Where a command run window by window writes each window.
fn report_writer(
    command: &'static str,
    ctx: &Context,
    palette: Palette,
) -> Result<ReportWriter, Error> {
    ReportWriter::new(command, ctx.global.format, palette, ctx.global.quiet)
        .map_err(|e| Error::unkept(command, e))
}

/// A command's report, its details joined to the union the renderers take.
fn report<D>(report: Report<D>, wrap: impl FnOnce(D) -> Details) -> Output {
    Output::Report(report.map_details(wrap))
}

/// Runs a command's async work, and shows what `-v` collects on the way.
struct Runner<'a> {
    /// Where `-v` lines go: the run's stderr, or nowhere without `-v`.
    verbose: Option<&'a mut dyn io::Write>,
}

impl Runner<'_> {
    /// Runs one command's work to completion.
    ///
    /// One thread: a run is thousands of small exchanges with no
    /// computation worth a second core, and on a machine whose cores are
    /// shared with the DNS servers, a multi-threaded scheduler spent more
    /// time waking its threads than it saved (check of 1,000 domains:
    /// 220 ms on two worker threads, 148 ms on one). Every UDP exchange of
    /// the run reuses the sockets of one [`dns::SocketPool`]. With `-v`,
    /// each exchange and step is written as it happens ([`dns::trace`]).
    fn block_on<T>(
        &mut self,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(format!("cannot start the async runtime: {e}")))?;
        let pool = dns::SocketPool::new();
        let Some(out) = self.verbose.as_deref_mut() else {
            return runtime.block_on(pool.scope(work));
        };
        let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
        runtime.block_on(async {
            let traced = dns::trace::scope(events, pool.scope(work));
            // Ends when the work is done and its sender dropped.
            let show = async {
                while let Some(event) = received.recv().await {
                    // A closed stderr does not stop the run.
                    let _ = writeln!(out, "{event}");
                }
            };
            let (result, ()) = tokio::join!(traced, show);
            result
        })
    }
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

/// The command's `--named-conf`, which the run reads before the
/// configuration ([`Context::with_named_conf`]).
fn named_conf(command: &Command) -> Option<std::path::PathBuf> {
    match command {
        Command::Updates(args) => args.named_conf.clone(),
        Command::Audit(args) => args.named_conf.clone(),
        _ => None,
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
