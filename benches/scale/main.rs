//! `cargo bench --bench scale -- [--domains N] [...]`: kmsdns at scale
//! against nsupdate, dig and dnsperf on the same BIND (issue 7).
//!
//! Needs root (it puts 127.53.7.1–3 on `lo`), BIND 9 (`named`,
//! `tsig-keygen`, `nsupdate`, `dig`) and `dnsperf` for BIND's ceiling
//! (`apt-get install bind9 bind9-utils bind9-dnsutils dnsperf`). Prints a
//! Markdown table and writes it, with every run's figures as JSON, to
//! `target/bench/scale-N.json` and `.md`. `docs/benchmarks.md` says how
//! to read it.

#[path = "bed.rs"]
mod bed;
#[path = "harness.rs"]
mod harness;
// The test bed's stand-in KMS host, for the probe cases.
#[path = "../../tests/common/kms_responder.rs"]
#[allow(dead_code)]
mod kms_responder;
#[path = "linearity.rs"]
mod linearity;
#[path = "operations.rs"]
mod operations;
#[path = "probe.rs"]
mod probe;
#[path = "silent.rs"]
mod silent;
// What bed and harness need from the machine, shared with the test bed.
#[path = "../../tests/common/local.rs"]
mod local;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo bench --bench scale -- [options]
  --domains N          zones and publish-list domains (default 1000; 10000 for the large run)
  --sizes N,N,...      run once per size (e.g. 100,1000,10000,100000) and print µs per domain
                       for each; sizes of 100,000 and more get one repetition
  --repetitions R      runs of each measurement, median reported (default 5)
  --only OP,OP,...     measure only these operations (default all): bind, bind-out, updates,
                       publish, publish-again, remove, check, replication, audit-no-updates,
                       audit; what they need still runs, unmeasured (e.g. publish before check)
  --named-threads T    named -n T (default 2)
  --dnsperf-seconds S  length of each dnsperf run; 0 skips dnsperf (default 5)
  --no-baselines       skip nsupdate and dig
  --kmsdns-arg ARG     pass ARG to every kmsdns run (repeatable), e.g. --kmsdns-arg=--concurrency=128
  --kmsdns PATH        the kmsdns binary to measure (default: this build's), e.g. an older build to compare
  --out DIR            where scale-N.json and scale-N.md go (default target/bench)
  --keep               keep BIND's directory
  --hold S             publish, then keep BIND serving S seconds for profiling by hand; measure nothing else
  --silent S           measure only check with S of the --domains read at silent servers (issue 17), e.g. --domains 2000 --silent 600
  --silent-concurrency N   --concurrency of those check runs (default 64)
  --silent-timeout-ms T    --timeout of those check runs (default 2000)
  --probe              measure only audit as users run it: with the KMS probe (hosts answering,
                       one silent, none listening) and with one of three servers stopped; peak RSS
                       and own CPU of each (--domains, --repetitions, --kmsdns-arg apply)
  --probe-timeout-ms T     --timeout of those audit runs (default 500)
  --no-stopped-server      leave out the stopped-server case (long: every zone waits for the server)
";

fn main() -> ExitCode {
    let mut options = harness::Options {
        domains: 1000,
        repetitions: 5,
        named_threads: 2,
        kmsdns: PathBuf::from(env!("CARGO_BIN_EXE_kmsdns")),
        dnsperf_seconds: 5,
        baselines: true,
        kmsdns_args: Vec::new(),
        verbose: true,
        keep: false,
        hold: None,
        operations: operations::Operation::ALL.to_vec(),
    };
    let mut only = false;
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    let mut silent: Option<usize> = None;
    let mut sizes: Vec<usize> = Vec::new();
    let mut silent_concurrency = 64;
    let mut silent_timeout_ms = 2000;
    let mut probe = false;
    let mut probe_timeout_ms = 500;
    let mut stopped_server = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).unwrap_or_default();
        let number = |text: String| text.parse::<usize>().ok();
        match flag.as_str() {
            // cargo bench appends --bench to every harness = false target.
            "--bench" => {}
            "--domains" => match number(value()) {
                Some(n) if n > 0 => options.domains = n,
                _ => return usage("--domains takes a positive number"),
            },
            "--sizes" => match value()
                .split(',')
                .map(|n| number(n.trim().replace('_', "")).filter(|&n| n > 0))
                .collect::<Option<Vec<usize>>>()
            {
                Some(list) if !list.is_empty() => sizes = list,
                _ => return usage("--sizes takes positive numbers separated by commas"),
            },
            "--repetitions" => match number(value()) {
                Some(n) if n > 0 => options.repetitions = n,
                _ => return usage("--repetitions takes a positive number"),
            },
            "--named-threads" => match number(value()) {
                Some(n) if n > 0 => options.named_threads = n as u32,
                _ => return usage("--named-threads takes a positive number"),
            },
            "--dnsperf-seconds" => match number(value()) {
                Some(n) => options.dnsperf_seconds = n as u32,
                None => return usage("--dnsperf-seconds takes a number"),
            },
            "--only" => match operations::Operation::parse_list(&value()) {
                Ok(list) => {
                    options.operations = list;
                    only = true;
                }
                Err(problem) => return usage(&problem),
            },
            "--no-baselines" => options.baselines = false,
            "--kmsdns-arg" => options.kmsdns_args.push(value()),
            "--out" => out = PathBuf::from(value()),
            "--kmsdns" => options.kmsdns = PathBuf::from(value()),
            "--keep" => options.keep = true,
            "--hold" => match number(value()) {
                Some(n) => options.hold = Some(std::time::Duration::from_secs(n as u64)),
                None => return usage("--hold takes seconds"),
            },
            "--silent" => match number(value()) {
                Some(n) if n > 0 => silent = Some(n),
                _ => return usage("--silent takes a positive number"),
            },
            "--silent-concurrency" => match number(value()) {
                Some(n) if n > 0 => silent_concurrency = n,
                _ => return usage("--silent-concurrency takes a positive number"),
            },
            "--silent-timeout-ms" => match number(value()) {
                Some(n) if n > 0 => silent_timeout_ms = n as u64,
                _ => return usage("--silent-timeout-ms takes a positive number"),
            },
            "--probe" => probe = true,
            "--no-stopped-server" => stopped_server = false,
            "--probe-timeout-ms" => match number(value()) {
                Some(n) if n > 0 => probe_timeout_ms = n as u64,
                _ => return usage("--probe-timeout-ms takes a positive number"),
            },
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown option {other}")),
        }
    }
    if only && (silent.is_some() || probe) {
        return usage(
            "--only selects operations of the main benchmark, not of --silent or --probe",
        );
    }
    if let Some(silent) = silent {
        let options = silent::SilentOptions {
            domains: options.domains,
            silent,
            concurrency: silent_concurrency,
            timeout: std::time::Duration::from_millis(silent_timeout_ms),
            named_threads: options.named_threads,
            kmsdns: options.kmsdns.clone(),
            verbose: options.verbose,
        };
        return run_silent(&options, &out);
    }
    if probe {
        let options = probe::ProbeOptions {
            domains: options.domains,
            repetitions: options.repetitions,
            named_threads: options.named_threads,
            kmsdns: options.kmsdns.clone(),
            timeout: std::time::Duration::from_millis(probe_timeout_ms),
            kmsdns_args: options.kmsdns_args.clone(),
            stopped_server,
            verbose: options.verbose,
        };
        return run_probe(&options, &out);
    }
    if options.dnsperf_seconds > 0 && local::find_tool("dnsperf").is_none() {
        eprintln!(
            "dnsperf is not installed (apt-get install dnsperf): BIND's ceiling is not measured"
        );
        options.dnsperf_seconds = 0;
    }
    if !sizes.is_empty() {
        return run_sizes(&options, &sizes, &out);
    }
    let results = match harness::run(&options) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("scale benchmark failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("\n{}", results.table());
    match write(&results, &out) {
        Ok(stem) => {
            eprintln!("written: {}.json and .md", stem.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write the results to {}: {error}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// `target/bench/scale-N.json` and `.md`; returns the path without extension.
fn write(results: &harness::Results, out: &std::path::Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(out)?;
    let stem = out.join(format!("scale-{}", results.domains));
    let json = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(stem.with_extension("json"), json)?;
    std::fs::write(stem.with_extension("md"), results.table())?;
    Ok(stem)
}

/// The benchmark once per size, smallest first, each written as by
/// `--domains`; then µs per domain for each size, to stdout and to
/// `scale-sizes.json` and `.md`.
fn run_sizes(options: &harness::Options, sizes: &[usize], out: &std::path::Path) -> ExitCode {
    let mut sizes = sizes.to_vec();
    sizes.sort_unstable();
    sizes.dedup();
    let mut runs = Vec::new();
    for &domains in &sizes {
        let options = harness::Options {
            domains,
            repetitions: if domains >= 100_000 {
                1
            } else {
                options.repetitions
            },
            ..options.clone()
        };
        let results = match harness::run(&options) {
            Ok(results) => results,
            Err(error) => {
                eprintln!("scale benchmark failed at {domains} domains: {error}");
                return ExitCode::FAILURE;
            }
        };
        println!("\n{}", results.table());
        if let Err(error) = write(&results, out) {
            eprintln!("cannot write the results to {}: {error}", out.display());
            return ExitCode::FAILURE;
        }
        runs.push(results);
    }
    let linearity = linearity::Linearity::of(&runs);
    let table = linearity.table();
    println!("\n{table}");
    let stem = out.join("scale-sizes");
    let written = serde_json::to_string_pretty(&linearity)
        .map_err(std::io::Error::other)
        .and_then(|json| std::fs::write(stem.with_extension("json"), json))
        .and_then(|_| std::fs::write(stem.with_extension("md"), &table));
    match written {
        Ok(()) => {
            eprintln!("written: {}.json and .md", stem.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write the results to {}: {error}", out.display());
            ExitCode::FAILURE
        }
    }
}

/// The silent-server case alone: its table, and scale-N-silent-S.json.
fn run_silent(options: &silent::SilentOptions, out: &std::path::Path) -> ExitCode {
    let results = match silent::run(options) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("silent-server benchmark failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let table = results.table();
    println!("\n{table}");
    let stem = out.join(format!(
        "scale-{}-silent-{}",
        options.domains, options.silent
    ));
    let written = std::fs::create_dir_all(out).and_then(|_| {
        let json = serde_json::to_string_pretty(&results).map_err(std::io::Error::other)?;
        std::fs::write(stem.with_extension("json"), json)?;
        std::fs::write(stem.with_extension("md"), &table)
    });
    if let Err(error) = written {
        eprintln!("cannot write the results to {}: {error}", out.display());
        return ExitCode::FAILURE;
    }
    if results.runs.iter().all(|run| run.met) {
        ExitCode::SUCCESS
    } else {
        eprintln!("the bound is not met");
        ExitCode::FAILURE
    }
}

/// The cases users run alone: their table, and scale-N-probe.json.
fn run_probe(options: &probe::ProbeOptions, out: &std::path::Path) -> ExitCode {
    let results = match probe::run(options) {
        Ok(results) => results,
        Err(error) => {
            eprintln!("probe benchmark failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let table = results.table();
    println!("\n{table}");
    let stem = out.join(format!("scale-{}-probe", options.domains));
    let written = std::fs::create_dir_all(out).and_then(|_| {
        let json = serde_json::to_string_pretty(&results).map_err(std::io::Error::other)?;
        std::fs::write(stem.with_extension("json"), json)?;
        std::fs::write(stem.with_extension("md"), &table)
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cannot write the results to {}: {error}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("{problem}\n{USAGE}");
    ExitCode::from(2)
}
