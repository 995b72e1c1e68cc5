//! Who may change the `_vlmcs._tcp` SRV records, read from a [`NamedConf`]:
//! which zone holds a name in each view, and what that zone's
//! `allow-update` / `update-policy` lets others do to it.
//!
//! Pure functions, no I/O. The rules they apply (BIND 9.18 ARM, "Dynamic
//! Update Policies", and DESIGN §2):
//!
//! - `allow-update` is an address match list: the first element that
//!   matches decides. A positive `any` (directly or through ACLs, expanded
//!   recursively) lets anyone redirect every KMS client; a positive address,
//!   prefix, `localhost`, `localnets` or `geoip` element grants by source
//!   address alone, which anyone on the path can forge for UDP; `key K` is
//!   keyed but opens the whole zone. Negated elements only refuse. A zone
//!   without `allow-update` inherits it from its view, then from `options`.
//! - `update-policy` replaces `allow-update` (BIND ignores the latter when
//!   both are set). Rules are tried in order, the first that matches the
//!   signer, name and type decides, so a `deny` before a `grant` for the
//!   same identity wins. A grant is narrow only when it is `name` (or
//!   `subdomain`) on exactly `_vlmcs._tcp.<domain>.` with the type list
//!   `SRV`; every other grant that reaches the name is wider than needed.
//!   `update-policy local` is `grant local-ddns zonesub ANY`. An identity
//!   with `@` is a Kerberos principal (the GSS-TSIG signer), not a key.
//! - `tcp-self` and `6to4-self` only reach reverse names, and the Kerberos
//!   `*-self` / `*-selfsub` types only the machine's own name, so they never
//!   reach a `_vlmcs._tcp` name. The `*-subdomain` Kerberos types reach
//!   names under their name field (the zone when it is `.`).

use std::collections::HashSet;
use std::fmt;

use super::model::{
    AddressMatchList, ElementKind, NamedConf, RuleMode, RuleType, UpdatePolicy, UpdateRule, View,
    Zone,
};
use super::name::Labels;
use super::Location;

/// A zone and the view it is defined in (`None` outside views).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopedZone<'a> {
    /// The view of the zone definition.
    pub view: Option<&'a View>,
    /// The zone.
    pub zone: &'a Zone,
}

/// The answer to "which zone holds this name" for one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneLookup<'a> {
    /// The view searched (`None`: the configuration has no views).
    pub view: Option<&'a View>,
    /// The most specific zone holding the name, if any (an `in-view` zone
    /// is resolved to the view that defines it).
    pub zone: Option<ScopedZone<'a>>,
}

/// Where an `allow-update` list applies from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AclSource {
    /// Set in the zone.
    Zone,
    /// Inherited from the view of that name.
    View(String),
    /// Inherited from `options`.
    Options,
}

/// Which names a grant reaches, beside the one kmsdns needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameScope {
    /// Exactly the `_vlmcs._tcp` name.
    Exact,
    /// This name (absolute) and everything below it.
    Subtree(String),
    /// Every name in the zone.
    Zone,
    /// Every name matching this wildcard.
    Wildcard(String),
    /// Names derived from the signer (`self`, `selfsub`, `selfwild`), here
    /// through these defined keys.
    SignerName(Vec<String>),
    /// SRV/PTR records under this name whose target is the Kerberos
    /// principal's own machine name (or any name under it, for
    /// `*-subdomain`).
    KerberosSubtree(String),
    /// An external daemon decides (`external`).
    External,
}

/// Which record types a grant allows at the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeScope {
    /// SRV only.
    SrvOnly,
    /// Every type (empty type list or `ANY`).
    All,
    /// SRV and these other types.
    Types(Vec<String>),
}

