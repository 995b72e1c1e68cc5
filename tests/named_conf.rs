//! The named.conf reader and the update-grant analysis, against the
//! fixtures in `tests/data/named_conf/`.
//!
//! Every fixture that kmsdns reads as valid is also given to BIND's own
//! `named-checkconf`, which must accept it (so the fixtures are real BIND
//! configuration); every malformed one must be refused by both. Fixtures
//! that BIND refuses for meaning rather than syntax (`rejected/`) are read
//! by kmsdns, which reports what is wrong with them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use kmsdns::named_conf::syntax::{read_tree, Statement};
use kmsdns::named_conf::{
    audit_domains, find_zone, zones_holding, AclSource, ElementKind, GrantIssue, IncludeProblem,
    Limits, NameScope, NamedConf, NamedConfError, Refusal, RuleMode, RuleType, TypeScope,
    UpdatePolicy, ZoneAudit,
};

/// The made-up secrets of the fixtures: none may ever be kept or shown.
const FIXTURE_SECRETS: [&str; 3] = [
    "a21zZG5zLWZpeHR1cmUtbm90LWEtcmVhbC1zZWNyZXQtMQ==",
    "a21zZG5zLWZpeHR1cmUtbm90LWEtcmVhbC1zZWNyZXQtMg==",
    "a21zZG5zLWZpeHR1cmUtbm90LWEtcmVhbC1zZWNyZXQtMw==",
];

fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/named_conf")
        .join(relative)
}

/// Runs `named-checkconf FILE` from the file's directory (BIND resolves
/// relative includes against its working directory).
fn named_checkconf(path: &Path) -> (bool, String) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = path.file_name().unwrap_or(path.as_os_str());
    let output = Command::new("named-checkconf")
        .arg(file)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run named-checkconf ({e}): install BIND 9 (apt-get install bind9)")
        });
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn assert_bind_accepts(path: &Path) {
    let (ok, output) = named_checkconf(path);
    assert!(ok, "named-checkconf refuses {}:\n{output}", path.display());
}

fn assert_bind_rejects(path: &Path) {
    let (ok, output) = named_checkconf(path);
    assert!(!ok, "named-checkconf accepts {}:\n{output}", path.display());
}

