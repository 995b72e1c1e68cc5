//! The order in which a client tries SRV targets (RFC 2782, "Usage rules"),
//! and the chance of each target being tried first.
//!
//! Windows 7 / Server 2008 R2 and later honour priority and weight of the
//! `_vlmcs._tcp` records (DESIGN §2), but Microsoft does not document its
//! exact algorithm: everything here is a model of RFC 2782, labelled as such
//! wherever it is shown.
//!
//! RFC 2782, page 3, numbered as in [`pick`]:
//! 1. lowest priority first; records of one priority form a group;
//! 2. inside a group, arrange the records not yet ordered "in any order,
//!    except that all those with weight 0 are placed at the beginning";
//! 3. compute the running sum of the weights in that arrangement;
//! 4. draw a uniform integer from 0 to the sum, inclusive;
//! 5. take the first record whose running sum is at least that number;
//! 6. remove it and repeat for the rest of the group, then the next group.
//!
//! "Any order" is modelled as a uniformly random arrangement (resolvers
//! rotate RRsets, so a client sees every order). Then, with S the sum of the
//! weights of a group, n its records and z of them of weight 0, the chance
//! that a record is picked first ([`first_pick_probabilities`]) is:
//! - weight w > 0, z > 0: w / (S+1) — the draw 0 goes to a zero-weight record;
//! - weight 0, z > 0: 1 / (z·(S+1)) — "a very small chance" when others have
//!   weight, and 1/z each when all weights are 0;
//! - z = 0: (n·w + 1) / (n·(S+1)) — the draw 0 goes to whichever record is
//!   arranged first.

mod fraction;
mod random;

pub use fraction::Fraction;
pub use random::{Random, SplitMix64};

/// What ordering needs of an SRV record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weighted {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative weight inside the priority.
    pub weight: u16,
}

/// The records of one priority, tried before those of any higher number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityGroup {
    /// The priority shared by the members.
    pub priority: u16,
    /// Indices into the records given, in their given order.
    pub members: Vec<usize>,
}

impl PriorityGroup {
    /// The sum of the members' weights.
    pub fn total_weight(&self, records: &[Weighted]) -> u64 {
        self.members
            .iter()
            .map(|&i| u64::from(records[i].weight))
            .sum()
    }
}

/// The priority groups of `records`, lowest priority (tried first) first.
pub fn priority_groups(records: &[Weighted]) -> Vec<PriorityGroup> {
    let mut priorities: Vec<u16> = records.iter().map(|r| r.priority).collect();
    priorities.sort_unstable();
    priorities.dedup();
    priorities
        .into_iter()
        .map(|priority| PriorityGroup {
            priority,
            members: (0..records.len())
                .filter(|&i| records[i].priority == priority)
                .collect(),
        })
        .collect()
}

/// The chance of each record of one priority group (given by its weights)
/// being the first one a client tries, exactly, under the model of the
/// module documentation. The chances add up to 1.
pub fn first_pick_probabilities(weights: &[u16]) -> Vec<Fraction> {
    let n = weights.len() as u128;
    let zeros = weights.iter().filter(|&&w| w == 0).count() as u128;
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    weights
        .iter()
        .map(|&w| {
            let w = u128::from(w);
            match (zeros, w) {
                // The draw 0 always lands on the first zero-weight record
                // of the arrangement, one of `zeros` equally likely ones.
                (0, _) => Fraction::new(n * w + 1, n * (sum + 1)),
                (_, 0) => Fraction::new(1, zeros * (sum + 1)),
                (_, _) => Fraction::new(w, sum + 1),
            }
        })
        .collect()
}

/// One selection step of RFC 2782 inside a priority group: removes the
/// chosen record from `remaining` (indices into `weights`) and returns it.
/// `None` when nothing remains.
pub fn pick(weights: &[u16], remaining: &mut Vec<usize>, rng: &mut impl Random) -> Option<usize> {
    if remaining.is_empty() {
        return None;
    }
    // Step 2: a random arrangement (Fisher–Yates), then weight 0 first; the
    // stable sort keeps the random order inside both parts.
    for i in (1..remaining.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        remaining.swap(i, j);
    }
    let weight = |i: usize| u64::from(weights.get(i).copied().unwrap_or(0));
    remaining.sort_by_key(|&i| weight(i) != 0);
    // Steps 3 and 4.
    let sum: u64 = remaining.iter().map(|&i| weight(i)).sum();
    let drawn = rng.below(sum + 1);
    // Step 5: the running sum reaches `sum` ≥ `drawn` at the latest on the
    // last record.
    let mut running = 0;
    let position = remaining
        .iter()
        .position(|&i| {
            running += weight(i);
            running >= drawn
        })
        .unwrap_or(remaining.len() - 1);
    // Step 6.
    Some(remaining.remove(position))
}

