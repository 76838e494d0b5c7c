//! Lowering: each message of a checked description to the decoding ops of the [`crate::ir`],
//! its fields and its bounds. Errors found on the way are reported to the checker's
//! [`Cx`], each at the token it concerns.

use std::collections::HashMap;

use crate::ast::{self, Event, Part, PartKind, Type, Unit};
use crate::check::{camel, is_rust_keyword, Cx, MAX_PARAMS, MESSAGE_LIMIT};
use crate::diag::{suggest, Diagnostic};
use crate::ir::{self, FieldInfo, FieldKind, ItemType, Op};

mod frame;

/// A field seen so far in a message or item, for references by later fields.
struct Known {
    slot: u16,
    int_max: Option<u64>,
    in_item: bool,
    signed: bool,
}

/// How the parts of a repetition's item are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemMode {
    /// Within a line, separated by spaces unless glued (`sep`: a space before the first).
    Line { sep: bool },
    /// Units of their own after `then` (lines, raw runs).
    Units,
    /// Within a binary frame, with no separators.
    Frame,
}

/// Lowering state of one message.
struct Lower<'a> {
    framing: &'a ir::Framing,
    /// The op that opens a frame of this message: `Frame`, or `FrameWith` its named
    /// framing.
    frame_op: Op,
    /// Bits of the current byte taken by bit fields so far (0 between bytes).
    bitpos: u8,
    ops: Vec<Op>,
    fields: Vec<FieldInfo>,
    items: Vec<ItemType>,
    known: HashMap<String, Known>,
    next_slot: u16,
    // Inside a repetition item: its own slots and fields.
    item: Option<(u16, Vec<FieldInfo>)>,
    max: u64,
    message: String,
}

