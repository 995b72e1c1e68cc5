//! Properties of kmsdns's pure logic, checked on generated inputs
//! (proptest): RFC 1982 serial arithmetic against the RFC's own definition
//! computed in i64, RFC 2782 ordering and its first-pick chances against an
//! exhaustive enumeration of the selection algorithm, and the planner
//! against a model of what the server does with an UPDATE.

use std::cmp::Ordering;

use hickory_proto::rr::Name;
use kmsdns::commands::changes::planner::{self as plan, Change, Plan};
use kmsdns::config::{self, SrvRecord};
use kmsdns::dns::serial;
use kmsdns::dns::{SrvRrset, TtlScope};
use kmsdns::srv_order::{
    first_pick_probabilities, order, pick, priority_groups, simulate, Fraction, Random, SplitMix64,
    Weighted,
};
use proptest::prelude::*;

//------------ RFC 1982 ------------------------------------------------------

/// RFC 1982 §3.2 word for word, with SERIAL_BITS = 32, in i64 so that no
/// step wraps: i1 < i2 and i2 - i1 < 2^31, or i1 > i2 and i1 - i2 > 2^31.
fn rfc1982_less(s1: u32, s2: u32) -> bool {
    let (i1, i2) = (i64::from(s1), i64::from(s2));
    let half = 1i64 << 31;
    (i1 < i2 && i2 - i1 < half) || (i1 > i2 && i1 - i2 > half)
}

fn rfc1982_model(s1: u32, s2: u32) -> Option<Ordering> {
    if s1 == s2 {
        Some(Ordering::Equal)
    } else if rfc1982_less(s1, s2) {
        Some(Ordering::Less)
    } else if rfc1982_less(s2, s1) {
        Some(Ordering::Greater)
    } else {
        None
    }
}

/// Serials near the edges (0, 2^31, 2^32 - 1) are where wrapping bites.
fn any_serial() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        (0u32..16).prop_map(|d| d),
        (0u32..16).prop_map(|d| u32::MAX - d),
        (0u32..16).prop_map(|d| (1u32 << 31).wrapping_add(d).wrapping_sub(8)),
    ]
}

proptest! {
    #[test]
    fn serial_compare_is_the_rfc_definition(a in any_serial(), b in any_serial()) {
        prop_assert_eq!(serial::compare(a, b), rfc1982_model(a, b));
    }

    #[test]
    fn serial_compare_is_antisymmetric(a in any_serial(), b in any_serial()) {
        prop_assert_eq!(serial::compare(a, b), serial::compare(b, a).map(Ordering::reverse));
    }

    #[test]
    fn serial_compare_survives_the_wrap(a in any_serial(), b in any_serial(), shift in any::<u32>()) {
        // Adding the same amount to both, past 2^32 or not, changes nothing.
        prop_assert_eq!(
            serial::compare(a.wrapping_add(shift), b.wrapping_add(shift)),
            serial::compare(a, b)
        );
    }

    #[test]
    fn an_increment_below_half_the_space_is_newer(a in any_serial(), step in 1u32..(1 << 31)) {
        let newer = a.wrapping_add(step);
        prop_assert_eq!(serial::compare(a, newer), Some(Ordering::Less));
        prop_assert!(serial::reached(newer, a));
        prop_assert!(!serial::reached(a, newer));
        prop_assert_eq!(serial::behind_by(a, newer), Some(step));
        prop_assert_eq!(serial::behind_by(newer, a), None);
    }

    #[test]
    fn behind_by_counts_the_increments_to_the_target(a in any_serial(), b in any_serial()) {
        match serial::behind_by(a, b) {
            Some(lag) => {
                prop_assert_eq!(a.wrapping_add(lag), b);
                prop_assert!(lag > 0 && lag < 1 << 31);
                prop_assert!(!serial::reached(a, b));
            }
            None => prop_assert!(serial::reached(a, b) || serial::compare(a, b).is_none()),
        }
    }
}

//------------ RFC 2782 ------------------------------------------------------

/// Exact sum of fractions (denominators stay small here: lcm of n·z·(S+1)).
fn sum(fractions: &[Fraction]) -> Fraction {
    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let (mut num, mut den) = (0u128, 1u128);
    for f in fractions {
        let lcm = den / gcd(den, f.denominator()) * f.denominator();
        num = num * (lcm / den) + f.numerator() * (lcm / f.denominator());
        den = lcm;
    }
    Fraction::new(num, den)
}

/// A [`Random`] that replays chosen numbers and records each bound asked
/// for, to walk every outcome of the selection algorithm.
struct Scripted {
    choices: Vec<u64>,
    bounds: Vec<u64>,
}

