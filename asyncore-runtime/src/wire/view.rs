//! Borrowed views of decoded fields: [`Seq`] for repetitions, [`Lines`] for line runs, and
//! the slot readers generated accessors call ([`bytes_at`], [`int_at`], [`seq_at`],
//! [`present`], [`lines_at`]).
//!
//! None of these functions panics, whatever the slot: a slot of the wrong kind, or one
//! pointing past the end of the buffer, reads as empty (or 0).

use std::fmt;
use std::iter::FusedIterator;

use super::Slot;

// ===== slot readers =====

/// The bytes a [`Slot::Range`] covers in `buf` (the message's bytes); empty for any other
/// slot, or for a range that does not lie within `buf`.
///
/// ```
/// use asyncore_runtime::wire::{bytes_at, Slot};
///
/// let buf = b"get key\r\n";
/// assert_eq!(bytes_at(buf, Slot::Range(4, 7)), b"key");
/// assert_eq!(bytes_at(buf, Slot::Int(3)), b"");
/// assert_eq!(bytes_at(buf, Slot::Range(4, 70)), b"");
/// ```
#[inline]
pub fn bytes_at(buf: &[u8], slot: Slot) -> &[u8] {
    if let Slot::Range(start, end) = slot {
        if let Some(bytes) = buf.get(start as usize..end as usize) {
            return bytes;
        }
    }
    cold();
    &[]
}

/// Marks the path that calls it as unlikely (as `std::hint::cold_path` does, on older
/// compilers too), so that reading a decoded field compiles to straight-line code.
#[cold]
fn cold() {}

/// The integer of a [`Slot::Int`]; 0 for any other slot. Signed fields are stored in two's
/// complement: read them with `int_at(slot) as i64`.
///
/// ```
/// use asyncore_runtime::wire::{int_at, Slot};
///
/// assert_eq!(int_at(Slot::Int(42)), 42);
/// assert_eq!(int_at(Slot::Int(-5i64 as u64)) as i64, -5);
/// assert_eq!(int_at(Slot::Empty), 0);
/// ```
#[inline]
pub fn int_at(slot: Slot) -> u64 {
    match slot {
        Slot::Int(v) => v,
        _ => 0,
    }
}

/// Whether an optional part was there: `false` for [`Slot::Empty`] and for `Int(0)`,
/// `true` otherwise.
///
/// Meant for the flag slot of an [`Op::Opt`](super::Op::Opt) or an [`Op::If`](super::Op::If)
/// (`Int(1)` or `Int(0)`) and for the slots of the fields inside it (left `Empty` when the
/// part was absent). An integer field's own slot may hold 0 legitimately: ask the flag
/// instead.
///
/// ```
/// use asyncore_runtime::wire::{present, Slot};
///
/// assert!(present(Slot::Int(1)));
/// assert!(!present(Slot::Int(0)));
/// assert!(present(Slot::Range(3, 10)));
/// assert!(!present(Slot::Empty));
/// ```
#[inline]
pub fn present(slot: Slot) -> bool {
    !matches!(slot, Slot::Empty | Slot::Int(0))
}

/// The [`Seq`] a [`Slot::Seq`] stands for: its items are `T::STRIDE` slots each, taken
/// from `items` (the decoder's item list). Empty for any other slot, or for a sequence
/// that does not lie within `items`.
///
/// ```
/// use asyncore_runtime::wire::{seq_at, Seq, Slot};
///
/// let buf = b"get a bb\r\n";
/// let items = [Slot::Range(4, 5), Slot::Range(6, 8)];
/// let keys: Seq<'_, &[u8]> = seq_at(buf, &items, Slot::Seq { start: 0, len: 2 });
/// assert_eq!(keys, [&b"a"[..], b"bb"]);
/// let none: Seq<'_, &[u8]> = seq_at(buf, &items, Slot::Seq { start: 1, len: 5 });
/// assert!(none.is_empty());
/// ```
#[inline]
pub fn seq_at<'a, T: Item<'a>>(buf: &'a [u8], items: &'a [Slot], slot: Slot) -> Seq<'a, T> {
    let range = match slot {
        Slot::Seq { start, len } => (len as usize)
            .checked_mul(T::STRIDE)
            .and_then(|n| (start as usize).checked_add(n))
            .and_then(|end| items.get(start as usize..end)),
        _ => None,
    };
    let items = match range {
        Some(items) => items,
        None => {
            cold();
            &[]
        }
    };
    Seq::Decoded { buf, items }
}