impl Cx {
    pub(crate) fn message(
        &mut self,
        m: &ast::MessageDecl,
        main: &ir::Framing,
        named: &[ir::NamedFraming],
    ) -> ir::Message {
        let (framing, framing_index) = match &m.framing {
            None => (main, None),
            Some(id) => match named.iter().position(|n| n.name == id.name) {
                Some(i) => (&named[i].framing, Some(i)),
                None => {
                    let mut diag =
                        Diagnostic::new(format!("unknown framing `{}`", id.name), id.span);
                    let names: Vec<&str> = named.iter().map(|n| n.name.as_str()).collect();
                    diag = match suggest(&id.name, names.iter().copied()) {
                        Some(s) => diag.help(format!("did you mean `{s}`?")),
                        None => diag.help(format!(
                            "declare it: `framing {} = length u32be max 10KiB`",
                            id.name
                        )),
                    };
                    self.error(diag);
                    (main, None)
                }
            },
        };
        if framing_index.is_some() && !m.params.is_empty() {
            self.error(Diagnostic::new(
                "a message with parameters is read in the protocol's framing",
                m.name.span,
            ));
        }
        let mut l = Lower {
            framing,
            frame_op: framing_index.map_or(Op::Frame, Op::FrameWith),
            bitpos: 0,
            ops: Vec::new(),
            fields: Vec::new(),
            items: Vec::new(),
            known: HashMap::new(),
            next_slot: 0,
            item: None,
            max: 0,
            message: m.name.name.clone(),
        };
        let (mut invalid, mut oversize) = (None, None);
        for p in &m.policies {
            match p.event {
                Event::Invalid => invalid = Some(p.action.clone()),
                Event::Oversize => oversize = Some(p.action.clone()),
                _ => self.error(
                    Diagnostic::new(
                        "a message takes only `on invalid` and `on oversize` policies",
                        p.span,
                    )
                    .help("declare the other policies for the whole protocol"),
                ),
            }
        }
        self.params(&mut l, m);
        if let ir::Framing::Length { .. } | ir::Framing::Fixed { .. } = framing {
            if m.units.len() > 1 {
                self.error(
                    Diagnostic::new(
                        "a length-framed message is one frame: `then` has nothing to switch to",
                        m.units[1].span,
                    )
                    .help("put all the fields in one frame"),
                );
            }
        }
        // A message whose framing is unknown is not lowered: its errors would only follow
        // from the framing it does not have.
        let unknown_framing = m.framing.is_some() && framing_index.is_none();
        for (i, unit) in m.units.iter().enumerate().filter(|_| !unknown_framing) {
            self.unit(&mut l, unit, i == 0 && m.params.is_empty());
        }
        for (i, param) in m.params.iter().enumerate() {
            let used = l.ops.iter().any(|o| match o {
                Op::Bytes {
                    len,
                    len_in_message: true,
                    ..
                } => usize::from(*len) == i,
                Op::Repeat { count, .. } => usize::from(*count) == i,
                _ => false,
            });
            if !used {
                self.error(
                    Diagnostic::new(
                        format!("the parameter `{}` is never used", param.name),
                        param.span,
                    )
                    .help(format!(
                        "use it as a length (`data:bytes[{}]`) or a count, or remove it",
                        param.name
                    )),
                );
            }
        }
        let one_line = matches!(l.ops.first(), Some(Op::Line))
            && l.ops.iter().filter(|o| matches!(o, Op::Line)).count() == 1
            && matches!(l.ops.last(), Some(Op::EndLine));
        let mut line_max = None;
        if let Some((limit, span)) = m.limit {
            if limit == 0 || limit > MESSAGE_LIMIT {
                self.error(Diagnostic::new(
                    format!("message limit {limit} is out of range 1..=4GiB"),
                    span,
                ));
            }
            match framing {
                // A one-line message may be longer than the framing's lines: its side's
                // lines may then be that long.
                ir::Framing::Line { max, .. } if one_line && limit > *max => {
                    line_max = Some(limit);
                    l.max = limit + framing.term_len();
                }
                _ => l.max = l.max.min(limit),
            }
        } else if l.max > MESSAGE_LIMIT {
            self.error(
                Diagnostic::new(
                    format!(
                        "message `{}` can span {} bytes, more than the 4 GiB a message may span",
                        m.name.name, l.max
                    ),
                    m.name.span,
                )
                .help("bound the whole message: add `limit 512MiB` (or another size) at its end"),
            );
        }
        const RESERVED: &[&str] = &[
            "State",
            "Server",
            "Client",
            "ClientMessage",
            "ServerMessage",
            "ServerChannel",
            "ClientChannel",
            "ServerCx",
            "ClientCx",
        ];
        // Handlers the generated traits have besides one per message.
        const HANDLERS: &[&str] = &["Open", "Close", "BadInput", "Timer"];
        if RESERVED.contains(&m.name.name.as_str()) || m.name.name.ends_with("Next") {
            self.error(
                Diagnostic::new(
                    format!("`{}` is a name the generated code uses", m.name.name),
                    m.name.span,
                )
                .help("rename the message"),
            );
        } else if HANDLERS.contains(&m.name.name.as_str()) {
            self.error(
                Diagnostic::new(
                    format!(
                        "the handler of `{}` would be `on_{}`, which the generated traits already have",
                        m.name.name,
                        m.name.name.to_ascii_lowercase()
                    ),
                    m.name.span,
                )
                .help(format!("rename the message, like `{}Request`", m.name.name)),
            );
        }
        let literal_lead = matches!(
            m.units[0]
                .parts
                .iter()
                .find(|p| !matches!(p.kind, PartKind::Glue | PartKind::Ows)),
            Some(Part {
                kind: PartKind::Lit(_) | PartKind::Bits { .. },
                ..
            })
        );
        ir::Message {
            name: m.name.name.clone(),
            docs: m.docs.clone(),
            dir: m.dir,
            ops: l.ops,
            slots: l.next_slot,
            fields: l.fields,
            items: l.items,
            max: l.max.min(MESSAGE_LIMIT),
            invalid,
            oversize,
            params: m.params.iter().map(|p| p.name.clone()).collect(),
            framing: framing_index,
            replies: Vec::new(),
            span: m.span,
            literal_lead,
            line_max,
        }
    }

