//! Role sessions: the temporary credentials `AssumeRole` issues and what a
//! request signed with them stands for.
//!
//! A session is stateless: its claims (role, session name, expiry, session
//! policy, access key id) travel inside the `SecurityToken`, sealed with an
//! HMAC under a key drawn at process start, and the session's secret is an
//! HMAC of its access key id under the same key. So a session store can
//! neither fill up nor need sharing between requests, a forged or edited
//! token fails the seal, and a restart ends every session (documented). The
//! principal is rebuilt per request from the *current* snapshot: a reload
//! that changes the role's policies applies at once, a deleted role ends its
//! sessions.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::directory::{AccessKey, Directory, Principal, Role, User};
use crate::identity::{hmac_sha256_hex, AuthError};
use crate::policy::{parse_policy, Context, PolicySet, Subject};

/// Temporary access key ids start with this, as Alibaba's do.
pub const STS_KEY_PREFIX: &str = "STS.";
const TOKEN_PREFIX: &str = "iamgate-sts1.";

/// What a security token says about its session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The temporary access key id the token belongs to.
    pub ak: String,
    /// The role's account id and lower-cased name.
    pub account: String,
    pub role: String,
    pub session_name: String,
    /// Unix seconds.
    pub expires: i64,
    /// The session policy JSON, when `AssumeRole` named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// The credentials handed to the caller.
pub struct Issued {
    pub access_key_id: String,
    pub secret: String,
    pub token: String,
    pub expiration: String,
}

/// The sealing key of this process (random, never written anywhere).
fn key() -> &'static [u8; 32] {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        k[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        k
    })
}

fn secret_for(access_key_id: &str) -> String {
    hmac_sha256_hex(key(), &format!("secret:{access_key_id}"))
}

/// Issue credentials for a session of `role` ending at `expires`.
pub fn issue(
    role: &Role,
    session_name: &str,
    policy: Option<&str>,
    expires: OffsetDateTime,
) -> Issued {
    let access_key_id = format!(
        "{STS_KEY_PREFIX}{}",
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase()
    );
    let claims = SessionClaims {
        ak: access_key_id.clone(),
        account: role.account_id.to_string(),
        role: role.name.to_ascii_lowercase(),
        session_name: session_name.to_string(),
        expires: expires.unix_timestamp(),
        policy: policy.map(str::to_string),
    };
    Issued {
        secret: secret_for(&access_key_id),
        token: seal(&claims),
        access_key_id,
        expiration: expiration_text(claims.expires),
    }
}

/// `2026-01-02T03:04:05Z`, as STS writes `Expiration`.
pub fn expiration_text(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn seal(claims: &SessionClaims) -> String {
    let body = serde_json::to_vec(claims).unwrap_or_default();
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body);
    let mac = hmac_sha256_hex(key(), &body);
    format!("{TOKEN_PREFIX}{body}.{mac}")
}

/// The claims of a token this process sealed; `None` for anything else.
pub fn open(token: &str) -> Option<SessionClaims> {
    let (body, mac) = token.strip_prefix(TOKEN_PREFIX)?.split_once('.')?;
    let expected = hmac_sha256_hex(key(), body);
    let same: bool = mac.len() == expected.len()
        && mac
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The signing key of a request that presents temporary credentials:
/// checks the token against the access key id and the clock, and resolves
/// the session against the current directory.
pub fn session_key(
    dir: &Directory,
    access_key_id: &str,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<AccessKey, AuthError> {
    let token = token.ok_or(AuthError::MissingSecurityToken)?;
    if !access_key_id.starts_with(STS_KEY_PREFIX) {
        return Err(AuthError::SecurityTokenMismatch);
    }
    let claims = open(token).ok_or(AuthError::SecurityTokenInvalid)?;
    if claims.ak != access_key_id {
        return Err(AuthError::SecurityTokenMismatch);
    }
    if claims.expires <= now.unix_timestamp() {
        return Err(AuthError::SecurityTokenExpired {
            expiration: expiration_text(claims.expires),
        });
    }
    // A role deleted since the token was issued ends its sessions.
    let role = dir
        .role(&claims.account, &claims.role)
        .ok_or(AuthError::SecurityTokenInvalid)?;
    let principal = session_principal(role, &claims.session_name, claims.policy.as_deref())
        .ok_or(AuthError::SecurityTokenInvalid)?;
    Ok(AccessKey {
        secret: secret_for(access_key_id).into_bytes(),
        principal: Arc::new(principal),
    })
}

/// `acs:ram::<account>:assumed-role/<role>/<session>`.
pub fn assumed_role_arn(role: &Role, session_name: &str) -> String {
    format!(
        "acs:ram::{}:assumed-role/{}/{session_name}",
        role.account_id,
        role.name.to_ascii_lowercase()
    )
}

/// The principal of a session of `role`: the role's policies (∩ the
/// session policy), the control policies above the role's account.
/// `None` when the session policy does not parse.
pub fn session_principal(
    role: &Role,
    session_name: &str,
    policy: Option<&str>,
) -> Option<Principal> {
    let session = match policy {
        Some(text) => {
            let p = parse_policy(
                std::path::Path::new("<session policy>"),
                "session-policy",
                Cloud::Aliyun,
                text,
            )
            .ok()?;
            Some(Arc::new(PolicySet::new(vec![Arc::new(p)])))
        }
        None => None,
    };
    let subject = Subject {
        session,
        ..(*role.subject).clone()
    };
    Some(Principal {
        cloud: Cloud::Aliyun,
        account_id: role.account_id.clone(),
        account_name: role.account_name.clone(),
        user: Some(User {
            // RAM shows an assumed-role user as `<role>:<session>`.
            name: format!("{}:{session_name}", role.name),
            id: format!("{}:{session_name}", role.id),
            tags: Default::default(),
        }),
        urn: assumed_role_arn(role, session_name),
        org_path: role.org_path.clone(),
        subject: Arc::new(subject),
    })
}

/// For a session principal: (role ARN, role name, session name), read back
/// from its assumed-role ARN.
pub fn session_of(principal: &Principal) -> Option<(String, &str, &str)> {
    let rest = principal.urn.strip_prefix("acs:ram::")?;
    let (account, rest) = rest.split_once(':')?;
    let (role, session) = rest.strip_prefix("assumed-role/")?.split_once('/')?;
    Some((format!("acs:ram::{account}:role/{role}"), role, session))
}

/// The keys that describe a role session (aliyun-ram.md): `acs:PrincipalARN`
/// (the role's ARN, as control policies match roles), `acs:PrincipalType`
/// (`AssumedRoleUser`), `acs:PrincipalAccount` (the role's account) and
/// `sts:RoleSessionName` [decision: RAM documents no key for the session
/// name; named after the `AssumeRole` parameter]. Nothing for other callers.
pub fn add_session_keys(c: &mut Context, principal: &Principal) {
    let Some((role_arn, _, session)) = session_of(principal) else {
        return;
    };
    c.set_normalized("sts:rolesessionname", session);
    c.set_normalized("acs:principalarn", role_arn);
    c.set_normalized("acs:principaltype", "AssumedRoleUser");
    c.set_normalized("acs:principalaccount", principal.account_id.to_string());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "sessions_tests.rs"]
mod tests;
