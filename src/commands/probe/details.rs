//! `probe` output: the JSON details type and its text rendering.
//!
//! JSON (`details` of a `probe` report):
//!
//! ```json
//! { "resolver": "nameserver 127.53.0.1:5300", "timeout_ms": 2000, "slow_ms": 500,
//!   "domains": [ { "domain": "corp.example.", "query": "_vlmcs._tcp.corp.example.",
//!     "answer": "records", "status": "warning", "reachable": 1, "addresses": 2,
//!     "targets": [ { "target": "kms1.corp.example.", "port": 1688, "priority": 0,
//!       "weight": 0, "probability": "1/2", "probability_value": 0.5,
//!       "addresses": [ { "address": "192.0.2.10:1688", "verdict": "kms",
//!                        "connect_ms": 0.4, "reply_ms": 1.2 } ] } ] } ],
//!   "hosts": [] }
//! ```
//!
//! `verdict` is one of `kms`, `rpc-not-kms`, `rpc-bind-refused`, `not-rpc`,
//! `tcp-refused`, `tcp-timeout`, `reset` (with the details of
//! [`crate::rpc::Outcome`]) or `dns-failed` (with `error`, and `address`
//! null).

use std::io::{self, Write};
use std::net::SocketAddr;

use owo_colors::Style;
use serde::Serialize;

use crate::concurrency::deadline::Overrun;
use crate::dns::lookup::LookupStatus;
use crate::report::palette::Palette;
use crate::report::Severity;
use crate::rpc::{AddressProbe, Outcome};

/// What `probe` shows above its findings.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeDetails {
    /// Who answered the DNS questions, when any were asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    /// The bound on each TCP step (`--timeout`).
    pub timeout_ms: u64,
    /// The latency above which a host is reported slow (`--slow`).
    pub slow_ms: u64,
    /// Each domain probed through its SRV records.
    pub domains: Vec<DomainProbe>,
    /// Each host probed directly (`--host`), like `slmgr /skms`.
    pub hosts: Vec<TargetProbe>,
}

/// One domain: its SRV answer and every target, in RFC 2782 order.
#[derive(Debug, Clone, Serialize)]
pub struct DomainProbe {
    /// The domain, with its final dot.
    pub domain: String,
    /// The name asked for: `_vlmcs._tcp.<domain>`.
    pub query: String,
    /// What came back.
    pub answer: LookupStatus,
    /// Why the lookup failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Set when the lookup failed because `--deadline` passed (`error`
    /// says the same in words).
    #[serde(skip)]
    pub overrun: Option<Overrun>,
    /// The worst finding about this domain.
    pub status: Severity,
    /// Addresses that answered as a KMS host.
    pub reachable: usize,
    /// Addresses tried, counting a target without address as one.
    pub addresses: usize,
    /// The SRV targets: by priority, then by chance of being picked first.
    pub targets: Vec<TargetProbe>,
}

/// One SRV target (or `--host`) and the probe of each of its addresses.
#[derive(Debug, Clone, Serialize)]
pub struct TargetProbe {
    /// The host name (or address, for `--host ADDR`), final dot included.
    pub target: String,
    /// The TCP port, from the SRV record or `--host NAME:PORT`.
    pub port: u16,
    /// SRV priority (absent for `--host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// SRV weight (absent for `--host`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
    /// Chance of being the first host tried in its priority, exact, under
    /// the RFC 2782 model (see `discover`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<String>,
    /// The same chance as a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability_value: Option<f64>,
    /// Every A and AAAA address with its verdict, or one `dns-failed` entry.
    pub addresses: Vec<AddressResult>,
}

impl TargetProbe {
    /// The probes that reached a KMS host.
    pub fn reachable(&self) -> usize {
        self.addresses.iter().filter(|a| a.is_kms()).count()
    }

    /// `name:port`, `192.0.2.1:1688` or `[2001:db8::1]:1688`.
    pub fn label(&self) -> String {
        match self.target.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.port).to_string(),
            Err(_) => format!("{}:{}", self.target, self.port),
        }
    }
}

/// The verdict for one address, or for a target without any.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AddressResult {
    /// The address was probed.
    Probed(AddressProbe),
    /// The target's addresses could not be found.
    DnsFailed(DnsFailure),
}

