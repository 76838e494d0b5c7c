//! A memcached server, generated from `protocols/descriptions/memcache.aproto`: the text
//! protocol of memcached 1.6 (`get`, `gets`, `gat`, `gats`, `set`, `add`, `replace`,
//! `append`, `prepend`, `cas`, `delete`, `incr`, `decr`, `touch`, `flush_all`, `version`,
//! `verbosity`, `stats` with its groups `items`, `slabs`, `settings`, `conns`, `detail`
//! and `reset`, `slabs automove`, `watch`, `quit`, and `noreply`), with memcached's
//! replies to bad input. It
//! passes every file of memcached 1.6.18's own test suite (`t/*.t`) that memcached itself
//! passes against a server it did not start (27 files); the others start servers with
//! options of their own or test memcached's internals (slab page moves, the LRU crawler,
//! extstore, the binary protocol, meta commands...).
//!
//! The description gives the framing (command lines of at most 2048 bytes, `get` and
//! `gets` lines of at most 1 MiB, spaces before and after a line ignored, then a data
//! block of at most 1 MiB for the storage commands), the messages and their fields;
//! [`Connection`] is the handler `#[dispatcher]` makes of it, and [`Store`] holds the
//! items, shared by every connection (and every loop, with `--threads`).
//!
//! # Semantics
//!
//! * Keys are at most [`KEY_MAX_LENGTH`] bytes; an item (key, value and memcached's
//!   per-item overhead) at most [`ITEM_SIZE_MAX`] bytes, so the largest value is the one
//!   memcached stores with its default `-I 1m`.
//! * `exptime`: 0 never expires; up to 30 days ([`REALTIME_MAXDELTA`]) it counts seconds
//!   from now; above, it is a Unix time; negative, or a Unix time in the past, is already
//!   expired. Expired items are dropped when a command finds them (lazy expiry) and by a
//!   sweep that a loop timer runs every [`SWEEP_INTERVAL`] while items with an expiry
//!   exist; the sweep only visits expired items (they are indexed by deadline), never the
//!   whole store.
//! * Every store (`set`, `add`, `replace`, `append`, `prepend`, `cas`, `incr`, `decr`)
//!   gives the item a new CAS unique from one counter, as memcached does, so a fresh
//!   server hands out the same numbers as a fresh memcached for the same commands.
//! * `incr`/`decr` read the value as memcached does (`strtoull`: leading spaces, a sign,
//!   trailing spaces), wrap `incr` at 2^64, stop `decr` at 0, and keep the value's length
//!   when the new number is shorter (padding with spaces).
//! * `flush_all [delay]` drops every item now (a delay of at most one second is now, as
//!   with memcached's one-second clock), or the items stored before `delay` (same units
//!   as `exptime`) once that time has come.
//! * Memory: the items stay within [`Settings::maxbytes`] (`-m`, 64 MiB by default),
//!   counting each as memcached does ([`item_size`]). A store that would go over it drops
//!   the least recently used items first, counted as `evictions`, or as `reclaimed` for
//!   items that had expired. As in memcached's segmented LRU, a get or a touch marks an
//!   item active instead of moving it: an active item that reaches the end of the LRU
//!   goes back to its front once (a second chance), so a read costs no reordering. There are no
//!   slabs: `stats items` and `stats slabs` group the items by the size class memcached
//!   would give them ([`size_class`]), so that a tool finds them under the same numbers.
//! * `delete <key> 0` is `delete <key>` (a hold time other than 0 is refused).
//! * `stats detail on|off|dump`: counters per key prefix (what comes before the key's
//!   first `:`), at most [`PREFIXES_MAX`] prefixes.
//! * `watch fetchers mutations`: the connection receives memcached's log lines
//!   (`ts=... gid=... type=item_get key=... status=found|not_found clsid=... cfd=...
//!   size=...`, and `type=item_store ... status=... cmd=set ttl=...`) for the items that
//!   the get and storage commands of the other connections of its loop look up and store;
//!   `cfd` is the descriptor `stats conns` lists. memcached's other log streams
//!   (`evictions`, `rawcmds`...) are refused with `ERROR`.
//!
//! # Bad input
//!
//! The description leaves the replies to malformed commands to
//! [`on_bad_input`](memcache::Server::on_bad_input), which gives memcached's: `ERROR` for
//! an unknown command or a missing argument, a close without a word for an HTTP request
//! line (its last word starts with `HTTP/`), `CLIENT_ERROR bad command line format` for a
//! bad number, a key over 250 bytes or a length over 2^31 - 3 (the next line is then read
//! as a command), `CLIENT_ERROR invalid exptime argument`,
//! `CLIENT_ERROR invalid numeric delta argument`, `CLIENT_ERROR bad data chunk` (a data
//! block not followed by `\r\n`: as memcached, the block and the two bytes where `\r\n`
//! belongs go by, and what follows is read as commands), and `SERVER_ERROR object too large for cache`
//! (the data block is skipped as it arrives, never buffered; a failed `set` drops the
//! value it would have replaced). After `noreply` (the line's last word) none of those
//! replies is sent but `ERROR`, as with memcached. A command line over its limit gets
//! `CLIENT_ERROR line too long` and a close. memcached closes such a connection without
//! a reply, and reads a `get` line of any length: this server bounds it at 1 MiB (524,288
//! keys), as large as a value; and where memcached closes a connection whose line has
//! gone 2048 bytes without its end, this one waits for the end of the line (1 MiB at
//! most) before it answers. A client that pipelines retrievals faster than it reads
//! the replies is answered as it reads: the generated channel stops taking requests while
//! the replies waiting are over its high-water mark. One `get` of many large values is
//! answered as the client reads it, too: the values are taken when the command arrives
//! (as memcached takes references to its items), and sent one by one as the output
//! drains (`on_produce`), so the reply is whole however large, and the connection holds
//! at most its high-water mark of it.
//!
//! ```no_run
//! use asyncore_examples::memcache_server::{MemcacheServer, Store};
//! use asyncore_examples::server::{serve, ServerConfig};
//! # fn main() -> std::io::Result<()> {
//! let store = Store::shared();
//! let config = ServerConfig {
//!     listen: "127.0.0.1:11211".parse().unwrap(),
//!     backend: Default::default(),
//!     threads: 2,
//! };
//! serve(&config, move || MemcacheServer::with_store(store.clone()))?;
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asyncore_runtime::wire::{DecodeError, DecodeErrorKind, Limit};
use asyncore_runtime::{
    dispatcher, protocol, Addr, Channel, Dispatcher, Map, Result, Socket, Token,
};

protocol!(pub mod memcache = "../protocols/descriptions/memcache.aproto");

use memcache::ServerCx;

/// The longest key, in bytes (memcached's `KEY_MAX_LENGTH`).
pub const KEY_MAX_LENGTH: usize = 250;

/// The largest item: value, key and overhead (memcached's default `-I 1m`).
pub const ITEM_SIZE_MAX: usize = 1024 * 1024;

/// memcached's per-item overhead: header, CAS, the key's terminator and the value's
/// `\r\n`.
const ITEM_OVERHEAD: usize = 59;

/// The extra overhead of an item with non-zero flags.
const FLAGS_OVERHEAD: usize = 4;

/// The largest `exptime` taken as a number of seconds from now (30 days); above, it is a
/// Unix time.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// The version this server reports: the memcached release whose text protocol it
/// follows, marked as ours.
pub const VERSION: &str = "1.6.18-asyncore";

/// How often the expiry sweep runs while items with an expiry exist.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The most reply bytes a connection may have waiting to be sent (its output buffer's
/// limit). Retrievals never reach it: they are produced as the output drains.
pub const OUTPUT_LIMIT: usize = 16 * 1024 * 1024;

const BAD_FORMAT: &[u8] = b"bad command line format";
const BAD_EXPTIME: &[u8] = b"invalid exptime argument";
const BAD_DELTA: &[u8] = b"invalid numeric delta argument";
const NON_NUMERIC: &[u8] = b"cannot increment or decrement non-numeric value";
const TOO_LARGE: &[u8] = b"object too large for cache";
const NO_MEMORY: &[u8] = b"out of memory storing object";
const DELETE_USAGE: &[u8] = b"bad command line format.  Usage: delete <key> [noreply]";

/// One stored value.
#[derive(Debug)]
struct Item {
    /// Shared with the retrievals still sending it.
    data: Arc<[u8]>,
    flags: u32,
    cas: u64,
    /// `None`: never expires.
    expires: Option<Instant>,
    /// When it was stored, for a delayed `flush_all`.
    stored: Instant,
    /// When it was last stored, read or touched: its place in the LRU of its class.
    used: Instant,
    /// Its key in the LRU of its class (a sequence number given when it is stored, and
    /// again when it gets a second chance).
    seq: u64,
    /// Read or touched since it was stored or last given a second chance: when it
    /// reaches the end of the LRU it goes back to the front instead of being evicted
    /// (memcached's segmented LRU marks such items active the same way, so that a read
    /// costs no move in the LRU).
    active: bool,
    /// Whether a get command has returned it since it was stored.
    fetched: bool,
    /// What it takes: key, value and memcached's per-item overhead ([`item_size`]).
    size: usize,
    /// Its size class ([`size_class`]).
    class: usize,
}

