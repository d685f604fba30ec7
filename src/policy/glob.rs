//! Wildcard patterns of policy documents: `*` matches any run of characters
//! (also empty, and across `:` and `/`), `?` exactly one character.
//!
//! Patterns are classified once at compile time so that the common shapes
//! (`*`, a literal, `prefix*`) never run the general matcher.

use std::collections::HashSet;
use std::sync::Arc;

/// A compiled wildcard pattern. Case handling is the caller's: lower-case
/// both sides before compiling and matching when the grammar says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Glob {
    /// `*`: everything.
    Any,
    /// No wildcard at all.
    Exact(Arc<str>),
    /// `literal*` with no other wildcard.
    Prefix(Arc<str>),
    /// `*` wildcards only, not just one trailing: the literal pieces
    /// between the stars are found by substring search, in order. With the
    /// byte offsets of the first and the last `*` (found once, here).
    Stars(Arc<str>, u32, u32),
    /// Anything else (a `?` somewhere).
    General(Arc<str>),
}

/// One shared copy of each pattern text compiled in one load: a tree of
/// 10,000 policies writes a few hundred distinct patterns 140,000 times.
#[derive(Debug, Default)]
pub struct Texts(HashSet<Arc<str>, foldhash::fast::RandomState>);

impl Texts {
    /// The shared copy of `text`.
    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        self.0.insert(shared.clone());
        shared
    }
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob::with_text(pattern, |text| text.into())
    }

    /// [`Glob::new`], its text shared through `texts`.
    pub fn new_in(pattern: &str, texts: &mut Texts) -> Glob {
        Glob::with_text(pattern, |text| texts.get(text))
    }

    fn with_text(pattern: &str, mut text: impl FnMut(&str) -> Arc<str>) -> Glob {
        let wild = |c: char| c == '*' || c == '?';
        if pattern == "*" {
            return Glob::Any;
        }
        match pattern.find(wild) {
            None => Glob::Exact(text(pattern)),
            Some(i) if i == pattern.len() - 1 && pattern.ends_with('*') => {
                Glob::Prefix(text(&pattern[..i]))
            }
            Some(first) if !pattern.contains('?') => {
                let last = pattern.rfind('*').unwrap_or(first);
                Glob::Stars(text(pattern), first as u32, last as u32)
            }
            Some(_) => Glob::General(text(pattern)),
        }
    }

    /// The pattern this glob was compiled from (as compiled: action
    /// patterns are lower-cased first).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Glob::Any => "*".into(),
            Glob::Exact(s) | Glob::Stars(s, ..) | Glob::General(s) => (**s).into(),
            Glob::Prefix(p) => format!("{p}*").into(),
        }
    }

    /// True when the pattern has a wildcard.
    pub fn is_wildcard(&self) -> bool {
        !matches!(self, Glob::Exact(_))
    }

    pub fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => **s == *text,
            Glob::Prefix(p) => text.starts_with(&**p),
            Glob::Stars(p, first, last) => stars_match(p, *first as usize, *last as usize, text),
            Glob::General(p) => wildcard_match(p.as_bytes(), text.as_bytes()),
        }
    }
}