    /// The parameters of a message: slots `0..n`, filled by `Op::Param` before any input
    /// is read, usable as lengths and counts like integer fields.
    fn params(&mut self, l: &mut Lower<'_>, m: &ast::MessageDecl) {
        if m.params.len() > MAX_PARAMS {
            self.error(
                Diagnostic::new(
                    format!(
                        "`{}` takes {} parameters; a message takes at most {MAX_PARAMS}",
                        m.name.name,
                        m.params.len()
                    ),
                    m.params[MAX_PARAMS].span,
                )
                .help("pass fewer values; read the others from the message"),
            );
        }
        for (i, p) in m.params.iter().enumerate().take(MAX_PARAMS) {
            if l.known.contains_key(&p.name) {
                self.error(Diagnostic::new(
                    format!(
                        "parameter `{}` is declared twice in `{}`",
                        p.name, m.name.name
                    ),
                    p.span,
                ));
            }
            if is_rust_keyword(&p.name) {
                self.error(
                    Diagnostic::new(
                        format!("`{}` is a Rust keyword and cannot name a parameter", p.name),
                        p.span,
                    )
                    .help("choose another name"),
                );
            }
            let slot = Self::slot(l);
            l.known.insert(
                p.name.clone(),
                Known {
                    slot,
                    int_max: Some(u64::MAX),
                    in_item: false,
                    signed: false,
                },
            );
            l.ops.push(Op::Param {
                slot,
                param: i as u8,
            });
        }
    }

    /// Whether a unit after `then` is raw (counted bytes, lines, repetitions of units,
    /// literals in the stream) rather than a line.
    fn is_raw(unit: &Unit) -> bool {
        unit.parts.iter().all(|p| match &p.kind {
            PartKind::Lit(_) => true,
            PartKind::Field(f) => {
                matches!(
                    f.ty,
                    Type::Bytes(_) | Type::Lines { .. } | Type::Repeat { .. } | Type::Until { .. }
                ) && !f.optional
            }
            _ => false,
        })
    }

    fn unit(&mut self, l: &mut Lower<'_>, unit: &Unit, first: bool) {
        match l.framing.clone() {
            ir::Framing::Length { .. } | ir::Framing::Fixed { .. } => self.frame_unit(l, unit),
            ir::Framing::Line { max, .. } => {
                let term_len = l.framing.term_len();
                let lead_is_lit = matches!(
                    unit.parts.first(),
                    Some(Part {
                        kind: PartKind::Lit(_),
                        ..
                    })
                );
                if Self::is_raw(unit) && (!first || !lead_is_lit) {
                    for p in &unit.parts {
                        self.raw_part(l, p);
                    }
                    return;
                }
                self.optional_swallows(unit, l.framing);
                l.ops.push(Op::Line);
                l.max = l.max.saturating_add(max + term_len);
                let mut need_sep = false;
                let mut glue = false;
                let n = unit.parts.len();
                for (i, p) in unit.parts.iter().enumerate() {
                    match &p.kind {
                        PartKind::Glue => {
                            if !need_sep || i + 1 == n {
                                self.error(Diagnostic::new(
                                    "`~` joins two parts; it needs one on each side",
                                    p.span,
                                ));
                            }
                            glue = true;
                        }
                        PartKind::Ows => {
                            l.ops.push(Op::Ows);
                            glue = true;
                        }
                        _ => {
                            let sep = need_sep && !glue;
                            if let PartKind::Field(f) = &p.kind {
                                if matches!(f.ty, Type::Many { .. }) && i + 1 != n {
                                    self.error(
                                        Diagnostic::new(
                                            format!("the repetition `{}` runs to the end of the line, so it must be the last part", f.name.name),
                                            p.span,
                                        )
                                        .help("move it to the end of the line, or put what follows after `then`"),
                                    );
                                }
                            }
                            self.part(l, p, sep, true);
                            need_sep = true;
                            glue = false;
                        }
                    }
                }
                l.ops.push(Op::EndLine);
            }
        }
    }

