"""The real Alibaba AgentRun SDK (alibabacloud-agentrun20250910 5.7.5 on
alibabacloud-tea-openapi 0.4.6) through iamgate in front of a recording mock
upstream process.

The SDK turns a 4xx JSON body into ``ClientException`` with ``status_code``,
``code`` (body ``Code``), ``message`` (``"code: <status>, <Message> request id:
<RequestId>"``), ``request_id`` (body ``RequestId``; the SDK never reads the
``X-Request-Id`` header), ``access_denied_detail`` (body ``AccessDeniedDetail``)
and ``data`` (the whole body plus ``statusCode``). Every denial checks the
status, the code and that the upstream saw nothing.
"""

import base64
import json
import re
import uuid

import pytest
from alibabacloud_agentrun20250910 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from samples import (
    AGENTRUN_REGION,
    ALICE,
    DEV_ACCOUNT,
    GUARDED,
    PROD_ACCOUNT,
    PROD_ROOT,
    RUNNER,
    VIEWER,
    agentrun_client,
)

API = "/2025-09-10"


def client(gw, creds):
    return agentrun_client(gw.host, gw.port, creds)


def refused(gw, call, status, code):
    """Call, expect a ClientException, check it and that nothing reached the upstream."""
    with pytest.raises(ClientException) as err:
        call()
    e = err.value
    assert (e.status_code, e.code) == (status, code), e.message
    assert re.fullmatch(r"[0-9a-f]{32}", e.request_id), e.request_id
    assert e.data["RequestId"] == e.request_id and e.data["Code"] == code
    assert e.message.startswith(f"code: {status}, ") and e.message.endswith(f"request id: {e.request_id}")
    assert gw.upstream_requests() == [], "a refused request must not reach the upstream"
    return e


def denied(gw, call, action, no_permission_type, policy_type, principal_type="SubUser"):
    """A 403 NoPermission whose AccessDeniedDetail names the action and the deciding policy type."""
    e = refused(gw, call, 403, "NoPermission")
    detail = e.access_denied_detail
    assert detail == e.data["AccessDeniedDetail"]
    assert detail["AuthAction"] == action
    assert detail["NoPermissionType"] == no_permission_type
    assert detail["PolicyType"] == policy_type
    assert detail["AuthPrincipalType"] == principal_type
    assert f"Action: {action}" in e.data["Message"]
    why = json.loads(base64.b64decode(detail["EncodedDiagnosticMessage"]))
    assert why["action"] == action
    assert why["resource"].startswith(f"acs:agentrun:{AGENTRUN_REGION}:{detail['AuthPrincipalOwnerId']}:")
    assert len(why["snapshot"]) == 16
    return detail, why


def new_template(c, name=None):
    name = name or f"tpl-{uuid.uuid4().hex[:8]}"
    body = models.CreateTemplateInput(template_name=name, template_type="Browser", cpu=2.0, memory=4096)
    return c.create_template(models.CreateTemplateRequest(body=body)).body.data


def new_runtime(c):
    body = models.CreateAgentRuntimeInput(agent_runtime_name=f"rt-{uuid.uuid4().hex[:6]}", cpu=1.0, memory=2048)
    return c.create_agent_runtime(models.CreateAgentRuntimeRequest(body=body)).body.data


def seen(gw):
    return [(r["method"], r["path"]) for r in gw.upstream_requests()]


# --- runner: the seed full-access policy, exactly the split of aliyun-ram.md ---


def test_runner_exact_grant_list_star_and_get_star_are_forwarded(gw):
    c = client(gw, RUNNER)
    created = new_template(c)  # agentrun:CreateTemplate: an exact action of the policy
    name = created.template_name
    assert created.template_id
    listed = c.list_templates(models.ListTemplatesRequest()).body.data  # agentrun:List*
    assert name in [t.template_name for t in listed.items]
    got = c.get_template(name).body.data  # agentrun:Get*
    assert (got.template_id, got.cpu, got.memory) == (created.template_id, 2.0, 4096)
    assert seen(gw) == [
        ("POST", f"{API}/templates"),
        ("GET", f"{API}/templates"),
        ("GET", f"{API}/templates/{name}"),
    ]
    # The SDK's own ACS3 headers reach the upstream (the mock's log redacts
    # the credential itself, so the signed ACS3 headers prove the dialect).
    forwarded = gw.upstream_requests()[0]["headers"]
    assert forwarded["authorization"] == "<redacted>"
    assert forwarded["x-acs-signature-nonce"] and forwarded["x-acs-date"]


def test_runner_deletes_its_runtime_outside_fd_prod(gw):
    """DeleteAgentRuntime is an exact grant; fd-dev has no control policy cutting it."""
    c = client(gw, RUNNER)
    rt = new_runtime(c).agent_runtime_id
    assert c.delete_agent_runtime(rt).body.data.agent_runtime_id == rt
    assert seen(gw) == [("POST", f"{API}/agents/runtimes"), ("DELETE", f"{API}/agents/runtimes/{rt}")]


