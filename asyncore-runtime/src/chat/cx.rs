//! The context a [`ChatHandler`] is given ([`Chat`]): pushing output and producers,
//! collecting input, the terminator, and the channel; and the state behind it.

use super::*;

pub(super) enum OutItem {
    Bytes(Vec<u8>),
    Producer(Box<dyn Producer>),
    Close,
}

impl fmt::Debug for OutItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutItem::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            OutItem::Producer(_) => f.write_str("Producer(..)"),
            OutItem::Close => f.write_str("Close"),
        }
    }
}

/// The buffers and settings of an [`AsyncChat`] channel.
#[derive(Debug)]
pub(super) struct ChatState {
    pub(super) terminator: Terminator,
    /// Receive buffer: `held` bytes kept from the last read (a possible terminator
    /// prefix), then room for one receive.
    pub(super) inbuf: Vec<u8>,
    pub(super) held: usize,
    pub(super) in_buffer_size: usize,
    pub(super) out_buffer_size: usize,
    pub(super) fifo: VecDeque<OutItem>,
    pub(super) fifo_bytes: usize,
    pub(super) closing: bool,
    pub(super) discarded: bool,
    pub(super) incoming: Vec<u8>,
    pub(super) max_collect: usize,
}

impl ChatState {
    pub(super) fn new() -> Self {
        ChatState {
            terminator: Terminator::None,
            inbuf: Vec::new(),
            held: 0,
            in_buffer_size: DEFAULT_IN_BUFFER_SIZE,
            out_buffer_size: DEFAULT_OUT_BUFFER_SIZE,
            fifo: VecDeque::new(),
            fifo_bytes: 0,
            closing: false,
            discarded: false,
            incoming: Vec::new(),
            max_collect: DEFAULT_MAX_COLLECT,
        }
    }
}

/// What a [`ChatHandler`] gets: the chat channel's buffers and its [`Channel`].
///
/// ```
/// use asyncore_runtime::{Chat, ChatHandler, Result};
/// struct Lines;
/// impl ChatHandler for Lines {
///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
///         chat.collect(data)?;
///         Ok(())
///     }
///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
///         let line = chat.take_collected();
///         chat.push(&line)?;
///         chat.push(b"\n")?;
///         Ok(())
///     }
/// }
/// ```
pub struct Chat<'a, 'c> {
    pub(super) ch: &'a mut Channel<'c>,
    pub(super) st: &'a mut ChatState,
}

impl fmt::Debug for Chat<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("channel", &self.ch)
            .field("terminator", &self.st.terminator)
            .field("queued", &self.st.fifo.len())
            .finish()
    }
}

