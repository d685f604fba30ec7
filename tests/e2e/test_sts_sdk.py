"""STS through iamgate with the real SDKs: alibabacloud-sts20150401 1.2.0
AssumeRole against the gateway's built-in STS, then the AgentRun SDK
(alibabacloud-agentrun20250910 5.7.5) signing with the temporary credentials
(`x-acs-security-token`). Every refusal checks the status, the code and that
the upstream saw nothing. (An expired session: test_sts_expiry.py, with the
gateway's clock moved by libfaketime; in memory in tests/sts_sessions.rs.)
"""

import base64
import json
import re
import uuid

import pytest
from alibabacloud_agentrun20250910 import models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException
from samples import ASSUMER, DEV_ACCOUNT, PROD_ACCOUNT, RUNNER, VIEWER, agentrun_client, session_agentrun_client, sts_client

ROLE = f"acs:ram::{DEV_ACCOUNT}:role/AgentRunReader"
DEPLOYER = f"acs:ram::{DEV_ACCOUNT}:role/AgentRunDeployer"
EXECUTION = f"acs:ram::{DEV_ACCOUNT}:role/AgentRunExecutionRole"
FNF_ROLE = f"acs:ram::{DEV_ACCOUNT}:role/AliyunFnFExecutionRole"


def refused(gw, call, status, code):
    with pytest.raises(ClientException) as err:
        call()
    e = err.value
    assert (e.status_code, e.code) == (status, code), e.message
    assert e.data["RequestId"] == e.request_id
    assert gw.upstream_requests() == [], "a refused request must not reach the upstream"
    return e


def assume(gw, creds=ASSUMER, role=ROLE, **kw):
    req = sts_models.AssumeRoleRequest(role_arn=role, role_session_name=kw.pop("session", "ci-run"), **kw)
    return sts_client(gw.host, gw.port, creds).assume_role(req)


def runtime_body(role=None):
    return models.CreateAgentRuntimeInput(
        agent_runtime_name=f"rt-{uuid.uuid4().hex[:6]}", cpu=1.0, memory=2048, execution_role_arn=role
    )


def test_assume_role_answers_the_sts_shape_and_forwards_nothing(gw):
    resp = assume(gw, duration_seconds=900)
    assert resp.status_code == 200
    body = resp.body
    assert body.assumed_role_user.arn == f"acs:ram::{DEV_ACCOUNT}:assumed-role/agentrunreader/ci-run"
    assert body.assumed_role_user.assumed_role_id.endswith(":ci-run")
    creds = body.credentials
    assert creds.access_key_id.startswith("STS.")
    assert creds.access_key_secret and creds.security_token
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", creds.expiration)
    assert re.fullmatch(r"[0-9a-f]{32}", body.request_id)
    assert gw.upstream_requests() == []


def test_session_read_is_allowed_and_write_denied_naming_the_assumed_role(gw):
    c = session_agentrun_client(gw.host, gw.port, assume(gw).body.credentials)
    listed = c.list_templates(models.ListTemplatesRequest())
    assert listed.status_code == 200
    assert [(r["method"], r["path"]) for r in gw.upstream_requests()] == [("GET", "/2025-09-10/templates")]
    gw.clear_upstream()
    body = models.CreateTemplateInput(template_name="t-1", template_type="Browser", cpu=2.0, memory=4096)
    e = refused(gw, lambda: c.create_template(models.CreateTemplateRequest(body=body)), 403, "NoPermission")
    detail = e.access_denied_detail
    assert detail["AuthAction"] == "agentrun:CreateTemplate"
    assert detail["AuthPrincipalType"] == "AssumedRoleUser"
    assert detail["AuthPrincipalDisplayName"] == "AgentRunReader:ci-run"
    why = json.loads(base64.b64decode(detail["EncodedDiagnosticMessage"]))
    assert why["principal"] == f"acs:ram::{DEV_ACCOUNT}:assumed-role/agentrunreader/ci-run"


def test_a_session_policy_narrows_the_session(gw):
    policy = json.dumps({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "agentrun:ListAgentRuntimes", "Resource": "*"}]})
    c = session_agentrun_client(gw.host, gw.port, assume(gw, policy=policy).body.credentials)
    assert c.list_agent_runtimes(models.ListAgentRuntimesRequest()).status_code == 200
    gw.clear_upstream()
    refused(gw, lambda: c.list_templates(models.ListTemplatesRequest()), 403, "NoPermission")


