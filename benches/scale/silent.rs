//! The silent-server case of the scale benchmark (issue 17): `check` of N
//! domains of which S are read at a server that never answers, against
//! the bound ⌈S / concurrency⌉ × one exchange's bound + 10 %.
//!
//! Each silent server is a UDP socket on loopback that takes every
//! datagram and answers none; each of the S domains has a `[domain]`
//! section whose `server =` is one of them, so `check` reads that
//! domain's zone (SOA) and RRset there, and its resolver answer from the
//! bed's BIND. One exchange's bound is `attempts × --timeout` (3 × 2 s by
//! default): a silent server is asked once per run, so a domain costs one
//! bound, not two (SOA, then SRV), and a slow domain holds up no other, so
//! S of them cost ⌈S / concurrency⌉ bounds wherever they sit in the list.
//! Every run is verified from its JSON: exactly the S domains have a
//! failed authoritative read, every other domain's is read, and no domain
//! passed its deadline.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::bed::{Bed, Server};
use super::harness::config_text;

/// How often kmsdns sends a query to a silent server (`DnsOptions::attempts`).
pub const ATTEMPTS: u32 = 3;

/// Where the silent domains sit in the publish list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// Evenly spread through the list: the case head-of-line blocking hurt.
    Spread,
    /// The first S domains.
    First,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct SilentOptions {
    pub domains: usize,
    pub silent: usize,
    pub concurrency: usize,
    pub timeout: Duration,
    pub named_threads: u32,
    pub kmsdns: PathBuf,
    pub verbose: bool,
}

/// One measured placement.
#[derive(Clone, Debug, Serialize)]
pub struct SilentRun {
    pub placement: Placement,
    pub seconds: f64,
    pub bound_seconds: f64,
    pub met: bool,
}

/// Every placement measured, and what the bound is made of.
#[derive(Clone, Debug, Serialize)]
pub struct SilentResults {
    pub domains: usize,
    pub silent: usize,
    pub concurrency: usize,
    pub timeout_ms: u64,
    pub attempts: u32,
    pub runs: Vec<SilentRun>,
}

impl SilentOptions {
    /// ⌈S / concurrency⌉ × attempts × timeout, + 10 %.
    pub fn bound(&self) -> Duration {
        let waves = self.silent.div_ceil(self.concurrency.max(1)) as u32;
        (self.timeout * ATTEMPTS * waves).mul_f64(1.1)
    }
}

/// Which domains (indices into the bed's zones) are silent.
pub fn silent_indices(domains: usize, silent: usize, placement: Placement) -> Vec<usize> {
    let silent = silent.min(domains);
    match placement {
        Placement::First => (0..silent).collect(),
        Placement::Spread => (0..silent).map(|k| k * domains / silent.max(1)).collect(),
    }
}

/// Starts the bed, publishes every domain, then measures `check` with the
/// silent domains spread through the list and first in it.
pub fn run(options: &SilentOptions) -> Result<SilentResults, String> {
    let started = Instant::now();
    let say = |what: &str| {
        if options.verbose {
            eprintln!("[{:7.1}s] {what}", started.elapsed().as_secs_f64());
        }
    };
    say(&format!("starting BIND with {} zones", options.domains));
    let bed = Bed::start(options.domains, options.named_threads);
    let sockets: Vec<UdpSocket> = (0..options.silent)
        .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot open a silent socket: {e}"))?;
    let base = bed.dir().join("kmsdns.toml");
    fs::write(&base, config_text(&bed)).map_err(|e| e.to_string())?;
    say("kmsdns publish");
    let published = kmsdns(options, &bed, &base, &["publish"])?;
    if published.0 != 0 {
        return Err(format!("publish exited {}:\n{}", published.0, published.2));
    }
    let mut runs = Vec::new();
    for placement in [Placement::Spread, Placement::First] {
        let silent = silent_indices(options.domains, options.silent, placement);
        let config = bed.dir().join(format!("silent-{placement:?}.toml"));
        fs::write(&config, silent_config(&bed, &silent, &sockets)?).map_err(|e| e.to_string())?;
        say(&format!(
            "kmsdns check, {} silent servers ({placement:?})",
            silent.len()
        ));
        let begun = Instant::now();
        let (status, stdout, stderr) = kmsdns(options, &bed, &config, &["check"])?;
        let seconds = begun.elapsed().as_secs_f64();
        if status != 2 {
            return Err(format!("check exited {status}, not 2:\n{stderr}"));
        }
        verify(&stdout, &bed.zones, &silent)?;
        let bound_seconds = options.bound().as_secs_f64();
        runs.push(SilentRun {
            placement,
            seconds,
            bound_seconds,
            met: seconds <= bound_seconds,
        });
    }
    drop(sockets);
    Ok(SilentResults {
        domains: options.domains,
        silent: options.silent,
        concurrency: options.concurrency,
        timeout_ms: u64::try_from(options.timeout.as_millis()).unwrap_or(u64::MAX),
        attempts: ATTEMPTS,
        runs,
    })
}

