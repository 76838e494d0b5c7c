//! The handler of each message of the description: what `#[dispatcher]` calls.

use super::*;

#[dispatcher(protocol = memcache, role = server)]
impl Connection {
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        cx.channel()
            .set_output_limits(asyncore_runtime::DEFAULT_HIGH_WATER, OUTPUT_LIMIT);
        self.token = Some(cx.channel().token());
        let mut store = lock(&self.store);
        store.stats.curr_connections += 1;
        store.stats.total_connections += 1;
        self.conn_id = store.conns.open(
            self.fd,
            self.listen_fd,
            cx.channel().addr().cloned(),
            Instant::now(),
        );
        self.counted = true;
        Ok(())
    }

    fn on_shutdown(&mut self, cx: &mut ServerCx<'_, '_>, _msg: memcache::Shutdown<'_>) -> Result {
        // Stopped by SIGINT or SIGTERM only.
        cx.send(memcache::ErrorReason {
            reason: b"shutdown not enabled",
        })
    }

    fn on_watch(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Watch<'_>) -> Result {
        let Some(token) = self.token else {
            return cx.send(memcache::Error {});
        };
        let mut watcher = Watcher {
            token,
            fetchers: false,
            mutations: false,
        };
        for kind in msg.kinds.iter() {
            match kind {
                b"fetchers" => watcher.fetchers = true,
                b"mutations" => watcher.mutations = true,
                // memcached's other log streams are not kept here.
                _ => return cx.send(memcache::Error {}),
            }
        }
        WATCHERS.with(|w| {
            let mut w = w.borrow_mut();
            w.retain(|w| w.token != token);
            w.push(watcher);
        });
        cx.send(memcache::Ok {})
    }

    fn on_get(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Get<'_>) -> Result {
        self.retrieve(cx, msg.keys.iter(), false, None)
    }

    fn on_gets(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Gets<'_>) -> Result {
        self.retrieve(cx, msg.keys.iter(), true, None)
    }

    fn on_gat(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Gat<'_>) -> Result {
        if msg.exptime > i64::from(i32::MAX) {
            return client_error(cx, false, BAD_EXPTIME);
        }
        self.retrieve(cx, msg.keys.iter(), false, Some(msg.exptime))
    }

    fn on_gats(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Gats<'_>) -> Result {
        if msg.exptime > i64::from(i32::MAX) {
            return client_error(cx, false, BAD_EXPTIME);
        }
        self.retrieve(cx, msg.keys.iter(), true, Some(msg.exptime))
    }

    fn on_set(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Set<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Set, m)
    }

    fn on_add(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Add<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Add, m)
    }

    fn on_replace(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Replace<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Replace, m)
    }

    fn on_append(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Append<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Append, m)
    }

    fn on_prepend(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Prepend<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Prepend, m)
    }

    fn on_cas(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Cas<'_>) -> Result {
        let m = (msg.key, msg.flags, msg.exptime, msg.noreply, msg.data);
        self.update(cx, Mode::Cas(msg.unique), m)
    }

    fn on_delete(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Delete<'_>) -> Result {
        if msg.key.len() > KEY_MAX_LENGTH {
            return client_error(cx, msg.noreply, BAD_FORMAT);
        }
        let found = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            store.detail(msg.key, Detail::Del);
            let found = store.live(msg.key, now).is_some();
            if found {
                if let Some(c) = store.class_stats(msg.key) {
                    c.delete_hits += 1;
                }
                store.remove(msg.key);
                store.stats.delete_hits += 1;
            } else {
                store.stats.delete_misses += 1;
            }
            found
        };
        if found {
            reply(cx, msg.noreply, memcache::Deleted {})
        } else {
            reply(cx, msg.noreply, memcache::NotFound {})
        }
    }

    fn on_incr(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Incr<'_>) -> Result {
        self.arithmetic(cx, msg.key, msg.value, msg.noreply, true)
    }

    fn on_decr(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Decr<'_>) -> Result {
        self.arithmetic(cx, msg.key, msg.value, msg.noreply, false)
    }

    fn on_touch(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Touch<'_>) -> Result {
        if msg.key.len() > KEY_MAX_LENGTH {
            return client_error(cx, msg.noreply, BAD_FORMAT);
        }
        if msg.exptime > i64::from(i32::MAX) {
            return client_error(cx, msg.noreply, BAD_EXPTIME);
        }
        let found = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            store.stats.cmd_touch += 1;
            let found = store.live(msg.key, now).is_some();
            if found {
                store.touch(msg.key, deadline(msg.exptime, now));
                store.stats.touch_hits += 1;
            } else {
                store.stats.touch_misses += 1;
            }
            found
        };
        if found {
            self.arm_if_expiring(cx);
            reply(cx, msg.noreply, memcache::Touched {})
        } else {
            reply(cx, msg.noreply, memcache::NotFound {})
        }
    }

    fn on_flush_all(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::FlushAll) -> Result {
        let delay = msg.delay.unwrap_or(0);
        if delay > i64::from(i32::MAX) {
            return client_error(cx, msg.noreply, BAD_EXPTIME);
        }
        {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.stats.cmd_flush += 1;
            match deadline(delay, now) {
                // memcached's clock counts whole seconds: a flush due within one second
                // is a flush now.
                Some(at) if at > now + Duration::from_secs(1) => store.flush_at = Some(at),
                // Now: no delay, a negative one, or a time already past.
                _ => {
                    store.flush_at = None;
                    store.clear();
                    // memcached marks the flush with a CAS unique of its own.
                    store.next_cas();
                }
            }
        }
        reply(cx, msg.noreply, memcache::Ok {})
    }

    fn on_version(&mut self, cx: &mut ServerCx<'_, '_>, _msg: memcache::Version) -> Result {
        cx.send(memcache::VersionReply {
            version: VERSION.as_bytes(),
        })
    }

    fn on_verbosity(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Verbosity) -> Result {
        // Nothing to log more or less: the level is kept for `stats settings`.
        lock(&self.store).verbosity = msg.level;
        reply(cx, msg.noreply, memcache::Ok {})
    }

    fn on_slabs_automove(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: memcache::SlabsAutomove,
    ) -> Result {
        // memcached's levels are 0, 1 and 2; another number is `ERROR`.
        let Ok(level @ 0..=2) = u32::try_from(msg.level) else {
            return cx.send(memcache::Error {});
        };
        lock(&self.store).automove = level;
        cx.send(memcache::Ok {})
    }

    fn on_stats(&mut self, cx: &mut ServerCx<'_, '_>, msg: memcache::Stats<'_>) -> Result {
        let words: Vec<&[u8]> = msg.args.iter().take(4).collect();
        let (group, arg) = (words.first().copied(), words.get(1).copied());
        let (more, extra) = (words.len() > 1, words.len() > 2);
        let lines = {
            let mut store = lock(&self.store);
            store.conns.seen(self.fd, Instant::now());
            match group {
                None => store.general_stats(),
                Some(b"items") if !more => store.item_stats(),
                Some(b"slabs") if !more => store.slab_stats(),
                Some(b"settings") if !more => store.settings_stats(),
                Some(b"conns") if !more => store.conn_stats(),
                Some(b"cachedump") => {
                    let number =
                        |w: Option<&[u8]>| std::str::from_utf8(w?).ok()?.parse::<usize>().ok();
                    let third = words.get(2).copied();
                    let (Some(class), Some(limit), 3) = (number(arg), number(third), words.len())
                    else {
                        drop(store);
                        return client_error(cx, false, b"bad command line");
                    };
                    let Some(items) = store.cache_dump(class, limit) else {
                        drop(store);
                        return client_error(cx, false, b"Illegal slab id");
                    };
                    drop(store);
                    for (key, bytes, exptime) in &items {
                        cx.send(memcache::CacheItem {
                            key,
                            bytes: *bytes as u64,
                            exptime: *exptime,
                        })?;
                    }
                    return cx.send(memcache::End {});
                }
                Some(b"detail") => {
                    let reply = match (arg, extra) {
                        (Some(b"on"), false) => Some(true),
                        (Some(b"off"), false) => Some(false),
                        (Some(b"dump"), false) => None,
                        _ => {
                            drop(store);
                            return client_error(cx, false, b"usage: stats detail on|off|dump");
                        }
                    };
                    let dump: Vec<(Vec<u8>, PrefixStats)> = match reply {
                        Some(on) => {
                            store.detail = on;
                            drop(store);
                            return cx.send(memcache::Ok {});
                        }
                        None => store
                            .prefixes
                            .iter()
                            .map(|(k, v)| (k.clone(), *v))
                            .collect(),
                    };
                    drop(store);
                    for (prefix, p) in &dump {
                        cx.send(memcache::Prefix {
                            prefix,
                            get: p.get,
                            hit: p.hit,
                            set: p.set,
                            del: p.del,
                        })?;
                    }
                    return cx.send(memcache::End {});
                }
                Some(b"reset") if !more => {
                    store.reset_stats();
                    drop(store);
                    return cx.send(memcache::Reset {});
                }
                // Other groups (sizes, conns, detail...) are memcached internals.
                Some(_) => {
                    drop(store);
                    return cx.send(memcache::Error {});
                }
            }
        };
        self.send_stats(cx, lines)
    }

    /// The rest of a retrieval, as the output drains.
    fn on_produce(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        self.send_pending(cx)
    }

    fn on_quit(&mut self, _cx: &mut ServerCx<'_, '_>, _msg: memcache::Quit) -> Result {
        // The description closes the connection after `quit`.
        Ok(())
    }

    /// memcached's replies to malformed commands; the description's policies only drop
    /// the input (or, for an unknown command, reply `ERROR`).
    fn on_bad_input(&mut self, cx: &mut ServerCx<'_, '_>, err: &DecodeError) {
        log::debug!("{err}");
        let _ = self.bad_input_reply(cx, err);
    }
}
