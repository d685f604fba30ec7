"""Huawei agencies end to end with the real SDKs: huaweicloudsdkiam 3.1.219
asks the gateway's built-in IAM for temporary keys by agency, then the
ModelArts SDK signs with them and the security token. Every refusal checks
the status, the error code and that the upstream saw nothing."""

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

from conftest import REPO, start_stack, stop_stack
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
    client = modelarts_with(gw.url, cred)
    resp = client.list_notebooks(ListNotebooksRequest())
    assert resp.raw_content is not None
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
