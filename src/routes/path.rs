//! Strict request-path rules, applied to the raw path before routing.
//!
//! The path that is authorised is exactly the path that is forwarded, so an
//! ambiguous path is rejected (400), never cleaned up: a path that does not
//! start with `/`, an empty segment (`//`, a trailing `/`), a `.` or `..`
//! segment (plain or percent-encoded), an encoded `/`, `\` or NUL inside a
//! segment, a raw `\` or control character, invalid percent-encoding, or a
//! segment that does not decode to UTF-8. Routing then runs on the raw path;
//! only parameter values are percent-decoded.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// What [`check`] learnt about a valid path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The path holds at least one `%XX` escape.
    pub has_escapes: bool,
}

/// Check `raw` (a path without query) against the strict rules; the error
/// says what was wrong.
pub(crate) fn check(raw: &str) -> Result<Checked, String> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(format!("path must start with '/': {raw:?}"));
    };
    let mut has_escapes = false;
    if rest.is_empty() || is_plain(raw) {
        return Ok(Checked { has_escapes });
    }
    for (index, segment) in rest.split('/').enumerate() {
        has_escapes |= check_segment(segment).map_err(|why| format!("segment {index}: {why}"))?;
    }
    Ok(Checked { has_escapes })
}

/// The fast path: no escape, backslash or control byte anywhere, no
/// trailing `/`, and no `/` followed by `/` or `.` (so no empty or dot
/// segment; a name such as `.well-known` takes the slow path too). The scan
/// of the byte pairs has no early exit so that it vectorises; any other path
/// takes the segment-by-segment checks.
fn is_plain(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let pairs = bytes.iter().zip(bytes.iter().skip(1));
    let suspect = pairs.fold(false, |acc, (before, b)| {
        let special = (*b == b'%') | (*b == b'\\') | (*b < 0x20) | (*b == 0x7f);
        let opens = (*before == b'/') & ((*b == b'/') | (*b == b'.'));
        acc | special | opens
    });
    !suspect && !raw.ends_with('/')
}

/// Check one segment; `Ok(true)` when it holds a percent escape.
fn check_segment(segment: &str) -> Result<bool, String> {
    if segment.is_empty() {
        return Err("empty segment ('//' or a trailing '/')".to_string());
    }
    let bytes = segment.as_bytes();
    let (mut i, mut dots, mut decoded_len, mut escapes) = (0, 0, 0, false);
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'%' => {
                escapes = true;
                let value = hex_pair(bytes.get(i + 1..i + 3))
                    .ok_or_else(|| format!("invalid percent-encoding in {segment:?}"))?;
                if matches!(value, b'/' | b'\\' | 0) {
                    return Err(format!("encoded '/', '\\' or NUL in {segment:?}"));
                }
                i += 3;
                value
            }
            b'\\' => return Err(format!("backslash in {segment:?}")),
            b if b < 0x20 || b == 0x7f => return Err(format!("control character in {segment:?}")),
            b => {
                i += 1;
                b
            }
        };
        decoded_len += 1;
        dots += usize::from(byte == b'.');
    }
    if dots == decoded_len && decoded_len <= 2 {
        return Err(format!("dot segment {segment:?}"));
    }
    if escapes && !decodes_to_utf8(segment) {
        return Err(format!("{segment:?} does not decode to UTF-8"));
    }
    Ok(escapes)
}

/// Whether a (validly escaped) segment decodes to UTF-8; short segments are
/// decoded on the stack.
fn decodes_to_utf8(segment: &str) -> bool {
    let mut buf = [0u8; 128];
    if segment.len() > buf.len() {
        return percent_decode_str(segment).decode_utf8().is_ok();
    }
    let mut len = 0;
    for (slot, byte) in buf.iter_mut().zip(percent_decode_str(segment)) {
        *slot = byte;
        len += 1;
    }
    std::str::from_utf8(&buf[..len]).is_ok()
}

/// The byte two hex digits stand for.
fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let [high, low] = pair? else { return None };
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(*high)? * 16 + digit(*low)?) as u8)
}

