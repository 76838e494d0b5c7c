//! An MQTT 3.1.1 broker generated from `protocols/descriptions/mqtt.aproto`: every packet
//! it reads is decoded, and every packet it writes is encoded, by the types `protocol!`
//! makes of the description.
//!
//! What it does:
//!
//! * `CONNECT`/`CONNACK`: return code 1 for a protocol level other than 4, 2 for an empty
//!   client id without a clean session; an empty client id with a clean session gets one
//!   of the broker's making; a second connection with the id of a connected client ends
//!   the first (its will is published); a second `CONNECT` on one connection closes it.
//! * `SUBSCRIBE`/`SUBACK` with `+` and `#` (filters are checked: `0x80` for an invalid
//!   one), `UNSUBSCRIBE`/`UNSUBACK`.
//! * `PUBLISH` at QoS 0, 1 (`PUBACK`) and 2 (`PUBREC`, then `PUBCOMP` for the `PUBREL`; a
//!   repeated packet identifier is not delivered twice); each matching subscriber gets the
//!   message once, at the lower of the publish QoS and the highest QoS it was granted on
//!   a matching filter, in the order the broker received them. A client subscribed to the
//!   topic it publishes on gets its own message.
//! * Retained messages: stored per topic, sent with the retain flag to a new matching
//!   subscription, cleared by an empty retained message.
//! * `PINGREQ`/`PINGRESP`; keep-alive: a client silent for one and a half times its
//!   keep-alive is disconnected, on the loop's timers.
//! * `DISCONNECT` drops the will; a connection that ends any other way publishes it.
//! * MQTT over TLS ([`MqttServer::with_tls`], `--tls-cert`/`--tls-key`): every connection
//!   is TLS from its first byte; a client that does not start a handshake is closed.
//!
//! Limits: a `PUBLISH` whose payload is over [`Config::max_payload`] closes its
//! connection (logged at the info level). The packet is read whole before its payload is
//! measured, so what one connection buffers is bounded by the description's largest
//! packet (16 MiB), whatever the limit; a longer packet is refused as soon as its length
//! is read. A subscriber that does not read has at most
//! [`Config::output_limit`] bytes waiting: beyond, QoS 0 messages to it are dropped, and a
//! QoS 1 or 2 message disconnects it (both logged).
//!
//! Not kept: sessions outlive no connection (`CONNACK` always says "no session present",
//! even without a clean session), and messages in flight are not sent again.
//!
//! ```no_run
//! use asyncore_examples::mqtt_broker::{Config, MqttServer};
//! use asyncore_examples::server::{serve, ServerConfig};
//! # fn main() -> std::io::Result<()> {
//! let config = ServerConfig {
//!     listen: "127.0.0.1:1883".parse().unwrap(),
//!     backend: Default::default(),
//!     threads: 1,
//! };
//! serve(&config, || MqttServer::new(Config::default()))
//! # }
//! ```

mod broker;
pub mod topic;

pub use broker::{Broker, SharedBroker, Stats};

use broker::{show, Message, Peer};

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use asyncore_runtime::wire::{DecodeError, Seq};
use asyncore_runtime::{
    dispatcher, protocol, Addr, Channel, Dispatcher, Map, Result, Socket, TimerId,
};

use topic::{check_filter, check_name};

protocol!(pub mod mqtt = "../protocols/descriptions/mqtt.aproto");

/// The default of [`Config::max_payload`]: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// The largest [`Config::max_payload`]: whatever the topic, a `PUBLISH` with such a
/// payload fits in the description's largest packet (16 MiB of remaining length).
pub const MAX_PAYLOAD_LIMIT: usize = 16 * 1024 * 1024 - (2 + 65535 + 2);

/// How the broker is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The largest application message: a `PUBLISH` (or a will) with a longer payload
    /// closes its connection.
    pub max_payload: usize,
    /// The most bytes waiting to be sent to one client: beyond, QoS 0 messages to it are
    /// dropped and a QoS 1 or 2 message disconnects it.
    pub output_limit: usize,
}

