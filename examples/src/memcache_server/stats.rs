//! The `stats` groups (general, `items`, `slabs`, `settings`, `conns`, `detail`), as
//! memcached names and computes them.

use super::*;

/// One `STAT name value` line.
pub(super) type StatLine = (String, String);

pub(super) fn stat(name: impl Into<String>, value: impl ToString) -> StatLine {
    (name.into(), value.to_string())
}

impl Store {
    /// The general group (`stats`): memcached's names, with this server's values.
    /// Besides the command counters of [`Stats`]: `bytes` is the bytes of the items as
    /// [`item_size`] counts them, `limit_maxbytes` the memory limit, `threads` the loops,
    /// `evictions`, `reclaimed`, `evicted_unfetched` and `expired_unfetched` what the
    /// memory limit and expiry dropped, and `conn_yields` the times a connection let
    /// the others of its loop go first with requests still waiting, after
    /// [`MESSAGE_BUDGET`](asyncore_runtime::wire::MESSAGE_BUDGET) requests in one pass
    /// (memcached's `-R`; the count is the process's).
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let lines = Store::new().general_stats();
    /// assert!(lines.iter().any(|(n, v)| n == "limit_maxbytes" && v == "67108864"));
    /// ```
    pub fn general_stats(&mut self) -> Vec<(String, String)> {
        self.tick(Instant::now());
        let s = &self.stats;
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        vec![
            stat("pid", std::process::id()),
            stat("uptime", self.started.elapsed().as_secs()),
            stat("time", unix_now),
            stat("version", VERSION),
            stat("pointer_size", usize::BITS),
            stat("curr_connections", s.curr_connections),
            stat("total_connections", s.total_connections),
            stat("cmd_get", s.cmd_get),
            stat("cmd_set", s.cmd_set),
            stat("cmd_flush", s.cmd_flush),
            stat("cmd_touch", s.cmd_touch),
            stat("get_hits", s.get_hits),
            stat("get_misses", s.get_misses),
            stat("get_expired", s.get_expired),
            // flush_all drops the items at once: no get finds one flushed.
            stat("get_flushed", 0),
            stat("delete_misses", s.delete_misses),
            stat("delete_hits", s.delete_hits),
            stat("incr_misses", s.incr_misses),
            stat("incr_hits", s.incr_hits),
            stat("decr_misses", s.decr_misses),
            stat("decr_hits", s.decr_hits),
            stat("cas_misses", s.cas_misses),
            stat("cas_hits", s.cas_hits),
            stat("cas_badval", s.cas_badval),
            stat("touch_hits", s.touch_hits),
            stat("touch_misses", s.touch_misses),
            stat("store_too_large", s.store_too_large),
            stat("store_no_memory", s.store_no_memory),
            stat("accepting_conns", 1),
            stat("limit_maxbytes", self.settings.maxbytes),
            stat("threads", self.settings.threads),
            stat("conn_yields", asyncore_runtime::wire::budget_yields()),
            stat("bytes", self.bytes),
            stat("curr_items", self.items.len()),
            stat("total_items", s.total_items),
            stat("expired_unfetched", s.expired_unfetched),
            stat("evicted_unfetched", s.evicted_unfetched),
            stat("evictions", s.evictions),
            stat("reclaimed", s.reclaimed),
            // No item is ever held by a reference while the LRU is walked.
            stat("lrutail_reflocked", 0),
        ]
    }

    /// `stats cachedump <class> <limit>`: the items of a size class ([`size_class`]),
    /// most recently used first, at most `limit` (0: all, within 2 MiB of reply, as
    /// memcached): key, value bytes, and expiry as a Unix time (0 for never). `None` for
    /// a class that does not exist.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let mut store = Store::new();
    /// assert_eq!(store.cache_dump(1, 0), Some(vec![]));
    /// assert_eq!(store.cache_dump(0, 0), None);
    /// ```
    pub fn cache_dump(&mut self, class: usize, limit: usize) -> Option<Vec<(Vec<u8>, usize, u64)>> {
        let now = Instant::now();
        self.tick(now);
        let c = self.classes.get(class.checked_sub(1)?)?;
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut out = Vec::new();
        let mut size = 0;
        for key in c.lru.values().rev().take(limit) {
            let Some(item) = self.items.get(key) else {
                continue;
            };
            size += key.len() + 32;
            if size > 2 * 1024 * 1024 {
                break;
            }
            let exptime = item
                .expires
                .map_or(0, |d| unix_now + d.saturating_duration_since(now).as_secs());
            out.push((key.clone(), item.data().len(), exptime));
        }
        Some(out)
    }

