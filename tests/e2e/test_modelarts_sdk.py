"""The real Huawei ModelArts SDK (huaweicloudsdkmodelarts 3.1.219) through
iamgate in front of a recording mock upstream process. Every denial checks
the status, the error code and that the upstream saw nothing."""

import base64
import json

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import (
    CreateNotebookRequest,
    DeleteNotebookRequest,
    DeletePoolRequest,
    ListFlavorsRequest,
    ListNotebooksRequest,
    ListPoolsRequest,
    NotebookCreateRequest,
    ShowNotebookRequest,
    UpdateNotebookRequest,
    NotebookUpdateRequest,
)
from samples import ACME_PROJECT, ALICE, OPERATOR, READER, SOLO, SOLO_PROJECT, TAGGER, modelarts_client


def new_notebook_body(name="nb-e2e"):
    return NotebookCreateRequest(name=name, flavor="modelarts.vm.cpu.2u", image_id="img-1", description="e2e")


def refused(gw, call, status, code):
    """Call, expect a ClientRequestException, check it and that nothing reached the upstream."""
    with pytest.raises(ClientRequestException) as err:
        call()
    e = err.value
    assert (e.status_code, e.error_code) == (status, code), e.error_msg
    assert e.request_id, "the SDK reads the request id from X-Request-Id"
    assert gw.upstream_requests() == [], "a refused request must not reach the upstream"
    return e


def test_notebook_user_creates_lists_shows_and_deletes(gw):
    client = modelarts_client(gw.url, ALICE)
    created = client.create_notebook(CreateNotebookRequest(body=new_notebook_body()))
    assert created.id and created.name == "nb-e2e"
    assert created.id in [nb.id for nb in client.list_notebooks(ListNotebooksRequest()).data]
    assert client.show_notebook(ShowNotebookRequest(id=created.id)).id == created.id
    assert client.delete_notebook(DeleteNotebookRequest(id=created.id)).id == created.id
    seen = [(r["method"], r["path"]) for r in gw.upstream_requests()]
    nb = f"/v1/{ACME_PROJECT}/notebooks"
    assert seen == [("POST", nb), ("GET", nb), ("GET", f"{nb}/{created.id}"), ("DELETE", f"{nb}/{created.id}")]


def test_read_only_user_cannot_create(gw):
    client = modelarts_client(gw.url, READER)
    e = refused(gw, lambda: client.create_notebook(CreateNotebookRequest(body=new_notebook_body())), 403, "APIGW.0302")
    assert e.error_msg == (
        "User: iam::acme0001:user:reader is not authorized to perform: modelarts:notebook:create "
        "on resource: modelarts:cn-north-4:acme0001:notebook:* because no identity-based policy "
        "allows the modelarts:notebook:create action"
    )
    why = json.loads(base64.b64decode(e.encoded_auth_msg))
    assert (why["action"], why["decision"], why["reason"]) == (
        "modelarts:notebook:create", "implicit_deny", {"type": "no_identity_allow"})
    assert why["principal"] == "iam::acme0001:user:reader" and len(why["snapshot"]) == 16
    # The read-only user can still list.
    client.list_notebooks(ListNotebooksRequest())
    assert [r["method"] for r in gw.upstream_requests()] == ["GET"]


def test_wrong_secret_is_401_apigw_0301(gw):
    client = modelarts_client(gw.url, (ALICE[0], "not-the-secret"))
    e = refused(gw, lambda: client.list_notebooks(ListNotebooksRequest()), 401, "APIGW.0301")
    assert e.error_msg == "Incorrect IAM authentication information: verify aksk signature fail"


def test_unknown_access_key_is_401(gw):
    client = modelarts_client(gw.url, ("HWNOSUCHKEY000000000", "x"))
    e = refused(gw, lambda: client.list_notebooks(ListNotebooksRequest()), 401, "APIGW.0301")
    assert e.error_msg.endswith("ak not found")


def test_scp_deny_stops_an_otherwise_allowed_user(gw):
    operator = modelarts_client(gw.url, OPERATOR)
    operator.list_pools(ListPoolsRequest())  # modelarts:*:* allows this
    gw.clear_upstream()
    e = refused(gw, lambda: operator.delete_pool(DeletePoolRequest(pool_name="pool-gpu")), 403, "APIGW.0302")
    assert e.error_msg == (
        "User: iam::acme0001:user:operator is not authorized to perform: modelarts:pool:delete on resource: "
        "modelarts:cn-north-4:acme0001:pool:pool-gpu with an explicit deny in a service control policy"
    )
    why = json.loads(base64.b64decode(e.encoded_auth_msg))
    assert why["decision"] == "explicit_deny"
    assert why["reason"]["type"] == "statement"
    assert (why["reason"]["policy"], why["reason"]["index"], why["reason"]["sid"]) == ("DenyPoolDelete", 0, "ProtectResourcePools")
    assert why["reason"]["source"] == {"type": "org", "level": 1, "node": "ou-prod"}
    # The same policy in an account outside any organisation is not cut.
    solo = modelarts_client(gw.url, SOLO, project=SOLO_PROJECT)
    with pytest.raises(ClientRequestException) as err:
        solo.delete_pool(DeletePoolRequest(pool_name="pool-gpu"))
    assert err.value.status_code == 404  # forwarded: the mock has no such pool
    assert [(r["method"], r["path"]) for r in gw.upstream_requests()] == [("DELETE", f"/v2/{SOLO_PROJECT}/pools/pool-gpu")]


def test_resource_tag_condition_allows_one_notebook_and_denies_another(gw):
    client = modelarts_client(gw.url, TAGGER)
    body = NotebookUpdateRequest(description="blue only")
    e = refused(gw, lambda: client.update_notebook(UpdateNotebookRequest(id="nb-red", body=body)), 403, "APIGW.0302")
    why = json.loads(base64.b64decode(e.encoded_auth_msg))
    failed = [s for s in why["statements"] if s["outcome"] == "condition_failed"]
    assert failed == [{
        "statement": {"source": {"type": "identity"}, "policy": "NotebookTeamBlue", "index": 1, "sid": "OnlyTeamBlueNotebooks"},
        "effect": "Allow", "outcome": "condition_failed", "operator": "StringEquals",
        "key": "g:ResourceTag/team", "request_values": ["red"],
    }]
    with pytest.raises(ClientRequestException) as err:
        client.update_notebook(UpdateNotebookRequest(id="nb-blue", body=body))
    assert err.value.status_code == 404  # allowed and forwarded; the mock has no nb-blue
    assert [(r["method"], r["path"]) for r in gw.upstream_requests()] == [("PUT", f"/v1/{ACME_PROJECT}/notebooks/nb-blue")]


def test_project_of_another_account_is_403(gw):
    client = modelarts_client(gw.url, ALICE, project=SOLO_PROJECT)
    e = refused(gw, lambda: client.list_notebooks(ListNotebooksRequest()), 403, "APIGW.0302")
    assert SOLO_PROJECT in e.error_msg


def test_unmapped_sdk_operation_is_404_apigw_0101(gw):
    client = modelarts_client(gw.url, ALICE)
    e = refused(gw, lambda: client.list_flavors(ListFlavorsRequest()), 404, "APIGW.0101")
    assert "list_flavors" in e.error_msg
