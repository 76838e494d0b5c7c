//! Connection and server commands: `PING`, `ECHO`, `QUIT`, `SELECT`, `CLIENT`, `COMMAND`, `CONFIG`, `INFO`.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("ping", -1, false),
    spec("echo", 2, false),
    spec("select", 2, false),
    spec("client", -2, false),
    spec("command", -1, false),
    spec("config", -2, false),
    spec("info", -1, false),
    spec("quit", -1, false),
];

/// Subcommands of the container commands, with their arity.
pub(crate) const SUBCOMMANDS: &[(&str, &[Spec])] = &[
    (
        "client",
        &[
            spec("id", 2, false),
            spec("setname", 3, false),
            spec("getname", 2, false),
        ],
    ),
    (
        "command",
        &[spec("count", 2, false), spec("docs", -2, false)],
    ),
    ("config", &[spec("get", -3, false)]),
];

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_server(
        &mut self,
        name: &str,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "ping" => match args.get(1) {
                None => out.simple("PONG"),
                Some(m) if args.len() == 2 => out.bulk(m),
                Some(_) => out.error("ERR wrong number of arguments for 'ping' command"),
            },
            "echo" => out.bulk(args[1]),
            "quit" => {
                out.simple("OK");
                return Some(Flow::Close);
            }
            "select" => match parse_i64(args[1]) {
                Some(0) => out.simple("OK"),
                Some(i) if i32::try_from(i).is_ok() => out.error("ERR DB index is out of range"),
                _ => out.error(NOT_INTEGER),
            },
            "client" => out.error("ERR wrong number of arguments for 'client' command"),
            "client|id" => out.integer(session.id as i64),
            "client|getname" => match &session.name {
                Some(n) => out.bulk(n),
                None => out.nil(),
            },
            "client|setname" => {
                let n = args[2];
                if n.iter().any(|b| !(b'!'..=b'~').contains(b)) {
                    out.error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                } else {
                    session.name = (!n.is_empty()).then(|| n.to_vec());
                    out.simple("OK");
                }
            }
            "command" => out.array(0),
            "command|count" => out.integer(command_count() as i64),
            "command|docs" => out.array(0),
            "config" => out.error("ERR wrong number of arguments for 'config' command"),
            "config|get" => self.config_get(&args[2..], out),
            "info" => self.info(&args[1..], now, out),
            _ => return None,
        }
        Some(Flow::Continue)
    }

    fn config_get(&mut self, patterns: &[&[u8]], out: &mut impl Replies) {
        let max = self.limits.max_memory.to_string();
        let params: [(&str, &str); 4] = [
            ("save", ""),
            ("appendonly", "no"),
            ("maxmemory", &max),
            ("databases", "1"),
        ];
        let found: Vec<(&str, &str)> = params
            .iter()
            .filter(|(p, _)| {
                patterns
                    .iter()
                    .any(|pat| glob_match(&pat.to_ascii_lowercase(), p.as_bytes()))
            })
            .copied()
            .collect();
        out.array(found.len() * 2);
        for (p, v) in found {
            out.bulk(p.as_bytes());
            out.bulk(v.as_bytes());
        }
    }
    pub(super) fn info(&mut self, sections: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let wanted = |s: &str| {
            sections.is_empty()
                || sections.iter().any(|w| {
                    w.eq_ignore_ascii_case(s.as_bytes())
                        || w.eq_ignore_ascii_case(b"all")
                        || w.eq_ignore_ascii_case(b"default")
                        || w.eq_ignore_ascii_case(b"everything")
                })
        };
        let mut text = String::new();
        let mut section = |name: &str, body: String| {
            if wanted(&name.to_ascii_lowercase()) {
                if !text.is_empty() {
                    text.push_str("\r\n");
                }
                let _ = write!(text, "# {name}\r\n{body}");
            }
        };
        let st = self.stats;
        section(
            "Server",
            format!(
                "redis_version:7.0.0\r\nredis_mode:standalone\r\nserver_name:asyncore-resp-server\r\n\
                 arch_bits:{}\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\n",
                usize::BITS,
                std::process::id(),
                now.saturating_duration_since(st.started).as_secs()
            ),
        );
        section(
            "Clients",
            format!(
                "connected_clients:{}\r\nblocked_clients:{}\r\n",
                st.clients,
                self.blocked_clients()
            ),
        );
        section(
            "Memory",
            format!(
                "used_memory:{}\r\nmaxmemory:{}\r\nmaxmemory_policy:noeviction\r\n",
                self.used, self.limits.max_memory
            ),
        );
        section(
            "Stats",
            format!(
                "total_connections_received:{}\r\ntotal_commands_processed:{}\r\nexpired_keys:{}\r\n",
                st.connections, st.commands, st.expired
            ),
        );
        let keyspace = if self.data.is_empty() {
            String::new()
        } else {
            format!(
                "db0:keys={},expires={},avg_ttl=0\r\n",
                self.data.len(),
                self.deadlines.len()
            )
        };
        section("Keyspace", keyspace);
        out.bulk(text.as_bytes());
    }
}
