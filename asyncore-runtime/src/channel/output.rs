//! What a channel sends: direct and buffered sends, the output buffer and its limits,
//! and files sent with `sendfile(2)`.

use std::io;

use rustix::io::Errno;

use super::Channel;

impl Channel<'_> {
    /// Sends up to `count` bytes of `file`, from `offset`, straight to the socket with
    /// `sendfile(2)` (no copy through user space; the file's own position does not
    /// move): returns the count sent, 0 if the socket is full (`EAGAIN`), the
    /// connection broke (then the channel is marked closing), or output is still
    /// buffered (it is flushed first, and the file's bytes must not overtake it). A file
    /// that ends before `offset` gives 0 too: compare with its length.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct FileSender { file: std::fs::File, sent: u64, len: u64 }
    /// impl Dispatcher for FileSender {
    ///     fn writable(&mut self, _ch: &Channel<'_>) -> bool { self.sent < self.len }
    ///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let left = (self.len - self.sent) as usize;
    ///         self.sent += ch.send_file(&self.file, self.sent, left)? as u64;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn send_file(
        &mut self,
        file: &impl std::os::fd::AsFd,
        offset: u64,
        count: usize,
    ) -> io::Result<usize> {
        if self.core.done() || count == 0 {
            return Ok(0);
        }
        #[cfg(feature = "tls")]
        if self.core.is_tls() {
            let now = self.map.now;
            return self
                .core
                .tls_send_file(std::os::fd::AsFd::as_fd(file), offset, count, now);
        }
        if !self.core.out.is_empty() {
            // A response's header goes out in the same segment as the file's first bytes.
            self.flush_before_file()?;
            if !self.core.out.is_empty() {
                return Ok(0);
            }
        }
        let mut at = offset;
        match rustix::fs::sendfile(&self.core.sock, file, Some(&mut at), count) {
            Ok(n) => {
                if n > 0 {
                    self.core.last_activity = self.map.now_stamp;
                }
                Ok(n)
            }
            Err(Errno::AGAIN) | Err(Errno::INTR) => Ok(0),
            Err(e) => {
                let e = io::Error::from(e);
                if crate::error::is_disconnect(&e) {
                    self.core.schedule_close(Some(e));
                    Ok(0)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Send bytes straight to the socket, as asyncore's `dispatcher.send`: returns the
    /// count sent, 0 if the socket is full (`EAGAIN`) or the connection broke (then the
    /// channel is marked closing). Most handlers want
    /// [`send_buffered`](Self::send_buffered), which keeps what the socket did not take.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Blaster;
    /// impl Dispatcher for Blaster {
    ///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let _sent = ch.send(&[b'x'; 1024])?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn send(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.core.done() {
            return Ok(0);
        }
        #[cfg(feature = "tls")]
        if self.core.is_tls() {
            let now = self.map.now;
            return self.core.tls_send(data, now);
        }
        let sent = self.core.sock.send(data);
        self.settle(sent)
    }

    /// Queue `data` for sending (asyncore's `dispatcher_with_send.send`, under a name
    /// that does not change `send`'s contract).
    ///
    /// If nothing is queued and the channel is connected, the socket is tried at once and
    /// only what it did not take is copied into the output buffer; the loop writes the
    /// rest as the socket allows. While more than the high-water mark is queued the
    /// channel is not read (back-pressure). Data that would take the buffer past its hard
    /// limit is refused with an `OutOfMemory` error naming the limit (see
    /// [`set_output_limits`](Self::set_output_limits)); so is data offered after
    /// [`close`](Self::close) or [`close_when_done`](Self::close_when_done).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Hello;
    /// impl Dispatcher for Hello {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.send_buffered(b"HELO example.org\r\n")?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn send_buffered(&mut self, data: &[u8]) -> io::Result<()> {
        let now = self.map.now;
        self.core.send_buffered(data, now)
    }

    /// Queue `data` without trying the socket: it goes out with the next
    /// [`flush`](Self::flush) or write event. Several small writes made in one handler
    /// then leave in one system call (asynchat sent each `push` on its own). Same limits
    /// and errors as [`send_buffered`](Self::send_buffered).
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Lines;
    /// impl Dispatcher for Lines {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         let mut buf = [0u8; 512];
    ///         let n = ch.recv(&mut buf)?;
    ///         for line in buf[..n].split_inclusive(|&b| b == b'\n') {
    ///             ch.queue(line)?;
    ///         }
    ///         ch.flush()?; // one send for all of them
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn queue(&mut self, data: &[u8]) -> io::Result<()> {
        let now = self.map.now;
        self.core.enqueue(data, now, false)
    }

    /// Try once to write the buffered output (asyncore's `initiate_send`). The loop does
    /// this by itself whenever the socket can take data.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Eager;
    /// impl Dispatcher for Eager {
    ///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.flush()?;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn flush(&mut self) -> io::Result<()> {
        let now = self.map.now;
        self.core.flush(now)
    }

    /// [`flush`](Self::flush) before [`send_file`](Self::send_file): the kernel is told
    /// that the file follows at once (`MSG_MORE`), so a response's header is not sent in a
    /// segment of its own. `send_file` does it itself when output is buffered.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Download { file: std::fs::File, len: u64, sent: u64 }
    /// impl Dispatcher for Download {
    ///     fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         if self.sent == 0 && !ch.has_pending_output() {
    ///             ch.queue(format!("{}\n", self.len).as_bytes())?;
    ///         }
    ///         ch.flush_before_file()?;
    ///         let left = (self.len - self.sent) as usize;
    ///         self.sent += ch.send_file(&self.file, self.sent, left)? as u64;
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn flush_before_file(&mut self) -> io::Result<()> {
        let now = self.map.now;
        self.core.flush_then(now, true)
    }

    /// How many bytes are queued for sending.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher};
    /// struct Polite;
    /// impl Dispatcher for Polite {
    ///     fn readable(&mut self, ch: &Channel<'_>) -> bool { ch.pending_output() < 4096 }
    /// }
    /// ```
    pub fn pending_output(&self) -> usize {
        self.core.pending_len()
    }

    /// Whether anything is queued for sending.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher};
    /// struct Flusher;
    /// impl Dispatcher for Flusher {
    ///     fn writable(&mut self, ch: &Channel<'_>) -> bool { ch.has_pending_output() }
    /// }
    /// ```
    pub fn has_pending_output(&self) -> bool {
        self.core.has_output()
    }

    /// Set the output buffer's high-water mark (reading pauses above it) and hard limit
    /// (`send_buffered` refuses data past it). The hard limit is raised to the
    /// high-water mark if it is below it. Each is at most 4 GiB: a larger value counts
    /// as 4 GiB.
    ///
    /// ```
    /// # use asyncore_runtime::{Channel, Dispatcher, Result};
    /// struct Small;
    /// impl Dispatcher for Small {
    ///     fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         ch.set_output_limits(16 * 1024, 64 * 1024);
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_output_limits(&mut self, high_water: usize, limit: usize) {
        self.core.set_output_limits(high_water, limit);
    }

    /// The output buffer's high-water mark (see
    /// [`set_output_limits`](Self::set_output_limits)): over it, reading pauses.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map, DEFAULT_HIGH_WATER};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.high_water()), Some(DEFAULT_HIGH_WATER));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn high_water(&self) -> usize {
        self.core.high_water()
    }

    /// Whether reading is paused because the output buffer is above its high-water mark.
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct D; impl Dispatcher for D {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), D)?;
    /// assert_eq!(map.with_channel(t, |ch| ch.is_paused()), Some(false));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn is_paused(&self) -> bool {
        self.core.paused()
    }
}
