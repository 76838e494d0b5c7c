//! What a request's line and headers say: its version, how its body is framed, whether
//! the connection stays open, and the path it names. Pure functions on bytes, so each
//! rule of RFC 9112 that the server applies can be tested without a socket.

/// An HTTP version the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: the connection closes after each response unless the request asks
    /// for `keep-alive`.
    Http10,
    /// `HTTP/1.1` (and `HTTP/1.2` to `HTTP/1.9`, processed as 1.1): the connection stays
    /// open unless a side says `close`.
    Http11,
}

/// The version of a request line (RFC 9112 section 2.3: `HTTP/` DIGIT `.` DIGIT, the
/// name case-sensitive). `HTTP/1.0` is 1.0; a higher minor version of 1 is processed
/// as 1.1, the highest the server speaks (RFC 9110 section 2.5). Another major version
/// is refused with 505, and anything that is not a version with 400.
///
/// ```
/// use asyncore_examples::http_server::{parse_version, Version};
/// assert_eq!(parse_version(b"HTTP/1.1"), Ok(Version::Http11));
/// assert_eq!(parse_version(b"HTTP/1.0"), Ok(Version::Http10));
/// assert_eq!(parse_version(b"HTTP/1.7"), Ok(Version::Http11));
/// assert_eq!(parse_version(b"HTTP/2.0").unwrap_err().status, 505);
/// assert_eq!(parse_version(b"http/1.1").unwrap_err().status, 400);
/// assert_eq!(parse_version(b"HTTP/1.10").unwrap_err().status, 400);
/// ```
pub fn parse_version(v: &[u8]) -> Result<Version, Refusal> {
    let &[b'H', b'T', b'T', b'P', b'/', major, b'.', minor] = v else {
        return Err(bad("malformed HTTP version"));
    };
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return Err(bad("malformed HTTP version"));
    }
    match (major, minor) {
        (b'1', b'0') => Ok(Version::Http10),
        (b'1', _) => Ok(Version::Http11),
        _ => Err(Refusal {
            status: 505,
            detail: "only HTTP/1.x is supported",
        }),
    }
}

/// How a request's body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`, or `Content-Length: 0`.
    None,
    /// `Content-Length: N` with N at least 1.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// What the headers of a request say, once they are found consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The request's version.
    pub version: Version,
    /// How its body is delimited.
    pub framing: BodyFraming,
    /// Whether the connection stays open after the response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Expect: 100-continue`: the client waits for an interim `100 Continue` before it
    /// sends the body.
    pub expect_continue: bool,
}

/// A request the server refuses before its body: the status and a short explanation
/// (the body of the response).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The status code, e.g. `400`.
    pub status: u16,
    /// What was wrong, for the response body.
    pub detail: &'static str,
}

const fn bad(detail: &'static str) -> Refusal {
    Refusal {
        status: 400,
        detail,
    }
}

/// Optional whitespace around a header value or list element (RFC 9110 section 5.6.3).
fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &v[start..end.max(start)]
}

