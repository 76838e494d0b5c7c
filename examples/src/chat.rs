//! The chat server, generated from `protocols/descriptions/chat.aproto`: members get a
//! guest name, `/nick NAME` renames, `/quit` leaves, and every other line is broadcast to
//! the others as `NAME: text`. Joins, renames and departures are announced as `* ...`
//! lines.
//!
//! The description gives the framing (lines of at most 4096 bytes, ending in `\n` or
//! `\r\n`), the over-long line reply, the messages and the states (`Guest`, `Named`);
//! [`Member`] is the handler `#[dispatcher]` makes of it.

use std::cell::RefCell;
use std::rc::Rc;

use asyncore_runtime::{
    dispatcher, protocol, Addr, Channel, Dispatcher, Map, Result, Socket, Token,
};

protocol!(pub mod chat = "../protocols/descriptions/chat.aproto");

use chat::{Notice, ServerCx};

/// The longest line a member may send, terminator excluded (the description's limit).
pub const MAX_LINE: usize = 4096;

/// The longest nickname.
pub const MAX_NICK: usize = 32;

/// Who is in the room: each member's channel and nickname, in joining order.
#[derive(Debug, Default)]
pub struct Room {
    members: Vec<(Token, String)>,
    next_guest: u64,
}

impl Room {
    fn nick(&self, t: Token) -> Option<&str> {
        self.members
            .iter()
            .find(|(m, _)| *m == t)
            .map(|(_, n)| n.as_str())
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

type SharedRoom = Rc<RefCell<Room>>;

/// Sends `text` as a `Notice` to every member but `except`; members whose channel is gone
/// leave the room.
fn broadcast(map: &mut Map, room: &SharedRoom, except: Option<Token>, text: &[u8]) {
    let mut line = Vec::with_capacity(text.len() + 1);
    if (Notice { text }).encode(&mut line).is_err() {
        return;
    }
    let members: Vec<Token> = room.borrow().members.iter().map(|(t, _)| *t).collect();
    let mut gone = Vec::new();
    for t in members {
        if Some(t) != except && map.send_to(t, &line).is_err() {
            gone.push(t);
        }
    }
    if !gone.is_empty() {
        room.borrow_mut().members.retain(|(t, _)| !gone.contains(t));
    }
}

/// One member's connection: the handler of the chat protocol's server side.
#[derive(Debug)]
pub struct Member {
    room: SharedRoom,
    token: Option<Token>,
}

#[dispatcher(protocol = chat, role = server)]
impl Member {
    /// Joins the room under a guest name, and says so to everyone.
    fn on_open(&mut self, cx: &mut ServerCx<'_, '_>) -> Result {
        let me = cx.channel().token();
        let (nick, count) = {
            let mut room = self.room.borrow_mut();
            room.next_guest += 1;
            let nick = format!("guest{}", room.next_guest);
            room.members.push((me, nick.clone()));
            (nick, room.members.len())
        };
        self.token = Some(me);
        cx.send(Notice {
            text: format!("* welcome {nick}, {count} online").as_bytes(),
        })?;
        broadcast(
            cx.channel().map(),
            &self.room,
            Some(me),
            format!("* {nick} joined").as_bytes(),
        );
        Ok(())
    }

    fn on_nick(
        &mut self,
        cx: &mut ServerCx<'_, '_>,
        msg: chat::Nick<'_>,
    ) -> Result<chat::NickNext> {
        let new = msg.name.unwrap_or_default().trim_ascii();
        let valid = !new.is_empty()
            && new.len() <= MAX_NICK
            && new.iter().all(|b| b.is_ascii_graphic())
            && !new.starts_with(b"*");
        let stay = if cx.state() == chat::State::Named {
            chat::NickNext::Named
        } else {
            chat::NickNext::Guest
        };
        if !valid {
            let text = format!(
                "* invalid nickname: use 1 to {MAX_NICK} visible ASCII characters, not starting with '*'"
            );
            cx.send(Notice {
                text: text.as_bytes(),
            })?;
            return Ok(stay);
        }
        let new = String::from_utf8_lossy(new).into_owned();
        let Some(me) = self.token else {
            return Ok(stay);
        };
        let old = {
            let mut room = self.room.borrow_mut();
            if room.members.iter().any(|(t, n)| *n == new && *t != me) {
                drop(room);
                cx.send(Notice {
                    text: format!("* nickname {new} is taken").as_bytes(),
                })?;
                return Ok(stay);
            }
            match room.members.iter_mut().find(|(t, _)| *t == me) {
                Some(entry) => std::mem::replace(&mut entry.1, new.clone()),
                None => return Ok(stay),
            }
        };
        cx.send(Notice {
            text: format!("* you are now {new}").as_bytes(),
        })?;
        broadcast(
            cx.channel().map(),
            &self.room,
            Some(me),
            format!("* {old} is now {new}").as_bytes(),
        );
        Ok(chat::NickNext::Named)
    }

    fn on_say(&mut self, cx: &mut ServerCx<'_, '_>, msg: chat::Say<'_>) -> Result {
        let Some(me) = self.token else { return Ok(()) };
        let nick = self.room.borrow().nick(me).unwrap_or("someone").to_string();
        let mut text = Vec::with_capacity(nick.len() + 2 + msg.text.len());
        text.extend_from_slice(nick.as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(msg.text);
        broadcast(cx.channel().map(), &self.room, Some(me), &text);
        Ok(())
    }

    /// Says goodbye; the description closes the connection after `Quit`.
    fn on_quit(&mut self, cx: &mut ServerCx<'_, '_>, _msg: chat::Quit) -> Result {
        cx.send(Notice { text: b"* bye" })?;
        self.leave(cx.channel());
        Ok(())
    }

    fn on_close(&mut self, cx: &mut ServerCx<'_, '_>, _reason: Option<&std::io::Error>) {
        self.leave(cx.channel());
    }

    /// Leaves the room (once) and tells the others.
    fn leave(&mut self, ch: &mut Channel<'_>) {
        let Some(me) = self.token.take() else { return };
        let nick = {
            let mut room = self.room.borrow_mut();
            let nick = room.nick(me).unwrap_or("someone").to_string();
            room.members.retain(|(t, _)| *t != me);
            nick
        };
        broadcast(
            ch.map(),
            &self.room,
            Some(me),
            format!("* {nick} left").as_bytes(),
        );
    }
}

/// The listening channel: each accepted connection becomes a [`Member`] of one room.
#[derive(Debug, Default)]
pub struct ChatServer {
    room: SharedRoom,
}

impl ChatServer {
    /// A server with an empty room.
    pub fn new() -> Self {
        ChatServer::default()
    }
}

impl Dispatcher for ChatServer {
    fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
        let member = Member {
            room: self.room.clone(),
            token: None,
        };
        ch.add_accepted(sock, addr, chat::ServerChannel::new(member))?;
        Ok(())
    }
}
