//! A memcached server, generated from `protocols/descriptions/memcache.proto`: the text
//! protocol of memcached 1.6 (`get`, `gets`, `gat`, `gats`, `set`, `add`, `replace`,
//! `append`, `prepend`, `cas`, `delete`, `incr`, `decr`, `touch`, `flush_all`, `version`,
//! `verbosity`, `stats`, `quit`, and `noreply`), with memcached's replies to bad input.
//!
//! The description gives the framing (command lines of at most 2048 bytes, then a data
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
//!
//! # Bad input
//!
//! The description leaves the replies to malformed commands to
//! [`on_bad_input`](memcache::Server::on_bad_input), which gives memcached's: `ERROR` for
//! an unknown command or a missing argument, `CLIENT_ERROR bad command line format` for a
//! bad number or a key over 250 bytes, `CLIENT_ERROR invalid exptime argument`,
//! `CLIENT_ERROR invalid numeric delta argument`, `CLIENT_ERROR bad data chunk` (a data
//! block not followed by `\r\n`: as memcached, the block and the two bytes where `\r\n`
//! belongs go by, and what follows is read as commands), and `SERVER_ERROR object too large for cache`
//! (the data block is skipped as it arrives, never buffered). A command line over 2048
//! bytes gets `CLIENT_ERROR line too long` and a close (memcached closes such a
//! connection without a reply). A client that pipelines retrievals faster than it reads
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

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use asyncore_runtime::wire::{DecodeError, DecodeErrorKind, Limit};
use asyncore_runtime::{dispatcher, protocol, Addr, Channel, Dispatcher, Map, Result, Socket};

protocol!(pub mod memcache = "../protocols/descriptions/memcache.proto");

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
}

impl Item {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|d| d > now)
    }
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
    /// Items stored since the start (or the last `stats reset`).
    pub total_items: u64,
    /// Items dropped because they expired, found by a command or the sweep.
    pub expired_unfetched: u64,
}

