//! The scale benchmark: kmsdns against nsupdate, dig and dnsperf on the
//! same BIND, in one run (issue 7).
//!
//! [`run`] starts [`super::bed::Bed`] with N zones, writes a configuration
//! whose publish list is those N domains (two KMS hosts, one TSIG key made
//! by tsig-keygen), then measures, each over `repetitions` runs:
//! `kmsdns bind`; `kmsdns publish` from empty and again without change,
//! against one `nsupdate -k` batch and 4 and 8 concurrent ones;
//! `kmsdns check`, `replication`, `audit --no-probe` (with and without the
//! live update probe), against one sequential `dig -f` batch of the same
//! queries and `dnsperf` with the same mix for BIND's ceiling. Every kmsdns
//! run must succeed and is verified (JSON outcome per domain, and the
//! records themselves queried at the servers); its peak resident memory is
//! read from wait4(2).
//!
//! Shared by `benches/scale/main.rs` (the full benchmark) and
//! `tests/bench_quick.rs` (N = 20, one repetition, correctness only).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

// `super::`: bed and local are this module's siblings both at the root of
// benches/scale/main.rs and inside the integration tests' bench_quick.
use super::bed::{
    Bed, Nudged, Server, HOSTS, KEY_NAME, KMS_PORT, NOTIFY_AGAIN, PARENT, RETRANSFER_AFTER, TTL,
};
use super::local::tool;
use super::operations::Operation;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Zones, and domains of the publish list (one per zone).
    pub domains: usize,
    /// Runs of each measurement; the median is reported.
    pub repetitions: usize,
    /// named worker threads (`named -n`).
    pub named_threads: u32,
    /// The kmsdns binary measured.
    pub kmsdns: PathBuf,
    /// Seconds of each dnsperf run; 0 skips dnsperf.
    pub dnsperf_seconds: u32,
    /// Run the nsupdate and dig baselines.
    pub baselines: bool,
    /// Extra global options for every kmsdns run (e.g. `--concurrency 128`).
    pub kmsdns_args: Vec<String>,
    /// Progress on stderr.
    pub verbose: bool,
    /// Keep BIND's directory after the run.
    pub keep: bool,
    /// Stop after publishing and keep BIND serving this long (for
    /// profiling a command by hand); nothing else is measured.
    pub hold: Option<Duration>,
    /// What to measure (`--only`; every operation by default), in the
    /// table's order; the set-up they need runs either way.
    pub operations: Vec<Operation>,
}

/// Median and spread of one measurement, in seconds.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: Vec<f64>,
}

impl Timing {
    fn of(runs: Vec<f64>) -> Timing {
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n == 0 {
            0.0
        } else if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Timing {
            median,
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            runs,
        }
    }

    /// `0.123 s ±0.010`: the median and the largest distance to it.
    fn show(&self) -> String {
        let spread = (self.max - self.median).max(self.median - self.min);
        format!("{} ±{}", seconds(self.median), seconds(spread))
    }
}

/// One kmsdns operation and what it is compared with.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub operation: String,
    pub kmsdns: Timing,
    /// Peak resident set size of the kmsdns process, MiB (largest run).
    pub peak_rss_mib: f64,
    /// Requests BIND counted during one kmsdns run (median run).
    pub queries: u64,
    pub updates: u64,
    /// What the time is compared with.
    pub baseline: Option<String>,
    pub baseline_time: Option<Timing>,
    /// Baseline time / kmsdns time: how many times faster kmsdns is.
    pub speedup: Option<f64>,
    /// kmsdns's queries (or updates) per second.
    pub rate: Option<f64>,
    pub unit: &'static str,
    /// BIND's measured ceiling for the same mix, per second.
    pub ceiling: Option<f64>,
    pub ceiling_source: Option<String>,
    /// rate / ceiling.
    pub share: Option<f64>,
    /// CPU per request, µs (issue 20): kmsdns's own (user + system from
    /// wait4, over the requests BIND counted), and the nameds' during the
    /// kmsdns runs; then dnsperf's own and the nameds' during the ceiling
    /// run, per query BIND counted.
    pub cpu: Option<CpuPerRequest>,
}

/// CPU time per request BIND counted, µs, client and server apart.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct CpuPerRequest {
    pub kmsdns: f64,
    pub named_under_kmsdns: f64,
    pub dnsperf: Option<f64>,
    pub named_under_dnsperf: Option<f64>,
    /// dnsperf held to kmsdns's request rate (each server its share):
    /// the rate it kept, and its own and the nameds' CPU per query then.
    pub equal_rate: Option<EqualRate>,
}

/// dnsperf at kmsdns's request rate, each server held to the queries per
/// second it got from kmsdns: named's CPU per query at the same load, so
/// that what named costs because of how kmsdns sends is told apart from
/// what the rate alone costs.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct EqualRate {
    /// kmsdns's rate (queries BIND counted over its runs' wall time).
    pub kmsdns_qps: f64,
    /// What dnsperf kept, per BIND's count over the run.
    pub dnsperf_qps: f64,
    pub dnsperf: f64,
    pub named: f64,
}

/// A baseline or ceiling measurement by itself.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub name: String,
    pub time: Timing,
    /// Requests in one run.
    pub requests: u64,
    /// Requests per second (of the median run).
    pub rate: f64,
    pub unit: &'static str,
}

/// Where and when it ran.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub date: String,
    pub bind: String,
    pub load_before: String,
    pub load_after: String,
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    pub domains: usize,
    pub servers: usize,
    pub repetitions: usize,
    pub named_threads: u32,
    pub kmsdns_args: Vec<String>,
    pub machine: Machine,
    /// What was measured, as `--only` names it.
    pub operations: Vec<&'static str>,
    pub rows: Vec<Row>,
    pub baselines: Vec<Baseline>,
    /// What was verified, one line each.
    pub verified: Vec<String>,
    /// How peak RSS was measured.
    pub rss_method: &'static str,
}

/// One process run: wall time, peak RSS (KiB), exit status, output.
struct Sample {
    wall: f64,
    /// User + system CPU of the process (and of GNU time around it), s.
    cpu: f64,
    /// The nameds' CPU during the run, s, where measured.
    named_cpu: f64,
    max_rss_kib: u64,
    status: i32,
    stdout: String,
    stderr: String,
}

/// A kmsdns run and what the servers did during it.
struct Counted {
    sample: Sample,
    /// Queries and updates BIND counted over the three servers.
    requests: (u64, u64),
    /// Queries each server counted.
    per_server: HashMap<&'static str, u64>,
}

/// The runs of one measured operation.
#[derive(Default)]
struct Runs {
    samples: Vec<Sample>,
    /// (queries, updates) BIND counted during each.
    counts: Vec<(u64, u64)>,
}

