//! Replies per request: the POP3 description's generated server and client, in one loop
//! over a socket pair. The reply to `PASS` says the next state and both sides follow it;
//! a handler can only send a reply its request allows; a client cannot send a command
//! whose state depends on a reply it has not read; random dialogues leave both sides in
//! the same state after every exchange, SMTP's with `STARTTLS` taking both to TLS.

use std::cell::{Cell, RefCell};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use asyncore_runtime::tls::server_name;
use asyncore_runtime::wire::{ClientTls, Lines, ServerTls};
use asyncore_runtime::{dispatcher, protocol, Backend, Map, Result};

mod support;

protocol!(pub mod pop3 = "../protocols/descriptions/pop3.aproto");

/// A mailbox of three messages; the password is `right`.
#[derive(Default)]
struct Mailbox {
    /// The state of each request as the server saw it (before its transition).
    seen: Rc<RefCell<Vec<pop3::State>>>,
    /// Answer `STAT` with a listing: a reply `STAT` does not allow.
    wrong_reply: bool,
    /// Answer `RETR` first with a listing the encoder refuses (a bare CR in a line), then
    /// with `-ERR`.
    unsendable: bool,
    deleted: Vec<bool>,
    error: Rc<RefCell<Option<String>>>,
}

const MESSAGES: [&[u8]; 3] = [
    b"Subject: one\r\n\r\nfirst\r\n",
    b"Subject: two\r\n\r\n.starts with a dot\r\n",
    b"Subject: three\r\n\r\n",
];

fn ok(cx: &mut pop3::ServerCx<'_, '_>, text: &str) -> Result {
    cx.send(pop3::Ok {
        text: text.as_bytes(),
    })
}

fn err(cx: &mut pop3::ServerCx<'_, '_>, text: &str) -> Result {
    cx.send(pop3::Err {
        text: text.as_bytes(),
    })
}

impl Mailbox {
    fn note(&mut self, cx: &pop3::ServerCx<'_, '_>) {
        self.seen.borrow_mut().push(cx.state());
    }
    fn message(&self, n: u32) -> Option<&'static [u8]> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        MESSAGES
            .get(i)
            .copied()
            .filter(|_| !self.deleted.get(i).copied().unwrap_or(false))
    }
}

