//! Topic names, topic filters and the subscription tree (MQTT 3.1.1, section 4.7).
//!
//! A topic name is a `/`-separated list of levels, such as `sensors/kitchen/temp`. A
//! topic filter may use `+` for exactly one level and `#`, as its last level, for any
//! number of levels, the parent level included (`a/#` matches `a`, `a/b` and `a/b/c`).
//! Topics that start with `$` are not matched by a filter that starts with a wildcard.

use std::collections::HashMap;

use asyncore_runtime::Token;

/// Why a topic name or filter was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// It is empty.
    Empty,
    /// It is not UTF-8, or holds U+0000.
    NotUtf8,
    /// A topic name holds `+` or `#`.
    Wildcard,
    /// A filter's `+` or `#` does not fill its level, or `#` is not the last level.
    MisplacedWildcard,
}

impl std::fmt::Display for TopicError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TopicError::Empty => "empty topic",
            TopicError::NotUtf8 => "topic is not UTF-8 or holds U+0000",
            TopicError::Wildcard => "topic name holds a wildcard",
            TopicError::MisplacedWildcard => "wildcard that does not fill its level",
        })
    }
}

impl std::error::Error for TopicError {}

fn check_text(s: &[u8]) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    // ASCII topics, the usual case, need no decoding.
    if s.is_ascii() {
        return if s.contains(&0) {
            Err(TopicError::NotUtf8)
        } else {
            Ok(())
        };
    }
    match std::str::from_utf8(s) {
        Ok(t) if !t.contains('\0') => Ok(()),
        _ => Err(TopicError::NotUtf8),
    }
}

/// Checks a topic name, as a PUBLISH or a will carries it: not empty, UTF-8 without
/// U+0000, no wildcard.
///
/// ```
/// use asyncore_examples::mqtt_broker::topic::{check_name, TopicError};
/// assert_eq!(check_name(b"a/b"), Ok(()));
/// assert_eq!(check_name(b"a/+"), Err(TopicError::Wildcard));
/// assert_eq!(check_name(b""), Err(TopicError::Empty));
/// ```
pub fn check_name(topic: &[u8]) -> Result<(), TopicError> {
    check_text(topic)?;
    if topic.iter().any(|&b| b == b'+' || b == b'#') {
        return Err(TopicError::Wildcard);
    }
    Ok(())
}

