//! The checks of the state machine: states and transitions, reachability, messages the
//! decoder can tell apart in each state, and duality between the two roles.

use super::*;

impl Cx {
    pub(super) fn states(
        &mut self,
        d: &Description,
        messages: &[ir::Message],
        framing: &ir::Framing,
    ) -> (Vec<ir::State>, usize) {
        if d.states.is_empty() {
            // One implicit state in which every client message is allowed.
            let transitions = messages
                .iter()
                .enumerate()
                .filter(|(_, m)| m.dir.from_client())
                .map(|(i, _)| (i, vec![Target::State(0)]))
                .collect();
            return (
                vec![ir::State {
                    name: "Ready".into(),
                    docs: vec!["The only state: every client message is allowed.".into()],
                    transitions,
                    by_message: Vec::new(),
                    by_reply: Vec::new(),
                    starttls: Vec::new(),
                    policies: ir::StatePolicies::default(),
                }],
                0,
            );
        }
        if d.states.len() > 64 {
            self.error(
                Diagnostic::new(
                    format!("{} states: a protocol has at most 64", d.states.len()),
                    d.states[64].name.span,
                )
                .help("merge states, or split the protocol"),
            );
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, s) in d.states.iter().enumerate() {
            if index.insert(&s.name.name, i).is_some() {
                self.error(Diagnostic::new(
                    format!("state `{}` is declared twice", s.name.name),
                    s.name.span,
                ));
            }
            if s.name.name == "close" {
                self.error(Diagnostic::new(
                    "`close` is not a state name: it ends the connection",
                    s.name.span,
                ));
            }
        }
        let msg_index: HashMap<&str, usize> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (m.name.as_str(), i))
            .collect();
        let initials: Vec<&ast::StateDecl> =
            d.states.iter().filter(|s| s.initial.is_some()).collect();
        let mut initial = 0;
        match initials.len() {
            0 => self.error(
                Diagnostic::new("no state is marked `initial`", d.states[0].name.span).help(
                    format!(
                        "mark where a connection starts: `state {} initial {{ ... }}`",
                        d.states[0].name.name
                    ),
                ),
            ),
            1 => initial = index[initials[0].name.name.as_str()],
            _ => self.error(
                Diagnostic::new(
                    format!("a second initial state `{}`", initials[1].name.name),
                    initials[1].initial.unwrap_or(initials[1].name.span),
                )
                .help(format!(
                    "`{}` is already the initial state; keep one",
                    initials[0].name.name
                )),
            ),
        }
        let mut states = Vec::new();
        let mut choices: HashMap<usize, (BTreeSet<String>, Span)> = HashMap::new();
        for s in &d.states {
            let mut transitions = Vec::new();
            let mut by_message = Vec::new();
            let mut by_reply = Vec::new();
            let mut starttls = Vec::new();
            let mut seen = HashSet::new();
            if s.transitions.is_empty() {
                self.error(
                    Diagnostic::new(
                        format!("state `{}` has no way out", s.name.name),
                        s.name.span,
                    )
                    .help("list the messages it accepts, like `{ Quit -> close }`"),
                );
            }
            for t in &s.transitions {
                let Some(&mi) = msg_index.get(t.message.name.as_str()) else {
                    let mut d = Diagnostic::new(
                        format!("unknown message `{}`", t.message.name),
                        t.message.span,
                    );
                    if let Some(s) =
                        suggest(&t.message.name, messages.iter().map(|m| m.name.as_str()))
                    {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    self.error(d);
                    continue;
                };
                if !messages[mi].dir.from_client() {
                    self.error(
                        Diagnostic::new(
                            format!("`{}` is sent by the server, but states move on messages the client sends", t.message.name),
                            t.message.span,
                        )
                        .help("server messages are replies, allowed in every state; list only client messages here"),
                    );
                }
                if !seen.insert(mi) {
                    self.error(Diagnostic::new(
                        format!(
                            "`{}` is listed twice in state `{}`",
                            t.message.name, s.name.name
                        ),
                        t.message.span,
                    ));
                }
                let mut targets = Vec::new();
                for target in &t.targets {
                    if target.name == "close" {
                        targets.push(Target::Close);
                    } else if let Some(&ti) = index.get(target.name.as_str()) {
                        targets.push(Target::State(ti));
                    } else {
                        let mut d = Diagnostic::new(
                            format!("unknown state `{}`", target.name),
                            target.span,
                        );
                        if let Some(s) =
                            suggest(&target.name, index.keys().copied().chain(["close"]))
                        {
                            d = d.help(format!("did you mean `{s}`?"));
                        } else {
                            d = d.help("declare it with `state NAME { ... }`, or use `close`");
                        }
                        self.error(d);
                    }
                }
                if t.targets.len() > 1 && t.on.iter().all(Vec::is_empty) {
                    let set: BTreeSet<String> = t.targets.iter().map(|t| t.name.clone()).collect();
                    let span = t
                        .message
                        .span
                        .to(t.targets.last().map_or(t.message.span, |t| t.span));
                    match choices.get(&mi) {
                        Some((other, _)) if *other != set => self.error(
                            Diagnostic::new(
                                format!("`{}` has different choices of next state in different states", t.message.name),
                                span,
                            )
                            .help("the handler returns one of the choices, so they must be the same wherever the message is allowed; split the message in two"),
                        ),
                        _ => {
                            choices.insert(mi, (set, span));
                        }
                    }
                }
                if let Some(span) = t.by_message {
                    if t.targets.len() < 2 {
                        self.error(
                            Diagnostic::new("`by message` needs a choice of next states", span)
                                .help("list the states the message may lead to, separated by `|`"),
                        );
                    }
                    by_message.push(mi);
                }
                if targets.len() == t.targets.len() {
                    if let Some(map) = self.by_reply(t, mi, &targets, messages, &s.name.name) {
                        by_reply.push((mi, map));
                    }
                    starttls.extend(self.starttls(t, mi, &targets, messages, &s.name.name));
                }
                transitions.push((mi, targets));
            }
            states.push(ir::State {
                name: s.name.name.clone(),
                docs: s.docs.clone(),
                transitions,
                by_message,
                by_reply,
                starttls,
                policies: {
                    for pol in s.policies.iter().filter(|p| p.event == Event::Timeout) {
                        self.error(
                            Diagnostic::new(
                                "`on timeout` is the protocol's, not a state's",
                                pol.span,
                            )
                            .help("declare it once for the whole protocol, after its framing"),
                        );
                    }
                    self.own_policies(&s.policies, framing)
                },
            });
        }
        // A message whose reply says the next state somewhere is not the handler's choice
        // anywhere.
        let by_reply: HashSet<usize> = states
            .iter()
            .flat_map(|s: &ir::State| s.by_reply.iter().map(|(m, _)| *m))
            .collect();
        for (&mi, (_, span)) in &choices {
            if by_reply.contains(&mi) {
                self.error(
                    Diagnostic::new(
                        format!("`{}`'s next state is said by its reply in one state and chosen by the handler in another", messages[mi].name),
                        *span,
                    )
                    .help("say it by reply everywhere (`T on REPLY | ...`), or split the message in two"),
                );
            }
        }
        // A message with a choice somewhere must have it everywhere.
        for s in d.states.iter() {
            for t in &s.transitions {
                if let (Some(&mi), 1) = (msg_index.get(t.message.name.as_str()), t.targets.len()) {
                    if choices.contains_key(&mi) && !by_reply.contains(&mi) {
                        self.error(
                            Diagnostic::new(
                                format!("`{}` has a choice of next state elsewhere but a fixed one here", t.message.name),
                                t.message.span,
                            )
                            .help("give it the same choices in every state, or split the message in two"),
                        );
                    }
                }
            }
        }
        // Reachability.
        if self.errors.is_empty() {
            let mut seen = vec![false; states.len()];
            let mut queue = VecDeque::from([initial]);
            seen[initial] = true;
            while let Some(s) = queue.pop_front() {
                for (_, targets) in &states[s].transitions {
                    for t in targets {
                        if let Target::State(n) = t {
                            if !seen[*n] {
                                seen[*n] = true;
                                queue.push_back(*n);
                            }
                        }
                    }
                }
            }
            for (i, s) in d.states.iter().enumerate() {
                if !seen[i] {
                    self.error(
                        Diagnostic::new(format!("state `{}` is unreachable", s.name.name), s.name.span)
                            .help(format!("no transition from the initial state `{}` leads here; add one or remove the state", d.states[initial].name.name)),
                    );
                }
            }
        }
        (states, initial)
    }

