//! Static files: finding a request's file under the root without ever leaving it, its
//! content type, and the `Date` header's format.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::request::Refusal;

/// The content type of a file, by its extension (any case); `application/octet-stream`
/// for anything not in the table.
///
/// ```
/// use asyncore_examples::http_server::content_type;
/// use std::path::Path;
/// assert_eq!(content_type(Path::new("index.HTML")), "text/html; charset=utf-8");
/// assert_eq!(content_type(Path::new("app.wasm")), "application/wasm");
/// assert_eq!(content_type(Path::new("README")), "application/octet-stream");
/// ```
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.as_bytes().to_ascii_lowercase())
        .unwrap_or_default();
    match &ext[..] {
        b"html" | b"htm" => "text/html; charset=utf-8",
        b"css" => "text/css; charset=utf-8",
        b"js" | b"mjs" => "text/javascript; charset=utf-8",
        b"json" => "application/json",
        b"txt" => "text/plain; charset=utf-8",
        b"png" => "image/png",
        b"jpg" | b"jpeg" => "image/jpeg",
        b"gif" => "image/gif",
        b"svg" => "image/svg+xml",
        b"ico" => "image/x-icon",
        b"wasm" => "application/wasm",
        b"pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// A directory of static files: its canonical path (absolute, without symbolic links)
/// and a descriptor of it, opened once, from which every request's file is opened with
/// `openat2(RESOLVE_BENEATH)`: the kernel refuses any path that would leave it, in the
/// one system call that opens the file.
#[derive(Debug, Clone)]
pub struct Root {
    path: PathBuf,
    dir: Arc<OwnedFd>,
}

impl PartialEq for Root {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for Root {}

impl Root {
    /// The canonical path.
    ///
    /// ```
    /// use asyncore_examples::http_server::canonical_root;
    /// let root = canonical_root(std::path::Path::new(".")).unwrap();
    /// assert!(root.path().is_absolute());
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor of the directory.
    pub(super) fn dir(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.dir.as_fd()
    }
}

/// Opens a directory to serve ([`Root`]): refused if it is not a directory.
///
/// ```
/// use asyncore_examples::http_server::canonical_root;
/// let root = canonical_root(std::path::Path::new(".")).unwrap();
/// assert!(root.path().is_absolute());
/// assert!(canonical_root(std::path::Path::new("Cargo.toml")).is_err()); // not a directory
/// ```
pub fn canonical_root(dir: &Path) -> io::Result<Root> {
    let path = dir.canonicalize()?;
    if !path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    let fd = rustix::fs::open(
        &path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(Root {
        path,
        dir: Arc::new(fd),
    })
}

const NOT_FOUND: Refusal = Refusal {
    status: 404,
    detail: "no such file",
};
const FORBIDDEN: Refusal = Refusal {
    status: 403,
    detail: "not a file that may be served",
};

/// The canonical path of `path` if it is under `root` and is a regular file, else the
/// refusal: 404 if it does not exist, 403 if it resolves outside the root (a symbolic
/// link out of it) or is not a regular file.
fn confine(root: &Path, path: &Path) -> Result<(PathBuf, std::fs::Metadata), Refusal> {
    let canonical = path.canonicalize().map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => FORBIDDEN,
        _ => NOT_FOUND,
    })?;
    if !canonical.starts_with(root) {
        return Err(Refusal {
            status: 403,
            detail: "path outside the root",
        });
    }
    let meta = std::fs::metadata(&canonical).map_err(|_| NOT_FOUND)?;
    Ok((canonical, meta))
}

/// The file a request for `segments` (from
/// [`request_path`](super::request_path)) is answered with, under the canonical `root`:
/// the file itself, or `index.html` for a directory (404 if it has none). Symbolic links
/// are followed only if they end under the root (else 403); anything but a regular file
/// is refused (403).
///
/// ```
/// use asyncore_examples::http_server::{canonical_root, resolve};
/// let root = canonical_root(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
/// let found = resolve(root.path(), &[b"Cargo.toml".to_vec()]).unwrap();
/// assert!(found.ends_with("Cargo.toml"));
/// assert_eq!(resolve(root.path(), &[b"no-such-file".to_vec()]).unwrap_err().status, 404);
/// ```
pub fn resolve(root: &Path, segments: &[Vec<u8>]) -> Result<PathBuf, Refusal> {
    let mut path = root.to_path_buf();
    for s in segments {
        path.push(std::ffi::OsStr::from_bytes(s));
    }
    let (canonical, meta) = confine(root, &path)?;
    if meta.is_dir() {
        let (index, meta) = confine(root, &canonical.join("index.html"))?;
        if !meta.is_file() {
            return Err(NOT_FOUND);
        }
        return Ok(index);
    }
    if !meta.is_file() {
        return Err(FORBIDDEN);
    }
    Ok(canonical)
}

/// Opens the file a request for `segments` is answered with, under `root`, with its
/// size and its path relative to the root: as [`resolve`] and [`open_file`] together,
/// in two system calls (`openat2` with `RESOLVE_BENEATH`, then `fstat`; a directory's
/// `index.html` takes two more). Symbolic links are followed while they stay under the
/// root; one that leaves it, or any absolute one, is refused (403). On a kernel without
/// `openat2` (before Linux 5.6) it falls back to [`resolve`] and [`open_file`].
///
/// ```
/// use asyncore_examples::http_server::{canonical_root, open_under};
/// let root = canonical_root(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
/// let (path, _file, len) = open_under(&root, &[b"Cargo.toml".to_vec()], 1 << 20).unwrap();
/// assert!(path.ends_with("Cargo.toml") && len > 0);
/// assert_eq!(open_under(&root, &[b"no-such-file".to_vec()], 1 << 20).unwrap_err().status, 404);
/// assert_eq!(open_under(&root, &[b"..".to_vec()], 1 << 20).unwrap_err().status, 403);
/// ```
pub fn open_under(
    root: &Root,
    segments: &[Vec<u8>],
    max: u64,
) -> Result<(PathBuf, File, u64), Refusal> {
    let mut rel = PathBuf::from(".");
    for s in segments {
        rel.push(std::ffi::OsStr::from_bytes(s));
    }
    let (file, meta) = match open_beneath(root, &rel) {
        Err(rustix::io::Errno::NOSYS) => {
            let path = resolve(root.path(), segments)?;
            let (file, len) = open_file(&path, max)?;
            return Ok((path, file, len));
        }
        found => found.map_err(refusal)?,
    };
    let (file, meta) = if meta.is_dir() {
        drop(file);
        rel.push("index.html");
        let (file, meta) = open_beneath(root, &rel).map_err(refusal)?;
        if !meta.is_file() {
            return Err(NOT_FOUND);
        }
        (file, meta)
    } else {
        (file, meta)
    };
    if !meta.is_file() {
        return Err(FORBIDDEN);
    }
    if meta.len() > max {
        return Err(Refusal {
            status: 403,
            detail: "file larger than the server serves",
        });
    }
    Ok((rel, file, meta.len()))
}

/// Opens `rel` under `root` for reading, never leaving it, and reads its metadata.
fn open_beneath(root: &Root, rel: &Path) -> Result<(File, std::fs::Metadata), rustix::io::Errno> {
    // Non-blocking, so that a FIFO cannot stall the loop.
    let fd = rustix::fs::openat2(
        &*root.dir,
        rel,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )?;
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| rustix::io::Errno::from_io_error(&e).unwrap_or(rustix::io::Errno::IO))?;
    Ok((file, meta))
}

