//! Fuzzes the reader of BIND key files (`tsig-keygen` output, comments,
//! several keys) through `kmsdns::config::key::parse_key_text`. Besides not
//! panicking, no error may quote a secret: every input is also read with a
//! `secret "<marker>";` statement spliced into it, and neither the error
//! nor the key's `Debug` may show the marker.
#![no_main]

use kmsdns::config::key::{parse_key_text, KeyOrigin};
use libfuzzer_sys::fuzz_target;

/// base64 of "kmsdns-fuzz-secret-marker!": long enough not to occur by chance.
const MARKER: &str = "a21zZG5zLWZ1enotc2VjcmV0LW1hcmtlciE=";

fn origin() -> KeyOrigin {
    KeyOrigin::File("fuzz.key".into())
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
    // libFuzzer copies the strings a comparison looks for into its inputs:
    // a marker the input holds itself may rightly show.
    if holds_part_of_marker(text) {
        return;
    }
    for wanted in [None, Some("kmsdns-test")] {
        match parse_key_text(text, wanted, origin()) {
            Ok(key) => {
                assert!(!key.secret.expose().is_empty(), "an empty secret");
                assert!(!format!("{key:?}").contains(MARKER));
            }
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
    // Splice the marker in at every char boundary the first byte points at.
    let split = data
        .first()
        .map_or(0, |&b| usize::from(b) % (text.len() + 1));
    let Some((before, after)) = text.get(..split).zip(text.get(split..)) else {
        return;
    };
    let spliced = format!("{before}secret \"{MARKER}\";{after}");
    match parse_key_text(&spliced, None, origin()) {
        Ok(key) => assert!(
            !format!("{key:?}").contains(MARKER),
            "Debug shows the secret"
        ),
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.contains(MARKER),
                "the error quotes the secret: {message}"
            );
            assert!(!format!("{error:?}").contains(MARKER));
        }
    }
});
