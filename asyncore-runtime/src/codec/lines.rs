//! [`LineFramer`]: frames that end with a terminator ("\n", "\r\n", "\0", ...).

use std::fmt;
use std::io;

use memchr::memchr;

use super::decoder::{Decoded, Decoder};
use super::encoder::Encoder;

/// The line length limit of [`LineFramer::new`]: 64 KiB.
///
/// ```
/// use asyncore_runtime::codec::{LineFramer, DEFAULT_MAX_LINE_LENGTH};
///
/// assert_eq!(LineFramer::new().max_length(), DEFAULT_MAX_LINE_LENGTH);
/// ```
pub const DEFAULT_MAX_LINE_LENGTH: usize = 64 * 1024;

/// The longest terminator a [`LineFramer`] takes: 16 bytes.
///
/// ```
/// use asyncore_runtime::codec::{LineFramer, MAX_TERMINATOR_LEN};
///
/// let framer = LineFramer::builder(80).terminator(&[b'.'; MAX_TERMINATOR_LEN]).new_framer();
/// assert_eq!(framer.terminator().len(), 16);
/// ```
pub const MAX_TERMINATOR_LEN: usize = 16;

// ===== LineBuilder =====

/// Configures a [`LineFramer`]: terminator, length limit, bare-LF tolerance.
///
/// Made by [`LineFramer::builder`] (or [`LineBuilder::new`]), which takes the length
/// limit: there is no unbounded line framer. Setters take and return `&mut Self`;
/// [`new_framer`](Self::new_framer) makes the framer. The builder is `Copy`, so one
/// configuration can make a framer per connection.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LineFramer};
///
/// // SMTP: CRLF lines of at most 998 bytes, but tolerate clients that send bare LF.
/// let smtp = *LineFramer::builder(998).terminator(b"\r\n").accept_bare_lf(true);
/// let mut framer = smtp.new_framer();
/// let lines: Vec<&[u8]> = framer.frames(b"EHLO x\r\nQUIT\n").map(Result::unwrap).collect();
/// assert_eq!(lines, [&b"EHLO x"[..], b"QUIT"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LineBuilder {
    // The terminator, `terminator[..term_len]`; "\n" by default.
    terminator: [u8; MAX_TERMINATOR_LEN],
    term_len: u8,
    // The longest line accepted, terminator excluded; no default: the caller chooses.
    max_length: usize,
    // With the terminator "\r\n": also end a line at a bare "\n"; off (strict CRLF).
    accept_bare_lf: bool,
}

impl LineBuilder {
    /// A builder for lines of at most `max_length` bytes (the terminator not counted),
    /// ending with "\n".
    ///
    /// ```
    /// let framer = asyncore_runtime::codec::LineBuilder::new(80).new_framer();
    /// assert_eq!((framer.max_length(), framer.terminator()), (80, &b"\n"[..]));
    /// ```
    pub fn new(max_length: usize) -> Self {
        let mut terminator = [0; MAX_TERMINATOR_LEN];
        terminator[0] = b'\n';
        LineBuilder {
            terminator,
            term_len: 1,
            max_length,
            accept_bare_lf: false,
        }
    }

    /// The bytes that end a line: 1 to [`MAX_TERMINATOR_LEN`] bytes, such as `b"\n"`
    /// (the default), `b"\r\n"`, `b"\0"` or `b"\r\n.\r\n"`.
    ///
    /// # Panics
    ///
    /// If `terminator` is empty or longer than [`MAX_TERMINATOR_LEN`].
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut framer = LineFramer::builder(100).terminator(b"qqq").new_framer();
    /// let lines: Vec<&[u8]> = framer.frames(b"aqqqbqqq").map(Result::unwrap).collect();
    /// assert_eq!(lines, [&b"a"[..], b"b"]);
    /// ```
    ///
    /// ```should_panic
    /// asyncore_runtime::codec::LineFramer::builder(100).terminator(b"");
    /// ```
    pub fn terminator(&mut self, terminator: &[u8]) -> &mut Self {
        assert!(
            (1..=MAX_TERMINATOR_LEN).contains(&terminator.len()),
            "a line terminator has 1 to {MAX_TERMINATOR_LEN} bytes, not {}",
            terminator.len()
        );
        self.terminator = [0; MAX_TERMINATOR_LEN];
        self.terminator[..terminator.len()].copy_from_slice(terminator);
        self.term_len = terminator.len() as u8;
        self
    }

