//! Lowering of binary frames: the bytes before the length field, bit fields, varints,
//! NUL-terminated strings, length-prefixed and nullable bytes, conditions on earlier
//! fields, and counted repetitions inside a frame.

use super::*;
use crate::ast::{Cmp, Cond, CondValue, Field, Ident};
use crate::diag::Diagnostic;

/// Whether a part is bits: a bit literal or a bit field.
fn is_bits(p: &Part) -> bool {
    matches!(p.kind, PartKind::Bits { width, .. } if width <= 8)
        || matches!(&p.kind, PartKind::Field(f) if matches!(f.ty, Type::Bits(_)))
}

/// How many bits a part always takes, if that is fixed.
fn fixed_bits(p: &Part) -> Option<u64> {
    match &p.kind {
        PartKind::Lit(b) => Some(8 * b.len() as u64),
        PartKind::Bits { width, .. } => Some(u64::from(*width)),
        PartKind::Glue | PartKind::Ows => Some(0),
        PartKind::Field(f) if f.optional || f.cond.is_some() => None,
        PartKind::Field(f) => match &f.ty {
            Type::Bits(n) => Some(u64::from(*n)),
            Type::Bin { width, .. } => Some(8 * u64::from(*width)),
            Type::Int {
                bits: 8,
                hex: false,
                ..
            } => Some(8),
            Type::OneOf(lits) if lits.windows(2).all(|w| w[0].len() == w[1].len()) => {
                lits.first().map(|l| 8 * l.len() as u64)
            }
            _ => None,
        },
    }
}

