//! Fuzzes Windows' `DnsDomainPublishList` entry syntax
//! (`domain[, priority[, weight]]`) and the name reader under it: what is
//! accepted is a valid DNS name (RFC 1035 §2.3.4 lengths) and survives
//! being written back in Windows' syntax and read again.
#![no_main]

use kmsdns::dns::name::{display_name, parse_name};
use kmsdns::config::publish_list::{format_entry, parse_entry, PublishList};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = parse_name(text) {
        let ascii = name.to_ascii();
        assert!(ascii.ends_with('.'), "{ascii} is not absolute");
        assert!(ascii.len() <= 254, "{ascii} is longer than 253 characters");
        assert!(ascii.split('.').all(|label| label.len() <= 63));
        let _ = display_name(&name);
        assert_eq!(
            parse_name(&ascii).ok(),
            Some(name),
            "{ascii} does not read back"
        );
    }
    if let Ok(entry) = parse_entry(text) {
        let written = format_entry(&entry);
        let again = parse_entry(&written).unwrap_or_else(|e| {
            panic!("{written:?} written from {text:?} does not read back: {e}")
        });
        assert_eq!(again, entry);
        let mut list = PublishList::default();
        assert!(list.push(entry.clone()).is_ok());
        assert!(list.push(again).is_err(), "a duplicate entry was accepted");
    }
});
