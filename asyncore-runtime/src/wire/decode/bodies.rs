//! Runs of lines and repetitions (items, their slots, how they end) and optional parts
//! (undoing them when they do not match): the parts of the [`Decoder`]'s interpreter that
//! keep a body on its control stack.

use super::*;

impl Decoder {
    /// Lines up to a marker line.
    pub(super) fn lines_until(
        &mut self,
        buf: &[u8],
        slot: u16,
        marker: &'static [u8],
        max: u32,
        m: &Message,
    ) -> Step {
        let (run, mut long) = match self.resume {
            Resume::Lines { pc, run, long } if pc == self.pc => (run, long),
            _ => (self.pos, false),
        };
        loop {
            if long {
                // Discarding: skip to the end of an over-long line.
                match self.find_term(buf, self.scan.max(self.pos)) {
                    Some(next) => {
                        self.pos = next;
                        self.scan = next;
                        long = false;
                        continue;
                    }
                    None => {
                        self.scan = buf.len();
                        let keep = self.term.len().saturating_sub(1);
                        self.pos = self.pos.max(buf.len().saturating_sub(keep));
                        self.resume = Resume::Lines {
                            pc: self.pc,
                            run,
                            long: true,
                        };
                        return Ok(Some(Flow::Wait));
                    }
                }
            }
            let at = self.pos;
            // A line other than the marker may take what is left of the run's limit.
            let run_left = (max as usize).saturating_sub(at.saturating_sub(run));
            let marker_span = marker.len() + self.term.len();
            let room = if self.discard {
                Room::ANY
            } else if run_left.max(marker_span) < self.room(m) {
                Room {
                    bytes: run_left.max(marker_span),
                    what: Limit::Lines,
                    limit: max,
                }
            } else {
                self.line_room(m)
            };
            let skip_rest = Then::Discard(Resume::Lines {
                pc: self.pc,
                run,
                long: true,
            });
            match self.find_line(buf, at, room, self.discard) {
                Ok(Some((end, next))) => {
                    if buf.get(at..end) == Some(marker) {
                        if !self.discard {
                            self.put(slot, range(run, at)?)?;
                        }
                        self.pos = next;
                        self.resume = Resume::None;
                        self.pc += 1;
                        return Ok(None);
                    }
                    self.pos = next;
                    if !self.discard && next.saturating_sub(run) > max as usize {
                        let go_on = Then::Discard(Resume::Lines {
                            pc: self.pc,
                            run,
                            long: false,
                        });
                        return Err(Fail::oversize(Limit::Lines, max, None, at).then(go_on));
                    }
                }
                Ok(None) => {
                    self.resume = Resume::Lines {
                        pc: self.pc,
                        run,
                        long: false,
                    };
                    return Ok(Some(Flow::Wait));
                }
                Err(Fail {
                    kind: DecodeErrorKind::Oversize { .. },
                    ..
                }) if self.discard => long = true,
                Err(
                    fail @ Fail {
                        kind: DecodeErrorKind::Program { .. },
                        ..
                    },
                ) => return Err(fail),
                // An over-long line or a bare LF: drop the rest of the run.
                Err(fail) => return Err(fail.then(skip_rest)),
            }
        }
    }

