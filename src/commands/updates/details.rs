//! `updates` output: the JSON details type and its text rendering.
//!
//! Per zone: the static verdict of each view of named.conf that holds it
//! (`--named-conf`), and the live verdict of each publish-list domain in it
//! (`--live`). A verdict is the id and severity of the worst finding it
//! gave; the findings themselves follow the details, as in every report.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::palette::{severity_word, Palette};
use crate::report::{FindingId, Severity};

/// What `updates` shows above its findings.
#[derive(Debug, Clone, Serialize)]
pub struct UpdatesDetails {
    /// The named.conf of the static audit, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub named_conf: Option<String>,
    /// Every file read for it (the top file, then each include).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Whether the live probe ran.
    pub live: bool,
    /// One entry per zone, in the order of the publish list.
    pub zones: Vec<ZoneUpdates>,
    /// Whether the text names the named.conf: a run in windows names it
    /// once, in its first window's details.
    #[serde(skip)]
    pub heading: bool,
}

/// One zone: what named.conf and the primary say about it.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneUpdates {
    /// The zone, absolute; `None` when neither named.conf nor DNS knows it.
    pub zone: Option<String>,
    /// The publish-list domains whose `_vlmcs._tcp` names it holds.
    pub domains: Vec<String>,
    /// The static verdict per view (one without views).
    #[serde(rename = "static", skip_serializing_if = "Vec::is_empty")]
    pub static_verdicts: Vec<StaticVerdict>,
    /// The live verdict per domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<LiveVerdict>,
}

/// What named.conf grants in one zone statement.
#[derive(Debug, Clone, Serialize)]
pub struct StaticVerdict {
    /// The view searched (none without views).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<String>,
    /// The view that defines the zone, when it is shared with `in-view`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defined_in_view: Option<String>,
    /// `file:line:column` of the zone statement (none: no zone holds the names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The worst finding's id.
    pub verdict: Option<FindingId>,
    /// The worst finding's severity.
    pub severity: Severity,
    /// Who named would let change or redirect each name (none when there is
    /// no verdict: zone not found, not a primary, DLZ, named would not load
    /// the file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub who: Vec<Who>,
}

/// Who may change, or send elsewhere, the SRV records of one name.
#[derive(Debug, Clone, Serialize)]
pub struct Who {
    /// The `_vlmcs._tcp` name.
    pub name: String,
    /// `anyone`, `addresses` (unsigned, from some addresses), `key-holders`
    /// or `nobody`.
    pub verdict: WhoVerdict,
    /// Unsigned requests: `everyone`, `some` or `nobody`.
    pub unsigned: Reach,
    /// Each key that gets through, and from where.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyReach>,
    /// Kerberos principals (GSS-TSIG) that get through.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<KeyReach>,
    /// An `external` rule lets a daemon decide too.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

/// The verdict of [`Who`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhoVerdict {
    /// Unsigned requests from every address.
    Anyone,
    /// Unsigned requests from some addresses.
    Addresses,
    /// Signed requests only.
    KeyHolders,
    /// Nobody.
    Nobody,
}

/// How many clients of one kind get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// From every address.
    Everyone,
    /// From some addresses.
    Some,
    /// None.
    Nobody,
}

/// One key (or principal) that gets through.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReach {
    /// As named.conf writes it.
    pub key: String,
    /// From where.
    pub from: Reach,
}

impl WhoVerdict {
    fn word(self) -> &'static str {
        match self {
            WhoVerdict::Anyone => "anyone",
            WhoVerdict::Addresses => "some addresses, unsigned",
            WhoVerdict::KeyHolders => "key holders",
            WhoVerdict::Nobody => "nobody",
        }
    }
}

impl Who {
    /// `who: key holders (k1, k2)` for the text rendering.
    fn text(&self) -> String {
        // Keys that get through from no more addresses than unsigned
        // requests add nothing to the verdict.
        let beyond = |k: &&KeyReach| match self.unsigned {
            Reach::Everyone => false,
            Reach::Some => k.from == Reach::Everyone,
            Reach::Nobody => true,
        };
        let holders: Vec<&str> = self
            .keys
            .iter()
            .chain(&self.principals)
            .filter(beyond)
            .map(|k| k.key.as_str())
            .collect();
        let mut text = format!("who: {}", self.verdict.word());
        if !holders.is_empty() {
            if self.verdict != WhoVerdict::KeyHolders {
                text.push_str(", and key holders");
            }
            text.push_str(&format!(" ({})", holders.join(", ")));
        }
        if self.external {
            text.push_str(", and whom an external daemon accepts");
        }
        text
    }
}