/// The elements of a comma-separated header value, trimmed, empty ones left out (RFC
/// 9110 section 5.6.1).
fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether a field value holds only what RFC 9110 section 5.5 allows: visible
/// characters, `obs-text` (bytes from 0x80), spaces and tabs. NUL, CR, LF and the other
/// control characters are refused with 400.
///
/// ```
/// use asyncore_examples::http_server::valid_field_value;
/// assert!(valid_field_value(b"text/html; q=0.9\t\xe9"));
/// assert!(!valid_field_value(b"a\x00b"));
/// assert!(!valid_field_value(b"a\x7fb"));
/// ```
pub fn valid_field_value(v: &[u8]) -> bool {
    v.iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// Whether a request-target is free of control characters: NUL, DEL and the other
/// bytes below 0x21 are never part of a URI (RFC 3986 section 2), and RFC 9110 section
/// 5.5 asks for such a request to be refused. Bytes from 0x80 are left to the lookup.
///
/// ```
/// use asyncore_examples::http_server::valid_target;
/// assert!(valid_target(b"/a%20b?x=1"));
/// assert!(!valid_target(b"/a\x00b"));
/// assert!(!valid_target(b"/a\x7f"));
/// ```
pub fn valid_target(target: &[u8]) -> bool {
    !target.is_empty() && target.iter().all(|&b| b > b' ' && b != 0x7f)
}

/// Whether a `Host` value is a valid authority for an `http` URI (RFC 9110 section 7.2,
/// RFC 3986 section 3.2.2): `uri-host [ ":" port ]`, where the host is an IP literal in
/// brackets or a registered name (letters, digits, `-._~`, the sub-delimiters
/// `!$&'()*+,;=`, percent escapes) and the port is digits. The host must not be empty
/// (RFC 9110 section 4.2.1) and its labels must not be (`a..b`: RFC 1034 section 3.5).
///
/// ```
/// use asyncore_examples::http_server::valid_host;
/// for good in ["example.org", "127.0.0.1:8080", "[::1]:80", "x,y", "a%20b", "h:"] {
///     assert!(valid_host(good.as_bytes()), "{good}");
/// }
/// for bad in ["", "x, y", "a/b", "a b", "a\x01b", "user@h", "h:80:90", "h:x", "a..b", "[::1"] {
///     assert!(!valid_host(bad.as_bytes()), "{bad}");
/// }
/// ```
pub fn valid_host(v: &[u8]) -> bool {
    let (host, rest) = if v.first() == Some(&b'[') {
        let Some(end) = v.iter().position(|&b| b == b']') else {
            return false;
        };
        let inside = &v[1..end];
        let ok = !inside.is_empty()
            && inside
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b":.-_~!$&'()*+,;=".contains(&b));
        if !ok {
            return false;
        }
        (&v[..=end], &v[end + 1..])
    } else {
        let end = v.iter().position(|&b| b == b':').unwrap_or(v.len());
        (&v[..end], &v[end..])
    };
    let port_ok = match rest.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    if host.is_empty() || !port_ok {
        return false;
    }
    if host[0] == b'[' {
        return true;
    }
    if host.windows(2).any(|w| w == b"..") {
        return false;
    }
    let mut i = 0;
    while i < host.len() {
        let b = host[i];
        if b == b'%' {
            let hex = |j: usize| host.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !hex(i + 1) || !hex(i + 2) {
                return false;
            }
            i += 3;
        } else if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// A `Content-Length` value: one or more digits, at most 19 (so it fits a `u64`).
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// Reads the headers of a request of `version` and checks them against RFC 9112 and
/// RFC 9110:
///
/// * every field value: no control characters ([`valid_field_value`], 400);
/// * `Host`: exactly one in HTTP/1.1 (section 3.2: a request without it, or with
///   several, gets 400); at most one in HTTP/1.0; its value a valid authority
///   ([`valid_host`], else 400);
/// * `Content-Length`: digits only, once (a list, or the field repeated, is refused
///   even with equal values: RFC 9110 section 8.6 allows it);
/// * `Transfer-Encoding`: refused in an HTTP/1.0 request (400: section 6.1 asks to treat
///   its framing as faulty); a coding other than `chunked` is not implemented (501,
///   section 6.1); `chunked` must be there exactly once (400, sections 6.3 and 7); with
///   a `Content-Length` too, the request is refused (section 6.3 allows a server to
///   refuse it, and it is what request smuggling is made of);
/// * `Connection`: `close` and `keep-alive` (any case) decide whether the connection
///   stays open;
/// * `Expect`: `100-continue` is understood, and ignored in HTTP/1.0 (RFC 9110 section
///   10.1.1); anything else gets 417.
///
/// Header names are compared without regard to case; values lose their surrounding
/// whitespace.
///
/// ```
/// use asyncore_examples::http_server::{analyze, BodyFraming, Version};
///
/// let head = analyze(Version::Http11, [(&b"Host"[..], &b"example.org"[..]), (b"content-length", b"5")])?;
/// assert_eq!(head.framing, BodyFraming::Length(5));
/// assert!(head.keep_alive);
///
/// let head = analyze(Version::Http11, [(&b"Host"[..], &b"h"[..]), (b"Transfer-Encoding", b"chunked")])?;
/// assert_eq!(head.framing, BodyFraming::Chunked);
/// let head = analyze(Version::Http10, [(&b"Content-Length"[..], &b"3"[..])])?;
/// assert!(!head.keep_alive);
///
/// let old = [(&b"Transfer-Encoding"[..], &b"chunked"[..])];
/// assert_eq!(analyze(Version::Http10, old).unwrap_err().status, 400);
/// let gzip = [(&b"Host"[..], &b"h"[..]), (b"Transfer-Encoding", b"gzip, chunked")];
/// assert_eq!(analyze(Version::Http11, gzip).unwrap_err().status, 501);
///
/// let both = [(&b"Host"[..], &b"h"[..]), (b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")];
/// assert_eq!(analyze(Version::Http11, both).unwrap_err().status, 400);
/// assert_eq!(analyze(Version::Http11, []).unwrap_err().detail, "missing Host header");
/// # Ok::<(), asyncore_examples::http_server::Refusal>(())
/// ```
pub fn analyze<'h>(
    version: Version,
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
) -> Result<Head, Refusal> {
    let mut hosts = 0usize;
    let mut length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut expect_continue = false;
    let mut unknown_coding = false;
    let mut chunked_count = 0usize;
    for (name, value) in headers {
        if !valid_field_value(value) {
            return Err(bad("a control character in a header field value"));
        }
        let value = trim_ows(value);
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !valid_host(value) {
                return Err(bad("malformed Host header"));
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // One value, once: RFC 9110 section 8.6 lets a recipient reject a repeated
            // value, as nginx does.
            if length.is_some() {
                return Err(bad("more than one Content-Length"));
            }
            length = Some(parse_length(value).ok_or(bad("malformed Content-Length"))?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            for coding in list(value) {
                if coding.eq_ignore_ascii_case(b"chunked") {
                    chunked_count += 1;
                } else {
                    unknown_coding = true;
                }
            }
            transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in list(value) {
                if option.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(Refusal {
                    status: 417,
                    detail: "only Expect: 100-continue is supported",
                });
            }
        }
    }
    if transfer_encoding && version == Version::Http10 {
        return Err(bad("Transfer-Encoding in an HTTP/1.0 request"));
    }
    if unknown_coding {
        return Err(Refusal {
            status: 501,
            detail: "transfer coding not implemented (only chunked is)",
        });
    }
    let chunked = chunked_count == 1;
    if transfer_encoding && chunked_count > 1 {
        return Err(bad("chunked applied more than once"));
    }
    if transfer_encoding && !chunked {
        return Err(bad("empty Transfer-Encoding"));
    }
    match (version, hosts) {
        (Version::Http11, 0) => return Err(bad("missing Host header")),
        (_, 0 | 1) => {}
        _ => return Err(bad("more than one Host header")),
    }
    let framing = match (length, chunked) {
        (Some(_), true) => return Err(bad("both Content-Length and Transfer-Encoding")),
        (Some(0) | None, false) => BodyFraming::None,
        (Some(n), false) => BodyFraming::Length(n),
        (None, true) => BodyFraming::Chunked,
    };
    let keep_alive = !close
        && match version {
            Version::Http11 => true,
            Version::Http10 => keep_alive,
        };
    Ok(Head {
        version,
        framing,
        keep_alive,
        expect_continue: expect_continue && version == Version::Http11,
    })
}

/// Whether a chunk's extension (what follows its size on the chunk line) is well
/// formed: empty, or optional whitespace then `;` (RFC 9112 section 7.1.1). A size
/// followed by anything else (`5x`, `0x10`) is a malformed chunk.
///
/// ```
/// use asyncore_examples::http_server::valid_chunk_ext;
/// assert!(valid_chunk_ext(b""));
/// assert!(valid_chunk_ext(b";name=value"));
/// assert!(valid_chunk_ext(b" ; name"));
/// assert!(!valid_chunk_ext(b"x"));
/// assert!(!valid_chunk_ext(b" "));
/// ```
pub fn valid_chunk_ext(ext: &[u8]) -> bool {
    ext.is_empty()
        || ext
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            .is_some_and(|&b| b == b';')
}

/// The path a request target names, percent-decoded and split into its segments, with
/// the empty and `.` segments dropped: what is looked up under the root.
///
/// The target is in origin form (`/a/b?query`) or absolute form
/// (`http://host/a/b`); the query and any fragment are ignored. Refused with 400: a
/// target in another form, or a malformed percent escape. Refused with 403: a `..`
/// segment (before or after decoding: `%2e%2e` is `..`) or a NUL byte, which could only
/// be meant to step out of the root.
///
/// ```
/// use asyncore_examples::http_server::request_path;
///
/// assert_eq!(request_path(b"/docs/./a%20b.txt?x=1").unwrap(), [b"docs".to_vec(), b"a b.txt".to_vec()]);
/// assert!(request_path(b"/").unwrap().is_empty());
/// assert_eq!(request_path(b"http://example.org/x").unwrap(), [b"x".to_vec()]);
/// assert_eq!(request_path(b"/a/../../etc/passwd").unwrap_err().status, 403);
/// assert_eq!(request_path(b"/%2e%2E/etc/passwd").unwrap_err().status, 403);
/// assert_eq!(request_path(b"/a%00b").unwrap_err().status, 403);
/// assert_eq!(request_path(b"/a%zz").unwrap_err().status, 400);
/// assert_eq!(request_path(b"index.html").unwrap_err().status, 400);
/// ```
pub fn request_path(target: &[u8]) -> Result<Vec<Vec<u8>>, Refusal> {
    let path = if target.first() == Some(&b'/') {
        target
    } else {
        absolute_form_path(target).ok_or(bad("malformed request target"))?
    };
    let end = path
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(path.len());
    let decoded = percent_decode(&path[..end]).ok_or(bad("malformed percent escape"))?;
    let forbidden = Refusal {
        status: 403,
        detail: "path outside the root",
    };
    let mut segments = Vec::new();
    for segment in decoded.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => return Err(forbidden),
            s if s.contains(&0) => return Err(forbidden),
            s => segments.push(s.to_vec()),
        }
    }
    Ok(segments)
}

