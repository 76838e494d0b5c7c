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
use std::collections::BTreeMap;
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

mod commands;
mod conns;
mod handlers;
mod items;
mod stats;
mod store;

use conns::Conns;
use items::Items;

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

/// How stale an item's time of last use may grow before a read writes it again, as
/// memcached's `ITEM_UPDATE_INTERVAL`: the ages `stats items` gives are this coarse.
///
/// ```
/// assert_eq!(asyncore_examples::memcache_server::ITEM_UPDATE_INTERVAL.as_secs(), 60);
/// ```
pub const ITEM_UPDATE_INTERVAL: Duration = Duration::from_secs(60);

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

/// One stored value: its header, kept in the table of items, and its key and value in
/// one allocation.
#[derive(Debug)]
struct Item {
    /// The hash of the key ([`Items::hash`]).
    hash: u64,
    /// The key's length: the key is the first `nkey` bytes of `kv`.
    nkey: usize,
    /// The key, then the value; shared with the retrievals still sending it.
    kv: Arc<[u8]>,
    flags: u32,
    cas: u64,
    /// `None`: never expires.
    expires: Option<Instant>,
    /// When it was stored, for a delayed `flush_all`.
    stored: Instant,
    /// When it was last stored, read or touched, to within [`ITEM_UPDATE_INTERVAL`]: the
    /// age of the oldest item of a class (`stats items`) and of an evicted one.
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
    fn key(&self) -> &[u8] {
        self.kv.get(..self.nkey).unwrap_or_default()
    }

    fn data(&self) -> &[u8] {
        self.kv.get(self.nkey..).unwrap_or_default()
    }

    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|d| d > now)
    }

    /// Marks it read or touched at `now`: active, and used now unless it was used within
    /// [`ITEM_UPDATE_INTERVAL`]. Nothing is written when nothing changes, as in
    /// memcached's `do_item_bump`: an item read by several loops then stays in each
    /// core's cache instead of moving between them on every read.
    fn mark_used(&mut self, now: Instant) {
        if !self.active {
            self.active = true;
        }
        if now.saturating_duration_since(self.used) >= ITEM_UPDATE_INTERVAL {
            self.used = now;
        }
    }
}

/// What a get finds: the item's size class, flags, CAS unique, and its key and value
/// with the key's length.
type Fetched = (usize, u32, u64, Arc<[u8]>, usize);

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
    items: Items,
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
    conns: Conns,
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
    pending: crate::waiting::Waiting<PendingValue>,
    /// Whether they are sent with their CAS unique (`gets`, `gats`).
    pending_cas: bool,
    /// The connection's descriptor (memcached's `cfd` in watch lines and `stats conns`),
    /// or -1.
    fd: i32,
    /// The descriptor of the listening socket it came in on, for `stats conns`, until
    /// the connection opens and is recorded in the store's table.
    listen_fd: i32,
    /// Its id in the store's table of connections, once recorded.
    conn_id: u32,
    /// The channel, once open: how watchers are told.
    token: Option<Token>,
}

/// The values a retrieval keeps room for between commands: a retrieval of more keys
/// makes the room it needs, given back once it is sent.
const PENDING_KEPT: usize = 64;

/// One value of a retrieval, taken when the command arrived, waiting for room in the
/// output.
#[derive(Debug)]
struct PendingValue {
    /// The item's key, then its value.
    kv: Arc<[u8]>,
    /// The key's length.
    nkey: usize,
    flags: u32,
    cas: u64,
}

impl Connection {
    /// A connection to `store`.
    pub fn new(store: SharedStore) -> Connection {
        Connection {
            store,
            counted: false,
            pending: crate::waiting::Waiting::default(),
            pending_cas: false,
            fd: -1,
            listen_fd: -1,
            conn_id: 0,
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
            let (key, data) = v.kv.split_at_checked(v.nkey).unwrap_or_default();
            cx.send(memcache::Value {
                key,
                flags: v.flags,
                unique: self.pending_cas.then_some(v.cas),
                data,
            })?;
            self.pending.pop_front();
        }
        // Memory back after a large retrieval.
        self.pending.drained(PENDING_KEPT);
        cx.send(memcache::End {})
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if self.counted {
            let mut store = lock(&self.store);
            store.stats.curr_connections = store.stats.curr_connections.saturating_sub(1);
            store.conns.close(self.fd, self.conn_id);
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
        conn.listen_fd = ch.socket().as_raw_fd();
        lock(&self.store)
            .listeners
            .entry(conn.listen_fd)
            .or_insert_with(|| {
                ch.socket()
                    .local_addr()
                    .map_or_else(|_| String::new(), |a| a.to_string())
            });
        ch.add_accepted(sock, addr, memcache::ServerChannel::new(conn))?;
        Ok(())
    }
}
