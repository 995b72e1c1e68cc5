//! The integration tests: one test binary whose modules are the files of
//! `tests/` (`Cargo.toml` has `autotests = false` and this one `[[test]]`).
//! One binary links the library and the shared helpers of `tests/common/`
//! once, instead of once per file.
//!
//! A test's name starts with its file's: `cargo test --test integration
//! publish::` runs `tests/publish.rs`. A new file here is compiled only once
//! it is listed below; `every_file_is_a_module` fails until it is.

mod common;

mod audit;
mod bench_quick;
mod big_inputs;
mod bind_gss;
mod bind_material;
mod check;
mod cli;
mod completions;
mod contrib;
mod discover;
mod dns_layer;
mod dnssec;
mod faults;
mod formats;
mod gss_tsig;
mod jsonl;
mod kill;
mod local_files;
mod monitoring;
mod named_conf;
mod named_conf_live;
mod options;
mod other_servers;
mod package;
mod probe;
mod properties;
mod publish;
mod replication;
mod rpc_probe;
mod samba_ad;
mod secrets;
mod server_matrix;
mod testbed;
mod timeouts;
mod tsig_algorithms;
mod updates;
mod windows;

/// With `autotests = false`, Cargo no longer builds a `tests/*.rs` file on
/// its own: one that is not a module above would never run.
#[test]
fn every_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("integration.rs")).expect("tests/integration.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let path = entry.expect("a tests/ entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs")
            && stem != "integration"
            && !root.lines().any(|line| line == format!("mod {stem};"))
        {
            missing.push(stem.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "tests/{{{}}}.rs: not a module of tests/integration.rs, so never compiled or run",
        missing.join(",")
    );
}
