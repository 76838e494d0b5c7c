//! Code generation: the checked [`Protocol`] as Rust items, for the body of a module.
//!
//! The items are: one struct per message (fields borrow from the read buffer), an enum per
//! direction, the decoding programs run by `asyncore_runtime::wire::Decoder`, an encoder
//! per message, the `State` enum, and per role a handler trait, a context and a channel
//! that implements `asyncore_runtime::Dispatcher`. Generated code names runtime items by
//! absolute path.

mod encode;
mod fast;
mod replies;
mod roles;
mod types;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Framing, Op, Protocol};

/// Generates the protocol module: `VIS mod NAME { ... }`.
///
/// ```
/// let p = asyncore_protocol::compile("protocol p framing line \"\\n\" max 1KiB client Ping = \"PING\"").unwrap();
/// let name = proc_macro2::Ident::new("p", proc_macro2::Span::call_site());
/// let code = asyncore_protocol::gen::generate(&p, &quote::quote!(pub), &name).to_string();
/// assert!(code.contains("pub trait Server"));
/// ```
pub fn generate(p: &Protocol, vis: &TokenStream, mod_name: &proc_macro2::Ident) -> TokenStream {
    generate_role(p, vis, mod_name, "both")
}

/// Like [`generate`], keeping only the role items of `role` (`"server"`, `"client"` or
/// `"both"`): what `asyncore-protocol expand --role` shows.
///
/// ```
/// let p = asyncore_protocol::compile("protocol p framing line \"\\n\" max 1KiB client Ping = \"PING\"").unwrap();
/// let name = proc_macro2::Ident::new("p", proc_macro2::Span::call_site());
/// let code = asyncore_protocol::gen::generate_role(&p, &quote::quote!(pub), &name, "server").to_string();
/// assert!(code.contains("pub trait Server") && !code.contains("pub trait Client"));
/// ```
pub fn generate_role(
    p: &Protocol,
    vis: &TokenStream,
    mod_name: &proc_macro2::Ident,
    role: &str,
) -> TokenStream {
    let docs = doc_attrs(&p.docs);
    let client_framing = framing(&p.framing, p.nocase, false, p.line_max(true));
    let server_framing = framing(&p.framing, p.nocase, false, p.line_max(false));
    let client_send = framing(&p.framing, p.nocase, true, p.line_max(true));
    let server_send = framing(&p.framing, p.nocase, true, p.line_max(false));
    let types = types::messages(p);
    let programs = programs(p);
    let named = named_framings(p);
    let roles = roles::roles(p, role);
    let reply_tables = replies::tables(p);
    let fast_client = fast::direction(p, true);
    let fast_server = fast::direction(p, false);
    let name = &p.name;
    let graph = crate::graph::mermaid(p);
    let graph_doc = format!("State diagram of `{name}`:\n\n```text\n{graph}```");
    quote! {
        #(#docs)*
        #[doc = ""]
        #[doc = #graph_doc]
        #[allow(dead_code, unused_variables, unused_mut, unreachable_patterns, non_camel_case_types, clippy::all)]
        #vis mod #mod_name {
        /// How the messages the client sends are cut, as the server's decoder reads them.
        pub static CLIENT_FRAMING: ::asyncore_runtime::wire::Framing = #client_framing;
        /// How the messages the server sends are cut, as the client's decoder reads them.
        pub static SERVER_FRAMING: ::asyncore_runtime::wire::Framing = #server_framing;
        /// How the client's messages are written.
        pub static CLIENT_SEND_FRAMING: ::asyncore_runtime::wire::Framing = #client_send;
        /// How the server's messages are written.
        pub static SERVER_SEND_FRAMING: ::asyncore_runtime::wire::Framing = #server_send;
        #named
        #programs
        #fast_client
        #fast_server
        #types
        #reply_tables
        #roles
        }
    }
}

/// Formats generated items as a Rust file, for `expand`.
///
/// ```
/// let code = asyncore_protocol::gen::pretty(quote::quote!(struct A;)).unwrap();
/// assert_eq!(code, "struct A;\n");
/// ```
pub fn pretty(tokens: TokenStream) -> Result<String, String> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| e.to_string())?;
    Ok(prettyplease::unparse(&file))
}

