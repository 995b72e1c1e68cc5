//! The lines of a `.reg` file as regedit reads them: which values it sets,
//! in which key, and which it drops.
//!
//! regedit reads a line at a time, and silently drops a line it does not
//! understand. Its rules, as Wine's tests run against Windows' own regedit
//! and `reg import` pin them (`programs/reg/tests/import.c`):
//! - a line is a key (`[path]`, `[-path]` deletes it), a value (`"name"=`
//!   or `@=`), or ignored — `;` and `#` comment lines among them;
//! - data types are case-sensitive: `"string"`, `hex:`, `hex(N):`,
//!   `dword:`; `-` deletes the value;
//! - after a string or a hex byte, only blanks and a `;` comment may follow
//!   (`"x" # comment` is dropped);
//! - hex data continues on the next line after a `\`, which only blanks or
//!   a `;` comment may follow (`\;comment` is fine, `\#comment` drops the
//!   value);
//! - inside a continuation, blank lines and `;` comment lines are skipped
//!   (they do not end the value), a line that does not start with a hex
//!   digit drops the value and is itself consumed, and the end of the file
//!   ends the value with the bytes read so far.

/// The data of an assignment that regedit accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `hex:` (type 3) or `hex(N):`: the bytes, and for each line that
    /// holds some, the offset of its first byte and the line.
    Hex {
        kind: u32,
        bytes: Vec<u8>,
        lines: Vec<(usize, usize)>,
    },
    /// `"text"`: REG_SZ.
    String(String),
    /// `dword:`.
    Dword,
    /// `=-`: the value is deleted.
    Delete,
}

/// Why regedit drops an assignment, at the line where it gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub line: usize,
    pub reason: String,
}

/// One `"name"=data` or `@=data` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The value name, unescaped (empty for `@`); when the name itself
    /// could not be read, the raw text after the opening quote.
    pub name: String,
    /// Whether `name` was read whole (see above).
    pub name_exact: bool,
    /// The key it is in: `None` before the first key or after `[-key]`.
    pub key: Option<String>,
    /// Its first and last line (1-based), continuations included.
    pub first_line: usize,
    pub last_line: usize,
    pub data: Result<Data, Dropped>,
}

/// Every assignment of `lines`, the file's lines from the header on.
pub fn assignments(lines: &[&str]) -> Vec<Assignment> {
    let mut out = Vec::new();
    let mut key: Option<String> = None;
    // The header is line 1.
    let mut next = 1;
    while next < lines.len() {
        let number = next + 1;
        let line = blank_start(lines[next]);
        next += 1;
        if let Some(rest) = line.strip_prefix('[') {
            // regedit ignores `[ path]` and a `[` without `]`.
            if rest.starts_with([' ', '\t']) {
                continue;
            }
            if let Some(end) = rest.rfind(']') {
                let path = &rest[..end];
                key = (!path.starts_with('-')).then(|| path.to_string());
            }
        } else if let Some(rest) = line.strip_prefix('@') {
            push(&mut out, value(lines, &mut next, number, rest), &key, lines);
        } else if let Some(rest) = line.strip_prefix('"') {
            let assignment = match unescape(rest) {
                Ok((name, rest)) => Assignment {
                    name,
                    ..value(lines, &mut next, number, rest)
                },
                Err(reason) => Assignment {
                    name: rest.to_string(),
                    name_exact: false,
                    key: None,
                    first_line: number,
                    last_line: number,
                    data: dropped(number, format!("the value name: {reason}")),
                },
            };
            push(&mut out, assignment, &key, lines);
        }
    }
    out
}

/// Adds `assignment`, in `key`. When its hex continuation took a line
/// that is not hex data, that line is an assignment regedit never sees:
/// it is added too, as dropped.
fn push(out: &mut Vec<Assignment>, assignment: Assignment, key: &Option<String>, lines: &[&str]) {
    let swallowed = match &assignment.data {
        Err(dropped) if dropped.reason.starts_with(NOT_HEX_CONTINUATION) => Some(dropped.line),
        _ => None,
    };
    let first = assignment.first_line;
    out.push(Assignment {
        key: key.clone(),
        ..assignment
    });
    let Some(at) = swallowed else {
        return;
    };
    let Some(line) = lines
        .get(at - 1)
        .and_then(|line| blank_start(line).strip_prefix('"'))
    else {
        return;
    };
    let (name, name_exact) = match unescape(line) {
        Ok((name, _)) => (name, true),
        Err(_) => (line.to_string(), false),
    };
    out.push(Assignment {
        name,
        name_exact,
        key: key.clone(),
        first_line: at,
        last_line: at,
        data: dropped(
            at,
            format!(
                "regedit reads this line as more hex data of the value on line {first}, whose last line ends with a backslash, and drops both"
            ),
        ),
    });
}

