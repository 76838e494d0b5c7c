//! Python's `asyncore` in Rust: channels with `handle_*` methods, maps of channels, and a
//! `select`/`poll`/`epoll` loop with `timeout` and `count`.
//!
//! A channel is a socket (or pipe, or file) plus a [`Dispatcher`]: a type whose
//! `handle_read`, `handle_write`, `handle_accept`, `handle_close`... methods the loop calls
//! as the socket becomes ready. A [`Map`] holds channels; [`Map::run`] (asyncore's
//! `loop()`) serves them until the map is empty.
//!
//! # Echo server
//!
//! ```no_run
//! use asyncore_runtime::{Addr, Channel, Dispatcher, Map, Result, Socket};
//!
//! struct Echo;
//! impl Dispatcher for Echo {
//!     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
//!         let mut buf = [0u8; 16 * 1024];
//!         let n = ch.recv(&mut buf)?;
//!         ch.send_buffered(&buf[..n])?;
//!         Ok(())
//!     }
//! }
//!
//! struct Server;
//! impl Dispatcher for Server {
//!     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
//!         ch.add_accepted(sock, addr, Echo)?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//!     let mut map = Map::new();
//!     let listener = map.listen(&"127.0.0.1:7000".parse::<std::net::SocketAddr>()?.into(), Server)?;
//!     println!("listening on {}", map.local_addr(listener).unwrap());
//!     map.run()?;
//!     Ok(())
//! }
//! ```
//!
//! # From asyncore
//!
//! | asyncore                                   | asyncore-runtime                                  |
//! |--------------------------------------------|---------------------------------------------------|
//! | `class X(asyncore.dispatcher)`             | `impl Dispatcher for X`                            |
//! | `asyncore.dispatcher_with_send.send(data)` | [`Channel::send_buffered`]                         |
//! | `self.send(data)` / `self.recv(n)`         | [`Channel::send`] / [`Channel::recv`]              |
//! | `self.close()`                             | [`Channel::close`]                                 |
//! | `self.connected`, `accepting`, `connecting`| [`Channel::connected`], [`Channel::accepting`], [`Channel::connecting`] |
//! | `self.create_socket(family, type)`         | [`Map::create_socket`]                             |
//! | `self.bind(addr)`; `self.listen(n)`        | [`Socket::bind`]; [`Channel::listen`] (or [`Map::listen`]) |
//! | `self.connect(addr)`                       | [`Channel::connect`] (or [`Map::connect`])         |
//! | `self.accept()`                            | [`Channel::accept`]                                |
//! | `socket_map`                               | a [`Map`] value (several may exist)                |
//! | `asyncore.loop(timeout, use_poll, map, count)` | [`run_loop`]`(timeout, backend, &mut map, count)` or [`Map::run_with`] |
//! | `use_poll=False` / `True`                  | [`Backend::Select`] / [`Backend::Poll`] ([`Backend::Epoll`] is the default) |
//! | `asyncore.poll()` / `poll2()`              | [`Map::poll_once`]                                 |
//! | `asyncore.close_all(map)`                  | [`Map::close_all`] / [`close_all`]                 |
//! | `asyncore.file_dispatcher(fd)`             | [`Map::add_file`]                                  |
//! | `raise asyncore.ExitNow`                   | `return Err(Error::Exit)`                          |
//! | `asyncore._DISCONNECTED`                   | [`is_disconnect`]                                  |
//! | `asyncore._strerror(n)`                    | [`strerror`]                                       |
//!
//! # What asyncore lacked
//!
//! * Timers: [`Map::call_later`], [`Map::call_at`], [`Channel::set_timer`]; they bound
//!   the wait, so they fire on time whatever `timeout` the loop has.
//! * Idle timeouts per channel: [`Channel::set_idle_timeout`].
//! * A [`Waker`] other threads use to wake the loop and hand it work.
//! * One loop per core on one listening socket, its connections dealt to the loops in
//!   turn: [`SpreadGroup`].
//! * Bounded output with back-pressure: reading pauses while a channel's buffered output
//!   is above its high-water mark; past the hard limit `send_buffered` refuses data.
//! * `TCP_NODELAY` on by default for TCP channels.
//! * Fault isolation: a panic in a handler is caught, logged and closes only its
//!   channel; `SIGPIPE` is never raised (`MSG_NOSIGNAL`); `EINTR` is retried; running
//!   out of descriptors pauses accepting instead of spinning or closing the listener.
//! * A clean stop: [`Map::stop`], [`Waker::stop`], [`Map::stop_on_signals`].
//! * Passes that cost nothing per idle channel: a dispatcher whose `readable` and
//!   `writable` depend only on its own state says so
//!   ([`Dispatcher::interest_from_own_state`]), and the loop asks it only after
//!   something happened to it. asyncore asks every channel every pass, which is still
//!   what happens for every other dispatcher.
//! * TLS (feature `tls`, rustls with the `ring` provider): [`tls`] makes the
//!   configurations, [`Channel::add_accepted_tls`] serves a connection that is TLS from
//!   its first byte, [`Channel::start_tls_server`] and [`Channel::start_tls_client`]
//!   upgrade one in the middle (STARTTLS). Handlers, generated ones included, read and
//!   write plaintext with the same calls; back-pressure, half-close, lingering close and
//!   `send_file` work through the session, on every backend.
//! * Framing without a channel: [`codec`] (line and length-prefixed framers, a bounded
//!   read buffer), and [`wire`], the resumable, bounded decoder and the encoder that
//!   code generated from a protocol description runs on.
//!
//! # Backends
//!
//! | OS    | default            | also                    |
//! |-------|--------------------|-------------------------|
//! | Linux | [`Backend::Epoll`] | [`Backend::Poll`], [`Backend::Select`] |
//!
//! Dispatch semantics are the same on every backend, level-triggered as asyncore's
//! select and poll loops: a channel is told again in the next pass about data it left
//! unread. epoll registers edge-triggered, and the loop keeps that behaviour: readiness a
//! handler did not visibly use up (its socket's own calls did not find the socket empty,
//! or full) is checked again with `poll(2)` before the next wait. See [`Map`] for one
//! pass step by step, and [`Dispatcher`] for the handlers and where they differ from
//! asyncore.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings), allow(dead_code))))]