impl Item {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|d| d > now)
    }
}

/// What a get finds: the item's size class, flags, CAS unique and value.
type Fetched = (usize, u32, u64, Arc<[u8]>);

/// The bytes an item takes, as memcached counts them (its `bytes` and `mem_requested`
/// statistics): the key, the value and memcached's per-item overhead (header, CAS, the
/// key's terminator and the value's `\r\n`; 4 bytes more for non-zero flags).
///
/// ```
/// use asyncore_examples::memcache_server::item_size;
/// assert_eq!(item_size(1, 0, 10), 70); // memcached's mem_requested for `set a 0 0 10`
/// ```
pub fn item_size(nkey: usize, flags: u32, nbytes: usize) -> usize {
    let overhead = ITEM_OVERHEAD + if flags != 0 { FLAGS_OVERHEAD } else { 0 };
    nkey + nbytes + overhead
}

/// The largest chunk of memcached's slab allocator (`slab_chunk_max`, half a page):
/// larger items are stored in chunks of this size, in the last class.
pub const SLAB_CHUNK_MAX: usize = 512 * 1024;

/// memcached's slab page: 1 MiB.
pub const SLAB_PAGE_SIZE: usize = 1024 * 1024;

/// The upper bounds of memcached's size classes with its default settings (`-n 48`,
/// `-f 1.25`, 8-byte alignment, `slab_chunk_max` 512 KiB): class 1 holds items of at most
/// 96 bytes, class 2 at most 120, ..., the last class the items over 419,432 bytes.
/// This server has no slabs, but groups its statistics by these classes (`stats items`,
/// `stats slabs`), so that a tool finds an item under the class number memcached gives
/// it.
///
/// ```
/// use asyncore_examples::memcache_server::{class_sizes, size_class};
/// assert_eq!(&class_sizes()[..3], &[96, 120, 152]);
/// assert_eq!(size_class(70), 1);
/// assert_eq!(size_class(66_624), 31); // a 66,560-byte value
/// assert_eq!(size_class(1_000_000), class_sizes().len());
/// ```
pub fn class_sizes() -> &'static [usize] {
    static SIZES: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    SIZES.get_or_init(|| {
        // memcached's slabs_init, with its `unsigned int` arithmetic.
        let factor = 1.25f64;
        let mut sizes = Vec::new();
        let mut size: u32 = 48 + 48;
        while sizes.len() < 62 && f64::from(size) < SLAB_CHUNK_MAX as f64 / factor {
            if !size.is_multiple_of(8) {
                size += 8 - size % 8;
            }
            sizes.push(size as usize);
            size = (f64::from(size) * factor) as u32;
        }
        sizes.push(SLAB_CHUNK_MAX);
        sizes
    })
}

/// The size class (from 1) memcached puts an item of `size` bytes ([`item_size`]) in.
pub fn size_class(size: usize) -> usize {
    let sizes = class_sizes();
    sizes.partition_point(|&s| s < size).min(sizes.len() - 1) + 1
}

/// The counters `stats` reports (a subset of memcached's, with the same names).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Open client connections.
    pub curr_connections: u64,
    /// Connections accepted since the start (or the last `stats reset`).
    pub total_connections: u64,
    /// Keys looked up by `get`, `gets`, `gat` and `gats`.
    pub cmd_get: u64,
    /// Storage commands.
    pub cmd_set: u64,
    /// `flush_all` commands.
    pub cmd_flush: u64,
    /// Keys touched by `touch`, `gat` and `gats`.
    pub cmd_touch: u64,
    /// Keys found by a get command.
    pub get_hits: u64,
    /// Keys not found by a get command.
    pub get_misses: u64,
    /// Keys found expired by a get command.
    pub get_expired: u64,
    /// `delete` of a missing key.
    pub delete_misses: u64,
    /// `delete` of a present key.
    pub delete_hits: u64,
    /// `incr` of a missing key.
    pub incr_misses: u64,
    /// `incr` of a present key.
    pub incr_hits: u64,
    /// `decr` of a missing key.
    pub decr_misses: u64,
    /// `decr` of a present key.
    pub decr_hits: u64,
    /// `cas` of a missing key.
    pub cas_misses: u64,
    /// `cas` that stored.
    pub cas_hits: u64,
    /// `cas` refused because the item changed.
    pub cas_badval: u64,
    /// Keys found by a touch.
    pub touch_hits: u64,
    /// Keys not found by a touch.
    pub touch_misses: u64,
    /// Storage commands refused because the item would be over [`ITEM_SIZE_MAX`].
    pub store_too_large: u64,
    /// Storage commands refused because the item is larger than the memory limit.
    pub store_no_memory: u64,
    /// Items stored since the start (or the last `stats reset`).
    pub total_items: u64,
    /// Items dropped because they expired before any get command returned them.
    pub expired_unfetched: u64,
    /// Items dropped to make room under the memory limit (`-m`) before they expired.
    pub evictions: u64,
    /// Evicted items that no get command had returned.
    pub evicted_unfetched: u64,
    /// Items stored in the room of an expired or flushed item of their size class
    /// (dropped by the sweep, by a command that found it expired, by `flush_all`, or to
    /// make room under the memory limit).
    pub reclaimed: u64,
}

/// The counters of one size class ([`size_class`]): those of `stats items`, and the
/// hit counters of `stats slabs`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ClassStats {
    evicted: u64,
    evicted_nonzero: u64,
    /// Seconds since the last evicted item was used.
    evicted_time: u64,
    outofmemory: u64,
    reclaimed: u64,
    expired_unfetched: u64,
    evicted_unfetched: u64,
    get_hits: u64,
    cmd_set: u64,
    delete_hits: u64,
    incr_hits: u64,
    decr_hits: u64,
    cas_hits: u64,
    cas_badval: u64,
    touch_hits: u64,
}

/// One size class: its items from least to most recently used, and its counters.
#[derive(Debug, Default)]
struct Class {
    /// Sequence number of the last use -> key.
    lru: BTreeMap<u64, Vec<u8>>,
    /// The bytes of its items ([`item_size`]).
    mem_requested: usize,
    /// Items of the class dropped expired or flushed whose room no store of the class
    /// has taken yet: the next stores are counted as `reclaimed`.
    expired_room: u64,
    stats: ClassStats,
}

/// What the server was started with, for `stats settings` and `stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The memory limit for items, in bytes (`-m`, in megabytes; memcached's default
    /// 64 MiB).
    pub maxbytes: usize,
    /// The address listened on.
    pub listen: String,
    /// Loops (threads) serving connections.
    pub threads: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            maxbytes: 64 * 1024 * 1024,
            listen: String::new(),
            threads: 1,
        }
    }
}

/// The items of a server and its counters. Shared by every connection through
/// [`SharedStore`].
///
/// Items are kept within the memory limit ([`Settings::maxbytes`], counting each item's
/// [`item_size`]): a store that would go over it first drops the least recently used
/// items (of any size class), counted as `evictions`, or as `reclaimed` when the item
/// had expired already.
///
/// ```
/// use asyncore_examples::memcache_server::Store;
/// let store = Store::new();
/// assert_eq!(store.len(), 0);
/// assert!(store.is_empty());
/// ```
#[derive(Debug)]
pub struct Store {
    items: HashMap<Vec<u8>, Item>,
    /// Items with an expiry, by (deadline, CAS unique): the CAS unique makes each entry
    /// unique and names the item's current version.
    deadlines: BTreeMap<(Instant, u64), Vec<u8>>,
    /// Per size class, from class 1 at index 0.
    classes: Vec<Class>,
    /// The last LRU sequence number given.
    seq: u64,
    /// The last CAS unique given.
    cas: u64,
    /// A delayed `flush_all`: items stored before this time go once it has come.
    flush_at: Option<Instant>,
    /// The bytes of the items held ([`item_size`]): memcached's `bytes`.
    bytes: usize,
    stats: Stats,
    settings: Settings,
    /// `verbosity`'s level, shown by `stats settings`.
    verbosity: u32,
    /// `slabs automove`'s level, accepted and shown by `stats settings`.
    automove: u32,
    /// Whether `stats detail on` asked for the counters per key prefix.
    detail: bool,
    /// The counters of `stats detail dump`, per key prefix (at most [`PREFIXES_MAX`]).
    prefixes: BTreeMap<Vec<u8>, PrefixStats>,
    /// The open connections, by descriptor, for `stats conns`.
    conns: BTreeMap<i32, ConnInfo>,
    /// The listening sockets that accepted a connection, by descriptor: their address.
    listeners: BTreeMap<i32, String>,
    started: Instant,
    /// Whether a loop's timer runs the sweep.
    sweep_armed: bool,
}

/// A [`Store`] shared by the connections of every loop.
pub type SharedStore = Arc<Mutex<Store>>;

/// The store, even if a thread panicked while holding it (every update leaves it
/// consistent before anything can panic).
fn lock(store: &SharedStore) -> MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

