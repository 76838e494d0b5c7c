//! Blocking list commands: `BLPOP`, `BRPOP`, `BLMPOP`, `BLMOVE`, `BRPOPLPUSH`, and
//! `CLIENT UNBLOCK`.
//!
//! A blocking command that finds a list to pop from answers as its non-blocking form.
//! When every key is missing, its client becomes a waiter on them: nothing is answered,
//! and [`Store::execute`] returns [`Flow::Block`] with the deadline; the connection holds
//! the requests after it until the wait ends.
//!
//! A command that creates a list at a key clients wait on (a push, `LMOVE`'s
//! destination, `RENAME`, `COPY`...) marks the key ready. After the command (after the
//! whole transaction, for one run inside another), the ready keys are served as Redis
//! 7.0 serves them: key by key in the order they became ready, each key's waiters in the
//! order they blocked (first blocked, first served), as long as the list has elements. A
//! waiter's move may make another key ready, served in the same round.
//!
//! A wait ends by being served, by its deadline ([`Store::time_out`]), by `CLIENT
//! UNBLOCK`, or by the client leaving ([`Store::forget_client`]). Its reply waits in the
//! store until the connection takes it ([`Store::take_reply`]); the connections to wake
//! are listed for the loop ([`Store::take_woken`]).

use asyncore_runtime::Token;

use super::lists::{parse_end, parse_mpop, MPop};
use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("blpop", -3, false),
    spec("brpop", -3, false),
    spec("blmpop", -5, false),
    spec("blmove", 6, true),
    spec("brpoplpush", 4, true),
];

/// Subcommands of container commands this family adds to.
pub(super) const SUBCOMMANDS: &[(&str, &[Spec])] = &[("client", &[spec("unblock", -3, false)])];

/// Whether `name` is one of the blocking commands: only they may block, and only when
/// they are the command the client sent (not inside another).
pub(super) fn is_blocking(name: &str) -> bool {
    COMMANDS.iter().any(|s| s.name == name)
}

/// Replies kept to be sent later: a waiter's answer.
#[derive(Debug, Default)]
pub(super) struct Recorded(Vec<Pending>);

impl Recorded {
    /// Sends the replies kept to `out`.
    fn replay(&self, out: &mut impl Replies) {
        for p in &self.0 {
            match p {
                Pending::Simple(t) => out.simple(t),
                Pending::Error(t) => out.error(t),
                Pending::Integer(v) => out.integer(*v),
                Pending::Shared(b) => out.shared_bulk(b),
                Pending::Bulk(d) => out.bulk(d),
                Pending::Nil => out.nil(),
                Pending::Array(n) => out.array(*n as usize),
                Pending::NilArray => out.nil_array(),
                Pending::Map(n) => out.map(*n as usize),
                Pending::Set(n) => out.set(*n as usize),
                Pending::Double(v) => out.double(*v),
                Pending::Verbatim(t) => out.verbatim(t),
            }
        }
    }
}

impl Replies for Recorded {
    fn simple(&mut self, text: &str) {
        self.0.push(Pending::Simple(text.to_string()));
    }
    fn error(&mut self, text: &str) {
        self.0.push(Pending::Error(text.replace(['\r', '\n'], " ")));
    }
    fn integer(&mut self, value: i64) {
        self.0.push(Pending::Integer(value));
    }
    fn bulk(&mut self, data: &[u8]) {
        self.0.push(Pending::Bulk(data.to_vec()));
    }
    fn nil(&mut self) {
        self.0.push(Pending::Nil);
    }
    fn array(&mut self, len: usize) {
        self.0
            .push(Pending::Array(u32::try_from(len).unwrap_or(u32::MAX)));
    }
    fn nil_array(&mut self) {
        self.0.push(Pending::NilArray);
    }
    fn shared_bulk(&mut self, data: &Blob) {
        self.0.push(Pending::Shared(data.clone()));
    }
    fn map(&mut self, pairs: usize) {
        self.0
            .push(Pending::Map(u32::try_from(pairs).unwrap_or(u32::MAX)));
    }
    fn set(&mut self, len: usize) {
        self.0
            .push(Pending::Set(u32::try_from(len).unwrap_or(u32::MAX)));
    }
    fn double(&mut self, value: f64) {
        self.0.push(Pending::Double(value));
    }
    fn verbatim(&mut self, text: &[u8]) {
        self.0.push(Pending::Verbatim(text.to_vec()));
    }
}