impl Config {
    /// A configuration for payloads of at most `max_payload` bytes (at most
    /// [`MAX_PAYLOAD_LIMIT`]), with an output limit of 4 MiB or, for large payloads, room
    /// for two of the largest packets.
    ///
    /// ```
    /// use asyncore_examples::mqtt_broker::Config;
    /// let c = Config::with_max_payload(64 * 1024 * 1024);
    /// assert!(c.max_payload < 16 * 1024 * 1024);
    /// assert!(c.output_limit >= 2 * c.max_payload);
    /// ```
    pub fn with_max_payload(max_payload: usize) -> Config {
        let max_payload = max_payload.min(MAX_PAYLOAD_LIMIT);
        Config {
            max_payload,
            output_limit: (4 * 1024 * 1024).max(2 * (max_payload + 65536 + 8)),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::with_max_payload(DEFAULT_MAX_PAYLOAD)
    }
}

/// One client connection: the server side of `mqtt.aproto`, made a channel by
/// `#[dispatcher]`.
#[derive(Debug)]
pub struct Connection {
    broker: SharedBroker,
    /// The client id, once connected.
    client_id: Option<Vec<u8>>,
    /// One and a half times the keep-alive, when there is one.
    keep_alive: Option<Duration>,
    last_packet: Instant,
    timer: Option<TimerId>,
    /// QoS 2 packet identifiers delivered and waiting for their PUBREL.
    awaiting_rel: HashSet<u16>,
}

impl Connection {
    /// A connection to `broker`.
    pub fn new(broker: SharedBroker) -> Connection {
        Connection {
            broker,
            client_id: None,
            keep_alive: None,
            last_packet: Instant::now(),
            timer: None,
            awaiting_rel: HashSet::new(),
        }
    }

    fn touch(&mut self) {
        if self.keep_alive.is_some() {
            self.last_packet = Instant::now();
        }
    }

    fn name(&self, cx: &mut mqtt::ServerCx<'_, '_>) -> String {
        match &self.client_id {
            Some(id) => format!("client {}", show(id)),
            None => cx.channel().to_string(),
        }
    }

    /// Closes the connection for a protocol error, with a log line.
    fn violation(&self, cx: &mut mqtt::ServerCx<'_, '_>, what: &str) {
        log::info!("{}: {what}; closing", self.name(cx));
        cx.close();
    }
}

fn will_of(msg: &mqtt::Connect<'_>) -> std::result::Result<Option<Message>, String> {
    if msg.will == 0 {
        if msg.will_qos != 0 || msg.will_retain != 0 {
            return Err("will QoS or retain flag without a will".into());
        }
        return Ok(None);
    }
    if msg.will_qos > 2 {
        return Err("will QoS 3".into());
    }
    let topic = msg.will_topic.unwrap_or_default();
    check_name(topic).map_err(|e| format!("will topic: {e}"))?;
    Ok(Some(Message {
        topic: topic.to_vec(),
        payload: msg.will_message.unwrap_or_default().to_vec(),
        qos: msg.will_qos,
        retain: msg.will_retain == 1,
    }))
}

#[dispatcher(protocol = mqtt, role = server)]
impl Connection {
    fn on_open(&mut self, cx: &mut mqtt::ServerCx<'_, '_>) -> Result {
        let limit = self.broker.borrow().config().output_limit;
        cx.channel()
            .set_output_limits(asyncore_runtime::DEFAULT_HIGH_WATER, limit);
        Ok(())
    }

