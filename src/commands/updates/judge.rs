//! Findings of `kmsdns updates`: who may rewrite the `_vlmcs._tcp` SRV
//! records (DESIGN §2, §5).
//!
//! Pure functions, no I/O. The static half turns the named.conf grant
//! analysis ([`crate::named_conf::audit_domains`]) into findings, each
//! naming the `file:line:column` it comes from; the live half turns the
//! answers to the update probe ([`crate::commands::updates::observe`]) into findings.
//!
//! Severities, and why:
//!
//! - **critical** — anyone can redirect KMS clients: `allow-update { any; }`
//!   or an unsigned update accepted live (`unsigned-updates-accepted`), a
//!   grant by source address alone (`address-only-grant`: whoever sends
//!   from, or forges, that address); or `publish` will fail: our key
//!   refused live, or our signature rejected (BADSIG, BADKEY, BADTIME)
//!   (`key-refused`). A probe or read that got no usable answer is
//!   critical too (`update-probe-failed`, `dns-read-failed`): a failed read
//!   is never taken for a good answer. So is a zone that changed around a
//!   probe, which must change nothing (`probe-changed-zone`).
//! - **warning**, live — a PowerDNS primary lets an unsigned probe past its
//!   TSIG and address checks (`update-policy-unverifiable`): it accepts
//!   unsigned updates, unless a Lua update policy refuses them after the
//!   prerequisites, which no probe that changes nothing can see.
//! - **warning** — works, but should be fixed: keyed grants that reach more
//!   than the `_vlmcs._tcp` SRV records (`grant-too-wide`), `allow-update`
//!   beside `update-policy` (`allow-update-ignored`: BIND 9.18 refuses to
//!   load such a zone), nothing granted at all (`no-grant`), the zone not in
//!   named.conf (`zone-not-found`), ACLs that are undefined or loop
//!   (`acl-undefined`, `acl-loop`: named-checkconf rejects them), and keys
//!   referenced but never defined (`key-undefined`). An undefined key is a
//!   warning, not critical: named loads the configuration, nobody can sign
//!   with a key the server does not have (it answers BADKEY), so the grant
//!   opens nothing to anyone — but a `publish` relying on it fails.
//!   Unsigned updates refused with no key configured (`no-key`) is a
//!   warning for a domain of the configuration (its `publish` cannot work)
//!   and information for a `--domain` given without one.
//! - **info** — `deny` rules reaching the name, zones that are secondaries
//!   in this named.conf (`zone-not-primary`: the primary decides).
//! - **ok** — a grant of exactly the SRV records of the name
//!   (`narrow-grant`), and unsigned refused but our key accepted
//!   (`keyed-only`).

use hickory_proto::rr::Name;

use crate::commands::updates::observe::{LiveProbe, ProbeAnswer, ProbeChange};
use crate::dns::identify::Software;
use crate::dns::TsigError;
use crate::named_conf::{zone_location, GrantIssue, NamedConf, Refusal, ZoneAudit};
use crate::report::{attribute_to_domains, Finding, FindingId, Severity};

/// `text` as an absolute, lower-case domain name (`corp.example.`), the
/// form every finding of `updates` names its domain in.
pub fn absolute(text: &str) -> String {
    let trimmed = text.trim().trim_end_matches('.').to_ascii_lowercase();
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        format!("{trimmed}.")
    }
}

/// The publish-list domain of a `_vlmcs._tcp.<domain>` name, absolute.
pub fn domain_of(name: &str) -> String {
    let name = absolute(name);
    match name.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("_vlmcs._tcp.") => absolute(&name[12..]),
        _ => name,
    }
}

/// The worst finding's id and severity (the first of the worst), if any.
pub fn worst(findings: &[Finding]) -> Option<(FindingId, Severity)> {
    let mut worst: Option<&Finding> = None;
    for finding in findings {
        if worst.is_none_or(|w| finding.severity > w.severity) {
            worst = Some(finding);
        }
    }
    worst.map(|f| (f.id, f.severity))
}

/// A suggested grant for the names, for hints.
fn narrow_grant(names: &[String]) -> String {
    let rules: Vec<String> = names
        .iter()
        .map(|n| format!("grant KEY name {} SRV;", absolute(n)))
        .collect();
    format!("update-policy {{ {} }};", rules.join(" "))
}

/// The findings of one zone (in one view) of the static audit.
pub fn static_findings(conf: &NamedConf, audit: &ZoneAudit) -> Vec<Finding> {
    let domains: Vec<String> = audit.names.iter().map(|n| domain_of(n)).collect();
    let mut findings = Vec::new();
    for issue in &audit.issues {
        let finding = static_finding(conf, audit, issue);
        match &audit.zone {
            // A fact of the zone is a fact of each domain audited in it.
            Some(zone) if about_the_zone(issue) => findings.extend(attribute_to_domains(
                vec![finding],
                &absolute(zone),
                &domains,
            )),
            _ => findings.push(finding),
        }
    }
    findings
}

