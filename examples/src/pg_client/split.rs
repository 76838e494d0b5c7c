//! The statements of a script, split as psql splits them.

/// What comes out of the input: a statement to send, the end of the input, or a
/// backslash command the client does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A statement (or several), sent as one Query.
    Query(String),
    /// `\q`: stop reading.
    Quit,
    /// An unknown backslash command (`\d`): psql's "invalid command", which stops a
    /// script.
    Invalid(String),
}

/// Where the lexer is inside a statement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Lex {
    #[default]
    Normal,
    /// In `'...'`; `true` for an `E'...'` string, where a backslash escapes.
    Quote(bool),
    /// In `"..."`.
    Ident,
    /// In `$tag$...$tag$` (the whole delimiter).
    Dollar(String),
    /// In `/* ... */`, nested this deep.
    Comment(usize),
}

/// Splits a script into statements as psql does: at a semicolon outside quotes,
/// comments and parentheses, the semicolon included; whitespace and `--` comments before
/// a statement are dropped; a backslash outside quotes starts a command (`\g` sends the
/// statement so far, `\q` quits, the rest of the line is its argument).
///
/// ```
/// use asyncore_examples::pg_client::{Item, Splitter};
/// let mut s = Splitter::default();
/// let mut items = s.line("select 1; select 'a;b'");
/// items.extend(s.line(", (2;3); -- c;"));
/// items.extend(s.line("select $$;$$ -- d;"));
/// items.extend(s.line("\\q"));
/// assert_eq!(
///     items,
///     [
///         Item::Query("select 1;".into()),
///         Item::Query("select 'a;b'\n, (2;3);".into()),
///         Item::Quit,
///     ]
/// );
/// // `\q` dropped the unfinished statement.
/// assert_eq!(s.finish(), None);
/// ```
#[derive(Debug, Default)]
pub struct Splitter {
    buf: String,
    lex: Lex,
    depth: usize,
}