/// Something about update grants that the `updates` audit reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantIssue {
    /// No zone in this view holds the name.
    ZoneNotFound {
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The view searched.
        view: Option<String>,
    },
    /// The zone is not a primary: updates are decided on its primary.
    NotPrimary {
        /// The zone name.
        zone: String,
        /// Its type.
        zone_type: String,
        /// The zone statement.
        at: Location,
    },
    /// `allow-update` matches every client: anyone can redirect KMS
    /// clients to a host of their choosing.
    AnyoneCanUpdate {
        /// Which `allow-update` applies.
        source: AclSource,
        /// The ACLs followed to reach `any`, outermost first.
        via: Vec<String>,
        /// The `any` element.
        at: Location,
    },
    /// `allow-update` grants by source address, without a key.
    AddressOnlyGrant {
        /// Which `allow-update` applies.
        source: AclSource,
        /// The element as written (`10.0.0.0/8`, `localhost`, …).
        element: String,
        /// The ACLs followed to reach it, outermost first.
        via: Vec<String>,
        /// The element.
        at: Location,
    },
    /// `allow-update { key K; }`: keyed, but the key may change the whole
    /// zone, not only the SRV records.
    WholeZoneKeyGrant {
        /// Which `allow-update` applies.
        source: AclSource,
        /// The key name.
        key: String,
        /// The element.
        at: Location,
    },
    /// The zone sets both `allow-update` and `update-policy`; BIND ignores
    /// `allow-update`.
    AllowUpdateIgnored {
        /// The zone name.
        zone: String,
        /// The `allow-update` list.
        at: Location,
    },
    /// An `update-policy` grant reaches the name but allows more than the
    /// SRV records at that name.
    GrantWiderThanNeeded {
        /// The rule as written (`grant k zonesub ANY`).
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// Which names it reaches.
        names: NameScope,
        /// Which types it allows.
        types: TypeScope,
        /// The rule.
        at: Location,
    },
    /// An `update-policy` grant allows exactly the SRV records of the name.
    NarrowGrant {
        /// The rule as written.
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The rule.
        at: Location,
    },
    /// A `deny` rule reaches the name (grants after it for the same
    /// identity are not counted).
    DenyRule {
        /// The rule as written.
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The rule.
        at: Location,
    },
    /// Nothing allows updates to the name: `publish` will be refused.
    NoGrant {
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The zone.
        zone: String,
    },
    /// A key named in `allow-update` or as an `update-policy` identity is
    /// not defined (neither in the view nor at top level).
    UndefinedKey {
        /// The key name.
        key: String,
        /// Where it is named.
        at: Location,
    },
    /// An ACL referenced in `allow-update` is not defined.
    UndefinedAcl {
        /// The ACL name.
        acl: String,
        /// Where it is named.
        at: Location,
    },
    /// ACLs refer to each other in a loop (`named-checkconf` rejects it).
    AclLoop {
        /// The ACL names of the loop, the repeated one first and last.
        chain: Vec<String>,
        /// Where the loop closes.
        at: Location,
    },
    /// ACLs refer to each other more than [`MAX_ACL_DEPTH`] deep; the
    /// expansion stopped there.
    AclTooDeep {
        /// The ACL names followed, outermost first.
        chain: Vec<String>,
        /// The reference that was not followed.
        at: Location,
    },
}

/// How deep ACL references are followed.
pub const MAX_ACL_DEPTH: usize = 64;

impl fmt::Display for AclSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AclSource::Zone => f.write_str("allow-update"),
            AclSource::View(view) => write!(f, "allow-update inherited from view \"{view}\""),
            AclSource::Options => f.write_str("allow-update inherited from options"),
        }
    }
}

impl fmt::Display for NameScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameScope::Exact => f.write_str("exactly the name"),
            NameScope::Subtree(name) => write!(f, "every name at or below {name}"),
            NameScope::Zone => f.write_str("every name in the zone"),
            NameScope::Wildcard(name) => write!(f, "every name matching {name}"),
            NameScope::SignerName(keys) => {
                write!(
                    f,
                    "names derived from the signing key ({})",
                    keys.join(", ")
                )
            }
            NameScope::KerberosSubtree(name) => {
                write!(f, "names at or below {name} for any machine of the realm")
            }
            NameScope::External => f.write_str("whatever an external daemon allows"),
        }
    }
}

impl fmt::Display for TypeScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeScope::SrvOnly => f.write_str("SRV only"),
            TypeScope::All => f.write_str("all record types"),
            TypeScope::Types(types) => write!(f, "types {}", types.join(" ")),
        }
    }
}