/// Checks a topic filter, as a SUBSCRIBE carries it: not empty, UTF-8 without U+0000,
/// `+` and `#` filling their level, `#` only last.
///
/// ```
/// use asyncore_examples::mqtt_broker::topic::{check_filter, TopicError};
/// assert_eq!(check_filter(b"a/+/c/#"), Ok(()));
/// assert_eq!(check_filter(b"#"), Ok(()));
/// assert_eq!(check_filter(b"a/#/c"), Err(TopicError::MisplacedWildcard));
/// assert_eq!(check_filter(b"a+"), Err(TopicError::MisplacedWildcard));
/// ```
pub fn check_filter(filter: &[u8]) -> Result<(), TopicError> {
    check_text(filter)?;
    let mut levels = filter.split(|&b| b == b'/').peekable();
    while let Some(level) = levels.next() {
        let last = levels.peek().is_none();
        match level {
            b"+" => {}
            b"#" if last => {}
            _ if level.iter().any(|&b| b == b'+' || b == b'#') => {
                return Err(TopicError::MisplacedWildcard)
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether the topic name `topic` matches the filter `filter` (both valid).
///
/// ```
/// use asyncore_examples::mqtt_broker::topic::matches;
/// assert!(matches(b"a/#", b"a"));
/// assert!(matches(b"a/+/c", b"a/b/c"));
/// assert!(!matches(b"a/+", b"a/b/c"));
/// assert!(!matches(b"#", b"$SYS/uptime"));
/// assert!(matches(b"$SYS/#", b"$SYS/uptime"));
/// ```
pub fn matches(filter: &[u8], topic: &[u8]) -> bool {
    if topic.first() == Some(&b'$') && matches!(filter.first(), Some(b'+' | b'#')) {
        return false;
    }
    let mut f = filter.split(|&b| b == b'/');
    let mut t = topic.split(|&b| b == b'/');
    loop {
        match (f.next(), t.next()) {
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// One subscription: the subscriber and the QoS granted to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sub {
    /// The subscriber's channel.
    pub token: Token,
    /// The maximum QoS granted.
    pub qos: u8,
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<[u8]>, Node>,
    plus: Option<Box<Node>>,
    /// Subscriptions whose filter ends at this node.
    here: Vec<Sub>,
    /// Subscriptions whose filter is this node followed by `#`.
    hash: Vec<Sub>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.here.is_empty()
            && self.hash.is_empty()
    }

    /// Appends the subscriptions matching the levels `levels` (ranges of `topic`).
    fn collect(&self, topic: &[u8], levels: &[(usize, usize)], out: &mut Vec<Sub>) {
        out.extend_from_slice(&self.hash);
        let Some((&(start, end), rest)) = levels.split_first() else {
            out.extend_from_slice(&self.here);
            return;
        };
        if let Some(child) = self.children.get(&topic[start..end]) {
            child.collect(topic, rest, out);
        }
        if let Some(plus) = &self.plus {
            plus.collect(topic, rest, out);
        }
    }

    /// Removes `token` from the filter `levels`; true if this node is now empty.
    fn remove(&mut self, levels: &[&[u8]], token: Token) -> bool {
        match levels.split_first() {
            None => self.here.retain(|s| s.token != token),
            Some((&b"#", [])) => self.hash.retain(|s| s.token != token),
            Some((&b"+", rest)) => {
                if let Some(plus) = &mut self.plus {
                    if plus.remove(rest, token) {
                        self.plus = None;
                    }
                }
            }
            Some((first, rest)) => {
                if let Some(child) = self.children.get_mut(*first) {
                    if child.remove(rest, token) {
                        self.children.remove(*first);
                    }
                }
            }
        }
        self.is_empty()
    }
}

/// The subscriptions of a broker, as a tree of filter levels: matching a topic costs one
/// lookup per level, whatever the number of subscriptions.
///
/// ```
/// use asyncore_examples::mqtt_broker::topic::SubTree;
/// # use asyncore_runtime::{Dispatcher, Map};
/// # struct D; impl Dispatcher for D {}
/// # let mut map = Map::new();
/// # let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// # let (c, _d) = std::os::unix::net::UnixStream::pair()?;
/// # let (alice, bob) = (map.add(a.into(), D)?, map.add(c.into(), D)?);
/// let mut subs = SubTree::default();
/// subs.insert(b"a/#", alice, 1);
/// subs.insert(b"a/+/c", bob, 0);
/// let mut out = Vec::new();
/// subs.matching(b"a/b/c", &mut out);
/// assert_eq!(out.len(), 2);
/// subs.remove(b"a/#", alice);
/// out.clear();
/// subs.matching(b"a/b/c", &mut out);
/// assert_eq!(out.len(), 1);
/// assert_eq!(out[0].token, bob);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct SubTree {
    root: Node,
    /// Reused to split topics into levels: the start and end of each.
    levels: Vec<(usize, usize)>,
}

impl SubTree {
    /// Subscribes `token` to `filter` (a valid filter) at `qos`, replacing its earlier
    /// subscription to the same filter; true if it is new.
    pub fn insert(&mut self, filter: &[u8], token: Token, qos: u8) -> bool {
        let mut node = &mut self.root;
        let mut levels = filter.split(|&b| b == b'/').peekable();
        let list = loop {
            let Some(level) = levels.next() else {
                break &mut node.here;
            };
            if level == b"#" && levels.peek().is_none() {
                break &mut node.hash;
            }
            node = if level == b"+" {
                node.plus.get_or_insert_with(Box::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
        };
        match list.iter_mut().find(|s| s.token == token) {
            Some(s) => {
                s.qos = qos;
                false
            }
            None => {
                list.push(Sub { token, qos });
                true
            }
        }
    }

    /// Removes the subscription of `token` to `filter`, if there is one.
    pub fn remove(&mut self, filter: &[u8], token: Token) {
        let levels: Vec<&[u8]> = filter.split(|&b| b == b'/').collect();
        self.root.remove(&levels, token);
    }

    /// Appends the subscriptions matching the topic name `topic` to `out`: one per
    /// matching filter, so a subscriber may appear more than once.
    pub fn matching(&mut self, topic: &[u8], out: &mut Vec<Sub>) {
        let levels = &mut self.levels;
        levels.clear();
        let mut start = 0;
        for (i, &b) in topic.iter().enumerate() {
            if b == b'/' {
                levels.push((start, i));
                start = i + 1;
            }
        }
        levels.push((start, topic.len()));
        if topic.first() == Some(&b'$') {
            // No wildcard at the first level matches a `$` topic.
            let (start, end) = levels[0];
            if let Some(child) = self.root.children.get(&topic[start..end]) {
                child.collect(topic, &levels[1..], out);
            }
        } else {
            self.root.collect(topic, levels, out);
        }
    }

    /// Whether there is no subscription.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asyncore_runtime::{Dispatcher, Map};

    struct D;
    impl Dispatcher for D {}

    fn tokens(n: usize) -> (Map, Vec<Token>, Vec<std::os::unix::net::UnixStream>) {
        let mut map = Map::new();
        let mut ts = Vec::new();
        let mut keep = Vec::new();
        for _ in 0..n {
            let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
            ts.push(map.add(a.into(), D).unwrap());
            keep.push(b);
        }
        (map, ts, keep)
    }

    fn matching(tree: &mut SubTree, topic: &str) -> Vec<(Token, u8)> {
        let mut out = Vec::new();
        tree.matching(topic.as_bytes(), &mut out);
        let mut v: Vec<(Token, u8)> = out.iter().map(|s| (s.token, s.qos)).collect();
        v.sort();
        v
    }

    #[test]
    fn the_tree_agrees_with_matches() {
        let (_map, t, _keep) = tokens(8);
        let filters = [
            "#", "a/#", "a/+", "+/b", "a/b", "+/+", "$SYS/#", "/+", "+", "a/+/c/#",
        ];
        let topics = [
            "a", "a/b", "a/b/c", "a/b/c/d", "b", "/", "/x", "$SYS/x", "$SYS", "x/b", "a//c",
        ];
        let mut tree = SubTree::default();
        for (i, f) in filters.iter().enumerate() {
            assert_eq!(check_filter(f.as_bytes()), Ok(()), "{f}");
            tree.insert(f.as_bytes(), t[i % t.len()], (i % 3) as u8);
        }
        for topic in topics {
            let want: Vec<(Token, u8)> = {
                let mut v: Vec<(Token, u8)> = filters
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| matches(f.as_bytes(), topic.as_bytes()))
                    .map(|(i, _)| (t[i % t.len()], (i % 3) as u8))
                    .collect();
                v.sort();
                v
            };
            assert_eq!(matching(&mut tree, topic), want, "{topic}");
        }
        for (i, f) in filters.iter().enumerate() {
            tree.remove(f.as_bytes(), t[i % t.len()]);
        }
        assert!(tree.is_empty(), "removing every filter prunes every node");
    }

    #[test]
    fn a_second_subscription_to_a_filter_replaces_the_first() {
        let (_map, t, _keep) = tokens(1);
        let mut tree = SubTree::default();
        assert!(tree.insert(b"a/+", t[0], 0));
        assert!(!tree.insert(b"a/+", t[0], 2));
        assert_eq!(matching(&mut tree, "a/b"), [(t[0], 2)]);
    }

    #[test]
    fn names_and_filters_are_checked() {
        assert_eq!(check_name(b"a/\0"), Err(TopicError::NotUtf8));
        assert_eq!(check_name(b"a/\xff"), Err(TopicError::NotUtf8));
        assert_eq!(check_name("caf\u{e9}/x".as_bytes()), Ok(()));
        assert_eq!(check_filter(b"#/a"), Err(TopicError::MisplacedWildcard));
        assert_eq!(check_filter(b"a/b#"), Err(TopicError::MisplacedWildcard));
        assert_eq!(check_filter(b"+/+/#"), Ok(()));
        assert_eq!(check_filter(b""), Err(TopicError::Empty));
    }
}