/// The full order in which one client would try `records` (indices),
/// priority group by priority group.
pub fn order(records: &[Weighted], rng: &mut impl Random) -> Vec<usize> {
    let weights: Vec<u16> = records.iter().map(|r| r.weight).collect();
    let mut ordered = Vec::with_capacity(records.len());
    for group in priority_groups(records) {
        let mut remaining = group.members;
        while let Some(next) = pick(&weights, &mut remaining, rng) {
            ordered.push(next);
        }
    }
    ordered
}

/// How often each record was the first one tried in its priority group
/// over `clients` seeded runs of [`order`], indexed like `records`.
pub fn simulate(records: &[Weighted], clients: u64, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix64::new(seed);
    let mut first = vec![0u64; records.len()];
    for _ in 0..clients {
        let mut seen_priorities: Vec<u16> = Vec::new();
        for index in order(records, &mut rng) {
            let priority = records[index].priority;
            if !seen_priorities.contains(&priority) {
                seen_priorities.push(priority);
                first[index] += 1;
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fractions(weights: &[u16]) -> Vec<String> {
        first_pick_probabilities(weights)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn weighted_records_with_one_zero() {
        // S = 90, one zero: 60/91, 30/91 and the draw 0 for the zero.
        assert_eq!(fractions(&[60, 30, 0]), ["60/91", "30/91", "1/91"]);
    }

    #[test]
    fn several_zeros_share_the_draw_zero() {
        // S = 10, two zeros: 10/11 and 1/22 each.
        assert_eq!(fractions(&[0, 10, 0]), ["1/22", "10/11", "1/22"]);
    }

    #[test]
    fn all_zero_weights_are_equally_likely() {
        assert_eq!(fractions(&[0, 0, 0]), ["1/3", "1/3", "1/3"]);
        assert_eq!(fractions(&[0]), ["1/1"]);
    }

    #[test]
    fn without_zeros_the_draw_zero_goes_to_the_first_arranged() {
        // S = 4, n = 2: (2·1+1)/(2·5) and (2·3+1)/(2·5).
        assert_eq!(fractions(&[1, 3]), ["3/10", "7/10"]);
        assert_eq!(fractions(&[5, 5]), ["1/2", "1/2"]);
        assert_eq!(fractions(&[75]), ["1/1"]);
    }

    #[test]
    fn probabilities_add_up_to_one() {
        for weights in [
            &[60, 30, 0][..],
            &[0, 0, 1],
            &[65535, 65535, 0, 1],
            &[7, 11, 13],
        ] {
            let total = first_pick_probabilities(weights)
                .iter()
                .fold(Fraction::new(0, 1), |sum, p| add(sum, *p));
            assert_eq!(total, Fraction::new(1, 1), "{weights:?}");
        }
    }

    fn add(a: Fraction, b: Fraction) -> Fraction {
        Fraction::new(
            a.numerator() * b.denominator() + b.numerator() * a.denominator(),
            a.denominator() * b.denominator(),
        )
    }

    /// Every arrangement and every draw of RFC 2782's first step, counted:
    /// an exact first-pick distribution independent of the formula.
    fn enumerate_first_picks(weights: &[u16]) -> Vec<Fraction> {
        let n = weights.len();
        let sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut counts = vec![0u128; n];
        let mut total = 0u128;
        for arrangement in permutations(n) {
            let mut arranged = arrangement.clone();
            arranged.sort_by_key(|&i| weights[i] != 0);
            for drawn in 0..=sum {
                let mut running = 0;
                let chosen = arranged
                    .iter()
                    .find(|&&i| {
                        running += u64::from(weights[i]);
                        running >= drawn
                    })
                    .copied();
                if let Some(chosen) = chosen {
                    counts[chosen] += 1;
                }
                total += 1;
            }
        }
        counts.iter().map(|&c| Fraction::new(c, total)).collect()
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut all = Vec::new();
        for shorter in permutations(n - 1) {
            for at in 0..=shorter.len() {
                let mut p = shorter.clone();
                p.insert(at, n - 1);
                all.push(p);
            }
        }
        all
    }

    #[test]
    fn formula_matches_enumeration_of_the_algorithm() {
        let sets: [&[u16]; 9] = [
            &[60, 30, 0],
            &[0, 10, 0],
            &[0, 0, 0],
            &[1, 3],
            &[5, 5, 5],
            &[0, 1],
            &[2, 0, 3, 0, 1],
            &[10, 20, 30, 40],
            &[0],
        ];
        for weights in sets {
            assert_eq!(
                first_pick_probabilities(weights),
                enumerate_first_picks(weights),
                "weights {weights:?}"
            );
        }
    }

    /// Draws chosen by the test, to follow `pick` step by step.
    struct Scripted(Vec<u64>);

    impl Random for Scripted {
        fn below(&mut self, bound: u64) -> u64 {
            let next = if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            };
            assert!(next < bound.max(1), "scripted {next} not below {bound}");
            next
        }
    }

    #[test]
    fn pick_follows_the_running_sum() {
        let weights = [60, 30, 0];
        // Shuffle draws that keep the order [0, 1, 2]: j = i each time;
        // then zero first: [2, 0, 1], running sums 0, 60, 90.
        let shuffle_identity = |drawn: u64| Scripted(vec![2, 1, drawn]);
        for (drawn, expected) in [(0, 2), (1, 0), (60, 0), (61, 1), (90, 1)] {
            let mut remaining = vec![0, 1, 2];
            let chosen = pick(&weights, &mut remaining, &mut shuffle_identity(drawn));
            assert_eq!(chosen, Some(expected), "draw {drawn}");
            assert_eq!(remaining.len(), 2);
            assert!(!remaining.contains(&expected));
        }
        assert_eq!(pick(&weights, &mut Vec::new(), &mut Scripted(vec![])), None);
    }

    #[test]
    fn order_is_by_priority_then_covers_every_record() {
        let records = [
            Weighted {
                priority: 10,
                weight: 0,
            },
            Weighted {
                priority: 0,
                weight: 5,
            },
            Weighted {
                priority: 0,
                weight: 5,
            },
            Weighted {
                priority: 20,
                weight: 1,
            },
        ];
        let groups = priority_groups(&records);
        assert_eq!(
            groups.iter().map(|g| g.priority).collect::<Vec<_>>(),
            [0, 10, 20]
        );
        assert_eq!(groups[0].members, [1, 2]);
        assert_eq!(groups[0].total_weight(&records), 10);
        let mut rng = SplitMix64::new(3);
        for _ in 0..50 {
            let ordered = order(&records, &mut rng);
            assert_eq!(ordered.len(), 4);
            assert!(ordered[..2].contains(&1) && ordered[..2].contains(&2));
            assert_eq!(ordered[2..], [0, 3]);
        }
    }

    #[test]
    fn simulation_approaches_the_computed_chances() {
        let records = [
            Weighted {
                priority: 0,
                weight: 60,
            },
            Weighted {
                priority: 0,
                weight: 30,
            },
            Weighted {
                priority: 0,
                weight: 0,
            },
            Weighted {
                priority: 0,
                weight: 0,
            },
            Weighted {
                priority: 5,
                weight: 1,
            },
            Weighted {
                priority: 5,
                weight: 3,
            },
        ];
        let clients = 40_000;
        let observed = simulate(&records, clients, 11);
        let expected = [
            first_pick_probabilities(&[60, 30, 0, 0]),
            first_pick_probabilities(&[1, 3]),
        ]
        .concat();
        for (i, (count, chance)) in observed.iter().zip(&expected).enumerate() {
            let share = *count as f64 / clients as f64;
            assert!(
                (share - chance.value()).abs() < 0.01,
                "record {i}: observed {share}, computed {chance}"
            );
        }
        // Every simulated client picks exactly one first record per group.
        assert_eq!(observed[..4].iter().sum::<u64>(), clients);
        assert_eq!(observed[4..].iter().sum::<u64>(), clients);
        // Seeded: the same run twice.
        assert_eq!(simulate(&records, 1000, 5), simulate(&records, 1000, 5));
    }
}