/// Whether `issue` is about the zone as a whole, not about one name
/// (the last arm of [`subject`]).
fn about_the_zone(issue: &GrantIssue) -> bool {
    match issue {
        GrantIssue::ZoneNotFound { .. }
        | GrantIssue::GrantWiderThanNeeded { .. }
        | GrantIssue::NarrowGrant { .. }
        | GrantIssue::DenyRule { .. }
        | GrantIssue::RedirectGrant { .. }
        | GrantIssue::NoGrant { .. } => false,
        GrantIssue::DlzZone { name, .. } => !name.starts_with("_vlmcs"),
        _ => true,
    }
}

fn static_finding(conf: &NamedConf, audit: &ZoneAudit, issue: &GrantIssue) -> Finding {
    let grant = narrow_grant(&audit.names);
    let (id, severity, hint): (FindingId, Severity, Option<String>) = match issue {
        GrantIssue::AnyoneCanUpdate { .. } => (
            FindingId::UnsignedUpdatesAccepted,
            Severity::Critical,
            Some(format!(
                "anyone who can reach the server can point every KMS client at a host of their choosing; remove allow-update and use a TSIG key with {grant} (`kmsdns bind` writes both)"
            )),
        ),
        GrantIssue::AddressOnlyGrant { .. } => (
            FindingId::AddressOnlyGrant,
            Severity::Critical,
            Some(format!(
                "an address is no credential: anyone on that host or network, or forging it over UDP, can update; use a TSIG key with {grant} (`kmsdns bind` writes both)"
            )),
        ),
        GrantIssue::WholeZoneKeyGrant { key, .. } => (
            FindingId::GrantTooWide,
            Severity::Warning,
            Some(format!(
                "replace allow-update {{ key {key}; }} with {}",
                grant.replace("KEY", key)
            )),
        ),
        GrantIssue::GrantWiderThanNeeded { name, .. } => (
            FindingId::GrantTooWide,
            Severity::Warning,
            Some(format!(
                "a key that publishes KMS records needs only: grant KEY name {} SRV;",
                absolute(name)
            )),
        ),
        GrantIssue::NarrowGrant { .. } => (FindingId::NarrowGrant, Severity::Ok, None),
        GrantIssue::DenyRule { .. } => (FindingId::DenyRule, Severity::Info, None),
        GrantIssue::NoGrant { name, .. } => (
            FindingId::NoGrant,
            // Found by going through every zone: a zone nobody may
            // update is worth knowing, nothing to fix.
            if audit.requested {
                Severity::Warning
            } else {
                Severity::Info
            },
            Some(format!(
                "kmsdns publish (and the KMS hosts' own DNS publishing) will be refused; add update-policy {{ grant KEY name {} SRV; }}; (`kmsdns bind`), or keep the records in the zone file by hand",
                absolute(name)
            )),
        ),
        GrantIssue::UndefinedKey { key, .. } => (
            FindingId::KeyUndefined,
            Severity::Warning,
            Some(format!(
                "named loads this, but nobody can sign with a key it does not have (BADKEY): the grant is dead; define key \"{key}\" (tsig-keygen) in named.conf or a file it includes, or correct the name"
            )),
        ),
        GrantIssue::WillNotLoad { rejection } => (
            match &rejection.refusal {
                Refusal::UndefinedAcl { .. } => FindingId::AclUndefined,
                Refusal::AclLoop { .. } => FindingId::AclLoop,
                Refusal::AllowUpdateWithPolicy { .. } => FindingId::AllowUpdateIgnored,
                _ => FindingId::NamedConfRejected,
            },
            Severity::Warning,
            Some("named refuses to load this configuration, so none of its grants is in force and none is judged: fix it (named-checkconf reports it too), then audit again".into()),
        ),
        GrantIssue::DlzZone { .. } => (
            FindingId::ZoneInDlz,
            Severity::Warning,
            Some("a DLZ driver decides which zones it serves and who may change them (Samba AD: the zone's ACLs in the directory, `samba-tool dns`); probe the primary with `kmsdns updates --live`".into()),
        ),
        GrantIssue::ViewKeyGrant { keys, .. } => (
            FindingId::GrantTooWide,
            Severity::Warning,
            Some(format!(
                "replace allow-update with {}",
                grant.replace("KEY", keys.first().map_or("KEY", String::as_str))
            )),
        ),
        GrantIssue::RedirectGrant { name, .. } => (
            FindingId::GrantTooWide,
            Severity::Warning,
            Some(format!(
                "NS and DNAME at or above the name, or a CNAME at it, send KMS clients to whatever server or name they point at; a key that publishes KMS records needs only: grant KEY name {} SRV;",
                absolute(name)
            )),
        ),
        GrantIssue::ZoneNotFound { .. } => (
            FindingId::ZoneNotFound,
            Severity::Warning,
            Some("give the named.conf of the zone's primary, or check the domain; with views, every view whose clients look the name up needs the zone".into()),
        ),
        GrantIssue::NotPrimary { .. } => (
            FindingId::ZoneNotPrimary,
            Severity::Info,
            Some("updates are decided by the zone's primary (its SOA MNAME): audit the primary's named.conf".into()),
        ),
    };
    let mut message = format!("{}: {issue}", location(conf, audit, issue));
    if let Some(view) = &audit.view {
        message.push_str(&format!(" (view \"{view}\")"));
    }
    let mut finding = Finding::new(id, severity, message).domain(subject(audit, issue));
    if let Some(hint) = hint {
        finding = finding.hint(hint);
    }
    finding
}

