//! [`AsyncChat`]: asynchat's `async_chat` — a channel that cuts its input at a
//! terminator and queues its output, with producers.

use std::collections::VecDeque;
use std::fmt;
use std::io;

use crate::channel::Channel;
use crate::dispatcher::Dispatcher;
use crate::error::{Error, Result};
use crate::map::Map;
use crate::producer::Producer;
use crate::timer::TimerId;
use crate::token::Token;

mod cx;

pub use cx::Chat;
use cx::{flush, pump, ChatState};

/// asynchat's `ac_in_buffer_size`: the size of each receive.
pub const DEFAULT_IN_BUFFER_SIZE: usize = 65536;
/// asynchat's `ac_out_buffer_size`: how much output is handed to the channel at a time
/// when producers are queued.
pub const DEFAULT_OUT_BUFFER_SIZE: usize = 65536;
/// Default limit of the helper collector ([`Chat::collect`]).
pub const DEFAULT_MAX_COLLECT: usize = 64 * 1024;

/// Where incoming data is cut: asynchat's `set_terminator` argument.
///
/// | asynchat                  | here                            |
/// |---------------------------|---------------------------------|
/// | `set_terminator(b"\r\n")` | `Terminator::Bytes(b"\r\n".to_vec())` or `b"\r\n".into()` |
/// | `set_terminator(4096)`    | `Terminator::Count(4096)` or `4096.into()` |
/// | `set_terminator(None)`    | `Terminator::None` (the default) |
///
/// A `Count` is counted down across reads; when it reaches zero
/// [`ChatHandler::found_terminator`] runs and the terminator becomes `None` unless the
/// handler sets a new one (asynchat leaves a `0`, which means the same thing). An empty
/// `Bytes` and `Count(0)` also mean `None`.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::Terminator;
/// assert_eq!(Terminator::from(&b"\r\n"[..]), Terminator::Bytes(b"\r\n".to_vec()));
/// assert_eq!(Terminator::from(512usize), Terminator::Count(512));
/// assert!(Terminator::Bytes(Vec::new()).is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Terminator {
    /// Everything is data; [`ChatHandler::found_terminator`] is never called.
    #[default]
    None,
    /// A byte string of any length, found even when split across reads.
    Bytes(Vec<u8>),
    /// Exactly this many bytes, then [`ChatHandler::found_terminator`].
    Count(usize),
}

impl Terminator {
    /// Whether this terminator means "no terminator".
    ///
    /// ```
    /// assert!(asyncore_runtime::Terminator::Count(0).is_none());
    /// ```
    pub fn is_none(&self) -> bool {
        match self {
            Terminator::None => true,
            Terminator::Bytes(b) => b.is_empty(),
            Terminator::Count(n) => *n == 0,
        }
    }
}