/// Loads a fixture that BIND accepts.
fn load_valid(relative: &str) -> NamedConf {
    let path = data(relative);
    assert_bind_accepts(&path);
    NamedConf::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Neither the model nor the statement tree it is read from keeps a secret.
fn assert_no_secret(conf: &NamedConf) {
    let debug = format!("{conf:?}");
    let tree = format!("{:?}", tree_of(conf));
    for secret in FIXTURE_SECRETS {
        assert!(!debug.contains(secret), "a secret is kept in the model");
        assert!(!tree.contains(secret), "a secret is kept in the tree");
    }
}

/// The statement tree of a configuration the model was read from.
fn tree_of(conf: &NamedConf) -> Vec<Statement> {
    read_tree(&conf.files[0], Limits::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// The audit of `zone` in `view`.
fn zone_audit<'a>(audits: &'a [ZoneAudit], view: Option<&str>, zone: &str) -> &'a ZoneAudit {
    audits
        .iter()
        .find(|a| a.view.as_deref() == view && a.zone.as_deref() == Some(zone))
        .unwrap_or_else(|| panic!("no audit of zone {zone} in view {view:?}: {audits:#?}"))
}

fn issues_of(conf: &NamedConf, domains: &[&str], zone: &str) -> Vec<GrantIssue> {
    let audits = audit_domains(conf, domains);
    zone_audit(&audits, None, zone).issues.clone()
}

fn line_of(issue: &GrantIssue) -> Option<u32> {
    issue.location().map(|at| at.line)
}

// ---------------------------------------------------------------------------
// Debian's default configuration

/// Copies the Debian fixture to a temporary directory and points its
/// absolute `/etc/bind/` includes there, leaving the files otherwise as
/// Debian ships them.
fn debian_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let source = data("debian");
    let entries = fs::read_dir(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    for entry in entries.flatten() {
        let text = fs::read_to_string(entry.path())
            .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        let text = text.replace(
            "include \"/etc/bind/",
            &format!("include \"{}/", dir.path().display()),
        );
        fs::write(dir.path().join(entry.file_name()), text).unwrap_or_else(|e| panic!("{e}"));
    }
    let top = dir.path().join("named.conf");
    (dir, top)
}

#[test]
fn debian_default_configuration() {
    let (_dir, top) = debian_copy();
    assert_bind_accepts(&top);
    let conf = NamedConf::load(&top).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(conf.files.len(), 4, "named.conf and its three includes");
    assert!(conf.files[1].ends_with("named.conf.options"));
    assert_eq!(conf.options.directory.as_deref(), Some("/var/cache/bind"));
    assert!(conf.views.is_empty());
    let zones: Vec<(&str, Option<&str>)> = conf
        .zones
        .iter()
        .map(|z| (z.name.as_str(), z.zone_type.as_deref()))
        .collect();
    assert_eq!(
        zones,
        vec![
            (".", Some("hint")),
            ("localhost", Some("master")),
            ("127.in-addr.arpa", Some("master")),
            ("0.in-addr.arpa", Some("master")),
            ("255.in-addr.arpa", Some("master")),
        ]
    );
    // The zones come from named.conf.default-zones, with their lines.
    let localhost = &conf.zones[1];
    assert!(localhost.at.file.ends_with("named.conf.default-zones"));
    assert_eq!((localhost.at.line, localhost.at.column), (10, 1));

    // The root hint zone holds no data: no zone holds a KMS domain.
    assert_eq!(find_zone(&conf, None, "_vlmcs._tcp.corp.example."), None);
    let audits = audit_domains(&conf, &["corp.example"]);
    assert_eq!(audits.len(), 1);
    assert_eq!(
        audits[0].issues,
        vec![GrantIssue::ZoneNotFound {
            name: "_vlmcs._tcp.corp.example.".to_string(),
            view: None,
        }]
    );
    // A name under localhost is found, and its static zone grants nothing.
    let found = find_zone(&conf, None, "_vlmcs._tcp.localhost")
        .unwrap_or_else(|| panic!("localhost zone not found"));
    assert_eq!(found.zone.name, "localhost");
    let issues = issues_of(&conf, &["localhost"], "localhost");
    assert_eq!(
        issues,
        vec![GrantIssue::NoGrant {
            name: "_vlmcs._tcp.localhost.".to_string(),
            zone: "localhost".to_string(),
        }]
    );
}

#[test]
fn debian_side_files() {
    let rfc1918 = load_valid("debian/zones.rfc1918");
    assert_eq!(rfc1918.zones.len(), 18);
    assert!(rfc1918.zones.iter().all(|z| z.is_primary()));

    let keys = load_valid("debian/bind.keys");
    assert!(tree_of(&keys).iter().any(|s| s.is("trust-anchors")));
    assert!(keys.zones.is_empty() && keys.keys.is_empty());
}

#[test]
fn this_machines_configuration_reads() {
    // BIND is installed for the test bed; its own configuration must read.
    // Without the file this test would prove nothing, so it fails.
    let path = Path::new("/etc/bind/named.conf");
    assert!(
        path.exists(),
        "{} is missing: install BIND 9's package (Debian/Ubuntu: apt-get install bind9), \
         which the test bed needs anyway; this test does not skip",
        path.display()
    );
    let conf = NamedConf::load(path).unwrap_or_else(|e| panic!("{e}"));
    assert!(conf.files.len() >= 2, "{:?}", conf.files);
}

// ---------------------------------------------------------------------------
// Views, includes, ACLs, comments, quoted strings

#[test]
fn views_includes_and_quoting() {
    let conf = load_valid("views/named.conf");
    assert_no_secret(&conf);

    let names: Vec<String> = conf
        .files
        .iter()
        .map(|f| {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        names,
        [
            "named.conf",
            "keys.conf",
            "acls.conf",
            "internal-zones.conf"
        ]
    );

    // Keys: name and algorithm, quoted or not.
    let keys: Vec<(&str, Option<&str>)> = conf
        .keys
        .iter()
        .map(|k| (k.name.as_str(), k.algorithm.as_deref()))
        .collect();
    assert_eq!(
        keys,
        [
            ("kms-publisher", Some("hmac-sha256")),
            ("internal-view", Some("hmac-sha256"))
        ]
    );

    // ACLs from the included file, `10.0.0.0 / 8` read as one prefix.
    let nets = conf.acl("internal-nets").unwrap_or_else(|| panic!("acl"));
    let kinds: Vec<&ElementKind> = nets.elements.elements.iter().map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        [
            &ElementKind::Address("10.0.0.0/8".to_string()),
            &ElementKind::Address("172.16.0.0/12".to_string()),
            &ElementKind::Acl("lab".to_string()),
        ]
    );
    let lab = conf.acl("lab").unwrap_or_else(|| panic!("acl lab"));
    assert!(lab.elements.elements[1].negated);
    assert!(lab.at.file.ends_with("conf.d/acls.conf"));
    assert_eq!(lab.at.line, 3);

    // Top-level primaries list.
    assert_eq!(conf.primaries.len(), 1);
    let servers = &conf.primaries[0].servers;
    assert_eq!(servers[1].target, "192.0.2.2");
    assert_eq!(servers[1].port.as_deref(), Some("5353"));
    assert_eq!(servers[1].key.as_deref(), Some("kms-publisher"));

    // Escaped quote and kept backslash pair in quoted strings.
    let tree = tree_of(&conf);
    let options = tree
        .iter()
        .find(|s| s.is("options"))
        .and_then(|s| s.block())
        .unwrap_or_else(|| panic!("options block"));
    let version = options
        .statements
        .iter()
        .find(|s| s.is("version"))
        .and_then(|s| s.head().nth(1))
        .unwrap_or_else(|| panic!("version"));
    assert_eq!(version.text, "not \"telling\"");

    // Views, their keys, match-clients with negation, zones (one included
    // inside the view block).
    assert_eq!(conf.views.len(), 2);
    let internal = conf.view("internal").unwrap_or_else(|| panic!("view"));
    assert_eq!(internal.keys.len(), 1);
    assert_eq!(internal.keys[0].name, "view-local");
    assert_eq!(internal.keys[0].algorithm.as_deref(), Some("hmac-sha512"));
    let clients = internal
        .match_clients
        .as_ref()
        .unwrap_or_else(|| panic!("match-clients"));
    assert!(clients.elements[0].negated);
    assert_eq!(
        clients.elements[0].kind,
        ElementKind::Address("192.0.2.66".to_string())
    );
    assert_eq!(
        clients.elements[2].kind,
        ElementKind::Key("internal-view".to_string())
    );
    let zone_names: Vec<&str> = internal.zones.iter().map(|z| z.name.as_str()).collect();
    assert_eq!(
        zone_names,
        ["corp.example", "branch.corp.example", "lab.corp.example"]
    );
    let branch = &internal.zones[1];
    assert_eq!(branch.class.as_deref(), Some("IN"));
    assert_eq!(branch.file.as_deref(), Some(r"db\\branch"));
    let lab_zone = &internal.zones[2];
    assert!(lab_zone.at.file.ends_with("conf.d/internal-zones.conf"));
    assert_eq!((lab_zone.at.line, lab_zone.at.column), (2, 1));
    assert!(conf.zones.is_empty(), "every zone is inside a view");
    let external = conf.view("external").unwrap_or_else(|| panic!("view"));
    assert_eq!(external.zones[0].zone_type.as_deref(), Some("secondary"));
    assert_eq!(
        external.zones[0]
            .primaries
            .as_ref()
            .map(|p| p[0].target.as_str()),
        Some("corp-primaries")
    );
    assert_eq!(external.zones[1].in_view.as_deref(), Some("internal"));
}

#[test]
fn zone_lookup_per_view() {
    let conf = load_valid("views/named.conf");

    let most_specific = find_zone(&conf, Some("internal"), "_vlmcs._tcp.branch.corp.example.")
        .unwrap_or_else(|| panic!("not found"));
    assert_eq!(most_specific.zone.name, "branch.corp.example");
    let parent = find_zone(&conf, Some("internal"), "_vlmcs._tcp.Corp.Example")
        .unwrap_or_else(|| panic!("not found"));
    assert_eq!(parent.zone.name, "corp.example");
    assert_eq!(
        find_zone(&conf, Some("internal"), "_vlmcs._tcp.other.example"),
        None
    );
    assert_eq!(find_zone(&conf, Some("no-such-view"), "corp.example"), None);
    assert_eq!(find_zone(&conf, None, "corp.example"), None);

    // `in-view` resolves to the view that defines the zone.
    let shared = find_zone(&conf, Some("external"), "_vlmcs._tcp.lab.corp.example")
        .unwrap_or_else(|| panic!("not found"));
    assert_eq!(shared.view.map(|v| v.name.as_str()), Some("internal"));
    assert_eq!(shared.zone.zone_type.as_deref(), Some("primary"));

    let lookups = zones_holding(&conf, "_vlmcs._tcp.branch.corp.example.");
    let found: Vec<(Option<&str>, Option<&str>)> = lookups
        .iter()
        .map(|l| {
            (
                l.view.map(|v| v.name.as_str()),
                l.zone.map(|z| z.zone.name.as_str()),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (Some("internal"), Some("branch.corp.example")),
            (Some("external"), Some("corp.example")),
        ]
    );
}

#[test]
fn views_audit() {
    let conf = load_valid("views/named.conf");
    let audits = audit_domains(
        &conf,
        &[
            "corp.example",
            "branch.corp.example",
            "lab.corp.example.",
            "other.example",
        ],
    );
    assert_eq!(audits.len(), 7, "{audits:#?}");

    let corp = zone_audit(&audits, Some("internal"), "corp.example");
    assert_eq!(corp.names, ["_vlmcs._tcp.corp.example."]);
    assert!(
        matches!(
            &corp.issues[..],
            [
                GrantIssue::NarrowGrant { rule, .. },
                GrantIssue::GrantWiderThanNeeded { names: NameScope::Zone, types: TypeScope::All, .. },
            ] if rule == "grant kms-publisher. name _vlmcs._tcp.corp.example. SRV"
        ),
        "{:#?}",
        corp.issues
    );

    let branch = zone_audit(&audits, Some("internal"), "branch.corp.example");
    assert!(
        matches!(
            &branch.issues[..],
            [GrantIssue::WholeZoneKeyGrant { key, source: AclSource::Zone, .. }] if key == "kms-publisher"
        ),
        "{:#?}",
        branch.issues
    );

    let lab = zone_audit(&audits, Some("internal"), "lab.corp.example");
    assert!(
        matches!(
            &lab.issues[..],
            [GrantIssue::AddressOnlyGrant { element, via, .. }]
                if element == "198.51.100.0/24" && via == &["lab".to_string()]
        ),
        "{:#?}",
        lab.issues
    );

    // The secondary holds both corp and branch names in the external view.
    let secondary = zone_audit(&audits, Some("external"), "corp.example");
    assert_eq!(
        secondary.names,
        [
            "_vlmcs._tcp.corp.example.",
            "_vlmcs._tcp.branch.corp.example."
        ]
    );
    assert!(matches!(
        &secondary.issues[..],
        [GrantIssue::NotPrimary { zone_type, .. }] if zone_type == "secondary"
    ));

    // The external view shares the zone, but every client that the lab ACL
    // lets in (198.51.100.0/24 but .7) matches the internal view first:
    // through the external view, nobody may update it (issue 18, D4).
    let shared = zone_audit(&audits, Some("external"), "lab.corp.example");
    assert_eq!(shared.defined_in_view.as_deref(), Some("internal"));
    assert!(
        matches!(&shared.issues[..], [GrantIssue::NoGrant { .. }]),
        "{:#?}",
        shared.issues
    );

    for view in ["internal", "external"] {
        let missing = audits
            .iter()
            .find(|a| a.view.as_deref() == Some(view) && a.zone.is_none())
            .unwrap_or_else(|| panic!("no ZoneNotFound in {view}"));
        assert_eq!(
            missing.issues,
            [GrantIssue::ZoneNotFound {
                name: "_vlmcs._tcp.other.example.".to_string(),
                view: Some(view.to_string()),
            }]
        );
        assert_eq!(
            missing.issues[0].to_string(),
            format!("no zone of view \"{view}\" holds _vlmcs._tcp.other.example.")
        );
    }
}

// ---------------------------------------------------------------------------
// Grants

#[test]
fn allow_update_any_is_anyone() {
    let conf = load_valid("open.conf");
    let issues = issues_of(&conf, &["corp.example"], "corp.example");
    assert!(
        matches!(
            &issues[..],
            [GrantIssue::AnyoneCanUpdate { source: AclSource::Zone, via, at }]
                if via.is_empty() && at.line == 9
        ),
        "{issues:#?}"
    );
    assert_eq!(
        issues[0].to_string(),
        "allow-update matches any client: anyone can redirect KMS clients"
    );

    // A zone without allow-update inherits the one of options.
    let inherited = issues_of(&conf, &["inherit.example"], "inherit.example");
    assert!(
        matches!(
            &inherited[..],
            [GrantIssue::AnyoneCanUpdate { source: AclSource::Options, at, .. }] if at.line == 3
        ),
        "{inherited:#?}"
    );
}

#[test]
fn narrow_update_policy() {
    let conf = load_valid("narrow.conf");
    assert_no_secret(&conf);
    let issues = issues_of(&conf, &["corp.example"], "corp.example");
    assert!(
        matches!(
            &issues[..],
            [GrantIssue::NarrowGrant { rule, name, at }]
                if rule == "grant kms-publisher name _vlmcs._tcp.corp.example. SRV"
                && name == "_vlmcs._tcp.corp.example." && at.line == 12
        ),
        "{issues:#?}"
    );

    // `subdomain` on exactly the name, SRV in any case, is narrow too.
    let issues = issues_of(&conf, &["branch.example"], "branch.example");
    assert!(
        matches!(&issues[..], [GrantIssue::NarrowGrant { .. }]),
        "{issues:#?}"
    );

    // The model keeps the rule as written.
    let Some(UpdatePolicy::Rules(rules)) = &conf.zones[0].update_policy else {
        panic!("rules expected");
    };
    assert_eq!(rules[0].mode, RuleMode::Grant);
    assert_eq!(rules[0].rule_type, RuleType::Name);
    assert_eq!(rules[0].identity, "kms-publisher");
    assert_eq!(rules[0].types, ["SRV"]);
}

#[test]
fn zonesub_and_local_are_wider_than_needed() {
    let conf = load_valid("zonesub.conf");
    let issues = issues_of(&conf, &["corp.example"], "corp.example");
    assert!(
        matches!(
            &issues[..],
            [GrantIssue::GrantWiderThanNeeded { rule, names: NameScope::Zone, types: TypeScope::All, .. }]
                if rule == "grant kms-publisher zonesub ANY"
        ),
        "{issues:#?}"
    );
    assert_eq!(
        issues[0].to_string(),
        "'grant kms-publisher zonesub ANY' covers _vlmcs._tcp.corp.example. but is wider than needed: every name in the zone, all record types"
    );

    let local = issues_of(&conf, &["local.example"], "local.example");
    assert!(
        matches!(
            &local[..],
            [GrantIssue::GrantWiderThanNeeded { rule, names: NameScope::Zone, .. }]
                if rule == "update-policy local"
        ),
        "{local:#?}"
    );
    assert!(matches!(
        conf.zones[1].update_policy,
        Some(UpdatePolicy::Local { .. })
    ));
}

#[test]
fn every_rule_type_and_deny() {
    let conf = load_valid("rules.conf");

    // deny first: the zonesub grant to the same key no longer writes the
    // SRV records, but still lets that key delegate the name or alias it
    // (NS, CNAME, DNAME: issue 18, D6), so it is reported; the other key's
    // subdomain grant reaches the records, with TXT too.
    let deny = issues_of(&conf, &["deny.example"], "deny.example");
    assert!(
        matches!(
            &deny[..],
            [
                GrantIssue::DenyRule { .. },
                GrantIssue::GrantWiderThanNeeded { rule: zonesub, names: NameScope::Zone, .. },
                GrantIssue::GrantWiderThanNeeded { rule, names: NameScope::Subtree(base), types: TypeScope::Types(types), .. },
            ] if zonesub == "grant kms-publisher zonesub ANY"
                && rule.starts_with("grant other-publisher") && base == "deny.example."
                && types == &["SRV".to_string(), "TXT".to_string()]
        ),
        "{deny:#?}"
    );

    // wildcard reaches the name; an A/AAAA-only grant does not.
    let wild = issues_of(&conf, &["wild.example"], "wild.example");
    assert!(
        matches!(
            &wild[..],
            [GrantIssue::GrantWiderThanNeeded { names: NameScope::Wildcard(w), types: TypeScope::SrvOnly, .. }]
                if w == "*.wild.example."
        ),
        "{wild:#?}"
    );

    // self/selfsub reach it through the key named like it; selfwild does not.
    let selfish = issues_of(&conf, &["self.example"], "self.example");
    assert_eq!(selfish.len(), 2, "{selfish:#?}");
    for issue in &selfish {
        assert!(
            matches!(
                issue,
                GrantIssue::GrantWiderThanNeeded { names: NameScope::SignerName(keys), .. }
                    if keys == &["_vlmcs._tcp.self.example".to_string()]
            ),
            "{issue:#?}"
        );
    }

    // Kerberos subdomain rules and external reach it; self-style Kerberos,
    // tcp-self and 6to4-self rules, and rules without SRV, do not.
    let krb = issues_of(&conf, &["krb.example"], "krb.example");
    let scopes: Vec<(&NameScope, &TypeScope)> = krb
        .iter()
        .map(|i| match i {
            GrantIssue::GrantWiderThanNeeded { names, types, .. } => (names, types),
            other => panic!("unexpected {other:#?}"),
        })
        .collect();
    assert_eq!(
        scopes,
        [
            (
                &NameScope::KerberosSubtree("krb.example.".to_string()),
                &TypeScope::SrvOnly
            ),
            (
                &NameScope::KerberosSubtree("_tcp.krb.example.".to_string()),
                &TypeScope::Types(vec!["SRV".to_string(), "PTR".to_string()])
            ),
            (&NameScope::External, &TypeScope::SrvOnly),
        ]
    );
    let Some(UpdatePolicy::Rules(rules)) = &conf.zones[3].update_policy else {
        panic!("rules expected");
    };
    let types: Vec<RuleType> = rules.iter().map(|r| r.rule_type).collect();
    assert_eq!(
        types,
        [
            RuleType::Krb5Self,
            RuleType::Krb5SelfSub,
            RuleType::MsSelf,
            RuleType::MsSelfSub,
            RuleType::Krb5Subdomain,
            RuleType::MsSubdomainSelfRhs,
            RuleType::Krb5SubdomainSelfRhs,
            RuleType::MsSubdomain,
            RuleType::TcpSelf,
            RuleType::SixToFourSelf,
            RuleType::External,
        ]
    );
    assert_eq!(rules[10].identity, "local:/run/kmsdns-test.sock");
}

#[test]
fn acl_chains_are_expanded() {
    let conf = load_valid("acl-chain.conf");
    let domains = [
        "chain.example",
        "keyed.example",
        "closed.example",
        "nested.example",
        "static.example",
    ];
    let audits = audit_domains(&conf, &domains);

    let chain = &zone_audit(&audits, None, "chain.example").issues;
    assert!(
        matches!(
            &chain[..],
            [
                GrantIssue::AddressOnlyGrant { element, via: first, .. },
                GrantIssue::AnyoneCanUpdate { via: second, .. },
            ] if element == "10.1.0.0/16"
                && first == &["updaters".to_string(), "branch-nets".to_string()]
                && second == &["updaters".to_string(), "everyone".to_string()]
        ),
        "{chain:#?}"
    );
    assert_eq!(
        chain[1].to_string(),
        "allow-update matches any client (via acl updaters → everyone): anyone can redirect KMS clients"
    );
    // The `any` is reported where it is written, in the ACL.
    assert_eq!(line_of(&chain[1]), Some(7));

    let keyed = &zone_audit(&audits, None, "keyed.example").issues;
    assert!(
        matches!(
            &keyed[..],
            [GrantIssue::WholeZoneKeyGrant { key, .. }] if key == "kms-publisher"
        ),
        "{keyed:#?}"
    );

    let closed = &zone_audit(&audits, None, "closed.example").issues;
    assert!(
        matches!(&closed[..], [GrantIssue::NoGrant { .. }]),
        "{closed:#?}"
    );

    let nested = &zone_audit(&audits, None, "nested.example").issues;
    assert!(
        matches!(
            &nested[..],
            [GrantIssue::AddressOnlyGrant { element, .. }] if element == "localhost"
        ),
        "{nested:#?}"
    );

    let fixed = &zone_audit(&audits, None, "static.example").issues;
    assert_eq!(
        fixed[..],
        [GrantIssue::NoGrant {
            name: "_vlmcs._tcp.static.example.".to_string(),
            zone: "static.example".to_string(),
        }]
    );
}

#[test]
fn undefined_keys_are_reported() {
    let conf = load_valid("undefined-key.conf");
    // Nobody can sign with a key named does not have (BADKEY): the grant
    // opens nothing, and nothing else does.
    let a = issues_of(&conf, &["a.example"], "a.example");
    assert!(
        matches!(
            &a[..],
            [GrantIssue::UndefinedKey { key, at }, GrantIssue::NoGrant { .. }]
                if key == "missing-key" && at.line == 11
        ),
        "{a:#?}"
    );

    // Key names compare as domain names: `DEFINED-KEY.` is `defined-key`;
    // the undefined key's grant is dead, so not a grant.
    let b = issues_of(&conf, &["b.example"], "b.example");
    assert!(
        matches!(
            &b[..],
            [
                GrantIssue::UndefinedKey { key, .. },
                GrantIssue::NarrowGrant { rule, .. },
            ] if key == "missing-policy-key" && rule.starts_with("grant DEFINED-KEY.")
        ),
        "{b:#?}"
    );
    assert_eq!(
        b[0].to_string(),
        "key missing-policy-key is used but never defined"
    );
}

/// The one issue of a configuration named refuses to load: its reason,
/// and no verdict on any grant.
fn refusals(conf: &NamedConf, domain: &str) -> Vec<(Refusal, u32)> {
    let audits = audit_domains(conf, &[domain]);
    assert_eq!(audits.len(), 1, "{audits:#?}");
    assert!(audits[0].access.is_empty(), "a verdict: {audits:#?}");
    audits[0]
        .issues
        .iter()
        .map(|issue| match issue {
            GrantIssue::WillNotLoad { rejection } => (rejection.refusal.clone(), rejection.at.line),
            other => panic!("a verdict on a configuration named refuses: {other:#?}"),
        })
        .collect()
}

#[test]
fn configurations_bind_refuses_for_their_meaning() {
    let both = data("rejected/both.conf");
    assert_bind_rejects(&both);
    let conf = NamedConf::load(&both).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refusals(&conf, "corp.example"),
        [(
            Refusal::AllowUpdateWithPolicy {
                zone: "corp.example".into()
            },
            12
        )]
    );
    assert_eq!(
        audit_domains(&conf, &["corp.example"])[0].issues[0].to_string(),
        "named will not load this: zone 'corp.example': 'allow-update' is ignored when 'update-policy' is present"
    );

    let looped = data("rejected/acl-loop.conf");
    assert_bind_rejects(&looped);
    let conf = NamedConf::load(&looped).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refusals(&conf, "loop.example"),
        [(
            Refusal::AclLoop {
                chain: vec!["a".into(), "b".into(), "a".into()]
            },
            3
        )]
    );

    let undefined = data("rejected/undefined-acl.conf");
    assert_bind_rejects(&undefined);
    let conf = NamedConf::load(&undefined).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refusals(&conf, "corp.example"),
        [(
            Refusal::UndefinedAcl {
                acl: "kms-hosts".into()
            },
            5
        )]
    );
}

