//! How named 9.18 decides one RFC 2136 UPDATE, step by step, from a
//! [`NamedConf`]: the static audit's verdicts are this decision taken for
//! every kind of client, and the differential test
//! (`tests/named_conf_live.rs`) checks it, request by request, against a
//! live named.
//!
//! The steps, with the BIND 9.18 code they follow:
//!
//! 1. **View** (`get_matching_view`, bin/named/server.c): the first view of
//!    class IN whose `match-clients` allows the source address and whose
//!    `match-destinations` allows the address the request was sent to;
//!    both see the request's TSIG key only when that view knows the key
//!    (its own `key` statements, the top-level ones, and the session key).
//!    A view with `match-recursive-only yes` never takes an UPDATE (its RD
//!    bit is clear). No view: REFUSED.
//! 2. **Zone** (`ns_update_start`, lib/ns/update.c): the zone of exactly
//!    the UPDATE's zone name in that view (an `in-view` zone is the other
//!    view's). None: NOTAUTH. A secondary forwards or refuses it; only a
//!    primary decides. A request signed with a key the view does not know
//!    gets NOTAUTH/BADKEY here.
//! 3. **allow-query** (`checkqueryacl`): a client that may not query the
//!    zone may not update it; nor may anyone when the zone has neither an
//!    `allow-update` (other than `none`) nor an `update-policy`.
//! 4. **allow-update** (`checkupdateacl`), inherited from the view and then
//!    `options` when the zone sets none: the list decides, with the key the
//!    request was signed with (see [`super::acl`]).
//! 5. **update-policy** (`dns_ssutable_checkrules`, lib/dns/ssu.c): an
//!    unsigned request over UDP is refused first; otherwise the first rule
//!    whose identity, name and type match decides, grant or deny. An
//!    identity with a `*` in front matches every signer below the rest of
//!    it (`*` alone: every key named knows); `self`, `selfsub`, `selfwild`
//!    compare the name with the signer's; the Kerberos types compare it
//!    with the machine of a `host/machine@REALM` or `MACHINE$@REALM`
//!    principal (`dst_gssapi_identitymatchesrealm*`), never a TSIG key;
//!    `tcp-self` and `6to4-self` compare it with the reverse name of the
//!    client's address, over TCP only; `local` (`update-policy local`) is
//!    the session key from the server's own addresses; an empty type list
//!    is every type but NS, SOA and RRSIG, `ANY` is every type.
//!
//! What is not in named.conf is assumed, and said so: an `external` rule's
//! daemon refuses (the rule is then reported as deciding who knows what),
//! `localhost`, `localnets` and `geoip` are sets of addresses the server
//! knows and named.conf does not, and DLZ zones decide for themselves.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::sync::Arc;

use super::acl::{AclCache, AclMatch, CompiledAcl, Endpoint, Origin};
use super::check::record_type;
use super::grants::AclSource;
use super::model::{NamedConf, RuleMode, RuleType, UpdatePolicy, View, Zone};
use super::name::Labels;
use super::zones::Zones;

/// The record types that matter to the audit.
pub(crate) const SRV: u16 = 33;
pub(crate) const NS: u16 = 2;
pub(crate) const CNAME: u16 = 5;
pub(crate) const DNAME: u16 = 39;
const SOA: u16 = 6;
const RRSIG: u16 = 46;
const ANY: u16 = 255;
const PTR: u16 = 12;

/// One UPDATE, as named sees it: one record to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    /// Where it comes from.
    pub source: Endpoint,
    /// The server address it was sent to.
    pub destination: Endpoint,
    /// The TSIG key (or GSS-TSIG principal) it is signed with, if any.
    pub signer: Option<String>,
    /// Sent over TCP.
    pub tcp: bool,
    /// The zone section.
    pub zone: String,
    /// The owner of the record.
    pub name: String,
    /// Its type (`SRV`, `NS`, `TYPE33`).
    pub rtype: String,
    /// The target of an SRV or PTR record.
    pub target: Option<String>,
}

/// What named does with a request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The view that took it (its name; `_default` without views).
    pub view: Option<String>,
    /// The outcome.
    pub outcome: Outcome,
}

impl Decision {
    /// True when named applies the update (or would, its prerequisites
    /// met).
    pub fn accepted(&self) -> bool {
        matches!(self.outcome, Outcome::Accepted(_))
    }
}

/// Accepted, and by what; or refused, and why.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Applied.
    Accepted(Grant),
    /// Not applied.
    Refused(Denial),
}