    /// `stats items`: per size class holding items ([`size_class`]), `items:N:FIELD`,
    /// with memcached's fields:
    ///
    /// * `number`: items held; `number_cold` the same (one LRU per class, which
    ///   memcached would call cold); `number_hot`, `number_warm`, `age_hot`, `age_warm`: 0
    ///   (no hot or warm LRU);
    /// * `age`: seconds since the least recently used item of the class was used;
    /// * `mem_requested`: the bytes of its items ([`item_size`]);
    /// * `evicted`, `evicted_nonzero` (of those, items with an expiry), `evicted_time`
    ///   (seconds since the last evicted item was used), `evicted_unfetched`: items
    ///   dropped under the memory limit; `outofmemory`: stores refused, the item being
    ///   larger than the limit; `reclaimed`: stores in the room of an expired item;
    ///   `expired_unfetched`: items that expired before a get command returned them;
    ///   `direct_reclaims`: `evicted` plus `reclaimed` (every eviction is made by the
    ///   store that needs the room); `hits_to_cold`: get hits;
    /// * `tailrepairs`, `evicted_active`, `crawler_reclaimed`, `crawler_items_checked`,
    ///   `lrutail_reflocked`, `moves_to_cold`, `moves_to_warm`, `moves_within_lru`,
    ///   `hits_to_hot`, `hits_to_warm`, `hits_to_temp`: 0, there being no LRU crawler, no
    ///   item references to repair and no segmented LRU.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// assert!(Store::new().item_stats().is_empty());
    /// ```
    pub fn item_stats(&mut self) -> Vec<(String, String)> {
        let now = Instant::now();
        self.tick(now);
        let mut out = Vec::new();
        for (i, c) in self.classes.iter().enumerate() {
            let Some((_, key)) = c.lru.first_key_value() else {
                continue;
            };
            let n = i + 1;
            let number = c.lru.len();
            let age = self
                .items
                .get(key)
                .map_or(0, |it| now.saturating_duration_since(it.used).as_secs());
            let s = &c.stats;
            let fields: [(&str, u64); 28] = [
                ("number", number as u64),
                ("number_hot", 0),
                ("number_warm", 0),
                ("number_cold", number as u64),
                ("age_hot", 0),
                ("age_warm", 0),
                ("age", age),
                ("mem_requested", c.mem_requested as u64),
                ("evicted", s.evicted),
                ("evicted_nonzero", s.evicted_nonzero),
                ("evicted_time", s.evicted_time),
                ("outofmemory", s.outofmemory),
                ("tailrepairs", 0),
                ("reclaimed", s.reclaimed),
                ("expired_unfetched", s.expired_unfetched),
                ("evicted_unfetched", s.evicted_unfetched),
                ("evicted_active", 0),
                ("crawler_reclaimed", 0),
                ("crawler_items_checked", 0),
                ("lrutail_reflocked", 0),
                ("moves_to_cold", 0),
                ("moves_to_warm", 0),
                ("moves_within_lru", 0),
                ("direct_reclaims", s.evicted + s.reclaimed),
                ("hits_to_hot", 0),
                ("hits_to_warm", 0),
                ("hits_to_cold", s.get_hits),
                ("hits_to_temp", 0),
            ];
            out.extend(
                fields
                    .iter()
                    .map(|(f, v)| stat(format!("items:{n}:{f}"), v)),
            );
        }
        out
    }