// ---------------------------------------------------------------------------
// Malformed input

/// Loads a malformed fixture: BIND must refuse it and so must kmsdns, at
/// `file:line:column` of the right file.
fn malformed(relative: &str, file: &str, line: u32, column: u32, says: &str) -> NamedConfError {
    let path = data(relative);
    assert_bind_rejects(&path);
    let error = match NamedConf::load(&path) {
        Ok(conf) => panic!("{relative} was read: {conf:#?}"),
        Err(error) => error,
    };
    let text = error.to_string();
    let at = error
        .location()
        .unwrap_or_else(|| panic!("no location in {text}"));
    assert!(at.file.ends_with(file), "{text}");
    assert_eq!((at.line, at.column), (line, column), "{text}");
    assert!(
        text.starts_with(&format!("{}:{line}:{column}: ", at.file.display())),
        "{text}"
    );
    assert!(text.contains(says), "{text:?} does not say {says:?}");
    for secret in FIXTURE_SECRETS {
        assert!(!text.contains(secret), "{text}");
    }
    error
}

#[test]
fn unterminated_string() {
    malformed(
        "malformed/unterminated-string.conf",
        "unterminated-string.conf",
        3,
        7,
        "unterminated quoted string",
    );
}

#[test]
fn unterminated_comment() {
    malformed(
        "malformed/unterminated-comment.conf",
        "unterminated-comment.conf",
        6,
        1,
        "unterminated comment",
    );
}