/// What let a request in.
#[derive(Debug, Clone)]
pub enum Grant {
    /// An element of `allow-update`.
    Acl {
        /// Which `allow-update` applied.
        source: AclSource,
        /// The element that matched.
        origin: Origin,
        /// Its place in the compiled list (lower: earlier).
        rank: i64,
    },
    /// The rule of `update-policy` at this index (`update-policy local`
    /// is rule 0).
    Rule(usize),
}

/// Why a request was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No view matches (REFUSED).
    NoView,
    /// The view has no zone of that name (NOTAUTH).
    NoZone,
    /// The zone is not a primary here.
    NotPrimary,
    /// The zone is served by a DLZ driver: named.conf does not say.
    Dlz,
    /// Signed with a key the view does not know (NOTAUTH, BADKEY).
    BadKey,
    /// `allow-query` refuses the client.
    QueryAcl,
    /// The zone takes no updates at all.
    NoUpdates,
    /// `allow-update` refuses the client.
    UpdateAcl,
    /// An `update-policy` zone refuses unsigned updates over UDP.
    Unsigned,
    /// This `deny` rule matched first.
    DenyRule(usize),
    /// No rule matched.
    NoRule,
    /// The name is not in the zone (NOTZONE).
    NotInZone,
}

/// Who a signer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signer {
    pub name: Labels,
    /// As it is shown (`kms-publisher`, `host/kms1.corp.example@CORP`).
    pub shown: String,
    /// A Kerberos principal (GSS-TSIG), not a key of named.conf.
    pub principal: bool,
}

/// A request in the form the decision reads.
#[derive(Debug, Clone)]
pub(crate) struct Request<'a> {
    pub source: Endpoint,
    pub destination: Endpoint,
    pub signer: Option<&'a Signer>,
    pub tcp: bool,
    pub zone: &'a Labels,
    pub name: &'a Labels,
    pub rtype: u16,
    pub target: Option<&'a Labels>,
}

/// A view as named holds it.
struct ServerView<'c> {
    view: Option<&'c View>,
    name: String,
    match_clients: Option<CompiledAcl>,
    match_destinations: Option<CompiledAcl>,
    takes_updates: bool,
    keyring: Vec<Labels>,
    zones: &'c Zones,
}

/// A zone as named holds it, its lists compiled.
pub(crate) struct ServerZone {
    pub zone: Arc<Zone>,
    /// Its name.
    pub name: Labels,
    pub update_acl: Option<(Rc<CompiledAcl>, AclSource)>,
    pub query_acl: Option<Rc<CompiledAcl>>,
    /// `update-policy` as rules (`local` made the rule BIND makes).
    pub rules: Option<Vec<Rule>>,
}

/// An `update-policy` rule as the decision reads it.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub grant: bool,
    pub identity: Labels,
    pub identity_text: String,
    pub kind: RuleKind,
    /// The name field (the zone for `zonesub` and `local`).
    pub name: Labels,
    /// Type numbers; `None` for a type named does not know (never
    /// matches). Empty: every type but NS, SOA and RRSIG.
    pub types: Vec<Option<u16>>,
}

/// The rule types, `local` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Configured(RuleType),
    Local,
}

/// What view selection sees of a request: source, destination, signer,
/// and whether the signer is a Kerberos principal.
type RequestKind = (Endpoint, Endpoint, Option<Labels>, bool);

/// How many built zones [`Server`] keeps.
const ZONE_CACHE: usize = 64;

/// A configuration as named would run it, for deciding requests.
pub struct Server<'c> {
    conf: &'c NamedConf,
    cache: RefCell<AclCache<'c>>,
    views: Vec<ServerView<'c>>,
    session_key: Option<Labels>,
    /// The zones built lately, by view and the hash of their name.
    zones: RefCell<HashMap<(usize, u64), Rc<ServerZone>>>,
    /// The view of each kind of request already seen (by source,
    /// destination, signer and principal-ness): the same for every zone.
    chosen: RefCell<HashMap<RequestKind, Option<(usize, bool)>>>,
}

