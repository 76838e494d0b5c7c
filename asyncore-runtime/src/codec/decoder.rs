//! The [`Decoder`] trait, its [`Decoded`] outcome and the [`Frames`] iterator.

use std::io;

/// What one call of [`Decoder::decode`] found at the front of the buffer.
///
/// Together with `Err(_)` these are the outcomes of the decode contract (see the
/// [module documentation](crate::codec#the-decode-contract)):
///
/// | outcome                          | meaning                                   | the caller then              |
/// |----------------------------------|-------------------------------------------|------------------------------|
/// | [`NeedMore`](Decoded::NeedMore)  | no whole frame yet; nothing consumed      | reads more, calls again      |
/// | [`Frame`](Decoded::Frame)        | one frame, borrowed from the buffer       | uses it, drops `consumed` bytes, calls again |
/// | [`Skip`](Decoded::Skip)          | bytes that belong to no frame             | drops them, calls again      |
/// | `Err(e)`                         | the stream is corrupt                     | closes, or calls again if the decoder documents that it recovers |
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Decoded, Decoder, LineFramer};
///
/// let mut lines = LineFramer::new();
/// assert_eq!(lines.decode(b"hel").unwrap(), Decoded::NeedMore);
/// assert_eq!(
///     lines.decode(b"hello\nwor").unwrap(),
///     Decoded::Frame { frame: b"hello", consumed: 6 }
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use = "a Frame or Skip outcome tells how many bytes to drop from the buffer"]
pub enum Decoded<'a> {
    /// The buffer does not hold a whole frame yet. Nothing was consumed: call `decode`
    /// again when more bytes have arrived, with the same bytes at the front of the buffer.
    NeedMore,
    /// A whole frame. `frame` borrows from the buffer passed to `decode` and lies within
    /// its first `consumed` bytes; after using it, drop those `consumed` bytes (the frame,
    /// its header or terminator) from the front of the buffer. `consumed` is at least 1.
    Frame {
        /// The frame, without its header or terminator (as the decoder is configured).
        frame: &'a [u8],
        /// How many bytes at the front of the buffer this frame used up.
        consumed: usize,
    },
    /// The first `n` bytes of the buffer belong to no frame (for example the rest of an
    /// over-long line that is being discarded): drop them and call `decode` again.
    /// `n` is at least 1.
    Skip(usize),
}

impl<'a> Decoded<'a> {
    /// The frame, if this is [`Decoded::Frame`].
    ///
    /// ```
    /// use asyncore_runtime::codec::Decoded;
    ///
    /// assert_eq!(Decoded::Frame { frame: b"ab", consumed: 3 }.frame(), Some(&b"ab"[..]));
    /// assert_eq!(Decoded::NeedMore.frame(), None);
    /// ```
    pub fn frame(&self) -> Option<&'a [u8]> {
        match *self {
            Decoded::Frame { frame, .. } => Some(frame),
            _ => None,
        }
    }

    /// How many bytes to drop from the front of the buffer: `consumed` for a frame, `n`
    /// for [`Skip(n)`](Decoded::Skip), 0 for [`NeedMore`](Decoded::NeedMore).
    ///
    /// ```
    /// use asyncore_runtime::codec::Decoded;
    ///
    /// assert_eq!(Decoded::Frame { frame: b"ab", consumed: 3 }.consumed(), 3);
    /// assert_eq!(Decoded::Skip(7).consumed(), 7);
    /// assert_eq!(Decoded::NeedMore.consumed(), 0);
    /// ```
    pub fn consumed(&self) -> usize {
        match *self {
            Decoded::NeedMore => 0,
            Decoded::Frame { consumed, .. } => consumed,
            Decoded::Skip(n) => n,
        }
    }
}