    /// The longest line accepted, in bytes, the terminator not counted.
    ///
    /// ```
    /// let framer = asyncore_runtime::codec::LineFramer::builder(100).max_length(10).new_framer();
    /// assert_eq!(framer.max_length(), 10);
    /// ```
    pub fn max_length(&mut self, max_length: usize) -> &mut Self {
        self.max_length = max_length;
        self
    }

    /// With the terminator `b"\r\n"`, also end a line at a bare `"\n"` (a `"\r"` before
    /// the `"\n"` is not part of the line either way). Off by default: strict CRLF, where
    /// a bare `"\n"` is part of the line. Has no effect with any other terminator.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let strict = LineFramer::builder(100).terminator(b"\r\n").new_framer();
    /// let lenient = LineFramer::builder(100).terminator(b"\r\n").accept_bare_lf(true).new_framer();
    /// let input = b"a\nb\r\n";
    /// let frames = |mut f: LineFramer| -> Vec<Vec<u8>> {
    ///     f.frames(input).map(|l| l.unwrap().to_vec()).collect()
    /// };
    /// assert_eq!(frames(strict), [b"a\nb".to_vec()]);
    /// assert_eq!(frames(lenient), [b"a".to_vec(), b"b".to_vec()]);
    /// ```
    pub fn accept_bare_lf(&mut self, accept: bool) -> &mut Self {
        self.accept_bare_lf = accept;
        self
    }

    /// Makes the framer.
    ///
    /// ```
    /// let framer = asyncore_runtime::codec::LineFramer::builder(512).terminator(b"\0").new_framer();
    /// assert_eq!(framer.terminator(), b"\0");
    /// ```
    pub fn new_framer(&self) -> LineFramer {
        let terminator = &self.terminator[..self.term_len as usize];
        let lenient = self.accept_bare_lf && terminator == b"\r\n";
        let (needle, needle_len) = if lenient {
            let mut needle = [0; MAX_TERMINATOR_LEN];
            needle[0] = b'\n';
            (needle, 1)
        } else {
            (self.terminator, self.term_len as usize)
        };
        // A complete line of `max_length` bytes ends within the first `window` bytes: the
        // terminator starts at `max_length` at the latest (`max_length + 1` for a bare-LF
        // tolerant framer, whose "\n" may follow a "\r").
        let window = if lenient {
            self.max_length.saturating_add(2)
        } else {
            self.max_length.saturating_add(needle_len)
        };
        LineFramer {
            config: *self,
            lenient,
            needle,
            needle_len,
            window,
            searched: 0,
            discarding: false,
            scanned: 0,
        }
    }
}

// ===== LineFramer =====

/// Splits a stream into lines that end with a terminator, and frames lines for output.
///
/// The terminator is any 1 to 16 bytes ("\n" by default); frames exclude it. Every
/// framer has a maximum line length: [`DEFAULT_MAX_LINE_LENGTH`] (64 KiB) for
/// [`new`](Self::new), the caller's choice with [`builder`](Self::builder).
///
/// ```text
/// terminator "\r\n"
/// INPUT                        DECODED
/// +-------+------+-----+----+       +-------+     +-----+
/// | HELO  | \r\n | BYE | \r | --->  | HELO  |     | BYE |  (after the "\n" arrives)
/// +-------+------+-----+----+       +-------+     +-----+
/// ```
///
/// **Linear time.** A line that arrives a byte at a time is searched once: the framer
/// remembers how far it has searched (less `terminator length - 1` bytes, which may be
/// the start of a terminator) and goes on from there, so an `n`-byte line costs `O(n)`
/// whatever the size of the reads. Single-byte terminators are searched for byte by
/// byte over the new bytes only; longer ones by their last byte, then compared.
///
/// **Over-long lines.** Once `max_length` bytes (plus the terminator's length) have
/// arrived with no terminator among them, `decode` returns [`LineError::TooLong`], once.
/// The framer is then [discarding](Self::is_discarding): the next calls skip the rest of
/// that line ([`Decoded::Skip`]) up to and including the next terminator, after which
/// lines decode as before. A caller that wants to drop the connection instead simply
/// stops at the error. Either way the read buffer never needs more than
/// [`buffer_limit`](Self::buffer_limit) bytes.
///
/// **Encoding** appends the line and the terminator. It refuses a line longer than
/// `max_length`, a line that contains the terminator (or would, with the terminator
/// appended, as "q" followed by "qqq" does), and, with the terminator "\r\n", a line
/// with a bare "\r" or "\n".
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Encoder, FrameBuf, LineError, LineFramer};
///
/// let mut framer = LineFramer::builder(8).new_framer();
/// let mut buf = FrameBuf::new(64); // at least framer.buffer_limit(), 9
/// buf.extend_from_slice(b"short\nmuch too long\nok\n").unwrap();
///
/// let mut frames = buf.frames(&mut framer);
/// assert_eq!(frames.next().unwrap().unwrap(), b"short");
/// let err = frames.next().unwrap().unwrap_err();
/// assert!(matches!(err, LineError::TooLong { limit: 8 }));
/// assert_eq!(err.to_string(), "line longer than 8 bytes (the limit)");
///
/// // Decoding again skips the rest of the long line and goes on.
/// let rest: Vec<&[u8]> = buf.frames(&mut framer).map(Result::unwrap).collect();
/// assert_eq!(rest, [b"ok"]);
///
/// let mut out = Vec::new();
/// framer.encode("hi", &mut out).unwrap();
/// assert_eq!(out, b"hi\n");
/// ```
#[derive(Debug, Clone)]
pub struct LineFramer {
    config: LineBuilder,
    /// Whether a bare "\n" ends a "\r\n" line too.
    lenient: bool,
    /// What the decoder searches for: the terminator, or "\n" when lenient.
    needle: [u8; MAX_TERMINATOR_LEN],
    needle_len: usize,
    /// A line within the limit ends within the first `window` bytes of the buffer.
    window: usize,
    /// No needle starts before this index of the buffer.
    searched: usize,
    /// Skipping the rest of an over-long line.
    discarding: bool,
    /// Bytes examined by the search, for the linear-time test.
    scanned: u64,
}

