//! SOA serial arithmetic (RFC 1982): serials wrap around at 2^32, so
//! "newer" is defined modulo that, and some pairs are not comparable.

use std::cmp::Ordering;

/// Compares two serials per RFC 1982 §3.2 with SERIAL_BITS = 32.
/// `None` when the two are exactly 2^31 apart (undefined by the RFC).
pub fn compare(a: u32, b: u32) -> Option<Ordering> {
    if a == b {
        return Some(Ordering::Equal);
    }
    let diff = b.wrapping_sub(a);
    match diff.cmp(&(1 << 31)) {
        Ordering::Less => Some(Ordering::Less),
        Ordering::Greater => Some(Ordering::Greater),
        Ordering::Equal => None,
    }
}

/// Whether `serial` has reached `target` (equal, or newer in RFC 1982 terms).
pub fn reached(serial: u32, target: u32) -> bool {
    matches!(
        compare(serial, target),
        Some(Ordering::Equal | Ordering::Greater)
    )
}

/// How many increments `serial` is behind `target`, if it is behind.
pub fn behind_by(serial: u32, target: u32) -> Option<u32> {
    (compare(serial, target) == Some(Ordering::Less)).then(|| target.wrapping_sub(serial))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_and_wrapping_comparisons() {
        assert_eq!(compare(1, 2), Some(Ordering::Less));
        assert_eq!(compare(2, 1), Some(Ordering::Greater));
        assert_eq!(compare(7, 7), Some(Ordering::Equal));
        // Across the wrap: 4294967295 + 1 = 0.
        assert_eq!(compare(u32::MAX, 0), Some(Ordering::Less));
        assert_eq!(compare(0, u32::MAX), Some(Ordering::Greater));
        assert_eq!(compare(u32::MAX - 5, 10), Some(Ordering::Less));
        // Exactly 2^31 apart: undefined.
        assert_eq!(compare(0, 1 << 31), None);
        assert_eq!(compare(1 << 31, 0), None);
    }

    #[test]
    fn reached_and_lag() {
        assert!(reached(5, 5));
        assert!(reached(6, 5));
        assert!(!reached(4, 5));
        assert!(reached(2, u32::MAX));
        assert_eq!(behind_by(3, 10), Some(7));
        assert_eq!(behind_by(u32::MAX, 1), Some(2));
        assert_eq!(behind_by(10, 3), None);
    }
}
