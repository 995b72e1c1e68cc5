//! Address match lists compiled and matched exactly as BIND 9.18 does
//! (`cfg_acl_fromconfig2` in lib/isccfg/aclconf.c, `dns_acl_match` and
//! `dns_acl_merge` in lib/dns/acl.c, `dns_iptable_merge`, lib/isc/radix.c),
//! because the ARM's "first match wins" is only most of the story:
//!
//! - Addresses, prefixes, `any` and `none` go into one table of prefixes;
//!   `any` is the zero-length prefix of both families and `none` is `!any`,
//!   so `!none` is `any` and `{ none; any; }` refuses everyone (the second
//!   `/0` is not inserted again). A prefix written twice keeps its first
//!   meaning. Keys, `localhost`, `localnets` and `geoip` are elements of a
//!   list beside it; every entry carries the number of its place in the
//!   list, and the lowest-numbered entry that matches decides.
//! - A nested list, or a reference to a named ACL, is merged into the
//!   list in place when it holds no negation; negated (`!{ … }`, `!name`),
//!   its positive entries become negative and its negative ones stay
//!   negative — and, a quirk of `dns_iptable_merge`, a prefix of the outer
//!   list that the negated inner list repeats becomes negative too.
//! - A nested list or ACL that does hold a negation stays one element: it
//!   matches when its own result is positive; a negative result inside it
//!   is no match at all, and the outer list goes on with its next element.
//! - Named ACLs are looked up ignoring case and compiled once, as BIND's
//!   cache does; a chain of references any number deep is fine.
//!
//! Every entry keeps where it was written and through which ACLs it was
//! reached, so a finding can name the element that lets a client in.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;

use super::model::{AddressMatchList, ElementKind};
use super::name::Labels;
use super::Location;

/// An address family slot of the prefix table.
const V4: usize = 0;
const V6: usize = 1;

/// An address prefix as BIND reads it (`cfg_parse_netprefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The address, host bits clear.
    pub address: IpAddr,
    /// The prefix length.
    pub length: u8,
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.length)
    }
}

/// Reads `10.0.0.0/8`, `192.0.2.1`, `10/8`, `2001:db8::/32`, `fe80::1%eth0`
/// as `cfg_parse_netprefix` does, with its errors.
pub fn parse_prefix(text: &str) -> Result<Prefix, String> {
    let (address, length) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let (address, shorthand) =
        parse_address(address).ok_or_else(|| "not an address or prefix".to_string())?;
    let bits: u8 = if address.is_ipv4() { 32 } else { 128 };
    let length = match length {
        Some(l) => {
            let length: u32 = l
                .trim()
                .parse()
                .map_err(|_| "expected prefix length".to_string())?;
            if length > u32::from(bits) {
                return Err("invalid prefix length".into());
            }
            length as u8
        }
        None if shorthand => return Err("incomplete IPv4 address or prefix".into()),
        None => bits,
    };
    if mask(&address, length) != address {
        return Err("address/prefix length mismatch".into());
    }
    Ok(Prefix { address, length })
}

/// An address, and whether it was an IPv4 shorthand (`10`, `10.1`) that
/// needs a prefix length.
fn parse_address(text: &str) -> Option<(IpAddr, bool)> {
    let text = text.trim();
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Some((IpAddr::V4(v4), false));
    }
    if text.len() <= 15 {
        let mut padded = text.to_string();
        for _ in 0..3 {
            padded.push_str(".0");
            if let Ok(v4) = padded.parse::<Ipv4Addr>() {
                return Some((IpAddr::V4(v4), true));
            }
        }
    }
    let without_zone = text.split('%').next().unwrap_or(text);
    without_zone
        .parse::<Ipv6Addr>()
        .ok()
        .map(|v6| (IpAddr::V6(v6), false))
}

fn octets(address: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match address {
        IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => out = v6.octets(),
    }
    out
}

fn family(address: &IpAddr) -> usize {
    if address.is_ipv4() {
        V4
    } else {
        V6
    }
}

/// The first `length` bits of the address's bytes, the rest cleared.
fn masked(bytes: &[u8; 16], length: u8) -> [u8; 16] {
    let mut out = [0u8; 16];
    let full = usize::from(length / 8);
    out[..full].copy_from_slice(&bytes[..full]);
    let rest = length % 8;
    if rest != 0 {
        out[full] = bytes[full] & (0xffu8 << (8 - rest));
    }
    out
}

