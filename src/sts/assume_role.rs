//! `AssumeRole` as `alibabacloud-sts20150401` 1.2.0 sends it: RPC style,
//! `POST /`, `x-acs-action: AssumeRole`, `x-acs-version: 2015-04-01`, the
//! parameters (`RoleArn`, `RoleSessionName`, `DurationSeconds`, `Policy`,
//! `ExternalId`) in the query, ACS3-signed. Two halves around the engine:
//! [`prepare`] validates the parameters and names what the caller's own
//! policies must allow (`sts:AssumeRole` on the role's ARN); after the
//! pipeline has authorised that, [`complete`] asks the role's trust policy
//! and issues the session. Errors carry STS's codes and statuses.

use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use percent_encoding::percent_decode;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::directory::trust::Caller;
use crate::directory::{Directory, Role};
use crate::identity::Authenticated;
use crate::policy::{parse_policy, Context};
use crate::proxy::respond::{json_response, GatewayError};
use crate::proxy::Body;
use crate::sts::sessions::{assumed_role_arn, issue, session_of};

/// The one action the service serves, and its RAM action.
pub const ACTION: &str = "AssumeRole";
pub const RAM_ACTION: &str = "sts:AssumeRole";
const VERSION: &str = "2015-04-01";
/// STS's bounds: sessions last at least 15 minutes; 3600 s when not asked.
const MIN_DURATION: i64 = 900;
const DEFAULT_DURATION: i64 = 3600;
/// Longest session policy STS accepts, in characters.
const MAX_POLICY_LEN: usize = 2048;

