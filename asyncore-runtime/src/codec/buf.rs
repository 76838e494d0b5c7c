//! [`FrameBuf`]: a read buffer with a cursor and a hard size limit.

use std::fmt;
use std::io::{self, Read};

use super::decoder::{Decoder, Frames};

/// How many free bytes [`FrameBuf::spare_mut`] tries to offer (16 KiB, one socket read).
///
/// ```
/// use asyncore_runtime::codec::{FrameBuf, READ_CHUNK};
///
/// assert_eq!(FrameBuf::new(1 << 20).spare_mut().len(), READ_CHUNK);
/// assert_eq!(FrameBuf::new(100).spare_mut().len(), 100); // never past the limit
/// ```
pub const READ_CHUNK: usize = 16 * 1024;

/// A read buffer for decoders: a `Vec<u8>` with a read cursor and a hard limit.
///
/// Bytes are appended at the end ([`read_from`](Self::read_from),
/// [`read_with`](Self::read_with), [`extend_from_slice`](Self::extend_from_slice)) and
/// consumed from the front ([`consume`](Self::consume), or the [`frames`](Self::frames)
/// iterator, which consumes each frame as it hands it out). Consuming only moves the
/// cursor; the unconsumed bytes are moved to the front of the storage lazily, when room
/// is needed at the end and the move copies no more bytes than it frees (or the limit
/// leaves no other way), so a stream of small frames costs no copying per frame.
///
/// The buffer never holds more than [`limit`](Self::limit) bytes: appending past it is
/// an error ([`BufferFull`]), never growth. Size the limit for the largest frame the
/// decoder accepts plus its header or terminator (the built-in framers tell it:
/// [`LineFramer::buffer_limit`](crate::codec::LineFramer::buffer_limit),
/// [`LengthFramer::buffer_limit`](crate::codec::LengthFramer::buffer_limit)). Storage is
/// allocated as needed, up to the limit, and zeroed only once when it grows, so reads
/// into it cost no `memset`.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{FrameBuf, LineFramer};
///
/// let mut lines = LineFramer::builder(1024).terminator(b"\r\n").new_framer();
/// let mut buf = FrameBuf::new(lines.buffer_limit());
/// let mut got = Vec::new();
/// for chunk in [&b"HELO a\r\nMAIL"[..], b" FROM:<b>\r\n"] {
///     buf.extend_from_slice(chunk).unwrap(); // or buf.read_from(&mut socket)
///     for line in buf.frames(&mut lines) {
///         got.push(String::from_utf8_lossy(line.unwrap()).into_owned());
///     }
/// }
/// assert_eq!(got, ["HELO a", "MAIL FROM:<b>"]);
/// assert!(buf.is_empty());
/// ```
pub struct FrameBuf {
    /// Storage; every byte is initialised, `storage.len()` is the allocated size.
    storage: Vec<u8>,
    /// First unconsumed byte.
    start: usize,
    /// One past the last byte appended.
    end: usize,
    limit: usize,
}

// ===== impl FrameBuf =====

impl FrameBuf {
    /// An empty buffer that will hold at most `limit` bytes. Nothing is allocated yet.
    ///
    /// ```
    /// let buf = asyncore_runtime::codec::FrameBuf::new(64 * 1024);
    /// assert_eq!((buf.len(), buf.limit(), buf.capacity()), (0, 64 * 1024, 0));
    /// ```
    pub fn new(limit: usize) -> Self {
        FrameBuf {
            storage: Vec::new(),
            start: 0,
            end: 0,
            limit,
        }
    }

    /// An empty buffer with `capacity` bytes (at most `limit`) allocated up front.
    ///
    /// ```
    /// let buf = asyncore_runtime::codec::FrameBuf::with_capacity(4096, 1 << 20);
    /// assert_eq!(buf.capacity(), 4096);
    /// ```
    pub fn with_capacity(capacity: usize, limit: usize) -> Self {
        FrameBuf {
            storage: vec![0; capacity.min(limit)],
            start: 0,
            end: 0,
            limit,
        }
    }

