//! The `kmsdns` binary: everything happens in [`kmsdns::run`].

use std::io::{stderr, stdout, BufWriter, IsTerminal};
use std::process::ExitCode;

fn main() -> ExitCode {
    fix_mmap_threshold();
    let (out, err) = (stdout(), stderr());
    let mut io = kmsdns::Io {
        stdout_is_terminal: out.is_terminal(),
        stderr_is_terminal: err.is_terminal(),
        // Rust's stdout flushes at every newline: a report of thousands of
        // domains was thousands of write(2) calls. `run` flushes when the
        // report is written (and sees a closed pipe there); dropping the
        // buffer flushes what usage errors and help printed.
        stdout: &mut BufWriter::with_capacity(64 * 1024, out.lock()),
        stderr: &mut err.lock(),
    };
    ExitCode::from(kmsdns::run(std::env::args_os(), &mut io))
}

/// glibc's mmap threshold, fixed at glibc's own starting value: blocks of
/// this size or more get their own mapping, returned when freed. 64 KiB,
/// 256 KiB and 1 MiB peaked the same (docs/benchmarks.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Fixes glibc's mmap threshold at [`MMAP_THRESHOLD`], unless the
/// administrator tuned it.
///
/// Left dynamic, glibc raises the threshold to the size of each mapped
/// block freed (up to 32 MiB): once the command line's and the
/// configuration's large vectors are freed, the next large ones come from
/// the heap, and the heap they leave is kept. `updates --named-conf` with
/// 100,000 `--domain` peaked at 78 MiB so, 61-62 MiB fixed, under the
/// 64 MiB of issue 20 ("100,000 domains" in docs/benchmarks.md). A fixed
/// threshold also keeps the trim threshold at its 128 KiB, which measured
/// no worse than larger ones.
///
/// `MALLOC_MMAP_THRESHOLD_`, or `glibc.malloc.mmap_threshold` in
/// `GLIBC_TUNABLES`, has set the threshold before `main`; a `mallopt` now
/// would override it, so then it is left as the administrator set it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    let tuned = std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var_os("GLIBC_TUNABLES")
            .is_some_and(|tunables| tunables.to_string_lossy().contains("mmap_threshold"));
    if !tuned {
        // SAFETY: mallopt(3) takes no pointers and locks malloc's state
        // itself; it only changes when later blocks are mapped.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
    }
}

/// Other allocators keep their own policy.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_mmap_threshold() {}