@pytest.mark.parametrize(
    "action, call",
    [
        ("agentrun:DeleteSandbox", lambda c: c.delete_sandbox("sb-e2e")),
        ("agentrun:PauseSandbox", lambda c: c.pause_sandbox("sb-e2e")),
        (
            "agentrun:CreateWorkspace",
            lambda c: c.create_workspace(
                models.CreateWorkspaceRequest(body=models.CreateWorkspaceInput(name="ws-e2e"))
            ),
        ),
    ],
)
def test_runner_not_granted_is_implicit_deny(gw, action, call):
    c = client(gw, RUNNER)
    detail, why = denied(gw, lambda: call(c), action, "ImplicitDeny", "AccountLevelIdentityBasedPolicy")
    assert detail["AuthPrincipalOwnerId"] == DEV_ACCOUNT
    assert detail["AuthPrincipalDisplayName"] == "runner"
    assert why["decision"] == "implicit_deny"
    assert why["reason"] == {"type": "no_identity_allow"}
    assert why["principal"].endswith("runner")


def test_runner_delete_sandbox_detail_in_full(gw):
    c = client(gw, RUNNER)
    detail, why = denied(
        gw, lambda: c.delete_sandbox("sb-1"), "agentrun:DeleteSandbox", "ImplicitDeny", "AccountLevelIdentityBasedPolicy"
    )
    assert why["resource"] == f"acs:agentrun:{AGENTRUN_REGION}:{DEV_ACCOUNT}:sandboxes/sb-1"
    assert set(detail) >= {
        "AuthAction",
        "AuthPrincipalType",
        "AuthPrincipalOwnerId",
        "AuthPrincipalDisplayName",
        "PolicyType",
        "NoPermissionType",
        "EncodedDiagnosticMessage",
    }


# --- guarded: the same policy, cut by the control policy on fd-prod ---


def test_control_policy_deny_is_explicit_deny_of_type_control_policy(gw):
    c = client(gw, GUARDED)
    rt = new_runtime(c).agent_runtime_id  # CreateAgentRuntime still allowed in fd-prod
    gw.clear_upstream()
    detail, why = denied(
        gw, lambda: c.delete_agent_runtime(rt), "agentrun:DeleteAgentRuntime", "ExplicitDeny", "ControlPolicy"
    )
    assert detail["AuthPrincipalOwnerId"] == PROD_ACCOUNT
    assert detail["AuthPrincipalDisplayName"] == "guarded"
    assert why["decision"] == "explicit_deny"
    assert why["resource"] == f"acs:agentrun:{AGENTRUN_REGION}:{PROD_ACCOUNT}:runtimes/{rt}"
    assert "DenyAgentRuntimeDelete" in json.dumps(why)
    # The rest of the full-access policy still works for guarded.
    c.list_agent_runtimes(models.ListAgentRuntimesRequest())
    assert seen(gw) == [("GET", f"{API}/agents/runtimes")]


def test_account_root_is_not_subject_to_control_policies(gw):
    c = client(gw, PROD_ROOT)
    rt = new_runtime(c).agent_runtime_id
    assert c.delete_agent_runtime(rt).body.data.agent_runtime_id == rt
    assert seen(gw) == [("POST", f"{API}/agents/runtimes"), ("DELETE", f"{API}/agents/runtimes/{rt}")]


# --- viewer: Get*/List* on acs:agentrun:*:*:templates/* (through its group) ---


def test_viewer_reads_templates_only(gw):
    name = new_template(client(gw, RUNNER)).template_name
    gw.clear_upstream()
    v = client(gw, VIEWER)
    assert name in [t.template_name for t in v.list_templates(models.ListTemplatesRequest()).body.data.items]
    assert v.get_template(name).body.data.template_name == name
    assert seen(gw) == [("GET", f"{API}/templates"), ("GET", f"{API}/templates/{name}")]
    gw.clear_upstream()
    # A write on templates: the action is not granted.
    denied(gw, lambda: new_template(v), "agentrun:CreateTemplate", "ImplicitDeny", "AccountLevelIdentityBasedPolicy")
    # List* matches the action, but runtimes/* is outside the Resource glob.
    _, why = denied(
        gw,
        lambda: v.list_agent_runtimes(models.ListAgentRuntimesRequest()),
        "agentrun:ListAgentRuntimes",
        "ImplicitDeny",
        "AccountLevelIdentityBasedPolicy",
    )
    assert why["resource"] == f"acs:agentrun:{AGENTRUN_REGION}:{DEV_ACCOUNT}:runtimes/*"


# --- authentication ---


def test_wrong_secret_is_400_signature_does_not_match(gw):
    c = client(gw, (RUNNER[0], "not-the-secret"))
    refused(gw, lambda: c.list_templates(models.ListTemplatesRequest()), 400, "SignatureDoesNotMatch")


def test_unknown_access_key_is_404(gw):
    c = client(gw, ("LTAINOSUCHKEYEXAMPLE9", "whatever"))
    e = refused(gw, lambda: c.list_templates(models.ListTemplatesRequest()), 404, "InvalidAccessKeyId.NotFound")
    assert e.access_denied_detail is None


def test_huawei_key_on_agentrun_is_an_unknown_key(gw):
    c = client(gw, ALICE)
    refused(gw, lambda: c.list_templates(models.ListTemplatesRequest()), 404, "InvalidAccessKeyId.NotFound")
