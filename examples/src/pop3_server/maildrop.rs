//! The maildrop of `pop3-server`: the files that `smtp-server --maildir DIR` writes
//! (`DIR/ID.eml`, one message each, CRLF line ends), seen as a POP3 mailbox.
//!
//! A [`Mailbox`] is a snapshot taken when the user logs in: the message numbers stay the
//! same for the whole session, whatever arrives meanwhile. It holds the maildrop's lock
//! (an exclusive `flock` of `DIR/.pop3.lock`, so a second session of the user, in this
//! process or another, is refused), marks messages deleted and unmarks them, and removes
//! the marked files only when [`Mailbox::commit`] is called (POP3's UPDATE state, after
//! `QUIT`). Dropping it releases the lock and removes nothing.
//!
//! Messages are served with CRLF line ends: a file stored with bare LF (or bare CR) line
//! ends, or whose last line has no line end, is served as if it had them
//! ([`normalize`]). The size of a message, in `STAT`, `LIST` and the `RETR` reply, is
//! its size as served ([`served_len`]), before dot-stuffing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use rustix::fs::{flock, FlockOperation};

/// The name of the lock file in the maildrop.
pub const LOCK_FILE: &str = ".pop3.lock";

/// The longest unique id (RFC 1939 section 7: 1 to 70 characters).
pub const MAX_UID: usize = 70;

/// Whether `name` is the name of a stored message: `ID.eml`, not hidden (smtp-server's
/// temporary files are `.ID.tmp`).
///
/// ```
/// use asyncore_examples::pop3_server::maildrop::is_message;
/// use std::ffi::OsStr;
/// assert!(is_message(OsStr::new("0000001A2B0000120000000.eml")));
/// assert!(!is_message(OsStr::new(".0000001A2B.tmp")));
/// assert!(!is_message(OsStr::new(".hidden.eml")));
/// assert!(!is_message(OsStr::new("notes.txt")));
/// ```
pub fn is_message(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.len() > ".eml".len() && b.ends_with(b".eml") && !b.starts_with(b".")
}

/// The unique id of the message stored as `name` (RFC 1939's `UIDL`): the name without
/// `.eml` when it is 1 to 70 printable ASCII characters (smtp-server's queue ids are),
/// else `x` and a 64-bit FNV-1a hash of the name in hexadecimal. It depends on the name
/// alone, so it is the same in every session.
///
/// ```
/// use asyncore_examples::pop3_server::maildrop::uid_of;
/// use std::ffi::OsStr;
/// assert_eq!(uid_of(OsStr::new("0000001A2B0000120000000.eml")), "0000001A2B0000120000000");
/// let odd = uid_of(OsStr::new("a name with spaces.eml"));
/// assert_eq!(odd.len(), 17);
/// assert!(odd.starts_with('x'));
/// assert_eq!(odd, uid_of(OsStr::new("a name with spaces.eml")));
/// ```
pub fn uid_of(name: &OsStr) -> String {
    let b = name.as_bytes();
    let stem = b.strip_suffix(b".eml").unwrap_or(b);
    if !stem.is_empty() && stem.len() <= MAX_UID && stem.iter().all(|&c| (0x21..=0x7e).contains(&c))
    {
        return String::from_utf8_lossy(stem).into_owned();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("x{h:016x}")
}

/// The size of `message` served with CRLF line ends ([`normalize`]), without copying it.
///
/// ```
/// use asyncore_examples::pop3_server::maildrop::{normalize, served_len};
/// for m in [&b"a\r\nb\r\n"[..], b"a\nb\n", b"a\rb", b"", b"last line"] {
///     assert_eq!(served_len(m), normalize(m).len());
/// }
/// assert_eq!(served_len(b"a\nb"), 6);
/// ```
pub fn served_len(message: &[u8]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < message.len() {
        match message[i] {
            b'\r' if message.get(i + 1) == Some(&b'\n') => {
                len += 2;
                i += 2;
                continue;
            }
            b'\r' | b'\n' => len += 2,
            _ => len += 1,
        }
        i += 1;
    }
    if !message.is_empty() && !message.ends_with(b"\n") && !message.ends_with(b"\r") {
        len += 2;
    }
    len
}

/// `message` with CRLF line ends: every bare LF and bare CR becomes CRLF, and a last line
/// without a line end gets one. A message that has them already is borrowed as it is.
///
/// ```
/// use asyncore_examples::pop3_server::maildrop::normalize;
/// assert_eq!(normalize(b"a\nb\r\nc\rd"), &b"a\r\nb\r\nc\r\nd\r\n"[..]);
/// assert!(matches!(normalize(b"as is\r\n"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn normalize(message: &[u8]) -> Cow<'_, [u8]> {
    if served_len(message) == message.len() {
        return Cow::Borrowed(message);
    }
    Cow::Owned(crate::smtp_client::normalize_line_ends(message))
}