impl Runs {
    fn push(&mut self, run: Counted) {
        self.samples.push(run.sample);
        self.counts.push(run.requests);
    }
}

/// A query of a mix: where, what, with RD or not.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Question {
    server: u8,
    name: String,
    rtype: &'static str,
    recursion: bool,
}

/// What `--verbose` prints of a run's steps: each with the seconds since
/// the run began.
pub fn narrator(verbose: bool) -> impl Fn(&str) {
    let started = Instant::now();
    move |what: &str| {
        if verbose {
            eprintln!("[{:7.1}s] {what}", started.elapsed().as_secs_f64());
        }
    }
}

/// Runs the whole benchmark.
pub fn run(options: &Options) -> Result<Results, String> {
    let load_before = loadavg();
    let say = narrator(options.verbose);
    say(&format!(
        "starting BIND: primary + 2 secondaries, {} zones, named -n {}",
        options.domains, options.named_threads
    ));
    let mut bed = Bed::start(options.domains, options.named_threads);
    if options.keep {
        bed.keep();
        eprintln!("BIND directory kept: {}", bed.dir().display());
    }
    say(&format!("BIND ready on port {}", bed.port));
    let config = write_config(&bed)?;
    let mut bench = Bench {
        options,
        bed: &bed,
        config,
        runs: 0,
        verified: Vec::new(),
        nudged: Nudged::default(),
    };
    // Each row with its operation, put in the table's order at the end.
    let mut rows: Vec<(Operation, Row)> = Vec::new();
    let mut baselines = Vec::new();
    let n = options.domains;
    let reps = options.repetitions.max(1);
    let measures = |operation: Operation| options.operations.contains(&operation);

    // bind: material for N domains, printed (generation) and written to
    // a directory (generation and 3 files per zone).
    if measures(Operation::Bind) || measures(Operation::BindOut) {
        say("kmsdns bind");
        let mut printed = Vec::new();
        let mut written = Vec::new();
        for rep in 0..reps {
            if measures(Operation::Bind) {
                let sample = bench.kmsdns(&["bind"])?;
                let files = json(&sample)?["details"]["files"]
                    .as_array()
                    .map_or(0, Vec::len);
                // Per zone: records, stanza, nsupdate script; plus one per host.
                if files < 3 * n {
                    return Err(format!("kmsdns bind printed {files} files for {n} zones"));
                }
                printed.push(sample);
            }
            if measures(Operation::BindOut) {
                let out = bed.dir().join(format!("bind-{rep}"));
                let sample = bench.kmsdns(&["bind", "--out", &out.display().to_string()])?;
                let files = fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
                if files < 3 * n {
                    return Err(format!("kmsdns bind wrote {files} files for {n} zones"));
                }
                written.push(sample);
            }
        }
        bench.note(format!(
            "bind: {reps} run(s), ≥ 3 files per zone printed or written each time"
        ));
        if measures(Operation::Bind) {
            rows.push((
                Operation::Bind,
                row("bind", &printed, (0, 0), None, None, "", None),
            ));
        }
        if measures(Operation::BindOut) {
            rows.push((
                Operation::BindOut,
                row(
                    &format!("bind --out DIR ({} files)", 3 * n + HOSTS.len() + 1),
                    &written,
                    (0, 0),
                    None,
                    None,
                    "",
                    None,
                ),
            ));
        }
    }

    // updates --named-conf with every domain as a --domain: the static
    // audit of the primary's grants, which sends nothing.
    if measures(Operation::Updates) {
        say("kmsdns updates --named-conf, every domain as --domain");
        let mut audited = Vec::new();
        for _ in 0..reps {
            audited.push(bench.updates_named_conf()?);
        }
        bench.note(format!(
            "updates --named-conf: every run exited 0 with status ok and all {n} zones in its JSON"
        ));
        rows.push((
            Operation::Updates,
            row(
                &format!("updates --named-conf, {n} --domain"),
                &audited,
                (0, 0),
                None,
                None,
                "",
                None,
            ),
        ));
    }

    // publish from empty, again without change, and remove, each cycle
    // from empty to empty; publish also runs, unmeasured, as the set-up of
    // what reads or removes the records.
    let reads = options
        .operations
        .iter()
        .any(|operation| operation.reads_published())
        || options.hold.is_some();
    let cycles = if measures(Operation::Publish) || measures(Operation::Remove) {
        reps
    } else {
        usize::from(reads)
    };
    // publish again changes nothing, so one cycle can hold every run.
    let agains = match (measures(Operation::PublishAgain), cycles) {
        (false, _) => 0,
        (true, 1) => reps,
        (true, _) => 1,
    };
    let mut published = false;
    let mut first = Runs::default();
    let mut again = Runs::default();
    let mut removed = Runs::default();
    if cycles > 0 {
        say("kmsdns publish (from empty, then again), remove");
    }
    for _ in 0..cycles {
        if published {
            bench.reset()?;
        }
        if measures(Operation::Publish) {
            let run = bench.counted("json", &["publish"])?;
            bench.expect_outcomes(&run.sample, "publish", &["applied"])?;
            bench.verify_published(Server::Ns1)?;
            first.push(run);
        } else {
            bench.publish_set_up()?;
        }
        published = true;
        if !measures(Operation::PublishAgain) && !measures(Operation::Remove) {
            continue;
        }
        // The secondaries transfer every zone after the publish: measured
        // during that, publish again and remove would time BIND's catch-up.
        bench.nudged += bed.wait_replicated(Duration::from_secs(300))?;
        bed.settle();
        for _ in 0..agains {
            let run = bench.counted("json", &["publish"])?;
            bench.expect_outcomes(&run.sample, "publish", &["in-sync"])?;
            again.push(run);
        }
        if measures(Operation::Remove) {
            let run = bench.counted("json", &["remove", "--force"])?;
            bench.expect_outcomes(&run.sample, "remove", &["applied"])?;
            bench.verify_removed()?;
            removed.push(run);
            published = false;
        }
    }
    if measures(Operation::Publish) {
        bench.note(format!(
            "publish: every run applied all {n} domains (JSON outcome), and the primary serves exactly both SRV records at each"
        ));
    } else if cycles > 0 {
        bench.note(format!(
            "publish (set-up, not measured): applied all {n} domains, and the primary serves exactly both SRV records at each"
        ));
    }
    if measures(Operation::PublishAgain) {
        bench.note(format!(
            "publish again: every run found all {n} domains in sync (JSON outcome)"
        ));
    }
    if measures(Operation::Remove) {
        bench.note(format!(
            "remove --force: every run removed the records of all {n} domains (JSON outcome applied), and the primary serves no SRV record at any"
        ));
        let mut row = row(
            "remove --force (all published)",
            &removed.samples,
            median_counts(&removed.counts),
            None,
            None,
            "updates",
            Some(n as u64),
        );
        row.cpu = cpu_per_request(&removed.samples, &removed.counts);
        rows.push((Operation::Remove, row));
    }

    // Baselines for publish: nsupdate batches, each from empty.
    let mut nsupdate: Vec<(usize, Timing)> = Vec::new();
    if options.baselines && measures(Operation::Publish) {
        for processes in [1usize, 4, 8] {
            say(&format!(
                "nsupdate baseline: {processes} concurrent batch(es)"
            ));
            let mut times = Vec::new();
            for _ in 0..reps {
                bench.reset()?;
                times.push(bench.nsupdate(processes)?);
                bench.verify_published(Server::Ns1)?;
            }
            let time = Timing::of(times);
            baselines.push(Baseline {
                name: format!("nsupdate -k, {processes} concurrent batch process(es)"),
                requests: n as u64,
                rate: n as f64 / time.median,
                unit: "updates",
                time: time.clone(),
            });
            nsupdate.push((processes, time));
        }
        bench.note(format!(
            "nsupdate baselines: after each, the primary serves both SRV records in all {n} zones"
        ));
        // The records are nsupdate's now: identical to kmsdns's.
        let sample = bench.kmsdns(&["publish"])?;
        bench.expect_outcomes(&sample, "publish", &["in-sync"])?;
        published = true;
    }
    if measures(Operation::Publish) {
        let single = nsupdate
            .iter()
            .find(|(p, _)| *p == 1)
            .map(|(_, t)| t.clone());
        let ceiling = nsupdate
            .iter()
            .filter(|(p, _)| *p > 1)
            .map(|(p, t)| {
                (
                    n as f64 / t.median,
                    format!("nsupdate, {p} concurrent batches"),
                )
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let mut row = row(
            "publish (from empty)",
            &first.samples,
            median_counts(&first.counts),
            single.map(|t| ("one nsupdate -k batch".to_string(), t)),
            ceiling,
            "updates",
            Some(n as u64),
        );
        row.cpu = cpu_per_request(&first.samples, &first.counts);
        rows.push((Operation::Publish, row));
    }

    if reads && !published {
        // remove ran last: what follows reads the records.
        bench.publish_set_up()?;
    }
    if reads {
        // Everything below reads what is published; the secondaries must
        // serve it first.
        bench.nudged += bed.wait_replicated(Duration::from_secs(120))?;
        bench.verify_published(Server::Ns2)?;
        bench.verify_published(Server::Ns3)?;
        bench.note(format!(
            "replication: both secondaries serve the primary's serial and both SRV records in all {n} zones"
        ));
        bed.settle();
    }
    if let Some(hold) = options.hold {
        eprintln!(
            "holding BIND for {hold:?}: kmsdns -c {} --nameserver {}:{port} --dns-port {port} COMMAND",
            bench.config.display(),
            Server::Ns1.ip(),
            port = bed.port
        );
        std::thread::sleep(hold);
        return Err("held for profiling; nothing else measured".into());
    }

    let read_ops = [
        (
            Operation::PublishAgain,
            "publish again (no change)",
            vec!["publish"],
        ),
        (Operation::Check, "check", vec!["check"]),
        (Operation::Replication, "replication", vec!["replication"]),
        (
            Operation::AuditNoUpdates,
            "audit --no-probe --no-updates",
            vec!["audit", "--no-probe", "--no-updates"],
        ),
        (
            Operation::Audit,
            "audit --no-probe",
            vec!["audit", "--no-probe"],
        ),
    ];
    for (operation, name, args) in read_ops {
        if !measures(operation) {
            continue;
        }
        let mix = dedup(mix_of(operation, &bed.zones));
        // Queries each server counted over this operation's kmsdns runs.
        let mut per_server: HashMap<&'static str, u64> = HashMap::new();
        say(&format!("kmsdns {}", args.join(" ")));
        let Runs { samples, counts } = if operation == Operation::PublishAgain {
            std::mem::take(&mut again)
        } else {
            let mut runs = Runs::default();
            for _ in 0..reps {
                let run = bench.counted("jsonl", &args)?;
                for (server, count) in &run.per_server {
                    *per_server.entry(server).or_insert(0) += count;
                }
                bench.expect_read(&run.sample, args[0])?;
                runs.push(run);
            }
            runs
        };
        let mut cpu = cpu_per_request(&samples, &counts);
        let mut dig = None;
        if options.baselines {
            say(&format!(
                "dig -f baseline for {name}: {} queries",
                mix.len()
            ));
            let mut times = Vec::new();
            for _ in 0..reps {
                times.push(bench.dig(&mix)?);
            }
            let time = Timing::of(times);
            baselines.push(Baseline {
                name: format!("dig -f, sequential: the queries of {name}"),
                requests: mix.len() as u64,
                rate: mix.len() as f64 / time.median,
                unit: "queries",
                time: time.clone(),
            });
            dig = Some((format!("dig -f, {} queries", mix.len()), time));
        }
        let mut ceiling = None;
        if options.dnsperf_seconds > 0 && !name.starts_with("publish") {
            say(&format!("dnsperf ceiling for {name}"));
            let before = bed.counters()?;
            let named_before = bed.named_cpu();
            let (qps, dnsperf_cpu) = bench.dnsperf(&mix, options.dnsperf_seconds, None)?;
            let named = bed.named_cpu() - named_before;
            let (counted, _) = bed.counters()?.since(&before);
            if let (Some(cpu), true) = (cpu.as_mut(), counted > 0) {
                cpu.dnsperf = Some(dnsperf_cpu * 1e6 / counted as f64);
                cpu.named_under_dnsperf = Some(named * 1e6 / counted as f64);
            }
            let wall: f64 = samples.iter().map(|s| s.wall).sum();
            if let (Some(cpu), true) = (cpu.as_mut(), wall > 0.0) {
                say(&format!("dnsperf at kmsdns's rate for {name}"));
                let rates: HashMap<&'static str, f64> = per_server
                    .iter()
                    .map(|(server, count)| (*server, *count as f64 / wall))
                    .collect();
                let seconds = options.dnsperf_seconds;
                let before = bed.counters()?;
                let named_before = bed.named_cpu();
                let (_, dnsperf_cpu) = bench.dnsperf(&mix, seconds, Some(&rates))?;
                let named = bed.named_cpu() - named_before;
                let (counted, _) = bed.counters()?.since(&before);
                cpu.equal_rate = (counted > 0).then(|| EqualRate {
                    kmsdns_qps: rates.values().sum(),
                    dnsperf_qps: counted as f64 / f64::from(seconds),
                    dnsperf: dnsperf_cpu * 1e6 / counted as f64,
                    named: named * 1e6 / counted as f64,
                });
            }
            baselines.push(Baseline {
                name: format!("dnsperf, the mix of {name} ({} s)", options.dnsperf_seconds),
                requests: (qps * f64::from(options.dnsperf_seconds)) as u64,
                rate: qps,
                unit: "queries",
                time: Timing::of(vec![f64::from(options.dnsperf_seconds)]),
            });
            ceiling = Some((qps, "dnsperf, same mix".to_string()));
        }
        let mut read = row(
            name,
            &samples,
            median_counts(&counts),
            dig,
            ceiling,
            "queries",
            None,
        );
        read.cpu = cpu;
        rows.push((operation, read));
    }
    if options
        .operations
        .iter()
        .any(|operation| operation.reads_published() && *operation != Operation::PublishAgain)
    {
        bench.note(format!(
            "check, replication, audit (--format jsonl): every run exited 0, every domain and zone line ok, and the totals line ok with {n} domains"
        ));
    }
    if bench.nudged.notifies > 0 {
        bench.note(format!(
            "replication waits: {} NOTIFY(s) sent again to a secondary still behind after {NOTIFY_AGAIN:?}",
            bench.nudged.notifies
        ));
    }
    if bench.nudged.retransfers > 0 {
        bench.note(format!(
            "replication waits: {} zone(s) retransferred by a secondary still behind after {RETRANSFER_AFTER:?}",
            bench.nudged.retransfers
        ));
    }
    rows.sort_by_key(|(operation, _)| *operation);

    let machine = Machine {
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu: cpu_model(),
        date: today(),
        bind: command_line(&tool("named", "bind9"), &["-v"]),
        load_before,
        load_after: loadavg(),
    };
    say("done");
    Ok(Results {
        domains: n,
        servers: Server::ALL.len(),
        repetitions: reps,
        named_threads: options.named_threads,
        kmsdns_args: options.kmsdns_args.clone(),
        machine,
        operations: options.operations.iter().map(|o| o.name()).collect(),
        rows: rows.into_iter().map(|(_, row)| row).collect(),
        baselines,
        verified: bench.verified,
        rss_method: rss_method(),
    })
}

/// The state of a run.
struct Bench<'a> {
    options: &'a Options,
    bed: &'a Bed,
    config: PathBuf,
    runs: usize,
    verified: Vec<String>,
    /// How the waits for the secondaries nudged them.
    nudged: Nudged,
}

impl Bench<'_> {
    fn note(&mut self, line: String) {
        self.verified.push(line);
    }

    /// Runs kmsdns with the bed's resolver and port, JSON output; `Err`
    /// unless it exits 0.
    fn kmsdns(&mut self, args: &[&str]) -> Result<Sample, String> {
        self.kmsdns_as("json", args)
    }

    /// Runs kmsdns as [`Self::kmsdns`] does, with `--format format`: the
    /// read commands run with `jsonl`, as a monitoring pipeline does,
    /// because `json` is one document of the whole estate and its peak RSS
    /// would not show the windows.
    fn kmsdns_as(&mut self, format: &str, args: &[&str]) -> Result<Sample, String> {
        let sample = self.kmsdns_exiting_any(format, args)?;
        if sample.status != 0 {
            return Err(format!(
                "kmsdns {} exited {}:\n{}\n…\n{}\n{}",
                args.join(" "),
                sample.status,
                // A JSON document's summary and findings come first, and
                // say why; its details, last, only which domains.
                head(&sample.stdout, 3000),
                tail(&sample.stdout, 3000),
                tail(&sample.stderr, 3000)
            ));
        }
        Ok(sample)
    }

    /// Runs kmsdns as [`Self::kmsdns_as`] does, whatever its exit status.
    fn kmsdns_exiting_any(&mut self, format: &str, args: &[&str]) -> Result<Sample, String> {
        let port = self.bed.port.to_string();
        let nameserver = format!("{}:{port}", Server::Ns1.ip());
        let rss_file = self.bed.dir().join("runs").join("maxrss");
        let mut command = match GNU_TIME.filter(|time| Path::new(time).is_file()) {
            Some(time) => {
                let _ = fs::remove_file(&rss_file);
                let mut command = Command::new(time);
                command
                    .args(["-f", "%M", "-o"])
                    .arg(&rss_file)
                    .arg(&self.options.kmsdns);
                command
            }
            None => Command::new(&self.options.kmsdns),
        };
        command
            .arg("-c")
            .arg(&self.config)
            .args([
                "--nameserver",
                &nameserver,
                "--dns-port",
                &port,
                "--format",
                format,
            ])
            .args(&self.options.kmsdns_args)
            .args(args);
        let mut sample = self.measure(&mut command)?;
        if let Some(kib) = fs::read_to_string(&rss_file)
            .ok()
            .and_then(|text| text.lines().last()?.trim().parse::<u64>().ok())
        {
            sample.max_rss_kib = kib;
        }
        Ok(sample)
    }

    /// Runs kmsdns as [`Self::kmsdns_as`] does, with what BIND counted and
    /// the nameds' CPU during the run.
    fn counted(&mut self, format: &str, args: &[&str]) -> Result<Counted, String> {
        let before = self.bed.counters()?;
        let named_before = self.bed.named_cpu();
        let mut sample = self.kmsdns_as(format, args)?;
        sample.named_cpu = self.bed.named_cpu() - named_before;
        let after = self.bed.counters()?;
        Ok(Counted {
            sample,
            requests: after.since(&before),
            per_server: after.per_server_since(&before),
        })
    }

    /// `kmsdns updates --named-conf` of the primary with every zone as a
    /// `--domain`, checked: status ok and one zone each.
    fn updates_named_conf(&mut self) -> Result<Sample, String> {
        allow_long_command_lines()?;
        let conf = self.bed.named_conf(Server::Ns1).display().to_string();
        let domains: Vec<String> = self
            .bed
            .zones
            .iter()
            .map(|zone| format!("--domain={zone}"))
            .collect();
        let mut args = vec!["updates", "--named-conf", &conf];
        args.extend(domains.iter().map(String::as_str));
        let sample = self.kmsdns(&args)?;
        let document = json(&sample)?;
        let zones = document["details"]["zones"].as_array().map_or(0, Vec::len);
        if document["status"] != "ok" || zones != self.bed.zones.len() {
            return Err(format!(
                "updates --named-conf: status {}, {zones} zones for {} domains",
                document["status"],
                self.bed.zones.len()
            ));
        }
        Ok(sample)
    }

    /// Runs `command` with stdout and stderr to files and waits for it with
    /// wait4(2), which reports its peak RSS.
    fn measure(&mut self, command: &mut Command) -> Result<Sample, String> {
        self.runs += 1;
        let dir = self.bed.dir().join("runs");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let out = dir.join(format!("{}.out", self.runs));
        let err = dir.join(format!("{}.err", self.runs));
        let stdout = fs::File::create(&out).map_err(|e| e.to_string())?;
        let stderr = fs::File::create(&err).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
        let (status, max_rss_kib, cpu) = wait4(child.id())?;
        let wall = started.elapsed().as_secs_f64();
        Ok(Sample {
            wall,
            cpu,
            named_cpu: 0.0,
            max_rss_kib,
            status,
            stdout: fs::read_to_string(&out).unwrap_or_default(),
            stderr: fs::read_to_string(&err).unwrap_or_default(),
        })
    }

    /// Removes every published record (`kmsdns remove --force`), checked.
    fn reset(&mut self) -> Result<(), String> {
        let sample = self.kmsdns(&["remove", "--force"])?;
        let document = json(&sample)?;
        for domain in domains_of(&document, "remove")? {
            let outcome = domain["outcome"].as_str().unwrap_or("");
            if outcome != "applied" && outcome != "in-sync" {
                return Err(format!("remove: {} ended {outcome}", domain["domain"]));
            }
        }
        self.verify_removed()
    }

    /// The primary serves no SRV record at `_vlmcs._tcp` in any zone: the
    /// bed's zones hold no other, so none of ours is left.
    fn verify_removed(&self) -> Result<(), String> {
        for zone in &self.bed.zones {
            let set = self.bed.srv_set(Server::Ns1, zone)?;
            if !set.is_empty() {
                return Err(format!("after remove, {zone} still has {set:?}"));
            }
        }
        Ok(())
    }

    /// Publishes every domain, unmeasured, before what reads or removes
    /// the records, and checks the primary serves them. A domain a loaded
    /// primary left unanswered (exit 2) is published by the next run, up
    /// to three: publish changes only what is missing. A measured run is
    /// never run again. Each run that left domains out is noted.
    fn publish_set_up(&mut self) -> Result<(), String> {
        let mut failed = String::new();
        for run in 1..=3 {
            // Exit 2 with a domain failed is what is run again.
            let published = self.kmsdns_exiting_any("json", &["publish"])?;
            let published = self.expect_outcomes(&published, "publish", &["applied", "in-sync"]);
            match published {
                Ok(()) => return self.verify_published(Server::Ns1),
                Err(why) => {
                    self.note(format!("publish (set-up), run {run} of 3: {why}"));
                    failed = why;
                }
            }
        }
        Err(format!("publish (set-up), three times: {failed}"))
    }

    /// Every domain of a publish/remove run ended with one of `outcomes`,
    /// and the run's status is ok.
    fn expect_outcomes(
        &self,
        sample: &Sample,
        command: &str,
        outcomes: &[&str],
    ) -> Result<(), String> {
        let document = json(sample)?;
        let domains = domains_of(&document, command)?;
        if domains.len() != self.bed.zones.len() {
            return Err(format!(
                "{command}: {} domains in the JSON, {} expected",
                domains.len(),
                self.bed.zones.len()
            ));
        }
        for domain in domains {
            if !outcomes.iter().any(|outcome| domain["outcome"] == *outcome) {
                return Err(format!(
                    "{command}: {} ended {} (expected {}): {}",
                    domain["domain"],
                    domain["outcome"],
                    outcomes.join(" or "),
                    domain["error"]
                ));
            }
        }
        if document["status"] != "ok" {
            return Err(format!("{command}: status {}", document["status"]));
        }
        Ok(())
    }

    /// A check, replication or audit run in JSON lines found everything in
    /// order: every domain line ok (its check showing both records),
    /// every zone's replication converged over the three servers, and the
    /// totals line, last, ok and counting one domain per zone.
    fn expect_read(&self, sample: &Sample, command: &str) -> Result<(), String> {
        let lines = json_lines(sample)?;
        let (totals, lines) = lines
            .split_last()
            .ok_or_else(|| format!("{command}: no JSON lines"))?;
        if totals["type"] != "totals" {
            return Err(format!(
                "{command}: the last line is not the totals: {totals}"
            ));
        }
        let not_ok: Vec<String> = lines
            .iter()
            .chain(std::iter::once(totals))
            .flat_map(|line| line["findings"].as_array().into_iter().flatten())
            .filter(|f| f["severity"] != "ok")
            .take(5)
            .map(|f| format!("{} {}: {}", f["severity"], f["id"], f["message"]))
            .collect();
        if totals["status"] != "ok" || !not_ok.is_empty() {
            return Err(format!(
                "{command}: status {}: {not_ok:#?}",
                totals["status"]
            ));
        }
        let of_type = |kind: &'static str| lines.iter().filter(move |line| line["type"] == kind);
        let n = self.bed.zones.len();
        let domains = of_type("domain").count();
        if domains != n || totals["domains"] != n {
            return Err(format!(
                "{command}: {domains} domain lines, totals counts {}, {n} expected",
                totals["domains"]
            ));
        }
        for line in of_type("domain") {
            if line["status"] != "ok" {
                return Err(format!(
                    "{command}: {} is {}",
                    line["domain"], line["status"]
                ));
            }
            let check = match command {
                "check" => Some(&line["details"]),
                "audit" => Some(&line["details"]["check"]),
                _ => None,
            };
            if let Some(check) = check {
                let records = check["authoritative"]["records"]
                    .as_array()
                    .map_or(0, Vec::len);
                if records != HOSTS.len() {
                    return Err(format!(
                        "{command}: {} shows {records} records",
                        line["domain"]
                    ));
                }
            }
        }
        if command != "check" {
            let mut zones = 0;
            for line in of_type("zone") {
                let zone = match command {
                    "replication" => &line["details"],
                    _ => &line["details"]["replication"],
                };
                if zone.is_null() {
                    continue;
                }
                zones += 1;
                let servers = zone["servers"].as_array().map_or(0, Vec::len);
                if zone["converged"] != true || servers != Server::ALL.len() {
                    return Err(format!(
                        "{command}: {} not converged over 3 servers",
                        line["zone"]
                    ));
                }
            }
            if zones != n {
                return Err(format!("{command}: {zones} zone lines, {n} expected"));
            }
        }
        Ok(())
    }

    /// `server` serves exactly both SRV records in every zone.
    fn verify_published(&self, server: Server) -> Result<(), String> {
        let expected: BTreeSet<String> = HOSTS
            .iter()
            .map(|host| format!("0 0 {KMS_PORT} {host}."))
            .collect();
        for zone in &self.bed.zones {
            let found: BTreeSet<String> = self.bed.srv_set(server, zone)?.into_iter().collect();
            if found != expected {
                return Err(format!(
                    "{} serves {found:?} for _vlmcs._tcp.{zone}, expected {expected:?}",
                    server.name()
                ));
            }
        }
        Ok(())
    }

    /// `processes` nsupdate batches at once, the zones split between them;
    /// the wall time until the last one ends.
    fn nsupdate(&mut self, processes: usize) -> Result<f64, String> {
        let zones = &self.bed.zones;
        let chunk = zones.len().div_ceil(processes).max(1);
        let mut scripts = Vec::new();
        for (index, part) in zones.chunks(chunk).enumerate() {
            let mut script = String::new();
            let _ = writeln!(script, "server {} {}", Server::Ns1.ip(), self.bed.port);
            for zone in part {
                let _ = writeln!(script, "zone {zone}.");
                for host in HOSTS {
                    let _ = writeln!(
                        script,
                        "update add _vlmcs._tcp.{zone}. {TTL} IN SRV 0 0 {KMS_PORT} {host}."
                    );
                }
                let _ = writeln!(script, "send");
            }
            let path = self
                .bed
                .dir()
                .join(format!("nsupdate-{processes}-{index}.txt"));
            fs::write(&path, script).map_err(|e| e.to_string())?;
            scripts.push(path);
        }
        let started = Instant::now();
        let mut children = Vec::new();
        for script in &scripts {
            let child = Command::new(tool("nsupdate", "bind9-dnsutils"))
                .arg("-k")
                .arg(&self.bed.key_file)
                .arg(script)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start nsupdate: {e}"))?;
            children.push(child);
        }
        for child in children {
            let output = child.wait_with_output().map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!(
                    "nsupdate failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
        Ok(started.elapsed().as_secs_f64())
    }

    /// One `dig -f` process asking `mix` in order.
    fn dig(&mut self, mix: &[Question]) -> Result<f64, String> {
        let mut batch = String::new();
        for q in mix {
            let _ = writeln!(
                batch,
                "@{} {} {} {}",
                server_ip(q.server),
                q.name,
                q.rtype,
                if q.recursion {
                    "+recurse"
                } else {
                    "+norecurse"
                }
            );
        }
        let path = self.bed.dir().join("dig-batch.txt");
        fs::write(&path, batch).map_err(|e| e.to_string())?;
        let mut command = Command::new(tool("dig", "bind9-dnsutils"));
        command
            .args([
                "-p",
                &self.bed.port.to_string(),
                "+tries=1",
                "+time=2",
                "-f",
            ])
            .arg(&path);
        let sample = self.measure(&mut command)?;
        if sample.status != 0 {
            return Err(format!(
                "dig -f exited {}: {}",
                sample.status,
                tail(&sample.stderr, 2000)
            ));
        }
        let answers = sample.stdout.matches("status: NOERROR").count();
        if answers != mix.len() {
            return Err(format!(
                "dig -f: {answers} NOERROR answers to {} queries",
                mix.len()
            ));
        }
        Ok(sample.wall)
    }

    /// BIND's ceiling for `mix`: one dnsperf per server at once, each with
    /// its part of the mix, for `seconds`; the summed queries per second,
    /// and the dnsperf processes' CPU (user + system, s) from wait4. With
    /// `rates`, each server's dnsperf is held to its rate there (`-Q`,
    /// queries per second; a server without one is not asked).
    fn dnsperf(
        &mut self,
        mix: &[Question],
        seconds: u32,
        rates: Option<&HashMap<&'static str, f64>>,
    ) -> Result<(f64, f64), String> {
        let mut children = Vec::new();
        for server in Server::ALL {
            let part: Vec<&Question> = mix.iter().filter(|q| q.server == server as u8).collect();
            let rate = rates.map(|rates| rates.get(server.name()).copied().unwrap_or(0.0));
            if part.is_empty() || rate.is_some_and(|rate| rate < 1.0) {
                continue;
            }
            let mut data = String::new();
            for q in part {
                let _ = writeln!(data, "{} {}", q.name, q.rtype);
            }
            let path = self
                .bed
                .dir()
                .join(format!("dnsperf-{}.txt", server.name()));
            fs::write(&path, data).map_err(|e| e.to_string())?;
            let child = Command::new(tool("dnsperf", "dnsperf"))
                .args([
                    "-s",
                    &server.ip().to_string(),
                    "-p",
                    &self.bed.port.to_string(),
                ])
                .args(["-l", &seconds.to_string(), "-c", "4", "-q", "200"])
                .args(
                    rate.iter()
                        .flat_map(|rate| ["-Q".to_owned(), rate.round().to_string()]),
                )
                .arg("-d")
                .arg(&path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start dnsperf: {e}"))?;
            children.push(child);
        }
        let mut qps = 0.0;
        let mut cpu = 0.0;
        for mut child in children {
            // dnsperf prints a few hundred bytes: they wait in the pipes
            // until it has been reaped with its resource usage.
            let (_, _, used) = wait4(child.id())?;
            cpu += used;
            let mut stdout = String::new();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stdout.take() {
                let _ = pipe.read_to_string(&mut stdout);
            }
            if let Some(mut pipe) = child.stderr.take() {
                let _ = pipe.read_to_string(&mut stderr);
            }
            let text = stdout;
            let rate = text
                .lines()
                .find_map(|line| line.trim().strip_prefix("Queries per second:"))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .ok_or_else(|| format!("dnsperf printed no rate:\n{text}{stderr}"))?;
            qps += rate;
        }
        Ok((qps, cpu))
    }
}

/// A row from kmsdns samples and what they are compared with.
fn row(
    operation: &str,
    samples: &[Sample],
    counts: (u64, u64),
    baseline: Option<(String, Timing)>,
    ceiling: Option<(f64, String)>,
    unit: &'static str,
    requests: Option<u64>,
) -> Row {
    let kmsdns = Timing::of(samples.iter().map(|s| s.wall).collect());
    let peak = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    let (queries, updates) = counts;
    let requests = requests.unwrap_or(match unit {
        "updates" => updates,
        _ => queries,
    });
    let rate = (!unit.is_empty() && kmsdns.median > 0.0).then(|| requests as f64 / kmsdns.median);
    let speedup = baseline.as_ref().map(|(_, t)| t.median / kmsdns.median);
    let share = match (rate, &ceiling) {
        (Some(rate), Some((ceiling, _))) if *ceiling > 0.0 => Some(rate / ceiling),
        _ => None,
    };
    Row {
        operation: operation.to_string(),
        kmsdns,
        peak_rss_mib: peak as f64 / 1024.0,
        queries,
        updates,
        baseline: baseline.as_ref().map(|(name, _)| name.clone()),
        baseline_time: baseline.map(|(_, t)| t),
        speedup,
        rate,
        unit,
        ceiling: ceiling.as_ref().map(|(c, _)| *c),
        ceiling_source: ceiling.map(|(_, s)| s),
        share,
        cpu: None,
    }
}

/// kmsdns's and the nameds' CPU per request over all `samples`, whose
/// runs BIND counted `counts` (queries, updates) of.
fn cpu_per_request(samples: &[Sample], counts: &[(u64, u64)]) -> Option<CpuPerRequest> {
    let requests: u64 = counts.iter().map(|(q, u)| q + u).sum();
    let per = |cpu: f64| cpu * 1e6 / requests as f64;
    (requests > 0).then(|| CpuPerRequest {
        kmsdns: per(samples.iter().map(|s| s.cpu).sum()),
        named_under_kmsdns: per(samples.iter().map(|s| s.named_cpu).sum()),
        ..CpuPerRequest::default()
    })
}

/// The median of the (queries, updates) counted per run.
fn median_counts(counts: &[(u64, u64)]) -> (u64, u64) {
    let mut q: Vec<u64> = counts.iter().map(|c| c.0).collect();
    let mut u: Vec<u64> = counts.iter().map(|c| c.1).collect();
    q.sort_unstable();
    u.sort_unstable();
    (
        q.get(q.len() / 2).copied().unwrap_or(0),
        u.get(u.len() / 2).copied().unwrap_or(0),
    )
}

/// The configuration: the N domains, two hosts, the key.
fn write_config(bed: &Bed) -> Result<PathBuf, String> {
    let path = bed.dir().join("kmsdns.toml");
    fs::write(&path, config_text(bed)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The benchmark's configuration: every zone of the bed in the publish
/// list, the two KMS hosts, the bed's TSIG key.
pub fn config_text(bed: &Bed) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# kmsdns scale benchmark: {} domains",
        bed.zones.len()
    );
    let _ = writeln!(text, "ttl = {TTL}\nkey = \"bench\"\npublish-list = [");
    for zone in &bed.zones {
        let _ = writeln!(text, "    \"{zone}\",");
    }
    let _ = writeln!(text, "]");
    for host in HOSTS {
        let _ = writeln!(text, "\n[[host]]\nname = \"{host}\"\nport = {KMS_PORT}");
    }
    let _ = writeln!(
        text,
        "\n[tsig-key.bench]\nfile = \"{}\"\nname = \"{KEY_NAME}\"",
        bed.key_file.display()
    );
    text
}

fn server_ip(index: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(127, 53, 7, index + 1)
}

fn q(server: Server, name: String, rtype: &'static str, recursion: bool) -> Question {
    Question {
        server: server as u8,
        name,
        rtype,
        recursion,
    }
}

/// The addresses of `host`, through the resolver (the primary, RD set).
fn addresses(host: &str) -> [Question; 2] {
    [
        q(Server::Ns1, host.to_string(), "A", true),
        q(Server::Ns1, host.to_string(), "AAAA", true),
    ]
}

/// What `publish` reads before it decides: the zone's SOA through the
/// resolver, the primary's (MNAME's) addresses, the RRset at the primary.
fn publish_reads(zones: &[String]) -> Vec<Question> {
    let mut mix = Vec::new();
    for zone in zones {
        let owner = format!("_vlmcs._tcp.{zone}.");
        mix.push(q(Server::Ns1, owner.clone(), "SOA", true));
        mix.extend(addresses(&format!("ns1.{PARENT}.")));
        mix.push(q(Server::Ns1, owner, "SRV", false));
    }
    mix
}

/// What `check` needs per domain: the SRV RRset through the resolver and
/// at the primary (found from the SOA and MNAME's addresses), and each
/// target's A and AAAA; per zone, for the DNSSEC check, its NS set through
/// the resolver and its DNSKEY RRset at each of the three servers.
fn check_mix(zones: &[String]) -> Vec<Question> {
    let mut mix = Vec::new();
    for zone in zones {
        let owner = format!("_vlmcs._tcp.{zone}.");
        mix.push(q(Server::Ns1, owner.clone(), "SRV", true));
        mix.push(q(Server::Ns1, owner.clone(), "SOA", true));
        mix.extend(addresses(&format!("ns1.{PARENT}.")));
        mix.push(q(Server::Ns1, owner, "SRV", false));
        for host in HOSTS {
            mix.extend(addresses(&format!("{host}.")));
        }
        mix.push(q(Server::Ns1, format!("{zone}."), "NS", true));
        for server in Server::ALL {
            mix.push(q(server, format!("{zone}."), "DNSKEY", false));
        }
    }
    mix
}

/// What `replication` needs per zone: the zone (SOA of the owner), its NS
/// set and each NS name's addresses through the resolver, then the zone's
/// SOA and the SRV RRset at each of the three servers.
fn replication_mix(zones: &[String]) -> Vec<Question> {
    let mut mix = Vec::new();
    for zone in zones {
        let owner = format!("_vlmcs._tcp.{zone}.");
        mix.push(q(Server::Ns1, owner.clone(), "SOA", true));
        mix.push(q(Server::Ns1, format!("{zone}."), "NS", true));
        for server in Server::ALL {
            mix.extend(addresses(&format!("{}.{PARENT}.", server.name())));
        }
        for server in Server::ALL {
            mix.push(q(server, format!("{zone}."), "SOA", false));
            mix.push(q(server, owner.clone(), "SRV", false));
        }
    }
    mix
}

/// The questions a read operation asks, for its `dig -f` batch and
/// dnsperf's mix; none for the others, which are not compared with them.
fn mix_of(operation: Operation, zones: &[String]) -> Vec<Question> {
    match operation {
        Operation::PublishAgain => publish_reads(zones),
        Operation::Check => check_mix(zones),
        Operation::Replication => replication_mix(zones),
        Operation::AuditNoUpdates => [check_mix(zones), replication_mix(zones)].concat(),
        Operation::Audit => [
            check_mix(zones),
            replication_mix(zones),
            publish_reads(zones),
        ]
        .concat(),
        _ => Vec::new(),
    }
}

/// The mix without repeats, in first-seen order: an administrator's batch
/// asks each question once (the same host's address once, not per domain).
fn dedup(mix: Vec<Question>) -> Vec<Question> {
    let mut seen = BTreeSet::new();
    mix.into_iter().filter(|q| seen.insert(q.clone())).collect()
}

/// The JSON document a kmsdns run printed.
fn json(sample: &Sample) -> Result<serde_json::Value, String> {
    serde_json::from_str(&sample.stdout).map_err(|e| {
        format!(
            "kmsdns printed no JSON ({e}): {}",
            tail(&sample.stdout, 500)
        )
    })
}

/// The lines of a `--format jsonl` run, each parsed.
fn json_lines(sample: &Sample) -> Result<Vec<serde_json::Value>, String> {
    sample
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .map_err(|e| format!("kmsdns printed a line that is not JSON ({e}): {line}"))
        })
        .collect()
}

fn domains_of<'a>(
    document: &'a serde_json::Value,
    command: &str,
) -> Result<&'a Vec<serde_json::Value>, String> {
    document["details"]["domains"]
        .as_array()
        .ok_or_else(|| format!("{command}: no details.domains in the JSON"))
}

