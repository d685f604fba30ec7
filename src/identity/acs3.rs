//! Alibaba `ACS3-HMAC-SHA256` (alibabacloud-tea-openapi 0.4.6): parse the
//! Authorization header, rebuild the canonical request from what was
//! received, and verify in this order: no security token, required headers
//! signed, `x-acs-date` window, `x-acs-content-sha256` equal to the body's
//! SHA-256, the signature (constant time), and only then the nonce, so a
//! request with a bad signature cannot burn someone else's nonce.
//!
//! Decisions beyond the spec: a signed header absent from the request is
//! `Malformed`; query keys that do not decode to UTF-8 are `Malformed`; a
//! nonce longer than [`MAX_NONCE_LEN`] bytes is `Malformed`; nonces are
//! remembered per access key so one tenant cannot pre-empt another's, and
//! each key may hold only a quota of the store (see [`NonceStore`]).

use std::borrow::Cow;

use percent_encoding::percent_decode;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use super::authorization::{parse_authorization, SignedAuthorization};
use super::crypto::{check_date, sha256_hex, verify_signature_hex};
use super::error::{malformed, snippet, AuthFailure};
use super::nonce::NonceStore;
use super::request::{
    has_header, header_values, push_joined, push_rfc3986, require_signed, single_header, HttpParts,
};

/// The only Alibaba algorithm accepted.
pub const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// Longest accepted `x-acs-signature-nonce` (the SDK sends 32 hex digits).
pub const MAX_NONCE_LEN: usize = 256;
const DATE_HEADER: &str = "x-acs-date";
const CONTENT_SHA256_HEADER: &str = "x-acs-content-sha256";
const NONCE_HEADER: &str = "x-acs-signature-nonce";
const TOKEN_HEADER: &str = "x-acs-security-token";
const ACS_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// A parsed Alibaba Authorization header.
pub type Acs3Auth = SignedAuthorization;

/// Parses an Alibaba Authorization header; other algorithms →
/// `UnsupportedAlgorithm`, anything unparsable → `Malformed`.
pub fn parse_acs3(authorization: &str) -> Result<Acs3Auth, AuthFailure> {
    parse_authorization(authorization, ACS3_ALGORITHM, "Credential")
}

/// Form-decodes one query component: `+` → space, then percent-decode
/// (borrowed as is when there is neither).
fn form_decode(text: &str) -> Cow<'_, [u8]> {
    if !text.contains(['+', '%']) {
        return Cow::Borrowed(text.as_bytes());
    }
    let plus_as_space: Vec<u8> = text
        .bytes()
        .map(|b| if b == b'+' { b' ' } else { b })
        .collect();
    Cow::Owned(percent_decode(&plus_as_space).collect())
}

/// Canonical query: form-decoded pairs sorted by key (then value), written
/// `k=rfc3986(v)` (the key is not re-encoded, as the SDK does) and joined
/// with `&`, appended to `out`.
fn push_canonical_query(out: &mut String, raw_query: Option<&str>) -> Result<(), AuthFailure> {
    let mut pairs: Vec<_> = raw_query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key), form_decode(value))
        })
        .collect();
    pairs.sort();
    for (i, (key, value)) in pairs.iter().enumerate() {
        let key = std::str::from_utf8(key).map_err(|_| malformed("query key is not UTF-8"))?;
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        push_rfc3986(out, value);
    }
    Ok(())
}

/// Canonical headers: `name:values\n` sorted by line, repeated headers'
/// trimmed values sorted and joined with `,`, appended to `out`. Names
/// hold no `:` and are unique, so sorting the lines sorts by `name:`.
fn push_canonical_headers(
    out: &mut String,
    req: &HttpParts,
    signed_headers: &[String],
) -> Result<(), AuthFailure> {
    let mut order: Vec<&String> = signed_headers.iter().collect();
    order.sort_by(|a, b| a.bytes().chain([b':']).cmp(b.bytes().chain([b':'])));
    for name in order {
        let mut values = header_values(req, name)?;
        if values.is_empty() {
            return Err(malformed(format!(
                "signed header `{}` is absent",
                snippet(name)
            )));
        }
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        push_joined(out, values, ',');
        out.push('\n');
    }
    Ok(())
}

/// Rebuilds the canonical request of a received request for the given
/// `SignedHeaders`; the hashed payload is the `x-acs-content-sha256` value
/// as received (checking it against the body is [`verify_acs3`]'s job).
/// Written into one buffer, piece by piece.
pub fn acs3_canonical_request(
    req: &HttpParts,
    signed_headers: &[String],
) -> Result<String, AuthFailure> {
    let uri = if req.raw_path.is_empty() {
        "/"
    } else {
        req.raw_path
    };
    let mut out = String::with_capacity(512);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(uri);
    out.push('\n');
    push_canonical_query(&mut out, req.raw_query)?;
    out.push('\n');
    push_canonical_headers(&mut out, req, signed_headers)?;
    out.push('\n');
    push_joined(&mut out, signed_headers.iter().map(String::as_str), ';');
    out.push('\n');
    out.push_str(single_header(req, CONTENT_SHA256_HEADER)?);
    Ok(out)
}