impl<'c> Chat<'_, 'c> {
    /// The underlying channel: token, state, the map, timers...
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Who;
    /// impl ChatHandler for Who {
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         let t = chat.channel().token();
    ///         chat.push(format!("you are {t}\n").as_bytes())?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn channel(&mut self) -> &mut Channel<'c> {
        self.ch
    }

    /// The map the channel lives in (shortcut for `channel().map()`).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Stopper;
    /// impl ChatHandler for Stopper {
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.map().stop();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn map(&mut self) -> &mut Map {
        self.ch.map()
    }

    /// Change the terminator (asynchat's `set_terminator`); it applies to the very next
    /// byte, even inside [`ChatHandler::found_terminator`].
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// // A header line announces a body length, then back to lines.
    /// struct Framed { in_body: bool }
    /// impl ChatHandler for Framed {
    ///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
    ///         chat.collect(data)?;
    ///         Ok(())
    ///     }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         let got = chat.take_collected();
    ///         if self.in_body {
    ///             chat.set_terminator(b"\r\n");
    ///         } else {
    ///             let n: usize = String::from_utf8_lossy(&got).trim().parse().map_err(asyncore_runtime::Error::other)?;
    ///             chat.set_terminator(n);
    ///         }
    ///         self.in_body = !self.in_body;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_terminator(&mut self, t: impl Into<Terminator>) {
        self.st.terminator = t.into();
    }

    /// The current terminator (asynchat's `get_terminator`); a `Count` shows what is
    /// left to read.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result, Terminator};
    /// struct Peek;
    /// impl ChatHandler for Peek {
    ///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, _: &[u8]) -> Result {
    ///         let _left = matches!(chat.get_terminator(), Terminator::Count(_));
    ///         Ok(())
    ///     }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn get_terminator(&self) -> &Terminator {
        &self.st.terminator
    }

    /// Queue `data` for sending (asynchat's `push`). Data is copied; it goes out in order
    /// with producers queued before it. Refused with an error naming the limit when the
    /// output is over the channel's hard limit, or after [`close_when_done`](Self::close_when_done).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Greeter;
    /// impl ChatHandler for Greeter {
    ///     fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.push(b"HELLO\r\n")?;
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn push(&mut self, data: &[u8]) -> io::Result<()> {
        self.refuse_after_close()?;
        if data.is_empty() {
            return Ok(());
        }
        if self.st.fifo.is_empty() {
            // Queued only: the channel sends everything pushed during one event at once.
            return self.ch.queue(data);
        }
        let limit = self.ch.core.out_limit();
        if self.st.fifo_bytes + self.ch.pending_output() + data.len() > limit {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "output limit of {limit} bytes exceeded on channel {}: the peer is not \
                     reading; close the channel or raise the limit",
                    self.ch.token()
                ),
            ));
        }
        self.st.fifo_bytes += data.len();
        self.st.fifo.push_back(OutItem::Bytes(data.to_vec()));
        Ok(())
    }

    /// Queue a producer (asynchat's `push_with_producer`): its chunks are sent, in order,
    /// as the channel drains.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result, SimpleProducer};
    /// struct Sender;
    /// impl ChatHandler for Sender {
    ///     fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.push_with_producer(SimpleProducer::new(vec![b'x'; 1 << 20], 8192))?;
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn push_with_producer(&mut self, producer: impl Producer) -> io::Result<()> {
        self.refuse_after_close()?;
        self.st
            .fifo
            .push_back(OutItem::Producer(Box::new(producer)));
        pump(self.ch, self.st)
    }

    /// Close the channel once everything queued before this call has been sent
    /// (asynchat's `close_when_done`). Later pushes are refused.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Bye;
    /// impl ChatHandler for Bye {
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.push(b"221 bye\r\n")?;
    ///         chat.close_when_done();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn close_when_done(&mut self) {
        if self.st.closing {
            return;
        }
        self.st.closing = true;
        if self.st.fifo.is_empty() {
            self.ch.close_when_done();
        } else {
            self.st.fifo.push_back(OutItem::Close);
        }
    }

    /// Close at once, dropping queued output (asyncore's `close`).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Rude;
    /// impl ChatHandler for Rude {
    ///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, _: &[u8]) -> Result {
    ///         chat.close();
    ///         Ok(())
    ///     }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn close(&mut self) {
        self.ch.close();
    }

    /// Drop unprocessed input, collected data and queued output (asynchat's
    /// `discard_buffers`). Data already handed to the channel's output buffer still goes
    /// out.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Reset;
    /// impl ChatHandler for Reset {
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.discard_buffers();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn discard_buffers(&mut self) {
        self.st.held = 0;
        self.st.discarded = true;
        self.st.incoming.clear();
        self.st.fifo.clear();
        self.st.fifo_bytes = 0;
    }

    /// Append `data` to the helper collector (asynchat's `_collect_incoming_data`), for
    /// handlers that want whole records. Fails, keeping nothing of `data`, when the
    /// collected record would exceed the limit ([`set_max_collect`](Self::set_max_collect),
    /// default [`DEFAULT_MAX_COLLECT`]).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Collector;
    /// impl ChatHandler for Collector {
    ///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
    ///         chat.collect(data)?;
    ///         Ok(())
    ///     }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         let _record = chat.take_collected();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn collect(&mut self, data: &[u8]) -> io::Result<()> {
        if self.st.incoming.len() + data.len() > self.st.max_collect {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "record longer than {} bytes (the collector's limit) on channel {}",
                    self.st.max_collect,
                    self.ch.token()
                ),
            ));
        }
        self.st.incoming.extend_from_slice(data);
        Ok(())
    }

    /// How many bytes the helper collector holds.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Capped;
    /// impl ChatHandler for Capped {
    ///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
    ///         if chat.collected_len() + data.len() <= 80 { chat.collect(data)?; }
    ///         Ok(())
    ///     }
    ///     fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.take_collected();
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn collected_len(&self) -> usize {
        self.st.incoming.len()
    }

    /// Take what the helper collector holds (asynchat's `_get_data`), leaving it empty.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Echo;
    /// impl ChatHandler for Echo {
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
    /// ```
    pub fn take_collected(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.st.incoming)
    }

    /// Set the helper collector's limit.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Small;
    /// impl ChatHandler for Small {
    ///     fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.set_max_collect(1000);
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn set_max_collect(&mut self, limit: usize) {
        self.st.max_collect = limit;
    }

    /// Set the receive size (asynchat's `ac_in_buffer_size`) and the output chunk size
    /// (`ac_out_buffer_size`), each at least 1.
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Tiny;
    /// impl ChatHandler for Tiny {
    ///     fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
    ///         chat.set_buffer_sizes(4096, 4096);
    ///         Ok(())
    ///     }
    ///     fn collect_incoming_data(&mut self, _: &mut Chat<'_, '_>, _: &[u8]) -> Result { Ok(()) }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn set_buffer_sizes(&mut self, in_buffer_size: usize, out_buffer_size: usize) {
        self.st.in_buffer_size = in_buffer_size.max(1);
        self.st.out_buffer_size = out_buffer_size.max(1);
    }

    /// Bytes queued for sending (in the channel's buffer and behind producers).
    ///
    /// ```
    /// # use asyncore_runtime::{Chat, ChatHandler, Result};
    /// struct Watch;
    /// impl ChatHandler for Watch {
    ///     fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, _: &[u8]) -> Result {
    ///         let _q = chat.queued_output();
    ///         Ok(())
    ///     }
    ///     fn found_terminator(&mut self, _: &mut Chat<'_, '_>) -> Result { Ok(()) }
    /// }
    /// ```
    pub fn queued_output(&self) -> usize {
        self.ch.pending_output() + self.st.fifo_bytes
    }
}

