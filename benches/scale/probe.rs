//! The cases users run (issue 20): `kmsdns audit` as cron runs it, with
//! the KMS probe, and with one of the three servers silent; peak RSS and
//! own CPU of each.
//!
//! The bed's zones are written with their two SRV records, as `publish`
//! leaves them (no N updates and 2 × N transfers before the first case).
//! Its two KMS hosts (`kms1`, `kms2` of the parent zone, at
//! 127.53.7.11 and .12) get stand-in KMS responders on port 1688, the
//! test bed's (`tests/common/kms_responder.rs`), which answer the RPC bind
//! as a KMS host does. The cases:
//! - `audit --no-probe`, for comparison;
//! - both hosts answer;
//! - `kms2` reads the bind and never answers (the probe waits for its
//!   `--timeout`), `kms1` answers;
//! - nothing listens on either (each connect is refused);
//! - both answer, and the secondary `ns3` is stopped (SIGSTOP): it takes
//!   every query and answers none, like a server that is down.
//!
//! Each run is `kmsdns audit` in the text format, as from cron, and is
//! verified from its summary line (domains by status, KMS addresses
//! reachable) and its exit status. Peak RSS and user + system CPU come
//! from GNU time (`%M %U %S`), for the kmsdns process alone.

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::bed::{Bed, Server, KMS_PORT};
use super::harness::{config_text, loadavg, narrator};
use super::kms_responder::{KmsResponder, Mode};
use super::linearity::thousands;

/// GNU time, which reports the peak RSS and CPU of kmsdns alone.
const GNU_TIME: &str = "/usr/bin/time";

/// What to run.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    pub domains: usize,
    pub repetitions: usize,
    pub named_threads: u32,
    pub kmsdns: PathBuf,
    /// `--timeout` of every run: what a silent KMS host or server costs
    /// per attempt.
    pub timeout: Duration,
    /// Extra global options for every kmsdns run.
    pub kmsdns_args: Vec<String>,
    /// Also the case of a stopped server (each zone then waits for it:
    /// about 25 ms of wall time per domain with --timeout 500ms).
    pub stopped_server: bool,
    pub verbose: bool,
}

/// One case, measured.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeRun {
    pub case: String,
    /// Median wall time, seconds.
    pub seconds: f64,
    /// Largest peak RSS over the repetitions, MiB.
    pub peak_rss_mib: f64,
    /// Median user + system CPU of kmsdns, seconds.
    pub cpu_seconds: f64,
    pub exit_status: i32,
    /// The run's summary line, as verified.
    pub summary: String,
}

/// Every case, and where it ran.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResults {
    pub domains: usize,
    pub repetitions: usize,
    pub timeout_ms: u64,
    pub kmsdns_args: Vec<String>,
    pub load_before: String,
    pub load_after: String,
    pub runs: Vec<ProbeRun>,
}

/// What a case must find: exit status, domains by status, addresses
/// reachable of those probed.
struct Expect {
    status: i32,
    ok: usize,
    warning: usize,
    critical: usize,
    reachable: usize,
    probed: usize,
}

/// The KMS hosts' addresses, as the bed's parent zone publishes them.
fn host_ip(index: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 53, 7, 11 + index))
}