    /// A message that starts without a line (`lines until`, a repetition) is recognised by
    /// the state alone, so it must be the only message of every state that allows it.
    pub(super) fn unit_less_alone(&mut self, d: &Description, p: &Protocol) {
        let unit_less = |m: usize| {
            !matches!(
                p.messages[m].ops.first(),
                Some(Op::Line | Op::Frame | Op::FrameWith(_) | Op::Fixed(_))
            )
        };
        for s in &p.states {
            if s.transitions.len() > 1 {
                if let Some(&(m, _)) = s.transitions.iter().find(|(m, _)| unit_less(*m)) {
                    self.error(
                        Diagnostic::new(
                            format!(
                                "`{}` starts without a line, so it must be the only message of state `{}`",
                                p.messages[m].name, s.name
                            ),
                            d.messages[m].name.span,
                        )
                        .help("give it a state of its own, reached by the message before it (as SMTP's DATA leads to the body)"),
                    );
                }
            }
        }
        for m in p.received_by_client() {
            if unit_less(m) && p.messages[m].params.is_empty() && p.received_by_client().count() > 1
            {
                self.error(Diagnostic::new(
                    format!("the server message `{}` starts without a line, so the client cannot tell it from the others", p.messages[m].name),
                    d.messages[m].name.span,
                ));
            }
        }
    }

