//! The client role: the handler trait, its context (`ClientCx`) and the channel
//! (`ClientChannel`), with TLS when the description asks for it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::*;

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

pub(super) fn client_role(p: &Protocol) -> TokenStream {
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
        crate::gen::replies::client_parts(p);
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
