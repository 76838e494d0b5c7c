//! Checks a description and lowers it to the [`crate::ir`] form: every error found is
//! reported, each at the token it concerns.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use crate::ast::{
    self, Action, Description, Dir, Event, FramingDecl, Part, PartKind, Span, Type, Unit,
};
use crate::diag::{suggest, Diagnostic};
use crate::ir::{self, FieldInfo, FieldKind, ItemType, Op, Protocol, Target};

mod states;

/// The largest span of one message the runtime handles.
const MESSAGE_LIMIT: u64 = u32::MAX as u64;
/// The most parameters a message takes (`asyncore_runtime::wire::MAX_PARAMS`).
const MAX_PARAMS: usize = 4;

/// Checks `d` and lowers it, or returns every error found.
///
/// ```
/// use asyncore_protocol::{check::check, parse::parse};
/// let d = parse("protocol p framing line \"\\n\" max 1KiB client A = \"a\" state S initial { A -> T }").unwrap();
/// let errors = check(&d).unwrap_err();
/// assert_eq!(errors[0].message, "unknown state `T`");
/// ```
pub fn check(d: &Description) -> Result<Protocol, Vec<Diagnostic>> {
    let mut cx = Cx { errors: Vec::new() };
    let framing = cx.framing(d);
    let nocase = d.nocase;
    let policies = cx.policies(&d.policies, &framing);

    // Messages.
    let mut names: HashMap<&str, Span> = HashMap::new();
    let mut messages = Vec::new();
    for m in &d.messages {
        if names.insert(&m.name.name, m.name.span).is_some() {
            cx.error(
                Diagnostic::new(
                    format!("message `{}` is declared twice", m.name.name),
                    m.name.span,
                )
                .help("give each message its own name"),
            );
        }
        messages.push(cx.message(m, &framing));
    }

    // States.
    let (states, initial) = cx.states(d, &messages);
    let protocol = Protocol {
        name: d.name.name.clone(),
        docs: d.docs.clone(),
        framing,
        nocase,
        messages,
        states,
        initial,
        policies,
    };
    if cx.errors.is_empty() {
        cx.unit_less_alone(d, &protocol);
        cx.params_supplied(d, &protocol);
        cx.distinguishable(d, &protocol);
        cx.duality(d, &protocol);
    }
    if cx.errors.is_empty() {
        Ok(protocol)
    } else {
        Err(cx.errors)
    }
}

struct Cx {
    errors: Vec<Diagnostic>,
}

/// A field seen so far in a message or item, for references by later fields.
struct Known {
    slot: u16,
    int_max: Option<u64>,
    in_item: bool,
}

