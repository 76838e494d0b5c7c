//! The responses that wait for their turn, and the connection that drains them as the
//! client reads.

use std::fs::File;

use asyncore_runtime::{Channel, Dispatcher, Error, Result};

use super::http;
use super::reply::{connection_header, with_head, ReplyBody};
use super::{Session, Version, FILE_CHUNK, HEAD_SIZE, SENDFILE_CHUNK, STREAM_HIGH_WATER};

/// A response, or part of one, waiting for its turn.
#[derive(Debug)]
pub(super) enum Queued {
    /// Bytes to send, from `at` on.
    Bytes { data: Vec<u8>, at: usize },
    /// `left` more bytes of a file.
    /// A file's bytes from `sent`, `left` of them, sent with `sendfile`.
    File { file: File, sent: u64, left: u64 },
    /// A static file request, looked up when its turn comes.
    Static {
        segments: Vec<Vec<u8>>,
        head_only: bool,
        version: Version,
        keep_alive: bool,
    },
    /// Close the connection once everything before is sent.
    Close,
}

impl Queued {
    /// What the entry costs in memory, for the queue's bound.
    pub(super) fn cost(&self) -> usize {
        match self {
            Queued::Bytes { data, .. } => data.len(),
            Queued::Static { segments, .. } => {
                64 + segments.iter().map(|s| s.len() + 24).sum::<usize>()
            }
            Queued::File { .. } | Queued::Close => 64,
        }
    }
}

/// The responses waiting, in order: nothing allocated (and one word in the connection)
/// while none wait, which is the usual case.
#[derive(Debug, Default)]
// Boxed on purpose: one word in every connection instead of a `VecDeque`'s four.
#[allow(clippy::box_collection)]
pub(super) struct Queue(Option<Box<std::collections::VecDeque<Queued>>>);

impl Queue {
    pub(super) fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|q| q.is_empty())
    }

    pub(super) fn push_back(&mut self, item: Queued) {
        self.0.get_or_insert_default().push_back(item);
    }

    pub(super) fn push_front(&mut self, item: Queued) {
        self.0.get_or_insert_default().push_front(item);
    }

    /// The first response; the storage goes with the last one.
    pub(super) fn pop_front(&mut self) -> Option<Queued> {
        let q = self.0.as_mut()?;
        let item = q.pop_front();
        if q.is_empty() {
            self.0 = None;
        }
        item
    }

    pub(super) fn front_mut(&mut self) -> Option<&mut Queued> {
        self.0.as_mut()?.front_mut()
    }

    pub(super) fn clear(&mut self) {
        self.0 = None;
    }
}

impl Session {
    /// A read begins: the budget of responses sent straight starts again.
    pub fn begin_read(&mut self, ch: &Channel<'_>) {
        self.pass_base = ch.pending_output();
        self.pass_bytes = 0;
    }

    /// Moves queued responses into the channel's output buffer while it holds less than
    /// [`STREAM_HIGH_WATER`], then sends what it can.
    pub fn pump(&mut self, ch: &mut Channel<'_>) -> Result {
        if self.queue.is_empty() {
            return Ok(());
        }
        if ch.is_closing() {
            if !ch.is_ending_input() {
                self.queue.clear();
                self.queued = 0;
            }
            // At the client's end of input the queue waits for `handle_close`, which
            // keeps the connection to send it.
            return Ok(());
        }
        while ch.pending_output() < STREAM_HIGH_WATER {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            match front {
                Queued::Bytes { data, at } => {
                    let end = data.len().min(*at + FILE_CHUNK);
                    ch.queue(&data[*at..end])?;
                    *at = end;
                    if end == data.len() {
                        self.pop();
                    }
                }
                Queued::File { file, sent, left } => {
                    // Straight from the file to the socket, once what came before is
                    // sent; a full socket waits for the next write event.
                    if ch.pending_output() > 0 {
                        ch.flush_before_file()?;
                        if ch.pending_output() > 0 {
                            break;
                        }
                    }
                    let want = (*left).min(SENDFILE_CHUNK) as usize;
                    let n = match ch.send_file(&*file, *sent, want) {
                        Ok(n) => n,
                        Err(_) => {
                            self.abort(ch, "a file failed while being sent");
                            return Ok(());
                        }
                    };
                    if n == 0 {
                        if ch.is_closing() {
                            return Ok(());
                        }
                        // A full socket, or a file that shrank (its Content-Length is
                        // already sent: the response cannot end).
                        let len = file.metadata().map_or(0, |m| m.len());
                        if len < *sent + *left {
                            self.abort(ch, "a file shrank or failed while being sent");
                            return Ok(());
                        }
                        break;
                    }
                    *sent += n as u64;
                    *left -= n as u64;
                    if *left == 0 {
                        self.pop();
                    }
                }
                Queued::Static { .. } => {
                    let Some(item) = self.queue.pop_front() else {
                        break;
                    };
                    self.queued = self.queued.saturating_sub(item.cost());
                    let Queued::Static {
                        segments,
                        head_only,
                        version,
                        keep_alive,
                    } = item
                    else {
                        break;
                    };
                    let reply = self.static_reply(&segments, head_only);
                    let mut head = Vec::with_capacity(HEAD_SIZE);
                    let connection = connection_header(version, keep_alive);
                    with_head(
                        self.shared.date.borrow_mut().now(),
                        &reply,
                        connection,
                        |msg| msg.encode(&mut head),
                    )?;
                    if !head_only {
                        match reply.body {
                            ReplyBody::File(file, left) if left > 0 => {
                                self.push_front(Queued::File {
                                    file,
                                    sent: 0,
                                    left,
                                });
                            }
                            ReplyBody::Bytes(data) if !data.is_empty() => {
                                self.push_front(Queued::Bytes {
                                    data: data.into_owned(),
                                    at: 0,
                                });
                            }
                            _ => {}
                        }
                    }
                    self.push_front(Queued::Bytes { data: head, at: 0 });
                }
                Queued::Close => {
                    self.queue.clear();
                    self.queued = 0;
                    ch.close_when_done();
                    break;
                }
            }
        }
        if self.queue.is_empty() {
            self.queued = 0;
        }
        ch.flush()?;
        Ok(())
    }
}

