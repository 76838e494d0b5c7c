//! `Map::send_to` reaches every channel, the one whose handler is running included: a
//! broker that publishes to every subscriber of a topic, its own connection among them,
//! must not lose the copy for itself.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use asyncore_runtime::{Backend, Channel, Dispatcher, Map, Result, Token};

/// On each read, replies `first`, then sends `fan-out` to every channel in `members`
/// through the map (itself included).
struct Member {
    members: Vec<Token>,
}

impl Dispatcher for Member {
    fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
        let mut buf = [0u8; 64];
        let n = ch.recv(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        ch.send_buffered(b"first\n")?;
        let me = ch.token();
        let members = if self.members.is_empty() {
            vec![me]
        } else {
            self.members.clone()
        };
        for t in members {
            ch.map().send_to(t, b"fan-out\n")?;
        }
        Ok(())
    }
}

fn read_exactly(s: &mut UnixStream, n: usize) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = vec![0u8; n];
    s.read_exact(&mut out).unwrap();
    out
}

#[test]
fn send_to_the_running_channel_arrives_after_its_own_replies() {
    for backend in [Backend::Select, Backend::Poll, Backend::Epoll] {
        let mut map = Map::new();
        let (a, mut peer) = UnixStream::pair().unwrap();
        map.add(
            a.into(),
            Member {
                members: Vec::new(),
            },
        )
        .unwrap();
        peer.write_all(b"x").unwrap();
        for _ in 0..3 {
            map.poll_once(Some(Duration::from_millis(50)), backend)
                .unwrap();
        }
        assert_eq!(
            read_exactly(&mut peer, 14),
            b"first\nfan-out\n",
            "{backend:?}"
        );
    }
}

#[test]
fn send_to_reaches_the_others_and_itself() {
    let mut map = Map::new();
    let (a, mut pa) = UnixStream::pair().unwrap();
    let (b, mut pb) = UnixStream::pair().unwrap();
    let ta = map
        .add(
            a.into(),
            Member {
                members: Vec::new(),
            },
        )
        .unwrap();
    let tb = map
        .add(
            b.into(),
            Member {
                members: Vec::new(),
            },
        )
        .unwrap();
    map.get_mut::<Member>(ta).unwrap().members = vec![ta, tb];
    pa.write_all(b"x").unwrap();
    for _ in 0..3 {
        map.poll_once(Some(Duration::from_millis(50)), Backend::Epoll)
            .unwrap();
    }
    assert_eq!(read_exactly(&mut pa, 14), b"first\nfan-out\n");
    assert_eq!(read_exactly(&mut pb, 8), b"fan-out\n");
}

#[test]
fn send_to_the_running_channel_is_bounded_by_its_output_limit() {
    struct Greedy(Option<std::io::Error>);
    impl Dispatcher for Greedy {
        fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
            let mut buf = [0u8; 8];
            ch.recv(&mut buf)?;
            let me = ch.token();
            let big = vec![b'z'; 1 << 20];
            for _ in 0..64 {
                if let Err(e) = ch.map().send_to(me, &big) {
                    self.0 = Some(e);
                    break;
                }
            }
            Ok(())
        }
    }
    let mut map = Map::new();
    let (a, mut peer) = UnixStream::pair().unwrap();
    let t = map.add(a.into(), Greedy(None)).unwrap();
    peer.write_all(b"x").unwrap();
    map.poll_once(Some(Duration::from_millis(50)), Backend::Poll)
        .unwrap();
    let err = map
        .get::<Greedy>(t)
        .and_then(|g| g.0.as_ref())
        .map(|e| e.to_string());
    assert!(
        err.as_ref().is_some_and(|e| e.contains("output limit")),
        "{err:?}"
    );
}