    /// An optional part is tried once and kept if it matches: the decoder does not go back
    /// to try without it. So an optional part that can match what the next required part
    /// of its line starts with (`reply:word? bytes:u32`: a word is also a number) would
    /// swallow it, and the short form would never decode. That is an error.
    fn optional_swallows(&mut self, unit: &Unit, framing: &ir::Framing) {
        let ir::Framing::Line { term, .. } = framing else {
            return;
        };
        let fields: Vec<(usize, &ast::Field, &Part)> = unit
            .parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.kind {
                PartKind::Field(f) => Some((i, &**f, p)),
                _ => None,
            })
            .collect();
        for (i, f, p) in &fields {
            let optional = f.optional || matches!(f.ty, Type::Flag(_));
            if !optional {
                continue;
            }
            let next_required = unit.parts[i + 1..].iter().find_map(|q| match &q.kind {
                PartKind::Field(g) if !g.optional && !matches!(g.ty, Type::Flag(_)) => {
                    Some((first_bytes(&g.ty, term), g.name.name.clone()))
                }
                PartKind::Lit(b) => {
                    Some((lit_first(b), format!("{:?}", String::from_utf8_lossy(b))))
                }
                _ => None,
            });
            let Some((needed, what)) = next_required else {
                continue;
            };
            let mine = first_bytes(&f.ty, term);
            if mine.iter().zip(needed.iter()).any(|(a, b)| *a && *b) {
                self.error(
                    Diagnostic::new(
                        format!(
                            "the optional `{}` can take what `{what}` needs, so a line without it would not decode",
                            f.name.name
                        ),
                        p.span,
                    )
                    .help(format!(
                        "an optional part is kept once it matches; start it with a literal that `{what}` cannot start with, or declare two messages, one with `{}` and one without",
                        f.name.name
                    )),
                );
            }
        }
    }

    /// Allocates a slot in the message or the current item.
    fn slot(l: &mut Lower<'_>) -> u16 {
        match &mut l.item {
            Some((next, _)) => {
                *next += 1;
                *next - 1
            }
            None => {
                l.next_slot += 1;
                l.next_slot - 1
            }
        }
    }

    fn add_field(
        &mut self,
        l: &mut Lower<'_>,
        f: &ast::Field,
        info: FieldInfo,
        int_max: Option<u64>,
    ) {
        if l.known.contains_key(&f.name.name) {
            self.error(Diagnostic::new(
                format!(
                    "field `{}` is declared twice in `{}`",
                    f.name.name, l.message
                ),
                f.name.span,
            ));
        }
        if is_rust_keyword(&f.name.name) {
            self.error(
                Diagnostic::new(
                    format!(
                        "`{}` is a Rust keyword and cannot name a field",
                        f.name.name
                    ),
                    f.name.span,
                )
                .help("choose another name"),
            );
        }
        l.known.insert(
            f.name.name.clone(),
            Known {
                slot: info.slot,
                int_max,
                in_item: l.item.is_some(),
                signed: matches!(info.kind, FieldKind::Int { signed: true, .. }),
            },
        );
        match &mut l.item {
            Some((_, fields)) => fields.push(info),
            None => l.fields.push(info),
        }
    }

    /// Looks up the integer field `name` used as a length or count by the field at `user`.
    fn reference(
        &mut self,
        l: &mut Lower<'_>,
        name: &ast::Ident,
        what: &str,
    ) -> Option<(u16, u64, bool)> {
        match l.known.get(&name.name) {
            Some(k) => match k.int_max {
                Some(max) => {
                    let in_message = !k.in_item;
                    let slot = k.slot;
                    // Mark the field derived: its value comes from what it measures.
                    Some((slot, max, in_message))
                }
                None => {
                    self.error(
                        Diagnostic::new(
                            format!("the {what} field `{}` is not an integer", name.name),
                            name.span,
                        )
                        .help(format!(
                            "declare `{}` with an integer type such as usize",
                            name.name
                        )),
                    );
                    None
                }
            },
            None => {
                self.error(
                    Diagnostic::new(
                        format!("the {what} field `{}` is used before it is read", name.name),
                        name.span,
                    )
                    .help(format!(
                        "declare `{}:usize` before this field, in the same message",
                        name.name
                    )),
                );
                None
            }
        }
    }

    /// The slot of a byte field whose length is in `len_slot`: the length's own slot when
    /// both are in the same scope and nothing else measures with that length (the decoder
    /// reads the length, then overwrites it with the bytes; the length is not a field of the
    /// Rust type, so nothing reads it back), else a new slot.
    fn bytes_slot(l: &mut Lower<'_>, len_slot: u16, in_message: bool) -> u16 {
        let same_scope = in_message == l.item.is_none();
        let fields: &Vec<FieldInfo> = match &l.item {
            Some((_, f)) if !in_message => f,
            _ => &l.fields,
        };
        let free = fields
            .iter()
            .any(|f| f.slot == len_slot && f.derived_from.is_none());
        if same_scope && free {
            len_slot
        } else {
            Self::slot(l)
        }
    }

    /// Lowers `f:bytes[len]` into `slot`, given the length field `(slot, largest value, in
    /// the message)`: the narrowness check (when `check_width`), the length marked as
    /// derived from the bytes, and the op.
    #[allow(clippy::too_many_arguments)]
    fn counted_bytes(
        &mut self,
        l: &mut Lower<'_>,
        f: &ast::Field,
        len: &ast::Ident,
        (len_slot, len_max, in_message): (u16, u64, bool),
        slot: u16,
        max: u64,
        check_width: bool,
    ) {
        if check_width && len_max < max {
            self.error(
                Diagnostic::new(
                    format!(
                        "the length field `{}` is too narrow for the maximum {max} of `{}`: it holds at most {len_max}",
                        len.name, f.name.name
                    ),
                    f.max.map_or(f.ty_span, |m| m.1),
                )
                .help("use a wider integer type for the length, or a smaller maximum"),
            );
        }
        Self::mark_derived(l, len_slot, in_message, slot);
        l.ops.push(Op::Bytes {
            slot,
            len: len_slot,
            len_in_message: in_message,
            max: max.min(MESSAGE_LIMIT) as u32,
        });
    }

    fn mark_derived(l: &mut Lower<'_>, slot: u16, in_message: bool, from: u16) {
        let fields: &mut Vec<FieldInfo> = if in_message {
            &mut l.fields
        } else {
            match &mut l.item {
                Some((_, f)) => f,
                None => &mut l.fields,
            }
        };
        if let Some(f) = fields.iter_mut().find(|f| f.slot == slot) {
            f.derived_from = Some(from);
        }
    }

    /// Lowers one part of a line or frame; `sep` puts a separator before it.
    fn part(&mut self, l: &mut Lower<'_>, p: &Part, sep: bool, in_line: bool) {
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
                    Some((m, _)) if !*signed => m.min(max as u64) as i128,
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

    /// Lowers the item of a repetition; returns the item type's index.
    fn item_body(
        &mut self,
        l: &mut Lower<'_>,
        name: &str,
        units: &[Unit],
        mode: ItemMode,
    ) -> usize {
        let saved_known: Vec<String> = l.known.keys().cloned().collect();
        l.item = Some((0, Vec::new()));
        if mode == ItemMode::Frame {
            for p in units.iter().flat_map(|u| u.parts.iter()) {
                self.frame_part(l, p);
            }
            if l.bitpos != 0 {
                self.error(Diagnostic::new(
                    format!("the bit fields of an item of `{name}` do not fill their byte"),
                    units.first().map_or_else(Default::default, |u| u.span),
                ));
                l.bitpos = 0;
            }
        } else if let ItemMode::Line { sep } = mode {
            // One line-local item: [Sep] parts.
            let mut first = true;
            let mut glue = false;
            for p in units.iter().flat_map(|u| u.parts.iter()) {
                match p.kind {
                    PartKind::Glue => glue = true,
                    PartKind::Ows => {
                        l.ops.push(Op::Ows);
                        glue = true;
                    }
                    _ => {
                        if first && !sep {
                            // A repetition that starts its line: items are separated by
                            // spaces, which the first one may do without.
                            l.ops.push(Op::Ows);
                        }
                        let s = if first { sep } else { !glue };
                        self.part(l, p, s, true);
                        first = false;
                        glue = false;
                    }
                }
            }
        } else {
            for (i, u) in units.iter().enumerate() {
                if i == 0 && Self::is_raw(u) {
                    for p in &u.parts {
                        self.raw_part(l, p);
                    }
                } else {
                    self.unit(l, u, false);
                }
            }
        }
        let (stride, fields) = l.item.take().unwrap_or_default();
        l.known.retain(|k, _| saved_known.contains(k));
        let visible: Vec<&FieldInfo> = fields.iter().filter(|f| f.derived_from.is_none()).collect();
        // An item that is a single byte field and nothing else (`keys:word+`) is just
        // `&[u8]`; otherwise (several fields, or a length it carries) a struct.
        let struct_name = if stride == 1
            && visible.len() == 1
            && visible[0].kind == FieldKind::Bytes
            && visible[0].presence.is_none()
        {
            None
        } else {
            Some(format!("{}{}", l.message, camel(name)))
        };
        l.items.push(ItemType {
            struct_name,
            fields,
            stride,
        });
        l.items.len() - 1
    }

    /// Lowers a part of a raw unit (after `then`).
    fn raw_part(&mut self, l: &mut Lower<'_>, p: &Part) {
        let f = match &p.kind {
            PartKind::Lit(b) => {
                l.ops.push(Op::Lit(b.clone()));
                l.max = l.max.saturating_add(b.len() as u64);
                return;
            }
            PartKind::Field(f) => f,
            _ => return,
        };
        let need_max = |cx: &mut Cx, what: &str| -> u64 {
            match f.max {
                Some((m, _)) => m,
                None => {
                    cx.error(
                        Diagnostic::new(format!("the field `{}` is unbounded", f.name.name), f.name.span)
                            .help(format!("{what} needs a limit: write `max` and a size after its type, like `{}:{} max 1MiB`", f.name.name, type_text(&f.ty))),
                    );
                    0
                }
            }
        };
        let slot = match &f.ty {
            Type::Bytes(len) => match l.known.get(&len.name) {
                Some(k) if k.int_max.is_some() => Self::bytes_slot(l, k.slot, !k.in_item),
                _ => Self::slot(l),
            },
            _ => Self::slot(l),
        };
        let kind;
        match &f.ty {
            Type::Bytes(len) => {
                let max = need_max(self, "a run of bytes after `then`");
                kind = FieldKind::Bytes;
                if let Some(length) = self.reference(l, len, "length") {
                    self.counted_bytes(l, f, len, length, slot, max, true);
                }
                l.max = l.max.saturating_add(max);
            }
            Type::Lines { marker, unstuff } => {
                let max = need_max(self, "a run of lines");
                l.ops.push(Op::LinesUntil {
                    slot,
                    marker: marker.clone(),
                    max: max.min(MESSAGE_LIMIT) as u32,
                });
                kind = FieldKind::Lines {
                    unstuff: unstuff.clone(),
                };
                l.max = l.max.saturating_add(max);
            }
            Type::Repeat { .. } | Type::Until { .. } if l.item.is_some() => {
                self.error(Diagnostic::new("repetitions do not nest", p.span));
                return;
            }
            Type::Repeat { count, item } => {
                let max = need_max(self, "a repetition");
                let reference = self.reference(l, count, "count");
                let at = l.ops.len();
                l.ops.push(Op::Lit(Vec::new()));
                let before = l.max;
                l.max = 0;
                let idx = self.item_body(l, &f.name.name, item, ItemMode::Units);
                let item_max = l.max;
                l.max = before.saturating_add(item_max.saturating_mul(max));
                let len = (l.ops.len() - at - 1) as u16;
                let stride = l.items[idx].stride;
                if let Some((count_slot, count_max, in_message)) = reference {
                    if count_max < max {
                        self.error(Diagnostic::new(
                            format!("the count field `{}` is too narrow for the maximum {max}: it holds at most {count_max}", count.name),
                            f.max.map_or(f.ty_span, |m| m.1),
                        ));
                    }
                    Self::mark_derived(l, count_slot, in_message, slot);
                    l.ops[at] = Op::Repeat {
                        slot,
                        count: count_slot,
                        len,
                        stride,
                        max: max.min(MESSAGE_LIMIT) as u32,
                    };
                }
                kind = FieldKind::Seq(idx);
            }
            Type::Until { item, marker } => {
                let max = need_max(self, "a repetition");
                let at = l.ops.len();
                l.ops.push(Op::Lit(Vec::new()));
                let before = l.max;
                l.max = 0;
                let idx = self.item_body(l, &f.name.name, item, ItemMode::Units);
                let item_max = l.max;
                l.max = before
                    .saturating_add(item_max.saturating_mul(max))
                    .saturating_add(marker.len() as u64 + 2);
                let len = (l.ops.len() - at - 1) as u16;
                let stride = l.items[idx].stride;
                l.ops[at] = Op::ManyUntil {
                    slot,
                    marker: marker.clone(),
                    len,
                    stride,
                    max: max.min(MESSAGE_LIMIT) as u32,
                };
                kind = FieldKind::Seq(idx);
            }
            _ => return,
        }
        let info = FieldInfo {
            name: f.name.name.clone(),
            docs: f.docs.clone(),
            slot,
            kind,
            presence: None,
            derived_from: None,
            max: 0,
        };
        self.add_field(l, f, info, None);
    }
}

