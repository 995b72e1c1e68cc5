//! Validation of whole configuration files.

use std::path::Path;

use super::*;

const KEY: &str = "key \"kmsdns-corp\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXRlc3Qta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg==\";\n};\n";

fn parse_in(dir: &Path, text: &str) -> Result<Config, ConfigError> {
    parse(text, &dir.join("kmsdns.toml"))
}

fn parse_str(text: &str) -> Result<Config, ConfigError> {
    parse(text, Path::new("/nonexistent/kmsdns.toml"))
}

fn error(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

#[test]
fn full_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("corp.key"), KEY).unwrap();
    let config = parse_in(
        dir.path(),
        r#"
ttl = 1800
complete = true
key = "corp"
publish-list = ["corp.example", "branch.corp.example, 10, 75", { domain = "lab.example", weight = 5 }]

[[host]]
name = "kms1.corp.example"
addresses = ["192.0.2.10", "2001:db8::10"]

[[host]]
name = "kms2.corp.example."
port = 11688
publish-list = ["corp.example, 5, 0"]

[domain."corp.example"]
ttl = 600
server = "192.0.2.53:5353"

[tsig-key.corp]
file = "corp.key"
"#,
    )
    .unwrap();
    assert!(config.complete);
    assert_eq!(config.hosts.len(), 2);
    assert_eq!(config.hosts[1].port, 11688);
    assert_eq!(config.hosts[0].addresses.len(), 2);
    let names: Vec<String> = config.domains.iter().map(|d| d.name.to_ascii()).collect();
    assert_eq!(
        names,
        ["corp.example.", "branch.corp.example.", "lab.example."]
    );
    let corp = &config.domains[0];
    assert_eq!(corp.ttl, 600);
    assert_eq!(corp.srv_name().to_ascii(), "_vlmcs._tcp.corp.example.");
    assert_eq!(
        corp.server.as_deref(),
        Some(&ServerSpec::Addr {
            ip: "192.0.2.53".parse().unwrap(),
            port: Some(5353)
        })
    );
    assert_eq!(corp.key.as_ref().unwrap().name.to_ascii(), "kmsdns-corp");
    let records: Vec<(u16, u16, u16, String)> = corp
        .records
        .iter()
        .map(|r| (r.priority, r.weight, r.port, r.target.to_ascii()))
        .collect();
    assert_eq!(
        records,
        [
            (0, 0, 1688, "kms1.corp.example.".to_string()),
            (5, 0, 11688, "kms2.corp.example.".to_string())
        ]
    );
    assert_eq!(config.domains[1].ttl, 1800);
    assert_eq!(config.domains[1].records.len(), 1);
    assert_eq!(config.domains[2].records[0].weight, 5);
}

#[test]
fn unknown_keys_name_line_and_column() {
    let err =
        error("publish-list = [\"a.example\"]\n[[host]]\nname = \"kms1.a.example\"\nprot = 1688\n");
    assert!(err.starts_with("/nonexistent/kmsdns.toml:4:1: "), "{err}");
    assert!(err.contains("unknown field `prot`"), "{err}");
}

/// With two mistakes the one reported is the first in the file, not the
/// first in key order: toml's `preserve_order` (Cargo.toml).
#[test]
fn the_first_mistake_in_the_file_is_reported() {
    let err = error(
        "publish-list = [\"a.example\"]\n[[host]]\nname = \"kms1.a.example\"\nzport = 1688\naddress = []\n",
    );
    assert!(err.starts_with("/nonexistent/kmsdns.toml:4:1: "), "{err}");
    assert!(err.contains("unknown field `zport`"), "{err}");
    let err = error("publish-list = [{ weight = \"x\", bogus = 1 }]\n");
    assert!(err.contains("`weight` has the wrong type"), "{err}");
}

