//! `discover` output: the JSON details type and its text rendering.
//!
//! JSON (`details` of a `discover` report):
//!
//! ```json
//! { "model": "RFC 2782", "model_note": "…", "resolver": "nameserver 127.53.0.1:5300",
//!   "queries": [ { "domain": "corp.example.", "source": "primary-suffix",
//!                  "query": "_vlmcs._tcp.corp.example.", "answer": "records",
//!                  "records": 3, "used": true } ],
//!   "selected": "corp.example.",
//!   "groups": [ { "priority": 0, "total_weight": 90, "hosts": [
//!       { "target": "kms1.corp.example.", "port": 1688, "weight": 60,
//!         "probability": "60/91", "probability_value": 0.6593,
//!         "addresses": ["192.0.2.10"], "observed": 0.6581, "observed_count": 6581 } ] } ],
//!   "failover": ["…"], "notes": ["…"],
//!   "simulation": { "clients": 10000, "seed": 1, "largest_difference": 0.0021 } }
//! ```

use std::io::{self, Write};

use owo_colors::Style;
use serde::Serialize;

use crate::dns::lookup::LookupStatus;
use crate::report::palette::Palette;

/// The label every discover output carries.
pub const MODEL: &str = "RFC 2782";

/// Why it is a model.
pub const MODEL_NOTE: &str = "Windows honours priority and weight (7 / 2008 R2 and later) \
     but its exact algorithm is undocumented; chances follow RFC 2782's running-sum \
     selection with the records arranged in random order";

/// What `discover` shows above its findings.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoverDetails {
    /// Always [`MODEL`].
    pub model: &'static str,
    /// Always [`MODEL_NOTE`].
    pub model_note: &'static str,
    /// Who answered the DNS questions.
    pub resolver: String,
    /// The `_vlmcs._tcp` queries a client makes, in its order.
    pub queries: Vec<SuffixQuery>,
    /// The domain whose records clients use: the first with records.
    pub selected: Option<String>,
    /// The selected domain's hosts by priority, lowest (tried first) first.
    pub groups: Vec<PriorityGroupChances>,
    /// What a client does, step by step, when hosts do not answer.
    pub failover: Vec<String>,
    /// What happens after a host answered, and when none does.
    pub notes: Vec<String>,
    /// The seeded run of `--simulate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimulationSummary>,
}

/// Where a client gets a domain to ask from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuffixSource {
    /// The primary DNS suffix (AD domain, or DHCP option 15): asked first.
    PrimarySuffix,
    /// The suffix search list, in order.
    SearchList,
    /// Pinned with `slmgr /skms-domain`: the only one asked.
    SkmsDomain,
}

impl SuffixSource {
    fn label(self) -> &'static str {
        match self {
            SuffixSource::PrimarySuffix => "primary suffix",
            SuffixSource::SearchList => "search list",
            SuffixSource::SkmsDomain => "skms-domain",
        }
    }
}

/// One `_vlmcs._tcp` query of a client.
#[derive(Debug, Clone, Serialize)]
pub struct SuffixQuery {
    /// The domain.
    pub domain: String,
    /// Why a client asks it.
    pub source: SuffixSource,
    /// `_vlmcs._tcp.<domain>`.
    pub query: String,
    /// What came back.
    pub answer: LookupStatus,
    /// How many SRV records.
    pub records: usize,
    /// Why the lookup failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether this is the answer clients use.
    pub used: bool,
}

/// The hosts of one priority and their chances of being picked first.
#[derive(Debug, Clone, Serialize)]
pub struct PriorityGroupChances {
    /// The SRV priority.
    pub priority: u16,
    /// The sum of the weights.
    pub total_weight: u64,
    /// Likeliest first.
    pub hosts: Vec<HostChance>,
}

/// One SRV record of the selected domain.
#[derive(Debug, Clone, Serialize)]
pub struct HostChance {
    /// The target host, final dot included.
    pub target: String,
    /// The TCP port.
    pub port: u16,
    /// The SRV weight.
    pub weight: u16,
    /// Exact chance of being tried first in its priority.
    pub probability: String,
    /// The same as a number.
    pub probability_value: f64,
    /// The target's A and AAAA addresses.
    pub addresses: Vec<String>,
    /// Why it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_error: Option<String>,
    /// Share of simulated clients that tried it first (`--simulate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    /// Number of simulated clients that tried it first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_count: Option<u64>,
}

/// The `--simulate` run.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationSummary {
    /// Simulated clients.
    pub clients: u64,
    /// The seed (the same seed gives the same run).
    pub seed: u64,
    /// The largest difference between an observed share and its computed
    /// chance.
    pub largest_difference: f64,
}

