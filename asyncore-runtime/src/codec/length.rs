//! [`LengthFramer`]: frames that start with a header holding their length.

use std::fmt;
use std::io;

use super::decoder::{Decoded, Decoder};
use super::encoder::Encoder;

/// The default [`max_frame_length`](LengthBuilder::max_frame_length): 8 MiB.
///
/// ```
/// use asyncore_runtime::codec::{LengthFramer, DEFAULT_MAX_FRAME_LENGTH};
///
/// assert_eq!(LengthFramer::new().max_frame_length(), DEFAULT_MAX_FRAME_LENGTH);
/// ```
pub const DEFAULT_MAX_FRAME_LENGTH: usize = 8 * 1024 * 1024;

/// The longest unsigned LEB128 varint a [`LengthFramer`] reads: 10 bytes (64 bits).
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer, MAX_VARINT_LEN};
///
/// let mut framer = LengthFramer::builder().length_field(LengthField::Varint).new_framer();
/// assert!(framer.decode(&[0x80; MAX_VARINT_LEN + 1]).is_err());
/// ```
pub const MAX_VARINT_LEN: usize = 10;

// ===== LengthField =====

/// The encoding of the length field.
///
/// ```
/// use asyncore_runtime::codec::LengthField;
///
/// assert_eq!(LengthField::U16.width(), Some(2));
/// assert_eq!(LengthField::Varint.width(), None);
/// assert_eq!(LengthField::U8.max_value(), 255);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LengthField {
    /// One byte.
    U8,
    /// Two bytes, big or little endian.
    U16,
    /// Four bytes, big or little endian (the default).
    U32,
    /// Eight bytes, big or little endian.
    U64,
    /// An unsigned LEB128 varint (as protobuf's): 7 bits a byte, least significant group
    /// first, the high bit set on every byte but the last; 1 to [`MAX_VARINT_LEN`] bytes.
    /// Endianness does not apply.
    Varint,
}

impl LengthField {
    /// The field's size in bytes, `None` for [`Varint`](Self::Varint).
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::codec::LengthField::U64.width(), Some(8));
    /// ```
    pub fn width(self) -> Option<usize> {
        match self {
            LengthField::U8 => Some(1),
            LengthField::U16 => Some(2),
            LengthField::U32 => Some(4),
            LengthField::U64 => Some(8),
            LengthField::Varint => None,
        }
    }

    /// The largest value the field can hold.
    ///
    /// ```
    /// use asyncore_runtime::codec::LengthField;
    ///
    /// assert_eq!(LengthField::U16.max_value(), 65_535);
    /// assert_eq!(LengthField::Varint.max_value(), u64::MAX);
    /// ```
    pub fn max_value(self) -> u64 {
        match self {
            LengthField::U8 => u8::MAX.into(),
            LengthField::U16 => u16::MAX.into(),
            LengthField::U32 => u32::MAX.into(),
            LengthField::U64 | LengthField::Varint => u64::MAX,
        }
    }
}

impl fmt::Display for LengthField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.width() {
            Some(w) => write!(f, "{w}-byte"),
            None => f.write_str("varint"),
        }
    }
}

// ===== LengthBuilder =====

/// Configures a [`LengthFramer`]. `Copy`; setters take and return `&mut Self`;
/// [`new_framer`](Self::new_framer) makes the framer.
///
/// The defaults (also [`Default`]): a 4-byte big-endian length field at offset 0 that
/// counts the payload only, no adjustment, the whole header stripped, frames of at most
/// [`DEFAULT_MAX_FRAME_LENGTH`] (8 MiB).
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
///
/// let mut framer = LengthFramer::builder()
///     .length_field(LengthField::U16)
///     .little_endian()
///     .max_frame_length(1024)
///     .new_framer();
/// assert_eq!(framer.decode(b"\x02\0hi").unwrap().frame(), Some(&b"hi"[..]));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LengthBuilder {
    // How the length is encoded: 4 bytes.
    field: LengthField,
    // Byte order of fixed-width fields: big endian (network order).
    big_endian: bool,
    // Header bytes before the length field: none.
    offset: usize,
    // Added to the length field to give the bytes after it: 0.
    adjustment: isize,
    // Whether the length counts the header (offset bytes + length field) too: no.
    includes_header: bool,
    // Bytes stripped from the front of each frame: `None`, the whole header.
    num_skip: Option<usize>,
    // The most bytes after the length field: 8 MiB.
    max_frame_length: usize,
}

