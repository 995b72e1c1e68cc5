//! Import of Windows' `DnsDomainPublishList` from what administrators
//! already have: a `.reg` export (`hex(7):` REG_MULTI_SZ, UTF-16LE, with
//! line continuations — the file itself UTF-16LE with a BOM, as regedit
//! writes it, or 8-bit), the `reg query` output, or plain text with one
//! entry a line.
//!
//! A `.reg` file is read as regedit would import it ([`regedit`]): the
//! value regedit would drop is an error, the last of several assignments
//! wins, and a value outside the publish list's key is imported with a
//! warning. Every error and warning names its line.
//!
//! Two readings go beyond regedit's, and say so where it matters:
//! - an 8-bit "Version 5.00" file (an export converted from UTF-16) has
//!   its `hex(7):` data read as UTF-16LE, as regedit exported it; regedit
//!   itself would take each byte for a character;
//! - `hex(7):` data that stops inside a string is refused: regedit would
//!   import the cut-off name (`corp.exa`), and Windows publish to it.

mod regedit;

use std::fmt;
use std::path::Path;

use super::publish_list::{parse_entry, PublishList};
use crate::report::{Finding, FindingId, Severity};
use regedit::{Assignment, Data};

/// The registry value that holds the list.
pub const VALUE_NAME: &str = "DnsDomainPublishList";
/// The key under which Windows 7 / Server 2008 R2 and later keep it.
pub const KEY_PATH: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SoftwareProtectionPlatform";
/// The key under which Windows Vista and Server 2008 keep it.
pub const VISTA_KEY_PATH: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion\SL";

/// regedit's two headers, which must be the first line exactly.
const HEADER_5: &str = "Windows Registry Editor Version 5.00";
const HEADER_4: &str = "REGEDIT4";
/// REG_MULTI_SZ, the type of `DnsDomainPublishList`.
const REG_MULTI_SZ: u32 = 7;

/// Something wrong in an imported file, at a line where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based, as an editor shows it (CR, LF and CRLF each end a line).
    pub line: Option<usize>,
    pub message: String,
    /// How to fix it, for warnings.
    pub hint: Option<String>,
}

impl Problem {
    fn at(line: usize, message: impl Into<String>) -> Problem {
        Problem {
            line: Some(line),
            message: message.into(),
            hint: None,
        }
    }

    fn whole(message: impl Into<String>) -> Problem {
        Problem {
            line: None,
            message: message.into(),
            hint: None,
        }
    }

    fn hint(self, hint: impl Into<String>) -> Problem {
        Problem {
            hint: Some(hint.into()),
            ..self
        }
    }

