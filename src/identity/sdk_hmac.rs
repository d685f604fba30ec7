//! Huawei `SDK-HMAC-SHA256` (huaweicloudsdkcore 3.1.219, APIG docs): parse
//! the Authorization header, rebuild the canonical request from what was
//! received, and verify the signature, the `X-Sdk-Date` window and that no
//! temporary credentials are used. Follows `spec/signing.md` step by step.
//!
//! Decisions beyond the spec: a signed header that is absent (or repeated)
//! is `Malformed`, not a mismatch, so the client learns which header is
//! wrong; the query is only percent-decoded (a raw `+` stays a literal `+`,
//! the SDK always sends `%20`); paths are re-encoded byte-wise (invalid
//! UTF-8 is not replaced by U+FFFD as Python's `unquote` would); an
//! `X-Sdk-Content-Sha256` other than `UNSIGNED-PAYLOAD` must equal the
//! body's SHA-256 (else `BodyHashMismatch`), because the header need not be
//! signed and could otherwise pin an old payload hash onto a new body.
//!
//! `X-Sdk-Content-Sha256` need not be in `SignedHeaders`: its value *is*
//! the last line of the canonical request, so changing or adding it changes
//! the signature (`UNSIGNED-PAYLOAD` in place of a hash, or the reverse, is
//! a mismatch), and a hash value must equal the body's. Requiring it signed
//! would refuse the SDK, which does not sign it. The one hole is
//! `UNSIGNED-PAYLOAD` itself, which leaves the body unsigned: callers pass
//! [`UnsignedPayload::Refused`] wherever the body matters.

use percent_encoding::percent_decode_str;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use super::authorization::{parse_authorization, SignedAuthorization};
use super::crypto::{check_date, sha256_hex, verify_signature_hex};
use super::error::{malformed, AuthFailure};
use super::request::{
    has_header, header_values, push_joined, push_rfc3986, require_signed, single_header, HttpParts,
};

/// The only Huawei algorithm accepted.
pub const SDK_HMAC_ALGORITHM: &str = "SDK-HMAC-SHA256";
const DATE_HEADER: &str = "x-sdk-date";
const TOKEN_HEADER: &str = "x-security-token";
const CONTENT_SHA256_HEADER: &str = "x-sdk-content-sha256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const SDK_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// A parsed Huawei Authorization header.
pub type SdkHmacAuth = SignedAuthorization;

/// Parses a Huawei Authorization header; other algorithms →
/// `UnsupportedAlgorithm`, anything unparsable → `Malformed`.
pub fn parse_sdk_hmac(authorization: &str) -> Result<SdkHmacAuth, AuthFailure> {
    parse_authorization(authorization, SDK_HMAC_ALGORITHM, "Access")
}

/// Canonical URI: percent-decode, split on `/`, re-encode each segment,
/// join, and end with `/`; appended to `out`.
fn push_canonical_uri(out: &mut String, raw_path: &str) {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    let decoded: Vec<u8> = percent_decode_str(path).collect();
    for (i, segment) in decoded.split(|b| *b == b'/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        push_rfc3986(out, segment);
    }
    if !out.ends_with('/') {
        out.push('/');
    }
}

/// Canonical query: decoded pairs sorted by key then value, re-encoded as
/// `enc(k)=enc(v)` and joined with `&`; appended to `out`.
fn push_canonical_query(out: &mut String, raw_query: Option<&str>) {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).collect::<Vec<u8>>();
            (decode(key), decode(value))
        })
        .collect();
    pairs.sort();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        push_rfc3986(out, key);
        out.push('=');
        push_rfc3986(out, value);
    }
}

/// The optional `X-Sdk-Content-Sha256` value (repeated → `Malformed`).
fn content_sha256_header<'a>(req: &HttpParts<'a>) -> Result<Option<&'a str>, AuthFailure> {
    let values = header_values(req, CONTENT_SHA256_HEADER)?;
    match values.len() {
        0 => Ok(None),
        1 => Ok(Some(values[0])),
        _ => Err(malformed("header `x-sdk-content-sha256` is repeated")),
    }
}

/// Payload hash: empty body → SHA-256 of nothing; else the
/// `X-Sdk-Content-Sha256` value if present; else hex SHA-256 of the body.
fn payload_hash(req: &HttpParts) -> Result<String, AuthFailure> {
    if req.body.is_empty() {
        return Ok(sha256_hex(b""));
    }
    match content_sha256_header(req)? {
        Some(value) => Ok(value.to_string()),
        None => Ok(sha256_hex(req.body)),
    }
}

