//! The readiness backends: `select(2)`, `poll(2)` and `epoll(7)`.
//!
//! # The backend contract
//!
//! Each backend is one small file exporting one type with the same four operations; the
//! loop ([`Map`](crate::Map)) owns all bookkeeping (which channel wants what), so the
//! backends only translate:
//!
//! * `new() -> io::Result<Self>`
//! * `update(fd, token, old, new)`: the interest of `fd` changed from `old` to `new`
//!   (either may be empty). Only epoll keeps registrations in the kernel; select and
//!   poll ignore this and rebuild their sets from the per-pass list.
//! * `wait(list, out, timeout)`: wait at most `timeout` (`None` = for ever), then append
//!   `(token, readiness)` for every ready descriptor to `out`. `list` holds every
//!   descriptor with a non-empty interest, in map order; epoll ignores it.
//! * `forget(fd)`: the descriptor is being closed.
//!
//! Timeouts are converted once, here: rounded **up** to the backend's resolution (so a
//! 500 µs timeout never becomes a busy 0 ms poll) and saturated at the largest value the
//! system call takes. `EINTR` is returned to the loop, which retries with the time left.
//!
//! epoll registers edge-triggered; the loop keeps the level-triggered behaviour of select
//! and poll (a handler that reads only part of what is available is called again on the
//! next pass on every backend) by keeping what a handler did not use up and asking
//! [`level_now`] whether it still holds.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use crate::ready::Ready;
use crate::token::Token;

mod epoll;
mod poll;
mod select;

/// Which readiness system call the loop uses: the Rust form of asyncore's `use_poll`.
///
/// | asyncore              | here               |
/// |-----------------------|--------------------|
/// | `use_poll=False`      | [`Backend::Select`] |
/// | `use_poll=True`       | [`Backend::Poll`]   |
/// | (none)                | [`Backend::Epoll`], the default on Linux |
///
/// All three give the same dispatch semantics (see [`Map`](crate::Map)); they differ only
/// in cost and limits: select cannot watch a descriptor at or above `FD_SETSIZE` (1024)
/// and reports that as an error to the channel concerned; poll and select rebuild their
/// descriptor sets on every pass; epoll keeps them in the kernel and changes them only
/// when a channel's interest changes.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::Backend;
/// assert_eq!(Backend::default(), Backend::Epoll);
/// assert_eq!("poll".parse::<Backend>().unwrap(), Backend::Poll);
/// assert_eq!(Backend::Select.name(), "select");
/// assert_eq!(Backend::ALL.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// `select(2)`: asyncore's default (`use_poll=False`).
    Select,
    /// `poll(2)`: asyncore's `use_poll=True`.
    Poll,
    /// `epoll(7)`, level-triggered: the default.
    #[default]
    Epoll,
}

impl Backend {
    /// Every backend available on this system.
    pub const ALL: [Backend; 3] = [Backend::Select, Backend::Poll, Backend::Epoll];

    /// The backend's name, as the `--backend` flag of the examples takes it.
    ///
    /// ```
    /// assert_eq!(asyncore_runtime::Backend::Epoll.name(), "epoll");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Backend::Select => "select",
            Backend::Poll => "poll",
            Backend::Epoll => "epoll",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "select" => Ok(Backend::Select),
            "poll" => Ok(Backend::Poll),
            "epoll" => Ok(Backend::Epoll),
            other => Err(format!(
                "unknown backend `{other}`: expected one of select, poll, epoll"
            )),
        }
    }
}

/// One descriptor to watch during a pass (select and poll only).
/// Which of `list` are ready now, by `poll(2)` without waiting: what a level-triggered
/// wait would report. Appends `(token, readiness)` for each ready one to `out`.
pub(crate) fn level_now(list: &[Reg<'_>], out: &mut Vec<(Token, Ready)>) -> io::Result<()> {
    loop {
        // A signal (the loop's own SIGINT or SIGTERM) may interrupt even a wait of zero.
        match poll::Selector::new().wait(list, out, Some(Duration::ZERO)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => out.clear(),
            r => return r,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Reg<'a> {
    pub fd: BorrowedFd<'a>,
    pub token: Token,
    pub want: Ready,
}

#[derive(Debug)]
pub(crate) enum Selector {
    Select(select::Selector),
    Poll(poll::Selector),
    Epoll(epoll::Selector),
}

impl Selector {
    pub fn new(backend: Backend) -> io::Result<Selector> {
        Ok(match backend {
            Backend::Select => Selector::Select(select::Selector::new()),
            Backend::Poll => Selector::Poll(poll::Selector::new()),
            Backend::Epoll => Selector::Epoll(epoll::Selector::new()?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Selector::Select(_) => Backend::Select,
            Selector::Poll(_) => Backend::Poll,
            Selector::Epoll(_) => Backend::Epoll,
        }
    }

    /// Whether `wait` needs the per-pass list.
    pub fn needs_list(&self) -> bool {
        !matches!(self, Selector::Epoll(_))
    }

    /// Whether this backend can watch `fd` at all.
    pub fn check_fd(&self, fd: RawFd) -> io::Result<()> {
        match self {
            Selector::Select(_) => select::check_fd(fd),
            _ => Ok(()),
        }
    }

    /// Interest changed. `Ok(false)` means the kernel refused to watch this descriptor
    /// because it is always ready (a regular file under epoll).
    pub fn update(
        &mut self,
        fd: BorrowedFd<'_>,
        token: Token,
        old: Ready,
        new: Ready,
    ) -> io::Result<bool> {
        match self {
            Selector::Epoll(s) => s.update(fd, token, old, new),
            _ => Ok(true),
        }
    }

    pub fn forget(&mut self, fd: BorrowedFd<'_>, registered: Ready) {
        if let Selector::Epoll(s) = self {
            s.forget(fd, registered);
        }
    }

    pub fn wait(
        &mut self,
        list: &[Reg<'_>],
        out: &mut Vec<(Token, Ready)>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        match self {
            Selector::Select(s) => s.wait(list, out, timeout),
            Selector::Poll(s) => s.wait(list, out, timeout),
            Selector::Epoll(s) => s.wait(out, timeout),
        }
    }
}

/// A timeout rounded up to whole milliseconds and saturated at `i32::MAX` ms; `None`
/// stays `None` (wait for ever).
pub(crate) fn timeout_millis(timeout: Option<Duration>) -> Option<i32> {
    timeout.map(|d| {
        let ms = d.as_nanos().div_ceil(1_000_000);
        ms.min(i32::MAX as u128) as i32
    })
}

pub(crate) fn timespec_millis(ms: i32) -> rustix::event::Timespec {
    rustix::event::Timespec {
        tv_sec: i64::from(ms / 1000),
        tv_nsec: i64::from(ms % 1000) * 1_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_and_saturate() {
        assert_eq!(timeout_millis(None), None);
        assert_eq!(timeout_millis(Some(Duration::ZERO)), Some(0));
        assert_eq!(timeout_millis(Some(Duration::from_micros(1))), Some(1));
        assert_eq!(timeout_millis(Some(Duration::from_micros(900))), Some(1));
        assert_eq!(
            timeout_millis(Some(Duration::from_millis(30_000))),
            Some(30_000)
        );
        assert_eq!(
            timeout_millis(Some(Duration::from_nanos(1_000_001))),
            Some(2)
        );
        assert_eq!(timeout_millis(Some(Duration::MAX)), Some(i32::MAX));
    }

    #[test]
    fn backend_names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        let err = "kqueue".parse::<Backend>().unwrap_err();
        assert!(err.contains("select, poll, epoll"), "{err}");
    }
}