/// The most key prefixes `stats detail` counts (memcached counts any number): keys of
/// other prefixes go uncounted once there are this many.
pub const PREFIXES_MAX: usize = 65_536;

/// The counters of one key prefix, for `stats detail dump`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct PrefixStats {
    get: u64,
    hit: u64,
    set: u64,
    del: u64,
}

/// One open connection, for `stats conns`.
#[derive(Debug, Clone)]
struct ConnInfo {
    /// The peer's address.
    addr: String,
    /// The address it came in on.
    listen: String,
    /// When it last sent a command.
    last: Instant,
}

/// What a command does to the counters of its key's prefix.
#[derive(Debug, Clone, Copy)]
enum Detail {
    Get { hit: bool },
    Set,
    Del,
}

/// A store refused: the item is larger than the memory limit.
#[derive(Debug)]
struct NoMemory;

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
            items: HashMap::new(),
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
            conns: BTreeMap::new(),
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
    fn tick(&mut self, now: Instant) {
        if let Some(at) = self.flush_at {
            if at <= now {
                self.flush_at = None;
                let dead: Vec<Vec<u8>> = self
                    .items
                    .iter()
                    .filter(|(_, it)| it.stored <= at)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in dead {
                    self.remove(&k);
                }
            }
        }
    }

    /// The live item under `key`; an expired one is dropped.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Item> {
        let expired = !self.items.get(key)?.live(now);
        if expired {
            self.drop_expired(key);
            return None;
        }
        self.items.get_mut(key)
    }

    /// Drops the expired item under `key`.
    fn drop_expired(&mut self, key: &[u8]) {
        if let Some(item) = self.remove(key) {
            self.note_expired(&item);
        }
    }

    /// Counts `item`, dropped expired: its room is there for the next store of its class.
    fn note_expired(&mut self, item: &Item) {
        let class = &mut self.classes[item.class - 1];
        class.expired_room += 1;
        if !item.fetched {
            self.stats.expired_unfetched += 1;
            class.stats.expired_unfetched += 1;
        }
    }

    /// Marks the item under `key` used now (active: it gets a second chance at the end
    /// of the LRU).
    fn bump(&mut self, key: &[u8], now: Instant) {
        if let Some(item) = self.items.get_mut(key) {
            item.used = now;
            item.active = true;
        }
    }

    /// The live item under `key` for a get command, marked used, active and fetched,
    /// with the hit counted in its class: its class, flags, CAS unique and value, from
    /// one lookup of the key. `Err(true)` when it had expired (it is dropped now),
    /// `Err(false)` when there is none.
    fn fetch(&mut self, key: &[u8], now: Instant) -> std::result::Result<Fetched, bool> {
        let Store { items, classes, .. } = self;
        match items.get_mut(key) {
            None => Err(false),
            Some(item) if item.live(now) => {
                item.used = now;
                item.active = true;
                item.fetched = true;
                classes[item.class - 1].stats.get_hits += 1;
                Ok((item.class, item.flags, item.cas, item.data.clone()))
            }
            Some(_) => {
                self.drop_expired(key);
                Err(true)
            }
        }
    }

    /// The counters of the class of the item under `key`.
    fn class_stats(&mut self, key: &[u8]) -> Option<&mut ClassStats> {
        let class = self.items.get(key)?.class;
        Some(&mut self.classes[class - 1].stats)
    }

    fn remove(&mut self, key: &[u8]) -> Option<Item> {
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
    fn clear(&mut self) {
        self.items.clear();
        self.deadlines.clear();
        for class in &mut self.classes {
            class.expired_room += class.lru.len() as u64;
            class.lru.clear();
            class.mem_requested = 0;
        }
        self.bytes = 0;
    }

    fn next_cas(&mut self) -> u64 {
        self.cas += 1;
        self.cas
    }

    /// Makes room for an item of `size` bytes under the memory limit: drops the least
    /// recently used items (an expired one is reclaimed, a live one evicted). `Err` when
    /// the item alone is over the limit.
    fn make_room(
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

    /// Stores `data` under `key` as a new item version (a new CAS unique), within the
    /// memory limit.
    fn link(
        &mut self,
        key: &[u8],
        data: Vec<u8>,
        flags: u32,
        expires: Option<Instant>,
    ) -> std::result::Result<(), NoMemory> {
        let now = Instant::now();
        let size = item_size(key.len(), flags, data.len());
        let class = size_class(size);
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
        let data: Arc<[u8]> = data.into();
        self.stats.total_items += 1;
        self.items.insert(
            key.to_vec(),
            Item {
                data,
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
            },
        );
        Ok(())
    }

    /// Gives the item under `key` a new expiry.
    fn touch(&mut self, key: &[u8], expires: Option<Instant>) {
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
    fn too_large(nkey: usize, flags: u32, nbytes: usize) -> bool {
        item_size(nkey, flags, nbytes) > ITEM_SIZE_MAX
    }
}

/// One `STAT name value` line.
type StatLine = (String, String);

fn stat(name: impl Into<String>, value: impl ToString) -> StatLine {
    (name.into(), value.to_string())
}

impl Store {
    /// The general group (`stats`): memcached's names, with this server's values.
    /// Besides the command counters of [`Stats`]: `bytes` is the bytes of the items as
    /// [`item_size`] counts them, `limit_maxbytes` the memory limit, `threads` the loops,
    /// `evictions`, `reclaimed`, `evicted_unfetched` and `expired_unfetched` what the
    /// memory limit and expiry dropped, and `conn_yields` the times a connection let
    /// the others of its loop go first with requests still waiting, after
    /// [`MESSAGE_BUDGET`](asyncore_runtime::wire::MESSAGE_BUDGET) requests in one pass
    /// (memcached's `-R`; the count is the process's).
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let lines = Store::new().general_stats();
    /// assert!(lines.iter().any(|(n, v)| n == "limit_maxbytes" && v == "67108864"));
    /// ```
    pub fn general_stats(&mut self) -> Vec<(String, String)> {
        self.tick(Instant::now());
        let s = &self.stats;
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        vec![
            stat("pid", std::process::id()),
            stat("uptime", self.started.elapsed().as_secs()),
            stat("time", unix_now),
            stat("version", VERSION),
            stat("pointer_size", usize::BITS),
            stat("curr_connections", s.curr_connections),
            stat("total_connections", s.total_connections),
            stat("cmd_get", s.cmd_get),
            stat("cmd_set", s.cmd_set),
            stat("cmd_flush", s.cmd_flush),
            stat("cmd_touch", s.cmd_touch),
            stat("get_hits", s.get_hits),
            stat("get_misses", s.get_misses),
            stat("get_expired", s.get_expired),
            // flush_all drops the items at once: no get finds one flushed.
            stat("get_flushed", 0),
            stat("delete_misses", s.delete_misses),
            stat("delete_hits", s.delete_hits),
            stat("incr_misses", s.incr_misses),
            stat("incr_hits", s.incr_hits),
            stat("decr_misses", s.decr_misses),
            stat("decr_hits", s.decr_hits),
            stat("cas_misses", s.cas_misses),
            stat("cas_hits", s.cas_hits),
            stat("cas_badval", s.cas_badval),
            stat("touch_hits", s.touch_hits),
            stat("touch_misses", s.touch_misses),
            stat("store_too_large", s.store_too_large),
            stat("store_no_memory", s.store_no_memory),
            stat("accepting_conns", 1),
            stat("limit_maxbytes", self.settings.maxbytes),
            stat("threads", self.settings.threads),
            stat("conn_yields", asyncore_runtime::wire::budget_yields()),
            stat("bytes", self.bytes),
            stat("curr_items", self.items.len()),
            stat("total_items", s.total_items),
            stat("expired_unfetched", s.expired_unfetched),
            stat("evicted_unfetched", s.evicted_unfetched),
            stat("evictions", s.evictions),
            stat("reclaimed", s.reclaimed),
            // No item is ever held by a reference while the LRU is walked.
            stat("lrutail_reflocked", 0),
        ]
    }

    /// `stats cachedump <class> <limit>`: the items of a size class ([`size_class`]),
    /// most recently used first, at most `limit` (0: all, within 2 MiB of reply, as
    /// memcached): key, value bytes, and expiry as a Unix time (0 for never). `None` for
    /// a class that does not exist.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let mut store = Store::new();
    /// assert_eq!(store.cache_dump(1, 0), Some(vec![]));
    /// assert_eq!(store.cache_dump(0, 0), None);
    /// ```
    pub fn cache_dump(&mut self, class: usize, limit: usize) -> Option<Vec<(Vec<u8>, usize, u64)>> {
        let now = Instant::now();
        self.tick(now);
        let c = self.classes.get(class.checked_sub(1)?)?;
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut out = Vec::new();
        let mut size = 0;
        for key in c.lru.values().rev().take(limit) {
            let Some(item) = self.items.get(key) else {
                continue;
            };
            size += key.len() + 32;
            if size > 2 * 1024 * 1024 {
                break;
            }
            let exptime = item
                .expires
                .map_or(0, |d| unix_now + d.saturating_duration_since(now).as_secs());
            out.push((key.clone(), item.data.len(), exptime));
        }
        Some(out)
    }

    /// `stats items`: per size class holding items ([`size_class`]), `items:N:FIELD`,
    /// with memcached's fields:
    ///
    /// * `number`: items held; `number_cold` the same (one LRU per class, which
    ///   memcached would call cold); `number_hot`, `number_warm`, `age_hot`, `age_warm`: 0
    ///   (no hot or warm LRU);
    /// * `age`: seconds since the least recently used item of the class was used;
    /// * `mem_requested`: the bytes of its items ([`item_size`]);
    /// * `evicted`, `evicted_nonzero` (of those, items with an expiry), `evicted_time`
    ///   (seconds since the last evicted item was used), `evicted_unfetched`: items
    ///   dropped under the memory limit; `outofmemory`: stores refused, the item being
    ///   larger than the limit; `reclaimed`: stores in the room of an expired item;
    ///   `expired_unfetched`: items that expired before a get command returned them;
    ///   `direct_reclaims`: `evicted` plus `reclaimed` (every eviction is made by the
    ///   store that needs the room); `hits_to_cold`: get hits;
    /// * `tailrepairs`, `evicted_active`, `crawler_reclaimed`, `crawler_items_checked`,
    ///   `lrutail_reflocked`, `moves_to_cold`, `moves_to_warm`, `moves_within_lru`,
    ///   `hits_to_hot`, `hits_to_warm`, `hits_to_temp`: 0, there being no LRU crawler, no
    ///   item references to repair and no segmented LRU.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// assert!(Store::new().item_stats().is_empty());
    /// ```
    pub fn item_stats(&mut self) -> Vec<(String, String)> {
        let now = Instant::now();
        self.tick(now);
        let mut out = Vec::new();
        for (i, c) in self.classes.iter().enumerate() {
            let Some((_, key)) = c.lru.first_key_value() else {
                continue;
            };
            let n = i + 1;
            let number = c.lru.len();
            let age = self
                .items
                .get(key)
                .map_or(0, |it| now.saturating_duration_since(it.used).as_secs());
            let s = &c.stats;
            let fields: [(&str, u64); 28] = [
                ("number", number as u64),
                ("number_hot", 0),
                ("number_warm", 0),
                ("number_cold", number as u64),
                ("age_hot", 0),
                ("age_warm", 0),
                ("age", age),
                ("mem_requested", c.mem_requested as u64),
                ("evicted", s.evicted),
                ("evicted_nonzero", s.evicted_nonzero),
                ("evicted_time", s.evicted_time),
                ("outofmemory", s.outofmemory),
                ("tailrepairs", 0),
                ("reclaimed", s.reclaimed),
                ("expired_unfetched", s.expired_unfetched),
                ("evicted_unfetched", s.evicted_unfetched),
                ("evicted_active", 0),
                ("crawler_reclaimed", 0),
                ("crawler_items_checked", 0),
                ("lrutail_reflocked", 0),
                ("moves_to_cold", 0),
                ("moves_to_warm", 0),
                ("moves_within_lru", 0),
                ("direct_reclaims", s.evicted + s.reclaimed),
                ("hits_to_hot", 0),
                ("hits_to_warm", 0),
                ("hits_to_cold", s.get_hits),
                ("hits_to_temp", 0),
            ];
            out.extend(
                fields
                    .iter()
                    .map(|(f, v)| stat(format!("items:{n}:{f}"), v)),
            );
        }
        out
    }

    /// `stats slabs`: per size class holding items, `N:FIELD`, with memcached's fields.
    /// This server allocates each item on its own, not in slabs, so the page and chunk
    /// counts are those of the class's items laid out in memcached's 1 MiB pages:
    ///
    /// * `chunk_size`: the class's largest item ([`class_sizes`]); `chunks_per_page`:
    ///   how many fit in 1 MiB;
    /// * `used_chunks`: items held (an item over [`SLAB_CHUNK_MAX`] counts as the chunks
    ///   it would span); `total_pages`: the pages those take; `total_chunks`: their
    ///   chunks; `free_chunks`: the difference; `free_chunks_end`: 0;
    /// * `get_hits`, `cmd_set`, `delete_hits`, `incr_hits`, `decr_hits`, `cas_hits`,
    ///   `cas_badval`, `touch_hits`: the commands that found or stored an item of the
    ///   class;
    ///
    /// then `active_slabs`, the classes listed, and `total_malloced`, the bytes of those
    /// pages (what memcached would have taken from the system for these items).
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let lines = Store::new().slab_stats();
    /// assert_eq!(lines[0], ("active_slabs".to_string(), "0".to_string()));
    /// ```
    pub fn slab_stats(&mut self) -> Vec<(String, String)> {
        self.tick(Instant::now());
        let sizes = class_sizes();
        let mut out = Vec::new();
        let mut active = 0;
        let mut malloced = 0;
        for (i, c) in self.classes.iter().enumerate() {
            if c.lru.is_empty() {
                continue;
            }
            active += 1;
            let n = i + 1;
            let chunk = sizes[i];
            let per_page = (SLAB_PAGE_SIZE / chunk) as u64;
            let used: u64 = if chunk == SLAB_CHUNK_MAX {
                c.lru
                    .values()
                    .filter_map(|k| self.items.get(k))
                    .map(|it| it.size.div_ceil(SLAB_CHUNK_MAX) as u64)
                    .sum()
            } else {
                c.lru.len() as u64
            };
            let pages = used.div_ceil(per_page);
            malloced += pages as usize * SLAB_PAGE_SIZE;
            let s = &c.stats;
            let fields: [(&str, u64); 15] = [
                ("chunk_size", chunk as u64),
                ("chunks_per_page", per_page),
                ("total_pages", pages),
                ("total_chunks", pages * per_page),
                ("used_chunks", used),
                ("free_chunks", pages * per_page - used),
                ("free_chunks_end", 0),
                ("get_hits", s.get_hits),
                ("cmd_set", s.cmd_set),
                ("delete_hits", s.delete_hits),
                ("incr_hits", s.incr_hits),
                ("decr_hits", s.decr_hits),
                ("cas_hits", s.cas_hits),
                ("cas_badval", s.cas_badval),
                ("touch_hits", s.touch_hits),
            ];
            out.extend(fields.iter().map(|(f, v)| stat(format!("{n}:{f}"), v)));
        }
        out.push(stat("active_slabs", active));
        out.push(stat("total_malloced", malloced));
        out
    }

    /// `stats settings`: memcached's names for what this server does:
    ///
    /// * `maxbytes`: the memory limit for items (`-m`); `item_size_max`: 1 MiB;
    ///   `evictions on`: the least recently used items go when it is reached;
    /// * `maxconns`: the open-file limit, which is what bounds the connections;
    /// * `tcpport`, `inter`: the address listened on; `udpport 0`; `domain_socket NULL`;
    ///   `shutdown_command no`;
    /// * `num_threads`: the loops; `num_threads_per_udp 0`;
    /// * `verbosity`: the last `verbosity` level (it changes nothing);
    /// * `growth_factor 1.25`, `chunk_size 48`, `slab_chunk_max 524288`: memcached's
    ///   defaults, from which the size classes of `stats items` and `stats slabs` come;
    ///   `slab_reassign no`; `slab_automove`: the last `slabs automove` level (accepted,
    ///   with no slabs to move);
    /// * `reqs_per_event`: [`MESSAGE_BUDGET`](asyncore_runtime::wire::MESSAGE_BUDGET);
    /// * `cas_enabled yes`, `flush_enabled yes`, `detail_enabled no`,
    ///   `binding_protocol ascii`, `auth_enabled_sasl no`, `auth_enabled_ascii no`,
    ///   `lru_crawler no`, `lru_maintainer_thread no`, `lru_segmented no`, `temp_lru no`,
    ///   `idle_timeout 0`, `hash_algorithm siphash`, `ssl_enabled no`.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let lines = Store::new().settings_stats();
    /// assert!(lines.iter().any(|(n, v)| n == "maxbytes" && v == "67108864"));
    /// ```
    pub fn settings_stats(&self) -> Vec<(String, String)> {
        let (inter, port) = match self.settings.listen.rsplit_once(':') {
            Some((host, port)) => (host.trim_matches(['[', ']']).to_string(), port.to_string()),
            None => ("NULL".to_string(), "0".to_string()),
        };
        let maxconns = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        vec![
            stat("maxbytes", self.settings.maxbytes),
            stat("maxconns", maxconns),
            stat("tcpport", port),
            stat("udpport", 0),
            stat("inter", inter),
            stat("verbosity", self.verbosity),
            stat("oldest", 0),
            stat("evictions", "on"),
            stat("domain_socket", "NULL"),
            stat("shutdown_command", "no"),
            stat("growth_factor", "1.25"),
            stat("chunk_size", 48),
            stat("num_threads", self.settings.threads),
            stat("num_threads_per_udp", 0),
            stat("stat_key_prefix", ":"),
            stat("detail_enabled", "no"),
            stat("reqs_per_event", asyncore_runtime::wire::MESSAGE_BUDGET),
            stat("cas_enabled", "yes"),
            stat("tcp_backlog", 1024),
            stat("binding_protocol", "ascii"),
            stat("auth_enabled_sasl", "no"),
            stat("auth_enabled_ascii", "no"),
            stat("item_size_max", ITEM_SIZE_MAX),
            stat("slab_reassign", "no"),
            stat("slab_automove", self.automove),
            stat("slab_chunk_max", SLAB_CHUNK_MAX),
            stat("lru_crawler", "no"),
            stat("flush_enabled", "yes"),
            stat("hash_algorithm", "siphash"),
            stat("lru_maintainer_thread", "no"),
            stat("lru_segmented", "no"),
            stat("temp_lru", "no"),
            stat("idle_timeout", 0),
            stat("ssl_enabled", "no"),
        ]
    }

    /// Counts a command on `key` for `stats detail`, if it is on: the key's prefix is
    /// what comes before its first `:` (keys without one are not counted).
    fn detail(&mut self, key: &[u8], what: Detail) {
        if !self.detail {
            return;
        }
        let Some(end) = key.iter().position(|&b| b == b':') else {
            return;
        };
        let prefix = &key[..end];
        if !self.prefixes.contains_key(prefix) {
            if self.prefixes.len() >= PREFIXES_MAX {
                return;
            }
            self.prefixes
                .insert(prefix.to_vec(), PrefixStats::default());
        }
        if let Some(p) = self.prefixes.get_mut(prefix) {
            match what {
                Detail::Get { hit } => {
                    p.get += 1;
                    p.hit += u64::from(hit);
                }
                Detail::Set => p.set += 1,
                Detail::Del => p.del += 1,
            }
        }
    }

    /// `stats conns`, by descriptor: for each listening socket that accepted a
    /// connection, `FD:addr` (`tcp:HOST:PORT`) and `FD:state conn_listening`; for each open
    /// connection, `FD:addr`, `FD:listen_addr`, `FD:state conn_parse_cmd` (every
    /// connection is read as its commands arrive; a connection in the middle of a data
    /// block is not told apart, as memcached's `conn_nread` would be) and
    /// `FD:secs_since_last_cmd`.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// assert!(Store::new().conn_stats().is_empty());
    /// ```
    pub fn conn_stats(&self) -> Vec<(String, String)> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut listeners = self.listeners.iter().peekable();
        for (fd, c) in &self.conns {
            while let Some((lfd, addr)) = listeners.next_if(|(lfd, _)| *lfd < fd) {
                out.push(stat(format!("{lfd}:addr"), format!("tcp:{addr}")));
                out.push(stat(format!("{lfd}:state"), "conn_listening"));
            }
            out.push(stat(format!("{fd}:addr"), format!("tcp:{}", c.addr)));
            out.push(stat(
                format!("{fd}:listen_addr"),
                format!("tcp:{}", c.listen),
            ));
            out.push(stat(format!("{fd}:state"), "conn_parse_cmd"));
            let idle = now.saturating_duration_since(c.last).as_secs();
            out.push(stat(format!("{fd}:secs_since_last_cmd"), idle));
        }
        for (lfd, addr) in listeners {
            out.push(stat(format!("{lfd}:addr"), format!("tcp:{addr}")));
            out.push(stat(format!("{lfd}:state"), "conn_listening"));
        }
        out
    }

    /// The connection `fd` sent a command now.
    fn conn_active(&mut self, fd: i32) {
        if let Some(c) = self.conns.get_mut(&fd) {
            c.last = Instant::now();
        }
    }

    /// `stats reset`: the counters start again (the open connections stay counted).
    fn reset_stats(&mut self) {
        self.prefixes.clear();
        let curr = self.stats.curr_connections;
        self.stats = Stats {
            curr_connections: curr,
            ..Stats::default()
        };
        for c in &mut self.classes {
            c.stats = ClassStats::default();
        }
    }
}

/// When an item stored now with `exptime` expires (`None`: never), with memcached's
/// rules: 0 never, up to 30 days relative, above that a Unix time, negative (or a Unix
/// time not in the future) already expired.
///
/// ```
/// use asyncore_examples::memcache_server::deadline;
/// use std::time::{Duration, Instant};
/// let now = Instant::now();
/// assert_eq!(deadline(0, now), None);
/// assert_eq!(deadline(10, now), Some(now + Duration::from_secs(10)));
/// assert_eq!(deadline(-1, now), Some(now)); // already expired
/// assert_eq!(deadline(100_000_000, now), Some(now)); // a Unix time in 1973
/// ```
pub fn deadline(exptime: i64, now: Instant) -> Option<Instant> {
    if exptime == 0 {
        return None;
    }
    if exptime < 0 {
        return Some(now);
    }
    let secs = if exptime > REALTIME_MAXDELTA {
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if exptime <= unix_now {
            return Some(now);
        }
        exptime - unix_now
    } else {
        exptime
    };
    // Past what an Instant can hold: as good as never.
    now.checked_add(Duration::from_secs(secs as u64))
}

/// The number at the start of a value, as memcached's `safe_strtoull` reads it: optional
/// leading whitespace and sign, decimal digits, then whitespace or the end. `None` for
/// anything else, or a number over 64 bits, or a negative one.
///
/// ```
/// use asyncore_examples::memcache_server::parse_counter;
/// assert_eq!(parse_counter(b"42"), Some(42));
/// assert_eq!(parse_counter(b" 12 "), Some(12));
/// assert_eq!(parse_counter(b"+1"), Some(1));
/// assert_eq!(parse_counter(b"1 2"), Some(1));
/// assert_eq!(parse_counter(b"-1"), None);
/// assert_eq!(parse_counter(b"12ab"), None);
/// assert_eq!(parse_counter(b""), None);
/// assert_eq!(parse_counter(b"18446744073709551616"), None);
/// ```
pub fn parse_counter(data: &[u8]) -> Option<u64> {
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    let mut i = data.iter().take_while(|&&b| is_space(b)).count();
    let negative = match data.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = data[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in &data[i..i + digits] {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    match data.get(i + digits) {
        None => {}
        Some(&b) if is_space(b) => {}
        Some(_) => return None,
    }
    if negative {
        // strtoull negates; memcached refuses the result only when it looks negative.
        let v = value.wrapping_neg();
        if (v as i64) < 0 {
            return None;
        }
        return Some(v);
    }
    Some(value)
}

/// The storage commands, which share one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(u64),
}

/// One client connection: the handler of the memcache protocol's server side.
#[derive(Debug)]
pub struct Connection {
    store: SharedStore,
    /// Counted in `curr_connections` (from `on_open` until dropped).
    counted: bool,
    /// The values of a retrieval still to be sent, in order, then `END`.
    pending: std::collections::VecDeque<PendingValue>,
    /// Whether they are sent with their CAS unique (`gets`, `gats`).
    pending_cas: bool,
    /// The connection's descriptor (memcached's `cfd` in watch lines and `stats conns`),
    /// or -1.
    fd: i32,
    /// The peer's address and the one it came in on, for `stats conns`.
    peer: (String, String),
    /// The channel, once open: how watchers are told.
    token: Option<Token>,
}

/// One value of a retrieval, taken when the command arrived, waiting for room in the
/// output.
#[derive(Debug)]
struct PendingValue {
    key: Vec<u8>,
    flags: u32,
    cas: u64,
    data: Arc<[u8]>,
}

impl Connection {
    /// A connection to `store`.
    pub fn new(store: SharedStore) -> Connection {
        Connection {
            store,
            counted: false,
            pending: std::collections::VecDeque::new(),
            pending_cas: false,
            fd: -1,
            peer: (String::new(), String::new()),
            token: None,
        }
    }

    /// Sends the values of a retrieval waiting for room, as far as the output takes
    /// them, then `END`; asks to go on later if the output fills first.
    fn send_pending(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        while let Some(v) = self.pending.front() {
            if cx.output_full() {
                cx.produce_later();
                return Ok(());
            }
            cx.send(memcache::Value {
                key: &v.key,
                flags: v.flags,
                unique: self.pending_cas.then_some(v.cas),
                data: &v.data,
            })?;
            self.pending.pop_front();
        }
        // Memory back after a large retrieval.
        self.pending = std::collections::VecDeque::new();
        cx.send(memcache::End {})
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.counted {
            let mut store = lock(&self.store);
            store.stats.curr_connections = store.stats.curr_connections.saturating_sub(1);
            store.conns.remove(&self.fd);
        }
        if let Some(token) = self.token {
            // Dropped on its loop's thread, where it watched.
            let _ = WATCHERS.try_with(|w| w.borrow_mut().retain(|w| w.token != token));
        }
    }
}

/// A connection that asked to `watch`, and what.
#[derive(Debug, Clone, Copy)]
struct Watcher {
    token: Token,
    fetchers: bool,
    mutations: bool,
}

thread_local! {
    /// The watchers of this thread's loop: a watcher receives the lines of the
    /// connections of its own loop (one loop unless `--threads`).
    static WATCHERS: RefCell<Vec<Watcher>> = const { RefCell::new(Vec::new()) };
}

/// The number of the last watch line (memcached's `gid`).
static WATCH_GID: AtomicU64 = AtomicU64::new(0);

/// What a watch line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WatchKind {
    /// An item looked up (`watch fetchers`).
    Fetch,
    /// An item stored (`watch mutations`).
    Mutation,
}

/// Sends the line `body` makes (after memcached's `ts=SECS.USECS gid=N `) to the
/// watchers of this loop that watch `kind`; nothing is made when none does. A watcher
/// whose output is full misses the line.
fn watch_log(map: &mut Map, kind: WatchKind, body: impl FnOnce() -> String) {
    let targets: Vec<Token> = WATCHERS.with(|w| {
        w.borrow()
            .iter()
            .filter(|w| match kind {
                WatchKind::Fetch => w.fetchers,
                WatchKind::Mutation => w.mutations,
            })
            .map(|w| w.token)
            .collect()
    });
    if targets.is_empty() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let gid = WATCH_GID.fetch_add(1, Ordering::Relaxed) + 1;
    let line = format!(
        "ts={}.{:06} gid={gid} {}\n",
        now.as_secs(),
        now.subsec_micros(),
        body()
    );
    for token in targets {
        let _ = map.send_to(token, line.as_bytes());
    }
}

/// Sends `msg` unless the command said `noreply`.
fn reply<'m>(
    cx: &mut ServerCx<'_, '_>,
    noreply: bool,
    msg: impl Into<memcache::ServerMessage<'m>>,
) -> Result {
    if noreply {
        Ok(())
    } else {
        cx.send(msg)
    }
}