/// The [`Lines`] a [`Slot::Range`] recorded by [`Op::LinesUntil`](super::Op::LinesUntil)
/// stands for, with the protocol's terminator and the description's unstuffing prefix.
///
/// ```
/// use asyncore_runtime::wire::{lines_at, Slot};
///
/// let buf = b"Hi\r\n..dot\r\n.\r\n";
/// let body = lines_at(buf, Slot::Range(0, 11), b"\r\n", Some(b"."));
/// assert_eq!(body.iter().collect::<Vec<_>>(), [&b"Hi"[..], b".dot"]);
/// ```
pub fn lines_at<'a>(
    buf: &'a [u8],
    slot: Slot,
    term: &'static [u8],
    unstuff: Option<&'static [u8]>,
) -> Lines<'a> {
    Lines::Decoded {
        raw: bytes_at(buf, slot),
        term,
        unstuff,
    }
}

// ===== Item =====

/// A type one item of a repetition decodes to: `STRIDE` consecutive slots of the
/// decoder's item list.
///
/// Implemented for `&[u8]` (one [`Slot::Range`]) and `u64` (one [`Slot::Int`]); generated
/// code implements it for the item structs of a description, such as an HTTP header
/// `{ name, value }` of stride 2.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::wire::{bytes_at, seq_at};
/// use asyncore_runtime::wire::{Item, Seq, Slot};
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// struct Header<'a> {
///     name: &'a [u8],
///     value: &'a [u8],
/// }
///
/// impl<'a> Item<'a> for Header<'a> {
///     const STRIDE: usize = 2;
///     fn from_slots(buf: &'a [u8], slots: &'a [Slot]) -> Self {
///         let slot = |i: usize| slots.get(i).copied().unwrap_or_default();
///         Header { name: bytes_at(buf, slot(0)), value: bytes_at(buf, slot(1)) }
///     }
/// }
///
/// let buf = b"Host: a\r\nAccept: b\r\n";
/// let items = [Slot::Range(0, 4), Slot::Range(6, 7), Slot::Range(9, 15), Slot::Range(17, 18)];
/// let headers: Seq<'_, Header<'_>> = seq_at(buf, &items, Slot::Seq { start: 0, len: 2 });
/// assert_eq!(headers.len(), 2);
/// assert_eq!(headers.get(1), Some(Header { name: b"Accept", value: b"b" }));
/// ```
pub trait Item<'a>: Copy {
    /// Slots per item.
    const STRIDE: usize;

    /// The item whose slots are `slots` (`STRIDE` of them), in the message `buf`. Must not
    /// panic whatever the slots hold.
    fn from_slots(buf: &'a [u8], slots: &'a [Slot]) -> Self;
}

impl<'a> Item<'a> for &'a [u8] {
    const STRIDE: usize = 1;

    /// The bytes of the first slot (see [`bytes_at`]).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Item, Slot};
    ///
    /// assert_eq!(<&[u8]>::from_slots(b"abc", &[Slot::Range(1, 3)]), b"bc");
    /// assert_eq!(<&[u8]>::from_slots(b"abc", &[]), b"");
    /// ```
    #[inline]
    fn from_slots(buf: &'a [u8], slots: &'a [Slot]) -> Self {
        slots.first().map_or(&[], |&slot| bytes_at(buf, slot))
    }
}

impl<'a> Item<'a> for u64 {
    const STRIDE: usize = 1;

    /// The integer of the first slot (see [`int_at`]).
    ///
    /// ```
    /// use asyncore_runtime::wire::{Item, Slot};
    ///
    /// assert_eq!(u64::from_slots(b"", &[Slot::Int(7)]), 7);
    /// ```
    #[inline]
    fn from_slots(_buf: &'a [u8], slots: &'a [Slot]) -> Self {
        slots.first().map_or(0, |&slot| int_at(slot))
    }
}

// ===== Seq =====

