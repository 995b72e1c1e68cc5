//! The zones of one scope of a configuration (outside views, or one view),
//! kept as what finding each needs, not as its model: its place, the hash
//! of its name, and where its statement is in its file, read again from
//! the file when the zone is asked for ([`Files`]).
//!
//! The model of a zone was about 840 bytes (90 MB for 100,000 zones); its
//! text about 200 (20 MB); where it is, 20. Reading one statement again
//! costs a few microseconds. Finding a zone models only the zones of the
//! name's hash ([`Facts`] answer the rest), and the zone modelled last is
//! kept until another is: an audit asks for its zone's name and model
//! several times in a row, and the domains of one zone come together. The
//! audit of a window keeps the model made to find each of its zones and
//! hands it back ([`Zones::keep`]) when it audits the zone, so a statement
//! is read twice a domain: once to group the selection into windows, once
//! in its window (once in all when the selection is one window), not once
//! a question. A zone whose statement is not all in one file read from
//! disk as it is (an `include` inside its block, text given as a string or
//! not UTF-8) keeps its model.

use std::fmt;
use std::ops::Index;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::files::Files;
use super::model::{zone, Zone};
use super::name::Labels;
use super::syntax::{read_again, Span, Statement};
use super::Location;

/// The zones of one scope, in the order they are written.
#[derive(Clone, Default)]
pub struct Zones {
    /// The block the zones are in: `None` at the top, `view` in a view.
    parent: Option<&'static str>,
    /// The files the zones are read again from. Shared by every scope.
    files: Arc<Files>,
    spots: Vec<Spot>,
    /// The hash of each zone's name and its place, sorted: finding a zone
    /// costs a binary search, not a pass over 100,000 zones.
    index: Vec<(u64, usize)>,
    /// Every zone modelled, made the first time they are asked for all at
    /// once ([`Zones::iter`], indexing): for small configurations and the
    /// model's own tests. The audit asks for one at a time ([`Zones::get`]).
    all: OnceLock<Vec<Arc<Zone>>>,
    /// The zone read again last: one zone, whatever the estate's size.
    last: Last,
}

/// The zone read again from its file last, and its place: the next
/// question is mostly about the same zone.
#[derive(Default)]
struct Last(Mutex<Option<(usize, Arc<Zone>)>>);

impl Last {
    fn get(&self, position: usize) -> Option<Arc<Zone>> {
        let last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|(at, _)| *at == position)
            .map(|(_, zone)| Arc::clone(zone))
    }

    fn set(&self, position: usize, zone: &Arc<Zone>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((position, Arc::clone(zone)));
    }
}

impl Clone for Last {
    /// Nothing: a copy reads its first zone again.
    fn clone(&self) -> Last {
        Last::default()
    }
}

/// What is kept of one zone.
#[derive(Clone)]
struct Spot {
    /// Where its statement is.
    at: Location,
    kept: Kept,
    facts: Facts,
}

/// What finding a zone asks of each zone of a name, kept so that only the
/// zone found is modelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Class IN ([`Zone::is_class_in`]).
    pub class_in: bool,
    /// Serves data of its own ([`Zone::holds_data`]).
    pub holds_data: bool,
    /// `in-view`: the zone of another view.
    pub in_view: bool,
}

#[derive(Clone)]
enum Kept {
    /// Where its statement is in its file.
    Text(Span),
    /// Its model: its statement is not all in one file.
    Model(Arc<Zone>),
}

impl Zones {
    /// No zones, in the block `parent` (`None`: at the top).
    pub(crate) fn new(parent: Option<&'static str>) -> Zones {
        Zones {
            parent,
            ..Zones::default()
        }
    }

    /// Adds the zone `model`, read from `statement`.
    pub(crate) fn push(&mut self, model: Zone, statement: &Statement) {
        let key = Labels::parse(&model.name).key();
        self.index.push((key, self.spots.len()));
        let facts = Facts {
            class_in: model.is_class_in(),
            holds_data: model.holds_data(),
            in_view: model.in_view.is_some(),
        };
        let kept = match &statement.text.0 {
            Some(span) => Kept::Text(span.clone()),
            None => Kept::Model(Arc::new(model)),
        };
        self.spots.push(Spot {
            at: statement.at.clone(),
            kept,
            facts,
        });
    }