    /// `path:line: message`, as compilers and grep name a place.
    pub fn in_file(&self, path: &Path) -> String {
        match self.line {
            Some(line) => format!("{}:{line}: {}", path.display(), self.message),
            None => format!("{}: {}", path.display(), self.message),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A publish list read from a file, with what is worth a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub list: PublishList,
    /// E.g. the value set twice, or outside the publish list's key.
    pub warnings: Vec<Problem>,
}

/// The warnings of an import from the file at `path`, as configuration
/// findings.
pub fn warnings(import: &Import, path: &Path) -> Vec<Finding> {
    import
        .warnings
        .iter()
        .map(|warning| {
            let finding = Finding::new(
                FindingId::PublishListImport,
                Severity::Warning,
                warning.in_file(path),
            );
            match &warning.hint {
                Some(hint) => finding.hint(hint.clone()),
                None => finding,
            }
        })
        .collect()
}

/// Reads a publish list from the bytes of a `.reg` export, `reg query`
/// output or a plain list.
pub fn parse_publish_list(bytes: &[u8]) -> Result<Import, Problem> {
    let text = decode_text(bytes)?;
    let lines = split_lines(&text.text);
    let first = lines
        .first()
        .map_or("", |l| l.trim_start_matches([' ', '\t']));
    let mut warnings = Vec::new();
    let entries = if first == HEADER_5 || first == HEADER_4 {
        // regedit decides by the byte order mark alone; see the module
        // documentation for 8-bit "Version 5.00" files.
        let utf16 = text.utf16 || first == HEADER_5;
        reg_file_entries(&lines, utf16, &mut warnings)?
    } else if is_header_like(first) {
        return Err(Problem::at(
            1,
            format!("\"{first}\" is not a header regedit imports: the first line must be exactly \"{HEADER_5}\" (or \"{HEADER_4}\")"),
        ));
    } else if let Some(entries) = reg_query_entries(&lines, &mut warnings) {
        entries
    } else {
        plain_entries(&lines)?
    };
    let lines: Vec<usize> = entries.iter().map(|(line, _)| *line).collect();
    let entries = entries
        .into_iter()
        .map(|(line, entry)| parse_entry(&entry).map_err(|e| Problem::at(line, e)))
        .collect::<Result<Vec<_>, _>>()?;
    if entries.is_empty() {
        return Err(Problem::whole(format!("no {VALUE_NAME} entries found")));
    }
    let list = PublishList::new(entries).map_err(|(at, e)| Problem::at(lines[at], e))?;
    Ok(Import { list, warnings })
}

/// The text of a file, and whether it was UTF-16.
struct Text {
    text: String,
    utf16: bool,
}

/// regedit reads UTF-16LE with a byte order mark, or else 8-bit text in
/// the system's code page; 8-bit text here is UTF-8 (a UTF-8 BOM is
/// skipped), or else Latin-1. UTF-16 without a BOM is refused, as regedit
/// refuses it ("not a registry script"): read as 8-bit, every other byte
/// would be a NUL.
fn decode_text(bytes: &[u8]) -> Result<Text, Problem> {
    if bytes.is_empty() {
        return Err(Problem::whole("the file is empty"));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let text = decode_utf16le(rest).map_err(|(line, e)| {
            Problem::at(
                line,
                format!("the file starts as UTF-16 (byte order mark FF FE) but {e}"),
            )
        })?;
        return Ok(Text { text, utf16: true });
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(Problem::at(
            1,
            "the file is UTF-16 big-endian (byte order mark FE FF); regedit reads UTF-16 only little-endian, as it exports: save it as UTF-16LE or UTF-8",
        ));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        if let Some(order) = utf16_without_bom(bytes) {
            return Err(Problem::at(
                1,
                format!("the file is UTF-16{order} without a byte order mark (every other byte is 0); regedit refuses such a file: save it as regedit exports (UTF-16 with a byte order mark) or as UTF-8"),
            ));
        }
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(Problem::at(
            line,
            "the file holds a NUL byte: it is not text",
        ));
    }
    let text = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => text,
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    Ok(Text { text, utf16: false })
}

/// "LE" or "BE" when NULs fill every other byte, as in UTF-16 text that
/// is mostly ASCII.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(512) & !1];
    let pairs = head.len() / 2;
    if pairs == 0 {
        return None;
    }
    let zero_at = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zero_at(0), zero_at(1));
    if odd * 4 >= pairs * 3 && even * 4 < pairs {
        Some("LE")
    } else if even * 4 >= pairs * 3 && odd * 4 < pairs {
        Some("BE")
    } else {
        None
    }
}

/// UTF-16LE text; an error says at which line it breaks.
fn decode_utf16le(bytes: &[u8]) -> Result<String, (usize, String)> {
    let units = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]));
    let mut text = String::with_capacity(bytes.len() / 2);
    let mut line = 1;
    for c in char::decode_utf16(units) {
        match c {
            Ok('\0') => return Err((line, "holds a NUL character: it is not text".into())),
            Ok(c) => {
                line += usize::from(c == '\n');
                text.push(c);
            }
            Err(e) => return Err((line, format!("is not valid UTF-16 ({e})"))),
        }
    }
    if bytes.len() % 2 != 0 {
        return Err((line, "has an odd number of bytes: it was cut off".into()));
    }
    Ok(text)
}

/// Lines as regedit splits them: at CR, LF or CRLF.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['\r', '\n']) {
        lines.push(&rest[..at]);
        let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[at + skip..];
    }
    if !rest.is_empty() {
        lines.push(rest);
    }
    lines
}

/// A first line meant as a header that regedit would not take
/// ("Windows Registry Editor Version 5", "REGEDIT 4", "regedit4").
fn is_header_like(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("windows registry editor") || lower.starts_with("regedit")
}