const NOT_HEX_CONTINUATION: &str = "the previous line ends with a backslash";

/// Blanks regedit skips at the start of a line.
fn blank_start(line: &str) -> &str {
    line.trim_start_matches([' ', '\t'])
}

fn dropped<T>(line: usize, reason: impl Into<String>) -> Result<T, Dropped> {
    Err(Dropped {
        line,
        reason: reason.into(),
    })
}

/// The `=data` after a value name, on line `number`; continuation lines
/// are taken from `lines` at `next`.
fn value(lines: &[&str], next: &mut usize, number: usize, rest: &str) -> Assignment {
    let mut last_line = number;
    let data = data(lines, next, number, rest, &mut last_line);
    Assignment {
        name: String::new(),
        name_exact: true,
        key: None,
        first_line: number,
        last_line,
        data,
    }
}

fn data(
    lines: &[&str],
    next: &mut usize,
    number: usize,
    rest: &str,
    last_line: &mut usize,
) -> Result<Data, Dropped> {
    let Some(rest) = blank_start(rest).strip_prefix('=') else {
        return dropped(number, "no '=' after the value name");
    };
    let text = rest.trim_matches([' ', '\t']);
    if let Some(after) = text.strip_prefix('-') {
        return match blank_start(after) {
            "" => Ok(Data::Delete),
            after if after.starts_with(';') => Ok(Data::Delete),
            _ => dropped(number, format!("\"{text}\" is not a deletion (\"-\")")),
        };
    }
    if let Some(string) = text.strip_prefix('"') {
        let (string, after) = unescape(string).or_else(|reason| dropped(number, reason))?;
        return match blank_start(after) {
            "" => Ok(Data::String(string)),
            after if after.starts_with(';') => Ok(Data::String(string)),
            after => dropped(
                number,
                format!("\"{after}\" after the closing quote (only a ';' comment may follow)"),
            ),
        };
    }
    if text.starts_with("dword:") {
        return Ok(Data::Dword);
    }
    let (kind, hex) = if let Some(hex) = text.strip_prefix("hex:") {
        (3, hex)
    } else if let Some(after) = text.strip_prefix("hex(") {
        hex_kind(after).or_else(|reason| dropped(number, reason))?
    } else {
        return dropped(
            number,
            format!(
                "regedit knows no data type at \"{text}\" (types are case-sensitive: \"…\", hex:, hex(N):, dword:)"
            ),
        );
    };
    hex_data(lines, next, number, hex, last_line).map(|(bytes, lines)| Data::Hex {
        kind,
        bytes,
        lines,
    })
}

/// `N):` after `hex(`: the type, in hexadecimal, at most 32 bits, without
/// a `0x` (regedit parses it with `wcstoul`, and refuses `0x`).
fn hex_kind(text: &str) -> Result<(u32, &str), String> {
    if text
        .chars()
        .nth(1)
        .is_some_and(|c| c.eq_ignore_ascii_case(&'x'))
    {
        return Err(format!("hex({text}: the type is hexadecimal without 0x"));
    }
    let digits = text.len()
        - text
            .trim_start_matches(|c: char| c.is_ascii_hexdigit())
            .len();
    let kind = match &text[..digits] {
        "" => 0,
        digits => u32::from_str_radix(digits, 16)
            .map_err(|_| format!("hex({digits}): the type does not fit in 32 bits"))?,
    };
    match text[digits..].strip_prefix("):") {
        Some(rest) => Ok((kind, rest)),
        None => Err(format!(
            "hex({text}: expected hex(N): with N in hexadecimal"
        )),
    }
}