    /// The unconsumed bytes.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(16);
    /// buf.extend_from_slice(b"abc").unwrap();
    /// buf.consume(1);
    /// assert_eq!(buf.data(), b"bc");
    /// ```
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }

    /// How many unconsumed bytes there are.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(16);
    /// buf.extend_from_slice(b"abc").unwrap();
    /// assert_eq!(buf.len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether there are no unconsumed bytes.
    ///
    /// ```
    /// assert!(asyncore_runtime::codec::FrameBuf::new(16).is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The most bytes the buffer will hold.
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::codec::FrameBuf::new(16).limit(), 16);
    /// ```
    #[inline]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether the buffer holds [`limit`](Self::limit) bytes, so nothing more can be read
    /// until some are consumed.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(2);
    /// buf.extend_from_slice(b"ab").unwrap();
    /// assert!(buf.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() >= self.limit
    }

    /// The allocated storage, in bytes (at most [`limit`](Self::limit)).
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(1 << 20);
    /// buf.extend_from_slice(b"abc").unwrap();
    /// assert!(buf.capacity() >= 3 && buf.capacity() <= 1 << 20);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Drops the first `n` unconsumed bytes.
    ///
    /// # Panics
    ///
    /// If `n` is more than [`len`](Self::len), as slicing past the end would.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(16);
    /// buf.extend_from_slice(b"abc").unwrap();
    /// buf.consume(2);
    /// assert_eq!(buf.data(), b"c");
    /// ```
    #[inline]
    pub fn consume(&mut self, n: usize) {
        assert!(
            n <= self.len(),
            "FrameBuf::consume({n}) with only {} bytes buffered",
            self.len()
        );
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Gives the storage back to the allocator when nothing is buffered; the next read
    /// allocates again (up to the limit, as before). True when there was storage to give.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(1 << 20);
    /// buf.extend_from_slice(&[7; 100_000]).unwrap();
    /// assert!(!buf.release(), "bytes are buffered: nothing given back");
    /// buf.consume(100_000);
    /// assert!(buf.release());
    /// assert_eq!(buf.capacity(), 0);
    /// buf.extend_from_slice(b"more").unwrap();
    /// assert_eq!(buf.data(), b"more");
    /// ```
    pub fn release(&mut self) -> bool {
        self.take_storage().is_some()
    }

    /// Takes the storage when nothing is buffered, to lend it to another buffer
    /// ([`give_storage`](Self::give_storage)): a loop's connections can share a few read
    /// buffers instead of each holding one while idle. `None` when bytes are buffered or
    /// there is no storage.
    ///
    /// ```
    /// use asyncore_runtime::codec::FrameBuf;
    /// let mut a = FrameBuf::new(4096);
    /// a.extend_from_slice(b"x").unwrap();
    /// assert!(a.take_storage().is_none());
    /// a.consume(1);
    /// let storage = a.take_storage().unwrap();
    /// let mut b = FrameBuf::new(4096);
    /// b.give_storage(storage);
    /// assert!(b.capacity() > 0);
    /// ```
    pub fn take_storage(&mut self) -> Option<Vec<u8>> {
        if !self.is_empty() || self.storage.is_empty() {
            return None;
        }
        self.start = 0;
        self.end = 0;
        Some(std::mem::take(&mut self.storage))
    }

    /// Uses `storage` (from [`take_storage`](Self::take_storage)) when this buffer has none
    /// and holds nothing; otherwise, or when it is larger than the limit, it is dropped.
    pub fn give_storage(&mut self, mut storage: Vec<u8>) {
        if self.storage.is_empty() && self.is_empty() && storage.len() <= self.limit {
            // Every byte of a taken storage is initialised: `len` is its size.
            storage.truncate(self.limit);
            self.storage = storage;
            self.start = 0;
            self.end = 0;
        }
    }

    /// Moves the buffered bytes to the front of `storage` and keeps it, returning the old
    /// storage; when they do not fit, or `storage` is larger than the limit, keeps the old
    /// one and returns `storage`. Every byte of `storage` counts as initialised (as from
    /// [`take_storage`](Self::take_storage), or `vec![0; n]`): its length is its size. A
    /// connection waiting for the rest of a message can so keep its few bytes in a small
    /// storage and lend the large one to others.
    ///
    /// ```
    /// use asyncore_runtime::codec::FrameBuf;
    /// let mut buf = FrameBuf::new(1 << 16);
    /// buf.extend_from_slice(&[1; 20_000]).unwrap();
    /// buf.consume(19_990);
    /// let large = buf.swap_storage(vec![0; 64]);
    /// assert!(large.len() >= 20_000);
    /// assert_eq!((buf.capacity(), buf.data()), (64, &[1; 10][..]));
    /// ```
    pub fn swap_storage(&mut self, mut storage: Vec<u8>) -> Vec<u8> {
        let len = self.len();
        if storage.len() < len || storage.len() > self.limit {
            return storage;
        }
        storage[..len].copy_from_slice(self.data());
        self.start = 0;
        self.end = len;
        std::mem::replace(&mut self.storage, storage)
    }

    /// Drops every unconsumed byte (keeping the storage).
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(16);
    /// buf.extend_from_slice(b"abc").unwrap();
    /// buf.clear();
    /// assert!(buf.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Appends `data`, all of it or, if it would take the buffer past its limit, none
    /// of it.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(4);
    /// buf.extend_from_slice(b"abc").unwrap();
    /// let err = buf.extend_from_slice(b"de").unwrap_err();
    /// assert_eq!(err.to_string(), "frame buffer full: 2 more bytes would pass its limit of 4 bytes (3 buffered)");
    /// assert_eq!(buf.data(), b"abc");
    /// ```
    pub fn extend_from_slice(&mut self, data: &[u8]) -> Result<(), BufferFull> {
        if data.len() > self.limit - self.len() {
            return Err(self.full(data.len()));
        }
        self.make_room(data.len());
        self.storage[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
        Ok(())
    }

    /// The free space at the end, to read into; then [`commit`](Self::commit) the count
    /// read. When less than half of [`READ_CHUNK`] is free, it makes room for up to
    /// [`READ_CHUNK`] bytes first (moving the unconsumed bytes to the front, or growing the
    /// storage, never past the limit): a few bytes kept from the last read do not double
    /// the storage. Empty only if the buffer [is full](Self::is_full).
    /// [`read_with`](Self::read_with) wraps the pair.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(1024);
    /// let spare = buf.spare_mut();
    /// spare[..2].copy_from_slice(b"hi");
    /// buf.commit(2);
    /// assert_eq!(buf.data(), b"hi");
    /// ```
    pub fn spare_mut(&mut self) -> &mut [u8] {
        if self.storage.len() - self.end < READ_CHUNK / 2 {
            self.make_room(READ_CHUNK);
        }
        // `storage.len() <= limit`, so the tail never lets `len` pass the limit.
        &mut self.storage[self.end..]
    }

    /// Marks `n` bytes written into [`spare_mut`](Self::spare_mut) as data.
    ///
    /// # Panics
    ///
    /// If `n` is more than the spare space.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(8);
    /// buf.spare_mut()[0] = b'x';
    /// buf.commit(1);
    /// assert_eq!(buf.data(), b"x");
    /// ```
    pub fn commit(&mut self, n: usize) {
        let spare = self.storage.len() - self.end;
        assert!(
            n <= spare,
            "FrameBuf::commit({n}) with only {spare} bytes of spare space"
        );
        self.end += n;
    }

    /// Reads once with `read`, which gets the spare space and returns how many bytes it
    /// wrote there; returns that count. Fails with [`BufferFull`] (as an
    /// [`io::ErrorKind::InvalidData`] error) before calling `read` if the buffer is full:
    /// a `recv` into an empty slice would return 0 and look like the end of the stream.
    ///
    /// ```no_run
    /// use asyncore_runtime::codec::{FrameBuf, LineFramer};
    /// use asyncore_runtime::{Channel, Dispatcher, Result};
    ///
    /// struct Lines {
    ///     framer: LineFramer,
    ///     buf: FrameBuf,
    /// }
    ///
    /// impl Dispatcher for Lines {
    ///     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
    ///         self.buf.read_with(|spare| ch.recv(spare))?;
    ///         for line in self.buf.frames(&mut self.framer) {
    ///             ch.send_buffered(line?)?; // echo each line, without its "\n"
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn read_with<E: From<io::Error>>(
        &mut self,
        read: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let spare = self.spare_mut();
        if spare.is_empty() {
            return Err(io::Error::from(self.full(1)).into());
        }
        let room = spare.len();
        let n = read(spare)?;
        if n > room {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("read reported {n} bytes into {room} bytes of space"),
            )
            .into());
        }
        self.end += n;
        Ok(n)
    }

    /// Reads once from `reader` into the spare space (see [`read_with`](Self::read_with));
    /// returns the count read, 0 at the end of the stream.
    ///
    /// ```
    /// let mut buf = asyncore_runtime::codec::FrameBuf::new(1024);
    /// let mut input: &[u8] = b"some bytes";
    /// assert_eq!(buf.read_from(&mut input).unwrap(), 10);
    /// assert_eq!(buf.read_from(&mut input).unwrap(), 0);
    /// assert_eq!(buf.data(), b"some bytes");
    /// ```
    pub fn read_from<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<usize> {
        self.read_with(|spare| reader.read(spare))
    }

    /// Decodes the frames at the front of the buffer, zero-copy, consuming each one (and
    /// any bytes the decoder skips) as it is handed out. Ends when the decoder needs more
    /// bytes, or after an error (see [`Frames`]). Call
    /// [`at_eof`](Frames::at_eof) on it at the end of the stream.
    ///
    /// ```
    /// use asyncore_runtime::codec::{FrameBuf, LengthFramer};
    ///
    /// let mut framer = LengthFramer::new();
    /// let mut buf = FrameBuf::new(framer.buffer_limit());
    /// buf.extend_from_slice(b"\0\0\0\x03abc\0\0\0\x03de").unwrap();
    /// let frames: Vec<Vec<u8>> = buf.frames(&mut framer).map(|f| f.unwrap().to_vec()).collect();
    /// assert_eq!(frames, [b"abc".to_vec()]);
    /// assert_eq!(buf.data(), b"\0\0\0\x03de");
    /// ```
    pub fn frames<'a, D: Decoder>(&'a mut self, decoder: &'a mut D) -> Frames<'a, 'a, D> {
        // Split the borrow: frames borrow the storage, the iterator moves the cursor.
        let FrameBuf {
            storage,
            start,
            end,
            ..
        } = self;
        if start == end {
            *start = 0;
            *end = 0;
        }
        let data = &storage[*start..*end];
        Frames::new(decoder, data, Some(start))
    }

    /// Makes at least `want.min(limit - len)` bytes free at the end. Moves the
    /// unconsumed bytes to the front when that copies no more than it frees (so copying
    /// costs O(1) per byte, amortised) or when the storage cannot otherwise fit in the
    /// limit; grows the storage (doubling, up to the limit) when that is not enough.
    fn make_room(&mut self, want: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let len = self.len();
        let want = want.min(self.limit - len);
        if self.storage.len() - self.end >= want {
            return;
        }
        if self.start > 0 && (self.start >= len || self.end + want > self.limit) {
            self.storage.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = len;
            if self.storage.len() - self.end >= want {
                return;
            }
        }
        let size = (self.end + want)
            .max(self.storage.len().saturating_mul(2))
            .min(self.limit);
        self.storage.resize(size, 0);
    }

    fn full(&self, wanted: usize) -> BufferFull {
        BufferFull {
            limit: self.limit,
            buffered: self.len(),
            wanted,
        }
    }
}

