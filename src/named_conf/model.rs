//! What the update audit needs from a `named.conf`, built from the generic
//! [`syntax`](super::syntax) tree: `options`, `acl`, `key`, `view`, `zone`
//! (inside and outside views) and `primaries` / `masters` lists.
//!
//! Statements the audit does not need are not kept: the model is built
//! one top-level statement at a time ([`Builder`]) and each is dropped once
//! modelled (the whole tree was 150 MB for 100,000 zones). Zones are
//! modelled as they are read, checked, and kept as their text
//! ([`Zones`]): their models were 90 MB.
//! The statements it does model are checked for the shape BIND requires
//! (a zone has a name and a block, an `update-policy` rule has a known rule
//! type, …) and a wrong shape is an error with its location. Keys keep
//! their name and algorithm, never their secret.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use super::check::{Rejection, StatementChecks};
use super::files::{Files, Stamp};
use super::name::Labels;
use super::syntax::{Block, Item, Statement, Word};
use super::zones::Zones;
use super::{Location, NamedConfError};

/// A whole configuration: the top file and everything it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedConf {
    /// Every file read, the top file first.
    pub files: Vec<PathBuf>,
    /// The `options` statement (empty when there is none).
    pub options: Options,
    /// Top-level `acl` statements.
    pub acls: Vec<Acl>,
    /// Top-level `key` statements (visible in every view).
    pub keys: Vec<Key>,
    /// Top-level `primaries` / `masters` lists.
    pub primaries: Vec<PrimariesList>,
    /// Zones outside any view.
    pub zones: Zones,
    /// `view` statements, in order (BIND matches clients to the first).
    pub views: Vec<View>,
    /// Top-level `dlz` statements (zones served by a DLZ driver).
    pub dlz: Vec<Dlz>,
    /// Why named would refuse to load this configuration, if it would:
    /// no grant of a configuration named does not load is ever in force.
    pub rejections: Vec<Rejection>,
}

/// `dlz NAME { database "DRIVER ARGS"; … };`: zones served by a DLZ
/// driver (Samba AD's `dlopen …/dlz_bind9_18.so`, a SQL backend). Which
/// zones, and who may update them, is up to the driver, not named.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dlz {
    /// The DLZ name.
    pub name: String,
    /// The `database` string: the driver and its arguments.
    pub database: Option<String>,
    /// Where the statement is.
    pub at: Location,
}

/// The parts of `options` the audit uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `directory`.
    pub directory: Option<String>,
    /// `allow-update`, inherited by primary zones that set neither it nor
    /// `update-policy`.
    pub allow_update: Option<AddressMatchList>,
    /// `allow-query`, inherited by zones: named refuses an update from a
    /// client that may not query the zone.
    pub allow_query: Option<AddressMatchList>,
    /// `session-keyname`: the name of the key `update-policy local` grants
    /// (`local-ddns` by default).
    pub session_keyname: Option<String>,
    /// `session-keyfile none;`: no session key at all.
    pub session_key_disabled: bool,
    /// Where the `options` statement is.
    pub at: Option<Location>,
}

/// `acl NAME { … };`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// The name, as written.
    pub name: String,
    /// Its elements.
    pub elements: AddressMatchList,
    /// Where the statement is.
    pub at: Location,
}

/// `key NAME { algorithm …; secret …; };` without the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The key name, as written.
    pub name: String,
    /// The algorithm, when given.
    pub algorithm: Option<String>,
    /// Whether it has a `secret` (the secret itself is never kept).
    pub has_secret: bool,
    /// Where the statement is.
    pub at: Location,
}

/// `primaries NAME { … };` (or `masters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimariesList {
    /// The list name.
    pub name: String,
    /// Its entries.
    pub servers: Vec<RemoteServer>,
    /// Where the statement is.
    pub at: Location,
}

/// One entry of a primaries list: an address or another list's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteServer {
    /// The address or list name.
    pub target: String,
    /// `port N`.
    pub port: Option<String>,
    /// `key NAME`.
    pub key: Option<String>,
    /// Where the entry is.
    pub at: Location,
}