impl LineFramer {
    /// A framer for lines ending with "\n", of at most [`DEFAULT_MAX_LINE_LENGTH`]
    /// (64 KiB) bytes.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer, DEFAULT_MAX_LINE_LENGTH};
    ///
    /// let mut framer = LineFramer::new();
    /// assert_eq!(framer.max_length(), DEFAULT_MAX_LINE_LENGTH);
    /// assert_eq!(framer.decode(b"a\r\n").unwrap().frame(), Some(&b"a\r"[..]));
    /// ```
    pub fn new() -> Self {
        LineBuilder::new(DEFAULT_MAX_LINE_LENGTH).new_framer()
    }

    /// A builder for lines of at most `max_length` bytes, the terminator not counted.
    ///
    /// ```
    /// use asyncore_runtime::codec::LineFramer;
    ///
    /// let framer = LineFramer::builder(1024).terminator(b"\r\n").new_framer();
    /// assert_eq!(framer.buffer_limit(), 1026);
    /// ```
    pub fn builder(max_length: usize) -> LineBuilder {
        LineBuilder::new(max_length)
    }

    /// The terminator.
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::codec::LineFramer::new().terminator(), b"\n");
    /// ```
    pub fn terminator(&self) -> &[u8] {
        &self.config.terminator[..self.config.term_len as usize]
    }

    /// The longest line accepted, the terminator not counted.
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::codec::LineFramer::new().max_length(), 64 * 1024);
    /// ```
    pub fn max_length(&self) -> usize {
        self.config.max_length
    }

    /// Whether a bare "\n" also ends a line (the terminator is "\r\n" and the builder's
    /// [`accept_bare_lf`](LineBuilder::accept_bare_lf) was set).
    ///
    /// ```
    /// use asyncore_runtime::codec::LineFramer;
    ///
    /// assert!(!LineFramer::new().accepts_bare_lf());
    /// let crlf = LineFramer::builder(80).terminator(b"\r\n").accept_bare_lf(true).new_framer();
    /// assert!(crlf.accepts_bare_lf());
    /// ```
    pub fn accepts_bare_lf(&self) -> bool {
        self.lenient
    }

    /// The smallest [`FrameBuf`](crate::codec::FrameBuf) limit that lets this framer
    /// decide on every line: `max_length` plus the terminator's length, saturating.
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::codec::LineFramer::new().buffer_limit(), 64 * 1024 + 1);
    /// ```
    pub fn buffer_limit(&self) -> usize {
        // `max_length` plus the needle's room: the terminator, or "\r\n" when lenient.
        self.window
    }

    /// Whether the framer is skipping the rest of an over-long line.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut framer = LineFramer::builder(2).new_framer();
    /// assert!(framer.decode(b"abc").is_err());
    /// assert!(framer.is_discarding());
    /// ```
    pub fn is_discarding(&self) -> bool {
        self.discarding
    }

    /// Forgets the search position and any discarding, for a new stream or a buffer the
    /// caller has emptied itself.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LineFramer};
    ///
    /// let mut framer = LineFramer::builder(2).new_framer();
    /// assert!(framer.decode(b"abc").is_err());
    /// framer.reset();
    /// assert!(!framer.is_discarding());
    /// ```
    pub fn reset(&mut self) {
        self.searched = 0;
        self.discarding = false;
    }

    /// Bytes examined by the terminator search since the framer was made (a test hook for
    /// the linear-time guarantee).
    #[doc(hidden)]
    pub fn scanned_bytes(&self) -> u64 {
        self.scanned
    }

    /// The first index `>= from` where the needle starts in `hay`.
    #[inline]
    fn find(&mut self, hay: &[u8], from: usize) -> Option<usize> {
        let n = self.needle_len;
        if n == 1 {
            let byte = self.needle[0];
            let region = hay.get(from..)?;
            let found = memchr(byte, region);
            self.scanned += found.map_or(region.len(), |i| i + 1) as u64;
            return found.map(|i| from + i);
        }
        // Look for the needle's last byte, then compare the rest.
        let needle = &self.needle[..n];
        let last = needle[n - 1];
        let mut i = from.checked_add(n - 1)?;
        while i < hay.len() {
            let region = &hay[i..];
            match memchr(last, region) {
                None => {
                    self.scanned += region.len() as u64;
                    return None;
                }
                Some(k) => {
                    self.scanned += k as u64 + 1;
                    let end = i + k + 1;
                    if &hay[end - n..end] == needle {
                        return Some(end - n);
                    }
                    i = end;
                }
            }
        }
        None
    }

    fn too_long(&mut self, searched: usize) -> LineError {
        self.discarding = true;
        self.searched = searched;
        LineError::TooLong {
            limit: self.config.max_length,
        }
    }

    /// Skip the rest of an over-long line, its terminator included.
    fn discard<'a>(&mut self, buf: &'a [u8]) -> Decoded<'a> {
        let from = self.searched.min(buf.len());
        match self.find(buf, from) {
            Some(start) => {
                self.discarding = false;
                self.searched = 0;
                Decoded::Skip(start + self.needle_len)
            }
            None => {
                // Keep the bytes that may begin a terminator.
                self.searched = 0;
                match buf.len().saturating_sub(self.needle_len - 1) {
                    0 => Decoded::NeedMore,
                    n => Decoded::Skip(n),
                }
            }
        }
    }
}

