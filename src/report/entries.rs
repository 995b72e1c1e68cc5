//! The per-domain (or per-zone) entries of a command's details, kept as
//! values or as compact JSON.
//!
//! A report's details hold one entry per domain: at 10,000 domains, kept as
//! Rust values until the report is written, they were most of a run's
//! memory (`audit` peaked above 100 MiB). When the report is written as
//! JSON — or not shown at all — each entry is serialized the moment it is
//! pushed, into compact JSON about a third the size of the values,
//! and written out again through the report's own serializer, so the
//! document reads exactly as if the values had been kept (indentation
//! included). The text report shows the entries, so it keeps the values.

use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};

/// Entries kept as values ([`Entries::values`]) or as compact JSON
/// ([`Entries::json`]).
#[derive(Debug, Clone)]
pub struct Entries<T> {
    kept: Kept<T>,
}

#[derive(Debug, Clone)]
enum Kept<T> {
    Values(Vec<T>),
    /// Each entry as compact JSON, in an allocation of its exact size
    /// (one growing text would hold up to twice its length).
    Json(Vec<Box<str>>),
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries::values()
    }
}

impl<T> From<Vec<T>> for Entries<T> {
    fn from(values: Vec<T>) -> Self {
        Entries {
            kept: Kept::Values(values),
        }
    }
}

impl<T> Entries<T> {
    /// Entries kept as values, for the text report.
    pub fn values() -> Self {
        Vec::new().into()
    }

    /// Entries kept as compact JSON.
    pub fn json() -> Self {
        Entries {
            kept: Kept::Json(Vec::new()),
        }
    }

    /// Values when `as_values`, else compact JSON.
    pub fn new(as_values: bool) -> Self {
        if as_values {
            Entries::values()
        } else {
            Entries::json()
        }
    }

    /// The entries, when kept as values; empty when kept as JSON.
    pub fn as_values(&self) -> &[T] {
        match &self.kept {
            Kept::Values(values) => values,
            Kept::Json(_) => &[],
        }
    }

    pub fn len(&self) -> usize {
        match &self.kept {
            Kept::Values(values) => values.len(),
            Kept::Json(entries) => entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Serialize> Entries<T> {
    /// Adds one entry.
    pub fn push(&mut self, entry: T) -> serde_json::Result<()> {
        match &mut self.kept {
            Kept::Values(values) => values.push(entry),
            Kept::Json(entries) => entries.push(serde_json::to_string(&entry)?.into_boxed_str()),
        }
        Ok(())
    }

    /// Every entry read back as `R`: a view of the fields some consumer
    /// needs (the metrics of `audit`), whichever way the entries are kept.
    pub fn read_as<R: DeserializeOwned>(&self) -> serde_json::Result<Vec<R>> {
        match &self.kept {
            Kept::Values(values) => values
                .iter()
                .map(|value| serde_json::to_value(value).and_then(serde_json::from_value))
                .collect(),
            Kept::Json(entries) => entries
                .iter()
                .map(|entry| serde_json::from_str(entry))
                .collect(),
        }
    }
}

impl<T: Serialize> Serialize for Entries<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match &self.kept {
            Kept::Values(values) => values.serialize(serializer),
            Kept::Json(entries) => {
                let mut seq = serializer.serialize_seq(Some(entries.len()))?;
                for entry in entries {
                    let mut json = serde_json::Deserializer::from_str(entry);
                    seq.serialize_element(&serde_transcode::Transcoder::new(&mut json))?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Entry {
        name: String,
        servers: Vec<u32>,
        note: Option<String>,
    }

    fn entries() -> Vec<Entry> {
        vec![
            Entry {
                name: "a \"quoted\"\nname".into(),
                servers: vec![1, 2],
                note: None,
            },
            Entry {
                name: "b".into(),
                servers: Vec::new(),
                note: Some("ü".into()),
            },
        ]
    }

    #[derive(Serialize)]
    struct Details {
        entries: Entries<Entry>,
        after: u8,
    }

    fn kept(as_values: bool) -> Entries<Entry> {
        let mut kept = Entries::new(as_values);
        for entry in entries() {
            kept.push(entry).unwrap();
        }
        kept
    }

    /// The same document, pretty or compact, whichever way they are kept.
    #[test]
    fn json_entries_write_exactly_like_values() {
        for empty in [true, false] {
            let details = |as_values| Details {
                entries: if empty {
                    Entries::new(as_values)
                } else {
                    kept(as_values)
                },
                after: 7,
            };
            assert_eq!(
                serde_json::to_string_pretty(&details(false)).unwrap(),
                serde_json::to_string_pretty(&details(true)).unwrap()
            );
            assert_eq!(
                serde_json::to_string(&details(false)).unwrap(),
                serde_json::to_string(&details(true)).unwrap()
            );
        }
    }

    #[test]
    fn entries_read_back_either_way() {
        for as_values in [true, false] {
            let kept = kept(as_values);
            assert_eq!(kept.len(), 2);
            assert_eq!(kept.read_as::<Entry>().unwrap(), entries());
            assert_eq!(kept.as_values().len(), if as_values { 2 } else { 0 });
        }
    }
}