    /// The numbers of the files whose text the zones are in.
    pub(crate) fn files(&self) -> impl Iterator<Item = usize> + '_ {
        self.spots.iter().filter_map(|spot| match &spot.kept {
            Kept::Text(span) => usize::try_from(span.file).ok(),
            Kept::Model(_) => None,
        })
    }

    /// Sorts the index, once every zone is in, and takes the files read.
    pub(crate) fn finish(&mut self, files: Arc<Files>) {
        self.index.sort_unstable();
        self.spots.shrink_to_fit();
        self.index.shrink_to_fit();
        self.files = files;
    }

    /// The first file found changed since it was read, when a zone was
    /// read again from it: no zone of it was modelled.
    pub(crate) fn changed(&self) -> Option<&Path> {
        self.files.changed()
    }

    /// How many statements were read again from their files, in every
    /// scope (they share their files).
    #[cfg(test)]
    pub(crate) fn read_again(&self) -> usize {
        self.files.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The text of the statement at `span`, read again from its file.
    fn text(&self, span: &Span) -> Option<String> {
        let file = usize::try_from(span.file).ok()?;
        self.files.read(file, span.bytes.clone(), span.hash)
    }

    /// How many zones.
    pub fn len(&self) -> usize {
        self.spots.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.spots.is_empty()
    }

    /// Where the zone at `position` is written.
    pub fn at(&self, position: usize) -> Option<&Location> {
        self.spots.get(position).map(|spot| &spot.at)
    }

    /// What finding a zone asks of the zone at `position`.
    pub(crate) fn facts(&self, position: usize) -> Option<Facts> {
        self.spots.get(position).map(|spot| spot.facts)
    }

    /// The model of the zone at `position`, made for the asking (kept until
    /// another zone is made, or for good when every zone has been asked
    /// for at once).
    pub fn get(&self, position: usize) -> Option<Arc<Zone>> {
        if let Some(all) = self.all.get() {
            return all.get(position).cloned();
        }
        let spot = self.spots.get(position)?;
        match &spot.kept {
            Kept::Model(model) => Some(Arc::clone(model)),
            Kept::Text(span) => {
                if let Some(model) = self.last.get(position) {
                    return Some(model);
                }
                // The same text was read and modelled when the file was
                // loaded: reading it again gives the same zone. The text
                // is dropped here, once modelled.
                let statement = read_again(&spot.at, self.text(span)?, self.parent).ok()?;
                let model = Arc::new(zone(&statement).ok()?);
                self.last.set(position, &model);
                Some(model)
            }
        }
    }

    /// Keeps `model`, made by [`Zones::get`] earlier, as the zone modelled
    /// last at `position`: a caller that held it while other zones were
    /// asked for hands it back rather than have the statement read again.
    pub(crate) fn keep(&self, position: usize, model: &Arc<Zone>) {
        self.last.set(position, model);
    }

    /// Every zone, modelled (and kept) the first time.
    pub fn iter(&self) -> Iter<'_> {
        self.all()
            .iter()
            .map(Arc::as_ref as fn(&Arc<Zone>) -> &Zone)
    }

    fn all(&self) -> &[Arc<Zone>] {
        self.all.get_or_init(|| {
            (0..self.len())
                .filter_map(|position| self.get(position))
                .collect()
        })
    }

    /// Where the zones named `name` (any class) are, in the order they are
    /// written.
    pub(crate) fn named(&self, name: &Labels) -> Vec<usize> {
        let key = name.key();
        let start = self.index.partition_point(|(k, _)| *k < key);
        self.index[start..]
            .iter()
            .take_while(|(k, _)| *k == key)
            .map(|&(_, position)| position)
            // Another name of the same hash is not this one. The zone is
            // modelled to tell, once: the caller asks for it next.
            .filter(|&position| {
                self.get(position)
                    .is_some_and(|zone| Labels::parse(&zone.name) == *name)
            })
            .collect()
    }

    /// The positions of the zones whose names share a hash with another's,
    /// in runs of one hash: the only zones that may be defined twice.
    pub(crate) fn same_hash(&self) -> Vec<Vec<usize>> {
        self.index
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
            .map(|run| run.iter().map(|&(_, position)| position).collect())
            .collect()
    }
}

impl Index<usize> for Zones {
    type Output = Zone;

    /// The zone at `position`, with every zone modelled and kept.
    fn index(&self, position: usize) -> &Zone {
        &self.all()[position]
    }
}

/// The zones of a scope, every one modelled ([`Zones::iter`]).
pub type Iter<'a> = std::iter::Map<std::slice::Iter<'a, Arc<Zone>>, fn(&Arc<Zone>) -> &Zone>;

impl<'a> IntoIterator for &'a Zones {
    type Item = &'a Zone;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Zones {
    fn eq(&self, other: &Zones) -> bool {
        self.len() == other.len() && (0..self.len()).all(|i| self.get(i) == other.get(i))
    }
}

impl Eq for Zones {}