/// Writes the details as text.
pub fn render(details: &DiscoverDetails, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        palette.heading("Queries a client makes, in order (the first with records is used)")
    )?;
    let source_width = details
        .queries
        .iter()
        .map(|q| q.source.label().len())
        .max()
        .unwrap_or(0);
    let query_width = details
        .queries
        .iter()
        .map(|q| q.query.len())
        .max()
        .unwrap_or(0);
    for query in &details.queries {
        let answer = match query.answer {
            LookupStatus::Records => format!(
                "{} record{}",
                query.records,
                if query.records == 1 { "" } else { "s" }
            ),
            LookupStatus::Nodata => "NODATA".to_string(),
            LookupStatus::Nxdomain => "NXDOMAIN".to_string(),
            LookupStatus::Failed => format!(
                "lookup failed: {}",
                query.error.as_deref().unwrap_or("no answer")
            ),
        };
        let used = if query.used {
            format!(
                "  {}",
                palette.paint("<- used", Style::new().green().bold())
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:source_width$}  {:query_width$}  {answer}{used}",
            query.source.label(),
            query.query
        )?;
    }
    if let Some(selected) = &details.selected {
        writeln!(
            out,
            "{} {}",
            palette.heading(selected),
            palette.dim(&format!("{} model: {}", details.model, details.model_note))
        )?;
        let target_width = details
            .groups
            .iter()
            .flat_map(|g| g.hosts.iter())
            .map(|h| h.target.len() + 1 + h.port.to_string().len())
            .max()
            .unwrap_or(0);
        for (n, group) in details.groups.iter().enumerate() {
            let when = if n == 0 {
                "tried first".to_string()
            } else {
                "only when every host above failed".to_string()
            };
            writeln!(
                out,
                "  priority {} {}",
                group.priority,
                palette.dim(&format!("({when}; total weight {})", group.total_weight))
            )?;
            for host in &group.hosts {
                let observed = match host.observed {
                    Some(observed) => format!("  observed {:6.2}%", observed * 100.0),
                    None => String::new(),
                };
                let addresses = match &host.address_error {
                    Some(error) => palette.paint(error, Style::new().red()),
                    None => host.addresses.join(" "),
                };
                writeln!(
                    out,
                    "    {:target_width$}  weight {:5}  first pick {:>11} {:6.2}%{observed}  {}",
                    format!("{}:{}", host.target, host.port),
                    host.weight,
                    host.probability,
                    host.probability_value * 100.0,
                    palette.dim(&addresses)
                )?;
            }
        }
        for step in &details.failover {
            writeln!(out, "  {} {step}", palette.dim("failover:"))?;
        }
    }
    for note in &details.notes {
        writeln!(out, "  {} {note}", palette.dim("note:"))?;
    }
    if let Some(simulation) = &details.simulation {
        writeln!(
            out,
            "  {} {} clients, seed {}: largest difference from the computed chances {:.2} percentage points",
            palette.dim("simulation:"),
            simulation.clients,
            simulation.seed,
            simulation.largest_difference * 100.0
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DiscoverDetails {
        DiscoverDetails {
            model: MODEL,
            model_note: MODEL_NOTE,
            resolver: "nameserver 127.0.0.1:53".into(),
            queries: vec![
                SuffixQuery {
                    domain: "corp.example.".into(),
                    source: SuffixSource::PrimarySuffix,
                    query: "_vlmcs._tcp.corp.example.".into(),
                    answer: LookupStatus::Nxdomain,
                    records: 0,
                    error: None,
                    used: false,
                },
                SuffixQuery {
                    domain: "lab.example.".into(),
                    source: SuffixSource::SearchList,
                    query: "_vlmcs._tcp.lab.example.".into(),
                    answer: LookupStatus::Records,
                    records: 2,
                    error: None,
                    used: true,
                },
            ],
            selected: Some("lab.example.".into()),
            groups: vec![PriorityGroupChances {
                priority: 0,
                total_weight: 3,
                hosts: vec![
                    HostChance {
                        target: "kms2.lab.example.".into(),
                        port: 1688,
                        weight: 3,
                        probability: "7/10".into(),
                        probability_value: 0.7,
                        addresses: vec!["192.0.2.2".into()],
                        address_error: None,
                        observed: Some(0.69),
                        observed_count: Some(69),
                    },
                    HostChance {
                        target: "kms1.lab.example.".into(),
                        port: 1688,
                        weight: 1,
                        probability: "3/10".into(),
                        probability_value: 0.3,
                        addresses: Vec::new(),
                        address_error: Some("no A or AAAA record".into()),
                        observed: Some(0.31),
                        observed_count: Some(31),
                    },
                ],
            }],
            failover: vec!["step".into()],
            notes: vec!["cached".into()],
            simulation: Some(SimulationSummary {
                clients: 100,
                seed: 1,
                largest_difference: 0.01,
            }),
        }
    }

    #[test]
    fn text_shows_queries_chances_and_the_model_label() {
        let mut out = Vec::new();
        render(&sample(), Palette { color: false }, &mut out).unwrap_or_default();
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(
            text.contains("  primary suffix  _vlmcs._tcp.corp.example.  NXDOMAIN\n"),
            "{text}"
        );
        assert!(
            text.contains("_vlmcs._tcp.lab.example.   2 records  <- used\n"),
            "{text}"
        );
        assert!(text.contains("lab.example. RFC 2782 model:"), "{text}");
        assert!(
            text.contains("    kms2.lab.example.:1688  weight     3  first pick        7/10  70.00%  observed  69.00%  192.0.2.2\n"),
            "{text}"
        );
        assert!(text.contains("no A or AAAA record"), "{text}");
        assert!(text.contains("simulation: 100 clients, seed 1"), "{text}");
    }

    #[test]
    fn json_names_sources_and_answers_in_kebab_case() {
        let json = serde_json::to_value(sample()).unwrap_or_default();
        assert_eq!(json["model"], "RFC 2782");
        assert_eq!(json["queries"][0]["source"], "primary-suffix");
        assert_eq!(json["queries"][0]["answer"], "nxdomain");
        assert_eq!(json["queries"][1]["used"], true);
        assert_eq!(json["groups"][0]["hosts"][0]["probability"], "7/10");
        assert!(json["groups"][0]["hosts"][0].get("address_error").is_none());
    }
}
