//! Encoders: straight-line code over `asyncore_runtime::wire::Encoder`, one statement per op.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::bytes_lit;
use crate::ir::{FieldInfo, FieldKind, Framing, Message, Op, Protocol};

/// How to reach a field's value in the current scope. A byte field may share its slot
/// with the length that measures it, so integers and the rest are kept apart.
#[derive(Clone)]
struct Env {
    /// Slot to the expression of a visible field's value (not integers).
    values: HashMap<u16, TokenStream>,
    /// Slot to the field (not integers), for names and kinds.
    fields: HashMap<u16, FieldInfo>,
    /// Slot to an integer field's value (given, or derived from what it measures).
    ints: HashMap<u16, TokenStream>,
    /// Slot to an integer field, for its name.
    int_fields: HashMap<u16, FieldInfo>,
    /// Presence slot to the optional field or flag it guards.
    presence: HashMap<u16, FieldInfo>,
    /// Inside a repetition item: the message's integers, for conditions on them.
    outer_ints: HashMap<u16, TokenStream>,
}

impl Env {
    fn new(fields: &[FieldInfo], access: impl Fn(&FieldInfo) -> TokenStream) -> Env {
        let mut env = Env {
            values: HashMap::new(),
            fields: HashMap::new(),
            ints: HashMap::new(),
            int_fields: HashMap::new(),
            presence: HashMap::new(),
            outer_ints: HashMap::new(),
        };
        for f in fields {
            let int = matches!(f.kind, FieldKind::Int { .. });
            if int {
                env.int_fields.insert(f.slot, f.clone());
            } else {
                env.fields.insert(f.slot, f.clone());
            }
            if let Some(p) = f.presence {
                env.presence.insert(p, f.clone());
            }
            if f.kind == FieldKind::Flag {
                env.presence.insert(f.slot, f.clone());
            }
            if f.derived_from.is_none() {
                if int {
                    env.ints.insert(f.slot, access(f));
                } else {
                    env.values.insert(f.slot, access(f));
                }
            }
        }
        // Derived fields: the length or count of what they measure; a null (a missing
        // nullable value) is measured as -1.
        for f in fields {
            if let Some(from) = f.derived_from {
                if let Some(v) = env.values.get(&from) {
                    let nullable = env.fields.get(&from).is_some_and(|s| s.presence.is_some());
                    let expr = if nullable {
                        quote!(match #v { ::core::option::Option::Some(__x) => __x.len() as i64, ::core::option::Option::None => -1i64 })
                    } else {
                        quote!((#v).len())
                    };
                    env.ints.insert(f.slot, expr);
                }
            }
        }
        env
    }

    fn value(&self, slot: u16) -> TokenStream {
        self.values.get(&slot).cloned().unwrap_or_else(|| quote!(0))
    }

    fn name(&self, slot: u16) -> String {
        self.fields
            .get(&slot)
            .map_or_else(|| "?".to_string(), |f| f.name.clone())
    }

    fn int(&self, slot: u16) -> TokenStream {
        self.ints.get(&slot).cloned().unwrap_or_else(|| quote!(0))
    }

    /// The expression of the optional field `f` (an `Option`), and this scope with `f`
    /// read as `__v`: for the parts written when it is there, inside
    /// `if let Some(__v) = ...`.
    fn unwrapped(&self, f: &FieldInfo) -> (TokenStream, Env) {
        let mut inner = self.clone();
        if matches!(f.kind, FieldKind::Int { .. }) {
            inner.ints.insert(f.slot, quote!(__v));
            (self.int(f.slot), inner)
        } else {
            inner.values.insert(f.slot, quote!(__v));
            (self.value(f.slot), inner)
        }
    }

    fn int_name(&self, slot: u16) -> String {
        self.int_fields
            .get(&slot)
            .map_or_else(|| "?".to_string(), |f| f.name.clone())
    }
}

/// The body of `fn encode(&self, out)`.
pub(crate) fn message_body(p: &Protocol, m: &Message) -> TokenStream {
    let env = Env::new(&m.fields, |f| {
        let n = format_ident!("{}", f.name);
        quote!(self.#n)
    });
    // A message both sides send is written with the larger limits of the two; a message
    // of a named length framing with that framing.
    let framing = match m.framing.map(|i| &p.framings[i].framing) {
        Some(Framing::Length { .. }) => {
            let f = super::framing_ident(m.framing.unwrap_or(0));
            quote!(#f)
        }
        _ if m.dir.from_server() => quote!(SERVER_SEND_FRAMING),
        _ => quote!(CLIENT_SEND_FRAMING),
    };
    if let Some((parts, values)) = parts(&m.ops, &env).filter(|_| super::compact(p)) {
        // Data rather than code: the runtime's `encode_parts` (compiled once) walks the
        // parts, which costs the crate that uses `protocol!` far less to compile than a
        // call per part in each message's encoder.
        return quote! {
            ::asyncore_runtime::wire::Encoder::encode_parts(out, &#framing, &[#(#parts),*], &[#(#values),*])
        };
    }
    STRAIGHT.set(!super::compact(p));
    let body = ops(m, &m.ops, &env);
    quote! {
        let mut e = ::asyncore_runtime::wire::Encoder::new(out, &#framing);
        #body
        e.finish()
    }
}

std::thread_local! {
    /// The encoder being generated is of a small description ([`super::compact`]): its
    /// literals and line ends are written by calls that inline.
    static STRAIGHT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether literals and line ends are written inline ([`STRAIGHT`]).
fn straight() -> bool {
    STRAIGHT.get()
}

/// The parts and values for `Encoder::encode_parts`, if the message is made only of
/// what parts can say: literals, separators, lines and frames, plain and binary fields,
/// flags and optional fields (not conditions on other fields, nor repetitions).
fn parts(list: &[Op], env: &Env) -> Option<(Vec<TokenStream>, Vec<TokenStream>)> {
    let (mut parts, mut values) = (Vec::new(), Vec::new());
    let part = quote!(::asyncore_runtime::wire::EncodePart);
    let value = quote!(::asyncore_runtime::wire::EncodeValue);
    // The size of the open fixed unit, if the open unit is one.
    let mut fixed = None;
    let mut i = 0;
    while i < list.len() {
        let op = &list[i];
        i += 1;
        match op {
            Op::Line | Op::Param { .. } | Op::Trim | Op::Commit => {}
            Op::Ows | Op::Sep => parts.push(quote!(#part::Sep)),
            Op::EndLine => parts.push(quote!(#part::EndLine)),
            Op::Frame | Op::FrameWith(_) => parts.push(quote!(#part::BeginFrame)),
            Op::Fixed(n) => {
                fixed = Some(*n);
                parts.push(quote!(#part::BeginFixed));
            }
            Op::EndFrame => parts.push(match fixed.take() {
                Some(n) => quote!(#part::EndFixed(#n)),
                None => quote!(#part::EndFrame),
            }),
            Op::LengthField => parts.push(quote!(#part::LengthField)),
            Op::Lit(b) => {
                let b = bytes_lit(b);
                parts.push(quote!(#part::Lit(#b)));
            }
            Op::Word { slot } | Op::Token { slot } | Op::Rest { slot } | Op::CStr { slot } => {
                let (n, v) = (env.name(*slot), env.value(*slot));
                parts.push(match op {
                    Op::Word { .. } => quote!(#part::Word(#n)),
                    Op::Token { .. } => quote!(#part::Token(#n)),
                    Op::CStr { .. } => quote!(#part::CStr(#n)),
                    _ => quote!(#part::Rest(#n)),
                });
                values.push(quote!(#value::Bytes(#v)));
            }
            Op::OneOf { slot, lits } => {
                let (n, v) = (env.name(*slot), env.value(*slot));
                let lits = lits.iter().map(|l| bytes_lit(l));
                parts.push(quote!(#part::OneOf(#n, &[#(#lits),*])));
                values.push(quote!(#value::Bytes(#v)));
            }
            Op::Bytes { slot, max, .. } => {
                let (n, v) = (env.name(*slot), env.value(*slot));
                parts.push(quote!(#part::Bytes(#n, #max)));
                values.push(quote!(#value::Bytes(#v)));
            }
            Op::Uint { slot, max } | Op::Hex { slot, max } | Op::Varint { slot, max } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                parts.push(match op {
                    Op::Uint { .. } => quote!(#part::Uint(#n, #max)),
                    Op::Hex { .. } => quote!(#part::Hex(#n, #max)),
                    _ => quote!(#part::Varint(#n, #max)),
                });
                values.push(quote!(#value::Uint((#v) as u64)));
            }
            Op::Int { slot, min, max } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                parts.push(quote!(#part::Int(#n, #min, #max)));
                values.push(quote!(#value::Int((#v) as i64)));
            }
            Op::Bin {
                slot,
                width,
                big_endian,
                signed,
            } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                if *signed {
                    parts.push(quote!(#part::BinSigned(#n, #width, #big_endian)));
                    values.push(quote!(#value::Int((#v) as i64)));
                } else {
                    parts.push(quote!(#part::Bin(#n, #width, #big_endian)));
                    values.push(quote!(#value::Uint((#v) as u64)));
                }
            }
            Op::Bits { slot, shift, bits } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                parts.push(quote!(#part::Bits(#n, #shift, #bits)));
                values.push(quote!(#value::Uint((#v) as u64)));
            }
            Op::BitsLit {
                shift,
                bits,
                value: v,
            } => {
                parts.push(quote!(#part::BitsLit(#v, #shift, #bits)));
            }
            Op::Opt { slot, len } => {
                let body = &list[i..i + usize::from(*len)];
                i += usize::from(*len);
                match env.presence.get(slot) {
                    // A flag: its literals, when it is set.
                    Some(f) if f.kind == FieldKind::Flag => {
                        let (inner, inner_values) = self::parts(body, env)?;
                        // The values of skipped parts would not be taken.
                        if !inner_values.is_empty() {
                            return None;
                        }
                        let skip = u16::try_from(inner.len()).ok()?;
                        let v = env.value(f.slot);
                        parts.push(quote!(#part::IfSet(#skip)));
                        values.push(quote!(#value::Uint(u64::from(#v))));
                        parts.extend(inner);
                    }
                    // An optional field: the parts that write it, when it is there.
                    Some(f) => {
                        let (v, inner_env) = env.unwrapped(f);
                        let (inner, inner_values) = self::parts(body, &inner_env)?;
                        // The field's own value, and no other, is what the parts take.
                        let [only] = &inner_values[..] else {
                            return None;
                        };
                        if !only.to_string().contains("__v") {
                            return None;
                        }
                        let skip = u16::try_from(inner.len()).ok()?;
                        parts.push(quote!(#part::IfPresent(#skip)));
                        values.push(quote! {
                            match #v {
                                ::core::option::Option::Some(__v) => #only,
                                ::core::option::Option::None => #value::Absent,
                            }
                        });
                        parts.extend(inner);
                    }
                    None => {}
                }
            }
            _ => return None,
        }
    }
    Some((parts, values))
}

/// Statements for `ops`; `in_item` when inside a repetition item.
fn ops(m: &Message, list: &[Op], env: &Env) -> TokenStream {
    let mut out = TokenStream::new();
    let mut i = 0;
    // The size of the open fixed unit, if the open unit is one.
    let mut fixed = None;
    while i < list.len() {
        let op = &list[i];
        i += 1;
        let stmt = match op {
            // A parameter is not sent: the receiver knows it from what came before. Lines
            // are sent without padding.
            Op::Line | Op::Param { .. } | Op::Trim | Op::Commit => quote!(),
            // Optional whitespace is written as one space, its usual form.
            Op::Ows => quote!(e.sep();),
            Op::EndLine if straight() => quote!(e.end_line_inline();),
            Op::EndLine => quote!(e.end_line();),
            // The encoder was made with the message's framing: its frames are these.
            Op::Frame | Op::FrameWith(_) => quote!(e.begin_frame();),
            Op::Fixed(n) => {
                fixed = Some(*n);
                quote!(e.begin_fixed();)
            }
            Op::EndFrame => match fixed.take() {
                Some(n) => quote!(e.end_fixed(#n)?;),
                None => quote!(e.end_frame()?;),
            },
            Op::LengthField => quote!(e.length_field();),
            Op::Bits { slot, shift, bits } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                quote!(e.bits(#n, (#v) as u64, #shift, #bits)?;)
            }
            Op::BitsLit { shift, bits, value } => quote!(e.bits_lit(#value, #shift, #bits);),
            Op::Varint { slot, max } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                quote!(e.varint(#n, (#v) as u64, #max)?;)
            }
            Op::CStr { slot } => field_call(env, *slot, quote!(cstr), quote!()),
            Op::If {
                slot,
                test,
                test_in_message,
                cmp,
                value,
                len,
            } => {
                let body = &list[i..i + *len as usize];
                i += *len as usize;
                let t = if *test_in_message && !env.outer_ints.is_empty() {
                    env.outer_ints
                        .get(test)
                        .cloned()
                        .unwrap_or_else(|| quote!(0))
                } else {
                    env.int(*test)
                };
                let cmp = super::cmp_tokens(*cmp);
                let value = *value;
                let holds = quote!(#cmp.holds((#t) as i64 as u64, #value));
                match env.presence.get(slot) {
                    Some(f) => {
                        let n = f.name.clone();
                        let (v, inner_env) = env.unwrapped(f);
                        let inner = ops(m, body, &inner_env);
                        quote! {
                            e.present(#n, (#v).is_some(), #holds)?;
                            if let ::core::option::Option::Some(__v) = #v { #inner }
                        }
                    }
                    None => {
                        let inner = ops(m, body, env);
                        quote!(if #holds { #inner })
                    }
                }
            }
            Op::Lit(b) => {
                let b = bytes_lit(b);
                if straight() {
                    quote!(e.lit_inline(#b);)
                } else {
                    quote!(e.lit(#b);)
                }
            }
            Op::Sep => quote!(e.sep();),
            Op::Word { slot } => field_call(env, *slot, quote!(word), quote!()),
            Op::Token { slot } => field_call(env, *slot, quote!(token), quote!()),
            // The words, one space apart (and one before the first, after a part).
            Op::Quoted { slot, sep, .. } => {
                let (n, v) = (env.name(*slot), env.value(*slot));
                let lead = if *sep { quote!(e.sep();) } else { quote!() };
                quote! {
                    for (__i, __w) in (#v).iter().enumerate() {
                        if __i > 0 { e.sep(); } else { #lead }
                        e.quoted(#n, __w)?;
                    }
                }
            }
            Op::Rest { slot } => field_call(env, *slot, quote!(rest), quote!()),
            Op::OneOf { slot, lits } => {
                let lits = lits.iter().map(|l| bytes_lit(l));
                field_call(env, *slot, quote!(one_of), quote!(, &[#(#lits),*]))
            }
            Op::Uint { slot, max } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                if straight() {
                    quote!(e.uint_inline(#n, (#v) as u64, #max)?;)
                } else {
                    quote!(e.uint(#n, (#v) as u64, #max)?;)
                }
            }
            Op::Hex { slot, max } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                quote!(e.hex(#n, (#v) as u64, #max)?;)
            }
            Op::Int { slot, min, max } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                quote!(e.int(#n, (#v) as i64, #min, #max)?;)
            }
            Op::Bin {
                slot,
                width,
                big_endian,
                signed,
            } => {
                let (n, v) = (env.int_name(*slot), env.int(*slot));
                if *signed {
                    quote!(e.bin_signed(#n, (#v) as i64, #width, #big_endian)?;)
                } else {
                    quote!(e.bin(#n, (#v) as u64, #width, #big_endian)?;)
                }
            }
            Op::Bytes { slot, max, .. } => field_call(env, *slot, quote!(bytes), quote!(, #max)),
            Op::LinesUntil { slot, marker, max } => {
                let (n, v) = (env.name(*slot), env.value(*slot));
                let unstuff = match env.fields.get(slot).map(|f| &f.kind) {
                    Some(FieldKind::Lines { unstuff: Some(u) }) => {
                        let u = bytes_lit(u);
                        quote!(::core::option::Option::Some(#u))
                    }
                    _ => quote!(::core::option::Option::None),
                };
                let marker = bytes_lit(marker);
                quote!(e.lines(#n, &#v, #marker, #unstuff, #max)?;)
            }
            Op::Opt { slot, len } => {
                let body = &list[i..i + *len as usize];
                i += *len as usize;
                match env.presence.get(slot) {
                    Some(f) if f.kind == FieldKind::Flag => {
                        let v = env.value(f.slot);
                        let inner = ops(m, body, env);
                        quote!(if #v { #inner })
                    }
                    Some(f) => {
                        let (v, inner_env) = env.unwrapped(f);
                        let inner = ops(m, body, &inner_env);
                        quote!(if let ::core::option::Option::Some(__v) = #v { #inner })
                    }
                    None => quote!(),
                }
            }
            Op::Repeat { slot, len, .. }
            | Op::Many { slot, len, .. }
            | Op::ManyUntil { slot, len, .. } => {
                let body = &list[i..i + *len as usize];
                i += *len as usize;
                let seq = env.value(*slot);
                let idx = match env.fields.get(slot).map(|f| &f.kind) {
                    Some(FieldKind::Seq(idx)) => *idx,
                    _ => 0,
                };
                let item = &m.items[idx];
                let mut item_env = Env::new(&item.fields, |f| {
                    if item.struct_name.is_none() {
                        quote!(__item)
                    } else {
                        let n = format_ident!("{}", f.name);
                        quote!(__item.#n)
                    }
                });
                item_env.outer_ints = env.ints.clone();
                // Items of a repetition that starts its line lead with optional spaces:
                // write one space between items, none before the first.
                let between =
                    matches!(op, Op::Many { .. }) && matches!(body.first(), Some(Op::Ows));
                let inner = if between {
                    let rest = ops(m, &body[1..], &item_env);
                    quote! {
                        if !__first { e.sep(); }
                        __first = false;
                        #rest
                    }
                } else {
                    ops(m, body, &item_env)
                };
                let tail = match op {
                    Op::ManyUntil { marker, .. } => {
                        let marker = bytes_lit(marker);
                        quote!(e.lit(#marker); e.end_line();)
                    }
                    _ => quote!(),
                };
                quote! {
                    let mut __first = true;
                    for __item in (#seq).iter() { #inner }
                    #tail
                }
            }
        };
        out.extend(stmt);
    }
    out
}

fn field_call(env: &Env, slot: u16, method: TokenStream, extra: TokenStream) -> TokenStream {
    let (n, v) = (env.name(slot), env.value(slot));
    quote!(e.#method(#n, #v #extra)?;)
}