pub(crate) fn type_text(t: &Type) -> String {
    match t {
        Type::Word => "word".into(),
        Type::Token => "token".into(),
        Type::Rest => "rest".into(),
        Type::Int { signed, bits, hex } => {
            if *hex {
                "hex".into()
            } else {
                format!("{}{bits}", if *signed { "i" } else { "u" })
            }
        }
        Type::Bin {
            signed,
            width,
            big_endian,
        } => format!(
            "{}{}{}",
            if *signed { "i" } else { "u" },
            width * 8,
            if *big_endian { "be" } else { "le" }
        ),
        Type::Bytes(n) => format!("bytes[{}]", n.name),
        Type::Prefixed {
            signed,
            width,
            big_endian,
        } => format!(
            "bytes[{}{}{}]",
            if *signed { "i" } else { "u" },
            width * 8,
            if *width == 1 {
                ""
            } else if *big_endian {
                "be"
            } else {
                "le"
            }
        ),
        Type::Bits(n) => format!("u{n}"),
        Type::Varint => "varint".into(),
        Type::CStr => "cstr".into(),
        Type::Flag(_) => "flag".into(),
        Type::OneOf(_) => "one_of".into(),
        Type::Lines { .. } => "lines".into(),
        Type::Many { .. } => "many".into(),
        Type::Repeat { count, .. } => format!("{} * (...)", count.name),
        Type::Until { .. } => "(...)* until".into(),
    }
}

