//! The loop: waiting for readiness, timers and the idle check, and calling each
//! channel's handler (asyncore's `loop`).

use super::*;

impl Map {
    /// Run the loop with asyncore's defaults: 30 s per pass, the default backend (epoll),
    /// until the map is empty or [`stop`](Self::stop) is called.
    ///
    /// ```
    /// let mut map = asyncore_runtime::Map::new();
    /// map.run()?; // an empty map returns at once
    /// # Ok::<(), asyncore_runtime::Error>(())
    /// ```
    pub fn run(&mut self) -> Result {
        self.run_with(Some(DEFAULT_TIMEOUT), Backend::default(), None)
    }

    /// asyncore's `loop(timeout, use_poll, map, count)`.
    ///
    /// * `timeout`: the longest wait of each pass (`None`: no limit). There is no overall
    ///   deadline; timers cut a wait short.
    /// * `backend`: which system call waits (asyncore's `use_poll`).
    /// * `count`: `None` runs while the map has channels; `Some(n)` runs at most `n`
    ///   passes (a pass that only waits counts). `Some(0)` runs none.
    ///
    /// Returns `Ok(())` when the map is empty, the count is used up, or
    /// [`stop`](Self::stop) was called; `Err` when a handler returned
    /// [`Error::Exit`], or `handle_error`/`handle_close` returned an error, or the wait
    /// itself failed. Calling it from inside a handler of the same map is an error.
    ///
    /// ```
    /// use asyncore_runtime::{Backend, Map};
    /// use std::time::Duration;
    /// let mut map = Map::new();
    /// map.run_with(Some(Duration::from_millis(10)), Backend::Poll, Some(3))?;
    /// # Ok::<(), asyncore_runtime::Error>(())
    /// ```
    pub fn run_with(
        &mut self,
        timeout: Option<Duration>,
        backend: Backend,
        count: Option<u64>,
    ) -> Result {
        self.stop = false;
        let mut left = count;
        loop {
            if self.len == 0 || self.stop {
                return Ok(());
            }
            if let Some(n) = left.as_mut() {
                if *n == 0 {
                    return Ok(());
                }
                *n -= 1;
            }
            self.poll_once(timeout, backend)?;
        }
    }

    /// One pass (asyncore's `poll()` / `poll2()`): wait at most `timeout` for readiness,
    /// dispatch the events, run due timers. An empty map returns at once.
    ///
    /// ```
    /// use asyncore_runtime::{Backend, Map};
    /// let mut map = Map::new();
    /// map.poll_once(Some(std::time::Duration::ZERO), Backend::Select)?;
    /// # Ok::<(), asyncore_runtime::Error>(())
    /// ```
    pub fn poll_once(&mut self, timeout: Option<Duration>, backend: Backend) -> Result {
        if self.len == 0 {
            return Ok(());
        }
        if self.running {
            return Err(Error::Io(io::Error::other(
                "the loop of this map is already running: a handler cannot run it again",
            )));
        }
        self.running = true;
        let r = self.pass(timeout, backend);
        self.running = false;
        r
    }

    fn ensure_selector(&mut self, backend: Backend) -> io::Result<()> {
        if self.selector.as_ref().map(|s| s.backend()) == Some(backend) {
            return Ok(());
        }
        // A new backend: everything must be registered again.
        if let Some(mut old) = self.selector.take() {
            for (i, s) in self.slots.iter_mut().enumerate() {
                if !s.dirty && s.own_interest && s.entry.is_some() {
                    self.dirty_list.push(Token::new(i as u32, s.generation));
                }
                s.dirty = true;
                if let Some(e) = s.entry.as_mut() {
                    old.forget(e.core.sock.as_fd(), e.core.registered);
                    e.core.registered = Ready::EMPTY;
                    e.core.always_ready = false;
                }
            }
        }
        for t in std::mem::take(&mut self.pending) {
            if let Some(s) = self.slots.get_mut(t.index as usize) {
                s.pending = Ready::EMPTY;
            }
        }
        self.selector = Some(Selector::new(backend)?);
        self.edge = backend == Backend::Epoll;
        Ok(())
    }

