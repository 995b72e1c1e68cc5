//! The command line as users meet it: help, usage errors, configuration
//! errors (exit 3, clear message with file, line and column), JSON errors.

use crate::common;

use std::path::Path;

use common::run::{Kmsdns, Run};

/// kmsdns as users meet it: NO_COLOR unset, a terminal 100 columns wide.
fn kmsdns() -> Kmsdns {
    Kmsdns::new().env_remove("NO_COLOR").env("COLUMNS", "100")
}

fn run(args: &[&str]) -> Run {
    kmsdns().args(args).run()
}

#[test]
fn help_is_pinned() {
    let top = run(&["--help"]);
    assert_eq!(top.status, 0);
    insta::assert_snapshot!("help", top.stdout);
    let bind = run(&["bind", "--help"]);
    assert_eq!(bind.status, 0);
    insta::assert_snapshot!("help-bind", bind.stdout);
}

#[test]
fn usage_errors_exit_3_not_clap_2() {
    let unknown = run(&["frobnicate"]);
    assert_eq!(unknown.status, 3);
    assert!(
        unknown
            .stderr
            .contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        unknown.stderr
    );
    let bad_format = run(&["--format", "xml", "bind"]);
    assert_eq!(bad_format.status, 3);
    let bad_port = run(&["--dns-port", "0", "bind"]);
    assert_eq!(bad_port.status, 3);
    let none = run(&[]);
    assert_eq!(none.status, 3);
}

/// A duration too long for the clock is a usage error naming the option
/// and its cap, never a panic ("overflow when adding durations").
#[test]
fn overlong_durations_are_refused_not_a_panic() {
    let max = "18446744073709551615";
    for (args, option, cap) in [
        (
            vec!["--deadline", max, "replication", "--wait", "1"],
            "--deadline",
            "at most 1 day",
        ),
        (
            vec!["--timeout", max, "check"],
            "--timeout",
            "at most 1 day",
        ),
        (
            vec!["replication", "--wait", max],
            "--wait",
            "at most 1 week",
        ),
        (
            vec!["publish", "--wait-replication", max],
            "--wait-replication",
            "at most 1 week",
        ),
    ] {
        let refused = run(&args);
        assert_eq!(refused.status, 3, "{refused}");
        assert!(
            refused.stderr.contains(option) && refused.stderr.contains(cap),
            "{refused}"
        );
        assert!(!refused.stderr.contains("panicked"), "{refused}");
    }
}

