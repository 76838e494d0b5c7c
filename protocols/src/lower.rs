//! Lowering: each message of a checked description to the decoding ops of the [`crate::ir`],
//! its fields and its bounds. Errors found on the way are reported to the checker's
//! [`Cx`], each at the token it concerns.

use std::collections::HashMap;

use crate::ast::{self, Event, Part, PartKind, Type, Unit};
use crate::check::{camel, is_rust_keyword, Cx, MAX_PARAMS, MESSAGE_LIMIT};
use crate::diag::{suggest, Diagnostic};
use crate::ir::{self, FieldInfo, FieldKind, ItemType, Op};

mod frame;
mod line;
mod part;
mod policy;
mod repeat;

use policy::Place;

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
    /// The policies of its parts (`else`).
    own: Vec<ir::PartPolicy>,
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
            own: Vec::new(),
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
        const HANDLERS: &[&str] = &["Open", "Close", "BadInput", "Timer", "Produce"];
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
            continues: None,
            span: m.span,
            literal_lead,
            line_max,
            part_policies: l.own,
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
        Type::Quoted => "quoted".into(),
        Type::Flag(_) => "flag".into(),
        Type::OneOf(_) => "one_of".into(),
        Type::Lines { .. } => "lines".into(),
        Type::Many { .. } => "many".into(),
        Type::Repeat { count, .. } => format!("{} * (...)", count.name),
        Type::Until { .. } => "(...)* until".into(),
    }
}

/// Whether a repetition's item is one `quoted` field: `quoted*`, the words of a line.
fn is_quoted_words(item: &[Unit]) -> bool {
    matches!(item, [Unit { parts, .. }] if matches!(parts.as_slice(), [Part { kind: PartKind::Field(f), .. }] if f.ty == Type::Quoted))
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
