//! kmsdns: publish, check and remove the `_vlmcs._tcp` SRV records through
//! which Windows KMS clients find their activation hosts.

pub mod config;
pub mod exit;
pub mod report;
