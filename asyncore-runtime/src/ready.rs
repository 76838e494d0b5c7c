//! [`Ready`]: a readiness set reported by a backend, and the interest a channel declares.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// A set of readiness (or interest) bits.
///
/// Backends translate their own flags into this set: `POLLIN`/`EPOLLIN`/the read set give
/// [`Ready::READ`], `POLLOUT`/the write set give [`Ready::WRITE`], `POLLPRI`/the exceptional
/// set give [`Ready::PRIORITY`], `POLLHUP` gives [`Ready::HUP`] and `POLLERR`/`POLLNVAL`
/// give [`Ready::ERROR`].
///
/// # Examples
///
/// ```
/// use asyncore_runtime::Ready;
/// let r = Ready::READ | Ready::WRITE;
/// assert!(r.is_readable() && r.is_writable() && !r.is_hup());
/// assert_eq!(format!("{r:?}"), "READ | WRITE");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[must_use]
pub struct Ready(u8);

impl Ready {
    /// Nothing.
    pub const EMPTY: Ready = Ready(0);
    /// Data can be read (or a connection accepted, or a connect finished with an error).
    pub const READ: Ready = Ready(1);
    /// Data can be written (or a connect finished).
    pub const WRITE: Ready = Ready(2);
    /// Urgent (out-of-band) data: asyncore's "exceptional" condition.
    pub const PRIORITY: Ready = Ready(4);
    /// The peer hung up.
    pub const HUP: Ready = Ready(8);
    /// An error condition on the descriptor.
    pub const ERROR: Ready = Ready(16);

    /// Whether every bit of `other` is set in `self`.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!((Ready::READ | Ready::HUP).contains(Ready::HUP));
    /// ```
    pub const fn contains(self, other: Ready) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set in `self`.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!((Ready::READ | Ready::HUP).intersects(Ready::HUP | Ready::ERROR));
    /// ```
    pub const fn intersects(self, other: Ready) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no bit is set.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!(Ready::EMPTY.is_empty());
    /// ```
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether [`Ready::READ`] is set.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!(Ready::READ.is_readable());
    /// ```
    pub const fn is_readable(self) -> bool {
        self.contains(Ready::READ)
    }

    /// Whether [`Ready::WRITE`] is set.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!(Ready::WRITE.is_writable());
    /// ```
    pub const fn is_writable(self) -> bool {
        self.contains(Ready::WRITE)
    }

    /// Whether [`Ready::PRIORITY`] is set.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!(Ready::PRIORITY.is_priority());
    /// ```
    pub const fn is_priority(self) -> bool {
        self.contains(Ready::PRIORITY)
    }

    /// Whether [`Ready::HUP`] is set.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!(Ready::HUP.is_hup());
    /// ```
    pub const fn is_hup(self) -> bool {
        self.contains(Ready::HUP)
    }

    /// Whether [`Ready::ERROR`] is set.
    ///
    /// ```
    /// # use asyncore_runtime::Ready;
    /// assert!(Ready::ERROR.is_error());
    /// ```
    pub const fn is_error(self) -> bool {
        self.contains(Ready::ERROR)
    }

    pub(crate) const fn and(self, other: Ready) -> Ready {
        Ready(self.0 & other.0)
    }

    pub(crate) const fn remove(self, other: Ready) -> Ready {
        Ready(self.0 & !other.0)
    }
}

impl BitOr for Ready {
    type Output = Ready;
    fn bitor(self, rhs: Ready) -> Ready {
        Ready(self.0 | rhs.0)
    }
}

impl BitOrAssign for Ready {
    fn bitor_assign(&mut self, rhs: Ready) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("EMPTY");
        }
        let names = [
            (Ready::READ, "READ"),
            (Ready::WRITE, "WRITE"),
            (Ready::PRIORITY, "PRIORITY"),
            (Ready::HUP, "HUP"),
            (Ready::ERROR, "ERROR"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.contains(bit) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}