    /// A client message with parameters is read in a state of its own, and the server's
    /// handler supplies the values when it chooses that state: every transition into the
    /// state must be a choice, and the state cannot be the initial one.
    pub(super) fn params_supplied(&mut self, d: &Description, p: &Protocol) {
        for (si, s) in p.states.iter().enumerate() {
            let Some(&(m, _)) = s
                .transitions
                .iter()
                .find(|(m, _)| !p.messages[*m].params.is_empty())
            else {
                continue;
            };
            let msg = &p.messages[m].name;
            if si == p.initial {
                self.error(
                    Diagnostic::new(
                        format!("`{msg}` takes parameters, so it cannot be read in the initial state `{}`", s.name),
                        d.states[si].name.span,
                    )
                    .help("nothing has supplied its values yet; reach this state through a handler's choice"),
                );
            }
            for (from, decl) in d.states.iter().enumerate() {
                for (ti, (via, targets)) in p.states[from].transitions.iter().enumerate() {
                    if targets.len() == 1 && targets[0] == Target::State(si) {
                        let t = &decl.transitions[ti];
                        self.error(
                            Diagnostic::new(
                                format!("`{}` leads to state `{}`, whose message `{msg}` takes parameters, but the handler of `{}` does not choose it", p.messages[*via].name, s.name, p.messages[*via].name),
                                t.targets[0].span,
                            )
                            .help(format!("the handler supplies the values of `{msg}` when it chooses the next state: give `{}` a choice, like `{} -> {} | close`", p.messages[*via].name, p.messages[*via].name, s.name)),
                        );
                    }
                }
            }
        }
    }

    /// The messages a state receives read one kind of unit: they share a framing.
    pub(super) fn framings_agree(&mut self, d: &Description, p: &Protocol) {
        let name = |f: Option<usize>| match f {
            Some(i) => format!("the framing `{}`", p.framings[i].name),
            None => "the protocol's framing".to_string(),
        };
        for (si, s) in p.states.iter().enumerate() {
            let Some(&(first, _)) = s.transitions.first() else {
                continue;
            };
            let want = p.messages[first].framing;
            for (ti, &(m, _)) in s.transitions.iter().enumerate() {
                if p.messages[m].framing != want {
                    let span = d
                        .states
                        .get(si)
                        .and_then(|sd| sd.transitions.get(ti))
                        .map_or(d.messages[m].name.span, |t| t.message.span);
                    self.error(
                        Diagnostic::new(
                            format!(
                                "state `{}` receives `{}` in {} and `{}` in {}: a state reads one kind of unit",
                                s.name,
                                p.messages[first].name,
                                name(want),
                                p.messages[m].name,
                                name(p.messages[m].framing)
                            ),
                            span,
                        )
                        .help(format!(
                            "move `{}` to a state of its own, or give both messages the same framing",
                            p.messages[m].name
                        )),
                    );
                    break;
                }
            }
        }
    }

