//! Exact fractions for selection probabilities, so that a computed chance
//! such as 60/91 can be compared with the RFC 2782 algorithm exactly.

use std::fmt;

/// A non-negative fraction in lowest terms.
///
/// `u128` parts leave room for any SRV RRset: a DNS message holds fewer
/// than 2^16 records of weight below 2^16, so denominators stay below 2^48.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fraction {
    numerator: u128,
    denominator: u128,
}

impl Fraction {
    /// `numerator / denominator` in lowest terms; a zero denominator gives 0/1
    /// (no records, no chance).
    pub fn new(numerator: u128, denominator: u128) -> Fraction {
        if denominator == 0 {
            return Fraction {
                numerator: 0,
                denominator: 1,
            };
        }
        let divisor = gcd(numerator, denominator);
        Fraction {
            numerator: numerator / divisor,
            denominator: denominator / divisor,
        }
    }

    /// The numerator, in lowest terms.
    pub fn numerator(self) -> u128 {
        self.numerator
    }

    /// The denominator, in lowest terms.
    pub fn denominator(self) -> u128 {
        self.denominator
    }

    /// The value as a float, for percentages.
    pub fn value(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }
}

impl fmt::Display for Fraction {
    /// `60/91`, `1/1`, `0/1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_to_lowest_terms() {
        assert_eq!(Fraction::new(6, 10).to_string(), "3/5");
        assert_eq!(Fraction::new(0, 7).to_string(), "0/1");
        assert_eq!(Fraction::new(7, 7).to_string(), "1/1");
        assert_eq!(Fraction::new(1, 0).to_string(), "0/1");
        assert_eq!(Fraction::new(60, 91), Fraction::new(120, 182));
    }

    #[test]
    fn value_is_the_quotient() {
        assert_eq!(Fraction::new(1, 4).value(), 0.25);
        assert_eq!(Fraction::new(0, 3).value(), 0.0);
    }
}