/// Whether `key` is where Windows reads the list.
fn is_publish_list_key(key: &str) -> bool {
    key.eq_ignore_ascii_case(KEY_PATH) || key.eq_ignore_ascii_case(VISTA_KEY_PATH)
}

/// The entries of the `DnsDomainPublishList` value regedit would import
/// from `lines`, each with its line; `utf16` says how `hex(7):` data is
/// encoded.
fn reg_file_entries(
    lines: &[&str],
    utf16: bool,
    warnings: &mut Vec<Problem>,
) -> Result<Vec<(usize, String)>, Problem> {
    let ours: Vec<Assignment> = regedit::assignments(lines)
        .into_iter()
        .filter(|a| {
            if a.name_exact {
                a.name.eq_ignore_ascii_case(VALUE_NAME)
            } else {
                a.name
                    .to_ascii_lowercase()
                    .contains(&VALUE_NAME.to_ascii_lowercase())
            }
        })
        .collect();
    // A value regedit drops is an error even when another is imported:
    // the file does not say what its author meant.
    for assignment in &ours {
        if let Err(dropped) = &assignment.data {
            let at = from_line(assignment.first_line, dropped.line);
            return Err(Problem::at(
                dropped.line,
                format!(
                    "regedit would not import {VALUE_NAME}{at}: {}",
                    dropped.reason
                ),
            ));
        }
    }
    let Some(chosen) = choose(&ours, |a| a.key.as_deref(), |a| a.first_line, warnings) else {
        return Err(Problem::whole(format!(
            "the .reg file has no \"{VALUE_NAME}\" value"
        )));
    };
    let Ok(data) = &chosen.data else {
        unreachable!("dropped values were refused above")
    };
    match data {
        Data::Hex {
            kind: REG_MULTI_SZ,
            bytes,
            lines: starts,
        } => {
            let strings = multi_sz(bytes, utf16).map_err(|(offset, message)| {
                let line = if offset >= bytes.len() {
                    chosen.last_line
                } else {
                    line_of(starts, offset)
                };
                let message = match cut_off_hint(lines, chosen.last_line, offset >= bytes.len()) {
                    Some(hint) => format!("{message}; {hint}"),
                    None => message,
                };
                let from = from_line(chosen.first_line, line);
                Problem::at(line, format!("{VALUE_NAME}{from}: {message}"))
            })?;
            Ok(strings
                .into_iter()
                .map(|(offset, entry)| (line_of(starts, offset), entry))
                .collect())
        }
        Data::String(string) => Ok(vec![(chosen.first_line, string.clone())]),
        Data::Delete => Err(Problem::at(
            chosen.first_line,
            format!("the file deletes {VALUE_NAME} (\"{VALUE_NAME}\"=-): it holds no list"),
        )),
        other => Err(Problem::at(
            chosen.first_line,
            format!(
                "{VALUE_NAME} has an unexpected type, {}; Windows reads it as REG_MULTI_SZ (hex(7):) or a string",
                type_name(other)
            ),
        )),
    }
}

/// Of the assignments of the value, the one Windows would use: the last
/// in the publish list's key (regedit keeps the last it sets), or the last
/// of all when none is there. Warns about the others.
fn choose<'a, T>(
    all: &'a [T],
    key: impl Fn(&T) -> Option<&str>,
    line: impl Fn(&T) -> usize,
    warnings: &mut Vec<Problem>,
) -> Option<&'a T> {
    let in_key: Vec<&T> = all
        .iter()
        .filter(|a| key(a).is_some_and(is_publish_list_key))
        .collect();
    let group: Vec<&T> = if in_key.is_empty() {
        all.iter().collect()
    } else {
        in_key
    };
    let chosen = *group.last()?;
    if group.len() > 1 {
        let earlier: Vec<String> = group[..group.len() - 1]
            .iter()
            .map(|a| line(a).to_string())
            .collect();
        warnings.push(
            Problem::at(
                line(chosen),
                format!(
                    "{VALUE_NAME} is also set on line {}: regedit keeps the last, so this one (line {}) is used",
                    earlier.join(", "),
                    line(chosen)
                ),
            )
            .hint("keep one DnsDomainPublishList line in the file"),
        );
    }
    for other in all
        .iter()
        .filter(|a| !group.iter().any(|g| std::ptr::eq(*g, *a)))
    {
        let place = match key(other) {
            Some(key) => format!("in [{key}]"),
            None => "before any [key] line".to_string(),
        };
        warnings.push(
            Problem::at(
                line(other),
                format!(
                    "{VALUE_NAME} here is {place}, not in the publish list's key: ignored, line {} is used",
                    line(chosen)
                ),
            )
            .hint("remove the values that are not under the publish list's key"),
        );
    }
    if !key(chosen).is_some_and(is_publish_list_key) {
        let place = match key(chosen) {
            Some(key) => format!("is in [{key}]"),
            None => "comes before any [key] line, where regedit sets nothing".to_string(),
        };
        warnings.push(
            Problem::at(
                line(chosen),
                format!("{VALUE_NAME} {place}, where Windows does not read it: imported anyway"),
            )
            .hint(format!(
                "put it under [{KEY_PATH}] (Windows 7 and later) or [{VISTA_KEY_PATH}] (Vista)"
            )),
        );
    }
    Some(chosen)
}

