//! What a verifier sees of a received request ([`HttpParts`]) and the
//! header and encoding rules both signature schemes share: looking up a
//! signed header (with the URI authority standing in for a missing `Host`),
//! validating `SignedHeaders` names, and the RFC 3986 percent-encoder that
//! keeps only `A-Za-z0-9-_.~` and writes upper-case hex.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use super::error::{malformed, snippet, AuthFailure};

/// Characters percent-encoded by both SDKs: everything except the RFC 3986
/// unreserved set `A-Za-z0-9-_.~` (Python's `quote(s, safe='~')`).
pub(crate) const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What a verifier needs of a received request. `raw_path` and `raw_query`
/// are exactly as received on the wire (no decoding); `authority` is the URI
/// authority (HTTP/2 `:authority` or absolute-form), used when there is no
/// Host header.
#[derive(Clone, Copy)]
pub struct HttpParts<'a> {
    /// Request method as received.
    pub method: &'a str,
    /// Path as received, still percent-encoded.
    pub raw_path: &'a str,
    /// Query as received (without `?`), still encoded.
    pub raw_query: Option<&'a str>,
    /// URI authority, if the request had one.
    pub authority: Option<&'a str>,
    /// Received headers.
    pub headers: &'a http::HeaderMap,
    /// Received body bytes.
    pub body: &'a [u8],
}

/// Shows header names and the body length only: header values may hold
/// signatures or tokens, which are never logged.
impl std::fmt::Debug for HttpParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("HttpParts")
            .field("method", &self.method)
            .field("raw_path", &self.raw_path)
            .field("raw_query", &self.raw_query)
            .field("authority", &self.authority)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// `items` joined with `sep`, appended to `out` (`SignedHeaders`, a
/// repeated header's values).
pub(crate) fn push_joined<'a>(
    out: &mut String,
    items: impl IntoIterator<Item = &'a str>,
    sep: char,
) {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        out.push_str(item);
    }
}

/// RFC 3986 percent-encoding of raw bytes (upper-case hex), appended to `out`.
pub(crate) fn push_rfc3986(out: &mut String, bytes: &[u8]) {
    out.extend(percent_encoding::percent_encode(bytes, RFC3986));
}

/// Checks that a `SignedHeaders` entry is a lower-case header name token.
fn validate_signed_header_name(name: &str) -> Result<(), AuthFailure> {
    // A lower-case RFC 9110 token (a `match`, not a search of the list per byte).
    let token = |b: u8| {
        matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'%' | b'&' | b'\''
            | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
    };
    let ok = !name.is_empty() && name.bytes().all(token);
    if ok {
        Ok(())
    } else {
        Err(malformed(format!(
            "invalid SignedHeaders entry `{}`",
            snippet(name)
        )))
    }
}

/// Splits a `SignedHeaders` value on `;`, rejecting empty, upper-case,
/// invalid and duplicate names.
pub(crate) fn parse_signed_headers(value: &str) -> Result<Vec<String>, AuthFailure> {
    let mut names: Vec<String> = Vec::new();
    for name in value.split(';') {
        validate_signed_header_name(name)?;
        if names.iter().any(|n| n == name) {
            return Err(malformed(format!(
                "duplicate SignedHeaders entry `{}`",
                snippet(name)
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Fails with `Malformed` unless every name in `required` is signed.
pub(crate) fn require_signed(signed: &[String], required: &[&str]) -> Result<(), AuthFailure> {
    match required.iter().find(|r| !signed.iter().any(|s| s == *r)) {
        Some(missing) => Err(malformed(format!("SignedHeaders lacks `{missing}`"))),
        None => Ok(()),
    }
}

/// All values received for header `name`, trimmed, in arrival order. For
/// `host` with no Host header the URI authority stands in. Values that are
/// not UTF-8 are `Malformed` (both SDKs send UTF-8).
pub(crate) fn header_values<'a>(
    req: &HttpParts<'a>,
    name: &str,
) -> Result<Vec<&'a str>, AuthFailure> {
    validate_signed_header_name(name)?;
    let mut values = Vec::new();
    for value in req.headers.get_all(name) {
        let text = std::str::from_utf8(value.as_bytes())
            .map_err(|_| malformed(format!("header `{}` is not UTF-8", snippet(name))))?;
        values.push(text.trim());
    }
    if values.is_empty() && name == "host" {
        if let Some(authority) = req.authority {
            values.push(authority.trim());
        }
    }
    Ok(values)
}

/// The single value of header `name` (see [`header_values`]); absent or
/// repeated → `Malformed`.
pub(crate) fn single_header<'a>(req: &HttpParts<'a>, name: &str) -> Result<&'a str, AuthFailure> {
    let values = header_values(req, name)?;
    match values.len() {
        1 => Ok(values[0]),
        0 => Err(malformed(format!(
            "signed header `{}` is absent",
            snippet(name)
        ))),
        _ => Err(malformed(format!("header `{}` is repeated", snippet(name)))),
    }
}

/// Whether the request carries header `name` at all.
pub(crate) fn has_header(req: &HttpParts, name: &str) -> bool {
    req.headers.contains_key(name)
}
