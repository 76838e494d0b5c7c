//! The state enum, and per role a handler trait, a context and a channel.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{bytes_lit, doc_attrs, program_index, try_order, types};
use crate::ast::{Action, Event};
use crate::ir::{Framing, Message, Protocol, StatePolicies, Target};

mod client;
mod server;

use client::client_role;
use server::server_role;

/// `on_snake_case` for a message name.
pub fn handler_name(message: &str) -> String {
    let mut s = String::from("on_");
    for (i, c) in message.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// True when the handler of message `m` chooses the next state.
fn has_choice(p: &Protocol, m: usize) -> bool {
    !p.is_by_reply(m)
        && p.states
            .iter()
            .any(|s| s.transitions.iter().any(|(mi, t)| *mi == m && t.len() > 1))
}

fn choice_targets(p: &Protocol, m: usize) -> Vec<Target> {
    p.states
        .iter()
        .flat_map(|s| s.transitions.iter())
        .find(|(mi, t)| *mi == m && t.len() > 1)
        .map(|(_, t)| t.clone())
        .unwrap_or_default()
}

/// The parameters of the message read in state `si`, if it takes any: the handler
/// choosing that state supplies them.
fn state_params(p: &Protocol, si: usize) -> &[String] {
    p.states[si]
        .transitions
        .iter()
        .map(|(m, _)| p.messages[*m].params.as_slice())
        .find(|ps| !ps.is_empty())
        .unwrap_or(&[])
}

fn target_name(p: &Protocol, t: Target) -> String {
    match t {
        Target::State(i) => p.states[i].name.clone(),
        Target::Close => "Close".into(),
    }
}

pub(crate) fn roles(p: &Protocol, role: &str) -> TokenStream {
    let mut out = state_enum(p);
    out.extend(next_enums(p));
    if role != "client" {
        out.extend(server_role(p));
    }
    if role != "server" {
        out.extend(client_role(p));
    }
    out
}

fn state_enum(p: &Protocol) -> TokenStream {
    let variants = p.states.iter().map(|s| {
        let v = format_ident!("{}", s.name);
        let docs = doc_attrs(&s.docs);
        quote!(#(#docs)* #v)
    });
    let initial = format_ident!("{}", p.states[p.initial].name);
    let all = p.states.iter().map(|s| format_ident!("{}", s.name));
    let allowed = p.states.iter().map(|s| {
        let v = format_ident!("{}", s.name);
        let msgs: Vec<usize> = s.transitions.iter().map(|t| t.0).collect();
        let order = try_order(p, &msgs, true);
        quote!(State::#v => &[#(#order),*])
    });
    let names = p.states.iter().map(|s| {
        let v = format_ident!("{}", s.name);
        let n = &s.name;
        quote!(State::#v => #n)
    });
    let allowed_with_tls = if p.has_starttls() {
        let arms = p.states.iter().enumerate().map(|(si, s)| {
            let v = format_ident!("{}", s.name);
            let msgs: Vec<usize> = s
                .transitions
                .iter()
                .map(|t| t.0)
                .filter(|&m| !p.starts_tls(si, m))
                .collect();
            let order = try_order(p, &msgs, true);
            quote!(State::#v => &[#(#order),*])
        });
        quote! {
            /// The messages allowed in this state once TLS is on: those of
            /// [`allowed`](Self::allowed) but the ones that start TLS here (TLS starts
            /// once; the protocol's `not_allowed` policy answers them).
            pub const fn allowed_with_tls(self) -> &'static [u16] {
                match self { #(#arms,)* }
            }
        }
    } else {
        TokenStream::new()
    };
    let bits = p.states.iter().enumerate().map(|(i, s)| {
        let v = format_ident!("{}", s.name);
        let bit = 1u64 << (i % 64);
        quote!(State::#v => #bit)
    });
    quote! {
        /// The states of the conversation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum State { #(#variants),* }
        impl State {
            /// Where a connection starts.
            pub const INITIAL: State = State::#initial;
            /// Every state, in declaration order.
            pub const ALL: &'static [State] = &[#(State::#all),*];
            /// The messages of [`CLIENT_MESSAGES`] allowed in this state, in the order the
            /// decoder tries them.
            pub const fn allowed(self) -> &'static [u16] {
                match self { #(#allowed,)* }
            }
            #allowed_with_tls
            /// The state's name in the description.
            pub fn name(self) -> &'static str {
                match self { #(#names,)* }
            }
            fn bit(self) -> u64 {
                match self { #(#bits,)* }
            }
        }
        impl ::core::default::Default for State {
            fn default() -> Self { State::INITIAL }
        }
    }
}

fn next_enums(p: &Protocol) -> TokenStream {
    let mut out = TokenStream::new();
    for (mi, m) in p.messages.iter().enumerate() {
        if !has_choice(p, mi) {
            continue;
        }
        let name = format_ident!("{}Next", m.name);
        let doc = format!(
            "The next state after [`{}`], chosen by the server's handler.",
            m.name
        );
        let variants = choice_targets(p, mi).into_iter().map(|t| {
            let v = format_ident!("{}", target_name(p, t));
            match t {
                Target::Close => {
                    quote!(#[doc = "Close the connection once the replies are sent."] #v)
                }
                Target::State(si) => {
                    let params = state_params(p, si);
                    if params.is_empty() {
                        let d = format!("Go to state `{}`.", target_name(p, t));
                        quote!(#[doc = #d] #v)
                    } else {
                        let msg = p.states[si]
                            .transitions
                            .first()
                            .map_or("", |(m, _)| p.messages[*m].name.as_str());
                        let d = format!(
                            "Go to state `{}`, where `{msg}` is read with these parameters. They must \
                             make it at least one byte long (for an empty body, choose the state that \
                             follows it instead): a message of no bytes is malformed input.",
                            target_name(p, t)
                        );
                        let fields = params.iter().map(|n| {
                            let f = format_ident!("{}", n);
                            let fd = format!("The parameter `{n}` of `{msg}`.");
                            quote!(#[doc = #fd] #f: u64)
                        });
                        quote!(#[doc = #d] #v { #(#fields),* })
                    }
                }
            }
        });
        out.extend(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub enum #name { #(#variants),* }
        });
    }
    out
}

fn action(a: &Action, term: &[u8]) -> TokenStream {
    match a {
        Action::Close => quote!(::asyncore_runtime::wire::Policy::Close),
        Action::Discard => quote!(::asyncore_runtime::wire::Policy::Discard),
        Action::Reply { text, close } => {
            let mut t = text.clone();
            t.extend_from_slice(term);
            let t = bytes_lit(&t);
            quote!(::asyncore_runtime::wire::Policy::Reply { text: #t, close: #close })
        }
    }
}

/// The code after the handler of message `mi` returned `__r`: the next state, or `None`
/// for close.
fn transition_code(p: &Protocol, mi: usize) -> TokenStream {
    let after = super::replies::server_after(p, mi);
    let next = if p.is_by_reply(mi) {
        super::replies::server_next(p, mi)
    } else {
        state_transition(p, mi)
    };
    quote!(#after #next)
}

/// The next state after client message `mi`: fixed, or the handler's choice.
fn state_transition(p: &Protocol, mi: usize) -> TokenStream {
    let to = |t: Target| match t {
        Target::State(i) => {
            let v = format_ident!("{}", p.states[i].name);
            quote!(::core::option::Option::Some(State::#v))
        }
        Target::Close => quote!(::core::option::Option::None),
    };
    if has_choice(p, mi) {
        let n = format_ident!("{}Next", p.messages[mi].name);
        let arms = choice_targets(p, mi).into_iter().map(|t| {
            let v = format_ident!("{}", target_name(p, t));
            let go = to(t);
            let params = match t {
                Target::State(si) => state_params(p, si),
                Target::Close => &[],
            };
            if params.is_empty() {
                quote!(#n::#v => #go)
            } else {
                let names: Vec<_> = params.iter().map(|n| format_ident!("{}", n)).collect();
                let at = 0..names.len();
                quote!(#n::#v { #(#names),* } => { #(params[#at] = #names;)* #go })
            }
        });
        quote!(Ok(match __r { #(#arms,)* }))
    } else {
        let arms = p.states.iter().enumerate().filter_map(|(si, s)| {
            s.transitions.iter().find(|(m, _)| *m == mi).map(|(_, t)| {
                let v = format_ident!("{}", p.states[si].name);
                let go = to(t[0]);
                quote!(State::#v => #go)
            })
        });
        quote! {
            let () = __r;
            Ok(match state { #(#arms,)* _ => ::core::option::Option::Some(state) })
        }
    }
}