fn client_error(cx: &mut ServerCx<'_, '_>, noreply: bool, message: &[u8]) -> Result {
    reply(cx, noreply, memcache::ClientError { message })
}

/// Whether `line` looks like an HTTP request line, as memcached tells one: its last
/// word starts with `HTTP/` (`GET / HTTP/1.0`).
fn is_http(line: &[u8]) -> bool {
    line.rsplit(|&b| b == b' ')
        .find(|w| !w.is_empty())
        .is_some_and(|w| w.starts_with(b"HTTP/"))
}

/// Arms the expiry sweep on `map` unless a loop already runs it.
fn arm_sweep(map: &mut Map, store: &SharedStore) {
    {
        let mut s = lock(store);
        if s.sweep_armed {
            return;
        }
        s.sweep_armed = true;
    }
    schedule_sweep(map, store.clone());
}

fn schedule_sweep(map: &mut Map, store: SharedStore) {
    map.call_later(SWEEP_INTERVAL, move |map| {
        let more = {
            let mut s = lock(&store);
            let more = s.sweep(Instant::now());
            if !more {
                s.sweep_armed = false;
            }
            more
        };
        if more {
            schedule_sweep(map, store);
        }
    });
}

#[dispatcher(protocol = memcache, role = server)]
impl Connection {
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        cx.channel()
            .set_output_limits(asyncore_runtime::DEFAULT_HIGH_WATER, OUTPUT_LIMIT);
        self.token = Some(cx.channel().token());
        let mut store = lock(&self.store);
        store.stats.curr_connections += 1;
        store.stats.total_connections += 1;
        let (addr, listen) = self.peer.clone();
        store.conns.insert(
            self.fd,
            ConnInfo {
                addr,
                listen,
                last: Instant::now(),
            },
        );
        self.counted = true;
        Ok(())
    }

    fn on_shutdown(&mut self, cx: &mut ServerCx<'_, '_>, _msg: memcache::Shutdown<'_>) -> Result {
        // Stopped by SIGINT or SIGTERM only.
        cx.send(memcache::ErrorReason {
            reason: b"shutdown not enabled",
        })
    }

    fn on_watch(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Watch<'_>) -> Result {
        let Some(token) = self.token else {
            return cx.send(memcache::Error {});
        };
        let mut watcher = Watcher {
            token,
            fetchers: false,
            mutations: false,
        };
        for kind in msg.kinds.iter() {
            match kind {
                b"fetchers" => watcher.fetchers = true,
                b"mutations" => watcher.mutations = true,
                // memcached's other log streams are not kept here.
                _ => return cx.send(memcache::Error {}),
            }
        }
        WATCHERS.with(|w| {
            let mut w = w.borrow_mut();
            w.retain(|w| w.token != token);
            w.push(watcher);
        });
        cx.send(memcache::Ok {})
    }

    fn on_get(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Get<'_>) -> Result {
        self.retrieve(cx, msg.keys.iter(), false, None)
    }

    fn on_gets(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Gets<'_>) -> Result {
        self.retrieve(cx, msg.keys.iter(), true, None)
    }

    fn on_gat(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Gat<'_>) -> Result {
        if msg.exptime > i64::from(i32::MAX) {
            return client_error(cx, false, BAD_EXPTIME);
        }
        self.retrieve(cx, msg.keys.iter(), false, Some(msg.exptime))
    }

    fn on_gats(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Gats<'_>) -> Result {
        if msg.exptime > i64::from(i32::MAX) {
            return client_error(cx, false, BAD_EXPTIME);
        }
        self.retrieve(cx, msg.keys.iter(), true, Some(msg.exptime))
    }

    fn on_set(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Set<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Set, m)
    }

    fn on_add(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Add<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Add, m)
    }

    fn on_replace(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Replace<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Replace, m)
    }

    fn on_append(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Append<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Append, m)
    }

    fn on_prepend(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Prepend<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Prepend, m)
    }

    fn on_cas(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Cas<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Cas(msg.unique), m)
    }

    fn on_delete(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Delete<'_>) -> Result {
        if msg.key.len() > KEY_MAX_LENGTH {
            return client_error(cx, msg.noreply, BAD_FORMAT);
        }
        let found = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            store.detail(msg.key, Detail::Del);
            let found = store.live(msg.key, now).is_some();
            if found {
                if let Some(c) = store.class_stats(msg.key) {
                    c.delete_hits += 1;
                }
                store.remove(msg.key);
                store.stats.delete_hits += 1;
            } else {
                store.stats.delete_misses += 1;
            }
            found
        };
        if found {
            reply(cx, msg.noreply, memcache::Deleted {})
        } else {
            reply(cx, msg.noreply, memcache::NotFound {})
        }
    }

    fn on_incr(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Incr<'_>) -> Result {
        self.arithmetic(cx, msg.key, msg.value, msg.noreply, true)
    }

    fn on_decr(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Decr<'_>) -> Result {
        self.arithmetic(cx, msg.key, msg.value, msg.noreply, false)
    }

    fn on_touch(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Touch<'_>) -> Result {
        if msg.key.len() > KEY_MAX_LENGTH {
            return client_error(cx, msg.noreply, BAD_FORMAT);
        }
        if msg.exptime > i64::from(i32::MAX) {
            return client_error(cx, msg.noreply, BAD_EXPTIME);
        }
        let found = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            store.stats.cmd_touch += 1;
            let found = store.live(msg.key, now).is_some();
            if found {
                store.touch(msg.key, deadline(msg.exptime, now));
                store.stats.touch_hits += 1;
            } else {
                store.stats.touch_misses += 1;
            }
            found
        };
        if found {
            self.arm_if_expiring(cx);
            reply(cx, msg.noreply, memcache::Touched {})
        } else {
            reply(cx, msg.noreply, memcache::NotFound {})
        }
    }

    fn on_flush_all(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::FlushAll) -> Result {
        let delay = msg.delay.unwrap_or(0);
        if delay > i64::from(i32::MAX) {
            return client_error(cx, msg.noreply, BAD_EXPTIME);
        }
        {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.stats.cmd_flush += 1;
            match deadline(delay, now) {
                // memcached's clock counts whole seconds: a flush due within one second
                // is a flush now.
                Some(at) if at > now + Duration::from_secs(1) => store.flush_at = Some(at),
                // Now: no delay, a negative one, or a time already past.
                _ => {
                    store.flush_at = None;
                    store.clear();
                    // memcached marks the flush with a CAS unique of its own.
                    store.next_cas();
                }
            }
        }
        reply(cx, msg.noreply, memcache::Ok {})
    }

    fn on_version(&mut self, cx: &mut ServerCx<'_, '_>, _msg: memcache::Version) -> Result {
        cx.send(memcache::VersionReply {
            version: VERSION.as_bytes(),
        })
    }

    fn on_verbosity(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Verbosity) -> Result {
        // Nothing to log more or less: the level is kept for `stats settings`.
        lock(&self.store).verbosity = msg.level;
        reply(cx, msg.noreply, memcache::Ok {})
    }

    fn on_slabs_automove(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: memcache::SlabsAutomove,
    ) -> Result {
        // memcached's levels are 0, 1 and 2; another number is `ERROR`.
        let Ok(level @ 0..=2) = u32::try_from(msg.level) else {
            return cx.send(memcache::Error {});
        };
        lock(&self.store).automove = level;
        cx.send(memcache::Ok {})
    }

    fn on_stats(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Stats<'_>) -> Result {
        let words: Vec<&[u8]> = msg.args.iter().take(4).collect();
        let (group, arg) = (words.first().copied(), words.get(1).copied());
        let (more, extra) = (words.len() > 1, words.len() > 2);
        let lines = {
            let mut store = lock(&self.store);
            store.conn_active(self.fd);
            match group {
                None => store.general_stats(),
                Some(b"items") if !more => store.item_stats(),
                Some(b"slabs") if !more => store.slab_stats(),
                Some(b"settings") if !more => store.settings_stats(),
                Some(b"conns") if !more => store.conn_stats(),
                Some(b"cachedump") => {
                    let number =
                        |w: Option<&[u8]>| std::str::from_utf8(w?).ok()?.parse::<usize>().ok();
                    let third = words.get(2).copied();
                    let (Some(class), Some(limit), 3) = (number(arg), number(third), words.len())
                    else {
                        drop(store);
                        return client_error(cx, false, b"bad command line");
                    };
                    let Some(items) = store.cache_dump(class, limit) else {
                        drop(store);
                        return client_error(cx, false, b"Illegal slab id");
                    };
                    drop(store);
                    for (key, bytes, exptime) in &items {
                        cx.send(memcache::CacheItem {
                            key,
                            bytes: *bytes as u64,
                            exptime: *exptime,
                        })?;
                    }
                    return cx.send(memcache::End {});
                }
                Some(b"detail") => {
                    let reply = match (arg, extra) {
                        (Some(b"on"), false) => Some(true),
                        (Some(b"off"), false) => Some(false),
                        (Some(b"dump"), false) => None,
                        _ => {
                            drop(store);
                            return client_error(cx, false, b"usage: stats detail on|off|dump");
                        }
                    };
                    let dump: Vec<(Vec<u8>, PrefixStats)> = match reply {
                        Some(on) => {
                            store.detail = on;
                            drop(store);
                            return cx.send(memcache::Ok {});
                        }
                        None => store
                            .prefixes
                            .iter()
                            .map(|(k, v)| (k.clone(), *v))
                            .collect(),
                    };
                    drop(store);
                    for (prefix, p) in &dump {
                        cx.send(memcache::Prefix {
                            prefix,
                            get: p.get,
                            hit: p.hit,
                            set: p.set,
                            del: p.del,
                        })?;
                    }
                    return cx.send(memcache::End {});
                }
                Some(b"reset") if !more => {
                    store.reset_stats();
                    drop(store);
                    return cx.send(memcache::Reset {});
                }
                // Other groups (sizes, conns, detail...) are memcached internals.
                Some(_) => {
                    drop(store);
                    return cx.send(memcache::Error {});
                }
            }
        };
        self.send_stats(cx, lines)
    }

    /// The rest of a retrieval, as the output drains.
    fn on_produce(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        self.send_pending(cx)
    }

    fn on_quit(&mut self, _cx: &mut ServerCx<'_, '_>, _msg: memcache::Quit) -> Result {
        // The description closes the connection after `quit`.
        Ok(())
    }

    /// memcached's replies to malformed commands; the description's policies only drop
    /// the input (or, for an unknown command, reply `ERROR`).
    fn on_bad_input(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) {
        log::debug!("{err}");
        let _ = self.bad_input_reply(cx, err);
    }
}