/// The refusal for an error of [`open_beneath`].
fn refusal(e: rustix::io::Errno) -> Refusal {
    use rustix::io::Errno;
    match e {
        // A socket or a device without a driver, and a file we may not read.
        Errno::NXIO | Errno::ACCESS | Errno::PERM => FORBIDDEN,
        Errno::XDEV => Refusal {
            status: 403,
            detail: "path outside the root",
        },
        // No such file, a name too long, a loop of links: as nginx, not found.
        _ => NOT_FOUND,
    }
}

/// Opens a file found by [`resolve`] for reading, and returns it with its size; refused
/// with 403 if it is no longer a regular file or is larger than `max` bytes. The file is
/// opened non-blocking, so a FIFO swapped in after [`resolve`] looked cannot stall the
/// loop.
///
/// ```
/// use asyncore_examples::http_server::open_file;
/// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
/// let (_file, len) = open_file(&path, 1 << 20).unwrap();
/// assert!(len > 0);
/// assert_eq!(open_file(&path, 10).unwrap_err().status, 403);
/// ```
pub fn open_file(path: &Path, max: u64) -> Result<(File, u64), Refusal> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => NOT_FOUND,
            _ => FORBIDDEN,
        })?;
    let meta = file.metadata().map_err(|_| FORBIDDEN)?;
    if !meta.is_file() {
        return Err(FORBIDDEN);
    }
    if meta.len() > max {
        return Err(Refusal {
            status: 403,
            detail: "file larger than the server serves",
        });
    }
    Ok((file, meta.len()))
}