/// Hex bytes from `first` (on line `number`) and the continuation lines.
#[allow(clippy::type_complexity)]
fn hex_data(
    lines: &[&str],
    next: &mut usize,
    number: usize,
    first: &str,
    last_line: &mut usize,
) -> Result<(Vec<u8>, Vec<(usize, usize)>), Dropped> {
    let mut bytes = Vec::new();
    let mut starts = Vec::new();
    let (mut segment, mut at) = (first, number);
    loop {
        starts.push((bytes.len(), at));
        let continues = hex_segment(segment, &mut bytes).or_else(|reason| dropped(at, reason))?;
        if !continues {
            return Ok((bytes, starts));
        }
        // The next line that is neither blank nor a `;` comment.
        loop {
            let Some(line) = lines.get(*next) else {
                // The end of the file ends the value.
                return Ok((bytes, starts));
            };
            *next += 1;
            let line = blank_start(line);
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            *last_line = *next;
            if !line.starts_with(|c: char| c.is_ascii_hexdigit()) {
                return dropped(
                    *next,
                    format!(
                        "{NOT_HEX_CONTINUATION}, so regedit reads line {} as more hex data, and it does not start with a hex byte",
                        *next
                    ),
                );
            }
            (segment, at) = (line, *next);
            break;
        }
    }
}

/// The bytes of one line of hex data (`63,00,6f,00,`), as regedit's
/// `convert_hex_csv_to_hex`: each byte in hexadecimal after optional
/// blanks (C's `strtoul`); returns whether a `\` continues it.
fn hex_segment(text: &str, bytes: &mut Vec<u8>) -> Result<bool, String> {
    let mut rest = text;
    while !rest.is_empty() {
        let Some((byte, after)) = strtoul_hex(rest) else {
            let after = blank_start(rest);
            if let Some(tail) = after.strip_prefix('\\') {
                let tail = blank_start(tail);
                if tail.is_empty() || tail.starts_with(';') {
                    return Ok(true);
                }
                return Err(format!(
                    "\"{tail}\" after the continuation backslash (only a ';' comment may follow)"
                ));
            }
            if after.starts_with(';') {
                return Ok(false);
            }
            return Err(format!("\"{}\" is not a hex byte", first_word(rest)));
        };
        let Ok(byte) = u8::try_from(byte) else {
            return Err(format!(
                "\"{}\" is more than a byte (at most ff)",
                first_word(rest)
            ));
        };
        bytes.push(byte);
        match after.strip_prefix(',') {
            Some(after) => rest = after,
            None => {
                let after = blank_start(after);
                if after.is_empty() || after.starts_with(';') {
                    return Ok(false);
                }
                return Err(format!(
                    "\"{after}\" after a hex byte (bytes are separated by commas; a continuation is \",\\\")"
                ));
            }
        }
    }
    Ok(false)
}

/// C's `strtoul(text, &end, 16)`: blanks, an optional sign, an optional
/// `0x`, hex digits; `None` when no digit is read. Values past `u64`
/// saturate (regedit only needs to know they exceed a byte).
fn strtoul_hex(text: &str) -> Option<(u64, &str)> {
    let mut rest = text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let negative = rest.starts_with('-');
    rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    if let Some(after) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        if after.starts_with(|c: char| c.is_ascii_hexdigit()) {
            rest = after;
        }
    }
    let digits = rest.len()
        - rest
            .trim_start_matches(|c: char| c.is_ascii_hexdigit())
            .len();
    if digits == 0 {
        return None;
    }
    let value = rest[..digits].chars().fold(0u64, |n, c| {
        n.saturating_mul(16)
            .saturating_add(u64::from(c.to_digit(16).unwrap_or(0)))
    });
    // strtoul negates in unsigned arithmetic: "-1" is the largest value.
    let value = if negative && value != 0 {
        u64::MAX
    } else {
        value
    };
    Some((value, &rest[digits..]))
}

fn first_word(text: &str) -> &str {
    let text = text.trim();
    let end = text.find([',', ' ', '\t', ';', '\\']).unwrap_or(text.len());
    &text[..end.max(1).min(text.len())]
}