/// The items of a repetition: decoded (borrowing the message and the decoder's item
/// list), or a slice the caller built to encode a message.
///
/// Both forms read the same way: [`len`](Self::len), [`get`](Self::get),
/// [`iter`](Self::iter), `for item in &seq`, and `==` against slices and arrays.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::wire::{Seq, Slot};
///
/// // Built to encode a message:
/// let words = [b"GET".as_slice(), b"key"];
/// let args = Seq::from(&words[..]);
/// assert_eq!(args.len(), 2);
///
/// // As a decoder hands it out:
/// let buf = b"GET key";
/// let items = [Slot::Range(0, 3), Slot::Range(4, 7)];
/// let decoded: Seq<'_, &[u8]> = Seq::Decoded { buf, items: &items };
/// assert_eq!(decoded, args);
/// assert_eq!(decoded.iter().map(<[u8]>::len).sum::<usize>(), 6);
/// ```
pub enum Seq<'a, T> {
    /// Items of a decoded message.
    Decoded {
        /// The message's bytes.
        buf: &'a [u8],
        /// The item slots, `T::STRIDE` per item.
        items: &'a [Slot],
    },
    /// Items given as a slice.
    Slice(&'a [T]),
}

impl<'a, T: Item<'a>> Seq<'a, T> {
    /// The number of items.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[1u64, 2, 3][..]).len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        match *self {
            Seq::Decoded { items, .. } => items.len().checked_div(T::STRIDE).unwrap_or(0),
            Seq::Slice(slice) => slice.len(),
        }
    }

    /// Whether there are no items.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert!(Seq::<u64>::default().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i`, if there is one.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// let seq = Seq::from(&[10u64, 20][..]);
    /// assert_eq!((seq.get(1), seq.get(2)), (Some(20), None));
    /// ```
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        match *self {
            Seq::Decoded { buf, items } => {
                let start = i.checked_mul(T::STRIDE)?;
                let end = start.checked_add(T::STRIDE)?;
                if T::STRIDE == 0 {
                    return None;
                }
                items.get(start..end).map(|slots| T::from_slots(buf, slots))
            }
            Seq::Slice(slice) => slice.get(i).copied(),
        }
    }

    /// The first item, if any.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[b"a".as_slice()][..]).first(), Some(&b"a"[..]));
    /// ```
    pub fn first(&self) -> Option<T> {
        self.get(0)
    }

    /// An iterator over the items, by value.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// let seq = Seq::from(&[1u64, 2, 3][..]);
    /// assert_eq!(seq.iter().rev().collect::<Vec<_>>(), [3, 2, 1]);
    /// assert_eq!(seq.iter().len(), 3);
    /// ```
    #[inline]
    pub fn iter(&self) -> SeqIter<'a, T> {
        let inner = match *self {
            Seq::Decoded { buf, items } => {
                // Whole items only; none at all for a stride of 0.
                let whole = self.len() * T::STRIDE;
                SeqIterInner::Decoded {
                    buf,
                    items: items.get(..whole).unwrap_or(&[]),
                }
            }
            Seq::Slice(slice) => SeqIterInner::Slice(slice.iter()),
        };
        SeqIter { inner }
    }

    /// The items, copied into a `Vec`.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[1u64, 2][..]).to_vec(), [1, 2]);
    /// ```
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }
}

impl<T> Clone for Seq<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Seq<'_, T> {}

impl<T> Default for Seq<'_, T> {
    /// An empty slice.
    ///
    /// ```
    /// assert!(asyncore_runtime::wire::Seq::<u64>::default().is_empty());
    /// ```
    fn default() -> Self {
        Seq::Slice(&[])
    }
}

impl<'a, T> From<&'a [T]> for Seq<'a, T> {
    /// Wraps a slice, to encode a message.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[b"a".as_slice(), b"b"][..]).len(), 2);
    /// ```
    fn from(slice: &'a [T]) -> Self {
        Seq::Slice(slice)
    }
}

impl<'a, T, const N: usize> From<&'a [T; N]> for Seq<'a, T> {
    /// Wraps an array, to encode a message.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[1u64, 2]).len(), 2);
    /// ```
    fn from(array: &'a [T; N]) -> Self {
        Seq::Slice(array)
    }
}

