//! Fast decoders: per line-framed message, straight-line Rust for the case where the whole
//! message is buffered (see `asyncore_runtime::wire::fast`). Anything unusual falls back to
//! the resumable decoder, which stays the reference.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::bytes_lit;
use crate::ir::{Framing, Message, Op, Protocol};

/// Whether a message's ops are all ones the fast path handles.
fn supported(m: &Message) -> bool {
    matches!(m.ops.first(), Some(Op::Line))
        && m.ops.iter().all(|o| {
            !matches!(
                o,
                Op::Frame
                    | Op::FrameWith(_)
                    | Op::Fixed(_)
                    | Op::LengthField
                    | Op::Bits { .. }
                    | Op::BitsLit { .. }
                    | Op::Varint { .. }
                    | Op::CStr { .. }
                    | Op::If { .. }
                    | Op::EndFrame
                    | Op::Bin { .. }
                    | Op::Param { .. }
                    | Op::LinesUntil { .. }
                    | Op::ManyUntil { .. }
                    | Op::Quoted { .. }
            )
        })
}

/// Code generation state: a counter for labels, whether the open line is parsed without
/// first searching for its end, and the message's leading literal once read.
struct Gen {
    label: usize,
    fused: bool,
    first: Option<Vec<u8>>,
    /// A large description: the looping helpers are called, not inlined.
    compact: bool,
}

/// Whether the line opened at `ops[at - 1]` holds only parts that never need its end
/// (literals, numbers, separators): then the fast path parses it directly and checks the
/// terminator where the parts stop, with no search.
fn fusable(ops: &[Op], at: usize) -> bool {
    for op in &ops[at..] {
        match op {
            Op::EndLine => return true,
            Op::Lit(l) if !l.contains(&b'\n') && !l.contains(&b'\r') => {}
            Op::Uint { .. } | Op::Int { .. } | Op::Hex { .. } | Op::Sep | Op::Ows | Op::Commit => {}
            _ => return false,
        }
    }
    false
}

/// Where slots of the current scope live.
#[derive(Clone)]
enum Scope {
    Message,
    Item(proc_macro2::Ident),
}

