//! The store's items: lookups, expiry, the LRU, making room and linking new items.

use super::*;

impl Store {
    /// An empty store with memcached's default settings (64 MiB for items).
    pub fn new() -> Store {
        Store::with_settings(Settings::default())
    }

    /// An empty store with `settings`.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::{Settings, Store};
    /// let store = Store::with_settings(Settings { maxbytes: 1 << 20, ..Settings::default() });
    /// assert_eq!(store.settings().maxbytes, 1 << 20);
    /// ```
    pub fn with_settings(settings: Settings) -> Store {
        Store {
            items: Items::default(),
            deadlines: BTreeMap::new(),
            classes: (0..class_sizes().len()).map(|_| Class::default()).collect(),
            seq: 0,
            cas: 0,
            flush_at: None,
            bytes: 0,
            stats: Stats::default(),
            settings,
            verbosity: 0,
            automove: 1,
            detail: false,
            prefixes: BTreeMap::new(),
            conns: Conns::default(),
            listeners: BTreeMap::new(),
            started: Instant::now(),
            sweep_armed: false,
        }
    }

    /// An empty store to share between connections and loops.
    pub fn shared() -> SharedStore {
        Arc::new(Mutex::new(Store::new()))
    }

    /// An empty store with `settings`, to share between connections and loops.
    pub fn shared_with(settings: Settings) -> SharedStore {
        Arc::new(Mutex::new(Store::with_settings(settings)))
    }

    /// The number of items held, expired ones not yet dropped included (memcached's
    /// `curr_items`).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The bytes of the items held, as memcached counts them ([`item_size`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The number of items waiting in the expiry index.
    pub fn expiring(&self) -> usize {
        self.deadlines.len()
    }

    /// Applies a delayed `flush_all` whose time has come: one pass over the items, once
    /// per `flush_all`.
    pub(super) fn tick(&mut self, now: Instant) {
        if let Some(at) = self.flush_at {
            if at <= now {
                self.flush_at = None;
                let dead: Vec<Vec<u8>> = self
                    .items
                    .iter()
                    .filter(|it| it.stored <= at)
                    .map(|it| it.key().to_vec())
                    .collect();
                for k in dead {
                    self.remove(&k);
                }
            }
        }
    }

    /// The live item under `key`; an expired one is dropped.
    pub(super) fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Item> {
        let expired = !self.items.get(key)?.live(now);
        if expired {
            self.drop_expired(key);
            return None;
        }
        self.items.get_mut(key)
    }

    /// Drops the expired item under `key`.
    pub(super) fn drop_expired(&mut self, key: &[u8]) {
        if let Some(item) = self.remove(key) {
            self.note_expired(&item);
        }
    }

    /// Counts `item`, dropped expired: its room is there for the next store of its class.
    pub(super) fn note_expired(&mut self, item: &Item) {
        let class = &mut self.classes[item.class - 1];
        class.expired_room += 1;
        if !item.fetched {
            self.stats.expired_unfetched += 1;
            class.stats.expired_unfetched += 1;
        }
    }

    /// Marks the item under `key` used now (active: it gets a second chance at the end
    /// of the LRU).
    pub(super) fn bump(&mut self, key: &[u8], now: Instant) {
        if let Some(item) = self.items.get_mut(key) {
            item.mark_used(now);
        }
    }

    /// The live item under `key` for a get command, marked used, active and fetched,
    /// with the hit counted in its class: its class, flags, CAS unique and value, from
    /// one lookup of the key. `Err(true)` when it had expired (it is dropped now),
    /// `Err(false)` when there is none.
    pub(super) fn fetch(&mut self, key: &[u8], now: Instant) -> std::result::Result<Fetched, bool> {
        let Store { items, classes, .. } = self;
        match items.get_mut(key) {
            None => Err(false),
            Some(item) if item.live(now) => {
                item.mark_used(now);
                if !item.fetched {
                    item.fetched = true;
                }
                classes[item.class - 1].stats.get_hits += 1;
                Ok((item.class, item.flags, item.cas, item.kv.clone(), item.nkey))
            }
            Some(_) => {
                self.drop_expired(key);
                Err(true)
            }
        }
    }

