//! Lowering of one part of a line or frame: literals, fields of every type, optional
//! and conditional parts.

use super::*;

impl Cx {
    /// Lowers one part of a line or frame; `sep` puts a separator before it.
    pub(super) fn part(&mut self, l: &mut Lower<'_>, p: &Part, sep: bool, in_line: bool) {
        let f = match &p.kind {
            PartKind::Lit(b) => {
                if sep {
                    l.ops.push(Op::Sep);
                }
                l.ops.push(Op::Lit(b.clone()));
                return;
            }
            PartKind::Glue | PartKind::Ows => {
                if !in_line {
                    self.error(Diagnostic::new(
                        "`~` and `ows` are for lines; frame parts have no separators",
                        p.span,
                    ));
                }
                return;
            }
            PartKind::Bits { value, width } => {
                if in_line {
                    self.error(
                        Diagnostic::new("bit literals are for binary frames", p.span)
                            .help("in a line, write the literal as a string"),
                    );
                }
                self.bits_lit(l, *value, *width, p.span);
                return;
            }
            PartKind::Field(f) => f,
        };
        let line_max = l.framing.unit_max();
        if in_line {
            self.binary_only(f, p.span);
        }
        if f.nullable.is_some() && !matches!(f.ty, Type::Prefixed { signed: true, .. }) {
            self.error(
                Diagnostic::new(
                    format!("`nullable` applies to bytes with a signed length, like `{}:bytes[i32be] nullable`", f.name.name),
                    f.nullable.map_or(p.span, |s| s),
                )
                .help("a null is a length of -1, which only a signed length can hold"),
            );
        }
        if f.cond.is_some() && f.optional {
            self.error(Diagnostic::new(
                format!(
                    "`{}` is both optional (`?`) and conditional (`if`): choose one",
                    f.name.name
                ),
                p.span,
            ));
        }
        // Present only under a condition: If { presence, test, .. } then the field's ops.
        let cond_at = match &f.cond {
            Some(c) if !in_line => self.cond_start(l, c),
            _ => None,
        };
        // Optional: Opt { presence, [Sep], op }.
        let opt_at = if f.optional || matches!(f.ty, Type::Flag(_)) {
            let presence = Self::slot(l);
            let at = l.ops.len();
            l.ops.push(Op::Opt {
                slot: presence,
                len: 0,
            });
            Some((at, presence))
        } else {
            None
        };
        if sep && !matches!(f.ty, Type::Many { .. }) {
            l.ops.push(Op::Sep);
        }
        if let Type::Many { item, at_least_one } = &f.ty {
            if is_quoted_words(item) {
                self.quoted_words(l, f, p, sep, in_line, *at_least_one);
                return;
            }
        }
        let mut kind = FieldKind::Bytes;
        let mut int_max = None;
        let mut enc_max = 0;
        let slot;
        match &f.ty {
            Type::Word => {
                slot = Self::slot(l);
                l.ops.push(Op::Word { slot });
            }
            Type::Token => {
                slot = Self::slot(l);
                l.ops.push(Op::Token { slot });
            }
            Type::Rest => {
                slot = Self::slot(l);
                l.ops.push(Op::Rest { slot });
            }
            Type::OneOf(lits) => {
                slot = Self::slot(l);
                l.ops.push(Op::OneOf {
                    slot,
                    lits: lits.clone(),
                });
            }
            Type::Flag(lit) => {
                slot = opt_at.map_or(0, |o| o.1);
                l.ops.push(Op::Lit(lit.clone()));
                kind = FieldKind::Flag;
            }
            Type::Int { signed, bits, hex } if !in_line => {
                // A binary frame: a byte is binary; wider numbers need a byte order.
                slot = Self::slot(l);
                if *bits != 8 || *hex {
                    let name = type_text(&f.ty);
                    self.error(
                        Diagnostic::new(
                            format!("`{name}` is a decimal number, for lines; a binary frame needs a byte order"),
                            f.ty_span,
                        )
                        .help(format!("write `{name}be` (network order) or `{name}le`")),
                    );
                }
                l.ops.push(Op::Bin {
                    slot,
                    width: 1,
                    big_endian: true,
                    signed: *signed,
                });
                let max = int_range(*signed, 8).1;
                int_max = Some(max.max(0) as u64);
                enc_max = max.max(0) as u64;
                kind = FieldKind::Int {
                    signed: *signed,
                    bits: 8,
                };
            }
            Type::Int { signed, bits, hex } => {
                slot = Self::slot(l);
                let (min, max) = int_range(*signed, *bits);
                let max = match f.max {
                    Some((m, _)) => i128::from(m).min(max),
                    _ => max,
                };
                if *hex {
                    l.ops.push(Op::Hex {
                        slot,
                        max: max as u64,
                    });
                } else if *signed {
                    l.ops.push(Op::Int {
                        slot,
                        min: min as i64,
                        max: max as i64,
                    });
                } else {
                    l.ops.push(Op::Uint {
                        slot,
                        max: max as u64,
                    });
                }
                int_max = Some(max.max(0) as u64);
                enc_max = max.max(0) as u64;
                kind = FieldKind::Int {
                    signed: *signed,
                    bits: *bits,
                };
            }
            Type::Bin {
                signed,
                width,
                big_endian,
            } => {
                slot = Self::slot(l);
                l.ops.push(Op::Bin {
                    slot,
                    width: *width,
                    big_endian: *big_endian,
                    signed: *signed,
                });
                let max = int_range(*signed, width * 8).1;
                int_max = Some(max.max(0) as u64);
                enc_max = max.max(0) as u64;
                kind = FieldKind::Int {
                    signed: *signed,
                    bits: width * 8,
                };
            }
            Type::Bytes(len) => {
                let max = f.max.map_or(line_max, |m| m.0);
                let reference = self.reference(l, len, "length");
                slot = match reference {
                    Some((len_slot, _, in_message)) => Self::bytes_slot(l, len_slot, in_message),
                    None => Self::slot(l),
                };
                if let Some(length) = reference {
                    self.counted_bytes(l, f, len, length, slot, max, f.max.is_some());
                }
            }
            Type::Bits(n) => {
                slot = Self::slot(l);
                self.bits_field(l, slot, *n, p.span);
                int_max = Some((1u64 << n) - 1);
                enc_max = (1u64 << n) - 1;
                kind = FieldKind::Int {
                    signed: false,
                    bits: 8,
                };
            }
            Type::Varint => {
                slot = Self::slot(l);
                let max = f.max.map_or(u64::MAX, |m| m.0);
                l.ops.push(Op::Varint { slot, max });
                int_max = Some(max);
                enc_max = max;
                kind = FieldKind::Int {
                    signed: false,
                    bits: 64,
                };
            }
            Type::CStr => {
                slot = Self::slot(l);
                l.ops.push(Op::CStr { slot });
            }
            Type::Quoted => {
                slot = Self::slot(l);
                self.error(
                    Diagnostic::new(
                        format!(
                            "`quoted` reads the words of the rest of the line: write `{}:quoted*` or `{}:quoted+`",
                            f.name.name, f.name.name
                        ),
                        f.ty_span,
                    )
                    .help("a quoted word ends where its quotes do, so the words are read together, up to the end of the line"),
                );
            }
            Type::Prefixed {
                signed,
                width,
                big_endian,
            } => {
                slot = self.prefixed(l, f, (*signed, *width, *big_endian), line_max);
            }
            Type::Repeat { count, item } if !in_line => {
                slot = Self::slot(l);
                let max = f.max.map_or(line_max, |m| m.0);
                let Some(idx) = self.frame_repeat(l, f, p, count, item, slot, max) else {
                    return;
                };
                kind = FieldKind::Seq(idx);
            }
            Type::Lines { .. } | Type::Repeat { .. } | Type::Until { .. } => {
                slot = 0;
                self.error(
                    Diagnostic::new(
                        format!(
                            "`{}` starts a new mode, so it must follow `then`",
                            f.name.name
                        ),
                        p.span,
                    )
                    .help("write `then` before it"),
                );
            }
            Type::Many { item, at_least_one } => {
                slot = Self::slot(l);
                if l.item.is_some() {
                    self.error(Diagnostic::new("repetitions do not nest", p.span));
                    return;
                }
                if item.iter().all(|u| u.parts.iter().all(can_be_empty)) {
                    self.error(
                        Diagnostic::new(
                            format!("the repetition `{}` can consume nothing, so it would never end", f.name.name),
                            p.span,
                        )
                        .help("give each item a part that reads at least one byte, like a word or a literal"),
                    );
                }
                let at = l.ops.len();
                l.ops.push(Op::Many {
                    slot,
                    len: 0,
                    stride: 0,
                    min: u32::from(*at_least_one),
                    max: 0,
                });
                let mode = if in_line {
                    ItemMode::Line { sep }
                } else {
                    ItemMode::Frame
                };
                let idx = self.item_body(l, &f.name.name, item, mode);
                let stride = l.items[idx].stride;
                let len = (l.ops.len() - at - 1) as u16;
                let max = f.max.map_or(line_max, |m| m.0).min(MESSAGE_LIMIT) as u32;
                l.ops[at] = Op::Many {
                    slot,
                    len,
                    stride,
                    min: u32::from(*at_least_one),
                    max,
                };
                kind = FieldKind::Seq(idx);
            }
        }
        if let Some((at, presence)) = opt_at {
            let len = (l.ops.len() - at - 1) as u16;
            l.ops[at] = Op::Opt {
                slot: presence,
                len,
            };
            if !in_line {
                self.error(Diagnostic::new("optional parts are for lines", p.span));
            }
        }
        let mut presence = if f.optional && !matches!(f.ty, Type::Flag(_)) {
            opt_at.map(|o| o.1)
        } else {
            None
        };
        if let Some((at, cond_presence)) = cond_at {
            self.cond_end(l, at);
            presence = Some(cond_presence);
        }
        if let (Some(_), Type::Prefixed { .. }) = (f.nullable, &f.ty) {
            presence = Self::null_presence(l, slot);
        }
        let info = FieldInfo {
            name: f.name.name.clone(),
            docs: f.docs.clone(),
            slot,
            kind,
            presence,
            derived_from: None,
            max: enc_max,
        };
        // A value present only under a condition cannot measure or count anything.
        let int_max = if presence.is_some() { None } else { int_max };
        self.add_field(l, f, info, int_max);
    }