// Lets code generated by `#[dispatcher]`, which names `::asyncore_runtime::...`, compile
// inside this crate too (unused until something here uses it).
#[allow(unused_extern_crates)]
extern crate self as asyncore_runtime;

mod addr;
mod channel;
mod chat;
pub mod codec;
mod dispatch;
mod dispatcher;
mod error;
mod map;
mod producer;
mod ready;
mod signal;
mod socket;
mod spread;
mod sys;
mod timer;
#[cfg(feature = "tls")]
pub mod tls;
mod token;
mod waker;
pub mod wire;

pub use addr::Addr;
/// Requires the `macros` feature (on by default).
#[cfg(feature = "macros")]
pub use asyncore_macros::{dispatcher, protocol};
pub use channel::{Channel, ACCEPT_BACKOFF, DEFAULT_HIGH_WATER, DEFAULT_OUTPUT_LIMIT};
pub use chat::{
    find_prefix_at_end, AsyncChat, Chat, ChatHandler, Terminator, DEFAULT_IN_BUFFER_SIZE,
    DEFAULT_MAX_COLLECT, DEFAULT_OUT_BUFFER_SIZE,
};
pub use dispatcher::{Dispatcher, ACCEPT_BUDGET};
pub use error::{is_disconnect, strerror, Error, Result};
pub use map::{
    close_all, run_loop, Map, DEFAULT_LINGER_BYTES, DEFAULT_LINGER_TIMEOUT,
    DEFAULT_RELEASE_INTERVAL, DEFAULT_TIMEOUT,
};
pub use producer::{Producer, SimpleProducer};
pub use ready::Ready;
pub use signal::{SIGHUP, SIGINT, SIGTERM};
pub use socket::{Connect, Domain, SockType, Socket};
pub use spread::{Spread, SpreadGroup};
pub use sys::Backend;
pub use timer::TimerId;
pub use token::Token;
pub use waker::Waker;
