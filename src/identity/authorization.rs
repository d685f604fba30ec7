//! Parsing of the `Authorization` header shared by both schemes:
//! `<ALGORITHM> <Key>=<value>, <Key>=<value>, …`. Huawei separates the
//! parameters with `", "`, Alibaba with `","`; both are accepted. The
//! scheme-specific parsers ([`super::parse_sdk_hmac`], [`super::parse_acs3`])
//! name the expected algorithm and parameter keys.

use super::crypto::is_sha256_hex;
use super::error::{malformed, snippet, AuthFailure};
use super::request::parse_signed_headers;

/// A parsed Authorization header: the three parameters every supported
/// scheme carries (`Access=`/`Credential=`, `SignedHeaders=`, `Signature=`).
#[derive(Clone, PartialEq, Eq)]
pub struct SignedAuthorization {
    /// The access key id.
    pub access_key: String,
    /// `SignedHeaders`, lower-case, in the order given.
    pub signed_headers: Vec<String>,
    /// 64 hex digits.
    pub signature: String,
}

impl std::fmt::Debug for SignedAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedAuthorization")
            .field("access_key", &self.access_key)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &redacted(&self.signature))
            .finish()
    }
}

/// Whether `token` looks like an algorithm name (so an unknown one is
/// reported as unsupported rather than malformed).
fn looks_like_algorithm(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits off the algorithm; anything but `algorithm` → `UnsupportedAlgorithm`
/// (or `Malformed` when the first token is not even a name).
fn split_algorithm<'h>(header: &'h str, algorithm: &str) -> Result<&'h str, AuthFailure> {
    let header = header.trim();
    let (token, rest) = header.split_once(' ').unwrap_or((header, ""));
    if token == algorithm {
        return Ok(rest);
    }
    if looks_like_algorithm(token) {
        Err(AuthFailure::UnsupportedAlgorithm(snippet(token)))
    } else {
        Err(malformed("authorization scheme is not a name"))
    }
}

/// Stores `value` under `slot`, refusing a repeated parameter.
fn set_once(slot: &mut Option<String>, key: &str, value: &str) -> Result<(), AuthFailure> {
    if slot.is_some() {
        return Err(malformed(format!("parameter `{key}` is repeated")));
    }
    *slot = Some(value.to_owned());
    Ok(())
}

/// Parses `<algorithm> <key_param>=AK,SignedHeaders=a;b,Signature=hex`.
pub(crate) fn parse_authorization(
    header: &str,
    algorithm: &str,
    key_param: &str,
) -> Result<SignedAuthorization, AuthFailure> {
    let rest = split_algorithm(header, algorithm)?;
    let (mut access_key, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| malformed("authorization parameter without `=`"))?;
        match key {
            k if k == key_param => set_once(&mut access_key, key, value)?,
            "SignedHeaders" => set_once(&mut signed, key, value)?,
            "Signature" => set_once(&mut signature, key, value)?,
            other => {
                return Err(malformed(format!(
                    "unknown authorization parameter `{}`",
                    snippet(other)
                )))
            }
        }
    }
    finish(access_key, signed, signature, key_param)
}

/// Checks the collected parameters are all present and well-formed.
fn finish(
    access_key: Option<String>,
    signed: Option<String>,
    signature: Option<String>,
    key_param: &str,
) -> Result<SignedAuthorization, AuthFailure> {
    let access_key = access_key
        .filter(|ak| !ak.is_empty() && !ak.chars().any(|c| c.is_whitespace() || c.is_control()))
        .ok_or_else(|| malformed(format!("missing or empty `{key_param}`")))?;
    let signed = signed.ok_or_else(|| malformed("missing `SignedHeaders`"))?;
    let signature = signature
        .filter(|s| is_sha256_hex(s))
        .ok_or_else(|| malformed("missing or invalid `Signature`"))?;
    Ok(SignedAuthorization {
        access_key,
        signed_headers: parse_signed_headers(&signed)?,
        signature,
    })
}

/// The first characters of a signature, for `Debug` output (never the whole).
fn redacted(signature: &str) -> String {
    let prefix: String = signature.chars().take(8).collect();
    format!("{prefix}…")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "authorization_tests.rs"]
mod tests;
