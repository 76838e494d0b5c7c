//! The keyspace of `resp-server` and its commands: strings, lists, sets, hashes and sorted
//! sets, expiry on the loop's timers, Redis's replies and error texts.

use super::*;

mod args;
mod blocking;
mod dump;
mod float;
mod hashes;
mod keys;
mod lists;
mod server;
mod sets;
mod sort;
mod strings;
#[cfg(test)]
mod tests;
mod transactions;
mod zsets;

use args::{expire_ms, invalid_expire, is_sync_mode, show};
pub use args::{glob_match, parse_i64, unknown_command};

/// A double as Redis writes it in a reply (C's `%.17g`; `inf`, `-inf`).
pub(in crate::resp_server) use zsets::format_score as format_double;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on reading commands.
    Continue,
    /// Close once the replies are sent (`QUIT`).
    Close,
    /// The command waits (a blocking pop found every list empty): no reply yet, and the
    /// requests after it wait too. The wait ends when another client's command serves it,
    /// at `deadline` ([`Store::time_out`]; `None`: never), or by `CLIENT UNBLOCK`; the
    /// reply is then taken with [`Store::take_reply`].
    Block {
        /// When the wait times out.
        deadline: Option<Instant>,
    },
}

/// The per-connection state commands see: the client's id and name, and its
/// transaction (`MULTI`, `WATCH`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// `CLIENT ID`.
    pub id: u64,
    /// `CLIENT SETNAME`/`GETNAME`.
    pub name: Option<Vec<u8>>,
    /// The client switched to RESP3 (`HELLO 3`).
    pub resp3: bool,
    /// The commands queued after `MULTI`, and the keys watched.
    tx: transactions::Tx,
}

/// A stored string, or a list element: shared with the replies that are still sending it
/// (a large `MGET` or `LRANGE` is produced as the client reads it), so a reply takes the
/// value as it was when the command ran without copying it. Writes copy it only while a
/// reply holds it.
pub type Blob = Rc<Vec<u8>>;

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Str(Blob),
    List(VecDeque<Blob>),
    /// Members in the order they were added (removal moves the last into the gap), so a
    /// random member is one index away.
    Set(IndexSet<Vec<u8>>),
    /// Fields in the order they were added.
    Hash(IndexMap<Vec<u8>, Vec<u8>>),
    ZSet(zsets::ZSet),
}

/// A new [`Blob`] holding a copy of `data`.
fn blob(data: &[u8]) -> Blob {
    Rc::new(data.to_vec())
}

impl Value {
    fn cost(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => l.iter().map(|e| e.len() + ELEMENT_OVERHEAD).sum(),
            Value::Set(m) => m.iter().map(|e| e.len() + ELEMENT_OVERHEAD).sum(),
            Value::Hash(h) => h
                .iter()
                .map(|(f, v)| f.len() + v.len() + ELEMENT_OVERHEAD)
                .sum(),
            Value::ZSet(z) => z.cost(),
        }
    }

    /// Whether it is a collection with nothing in it (Redis keeps no such key).
    pub(super) fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Set(m) => m.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::ZSet(z) => z.is_empty(),
        }
    }

    /// The name `TYPE` answers.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
            Value::ZSet(_) => "zset",
        }
    }
}

#[derive(Debug)]
pub(super) struct Entry {
    value: Value,
    /// The deadline and its sequence number in `Store::deadlines`.
    expires: Option<(Instant, u64)>,
    /// The deadline in milliseconds since the Unix epoch, as it was given (`EXPIRETIME`
    /// answers it exactly); meaningful while `expires` is set.
    expires_unix: i64,
    /// The estimated size of `value`.
    size: usize,
}

impl Entry {
    fn due(&self, now: Instant) -> bool {
        matches!(self.expires, Some((at, _)) if at <= now)
    }
}

/// Counters shown by `INFO`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    started: Instant,
    clients: u64,
    connections: u64,
    commands: u64,
    pub(super) expired: u64,
}

