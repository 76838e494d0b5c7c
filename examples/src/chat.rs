//! The chat server: a line-based room. `/nick NAME` sets a nickname, `/quit` leaves, any
//! other line goes to every other member as `NAME: text`. Members start with a guest
//! name, so a first plain line is already broadcast. Joins, leaves and renames are
//! announced as lines starting with `* `.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use asyncore_runtime::{
    Addr, AsyncChat, Channel, Chat, ChatHandler, Dispatcher, Map, Result, Socket, Token,
};

/// The longest line a member may send, terminator excluded.
pub const MAX_LINE: usize = 4096;
/// The longest nickname.
pub const MAX_NICK: usize = 32;

/// The members of one room (one loop).
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

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

type SharedRoom = Rc<RefCell<Room>>;

/// Send `line` to every member but `except`. A member whose output is over its limit (it
/// does not read) is disconnected rather than allowed to grow without bound.
fn broadcast(map: &mut Map, room: &SharedRoom, except: Option<Token>, line: &[u8]) {
    let members: Vec<Token> = room.borrow().members.iter().map(|(t, _)| *t).collect();
    let mut gone = Vec::new();
    for t in members {
        if Some(t) == except {
            continue;
        }
        let r = AsyncChat::<Member>::with_chat(map, t, |_, chat| {
            if let Err(e) = chat.push(line) {
                chat.channel().close_with_reason(e);
            }
        });
        if r.is_none() {
            gone.push(t);
        }
    }
    if !gone.is_empty() {
        room.borrow_mut().members.retain(|(t, _)| !gone.contains(t));
    }
}

/// One member's connection.
#[derive(Debug)]
pub struct Member {
    room: SharedRoom,
    token: Option<Token>,
    too_long: bool,
}

impl Member {
    fn leave(&mut self, chat: &mut Chat<'_, '_>) {
        let Some(me) = self.token.take() else {
            return;
        };
        let nick = {
            let mut room = self.room.borrow_mut();
            let nick = room.nick(me).unwrap_or("someone").to_string();
            room.members.retain(|(t, _)| *t != me);
            nick
        };
        broadcast(
            chat.map(),
            &self.room,
            Some(me),
            format!("* {nick} left\n").as_bytes(),
        );
    }

    fn rename(&mut self, chat: &mut Chat<'_, '_>, new: &str) -> io::Result<()> {
        let valid = !new.is_empty()
            && new.len() <= MAX_NICK
            && new.bytes().all(|b| b.is_ascii_graphic())
            && !new.starts_with('*');
        if !valid {
            return chat.push(
                format!(
                    "* invalid nickname: use 1 to {MAX_NICK} visible ASCII characters, not starting with '*'\n"
                )
                .as_bytes(),
            );
        }
        let me = self.token.expect("joined");
        let old = {
            let mut room = self.room.borrow_mut();
            if room.members.iter().any(|(t, n)| n == new && *t != me) {
                drop(room);
                return chat.push(format!("* nickname {new} is taken\n").as_bytes());
            }
            let entry = room
                .members
                .iter_mut()
                .find(|(t, _)| *t == me)
                .expect("member");
            std::mem::replace(&mut entry.1, new.to_string())
        };
        chat.push(format!("* you are now {new}\n").as_bytes())?;
        broadcast(
            chat.map(),
            &self.room,
            Some(me),
            format!("* {old} is now {new}\n").as_bytes(),
        );
        Ok(())
    }
}

impl ChatHandler for Member {
    fn handle_connect(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        chat.set_terminator(b"\n");
        chat.set_max_collect(MAX_LINE + 1);
        let me = chat.channel().token();
        let (nick, count) = {
            let mut room = self.room.borrow_mut();
            room.next_guest += 1;
            let nick = format!("guest{}", room.next_guest);
            room.members.push((me, nick.clone()));
            (nick, room.members.len())
        };
        self.token = Some(me);
        chat.push(format!("* welcome {nick}, {count} online\n").as_bytes())?;
        broadcast(
            chat.map(),
            &self.room,
            Some(me),
            format!("* {nick} joined\n").as_bytes(),
        );
        Ok(())
    }

    fn collect_incoming_data(&mut self, chat: &mut Chat<'_, '_>, data: &[u8]) -> Result {
        if !self.too_long && chat.collect(data).is_err() {
            // Over the limit: drop what was collected and skip to the end of the line.
            chat.take_collected();
            self.too_long = true;
        }
        Ok(())
    }

    fn found_terminator(&mut self, chat: &mut Chat<'_, '_>) -> Result {
        let mut line = chat.take_collected();
        if std::mem::take(&mut self.too_long) {
            chat.push(format!("* line too long (the limit is {MAX_LINE} bytes)\n").as_bytes())?;
            return Ok(());
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > MAX_LINE {
            // The collector leaves room for a "\r"; a longer bare-LF line lands here.
            chat.push(format!("* line too long (the limit is {MAX_LINE} bytes)\n").as_bytes())?;
            return Ok(());
        }
        let Some(me) = self.token else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&line);
        if let Some(rest) = text.strip_prefix("/nick") {
            if rest.is_empty() || rest.starts_with(' ') {
                self.rename(chat, rest.trim())?;
                return Ok(());
            }
        }
        if text == "/quit" {
            chat.push(b"* bye\n")?;
            self.leave(chat);
            chat.close_when_done();
            return Ok(());
        }
        let nick = self.room.borrow().nick(me).unwrap_or("someone").to_string();
        let mut out = Vec::with_capacity(nick.len() + 3 + line.len());
        out.extend_from_slice(nick.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&line);
        out.push(b'\n');
        broadcast(chat.map(), &self.room, Some(me), &out);
        Ok(())
    }

    fn handle_close(&mut self, chat: &mut Chat<'_, '_>, _reason: Option<io::Error>) -> Result {
        self.leave(chat);
        chat.close();
        Ok(())
    }

    fn handle_error(&mut self, chat: &mut Chat<'_, '_>, err: asyncore_runtime::Error) -> Result {
        log::warn!("closing chat member {}: {err}", chat.channel());
        self.leave(chat);
        chat.close();
        Ok(())
    }
}

/// The listening side: every connection joins the room.
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
            too_long: false,
        };
        ch.add_accepted(sock, addr, AsyncChat::with_terminator(member, b"\n"))?;
        Ok(())
    }
}