impl AddressResult {
    /// A `dns-failed` entry saying why.
    pub fn dns_failed(error: impl Into<String>) -> AddressResult {
        AddressResult::DnsFailed(DnsFailure {
            address: None,
            verdict: "dns-failed",
            error: error.into(),
        })
    }

    /// Whether a KMS client would be served here.
    pub fn is_kms(&self) -> bool {
        matches!(self, AddressResult::Probed(probe) if probe.outcome.is_kms())
    }

    /// The verdict name, as in JSON.
    pub fn verdict(&self) -> &'static str {
        match self {
            AddressResult::Probed(probe) => verdict_name(&probe.outcome),
            AddressResult::DnsFailed(failure) => failure.verdict,
        }
    }
}

/// A target whose A/AAAA lookup failed or found nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsFailure {
    /// Always null: there is no address.
    pub address: Option<SocketAddr>,
    /// Always `dns-failed`.
    pub verdict: &'static str,
    /// What the lookup said.
    pub error: String,
}

/// The JSON name of an outcome's verdict.
pub fn verdict_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Kms => "kms",
        Outcome::RpcNotKms { .. } => "rpc-not-kms",
        Outcome::RpcBindRefused { .. } => "rpc-bind-refused",
        Outcome::NotRpc { .. } => "not-rpc",
        Outcome::TcpRefused { .. } => "tcp-refused",
        Outcome::TcpTimeout { .. } => "tcp-timeout",
        Outcome::Reset { .. } => "reset",
        Outcome::DeadlineExceeded { .. } => "deadline-exceeded",
    }
}

/// The longest verdict name, for alignment.
const VERDICT_WIDTH: usize = 17;

/// Writes the details as text: per domain its answer, then each target in
/// RFC 2782 order with the verdict of each address. The caller ends the
/// details with a blank line.
pub fn render(details: &ProbeDetails, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    for domain in &details.domains {
        let answer = match domain.answer {
            LookupStatus::Records => {
                let n = domain.targets.len();
                format!("{n} SRV record{}", if n == 1 { "" } else { "s" })
            }
            LookupStatus::Nodata => "no SRV record (NODATA)".to_string(),
            LookupStatus::Nxdomain => "no such name (NXDOMAIN)".to_string(),
            LookupStatus::Failed => format!(
                "lookup failed: {}",
                domain.error.as_deref().unwrap_or("no answer")
            ),
        };
        writeln!(
            out,
            "{} {}",
            palette.heading(&domain.domain),
            palette.dim(&format!("{}: {answer}", domain.query))
        )?;
        let mut priority = None;
        for target in &domain.targets {
            if target.priority != priority {
                priority = target.priority;
                if let Some(p) = priority {
                    writeln!(out, "  priority {p}")?;
                }
            }
            render_target(target, palette, "    ", out)?;
        }
    }
    if !details.hosts.is_empty() {
        writeln!(out, "{}", palette.heading("hosts given with --host"))?;
        for host in &details.hosts {
            render_target(host, palette, "  ", out)?;
        }
    }
    Ok(())
}

fn render_target(
    target: &TargetProbe,
    palette: Palette,
    indent: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut about = Vec::new();
    if let Some(weight) = target.weight {
        about.push(format!("weight {weight}"));
    }
    if let (Some(probability), Some(value)) = (&target.probability, target.probability_value) {
        about.push(format!("first pick {probability} ({:.1}%)", value * 100.0));
    }
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" {}", palette.dim(&format!("({})", about.join(", "))))
    };
    writeln!(out, "{indent}{}{about}", target.label())?;
    let width = target
        .addresses
        .iter()
        .map(|a| match a {
            AddressResult::Probed(probe) => probe.address.to_string().len(),
            AddressResult::DnsFailed(_) => 1,
        })
        .max()
        .unwrap_or(0);
    for result in &target.addresses {
        let verdict = result.verdict();
        let pad = " ".repeat(VERDICT_WIDTH.saturating_sub(verdict.len()));
        let style = if result.is_kms() {
            Style::new().green()
        } else {
            Style::new().red().bold()
        };
        let verdict = format!("{}{pad}", palette.paint(verdict, style));
        match result {
            AddressResult::Probed(probe) => {
                let mut timing = Vec::new();
                if let Some(connect) = probe.connect {
                    timing.push(format!("connect {}", millis(connect)));
                }
                if let Some(reply) = probe.reply {
                    timing.push(format!("bind {}", millis(reply)));
                }
                let detail = if probe.outcome.is_kms() {
                    String::new()
                } else {
                    format!("  {}", probe.outcome)
                };
                writeln!(
                    out,
                    "{indent}  {:width$}  {verdict}  {}{detail}",
                    probe.address.to_string(),
                    timing.join(", ")
                )?;
            }
            AddressResult::DnsFailed(failure) => {
                writeln!(
                    out,
                    "{indent}  {:width$}  {verdict}  {}",
                    "-", failure.error
                )?;
            }
        }
    }
    Ok(())
}