/// What a waiter does when a key it waits on gets elements.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// `BLPOP`/`BRPOP`: one element, answered `[key, element]`.
    Pop { front: bool },
    /// `BLMPOP`: up to `count` elements, answered `[key, [elements]]`.
    MPop { front: bool, count: usize },
    /// `BLMOVE`/`BRPOPLPUSH`: one element moved to `dst`, answered with the element.
    Move {
        dst: Vec<u8>,
        from_front: bool,
        to_front: bool,
    },
}

/// A client in a blocking command.
#[derive(Debug)]
struct Waiter {
    /// The keys it waits on, each once.
    keys: Vec<Vec<u8>>,
    op: Op,
    /// Its connection, to wake when the wait ends.
    token: Option<Token>,
}

/// The clients waiting in blocking commands, and the answers of those whose wait ended.
#[derive(Debug, Default)]
pub(super) struct Blocking {
    waiters: HashMap<u64, Waiter>,
    /// Each key's waiters, in the order they blocked.
    by_key: HashMap<Vec<u8>, VecDeque<u64>>,
    /// Keys created while clients wait on them, in order, each once.
    ready: Vec<Vec<u8>>,
    /// The answers of clients whose wait ended, until their connection takes them.
    done: HashMap<u64, Recorded>,
    /// The connections of clients whose wait ended, to wake.
    woken: Vec<Token>,
    /// Whether the command running may block: a blocking command the client sent.
    pub(super) may_block: bool,
}

impl Blocking {
    /// Marks `key` ready if clients wait on it (a list may have been created there).
    pub(super) fn signal(&mut self, key: &[u8]) {
        if !self.by_key.is_empty()
            && self.by_key.contains_key(key)
            && !self.ready.iter().any(|k| k == key)
        {
            self.ready.push(key.to_vec());
        }
    }

    /// Whether keys were made ready since they were last served.
    pub(super) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Makes `client` wait on `keys` (each once) to do `op`.
    fn add(&mut self, client: u64, keys: Vec<Vec<u8>>, op: Op) {
        self.remove(client);
        for k in &keys {
            self.by_key.entry(k.clone()).or_default().push_back(client);
        }
        self.waiters.insert(
            client,
            Waiter {
                keys,
                op,
                token: None,
            },
        );
    }

