//! A cache of small files, one per loop, as nginx's `open_file_cache` but checked on
//! every request: a hit costs one `statx` of the file (no open, read or close) and no
//! allocation.
//!
//! An entry is keyed by the request target's path (before any `?`) exactly as the
//! client sent it, and holds the file's contents and identity (device, inode, size,
//! modification and change times) from when it was opened under the root with
//! `openat2(RESOLVE_BENEATH)`. A hit is served only if `statx` of the same relative
//! path, without following a final symbolic link, finds the same identity: a file
//! rewritten, replaced, removed or turned into a link misses, and the request takes the
//! slow path (which confines it to the root again). Reaching the same inode by another
//! way (a directory swapped for a link) serves the same file that was served before.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, StatxFlags};

use super::files::Root;

/// The largest file the cache keeps, in bytes.
pub const CACHED_FILE_MAX: usize = 16 * 1024;
/// The most entries a cache holds.
pub const CACHE_ENTRIES_MAX: usize = 1024;
/// The most file bytes a cache holds.
pub const CACHE_BYTES_MAX: usize = 8 << 20;

/// What identifies a file's version: a different value means a different file or new
/// contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl Identity {
    fn of_metadata(meta: &Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec() as u32),
            ctime: (meta.ctime(), meta.ctime_nsec() as u32),
        }
    }

    /// The identity of the regular file at `rel` under `root` now; `None` if there is
    /// none (or it is not a regular file).
    fn of_path(root: &Root, rel: &CStr) -> Option<Identity> {
        let st = rustix::fs::statx(
            root.dir(),
            rel,
            AtFlags::SYMLINK_NOFOLLOW,
            StatxFlags::BASIC_STATS,
        )
        .ok()?;
        if FileType::from_raw_mode(st.stx_mode.into()) != FileType::RegularFile {
            return None;
        }
        Some(Identity {
            dev: rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            size: st.stx_size,
            mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
            ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        })
    }
}

#[derive(Debug)]
struct Entry {
    /// The file's path relative to the root.
    rel: CString,
    identity: Identity,
    content_type: &'static str,
    body: Rc<[u8]>,
}

/// A hit: the file's media type and contents.
#[derive(Debug, Clone)]
pub(super) struct Hit {
    pub content_type: &'static str,
    pub body: Rc<[u8]>,
}

/// The small files of one loop, by request path (see [the module docs](self)).
#[derive(Debug, Default)]
pub(super) struct FileCache {
    entries: HashMap<Box<[u8]>, Entry>,
    bytes: usize,
}

/// The path of a request target: what comes before its query.
pub(super) fn key_of(target: &[u8]) -> &[u8] {
    match target.iter().position(|&b| b == b'?') {
        Some(i) => &target[..i],
        None => target,
    }
}

impl FileCache {
    /// The file cached under `key`, if it is still the file it was.
    pub(super) fn get(&mut self, root: &Root, key: &[u8]) -> Option<Hit> {
        let entry = self.entries.get(key)?;
        if Identity::of_path(root, &entry.rel) != Some(entry.identity) {
            if let Some(old) = self.entries.remove(key) {
                self.bytes -= old.body.len();
            }
            return None;
        }
        Some(Hit {
            content_type: entry.content_type,
            body: entry.body.clone(),
        })
    }

    /// Keeps `body`, the whole contents of the file at `rel` under the root (opened
    /// there, with metadata `meta`), under `key`. Files over [`CACHED_FILE_MAX`], and
    /// paths that are not relative, are not kept; a full cache is emptied first.
    pub(super) fn insert(
        &mut self,
        key: &[u8],
        rel: &Path,
        meta: &Metadata,
        content_type: &'static str,
        body: &[u8],
    ) {
        if body.len() > CACHED_FILE_MAX || rel.is_absolute() || meta.len() != body.len() as u64 {
            return;
        }
        let Ok(rel) = CString::new(rel.as_os_str().as_bytes()) else {
            return;
        };
        if self.entries.len() >= CACHE_ENTRIES_MAX || self.bytes + body.len() > CACHE_BYTES_MAX {
            self.entries.clear();
            self.bytes = 0;
        }
        let entry = Entry {
            rel,
            identity: Identity::of_metadata(meta),
            content_type,
            body: Rc::from(body),
        };
        self.bytes += body.len();
        if let Some(old) = self.entries.insert(key.into(), entry) {
            self.bytes -= old.body.len();
        }
    }

    /// The number of files held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http_server::files::canonical_root;

    fn setup(name: &str) -> (std::path::PathBuf, Root) {
        let dir =
            std::env::temp_dir().join(format!("asyncore-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let root = canonical_root(&dir).unwrap();
        (dir, root)
    }

    fn put(cache: &mut FileCache, dir: &Path, key: &[u8], name: &str) {
        let body = std::fs::read(dir.join(name)).unwrap();
        let meta = std::fs::metadata(dir.join(name)).unwrap();
        cache.insert(key, Path::new(name), &meta, "text/plain", &body);
    }

    #[test]
    fn a_hit_is_the_file_until_it_changes() {
        let (dir, root) = setup("change");
        std::fs::write(dir.join("a.txt"), b"first").unwrap();
        let mut cache = FileCache::default();
        put(&mut cache, &dir, b"/a.txt", "a.txt");
        assert_eq!(&*cache.get(&root, b"/a.txt").unwrap().body, b"first");
        assert!(cache.get(&root, b"/b.txt").is_none());

        // Rewritten with other contents of the same length: a miss, and dropped.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("a.txt"), b"other").unwrap();
        assert!(cache.get(&root, b"/a.txt").is_none());
        assert_eq!(cache.len(), 0);

        // Replaced by a symbolic link to the same contents: a miss.
        put(&mut cache, &dir, b"/a.txt", "a.txt");
        std::fs::write(dir.join("b.txt"), b"other").unwrap();
        std::fs::remove_file(dir.join("a.txt")).unwrap();
        std::os::unix::fs::symlink(dir.join("b.txt"), dir.join("a.txt")).unwrap();
        assert!(cache.get(&root, b"/a.txt").is_none());

        // Removed: a miss.
        put(&mut cache, &dir, b"/b.txt", "b.txt");
        std::fs::remove_file(dir.join("b.txt")).unwrap();
        assert!(cache.get(&root, b"/b.txt").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_cache_is_bounded() {
        let (dir, root) = setup("bounds");
        std::fs::write(dir.join("big"), vec![b'x'; CACHED_FILE_MAX + 1]).unwrap();
        std::fs::write(dir.join("small"), b"s").unwrap();
        let mut cache = FileCache::default();
        put(&mut cache, &dir, b"/big", "big");
        assert_eq!(cache.len(), 0, "a file over the limit is not kept");
        for i in 0..CACHE_ENTRIES_MAX + 10 {
            put(&mut cache, &dir, format!("/small?{i}").as_bytes(), "small");
            assert!(cache.len() <= CACHE_ENTRIES_MAX);
        }
        assert!(cache
            .get(
                &root,
                format!("/small?{}", CACHE_ENTRIES_MAX + 9).as_bytes()
            )
            .is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_key_is_the_path_without_the_query() {
        assert_eq!(key_of(b"/a/b?x=1"), b"/a/b");
        assert_eq!(key_of(b"/a/b"), b"/a/b");
        assert_eq!(key_of(b"?"), b"");
    }
}