/// An HTTP date (RFC 9110 section 5.6.7, IMF-fixdate) of `secs` seconds after the Unix
/// epoch.
///
/// ```
/// use asyncore_examples::http_server::http_date;
/// assert_eq!(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
/// assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
/// ```
pub fn http_date(secs: u64) -> String {
    let mut text = [0u8; 32];
    let n = write_http_date(secs, &mut text);
    String::from_utf8_lossy(&text[..n]).into_owned()
}

/// Writes the HTTP date of `secs` into `out` without allocating; the number of bytes
/// written (29 for years of four digits).
fn write_http_date(secs: u64, out: &mut [u8; 32]) -> usize {
    use std::io::Write;
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut cursor = &mut out[..];
    // Too long a year only truncates the text: the cursor refuses what does not fit.
    let _ = write!(
        cursor,
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let left = cursor.len();
    out.len() - left
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
pub(super) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The current HTTP date, formatted once per second; held in the connection itself (no
/// allocation of its own).
#[derive(Debug, Default)]
pub(super) struct DateCache {
    secs: u64,
    len: u8,
    text: [u8; 32],
}

impl DateCache {
    /// Now, as an HTTP date.
    pub(super) fn now(&mut self) -> &str {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if secs != self.secs || self.len == 0 {
            self.len = write_http_date(secs, &mut self.text) as u8;
            self.secs = secs;
        }
        // The date is ASCII, so any prefix of it is text.
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(http_date(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(http_date(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
    }

    #[test]
    fn confinement() {
        let dir = std::env::temp_dir().join(format!("http-files-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/sub")).unwrap();
        std::fs::create_dir_all(dir.join("root/empty")).unwrap();
        std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
        std::fs::write(dir.join("root/sub/index.html"), b"<p>sub</p>").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.txt"), dir.join("root/link.txt")).unwrap();
        std::os::unix::fs::symlink("sub/index.html", dir.join("root/inside.html")).unwrap();
        let opened = canonical_root(&dir.join("root")).unwrap();
        let root = opened.path();
        let seg = |s: &str| -> Vec<Vec<u8>> {
            s.split('/')
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec())
                .collect()
        };
        assert!(resolve(root, &seg("sub"))
            .unwrap()
            .ends_with("sub/index.html"));
        assert!(resolve(root, &seg("inside.html"))
            .unwrap()
            .ends_with("sub/index.html"));
        assert_eq!(resolve(root, &seg("link.txt")).unwrap_err().status, 403);
        assert_eq!(resolve(root, &seg("empty")).unwrap_err().status, 404);
        assert_eq!(resolve(root, &seg("")).unwrap_err().status, 404);
        assert_eq!(resolve(root, &seg("sub/x/y")).unwrap_err().status, 404);
        // The same answers through openat2.
        let open = |s: &str| open_under(&opened, &seg(s), 1 << 20).map(|(p, _, len)| (p, len));
        assert_eq!(
            open("sub").unwrap(),
            (PathBuf::from("./sub/index.html"), 10)
        );
        assert_eq!(open("inside.html").unwrap().1, 10);
        assert_eq!(open("link.txt").unwrap_err().status, 403);
        assert_eq!(open("empty").unwrap_err().status, 404);
        assert_eq!(open("").unwrap_err().status, 404);
        assert_eq!(open("sub/x/y").unwrap_err().status, 404);
        assert_eq!(open("../secret.txt").unwrap_err().status, 403);
        assert_eq!(open("sub/../../secret.txt").unwrap_err().status, 403);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
