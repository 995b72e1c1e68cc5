//! One entry per subcommand: its clap arguments and its `run`.
//!
//! Each command with network I/O is a folder split the same way:
//! `mod.rs` (arguments and `run`), `observe.rs` (what it reads from the
//! network), `judge.rs` (pure: what was read becomes findings) and
//! `details.rs` (its serde types and text rendering). `plan`, `publish`
//! and `remove` are thin entries over the engine in `changes/`; `reads.rs`
//! says how `check`, `replication`, `updates` and `probe` are run window
//! by window ([`windows`]). No command imports another, except `audit`,
//! which composes them.

pub mod audit;
pub mod bind;
pub mod changes;
pub mod check;
pub mod completions;
pub mod discover;
pub mod man;
pub mod plan;
pub mod probe;
pub mod publish;
pub mod reads;
pub mod remove;
pub mod replication;
pub mod updates;
pub mod windows;
