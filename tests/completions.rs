//! Shell completions and the man page, checked by the programs that read
//! them: bash parses the completion script, groff formats the page.

use crate::common;

use std::io::Write;
use std::process::{Command as Process, Stdio};

use clap::CommandFactory;
use common::run::Kmsdns;

fn kmsdns(args: &[&str]) -> String {
    let run = Kmsdns::new().args(args).run();
    assert_eq!(run.status, 0, "{run}");
    run.stdout
}

/// Whether `program` is on PATH.
fn installed(program: &str) -> bool {
    Process::new("which")
        .arg(program)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `program args` with `input` on stdin; its status and stderr.
fn feed(program: &str, args: &[&str], input: &str) -> (bool, String) {
    let mut child = Process::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("write to stdin");
    let output = child.wait_with_output().expect("wait for the program");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every command users can type, from the clap definitions themselves, so
/// a command added later is checked too.
fn command_names() -> Vec<String> {
    kmsdns::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

#[test]
fn bash_completion_names_every_command_and_parses() {
    let script = kmsdns(&["completions", "bash"]);
    for name in command_names() {
        assert!(script.contains(&name), "{name} missing from:\n{script}");
    }
    assert!(script.contains("--fail-on"), "{script}");
    assert!(script.contains("complete -F"), "{script}");
    let (ok, stderr) = feed("bash", &["-n"], &script);
    assert!(ok, "bash -n rejects the script: {stderr}");
}

#[test]
fn every_shell_gets_a_script_whatever_the_format() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = kmsdns(&["--format", "json", "completions", shell]);
        assert!(script.contains("replication"), "{shell}: {script}");
        assert!(!script.starts_with('{'), "{shell}: a script, not JSON");
    }
    let unknown = Kmsdns::new().args(["completions", "tcsh"]).run();
    assert_eq!(unknown.status, 3);
}

#[test]
fn man_page_has_exit_status_and_renders() {
    let page = kmsdns(&["man"]);
    assert!(page.contains("\n.TH KMSDNS 1"), "{page}");
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    for status in ["OK:", "WARNING:", "CRITICAL:", "UNKNOWN:"] {
        assert!(page.contains(status), "{status} missing: {page}");
    }
    for name in command_names() {
        assert!(
            page.contains(&format!("kmsdns\\-{}", name.replace('-', "\\-"))),
            "{name}"
        );
    }
    // Only groff can say the page renders: without it the test fails.
    assert!(
        installed("groff"),
        "groff is not installed, so the man page cannot be rendered: install it \
         (Debian/Ubuntu: apt-get install groff-base); this test does not skip"
    );
    // -ww: every warning; a malformed request would show up on stderr.
    let (ok, stderr) = feed("groff", &["-man", "-Tutf8", "-ww", "-z"], &page);
    assert!(ok && stderr.is_empty(), "groff: {stderr}");
    let bind = kmsdns(&["man", "bind"]);
    let (ok, stderr) = feed("groff", &["-man", "-Tutf8", "-ww", "-z"], &bind);
    assert!(ok && stderr.is_empty(), "groff: {stderr}");
}