/// A validated `AssumeRole` call, waiting for its authorisation.
pub struct AssumeRoleCall {
    pub role: Arc<Role>,
    pub session_name: String,
    pub duration: i64,
    pub policy: Option<String>,
    pub external_id: Option<String>,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> GatewayError {
    GatewayError::Service {
        status,
        code,
        message: message.into(),
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> GatewayError {
    refuse(StatusCode::BAD_REQUEST, code, message)
}

/// Form-decoded query parameters; a repeated name is refused (which value
/// would the policy have seen?).
fn query_params(raw: Option<&str>) -> Result<Vec<(String, String)>, GatewayError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            let plus: Vec<u8> = s
                .bytes()
                .map(|b| if b == b'+' { b' ' } else { b })
                .collect();
            String::from_utf8(percent_decode(&plus).collect())
        };
        let (Ok(k), Ok(v)) = (decode(k), decode(v)) else {
            return Err(invalid(
                "InvalidParameter",
                "query parameters must be UTF-8",
            ));
        };
        if out.iter().any(|(n, _)| *n == k) {
            return Err(invalid(
                "InvalidParameter",
                format!("parameter {k} is repeated"),
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Check the call and find the role; what the caller's policies must then
/// allow is [`RAM_ACTION`] on `call.role.arn`.
pub fn prepare(
    dir: &Directory,
    who: &Authenticated,
    headers: &HeaderMap,
    raw_query: Option<&str>,
) -> Result<AssumeRoleCall, GatewayError> {
    check_call(headers, who)?;
    let params = query_params(raw_query)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let role_arn = get("RoleArn")
        .ok_or_else(|| invalid("MissingRoleArn", "RoleArn is mandatory for this action."))?;
    let session_name = get("RoleSessionName").ok_or_else(|| {
        invalid(
            "MissingRoleSessionName",
            "RoleSessionName is mandatory for this action.",
        )
    })?;
    if !valid_session_name(&session_name) {
        let m = "The parameter RoleSessionName is wrongly formed: 2 to 64 characters of A-Z a-z 0-9 . @ - _";
        return Err(invalid("InvalidParameter.RoleSessionName", m));
    }
    let role = find_role(dir, &role_arn)?;
    let duration = duration(get("DurationSeconds"), &role)?;
    let policy = get("Policy");
    if let Some(p) = &policy {
        check_session_policy(p)?;
    }
    Ok(AssumeRoleCall {
        role,
        session_name,
        duration,
        policy,
        external_id: get("ExternalId"),
    })
}

/// `AssumeRole` of version 2015-04-01 (the only operation served), by a
/// RAM user or role session: the account root may not assume roles.
fn check_call(headers: &HeaderMap, who: &Authenticated) -> Result<(), GatewayError> {
    let action = header(headers, "x-acs-action");
    if action != Some(ACTION) || header(headers, "x-acs-version") != Some(VERSION) {
        let m = format!("Specified api is not found, please check your url and method (x-acs-action {action:?}, version {VERSION} only)");
        return Err(refuse(StatusCode::NOT_FOUND, "InvalidAction.NotFound", m));
    }
    if who.principal.is_root() {
        let m = "Roles may not be assumed by root accounts.";
        return Err(refuse(StatusCode::FORBIDDEN, "NoPermission", m));
    }
    Ok(())
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".@-_".contains(&b))
}

/// `acs:ram::<account>:role/<name>` → the role (names ignore case).
fn find_role(dir: &Directory, arn: &str) -> Result<Arc<Role>, GatewayError> {
    let parsed = arn
        .strip_prefix("acs:ram::")
        .and_then(|rest| rest.split_once(":role/"))
        .filter(|(account, name)| !account.is_empty() && !name.is_empty());
    let Some((account, name)) = parsed else {
        let m = format!("The parameter RoleArn is wrongly formed: {arn:?} (expected acs:ram::<account>:role/<name>)");
        return Err(invalid("InvalidParameter.RoleArn", m));
    };
    dir.role(account, name).cloned().ok_or_else(|| {
        let m = format!("The role does not exist: {arn}");
        refuse(StatusCode::NOT_FOUND, "EntityNotExist.Role", m)
    })
}

/// `DurationSeconds`: 900 … the role's maximum session duration.
fn duration(asked: Option<String>, role: &Role) -> Result<i64, GatewayError> {
    let max = i64::from(role.max_session_duration);
    let seconds = match asked {
        None => DEFAULT_DURATION.min(max),
        Some(text) => text.parse::<i64>().unwrap_or(-1),
    };
    if !(MIN_DURATION..=max).contains(&seconds) {
        let m = format!("The Min/Max value of DurationSeconds is {MIN_DURATION}/{max} seconds (the role's maximum session duration).");
        return Err(invalid("InvalidParameter.DurationSeconds", m));
    }
    Ok(seconds)
}

/// A session policy has the identity-policy grammar and at most 2048 characters.
fn check_session_policy(text: &str) -> Result<(), GatewayError> {
    if text.chars().count() > MAX_POLICY_LEN {
        let m = format!("The parameter Policy is longer than {MAX_POLICY_LEN} characters.");
        return Err(invalid("InvalidParameter.PolicyGrammar", m));
    }
    let path = std::path::Path::new("Policy");
    parse_policy(path, "session-policy", crate::cloud::Cloud::Aliyun, text).map_err(|errors| {
        let why: Vec<String> = errors.iter().map(|d| d.message.clone()).collect();
        let m = format!(
            "The parameter Policy has not passed grammar check: {}",
            why.join("; ")
        );
        invalid("InvalidParameter.PolicyGrammar", m)
    })?;
    Ok(())
}

/// The caller as the trust policy sees it.
fn caller(who: &Authenticated) -> Caller<'_> {
    let p = &who.principal;
    match session_of(p) {
        Some((_, role, _)) => Caller::Role {
            account: &p.account_id,
            name: role,
        },
        None => Caller::User {
            account: &p.account_id,
            name: p.display_name(),
        },
    }
}

/// Once the caller's policies allowed `sts:AssumeRole`: the trust policy
/// must admit the caller (`base` carries the request's condition keys, to
/// which `sts:ExternalId` is added), then the session is issued.
pub fn complete(
    call: &AssumeRoleCall,
    who: &Authenticated,
    mut base: Context,
    now: OffsetDateTime,
    request_id: &str,
) -> Result<http::Response<Body>, GatewayError> {
    if let Some(id) = &call.external_id {
        base.set("sts:ExternalId", id.clone());
    }
    if !call.role.trust.admits(caller(who), &base) {
        let m = format!(
            "You are not authorized to do this action. The trust policy of {} does not allow {} to assume it.",
            call.role.arn, who.principal.urn
        );
        return Err(refuse(StatusCode::FORBIDDEN, "NoPermission", m));
    }
    let expires = now + Duration::seconds(call.duration);
    let issued = issue(
        &call.role,
        &call.session_name,
        call.policy.as_deref(),
        expires,
    );
    let body = json!({
        "RequestId": request_id,
        "AssumedRoleUser": {
            "Arn": assumed_role_arn(&call.role, &call.session_name),
            "AssumedRoleId": format!("{}:{}", call.role.id, call.session_name),
        },
        "Credentials": {
            "AccessKeyId": issued.access_key_id,
            "AccessKeySecret": issued.secret,
            "SecurityToken": issued.token,
            "Expiration": issued.expiration,
        },
    });
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "assume_role_tests.rs"]
mod tests;
