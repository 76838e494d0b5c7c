//! The `kv` protocol of `protocols/descriptions/kv.aproto`: binary frames (a 4-byte
//! big-endian length, then an opcode byte) carrying `Get`, `Put` and `Del` requests, and
//! `Found`, `NotFound`, `Ok` and `Failed` replies. [`KvServer`] keeps the keys in memory;
//! [`KvClient`] sends requests pipelined and collects the replies.
//!
//! Bad input: a frame over 1 MiB, or a `Put` whose key length runs past its frame, gets a
//! `Failed` reply and the connection is closed (the description's `close` policy); a frame
//! with an unknown opcode (or none) gets a `Failed` reply and is skipped.
//!
//! Output is bounded: the generated channel stops taking requests while the replies
//! waiting to be sent are over its high-water mark, and goes on as they drain, so
//! pipelined `Get`s of large values are answered as the client reads them. As a last
//! resort, a connection whose replies waiting to be sent (those of the current read
//! included) would pass [`OUTPUT_LIMIT`] gets `Failed` and is closed. The client keeps at
//! most [`GETS_IN_FLIGHT`] `Get`s unanswered.
//!
//! ```no_run
//! use asyncore_examples::kv::{exchange, Reply, Request};
//! use std::time::Duration;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let replies = exchange(
//!     "127.0.0.1:7007".parse()?,
//!     Default::default(),
//!     vec![Request::Put(b"k".to_vec(), b"v".to_vec()), Request::Get(b"k".to_vec())],
//!     Duration::from_secs(5),
//! )?;
//! assert_eq!(replies, [Reply::Ok, Reply::Found(b"v".to_vec())]);
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use asyncore_runtime::wire::DecodeError;
use asyncore_runtime::{
    dispatcher, protocol, Addr, Backend, Channel, Dispatcher, Map, Result, Socket,
};

protocol!(pub mod kv = "../protocols/descriptions/kv.aproto");

/// The most value and key bytes a server holds; a `Put` beyond gets `Failed`.
pub const MAX_STORE_BYTES: usize = 256 * 1024 * 1024;

/// How much a client queues for sending before it waits for replies.
pub const SEND_WINDOW: usize = 256 * 1024;

/// The most reply bytes a server connection may have waiting to be sent.
pub const OUTPUT_LIMIT: usize = 16 * 1024 * 1024;

/// The most `Get` requests a client leaves unanswered (each reply may be 1 MiB).
pub const GETS_IN_FLIGHT: usize = 8;

/// The keys and values of a server.
#[derive(Debug, Default)]
pub struct KvStore {
    map: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl KvStore {
    /// The number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Stores `value` under `key`; false (and nothing changes) if the store would go
    /// over [`MAX_STORE_BYTES`].
    ///
    /// ```
    /// use asyncore_examples::kv::KvStore;
    /// let mut s = KvStore::default();
    /// assert!(s.put(b"k", b"v"));
    /// assert_eq!(s.get(b"k"), Some(&b"v"[..]));
    /// assert!(s.remove(b"k"));
    /// assert!(!s.remove(b"k"));
    /// ```
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> bool {
        let old = self.map.get(key).map_or(0, |v| key.len() + v.len());
        let new = self.bytes - old + key.len() + value.len();
        if new > MAX_STORE_BYTES {
            return false;
        }
        self.bytes = new;
        self.map.insert(key.to_vec(), value.to_vec());
        true
    }

    /// Removes `key`; false if it was absent.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(v) => {
                self.bytes -= key.len() + v.len();
                true
            }
            None => false,
        }
    }
}

/// A [`KvStore`] shared by the connections of every loop.
pub type SharedKvStore = Arc<Mutex<KvStore>>;

fn lock(store: &SharedKvStore) -> MutexGuard<'_, KvStore> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// One client connection: the handler of the kv protocol's server side.
#[derive(Debug)]
pub struct KvConnection {
    store: SharedKvStore,
}

impl KvConnection {
    /// A connection to `store`.
    pub fn new(store: SharedKvStore) -> KvConnection {
        KvConnection { store }
    }
}

/// Whether a reply of `size` bytes fits under [`OUTPUT_LIMIT`] with the replies already
/// waiting to be sent (those of this read included).
fn fits(cx: &kv::ServerCx<'_, '_>, size: usize) -> bool {
    cx.waiting_output() + size <= OUTPUT_LIMIT
}

#[dispatcher(protocol = kv, role = server)]
impl KvConnection {
    fn on_open(&mut self, cx: &mut kv::ServerCx<'_, '_>) -> Result {
        cx.channel()
            .set_output_limits(asyncore_runtime::DEFAULT_HIGH_WATER, OUTPUT_LIMIT);
        Ok(())
    }

