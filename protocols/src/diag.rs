//! Diagnostics: an error message tied to a span of the description, rendered as rustc does.

use std::fmt;

use crate::ast::Span;

/// One error found in a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn new(message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            message: message.into(),
            span,
            help: None,
        }
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The 1-based line and column (in characters) of the start of the span in `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        line_col(src, self.span.start)
    }

    /// Renders the diagnostic as rustc does: message, `path:line:col`, the source line,
    /// a caret under the span, and the help.
    ///
    /// ```
    /// use asyncore_protocol::{ast::Span, Diagnostic};
    /// let src = "protocol x\nstate A initial { M -> Redy }\n";
    /// let at = src.find("Redy").unwrap();
    /// let d = Diagnostic::new("unknown state `Redy`", Span { start: at, end: at + 4 })
    ///     .help("did you mean `Ready`?");
    /// assert_eq!(d.render("x.aproto", src), "\
    /// error: unknown state `Redy`
    ///  --> x.aproto:2:24
    ///   |
    /// 2 | state A initial { M -> Redy }
    ///   |                        ^^^^
    ///   = help: did you mean `Ready`?
    /// ");
    /// ```
    pub fn render(&self, path: &str, src: &str) -> String {
        let (line, col) = self.line_col(src);
        let start = self.span.start.min(src.len());
        let line_start = src[..start].rfind('\n').map_or(0, |p| p + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |p| start + p);
        let text = &src[line_start..line_end];
        let width = line.to_string().len();
        let pad = " ".repeat(width);
        let end = self.span.end.clamp(start, line_end);
        let carets = src[start..end].chars().count().max(1);
        let mut out = format!(
            "error: {}\n{pad}--> {path}:{line}:{col}\n{pad} |\n",
            self.message
        );
        out += &format!("{line} | {text}\n");
        out += &format!("{pad} | {}{}\n", " ".repeat(col - 1), "^".repeat(carets));
        if let Some(help) = &self.help {
            out += &format!("{pad} = help: {help}\n");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  = help: {help}")?;
        }
        Ok(())
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `src`.
///
/// ```
/// assert_eq!(asyncore_protocol::diag::line_col("ab\ncd", 4), (2, 2));
/// ```
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The closest of `candidates` to `name`, if one is close enough to be a likely typo.
///
/// ```
/// use asyncore_protocol::diag::suggest;
/// assert_eq!(suggest("Redy", ["Ready", "Body"]), Some("Ready"));
/// assert_eq!(suggest("Zzz", ["Ready"]), None);
/// ```
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Damerau-Levenshtein distance (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let src = "protocol x\nstate A initial { M -> Redy }\n";
        let at = src.find("Redy").unwrap();
        let d = Diagnostic::new(
            "unknown state `Redy`",
            Span {
                start: at,
                end: at + 4,
            },
        )
        .help("did you mean `Ready`?");
        assert_eq!(
            d.render("x.aproto", src),
            "error: unknown state `Redy`\n --> x.aproto:2:24\n  |\n2 | state A initial { M -> Redy }\n  |                        ^^^^\n  = help: did you mean `Ready`?\n"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("Redy", ["Ready", "Body"]), Some("Ready"));
        assert_eq!(suggest("Zzzzzz", ["Ready", "Body"]), None);
        assert_eq!(suggest("Raedy", ["Ready"]), Some("Ready"));
    }
}