#[test]
fn missing_semicolon() {
    malformed(
        "malformed/missing-semicolon.conf",
        "missing-semicolon.conf",
        4,
        1,
        "missing ';' after '\"db.corp.example\"', found '}'",
    );
}

#[test]
fn missing_semicolon_after_a_block() {
    malformed(
        "malformed/missing-semicolon-after-block.conf",
        "missing-semicolon-after-block.conf",
        5,
        1,
        "missing ';' after the '}' that closes 'zone' (opened at 1:18), found 'zone'",
    );
}

#[test]
fn unclosed_brace() {
    malformed(
        "malformed/unclosed-brace.conf",
        "unclosed-brace.conf",
        9,
        1,
        "the '{' opened at 5:21 is never closed",
    );
}

#[test]
fn extra_brace() {
    malformed(
        "malformed/extra-brace.conf",
        "extra-brace.conf",
        5,
        1,
        "unexpected '}'",
    );
}

#[test]
fn include_of_a_missing_file() {
    let error = malformed(
        "malformed/missing-include.conf",
        "missing-include.conf",
        5,
        1,
        "include \"does-not-exist.conf\": file not found",
    );
    assert!(matches!(
        error,
        NamedConfError::Include {
            problem: IncludeProblem::NotFound { .. },
            ..
        }
    ));
}