#[test]
fn bad_values_are_located() {
    let base = "publish-list = [\"a.example\"]\n[[host]]\nname = \"kms1.a.example\"\n";
    let cases = [
        (
            format!("{base}port = 70000\n"),
            "4:8: port 70000 is out of range (1 to 65535)",
        ),
        (format!("{base}port = 0\n"), "4:8: port 0 is out of range"),
        (format!("ttl = -1\n{base}"), "1:7: ttl -1 is out of range"),
        (
            format!("ttl = 2147483648\n{base}"),
            "ttl 2147483648 is out of range",
        ),
        (
            "publish-list = [\"a.example, 99999, 0\"]\n[[host]]\nname = \"kms1.a.example\"\n"
                .to_string(),
            "1:17: publish-list entry \"a.example, 99999, 0\": priority",
        ),
        (
            "publish-list = [\"bad domain\"]\n[[host]]\nname = \"kms1.a.example\"\n".to_string(),
            "1:17: publish-list entry \"bad domain\"",
        ),
        (
            "publish-list = [\"a.example\", \"A.example.\"]\n[[host]]\nname = \"k.a.example\"\n"
                .to_string(),
            "1:30: A.example. is listed twice",
        ),
        (
            format!("{base}addresses = [\"192.0.2.300\"]\n"),
            "\"192.0.2.300\" is not an IP address",
        ),
        (
            format!("{base}[[host]]\nname = \"KMS1.a.example.\"\n"),
            "is listed twice",
        ),
        (
            "publish-list = [\"a.example\"]\n[[host]]\nname = \"kms 1\"\n".to_string(),
            "3:8: \"kms 1\" contains ' '",
        ),
        (
            format!("{base}[domain.\"b.example\"]\nttl = 5\n"),
            "[domain.\"b.example\"] is in no publish list",
        ),
        (
            format!("key = \"nokey\"\n{base}"),
            "1:7: no [tsig-key.nokey] is defined",
        ),
        (
            format!("{base}[tsig-key.x]\n"),
            "needs exactly one of `file` or `env`",
        ),
        (
            format!("{base}[tsig-key.x]\nfile = \"/nonexistent/x.key\"\n"),
            "cannot read key file /nonexistent/x.key",
        ),
        (
            format!("{base}[tsig-key.x]\nenv = \"KMSDNS_TEST_UNSET_VARIABLE\"\n"),
            "environment variable KMSDNS_TEST_UNSET_VARIABLE is not set",
        ),
        (
            "publish-list = [\"a.example\"]\n".to_string(),
            "no KMS host",
        ),
        (
            "[[host]]\nname = \"k.a.example\"\n".to_string(),
            "has no publish list",
        ),
        (
            "publish-list = []\n[[host]]\nname = \"k.a.example\"\n".to_string(),
            "the publish list is empty",
        ),
        (
            "publish-list = [1]\n[[host]]\nname = \"k.a.example\"\n".to_string(),
            "entries are strings",
        ),
        (
            "publish-list = [\"a\"\n".to_string(),
            "kmsdns.toml:1:20: unclosed array, expected `]`",
        ),
    ];
    for (text, want) in cases {
        let err = error(&text);
        assert!(
            err.contains(want),
            "for\n{text}\nwanted {want:?}\ngot {err:?}"
        );
    }
}

#[test]
fn reg_import_relative_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("list.txt"),
        "corp.example, 10, 75\nbranch.example\n",
    )
    .unwrap();
    let config = parse_in(
        dir.path(),
        "publish-list-reg = \"list.txt\"\n[[host]]\nname = \"kms1.corp.example\"\n",
    )
    .unwrap();
    assert_eq!(config.domains.len(), 2);
    assert_eq!(config.domains[0].records[0].priority, 10);
}