    /// The counters of the class of the item under `key`.
    pub(super) fn class_stats(&mut self, key: &[u8]) -> Option<&mut ClassStats> {
        let class = self.items.get(key)?.class;
        Some(&mut self.classes[class - 1].stats)
    }

    pub(super) fn remove(&mut self, key: &[u8]) -> Option<Item> {
        let item = self.items.remove(key)?;
        if let Some(d) = item.expires {
            self.deadlines.remove(&(d, item.cas));
        }
        let class = &mut self.classes[item.class - 1];
        class.lru.remove(&item.seq);
        class.mem_requested -= item.size;
        self.bytes -= item.size;
        Some(item)
    }

    /// Drops every item (`flush_all` now); their room is reclaimed by the next stores.
    pub(super) fn clear(&mut self) {
        self.items.clear();
        self.deadlines.clear();
        for class in &mut self.classes {
            class.expired_room += class.lru.len() as u64;
            class.lru.clear();
            class.mem_requested = 0;
        }
        self.bytes = 0;
    }

    pub(super) fn next_cas(&mut self) -> u64 {
        self.cas += 1;
        self.cas
    }

    /// Makes room for an item of `size` bytes under the memory limit: drops the least
    /// recently used items (an expired one is reclaimed, a live one evicted). `Err` when
    /// the item alone is over the limit.
    pub(super) fn make_room(
        &mut self,
        size: usize,
        class: usize,
        now: Instant,
    ) -> std::result::Result<(), NoMemory> {
        if size > self.settings.maxbytes {
            self.stats.store_no_memory += 1;
            self.classes[class - 1].stats.outofmemory += 1;
            return Err(NoMemory);
        }
        while self.bytes + size > self.settings.maxbytes {
            // The least recently used item of all: the oldest tail of the classes.
            let Some((seq, key)) = self
                .classes
                .iter()
                .filter_map(|c| c.lru.first_key_value())
                .min_by_key(|(seq, _)| **seq)
                .map(|(seq, key)| (*seq, key.clone()))
            else {
                break;
            };
            // A live item used since it was stored goes back to the front, once.
            if let Some(item) = self.items.get_mut(&key) {
                if item.active && item.live(now) {
                    item.active = false;
                    self.seq += 1;
                    item.seq = self.seq;
                    let lru = &mut self.classes[item.class - 1].lru;
                    if let Some(k) = lru.remove(&seq) {
                        lru.insert(self.seq, k);
                    }
                    continue;
                }
            }
            let Some(item) = self.remove(&key) else {
                break;
            };
            let stats = &mut self.classes[item.class - 1].stats;
            if item.live(now) {
                self.stats.evictions += 1;
                stats.evicted += 1;
                stats.evicted_time = now.saturating_duration_since(item.used).as_secs();
                if item.expires.is_some() {
                    stats.evicted_nonzero += 1;
                }
                if !item.fetched {
                    self.stats.evicted_unfetched += 1;
                    stats.evicted_unfetched += 1;
                }
            } else {
                self.stats.reclaimed += 1;
                stats.reclaimed += 1;
                if !item.fetched {
                    self.stats.expired_unfetched += 1;
                    stats.expired_unfetched += 1;
                }
            }
        }
        Ok(())
    }

