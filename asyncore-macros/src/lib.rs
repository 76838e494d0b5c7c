//! Procedural macros for `asyncore-runtime`: the `#[dispatcher]` attribute.
//!
//! Use them through the runtime, which re-exports them (feature `macros`, on by
//! default): `use asyncore_runtime::dispatcher;`.
//!
//! # `#[dispatcher]`
//!
//! In Python a channel is a class deriving from `asyncore.dispatcher` that overrides the
//! `handle_*` methods it needs. Here it is a type with an `impl` block marked
//! `#[dispatcher]`: the methods named after `asyncore_runtime::Dispatcher` methods become
//! the type's `Dispatcher` impl, the other items stay in an ordinary impl, and every
//! handler left out keeps asyncore's default.
//!
//! ```
//! use asyncore_runtime::{dispatcher, Channel, Result};
//!
//! /// Sends back every byte it receives.
//! struct Echo {
//!     echoed: usize,
//! }
//!
//! #[dispatcher]
//! impl Echo {
//!     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
//!         let mut buf = [0u8; 4096];
//!         let n = ch.recv(&mut buf)?;
//!         self.echoed += n;
//!         ch.send_buffered(&buf[..n])?;
//!         Ok(())
//!     }
//!
//!     /// Not a handler: stays an ordinary method.
//!     fn echoed(&self) -> usize {
//!         self.echoed
//!     }
//! }
//!
//! fn is_dispatcher(_: &impl asyncore_runtime::Dispatcher) {}
//! let echo = Echo { echoed: 0 };
//! is_dispatcher(&echo);
//! assert_eq!(echo.echoed(), 0);
//! ```
//!
//! The rules, the errors and the arguments are described on [`macro@dispatcher`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings), allow(dead_code))))]

mod ctxt;
mod dispatcher;
mod protocol;

use proc_macro::TokenStream;

/// Makes the handler methods of an inherent `impl` block the type's
/// `asyncore_runtime::Dispatcher` impl.
///
/// ```
/// use asyncore_runtime::{dispatcher, Addr, Channel, Result, Socket};
/// # struct Echo;
/// # #[dispatcher]
/// # impl Echo {}
///
/// /// A listening channel: each accepted connection gets an `Echo`.
/// struct Server {
///     accepted: u64,
/// }
///
/// #[dispatcher]
/// impl Server {
///     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
///         self.accepted += 1;
///         ch.add_accepted(sock, addr, Echo)?;
///         Ok(())
///     }
/// }
/// ```
///
/// # What goes where
///
/// The attribute writes two impls from the block it is on:
///
/// ```text
/// #[dispatcher]                     impl<G> ::asyncore_runtime::Dispatcher for T<G> where W {
/// impl<G> T<G> where W {                <the handler methods>
///     <the handler methods>     =>  }
///     <other items>                 impl<G> T<G> where W {
/// }                                     <the other items>
///                                   }
/// ```
///
/// * A method is a handler when its name is a `Dispatcher` method: `readable`,
///   `writable`, `handle_read`, `handle_write`, `handle_expt`, `handle_connect`,
///   `handle_accept`, `handle_accepted`, `handle_close`, `handle_error`, `handle_timer`,
///   `handle_idle`, `log`, `log_info` and `interest_from_own_state`. Its signature must be
///   the trait's (rustc checks it, and points at the parameter that differs).
/// * A block that defines neither `readable` nor `writable` keeps both defaults, which
///   depend only on the channel: the trait impl then also answers `true` to
///   `interest_from_own_state`, so the loop asks an idle channel nothing (unless the
///   block defines that method itself).
/// * Everything else (other methods, associated constants and types, macro calls) stays
///   in an inherent impl, with its visibility.
/// * The block's generics, where clause and attributes go on both impls; the methods keep
///   their attributes and doc comments. A `Dispatcher` is `'static`, so generic
///   parameters need a `'static` bound:
///
/// ```
/// use asyncore_runtime::{dispatcher, Channel, Result};
///
/// /// Counts what arrives, with a counter of the caller's choice.
/// struct Counter<N> {
///     total: N,
/// }
///
/// #[dispatcher]
/// impl<N> Counter<N>
/// where
///     N: std::ops::AddAssign + From<u16> + 'static,
/// {
///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
///         let mut buf = [0u8; 1024];
///         let n = ch.recv(&mut buf)?;
///         self.add(n as u16);
///         Ok(())
///     }
///
///     fn add(&mut self, n: u16) {
///         self.total += N::from(n);
///     }
/// }
/// ```
///
/// # Errors
///
/// Every error points at the offending token, and all of them are reported at once:
///
/// * A method whose name starts with `handle_`, or is within two edits of `readable` or
///   `writable`, but is no handler: ``unknown handler `handle_raed`; did you mean
///   `handle_read`?`` at the method's name (the handler names are listed when none is
///   close).
///
/// ```compile_fail
/// # use asyncore_runtime::{dispatcher, Channel, Result};
/// struct Echo;
///
/// #[dispatcher]
/// impl Echo {
///     fn handle_raed(&mut self, ch: &mut Channel<'_>) -> Result { Ok(()) }
/// }
/// ```
///
/// * A handler with the wrong signature: rustc's own error (E0053), at the parameter.
///
/// ```compile_fail,E0053
/// # use asyncore_runtime::{dispatcher, Channel, Result};
/// struct Echo;
///
/// #[dispatcher]
/// impl Echo {
///     fn handle_read(&mut self, ch: &Channel<'_>) -> Result { Ok(()) }
/// }
/// ```
///
/// * A handler marked `pub` (trait methods take no visibility), at the visibility.
/// * The attribute on anything but an inherent impl block (a struct, a trait impl, a
///   function...), at that item's keyword and name, saying where it goes.
///
/// # Arguments
///
/// `#[dispatcher(protocol = ..., role = server|client)]` is the form that will generate a
/// channel from a protocol description. It is not supported yet: either argument is an
/// error at that argument, and any other argument is an error naming the valid ones.
#[proc_macro_attribute]
pub fn dispatcher(args: TokenStream, item: TokenStream) -> TokenStream {
    dispatcher::dispatcher(args.into(), item.into()).into()
}

/// Compiles a protocol description into a module: message types, decoders and encoders,
/// the `State` enum, and per role a handler trait (`Server`, `Client`) and a channel
/// (`ServerChannel`, `ClientChannel`).
///
/// The description is read from a file, relative to the crate's directory (the crate is
/// rebuilt when it changes; errors name the file, line and column):
///
/// ```
/// asyncore_runtime::protocol!(pub mod chat = "../protocols/descriptions/chat.aproto");
///
/// assert_eq!(chat::State::INITIAL, chat::State::Guest);
/// ```
///
/// or written inline, where errors point at the offending token:
///
/// ```
/// asyncore_runtime::protocol! {
///     pub mod echo {
///         /// Every line comes back.
///         protocol echo
///         framing line "\n" max 4KiB
///         client Line = text:rest
///         server Echo = text:rest
///     }
/// }
///
/// let mut out = Vec::new();
/// echo::Echo { text: b"hi" }.encode(&mut out).unwrap();
/// assert_eq!(out, b"hi\n");
/// ```
///
/// The language is described in the guide, `docs/protocol-language.md`.
#[proc_macro]
pub fn protocol(input: TokenStream) -> TokenStream {
    let caller = proc_macro::Span::call_site().local_file();
    let caller_dir = caller.and_then(|f| f.parent().map(|d| d.to_path_buf()));
    protocol::protocol_macro(input.into(), caller_dir).into()
}