impl Random for Scripted {
    fn below(&mut self, bound: u64) -> u64 {
        let at = self.bounds.len();
        self.bounds.push(bound);
        self.choices.get(at).copied().unwrap_or(0)
    }
}

/// The exact chance of each record being picked first by [`pick`]: every
/// sequence of random numbers is walked once, each weighing 1/Π bounds.
fn enumerated_first_pick(weights: &[u16]) -> Vec<Fraction> {
    let n = weights.len();
    // Numerators over the common denominator n!·Π(S+1) grow fast; keep
    // per-record (numerator, denominator) sums exact with u128.
    let mut chance: Vec<(u128, u128)> = vec![(0, 1); n];
    let mut choices: Vec<u64> = Vec::new();
    loop {
        let mut rng = Scripted {
            choices: choices.clone(),
            bounds: Vec::new(),
        };
        let mut remaining: Vec<usize> = (0..n).collect();
        let first = pick(weights, &mut remaining, &mut rng).expect("a record");
        let bounds = rng.bounds;
        let weight: u128 = bounds.iter().map(|&b| u128::from(b.max(1))).product();
        let (num, den) = chance[first];
        // num/den + 1/weight
        let lcm = lcm(den, weight);
        chance[first] = (num * (lcm / den) + lcm / weight, lcm);
        // Next sequence: odometer over the recorded bounds.
        let mut full: Vec<u64> = (0..bounds.len())
            .map(|i| choices.get(i).copied().unwrap_or(0))
            .collect();
        let mut i = full.len();
        loop {
            if i == 0 {
                return chance
                    .into_iter()
                    .map(|(num, den)| Fraction::new(num, den))
                    .collect();
            }
            i -= 1;
            if full[i] + 1 < bounds[i].max(1) {
                full[i] += 1;
                full.truncate(i + 1);
                break;
            }
        }
        choices = full;
    }
}

fn lcm(a: u128, b: u128) -> u128 {
    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    a / gcd(a, b) * b
}

/// Weights with zeros often, as real RRsets have them.
fn weight() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), 1u16..8, 0u16..=u16::MAX]
}

fn records() -> impl Strategy<Value = Vec<Weighted>> {
    prop::collection::vec(
        (0u16..4, weight()).prop_map(|(priority, weight)| Weighted { priority, weight }),
        1..12,
    )
}

proptest! {
    #[test]
    fn first_pick_chances_add_up_to_one(weights in prop::collection::vec(weight(), 1..40)) {
        let chances = first_pick_probabilities(&weights);
        prop_assert_eq!(chances.len(), weights.len());
        prop_assert_eq!(sum(&chances), Fraction::new(1, 1));
    }

    #[test]
    fn chances_add_up_to_one_in_every_priority_group(records in records()) {
        for group in priority_groups(&records) {
            let weights: Vec<u16> = group.members.iter().map(|&i| records[i].weight).collect();
            prop_assert_eq!(sum(&first_pick_probabilities(&weights)), Fraction::new(1, 1));
        }
    }

    #[test]
    fn weight_zero_gets_the_smallest_chance(weights in prop::collection::vec(weight(), 1..20)) {
        let chances = first_pick_probabilities(&weights);
        let zeros = weights.iter().filter(|&&w| w == 0).count();
        for (i, &w) in weights.iter().enumerate() {
            for (j, &v) in weights.iter().enumerate() {
                // A heavier record is never less likely to be first.
                if w < v {
                    prop_assert!(chances[i].value() <= chances[j].value());
                }
                if w == v {
                    prop_assert_eq!(chances[i], chances[j]);
                }
            }
            if w == 0 {
                // RFC 2782: weight 0 has "a very small chance"; all zero:
                // equal chances.
                let total: u128 = weights.iter().map(|&w| u128::from(w)).sum();
                let expected = Fraction::new(1, zeros as u128 * (total + 1));
                prop_assert_eq!(chances[i], expected);
            }
        }
    }

    #[test]
    fn first_pick_chances_are_those_of_the_algorithm(
        weights in prop::collection::vec(prop_oneof![Just(0u16), 1u16..6], 1..5)
    ) {
        prop_assert_eq!(enumerated_first_pick(&weights), first_pick_probabilities(&weights));
    }

    #[test]
    fn order_tries_every_record_once_lowest_priority_first(records in records(), seed in any::<u64>()) {
        let tried = order(&records, &mut SplitMix64::new(seed));
        let mut sorted = tried.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (0..records.len()).collect::<Vec<_>>());
        for pair in tried.windows(2) {
            prop_assert!(records[pair[0]].priority <= records[pair[1]].priority);
        }
    }

    #[test]
    fn simulation_counts_one_first_pick_per_group_and_client(records in records(), seed in any::<u64>()) {
        let clients = 50;
        let firsts = simulate(&records, clients, seed);
        let groups = priority_groups(&records).len() as u64;
        prop_assert_eq!(firsts.iter().sum::<u64>(), clients * groups);
        prop_assert_eq!(simulate(&records, clients, seed), firsts, "a seed repeats");
    }
}

