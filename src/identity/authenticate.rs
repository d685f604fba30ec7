//! Who is calling: find the credential a request presents (signed AK/SK or
//! token), verify it against the snapshot's directory, and return the
//! principal. A key of one cloud used on the other cloud's route is unknown.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::directory::{AccessKey, Directory, Principal};
use crate::identity::{
    check_acs3_head, check_sdk_hmac_head, parse_acs3, parse_sdk_hmac, verify_acs3, verify_sdk_hmac,
    AuthFailure, HttpParts, NonceStore, ReplayLimit, SignedAuthorization, UnsignedPayload,
};

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Arc<Principal>,
    /// The access key used, when the request was signed.
    pub access_key: Option<String>,
    /// MFA claim of a token; false for AK/SK.
    pub mfa: bool,
}

/// Why a request could not be authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Verify(#[from] AuthFailure),
    /// No such access key (or a key of the other cloud).
    #[error("access key not found")]
    UnknownKey,
    #[error("token not recognised")]
    UnknownToken,
    #[error("token expired at {expires_at}")]
    TokenExpired { expires_at: String },
}

impl AuthError {
    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::Verify(AuthFailure::Missing) => "missing",
            AuthError::Verify(AuthFailure::Malformed(_)) => "malformed",
            AuthError::Verify(AuthFailure::UnsupportedAlgorithm(_)) => "unsupported",
            AuthError::Verify(AuthFailure::SignatureMismatch | AuthFailure::BodyHashMismatch) => {
                "signature_mismatch"
            }
            AuthError::Verify(AuthFailure::Expired { .. }) => "expired",
            AuthError::Verify(AuthFailure::NonceReused) => "nonce_reused",
            AuthError::Verify(AuthFailure::TemporaryCredentials) => "unsupported",
            AuthError::Verify(AuthFailure::ReplayStoreFull(ReplayLimit::Full)) => {
                "nonce_store_full"
            }
            AuthError::Verify(AuthFailure::ReplayStoreFull(ReplayLimit::Quota)) => {
                "nonce_store_quota"
            }
            AuthError::Verify(AuthFailure::UnsignedPayload) => "unsigned_payload",
            AuthError::UnknownKey => "unknown_key",
            AuthError::UnknownToken => "token_unknown",
            AuthError::TokenExpired { .. } => "token_expired",
        }
    }
}

/// What the headers alone establish about a caller, before the body is read.
pub enum Credential<'d> {
    /// A signed request whose key exists and whose head checks passed
    /// (algorithm, signed headers, date window); the signature covers the
    /// body and is verified by [`Credential::verify`].
    Signed {
        cloud: Cloud,
        key: &'d AccessKey,
        auth: SignedAuthorization,
    },
    /// A token: nothing left to check.
    Token(Authenticated),
}

/// Everything about the caller that the headers can tell: refuses missing,
/// malformed, unknown or expired credentials without reading a body byte.
pub fn identify<'d>(
    dir: &'d Directory,
    cloud: Cloud,
    req: &HttpParts<'_>,
    now: OffsetDateTime,
) -> Result<Credential<'d>, AuthError> {
    let authorization = req
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let Some(value) = authorization else {
        return match cloud {
            Cloud::Huawei => token(dir, req, now).map(Credential::Token),
            Cloud::Aliyun => Err(AuthFailure::Missing.into()),
        };
    };
    let auth = match cloud {
        Cloud::Huawei => parse_sdk_hmac(value)?,
        Cloud::Aliyun => parse_acs3(value)?,
    };
    let key = match dir.access_keys.get(&auth.access_key) {
        Some(k) if k.principal.cloud == cloud => k,
        _ => return Err(AuthError::UnknownKey),
    };
    match cloud {
        Cloud::Huawei => check_sdk_hmac_head(req, &auth, now)?,
        Cloud::Aliyun => check_acs3_head(req, &auth, now)?,
    }
    Ok(Credential::Signed { cloud, key, auth })
}

impl Credential<'_> {
    /// Finish authentication once the body is in: verify the signature
    /// (and, for ACS3, the body hash and the nonce).
    pub fn verify(
        self,
        req: &HttpParts<'_>,
        now: OffsetDateTime,
        nonces: &NonceStore,
    ) -> Result<Authenticated, AuthError> {
        let (cloud, key, auth) = match self {
            Credential::Token(who) => return Ok(who),
            Credential::Signed { cloud, key, auth } => (cloud, key, auth),
        };
        match cloud {
            // An unsigned body could be swapped within the date window.
            Cloud::Huawei => {
                verify_sdk_hmac(req, &auth, &key.secret, now, UnsignedPayload::Refused)?
            }
            Cloud::Aliyun => verify_acs3(req, &auth, &key.secret, now, nonces)?,
        }
        Ok(Authenticated {
            principal: key.principal.clone(),
            access_key: Some(auth.access_key),
            mfa: false,
        })
    }
}

/// Authenticate a request routed to a service of `cloud` in one step
/// ([`identify`] then [`Credential::verify`]), for callers that hold the
/// whole request already.
pub fn authenticate(
    dir: &Directory,
    cloud: Cloud,
    req: &HttpParts<'_>,
    now: OffsetDateTime,
    nonces: &NonceStore,
) -> Result<Authenticated, AuthError> {
    identify(dir, cloud, req, now)?.verify(req, now, nonces)
}

/// `X-Auth-Token`: an opaque string mapped to a principal, expiry honoured.
fn token(
    dir: &Directory,
    req: &HttpParts<'_>,
    now: OffsetDateTime,
) -> Result<Authenticated, AuthError> {
    let Some(value) = req.headers.get("x-auth-token") else {
        return Err(AuthFailure::Missing.into());
    };
    let value = value.to_str().map_err(|_| AuthError::UnknownToken)?;
    let token = dir.tokens.get(value).ok_or(AuthError::UnknownToken)?;
    if token.principal.cloud != Cloud::Huawei {
        return Err(AuthError::UnknownToken);
    }
    if token.expires_at <= now {
        return Err(AuthError::TokenExpired {
            expires_at: token.expires_text.clone(),
        });
    }
    Ok(Authenticated {
        principal: token.principal.clone(),
        access_key: None,
        mfa: token.mfa,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "authenticate_tests.rs"]
mod tests;
