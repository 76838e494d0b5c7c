//! The state enum, and per role a handler trait, a context and a channel.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{bytes_lit, doc_attrs, program_index, try_order, types};
use crate::ast::{Action, Event};
use crate::ir::{Framing, Message, Protocol, StatePolicies, Target};

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

fn server_role(p: &Protocol) -> TokenStream {
    let term: &[u8] = match &p.framing {
        Framing::Line { term, .. } => term,
        Framing::Length { .. } | Framing::Fixed { .. } => b"",
    };
    let received: Vec<usize> = p.received_by_server().collect();
    let timeout_reply = match &p.policies.timeout {
        Some(text) => {
            let mut t = text.clone();
            t.extend_from_slice(term);
            let t = bytes_lit(&t);
            quote!(::core::option::Option::Some(#t))
        }
        None => quote!(::core::option::Option::<&'static [u8]>::None),
    };
    let lt = quote!('_);
    let methods = received.iter().map(|&mi| {
        let m = &p.messages[mi];
        let f = format_ident!("{}", handler_name(&m.name));
        let ty = types::message_type(m, &lt);
        let mut docs = doc_attrs(&m.docs);
        let ret = if has_choice(p, mi) {
            let n = format_ident!("{}Next", m.name);
            docs.push(quote!(#[doc = ""]));
            let d = format!("Returns the next state, one of [`{}Next`].", m.name);
            docs.push(quote!(#[doc = #d]));
            quote!(::asyncore_runtime::Result<#n>)
        } else {
            quote!(::asyncore_runtime::Result)
        };
        quote! {
            #(#docs)*
            fn #f(&mut self, cx: &mut ServerCx<'_, '_>, msg: #ty) -> #ret;
        }
    });
    let arms = received.iter().map(|&mi| {
        let m = &p.messages[mi];
        let f = format_ident!("{}", handler_name(&m.name));
        let v = format_ident!("{}", m.name);
        let idx = program_index(p, mi, true);
        let transition = transition_code(p, mi);
        quote! {
            #idx => {
                let msg = #v::from_slots(buf, dec.slots(), dec.items());
                let __r = handler.#f(cx, msg)?;
                #transition
            }
        }
    });
    // States with a single message whose transition is fixed.
    let after_error_arms: Vec<TokenStream> = p
        .states
        .iter()
        .filter_map(|st| match st.transitions.as_slice() {
            [(m, targets)]
                if targets.len() == 1
                    && !matches!(
                        p.messages[*m].ops.first(),
                        Some(crate::ir::Op::Line) | Some(crate::ir::Op::Frame)
                    ) =>
            {
                let v = format_ident!("{}", st.name);
                let name = &p.messages[*m].name;
                let go = match targets[0] {
                    Target::State(i) => {
                        let t = format_ident!("{}", p.states[i].name);
                        quote!(::core::option::Option::Some(State::#t))
                    }
                    Target::Close => quote!(::core::option::Option::None),
                };
                Some(quote!((State::#v, ::core::option::Option::Some(#name)) => #go))
            }
            _ => None,
        })
        .collect();
    // Only a protocol whose client messages take parameters hands them to the decoder.
    let set_params = if received.iter().any(|&mi| !p.messages[mi].params.is_empty()) {
        quote!(io.set_params(&params);)
    } else {
        quote!()
    };
    let tls = server_tls(p);
    let ServerTls {
        fields: tls_fields,
        init: cx_tls,
        init_msg: cx_tls_msg,
        send: send_fns,
        allowed: decode_allowed,
        take: take_tls,
        start: start_tls,
    } = tls;
    let policies = &p.policies;
    // Per event: the states' own policies, then the protocol's.
    let by_state = |own: fn(&StatePolicies) -> &Option<Action>, default: &Action| {
        let default = action(default, term);
        let arms: Vec<TokenStream> = p
            .states
            .iter()
            .filter_map(|s| {
                let a = action(own(&s.policies).as_ref()?, term);
                let v = format_ident!("{}", s.name);
                Some(quote!(State::#v => #a))
            })
            .collect();
        if arms.is_empty() {
            default
        } else {
            quote!(match state { #(#arms,)* _ => #default })
        }
    };
    let oversize = by_state(|s| &s.oversize, &policies.oversize);
    let unknown = by_state(|s| &s.unknown, &policies.unknown);
    let not_allowed = by_state(|s| &s.not_allowed, &policies.not_allowed);
    let invalid = by_state(|s| &s.invalid, &policies.invalid);
    let oversize_arms = received.iter().filter_map(|&mi| {
        let m: &Message = &p.messages[mi];
        m.oversize.as_ref().map(|a| {
            let n = &m.name;
            let a = action(a, term);
            quote!(::core::option::Option::Some(#n) => #a)
        })
    });
    // The parts' own policies (`else`): by message and by the op that failed.
    let part_arms = |event: Event| -> Vec<TokenStream> {
        received
            .iter()
            .flat_map(|&mi| {
                let m: &Message = &p.messages[mi];
                m.part_policies
                    .iter()
                    .filter(move |pp| pp.event == event)
                    .map(move |pp| {
                        let n = &m.name;
                        let a = action(&pp.action, term);
                        let first = proc_macro2::Literal::usize_unsuffixed(usize::from(pp.ops.0));
                        let last = proc_macro2::Literal::usize_unsuffixed(usize::from(pp.ops.1));
                        let ops = if pp.ops.0 == pp.ops.1 {
                            quote!(#first)
                        } else {
                            quote!(#first..=#last)
                        };
                        quote!((::core::option::Option::Some(#n), ::core::option::Option::Some(#ops)) => #a)
                    })
            })
            .collect()
    };
    let oversize_parts = part_arms(Event::Oversize);
    let invalid_parts = part_arms(Event::Invalid);
    let invalid_arms = received.iter().filter_map(|&mi| {
        let m: &Message = &p.messages[mi];
        m.invalid.as_ref().map(|a| {
            let n = &m.name;
            let a = action(a, term);
            quote!(::core::option::Option::Some(#n) => #a)
        })
    });
    quote! {
        /// The server side: one method per message the client sends. `#[dispatcher(protocol
        /// = ..., role = server)]` on an `impl` block implements it.
        pub trait Server: 'static {
            #(#methods)*
            /// Called once when the connection is open, before any message (an SMTP server
            /// sends its greeting here). Does nothing by default.
            fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> ::asyncore_runtime::Result { Ok(()) }
            /// Called when the connection closes, with the reason if it was an error. Does
            /// nothing by default.
            fn on_close(&mut self, cx: &mut ServerCx<'_, '_>, reason: ::core::option::Option<&::std::io::Error>) {}
            /// A timer the handler set (`cx.channel().set_timer(delay)`) fired: a keep-alive
            /// deadline, a retry. Does nothing by default.
            fn on_timer(&mut self, cx: &mut ServerCx<'_, '_>, id: ::asyncore_runtime::TimerId) -> ::asyncore_runtime::Result { Ok(()) }
            /// Called on input the protocol's policy answers (over a limit, unknown, not
            /// allowed, malformed), before the policy's reply. Logs it by default.
            fn on_bad_input(&mut self, cx: &mut ServerCx<'_, '_>, err: &::asyncore_runtime::wire::DecodeError) {
                ::asyncore_runtime::wire::log_bad_input(err);
            }
            /// Produces more of a reply too large to queue at once, after a handler called
            /// `cx.produce_later()`: called when the output has drained below the
            /// channel's high-water mark. Send what fits (`cx.output_full()` tells when to
            /// stop) and call `cx.produce_later()` again while there is more; the requests
            /// after this one wait until it stops asking. Does nothing by default.
            fn on_produce(&mut self, cx: &mut ServerCx<'_, '_>) -> ::asyncore_runtime::Result { Ok(()) }
        }

        /// What a [`Server`] handler can do: send server messages, read the state, reach the
        /// channel.
        pub struct ServerCx<'c, 'a> {
            inner: ::asyncore_runtime::wire::Cx<'c, 'a>,
            state: State,
            /// The request being answered (an index into `CLIENT_MESSAGES`; `u16::MAX`:
            /// the greeting).
            answering: ::core::option::Option<u16>,
            /// The reply sent to it (an index into `SERVER_MESSAGES`).
            replied: ::core::option::Option<u16>,
            /// The next state that reply says, if it says one.
            reply_next: ::core::option::Option<::core::option::Option<State>>,
            #tls_fields
        }
        impl<'c, 'a> ServerCx<'c, 'a> {
            #send_fns
            /// The state the connection is in (before the current message's transition).
            pub fn state(&self) -> State { self.state }
            /// The reply bytes waiting to be sent, those of this read included: what a
            /// handler checks before it queues a large reply.
            pub fn waiting_output(&self) -> usize { self.inner.waiting() }
            /// The channel, for anything else: timers, its address, closing it.
            pub fn channel(&mut self) -> &mut ::asyncore_runtime::Channel<'a> { self.inner.channel() }
            /// Closes the connection once the queued replies are sent.
            pub fn close(&mut self) { self.inner.close() }
            /// In `on_bad_input`: the input in error, as the peer sent it (its first line
            /// in a line protocol, without the terminator); empty in other handlers.
            pub fn bad_input(&self) -> &'c [u8] { self.inner.bad_input() }
            /// Asks for `on_produce` once the output drains: the rest of a large reply is
            /// produced as the client reads it (asynchat's producers), and the requests
            /// after this one wait. A reply that decides the next state must be sent
            /// before.
            pub fn produce_later(&mut self) { self.inner.produce_later() }
            /// Waits for something outside the connection (another connection's write, a
            /// timer): no reply now, the requests after this one are held and
            /// `on_produce` is not called, until a later `on_timer` (a timer the handler
            /// set, or one another connection set on this channel to wake it) sends the
            /// reply and calls `end_wait`. A reply that decides the next state must be
            /// sent before.
            pub fn wait(&mut self) { self.inner.wait() }
            /// Ends a `wait`: the requests held go on once the handler returns.
            pub fn end_wait(&mut self) { self.inner.end_wait() }
            /// Whether the handler waits (`wait`).
            pub fn is_waiting(&self) -> bool { self.inner.is_waiting() }
            /// Whether the replies waiting are at the channel's high-water mark: where a
            /// handler producing a large reply stops and calls `produce_later`.
            pub fn output_full(&self) -> bool { self.inner.output_full() }
        }

        /// A channel serving one connection with the handler `H`: it reads, decodes the
        /// messages allowed in the current state, calls `H`, sends the replies and moves to
        /// the next state. Add it to a `Map` like any dispatcher.
        pub struct ServerChannel<H: Server> {
            /// The handler.
            pub handler: H,
            io: ::asyncore_runtime::wire::Io,
            state: State,
        }
        impl<H: Server> ::core::fmt::Debug for ServerChannel<H> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct("ServerChannel").field("state", &self.state).finish_non_exhaustive()
            }
        }
        impl<H: Server> ServerChannel<H> {
            /// A channel in the initial state.
            pub fn new(handler: H) -> Self {
                ServerChannel { handler, io: ::asyncore_runtime::wire::Io::with_fast_path(&CLIENT_MESSAGES, ::core::option::Option::Some(fast_client)).lingering_close(), state: State::INITIAL }
            }
            /// The current state.
            pub fn state(&self) -> State { self.state }
            /// Whether requests already read wait in the buffer for their turn (the
            /// replies were over the high-water mark, or the round used its message
            /// budget): the channel goes on with them when it can write.
            pub fn has_waiting_requests(&self) -> bool { self.io.deferred() }
            /// The policy for `err` in `state`: the failing part's own (`else`), else the
            /// message's, else the state's, else the protocol's.
            fn policy(state: State, err: &::asyncore_runtime::wire::DecodeError) -> ::asyncore_runtime::wire::Policy {
                use ::asyncore_runtime::wire::DecodeErrorKind as K;
                match err.kind() {
                    K::Oversize { .. } => match (err.message(), err.op()) {
                        #(#oversize_parts,)*
                        _ => match err.message() {
                            #(#oversize_arms,)*
                            _ => #oversize,
                        },
                    },
                    K::Unknown => #unknown,
                    K::NotAllowed { .. } => #not_allowed,
                    _ => match (err.message(), err.op()) {
                        #(#invalid_parts,)*
                        _ => match err.message() {
                            #(#invalid_arms,)*
                            _ => #invalid,
                        },
                    },
                }
            }
            /// The state after bad input the decoder recovered from: unchanged, except in a
            /// state whose only message failed after the decoder committed to it (a message
            /// text that was skipped to its end): its fixed transition is taken, as the
            /// message is over. `None`: close.
            fn after_error(state: State, message: ::core::option::Option<&'static str>) -> ::core::option::Option<State> {
                match (state, message) {
                    #(#after_error_arms,)*
                    _ => ::core::option::Option::Some(state),
                }
            }
            /// Decodes and handles the messages buffered, until more input is needed, the
            /// connection is closing, the replies are over the channel's high-water mark
            /// (the rest waits in the read buffer until they drain: a burst of pipelined
            /// requests never makes its replies pile up), or `MESSAGE_BUDGET` messages were
            /// handled (the rest waits for the next pass: the others have their turn).
            fn serve(handler: &mut H, io: &mut ::asyncore_runtime::wire::Io, state: &mut State, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                io.resume();
                // A reply being produced goes first, as far as the output takes it.
                while io.producing() {
                    if !io.start_producing(ch) {
                        break;
                    }
                    let (answering, replied) = io.produced_for();
                    let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering, replied, reply_next: ::core::option::Option::None #cx_tls };
                    handler.on_produce(&mut cx)?;
                    let replied = cx.replied;
                    io.set_produced_for(answering, replied);
                }
                loop {
                    if io.should_defer(ch) {
                        break;
                    }
                    let current = *state;
                    match io.decode(#decode_allowed) {
                        ::asyncore_runtime::wire::Event::NeedMore => break,
                        ::asyncore_runtime::wire::Event::Message { index, len } => {
                            let (mut cx, dec, buf) = io.message(ch, len);
                            let mut cx = ServerCx { inner: cx, state: current, answering: ::core::option::Option::Some(index), replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls_msg };
                            let mut params = [0u64; ::asyncore_runtime::wire::MAX_PARAMS];
                            let next = Self::step(handler, &mut cx, dec, buf, index, &mut params)?;
                            let closing = cx.inner.is_closing();
                            let replied = cx.replied;
                            #take_tls
                            io.consume(len);
                            if io.producing() || io.waiting() {
                                io.set_produced_for(::core::option::Option::Some(index), replied);
                            }
                            #set_params
                            #start_tls
                            match next {
                                ::core::option::Option::Some(s) => *state = s,
                                ::core::option::Option::None => { io.close_when_done(ch); break; }
                            }
                            if closing { break; }
                        }
                        ::asyncore_runtime::wire::Event::Error(err) => {
                            let mut cx = ServerCx { inner: io.bad_input_cx(ch), state: current, answering: ::core::option::Option::None, replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls };
                            handler.on_bad_input(&mut cx, &err);
                            if !io.apply(ch, Self::policy(current, &err), &err)? { break; }
                            match Self::after_error(current, err.message()) {
                                ::core::option::Option::Some(s) => *state = s,
                                ::core::option::Option::None => { io.close_when_done(ch); break; }
                            }
                        }
                    }
                }
                if io.input_ended() && !io.deferred() && !io.is_closing() {
                    // Every request sent before the peer's end of input is answered.
                    io.close_when_done(ch);
                }
                if io.is_closing() && io.close_once() {
                    // The channel ends the connection itself (a `close` transition, a
                    // policy, `cx.close()`, the end of input): no close event follows, so
                    // tell the handler now.
                    let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering: ::core::option::Option::None, replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls };
                    handler.on_close(&mut cx, ::core::option::Option::None);
                }
                io.settle_clock(ch);
                io.flush(ch)?;
                Ok(())
            }
            #[allow(unused_variables)]
            fn step(handler: &mut H, cx: &mut ServerCx<'_, '_>, dec: &::asyncore_runtime::wire::Decoder, buf: &[u8], index: u16, params: &mut [u64; ::asyncore_runtime::wire::MAX_PARAMS]) -> ::asyncore_runtime::Result<::core::option::Option<State>> {
                let state = cx.state;
                match index {
                    #(#arms)*
                    _ => Ok(::core::option::Option::Some(state)),
                }
            }
        }
        impl<H: Server> ::asyncore_runtime::Dispatcher for ServerChannel<H> {
            fn writable(&mut self, ch: &::asyncore_runtime::Channel<'_>) -> bool {
                !ch.connected() || !self.io.opened() || (self.io.deferred() && !ch.is_paused())
            }
            fn interest_from_own_state(&self) -> bool {
                true
            }
            fn release_memory(&mut self) -> usize {
                self.io.release_memory()
            }
            fn handle_connect(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                self.handle_write(ch)
            }
            fn handle_write(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                let ServerChannel { handler, io, state } = self;
                if io.open() {
                    let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering: ::core::option::Option::Some(u16::MAX), replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls };
                    handler.on_open(&mut cx)?;
                    let replied = cx.replied;
                    cx.inner.flush()?;
                    if io.producing() {
                        // The greeting goes on in `on_produce`.
                        io.set_produced_for(::core::option::Option::Some(u16::MAX), replied);
                        return Self::serve(handler, io, state, ch);
                    }
                }
                if io.deferred() && !ch.is_paused() {
                    // The replies drained: go on with the requests already read.
                    Self::serve(handler, io, state, ch)?;
                }
                Ok(())
            }
            fn handle_read(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                self.handle_write(ch)?;
                let ServerChannel { handler, io, state } = self;
                if !io.fill(ch)? {
                    return Ok(());
                }
                Self::serve(handler, io, state, ch)
            }
            fn handle_timer(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>, id: ::asyncore_runtime::TimerId) -> ::asyncore_runtime::Result {
                let ServerChannel { handler, io, state } = self;
                // A handler that waits (`cx.wait()`) answers the request it held here.
                let was_waiting = io.waiting();
                let (answering, replied) = if was_waiting { io.produced_for() } else { (::core::option::Option::None, ::core::option::Option::None) };
                let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering, replied, reply_next: ::core::option::Option::None #cx_tls };
                handler.on_timer(&mut cx, id)?;
                let replied = cx.replied;
                if io.producing() {
                    // The rest of the held request's reply, or a message the timer started
                    // (no request is being answered): it goes on in `on_produce`, before
                    // the requests waiting.
                    if was_waiting {
                        io.set_produced_for(answering, replied);
                    } else {
                        io.set_produced_for(::core::option::Option::None, ::core::option::Option::None);
                    }
                    return Self::serve(handler, io, state, ch);
                }
                if was_waiting {
                    if !io.waiting() {
                        // The wait is over: the requests held go on.
                        return Self::serve(handler, io, state, ch);
                    }
                    io.set_produced_for(answering, replied);
                }
                if io.is_closing() && io.close_once() {
                    let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering: ::core::option::Option::None, replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls };
                    handler.on_close(&mut cx, ::core::option::Option::None);
                }
                io.flush(ch)
            }
            /// The request timeout ran out (`Channel::set_request_timeout`), or the idle
            /// timeout in the middle of a request: the description's `on timeout` reply,
            /// then a lingering close. Otherwise, as by default, the channel closes.
            fn handle_idle(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                let ServerChannel { handler, io, state } = self;
                let reply: ::core::option::Option<&'static [u8]> = #timeout_reply;
                match reply {
                    ::core::option::Option::Some(text) if !io.is_closing() && (ch.request_clock_running() || io.mid_message()) => {
                        io.time_out(ch, text);
                        if io.close_once() {
                            let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering: ::core::option::Option::None, replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls };
                            handler.on_close(&mut cx, ::core::option::Option::None);
                        }
                        io.flush(ch)
                    }
                    _ => {
                        ch.close_with_reason(::std::io::Error::new(::std::io::ErrorKind::TimedOut, "channel idle for longer than its idle timeout, or a request not whole within its request timeout"));
                        Ok(())
                    }
                }
            }
            fn handle_close(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>, reason: ::core::option::Option<::std::io::Error>) -> ::asyncore_runtime::Result {
                let ServerChannel { handler, io, state } = self;
                if reason.is_none() && io.deferred() && !io.is_closing() {
                    // The peer stopped sending, but requests it sent before wait for their
                    // replies to drain: answer them (from handle_write), then close.
                    io.end_input();
                    ch.hold_after_close();
                    return Ok(());
                }
                if io.close_once() {
                    let mut cx = ServerCx { inner: io.cx(ch), state: *state, answering: ::core::option::Option::None, replied: ::core::option::Option::None, reply_next: ::core::option::Option::None #cx_tls };
                    handler.on_close(&mut cx, reason.as_ref());
                }
                ::asyncore_runtime::wire::close_channel(ch, reason.as_ref());
                Ok(())
            }
            fn handle_error(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>, err: ::asyncore_runtime::Error) -> ::asyncore_runtime::Result {
                let reason = ::asyncore_runtime::wire::close_reason(&ch.to_string(), err)?;
                ::asyncore_runtime::Dispatcher::handle_close(self, ch, reason)
            }
        }
    }
}

/// The client role's parts for `starttls`: without it, the plain `send` and nothing else.
struct ClientTls {
    /// `ClientCx`'s field.
    cx_field: TokenStream,
    /// `ClientChannel`'s field.
    field: TokenStream,
    /// The field in the patterns that take `ClientChannel` apart.
    pat: TokenStream,
    /// The field in `ClientCx`'s constructors.
    cx_init: TokenStream,
    /// `send` and `start_tls`, given the checks of a send and what follows one.
    send: Box<dyn FnOnce(TokenStream, TokenStream) -> TokenStream>,
    /// Before a message is handled: the declaration the upgrade sets.
    on_reply: TokenStream,
    /// After a message was handled: the input after the reply that started TLS goes.
    after: TokenStream,
    /// `mut` for the message's context, which starts the session.
    mut_cx: TokenStream,
}

fn client_tls(p: &Protocol) -> ClientTls {
    if !p.has_starttls() {
        return ClientTls {
            cx_field: TokenStream::new(),
            field: TokenStream::new(),
            pat: TokenStream::new(),
            cx_init: TokenStream::new(),
            send: Box::new(|checks, push| {
                quote! {
                    /// Encodes `msg` and queues it. A message that the server cannot receive in any
                    /// state it may be in is an error, and nothing is sent.
                    pub fn send<'m>(&mut self, msg: impl ::core::convert::Into<ClientMessage<'m>>) -> ::asyncore_runtime::Result {
                        let msg = msg.into();
                        #checks
                        self.inner.send_with(|out| msg.encode(out))?;
                        *self.states = next;
                        #push
                        Ok(())
                    }
                }
            }),
            on_reply: TokenStream::new(),
            after: TokenStream::new(),
            mut_cx: TokenStream::new(),
        };
    }
    ClientTls {
        cx_field: quote! {
            /// The TLS configuration of the request waiting for the reply that may start TLS.
            tls: &'c mut ::core::option::Option<::asyncore_runtime::wire::ClientTls>,
        },
        field: quote!(tls: ::core::option::Option<::asyncore_runtime::wire::ClientTls>,),
        pat: quote!(, tls),
        cx_init: quote!(, tls: &mut *tls),
        send: Box::new(|checks, push| {
            quote! {
                /// Encodes `msg` and queues it. A message that the server cannot receive in any
                /// state it may be in is an error, and nothing is sent; so is a request that
                /// may start TLS (send it with [`start_tls`](Self::start_tls)), and any
                /// request while one that may start TLS waits for its reply.
                pub fn send<'m>(&mut self, msg: impl ::core::convert::Into<ClientMessage<'m>>) -> ::asyncore_runtime::Result {
                    self.send_request(msg.into(), ::core::option::Option::None)
                }
                /// Sends `msg`, a request whose reply may agree to start TLS (a transition
                /// marked `starttls` in the description). If it does, the channel starts TLS
                /// with `tls` as soon as the reply arrives, before the handler sees it and
                /// before anything more is sent; what the server sent after that reply is
                /// dropped. Until the reply, nothing else can be sent. A reply that refuses
                /// leaves the connection in plaintext.
                ///
                /// An error, and nothing sent, if `msg` cannot start TLS in the state the
                /// server is in, or TLS is on already.
                pub fn start_tls<'m>(&mut self, msg: impl ::core::convert::Into<ClientMessage<'m>>, tls: ::asyncore_runtime::wire::ClientTls) -> ::asyncore_runtime::Result {
                    self.send_request(msg.into(), ::core::option::Option::Some(tls))
                }
                /// Whether the connection's traffic goes through TLS.
                pub fn is_tls(&self) -> bool { self.inner.is_tls() }
                fn send_request(&mut self, msg: ClientMessage<'_>, tls: ::core::option::Option<::asyncore_runtime::wire::ClientTls>) -> ::asyncore_runtime::Result {
                    #checks
                    if self.tls.is_some() {
                        return Err(::asyncore_runtime::Error::from(::std::format!(
                            "{}: `{}` must wait for the reply that may start TLS: nothing is sent before the session starts",
                            CLIENT_MESSAGES.name, msg.name()
                        )));
                    }
                    let __upgrades = may_start_tls(states, msg.index());
                    let __why = if __upgrades && self.inner.is_tls() {
                        ::core::option::Option::Some(::std::format!("TLS is on already; `{}` would start it again", msg.name()))
                    } else if __upgrades && states & !allowed_in(msg.index()) != 0 {
                        ::core::option::Option::Some(::std::format!("`{}` may start TLS, but the server may be in a state that does not allow it: wait for the replies that say the state", msg.name()))
                    } else if __upgrades && tls.is_none() {
                        ::core::option::Option::Some(::std::format!("`{}` may start TLS: send it with `cx.start_tls(msg, tls)`", msg.name()))
                    } else if !__upgrades && tls.is_some() {
                        ::core::option::Option::Some(::std::format!("`{}` does not start TLS in the state the server is in: send it with `cx.send`", msg.name()))
                    } else {
                        ::core::option::Option::None
                    };
                    if let ::core::option::Option::Some(__why) = __why {
                        return Err(::asyncore_runtime::Error::from(::std::format!("{}: {}", CLIENT_MESSAGES.name, __why)));
                    }
                    self.inner.send_with(|out| msg.encode(out))?;
                    *self.states = next;
                    #push
                    if __upgrades {
                        *self.tls = tls;
                    }
                    Ok(())
                }
            }
        }),
        on_reply: quote! {
            // The reply to the request that may start TLS: nothing was sent after it.
            let mut __upgraded = false;
            if let (::core::option::Option::Some(&(__req, __before)), true) = (pending.front(), pending.len() == 1 && tls.is_some()) {
                if replies(__req).contains(&index) {
                    let __msg = ServerMessage::from_decoder(dec, buf, index);
                    if !__msg.as_ref().is_some_and(continues) {
                        let __t = tls.take();
                        if let (::core::option::Option::Some(__t), true) = (__t, __msg.as_ref().is_some_and(|m| starts_tls_after(__before, __req, m))) {
                            ::asyncore_runtime::wire::start_tls_client(cx.channel(), __t)?;
                            __upgraded = true;
                        }
                    }
                }
            }
        },
        after: quote! {
            if __upgraded {
                // What came after the reply came before the session: it goes.
                io.discard_input();
                break;
            }
        },
        mut_cx: quote!(mut),
    }
}

/// The server role's parts for `starttls`: without it, the plain `send` and nothing else.
struct ServerTls {
    /// `ServerCx`'s fields.
    fields: TokenStream,
    /// Their values in a context that answers no request from its handler.
    init: TokenStream,
    /// Their values in the context of a request's handler.
    init_msg: TokenStream,
    /// `send` (and `start_tls`, `is_tls`).
    send: TokenStream,
    /// The messages the decoder accepts in state `current`.
    allowed: TokenStream,
    /// After the handler: the configuration `start_tls` gave, if it did.
    take: TokenStream,
    /// After the message is consumed: the upgrade.
    start: TokenStream,
}

fn server_tls(p: &Protocol) -> ServerTls {
    let send_check = super::replies::server_send_check(p);
    let send_mark = super::replies::server_send_mark(p);
    let encode = quote! {
        let mut __encoded = false;
        let __sent = self.inner.send_with(|out| {
            let __r = msg.encode(out);
            __encoded = __r.is_ok();
            __r
        });
    };
    if !p.has_starttls() {
        return ServerTls {
            fields: TokenStream::new(),
            init: TokenStream::new(),
            init_msg: TokenStream::new(),
            send: quote! {
                /// Encodes `msg` and queues it; the replies of one read go out in one send.
                pub fn send<'m>(&mut self, msg: impl ::core::convert::Into<ServerMessage<'m>>) -> ::asyncore_runtime::Result {
                    let msg = msg.into();
                    #send_check
                    #encode
                    #send_mark
                    __sent
                }
            },
            allowed: quote!(current.allowed()),
            take: TokenStream::new(),
            start: TokenStream::new(),
        };
    }
    ServerTls {
        fields: quote! {
            /// The configuration `start_tls` gave with the reply that agrees to start TLS.
            tls: ::core::option::Option<::asyncore_runtime::wire::ServerTls>,
            /// This context answers a request from its handler, where TLS may start.
            upgrade_ok: bool,
        },
        init: quote!(, tls: ::core::option::Option::None, upgrade_ok: false),
        init_msg: quote!(, tls: ::core::option::Option::None, upgrade_ok: true),
        send: quote! {
            /// Encodes `msg` and queues it; the replies of one read go out in one send. A
            /// reply that agrees to start TLS is sent with [`start_tls`](Self::start_tls)
            /// instead: here it is an error, and nothing is sent.
            pub fn send<'m>(&mut self, msg: impl ::core::convert::Into<ServerMessage<'m>>) -> ::asyncore_runtime::Result {
                self.send_reply(msg.into(), ::core::option::Option::None)
            }
            /// Sends `reply`, the reply that agrees to start TLS (a transition marked
            /// `starttls` in the description), and starts TLS with `config` once the
            /// handler returns: the replies queued so far go out in plaintext, then the
            /// session starts, and what the client sent after its request (read already,
            /// or arriving before the reply has left) is dropped, never handled as if it
            /// had come through the session. The connection is then in the state the
            /// description names. A server without a configuration sends a refusal with
            /// [`send`](Self::send) instead.
            ///
            /// An error, and nothing sent, if `reply` does not start TLS after this
            /// request in this state, or outside the handler of the request.
            pub fn start_tls<'m>(&mut self, reply: impl ::core::convert::Into<ServerMessage<'m>>, config: ::asyncore_runtime::wire::ServerTls) -> ::asyncore_runtime::Result {
                self.send_reply(reply.into(), ::core::option::Option::Some(config))
            }
            /// Whether the connection's traffic goes through TLS already: then a request
            /// that starts TLS is not allowed, and a server no longer offers it.
            pub fn is_tls(&self) -> bool { self.inner.is_tls() }
            fn send_reply(&mut self, msg: ServerMessage<'_>, tls: ::core::option::Option<::asyncore_runtime::wire::ServerTls>) -> ::asyncore_runtime::Result {
                #send_check
                let __starts = match __counts {
                    ::core::option::Option::Some(__req) => starts_tls_after(self.state.bit(), __req, &msg),
                    ::core::option::Option::None => false,
                };
                if __starts != tls.is_some() || (__starts && (!self.upgrade_ok || self.inner.is_tls())) {
                    let __to = __counts
                        .and_then(|r| CLIENT_MESSAGES.messages.get(usize::from(r)))
                        .map_or("?", |m| m.name);
                    let __why = if !__starts {
                        ::std::format!("`{}` does not start TLS here: send it with `cx.send`", msg.name())
                    } else if tls.is_none() {
                        ::std::format!("`{}` agrees to start TLS after `{}` in state `{}`: send it with `cx.start_tls(reply, config)`, or send a refusal", msg.name(), __to, self.state.name())
                    } else if self.inner.is_tls() {
                        ::std::format!("TLS is on already; `{}` would start it again", msg.name())
                    } else {
                        ::std::format!("`{}` starts TLS only from the handler of `{}`", msg.name(), __to)
                    };
                    return Err(::asyncore_runtime::Error::from(::std::format!("{}: {}", CLIENT_MESSAGES.name, __why)));
                }
                #encode
                #send_mark
                if __starts && __encoded {
                    self.tls = tls;
                }
                __sent
            }
        },
        allowed: quote! {
            if ::asyncore_runtime::wire::is_tls(ch) { current.allowed_with_tls() } else { current.allowed() }
        },
        take: quote!(let __tls = cx.tls.take();),
        start: quote! {
            if let ::core::option::Option::Some(__config) = __tls {
                if io.producing() || io.waiting() {
                    return Err(::asyncore_runtime::Error::from(::std::format!(
                        "{}: the reply that starts TLS is the whole answer: not with `produce_later` or `wait`",
                        CLIENT_MESSAGES.name
                    )));
                }
                if !closing {
                    ::asyncore_runtime::wire::start_tls_server(io, ch, __config)?;
                }
            }
        },
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

fn client_role(p: &Protocol) -> TokenStream {
    let received: Vec<usize> = p.received_by_client().collect();
    let lt = quote!('_);
    let methods = received.iter().map(|&mi| {
        let m = &p.messages[mi];
        let f = format_ident!("{}", handler_name(&m.name));
        let ty = types::message_type(m, &lt);
        let docs = doc_attrs(&m.docs);
        quote! {
            #(#docs)*
            fn #f(&mut self, cx: &mut ClientCx<'_, '_>, msg: #ty) -> ::asyncore_runtime::Result;
        }
    });
    let arms = received.iter().map(|&mi| {
        let m = &p.messages[mi];
        let f = format_ident!("{}", handler_name(&m.name));
        let v = format_ident!("{}", m.name);
        let idx = program_index(p, mi, false);
        quote! {
            #idx => {
                let msg = #v::from_slots(buf, dec.slots(), dec.items());
                handler.#f(cx, msg)
            }
        }
    });
    // Narrowing the next server message: `expect_NAME(params...)`. A message with
    // parameters is read only this way.
    let expects = received.iter().map(|&mi| {
        let m = &p.messages[mi];
        let f = format_ident!("expect_{}", &handler_name(&m.name)[3..]);
        let idx = program_index(p, mi, false);
        let names: Vec<_> = m.params.iter().map(|n| format_ident!("{}", n)).collect();
        let at = 0..names.len();
        let doc = if m.params.is_empty() {
            format!(
                "Accepts only `{}` as the next server message: anything else is bad input, and the connection closes. It applies to one message, then every server message is accepted again.",
                m.name
            )
        } else {
            format!(
                "Reads the next server message as `{}`, with these parameters (the server's earlier messages told them: an HTTP body's length comes from its response's headers). It applies to one message, then decoding goes back to recognising messages.",
                m.name
            )
        };
        quote! {
            #[doc = #doc]
            #[allow(unused_mut)]
            pub fn #f(&mut self, #(#names: u64),*) {
                let mut params = [0u64; ::asyncore_runtime::wire::MAX_PARAMS];
                #(params[#at] = #names;)*
                *self.expect = ::core::option::Option::Some((#idx, params));
            }
        }
    });
    // Client-side state tracking: a set of possible server states, as bits.
    let sends = p
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| m.dir.from_client())
        .map(|(mi, m)| {
            let v = format_ident!("{}", m.name);
            let per_state = p.states.iter().enumerate().filter_map(|(si, s)| {
                s.transitions
                    .iter()
                    .find(|(x, _)| *x == mi)
                    .map(|(_, targets)| {
                        let from = 1u64 << (si % 64);
                        // `close` adds no state: the server closes the connection.
                        let to = targets.iter().fold(0u64, |to, t| match t {
                            Target::State(i) => to | 1u64 << (i % 64),
                            Target::Close => to,
                        });
                        quote!(if states & #from != 0 { next |= #to; allowed = true; })
                    })
            });
            quote!(ClientMessage::#v(_) => { #(#per_state)* })
        });
    let (client_send_check, client_send_push, initial_pending, default_allowed, client_on_reply) =
        super::replies::client_parts(p);
    let ClientTls {
        cx_field: tls_cx_field,
        field: tls_field,
        pat: tls_pat,
        cx_init: tls_cx,
        send: client_send_fns,
        on_reply: tls_on_reply,
        after: tls_after,
        mut_cx,
    } = client_tls(p);
    let send_body = quote! {
        let states = *self.states;
        let (mut next, mut allowed) = (0u64, false);
        match &msg {
            #(#sends)*
            _ => {}
        }
        if !allowed {
            let __may: ::std::vec::Vec<&str> = State::ALL.iter().filter(|s| states & s.bit() != 0).map(|s| s.name()).collect();
            return Err(::asyncore_runtime::Error::from(::std::format!(
                "{}: `{}` is not allowed in the current state (the server may be in: {})", CLIENT_MESSAGES.name, msg.name(), __may.join(", ")
            )));
        }
        #client_send_check
    };
    let send_fns = client_send_fns(send_body, client_send_push);
    let tls_cx_new = if p.has_starttls() {
        quote!(, tls: ::core::option::Option::None)
    } else {
        TokenStream::new()
    };
    quote! {
        /// The client side: one method per message the server sends. `#[dispatcher(protocol
        /// = ..., role = client)]` on an `impl` block implements it.
        pub trait Client: 'static {
            #(#methods)*
            /// Called once the connection is open (connected), before any message: send the
            /// first request here. Does nothing by default.
            fn on_open(&mut self, cx: &mut ClientCx<'_, '_>) -> ::asyncore_runtime::Result { Ok(()) }
            /// Called when the connection closes. Does nothing by default.
            fn on_close(&mut self, cx: &mut ClientCx<'_, '_>, reason: ::core::option::Option<&::std::io::Error>) {}
            /// A timer the handler set (`cx.channel().set_timer(delay)`) fired. Does nothing by
            /// default.
            fn on_timer(&mut self, cx: &mut ClientCx<'_, '_>, id: ::asyncore_runtime::TimerId) -> ::asyncore_runtime::Result { Ok(()) }
            /// Called on input the client cannot decode, before the connection closes. Logs it
            /// by default.
            fn on_bad_input(&mut self, cx: &mut ClientCx<'_, '_>, err: &::asyncore_runtime::wire::DecodeError) {
                ::asyncore_runtime::wire::log_bad_input(err);
            }
        }

        /// What a [`Client`] handler can do: send client messages (checked against the
        /// states the server may be in), reach the channel.
        pub struct ClientCx<'c, 'a> {
            inner: ::asyncore_runtime::wire::Cx<'c, 'a>,
            states: &'c mut u64,
            /// Requests waiting for their replies, oldest first, with the states the server
            /// may have been in when each was sent.
            pending: &'c mut ::std::collections::VecDeque<(u16, u64)>,
            expect: &'c mut ::core::option::Option<(u16, [u64; ::asyncore_runtime::wire::MAX_PARAMS])>,
            buffered: usize,
            #tls_cx_field
        }
        impl<'c, 'a> ClientCx<'c, 'a> {
            #send_fns
            #(#expects)*
            /// How many bytes have arrived after the current message and are not decoded
            /// yet. A body that runs to the close of the connection is read as it comes
            /// with `expect_...(cx.buffered().max(1))`, one message per read.
            pub fn buffered(&self) -> usize { self.buffered }
            /// The bytes waiting to be sent, those queued by this handler call included.
            pub fn waiting_output(&self) -> usize { self.inner.waiting() }
            /// Whether the server may be in `state`.
            pub fn may_be_in(&self, state: State) -> bool { *self.states & state.bit() != 0 }
            /// The channel, for anything else.
            pub fn channel(&mut self) -> &mut ::asyncore_runtime::Channel<'a> { self.inner.channel() }
            /// Closes the connection once the queued messages are sent.
            pub fn close(&mut self) { self.inner.close() }
        }

        /// A channel for the client side of one connection, with the handler `H`.
        pub struct ClientChannel<H: Client> {
            /// The handler.
            pub handler: H,
            io: ::asyncore_runtime::wire::Io,
            states: u64,
            expect: ::core::option::Option<(u16, [u64; ::asyncore_runtime::wire::MAX_PARAMS])>,
            pending: ::std::collections::VecDeque<(u16, u64)>,
            #tls_field
        }
        impl<H: Client> ::core::fmt::Debug for ClientChannel<H> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct("ClientChannel").field("states", &self.states).finish_non_exhaustive()
            }
        }
        impl<H: Client> ClientChannel<H> {
            /// A channel whose server is in the initial state.
            pub fn new(handler: H) -> Self {
                ClientChannel { handler, io: ::asyncore_runtime::wire::Io::with_fast_path(&SERVER_MESSAGES, ::core::option::Option::Some(fast_server)), states: State::INITIAL.bit(), expect: ::core::option::Option::None, pending: #initial_pending #tls_cx_new }
            }
            fn step(handler: &mut H, cx: &mut ClientCx<'_, '_>, dec: &::asyncore_runtime::wire::Decoder, buf: &[u8], index: u16) -> ::asyncore_runtime::Result {
                match index {
                    #(#arms)*
                    _ => Ok(()),
                }
            }
        }
        impl<H: Client> ::asyncore_runtime::Dispatcher for ClientChannel<H> {
            fn writable(&mut self, ch: &::asyncore_runtime::Channel<'_>) -> bool {
                !ch.connected() || !self.io.opened()
            }
            fn interest_from_own_state(&self) -> bool {
                true
            }
            fn release_memory(&mut self) -> usize {
                self.io.release_memory()
            }
            fn handle_connect(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                self.handle_write(ch)
            }
            fn handle_write(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                let ClientChannel { handler, io, states, expect, pending #tls_pat } = self;
                if io.open() {
                    let mut cx = ClientCx { buffered: io.buffered(), inner: io.cx(ch), states, expect, pending #tls_cx };
                    handler.on_open(&mut cx)?;
                    cx.inner.flush()?;
                }
                Ok(())
            }
            fn handle_read(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>) -> ::asyncore_runtime::Result {
                self.handle_write(ch)?;
                let ClientChannel { handler, io, states, expect, pending #tls_pat } = self;
                if !io.fill(ch)? {
                    return Ok(());
                }
                loop {
                    let one: [u16; 1];
                    let allowed: &[u16] = match *expect {
                        ::core::option::Option::Some((index, params)) => {
                            io.set_params(&params);
                            one = [index];
                            &one
                        }
                        ::core::option::Option::None => #default_allowed,
                    };
                    match io.decode(allowed) {
                        ::asyncore_runtime::wire::Event::NeedMore => break,
                        ::asyncore_runtime::wire::Event::Message { index, len } => {
                            if expect.is_some_and(|(i, _)| i == index) {
                                *expect = ::core::option::Option::None;
                            }
                            let buffered = io.buffered().saturating_sub(len);
                            let (#mut_cx cx, dec, buf) = io.message(ch, len);
                            #tls_on_reply
                            #client_on_reply
                            let mut cx = ClientCx { inner: cx, states: &mut *states, expect: &mut *expect, pending: &mut *pending, buffered #tls_cx };
                            Self::step(handler, &mut cx, dec, buf, index)?;
                            let closing = cx.inner.is_closing();
                            io.consume(len);
                            #tls_after
                            if closing { break; }
                        }
                        ::asyncore_runtime::wire::Event::Error(err) => {
                            let mut cx = ClientCx { buffered: io.buffered(), inner: io.cx(ch), states: &mut *states, expect: &mut *expect, pending: &mut *pending #tls_cx };
                            handler.on_bad_input(&mut cx, &err);
                            io.apply(ch, ::asyncore_runtime::wire::Policy::Close, &err)?;
                            break;
                        }
                    }
                }
                if io.is_closing() && io.close_once() {
                    // The channel ends the connection itself: no close event follows.
                    let mut cx = ClientCx { buffered: io.buffered(), inner: io.cx(ch), states: &mut *states, expect: &mut *expect, pending: &mut *pending #tls_cx };
                    handler.on_close(&mut cx, ::core::option::Option::None);
                }
                io.flush(ch)?;
                Ok(())
            }
            fn handle_timer(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>, id: ::asyncore_runtime::TimerId) -> ::asyncore_runtime::Result {
                let ClientChannel { handler, io, states, expect, pending #tls_pat } = self;
                let mut cx = ClientCx { buffered: io.buffered(), inner: io.cx(ch), states: &mut *states, expect: &mut *expect, pending: &mut *pending #tls_cx };
                handler.on_timer(&mut cx, id)?;
                if io.is_closing() && io.close_once() {
                    let mut cx = ClientCx { buffered: io.buffered(), inner: io.cx(ch), states: &mut *states, expect: &mut *expect, pending: &mut *pending #tls_cx };
                    handler.on_close(&mut cx, ::core::option::Option::None);
                }
                io.flush(ch)
            }
            fn handle_close(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>, reason: ::core::option::Option<::std::io::Error>) -> ::asyncore_runtime::Result {
                let ClientChannel { handler, io, states, expect, pending #tls_pat } = self;
                if io.close_once() {
                    let mut cx = ClientCx { buffered: io.buffered(), inner: io.cx(ch), states, expect, pending #tls_cx };
                    handler.on_close(&mut cx, reason.as_ref());
                }
                ::asyncore_runtime::wire::close_channel(ch, reason.as_ref());
                Ok(())
            }
            fn handle_error(&mut self, ch: &mut ::asyncore_runtime::Channel<'_>, err: ::asyncore_runtime::Error) -> ::asyncore_runtime::Result {
                let reason = ::asyncore_runtime::wire::close_reason(&ch.to_string(), err)?;
                ::asyncore_runtime::Dispatcher::handle_close(self, ch, reason)
            }
        }
    }
}