fn can_be_empty(p: &Part) -> bool {
    match &p.kind {
        PartKind::Lit(b) => b.is_empty(),
        PartKind::Glue | PartKind::Ows => true,
        PartKind::Bits { .. } => false,
        PartKind::Field(f) => {
            f.optional
                || f.cond.is_some()
                || match &f.ty {
                    Type::Rest | Type::Flag(_) | Type::Bytes(_) | Type::Lines { .. } => true,
                    Type::Many { at_least_one, item } => {
                        !at_least_one || item.iter().all(|u| u.parts.iter().all(can_be_empty))
                    }
                    Type::OneOf(l) => l.iter().any(Vec::is_empty),
                    _ => false,
                }
        }
    }
}

fn int_range(signed: bool, bits: u8) -> (i128, i128) {
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// The bytes a part of this type can start with, as a table.
fn first_bytes(ty: &Type, term: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    for b in 0..=255u8 {
        let space = b == b' ' || b == b'\t' || term.contains(&b);
        set[usize::from(b)] = match ty {
            Type::Word | Type::Rest | Type::Lines { .. } => !space,
            Type::Token => b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b),
            Type::Int { hex: true, .. } => b.is_ascii_hexdigit(),
            Type::Int { signed, .. } => b.is_ascii_digit() || (*signed && b == b'-'),
            Type::Flag(l) => l.first() == Some(&b),
            Type::OneOf(lits) => lits.iter().any(|l| l.first() == Some(&b)),
            Type::Many { item, .. } => item
                .first()
                .and_then(|u| {
                    u.parts.iter().find_map(|p| match &p.kind {
                        PartKind::Field(f) => Some(first_bytes(&f.ty, term)[usize::from(b)]),
                        PartKind::Lit(l) => Some(l.first() == Some(&b)),
                        _ => None,
                    })
                })
                .unwrap_or(false),
            _ => !space,
        };
    }
    set
}

/// The first byte of a literal, as a table (both cases: keywords may be `nocase`).
fn lit_first(lit: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    if let Some(&b) = lit.first() {
        set[usize::from(b.to_ascii_lowercase())] = true;
        set[usize::from(b.to_ascii_uppercase())] = true;
    }
    set
}
