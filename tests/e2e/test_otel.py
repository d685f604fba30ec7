"""OpenTelemetry traces (issue 12 item 6), against a real OTLP/HTTP JSON
receiver: a gateway built with the ``otel`` cargo feature and ``[otel]``
configured exports one span per request with the decision as attributes
(allowed and denied alike); without ``[otel]`` it sends nothing, even with
the OTEL_* environment pointing at a receiver; and a collector that is
down costs a logged export failure, never a request.

tests/run.sh builds the gateway under test with ``--features otel``; that
a default build refuses ``[otel]`` is a unit test in src/otel_config.rs."""

import json
import os
import socket
import time

import pytest
from conftest import REPO, Stack, admin_get, http_json, signed_call, start_process, stop_process, write_config
from otlp_receiver import OtlpReceiver
from samples import ACME_PROJECT, ALICE, READER

NB = f"/v1/{ACME_PROJECT}/notebooks"


@pytest.fixture
def receiver():
    with OtlpReceiver() as r:
        yield r


@pytest.fixture
def mock(iamgate_bin):
    m = start_process([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"])
    yield m
    stop_process(m)


def start_gateway(binary, workdir, mock, extra="", env=None):
    config = write_config(workdir, mock.url, extra)
    gateway = start_process([binary, "serve", "--config", config], listeners=2, env=env)
    return Stack(mock, gateway, workdir)


def upstream_requests(mock):
    status, log = http_json("GET", f"{mock.url}/-/requests")
    assert status == 200, log
    return log


def otel_section(url, service="iamgate-e2e"):
    return f'[otel]\nendpoint = "{url}"\nservice_name = "{service}"\n'


def test_a_span_per_request_with_the_decision(tmp_path, iamgate_bin, mock, receiver):
    # No decision log and no console ring: the span alone asks for the
    # request's full record (resource, deciding reason).
    extra = otel_section(receiver.url) + "[console]\nrecent = 0\n"
    gw = start_gateway(iamgate_bin, tmp_path, mock, extra)
    try:
        status, allowed, _ = signed_call(gw, "GET", NB, ALICE)
        assert status == 200
        status, denied, body = signed_call(gw, "POST", NB, READER, body="{}")
        assert status == 403 and json.loads(body)["error_code"] == "APIGW.0302"
        # The upstream saw the allowed list, never the denied create.
        assert [r["method"] for r in upstream_requests(mock)] == ["GET"]
        digest = admin_get(gw, "/-/snapshot")[1]["digest"]
    finally:
        # SIGTERM: the gateway drains, then exports what is still queued.
        assert stop_process(gw.gateway) == 0
    spans = receiver.spans()
    assert receiver.rejected == []
    by_id = {s["attributes"]["iamgate.request_id"]: (res, s) for res, s in spans}
    assert len(spans) == 2, spans
    res, ok = by_id[allowed["x-request-id"]]
    assert res["service.name"] == "iamgate-e2e"
    assert ok["name"] == "modelarts:notebook:list"
    assert ok["attributes"] == {
        "iamgate.service": "modelarts",
        "iamgate.action": "modelarts:notebook:list",
        "iamgate.resource": ok["attributes"]["iamgate.resource"],
        "iamgate.principal": ok["attributes"]["iamgate.principal"],
        "iamgate.decision": "allow",
        "iamgate.deciding": ok["attributes"]["iamgate.deciding"],
        "http.response.status_code": 200,
        "iamgate.request_id": allowed["x-request-id"],
        "iamgate.snapshot": digest,
    }
    assert "alice" in ok["attributes"]["iamgate.principal"]
    assert ok["attributes"]["iamgate.resource"] and ok["attributes"]["iamgate.deciding"]
    _, no = by_id[denied["x-request-id"]]
    attrs = no["attributes"]
    assert no["name"] == attrs["iamgate.action"] == "modelarts:notebook:create"
    assert attrs["iamgate.decision"] in ("implicit_deny", "explicit_deny")
    assert attrs["http.response.status_code"] == 403
    assert "reader" in attrs["iamgate.principal"]
    assert attrs["iamgate.deciding"] and attrs["iamgate.snapshot"] == digest
    # Both spans are server spans covering the request's time.
    for _, span in (by_id[allowed["x-request-id"]], by_id[denied["x-request-id"]]):
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"]) > 0


def test_without_otel_nothing_is_sent(tmp_path, iamgate_bin, mock, receiver):
    # Even the standard OTEL_* variables pointing at a receiver change nothing.
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
               OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.url}/v1/traces")
    gw = start_gateway(iamgate_bin, tmp_path, mock, env=env)
    try:
        assert signed_call(gw, "GET", NB, ALICE)[0] == 200
        assert signed_call(gw, "POST", NB, READER, body="{}")[0] == 403
    finally:
        assert stop_process(gw.gateway) == 0
    time.sleep(0.5)
    assert receiver.payloads == [] and receiver.rejected == []


def test_a_collector_that_is_down_costs_no_request(tmp_path, iamgate_bin, mock):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = start_gateway(iamgate_bin, tmp_path, mock, otel_section(f"http://127.0.0.1:{port}"))
    try:
        started = time.monotonic()
        for _ in range(3):
            assert signed_call(gw, "GET", NB, ALICE)[0] == 200
        assert time.monotonic() - started < 5
    finally:
        assert stop_process(gw.gateway) == 0
    assert any("otel: span export failed" in line for line in gw.gateway.errors), gw.gateway.errors
