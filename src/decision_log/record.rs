//! The decision-log line: one [`DecisionRecord`] per request, serialized as
//! one JSON object. The shape is a stable, versioned schema
//! (`docs/decision-log.md`): fields are only ever added within a
//! [`SCHEMA_VERSION`]; renaming, removing or re-typing one bumps it.
//!
//! A line carries what a re-decision needs (method, raw path, principal, the
//! condition keys each decision read with their values) and never a secret:
//! no token, signature or secret key, and query values whose key names look
//! secret are redacted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::policy::Reason;

/// The schema version written in every line's `schema` field.
pub const SCHEMA_VERSION: u32 = 1;

/// Condition keys (normalised: name lower-cased, tag keys as written) → the
/// values the request supplied; `None` (JSON `null`) when the key was read
/// but the request had no value for it.
pub type ContextValues = BTreeMap<String, Option<Vec<String>>>;

/// One request, as written to the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    pub schema: u32,
    /// When the request finished, RFC 3339 UTC (see [`rfc3339_now`]).
    pub time: String,
    pub request_id: String,
    pub method: String,
    /// The path as received (not decoded, not normalised).
    pub path: String,
    /// The raw query, secret-looking values redacted ([`redact_query`]).
    pub query: Option<String>,
    /// `g:SourceIp` / `acs:SourceIp`: the peer, or the client named by
    /// `X-Forwarded-For` when the peer is a trusted proxy.
    pub source_ip: Option<String>,
    /// The TCP peer.
    pub peer: Option<String>,
    pub tls: bool,
    /// The access key id the request was signed with (claimed, when
    /// authentication failed). Never the secret.
    pub access_key_id: Option<String>,
    /// The authenticated principal's URN.
    pub principal: Option<String>,
    /// `sdk-hmac`, `acs3`, `token`, or `None` when no credentials were sent.
    pub auth: Option<&'static str>,
    pub service: Option<String>,
    /// The SDK operation name of the route, when it has one.
    pub operation: Option<String>,
    /// One entry per action the route needs, in the route's order.
    pub actions: Vec<ActionRecord>,
    /// Every condition key any decision read, with the value the first
    /// action saw. An action's own `context` lists where it saw otherwise.
    pub context: ContextValues,
    /// Overall: `allow`, `explicit_deny`, `implicit_deny`, `unmapped`, or the
    /// refusal's class (`bad_request`, `not_found`, `unauthenticated`, `error`).
    pub decision: String,
    /// The deciding reason in prose, for people reading the log.
    pub deciding: String,
    /// Why the request was refused or failed; `None` when it was not.
    pub error: Option<ErrorRecord>,
    pub status: u16,
    pub latency_us: u64,
    /// The digest of the snapshot the request was decided on.
    pub snapshot: String,
}

/// One action of the request and what the engine decided for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionRecord {
    pub action: String,
    pub resource: String,
    /// `allow`, `explicit_deny`, `implicit_deny`, or `not_evaluated` (an
    /// earlier action was denied, so the engine stopped).
    pub decision: &'static str,
    /// The engine's structured reason (`policy::Reason`); `None` when not
    /// evaluated.
    pub reason: Option<Reason>,
    /// Keys this decision read whose values differ from (or are missing in)
    /// the line's `context`; usually empty.
    pub context: ContextValues,
}

/// A refusal or failure: a stable `code`, a finer `kind` where there is one
/// (the authentication failure, the denial kind) and the message the client
/// was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRecord {
    pub code: &'static str,
    pub kind: Option<&'static str>,
    pub message: String,
}

/// The current UTC time in RFC 3339, for [`DecisionRecord::time`].
pub fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Words that make a query parameter's value secret when its name contains
/// one (case-insensitive, on the name as received and percent-decoded).
const SECRET_NAMES: &[&str] = &["token", "signature", "secret", "password"];

/// The value written instead of a redacted one.
pub const REDACTED: &str = "REDACTED";

/// The raw query with the value of every parameter whose name contains
/// `token`, `signature`, `secret` or `password` replaced by `REDACTED`;
/// everything else byte for byte as received.
pub fn redact_query(raw: &str) -> String {
    raw.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if looks_secret(name) => format!("{name}={REDACTED}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn looks_secret(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    SECRET_NAMES.iter().any(|w| decoded.contains(w))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_query_values_are_redacted_and_the_rest_kept_raw() {
        let q = "limit=10&X-Auth-Token=abc&marker=a%2Fb&Signature=s1&client_secret=x&passWord=p&x";
        assert_eq!(
            redact_query(q),
            "limit=10&X-Auth-Token=REDACTED&marker=a%2Fb&Signature=REDACTED\
             &client_secret=REDACTED&passWord=REDACTED&x"
        );
        // A name hidden behind percent-encoding is still recognised.
        assert_eq!(redact_query("%74oken=t&a=b"), "%74oken=REDACTED&a=b");
        assert_eq!(redact_query(""), "");
    }
}
