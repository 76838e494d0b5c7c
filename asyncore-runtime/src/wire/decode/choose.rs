//! How the [`Decoder`] chooses the message that the bytes at hand start: the allowed
//! messages' openers, and trials of the candidates.

use super::*;

impl Decoder {
    /// A new message: forget the last one and choose how to begin.
    pub(super) fn start(&mut self, allowed: &[u16]) {
        self.pos = 0;
        self.scan = 0;
        self.unit = Unit::default();
        self.first = false;
        self.discard = false;
        self.resume = Resume::None;
        self.stack.clear();
        self.item = None;
        let messages = self.program.messages;
        match allowed.first() {
            Some(&idx)
                if messages
                    .get(usize::from(idx))
                    .is_some_and(|m| !opens_unit(m)) =>
            {
                self.begin(idx, 0);
                self.state = State::Run;
            }
            _ => self.state = State::First,
        }
    }

    /// Sets up the slots and the cursor to run message `idx` from op `pc`.
    pub(super) fn begin(&mut self, idx: u16, pc: usize) {
        let slots = self
            .program
            .messages
            .get(usize::from(idx))
            .map_or(0, |m| usize::from(m.slots));
        self.msg = idx;
        self.pc = pc;
        self.committed = false;
        self.slots.clear();
        self.slots.resize(slots, Slot::Empty);
        self.items.clear();
        self.stack.clear();
        self.item = None;
        self.resume = Resume::None;
    }

    /// Waits for the first unit, then chooses the message.
    pub(super) fn first(
        &mut self,
        buf: &[u8],
        allowed: &[u16],
    ) -> Result<Option<Decoded>, DecodeError> {
        let kind = self.first_opener(allowed);
        match self.find_first(buf, kind) {
            Ok(None) => Ok(Some(Decoded::NeedMore)),
            Ok(Some((start, unit))) => self.choose(buf, allowed, kind, start, unit),
            Err(fail) => {
                // A first line over its limit is the error of the message whose leading
                // literal it starts with (`*` then 64 KiB: a RESP command), if any.
                let message = match (fail.kind, kind) {
                    (DecodeErrorKind::Oversize { .. }, Opener::Line) => self.lead_of(buf, allowed),
                    _ => None,
                };
                Err(self.raise(buf, fail.at_op(0), message))
            }
        }
    }

