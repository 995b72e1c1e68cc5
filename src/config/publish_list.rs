//! The publish list: which DNS domains a KMS host publishes to, with which
//! priority and weight — Windows' `DnsDomainPublishList` entry syntax.
//!
//! Each entry is `domain` or `domain, priority, weight` (Microsoft's own
//! example: `KMS_E1, 10, 75`); omitted values mean 0.

use hickory_proto::rr::Name;

use super::name::parse_domain;
use super::name_index::NameIndex;

/// One entry of a publish list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishEntry {
    pub domain: Name,
    pub priority: u16,
    pub weight: u16,
}

/// The domains one KMS host publishes to, in order, without duplicates.
#[derive(Debug, Clone, Default)]
pub struct PublishList {
    entries: Box<[PublishEntry]>,
    /// Where each domain is in `entries`: lists of thousands of domains are
    /// read in linear time, and kept in little memory.
    index: NameIndex,
}

impl PartialEq for PublishList {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for PublishList {}

impl PublishList {
    /// The list of `entries`, in their order; `Err((at, message))` when
    /// the entry at `at` names a domain an earlier one lists.
    pub fn new(entries: Vec<PublishEntry>) -> Result<PublishList, (usize, String)> {
        let index = NameIndex::new(&entries, |e| &e.domain)
            .map_err(|at| (at, format!("{} is listed twice", entries[at].domain)))?;
        Ok(PublishList {
            entries: entries.into_boxed_slice(),
            index,
        })
    }

    /// The entries in order.
    pub fn entries(&self) -> &[PublishEntry] {
        &self.entries
    }

    /// The entry for `domain`, if the list has one (case-insensitive).
    pub fn get(&self, domain: &Name) -> Option<&PublishEntry> {
        let at = self.index.find(&self.entries, |e| &e.domain, domain)?;
        Some(&self.entries[at])
    }
}

/// Parses one entry in Windows' syntax: `domain[, priority[, weight]]`.
pub fn parse_entry(text: &str) -> Result<PublishEntry, String> {
    let mut fields = text.split(',');
    let domain = parse_domain(fields.next().unwrap_or_default())
        .map_err(|e| format!("publish-list entry \"{text}\": {e}"))?;
    let priority = parse_number(text, "priority", fields.next())?;
    let weight = parse_number(text, "weight", fields.next())?;
    if fields.next().is_some() {
        return Err(format!(
            "publish-list entry \"{text}\" has more than three fields; the syntax is \"domain, priority, weight\""
        ));
    }
    Ok(PublishEntry {
        domain,
        priority,
        weight,
    })
}

fn parse_number(entry: &str, what: &str, field: Option<&str>) -> Result<u16, String> {
    let Some(field) = field.map(str::trim) else {
        return Ok(0);
    };
    if field.is_empty() {
        return Ok(0);
    }
    field.parse::<u16>().map_err(|_| {
        format!(
            "publish-list entry \"{entry}\": {what} \"{field}\" is not a number from 0 to 65535"
        )
    })
}

/// Shows an entry in Windows' syntax, as `DnsDomainPublishList` holds it.
pub fn format_entry(entry: &PublishEntry) -> String {
    let domain = entry.domain.to_ascii();
    let domain = domain.trim_end_matches('.');
    if entry.priority == 0 && entry.weight == 0 {
        domain.to_string()
    } else {
        format!("{domain}, {}, {}", entry.priority, entry.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_windows_syntax() {
        let e = parse_entry("KMS_E1, 10, 75").unwrap();
        assert_eq!(e.domain.to_ascii(), "KMS_E1.");
        assert_eq!((e.priority, e.weight), (10, 75));
        let e = parse_entry("corp.example").unwrap();
        assert_eq!((e.priority, e.weight), (0, 0));
        let e = parse_entry(" corp.example ,5").unwrap();
        assert_eq!((e.priority, e.weight), (5, 0));
        let e = parse_entry("corp.example,,7").unwrap();
        assert_eq!((e.priority, e.weight), (0, 7));
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(parse_entry("corp.example, 65536, 0")
            .unwrap_err()
            .contains("priority"));
        assert!(parse_entry("corp.example, 1, -1")
            .unwrap_err()
            .contains("weight"));
        assert!(parse_entry("corp.example, 1, 2, 3")
            .unwrap_err()
            .contains("three"));
        assert!(parse_entry(", 1, 2").is_err());
        assert!(parse_entry("bad name, 1, 2").is_err());
    }

    #[test]
    fn refuses_a_domain_with_no_room_for_its_srv_owner() {
        // 242 characters: `_vlmcs._tcp.` on top would pass 255 octets, and
        // the owner name used to fall back to the domain itself.
        let long = format!("{}.{}", vec!["a".repeat(63); 3].join("."), "b".repeat(50));
        assert_eq!(long.len(), 242);
        let err = parse_entry(&format!("{long}, 1, 1")).unwrap_err();
        assert!(err.contains("_vlmcs._tcp"), "{err}");
        assert!(parse_entry(&long[1..]).is_ok());
    }

    #[test]
    fn formats_back_to_windows_syntax() {
        for text in ["corp.example", "branch.example, 10, 75"] {
            assert_eq!(format_entry(&parse_entry(text).unwrap()), text);
        }
    }

    #[test]
    fn refuses_duplicates_case_insensitively() {
        let entries = ["corp.example", "other.example", "CORP.example., 1, 1"]
            .map(|text| parse_entry(text).unwrap());
        let (at, message) = PublishList::new(entries.to_vec()).unwrap_err();
        assert_eq!(at, 2);
        assert_eq!(message, "CORP.example. is listed twice");
        let list = PublishList::new(entries[..2].to_vec()).unwrap();
        assert_eq!(list.get(&entries[2].domain), Some(&entries[0]));
    }
}
