//! The state one broker shares between the connections of its loop: subscriptions,
//! retained messages, connected clients, and the delivery of messages to subscribers.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::rc::Rc;

use asyncore_runtime::Token;

use super::topic::{self, Sub, SubTree};
use super::{mqtt, Config};

/// An application message: a will, or a retained message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub(super) topic: Vec<u8>,
    pub(super) payload: Vec<u8>,
    pub(super) qos: u8,
    pub(super) retain: bool,
}

/// What the broker knows of a connected client, for the other connections' sake.
#[derive(Debug)]
pub(super) struct Peer {
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
    pub(super) fn next_id(&mut self) -> u16 {
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

pub(super) fn show(b: &[u8]) -> String {
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

    pub(super) fn peer(&mut self, token: Token) -> Option<&mut Peer> {
        self.peers
            .get_mut(token.index())
            .and_then(Option::as_mut)
            .filter(|p| p.token == token)
    }

    /// A client id for a client that gave none.
    pub(super) fn auto_id(&mut self) -> Vec<u8> {
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
    pub(super) fn join(
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
    pub(super) fn leave(&mut self, token: Token) -> Option<Message> {
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

    /// Forgets the will of the client `token`: it sent DISCONNECT.
    pub(super) fn drop_will(&mut self, token: Token) {
        if let Some(p) = self.peer(token) {
            p.will = None;
        }
    }

    /// Ends the clients in `kicked`: each leaves (its will is published) and its
    /// connection is closed. Wills may kick more.
    pub(super) fn settle(&mut self, cx: &mut mqtt::ServerCx<'_, '_>) {
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
    pub(super) fn publish(
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
    pub(super) fn send_back(&mut self, cx: &mut mqtt::ServerCx<'_, '_>, msg: mqtt::Publish<'_>) {
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
    pub(super) fn subscribe(&mut self, token: Token, filter: &[u8], qos: u8) {
        if self.subs.insert(filter, token, qos) {
            if let Some(p) = self.peer(token) {
                p.filters.push(filter.to_vec());
            }
        }
    }

    pub(super) fn unsubscribe(&mut self, token: Token, filter: &[u8]) {
        self.subs.remove(filter, token);
        if let Some(p) = self.peer(token) {
            p.filters.retain(|f| f != filter);
        }
    }

    /// The retained messages matching `filter`, in topic order.
    pub(super) fn retained_for<'s>(
        &'s self,
        filter: &'s [u8],
    ) -> impl Iterator<Item = &'s Message> + 's {
        self.retained
            .values()
            .filter(move |m| topic::matches(filter, &m.topic))
    }
}
