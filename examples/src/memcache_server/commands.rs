//! The work behind the handlers: retrieval, storage, arithmetic, and memcached's
//! replies to bad input.

use super::*;

/// The most keys of one get whose items are read ahead together ([`Items::warm`]).
const WARM_KEYS: usize = 32;

impl Connection {
    /// Sends memcached's reply to the bad input `err` (see the module documentation).
    pub(super) fn bad_input_reply(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        err: &DecodeError,
    ) -> Result {
        let message = err.message().unwrap_or("");
        let storage = matches!(
            message,
            "Set" | "Add" | "Replace" | "Append" | "Prepend" | "Cas"
        );
        let line = cx.bad_input();
        // memcached splits a line at spaces; `noreply` as the last word of a command that
        // takes it silences every reply but `ERROR`, errors included.
        let last = line.rsplit(|&b| b == b' ').find(|w| !w.is_empty());
        let quiet = last == Some(&b"noreply"[..])
            && (storage
                || matches!(
                    message,
                    "Delete" | "Incr" | "Decr" | "Touch" | "FlushAll" | "Verbosity"
                ));
        // The decoder expected a separator: most often where the line ended (an argument
        // is missing: `ERROR`). A number run into other characters (`5x`) gives the same
        // error, and gets `ERROR` too where memcached says `CLIENT_ERROR bad command line
        // format`: the error does not say which.
        let missing =
            matches!(err.kind(), DecodeErrorKind::Invalid { what } if *what == "a space or a tab");
        let bad_number = matches!(err.kind(), DecodeErrorKind::OutOfRange { .. })
            || matches!(err.kind(), DecodeErrorKind::Invalid { what } if what.contains("integer"));
        match *err.kind() {
            DecodeErrorKind::Oversize {
                what: Limit::Bytes, ..
            } => {
                if message == "Set" {
                    // As memcached: no stale value stays behind a failed set. The key is
                    // the line's second word.
                    let key = line.split(|&b| b == b' ').filter(|w| !w.is_empty()).nth(1);
                    if let Some(key) = key {
                        lock(&self.store).remove(key);
                    }
                }
                // The decoder skips the data block as it arrives.
                reply(cx, quiet, memcache::ServerError { message: TOO_LARGE })
            }
            DecodeErrorKind::Oversize { .. } => {
                cx.close();
                client_error(cx, false, b"line too long")
            }
            DecodeErrorKind::Unknown if is_http(line) => {
                // An HTTP request sent to memcached: it hangs up without a word.
                cx.close();
                Ok(())
            }
            DecodeErrorKind::Unknown | DecodeErrorKind::NotAllowed { .. } => {
                cx.send(memcache::Error {})
            }
            DecodeErrorKind::Literal { .. } if storage => {
                // Not `\r\n` after the data block: as memcached, nothing is stored, the
                // block and two bytes more go by, and what follows is read as commands.
                client_error(cx, quiet, b"bad data chunk")
            }
            _ => match message {
                "Version" => cx.send(memcache::VersionReply {
                    version: VERSION.as_bytes(),
                }),
                "Quit" => {
                    cx.close();
                    Ok(())
                }
                "Gat" | "Gats" if missing && err.offset() > message.len() + 1 => {
                    // An exptime and no key: memcached answers with an empty result.
                    cx.send(memcache::End {})
                }
                "Gat" | "Gats" | "Touch" | "FlushAll" if !missing => {
                    if message == "Touch"
                        && matches!(err.kind(), DecodeErrorKind::Invalid { what } if *what == "the end of the line")
                    {
                        cx.send(memcache::Error {})
                    } else {
                        client_error(cx, quiet, BAD_EXPTIME)
                    }
                }
                "Incr" | "Decr" if bad_number => client_error(cx, quiet, BAD_DELTA),
                "Delete" if !missing => client_error(cx, quiet, DELETE_USAGE),
                "Verbosity" if bad_number => client_error(cx, quiet, BAD_FORMAT),
                "SlabsAutomove" if bad_number => client_error(cx, false, BAD_FORMAT),
                _ if storage && bad_number => client_error(cx, quiet, BAD_FORMAT),
                // A missing argument, one too many, or a command memcached does not know.
                _ => cx.send(memcache::Error {}),
            },
        }
    }

