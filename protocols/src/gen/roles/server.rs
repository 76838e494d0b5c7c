//! The server role: the handler trait, its context (`ServerCx`) and the channel
//! (`ServerChannel`), with TLS when the description asks for it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::*;

pub(super) fn server_role(p: &Protocol) -> TokenStream {
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
    let send_check = crate::gen::replies::server_send_check(p);
    let send_mark = crate::gen::replies::server_send_mark(p);
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
