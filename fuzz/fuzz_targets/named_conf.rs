//! Fuzzes the named.conf reader (lexer, statement tree, model) and the
//! update-grant analysis behind `kmsdns updates --named-conf`. Includes are
//! followed only inside a temporary directory: input that could name a
//! file elsewhere (a `/`, a `\` escape or `..`) is read with includes off.
//! The directory's `keys.conf` holds a key whose secret is a marker; no
//! result, model or error may show it.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use kmsdns::named_conf::{audit_domains, zones_holding, Limits, NamedConf};
use libfuzzer_sys::fuzz_target;

const MARKER: &str = "a21zZG5zLWZ1enotbmFtZWQtY29uZi1tYXJrZXI=";

fn conf_path() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |file: &str, text: String| {
            std::fs::write(dir.path().join(file), text).expect("include file")
        };
        write(
            "keys.conf",
            format!("key \"kmsdns-corp\" {{ algorithm hmac-sha256; secret \"{MARKER}\"; }};\n"),
        );
        write(
            "zones.conf",
            "zone \"corp.example\" { type primary; file \"corp.db\"; update-policy { grant kmsdns-corp name _vlmcs._tcp.corp.example. SRV; }; };\n".to_string(),
        );
        write("loop.conf", "include \"loop.conf\";\n".to_string());
        let path = dir.path().join("named.conf");
        (dir, path)
    })
    .1
}

/// Whether `text` holds 8 characters of the marker in a row: the pieces
/// of a marker the input builds itself (in two strings that the reader
/// joins, say) are its own.
fn holds_part_of_marker(text: &str) -> bool {
    MARKER
        .as_bytes()
        .windows(8)
        .any(|piece| text.as_bytes().windows(8).any(|w| w == piece))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input may hold the marker itself (libFuzzer copies the strings a
    // comparison looks for into its inputs); then it is the input's own.
    let own = holds_part_of_marker(text);
    let confined = !text.contains(['/', '\\']) && !text.contains("..");
    let limits = Limits {
        max_includes: if confined { 8 } else { 0 },
        max_file_bytes: 1 << 16,
        max_total_bytes: 1 << 18,
        ..Limits::default()
    };
    match NamedConf::parse_str_with_limits(conf_path(), text, limits) {
        Ok(conf) => {
            assert!(
                own || !format!("{conf:?}").contains(MARKER),
                "the model keeps a secret"
            );
            let audits = audit_domains(&conf, &["corp.example", "secure.example", "example"]);
            for audit in &audits {
                for issue in &audit.issues {
                    assert!(own || !issue.to_string().contains(MARKER));
                }
            }
            assert!(own || !format!("{audits:?}").contains(MARKER));
            let _ = zones_holding(&conf, "_vlmcs._tcp.corp.example.");
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                own || !message.contains(MARKER),
                "the error quotes a secret: {message}"
            );
            let _ = error.location();
        }
    }
});