impl<'a, T: Item<'a> + fmt::Debug> fmt::Debug for Seq<'a, T> {
    /// Lists the items.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(format!("{:?}", Seq::from(&[1u64, 2][..])), "[1, 2]");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, 'b, T: Item<'a> + PartialEq<U>, U: Item<'b>> PartialEq<Seq<'b, U>> for Seq<'a, T> {
    /// Item by item, whatever the forms.
    ///
    /// ```
    /// use asyncore_runtime::wire::{Seq, Slot};
    ///
    /// let items = [Slot::Int(1), Slot::Int(2)];
    /// let decoded: Seq<'_, u64> = Seq::Decoded { buf: b"", items: &items };
    /// assert_eq!(decoded, Seq::from(&[1u64, 2][..]));
    /// ```
    fn eq(&self, other: &Seq<'b, U>) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl<'a, T: Item<'a> + Eq> Eq for Seq<'a, T> {}

impl<'a, T: Item<'a> + PartialEq<U>, U> PartialEq<[U]> for Seq<'a, T> {
    /// Item by item against a slice.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert!(Seq::from(&[1u64][..]) == [1u64][..]);
    /// ```
    fn eq(&self, other: &[U]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == *b)
    }
}

impl<'a, T: Item<'a> + PartialEq<U>, U> PartialEq<&[U]> for Seq<'a, T> {
    /// Item by item against a slice.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[1u64][..]), &[1u64][..]);
    /// ```
    fn eq(&self, other: &&[U]) -> bool {
        *self == **other
    }
}

impl<'a, T: Item<'a> + PartialEq<U>, U, const N: usize> PartialEq<[U; N]> for Seq<'a, T> {
    /// Item by item against an array.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[b"a".as_slice()][..]), [b"a".as_slice()]);
    /// ```
    fn eq(&self, other: &[U; N]) -> bool {
        *self == other[..]
    }
}

impl<'a, T: Item<'a> + PartialEq<U>, U> PartialEq<Vec<U>> for Seq<'a, T> {
    /// Item by item against a `Vec`.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// assert_eq!(Seq::from(&[3u64][..]), vec![3u64]);
    /// ```
    fn eq(&self, other: &Vec<U>) -> bool {
        *self == other[..]
    }
}

impl<'a, T: Item<'a>> IntoIterator for Seq<'a, T> {
    type Item = T;
    type IntoIter = SeqIter<'a, T>;

    /// Iterates the items by value.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// let total: u64 = Seq::from(&[1u64, 2][..]).into_iter().sum();
    /// assert_eq!(total, 3);
    /// ```
    fn into_iter(self) -> SeqIter<'a, T> {
        self.iter()
    }
}

impl<'a, T: Item<'a>> IntoIterator for &Seq<'a, T> {
    type Item = T;
    type IntoIter = SeqIter<'a, T>;

    /// Iterates the items by value.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// let seq = Seq::from(&[1u64, 2][..]);
    /// let mut total = 0;
    /// for n in &seq {
    ///     total += n;
    /// }
    /// assert_eq!(total, 3);
    /// ```
    fn into_iter(self) -> SeqIter<'a, T> {
        self.iter()
    }
}

/// An iterator over the items of a [`Seq`], made by [`Seq::iter`].
///
/// ```
/// use asyncore_runtime::wire::Seq;
///
/// let mut it = Seq::from(&[1u64, 2][..]).iter();
/// assert_eq!((it.next(), it.len()), (Some(1), 1));
/// ```
pub struct SeqIter<'a, T> {
    inner: SeqIterInner<'a, T>,
}

/// What a [`SeqIter`] walks: the slots left (a whole number of items), or the slice.
enum SeqIterInner<'a, T> {
    Decoded { buf: &'a [u8], items: &'a [Slot] },
    Slice(std::slice::Iter<'a, T>),
}

impl<T> Clone for SeqIter<'_, T> {
    fn clone(&self) -> Self {
        let inner = match &self.inner {
            SeqIterInner::Decoded { buf, items } => SeqIterInner::Decoded { buf, items },
            SeqIterInner::Slice(it) => SeqIterInner::Slice(it.clone()),
        };
        SeqIter { inner }
    }
}

impl<'a, T: Item<'a> + fmt::Debug> fmt::Debug for SeqIter<'a, T> {
    /// Lists the items left.
    ///
    /// ```
    /// use asyncore_runtime::wire::Seq;
    ///
    /// let mut it = Seq::from(&[1u64, 2][..]).iter();
    /// it.next();
    /// assert_eq!(format!("{it:?}"), "SeqIter([2])");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SeqIter")
            .field(&DebugList(self.clone()))
            .finish()
    }
}