    fn pass(&mut self, timeout: Option<Duration>, backend: Backend) -> Result {
        self.ensure_selector(backend)?;
        self.passes += 1;
        self.set_now(Instant::now());

        // 1. Interest.
        let mut always_ready = false;
        // Every channel asked every pass, in order; then the channels whose interest is
        // their own state that something reached since the last pass (the others watch
        // what they watched): a pass costs nothing per idle one.
        let asked = self.ask_every_pass.len();
        let mut dirty = std::mem::take(&mut self.dirty_spare);
        std::mem::swap(&mut dirty, &mut self.dirty_list);
        let n = asked + dirty.len();
        let mut fd_errors: Vec<(Token, io::Error)> = Vec::new();
        let mut pending_close: Vec<Token> = Vec::new();
        for i in 0..n {
            let token = if i < asked {
                self.ask_every_pass[i]
            } else {
                dirty[i - asked]
            };
            let Some(mut entry) = self.take(token) else {
                continue;
            };
            if entry.core.close_event.is_some() || entry.core.closed {
                // A close requested from outside a handler (with_channel, send_to):
                // deliver it in this pass.
                self.put_back(token, entry);
                pending_close.push(token);
                self.keep_dirty(token);
                continue;
            }
            let want = {
                let Entry { core, handler } = &mut *entry;
                let mut ch = Channel::new(core, self);
                interest(handler, &mut ch)
            };
            let core = &mut entry.core;
            if want != core.registered && !core.poisoned {
                let sel = self.selector.as_mut().expect("selector exists");
                let fd = core.sock.as_fd();
                if let Err(e) = sel.check_fd(std::os::fd::AsRawFd::as_raw_fd(&fd)) {
                    if !want.is_empty() {
                        fd_errors.push((token, e));
                    }
                } else if core.always_ready {
                    core.registered = want;
                } else {
                    match sel.update(fd, token, core.registered, want) {
                        Ok(true) => core.registered = want,
                        Ok(false) => {
                            core.always_ready = true;
                            core.registered = want;
                        }
                        Err(e) => fd_errors.push((token, e)),
                    }
                }
            }
            if core.always_ready && !core.registered.is_empty() {
                always_ready = true;
            }
            // Always-ready channels (regular files) are reported by this loop every pass.
            let settled = !core.always_ready;
            self.put_back(token, entry);
            if settled {
                if let Some(s) = self.slots.get_mut(token.index as usize) {
                    s.dirty = false;
                }
            } else {
                self.keep_dirty(token);
            }
        }
        dirty.clear();
        self.dirty_spare = dirty;
        for (token, e) in fd_errors {
            self.invoke(token, Invoke::Error(e))?;
        }
        for token in pending_close {
            self.invoke(token, Invoke::Io(Ready::EMPTY))?;
        }

        // 2. Wait.
        let still = if self.pending.is_empty() {
            Vec::new()
        } else {
            self.check_pending().map_err(Error::Io)?
        };
        let mut wait = timeout;
        if always_ready || !still.is_empty() || self.buffered_input_ready() {
            wait = Some(Duration::ZERO);
        }
        if let Some(deadline) = self.timers.next_deadline() {
            let until = deadline.saturating_duration_since(self.now);
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let start = self.now;
        loop {
            let sel = self.selector.as_mut().expect("selector exists");
            let r = if sel.needs_list() {
                let list: Vec<Reg<'_>> = self
                    .order
                    .iter()
                    .filter_map(|t| {
                        let e = live_entry(&self.slots, *t)?;
                        if e.core.registered.is_empty() || e.core.always_ready {
                            return None;
                        }
                        Some(Reg {
                            fd: e.core.sock.as_fd(),
                            token: *t,
                            want: e.core.registered,
                        })
                    })
                    .collect();
                sel.wait(&list, &mut events, wait)
            } else {
                sel.wait(&[], &mut events, wait)
            };
            match r {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    events.clear();
                    if let Some(w) = wait {
                        wait = Some(w.saturating_sub(start.elapsed()));
                    }
                }
                Err(e) => {
                    self.events = events;
                    return Err(Error::Io(e));
                }
            }
        }
        if always_ready {
            for t in &self.order {
                if let Some(e) = self.entry(*t).filter(|e| e.core.always_ready) {
                    let r = e.core.registered.remove(Ready::PRIORITY);
                    if !r.is_empty() {
                        events.push((*t, r));
                    }
                }
            }
        }

        if !still.is_empty() {
            self.merge_pending(still, &mut events);
        }
        self.buffered_input_events(&mut events);

        // 3. Dispatch.
        self.set_now(Instant::now());
        let mut result = Ok(());
        for &(token, ready) in &events {
            if let Err(e) = self.invoke(token, Invoke::Io(ready)) {
                result = Err(e);
                break;
            }
        }
        events.clear();
        self.events = events;
        result?;

        // 4. Timers.
        if !self.timers.is_empty() {
            self.run_timers()?;
        }
        self.compact();
        Ok(())
    }

