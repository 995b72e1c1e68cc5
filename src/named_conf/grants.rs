//! Who may change the `_vlmcs._tcp` SRV records, read from a [`NamedConf`]:
//! which zone holds a name in each view, and what that zone's
//! `allow-update` / `update-policy` lets whom do to it.
//!
//! Pure functions, no I/O. The verdicts are not read off the grants: they
//! are named's own decision ([`super::update`]) taken for every kind of
//! client that can reach the view — every piece of the address space the
//! view's and the zone's lists cut out, with and without the server's
//! `localhost` and `localnets` where a list uses them, unsigned over UDP
//! and TCP, and signed with each key the view knows (the session key of
//! `update-policy local` included) or as a Kerberos principal of a realm
//! the policy names — for every record that would let its sender send KMS
//! clients elsewhere:
//!
//! - the SRV records at `_vlmcs._tcp.<domain>` themselves;
//! - a CNAME there (an alias of the name);
//! - NS at the name, or at any name above it inside the zone, the apex
//!   included (a delegation of the name, or a rogue server in the zone's
//!   NS set);
//! - DNAME at any name above it inside the zone (a redirection of the
//!   whole subtree).
//!
//! From these decisions come the findings (DESIGN §2): `allow-update`
//! elements that let unsigned clients in (anyone, or by address: both
//! critical), keys that reach the whole zone, `update-policy` rules that
//! decide for someone (narrow only when they name one key, exactly the
//! name, SRV only), rules that let a key redirect the name, and nothing
//! granted at all. A configuration named refuses to load gets no verdict,
//! only named's reasons ([`super::check`]).
//!
//! What named.conf does not say is not guessed: a zone served by a DLZ
//! driver is named as such; an `external` rule is reported as deciding
//! for whoever its daemon accepts.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::acl::{CompiledAcl, Endpoint, Origin, Written};
use super::check::{record_type, Rejection};
use super::model::{NamedConf, RuleMode, RuleType, UpdatePolicy, UpdateRule, View, Zone};
use super::name::Labels;
use super::update::{
    representatives, Denial, Grant, Outcome, Request, RuleKind, Server, ServerZone, Signer, CNAME,
    DNAME, NS, SRV,
};
use super::zones::Zones;
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

/// Something about update grants that the `updates` audit reports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantIssue {
    /// named refuses to load the configuration: no grant of it is ever in
    /// force, so none is judged.
    WillNotLoad {
        /// named's reason and where.
        rejection: Rejection,
    },
    /// No zone in this view holds the name.
    ZoneNotFound {
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The view searched.
        view: Option<String>,
    },
    /// The zone may be served by a DLZ driver: what it holds, and who may
    /// change it, is not in named.conf.
    DlzZone {
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The DLZ statement's name.
        dlz: String,
        /// Its `database` (driver and arguments), when given.
        database: Option<String>,
        /// The `dlz` statement, or the zone that names it.
        at: Location,
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
    /// `allow-update` lets every client in: anyone can redirect KMS
    /// clients to a host of their choosing.
    AnyoneCanUpdate {
        /// Which `allow-update` applies.
        source: AclSource,
        /// The ACLs followed to reach `any`, outermost first.
        via: Vec<String>,
        /// The `any` element.
        at: Location,
    },
    /// `allow-update` lets clients in by source address, without a key.
    AddressOnlyGrant {
        /// Which `allow-update` applies.
        source: AclSource,
        /// The element as written (`10.0.0.0/8`, `localhost`, `any`, …).
        element: String,
        /// The ACLs followed to reach it, outermost first.
        via: Vec<String>,
        /// Why an `any` lets only some addresses in (the view's
        /// `match-clients`, an earlier element that refuses some).
        limited_by: Option<String>,
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
    /// `allow-update` lets everyone in, but only requests signed with these
    /// keys reach the view: the key holders may change the whole zone.
    ViewKeyGrant {
        /// Which `allow-update` applies.
        source: AclSource,
        /// The view.
        view: String,
        /// The keys whose holders reach it.
        keys: Vec<String>,
        /// The `allow-update` element as written.
        element: String,
        /// The element.
        at: Location,
    },
    /// An `update-policy` grant reaches the name but allows more than the
    /// SRV records at that name, or more keys than one.
    GrantWiderThanNeeded {
        /// The rule as written (`grant k zonesub ANY`).
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// Which names it reaches.
        names: NameScope,
        /// Which types it allows.
        types: TypeScope,
        /// With a wildcard identity (`*`): the keys named knows that it
        /// matches.
        keys: Option<Vec<String>>,
        /// The rule.
        at: Location,
    },
    /// An `update-policy` grant does not reach the SRV records but lets its
    /// key put a record that sends their lookup elsewhere: NS or DNAME at
    /// or above the name, a CNAME at it.
    RedirectGrant {
        /// The rule as written.
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The records it allows, as `TYPE at OWNER`.
        records: Vec<String>,
        /// The rule.
        at: Location,
    },
    /// An `update-policy` grant allows exactly the SRV records of the name,
    /// to one key.
    NarrowGrant {
        /// The rule as written.
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The rule.
        at: Location,
    },
    /// A `deny` rule decides for some signer at the name.
    DenyRule {
        /// The rule as written.
        rule: String,
        /// The `_vlmcs._tcp` name.
        name: String,
        /// The rule.
        at: Location,
    },
    /// Nothing allows anyone to change or redirect the name.
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
}

impl GrantIssue {
    /// Where in the configuration the issue is, when it is at one place.
    pub fn location(&self) -> Option<&Location> {
        match self {
            GrantIssue::WillNotLoad { rejection } => Some(&rejection.at),
            GrantIssue::NotPrimary { at, .. }
            | GrantIssue::DlzZone { at, .. }
            | GrantIssue::AnyoneCanUpdate { at, .. }
            | GrantIssue::AddressOnlyGrant { at, .. }
            | GrantIssue::WholeZoneKeyGrant { at, .. }
            | GrantIssue::ViewKeyGrant { at, .. }
            | GrantIssue::GrantWiderThanNeeded { at, .. }
            | GrantIssue::RedirectGrant { at, .. }
            | GrantIssue::NarrowGrant { at, .. }
            | GrantIssue::DenyRule { at, .. }
            | GrantIssue::UndefinedKey { at, .. } => Some(at),
            GrantIssue::ZoneNotFound { .. } | GrantIssue::NoGrant { .. } => None,
        }
    }
}

fn via_text(via: &[String]) -> String {
    if via.is_empty() {
        String::new()
    } else {
        format!(" via acl {}", via.join(" → "))
    }
}

impl fmt::Display for GrantIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantIssue::WillNotLoad { rejection } => {
                write!(f, "named will not load this: {}", rejection.refusal)
            }
            GrantIssue::ZoneNotFound { name, view } => match view {
                Some(view) => write!(f, "no zone of view \"{view}\" holds {name}"),
                None => write!(f, "no zone of the configuration holds {name}"),
            },
            GrantIssue::DlzZone {
                name, dlz, database, ..
            } => {
                write!(f, "{name} may be in a zone served by DLZ \"{dlz}\"")?;
                if let Some(database) = database {
                    write!(f, " ({database})")?;
                }
                f.write_str(": served by a DLZ driver; its permissions are not in named.conf")
            }
            GrantIssue::NotPrimary {
                zone, zone_type, ..
            } => write!(
                f,
                "zone {zone} is of type {zone_type}: updates are decided by its primary server"
            ),
            GrantIssue::AnyoneCanUpdate { source, via, .. } => {
                let via = via_text(via);
                let via = if via.is_empty() {
                    via
                } else {
                    format!(" ({})", via.trim_start())
                };
                write!(
                    f,
                    "{source} matches any client{via}: anyone can redirect KMS clients"
                )
            }
            GrantIssue::AddressOnlyGrant {
                source,
                element,
                via,
                limited_by,
                ..
            } => {
                write!(f, "{source} grants by address only ({element}{}", via_text(via))?;
                if let Some(limited) = limited_by {
                    write!(f, ", {limited}")?;
                }
                f.write_str("): whoever sends from such an address can redirect KMS clients")
            }
            GrantIssue::WholeZoneKeyGrant { source, key, .. } => write!(
                f,
                "{source} lets key {key} change the whole zone, wider than the _vlmcs._tcp SRV records it needs"
            ),
            GrantIssue::ViewKeyGrant {
                source,
                view,
                keys,
                element,
                ..
            } => write!(
                f,
                "{source} matches any client ({element}), but only requests signed with key {} reach view \"{view}\": the key holders can change the whole zone",
                keys.join(", ")
            ),
            GrantIssue::GrantWiderThanNeeded {
                rule,
                name,
                names,
                types,
                keys,
                ..
            } => {
                write!(
                    f,
                    "'{rule}' covers {name} but is wider than needed: {names}, {types}"
                )?;
                if let Some(keys) = keys {
                    write!(
                        f,
                        ", and its identity matches every key named knows here ({})",
                        keys.join(", ")
                    )?;
                }
                Ok(())
            }
            GrantIssue::RedirectGrant {
                rule,
                name,
                records,
                ..
            } => write!(
                f,
                "'{rule}' lets its signer put {} and send lookups of {name} elsewhere",
                records.join(", ")
            ),
            GrantIssue::NarrowGrant { rule, name, .. } => {
                write!(f, "'{rule}' grants exactly the SRV records of {name}")
            }
            GrantIssue::DenyRule { rule, name, .. } => {
                write!(f, "'{rule}' denies updates at {name}")
            }
            GrantIssue::NoGrant { name, zone } => write!(
                f,
                "nothing in zone {zone} allows updates of SRV records at {name}: publish will be refused"
            ),
            GrantIssue::UndefinedKey { key, .. } => {
                write!(f, "key {key} is used but never defined")
            }
        }
    }
}

