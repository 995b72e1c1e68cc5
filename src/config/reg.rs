//! Import of Windows' `DnsDomainPublishList` from what administrators
//! already have: a `.reg` export (`hex(7):` REG_MULTI_SZ, UTF-16LE, with
//! line continuations — the file itself UTF-16LE with a BOM, as regedit
//! writes it, or ANSI/UTF-8), the `reg query` output, or plain text with one
//! entry a line.

use super::publish_list::{parse_entry, PublishList};

/// The registry value that holds the list.
pub const VALUE_NAME: &str = "DnsDomainPublishList";
/// The key under which Windows 7 / Server 2008 R2 and later keep it.
pub const KEY_PATH: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SoftwareProtectionPlatform";

/// Reads a publish list from the bytes of a `.reg` export, `reg query`
/// output or a plain list.
pub fn parse_publish_list(bytes: &[u8]) -> Result<PublishList, String> {
    let text = decode_text(bytes)?;
    let entries = if is_reg_file(&text) {
        reg_file_entries(&text)?
    } else if let Some(entries) = reg_query_entries(&text) {
        entries
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
            .map(str::to_string)
            .collect()
    };
    let mut list = PublishList::default();
    for entry in entries {
        list.push(parse_entry(&entry)?)?;
    }
    if list.entries().is_empty() {
        return Err(format!("no {VALUE_NAME} entries found"));
    }
    Ok(list)
}

/// Files start with a UTF-16LE BOM (regedit's default), a UTF-8 BOM, or none.
fn decode_text(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16le(rest).map_err(|e| format!("file is not valid UTF-16: {e}"));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(bytes.to_vec())
        .map_err(|_| "file is neither UTF-16 with a BOM nor UTF-8".to_string())
}

fn decode_utf16le(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() % 2 != 0 {
        return Err("odd number of bytes".into());
    }
    let units = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| e.to_string())
}

fn is_reg_file(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("").trim();
    first.starts_with("Windows Registry Editor") || first == "REGEDIT4"
}

/// Finds `"DnsDomainPublishList"=…` and decodes its value.
fn reg_file_entries(text: &str) -> Result<Vec<String>, String> {
    let utf16 = !text.lines().next().unwrap_or("").trim().eq("REGEDIT4");
    // Join continuation lines: a trailing backslash continues on the next line.
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let piece = if current.is_empty() {
            line
        } else {
            line.trim_start()
        };
        match piece.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(piece);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        logical.push(current);
    }
    let quoted = format!("\"{VALUE_NAME}\"");
    let value = logical
        .iter()
        .find_map(|line| {
            let (name, value) = line.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case(&quoted)
                .then_some(value.trim())
        })
        .ok_or_else(|| format!("the .reg file has no \"{VALUE_NAME}\" value"))?;
    if let Some(hex) = value.strip_prefix("hex(7):") {
        let bytes = parse_hex_bytes(hex)?;
        let text = if utf16 {
            decode_utf16le(&bytes).map_err(|e| format!("{VALUE_NAME} is not valid UTF-16: {e}"))?
        } else {
            bytes.iter().map(|&b| b as char).collect()
        };
        Ok(split_multi_sz(&text))
    } else if let Some(string) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Ok(vec![string.replace("\\\\", "\\")])
    } else {
        Err(format!(
            "{VALUE_NAME} has an unexpected type; expected hex(7): (REG_MULTI_SZ) or a string"
        ))
    }
}

fn parse_hex_bytes(hex: &str) -> Result<Vec<u8>, String> {
    hex.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| {
            u8::from_str_radix(b, 16)
                .map_err(|_| format!("\"{b}\" is not a hex byte in {VALUE_NAME}"))
        })
        .collect()
}

/// REG_MULTI_SZ: strings ended by NUL, the list ended by an empty string.
fn split_multi_sz(text: &str) -> Vec<String> {
    text.split('\0')
        .take_while(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `reg query` prints `    DnsDomainPublishList    REG_MULTI_SZ    a\0b`.
fn reg_query_entries(text: &str) -> Option<Vec<String>> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if !words.next()?.eq_ignore_ascii_case(VALUE_NAME) || words.next()? != "REG_MULTI_SZ" {
            return None;
        }
        let (_, rest) = line.split_once("REG_MULTI_SZ")?;
        Some(
            rest.trim()
                .split("\\0")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )
    })
}