/// Rebuilds the canonical request of a received request for the given
/// `SignedHeaders`. A signed header that is absent or repeated → `Malformed`.
/// Written into one buffer, piece by piece.
pub fn sdk_hmac_canonical_request(
    req: &HttpParts,
    signed_headers: &[String],
) -> Result<String, AuthFailure> {
    let mut out = String::with_capacity(512);
    out.extend(req.method.chars().map(|c| c.to_ascii_uppercase()));
    out.push('\n');
    push_canonical_uri(&mut out, req.raw_path);
    out.push('\n');
    push_canonical_query(&mut out, req.raw_query);
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        out.push_str(single_header(req, name)?);
        out.push('\n');
    }
    out.push('\n');
    push_joined(&mut out, signed_headers.iter().map(String::as_str), ';');
    out.push('\n');
    out.push_str(&payload_hash(req)?);
    Ok(out)
}

/// `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256(canonical request)>`.
pub fn sdk_hmac_string_to_sign(sdk_date: &str, canonical_request: &str) -> String {
    format!(
        "{SDK_HMAC_ALGORITHM}\n{sdk_date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Whether `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` may leave a non-empty
/// body outside the signature. Such a body can be swapped by anyone who
/// sees the request within the date window (Huawei has no nonce), so any
/// route whose decision reads the body must pass `Refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsignedPayload {
    Allowed,
    Refused,
}

/// An `X-Sdk-Content-Sha256` other than `UNSIGNED-PAYLOAD` must match the
/// body; `UNSIGNED-PAYLOAD` on a non-empty body only when allowed.
fn check_declared_body_hash(
    req: &HttpParts,
    unsigned_payload: UnsignedPayload,
) -> Result<(), AuthFailure> {
    match content_sha256_header(req)? {
        Some(v) if !req.body.is_empty() && v == UNSIGNED_PAYLOAD => match unsigned_payload {
            UnsignedPayload::Allowed => Ok(()),
            UnsignedPayload::Refused => Err(AuthFailure::UnsignedPayload),
        },
        Some(v) if !req.body.is_empty() && v != UNSIGNED_PAYLOAD => {
            if v.eq_ignore_ascii_case(&sha256_hex(req.body)) {
                Ok(())
            } else {
                Err(AuthFailure::BodyHashMismatch)
            }
        }
        _ => Ok(()),
    }
}

/// The checks that need only the headers: no security token, `host` and
/// `x-sdk-date` signed, date within ±15 minutes — run before the body is
/// read, so an unauthenticated client cannot make the gateway buffer one.
pub fn check_sdk_hmac_head(
    req: &HttpParts,
    auth: &SdkHmacAuth,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    if has_header(req, TOKEN_HEADER) {
        return Err(AuthFailure::TemporaryCredentials);
    }
    check_head_checks(req, auth, now)
}

/// [`check_sdk_hmac_head`] for temporary credentials: the
/// `X-Security-Token` must be present and signed, so it cannot be swapped.
pub fn check_sdk_hmac_session_head(
    req: &HttpParts,
    auth: &SdkHmacAuth,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    require_signed(&auth.signed_headers, &[TOKEN_HEADER])?;
    check_head_checks(req, auth, now)
}

fn check_head_checks(
    req: &HttpParts,
    auth: &SdkHmacAuth,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    require_signed(&auth.signed_headers, &["host", DATE_HEADER])?;
    check_date(single_header(req, DATE_HEADER)?, SDK_DATE_FORMAT, now).map(|_| ())
}

/// Verifies a Huawei-signed request: no security token, `host` and
/// `x-sdk-date` signed, date within ±15 minutes of `now`, declared body hash
/// consistent (an unsigned payload only when `unsigned_payload` allows it),
/// then the signature (constant time).
pub fn verify_sdk_hmac(
    req: &HttpParts,
    auth: &SdkHmacAuth,
    secret: &[u8],
    now: OffsetDateTime,
    unsigned_payload: UnsignedPayload,
) -> Result<(), AuthFailure> {
    if has_header(req, TOKEN_HEADER) {
        return Err(AuthFailure::TemporaryCredentials);
    }
    verify_sdk_hmac_session(req, auth, secret, now, unsigned_payload)
}

/// [`verify_sdk_hmac`] for temporary credentials: the security token is
/// allowed (the caller checked it against the session and that it is signed).
pub fn verify_sdk_hmac_session(
    req: &HttpParts,
    auth: &SdkHmacAuth,
    secret: &[u8],
    now: OffsetDateTime,
    unsigned_payload: UnsignedPayload,
) -> Result<(), AuthFailure> {
    require_signed(&auth.signed_headers, &["host", DATE_HEADER])?;
    let sdk_date = single_header(req, DATE_HEADER)?;
    check_date(sdk_date, SDK_DATE_FORMAT, now)?;
    check_declared_body_hash(req, unsigned_payload)?;
    let canonical = sdk_hmac_canonical_request(req, &auth.signed_headers)?;
    let string_to_sign = sdk_hmac_string_to_sign(sdk_date, &canonical);
    verify_signature_hex(secret, &string_to_sign, &auth.signature)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "sdk_hmac_tests.rs"]
mod tests;