/// `view NAME [class] { … };`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The view name.
    pub name: String,
    /// The class, when given (`IN` by default).
    pub class: Option<String>,
    /// `match-clients`.
    pub match_clients: Option<AddressMatchList>,
    /// `match-destinations`.
    pub match_destinations: Option<AddressMatchList>,
    /// `match-recursive-only yes`: only recursive queries match the view,
    /// never an UPDATE.
    pub match_recursive_only: bool,
    /// `allow-update` at view level, inherited by its primary zones.
    pub allow_update: Option<AddressMatchList>,
    /// `allow-query` at view level, inherited by its zones.
    pub allow_query: Option<AddressMatchList>,
    /// Keys defined inside the view.
    pub keys: Vec<Key>,
    /// Zones of the view.
    pub zones: Zones,
    /// `dlz` statements of the view.
    pub dlz: Vec<Dlz>,
    /// Where the statement is.
    pub at: Location,
}

/// `zone NAME [class] { … };`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// The zone name, as written.
    pub name: String,
    /// The class, when given.
    pub class: Option<String>,
    /// `type` (`primary`, `master`, `secondary`, `hint`, …).
    pub zone_type: Option<String>,
    /// `file`.
    pub file: Option<String>,
    /// `allow-update` set in the zone itself.
    pub allow_update: Option<AddressMatchList>,
    /// `allow-query` set in the zone itself.
    pub allow_query: Option<AddressMatchList>,
    /// `update-policy`.
    pub update_policy: Option<UpdatePolicy>,
    /// `dlz NAME`: the zone's data comes from that DLZ driver.
    pub dlz: Option<String>,
    /// `primaries` / `masters` of a secondary zone.
    pub primaries: Option<Vec<RemoteServer>>,
    /// `in-view NAME`: the zone is the one of that view.
    pub in_view: Option<String>,
    /// Where the statement is.
    pub at: Location,
}

/// An address match list: `{ element; … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMatchList {
    /// Elements in order (the first that matches decides).
    pub elements: Vec<AddressMatchElement>,
    /// Where the `{` is.
    pub at: Location,
}

/// One element of an address match list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMatchElement {
    /// Written with `!`: a match denies.
    pub negated: bool,
    /// What it matches.
    pub kind: ElementKind,
    /// Where it is.
    pub at: Location,
}

/// What an address match element matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementKind {
    /// Built-in ACL `any`: every client.
    Any,
    /// Built-in ACL `none`: no client.
    None,
    /// Built-in ACL `localhost`: the server's own addresses.
    Localhost,
    /// Built-in ACL `localnets`: the networks the server is attached to.
    Localnets,
    /// An address or prefix (`10.0.0.0/8`).
    Address(String),
    /// `key NAME`: requests signed with that TSIG key.
    Key(String),
    /// A reference to an `acl` statement.
    Acl(String),
    /// A nested list `{ … }`.
    List(AddressMatchList),
    /// Anything else that matches by client (`geoip …`).
    Other(String),
}

/// `update-policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdatePolicy {
    /// `update-policy local;`: the session key `local-ddns` may change
    /// anything in the zone (what `nsupdate -l` uses).
    Local {
        /// Where it is.
        at: Location,
    },
    /// `update-policy { rule; … };`
    Rules(Vec<UpdateRule>),
}

/// One `grant` or `deny` rule of an `update-policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRule {
    /// `grant` or `deny`.
    pub mode: RuleMode,
    /// Who: a key name pattern, a Kerberos realm, or `local:path`.
    pub identity: String,
    /// The rule type.
    pub rule_type: RuleType,
    /// The name field (absent for `zonesub`).
    pub name: Option<String>,
    /// The record types (empty: every type but SOA, NS, RRSIG, NSEC*).
    pub types: Vec<String>,
    /// Where the rule is.
    pub at: Location,
}

