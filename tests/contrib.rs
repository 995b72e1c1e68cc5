//! The files of `contrib/`, checked by the tools that will read them:
//! the systemd units by `systemd-analyze verify` (and `security`, for the
//! hardening), the Nagios command lines run as Nagios would run them,
//! against the real BIND test bed. (The Prometheus rules are tested in
//! `tests/monitoring.rs`, on textfiles kmsdns wrote.)

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::bind::TestBed;
use common::local::tool;
use common::run::Kmsdns;

/// The file `relative` of `contrib/`.
fn contrib(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(relative)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kmsdns binary of this build, which stands in for /usr/bin/kmsdns.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kmsdns"))
}

/// Copies of the units, their ExecStart pointed at the built binary
/// (verify wants it to exist), and the man pages kmsdns generates in a
/// MANPATH of their own (verify looks up `Documentation=man:…`).
fn units_to_verify(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let service = dir.join("kmsdns-audit.service");
    let timer = dir.join("kmsdns-audit.timer");
    let text = read(&contrib("systemd/kmsdns-audit.service"));
    assert!(text.contains("ExecStart=/usr/bin/kmsdns "), "{text}");
    let text = text.replace("/usr/bin/kmsdns", binary().to_str().expect("UTF-8"));
    std::fs::write(&service, text).expect("write the service");
    std::fs::copy(contrib("systemd/kmsdns-audit.timer"), &timer).expect("copy the timer");
    let man = dir.join("man");
    std::fs::create_dir_all(man.join("man1")).expect("man1");
    let pages = Kmsdns::new()
        .args(["man", "--out"])
        .arg(man.join("man1"))
        .run();
    assert_eq!(pages.status, 0, "{pages}");
    (service, timer, man)
}

#[test]
fn systemd_units_verify_and_are_hardened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (service, timer, man) = units_to_verify(dir.path());
    let analyze = tool("systemd-analyze", "systemd");
    let output = Command::new(&analyze)
        .env("MANPATH", &man)
        .current_dir(dir.path())
        .arg("verify")
        .args([&service, &timer])
        .output()
        .expect("systemd-analyze runs");
    // verify exits 0 on an unknown or misspelt key, with a warning: any
    // word on stderr is a failure.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify ({}): {stderr}",
        output.status
    );
    // Exposure 2.0 or less ("OK" on systemd's scale of 0 to 10, given ×10).
    let output = Command::new(&analyze)
        .env("MANPATH", &man)
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&service)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        output.status.success(),
        "systemd-analyze security: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `command_line` of each `define command` in `text`.
fn command_lines(text: &str) -> Vec<(String, String)> {
    let mut commands = Vec::new();
    let mut name = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("command_name") {
            name = Some(value.trim().to_string());
        }
        if let Some(value) = line.strip_prefix("command_line") {
            let name = name.take().expect("command_name before command_line");
            commands.push((name, value.trim().to_string()));
        }
    }
    commands
}

/// Nagios' default `service_check_timeout`: a check still running then is
/// killed and reported as CRITICAL, whatever kmsdns would have found.
const NAGIOS_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// The value of `option` on a command line, as a duration.
fn duration_option(line: &str, option: &str) -> Duration {
    let mut words = line.split_whitespace();
    let value = words
        .find(|w| *w == option)
        .and_then(|_| words.next())
        .unwrap_or_else(|| panic!("no {option} in {line}"));
    humantime::parse_duration(value).unwrap_or_else(|e| panic!("{option} {value}: {e}"))
}

/// The longest an `audit` of at most `--concurrency` domains takes, per
/// the README's worst-case run time: a deadline each for check, updates
/// and probe, two for replication, and probe's connects (2 timeouts).
fn worst_audit(line: &str) -> Duration {
    5 * duration_option(line, "--deadline") + 2 * duration_option(line, "--timeout")
}

#[test]
fn nagios_commands_run_as_nagios_would_run_them() {
    let bed = TestBed::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kmsdns.toml");
    std::fs::write(
        &config,
        "publish-list = [\"static.example\"]\n\
         [[host]]\nname = \"kms1.secure.example\"\n\
         [[host]]\nname = \"kms2.secure.example\"\n",
    )
    .expect("write config");
    let text = read(&contrib("nagios/kmsdns.cfg"));
    let commands = command_lines(&text);
    assert_eq!(
        commands.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["check_kmsdns", "check_kmsdns_domain"]
    );
    // The service passes the configuration as $ARG1$.
    assert!(text.contains("check_command           check_kmsdns!/etc/kmsdns/kmsdns.toml"));
    for (name, line) in commands {
        let line = line
            .replace("$ARG1$", config.to_str().expect("UTF-8"))
            .replace("$ARG2$", "static.example");
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some("/usr/bin/kmsdns"), "{name}");
        assert!(
            worst_audit(&line) <= NAGIOS_CHECK_TIMEOUT,
            "{name}: an audit may outlast service_check_timeout: {line}"
        );
        // Nagios runs the line as it is; the test bed adds its resolver
        // and port, and the probe finds no KMS host there (critical).
        let run = Kmsdns::new().cwd(dir.path()).bed(&bed).args(words).run();
        assert!(
            run.stdout.starts_with("KMSDNS CRITICAL - "),
            "{name}: {run}"
        );
        assert_eq!(run.status, 2, "{name}: {run}");
    }
}