/// The path of an absolute-form target (`http://authority/path`): from the first `/`
/// after the authority, `/` if there is none; `None` if the target is not absolute.
fn absolute_form_path(target: &[u8]) -> Option<&[u8]> {
    let scheme_end = target.windows(3).position(|w| w == b"://")?;
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return None;
    }
    let rest = &target[scheme_end + 3..];
    match rest.iter().position(|&b| b == b'/') {
        Some(slash) => Some(&rest[slash..]),
        None => Some(b"/"),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes; `None` for a `%` not followed by two hex digits.
///
/// ```
/// use asyncore_examples::http_server::percent_decode;
/// assert_eq!(percent_decode(b"a%20b%2F%2e").unwrap(), b"a b/.");
/// assert_eq!(percent_decode(b"100%"), None);
/// ```
pub fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hi = hex_value(*s.get(i + 1)?)?;
            let lo = hex_value(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(version: Version, headers: &[(&str, &str)]) -> Result<Head, Refusal> {
        analyze(
            version,
            headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        )
    }

    #[test]
    fn content_length_rules() {
        let h = |v: &str| head(Version::Http11, &[("Host", "h"), ("Content-Length", v)]);
        assert_eq!(h("10").unwrap().framing, BodyFraming::Length(10));
        assert_eq!(h("0").unwrap().framing, BodyFraming::None);
        assert_eq!(h(" 7 ").unwrap().framing, BodyFraming::Length(7));
        for bad in [
            "7, 7",
            "",
            "-1",
            "+1",
            "1.0",
            "0x10",
            "7, 8",
            "1 2",
            "99999999999999999999",
            ",",
        ] {
            assert_eq!(h(bad).unwrap_err().status, 400, "{bad:?}");
        }
        let two = head(
            Version::Http11,
            &[
                ("Host", "h"),
                ("Content-Length", "3"),
                ("content-length", "4"),
            ],
        );
        assert_eq!(two.unwrap_err().detail, "more than one Content-Length");
        let same = head(
            Version::Http11,
            &[
                ("Host", "h"),
                ("Content-Length", "3"),
                ("CONTENT-LENGTH", "3"),
            ],
        );
        assert_eq!(same.unwrap_err().status, 400);
    }

    #[test]
    fn transfer_encoding_rules() {
        let h = |v: &str| head(Version::Http11, &[("Host", "h"), ("Transfer-Encoding", v)]);
        assert_eq!(h("chunked").unwrap().framing, BodyFraming::Chunked);
        assert_eq!(h("Chunked").unwrap().framing, BodyFraming::Chunked);
        for unknown in [
            "gzip",
            "gzip, chunked",
            "chunked, gzip",
            "identity",
            "chunked;x=1",
        ] {
            assert_eq!(h(unknown).unwrap_err().status, 501, "{unknown:?}");
        }
        for bad in ["chunked, chunked", "", " , "] {
            assert_eq!(h(bad).unwrap_err().status, 400, "{bad:?}");
        }
        // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
        // framing.
        let old = head(Version::Http10, &[("Transfer-Encoding", "chunked")]);
        assert_eq!(old.unwrap_err().status, 400);
    }

    #[test]
    fn connection_host_and_expect() {
        let h11 = |extra: &[(&str, &str)]| {
            let mut all = vec![("Host", "h")];
            all.extend_from_slice(extra);
            head(Version::Http11, &all)
        };
        assert!(h11(&[]).unwrap().keep_alive);
        assert!(!h11(&[("Connection", "Close")]).unwrap().keep_alive);
        assert!(
            !h11(&[("Connection", "keep-alive, close")])
                .unwrap()
                .keep_alive
        );
        assert!(!head(Version::Http10, &[]).unwrap().keep_alive);
        assert!(
            head(Version::Http10, &[("Connection", "Keep-Alive")])
                .unwrap()
                .keep_alive
        );
        assert_eq!(
            h11(&[("Host", "again")]).unwrap_err().detail,
            "more than one Host header"
        );
        assert!(h11(&[("Expect", "100-Continue")]).unwrap().expect_continue);
        assert_eq!(h11(&[("Expect", "later")]).unwrap_err().status, 417);
        // RFC 9110 section 10.1.1: no 100 Continue for an HTTP/1.0 client.
        let old = head(Version::Http10, &[("Expect", "100-continue")]);
        assert!(!old.unwrap().expect_continue);
        for host in ["x, y", "a/b", "a b", "", "a..b", "h:80:90"] {
            let got = head(Version::Http11, &[("Host", host)]);
            assert_eq!(got.unwrap_err().detail, "malformed Host header", "{host:?}");
        }
        let ctl = head(Version::Http11, &[("Host", "a\x01b")]);
        assert_eq!(ctl.unwrap_err().status, 400);
        let old = head(Version::Http10, &[("Host", "a/b")]);
        assert_eq!(old.unwrap_err().status, 400);
        for value in ["a\x00b", "a\x01b", "a\rb", "a\x7f"] {
            let got = h11(&[("X-Any", value)]);
            assert_eq!(got.unwrap_err().status, 400, "{value:?}");
        }
        assert!(h11(&[("X-Any", "tab\tand \u{e9}")]).is_ok());
    }

    #[test]
    fn targets() {
        assert_eq!(
            request_path(b"/a//b/").unwrap(),
            [b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(request_path(b"/a#frag").unwrap(), [b"a".to_vec()]);
        assert_eq!(request_path(b"HTTP://h").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(request_path(b"ftp://h/x").unwrap_err().status, 400);
        assert_eq!(request_path(b"*").unwrap_err().status, 400);
        assert_eq!(request_path(b"/..").unwrap_err().status, 403);
        assert_eq!(request_path(b"/a/%2E%2e").unwrap_err().status, 403);
        assert_eq!(request_path(b"/%2e%2e%2fetc").unwrap_err().status, 403);
        // `...` is a name like any other.
        assert_eq!(request_path(b"/...").unwrap(), [b"...".to_vec()]);
        assert_eq!(request_path(b"/a%2").unwrap_err().status, 400);
    }
}