    /// `NAME:quoted*` (or `+`): the rest of the line as words, quoted as Redis reads them.
    fn quoted_words(
        &mut self,
        l: &mut Lower<'_>,
        f: &ast::Field,
        p: &Part,
        sep: bool,
        in_line: bool,
        at_least_one: bool,
    ) {
        if !in_line {
            self.error(
                Diagnostic::new("quoted words are for lines", p.span)
                    .help("in a binary frame, read bytes with `bytes[LEN]` or `cstr`"),
            );
        }
        if l.item.is_some() {
            self.error(Diagnostic::new("repetitions do not nest", p.span));
            return;
        }
        if f.optional || f.cond.is_some() {
            self.error(Diagnostic::new(
                format!(
                    "`{}` reads any number of words already: it cannot be optional or conditional",
                    f.name.name
                ),
                p.span,
            ));
        }
        let slot = Self::slot(l);
        let line_max = l.framing.unit_max();
        let max = f.max.map_or(line_max, |m| m.0).min(MESSAGE_LIMIT) as u32;
        l.ops.push(Op::Quoted {
            slot,
            sep,
            min: u32::from(at_least_one),
            max,
        });
        l.items.push(ItemType {
            struct_name: None,
            fields: vec![FieldInfo {
                name: "item".into(),
                docs: Vec::new(),
                slot: 0,
                kind: FieldKind::Quoted,
                presence: None,
                derived_from: None,
                max: 0,
            }],
            stride: 1,
        });
        let info = FieldInfo {
            name: f.name.name.clone(),
            docs: f.docs.clone(),
            slot,
            kind: FieldKind::Seq(l.items.len() - 1),
            presence: None,
            derived_from: None,
            max: 0,
        };
        self.add_field(l, f, info, None);
    }
}