/// A connection: the generated channel, and the queue of responses it drains as the
/// client reads (see [the module docs](super)). While responses are queued it reads no
/// more requests.
#[derive(Debug)]
pub struct HttpConnection {
    inner: http::ServerChannel<Session>,
    /// The client shut down its side while responses were queued: the generated
    /// channel hears of it once they are out.
    input_ended: bool,
}

impl HttpConnection {
    /// A connection handled by `session`.
    pub fn new(session: Session) -> HttpConnection {
        HttpConnection {
            inner: http::ServerChannel::new(session),
            input_ended: false,
        }
    }
}

impl Dispatcher for HttpConnection {
    fn readable(&mut self, ch: &Channel<'_>) -> bool {
        let session = &self.inner.handler;
        !session.has_queued() && !session.closing && self.inner.readable(ch)
    }

    fn writable(&mut self, ch: &Channel<'_>) -> bool {
        self.inner.handler.has_queued() || self.inner.writable(ch)
    }

    /// The generated channel's buffers and decoder, and the loop's file-reading scratch
    /// space (empty between responses).
    fn release_memory(&mut self) -> usize {
        let session = &mut self.inner.handler;
        let freed = match session.shared.scratch.try_borrow_mut() {
            Ok(mut scratch) => std::mem::take(&mut *scratch).capacity(),
            Err(_) => 0,
        };
        freed + self.inner.release_memory()
    }

    /// The queue and the generated channel inside are this connection's own.
    fn interest_from_own_state(&self) -> bool {
        self.inner.interest_from_own_state()
    }

    fn handle_connect(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_connect(ch)
    }

    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handler.begin_read(ch);
        self.inner.handle_read(ch)?;
        self.inner.handler.pump(ch)
    }

    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_write(ch)?;
        self.inner.handler.pump(ch)?;
        if self.input_ended
            && !self.inner.handler.has_queued()
            && !self.inner.has_waiting_requests()
        {
            // Every request read is answered and its response is in the output buffer.
            self.input_ended = false;
            self.inner.handle_close(ch, None)?;
        }
        Ok(())
    }

    /// A clean end of input from the client ends input only: every request it sent
    /// before is answered (those still buffered, and the responses queued), then the
    /// connection closes.
    fn handle_close(&mut self, ch: &mut Channel<'_>, reason: Option<std::io::Error>) -> Result {
        if reason.is_none()
            && ch.connected()
            && (self.inner.handler.has_queued() || self.inner.has_waiting_requests())
        {
            self.input_ended = true;
            ch.hold_after_close();
            return Ok(());
        }
        let session = &mut self.inner.handler;
        session.queue.clear();
        session.queued = 0;
        self.inner.handle_close(ch, reason)
    }

    /// The header timeout or the idle timeout: `408` in the middle of a request.
    fn handle_idle(&mut self, ch: &mut Channel<'_>) -> Result {
        self.inner.handle_idle(ch)
    }

    fn handle_error(&mut self, ch: &mut Channel<'_>, err: Error) -> Result {
        self.inner.handle_error(ch, err)
    }
}