/// What the primary answered to the update probe of one domain.
#[derive(Debug, Clone, Serialize)]
pub struct LiveVerdict {
    /// The publish-list domain, absolute.
    pub domain: String,
    /// Its `_vlmcs._tcp` name.
    pub name: String,
    /// The primary probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// The primary's software (`bind`, `knot`, `powerdns`), when recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// How it was recognised: its `version.bind`, or its behaviour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recognised_by: Option<String>,
    /// TTL of the RRset as read, which the sentinel carried (none: empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// How many SRV records the RRset held.
    pub records: usize,
    /// The answer to the unsigned probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsigned: Option<Answer>,
    /// The key of the signed probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The Kerberos principal of a probe signed with GSS-TSIG.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The answer to the signed probe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<Answer>,
    /// Always 0: the probe's own prerequisite cannot hold, so another
    /// host's change forces no re-read any more (kept for schema 1).
    pub retries: u32,
    /// What changed around a probe, which must change nothing (normally
    /// empty): one line per change, then what kmsdns did about it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// Why the domain could not be probed, or a probe got no usable answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The worst finding's id.
    pub verdict: Option<FindingId>,
    /// The worst finding's severity.
    pub severity: Severity,
}

/// The server's answer to one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// Past the permission check (the probe stopped at its prerequisite):
    /// the change would be applied.
    Accepted,
    /// REFUSED, or NOTAUTH without a TSIG error from the primary.
    Refused,
    /// The signature was not accepted (BADSIG, BADKEY, …).
    KeyRejected,
    /// NOERROR: the server applied the probe although its prerequisite
    /// cannot hold.
    Applied,
    /// No usable answer.
    Failed,
}

impl Answer {
    fn word(self) -> &'static str {
        match self {
            Answer::Accepted => "accepted",
            Answer::Refused => "refused",
            Answer::KeyRejected => "signature rejected",
            Answer::Applied => "applied (prerequisite ignored)",
            Answer::Failed => "no answer",
        }
    }
}

/// Writes the details as text: per zone, one line per static and live
/// verdict.
pub fn render(details: &UpdatesDetails, palette: Palette, out: &mut dyn Write) -> io::Result<()> {
    if let (Some(path), true) = (&details.named_conf, details.heading) {
        writeln!(
            out,
            "{} {path} ({} file(s))",
            palette.dim("named.conf"),
            details.files.len()
        )?;
    }
    let id = |verdict: Option<FindingId>| {
        format!(
            "{:ID_WIDTH$}",
            verdict.map_or_else(String::new, |id| id.to_string())
        )
    };
    for zone in &details.zones {
        let title = zone.zone.as_deref().unwrap_or("(zone unknown)");
        writeln!(
            out,
            "{} {}",
            palette.heading(&format!("zone {title}")),
            palette.dim(&format!("({})", zone.domains.join(", ")))
        )?;
        for verdict in &zone.static_verdicts {
            let mut about = Vec::new();
            if let Some(view) = &verdict.view {
                about.push(format!("view {view}"));
            }
            if let Some(defined) = &verdict.defined_in_view {
                about.push(format!("in-view {defined}"));
            }
            if let Some(at) = &verdict.at {
                about.push(at.clone());
            }
            // One name: who, on the same line; several: after it.
            let mut whos: Vec<String> = verdict.who.iter().map(Who::text).collect();
            if verdict.who.len() == 1 {
                about.append(&mut whos);
            }
            let about = if about.is_empty() {
                String::new()
            } else {
                palette.dim(&about.join(", "))
            };
            let line = format!(
                "  static  {}{} {}  {about}",
                palette.severity(verdict.severity),
                pad(verdict.severity),
                id(verdict.verdict),
            );
            writeln!(out, "{}", line.trim_end())?;
            for (who, text) in verdict.who.iter().zip(whos) {
                writeln!(
                    out,
                    "          {}",
                    palette.dim(&format!("{}: {text}", who.name))
                )?;
            }
        }
        for verdict in &zone.live {
            let mut answers = Vec::new();
            if let Some(unsigned) = verdict.unsigned {
                answers.push(format!("unsigned {}", unsigned.word()));
            }
            if let (Some(key), Some(signed)) = (&verdict.key, verdict.signed) {
                answers.push(format!("key {key} {}", signed.word()));
            }
            if let (Some(principal), Some(signed)) = (&verdict.principal, verdict.signed) {
                answers.push(format!("principal {principal} {}", signed.word()));
            }
            if answers.is_empty() {
                answers.push("not probed".to_string());
            }
            let mut about = vec![verdict.name.clone()];
            if let Some(primary) = &verdict.primary {
                about.push(format!("primary {primary}"));
            }
            if let Some(software) = &verdict.software {
                about.push(software.clone());
            }
            writeln!(
                out,
                "  live    {}{} {}  {}: {}",
                palette.severity(verdict.severity),
                pad(verdict.severity),
                id(verdict.verdict),
                palette.dim(&about.join(", ")),
                answers.join(", ")
            )?;
        }
    }
    Ok(())
}