/// Percent-decode a parameter value of a path that passed [`check`].
pub(crate) fn decode(value: &str) -> Cow<'_, str> {
    percent_decode_str(value).decode_utf8_lossy()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn rejected(path: &str) -> String {
        match check(path) {
            Err(why) => why,
            Ok(_) => panic!("{path} should be rejected"),
        }
    }

    #[test]
    fn accepts_plain_and_encoded_paths() {
        assert_eq!(check("/").unwrap(), Checked { has_escapes: false });
        assert!(!check("/v1/p/notebooks/nb-1").unwrap().has_escapes);
        assert!(check("/v1/p/notebooks/nb%201").unwrap().has_escapes);
        assert!(check("/v1/p/notebooks/%E4%B8%AD").unwrap().has_escapes);
        assert!(check("/v1/p/a.b/...").is_ok());
    }

    /// The fast path sends every segment that starts with `.` to the
    /// segment-by-segment checks, which accept a name that is no dot segment.
    #[test]
    fn names_starting_with_a_dot_are_not_dot_segments() {
        for path in ["/.well-known", "/v1/.hidden/x", "/v1/p/.a.b", "/v1/..."] {
            assert_eq!(check(path), Ok(Checked { has_escapes: false }), "{path}");
        }
    }

    #[test]
    fn rejects_missing_leading_slash() {
        assert!(rejected("v1/p").contains("start with"));
        assert!(rejected("").contains("start with"));
    }

    #[test]
    fn rejects_empty_segments() {
        for path in ["//v1", "/v1//p", "/v1/p/"] {
            assert!(rejected(path).contains("empty segment"), "{path}");
        }
    }

    #[test]
    fn rejects_dot_segments_plain_and_encoded() {
        for path in [
            "/v1/./p",
            "/v1/../p",
            "/v1/%2e",
            "/v1/%2E%2e/p",
            "/v1/.%2E",
            "/.",
        ] {
            assert!(rejected(path).contains("dot segment"), "{path}");
        }
    }

    #[test]
    fn rejects_encoded_separators_and_nul() {
        for path in [
            "/v1/a%2Fb",
            "/v1/a%2fb",
            "/v1/a%5Cb",
            "/v1/a%5cb",
            "/v1/a%00",
        ] {
            assert!(rejected(path).contains("encoded"), "{path}");
        }
    }

    #[test]
    fn rejects_raw_backslash_and_control_characters() {
        assert!(rejected("/v1/a\\b").contains("backslash"));
        assert!(rejected("/v1/a\tb").contains("control"));
    }

    #[test]
    fn rejects_invalid_percent_encoding() {
        for path in ["/v1/%zz", "/v1/%4", "/v1/a%", "/v1/%4g/x", "/v1/%%41"] {
            assert!(rejected(path).contains("percent-encoding"), "{path}");
        }
    }

    #[test]
    fn rejects_non_utf8_segments() {
        assert!(rejected("/v1/%FF").contains("UTF-8"));
        assert!(rejected("/v1/%C3").contains("UTF-8"));
    }

    /// Killers of mutants of the fast path and the stack decoder (see
    /// tests/MUTANTS.md): each input would be accepted by a broken check.
    #[test]
    fn the_fast_path_never_lets_a_special_byte_through() {
        // Two escapes: a fold that toggled instead of or-ing would see none.
        assert!(rejected("/v1/%zz%zz").contains("percent-encoding"));
        assert!(check("/v1/a%20b%20c").unwrap().has_escapes);
        // A path made only of control bytes or DEL has no byte above 0x20.
        for path in ["/\t", "/\x7f", "/v1/a\x7fb", "/\x1f/x"] {
            assert!(rejected(path).contains("control"), "{path:?}");
        }
        // Space (0x20) is the first byte that is not a control character,
        // also on the segment-by-segment path an escape elsewhere forces.
        assert!(check("/v1/a b/%41~").is_ok());
        // A path of nothing but the special byte itself.
        for path in ["/%", "/%%", "/%/%"] {
            assert!(rejected(path).contains("percent-encoding"), "{path:?}");
        }
        for path in ["/\\", "/\\\\", "/\\/x"] {
            assert!(rejected(path).contains("backslash"), "{path:?}");
        }
    }

    #[test]
    fn long_segments_are_decoded_whole() {
        // Longer than the 128-byte stack buffer: the bad byte sits past it.
        let bad = format!("/v1/{}%FF", "a".repeat(200));
        assert!(rejected(&bad).contains("UTF-8"));
        // A character whose bytes straddle the buffer's end is still valid.
        let straddle = format!("/v1/{}%E4%B8%AD", "a".repeat(127));
        assert!(check(&straddle).unwrap().has_escapes);
        // Exactly 128 bytes of segment take the stack path and are whole.
        let exact = format!("/v1/{}%E4%B8%AD", "a".repeat(119));
        assert!(check(&exact).unwrap().has_escapes);
        let exact_bad = format!("/v1/{}%C3", "a".repeat(125));
        assert!(rejected(&exact_bad).contains("UTF-8"));
    }

    #[test]
    fn decodes_parameter_values() {
        assert_eq!(decode("nb%201"), "nb 1");
        assert_eq!(decode("plain"), "plain");
        assert_eq!(decode("%E4%B8%AD"), "中");
    }
}