/// The keyspace (one database), shared by every connection of a loop as
/// [`SharedStore`].
///
/// ```
/// use std::time::Instant;
/// use asyncore_examples::resp_server::{Limits, Session, Store};
///
/// let mut store = Store::new(Limits::default());
/// let mut session = Session::default();
/// let mut out = Vec::new();
/// store.execute(&[b"SET", b"k", b"41"], &mut session, Instant::now(), &mut out);
/// store.execute(&[b"INCR", b"k"], &mut session, Instant::now(), &mut out);
/// store.execute(&[b"get"], &mut session, Instant::now(), &mut out);
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "+OK\r\n:42\r\n-ERR wrong number of arguments for 'get' command\r\n"
/// );
/// ```
#[derive(Debug)]
pub struct Store {
    /// Hashed with foldhash (seeded per process), faster than the
    /// standard library's SipHash on short keys.
    data: HashMap<Vec<u8>, Entry, foldhash::fast::RandomState>,
    deadlines: BTreeMap<(Instant, u64), Vec<u8>>,
    next_seq: u64,
    pub(super) armed: Option<(Instant, asyncore_runtime::TimerId)>,
    used: usize,
    pub(super) limits: Limits,
    pub(super) stats: Stats,
    next_client: u64,
    /// The state of the generator behind `RANDOMKEY`.
    rng: u64,
    /// Clients in blocking commands.
    blocking: blocking::Blocking,
    /// How many `execute` calls are running (more than one: a command run by another).
    nesting: u32,
    /// When the last command ended (the clock read for its `INFO commandstats` time):
    /// the start of the next one the same connection sent in the same read
    /// ([`last_ended`](Self::last_ended)), so a pipelined command reads the clock once.
    ended: Option<Instant>,
    /// The configuration and counters of the server commands.
    server: server::ServerState,
}

/// A [`Store`] shared by the connections of one loop.
pub type SharedStore = Rc<RefCell<Store>>;

/// One command of the table: name, arity as Redis counts it (positive: exactly that
/// many arguments with the name; negative: at least), and whether it may grow the store.
pub(super) struct Spec {
    name: &'static str,
    arity: i32,
    grows: bool,
}

pub(super) const fn spec(name: &'static str, arity: i32, grows: bool) -> Spec {
    Spec { name, arity, grows }
}

/// The command tables of the families, as Redis 7.0 declares their arity.
pub(super) const FAMILIES: &[&[Spec]] = &[
    server::COMMANDS,
    strings::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    blocking::COMMANDS,
    sort::COMMANDS,
    transactions::COMMANDS,
    sets::COMMANDS,
    hashes::COMMANDS,
    zsets::COMMANDS,
    dump::COMMANDS,
];

/// A family of commands: which `run_*` runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Server,
    Strings,
    Keys,
    Lists,
    Blocking,
    Sort,
    Transactions,
    Sets,
    Hashes,
    ZSets,
    Dump,
}

/// The family of each table of [`FAMILIES`], in the same order.
const RUNNERS: [Family; 11] = [
    Family::Server,
    Family::Strings,
    Family::Keys,
    Family::Lists,
    Family::Blocking,
    Family::Sort,
    Family::Transactions,
    Family::Sets,
    Family::Hashes,
    Family::ZSets,
    Family::Dump,
];

const _: () = assert!(FAMILIES.len() == RUNNERS.len());

/// A family's table of subcommands: each container command with its subcommands.
pub(super) type Subcommands = &'static [(&'static str, &'static [Spec])];

/// The subcommands of the container commands, with the family that runs them (a
/// container's subcommands may come from several families).
pub(super) const CONTAINERS: &[(Family, Subcommands)] = &[
    (Family::Server, server::SUBCOMMANDS),
    (Family::Keys, keys::SUBCOMMANDS),
    (Family::Blocking, blocking::SUBCOMMANDS),
];

/// The command named `name` (lowercase), from the families' tables, with its family.
fn lookup(name: &[u8]) -> Option<(Family, &'static Spec, u16)> {
    // A walk through the tables: names of different lengths differ at the first
    // comparison, which makes it cheaper than hashing the name.
    let mut id = 0usize;
    for (table, family) in FAMILIES.iter().zip(RUNNERS) {
        if let Some(at) = table.iter().position(|s| s.name.as_bytes() == name) {
            return Some((family, &table[at], u16::try_from(id + at).ok()?));
        }
        id += table.len();
    }
    None
}

/// The number of the command `name` (lowercase): its place in the tables of
/// [`FAMILIES`], one after the other; `INFO commandstats` keeps its counters there.
pub(super) fn command_id(name: &str) -> Option<u16> {
    lookup(name.as_bytes()).map(|(_, _, id)| id)
}

/// The name of the command numbered `id` ([`command_id`]).
pub(super) fn command_name(id: u16) -> Option<&'static str> {
    FAMILIES
        .iter()
        .flat_map(|t| t.iter())
        .nth(usize::from(id))
        .map(|s| s.name)
}