/// `grant` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleMode {
    /// Allows what the rule matches.
    Grant,
    /// Refuses what the rule matches.
    Deny,
}

/// The rule types of BIND 9.18's `update-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// `name`: exactly the name field.
    Name,
    /// `subdomain`: the name field and everything below it.
    Subdomain,
    /// `zonesub`: the whole zone (no name field).
    Zonesub,
    /// `wildcard`: names matching the wildcard name field.
    Wildcard,
    /// `self`: the name equal to the signing key's name.
    SelfName,
    /// `selfsub`: the key's name and below.
    SelfSub,
    /// `selfwild`: names below the key's name.
    SelfWild,
    /// `krb5-self`: the machine name of a Kerberos principal.
    Krb5Self,
    /// `krb5-selfsub`: the machine name of a Kerberos principal and below.
    Krb5SelfSub,
    /// `krb5-subdomain`: below the machine name of a Kerberos principal.
    Krb5Subdomain,
    /// `krb5-subdomain-self-rhs`: SRV/PTR under the name field whose target
    /// is the principal's machine name.
    Krb5SubdomainSelfRhs,
    /// `ms-self`: the machine name of a Windows principal.
    MsSelf,
    /// `ms-selfsub`: the machine name of a Windows principal and below.
    MsSelfSub,
    /// `ms-subdomain`: below the machine name of a Windows principal.
    MsSubdomain,
    /// `ms-subdomain-self-rhs`: SRV/PTR under the name field whose target
    /// is the principal's machine name.
    MsSubdomainSelfRhs,
    /// `tcp-self`: the reverse name of the client address, over TCP.
    TcpSelf,
    /// `6to4-self`: the 6to4 reverse name of the client address.
    SixToFourSelf,
    /// `external`: an external daemon decides.
    External,
}

impl RuleType {
    const ALL: [(RuleType, &'static str); 18] = [
        (RuleType::Name, "name"),
        (RuleType::Subdomain, "subdomain"),
        (RuleType::Zonesub, "zonesub"),
        (RuleType::Wildcard, "wildcard"),
        (RuleType::SelfName, "self"),
        (RuleType::SelfSub, "selfsub"),
        (RuleType::SelfWild, "selfwild"),
        (RuleType::Krb5Self, "krb5-self"),
        (RuleType::Krb5SelfSub, "krb5-selfsub"),
        (RuleType::Krb5Subdomain, "krb5-subdomain"),
        (RuleType::Krb5SubdomainSelfRhs, "krb5-subdomain-self-rhs"),
        (RuleType::MsSelf, "ms-self"),
        (RuleType::MsSelfSub, "ms-selfsub"),
        (RuleType::MsSubdomain, "ms-subdomain"),
        (RuleType::MsSubdomainSelfRhs, "ms-subdomain-self-rhs"),
        (RuleType::TcpSelf, "tcp-self"),
        (RuleType::SixToFourSelf, "6to4-self"),
        (RuleType::External, "external"),
    ];

    /// Parses a rule type keyword, ignoring case.
    pub fn from_keyword(text: &str) -> Option<RuleType> {
        Self::ALL
            .iter()
            .find(|(_, k)| k.eq_ignore_ascii_case(text))
            .map(|(t, _)| *t)
    }

    /// The keyword as BIND writes it.
    pub fn keyword(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("?", |(_, k)| k)
    }

    /// True when the identity is a TSIG/SIG(0) key name (pattern), not a
    /// Kerberos realm or a socket.
    pub fn identity_is_key_name(self) -> bool {
        matches!(
            self,
            RuleType::Name
                | RuleType::Subdomain
                | RuleType::Zonesub
                | RuleType::Wildcard
                | RuleType::SelfName
                | RuleType::SelfSub
                | RuleType::SelfWild
        )
    }
}

impl fmt::Display for UpdateRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            RuleMode::Grant => "grant",
            RuleMode::Deny => "deny",
        };
        write!(f, "{mode} {} {}", self.identity, self.rule_type.keyword())?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        for t in &self.types {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ElementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElementKind::Any => f.write_str("any"),
            ElementKind::None => f.write_str("none"),
            ElementKind::Localhost => f.write_str("localhost"),
            ElementKind::Localnets => f.write_str("localnets"),
            ElementKind::Address(a) => f.write_str(a),
            ElementKind::Key(k) => write!(f, "key {k}"),
            ElementKind::Acl(a) => write!(f, "{a}"),
            ElementKind::List(_) => f.write_str("{ … }"),
            ElementKind::Other(o) => f.write_str(o),
        }
    }
}