/// The benchmark's configuration, and a `[domain]` with `server =` one
/// silent socket for each silent domain.
fn silent_config(bed: &Bed, silent: &[usize], sockets: &[UdpSocket]) -> Result<String, String> {
    let mut text = config_text(bed);
    for (index, socket) in silent.iter().zip(sockets) {
        let address = socket.local_addr().map_err(|e| e.to_string())?;
        let _ = writeln!(
            text,
            "\n[domain.\"{}\"]\nserver = \"{address}\"",
            bed.zones[*index]
        );
    }
    Ok(text)
}

/// Runs kmsdns against the bed; its exit status, stdout and stderr.
fn kmsdns(
    options: &SilentOptions,
    bed: &Bed,
    config: &Path,
    args: &[&str],
) -> Result<(i32, String, String), String> {
    let port = bed.port.to_string();
    let output = Command::new(&options.kmsdns)
        .arg("-c")
        .arg(config)
        .args(["--nameserver", &format!("{}:{port}", Server::Ns1.ip())])
        .args(["--dns-port", &port, "--format", "json"])
        .args(["--concurrency", &options.concurrency.to_string()])
        .args(["--timeout", &format!("{}ms", options.timeout.as_millis())])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run kmsdns: {e}"))?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// Exactly the silent domains have a failed authoritative read; every
/// other domain's RRset was read; no domain passed its deadline.
fn verify(stdout: &str, zones: &[String], silent: &[usize]) -> Result<(), String> {
    let doc: serde_json::Value =
        serde_json::from_str(stdout).map_err(|e| format!("check's JSON: {e}"))?;
    let domains = doc["details"]["domains"]
        .as_array()
        .ok_or("check's JSON has no details.domains")?;
    if domains.len() != zones.len() {
        return Err(format!(
            "{} domains checked, not {}",
            domains.len(),
            zones.len()
        ));
    }
    for (index, domain) in domains.iter().enumerate() {
        let status = domain["authoritative"]["status"].as_str().unwrap_or("");
        let want = if silent.contains(&index) {
            "failed"
        } else {
            "records"
        };
        if status != want {
            return Err(format!(
                "{}: authoritative read {status}, not {want}",
                zones[index]
            ));
        }
    }
    let findings = doc["findings"]
        .as_array()
        .ok_or("check's JSON has no findings")?;
    if findings.iter().any(|f| f["id"] == "deadline-exceeded") {
        return Err("a domain passed its deadline".into());
    }
    Ok(())
}

impl SilentResults {
    /// A Markdown table of the runs.
    pub fn table(&self) -> String {
        let mut text = format!(
            "check of {} domains, {} silent servers, --concurrency {}, --timeout {} ms × {} attempts\n\n\
             | silent domains | measured | bound ⌈{} / {}⌉ × {} × {} ms + 10 % | met |\n|---|---|---|---|\n",
            self.domains, self.silent, self.concurrency, self.timeout_ms, self.attempts,
            self.silent, self.concurrency, self.attempts, self.timeout_ms
        );
        for run in &self.runs {
            let _ = writeln!(
                text,
                "| {:?} | {:.1} s | {:.1} s | {} |",
                run.placement,
                run.seconds,
                run.bound_seconds,
                if run.met { "yes" } else { "NO" }
            );
        }
        text
    }
}
