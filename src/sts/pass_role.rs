//! `ram:PassRole`: an AgentRun request whose body names a role
//! (`executionRoleArn`, the role field of the create/update inputs of agent
//! runtimes, browsers, code interpreters, flows and flow drafts, memory
//! collections, model proxies, templates and tools in
//! alibabacloud-agentrun20250910 5.7.5) hands that role to a service, so the
//! caller also needs `ram:PassRole` on the role with `acs:Service` set to
//! the service it is passed to. The role must exist in the caller's account
//! and its trust policy must admit that service; every refusal names the role.
//!
//! Which service [decision]: flows run under Flow Agent, whose execution role
//! the seed's roles table has trusted by `fnf.aliyuncs.com`; every other
//! AgentRun resource runs on AgentRun's Function Compute service principal
//! `agentrun.fc.aliyuncs.com`, the one code of the seed policy's PassRole
//! list that is AgentRun's own (its service-linked role trusts
//! `agentrun.aliyuncs.com`, which is never passed).

use http::StatusCode;
use serde_json::Value;

use crate::directory::trust::Caller;
use crate::directory::Directory;
use crate::identity::Authenticated;
use crate::policy::{strict_json, Context};
use crate::proxy::respond::GatewayError;
use crate::routes::RouteMatch;

/// The body field that names a role, in every AgentRun input that has one.
pub const ROLE_FIELD: &str = "executionRoleArn";
pub const PASS_ROLE: &str = "ram:PassRole";
/// `acs:Service` for a role passed to a flow, and to anything else AgentRun runs.
pub const FLOW_SERVICE: &str = "fnf.aliyuncs.com";
pub const AGENTRUN_SERVICE: &str = "agentrun.fc.aliyuncs.com";

/// The service a role named by `operation` (an SDK operation) is passed to.
pub fn service_for(operation: &str) -> &'static str {
    match operation.contains("Flow") {
        true => FLOW_SERVICE,
        false => AGENTRUN_SERVICE,
    }
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> GatewayError {
    GatewayError::Service {
        status,
        code,
        message,
    }
}

/// The role a request body names, if any (a JSON object's top-level field).
pub fn named_role(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let value: Value = strict_json::from_str(text).ok()?;
    match value.get(ROLE_FIELD)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The extra `(ram:PassRole, role ARN, context)` an AgentRun request needs
/// when its body names a role; none for other services or bodies.
pub fn needs(
    dir: &Directory,
    route: &RouteMatch<'_>,
    who: &Authenticated,
    body: &[u8],
    base: &Context,
) -> Result<Vec<(String, String, Context)>, GatewayError> {
    if route.service.name != "agentrun" {
        return Ok(Vec::new());
    }
    let Some(arn) = named_role(body) else {
        return Ok(Vec::new());
    };
    let operation = route.route.operation.as_deref().unwrap_or("");
    let service = service_for(operation);
    let account = &*who.principal.account_id;
    let role_name = arn
        .strip_prefix(&format!("acs:ram::{account}:role/"))
        .filter(|n| !n.is_empty() && !n.contains(['/', ':', '*']));
    let Some(role_name) = role_name else {
        let m = format!("{ROLE_FIELD} {arn:?} is not a RAM role of the caller's account {account} (expected acs:ram::{account}:role/<name>)");
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidParameter.RoleArn",
            m,
        ));
    };
    let Some(role) = dir.role(account, role_name) else {
        let m = format!("The role does not exist: {arn} ({ROLE_FIELD})");
        return Err(refuse(StatusCode::NOT_FOUND, "EntityNotExist.Role", m));
    };
    if !role.trust.admits(Caller::Service(service), &Context::new()) {
        let m = format!("The role {arn} cannot be passed to {service}: its trust policy does not name {service} as a Service principal");
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidParameter.RoleArn",
            m,
        ));
    }
    let mut ctx = base.clone();
    ctx.set("acs:Service", service);
    Ok(vec![(PASS_ROLE.to_string(), role.arn.clone(), ctx)])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_role_field_is_read_from_the_top_level_only() {
        let arn = "acs:ram::1:role/x";
        assert_eq!(
            named_role(format!(r#"{{"executionRoleArn":"{arn}"}}"#).as_bytes()).as_deref(),
            Some(arn)
        );
        assert_eq!(named_role(br#"{"executionRoleArn":""}"#), None);
        assert_eq!(
            named_role(br#"{"nested":{"executionRoleArn":"acs:ram::1:role/x"}}"#),
            None
        );
        assert_eq!(named_role(b"not json"), None);
        assert_eq!(named_role(b""), None);
    }

    #[test]
    fn flows_pass_to_fnf_everything_else_to_agentrun_on_fc() {
        assert_eq!(service_for("CreateFlow"), FLOW_SERVICE);
        assert_eq!(service_for("UpdateFlowDraft"), FLOW_SERVICE);
        assert_eq!(service_for("CreateAgentRuntime"), AGENTRUN_SERVICE);
        assert_eq!(service_for("UpdateTemplate"), AGENTRUN_SERVICE);
    }
}
