"""One running gateway serves both clouds at once: the Huawei ModelArts SDK
(SDK-HMAC-SHA256) and the Alibaba AgentRun SDK (ACS3-HMAC-SHA256), each
authorised by its own dialect, in the same test against the same process."""

import pytest
from alibabacloud_agentrun20250910 import models as agentrun_models
from alibabacloud_tea_openapi.exceptions import ClientException
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import ListNotebooksRequest
from samples import ACME_PROJECT, ALICE, RUNNER, agentrun_client, modelarts_client


def test_one_gateway_serves_modelarts_and_agentrun(gw):
    modelarts = modelarts_client(gw.url, ALICE)
    agentrun = agentrun_client(gw.host, gw.port, RUNNER)

    notebooks = modelarts.list_notebooks(ListNotebooksRequest())
    assert notebooks.data is not None
    templates = agentrun.list_templates(agentrun_models.ListTemplatesRequest()).body
    assert templates.code == "SUCCESS" and templates.data.items is not None
    # Interleaved again: neither dialect disturbs the other.
    modelarts.list_notebooks(ListNotebooksRequest())

    # The mock's log redacts Authorization; each dialect's date header tells
    # which signer's request reached the upstream.
    def dialect(headers):
        assert headers["authorization"] == "<redacted>"
        return "SDK-HMAC-SHA256" if "x-sdk-date" in headers else "ACS3-HMAC-SHA256" if "x-acs-date" in headers else None

    seen = [(r["method"], r["path"], dialect(r["headers"])) for r in gw.upstream_requests()]
    assert seen == [
        ("GET", f"/v1/{ACME_PROJECT}/notebooks", "SDK-HMAC-SHA256"),
        ("GET", "/2025-09-10/templates", "ACS3-HMAC-SHA256"),
        ("GET", f"/v1/{ACME_PROJECT}/notebooks", "SDK-HMAC-SHA256"),
    ]


def test_each_cloud_answers_its_own_dialect_and_keys_do_not_cross(gw):
    # A Huawei key through the AgentRun SDK: unknown on the Alibaba side.
    with pytest.raises(ClientException) as ali:
        agentrun_client(gw.host, gw.port, ALICE).list_templates(agentrun_models.ListTemplatesRequest())
    assert (ali.value.status_code, ali.value.code) == (404, "InvalidAccessKeyId.NotFound")
    # An Alibaba key through the ModelArts SDK: unknown on the Huawei side.
    with pytest.raises(ClientRequestException) as hw:
        modelarts_client(gw.url, RUNNER).list_notebooks(ListNotebooksRequest())
    assert (hw.value.status_code, hw.value.error_code) == (401, "APIGW.0301")
    assert hw.value.error_msg.endswith("ak not found")
    assert gw.upstream_requests() == []
