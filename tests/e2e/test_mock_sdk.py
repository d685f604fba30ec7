"""The mock upstream against the real vendor SDKs, with no gateway between.

This proves the mock's response shapes: the SDKs' own models must parse
create → list → get → delete. The mock checks no signature, so any
credentials do. Route files: the repository's ``routes/*.toml``, with the
fixtures in ``fixtures/routes`` standing in for any that do not exist yet.
"""

import shutil
import uuid

import pytest
from conftest import REPO

FIXTURES = REPO / "tests" / "e2e" / "fixtures" / "routes"


@pytest.fixture
def mock(start_binary, iamgate_bin, tmp_path):
    routes = tmp_path / "routes"
    routes.mkdir()
    for source in sorted((REPO / "routes").glob("*.toml")):
        shutil.copy(source, routes / source.name)
    for fixture in sorted(FIXTURES.glob("*.toml")):
        if not (routes / fixture.name).exists():
            shutil.copy(fixture, routes / fixture.name)
    return start_binary([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", routes])


@pytest.fixture
def modelarts(mock, sdk_home):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient

    credentials = BasicCredentials("AK-TEST", "SK-TEST", "project-1")
    return (
        ModelArtsClient.new_builder()
        .with_credentials(credentials)
        .with_endpoints([mock.url])
        .build()
    )


@pytest.fixture
def agentrun(mock):
    from alibabacloud_agentrun20250910.client import Client
    from alibabacloud_tea_openapi import models as open_api_models

    config = open_api_models.Config(
        access_key_id="AK-TEST",
        access_key_secret="SK-TEST",
        endpoint=f"{mock.host}:{mock.port}",
        protocol="http",
    )
    return Client(config)


def test_modelarts_notebook_lifecycle(modelarts):
    from huaweicloudsdkmodelarts.v1 import (
        CreateNotebookRequest,
        DeleteNotebookRequest,
        ListNotebooksRequest,
        NotebookCreateRequest,
        ShowNotebookRequest,
    )
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    body = NotebookCreateRequest(
        name="nb-e2e", flavor="modelarts.vm.cpu.2u", image_id="img-1", description="e2e"
    )
    created = modelarts.create_notebook(CreateNotebookRequest(body=body))
    assert created.id and created.name == "nb-e2e"

    listed = modelarts.list_notebooks(ListNotebooksRequest())
    assert [nb.id for nb in listed.data] == [created.id]
    assert listed.total == 1

    shown = modelarts.show_notebook(ShowNotebookRequest(id=created.id))
    assert (shown.id, shown.flavor, shown.description) == (created.id, "modelarts.vm.cpu.2u", "e2e")

    deleted = modelarts.delete_notebook(DeleteNotebookRequest(id=created.id))
    assert deleted.id == created.id

    with pytest.raises(ClientRequestException) as err:
        modelarts.show_notebook(ShowNotebookRequest(id=created.id))
    assert err.value.status_code == 404
    assert err.value.error_code == "Mock.0404"


def test_modelarts_pool_create_show_delete(modelarts):
    from huaweicloudsdkmodelarts.v1 import (
        CreatePoolRequest,
        CreatePoolRequestBody,
        DeletePoolRequest,
        ListPoolsRequest,
        PoolMetadataCreation,
        ShowPoolRequest,
    )

    body = CreatePoolRequestBody(api_version="v2", kind="Pool", metadata=PoolMetadataCreation())
    created = modelarts.create_pool(CreatePoolRequest(body=body))
    name = created.metadata.name
    assert name

    assert [p.metadata.name for p in modelarts.list_pools(ListPoolsRequest()).items] == [name]
    assert modelarts.show_pool(ShowPoolRequest(pool_name=name)).metadata.name == name

    deleted = modelarts.delete_pool(DeletePoolRequest(pool_name=name))
    assert deleted.metadata.name == name
    assert deleted.kind == "Pool"


def test_agentrun_template_lifecycle(agentrun):
    from alibabacloud_agentrun20250910 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    name = f"tpl-{uuid.uuid4().hex[:8]}"
    body = models.CreateTemplateInput(template_name=name, template_type="Browser", cpu=2.0, memory=4096)
    created = agentrun.create_template(models.CreateTemplateRequest(body=body)).body
    assert created.code == "SUCCESS" and created.request_id
    assert created.data.template_name == name and created.data.template_id

    listed = agentrun.list_templates(models.ListTemplatesRequest()).body.data
    assert [t.template_name for t in listed.items] == [name]
    assert listed.total == 1

    got = agentrun.get_template(name).body.data
    assert (got.template_id, got.cpu, got.memory) == (created.data.template_id, 2.0, 4096)

    deleted = agentrun.delete_template(name).body.data
    assert deleted.template_name == name

    with pytest.raises(ClientException) as err:
        agentrun.get_template(name)
    assert err.value.status_code == 404
    assert err.value.code == "ERR_NOT_FOUND"


def test_agentrun_runtime_lifecycle(agentrun):
    from alibabacloud_agentrun20250910 import models

    body = models.CreateAgentRuntimeInput(agent_runtime_name="rt-e2e", cpu=1.0, memory=2048)
    created = agentrun.create_agent_runtime(models.CreateAgentRuntimeRequest(body=body)).body.data
    runtime_id = created.agent_runtime_id
    assert runtime_id and created.agent_runtime_name == "rt-e2e"

    listed = agentrun.list_agent_runtimes(models.ListAgentRuntimesRequest()).body.data
    assert [r.agent_runtime_id for r in listed.items] == [runtime_id]

    got = agentrun.get_agent_runtime(runtime_id, models.GetAgentRuntimeRequest()).body.data
    assert (got.agent_runtime_id, got.agent_runtime_name) == (runtime_id, "rt-e2e")

    deleted = agentrun.delete_agent_runtime(runtime_id).body.data
    assert deleted.agent_runtime_id == runtime_id


def test_mock_records_what_the_sdk_sent(mock, modelarts):
    import json
    import urllib.request

    from huaweicloudsdkmodelarts.v1 import ListNotebooksRequest

    modelarts.list_notebooks(ListNotebooksRequest(limit=5))
    with urllib.request.urlopen(f"{mock.url}/-/requests") as response:
        log = json.load(response)
    assert [(r["method"], r["path"]) for r in log] == [("GET", "/v1/project-1/notebooks")]
    assert "limit=5" in log[0]["query"]
    # The SDK signed it (x-sdk-date), and the unauthenticated log does not
    # hand the signature out.
    assert log[0]["headers"]["authorization"] == "<redacted>"
    assert log[0]["headers"]["x-sdk-date"]


def test_mock_exits_cleanly_on_sigterm(mock):
    from conftest import stop_process

    assert stop_process(mock) == 0