#[test]
fn include_cycle() {
    let error = malformed(
        "malformed/cycle-a.conf",
        "cycle-b.conf",
        2,
        1,
        "include cycle:",
    );
    let NamedConfError::Include {
        problem: IncludeProblem::Cycle { chain },
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    let names: Vec<String> = chain
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, ["cycle-a.conf", "cycle-b.conf", "cycle-a.conf"]);
}

#[test]
fn secret_never_appears_in_errors() {
    malformed(
        "malformed/secret-missing-semicolon.conf",
        "secret-missing-semicolon.conf",
        4,
        1,
        "missing ';' after '\"<redacted>\"'",
    );
}

#[test]
fn missing_top_file() {
    let path = data("no-such-file.conf");
    let error = NamedConf::load(&path)
        .err()
        .unwrap_or_else(|| panic!("read"));
    assert!(matches!(error, NamedConfError::Read { .. }));
    assert!(error
        .to_string()
        .starts_with(&format!("{}: cannot read: ", path.display())));
}

// ---------------------------------------------------------------------------
// Includes and limits

#[test]
fn relative_includes_follow_directory_like_bind() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    fs::create_dir(root.join("data")).unwrap_or_else(|e| panic!("{e}"));
    fs::write(
        root.join("named.conf"),
        format!(
            "options {{ directory \"{}\"; }};\ninclude \"zones.conf\";\n",
            root.join("data").display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let zone = |name: &str| format!("zone \"{name}\" {{ type primary; file \"db\"; }};\n");
    fs::write(root.join("zones.conf"), zone("beside.example")).unwrap_or_else(|e| panic!("{e}"));
    fs::write(root.join("data/zones.conf"), zone("directory.example"))
        .unwrap_or_else(|e| panic!("{e}"));

    let top = root.join("named.conf");
    let conf = NamedConf::load(&top).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(conf.zones[0].name, "directory.example");

    // named-checkconf makes the same choice.
    let output = Command::new("named-checkconf")
        .arg("-p")
        .arg(&top)
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("named-checkconf: {e}"));
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("directory.example"), "{printed}");
    assert!(!printed.contains("beside.example"), "{printed}");
}

