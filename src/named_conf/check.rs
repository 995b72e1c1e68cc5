//! What named checks when it loads a configuration (`bind9_check_namedconf`
//! and the parser, BIND 9.18), for the parts the update audit reads: a
//! configuration named refuses to load grants nothing, so the audit gives
//! no verdict on its grants and says why named will not load it instead.
//!
//! Checked, each with the place named would name:
//! - a file starting with a UTF-8 byte order mark (named reads it as part
//!   of the first word: "unknown option");
//! - a single-valued clause given twice (`'update-policy' redefined`): every
//!   zone clause, `options` and `logging` at the top, and the `options` and
//!   `view` clauses the audit reads;
//! - zones outside views once views are used; the same zone twice in a view
//!   (names compared as DNS names, `\099orp` is `corp`); a zone without
//!   `type`; `allow-update` or `update-policy` in a zone that is not a
//!   primary; both in one zone;
//! - `update-policy` rules as `check_update_policy` checks them: the name
//!   field of `wildcard` must be a wildcard, of `self*` the identity or `.`,
//!   of the Kerberos `*-self*`, `tcp-self` and `6to4-self` types `.`; a name
//!   field that is a record type means it was left out; every type must be
//!   one named knows;
//! - ACLs: two with one name (names compare ignoring case), a built-in
//!   (`any`, `none`, `localhost`, `localnets`) redefined, and, in every
//!   address match list named converts (`allow-*`, `match-*`, `blackhole`,
//!   …), a reference to an ACL that does not exist or a loop of ACLs. An
//!   ACL that nothing uses is not converted, so not checked, as in named;
//!   a chain of references has no depth limit;
//! - addresses: an address with bits set beyond its prefix length
//!   (`10.0.0.1/8`), an incomplete one (`10.1` without a length);
//! - keys: two with one name (top level and views share one namespace per
//!   view), a key without algorithm or secret, an unknown algorithm;
//! - two views with one name (compared with case, as named does).
//!
//! Not checked: the many options the audit does not read; named would
//! refuse an unknown or misspelt one, kmsdns reads past it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::acl::parse_prefix;
use super::model::{
    AddressMatchList, ElementKind, NamedConf, RuleType, UpdatePolicy, UpdateRule, View, Zone,
};
use super::name::Labels;
use super::syntax::Statement;
use super::zones::Zones;
use super::Location;

/// A reason named refuses to load the configuration, and where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// Where named would point.
    pub at: Location,
    /// Why.
    pub refusal: Refusal,
}

/// Why named refuses to load a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The file starts with a UTF-8 byte order mark.
    ByteOrderMark,
    /// A single-valued clause appears twice.
    Redefined {
        /// The clause.
        clause: String,
    },
    /// Zones outside views while views are used.
    ZoneOutsideViews,
    /// The same zone twice in one view (or without views).
    DuplicateZone {
        /// The zone as written the second time.
        zone: String,
        /// The first definition.
        previous: Location,
    },
    /// A zone without `type` (and without `in-view`).
    ZoneWithoutType {
        /// The zone.
        zone: String,
    },
    /// An option a zone of this type does not take.
    OptionNotAllowed {
        /// The option.
        option: String,
        /// The zone type as written.
        zone_type: String,
        /// The zone.
        zone: String,
    },
    /// `allow-update` and `update-policy` in one zone.
    AllowUpdateWithPolicy {
        /// The zone.
        zone: String,
    },
    /// An `update-policy` rule named refuses.
    BadRule {
        /// What named says about it.
        message: String,
    },
    /// An ACL is defined twice.
    DuplicateAcl {
        /// The second name as written.
        acl: String,
        /// The first definition.
        previous: Location,
    },
    /// A built-in ACL is redefined.
    BuiltinAcl {
        /// The name.
        acl: String,
    },
    /// An address match list refers to an ACL that does not exist.
    UndefinedAcl {
        /// The name as written.
        acl: String,
    },
    /// ACLs refer to each other in a loop.
    AclLoop {
        /// The ACL names of the loop, the repeated one first and last.
        chain: Vec<String>,
    },
    /// An address or prefix named refuses.
    BadAddress {
        /// The element as written.
        element: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A key is defined twice where one namespace holds both.
    DuplicateKey {
        /// The second name as written.
        key: String,
        /// The first definition.
        previous: Location,
    },
    /// A key without algorithm or secret.
    IncompleteKey {
        /// The key.
        key: String,
    },
    /// A key with an algorithm named does not know.
    UnknownAlgorithm {
        /// The algorithm as written.
        algorithm: String,
    },
    /// Two views with one name.
    DuplicateView {
        /// The view.
        view: String,
        /// The first definition.
        previous: Location,
    },
}

