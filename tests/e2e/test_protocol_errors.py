"""Every answer counted and prompt (issue 8 item 4): refusals that hyper or
the first-line check produce below the request pipeline are counted in
`iamgate_protocol_errors_total{kind}` and logged at info with the peer;
the other-project 403 has its own decision label; logs carry no terminal
colour codes when stderr is not a terminal."""

import socket
import time

from conftest import admin_get, metric_samples, send_raw
from samples import ACME_PROJECT

TOKEN = {"X-Auth-Token": "example-token-alice-not-real"}


def exchange(gw, data, timeout=2.0):
    """Send raw bytes; the whole answer until the server closes (or timeout)."""
    with socket.create_connection((gw.host, gw.port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except socket.timeout:
            pass
    return out


def protocol_errors(gw):
    status, text = admin_get(gw, "/metrics")
    assert status == 200
    return {labels["kind"]: value for labels, value in metric_samples(text, "iamgate_protocol_errors_total")}


def wait_for(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_refusals_below_the_pipeline_are_counted_and_logged_with_the_peer(gw):
    before = protocol_errors(gw)
    started = time.monotonic()
    answer = exchange(gw, f"GET /v1/{ACME_PROJECT}/notebooks\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 400 "), answer
    assert time.monotonic() - started < 1.0, "an HTTP/0.9 line is refused at once"
    big = b"GET /v1/x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    assert exchange(gw, big).startswith(b"HTTP/1.1 431 "), "oversize head"
    bad_line = b"GET /v1/x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n"
    assert exchange(gw, bad_line).startswith(b"HTTP/1.1 400 ")
    after = {}

    def counted():
        after.update(protocol_errors(gw))
        return all(after.get(k, 0) >= before.get(k, 0) + 1 for k in ("request_line", "too_large", "parse"))

    assert wait_for(counted), (before, after)
    logged = [line for line in gw.gateway.errors if "refused below the request pipeline" in line]
    assert any("kind=\"request_line\"" in l or "kind=request_line" in l for l in logged), logged
    assert all("INFO" in l and "127.0.0.1" in l for l in logged), logged


def test_logs_carry_no_colour_codes_when_stderr_is_not_a_terminal(gw):
    exchange(gw, b"HELLO\r\n\r\n")
    assert wait_for(lambda: len(gw.gateway.errors) > 0)
    assert not any("\x1b[" in line for line in gw.gateway.errors), gw.gateway.errors[:5]


def test_a_project_of_another_account_has_its_own_decision_label(gw):
    status, _, body = send_raw(gw, "GET", "/v1/p-solo-cn4/notebooks", TOKEN)
    assert status == 403, body
    assert gw.upstream_requests() == []
    _, text = admin_get(gw, "/metrics")
    labels = [l for l, v in metric_samples(text, "iamgate_requests_total") if v > 0]
    assert any(l["decision"] == "wrong_project" and l["status"] == "4xx" for l in labels), labels