    /// Keeps a channel whose interest is its own state on the list of the next pass
    /// (it stays marked as reached, so nothing else would list it again).
    fn keep_dirty(&mut self, token: Token) {
        if self
            .slot(token)
            .is_some_and(|s| s.own_interest && s.dirty && s.entry.is_some())
        {
            self.dirty_list.push(token);
        }
    }

    /// Run one event on one channel, with asyncore's routing of errors; remove the
    /// channel if it closed. `Err` only for errors that must leave the loop.
    pub(super) fn invoke(&mut self, token: Token, what: Invoke) -> Result {
        let Some(mut entry) = self.take(token) else {
            return Ok(());
        };
        // Edge-triggered: what the handler's socket calls show decides what is kept.
        let edge = match what {
            Invoke::Io(ready) if self.edge && !entry.core.always_ready => {
                entry.core.sock.take_seen();
                entry.core.peer_closed |= ready.is_hup();
                Some(ready)
            }
            _ => None,
        };
        if let Some(left) = entry.core.lingering {
            // No handler runs: discard input until the peer closes, or a limit.
            linger(&mut entry.core, left as usize, &what, self.now);
            let kept = edge.map_or(Ready::EMPTY, |ready| {
                unused(ready, entry.core.sock.take_seen(), entry.core.peer_closed)
            });
            self.put_back(token, entry);
            if !kept.is_empty() {
                self.keep_unused(token, kept);
            }
            return Ok(());
        }
        let escape = {
            let Entry { core, handler } = &mut *entry;
            let mut ch = Channel::new(core, self);
            let mut escape = match what {
                Invoke::Io(ready) => io_event(handler, &mut ch, ready),
                Invoke::Timer(id) => call(handler, &mut ch, |h, ch| h.handle_timer(ch, id)),
                Invoke::Idle if ch.core.tls_handshake_timeout() => None,
                Invoke::Idle => call(handler, &mut ch, |h, ch| h.handle_idle(ch)),
                Invoke::Error(e) => route(handler, &mut ch, Err(Error::Io(e))),
            };
            if escape.is_none() {
                escape = deliver_close(handler, &mut ch);
            }
            escape
        };
        let mut kept = edge.map_or(Ready::EMPTY, |ready| {
            unused(ready, entry.core.sock.take_seen(), entry.core.peer_closed)
        });
        if self.edge && entry.core.linger_ready && entry.core.lingering.is_none() {
            // Input may wait unread since an earlier edge (the channel stopped reading
            // while its replies were over the high-water mark): look again next pass.
            kept |= Ready::READ;
        }
        self.put_back(token, entry);
        if !kept.is_empty() {
            self.keep_unused(token, kept);
        }
        match escape {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// asyncore's `loop(timeout, use_poll, map, count)` as a free function; see
/// [`Map::run_with`].
///
/// ```
/// use asyncore_runtime::{run_loop, Backend, Map};
/// let mut map = Map::new();
/// run_loop(Some(std::time::Duration::from_secs(30)), Backend::Poll, &mut map, None)?;
/// # Ok::<(), asyncore_runtime::Error>(())
/// ```
pub fn run_loop(
    timeout: Option<Duration>,
    backend: Backend,
    map: &mut Map,
    count: Option<u64>,
) -> Result {
    map.run_with(timeout, backend, count)
}

/// asyncore's `close_all(map)`; see [`Map::close_all`].
///
/// ```
/// let mut map = asyncore_runtime::Map::new();
/// asyncore_runtime::close_all(&mut map);
/// ```
pub fn close_all(map: &mut Map) {
    map.close_all();
}