impl Scope {
    fn slot(&self, i: u16) -> TokenStream {
        let i = usize::from(i);
        match self {
            Scope::Message => quote!(slots[#i]),
            Scope::Item(item) => quote!(#item[#i]),
        }
    }
    fn get(&self, i: u16) -> TokenStream {
        let i = usize::from(i);
        match self {
            Scope::Message => quote!(slots.get(#i)),
            Scope::Item(item) => quote!(#item.get(#i)),
        }
    }
}

/// The slots written by `ops` (direct and nested), to reset when an optional part fails.
fn written(ops: &[Op]) -> Vec<u16> {
    ops.iter()
        .filter_map(|o| match o {
            Op::Word { slot }
            | Op::Token { slot }
            | Op::Rest { slot }
            | Op::OneOf { slot, .. }
            | Op::Uint { slot, .. }
            | Op::Int { slot, .. }
            | Op::Hex { slot, .. }
            | Op::Bytes { slot, .. }
            | Op::Opt { slot, .. }
            | Op::Many { slot, .. }
            | Op::Repeat { slot, .. } => Some(*slot),
            _ => None,
        })
        .collect()
}

/// The message slots that `ops` write on every path that matches: every slot an op of the
/// message writes (an optional part writes its slots when it matches and resets them when
/// not), leaving out the bodies of repetitions, whose slots are the items'.
fn message_slots_written(ops: &[Op]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        i += 1;
        out.extend(written(std::slice::from_ref(op)));
        if let Op::Many { len, .. } | Op::Repeat { len, .. } = op {
            i += usize::from(*len);
        }
    }
    out
}

impl Gen {
    /// Code for `ops`; `fail` is the statement that gives up, `first` marks the message's
    /// first line (where a wrong leading literal means "not this message").
    fn ops(
        &mut self,
        ops: &[Op],
        scope: &Scope,
        fail: &TokenStream,
        mut open: bool,
        first: &mut bool,
    ) -> TokenStream {
        let mut out = TokenStream::new();
        // Where the looping helpers come from: inlined, or called ([`Gen::compact`]).
        let h = if self.compact {
            quote!(f::shared)
        } else {
            quote!(f)
        };
        let mut i = 0;
        while i < ops.len() {
            let op = &ops[i];
            i += 1;
            let code = match op {
                Op::Line => {
                    open = true;
                    if fusable(ops, i) {
                        self.fused = true;
                        quote! {
                            let __line = p;
                            end = buf.len();
                        }
                    } else {
                        self.fused = false;
                        quote! {
                            let Some((__end, __next)) = #h::line_of(buf, p, TERM, LINE_MAX, BARE_LF) else { #fail };
                            end = __end;
                            next = __next;
                        }
                    }
                }
                Op::EndLine => {
                    open = false;
                    *first = false;
                    if std::mem::take(&mut self.fused) {
                        quote! {
                            let Some(__q) = f::term_of(buf, __line, p, TERM, LINE_MAX, BARE_LF) else { #fail };
                            p = __q;
                        }
                    } else {
                        quote! {
                            if p != end { #fail }
                            p = next;
                        }
                    }
                }
                Op::Lit(l) => {
                    let lb = bytes_lit(l);
                    if !open {
                        quote! { let Some(__q) = f::lit_between(buf, p, #lb) else { #fail }; p = __q; }
                    } else if *first
                        && (i == 2 || (i == 3 && ops[1] == Op::Trim))
                        && self.first.is_none()
                    {
                        // The leading literal is `FIRST`, a parameter of a decoder shared
                        // by the messages of the same shape (see `direction`).
                        self.first = Some(l.clone());
                        quote! { let Some(__q) = f::lit(buf, p, end, FIRST, NOCASE) else { return f::Fast::NoMatch }; p = __q; }
                    } else {
                        quote! { let Some(__q) = f::lit(buf, p, end, #lb, NOCASE) else { #fail }; p = __q; }
                    }
                }
                Op::Sep => quote! { let Some(__q) = f::sep(buf, p, end) else { #fail }; p = __q; },
                // The fast path only answers for input that matches: nothing to commit.
                Op::Commit => quote!(),
                Op::Ows => quote! { p = f::ows(buf, p, end); },
                // Never in a fused line (`fusable`): the line's end is known.
                Op::Trim => quote! {
                    p = f::ows(buf, p, end);
                    while end > p && f::is_space(buf[end - 1]) {
                        end -= 1;
                    }
                },
                Op::Word { slot } => {
                    self.range(scope, *slot, quote!(#h::word(buf, p, end, TERM)), fail)
                }
                Op::Token { slot } => {
                    self.range(scope, *slot, quote!(#h::token(buf, p, end)), fail)
                }
                Op::Rest { slot } => self.range(
                    scope,
                    *slot,
                    quote!(#h::rest(buf, p, end, TERM, CHECK_REST)),
                    fail,
                ),
                Op::OneOf { slot, lits } => {
                    let lits = lits.iter().map(|l| bytes_lit(l));
                    let find = quote!(f::one_of(buf, p, end, &[#(&#lits[..]),*], NOCASE));
                    self.range(scope, *slot, find, fail)
                }
                Op::Uint { slot, max } => {
                    self.number(scope, *slot, quote!(f::uint(buf, p, end, #max)), fail)
                }
                Op::Int { slot, min, max } => {
                    self.number(scope, *slot, quote!(f::int(buf, p, end, #min, #max)), fail)
                }
                Op::Hex { slot, max } => {
                    self.number(scope, *slot, quote!(#h::hex(buf, p, end, #max)), fail)
                }
                Op::Bytes {
                    slot,
                    len,
                    len_in_message,
                    max,
                } => {
                    let n = if *len_in_message {
                        Scope::Message.get(*len)
                    } else {
                        scope.get(*len)
                    };
                    let limit = if open { quote!(end) } else { quote!(buf.len()) };
                    let s = scope.slot(*slot);
                    quote! {
                        let Some(__q) = f::bytes(p, f::int_of(#n), #max, #limit) else { #fail };
                        #s = Slot::Range(p as u32, __q as u32);
                        p = __q;
                    }
                }
                Op::Opt { slot, len } => {
                    let body = &ops[i..i + usize::from(*len)];
                    i += usize::from(*len);
                    let label = self.lifetime("opt");
                    let inner_fail = quote!(break #label false;);
                    let mut not_first = false;
                    let inner = self.ops(body, scope, &inner_fail, open, &mut not_first);
                    let pres = scope.slot(*slot);
                    let resets = written(body).into_iter().map(|s| {
                        let s = scope.slot(s);
                        quote!(#s = Slot::Empty;)
                    });
                    quote! {
                        let __save = p;
                        let __ok = #label: { #inner true };
                        if __ok {
                            #pres = Slot::Int(1);
                        } else {
                            p = __save;
                            #pres = Slot::Int(0);
                            #(#resets)*
                        }
                    }
                }
                Op::Many {
                    slot,
                    len,
                    stride,
                    min,
                    max,
                } => {
                    let body = &ops[i..i + usize::from(*len)];
                    i += usize::from(*len);
                    let label = self.lifetime("item");
                    let base = format_ident!("__base{}", self.label);
                    let inner_fail = quote!(break #label false;);
                    let mut not_first = false;
                    let inner = self.ops(
                        body,
                        &Scope::Item(base.clone()),
                        &inner_fail,
                        open,
                        &mut not_first,
                    );
                    let s = scope.slot(*slot);
                    let stride = usize::from(*stride);
                    // Each item is built in a local array (which the optimiser keeps in
                    // registers) and appended once it matched.
                    quote! {
                        let __start = items.len();
                        let mut __count: u32 = 0;
                        loop {
                            if p == end { break; }
                            let __save = p;
                            let mut #base = [Slot::Empty; #stride];
                            let __ok = #label: {
                                #inner
                                true
                            };
                            if !__ok || p == __save {
                                p = __save;
                                if __ok { #fail }
                                break;
                            }
                            items.extend_from_slice(&#base);
                            __count += 1;
                            if __count > #max { #fail }
                        }
                        if __count < #min { #fail }
                        #s = Slot::Seq { start: __start as u32, len: __count };
                    }
                }
                Op::Repeat {
                    slot,
                    count,
                    len,
                    stride,
                    max,
                    ..
                } => {
                    let body = &ops[i..i + usize::from(*len)];
                    i += usize::from(*len);
                    self.label += 1;
                    let base = format_ident!("__base{}", self.label);
                    let mut not_first = false;
                    let inner =
                        self.ops(body, &Scope::Item(base.clone()), fail, open, &mut not_first);
                    let s = scope.slot(*slot);
                    let n = Scope::Message.get(*count);
                    let stride = usize::from(*stride);
                    // Each item is built in a local array, then appended (the item vector
                    // keeps its capacity from message to message: reserving ahead costs
                    // more than it saves).
                    // A negative signed count is above `max` as a `u64`: the resumable
                    // decoder takes it.
                    quote! {
                        let __n = f::int_of(#n);
                        if __n > #max as u64 { #fail }
                        let __start = items.len();
                        for _ in 0..__n {
                            let mut #base = [Slot::Empty; #stride];
                            #inner
                            items.extend_from_slice(&#base);
                        }
                        #s = Slot::Seq { start: __start as u32, len: __n as u32 };
                    }
                }
                Op::Frame
                | Op::FrameWith(_)
                | Op::Fixed(_)
                | Op::LengthField
                | Op::Bits { .. }
                | Op::BitsLit { .. }
                | Op::Varint { .. }
                | Op::CStr { .. }
                | Op::If { .. }
                | Op::EndFrame
                | Op::Bin { .. }
                | Op::Param { .. }
                | Op::LinesUntil { .. }
                | Op::ManyUntil { .. }
                | Op::Quoted { .. } => {
                    quote!(#fail)
                }
            };
            out.extend(code);
        }
        out
    }

    fn lifetime(&mut self, what: &str) -> syn::Lifetime {
        self.label += 1;
        syn::Lifetime::new(
            &format!("'__{what}{}", self.label),
            proc_macro2::Span::call_site(),
        )
    }

    fn range(
        &mut self,
        scope: &Scope,
        slot: u16,
        find: TokenStream,
        fail: &TokenStream,
    ) -> TokenStream {
        let s = scope.slot(slot);
        quote! {
            let Some(__q) = #find else { #fail };
            #s = Slot::Range(p as u32, __q as u32);
            p = __q;
        }
    }

    fn number(
        &mut self,
        scope: &Scope,
        slot: u16,
        parse: TokenStream,
        fail: &TokenStream,
    ) -> TokenStream {
        let s = scope.slot(slot);
        quote! {
            let Some((__v, __q)) = #parse else { #fail };
            #s = Slot::Int(__v);
            p = __q;
        }
    }
}

/// The fast decoders of one direction, and `fn fast_client`/`fn fast_server` running them.
pub(crate) fn direction(p: &Protocol, from_client: bool) -> TokenStream {
    let compact = super::compact(p);
    let Framing::Line {
        term,
        bare_lf,
        crlf,
        ..
    } = &p.framing
    else {
        // Length-prefixed protocols decode with the resumable decoder only.
        return entry(from_client, Vec::new(), Vec::new());
    };
    // What the decoder reads: `crlf accept` reads "\r\n" with bare LF accepted.
    let (term, bare_lf) = if *crlf {
        (b"\r\n".to_vec(), true)
    } else {
        (term.clone(), *bare_lf)
    };
    let check_rest = term.len() > 1 && !(term == b"\r\n" && bare_lf);
    let line_max = p
        .line_max(from_client)
        .unwrap_or(0)
        .min(u64::from(u32::MAX)) as u32;
    let term_lit = bytes_lit(&term);
    let nocase = p.nocase;

    // Messages of the same shape (the same code once their leading literal, index and
    // maximum length are left out, as with memcached's storage commands) share one
    // decoder, which takes those three as arguments: the crate that uses `protocol!`
    // compiles each shape once. A shape of one message has them as constants.
    let mut shapes: Vec<Shape> = Vec::new();
    let sent = p.messages.iter().filter(|m| {
        if from_client {
            m.dir.from_client()
        } else {
            m.dir.from_server()
        }
    });
    for (idx, m) in sent.enumerate() {
        let idx = idx as u16;
        if !supported(m) {
            continue;
        }
        let mut g = Gen {
            label: 0,
            fused: false,
            first: None,
            compact,
        };
        let fail = quote!(return f::Fast::Fallback;);
        let body = g.ops(&m.ops, &Scope::Message, &fail, false, &mut true);
        let nslots = usize::from(m.slots);
        // `fast_begin` leaves the slots as the last message left them: the slots that
        // the code below does not write on every matching path are emptied first.
        let written = message_slots_written(&m.ops);
        let unwritten = (0..m.slots)
            .filter(|s| !written.contains(s))
            .map(usize::from);
        let clear = quote!(#(slots[#unwritten] = Slot::Empty;)*);
        let code = quote! {
            if buf.len() > u32::MAX as usize {
                return f::Fast::Fallback;
            }
            // A fixed-size view: slot indices are checked at compile time.
            let Some((slots, items)) = dec.fast_begin::<#nslots>(INDEX) else {
                return f::Fast::Fallback;
            };
            #clear
            let (mut p, mut end, mut next) = (0usize, 0usize, 0usize);
            #body
            if p > MAX { return f::Fast::Fallback; }
            f::Fast::Match(p)
        };
        // Only a large description shares decoders: a small one keeps the constants.
        let key = if compact {
            code.to_string()
        } else {
            idx.to_string()
        };
        let member = Member {
            index: idx,
            name: m.name.clone(),
            first: g.first.unwrap_or_default(),
            max: m.max as usize,
        };
        match shapes.iter_mut().find(|s| s.key == key) {
            Some(shape) => shape.members.push(member),
            None => shapes.push(Shape {
                key,
                code,
                members: vec![member],
            }),
        }
    }
    let mut fns = Vec::new();
    let mut arms = Vec::new();
    for shape in shapes {
        let Shape { code, members, .. } = shape;
        let head = &members[0];
        let name = format_ident!(
            "fast_{}_{}",
            if from_client { "client" } else { "server" },
            head.index
        );
        let prelude = quote! {
            use ::asyncore_runtime::wire::fast as f;
            use ::asyncore_runtime::wire::Slot;
            const TERM: &[u8] = #term_lit;
            const NOCASE: bool = #nocase;
            const CHECK_REST: bool = #check_rest;
            const LINE_MAX: u32 = #line_max;
            const BARE_LF: bool = #bare_lf;
        };
        let inline = if compact {
            quote!(#[inline(never)])
        } else {
            quote!()
        };
        let attrs = quote! {
            #[allow(unused_mut, unused_variables, unused_assignments, unused_labels, non_snake_case, clippy::all)]
            #inline
        };
        if let [one] = &members[..] {
            let doc = format!("The fast decoder of `{}`.", one.name);
            let (first, index, max) = (bytes_lit(&one.first), one.index, one.max);
            fns.push(quote! {
                #[doc = #doc]
                #attrs
                fn #name(dec: &mut ::asyncore_runtime::wire::Decoder, buf: &[u8]) -> ::asyncore_runtime::wire::fast::Fast {
                    #prelude
                    const FIRST: &[u8] = #first;
                    const INDEX: u16 = #index;
                    const MAX: usize = #max;
                    #code
                }
            });
            arms.push(quote!(#index => #name(dec, buf)));
            continue;
        }
        let names: Vec<String> = members.iter().map(|m| format!("`{}`", m.name)).collect();
        let doc = format!(
            "The fast decoder of the messages of one shape: {}. `FIRST` is the message's leading literal, `INDEX` its index, `MAX` its greatest length.",
            names.join(", ")
        );
        fns.push(quote! {
            #[doc = #doc]
            #attrs
            fn #name(dec: &mut ::asyncore_runtime::wire::Decoder, buf: &[u8], FIRST: &[u8], INDEX: u16, MAX: usize) -> ::asyncore_runtime::wire::fast::Fast {
                #prelude
                #code
            }
        });
        for m in &members {
            let (first, index, max) = (bytes_lit(&m.first), m.index, m.max);
            arms.push(quote!(#index => #name(dec, buf, #first, #index, #max)));
        }
    }
    entry(from_client, fns, arms)
}

/// Messages whose fast decoders are the same code.
struct Shape {
    /// The code, as text: what is compared.
    key: String,
    code: TokenStream,
    members: Vec<Member>,
}

/// A message of a [`Shape`].
struct Member {
    index: u16,
    name: String,
    /// The leading literal (empty if the message has none).
    first: Vec<u8>,
    max: usize,
}

fn entry(from_client: bool, fns: Vec<TokenStream>, arms: Vec<TokenStream>) -> TokenStream {
    let (name, doc) = if from_client {
        (format_ident!("fast_client"), "The fast path for the messages the client sends: straight-line decoders of whole buffered messages, tried in the order of `allowed`; `None` leaves the decision to the resumable decoder.")
    } else {
        (
            format_ident!("fast_server"),
            "The fast path for the messages the server sends (see `fast_client`).",
        )
    };
    quote! {
        #(#fns)*
        #[doc = #doc]
        pub fn #name(dec: &mut ::asyncore_runtime::wire::Decoder, buf: &[u8], allowed: &[u16]) -> ::core::option::Option<::asyncore_runtime::wire::Decoded> {
            ::asyncore_runtime::wire::fast::run(dec, buf, allowed, |dec, buf, index| match index {
                #(#arms,)*
                _ => ::asyncore_runtime::wire::fast::Fast::Fallback,
            })
        }
    }
}
