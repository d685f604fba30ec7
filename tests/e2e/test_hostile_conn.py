"""The hostile suite, part 2 (issue 8 item 6; part 1 is test_hostile.py):
hop-by-hop abuse and the headers the gateway owns, HTTP/1 pipelining,
prompt refusals of what is not HTTP/1.x, path tricks in every encoding, and
HTTP/2 over TLS and h2c with prior knowledge — each checked for the status
and for exactly what the recording upstream received.
"""

import json

import pytest
from conftest import start_stack, stop_stack, self_signed_cert
from hostile_cases import (ACS_AUTH_CODES, API, BODY, DENIED, NB, NB1, get, hostport,
                           nothing_forwarded, one_forwarded, refused_400, refused_or_closed, send,
                           token_headers)
from hostile_client import TOKEN, chunked, request
from hostile_h2 import h2_request
# --- hop-by-hop abuse, gateway-owned headers --------------------------------------


def test_connection_naming_the_token_drops_it_before_authentication(gw):
    ex = send(gw, get(gw, NB, ("Connection", "X-Auth-Token")))
    assert ex.statuses == [401], ex
    assert ex.responses[0].json()["error_code"] == "APIGW.0301"
    nothing_forwarded(gw)


def test_connection_naming_host_is_400(gw):
    ex = send(gw, get(gw, NB, ("Connection", "Host")))
    refused_400(ex)
    nothing_forwarded(gw)


def test_connection_close_is_fine(gw):
    ex = send(gw, get(gw, NB, ("Connection", "close")), linger=0.5)
    assert ex.statuses == [200] and ex.closed, ex
    one_forwarded(gw, "GET", NB)


@pytest.mark.parametrize("name, value", [
    ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Upgrade", "websocket"),
    ("Proxy-Authorization", "Basic Zm9vOmJhcg=="), ("Proxy-Connection", "keep-alive"),
    ("X-Hop", "1"),
])
def test_hop_by_hop_headers_never_reach_the_upstream(gw, name, value):
    extra = [(name, value)] + ([("Connection", "X-Hop")] if name == "X-Hop" else [])
    ex = send(gw, get(gw, NB, *extra))
    assert ex.statuses == [200], ex
    seen = one_forwarded(gw, "GET", NB)["headers"]
    assert name.lower() not in seen, seen
    assert "connection" not in seen or "x-hop" not in seen["connection"].lower(), seen


@pytest.mark.parametrize("copies", [["victim0001"], ["victim0001", "other"]], ids=["one", "two"])
def test_client_account_header_never_reaches_the_upstream(gw, copies):
    ex = send(gw, get(gw, NB, *[("X-Iamgate-Account", c) for c in copies]))
    assert ex.statuses == [200], ex
    seen = one_forwarded(gw, "GET", NB)["headers"]
    assert seen.get("x-iamgate-account") == "acme0001", seen


@pytest.mark.parametrize("copies", [["client-chosen"], ["client-a", "client-b"]], ids=["one", "two"])
def test_client_request_id_is_replaced_by_exactly_one_of_the_gateways(gw, copies):
    ex = send(gw, get(gw, NB, *[("X-Request-Id", c) for c in copies]))
    assert ex.statuses == [200], ex
    [own] = ex.responses[0].header("x-request-id")
    seen = one_forwarded(gw, "GET", NB)["headers"]
    assert seen.get("x-request-id") == own and own not in copies, seen


# --- pipelining ------------------------------------------------------------------


def _body_less_body(gw):
    return request("GET", NB1, token_headers(gw, ("Content-Length", "5")), b"hello")


def _body_less_chunked(gw):
    return request("GET", NB1, token_headers(gw, ("Transfer-Encoding", "chunked")), chunked(b"hello"))