impl<'c> Server<'c> {
    /// The server for `conf`. Meant for configurations named loads
    /// (`conf.rejections` empty); others decide as if the refused parts
    /// were absent.
    pub fn new(conf: &'c NamedConf) -> Server<'c> {
        let mut cache = AclCache::new(&conf.acls);
        let session_key = (!conf.options.session_key_disabled).then(|| {
            Labels::parse(
                conf.options
                    .session_keyname
                    .as_deref()
                    .unwrap_or("local-ddns"),
            )
        });
        let global_keys: Vec<Labels> = conf.keys.iter().map(|k| Labels::parse(&k.name)).collect();
        let ring = |view: Option<&View>| {
            let mut ring = global_keys.clone();
            if let Some(view) = view {
                ring.extend(view.keys.iter().map(|k| Labels::parse(&k.name)));
            }
            ring.extend(session_key.iter().cloned());
            ring
        };
        let views = if conf.views.is_empty() {
            vec![ServerView {
                view: None,
                name: "_default".into(),
                match_clients: None,
                match_destinations: None,
                takes_updates: true,
                keyring: ring(None),
                zones: &conf.zones,
            }]
        } else {
            conf.views
                .iter()
                .map(|view| ServerView {
                    view: Some(view),
                    name: view.name.clone(),
                    match_clients: view.match_clients.as_ref().map(|l| cache.compile(l)),
                    match_destinations: view.match_destinations.as_ref().map(|l| cache.compile(l)),
                    takes_updates: view.is_class_in() && !view.match_recursive_only,
                    keyring: ring(Some(view)),
                    zones: &view.zones,
                })
                .collect()
        };
        Server {
            conf,
            cache: RefCell::new(cache),
            views,
            session_key,
            zones: RefCell::new(HashMap::new()),
            chosen: RefCell::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn conf(&self) -> &'c NamedConf {
        self.conf
    }

    /// The index of the view named `name` (`None`: the default view when
    /// there are no views).
    pub(crate) fn view_index(&self, name: Option<&str>) -> Option<usize> {
        match name {
            None => self.views.iter().position(|v| v.view.is_none()),
            Some(name) => self
                .views
                .iter()
                .position(|v| v.view.is_some_and(|view| view.name == name)),
        }
    }

    /// The keys a view knows: its own, the top-level ones, the session key.
    pub(crate) fn keyring(&self, view: usize) -> &[Labels] {
        &self.views[view].keyring
    }

    /// The session key's name, when there is one.
    pub(crate) fn session_key(&self) -> Option<&Labels> {
        self.session_key.as_ref()
    }

    /// Decides `request` (names and types as text).
    pub fn decide(&self, request: &UpdateRequest) -> Decision {
        let signer = request.signer.as_deref().map(|s| Signer {
            name: Labels::parse(s),
            shown: s.to_string(),
            principal: s.contains('@'),
        });
        let zone = Labels::parse(&request.zone);
        let name = Labels::parse(&request.name);
        let target = request.target.as_deref().map(Labels::parse);
        let rtype = record_type(&request.rtype).unwrap_or(0);
        let (view, outcome) = self.decide_parsed(&Request {
            source: request.source,
            destination: request.destination,
            signer: signer.as_ref(),
            tcp: request.tcp,
            zone: &zone,
            name: &name,
            rtype,
            target: target.as_ref(),
        });
        Decision {
            view: view.map(|v| self.views[v].name.clone()),
            outcome,
        }
    }

    /// The view a request lands in, and whether the view knows its key.
    fn select_view(&self, request: &Request<'_>) -> Option<(usize, bool)> {
        let key = (
            request.source,
            request.destination,
            request.signer.map(|s| s.name.clone()),
            request.signer.is_some_and(|s| s.principal),
        );
        if let Some(found) = self.chosen.borrow().get(&key) {
            return *found;
        }
        let found = self.select_view_uncached(request);
        self.chosen.borrow_mut().insert(key, found);
        found
    }

    fn select_view_uncached(&self, request: &Request<'_>) -> Option<(usize, bool)> {
        for (index, view) in self.views.iter().enumerate() {
            if !view.takes_updates {
                continue;
            }
            // A GSS-TSIG principal is negotiated with the view itself.
            let known = request
                .signer
                .is_none_or(|s| s.principal || view.keyring.contains(&s.name));
            let signer = if known {
                request.signer.map(|s| &s.name)
            } else {
                None
            };
            let allowed = |acl: &Option<CompiledAcl>, endpoint: &Endpoint| {
                acl.as_ref()
                    .is_none_or(|acl| acl.matches(endpoint, signer).allowed())
            };
            if allowed(&view.match_clients, &request.source)
                && allowed(&view.match_destinations, &request.destination)
            {
                return Some((index, known));
            }
        }
        None
    }

    /// The zone of exactly `name` in view `view`.
    pub(crate) fn zone(&self, view: usize, name: &Labels) -> Option<Rc<ServerZone>> {
        // Asked for each request of an audit: the built zone is looked up
        // by the name's hash before the configuration's index is searched.
        let key = (view, name.key());
        if let Some(found) = self.zones.borrow().get(&key).filter(|z| z.name == *name) {
            return Some(Rc::clone(found));
        }
        let zones = self.views[view].zones;
        let at = zones
            .named(name)
            .into_iter()
            .find(|&at| zones.facts(at).is_some_and(|f| f.class_in))?;
        let zone = zones.get(at)?;
        let (zone, defining_view) = match &zone.in_view {
            Some(target) => {
                let position = self.conf.view_position(target)?;
                let target_view = self.conf.views.get(position)?;
                let shared = &target_view.zones;
                let at = shared
                    .named(name)
                    .into_iter()
                    .find(|&at| shared.facts(at).is_some_and(|f| !f.in_view))?;
                (shared.get(at)?, Some(target_view))
            }
            None => (zone, self.views[view].view),
        };
        let built = Rc::new(self.build_zone(zone, defining_view));
        let mut cache = self.zones.borrow_mut();
        // An audit asks about one zone many times, then moves on: the
        // zones of 100,000 audits kept were 70 MB.
        if cache.len() >= ZONE_CACHE {
            cache.clear();
        }
        cache.insert(key, Rc::clone(&built));
        Some(built)
    }

    fn build_zone(&self, zone: Arc<Zone>, view: Option<&'c View>) -> ServerZone {
        let mut cache = self.cache.borrow_mut();
        let update = zone
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
                self.conf
                    .options
                    .allow_update
                    .as_ref()
                    .map(|l| (l, AclSource::Options))
            });
        let query = zone
            .allow_query
            .as_ref()
            .or_else(|| view.and_then(|v| v.allow_query.as_ref()))
            .or(self.conf.options.allow_query.as_ref());
        let zone_name = Labels::parse(&zone.name);
        let rules = zone.update_policy.as_ref().map(|policy| match policy {
            UpdatePolicy::Local { .. } => self
                .session_key
                .iter()
                .map(|key| Rule {
                    grant: true,
                    identity: key.clone(),
                    identity_text: key.to_principal(),
                    kind: RuleKind::Local,
                    name: zone_name.clone(),
                    types: vec![Some(ANY)],
                })
                .collect(),
            UpdatePolicy::Rules(rules) => rules
                .iter()
                .map(|rule| Rule {
                    grant: rule.mode == RuleMode::Grant,
                    identity: Labels::parse(&rule.identity),
                    identity_text: rule.identity.clone(),
                    kind: RuleKind::Configured(rule.rule_type),
                    name: if rule.rule_type == RuleType::Zonesub {
                        zone_name.clone()
                    } else {
                        Labels::parse(rule.name.as_deref().unwrap_or("."))
                    },
                    types: rule
                        .types
                        .iter()
                        .map(|t| record_type(t.split('(').next().unwrap_or(t)))
                        .collect(),
                })
                .collect(),
        });
        let update_acl = update.map(|(list, source)| (Rc::new(cache.compile(list)), source));
        let query_acl = query.map(|l| Rc::new(cache.compile(l)));
        ServerZone {
            zone,
            name: zone_name.clone(),
            update_acl,
            query_acl,
            rules,
        }
    }