fn millis(duration: std::time::Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn probe(address: &str, outcome: Outcome) -> AddressResult {
        AddressResult::Probed(AddressProbe {
            address: address
                .parse()
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
            outcome,
            connect: Some(Duration::from_micros(250)),
            reply: Some(Duration::from_micros(1250)),
        })
    }

    fn sample() -> ProbeDetails {
        ProbeDetails {
            resolver: Some("nameserver 127.0.0.1:53".into()),
            timeout_ms: 2000,
            slow_ms: 500,
            domains: vec![DomainProbe {
                domain: "corp.example.".into(),
                query: "_vlmcs._tcp.corp.example.".into(),
                answer: LookupStatus::Records,
                error: None,
                overrun: None,
                status: Severity::Warning,
                reachable: 1,
                addresses: 3,
                targets: vec![
                    TargetProbe {
                        target: "kms1.corp.example.".into(),
                        port: 1688,
                        priority: Some(0),
                        weight: Some(0),
                        probability: Some("1/2".into()),
                        probability_value: Some(0.5),
                        addresses: vec![
                            probe("192.0.2.10:1688", Outcome::Kms),
                            probe(
                                "[2001:db8::10]:1688",
                                Outcome::TcpRefused {
                                    error: "Connection refused".into(),
                                },
                            ),
                        ],
                    },
                    TargetProbe {
                        target: "kms2.corp.example.".into(),
                        port: 1688,
                        priority: Some(0),
                        weight: Some(0),
                        probability: Some("1/2".into()),
                        probability_value: Some(0.5),
                        addresses: vec![AddressResult::dns_failed("no A or AAAA record")],
                    },
                ],
            }],
            hosts: Vec::new(),
        }
    }

    #[test]
    fn text_lists_targets_and_verdicts() {
        let mut out = Vec::new();
        render(&sample(), Palette { color: false }, &mut out).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            text,
            "corp.example. _vlmcs._tcp.corp.example.: 2 SRV records\n\
             \x20 priority 0\n\
             \x20   kms1.corp.example.:1688 (weight 0, first pick 1/2 (50.0%))\n\
             \x20     192.0.2.10:1688      kms                connect 0.2 ms, bind 1.2 ms\n\
             \x20     [2001:db8::10]:1688  tcp-refused        connect 0.2 ms, bind 1.2 ms  TCP connection failed: Connection refused\n\
             \x20   kms2.corp.example.:1688 (weight 0, first pick 1/2 (50.0%))\n\
             \x20     -  dns-failed         no A or AAAA record\n"
        );
    }

    #[test]
    fn json_has_verdicts_and_a_null_address_for_dns_failures() {
        let json = serde_json::to_value(sample()).unwrap_or_default();
        let targets = &json["domains"][0]["targets"];
        assert_eq!(targets[0]["addresses"][0]["verdict"], "kms");
        assert_eq!(targets[0]["addresses"][1]["verdict"], "tcp-refused");
        assert_eq!(targets[0]["addresses"][1]["connect_ms"], 0.25);
        assert_eq!(targets[1]["addresses"][0]["verdict"], "dns-failed");
        assert!(targets[1]["addresses"][0]["address"].is_null());
        assert_eq!(json["domains"][0]["answer"], "records");
        assert_eq!(json["domains"][0]["status"], "warning");
        assert_eq!(targets[0]["probability"], "1/2");
    }
}
