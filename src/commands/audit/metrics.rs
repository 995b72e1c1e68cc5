//! Measurements for monitoring output, beside the findings of a [`Report`].
//!
//! Findings say what is wrong; monitoring systems also graph how things
//! are: the latency of each KMS address, how many SOA serials each
//! authoritative server lags behind. `audit` fills a [`Metrics`] from its
//! probe and replication results; the Nagios and Prometheus renderers read
//! it. Every field may stay empty: the renderers then show what the report
//! alone tells.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::details::DomainStatus;
use crate::commands::replication::details::ReplicationDetails;
use crate::report::{Report, Severity};
use crate::rpc::AddressProbe;

/// Measurements of one run, for the Nagios perfdata and the Prometheus gauges.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// When the run finished (`kmsdns_last_run_timestamp_seconds`).
    pub last_run: SystemTime,
    /// Every domain checked, final dot included, as in the findings. A
    /// domain listed here without a finding counts as ok; a domain named
    /// only by findings is counted too.
    pub domains: Vec<String>,
    /// One entry per KMS address probed (or per target without address).
    pub hosts: Vec<HostMetric>,
    /// One entry per authoritative server compared by `replication`.
    pub servers: Vec<ServerMetric>,
}

/// The probe of one KMS address, as a client in `domain` would reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostMetric {
    /// The domain whose SRV records named the host; `None` for `--host`.
    pub domain: Option<String>,
    /// The host as probed: `name:port` (see `TargetProbe::label`).
    pub host: String,
    /// The address probed; `None` when the host's A/AAAA lookup failed.
    pub address: Option<SocketAddr>,
    /// Whether the address answered the RPC bind for the KMS interface.
    pub kms: bool,
    /// TCP connect plus RPC bind time, for an address that answered as KMS
    /// (the time the `--slow` threshold is compared with).
    pub latency: Option<Duration>,
}

/// One authoritative server of a zone, as `replication` compared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMetric {
    /// The zone, final dot included.
    pub zone: String,
    /// The server: its name or address, as in the findings.
    pub server: String,
    /// How many SOA serials it is behind the highest serial of the zone
    /// (RFC 1982 distance, 0 when current); `None` when it gave no SOA
    /// (unreachable or lame).
    pub serial_lag: Option<u32>,
}

impl Metrics {
    /// No measurements, for a run that finished at `last_run`.
    pub fn new(last_run: SystemTime) -> Self {
        Metrics {
            last_run,
            domains: Vec::new(),
            hosts: Vec::new(),
            servers: Vec::new(),
        }
    }

    /// The highest latency of an address that answered as KMS.
    pub fn probe_latency_max(&self) -> Option<Duration> {
        self.hosts.iter().filter_map(|h| h.latency).max()
    }

    /// The most serials any server lags behind its zone.
    pub fn replication_lag_max(&self) -> Option<u32> {
        self.servers.iter().filter_map(|s| s.serial_lag).max()
    }

    /// Each domain with the worst severity of its findings: the domains of
    /// [`Metrics::domains`] first, then those named only by findings, each
    /// once, in order of first appearance.
    pub fn domain_statuses<D>(&self, report: &Report<D>) -> Vec<DomainStatus> {
        let mut statuses: Vec<DomainStatus> = Vec::new();
        // Where each domain is in `statuses`, for thousands of domains.
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let named = self.domains.iter().map(|d| (d.as_str(), Severity::Ok));
        let found = report
            .findings
            .iter()
            .filter_map(|f| Some((f.subject.domain.as_deref()?, f.severity)));
        for (domain, severity) in named.chain(found) {
            match index.get(domain) {
                Some(&at) => statuses[at].status = statuses[at].status.max(severity),
                None => {
                    index.insert(domain, statuses.len());
                    statuses.push(DomainStatus {
                        domain: domain.to_string(),
                        status: severity,
                    })
                }
            }
        }
        statuses
    }
}

impl HostMetric {
    /// The measurement of one probed address of `host` (`name:port`).
    pub fn from_probe(domain: Option<&str>, host: &str, probe: &AddressProbe) -> Self {
        let kms = probe.outcome.is_kms();
        HostMetric {
            domain: domain.map(str::to_string),
            host: host.to_string(),
            address: Some(probe.address),
            kms,
            latency: kms
                .then(|| probe.connect.unwrap_or_default() + probe.reply.unwrap_or_default()),
        }
    }

    /// A host whose addresses could not be found: not reachable, no address.
    pub fn without_address(domain: Option<&str>, host: &str) -> Self {
        HostMetric {
            domain: domain.map(str::to_string),
            host: host.to_string(),
            address: None,
            kms: false,
            latency: None,
        }
    }
}

impl ServerMetric {
    /// Every server `replication` compared, with its lag when it gave a SOA.
    pub fn of_replication(replication: &ReplicationDetails) -> Vec<ServerMetric> {
        let mut servers = Vec::new();
        for zone in &replication.zones {
            for server in &zone.servers {
                servers.push(ServerMetric {
                    zone: zone.zone.clone(),
                    server: server
                        .address
                        .clone()
                        .unwrap_or_else(|| server.name.clone()),
                    serial_lag: server.serial.map(|_| server.behind.unwrap_or(0)),
                });
            }
        }
        servers
    }
}

/// A domain's status as a number: 0 ok (or info), 1 warning, 2 critical,
/// the Nagios plugin convention.
pub fn status_value(severity: Severity) -> u8 {
    severity.exit_status()
}

