//! An MQTT 3.1.1 broker generated from `protocols/descriptions/mqtt.proto`: every packet
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

pub mod topic;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncore_runtime::wire::{DecodeError, Seq};
use asyncore_runtime::{
    dispatcher, protocol, Addr, Channel, Dispatcher, Map, Result, Socket, TimerId, Token,
};

use topic::{check_filter, check_name, Sub, SubTree};

protocol!(pub mod mqtt = "../protocols/descriptions/mqtt.proto");

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

/// An application message: a will, or a retained message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    topic: Vec<u8>,
    payload: Vec<u8>,
    qos: u8,
    retain: bool,
}

/// What the broker knows of a connected client, for the other connections' sake.
#[derive(Debug)]
struct Peer {
    token: Token,
    client_id: Vec<u8>,
    /// Its filters, to remove them when it leaves.
    filters: Vec<Vec<u8>>,
    will: Option<Message>,
    /// The last packet identifier used for a message to it.
    last_id: u16,
    /// QoS 0 messages dropped since it last had room.
    dropped: u64,
    /// The last pass of the loop in which a message was sent to it.
    pass: u64,
}

impl Peer {
    fn next_id(&mut self) -> u16 {
        self.last_id = self.last_id.checked_add(1).unwrap_or(1);
        self.last_id
    }
}

/// Counters, for tests and logs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Messages handed to subscribers.
    pub delivered: u64,
    /// QoS 0 messages dropped because their subscriber did not read.
    pub dropped: u64,
    /// Clients disconnected because they did not read.
    pub kicked: u64,
}

/// The state of one broker, shared by the connections of its loop: subscriptions,
/// retained messages and the connected clients.
#[derive(Debug, Default)]
pub struct Broker {
    config: Config,
    subs: SubTree,
    retained: BTreeMap<Vec<u8>, Message>,
    /// Connected clients, by the index of their channel's token.
    peers: Vec<Option<Peer>>,
    /// Client ids in use.
    ids: HashMap<Vec<u8>, Token>,
    next_auto_id: u64,
    stats: Stats,
    /// Reused: the subscriptions matching one message.
    matched: Vec<Sub>,
    /// Reused: the encoded QoS 0 form of one message.
    packet: Vec<u8>,
    /// Reused: the encoded QoS 1 or 2 form of one message for one subscriber.
    packet_q: Vec<u8>,
    /// Clients to disconnect once the current delivery is done.
    kicked: Vec<Token>,
}

