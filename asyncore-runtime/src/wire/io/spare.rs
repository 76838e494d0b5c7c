//! What the generated channels of a thread share instead of each holding it between
//! messages: read buffers of [`READ_CHUNK`] bytes, reply buffers, and decoders. A channel
//! takes one when it needs it and puts it back when it has handled everything it read,
//! so only connections in the middle of a message hold them (as memcached lends its
//! connections a thread's read buffer). A few of each are kept; more go back to the
//! allocator.

use std::cell::RefCell;

use crate::wire::{Decoder, Program};

/// The most of each kept (1 MiB of read buffers).
const KEEP: usize = 64;

thread_local! {
    static READ: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static REPLY: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    // Boxed: a decoder moves between a channel's `Option<Box<Decoder>>` and here
    // without being copied or allocated again.
    #[allow(clippy::vec_box)]
    static DECODERS: RefCell<Vec<Box<Decoder>>> = const { RefCell::new(Vec::new()) };
}

fn put_in<T>(pool: &'static std::thread::LocalKey<RefCell<Vec<T>>>, item: T) {
    pool.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEEP {
            p.push(item);
        }
    });
}

pub(super) fn take_read() -> Option<Vec<u8>> {
    READ.with(|p| p.borrow_mut().pop())
}

pub(super) fn put_read(storage: Vec<u8>) {
    if storage.len() == crate::codec::READ_CHUNK {
        put_in(&READ, storage);
    }
}

pub(super) fn take_reply() -> Option<Vec<u8>> {
    REPLY.with(|p| p.borrow_mut().pop())
}

pub(super) fn put_reply(out: Vec<u8>) {
    put_in(&REPLY, out);
}

/// A decoder of `program` between messages, if one is spare.
pub(super) fn take_decoder(program: &'static Program) -> Option<Box<Decoder>> {
    DECODERS.with(|p| {
        let mut p = p.borrow_mut();
        let at = p.iter().rposition(|d| std::ptr::eq(d.program(), program))?;
        Some(p.swap_remove(at))
    })
}

pub(super) fn put_decoder(decoder: Box<Decoder>) {
    put_in(&DECODERS, decoder);
}