/// regedit's `REGPROC_unescape_string`: the text up to the first quote
/// that is not escaped, and what follows that quote. `\\`, `\"`, `\n` and
/// `\r` are escapes, `\0` is refused, and `\` before anything else stands
/// for that character.
fn unescape(text: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &text[at + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '0')) => return Err("\\0 is not allowed in a string".into()),
                Some((_, c)) => out.push(c),
                None => return Err("the string ends with a lone backslash".into()),
            },
            c => out.push(c),
        }
    }
    Err("the string has no closing quote".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The assignments of a file, the header line included.
    fn read(text: &str) -> Vec<Assignment> {
        let lines: Vec<&str> = text.split('\n').collect();
        assignments(&lines)
    }

    fn one(text: &str) -> Assignment {
        let mut all = read(&format!("REGEDIT4\n[HKEY_CURRENT_USER\\T]\n{text}"));
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    fn hex(text: &str) -> Result<Vec<u8>, Dropped> {
        one(text).data.map(|data| match data {
            Data::Hex { bytes, .. } => bytes,
            other => panic!("not hex: {other:?}"),
        })
    }

    // Each case is one of Wine's, checked against Windows' own regedit
    // and `reg import` (programs/reg/tests/import.c).

    #[test]
    fn continuations_skip_blank_and_semicolon_comment_lines() {
        // Multi-Line10: blank lines inside a continuation do not end it.
        assert_eq!(
            hex("\"v\"=hex(7):4c,69,\\\n  6e,65,\\;comment\n  20,\\\n\n  63,\\;c\n\n  6f,00,00\n"),
            Ok(b"Line co\0\0".to_vec())
        );
        // Wine16 / Wine14: a `;` comment line is skipped, a `#` line is not.
        assert_eq!(
            hex("\"v\"=hex(7):4c,\\\n  ;comment\n  69,00,00"),
            Ok(b"Li\0\0".to_vec())
        );
        let hash = hex("\"v\"=hex(7):4c,\\\n  #comment\n  69,00,00");
        assert_eq!(hash.unwrap_err().line, 4);
    }

    #[test]
    fn what_may_follow_a_continuation_backslash() {
        // Wine10c, Multi-Line7 and 8: a `;` comment; Multi-Line9: not `#`.
        assert_eq!(
            hex("\"v\"=hex:56,61,\\;comment\n  6c,\\;#c\n  75"),
            Ok(vec![0x56, 0x61, 0x6c, 0x75])
        );
        assert!(hex("\"v\"=hex:56,61,\\#comment\n  6c").is_err());
        // Wine14a and b: blanks before the backslash.
        assert_eq!(
            hex("\"v\"=hex:56,61,  \\\n  6c"),
            Ok(vec![0x56, 0x61, 0x6c])
        );
        assert_eq!(
            hex("\"v\"=hex:56,61,\t\\\n  6c"),
            Ok(vec![0x56, 0x61, 0x6c])
        );
        // Wine9c and Multi-Line3: the backslash must follow a comma.
        assert!(hex("\"v\"=hex:56,61\\\n  6c").is_err());
        assert!(hex("\"v\"=hex:56,61\\\n,6c").is_err());
        // Wine17: the end of the file ends a continued value.
        assert_eq!(hex("\"v\"=hex:56,61,\\"), Ok(vec![0x56, 0x61]));
    }

    #[test]
    fn a_line_without_backslash_ends_the_value() {
        // Wine10d: the next line is an ignored line, not more data.
        let all = read("REGEDIT4\n[HKEY_CURRENT_USER\\T]\n\"v\"=hex:56,61,\n  6c,75\n");
        assert_eq!(all.len(), 1);
        assert!(matches!(&all[0].data, Ok(Data::Hex { bytes, .. }) if bytes == &[0x56, 0x61]));
        // Wine10e: a `;` comment after the last comma.
        assert_eq!(hex("\"v\"=hex:56,61,;comment"), Ok(vec![0x56, 0x61]));
    }

    #[test]
    fn a_broken_continuation_drops_the_value_and_swallows_the_next_line() {
        // Wine9e and 9f: both are dropped, 9g is read.
        let all = read(
            "REGEDIT4\n[HKEY_CURRENT_USER\\T]\n\"Wine9e\"=hex(2):4c,69,\\\n\"Wine9f\"=\"Value 3\"\n\"Wine9g\"=\"Value 4\"\n",
        );
        let names: Vec<(&str, bool)> = all
            .iter()
            .map(|a| (a.name.as_str(), a.data.is_ok()))
            .collect();
        assert_eq!(
            names,
            [("Wine9e", false), ("Wine9f", false), ("Wine9g", true)]
        );
        assert_eq!(all[1].first_line, 4);
        assert!(
            all[1]
                .data
                .as_ref()
                .unwrap_err()
                .reason
                .contains("value on line 3"),
            "{:?}",
            all[1]
        );
    }

    #[test]
    fn comments_after_data() {
        // Wine10 to 13 and Wine22 to 31.
        assert_eq!(
            one("\"v\"=\"Value 2\";comment").data,
            Ok(Data::String("Value 2".into()))
        );
        assert!(one("\"v\"=\"Value 1\"#comment").data.is_err());
        assert_eq!(
            one("\"v\"=\"Value ;comment6\"").data,
            Ok(Data::String("Value ;comment6".into()))
        );
        assert!(one("\"v\"=#\"Value 8\"").data.is_err());
        assert_eq!(hex("\"v\"=hex:56 ;comment"), Ok(vec![0x56]));
        assert!(hex("\"v\"=hex:56 #comment").is_err());
    }

    #[test]
    fn data_types_and_deletions() {
        let kind = |text: &str| match one(text).data {
            Ok(Data::Hex { kind, .. }) => Some(kind),
            _ => None,
        };
        // Wine13: the type is hexadecimal, up to 32 bits, without 0x.
        assert_eq!(kind("\"v\"=hex(7):00"), Some(7));
        assert_eq!(kind("\"v\"=hex(ffffffff):00"), Some(0xffff_ffff));
        assert_eq!(kind("\"v\"=hex(100000000):00"), None);
        assert_eq!(kind("\"v\"=hex(0x7):00"), None);
        assert_eq!(kind("\"v\"=hex(x7):00"), None);
        assert_eq!(kind("\"v\"=hex:00"), Some(3));
        // Tags are case-sensitive.
        assert_eq!(kind("\"v\"=HEX(7):00"), None);
        assert_eq!(one("\"v\"=-").data, Ok(Data::Delete));
        assert_eq!(one("\"v\" = - ;gone").data, Ok(Data::Delete));
        assert!(one("\"v\"=-x").data.is_err());
        assert_eq!(one("\"v\"=dword:00000001").data, Ok(Data::Dword));
        // Wine22: empty hex data is an empty value.
        assert!(
            matches!(one("\"v\"=hex(7):").data, Ok(Data::Hex { bytes, .. }) if bytes.is_empty())
        );
    }

    #[test]
    fn names_keys_and_lines() {
        let all = read(
            "Windows Registry Editor Version 5.00\r\n\n[HKEY_LOCAL_MACHINE\\A]\n  \"Dns\\\"Name\"=\"x\"\n@=\"d\"\n[-HKEY_LOCAL_MACHINE\\A]\n\"after\"=\"y\"\n[ HKEY_LOCAL_MACHINE\\B]\n\"same\"=\"z\"\n",
        );
        let got: Vec<(&str, Option<&str>, usize)> = all
            .iter()
            .map(|a| (a.name.as_str(), a.key.as_deref(), a.first_line))
            .collect();
        assert_eq!(
            got,
            [
                ("Dns\"Name", Some("HKEY_LOCAL_MACHINE\\A"), 4),
                ("", Some("HKEY_LOCAL_MACHINE\\A"), 5),
                ("after", None, 7),
                ("same", None, 9),
            ]
        );
        let broken = one("\"no closing quote=hex:00");
        assert!(!broken.name_exact);
        assert!(broken.data.is_err());
    }

    #[test]
    fn hex_bytes_as_strtoul_reads_them() {
        assert_eq!(hex("\"v\"=hex:1, 02,0ff,+3"), Ok(vec![1, 2, 0xff, 3]));
        assert!(hex("\"v\"=hex:100").is_err());
        assert!(hex("\"v\"=hex:-1").is_err());
        assert!(hex("\"v\"=hex:zz").is_err());
        assert!(hex("\"v\"=hex:6g").is_err());
        assert!(hex("\"v\"=hex:1,,2").is_err());
    }

    #[test]
    fn each_line_of_hex_data_is_located() {
        let data = one("\"v\"=hex:01,02,\\\n\n  03,\\\n  04").data.unwrap();
        let Data::Hex { lines, .. } = data else {
            panic!("{data:?}")
        };
        assert_eq!(lines, [(0, 3), (2, 5), (3, 6)]);
    }
}
