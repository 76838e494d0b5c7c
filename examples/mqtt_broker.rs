//! An MQTT 3.1.1 broker generated from `protocols/descriptions/mqtt.aproto`: QoS 0, 1 and
//! 2, `+` and `#` wildcards, retained messages, wills and keep-alive.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example mqtt-broker -- --listen 127.0.0.1:1883
//! mosquitto_sub -h 127.0.0.1 -t 'a/#' -v &
//! mosquitto_pub -h 127.0.0.1 -t a/b -m hi
//! cargo run --release -p asyncore-examples --example mqtt-broker -- --tls-cert cert.pem --tls-key key.pem
//! mosquitto_sub --cafile cert.pem -h localhost -t 'a/#' -v
//! ```

use asyncore_examples::cli::{self, ServerArgs, TlsArgs};
use asyncore_examples::mqtt_broker::{Config, MqttServer, StderrLogger, MAX_PAYLOAD_LIMIT};
use asyncore_examples::server::serve;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Parser;

/// An MQTT 3.1.1 broker: QoS 0, 1 and 2, wildcards, retained messages, wills and
/// keep-alive. It runs one loop (no --threads): all connections share one broker.
#[derive(Debug, Parser)]
#[command(name = "mqtt-broker", version, args_override_self = true)]
struct Cli {
    // One broker per process: several loops would each have their own subscriptions.
    #[command(flatten)]
    server: ServerArgs<1883>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Close a connection that publishes a longer message (bytes, or KiB/MiB; at most
    /// 16711677)
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = cli::size(0, MAX_PAYLOAD_LIMIT))]
    max_payload: usize,
    /// What the broker logs on standard error
    #[arg(
        long,
        value_name = "LEVEL",
        default_value = "info",
        ignore_case = true,
        value_parser = PossibleValuesParser::new(["off", "error", "warn", "info", "debug", "trace"])
            .map(|level| level.parse::<log::LevelFilter>().expect("a level of the list")),
    )]
    log_level: log::LevelFilter,
}

fn main() {
    let cli = Cli::parse();
    let config = Config::with_max_payload(cli.max_payload);
    let tls = cli.tls.server_config::<Cli>();
    let _ = StderrLogger::install(cli.log_level);
    if let Err(e) = serve(&cli.server.config(1), move || {
        MqttServer::new(config.clone()).with_tls(tls.clone())
    }) {
        eprintln!("mqtt-broker: {e}");
        std::process::exit(1);
    }
}