/// " (from line N)" when a value that starts on line `first` is reported
/// at another line.
fn from_line(first: usize, reported: usize) -> String {
    if first == reported {
        String::new()
    } else {
        format!(" (from line {first})")
    }
}

/// The line that holds the byte at `offset` of hex data.
fn line_of(starts: &[(usize, usize)], offset: usize) -> usize {
    let at = starts.partition_point(|&(start, _)| start <= offset);
    starts[at.saturating_sub(1)].1
}

/// When a value stops early and the line after it looks like more hex
/// data, the backslash that would have continued it is missing.
fn cut_off_hint(lines: &[&str], last_line: usize, at_end: bool) -> Option<String> {
    if !at_end {
        return None;
    }
    let (index, next) = lines
        .iter()
        .enumerate()
        .skip(last_line)
        .find(|(_, l)| !l.trim().is_empty())?;
    let next = next.trim_start_matches([' ', '\t']);
    let looks_hex = next.len() >= 3
        && next.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit)
        && next.as_bytes()[2] == b',';
    looks_hex.then(|| {
        format!(
            "line {} looks like more of its hex data: line {last_line} may lack the final backslash (\\) that continues it",
            index + 1
        )
    })
}

fn type_name(data: &Data) -> String {
    match data {
        Data::Hex { kind: 0, .. } => "REG_NONE (hex(0):)".into(),
        Data::Hex { kind: 1, .. } => "REG_SZ (hex(1):)".into(),
        Data::Hex { kind: 2, .. } => "REG_EXPAND_SZ (hex(2):)".into(),
        Data::Hex { kind: 3, .. } => "REG_BINARY (hex:)".into(),
        Data::Hex { kind, .. } => format!("type {kind} (hex({kind:x}):)"),
        Data::Dword => "REG_DWORD (dword:)".into(),
        Data::String(_) | Data::Delete => "a string".into(),
    }
}

/// REG_MULTI_SZ: strings ended by NUL, the list ended by an empty string;
/// each with the offset of its first byte. An error carries the offset it
/// is about (the length of `bytes` for the end).
#[allow(clippy::type_complexity)]
fn multi_sz(bytes: &[u8], utf16: bool) -> Result<Vec<(usize, String)>, (usize, String)> {
    let width = if utf16 { 2 } else { 1 };
    if utf16 && bytes.len() % 2 != 0 {
        return Err((
            bytes.len(),
            format!(
                "the hex(7) data has an odd number of bytes ({}), but UTF-16 takes two a character: the value looks cut off",
                bytes.len()
            ),
        ));
    }
    let units: Vec<u16> = if utf16 {
        bytes
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect()
    } else {
        bytes.iter().map(|&b| u16::from(b)).collect()
    };
    let decode = |units: &[u16]| -> String {
        if utf16 {
            String::from_utf16_lossy(units)
        } else {
            // Latin-1, as for 8-bit files.
            units.iter().map(|&u| char::from(u as u8)).collect()
        }
    };
    if let Some(&last) = units.last() {
        if last != 0 {
            let start = units.iter().rposition(|&u| u == 0).map_or(0, |at| at + 1);
            return Err((
                bytes.len(),
                format!(
                    "the value stops inside a string (\"{}\"), which REG_MULTI_SZ ends with {}: the value looks cut off",
                    decode(&units[start..]),
                    if utf16 { "00,00" } else { "00" }
                ),
            ));
        }
    }
    let mut out = Vec::new();
    let mut start = 0;
    for (at, &unit) in units.iter().enumerate() {
        if unit != 0 {
            continue;
        }
        if at == start {
            // The empty string that ends the list.
            break;
        }
        let string = &units[start..at];
        if utf16 {
            if let Err(e) = String::from_utf16(string) {
                return Err((start * width, format!("a string is not valid UTF-16: {e}")));
            }
        }
        out.push((start * width, decode(string)));
        start = at + 1;
    }
    Ok(out)
}

