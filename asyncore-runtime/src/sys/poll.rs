//! The poll backend: a fresh descriptor set every pass, as asyncore's `poll2` builds.

use std::io;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use super::Reg;
use crate::ready::Ready;
use crate::token::Token;

#[derive(Debug, Default)]
pub(crate) struct Selector;

impl Selector {
    pub fn new() -> Selector {
        Selector
    }

    pub fn wait(
        &mut self,
        list: &[Reg<'_>],
        out: &mut Vec<(Token, Ready)>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let mut fds: Vec<PollFd<'_>> = list
            .iter()
            .map(|r| {
                let mut f = PollFlags::empty();
                if r.want.is_readable() {
                    f |= PollFlags::IN;
                }
                if r.want.is_priority() {
                    f |= PollFlags::PRI;
                }
                if r.want.is_writable() {
                    f |= PollFlags::OUT;
                }
                PollFd::from_borrowed_fd(r.fd, f)
            })
            .collect();
        let ts = super::timeout_millis(timeout).map(super::timespec_millis);
        let n = rustix::event::poll(&mut fds, ts.as_ref())?;
        if n == 0 {
            return Ok(());
        }
        for (pfd, reg) in fds.iter().zip(list) {
            let f = pfd.revents();
            if f.is_empty() {
                continue;
            }
            let mut r = Ready::EMPTY;
            if f.contains(PollFlags::IN) {
                r |= Ready::READ;
            }
            if f.contains(PollFlags::OUT) {
                r |= Ready::WRITE;
            }
            if f.contains(PollFlags::PRI) {
                r |= Ready::PRIORITY;
            }
            if f.contains(PollFlags::HUP) {
                r |= Ready::HUP;
            }
            if f.intersects(PollFlags::ERR | PollFlags::NVAL) {
                r |= Ready::ERROR;
            }
            out.push((reg.token, r));
        }
        Ok(())
    }
}