#[test]
fn include_limits() {
    let path = data("views/named.conf");
    let too_deep = Limits {
        max_include_depth: 1,
        ..Limits::default()
    };
    let error = NamedConf::load_with_limits(&path, too_deep).err();
    assert!(
        matches!(
            error,
            Some(NamedConfError::Include {
                problem: IncludeProblem::TooDeep { .. },
                ..
            })
        ),
        "{error:?}"
    );

    let too_many = Limits {
        max_includes: 2,
        ..Limits::default()
    };
    let error = NamedConf::load_with_limits(&path, too_many).err();
    let Some(NamedConfError::Include {
        at,
        problem: IncludeProblem::TooMany { limit: 2 },
        ..
    }) = &error
    else {
        panic!("{error:?}");
    };
    // The third include is the one inside view "internal".
    assert_eq!(at.line, 44);

    let too_big = Limits {
        max_file_bytes: 100,
        ..Limits::default()
    };
    let error = NamedConf::load_with_limits(&path, too_big).err();
    assert!(
        matches!(error, Some(NamedConfError::Read { .. })),
        "{error:?}"
    );
}

#[test]
fn deep_nesting_is_refused() {
    let text = "options { ".repeat(100_000);
    let error = NamedConf::parse_str(Path::new("deep.conf"), &text).err();
    let Some(NamedConfError::Limit { at, message }) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(at.line, 1);
    assert!(message.contains("nested more than 256"), "{message}");
}