/// The part of a message (with CRLF line ends) that `TOP n lines` sends: the headers, the
/// blank line after them, and the first `lines` lines of the body. A message without a
/// blank line is all headers.
///
/// ```
/// use asyncore_examples::pop3_server::maildrop::top;
/// let m = b"Subject: x\r\nTo: y\r\n\r\none\r\ntwo\r\nthree\r\n";
/// assert_eq!(top(m, 0), b"Subject: x\r\nTo: y\r\n\r\n");
/// assert_eq!(top(m, 2), b"Subject: x\r\nTo: y\r\n\r\none\r\ntwo\r\n");
/// assert_eq!(top(m, 9), m);
/// assert_eq!(top(b"\r\nbody\r\n", 0), b"\r\n");
/// assert_eq!(top(b"Subject: only headers\r\n", 5), b"Subject: only headers\r\n");
/// ```
pub fn top(message: &[u8], lines: u32) -> &[u8] {
    let body = if message.starts_with(b"\r\n") {
        2
    } else {
        match message.windows(4).position(|w| w == b"\r\n\r\n") {
            Some(i) => i + 4,
            None => return message,
        }
    };
    let mut end = body;
    for _ in 0..lines {
        match message[end..].windows(2).position(|w| w == b"\r\n") {
            Some(i) => end += i + 2,
            None => return message,
        }
        if end == message.len() {
            break;
        }
    }
    &message[..end]
}

/// How large a maildrop may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most messages a mailbox holds; a larger maildrop is refused at login.
    pub max_messages: usize,
    /// The largest message served, in bytes as stored; a larger one is listed, but
    /// `RETR` and `TOP` refuse it.
    pub max_size: usize,
}

/// One message of a [`Mailbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its file name in the maildrop.
    pub name: OsString,
    /// Its unique id ([`uid_of`]).
    pub uid: String,
    /// Its size as served ([`served_len`]); for a message over the size limit, the size
    /// of its file.
    pub size: u64,
    /// Whether it is over the size limit (listed, never read).
    pub too_large: bool,
}

/// What a [`SizeCache`] knows of a file: its length and modification time when it was
/// measured, and its size as served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Measured {
    len: u64,
    modified: Option<SystemTime>,
    size: u64,
}

/// The sizes of messages already measured, by file name, length and modification time,
/// so that a login does not read every message again. Shared by the sessions of a server.
#[derive(Debug, Default)]
pub struct SizeCache {
    sizes: Mutex<HashMap<OsString, Measured>>,
}

impl SizeCache {
    fn get(&self, name: &OsStr, len: u64, modified: Option<SystemTime>) -> Option<u64> {
        let sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        match sizes.get(name) {
            Some(m) if m.len == len && m.modified == modified && modified.is_some() => Some(m.size),
            _ => None,
        }
    }

    fn put(&self, name: &OsStr, len: u64, modified: Option<SystemTime>, size: u64, cap: usize) {
        let mut sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        if sizes.len() >= cap {
            sizes.clear();
        }
        sizes.insert(
            name.to_os_string(),
            Measured {
                len,
                modified,
                size,
            },
        );
    }
}