impl fmt::Display for Refusal {
    /// named's own words where it has them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ByteOrderMark => f.write_str(
                "the file starts with a UTF-8 byte order mark, which named reads as part of the first word (unknown option)",
            ),
            Refusal::Redefined { clause } => write!(f, "'{clause}' redefined"),
            Refusal::ZoneOutsideViews => {
                f.write_str("when using 'view' statements, all zones must be in views")
            }
            Refusal::DuplicateZone { zone, previous } => {
                write!(f, "zone '{zone}': already exists previous definition: {previous}")
            }
            Refusal::ZoneWithoutType { zone } => write!(f, "zone '{zone}': type not present"),
            Refusal::OptionNotAllowed {
                option,
                zone_type,
                zone,
            } => write!(
                f,
                "option '{option}' is not allowed in '{zone_type}' zone '{zone}'"
            ),
            Refusal::AllowUpdateWithPolicy { zone } => write!(
                f,
                "zone '{zone}': 'allow-update' is ignored when 'update-policy' is present"
            ),
            Refusal::BadRule { message } => write!(f, "update-policy: {message}"),
            Refusal::DuplicateAcl { acl, previous } => {
                write!(f, "attempt to redefine acl '{acl}' previous definition: {previous}")
            }
            Refusal::BuiltinAcl { acl } => write!(f, "attempt to redefine builtin acl '{acl}'"),
            Refusal::UndefinedAcl { acl } => write!(f, "undefined ACL '{acl}'"),
            Refusal::AclLoop { chain } => {
                write!(f, "acl loop detected: {}", chain.join(" → "))
            }
            Refusal::BadAddress { element, problem } => write!(f, "'{element}': {problem}"),
            Refusal::DuplicateKey { key, previous } => {
                write!(f, "key '{key}': already exists previous definition: {previous}")
            }
            Refusal::IncompleteKey { key } => {
                write!(f, "key '{key}' must have both 'secret' and 'algorithm' defined")
            }
            Refusal::UnknownAlgorithm { algorithm } => {
                write!(f, "unknown algorithm '{algorithm}'")
            }
            Refusal::DuplicateView { view, previous } => {
                write!(f, "view '{view}': already exists previous definition: {previous}")
            }
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: named will not load this: {}", self.at, self.refusal)
    }
}

fn reject(out: &mut Vec<Rejection>, at: &Location, refusal: Refusal) {
    out.push(Rejection {
        at: at.clone(),
        refusal,
    });
}

/// What the load checks read in the statements themselves rather than in
/// the model, noted as each top-level statement is read so that the
/// statement tree is never kept whole (it was 150 MB for 100,000 zones):
/// clauses given twice, and the address match lists named converts, for
/// the ACL references.
#[derive(Debug, Default)]
pub(crate) struct StatementChecks {
    /// The top-level single clauses seen (`options`, `logging`).
    top: HashSet<String>,
    /// A top-level single clause given again.
    top_redefined: Vec<Rejection>,
    /// A clause given twice inside a statement, in order.
    inner_redefined: Vec<Rejection>,
    /// The lists of the first `options` statement.
    options: Option<Clauses>,
    /// The lists of the zones outside views (the one scope without views).
    top_zones: ZoneLists,
    /// The lists of each view, and of its zones.
    views: Vec<(Clauses, ZoneLists)>,
    /// What named refuses in each zone by itself, by scope (0: outside
    /// views, i + 1: view i) and the zone's place in it: checked as the
    /// zone is read, while its model is at hand.
    zones: Vec<Vec<(usize, Rejection)>>,
}

