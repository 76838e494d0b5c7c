//! The table of items: one entry per key, found by a hash of the key kept in the entry.
//!
//! An entry is the item's header ([`Item`]: flags, CAS unique, times, LRU place...) held
//! in the table itself, and one allocation with the key followed by the value, as
//! memcached keeps an item's key and value together: a lookup reads the table's control
//! bytes, the entry, then the key, and the value that follows it is the next bytes of the
//! same block (no second allocation to reach, as with a key and a value allocated apart).

use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use super::*;

/// The items of a [`Store`], by key.
#[derive(Debug, Default)]
pub(super) struct Items {
    table: HashTable<Item>,
    /// foldhash, seeded per process: faster than SipHash on short keys.
    hasher: foldhash::fast::RandomState,
}

impl Items {
    /// The hash an item under `key` is kept under.
    pub(super) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.table.clear();
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<&Item> {
        let hash = self.hash(key);
        self.table
            .find(hash, |it| it.hash == hash && it.key() == key)
    }

    pub(super) fn get_mut(&mut self, key: &[u8]) -> Option<&mut Item> {
        let hash = self.hash(key);
        self.table
            .find_mut(hash, |it| it.hash == hash && it.key() == key)
    }

    pub(super) fn remove(&mut self, key: &[u8]) -> Option<Item> {
        let hash = self.hash(key);
        let entry = self
            .table
            .find_entry(hash, |it| it.hash == hash && it.key() == key)
            .ok()?;
        Some(entry.remove().0)
    }

    /// Puts `item` (made with [`Items::hash`] of its key) in the table; the item it
    /// replaces, if its key had one.
    pub(super) fn insert(&mut self, item: Item) -> Option<Item> {
        let hash = item.hash;
        match self.table.entry(
            hash,
            |it| it.hash == hash && it.key() == item.key(),
            |it| it.hash,
        ) {
            Entry::Occupied(mut o) => Some(std::mem::replace(o.get_mut(), item)),
            Entry::Vacant(v) => {
                v.insert(item);
                None
            }
        }
    }

    /// Reads the entries and the first bytes of the items under `keys` without using
    /// them, so that the misses of a multi-key get overlap: each lookup here is short and
    /// independent of the others (the entry is found by its hash alone), so the
    /// processor has the loads of several keys in flight at once, and the lookups that
    /// follow find them in the cache.
    pub(super) fn warm<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) {
        for key in keys {
            let hash = self.hash(key);
            let first = self
                .table
                .find(hash, |it| it.hash == hash)
                .and_then(|it| it.kv.first().copied());
            std::hint::black_box(first);
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Item> {
        self.table.iter()
    }
}

/// The key followed by the value, in one allocation.
pub(super) fn key_and_value(key: &[u8], data: &[u8]) -> Arc<[u8]> {
    // Zeroed (a `memset`), then the two copies (`memcpy`s): collecting the two slices
    // chained would copy byte by byte.
    let mut kv: Arc<[u8]> = std::iter::repeat_n(0u8, key.len() + data.len()).collect();
    if let Some((k, v)) = Arc::get_mut(&mut kv).and_then(|kv| kv.split_at_mut_checked(key.len())) {
        k.copy_from_slice(key);
        v.copy_from_slice(data);
    }
    kv
}