/// How much of the clients of one kind get through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reach {
    /// None of them.
    Nobody,
    /// Some of them: from some addresses (or only some of the records).
    Some,
    /// All of them, from every address.
    Everyone,
}

/// Who may change (or redirect) the SRV records of one name: named's
/// decisions summed up per kind of sender.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Access {
    /// Unsigned requests.
    pub unsigned: Option<Reach>,
    /// Requests signed with each key the view knows that gets through at
    /// all, as named.conf writes it (the session key as `local-ddns`).
    pub keys: Vec<(String, Reach)>,
    /// Kerberos principals (GSS-TSIG) that get through: a principal the
    /// policy names, or any machine of a realm.
    pub principals: Vec<(String, Reach)>,
    /// An `external` rule lets a daemon grant more.
    pub external: bool,
}

/// The verdict of an [`Access`], for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Unsigned requests from every address.
    Anyone,
    /// Unsigned requests from some addresses.
    Addresses,
    /// Signed requests only.
    KeyHolders,
    /// No one (that named.conf knows of).
    Nobody,
}

impl Access {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        match self.unsigned.unwrap_or(Reach::Nobody) {
            Reach::Everyone => Verdict::Anyone,
            Reach::Some => Verdict::Addresses,
            Reach::Nobody if !self.keys.is_empty() || !self.principals.is_empty() => {
                Verdict::KeyHolders
            }
            Reach::Nobody => Verdict::Nobody,
        }
    }

    /// The key names that get through, as written.
    pub fn key_names(&self) -> Vec<&str> {
        self.keys.iter().map(|(k, _)| k.as_str()).collect()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Anyone => "anyone",
            Verdict::Addresses => "some addresses, unsigned",
            Verdict::KeyHolders => "key holders",
            Verdict::Nobody => "nobody",
        })
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

/// Where a zone is: the view that defines it (`None` outside views), its
/// scope's index among the views, and its place among the scope's zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Located<'a> {
    /// The view of the zone definition.
    pub view: Option<&'a View>,
    /// The index of that view (`None` outside views).
    pub scope: Option<usize>,
    /// The zone's place among the zones of its scope.
    pub position: usize,
}

impl<'a> Located<'a> {
    /// The zone's model, made for the asking.
    pub(crate) fn zone(&self, conf: &'a NamedConf) -> Option<Arc<Zone>> {
        conf.zones_of(self.scope)?.get(self.position)
    }

    /// Keeps `model`, this zone's, as the one its scope modelled last: the
    /// next question about the zone is answered without reading its
    /// statement again.
    pub(crate) fn keep(&self, conf: &'a NamedConf, model: &Arc<Zone>) {
        if let Some(zones) = conf.zones_of(self.scope) {
            zones.keep(self.position, model);
        }
    }

    /// Where the zone statement is.
    pub(crate) fn at(&self, conf: &'a NamedConf) -> Option<&'a Location> {
        conf.zones_of(self.scope)?.at(self.position)
    }
}

/// The most specific zone holding `name` among the zones of `view`
/// (`None`: the zones outside views); `in-view` zones are resolved.
/// Every zone of the scope is modelled and kept: the audit finds its
/// zones with [`zone_location`] and models one at a time.
pub fn find_zone<'a>(
    conf: &'a NamedConf,
    view: Option<&str>,
    name: &str,
) -> Option<ScopedZone<'a>> {
    let found = locate(conf, view, name)?;
    let zones = conf.zones_of(found.scope)?;
    (found.position < zones.len()).then(|| ScopedZone {
        view: found.view,
        zone: &zones[found.position],
    })
}

/// Where the zone statement of the most specific zone holding `name` in
/// `view` is, as [`find_zone`] finds it.
pub fn zone_location<'a>(
    conf: &'a NamedConf,
    view: Option<&str>,
    name: &str,
) -> Option<&'a Location> {
    locate(conf, view, name)?.at(conf)
}

/// Where the zone [`find_zone`] finds is.
pub(crate) fn locate<'a>(
    conf: &'a NamedConf,
    view: Option<&str>,
    name: &str,
) -> Option<Located<'a>> {
    let (scope, position) = match view {
        Some(view) => {
            let position = conf.view_position(view)?;
            (conf.views.get(position), Some(position))
        }
        None => (None, None),
    };
    let zones = conf.zones_of(position)?;
    let wanted = Labels::parse(name);
    // The most specific name first; of two zones of one name, the last.
    let at = wanted.up_to(&Labels(Vec::new())).iter().find_map(|above| {
        zones
            .named(above)
            .into_iter()
            .rev()
            .find(|&at| zones.facts(at).is_some_and(|f| f.class_in && f.holds_data))
    })?;
    let found = Located {
        view: scope,
        scope: position,
        position: at,
    };
    if !zones.facts(at).is_some_and(|f| f.in_view) {
        return Some(found);
    }
    let zone = found.zone(conf)?;
    let target = zone.in_view.as_deref()?;
    // `in-view` shares the zone of another view; BIND allows one hop only.
    let target_position = conf.view_position(target)?;
    let target_view = conf.views.get(target_position)?;
    let target_zones = &target_view.zones;
    target_zones
        .named(&Labels::parse(&zone.name))
        .into_iter()
        .find(|&at| target_zones.facts(at).is_some_and(|f| !f.in_view))
        .map(|at| Located {
            view: Some(target_view),
            scope: Some(target_position),
            position: at,
        })
}

/// For every view of class IN (or once, without views), the zone holding
/// `name`. BIND puts every zone in a view once views are used, so top-level
/// zones are only searched when there are no views.
pub fn zones_holding<'a>(conf: &'a NamedConf, name: &str) -> Vec<ZoneLookup<'a>> {
    views_holding(conf, name)
        .into_iter()
        .map(|(view, found)| ZoneLookup {
            view,
            zone: found.and_then(|found| {
                let zones = conf.zones_of(found.scope)?;
                Some(ScopedZone {
                    view: found.view,
                    zone: &zones[found.position],
                })
            }),
        })
        .collect()
}