def test_assume_role_needs_the_callers_permission(gw):
    e = refused(gw, lambda: assume(gw, creds=VIEWER), 403, "NoPermission")
    assert e.access_denied_detail["AuthAction"] == "sts:AssumeRole"


def test_assume_role_needs_the_trust_policy_and_its_external_id(gw):
    e = refused(gw, lambda: assume(gw, role=DEPLOYER), 403, "NoPermission")
    assert "agentrundeployer" in e.data["Message"]
    resp = assume(gw, role=DEPLOYER, external_id="deploy-pipeline", duration_seconds=7200)
    assert resp.body.assumed_role_user.arn.endswith("assumed-role/agentrundeployer/ci-run")


def test_assume_role_parameter_errors(gw):
    refused(gw, lambda: assume(gw, duration_seconds=899), 400, "InvalidParameter.DurationSeconds")
    refused(gw, lambda: assume(gw, duration_seconds=3601), 400, "InvalidParameter.DurationSeconds")
    refused(gw, lambda: assume(gw, session="x"), 400, "InvalidParameter.RoleSessionName")
    refused(gw, lambda: assume(gw, policy="{"), 400, "InvalidParameter.PolicyGrammar")
    refused(gw, lambda: assume(gw, role=f"acs:ram::{DEV_ACCOUNT}:role/agentrunnope"), 404, "EntityNotExist.Role")


def test_a_forged_or_mismatched_token_is_refused(gw):
    creds = assume(gw).body.credentials
    other = assume(gw, session="other").body.credentials
    creds.security_token = other.security_token
    c = session_agentrun_client(gw.host, gw.port, creds)
    refused(gw, lambda: c.list_templates(models.ListTemplatesRequest()), 400, "InvalidSecurityToken.MismatchWithAccessKey")
    creds.security_token = "CAIS" + "x" * 40
    c = session_agentrun_client(gw.host, gw.port, creds)
    refused(gw, lambda: c.list_templates(models.ListTemplatesRequest()), 400, "InvalidSecurityToken.Malformed")


def test_pass_role_allowed_for_a_role_trusting_agentrun(gw):
    c = agentrun_client(gw.host, gw.port, RUNNER)
    resp = c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=runtime_body(EXECUTION)))
    assert resp.status_code == 200
    [seen] = gw.upstream_requests()
    assert (seen["method"], seen["path"]) == ("POST", "/2025-09-10/agents/runtimes")


def test_pass_role_denied_without_ram_pass_role(gw):
    creds = assume(gw, role=DEPLOYER, external_id="deploy-pipeline").body.credentials
    c = session_agentrun_client(gw.host, gw.port, creds)
    call = lambda: c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=runtime_body(EXECUTION)))
    e = refused(gw, call, 403, "NoPermission")
    assert e.access_denied_detail["AuthAction"] == "ram:PassRole"
    assert "role/agentrunexecutionrole" in e.data["Message"]
    # The same session creates the runtime when it names no role.
    assert c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=runtime_body())).status_code == 200


def test_pass_role_refused_for_a_role_that_does_not_trust_the_service(gw):
    c = agentrun_client(gw.host, gw.port, RUNNER)
    call = lambda: c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=runtime_body(FNF_ROLE)))
    e = refused(gw, call, 400, "InvalidParameter.RoleArn")
    assert FNF_ROLE in e.data["Message"] and "agentrun.fc.aliyuncs.com" in e.data["Message"]
    missing = f"acs:ram::{DEV_ACCOUNT}:role/NoSuchRole"
    call = lambda: c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=runtime_body(missing)))
    e = refused(gw, call, 404, "EntityNotExist.Role")
    assert missing in e.data["Message"]


def test_control_policies_above_the_roles_account_bound_its_sessions(gw):
    prod_role = f"acs:ram::{PROD_ACCOUNT}:role/AgentRunProdOperator"
    resp = assume(gw, role=prod_role, session="cross")
    assert resp.body.assumed_role_user.arn == f"acs:ram::{PROD_ACCOUNT}:assumed-role/agentrunprodoperator/cross"
    c = session_agentrun_client(gw.host, gw.port, resp.body.credentials)
    rt = c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=runtime_body())).body.data.agent_runtime_id
    gw.clear_upstream()
    e = refused(gw, lambda: c.delete_agent_runtime(rt), 403, "NoPermission")
    detail = e.access_denied_detail
    assert (detail["PolicyType"], detail["NoPermissionType"]) == ("ControlPolicy", "ExplicitDeny")
    assert detail["AuthPrincipalOwnerId"] == PROD_ACCOUNT
    assert detail["AuthPrincipalType"] == "AssumedRoleUser"
