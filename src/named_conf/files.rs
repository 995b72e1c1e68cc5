//! The files a configuration was read from, kept so that a zone's
//! statement is read again from its file when the zone is asked for
//! ([`super::zones`]), not kept as text: 100,000 statements were 20 MB.
//!
//! What is read again must be what was read first, or a verdict would
//! mix two configurations: each file's length and time of change are
//! compared when it is opened again, and the bytes of each statement with
//! their hash. A file found changed makes no model; it is noted, and the
//! command that asked says so ([`super::NamedConf::changed`]) rather than
//! give a verdict. The bytes read again (a `secret` inside a zone would be
//! in them) are dropped as soon as the statement is modelled.

use std::fs::{File, Metadata};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

/// What a file was when it was read: a different length or time of change
/// is another file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    /// The stamp of a file whose `len` bytes were read (the file may have
    /// grown while it was read: its metadata's length would hide that).
    pub(crate) fn new(metadata: &Metadata, len: u64) -> Stamp {
        Stamp {
            len,
            modified: metadata.modified().ok(),
        }
    }
}

/// The hash of a statement's bytes, kept to check them when they are read
/// again.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// The files whose zone statements are read again, by their number among
/// the files read.
#[derive(Debug, Default)]
pub(crate) struct Files {
    read: Vec<Option<(PathBuf, Stamp)>>,
    /// The file read last, open: zones are asked for mostly in the order
    /// they are written, and one file open at a time never runs out of
    /// descriptors however many files are included.
    open: Mutex<Option<(usize, File)>>,
    /// The first file found changed since it was read.
    changed: OnceLock<PathBuf>,
    /// How many statements were read again: what the tests of the zones'
    /// memo count.
    #[cfg(test)]
    pub(crate) reads: std::sync::atomic::AtomicUsize,
}

impl Files {
    /// The files `paths` with their `stamps` (`None`: not read again), of
    /// which only those `kept` says.
    pub(crate) fn new(
        paths: &[PathBuf],
        stamps: Vec<Option<Stamp>>,
        kept: impl Fn(usize) -> bool,
    ) -> Files {
        let read = stamps
            .into_iter()
            .enumerate()
            .map(|(number, stamp)| {
                let path = paths.get(number).filter(|_| kept(number))?;
                Some((path.clone(), stamp?))
            })
            .collect();
        Files {
            read,
            ..Files::default()
        }
    }

    /// The text of the bytes `range` of file `number`, when the file is as
    /// it was read and the bytes hash to `expected`; `None` otherwise, the
    /// file noted as changed.
    pub(crate) fn read(&self, number: usize, range: Range<u32>, expected: u64) -> Option<String> {
        let (path, stamp) = self.read.get(number)?.as_ref()?;
        #[cfg(test)]
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let text = self.read_span(number, path, *stamp, range, expected);
        if text.is_none() {
            let _ = self.changed.set(path.clone());
        }
        text
    }

    fn read_span(
        &self,
        number: usize,
        path: &Path,
        stamp: Stamp,
        range: Range<u32>,
        expected: u64,
    ) -> Option<String> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.as_ref().is_none_or(|(n, _)| *n != number) {
            *open = None;
            let file = crate::local_file::open(path).ok()?;
            let metadata = file.metadata().ok()?;
            if Stamp::new(&metadata, metadata.len()) != stamp {
                return None;
            }
            *open = Some((number, file));
        }
        let (_, file) = open.as_ref()?;
        // One system call, not a seek and a read: 100,000 zones are read
        // again in a run.
        let mut bytes = vec![0; range.len()];
        file.read_exact_at(&mut bytes, u64::from(range.start))
            .ok()?;
        if hash(&bytes) != expected {
            return None;
        }
        String::from_utf8(bytes).ok()
    }

    /// The first file found changed since it was read, if any.
    pub(crate) fn changed(&self) -> Option<&Path> {
        self.changed.get().map(PathBuf::as_path)
    }
}
