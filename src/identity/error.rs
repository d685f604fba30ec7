//! Why a signed request was refused, as one enum shared by both signature
//! schemes. The proxy's `respond` stage maps each variant to the dialect's
//! status and error code (DESIGN.md, "Errors the client sees"). No variant
//! ever carries a secret or a full signature: client-supplied snippets are
//! shortened with [`snippet`] before they are put into a message.

/// The reason a request's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// No Authorization header (and no token).
    #[error("no authorization information")]
    Missing,
    /// Authorization present but unparsable, missing parts, or a required
    /// header missing from `SignedHeaders` or from the request.
    #[error("malformed authorization: {0}")]
    Malformed(String),
    /// `SDK-HMAC-SM3`, `V11-HMAC-SHA256`, ECDSA or any other scheme.
    #[error("unsupported signing algorithm `{0}`")]
    UnsupportedAlgorithm(String),
    /// The recomputed signature differs from the one received.
    #[error("signature does not match")]
    SignatureMismatch,
    /// ACS3: `x-acs-content-sha256` differs from the SHA-256 of the body.
    #[error("x-acs-content-sha256 does not match the body")]
    BodyHashMismatch,
    /// The date header is outside ±[`MAX_CLOCK_SKEW`](super::MAX_CLOCK_SKEW)
    /// of now, or unparsable.
    #[error("request date `{date}` is expired or invalid")]
    Expired {
        /// The date header value as received (shortened).
        date: String,
    },
    /// ACS3: the signature nonce was already used within the window.
    #[error("signature nonce already used")]
    NonceReused,
    /// ACS3: the replay store cannot remember one more nonce (full, or the
    /// access key holds its quota), so the request is refused rather than
    /// an older live nonce forgotten. Mapped to 503.
    #[error("the replay store is full ({0})")]
    ReplayStoreFull(ReplayLimit),
    /// ACS3: the shared replay store (Redis) did not answer in time or
    /// answered an error, so the nonce could not be checked: refused rather
    /// than accepted unchecked. Mapped to 503.
    #[error("the shared replay store is unavailable")]
    ReplayStoreUnavailable,
    /// Huawei: `X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD` with a non-empty body
    /// on a request whose body must be covered by the signature.
    #[error("unsigned payload is not accepted: the body must be signed")]
    UnsignedPayload,
    /// A security token is present: temporary credentials are not supported yet.
    #[error("temporary credentials (security token) are not supported")]
    TemporaryCredentials,
}

/// Which bound of the nonce store refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayLimit {
    /// The store holds `nonce_capacity` live nonces.
    Full,
    /// The access key holds `nonce_per_key` live nonces.
    Quota,
}

impl ReplayLimit {
    /// The `reason` label of `iamgate_nonce_store_rejections_total`.
    pub fn label(self) -> &'static str {
        match self {
            ReplayLimit::Full => "full",
            ReplayLimit::Quota => "quota",
        }
    }
}

impl std::fmt::Display for ReplayLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Longest client-supplied text copied into an error message.
const SNIPPET_MAX_CHARS: usize = 64;

/// Shortens client-supplied text for an error message and replaces control
/// characters, so a message can be logged safely.
pub(crate) fn snippet(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(SNIPPET_MAX_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > SNIPPET_MAX_CHARS {
        out.push('…');
    }
    out
}

/// Shorthand for a [`AuthFailure::Malformed`] with a message.
pub(crate) fn malformed(message: impl Into<String>) -> AuthFailure {
    AuthFailure::Malformed(message.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn snippet_shortens_and_sanitises() {
        assert_eq!(snippet("abc"), "abc");
        assert_eq!(snippet("a\nb"), "a?b");
        let long = "x".repeat(100);
        assert_eq!(snippet(&long).chars().count(), SNIPPET_MAX_CHARS + 1);
    }

    #[test]
    fn snippet_keeps_exactly_the_maximum_whole() {
        let max = "y".repeat(SNIPPET_MAX_CHARS);
        assert_eq!(snippet(&max), max);
        let over = "é".repeat(SNIPPET_MAX_CHARS + 1);
        assert_eq!(
            snippet(&over),
            format!("{}…", "é".repeat(SNIPPET_MAX_CHARS))
        );
    }

    #[test]
    fn replay_limits_have_their_labels() {
        assert_eq!(ReplayLimit::Full.label(), "full");
        assert_eq!(ReplayLimit::Quota.to_string(), "quota");
        let e = AuthFailure::ReplayStoreFull(ReplayLimit::Full);
        assert_eq!(e.to_string(), "the replay store is full (full)");
        assert_eq!(malformed("m"), AuthFailure::Malformed("m".into()));
    }
}
