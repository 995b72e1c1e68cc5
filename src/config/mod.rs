//! Configuration: KMS hosts, the publish list, per-domain options and keys.

pub mod key;
