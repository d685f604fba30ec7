//! `POST /v3/auth/tokens`: an `X-Auth-Token` (answered in the
//! `X-Subject-Token` header) by password (`KeystoneCreateUserTokenByPassword`)
//! or for an agency (`KeystoneCreateAgencyToken`, `methods: ["assume_role"]`),
//! in the body shapes of `huaweicloudsdkiam` 3.1.219. Pure: the directory,
//! the caller and the issued session are inputs.

use std::sync::Arc;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::directory::{Directory, Principal};
use crate::huawei_iam::securitytokens::AssumeRole;
use crate::huawei_iam::sessions::{iam_time, Issued, SessionOf};
use crate::huawei_iam::{account_named, same_secret, IamError};

/// How long a password token lives (IAM: 24 hours).
pub const TOKEN_SECONDS: u32 = 86400;

#[derive(Debug, Deserialize)]
struct Body {
    auth: Auth,
}

#[derive(Debug, Deserialize)]
struct Auth {
    identity: Identity,
    #[serde(default)]
    scope: Option<Scope>,
}

#[derive(Debug, Deserialize)]
struct Identity {
    methods: Vec<String>,
    #[serde(default)]
    password: Option<PasswordMethod>,
    #[serde(default)]
    assume_role: Option<AssumeRole>,
}

#[derive(Debug, Deserialize)]
struct PasswordMethod {
    user: PasswordUser,
}

#[derive(Debug, Deserialize)]
struct PasswordUser {
    name: String,
    password: String,
    domain: Named,
}

/// `{"id": …}` or `{"name": …}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Named {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `auth.scope`: a domain or a project.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub domain: Option<Named>,
    #[serde(default)]
    pub project: Option<Named>,
}

/// A password login: who, with which password, scoped to what.
#[derive(Debug)]
pub struct Password {
    pub domain: Named,
    pub user: String,
    pub password: String,
    pub scope: Scope,
}

/// What an auth/tokens request asks for.
#[derive(Debug)]
pub enum Request {
    Password(Password),
    AssumeRole(AssumeRole),
}

/// Parse the request body; anything IAM would refuse is `IAM.0007`.
pub fn parse(body: &[u8]) -> Result<Request, IamError> {
    let body: Body = serde_json::from_slice(body).map_err(|_| IamError::invalid("auth"))?;
    let Auth { identity, scope } = body.auth;
    match (
        identity.methods.as_slice(),
        identity.password,
        identity.assume_role,
    ) {
        ([m], Some(p), _) if m == "password" => Ok(Request::Password(Password {
            domain: p.user.domain,
            user: p.user.name,
            password: p.user.password,
            scope: scope.unwrap_or_default(),
        })),
        ([m], _, Some(a)) if m == "assume_role" => Ok(Request::AssumeRole(a)),
        _ => Err(IamError::invalid("auth.identity.methods")),
    }
}

/// 401 for an unknown user or a wrong password (one answer for both).
fn wrong_password() -> IamError {
    IamError {
        status: StatusCode::UNAUTHORIZED,
        code: "IAM.0102",
        message: "The username or password is wrong.".into(),
    }
}

/// Check a password login against credentials.toml; the account root logs
/// in with the account name as user name.
pub fn login(dir: &Directory, p: &Password) -> Result<Arc<Principal>, IamError> {
    let account = account_named(dir, p.domain.id.as_deref(), p.domain.name.as_deref())
        .ok_or_else(wrong_password)?;
    let user = dir
        .principal(&account, Some(&p.user))
        .or_else(|| {
            dir.principal(&account, None)
                .filter(|r| *r.account_name == p.user)
        })
        .ok_or_else(wrong_password)?;
    let key = (
        account.to_string(),
        user.user.as_ref().map(|u| u.name.clone()),
    );
    let stored = dir.passwords.get(&key).ok_or_else(wrong_password)?;
    if !same_secret(stored.as_bytes(), p.password.as_bytes()) {
        return Err(wrong_password());
    }
    if let Some(project) = &p.scope.project {
        let found = dir.projects.values().any(|pr| {
            pr.account_id == account
                && (project.id.as_deref() == Some(&pr.id)
                    || project.name.as_deref() == Some(&pr.name))
        });
        if !found {
            return Err(IamError::invalid("auth.scope.project"));
        }
    }
    Ok(user.clone())
}

/// A user's own session (password tokens).
pub fn user_session(p: &Principal) -> SessionOf {
    SessionOf::User {
        account: p.account_id.to_string(),
        user: p.user.as_ref().map(|u| u.name.clone()),
    }
}

fn user_json(p: &Principal) -> Value {
    let (id, name) = match &p.user {
        Some(u) => (u.id.clone(), u.name.clone()),
        None => (p.account_id.to_string(), p.account_name.to_string()),
    };
    json!({
        "id": id,
        "name": name,
        "domain": {"id": p.account_id.as_ref(), "name": p.account_name.as_ref()},
        "password_expires_at": "",
    })
}

/// The 201 body of a token: `{"token": {methods, expires_at, issued_at, user, …}}`.
/// `caller` is the assuming identity of an agency token (`assumed_by`).
pub fn answer(issued: &Issued, who: &Principal, caller: Option<&Principal>, method: &str) -> Value {
    let issued_at = iam_time(time::OffsetDateTime::now_utc());
    let mut token = json!({
        "methods": [method],
        "expires_at": issued.session.expires_text(),
        "issued_at": issued_at,
        "user": user_json(who),
        "domain": {"id": who.account_id.as_ref(), "name": who.account_name.as_ref()},
        "catalog": [],
        "roles": [],
    });
    if let (Some(c), Some(t)) = (caller, token.as_object_mut()) {
        t.insert("assumed_by".into(), json!({"user": user_json(c)}));
    }
    json!({ "token": token })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "tokens_tests.rs"]
mod tests;
