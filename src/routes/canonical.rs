//! Canonical path parameters (resource ids and names): the only ids the
//! router lets through, and so the only ones the gateway looks up, builds
//! resource names from, and records.
//!
//! The rule is an allow-list: 1 to 256 bytes of `A-Z a-z 0-9 - _ . ~` (the
//! URL "unreserved" set), and not `.` or `..`. Every id the two clouds
//! issue or accept as a name fits it (uuids, `nb-red`, `pool-gpu`,
//! `my_template`). Everything else is refused (400) rather than
//! normalised, because each other character is a way for one resource to
//! have two names: `nb-red;x` (a matrix parameter an upstream may strip),
//! `nb-red ` / `%20` / tabs / decoded control characters (trimmed by some
//! servers), `:` and `/` (separators of the resource name itself, which
//! would let an id forge a type or account), `*` and `?` (wildcards of
//! policy resources), `%` (double decoding).
//!
//! Ids are case-sensitive: the bundled mock and the vendors' APIs compare
//! them exactly, and folding case here would merge two resources an upstream
//! keeps apart. The opposite risk, an upstream that folds case, is covered
//! by the state itself: an id that differs only in case from a known one is
//! reported as [`super::Lookup::CaseVariant`] and refused too.

/// Longest id accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Why an id is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ambiguous {
    #[error("the resource id is empty")]
    Empty,
    #[error("the resource id is longer than {MAX_ID_BYTES} bytes")]
    TooLong,
    #[error("the resource id may not be a dot segment")]
    DotSegment,
    #[error("the resource id holds {0:?}; ids are letters, digits and - _ . ~ only")]
    Character(char),
}

/// The bytes an id may hold: `A-Z a-z 0-9 - _ . ~`, all ASCII.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

/// The id itself when it is canonical (percent-decoded already, as route
/// parameters are), else why not.
pub fn canonical_id(decoded: &str) -> Result<&str, Ambiguous> {
    if decoded.is_empty() {
        return Err(Ambiguous::Empty);
    }
    if decoded.len() > MAX_ID_BYTES {
        return Err(Ambiguous::TooLong);
    }
    if decoded == "." || decoded == ".." {
        return Err(Ambiguous::DotSegment);
    }
    let other = decoded.bytes().position(|b| !PLAIN[usize::from(b)]);
    // Plain bytes are ASCII, so the first other byte starts a character.
    match other.and_then(|at| decoded[at..].chars().next()) {
        Some(c) => Err(Ambiguous::Character(c)),
        None => Ok(decoded),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids_are_their_own_canonical_form() {
        for id in [
            "nb-red",
            "pool_gpu",
            "a.b~c",
            "6f1c2a3e-0b7d-4c1e-9a55-3d2e1f0a9b8c",
            "NB-Red",
        ] {
            assert_eq!(canonical_id(id), Ok(id));
        }
        let longest = "a".repeat(MAX_ID_BYTES);
        assert_eq!(canonical_id(&longest), Ok(longest.as_str()));
    }

    #[test]
    fn aliases_and_separators_are_refused() {
        let cases = [
            ("nb-red;x", Ambiguous::Character(';')),
            ("nb-red ", Ambiguous::Character(' ')),
            ("nb\tred", Ambiguous::Character('\t')),
            ("nb\0red", Ambiguous::Character('\0')),
            ("nb%41", Ambiguous::Character('%')),
            ("acc:nb", Ambiguous::Character(':')),
            ("a/b", Ambiguous::Character('/')),
            ("nb-*", Ambiguous::Character('*')),
            ("nb?", Ambiguous::Character('?')),
            ("nb-rëd", Ambiguous::Character('ë')),
            ("", Ambiguous::Empty),
            (".", Ambiguous::DotSegment),
            ("..", Ambiguous::DotSegment),
        ];
        for (id, why) in cases {
            assert_eq!(canonical_id(id), Err(why), "{id:?}");
        }
        assert_eq!(
            canonical_id(&"a".repeat(MAX_ID_BYTES + 1)),
            Err(Ambiguous::TooLong)
        );
    }
}
