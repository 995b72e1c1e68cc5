//! Domain names as `named.conf` writes them, compared the way BIND does
//! (`dns_name_equal`): case-insensitively (ASCII only), absolute whether or
//! not they end with a dot (names in `named.conf` are relative to the root),
//! with the master-file escapes of RFC 1035 §5.1 decoded: `\.` keeps a dot
//! inside a label and `\DDD` is the byte of that decimal value, so
//! `\099orp.example` is `corp.example`.

use std::hash::{Hash, Hasher};

/// A domain name as labels of raw bytes, most specific first, in the case
/// they were written; the root is empty. Equality and hashing ignore ASCII
/// case, as `dns_name_equal` does.
#[derive(Debug, Clone, Eq)]
pub(crate) struct Labels(pub Vec<Vec<u8>>);

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for label in &self.0 {
            state.write_usize(label.len());
            for byte in label {
                state.write_u8(byte.to_ascii_lowercase());
            }
        }
    }
}

fn label_eq(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Labels {
    /// A hash of the name as it compares (ASCII case ignored), for
    /// indexes that keep no copy of the name.
    pub fn key(&self) -> u64 {
        use std::hash::BuildHasher;
        // Fixed keys: the same name always gives the same key in a run.
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(self)
    }

    /// Splits `text` on unescaped dots and decodes `\X` and `\DDD`.
    pub fn parse(text: &str) -> Labels {
        let mut labels = Vec::new();
        let mut current: Vec<u8> = Vec::new();
        let bytes = text.trim().as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => {
                    let digits = bytes
                        .get(i + 1..i + 4)
                        .filter(|d| d.iter().all(u8::is_ascii_digit));
                    match digits {
                        Some(d) => {
                            let value =
                                d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
                            // BIND refuses a value above 255; keep the text
                            // so that such a name matches nothing real.
                            match u8::try_from(value) {
                                Ok(byte) => current.push(byte),
                                Err(_) => current.extend_from_slice(&bytes[i..i + 4]),
                            }
                            i += 4;
                        }
                        None => {
                            if let Some(&next) = bytes.get(i + 1) {
                                current.push(next);
                            }
                            i += 2;
                        }
                    }
                }
                b'.' => {
                    if !current.is_empty() {
                        labels.push(std::mem::take(&mut current));
                    }
                    i += 1;
                }
                other => {
                    current.push(other);
                    i += 1;
                }
            }
        }
        if !current.is_empty() {
            labels.push(current);
        }
        Labels(labels)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True for the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// True when `self` is `ancestor` or below it (`dns_name_issubdomain`).
    pub fn is_at_or_below(&self, ancestor: &Labels) -> bool {
        self.0.len() >= ancestor.0.len()
            && self.0[self.0.len() - ancestor.0.len()..]
                .iter()
                .zip(&ancestor.0)
                .all(|(a, b)| label_eq(a, b))
    }

    /// True when `self` is strictly below `ancestor`.
    pub fn is_below(&self, ancestor: &Labels) -> bool {
        self.0.len() > ancestor.0.len() && self.is_at_or_below(ancestor)
    }

    /// True when the first label is `*` (`dns_name_iswildcard`).
    pub fn is_wildcard(&self) -> bool {
        self.0.first().is_some_and(|l| l.as_slice() == b"*")
    }

    /// The name without its first label.
    pub fn parent(&self) -> Labels {
        Labels(self.0.iter().skip(1).cloned().collect())
    }

    /// Every name from `self` up to and including `top`, `self` first
    /// (empty when `self` is not at or below `top`).
    pub fn up_to(&self, top: &Labels) -> Vec<Labels> {
        if !self.is_at_or_below(top) {
            return Vec::new();
        }
        (0..=self.0.len() - top.0.len())
            .map(|skip| Labels(self.0[skip..].to_vec()))
            .collect()
    }

    /// True when `self` matches `pattern`: equal, or strictly below the
    /// rest of a pattern that starts with `*` (`dns_name_matcheswildcard`).
    pub fn matches(&self, pattern: &Labels) -> bool {
        if pattern.is_wildcard() {
            self.is_below(&pattern.parent())
        } else {
            self == pattern
        }
    }

    /// True when `self` matches `wildcard` as BIND's
    /// `dns_name_matcheswildcard`: strictly below the rest of it.
    pub fn matches_wildcard(&self, wildcard: &Labels) -> bool {
        wildcard.is_wildcard() && self.is_below(&wildcard.parent())
    }

    /// The absolute presentation form in lower case, ending with a dot,
    /// special bytes escaped as in a master file.
    pub fn to_absolute(&self) -> String {
        if self.0.is_empty() {
            return ".".to_string();
        }
        let mut text = String::new();
        for label in &self.0 {
            push_label(&mut text, label, true);
            text.push('.');
        }
        text
    }

    /// The name as text without the final dot and without escapes, in the
    /// case it was written: what `dns_name_toprincipal` gives for a
    /// Kerberos principal (`host/kms1.corp.example@CORP.EXAMPLE`).
    pub fn to_principal(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        parts.join(".")
    }
}

