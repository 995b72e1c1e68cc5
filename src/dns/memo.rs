//! A bounded memory of lookups shared by the tasks of a run: what a run
//! learns of hosts, servers and zones, kept across its windows without
//! growing with the estate.

use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use tokio::sync::OnceCell;

/// The outcomes of the keys used last, at most a fixed number of them
/// (the least recently used forgotten first). Tasks asking for one key at
/// once wait for the first one's lookup instead of looking up too; a
/// lookup under way when its key is forgotten still ends for those
/// waiting, and the next to ask looks up again.
#[derive(Debug)]
pub struct BoundedMemo<K: Hash + Eq, V> {
    entries: Mutex<LruCache<K, Arc<OnceCell<V>>>>,
}

impl<K: Hash + Eq, V: Clone> BoundedMemo<K, V> {
    /// A memory of at most `capacity` keys.
    pub fn new(capacity: NonZeroUsize) -> Self {
        BoundedMemo {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// The outcome for `key`: remembered, or `lookup`'s, then remembered.
    pub async fn get_or_lookup<F, R>(&self, key: K, lookup: F) -> V
    where
        F: FnOnce() -> R,
        R: Future<Output = V>,
    {
        let cell = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(key, Arc::default)
            .clone();
        cell.get_or_init(lookup).await.clone()
    }

    /// How many keys it holds.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