/// Prints an iterator's items as a list.
struct DebugList<I>(I);

impl<I: Iterator + Clone> fmt::Debug for DebugList<I>
where
    I::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

impl<'a, T: Item<'a>> Iterator for SeqIter<'a, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match &mut self.inner {
            SeqIterInner::Decoded { buf, items } => {
                let (head, rest) = items.split_at_checked(T::STRIDE)?;
                if head.is_empty() {
                    return None;
                }
                *items = rest;
                Some(T::from_slots(buf, head))
            }
            SeqIterInner::Slice(it) => it.next().copied(),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.inner {
            SeqIterInner::Decoded { items, .. } => items.len().checked_div(T::STRIDE).unwrap_or(0),
            SeqIterInner::Slice(it) => it.len(),
        };
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<T> {
        match &mut self.inner {
            SeqIterInner::Decoded { items, .. } => {
                let skip = n.saturating_mul(T::STRIDE).min(items.len());
                *items = &items[skip..];
                self.next()
            }
            SeqIterInner::Slice(it) => it.nth(n).copied(),
        }
    }
}

impl<'a, T: Item<'a>> DoubleEndedIterator for SeqIter<'a, T> {
    #[inline]
    fn next_back(&mut self) -> Option<T> {
        match &mut self.inner {
            SeqIterInner::Decoded { buf, items } => {
                let at = items.len().checked_sub(T::STRIDE)?;
                let (rest, tail) = items.split_at_checked(at)?;
                if tail.is_empty() {
                    return None;
                }
                *items = rest;
                Some(T::from_slots(buf, tail))
            }
            SeqIterInner::Slice(it) => it.next_back().copied(),
        }
    }
}

impl<'a, T: Item<'a>> ExactSizeIterator for SeqIter<'a, T> {}

impl<'a, T: Item<'a>> FusedIterator for SeqIter<'a, T> {}

// ===== Lines =====

/// A run of lines: decoded by [`Op::LinesUntil`](super::Op::LinesUntil) (borrowing the
/// message), or text the caller gives to encode a message.
///
/// * `Decoded`: `raw` is the run as received, each line followed by its terminator;
///   [`iter`](Self::iter) yields the lines without terminators and with the `unstuff`
///   prefix removed (SMTP's dot-unstuffing), and [`write_to`](Self::write_to) writes them
///   back, each followed by `term`: for SMTP, the message byte-exact as the client meant
///   it. With the terminator `"\r\n"` a line also ends at a bare `"\n"` (the decoder only
///   lets one through when the framing accepts bare LF), and is written back with
///   `"\r\n"`.
/// * `Text`: content as is; [`write_to`](Self::write_to) copies it unchanged and
///   [`iter`](Self::iter) splits it at each `"\n"` (dropping one `"\r"` before it), a last
///   line without a terminator included.
///
/// Two `Lines` are equal when they yield the same lines.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::wire::Lines;
///
/// let body = Lines::Decoded { raw: b"Hello\r\n..signed\r\n", term: b"\r\n", unstuff: Some(b".") };
/// assert_eq!(body.iter().collect::<Vec<_>>(), [&b"Hello"[..], b".signed"]);
/// assert_eq!(body.to_vec(), b"Hello\r\n.signed\r\n");
/// assert_eq!(body, Lines::Text(b"Hello\r\n.signed\r\n"));
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Lines<'a> {
    /// Lines of a decoded message.
    Decoded {
        /// The lines, each followed by its terminator.
        raw: &'a [u8],
        /// The protocol's line terminator.
        term: &'static [u8],
        /// The prefix removed from lines that start with it (SMTP's `b"."`).
        unstuff: Option<&'static [u8]>,
    },
    /// Content given to encode a message, lines and terminators included.
    Text(&'a [u8]),
}

