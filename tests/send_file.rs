//! `Channel::send_file` on every backend: a file several times the socket buffer goes out
//! byte for byte, after the bytes queued before it, to a client that reads slowly; a
//! file that ends early sends what it has and then 0.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
#[path = "support/inproc.rs"]
mod inproc;

use std::fs::File;
use std::io::Read;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use asyncore_runtime::{Backend, Channel, Dispatcher, Map, Result};

/// Sends a header line with `queue`, then `file` from `offset` with `send_file`, then
/// closes.
struct FileSender {
    file: File,
    head: &'static [u8],
    started: bool,
    sent: u64,
    len: u64,
}

impl Dispatcher for FileSender {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        true
    }

    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        if !self.started {
            self.started = true;
            ch.queue(self.head)?;
        }
        if self.sent < self.len {
            let left = (self.len - self.sent) as usize;
            self.sent += ch.send_file(&self.file, self.sent, left)? as u64;
        }
        if self.sent == self.len && ch.pending_output() == 0 {
            ch.close();
        }
        Ok(())
    }
}

/// A file of `len` bytes that differ from their neighbours, under the temp directory.
fn test_file(name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let path =
        std::env::temp_dir().join(format!("asyncore-send-file-{}-{name}", std::process::id()));
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(&path, &data).expect("write the test file");
    (path, data)
}

fn a_large_file_goes_out_after_the_queued_bytes(backend: Backend) {
    const LEN: usize = 3 << 20;
    let (path, data) = test_file(backend.name(), LEN);
    let mut map = Map::new();
    let file_path = path.clone();
    // A small send buffer, so that the socket fills many times over.
    let addr = inproc::listen_with(
        &mut map,
        move || FileSender {
            file: File::open(&file_path).expect("open the test file"),
            head: b"HEAD\n",
            started: false,
            sent: 0,
            len: LEN as u64,
        },
        Some(16 * 1024),
    );
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            // Slowly, at first: the server meets a full socket.
            if got.len() < 256 * 1024 {
                std::thread::sleep(Duration::from_millis(1));
            }
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read: {e}"),
            }
        }
        got
    });
    let got = inproc::serve_until(&mut map, backend, client);
    std::fs::remove_file(&path).ok();
    assert_eq!(got.len(), LEN + 5, "{}: every byte", backend.name());
    assert_eq!(
        &got[..5],
        b"HEAD\n",
        "{}: the queued bytes first",
        backend.name()
    );
    assert!(
        got[5..] == data[..],
        "{}: the file byte for byte",
        backend.name()
    );
}

fn a_file_shorter_than_asked_sends_what_it_has(backend: Backend) {
    let (path, data) = test_file(&format!("short-{}", backend.name()), 1000);
    let mut map = Map::new();
    let file_path = path.clone();
    let addr = inproc::listen(&mut map, move || ShortSender {
        file: File::open(&file_path).expect("open the test file"),
        results: Vec::new(),
    });
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("read");
        got
    });
    let got = inproc::serve_until(&mut map, backend, client);
    std::fs::remove_file(&path).ok();
    assert_eq!(
        got,
        data[500..],
        "{}: from the offset to the end",
        backend.name()
    );
}

/// Asks for 10,000 bytes from offset 500 of a 1,000-byte file: 500 come, then 0.
struct ShortSender {
    file: File,
    results: Vec<usize>,
}

impl Dispatcher for ShortSender {
    fn writable(&mut self, _ch: &Channel<'_>) -> bool {
        true
    }

    fn handle_write(&mut self, ch: &mut Channel<'_>) -> Result {
        let sent: usize = self.results.iter().sum();
        let n = ch.send_file(&self.file, 500 + sent as u64, 10_000 - sent)?;
        self.results.push(n);
        if n == 0 {
            assert_eq!(sent, 500, "a 1,000-byte file from 500 gives 500 bytes");
            ch.close();
        }
        Ok(())
    }
}

on_every_backend!(
    a_large_file_goes_out_after_the_queued_bytes,
    a_file_shorter_than_asked_sends_what_it_has
);