impl Zone {
    /// True for `type primary` / `type master`: the only zones that take
    /// updates (a secondary refuses or forwards them).
    pub fn is_primary(&self) -> bool {
        self.zone_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("primary") || t.eq_ignore_ascii_case("master"))
    }

    /// True for zones that serve data of their own (not `hint`, `forward`,
    /// `stub`, `static-stub`, `redirect`, `delegation-only`); a zone with no
    /// type counts (it is either `in-view` or invalid anyway).
    pub fn holds_data(&self) -> bool {
        match self.zone_type.as_deref() {
            None => true,
            Some(t) => ["primary", "master", "secondary", "slave", "mirror"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(t)),
        }
    }

    /// True for class IN (the default).
    pub fn is_class_in(&self) -> bool {
        self.class
            .as_deref()
            .is_none_or(|c| c.eq_ignore_ascii_case("in"))
    }
}

impl View {
    /// True for class IN (the default).
    pub fn is_class_in(&self) -> bool {
        self.class
            .as_deref()
            .is_none_or(|c| c.eq_ignore_ascii_case("in"))
    }
}

fn invalid(at: &Location, message: impl Into<String>) -> NamedConfError {
    NamedConfError::Syntax {
        at: at.clone(),
        message: message.into(),
    }
}

fn is_class(word: &Word) -> bool {
    ["in", "ch", "chaos", "hs", "hesiod", "any"]
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&word.text))
}

/// `keyword NAME [class] { … }`: the name, the class and the block.
fn named_block<'s>(
    statement: &'s Statement,
    what: &str,
) -> Result<(String, Option<String>, &'s Block), NamedConfError> {
    let head: Vec<&Word> = statement.head().collect();
    let Some(name) = head.get(1) else {
        return Err(invalid(&statement.at, format!("'{what}' needs a name")));
    };
    let class = head.get(2).filter(|w| is_class(w)).map(|w| w.text.clone());
    let Some(block) = statement.block() else {
        return Err(invalid(
            &statement.at,
            format!("'{what} {}' needs a '{{ … }}' block", name),
        ));
    };
    Ok((name.text.clone(), class, block))
}

/// The word after the keyword (`type master;` gives `master`).
fn value(statement: &Statement) -> Result<String, NamedConfError> {
    statement
        .head()
        .nth(1)
        .map(|w| w.text.clone())
        .ok_or_else(|| {
            let keyword = statement
                .keyword()
                .map(|w| w.text.clone())
                .unwrap_or_default();
            invalid(&statement.at, format!("'{keyword}' needs a value"))
        })
}

/// The block of `keyword { … };` as an address match list.
fn list_of(statement: &Statement) -> Result<AddressMatchList, NamedConfError> {
    match statement.block() {
        Some(block) => address_match_list(block),
        None => {
            let keyword = statement
                .keyword()
                .map(|w| w.text.clone())
                .unwrap_or_default();
            Err(invalid(
                &statement.at,
                format!("'{keyword}' needs an address match list '{{ … }}'"),
            ))
        }
    }
}

/// The statements of `block` as an address match list.
pub(crate) fn address_match_list_of_block(
    block: &Block,
) -> Result<AddressMatchList, NamedConfError> {
    address_match_list(block)
}

fn address_match_list(block: &Block) -> Result<AddressMatchList, NamedConfError> {
    let elements = block
        .statements
        .iter()
        .map(address_match_element)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AddressMatchList {
        elements,
        at: block.at.clone(),
    })
}