/// Where the issue is in named.conf: its own place, else the zone
/// statement, else the view, else the top file.
fn location(conf: &NamedConf, audit: &ZoneAudit, issue: &GrantIssue) -> String {
    if let Some(at) = issue.location() {
        return at.to_string();
    }
    let view = audit.view.as_deref();
    if let Some(name) = audit.names.first() {
        if let Some(at) = zone_location(conf, view, name) {
            return at.to_string();
        }
    }
    if let Some(view) = view.and_then(|v| conf.view(v)) {
        return view.at.to_string();
    }
    conf.files
        .first()
        .map_or_else(|| "named.conf".to_string(), |f| f.display().to_string())
}

/// The domain a static finding is about: the publish-list domain for an
/// issue about one name, the zone for an issue about the whole zone.
fn subject(audit: &ZoneAudit, issue: &GrantIssue) -> String {
    match issue {
        GrantIssue::ZoneNotFound { name, .. }
        | GrantIssue::GrantWiderThanNeeded { name, .. }
        | GrantIssue::NarrowGrant { name, .. }
        | GrantIssue::DenyRule { name, .. }
        | GrantIssue::RedirectGrant { name, .. }
        | GrantIssue::NoGrant { name, .. } => domain_of(name),
        GrantIssue::DlzZone { name, .. } if name.starts_with("_vlmcs") => domain_of(name),
        _ => match &audit.zone {
            Some(zone) => absolute(zone),
            None => audit
                .names
                .first()
                .map_or_else(|| ".".to_string(), |n| domain_of(n)),
        },
    }
}