    fn on_connect(
        &mut self,
        cx: &mut mqtt::ServerCx<'_, '_>,
        msg: mqtt::Connect<'_>,
    ) -> Result<mqtt::ConnectNext> {
        let refuse = |cx: &mut mqtt::ServerCx<'_, '_>, code: u8| {
            cx.send(mqtt::ConnAck {
                session_present: 0,
                code,
            })
            .map(|()| mqtt::ConnectNext::Close)
        };
        if msg.level != 4 {
            log::info!("{}: protocol level {}, refused", cx.channel(), msg.level);
            return refuse(cx, 1);
        }
        let will = match will_of(&msg) {
            Ok(w) => w,
            Err(e) => {
                self.violation(cx, &e);
                return Ok(mqtt::ConnectNext::Close);
            }
        };
        if msg.password == 1 && msg.username == 0 {
            self.violation(cx, "password without a user name");
            return Ok(mqtt::ConnectNext::Close);
        }
        if std::str::from_utf8(msg.client_id).is_err() {
            self.violation(cx, "client id is not UTF-8");
            return Ok(mqtt::ConnectNext::Close);
        }
        if let Some(w) = &will {
            if w.payload.len() > self.broker.borrow().config().max_payload {
                self.violation(cx, "will message over the payload limit");
                return Ok(mqtt::ConnectNext::Close);
            }
        }
        if msg.client_id.is_empty() && msg.clean_session == 0 {
            log::info!(
                "{}: empty client id without a clean session, refused",
                cx.channel()
            );
            return refuse(cx, 2);
        }
        let me = cx.channel().token();
        let broker = self.broker.clone();
        let mut broker = broker.borrow_mut();
        let client_id = if msg.client_id.is_empty() {
            broker.auto_id()
        } else {
            msg.client_id.to_vec()
        };
        log::debug!("{}: client {} connected", cx.channel(), show(&client_id));
        self.client_id = Some(client_id.clone());
        cx.send(mqtt::ConnAck {
            session_present: 0,
            code: 0,
        })?;
        broker.join(cx, me, client_id, will);
        if msg.keep_alive > 0 {
            let period = Duration::from_millis(u64::from(msg.keep_alive) * 1500);
            self.keep_alive = Some(period);
            self.last_packet = Instant::now();
            self.timer = Some(cx.channel().set_timer(period));
        }
        Ok(mqtt::ConnectNext::Session)
    }

    fn on_publish(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, msg: mqtt::Publish<'_>) -> Result {
        self.touch();
        let max = self.broker.borrow().config().max_payload;
        if msg.payload.len() > max {
            let what = format!(
                "PUBLISH on {} with a payload of {} bytes, over the limit of {max}",
                show(msg.topic),
                msg.payload.len()
            );
            self.violation(cx, &what);
            return Ok(());
        }
        if msg.qos == 3 {
            self.violation(cx, "PUBLISH at QoS 3");
            return Ok(());
        }
        if let Err(e) = check_name(msg.topic) {
            let what = format!("PUBLISH on an invalid topic ({e})");
            self.violation(cx, &what);
            return Ok(());
        }
        let retain = msg.retain == 1;
        let broker = self.broker.clone();
        let mut broker = broker.borrow_mut();
        match (msg.qos, msg.packet_id) {
            (1, Some(packet_id)) => {
                broker.publish(cx, msg.topic, msg.payload, 1, retain);
                cx.send(mqtt::PubAck { packet_id })
            }
            (2, Some(packet_id)) => {
                if self.awaiting_rel.insert(packet_id) {
                    broker.publish(cx, msg.topic, msg.payload, 2, retain);
                }
                cx.send(mqtt::PubRec { packet_id })
            }
            _ => {
                broker.publish(cx, msg.topic, msg.payload, 0, retain);
                Ok(())
            }
        }
    }

    fn on_pub_ack(&mut self, _cx: &mut mqtt::ServerCx<'_, '_>, _msg: mqtt::PubAck) -> Result {
        // Messages in flight are not kept: nothing to release.
        self.touch();
        Ok(())
    }

    fn on_pub_rec(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, msg: mqtt::PubRec) -> Result {
        self.touch();
        cx.send(mqtt::PubRel {
            packet_id: msg.packet_id,
        })
    }