fn mask(address: &IpAddr, length: u8) -> IpAddr {
    let bytes = masked(&octets(address), length);
    match address {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bytes)),
    }
}

/// The ACL names a reference went through, outermost first, as a shared
/// list so that long chains of ACLs do not copy it at each step.
#[derive(Debug, Clone, Default)]
pub struct Via(Option<Rc<ViaNode>>);

#[derive(Debug)]
struct ViaNode {
    name: String,
    rest: Via,
}

impl Via {
    fn prepend(&self, name: &str) -> Via {
        Via(Some(Rc::new(ViaNode {
            name: name.to_string(),
            rest: self.clone(),
        })))
    }

    /// `self`'s names, then `rest`'s.
    fn then(&self, rest: &Via) -> Via {
        let mut out = rest.clone();
        for name in self.names().iter().rev() {
            out = out.prepend(name);
        }
        out
    }

    /// The names, outermost first.
    pub fn names(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut at = &self.0;
        while let Some(node) = at {
            out.push(node.name.clone());
            at = &node.rest.0;
        }
        out
    }
}

/// What kind of element an entry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// `any`, or `!none`.
    Any,
    /// `none`, or `!any`.
    None,
    /// An address or prefix.
    Address(Prefix),
    /// `key NAME`.
    Key(String),
    /// `localhost`.
    Localhost,
    /// `localnets`.
    Localnets,
    /// `geoip …`.
    Geoip(String),
    /// A named ACL or a nested list that holds a negation (one element).
    List,
}

/// Where an entry of a compiled list was written, and through which ACLs.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The element as written (`10.0.0.0/8`, `key k`, `any`).
    pub text: String,
    /// What it is.
    pub written: Written,
    /// Where it is.
    pub at: Location,
    /// The ACLs followed to reach it.
    pub via: Via,
}