impl LengthBuilder {
    /// A builder with the defaults (see [`LengthBuilder`]).
    ///
    /// ```
    /// use asyncore_runtime::codec::LengthBuilder;
    ///
    /// assert_eq!(LengthBuilder::new(), LengthBuilder::default());
    /// ```
    pub fn new() -> Self {
        LengthBuilder {
            field: LengthField::U32,
            big_endian: true,
            offset: 0,
            adjustment: 0,
            includes_header: false,
            num_skip: None,
            max_frame_length: DEFAULT_MAX_FRAME_LENGTH,
        }
    }

    /// How the length field is encoded (default [`LengthField::U32`]).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
    ///
    /// let mut framer = LengthFramer::builder().length_field(LengthField::U8).new_framer();
    /// assert_eq!(framer.decode(b"\x01!").unwrap().frame(), Some(&b"!"[..]));
    /// ```
    pub fn length_field(&mut self, field: LengthField) -> &mut Self {
        self.field = field;
        self
    }

    /// Fixed-width length fields are big endian (network order; the default).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
    ///
    /// let mut framer = LengthFramer::builder().length_field(LengthField::U16).big_endian().new_framer();
    /// assert_eq!(framer.decode(b"\0\x01!").unwrap().frame(), Some(&b"!"[..]));
    /// ```
    pub fn big_endian(&mut self) -> &mut Self {
        self.big_endian = true;
        self
    }

    /// Fixed-width length fields are little endian.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
    ///
    /// let mut framer = LengthFramer::builder().length_field(LengthField::U16).little_endian().new_framer();
    /// assert_eq!(framer.decode(b"\x01\0!").unwrap().frame(), Some(&b"!"[..]));
    /// ```
    pub fn little_endian(&mut self) -> &mut Self {
        self.big_endian = false;
        self
    }

    /// How many header bytes come before the length field (default 0). They are part of
    /// the header: stripped by default, counted by
    /// [`length_includes_header`](Self::length_includes_header).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthFramer};
    ///
    /// // A type byte, then the length.
    /// let mut framer = LengthFramer::builder().length_field_offset(1).num_skip(0).new_framer();
    /// assert_eq!(framer.decode(b"T\0\0\0\x01!").unwrap().frame(), Some(&b"T\0\0\0\x01!"[..]));
    /// ```
    pub fn length_field_offset(&mut self, offset: usize) -> &mut Self {
        self.offset = offset;
        self
    }

    /// Added to the length field's value to give the number of bytes after the length
    /// field (default 0), as Netty's `lengthAdjustment` and tokio-util's
    /// `length_adjustment`: positive when the length does not count some header bytes
    /// that follow it, negative when it counts bytes that come before them.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
    ///
    /// // The length counts itself (2 bytes) and the payload.
    /// let mut framer = LengthFramer::builder()
    ///     .length_field(LengthField::U16)
    ///     .length_adjustment(-2)
    ///     .new_framer();
    /// assert_eq!(framer.decode(b"\0\x03!").unwrap().frame(), Some(&b"!"[..]));
    /// ```
    pub fn length_adjustment(&mut self, adjustment: isize) -> &mut Self {
        self.adjustment = adjustment;
        self
    }

    /// Whether the length field counts the header (the bytes before the length field
    /// and the field itself) as well as what follows (default `false`). Applied on top
    /// of [`length_adjustment`](Self::length_adjustment). With a varint field, the
    /// header's size depends on the varint's own.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
    ///
    /// let mut framer = LengthFramer::builder()
    ///     .length_field(LengthField::U16)
    ///     .length_includes_header(true)
    ///     .new_framer();
    /// assert_eq!(framer.decode(b"\0\x03!").unwrap().frame(), Some(&b"!"[..]));
    /// ```
    pub fn length_includes_header(&mut self, includes: bool) -> &mut Self {
        self.includes_header = includes;
        self
    }