    /// Takes `client` out of the waiters and of its keys' queues.
    fn remove(&mut self, client: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&client)?;
        for k in &w.keys {
            if let Some(q) = self.by_key.get_mut(k) {
                q.retain(|&c| c != client);
                if q.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        Some(w)
    }

    /// Ends the wait of `client` with `reply`, its connection to be woken if `wake`;
    /// false if it was not waiting.
    fn finish(&mut self, client: u64, reply: Recorded, wake: bool) -> bool {
        let Some(w) = self.remove(client) else {
            return false;
        };
        self.done.insert(client, reply);
        if let (true, Some(t)) = (wake, w.token) {
            self.woken.push(t);
        }
        true
    }
}

/// Redis's `getTimeoutFromObjectOrReply` for seconds: a `long double`, times 1000 and
/// rounded up to whole milliseconds; 0 waits for ever. `Err` is the error to send.
fn parse_timeout(arg: &[u8]) -> Result<u64, &'static str> {
    let v = float::LongDouble::parse(arg).ok_or("ERR timeout is not a float or out of range")?;
    let ms = v.times_1000_ceil();
    if ms < 0 {
        return Err("ERR timeout is negative");
    }
    Ok(ms as u64)
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_blocking(
        &mut self,
        name: &str,
        args: &[&[u8]],
        session: &Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        let (keys, op, timeout) = match name {
            "blpop" | "brpop" => {
                let timeout = match parse_timeout(args[args.len() - 1]) {
                    Ok(t) => t,
                    Err(e) => {
                        out.error(e);
                        return Some(Flow::Continue);
                    }
                };
                let front = name == "blpop";
                let keys = &args[1..args.len() - 1];
                for key in keys {
                    match self.live(key, now).map(|e| &e.value) {
                        None => continue,
                        Some(Value::List(_)) => {}
                        Some(_) => {
                            out.error(WRONGTYPE);
                            return Some(Flow::Continue);
                        }
                    }
                    // A stored list is never empty: one element comes.
                    let Some(v) = self.pop_elements(key, front, 1).pop() else {
                        continue;
                    };
                    out.array(2);
                    out.bulk(key);
                    out.shared_bulk(&v);
                    return Some(Flow::Continue);
                }
                (keys.to_vec(), Op::Pop { front }, timeout)
            }
            "blmpop" => {
                let Some(m) = parse_mpop(args, 2, out) else {
                    return Some(Flow::Continue);
                };
                let timeout = match parse_timeout(args[1]) {
                    Ok(t) => t,
                    Err(e) => {
                        out.error(e);
                        return Some(Flow::Continue);
                    }
                };
                if self.mpop(&m, now, out) {
                    return Some(Flow::Continue);
                }
                let MPop { keys, front, count } = m;
                let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
                return Some(self.wait(
                    session,
                    &keys,
                    Op::MPop { front, count },
                    timeout,
                    now,
                    out,
                ));
            }
            "blmove" | "brpoplpush" => {
                let (from_front, to_front, timeout_arg) = if name == "blmove" {
                    match (parse_end(args[3]), parse_end(args[4])) {
                        (Some(f), Some(t)) => (f, t, args[5]),
                        _ => {
                            out.error(SYNTAX);
                            return Some(Flow::Continue);
                        }
                    }
                } else {
                    (false, true, args[3])
                };
                let timeout = match parse_timeout(timeout_arg) {
                    Ok(t) => t,
                    Err(e) => {
                        out.error(e);
                        return Some(Flow::Continue);
                    }
                };
                let (src, dst) = (args[1], args[2]);
                match self.live(src, now).map(|e| &e.value) {
                    None => {}
                    Some(Value::List(_)) => {
                        self.lmove(src, dst, from_front, to_front, now, out);
                        return Some(Flow::Continue);
                    }
                    Some(_) => {
                        out.error(WRONGTYPE);
                        return Some(Flow::Continue);
                    }
                }
                let op = Op::Move {
                    dst: dst.to_vec(),
                    from_front,
                    to_front,
                };
                (vec![src], op, timeout)
            }
            "client|unblock" => {
                let error = match args.get(3) {
                    _ if args.len() > 4 => {
                        out.error(
                            "ERR unknown subcommand or wrong number of arguments for 'unblock'. \
                             Try CLIENT HELP.",
                        );
                        return Some(Flow::Continue);
                    }
                    None => false,
                    Some(r) if r.eq_ignore_ascii_case(b"timeout") => false,
                    Some(r) if r.eq_ignore_ascii_case(b"error") => true,
                    Some(_) => {
                        out.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                        return Some(Flow::Continue);
                    }
                };
                let Some(id) = parse_i64(args[2]) else {
                    out.error(NOT_INTEGER);
                    return Some(Flow::Continue);
                };
                let unblocked = u64::try_from(id).is_ok_and(|id| self.unblock(id, error));
                out.integer(i64::from(unblocked));
                return Some(Flow::Continue);
            }
            _ => return None,
        };
        Some(self.wait(session, &keys, op, timeout, now, out))
    }

