//! An MQTT 3.1.1 broker generated from `protocols/descriptions/mqtt.proto`: QoS 0, 1 and
//! 2, `+` and `#` wildcards, retained messages, wills and keep-alive.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example mqtt-broker -- --listen 127.0.0.1:1883
//! mosquitto_sub -h 127.0.0.1 -t 'a/#' -v &
//! mosquitto_pub -h 127.0.0.1 -t a/b -m hi
//! ```

use asyncore_examples::cli;
use asyncore_examples::mqtt_broker::{Config, MqttServer, StderrLogger, MAX_PAYLOAD_LIMIT};
use asyncore_examples::resp_server::parse_size;
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:1883");
    // One broker per process: several loops would each have their own subscriptions.
    flags.retain(|f| f.name != "threads");
    flags.push(cli::Flag {
        name: "max-payload",
        value: "SIZE",
        default: Some("1MiB"),
        help: "Close a connection that publishes a longer message (bytes, or KiB/MiB; at most 16711677)",
    });
    flags.push(cli::Flag {
        name: "log-level",
        value: "off|error|warn|info|debug",
        default: Some("info"),
        help: "What the broker logs on standard error",
    });
    let args = cli::parse_or_exit(
        "An MQTT 3.1.1 broker: QoS 0, 1 and 2, wildcards, retained messages, wills and \
         keep-alive. It runs one loop (no --threads): all connections share one broker.",
        &flags,
    );
    let parsed = ServerConfig::from_args(&args).and_then(|server| {
        let max = args.get("max-payload").unwrap_or("1MiB");
        let max_payload = parse_size(max)
            .filter(|&n| n <= MAX_PAYLOAD_LIMIT)
            .ok_or_else(|| {
                format!(
                    "--max-payload takes a size of at most {MAX_PAYLOAD_LIMIT} bytes, such as \
                     65536, 256KiB or 1MiB, not `{max}`"
                )
            })?;
        let level = args.get("log-level").unwrap_or("info");
        let level: log::LevelFilter = level.parse().map_err(|_| {
            format!("--log-level takes off, error, warn, info or debug, not `{level}`")
        })?;
        Ok((server, Config::with_max_payload(max_payload), level))
    });
    let (server, config, level) = match parsed {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mqtt-broker: {e}");
            std::process::exit(2);
        }
    };
    let _ = StderrLogger::install(level);
    if let Err(e) = serve(&server, move || MqttServer::new(config.clone())) {
        eprintln!("mqtt-broker: {e}");
        std::process::exit(1);
    }
}