fn address_match_element(statement: &Statement) -> Result<AddressMatchElement, NamedConfError> {
    let mut items = statement.items.as_slice();
    let mut negated = false;
    while let [Item::Not(_), rest @ ..] = items {
        negated = !negated;
        items = rest;
    }
    let kind = match items {
        [] => {
            return Err(invalid(
                &statement.at,
                "expected an address match element after '!'",
            ))
        }
        [Item::Block(block)] => ElementKind::List(address_match_list(block)?),
        [Item::Word(k), Item::Word(name)] if !k.quoted && k.text.eq_ignore_ascii_case("key") => {
            ElementKind::Key(name.text.clone())
        }
        [Item::Word(k), ..] if !k.quoted && k.text.eq_ignore_ascii_case("key") => {
            return Err(invalid(
                &statement.at,
                "'key' in an address match list takes one key name",
            ))
        }
        [Item::Word(g), ..] if !g.quoted && g.text.eq_ignore_ascii_case("geoip") => {
            ElementKind::Other(join_words(items))
        }
        _ if items.iter().all(|i| matches!(i, Item::Word(_))) => classify(&join_words(items)),
        _ => {
            return Err(invalid(
                &statement.at,
                "unexpected '{' or '!' inside an address match element",
            ))
        }
    };
    Ok(AddressMatchElement {
        negated,
        kind,
        at: statement.at.clone(),
    })
}

fn join_words(items: &[Item]) -> String {
    // BIND reads `10.0.0.0 / 8` as one prefix; words are joined without
    // spaces, except after `geoip` where they are separate fields.
    let words: Vec<&str> = items
        .iter()
        .filter_map(|i| match i {
            Item::Word(w) => Some(w.text.as_str()),
            _ => None,
        })
        .collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("geoip"))
    {
        words.join(" ")
    } else {
        words.concat()
    }
}

fn classify(text: &str) -> ElementKind {
    match text.to_ascii_lowercase().as_str() {
        "any" => ElementKind::Any,
        "none" => ElementKind::None,
        "localhost" => ElementKind::Localhost,
        "localnets" => ElementKind::Localnets,
        _ if looks_like_address(text) => ElementKind::Address(text.to_string()),
        _ => ElementKind::Acl(text.to_string()),
    }
}