#[dispatcher(protocol = pop3, role = server)]
impl Mailbox {
    fn on_open(&mut self, cx: &mut pop3::ServerCx<'_, '_>) -> Result {
        self.deleted = vec![false; MESSAGES.len()];
        ok(cx, "POP3 ready")
    }
    fn on_capa(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::Capa) -> Result {
        self.note(cx);
        cx.send(pop3::Listing {
            text: b"capabilities",
            body: Lines::from(&b"USER\r\nUIDL\r\nTOP\r\n"[..]),
        })
    }
    fn on_user(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::User<'_>) -> Result {
        self.note(cx);
        ok(cx, "send PASS")
    }
    fn on_pass(&mut self, cx: &mut pop3::ServerCx<'_, '_>, m: pop3::Pass<'_>) -> Result {
        self.note(cx);
        if m.password == b"right" {
            ok(cx, "logged in")
        } else {
            err(cx, "invalid password")
        }
    }
    fn on_apop(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::Apop<'_>) -> Result {
        self.note(cx);
        err(cx, "APOP not supported")
    }
    fn on_stat(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::Stat) -> Result {
        self.note(cx);
        if self.wrong_reply {
            let sent = cx.send(pop3::Listing {
                text: b"",
                body: Lines::from(&b""[..]),
            });
            *self.error.borrow_mut() = sent.as_ref().err().map(|e| e.to_string());
            return sent;
        }
        let n = (1..=3).filter(|&i| self.message(i).is_some()).count();
        ok(cx, &format!("{n} 100"))
    }
    fn on_list_all(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::ListAll) -> Result {
        self.note(cx);
        let mut body = String::new();
        for i in 1..=3 {
            if let Some(m) = self.message(i) {
                body.push_str(&format!("{i} {}\r\n", m.len()));
            }
        }
        cx.send(pop3::Listing {
            text: b"listing",
            body: Lines::from(body.as_bytes()),
        })
    }
    fn on_list_one(&mut self, cx: &mut pop3::ServerCx<'_, '_>, m: pop3::ListOne) -> Result {
        self.note(cx);
        match self.message(m.msg) {
            Some(b) => ok(cx, &format!("{} {}", m.msg, b.len())),
            None => err(cx, "no such message"),
        }
    }
    fn on_retr(&mut self, cx: &mut pop3::ServerCx<'_, '_>, m: pop3::Retr) -> Result {
        self.note(cx);
        if self.unsendable {
            let refused = cx.send(pop3::Listing {
                text: b"",
                body: Lines::from(&b"bare\rCR\r\n"[..]),
            });
            *self.error.borrow_mut() = refused.as_ref().err().map(|e| e.to_string());
            return err(cx, "message cannot be sent");
        }
        match self.message(m.msg) {
            Some(b) => cx.send(pop3::Listing {
                text: b"message follows",
                body: Lines::from(b),
            }),
            None => err(cx, "no such message"),
        }
    }
    fn on_top(&mut self, cx: &mut pop3::ServerCx<'_, '_>, m: pop3::Top) -> Result {
        self.note(cx);
        match self.message(m.msg) {
            Some(b) => cx.send(pop3::Listing {
                text: b"top",
                body: Lines::from(b),
            }),
            None => err(cx, "no such message"),
        }
    }
    fn on_uidl_all(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::UidlAll) -> Result {
        self.note(cx);
        cx.send(pop3::Listing {
            text: b"",
            body: Lines::from(&b"1 a\r\n2 b\r\n3 c\r\n"[..]),
        })
    }
    fn on_uidl_one(&mut self, cx: &mut pop3::ServerCx<'_, '_>, m: pop3::UidlOne) -> Result {
        self.note(cx);
        ok(cx, &format!("{} x{}", m.msg, m.msg))
    }
    fn on_dele(&mut self, cx: &mut pop3::ServerCx<'_, '_>, m: pop3::Dele) -> Result {
        self.note(cx);
        match self.message(m.msg) {
            Some(_) => {
                self.deleted[m.msg as usize - 1] = true;
                ok(cx, "deleted")
            }
            None => err(cx, "no such message"),
        }
    }
    fn on_noop(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::Noop) -> Result {
        self.note(cx);
        ok(cx, "")
    }
    fn on_rset(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::Rset) -> Result {
        self.note(cx);
        self.deleted.iter_mut().for_each(|d| *d = false);
        ok(cx, "")
    }
    fn on_quit(&mut self, cx: &mut pop3::ServerCx<'_, '_>, _m: pop3::Quit) -> Result {
        self.note(cx);
        ok(cx, "bye")
    }
}

/// What the client records after each reply: the reply, and the states the server may be
/// in.
type Log = Rc<RefCell<Vec<(String, Vec<pop3::State>)>>>;

/// A client that sends `script`, one command per reply (the greeting first).
struct Reader {
    script: Vec<pop3::ClientMessage<'static>>,
    next: usize,
    log: Log,
    /// Also send RETR 1 right after PASS, before its reply.
    eager: bool,
    refused: Rc<RefCell<Option<String>>>,
}

impl Reader {
    fn record(&mut self, cx: &mut pop3::ClientCx<'_, '_>, what: String) -> Result {
        let states: Vec<pop3::State> = pop3::State::ALL
            .iter()
            .copied()
            .filter(|s| cx.may_be_in(*s))
            .collect();
        self.log.borrow_mut().push((what, states));
        if let Some(m) = self.script.get(self.next) {
            self.next += 1;
            cx.send(*m)?;
            if self.eager && matches!(m, pop3::ClientMessage::Pass(_)) {
                let sent = cx.send(pop3::Retr { msg: 1 });
                *self.refused.borrow_mut() = sent.err().map(|e| e.to_string());
            }
        }
        Ok(())
    }
}

#[dispatcher(protocol = pop3, role = client)]
impl Reader {
    fn on_ok(&mut self, cx: &mut pop3::ClientCx<'_, '_>, m: pop3::Ok<'_>) -> Result {
        self.record(cx, format!("+OK {}", String::from_utf8_lossy(m.text)))
    }
    fn on_err(&mut self, cx: &mut pop3::ClientCx<'_, '_>, m: pop3::Err<'_>) -> Result {
        self.record(cx, format!("-ERR {}", String::from_utf8_lossy(m.text)))
    }
    fn on_listing(&mut self, cx: &mut pop3::ClientCx<'_, '_>, m: pop3::Listing<'_>) -> Result {
        let body: Vec<u8> = m.body.to_vec();
        self.record(
            cx,
            format!(
                "+OK [{}]",
                String::from_utf8_lossy(&body).replace("\r\n", "|")
            ),
        )
    }
}