/// `reg query` prints the key, then `    DnsDomainPublishList    REG_MULTI_SZ    a\0b`.
fn reg_query_entries(lines: &[&str], warnings: &mut Vec<Problem>) -> Option<Vec<(usize, String)>> {
    // (line, key, the text after REG_MULTI_SZ)
    let mut found: Vec<(usize, Option<&str>, &str)> = Vec::new();
    let mut key = None;
    for (index, line) in lines.iter().enumerate() {
        if line.starts_with("HKEY_") {
            key = Some(line.trim_end());
            continue;
        }
        let mut words = line.split_whitespace();
        if !words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case(VALUE_NAME))
            || words.next() != Some("REG_MULTI_SZ")
        {
            continue;
        }
        let (_, rest) = line.split_once("REG_MULTI_SZ")?;
        found.push((index + 1, key, rest.trim()));
    }
    let &(line, _, text) = choose(&found, |f| f.1, |f| f.0, warnings)?;
    Some(
        text.split("\\0")
            .filter(|s| !s.is_empty())
            .map(|s| (line, s.to_string()))
            .collect(),
    )
}

/// One entry a line; `#` and `;` start comment lines.
fn plain_entries(lines: &[&str]) -> Result<Vec<(usize, String)>, Problem> {
    let mut out = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line == HEADER_5 || line == HEADER_4 {
            return Err(Problem::at(
                index + 1,
                "a .reg header must be the first line of the file, or regedit refuses it",
            ));
        }
        out.push((index + 1, line.to_string()));
    }
    Ok(out)
}

/// Writes a `.reg` file (REGEDIT5 syntax, CRLF) that sets the host's
/// `DnsDomainPublishList`, the value as `hex(7):` UTF-16LE like regedit's,
/// to `out` as it is made: a publish list of 100,000 domains is 13 MB of
/// text, which bind printed, wrote or put in its JSON document from one
/// string of that size. Text, so that a JSON string can take it in pieces.
pub fn write_reg_file<S: AsRef<str>>(
    entries: impl IntoIterator<Item = S>,
    out: &mut dyn fmt::Write,
) -> fmt::Result {
    write!(
        out,
        "Windows Registry Editor Version 5.00\r\n\r\n[{KEY_PATH}]\r\n"
    )?;
    let head = format!("\"{VALUE_NAME}\"=hex(7):");
    out.write_str(&head)?;
    let mut hex = HexLines {
        out,
        text: String::new(),
        column: head.len(),
        first: true,
    };
    for entry in entries {
        hex.string(entry.as_ref())?;
    }
    // The list ends with an empty string.
    hex.string("")?;
    hex.out.write_str("\r\n\r\n")
}

/// The bytes of a `hex(7):` value, comma-separated, wrapped as regedit
/// wraps them: before 80 columns, continuing with two spaces.
struct HexLines<W: fmt::Write> {
    out: W,
    /// One string's text, written whole: a call of `out` for each of its
    /// characters cost bind a fifth more CPU.
    text: String,
    /// Characters written on the current line.
    column: usize,
    first: bool,
}

impl<W: fmt::Write> HexLines<W> {
    /// `text` as UTF-16LE code units, and the NUL that ends it.
    fn string(&mut self, text: &str) -> fmt::Result {
        self.text.clear();
        for unit in text.encode_utf16().chain(std::iter::once(0)) {
            for byte in unit.to_le_bytes() {
                self.byte(byte);
            }
        }
        self.out.write_str(&self.text)
    }