    /// The decision for a parsed request: the view index and the outcome.
    pub(crate) fn decide_parsed(&self, request: &Request<'_>) -> (Option<usize>, Outcome) {
        let Some((view, known)) = self.select_view(request) else {
            return (None, Outcome::Refused(Denial::NoView));
        };
        let Some(zone) = self.zone(view, request.zone) else {
            return (Some(view), Outcome::Refused(Denial::NoZone));
        };
        (Some(view), self.decide_in_zone(&zone, request, known))
    }

    /// Steps 2 to 5 in a zone.
    pub(crate) fn decide_in_zone(
        &self,
        zone: &ServerZone,
        request: &Request<'_>,
        known: bool,
    ) -> Outcome {
        if zone.zone.dlz.is_some() {
            return Outcome::Refused(Denial::Dlz);
        }
        if !zone.zone.is_primary() {
            return Outcome::Refused(Denial::NotPrimary);
        }
        if !known {
            return Outcome::Refused(Denial::BadKey);
        }
        let signer = request.signer.map(|s| &s.name);
        if let Some(query) = &zone.query_acl {
            if !query.matches(&request.source, signer).allowed() {
                return Outcome::Refused(Denial::QueryAcl);
            }
        }
        // `{ none; }` (dns_acl_isnone) refuses here too: the same answer.
        if zone.rules.is_none() && zone.update_acl.is_none() {
            return Outcome::Refused(Denial::NoUpdates);
        }
        let Some(rules) = &zone.rules else {
            let Some((acl, source)) = &zone.update_acl else {
                return Outcome::Refused(Denial::NoUpdates);
            };
            let found: AclMatch = acl.matches(&request.source, signer);
            return match (found.allowed(), found.origin) {
                (true, Some(origin)) => Outcome::Accepted(Grant::Acl {
                    source: source.clone(),
                    origin,
                    rank: found.value,
                }),
                _ => Outcome::Refused(Denial::UpdateAcl),
            };
        };
        if request.signer.is_none() && !request.tcp {
            return Outcome::Refused(Denial::Unsigned);
        }
        if !request.name.is_at_or_below(&zone.name) {
            return Outcome::Refused(Denial::NotInZone);
        }
        match check_rules(rules, request) {
            Some((index, true)) => Outcome::Accepted(Grant::Rule(index)),
            Some((index, false)) => Outcome::Refused(Denial::DenyRule(index)),
            None => Outcome::Refused(Denial::NoRule),
        }
    }