fn looks_like_address(text: &str) -> bool {
    let address = text.split('/').next().unwrap_or(text);
    let address = address.split('%').next().unwrap_or(address);
    address.parse::<IpAddr>().is_ok()
        // BIND also takes shortened IPv4 prefixes such as `10/8`.
        || (!address.is_empty() && address.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn remote_servers(block: &Block) -> Vec<RemoteServer> {
    block
        .statements
        .iter()
        .filter_map(|statement| {
            let words: Vec<&Word> = statement.head().collect();
            let target = words.first()?.text.clone();
            let after = |key: &str| {
                words
                    .windows(2)
                    .skip(1)
                    .find(|w| w[0].text.eq_ignore_ascii_case(key))
                    .map(|w| w[1].text.clone())
            };
            Some(RemoteServer {
                target,
                port: after("port"),
                key: after("key"),
                at: statement.at.clone(),
            })
        })
        .collect()
}

fn key(statement: &Statement) -> Result<Key, NamedConfError> {
    let head: Vec<&Word> = statement.head().collect();
    let Some(name) = head.get(1) else {
        return Err(invalid(&statement.at, "'key' needs a name"));
    };
    let Some(block) = statement.block() else {
        return Err(invalid(
            &statement.at,
            format!(
                "'key {}' needs a '{{ algorithm …; secret …; }}' block",
                name.text
            ),
        ));
    };
    let algorithm = block
        .statements
        .iter()
        .find(|s| s.is("algorithm"))
        .and_then(|s| s.head().nth(1))
        .map(|w| w.text.clone());
    Ok(Key {
        name: name.text.clone(),
        algorithm,
        has_secret: block.statements.iter().any(|s| s.is("secret")),
        at: statement.at.clone(),
    })
}

/// BIND's booleans: `yes`, `true`, `1` (and their opposites).
fn is_yes(text: &str) -> bool {
    ["yes", "true", "1"]
        .iter()
        .any(|y| y.eq_ignore_ascii_case(text))
}

fn dlz(statement: &Statement) -> Result<Dlz, NamedConfError> {
    let (name, _, block) = named_block(statement, "dlz")?;
    let database = block
        .statements
        .iter()
        .find(|s| s.is("database"))
        .and_then(|s| s.head().nth(1))
        .map(|w| w.text.clone());
    Ok(Dlz {
        name,
        database,
        at: statement.at.clone(),
    })
}

fn update_policy(statement: &Statement) -> Result<UpdatePolicy, NamedConfError> {
    if let Some(block) = statement.block() {
        let rules = block
            .statements
            .iter()
            .map(update_rule)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(UpdatePolicy::Rules(rules));
    }
    match statement.head().nth(1) {
        Some(w) if w.text.eq_ignore_ascii_case("local") => Ok(UpdatePolicy::Local {
            at: statement.at.clone(),
        }),
        _ => Err(invalid(
            &statement.at,
            "'update-policy' takes 'local' or a '{ grant …; }' block",
        )),
    }
}

fn update_rule(statement: &Statement) -> Result<UpdateRule, NamedConfError> {
    if statement.items.iter().any(|i| !matches!(i, Item::Word(_))) {
        return Err(invalid(
            &statement.at,
            "an update-policy rule is made of words only",
        ));
    }
    let words: Vec<&Word> = statement.head().collect();
    let mode = match words.first() {
        Some(w) if w.text.eq_ignore_ascii_case("grant") => RuleMode::Grant,
        Some(w) if w.text.eq_ignore_ascii_case("deny") => RuleMode::Deny,
        _ => {
            return Err(invalid(
                &statement.at,
                "an update-policy rule starts with 'grant' or 'deny'",
            ))
        }
    };
    let Some(identity) = words.get(1) else {
        return Err(invalid(
            &statement.at,
            "update-policy rule: missing the identity",
        ));
    };
    let Some(type_word) = words.get(2) else {
        return Err(invalid(
            &statement.at,
            "update-policy rule: missing the rule type",
        ));
    };
    let Some(rule_type) = RuleType::from_keyword(&type_word.text) else {
        return Err(invalid(
            &type_word.at,
            format!("unknown update-policy rule type '{}'", type_word.text),
        ));
    };
    let (name, types_from) = if rule_type == RuleType::Zonesub {
        (None, 3)
    } else {
        match words.get(3) {
            Some(name) => (Some(name.text.clone()), 4),
            None => {
                return Err(invalid(
                    &statement.at,
                    format!(
                        "update-policy rule '{}' needs a name field",
                        rule_type.keyword()
                    ),
                ))
            }
        }
    };
    Ok(UpdateRule {
        mode,
        identity: identity.text.clone(),
        rule_type,
        name,
        types: words
            .iter()
            .skip(types_from)
            .map(|w| w.text.clone())
            .collect(),
        at: statement.at.clone(),
    })
}

/// The model of a `zone` statement.
pub(super) fn zone(statement: &Statement) -> Result<Zone, NamedConfError> {
    let (name, class, block) = named_block(statement, "zone")?;
    let mut zone = Zone {
        name,
        class,
        zone_type: None,
        file: None,
        allow_update: None,
        allow_query: None,
        update_policy: None,
        dlz: None,
        primaries: None,
        in_view: None,
        at: statement.at.clone(),
    };
    for inner in &block.statements {
        let Some(keyword) = inner.keyword() else {
            continue;
        };
        match keyword.text.to_ascii_lowercase().as_str() {
            "type" => zone.zone_type = Some(value(inner)?),
            "file" => zone.file = Some(value(inner)?),
            "in-view" => zone.in_view = Some(value(inner)?),
            "allow-update" => zone.allow_update = Some(list_of(inner)?),
            "allow-query" => zone.allow_query = Some(list_of(inner)?),
            "update-policy" => zone.update_policy = Some(update_policy(inner)?),
            "dlz" => zone.dlz = Some(value(inner)?),
            "primaries" | "masters" => {
                zone.primaries = inner.block().map(remote_servers);
            }
            _ => {}
        }
    }
    Ok(zone)
}

/// The model of a `view` statement, the `scope` of the load checks.
fn view(
    statement: &Statement,
    scope: usize,
    checks: &mut StatementChecks,
) -> Result<View, NamedConfError> {
    let (name, class, block) = named_block(statement, "view")?;
    let mut view = View {
        name,
        class,
        match_clients: None,
        match_destinations: None,
        match_recursive_only: false,
        allow_update: None,
        allow_query: None,
        keys: Vec::new(),
        zones: Zones::new(Some("view")),
        dlz: Vec::new(),
        at: statement.at.clone(),
    };
    for inner in &block.statements {
        let Some(keyword) = inner.keyword() else {
            continue;
        };
        match keyword.text.to_ascii_lowercase().as_str() {
            "match-clients" => view.match_clients = Some(list_of(inner)?),
            "match-destinations" => view.match_destinations = Some(list_of(inner)?),
            "match-recursive-only" => view.match_recursive_only = is_yes(&value(inner)?),
            "allow-update" => view.allow_update = Some(list_of(inner)?),
            "allow-query" => view.allow_query = Some(list_of(inner)?),
            "key" => view.keys.push(key(inner)?),
            "zone" => {
                let model = zone(inner)?;
                checks.zone(scope, view.zones.len(), &model);
                view.zones.push(model, inner);
            }
            "dlz" => view.dlz.push(dlz(inner)?),
            _ => {}
        }
    }
    Ok(view)
}

fn options(statement: &Statement) -> Result<Options, NamedConfError> {
    let mut options = Options {
        at: Some(statement.at.clone()),
        ..Options::default()
    };
    let Some(block) = statement.block() else {
        return Err(invalid(&statement.at, "'options' needs a '{ … }' block"));
    };
    for inner in &block.statements {
        if inner.is("directory") {
            options.directory = Some(value(inner)?);
        } else if inner.is("allow-update") {
            options.allow_update = Some(list_of(inner)?);
        } else if inner.is("allow-query") {
            options.allow_query = Some(list_of(inner)?);
        } else if inner.is("session-keyname") {
            options.session_keyname = Some(value(inner)?);
        } else if inner.is("session-keyfile") {
            let file = inner.head().nth(1);
            options.session_key_disabled =
                file.is_some_and(|w| !w.quoted && w.text.eq_ignore_ascii_case("none"));
        }
    }
    Ok(options)
}

/// Builds a [`NamedConf`] one top-level statement at a time, as the
/// reader hands them over, keeping what the audit and the load checks need
/// of each and nothing of the statement itself.
#[derive(Debug)]
pub(crate) struct Builder {
    conf: NamedConf,
    checks: StatementChecks,
    /// The first statement the model refuses. The reader goes on to the
    /// end all the same: a syntax error anywhere in the files is reported
    /// before it, as when the whole tree was read first.
    error: Option<NamedConfError>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            conf: NamedConf {
                files: Vec::new(),
                options: Options::default(),
                acls: Vec::new(),
                keys: Vec::new(),
                primaries: Vec::new(),
                zones: Zones::new(None),
                views: Vec::new(),
                dlz: Vec::new(),
                rejections: Vec::new(),
            },
            checks: StatementChecks::default(),
            error: None,
        }
    }
}