/// The address match lists of a block that [`acl_references`] reads, by
/// clause: the first statement of each clause, as named takes it.
type Clauses = Vec<(&'static str, AddressMatchList)>;

/// The lists of the zones of one scope.
#[derive(Debug, Default)]
struct ZoneLists {
    /// Every list the zones set themselves, in order.
    own: Vec<AddressMatchList>,
    /// For each clause of [`ZONE_LISTS`], whether some zone sets none and
    /// so inherits it.
    inherits: [bool; ZONE_LISTS.len()],
}

impl ZoneLists {
    fn add(&mut self, zone: &[Statement]) {
        for (index, clause) in ZONE_LISTS.iter().enumerate() {
            match clause_list(zone, clause) {
                // A list without ACL names or addresses named refuses
                // (`{ key k; }`, most zones' lists) changes nothing in the
                // walk: not kept, for 100,000 zones.
                Some(list) if may_refuse(&list) => self.own.push(list),
                Some(_) => {}
                None => self.inherits[index] = true,
            }
        }
    }

    fn add_all(&mut self, statements: &[Statement]) {
        for zone in zone_blocks(statements) {
            self.add(zone);
        }
    }
}

impl StatementChecks {
    /// Notes what the checks need of one top-level statement.
    pub(crate) fn note(&mut self, statement: &Statement) {
        self.note_redefined(statement);
        let block = statement.block().map_or(&[][..], |b| &b.statements[..]);
        if statement.is("options") && self.options.is_none() {
            self.options = Some(clauses(block));
        } else if statement.is("view") {
            let mut zones = ZoneLists::default();
            zones.add_all(block);
            self.views.push((clauses(block), zones));
        } else if statement.is("zone") && statement.block().is_some() {
            self.top_zones.add(block);
        }
    }

    /// Checks the zone at `position` of `scope` by itself, as named does.
    pub(crate) fn zone(&mut self, scope: usize, position: usize, zone: &Zone) {
        if self.zones.len() <= scope {
            self.zones.resize_with(scope + 1, Vec::new);
        }
        let mut found = Vec::new();
        zone_options(zone, &mut found);
        self.zones[scope].extend(found.into_iter().map(|r| (position, r)));
    }

    /// Clauses named takes once: a second one is "'X' redefined".
    fn note_redefined(&mut self, statement: &Statement) {
        const TOP: &[&str] = &["options", "logging"];
        const OPTIONS: &[&str] = &[
            "directory",
            "allow-update",
            "allow-query",
            "session-keyname",
            "session-keyfile",
            "session-keyalg",
            "recursion",
            "port",
        ];
        const VIEW: &[&str] = &[
            "match-clients",
            "match-destinations",
            "match-recursive-only",
            "allow-update",
            "allow-query",
            "recursion",
        ];
        let single = |k: &str| TOP.iter().any(|t| t.eq_ignore_ascii_case(k));
        once_more(&mut self.top, statement, single, &mut self.top_redefined);
        let Some(block) = statement.block() else {
            return;
        };
        let out = &mut self.inner_redefined;
        if statement.is("options") {
            once(
                &block.statements,
                |k| OPTIONS.iter().any(|t| t.eq_ignore_ascii_case(k)),
                out,
            );
        } else if statement.is("view") {
            once(
                &block.statements,
                |k| VIEW.iter().any(|t| t.eq_ignore_ascii_case(k)),
                out,
            );
            for inner in &block.statements {
                if inner.is("zone") {
                    zone_clauses(inner, out);
                }
            }
        } else if statement.is("zone") {
            zone_clauses(statement, out);
        }
    }
}

/// The lists of `statements` that [`acl_references`] may read.
fn clauses(statements: &[Statement]) -> Clauses {
    let mut out: Clauses = Vec::new();
    for clause in VIEW_LISTS.iter().chain(ZONE_LISTS) {
        if out.iter().any(|(c, _)| c == clause) {
            continue;
        }
        if let Some(list) = clause_list(statements, clause) {
            out.push((clause, list));
        }
    }
    out
}

/// The list of `clause` among `clauses`.
fn clause_in<'a>(clauses: &'a Clauses, clause: &str) -> Option<&'a AddressMatchList> {
    clauses.iter().find(|(c, _)| *c == clause).map(|(_, l)| l)
}

/// Every reason named would refuse `conf` that kmsdns knows of, in the
/// order of the configuration; `statements` is what was noted of its
/// statements as they were read.
pub(crate) fn load_checks(conf: &NamedConf, mut statements: StatementChecks) -> Vec<Rejection> {
    let mut out = Vec::new();
    out.extend(statements.top_redefined.iter().cloned());
    out.extend(statements.inner_redefined.iter().cloned());
    if !conf.views.is_empty() {
        if let Some(at) = conf.zones.at(0) {
            reject(&mut out, at, Refusal::ZoneOutsideViews);
        }
    }
    duplicate_views(&conf.views, &mut out);
    keys(conf, &mut out);
    acls(conf, &mut out);
    let mut own = |scope: usize| {
        statements
            .zones
            .get_mut(scope)
            .map(std::mem::take)
            .unwrap_or_default()
    };
    if conf.views.is_empty() {
        zones(&conf.zones, own(0), &mut out);
    }
    for (position, view) in conf.views.iter().enumerate() {
        zones(&view.zones, own(position + 1), &mut out);
    }
    acl_references(conf, &statements, &mut out);
    out
}

fn zone_clauses(zone: &Statement, out: &mut Vec<Rejection>) {
    // Every zone clause of BIND 9.18 is single-valued.
    if let Some(block) = zone.block() {
        once(&block.statements, |_| true, out);
    }
}

fn once(statements: &[Statement], single: impl Fn(&str) -> bool, out: &mut Vec<Rejection>) {
    let mut seen: HashSet<String> = HashSet::new();
    for statement in statements {
        once_more(&mut seen, statement, &single, out);
    }
}

/// Notes `statement` among the clauses `seen` so far, and rejects it when
/// it is a `single` clause seen before.
fn once_more(
    seen: &mut HashSet<String>,
    statement: &Statement,
    single: impl Fn(&str) -> bool,
    out: &mut Vec<Rejection>,
) {
    let Some(keyword) = statement.keyword().filter(|w| !w.quoted) else {
        return;
    };
    if !single(&keyword.text) {
        return;
    }
    if !seen.insert(keyword.text.to_ascii_lowercase()) {
        reject(
            out,
            &keyword.at,
            Refusal::Redefined {
                clause: keyword.text.clone(),
            },
        );
    }
}

fn duplicate_views(views: &[View], out: &mut Vec<Rejection>) {
    let mut seen: HashMap<&str, &Location> = HashMap::new();
    for view in views {
        match seen.get(view.name.as_str()) {
            Some(previous) => reject(
                out,
                &view.at,
                Refusal::DuplicateView {
                    view: view.name.clone(),
                    previous: (*previous).clone(),
                },
            ),
            None => {
                seen.insert(&view.name, &view.at);
            }
        }
    }
}