    /// The views in order, with their index.
    pub(crate) fn view_count(&self) -> usize {
        self.views.len()
    }

    /// The compiled `match-clients` and `match-destinations` of a view.
    pub(crate) fn view_acls(&self, view: usize) -> (Option<&CompiledAcl>, Option<&CompiledAcl>) {
        let v = &self.views[view];
        (v.match_clients.as_ref(), v.match_destinations.as_ref())
    }

    /// The view's name as shown.
    pub(crate) fn view_name(&self, view: usize) -> &str {
        &self.views[view].name
    }

    /// The view of the configuration behind an index.
    pub(crate) fn view_of(&self, view: usize) -> Option<&'c View> {
        self.views[view].view
    }
}

/// `dns_ssutable_checkrules`: the first rule that matches, and whether it
/// grants.
fn check_rules(rules: &[Rule], request: &Request<'_>) -> Option<(usize, bool)> {
    let signer = request.signer;
    let identity_matches = |rule: &Rule, who: &Labels| {
        if rule.identity.is_wildcard() {
            who.matches_wildcard(&rule.identity)
        } else {
            *who == rule.identity
        }
    };
    for (index, rule) in rules.iter().enumerate() {
        use RuleType as T;
        let kind = match rule.kind {
            RuleKind::Local => None,
            RuleKind::Configured(t) => Some(t),
        };
        // Who.
        match kind {
            None
            | Some(
                T::Name
                | T::SelfName
                | T::SelfSub
                | T::SelfWild
                | T::Subdomain
                | T::Zonesub
                | T::Wildcard,
            ) => {
                let Some(signer) = signer else { continue };
                if !identity_matches(rule, &signer.name) {
                    continue;
                }
            }
            Some(
                T::Krb5Self
                | T::MsSelf
                | T::Krb5SelfSub
                | T::MsSelfSub
                | T::Krb5Subdomain
                | T::MsSubdomain
                | T::Krb5SubdomainSelfRhs
                | T::MsSubdomainSelfRhs,
            ) => {
                if signer.is_none() {
                    continue;
                }
            }
            Some(T::TcpSelf | T::SixToFourSelf) => {
                if !request.tcp {
                    continue;
                }
            }
            Some(T::External) => {}
        }
        // Which names.
        let name = request.name;
        let matched = match kind {
            Some(T::Name) => *name == rule.name,
            Some(T::Subdomain | T::Zonesub) => name.is_at_or_below(&rule.name),
            None => name.is_at_or_below(&rule.name) && request.source.localhost,
            Some(T::Wildcard) => name.matches_wildcard(&rule.name),
            Some(T::SelfName) => signer.is_some_and(|s| s.name == *name),
            Some(T::SelfSub) => signer.is_some_and(|s| name.is_at_or_below(&s.name)),
            Some(T::SelfWild) => signer.is_some_and(|s| name.is_below(&s.name)),
            Some(T::Krb5Self) => krb5_matches(signer, Some(name), &rule.identity_text, false),
            Some(T::MsSelf) => ms_matches(signer, Some(name), &rule.identity_text, false),
            Some(T::Krb5SelfSub) => krb5_matches(signer, Some(name), &rule.identity_text, true),
            Some(T::MsSelfSub) => ms_matches(signer, Some(name), &rule.identity_text, true),
            Some(T::Krb5Subdomain | T::Krb5SubdomainSelfRhs) => {
                let rhs = kind == Some(T::Krb5SubdomainSelfRhs)
                    && (request.rtype == SRV || request.rtype == PTR);
                name.is_at_or_below(&rule.name)
                    && krb5_matches(
                        signer,
                        if rhs { request.target } else { None },
                        &rule.identity_text,
                        false,
                    )
            }
            Some(T::MsSubdomain | T::MsSubdomainSelfRhs) => {
                let rhs = kind == Some(T::MsSubdomainSelfRhs)
                    && (request.rtype == SRV || request.rtype == PTR);
                name.is_at_or_below(&rule.name)
                    && ms_matches(
                        signer,
                        if rhs { request.target } else { None },
                        &rule.identity_text,
                        false,
                    )
            }
            Some(T::TcpSelf) => {
                let own = reverse_name(&request.source.address);
                identity_matches(rule, &own) && own == *name
            }
            Some(T::SixToFourSelf) => {
                let own = six_to_four_name(&request.source.address);
                identity_matches(rule, &own) && own == *name
            }
            // The daemon is assumed to refuse: named then goes on.
            Some(T::External) => false,
        };
        if !matched {
            continue;
        }
        // Which types.
        let type_matches = if rule.types.is_empty() {
            !matches!(request.rtype, NS | SOA | RRSIG)
        } else {
            rule.types
                .iter()
                .any(|t| *t == Some(ANY) || *t == Some(request.rtype))
        };
        if !type_matches {
            continue;
        }
        return Some((index, rule.grant));
    }
    None
}

