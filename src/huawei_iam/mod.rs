//! The Huawei IAM endpoints the gateway serves itself (route file
//! `routes/iam.toml`, upstream `builtin:iam`): temporary AK/SK by agency or
//! by token (`POST /v3.0/OS-CREDENTIAL/securitytokens`) and `X-Auth-Token`s
//! by password or by agency (`POST /v3/auth/tokens`), as
//! `huaweicloudsdkiam` 3.1.219 sends them. This module holds the protocol:
//! request bodies, answers, IAM's error bodies, the session store and how a
//! request presenting a session is identified. The pipeline glue (reading
//! the body, authorising with the engine, recording) is
//! `proxy::builtin_iam`.

pub mod securitytokens;
pub mod sessions;
pub mod tokens;

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::directory::{AccessKey, Directory};
use crate::identity::{
    check_sdk_hmac_session_head, identify as identify_long_term, parse_sdk_hmac, AuthError,
    Authenticated, Credential, HttpParts,
};
use sessions::SessionStore;

/// The upstream name a route file gives to make its routes built-in IAM.
pub const UPSTREAM: &str = "builtin:iam";

/// Live sessions the gateway remembers (temporary keys and tokens together).
pub const SESSION_CAPACITY: usize = 100_000;

/// The action that governs assuming an agency (IAM v5, STS `AssumeAgency`).
pub const ASSUME_ACTION: &str = "sts:agencies:assume";

/// Who is calling, like [`crate::identity::identify`], but also knowing the
/// sessions the built-in IAM issued: a Huawei request with
/// `X-Security-Token` is a temporary AK/SK, and an `X-Auth-Token` may be one
/// this gateway issued. An expired session answers "token expires"; an
/// unknown temporary key "ak not found"; a wrong security token "decrypt
/// token fail" (APIGW.0301 each, as APIG answers).
pub fn identify<'d>(
    store: &SessionStore,
    dir: &'d Directory,
    cloud: Cloud,
    req: &HttpParts<'_>,
    now: OffsetDateTime,
) -> Result<Credential<'d>, AuthError> {
    if cloud == Cloud::Huawei {
        if req.headers.contains_key("x-security-token") {
            return session_key(store, dir, req, now);
        }
        if !req.headers.contains_key(http::header::AUTHORIZATION) {
            if let Some(who) = issued_token(store, dir, req, now)? {
                return Ok(Credential::Token(who));
            }
        }
    }
    identify_long_term(dir, cloud, req, now)
}

fn session_key<'d>(
    store: &SessionStore,
    dir: &'d Directory,
    req: &HttpParts<'_>,
    now: OffsetDateTime,
) -> Result<Credential<'d>, AuthError> {
    let value = req
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""))
        .ok_or(crate::identity::AuthFailure::Missing)?;
    let auth = parse_sdk_hmac(value)?;
    let session = store.key(&auth.access_key).ok_or(AuthError::UnknownKey)?;
    let token = req.headers.get("x-security-token").map(|v| v.as_bytes());
    if !token.is_some_and(|t| same_secret(t, session.security_token.as_bytes())) {
        return Err(AuthError::UnknownToken);
    }
    if session.expires_at <= now {
        return Err(AuthError::TokenExpired {
            expires_at: session.expires_text(),
        });
    }
    // A deleted agency or user ends its sessions.
    let principal = session.principal(dir).ok_or(AuthError::UnknownKey)?;
    check_sdk_hmac_session_head(req, &auth, now)?;
    let key = AccessKey {
        secret: session.secret.clone().into_bytes(),
        principal,
    };
    Ok(Credential::Session { key, auth })
}

/// An `X-Auth-Token` this gateway issued; `None` for any other token (the
/// tokens of credentials.toml are looked up as before).
fn issued_token(
    store: &SessionStore,
    dir: &Directory,
    req: &HttpParts<'_>,
    now: OffsetDateTime,
) -> Result<Option<Authenticated>, AuthError> {
    let Some(value) = req
        .headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(session) = store.token(value) else {
        return Ok(None);
    };
    if session.expires_at <= now {
        return Err(AuthError::TokenExpired {
            expires_at: session.expires_text(),
        });
    }
    let principal = session.principal(dir).ok_or(AuthError::UnknownToken)?;
    Ok(Some(Authenticated {
        principal,
        access_key: None,
        mfa: session.mfa,
    }))
}

/// The `token.id` of a `token`-method body, when given, must be a live
/// token (issued here or from credentials.toml) of the caller itself: keys
/// are never issued for someone else's token.
pub fn check_token_id(
    store: &SessionStore,
    dir: &Directory,
    id: Option<&str>,
    caller: &crate::directory::Principal,
    now: OffsetDateTime,
) -> Result<(), IamError> {
    let Some(id) = id else {
        return Ok(());
    };
    let owner = match store.token(id) {
        Some(s) if s.expires_at > now => s.principal(dir),
        Some(_) => None,
        None => dir
            .tokens
            .get(id)
            .filter(|t| t.expires_at > now)
            .map(|t| t.principal.clone()),
    };
    match owner {
        Some(p) if p.urn == caller.urn => Ok(()),
        _ => Err(IamError::invalid("auth.identity.token.id")),
    }
}

/// Equal secrets, compared in time independent of where they differ
/// (over SHA-256 digests, so the length does not leak either).
pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// An error IAM itself answers (not APIG): its status, code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IamError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl IamError {
    /// 400 `IAM.0007`: a request parameter is missing or invalid.
    pub fn invalid(key: &str) -> IamError {
        IamError {
            status: StatusCode::BAD_REQUEST,
            code: "IAM.0007",
            message: format!("Request parameter {key} is invalid."),
        }
    }

    /// The body the SDK parses (`error_code`, `error_msg`) plus IAM's
    /// keystone-style `error` object.
    pub fn body(&self, request_id: &str) -> Value {
        json!({
            "error_code": self.code,
            "error_msg": self.message,
            "request_id": request_id,
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "title": self.status.canonical_reason().unwrap_or("Error"),
            },
        })
    }
}

/// A JSON response of the built-in service.
pub fn json_response<E>(
    status: StatusCode,
    body: &Value,
) -> Response<http_body_util::combinators::BoxBody<Bytes, E>> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

/// The Huawei account a request body names by `domain_id` or `domain_name`.
pub fn account_named(dir: &Directory, id: Option<&str>, name: Option<&str>) -> Option<Arc<str>> {
    let root = dir.principals.iter().find(|((acc, user), p)| {
        user.is_none()
            && p.cloud == Cloud::Huawei
            && (id == Some(acc.as_str()) || (id.is_none() && name == Some(&*p.account_name)))
    })?;
    Some(root.1.account_id.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "identify_tests.rs"]
mod tests;