impl From<&[u8]> for Terminator {
    fn from(b: &[u8]) -> Self {
        Terminator::Bytes(b.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Terminator {
    fn from(b: &[u8; N]) -> Self {
        Terminator::Bytes(b.to_vec())
    }
}

impl From<usize> for Terminator {
    fn from(n: usize) -> Self {
        Terminator::Count(n)
    }
}

/// The behaviour of an [`AsyncChat`] channel: asynchat's two abstract methods, plus the
/// channel events a chat handler usually wants.
///
/// # Examples
///
/// A line echo server's connection:
///
/// ```
/// use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Result};
///
/// struct LineEcho;
/// impl ChatHandler for LineEcho {
///     fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
///         chat.set_terminator(b"\n");
///         Ok(())
///     }
///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
///         chat.collect(data)?;
///         Ok(())
///     }
///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
///         let mut line = chat.take_collected();
///         line.push(b'\n');
///         chat.push(&line)?;
///         Ok(())
///     }
/// }
/// let channel = AsyncChat::with_terminator(LineEcho, b"\n");
/// # let _ = channel;
/// ```
#[allow(unused_variables)]
pub trait ChatHandler: 'static {
    /// Data arrived that is not (part of) a terminator. It may come in any number of
    /// pieces; it is never empty.
    fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result;

    /// The terminator was found (or the byte count reached). An empty record (a
    /// terminator right after the previous one) gives this call without a
    /// `collect_incoming_data` before it.
    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result;

    /// The channel connected (a client channel), or was added for an accepted connection
    /// (then this runs at the first event of the channel, before any data is processed).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Hi;
    /// impl ChatHandler for Hi {
    ///     fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.push(b"hi\n")?;
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        Ok(())
    }

    /// The peer closed or the connection broke. The default finishes sending what is
    /// queued, then closes (the peer may have shut down only its sending side).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Bye;
    /// impl ChatHandler for Bye {
    ///     fn handle_close(&mut self, chat: &mut Chat<'_, '_>, _reason: Option<std::io::Error>) -> Result {
    ///         chat.close();
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    fn handle_close(&mut self, chat: &mut Chat<'_, '_>, reason: Option<io::Error>) -> Result {
        chat.close_when_done();
        Ok(())
    }

    /// A handler returned an error. The default logs it and closes the channel; an error
    /// returned from here leaves the loop.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Error, Result};
    /// struct Polite;
    /// impl ChatHandler for Polite {
    ///     fn handle_error(&mut self, chat: &mut Chat<'_, '_>, err: Error) -> Result {
    ///         chat.push(format!("error: {err}\n").as_bytes())?;
    ///         chat.close_when_done();
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    fn handle_error(&mut self, chat: &mut Chat<'_, '_>, err: Error) -> Result {
        log::error!(target: "asyncore_runtime::chat", "uncaptured error, closing channel {}: {err}", chat.channel());
        chat.close();
        Ok(())
    }

    /// A timer set with [`Channel::set_timer`] fired.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result, TimerId};
    /// struct Tick;
    /// impl ChatHandler for Tick {
    ///     fn handle_timer(&mut self, chat: &mut Chat<'_, '_>, _id: TimerId) -> Result {
    ///         chat.push(b"tick\n")?;
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    fn handle_timer(&mut self, chat: &mut Chat<'_, '_>, id: TimerId) -> Result {
        Ok(())
    }
}

/// asynchat's `async_chat`: a [`Dispatcher`] that cuts its input at a [`Terminator`] and
/// calls a [`ChatHandler`], and queues its output (`push`, producers,
/// `close_when_done`).
///
/// # How input is cut
///
/// Each read event receives up to the in-buffer size (64 KiB). The bytes are scanned
/// once: data before a terminator goes to `collect_incoming_data`, then
/// `found_terminator` runs, and the terminator is read again (a handler may change it).
/// When the bytes end with a proper prefix of the terminator, that prefix is held back
/// for the next read, so a terminator split across reads is still found; nothing else is
/// kept, so the channel's own input buffer never exceeds one read plus the terminator
/// length, and a line arriving one byte at a time costs linear time. Bounding a whole
/// record is the handler's choice ([`Chat::collect`] has a limit).
///
/// # Differences from asynchat
///
/// * The default terminator is [`Terminator::None`] (asynchat had none and failed on
///   the first read).
/// * Output goes through the channel's bounded buffer; reading pauses while it is above
///   the high-water mark.
/// * A push after `close_when_done` is refused with an error instead of being lost.
/// * An exhausted producer is dropped only when it says so (`None` or an empty chunk).
///
/// ```
/// use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Result};
/// struct Quiet(u32);
/// impl ChatHandler for Quiet {
///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
/// }
/// let chat = AsyncChat::new(Quiet(7));
/// assert_eq!(chat.handler().0, 7);
/// ```
pub struct AsyncChat<H> {
    handler: H,
    st: ChatState,
    greeted: bool,
}

impl<H> fmt::Debug for AsyncChat<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncChat")
            .field("terminator", &self.st.terminator)
            .field("queued", &self.st.fifo)
            .finish_non_exhaustive()
    }
}

impl<H: ChatHandler> AsyncChat<H> {
    /// A chat channel with no terminator yet.
    ///
    /// ```
    /// # use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Result};
    /// # struct Q; impl ChatHandler for Q {
    /// #   fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    /// #   fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) } }
    /// let c = AsyncChat::new(Q);
    /// # let _ = c;
    /// ```
    pub fn new(handler: H) -> Self {
        AsyncChat {
            handler,
            st: ChatState::new(),
            greeted: false,
        }
    }