/// `dst_gssapi_identitymatchesrealmkrb5`: `host/MACHINE@REALM`, the realm
/// compared with case, the machine (when `name` is given) equal to it or,
/// for `subdomain`, above it.
fn krb5_matches(
    signer: Option<&Signer>,
    name: Option<&Labels>,
    realm: &str,
    subdomain: bool,
) -> bool {
    let Some(left) = principal_in_realm(signer, realm) else {
        return false;
    };
    let Some(("host", machine)) = left.split_once('/') else {
        return false;
    };
    machine_matches(name, || Labels::parse(machine), subdomain)
}

/// `dst_gssapi_identitymatchesrealmms`: `MACHINE$@REALM`, the machine's
/// name being `MACHINE.REALM`.
fn ms_matches(
    signer: Option<&Signer>,
    name: Option<&Labels>,
    realm: &str,
    subdomain: bool,
) -> bool {
    let Some(left) = principal_in_realm(signer, realm) else {
        return false;
    };
    let Some(machine) = left.strip_suffix('$') else {
        return false;
    };
    if machine.contains('$') {
        return false;
    }
    let realm = realm.trim_end_matches('.');
    machine_matches(
        name,
        || Labels::parse(&format!("{machine}.{realm}")),
        subdomain,
    )
}

/// The part of the signer's principal before `@REALM`, when it has one and
/// its realm is `realm` (compared with case, as BIND does).
fn principal_in_realm(signer: Option<&Signer>, realm: &str) -> Option<String> {
    let text = signer?.name.to_principal();
    let (left, signer_realm) = text.split_once('@')?;
    (signer_realm == realm.trim_end_matches('.')).then(|| left.to_owned())
}

/// Whether the rule's `name` (none: any) is the signer's machine, or for
/// `subdomain` at or below it.
fn machine_matches(
    name: Option<&Labels>,
    machine: impl FnOnce() -> Labels,
    subdomain: bool,
) -> bool {
    let Some(name) = name else { return true };
    let machine = machine();
    if subdomain {
        name.is_at_or_below(&machine)
    } else {
        *name == machine
    }
}

/// `reverse_from_address`: the in-addr.arpa / ip6.arpa name of an address.
pub(crate) fn reverse_name(address: &IpAddr) -> Labels {
    match address {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Labels::parse(&format!(
                "{}.{}.{}.{}.in-addr.arpa.",
                o[3], o[2], o[1], o[0]
            ))
        }
        IpAddr::V6(v6) => {
            let mut text = String::new();
            for byte in v6.octets().iter().rev() {
                text.push_str(&format!("{:x}.{:x}.", byte & 0x0f, byte >> 4));
            }
            text.push_str("ip6.arpa.");
            Labels::parse(&text)
        }
    }
}