/// The width verdict ids are padded to: the longest an audit can give,
/// so that every window of a run pads alike.
const ID_WIDTH: usize = "update-policy-unverifiable".len();

fn pad(severity: Severity) -> String {
    " ".repeat(8usize.saturating_sub(severity_word(severity).len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UpdatesDetails {
        UpdatesDetails {
            named_conf: Some("/etc/bind/named.conf".into()),
            files: vec!["/etc/bind/named.conf".into()],
            live: true,
            heading: true,
            zones: vec![ZoneUpdates {
                zone: Some("open.example.".into()),
                domains: vec!["open.example.".into()],
                static_verdicts: vec![StaticVerdict {
                    view: None,
                    defined_in_view: None,
                    at: Some("/etc/bind/named.conf:12:5".into()),
                    verdict: Some(FindingId::UnsignedUpdatesAccepted),
                    severity: Severity::Critical,
                    who: vec![Who {
                        name: "_vlmcs._tcp.open.example.".into(),
                        verdict: WhoVerdict::Anyone,
                        unsigned: Reach::Everyone,
                        keys: Vec::new(),
                        principals: Vec::new(),
                        external: false,
                    }],
                }],
                live: vec![LiveVerdict {
                    domain: "open.example.".into(),
                    name: "_vlmcs._tcp.open.example.".into(),
                    primary: Some("192.0.2.53:53".into()),
                    software: None,
                    recognised_by: None,
                    ttl: None,
                    records: 0,
                    unsigned: Some(Answer::Accepted),
                    key: None,
                    principal: None,
                    signed: None,
                    retries: 0,
                    changed: Vec::new(),
                    error: None,
                    verdict: Some(FindingId::UnsignedUpdatesAccepted),
                    severity: Severity::Critical,
                }],
            }],
        }
    }

    #[test]
    fn text_lists_static_and_live_verdicts_per_zone() {
        let text = |details: &UpdatesDetails| {
            let mut out = Vec::new();
            render(details, Palette { color: false }, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        // Ids padded to the longest an audit gives, whatever the zones.
        let zones = "zone open.example. (open.example.)\n\
             \x20 static  critical unsigned-updates-accepted   /etc/bind/named.conf:12:5, who: anyone\n\
             \x20 live    critical unsigned-updates-accepted   _vlmcs._tcp.open.example., primary 192.0.2.53:53: unsigned accepted\n";
        assert_eq!(
            text(&sample()),
            format!("named.conf /etc/bind/named.conf (1 file(s))\n{zones}")
        );
        // A later window's zones: the named.conf was named above the first.
        let later = UpdatesDetails {
            heading: false,
            ..sample()
        };
        assert_eq!(text(&later), zones);
    }

    #[test]
    fn json_names_the_sections() {
        let value = serde_json::to_value(sample()).unwrap();
        let zone = &value["zones"][0];
        assert_eq!(zone["static"][0]["verdict"], "unsigned-updates-accepted");
        assert_eq!(zone["static"][0]["who"][0]["verdict"], "anyone");
        assert_eq!(zone["static"][0]["who"][0]["unsigned"], "everyone");
        assert_eq!(zone["live"][0]["unsigned"], "accepted");
        assert_eq!(zone["live"][0]["severity"], "critical");
        assert!(zone["live"][0].get("signed").is_none());
    }
}