    /// Stores `data` in place of the live item under `key` when it is the same size and
    /// no retrieval still holds its value: a new version (a new CAS unique, flags and
    /// expiry), counted as memcached counts a store, without allocating. The item is
    /// marked active, so the LRU gives it a second chance as it would a fresh item
    /// (memcached links a replaced item at the head of its LRU). `false`: nothing done,
    /// the caller links a new item.
    fn overwrite(
        &mut self,
        key: &[u8],
        data: &[u8],
        flags: u32,
        expires: Option<Instant>,
        size: usize,
        now: Instant,
    ) -> bool {
        let Store {
            items,
            deadlines,
            classes,
            cas,
            stats,
            ..
        } = self;
        let Some(item) = items.get_mut(key) else {
            return false;
        };
        if !item.live(now) || item.size != size || item.data().len() != data.len() {
            return false;
        }
        let nkey = item.nkey;
        let Some(bytes) = Arc::get_mut(&mut item.kv).and_then(|kv| kv.get_mut(nkey..)) else {
            return false;
        };
        bytes.copy_from_slice(data);
        *cas += 1;
        // The expiry index is keyed by (deadline, CAS unique): the entry moves, with the
        // key it already holds.
        let old_key = item.expires.and_then(|d| deadlines.remove(&(d, item.cas)));
        if let Some(d) = expires {
            deadlines.insert((d, *cas), old_key.unwrap_or_else(|| key.to_vec()));
        }
        item.cas = *cas;
        item.flags = flags;
        item.expires = expires;
        item.stored = now;
        item.used = now;
        item.active = true;
        item.fetched = false;
        let c = &mut classes[item.class - 1];
        if c.expired_room > 0 {
            c.expired_room -= 1;
            c.stats.reclaimed += 1;
            stats.reclaimed += 1;
        }
        c.stats.cmd_set += 1;
        stats.total_items += 1;
        true
    }

    /// Stores `data` under `key` as a new item version (a new CAS unique), within the
    /// memory limit.
    pub(super) fn link(
        &mut self,
        key: &[u8],
        data: &[u8],
        flags: u32,
        expires: Option<Instant>,
        now: Instant,
    ) -> std::result::Result<(), NoMemory> {
        let size = item_size(key.len(), flags, data.len());
        let class = size_class(size);
        if self.overwrite(key, data, flags, expires, size, now) {
            return Ok(());
        }
        if let Some(old) = self.remove(key) {
            if !old.live(now) {
                self.note_expired(&old);
            }
        }
        self.make_room(size, class, now)?;
        let c = &mut self.classes[class - 1];
        if c.expired_room > 0 {
            // The room of an expired item of the class.
            c.expired_room -= 1;
            c.stats.reclaimed += 1;
            self.stats.reclaimed += 1;
        }
        let cas = self.next_cas();
        if let Some(d) = expires {
            self.deadlines.insert((d, cas), key.to_vec());
        }
        self.seq += 1;
        let seq = self.seq;
        let c = &mut self.classes[class - 1];
        c.lru.insert(seq, key.to_vec());
        c.mem_requested += size;
        c.stats.cmd_set += 1;
        self.bytes += size;
        self.stats.total_items += 1;
        self.items.insert(Item {
            hash: self.items.hash(key),
            nkey: key.len(),
            kv: items::key_and_value(key, data),
            flags,
            cas,
            expires,
            stored: now,
            used: now,
            seq,
            active: false,
            fetched: false,
            size,
            class,
        });
        Ok(())
    }

    /// Gives the item under `key` a new expiry.
    pub(super) fn touch(&mut self, key: &[u8], expires: Option<Instant>) {
        let Some(item) = self.items.get_mut(key) else {
            return;
        };
        let old = std::mem::replace(&mut item.expires, expires);
        let cas = item.cas;
        if let Some(d) = old {
            self.deadlines.remove(&(d, cas));
        }
        if let Some(d) = expires {
            self.deadlines.insert((d, cas), key.to_vec());
        }
        self.bump(key, Instant::now());
        if let Some(stats) = self.class_stats(key) {
            stats.touch_hits += 1;
        }
    }

    /// Drops the items whose deadline has passed; true while items with an expiry remain
    /// (the sweep should run again).
    pub fn sweep(&mut self, now: Instant) -> bool {
        self.tick(now);
        while let Some(entry) = self.deadlines.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, cas), key) = entry.remove_entry();
            if self.items.get(&key).is_some_and(|it| it.cas == cas) {
                self.drop_expired(&key);
            }
        }
        !self.deadlines.is_empty()
    }

    /// Whether an item of `nkey` key bytes, `flags` and `nbytes` value bytes is over
    /// [`ITEM_SIZE_MAX`].
    pub(super) fn too_large(nkey: usize, flags: u32, nbytes: usize) -> bool {
        item_size(nkey, flags, nbytes) > ITEM_SIZE_MAX
    }
}
