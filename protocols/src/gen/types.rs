//! Message structs, repetition item structs and the per-direction enums.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{doc_attrs, encode};
use crate::ir::{FieldInfo, FieldKind, ItemType, Message, Protocol};

/// The doc comments of a field: its own, or a line saying what it holds.
fn field_docs(f: &FieldInfo) -> Vec<TokenStream> {
    if !f.docs.is_empty() {
        return doc_attrs(&f.docs);
    }
    let what = match &f.kind {
        FieldKind::Bytes => "bytes",
        FieldKind::Int { .. } => "a number",
        FieldKind::Flag => "whether the keyword is present",
        FieldKind::Seq(_) => "the items of a repetition",
        FieldKind::Lines { .. } => "a run of lines",
        FieldKind::Quoted => "a word, maybe quoted",
    };
    let d = format!(
        " `{}`: {what}{}.",
        f.name,
        if f.presence.is_some() {
            " (optional)"
        } else {
            ""
        }
    );
    vec![quote!(#[doc = #d])]
}

/// Whether values of this field borrow from the input.
fn borrows(f: &FieldInfo) -> bool {
    matches!(
        f.kind,
        FieldKind::Bytes | FieldKind::Seq(_) | FieldKind::Lines { .. } | FieldKind::Quoted
    )
}

/// Whether the message struct has a lifetime parameter.
pub(crate) fn has_lifetime(m: &Message) -> bool {
    m.fields
        .iter()
        .any(|f| f.derived_from.is_none() && borrows(f))
}

fn item_has_lifetime(it: &ItemType) -> bool {
    it.fields
        .iter()
        .any(|f| f.derived_from.is_none() && borrows(f))
}

/// The Rust type of a message's type with `'a`: `Get<'a>` or `Quit`.
pub(crate) fn message_type(m: &Message, lt: &TokenStream) -> TokenStream {
    let name = format_ident!("{}", m.name);
    if has_lifetime(m) {
        quote!(#name<#lt>)
    } else {
        quote!(#name)
    }
}

fn item_type(m: &Message, idx: usize) -> TokenStream {
    let it = &m.items[idx];
    match &it.struct_name {
        None if matches!(it.fields.as_slice(), [f] if f.kind == FieldKind::Quoted) => {
            quote!(::asyncore_runtime::wire::Quoted<'a>)
        }
        None => quote!(&'a [u8]),
        Some(n) => {
            let n = format_ident!("{}", n);
            if item_has_lifetime(it) {
                quote!(#n<'a>)
            } else {
                quote!(#n)
            }
        }
    }
}

fn scalar_type(f: &FieldInfo) -> TokenStream {
    match &f.kind {
        FieldKind::Bytes => quote!(&'a [u8]),
        FieldKind::Int { signed, bits } => {
            let t = format_ident!("{}{}", if *signed { "i" } else { "u" }, bits);
            quote!(#t)
        }
        FieldKind::Flag => quote!(bool),
        FieldKind::Lines { .. } => quote!(::asyncore_runtime::wire::Lines<'a>),
        FieldKind::Quoted => quote!(::asyncore_runtime::wire::Quoted<'a>),
        FieldKind::Seq(_) => quote!(()),
    }
}

pub(crate) fn field_type(m: &Message, f: &FieldInfo) -> TokenStream {
    let t = match &f.kind {
        FieldKind::Seq(idx) => {
            let it = item_type(m, *idx);
            quote!(::asyncore_runtime::wire::Seq<'a, #it>)
        }
        _ => scalar_type(f),
    };
    if f.presence.is_some() {
        quote!(::core::option::Option<#t>)
    } else {
        t
    }
}

/// The expression reading field `f` from slots `s` (message) with buffer `buf`.
fn read_field(f: &FieldInfo, in_item: bool) -> TokenStream {
    let slot = f.slot as usize;
    let w = quote!(::asyncore_runtime::wire);
    let at = quote!(s.get(#slot).copied().unwrap_or_default());
    let value = match &f.kind {
        FieldKind::Bytes => quote!(#w::bytes_at(buf, #at)),
        FieldKind::Int { signed, bits } => {
            let t = format_ident!("{}{}", if *signed { "i" } else { "u" }, bits);
            quote!(#w::int_at(#at) as #t)
        }
        FieldKind::Flag => quote!(#w::present(#at)),
        FieldKind::Lines { unstuff } => {
            let unstuff = match unstuff {
                Some(u) => {
                    let u = super::bytes_lit(u);
                    quote!(::core::option::Option::Some(#u))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(#w::Lines::Decoded { raw: #w::bytes_at(buf, #at), term: __term(), unstuff: #unstuff })
        }
        FieldKind::Quoted => quote!(#w::Quoted::from_wire(#w::bytes_at(buf, #at))),
        FieldKind::Seq(_) if !in_item => quote!(#w::seq_at(buf, items, #at)),
        FieldKind::Seq(_) => quote!(#w::Seq::Slice(&[])),
    };
    match f.presence {
        Some(p) => {
            let p = p as usize;
            quote!(if #w::present(s.get(#p).copied().unwrap_or_default()) { ::core::option::Option::Some(#value) } else { ::core::option::Option::None })
        }
        None => value,
    }
}

/// The message and item structs, the direction enums and their decoding glue.
pub(crate) fn messages(p: &Protocol) -> TokenStream {
    let mut out = TokenStream::new();
    let term = match &p.framing {
        crate::ir::Framing::Line { term, .. } => super::bytes_lit(term),
        crate::ir::Framing::Length { .. } | crate::ir::Framing::Fixed { .. } => {
            super::bytes_lit(b"")
        }
    };
    out.extend(quote! {
        fn __term() -> &'static [u8] { #term }
    });
    for m in &p.messages {
        out.extend(message(p, m));
    }
    out.extend(direction_enum(p, true));
    out.extend(direction_enum(p, false));
    out
}

fn message(p: &Protocol, m: &Message) -> TokenStream {
    let name = format_ident!("{}", m.name);
    let name_str = &m.name;
    let mut docs = doc_attrs(&m.docs);
    let sender = match m.dir {
        crate::ast::Dir::Client => "Sent by the client.",
        crate::ast::Dir::Server => "Sent by the server.",
        crate::ast::Dir::Both => "Sent by either side.",
    };
    if !docs.is_empty() {
        docs.push(quote!(#[doc = ""]));
    }
    docs.push(quote!(#[doc = #sender]));
    let visible: Vec<&FieldInfo> = m
        .fields
        .iter()
        .filter(|f| f.derived_from.is_none())
        .collect();
    let lt = has_lifetime(m);
    let generics = if lt { quote!(<'a>) } else { quote!() };
    let field_defs = visible.iter().map(|f| {
        let fname = format_ident!("{}", f.name);
        let ty = field_type(m, f);
        let docs = field_docs(f);
        quote!(#(#docs)* pub #fname: #ty)
    });
    let field_reads = visible.iter().map(|f| {
        let fname = format_ident!("{}", f.name);
        let read = read_field(f, false);
        quote!(#fname: #read)
    });
    let mut items_out = TokenStream::new();
    for it in &m.items {
        if let Some(sname) = &it.struct_name {
            let sname = format_ident!("{}", sname);
            let ilt = item_has_lifetime(it);
            let ig = if ilt { quote!(<'a>) } else { quote!() };
            let fields: Vec<&FieldInfo> = it
                .fields
                .iter()
                .filter(|f| f.derived_from.is_none())
                .collect();
            let defs = fields.iter().map(|f| {
                let fname = format_ident!("{}", f.name);
                let ty = if f.presence.is_some() {
                    let t = scalar_type(f);
                    quote!(::core::option::Option<#t>)
                } else {
                    scalar_type(f)
                };
                let docs = field_docs(f);
                quote!(#(#docs)* pub #fname: #ty)
            });
            let reads = fields.iter().map(|f| {
                let fname = format_ident!("{}", f.name);
                let read = read_field(f, true);
                quote!(#fname: #read)
            });
            let stride = it.stride as usize;
            let doc = format!("One item of a repetition in [`{}`].", m.name);
            items_out.extend(quote! {
                #[doc = #doc]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct #sname #ig { #(#defs),* }
                impl<'a> ::asyncore_runtime::wire::Item<'a> for #sname #ig {
                    const STRIDE: usize = #stride;
                    fn from_slots(buf: &'a [u8], s: &'a [::asyncore_runtime::wire::Slot]) -> Self {
                        #sname { #(#reads),* }
                    }
                }
            });
        }
    }
    let encode_body = encode::message_body(p, m);
    // `'a` is the lifetime of `from_slots`' input even when the message borrows nothing.
    let impl_generics = quote!(<'a>);
    let self_ty = if lt { quote!(#name<'a>) } else { quote!(#name) };
    let (decode_doc, encode_doc) = (
        format!("Builds a `{name_str}` from the slots of a decoded message."),
        format!("Appends `{name_str}` to `out`, as the framing of the protocol requires. A field that the framing cannot carry (a word with a space, text with a line break, a number over its limit) is an error, and nothing is appended."),
    );
    quote! {
        #(#docs)*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct #name #generics { #(#field_defs,)* }
        #items_out
        impl #impl_generics #self_ty {
            /// The message's name in the description.
            pub const NAME: &'static str = #name_str;
            #[doc = #decode_doc]
            #[doc(hidden)]
            pub fn from_slots(buf: &'a [u8], s: &'a [::asyncore_runtime::wire::Slot], items: &'a [::asyncore_runtime::wire::Slot]) -> Self {
                #name { #(#field_reads,)* }
            }
            #[doc = #encode_doc]
            pub fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::asyncore_runtime::wire::EncodeError> {
                #encode_body
            }
        }
    }
}

fn direction_enum(p: &Protocol, from_client: bool) -> TokenStream {
    let fast = if from_client {
        format_ident!("fast_client")
    } else {
        format_ident!("fast_server")
    };
    let (ename, program, doc) = if from_client {
        (
            format_ident!("ClientMessage"),
            format_ident!("CLIENT_MESSAGES"),
            "A message the client sends.",
        )
    } else {
        (
            format_ident!("ServerMessage"),
            format_ident!("SERVER_MESSAGES"),
            "A message the server sends.",
        )
    };
    let msgs: Vec<&Message> = p
        .messages
        .iter()
        .filter(|m| {
            if from_client {
                m.dir.from_client()
            } else {
                m.dir.from_server()
            }
        })
        .collect();
    let lt = quote!('a);
    let variants = msgs.iter().map(|m| {
        let v = format_ident!("{}", m.name);
        let ty = message_type(m, &lt);
        quote!(#v(#ty))
    });
    let builds = msgs.iter().enumerate().map(|(i, m)| {
        let v = format_ident!("{}", m.name);
        let i = i as u16;
        quote!(#i => ::core::option::Option::Some(#ename::#v(#v::from_slots(buf, dec.slots(), dec.items()))))
    });
    let names = msgs.iter().map(|m| {
        let v = format_ident!("{}", m.name);
        let n = &m.name;
        quote!(#ename::#v(_) => #n)
    });
    let indices = msgs.iter().enumerate().map(|(i, m)| {
        let v = format_ident!("{}", m.name);
        let i = i as u16;
        quote!(#ename::#v(_) => #i)
    });
    let encodes = msgs.iter().map(|m| {
        let v = format_ident!("{}", m.name);
        quote!(#ename::#v(m) => m.encode(out))
    });
    let froms = msgs.iter().map(|m| {
        let v = format_ident!("{}", m.name);
        let ty = message_type(m, &lt);
        quote! {
            impl<'a> ::core::convert::From<#ty> for #ename<'a> {
                fn from(m: #ty) -> Self { #ename::#v(m) }
            }
        }
    });
    let decoder_doc = format!("A decoder for the messages of [`{program}`], for tests and tools: try every message in turn (channels use the state's list instead).");
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum #ename<'a> {
            #(#[allow(missing_docs)] #variants,)*
            #[doc(hidden)]
            __Never(::core::marker::PhantomData<&'a ()>, ::core::convert::Infallible),
        }
        impl<'a> #ename<'a> {
            /// The message decoded last by `dec`, whose bytes start `buf`; `index` is the
            /// message index the decoder returned. `None` for an index out of range.
            pub fn from_decoder(dec: &'a ::asyncore_runtime::wire::Decoder, buf: &'a [u8], index: u16) -> ::core::option::Option<Self> {
                match index {
                    #(#builds,)*
                    _ => ::core::option::Option::None,
                }
            }
            /// The message's name in the description.
            pub fn name(&self) -> &'static str {
                match self {
                    #(#names,)*
                    #ename::__Never(_, never) => match *never {},
                }
            }
            /// The message's index in its program (the index the decoder returns for it).
            pub fn index(&self) -> u16 {
                match self {
                    #(#indices,)*
                    #ename::__Never(_, never) => match *never {},
                }
            }
            /// Appends the message to `out` (see each message's `encode`).
            pub fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::asyncore_runtime::wire::EncodeError> {
                match self {
                    #(#encodes,)*
                    #ename::__Never(_, never) => match *never {},
                }
            }
            #[doc = #decoder_doc]
            pub fn decoder() -> ::asyncore_runtime::wire::Decoder {
                ::asyncore_runtime::wire::Decoder::new(&#program)
            }
            /// Decodes the next message allowed (`allowed`, in the order to try) from the
            /// front of `buf`, as a channel does: the fast path first when the whole
            /// message is there, else the resumable decoder (see `Decoder::decode` for the
            /// calling convention).
            pub fn decode(dec: &mut ::asyncore_runtime::wire::Decoder, buf: &[u8], allowed: &[u16]) -> ::core::result::Result<::asyncore_runtime::wire::Decoded, ::asyncore_runtime::wire::DecodeError> {
                match #fast(dec, buf, allowed) {
                    ::core::option::Option::Some(d) => ::core::result::Result::Ok(d),
                    ::core::option::Option::None => dec.decode(buf, allowed),
                }
            }
        }
        #(#froms)*
    }
}