/// A [`Broker`] shared by the connections of one loop.
pub type SharedBroker = Rc<RefCell<Broker>>;

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Broker {
    /// An empty broker.
    ///
    /// ```
    /// use asyncore_examples::mqtt_broker::{Broker, Config};
    /// let b = Broker::new(Config::default());
    /// assert_eq!(b.clients(), 0);
    /// assert_eq!(b.retained(), 0);
    /// ```
    pub fn new(config: Config) -> Broker {
        Broker {
            config,
            ..Broker::default()
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of connected clients.
    pub fn clients(&self) -> usize {
        self.ids.len()
    }

    /// The number of retained messages.
    pub fn retained(&self) -> usize {
        self.retained.len()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn peer(&mut self, token: Token) -> Option<&mut Peer> {
        self.peers
            .get_mut(token.index())
            .and_then(Option::as_mut)
            .filter(|p| p.token == token)
    }

    /// A client id for a client that gave none.
    fn auto_id(&mut self) -> Vec<u8> {
        loop {
            self.next_auto_id += 1;
            let id = format!("auto-{}", self.next_auto_id).into_bytes();
            if !self.ids.contains_key(&id) {
                return id;
            }
        }
    }

    /// Registers the connected client `token`; another connection with the same client
    /// id is ended.
    fn join(
        &mut self,
        cx: &mut mqtt::ServerCx<'_, '_>,
        token: Token,
        client_id: Vec<u8>,
        will: Option<Message>,
    ) {
        if let Some(old) = self.ids.get(&client_id).copied() {
            log::info!(
                "client {}: connected again, closing its earlier connection",
                show(&client_id)
            );
            self.kicked.push(old);
        }
        self.ids.insert(client_id.clone(), token);
        let i = token.index();
        if self.peers.len() <= i {
            self.peers.resize_with(i + 1, || None);
        }
        self.peers[i] = Some(Peer {
            token,
            client_id,
            filters: Vec::new(),
            will,
            last_id: 0,
            dropped: 0,
            pass: u64::MAX,
        });
        self.settle(cx);
    }

    /// Forgets the client `token`: its subscriptions and its id. Returns its will.
    fn leave(&mut self, token: Token) -> Option<Message> {
        let peer = self.peers.get_mut(token.index())?;
        if peer.as_ref().is_none_or(|p| p.token != token) {
            return None;
        }
        let peer = peer.take()?;
        for f in &peer.filters {
            self.subs.remove(f, token);
        }
        if self.ids.get(&peer.client_id) == Some(&token) {
            self.ids.remove(&peer.client_id);
        }
        peer.will
    }

    /// Ends the clients in `kicked`: each leaves (its will is published) and its
    /// connection is closed. Wills may kick more.
    fn settle(&mut self, cx: &mut mqtt::ServerCx<'_, '_>) {
        let me = cx.channel().token();
        while let Some(t) = self.kicked.pop() {
            let will = self.leave(t);
            if t == me {
                // Through the channel's own close: it stops reading at once.
                cx.close();
            } else {
                cx.channel().map().close(t);
            }
            if let Some(will) = will {
                self.deliver(cx, &will.topic, &will.payload, will.qos, will.retain);
            }
        }
    }

    /// Publishes a message from the client of `cx` (or its will): stores or clears the
    /// retained message, and sends it to every matching subscriber.
    fn publish(
        &mut self,
        cx: &mut mqtt::ServerCx<'_, '_>,
        topic: &[u8],
        payload: &[u8],
        qos: u8,
        retain: bool,
    ) {
        self.deliver(cx, topic, payload, qos, retain);
        self.settle(cx);
    }

    fn deliver(
        &mut self,
        cx: &mut mqtt::ServerCx<'_, '_>,
        topic: &[u8],
        payload: &[u8],
        qos: u8,
        retain: bool,
    ) {
        if retain {
            if payload.is_empty() {
                self.retained.remove(topic);
            } else {
                self.retained.insert(
                    topic.to_vec(),
                    Message {
                        topic: topic.to_vec(),
                        payload: payload.to_vec(),
                        qos,
                        retain: true,
                    },
                );
            }
        }
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        self.subs.matching(topic, &mut matched);
        if matched.len() > 1 {
            // One copy per subscriber, at the highest QoS of its matching filters.
            matched.sort_unstable_by_key(|s| (s.token, std::cmp::Reverse(s.qos)));
            matched.dedup_by_key(|s| s.token);
        }
        let me = cx.channel().token();
        let pass = cx.channel().map().passes();
        self.packet.clear();
        for sub in &matched {
            let qos = qos.min(sub.qos);
            let Some(peer) = self.peer(sub.token) else {
                continue;
            };
            let packet_id = (qos > 0).then(|| peer.next_id());
            // The first message to a subscriber in a pass of the loop is sent at once;
            // the next ones join it in the subscriber's output buffer, which the loop
            // sends in one go: a burst of messages costs one send per subscriber, not
            // one per message.
            let first = std::mem::replace(&mut peer.pass, pass) != pass;
            let msg = mqtt::Publish {
                dup: 0,
                qos,
                retain: 0,
                topic,
                packet_id,
                payload,
            };
            if sub.token == me {
                self.send_back(cx, msg);
                continue;
            }
            let bytes = if qos == 0 {
                if self.packet.is_empty() && msg.encode(&mut self.packet).is_err() {
                    break;
                }
                &self.packet[..]
            } else {
                self.packet_q.clear();
                if msg.encode(&mut self.packet_q).is_err() {
                    break;
                }
                &self.packet_q[..]
            };
            let map = cx.channel().map();
            let sent = if first {
                map.send_to(sub.token, bytes)
            } else {
                map.with_channel(sub.token, |ch| ch.queue(bytes))
                    .unwrap_or_else(|| Err(io::ErrorKind::NotFound.into()))
            };
            match sent {
                Ok(()) => {
                    self.stats.delivered += 1;
                    if let Some(p) = self.peer(sub.token) {
                        if p.dropped > 0 {
                            log::info!(
                                "client {}: reading again, after {} QoS 0 messages dropped",
                                show(&p.client_id),
                                p.dropped
                            );
                            p.dropped = 0;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory => self.behind(sub.token, qos),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Gone without a word (its handler panicked): forget it.
                    self.kicked.push(sub.token);
                }
                // Closing: it leaves in its own `on_close`.
                Err(_) => {}
            }
        }
        self.matched = matched;
    }

    /// A message to the client whose handler runs: queued with its replies, in order.
    fn send_back(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, msg: mqtt::Publish<'_>) {
        let size = msg.payload.len() + msg.topic.len() + 9;
        if cx.waiting_output() + size > self.config.output_limit {
            self.behind(cx.channel().token(), msg.qos);
            return;
        }
        match cx.send(msg) {
            Ok(()) => self.stats.delivered += 1,
            Err(e) => {
                log::info!("{}: {e}; closing", cx.channel());
                cx.close();
            }
        }
    }

    /// The subscriber `token` has no room for a message at `qos`.
    fn behind(&mut self, token: Token, qos: u8) {
        let limit = self.config.output_limit;
        if qos == 0 {
            self.stats.dropped += 1;
            if let Some(p) = self.peer(token) {
                if p.dropped == 0 {
                    log::info!(
                        "client {}: over {limit} bytes waiting to be sent, it does not read: \
                         dropping QoS 0 messages to it",
                        show(&p.client_id)
                    );
                }
                p.dropped += 1;
            }
        } else if !self.kicked.contains(&token) {
            self.stats.kicked += 1;
            if let Some(p) = self.peer(token) {
                log::info!(
                    "client {}: over {limit} bytes waiting to be sent, it does not read: \
                     disconnecting it",
                    show(&p.client_id)
                );
            }
            self.kicked.push(token);
        }
    }

    /// Subscribes `token` to `filter` at `qos` (both checked).
    fn subscribe(&mut self, token: Token, filter: &[u8], qos: u8) {
        if self.subs.insert(filter, token, qos) {
            if let Some(p) = self.peer(token) {
                p.filters.push(filter.to_vec());
            }
        }
    }

    fn unsubscribe(&mut self, token: Token, filter: &[u8]) {
        self.subs.remove(filter, token);
        if let Some(p) = self.peer(token) {
            p.filters.retain(|f| f != filter);
        }
    }

    /// The retained messages matching `filter`, in topic order.
    fn retained_for<'s>(&'s self, filter: &'s [u8]) -> impl Iterator<Item = &'s Message> + 's {
        self.retained
            .values()
            .filter(move |m| topic::matches(filter, &m.topic))
    }
}

/// One client connection: the server side of `mqtt.proto`, made a channel by
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
        let limit = self.broker.borrow().config.output_limit;
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
            if w.payload.len() > self.broker.borrow().config.max_payload {
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
        let max = self.broker.borrow().config.max_payload;
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
        if let Some(p) = self.broker.borrow_mut().peer(me) {
            p.will = None;
        }
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
        log::info!("{}: {err}; closing", self.name(cx));
    }
}

/// The listening channel: each accepted connection becomes a [`Connection`] to one
/// [`Broker`].
#[derive(Debug)]
pub struct MqttServer {
    broker: SharedBroker,
}

impl MqttServer {
    /// A server with an empty broker.
    pub fn new(config: Config) -> Self {
        MqttServer {
            broker: Rc::new(RefCell::new(Broker::new(config))),
        }
    }

    /// The broker, shared.
    pub fn broker(&self) -> SharedBroker {
        self.broker.clone()
    }
}

impl Dispatcher for MqttServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let conn = Connection::new(self.broker.clone());
        ch.add_accepted(sock, addr, mqtt::ServerChannel::new(conn))?;
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
