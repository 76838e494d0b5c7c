//! The [`Encoder`] trait.

use std::io;

/// Appends one frame (header or terminator included) to an output buffer.
///
/// The item type is a parameter, so one framer can encode several kinds of input: the
/// built-in framers take anything that is `AsRef<[u8]>` (`&str`, `String`, `&[u8]`,
/// `Vec<u8>`...). On error nothing is appended to `dst`.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::codec::{Encoder, LineFramer};
///
/// let mut lines = LineFramer::new();
/// let mut out = Vec::new();
/// lines.encode("hello", &mut out).unwrap();
/// lines.encode(b"world".to_vec(), &mut out).unwrap();
/// assert_eq!(out, b"hello\nworld\n");
/// assert!(lines.encode("two\nlines", &mut out).is_err());
/// ```
pub trait Encoder<Item> {
    /// The error for an item that cannot be framed (too long, contains the terminator...).
    type Error: From<io::Error>;

    /// Appends `item`, framed, to `dst`. On error `dst` is left as it was.
    ///
    /// ```
    /// use asyncore_runtime::codec::{Encoder, LengthFramer};
    ///
    /// let mut out = Vec::new();
    /// LengthFramer::new().encode("hi", &mut out).unwrap();
    /// assert_eq!(out, b"\0\0\0\x02hi");
    /// ```
    fn encode(&mut self, item: Item, dst: &mut Vec<u8>) -> Result<(), Self::Error>;
}

impl<Item, E: Encoder<Item> + ?Sized> Encoder<Item> for &mut E {
    type Error = E::Error;

    fn encode(&mut self, item: Item, dst: &mut Vec<u8>) -> Result<(), Self::Error> {
        (**self).encode(item, dst)
    }
}
