//! Errors and notices from the server, formatted as libpq formats them for psql.

use std::fmt::Write as _;

/// An ErrorResponse or NoticeResponse, its fields by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerError {
    /// `S`: `ERROR`, `FATAL`, `NOTICE`...
    pub severity: String,
    /// `C`: the SQLSTATE code.
    pub code: String,
    /// `M`: the message.
    pub message: String,
    /// `D`
    pub detail: Option<String>,
    /// `H`
    pub hint: Option<String>,
    /// `P`: the 1-based character position in the query.
    pub position: Option<usize>,
}

impl ServerError {
    /// The fields of an ErrorResponse or NoticeResponse (`code` byte, text).
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (u8, &'a [u8])>) -> ServerError {
        let mut e = ServerError::default();
        for (code, value) in fields {
            let v = String::from_utf8_lossy(value).into_owned();
            match code {
                b'S' => e.severity = v,
                b'C' => e.code = v,
                b'M' => e.message = v,
                b'D' => e.detail = Some(v),
                b'H' => e.hint = Some(v),
                b'P' => e.position = v.parse().ok(),
                _ => {}
            }
        }
        e
    }

    /// The error as libpq formats it for psql (its default verbosity), after the query
    /// `query` it is about: `SEVERITY:  message`, the `LINE n:` of the position with a
    /// caret under it, then `DETAIL:` and `HINT:`.
    ///
    /// ```
    /// use asyncore_examples::pg_client::ServerError;
    /// let e = ServerError {
    ///     severity: "ERROR".into(),
    ///     code: "42P01".into(),
    ///     message: "relation \"nope\" does not exist".into(),
    ///     position: Some(15),
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     e.format("select * from nope"),
    ///     "ERROR:  relation \"nope\" does not exist\n\
    ///      LINE 1: select * from nope\n                      ^\n"
    /// );
    /// ```
    pub fn format(&self, query: &str) -> String {
        let mut out = format!("{}:  {}\n", self.severity, self.message);
        if let Some(p) = self.position {
            error_position(&mut out, query, p);
        }
        if let Some(d) = &self.detail {
            let _ = writeln!(out, "DETAIL:  {d}");
        }
        if let Some(h) = &self.hint {
            let _ = writeln!(out, "HINT:  {h}");
        }
        out
    }
}

/// libpq's `reportErrorPosition`: the line of `query` holding the 1-based character
/// position `loc`, cut to about 60 columns around it, and a caret under it. Every
/// character counts as one column, and a tab as a space.
fn error_position(out: &mut String, query: &str, loc: usize) {
    const DISPLAY_SIZE: usize = 60;
    const MIN_RIGHT_CUT: usize = 10;
    let Some(loc) = loc.checked_sub(1) else {
        return;
    };
    let chars: Vec<char> = query
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let mut line = 1;
    let mut ibeg = 0;
    let mut iend = None;
    for (cno, &c) in chars.iter().enumerate() {
        if c == '\r' || c == '\n' {
            if cno < loc {
                if c == '\r' || cno == 0 || chars[cno - 1] != '\r' {
                    line += 1;
                }
                ibeg = cno + 1;
            } else {
                iend = Some(cno);
                break;
            }
        }
    }
    let scanned = iend.unwrap_or(chars.len());
    let mut iend = scanned;
    if loc > scanned {
        return;
    }
    let (mut beg_trunc, mut end_trunc) = (false, false);
    if iend - ibeg > DISPLAY_SIZE {
        if ibeg + DISPLAY_SIZE >= loc + MIN_RIGHT_CUT {
            while iend - ibeg > DISPLAY_SIZE {
                iend -= 1;
            }
            end_trunc = true;
        } else {
            while loc + MIN_RIGHT_CUT < iend {
                iend -= 1;
                end_trunc = true;
            }
            while iend - ibeg > DISPLAY_SIZE {
                ibeg += 1;
                beg_trunc = true;
            }
        }
    }
    let prefix = format!("LINE {line}: {}", if beg_trunc { "..." } else { "" });
    let text: String = chars[ibeg..iend].iter().collect();
    let _ = writeln!(out, "{prefix}{text}{}", if end_trunc { "..." } else { "" });
    let caret = prefix.chars().count() + loc - ibeg;
    let _ = writeln!(out, "{}^", " ".repeat(caret));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_positions_as_libpq_prints_them() {
        let mut out = String::new();
        error_position(&mut out, "select 1;\nselect nope\tfrom t", 18);
        assert_eq!(out, "LINE 2: select nope from t\n               ^\n");
        let long = format!("select {} from nope", "x, ".repeat(40));
        let mut out = String::new();
        error_position(&mut out, &long, long.len() - 3);
        assert_eq!(
            out,
            format!(
                "LINE 1: ...{}\n{}^\n",
                &long[long.len() - 60..],
                " ".repeat(8 + 3 + 56)
            )
        );
        let mut out = String::new();
        error_position(&mut out, "select 1", 40);
        assert_eq!(out, "");
    }
}