impl Builder {
    /// Takes one top-level statement.
    pub(crate) fn add(&mut self, statement: Statement) {
        if self.error.is_some() {
            return;
        }
        self.checks.note(&statement);
        if let Err(error) = self.conf.add(&statement, &mut self.checks) {
            self.error = Some(error);
        }
    }

    /// The model of every statement read from `files` (as `stamps` says
    /// they were), with what the reader already found that named refuses,
    /// checked as named checks when it loads ([`check`](super::check)).
    pub(crate) fn finish(
        self,
        files: Vec<PathBuf>,
        stamps: Vec<Option<Stamp>>,
        rejections: Vec<Rejection>,
    ) -> Result<NamedConf, NamedConfError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut conf = self.conf;
        // Only the files that hold zones are read again, through one
        // `Files` for all.
        let mut holds_zones = vec![false; stamps.len()];
        let scopes = std::iter::once(&conf.zones).chain(conf.views.iter().map(|v| &v.zones));
        for file in scopes.flat_map(Zones::files) {
            if let Some(holds) = holds_zones.get_mut(file) {
                *holds = true;
            }
        }
        let read = Arc::new(Files::new(&files, stamps, |file| {
            holds_zones.get(file) == Some(&true)
        }));
        conf.zones.finish(Arc::clone(&read));
        for view in &mut conf.views {
            view.zones.finish(Arc::clone(&read));
        }
        conf.files = files;
        conf.rejections = rejections;
        let found = super::check::load_checks(&conf, self.checks);
        conf.rejections.extend(found);
        Ok(conf)
    }
}