impl Connection {
    /// Sends memcached's reply to the bad input `err` (see the module documentation).
    fn bad_input_reply(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) -> Result {
        let message = err.message().unwrap_or("");
        let storage = matches!(
            message,
            "Set" | "Add" | "Replace" | "Append" | "Prepend" | "Cas"
        );
        let line = cx.bad_input();
        // memcached splits a line at spaces; `noreply` as the last word of a command that
        // takes it silences every reply but `ERROR`, errors included.
        let last = line.rsplit(|&b| b == b' ').find(|w| !w.is_empty());
        let quiet = last == Some(&b"noreply"[..])
            && (storage
                || matches!(
                    message,
                    "Delete" | "Incr" | "Decr" | "Touch" | "FlushAll" | "Verbosity"
                ));
        // The decoder expected a separator: most often where the line ended (an argument
        // is missing: `ERROR`). A number run into other characters (`5x`) gives the same
        // error, and gets `ERROR` too where memcached says `CLIENT_ERROR bad command line
        // format`: the error does not say which.
        let missing =
            matches!(err.kind(), DecodeErrorKind::Invalid { what } if *what == "a space or a tab");
        let bad_number = matches!(err.kind(), DecodeErrorKind::OutOfRange { .. })
            || matches!(err.kind(), DecodeErrorKind::Invalid { what } if what.contains("integer"));
        match *err.kind() {
            DecodeErrorKind::Oversize {
                what: Limit::Bytes, ..
            } => {
                if message == "Set" {
                    // As memcached: no stale value stays behind a failed set. The key is
                    // the line's second word.
                    let key = line.split(|&b| b == b' ').filter(|w| !w.is_empty()).nth(1);
                    if let Some(key) = key {
                        lock(&self.store).remove(key);
                    }
                }
                // The decoder skips the data block as it arrives.
                reply(cx, quiet, memcache::ServerError { message: TOO_LARGE })
            }
            DecodeErrorKind::Oversize { .. } => {
                cx.close();
                client_error(cx, false, b"line too long")
            }
            DecodeErrorKind::Unknown if is_http(line) => {
                // An HTTP request sent to memcached: it hangs up without a word.
                cx.close();
                Ok(())
            }
            DecodeErrorKind::Unknown | DecodeErrorKind::NotAllowed { .. } => {
                cx.send(memcache::Error {})
            }
            DecodeErrorKind::Literal { .. } if storage => {
                // Not `\r\n` after the data block: as memcached, nothing is stored, the
                // block and two bytes more go by, and what follows is read as commands.
                client_error(cx, quiet, b"bad data chunk")
            }
            _ => match message {
                "Version" => cx.send(memcache::VersionReply {
                    version: VERSION.as_bytes(),
                }),
                "Quit" => {
                    cx.close();
                    Ok(())
                }
                "Gat" | "Gats" if missing && err.offset() > message.len() + 1 => {
                    // An exptime and no key: memcached answers with an empty result.
                    cx.send(memcache::End {})
                }
                "Gat" | "Gats" | "Touch" | "FlushAll" if !missing => {
                    if message == "Touch"
                        && matches!(err.kind(), DecodeErrorKind::Invalid { what } if *what == "the end of the line")
                    {
                        cx.send(memcache::Error {})
                    } else {
                        client_error(cx, quiet, BAD_EXPTIME)
                    }
                }
                "Incr" | "Decr" if bad_number => client_error(cx, quiet, BAD_DELTA),
                "Delete" if !missing => client_error(cx, quiet, DELETE_USAGE),
                "Verbosity" if bad_number => client_error(cx, quiet, BAD_FORMAT),
                "SlabsAutomove" if bad_number => client_error(cx, false, BAD_FORMAT),
                _ if storage && bad_number => client_error(cx, quiet, BAD_FORMAT),
                // A missing argument, one too many, or a command memcached does not know.
                _ => cx.send(memcache::Error {}),
            },
        }
    }

