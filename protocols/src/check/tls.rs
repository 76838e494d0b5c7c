//! The checks of `starttls` (a reply that upgrades the connection to TLS, RFC 3207's
//! STARTTLS): the upgrade follows a reply that agrees to it, the server can refuse it,
//! it leads to a state, and once TLS is on every state still allows something.

use super::*;

impl Cx {
    /// The reply cases of transition `t` (message `mi`, in state `state`) whose target
    /// is marked `starttls`, as `(message, index of the case)`; an error for each that
    /// cannot be.
    pub(super) fn starttls(
        &mut self,
        t: &ast::Transition,
        mi: usize,
        targets: &[Target],
        messages: &[ir::Message],
        state: &str,
    ) -> Vec<(usize, usize)> {
        let marked: Vec<(usize, Span)> = t
            .starttls
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .collect();
        let Some(&(_, first)) = marked.first() else {
            return Vec::new();
        };
        let msg = &messages[mi];
        if msg.replies.is_empty() {
            if t.on.iter().any(|on| !on.is_empty()) {
                // Said already: no reply can decide its next state.
                return Vec::new();
            }
            self.error(
                Diagnostic::new(
                    format!(
                        "`{}` declares no replies, so no reply can agree to start TLS",
                        msg.name
                    ),
                    first,
                )
                .help(format!(
                    "TLS starts after the reply that agrees to it: declare the replies \
                     (`client {} = ... replies Reply`) and say which one starts it \
                     (`T on Reply if code == 220 starttls | {state} on Reply if code != 220`)",
                    msg.name
                )),
            );
            return Vec::new();
        }
        if t.on.iter().all(Vec::is_empty) {
            self.error(
                Diagnostic::new(
                    format!(
                        "`starttls` needs the reply that agrees to it, but no reply decides \
                         the next state of `{}` in state `{state}`",
                        msg.name
                    ),
                    first,
                )
                .help(format!(
                    "say which replies lead where, like `T on Reply if code == 220 starttls | \
                     {state} on Reply if code != 220`"
                )),
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for &(i, span) in &marked {
            let Some(&target) = targets.get(i) else {
                continue;
            };
            if target == Target::Close {
                self.error(
                    Diagnostic::new("a connection that closes cannot start TLS", span).help(
                        "name the state the connection is in once TLS is on, like \
                         `Fresh on Reply if code == 220 starttls`",
                    ),
                );
                continue;
            }
            // The cases are numbered in the order they are written (see `by_reply`).
            let first_case: usize = t.on[..i].iter().map(Vec::len).sum();
            out.extend((first_case..first_case + t.on[i].len()).map(|c| (mi, c)));
        }
        if marked.len() == t.targets.len() {
            self.error(
                Diagnostic::new(
                    format!(
                        "every reply to `{}` starts TLS in state `{state}`, so a server \
                         without TLS could not refuse it",
                        msg.name
                    ),
                    t.message.span,
                )
                .help(format!(
                    "add the state a refusal leaves the connection in, like \
                     `| {state} on Reply if code != 220`"
                )),
            );
        }
        out
    }

    /// Once TLS is on, a message that starts TLS in a state is not allowed there (TLS
    /// starts once): every state the connection can be in after an upgrade must still
    /// allow another message.
    pub(super) fn after_starttls(&mut self, d: &Description, p: &Protocol) {
        let mut seen = vec![false; p.states.len()];
        let mut queue: VecDeque<usize> = VecDeque::new();
        for n in p.starttls_targets() {
            seen[n] = true;
            queue.push_back(n);
        }
        while let Some(si) = queue.pop_front() {
            let s = &p.states[si];
            let open: Vec<&(usize, Vec<Target>)> = s
                .transitions
                .iter()
                .filter(|(m, _)| !p.starts_tls(si, *m))
                .collect();
            if open.is_empty() {
                let upgrade = s.starttls.first().map_or("", |(m, _)| &p.messages[*m].name);
                self.error(
                    Diagnostic::new(
                        format!(
                            "once TLS is on, state `{}` allows no message: `{upgrade}` \
                             starts TLS, which happens once per connection",
                            s.name
                        ),
                        d.states[si].name.span,
                    )
                    .help(format!(
                        "allow another message in `{}` (a `Quit -> close`, for one)",
                        s.name
                    )),
                );
            }
            for (_, targets) in open {
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
    }
}
