//! Running the kmsdns binary: [`Kmsdns`] builds the command line, [`Run`]
//! is what one run did, shown whole in assertion messages.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::bind::TestBed;

/// One kmsdns run.
pub struct Run {
    /// The arguments it was given.
    pub args: Vec<String>,
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    /// Standard output as the JSON document `T`; anything else fails the
    /// test and shows the run.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not the expected JSON ({e}):\n{self}"))
    }

    /// The findings of a text run whose id is `id`, one line each.
    pub fn lines_with(&self, id: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|line| line.split_whitespace().nth(1) == Some(id))
            .collect()
    }

    /// Standard output, then standard error.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kmsdns {}\nexit {} after {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args.join(" "),
            self.status,
            self.took,
            self.stdout,
            self.stderr
        )
    }
}

/// A kmsdns command line, run with `NO_COLOR=1`.
pub struct Kmsdns {
    command: assert_cmd::Command,
    args: Vec<String>,
    cwd: Option<PathBuf>,
}

impl Kmsdns {
    pub fn new() -> Kmsdns {
        let mut command = assert_cmd::Command::cargo_bin("kmsdns").expect("the kmsdns binary");
        command.env("NO_COLOR", "1");
        Kmsdns {
            command,
            args: Vec::new(),
            cwd: None,
        }
    }

    /// The test bed's primary as resolver and its port for authoritative
    /// servers; runs in the bed's directory, which has no `kmsdns.toml`,
    /// unless [`Kmsdns::cwd`] names another.
    pub fn bed(mut self, bed: &TestBed) -> Kmsdns {
        self.cwd.get_or_insert_with(|| bed.dir().to_path_buf());
        self.args([
            "--nameserver",
            &bed.primary().to_string(),
            "--dns-port",
            &bed.port().to_string(),
        ])
    }

    /// Runs in `dir`.
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Kmsdns {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Kmsdns {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Kmsdns {
        self.command.env_remove(key);
        self
    }

    pub fn arg(self, arg: impl AsRef<OsStr>) -> Kmsdns {
        self.args([arg])
    }

    pub fn args<I, S>(mut self, args: I) -> Kmsdns
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.args.push(arg.as_ref().to_string_lossy().into_owned());
            self.command.arg(arg);
        }
        self
    }

    /// Kills kmsdns after `timeout`, which fails the test.
    pub fn timeout(mut self, timeout: Duration) -> Kmsdns {
        self.command.timeout(timeout);
        self
    }

    /// Runs kmsdns to its end. Output that is not UTF-8, or an end without
    /// an exit status (a signal, the timeout), fails the test.
    pub fn run(mut self) -> Run {
        if let Some(dir) = &self.cwd {
            self.command.current_dir(dir);
        }
        let started = Instant::now();
        let output = self.command.output().expect("kmsdns runs");
        let took = started.elapsed();
        let run = Run {
            args: self.args,
            // No exit status: the assertion below fails, with this run.
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).expect("kmsdns writes UTF-8 to stdout"),
            stderr: String::from_utf8(output.stderr).expect("kmsdns writes UTF-8 to stderr"),
            took,
        };
        assert!(
            output.status.code().is_some(),
            "kmsdns did not exit ({}): killed by a signal or its timeout\n{run}",
            output.status
        );
        run
    }
}

/// Runs kmsdns with `args` against the test bed, from its directory.
pub fn kmsdns(bed: &TestBed, args: &[&str]) -> Run {
    Kmsdns::new().bed(bed).args(args).run()
}

/// Runs kmsdns in this test process with `hooks` (`kmsdns::run_with_hooks`):
/// exit status, stdout, stderr.
pub fn in_process(
    argv: Vec<String>,
    hooks: kmsdns::commands::changes::engine::Hooks,
) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = {
        let mut io = kmsdns::Io {
            stdout: &mut out,
            stderr: &mut err,
            stdout_is_terminal: false,
            stderr_is_terminal: false,
        };
        kmsdns::run_with_hooks(argv, &mut io, hooks)
    };
    (
        status,
        String::from_utf8(out).expect("kmsdns writes UTF-8 to stdout"),
        String::from_utf8(err).expect("kmsdns writes UTF-8 to stderr"),
    )
}