/// Why a mailbox could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Another session holds the maildrop's lock.
    InUse,
    /// The maildrop holds more messages than [`Limits::max_messages`].
    TooMany {
        /// How many it holds.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// The maildrop could not be read.
    Io(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InUse => f.write_str("the maildrop is in use by another session"),
            OpenError::TooMany { found, max } => write!(
                f,
                "the maildrop holds {found} messages, more than the {max} this server serves"
            ),
            OpenError::Io(e) => write!(f, "the maildrop cannot be read: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// Why a message cannot be read.
#[derive(Debug)]
pub enum ReadError {
    /// No message has that number, or it is marked deleted.
    NoSuchMessage,
    /// It is over [`Limits::max_size`].
    TooLarge,
    /// Its file is gone or cannot be read.
    Io(io::Error),
}

/// The messages of a maildrop as they were at login, with the deletion marks of the
/// session and the maildrop's lock.
///
/// ```
/// use asyncore_examples::pop3_server::maildrop::{Limits, Mailbox, SizeCache};
///
/// let dir = std::env::temp_dir().join(format!("maildrop-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("A.eml"), b"Subject: a\n\nbare LF\n")?;
/// std::fs::write(dir.join("B.eml"), b"Subject: b\r\n\r\nCRLF\r\n")?;
/// let limits = Limits { max_messages: 100, max_size: 1 << 20 };
/// let mut mailbox = Mailbox::open(&dir, limits, &SizeCache::default())?;
/// assert_eq!(mailbox.stat(), (2, 23 + 20));
/// assert_eq!(mailbox.read(1).unwrap(), b"Subject: a\r\n\r\nbare LF\r\n");
/// // A second session is refused while the first holds the lock.
/// assert!(Mailbox::open(&dir, limits, &SizeCache::default()).is_err());
/// assert!(mailbox.delete(2));
/// assert_eq!(mailbox.stat(), (1, 23));
/// assert_eq!(mailbox.commit()?, 1);
/// assert!(!dir.join("B.eml").exists());
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mailbox {
    dir: PathBuf,
    entries: Vec<Entry>,
    deleted: Vec<bool>,
    limits: Limits,
    /// Holds the lock while the mailbox is open.
    _lock: File,
}

impl Mailbox {
    /// Locks the maildrop `dir` and takes a snapshot of its messages (`*.eml`, in the
    /// order of their names: the order smtp-server took them), measuring each one not
    /// found in `cache`.
    pub fn open(dir: &Path, limits: Limits, cache: &SizeCache) -> Result<Mailbox, OpenError> {
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))?;
        match flock(&lock, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(OpenError::InUse),
            Err(e) => return Err(OpenError::Io(e.into())),
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if !is_message(&name) {
                continue;
            }
            if names.len() >= limits.max_messages {
                // Count the rest for the error, without keeping them.
                let more = fs::read_dir(dir)?
                    .filter_map(|e| e.ok())
                    .filter(|e| is_message(&e.file_name()))
                    .count();
                return Err(OpenError::TooMany {
                    found: more.max(names.len() + 1),
                    max: limits.max_messages,
                });
            }
            names.push(name);
        }
        names.sort();
        let mut entries = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(&name);
            let meta = match fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                // Gone since the listing (another session's commit), or not a file.
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            let len = meta.len();
            let too_large = len > limits.max_size as u64;
            let modified = meta.modified().ok();
            let size = if too_large {
                len
            } else if let Some(size) = cache.get(&name, len, modified) {
                size
            } else {
                let data = match read_limited(&path, limits.max_size) {
                    Ok(d) => d,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                let size = served_len(&data) as u64;
                cache.put(&name, len, modified, size, limits.max_messages.max(1024));
                size
            };
            entries.push(Entry {
                uid: uid_of(&name),
                name,
                size,
                too_large,
            });
        }
        Ok(Mailbox {
            dir: dir.to_path_buf(),
            deleted: vec![false; entries.len()],
            entries,
            limits,
            _lock: lock,
        })
    }

    /// The number of messages in the snapshot, deleted ones included: message numbers run
    /// from 1 to this.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the snapshot has no message.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Message `n` (from 1), unless there is none or it is marked deleted.
    pub fn get(&self, n: u32) -> Option<&Entry> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        match self.deleted.get(i) {
            Some(false) => self.entries.get(i),
            _ => None,
        }
    }

    /// Whether message `n` exists in the snapshot and is marked deleted.
    pub fn is_deleted(&self, n: u32) -> bool {
        usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| self.deleted.get(i).copied())
            .unwrap_or(false)
    }

    /// The messages not marked deleted, with their numbers.
    pub fn messages(&self) -> impl Iterator<Item = (u32, &Entry)> + '_ {
        self.entries
            .iter()
            .zip(&self.deleted)
            .enumerate()
            .filter(|(_, (_, &d))| !d)
            .map(|(i, (e, _))| (i as u32 + 1, e))
    }

    /// The number of messages not marked deleted and their total size.
    pub fn stat(&self) -> (usize, u64) {
        self.messages()
            .fold((0, 0), |(n, size), (_, e)| (n + 1, size + e.size))
    }

    /// Marks message `n` deleted; false if there is no such message or it already is.
    pub fn delete(&mut self, n: u32) -> bool {
        if self.get(n).is_none() {
            return false;
        }
        self.deleted[n as usize - 1] = true;
        true
    }

    /// Unmarks every message marked deleted.
    pub fn reset(&mut self) {
        self.deleted.iter_mut().for_each(|d| *d = false);
    }

    /// Message `n` as served: CRLF line ends ([`normalize`]).
    pub fn read(&self, n: u32) -> Result<Vec<u8>, ReadError> {
        let entry = self.get(n).ok_or(ReadError::NoSuchMessage)?;
        if entry.too_large {
            return Err(ReadError::TooLarge);
        }
        let data = read_limited(&self.dir.join(&entry.name), self.limits.max_size)
            .map_err(ReadError::Io)?;
        Ok(match normalize(&data) {
            Cow::Borrowed(_) => data,
            Cow::Owned(d) => d,
        })
    }

    /// Removes the files of the messages marked deleted (POP3's UPDATE state), then
    /// releases the lock: the number removed. A file already gone counts as removed; the
    /// first other failure is returned after trying every file.
    pub fn commit(self) -> io::Result<usize> {
        let mut removed = 0;
        let mut first_error = None;
        for (entry, _) in self.entries.iter().zip(&self.deleted).filter(|(_, &d)| d) {
            match fs::remove_file(self.dir.join(&entry.name)) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => removed += 1,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(removed),
            Some(e) => Err(e),
        }
    }
}