impl NamedConf {
    /// Models one top-level statement, noting its zones for the load
    /// checks.
    fn add(
        &mut self,
        statement: &Statement,
        checks: &mut StatementChecks,
    ) -> Result<(), NamedConfError> {
        let Some(keyword) = statement.keyword() else {
            return Ok(());
        };
        match keyword.text.to_ascii_lowercase().as_str() {
            "options" => self.options = options(statement)?,
            "acl" => {
                let (name, _, block) = named_block(statement, "acl")?;
                self.acls.push(Acl {
                    name,
                    elements: address_match_list(block)?,
                    at: statement.at.clone(),
                });
            }
            "key" => self.keys.push(key(statement)?),
            "view" => {
                let scope = self.views.len() + 1;
                self.views.push(view(statement, scope, checks)?);
            }
            "zone" => {
                let model = zone(statement)?;
                checks.zone(0, self.zones.len(), &model);
                self.zones.push(model, statement);
            }
            "dlz" => self.dlz.push(dlz(statement)?),
            "primaries" | "masters" => {
                let (name, _, block) = named_block(statement, "primaries")?;
                self.primaries.push(PrimariesList {
                    name,
                    servers: remote_servers(block),
                    at: statement.at.clone(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// True when named would load this configuration.
    pub fn loads(&self) -> bool {
        self.rejections.is_empty()
    }

    /// The zones of the view at `view` (`None`: outside views).
    pub(crate) fn zones_of(&self, view: Option<usize>) -> Option<&Zones> {
        match view {
            None => Some(&self.zones),
            Some(v) => self.views.get(v).map(|found| &found.zones),
        }
    }

    /// The index of the view named `name`.
    pub(crate) fn view_position(&self, name: &str) -> Option<usize> {
        self.views.iter().position(|v| v.name == name)
    }

    /// The view named `name`.
    pub fn view(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|v| v.name == name)
    }

    /// The top-level ACL named `name` (ACLs cannot be defined in views);
    /// BIND compares ACL names ignoring case (`get_acl_def`: strcasecmp).
    pub fn acl(&self, name: &str) -> Option<&Acl> {
        self.acls.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The key named `name` as seen from `view` (its own keys, then the
    /// top-level ones); key names compare as domain names.
    pub fn key<'a>(&'a self, view: Option<&'a View>, name: &str) -> Option<&'a Key> {
        let wanted = Labels::parse(name);
        view.into_iter()
            .flat_map(|v| v.keys.iter())
            .chain(self.keys.iter())
            .find(|k| Labels::parse(&k.name) == wanted)
    }
}