impl fmt::Debug for FrameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameBuf")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("limit", &self.limit)
            .finish()
    }
}

// ===== BufferFull =====

/// Appending to a [`FrameBuf`] would take it past its limit.
///
/// ```
/// let mut buf = asyncore_runtime::codec::FrameBuf::new(2);
/// let err = buf.extend_from_slice(b"abc").unwrap_err();
/// assert_eq!((err.limit(), err.buffered(), err.wanted()), (2, 0, 3));
/// let io: std::io::Error = err.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferFull {
    limit: usize,
    buffered: usize,
    wanted: usize,
}

impl BufferFull {
    /// The buffer's limit.
    ///
    /// ```
    /// let err = asyncore_runtime::codec::FrameBuf::new(2).extend_from_slice(b"abc").unwrap_err();
    /// assert_eq!(err.limit(), 2);
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many bytes it held.
    ///
    /// ```
    /// let err = asyncore_runtime::codec::FrameBuf::new(2).extend_from_slice(b"abc").unwrap_err();
    /// assert_eq!(err.buffered(), 0);
    /// ```
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// How many more bytes were to be added.
    ///
    /// ```
    /// let err = asyncore_runtime::codec::FrameBuf::new(2).extend_from_slice(b"abc").unwrap_err();
    /// assert_eq!(err.wanted(), 3);
    /// ```
    pub fn wanted(&self) -> usize {
        self.wanted
    }
}

impl fmt::Display for BufferFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame buffer full: {} more bytes would pass its limit of {} bytes ({} buffered)",
            self.wanted, self.limit, self.buffered
        )
    }
}

impl std::error::Error for BufferFull {}

impl From<BufferFull> for io::Error {
    fn from(e: BufferFull) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

impl From<BufferFull> for crate::Error {
    fn from(e: BufferFull) -> Self {
        crate::Error::Io(e.into())
    }
}
