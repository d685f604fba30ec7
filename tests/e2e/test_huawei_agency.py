"""Huawei agencies end to end with the real SDKs: huaweicloudsdkiam 3.1.219
asks the gateway's built-in IAM for temporary keys by agency, then the
ModelArts SDK signs with them and the security token. Every refusal checks
the status, the error code and that the upstream saw nothing."""

import json
import shutil
import time

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials, GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkiam.v3 import (
    AgencyAuth,
    AgencyAuthIdentity,
    AssumeroleSessionuser,
    CreateTemporaryAccessKeyByAgencyRequest,
    CreateTemporaryAccessKeyByAgencyRequestBody,
    IamClient,
    IdentityAssumerole,
)
from huaweicloudsdkmodelarts.v1 import CreateNotebookRequest, ListNotebooksRequest, ModelArtsClient, NotebookCreateRequest

from conftest import REPO, send_raw, start_stack, stop_stack
from samples import ACME_PROJECT, SOLO

DEPLOYER = ("HWDEPLOYEREXAMPLE007", "deployer-example-secret-not-real")
SHORT_AGENCY = """
# Added by test_huawei_agency.py: sessions of two seconds, to see one expire.
[[account.agency]]
name = "solo_short"
delegated_account = "solo0002"
policies = ["NotebookReadOnly"]
duration = 2
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, iamgate_bin):
    work = tmp_path_factory.mktemp("agency")
    shutil.copytree(REPO / "policies", work / "policies")
    accounts = work / "policies" / "accounts.toml"
    text = accounts.read_text()
    marker = "\n[[account]]\nid = \"solo0002\""
    accounts.write_text(text.replace(marker, SHORT_AGENCY + marker, 1))
    s = start_stack(work, iamgate_bin, extra="debug_headers = true")
    yield s
    stop_stack(s)


def iam_client(url, creds, domain_id):
    ak, sk = creds
    return IamClient.new_builder().with_credentials(GlobalCredentials(ak, sk, domain_id)).with_endpoints([url]).build()


def assume(url, creds, agency, session="ci-run", duration=None):
    body = CreateTemporaryAccessKeyByAgencyRequestBody(
        auth=AgencyAuth(
            identity=AgencyAuthIdentity(
                methods=["assume_role"],
                assume_role=IdentityAssumerole(
                    agency_name=agency,
                    domain_name="acme",
                    duration_seconds=duration,
                    session_user=AssumeroleSessionuser(name=session),
                ),
            )
        )
    )
    client = iam_client(url, creds, "solo0002")
    return client.create_temporary_access_key_by_agency(CreateTemporaryAccessKeyByAgencyRequest(body=body)).credential


def modelarts_with(url, credential):
    creds = BasicCredentials(credential.access, credential.secret, ACME_PROJECT).with_security_token(credential.securitytoken)
    return ModelArtsClient.new_builder().with_credentials(creds).with_endpoints([url]).build()


def signed_headers(gw, cred, path=f"/v1/{ACME_PROJECT}/notebooks", sign_token=True):
    """A GET signed by the SDK's own signer with the temporary keys; the
    security token signed (as the SDK does) or added after signing."""
    from datetime import datetime, timezone

    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    headers = {
        "X-Sdk-Date": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "X-Project-Id": ACME_PROJECT,
        "Host": f"{gw.host}:{gw.port}",
    }
    if sign_token:
        headers["X-Security-Token"] = cred.securitytoken
    req = SdkRequest(method="GET", schema="http", host=f"{gw.host}:{gw.port}", resource_path=path,
                     query_params=[], header_params=headers, body="")
    signed = Signer(BasicCredentials(cred.access, cred.secret, ACME_PROJECT)).sign(req)
    out = {k: v for k, v in signed.header_params.items() if k != "Host"}
    out["X-Security-Token"] = cred.securitytoken
    return out


def send(gw, method, path, headers, body=""):
    status, resp_headers, raw = send_raw(gw, method, path, headers, body)
    return status, {k.lower(): v for k, v in resp_headers}, raw


def refused(gw, call, status, code):
    with pytest.raises(ClientRequestException) as err:
        call()
    e = err.value
    assert (e.status_code, e.error_code) == (status, code), e.error_msg
    assert gw.upstream_requests() == [], "a refused request must not reach the upstream"
    return e


def test_agency_session_reads_notebooks_and_is_named_in_headers(gw):
    cred = assume(gw.url, DEPLOYER, "solo_notebook_reader")
    assert len(cred.access) == 20 and cred.secret and cred.securitytoken
    assert cred.expires_at.endswith("Z")
    assert gw.upstream_requests() == [], "the built-in IAM answers itself"
    status, headers, raw = send(gw, "GET", f"/v1/{ACME_PROJECT}/notebooks", signed_headers(gw, cred))
    assert status == 200, raw
    assert headers["x-iamgate-principal"] == "sts::acme0001:assumed-agency:solo_notebook_reader/ci-run"
    assert headers["x-iamgate-decision"] == "allow"
    gw.clear_upstream()
    client = modelarts_with(gw.url, cred)
    client.list_notebooks(ListNotebooksRequest())
    seen = gw.upstream_requests()
    assert [(r["method"], r["path"]) for r in seen] == [("GET", f"/v1/{ACME_PROJECT}/notebooks")]


def test_agency_session_cannot_create_and_the_denial_names_the_session(gw):
    cred = assume(gw.url, DEPLOYER, "solo_notebook_reader", session="ci-deny")
    client = modelarts_with(gw.url, cred)
    body = NotebookCreateRequest(name="nb", flavor="modelarts.vm.cpu.2u", image_id="img-1")
    e = refused(gw, lambda: client.create_notebook(CreateNotebookRequest(body=body)), 403, "APIGW.0302")
    assert e.error_msg.startswith(
        "User: sts::acme0001:assumed-agency:solo_notebook_reader/ci-deny is not authorized to perform: "
        "modelarts:notebook:create"
    ), e.error_msg


def test_expired_agency_session_is_refused(gw):
    cred = assume(gw.url, DEPLOYER, "solo_short", session="ci-short")
    time.sleep(2.5)
    client = modelarts_with(gw.url, cred)
    e = refused(gw, lambda: client.list_notebooks(ListNotebooksRequest()), 401, "APIGW.0301")
    assert e.error_msg.startswith("Incorrect IAM authentication information: token expires, expires_at: ")


def test_a_wrong_security_token_is_refused(gw):
    cred = assume(gw.url, DEPLOYER, "solo_notebook_reader")
    cred.securitytoken = cred.securitytoken[:-1] + ("A" if cred.securitytoken[-1] != "A" else "B")
    e = refused(gw, lambda: modelarts_with(gw.url, cred).list_notebooks(ListNotebooksRequest()), 401, "APIGW.0301")
    assert e.error_msg.endswith("decrypt token fail")


def test_an_unsigned_security_token_is_refused(gw):
    cred = assume(gw.url, DEPLOYER, "solo_notebook_reader")
    status, _, raw = send(gw, "GET", f"/v1/{ACME_PROJECT}/notebooks", signed_headers(gw, cred, sign_token=False))
    assert (status, json.loads(raw)["error_code"]) == (401, "APIGW.0301"), raw
    assert gw.upstream_requests() == []


def test_caller_without_sts_permission_cannot_assume(gw):
    e = refused(gw, lambda: assume(gw.url, SOLO, "solo_notebook_reader"), 403, "APIGW.0302")
    assert e.error_msg == (
        "User: iam::solo0002:user:solo is not authorized to perform: sts:agencies:assume on resource: "
        "iam::acme0001:agency:solo_notebook_reader because no identity-based policy allows the "
        "sts:agencies:assume action"
    )


def test_service_agency_and_unknown_agency_are_refused_by_iam(gw):
    for agency in ("modelarts_agency", "no_such_agency"):
        e = refused(gw, lambda: assume(gw.url, DEPLOYER, agency), 403, "IAM.0101")
        assert agency in e.error_msg


def test_duration_beyond_the_agency_maximum_is_invalid(gw):
    e = refused(gw, lambda: assume(gw.url, DEPLOYER, "solo_notebook_reader", duration=7200), 400, "IAM.0007")
    assert "duration_seconds" in e.error_msg


# --- Password tokens: POST /v3/auth/tokens → X-Subject-Token → X-Auth-Token ---

def password_token(gw, user, password):
    body = json.dumps({
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": user, "password": password, "domain": {"name": "acme"}}}},
            "scope": {"project": {"name": "cn-north-4"}},
        }
    })
    status, headers, raw = send_raw(gw, "POST", "/v3/auth/tokens", {"Content-Type": "application/json"}, body)
    return status, {k.lower(): v for k, v in headers}, json.loads(raw)


def test_password_token_works_as_x_auth_token_until_it_is_refused(gw):
    status, headers, body = password_token(gw, "reader", "reader-example-password-not-real")
    assert status == 201, body
    token = headers["x-subject-token"]
    assert body["token"]["user"]["name"] == "reader" and body["token"]["expires_at"].endswith("Z")
    nb = f"/v1/{ACME_PROJECT}/notebooks"
    status, resp_headers, raw = send_raw(gw, "GET", nb, {"X-Auth-Token": token})
    assert status == 200, raw
    assert dict((k.lower(), v) for k, v in resp_headers)["x-iamgate-principal"] == "iam::acme0001:user:reader"
    assert [(r["method"], r["path"]) for r in gw.upstream_requests()] == [("GET", nb)]
    gw.clear_upstream()
    create = json.dumps({"name": "nb", "flavor": "modelarts.vm.cpu.2u", "image_id": "img-1"})
    status, _, raw = send_raw(gw, "POST", nb, {"X-Auth-Token": token, "Content-Type": "application/json"}, create)
    assert (status, json.loads(raw)["error_code"]) == (403, "APIGW.0302"), raw
    assert gw.upstream_requests() == []


def test_wrong_password_gets_no_token(gw):
    status, headers, body = password_token(gw, "reader", "wrong")
    assert (status, body["error_code"]) == (401, "IAM.0102"), body
    assert "x-subject-token" not in headers
    assert gw.upstream_requests() == []


# --- The caller's own temporary keys (token method) and agency tokens --------

def test_own_temporary_keys_by_token_keep_the_callers_rights(gw):
    from huaweicloudsdkiam.v3 import (
        CreateTemporaryAccessKeyByTokenRequest,
        CreateTemporaryAccessKeyByTokenRequestBody,
        IdentityToken,
        TokenAuth,
        TokenAuthIdentity,
    )

    status, headers, _ = password_token(gw, "reader", "reader-example-password-not-real")
    assert status == 201
    own = headers["x-subject-token"]
    identity = TokenAuthIdentity(methods=["token"], token=IdentityToken(id=own, duration_seconds=900))
    request = CreateTemporaryAccessKeyByTokenRequest(body=CreateTemporaryAccessKeyByTokenRequestBody(auth=TokenAuth(identity=identity)))
    reader_keys = ("HWREADEREXAMPLEAK002", "reader-example-secret-not-real")
    cred = iam_client(gw.url, reader_keys, "acme0001").create_temporary_access_key_by_token(request).credential
    status, headers, raw = send(gw, "GET", f"/v1/{ACME_PROJECT}/notebooks", signed_headers(gw, cred))
    assert status == 200, raw
    assert headers["x-iamgate-principal"] == "iam::acme0001:user:reader"
    gw.clear_upstream()
    # Someone else's token in the body gets no keys.
    alice = ("HWALICEEXAMPLEAK0001", "alice-example-secret-not-real")
    e = refused(gw, lambda: iam_client(gw.url, alice, "acme0001").create_temporary_access_key_by_token(request), 400, "IAM.0007")
    assert "token.id" in e.error_msg


def test_agency_token_from_a_password_token(gw):
    body = json.dumps({
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": {"name": "deployer", "password": "deployer-example-password-not-real", "domain": {"name": "solo-corp"}}}},
        }
    })
    status, headers, raw = send(gw, "POST", "/v3/auth/tokens", {"Content-Type": "application/json"}, body)
    assert status == 201, raw
    own = headers["x-subject-token"]
    assume_body = json.dumps({
        "auth": {
            "identity": {"methods": ["assume_role"], "assume_role": {"domain_name": "acme", "agency_name": "solo_notebook_reader"}},
            "scope": {"project": {"name": "cn-north-4"}},
        }
    })
    status, headers, raw = send(gw, "POST", "/v3/auth/tokens", {"X-Auth-Token": own, "Content-Type": "application/json"}, assume_body)
    assert status == 201, raw
    token = json.loads(raw)["token"]
    assert token["methods"] == ["assume_role"] and token["assumed_by"]["user"]["name"] == "deployer"
    agency_token = headers["x-subject-token"]
    nb = f"/v1/{ACME_PROJECT}/notebooks"
    status, headers, raw = send(gw, "GET", nb, {"X-Auth-Token": agency_token})
    assert status == 200, raw
    assert headers["x-iamgate-principal"] == "sts::acme0001:assumed-agency:solo_notebook_reader/deployer"
    gw.clear_upstream()
    status, _, raw = send(gw, "DELETE", f"{nb}/nb-1", {"X-Auth-Token": agency_token})
    assert (status, json.loads(raw)["error_code"]) == (403, "APIGW.0302"), raw
    assert gw.upstream_requests() == []
    # Without a caller there is no agency token.
    status, _, raw = send(gw, "POST", "/v3/auth/tokens", {"Content-Type": "application/json"}, assume_body)
    assert (status, json.loads(raw)["error_code"]) == (401, "APIGW.0301"), raw


# --- Sessions outlive snapshots; their rights come from the live one -----------

def test_a_reload_changes_live_sessions_and_a_removed_agency_ends_them(tmp_path, iamgate_bin):
    from conftest import http_json

    s = start_stack(tmp_path / "reload", iamgate_bin)
    try:
        cred = assume(s.url, DEPLOYER, "solo_notebook_reader", session="ci-reload")
        nb = f"/v1/{ACME_PROJECT}/notebooks"
        assert send(s, "GET", nb, signed_headers(s, cred))[0] == 200
        accounts = s.workdir / "policies" / "accounts.toml"
        text = accounts.read_text()
        grant = 'name = "solo_notebook_reader"\ndelegated_account = "solo0002"\npolicies = ["NotebookReadOnly"]'
        assert grant in text
        # The agency loses its policy: the same session is now denied.
        accounts.write_text(text.replace(grant, grant.replace('["NotebookReadOnly"]', "[]")))
        status, body = http_json("POST", f"{s.admin_url}/-/reload")
        assert status == 200 and body["ok"] is True, body
        status, _, raw = send(s, "GET", nb, signed_headers(s, cred))
        assert (status, json.loads(raw)["error_code"]) == (403, "APIGW.0302"), raw
        # The agency is gone: its sessions end.
        accounts.write_text(text.replace(grant, grant.replace("solo_notebook_reader", "renamed_agency")))
        status, body = http_json("POST", f"{s.admin_url}/-/reload")
        assert status == 200 and body["ok"] is True, body
        status, _, raw = send(s, "GET", nb, signed_headers(s, cred))
        assert (status, json.loads(raw)["error_code"]) == (401, "APIGW.0301"), raw
        assert json.loads(raw)["error_msg"].endswith("ak not found")
    finally:
        stop_stack(s)