/// The zone statements holding the `_vlmcs._tcp` name of `domain` (one a
/// view, as `(view index, place among its zones)`): the domains that share
/// one are audited together ([`audit_domains_each`]), and listed together.
pub fn zones_of_domain(conf: &NamedConf, domain: &str) -> Vec<(Option<usize>, usize)> {
    views_holding(conf, &vlmcs_name(domain))
        .into_iter()
        .filter_map(|(_, found)| found.map(|f| (f.scope, f.position)))
        .collect()
}

/// [`zones_holding`], where each zone is rather than its model.
fn views_holding<'a>(
    conf: &'a NamedConf,
    name: &str,
) -> Vec<(Option<&'a View>, Option<Located<'a>>)> {
    if conf.views.is_empty() {
        return vec![(None, locate(conf, None, name))];
    }
    conf.views
        .iter()
        .filter(|v| v.is_class_in())
        .map(|view| (Some(view), locate(conf, Some(&view.name), name)))
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
    /// Who may change or redirect each name, by name (none when there is
    /// no verdict: zone not found, not a primary, DLZ, not loaded).
    pub access: Vec<(String, Access)>,
    /// The names were asked for (`--domain`, the publish list), rather
    /// than found by going through every zone.
    pub requested: bool,
}

/// One audit to make: a zone (or none) of a view, and names in it.
struct Group<'a> {
    view: Option<&'a View>,
    /// Where the zone is and its model, made when the group was found
    /// (`None`: no zone holds the names, or its statement could not be
    /// read again): the audit does not read the statement again.
    zone: Option<(Located<'a>, Arc<Zone>)>,
    names: Vec<String>,
}

/// Finds the zone of every domain's `_vlmcs._tcp` name in every view and
/// analyses each zone once for all the names it holds.
pub fn audit_domains(conf: &NamedConf, domains: &[&str]) -> Vec<ZoneAudit> {
    let mut audits = Vec::new();
    audit_domains_each(conf, domains, |audit| audits.push(audit));
    audits
}

/// [`audit_domains`], each zone's audit handed to `each` as soon as it is
/// made, in the same order: a caller that turns them into its report
/// holds one at a time, not 100,000. Groups are found through an index,
/// not by going through the groups made so far: with one zone per domain
/// that was quadratic (20,000 domains took 29 s).
pub fn audit_domains_each(conf: &NamedConf, domains: &[&str], mut each: impl FnMut(ZoneAudit)) {
    let mut seen = HashSet::new();
    let names: Vec<String> = domains
        .iter()
        .map(|d| vlmcs_name(d))
        .filter(|name| seen.insert(name.clone()))
        .collect();
    if !conf.loads() {
        // Each name its own audit, whatever names come with it: the same
        // whether the names come in one window or in several.
        for name in names {
            each(not_loaded(conf, vec![name]));
        }
        return;
    }
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    for name in &names {
        // One lookup per view: a name joins a group at most once.
        for (view, zone) in views_holding(conf, name) {
            let view_key = view.map(|v| v as *const View);
            let key = match zone {
                Some(z) => GroupKey::Zone(view_key, z.scope, z.position),
                None => GroupKey::NotFound(view_key, groups.len()),
            };
            match index.get(&key) {
                Some(&at) => groups[at].names.push(name.clone()),
                None => {
                    index.insert(key, groups.len());
                    groups.push(Group {
                        view,
                        // The statement was just read to tell the zone's
                        // name from another of its hash: modelled once.
                        zone: zone.and_then(|z| Some((z, z.zone(conf)?))),
                        names: vec![name.clone()],
                    });
                }
            }
        }
    }
    let server = Server::new(conf);
    for group in groups {
        each(audit_group(&server, group, true));
    }
}

/// A group's identity: its view and its zone, as the configuration holds
/// them (the same zone statement, not only the same name); a name that no
/// zone of a view holds is a group of its own, so that it is audited the
/// same whatever names come with it.
#[derive(PartialEq, Eq, Hash)]
enum GroupKey {
    /// The view searched, and the zone's view index and place.
    Zone(Option<*const View>, Option<usize>, usize),
    /// The view searched, and the group's own number.
    NotFound(Option<*const View>, usize),
}

/// Every primary zone of every view, for `_vlmcs._tcp` anywhere in it: at
/// its apex, and below every name its `update-policy` rules single out
/// (`name _vlmcs._tcp.branch…`, `subdomain branch…`). Zones of DLZ
/// drivers are named, not judged.
pub fn audit_zones(conf: &NamedConf) -> Vec<ZoneAudit> {
    let mut audits = Vec::new();
    audit_zones_each(conf, |audit| audits.push(audit));
    audits
}

/// [`audit_zones`], each zone's audit handed to `each` as soon as it is
/// made, in the same order.
pub fn audit_zones_each(conf: &NamedConf, mut each: impl FnMut(ZoneAudit)) {
    if !conf.loads() {
        return each(not_loaded(conf, Vec::new()));
    }
    let server = Server::new(conf);
    let scopes: Vec<(Option<&View>, &Zones, &[super::model::Dlz])> = if conf.views.is_empty() {
        vec![(None, &conf.zones, conf.dlz.as_slice())]
    } else {
        conf.views
            .iter()
            .filter(|v| v.is_class_in())
            .map(|v| (Some(v), &v.zones, v.dlz.as_slice()))
            .collect()
    };
    for (view, zones, dlz) in scopes {
        // One zone modelled at a time, not 100,000 at once.
        for position in 0..zones.len() {
            if !zones.facts(position).is_some_and(|f| f.class_in) {
                continue;
            }
            let Some(zone) = zones.get(position) else {
                continue;
            };
            let name = Labels::parse(&zone.name);
            let Some((found, model)) = locate(conf, view.map(|v| v.name.as_str()), &zone.name)
                .and_then(|found| Some((found, found.zone(conf)?)))
                .filter(|(_, model)| Labels::parse(&model.name) == name)
            else {
                continue;
            };
            if !model.is_primary() && model.dlz.is_none() {
                continue;
            }
            each(audit_group(
                &server,
                Group {
                    view,
                    names: zone_names(&model),
                    zone: Some((found, model)),
                },
                false,
            ));
        }
        for driver in dlz {
            each(ZoneAudit {
                view: view.map(|v| v.name.clone()),
                zone: None,
                defined_in_view: None,
                names: Vec::new(),
                issues: vec![GrantIssue::DlzZone {
                    name: "every name".into(),
                    dlz: driver.name.clone(),
                    database: driver.database.clone(),
                    at: driver.at.clone(),
                }],
                access: Vec::new(),
                requested: false,
            });
        }
    }
}

/// The `_vlmcs._tcp` names of a zone worth auditing: at its apex, and at
/// each domain inside it that an `update-policy` rule names (the domain of
/// a `_vlmcs._tcp.…` name field, or the base of a subdomain rule).
fn zone_names(zone: &Zone) -> Vec<String> {
    let apex = Labels::parse(&zone.name);
    let mut names = vec![vlmcs_name(&apex.to_absolute())];
    let vlmcs = Labels::parse("_vlmcs._tcp");
    if let Some(UpdatePolicy::Rules(rules)) = &zone.update_policy {
        for rule in rules {
            let Some(name) = rule.name.as_deref().map(Labels::parse) else {
                continue;
            };
            if name.is_wildcard() || !name.is_below(&apex) {
                continue;
            }
            let starts = |prefix: &[Vec<u8>]| {
                name.len() > prefix.len()
                    && name.0[..prefix.len()]
                        .iter()
                        .zip(prefix)
                        .all(|(a, b)| a.eq_ignore_ascii_case(b))
            };
            let domain = if starts(&vlmcs.0) {
                Labels(name.0[2..].to_vec())
            } else if starts(&vlmcs.0[1..]) {
                // `_tcp.<domain>`: above the `_vlmcs._tcp` name of <domain>.
                Labels(name.0[1..].to_vec())
            } else if name.0.first().is_some_and(|l| l.starts_with(b"_")) {
                continue;
            } else if matches!(
                rule.rule_type,
                RuleType::Subdomain
                    | RuleType::Krb5Subdomain
                    | RuleType::MsSubdomain
                    | RuleType::Krb5SubdomainSelfRhs
                    | RuleType::MsSubdomainSelfRhs
            ) {
                name
            } else {
                continue;
            };
            if !domain.is_at_or_below(&apex) {
                continue;
            }
            let full = vlmcs_name(&domain.to_absolute());
            if !names.contains(&full) {
                names.push(full);
            }
        }
    }
    names
}