//------------ The planner ---------------------------------------------------

const OWNED: [&str; 4] = [
    "kms0.corp.example.",
    "kms1.corp.example.",
    "kms2.corp.example.",
    "kms3.corp.example.",
];
const FOREIGN: [&str; 3] = [
    "other0.corp.example.",
    "kms1.elsewhere.example.",
    "rogue.example.",
];

/// A target as the server may spell it: any case.
fn spelled(name: &str, upper: bool) -> Name {
    let text = if upper {
        name.to_ascii_uppercase()
    } else {
        name.to_string()
    };
    Name::from_ascii(text).expect("a valid name")
}

fn srv_record(targets: &'static [&'static str]) -> impl Strategy<Value = SrvRecord> {
    (
        0u16..3,
        0u16..3,
        prop_oneof![Just(1688u16), Just(11688)],
        0..targets.len(),
        any::<bool>(),
    )
        .prop_map(move |(priority, weight, port, target, upper)| SrvRecord {
            priority,
            weight,
            port,
            target: spelled(targets[target], upper),
        })
}

/// What a primary serves: a set of records (an RRset holds each RR once,
/// RFC 2181 §5) of our hosts and others, with one TTL.
fn current() -> impl Strategy<Value = SrvRrset> {
    (
        prop::collection::vec(prop_oneof![srv_record(&OWNED), srv_record(&FOREIGN)], 0..8),
        prop_oneof![Just(600u32), Just(3600)],
    )
        .prop_map(|(records, ttl)| {
            let mut set: Vec<SrvRecord> = Vec::new();
            for record in records {
                if !set.contains(&record) {
                    set.push(record);
                }
            }
            SrvRrset::served(set.into_iter().map(|r| (r, ttl)).collect())
        })
}

/// What the configuration wants: one record per publishing host.
fn wanted() -> impl Strategy<Value = Vec<SrvRecord>> {
    prop::collection::vec(
        (0u16..3, 0u16..3, prop_oneof![Just(1688u16), Just(11688)]),
        4,
    )
    .prop_flat_map(|values| {
        prop::sample::subsequence((0..OWNED.len()).collect::<Vec<_>>(), 0..=OWNED.len()).prop_map(
            move |hosts| {
                hosts
                    .into_iter()
                    .map(|i| SrvRecord {
                        priority: values[i].0,
                        weight: values[i].1,
                        port: values[i].2,
                        target: spelled(OWNED[i], false),
                    })
                    .collect()
            },
        )
    })
}

/// The configuration's hosts, as `Config::owns_target` sees them.
fn configuration() -> config::Config {
    let hosts = OWNED
        .iter()
        .map(|name| (Name::from_ascii(name).expect("a valid name"), 1688))
        .collect();
    let list = config::reg::parse_publish_list(b"corp.example\n")
        .expect("a list")
        .list;
    config::from_parts(hosts, list, 3600).expect("a configuration")
}

/// What the server holds after the UPDATE built from `plan` (RFC 2136
/// §3.4.2): each delete removes the RR with that exact RDATA, each add
/// adds it unless present; BIND gives the RRset the TTL of the adds
/// ([`TtlScope::Rrset`]), AD only the records added ([`TtlScope::Record`]).
fn apply(current: &SrvRrset, plan: &Plan, scope: TtlScope) -> SrvRrset {
    let deletes = plan.deletes();
    let adds = plan.adds();
    let mut served: Vec<(SrvRecord, u32)> = current
        .records
        .iter()
        .zip(&current.record_ttls)
        .filter(|(r, _)| !deletes.contains(r))
        .map(|(r, ttl)| (r.clone(), *ttl))
        .collect();
    for add in &adds {
        if !served.iter().any(|(r, _)| r == *add) {
            served.push(((*add).clone(), plan.ttl));
        }
    }
    if scope == TtlScope::Rrset && !adds.is_empty() {
        served.iter_mut().for_each(|(_, ttl)| *ttl = plan.ttl);
    }
    SrvRrset::served(served)
}