/// Starts the bed, publishes every domain, then measures each case.
pub fn run(options: &ProbeOptions) -> Result<ProbeResults, String> {
    if !Path::new(GNU_TIME).is_file() {
        return Err(format!(
            "{GNU_TIME} is missing (apt-get install time): it measures peak RSS and CPU"
        ));
    }
    let load_before = loadavg();
    let say = narrator(options.verbose);
    say(&format!(
        "starting BIND with {} zones, their SRV records in place",
        options.domains
    ));
    let bed = Bed::start_published(options.domains, options.named_threads);
    for index in 0..2 {
        super::local::ensure_loopback(host_ip(index));
    }
    let config = bed.dir().join("kmsdns.toml");
    fs::write(&config, config_text(&bed)).map_err(|e| e.to_string())?;
    let bench = Runner {
        options,
        bed: &bed,
        config,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the responders' runtime: {e}"))?;
    // A dropped responder's listener closes when its runtime gets to the
    // aborted task: the next one on the same port waits for that.
    let respond = |index: u8, mode: Mode| {
        let addr = (host_ip(index), KMS_PORT).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match runtime.block_on(KmsResponder::start_at(addr, mode)) {
                Ok(responder) => return Ok(responder),
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => return Err(format!("cannot listen on {addr}: {e}")),
            }
        }
    };
    let n = options.domains;
    let mut runs = Vec::new();

    say("kmsdns audit --no-probe");
    runs.push(bench.case(
        "audit --no-probe",
        &["audit", "--no-probe"],
        &Expect {
            status: 0,
            ok: n,
            warning: 0,
            critical: 0,
            reachable: 0,
            probed: 0,
        },
    )?);

    let kms = [respond(0, Mode::Kms)?, respond(1, Mode::Kms)?];
    say("kmsdns audit, both KMS hosts answering");
    runs.push(bench.case(
        "audit, KMS hosts answering",
        &["audit"],
        &Expect {
            status: 0,
            ok: n,
            warning: 0,
            critical: 0,
            reachable: 2,
            probed: 2,
        },
    )?);
    drop(kms);

    let kms = [respond(0, Mode::Kms)?, respond(1, Mode::NeverAnswer)?];
    say("kmsdns audit, kms2 never answers");
    runs.push(bench.case(
        "audit, one KMS host silent",
        &["audit"],
        &Expect {
            status: 1,
            ok: 0,
            warning: n,
            critical: 0,
            reachable: 1,
            probed: 2,
        },
    )?);
    drop(kms);

    say("kmsdns audit, nothing on 1688");
    runs.push(bench.case(
        "audit, no KMS host listening",
        &["audit"],
        &Expect {
            status: 2,
            ok: 0,
            warning: 0,
            critical: n,
            reachable: 0,
            probed: 2,
        },
    )?);

    if !options.stopped_server {
        return Ok(results(options, load_before, runs));
    }
    let kms = [respond(0, Mode::Kms)?, respond(1, Mode::Kms)?];
    say("kmsdns audit, ns3 stopped");
    let stopped = bed.pause(Server::Ns3);
    let silent_server = bench.case(
        "audit, one of three servers silent",
        &["audit"],
        &Expect {
            status: 1,
            ok: 0,
            warning: n,
            critical: 0,
            reachable: 2,
            probed: 2,
        },
    );
    drop(stopped);
    runs.push(silent_server?);
    drop(kms);
    Ok(results(options, load_before, runs))
}

fn results(options: &ProbeOptions, load_before: String, runs: Vec<ProbeRun>) -> ProbeResults {
    ProbeResults {
        domains: options.domains,
        repetitions: options.repetitions,
        timeout_ms: u64::try_from(options.timeout.as_millis()).unwrap_or(u64::MAX),
        kmsdns_args: options.kmsdns_args.clone(),
        load_before,
        load_after: loadavg(),
        runs,
    }
}

/// Runs kmsdns against the bed.
struct Runner<'a> {
    options: &'a ProbeOptions,
    bed: &'a Bed,
    config: PathBuf,
}

/// One run under GNU time.
struct Sample {
    wall: f64,
    rss_kib: u64,
    cpu: f64,
    status: i32,
    stdout: String,
}

