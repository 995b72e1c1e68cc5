//! `--format nagios|prometheus` and `--fail-on` through the binary, on a
//! report that needs no DNS: `bind --out` with a key file readable by every
//! local user, which is a warning.

use crate::common;

use std::path::{Path, PathBuf};

use common::run::Kmsdns;

/// A configuration whose key file is mode 0644: `bind` warns about it.
fn warning_config(dir: &Path) -> PathBuf {
    let key = dir.join("k.key");
    std::fs::copy("zones/keys/kmsdns-secure.key", &key).expect("copy the test key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))
            .expect("chmod the key");
    }
    let config = dir.join("kmsdns.toml");
    std::fs::write(
        &config,
        "publish-list = [\"corp.example\"]\n\
         [[host]]\nname = \"kms1.corp.example\"\n\
         [domain.\"corp.example\"]\nkey = \"k\"\n\
         [tsig-key.k]\nfile = \"k.key\"\n",
    )
    .expect("write the configuration");
    config
}

#[test]
fn nagios_status_line_and_fail_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = warning_config(dir.path());
    let out = dir.path().join("out");
    let (config, out) = (
        config.to_str().expect("UTF-8"),
        out.to_str().expect("UTF-8"),
    );
    // `kmsdns -c CONFIG <extra> bind --out OUT`
    let args = |extra: &[&'static str]| {
        let mut args = vec!["-c", config];
        args.extend_from_slice(extra);
        args.extend(["bind", "--out", out]);
        args
    };

    let warning = args(&["--format", "nagios"]);
    let result = Kmsdns::new().args(&warning).run();
    assert_eq!(result.status, 1, "{}", result.stderr);
    let mut lines = result.stdout.lines();
    let status = lines.next().unwrap_or_default();
    assert!(
        status.starts_with("KMSDNS WARNING - 1 finding: 0 critical, 1 warning; key file "),
        "{status}"
    );
    assert!(
        status.ends_with(" | domains=0 critical=0;;;0 warning=1;;;0"),
        "{status}"
    );
    let long = lines.next().unwrap_or_default();
    assert!(long.starts_with("WARNING key-file-permissions: "), "{long}");
    assert_eq!(lines.next(), None);

    let critical_only = args(&["--format", "nagios", "--fail-on", "critical"]);
    let result = Kmsdns::new().args(&critical_only).run();
    assert_eq!(
        result.status, 0,
        "a warning exits 0 with --fail-on critical"
    );
    assert!(
        result.stdout.starts_with("KMSDNS WARNING - "),
        "{}",
        result.stdout
    );

    let text = Kmsdns::new().args(args(&["--fail-on", "critical"])).run();
    assert_eq!(text.status, 0);
    let text = Kmsdns::new().args(args(&["--fail-on", "warning"])).run();
    assert_eq!(text.status, 1);
}

#[test]
fn prometheus_gauges() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = warning_config(dir.path());
    let out = dir.path().join("out");
    let result = Kmsdns::new()
        .args([
            "-c",
            config.to_str().expect("UTF-8 path"),
            "--format",
            "prometheus",
            "bind",
            "--out",
            out.to_str().expect("UTF-8 path"),
        ])
        .run();
    assert_eq!(result.status, 1, "{}", result.stderr);
    for line in [
        "# TYPE kmsdns_up gauge",
        "kmsdns_up 1",
        "kmsdns_status 1",
        "kmsdns_findings{severity=\"warning\"} 1",
        "kmsdns_findings_by_id{id=\"key-file-permissions\",severity=\"warning\"} 1",
    ] {
        assert!(
            result.stdout.lines().any(|l| l == line),
            "{line} missing from:\n{}",
            result.stdout
        );
    }
    assert!(result
        .stdout
        .lines()
        .any(|l| l.starts_with("kmsdns_last_run_timestamp_seconds ")));
}

#[test]
fn errors_are_in_the_monitoring_format() {
    let nagios = Kmsdns::new()
        .args([
            "--format",
            "nagios",
            "-c",
            "/nonexistent/kmsdns.toml",
            "bind",
        ])
        .run();
    assert_eq!(nagios.status, 3);
    assert!(
        nagios
            .stdout
            .starts_with("KMSDNS UNKNOWN - cannot read configuration /nonexistent/kmsdns.toml"),
        "{}",
        nagios.stdout
    );
    assert_eq!(nagios.stdout.lines().count(), 1);

    let prometheus = Kmsdns::new()
        .args([
            "--format",
            "prometheus",
            "-c",
            "/nonexistent/kmsdns.toml",
            "bind",
        ])
        .run();
    assert_eq!(prometheus.status, 3);
    assert!(
        prometheus.stdout.contains("\nkmsdns_up 0\n"),
        "{}",
        prometheus.stdout
    );
    assert!(
        prometheus.stderr.contains("cannot read configuration"),
        "{}",
        prometheus.stderr
    );
    // --fail-on never hides that kmsdns could not run.
    let hidden = Kmsdns::new()
        .args([
            "--fail-on",
            "critical",
            "-c",
            "/nonexistent/kmsdns.toml",
            "bind",
        ])
        .run();
    assert_eq!(hidden.status, 3);
}

#[test]
fn material_is_refused_in_monitoring_formats() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = warning_config(dir.path());
    let result = Kmsdns::new()
        .args([
            "--format",
            "nagios",
            "-c",
            config.to_str().expect("UTF-8 path"),
            "bind",
        ])
        .run();
    assert_eq!(result.status, 3);
    assert_eq!(
        result.stdout,
        "KMSDNS UNKNOWN - bind prints material, not a status: use --format text or json, or --out DIR\n"
    );
}