/// The subcommand `sub` (lowercase) of the container `name`, with its family.
fn subcommand(name: &str, sub: &str) -> Option<(Family, &'static Spec)> {
    CONTAINERS.iter().find_map(|(family, tables)| {
        tables
            .iter()
            .filter(|(c, _)| *c == name)
            .flat_map(|(_, subs)| subs.iter())
            .find(|s| s.name == sub)
            .map(|s| (*family, s))
    })
}

/// Whether `name` has subcommands.
fn is_container(name: &str) -> bool {
    CONTAINERS
        .iter()
        .any(|(_, tables)| tables.iter().any(|(c, _)| *c == name))
}

/// How many commands there are (`COMMAND COUNT`).
pub(super) fn command_count() -> usize {
    FAMILIES.iter().map(|f| f.len()).sum()
}

pub(super) fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= arity.unsigned_abs() as usize
    }
}

/// ASCII-lowercase `name` into `buf` when it fits (longer names are no command).
pub(super) fn lower<'b>(name: &[u8], buf: &'b mut [u8; 16]) -> Option<&'b str> {
    std::str::from_utf8(lower_bytes(name, buf)?).ok()
}

/// [`lower`], as bytes: what a command's name is compared with, with no UTF-8 check.
fn lower_bytes<'b>(name: &[u8], buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    if name.len() > buf.len() {
        return None;
    }
    let b = &mut buf[..name.len()];
    b.copy_from_slice(name);
    b.make_ascii_lowercase();
    Some(b)
}

