//! Shared scaffolding of the integration tests.
//!
//! A module of the one integration test binary (`tests/integration.rs`),
//! compiled once; each test file takes the part it needs with
//! `use crate::common;`. Not every file is in every build (the `gssapi`
//! feature) and not every responder mode is used, hence the blanket
//! `dead_code` allowance.
#![allow(dead_code)]

use std::time::Duration;

pub mod bind;
pub mod kms_responder;
pub mod knot;
pub mod local;
pub mod pdns;
pub mod prometheus;
pub mod relay;
pub mod run;
#[cfg(feature = "gssapi")]
pub mod samba;
pub mod servers;
pub mod signed;
pub mod silent;

/// Upper bound for work that must end by its own timeouts or waits, and
/// does so here within about a second: a silent server asked with
/// `--timeout 200ms`, a `--wait 1s` that runs out, a 20,000-pick
/// simulation. Such a bound only tells "ended" from "ended far too late",
/// so it is 30 times what any of these takes: a loaded machine (two cores
/// shared with BIND and the other test threads) does not reach it. A run
/// that never ends never reaches its assertion either: that is the test
/// harness's (or CI's) timeout to catch.
pub const OVERDUE: Duration = Duration::from_secs(30);
