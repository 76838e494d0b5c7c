//! The `Dispatcher` method names, and what a name that is almost one of them was meant
//! to be.
//!
//! A method is a handler when its name is one of [`HANDLERS`]. A name that looks like a
//! handler but is not one ([`looks_like_handler`]) is a mistake the attribute reports,
//! with the closest handler name ([`suggest`]) when there is a close one.

/// Every method of `asyncore_runtime::Dispatcher`, in the trait's order.
pub(crate) const HANDLERS: [&str; 16] = [
    "readable",
    "writable",
    "handle_read",
    "handle_write",
    "handle_expt",
    "handle_connect",
    "handle_accept",
    "handle_accepted",
    "handle_close",
    "handle_error",
    "handle_timer",
    "handle_idle",
    "log",
    "log_info",
    "interest_from_own_state",
    "release_memory",
];

/// The prefix every event handler's name starts with.
const HANDLER_PREFIX: &str = "handle_";

/// The two handlers without the prefix, whose near misses are caught by distance.
const UNPREFIXED: [&str; 2] = ["readable", "writable"];

/// How far from `readable` or `writable` a name may be and still count as a misspelling.
const UNPREFIXED_DISTANCE: usize = 2;

/// Whether `name` is a `Dispatcher` method.
pub(crate) fn is_handler(name: &str) -> bool {
    HANDLERS.contains(&name)
}

/// Whether `name`, which is not a handler, looks like a misspelt one: it starts with
/// `handle_`, or is within edit distance 2 of `readable` or `writable`.
pub(crate) fn looks_like_handler(name: &str) -> bool {
    !is_handler(name)
        && (name.starts_with(HANDLER_PREFIX)
            || UNPREFIXED
                .iter()
                .any(|h| edit_distance(name, h) <= UNPREFIXED_DISTANCE))
}

/// The handler name closest to `name`, if one is close enough to be what was meant.
///
/// Close enough means an edit distance of at most a third of the name's length (at
/// least 1), the rule rustc uses for its own "did you mean" hints. Ties go to the
/// handler listed first in [`HANDLERS`].
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let limit = name.chars().count().max(3) / 3;
    HANDLERS
        .iter()
        .map(|h| (edit_distance(name, h), *h))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h)
}

/// The handler names as a list for messages: `` `readable`, `writable`, ... ``.
pub(crate) fn handler_list() -> String {
    let names: Vec<String> = HANDLERS.iter().map(|h| format!("`{h}`")).collect();
    names.join(", ")
}

/// Damerau-Levenshtein distance (optimal string alignment) between `a` and `b`: the
/// fewest insertions, deletions, substitutions and swaps of adjacent characters that
/// turn one into the other, no substring being edited twice.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming table: two rows back, the previous, this.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_each_kind_of_edit_once() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("handle_read", "handle_read"), 0);
        assert_eq!(edit_distance("handle_rea", "handle_read"), 1); // insertion
        assert_eq!(edit_distance("handle_readd", "handle_read"), 1); // deletion
        assert_eq!(edit_distance("handle_reed", "handle_read"), 1); // substitution
        assert_eq!(edit_distance("handle_raed", "handle_read"), 1); // swap
        assert_eq!(edit_distance("readabel", "readable"), 1); // swap at the end
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn distance_is_symmetric() {
        for (a, b) in [
            ("writeable", "writable"),
            ("handle_acept", "handle_accepted"),
        ] {
            assert_eq!(edit_distance(a, b), edit_distance(b, a));
        }
    }

    #[test]
    fn every_dispatcher_method_is_a_handler() {
        for h in HANDLERS {
            assert!(is_handler(h), "{h}");
            assert!(!looks_like_handler(h), "{h}");
            assert_eq!(suggest(h), Some(h));
        }
    }

    #[test]
    fn misspelt_handlers_are_caught() {
        for name in [
            "handle_raed",
            "handle_foo",
            "handle_",
            "readabel",
            "writeable",
            "wrtable",
        ] {
            assert!(looks_like_handler(name), "{name}");
        }
    }

    #[test]
    fn helpers_are_not_mistaken_for_handlers() {
        for name in [
            "new",
            "helper",
            "is_readable",
            "read_line",
            "handler",
            "logger",
            "writer",
        ] {
            assert!(!looks_like_handler(name), "{name}");
        }
    }

    #[test]
    fn suggestions_pick_the_closest_handler() {
        assert_eq!(suggest("handle_raed"), Some("handle_read"));
        assert_eq!(suggest("handle_writ"), Some("handle_write"));
        assert_eq!(suggest("handle_acepted"), Some("handle_accepted"));
        // A tie (one edit from both) goes to the handler listed first.
        assert_eq!(suggest("handle_acceptd"), Some("handle_accept"));
        assert_eq!(suggest("handle_acept"), Some("handle_accept"));
        assert_eq!(suggest("handle_closed"), Some("handle_close"));
        assert_eq!(suggest("handle_timers"), Some("handle_timer"));
        assert_eq!(suggest("handle_idel"), Some("handle_idle"));
        assert_eq!(suggest("handle_exept"), Some("handle_expt"));
        assert_eq!(suggest("handle_conect"), Some("handle_connect"));
        assert_eq!(suggest("handle_eror"), Some("handle_error"));
        assert_eq!(suggest("readabel"), Some("readable"));
        assert_eq!(suggest("writeable"), Some("writable"));
    }

    #[test]
    fn nothing_is_suggested_when_nothing_is_close() {
        assert_eq!(suggest("handle_foo"), None);
        assert_eq!(suggest("handle_request"), None);
        assert_eq!(suggest("handle_"), None);
    }

    #[test]
    fn the_handler_list_names_every_handler_in_trait_order() {
        let list = handler_list();
        assert!(list.starts_with("`readable`, `writable`, `handle_read`"));
        assert!(list.ends_with("`log_info`, `interest_from_own_state`, `release_memory`"));
        assert_eq!(list.matches('`').count(), 2 * HANDLERS.len());
    }
}
