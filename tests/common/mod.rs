//! Shared scaffolding of the integration tests.
//!
//! A module of the one integration test binary (`tests/integration.rs`),
//! compiled once; each test file takes the part it needs with
//! `use crate::common;`. Not every file is in every build (the `gssapi`
//! feature) and not every responder mode is used, hence the blanket
//! `dead_code` allowance.
#![allow(dead_code)]

pub mod bind;
pub mod kms_responder;
pub mod local;
pub mod relay;
pub mod run;
