//! Fuzzes the import of `DnsDomainPublishList` from a regedit export
//! (UTF-16 or 8-bit, `hex(7):` REG_MULTI_SZ with continuation lines),
//! `reg query` output or a plain list. What is imported is a list without
//! duplicates that survives `bind`'s own `.reg` writer and this reader.
#![no_main]

use kmsdns::config::publish_list::format_entry;
use kmsdns::config::reg::{parse_publish_list, write_reg_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(import) = parse_publish_list(data) else {
        return;
    };
    let list = import.list;
    let entries = list.entries();
    assert!(!entries.is_empty(), "an empty list was imported");
    for (i, entry) in entries.iter().enumerate() {
        assert!(
            entries[..i].iter().all(|e| e.domain != entry.domain),
            "{} imported twice",
            entry.domain
        );
    }
    let written: Vec<String> = entries.iter().map(format_entry).collect();
    let file = write_reg_file(&written);
    let again = parse_publish_list(file.as_bytes())
        .unwrap_or_else(|e| panic!("the .reg written for {written:?} does not read back: {e}"));
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(again.list, list);
});