    /// `get`, `gets`, `gat` and `gats`: a `VALUE` per live key, then `END`. A key over
    /// 250 bytes makes the whole command a `CLIENT_ERROR`. The values are taken now;
    /// those the output has no room for are sent as it drains.
    fn retrieve<'k>(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
        with_cas: bool,
        touch: Option<i64>,
    ) -> Result {
        if keys.clone().any(|k| k.len() > KEY_MAX_LENGTH) {
            return client_error(cx, false, BAD_FORMAT);
        }
        let store = self.store.clone();
        let mut store = lock(&store);
        let now = Instant::now();
        store.tick(now);
        store.conn_active(self.fd);
        let expires = touch.map(|t| deadline(t, now));
        let mut touched = false;
        for key in keys {
            store.stats.cmd_get += 1;
            if touch.is_some() {
                store.stats.cmd_touch += 1;
            }
            let (found, present) = match store.fetch(key, now) {
                Ok(item) => (Some(item), true),
                Err(expired) => (None, expired),
            };
            let hit = found
                .as_ref()
                .map(|(class, _, _, data)| (*class, data.len()));
            store.detail(key, Detail::Get { hit: hit.is_some() });
            let fd = self.fd;
            watch_log(cx.channel().map(), WatchKind::Fetch, || {
                let (status, (class, size)) = match hit {
                    Some(found) => ("found", found),
                    None => ("not_found", (0, 0)),
                };
                let key = String::from_utf8_lossy(key);
                format!(
                    "type=item_get key={key} status={status} clsid={class} cfd={fd} size={size}"
                )
            });
            if hit.is_none() {
                store.stats.get_misses += 1;
                if present {
                    store.stats.get_expired += 1;
                }
                if touch.is_some() {
                    store.stats.touch_misses += 1;
                }
                continue;
            }
            store.stats.get_hits += 1;
            let Some((_, flags, cas, data)) = found else {
                continue;
            };
            if let Some(e) = expires {
                store.touch(key, e);
                store.stats.touch_hits += 1;
                touched |= e.is_some();
            }
            if self.pending.is_empty() && !cx.output_full() {
                cx.send(memcache::Value {
                    key,
                    flags,
                    unique: with_cas.then_some(cas),
                    data: &data,
                })?;
            } else {
                // No room now: the value as it is now, for later.
                self.pending.push_back(PendingValue {
                    key: key.to_vec(),
                    flags,
                    cas,
                    data,
                });
            }
        }
        drop(store);
        if touched {
            self.arm_if_expiring(cx);
        }
        self.pending_cas = with_cas;
        self.send_pending(cx)
    }

    /// The storage commands.
    fn update(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        mode: Mode,
        (key, flags, exptime, noreply, data): (&[u8], u32, i64, bool, &[u8]),
    ) -> Result {
        if key.len() > KEY_MAX_LENGTH || exptime > i64::from(i32::MAX) {
            return client_error(cx, noreply, BAD_FORMAT);
        }
        let outcome = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            store.conn_active(self.fd);
            store.stats.cmd_set += 1;
            store.detail(key, Detail::Set);
            if Store::too_large(key.len(), flags, data.len()) {
                store.stats.store_too_large += 1;
                if mode == Mode::Set {
                    // As memcached: no stale value stays behind a failed set.
                    store.remove(key);
                }
                drop(store);
                return reply(cx, noreply, memcache::ServerError { message: TOO_LARGE });
            }
            let expires = deadline(exptime, now);
            let existing = store
                .live(key, now)
                .map(|it| (it.cas, it.flags, it.expires, it.class, it.data.len()));
            let fd = self.fd;
            watch_log(cx.channel().map(), WatchKind::Fetch, || {
                let (status, class, size) = match existing {
                    Some((_, _, _, class, size)) => ("found", class, size),
                    None => ("not_found", 0, 0),
                };
                let key = String::from_utf8_lossy(key);
                format!(
                    "type=item_get key={key} status={status} clsid={class} cfd={fd} size={size}"
                )
            });
            let existing = existing.map(|(cas, flags, expires, _, _)| (cas, flags, expires));
            match (mode, existing) {
                (Mode::Set, _) | (Mode::Add, None) | (Mode::Replace, Some(_)) => {
                    match store.link(key, data.to_vec(), flags, expires) {
                        Ok(()) => Outcome::Stored(expires.is_some()),
                        Err(NoMemory) => Outcome::NoMemory,
                    }
                }
                (Mode::Add, Some(_)) | (Mode::Replace, None) => Outcome::NotStored,
                (Mode::Append | Mode::Prepend, None) => Outcome::NotStored,
                (Mode::Append | Mode::Prepend, Some((_, old_flags, old_expires))) => {
                    let old = store.items.get(key).map_or(&[][..], |it| &it.data[..]);
                    if Store::too_large(key.len(), old_flags, old.len() + data.len()) {
                        Outcome::NotStored
                    } else {
                        let mut joined = Vec::with_capacity(old.len() + data.len());
                        if mode == Mode::Append {
                            joined.extend_from_slice(old);
                            joined.extend_from_slice(data);
                        } else {
                            joined.extend_from_slice(data);
                            joined.extend_from_slice(old);
                        }
                        // The item keeps its flags and expiry.
                        match store.link(key, joined, old_flags, old_expires) {
                            Ok(()) => Outcome::Stored(old_expires.is_some()),
                            Err(NoMemory) => Outcome::NoMemory,
                        }
                    }
                }
                (Mode::Cas(_), None) => {
                    store.stats.cas_misses += 1;
                    Outcome::NotFound
                }
                (Mode::Cas(unique), Some((cas, _, _))) => {
                    if unique == cas {
                        store.stats.cas_hits += 1;
                        if let Some(c) = store.class_stats(key) {
                            c.cas_hits += 1;
                        }
                        match store.link(key, data.to_vec(), flags, expires) {
                            Ok(()) => Outcome::Stored(expires.is_some()),
                            Err(NoMemory) => Outcome::NoMemory,
                        }
                    } else {
                        store.stats.cas_badval += 1;
                        if let Some(c) = store.class_stats(key) {
                            c.cas_badval += 1;
                        }
                        Outcome::Exists
                    }
                }
            }
        };
        let fd = self.fd;
        watch_log(cx.channel().map(), WatchKind::Mutation, || {
            let status = match outcome {
                Outcome::Stored(_) => "stored",
                Outcome::NotStored => "not_stored",
                Outcome::Exists => "exists",
                Outcome::NotFound => "not_found",
                Outcome::NoMemory => "no_memory",
            };
            let cmd = match mode {
                Mode::Set => "set",
                Mode::Add => "add",
                Mode::Replace => "replace",
                Mode::Append => "append",
                Mode::Prepend => "prepend",
                Mode::Cas(_) => "cas",
            };
            let ttl = deadline(exptime, Instant::now())
                .map_or(0, |d| d.saturating_duration_since(Instant::now()).as_secs());
            let key = String::from_utf8_lossy(key);
            let class = size_class(item_size(key.len(), flags, data.len()));
            format!(
                "type=item_store key={key} status={status} cmd={cmd} ttl={ttl} clsid={class} cfd={fd} size={}",
                data.len()
            )
        });
        match outcome {
            Outcome::Stored(expiring) => {
                if expiring {
                    self.arm_if_expiring(cx);
                }
                reply(cx, noreply, memcache::Stored {})
            }
            Outcome::NotStored => reply(cx, noreply, memcache::NotStored {}),
            Outcome::Exists => reply(cx, noreply, memcache::Exists {}),
            Outcome::NotFound => reply(cx, noreply, memcache::NotFound {}),
            Outcome::NoMemory => reply(cx, noreply, memcache::ServerError { message: NO_MEMORY }),
        }
    }

    /// `incr` and `decr`.
    fn arithmetic(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        key: &[u8],
        delta: u64,
        noreply: bool,
        incr: bool,
    ) -> Result {
        if key.len() > KEY_MAX_LENGTH {
            return client_error(cx, noreply, BAD_FORMAT);
        }
        let result = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            match store.live(key, now) {
                None => {
                    if incr {
                        store.stats.incr_misses += 1;
                    } else {
                        store.stats.decr_misses += 1;
                    }
                    None
                }
                Some(item) => match parse_counter(&item.data) {
                    None => Some(None),
                    Some(value) => {
                        let value = if incr {
                            value.wrapping_add(delta)
                        } else {
                            value.saturating_sub(delta)
                        };
                        let mut text = value.to_string().into_bytes();
                        let (flags, expires, old_len) = (item.flags, item.expires, item.data.len());
                        if text.len() < old_len {
                            // memcached rewrites the value in place, padded with spaces.
                            text.resize(old_len, b' ');
                        }
                        if let Some(c) = store.class_stats(key) {
                            if incr {
                                c.incr_hits += 1;
                            } else {
                                c.decr_hits += 1;
                            }
                        }
                        if incr {
                            store.stats.incr_hits += 1;
                        } else {
                            store.stats.decr_hits += 1;
                        }
                        Some(Some(store.link(key, text, flags, expires).map(|()| value)))
                    }
                },
            }
        };
        match result {
            None => reply(cx, noreply, memcache::NotFound {}),
            Some(None) => client_error(cx, noreply, NON_NUMERIC),
            Some(Some(Ok(value))) => reply(cx, noreply, memcache::Number { value }),
            Some(Some(Err(NoMemory))) => {
                reply(cx, noreply, memcache::ServerError { message: NO_MEMORY })
            }
        }
    }

    /// Sends `lines` as `STAT` lines, then `END`.
    fn send_stats(&mut self, cx: &mut ServerCx<'_, '_>, lines: Vec<(String, String)>) -> Result {
        for (name, value) in &lines {
            cx.send(memcache::Stat {
                name: name.as_bytes(),
                value: value.as_bytes(),
            })?;
        }
        cx.send(memcache::End {})
    }

    fn arm_if_expiring(&mut self, cx: &mut ServerCx<'_, '_>) {
        arm_sweep(cx.channel().map(), &self.store);
    }
}