impl Cx {
    /// Lowers a unit of a length-prefixed or fixed-size framing: the frame's parts, with
    /// the length field after the `offset` bytes that come before it.
    pub(super) fn frame_unit(&mut self, l: &mut Lower<'_>, unit: &Unit) {
        let (open, header, size) = match l.framing {
            ir::Framing::Length { max, offset, .. } => {
                l.max = l.max.saturating_add(max + l.framing.header_len());
                (l.frame_op.clone(), u64::from(*offset), None)
            }
            ir::Framing::Fixed { size } => {
                l.max = l.max.saturating_add(*size);
                (Op::Fixed(*size as u32), 0, Some(*size))
            }
            ir::Framing::Line { .. } => return,
        };
        for p in &unit.parts {
            let place = Place {
                line: None,
                lead: false,
                refused: Some("in a binary frame"),
            };
            self.else_before(l, p, place);
        }
        l.ops.push(open);
        l.bitpos = 0;
        // Bits taken so far, while every part had a fixed size.
        let mut taken = Some(0u64);
        let mut length_done = header == 0;
        for p in &unit.parts {
            if !length_done && taken == Some(header * 8) {
                l.ops.push(Op::LengthField);
                length_done = true;
            }
            let bits = fixed_bits(p);
            taken = taken.zip(bits).map(|(a, b)| a + b);
            // Bits that cross their byte get an error of their own.
            let crosses = is_bits(p) && u64::from(l.bitpos) + bits.unwrap_or(0) > 8;
            if crosses {
                length_done = true;
            }
            if !length_done && taken.is_none_or(|t| t > header * 8) {
                let (what, help) = match bits {
                    None => (
                        "has no fixed size".to_string(),
                        "put parts of a fixed size first (literals, bits, u8, u16be...)",
                    ),
                    Some(_) => (
                        "runs over the length field".to_string(),
                        "the parts before the length field must fill exactly its `offset`",
                    ),
                };
                self.error(
                    Diagnostic::new(
                        format!(
                            "the {header} byte(s) before the length field must be filled by parts of a fixed size, but this part {what}"
                        ),
                        p.span,
                    )
                    .help(help),
                );
                length_done = true;
            }
            self.frame_part(l, p);
        }
        if l.bitpos != 0 {
            self.error(
                Diagnostic::new(
                    format!(
                        "the bit fields of `{}` do not fill their byte: {} bit(s) are left",
                        l.message,
                        8 - l.bitpos
                    ),
                    unit.span,
                )
                .help("add bits (a field `reserved:u1` or a literal `0b0`) to fill the byte"),
            );
            l.bitpos = 0;
        }
        if !length_done {
            if taken == Some(header * 8) {
                l.ops.push(Op::LengthField);
            } else {
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` fills {} of the {header} byte(s) before the length field",
                            l.message,
                            taken.unwrap_or(0) / 8
                        ),
                        unit.span,
                    )
                    .help("start each message with the header bytes its framing's `offset` counts, such as a type byte"),
                );
            }
        }
        if let Some(size) = size {
            if taken != Some(size * 8) {
                let got = taken.map_or("a varying number of".to_string(), |t| (t / 8).to_string());
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` must be exactly {size} byte(s) in its `fixed {size}` framing, but it is {got} byte(s)",
                            l.message
                        ),
                        unit.span,
                    )
                    .help("a fixed unit holds literals and fields of a fixed size only"),
                );
            }
        }
        l.ops.push(Op::EndFrame);
    }

    /// One part of a frame (or of a repetition item inside a frame): no separators, and
    /// bit fields fill whole bytes.
    pub(super) fn frame_part(&mut self, l: &mut Lower<'_>, p: &Part) {
        if !is_bits(p) && l.bitpos != 0 && !matches!(p.kind, PartKind::Glue | PartKind::Ows) {
            self.error(
                Diagnostic::new(
                    format!(
                        "bit fields do not fill their byte: {} bit(s) are left before this part",
                        8 - l.bitpos
                    ),
                    p.span,
                )
                .help("add bits (a field `reserved:u1` or a literal `0b0`) to fill the byte"),
            );
            l.bitpos = 0;
        }
        self.part(l, p, false, false);
    }

    /// A literal of `width` bits (`0b0011`).
    pub(super) fn bits_lit(&mut self, l: &mut Lower<'_>, value: u64, width: u8, span: ast::Span) {
        if width > 8 {
            if l.bitpos == 0 && width.is_multiple_of(8) {
                let n = usize::from(width / 8);
                l.ops.push(Op::Lit(value.to_be_bytes()[8 - n..].to_vec()));
            } else {
                self.error(
                    Diagnostic::new(
                        format!("a bit literal of {width} bits crosses a byte boundary"),
                        span,
                    )
                    .help("write bits within one byte, or whole bytes as hex like 0x0a0b"),
                );
            }
            return;
        }
        let Some(shift) = self.bit_shift(l, width, span) else {
            return;
        };
        l.ops.push(Op::BitsLit {
            shift,
            bits: width,
            value: value as u8,
        });
    }

    /// A field of `width` bits (`qos:u2`) into `slot`.
    pub(super) fn bits_field(&mut self, l: &mut Lower<'_>, slot: u16, width: u8, span: ast::Span) {
        let shift = self.bit_shift(l, width, span).unwrap_or(0);
        l.ops.push(Op::Bits {
            slot,
            shift,
            bits: width,
        });
    }

    /// Where the next `width` bits sit in the current byte (bits go from the high end),
    /// and the byte's bits taken after them.
    fn bit_shift(&mut self, l: &mut Lower<'_>, width: u8, span: ast::Span) -> Option<u8> {
        if u16::from(l.bitpos) + u16::from(width) > 8 {
            self.error(
                Diagnostic::new(
                    format!(
                        "these {width} bits cross a byte boundary: {} bit(s) of the byte are left",
                        8 - l.bitpos
                    ),
                    span,
                )
                .help("bit fields lie within one byte; fill the byte first"),
            );
            l.bitpos = 0;
            return None;
        }
        let shift = 8 - l.bitpos - width;
        l.bitpos = (l.bitpos + width) % 8;
        Some(shift)
    }

    /// Types that only binary frames read: an error in a line.
    pub(super) fn binary_only(&mut self, f: &Field, span: ast::Span) {
        let what = match f.ty {
            Type::Bits(_) => "bit fields are",
            Type::Varint => "`varint` is",
            Type::CStr => "`cstr` is",
            Type::Prefixed { .. } => "length-prefixed bytes are",
            _ if f.cond.is_some() => "conditions (`if`) are",
            _ => return,
        };
        self.error(
            Diagnostic::new(format!("{what} for binary frames"), span).help(
                "in a line protocol, use words and decimal numbers, and `?` for optional parts",
            ),
        );
    }

    /// Starts a field present only when `c` holds: the `If` op, with its presence slot.
    pub(super) fn cond_start(&mut self, l: &mut Lower<'_>, c: &Cond) -> Option<(usize, u16)> {
        let (test, max, in_message) = self.reference(l, &c.field, "condition")?;
        let CondValue::Int(value) = c.value else {
            self.error(
                Diagnostic::new(
                    format!("`{}` is an integer: compare it with a number", c.field.name),
                    c.span,
                )
                .help("a condition in a frame compares an earlier integer field with a number"),
            );
            return None;
        };
        let signed = l.known.get(&c.field.name).is_some_and(|k| k.signed);
        let ordering = !matches!(c.cmp, Cmp::Eq | Cmp::Ne);
        if signed && ordering {
            self.error(
                Diagnostic::new(
                    format!("`{}` compares a signed field by order", c.cmp.text()),
                    c.span,
                )
                .help("compare a signed field with `==` or `!=`"),
            );
        }
        if (!signed && value < 0) || (value >= 0 && value as u64 > max) {
            self.error(
                Diagnostic::new(
                    format!(
                        "`{}` holds 0..={max}, so comparing it with {} decides nothing",
                        c.field.name, value
                    ),
                    c.span,
                )
                .help("compare with a value the field can hold"),
            );
        }
        let presence = Self::slot(l);
        let at = l.ops.len();
        l.ops.push(Op::If {
            slot: presence,
            test,
            test_in_message: in_message,
            cmp: c.cmp,
            value: value as u64,
            len: 0,
        });
        Some((at, presence))
    }

    /// Ends the body of the `If` op at `at`.
    pub(super) fn cond_end(&mut self, l: &mut Lower<'_>, at: usize) {
        let body = (l.ops.len() - at - 1) as u16;
        if let Some(Op::If { len, .. }) = l.ops.get_mut(at) {
            *len = body;
        }
    }

    /// The presence slot of a nullable byte field whose ops end at `slot`: the `If` that
    /// guards its bytes.
    pub(super) fn null_presence(l: &mut Lower<'_>, slot: u16) -> Option<u16> {
        l.ops.iter().rev().find_map(|o| match o {
            Op::If { slot: p, test, .. } if *test == slot => Some(*p),
            _ => None,
        })
    }

    /// `name:bytes[u16be]`: a length of that type, then as many bytes. The length is a
    /// hidden field derived from the bytes; with `nullable`, a length of -1 is a null.
    /// Returns the slot of the bytes (shared with the length, which the bytes replace).
    pub(super) fn prefixed(
        &mut self,
        l: &mut Lower<'_>,
        f: &Field,
        (signed, width, big_endian): (bool, u8, bool),
        unit_max: u64,
    ) -> u16 {
        let slot = Self::slot(l);
        let max = f.max.map_or(unit_max, |m| m.0);
        let len_max = int_range(signed, width * 8).1.max(0) as u64;
        if len_max < max && f.max.is_some() {
            self.error(
                Diagnostic::new(
                    format!(
                        "the length of `{}` is too narrow for the maximum {max}: it holds at most {len_max}",
                        f.name.name
                    ),
                    f.max.map_or(f.ty_span, |m| m.1),
                )
                .help("use a wider length type, or a smaller maximum"),
            );
        }
        l.ops.push(Op::Bin {
            slot,
            width,
            big_endian,
            signed,
        });
        let len_info = FieldInfo {
            name: format!("{}_len", f.name.name),
            docs: Vec::new(),
            slot,
            kind: FieldKind::Int {
                signed,
                bits: width * 8,
            },
            presence: None,
            derived_from: Some(slot),
            max: len_max,
        };
        match &mut l.item {
            Some((_, fields)) => fields.push(len_info),
            None => l.fields.push(len_info),
        }
        let in_message = l.item.is_none();
        let null_at = f.nullable.map(|_| {
            let presence = Self::slot(l);
            let at = l.ops.len();
            l.ops.push(Op::If {
                slot: presence,
                test: slot,
                test_in_message: in_message,
                cmp: Cmp::Ne,
                value: u64::MAX,
                len: 1,
            });
            at
        });
        l.ops.push(Op::Bytes {
            slot,
            len: slot,
            len_in_message: in_message,
            max: max.min(len_max).min(MESSAGE_LIMIT) as u32,
        });
        if let Some(at) = null_at {
            self.cond_end(l, at);
        }
        slot
    }

    /// `count * ( ... )` inside a frame: the items are parts of the same frame.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn frame_repeat(
        &mut self,
        l: &mut Lower<'_>,
        f: &Field,
        p: &Part,
        count: &Ident,
        item: &[Unit],
        slot: u16,
        max: u64,
    ) -> Option<usize> {
        if l.item.is_some() {
            self.error(Diagnostic::new("repetitions do not nest", p.span));
            return None;
        }
        let reference = self.reference(l, count, "count");
        let at = l.ops.len();
        l.ops.push(Op::Lit(Vec::new()));
        let idx = self.item_body(l, &f.name.name, item, ItemMode::Frame);
        let len = (l.ops.len() - at - 1) as u16;
        let stride = l.items[idx].stride;
        if let Some((count_slot, count_max, in_message)) = reference {
            if count_max < max && f.max.is_some() {
                self.error(Diagnostic::new(
                    format!(
                        "the count field `{}` is too narrow for the maximum {max}: it holds at most {count_max}",
                        count.name
                    ),
                    f.max.map_or(f.ty_span, |m| m.1),
                ));
            }
            Self::mark_derived(l, count_slot, in_message, slot);
            l.ops[at] = Op::Repeat {
                slot,
                count: count_slot,
                len,
                stride,
                max: max.min(count_max).min(MESSAGE_LIMIT) as u32,
                signed: l.known.get(&count.name).is_some_and(|k| k.signed),
            };
        }
        Some(idx)
    }
}
