//! `include` patterns as BIND 9.18 expands them (`isc_glob`, which calls
//! glob(3) with `GLOB_ERR`): `*`, `?` and `[…]` (`[!…]` negated, ranges)
//! within one path component, a backslash quoting the next character, names
//! starting with `.` matched only by a pattern component that starts with
//! `.`, and the matches in sorted order. A pattern that matches nothing is
//! "file not found", as it is for named.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// True when `pattern` holds a glob character (unquoted `*`, `?` or `[`).
pub(crate) fn is_pattern(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// The paths matching `pattern` under `base` (or from the root when the
/// pattern is absolute), sorted. Directories that cannot be read are
/// skipped.
pub(crate) fn expand(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let mut current: Vec<PathBuf> = vec![if path.is_absolute() {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    }];
    for component in path.components() {
        let part = match component {
            Component::RootDir | Component::Prefix(_) => continue,
            Component::CurDir => continue,
            Component::ParentDir => {
                current = current.into_iter().map(|p| p.join("..")).collect();
                continue;
            }
            Component::Normal(part) => part.to_string_lossy().into_owned(),
        };
        if !is_pattern(&part) {
            let literal = unquote(&part);
            current = current.into_iter().map(|p| p.join(&literal)).collect();
            continue;
        }
        let mut next = Vec::new();
        for dir in &current {
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| matches(&part, name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| dir.join(name)));
        }
        current = next;
    }
    let mut found: Vec<PathBuf> = current.into_iter().filter(|p| p.exists()).collect();
    found.sort();
    found
}

fn unquote(part: &str) -> String {
    let mut out = String::new();
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// fnmatch(3) of one path component, without flags but the leading-dot
/// rule of glob(3).
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    match_from(&pattern, &name)
}

fn match_from(pattern: &[char], name: &[char]) -> bool {
    // Iterative with one backtrack point for the last `*`: linear enough
    // for file names, and no recursion on hostile patterns.
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match class(&pattern[p..], name[n]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                // An unclosed `[` is an ordinary character.
                None => (name[n] == '[').then_some(1),
            },
            Some('\\') => match pattern.get(p + 1) {
                Some(&c) if c == name[n] => Some(2),
                Some(_) => None,
                None => (name[n] == '\\').then_some(1),
            },
            Some(&c) => (c == name[n]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                p += len;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// A `[…]` class at the start of `pattern`: whether `c` is in it and the
/// class's length; `None` when it is not closed.
fn class(pattern: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while let Some(&start) = pattern.get(i) {
        if start == ']' && !first {
            return Some((found != negated, i + 1));
        }
        first = false;
        let (low, mut next) = if start == '\\' {
            (*pattern.get(i + 1)?, i + 2)
        } else {
            (start, i + 1)
        };
        let mut high = low;
        if pattern.get(next) == Some(&'-') && pattern.get(next + 1).is_some_and(|&e| e != ']') {
            high = *pattern.get(next + 1)?;
            next += 2;
        }
        if low <= c && c <= high {
            found = true;
        }
        i = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_like_glob3() {
        assert!(matches("*.conf", "a.conf"));
        assert!(!matches("*.conf", ".hidden.conf"));
        assert!(matches(".*.conf", ".hidden.conf"));
        assert!(matches("zone-?.conf", "zone-1.conf"));
        assert!(!matches("zone-?.conf", "zone-10.conf"));
        assert!(matches("zone-[0-9]*", "zone-10.conf"));
        assert!(!matches("zone-[!0-9]*", "zone-10.conf"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "axb"));
        assert!(matches("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!matches("*a*b*c*", "xxaxxcxxbxx"));
        assert!(matches("[", "["));
        assert!(matches("[]]", "]"));
    }

    #[test]
    fn expands_in_sorted_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join("zones")).unwrap_or_else(|e| panic!("{e}"));
        for name in ["b.conf", "a.conf", "c.txt", ".x.conf"] {
            std::fs::write(dir.path().join("zones").join(name), "")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let found = expand(dir.path(), "zones/*.conf");
        let names: Vec<String> = found
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, ["a.conf", "b.conf"]);
        assert!(expand(dir.path(), "nothere/*.conf").is_empty());
        assert!(is_pattern("zones/*.conf"));
        assert!(!is_pattern("zones/a\\*.conf"));
    }
}
