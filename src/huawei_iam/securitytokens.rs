//! `POST /v3.0/OS-CREDENTIAL/securitytokens`: temporary AK/SK and a
//! security token, either for an agency (`methods: ["assume_role"]`) or for
//! the caller itself (`methods: ["token"]`), in the body shapes of
//! `huaweicloudsdkiam` 3.1.219 (`CreateTemporaryAccessKeyByAgencyRequestBody`,
//! `CreateTemporaryAccessKeyByTokenRequestBody`). Pure: the directory and
//! the caller are inputs; issuing and authorising happen in the caller.

use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::directory::agencies::{Agency, AgencyTrust, DEFAULT_SESSION_SECONDS};
use crate::directory::{Directory, Principal};
use crate::huawei_iam::sessions::{Issued, SessionOf};
use crate::huawei_iam::{account_named, IamError};

/// The shortest session IAM grants (unless the agency allows less).
pub const MIN_SESSION_SECONDS: u32 = 900;
/// Default and longest duration of the `token` method's keys.
pub const TOKEN_DEFAULT_SECONDS: u32 = 900;
pub const TOKEN_MAX_SECONDS: u32 = 86400;

#[derive(Debug, Deserialize)]
struct Body {
    auth: Auth,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Auth {
    pub(crate) identity: Identity,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Identity {
    pub(crate) methods: Vec<String>,
    #[serde(default)]
    pub(crate) assume_role: Option<AssumeRole>,
    #[serde(default)]
    pub(crate) token: Option<TokenMethod>,
    #[serde(default)]
    pub(crate) policy: Option<Value>,
}

/// `auth.identity.assume_role`.
#[derive(Debug, Clone, Deserialize)]
pub struct AssumeRole {
    pub agency_name: String,
    #[serde(default)]
    pub domain_id: Option<String>,
    #[serde(default)]
    pub domain_name: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
    #[serde(default)]
    pub session_user: Option<SessionUser>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionUser {
    pub name: String,
}

/// `auth.identity.token`.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenMethod {
    /// The caller's token; when given it must be the caller's own.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<u32>,
}

/// What a securitytokens request asks for.
#[derive(Debug, Clone)]
pub enum Request {
    AssumeRole(AssumeRole),
    Token(TokenMethod),
}

/// Parse the request body; anything IAM would refuse is `IAM.0007`.
pub fn parse(body: &[u8]) -> Result<Request, IamError> {
    let body: Body = serde_json::from_slice(body).map_err(|_| IamError::invalid("auth"))?;
    let id = body.auth.identity;
    if id.policy.is_some() {
        // Session policies are not evaluated by iamgate: refuse rather than widen.
        return Err(IamError::invalid(
            "auth.identity.policy (unsupported by iamgate)",
        ));
    }
    match (id.methods.as_slice(), id.assume_role, id.token) {
        ([m], Some(a), _) if m == "assume_role" => Ok(Request::AssumeRole(a)),
        ([m], _, t) if m == "token" => Ok(Request::Token(t.unwrap_or(TokenMethod {
            id: None,
            duration_seconds: None,
        }))),
        _ => Err(IamError::invalid("auth.identity.methods")),
    }
}

/// A checked assume: the agency, the session name and its length.
#[derive(Debug)]
pub struct Assumption {
    pub agency: Arc<Agency>,
    pub session: String,
    pub seconds: u32,
}

impl Assumption {
    pub fn session_of(&self) -> SessionOf {
        SessionOf::Agency {
            account: self.agency.account_id.to_string(),
            agency: self.agency.name.clone(),
            session: self.session.clone(),
        }
    }
}

/// Find the agency, check it trusts the caller's account, the session name
/// and the duration. Whether the caller's policies allow
/// `sts:agencies:assume` on the agency is the engine's part.
pub fn assume(dir: &Directory, caller: &Principal, a: &AssumeRole) -> Result<Assumption, IamError> {
    let account = account_named(dir, a.domain_id.as_deref(), a.domain_name.as_deref())
        .ok_or_else(|| IamError::invalid("auth.identity.assume_role.domain_id"))?;
    let not_found = || IamError {
        status: StatusCode::FORBIDDEN,
        code: "IAM.0101",
        message: format!(
            "The agency {} does not exist in domain {account} or does not trust {}.",
            a.agency_name, caller.urn
        ),
    };
    let agency = dir.agency(&account, &a.agency_name).ok_or_else(not_found)?;
    match &agency.trust {
        AgencyTrust::Account(trusted) if **trusted == *caller.account_id => {}
        _ => return Err(not_found()),
    }
    let session = match &a.session_user {
        Some(u) => u.name.clone(),
        None => caller.display_name().to_string(),
    };
    if !valid_session_name(&session) {
        return Err(IamError::invalid(
            "auth.identity.assume_role.session_user.name",
        ));
    }
    let max = agency.max_session_seconds;
    let seconds = a
        .duration_seconds
        .unwrap_or(DEFAULT_SESSION_SECONDS.min(max));
    if seconds < MIN_SESSION_SECONDS.min(max) || seconds > max {
        return Err(IamError::invalid(
            "auth.identity.assume_role.duration_seconds",
        ));
    }
    Ok(Assumption {
        agency: agency.clone(),
        session,
        seconds,
    })
}

/// IAM's rule for session names: 2–64 of `A-Za-z0-9_+=,.@-`.
fn valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
}

/// The `token` method: keys for the caller's own identity (an agency
/// session's keys stay that agency session).
pub fn own_session(caller: &Principal, t: &TokenMethod) -> Result<(SessionOf, u32), IamError> {
    let seconds = t.duration_seconds.unwrap_or(TOKEN_DEFAULT_SECONDS);
    if !(MIN_SESSION_SECONDS..=TOKEN_MAX_SECONDS).contains(&seconds) {
        return Err(IamError::invalid("auth.identity.token.duration_seconds"));
    }
    Ok((session_of(caller), seconds))
}

/// What a principal's own new session names.
pub fn session_of(caller: &Principal) -> SessionOf {
    let agency_session = caller
        .user
        .as_ref()
        .filter(|_| caller.is_agency_session())
        .and_then(|u| u.name.split_once('/'));
    match agency_session {
        Some((agency, session)) => SessionOf::Agency {
            account: caller.account_id.to_string(),
            agency: agency.to_string(),
            session: session.to_string(),
        },
        None => SessionOf::User {
            account: caller.account_id.to_string(),
            user: caller.user.as_ref().map(|u| u.name.clone()),
        },
    }
}

/// The 201 body: `{"credential": {access, secret, securitytoken, expires_at}}`.
pub fn answer(issued: &Issued) -> Value {
    json!({
        "credential": {
            "access": issued.id,
            "secret": issued.session.secret,
            "securitytoken": issued.session.security_token,
            "expires_at": issued.session.expires_text(),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "securitytokens_tests.rs"]
mod tests;