/// A small deterministic generator, so that failures can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn damaged_input_never_panics() {
    let path = data("views/named.conf");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let chars: Vec<char> = text.chars().collect();

    // Every truncation of the file.
    for end in 0..chars.len() {
        let prefix: String = chars[..end].iter().collect();
        if let Ok(conf) = NamedConf::parse_str(&path, &prefix) {
            let _ = audit_domains(&conf, &["corp.example", "lab.corp.example"]);
        }
    }

    // Random damage with the characters that matter to the grammar.
    let alphabet = [
        '{', '}', ';', '"', '!', '#', '/', '*', '\\', '\n', ' ', 'a', '\0', 'é',
    ];
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut damaged = chars.clone();
        for _ in 0..(1 + random.next() % 4) {
            let at = (random.next() % damaged.len() as u64) as usize;
            let c = alphabet[(random.next() % alphabet.len() as u64) as usize];
            match random.next() % 3 {
                0 => damaged[at] = c,
                1 => damaged.insert(at, c),
                _ => {
                    damaged.remove(at);
                }
            }
        }
        let damaged: String = damaged.into_iter().collect();
        match NamedConf::parse_str(&path, &damaged) {
            Ok(conf) => {
                let _ = audit_domains(&conf, &["corp.example", "lab.corp.example"]);
                let debug = format!("{conf:?}");
                for secret in FIXTURE_SECRETS {
                    assert!(
                        !debug.contains(secret),
                        "secret kept when reading:\n{damaged}"
                    );
                }
            }
            Err(error) => {
                let message = error.to_string();
                assert!(error.location().is_some(), "{message}");
                for secret in FIXTURE_SECRETS {
                    assert!(!message.contains(secret), "{message}");
                }
            }
        }
    }
}