/// Runs `server` and a client with `script` over a socket pair until both are done.
fn converse(
    server: Mailbox,
    script: Vec<pop3::ClientMessage<'static>>,
    eager: bool,
) -> (Log, Rc<RefCell<Option<String>>>) {
    let log: Log = Rc::default();
    let refused = Rc::new(RefCell::new(None));
    let mut map = Map::new();
    let (a, b) = UnixStream::pair().unwrap();
    map.add(a.into(), pop3::ServerChannel::new(server)).unwrap();
    let reader = Reader {
        script,
        next: 0,
        log: log.clone(),
        eager,
        refused: refused.clone(),
    };
    let token = map.add(b.into(), pop3::ClientChannel::new(reader)).unwrap();
    // A socket pair is connected from the start.
    map.get_mut::<pop3::ClientChannel<Reader>>(token).unwrap();
    for _ in 0..2_000 {
        if map.is_empty() {
            break;
        }
        map.poll_once(Some(Duration::from_millis(10)), Backend::Poll)
            .unwrap();
    }
    (log, refused)
}

fn states(list: &[pop3::State]) -> Vec<&'static str> {
    list.iter().map(|s| s.name()).collect()
}

#[test]
fn the_reply_to_pass_says_the_state_and_both_sides_follow_it() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let script: Vec<pop3::ClientMessage<'static>> = vec![
        pop3::User { name: b"bob" }.into(),
        pop3::Pass { password: b"wrong" }.into(),
        pop3::Pass { password: b"right" }.into(),
        pop3::ListAll {}.into(),
        pop3::Retr { msg: 2 }.into(),
        pop3::Dele { msg: 1 }.into(),
        pop3::Retr { msg: 1 }.into(),
        pop3::Quit {}.into(),
    ];
    let server = Mailbox {
        seen: seen.clone(),
        ..Mailbox::default()
    };
    let (log, _) = converse(server, script, false);
    let log = log.borrow();
    let got: Vec<(&str, Vec<&str>)> = log.iter().map(|(r, s)| (r.as_str(), states(s))).collect();
    assert_eq!(
        got,
        [
            ("+OK POP3 ready", vec!["Authorization"]),
            ("+OK send PASS", vec!["Authorization"]),
            ("-ERR invalid password", vec!["Authorization"]),
            ("+OK logged in", vec!["Transaction"]),
            ("+OK [1 23|2 36|3 18|]", vec!["Transaction"]),
            (
                "+OK [Subject: two||.starts with a dot|]",
                vec!["Transaction"]
            ),
            ("+OK deleted", vec!["Transaction"]),
            ("-ERR no such message", vec!["Transaction"]),
            ("+OK bye", vec![]),
        ]
    );
    assert_eq!(
        states(&seen.borrow()),
        [
            "Authorization",
            "Authorization",
            "Authorization",
            "Transaction",
            "Transaction",
            "Transaction",
            "Transaction",
            "Transaction"
        ]
    );
}

#[test]
fn a_command_that_depends_on_an_unread_reply_is_refused() {
    let script: Vec<pop3::ClientMessage<'static>> = vec![
        pop3::User { name: b"bob" }.into(),
        pop3::Pass { password: b"right" }.into(),
        pop3::Quit {}.into(),
    ];
    let (log, refused) = converse(Mailbox::default(), script, true);
    let refused = refused.borrow().clone();
    assert!(
        refused
            .as_deref()
            .is_some_and(|e| e.contains("`Retr` may not be allowed")
                && e.contains("wait for the reply to `Pass`")),
        "{refused:?}"
    );
    // Nothing of the refused command reached the server: the session went on.
    assert_eq!(
        log.borrow().last().map(|(r, _)| r.as_str()),
        Some("+OK bye")
    );
}

#[test]
fn a_handler_can_only_send_a_reply_its_request_allows() {
    let error = Rc::new(RefCell::new(None));
    let script: Vec<pop3::ClientMessage<'static>> = vec![
        pop3::User { name: b"bob" }.into(),
        pop3::Pass { password: b"right" }.into(),
        pop3::Stat {}.into(),
        pop3::Quit {}.into(),
    ];
    let server = Mailbox {
        wrong_reply: true,
        error: error.clone(),
        ..Mailbox::default()
    };
    let (log, _) = converse(server, script, false);
    let error = error.borrow().clone();
    assert_eq!(
        error.as_deref(),
        Some("pop3: `Listing` is not a reply to `Stat`; its replies are Ok, Err")
    );
    // The handler's error closed the connection: STAT got no reply.
    assert_eq!(log.borrow().len(), 3, "{:?}", log.borrow());
}