    fn on_get(&mut self, cx: &mut kv::ServerCx<'_, '_>, msg: kv::Get<'_>) -> Result {
        let store = self.store.clone();
        let store = lock(&store);
        match store.get(msg.key) {
            Some(value) if fits(cx, value.len() + 5) => cx.send(kv::Found { value }),
            Some(_) => {
                // Too much unread output: this client does not keep up.
                cx.close();
                cx.send(kv::Failed {
                    reason: b"output limit: too many replies waiting to be read",
                })
            }
            None => cx.send(kv::NotFound {}),
        }
    }

    fn on_put(&mut self, cx: &mut kv::ServerCx<'_, '_>, msg: kv::Put<'_>) -> Result {
        let stored = lock(&self.store).put(msg.key, msg.value);
        if stored {
            cx.send(kv::Ok {})
        } else {
            cx.send(kv::Failed {
                reason: b"store full",
            })
        }
    }

    fn on_del(&mut self, cx: &mut kv::ServerCx<'_, '_>, msg: kv::Del<'_>) -> Result {
        let removed = lock(&self.store).remove(msg.key);
        if removed {
            cx.send(kv::Ok {})
        } else {
            cx.send(kv::NotFound {})
        }
    }

    /// Says what was wrong before the description's policy skips the frame or closes.
    fn on_bad_input(&mut self, cx: &mut kv::ServerCx<'_, '_>, err: &DecodeError) {
        log::debug!("{err}");
        let reason = err.to_string();
        let _ = cx.send(kv::Failed {
            reason: reason.as_bytes(),
        });
    }
}

/// The listening channel: each accepted connection becomes a [`KvConnection`] to the
/// server's store.
#[derive(Debug, Default)]
pub struct KvServer {
    store: SharedKvStore,
}

impl KvServer {
    /// A server with an empty store of its own.
    pub fn new() -> Self {
        KvServer::default()
    }

    /// A server on `store` (shared with the other loops of a `--threads` server).
    pub fn with_store(store: SharedKvStore) -> Self {
        KvServer { store }
    }
}

impl Dispatcher for KvServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let conn = KvConnection::new(self.store.clone());
        ch.add_accepted(sock, addr, kv::ServerChannel::new(conn))?;
        Ok(())
    }
}

/// A request of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Fetch a key.
    Get(Vec<u8>),
    /// Store a value (key, value).
    Put(Vec<u8>, Vec<u8>),
    /// Remove a key.
    Del(Vec<u8>),
}

/// A reply of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The value of the key.
    Found(Vec<u8>),
    /// The key is absent.
    NotFound,
    /// Stored or removed.
    Ok,
    /// The request failed, for this reason.
    Failed(String),
}

/// What a client session left.
#[derive(Debug, Default)]
pub struct KvOutcome {
    /// The replies, in the order of the requests.
    pub replies: Vec<Reply>,
    /// Every request got its reply.
    pub complete: bool,
    /// The server closed the connection.
    pub closed: bool,
    /// Why the connection closed, when it was an error (a refused connection...).
    pub error: Option<String>,
}

/// The client side of one connection: sends the requests once connected, at most
/// [`SEND_WINDOW`] bytes and [`GETS_IN_FLIGHT`] `Get`s ahead of the replies, collects the
/// replies and closes the connection when the last one is in.
#[derive(Debug)]
pub struct KvClient {
    to_send: VecDeque<Request>,
    /// Whether each request sent and not answered is a `Get`, oldest first.
    waiting: VecDeque<bool>,
    outcome: Rc<RefCell<KvOutcome>>,
}

impl KvClient {
    /// A client that sends `requests`.
    pub fn new(requests: Vec<Request>) -> KvClient {
        KvClient {
            to_send: requests.into(),
            waiting: VecDeque::new(),
            outcome: Rc::default(),
        }
    }

    /// The replies and state, shared: readable after the loop ends.
    pub fn outcome(&self) -> Rc<RefCell<KvOutcome>> {
        self.outcome.clone()
    }

    /// Queues requests while the output is under the window.
    fn pump(&mut self, cx: &mut kv::ClientCx<'_, '_>) -> Result {
        let mut gets = self.waiting.iter().filter(|&&g| g).count();
        while cx.waiting_output() < SEND_WINDOW {
            let Some(req) = self.to_send.front() else {
                break;
            };
            let is_get = matches!(req, Request::Get(_));
            if is_get && gets >= GETS_IN_FLIGHT {
                break;
            }
            let Some(req) = self.to_send.pop_front() else {
                break;
            };
            gets += usize::from(is_get);
            match &req {
                Request::Get(key) => cx.send(kv::Get { key })?,
                Request::Put(key, value) => cx.send(kv::Put { key, value })?,
                Request::Del(key) => cx.send(kv::Del { key })?,
            }
            self.waiting.push_back(is_get);
        }
        if self.to_send.is_empty() && self.waiting.is_empty() {
            self.outcome.borrow_mut().complete = true;
            // The loop ends with its last channel.
            cx.close();
        }
        Ok(())
    }

