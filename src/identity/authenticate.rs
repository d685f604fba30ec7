//! Who is calling: find the credential a request presents (signed AK/SK or
//! token), verify it against the snapshot's directory, and return the
//! principal. A key of one cloud used on the other cloud's route is unknown.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::directory::{AccessKey, Directory, Principal};
use crate::identity::{
    check_acs3_head, check_acs3_session_head, check_sdk_hmac_head, parse_acs3, parse_sdk_hmac,
    verify_acs3, verify_acs3_session, verify_acs3_signature, verify_sdk_hmac,
    verify_sdk_hmac_session, AuthFailure, HttpParts, NonceStore, Replay, ReplayLimit,
    SignedAuthorization, UnsignedPayload,
};
use crate::sts::sessions::{session_key, STS_KEY_PREFIX};

/// The store handed to [`Credential::verify`] for credentials that carry
/// no nonce when the gateway's nonces live in the shared store.
static NO_NONCES: LazyLock<NonceStore> = LazyLock::new(|| NonceStore::new(1, Duration::ZERO));

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
    /// A temporary (`STS.`) access key without `x-acs-security-token`.
    #[error("a security token is required with a temporary access key")]
    MissingSecurityToken,
    /// A security token this gateway did not issue, or whose role is gone.
    #[error("security token not recognised")]
    SecurityTokenInvalid,
    /// The token belongs to another access key (or came with a long-term key).
    #[error("security token does not belong to this access key")]
    SecurityTokenMismatch,
    #[error("security token expired at {expiration}")]
    SecurityTokenExpired { expiration: String },
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
            AuthError::Verify(AuthFailure::ReplayStoreUnavailable) => "nonce_store_unavailable",
            AuthError::UnknownKey => "unknown_key",
            AuthError::UnknownToken => "token_unknown",
            AuthError::TokenExpired { .. } => "token_expired",
            AuthError::MissingSecurityToken => "security_token_missing",
            AuthError::SecurityTokenInvalid => "security_token_invalid",
            AuthError::SecurityTokenMismatch => "security_token_mismatch",
            AuthError::SecurityTokenExpired { .. } => "security_token_expired",
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
    /// A request signed with temporary credentials: an Alibaba STS role
    /// session (its key resolved from the security token) or Huawei
    /// temporary AK/SK with a signed `X-Security-Token` that matched. Which
    /// one is the key's principal's cloud; the signature is verified by
    /// [`Credential::verify`].
    Session {
        key: AccessKey,
        auth: SignedAuthorization,
    },
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
    if cloud == Cloud::Aliyun {
        let token = req.headers.get("x-acs-security-token");
        if token.is_some() || auth.access_key.starts_with(STS_KEY_PREFIX) {
            let token = token.map(|t| t.to_str().unwrap_or(""));
            let key = session_key(dir, &auth.access_key, token, now)?;
            check_acs3_session_head(req, &auth, now)?;
            return Ok(Credential::Session { key, auth });
        }
    }
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
            Credential::Session { key, auth } => {
                match key.principal.cloud {
                    Cloud::Aliyun => verify_acs3_session(req, &auth, &key.secret, now, nonces)?,
                    Cloud::Huawei => verify_sdk_hmac_session(
                        req,
                        &auth,
                        &key.secret,
                        now,
                        UnsignedPayload::Refused,
                    )?,
                }
                return Ok(Authenticated {
                    principal: key.principal,
                    access_key: Some(auth.access_key),
                    mfa: false,
                });
            }
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

impl Credential<'_> {
    /// [`Credential::verify`] against whichever replay store the gateway
    /// runs: the local one directly, the shared one (Redis) after the
    /// signature verified, so a forged request never reaches Redis.
    pub async fn verify_replay(
        self,
        req: &HttpParts<'_>,
        now: OffsetDateTime,
        replay: Replay<'_>,
    ) -> Result<Authenticated, AuthError> {
        let shared = match replay {
            Replay::Local(nonces) => return self.verify(req, now, nonces),
            Replay::Shared(shared) => shared,
        };
        let (principal, secret, auth, session) = match self {
            Credential::Signed {
                cloud: Cloud::Aliyun,
                key,
                auth,
            } => (key.principal.clone(), key.secret.clone(), auth, false),
            // STS sessions carry nonces too.
            Credential::Session { key, auth } if key.principal.cloud == Cloud::Aliyun => {
                (key.principal, key.secret, auth, true)
            }
            // Huawei requests and tokens carry no nonce: the store is never read.
            other => return other.verify(req, now, &NO_NONCES),
        };
        let (nonce, signed) = verify_acs3_signature(req, &auth, &secret, now, session)?;
        shared
            .check_and_insert(&auth.access_key, &nonce, signed, now)
            .await?;
        Ok(Authenticated {
            principal,
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