/// The report and measurements of one audit, for the renderers' tests:
/// three domains (ok; ok and warning; critical), findings of every
/// severity with every kind of subject, addresses that answered as KMS or not or had no
/// address, and servers current, behind, and without a SOA.
#[cfg(test)]
pub(crate) fn sample() -> (Report<()>, Metrics) {
    use crate::report::{Finding, FindingId};

    let mut report = Report::<()>::new("audit");
    for domain in ["a.example.", "b.example."] {
        report.push(Finding::new(FindingId::SrvOk, Severity::Ok, "2 records match").domain(domain));
    }
    report.push(
        Finding::new(
            FindingId::SingleHost,
            Severity::Warning,
            "only one KMS host: no failover",
        )
        .domain("b.example.")
        .host("kms1.b.example.:1688")
        .hint("publish a second host"),
    );
    report.push(
        Finding::new(
            FindingId::SrvMissing,
            Severity::Critical,
            "no _vlmcs._tcp record",
        )
        .domain("c.example."),
    );
    report.push(
        Finding::new(
            FindingId::SerialBehind,
            Severity::Warning,
            "serial 41 | 3 behind 44",
        )
        .domain("c.example.")
        .server("ns2.c.example."),
    );
    report.push(Finding::new(
        FindingId::KeyedOnly,
        Severity::Info,
        "updates need the key",
    ));
    let mut metrics = Metrics::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    metrics.domains = vec![
        "a.example.".into(),
        "b.example.".into(),
        "c.example.".into(),
    ];
    let kms1 = |address: &str, latency: Option<Duration>| HostMetric {
        domain: Some("a.example.".into()),
        host: "kms1.a.example.:1688".into(),
        address: Some(address.parse().unwrap()),
        kms: latency.is_some(),
        latency,
    };
    metrics.hosts = vec![
        kms1("192.0.2.10:1688", Some(Duration::from_micros(12_345))),
        kms1("[2001:db8::10]:1688", None),
        HostMetric::without_address(Some("b.example."), "kms9.b.example.:1688"),
    ];
    let server = |zone: &str, server: &str, serial_lag| ServerMetric {
        zone: zone.into(),
        server: server.into(),
        serial_lag,
    };
    metrics.servers = vec![
        server("a.example.", "ns1.a.example.", Some(0)),
        server("a.example.", "ns2.a.example.", None),
        server("c.example.", "ns2.c.example.", Some(3)),
    ];
    (report, metrics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Finding, FindingId};
    use crate::rpc::Outcome;

    fn probe(outcome: Outcome) -> AddressProbe {
        AddressProbe {
            address: SocketAddr::from(([192, 0, 2, 10], 1688)),
            outcome,
            connect: Some(Duration::from_millis(2)),
            reply: Some(Duration::from_millis(5)),
        }
    }

    #[test]
    fn latency_is_connect_plus_bind_and_only_for_kms_answers() {
        let kms = HostMetric::from_probe(
            Some("a.example."),
            "kms1.a.example.:1688",
            &probe(Outcome::Kms),
        );
        assert_eq!(kms.latency, Some(Duration::from_millis(7)));
        assert!(kms.kms);
        let refused = HostMetric::from_probe(
            None,
            "kms1.a.example.:1688",
            &probe(Outcome::TcpRefused {
                error: "refused".into(),
            }),
        );
        assert_eq!(refused.latency, None);
        assert!(!refused.kms);
        assert_eq!(refused.domain, None);
    }

    #[test]
    fn maxima_come_from_the_entries() {
        let mut metrics = Metrics::new(SystemTime::UNIX_EPOCH);
        assert_eq!(metrics.probe_latency_max(), None);
        assert_eq!(metrics.replication_lag_max(), None);
        metrics
            .hosts
            .push(HostMetric::from_probe(None, "a:1688", &probe(Outcome::Kms)));
        metrics
            .hosts
            .push(HostMetric::without_address(None, "b:1688"));
        metrics.servers.push(ServerMetric {
            zone: "a.example.".into(),
            server: "ns1".into(),
            serial_lag: Some(0),
        });
        metrics.servers.push(ServerMetric {
            zone: "a.example.".into(),
            server: "ns2".into(),
            serial_lag: Some(3),
        });
        metrics.servers.push(ServerMetric {
            zone: "a.example.".into(),
            server: "ns3".into(),
            serial_lag: None,
        });
        assert_eq!(metrics.probe_latency_max(), Some(Duration::from_millis(7)));
        assert_eq!(metrics.replication_lag_max(), Some(3));
    }

    #[test]
    fn domain_status_is_the_worst_finding_and_ok_without_findings() {
        let mut report = Report::<()>::new("audit");
        report.push(Finding::new(FindingId::SrvOk, Severity::Ok, "fine").domain("b.example."));
        report.push(
            Finding::new(FindingId::SingleHost, Severity::Warning, "one").domain("b.example."),
        );
        report.push(
            Finding::new(FindingId::SrvMissing, Severity::Critical, "none").domain("c.example."),
        );
        report.push(Finding::new(
            FindingId::KeyUndefined,
            Severity::Critical,
            "no domain",
        ));
        let mut metrics = Metrics::new(SystemTime::UNIX_EPOCH);
        metrics.domains = vec!["a.example.".into(), "c.example.".into()];
        let statuses: Vec<(String, Severity)> = metrics
            .domain_statuses(&report)
            .into_iter()
            .map(|s| (s.domain, s.status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("a.example.".to_string(), Severity::Ok),
                ("c.example.".to_string(), Severity::Critical),
                ("b.example.".to_string(), Severity::Warning),
            ]
        );
    }
}
