//! Checks a description and lowers it to the [`crate::ir`] form: every error found is
//! reported, each at the token it concerns.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::ast::{self, Action, Description, Dir, Event, FramingDecl, PartKind, Span, Unit};
use crate::diag::{suggest, Diagnostic};
use crate::ir::{self, Op, Protocol, Target};
use crate::lower::type_text;

mod framing;
mod replies;
mod states;
mod tls;

/// The largest span of one message the runtime handles.
pub(crate) const MESSAGE_LIMIT: u64 = u32::MAX as u64;
/// The most parameters a message takes (`asyncore_runtime::wire::MAX_PARAMS`).
pub(crate) const MAX_PARAMS: usize = 4;

/// Checks `d` and lowers it, or returns every error found.
///
/// ```
/// use asyncore_protocol::{check::check, parse::parse};
/// let d = parse("protocol p framing line \"\\n\" max 1KiB client A = \"a\" state S initial { A -> T }").unwrap();
/// let errors = check(&d).unwrap_err();
/// assert_eq!(errors[0].message, "unknown state `T`");
/// ```
pub fn check(d: &Description) -> Result<Protocol, Vec<Diagnostic>> {
    let mut cx = Cx { errors: Vec::new() };
    let framing = cx.framing(d);
    let framings = cx.named_framings(d);
    let nocase = d.nocase;
    let policies = cx.policies(&d.policies, &framing);

    // Messages.
    let mut names: HashMap<&str, Span> = HashMap::new();
    let mut messages = Vec::new();
    for m in &d.messages {
        if names.insert(&m.name.name, m.name.span).is_some() {
            cx.error(
                Diagnostic::new(
                    format!("message `{}` is declared twice", m.name.name),
                    m.name.span,
                )
                .help("give each message its own name"),
            );
        }
        messages.push(cx.message(m, &framing, &framings));
    }

    // Replies, then states (whose transitions may follow replies).
    cx.replies(d, &mut messages);
    cx.continuations(d, &mut messages);
    let greeting = cx.greeting(d, &messages);
    let (states, initial) = cx.states(d, &messages, &framing);
    let protocol = Protocol {
        name: d.name.name.clone(),
        docs: d.docs.clone(),
        framing,
        framings,
        nocase,
        messages,
        states,
        initial,
        policies,
        greeting,
    };
    if cx.errors.is_empty() {
        cx.unit_less_alone(d, &protocol);
        cx.params_supplied(d, &protocol);
        cx.framings_agree(d, &protocol);
        cx.distinguishable(d, &protocol);
        cx.duality(d, &protocol);
        cx.after_starttls(d, &protocol);
    }
    if cx.errors.is_empty() {
        Ok(protocol)
    } else {
        Err(cx.errors)
    }
}

/// The checker's context: the errors found so far.
pub(crate) struct Cx {
    errors: Vec<Diagnostic>,
}

impl Cx {
    pub(crate) fn error(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    fn policies(&mut self, list: &[ast::Policy], framing: &ir::Framing) -> ir::Policies {
        let own = self.own_policies(list, framing);
        ir::Policies {
            oversize: own.oversize.unwrap_or(Action::Close),
            unknown: own.unknown.unwrap_or(Action::Close),
            not_allowed: own.not_allowed.unwrap_or(Action::Close),
            invalid: own.invalid.unwrap_or(Action::Close),
            timeout: self.timeout_policy(list),
        }
    }

    /// `on timeout`: the reply before the close, if any. A request that did not arrive in
    /// time cannot be skipped: the connection closes.
    fn timeout_policy(&mut self, list: &[ast::Policy]) -> Option<Vec<u8>> {
        let pol = list.iter().find(|p| p.event == Event::Timeout)?;
        match &pol.action {
            Action::Close => None,
            Action::Reply { text, close: true } => Some(text.clone()),
            _ => {
                self.error(
                    Diagnostic::new(
                        "a request that did not arrive in time cannot be skipped",
                        pol.span,
                    )
                    .help("write `on timeout reply \"...\" close` or `on timeout close`"),
                );
                None
            }
        }
    }

    /// The policies of `list`, each at most once; `None` for an event it leaves out.
    fn own_policies(&mut self, list: &[ast::Policy], framing: &ir::Framing) -> ir::StatePolicies {
        let mut p = ir::StatePolicies::default();
        let mut seen = HashSet::new();
        for pol in list {
            if !seen.insert(pol.event) {
                self.error(Diagnostic::new(
                    format!("a second policy for `{}`", pol.event.keyword()),
                    pol.span,
                ));
            }
            if matches!(pol.action, Action::Discard) && matches!(pol.event, Event::Oversize) {
                // Fine for both framings: skip to the next line or past the frame.
            }
            if let (Action::Reply { .. }, ir::Framing::Length { .. }) = (&pol.action, framing) {
                self.error(
                    Diagnostic::new("a text reply needs line framing", pol.span)
                        .help("in a length-framed protocol, use `close` or `discard`"),
                );
            }
            let slot = match pol.event {
                Event::Oversize => &mut p.oversize,
                Event::Unknown => &mut p.unknown,
                Event::NotAllowed => &mut p.not_allowed,
                Event::Invalid => &mut p.invalid,
                // The protocol's alone (see `timeout_policy`).
                Event::Timeout => continue,
            };
            *slot = Some(pol.action.clone());
        }
        p
    }
}

/// `snake_case` or `lower` to `CamelCase`.
///
/// ```
/// assert_eq!(asyncore_protocol::check::camel("headers"), "Headers");
/// assert_eq!(asyncore_protocol::check::camel("flush_all"), "FlushAll");
/// ```
pub fn camel(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect()
}

pub(crate) fn is_rust_keyword(s: &str) -> bool {
    matches!(
        s,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// Whether a message is sent by the server (`server: true`) or by the client.
///
/// ```
/// use asyncore_protocol::{ast::Dir, check::sent_by};
/// assert!(sent_by(Dir::Both, true) && sent_by(Dir::Client, false) && !sent_by(Dir::Server, false));
/// ```
pub fn sent_by(dir: Dir, server: bool) -> bool {
    if server {
        dir.from_server()
    } else {
        dir.from_client()
    }
}

#[cfg(test)]
mod tests;