    /// `stats slabs`: per size class holding items, `N:FIELD`, with memcached's fields.
    /// This server allocates each item on its own, not in slabs, so the page and chunk
    /// counts are those of the class's items laid out in memcached's 1 MiB pages:
    ///
    /// * `chunk_size`: the class's largest item ([`class_sizes`]); `chunks_per_page`:
    ///   how many fit in 1 MiB;
    /// * `used_chunks`: items held (an item over [`SLAB_CHUNK_MAX`] counts as the chunks
    ///   it would span); `total_pages`: the pages those take; `total_chunks`: their
    ///   chunks; `free_chunks`: the difference; `free_chunks_end`: 0;
    /// * `get_hits`, `cmd_set`, `delete_hits`, `incr_hits`, `decr_hits`, `cas_hits`,
    ///   `cas_badval`, `touch_hits`: the commands that found or stored an item of the
    ///   class;
    ///
    /// then `active_slabs`, the classes listed, and `total_malloced`, the bytes of those
    /// pages (what memcached would have taken from the system for these items).
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let lines = Store::new().slab_stats();
    /// assert_eq!(lines[0], ("active_slabs".to_string(), "0".to_string()));
    /// ```
    pub fn slab_stats(&mut self) -> Vec<(String, String)> {
        self.tick(Instant::now());
        let sizes = class_sizes();
        let mut out = Vec::new();
        let mut active = 0;
        let mut malloced = 0;
        for (i, c) in self.classes.iter().enumerate() {
            if c.lru.is_empty() {
                continue;
            }
            active += 1;
            let n = i + 1;
            let chunk = sizes[i];
            let per_page = (SLAB_PAGE_SIZE / chunk) as u64;
            let used: u64 = if chunk == SLAB_CHUNK_MAX {
                c.lru
                    .values()
                    .filter_map(|k| self.items.get(k))
                    .map(|it| it.size.div_ceil(SLAB_CHUNK_MAX) as u64)
                    .sum()
            } else {
                c.lru.len() as u64
            };
            let pages = used.div_ceil(per_page);
            malloced += pages as usize * SLAB_PAGE_SIZE;
            let s = &c.stats;
            let fields: [(&str, u64); 15] = [
                ("chunk_size", chunk as u64),
                ("chunks_per_page", per_page),
                ("total_pages", pages),
                ("total_chunks", pages * per_page),
                ("used_chunks", used),
                ("free_chunks", pages * per_page - used),
                ("free_chunks_end", 0),
                ("get_hits", s.get_hits),
                ("cmd_set", s.cmd_set),
                ("delete_hits", s.delete_hits),
                ("incr_hits", s.incr_hits),
                ("decr_hits", s.decr_hits),
                ("cas_hits", s.cas_hits),
                ("cas_badval", s.cas_badval),
                ("touch_hits", s.touch_hits),
            ];
            out.extend(fields.iter().map(|(f, v)| stat(format!("{n}:{f}"), v)));
        }
        out.push(stat("active_slabs", active));
        out.push(stat("total_malloced", malloced));
        out
    }

    /// `stats settings`: memcached's names for what this server does:
    ///
    /// * `maxbytes`: the memory limit for items (`-m`); `item_size_max`: 1 MiB;
    ///   `evictions on`: the least recently used items go when it is reached;
    /// * `maxconns`: the open-file limit, which is what bounds the connections;
    /// * `tcpport`, `inter`: the address listened on; `udpport 0`; `domain_socket NULL`;
    ///   `shutdown_command no`;
    /// * `num_threads`: the loops; `num_threads_per_udp 0`;
    /// * `verbosity`: the last `verbosity` level (it changes nothing);
    /// * `growth_factor 1.25`, `chunk_size 48`, `slab_chunk_max 524288`: memcached's
    ///   defaults, from which the size classes of `stats items` and `stats slabs` come;
    ///   `slab_reassign no`; `slab_automove`: the last `slabs automove` level (accepted,
    ///   with no slabs to move);
    /// * `reqs_per_event`: [`MESSAGE_BUDGET`](asyncore_runtime::wire::MESSAGE_BUDGET);
    /// * `cas_enabled yes`, `flush_enabled yes`, `detail_enabled no`,
    ///   `binding_protocol ascii`, `auth_enabled_sasl no`, `auth_enabled_ascii no`,
    ///   `lru_crawler no`, `lru_maintainer_thread no`, `lru_segmented no`, `temp_lru no`,
    ///   `idle_timeout 0`, `hash_algorithm siphash`, `ssl_enabled no`.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// let lines = Store::new().settings_stats();
    /// assert!(lines.iter().any(|(n, v)| n == "maxbytes" && v == "67108864"));
    /// ```
    pub fn settings_stats(&self) -> Vec<(String, String)> {
        let (inter, port) = match self.settings.listen.rsplit_once(':') {
            Some((host, port)) => (host.trim_matches(['[', ']']).to_string(), port.to_string()),
            None => ("NULL".to_string(), "0".to_string()),
        };
        let maxconns = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        vec![
            stat("maxbytes", self.settings.maxbytes),
            stat("maxconns", maxconns),
            stat("tcpport", port),
            stat("udpport", 0),
            stat("inter", inter),
            stat("verbosity", self.verbosity),
            stat("oldest", 0),
            stat("evictions", "on"),
            stat("domain_socket", "NULL"),
            stat("shutdown_command", "no"),
            stat("growth_factor", "1.25"),
            stat("chunk_size", 48),
            stat("num_threads", self.settings.threads),
            stat("num_threads_per_udp", 0),
            stat("stat_key_prefix", ":"),
            stat("detail_enabled", "no"),
            stat("reqs_per_event", asyncore_runtime::wire::MESSAGE_BUDGET),
            stat("cas_enabled", "yes"),
            stat("tcp_backlog", 1024),
            stat("binding_protocol", "ascii"),
            stat("auth_enabled_sasl", "no"),
            stat("auth_enabled_ascii", "no"),
            stat("item_size_max", ITEM_SIZE_MAX),
            stat("slab_reassign", "no"),
            stat("slab_automove", self.automove),
            stat("slab_chunk_max", SLAB_CHUNK_MAX),
            stat("lru_crawler", "no"),
            stat("flush_enabled", "yes"),
            stat("hash_algorithm", "siphash"),
            stat("lru_maintainer_thread", "no"),
            stat("lru_segmented", "no"),
            stat("temp_lru", "no"),
            stat("idle_timeout", 0),
            stat("ssl_enabled", "no"),
        ]
    }

