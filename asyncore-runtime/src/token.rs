//! [`Token`]: the identity of a channel in a [`Map`](crate::Map).

use std::fmt;

/// The identity of a channel in its [`Map`](crate::Map).
///
/// asyncore keys its map by file descriptor, so a descriptor closed and reused inside one
/// pass receives the old channel's events. A `Token` is a slot index plus a generation
/// counter: once a channel is closed its token never names another channel.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::{Dispatcher, Map};
///
/// struct Idle;
/// impl Dispatcher for Idle {}
///
/// let mut map = Map::new();
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let t1 = map.add(a.into(), Idle)?;
/// let t2 = map.add(b.into(), Idle)?;
/// assert_ne!(t1, t2);
/// map.close(t1);
/// assert!(!map.contains(t1));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Token {
    pub(crate) fn new(index: u32, generation: u32) -> Self {
        Token { index, generation }
    }

    pub(crate) fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    pub(crate) fn from_u64(v: u64) -> Self {
        Token {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }

    /// The slot index inside the map (stable while the channel lives).
    ///
    /// ```
    /// # use asyncore_runtime::{Dispatcher, Map};
    /// # struct Idle; impl Dispatcher for Idle {}
    /// let mut map = Map::new();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let t = map.add(a.into(), Idle)?;
    /// assert_eq!(t.index(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}.{})", self.index, self.generation)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.index, self.generation)
    }
}