/// `head*m1*…*mk*tail` with no `?`: `text` starts with `head`, ends with
/// `tail` (not overlapping it) and holds m1 … mk in order in between. The
/// leftmost occurrence of each middle piece is always the right choice: it
/// leaves the most room for the pieces after it. Pieces are whole UTF-8
/// strings, so every slice lands on a character boundary.
fn stars_match(pattern: &str, first: usize, last: usize, text: &str) -> bool {
    let p = pattern.as_bytes();
    let (Some(head), Some(tail), Some(middle)) =
        (p.get(..first), p.get(last + 1..), p.get(first..last))
    else {
        return false;
    };
    let bytes = text.as_bytes();
    if bytes.len() < head.len() + tail.len() || !bytes.starts_with(head) || !bytes.ends_with(tail) {
        return false;
    }
    let mut rest = &bytes[head.len()..bytes.len() - tail.len()];
    for piece in middle.split(|&b| b == b'*').filter(|p| !p.is_empty()) {
        match find(rest, piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// The first occurrence of a short non-empty `needle`: scan for its first
/// byte, compare the rest (`str::find` sets up a two-way searcher per call,
/// which costs more than the search for pieces this short). A match starts
/// with the needle's first byte, never a UTF-8 continuation byte, so it is
/// on a character boundary.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let at = from + hay[from..].iter().position(|&b| b == first)?;
        if hay.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Length of the UTF-8 sequence that starts with `first`.
fn char_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Iterative matcher with single-star backtracking: linear in practice and
/// never exponential. `?` consumes one whole character, so literal bytes are
/// always compared at character boundaries.
fn wildcard_match(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(b'?') => {
                ti += char_len(t[ti]);
                pi += 1;
            }
            Some(&c) if c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    let next = st + char_len(t[st]);
                    star = Some((sp, next));
                    pi = sp + 1;
                    ti = next;
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*') && ti == t.len()
}

/// Is there a string both patterns match? Patterns are written in the
/// policy grammar (`*` any run, `?` one character, everything else literal).
/// Used by `iamgate check` to tell a resource pattern that can never match
/// a catalog's resource names; exact, so the lint has no false alarms.
///
/// The two patterns are run as one product automaton: a state is a position
/// in each, `*` may step over itself without input, and one character moves
/// both sides at once unless two different literals meet. Positions only
/// grow, so one pass over the (|a|+1)×(|b|+1) grid in order decides it.
pub fn intersects(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut reach = vec![false; (a.len() + 1) * width];
    reach[0] = true;
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            if !reach[i * width + j] {
                continue;
            }
            let (ca, cb) = (a.get(i), b.get(j));
            if ca == Some(&'*') {
                reach[(i + 1) * width + j] = true;
            }
            if cb == Some(&'*') {
                reach[i * width + j + 1] = true;
            }
            let (Some(&ca), Some(&cb)) = (ca, cb) else {
                continue;
            };
            let literal = |c: char| c != '*' && c != '?';
            if literal(ca) && literal(cb) && ca != cb {
                continue;
            }
            // One shared character: a star keeps its place (it may take more),
            // anything else moves on. Two stars staying put gains nothing.
            let ni = if ca == '*' { i } else { i + 1 };
            let nj = if cb == '*' { j } else { j + 1 };
            reach[ni * width + nj] = true;
        }
    }
    reach[a.len() * width + b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn globs_compiled_through_one_texts_share_each_text_and_match_alike() {
        let text = |g: &Glob| match g {
            Glob::Exact(t) | Glob::Prefix(t) | Glob::Stars(t, ..) | Glob::General(t) => t.clone(),
            Glob::Any => panic!("no text"),
        };
        let mut texts = Texts::default();
        for p in ["obs:get", "obs:*", "*:get*", "a*b*c", "a?c"] {
            let (a, b) = (Glob::new_in(p, &mut texts), Glob::new_in(p, &mut texts));
            assert!(Arc::ptr_eq(&text(&a), &text(&b)), "{p}: one copy");
            assert_eq!(a, Glob::new(p), "{p}: the same glob as without sharing");
            for t in ["obs:get", "obs:put", "x:getit", "abc", "axbyc", "ac"] {
                assert_eq!(a.matches(t), Glob::new(p).matches(t), "{p} on {t}");
            }
        }
        let (a, b) = (Glob::new("obs:get"), Glob::new("obs:get"));
        assert!(!Arc::ptr_eq(&text(&a), &text(&b)), "without texts, copies");
    }

    #[test]
    fn a_glob_gives_back_the_pattern_it_was_compiled_from() {
        for p in ["*", "obs:get", "obs:*", "*:get*", "a*b*c", "a?c", "?", "**"] {
            assert_eq!(Glob::new(p).text(), p);
        }
        assert!(
            matches!(Glob::new("obs:*"), Glob::Prefix(_)),
            "the stored part has no star"
        );
    }

    #[test]
    fn shapes_are_classified() {
        assert_eq!(Glob::new("*"), Glob::Any);
        assert_eq!(Glob::new("a:b"), Glob::Exact("a:b".into()));
        assert_eq!(Glob::new("a:*"), Glob::Prefix("a:".into()));
        assert_eq!(Glob::new("a:*:c"), Glob::Stars("a:*:c".into(), 2, 2));
        assert_eq!(Glob::new("*a*"), Glob::Stars("*a*".into(), 0, 2));
        assert_eq!(Glob::new("a*?"), Glob::General("a*?".into()));
        assert_eq!(Glob::new("a?"), Glob::General("a?".into()));
    }

    #[test]
    fn only_a_literal_is_not_a_wildcard() {
        assert!(!Glob::new("a:b").is_wildcard());
        for p in ["*", "a:*", "a:*:c", "a?"] {
            assert!(Glob::new(p).is_wildcard(), "{p}");
        }
    }

    #[test]
    fn star_crosses_separators_and_may_be_empty() {
        let g = Glob::new("acs:log:*:*:project/*/logstore/aliyun-prom-*");
        assert!(g.matches("acs:log:cn-hangzhou:123:project/p1/logstore/aliyun-prom-x"));
        assert!(g.matches("acs:log:a:b:project/x/y/logstore/aliyun-prom-"));
        assert!(!g.matches("acs:log:a:b:project/x/logstore/other"));
        assert!(Glob::new("a*b").matches("ab"));
    }

    #[test]
    fn question_mark_is_one_character() {
        assert!(Glob::new("nb-?").matches("nb-1"));
        assert!(Glob::new("nb-?").matches("nb-é"));
        assert!(!Glob::new("nb-?").matches("nb-"));
        assert!(!Glob::new("nb-?").matches("nb-12"));
        assert!(Glob::new("*é?").matches("xxéy"));
    }

    #[test]
    fn question_mark_takes_characters_of_every_utf8_length() {
        for c in ["a", "é", "€", "😀"] {
            assert!(Glob::new("x?y").matches(&format!("x{c}y")), "{c}");
            assert!(Glob::new("*?y").matches(&format!("{c}{c}y")), "{c}");
            assert!(Glob::new("*a?").matches(&format!("{c}a{c}")), "{c}");
            assert!(!Glob::new("x?").matches(&format!("x{c}{c}")), "{c}");
            assert!(!Glob::new("x??y").matches(&format!("x{c}y")), "{c}");
        }
    }

    #[test]
    fn find_keeps_looking_after_a_false_start_up_to_the_last_place() {
        assert_eq!(find(b"aaaab", b"ab"), Some(3));
        assert_eq!(find(b"xxxxab", b"ab"), Some(4));
        assert_eq!(find(b"aab", b"ab"), Some(1));
        assert_eq!(find(b"aaaa", b"ab"), None);
        assert_eq!(find(b"a", b"ab"), None);
        assert_eq!(find(b"ab", b""), None);
        assert!(Glob::new("*ab*").matches("aaaab"));
        assert!(Glob::new("x*ab*c").matches("xaaaaabc"));
        assert!(!Glob::new("x*ab*c").matches("xaaaaac"));
        // Head and tail may not share bytes of the text.
        assert!(!Glob::new("ab*ba").matches("aba"));
        assert!(Glob::new("ab*ba").matches("abba"));
        assert!(!Glob::new("a*a*a").matches("aa"));
        assert!(Glob::new("a*a*a").matches("aaa"));
    }

    #[test]
    fn matching_is_case_sensitive() {
        assert!(!Glob::new("Nb*").matches("nb1"));
        assert!(!Glob::new("x:*:Nb").matches("x:1:nb"));
    }

    /// Reference matcher: plain recursion over characters.
    fn reference(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => reference(&p[1..], t) || (!t.is_empty() && reference(p, &t[1..])),
            (Some('?'), Some(_)) => reference(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &t[1..]),
            _ => false,
        }
    }

    #[test]
    fn intersections() {
        assert!(intersects("modelarts:*", "modelarts:*:*:notebook:*"));
        assert!(intersects("*:nb-1", "modelarts:*:*:notebook:*"));
        assert!(intersects("a*", "*b"));
        assert!(intersects("", "*"));
        assert!(!intersects("", "?"));
        assert!(!intersects("modelarts:*", ""));
        assert!(!intersects("acs:log:*", "acs:agentrun:*"));
        assert!(!intersects(
            "modelarts:r:a:notebok:nb1",
            "modelarts:*:*:notebook:*"
        ));
        // `*` crosses `:`: a later star can spell the right type itself.
        assert!(intersects(
            "modelarts:*:*:notebok:*",
            "modelarts:*:*:notebook:*"
        ));
        assert!(!intersects("a?", "a"));
        assert!(intersects("?é", "*é"));
    }

    /// Brute force: every string over the patterns' letters up to |a|+|b|
    /// characters. Exact: a shortest common string is never longer, and a
    /// character only a wildcard takes can always be an `a`.
    fn brute_intersects(a: &str, b: &str) -> bool {
        let (ga, gb) = (Glob::new(a), Glob::new(b));
        let max = a.chars().count() + b.chars().count();
        let mut layer = vec![String::new()];
        for _ in 0..=max {
            if layer.iter().any(|t| ga.matches(t) && gb.matches(t)) {
                return true;
            }
            layer = layer
                .iter()
                .flat_map(|t| ['a', 'b'].map(|c| format!("{t}{c}")))
                .collect();
        }
        false
    }

    proptest! {
        #[test]
        fn intersects_agrees_with_brute_force(a in "[ab*?]{0,5}", b in "[ab*?]{0,5}") {
            prop_assert_eq!(intersects(&a, &b), brute_intersects(&a, &b));
            prop_assert_eq!(intersects(&a, &b), intersects(&b, &a));
        }

        #[test]
        fn agrees_with_reference(p in "[ab*?é:]{0,8}", t in "[abé:]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(Glob::new(&p).matches(&t), reference(&pc, &tc));
        }

        /// Star-only patterns take the substring-search path (`Stars`).
        #[test]
        fn star_only_patterns_agree_with_reference(p in "[ab*é:]{0,9}", t in "[abé:]{0,12}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(Glob::new(&p).matches(&t), reference(&pc, &tc));
            if let (Some(first), Some(last)) = (p.find('*'), p.rfind('*')) {
                prop_assert_eq!(stars_match(&p, first, last, &t), reference(&pc, &tc));
            }
        }
    }
}
