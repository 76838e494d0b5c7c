//! A counting global allocator for tests that show code allocates nothing: it counts the
//! allocations of the threads that asked to be watched ([`watch_this_thread`]) while
//! [`count_during`] runs. `ALLOC_BACKTRACES=N` prints where the first N counted
//! allocations were made.
//!
//! Include it with `#[path = "support/counting.rs"] mod counting;` (it installs the test
//! binary's global allocator).

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// How many backtraces to print; `usize::MAX` until the variable is read.
static BACKTRACES: AtomicUsize = AtomicUsize::new(usize::MAX);
/// One counting at a time: the counter is global.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

thread_local! {
    static WATCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static TRACING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.load(Ordering::Relaxed) && WATCHED.with(|s| s.get()) && !TRACING.with(|t| t.get()) {
        let n = ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        if n < BACKTRACES.load(Ordering::Relaxed) && !TRACING.with(|t| t.replace(true)) {
            eprintln!(
                "allocation {n}:\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            TRACING.with(|t| t.set(false));
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// side effect that touches no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts this thread's allocations from now on (while [`count_during`] runs).
pub fn watch_this_thread() {
    WATCHED.with(|s| s.set(true));
}

/// Holds the counter for one test: tests running in parallel count one after another.
pub fn exclusive() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The allocations the watched threads make while `work` runs.
pub fn count_during<T>(work: impl FnOnce() -> T) -> (usize, T) {
    if BACKTRACES.load(Ordering::Relaxed) == usize::MAX {
        let n = std::env::var("ALLOC_BACKTRACES")
            .ok()
            .and_then(|v| v.parse().ok());
        BACKTRACES.store(n.unwrap_or(0), Ordering::Relaxed);
    }
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let out = work();
    COUNTING.store(false, Ordering::SeqCst);
    (ALLOCATIONS.load(Ordering::SeqCst), out)
}