/// The HMAC algorithms of a BIND 9.18 `key` (and their truncated forms).
pub(crate) fn known_algorithm(text: &str) -> bool {
    const ALGORITHMS: &[&str] = &[
        "hmac-md5",
        "hmac-md5.sig-alg.reg.int",
        "hmac-md5.sig-alg.reg.int.",
        "hmac-sha1",
        "hmac-sha224",
        "hmac-sha256",
        "hmac-sha384",
        "hmac-sha512",
    ];
    let lower = text.to_ascii_lowercase();
    if ALGORITHMS.contains(&lower.as_str()) {
        return true;
    }
    // `hmac-sha256-128`: truncated to that many bits.
    match lower.rsplit_once('-') {
        Some((base, bits)) => {
            ALGORITHMS.contains(&base)
                && !bits.is_empty()
                && bits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn keys(conf: &NamedConf, out: &mut Vec<Rejection>) {
    let all_keys = conf
        .keys
        .iter()
        .chain(conf.views.iter().flat_map(|v| v.keys.iter()));
    for key in all_keys {
        match &key.algorithm {
            Some(algorithm) if key.has_secret => {
                if !known_algorithm(algorithm) {
                    reject(
                        out,
                        &key.at,
                        Refusal::UnknownAlgorithm {
                            algorithm: algorithm.clone(),
                        },
                    );
                }
            }
            _ => reject(
                out,
                &key.at,
                Refusal::IncompleteKey {
                    key: key.name.clone(),
                },
            ),
        }
    }
    // The top-level keys and those of each view share one keyring.
    let mut top: HashMap<Labels, &Location> = HashMap::new();
    for key in &conf.keys {
        duplicate_key(&mut top, key, out);
    }
    for view in &conf.views {
        let mut ring = top.clone();
        for key in &view.keys {
            duplicate_key(&mut ring, key, out);
        }
    }
}

fn duplicate_key<'a>(
    ring: &mut HashMap<Labels, &'a Location>,
    key: &'a super::model::Key,
    out: &mut Vec<Rejection>,
) {
    let name = Labels::parse(&key.name);
    match ring.get(&name) {
        Some(previous) => reject(
            out,
            &key.at,
            Refusal::DuplicateKey {
                key: key.name.clone(),
                previous: (*previous).clone(),
            },
        ),
        None => {
            ring.insert(name, &key.at);
        }
    }
}

fn acls(conf: &NamedConf, out: &mut Vec<Rejection>) {
    let mut seen: HashMap<String, &Location> = HashMap::new();
    for acl in &conf.acls {
        let lower = acl.name.to_ascii_lowercase();
        if ["any", "none", "localhost", "localnets"].contains(&lower.as_str()) {
            reject(
                out,
                &acl.at,
                Refusal::BuiltinAcl {
                    acl: acl.name.clone(),
                },
            );
            continue;
        }
        match seen.get(&lower) {
            Some(previous) => reject(
                out,
                &acl.at,
                Refusal::DuplicateAcl {
                    acl: acl.name.clone(),
                    previous: (*previous).clone(),
                },
            ),
            None => {
                seen.insert(lower, &acl.at);
            }
        }
    }
}

/// The zones defined twice in one scope, and `own`, what each zone's own
/// checks found: for each zone in order, its duplicate first.
fn zones(zones: &Zones, own: Vec<(usize, Rejection)>, out: &mut Vec<Rejection>) {
    // Only zones whose names share a hash can be one zone twice: those
    // are modelled, not 100,000.
    let mut found: Vec<(usize, bool, Rejection)> = Vec::new();
    for run in zones.same_hash() {
        let mut seen: HashMap<(Labels, String), Location> = HashMap::new();
        for position in run {
            let Some(zone) = zones.get(position) else {
                continue;
            };
            let class = zone
                .class
                .clone()
                .unwrap_or_else(|| "in".into())
                .to_ascii_lowercase();
            let key = (Labels::parse(&zone.name), class);
            match seen.get(&key) {
                Some(previous) => found.push((
                    position,
                    false,
                    Rejection {
                        at: zone.at.clone(),
                        refusal: Refusal::DuplicateZone {
                            zone: zone.name.clone(),
                            previous: previous.clone(),
                        },
                    },
                )),
                None => {
                    seen.insert(key, zone.at.clone());
                }
            }
        }
    }
    found.extend(own.into_iter().map(|(position, r)| (position, true, r)));
    // Stable: a zone's own rejections stay in their order.
    found.sort_by_key(|(position, own, _)| (*position, *own));
    out.extend(found.into_iter().map(|(_, _, r)| r));
}

/// True when walking `list` can find something named refuses: it names an
/// ACL, or holds an address named refuses.
fn may_refuse(list: &AddressMatchList) -> bool {
    list.elements.iter().any(|element| match &element.kind {
        ElementKind::Acl(_) => true,
        ElementKind::Address(text) => parse_prefix(text).is_err(),
        ElementKind::List(inner) => may_refuse(inner),
        _ => false,
    })
}

fn zone_options(zone: &Zone, out: &mut Vec<Rejection>) {
    if zone.in_view.is_some() {
        return;
    }
    let Some(zone_type) = &zone.zone_type else {
        reject(
            out,
            &zone.at,
            Refusal::ZoneWithoutType {
                zone: zone.name.clone(),
            },
        );
        return;
    };
    if !zone.is_primary() {
        let not_allowed = |option: &str, at: &Location, out: &mut Vec<Rejection>| {
            reject(
                out,
                at,
                Refusal::OptionNotAllowed {
                    option: option.to_string(),
                    zone_type: zone_type.clone(),
                    zone: zone.name.clone(),
                },
            )
        };
        if let Some(list) = &zone.allow_update {
            not_allowed("allow-update", &list.at, out);
        }
        if let Some(policy) = &zone.update_policy {
            not_allowed("update-policy", policy_at(policy, &zone.at), out);
        }
        return;
    }
    if zone.allow_update.is_some() {
        if let Some(policy) = &zone.update_policy {
            reject(
                out,
                policy_at(policy, &zone.at),
                Refusal::AllowUpdateWithPolicy {
                    zone: zone.name.clone(),
                },
            );
        }
    }
    if let Some(UpdatePolicy::Rules(rules)) = &zone.update_policy {
        for rule in rules {
            if let Some(message) = rule_problem(rule) {
                reject(out, &rule.at, Refusal::BadRule { message });
            }
        }
    }
}

fn policy_at<'a>(policy: &'a UpdatePolicy, zone: &'a Location) -> &'a Location {
    match policy {
        UpdatePolicy::Local { at } => at,
        UpdatePolicy::Rules(rules) => rules.first().map_or(zone, |r| &r.at),
    }
}

/// What `check_update_policy` refuses in one rule.
fn rule_problem(rule: &UpdateRule) -> Option<String> {
    let name = rule.name.as_deref().unwrap_or(".");
    let name_labels = Labels::parse(name);
    match rule.rule_type {
        RuleType::Wildcard if !name_labels.is_wildcard() => {
            return Some(format!("'{name}' is not a wildcard"))
        }
        RuleType::SelfName | RuleType::SelfSub | RuleType::SelfWild => {
            if name_labels != Labels::parse(&rule.identity) && !name_labels.is_root() {
                return Some("identity and name fields are not the same".into());
            }
        }
        RuleType::Krb5Self
        | RuleType::MsSelf
        | RuleType::Krb5SelfSub
        | RuleType::MsSelfSub
        | RuleType::TcpSelf
        | RuleType::SixToFourSelf => {
            if !name_labels.is_root() {
                return Some("name field not set to placeholder value '.'".into());
            }
        }
        _ => {
            if rule.rule_type != RuleType::Zonesub && record_type(name).is_some() {
                return Some(format!("missing name field type '{name}' found"));
            }
        }
    }
    for t in &rule.types {
        let (base, count) = match t.split_once('(') {
            Some((base, rest)) => (base, Some(rest)),
            None => (t.as_str(), None),
        };
        if let Some(count) = count {
            let valid = count
                .strip_suffix(')')
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= 0xffff);
            if !valid {
                return Some(format!("'({count}' is not a valid count"));
            }
        }
        if record_type(base).is_none() {
            return Some(format!("'{base}' is not a valid type"));
        }
    }
    None
}

/// The number of a record type mnemonic as `dns_rdatatype_fromtext`
/// reads it (any case, or `TYPEnnn`).
pub(crate) fn record_type(text: &str) -> Option<u16> {
    const TYPES: &[(&str, u16)] = &[
        ("A", 1),
        ("NS", 2),
        ("MD", 3),
        ("MF", 4),
        ("CNAME", 5),
        ("SOA", 6),
        ("MB", 7),
        ("MG", 8),
        ("MR", 9),
        ("NULL", 10),
        ("WKS", 11),
        ("PTR", 12),
        ("HINFO", 13),
        ("MINFO", 14),
        ("MX", 15),
        ("TXT", 16),
        ("RP", 17),
        ("AFSDB", 18),
        ("X25", 19),
        ("ISDN", 20),
        ("RT", 21),
        ("NSAP", 22),
        ("NSAP-PTR", 23),
        ("SIG", 24),
        ("KEY", 25),
        ("PX", 26),
        ("GPOS", 27),
        ("AAAA", 28),
        ("LOC", 29),
        ("NXT", 30),
        ("EID", 31),
        ("NIMLOC", 32),
        ("SRV", 33),
        ("ATMA", 34),
        ("NAPTR", 35),
        ("KX", 36),
        ("CERT", 37),
        ("A6", 38),
        ("DNAME", 39),
        ("SINK", 40),
        ("OPT", 41),
        ("APL", 42),
        ("DS", 43),
        ("SSHFP", 44),
        ("IPSECKEY", 45),
        ("RRSIG", 46),
        ("NSEC", 47),
        ("DNSKEY", 48),
        ("DHCID", 49),
        ("NSEC3", 50),
        ("NSEC3PARAM", 51),
        ("TLSA", 52),
        ("SMIMEA", 53),
        ("HIP", 55),
        ("NINFO", 56),
        ("RKEY", 57),
        ("TALINK", 58),
        ("CDS", 59),
        ("CDNSKEY", 60),
        ("OPENPGPKEY", 61),
        ("CSYNC", 62),
        ("ZONEMD", 63),
        ("SVCB", 64),
        ("HTTPS", 65),
        ("SPF", 99),
        ("UINFO", 100),
        ("UID", 101),
        ("GID", 102),
        ("UNSPEC", 103),
        ("NID", 104),
        ("L32", 105),
        ("L64", 106),
        ("LP", 107),
        ("EUI48", 108),
        ("EUI64", 109),
        ("TKEY", 249),
        ("TSIG", 250),
        ("IXFR", 251),
        ("AXFR", 252),
        ("MAILB", 253),
        ("MAILA", 254),
        ("ANY", 255),
        ("URI", 256),
        ("CAA", 257),
        ("AVC", 258),
        ("DOA", 259),
        ("AMTRELAY", 260),
        ("TA", 32768),
        ("DLV", 32769),
        ("KEYDATA", 65533),
    ];
    if let Some((_, number)) = TYPES.iter().find(|(t, _)| t.eq_ignore_ascii_case(text)) {
        return Some(*number);
    }
    let prefix = text.get(..4)?;
    let rest = text.get(4..)?;
    if !prefix.eq_ignore_ascii_case("TYPE") || rest.is_empty() {
        return None;
    }
    rest.parse::<u16>().ok()
}

/// The lists `check_viewconf` converts for each view (or once, without
/// views), taken from the view, else from `options`.
const VIEW_LISTS: &[&str] = &[
    "allow-query",
    "allow-query-on",
    "allow-query-cache",
    "allow-query-cache-on",
    "blackhole",
    "keep-response-order",
    "match-clients",
    "match-destinations",
];

/// The lists `check_zoneconf` converts for each zone, taken from the zone,
/// else its view, else `options` (named converts a zone's own `allow-query`
/// when it configures the zone).
const ZONE_LISTS: &[&str] = &[
    "allow-notify",
    "allow-transfer",
    "allow-update",
    "allow-update-forwarding",
    "allow-query",
];

/// The blocks of the zone statements among `statements`.
fn zone_blocks(statements: &[Statement]) -> Vec<&[Statement]> {
    statements
        .iter()
        .filter(|s| s.is("zone"))
        .filter_map(|s| s.block())
        .map(|b| &b.statements[..])
        .collect()
}

/// The address match list of clause `name` among `statements`.
fn clause_list(statements: &[Statement], name: &str) -> Option<AddressMatchList> {
    statements
        .iter()
        .find(|s| s.is(name))
        .and_then(|s| s.block())
        .and_then(|b| super::model::address_match_list_of_block(b).ok())
}

/// Every list named converts, as it converts them: a list that no view or
/// zone inherits is never converted (an `allow-update` in `options` of a
/// server without zones), nor is an ACL that none of them names; each must
/// name only ACLs that exist, and following them must not loop.
fn acl_references(conf: &NamedConf, statements: &StatementChecks, out: &mut Vec<Rejection>) {
    let empty = Clauses::new();
    let options = statements.options.as_ref().unwrap_or(&empty);
    // (view lists, zone lists) for each view; one scope without.
    let scopes: Vec<(&Clauses, &ZoneLists)> = if statements.views.is_empty() {
        vec![(&empty, &statements.top_zones)]
    } else {
        statements.views.iter().map(|(v, z)| (v, z)).collect()
    };
    let mut lists: Vec<&AddressMatchList> = Vec::new();
    // named adds a view `_bind` (class CHAOS) unless there is one: its
    // built-in primary zones (version.bind, …) inherit these from options.
    let bind_view = conf.views.iter().any(|v| v.name == "_bind");
    if !bind_view {
        for clause in [
            "allow-update",
            "allow-transfer",
            "allow-query",
            "allow-query-on",
        ] {
            lists.extend(clause_in(options, clause));
        }
    }
    for (view, zones) in scopes {
        for clause in VIEW_LISTS {
            lists.extend(clause_in(view, clause).or_else(|| clause_in(options, clause)));
        }
        lists.extend(&zones.own);
        // What a zone inherits, once per view (a view may hold 100,000).
        for (clause, used) in ZONE_LISTS.iter().zip(zones.inherits) {
            if used {
                lists.extend(clause_in(view, clause).or_else(|| clause_in(options, clause)));
            }
        }
    }
    let mut walk = References {
        conf,
        state: HashMap::new(),
        reported: HashSet::new(),
        out,
    };
    for list in lists {
        walk.list(list);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    InProgress,
    Done,
}

/// Follows ACL references without recursion on named ACLs (a chain of
/// thousands is fine to named, so it must be to kmsdns).
struct References<'c, 'o> {
    conf: &'c NamedConf,
    /// ACLs by lower-case name.
    state: HashMap<String, Visit>,
    /// Problems already reported, so a shared ACL is reported once.
    reported: HashSet<(String, u32, u32)>,
    out: &'o mut Vec<Rejection>,
}

/// One step of the walk: an ACL to enter, or one to leave.
enum Step<'c> {
    Enter(&'c str, &'c Location),
    Leave(String),
}

impl<'c> References<'c, '_> {
    fn list(&mut self, list: &'c AddressMatchList) {
        let mut stack: Vec<Step<'c>> = Vec::new();
        let mut chain: Vec<String> = Vec::new();
        push_refs(list, &mut stack, self.out);
        while let Some(step) = stack.pop() {
            match step {
                Step::Leave(name) => {
                    self.state.insert(name.to_ascii_lowercase(), Visit::Done);
                    chain.pop();
                }
                Step::Enter(name, at) => {
                    let lower = name.to_ascii_lowercase();
                    match self.state.get(&lower) {
                        Some(Visit::Done) => continue,
                        Some(Visit::InProgress) => {
                            let start = chain
                                .iter()
                                .position(|c| c.eq_ignore_ascii_case(name))
                                .unwrap_or(0);
                            let mut looped: Vec<String> = chain[start..].to_vec();
                            looped.push(name.to_string());
                            self.report(at, Refusal::AclLoop { chain: looped });
                            continue;
                        }
                        None => {}
                    }
                    let Some(acl) = self.conf.acl(name) else {
                        self.report(
                            at,
                            Refusal::UndefinedAcl {
                                acl: name.to_string(),
                            },
                        );
                        self.state.insert(lower, Visit::Done);
                        continue;
                    };
                    self.state.insert(lower, Visit::InProgress);
                    chain.push(acl.name.clone());
                    stack.push(Step::Leave(acl.name.clone()));
                    push_refs(&acl.elements, &mut stack, self.out);
                }
            }
        }
    }

    fn report(&mut self, at: &Location, refusal: Refusal) {
        if self
            .reported
            .insert((at.file.display().to_string(), at.line, at.column))
        {
            reject(self.out, at, refusal);
        }
    }
}