impl Origin {
    fn via(&self, name: Option<&str>) -> Origin {
        match name {
            Some(name) => Origin {
                via: self.via.prepend(name),
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    num: u32,
    positive: bool,
    origin: Rc<Origin>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    slots: [Option<Slot>; 2],
}

#[derive(Debug, Clone)]
enum Matcher {
    Key(Labels),
    Localhost,
    Localnets,
    Geoip(String),
    /// A list that holds a negation; the ACL names that lead to it.
    Nested(Rc<CompiledAcl>, Via),
}

impl Matcher {
    /// Same test, so that only the first of two can ever decide.
    fn same(&self, other: &Matcher) -> bool {
        match (self, other) {
            (Matcher::Key(a), Matcher::Key(b)) => a == b,
            (Matcher::Localhost, Matcher::Localhost) => true,
            (Matcher::Localnets, Matcher::Localnets) => true,
            (Matcher::Geoip(a), Matcher::Geoip(b)) => a == b,
            (Matcher::Nested(a, _), Matcher::Nested(b, _)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Element {
    matcher: Matcher,
    negative: bool,
    num: u32,
    origin: Rc<Origin>,
}

/// An address match list as BIND holds it once loaded.
#[derive(Debug, Clone, Default)]
pub struct CompiledAcl {
    /// The prefix table, by (length, masked bits); one slot per family.
    nodes: HashMap<(u8, [u8; 16]), Node>,
    /// The prefix lengths present, for lookups.
    lengths: BTreeSet<u8>,
    elements: Vec<Element>,
    count: u32,
    has_negatives: bool,
}

/// One side of a request as ACLs see it: its address, and whether it is
/// in the server's `localhost` and `localnets` ACLs (the server's own
/// addresses and networks) and matches `geoip` elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The address.
    pub address: IpAddr,
    /// In `localhost`.
    pub localhost: bool,
    /// In `localnets`.
    pub localnets: bool,
    /// Matched by every `geoip` element.
    pub geoip: bool,
}

/// The result of matching a list: positive (allowed), negative (refused)
/// or no match, and the entry that decided.
#[derive(Debug, Clone)]
pub struct AclMatch {
    /// `> 0` allowed, `< 0` refused, `0` no entry matched; the absolute
    /// value is the entry's number.
    pub value: i64,
    /// The entry that decided.
    pub origin: Option<Origin>,
}

impl AclMatch {
    /// `dns_acl_allowed`: a positive match.
    pub fn allowed(&self) -> bool {
        self.value > 0
    }
}

fn any_key() -> (u8, [u8; 16]) {
    (0, [0u8; 16])
}

impl CompiledAcl {
    /// Compiles `list`; `named` gives the compiled ACL of a name (`None`:
    /// undefined or looping, which named refuses to load anyway).
    pub fn compile(
        list: &AddressMatchList,
        named: &mut dyn FnMut(&str) -> Option<Rc<CompiledAcl>>,
    ) -> CompiledAcl {
        let mut acl = CompiledAcl::default();
        for element in &list.elements {
            let neg = element.negated;
            if neg {
                acl.has_negatives = true;
            }
            let origin = |written: Written| {
                Rc::new(Origin {
                    text: element.kind.to_string(),
                    written,
                    at: element.at.clone(),
                    via: Via::default(),
                })
            };
            let matcher = match &element.kind {
                ElementKind::Address(text) => {
                    if let Ok(prefix) = parse_prefix(text) {
                        acl.add_prefix(Some(prefix), !neg, origin(Written::Address(prefix)));
                    }
                    continue;
                }
                ElementKind::Any => {
                    acl.add_prefix(
                        None,
                        !neg,
                        origin(if neg { Written::None } else { Written::Any }),
                    );
                    continue;
                }
                ElementKind::None => {
                    // `none` is `!any`; `!none` is `any`.
                    acl.add_prefix(
                        None,
                        neg,
                        origin(if neg { Written::Any } else { Written::None }),
                    );
                    if !neg {
                        acl.has_negatives = true;
                    }
                    continue;
                }
                ElementKind::Localhost => (Matcher::Localhost, origin(Written::Localhost)),
                ElementKind::Localnets => (Matcher::Localnets, origin(Written::Localnets)),
                ElementKind::Key(name) => (
                    Matcher::Key(Labels::parse(name)),
                    origin(Written::Key(name.clone())),
                ),
                ElementKind::Other(text) => (
                    Matcher::Geoip(text.clone()),
                    origin(Written::Geoip(text.clone())),
                ),
                ElementKind::List(inner) => {
                    let inner = Rc::new(CompiledAcl::compile(inner, named));
                    match acl.nested(inner, neg, None, origin(Written::List)) {
                        Some(element) => element,
                        None => continue,
                    }
                }
                ElementKind::Acl(name) => {
                    let Some(inner) = named(name) else {
                        continue;
                    };
                    match acl.nested(inner, neg, Some(name), origin(Written::List)) {
                        Some(element) => element,
                        None => continue,
                    }
                }
            };
            let (matcher, origin) = matcher;
            acl.count += 1;
            let num = acl.count;
            acl.push_element(Element {
                matcher,
                negative: neg,
                num,
                origin,
            });
        }
        acl
    }

    /// Merges `inner` in place, or gives the element that holds it.
    fn nested(
        &mut self,
        inner: Rc<CompiledAcl>,
        neg: bool,
        name: Option<&str>,
        origin: Rc<Origin>,
    ) -> Option<(Matcher, Rc<Origin>)> {
        if inner.has_negatives {
            let via = name.map_or_else(Via::default, |n| Via::default().prepend(n));
            Some((Matcher::Nested(inner, via), origin))
        } else {
            self.merge(&inner, !neg, name);
            None
        }
    }

    /// Keeps only the first element of one test: a later one can never
    /// decide, and dropping it keeps lists that name one ACL many times
    /// from growing without bound (named itself would copy them all).
    fn push_element(&mut self, element: Element) {
        if !self
            .elements
            .iter()
            .any(|e| e.matcher.same(&element.matcher))
        {
            self.elements.push(element);
        }
    }

    /// `dns_iptable_addprefix`: `None` is the zero-length prefix of both
    /// families (`any`/`none`). A slot already set keeps its meaning.
    fn add_prefix(&mut self, prefix: Option<Prefix>, positive: bool, origin: Rc<Origin>) {
        let (key, families): ((u8, [u8; 16]), &[usize]) = match prefix {
            None => (any_key(), &[V4, V6]),
            Some(p) => (
                (p.length, masked(&octets(&p.address), p.length)),
                if p.address.is_ipv4() { &[V4] } else { &[V6] },
            ),
        };
        self.lengths.insert(key.0);
        let node = self.nodes.entry(key).or_default();
        if families.iter().any(|&f| node.slots[f].is_none()) {
            self.count += 1;
            for &f in families {
                if node.slots[f].is_none() {
                    node.slots[f] = Some(Slot {
                        num: self.count,
                        positive,
                        origin: Rc::clone(&origin),
                    });
                }
            }
        }
    }

    /// `dns_acl_merge`: the entries of `inner` after those of `self`,
    /// renumbered; with `positive` false, positive entries turn negative.
    fn merge(&mut self, inner: &CompiledAcl, positive: bool, name: Option<&str>) {
        let base = self.count;
        let mut max_element = 0;
        for element in &inner.elements {
            max_element = max_element.max(element.num);
            let matcher = match (&element.matcher, name) {
                (Matcher::Nested(acl, via), Some(name)) => {
                    Matcher::Nested(Rc::clone(acl), via.prepend(name))
                }
                (other, _) => other.clone(),
            };
            self.push_element(Element {
                matcher,
                negative: element.negative || !positive,
                num: element.num + base,
                origin: Rc::new(element.origin.via(name)),
            });
        }
        let elements_end = max_element + base;
        let mut max_node = 0;
        for (key, node) in &inner.nodes {
            self.lengths.insert(key.0);
            let target = self.nodes.entry(*key).or_default();
            for f in [V4, V6] {
                let Some(slot) = &node.slots[f] else {
                    continue;
                };
                if target.slots[f].is_none() {
                    target.slots[f] = Some(Slot {
                        num: base + slot.num,
                        positive: slot.positive,
                        origin: Rc::new(slot.origin.via(name)),
                    });
                }
                // dns_iptable_merge negates the slot even when the outer
                // list had it first.
                if !positive && slot.positive {
                    if let Some(target) = &mut target.slots[f] {
                        target.positive = false;
                    }
                }
                max_node = max_node.max(slot.num);
            }
        }
        self.count += max_node;
        self.count = self.count.max(elements_end);
    }

    /// `dns_acl_match` for a request from `endpoint`, signed by `signer`.
    pub(crate) fn matches(&self, endpoint: &Endpoint, signer: Option<&Labels>) -> AclMatch {
        let fam = family(&endpoint.address);
        let bytes = octets(&endpoint.address);
        let max = if fam == V4 { 32 } else { 128 };
        let mut best: Option<&Slot> = None;
        let mut candidates: Vec<&Node> = Vec::new();
        if self.nodes.len() <= 16 {
            // Few prefixes (the usual case): compare each, no hashing.
            for ((length, bits), node) in &self.nodes {
                if *length <= max && masked(&bytes, *length) == *bits {
                    candidates.push(node);
                }
            }
        } else {
            for &length in self.lengths.range(..=max) {
                if let Some(node) = self.nodes.get(&(length, masked(&bytes, length))) {
                    candidates.push(node);
                }
            }
        }
        for node in candidates {
            if let Some(slot) = &node.slots[fam] {
                if best.is_none_or(|b| slot.num < b.num) {
                    best = Some(slot);
                }
            }
        }
        let mut result = AclMatch {
            value: 0,
            origin: None,
        };
        let mut match_num: Option<u32> = None;
        if let Some(slot) = best {
            match_num = Some(slot.num);
            result.value = if slot.positive {
                i64::from(slot.num)
            } else {
                -i64::from(slot.num)
            };
            result.origin = Some((*slot.origin).clone());
        }
        for element in &self.elements {
            if match_num.is_some_and(|m| m < element.num) {
                break;
            }
            let found = match &element.matcher {
                Matcher::Key(key) => signer
                    .is_some_and(|s| s == key)
                    .then(|| (*element.origin).clone()),
                Matcher::Localhost => endpoint.localhost.then(|| (*element.origin).clone()),
                Matcher::Localnets => endpoint.localnets.then(|| (*element.origin).clone()),
                Matcher::Geoip(_) => endpoint.geoip.then(|| (*element.origin).clone()),
                Matcher::Nested(inner, via) => {
                    // A negative result inside is no match out here.
                    let inner = inner.matches(endpoint, signer);
                    if inner.allowed() {
                        Some(inner.origin.map_or_else(
                            || (*element.origin).clone(),
                            |o| Origin {
                                via: via.then(&o.via),
                                ..o
                            },
                        ))
                    } else {
                        None
                    }
                }
            };
            if let Some(origin) = found {
                if match_num.is_none_or(|m| element.num < m) {
                    result.value = if element.negative {
                        -i64::from(element.num)
                    } else {
                        i64::from(element.num)
                    };
                    result.origin = Some(origin);
                }
                break;
            }
        }
        result
    }

    /// Every address at which some prefix of this list (or of a list in
    /// it) starts or ends: between two consecutive ones, every address
    /// matches alike.
    pub fn boundaries(&self, out: &mut BTreeSet<IpAddr>) {
        for ((length, bits), node) in &self.nodes {
            for f in [V4, V6] {
                if node.slots[f].is_none() {
                    continue;
                }
                let width = if f == V4 { 32u32 } else { 128 };
                if u32::from(*length) > width {
                    continue;
                }
                let start = to_u128(bits, f);
                let span_bits = width - u32::from(*length);
                let end = if span_bits >= 128 {
                    u128::MAX
                } else {
                    start | ((1u128 << span_bits) - 1)
                };
                out.insert(from_u128(start, f));
                let top = if f == V4 {
                    u128::from(u32::MAX)
                } else {
                    u128::MAX
                };
                if end < top {
                    out.insert(from_u128(end + 1, f));
                }
            }
        }
        for element in &self.elements {
            if let Matcher::Nested(inner, _) = &element.matcher {
                inner.boundaries(out);
            }
        }
    }

    /// Whether some element depends on `localhost`, `localnets` or `geoip`.
    pub fn uses_flags(&self) -> (bool, bool, bool) {
        let mut flags = (false, false, false);
        for element in &self.elements {
            match &element.matcher {
                Matcher::Localhost => flags.0 = true,
                Matcher::Localnets => flags.1 = true,
                Matcher::Geoip(_) => flags.2 = true,
                Matcher::Nested(inner, _) => {
                    let inner = inner.uses_flags();
                    flags = (flags.0 | inner.0, flags.1 | inner.1, flags.2 | inner.2);
                }
                Matcher::Key(_) => {}
            }
        }
        flags
    }

    /// The `key` elements of the list, with where they are.
    pub(crate) fn keys(&self) -> Vec<(Labels, Origin)> {
        let mut out = Vec::new();
        for element in &self.elements {
            match &element.matcher {
                Matcher::Key(key) => out.push((key.clone(), (*element.origin).clone())),
                Matcher::Nested(inner, via) => {
                    out.extend(inner.keys().into_iter().map(|(k, o)| {
                        (
                            k,
                            Origin {
                                via: via.then(&o.via),
                                ..o
                            },
                        )
                    }))
                }
                _ => {}
            }
        }
        out
    }
}

fn to_u128(bits: &[u8; 16], fam: usize) -> u128 {
    if fam == V4 {
        u128::from(u32::from_be_bytes([bits[0], bits[1], bits[2], bits[3]]))
    } else {
        u128::from_be_bytes(*bits)
    }
}

fn from_u128(value: u128, fam: usize) -> IpAddr {
    if fam == V4 {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// Compiles the named ACLs of a configuration once each, as BIND's
/// `named_acl_cache` does, without recursion on references: a chain of
/// thousands of ACLs costs no stack.
pub struct AclCache<'c> {
    acls: &'c [super::model::Acl],
    compiled: HashMap<String, Option<Rc<CompiledAcl>>>,
}

impl<'c> AclCache<'c> {
    /// A cache over `acls`.
    pub fn new(acls: &'c [super::model::Acl]) -> Self {
        AclCache {
            acls,
            compiled: HashMap::new(),
        }
    }

    fn definition(&self, name: &str) -> Option<&'c super::model::Acl> {
        self.acls.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The compiled ACL `name`; `None` when it is undefined or part of a
    /// loop.
    pub fn get(&mut self, name: &str) -> Option<Rc<CompiledAcl>> {
        let lower = name.to_ascii_lowercase();
        if let Some(done) = self.compiled.get(&lower) {
            return done.clone();
        }
        // Compile every ACL `name` depends on first, deepest first.
        let mut order: Vec<String> = Vec::new();
        let mut state: HashMap<String, bool> = HashMap::new(); // false: in progress
        let mut stack: Vec<(String, bool)> = vec![(lower.clone(), false)];
        while let Some((acl, leaving)) = stack.pop() {
            if leaving {
                state.insert(acl.clone(), true);
                order.push(acl);
                continue;
            }
            if state.contains_key(&acl) || self.compiled.contains_key(&acl) {
                continue;
            }
            let Some(definition) = self.definition(&acl) else {
                self.compiled.insert(acl, None);
                continue;
            };
            state.insert(acl.clone(), false);
            stack.push((acl, true));
            for reference in references(&definition.elements).into_iter().rev() {
                let reference = reference.to_ascii_lowercase();
                match state.get(&reference) {
                    // A loop: named refuses the configuration.
                    Some(false) => {
                        self.compiled.insert(reference, None);
                    }
                    Some(true) => {}
                    None => stack.push((reference, false)),
                }
            }
        }
        for acl in order {
            if self.compiled.contains_key(&acl) {
                continue;
            }
            let Some(definition) = self.definition(&acl) else {
                continue;
            };
            let compiled = {
                let known = &self.compiled;
                let mut lookup = |n: &str| known.get(&n.to_ascii_lowercase()).cloned().flatten();
                CompiledAcl::compile(&definition.elements, &mut lookup)
            };
            self.compiled.insert(acl, Some(Rc::new(compiled)));
        }
        self.compiled.get(&lower).cloned().flatten()
    }

    /// Compiles a list that is not a named ACL (`allow-update { … }`).
    pub fn compile(&mut self, list: &AddressMatchList) -> CompiledAcl {
        for reference in references(list) {
            let _ = self.get(reference);
        }
        let known = &self.compiled;
        let mut lookup = |n: &str| known.get(&n.to_ascii_lowercase()).cloned().flatten();
        CompiledAcl::compile(list, &mut lookup)
    }
}

/// The ACL names a list refers to, nested lists included.
fn references(list: &AddressMatchList) -> Vec<&str> {
    let mut out = Vec::new();
    let mut lists = vec![list];
    while let Some(list) = lists.pop() {
        for element in &list.elements {
            match &element.kind {
                ElementKind::Acl(name) => out.push(name.as_str()),
                ElementKind::List(inner) => lists.push(inner),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_conf::NamedConf;
    use std::path::Path;

    fn endpoint(address: &str) -> Endpoint {
        Endpoint {
            address: address.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            localhost: false,
            localnets: false,
            geoip: false,
        }
    }

    /// Compiles `allow-update` of zone "t" in `text` (with its ACLs).
    fn list(acls: &str, update: &str) -> (CompiledAcl, NamedConf) {
        let text = format!(
            "{acls}\nzone \"t\" {{ type primary; file \"db\"; allow-update {{ {update} }}; }};"
        );
        let conf =
            NamedConf::parse_str(Path::new("t.conf"), &text).unwrap_or_else(|e| panic!("{e}"));
        let compiled = {
            let mut cache = AclCache::new(&conf.acls);
            let update = conf.zones[0]
                .allow_update
                .clone()
                .unwrap_or_else(|| panic!("no list"));
            cache.compile(&update)
        };
        (compiled, conf)
    }

    fn allows(acls: &str, update: &str, address: &str) -> bool {
        list(acls, update)
            .0
            .matches(&endpoint(address), None)
            .allowed()
    }

    #[test]
    fn prefixes_as_bind_reads_them() {
        let ok = |t: &str| parse_prefix(t).map(|p| p.to_string());
        assert_eq!(ok("10/8"), Ok("10.0.0.0/8".into()));
        assert_eq!(ok("10.1/16"), Ok("10.1.0.0/16".into()));
        assert_eq!(ok("192.0.2.1"), Ok("192.0.2.1/32".into()));
        assert_eq!(ok("2001:db8::/32"), Ok("2001:db8::/32".into()));
        assert_eq!(ok("fe80::1%eth0"), Ok("fe80::1/128".into()));
        assert_eq!(
            ok("10.0.0.1/8"),
            Err("address/prefix length mismatch".into())
        );
        assert_eq!(ok("10.1"), Err("incomplete IPv4 address or prefix".into()));
        assert_eq!(ok("10.0.0.0/33"), Err("invalid prefix length".into()));
    }

    #[test]
    fn not_none_is_any_and_first_match_wins() {
        // D2: `!none` lets everyone in.
        assert!(allows("", "!none;", "192.0.2.1"));
        // D3: `{ none; any; }` refuses everyone: the second /0 is ignored.
        assert!(!allows("", "none; any;", "192.0.2.1"));
        assert!(allows("", "any; none;", "192.0.2.1"));
        assert!(!allows("", "!192.0.2.1; any;", "192.0.2.1"));
        assert!(allows("", "!192.0.2.1; any;", "192.0.2.2"));
        assert!(allows("", "192.0.2.0/24; !192.0.2.1;", "192.0.2.1"));
        assert!(allows("", "any;", "2001:db8::1"));
        assert!(!allows("", "10.0.0.0/8;", "2001:db8::1"));
    }

    #[test]
    fn acl_names_ignore_case() {
        // D1.
        assert!(allows("acl Open { any; };", "OPEN;", "192.0.2.1"));
    }

    #[test]
    fn nested_lists_with_a_negation_stay_one_element() {
        // The inner `!10.0.0.1` is no match out here: `any` decides.
        assert!(allows("", "{ !10.0.0.1; 10.0.0.0/8; }; any;", "10.0.0.1"));
        // Without a negation inside, the list is merged: first match.
        assert!(allows("", "{ 10.0.0.1; }; !10.0.0.0/8;", "10.0.0.1"));
        // A negated list: its positives refuse.
        assert!(!allows("", "!{ 10.0.0.0/8; }; any;", "10.0.0.1"));
        assert!(allows("", "!{ 10.0.0.0/8; }; any;", "192.0.2.1"));
        // Negated with a negation inside: an element that refuses what the
        // inner list allows; the inner refusal is no match.
        assert!(!allows("", "!{ !10.0.0.1; any; }; any;", "192.0.2.1"));
        assert!(allows("", "!{ !10.0.0.1; any; }; any;", "10.0.0.1"));
    }

    #[test]
    fn a_negated_repeat_negates_the_first_too() {
        // dns_iptable_merge turns the outer 10.0.0.1 negative.
        assert!(!allows(
            "acl same { 10.0.0.1; };",
            "10.0.0.1; !same;",
            "10.0.0.1"
        ));
        assert!(!allows("acl all { any; };", "any; !all;", "192.0.2.1"));
    }

    #[test]
    fn keys_and_local_sets() {
        let (acl, _) = list("", "!key k1; key k2; localhost;");
        let k1 = Labels::parse("k1");
        let k2 = Labels::parse("K2.");
        let mut local = endpoint("192.0.2.1");
        assert!(!acl.matches(&local, Some(&k1)).allowed());
        assert!(acl.matches(&local, Some(&k2)).allowed());
        assert!(!acl.matches(&local, None).allowed());
        local.localhost = true;
        assert!(acl.matches(&local, None).allowed());
        assert!(!acl.matches(&local, Some(&k1)).allowed());
    }

    #[test]
    fn origins_name_the_element_and_the_acls() {
        let (acl, _) = list(
            "acl outer { inner; };\nacl inner { !10.1.1.1; 10.0.0.0/8; };",
            "outer; any;",
        );
        let found = acl.matches(&endpoint("10.2.0.1"), None);
        let origin = found.origin.unwrap_or_else(|| panic!("no origin"));
        assert_eq!(origin.text, "10.0.0.0/8");
        assert_eq!(origin.via.names(), ["outer", "inner"]);
        assert_eq!(origin.at.line, 2);
        let other = acl.matches(&endpoint("10.1.1.1"), None);
        assert_eq!(other.origin.map(|o| o.written), Some(Written::Any));
    }

    #[test]
    fn deep_chains_and_wide_fan_out() {
        let mut acls = String::new();
        for i in 0..2001 {
            acls.push_str(&format!("acl a{i} {{ a{}; }};\n", i + 1));
        }
        acls.push_str("acl a2001 { any; };\n");
        for i in 0..40 {
            acls.push_str(&format!("acl f{i} {{ f{n}; f{n}; f{n}; }};\n", n = i + 1));
        }
        acls.push_str("acl f40 { key k; };\n");
        let (acl, _) = list(&acls, "a0;");
        let found = acl.matches(&endpoint("192.0.2.1"), None);
        assert!(found.allowed());
        assert_eq!(found.origin.map(|o| o.via.names().len()), Some(2002));
        let (fan, _) = list(&acls, "f0;");
        assert!(fan
            .matches(&endpoint("192.0.2.1"), Some(&Labels::parse("k")))
            .allowed());
    }

    #[test]
    fn boundaries_cut_the_address_space() {
        let (acl, _) = list("", "10.0.0.0/8; 2001:db8::/32;");
        let mut cuts = BTreeSet::new();
        acl.boundaries(&mut cuts);
        let cuts: Vec<String> = cuts.iter().map(IpAddr::to_string).collect();
        assert_eq!(cuts, ["10.0.0.0", "11.0.0.0", "2001:db8::", "2001:db9::"]);
    }
}