impl Splitter {
    /// Takes one line of input (without its line break): the items it completes.
    pub fn line(&mut self, line: &str) -> Vec<Item> {
        let mut out = Vec::new();
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match self.lex.clone() {
                Lex::Normal => {
                    if self.buf.trim_start().is_empty() {
                        // Nothing collected yet: spaces and `--` comments are dropped.
                        if c.is_ascii_whitespace() {
                            i += 1;
                            continue;
                        }
                        if line[i..].starts_with("--") {
                            return out;
                        }
                    }
                    match c {
                        b'\\' => {
                            let rest = &line[i + 1..];
                            let name: String = rest
                                .chars()
                                .take_while(|c| !c.is_whitespace() && *c != '\\')
                                .collect();
                            match name.as_str() {
                                "g" | "gx" | ";" => {
                                    if !self.buf.trim().is_empty() {
                                        out.push(Item::Query(std::mem::take(&mut self.buf)));
                                    }
                                    self.buf.clear();
                                    self.depth = 0;
                                }
                                "q" | "quit" => {
                                    self.buf.clear();
                                    out.push(Item::Quit);
                                }
                                _ => {
                                    // It stops the script: what was collected is not run.
                                    self.buf.clear();
                                    out.push(Item::Invalid(format!("\\{name}")));
                                }
                            }
                            return out;
                        }
                        b'\'' => {
                            let e = i > 0
                                && (b[i - 1] == b'e' || b[i - 1] == b'E')
                                && (i < 2 || !is_ident_char(b[i - 2]));
                            self.lex = Lex::Quote(e);
                        }
                        b'"' => self.lex = Lex::Ident,
                        b'-' if b.get(i + 1) == Some(&b'-') => {
                            self.buf.push_str(&line[i..]);
                            break;
                        }
                        b'/' if b.get(i + 1) == Some(&b'*') => {
                            self.lex = Lex::Comment(1);
                            self.buf.push_str("/*");
                            i += 2;
                            continue;
                        }
                        b'$' if i == 0 || !is_ident_char(b[i - 1]) => {
                            if let Some(tag) = dollar_tag(&line[i..]) {
                                self.buf.push_str(tag);
                                i += tag.len();
                                self.lex = Lex::Dollar(tag.to_string());
                                continue;
                            }
                        }
                        b'(' => self.depth += 1,
                        b')' => self.depth = self.depth.saturating_sub(1),
                        b';' if self.depth == 0 => {
                            self.buf.push(';');
                            out.push(Item::Query(std::mem::take(&mut self.buf)));
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                }
                Lex::Quote(escapes) => {
                    if escapes && c == b'\\' && i + 1 < b.len() {
                        self.buf.push_str(&line[i..i + 2]);
                        i += 2;
                        continue;
                    }
                    if c == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            self.buf.push_str("''");
                            i += 2;
                            continue;
                        }
                        self.lex = Lex::Normal;
                    }
                }
                Lex::Ident => {
                    if c == b'"' {
                        self.lex = Lex::Normal;
                    }
                }
                Lex::Dollar(tag) => {
                    if line[i..].starts_with(&tag) {
                        self.buf.push_str(&tag);
                        i += tag.len();
                        self.lex = Lex::Normal;
                        continue;
                    }
                }
                Lex::Comment(depth) => {
                    if line[i..].starts_with("*/") {
                        self.buf.push_str("*/");
                        i += 2;
                        self.lex = if depth == 1 {
                            Lex::Normal
                        } else {
                            Lex::Comment(depth - 1)
                        };
                        continue;
                    }
                    if line[i..].starts_with("/*") {
                        self.buf.push_str("/*");
                        i += 2;
                        self.lex = Lex::Comment(depth + 1);
                        continue;
                    }
                }
            }
            // One character (whole, for UTF-8).
            let len = line[i..].chars().next().map_or(1, char::len_utf8);
            self.buf.push_str(&line[i..i + len]);
            i += len;
        }
        if !self.buf.is_empty() {
            self.buf.push('\n');
        }
        out
    }

    /// The end of the input: what is left, if it is more than spaces.
    pub fn finish(&mut self) -> Option<Item> {
        let rest = std::mem::take(&mut self.buf);
        self.lex = Lex::Normal;
        self.depth = 0;
        (!rest.trim().is_empty()).then_some(Item::Query(rest))
    }
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// The `$tag$` that `s` starts with, if it starts a dollar-quoted string.
fn dollar_tag(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut j = 1;
    if b.get(1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while j < b.len()
        && b[j] != b'$'
        && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
    {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then(|| &s[..=j])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(script: &str) -> Vec<Item> {
        let mut s = Splitter::default();
        let mut items = Vec::new();
        for line in script.lines() {
            items.extend(s.line(line));
        }
        items.extend(s.finish());
        items
    }

    fn q(s: &str) -> Item {
        Item::Query(s.into())
    }

    #[test]
    fn statements_split_as_psql_splits_them() {
        assert_eq!(
            split("select E'it\\'s;', \"a;b\" from t; select 2"),
            [q("select E'it\\'s;', \"a;b\" from t;"), q("select 2\n")]
        );
        // A backslash is no escape in a standard string.
        assert_eq!(
            split("select '\\'; select 1;"),
            [q("select '\\';"), q("select 1;")]
        );
        assert_eq!(
            split("select /* a /* b; */ c; */ 1; select a$b$c;"),
            [q("select /* a /* b; */ c; */ 1;"), q("select a$b$c;")]
        );
        assert_eq!(
            split("select $f$ a;\n$$; $f$;"),
            [q("select $f$ a;\n$$; $f$;")]
        );
        assert_eq!(split("\n  -- only a comment\n;\n"), [q(";")]);
        assert_eq!(
            split("select 1 \\g\nselect 2 \\x"),
            [q("select 1 "), Item::Invalid("\\x".into())]
        );
        assert_eq!(
            split("select 1\n-- trailing"),
            [q("select 1\n-- trailing\n")]
        );
    }
}
