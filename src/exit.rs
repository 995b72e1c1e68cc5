//! Exit status, the same for every command (Nagios plugin convention).

/// Everything is as it should be.
pub const OK: u8 = 0;
/// At least one warning, no critical finding.
pub const WARNING: u8 = 1;
/// A critical finding, or a change that failed.
pub const CRITICAL: u8 = 2;
/// kmsdns could not run: usage, configuration or I/O error.
pub const UNKNOWN: u8 = 3;