/// Milliseconds since the Unix epoch, as Redis's `mstime()`.
pub(super) fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The instant `ms` milliseconds after `now` (far in the future if it cannot be
/// represented).
pub(super) fn after(now: Instant, ms: u64) -> Instant {
    now.checked_add(Duration::from_millis(ms))
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

/// How a `SET` sets the time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ttl {
    /// Remove it.
    Clear,
    /// Keep it (`KEEPTTL`).
    Keep,
    /// Expire at this many milliseconds after the Unix epoch.
    At(i64),
}

impl Store {
    /// An empty store.
    pub fn new(limits: Limits) -> Store {
        Store {
            data: HashMap::default(),
            deadlines: BTreeMap::new(),
            next_seq: 0,
            armed: None,
            used: 0,
            limits,
            stats: Stats {
                started: Instant::now(),
                clients: 0,
                connections: 0,
                commands: 0,
                expired: 0,
            },
            next_client: 0,
            rng: {
                use std::hash::{BuildHasher, Hasher};
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(0x9e37_79b9_7f4a_7c15);
                h.finish() | 1
            },
            blocking: blocking::Blocking::default(),
            nesting: 0,
            ended: None,
            server: server::ServerState::default(),
        }
    }

    /// The next number of a xorshift generator (for `RANDOMKEY`).
    pub(super) fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// A new store behind `Rc<RefCell<..>>`.
    pub fn shared(limits: Limits) -> SharedStore {
        Rc::new(RefCell::new(Store::new(limits)))
    }

    /// The number of keys (including keys that are due but not yet removed).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The number of keys with a time to live.
    pub fn volatile(&self) -> usize {
        self.deadlines.len()
    }

    /// The estimated memory in use, in bytes.
    pub fn used_memory(&self) -> usize {
        self.used
    }

    /// The earliest deadline of a key, if any key has a time to live.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.keys().next().map(|(at, _)| *at)
    }

    /// Registers a new connection; its session.
    pub fn connect(&mut self) -> Session {
        self.next_client += 1;
        self.stats.clients += 1;
        self.stats.connections += 1;
        Session {
            id: self.next_client,
            ..Session::default()
        }
    }

    /// Unregisters a connection.
    pub fn disconnect(&mut self) {
        self.stats.clients = self.stats.clients.saturating_sub(1);
    }

    /// Removes the keys whose deadline is at or before `now`, at most `budget` of them;
    /// the number removed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use asyncore_examples::resp_server::{Limits, Session, Store};
    ///
    /// let mut store = Store::new(Limits::default());
    /// let now = Instant::now();
    /// store.execute(&[b"SET", b"k", b"v", b"PX", b"10"], &mut Session::default(), now, &mut Vec::new());
    /// assert_eq!(store.expire_due(now, 100), 0);
    /// assert_eq!(store.expire_due(now + Duration::from_millis(10), 100), 1);
    /// assert!(store.is_empty());
    /// ```
    pub fn expire_due(&mut self, now: Instant, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            let Some(entry) = self.deadlines.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            if let Some(e) = self.data.remove(&key) {
                self.used = self.used.saturating_sub(key.len() + KEY_OVERHEAD + e.size);
                self.stats.expired += 1;
            }
            removed += 1;
        }
        removed
    }

    /// Arms the loop's timer for the earliest deadline, if it is not armed for that
    /// deadline or an earlier one already. When the timer fires, the due keys are
    /// removed and the timer is armed again.
    pub fn arm(shared: &SharedStore, map: &mut Map) {
        let mut store = shared.borrow_mut();
        // `DEBUG SET-ACTIVE-EXPIRE 0`: keys expire only when accessed.
        let next = store.next_deadline().filter(|_| store.server.active_expire);
        let Some(next) = next else {
            if let Some((_, id)) = store.armed.take() {
                map.cancel_timer(id);
            }
            return;
        };
        if let Some((at, id)) = store.armed {
            if at <= next {
                return;
            }
            map.cancel_timer(id);
        }
        let weak = Rc::downgrade(shared);
        let id = map.call_at(next, move |map| {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            {
                let mut store = shared.borrow_mut();
                store.armed = None;
                let now = Instant::now();
                if store.expire_due(now, EXPIRE_BUDGET) == EXPIRE_BUDGET {
                    // More may be due: come back on the next pass rather than now.
                    let id = map.call_at(now, {
                        let weak = Rc::downgrade(&shared);
                        move |map| {
                            if let Some(shared) = weak.upgrade() {
                                Store::arm(&shared, map);
                            }
                        }
                    });
                    store.armed = Some((now, id));
                    return;
                }
            }
            Store::arm(&shared, map);
        });
        store.armed = Some((next, id));
    }

    /// The live entry of `key`: a due key is removed and reads as missing.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        // A key with a deadline is in `deadlines`: with none, no key can be due and one
        // lookup does (Redis's `getExpire` checks its `expires` the same way).
        if self.deadlines.is_empty() {
            return self.data.get_mut(key);
        }
        let due = self.data.get(key)?.due(now);
        if due {
            self.remove(key);
            self.stats.expired += 1;
            return None;
        }
        self.data.get_mut(key)
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (key, e) = self.data.remove_entry(key)?;
        if let Some(d) = e.expires {
            self.deadlines.remove(&d);
        }
        self.used = self.used.saturating_sub(key.len() + KEY_OVERHEAD + e.size);
        Some(e)
    }

    /// Counts `grew` more and `freed` fewer bytes in the estimate of `key`'s value, and
    /// removes the key if its collection is now empty (Redis keeps no empty set, hash,
    /// sorted set or list).
    fn resize_collection(&mut self, key: &[u8], grew: usize, freed: usize) {
        let Some(e) = self.data.get_mut(key) else {
            return;
        };
        e.size = (e.size + grew).saturating_sub(freed);
        self.used = (self.used + grew).saturating_sub(freed);
        if e.value.is_empty_collection() {
            self.remove(key);
        }
    }

    /// The value at `key` as `pick` takes it: `Ok(None)` when there is no such key,
    /// `Err(())` when it holds a value of another type (`WRONGTYPE`).
    fn typed<T>(
        &mut self,
        key: &[u8],
        now: Instant,
        pick: fn(&Value) -> Option<&T>,
    ) -> std::result::Result<Option<&T>, ()> {
        match self.live(key, now) {
            None => Ok(None),
            Some(e) => pick(&e.value).map(Some).ok_or(()),
        }
    }

    /// Stores `value` under `key`; the old time to live is kept with `keep_ttl`.
    /// Stores the string `data` at `key`, as [`put`](Self::put) does. A string already
    /// there that no reply holds takes the new bytes in place when they fit, so
    /// overwriting a key allocates nothing.
    fn put_str(&mut self, key: &[u8], data: &[u8], keep_ttl: bool, now: Instant) {
        let reused = match self.live(key, now) {
            Some(Entry {
                value: Value::Str(blob),
                size,
                ..
            }) => match Rc::get_mut(blob) {
                // Not a buffer much larger than the value: that memory would be kept.
                Some(bytes)
                    if bytes.capacity() >= data.len()
                        && bytes.capacity() <= 2 * data.len() + 64 =>
                {
                    bytes.clear();
                    bytes.extend_from_slice(data);
                    let old = std::mem::replace(size, data.len());
                    self.used = self.used.saturating_sub(old) + data.len();
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !reused {
            self.put(key, Value::Str(blob(data)), keep_ttl, now);
        } else if !keep_ttl {
            self.set_deadline(key, None);
        }
    }

    fn put(&mut self, key: &[u8], value: Value, keep_ttl: bool, now: Instant) {
        let size = value.cost();
        let clear = match self.live(key, now) {
            Some(e) => {
                let old = std::mem::replace(&mut e.size, size);
                e.value = value;
                self.used = self.used.saturating_sub(old) + size;
                !keep_ttl
            }
            None => {
                self.used += key.len() + KEY_OVERHEAD + size;
                self.data.insert(
                    key.to_vec(),
                    Entry {
                        value,
                        expires: None,
                        expires_unix: 0,
                        size,
                    },
                );
                // A new key: clients waiting on it may be served.
                self.blocking.signal(key);
                false
            }
        };
        if clear {
            self.set_deadline(key, None);
        }
    }

    /// Sets or removes the deadline of an existing key: the instant, and the same in
    /// milliseconds since the Unix epoch.
    fn set_deadline(&mut self, key: &[u8], at: Option<(Instant, i64)>) {
        if at.is_none() && self.deadlines.is_empty() {
            // No key has a deadline to remove.
            return;
        }
        let seq = self.next_seq;
        let Some(e) = self.data.get_mut(key) else {
            return;
        };
        if let Some(old) = e.expires.take() {
            self.deadlines.remove(&old);
        }
        if let Some((at, unix)) = at {
            self.next_seq += 1;
            e.expires = Some((at, seq));
            e.expires_unix = unix;
            self.deadlines.insert((at, seq), key.to_vec());
        }
    }

    /// Sets the deadline of an existing key to `unix` milliseconds after the epoch;
    /// a deadline in the past removes the key.
    fn expire_at_unix(&mut self, key: &[u8], unix: i64, now: Instant, now_unix: i64) {
        if unix <= now_unix {
            self.remove(key);
        } else {
            let at = after(now, (unix - now_unix) as u64);
            self.set_deadline(key, Some((at, unix)));
        }
    }

    /// Milliseconds left for a key with a deadline; `None` without one.
    fn ms_left(e: &Entry, now: Instant) -> Option<i64> {
        e.expires
            .map(|(at, _)| at.saturating_duration_since(now).as_millis() as i64)
    }

    fn over_memory(&self) -> bool {
        self.limits.max_memory != 0 && self.used > self.limits.max_memory
    }

    /// When the last command ended: a caller running commands back to back can take it
    /// as the next one's start instead of reading the clock again.
    ///
    /// ```
    /// use asyncore_examples::resp_server::{Limits, Session, Store};
    /// use std::time::Instant;
    /// let mut store = Store::new(Limits { max_memory: 1 << 20, output_limit: 1 << 20 });
    /// assert!(store.last_ended().is_none());
    /// let start = Instant::now();
    /// let mut out = Vec::new();
    /// store.execute(&[b"PING"], &mut Session::default(), start, &mut out);
    /// assert!(store.last_ended().is_some_and(|end| end >= start));
    /// ```
    pub fn last_ended(&self) -> Option<Instant> {
        self.ended
    }

    /// Runs one command and writes its replies to `out`. `now` is the time that counts
    /// for expiry (the caller's clock, so tests can move it).
    ///
    /// A blocking command that must wait answers nothing and returns [`Flow::Block`]. A
    /// command run inside another (a transaction's) never blocks, and the clients its
    /// writes can serve are served when the outer command is done.
    pub fn execute(
        &mut self,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Flow {
        self.execute_nested(args, session, now, out)
    }

    /// [`execute`](Self::execute) for a command the client sent or one run by another
    /// (the commands of `EXEC`): its replies are counted (`INFO commandstats`,
    /// `errorstats`) on their way to `out`.
    pub(super) fn execute_nested(
        &mut self,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut dyn Replies,
    ) -> Flow {
        let mut out = server::Counted::new(out);
        self.nesting += 1;
        let flow = self.execute_command(args, session, now, &mut out);
        self.nesting -= 1;
        if self.nesting == 0 {
            self.server.errors_sent(&out.errors);
            if self.blocking.has_ready() {
                self.serve_ready(now);
            }
        }
        flow
    }

    fn execute_command(
        &mut self,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut server::Counted<'_, dyn Replies + '_>,
    ) -> Flow {
        let Some(&name) = args.first() else {
            return Flow::Continue;
        };
        self.stats.commands += 1;
        let mut buf = [0u8; 16];
        let Some((mut family, spec, id)) = lower_bytes(name, &mut buf).and_then(lookup) else {
            session.tx.refuse();
            out.error(&unknown_command(name, &args[1..]));
            return Flow::Continue;
        };
        let mut full = std::borrow::Cow::Borrowed(spec.name);
        // The counters of a subcommand are kept by its full name instead.
        let mut stats_id = Some(id);
        let mut arity = spec.arity;
        if is_container(spec.name) {
            if let Some(&sub) = args.get(1) {
                let mut sbuf = [0u8; 16];
                let found = lower(sub, &mut sbuf).and_then(|n| subcommand(spec.name, n));
                match found {
                    Some((f, s)) => {
                        full = format!("{}|{}", spec.name, s.name).into();
                        stats_id = None;
                        arity = s.arity;
                        family = f;
                    }
                    None => {
                        session.tx.refuse();
                        self.server.rejected(spec.name);
                        out.error(&format!(
                            "ERR unknown subcommand '{}'. Try {} HELP.",
                            show(sub, 128),
                            spec.name.to_ascii_uppercase()
                        ));
                        return Flow::Continue;
                    }
                }
            }
        }
        if !arity_ok(arity, args.len()) {
            session.tx.refuse();
            self.server.rejected(&full);
            out.error(&format!(
                "ERR wrong number of arguments for '{full}' command"
            ));
            return Flow::Continue;
        }
        if spec.grows && self.over_memory() {
            session.tx.refuse();
            self.server.rejected(&full);
            out.error(OOM);
            return Flow::Continue;
        }
        // After `MULTI`, the client's commands wait for `EXEC`.
        if self.nesting == 1 && session.tx.queuing() && !transactions::runs_at_once(spec.name) {
            self.queue(args, session, out);
            return Flow::Continue;
        }
        // Only a blocking command the client sent may block; one run by another may not.
        self.blocking.may_block =
            self.nesting == 1 && spec.name.starts_with('b') && blocking::is_blocking(spec.name);
        // `now` is when the command started (the caller reads the clock just before).
        let errors = out.errors.len();
        let flow = self.run_in(family, &full, args, session, now, out);
        let end = Instant::now();
        self.ended = Some(end);
        self.server.called(
            stats_id,
            &full,
            end.saturating_duration_since(now),
            out.errors.len() > errors,
        );
        flow
    }

    /// Runs `name` with its family's runner.
    fn run_in(
        &mut self,
        family: Family,
        name: &str,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Flow {
        match self.run_family(family, name, args, session, now, out) {
            Some(flow) => flow,
            // A table names a command its family does not run: every family is tried.
            None => self.run(name, args, session, now, out),
        }
    }

    /// Runs `name` if `family` runs it.
    fn run_family(
        &mut self,
        family: Family,
        name: &str,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match family {
            Family::Server => self.run_server(name, args, session, now, out),
            Family::Strings => self.run_strings(name, args, now, out),
            Family::Keys => self.run_keys(name, args, now, out),
            Family::Lists => self.run_lists(name, args, now, out),
            Family::Blocking => self.run_blocking(name, args, session, now, out),
            Family::Sort => self.run_sort(name, args, now, out),
            Family::Transactions => self.run_transactions(name, args, session, now, out),
            Family::Sets => self.run_sets(name, args, now, out),
            Family::Hashes => self.run_hashes(name, args, now, out),
            Family::ZSets => self.run_zsets(name, args, now, out),
            Family::Dump => self.run_dump(name, args, now, out),
        }
    }

    fn run(
        &mut self,
        name: &str,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Flow {
        let flow = self
            .run_server(name, args, session, now, out)
            .or_else(|| self.run_strings(name, args, now, out))
            .or_else(|| self.run_keys(name, args, now, out))
            .or_else(|| self.run_lists(name, args, now, out))
            .or_else(|| self.run_blocking(name, args, session, now, out))
            .or_else(|| self.run_sort(name, args, now, out))
            .or_else(|| self.run_transactions(name, args, session, now, out))
            .or_else(|| self.run_sets(name, args, now, out))
            .or_else(|| self.run_hashes(name, args, now, out))
            .or_else(|| self.run_zsets(name, args, now, out))
            .or_else(|| self.run_dump(name, args, now, out));
        flow.unwrap_or_else(|| {
            out.error(&unknown_command(args[0], &args[1..]));
            Flow::Continue
        })
    }
}
