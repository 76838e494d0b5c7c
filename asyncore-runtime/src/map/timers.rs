//! The map's timers: the public calls (`call_later`, `call_at`, `cancel_timer`), the
//! channels' idle checks, and running what is due at the end of a pass.

use std::time::{Duration, Instant};

use super::{Invoke, Map};
use crate::channel::{Core, Stamp};
use crate::dispatch::guarded;
use crate::error::Result;
use crate::timer::{Action, Check, TimerId};

impl Map {
    /// Call `f` with the map after `delay` (the timer bounds the loop's wait, so it fires
    /// on time whatever `timeout` the loop was given). Timers do not keep the loop
    /// running: like asyncore, [`run`](Self::run) returns once the map has no channel.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut map = asyncore_runtime::Map::new();
    /// let id = map.call_later(Duration::from_millis(10), |map| map.stop());
    /// # let _ = id;
    /// ```
    pub fn call_later(&mut self, delay: Duration, f: impl FnOnce(&mut Map) + 'static) -> TimerId {
        self.call_at(Instant::now() + delay, f)
    }

    /// Call `f` with the map at `deadline` (at once, in the next pass, if it is past).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let mut map = asyncore_runtime::Map::new();
    /// map.call_at(Instant::now() + Duration::from_secs(1), |_map| println!("tick"));
    /// ```
    pub fn call_at(&mut self, deadline: Instant, f: impl FnOnce(&mut Map) + 'static) -> TimerId {
        self.timers.add(deadline, Action::Call(Box::new(f)))
    }

    /// Cancel a timer; `false` if it already fired or was cancelled.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut map = asyncore_runtime::Map::new();
    /// let id = map.call_later(Duration::from_secs(1), |_| {});
    /// assert!(map.cancel_timer(id));
    /// ```
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id)
    }

    /// Makes sure a channel's idle check runs at `at` or before: a live check due later
    /// is superseded by a new one (it runs, sees it is not the live one, and does
    /// nothing); one due earlier looks again when it runs.
    pub(crate) fn arm_idle(&mut self, core: &mut Core, at: Instant) {
        if core.idle_timer && core.timer_at <= Stamp::new(at) {
            return;
        }
        core.timer_gen = core.timer_gen.wrapping_add(1);
        core.idle_timer = true;
        core.timer_at = Stamp::new(at);
        self.timers.add_check(at, core.token, core.timer_gen);
    }

    /// Runs the timers due and the channels' idle checks due (the fourth step of a
    /// pass).
    pub(super) fn run_timers(&mut self) -> Result {
        let now = Instant::now();
        self.set_now(now);
        // The ids of the timers due, in a vector kept between passes: a timer firing
        // allocates nothing.
        let mut due = std::mem::take(&mut self.due_spare);
        self.timers.due(now, &mut due);
        for &id in &due {
            let Some(action) = self.timers.take(id) else {
                continue;
            };
            match action {
                Action::Call(f) => {
                    if let Err(msg) = guarded(|| f(self)) {
                        log::error!(target: "asyncore_runtime::map", "a timer callback panicked: {msg}");
                    }
                }
                Action::Channel(token) => self.invoke(token, Invoke::Timer(TimerId(id)))?,
                Action::ResumeAccept(token) => {
                    if let Some(e) = self.entry_mut(token) {
                        e.core.accept_paused = false;
                    }
                }
            }
        }
        due.clear();
        self.due_spare = due;
        // The channels' idle checks.
        let mut checks = std::mem::take(&mut self.checks_spare);
        self.timers.due_checks(now, &mut checks);
        for &Check { token, gen, .. } in &checks {
            let Some(core) = self.entry_mut(token).map(|e| &mut e.core) else {
                continue;
            };
            if gen != core.timer_gen || !core.idle_timer {
                continue; // superseded by an earlier check
            }
            // Activity pushes the idle deadline back, not the request's; re-arm
            // instead of firing while neither is due.
            let idle = core
                .idle_timeout
                .map(|limit| core.last_activity.instant() + limit);
            let due = match (idle, core.deadline.map(Stamp::instant)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match due {
                Some(d) if d > now => {
                    core.timer_at = Stamp::new(d);
                    self.timers.add_check(d, token, gen);
                }
                Some(_) => {
                    core.idle_timer = false;
                    self.invoke(token, Invoke::Idle)?;
                    if let Some(core) = self.entry_mut(token).map(|e| &mut e.core) {
                        core.deadline = None;
                    }
                }
                None => core.idle_timer = false,
            }
        }
        checks.clear();
        self.checks_spare = checks;
        Ok(())
    }
}