/// Send what handlers queued during an event; a failure here is a broken connection,
/// which the channel already turned into its close event, or an error the next write
/// event reports again.
pub(super) fn flush(ch: &mut Channel<'_>) {
    if ch.has_pending_output() {
        if let Err(e) = ch.flush() {
            ch.close_with_reason(e);
        }
    }
}

impl Chat<'_, '_> {
    fn refuse_after_close(&self) -> io::Result<()> {
        if self.st.closing {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "push after close_when_done: the data would never be sent",
            ));
        }
        Ok(())
    }
}

/// Hand queued items to the channel's output buffer while it has room.
pub(super) fn pump(ch: &mut Channel<'_>, st: &mut ChatState) -> io::Result<()> {
    while ch.pending_output() < st.out_buffer_size && !ch.is_closing() {
        let Some(front) = st.fifo.front_mut() else {
            break;
        };
        match front {
            OutItem::Bytes(_) => {
                let Some(OutItem::Bytes(b)) = st.fifo.pop_front() else {
                    unreachable!()
                };
                st.fifo_bytes -= b.len();
                ch.queue(&b)?;
            }
            OutItem::Producer(p) => match p.more() {
                Some(chunk) if !chunk.is_empty() => ch.queue(&chunk)?,
                _ => {
                    st.fifo.pop_front();
                }
            },
            OutItem::Close => {
                st.fifo.pop_front();
                ch.close_when_done();
                break;
            }
        }
    }
    Ok(())
}