    /// The first allowed line message whose leading literal `buf` starts with.
    pub(super) fn lead_of(&self, buf: &[u8], allowed: &[u16]) -> Option<&'static str> {
        let messages = self.program.messages;
        allowed
            .iter()
            .filter_map(|&idx| messages.get(usize::from(idx)))
            .find(|m| {
                let lit = match (m.ops.first(), m.ops.get(1), m.ops.get(2)) {
                    (Some(Op::Line), Some(&Op::Lit(lit)), _) => lit,
                    (Some(Op::Line), Some(Op::Trim), Some(&Op::Lit(lit))) => lit,
                    _ => return false,
                };
                let hay = if matches!(m.ops.get(1), Some(Op::Trim)) {
                    &buf[self.count(buf, SPACE)..]
                } else {
                    buf
                };
                !lit.is_empty() && self.starts(hay, lit)
            })
            .map(|m| m.name)
    }

    /// The unit to wait for: the one the first allowed message that opens a unit starts
    /// with, else the program's.
    pub(super) fn first_opener(&self, allowed: &[u16]) -> Opener {
        let messages = self.program.messages;
        allowed
            .iter()
            .filter_map(|&idx| messages.get(usize::from(idx)))
            .find_map(|m| opener(m, self.header))
            .unwrap_or(match self.header {
                Some(h) => Opener::Frame(Some(h)),
                None => Opener::Line,
            })
    }

    /// Tries the allowed messages that open a unit of this kind on the first unit, then
    /// the others.
    pub(super) fn choose(
        &mut self,
        buf: &[u8],
        allowed: &[u16],
        kind: Opener,
        start: usize,
        unit: Unit,
    ) -> Result<Option<Decoded>, DecodeError> {
        let messages = self.program.messages;
        let skip_unit = Then::SkipBytes(unit.next as u64);
        let mut best: Option<(Fail, &'static str)> = None;
        for &idx in allowed {
            let Some(m) = messages.get(usize::from(idx)) else {
                let fail = Fail::bad("an allowed message index is out of range", 0);
                return Err(self.raise(buf, fail, None));
            };
            if !opens_unit(m) {
                // Chosen without looking: it reads the input from its first byte.
                self.pos = 0;
                self.scan = 0;
                self.unit = Unit::default();
                self.first = false;
                self.begin(idx, 0);
                self.state = State::Run;
                return self.run(buf);
            }
            if opener(m, self.header) != Some(kind) {
                continue; // another kind of unit
            }
            if self.misses_at_once(buf, m, start, unit) {
                continue;
            }
            match self.trial(buf, idx, start, unit) {
                Ok(()) => {
                    if unit.next > m.max as usize {
                        let size = Some(unit.next as u64);
                        let fail = Fail::oversize(Limit::Message, m.max, size, 0).then(skip_unit);
                        return Err(self.raise(buf, fail, Some(m.name)));
                    }
                    self.state = State::Run;
                    return self.run(buf);
                }
                Err(fail) if fail.catchable => {
                    if best.is_none_or(|(b, _)| fail.at > b.at) {
                        best = Some((fail, m.name));
                    }
                }
                Err(fail) => return Err(self.raise(buf, fail.then(skip_unit), Some(m.name))),
            }
        }
        // Is it a message of another state?
        for (i, m) in messages.iter().enumerate() {
            let Ok(idx) = u16::try_from(i) else { break };
            if opener(m, self.header) != Some(kind)
                || self.misses_at_once(buf, m, start, unit)
                || allowed.contains(&idx)
            {
                continue;
            }
            match self.trial(buf, idx, start, unit) {
                Err(fail) if fail.catchable => continue,
                Err(Fail {
                    kind: DecodeErrorKind::Program { .. },
                    ..
                }) => continue,
                _ => {
                    let kind = DecodeErrorKind::NotAllowed { message: m.name };
                    let fail = Fail::hard(kind, 0).then(skip_unit);
                    return Err(self.raise(buf, fail, None));
                }
            }
        }
        let (fail, message) = match best {
            Some((fail, name)) if fail.at > start => (fail, Some(name)),
            _ => (Fail::hard(DecodeErrorKind::Unknown, 0), None),
        };
        Err(self.raise(buf, fail.then(skip_unit), message))
    }

    /// Whether trying message `m` on the first unit would fail on its first op: a literal
    /// the unit does not start with. That miss is at the unit's start, where no failure
    /// is reported (nothing of the message was recognised), so [`choose`](Self::choose)
    /// passes over such a message without running it: most units are tried against
    /// many messages, and most of them differ in their first bytes.
    pub(super) fn misses_at_once(&self, buf: &[u8], m: &Message, start: usize, unit: Unit) -> bool {
        // After `Trim`, the literal comes after the line's leading spaces.
        let (lit, padded) = match m.ops.get(1) {
            Some(&Op::Lit(lit)) => (lit, false),
            Some(Op::Trim) => match m.ops.get(2) {
                Some(&Op::Lit(lit)) => (lit, true),
                _ => return false,
            },
            _ => return false,
        };
        match buf.get(start..unit.end) {
            Some(hay) if unit.open && padded => !self.starts(&hay[self.count(hay, SPACE)..], lit),
            Some(hay) if unit.open => !self.starts(hay, lit),
            _ => false,
        }
    }

    /// Runs message `idx` on the first unit, up to the unit's end.
    pub(super) fn trial(
        &mut self,
        buf: &[u8],
        idx: u16,
        start: usize,
        unit: Unit,
    ) -> Result<(), Fail> {
        self.begin(idx, 1);
        self.pos = start;
        self.unit = unit;
        self.first = true;
        match self.exec(buf) {
            Ok(Flow::FirstUnit) => Ok(()),
            Ok(_) => Err(Fail::bad(
                "a message's first unit does not end before the message does",
                self.pos,
            )),
            Err(fail) => Err(fail),
        }
    }
}