#[test]
fn acl_expansion_is_bounded() {
    // Each ACL names the next three times: 3^40 paths if walked naively.
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("acl a{i} {{ a{n}; a{n}; a{n}; }};\n", n = i + 1));
    }
    text.push_str("acl a40 { 192.0.2.1; };\n");
    // A chain as long as named follows (it has no depth limit).
    for i in 0..2001 {
        text.push_str(&format!("acl c{i} {{ c{}; }};\n", i + 1));
    }
    text.push_str("acl c2001 { any; };\n");
    text.push_str("zone \"wide.example\" { type primary; file \"db\"; allow-update { a0; }; };\n");
    text.push_str("zone \"deep.example\" { type primary; file \"db2\"; allow-update { c0; }; };\n");
    let conf =
        NamedConf::parse_str(Path::new("bounded.conf"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(conf.loads(), "{:#?}", conf.rejections);

    let wide = issues_of(&conf, &["wide.example"], "wide.example");
    assert!(
        matches!(
            &wide[..],
            [GrantIssue::AddressOnlyGrant { via, .. }] if via.len() == 41
        ),
        "{wide:#?}"
    );

    // Issue 18: the `any` at the end of a 2,001-deep chain is found.
    let deep = issues_of(&conf, &["deep.example"], "deep.example");
    assert!(
        matches!(
            &deep[..],
            [GrantIssue::AnyoneCanUpdate { via, .. }] if via.len() == 2002
        ),
        "{deep:#?}"
    );
}
