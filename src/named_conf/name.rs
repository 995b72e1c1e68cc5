//! Domain names as `named.conf` writes them, compared the way BIND does:
//! case-insensitively, absolute whether or not they end with a dot (names
//! in `named.conf` are relative to the root), with `\.` kept inside a label.

/// A domain name as lower-cased labels, most specific first; the root is
/// empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Labels(pub Vec<String>);

impl Labels {
    /// Splits `text` on unescaped dots.
    pub fn parse(text: &str) -> Labels {
        let mut labels = Vec::new();
        let mut current = String::new();
        let mut chars = text.trim().chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    current.push('\\');
                    if let Some(next) = chars.next() {
                        current.push(next.to_ascii_lowercase());
                    }
                }
                '.' => {
                    if !current.is_empty() {
                        labels.push(std::mem::take(&mut current));
                    }
                }
                other => current.push(other.to_ascii_lowercase()),
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

    /// True when `self` is `ancestor` or below it.
    pub fn is_at_or_below(&self, ancestor: &Labels) -> bool {
        self.0.len() >= ancestor.0.len() && self.0.ends_with(&ancestor.0)
    }

    /// True when `self` is strictly below `ancestor`.
    pub fn is_below(&self, ancestor: &Labels) -> bool {
        self.0.len() > ancestor.0.len() && self.0.ends_with(&ancestor.0)
    }

    /// True when the first label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0.first().is_some_and(|l| l == "*")
    }

    /// The name without its first label.
    pub fn parent(&self) -> Labels {
        Labels(self.0.iter().skip(1).cloned().collect())
    }

    /// True when `self` matches `pattern`: equal, or below the rest of a
    /// pattern that starts with `*` (DNS wildcard matching, any depth).
    pub fn matches(&self, pattern: &Labels) -> bool {
        if pattern.is_wildcard() {
            self.is_below(&pattern.parent())
        } else {
            self == pattern
        }
    }

    /// The absolute presentation form, ending with a dot.
    pub fn to_absolute(&self) -> String {
        if self.0.is_empty() {
            ".".to_string()
        } else {
            let mut text = self.0.join(".");
            text.push('.');
            text
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
    }

    #[test]
    fn ancestry() {
        let name = Labels::parse("_vlmcs._tcp.corp.example");
        assert!(name.is_at_or_below(&Labels::parse("corp.example.")));
        assert!(name.is_at_or_below(&Labels::parse(".")));
        assert!(name.is_at_or_below(&name));
        assert!(!name.is_below(&name));
        assert!(!name.is_at_or_below(&Labels::parse("orp.example")));
    }

    #[test]
    fn wildcards_match_any_depth_below() {
        let pattern = Labels::parse("*.corp.example");
        assert!(Labels::parse("_vlmcs._tcp.corp.example").matches(&pattern));
        assert!(!Labels::parse("corp.example").matches(&pattern));
        assert!(Labels::parse("x").matches(&Labels::parse("*")));
    }
}
