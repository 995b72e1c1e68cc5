//! The `kmsdns` binary: everything happens in [`kmsdns::run`].

use std::io::{stderr, stdout, BufWriter, IsTerminal};
use std::process::ExitCode;

fn main() -> ExitCode {
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