/// Stacks the ACL references of `list` (nested lists included) so that
/// the first is visited first, and checks its addresses.
fn push_refs<'c>(list: &'c AddressMatchList, stack: &mut Vec<Step<'c>>, out: &mut Vec<Rejection>) {
    let mut refs: Vec<Step<'c>> = Vec::new();
    let mut lists = vec![list];
    while let Some(list) = lists.pop() {
        for element in &list.elements {
            match &element.kind {
                ElementKind::Acl(name) => refs.push(Step::Enter(name, &element.at)),
                ElementKind::List(inner) => lists.push(inner),
                ElementKind::Address(text) => {
                    if let Err(problem) = parse_prefix(text) {
                        reject(
                            out,
                            &element.at,
                            Refusal::BadAddress {
                                element: text.clone(),
                                problem,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }
    stack.extend(refs.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn refusals(text: &str) -> Vec<String> {
        match NamedConf::parse_str(Path::new("t.conf"), text) {
            Ok(conf) => conf.rejections.iter().map(|r| r.to_string()).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    const Z: &str = "type primary; file \"db\";";

    #[test]
    fn what_named_checkconf_refuses() {
        let cases = [
            (
                format!("zone \"a.example\" {{ {Z} }}; zone \"A.Example.\" {{ {Z} }};"),
                "zone 'A.Example.': already exists previous definition: t.conf:1:1",
            ),
            (
                format!("zone \"\\099orp.example\" {{ {Z} }}; zone \"corp.example\" {{ {Z} }};"),
                "zone 'corp.example': already exists",
            ),
            (
                format!("key k {{ algorithm hmac-sha256; secret \"aaaa\"; }}; zone \"a.example\" {{ {Z} update-policy {{ grant k zonesub ANY; }}; update-policy {{ grant k zonesub ANY; }}; }};"),
                "'update-policy' redefined",
            ),
            (
                format!("zone \"a.example\" {{ {Z} allow-transfer {{ nosuch; }}; }};"),
                "t.conf:1:62: named will not load this: undefined ACL 'nosuch'",
            ),
            (
                "zone \"a.example\" { type secondary; primaries { 127.0.0.1; }; allow-update { any; }; };".into(),
                "option 'allow-update' is not allowed in 'secondary' zone 'a.example'",
            ),
            (
                format!("key k {{ algorithm hmac-sha256; secret \"aaaa\"; }}; view v {{ key K. {{ algorithm hmac-sha256; secret \"aaaa\"; }}; zone \"a.example\" {{ {Z} }}; }};"),
                "key 'K.': already exists",
            ),
            ("acl a { any; }; acl A { none; };".into(), "attempt to redefine acl 'A'"),
            ("acl any { none; };".into(), "attempt to redefine builtin acl 'any'"),
            (
                format!("view v {{ zone \"a.example\" {{ {Z} }}; }}; zone \"b.example\" {{ {Z} }};"),
                "all zones must be in views",
            ),
            ("key k { algorithm hmac-sha256; };".into(), "must have both 'secret' and 'algorithm'"),
            ("key k { algorithm hmac-foo; secret \"aaaa\"; };".into(), "unknown algorithm 'hmac-foo'"),
            (
                format!("key k {{ algorithm hmac-sha256; secret \"aaaa\"; }}; zone \"a.example\" {{ {Z} update-policy {{ grant k self A; }}; }};"),
                "identity and name fields are not the same",
            ),
            (
                format!("key k {{ algorithm hmac-sha256; secret \"aaaa\"; }}; zone \"a.example\" {{ {Z} update-policy {{ grant k name A; }}; }};"),
                "missing name field type 'A' found",
            ),
            (
                format!("key k {{ algorithm hmac-sha256; secret \"aaaa\"; }}; zone \"a.example\" {{ {Z} update-policy {{ grant k name x.a.example. FOO; }}; }};"),
                "'FOO' is not a valid type",
            ),
            (
                format!("zone \"a.example\" {{ {Z} update-policy {{ grant R krb5-self x.a.example A; }}; }};"),
                "name field not set to placeholder value '.'",
            ),
            ("view v { }; view v { };".into(), "view 'v': already exists"),
            ("options { }; options { };".into(), "'options' redefined"),
            (
                format!("options {{ allow-update {{ nosuch; }}; }}; view v {{ zone \"a.example\" {{ {Z} update-policy local; }}; }};"),
                "undefined ACL 'nosuch'",
            ),
            (
                "options { allow-query { nosuch; }; }; view v { };".into(),
                "undefined ACL 'nosuch'",
            ),
            (
                format!("options {{ allow-update {{ nosuch; }}; }}; view v {{ zone \"a.example\" {{ {Z} allow-update {{ any; }}; }}; }};"),
                "undefined ACL 'nosuch'",
            ),
            (
                format!("zone \"a.example\" {{ {Z} allow-update {{ 10.0.0.1/8; }}; }};"),
                "'10.0.0.1/8': address/prefix length mismatch",
            ),
            (
                format!("acl a {{ b; }}; acl b {{ a; }}; zone \"a.example\" {{ {Z} allow-update {{ a; }}; }};"),
                "acl loop detected: a → b → a",
            ),
        ];
        for (text, says) in cases {
            let got = refusals(&text);
            assert!(
                got.iter().any(|r| r.contains(says)),
                "{text}\nexpected {says:?} in {got:#?}"
            );
        }
    }

    #[test]
    fn what_named_checkconf_accepts() {
        let cases = [
            // D1: ACL names ignore case.
            format!("acl Open {{ any; }}; zone \"a.example\" {{ {Z} allow-update {{ OPEN; }}; }};"),
            // An unused ACL is never converted.
            format!("acl a {{ nosuch; }}; zone \"a.example\" {{ {Z} }};"),
            format!("zone \"a.example\" {{ {Z} allow-update {{ key nokey; }}; }};"),
            "view v { }; view V { };".into(),
            format!("options {{ allow-update {{ any; }}; }}; zone \"a.example\" {{ {Z} update-policy local; }};"),
            format!("key k {{ algorithm hmac-sha256; secret \"aaaa\"; }}; zone \"a.example\" {{ {Z} update-policy {{ grant k self . A; grant * selfsub * A; grant *.k wildcard *.a.example. A; }}; }};"),
            "dyndb x \"x.so\" { a. b. };".into(),
            // Lists that no zone inherits are never converted (but options
            // are: named's own view `_bind` inherits them).
            "options { allow-transfer { none; }; }; acl loop-a { loop-b; }; acl loop-b { loop-a; }; view v { allow-update { loop-a; }; };".into(),
            format!("view v {{ allow-update {{ nosuch; }}; }}; view w {{ zone \"a.example\" {{ {Z} }}; }};"),
            "dlz \"x\" { database \"dlopen /x.so\"; }; zone \"a.example\" { type primary; dlz \"x\"; };".into(),
        ];
        for text in cases {
            assert_eq!(refusals(&text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn a_two_thousand_deep_acl_chain_is_no_loop() {
        // Issue 18: named accepts this; only a real loop is refused.
        let mut text = String::new();
        for i in 0..2001 {
            text.push_str(&format!("acl a{i} {{ a{}; }};\n", i + 1));
        }
        text.push_str("acl a2001 { any; };\n");
        text.push_str(&format!(
            "zone \"a.example\" {{ {Z} allow-update {{ a0; }}; }};\n"
        ));
        assert_eq!(refusals(&text), Vec::<String>::new());
    }

    #[test]
    fn record_types() {
        assert_eq!(record_type("srv"), Some(33));
        assert_eq!(record_type("TYPE33"), Some(33));
        assert_eq!(record_type("ANY"), Some(255));
        assert_eq!(record_type("x.a.example"), None);
        assert_eq!(record_type("TYPE"), None);
    }

    #[test]
    fn a_byte_order_mark_is_refused_where_it_is() {
        let got = refusals("\u{feff}options { };");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with(
            "t.conf:1:1: named will not load this: the file starts with a UTF-8 byte order mark"
        ));
    }
}