fn push_label(text: &mut String, label: &[u8], lower: bool) {
    for &byte in label {
        let byte = if lower {
            byte.to_ascii_lowercase()
        } else {
            byte
        };
        match byte {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                text.push('\\');
                text.push(char::from(byte));
            }
            0x21..=0x7e => text.push(char::from(byte)),
            _ => text.push_str(&format!("\\{byte:03}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_dot_and_case_do_not_matter() {
        assert_eq!(
            Labels::parse("Corp.Example."),
            Labels::parse("corp.example")
        );
        assert_eq!(Labels::parse("."), Labels(vec![]));
        assert_eq!(Labels::parse("").to_absolute(), ".");
    }

    #[test]
    fn escaped_dot_stays_in_the_label() {
        assert_eq!(Labels::parse(r"a\.b.c").len(), 2);
        assert_eq!(Labels::parse(r"a\.b.c").to_absolute(), r"a\.b.c.");
    }

    #[test]
    fn decimal_escapes_are_bytes() {
        // Issue 18: `zone "\099orp.example"` is corp.example to BIND.
        assert_eq!(
            Labels::parse(r"\099orp.example"),
            Labels::parse("corp.example")
        );
        assert_eq!(
            Labels::parse(r"\067ORP.example").to_absolute(),
            "corp.example."
        );
        assert_eq!(Labels::parse(r"a\032b").to_absolute(), r"a\032b.");
        assert_eq!(Labels::parse(r"\042.x"), Labels::parse("*.x"));
        assert!(Labels::parse(r"\042.x").is_wildcard());
        // Not three digits: the escaped character itself.
        assert_eq!(Labels::parse(r"\09x"), Labels::parse("09x"));
    }

    #[test]
    fn ancestry() {
        let name = Labels::parse("_vlmcs._tcp.corp.example");
        assert!(name.is_at_or_below(&Labels::parse("corp.example.")));
        assert!(name.is_at_or_below(&Labels::parse(".")));
        assert!(name.is_at_or_below(&name));
        assert!(!name.is_below(&name));
        assert!(!name.is_at_or_below(&Labels::parse("orp.example")));
        assert!(name.is_at_or_below(&Labels::parse("CORP.example")));
        let up: Vec<String> = name
            .up_to(&Labels::parse("corp.example"))
            .iter()
            .map(Labels::to_absolute)
            .collect();
        assert_eq!(
            up,
            [
                "_vlmcs._tcp.corp.example.",
                "_tcp.corp.example.",
                "corp.example."
            ]
        );
    }

    #[test]
    fn wildcards_match_any_depth_below() {
        let pattern = Labels::parse("*.corp.example");
        assert!(Labels::parse("_vlmcs._tcp.corp.example").matches(&pattern));
        assert!(!Labels::parse("corp.example").matches(&pattern));
        assert!(Labels::parse("x").matches(&Labels::parse("*")));
        assert!(Labels::parse("x").matches_wildcard(&Labels::parse("*")));
        assert!(!Labels::parse(".").matches_wildcard(&Labels::parse("*")));
    }

    #[test]
    fn principals_keep_their_case() {
        let principal = Labels::parse("host/kms1.corp.example@CORP.EXAMPLE");
        assert_eq!(
            principal.to_principal(),
            "host/kms1.corp.example@CORP.EXAMPLE"
        );
    }
}