/// What a storage command did.
enum Outcome {
    /// Stored; whether the item expires.
    Stored(bool),
    NotStored,
    Exists,
    NotFound,
    /// The item is larger than the memory limit.
    NoMemory,
}

/// The listening channel: each accepted connection becomes a [`Connection`] to the
/// server's [`Store`].
#[derive(Debug, Default)]
pub struct MemcacheServer {
    store: SharedStore,
}

impl MemcacheServer {
    /// A server with an empty store of its own.
    pub fn new() -> Self {
        MemcacheServer::default()
    }

    /// A server on `store` (shared with the other loops of a `--threads` server).
    pub fn with_store(store: SharedStore) -> Self {
        MemcacheServer { store }
    }

    /// The store.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }
}

impl Dispatcher for MemcacheServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let mut conn = Connection::new(self.store.clone());
        conn.fd = sock.as_raw_fd();
        let listen = ch
            .socket()
            .local_addr()
            .map_or_else(|_| String::new(), |a| a.to_string());
        lock(&self.store)
            .listeners
            .entry(ch.socket().as_raw_fd())
            .or_insert_with(|| listen.clone());
        conn.peer = (addr.to_string(), listen);
        ch.add_accepted(sock, addr, memcache::ServerChannel::new(conn))?;
        Ok(())
    }
}