#[test]
fn a_reply_the_encoder_refuses_is_not_the_reply() {
    let error = Rc::new(RefCell::new(None));
    let script: Vec<pop3::ClientMessage<'static>> = vec![
        pop3::User { name: b"bob" }.into(),
        pop3::Pass { password: b"right" }.into(),
        pop3::Retr { msg: 1 }.into(),
        pop3::Noop {}.into(),
        pop3::Quit {}.into(),
    ];
    let server = Mailbox {
        unsendable: true,
        error: error.clone(),
        ..Mailbox::default()
    };
    let (log, _) = converse(server, script, false);
    let error = error.borrow().clone();
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("carriage return")),
        "{error:?}"
    );
    // Nothing of the refused listing went out, and the `-ERR` that followed is the reply.
    let log = log.borrow();
    let replies: Vec<&str> = log.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(
        replies,
        [
            "+OK POP3 ready",
            "+OK send PASS",
            "+OK logged in",
            "-ERR message cannot be sent",
            "+OK ",
            "+OK bye"
        ]
    );
}

/// Property: random dialogues of commands allowed where the client is, one per reply;
/// after every exchange the client's view of the state is exactly the state the server
/// is in (as its next request shows).
#[test]
fn random_dialogues_leave_both_sides_in_the_same_state() {
    for seed in 1..=40u64 {
        let dice = support::pseudo_random(64, seed);
        let mut script: Vec<pop3::ClientMessage<'static>> = Vec::new();
        let mut logged_in = false;
        for &d in &dice[..30] {
            let m: pop3::ClientMessage<'static> = if !logged_in {
                match d % 4 {
                    0 => pop3::Capa {}.into(),
                    1 => pop3::User { name: b"bob" }.into(),
                    2 => pop3::Pass { password: b"wrong" }.into(),
                    _ => {
                        logged_in = true;
                        pop3::Pass { password: b"right" }.into()
                    }
                }
            } else {
                let n = u32::from(d / 16 % 4);
                match d % 10 {
                    0 => pop3::Stat {}.into(),
                    1 => pop3::ListAll {}.into(),
                    2 => pop3::ListOne { msg: n }.into(),
                    3 => pop3::Retr { msg: n }.into(),
                    4 => pop3::Top { msg: n, lines: 1 }.into(),
                    5 => pop3::UidlAll {}.into(),
                    6 => pop3::UidlOne { msg: n }.into(),
                    7 => pop3::Dele { msg: n }.into(),
                    8 => pop3::Rset {}.into(),
                    _ => pop3::Noop {}.into(),
                }
            };
            script.push(m);
        }
        script.push(pop3::Quit {}.into());
        let seen = Rc::new(RefCell::new(Vec::new()));
        let server = Mailbox {
            seen: seen.clone(),
            ..Mailbox::default()
        };
        let (log, _) = converse(server, script.clone(), false);
        let log = log.borrow();
        let seen = seen.borrow();
        // A reply for the greeting and for every command.
        assert_eq!(log.len(), script.len() + 1, "seed {seed}: {log:?}");
        assert_eq!(seen.len(), script.len(), "seed {seed}");
        // After reply k (k = 0 is the greeting), the client knows the state the server
        // handles request k + 1 in.
        for (k, server_state) in seen.iter().enumerate() {
            assert_eq!(
                log[k].1,
                vec![*server_state],
                "seed {seed}, after exchange {k}: {:?}",
                log[k]
            );
        }
        assert!(
            log.last().unwrap().1.is_empty(),
            "after QUIT the connection is closing"
        );
    }
}

protocol!(pub mod smtp = "../protocols/descriptions/smtp.aproto");

/// A small SMTP server: multi-line greeting and EHLO replies, recipients refused when
/// their address says `bad`; with `tls`, `STARTTLS` refused once (`454`), then taken.
#[derive(Default)]
struct Mta {
    seen: Rc<RefCell<Vec<smtp::State>>>,
    tls: Option<ServerTls>,
    refused_once: bool,
    /// How many times TLS started.
    upgrades: Rc<Cell<usize>>,
}

fn line(cx: &mut smtp::ServerCx<'_, '_>, code: u16, more: bool, text: &str) -> Result {
    cx.send(smtp::Reply {
        code,
        more: if more { b"-" } else { b" " },
        text: text.as_bytes(),
    })
}