    /// How many bytes to strip from the front of each frame on the wire (default: the
    /// whole header, [`length_field_offset`](Self::length_field_offset) plus the length
    /// field). 0 keeps the header; more than the header strips payload bytes too (a frame
    /// shorter than `num_skip` is an error).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthFramer};
    ///
    /// let mut framer = LengthFramer::builder().num_skip(0).new_framer();
    /// assert_eq!(framer.decode(b"\0\0\0\x01!").unwrap().frame(), Some(&b"\0\0\0\x01!"[..]));
    /// ```
    pub fn num_skip(&mut self, num_skip: usize) -> &mut Self {
        self.num_skip = Some(num_skip);
        self
    }

    /// The most bytes that may follow the length field (default
    /// [`DEFAULT_MAX_FRAME_LENGTH`], 8 MiB). A longer frame is an error as soon as its
    /// header is read, before any of it is buffered; the encoder refuses longer items.
    ///
    /// [`new_framer`](Self::new_framer) clips it to the most the length field can express
    /// (with the adjustment and header taken into account), as tokio-util does: a
    /// one-byte field with the defaults gives at most 255. See
    /// [`LengthFramer::max_frame_length`].
    ///
    /// ```
    /// use asyncore_runtime::codec::{LengthField, LengthFramer};
    ///
    /// let framer = LengthFramer::builder().length_field(LengthField::U8).new_framer();
    /// assert_eq!(framer.max_frame_length(), 255);
    /// ```
    pub fn max_frame_length(&mut self, max: usize) -> &mut Self {
        self.max_frame_length = max;
        self
    }

    /// Makes the framer, clipping [`max_frame_length`](Self::max_frame_length) to what the
    /// length field can express.
    ///
    /// ```
    /// let framer = asyncore_runtime::codec::LengthFramer::builder().new_framer();
    /// assert_eq!(framer.max_frame_length(), 8 * 1024 * 1024);
    /// ```
    pub fn new_framer(&self) -> LengthFramer {
        let width = self.field.width();
        let fixed_header = self.offset.saturating_add(width.unwrap_or(0));
        // The largest body the field expresses: its largest value, adjusted, less the
        // smallest header when the length counts it.
        let smallest_header = self.offset as i128 + width.unwrap_or(1) as i128;
        let counted_header = if self.includes_header {
            smallest_header
        } else {
            0
        };
        let expressible =
            i128::from(self.field.max_value()) + self.adjustment as i128 - counted_header;
        let max_body = expressible.clamp(0, usize::MAX as i128) as usize;
        LengthFramer {
            config: *self,
            max_body: self.max_frame_length.min(max_body),
            fixed_header,
            fixed_adjust: self.adjustment as i128
                - if self.includes_header {
                    fixed_header as i128
                } else {
                    0
                },
        }
    }
}

impl Default for LengthBuilder {
    /// Same as [`LengthBuilder::new`].
    ///
    /// ```
    /// let framer = asyncore_runtime::codec::LengthBuilder::default().new_framer();
    /// assert_eq!(framer.buffer_limit(), 4 + 8 * 1024 * 1024);
    /// ```
    fn default() -> Self {
        LengthBuilder::new()
    }
}

// ===== LengthFramer =====