/// The audit of a configuration named does not load: its reasons, and no
/// verdict.
fn not_loaded(conf: &NamedConf, names: Vec<String>) -> ZoneAudit {
    ZoneAudit {
        view: None,
        zone: None,
        defined_in_view: None,
        names,
        issues: conf
            .rejections
            .iter()
            .map(|rejection| GrantIssue::WillNotLoad {
                rejection: rejection.clone(),
            })
            .collect(),
        access: Vec::new(),
        requested: true,
    }
}

fn same_view(a: Option<&View>, b: Option<&View>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

fn audit_group(server: &Server<'_>, group: Group<'_>, requested: bool) -> ZoneAudit {
    let conf = server.conf();
    let view = group.view.map(|v| v.name.clone());
    let Some((found, model)) = group.zone else {
        let dlz = match group.view {
            Some(v) => v.dlz.first(),
            None => conf.dlz.first(),
        };
        let issues = group
            .names
            .iter()
            .map(|name| match dlz {
                Some(driver) => GrantIssue::DlzZone {
                    name: name.clone(),
                    dlz: driver.name.clone(),
                    database: driver.database.clone(),
                    at: driver.at.clone(),
                },
                None => GrantIssue::ZoneNotFound {
                    name: name.clone(),
                    view: view.clone(),
                },
            })
            .collect();
        return ZoneAudit {
            issues,
            view,
            zone: None,
            defined_in_view: None,
            names: group.names,
            access: Vec::new(),
            requested,
        };
    };
    // named's decisions and the caller (the zone's place) ask for the zone
    // by its name again: its scope answers with this model.
    found.keep(conf, &model);
    let scoped = ScopedZone {
        view: found.view,
        zone: &model,
    };
    let names: Vec<&str> = group.names.iter().map(String::as_str).collect();
    let view_index = server.view_index(group.view.map(|v| v.name.as_str()));
    let (issues, access) = match view_index {
        Some(index) => analyse(server, index, scoped, &names),
        None => (Vec::new(), Vec::new()),
    };
    ZoneAudit {
        defined_in_view: scoped
            .view
            .filter(|v| !same_view(Some(v), group.view))
            .map(|v| v.name.clone()),
        zone: Some(scoped.zone.name.clone()),
        issues,
        access,
        view,
        names: group.names,
        requested,
    }
}

/// A record that would change, or send elsewhere, the SRV records of a
/// name.
struct Target {
    owner: Labels,
    rtype: u16,
}

impl Target {
    fn shown(&self) -> String {
        let t = match self.rtype {
            SRV => "SRV",
            NS => "NS",
            CNAME => "CNAME",
            DNAME => "DNAME",
            _ => "?",
        };
        format!("{t} at {}", self.owner.to_absolute())
    }
}

/// SRV, CNAME and NS at the name; NS and DNAME at every name above it
/// inside the zone, the apex included.
fn targets(name: &Labels, zone: &Labels) -> Vec<Target> {
    let mut out = vec![
        Target {
            owner: name.clone(),
            rtype: SRV,
        },
        Target {
            owner: name.clone(),
            rtype: CNAME,
        },
        Target {
            owner: name.clone(),
            rtype: NS,
        },
    ];
    for above in name.up_to(zone).into_iter().skip(1) {
        out.push(Target {
            owner: above.clone(),
            rtype: NS,
        });
        out.push(Target {
            owner: above,
            rtype: DNAME,
        });
    }
    out
}

/// One kind of client: where it sends from and to, and how.
#[derive(Debug, Clone, Copy)]
struct Client {
    source: Endpoint,
    destination: Endpoint,
    tcp: bool,
}

/// The clients that tell every case of `view`'s zone apart: a source
/// address in each piece of the address space that the lists of the view,
/// of the views before it and of the zone cut out, inside and outside the
/// server's `localhost` and `localnets` when a list uses them; likewise
/// for the server address it was sent to, when a view matches
/// destinations; over UDP, and over TCP too for an `update-policy` zone.
fn clients(server: &Server<'_>, view: usize, zone: &ServerZone) -> Vec<Client> {
    let mut sources: Vec<&CompiledAcl> = Vec::new();
    let mut destinations: Vec<&CompiledAcl> = Vec::new();
    for index in 0..=view.min(server.view_count().saturating_sub(1)) {
        let (clients, dests) = server.view_acls(index);
        sources.extend(clients);
        destinations.extend(dests);
    }
    if let Some((acl, _)) = &zone.update_acl {
        sources.push(acl);
    }
    if let Some(acl) = &zone.query_acl {
        sources.push(acl);
    }
    let flags = |acls: &[&CompiledAcl]| {
        acls.iter().fold((false, false, false), |f, acl| {
            let u = acl.uses_flags();
            (f.0 | u.0, f.1 | u.1, f.2 | u.2)
        })
    };
    let (mut localhost, localnets, geoip) = flags(&sources);
    let local_rule = zone
        .rules
        .as_ref()
        .is_some_and(|rules| rules.iter().any(|r| r.kind == RuleKind::Local));
    localhost |= local_rule;
    let mut source_points = Vec::new();
    for address in representatives(&sources) {
        for lh in bools(localhost) {
            for ln in bools(localnets || localhost) {
                // The server's own addresses are on its networks.
                if lh && !ln {
                    continue;
                }
                for geo in bools(geoip) {
                    source_points.push(Endpoint {
                        address,
                        localhost: lh,
                        localnets: ln,
                        geoip: geo,
                    });
                }
            }
        }
    }
    // The address a request is sent to is one of the server's own.
    let destination_points: Vec<Endpoint> = if destinations.is_empty() {
        vec![Endpoint {
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            localhost: true,
            localnets: true,
            geoip: false,
        }]
    } else {
        let (_, _, geo) = flags(&destinations);
        representatives(&destinations)
            .into_iter()
            .flat_map(|address| {
                bools(geo).into_iter().map(move |g| Endpoint {
                    address,
                    localhost: true,
                    localnets: true,
                    geoip: g,
                })
            })
            .collect()
    };
    let transports: &[bool] = if zone.rules.is_some() {
        &[false, true]
    } else {
        &[false]
    };
    let mut out = Vec::new();
    for &tcp in transports {
        for source in &source_points {
            for destination in &destination_points {
                out.push(Client {
                    source: *source,
                    destination: *destination,
                    tcp,
                });
            }
        }
    }
    out
}

fn bools(vary: bool) -> Vec<bool> {
    if vary {
        vec![false, true]
    } else {
        vec![false]
    }
}

/// Who may sign: every key the view knows, and the Kerberos principals the
/// zone's policy could let in (one it names, or a machine of a realm it
/// names); with the target an SRV record of theirs would carry (a machine
/// publishing itself, for the `*-self-rhs` types).
fn signers(server: &Server<'_>, view: usize, zone: &ServerZone) -> Vec<(Signer, Labels)> {
    let conf = server.conf();
    let kms = Labels::parse("kms.invalid.");
    let mut out: Vec<(Signer, Labels)> = Vec::new();
    let add = |signer: Signer, target: Labels, out: &mut Vec<(Signer, Labels)>| {
        if !out.iter().any(|(s, _)| s.name == signer.name) {
            out.push((signer, target));
        }
    };
    let written = conf
        .keys
        .iter()
        .chain(server.view_of(view).into_iter().flat_map(|v| v.keys.iter()));
    for key in written {
        add(
            Signer {
                name: Labels::parse(&key.name),
                shown: key.name.clone(),
                principal: false,
            },
            kms.clone(),
            &mut out,
        );
    }
    if let Some(session) = server.session_key() {
        add(
            Signer {
                name: session.clone(),
                shown: session.to_principal(),
                principal: false,
            },
            kms.clone(),
            &mut out,
        );
    }
    for rule in zone.rules.iter().flatten() {
        let RuleKind::Configured(kind) = rule.kind else {
            continue;
        };
        let realm = rule.identity_text.trim_end_matches('.').to_string();
        let machine = "kmsdns-machine";
        match kind {
            RuleType::Krb5Self
            | RuleType::Krb5SelfSub
            | RuleType::Krb5Subdomain
            | RuleType::Krb5SubdomainSelfRhs => {
                let host = format!("{machine}.invalid");
                add(
                    Signer {
                        name: Labels::parse(&format!("host/{host}@{realm}")),
                        shown: format!("host/*@{realm}"),
                        principal: true,
                    },
                    Labels::parse(&host),
                    &mut out,
                );
            }
            RuleType::MsSelf
            | RuleType::MsSelfSub
            | RuleType::MsSubdomain
            | RuleType::MsSubdomainSelfRhs => {
                let upper = machine.to_ascii_uppercase();
                add(
                    Signer {
                        name: Labels::parse(&format!("{upper}$@{realm}")),
                        shown: format!("*$@{realm}"),
                        principal: true,
                    },
                    Labels::parse(&format!("{upper}.{realm}")),
                    &mut out,
                );
            }
            _ if rule.identity_text.contains('@') && !rule.identity.is_wildcard() => {
                let text = rule.identity_text.clone();
                let target = principal_machine(&text).unwrap_or_else(|| kms.clone());
                add(
                    Signer {
                        name: Labels::parse(&text),
                        shown: text,
                        principal: true,
                    },
                    target,
                    &mut out,
                );
            }
            _ => {}
        }
    }
    out
}

/// The machine of `host/machine@REALM` or `MACHINE$@REALM`.
fn principal_machine(principal: &str) -> Option<Labels> {
    let (left, realm) = principal.split_once('@')?;
    if let Some(("host", machine)) = left.split_once('/') {
        return Some(Labels::parse(machine));
    }
    left.strip_suffix('$')
        .map(|machine| Labels::parse(&format!("{machine}.{realm}")))
}

/// One decision taken for the audit.
struct Seen {
    signer: Option<usize>,
    client: usize,
    target: usize,
    outcome: Outcome,
}

/// The grant issues of `zone` (found in the view at `view`) for `names`,
/// and who may change or redirect each name.
fn analyse(
    server: &Server<'_>,
    view: usize,
    scoped: ScopedZone<'_>,
    names: &[&str],
) -> (Vec<GrantIssue>, Vec<(String, Access)>) {
    let zone = scoped.zone;
    let mut issues = Vec::new();
    if let Some(dlz) = &zone.dlz {
        let driver = server
            .view_of(view)
            .map_or(server.conf().dlz.as_slice(), |v| v.dlz.as_slice())
            .iter()
            .chain(server.conf().dlz.iter())
            .find(|d| d.name.eq_ignore_ascii_case(dlz));
        for name in names {
            issues.push(GrantIssue::DlzZone {
                name: Labels::parse(name).to_absolute(),
                dlz: dlz.clone(),
                database: driver.and_then(|d| d.database.clone()),
                at: zone.at.clone(),
            });
        }
        return (issues, Vec::new());
    }
    if let Some(zone_type) = &zone.zone_type {
        if !zone.is_primary() {
            issues.push(GrantIssue::NotPrimary {
                zone: zone.name.clone(),
                zone_type: zone_type.clone(),
                at: zone.at.clone(),
            });
            return (issues, Vec::new());
        }
    }
    let zone_labels = Labels::parse(&zone.name);
    let Some(state) = server.zone(view, &zone_labels) else {
        return (issues, Vec::new());
    };
    let keyring = server.keyring(view).to_vec();
    let clients = clients(server, view, &state);
    let signers = signers(server, view, &state);
    let kms = Labels::parse("kms.invalid.");
    let mut accesses = Vec::new();
    let mut acl_groups: Vec<AclGroup> = Vec::new();
    for name in names {
        let wanted = Labels::parse(name);
        let absolute = wanted.to_absolute();
        let mut targets = targets(&wanted, &zone_labels);
        if state.rules.is_none() {
            // allow-update decides alike for every record of the zone.
            targets.truncate(1);
        }
        let mut seen: Vec<Seen> = Vec::new();
        // Only what this view takes is this zone's doing.
        for (client_index, client) in clients.iter().enumerate() {
            let signer_choices: Vec<Option<usize>> = if client.tcp {
                vec![None]
            } else {
                std::iter::once(None)
                    .chain((0..signers.len()).map(Some))
                    .collect()
            };
            for signer in signer_choices {
                let srv_target = signer.map_or(&kms, |s| &signers[s].1);
                for (target_index, target) in targets.iter().enumerate() {
                    let request = Request {
                        source: client.source,
                        destination: client.destination,
                        signer: signer.map(|s| &signers[s].0),
                        tcp: client.tcp,
                        zone: &zone_labels,
                        name: &target.owner,
                        rtype: target.rtype,
                        target: (target.rtype == SRV).then_some(srv_target),
                    };
                    let (taken_by, outcome) = server.decide_parsed(&request);
                    if taken_by != Some(view) {
                        continue;
                    }
                    seen.push(Seen {
                        signer,
                        client: client_index,
                        target: target_index,
                        outcome,
                    });
                }
            }
        }
        let access = summarise(&seen, &clients, &signers, state.rules.as_ref());
        match &state.rules {
            None => {
                let grants = acl_grants(&seen, &signers);
                for group in grants {
                    if !acl_groups.iter().any(|g| g.key == group.key) {
                        acl_groups.push(group);
                    }
                }
            }
            Some(_) => policy_issues(
                server,
                scoped,
                &state,
                &seen,
                &targets,
                &signers,
                &keyring,
                &wanted,
                &mut issues,
            ),
        }
        if state.rules.is_some()
            && !granted_by_policy(&seen)
            && !external_reaches(scoped.zone, &targets)
        {
            issues.push(GrantIssue::NoGrant {
                name: absolute.clone(),
                zone: zone.name.clone(),
            });
        }
        accesses.push((absolute, access));
    }
    if state.rules.is_none() {
        let unsigned_everywhere = accesses
            .iter()
            .all(|(_, a)| a.unsigned == Some(Reach::Everyone));
        let view_takes_all = view_takes_every_unsigned(server, view, &clients);
        acl_groups.sort_by_key(|g| g.rank);
        for group in &acl_groups {
            issues.push(acl_issue(
                server,
                view,
                group,
                unsigned_everywhere,
                view_takes_all,
            ));
        }
        if let Some((acl, _)) = &state.update_acl {
            for (key, origin) in acl.keys() {
                if !keyring.contains(&key) {
                    let written = match &origin.written {
                        Written::Key(k) => k.clone(),
                        _ => key.to_principal(),
                    };
                    issues.push(GrantIssue::UndefinedKey {
                        key: written,
                        at: origin.at.clone(),
                    });
                }
            }
        }
        if acl_groups.is_empty() {
            for name in names {
                issues.push(GrantIssue::NoGrant {
                    name: Labels::parse(name).to_absolute(),
                    zone: zone.name.clone(),
                });
            }
        }
    }
    (dedup(issues), accesses)
}

fn granted_by_policy(seen: &[Seen]) -> bool {
    seen.iter()
        .any(|s| matches!(s.outcome, Outcome::Accepted(Grant::Rule(_))))
}

/// True when an `external` rule could grant one of the targets.
fn external_reaches(zone: &Zone, targets: &[Target]) -> bool {
    let Some(UpdatePolicy::Rules(rules)) = &zone.update_policy else {
        return false;
    };
    rules.iter().any(|rule| {
        rule.mode == RuleMode::Grant
            && rule.rule_type == RuleType::External
            && targets.iter().any(|t| allows_type(&rule.types, t.rtype))
    })
}

/// Whether the type list of a rule takes `rtype` (empty: every type but
/// NS, SOA, RRSIG).
fn allows_type(types: &[String], rtype: u16) -> bool {
    if types.is_empty() {
        return !matches!(rtype, 2 | 6 | 46);
    }
    types.iter().any(|t| {
        let t = record_type(t.split('(').next().unwrap_or(t));
        t == Some(255) || t == Some(rtype)
    })
}

/// Whether every unsigned client lands in `view`.
fn view_takes_every_unsigned(server: &Server<'_>, view: usize, clients: &[Client]) -> bool {
    let zone = Labels::parse(".");
    clients.iter().all(|client| {
        let request = Request {
            source: client.source,
            destination: client.destination,
            signer: None,
            tcp: client.tcp,
            zone: &zone,
            name: &zone,
            rtype: SRV,
            target: None,
        };
        server.decide_parsed(&request).0 == Some(view)
    })
}

/// Sums the decisions up per kind of sender.
fn summarise(
    seen: &[Seen],
    clients: &[Client],
    signers: &[(Signer, Labels)],
    rules: Option<&Vec<super::update::Rule>>,
) -> Access {
    let reach = |signer: Option<usize>| {
        let eligible: Vec<usize> = clients
            .iter()
            .enumerate()
            .filter(|(_, c)| signer.is_none() || !c.tcp)
            .map(|(i, _)| i)
            .collect();
        let through: HashSet<usize> = seen
            .iter()
            .filter(|s| s.signer == signer && matches!(s.outcome, Outcome::Accepted(_)))
            .map(|s| s.client)
            .collect();
        if through.is_empty() {
            Reach::Nobody
        } else if eligible.iter().all(|c| through.contains(c)) {
            Reach::Everyone
        } else {
            Reach::Some
        }
    };
    let mut access = Access {
        unsigned: Some(reach(None)),
        ..Access::default()
    };
    for (index, (signer, _)) in signers.iter().enumerate() {
        let r = reach(Some(index));
        if r == Reach::Nobody {
            continue;
        }
        if signer.principal {
            access.principals.push((signer.shown.clone(), r));
        } else {
            access.keys.push((signer.shown.clone(), r));
        }
    }
    access.external = rules.is_some_and(|rules| {
        rules
            .iter()
            .any(|r| r.grant && r.kind == RuleKind::Configured(RuleType::External))
    });
    access
}

/// The clients one element of `allow-update` lets in.
struct AclGroup {
    key: (String, u32, u32, String, Vec<String>),
    rank: i64,
    origin: Origin,
    source: AclSource,
    unsigned: bool,
    keys: Vec<String>,
}

fn acl_grants(seen: &[Seen], signers: &[(Signer, Labels)]) -> Vec<AclGroup> {
    let mut groups: Vec<AclGroup> = Vec::new();
    for s in seen {
        let Outcome::Accepted(Grant::Acl {
            source,
            origin,
            rank,
        }) = &s.outcome
        else {
            continue;
        };
        let key = (
            origin.at.file.display().to_string(),
            origin.at.line,
            origin.at.column,
            origin.text.clone(),
            origin.via.names(),
        );
        let index = match groups.iter().position(|g| g.key == key) {
            Some(index) => index,
            None => {
                groups.push(AclGroup {
                    key,
                    rank: rank.abs(),
                    origin: origin.clone(),
                    source: source.clone(),
                    unsigned: false,
                    keys: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[index];
        match s.signer {
            None => group.unsigned = true,
            Some(signer) => {
                let shown = signers[signer].0.shown.clone();
                if !group.keys.contains(&shown) {
                    group.keys.push(shown);
                }
            }
        }
    }
    groups
}

fn acl_issue(
    server: &Server<'_>,
    view: usize,
    group: &AclGroup,
    unsigned_everywhere: bool,
    view_takes_all: bool,
) -> GrantIssue {
    let origin = &group.origin;
    let via = origin.via.names();
    let at = origin.at.clone();
    let source = group.source.clone();
    if group.unsigned {
        if origin.written == Written::Any && (unsigned_everywhere || view_takes_all) {
            return GrantIssue::AnyoneCanUpdate { source, via, at };
        }
        let limited_by = (origin.written == Written::Any).then(|| {
            if view_takes_all {
                "all but the clients refused before it".to_string()
            } else {
                format!(
                    "but view \"{}\" takes only some clients",
                    server.view_name(view)
                )
            }
        });
        return GrantIssue::AddressOnlyGrant {
            source,
            element: origin.text.clone(),
            via,
            limited_by,
            at,
        };
    }
    if let Written::Key(key) = &origin.written {
        return GrantIssue::WholeZoneKeyGrant {
            source,
            key: key.clone(),
            at,
        };
    }
    GrantIssue::ViewKeyGrant {
        source,
        view: server.view_name(view).to_string(),
        keys: group.keys.clone(),
        element: origin.text.clone(),
        at,
    }
}

/// The issues of an `update-policy` zone for one name, rule by rule: each
/// rule that decided something for some signer.
#[allow(clippy::too_many_arguments)]
fn policy_issues(
    server: &Server<'_>,
    scoped: ScopedZone<'_>,
    state: &ServerZone,
    seen: &[Seen],
    targets: &[Target],
    signers: &[(Signer, Labels)],
    keyring: &[Labels],
    name: &Labels,
    issues: &mut Vec<GrantIssue>,
) {
    let conf = server.conf();
    let zone = scoped.zone;
    let absolute = name.to_absolute();
    let zone_labels = Labels::parse(&zone.name);
    let configured: Vec<&UpdateRule> = match &zone.update_policy {
        Some(UpdatePolicy::Rules(rules)) => rules.iter().collect(),
        _ => Vec::new(),
    };
    for rule in &configured {
        let undefined = rule.mode == RuleMode::Grant
            && rule.rule_type.identity_is_key_name()
            && !Labels::parse(&rule.identity).0.iter().any(|l| l.as_slice() == b"*")
            // A GSS-TSIG signer is a Kerberos principal (`host/kms1@REALM`,
            // `KMS1$@REALM`), named by the KDC, never by a key statement.
            && !rule.identity.contains('@')
            && conf.key(scoped.view, &rule.identity).is_none();
        if undefined {
            issues.push(GrantIssue::UndefinedKey {
                key: rule.identity.clone(),
                at: rule.at.clone(),
            });
        }
    }
    let rules = state.rules.as_deref().unwrap_or(&[]);
    for (index, rule) in rules.iter().enumerate() {
        let decided: Vec<&Seen> = seen
            .iter()
            .filter(|s| match &s.outcome {
                Outcome::Accepted(Grant::Rule(i)) => *i == index,
                Outcome::Refused(Denial::DenyRule(i)) => *i == index,
                _ => false,
            })
            .collect();
        let (text, at) = match configured.get(index) {
            Some(model) if rule.kind != RuleKind::Local => (model.to_string(), model.at.clone()),
            _ => match &zone.update_policy {
                Some(UpdatePolicy::Local { at }) => ("update-policy local".to_string(), at.clone()),
                _ => continue,
            },
        };
        if !rule.grant {
            if !decided.is_empty() {
                issues.push(GrantIssue::DenyRule {
                    rule: text,
                    name: absolute.clone(),
                    at,
                });
            }
            continue;
        }
        let external = rule.kind == RuleKind::Configured(RuleType::External);
        if decided.is_empty() && !external {
            continue;
        }
        let scope = match (rule.kind, configured.get(index)) {
            (RuleKind::Local, _) => Some((NameScope::Zone, TypeScope::All)),
            (_, Some(model)) => coverage(conf, scoped.view, &zone_labels, model, name),
            _ => None,
        };
        match scope {
            Some((names, types)) => {
                let model = configured.get(index);
                let wildcard_identity = rule.identity.is_wildcard()
                    && model.is_some_and(|m| {
                        matches!(
                            m.rule_type,
                            RuleType::Name
                                | RuleType::Subdomain
                                | RuleType::Zonesub
                                | RuleType::Wildcard
                        )
                    });
                let narrow = !wildcard_identity
                    && types == TypeScope::SrvOnly
                    && model.is_some_and(|m| match m.rule_type {
                        RuleType::Name => names == NameScope::Exact,
                        RuleType::Subdomain => {
                            m.name.as_deref().map(Labels::parse).as_ref() == Some(name)
                        }
                        _ => false,
                    });
                if narrow {
                    issues.push(GrantIssue::NarrowGrant {
                        rule: text,
                        name: absolute.clone(),
                        at,
                    });
                } else {
                    let keys = wildcard_identity.then(|| {
                        signers
                            .iter()
                            .filter(|(s, _)| !s.principal && keyring.contains(&s.name))
                            .filter(|(s, _)| s.name.matches_wildcard(&rule.identity))
                            .map(|(s, _)| s.shown.clone())
                            .collect()
                    });
                    issues.push(GrantIssue::GrantWiderThanNeeded {
                        rule: text,
                        name: absolute.clone(),
                        names,
                        types,
                        keys,
                        at,
                    });
                }
            }
            None => {
                let mut records: Vec<String> = Vec::new();
                let granted: Vec<usize> = if external {
                    let types = configured
                        .get(index)
                        .map(|m| m.types.clone())
                        .unwrap_or_default();
                    (0..targets.len())
                        .filter(|&t| allows_type(&types, targets[t].rtype))
                        .collect()
                } else {
                    decided.iter().map(|s| s.target).collect()
                };
                for t in granted {
                    let shown = targets[t].shown();
                    if !records.contains(&shown) {
                        records.push(shown);
                    }
                }
                if !records.is_empty() {
                    issues.push(GrantIssue::RedirectGrant {
                        rule: text,
                        name: absolute.clone(),
                        records,
                        at,
                    });
                }
            }
        }
    }
}

fn dedup(issues: Vec<GrantIssue>) -> Vec<GrantIssue> {
    let mut seen = HashSet::with_capacity(issues.len());
    issues
        .into_iter()
        .filter(|issue| seen.insert(issue.clone()))
        .collect()
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
    use std::path::Path;

    fn conf(text: &str) -> NamedConf {
        NamedConf::parse_str(Path::new("/etc/bind/named.conf"), text)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The audits of `domains` in `text`, which named must load.
    fn audits(text: &str, domains: &[&str]) -> Vec<ZoneAudit> {
        let conf = conf(text);
        assert!(conf.loads(), "{:#?}", conf.rejections);
        audit_domains(&conf, domains)
    }

    fn issues(text: &str, domain: &str) -> Vec<GrantIssue> {
        audits(text, &[domain])
            .into_iter()
            .flat_map(|a| a.issues)
            .collect()
    }

    fn access(text: &str, domain: &str) -> Access {
        let found = audits(text, &[domain]);
        found
            .into_iter()
            .flat_map(|a| a.access)
            .map(|(_, access)| access)
            .next()
            .unwrap_or_default()
    }

    const KEYS: &str = "key k1 { algorithm hmac-sha256; secret \"aaaa\"; };\n\
                        key vk { algorithm hmac-sha256; secret \"aaaa\"; };\n\
                        key rndc-key { algorithm hmac-sha256; secret \"aaaa\"; };\n";

    fn zone_with(clause: &str) -> String {
        format!("{KEYS}zone \"d.example\" {{ type primary; file \"db\"; {clause} }};\n")
    }

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

    #[test]
    fn d1_acl_names_ignore_case() {
        let text = format!(
            "acl Open {{ any; }};\n{}",
            zone_with("allow-update { OPEN; };")
        );
        let found = issues(&text, "d.example");
        assert!(
            matches!(&found[..], [GrantIssue::AnyoneCanUpdate { via, .. }] if via == &["OPEN".to_string()]),
            "{found:#?}"
        );
        assert_eq!(access(&text, "d.example").verdict(), Verdict::Anyone);
    }

    #[test]
    fn d2_not_none_is_any() {
        let text = zone_with("allow-update { !none; };");
        let found = issues(&text, "d.example");
        assert!(
            matches!(&found[..], [GrantIssue::AnyoneCanUpdate { .. }]),
            "{found:#?}"
        );
    }

    #[test]
    fn d3_none_then_any_is_nobody() {
        let text = zone_with("allow-update { none; any; };");
        let found = issues(&text, "d.example");
        assert!(
            matches!(&found[..], [GrantIssue::NoGrant { .. }]),
            "{found:#?}"
        );
        assert_eq!(access(&text, "d.example").verdict(), Verdict::Nobody);
    }

    #[test]
    fn d4_a_keyed_view_is_its_key_holders() {
        let text = format!(
            "{KEYS}view keyed {{ match-clients {{ key vk; }}; zone \"d.example\" {{ type primary; file \"a\"; allow-update {{ any; }}; }}; }};\n\
             view rest {{ zone \"d.example\" {{ type primary; file \"b\"; }}; }};"
        );
        let found = audits(&text, &["d.example"]);
        let keyed = &found[0];
        assert_eq!(keyed.view.as_deref(), Some("keyed"));
        assert!(
            matches!(&keyed.issues[..], [GrantIssue::ViewKeyGrant { keys, view, .. }]
                if keys == &["vk".to_string()] && view == "keyed"),
            "{keyed:#?}"
        );
        let access = &keyed.access[0].1;
        assert_eq!(access.verdict(), Verdict::KeyHolders);
        assert_eq!(access.key_names(), ["vk"]);
        assert_eq!(access.unsigned, Some(Reach::Nobody));
    }

    #[test]
    fn d4_an_address_limited_view_is_not_everyone() {
        let text = format!(
            "{KEYS}view lan {{ match-clients {{ 10.0.0.0/8; }}; zone \"d.example\" {{ type primary; file \"a\"; allow-update {{ any; }}; }}; }};\n\
             view rest {{ zone \"d.example\" {{ type primary; file \"b\"; }}; }};"
        );
        let found = audits(&text, &["d.example"]);
        let lan = &found[0];
        assert!(
            matches!(&lan.issues[..], [GrantIssue::AddressOnlyGrant { element, limited_by: Some(why), .. }]
                if element == "any" && why.contains("view \"lan\"")),
            "{lan:#?}"
        );
        assert_eq!(lan.access[0].1.verdict(), Verdict::Addresses);
        // Keys do not help from elsewhere: the view takes them by address.
        assert_eq!(
            lan.access[0]
                .1
                .keys
                .iter()
                .map(|(_, r)| *r)
                .collect::<Vec<_>>(),
            [Reach::Some; 4]
        );
    }

    #[test]
    fn d5_a_star_identity_is_every_key() {
        let text = zone_with("update-policy { grant * name _vlmcs._tcp.d.example. SRV; };");
        let found = issues(&text, "d.example");
        assert!(
            matches!(&found[..], [GrantIssue::GrantWiderThanNeeded { names: NameScope::Exact, types: TypeScope::SrvOnly, keys: Some(keys), .. }]
                if keys == &["k1", "vk", "rndc-key", "local-ddns"]),
            "{found:#?}"
        );
        assert!(found[0].to_string().contains("rndc-key"), "{}", found[0]);
        let access = access(&text, "d.example");
        assert_eq!(access.key_names(), ["k1", "vk", "rndc-key", "local-ddns"]);
        assert_eq!(access.verdict(), Verdict::KeyHolders);
    }

    #[test]
    fn d6_redirecting_records_count() {
        let text = zone_with(
            "update-policy { grant k1 name _tcp.d.example. DNAME; grant vk subdomain d.example. NS; grant rndc-key name _vlmcs._tcp.d.example. CNAME; grant k1 name _vlmcs._tcp.d.example. A; };",
        );
        let found = issues(&text, "d.example");
        let redirects: Vec<(String, Vec<String>)> = found
            .iter()
            .filter_map(|i| match i {
                GrantIssue::RedirectGrant { rule, records, .. } => {
                    Some((rule.clone(), records.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            redirects,
            [
                (
                    "grant k1 name _tcp.d.example. DNAME".to_string(),
                    vec!["DNAME at _tcp.d.example.".to_string()]
                ),
                (
                    "grant vk subdomain d.example. NS".to_string(),
                    vec![
                        "NS at _vlmcs._tcp.d.example.".to_string(),
                        "NS at _tcp.d.example.".to_string(),
                        "NS at d.example.".to_string()
                    ]
                ),
                (
                    "grant rndc-key name _vlmcs._tcp.d.example. CNAME".to_string(),
                    vec!["CNAME at _vlmcs._tcp.d.example.".to_string()]
                ),
            ],
            "{found:#?}"
        );
        assert_eq!(found.len(), 3, "the A grant redirects nothing: {found:#?}");
        assert_eq!(
            access(&text, "d.example").key_names(),
            ["k1", "vk", "rndc-key"]
        );
    }

    #[test]
    fn escaped_zone_names_match() {
        let text = format!("{KEYS}zone \"\\099orp.example\" {{ type primary; file \"db\"; allow-update {{ any; }}; }};");
        let found = audits(&text, &["corp.example"]);
        assert_eq!(found[0].zone.as_deref(), Some("\\099orp.example"));
        assert!(
            matches!(&found[0].issues[..], [GrantIssue::AnyoneCanUpdate { .. }]),
            "{found:#?}"
        );
    }

    #[test]
    fn configurations_named_refuses_get_no_verdict() {
        let duplicate = format!(
            "{KEYS}zone \"d.example\" {{ type primary; file \"a\"; allow-update {{ any; }}; }};\n\
             zone \"D.Example.\" {{ type primary; file \"b\"; }};"
        );
        for text in [
            duplicate,
            zone_with(
                "update-policy { grant k1 zonesub ANY; }; update-policy { grant k1 zonesub ANY; };",
            ),
            format!("{}{}", "\u{feff}", zone_with("allow-update { any; };")),
            zone_with("allow-update { nosuch; };"),
        ] {
            let conf = conf(&text);
            assert!(!conf.loads(), "{text}");
            let found = audit_domains(&conf, &["d.example"]);
            assert_eq!(found.len(), 1);
            assert!(found[0].access.is_empty());
            assert!(
                found[0]
                    .issues
                    .iter()
                    .all(|i| matches!(i, GrantIssue::WillNotLoad { .. })),
                "{found:#?}"
            );
            assert!(found[0].issues[0]
                .to_string()
                .starts_with("named will not load this: "));
        }
    }

    #[test]
    fn dlz_zones_are_named_not_judged() {
        // Samba AD's BIND9_DLZ backend.
        let text = "dlz \"AD DNS Zone\" {\n    database \"dlopen /usr/lib/x86_64-linux-gnu/samba/bind9/dlz_bind9_18.so\";\n};\n";
        let found = audits(text, &["ad.example"]);
        assert!(
            matches!(&found[0].issues[..], [GrantIssue::DlzZone { dlz, database: Some(db), at, .. }]
                if dlz == "AD DNS Zone" && db.contains("dlz_bind9_18.so") && at.line == 1),
            "{found:#?}"
        );
        let message = found[0].issues[0].to_string();
        assert!(
            message.contains("served by a DLZ driver; its permissions are not in named.conf"),
            "{message}"
        );
    }

    #[test]
    fn domains_are_grouped_by_zone_in_order_of_first_appearance() {
        let zones: String = (0..300)
            .map(|i| format!("zone \"z{i}.example\" {{ type primary; file \"db{i}\"; }};\n"))
            .collect();
        let text = format!("{KEYS}{zones}");
        // Every zone once, backwards; a second domain in z7 and z0, a
        // duplicate, and two domains no zone holds, each audited alone.
        let mut domains: Vec<String> = (0..300).rev().map(|i| format!("z{i}.example")).collect();
        domains.extend(
            [
                "branch.z7.example",
                "z5.example",
                "a.nowhere",
                "branch.z0.example",
                "b.nowhere",
            ]
            .map(String::from),
        );
        let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
        let found = audits(&text, &domains);
        let zone_order: Vec<Option<&str>> = found.iter().map(|a| a.zone.as_deref()).collect();
        let expected: Vec<Option<String>> = (0..300)
            .rev()
            .map(|i| Some(format!("z{i}.example")))
            .chain([None, None])
            .collect();
        assert_eq!(
            zone_order,
            expected.iter().map(Option::as_deref).collect::<Vec<_>>()
        );
        let names = |zone: Option<&str>| {
            let audit = found.iter().find(|a| a.zone.as_deref() == zone).unwrap();
            audit.names.iter().map(String::as_str).collect::<Vec<_>>()
        };
        assert_eq!(
            names(Some("z7.example")),
            ["_vlmcs._tcp.z7.example.", "_vlmcs._tcp.branch.z7.example."]
        );
        assert_eq!(names(Some("z5.example")), ["_vlmcs._tcp.z5.example."]);
        assert_eq!(
            names(Some("z0.example")),
            ["_vlmcs._tcp.z0.example.", "_vlmcs._tcp.branch.z0.example."]
        );
        let nowhere: Vec<&[String]> = found
            .iter()
            .filter(|a| a.zone.is_none())
            .map(|a| a.names.as_slice())
            .collect();
        assert_eq!(
            nowhere,
            [["_vlmcs._tcp.a.nowhere."], ["_vlmcs._tcp.b.nowhere."]]
        );
    }

    #[test]
    fn every_primary_zone_when_no_domain_is_given() {
        let text = format!(
            "{KEYS}zone \"a.example\" {{ type primary; file \"a\"; allow-update {{ any; }}; }};\n\
             zone \"b.example\" {{ type primary; file \"b\"; update-policy {{ grant k1 name _vlmcs._tcp.branch.b.example. SRV; }}; }};\n\
             zone \"c.example\" {{ type secondary; file \"c\"; primaries {{ 192.0.2.1; }}; }};"
        );
        let conf = conf(&text);
        let found = audit_zones(&conf);
        let zones: Vec<(Option<&str>, Vec<&str>)> = found
            .iter()
            .map(|a| {
                (
                    a.zone.as_deref(),
                    a.names.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            zones,
            [
                (Some("a.example"), vec!["_vlmcs._tcp.a.example."]),
                (
                    Some("b.example"),
                    vec!["_vlmcs._tcp.b.example.", "_vlmcs._tcp.branch.b.example."]
                ),
            ]
        );
        assert!(found.iter().all(|a| !a.requested));
    }
}
