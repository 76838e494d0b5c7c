//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`.
//!
//! After `MULTI` a client's commands are checked (a command that does not exist, the
//! wrong number of arguments, memory over the limit) and queued, answered `+QUEUED`;
//! `EXEC` runs them one after the other, with nothing from other clients in between, and
//! answers an array of their replies. A command refused while queuing makes `EXEC` fail
//! with `-EXECABORT`, as in Redis. A blocking command inside runs as its non-blocking
//! form, and the clients the transaction's writes can serve are served after it.
//!
//! `WATCH` makes the next `EXEC` fail (a null array) if a watched key changed in between:
//! it keeps the key's value and deadline as they were, and `EXEC` compares. Values are
//! compared by identity, not by content: every write makes a new value or copies the one
//! it changes while another holder shares it (and the watch shares it), so a `SET` of the
//! same value counts as a change, as in Redis. A list is compared element by element.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("multi", 1, false),
    spec("exec", 1, false),
    spec("discard", 1, false),
    spec("watch", -2, false),
    spec("unwatch", 1, false),
];

/// The commands that run at once inside a transaction instead of being queued.
pub(super) fn runs_at_once(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// A key as a watch saw it: its value and deadline, or nothing.
type Seen = Option<(Value, Option<(Instant, u64)>)>;

/// A client's transaction: the commands queued since `MULTI`, whether one was refused,
/// and the keys it watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Transaction {
    /// `Some` between `MULTI` and `EXEC` or `DISCARD`: the commands, with their
    /// arguments.
    queued: Option<Vec<Vec<Vec<u8>>>>,
    /// The bytes of the commands queued.
    bytes: usize,
    /// A command was refused while queuing: `EXEC` aborts.
    refused: bool,
    /// The watched keys, as they were.
    watched: Vec<(Vec<u8>, Seen)>,
}

/// A client's [`Transaction`], made at its first `MULTI` or `WATCH` and dropped when it
/// ends: most connections never use one, and an idle connection keeps one word for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Tx(Option<Box<Transaction>>);

impl Tx {
    /// Whether commands are being queued (after `MULTI`).
    pub(super) fn queuing(&self) -> bool {
        self.0.as_ref().is_some_and(|t| t.queued.is_some())
    }

    /// A command was refused: if queuing, `EXEC` will abort.
    pub(super) fn refuse(&mut self) {
        if let Some(t) = self.0.as_mut().filter(|t| t.queued.is_some()) {
            t.refused = true;
        }
    }

    /// The transaction, made now if there was none.
    fn get(&mut self) -> &mut Transaction {
        self.0.get_or_insert_with(Box::default)
    }

    /// Takes the transaction out, leaving none.
    fn take(&mut self) -> Transaction {
        self.0.take().map(|t| *t).unwrap_or_default()
    }

    /// Drops the transaction if it holds nothing any more.
    fn tidy(&mut self) {
        if self
            .0
            .as_deref()
            .is_some_and(|t| *t == Transaction::default())
        {
            self.0 = None;
        }
    }
}

/// Whether a value is the one a watch saw: the same strings (by identity) in the same
/// places; sets, hashes and sorted sets by their contents (a write that leaves one as
/// it was does not abort the transaction, where Redis would).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Rc::ptr_eq(x, y),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| Rc::ptr_eq(p, q))
        }
        (Value::Set(_), Value::Set(_))
        | (Value::Hash(_), Value::Hash(_))
        | (Value::ZSet(_), Value::ZSet(_)) => a == b,
        _ => false,
    }
}

fn same(a: &Seen, b: &Seen) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some((va, da)), Some((vb, db))) => da == db && same_value(va, vb),
        _ => false,
    }
}

impl Store {
    /// How `key` is now, as a watch keeps it.
    fn seen(&mut self, key: &[u8], now: Instant) -> Seen {
        self.live(key, now).map(|e| (e.value.clone(), e.expires))
    }

    /// Queues a command after `MULTI` (it was checked): `+QUEUED`.
    pub(super) fn queue(&mut self, args: &[&[u8]], session: &mut Session, out: &mut impl Replies) {
        let limit = self.limits.output_limit;
        let Some(tx) = session.tx.0.as_deref_mut() else {
            return;
        };
        let size: usize = args.iter().map(|a| a.len() + 16).sum();
        let Some(queued) = tx.queued.as_mut() else {
            return;
        };
        if tx.bytes.saturating_add(size) > limit {
            // The queue is bounded like a connection's replies.
            tx.refused = true;
            return out.error(&format!(
                "ERR the commands queued after MULTI are over this connection's limit of {limit} bytes"
            ));
        }
        tx.bytes += size;
        queued.push(args.iter().map(|a| a.to_vec()).collect());
        out.simple("QUEUED");
    }

    /// Runs `name` if it is a command of this family.
    pub(super) fn run_transactions(
        &mut self,
        name: &str,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        if !COMMANDS.iter().any(|c| c.name == name) {
            return None;
        }
        if name == "exec" {
            return Some(self.exec(session, now, out));
        }
        let tx = session.tx.get();
        match name {
            "multi" => {
                if tx.queued.is_some() {
                    out.error("ERR MULTI calls can not be nested");
                } else {
                    tx.queued = Some(Vec::new());
                    tx.bytes = 0;
                    tx.refused = false;
                    out.simple("OK");
                }
            }
            "discard" => {
                if tx.queued.take().is_none() {
                    out.error("ERR DISCARD without MULTI");
                } else {
                    *tx = Transaction::default();
                    out.simple("OK");
                }
            }
            "watch" => {
                if tx.queued.is_some() {
                    out.error("ERR WATCH inside MULTI is not allowed");
                } else {
                    for &key in &args[1..] {
                        if !tx.watched.iter().any(|(k, _)| k == key) {
                            let seen = self.seen(key, now);
                            tx.watched.push((key.to_vec(), seen));
                        }
                    }
                    out.simple("OK");
                }
            }
            "unwatch" => {
                tx.watched = Vec::new();
                out.simple("OK");
            }
            _ => {}
        }
        session.tx.tidy();
        Some(Flow::Continue)
    }

    /// `EXEC`: the queued commands' replies, as one array; a null array when a watched
    /// key changed; `-EXECABORT` when a command was refused while queuing.
    fn exec(&mut self, session: &mut Session, now: Instant, out: &mut impl Replies) -> Flow {
        let tx = session.tx.take();
        let Some(queued) = tx.queued else {
            if !tx.watched.is_empty() {
                session.tx.get().watched = tx.watched;
            }
            out.error("ERR EXEC without MULTI");
            return Flow::Continue;
        };
        if tx.refused {
            out.error("EXECABORT Transaction discarded because of previous errors.");
            return Flow::Continue;
        }
        let changed = tx
            .watched
            .iter()
            .any(|(key, seen)| !same(seen, &self.seen(key, now)));
        if changed {
            out.nil_array();
            return Flow::Continue;
        }
        drop(tx.watched);
        out.array(queued.len());
        let mut flow = Flow::Continue;
        for command in &queued {
            let args: Vec<&[u8]> = command.iter().map(|a| &a[..]).collect();
            // A command inside runs as a command run by another: it never blocks.
            if self.execute_nested(&args, session, now, out) == Flow::Close {
                flow = Flow::Close;
            }
        }
        flow
    }
}