    /// `get`, `gets`, `gat` and `gats`: a `VALUE` per live key, then `END`. A key over
    /// 250 bytes makes the whole command a `CLIENT_ERROR`. The values are taken now;
    /// those the output has no room for are sent as it drains.
    pub(super) fn retrieve<'k>(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
        with_cas: bool,
        touch: Option<i64>,
    ) -> Result {
        if keys.clone().any(|k| k.len() > KEY_MAX_LENGTH) {
            return client_error(cx, false, BAD_FORMAT);
        }
        // The time of the loop's pass, as memcached's `current_time`: no clock read per
        // command.
        let now = cx.channel().map().now();
        let mut store = lock(&self.store);
        store.tick(now);
        store.conns.seen(self.fd, now);
        let expires = touch.map(|t| deadline(t, now));
        let mut touched = false;
        // The items of a multi-key get are read from memory together before they are
        // used: their cache misses overlap instead of coming one after another.
        let mut warm = keys.clone();
        if let (Some(_), Some(_)) = (warm.next(), warm.next()) {
            store.items.warm(keys.clone().take(WARM_KEYS));
        }
        for key in keys {
            store.stats.cmd_get += 1;
            if touch.is_some() {
                store.stats.cmd_touch += 1;
            }
            let (found, present) = match store.fetch(key, now) {
                Ok(item) => (Some(item), true),
                Err(expired) => (None, expired),
            };
            let hit = found
                .as_ref()
                .map(|(class, _, _, kv, nkey)| (*class, kv.len() - nkey));
            store.detail(key, Detail::Get { hit: hit.is_some() });
            let fd = self.fd;
            watch_log(cx.channel().map(), WatchKind::Fetch, || {
                let (status, (class, size)) = match hit {
                    Some(found) => ("found", found),
                    None => ("not_found", (0, 0)),
                };
                let key = String::from_utf8_lossy(key);
                format!(
                    "type=item_get key={key} status={status} clsid={class} cfd={fd} size={size}"
                )
            });
            if hit.is_none() {
                store.stats.get_misses += 1;
                if present {
                    store.stats.get_expired += 1;
                }
                if touch.is_some() {
                    store.stats.touch_misses += 1;
                }
                continue;
            }
            store.stats.get_hits += 1;
            let Some((_, flags, cas, kv, nkey)) = found else {
                continue;
            };
            if let Some(e) = expires {
                store.touch(key, e);
                store.stats.touch_hits += 1;
                touched |= e.is_some();
            }
            // The value as it is now, sent once the store is unlocked (the other loops
            // wait for it no longer than the lookups take), or later as the output drains.
            self.pending.push_back(PendingValue {
                kv,
                nkey,
                flags,
                cas,
            });
        }
        drop(store);
        if touched {
            self.arm_if_expiring(cx);
        }
        self.pending_cas = with_cas;
        self.send_pending(cx)
    }

    /// The storage commands.
    pub(super) fn update(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        mode: Mode,
        (key, flags, exptime, noreply, data): (&[u8], u32, i64, bool, &[u8]),
    ) -> Result {
        if key.len() > KEY_MAX_LENGTH || exptime > i64::from(i32::MAX) {
            return client_error(cx, noreply, BAD_FORMAT);
        }
        let now = cx.channel().map().now();
        let outcome = {
            let mut store = lock(&self.store);
            store.tick(now);
            store.conns.seen(self.fd, now);
            store.stats.cmd_set += 1;
            store.detail(key, Detail::Set);
            if Store::too_large(key.len(), flags, data.len()) {
                store.stats.store_too_large += 1;
                if mode == Mode::Set {
                    // As memcached: no stale value stays behind a failed set.
                    store.remove(key);
                }
                drop(store);
                return reply(cx, noreply, memcache::ServerError { message: TOO_LARGE });
            }
            let expires = deadline(exptime, now);
            let existing = store
                .live(key, now)
                .map(|it| (it.cas, it.flags, it.expires, it.class, it.data().len()));
            let fd = self.fd;
            watch_log(cx.channel().map(), WatchKind::Fetch, || {
                let (status, class, size) = match existing {
                    Some((_, _, _, class, size)) => ("found", class, size),
                    None => ("not_found", 0, 0),
                };
                let key = String::from_utf8_lossy(key);
                format!(
                    "type=item_get key={key} status={status} clsid={class} cfd={fd} size={size}"
                )
            });
            let existing = existing.map(|(cas, flags, expires, _, _)| (cas, flags, expires));
            match (mode, existing) {
                (Mode::Set, _) | (Mode::Add, None) | (Mode::Replace, Some(_)) => {
                    match store.link(key, data, flags, expires, now) {
                        Ok(()) => Outcome::Stored(expires.is_some()),
                        Err(NoMemory) => Outcome::NoMemory,
                    }
                }
                (Mode::Add, Some(_)) | (Mode::Replace, None) => Outcome::NotStored,
                (Mode::Append | Mode::Prepend, None) => Outcome::NotStored,
                (Mode::Append | Mode::Prepend, Some((_, old_flags, old_expires))) => {
                    let old = store.items.get(key).map_or(&[][..], |it| it.data());
                    if Store::too_large(key.len(), old_flags, old.len() + data.len()) {
                        Outcome::NotStored
                    } else {
                        let mut joined = Vec::with_capacity(old.len() + data.len());
                        if mode == Mode::Append {
                            joined.extend_from_slice(old);
                            joined.extend_from_slice(data);
                        } else {
                            joined.extend_from_slice(data);
                            joined.extend_from_slice(old);
                        }
                        // The item keeps its flags and expiry.
                        match store.link(key, &joined, old_flags, old_expires, now) {
                            Ok(()) => Outcome::Stored(old_expires.is_some()),
                            Err(NoMemory) => Outcome::NoMemory,
                        }
                    }
                }
                (Mode::Cas(_), None) => {
                    store.stats.cas_misses += 1;
                    Outcome::NotFound
                }
                (Mode::Cas(unique), Some((cas, _, _))) => {
                    if unique == cas {
                        store.stats.cas_hits += 1;
                        if let Some(c) = store.class_stats(key) {
                            c.cas_hits += 1;
                        }
                        match store.link(key, data, flags, expires, now) {
                            Ok(()) => Outcome::Stored(expires.is_some()),
                            Err(NoMemory) => Outcome::NoMemory,
                        }
                    } else {
                        store.stats.cas_badval += 1;
                        if let Some(c) = store.class_stats(key) {
                            c.cas_badval += 1;
                        }
                        Outcome::Exists
                    }
                }
            }
        };
        let fd = self.fd;
        watch_log(cx.channel().map(), WatchKind::Mutation, || {
            let status = match outcome {
                Outcome::Stored(_) => "stored",
                Outcome::NotStored => "not_stored",
                Outcome::Exists => "exists",
                Outcome::NotFound => "not_found",
                Outcome::NoMemory => "no_memory",
            };
            let cmd = match mode {
                Mode::Set => "set",
                Mode::Add => "add",
                Mode::Replace => "replace",
                Mode::Append => "append",
                Mode::Prepend => "prepend",
                Mode::Cas(_) => "cas",
            };
            let ttl = deadline(exptime, Instant::now())
                .map_or(0, |d| d.saturating_duration_since(Instant::now()).as_secs());
            let key = String::from_utf8_lossy(key);
            let class = size_class(item_size(key.len(), flags, data.len()));
            format!(
                "type=item_store key={key} status={status} cmd={cmd} ttl={ttl} clsid={class} cfd={fd} size={}",
                data.len()
            )
        });
        match outcome {
            Outcome::Stored(expiring) => {
                if expiring {
                    self.arm_if_expiring(cx);
                }
                reply(cx, noreply, memcache::Stored {})
            }
            Outcome::NotStored => reply(cx, noreply, memcache::NotStored {}),
            Outcome::Exists => reply(cx, noreply, memcache::Exists {}),
            Outcome::NotFound => reply(cx, noreply, memcache::NotFound {}),
            Outcome::NoMemory => reply(cx, noreply, memcache::ServerError { message: NO_MEMORY }),
        }
    }

    /// `incr` and `decr`.
    pub(super) fn arithmetic(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        key: &[u8],
        delta: u64,
        noreply: bool,
        incr: bool,
    ) -> Result {
        if key.len() > KEY_MAX_LENGTH {
            return client_error(cx, noreply, BAD_FORMAT);
        }
        let result = {
            let mut store = lock(&self.store);
            let now = Instant::now();
            store.tick(now);
            match store.live(key, now) {
                None => {
                    if incr {
                        store.stats.incr_misses += 1;
                    } else {
                        store.stats.decr_misses += 1;
                    }
                    None
                }
                Some(item) => match parse_counter(item.data()) {
                    None => Some(None),
                    Some(value) => {
                        let value = if incr {
                            value.wrapping_add(delta)
                        } else {
                            value.saturating_sub(delta)
                        };
                        let mut text = value.to_string().into_bytes();
                        let (flags, expires, old_len) =
                            (item.flags, item.expires, item.data().len());
                        if text.len() < old_len {
                            // memcached rewrites the value in place, padded with spaces.
                            text.resize(old_len, b' ');
                        }
                        if let Some(c) = store.class_stats(key) {
                            if incr {
                                c.incr_hits += 1;
                            } else {
                                c.decr_hits += 1;
                            }
                        }
                        if incr {
                            store.stats.incr_hits += 1;
                        } else {
                            store.stats.decr_hits += 1;
                        }
                        Some(Some(
                            store.link(key, &text, flags, expires, now).map(|()| value),
                        ))
                    }
                },
            }
        };
        match result {
            None => reply(cx, noreply, memcache::NotFound {}),
            Some(None) => client_error(cx, noreply, NON_NUMERIC),
            Some(Some(Ok(value))) => reply(cx, noreply, memcache::Number { value }),
            Some(Some(Err(NoMemory))) => {
                reply(cx, noreply, memcache::ServerError { message: NO_MEMORY })
            }
        }
    }

    /// Sends `lines` as `STAT` lines, then `END`.
    pub(super) fn send_stats(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        lines: Vec<(String, String)>,
    ) -> Result {
        for (name, value) in &lines {
            cx.send(memcache::Stat {
                name: name.as_bytes(),
                value: value.as_bytes(),
            })?;
        }
        cx.send(memcache::End {})
    }

    pub(super) fn arm_if_expiring(&mut self, cx: &mut ServerCx<'_, '_>) {
        arm_sweep(cx.channel().map(), &self.store);
    }
}
