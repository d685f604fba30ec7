"""Raw HTTP against the gateway: ambiguous paths are refused before anything
else (400, dialect body, request id, nothing forwarded), and a signed request
replayed outside the 15-minute window is refused (401)."""

import http.client
import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import send_raw
from samples import ACME_PROJECT, ALICE

NB = f"/v1/{ACME_PROJECT}/notebooks"


def raw(gw, method, path, headers=None, body=b""):
    """Send exactly this request → status, JSON body, X-Request-Id values."""
    status, resp_headers, payload = send_raw(gw, method, path, headers or {}, body)
    ids = [v for k, v in resp_headers if k.lower() == "x-request-id"]
    return status, json.loads(payload), ids


def sign_huawei(gw, method, path, query="", body="", when=None, creds=ALICE, project=ACME_PROJECT):
    """Sign with the Huawei SDK's own signer (huaweicloudsdkcore)."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    when = when or datetime.now(timezone.utc)
    headers = {
        "Content-Type": "application/json",
        "X-Sdk-Date": when.strftime("%Y%m%dT%H%M%SZ"),
        "X-Project-Id": project,
        "Host": f"{gw.host}:{gw.port}",
    }
    req = SdkRequest(method=method, schema="http", host=f"{gw.host}:{gw.port}", resource_path=path,
                     query_params=[], header_params=headers, body=body)
    signed = Signer(BasicCredentials(creds[0], creds[1], project)).sign(req)
    return {k: v for k, v in signed.header_params.items() if k != "Host"}


@pytest.mark.parametrize("path", [
    f"/v1/{ACME_PROJECT}/notebooks/../pools",
    f"/v1/{ACME_PROJECT}/notebooks/%2e%2e/x",
    f"/v1/{ACME_PROJECT}/notebooks/%2E%2e",
    f"/v1/{ACME_PROJECT}/./notebooks",
    f"/v1/{ACME_PROJECT}//notebooks",
    f"/v1/{ACME_PROJECT}/notebooks/nb%2Fx",
    f"/v1/{ACME_PROJECT}/notebooks/nb%5Cx",
    f"/v1/{ACME_PROJECT}/notebooks/nb%00",
    f"/v1/{ACME_PROJECT}/notebooks/nb%zz",
    f"/v1/{ACME_PROJECT}/notebooks/",
])
def test_ambiguous_paths_are_400_and_never_forwarded(gw, path):
    headers = sign_huawei(gw, "GET", NB)  # a valid signature for another path changes nothing
    status, body, ids = raw(gw, "GET", path, headers)
    assert status == 400, body
    assert body["error_code"] == "APIGW.0201"
    assert "ambiguous path" in body["error_msg"]
    assert len(ids) == 1 and body["request_id"] == ids[0]
    assert gw.upstream_requests() == []


def test_absolute_form_target_must_match_host(gw):
    status, body, _ = raw(gw, "GET", f"http://evil.example{NB}")
    assert status == 400 and body["error_code"] == "APIGW.0201"
    assert gw.upstream_requests() == []


def test_fresh_signed_request_passes(gw):
    status, body, ids = raw(gw, "GET", NB, sign_huawei(gw, "GET", NB))
    assert status == 200, body
    assert len(ids) == 1
    assert [(r["method"], r["path"]) for r in gw.upstream_requests()] == [("GET", NB)]


def test_request_replayed_with_a_16_minute_old_date_is_401(gw):
    old = datetime.now(timezone.utc) - timedelta(minutes=16)
    status, body, _ = raw(gw, "GET", NB, sign_huawei(gw, "GET", NB, when=old))
    assert status == 401
    assert body["error_code"] == "APIGW.0301"
    assert body["error_msg"] == "Incorrect IAM authentication information: x-sdk-date expired"
    assert gw.upstream_requests() == []


def test_body_changed_after_signing_is_401(gw):
    headers = sign_huawei(gw, "POST", NB, body='{"name":"nb-a"}')
    status, body, _ = raw(gw, "POST", NB, headers, body='{"name":"nb-b"}')
    assert (status, body["error_code"]) == (401, "APIGW.0301")
    assert gw.upstream_requests() == []


def test_unknown_route_is_404_and_both_shapes_outside_any_service(gw):
    status, body, _ = raw(gw, "GET", "/nothing/here")
    assert status == 404
    assert body["error_code"] == "APIGW.0101" and body["Code"] == "InvalidAction.NotFound"
    assert body["request_id"] == body["RequestId"]
    status, body, _ = raw(gw, "GET", f"/v1/{ACME_PROJECT}/no-such-collection")
    assert (status, body["error_code"]) == (404, "APIGW.0101") and "Code" not in body
    assert gw.upstream_requests() == []


def test_expired_token_is_401_with_its_expiry(gw):
    status, body, _ = raw(gw, "GET", NB, {"X-Auth-Token": "example-token-expired-not-real"})
    assert status == 401
    assert body["error_msg"] == "Incorrect IAM authentication information: token expires, expires_at: 2020-01-01T00:00:00Z"
    status, body, _ = raw(gw, "GET", NB, {"X-Auth-Token": "no-such-token"})
    assert (status, body["error_msg"]) == (401, "Incorrect IAM authentication information: decrypt token fail")
    assert gw.upstream_requests() == []


def test_valid_token_is_accepted(gw):
    status, _, _ = raw(gw, "GET", NB, {"X-Auth-Token": "example-token-alice-not-real"})
    assert status == 200
    assert len(gw.upstream_requests()) == 1


def test_oversized_body_is_413_before_it_is_read(gw):
    """The declared length is over the limit: answered before the body is sent."""
    conn = http.client.HTTPConnection(gw.host, gw.port, timeout=10)
    conn.putrequest("POST", NB, skip_host=True)
    conn.putheader("Host", f"{gw.host}:{gw.port}")
    for k, v in sign_huawei(gw, "POST", NB).items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    resp = conn.getresponse()
    body = json.loads(resp.read())
    conn.close()
    assert (resp.status, body["error_code"]) == (413, "APIGW.0201")
    assert gw.upstream_requests() == []


def test_unsupported_algorithm_is_401(gw):
    headers = {"Authorization": "SDK-HMAC-SM3 Access=HWALICEEXAMPLEAK0001, SignedHeaders=host, Signature=00",
               "X-Sdk-Date": "20260101T000000Z"}
    status, body, _ = raw(gw, "GET", NB, headers)
    assert (status, body["error_msg"]) == (401, "Incorrect IAM authentication information: unsupported algorithm")
    assert gw.upstream_requests() == []


def test_forwarding_strips_hop_by_hop_headers_and_keeps_the_body(gw):
    body = '{"name":"nb-hop","description":"bytes as sent \\u00e9"}'
    headers = sign_huawei(gw, "POST", NB, body=body)
    headers.update({"Connection": "keep-alive, X-Hop", "X-Hop": "1", "Keep-Alive": "timeout=5",
                    "Proxy-Authorization": "Basic Zm9vOmJhcg==", "X-Request-Id": "client-chosen-id"})
    status, _, ids = raw(gw, "POST", NB, headers, body=body)
    assert status == 200 and len(ids) == 1 and ids[0] != "client-chosen-id"
    [seen] = gw.upstream_requests()
    forwarded = seen["headers"]
    for hop in ("x-hop", "keep-alive", "proxy-authorization"):
        assert hop not in forwarded, hop
    assert forwarded["x-request-id"] == ids[0], "the upstream sees the gateway's request id"
    assert seen["body_len"] == len(body.encode())
    assert seen["path"] == NB and forwarded["x-sdk-date"] == headers["X-Sdk-Date"]


def test_signed_project_header_must_match_the_path(gw):
    headers = sign_huawei(gw, "GET", NB, project="p-solo-cn4")  # signed, but names another project
    status, body, _ = raw(gw, "GET", NB, headers)
    assert (status, body["error_code"]) == (403, "APIGW.0302")
    assert ACME_PROJECT in body["error_msg"] and "X-Project-Id" in body["error_msg"]
    assert gw.upstream_requests() == []
