//! The epoll backend: registrations kept in the kernel, edge-triggered. The map keeps
//! asyncore's level-triggered behaviour: readiness a handler did not use up (its socket
//! calls did not find the socket empty, or full) is dispatched again in the next pass.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::io::Errno;

use crate::ready::Ready;
use crate::token::Token;

pub(crate) struct Selector {
    ep: OwnedFd,
    events: Vec<Event>,
}

fn flags(want: Ready) -> EventFlags {
    let mut f = EventFlags::ET;
    if want.is_readable() {
        // RDHUP: a short read is not the end when the peer's close is already in.
        f |= EventFlags::IN | EventFlags::RDHUP;
    }
    if want.is_writable() {
        f |= EventFlags::OUT;
    }
    if want.is_priority() {
        f |= EventFlags::PRI;
    }
    f
}

impl std::fmt::Debug for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpollSelector")
            .field("ep", &self.ep)
            .finish_non_exhaustive()
    }
}

impl Selector {
    pub fn new() -> io::Result<Selector> {
        let ep = epoll::create(CreateFlags::CLOEXEC)?;
        Ok(Selector {
            ep,
            events: Vec::with_capacity(1024),
        })
    }

    pub fn update(
        &mut self,
        fd: BorrowedFd<'_>,
        token: Token,
        old: Ready,
        new: Ready,
    ) -> io::Result<bool> {
        let data = EventData::new_u64(token.to_u64());
        let r = if old.is_empty() {
            epoll::add(&self.ep, fd, data, flags(new))
        } else if new.is_empty() {
            epoll::delete(&self.ep, fd)
        } else {
            epoll::modify(&self.ep, fd, data, flags(new))
        };
        match r {
            Ok(()) => Ok(true),
            // Regular files and some character devices cannot be watched: they are
            // always ready, and the loop treats them so.
            Err(Errno::PERM) if old.is_empty() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub fn forget(&mut self, fd: BorrowedFd<'_>, registered: Ready) {
        if !registered.is_empty() {
            // The descriptor may be shared (dup), so remove it explicitly; failure only
            // means it was not registered.
            let _ = epoll::delete(&self.ep, fd);
        }
    }

    pub fn wait(
        &mut self,
        out: &mut Vec<(Token, Ready)>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let ts = super::timeout_millis(timeout).map(super::timespec_millis);
        self.events.clear();
        epoll::wait(
            self.ep.as_fd(),
            rustix::buffer::spare_capacity(&mut self.events),
            ts.as_ref(),
        )?;
        for ev in &self.events {
            let f = ev.flags;
            let mut r = Ready::EMPTY;
            if f.contains(EventFlags::IN) {
                r |= Ready::READ;
            }
            if f.contains(EventFlags::OUT) {
                r |= Ready::WRITE;
            }
            if f.contains(EventFlags::PRI) {
                r |= Ready::PRIORITY;
            }
            if f.intersects(EventFlags::HUP | EventFlags::RDHUP) {
                r |= Ready::HUP;
            }
            if f.contains(EventFlags::ERR) {
                r |= Ready::ERROR;
            }
            let data = ev.data;
            out.push((Token::from_u64(data.u64()), r));
        }
        if self.events.len() == self.events.capacity() {
            self.events.reserve(self.events.len());
        }
        Ok(())
    }
}