impl Mta {
    fn note(&mut self, cx: &smtp::ServerCx<'_, '_>) {
        self.seen.borrow_mut().push(cx.state());
    }
}

#[dispatcher(protocol = smtp, role = server)]
impl Mta {
    fn on_open(&mut self, cx: &mut smtp::ServerCx<'_, '_>) -> Result {
        line(cx, 220, true, "mx.example")?;
        line(cx, 220, false, "ready")
    }
    fn on_helo(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Helo<'_>) -> Result {
        self.note(cx);
        line(cx, 250, false, "mx.example")
    }
    fn on_ehlo(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Ehlo<'_>) -> Result {
        self.note(cx);
        line(cx, 250, true, "mx.example")?;
        line(cx, 250, true, "PIPELINING")?;
        line(cx, 250, false, "8BITMIME")
    }
    fn on_mail(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Mail<'_>) -> Result {
        self.note(cx);
        line(cx, 250, false, "ok")
    }
    fn on_rcpt(&mut self, cx: &mut smtp::ServerCx<'_, '_>, m: smtp::Rcpt<'_>) -> Result {
        self.note(cx);
        if m.path.windows(3).any(|w| w == b"bad") {
            line(cx, 550, false, "no such user")
        } else {
            line(cx, 250, false, "ok")
        }
    }
    fn on_data(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Data) -> Result {
        self.note(cx);
        if cx.state() == smtp::State::Recipients {
            line(cx, 354, false, "go ahead")
        } else {
            line(cx, 503, false, "need RCPT")
        }
    }
    fn on_body(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Body<'_>) -> Result {
        self.note(cx);
        line(cx, 250, false, "queued")
    }
    fn on_rset(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Rset) -> Result {
        self.note(cx);
        line(cx, 250, false, "ok")
    }
    fn on_noop(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Noop<'_>) -> Result {
        self.note(cx);
        line(cx, 250, false, "ok")
    }
    fn on_vrfy(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Vrfy<'_>) -> Result {
        self.note(cx);
        line(cx, 252, false, "maybe")
    }
    fn on_quit(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::Quit) -> Result {
        self.note(cx);
        line(cx, 221, false, "bye")
    }
    /// Refused (and the connection stays as it was) without TLS, and the first time.
    fn on_start_tls(&mut self, cx: &mut smtp::ServerCx<'_, '_>, _m: smtp::StartTls) -> Result {
        self.note(cx);
        match self.tls.clone() {
            Some(config) if self.refused_once => {
                self.upgrades.set(self.upgrades.get() + 1);
                let ready = smtp::Reply {
                    code: 220,
                    more: b" ",
                    text: b"go ahead",
                };
                cx.start_tls(ready, config)
            }
            _ => {
                self.refused_once = true;
                line(cx, 454, false, "4.7.0 TLS not available")
            }
        }
    }
}

/// Each whole reply's code, and the states the client then thinks the server may be in.
type SmtpLog = Rc<RefCell<Vec<(u16, Vec<smtp::State>)>>>;

/// A client that, after each whole reply, records where it thinks the server is and sends
/// a random command that is valid there.
struct Driver {
    dice: Vec<u8>,
    next: usize,
    log: SmtpLog,
    quit: bool,
    /// Asks for `STARTTLS` in `Greeted` (before TLS is on) with this.
    tls: Option<ClientTls>,
    /// Replies read in TLS.
    in_tls: Rc<Cell<usize>>,
}