/// Splits a byte stream into frames, without copying them.
///
/// A decoder looks at the unconsumed bytes at the front of the caller's read buffer and
/// says what they hold: [`Decoded::NeedMore`], a [`Decoded::Frame`] that borrows from the
/// buffer, or [`Decoded::Skip`]. The caller drops the consumed prefix itself, which
/// [`FrameBuf`](crate::codec::FrameBuf) and the [`Frames`] iterator do for it. See the
/// [module documentation](crate::codec) for the contract and a worked example.
///
/// A decoder may keep state between calls (how far it has searched, whether it is
/// discarding), which is why `decode` takes `&mut self`; that state assumes the contract
/// is kept: after `NeedMore` the same bytes are passed again, with more appended.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LengthFramer};
///
/// let mut framer = LengthFramer::new(); // 4-byte big-endian length, then the payload
/// let mut frames = framer.frames(b"\0\0\0\x02hi\0\0\0\x01!\0\0");
/// assert_eq!(frames.next().unwrap().unwrap(), b"hi");
/// assert_eq!(frames.next().unwrap().unwrap(), b"!");
/// assert!(frames.next().is_none());
/// assert_eq!(frames.consumed(), 11); // the partial header `\0\0` stays
/// ```
pub trait Decoder {
    /// The error for a corrupt stream. `From<io::Error>` lets I/O errors and the
    /// provided methods' own errors share it.
    type Error: From<io::Error>;

    /// Looks at `buf`, the unconsumed bytes at the front of the read buffer, and returns
    /// the first frame in it, or says that more bytes are needed, or that a prefix is to
    /// be skipped. Never panics, whatever the bytes.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoded, Decoder, LineFramer};
    ///
    /// let mut lines = LineFramer::new();
    /// let buf = b"one\ntwo\n";
    /// let Decoded::Frame { frame, consumed } = lines.decode(buf).unwrap() else { panic!() };
    /// assert_eq!((frame, consumed), (&b"one"[..], 4));
    /// assert_eq!(lines.decode(&buf[consumed..]).unwrap().frame(), Some(&b"two"[..]));
    /// ```
    fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, Self::Error>;

    /// Like [`decode`](Self::decode), at the end of the stream: no more bytes will come.
    ///
    /// The default calls `decode` and turns a `NeedMore` with bytes left in `buf` into an
    /// [`io::ErrorKind::UnexpectedEof`] error, "bytes remaining on stream". A decoder whose
    /// last frame needs no end marker (a line without its terminator) overrides it.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoded, Decoder, LengthFramer};
    ///
    /// let mut framer = LengthFramer::new();
    /// assert_eq!(framer.decode_eof(b"").unwrap(), Decoded::NeedMore);
    /// let err = framer.decode_eof(b"\0\0\0\x05abc").unwrap_err();
    /// assert_eq!(err.to_string(), "bytes remaining on stream");
    /// ```
    fn decode_eof<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, Self::Error> {
        match self.decode(buf)? {
            Decoded::NeedMore if !buf.is_empty() => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "bytes remaining on stream",
            )
            .into()),
            outcome => Ok(outcome),
        }
    }

    /// An iterator over the frames at the front of `buf`, zero-copy. It handles
    /// [`Decoded::Skip`] itself, stops at [`Decoded::NeedMore`] or after the first error,
    /// and [`Frames::consumed`] then tells how many bytes of `buf` to drop.
    /// [`FrameBuf::frames`](crate::codec::FrameBuf::frames) drops them by itself.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut lines = LineFramer::new();
    /// let mut frames = lines.frames(b"a\nbb\nccc");
    /// let all: Vec<&[u8]> = frames.by_ref().map(Result::unwrap).collect();
    /// assert_eq!(all, [&b"a"[..], b"bb"]);
    /// assert_eq!(frames.consumed(), 5);
    /// ```
    fn frames<'a, 'd>(&'d mut self, buf: &'a [u8]) -> Frames<'a, 'd, Self>
    where
        Self: Sized,
    {
        Frames::new(self, buf, None)
    }
}

impl<D: Decoder + ?Sized> Decoder for &mut D {
    type Error = D::Error;

    fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, Self::Error> {
        (**self).decode(buf)
    }

    fn decode_eof<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, Self::Error> {
        (**self).decode_eof(buf)
    }
}