/// Splits a stream into frames that start with a header holding their length, and frames
/// payloads for output. tokio-util's `LengthDelimitedCodec`, with Netty's options, plus
/// varint lengths.
///
/// A frame on the wire is a header (`length_field_offset` bytes, then the length field)
/// and a body. The body's size is the length field's value, plus
/// `length_adjustment`, less the header's size if `length_includes_header`. The decoder
/// emits the frame less its first `num_skip` bytes (by default the whole header, so the
/// body). Configure it with [`LengthFramer::builder`].
///
/// **Limits.** A body longer than [`max_frame_length`](Self::max_frame_length), a
/// negative adjusted length, a length that overflows, a varint longer than
/// [`MAX_VARINT_LEN`] bytes or above `u64::MAX` are [`LengthError`]s, reported as soon as
/// the header is read (never a panic, never a buffer that grows to wait for the frame).
/// A length error is final: the stream cannot be resynchronised, and `decode` returns the
/// same error again if called again.
///
/// **Encoding** takes an item made of the `length_field_offset` header bytes that come
/// before the length field (none by default) and the body, and inserts the length field
/// between them. With the default `num_skip`, decoding gives back the body.
///
/// # Frame layouts
///
/// The default: a 4-byte big-endian length, then that many bytes.
///
/// ```text
/// INPUT                               DECODED
/// +---- len: u32 ---+---- data ----+      +---- data ----+
/// | \x00\x00\x00\x0B|  hello world | -->  |  hello world |
/// +-----------------+--------------+      +--------------+
/// ```
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LengthFramer};
///
/// let mut framer = LengthFramer::new();
/// let frame = framer.decode(b"\0\0\0\x0bhello world").unwrap().frame();
/// # assert_eq!(frame, Some(&b"hello world"[..]));
/// ```
///
/// A 2-byte little-endian length that counts the whole frame; the header is kept.
///
/// ```text
/// INPUT                           DECODED
/// +-- len --+--- data ---+        +-- len --+--- data ---+
/// | \x07\x00|    hello   |  -->   | \x07\x00|    hello   |
/// +---------+------------+        +---------+------------+
/// ```
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
///
/// let mut framer = LengthFramer::builder()
///     .length_field(LengthField::U16)
///     .little_endian()
///     .length_includes_header(true)
///     .num_skip(0)
///     .new_framer();
/// let frame = framer.decode(b"\x07\0hello").unwrap().frame();
/// # assert_eq!(frame, Some(&b"\x07\0hello"[..]));
/// ```
///
/// Netty's "HDR1 LEN HDR2": a byte before the length, a byte after it that the length
/// does not count (adjustment +1), and only the payload kept (`num_skip` 4).
///
/// ```text
/// INPUT                                   DECODED
/// +------+-- len --+------+-- data --+    +-- data --+
/// | \xCA | \x00\x05| \xFE |  hello   | -> |  hello   |
/// +------+---------+------+----------+    +----------+
/// ```
///
/// ```
/// use asyncore_runtime::codec::{Decoder, LengthField, LengthFramer};
///
/// let mut framer = LengthFramer::builder()
///     .length_field_offset(1)
///     .length_field(LengthField::U16)
///     .length_adjustment(1)
///     .num_skip(4)
///     .new_framer();
/// let frame = framer.decode(b"\xca\0\x05\xfehello").unwrap().frame();
/// # assert_eq!(frame, Some(&b"hello"[..]));
/// ```
///
/// A varint length (300 = `\xAC\x02`), then the data.
///
/// ```text
/// INPUT                       DECODED
/// +-- len --+-- data --+      +-- data --+
/// | \xAC\x02| 300 bytes| -->  | 300 bytes|
/// +---------+----------+      +----------+
/// ```
///
/// ```
/// use asyncore_runtime::codec::{Decoder, Encoder, LengthField, LengthFramer};
///
/// let mut framer = LengthFramer::builder().length_field(LengthField::Varint).new_framer();
/// let mut wire = Vec::new();
/// framer.encode(vec![7u8; 300], &mut wire).unwrap();
/// assert_eq!(&wire[..2], b"\xac\x02");
/// assert_eq!(framer.decode(&wire).unwrap().frame().map(<[u8]>::len), Some(300));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LengthFramer {
    config: LengthBuilder,
    /// `max_frame_length`, clipped to what the field expresses.
    max_body: usize,
    /// `offset + width` for fixed-width fields (saturating).
    fixed_header: usize,
    /// For fixed-width fields: body = value + fixed_adjust.
    fixed_adjust: i128,
}

impl LengthFramer {
    /// A framer with the defaults: 4-byte big-endian length of the payload, frames of at
    /// most 8 MiB.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoder, LengthFramer};
    ///
    /// let mut framer = LengthFramer::new();
    /// assert_eq!(framer.decode(b"\0\0\0\x01x").unwrap().frame(), Some(&b"x"[..]));
    /// ```
    pub fn new() -> Self {
        LengthBuilder::new().new_framer()
    }

    /// A builder with the defaults, to change some.
    ///
    /// ```
    /// use asyncore_runtime::codec::LengthFramer;
    ///
    /// let framer = LengthFramer::builder().max_frame_length(1 << 16).new_framer();
    /// assert_eq!(framer.max_frame_length(), 1 << 16);
    /// ```
    pub fn builder() -> LengthBuilder {
        LengthBuilder::new()
    }