    /// A repetition of items that start with a line, up to a marker line.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn many_until(
        &mut self,
        buf: &[u8],
        slot: u16,
        marker: &'static [u8],
        len: u16,
        stride: u16,
        max: u32,
        m: &'static Message,
    ) -> Step {
        let at = self.pos;
        let again = self
            .stack
            .last()
            .is_some_and(|top| top.kind == Kind::ManyUntil && top.body == self.pc + 1);
        if !again {
            if self.unit.open || self.stack.iter().any(is_repetition) {
                return Err(Fail::bad(
                    "a repetition until a marker line inside a unit or a repetition",
                    at,
                ));
            }
            let end = self.body_end(len, m)?;
            self.push_repetition(Kind::ManyUntil, slot, end, 0, max, stride, marker);
        }
        if self.unit.open {
            return Err(Fail::bad("an item does not end its line", at));
        }
        // The head of an item, or the marker line.
        let room = self.line_room(m);
        let Some((end, next)) = self.find_line(buf, at, room, false)? else {
            return Ok(Some(Flow::Wait));
        };
        let Some(&top) = self.stack.last() else {
            return Err(Fail::bad("a repetition lost its frame", at));
        };
        if buf.get(at..end) == Some(top.marker) {
            self.pos = next;
            return self.finish_seq().map(|()| None);
        }
        if top.count >= top.max {
            return Err(Fail::oversize(Limit::Items, top.max, None, at));
        }
        if m.ops.get(top.body) != Some(&Op::Line) {
            return Err(Fail::bad(
                "an item of a repetition until a marker line does not start with a line",
                at,
            ));
        }
        self.start_item();
        self.unit = Unit {
            open: true,
            frame: false,
            end,
            next,
            field: None,
        };
        self.pc = top.body + 1;
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_repetition(
        &mut self,
        kind: Kind,
        slot: u16,
        end: usize,
        target: u32,
        max: u32,
        stride: u16,
        marker: &'static [u8],
    ) {
        self.stack.push(Ctl {
            kind,
            slot,
            body: self.pc + 1,
            end,
            pos: self.pos,
            mark: self.items.len(),
            count: 0,
            target,
            max,
            stride,
            marker,
            outer: self.item,
        });
    }

    /// Starts an item of the innermost repetition: its slots, its cursor, its first op.
    pub(super) fn start_item(&mut self) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        let base = self.items.len();
        self.items
            .resize(base + usize::from(top.stride), Slot::Empty);
        top.pos = self.pos;
        self.item = Some(ItemAt {
            base,
            stride: top.stride,
        });
        self.pc = top.body;
    }

    /// Closes the innermost repetition: records its sequence, moves past its body.
    pub(super) fn finish_seq(&mut self) -> Result<(), Fail> {
        let Some(top) = self.stack.pop() else {
            return Err(Fail::bad("a repetition lost its frame", self.pos));
        };
        self.item = top.outer;
        let Ok(start) = u32::try_from(top.mark) else {
            return Err(Fail::oversize(Limit::Items, u32::MAX, None, self.pos));
        };
        self.put_in(
            top.outer,
            top.slot,
            Slot::Seq {
                start,
                len: top.count,
            },
        )?;
        self.pc = top.end;
        Ok(())
    }

    /// After an item of a `Many` (or at its start): another item, or the end.
    pub(super) fn next_many(&mut self) -> Result<(), Fail> {
        let Some(top) = self.stack.last() else {
            return Err(Fail::bad("a repetition lost its frame", self.pos));
        };
        if top.count < top.target || self.pos < self.unit.end {
            self.start_item();
            Ok(())
        } else {
            self.finish_seq()
        }
    }

    /// The end of the body of the innermost optional part or repetition.
    pub(super) fn close_body(&mut self) -> Step {
        let Some(&top) = self.stack.last() else {
            return Err(Fail::bad("a body ends outside any", self.pos));
        };
        let count = top.count.saturating_add(1);
        match top.kind {
            Kind::Opt => {
                self.stack.pop();
                self.put_in(top.outer, top.slot, Slot::Int(1))?;
                self.pc = top.end;
            }
            Kind::Repeat => {
                self.set_count(count);
                if count >= top.target {
                    self.finish_seq()?;
                } else {
                    self.start_item();
                }
            }
            Kind::Many => {
                if self.pos == top.pos {
                    return Err(Fail::hard(
                        DecodeErrorKind::Invalid {
                            what: "a repetition item that consumes at least one byte",
                        },
                        self.pos,
                    ));
                }
                if count > top.max {
                    return Err(Fail::oversize(Limit::Items, top.max, None, top.pos));
                }
                self.set_count(count);
                self.next_many()?;
            }
            Kind::ManyUntil => {
                self.set_count(count);
                // Back to the op, for the next item's head or the marker.
                self.pc = top.body - 1;
            }
        }
        Ok(None)
    }

    pub(super) fn set_count(&mut self, count: u32) {
        if let Some(top) = self.stack.last_mut() {
            top.count = count;
        }
    }

    /// Absorbs a mismatch in the innermost optional part or `Many` item, or passes it on.
    pub(super) fn catch(&mut self, fail: Fail, ops: &'static [Op]) -> Result<(), Fail> {
        while let Some(top) = self.stack.pop() {
            self.item = top.outer;
            match top.kind {
                Kind::Opt => {
                    self.pos = top.pos;
                    self.items.truncate(top.mark);
                    self.clear_body(&top, ops)?;
                    self.put_in(top.outer, top.slot, Slot::Int(0))?;
                    self.pc = top.end;
                    return Ok(());
                }
                Kind::Many => {
                    // Undo the failed item; the repetition ends before it.
                    let base = top.mark + top.count as usize * usize::from(top.stride);
                    self.items.truncate(base);
                    self.pos = top.pos;
                    if top.count < top.target {
                        continue; // too few items: the repetition fails too
                    }
                    let Ok(start) = u32::try_from(top.mark) else {
                        return Err(fail);
                    };
                    let seq = Slot::Seq {
                        start,
                        len: top.count,
                    };
                    self.put_in(top.outer, top.slot, seq)?;
                    self.pc = top.end;
                    return Ok(());
                }
                Kind::Repeat | Kind::ManyUntil => {}
            }
        }
        Err(fail)
    }

    /// Empties the slots the body of an absent optional part may have written.
    pub(super) fn clear_body(&mut self, opt: &Ctl, ops: &'static [Op]) -> Result<(), Fail> {
        let body = ops.get(opt.body..opt.end).unwrap_or(&[]);
        self.clear_slots(opt.outer, body)
    }

    /// Empties the slots of `space` the ops of a body may have written.
    pub(super) fn clear_slots(&mut self, space: Option<ItemAt>, body: &[Op]) -> Result<(), Fail> {
        let mut i = 0;
        while i < body.len() {
            let op = body[i];
            if let Some(slot) = slot_of(op) {
                self.put_in(space, slot, Slot::Empty)?;
            }
            // A nested repetition's body writes item slots, gone with its items.
            i += match op {
                Op::Repeat { len, .. } | Op::Many { len, .. } | Op::ManyUntil { len, .. } => {
                    1 + usize::from(len)
                }
                _ => 1,
            };
        }
        Ok(())
    }
}