    /// Counts a command on `key` for `stats detail`, if it is on: the key's prefix is
    /// what comes before its first `:` (keys without one are not counted).
    pub(super) fn detail(&mut self, key: &[u8], what: Detail) {
        if !self.detail {
            return;
        }
        let Some(end) = key.iter().position(|&b| b == b':') else {
            return;
        };
        let prefix = &key[..end];
        if !self.prefixes.contains_key(prefix) {
            if self.prefixes.len() >= PREFIXES_MAX {
                return;
            }
            self.prefixes
                .insert(prefix.to_vec(), PrefixStats::default());
        }
        if let Some(p) = self.prefixes.get_mut(prefix) {
            match what {
                Detail::Get { hit } => {
                    p.get += 1;
                    p.hit += u64::from(hit);
                }
                Detail::Set => p.set += 1,
                Detail::Del => p.del += 1,
            }
        }
    }

    /// `stats conns`, by descriptor: for each listening socket that accepted a
    /// connection, `FD:addr` (`tcp:HOST:PORT`) and `FD:state conn_listening`; for each open
    /// connection, `FD:addr`, `FD:listen_addr`, `FD:state conn_parse_cmd` (every
    /// connection is read as its commands arrive; a connection in the middle of a data
    /// block is not told apart, as memcached's `conn_nread` would be) and
    /// `FD:secs_since_last_cmd`.
    ///
    /// ```
    /// use asyncore_examples::memcache_server::Store;
    /// assert!(Store::new().conn_stats().is_empty());
    /// ```
    pub fn conn_stats(&self) -> Vec<(String, String)> {
        let now = Instant::now();
        let mut out = Vec::new();
        let mut listeners = self.listeners.iter().peekable();
        for (fd, c, last) in self.conns.iter() {
            while let Some((lfd, addr)) = listeners.next_if(|(lfd, _)| **lfd < fd) {
                out.push(stat(format!("{lfd}:addr"), format!("tcp:{addr}")));
                out.push(stat(format!("{lfd}:state"), "conn_listening"));
            }
            let addr = c.addr.as_ref().map_or_else(String::new, |a| a.to_string());
            let listen = self.listeners.get(&c.listen_fd).map_or("", String::as_str);
            out.push(stat(format!("{fd}:addr"), format!("tcp:{addr}")));
            out.push(stat(format!("{fd}:listen_addr"), format!("tcp:{listen}")));
            out.push(stat(format!("{fd}:state"), "conn_parse_cmd"));
            let idle = now.saturating_duration_since(last).as_secs();
            out.push(stat(format!("{fd}:secs_since_last_cmd"), idle));
        }
        for (lfd, addr) in listeners {
            out.push(stat(format!("{lfd}:addr"), format!("tcp:{addr}")));
            out.push(stat(format!("{lfd}:state"), "conn_listening"));
        }
        out
    }

    /// `stats reset`: the counters start again (the open connections stay counted).
    pub(super) fn reset_stats(&mut self) {
        self.prefixes.clear();
        let curr = self.stats.curr_connections;
        self.stats = Stats {
            curr_connections: curr,
            ..Stats::default()
        };
        for c in &mut self.classes {
            c.stats = ClassStats::default();
        }
    }
}