    /// Two messages a side may receive at the same time must differ in their first unit.
    pub(super) fn distinguishable(&mut self, d: &Description, p: &Protocol) {
        for s in &p.states {
            let set: Vec<usize> = s.transitions.iter().map(|t| t.0).collect();
            self.check_distinct(d, p, &set, &format!("in state `{}`", s.name));
        }
        // With replies declared, the client knows which request a reply answers: it tells
        // apart only the messages that may come in the same place.
        if self.replies_distinguishable(d, p) {
            return;
        }
        let set: Vec<usize> = p
            .received_by_client()
            .filter(|&m| p.messages[m].params.is_empty())
            .collect();
        self.check_distinct(d, p, &set, "by the client");
    }

    /// Reports the first two messages of `set` that cannot be told apart; whether there
    /// were any.
    pub(super) fn check_distinct(
        &mut self,
        d: &Description,
        p: &Protocol,
        set: &[usize],
        context: &str,
    ) -> bool {
        let shape = |m: usize| first_unit_shape(&d.messages[m].units[0], p.nocase);
        for (i, &a) in set.iter().enumerate() {
            for &b in &set[i + 1..] {
                if p.messages[a].framing != p.messages[b].framing {
                    continue;
                }
                let framed = |m: usize| {
                    matches!(
                        p.messages[m].ops.first(),
                        Some(Op::Frame | Op::FrameWith(_) | Op::Fixed(_))
                    )
                };
                let tags_clash = framed(a)
                    && framed(b)
                    && tag_prefix(&d.messages[a].units[0], &d.messages[b].units[0]);
                if shape(a) == shape(b) || tags_clash {
                    self.error(
                        Diagnostic::new(
                            format!(
                                "messages `{}` and `{}` cannot be told apart {context}",
                                p.messages[a].name, p.messages[b].name
                            ),
                            d.messages[b].name.span,
                        )
                        .help(format!(
                            "their first units start with the same literals and field types; start `{}` with a different literal",
                            p.messages[b].name
                        )),
                    );
                    return true;
                }
            }
        }
        false
    }

