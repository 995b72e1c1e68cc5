//! The `kmsdns` binary: everything happens in [`kmsdns::run`].

use std::io::{stderr, stdout, IsTerminal};
use std::process::ExitCode;

fn main() -> ExitCode {
    let (out, err) = (stdout(), stderr());
    let mut io = kmsdns::Io {
        stdout_is_terminal: out.is_terminal(),
        stderr_is_terminal: err.is_terminal(),
        stdout: &mut out.lock(),
        stderr: &mut err.lock(),
    };
    ExitCode::from(kmsdns::run(std::env::args_os(), &mut io))
}