@pytest.mark.parametrize("second, statuses, closes", [
    (lambda gw: get(gw, DENIED), [200, 403], False),
    (lambda gw: get(gw, f"{NB}/%2e%2e/x"), [200, 400], False),
    (lambda gw: _body_less_body(gw) + get(gw, f"{NB}/third"), [200, 400], True),
    (lambda gw: _body_less_chunked(gw) + get(gw, f"{NB}/third"), [200, 400], True),
], ids=["allowed+denied", "allowed+ambiguous", "allowed+bodyless-cl+third", "allowed+bodyless-te+third"])
def test_pipelined_allowed_then_refused(gw, second, statuses, closes):
    ex = send(gw, get(gw, NB) + second(gw), expect=len(statuses), linger=0.5)
    assert ex.statuses == statuses, ex
    if closes:
        assert ex.closed, f"the connection closes after a framing refusal: {ex}"
    one_forwarded(gw, "GET", NB)


def test_pipelined_denied_then_allowed(gw):
    ex = send(gw, get(gw, DENIED) + get(gw, NB), expect=2)
    assert ex.statuses == [403, 200], ex
    one_forwarded(gw, "GET", NB)


def test_pipelined_allowed_twice_reaches_the_upstream_twice(gw):
    ex = send(gw, get(gw, NB) + get(gw, NB, ("Connection", "close")), expect=2)
    assert ex.statuses == [200, 200], ex
    assert [(r["method"], r["path"]) for r in gw.upstream_requests()] == [("GET", NB)] * 2


# --- prompt refusals of what is not HTTP/1.x ---------------------------------------

CLIENT_HELLO = bytes.fromhex("16030100a5010000a10303") + bytes(32) + bytes.fromhex("000020c02bc02f00ff")


@pytest.mark.parametrize("data", [
    f"GET {NB}\r\n\r\n".encode(), f"GET {NB}\r\n".encode(), CLIENT_HELLO, b"HELLO\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n", f"GET {NB} HTTP/1.1 extra\r\nHost: x\r\n\r\n".encode(),
], ids=["http09-blank-line", "http09-one-line", "tls-client-hello", "hello", "binary", "four-part-request-line"])
def test_not_http1_is_refused_within_a_second(gw, data):
    ex = send(gw, data, timeout=2.0, linger=0.0)
    refused_or_closed(ex)
    assert ex.elapsed < 1.0, f"refused after {ex.elapsed:.2f}s"
    nothing_forwarded(gw)


# --- path tricks ----------------------------------------------------------------

PATH_TRICKS = {
    "dotdot-encoded": f"{NB}/%2e%2e/x",
    "dotdot-encoded-upper": f"{NB}/%2E%2E",
    "dot-encoded": f"{NB}/nb-1/%2e",
    "double-encoded-dotdot": f"{NB}/%252e%252e",
    "double-encoded-slash": f"{NB}/nb%252Fx",
    "dotdot-semicolon": f"{NB}/..;",
    "dotdot-semicolon-slash": f"{NB}/..;/nb-1",
    "encoded-slash": f"{NB}/nb%2Fx",
    "encoded-slash-dotdot": f"{NB}/x%2F..%2F..%2Fpools",
    "encoded-backslash": f"{NB}/nb%5Cx",
    "encoded-nul": f"{NB}/nb%00",
    "overlong-utf8-dot": f"{NB}/%c0%ae%c0%ae",
    "overlong-utf8-slash": f"{NB}/nb%c0%afx",
    "matrix-param-on-id": f"{NB}/nb-1;x=1",
    "matrix-param-on-collection": f"{NB};jsessionid=1",
    "double-slash": NB.replace("/notebooks", "//notebooks"),
    "leading-double-slash": "/" + NB,
    "trailing-slash": f"{NB}/",
    "fullwidth-dots-encoded": f"{NB}/%ef%bc%8e%ef%bc%8e",
    "iis-unicode-dots": f"{NB}/%u002e%u002e",
    "plain-dotdot": f"{NB}/../notebooks",
    "plain-dot": NB.replace("/notebooks", "/./notebooks"),
    "bad-percent": f"{NB}/nb%zz",
}


@pytest.mark.parametrize("target", list(PATH_TRICKS.values()), ids=list(PATH_TRICKS))
def test_path_tricks_are_never_forwarded(gw, target):
    ex = send(gw, get(gw, target))
    assert ex.statuses[:1] in ([400], [404]), ex
    nothing_forwarded(gw)