/// `ACS3-HMAC-SHA256\n<hex sha256(canonical request)>`.
pub fn acs3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ACS3_ALGORITHM}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The checks that need only the headers: no security token, the required
/// headers signed, date window, a well-formed nonce — run before the body
/// is read, so an unauthenticated client cannot make the gateway buffer one.
pub fn check_acs3_head(
    req: &HttpParts,
    auth: &Acs3Auth,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    if has_header(req, TOKEN_HEADER) {
        return Err(AuthFailure::TemporaryCredentials);
    }
    check_head_after_token(req, auth, now)
}

/// [`check_acs3_head`] for temporary credentials: the security token must
/// be present once and signed.
pub fn check_acs3_session_head(
    req: &HttpParts,
    auth: &Acs3Auth,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    single_header(req, TOKEN_HEADER)?;
    require_signed(&auth.signed_headers, &[TOKEN_HEADER])?;
    check_head_after_token(req, auth, now)
}

fn check_head_after_token(
    req: &HttpParts,
    auth: &Acs3Auth,
    now: OffsetDateTime,
) -> Result<(), AuthFailure> {
    let required = ["host", DATE_HEADER, CONTENT_SHA256_HEADER, NONCE_HEADER];
    require_signed(&auth.signed_headers, &required)?;
    check_date(single_header(req, DATE_HEADER)?, ACS_DATE_FORMAT, now)?;
    let nonce = single_header(req, NONCE_HEADER)?;
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(malformed("x-acs-signature-nonce is empty or too long"));
    }
    Ok(())
}

/// Token, required signed headers, date window and body hash: everything
/// checked before the signature.
fn check_before_signature(
    req: &HttpParts,
    auth: &Acs3Auth,
    now: OffsetDateTime,
    session: bool,
) -> Result<(String, OffsetDateTime), AuthFailure> {
    if session {
        single_header(req, TOKEN_HEADER)?;
        require_signed(&auth.signed_headers, &[TOKEN_HEADER])?;
    } else if has_header(req, TOKEN_HEADER) {
        return Err(AuthFailure::TemporaryCredentials);
    }
    let required = ["host", DATE_HEADER, CONTENT_SHA256_HEADER, NONCE_HEADER];
    require_signed(&auth.signed_headers, &required)?;
    let signed = check_date(single_header(req, DATE_HEADER)?, ACS_DATE_FORMAT, now)?;
    let declared = single_header(req, CONTENT_SHA256_HEADER)?;
    if !declared.eq_ignore_ascii_case(&sha256_hex(req.body)) {
        return Err(AuthFailure::BodyHashMismatch);
    }
    let nonce = single_header(req, NONCE_HEADER)?;
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(malformed("x-acs-signature-nonce is empty or too long"));
    }
    Ok((nonce.to_string(), signed))
}

/// Verifies an Alibaba-signed request (see the module comment for the
/// order); the nonce is recorded only once the signature has verified, and
/// remembered until the later of its signed date and `now`, plus the window.
/// A full replay store → `ReplayStoreFull` (the edge answers 503).
pub fn verify_acs3(
    req: &HttpParts,
    auth: &Acs3Auth,
    secret: &[u8],
    now: OffsetDateTime,
    nonces: &NonceStore,
) -> Result<(), AuthFailure> {
    let (nonce, signed) = verify_acs3_signature(req, auth, secret, now, false)?;
    nonces.check_and_insert(&auth.access_key, &nonce, signed, now)
}

/// [`verify_acs3`] for temporary credentials: the security token must be
/// present once and covered by the signature (who issued it is checked by
/// the caller, which found `secret` through it).
pub fn verify_acs3_session(
    req: &HttpParts,
    auth: &Acs3Auth,
    secret: &[u8],
    now: OffsetDateTime,
    nonces: &NonceStore,
) -> Result<(), AuthFailure> {
    let (nonce, signed) = verify_acs3_signature(req, auth, secret, now, true)?;
    nonces.check_and_insert(&auth.access_key, &nonce, signed, now)
}

/// Everything [`verify_acs3`] checks but the nonce, which it returns with
/// the signed date for the caller to record in whichever replay store it
/// uses (the shared one is async). `session`: temporary credentials, whose
/// security token must be present once and signed.
pub fn verify_acs3_signature(
    req: &HttpParts,
    auth: &Acs3Auth,
    secret: &[u8],
    now: OffsetDateTime,
    session: bool,
) -> Result<(String, OffsetDateTime), AuthFailure> {
    let (nonce, signed) = check_before_signature(req, auth, now, session)?;
    let canonical = acs3_canonical_request(req, &auth.signed_headers)?;
    verify_signature_hex(secret, &acs3_string_to_sign(&canonical), &auth.signature)?;
    Ok((nonce, signed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "acs3_tests.rs"]
mod tests;