impl GrantIssue {
    /// Where in the configuration the issue is, when it is at one place.
    pub fn location(&self) -> Option<&Location> {
        match self {
            GrantIssue::NotPrimary { at, .. }
            | GrantIssue::AnyoneCanUpdate { at, .. }
            | GrantIssue::AddressOnlyGrant { at, .. }
            | GrantIssue::WholeZoneKeyGrant { at, .. }
            | GrantIssue::AllowUpdateIgnored { at, .. }
            | GrantIssue::GrantWiderThanNeeded { at, .. }
            | GrantIssue::NarrowGrant { at, .. }
            | GrantIssue::DenyRule { at, .. }
            | GrantIssue::UndefinedKey { at, .. }
            | GrantIssue::UndefinedAcl { at, .. }
            | GrantIssue::AclLoop { at, .. }
            | GrantIssue::AclTooDeep { at, .. } => Some(at),
            GrantIssue::ZoneNotFound { .. } | GrantIssue::NoGrant { .. } => None,
        }
    }
}

fn via_text(via: &[String]) -> String {
    if via.is_empty() {
        String::new()
    } else {
        format!(" (via acl {})", via.join(" → "))
    }
}

impl fmt::Display for GrantIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantIssue::ZoneNotFound { name, view } => match view {
                Some(view) => write!(f, "no zone of view \"{view}\" holds {name}"),
                None => write!(f, "no zone of the configuration holds {name}"),
            },
            GrantIssue::NotPrimary {
                zone, zone_type, ..
            } => write!(
                f,
                "zone {zone} is of type {zone_type}: updates are decided by its primary server"
            ),
            GrantIssue::AnyoneCanUpdate { source, via, .. } => write!(
                f,
                "{source} matches any client{}: anyone can redirect KMS clients",
                via_text(via)
            ),
            GrantIssue::AddressOnlyGrant {
                source,
                element,
                via,
                ..
            } => write!(
                f,
                "{source} grants by address only ({element}{}): whoever sends from that address can redirect KMS clients",
                via_text(via)
            ),
            GrantIssue::WholeZoneKeyGrant { source, key, .. } => write!(
                f,
                "{source} lets key {key} change the whole zone, wider than the _vlmcs._tcp SRV records it needs"
            ),
            GrantIssue::AllowUpdateIgnored { zone, .. } => write!(
                f,
                "zone {zone} sets both allow-update and update-policy: BIND ignores allow-update"
            ),
            GrantIssue::GrantWiderThanNeeded {
                rule,
                name,
                names,
                types,
                ..
            } => write!(
                f,
                "'{rule}' covers {name} but is wider than needed: {names}, {types}"
            ),
            GrantIssue::NarrowGrant { rule, name, .. } => {
                write!(f, "'{rule}' grants exactly the SRV records of {name}")
            }
            GrantIssue::DenyRule { rule, name, .. } => {
                write!(f, "'{rule}' denies updates of SRV records at {name}")
            }
            GrantIssue::NoGrant { name, zone } => write!(
                f,
                "nothing in zone {zone} allows updates of SRV records at {name}: publish will be refused"
            ),
            GrantIssue::UndefinedKey { key, .. } => {
                write!(f, "key {key} is used but never defined")
            }
            GrantIssue::UndefinedAcl { acl, .. } => {
                write!(f, "acl {acl} is used but never defined")
            }
            GrantIssue::AclLoop { chain, .. } => {
                write!(f, "acl loop: {}", chain.join(" → "))
            }
            GrantIssue::AclTooDeep { chain, .. } => write!(
                f,
                "acls nested more than {MAX_ACL_DEPTH} deep, not followed further: {} → …",
                chain.join(" → ")
            ),
        }
    }
}

/// `_vlmcs._tcp.<domain>.`, the name Windows KMS clients query.
pub fn vlmcs_name(domain: &str) -> String {
    let domain = domain.trim().trim_end_matches('.');
    if domain.is_empty() {
        "_vlmcs._tcp.".to_string()
    } else {
        format!("_vlmcs._tcp.{domain}.")
    }
}

/// The most specific zone holding `name` among the zones of `view`
/// (`None`: the zones outside views); `in-view` zones are resolved.
pub fn find_zone<'a>(
    conf: &'a NamedConf,
    view: Option<&str>,
    name: &str,
) -> Option<ScopedZone<'a>> {
    let (scope, zones) = match view {
        Some(view) => {
            let view = conf.view(view)?;
            (Some(view), view.zones.as_slice())
        }
        None => (None, conf.zones.as_slice()),
    };
    let wanted = Labels::parse(name);
    let zone = zones
        .iter()
        .filter(|z| z.is_class_in() && z.holds_data())
        .map(|z| (Labels::parse(&z.name), z))
        .filter(|(labels, _)| wanted.is_at_or_below(labels))
        .max_by_key(|(labels, _)| labels.len())
        .map(|(_, z)| z)?;
    let Some(target) = &zone.in_view else {
        return Some(ScopedZone { view: scope, zone });
    };
    // `in-view` shares the zone of another view; BIND allows one hop only.
    let target_view = conf.view(target)?;
    let labels = Labels::parse(&zone.name);
    target_view
        .zones
        .iter()
        .find(|z| z.in_view.is_none() && Labels::parse(&z.name) == labels)
        .map(|zone| ScopedZone {
            view: Some(target_view),
            zone,
        })
}