/// Reads `path`, at most `max` bytes (more is an error: the file grew past the limit).
fn read_limited(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut data = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut data)?;
    if data.len() > max {
        return Err(io::Error::other("the message is over the size limit"));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_crlf_line_ends() {
        assert_eq!(served_len(b"a\r\n"), 3);
        assert_eq!(served_len(b"a\n"), 3);
        assert_eq!(served_len(b"a\r"), 3);
        assert_eq!(served_len(b"a\r\r\n"), 5);
        assert_eq!(served_len(b"\n\n"), 4);
        assert_eq!(normalize(b"a\r\r\n").as_ref(), b"a\r\n\r\n");
    }

    #[test]
    fn top_counts_body_lines() {
        let m = b"H: 1\r\n\r\n\r\n.dot\r\nend";
        assert_eq!(top(m, 1), b"H: 1\r\n\r\n\r\n");
        assert_eq!(top(m, 2), b"H: 1\r\n\r\n\r\n.dot\r\n");
        assert_eq!(top(m, 3), m);
    }

    #[test]
    fn numbers_deletion_and_limits() {
        let dir = std::env::temp_dir().join(format!("maildrop-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("2.eml"), b"two\r\n").unwrap();
        fs::write(dir.join("1.eml"), b"one\r\n").unwrap();
        fs::write(dir.join("3.eml"), vec![b'x'; 100]).unwrap();
        fs::write(dir.join(".4.tmp"), b"partial").unwrap();
        fs::write(dir.join("notes.txt"), b"not mail").unwrap();
        let cache = SizeCache::default();
        let limits = Limits {
            max_messages: 3,
            max_size: 50,
        };
        let mut m = Mailbox::open(&dir, limits, &cache).unwrap();
        let uids: Vec<&str> = m.messages().map(|(_, e)| e.uid.as_str()).collect();
        assert_eq!(uids, ["1", "2", "3"]);
        assert!(m.get(3).unwrap().too_large);
        assert!(matches!(m.read(3), Err(ReadError::TooLarge)));
        assert!(matches!(m.read(4), Err(ReadError::NoSuchMessage)));
        assert!(matches!(m.read(0), Err(ReadError::NoSuchMessage)));
        assert!(m.delete(1));
        assert!(!m.delete(1));
        assert!(m.is_deleted(1));
        assert!(matches!(m.read(1), Err(ReadError::NoSuchMessage)));
        m.reset();
        assert_eq!(m.read(1).unwrap(), b"one\r\n");
        assert!(m.delete(2));
        drop(m);
        // Dropping the mailbox removes nothing.
        assert!(dir.join("2.eml").exists());
        fs::write(dir.join("5.eml"), b"five\r\n").unwrap();
        let err = Mailbox::open(&dir, limits, &cache).unwrap_err();
        assert!(
            matches!(err, OpenError::TooMany { found: 4, max: 3 }),
            "{err}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