impl<'a> Lines<'a> {
    /// An iterator over the lines (see [`Lines`] for how each form is split).
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// let text = Lines::Text(b"a\r\nb\nc");
    /// assert_eq!(text.iter().collect::<Vec<_>>(), [&b"a"[..], b"b", b"c"]);
    /// ```
    #[inline]
    pub fn iter(&self) -> LinesIter<'a> {
        match *self {
            Lines::Decoded { raw, term, unstuff } => LinesIter {
                rest: raw,
                term,
                unstuff,
            },
            Lines::Text(text) => LinesIter {
                rest: text,
                term: b"\r\n",
                unstuff: None,
            },
        }
    }

    /// Whether there are no lines.
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// assert!(Lines::Text(b"").is_empty());
    /// assert!(!Lines::Text(b"\r\n").is_empty()); // one empty line
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        match *self {
            Lines::Decoded { raw, .. } => raw.is_empty(),
            Lines::Text(text) => text.is_empty(),
        }
    }

    /// Appends the content to `out`: each decoded line (unstuffed) followed by the
    /// terminator, or the text as is.
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// let mut out = b"> ".to_vec();
    /// Lines::Decoded { raw: b"..\r\n", term: b"\r\n", unstuff: Some(b".") }.write_to(&mut out);
    /// assert_eq!(out, b"> .\r\n");
    /// ```
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match *self {
            Lines::Decoded { raw, term, .. } => {
                out.reserve(raw.len());
                for line in self.iter() {
                    out.extend_from_slice(line);
                    out.extend_from_slice(term);
                }
            }
            Lines::Text(text) => out.extend_from_slice(text),
        }
    }

    /// The content in a new `Vec` (see [`write_to`](Self::write_to)).
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// assert_eq!(Lines::Text(b"a\r\n").to_vec(), b"a\r\n");
    /// ```
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

impl<'a> From<&'a [u8]> for Lines<'a> {
    /// [`Lines::Text`].
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// assert_eq!(Lines::from(&b"x\r\n"[..]).iter().count(), 1);
    /// ```
    fn from(text: &'a [u8]) -> Self {
        Lines::Text(text)
    }
}

impl<'a> From<&'a str> for Lines<'a> {
    /// [`Lines::Text`].
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// assert_eq!(Lines::from("a\r\nb\r\n").iter().count(), 2);
    /// ```
    fn from(text: &'a str) -> Self {
        Lines::Text(text.as_bytes())
    }
}

impl PartialEq for Lines<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Lines<'_> {}

impl<'a> IntoIterator for &Lines<'a> {
    type Item = &'a [u8];
    type IntoIter = LinesIter<'a>;

    /// Iterates the lines.
    ///
    /// ```
    /// use asyncore_runtime::wire::Lines;
    ///
    /// let mut n = 0;
    /// for line in &Lines::Text(b"a\r\nb\r\n") {
    ///     n += line.len();
    /// }
    /// assert_eq!(n, 2);
    /// ```
    fn into_iter(self) -> LinesIter<'a> {
        self.iter()
    }
}

/// An iterator over the lines of a [`Lines`], made by [`Lines::iter`].
///
/// ```
/// use asyncore_runtime::wire::Lines;
///
/// let mut it = Lines::Text(b"one\r\ntwo").iter();
/// assert_eq!(it.next(), Some(&b"one"[..]));
/// assert_eq!(it.next(), Some(&b"two"[..]));
/// assert_eq!(it.next(), None);
/// ```
#[derive(Debug, Clone)]
pub struct LinesIter<'a> {
    rest: &'a [u8],
    term: &'static [u8],
    unstuff: Option<&'static [u8]>,
}

impl<'a> Iterator for LinesIter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = if self.term == b"\r\n" {
            match memchr::memchr(b'\n', self.rest) {
                Some(i) => {
                    let line = &self.rest[..i];
                    (
                        line.strip_suffix(b"\r").unwrap_or(line),
                        &self.rest[i + 1..],
                    )
                }
                None => (self.rest, &self.rest[self.rest.len()..]),
            }
        } else {
            match find(self.rest, self.term) {
                Some(i) => (&self.rest[..i], &self.rest[i + self.term.len()..]),
                None => (self.rest, &self.rest[self.rest.len()..]),
            }
        };
        self.rest = rest;
        Some(match self.unstuff {
            Some(prefix) if !prefix.is_empty() => line.strip_prefix(prefix).unwrap_or(line),
            _ => line,
        })
    }
}

impl FusedIterator for LinesIter<'_> {}

/// The first index of `needle` in `hay` (`None` for an empty needle).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    memchr::memmem::find(hay, needle)
}
