//! The machine's DNS suffix search list, from `/etc/resolv.conf`
//! (resolv.conf(5)): the Unix counterpart of the Windows suffix search list
//! through which a KMS client looks for `_vlmcs._tcp` (DESIGN §2).

use std::path::Path;

use hickory_proto::rr::Name;

use crate::dns::name::parse_domain;
use crate::local_file::{self, Limit};

/// Where the system resolver's configuration lives.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The search list of resolv.conf text: the domains of the last `search`
/// or `domain` line, in order, without duplicates.
///
/// resolv.conf(5): "The domain and search keywords are mutually exclusive.
/// If more than one instance of these keywords is present, the last
/// instance wins." Names that are not valid domains (and the root) are
/// left out: the resolver could not append them either.
pub fn parse(text: &str) -> Vec<Name> {
    let mut list: Vec<Name> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let keyword = words.next().unwrap_or("");
        if keyword != "search" && keyword != "domain" {
            continue;
        }
        list.clear();
        let words = words.take_while(|w| !w.starts_with(['#', ';']));
        // `domain` takes a single name.
        let take = if keyword == "domain" { 1 } else { usize::MAX };
        for word in words.take(take) {
            if let Ok(name) = parse_domain(word) {
                if !list.contains(&name) {
                    list.push(name);
                }
            }
        }
    }
    list
}

/// Reads the search list from the resolv.conf at `path`.
pub fn read(path: &Path) -> std::io::Result<Vec<Name>> {
    local_file::read_to_string(path, Limit::RESOLV_CONF).map(|text| parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        parse(text).iter().map(|n| n.to_ascii()).collect()
    }

    #[test]
    fn search_line_in_order() {
        assert_eq!(
            names("nameserver 192.0.2.53\nsearch corp.example lab.example\noptions ndots:1\n"),
            ["corp.example.", "lab.example."]
        );
    }

    #[test]
    fn last_search_or_domain_wins() {
        assert_eq!(
            names("search a.example b.example\ndomain c.example\n"),
            ["c.example."]
        );
        assert_eq!(
            names("domain c.example\nsearch a.example\n"),
            ["a.example."]
        );
    }

    #[test]
    fn comments_duplicates_and_bad_names_are_left_out() {
        assert_eq!(
            names(
                "# search commented.example\n; domain x.example\nsearch a.example A.example. . bad..name b.example # trailing\n"
            ),
            ["a.example.", "b.example."]
        );
        assert!(names("nameserver 192.0.2.1\n").is_empty());
        assert!(names("").is_empty());
    }
}
