//! Lowering of a part's own policies (`else ACTION`, `else oversize ACTION`): where they
//! may be written, the `Op::Commit` before a part whose failure they answer, and the
//! range of ops each answers for.

use super::*;

/// Where a part with `else` clauses is being lowered.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    /// The index of the `Op::Line` that opened the part's line, when the part is the
    /// first of its line.
    pub(super) line: Option<usize>,
    /// The first part of the message: nothing before it says the input is this message.
    pub(super) lead: bool,
    /// Why `else` cannot go here (a frame, an optional part, a repetition to the end of
    /// the line), if it cannot.
    pub(super) refused: Option<&'static str>,
}

/// A part whose `else` clauses wait for the end of its ops.
pub(super) struct Pending<'p> {
    part: &'p Part,
    start: usize,
}

impl Cx {
    /// Before the ops of part `p`: checks its `else` clauses, records `else oversize`,
    /// and pushes `Op::Commit` if it has an `else` for its own failure (which
    /// [`else_after`](Self::else_after) then records).
    pub(super) fn else_before<'p>(
        &mut self,
        l: &mut Lower<'_>,
        p: &'p Part,
        place: Place,
    ) -> Option<Pending<'p>> {
        if p.policies.is_empty() {
            return None;
        }
        if matches!(p.kind, PartKind::Glue | PartKind::Ows) {
            self.error(
                Diagnostic::new(
                    "`else` answers a literal or a field that does not match",
                    p.span,
                )
                .help("put it after the literal or field it is about"),
            );
            return None;
        }
        if let Some(why) = place.refused {
            self.error(
                Diagnostic::new(
                    format!("a part's own policy (`else`) cannot go {why}"),
                    p.policies[0].span,
                )
                .help("answer it with the message's `on invalid` or `on oversize` instead"),
            );
            return None;
        }
        let mut own = false;
        let mut seen = Vec::new();
        for pol in &p.policies {
            if seen.contains(&pol.event) {
                self.error(Diagnostic::new(
                    format!(
                        "a second `else{}` for this part",
                        if pol.event == Event::Oversize {
                            " oversize"
                        } else {
                            ""
                        }
                    ),
                    pol.span,
                ));
                continue;
            }
            seen.push(pol.event);
            match pol.event {
                Event::Oversize => match place.line {
                    Some(line) => l.own.push(ir::PartPolicy {
                        event: Event::Oversize,
                        ops: (line as u16, line as u16),
                        action: pol.action.clone(),
                    }),
                    None => self.error(
                        Diagnostic::new(
                            "`else oversize` answers a line over its limit, so it goes on the first part of a line",
                            pol.span,
                        )
                        .help("move it to the part that starts the line"),
                    ),
                },
                _ if place.lead => self.error(
                    Diagnostic::new(
                        "the first part of a message cannot have an `else`: nothing before it says the input is this message",
                        pol.span,
                    )
                    .help("put the `else` on a later part; a first part that does not match is `on unknown` or `on invalid`"),
                ),
                _ => own = true,
            }
        }
        if !own {
            return None;
        }
        if let ir::Framing::Length { .. } | ir::Framing::Fixed { .. } = l.framing {
            // Checked by the caller (`refused`); frames have no `else` yet.
            return None;
        }
        l.ops.push(Op::Commit);
        Some(Pending {
            part: p,
            start: l.ops.len(),
        })
    }

    /// After the ops of a part that [`else_before`](Self::else_before) committed to:
    /// records its `else` for the ops it pushed, and for the end of its line when it is
    /// the line's last part (`ends_line`: the `Op::EndLine` comes next).
    pub(super) fn else_after(
        &mut self,
        l: &mut Lower<'_>,
        pending: Option<Pending<'_>>,
        ends_line: bool,
    ) {
        let Some(Pending { part, start }) = pending else {
            return;
        };
        let end = if ends_line {
            l.ops.len()
        } else {
            l.ops.len().saturating_sub(1).max(start)
        };
        for pol in part.policies.iter().filter(|p| p.event == Event::Invalid) {
            l.own.push(ir::PartPolicy {
                event: Event::Invalid,
                ops: (start as u16, end as u16),
                action: pol.action.clone(),
            });
        }
    }
}