/// The items of a server and its counters. Shared by every connection through
/// [`SharedStore`].
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
    /// The last CAS unique given.
    cas: u64,
    /// A delayed `flush_all`: items stored before this time go once it has come.
    flush_at: Option<Instant>,
    /// Value bytes held.
    bytes: usize,
    stats: Stats,
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

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store {
            items: HashMap::new(),
            deadlines: BTreeMap::new(),
            cas: 0,
            flush_at: None,
            bytes: 0,
            stats: Stats::default(),
            started: Instant::now(),
            sweep_armed: false,
        }
    }

    /// An empty store to share between connections and loops.
    pub fn shared() -> SharedStore {
        Arc::new(Mutex::new(Store::new()))
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
            self.remove(key);
            self.stats.expired_unfetched += 1;
            return None;
        }
        self.items.get_mut(key)
    }

    fn remove(&mut self, key: &[u8]) -> Option<Item> {
        let item = self.items.remove(key)?;
        if let Some(d) = item.expires {
            self.deadlines.remove(&(d, item.cas));
        }
        self.bytes -= item.data.len();
        Some(item)
    }

    fn next_cas(&mut self) -> u64 {
        self.cas += 1;
        self.cas
    }

    /// Stores `data` under `key` as a new item version (a new CAS unique).
    fn link(&mut self, key: &[u8], data: Vec<u8>, flags: u32, expires: Option<Instant>) {
        let now = Instant::now();
        self.remove(key);
        let cas = self.next_cas();
        if let Some(d) = expires {
            self.deadlines.insert((d, cas), key.to_vec());
        }
        self.bytes += data.len();
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
            },
        );
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
                if let Some(it) = self.items.remove(&key) {
                    self.bytes -= it.data.len();
                }
            }
            self.stats.expired_unfetched += 1;
        }
        !self.deadlines.is_empty()
    }

    /// Whether an item of `nkey` key bytes, `flags` and `nbytes` value bytes is over
    /// [`ITEM_SIZE_MAX`].
    fn too_large(nkey: usize, flags: u32, nbytes: usize) -> bool {
        let overhead = ITEM_OVERHEAD + if flags != 0 { FLAGS_OVERHEAD } else { 0 };
        nkey + nbytes + overhead > ITEM_SIZE_MAX
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
        }
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
        let mut store = lock(&self.store);
        store.stats.curr_connections += 1;
        store.stats.total_connections += 1;
        self.counted = true;
        Ok(())
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
            let found = store.live(msg.key, now).is_some();
            if found {
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
                    store.items.clear();
                    store.deadlines.clear();
                    store.bytes = 0;
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
        // Nothing to log more or less: the level is accepted and has no effect.
        reply(cx, msg.noreply, memcache::Ok {})
    }

    fn on_stats(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Stats<'_>) -> Result {
        let mut args = msg.args.iter();
        match args.next() {
            None => self.general_stats(cx),
            Some(b"reset") => {
                {
                    let mut store = lock(&self.store);
                    let curr = store.stats.curr_connections;
                    store.stats = Stats {
                        curr_connections: curr,
                        ..Stats::default()
                    };
                }
                cx.send(memcache::Reset {})
            }
            // Other groups (items, slabs, settings...) are memcached internals.
            Some(_) => cx.send(memcache::Error {}),
        }
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
        // The decoder expected a separator: most often where the line ended (an argument
        // is missing: `ERROR`). A number run into other characters (`5x`) gives the same
        // error, and gets `ERROR` too where memcached says `CLIENT_ERROR bad command line
        // format`: the error does not say which.
        let missing =
            matches!(err.kind(), DecodeErrorKind::Invalid { what } if *what == "a space or a tab");
        match *err.kind() {
            DecodeErrorKind::Oversize {
                what: Limit::Bytes,
                size,
                ..
            } => {
                if size.is_some_and(|s| s > i32::MAX as u64 - 2) {
                    // memcached refuses such a length as a number; the data cannot be
                    // skipped in any reasonable time.
                    cx.close();
                    return client_error(cx, false, BAD_FORMAT);
                }
                // The decoder skips the data block as it arrives.
                cx.send(memcache::ServerError { message: TOO_LARGE })
            }
            DecodeErrorKind::Oversize { .. } => {
                cx.close();
                client_error(cx, false, b"line too long")
            }
            // Answered by the description's policy.
            DecodeErrorKind::Unknown | DecodeErrorKind::NotAllowed { .. } => Ok(()),
            DecodeErrorKind::Literal { .. } if storage => {
                // Not `\r\n` after the data block: as memcached, nothing is stored, the
                // block and two bytes more go by, and what follows is read as commands.
                client_error(cx, false, b"bad data chunk")
            }
            _ => match message {
                "Version" => cx.send(memcache::VersionReply {
                    version: VERSION.as_bytes(),
                }),
                "Quit" => {
                    cx.close();
                    Ok(())
                }
                // `stats ` (libmemcached ends the line with a space): the general group.
                "Stats" if err.offset() == "stats".len() => self.general_stats(cx),
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
                        client_error(cx, false, BAD_EXPTIME)
                    }
                }
                "Incr" | "Decr"
                    if matches!(err.kind(), DecodeErrorKind::OutOfRange { .. })
                        || matches!(err.kind(), DecodeErrorKind::Invalid { what } if what.contains("integer")) =>
                {
                    client_error(cx, false, BAD_DELTA)
                }
                "Delete" if !missing => client_error(cx, false, DELETE_USAGE),
                "Verbosity"
                    if matches!(err.kind(), DecodeErrorKind::OutOfRange { .. })
                        || matches!(err.kind(), DecodeErrorKind::Invalid { what } if what.contains("integer")) =>
                {
                    client_error(cx, false, BAD_FORMAT)
                }
                _ if storage
                    && (matches!(err.kind(), DecodeErrorKind::OutOfRange { .. })
                        || matches!(err.kind(), DecodeErrorKind::Invalid { what } if what.contains("integer"))) =>
                {
                    client_error(cx, false, BAD_FORMAT)
                }
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
        let expires = touch.map(|t| deadline(t, now));
        let mut touched = false;
        for key in keys {
            store.stats.cmd_get += 1;
            if touch.is_some() {
                store.stats.cmd_touch += 1;
            }
            if store.live(key, now).is_none() {
                store.stats.get_misses += 1;
                if touch.is_some() {
                    store.stats.touch_misses += 1;
                }
                continue;
            }
            store.stats.get_hits += 1;
            if let Some(e) = expires {
                store.touch(key, e);
                store.stats.touch_hits += 1;
                touched |= e.is_some();
            }
            let Some(item) = store.items.get(key) else {
                continue;
            };
            if self.pending.is_empty() && !cx.output_full() {
                cx.send(memcache::Value {
                    key,
                    flags: item.flags,
                    unique: with_cas.then_some(item.cas),
                    data: &item.data,
                })?;
            } else {
                // No room now: the value as it is now, for later.
                self.pending.push_back(PendingValue {
                    key: key.to_vec(),
                    flags: item.flags,
                    cas: item.cas,
                    data: item.data.clone(),
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
            store.stats.cmd_set += 1;
            if Store::too_large(key.len(), flags, data.len()) {
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
                .map(|it| (it.cas, it.flags, it.expires));
            match (mode, existing) {
                (Mode::Set, _) | (Mode::Add, None) | (Mode::Replace, Some(_)) => {
                    store.link(key, data.to_vec(), flags, expires);
                    Outcome::Stored(expires.is_some())
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
                        store.link(key, joined, old_flags, old_expires);
                        Outcome::Stored(old_expires.is_some())
                    }
                }
                (Mode::Cas(_), None) => {
                    store.stats.cas_misses += 1;
                    Outcome::NotFound
                }
                (Mode::Cas(unique), Some((cas, _, _))) => {
                    if unique == cas {
                        store.stats.cas_hits += 1;
                        store.link(key, data.to_vec(), flags, expires);
                        Outcome::Stored(expires.is_some())
                    } else {
                        store.stats.cas_badval += 1;
                        Outcome::Exists
                    }
                }
            }
        };
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
                        store.link(key, text, flags, expires);
                        if incr {
                            store.stats.incr_hits += 1;
                        } else {
                            store.stats.decr_hits += 1;
                        }
                        Some(Some(value))
                    }
                },
            }
        };
        match result {
            None => reply(cx, noreply, memcache::NotFound {}),
            Some(None) => client_error(cx, noreply, NON_NUMERIC),
            Some(Some(value)) => reply(cx, noreply, memcache::Number { value }),
        }
    }

    fn general_stats(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        let (stats, items, bytes, uptime) = {
            let mut store = lock(&self.store);
            store.tick(Instant::now());
            (
                store.stats.clone(),
                store.items.len(),
                store.bytes,
                store.started.elapsed().as_secs(),
            )
        };
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let lines: [(&str, String); 29] = [
            ("pid", std::process::id().to_string()),
            ("uptime", uptime.to_string()),
            ("time", unix_now.to_string()),
            ("version", VERSION.to_string()),
            ("pointer_size", (usize::BITS).to_string()),
            ("curr_connections", stats.curr_connections.to_string()),
            ("total_connections", stats.total_connections.to_string()),
            ("cmd_get", stats.cmd_get.to_string()),
            ("cmd_set", stats.cmd_set.to_string()),
            ("cmd_flush", stats.cmd_flush.to_string()),
            ("cmd_touch", stats.cmd_touch.to_string()),
            ("get_hits", stats.get_hits.to_string()),
            ("get_misses", stats.get_misses.to_string()),
            ("expired_unfetched", stats.expired_unfetched.to_string()),
            ("delete_misses", stats.delete_misses.to_string()),
            ("delete_hits", stats.delete_hits.to_string()),
            ("incr_misses", stats.incr_misses.to_string()),
            ("incr_hits", stats.incr_hits.to_string()),
            ("decr_misses", stats.decr_misses.to_string()),
            ("decr_hits", stats.decr_hits.to_string()),
            ("cas_misses", stats.cas_misses.to_string()),
            ("cas_hits", stats.cas_hits.to_string()),
            ("cas_badval", stats.cas_badval.to_string()),
            ("touch_hits", stats.touch_hits.to_string()),
            ("touch_misses", stats.touch_misses.to_string()),
            ("limit_maxbytes", (64u64 * 1024 * 1024).to_string()),
            ("bytes", bytes.to_string()),
            ("curr_items", items.to_string()),
            ("total_items", stats.total_items.to_string()),
        ];
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
        let conn = Connection::new(self.store.clone());
        ch.add_accepted(sock, addr, memcache::ServerChannel::new(conn))?;
        Ok(())
    }
}