pub(crate) fn doc_attrs(docs: &[String]) -> Vec<TokenStream> {
    docs.iter()
        .map(|d| {
            let d = format!(" {d}");
            quote!(#[doc = #d])
        })
        .collect()
}

pub(crate) fn bytes_lit(b: &[u8]) -> TokenStream {
    let lit = Literal::byte_string(b);
    quote!(#lit)
}

/// The framing the decoder runs (`send: false`) or the encoder writes (`send: true`): they
/// differ only for `crlf accept`, which decodes as "\r\n" with bare LF accepted and
/// sends "\n".
fn framing(f: &Framing, nocase: bool, send: bool, line_max: Option<u64>) -> TokenStream {
    let f = &match (f, line_max) {
        (
            Framing::Line {
                term,
                bare_lf,
                crlf,
                padding,
                ..
            },
            Some(max),
        ) => Framing::Line {
            term: term.clone(),
            max,
            bare_lf: *bare_lf,
            crlf: *crlf,
            padding: *padding,
        },
        _ => f.clone(),
    };
    match f {
        Framing::Line {
            max, crlf: true, ..
        } if !send => {
            let max = *max as u32;
            quote! {
                ::asyncore_runtime::wire::Framing::Line { term: b"\r\n", max: #max, bare_lf: true, nocase: #nocase }
            }
        }
        Framing::Line {
            term,
            max,
            bare_lf,
            crlf,
            ..
        } => {
            // Sent with "\n"; `bare_lf` marks that readers take "\r\n" too.
            let bare_lf = *bare_lf || (*crlf && send);
            let term = bytes_lit(term);
            let max = *max as u32;
            quote! {
                ::asyncore_runtime::wire::Framing::Line { term: #term, max: #max, bare_lf: #bare_lf, nocase: #nocase }
            }
        }
        // The checker refuses a fixed framing as the protocol's own.
        Framing::Fixed { size } => {
            let max = *size as u32;
            quote! {
                ::asyncore_runtime::wire::Framing::Line { term: b"\n", max: #max, bare_lf: false, nocase: false }
            }
        }
        Framing::Length {
            offset,
            width,
            big_endian,
            adjust,
            skip,
            max,
        } => {
            let max = *max as u32;
            quote! {
                ::asyncore_runtime::wire::Framing::Length(::asyncore_runtime::wire::LengthHeader {
                    offset: #offset, width: #width, big_endian: #big_endian, adjust: #adjust, skip: #skip, max: #max,
                })
            }
        }
    }
}

/// The message index of `m` within the program of its direction.
pub(crate) fn program_index(p: &Protocol, m: usize, from_client: bool) -> u16 {
    (0..m)
        .filter(|&i| {
            if from_client {
                p.messages[i].dir.from_client()
            } else {
                p.messages[i].dir.from_server()
            }
        })
        .count() as u16
}

/// Message indices (in the program of one direction) in the order to try them: messages
/// that start with a literal first, then the others, each in declaration order.
pub(crate) fn try_order(p: &Protocol, msgs: &[usize], from_client: bool) -> Vec<u16> {
    let mut lit: Vec<u16> = Vec::new();
    let mut other: Vec<u16> = Vec::new();
    for &m in msgs {
        let idx = program_index(p, m, from_client);
        if p.messages[m].literal_lead {
            lit.push(idx);
        } else {
            other.push(idx);
        }
    }
    lit.extend(other);
    lit
}

fn programs(p: &Protocol) -> TokenStream {
    let mut out = TokenStream::new();
    for from_client in [true, false] {
        let msgs: Vec<TokenStream> = p
            .messages
            .iter()
            .filter(|m| if from_client { m.dir.from_client() } else { m.dir.from_server() })
            .map(|m| {
                let name = &m.name;
                let slots = m.slots;
                let max = m.max as u32;
                let ops = m.ops.iter().map(op);
                quote! {
                    ::asyncore_runtime::wire::Message { name: #name, slots: #slots, max: #max, ops: &[#(#ops),*] }
                }
            })
            .collect();
        let (ident, doc) = if from_client {
            (
                format_ident!("CLIENT_MESSAGES"),
                "The decoding program of the messages the client sends (run by the server).",
            )
        } else {
            (
                format_ident!("SERVER_MESSAGES"),
                "The decoding program of the messages the server sends (run by the client).",
            )
        };
        let name = &p.name;
        let framing_ident = if from_client {
            format_ident!("CLIENT_FRAMING")
        } else {
            format_ident!("SERVER_FRAMING")
        };
        // Messages with parameters are read only when a state or the handler expects them.
        let all: Vec<usize> = (0..p.messages.len())
            .filter(|&i| {
                if from_client {
                    p.messages[i].dir.from_client()
                } else {
                    p.messages[i].dir.from_server()
                }
            })
            .filter(|&i| p.messages[i].params.is_empty() && p.messages[i].framing.is_none())
            .collect();
        let order = try_order(p, &all, from_client);
        let all_ident = format_ident!("{}_ALL", ident);
        out.extend(quote! {
            #[doc = #doc]
            pub static #ident: ::asyncore_runtime::wire::Program = ::asyncore_runtime::wire::Program {
                name: #name,
                framing: #framing_ident,
                messages: &[#(#msgs),*],
            };
            /// Every message of the program the decoder recognises by its first unit (not
            /// those with parameters or a framing of their own, read only when expected),
            /// in the order it tries them.
            pub const #all_ident: &[u16] = &[#(#order),*];
        });
    }
    out
}

/// The name of the generated header constant of named framing `i`.
pub(crate) fn header_ident(i: usize) -> proc_macro2::Ident {
    format_ident!("FRAMING_{}_HEADER", i)
}

/// The name of the generated framing static of named framing `i`.
pub(crate) fn framing_ident(i: usize) -> proc_macro2::Ident {
    format_ident!("FRAMING_{}", i)
}

pub(crate) fn cmp_tokens(c: crate::ast::Cmp) -> TokenStream {
    use crate::ast::Cmp;
    let v = match c {
        Cmp::Eq => format_ident!("Eq"),
        Cmp::Ne => format_ident!("Ne"),
        Cmp::Lt => format_ident!("Lt"),
        Cmp::Le => format_ident!("Le"),
        Cmp::Gt => format_ident!("Gt"),
        Cmp::Ge => format_ident!("Ge"),
    };
    quote!(::asyncore_runtime::wire::Cmp::#v)
}

/// Statics for the named framings: a header constant and a framing each (length), or
/// nothing (fixed units need neither).
fn named_framings(p: &Protocol) -> TokenStream {
    let mut out = TokenStream::new();
    for (i, n) in p.framings.iter().enumerate() {
        let Framing::Length {
            offset,
            width,
            big_endian,
            adjust,
            skip,
            max,
        } = &n.framing
        else {
            continue;
        };
        let max = *max as u32;
        let (h, f) = (header_ident(i), framing_ident(i));
        let doc = format!("The header of the framing `{}`.", n.name);
        let fdoc = format!(
            "The framing `{}`, for the encoders of the messages that use it.",
            n.name
        );
        out.extend(quote! {
            #[doc = #doc]
            pub const #h: ::asyncore_runtime::wire::LengthHeader = ::asyncore_runtime::wire::LengthHeader {
                offset: #offset, width: #width, big_endian: #big_endian, adjust: #adjust, skip: #skip, max: #max,
            };
            #[doc = #fdoc]
            pub static #f: ::asyncore_runtime::wire::Framing = ::asyncore_runtime::wire::Framing::Length(#h);
        });
    }
    out
}

fn op(o: &Op) -> TokenStream {
    let w = quote!(::asyncore_runtime::wire::Op);
    match o {
        Op::Line => quote!(#w::Line),
        Op::EndLine => quote!(#w::EndLine),
        Op::Frame => quote!(#w::Frame),
        Op::FrameWith(i) => {
            let h = header_ident(*i);
            quote!(#w::FrameWith(&#h))
        }
        Op::Fixed(n) => quote!(#w::Fixed(#n)),
        Op::LengthField => quote!(#w::LengthField),
        Op::Bits { slot, shift, bits } => {
            quote!(#w::Bits { slot: #slot, shift: #shift, bits: #bits })
        }
        Op::BitsLit { shift, bits, value } => {
            quote!(#w::BitsLit { shift: #shift, bits: #bits, value: #value })
        }
        Op::Varint { slot, max } => quote!(#w::Varint { slot: #slot, max: #max }),
        Op::CStr { slot } => quote!(#w::CStr { slot: #slot }),
        Op::If {
            slot,
            test,
            test_in_message,
            cmp,
            value,
            len,
        } => {
            let cmp = cmp_tokens(*cmp);
            quote!(#w::If { slot: #slot, test: #test, test_in_message: #test_in_message, cmp: #cmp, value: #value, len: #len })
        }
        Op::EndFrame => quote!(#w::EndFrame),
        Op::Lit(b) => {
            let b = bytes_lit(b);
            quote!(#w::Lit(#b))
        }
        Op::Sep => quote!(#w::Sep),
        Op::Ows => quote!(#w::Ows),
        Op::Trim => quote!(#w::Trim),
        Op::Word { slot } => quote!(#w::Word { slot: #slot }),
        Op::Token { slot } => quote!(#w::Token { slot: #slot }),
        Op::Rest { slot } => quote!(#w::Rest { slot: #slot }),
        Op::OneOf { slot, lits } => {
            let lits = lits.iter().map(|l| bytes_lit(l));
            quote!(#w::OneOf { slot: #slot, lits: &[#(#lits),*] })
        }
        Op::Uint { slot, max } => quote!(#w::Uint { slot: #slot, max: #max }),
        Op::Int { slot, min, max } => quote!(#w::Int { slot: #slot, min: #min, max: #max }),
        Op::Hex { slot, max } => quote!(#w::Hex { slot: #slot, max: #max }),
        Op::Bin {
            slot,
            width,
            big_endian,
            signed,
        } => {
            quote!(#w::Bin { slot: #slot, width: #width, big_endian: #big_endian, signed: #signed })
        }
        Op::Param { slot, param } => quote!(#w::Param { slot: #slot, param: #param }),
        Op::Bytes {
            slot,
            len,
            len_in_message,
            max,
        } => {
            quote!(#w::Bytes { slot: #slot, len: #len, len_in_message: #len_in_message, max: #max })
        }
        Op::LinesUntil { slot, marker, max } => {
            let marker = bytes_lit(marker);
            quote!(#w::LinesUntil { slot: #slot, marker: #marker, max: #max })
        }
        Op::Opt { slot, len } => quote!(#w::Opt { slot: #slot, len: #len }),
        Op::Repeat {
            slot,
            count,
            len,
            stride,
            max,
            signed,
        } => {
            quote!(#w::Repeat { slot: #slot, count: #count, len: #len, stride: #stride, max: #max, signed: #signed })
        }
        Op::Quoted {
            slot,
            sep,
            min,
            max,
        } => quote!(#w::Quoted { slot: #slot, sep: #sep, min: #min, max: #max }),
        Op::Commit => quote!(#w::Commit),
        Op::Many {
            slot,
            len,
            stride,
            min,
            max,
        } => {
            quote!(#w::Many { slot: #slot, len: #len, stride: #stride, min: #min, max: #max })
        }
        Op::ManyUntil {
            slot,
            marker,
            len,
            stride,
            max,
        } => {
            let marker = bytes_lit(marker);
            quote!(#w::ManyUntil { slot: #slot, marker: #marker, len: #len, stride: #stride, max: #max })
        }
    }
}

/// Descriptions of more messages than this are generated for a short build rather than
/// for speed: their simple messages are encoded from lists of parts
/// (`Encoder::encode_parts`), their fast decoders of the same shape are shared and call
/// the runtime's looping helpers (`wire::fast::shared`) instead of inlining them. Smaller
/// ones get straight-line code, faster by some 50 to 100 instructions a message (every
/// description shipped here has at most 41 messages).
pub(crate) const COMPACT_FROM: usize = 64;

/// Whether `p` is large enough to trade the speed of its generated code for build time
/// ([`COMPACT_FROM`]).
pub(crate) fn compact(p: &Protocol) -> bool {
    p.messages.len() > COMPACT_FROM
}
