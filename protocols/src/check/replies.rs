//! Replies per request: which server messages answer each client message (`replies A |
//! B`), what the server sends first (`greeting`), and transitions whose reply says the
//! next state (`Transaction on Ok | Authorization on Err`).

use super::*;
use crate::ast::{Cmp, Cond, CondValue, Ident, Replies};
use crate::ir::{FieldKind, Guard};

impl Cx {
    /// Resolves one `replies` or `greeting` list to server message indices.
    fn reply_list(&mut self, list: &Replies, messages: &[ir::Message], of: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for name in &list.names {
            let Some(i) = messages.iter().position(|m| m.name == name.name) else {
                let mut d = Diagnostic::new(format!("unknown message `{}`", name.name), name.span);
                let server = messages
                    .iter()
                    .filter(|m| m.dir.from_server())
                    .map(|m| m.name.as_str());
                if let Some(s) = suggest(&name.name, server) {
                    d = d.help(format!("did you mean `{s}`?"));
                }
                self.error(d);
                continue;
            };
            if !messages[i].dir.from_server() {
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` is sent by the client, so it cannot answer {of}",
                            name.name
                        ),
                        name.span,
                    )
                    .help("a reply is a message the server sends (`server NAME = ...`)"),
                );
                continue;
            }
            if out.contains(&i) {
                self.error(Diagnostic::new(
                    format!("`{}` is listed twice", name.name),
                    name.span,
                ));
            }
            out.push(i);
        }
        out
    }

    /// A condition on a field of message `m`: an integer compared with a number, or a
    /// field of literals or bytes that equals a literal or not.
    fn guard(&mut self, c: &Cond, m: &ir::Message) -> Option<Guard> {
        let Some(f) = m
            .fields
            .iter()
            .find(|f| f.name == c.field.name && f.derived_from.is_none())
        else {
            let names = m
                .fields
                .iter()
                .filter(|f| f.derived_from.is_none())
                .map(|f| f.name.as_str());
            let mut d = Diagnostic::new(
                format!("`{}` has no field `{}`", m.name, c.field.name),
                c.field.span,
            );
            if let Some(s) = suggest(&c.field.name, names) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            self.error(d);
            return None;
        };
        let fits = match (&f.kind, &c.value) {
            (FieldKind::Int { .. }, CondValue::Int(_)) => true,
            (FieldKind::Bytes, CondValue::Lit(_)) => matches!(c.cmp, Cmp::Eq | Cmp::Ne),
            _ => false,
        };
        if !fits || f.presence.is_some() {
            self.error(
                Diagnostic::new(
                    format!("`{}` of `{}` cannot be compared this way", c.field.name, m.name),
                    c.span,
                )
                .help("compare an integer field with a number, or a field of literals with `==` or `!=` and a string; the field must always be there"),
            );
            return None;
        }
        Some(Guard {
            field: c.field.name.clone(),
            cmp: c.cmp,
            value: c.value.clone(),
        })
    }

    /// `continues if COND` of each server message.
    pub(super) fn continuations(&mut self, d: &Description, messages: &mut [ir::Message]) {
        for (mi, m) in d.messages.iter().enumerate() {
            let Some(c) = &m.continues else { continue };
            if !m.dir.from_server() {
                self.error(
                    Diagnostic::new("only a server message's reply continues", c.span)
                        .help("`continues if` marks the lines of a multi-line reply"),
                );
                continue;
            }
            messages[mi].continues = self.guard(c, &messages[mi]);
        }
    }

    /// The `replies` of each client message.
    pub(super) fn replies(&mut self, d: &Description, messages: &mut [ir::Message]) {
        for (mi, m) in d.messages.iter().enumerate() {
            let Some(list) = &m.replies else { continue };
            if !m.dir.from_client() {
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` is sent by the server; only client messages have replies",
                            m.name.name
                        ),
                        list.span,
                    )
                    .help("declare the replies on the requests they answer"),
                );
                continue;
            }
            let of = format!("`{}`", m.name.name);
            let replies = self.reply_list(list, messages, &of);
            messages[mi].replies = replies;
        }
    }

    /// The `greeting`.
    pub(super) fn greeting(&mut self, d: &Description, messages: &[ir::Message]) -> Vec<usize> {
        match &d.greeting {
            Some(list) => self.reply_list(list, messages, "the greeting"),
            None => Vec::new(),
        }
    }

    /// A transition by reply (`Pass -> Transaction on Ok | Authorization on Err`): every
    /// target names replies of the message, and every reply leads to one target. The
    /// mapping, from reply to target.
    pub(super) fn by_reply(
        &mut self,
        t: &ast::Transition,
        mi: usize,
        targets: &[Target],
        messages: &[ir::Message],
        state: &str,
    ) -> Option<Vec<ir::ReplyCase>> {
        if t.on.iter().all(Vec::is_empty) {
            return None;
        }
        let msg = &messages[mi];
        if let Some(span) = t.by_message {
            self.error(
                Diagnostic::new(
                    "`by message` and `on REPLY` both say who decides the next state",
                    span,
                )
                .help("keep one: the message itself, or its reply"),
            );
        }
        if msg.replies.is_empty() {
            self.error(
                Diagnostic::new(
                    format!(
                        "`{}` declares no replies, so no reply can decide its next state",
                        msg.name
                    ),
                    t.message.span,
                )
                .help(format!(
                    "declare them on the message: `client {} = ... replies Ok | Err`",
                    msg.name
                )),
            );
            return None;
        }
        let mut map: Vec<ir::ReplyCase> = Vec::new();
        // After an error in the cases, what they leave uncovered is no news.
        let mut cases_ok = true;
        for ((target_name, on), target) in t.targets.iter().zip(&t.on).zip(targets) {
            if on.is_empty() {
                cases_ok = false;
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` follows no reply: the reply decides the next state of `{}`",
                            target_name.name, msg.name
                        ),
                        target_name.span,
                    )
                    .help(format!(
                        "say which replies lead here, like `{} on {}`",
                        target_name.name,
                        msg.replies
                            .first()
                            .map_or("REPLY", |&r| messages[r].name.as_str())
                    )),
                );
                continue;
            }
            for case in on {
                let Some(r) = self.reply_of(&case.reply, msg, messages) else {
                    cases_ok = false;
                    continue;
                };
                let guard = match &case.guard {
                    Some(c) => match self.guard(c, &messages[r]) {
                        Some(g) => Some(g),
                        None => {
                            cases_ok = false;
                            continue;
                        }
                    },
                    None => None,
                };
                if guard.is_none() && map.iter().any(|(x, g, _)| *x == r && g.is_none()) {
                    self.error(Diagnostic::new(
                        format!("the reply `{}` leads to two states", case.reply.name),
                        case.reply.span,
                    ));
                }
                map.push((r, guard, *target));
            }
        }
        for &r in msg.replies.iter().filter(|_| cases_ok) {
            let cases: Vec<&Option<Guard>> = map
                .iter()
                .filter(|(x, _, _)| *x == r)
                .map(|(_, g, _)| g)
                .collect();
            let covered = cases.iter().any(|g| g.is_none())
                || cases
                    .iter()
                    .any(|a| cases.iter().any(|b| complementary(a, b)));
            if !covered {
                let what = if cases.is_empty() {
                    ""
                } else {
                    " when no condition holds"
                };
                self.error(
                    Diagnostic::new(
                        format!(
                            "the reply `{}` to `{}` leads to no state{what} in state `{state}`",
                            messages[r].name, msg.name
                        ),
                        t.message.span,
                    )
                    .help(format!(
                        "list it after the state it leads to, like `{} on {}` (a case without a condition covers the rest)",
                        t.targets[0].name, messages[r].name
                    )),
                );
            }
        }
        Some(map)
    }

    /// The reply named `name` of message `msg`, or an error.
    fn reply_of(
        &mut self,
        name: &Ident,
        msg: &ir::Message,
        messages: &[ir::Message],
    ) -> Option<usize> {
        let found = msg
            .replies
            .iter()
            .copied()
            .find(|&r| messages[r].name == name.name);
        if found.is_none() {
            self.error(
                Diagnostic::new(
                    format!("`{}` is not a reply to `{}`", name.name, msg.name),
                    name.span,
                )
                .help(format!(
                    "its replies are {}; declare the others with `replies`",
                    reply_names(msg, messages)
                )),
            );
        }
        found
    }

    /// Replies the client could not tell apart in the same place: among the greeting, the
    /// replies to each request (with the messages the server may send at any time), and
    /// the unsolicited messages alone.
    pub(super) fn replies_distinguishable(&mut self, d: &Description, p: &Protocol) -> bool {
        if !p.has_replies() {
            return false;
        }
        let unsolicited = p.unsolicited();
        let mut places: Vec<(String, Vec<usize>)> = Vec::new();
        if !p.greeting.is_empty() {
            places.push(("in the greeting".into(), p.greeting.clone()));
        }
        for m in &p.messages {
            if !m.replies.is_empty() {
                places.push((format!("as replies to `{}`", m.name), m.replies.clone()));
            }
        }
        places.push(("when no request is waiting".into(), Vec::new()));
        for (context, mut set) in places {
            for &u in &unsolicited {
                if !set.contains(&u) {
                    set.push(u);
                }
            }
            set.retain(|&m| p.messages[m].params.is_empty() && p.messages[m].framing.is_none());
            if self.check_distinct(d, p, &set, &context) {
                return true;
            }
        }
        true
    }
}

/// Whether two conditions together hold for every value: `code < 400` and `code >= 400`.
fn complementary(a: &Option<Guard>, b: &Option<Guard>) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    let pair = matches!(
        (a.cmp, b.cmp),
        (Cmp::Lt, Cmp::Ge)
            | (Cmp::Ge, Cmp::Lt)
            | (Cmp::Le, Cmp::Gt)
            | (Cmp::Gt, Cmp::Le)
            | (Cmp::Eq, Cmp::Ne)
            | (Cmp::Ne, Cmp::Eq)
    );
    pair && a.field == b.field && a.value == b.value
}

/// "A, B or C": the replies of `msg`.
fn reply_names(msg: &ir::Message, messages: &[ir::Message]) -> String {
    let names: Vec<String> = msg
        .replies
        .iter()
        .map(|&r| format!("`{}`", messages[r].name))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "none".into(),
    }
}