#[test]
fn reg_import_problems_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = reg::KEY_PATH;
    std::fs::write(
        dir.path().join("list.reg"),
        format!("REGEDIT4\n[{key}]\n\"DnsDomainPublishList\"=\"a.example\"\n\"DnsDomainPublishList\"=\"b.example\"\n"),
    )
    .unwrap();
    let text = "publish-list-reg = \"list.reg\"\n[[host]]\nname = \"kms1.corp.example\"\n";
    let config = parse_in(dir.path(), text).unwrap();
    assert_eq!(config.domains[0].name.to_ascii(), "b.example.");
    assert_eq!(config.warnings.len(), 1);
    assert_eq!(config.warnings[0].id, FindingId::PublishListImport);
    assert!(
        config.warnings[0].message.ends_with("list.reg:4: DnsDomainPublishList is also set on line 3: regedit keeps the last, so this one (line 4) is used"),
        "{:?}",
        config.warnings[0]
    );

    std::fs::write(dir.path().join("list.reg"), "a.example\nbad name\n").unwrap();
    let err = parse_in(dir.path(), text).unwrap_err().to_string();
    assert!(err.contains("kmsdns.toml:1:20: "), "{err}");
    assert!(
        err.contains("list.reg:2: publish-list entry \"bad name\""),
        "{err}"
    );
}

#[test]
fn inputs_that_are_not_regular_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = "publish-list = [\"a.example\"]\n[[host]]\nname = \"kms1.a.example\"\n[tsig-key.k]\nfile = \"/dev/zero\"\n";
    let err = parse_in(dir.path(), key).unwrap_err().to_string();
    assert!(
        err.ends_with(
            "cannot read key file /dev/zero: it is a character device, not a regular file"
        ),
        "{err}"
    );
    let reg = "publish-list-reg = \".\"\n[[host]]\nname = \"kms1.a.example\"\n";
    let err = parse_in(dir.path(), reg).unwrap_err().to_string();
    assert!(
        err.contains("it is a directory, not a regular file"),
        "{err}"
    );
    let err = load(Path::new("/dev/zero")).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot read configuration /dev/zero: it is a character device, not a regular file"
    );
}

#[test]
fn key_file_readable_by_others_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("corp.key");
    std::fs::write(&key, KEY).unwrap();
    let text = "key = \"k\"\npublish-list = [\"a.example\"]\n[[host]]\nname = \"kms1.a.example\"\n[tsig-key.k]\nfile = \"corp.key\"\n";
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(parse_in(dir.path(), text).unwrap().warnings.is_empty());
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warnings = parse_in(dir.path(), text).unwrap().warnings;
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].id, FindingId::KeyFilePermissions);
}

#[test]
fn errors_never_contain_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let bad = KEY.replace("hmac-sha256", "hmac-nope");
    std::fs::write(dir.path().join("corp.key"), bad).unwrap();
    let err = parse_in(
        dir.path(),
        "publish-list = [\"a.example\"]\n[[host]]\nname = \"kms1.a.example\"\n[tsig-key.k]\nfile = \"corp.key\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unsupported algorithm"), "{err}");
    assert!(!err.contains("c2VjcmV0"), "{err}");
}

#[test]
fn servers_parse() {
    assert_eq!(
        parse_server("[::1]:5300").unwrap(),
        ServerSpec::Addr {
            ip: "::1".parse().unwrap(),
            port: Some(5300)
        }
    );
    assert!(matches!(
        parse_server("ns1.corp.example").unwrap(),
        ServerSpec::Name(_)
    ));
    assert!(parse_server("1.2.3.4:0").is_err());
    assert!(parse_server("no way").is_err());
}

#[test]
fn a_host_that_cannot_be_an_srv_target_is_refused_where_it_is_written() {
    for (name, says) in [("192.0.2.1", "is an IP address"), ("kms1", "single label")] {
        let text = format!("publish-list = [\"corp.example\"]\n[[host]]\nname = \"{name}\"\n");
        let message = error(&text);
        assert!(message.contains(says), "{name}: {message}");
        assert!(message.contains(":3:"), "the line of the name: {message}");
    }
}