/// Writes a `.reg` file (REGEDIT5 syntax, CRLF) that sets the host's
/// `DnsDomainPublishList`, the value as `hex(7):` UTF-16LE like regedit's.
pub fn write_reg_file(entries: &[String]) -> String {
    let mut bytes = Vec::new();
    for entry in entries
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(""))
    {
        for unit in entry.encode_utf16().chain(std::iter::once(0)) {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
    }
    let mut out = String::from("Windows Registry Editor Version 5.00\r\n\r\n");
    out.push_str(&format!("[{KEY_PATH}]\r\n"));
    let mut line = format!("\"{VALUE_NAME}\"=hex(7):");
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    for (i, byte) in hex.iter().enumerate() {
        let last = i + 1 == hex.len();
        line.push_str(byte);
        if !last {
            line.push(',');
            // regedit wraps before 80 columns, continuing with two spaces.
            if line.len() >= 76 {
                out.push_str(&line);
                out.push_str("\\\r\n");
                line = String::from("  ");
            }
        }
    }
    out.push_str(&line);
    out.push_str("\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::publish_list::format_entry;

    fn utf16_file(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        bytes
    }

    // What regedit exports for ["corp.example, 10, 75", "branch.example"]:
    // each UTF-16LE code unit as two hex bytes, NUL after each string, and a
    // final empty string; 25 bytes a line after the first.
    const EXPORT: &str = "Windows Registry Editor Version 5.00\r\n\
\r\n\
[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform]\r\n\
\"KeyManagementServiceVersion\"=\"6.1.7600.16385\"\r\n\
\"DnsDomainPublishList\"=hex(7):63,00,6f,00,72,00,70,00,2e,00,65,00,78,00,61,00,\\\r\n\
\x20 6d,00,70,00,6c,00,65,00,2c,00,20,00,31,00,30,00,2c,00,20,00,37,00,35,00,00,\\\r\n\
\x20 00,62,00,72,00,61,00,6e,00,63,00,68,00,2e,00,65,00,78,00,61,00,6d,00,70,00,\\\r\n\
\x20 6c,00,65,00,00,00,00,00\r\n\
\r\n";

    #[test]
    fn reads_regedit_utf16_export() {
        let list = parse_publish_list(&utf16_file(EXPORT)).unwrap();
        let got: Vec<String> = list.entries().iter().map(format_entry).collect();
        assert_eq!(got, ["corp.example, 10, 75", "branch.example"]);
    }

    #[test]
    fn reads_utf8_export_and_string_value() {
        let list = parse_publish_list(EXPORT.as_bytes()).unwrap();
        assert_eq!(list.entries().len(), 2);
        let single = "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\X]\n\"DnsDomainPublishList\"=\"corp.example, 1, 2\"\n";
        let list = parse_publish_list(single.as_bytes()).unwrap();
        assert_eq!(format_entry(&list.entries()[0]), "corp.example, 1, 2");
    }

    #[test]
    fn reads_reg_query_output_and_plain_lists() {
        let query = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform\r\n    DnsDomainPublishList    REG_MULTI_SZ    corp.example, 10, 75\\0branch.example\r\n";
        let list = parse_publish_list(query.as_bytes()).unwrap();
        assert_eq!(list.entries().len(), 2);
        let plain = "# our domains\ncorp.example, 10, 75\n\nbranch.example\n";
        let list = parse_publish_list(plain.as_bytes()).unwrap();
        assert_eq!(list.entries().len(), 2);
    }

    #[test]
    fn writing_then_reading_round_trips() {
        let entries = ["corp.example, 10, 75", "bücher.example"].map(String::from);
        let file = write_reg_file(&entries);
        assert!(
            file.lines()
                .filter(|l| !l.starts_with('['))
                .all(|l| l.len() <= 80),
            "{file}"
        );
        let list = parse_publish_list(file.as_bytes()).unwrap();
        assert_eq!(format_entry(&list.entries()[0]), "corp.example, 10, 75");
        assert_eq!(
            list.entries()[1].domain.to_ascii(),
            "xn--bcher-kva.example."
        );
    }

    #[test]
    fn matches_regedit_layout() {
        let entries = ["corp.example, 10, 75", "branch.example"].map(String::from);
        let written = write_reg_file(&entries);
        let expected = EXPORT.replace("\"KeyManagementServiceVersion\"=\"6.1.7600.16385\"\r\n", "");
        assert_eq!(written, expected);
    }

    #[test]
    fn rejects_bad_files_clearly() {
        const HEADER: &str = "Windows Registry Editor Version 5.00\n";
        let cases: [(Vec<u8>, &str); 6] = [
            (Vec::new(), "no DnsDomainPublishList"),
            (vec![0xFF, 0xFE, 0x00], "UTF-16"),
            (
                format!("{HEADER}\n[HKEY_LOCAL_MACHINE\\X]\n\"Other\"=\"x\"\n").into(),
                "has no",
            ),
            (
                format!("{HEADER}\"DnsDomainPublishList\"=hex(7):zz,00\n").into(),
                "hex byte",
            ),
            (
                format!("{HEADER}\"DnsDomainPublishList\"=dword:00000001\n").into(),
                "unexpected type",
            ),
            (
                format!("{HEADER}\"DnsDomainPublishList\"=hex(7):63,00,64\n").into(),
                "odd number of bytes",
            ),
        ];
        for (file, expected) in cases {
            let error = parse_publish_list(&file).unwrap_err();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }
}