    fn reply(&mut self, cx: &mut kv::ClientCx<'_, '_>, reply: Reply) -> Result {
        self.outcome.borrow_mut().replies.push(reply);
        self.waiting.pop_front();
        self.pump(cx)
    }
}

#[dispatcher(protocol = kv, role = client)]
impl KvClient {
    fn on_open(&mut self, cx: &mut kv::ClientCx<'_, '_>) -> Result {
        self.pump(cx)
    }

    fn on_found(&mut self, cx: &mut kv::ClientCx<'_, '_>, msg: kv::Found<'_>) -> Result {
        self.reply(cx, Reply::Found(msg.value.to_vec()))
    }

    fn on_not_found(&mut self, cx: &mut kv::ClientCx<'_, '_>, _msg: kv::NotFound) -> Result {
        self.reply(cx, Reply::NotFound)
    }

    fn on_ok(&mut self, cx: &mut kv::ClientCx<'_, '_>, _msg: kv::Ok) -> Result {
        self.reply(cx, Reply::Ok)
    }

    fn on_failed(&mut self, cx: &mut kv::ClientCx<'_, '_>, msg: kv::Failed<'_>) -> Result {
        let reason = String::from_utf8_lossy(msg.reason).into_owned();
        self.reply(cx, Reply::Failed(reason))
    }

    fn on_close(&mut self, cx: &mut kv::ClientCx<'_, '_>, reason: Option<&io::Error>) {
        let mut outcome = self.outcome.borrow_mut();
        outcome.closed = true;
        outcome.error = reason.map(|e| e.to_string());
        cx.channel().map().stop();
    }
}

/// Sends `requests` to the server at `addr` (pipelined), waits for every reply (at most
/// `timeout`) and returns them in order. An error if the connection fails, the server
/// closes first, or time runs out.
pub fn exchange(
    addr: SocketAddr,
    backend: Backend,
    requests: Vec<Request>,
    timeout: Duration,
) -> io::Result<Vec<Reply>> {
    let client = KvClient::new(requests);
    let outcome = client.outcome();
    let mut map = Map::new();
    map.connect(&Addr::from(addr), kv::ClientChannel::new(client))?;
    map.call_later(timeout, |map| map.stop());
    let r = map.run_with(Some(Duration::from_millis(100)), backend, None);
    map.close_all();
    r.map_err(|e| io::Error::other(e.to_string()))?;
    let outcome = std::mem::take(&mut *outcome.borrow_mut());
    if outcome.complete {
        Ok(outcome.replies)
    } else if let Some(e) = outcome.error {
        Err(io::Error::new(io::ErrorKind::ConnectionAborted, e))
    } else if outcome.closed {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the server closed the connection after {} replies",
                outcome.replies.len()
            ),
        ))
    } else {
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no reply to every request within {timeout:?}"),
        ))
    }
}

/// The requests named by command-line words: `get KEY`, `put KEY VALUE` (a VALUE of `-`
/// is `stdin`'s whole content, read by the caller and passed here), `del KEY`, any number
/// of them in a row.
///
/// ```
/// use asyncore_examples::kv::{requests_from_args, Request};
/// let words = ["put", "k", "v", "get", "k", "del", "k"].map(String::from);
/// let reqs = requests_from_args(&words, || Ok(Vec::new())).unwrap();
/// assert_eq!(reqs[0], Request::Put(b"k".to_vec(), b"v".to_vec()));
/// assert_eq!(reqs[1], Request::Get(b"k".to_vec()));
/// assert!(requests_from_args(&["put".to_string(), "k".to_string()], || Ok(Vec::new())).is_err());
/// ```
pub fn requests_from_args(
    words: &[String],
    mut stdin: impl FnMut() -> io::Result<Vec<u8>>,
) -> std::result::Result<Vec<Request>, String> {
    let mut out = Vec::new();
    let mut it = words.iter();
    let arg = |what: &str, verb: &str, it: &mut std::slice::Iter<'_, String>| {
        it.next()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| format!("`{verb}` needs a {what}"))
    };
    while let Some(verb) = it.next() {
        match verb.as_str() {
            "get" => out.push(Request::Get(arg("KEY", verb, &mut it)?)),
            "del" => out.push(Request::Del(arg("KEY", verb, &mut it)?)),
            "put" => {
                let key = arg("KEY", verb, &mut it)?;
                let value = arg("VALUE", verb, &mut it)?;
                let value = if value == b"-" {
                    stdin()
                        .map_err(|e| format!("cannot read the value from standard input: {e}"))?
                } else {
                    value
                };
                out.push(Request::Put(key, value));
            }
            other => {
                return Err(format!(
                    "unknown request `{other}`: use get KEY, put KEY VALUE or del KEY"
                ))
            }
        }
    }
    if out.is_empty() {
        return Err("no request: use get KEY, put KEY VALUE or del KEY".into());
    }
    Ok(out)
}