    /// The configuration the framer was made with (before clipping).
    ///
    /// ```
    /// use asyncore_runtime::codec::{LengthBuilder, LengthFramer};
    ///
    /// assert_eq!(LengthFramer::new().config(), LengthBuilder::new());
    /// ```
    pub fn config(&self) -> LengthBuilder {
        self.config
    }

    /// The length field's encoding.
    ///
    /// ```
    /// use asyncore_runtime::codec::{LengthField, LengthFramer};
    ///
    /// assert_eq!(LengthFramer::new().length_field(), LengthField::U32);
    /// ```
    pub fn length_field(&self) -> LengthField {
        self.config.field
    }

    /// The most bytes that may follow the length field: the builder's
    /// `max_frame_length`, clipped to the most the length field can express.
    ///
    /// ```
    /// use asyncore_runtime::codec::{LengthField, LengthFramer};
    ///
    /// let framer = LengthFramer::builder()
    ///     .length_field(LengthField::U16)
    ///     .length_includes_header(true)
    ///     .new_framer();
    /// assert_eq!(framer.max_frame_length(), 65_535 - 2);
    /// ```
    pub fn max_frame_length(&self) -> usize {
        self.max_body
    }

    /// The smallest [`FrameBuf`](crate::codec::FrameBuf) limit that holds any frame this
    /// framer accepts: the longest header plus
    /// [`max_frame_length`](Self::max_frame_length), saturating.
    ///
    /// ```
    /// use asyncore_runtime::codec::{LengthField, LengthFramer};
    ///
    /// assert_eq!(LengthFramer::new().buffer_limit(), 4 + 8 * 1024 * 1024);
    /// let varint = LengthFramer::builder().length_field(LengthField::Varint).new_framer();
    /// assert_eq!(varint.buffer_limit(), 10 + 8 * 1024 * 1024);
    /// ```
    pub fn buffer_limit(&self) -> usize {
        let width = self.config.field.width().unwrap_or(MAX_VARINT_LEN);
        self.config
            .offset
            .saturating_add(width)
            .saturating_add(self.max_body)
    }

    /// The header size and the body size for the header at the front of `buf`, or
    /// `None` if the header is not all there yet.
    #[inline]
    fn head(&self, buf: &[u8]) -> Result<Option<(usize, usize)>, LengthError> {
        let (value, header, adjust) = match self.config.field.width() {
            Some(width) => {
                let header = self.fixed_header;
                if buf.len() < header {
                    return Ok(None);
                }
                let field = &buf[header - width..header];
                (
                    read_uint(field, self.config.big_endian),
                    header,
                    self.fixed_adjust,
                )
            }
            None => {
                let Some(rest) = buf.get(self.config.offset..) else {
                    return Ok(None);
                };
                let Some((value, size)) = read_varint(rest)? else {
                    return Ok(None);
                };
                let header = self.config.offset + size;
                let counted = if self.config.includes_header {
                    header as i128
                } else {
                    0
                };
                (value, header, self.config.adjustment as i128 - counted)
            }
        };
        let body = i128::from(value) + adjust;
        if body < 0 {
            return Err(LengthError::NegativeLength {
                value,
                length: body,
            });
        }
        if body > self.max_body as i128 {
            return Err(LengthError::FrameTooLong {
                length: body as u128,
                limit: self.max_body,
            });
        }
        Ok(Some((header, body as usize)))
    }
}

impl Default for LengthFramer {
    /// Same as [`LengthFramer::new`].
    ///
    /// ```
    /// use asyncore_runtime::codec::LengthFramer;
    ///
    /// assert_eq!(LengthFramer::default().max_frame_length(), 8 * 1024 * 1024);
    /// ```
    fn default() -> Self {
        LengthFramer::new()
    }
}

impl Decoder for LengthFramer {
    type Error = LengthError;