    fn byte(&mut self, byte: u8) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        if !self.first {
            self.text.push(',');
            self.column += 1;
            if self.column >= 76 {
                self.text.push_str("\\\r\n  ");
                self.column = 2;
            }
        }
        self.first = false;
        self.column += 2;
        self.text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        self.text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
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

    fn entries(import: &Import) -> Vec<String> {
        import.list.entries().iter().map(format_entry).collect()
    }

    fn read(text: &str) -> Result<Import, Problem> {
        parse_publish_list(text.as_bytes())
    }

    fn written(entries: &[String]) -> String {
        let mut out = String::new();
        write_reg_file(entries, &mut out).unwrap();
        out
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

    /// The export's header and key, then `value`.
    fn in_key(value: &str) -> String {
        format!("Windows Registry Editor Version 5.00\n\n[{KEY_PATH}]\n{value}")
    }

    #[test]
    fn reads_regedit_utf16_export() {
        let import = parse_publish_list(&utf16_file(EXPORT)).unwrap();
        assert_eq!(entries(&import), ["corp.example, 10, 75", "branch.example"]);
        assert!(import.warnings.is_empty(), "{:?}", import.warnings);
    }

    #[test]
    fn reads_utf8_export_and_string_value() {
        assert_eq!(read(EXPORT).unwrap().list.entries().len(), 2);
        let single = in_key("\"DnsDomainPublishList\"=\"corp.example, 1, 2\"\n");
        assert_eq!(entries(&read(&single).unwrap()), ["corp.example, 1, 2"]);
    }

    #[test]
    fn reads_regedit4_files_as_ansi_unless_utf16() {
        // REGEDIT4 (regedit /a): hex(7) data is 8-bit text.
        let ansi = "REGEDIT4\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SL]\r\n\"DnsDomainPublishList\"=hex(7):63,6f,72,70,2e,65,78,\\\r\n  61,6d,70,6c,65,00,00\r\n";
        let import = read(ansi).unwrap();
        assert_eq!(entries(&import), ["corp.example"]);
        assert!(import.warnings.is_empty(), "{:?}", import.warnings);
        // regedit decides by the byte order mark: UTF-16 data in a UTF-16
        // file, whatever the header.
        let utf16 = EXPORT.replace(HEADER_5, HEADER_4);
        assert_eq!(
            parse_publish_list(&utf16_file(&utf16))
                .unwrap()
                .list
                .entries()
                .len(),
            2
        );
    }

    #[test]
    fn reads_reg_query_output_and_plain_lists() {
        let query = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform\r\n    DnsDomainPublishList    REG_MULTI_SZ    corp.example, 10, 75\\0branch.example\r\n";
        let list = read(query).unwrap();
        assert_eq!(list.list.entries().len(), 2);
        assert!(list.warnings.is_empty(), "{:?}", list.warnings);
        let plain = "# our domains\ncorp.example, 10, 75\n\nbranch.example\n";
        assert_eq!(read(plain).unwrap().list.entries().len(), 2);
        // Latin-1 is read as such.
        let latin1 = b"b\xfccher.example\n";
        let import = parse_publish_list(latin1).unwrap();
        assert_eq!(
            import.list.entries()[0].domain.to_ascii(),
            "xn--bcher-kva.example."
        );
    }

    #[test]
    fn writing_then_reading_round_trips() {
        let entries = ["corp.example, 10, 75", "bücher.example"].map(String::from);
        let file = written(&entries);
        assert!(
            file.lines()
                .filter(|l| !l.starts_with('['))
                .all(|l| l.len() <= 80),
            "{file}"
        );
        let import = read(&file).unwrap();
        assert!(import.warnings.is_empty(), "{:?}", import.warnings);
        assert_eq!(
            format_entry(&import.list.entries()[0]),
            "corp.example, 10, 75"
        );
        assert_eq!(
            import.list.entries()[1].domain.to_ascii(),
            "xn--bcher-kva.example."
        );
    }

    #[test]
    fn matches_regedit_layout() {
        let entries = ["corp.example, 10, 75", "branch.example"].map(String::from);
        let written = written(&entries);
        let expected = EXPORT.replace("\"KeyManagementServiceVersion\"=\"6.1.7600.16385\"\r\n", "");
        assert_eq!(written, expected);
    }

    #[test]
    fn a_blank_line_inside_a_continuation_does_not_cut_the_domain() {
        // Issue 17: this read as `corp.exa` with exit 0. regedit skips the
        // blank line (and a `;` comment line) and reads on.
        let broken = EXPORT.replace("61,00,\\\r\n", "61,00,\\\r\n\r\n; the rest\r\n");
        let import = parse_publish_list(&utf16_file(&broken)).unwrap();
        assert_eq!(entries(&import), ["corp.example, 10, 75", "branch.example"]);
    }

    #[test]
    fn a_value_cut_off_is_an_error_at_its_line() {
        // The backslash lost: regedit would import "corp.exa".
        let lost = EXPORT.replace("61,00,\\\r\n", "61,00,\r\n");
        let error = read(&lost).unwrap_err();
        assert_eq!(error.line, Some(5), "{error}");
        assert!(error.message.contains("\"corp.exa\""), "{error}");
        assert!(error.message.contains("line 6 looks like more"), "{error}");
        // The file ends inside the value.
        let end = EXPORT.split("  6d,00").next().unwrap();
        let error = read(end).unwrap_err();
        assert!(error.message.contains("cut off"), "{error}");
        // Odd bytes in UTF-16 data.
        let odd = in_key("\"DnsDomainPublishList\"=hex(7):63,00,64\n");
        assert!(read(&odd)
            .unwrap_err()
            .message
            .contains("odd number of bytes"));
    }

    #[test]
    fn the_last_value_wins_with_a_warning_naming_both_lines() {
        let twice = in_key(
            "\"DnsDomainPublishList\"=\"first.example\"\n\"dnsdomainpublishlist\"=\"second.example\"\n",
        );
        let import = read(&twice).unwrap();
        assert_eq!(entries(&import), ["second.example"]);
        assert_eq!(import.warnings.len(), 1);
        let warning = &import.warnings[0];
        assert_eq!(warning.line, Some(5));
        assert!(warning.message.contains("line 4"), "{warning}");
        // Deleted last: nothing is left.
        let deleted =
            in_key("\"DnsDomainPublishList\"=\"a.example\"\n\"DnsDomainPublishList\"=-\n");
        let error = read(&deleted).unwrap_err();
        assert_eq!(error.line, Some(5));
        assert!(error.message.contains("deletes"), "{error}");
    }

    #[test]
    fn a_value_outside_the_publish_list_key_is_a_warning() {
        let other = "Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\X]\n\"DnsDomainPublishList\"=\"corp.example\"\n";
        let import = read(other).unwrap();
        assert_eq!(entries(&import), ["corp.example"]);
        assert_eq!(import.warnings.len(), 1);
        assert_eq!(import.warnings[0].line, Some(4));
        assert!(import.warnings[0]
            .message
            .contains("[HKEY_LOCAL_MACHINE\\X]"));
        // With one in the right key, that one is used and the other ignored.
        let both = format!(
            "{}[{KEY_PATH}]\n\"DnsDomainPublishList\"=\"right.example\"\n",
            other
        );
        let import = parse_publish_list(both.as_bytes()).unwrap();
        assert_eq!(entries(&import), ["right.example"]);
        assert_eq!(import.warnings.len(), 1);
        assert!(
            import.warnings[0].message.contains("ignored"),
            "{:?}",
            import.warnings
        );
        // The Vista key is the publish list's too, in any case.
        let vista = format!(
            "REGEDIT4\n\n[{}]\n\"DnsDomainPublishList\"=\"corp.example\"\n",
            VISTA_KEY_PATH.to_ascii_lowercase()
        );
        assert!(parse_publish_list(vista.as_bytes())
            .unwrap()
            .warnings
            .is_empty());
        // Before any key regedit sets nothing.
        let nowhere = "REGEDIT4\n\"DnsDomainPublishList\"=\"corp.example\"\n";
        let import = parse_publish_list(nowhere.as_bytes()).unwrap();
        assert!(import.warnings[0].message.contains("before any [key]"));
    }

    #[test]
    fn comments_after_a_continuation_backslash_are_accepted() {
        let commented = EXPORT
            .replace("61,00,\\\r\n", "61,00,\\ ; first line\r\n")
            .replace("00,\\\r\n  00,62", "00,\\;x\r\n  00,62");
        let import = parse_publish_list(&utf16_file(&commented)).unwrap();
        assert_eq!(entries(&import), ["corp.example, 10, 75", "branch.example"]);
        // `#` is no comment to regedit: it drops the value.
        let hashed = EXPORT.replace("61,00,\\\r\n", "61,00,\\ # first line\r\n");
        let error = read(&hashed).unwrap_err();
        assert_eq!(error.line, Some(5));
        assert!(
            error.message.contains("regedit would not import"),
            "{error}"
        );
    }

    #[test]
    fn a_value_swallowed_by_a_broken_continuation_is_an_error() {
        let swallowed = in_key("\"Other\"=hex:01,\\\n\"DnsDomainPublishList\"=\"corp.example\"\n");
        let error = read(&swallowed).unwrap_err();
        assert_eq!(error.line, Some(5), "{error}");
        assert!(error.message.contains("value on line 4"), "{error}");
    }

    #[test]
    fn utf16_without_bom_is_named() {
        let mut bytes = Vec::new();
        for unit in EXPORT.encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let error = parse_publish_list(&bytes).unwrap_err();
        assert_eq!(error.line, Some(1));
        assert!(
            error.message.contains("UTF-16LE without a byte order mark"),
            "{error}"
        );
        let big_endian: Vec<u8> = EXPORT.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(parse_publish_list(&big_endian)
            .unwrap_err()
            .message
            .contains("UTF-16BE"));
        let with_bom: Vec<u8> = [0xFE, 0xFF].into_iter().chain(big_endian).collect();
        assert!(parse_publish_list(&with_bom)
            .unwrap_err()
            .message
            .contains("big-endian"));
    }

    #[test]
    fn every_error_names_its_line() {
        let plain = "corp.example\n\n# comment\nbad name, 1, 2\n";
        let error = read(plain).unwrap_err();
        assert_eq!(error.line, Some(4), "{error}");
        assert_eq!(
            error.in_file(Path::new("list.txt")),
            format!("list.txt:4: {}", error.message)
        );
        let twice = read("corp.example\nCORP.example.\n").unwrap_err();
        assert_eq!(twice.line, Some(2));
        // In hex data, the line that holds the entry.
        let bad = EXPORT.replace("62,00,72,00", "62,00,20,00");
        let error = read(&bad).unwrap_err();
        assert_eq!(error.line, Some(7), "{error}");
        // In `reg query` output, its line.
        let query = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\SoftwareProtectionPlatform\n    DnsDomainPublishList    REG_MULTI_SZ    corp.example\\0bad name\n";
        assert_eq!(read(query).unwrap_err().line, Some(2));
    }

    #[test]
    fn headers_regedit_refuses_are_errors() {
        for header in [
            "Windows Registry Editor Version 5",
            "WINDOWS REGISTRY EDITOR VERSION 5.00",
            "REGEDIT 4",
            "REGEDIT",
        ] {
            let file =
                format!("{header}\n\n[{KEY_PATH}]\n\"DnsDomainPublishList\"=\"a.example\"\n");
            let error = parse_publish_list(file.as_bytes()).unwrap_err();
            assert_eq!(error.line, Some(1), "{header}: {error}");
        }
        let late = format!("\n{}", in_key("\"DnsDomainPublishList\"=\"a.example\"\n"));
        assert_eq!(read(&late).unwrap_err().line, Some(2));
    }

    #[test]
    fn rejects_bad_files_clearly() {
        const HEADER: &str = "Windows Registry Editor Version 5.00\n";
        let cases: [(Vec<u8>, &str); 7] = [
            (Vec::new(), "empty"),
            (vec![0xFF, 0xFE, 0x00], "odd number of bytes"),
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
                "unexpected type, REG_DWORD",
            ),
            (
                format!("{HEADER}\"DnsDomainPublishList\"=hex(7):\n").into(),
                "no DnsDomainPublishList entries",
            ),
            (b"corp.example\n\0\n".to_vec(), "NUL"),
        ];
        for (file, expected) in cases {
            let error = parse_publish_list(&file).unwrap_err();
            assert!(
                error.message.contains(expected),
                "{error:?} lacks {expected:?}"
            );
        }
    }
}
