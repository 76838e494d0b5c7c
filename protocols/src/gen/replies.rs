//! Replies per request in the generated roles: the tables (`replies`, `expected`,
//! `GREETING`, `UNSOLICITED`), the server's check that a handler sends a reply its request
//! allows, the next state a reply says (`Transaction on Ok`), and the client's queue of
//! requests waiting for their replies.

use proc_macro2::TokenStream;
use quote::quote;

use super::{cmp_tokens, program_index, try_order};
use crate::ast::CondValue;
use crate::ir::{Guard, Protocol, Target};
use quote::format_ident;

/// `Some(State::X)` or `None` (close), as tokens.
fn state_of(p: &Protocol, t: Target) -> TokenStream {
    match t {
        Target::State(i) => {
            let v = format_ident!("{}", p.states[i].name);
            quote!(::core::option::Option::Some(State::#v))
        }
        Target::Close => quote!(::core::option::Option::None),
    }
}

/// The test of a guard on the message `m` (a generated message struct).
fn guard_test(g: &Guard) -> TokenStream {
    let f = format_ident!("{}", g.field);
    let cmp = cmp_tokens(g.cmp);
    match &g.value {
        CondValue::Int(v) => quote!(#cmp.holds_signed(m.#f as i64, #v)),
        CondValue::Lit(lit) => {
            let lit = super::bytes_lit(lit);
            let eq = matches!(g.cmp, crate::ast::Cmp::Eq);
            quote!((m.#f == #lit) == #eq)
        }
    }
}

/// Whether `msg` is the reply `reply` and, if given, its guard holds.
fn case_test(p: &Protocol, reply: usize, guard: Option<&Guard>) -> TokenStream {
    let v = format_ident!("{}", p.messages[reply].name);
    match guard {
        Some(g) => {
            let test = guard_test(g);
            quote!(match msg { ServerMessage::#v(m) => #test, _ => false })
        }
        None => quote!(matches!(msg, ServerMessage::#v(_))),
    }
}

/// The bit of a state in a set of states.
fn bit(t: Target) -> u64 {
    match t {
        Target::State(i) => 1u64 << (i % 64),
        Target::Close => 0,
    }
}

/// Server program indices of `msgs` with the unsolicited messages, in the order to try.
fn with_unsolicited(p: &Protocol, msgs: &[usize]) -> Vec<u16> {
    let mut all: Vec<usize> = msgs.to_vec();
    for u in p.unsolicited() {
        if !all.contains(&u) {
            all.push(u);
        }
    }
    all.retain(|&m| p.messages[m].params.is_empty() && p.messages[m].framing.is_none());
    try_order(p, &all, false)
}

/// The tables, and the functions the channels use; nothing when no message declares its
/// replies.
pub(crate) fn tables(p: &Protocol) -> TokenStream {
    if !p.has_replies() {
        return TokenStream::new();
    }
    let client: Vec<usize> = p.received_by_server().collect();
    let greeting: Vec<u16> = p
        .greeting
        .iter()
        .map(|&m| program_index(p, m, false))
        .collect();
    let greeting_expected = with_unsolicited(p, &p.greeting);
    let unsolicited = with_unsolicited(p, &[]);
    let replies_arms = client
        .iter()
        .filter(|&&mi| !p.messages[mi].replies.is_empty())
        .map(|&mi| {
            let idx = program_index(p, mi, true);
            let r: Vec<u16> = p.messages[mi]
                .replies
                .iter()
                .map(|&m| program_index(p, m, false))
                .collect();
            quote!(#idx => &[#(#r),*])
        });
    let expected_arms = client
        .iter()
        .filter(|&&mi| !p.messages[mi].replies.is_empty())
        .map(|&mi| {
            let idx = program_index(p, mi, true);
            let e = with_unsolicited(p, &p.messages[mi].replies);
            quote!(#idx => &[#(#e),*])
        });
    let by_reply_arms = client.iter().filter(|&&mi| p.is_by_reply(mi)).map(|&mi| {
        let idx = program_index(p, mi, true);
        quote!(#idx => true)
    });
    // From a set of states, where a request leads (every target a choice may take).
    let advance_arms = client.iter().map(|&mi| {
        let idx = program_index(p, mi, true);
        let per_state = p.states.iter().enumerate().filter_map(|(si, s)| {
            s.transitions
                .iter()
                .find(|(x, _)| *x == mi)
                .map(|(_, targets)| {
                    let from = 1u64 << (si % 64);
                    let to = targets.iter().fold(0u64, |to, t| to | bit(*t));
                    quote!(if states & #from != 0 { next |= #to; })
                })
        });
        quote!(#idx => { #(#per_state)* })
    });
    let allowed_arms = client.iter().map(|&mi| {
        let idx = program_index(p, mi, true);
        let mask = p.states.iter().enumerate().fold(0u64, |mask, (si, s)| {
            if s.transitions.iter().any(|(x, _)| *x == mi) {
                mask | 1u64 << (si % 64)
            } else {
                mask
            }
        });
        quote!(#idx => #mask)
    });
    // From the states a request was sent in, where its reply leads: the cases in order,
    // the first that matches.
    let after_reply_arms = p.states.iter().enumerate().flat_map(|(si, s)| {
        s.by_reply.iter().map(move |(mi, cases)| {
            let from = 1u64 << (si % 64);
            let req = program_index(p, *mi, true);
            let tests = cases.iter().map(|(reply, guard, target)| {
                let test = case_test(p, *reply, guard.as_ref());
                let to = bit(*target);
                quote!(if #test { next |= #to; } else)
            });
            quote!(if request == #req && states & #from != 0 { #(#tests)* {} })
        })
    });
    let by_reply_state_arms = client.iter().filter(|&&mi| p.is_by_reply(mi)).map(|&mi| {
        let idx = program_index(p, mi, true);
        let mask = p.states.iter().enumerate().fold(0u64, |mask, (si, s)| {
            if s.by_reply.iter().any(|(x, _)| *x == mi) {
                mask | 1u64 << (si % 64)
            } else {
                mask
            }
        });
        quote!(#idx => #mask)
    });
    let next_arms = p.states.iter().flat_map(|s| {
        let v = format_ident!("{}", s.name);
        s.by_reply.iter().map(move |(mi, cases)| {
            let v = v.clone();
            let req = program_index(p, *mi, true);
            let tests = cases.iter().map(|(reply, guard, target)| {
                let test = case_test(p, *reply, guard.as_ref());
                let go = state_of(p, *target);
                quote!(if #test { return ::core::option::Option::Some(#go); })
            });
            quote!((State::#v, #req) => { #(#tests)* })
        })
    });
    let tls = tls_tables(p);
    let continues_arms = p
        .messages
        .iter()
        .filter(|m| m.dir.from_server())
        .filter_map(|m| {
            let g = m.continues.as_ref()?;
            let v = format_ident!("{}", m.name);
            let test = guard_test(g);
            Some(quote!(ServerMessage::#v(m) => #test))
        });
    quote! {
        /// The server messages one of which the server sends first (see [`replies`]).
        pub const GREETING: &[u16] = &[#(#greeting),*];
        /// The server messages that answer no request: the client reads them at any time.
        pub const UNSOLICITED: &[u16] = &[#(#unsolicited),*];
        /// The replies (indices into [`SERVER_MESSAGES`]) that answer the client message
        /// `request` (an index into [`CLIENT_MESSAGES`]), or the greeting for `u16::MAX`;
        /// empty for a message that declares none.
        pub const fn replies(request: u16) -> &'static [u16] {
            match request {
                u16::MAX => GREETING,
                #(#replies_arms,)*
                _ => &[],
            }
        }
        /// What the client's decoder accepts while `request` waits for its reply: its
        /// replies and the unsolicited messages, in the order to try them.
        pub const fn expected(request: u16) -> &'static [u16] {
            match request {
                u16::MAX => &[#(#greeting_expected),*],
                #(#expected_arms,)*
                _ => UNSOLICITED,
            }
        }
        /// Whether the reply to `request` says the next state.
        fn by_reply(request: u16) -> bool {
            match request {
                #(#by_reply_arms,)*
                _ => false,
            }
        }
        /// The states the server may be in after `request`, from `states`.
        fn advance(states: u64, request: u16) -> u64 {
            let mut next = 0u64;
            match request {
                #(#advance_arms)*
                _ => {}
            }
            next
        }
        /// The states that allow `request`.
        fn allowed_in(request: u16) -> u64 {
            match request {
                #(#allowed_arms,)*
                _ => 0,
            }
        }
        /// The states the server is in after `msg`, the reply to `request` sent in
        /// `states`.
        fn after_reply(states: u64, request: u16, msg: &ServerMessage<'_>) -> u64 {
            let mut next = 0u64;
            #(#after_reply_arms)*
            // In the states where no reply decides it, the request's own transitions.
            next | advance(states & !by_reply_states(request), request)
        }
        /// The states in which the reply to `request` says the next state.
        fn by_reply_states(request: u16) -> u64 {
            match request {
                #(#by_reply_state_arms,)*
                _ => 0,
            }
        }
        /// The next state a reply says, in `state` after `request`; `None` where the reply
        /// does not decide it. `Some(None)`: the connection closes.
        fn reply_next(state: State, request: u16, msg: &ServerMessage<'_>) -> ::core::option::Option<::core::option::Option<State>> {
            match (state, request) {
                #(#next_arms)*
                _ => {}
            }
            ::core::option::Option::None
        }
        /// Whether the reply goes on with another message (a line of a multi-line reply).
        pub fn continues(msg: &ServerMessage<'_>) -> bool {
            match msg {
                #(#continues_arms,)*
                _ => false,
            }
        }
        /// The most requests a client may have waiting for their replies.
        pub const MAX_PENDING: usize = 4096;
        #tls
    }
}

/// The tables of `starttls`: which requests may start TLS from which states, and
/// whether a reply does. Nothing when no transition starts TLS.
fn tls_tables(p: &Protocol) -> TokenStream {
    if !p.has_starttls() {
        return TokenStream::new();
    }
    let client: Vec<usize> = p.received_by_server().collect();
    let may_arms = client.iter().filter_map(|&mi| {
        let mask = (0..p.states.len()).fold(0u64, |mask, si| {
            if p.starts_tls(si, mi) {
                mask | 1u64 << (si % 64)
            } else {
                mask
            }
        });
        if mask == 0 {
            return None;
        }
        let idx = program_index(p, mi, true);
        Some(quote!(#idx => states & #mask != 0))
    });
    // In the states a request was sent in, whether the reply's case starts TLS: the
    // first case that matches, as for the next state.
    let after_arms = p.states.iter().enumerate().flat_map(|(si, s)| {
        s.by_reply
            .iter()
            .filter(move |(mi, _)| p.starts_tls(si, *mi))
            .map(move |(mi, cases)| {
                let from = 1u64 << (si % 64);
                let req = program_index(p, *mi, true);
                let tests = cases.iter().enumerate().map(|(ci, case)| {
                    let (reply, guard, _) = case;
                    let test = case_test(p, *reply, guard.as_ref());
                    let starts = p.case_starts_tls(si, *mi, ci);
                    quote!(if #test { starts |= #starts; } else)
                });
                quote!(if request == #req && states & #from != 0 { #(#tests)* {} })
            })
    });
    quote! {
        /// Whether `request` (an index into [`CLIENT_MESSAGES`]) may start TLS when the
        /// server is in one of `states`: one of its replies there agrees to it.
        pub fn may_start_tls(states: u64, request: u16) -> bool {
            match request {
                #(#may_arms,)*
                _ => false,
            }
        }
        /// Whether `msg`, the reply to `request` sent in one of `states`, starts TLS.
        pub fn starts_tls_after(states: u64, request: u16, msg: &ServerMessage<'_>) -> bool {
            let mut starts = false;
            #(#after_arms)*
            starts
        }
    }
}

/// In `ServerCx::send`, before the message is encoded: a reply must be one its request
/// allows, and only one. Sets `__counts` (to the request) when the message completes the
/// request's reply (not a line of a reply that goes on); it is
/// recorded by [`server_send_mark`] once the encoder has taken it, so that a reply the
/// encoder refuses (a line over the limit) leaves the handler free to send another.
pub(crate) fn server_send_check(p: &Protocol) -> TokenStream {
    if !p.has_replies() {
        return TokenStream::new();
    }
    quote! {
        let __idx = msg.index();
        let mut __counts: ::core::option::Option<u16> = ::core::option::Option::None;
        if let ::core::option::Option::Some(__req) = self.answering {
            let __allowed = replies(__req);
            if !__allowed.is_empty() && !UNSOLICITED.contains(&__idx) {
                let __to = if __req == u16::MAX {
                    "the greeting"
                } else {
                    CLIENT_MESSAGES.messages.get(usize::from(__req)).map_or("?", |m| m.name)
                };
                if self.replied.is_some() {
                    return Err(::asyncore_runtime::Error::from(::std::format!(
                        "{}: `{}` would be a second reply to `{}`", CLIENT_MESSAGES.name, msg.name(), __to
                    )));
                }
                if !__allowed.contains(&__idx) {
                    let __names: ::std::vec::Vec<&str> = __allowed.iter().filter_map(|&i| SERVER_MESSAGES.messages.get(usize::from(i)).map(|m| m.name)).collect();
                    return Err(::asyncore_runtime::Error::from(::std::format!(
                        "{}: `{}` is not a reply to `{}`; its replies are {}", CLIENT_MESSAGES.name, msg.name(), __to, __names.join(", ")
                    )));
                }
                // A line of a reply that goes on does not complete it.
                if !continues(&msg) {
                    __counts = ::core::option::Option::Some(__req);
                }
            }
        }
    }
}

/// In `ServerCx::send`, after the message was encoded: it is the request's reply (see
/// [`server_send_check`]). `__encoded` tells whether the encoder took it.
pub(crate) fn server_send_mark(p: &Protocol) -> TokenStream {
    if !p.has_replies() {
        return TokenStream::new();
    }
    quote! {
        if let (::core::option::Option::Some(__req), true) = (__counts, __encoded) {
            self.replied = ::core::option::Option::Some(__idx);
            self.reply_next = reply_next(self.state, __req, &msg);
        }
    }
}

/// After the handler of client message `mi`: the reply it sent, which a message with
/// declared replies must have sent (unless the handler is closing the connection, or
/// sends it later: `produce_later`, `wait`).
pub(crate) fn server_after(p: &Protocol, mi: usize) -> TokenStream {
    let m = &p.messages[mi];
    if m.replies.is_empty() {
        return TokenStream::new();
    }
    let names: Vec<&str> = m
        .replies
        .iter()
        .map(|&r| p.messages[r].name.as_str())
        .collect();
    let err = format!(
        "the handler of `{}` sent no reply; `{}` is answered by {}",
        m.name,
        m.name,
        names.join(" or ")
    );
    quote! {
        let __reply = cx.replied;
        if __reply.is_none() && !cx.inner.is_closing() && !cx.inner.is_producing() && !cx.inner.is_waiting() {
            return Err(::asyncore_runtime::Error::from(::std::format!("{}: {}", CLIENT_MESSAGES.name, #err)));
        }
    }
}

/// The next state of by-reply message `mi`: the one its reply said, else its fixed one in
/// states where no reply decides it (or a close, when the handler closes without a reply).
pub(crate) fn server_next(p: &Protocol, mi: usize) -> TokenStream {
    let fixed = p.states.iter().filter_map(|s| {
        if s.by_reply.iter().any(|(x, _)| *x == mi) {
            return None;
        }
        let (_, targets) = s.transitions.iter().find(|(x, _)| *x == mi)?;
        let v = format_ident!("{}", s.name);
        let go = state_of(p, *targets.first()?);
        Some(quote!(State::#v => #go))
    });
    quote! {
        let () = __r;
        Ok(match cx.reply_next {
            ::core::option::Option::Some(next) => next,
            ::core::option::Option::None => match state {
                #(#fixed,)*
                _ if (cx.inner.is_producing() || cx.inner.is_waiting()) && !cx.inner.is_closing() => {
                    return Err(::asyncore_runtime::Error::from(::std::format!(
                        "{}: the reply that decides the next state must be sent before `produce_later` or `wait`",
                        CLIENT_MESSAGES.name
                    )));
                }
                _ => ::core::option::Option::None,
            },
        })
    }
}

/// The client's parts: the check in `send` (while a reply that says the state is awaited,
/// a request must be allowed in every state the server may be in), the queue of requests
/// waiting for replies, what the decoder accepts, and the state a reply says.
pub(crate) fn client_parts(
    p: &Protocol,
) -> (
    TokenStream,
    TokenStream,
    TokenStream,
    TokenStream,
    TokenStream,
) {
    if !p.has_replies() {
        return (
            TokenStream::new(),
            TokenStream::new(),
            quote!(::std::collections::VecDeque::new()),
            quote!(SERVER_MESSAGES_ALL),
            TokenStream::new(),
        );
    }
    let check = quote! {
        let __req = msg.index();
        if let ::core::option::Option::Some(&(__waiting, _)) = self.pending.iter().find(|(r, _)| by_reply(*r)) {
            if states & !allowed_in(__req) != 0 {
                return Err(::asyncore_runtime::Error::from(::std::format!(
                    "{}: `{}` may not be allowed in the state the server is in: wait for the reply to `{}`",
                    CLIENT_MESSAGES.name, msg.name(), CLIENT_MESSAGES.messages.get(usize::from(__waiting)).map_or("?", |m| m.name)
                )));
            }
        }
        if !replies(__req).is_empty() && self.pending.len() >= MAX_PENDING {
            return Err(::asyncore_runtime::Error::from(::std::format!(
                "{}: {} requests are already waiting for their replies", CLIENT_MESSAGES.name, MAX_PENDING
            )));
        }
    };
    let push = quote! {
        if !replies(__req).is_empty() {
            self.pending.push_back((__req, states));
        }
    };
    let initial = if p.greeting.is_empty() {
        quote!(::std::collections::VecDeque::new())
    } else {
        quote!(::std::collections::VecDeque::from([(
            u16::MAX,
            State::INITIAL.bit()
        )]))
    };
    let allowed = quote!(match pending.front() {
        ::core::option::Option::Some(&(__req, _)) => expected(__req),
        ::core::option::Option::None => UNSOLICITED,
    });
    let on_reply = quote! {
        if let ::core::option::Option::Some(&(__req, __before)) = pending.front() {
            let __msg = ServerMessage::from_decoder(dec, buf, index);
            if replies(__req).contains(&index) && !__msg.as_ref().is_some_and(continues) {
                pending.pop_front();
                if by_reply(__req) {
                    // The reply says the state: replay the requests sent since.
                    let mut __s = __msg.as_ref().map_or(0, |m| after_reply(__before, __req, m));
                    for __e in pending.iter_mut() {
                        __e.1 = __s;
                        __s = advance(__s, __e.0);
                    }
                    *states = __s;
                }
            }
        }
    };
    (check, push, initial, allowed, on_reply)
}