/// For every view of class IN (or once, without views), the zone holding
/// `name`. BIND puts every zone in a view once views are used, so top-level
/// zones are only searched when there are no views.
pub fn zones_holding<'a>(conf: &'a NamedConf, name: &str) -> Vec<ZoneLookup<'a>> {
    if conf.views.is_empty() {
        return vec![ZoneLookup {
            view: None,
            zone: find_zone(conf, None, name),
        }];
    }
    conf.views
        .iter()
        .filter(|v| v.is_class_in())
        .map(|view| ZoneLookup {
            view: Some(view),
            zone: find_zone(conf, Some(&view.name), name),
        })
        .collect()
}

/// The grant analysis of one zone for the `_vlmcs._tcp` names kmsdns
/// manages in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAudit {
    /// The view searched (`None` without views).
    pub view: Option<String>,
    /// The zone found (`None`: no zone holds the names).
    pub zone: Option<String>,
    /// The view that defines the zone, when it differs (`in-view`).
    pub defined_in_view: Option<String>,
    /// The `_vlmcs._tcp` names, absolute.
    pub names: Vec<String>,
    /// What was found, in configuration order.
    pub issues: Vec<GrantIssue>,
}

/// Finds the zone of every domain's `_vlmcs._tcp` name in every view and
/// analyses each zone once for all the names it holds.
pub fn audit_domains(conf: &NamedConf, domains: &[&str]) -> Vec<ZoneAudit> {
    struct Group<'a> {
        view: Option<&'a View>,
        zone: Option<ScopedZone<'a>>,
        names: Vec<String>,
    }
    let mut groups: Vec<Group<'_>> = Vec::new();
    for domain in domains {
        let name = vlmcs_name(domain);
        for lookup in zones_holding(conf, &name) {
            let same = |g: &Group<'_>| {
                same_view(g.view, lookup.view)
                    && match (g.zone, lookup.zone) {
                        (Some(a), Some(b)) => std::ptr::eq(a.zone, b.zone),
                        (None, None) => true,
                        _ => false,
                    }
            };
            match groups.iter_mut().find(|g| same(g)) {
                Some(group) => {
                    if !group.names.contains(&name) {
                        group.names.push(name.clone());
                    }
                }
                None => groups.push(Group {
                    view: lookup.view,
                    zone: lookup.zone,
                    names: vec![name.clone()],
                }),
            }
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let view = group.view.map(|v| v.name.clone());
            match group.zone {
                Some(scoped) => {
                    let names: Vec<&str> = group.names.iter().map(String::as_str).collect();
                    ZoneAudit {
                        defined_in_view: scoped
                            .view
                            .filter(|v| !same_view(Some(v), group.view))
                            .map(|v| v.name.clone()),
                        zone: Some(scoped.zone.name.clone()),
                        issues: analyse_zone(conf, scoped, &names),
                        view,
                        names: group.names,
                    }
                }
                None => ZoneAudit {
                    issues: group
                        .names
                        .iter()
                        .map(|name| GrantIssue::ZoneNotFound {
                            name: name.clone(),
                            view: view.clone(),
                        })
                        .collect(),
                    view,
                    zone: None,
                    defined_in_view: None,
                    names: group.names,
                },
            }
        })
        .collect()
}