/// An iterator over the frames at the front of a buffer, made by [`Decoder::frames`] or
/// [`FrameBuf::frames`](crate::codec::FrameBuf::frames).
///
/// Each item is `Ok(frame)`, a slice of the buffer, or `Err(e)` once, after which the
/// iterator ends (call `frames` again to go on, if the decoder recovers from `e`, as
/// [`LineFramer`](crate::codec::LineFramer) does). It ends at
/// [`Decoded::NeedMore`]; [`Frames::consumed`] counts the bytes used up so far.
///
/// A decoder that breaks the contract (a frame with `consumed == 0`, or `consumed` past
/// the end of the buffer) ends the iteration with an [`io::ErrorKind::InvalidData`]
/// error instead of looping or panicking.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LineFramer};
///
/// let mut lines = LineFramer::new();
/// let buf = b"GET /\nHost: x\npartial";
/// let mut frames = lines.frames(buf);
/// for frame in &mut frames {
///     let frame = frame.unwrap();
///     assert!(frame == b"GET /" || frame == b"Host: x");
/// }
/// assert_eq!(&buf[frames.consumed()..], b"partial");
/// ```
#[derive(Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Frames<'a, 'd, D: Decoder> {
    decoder: &'d mut D,
    /// The bytes being decoded, from the first unconsumed one.
    buf: &'a [u8],
    /// Bytes of `buf` used up by the frames (and skips) so far.
    pos: usize,
    /// Where to add each consumed count as it happens (a `FrameBuf`'s read cursor).
    cursor: Option<&'d mut usize>,
    eof: bool,
    done: bool,
}

impl<'a, 'd, D: Decoder> Frames<'a, 'd, D> {
    pub(crate) fn new(decoder: &'d mut D, buf: &'a [u8], cursor: Option<&'d mut usize>) -> Self {
        Frames {
            decoder,
            buf,
            pos: 0,
            cursor,
            eof: false,
            done: false,
        }
    }

    /// Decode as at the end of the stream: use [`Decoder::decode_eof`], so the last,
    /// unterminated frame comes out (or an error says bytes were left over).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut lines = LineFramer::new();
    /// let all: Vec<&[u8]> = lines.frames(b"a\nlast").at_eof().map(Result::unwrap).collect();
    /// assert_eq!(all, [&b"a"[..], b"last"]);
    /// ```
    pub fn at_eof(mut self) -> Self {
        self.eof = true;
        self
    }

    /// How many bytes of the buffer the frames returned so far (and any skipped bytes)
    /// used up.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut lines = LineFramer::new();
    /// let mut frames = lines.frames(b"ab\ncd");
    /// assert_eq!(frames.consumed(), 0);
    /// frames.next();
    /// assert_eq!(frames.consumed(), 3);
    /// ```
    pub fn consumed(&self) -> usize {
        self.pos
    }

    /// The bytes not used up yet.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut lines = LineFramer::new();
    /// let mut frames = lines.frames(b"ab\ncd");
    /// frames.by_ref().for_each(drop);
    /// assert_eq!(frames.remaining(), b"cd");
    /// ```
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn advance(&mut self, n: usize) {
        self.pos += n;
        if let Some(cursor) = self.cursor.as_deref_mut() {
            *cursor += n;
        }
    }

    fn broken(&mut self, what: &str) -> Option<Result<&'a [u8], D::Error>> {
        self.done = true;
        Some(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("decoder broke the decode contract: {what}"),
        )
        .into()))
    }
}

impl<'a, D: Decoder> Iterator for Frames<'a, '_, D> {
    type Item = Result<&'a [u8], D::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let rest: &'a [u8] = &self.buf[self.pos..];
            let outcome = if self.eof {
                self.decoder.decode_eof(rest)
            } else {
                self.decoder.decode(rest)
            };
            match outcome {
                Ok(Decoded::NeedMore) => self.done = true,
                Ok(Decoded::Frame { frame, consumed }) => {
                    if consumed == 0 || consumed > rest.len() {
                        return self.broken("a frame consumed 0 bytes or more than the buffer");
                    }
                    self.advance(consumed);
                    return Some(Ok(frame));
                }
                Ok(Decoded::Skip(n)) => {
                    if n == 0 || n > rest.len() {
                        return self.broken("a skip of 0 bytes or more than the buffer");
                    }
                    self.advance(n);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl<D: Decoder> std::iter::FusedIterator for Frames<'_, '_, D> {}
