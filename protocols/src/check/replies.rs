//! Replies per request: which server messages answer each client message (`replies A |
//! B`), what the server sends first (`greeting`), and transitions whose reply says the
//! next state (`Transaction on Ok | Authorization on Err`).

use super::*;
use crate::ast::{Ident, Replies};

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
    ) -> Option<Vec<(usize, Target)>> {
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
        let mut map: Vec<(usize, Target)> = Vec::new();
        for ((target_name, on), target) in t.targets.iter().zip(&t.on).zip(targets) {
            if on.is_empty() {
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
            for reply in on {
                match self.reply_of(reply, msg, messages) {
                    Some(r) if map.iter().any(|(x, _)| *x == r) => self.error(Diagnostic::new(
                        format!("the reply `{}` leads to two states", reply.name),
                        reply.span,
                    )),
                    Some(r) => map.push((r, *target)),
                    None => {}
                }
            }
        }
        for &r in &msg.replies {
            if !map.iter().any(|(x, _)| *x == r) {
                self.error(
                    Diagnostic::new(
                        format!(
                            "the reply `{}` to `{}` leads to no state in state `{state}`",
                            messages[r].name, msg.name
                        ),
                        t.message.span,
                    )
                    .help(format!(
                        "list it after the state it leads to, like `{} on {}`",
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
