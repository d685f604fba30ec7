"""Gateway modes that need their own configuration: `unmapped = "forward"`
and TLS (rustls) on the gateway listener."""

import http.client
import ssl
import time

import pytest
from conftest import start_stack, stop_stack, self_signed_cert
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkmodelarts.v1 import ListFlavorsRequest, ListNotebooksRequest
from samples import ACME_PROJECT, ALICE, modelarts_client


@pytest.fixture(scope="module")
def forwarding(tmp_path_factory, iamgate_bin):
    s = start_stack(tmp_path_factory.mktemp("forward"), iamgate_bin, extra='unmapped = "forward"')
    yield s
    stop_stack(s)


def test_unmapped_forward_lets_authenticated_calls_through(forwarding):
    forwarding.clear_upstream()
    client = modelarts_client(forwarding.url, ALICE)
    client.list_flavors(ListFlavorsRequest())
    assert [(r["method"], r["path"]) for r in forwarding.upstream_requests()] == [
        ("GET", f"/v1/{ACME_PROJECT}/notebooks/flavors")
    ]
    # The gateway says so loudly (stderr, WARN).
    warning = wait_for_line(forwarding.gateway, "forwarding an unmapped operation")
    assert "WARN" in warning and "list_flavors" in warning


def test_unmapped_forward_still_checks_the_project(forwarding):
    forwarding.clear_upstream()
    client = modelarts_client(forwarding.url, ALICE, project="p-solo-cn4")
    with pytest.raises(ClientRequestException) as err:
        client.list_flavors(ListFlavorsRequest())
    assert (err.value.status_code, err.value.error_code) == (403, "APIGW.0302")
    assert forwarding.upstream_requests() == []


def wait_for_line(started, text, timeout=5.0):
    """The first stderr line of a started process containing ``text``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = next((line for line in list(started.errors) if text in line), None)
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no stderr line with {text!r}: {started.errors[-20:]}")


def test_unmapped_forward_still_requires_authentication(forwarding):
    forwarding.clear_upstream()
    client = modelarts_client(forwarding.url, (ALICE[0], "wrong-secret"))
    with pytest.raises(ClientRequestException) as err:
        client.list_flavors(ListFlavorsRequest())
    assert (err.value.status_code, err.value.error_code) == (401, "APIGW.0301")
    assert forwarding.upstream_requests() == []


def test_unmapped_forward_does_not_change_mapped_routes(forwarding):
    forwarding.clear_upstream()
    client = modelarts_client(forwarding.url, ALICE)
    from huaweicloudsdkmodelarts.v1 import ListPoolsRequest

    with pytest.raises(ClientRequestException) as err:
        client.list_pools(ListPoolsRequest())
    assert (err.value.status_code, err.value.error_code) == (403, "APIGW.0302")
    assert forwarding.upstream_requests() == []


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory, iamgate_bin):
    work = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_cert(work)
    s = start_stack(work, iamgate_bin, extra=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
    s.cert = cert
    yield s
    stop_stack(s)


def test_tls_listener_serves_https(tls_stack):
    tls_stack.clear_upstream()
    ctx = ssl.create_default_context(cafile=str(tls_stack.cert))
    conn = http.client.HTTPSConnection(tls_stack.host, tls_stack.port, context=ctx, timeout=10)
    conn.request("GET", f"/v1/{ACME_PROJECT}/notebooks", headers={"X-Auth-Token": "example-token-alice-not-real"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    assert len(resp.getheader("x-request-id")) == 32
    assert [r["path"] for r in tls_stack.upstream_requests()] == [f"/v1/{ACME_PROJECT}/notebooks"]


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_listener_with_the_real_sdk(tls_stack):
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    client = (
        ModelArtsClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ALICE[0], ALICE[1], ACME_PROJECT))
        .with_endpoints([f"https://{tls_stack.host}:{tls_stack.port}"])
        .build()
    )
    tls_stack.clear_upstream()
    client.list_notebooks(ListNotebooksRequest())
    assert len(tls_stack.upstream_requests()) == 1


def test_plain_http_on_the_tls_listener_is_refused(tls_stack):
    tls_stack.clear_upstream()
    conn = http.client.HTTPConnection(tls_stack.host, tls_stack.port, timeout=5)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("GET", f"/v1/{ACME_PROJECT}/notebooks")
        conn.getresponse().read()
    assert tls_stack.upstream_requests() == []


def _gateway_in_front_of(tmp_path, iamgate_bin, upstream_url, extra=""):
    from conftest import start_process, write_config

    config = write_config(tmp_path, upstream_url, extra)
    return start_process([iamgate_bin, "serve", "--config", config], listeners=2)


def _get_notebooks(gw):
    conn = http.client.HTTPConnection(gw.host, gw.port, timeout=10)
    conn.request("GET", f"/v1/{ACME_PROJECT}/notebooks", headers={"X-Auth-Token": "example-token-alice-not-real"})
    resp = conn.getresponse()
    import json

    return resp.status, json.loads(resp.read())


def test_upstream_down_is_502(tmp_path, iamgate_bin):
    import socket

    from conftest import stop_process

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    gw = _gateway_in_front_of(tmp_path, iamgate_bin, f"http://127.0.0.1:{dead}")
    try:
        status, body = _get_notebooks(gw)
        assert (status, body["error_code"]) == (502, "APIGW.0201")
        assert body["error_msg"].startswith("Backend unavailable")
    finally:
        stop_process(gw)


def test_upstream_timeout_is_504(tmp_path, iamgate_bin):
    import socket
    import threading

    from conftest import stop_process

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    gw = _gateway_in_front_of(
        tmp_path, iamgate_bin, f"http://127.0.0.1:{silent.getsockname()[1]}", extra="[limits]\nupstream_timeout_ms = 300\n"
    )
    try:
        status, body = _get_notebooks(gw)
        assert (status, body["error_code"]) == (504, "APIGW.0201")
        assert accepted, "the request did reach the silent upstream"
    finally:
        stop_process(gw)
        silent.close()
