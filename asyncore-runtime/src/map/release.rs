//! Memory back from connections: every few seconds the map asks each channel to give
//! back the buffers it keeps for speed and does not need now (an empty read buffer, an
//! empty output buffer, a decoder between messages), as Redis's client cron shrinks idle
//! query buffers and nginx frees a keep-alive connection's buffers. A connection that
//! had a burst of large messages holds that memory until the next sweep, not for its
//! lifetime; an idle one holds only its bookkeeping.

use std::time::Duration;

use super::Map;
use crate::dispatch::guarded;

/// How often the map asks its channels to give back memory they do not use.
pub const DEFAULT_RELEASE_INTERVAL: Duration = Duration::from_secs(2);

impl Map {
    /// Sets how often the map asks its channels to give back memory
    /// ([`Dispatcher::release_memory`](crate::Dispatcher::release_memory)) and frees the
    /// storage of empty output buffers; `None` never does. The default is
    /// [`DEFAULT_RELEASE_INTERVAL`] (2 s). The sweep runs on one of the map's timers, and
    /// costs a call per channel.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.set_release_interval(Some(std::time::Duration::from_secs(10)));
    /// map.set_release_interval(None);
    /// ```
    pub fn set_release_interval(&mut self, every: Option<Duration>) {
        self.release_every = every;
        if let Some(id) = self.release_timer.take() {
            self.cancel_timer(id);
        }
        self.arm_release();
    }

    /// Arms the sweep if it is not armed and the map holds channels.
    pub(super) fn arm_release(&mut self) {
        let Some(every) = self.release_every else {
            return;
        };
        if self.release_timer.is_some() || self.len == 0 {
            return;
        }
        self.release_timer = Some(self.call_later(every, |map| {
            map.release_timer = None;
            map.release_memory();
            map.arm_release();
        }));
    }

    /// One sweep: every channel not running a handler gives back what it can; then, if
    /// that or the channels closed since the last sweep freed enough, the allocator
    /// hands its free pages back to the system.
    fn release_memory(&mut self) {
        let mut freed = std::mem::take(&mut self.removed_since_sweep) * CLOSED_CHANNEL_BYTES;
        for slot in &mut self.slots {
            let Some(entry) = slot.entry.as_mut() else {
                continue;
            };
            if entry.core.poisoned || entry.core.closed {
                continue;
            }
            freed += entry.core.out.release();
            let handler = &mut entry.handler;
            match guarded(|| handler.release_memory()) {
                Ok(n) => freed += n,
                Err(msg) => {
                    log::error!(target: "asyncore_runtime::map", "release_memory of channel {} panicked, closing that channel: {msg}", entry.core.token);
                    entry.core.poisoned = true;
                }
            }
        }
        if freed >= TRIM_AFTER {
            trim_allocator();
        }
    }
}

/// What a closed channel is counted as having freed, for [`TRIM_AFTER`]: its bookkeeping
/// and a small buffer.
const CLOSED_CHANNEL_BYTES: usize = 2048;

/// After a sweep freed this much, free memory is handed back to the system.
const TRIM_AFTER: usize = 1 << 20;

/// Hands the allocator's free pages back to the system. The C library's allocator keeps
/// freed memory for reuse, and can return only the top of its heap by itself: the
/// buffers of thousands of connections, freed between live allocations, would stay
/// resident.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_allocator() {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: glibc's `malloc_trim` takes a byte count and has no other precondition: it
    // only releases free memory of the allocator's arenas (with `madvise`), under the
    // allocator's own locks, and may be called from any thread at any time. With another
    // global allocator in use it finds little or nothing to release.
    unsafe {
        malloc_trim(0);
    }
}

/// Other C libraries: nothing to do here.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_allocator() {}