/// Lowering state of one message.
struct Lower<'a> {
    framing: &'a ir::Framing,
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
    fn error(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    fn framing(&mut self, d: &Description) -> ir::Framing {
        let Some((f, span)) = &d.framing else {
            self.error(
                Diagnostic::new(
                    format!("protocol `{}` has no framing", d.name.name),
                    d.name.span,
                )
                .help("add `framing line \"\\r\\n\" max 4KiB` or `framing length u32be max 1MiB`: every protocol states how its input is cut, with a limit"),
            );
            return ir::Framing::Line {
                term: b"\n".to_vec(),
                max: 4096,
                bare_lf: false,
                crlf: false,
            };
        };
        match f {
            FramingDecl::Line {
                term,
                max,
                bare_lf,
                crlf,
            } => {
                if *crlf && term != b"\n" {
                    self.error(Diagnostic::new(
                        "`crlf accept` applies only to the terminator \"\\n\"",
                        *span,
                    ));
                }
                if term.is_empty() || term.len() > 16 {
                    self.error(Diagnostic::new(
                        "a line terminator has 1 to 16 bytes",
                        *span,
                    ));
                }
                if *bare_lf && term != b"\r\n" {
                    self.error(Diagnostic::new(
                        "`bare_lf` applies only to the terminator \"\\r\\n\"",
                        *span,
                    ));
                }
                if max.0 == 0 || max.0 > MESSAGE_LIMIT {
                    self.error(Diagnostic::new(
                        format!("line limit {} is out of range 1..=4GiB", max.0),
                        max.1,
                    ));
                }
                ir::Framing::Line {
                    term: term.clone(),
                    max: max.0,
                    bare_lf: *bare_lf,
                    crlf: *crlf,
                }
            }
            FramingDecl::Length {
                width,
                big_endian,
                ty,
                max,
                offset,
                adjust,
                includes_header,
                skip,
            } => {
                let header = offset + if *width == 0 { 10 } else { u64::from(*width) };
                if *offset > 64 {
                    self.error(Diagnostic::new(
                        "a length field offset is at most 64",
                        *span,
                    ));
                }
                // The body length is value + adjust (+ the header folded in).
                let adjust = if *includes_header {
                    adjust - header as i64
                } else {
                    *adjust
                };
                let field_max: u64 = match width {
                    0 => u64::MAX >> 1,
                    8 => u64::MAX >> 1,
                    w => (1u64 << (8 * u32::from(*w))) - 1,
                };
                let expressible = (field_max as i128) + adjust as i128;
                if expressible < max.0 as i128 {
                    self.error(
                        Diagnostic::new(
                            format!(
                                "the length field `{}` is too narrow for the maximum {}: it can announce at most {} bytes",
                                ty.name,
                                max.0,
                                expressible.max(0)
                            ),
                            max.1,
                        )
                        .help("use a wider length field or a smaller maximum"),
                    );
                }
                if max.0 == 0 || max.0 > MESSAGE_LIMIT {
                    self.error(Diagnostic::new(
                        format!("frame limit {} is out of range 1..=4GiB", max.0),
                        max.1,
                    ));
                }
                let skip_v = match skip {
                    Some((s, sspan)) => {
                        if *s > header {
                            self.error(Diagnostic::new(
                                format!("cannot skip {s} bytes of a {header}-byte header"),
                                *sspan,
                            ));
                        }
                        *s
                    }
                    None => header,
                };
                ir::Framing::Length {
                    offset: *offset as u8,
                    width: *width,
                    big_endian: *big_endian,
                    adjust,
                    skip: skip_v.min(255) as u8,
                    max: max.0,
                }
            }
        }
    }

    fn policies(&mut self, list: &[ast::Policy], framing: &ir::Framing) -> ir::Policies {
        let mut p = ir::Policies {
            oversize: Action::Close,
            unknown: Action::Close,
            not_allowed: Action::Close,
            invalid: Action::Close,
        };
        let mut seen = HashSet::new();
        for pol in list {
            if !seen.insert(pol.event) {
                self.error(Diagnostic::new(
                    format!("a second policy for `{}`", pol.event.keyword()),
                    pol.span,
                ));
            }
            if matches!(pol.action, Action::Discard) && matches!(pol.event, Event::Oversize) {
                // Fine for both framings: skip to the next line or past the frame.
            }
            if let (Action::Reply { .. }, ir::Framing::Length { .. }) = (&pol.action, framing) {
                self.error(
                    Diagnostic::new("a text reply needs line framing", pol.span)
                        .help("in a length-framed protocol, use `close` or `discard`"),
                );
            }
            let slot = match pol.event {
                Event::Oversize => &mut p.oversize,
                Event::Unknown => &mut p.unknown,
                Event::NotAllowed => &mut p.not_allowed,
                Event::Invalid => &mut p.invalid,
            };
            *slot = pol.action.clone();
        }
        p
    }

    fn message(&mut self, m: &ast::MessageDecl, framing: &ir::Framing) -> ir::Message {
        let mut l = Lower {
            framing,
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
        if let ir::Framing::Length { .. } = framing {
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
        for (i, unit) in m.units.iter().enumerate() {
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
        if RESERVED.contains(&m.name.name.as_str()) || m.name.name.ends_with("Next") {
            self.error(
                Diagnostic::new(
                    format!("`{}` is a name the generated code uses", m.name.name),
                    m.name.span,
                )
                .help("rename the message"),
            );
        }
        let literal_lead = matches!(
            m.units[0]
                .parts
                .iter()
                .find(|p| !matches!(p.kind, PartKind::Glue | PartKind::Ows)),
            Some(Part {
                kind: PartKind::Lit(_),
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
            ir::Framing::Length { max, .. } => {
                l.ops.push(Op::Frame);
                l.max = l.max.saturating_add(max + l.framing.header_len());
                for p in &unit.parts {
                    self.part(l, p, false, false);
                }
                l.ops.push(Op::EndFrame);
            }
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
            PartKind::Field(f) => f,
        };
        let line_max = match l.framing {
            ir::Framing::Line { max, .. } => *max,
            ir::Framing::Length { max, .. } => *max,
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
                let idx = self.item_body(l, &f.name.name, item, sep, true);
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
        let presence = if f.optional && !matches!(f.ty, Type::Flag(_)) {
            opt_at.map(|o| o.1)
        } else {
            None
        };
        let info = FieldInfo {
            name: f.name.name.clone(),
            docs: f.docs.clone(),
            slot,
            kind,
            presence,
            derived_from: None,
            max: enc_max,
        };
        self.add_field(l, f, info, int_max);
    }

    /// Lowers the item of a repetition; returns the item type's index.
    fn item_body(
        &mut self,
        l: &mut Lower<'_>,
        name: &str,
        units: &[Unit],
        sep: bool,
        in_line: bool,
    ) -> usize {
        let saved_known: Vec<String> = l.known.keys().cloned().collect();
        l.item = Some((0, Vec::new()));
        if in_line {
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
                let idx = self.item_body(l, &f.name.name, item, false, false);
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
                let idx = self.item_body(l, &f.name.name, item, false, false);
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

fn type_text(t: &Type) -> String {
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
        PartKind::Field(f) => {
            f.optional
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

/// `snake_case` or `lower` to `CamelCase`.
///
/// ```
/// assert_eq!(asyncore_protocol::check::camel("headers"), "Headers");
/// assert_eq!(asyncore_protocol::check::camel("flush_all"), "FlushAll");
/// ```
pub fn camel(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map_or(String::new(), |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect()
}

fn is_rust_keyword(s: &str) -> bool {
    matches!(
        s,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

/// Whether a message is sent by the server (`server: true`) or by the client.
///
/// ```
/// use asyncore_protocol::{ast::Dir, check::sent_by};
/// assert!(sent_by(Dir::Both, true) && sent_by(Dir::Client, false) && !sent_by(Dir::Server, false));
/// ```
pub fn sent_by(dir: Dir, server: bool) -> bool {
    if server {
        dir.from_server()
    } else {
        dir.from_client()
    }
}

#[cfg(test)]
mod tests;
