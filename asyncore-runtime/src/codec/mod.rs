//! Framers: split a byte stream into frames, and frame messages for output, without a
//! channel. The role tokio-util's codecs play, zero-copy and without the `bytes` crate.
//!
//! * [`Decoder`] looks at the front of a read buffer and finds a frame in it, which it
//!   returns as a slice of that buffer ([`Decoded`]).
//! * [`Encoder`] appends a framed message to a `Vec<u8>`.
//! * [`FrameBuf`] is a read buffer with a cursor and a hard size limit; its
//!   [`frames`](FrameBuf::frames) iterator decodes and consumes frame after frame.
//! * Two framers implement both: [`LineFramer`] (lines ending with "\n", "\r\n", "\0" or
//!   any terminator, with a mandatory length limit) and [`LengthFramer`] (a length
//!   header, configured like tokio-util's `LengthDelimitedCodec`, plus varints).
//!
//! # The decode contract
//!
//! A [`Decoder`] is handed the unconsumed bytes at the front of the read buffer, `buf`,
//! and says what they hold. There are three outcomes, as with tokio-util, plus one for
//! bytes that belong to no frame:
//!
//! * **Not a whole frame yet**: `Ok(Decoded::NeedMore)`. Nothing is consumed. The caller
//!   reads more bytes, appends them, and calls `decode` again with the same bytes at the
//!   front. The decoder may remember how far it has looked (as [`LineFramer`] does, so a
//!   long line is scanned once), which is why the same bytes must come again.
//! * **A frame**: `Ok(Decoded::Frame { frame, consumed })`. `frame` borrows from `buf`:
//!   no copy, no allocation. When done with it, the caller drops the first `consumed`
//!   bytes (the frame and its header or terminator) and calls `decode` again: the
//!   buffer may hold more frames.
//! * **A corrupt stream**: `Err(e)`. Nothing is consumed. Most decoders cannot go on
//!   after an error ([`LengthFramer`] returns it again); a decoder that can says so
//!   ([`LineFramer`] skips the rest of an over-long line on the next calls).
//! * **Bytes to skip**: `Ok(Decoded::Skip(n))`: drop `n` bytes, call again. A decoder
//!   that is discarding input uses it so that the buffer does not fill with bytes
//!   nobody wants.
//!
//! tokio-util's decoders remove the frame from a `BytesMut` themselves; here the decoder
//! only reads `buf` and returns how much to remove, which is what lets the frame borrow
//! from the buffer. [`FrameBuf::frames`] does the removing: it hands out each frame and
//! moves the buffer's cursor past it.
//!
//! At the end of the stream, [`Decoder::decode_eof`] is called instead: it fails if
//! bytes are left that make no frame, unless the decoder accepts a last frame without
//! its end marker (a line without its terminator).
//!
//! # Writing a decoder
//!
//! A frame here is a 2-byte big-endian length, then that many bytes. The decoder checks
//! the length against a maximum as soon as the header is there, so that a hostile peer
//! cannot make the caller buffer 64 KiB for nothing.
//!
//! ```
//! use std::io;
//! use asyncore_runtime::codec::{Decoded, Decoder, FrameBuf};
//!
//! const MAX: usize = 1024;
//!
//! struct Short;
//!
//! impl Decoder for Short {
//!     type Error = io::Error;
//!
//!     fn decode<'a>(&mut self, buf: &'a [u8]) -> Result<Decoded<'a>, io::Error> {
//!         // Not even a header yet: need more.
//!         let Some(&[hi, lo]) = buf.get(..2) else {
//!             return Ok(Decoded::NeedMore);
//!         };
//!         let len = u16::from_be_bytes([hi, lo]) as usize;
//!         // Check the length before waiting for the frame.
//!         if len > MAX {
//!             return Err(io::Error::new(
//!                 io::ErrorKind::InvalidData,
//!                 format!("frame of {len} bytes is longer than {MAX} bytes"),
//!             ));
//!         }
//!         // The header is there but not the whole frame: need more (nothing consumed).
//!         if buf.len() < 2 + len {
//!             return Ok(Decoded::NeedMore);
//!         }
//!         // A frame: the payload, borrowed; header and payload are consumed.
//!         Ok(Decoded::Frame { frame: &buf[2..2 + len], consumed: 2 + len })
//!     }
//! }
//!
//! // Bytes arrive in arbitrary pieces; frames come out whole.
//! let mut decoder = Short;
//! let mut buf = FrameBuf::new(2 + MAX);
//! let mut frames = Vec::new();
//! for piece in [&b"\0\x05hel"[..], b"lo\0", b"\x01!\0\x02ok"] {
//!     buf.extend_from_slice(piece)?;
//!     for frame in buf.frames(&mut decoder) {
//!         frames.push(String::from_utf8(frame?.to_vec()).unwrap());
//!     }
//! }
//! assert_eq!(frames, ["hello", "!", "ok"]);
//!
//! // The same, by hand: decode, use the frame, drop what it consumed.
//! let mut input: &[u8] = b"\0\x02hi\0\x03bye";
//! while let Decoded::Frame { frame, consumed } = decoder.decode(input)? {
//!     println!("{}", String::from_utf8_lossy(frame));
//!     input = &input[consumed..];
//! }
//! assert!(input.is_empty());
//!
//! // At the end of the stream, a partial frame is an error.
//! assert!(decoder.decode_eof(b"\0\x09abc").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The matching [`Encoder`] writes the header, then the payload, and refuses what the
//! decoder would refuse:
//!
//! ```
//! use std::io;
//! use asyncore_runtime::codec::Encoder;
//!
//! struct Short;
//!
//! impl Encoder<&[u8]> for Short {
//!     type Error = io::Error;
//!
//!     fn encode(&mut self, item: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
//!         let len = u16::try_from(item.len())
//!             .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too long"))?;
//!         dst.extend_from_slice(&len.to_be_bytes());
//!         dst.extend_from_slice(item);
//!         Ok(())
//!     }
//! }
//!
//! let mut out = Vec::new();
//! Short.encode(&b"hi"[..], &mut out)?;
//! assert_eq!(out, b"\0\x02hi");
//! # Ok::<(), io::Error>(())
//! ```
//!
//! # In a channel
//!
//! A dispatcher keeps a framer and a [`FrameBuf`]; each readable event reads once into
//! the buffer and handles every whole frame in it.
//!
//! ```no_run
//! use asyncore_runtime::codec::{Encoder, FrameBuf, LineFramer};
//! use asyncore_runtime::{Channel, Dispatcher, Result};
//!
//! /// Answers each line with its length.
//! struct Counter {
//!     lines: LineFramer, // decodes the input
//!     input: FrameBuf,
//!     answers: LineFramer, // encodes the output
//!     output: Vec<u8>,
//! }
//!
//! impl Counter {
//!     fn new() -> Self {
//!         let config = *LineFramer::builder(4096).terminator(b"\r\n");
//!         let lines = config.new_framer();
//!         let input = FrameBuf::new(lines.buffer_limit());
//!         Counter { lines, input, answers: config.new_framer(), output: Vec::new() }
//!     }
//! }
//!
//! impl Dispatcher for Counter {
//!     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
//!         if self.input.read_with(|spare| ch.recv(spare))? == 0 {
//!             return Ok(()); // nothing yet, or the end of the stream
//!         }
//!         self.output.clear();
//!         for line in self.input.frames(&mut self.lines) {
//!             let answer = line?.len().to_string(); // an over-long line closes the channel
//!             self.answers.encode(answer, &mut self.output)?;
//!         }
//!         ch.send_buffered(&self.output)?;
//!         Ok(())
//!     }
//! }
//! ```
//!
//! # From tokio-util
//!
//! | tokio-util                                | here                                                 |
//! |-------------------------------------------|------------------------------------------------------|
//! | `Decoder::decode(&mut BytesMut) -> Option<Item>` | [`Decoder::decode`]`(&[u8]) -> `[`Decoded`]    |
//! | `Decoder::decode_eof`                     | [`Decoder::decode_eof`]                              |
//! | `Encoder<Item>::encode(item, &mut BytesMut)` | [`Encoder::encode`]`(item, &mut Vec<u8>)`         |
//! | `BytesMut` + `FramedRead`                 | [`FrameBuf`] + [`FrameBuf::frames`]                  |
//! | `LinesCodec::new_with_max_length(n)`      | [`LineFramer::builder`]`(n).new_framer()`            |
//! | `AnyDelimiterCodec`                       | [`LineBuilder::terminator`] (one terminator of 1-16 bytes) |
//! | `LengthDelimitedCodec::builder()...new_codec()` | [`LengthFramer::builder`]`()...`[`new_framer`](LengthBuilder::new_framer)`()` |

mod buf;
mod decoder;
mod encoder;
mod length;
mod lines;

pub use buf::{BufferFull, FrameBuf, READ_CHUNK};
pub use decoder::{Decoded, Decoder, Frames};
pub use encoder::Encoder;
pub use length::{
    LengthBuilder, LengthError, LengthField, LengthFramer, DEFAULT_MAX_FRAME_LENGTH, MAX_VARINT_LEN,
};
pub use lines::{LineBuilder, LineError, LineFramer, DEFAULT_MAX_LINE_LENGTH, MAX_TERMINATOR_LEN};