impl Runner<'_> {
    /// `options.repetitions` runs of `args`, each verified against `expect`.
    fn case(&self, name: &str, args: &[&str], expect: &Expect) -> Result<ProbeRun, String> {
        let mut samples = Vec::new();
        for _ in 0..self.options.repetitions.max(1) {
            let sample = self.timed(args)?;
            verify(name, &sample, expect, self.bed.zones.len())?;
            samples.push(sample);
        }
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        let last = samples.last().ok_or("no run")?;
        Ok(ProbeRun {
            case: name.to_string(),
            seconds: median(samples.iter().map(|s| s.wall).collect()),
            peak_rss_mib: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0) as f64 / 1024.0,
            cpu_seconds: median(samples.iter().map(|s| s.cpu).collect()),
            exit_status: last.status,
            summary: summary_line(&last.stdout).unwrap_or_default().to_string(),
        })
    }

    /// The options of every run: the bed's configuration, resolver, port,
    /// `--timeout`.
    fn common_args(&self) -> Vec<String> {
        let port = self.bed.port.to_string();
        let mut args = vec![
            "-c".to_string(),
            self.config.display().to_string(),
            "--nameserver".to_string(),
            format!("{}:{port}", Server::Ns1.ip()),
            "--dns-port".to_string(),
            port,
            "--timeout".to_string(),
            format!("{}ms", self.options.timeout.as_millis()),
        ];
        args.extend(self.options.kmsdns_args.iter().cloned());
        args
    }

    /// Runs kmsdns under GNU time; stdout to a file, so that a large
    /// output costs the harness no pipe buffer.
    fn timed(&self, args: &[&str]) -> Result<Sample, String> {
        let dir = self.bed.dir().join("probe-runs");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let (out, err, usage) = (dir.join("out"), dir.join("err"), dir.join("usage"));
        let mut command = Command::new(GNU_TIME);
        command
            .args(["-f", "%M %U %S", "-o"])
            .arg(&usage)
            .arg(&self.options.kmsdns)
            .args(self.common_args())
            .args(args);
        let started = Instant::now();
        let status = command
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).map_err(|e| e.to_string())?)
            .stderr(fs::File::create(&err).map_err(|e| e.to_string())?)
            .status()
            .map_err(|e| format!("cannot run {GNU_TIME}: {e}"))?;
        let wall = started.elapsed().as_secs_f64();
        let usage = fs::read_to_string(&usage).map_err(|e| e.to_string())?;
        let figures: Vec<f64> = usage
            .lines()
            .last()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let [rss, user, system] = figures[..] else {
            return Err(format!("GNU time printed {usage:?}"));
        };
        let stdout = fs::read_to_string(&out).map_err(|e| e.to_string())?;
        let status = status.code().unwrap_or(-1);
        if !(0..=2).contains(&status) {
            return Err(format!(
                "kmsdns {} exited {status}:\n{}",
                args.join(" "),
                fs::read_to_string(&err).unwrap_or_default()
            ));
        }
        Ok(Sample {
            wall,
            rss_kib: rss as u64,
            cpu: user + system,
            status,
            stdout,
        })
    }
}

/// `audit N domain(s): A ok, B warning, C critical; R of P KMS address(es) reachable, ...`
fn summary_line(text: &str) -> Option<&str> {
    text.lines()
        .find(|line| line.starts_with("audit ") && line.contains(" domain(s): "))
}

/// The exit status, the domains by status and the addresses reachable are
/// what `expect` says.
fn verify(case: &str, sample: &Sample, expect: &Expect, domains: usize) -> Result<(), String> {
    let line = summary_line(&sample.stdout).ok_or_else(|| {
        format!(
            "{case}: no audit summary line in:\n{}",
            head(&sample.stdout)
        )
    })?;
    let numbers: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|v| v.parse().ok())
        .collect();
    let want = [
        domains,
        expect.ok,
        expect.warning,
        expect.critical,
        expect.reachable,
        expect.probed,
    ];
    if sample.status != expect.status || numbers.get(..6) != Some(&want[..]) {
        return Err(format!(
            "{case}: exit {} and {line:?}, expected exit {} and {want:?}\n{}",
            sample.status,
            expect.status,
            head(&sample.stdout)
        ));
    }
    Ok(())
}

fn head(text: &str) -> String {
    text.lines().take(30).collect::<Vec<_>>().join("\n")
}

impl ProbeResults {
    /// A Markdown table of the cases.
    pub fn table(&self) -> String {
        let mut text = format!(
            "audit of {} domains × 3 servers, text format, --timeout {} ms, {} repetition(s){}; load average {} before, {} after\n\n\
             | case | wall | own CPU (user + sys) | peak RSS | exit | summary |\n|---|---:|---:|---:|---:|---|\n",
            thousands(self.domains),
            self.timeout_ms,
            self.repetitions,
            if self.kmsdns_args.is_empty() {
                String::new()
            } else {
                format!("; kmsdns {}", self.kmsdns_args.join(" "))
            },
            self.load_before,
            self.load_after,
        );
        for run in &self.runs {
            let _ = writeln!(
                text,
                "| {} | {:.2} s | {:.2} s | {:.1} MiB | {} | {} |",
                run.case,
                run.seconds,
                run.cpu_seconds,
                run.peak_rss_mib,
                run.exit_status,
                run.summary.split(';').next().unwrap_or("")
            );
        }
        text
    }
}
