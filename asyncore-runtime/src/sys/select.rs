//! The select backend: three descriptor sets rebuilt every pass, as asyncore's `poll` does.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use rustix::event::{fd_set_insert, fd_set_num_elements, FdSetElement, FdSetIter, Timespec};

use super::Reg;
use crate::ready::Ready;
use crate::token::Token;

/// The largest descriptor number plus one that `select(2)` may watch portably.
pub(crate) const FD_SETSIZE: RawFd = 1024;

pub(crate) fn check_fd(fd: RawFd) -> io::Result<()> {
    if (0..FD_SETSIZE).contains(&fd) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "file descriptor {fd} is out of range for select() (FD_SETSIZE is {FD_SETSIZE}); \
                 use the poll or epoll backend for this many descriptors"
            ),
        ))
    }
}

#[derive(Default)]
pub(crate) struct Selector {
    rd: Vec<FdSetElement>,
    wr: Vec<FdSetElement>,
    ex: Vec<FdSetElement>,
}

impl std::fmt::Debug for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectSelector").finish_non_exhaustive()
    }
}

impl Selector {
    pub fn new() -> Selector {
        Selector::default()
    }

    pub fn wait(
        &mut self,
        list: &[Reg<'_>],
        out: &mut Vec<(Token, Ready)>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        // The loop never hands over a descriptor that check_fd rejected.
        let max = list.iter().map(|r| r.fd.as_raw_fd()).max().unwrap_or(-1);
        let nfds = max + 1;
        let n = fd_set_num_elements(list.len().max(1), nfds.max(1));
        for set in [&mut self.rd, &mut self.wr, &mut self.ex] {
            set.clear();
            set.resize(n, FdSetElement::default());
        }
        for r in list {
            let fd = r.fd.as_raw_fd();
            if r.want.is_readable() {
                fd_set_insert(&mut self.rd, fd);
            }
            if r.want.is_writable() {
                fd_set_insert(&mut self.wr, fd);
            }
            if r.want.is_priority() {
                fd_set_insert(&mut self.ex, fd);
            }
        }
        let ts = timeout.map(|d| {
            // Microsecond resolution, rounded up, like select's struct timeval.
            let micros = d.as_nanos().div_ceil(1000).min(i64::MAX as u128 / 2) as i64;
            Timespec {
                tv_sec: micros / 1_000_000,
                tv_nsec: (micros % 1_000_000) * 1000,
            }
        });
        // SAFETY: every descriptor in the sets belongs to a channel of the map, which owns
        // it and does not close it while the loop waits (the loop holds `&mut Map`); the
        // sets have `fd_set_num_elements(len, nfds)` elements, as `select` requires.
        let n = unsafe {
            rustix::event::select(
                nfds,
                Some(&mut self.rd),
                Some(&mut self.wr),
                Some(&mut self.ex),
                ts.as_ref(),
            )?
        };
        if n == 0 {
            return Ok(());
        }
        // Report in list (map) order.
        let mut by_fd = vec![Ready::EMPTY; nfds.max(0) as usize];
        for (set, bit) in [
            (&self.rd, Ready::READ),
            (&self.wr, Ready::WRITE),
            (&self.ex, Ready::PRIORITY),
        ] {
            for fd in FdSetIter::new(set) {
                if let Some(slot) = by_fd.get_mut(fd as usize) {
                    *slot |= bit;
                }
            }
        }
        for r in list {
            let ready = by_fd[r.fd.as_raw_fd() as usize];
            if !ready.is_empty() {
                out.push((r.token, ready));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_at_or_above_fd_setsize_are_refused_with_advice() {
        assert!(check_fd(0).is_ok());
        assert!(check_fd(1023).is_ok());
        let e = check_fd(1024).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("FD_SETSIZE"), "{e}");
        assert!(e.to_string().contains("epoll"), "{e}");
        assert!(check_fd(-1).is_err());
    }
}