fn never_touches_foreign(plan: &Plan, current: &SrvRrset, config: &config::Config) {
    for change in &plan.changes {
        match change {
            Change::Delete(record) | Change::Modify { from: record, .. } => assert!(
                config.owns_target(&record.target),
                "{change:?} touches another host's record"
            ),
            Change::Foreign(record) => assert!(!config.owns_target(&record.target)),
            Change::Prune(record) => panic!("{record:?} pruned without --prune"),
            Change::Add(_) | Change::Keep(_) => {}
        }
    }
    for record in plan.deletes() {
        assert!(config.owns_target(&record.target));
    }
    let after = apply(current, plan, TtlScope::Rrset);
    for record in &current.records {
        if !config.owns_target(&record.target) {
            assert!(after.records.contains(record), "{record:?} was lost");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn publishing_then_planning_again_changes_nothing(
        current in current(),
        wanted in wanted(),
        ttl in prop_oneof![Just(600u32), Just(3600), Just(60)],
        set_ttl in any::<bool>(),
        scope in prop_oneof![Just(TtlScope::Rrset), Just(TtlScope::Record)],
    ) {
        let config = configuration();
        let owns = |name: &Name| config.owns_target(name);
        let first = plan::publish(&current, &wanted, (ttl, set_ttl), scope, owns);
        let after = apply(&current, &first, scope);
        let again = plan::publish(&after, &wanted, (ttl, set_ttl), scope, owns);
        prop_assert!(!again.has_changes(), "second plan {:?} after {:?}", again, after);
        prop_assert!(again.changes.iter().all(|c| !c.is_change()));
        // Our hosts' records are now exactly the configured ones.
        let ours: Vec<&SrvRecord> =
            after.records.iter().filter(|r| owns(&r.target)).collect();
        prop_assert_eq!(ours.len(), wanted.len());
        for record in &wanted {
            prop_assert!(after.records.contains(record));
        }
        // --set-ttl gives the RRset (AD: our records) the configured TTL
        // whenever a record of ours is there to carry it in (other hosts'
        // records are never deleted and added back).
        if set_ttl && !ours.is_empty() {
            for (record, served) in after.records.iter().zip(&after.record_ttls) {
                if scope == TtlScope::Rrset || owns(&record.target) {
                    prop_assert_eq!(*served, ttl, "{:?}", record);
                } else {
                    prop_assert_eq!(Some(*served), current.ttl_of(record));
                }
            }
        }
        prop_assert_eq!(first.remaining(), after.records.len());
    }

    #[test]
    fn another_host_s_record_is_never_deleted_or_changed(
        current in current(),
        wanted in wanted(),
        set_ttl in any::<bool>(),
        only in prop::option::of(0..OWNED.len() + FOREIGN.len()),
    ) {
        let config = configuration();
        let owns = |name: &Name| config.owns_target(name);
        let published = plan::publish(&current, &wanted, (3600, set_ttl), TtlScope::Rrset, owns);
        never_touches_foreign(&published, &current, &config);
        let host = only.map(|i| {
            let all: Vec<&str> = OWNED.iter().chain(FOREIGN.iter()).copied().collect();
            spelled(all[i], i % 2 == 0)
        });
        let removed = plan::remove(&current, owns, host.as_ref());
        never_touches_foreign(&removed, &current, &config);
        if let Some(host) = &host {
            for record in removed.deletes() {
                prop_assert_eq!(&record.target, host);
            }
        }
    }

    #[test]
    fn remaining_is_what_the_rrset_holds_afterwards(
        current in current(),
        only in prop::option::of(0..OWNED.len()),
    ) {
        // `remove` refuses a plan whose `remaining()` is 0 unless forced:
        // that is only safe if `remaining()` is exactly what would be left.
        let config = configuration();
        let owns = |name: &Name| config.owns_target(name);
        let host = only.map(|i| spelled(OWNED[i], true));
        let plan = plan::remove(&current, owns, host.as_ref());
        let after = apply(&current, &plan, TtlScope::Rrset);
        prop_assert_eq!(plan.remaining(), after.records.len());
        prop_assert_eq!(plan.remaining() == 0, after.records.is_empty());
        if current.records.iter().any(|r| !owns(&r.target)) {
            prop_assert!(plan.remaining() > 0, "a foreign record keeps the RRset");
        }
    }
}

#[test]
fn target_case_does_not_make_a_change() {
    let config = configuration();
    let owns = |name: &Name| config.owns_target(name);
    let current = SrvRrset::served(vec![(
        SrvRecord {
            priority: 0,
            weight: 0,
            port: 1688,
            target: spelled(OWNED[1], true),
        },
        3600,
    )]);
    let wanted = [SrvRecord {
        priority: 0,
        weight: 0,
        port: 1688,
        target: spelled(OWNED[1], false),
    }];
    let plan = plan::publish(&current, &wanted, (3600, false), TtlScope::Rrset, owns);
    assert!(!plan.has_changes(), "{plan:?}");
    assert!(matches!(plan.changes.as_slice(), [Change::Keep(_)]));
}