    fn on_pub_rel(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, msg: mqtt::PubRel) -> Result {
        self.touch();
        self.awaiting_rel.remove(&msg.packet_id);
        cx.send(mqtt::PubComp {
            packet_id: msg.packet_id,
        })
    }

    fn on_pub_comp(&mut self, _cx: &mut mqtt::ServerCx<'_, '_>, _msg: mqtt::PubComp) -> Result {
        self.touch();
        Ok(())
    }

    fn on_subscribe(
        &mut self,
        cx: &mut mqtt::ServerCx<'_, '_>,
        msg: mqtt::Subscribe<'_>,
    ) -> Result {
        self.touch();
        if msg.filters.iter().any(|f| f.qos > 2) {
            self.violation(cx, "SUBSCRIBE at QoS 3");
            return Ok(());
        }
        let me = cx.channel().token();
        let broker = self.broker.clone();
        let mut broker = broker.borrow_mut();
        let mut codes = Vec::with_capacity(msg.filters.len());
        for f in &msg.filters {
            let item = match check_filter(f.filter) {
                Ok(()) => {
                    broker.subscribe(me, f.filter, f.qos);
                    f.qos
                }
                Err(e) => {
                    log::info!("{}: SUBSCRIBE to {}: {e}", self.name(cx), show(f.filter));
                    0x80
                }
            };
            codes.push(mqtt::SubAckCodes { item });
        }
        cx.send(mqtt::SubAck {
            packet_id: msg.packet_id,
            codes: Seq::from(&codes[..]),
        })?;
        // The retained messages of each new subscription, after the SUBACK.
        let mut to_send = Vec::new();
        for (f, code) in msg.filters.iter().zip(&codes) {
            if code.item == 0x80 {
                continue;
            }
            for m in broker.retained_for(f.filter) {
                to_send.push((m.clone(), m.qos.min(code.item)));
            }
        }
        for (m, qos) in to_send {
            let packet_id = if qos > 0 {
                broker.peer(me).map(Peer::next_id)
            } else {
                None
            };
            broker.send_back(
                cx,
                mqtt::Publish {
                    dup: 0,
                    qos,
                    retain: 1,
                    topic: &m.topic,
                    packet_id,
                    payload: &m.payload,
                },
            );
        }
        broker.settle(cx);
        Ok(())
    }

    fn on_unsubscribe(
        &mut self,
        cx: &mut mqtt::ServerCx<'_, '_>,
        msg: mqtt::Unsubscribe<'_>,
    ) -> Result {
        self.touch();
        let me = cx.channel().token();
        {
            let mut broker = self.broker.borrow_mut();
            for f in &msg.filters {
                broker.unsubscribe(me, f);
            }
        }
        cx.send(mqtt::UnsubAck {
            packet_id: msg.packet_id,
        })
    }

    fn on_ping_req(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, _msg: mqtt::PingReq) -> Result {
        self.touch();
        cx.send(mqtt::PingResp {})
    }

    /// A clean end: the will is dropped; the description closes the connection.
    fn on_disconnect(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, _msg: mqtt::Disconnect) -> Result {
        let me = cx.channel().token();
        self.broker.borrow_mut().drop_will(me);
        Ok(())
    }

    fn on_timer(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, id: TimerId) -> Result {
        let (Some(period), Some(timer)) = (self.keep_alive, self.timer) else {
            return Ok(());
        };
        if timer != id {
            return Ok(());
        }
        let silent = self.last_packet.elapsed();
        if silent >= period {
            let what = format!(
                "nothing received for {:.1} s, one and a half times its keep-alive",
                silent.as_secs_f64()
            );
            self.timer = None;
            self.violation(cx, &what);
        } else {
            self.timer = Some(cx.channel().set_timer(period - silent));
        }
        Ok(())
    }