@pytest.mark.parametrize("raw_path", [
    f"{NB}/\uff0e\uff0e".encode("utf-8"), f"{NB}/nb\\..\\x".encode(), f"{NB}/nb\tx".encode(),
], ids=["fullwidth-dots-raw-utf8", "raw-backslash", "raw-tab"])
def test_raw_bytes_in_paths_are_never_forwarded(gw, raw_path):
    head = b"GET " + raw_path + b" HTTP/1.1\r\n"
    ex = send(gw, head + get(gw).split(b"\r\n", 1)[1])
    refused_or_closed(ex, statuses=(400, 404))
    nothing_forwarded(gw)


@pytest.mark.parametrize("path", [f"{API}/templates/%2e%2e", f"{API}/templates/..;",
                                  f"{API}/templates/tpl%2F1", f"{API}//templates"],
                         ids=["acs-dotdot-encoded", "acs-dotdot-semicolon", "acs-encoded-slash", "acs-double-slash"])
def test_signed_agentrun_path_tricks_are_never_forwarded(gw, path):
    from test_acs3_raw import sign

    ex = send(gw, request("GET", path, list(sign(gw, "GET", path).items())))
    assert ex.statuses[:1] in ([400], [404]), ex
    body = ex.responses[0].json()
    assert body and body.get("Code") not in ACS_AUTH_CODES, body
    nothing_forwarded(gw)


# --- HTTP/2: over TLS and h2c with prior knowledge ------------------------------


@pytest.fixture(scope="module")
def tls_gw(tmp_path_factory, iamgate_bin):
    """A second stack whose gateway listens with TLS (ALPN h2)."""
    work = tmp_path_factory.mktemp("hostile-tls")
    cert, key = self_signed_cert(work)
    s = start_stack(work, iamgate_bin, extra=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n')
    s.cert = cert
    yield s
    stop_stack(s)


@pytest.fixture(params=["tls", "h2c"])
def h2gw(request, gw):
    """(stack, cafile, scheme) for one HTTP/2 transport; upstream log cleared."""
    if request.param == "h2c":
        return gw, None, "http"
    stack = request.getfixturevalue("tls_gw")
    stack.clear_upstream()
    return stack, stack.cert, "https"


def _h2(h2gw, path, extra=(), data=None, method="GET", authority=None):
    stack, cafile, scheme = h2gw
    headers = [(":method", method), (":scheme", scheme), (":authority", authority or hostport(stack)),
               (":path", path), ("x-auth-token", TOKEN), *extra]
    return h2_request(stack.host, stack.port, headers, data=data, cafile=cafile)


def test_h2_allowed_get_reaches_the_upstream_with_the_authority_as_host(h2gw):
    status, body = _h2(h2gw, NB)
    assert status == 200, body
    seen = one_forwarded(h2gw[0], "GET", NB)
    assert seen["headers"]["host"] == hostport(h2gw[0]), seen


def test_h2_denied_get_is_403_and_never_forwarded(h2gw):
    status, body = _h2(h2gw, DENIED)
    assert status == 403, body
    assert json.loads(body)["error_code"] == "APIGW.0302"
    nothing_forwarded(h2gw[0])


def test_h2_host_disagreeing_with_authority_is_400(h2gw):
    status, body = _h2(h2gw, NB, extra=[("host", "evil.example")])
    assert status == 400, body
    assert json.loads(body)["error_code"] == "APIGW.0201"
    nothing_forwarded(h2gw[0])


def test_h2_data_on_a_bodyless_route_is_400(h2gw):
    status, body = _h2(h2gw, NB1, data=b"hello")
    assert status == 400, body
    assert json.loads(body)["error_code"] == "APIGW.0201"
    nothing_forwarded(h2gw[0])


def test_h2_duplicate_token_is_400(h2gw):
    status, body = _h2(h2gw, NB, extra=[("x-auth-token", TOKEN)])
    assert status == 400, body
    nothing_forwarded(h2gw[0])


def test_h2_post_is_forwarded_with_the_gateways_content_length(h2gw):
    status, body = _h2(h2gw, NB, extra=[("content-type", "application/json")], data=BODY, method="POST")
    assert status == 200, body
    seen = one_forwarded(h2gw[0], "POST", NB, body_len=len(BODY))
    assert seen["headers"].get("content-length") == str(len(BODY)), seen