    /// When the server chooses the next state, the client cannot know which one it chose,
    /// so every message the client may send in one candidate state must be one the server
    /// can receive in each of the others.
    pub(super) fn duality(&mut self, d: &Description, p: &Protocol) {
        for (si, s) in p.states.iter().enumerate() {
            for (ti, (m, targets)) in s.transitions.iter().enumerate() {
                if s.by_message.contains(m) || s.by_reply.iter().any(|(x, _)| x == m) {
                    // The client wrote what chose the state, or reads it in the reply: it
                    // knows which one before it sends anything that depends on it.
                    continue;
                }
                let cands: Vec<usize> = targets
                    .iter()
                    .filter_map(|t| match t {
                        Target::State(n) => Some(*n),
                        Target::Close => None,
                    })
                    .collect();
                for &a in &cands {
                    for &b in &cands {
                        if a == b {
                            continue;
                        }
                        for (sent, _) in &p.states[a].transitions {
                            if p.states[b].transitions.iter().any(|(r, _)| r == sent)
                                && tls_cases(p, a, *sent) != tls_cases(p, b, *sent)
                            {
                                let decl = &d.states[si].transitions[ti];
                                let span = decl
                                    .targets
                                    .iter()
                                    .find(|t| t.name == p.states[b].name)
                                    .map_or(decl.message.span, |t| t.span);
                                let (tls, plain) = if p.starts_tls(a, *sent) {
                                    (a, b)
                                } else {
                                    (b, a)
                                };
                                self.error(
                                    Diagnostic::new(
                                        format!(
                                            "the client may send `{}` after `{}` without knowing whether the server chose `{}` or `{}`, and its reply starts TLS differently in them",
                                            p.messages[*sent].name, p.messages[*m].name, p.states[tls].name, p.states[plain].name
                                        ),
                                        span,
                                    )
                                    .help(format!(
                                        "give `{}` the same replies and `starttls` in `{}` and `{}`, or let a reply say which state the server chose",
                                        p.messages[*sent].name, p.states[tls].name, p.states[plain].name
                                    )),
                                );
                                return;
                            }
                            if !p.states[b].transitions.iter().any(|(r, _)| r == sent) {
                                let decl = &d.states[si].transitions[ti];
                                let span = decl
                                    .targets
                                    .iter()
                                    .find(|t| t.name == p.states[b].name)
                                    .map_or(decl.message.span, |t| t.span);
                                self.error(
                                    Diagnostic::new(
                                        format!(
                                            "the client may send `{}` after `{}` (the server may have chosen `{}`), but the server cannot receive `{}` in state `{}`",
                                            p.messages[*sent].name, p.messages[*m].name, p.states[a].name, p.messages[*sent].name, p.states[b].name
                                        ),
                                        span,
                                    )
                                    .help(if p.messages[*m].replies.is_empty() {
                                        format!(
                                            "the client does not know which state the server chose: let the reply say it (declare `replies` on `{}` and write `{} on REPLY | ...`), or allow `{}` in `{}` too",
                                            p.messages[*m].name, p.states[a].name, p.messages[*sent].name, p.states[b].name
                                        )
                                    } else {
                                        format!(
                                            "the client does not know which state the server chose: let its reply say it, as in `{} on {} | ...`, or allow `{}` in `{}` too",
                                            p.states[a].name, p.messages[p.messages[*m].replies[0]].name, p.messages[*sent].name, p.states[b].name
                                        )
                                    }),
                                );
                                return;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The shape of a message's first unit: literals and field kinds, for telling messages apart.
fn first_unit_shape(unit: &Unit, nocase: bool) -> Vec<String> {
    unit.parts
        .iter()
        .map(|p| match &p.kind {
            PartKind::Lit(b) => {
                let b = if nocase {
                    b.to_ascii_lowercase()
                } else {
                    b.clone()
                };
                format!("{b:?}")
            }
            PartKind::Bits { value, width } => format!("0b{value:0w$b}", w = usize::from(*width)),
            PartKind::Glue => "~".into(),
            PartKind::Ows => "ows".into(),
            PartKind::Field(f) => {
                format!("{}{}", type_text(&f.ty), if f.optional { "?" } else { "" })
            }
        })
        .collect()
}

/// Whether two frames cannot be told apart by their literal tags: each starts with
/// literal bytes or bits, and one's literal prefix is a prefix of the other's, so the
/// first one tried would also take the other's input. A unit without a literal tag is
/// tried last, so only its shape counts; line units are judged by [`first_unit_shape`]
/// alone.
fn tag_prefix(a: &Unit, b: &Unit) -> bool {
    let bits = |u: &Unit| -> Vec<bool> {
        let mut out = Vec::new();
        for p in &u.parts {
            match &p.kind {
                PartKind::Lit(bytes) => {
                    for byte in bytes {
                        out.extend((0..8).rev().map(|i| byte >> i & 1 == 1));
                    }
                }
                PartKind::Bits { value, width } => {
                    out.extend((0..*width).rev().map(|i| value >> i & 1 == 1));
                }
                _ => return out,
            }
        }
        out
    };
    let (x, y) = (bits(a), bits(b));
    // A unit with no literal tag is tried after every tagged one (a catch-all): the
    // shapes alone tell it apart.
    if x.is_empty() || y.is_empty() {
        return false;
    }
    let n = x.len().min(y.len());
    x[..n] == y[..n]
}

/// The reply cases of message `m` in state `s` that start TLS, as the client tells them
/// apart (the reply and its condition); empty when none does. Two states the client
/// cannot tell apart must agree on them.
fn tls_cases(p: &Protocol, s: usize, m: usize) -> Vec<(usize, Option<ir::Guard>)> {
    let st = &p.states[s];
    st.by_reply
        .iter()
        .find(|(x, _)| *x == m)
        .map(|(_, cases)| {
            cases
                .iter()
                .enumerate()
                .filter(|(ci, _)| p.case_starts_tls(s, m, *ci))
                .map(|(_, (r, g, _))| (*r, g.clone()))
                .collect()
        })
        .unwrap_or_default()
}