    /// Every way the connection ends: the client leaves the broker, and its will is
    /// published unless it sent DISCONNECT.
    fn on_close(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, reason: Option<&io::Error>) {
        let me = cx.channel().token();
        let broker = self.broker.clone();
        let mut broker = broker.borrow_mut();
        if let Some(will) = broker.leave(me) {
            broker.publish(cx, &will.topic, &will.payload, will.qos, will.retain);
        }
        if let (Some(id), Some(e)) = (&self.client_id, reason) {
            log::debug!("client {}: connection ended: {e}", show(id));
        }
    }

    /// Logs bad input before the description's policy closes the connection.
    fn on_bad_input(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, err: &DecodeError) {
        // The runtime logs the close at `info`, with the peer; the client's id is here.
        log::debug!("{}: {err}; closing", self.name(cx));
    }
}

/// The listening channel: each accepted connection becomes a [`Connection`] to one
/// [`Broker`].
#[derive(Debug)]
pub struct MqttServer {
    broker: SharedBroker,
    /// MQTT over TLS: the configuration every connection starts with.
    tls: Option<Arc<asyncore_runtime::tls::ServerConfig>>,
}

impl MqttServer {
    /// A server with an empty broker.
    pub fn new(config: Config) -> Self {
        MqttServer {
            broker: Rc::new(RefCell::new(Broker::new(config))),
            tls: None,
        }
    }

    /// The same server speaking MQTT over TLS (`Some`), as mosquitto's `listener 8883`
    /// with a `certfile` and a `keyfile`: every connection is TLS from its first byte.
    pub fn with_tls(mut self, tls: Option<Arc<asyncore_runtime::tls::ServerConfig>>) -> Self {
        self.tls = tls;
        self
    }

    /// The broker, shared.
    pub fn broker(&self) -> SharedBroker {
        self.broker.clone()
    }
}

impl Dispatcher for MqttServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let conn = mqtt::ServerChannel::new(Connection::new(self.broker.clone()));
        match &self.tls {
            Some(tls) => ch.add_accepted_tls(sock, addr, tls.clone(), conn)?,
            None => ch.add_accepted(sock, addr, conn)?,
        };
        Ok(())
    }
}

/// Runs a broker on `map` (a listener already bound): for tests and embedding.
///
/// ```
/// use asyncore_examples::mqtt_broker::{listen, Config};
/// let mut map = asyncore_runtime::Map::new();
/// let (addr, broker) = listen(&mut map, "127.0.0.1:0".parse().unwrap(), Config::default())?;
/// assert_ne!(addr.port(), 0);
/// assert_eq!(broker.borrow().clients(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn listen(
    map: &mut Map,
    addr: std::net::SocketAddr,
    config: Config,
) -> io::Result<(std::net::SocketAddr, SharedBroker)> {
    let server = MqttServer::new(config);
    let broker = server.broker();
    let token = map.listen(&Addr::from(addr), server)?;
    let bound = map
        .with_channel(token, |ch| ch.socket().local_addr())
        .transpose()?
        .and_then(|a| a.as_inet())
        .ok_or_else(|| io::Error::other("the listener has no address"))?;
    Ok((bound, broker))
}

/// A logger writing `LEVEL message` lines to standard error, for the broker program.
///
/// ```
/// use asyncore_examples::mqtt_broker::StderrLogger;
/// let _ = StderrLogger::install(log::LevelFilter::Info);
/// ```
#[derive(Debug)]
pub struct StderrLogger;

impl StderrLogger {
    /// Installs the logger with `level` (an error if another logger is installed).
    pub fn install(level: log::LevelFilter) -> std::result::Result<(), log::SetLoggerError> {
        static LOGGER: StderrLogger = StderrLogger;
        log::set_logger(&LOGGER)?;
        log::set_max_level(level);
        Ok(())
    }
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{} {}", record.level(), record.args());
        }
    }

    fn flush(&self) {}
}