impl Default for LineFramer {
    /// Same as [`LineFramer::new`].
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::codec::LineFramer::default().terminator(), b"\n");
    /// ```
    fn default() -> Self {
        LineFramer::new()
    }
}

impl Decoder for LineFramer {
    type Error = LineError;

    /// The first line in `buf` (terminator excluded), or [`Decoded::Skip`] while
    /// discarding an over-long line; see [`LineFramer`].
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoded, Decoder, LineFramer};
    ///
    /// let mut framer = LineFramer::builder(100).terminator(b"\r\n").new_framer();
    /// assert_eq!(framer.decode(b"ab\r").unwrap(), Decoded::NeedMore);
    /// assert_eq!(
    ///     framer.decode(b"ab\r\ncd").unwrap(),
    ///     Decoded::Frame { frame: b"ab", consumed: 4 }
    /// );
    /// ```
    #[inline]
    fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, LineError> {
        if self.discarding {
            return Ok(self.discard(buf));
        }
        let window = buf.len().min(self.window);
        let from = self.searched.min(window);
        match self.find(&buf[..window], from) {
            Some(start) => {
                let end = if self.lenient && start > 0 && buf[start - 1] == b'\r' {
                    start - 1
                } else {
                    start
                };
                if end > self.config.max_length {
                    // Only a bare-LF tolerant framer gets here: "\n" at max_length + 1.
                    return Err(self.too_long(start));
                }
                self.searched = 0;
                Ok(Decoded::Frame {
                    frame: &buf[..end],
                    consumed: start + self.needle_len,
                })
            }
            None if buf.len() >= self.window => Err(self.too_long(window + 1 - self.needle_len)),
            None => {
                self.searched = (window + 1).saturating_sub(self.needle_len);
                Ok(Decoded::NeedMore)
            }
        }
    }

    /// Like [`decode`](Decoder::decode), but the bytes after the last terminator, if
    /// any, are the last line (as they are: no terminator or part of one is removed).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoded, Decoder, LineFramer};
    ///
    /// let mut framer = LineFramer::new();
    /// assert_eq!(framer.decode_eof(b"tail").unwrap(), Decoded::Frame { frame: b"tail", consumed: 4 });
    /// assert_eq!(framer.decode_eof(b"").unwrap(), Decoded::NeedMore);
    /// ```
    fn decode_eof<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, LineError> {
        match self.decode(buf)? {
            Decoded::NeedMore if !buf.is_empty() => {
                if self.discarding {
                    // The over-long line ends with the stream.
                    self.reset();
                    Ok(Decoded::Skip(buf.len()))
                } else if buf.len() > self.config.max_length {
                    Err(self.too_long(0))
                } else {
                    self.searched = 0;
                    Ok(Decoded::Frame {
                        frame: buf,
                        consumed: buf.len(),
                    })
                }
            }
            outcome => Ok(outcome),
        }
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for LineFramer {
    type Error = LineError;

    /// Appends the line and the terminator; see [`LineFramer`] for what is refused.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Encoder, LineError, LineFramer};
    ///
    /// let mut crlf = LineFramer::builder(100).terminator(b"\r\n").new_framer();
    /// let mut out = Vec::new();
    /// crlf.encode("QUIT", &mut out).unwrap();
    /// assert_eq!(out, b"QUIT\r\n");
    /// let err = crlf.encode("a\nb", &mut out).unwrap_err();
    /// assert!(matches!(err, LineError::BareCrOrLf { position: 1, .. }));
    /// assert_eq!(out, b"QUIT\r\n");
    /// ```
    fn encode(&mut self, item: T, dst: &mut Vec<u8>) -> Result<(), LineError> {
        let line = item.as_ref();
        if line.len() > self.config.max_length {
            return Err(LineError::TooLong {
                limit: self.config.max_length,
            });
        }
        check_line(line, self.terminator())?;
        let terminator = self.terminator();
        dst.reserve(line.len() + terminator.len());
        dst.extend_from_slice(line);
        dst.extend_from_slice(terminator);
        Ok(())
    }
}

/// Refuses a line that would not decode back to itself.
fn check_line(line: &[u8], terminator: &[u8]) -> Result<(), LineError> {
    let contains = |position: usize| LineError::ContainsTerminator {
        position,
        terminator: terminator.to_vec(),
    };
    if terminator == b"\r\n" {
        if let Some(position) = memchr::memchr2(b'\r', b'\n', line) {
            if line[position..].starts_with(b"\r\n") {
                return Err(contains(position));
            }
            return Err(LineError::BareCrOrLf {
                position,
                byte: line[position],
            });
        }
        return Ok(());
    }
    let t = terminator.len();
    if let Some(position) = memchr::memmem::find(line, terminator) {
        return Err(contains(position));
    }
    // With the terminator appended, could one start inside the line? ("aq" + "qqq")
    for k in (1..t).rev() {
        if line.ends_with(&terminator[..k]) && terminator[k..] == terminator[..t - k] {
            return Err(contains(line.len() - k));
        }
    }
    Ok(())
}

// ===== LineError =====

/// An error of a [`LineFramer`].
///
/// ```
/// use asyncore_runtime::codec::LineError;
///
/// let err = LineError::TooLong { limit: 1024 };
/// assert_eq!(err.to_string(), "line longer than 1024 bytes (the limit)");
/// let err: asyncore_runtime::Error = err.into(); // `?` works in handlers
/// assert!(!err.is_disconnect());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LineError {
    /// A line is longer than the framer's maximum length. When decoding, the framer
    /// then skips to the end of that line (see [`LineFramer::is_discarding`]).
    TooLong {
        /// The framer's maximum line length.
        limit: usize,
    },
    /// Encoding: the line contains the terminator, or would once it is appended.
    ContainsTerminator {
        /// Where in the line the terminator starts.
        position: usize,
        /// The framer's terminator.
        terminator: Vec<u8>,
    },
    /// Encoding with the terminator "\r\n": the line has a "\r" or "\n" that is not part
    /// of a "\r\n".
    BareCrOrLf {
        /// Where in the line.
        position: usize,
        /// `b'\r'` or `b'\n'`.
        byte: u8,
    },
    /// An I/O error.
    Io(io::Error),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong { limit } => {
                write!(f, "line longer than {limit} bytes (the limit)")
            }
            LineError::ContainsTerminator {
                position,
                terminator,
            } => write!(
                f,
                "line contains the terminator \"{}\" at byte {position}",
                terminator.escape_ascii()
            ),
            LineError::BareCrOrLf { position, byte } => write!(
                f,
                "line contains a bare \"{}\" at byte {position} (the terminator is \"\\r\\n\")",
                byte.escape_ascii()
            ),
            LineError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LineError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LineError {
    fn from(e: io::Error) -> Self {
        LineError::Io(e)
    }
}

impl From<LineError> for crate::Error {
    fn from(e: LineError) -> Self {
        match e {
            LineError::Io(e) => crate::Error::Io(e),
            e => crate::Error::Other(Box::new(e)),
        }
    }
}