    /// A chat channel with a terminator set from the start.
    ///
    /// ```
    /// # use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Result};
    /// # struct Q; impl ChatHandler for Q {
    /// #   fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    /// #   fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) } }
    /// let c = AsyncChat::with_terminator(Q, b"\r\n");
    /// # let _ = c;
    /// ```
    pub fn with_terminator(handler: H, t: impl Into<Terminator>) -> Self {
        let mut c = AsyncChat::new(handler);
        c.st.terminator = t.into();
        c
    }

    /// The handler.
    ///
    /// ```
    /// # use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Result};
    /// struct Named(&'static str);
    /// # impl ChatHandler for Named {
    /// #   fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    /// #   fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) } }
    /// assert_eq!(AsyncChat::new(Named("a")).handler().0, "a");
    /// ```
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    ///
    /// ```
    /// # use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Result};
    /// struct Named(&'static str);
    /// # impl ChatHandler for Named {
    /// #   fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    /// #   fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) } }
    /// let mut c = AsyncChat::new(Named("a"));
    /// c.handler_mut().0 = "b";
    /// ```
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Run `f` with the handler and a [`Chat`] for this channel: how code outside the
    /// channel (another channel, a timer) pushes to it.
    ///
    /// ```
    /// # use asyncore_runtime::{AsyncChat, Chat, ChatHandler, Map, Result};
    /// # struct Q; impl ChatHandler for Q {
    /// #   fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    /// #   fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) } }
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), AsyncChat::new(Q))?;
    /// AsyncChat::<Q>::with_chat(&mut map, t, |_q, chat| chat.push(b"news\n")).unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_chat<R>(
        map: &mut Map,
        token: Token,
        f: impl FnOnce(&mut H, &mut Chat<'_, '_>) -> R,
    ) -> Option<R> {
        map.with::<AsyncChat<H>, R>(token, |me, ch| {
            let mut chat = Chat { ch, st: &mut me.st };
            let r = f(&mut me.handler, &mut chat);
            flush(ch);
            r
        })
    }

    fn call(
        &mut self,
        ch: &mut Channel<'_>,
        f: impl FnOnce(&mut H, &mut Chat<'_, '_>) -> Result,
    ) -> Result {
        let mut chat = Chat {
            ch,
            st: &mut self.st,
        };
        f(&mut self.handler, &mut chat)
    }

    fn greet(&mut self, ch: &mut Channel<'_>) -> Result {
        if !self.greeted && ch.connected() {
            self.greeted = true;
            self.call(ch, |h, c| h.handle_connect(c))?;
        }
        Ok(())
    }

    /// Cut `data` (held-back bytes plus a new read) at terminators.
    fn process(&mut self, ch: &mut Channel<'_>, data: &[u8]) -> Result {
        enum Step {
            All,
            Count { take: usize, done: bool },
            Found { at: usize, len: usize },
            Partial { keep: usize },
        }
        let mut pos = 0;
        self.st.held = 0;
        self.st.discarded = false;
        while pos < data.len() {
            if self.st.discarded || ch.is_closing() {
                return Ok(());
            }
            let rest = &data[pos..];
            let step = match &mut self.st.terminator {
                t if t.is_none() => Step::All,
                Terminator::Count(n) => {
                    let take = (*n).min(rest.len());
                    *n -= take;
                    Step::Count {
                        take,
                        done: *n == 0,
                    }
                }
                Terminator::Bytes(t) => match find(rest, t) {
                    Some(at) => Step::Found { at, len: t.len() },
                    None => Step::Partial {
                        keep: prefix_at_end(rest, t),
                    },
                },
                Terminator::None => Step::All,
            };
            match step {
                Step::All => {
                    pos = data.len();
                    self.call(ch, |h, c| h.collect_incoming_data(c, rest))?;
                }
                Step::Count { take, done } => {
                    if done {
                        self.st.terminator = Terminator::None;
                    }
                    pos += take;
                    self.call(ch, |h, c| h.collect_incoming_data(c, &rest[..take]))?;
                    if done && !self.st.discarded && !ch.is_closing() {
                        self.call(ch, |h, c| h.found_terminator(c))?;
                    }
                }
                Step::Found { at, len } => {
                    pos += at + len;
                    if at > 0 {
                        self.call(ch, |h, c| h.collect_incoming_data(c, &rest[..at]))?;
                    }
                    if self.st.discarded || ch.is_closing() {
                        return Ok(());
                    }
                    self.call(ch, |h, c| h.found_terminator(c))?;
                }
                Step::Partial { keep } => {
                    let upto = rest.len() - keep;
                    // Keep the possible start of a terminator for the next read.
                    self.st.held = keep;
                    if upto > 0 {
                        self.call(ch, |h, c| h.collect_incoming_data(c, &rest[..upto]))?;
                    }
                    if self.st.discarded {
                        self.st.held = 0;
                    }
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// asynchat's `find_prefix_at_end`: the length of the longest proper prefix of `needle`
/// that ends `hay`.
///
/// ```
/// use asyncore_runtime::find_prefix_at_end;
/// assert_eq!(find_prefix_at_end(b"qwerty\r", b"\r\n"), 1);
/// assert_eq!(find_prefix_at_end(b"qwertydkjf", b"\r\n"), 0);
/// assert_eq!(find_prefix_at_end(b"xaaa", b"aab"), 2);
/// ```
pub fn find_prefix_at_end(hay: &[u8], needle: &[u8]) -> usize {
    prefix_at_end(hay, needle)
}

fn prefix_at_end(hay: &[u8], needle: &[u8]) -> usize {
    let max = needle.len().saturating_sub(1).min(hay.len());
    (1..=max)
        .rev()
        .find(|&l| hay[hay.len() - l..] == needle[..l])
        .unwrap_or(0)
}

impl<H: ChatHandler> Dispatcher for AsyncChat<H> {
    fn readable(&mut self, _ch: &Channel<'_>) -> bool {
        true
    }

    fn writable(&mut self, ch: &Channel<'_>) -> bool {
        // Until handle_connect has run, so that a server greets a client that waits.
        !ch.connected() || !self.greeted || !self.st.fifo.is_empty()
    }

    /// `readable` and `writable` read only the channel and this chat's own queue, which
    /// changes only in its handlers or through the map.
    fn interest_from_own_state(&self) -> bool {
        true
    }

    /// Gives back the receive buffer when it holds nothing kept from the last read, and
    /// the collected input's storage when it is empty.
    fn release_memory(&mut self) -> usize {
        let mut freed = 0;
        if self.st.held == 0 {
            freed += std::mem::take(&mut self.st.inbuf).capacity();
        }
        if self.st.incoming.is_empty() {
            freed += std::mem::take(&mut self.st.incoming).capacity();
        }
        freed
    }

    fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
        let r = self.greet(ch);
        flush(ch);
        r
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        self.greet(ch)?;
        let held = self.st.held;
        let want = held + self.st.in_buffer_size;
        let mut buf = std::mem::take(&mut self.st.inbuf);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let n = match ch.recv(&mut buf[held..want]) {
            Ok(n) => n,
            Err(e) => {
                self.st.inbuf = buf;
                return Err(e.into());
            }
        };
        let r = if n > 0 {
            self.process(ch, &buf[..held + n])
        } else {
            Ok(())
        };
        // Move the held-back prefix to the front for the next read.
        let keep = self.st.held;
        if keep > 0 {
            let end = held + n;
            buf.copy_within(end - keep..end, 0);
        }
        self.st.inbuf = buf;
        flush(ch);
        r
    }

    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        let r = self.greet(ch).and_then(|()| Ok(pump(ch, &mut self.st)?));
        flush(ch);
        r
    }

    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<io::Error>) -> Result {
        let r = self.call(ch, |h, c| h.handle_close(c, reason));
        flush(ch);
        r
    }

    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        let r = self.call(ch, |h, c| h.handle_error(c, err));
        flush(ch);
        r
    }

    fn handle_timer(&mut self, ch: &mut Channel<'_>, id: TimerId) -> Result {
        let r = self.call(ch, |h, c| h.handle_timer(c, id));
        flush(ch);
        r
    }
}
