//! Fuzzes the configuration reader: TOML text to the validated [`Config`]
//! (`kmsdns::config::parse`). The file is written by administrators, but it
//! is still outside input: no text may panic the reader, and whatever it
//! accepts must keep the promises the commands rely on.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kmsdns::config::{parse, Config, ConfigError, MAX_TTL};
use libfuzzer_sys::fuzz_target;

/// A directory with the files a configuration may name (`corp.key`,
/// `list.reg`), so that inputs reach the key and `.reg` readers too.
fn config_path() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("corp.key"),
            "key \"kmsdns-corp\" {\n\talgorithm hmac-sha256;\n\tsecret \"a21zZG5zLWZ1enotb25seS1ndWFyZHMtbm90aGluZyE=\";\n};\n",
        )
        .expect("key file");
        std::fs::write(dir.path().join("list.reg"), "corp.example, 10, 75\nbranch.example\n")
            .expect("reg file");
        let path = dir.path().join("kmsdns.toml");
        (dir, path)
    })
    .1
}

fn check(config: &Config) {
    assert!(!config.hosts.is_empty(), "a configuration without hosts");
    for (i, host) in config.hosts.iter().enumerate() {
        assert!(host.port != 0);
        assert!(
            config.hosts[..i]
                .iter()
                .all(|other| other.name != host.name),
            "host {} twice",
            host.name
        );
        assert!(!host.publish_list.entries().is_empty());
    }
    assert!(!config.domains.is_empty(), "hosts that publish nowhere");
    for (i, domain) in config.domains.iter().enumerate() {
        assert!(domain.ttl <= MAX_TTL);
        assert!(
            !domain.records.is_empty(),
            "domain {} without records",
            domain.name
        );
        assert!(
            config.domains[..i]
                .iter()
                .all(|other| other.name != domain.name),
            "domain {} twice",
            domain.name
        );
        for record in &domain.records {
            let host = config
                .host(&record.target)
                .unwrap_or_else(|| panic!("record for {}, not a host", record.target));
            assert_eq!(record.port, host.port);
            assert!(config.owns_target(&record.target));
        }
        let _ = domain.srv_name().to_utf8();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text, config_path()) {
        Ok(config) => check(&config),
        Err(error) => {
            if let ConfigError::At { line, column, .. } = &error {
                assert!(*line >= 1 && *column >= 1);
                assert!(*line <= text.lines().count().max(1) + 1);
            }
            let _ = error.to_string();
        }
    }
});