/// `stf_from_address`: the 6to4 reverse name (2002::/16) of an address.
pub(crate) fn six_to_four_name(address: &IpAddr) -> Labels {
    let nibbles: Vec<u8> = match address {
        IpAddr::V4(v4) => {
            let l = u32::from(*v4);
            (0..8).map(|i| ((l >> (4 * i)) & 0xf) as u8).collect()
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let mut out = Vec::new();
            for byte in o[..6].iter().rev() {
                out.push(byte & 0x0f);
                out.push(byte >> 4);
            }
            out
        }
    };
    let mut text = String::new();
    for n in nibbles {
        text.push_str(&format!("{n:x}."));
    }
    text.push_str("2.0.0.2.ip6.arpa.");
    Labels::parse(&text)
}

/// The representative addresses of the space cut by `acls`: one per piece
/// in which every list matches alike, each family's first address included.
pub(crate) fn representatives(acls: &[&CompiledAcl]) -> Vec<IpAddr> {
    let mut cuts: BTreeSet<IpAddr> = BTreeSet::new();
    cuts.insert(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    cuts.insert(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    for acl in acls {
        acl.boundaries(&mut cuts);
    }
    cuts.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn conf(text: &str) -> NamedConf {
        NamedConf::parse_str(Path::new("t.conf"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn at(address: &str) -> Endpoint {
        Endpoint {
            address: address.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            localhost: false,
            localnets: false,
            geoip: false,
        }
    }

    fn request(
        source: &str,
        signer: Option<&str>,
        zone: &str,
        name: &str,
        rtype: &str,
    ) -> UpdateRequest {
        UpdateRequest {
            source: at(source),
            destination: at("192.0.2.53"),
            signer: signer.map(str::to_string),
            tcp: false,
            zone: zone.into(),
            name: name.into(),
            rtype: rtype.into(),
            target: Some("kms.invalid.".into()),
        }
    }

    const KEYS: &str = "key k1 { algorithm hmac-sha256; secret \"aaaa\"; };\n\
                        key vk { algorithm hmac-sha256; secret \"aaaa\"; };\n";

    #[test]
    fn keyed_view_lets_only_its_key_holders_in() {
        // D4: allow-update { any; } in a view only requests signed with vk reach.
        let conf = conf(&format!(
            "{KEYS}view keyed {{ match-clients {{ key vk; }}; zone \"d.example\" {{ type primary; file \"a\"; allow-update {{ any; }}; }}; }};\n\
             view rest {{ match-clients {{ any; }}; zone \"d.example\" {{ type primary; file \"b\"; }}; }};"
        ));
        let server = Server::new(&conf);
        let name = "_vlmcs._tcp.d.example";
        let d = server.decide(&request("10.0.0.1", Some("vk"), "d.example", name, "SRV"));
        assert!(d.accepted(), "{d:?}");
        assert_eq!(d.view.as_deref(), Some("keyed"));
        let d = server.decide(&request("10.0.0.1", None, "d.example", name, "SRV"));
        assert!(!d.accepted(), "{d:?}");
        assert_eq!(d.view.as_deref(), Some("rest"));
        let d = server.decide(&request("10.0.0.1", Some("k1"), "d.example", name, "SRV"));
        assert!(!d.accepted(), "{d:?}");
    }

    #[test]
    fn a_key_the_first_view_does_not_know_is_badkey_there() {
        let conf = conf(
            "key k1 { algorithm hmac-sha256; secret \"aaaa\"; };\n\
             view first { match-clients { any; }; zone \"d.example\" { type primary; file \"a\"; allow-update { any; }; }; };\n\
             view second { key only { algorithm hmac-sha256; secret \"aaaa\"; }; zone \"d.example\" { type primary; file \"b\"; allow-update { any; }; }; };"
        );
        let server = Server::new(&conf);
        let d = server.decide(&request(
            "10.0.0.1",
            Some("only"),
            "d.example",
            "d.example",
            "A",
        ));
        assert!(
            matches!(d.outcome, Outcome::Refused(Denial::BadKey)),
            "{d:?}"
        );
        assert_eq!(d.view.as_deref(), Some("first"));
    }

    #[test]
    fn star_matches_every_key_named_knows() {
        // D5.
        let conf = conf(&format!(
            "{KEYS}zone \"d.example\" {{ type primary; file \"a\"; update-policy {{ grant * name _vlmcs._tcp.d.example. SRV; }}; }};"
        ));
        let server = Server::new(&conf);
        for key in ["k1", "vk", "local-ddns"] {
            let d = server.decide(&request(
                "10.0.0.1",
                Some(key),
                "d.example",
                "_vlmcs._tcp.d.example",
                "SRV",
            ));
            assert!(d.accepted(), "{key}: {d:?}");
        }
        let d = server.decide(&request(
            "10.0.0.1",
            None,
            "d.example",
            "_vlmcs._tcp.d.example",
            "SRV",
        ));
        assert!(
            matches!(d.outcome, Outcome::Refused(Denial::Unsigned)),
            "{d:?}"
        );
    }

    #[test]
    fn first_rule_decides_and_types_default_to_user_types() {
        let conf = conf(&format!(
            "{KEYS}zone \"d.example\" {{ type primary; file \"a\"; update-policy {{\n\
               deny k1 name _vlmcs._tcp.d.example. SRV;\n\
               grant k1 zonesub;\n\
               grant vk subdomain d.example. ANY;\n\
             }}; }};"
        ));
        let server = Server::new(&conf);
        let decide =
            |key, name, t| server.decide(&request("10.0.0.1", Some(key), "d.example", name, t));
        assert!(!decide("k1", "_vlmcs._tcp.d.example", "SRV").accepted());
        // D6: the same key may still delegate or alias the name.
        assert!(decide("k1", "_vlmcs._tcp.d.example", "CNAME").accepted());
        assert!(decide("k1", "_tcp.d.example", "DNAME").accepted());
        // An empty type list is not NS.
        assert!(!decide("k1", "_vlmcs._tcp.d.example", "NS").accepted());
        assert!(decide("vk", "_vlmcs._tcp.d.example", "NS").accepted());
    }

    #[test]
    fn self_rules_tcp_self_and_kerberos() {
        let conf = conf(
            "key \"_vlmcs._tcp.d.example\" { algorithm hmac-sha256; secret \"aaaa\"; };\n\
             zone \"d.example\" { type primary; file \"a\"; update-policy {\n\
               grant * self * SRV;\n\
               grant R.EXAMPLE krb5-subdomain-self-rhs _vlmcs._tcp.d.example. SRV;\n\
               grant . tcp-self . SRV;\n\
             }; };\n\
             zone \"1.0.0.10.in-addr.arpa\" { type primary; file \"b\"; update-policy { grant * tcp-self . PTR; }; };",
        );
        let server = Server::new(&conf);
        let mut srv = request(
            "10.0.0.1",
            Some("_vlmcs._tcp.d.example"),
            "d.example",
            "_vlmcs._tcp.d.example",
            "SRV",
        );
        assert!(server.decide(&srv).accepted());
        srv.signer = Some("host/kms1.d.example@R.EXAMPLE".into());
        assert!(!server.decide(&srv).accepted(), "target is not the machine");
        srv.target = Some("kms1.d.example".into());
        assert!(server.decide(&srv).accepted());
        let mut ptr = request(
            "10.0.0.1",
            None,
            "1.0.0.10.in-addr.arpa",
            "1.0.0.10.in-addr.arpa",
            "PTR",
        );
        assert!(!server.decide(&ptr).accepted(), "UDP");
        ptr.tcp = true;
        assert!(server.decide(&ptr).accepted());
        ptr.source = at("10.0.0.2");
        assert!(!server.decide(&ptr).accepted());
    }

    #[test]
    fn update_policy_local_is_the_session_key_from_this_host() {
        let conf = conf("zone \"d.example\" { type primary; file \"a\"; update-policy local; };");
        let server = Server::new(&conf);
        let mut r = request(
            "127.0.0.1",
            Some("local-ddns"),
            "d.example",
            "_vlmcs._tcp.d.example",
            "SRV",
        );
        assert!(!server.decide(&r).accepted(), "not from localhost");
        r.source.localhost = true;
        assert!(server.decide(&r).accepted());
    }

    #[test]
    fn allow_query_gates_updates() {
        let conf = conf("zone \"d.example\" { type primary; file \"a\"; allow-query { 10.0.0.0/8; }; allow-update { any; }; };");
        let server = Server::new(&conf);
        assert!(server
            .decide(&request("10.0.0.1", None, "d.example", "d.example", "A"))
            .accepted());
        assert!(!server
            .decide(&request("192.0.2.1", None, "d.example", "d.example", "A"))
            .accepted());
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name(
                &"10.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            )
            .to_absolute(),
            "1.0.0.10.in-addr.arpa."
        );
        assert_eq!(
            six_to_four_name(
                &"1.2.3.4"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            )
            .to_absolute(),
            "4.0.3.0.2.0.1.0.2.0.0.2.ip6.arpa."
        );
    }
}