#[test]
fn hosts_not_managed_here_are_known_never_owned() {
    let config = parse_str(
        r#"
publish-list = ["corp.example", "lab.example"]

[[host]]
name = "kms1.corp.example"

[[host]]
name = "other.corp.example"
managed = false

[[host]]
name = "shared.corp.example"
managed = false
required = true
publish-list = ["lab.example"]
"#,
    )
    .unwrap();
    let other = name::parse_name("other.corp.example").unwrap();
    let shared = name::parse_name("shared.corp.example").unwrap();
    assert_eq!(config.target_kind(&other), TargetKind::Foreign);
    assert!(!config.owns_target(&other));
    // Never in a domain's records: never published, changed or removed.
    for domain in &config.domains {
        assert!(domain
            .records
            .iter()
            .all(|r| r.target != other && r.target != shared));
    }
    assert!(config.domains[0].required_foreign.is_empty());
    assert_eq!(config.domains[1].required_foreign, [shared]);
}

#[test]
fn managed_false_options_are_checked() {
    let base = "publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n";
    let message = error(&format!(
        "{base}[[host]]\nname = \"o.example\"\nmanaged = false\nrequired = true\n"
    ));
    assert!(
        message.contains("needs the host's own publish-list"),
        "{message}"
    );
    let message = error(&format!("{base}required = true\n"));
    assert!(
        message.contains("for hosts with managed = false"),
        "{message}"
    );
    let message = error(&format!(
        "{base}[[host]]\nname = \"o.example\"\nmanaged = false\npublish-list = [\"elsewhere.example\"]\n"
    ));
    assert!(
        message.contains("no managed host publishes to"),
        "{message}"
    );
    let message = error(
        "publish-list = [\"corp.example\"]\n[[host]]\nname = \"o.example\"\nmanaged = false\n",
    );
    assert!(
        message.contains("add at least one host kmsdns manages"),
        "{message}"
    );
}

#[test]
fn zone_and_address_ttl() {
    let config = parse_str(
        "address-ttl = 300\npublish-list = [\"corp.example\", \"branch.corp.example\"]\n\
         [[host]]\nname = \"kms1.corp.example\"\n\
         [[host]]\nname = \"kms2.corp.example\"\naddress-ttl = 60\n\
         [domain.\"branch.corp.example\"]\nzone = \"branch.corp.example\"\n",
    )
    .unwrap();
    let ttls: Vec<Option<u32>> = config.hosts.iter().map(|h| h.address_ttl).collect();
    assert_eq!(ttls, [Some(300), Some(60)]);
    let zones: Vec<Option<String>> = config
        .domains
        .iter()
        .map(|d| d.zone.as_ref().map(|z| z.to_ascii()))
        .collect();
    assert_eq!(zones, [None, Some("branch.corp.example.".to_string())]);
    // No address-ttl anywhere: keep the TTL of what is there.
    let config =
        parse_str("publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n")
            .unwrap();
    assert_eq!(config.hosts[0].address_ttl, None);

    let below = error(
        "publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n\
         [domain.\"corp.example\"]\nzone = \"branch.corp.example\"\n",
    );
    assert!(
        below.contains(":5:8: zone branch.corp.example. does not hold corp.example."),
        "{below}"
    );
    let beside = error(
        "publish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n\
         [domain.\"corp.example\"]\nzone = \"other.example\"\n",
    );
    assert!(beside.contains("does not hold corp.example."), "{beside}");
    let ttl = error(
        "address-ttl = -1\npublish-list = [\"corp.example\"]\n[[host]]\nname = \"kms1.corp.example\"\n",
    );
    assert!(ttl.contains("address-ttl"), "{ttl}");
}

#[test]
fn multi_master_is_said_per_domain_or_left_to_detection() {
    let config = parse_str(
        "publish-list = [\"ad.example\", \"bind.example\", \"plain.example\"]\n\
         [[host]]\nname = \"kms1.ad.example\"\n\
         [domain.\"ad.example\"]\nmulti-master = true\n\
         [domain.\"bind.example\"]\nmulti-master = false\n",
    )
    .unwrap();
    let said: Vec<Option<bool>> = config.domains.iter().map(|d| d.multi_master).collect();
    assert_eq!(said, [Some(true), Some(false), None]);
    assert!(error(
        "publish-list = [\"ad.example\"]\n[[host]]\nname = \"kms1.ad.example\"\n\
         [domain.\"ad.example\"]\nmulti-master = \"yes\"\n"
    )
    .contains("expected a boolean"));
}
