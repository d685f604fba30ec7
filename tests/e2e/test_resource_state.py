"""What the policy sees must be true (issue 14): the resource state through a
real gateway and a separate, recording mock upstream.

- Tags of a resource created *through the gateway* feed `g:ResourceTag/*`:
  a notebook alice creates with `team=red` is refused to `tagger` (who may
  only touch `team=blue` notebooks), one created with `team=blue` is not.
- AgentRun paths carry no account: a runtime account A created is answered
  404 to account B — on GET and DELETE — and B's requests never reach the
  upstream; the upstream is told the caller's account (`X-Iamgate-Account`)
  and keeps each account's items apart.
"""

import json

from conftest import admin_get, signed_call
from samples import ALICE, GUARDED, RUNNER, TAGGER
from test_acs3_raw import raw, refused, sign

NB = "/v1/p-acme-cn4/notebooks"
RUNTIMES = "/2025-09-10/agents/runtimes"


def create_notebook(gw, name, team):
    body = json.dumps({"name": name, "flavor": "modelarts.vm.cpu.2u", "image_id": "img-1",
                       "tags": [{"key": "team", "value": team}]})
    status, _, payload = signed_call(gw, "POST", NB, ALICE, body=body)
    assert status == 200, payload
    return json.loads(payload)["id"]


def test_tags_of_a_notebook_created_through_the_gateway_are_enforced(gw):
    red = create_notebook(gw, "nb-state-red", "red")
    blue = create_notebook(gw, "nb-state-blue", "blue")
    gw.clear_upstream()
    status, _, payload = signed_call(gw, "GET", f"{NB}/{red}", TAGGER)
    body = json.loads(payload)
    assert status == 403 and body["error_code"] == "APIGW.0302", body
    assert "modelarts:notebook:get" in body["error_msg"]
    assert gw.upstream_requests() == [], "a denied request must not reach the upstream"
    status, _, payload = signed_call(gw, "GET", f"{NB}/{blue}", TAGGER)
    assert status == 200, payload
    seen = gw.upstream_requests()
    assert [(r["method"], r["path"]) for r in seen] == [("GET", f"{NB}/{blue}")]
    assert seen[0]["headers"]["x-iamgate-account"] == "acme0001"


def test_the_admin_api_shows_created_resources_with_their_owner_and_tags(gw):
    nb = create_notebook(gw, "nb-state-listed", "green")
    status, state = admin_get(gw, "/-/resources?limit=1000")
    assert status == 200, state
    mine = [r for r in state["resources"] if r["id"] == nb]
    assert len(mine) == 1, state
    assert (mine[0]["owner"], mine[0]["origin"], mine[0]["type"]) == ("acme0001", "traffic", "notebook")
    assert mine[0]["tags"] == {"team": "green"}


def agentrun(gw, method, path, creds, body=b""):
    return raw(gw, method, path, sign(gw, method, path, body=body, creds=creds), body)


def test_another_accounts_runtime_is_not_found_and_never_forwarded(gw):
    body = json.dumps({"agentRuntimeName": "rt-state", "artifactType": "Code"}).encode()
    status, created, _ = agentrun(gw, "POST", RUNTIMES, RUNNER, body)
    assert status == 200, created
    runtime = created["data"]["agentRuntimeId"]
    gw.clear_upstream()
    for method in ("GET", "DELETE"):
        body = refused(gw, agentrun(gw, method, f"{RUNTIMES}/{runtime}", GUARDED), 404, "EntityNotExist")
        assert runtime in body["Message"]
    status, listed, _ = agentrun(gw, "GET", RUNTIMES, GUARDED)
    assert status == 200 and runtime not in json.dumps(listed), listed
    assert [r["headers"]["x-iamgate-account"] for r in gw.upstream_requests()] == ["6543210987654321"]
    gw.clear_upstream()
    status, mine, _ = agentrun(gw, "GET", f"{RUNTIMES}/{runtime}", RUNNER)
    assert status == 200, mine
    assert gw.upstream_requests()[0]["headers"]["x-iamgate-account"] == "1234567890123456"
