"""Resources declared in ``resources.toml`` exist in the gateway's built-in
mock (``upstream = "builtin:mock"``) from the start, under the ids their URNs
name: the real SDKs get, list, update and delete them through the gateway on
both clouds, and new items join the same collections.

The built-in mock is not reachable from outside (no ``/-/requests``), so the
denial test checks status and code only; denials that prove the upstream saw
nothing live in the tests with a recording mock process.
"""

import uuid

import pytest
from conftest import start_process, stop_process, write_config
from samples import ALICE, OPERATOR, RUNNER, TAGGER, agentrun_client, modelarts_client

EXTRA_RESOURCES = """
[[resource]]
urn = "modelarts:cn-north-4:acme0001:notebook:nb-spare"

[[resource]]
urn = "acs:agentrun:cn-hangzhou:1234567890123456:templates/tpl-seeded"

[[resource]]
urn = "acs:agentrun:cn-hangzhou:1234567890123456:runtimes/rt-seeded"
"""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, iamgate_bin):
    workdir = tmp_path_factory.mktemp("seeded")
    config = write_config(workdir, "builtin:mock")
    with open(workdir / "policies" / "resources.toml", "a") as f:
        f.write(EXTRA_RESOURCES)
    started = start_process([iamgate_bin, "serve", "--config", config], listeners=2)
    started.workdir = workdir
    yield started
    stop_process(started)


def test_declared_notebooks_answer_the_modelarts_sdk(gateway):
    from huaweicloudsdkmodelarts.v1 import (
        DeleteNotebookRequest,
        ListNotebooksRequest,
        NotebookUpdateRequest,
        ShowNotebookRequest,
        UpdateNotebookRequest,
    )
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    alice = modelarts_client(gateway.url, ALICE)
    shown = alice.show_notebook(ShowNotebookRequest(id="nb-blue"))
    assert (shown.id, shown.name) == ("nb-blue", "nb-blue")
    listed = alice.list_notebooks(ListNotebooksRequest())
    assert {"nb-blue", "nb-red", "nb-spare"} <= {nb.id for nb in listed.data}

    updated = alice.update_notebook(
        UpdateNotebookRequest(id="nb-spare", body=NotebookUpdateRequest(description="seeded"))
    )
    assert (updated.id, updated.description) == ("nb-spare", "seeded")
    assert alice.delete_notebook(DeleteNotebookRequest(id="nb-spare")).id == "nb-spare"
    with pytest.raises(ClientRequestException) as err:
        alice.show_notebook(ShowNotebookRequest(id="nb-spare"))
    assert (err.value.status_code, err.value.error_code) == (404, "Mock.0404")


def test_a_tag_scoped_user_gets_the_declared_notebook_of_its_team_only(gateway):
    from huaweicloudsdkmodelarts.v1 import ShowNotebookRequest
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    tagger = modelarts_client(gateway.url, TAGGER)
    assert tagger.show_notebook(ShowNotebookRequest(id="nb-blue")).id == "nb-blue"
    with pytest.raises(ClientRequestException) as err:
        tagger.show_notebook(ShowNotebookRequest(id="nb-red"))  # team=red
    assert (err.value.status_code, err.value.error_code) == (403, "APIGW.0302")


def test_the_declared_pool_answers_by_name(gateway):
    from huaweicloudsdkmodelarts.v1 import ListPoolsRequest, ShowPoolRequest

    operator = modelarts_client(gateway.url, OPERATOR)
    assert operator.show_pool(ShowPoolRequest(pool_name="pool-gpu")).metadata.name == "pool-gpu"
    assert "pool-gpu" in [p.metadata.name for p in operator.list_pools(ListPoolsRequest()).items]


def test_declared_agentrun_resources_answer_the_agentrun_sdk(gateway):
    from alibabacloud_agentrun20250910 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    runner = agentrun_client(gateway.host, gateway.port, RUNNER)
    got = runner.get_template("tpl-seeded").body.data
    assert got.template_name == "tpl-seeded" and got.template_id
    runtime = runner.get_agent_runtime("rt-seeded", models.GetAgentRuntimeRequest()).body.data
    assert runtime.agent_runtime_id == "rt-seeded"

    name = f"tpl-{uuid.uuid4().hex[:8]}"
    body = models.CreateTemplateInput(template_name=name, template_type="Browser", cpu=2.0, memory=4096)
    runner.create_template(models.CreateTemplateRequest(body=body))
    listed = runner.list_templates(models.ListTemplatesRequest()).body.data
    assert {"tpl-seeded", name} <= {t.template_name for t in listed.items}

    update = models.UpdateTemplateRequest(body=models.UpdateTemplateInput(description="seeded", cpu=4.0))
    updated = runner.update_template("tpl-seeded", update).body.data
    assert (updated.template_name, updated.description, updated.cpu) == ("tpl-seeded", "seeded", 4.0)
    assert runner.delete_template("tpl-seeded").body.data.template_name == "tpl-seeded"
    with pytest.raises(ClientException) as err:
        runner.get_template("tpl-seeded")
    assert (err.value.status_code, err.value.code) == (404, "ERR_NOT_FOUND")


def test_a_resource_added_by_a_reload_appears_in_the_builtin_mock(gateway):
    import time

    from huaweicloudsdkmodelarts.v1 import ShowNotebookRequest
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    alice = modelarts_client(gateway.url, ALICE)
    with pytest.raises(ClientRequestException) as err:
        alice.show_notebook(ShowNotebookRequest(id="nb-late"))
    assert err.value.status_code == 404
    with open(gateway.workdir / "policies" / "resources.toml", "a") as f:
        f.write('\n[[resource]]\nurn = "modelarts:cn-north-4:acme0001:notebook:nb-late"\n')
    deadline = time.monotonic() + 15
    while True:
        try:
            assert alice.show_notebook(ShowNotebookRequest(id="nb-late")).id == "nb-late"
            return
        except ClientRequestException as e:
            assert e.status_code == 404, e
            assert time.monotonic() < deadline, "the reload did not seed nb-late"
            time.sleep(0.2)


def test_the_standalone_mock_seeds_from_policies(start_binary, iamgate_bin):
    import json
    import urllib.error
    import urllib.request

    from conftest import REPO

    mock = start_binary(
        [iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes", "--policies", REPO / "policies"]
    )

    def get(path, account):
        req = urllib.request.Request(f"{mock.url}{path}", headers={"X-Iamgate-Account": account})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    status, body = get("/v1/p-acme-cn4/notebooks/nb-blue", "acme0001")
    assert (status, body["id"]) == (200, "nb-blue")
    status, body = get("/v1/p-acme-cn4/notebooks/nb-blue", "solo0002")
    assert (status, body["error_code"]) == (404, "Mock.0404")
    # The request log is unchanged: both GETs, nothing from the seeding.
    status, log = get("/-/requests", "")
    assert status == 200 and [r["path"] for r in log] == ["/v1/p-acme-cn4/notebooks/nb-blue"] * 2
