//! The global options, shared by every command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Options every command takes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Configuration file [default: ./kmsdns.toml, then /etc/kmsdns/kmsdns.toml]
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// When to colour text output (NO_COLOR is honoured with auto)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print only problems; print nothing when everything is OK
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Show each DNS exchange (server, question, rcode, time) and each update step on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Time to wait for each DNS reply or TCP step (e.g. 2s, 500ms; at most 24h)
    #[arg(long, global = true, value_name = "DUR", default_value = "2s", value_parser = parse_bound)]
    pub timeout: Duration,

    /// Bound on one domain's DNS reads (every query, resend and TCP fallback, and each of probe's KMS connections; for publish, remove and updates --live only those before the first UPDATE); past it, the domain is reported with the step it was on
    #[arg(long, global = true, value_name = "DUR", default_value = "15s", value_parser = parse_bound)]
    pub deadline: Duration,

    /// How many domains or servers to work on at once, and at most how many queries replication has in flight to one DNS server
    #[arg(long, global = true, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub concurrency: u16,

    /// Resolver to use instead of the system's (ADDR or ADDR:PORT)
    #[arg(long, global = true, value_name = "ADDR[:PORT]", value_parser = parse_nameserver)]
    pub nameserver: Option<SocketAddr>,

    /// resolv.conf to use instead of /etc/resolv.conf: its nameservers and its search list
    #[arg(long, global = true, value_name = "FILE")]
    pub resolv_conf: Option<PathBuf>,

    /// Port of every authoritative server contacted
    #[arg(long, global = true, value_name = "PORT", default_value_t = 53, value_parser = clap::value_parser!(u16).range(1..))]
    pub dns_port: u16,

    /// Lowest status that makes the exit status non-zero; the output still shows the status found
    #[arg(long, global = true, value_enum, value_name = "STATUS", default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
}

/// Output formats. Not every command offers every format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: aligned, grouped by domain, coloured on a terminal
    Text,
    /// For programs: one JSON document with a schema version
    Json,
    /// For programs, as it comes: one JSON object per line per domain, totals last
    Jsonl,
    /// For Nagios and Icinga: status line with perfdata, then one line per problem
    Nagios,
    /// For Prometheus: gauges for node-exporter's textfile collector
    Prometheus,
}

impl Format {
    /// Whether this is a monitoring format (Nagios, Prometheus), which is
    /// read by a program expecting that format, so errors must be in it too.
    pub fn is_monitoring(self) -> bool {
        matches!(self, Format::Nagios | Format::Prometheus)
    }
}

/// `--fail-on`: which status gives a non-zero exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Exit 1 on warnings, 2 on critical findings
    Warning,
    /// Exit 0 on warnings, 2 on critical findings
    Critical,
}

impl FailOn {
    /// The exit status for a run that ended with `status`: with
    /// `--fail-on critical` a warning exits 0; critical and unknown are
    /// never hidden.
    pub fn exit_status(self, status: u8) -> u8 {
        match (self, status) {
            (FailOn::Critical, crate::exit::WARNING) => crate::exit::OK,
            (_, status) => status,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The longest `--timeout` or `--deadline`: a day.
const MAX_BOUND: Duration = Duration::from_secs(24 * 3600);

/// The longest wait for convergence (`--wait`, `--wait-replication`): a
/// week.
const MAX_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest of any other duration: ten years, far below what the
/// clocks overflow at.
const MAX_DURATION: Duration = Duration::from_secs(3650 * 24 * 3600);

/// `2s`, `500ms`, `1m30s`, `3days`, or a bare number of seconds, at most
/// ten years. (clap names the option in the error.)
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_at_most(text, MAX_DURATION, "10 years (3650d)")
}

/// `--timeout` and `--deadline`: as [`parse_duration`], at most a day.
pub fn parse_bound(text: &str) -> Result<Duration, String> {
    parse_at_most(text, MAX_BOUND, "1 day (24h)")
}

/// `--wait` and `--wait-replication`: as [`parse_duration`], at most a
/// week.
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    parse_at_most(text, MAX_WAIT, "1 week (7d)")
}

fn parse_at_most(text: &str, max: Duration, said: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("\"{text}\" is not a duration ({e}); e.g. 2s, 500ms, 1m"))?,
    };
    if duration.is_zero() {
        return Err("the duration must be more than zero".into());
    }
    if duration > max {
        return Err(format!("at most {said} is allowed"));
    }
    Ok(duration)
}

/// `--nameserver ADDR[:PORT]`, as the DNS layer reads it.
fn parse_nameserver(text: &str) -> Result<SocketAddr, String> {
    crate::dns::parse_nameserver(text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_critical_hides_only_warnings() {
        use crate::exit;
        for status in [exit::OK, exit::WARNING, exit::CRITICAL, exit::UNKNOWN] {
            assert_eq!(FailOn::Warning.exit_status(status), status);
        }
        assert_eq!(FailOn::Critical.exit_status(exit::OK), exit::OK);
        assert_eq!(FailOn::Critical.exit_status(exit::WARNING), exit::OK);
        assert_eq!(FailOn::Critical.exit_status(exit::CRITICAL), exit::CRITICAL);
        assert_eq!(FailOn::Critical.exit_status(exit::UNKNOWN), exit::UNKNOWN);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn durations_are_capped_not_overflowed() {
        assert_eq!(parse_bound("24h").unwrap(), MAX_BOUND);
        for long in ["86401", "18446744073709551615", "25h", "2d"] {
            let error = parse_bound(long).unwrap_err();
            assert!(error.contains("at most 1 day"), "{long}: {error}");
        }
        assert_eq!(
            parse_duration("3days").unwrap(),
            Duration::from_secs(3 * 86400)
        );
        let error = parse_duration("18446744073709551615").unwrap_err();
        assert!(error.contains("at most 10 years"), "{error}");
        assert_eq!(parse_wait("2d").unwrap(), Duration::from_secs(2 * 86400));
        assert_eq!(parse_wait("7d").unwrap(), MAX_WAIT);
        let error = parse_wait("18446744073709551615").unwrap_err();
        assert!(error.contains("at most 1 week"), "{error}");
    }
}