#[test]
fn version_exits_0() {
    let version = run(&["--version"]);
    assert_eq!(version.status, 0);
    assert_eq!(
        version.stdout.trim(),
        format!("kmsdns {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Every malformed configuration gives its message on stderr, exit 3,
/// and writes nothing.
#[test]
fn configuration_errors_are_pinned() {
    let dir = Path::new("tests/data/config");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/data/config exists")
        .map(|e| {
            e.expect("readable dir entry")
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 9, "fixtures missing: {names:?}");
    let out = tempfile::tempdir().expect("temp dir");
    let mut all = String::new();
    for name in names {
        let path = format!("tests/data/config/{name}");
        let target = out.path().join(&name);
        let result = run(&[
            "bind",
            "-c",
            &path,
            "--out",
            target.to_str().expect("UTF-8 path"),
        ]);
        assert_eq!(result.status, 3, "{name}: {}", result.stderr);
        assert!(result.stdout.is_empty(), "{name}: {}", result.stdout);
        assert!(!target.exists(), "{name}: output written despite the error");
        all.push_str(&format!("{name}:\n{}\n", result.stderr));
    }
    insta::assert_snapshot!("config-errors", all);
}

#[test]
fn missing_configuration_is_explained() {
    let empty = tempfile::tempdir().expect("temp dir");
    let missing = kmsdns().cwd(empty.path()).args(["bind"]).run();
    assert_eq!(missing.status, 3);
    // /etc/kmsdns/kmsdns.toml does not exist on test machines.
    assert!(
        missing
            .stderr
            .contains("no configuration file: give -c FILE"),
        "{missing}"
    );
    let explicit = run(&["bind", "-c", "/nonexistent/kmsdns.toml"]);
    assert_eq!(explicit.status, 3);
    assert!(
        explicit
            .stderr
            .contains("cannot read configuration /nonexistent/kmsdns.toml"),
        "{}",
        explicit.stderr
    );
}

#[test]
fn errors_are_json_in_json_mode() {
    let result = run(&[
        "--format",
        "json",
        "bind",
        "-c",
        "tests/data/config/unknown-key.toml",
    ]);
    assert_eq!(result.status, 3);
    let doc: serde_json::Value =
        serde_json::from_str(&result.stdout).expect("an error document in JSON");
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["command"], "bind");
    assert_eq!(doc["status"], "unknown");
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown field `prot`")),
        "{doc}"
    );
}

#[test]
fn reg_import_without_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reg = dir.path().join("export.reg");
    // A regedit export: UTF-16LE with a BOM.
    let text = "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform]\r\n\"DnsDomainPublishList\"=hex(7):63,00,6f,00,72,00,70,00,2e,00,65,00,78,00,61,00,\\\r\n  6d,00,70,00,6c,00,65,00,2c,00,20,00,31,00,30,00,2c,00,20,00,37,00,35,00,00,\\\r\n  00,00,00\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(&reg, bytes).expect("write .reg");
    let result = run(&[
        "bind",
        "--only",
        "zone",
        "--publish-list-reg",
        reg.to_str().expect("UTF-8 path"),
        "--host",
        "kms1.corp.example",
        "--host",
        "kms2.corp.example:11688",
    ]);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert!(
        result
            .stdout
            .contains("_vlmcs._tcp.corp.example. 3600 IN SRV 10 75 1688 kms1.corp.example.\n"),
        "{}",
        result.stdout
    );
    assert!(
        result
            .stdout
            .contains("_vlmcs._tcp.corp.example. 3600 IN SRV 10 75 11688 kms2.corp.example.\n"),
        "{}",
        result.stdout
    );

    let missing_host = run(&[
        "bind",
        "--publish-list-reg",
        reg.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!(missing_host.status, 3);
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let args = ["bind", "-c", "tests/data/config/unknown-key.toml"];
    // Not a terminal: no escape codes, whatever NO_COLOR says.
    let plain = run(&args);
    assert!(!plain.stderr.contains('\x1b'), "{}", plain.stderr);
    // A report on stdout with --color always is coloured, and NO_COLOR does
    // not override an explicit choice.
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    std::fs::write(
        dir.path().join("k.key"),
        "key \"k\" { algorithm hmac-sha256; secret \"AAAA\"; };\n",
    )
    .expect("key");
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        "key = \"k\"\npublish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n[tsig-key.k]\nfile = \"k.key\"\n",
    )
    .expect("config");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("k.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let coloured = kmsdns()
        .env("NO_COLOR", "1")
        .args(["--color", "always", "bind", "-c"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .run();
    assert_eq!(coloured.status, 1, "a world-readable key is a warning");
    assert!(coloured.stdout.contains('\x1b'), "{}", coloured.stdout);
    let never = kmsdns()
        .args(["--color", "never", "bind", "-c"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .run();
    assert!(!never.stdout.contains('\x1b'));
    assert!(never.stdout.contains("key-file-permissions"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::{Command as StdCommand, Stdio};
    // Far more output than a pipe buffer (64 KiB) holds.
    let dir = tempfile::tempdir().expect("temp dir");
    let domains: Vec<String> = (0..3000)
        .map(|i| format!("\"d{i}.corp.example\""))
        .collect();
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        format!(
            "publish-list = [{}]\n[[host]]\nname = \"kms1.corp.example\"\n",
            domains.join(", ")
        ),
    )
    .expect("config");
    let bin = assert_cmd::cargo::cargo_bin("kmsdns");
    let mut child = StdCommand::new(bin)
        .arg("bind")
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kmsdns starts");
    // Read one byte, then close our end: kmsdns's next writes hit EPIPE.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("kmsdns exits");
    assert_eq!(
        status.code(),
        Some(0),
        "quiet exit, not killed by SIGPIPE: {status:?}"
    );
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
}