    /// Every key is missing: the client waits on them, or, where it may not block
    /// (inside a transaction), gets the timeout's answer at once.
    fn wait(
        &mut self,
        session: &Session,
        keys: &[&[u8]],
        op: Op,
        timeout_ms: u64,
        now: Instant,
        out: &mut impl Replies,
    ) -> Flow {
        if !self.blocking.may_block {
            match op {
                Op::Move { .. } => out.nil(),
                _ => out.nil_array(),
            }
            return Flow::Continue;
        }
        let mut unique: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.iter().any(|u| u == k) {
                unique.push(k.to_vec());
            }
        }
        self.blocking.add(session.id, unique, op);
        let deadline = (timeout_ms > 0).then(|| after(now, timeout_ms));
        Flow::Block { deadline }
    }

    /// Serves the clients waiting on the keys made ready, as described in the module's
    /// documentation.
    pub(super) fn serve_ready(&mut self, now: Instant) {
        while !self.blocking.ready.is_empty() {
            let ready = std::mem::take(&mut self.blocking.ready);
            for key in ready {
                self.serve_key(&key, now);
            }
        }
    }

    fn serve_key(&mut self, key: &[u8], now: Instant) {
        let Some(queue) = self.blocking.by_key.get(key) else {
            return;
        };
        let clients: Vec<u64> = queue.iter().copied().collect();
        for client in clients {
            if !matches!(self.live(key, now).map(|e| &e.value), Some(Value::List(_))) {
                // Emptied (and gone), or another type: the others keep waiting.
                break;
            }
            let Some(op) = self.blocking.waiters.get(&client).map(|w| w.op.clone()) else {
                continue;
            };
            let mut reply = Recorded::default();
            match op {
                Op::Pop { front } => {
                    let Some(v) = self.pop_elements(key, front, 1).pop() else {
                        break;
                    };
                    reply.array(2);
                    reply.bulk(key);
                    reply.shared_bulk(&v);
                }
                Op::MPop { front, count } => {
                    let popped = self.pop_elements(key, front, count);
                    reply.array(2);
                    reply.bulk(key);
                    reply.array(popped.len());
                    for v in &popped {
                        reply.shared_bulk(v);
                    }
                }
                Op::Move {
                    dst,
                    from_front,
                    to_front,
                } => {
                    let dst_type = self
                        .live(&dst, now)
                        .map(|e| matches!(e.value, Value::List(_)));
                    if dst_type == Some(false) {
                        // The element stays; the client gets the error.
                        reply.error(WRONGTYPE);
                    } else if let Some(v) = self.move_element(key, &dst, from_front, to_front, now)
                    {
                        reply.shared_bulk(&v);
                    }
                }
            }
            self.blocking.finish(client, reply, true);
        }
    }

    /// The number of clients waiting in blocking commands (`INFO`'s `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.blocking.waiters.len()
    }

    /// Tells the store which connection `client` is, so that the end of its wait wakes
    /// it ([`take_woken`](Self::take_woken)).
    pub fn set_wake_token(&mut self, client: u64, token: Token) {
        if let Some(w) = self.blocking.waiters.get_mut(&client) {
            w.token = Some(token);
        }
    }

    /// The connections whose wait ended since the last call: the loop wakes them.
    pub fn take_woken(&mut self) -> Vec<Token> {
        std::mem::take(&mut self.blocking.woken)
    }

    /// Sends the answer of `client` if its wait ended (true); false if it still waits,
    /// or never waited.
    pub fn take_reply(&mut self, client: u64, out: &mut impl Replies) -> bool {
        match self.blocking.done.remove(&client) {
            Some(reply) => {
                reply.replay(out);
                true
            }
            None => false,
        }
    }

    /// The deadline of `client`'s wait passed (its connection knows: nobody is woken):
    /// it gets the timeout's answer, a null array. False if it was not waiting (served
    /// meanwhile).
    pub fn time_out(&mut self, client: u64) -> bool {
        let mut reply = Recorded::default();
        reply.nil_array();
        self.blocking.finish(client, reply, false)
    }

    /// `CLIENT UNBLOCK`: ends the wait of `client` as a timeout, or with an `UNBLOCKED`
    /// error; false if it was not waiting.
    pub fn unblock(&mut self, client: u64, error: bool) -> bool {
        let mut reply = Recorded::default();
        if error {
            reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        } else {
            reply.nil_array();
        }
        self.blocking.finish(client, reply, true)
    }

    /// The client left: it waits no more, and an answer kept for it is dropped.
    pub fn forget_client(&mut self, client: u64) {
        self.blocking.remove(client);
        self.blocking.done.remove(&client);
    }
}