fn same_view(a: Option<&View>, b: Option<&View>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// What the grants of `zone` allow for the `_vlmcs._tcp` names `names`
/// (absolute or not) that it holds.
pub fn analyse_zone(conf: &NamedConf, zone: ScopedZone<'_>, names: &[&str]) -> Vec<GrantIssue> {
    let ScopedZone { view, zone } = zone;
    let mut issues = Vec::new();
    if let Some(zone_type) = &zone.zone_type {
        if !zone.is_primary() {
            issues.push(GrantIssue::NotPrimary {
                zone: zone.name.clone(),
                zone_type: zone_type.clone(),
                at: zone.at.clone(),
            });
            return issues;
        }
    }
    match &zone.update_policy {
        Some(policy) => {
            if let Some(list) = &zone.allow_update {
                issues.push(GrantIssue::AllowUpdateIgnored {
                    zone: zone.name.clone(),
                    at: list.at.clone(),
                });
            }
            analyse_policy(conf, view, zone, policy, names, &mut issues);
        }
        None => {
            let inherited = zone
                .allow_update
                .as_ref()
                .map(|l| (l, AclSource::Zone))
                .or_else(|| {
                    view.and_then(|v| {
                        v.allow_update
                            .as_ref()
                            .map(|l| (l, AclSource::View(v.name.clone())))
                    })
                })
                .or_else(|| {
                    conf.options
                        .allow_update
                        .as_ref()
                        .map(|l| (l, AclSource::Options))
                });
            let granted = match inherited {
                Some((list, source)) => {
                    let mut walk = AclWalk {
                        conf,
                        view,
                        source,
                        issues: &mut issues,
                        granted: false,
                        expanded: HashSet::new(),
                        granting: HashSet::new(),
                    };
                    walk.list(list, &mut Vec::new());
                    walk.granted
                }
                None => false,
            };
            if !granted {
                for name in names {
                    issues.push(GrantIssue::NoGrant {
                        name: Labels::parse(name).to_absolute(),
                        zone: zone.name.clone(),
                    });
                }
            }
        }
    }
    dedup(issues)
}

fn dedup(issues: Vec<GrantIssue>) -> Vec<GrantIssue> {
    let mut seen = HashSet::with_capacity(issues.len());
    issues
        .into_iter()
        .filter(|issue| seen.insert(issue.clone()))
        .collect()
}

/// Walks an `allow-update` list through its ACLs.
struct AclWalk<'c, 'i> {
    conf: &'c NamedConf,
    view: Option<&'c View>,
    source: AclSource,
    issues: &'i mut Vec<GrantIssue>,
    /// True once some element grants something.
    granted: bool,
    /// ACLs already expanded: each is walked once, so ACLs that name the
    /// same ACL many times cannot make the walk exponential.
    expanded: HashSet<String>,
    /// Expanded ACLs that grant something.
    granting: HashSet<String>,
}

impl AclWalk<'_, '_> {
    /// `via` holds the ACL names being expanded, outermost first.
    fn list(&mut self, list: &AddressMatchList, via: &mut Vec<String>) {
        for element in &list.elements {
            if element.negated {
                // `!any` refuses every client that reaches it: nothing after
                // it can grant. Other negations only refuse some clients.
                if element.kind == ElementKind::Any {
                    return;
                }
                continue;
            }
            match &element.kind {
                ElementKind::None => {}
                ElementKind::Any => {
                    self.granted = true;
                    self.issues.push(GrantIssue::AnyoneCanUpdate {
                        source: self.source.clone(),
                        via: via.clone(),
                        at: element.at.clone(),
                    });
                }
                ElementKind::Localhost
                | ElementKind::Localnets
                | ElementKind::Address(_)
                | ElementKind::Other(_) => {
                    self.granted = true;
                    self.issues.push(GrantIssue::AddressOnlyGrant {
                        source: self.source.clone(),
                        element: element.kind.to_string(),
                        via: via.clone(),
                        at: element.at.clone(),
                    });
                }
                ElementKind::Key(key) => {
                    self.granted = true;
                    self.issues.push(GrantIssue::WholeZoneKeyGrant {
                        source: self.source.clone(),
                        key: key.clone(),
                        at: element.at.clone(),
                    });
                    if self.conf.key(self.view, key).is_none() {
                        self.issues.push(GrantIssue::UndefinedKey {
                            key: key.clone(),
                            at: element.at.clone(),
                        });
                    }
                }
                ElementKind::List(inner) => self.list(inner, via),
                ElementKind::Acl(name) => {
                    if let Some(start) = via.iter().position(|v| v == name) {
                        let mut chain = via[start..].to_vec();
                        chain.push(name.clone());
                        self.issues.push(GrantIssue::AclLoop {
                            chain,
                            at: element.at.clone(),
                        });
                        continue;
                    }
                    if via.len() >= MAX_ACL_DEPTH {
                        self.issues.push(GrantIssue::AclTooDeep {
                            chain: via.clone(),
                            at: element.at.clone(),
                        });
                        continue;
                    }
                    match self.conf.acl(name) {
                        Some(acl) => {
                            if !self.expanded.insert(name.clone()) {
                                // Walked already: its grants and issues are
                                // recorded (with the first path to it).
                                self.granted |= self.granting.contains(name);
                                continue;
                            }
                            via.push(name.clone());
                            let before = self.granted;
                            self.granted = false;
                            self.list(&acl.elements, via);
                            if self.granted {
                                self.granting.insert(name.clone());
                            }
                            self.granted |= before;
                            via.pop();
                        }
                        None => self.issues.push(GrantIssue::UndefinedAcl {
                            acl: name.clone(),
                            at: element.at.clone(),
                        }),
                    }
                }
            }
        }
    }
}

fn analyse_policy(
    conf: &NamedConf,
    view: Option<&View>,
    zone: &Zone,
    policy: &UpdatePolicy,
    names: &[&str],
    issues: &mut Vec<GrantIssue>,
) {
    let rules = match policy {
        UpdatePolicy::Local { at } => {
            for name in names {
                issues.push(GrantIssue::GrantWiderThanNeeded {
                    rule: "update-policy local".to_string(),
                    name: Labels::parse(name).to_absolute(),
                    names: NameScope::Zone,
                    types: TypeScope::All,
                    at: at.clone(),
                });
            }
            return;
        }
        UpdatePolicy::Rules(rules) => rules,
    };
    for rule in rules {
        let identity = Labels::parse(&rule.identity);
        if rule.mode == RuleMode::Grant
            && rule.rule_type.identity_is_key_name()
            && !identity.0.iter().any(|l| l == "*")
            // A GSS-TSIG signer is a Kerberos principal (`host/kms1@REALM`,
            // `KMS1$@REALM`), named by the KDC, never by a key statement.
            && !rule.identity.contains('@')
            && conf.key(view, &rule.identity).is_none()
        {
            issues.push(GrantIssue::UndefinedKey {
                key: rule.identity.clone(),
                at: rule.at.clone(),
            });
        }
    }
    let zone_labels = Labels::parse(&zone.name);
    for name in names {
        let wanted = Labels::parse(name);
        let absolute = wanted.to_absolute();
        let mut denies: Vec<&UpdateRule> = Vec::new();
        let mut covered = false;
        for rule in rules {
            let Some((scope, types)) = coverage(conf, view, &zone_labels, rule, &wanted) else {
                continue;
            };
            match rule.mode {
                RuleMode::Deny => {
                    issues.push(GrantIssue::DenyRule {
                        rule: rule.to_string(),
                        name: absolute.clone(),
                        at: rule.at.clone(),
                    });
                    denies.push(rule);
                }
                RuleMode::Grant => {
                    if denies.iter().any(|deny| shadows(deny, rule)) {
                        continue;
                    }
                    covered = true;
                    let narrow = types == TypeScope::SrvOnly
                        && match rule.rule_type {
                            RuleType::Name => scope == NameScope::Exact,
                            RuleType::Subdomain => {
                                rule.name.as_deref().map(Labels::parse).as_ref() == Some(&wanted)
                            }
                            _ => false,
                        };
                    issues.push(if narrow {
                        GrantIssue::NarrowGrant {
                            rule: rule.to_string(),
                            name: absolute.clone(),
                            at: rule.at.clone(),
                        }
                    } else {
                        GrantIssue::GrantWiderThanNeeded {
                            rule: rule.to_string(),
                            name: absolute.clone(),
                            names: scope,
                            types,
                            at: rule.at.clone(),
                        }
                    });
                }
            }
        }
        if !covered {
            issues.push(GrantIssue::NoGrant {
                name: absolute,
                zone: zone.name.clone(),
            });
        }
    }
}

/// True when the earlier `deny` catches every signer the `grant` names.
fn shadows(deny: &UpdateRule, grant: &UpdateRule) -> bool {
    if !(deny.rule_type.identity_is_key_name() && grant.rule_type.identity_is_key_name()) {
        return deny.identity.eq_ignore_ascii_case(&grant.identity);
    }
    let deny_identity = Labels::parse(&deny.identity);
    let grant_identity = Labels::parse(&grant.identity);
    grant_identity == deny_identity || grant_identity.matches(&deny_identity)
}

/// Which record types of the list reach an SRV update; `None` when SRV is
/// not among them.
fn type_scope(types: &[String]) -> Option<TypeScope> {
    if types.is_empty() {
        return Some(TypeScope::All);
    }
    // 9.20 accepts `SRV(5)` (a record count limit): the type is what counts.
    let names: Vec<String> = types
        .iter()
        .map(|t| t.split('(').next().unwrap_or(t).to_ascii_uppercase())
        .collect();
    if names.iter().any(|t| t == "ANY") {
        return Some(TypeScope::All);
    }
    if !names.iter().any(|t| t == "SRV") {
        return None;
    }
    let others: Vec<String> = names.iter().filter(|t| *t != "SRV").cloned().collect();
    if others.is_empty() {
        Some(TypeScope::SrvOnly)
    } else {
        let mut all = vec!["SRV".to_string()];
        for t in others {
            if !all.contains(&t) {
                all.push(t);
            }
        }
        Some(TypeScope::Types(all))
    }
}

/// Whether `rule` reaches SRV records at `name`, and how widely.
fn coverage(
    conf: &NamedConf,
    view: Option<&View>,
    zone: &Labels,
    rule: &UpdateRule,
    name: &Labels,
) -> Option<(NameScope, TypeScope)> {
    let types = type_scope(&rule.types)?;
    let rule_name = rule.name.as_deref().map(Labels::parse);
    let scope = match rule.rule_type {
        RuleType::Name => (rule_name.as_ref()? == name).then_some(NameScope::Exact)?,
        RuleType::Subdomain => {
            let base = rule_name?;
            name.is_at_or_below(&base)
                .then(|| NameScope::Subtree(base.to_absolute()))?
        }
        RuleType::Zonesub => NameScope::Zone,
        RuleType::Wildcard => {
            let pattern = rule_name?;
            (pattern.is_wildcard() && name.matches(&pattern))
                .then(|| NameScope::Wildcard(pattern.to_absolute()))?
        }
        RuleType::SelfName | RuleType::SelfSub | RuleType::SelfWild => {
            let identity = Labels::parse(&rule.identity);
            let keys: Vec<String> = view
                .into_iter()
                .flat_map(|v| v.keys.iter())
                .chain(conf.keys.iter())
                .filter(|key| {
                    let key_name = Labels::parse(&key.name);
                    key_name.matches(&identity)
                        && match rule.rule_type {
                            RuleType::SelfName => *name == key_name,
                            RuleType::SelfSub => name.is_at_or_below(&key_name),
                            _ => name.is_below(&key_name),
                        }
                })
                .map(|key| key.name.clone())
                .collect();
            if keys.is_empty() {
                return None;
            }
            NameScope::SignerName(keys)
        }
        RuleType::Krb5Subdomain
        | RuleType::MsSubdomain
        | RuleType::Krb5SubdomainSelfRhs
        | RuleType::MsSubdomainSelfRhs => {
            let base = match rule_name {
                Some(base) if base.len() > 0 => base,
                _ => zone.clone(),
            };
            name.is_at_or_below(&base)
                .then(|| NameScope::KerberosSubtree(base.to_absolute()))?
        }
        RuleType::External => NameScope::External,
        RuleType::Krb5Self
        | RuleType::Krb5SelfSub
        | RuleType::MsSelf
        | RuleType::MsSelfSub
        | RuleType::TcpSelf
        | RuleType::SixToFourSelf => return None,
    };
    Some((scope, types))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlmcs_names_are_absolute() {
        assert_eq!(vlmcs_name("corp.example"), "_vlmcs._tcp.corp.example.");
        assert_eq!(vlmcs_name("corp.example."), "_vlmcs._tcp.corp.example.");
        assert_eq!(vlmcs_name("."), "_vlmcs._tcp.");
    }

    #[test]
    fn type_lists() {
        let list = |t: &[&str]| type_scope(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(list(&[]), Some(TypeScope::All));
        assert_eq!(list(&["srv"]), Some(TypeScope::SrvOnly));
        assert_eq!(list(&["SRV", "SRV"]), Some(TypeScope::SrvOnly));
        assert_eq!(list(&["SRV(3)"]), Some(TypeScope::SrvOnly));
        assert_eq!(list(&["A", "AAAA"]), None);
        assert_eq!(list(&["any"]), Some(TypeScope::All));
        assert_eq!(
            list(&["A", "SRV"]),
            Some(TypeScope::Types(vec!["SRV".to_string(), "A".to_string()]))
        );
    }
}