impl fmt::Debug for Zones {
    /// The zones' models: never their text, which is not redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let models = (0..self.len()).filter_map(|i| self.get(i));
        f.debug_list().entries(models).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::named_conf::syntax::Reader;
    use crate::named_conf::{Limits, NamedConf};
    use std::path::{Path, PathBuf};

    /// Every zone statement of `text`, the file `path`, modelled as it is
    /// read.
    fn read_first(path: &Path, text: &str) -> Vec<Zone> {
        let mut reader = Reader::new(path, Limits::default());
        let tree = reader
            .parse_text(path, text)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut zones = Vec::new();
        for statement in &tree {
            let inner = statement.block().map_or(&[][..], |b| &b.statements[..]);
            let of_view = inner.iter().filter(|_| statement.is("view"));
            for zone_statement in std::iter::once(statement).chain(of_view) {
                if zone_statement.is("zone") {
                    zones.push(zone(zone_statement).unwrap_or_else(|e| panic!("{e}")));
                }
            }
        }
        zones
    }

    /// The text of the first test: after a secret of several lines and a
    /// character of two bytes (the same lines, columns and bytes after
    /// them); a zone in a view, read in its view.
    const TEXT: &str = "key k { algorithm hmac-sha256;\n secret \"é\n aa==\"; };\n\
        zone \"a.example\" { type primary; file \"db\"; // note\n\
          update-policy { grant k name _vlmcs._tcp.a.example. SRV; }; };\n\
        view v { zone \"b.example\" in { type primary; allow-update { key k; !10.0.0.0/8; }; }; };\n";

    /// `text` written as `named.conf` in a new directory, and read.
    fn load(text: &str) -> (tempfile::TempDir, PathBuf, NamedConf) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("named.conf");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let conf = NamedConf::load(&path).unwrap_or_else(|e| panic!("{e}"));
        (dir, path, conf)
    }

    /// Every zone of `conf`, read again: at the top, then in the first view.
    fn read_again_all(conf: &NamedConf) -> Vec<Option<Zone>> {
        let scopes = [&conf.zones, &conf.views[0].zones];
        scopes
            .into_iter()
            .flat_map(|zones| (0..zones.len()).map(|i| zones.get(i).map(Arc::unwrap_or_clone)))
            .collect()
    }

    #[test]
    fn a_zone_read_again_from_its_file_is_the_zone_read_first() {
        let (_dir, path, conf) = load(TEXT);
        assert!(conf
            .zones
            .spots
            .iter()
            .chain(&conf.views[0].zones.spots)
            .all(|spot| matches!(spot.kept, Kept::Text(_))));
        let again: Vec<Zone> = read_again_all(&conf).into_iter().flatten().collect();
        assert_eq!(again, read_first(&path, TEXT));
        assert_eq!(again[1].at.line, 6, "{again:#?}");
        assert_eq!(conf.changed(), None);
    }

    #[test]
    fn a_zone_of_text_given_as_a_string_keeps_its_model() {
        let conf =
            NamedConf::parse_str(Path::new("t.conf"), TEXT).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(conf.zones.spots[0].kept, Kept::Model(_)));
        let again: Vec<Zone> = read_again_all(&conf).into_iter().flatten().collect();
        assert_eq!(again, read_first(Path::new("t.conf"), TEXT));
    }

    #[test]
    fn a_file_changed_between_the_read_and_the_read_again_is_named() {
        // The same length: only the bytes of the statement tell.
        let (_dir, path, conf) = load(TEXT);
        std::fs::write(&path, TEXT.replace("a.example", "c.example"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(conf.zones.get(0), None);
        assert_eq!(conf.changed(), Some(path.as_path()));
        // Longer: the file's length tells, before its bytes are read.
        let (_dir, path, conf) = load(TEXT);
        std::fs::write(&path, format!("# more\n{TEXT}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_again_all(&conf), vec![None, None]);
        assert_eq!(conf.changed(), Some(path.as_path()));
        // Gone.
        let (dir, path, conf) = load(TEXT);
        drop(dir);
        assert!(conf.views[0]
            .zones
            .named(&Labels::parse("b.example"))
            .is_empty());
        assert_eq!(conf.changed(), Some(path.as_path()));
    }

    #[test]
    fn a_zone_with_an_include_inside_keeps_its_model() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("inner.conf"),
            "type primary;\nfile \"db\";\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let top = dir.path().join("named.conf");
        std::fs::write(&top, "zone \"a.example\" {\n include \"inner.conf\";\n};\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let conf = NamedConf::load(&top).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(conf.zones.spots[0].kept, Kept::Model(_)));
        let zone = conf.zones.get(0).unwrap_or_else(|| panic!("no zone"));
        assert_eq!(zone.zone_type.as_deref(), Some("primary"));
        assert!(conf.loads(), "{:?}", conf.rejections);
    }
}