#[dispatcher(protocol = smtp, role = client)]
impl Driver {
    fn on_reply(&mut self, cx: &mut smtp::ClientCx<'_, '_>, m: smtp::Reply<'_>) -> Result {
        if m.more == b"-" {
            return Ok(());
        }
        let states: Vec<smtp::State> = smtp::State::ALL
            .iter()
            .copied()
            .filter(|s| cx.may_be_in(*s))
            .collect();
        self.log.borrow_mut().push((m.code, states.clone()));
        if cx.is_tls() {
            self.in_tls.set(self.in_tls.get() + 1);
        }
        if self.quit {
            return Ok(());
        }
        let in_body = states == [smtp::State::Body];
        let Some(&d) = self
            .dice
            .get(self.next)
            .filter(|_| !in_body)
            .or(in_body.then_some(&0))
        else {
            self.quit = true;
            return cx.send(smtp::Quit {});
        };
        self.next += 1;
        use smtp::State::*;
        if let (Some(tls), [Greeted], 5, false) = (&self.tls, states.as_slice(), d % 6, cx.is_tls())
        {
            return cx.start_tls(smtp::StartTls {}, tls.clone());
        }
        let msg: smtp::ClientMessage<'static> = match (states.as_slice(), d % 6) {
            ([Body], _) => smtp::Body {
                text: Lines::from(&b"Subject: hi\r\n\r\n.dot\r\n"[..]),
            }
            .into(),
            ([Fresh], 0 | 1) => smtp::Ehlo { domain: b"client" }.into(),
            ([Fresh], 2) => smtp::Helo { domain: b"client" }.into(),
            ([Fresh], _) => smtp::Noop { text: None }.into(),
            ([Greeted], 0..=2) => smtp::Mail { path: b"<a@b>" }.into(),
            ([Greeted], 3) => smtp::Vrfy { who: b"x" }.into(),
            ([Greeted], _) => smtp::Rset {}.into(),
            ([Sender | Recipients], 0 | 1) => smtp::Rcpt { path: b"<good@b>" }.into(),
            ([Sender | Recipients], 2) => smtp::Rcpt { path: b"<bad@b>" }.into(),
            ([Sender | Recipients], 3 | 4) => smtp::Data {}.into(),
            ([Sender | Recipients], _) => smtp::Rset {}.into(),
            (other, _) => panic!("the client should know the state after a reply: {other:?}"),
        };
        cx.send(msg)
    }
}

/// Property: random SMTP dialogues (multi-line replies, recipients taken or refused, DATA
/// before and after a recipient) leave the generated client and server in the same state
/// after every exchange; the reply to RCPT and to DATA says it.
#[test]
fn random_smtp_dialogues_leave_both_sides_in_the_same_state() {
    smtp_dialogues(None);
}

/// Property: the same with `STARTTLS` among the commands (refused once, then taken): the
/// reply `220` takes both sides to `Fresh`, in TLS, and they go on in the same state.
#[test]
fn random_smtp_dialogues_with_starttls_leave_both_sides_in_the_same_state() {
    let certs = support::tls::TestCerts::new("dialogues");
    let (upgrades, in_tls) = smtp_dialogues(Some(&certs));
    assert!(upgrades > 0, "no dialogue started TLS");
    assert!(in_tls > 0, "no reply was read in TLS");
}

/// Runs the random dialogues; with `certs`, TLS may start. How many times TLS started,
/// and how many replies the clients read in TLS.
fn smtp_dialogues(certs: Option<&support::tls::TestCerts>) -> (usize, usize) {
    let upgrades = Rc::new(Cell::new(0));
    let in_tls = Rc::new(Cell::new(0));
    for seed in 1..=40u64 {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut map = Map::new();
        let (a, b) = UnixStream::pair().unwrap();
        map.add(
            a.into(),
            smtp::ServerChannel::new(Mta {
                seen: seen.clone(),
                tls: certs.map(|c| c.server_config()),
                upgrades: upgrades.clone(),
                ..Mta::default()
            }),
        )
        .unwrap();
        let driver = Driver {
            dice: support::pseudo_random(30, seed),
            next: 0,
            log: log.clone(),
            quit: false,
            tls: certs.map(|c| {
                ClientTls::new(c.client_config(), server_name("localhost").expect("name"))
            }),
            in_tls: in_tls.clone(),
        };
        map.add(b.into(), smtp::ClientChannel::new(driver)).unwrap();
        for _ in 0..2_000 {
            if map.is_empty() {
                break;
            }
            map.poll_once(Some(Duration::from_millis(10)), Backend::Poll)
                .unwrap();
        }
        let (log, seen) = (log.borrow(), seen.borrow());
        // The greeting, then one reply per command, QUIT's included.
        assert_eq!(log.len(), seen.len() + 1, "seed {seed}: {log:?}");
        assert_eq!(log.first().map(|l| l.0), Some(220));
        assert_eq!(log.last().map(|l| l.0), Some(221));
        for (k, server_state) in seen.iter().enumerate() {
            assert_eq!(
                log[k].1,
                vec![*server_state],
                "seed {seed}, after exchange {k}: {log:?}"
            );
        }
        // The dialogues reach every state, refused recipients included.
        if seed == 40 {
            assert!(seen.contains(&smtp::State::Body) && seen.contains(&smtp::State::Recipients));
        }
    }
    (upgrades.get(), in_tls.get())
}