    /// The first frame in `buf`, less its first `num_skip` bytes; see [`LengthFramer`].
    ///
    /// ```
    /// use asyncore_runtime::codec::{Decoded, Decoder, LengthFramer};
    ///
    /// let mut framer = LengthFramer::new();
    /// assert_eq!(framer.decode(b"\0\0\0\x03ab").unwrap(), Decoded::NeedMore);
    /// assert_eq!(
    ///     framer.decode(b"\0\0\0\x03abc").unwrap(),
    ///     Decoded::Frame { frame: b"abc", consumed: 7 }
    /// );
    /// let err = framer.decode(b"\xff\xff\xff\xff").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "frame of 4294967295 bytes is longer than 8388608 bytes (the max_frame_length)"
    /// );
    /// ```
    #[inline]
    fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, LengthError> {
        let Some((header, body)) = self.head(buf)? else {
            return Ok(Decoded::NeedMore);
        };
        let Some(total) = header.checked_add(body) else {
            return Err(LengthError::Overflow { header, body });
        };
        let skip = self.config.num_skip.unwrap_or(header);
        if skip > total {
            return Err(LengthError::ShorterThanSkip {
                frame: total,
                num_skip: skip,
            });
        }
        if buf.len() < total {
            return Ok(Decoded::NeedMore);
        }
        Ok(Decoded::Frame {
            frame: &buf[skip..total],
            consumed: total,
        })
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for LengthFramer {
    type Error = LengthError;

    /// Appends the header bytes before the length field (the first
    /// `length_field_offset` bytes of `item`), the length field, then the rest of
    /// `item` (the body).
    ///
    /// ```
    /// use asyncore_runtime::codec::{Encoder, LengthError, LengthField, LengthFramer};
    ///
    /// let mut framer = LengthFramer::builder()
    ///     .length_field(LengthField::U8)
    ///     .length_field_offset(1)
    ///     .new_framer();
    /// let mut out = Vec::new();
    /// framer.encode(b"Tabc", &mut out).unwrap(); // type byte 'T', body "abc"
    /// assert_eq!(out, b"T\x03abc");
    /// let err = framer.encode(vec![0; 300], &mut out).unwrap_err();
    /// assert!(matches!(err, LengthError::FrameTooLong { length: 299, limit: 255 }));
    /// ```
    fn encode(&mut self, item: T, dst: &mut Vec<u8>) -> Result<(), LengthError> {
        let item = item.as_ref();
        let offset = self.config.offset;
        if item.len() < offset {
            return Err(LengthError::MissingHeader {
                needed: offset,
                len: item.len(),
            });
        }
        let body = item.len() - offset;
        if body > self.max_body {
            return Err(LengthError::FrameTooLong {
                length: body as u128,
                limit: self.max_body,
            });
        }
        // value = body - adjustment (+ header, if counted).
        let base = body as i128 - self.config.adjustment as i128;
        let field = self.config.field;
        let unrepresentable = |length: i128| LengthError::Unrepresentable { length, field };
        let (value, width) = match field.width() {
            Some(width) => {
                let value = base
                    + if self.config.includes_header {
                        offset as i128 + width as i128
                    } else {
                        0
                    };
                if !(0..=i128::from(field.max_value())).contains(&value) {
                    return Err(unrepresentable(value));
                }
                (value as u64, width)
            }
            None if !self.config.includes_header => {
                let value = u64::try_from(base).map_err(|_| unrepresentable(base))?;
                (value, varint_len(value))
            }
            None => {
                // The value counts the varint's own size: find a size that agrees.
                let counted = base + offset as i128;
                (1..=MAX_VARINT_LEN)
                    .find_map(|size| {
                        let value = u64::try_from(counted + size as i128).ok()?;
                        (varint_len(value) == size).then_some((value, size))
                    })
                    .ok_or_else(|| unrepresentable(counted + 1))?
            }
        };
        dst.reserve(item.len() + width);
        dst.extend_from_slice(&item[..offset]);
        match field {
            LengthField::Varint => write_varint(value, dst),
            _ if self.config.big_endian => dst.extend_from_slice(&value.to_be_bytes()[8 - width..]),
            _ => dst.extend_from_slice(&value.to_le_bytes()[..width]),
        }
        dst.extend_from_slice(&item[offset..]);
        Ok(())
    }
}

/// A 1, 2, 4 or 8-byte unsigned integer.
#[inline]
fn read_uint(field: &[u8], big_endian: bool) -> u64 {
    let mut bytes = [0u8; 8];
    if big_endian {
        bytes[8 - field.len()..].copy_from_slice(field);
        u64::from_be_bytes(bytes)
    } else {
        bytes[..field.len()].copy_from_slice(field);
        u64::from_le_bytes(bytes)
    }
}

/// An unsigned LEB128 varint at the front of `buf`: its value and size, or `None` if it
/// is not all there yet.
#[inline]
fn read_varint(buf: &[u8]) -> Result<Option<(u64, usize)>, LengthError> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        let group = u64::from(byte & 0x7f);
        if i == MAX_VARINT_LEN - 1 {
            if byte & 0x80 != 0 {
                return Err(LengthError::VarintTooLong);
            }
            if group > 1 {
                return Err(LengthError::VarintOverflow);
            }
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Ok(None)
}

fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn write_varint(mut value: u64, dst: &mut Vec<u8>) {
    while value >= 0x80 {
        dst.push(value as u8 | 0x80);
        value >>= 7;
    }
    dst.push(value as u8);
}

// ===== LengthError =====

/// An error of a [`LengthFramer`]. When decoding, any of them means the stream is
/// corrupt.
///
/// ```
/// use asyncore_runtime::codec::LengthError;
///
/// let err = LengthError::FrameTooLong { length: 9_000_000, limit: 8_388_608 };
/// assert_eq!(
///     err.to_string(),
///     "frame of 9000000 bytes is longer than 8388608 bytes (the max_frame_length)"
/// );
/// let err: asyncore_runtime::Error = err.into(); // `?` works in handlers
/// # let _ = err;
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LengthError {
    /// The bytes after the length field would be more than the (clipped)
    /// `max_frame_length`.
    FrameTooLong {
        /// The frame's length (bytes after the length field).
        length: u128,
        /// The framer's [`max_frame_length`](LengthFramer::max_frame_length).
        limit: usize,
    },
    /// Decoding: the length field's value, adjusted, gives a negative length.
    NegativeLength {
        /// The length field's value.
        value: u64,
        /// The adjusted length.
        length: i128,
    },
    /// Decoding: header plus body overflows `usize`.
    Overflow {
        /// The header's size.
        header: usize,
        /// The body's size.
        body: usize,
    },
    /// Decoding: a frame is shorter than `num_skip`.
    ShorterThanSkip {
        /// The frame's size on the wire.
        frame: usize,
        /// The `num_skip` setting.
        num_skip: usize,
    },
    /// Decoding: a varint length field has more than [`MAX_VARINT_LEN`] bytes.
    VarintTooLong,
    /// Decoding: a varint length field's value is above `u64::MAX`.
    VarintOverflow,
    /// Encoding: the item is shorter than the `length_field_offset` header bytes it must
    /// start with.
    MissingHeader {
        /// `length_field_offset`.
        needed: usize,
        /// The item's size.
        len: usize,
    },
    /// Encoding: the length to write does not fit the length field (it is negative or
    /// too large, after the adjustment).
    Unrepresentable {
        /// The value that would be written.
        length: i128,
        /// The length field.
        field: LengthField,
    },
    /// An I/O error.
    Io(io::Error),
}

impl fmt::Display for LengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LengthError::FrameTooLong { length, limit } => write!(
                f,
                "frame of {length} bytes is longer than {limit} bytes (the max_frame_length)"
            ),
            LengthError::NegativeLength { value, length } => write!(
                f,
                "length field {value} gives a negative frame length ({length}) after the length adjustment"
            ),
            LengthError::Overflow { header, body } => write!(
                f,
                "frame length overflows: {header}-byte header plus {body}-byte body"
            ),
            LengthError::ShorterThanSkip { frame, num_skip } => write!(
                f,
                "frame of {frame} bytes is shorter than num_skip ({num_skip} bytes)"
            ),
            LengthError::VarintTooLong => write!(
                f,
                "varint length field longer than {MAX_VARINT_LEN} bytes (the limit)"
            ),
            LengthError::VarintOverflow => f.write_str("varint length field overflows u64"),
            LengthError::MissingHeader { needed, len } => write!(
                f,
                "item of {len} bytes is shorter than the {needed} header bytes before the length field (length_field_offset)"
            ),
            LengthError::Unrepresentable { length, field } => {
                write!(f, "length {length} does not fit a {field} length field")
            }
            LengthError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LengthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LengthError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LengthError {
    fn from(e: io::Error) -> Self {
        LengthError::Io(e)
    }
}

impl From<LengthError> for crate::Error {
    fn from(e: LengthError) -> Self {
        match e {
            LengthError::Io(e) => crate::Error::Io(e),
            e => crate::Error::Other(Box::new(e)),
        }
    }
}
