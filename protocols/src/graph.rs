//! State diagrams of a protocol, as Graphviz DOT and as Mermaid.

use crate::ir::{Protocol, Target};

/// The edges of the state machine: (from, to, labels), with the messages that share an
/// edge joined by commas, in declaration order.
fn edges(p: &Protocol) -> Vec<(usize, Target, String)> {
    let mut out: Vec<(usize, Target, String)> = Vec::new();
    for (si, s) in p.states.iter().enumerate() {
        for (m, targets) in &s.transitions {
            let by_reply = s.by_reply.iter().find(|(x, _)| x == m).map(|(_, map)| map);
            let choice = match (targets.len() > 1, s.by_message.contains(m)) {
                (false, _) => Choice::None,
                (true, false) => Choice::Handler,
                (true, true) => Choice::Message,
            };
            let mut seen: Vec<Target> = Vec::new();
            for t in targets {
                let labels: Vec<String> = match by_reply {
                    // The reply decides: name the replies that lead here, those that start
                    // TLS apart.
                    Some(map) => {
                        if seen.contains(t) {
                            // A target listed twice (with and without `starttls`) is
                            // labelled once, with all its cases.
                            continue;
                        }
                        seen.push(*t);
                        [false, true]
                            .into_iter()
                            .filter_map(|tls| {
                                let replies: Vec<String> = map
                                    .iter()
                                    .enumerate()
                                    .filter(|(ci, (_, _, to))| {
                                        to == t && s.starttls.contains(&(*m, *ci)) == tls
                                    })
                                    .map(|(_, (r, guard, _))| {
                                        let name = &p.messages[*r].name;
                                        match guard {
                                            Some(g) => format!("{name} if {}", guard_text(g)),
                                            None => name.clone(),
                                        }
                                    })
                                    .collect();
                                let tls = if tls { ", starttls" } else { "" };
                                (!replies.is_empty()).then(|| {
                                    format!(
                                        "{} (on {}{tls})",
                                        p.messages[*m].name,
                                        replies.join(", ")
                                    )
                                })
                            })
                            .collect()
                    }
                    None => vec![label(p, *m, choice)],
                };
                for l in labels {
                    match out.iter_mut().find(|(f, to, _)| *f == si && to == t) {
                        Some((_, _, labels)) => {
                            labels.push_str(", ");
                            labels.push_str(&l);
                        }
                        None => out.push((si, *t, l)),
                    }
                }
            }
        }
    }
    out
}

/// A reply's condition as written: `code < 400`, `more == "-"`.
fn guard_text(g: &crate::ir::Guard) -> String {
    let value = match &g.value {
        crate::ast::CondValue::Int(v) => v.to_string(),
        crate::ast::CondValue::Lit(l) => format!("'{}'", l.escape_ascii()),
    };
    format!("{} {} {value}", g.field, g.cmp.text())
}

/// Who chooses among the next states of a transition.
#[derive(Clone, Copy)]
enum Choice {
    /// There is one next state.
    None,
    /// The server's handler: marked `?`.
    Handler,
    /// The message itself (`by message`): marked `(by message)`.
    Message,
}

fn label(p: &Protocol, m: usize, choice: Choice) -> String {
    let name = &p.messages[m].name;
    match choice {
        Choice::None => name.clone(),
        Choice::Handler => format!("{name}?"),
        Choice::Message => format!("{name} (by message)"),
    }
}

/// The state machine as a Graphviz `digraph`: one node per state (the initial one marked
/// by an arrow from a point), an edge per transition labelled with its message, and a
/// `close` node for transitions that end the connection.
///
/// ```
/// let p = asyncore_protocol::compile(
///     "protocol p framing line \"\\n\" max 1KiB client Hi = \"hi\" client Bye = \"bye\"
///      state A initial { Hi -> B } state B { Bye -> close }",
/// ).unwrap();
/// let dot = asyncore_protocol::graph::dot(&p);
/// assert!(dot.contains("\"A\" -> \"B\" [label=\"Hi\"]"));
/// assert!(dot.contains("\"B\" -> close [label=\"Bye\"]"));
/// ```
pub fn dot(p: &Protocol) -> String {
    let mut out = format!(
        "digraph {} {{\n    rankdir=LR;\n    node [shape=box, style=rounded];\n",
        p.name
    );
    out += "    start [shape=point];\n";
    out += &format!("    start -> \"{}\";\n", p.states[p.initial].name);
    let mut closes = false;
    for (from, t, l) in edges(p) {
        let from = &p.states[from].name;
        match t {
            Target::State(n) => {
                out += &format!(
                    "    \"{from}\" -> \"{}\" [label=\"{l}\"];\n",
                    p.states[n].name
                )
            }
            Target::Close => {
                closes = true;
                out += &format!("    \"{from}\" -> close [label=\"{l}\"];\n");
            }
        }
    }
    if closes {
        out += "    close [shape=doublecircle, label=\"close\"];\n";
    }
    out += "}\n";
    out
}

/// The state machine as a Mermaid `stateDiagram-v2`.
///
/// ```
/// let p = asyncore_protocol::compile(
///     "protocol p framing line \"\\n\" max 1KiB client Hi = \"hi\" state A initial { Hi -> close }",
/// ).unwrap();
/// assert_eq!(
///     asyncore_protocol::graph::mermaid(&p),
///     "stateDiagram-v2\n    [*] --> A\n    A --> [*]: Hi\n"
/// );
/// ```
pub fn mermaid(p: &Protocol) -> String {
    let mut out = String::from("stateDiagram-v2\n");
    out += &format!("    [*] --> {}\n", p.states[p.initial].name);
    for (from, t, l) in edges(p) {
        let from = &p.states[from].name;
        match t {
            Target::State(n) => out += &format!("    {from} --> {}: {l}\n", p.states[n].name),
            Target::Close => out += &format!("    {from} --> [*]: {l}\n"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_marked_by_who_makes_them() {
        let p = crate::compile(
            "protocol p framing line \"\\n\" max 1KiB
             client Get = \"get\" client Put = \"put\" client Data(n) = d:bytes[n] max 1KiB
             state A initial { Get -> A | close  Put -> A | B by message }
             state B { Data -> A }",
        )
        .unwrap();
        let m = mermaid(&p);
        assert!(m.contains("A --> A: Get?, Put (by message)"), "{m}");
        assert!(m.contains("A --> [*]: Get?"), "{m}");
        assert!(m.contains("A --> B: Put (by message)"), "{m}");
        assert!(m.contains("B --> A: Data\n"), "{m}");
        let p = crate::compile(
            "protocol p framing line \"\\n\" max 1KiB
             client Login = \"login\" replies Yes | No
             server Yes = \"yes\" server No = \"no\"
             state A initial { Login -> B on Yes | A on No } state B { Login -> B on Yes, No }",
        )
        .unwrap();
        let m = mermaid(&p);
        assert!(m.contains("A --> B: Login (on Yes)"), "{m}");
        assert!(m.contains("A --> A: Login (on No)"), "{m}");
        assert!(m.contains("B --> B: Login (on Yes, No)"), "{m}");
    }
}
