//! Shared scaffolding of the integration tests.
//!
//! Every test binary (`tests/*.rs`) includes this module with `mod common;`
//! and uses the part it needs, hence the blanket `dead_code` allowance.
#![allow(dead_code)]

pub mod bind;
pub mod local;
pub mod relay;
pub mod run;