/// The findings of the live probe of one domain. `from_config`: the domain
/// comes from the configuration, so `publish` is expected to work there.
///
/// Each verdict is worded for the software that answered (BIND, Knot DNS,
/// PowerDNS; see [`crate::dns::identify`]), naming what to change there,
/// and neutrally when it is not known.
pub fn live_findings(probe: &LiveProbe, from_config: bool) -> Vec<Finding> {
    let domain = absolute(&probe.domain.to_ascii());
    let name = absolute(&probe.name.to_ascii());
    let zone = probe
        .zone
        .as_ref()
        .map_or_else(|| domain.clone(), show_name);
    let software = probe.software();
    // The finding's `server` names the primary's address.
    let server = match software {
        Some(software) => format!("the primary ({software})"),
        None => "the primary".to_string(),
    };
    let about = |finding: Finding| {
        let finding = finding.domain(&domain);
        match probe.primary {
            Some(primary) => finding.server(primary),
            None => finding,
        }
    };
    let mut findings = Vec::new();
    if let Some(overrun) = &probe.overrun {
        // Like a failed read: who may update is unknown.
        findings.push(about(overrun.finding(Severity::Critical)));
        return findings;
    }
    if let Some(error) = &probe.error {
        findings.push(about(
            Finding::new(
                FindingId::DnsReadFailed,
                Severity::Critical,
                format!("cannot probe who may update {name}: {error}"),
            )
            .hint("check that the domain exists and that its primary answers on the DNS port"),
        ));
        return findings;
    }
    for change in &probe.changed {
        findings.push(about(changed_finding(probe, change, &server, &zone)));
    }
    let unsigned_accepted = matches!(
        probe.unsigned,
        Some(ProbeAnswer::Accepted | ProbeAnswer::Applied)
    );
    // PowerDNS asks a Lua update policy only after the prerequisites, and
    // answers NOERROR when it refuses: past its TSIG and address checks, an
    // update that changes nothing cannot tell "allowed" from "refused".
    let opaque =
        software == Some(Software::PowerDns) && probe.unsigned == Some(ProbeAnswer::Accepted);
    if opaque {
        findings.push(about(
            Finding::new(
                FindingId::UpdatePolicyUnverifiable,
                Severity::Warning,
                format!(
                    "{server} lets an unsigned update of {name} SRV past its TSIG and address checks: it accepts unsigned updates there, unless a Lua update policy (lua-dnsupdate-policy-script) refuses them — PowerDNS consults such a policy only while applying a change and answers NOERROR either way, so an update that changes nothing cannot tell"
                ),
            )
            .hint(format!(
                "without a Lua policy anyone who can reach the server can redirect KMS clients: name the keys that may update in the zone's metadata (pdnsutil set-meta {} TSIG-ALLOW-DNSUPDATE KEY); with one, make sure the script refuses requests whose getTsigName() is empty; `kmsdns publish` reads back what it sends and reports a refusal",
                zone.trim_end_matches('.')
            )),
        ));
    } else if unsigned_accepted {
        findings.push(about(
            Finding::new(
                FindingId::UnsignedUpdatesAccepted,
                Severity::Critical,
                format!(
                    "{server} accepts unsigned updates of {name} SRV: anyone who can reach it can redirect KMS clients (probed with an update that cannot apply: it got past the permission check and stopped at its prerequisite)"
                ),
            )
            .hint(keyed_only_hint(software, &name, &zone)),
        ));
    }
    match &probe.unsigned {
        Some(ProbeAnswer::Failed { message }) | Some(ProbeAnswer::KeyRejected { message, .. }) => {
            findings.push(about(Finding::new(
                FindingId::UpdateProbeFailed,
                Severity::Critical,
                format!("the unsigned update probe of {name} got no usable answer: {message}"),
            )))
        }
        Some(ProbeAnswer::Accepted | ProbeAnswer::Applied | ProbeAnswer::Refused { .. }) | None => {
        }
    }
    let unsigned_refused = matches!(probe.unsigned, Some(ProbeAnswer::Refused { .. }));
    match (signer(probe), &probe.signed) {
        // Said by the finding above: the signed answer means as little.
        (Some(_), Some(ProbeAnswer::Accepted)) if opaque => {}
        (Some(key), Some(ProbeAnswer::Accepted | ProbeAnswer::Applied)) if unsigned_refused => {
            let scope = if software == Some(Software::PowerDns) {
                " (PowerDNS lets a key named in TSIG-ALLOW-DNSUPDATE change the whole zone)"
            } else {
                ""
            };
            findings.push(about(Finding::new(
                FindingId::KeyedOnly,
                Severity::Ok,
                format!(
                    "{server} refuses unsigned updates of {name} SRV and accepts them signed with {}{scope}",
                    key.described
                ),
            )))
        }
        (Some(key), Some(ProbeAnswer::Refused { .. })) => findings.push(about(
            Finding::new(
                FindingId::KeyRefused,
                Severity::Critical,
                format!(
                    "{server} refuses updates of {name} SRV signed with {}: kmsdns publish will fail",
                    key.described
                ),
            )
            .hint(grant_hint(software, &key.name, &name, &zone)),
        )),
        (
            Some(key),
            Some(ProbeAnswer::KeyRejected {
                tsig_error: Some(TsigError::BadKey),
                key_known: Some(true),
                ..
            }),
        ) => findings.push(about(
            Finding::new(
                FindingId::KeyRefused,
                Severity::Critical,
                format!(
                    "{server} knows {} (a read signed with it verifies) but does not let it update {name} SRV (NOTAUTH, BADKEY): kmsdns publish will fail",
                    key.described
                ),
            )
            .hint(grant_hint(software, &key.name, &name, &zone)),
        )),
        (Some(_), Some(ProbeAnswer::KeyRejected { tsig_error, message, .. })) => findings.push(
            about(
                Finding::new(
                    FindingId::KeyRefused,
                    Severity::Critical,
                    format!("{message}: kmsdns publish will fail"),
                )
                .hint(key_hint(software, *tsig_error)),
            ),
        ),
        (Some(_), Some(ProbeAnswer::Failed { message })) => findings.push(about(Finding::new(
            FindingId::UpdateProbeFailed,
            Severity::Critical,
            format!("the signed update probe of {name} got no usable answer: {message}"),
        ))),
        (None, _) if unsigned_refused => findings.push(about(
            Finding::new(
                FindingId::NoKey,
                if from_config {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                format!(
                    "{server} refuses unsigned updates of {name} SRV, and no TSIG key is configured for {domain}: kmsdns cannot publish there"
                ),
            )
            .hint("configure the key the zone grants ([tsig-key.…] and `key` for the domain)"),
        )),
        _ => {}
    }
    findings
}

/// A probe changed the zone: say exactly how, and what kmsdns did about it.
fn changed_finding(probe: &LiveProbe, change: &ProbeChange, server: &str, zone: &str) -> Finding {
    let answer = if change.probe == "unsigned" {
        probe.unsigned.as_ref()
    } else {
        probe.signed.as_ref()
    };
    let why = if answer == Some(&ProbeAnswer::Applied) {
        "it applied an update whose prerequisite cannot hold"
    } else {
        "it answered that it applied nothing, so another host may have changed the zone at the same moment"
    };
    let mut message = format!(
        "{zone} changed on {server} around the {} update probe ({why}): {}",
        change.probe,
        change.changes.join("; ")
    );
    if let Some(repair) = &change.repair {
        message.push_str(&format!("; {repair}"));
    }
    Finding::new(FindingId::ProbeChangedZone, Severity::Critical, message).hint(
        "check the zone's records and serial; a server that applies updates whose prerequisites fail (RFC 2136 §3.2) cannot be probed safely: skip the probe (`kmsdns audit --no-updates`) until it is fixed",
    )
}

/// Who signed the signed probe, if it was signed.
struct Signer {
    /// `key kms-publisher`, `Kerberos principal KMS1$@AD.EXAMPLE`.
    described: String,
    /// The key name as a grant writes it, or the principal.
    name: String,
}

fn signer(probe: &LiveProbe) -> Option<Signer> {
    if let Some(principal) = &probe.principal {
        return Some(Signer {
            described: format!("Kerberos principal {principal}"),
            name: principal.clone(),
        });
    }
    probe.key.as_ref().map(|key| Signer {
        described: format!("key {key}"),
        name: key_name(key),
    })
}

/// A key name as a grant writes it: without the trailing dot.
fn key_name(key: &Name) -> String {
    key.to_ascii().trim_end_matches('.').to_string()
}

/// `_vlmcs._tcp.<domain>.` relative to the zone, as Knot's
/// `update-owner-name` takes it.
fn relative(name: &str, zone: &str) -> String {
    let suffix = format!(".{}", zone.trim_start_matches('.'));
    name.strip_suffix(&suffix)
        .map_or_else(|| name.to_string(), str::to_string)
}

/// How to let `key` change exactly the SRV records of `name`, in the
/// software that answered.
fn grant_hint(software: Option<Software>, key: &str, name: &str, zone: &str) -> String {
    match software {
        Some(Software::Bind) => format!(
            "grant the key in the zone: update-policy {{ grant {key} name {name} SRV; }}; (`kmsdns bind` writes it), or configure the key that is granted"
        ),
        Some(Software::Knot) => format!(
            "let the key update in knot.conf: an acl with key: {key}, action: update, update-type: [SRV], update-owner: name, update-owner-match: equal, update-owner-name: [{}], listed in the zone's acl; or configure the key that is allowed",
            relative(name, zone)
        ),
        Some(Software::PowerDns) => format!(
            "let the key update the zone: pdnsutil set-meta {} TSIG-ALLOW-DNSUPDATE {key} (and this host's address in ALLOW-DNSUPDATE-FROM), or, with a Lua update policy, allow it there",
            zone.trim_end_matches('.')
        ),
        Some(Software::ActiveDirectory) => format!(
            "on Active Directory the creator of {name} owns it: give {key} (or a group holding every KMS host's account) Full Control on the _VLMCS._TCP node of zone {}, or publish with the principal that owns it",
            zone.trim_end_matches('.')
        ),
        None => format!(
            "let key {key} update the SRV records of {name} on the primary (BIND: update-policy grant; Knot DNS: an acl with action: update; PowerDNS: TSIG-ALLOW-DNSUPDATE metadata), or configure the key that is allowed"
        ),
    }
}

/// How to require a key for updates of `name`, in the software that
/// answered.
fn keyed_only_hint(software: Option<Software>, name: &str, zone: &str) -> String {
    match software {
        Some(Software::Bind) => format!(
            "remove allow-update from the zone and use a TSIG key with {} (`kmsdns bind` writes both)",
            narrow_grant(std::slice::from_ref(&name.to_string()))
        ),
        Some(Software::Knot) => format!(
            "remove the zone's update acl without a key (address only), and let only a key update: an acl with key: KEY, action: update, update-type: [SRV], update-owner: name, update-owner-match: equal, update-owner-name: [{}]",
            relative(name, zone)
        ),
        Some(Software::PowerDns) => format!(
            "name the keys that may update in the zone's metadata: pdnsutil set-meta {} TSIG-ALLOW-DNSUPDATE KEY",
            zone.trim_end_matches('.')
        ),
        Some(Software::ActiveDirectory) => format!(
            "set the zone {} to secure dynamic updates only (Samba: allow dns updates = secure only; Windows: the zone's Dynamic updates: Secure only)",
            zone.trim_end_matches('.')
        ),
        None => format!(
            "require a TSIG key for updates of the zone, granted only the SRV records of {name} (BIND: update-policy grant; Knot DNS: an acl with a key; PowerDNS: TSIG-ALLOW-DNSUPDATE metadata)"
        ),
    }
}

/// How to fix a key whose signature the server rejects.
fn key_hint(software: Option<Software>, error: Option<TsigError>) -> String {
    let keys = match software {
        Some(Software::Bind) => "the key statement in named.conf",
        Some(Software::Knot) => "the key section of knot.conf",
        Some(Software::PowerDns) => "what `pdnsutil list-tsig-keys` shows on the server",
        Some(Software::ActiveDirectory) | None => "the server's key",
    };
    match error {
        Some(TsigError::BadSig) => format!("the secret differs from the server's: copy the key from {keys}"),
        Some(TsigError::BadKey) => format!("the server has no key of this name and algorithm: compare {keys} with the configured key"),
        Some(TsigError::BadTime) => "the clocks of this machine and the server differ by more than 5 minutes: synchronise them (NTP)".into(),
        _ => format!("compare the key name, algorithm and secret with {keys}"),
    }
}

/// `name` as shown in findings: absolute, lower case.
pub fn show_name(name: &Name) -> String {
    absolute(&name.to_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use crate::concurrency::deadline::Overrun;
    use crate::dns::identify::Recognition;
    use crate::named_conf::audit_domains;

    fn conf(text: &str) -> NamedConf {
        NamedConf::parse_str(Path::new("/etc/bind/named.conf"), text).unwrap()
    }

    fn audit(text: &str, domains: &[&str]) -> Vec<Finding> {
        let conf = conf(text);
        audit_domains(&conf, domains)
            .iter()
            .flat_map(|a| static_findings(&conf, a))
            .collect()
    }

    fn ids(findings: &[Finding]) -> Vec<(FindingId, Severity)> {
        findings.iter().map(|f| (f.id, f.severity)).collect()
    }

    #[test]
    fn names_and_domains() {
        assert_eq!(absolute("Corp.Example"), "corp.example.");
        assert_eq!(absolute("corp.example."), "corp.example.");
        assert_eq!(absolute("."), ".");
        assert_eq!(domain_of("_vlmcs._tcp.corp.example."), "corp.example.");
        assert_eq!(domain_of("_VLMCS._TCP.Corp.Example"), "corp.example.");
        assert_eq!(domain_of("corp.example"), "corp.example.");
    }

    #[test]
    fn allow_update_any_is_critical_with_its_line() {
        let findings = audit(
            "zone \"open.example\" {\n  type primary;\n  file \"db\";\n  allow-update { any; };\n};\n",
            &["open.example"],
        );
        assert_eq!(
            ids(&findings),
            [(FindingId::UnsignedUpdatesAccepted, Severity::Critical)]
        );
        let finding = &findings[0];
        assert!(
            finding.message.starts_with("/etc/bind/named.conf:4:"),
            "{}",
            finding.message
        );
        assert_eq!(finding.subject.domain.as_deref(), Some("open.example."));
        assert!(finding
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("grant KEY name _vlmcs._tcp.open.example. SRV;"));
    }

    #[test]
    fn address_grants_are_critical_and_key_grants_too_wide() {
        let findings = audit(
            "key k { algorithm hmac-sha256; secret \"aGVsbG8=\"; };\n\
             zone \"a.example\" { type primary; file \"a\"; allow-update { 10.0.0.0/8; }; };\n\
             zone \"b.example\" { type primary; file \"b\"; allow-update { key k; }; };\n",
            &["a.example", "b.example"],
        );
        assert_eq!(
            ids(&findings),
            [
                (FindingId::AddressOnlyGrant, Severity::Critical),
                (FindingId::GrantTooWide, Severity::Warning)
            ]
        );
        assert!(findings[1]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("grant k name"));
    }

    #[test]
    fn narrow_wide_and_undefined_grants() {
        let findings = audit(
            "key k { algorithm hmac-sha256; secret \"aGVsbG8=\"; };\n\
             zone \"c.example\" { type primary; file \"c\"; update-policy {\n\
               grant k name _vlmcs._tcp.c.example. SRV;\n\
               grant k zonesub ANY;\n\
               grant ghost name _vlmcs._tcp.c.example. SRV;\n\
             }; };\n",
            &["c.example"],
        );
        let got = ids(&findings);
        assert!(
            got.contains(&(FindingId::NarrowGrant, Severity::Ok)),
            "{got:?}"
        );
        assert!(
            got.contains(&(FindingId::GrantTooWide, Severity::Warning)),
            "{got:?}"
        );
        assert!(
            got.contains(&(FindingId::KeyUndefined, Severity::Warning)),
            "{got:?}"
        );
        let wide = findings
            .iter()
            .find(|f| f.id == FindingId::GrantTooWide)
            .unwrap();
        assert!(
            wide.message.contains("grant k zonesub ANY"),
            "{}",
            wide.message
        );
        assert!(wide.message.contains(":4:"), "{}", wide.message);
    }

    #[test]
    fn no_grant_and_missing_zone_are_warnings_with_a_place() {
        let findings = audit(
            "zone \"s.example\" {\n type primary; file \"s\"; };\n",
            &["s.example", "elsewhere.example"],
        );
        assert_eq!(
            ids(&findings),
            [
                (FindingId::NoGrant, Severity::Warning),
                (FindingId::ZoneNotFound, Severity::Warning)
            ]
        );
        assert!(findings[0].message.starts_with("/etc/bind/named.conf:1:"));
        assert!(findings[1].message.starts_with("/etc/bind/named.conf: "));
        assert_eq!(
            findings[1].subject.domain.as_deref(),
            Some("elsewhere.example.")
        );
    }

    #[test]
    fn views_are_named() {
        let findings = audit(
            "view \"inside\" { zone \"v.example\" { type primary; file \"v\"; allow-update { any; }; }; };\n\
             view \"outside\" { zone \"v.example\" { type secondary; file \"v2\"; primaries { 192.0.2.1; }; }; };\n",
            &["v.example"],
        );
        assert_eq!(
            ids(&findings),
            [
                (FindingId::UnsignedUpdatesAccepted, Severity::Critical),
                (FindingId::ZoneNotPrimary, Severity::Info)
            ]
        );
        assert!(findings[0].message.ends_with("(view \"inside\")"));
        assert!(findings[1].message.ends_with("(view \"outside\")"));
    }

    const REFUSED: ProbeAnswer = ProbeAnswer::Refused { notauth: false };

    fn probe(unsigned: ProbeAnswer, signed: Option<ProbeAnswer>) -> LiveProbe {
        LiveProbe {
            domain: Name::from_ascii("corp.example.").unwrap(),
            name: Name::from_ascii("_vlmcs._tcp.corp.example.").unwrap(),
            zone: Some(Name::from_ascii("corp.example.").unwrap()),
            primary: Some("192.0.2.53:53".parse().unwrap()),
            ttl: Some(3600),
            records: 1,
            error: None,
            overrun: None,
            unsigned: Some(unsigned),
            key: signed
                .as_ref()
                .map(|_| Name::from_ascii("kms-publisher.").unwrap()),
            principal: None,
            signed,
            software: None,
            changed: Vec::new(),
        }
    }

    #[test]
    fn live_classification() {
        let cases = [
            (
                probe(ProbeAnswer::Accepted, None),
                vec![(FindingId::UnsignedUpdatesAccepted, Severity::Critical)],
            ),
            (
                probe(ProbeAnswer::Accepted, Some(ProbeAnswer::Accepted)),
                vec![(FindingId::UnsignedUpdatesAccepted, Severity::Critical)],
            ),
            (
                probe(REFUSED, Some(ProbeAnswer::Accepted)),
                vec![(FindingId::KeyedOnly, Severity::Ok)],
            ),
            (
                probe(REFUSED, Some(REFUSED)),
                vec![(FindingId::KeyRefused, Severity::Critical)],
            ),
            (
                probe(
                    REFUSED,
                    Some(ProbeAnswer::KeyRejected {
                        tsig_error: Some(TsigError::BadSig),
                        key_known: Some(false),
                        message: "x (NOTAUTH, BADSIG)".into(),
                    }),
                ),
                vec![(FindingId::KeyRefused, Severity::Critical)],
            ),
            (
                probe(REFUSED, None),
                vec![(FindingId::NoKey, Severity::Warning)],
            ),
            (
                probe(
                    ProbeAnswer::Failed {
                        message: "timeout".into(),
                    },
                    None,
                ),
                vec![(FindingId::UpdateProbeFailed, Severity::Critical)],
            ),
        ];
        for (probe, expected) in cases {
            let findings = live_findings(&probe, true);
            assert_eq!(ids(&findings), expected, "{probe:?}");
            for finding in &findings {
                assert_eq!(finding.subject.domain.as_deref(), Some("corp.example."));
                assert_eq!(finding.subject.server.as_deref(), Some("192.0.2.53:53"));
            }
        }
        let badsig = live_findings(
            &probe(
                REFUSED,
                Some(ProbeAnswer::KeyRejected {
                    tsig_error: Some(TsigError::BadSig),
                    key_known: Some(false),
                    message: "rejected (NOTAUTH, BADSIG)".into(),
                }),
            ),
            true,
        );
        assert!(badsig[0].message.contains("BADSIG"));
        assert!(badsig[0].hint.as_deref().unwrap_or("").contains("secret"));
        // Without a configuration, a missing key is only worth knowing.
        let info = live_findings(&probe(REFUSED, None), false);
        assert_eq!(ids(&info), [(FindingId::NoKey, Severity::Info)]);
    }

    fn on(software: Software, mut probe: LiveProbe) -> LiveProbe {
        probe.software = Some((software, Recognition::Behaviour("test")));
        probe
    }

    fn texts(findings: &[Finding]) -> String {
        findings
            .iter()
            .map(|f| format!("{} {}", f.message, f.hint.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// BIND's words (named.conf, update-policy) never reach a finding about
    /// Knot DNS or PowerDNS.
    fn assert_no_bind_words(findings: &[Finding]) {
        let text = texts(findings);
        for word in [
            "named.conf",
            "update-policy {",
            "update-policy grant",
            "allow-update",
            "kmsdns bind",
        ] {
            assert!(!text.contains(word), "{word:?} in: {text}");
        }
    }

    #[test]
    fn knot_refusals_are_verdicts_in_knot_words() {
        // Unsigned NOTAUTH, signed past the ACL: keyed only.
        let keyed = on(
            Software::Knot,
            probe(
                ProbeAnswer::Refused { notauth: true },
                Some(ProbeAnswer::Accepted),
            ),
        );
        let findings = live_findings(&keyed, true);
        assert_eq!(ids(&findings), [(FindingId::KeyedOnly, Severity::Ok)]);
        assert!(
            findings[0].message.contains("Knot DNS"),
            "{}",
            findings[0].message
        );
        // A known key the ACL does not allow: NOTAUTH with BADKEY.
        let not_granted = on(
            Software::Knot,
            probe(
                ProbeAnswer::Refused { notauth: true },
                Some(ProbeAnswer::KeyRejected {
                    tsig_error: Some(TsigError::BadKey),
                    key_known: Some(true),
                    message: "does not know key".into(),
                }),
            ),
        );
        let findings = live_findings(&not_granted, true);
        assert_eq!(
            ids(&findings),
            [(FindingId::KeyRefused, Severity::Critical)]
        );
        let text = texts(&findings);
        assert!(text.contains("knows key kms-publisher."), "{text}");
        assert!(text.contains("update-owner-name: [_vlmcs._tcp]"), "{text}");
        assert!(!text.contains("does not know"), "{text}");
        assert_no_bind_words(&findings);
        // An unknown key: the key section of knot.conf.
        let unknown = on(
            Software::Knot,
            probe(
                ProbeAnswer::Refused { notauth: true },
                Some(ProbeAnswer::KeyRejected {
                    tsig_error: Some(TsigError::BadKey),
                    key_known: Some(false),
                    message: "x does not know key kms-publisher. (NOTAUTH, BADKEY)".into(),
                }),
            ),
        );
        let findings = live_findings(&unknown, true);
        assert!(
            texts(&findings).contains("knot.conf"),
            "{}",
            texts(&findings)
        );
        assert_no_bind_words(&findings);
    }

    #[test]
    fn powerdns_verdicts_name_its_metadata_and_its_blind_spot() {
        // REFUSED to our signed probe: TSIG-ALLOW-DNSUPDATE.
        let refused = on(Software::PowerDns, probe(REFUSED, Some(REFUSED)));
        let findings = live_findings(&refused, true);
        assert_eq!(
            ids(&findings),
            [(FindingId::KeyRefused, Severity::Critical)]
        );
        assert!(
            texts(&findings)
                .contains("pdnsutil set-meta corp.example TSIG-ALLOW-DNSUPDATE kms-publisher"),
            "{}",
            texts(&findings)
        );
        assert_no_bind_words(&findings);
        // Unsigned past the checks: accepted, or a Lua policy decides later.
        let opaque = on(
            Software::PowerDns,
            probe(ProbeAnswer::Accepted, Some(ProbeAnswer::Accepted)),
        );
        let findings = live_findings(&opaque, true);
        assert_eq!(
            ids(&findings),
            [(FindingId::UpdatePolicyUnverifiable, Severity::Warning)]
        );
        assert!(
            findings[0].message.contains("Lua"),
            "{}",
            findings[0].message
        );
        assert_no_bind_words(&findings);
        // Unsigned refused, key accepted: keyed only, the whole zone.
        let keyed = on(
            Software::PowerDns,
            probe(REFUSED, Some(ProbeAnswer::Accepted)),
        );
        let findings = live_findings(&keyed, true);
        assert_eq!(ids(&findings), [(FindingId::KeyedOnly, Severity::Ok)]);
        assert!(findings[0].message.contains("whole zone"));
        // A key PowerDNS does not accept: no TSIG error to name.
        let unknown = on(
            Software::PowerDns,
            probe(
                REFUSED,
                Some(ProbeAnswer::KeyRejected {
                    tsig_error: None,
                    key_known: Some(false),
                    message: "x does not accept the signature of key kms-publisher.".into(),
                }),
            ),
        );
        let findings = live_findings(&unknown, true);
        assert!(texts(&findings).contains("pdnsutil list-tsig-keys"));
        assert_no_bind_words(&findings);
    }

    #[test]
    fn a_probe_that_changed_the_zone_is_critical_and_says_what() {
        let mut changed = probe(ProbeAnswer::Applied, None);
        changed.changed.push(ProbeChange {
            probe: "unsigned".into(),
            changes: vec![
                "serial 1 → 2".into(),
                "SRV 65535 0 0 kmsdns-probe-1.invalid. (TTL 3600) added".into(),
            ],
            repair: Some("kmsdns deleted the sentinel again".into()),
        });
        let findings = live_findings(&changed, true);
        assert_eq!(
            ids(&findings),
            [
                (FindingId::ProbeChangedZone, Severity::Critical),
                (FindingId::UnsignedUpdatesAccepted, Severity::Critical)
            ]
        );
        let message = &findings[0].message;
        assert!(message.contains("serial 1 → 2"), "{message}");
        assert!(message.contains("added"), "{message}");
        assert!(message.contains("deleted the sentinel again"), "{message}");
        assert!(message.contains("prerequisite cannot hold"), "{message}");
    }

    #[test]
    fn unknown_software_gets_every_servers_words() {
        let findings = live_findings(&probe(REFUSED, Some(REFUSED)), true);
        let text = texts(&findings);
        for words in ["update-policy", "acl", "TSIG-ALLOW-DNSUPDATE"] {
            assert!(text.contains(words), "{words}: {text}");
        }
    }

    #[test]
    fn an_unprobed_domain_is_a_failed_read() {
        let mut unprobed = probe(REFUSED, None);
        unprobed.unsigned = None;
        unprobed.primary = None;
        unprobed.error = Some("no SOA".into());
        let findings = live_findings(&unprobed, true);
        assert_eq!(
            ids(&findings),
            [(FindingId::DnsReadFailed, Severity::Critical)]
        );
        assert_eq!(findings[0].subject.server, None);
    }

    #[test]
    fn a_domain_past_its_deadline_is_cut_off_before_any_probe() {
        let mut unprobed = probe(REFUSED, None);
        unprobed.unsigned = None;
        unprobed.overrun = Some(Overrun {
            limit: std::time::Duration::from_secs(15),
            step: Some("reading corp.example. SOA from 192.0.2.53:53 over UDP".into()),
        });
        let findings = live_findings(&unprobed, true);
        assert_eq!(
            ids(&findings),
            [(FindingId::DeadlineExceeded, Severity::Critical)]
        );
        assert!(findings[0]
            .message
            .contains("while reading corp.example. SOA"));
    }

    #[test]
    fn worst_is_the_first_of_the_worst() {
        let findings = [
            Finding::new(FindingId::NarrowGrant, Severity::Ok, "a"),
            Finding::new(FindingId::NoGrant, Severity::Warning, "b"),
            Finding::new(FindingId::GrantTooWide, Severity::Warning, "c"),
        ];
        assert_eq!(
            worst(&findings),
            Some((FindingId::NoGrant, Severity::Warning))
        );
        assert_eq!(worst(&[]), None);
    }
}