/// GNU time: it forks kmsdns from its own small process and reports
/// kmsdns's peak RSS alone. Measured from here, a child's `ru_maxrss`
/// starts at this harness's own high-water mark: Rust spawns with vfork
/// (posix_spawn), and exec(2) carries the old address space's peak over.
const GNU_TIME: Option<&str> = Some("/usr/bin/time");

/// How peak RSS is measured in this run.
pub fn rss_method() -> &'static str {
    match GNU_TIME.filter(|time| Path::new(time).is_file()) {
        Some(_) => "GNU time %M (kmsdns alone)",
        None => "wait4 ru_maxrss (an upper bound: includes the harness's own peak; install `time`)",
    }
}

/// Lets a child take 100,000 `--domain` arguments (4 MB): Linux allows a
/// quarter of the stack limit for arguments (at most 6 MB), 2 MB with the
/// usual 8 MB, so the harness raises its soft stack limit, which its
/// children inherit, to 32 MB (or the hard limit, if lower).
fn allow_long_command_lines() -> Result<(), String> {
    const WANTED: libc::rlim_t = 32 << 20;
    // SAFETY: an all-zero rlimit is a valid value; getrlimit fills it in.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer for RLIMIT_STACK.
    if unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    if limit.rlim_cur == libc::RLIM_INFINITY || limit.rlim_cur >= WANTED {
        return Ok(());
    }
    limit.rlim_cur = WANTED.min(limit.rlim_max);
    // SAFETY: a valid rlimit, lowering nothing.
    if unsafe { libc::setrlimit(libc::RLIMIT_STACK, &limit) } != 0 {
        return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// waitpid with the child's resource usage: (exit status, peak RSS KiB,
/// user + system CPU in seconds, its waited-for children's included).
fn wait4(pid: u32) -> Result<(i32, u64, f64), String> {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child's PID, with valid out-pointers; the
    // Child handle is never waited on afterwards.
    let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    if waited < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    // ru_maxrss is in KiB on Linux.
    Ok((code, u64::try_from(usage.ru_maxrss).unwrap_or(0), cpu))
}

/// At most the first `max` bytes of `text`, cut at a character.
fn head(text: &str, max: usize) -> &str {
    let end = (0..=max.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[..end]
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

/// `7.1 · 6.4`: a kmsdns figure and its dnsperf counterpart, if any.
fn both(kmsdns: f64, dnsperf: Option<f64>) -> String {
    match dnsperf {
        Some(dnsperf) => format!("{kmsdns:.1} · {dnsperf:.1}"),
        None => format!("{kmsdns:.1} · –"),
    }
}

fn seconds(value: f64) -> String {
    if value < 1.0 {
        format!("{:.0} ms", value * 1000.0)
    } else {
        format!("{value:.2} s")
    }
}

pub fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn today() -> String {
    command_line(Path::new("date"), &["-u", "+%Y-%m-%d"])
}

fn command_line(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

impl Results {
    /// The table, Markdown, as `docs/benchmarks.md` shows it.
    pub fn table(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{} domains × {} servers, {} repetition(s), median ±largest distance to it; named -n {}{}{}",
            self.domains,
            self.servers,
            self.repetitions,
            self.named_threads,
            if self.kmsdns_args.is_empty() {
                String::new()
            } else {
                format!("; kmsdns {}", self.kmsdns_args.join(" "))
            },
            if self.operations.len() < Operation::ALL.len() {
                format!("; only {}", self.operations.join(", "))
            } else {
                String::new()
            }
        );
        let _ = writeln!(text);
        let _ = writeln!(
            text,
            "| operation | kmsdns | µs/domain | baseline | baseline time | kmsdns faster | kmsdns rate | BIND ceiling | share of ceiling | requests (BIND-counted) | peak RSS | CPU µs/request: kmsdns · dnsperf | named CPU µs/query: under kmsdns · dnsperf | at kmsdns's rate: queries/s kmsdns · dnsperf | at kmsdns's rate, CPU µs/query: dnsperf · named under it |"
        );
        let _ = writeln!(
            text,
            "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for row in &self.rows {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "–".to_string());
            let equal = row.cpu.and_then(|c| c.equal_rate);
            let _ = writeln!(
                text,
                "| {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {:.1} MiB | {} | {} | {} | {} |",
                row.operation,
                row.kmsdns.show(),
                row.kmsdns.median * 1e6 / self.domains.max(1) as f64,
                opt(row.baseline.clone()),
                opt(row.baseline_time.as_ref().map(Timing::show)),
                opt(row.speedup.map(|s| format!("{s:.2}×"))),
                opt(row.rate.map(|r| format!("{r:.0} {}/s", row.unit))),
                opt(row.ceiling.map(|c| format!("{c:.0}/s"))),
                opt(row.share.map(|s| format!("{:.0}%", s * 100.0))),
                if row.unit.is_empty() {
                    "–".to_string()
                } else {
                    format!("{} q, {} upd", row.queries, row.updates)
                },
                row.peak_rss_mib,
                opt(row.cpu.map(|c| both(c.kmsdns, c.dnsperf))),
                opt(row
                    .cpu
                    .map(|c| both(c.named_under_kmsdns, c.named_under_dnsperf))),
                opt(equal.map(|e| format!("{:.0} · {:.0}", e.kmsdns_qps, e.dnsperf_qps))),
                opt(equal.map(|e| both(e.dnsperf, Some(e.named)))),
            );
        }
        if !self.baselines.is_empty() {
            let _ = writeln!(text);
            let _ = writeln!(text, "| baseline | time | requests | rate |");
            let _ = writeln!(text, "|---|---:|---:|---:|");
            for b in &self.baselines {
                let _ = writeln!(
                    text,
                    "| {} | {} | {} | {:.0} {}/s |",
                    b.name,
                    b.time.show(),
                    b.requests,
                    b.rate,
                    b.unit
                );
            }
        }
        let _ = writeln!(text);
        let m = &self.machine;
        let _ = writeln!(
            text,
            "Measured {} on {} CPU(s), {}; {}; load average before {}, after {}. Peak RSS: {}.",
            m.date, m.nproc, m.cpu, m.bind, m.load_before, m.load_after, self.rss_method
        );
        text
    }
}
