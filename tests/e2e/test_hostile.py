"""The project's own hostile suite (issue 8 item 6), part 1: raw-socket
requests that attack framing (Transfer-Encoding, Content-Length, chunks, line
endings, sizes, bodies on body-less routes), meaning-changing and forwarding
headers, duplicate credential and Host headers, request targets and methods —
each checked for the status (or a prompt close where the spec allows it) and
for exactly what the recording upstream received: nothing, or the one
authorised request. Part 2 (connections, paths, HTTP/2): test_hostile_conn.py.

Every attack is built on a request alice is allowed to make (her token on
the notebooks), so an attack that the gateway lets through shows up as a
forwarded request, not as a coincidental 401/403.
"""

import pytest
from hostile_cases import (API, BODY, DENIED, NB, NB1, get, hostport, nothing_forwarded,
                           one_forwarded, post, refused_400, refused_or_closed, send,
                           token_headers)
from hostile_client import TOKEN, chunked, request

CHUNKED_BODY = chunked(BODY, [5, 7])

# --- framing: Transfer-Encoding and Content-Length ------------------------------


@pytest.mark.parametrize("framing", [
    [("Transfer-Encoding", "chunked"), ("Content-Length", "4")],
    [("Content-Length", "4"), ("Transfer-Encoding", "chunked")],
    [("Content-Length", str(len(CHUNKED_BODY))), ("Transfer-Encoding", "chunked")],
], ids=["te-then-short-cl", "cl.te-short-cl", "te.cl-exact-cl"])
def test_te_with_cl_is_400_and_closes(gw, framing):
    smuggled = get(gw, f"{NB}/smuggled")
    ex = send(gw, post(gw, CHUNKED_BODY, framing) + smuggled, expect=1, linger=0.5)
    assert ex.statuses[:1] == [400], ex
    assert len(ex.responses) <= 1 and ex.closed, f"no second response, connection closed: {ex}"
    nothing_forwarded(gw)


@pytest.mark.parametrize("te", [
    "gzip, chunked", "chunked, identity", "identity, chunked", "identity", "gzip", "deflate",
    "xchunked", "chunkedx", "chunked;q=1", '"chunked"', "chunked,", ",chunked", "chunked, chunked",
    "chunked\x0b", "\x0cchunked", "chu nked",
])
def test_transfer_encoding_other_than_chunked_is_400(gw, te):
    ex = send(gw, post(gw, CHUNKED_BODY, [("Transfer-Encoding", te)]))
    assert ex.statuses[:1] == [400], ex
    nothing_forwarded(gw)


@pytest.mark.parametrize("raw_headers", [
    b"Transfer-Encoding : chunked\r\n",
    b"Transfer-Encoding\t: chunked\r\n",
    b" Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
], ids=["space-before-colon", "tab-before-colon", "leading-space-name", "two-te-equal",
        "two-te-identity-chunked", "two-te-chunked-gzip"])
def test_obfuscated_or_repeated_te_header_is_400(gw, raw_headers):
    head = request("POST", NB, token_headers(gw, ("Content-Type", "application/json")))
    data = head[:-2] + raw_headers + b"\r\n" + CHUNKED_BODY
    ex = send(gw, data)
    assert ex.statuses[:1] == [400], ex
    nothing_forwarded(gw)


@pytest.mark.parametrize("lengths", [
    ["5", "5"], ["5", "6"], ["5, 5"], ["5,6"], ["+5"], ["-1"], ["0x10"], [" 5 x"], ["5 x"],
    ["5.0"], ["1e1"], [""], ["\uff15"],
], ids=["dup-equal", "dup-differ", "list-equal", "list-differ", "plus", "minus", "hex", "junk-space",
        "junk-after", "decimal", "exponent", "empty", "fullwidth-digit"])
def test_bad_content_length_is_400(gw, lengths):
    framing = [("Content-Length", v.encode("utf-8")) for v in lengths]
    ex = send(gw, post(gw, b"hello", framing))
    assert ex.statuses[:1] == [400], ex
    nothing_forwarded(gw)


def test_chunk_extension_is_refused_or_forwarded_reframed(gw):
    body = b"5;ext=1\r\nhello\r\n0\r\n\r\n"
    ex = send(gw, post(gw, body, [("Transfer-Encoding", "chunked")]))
    if ex.responses and ex.responses[0].status == 200:
        seen = one_forwarded(gw, "POST", NB, body_len=5)
        assert seen["headers"].get("content-length") == "5"
        assert "transfer-encoding" not in seen["headers"]
    else:
        refused_or_closed(ex)
        nothing_forwarded(gw)


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhelloX0\r\n\r\n",
    b"5\nhello\n0\n\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"5 \x00\r\nhello\r\n0\r\n\r\n",
], ids=["non-hex", "huge-hex", "missing-crlf", "bare-lf-chunks", "negative", "0x-prefix", "nul-in-size"])
def test_bad_chunk_framing_is_refused(gw, body):
    ex = send(gw, post(gw, body, [("Transfer-Encoding", "chunked")]), timeout=2.0)
    refused_or_closed(ex, statuses=(400,))
    nothing_forwarded(gw)


# --- line endings, folding, control bytes ----------------------------------------


def _raw_get(gw, lines, eol=b"\r\n"):
    return eol.join([f"GET {NB} HTTP/1.1".encode(), *lines]) + eol + eol


@pytest.mark.parametrize("build", [
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode(), b"X-Auth-Token: " + TOKEN.encode()], b"\n"),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode() + b"\nX-Auth-Token: " + TOKEN.encode()]),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode() + b"\rX-Evil: 1", b"X-Auth-Token: " + TOKEN.encode()]),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode(), b"X-Auth-Token: " + TOKEN.encode(), b" X-Folded: 1"]),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode(), b"X-Auth-Token: " + TOKEN.encode(), b"\tfolded"]),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode(), b"X-Auth-Token: " + TOKEN.encode(), b"X-A: a\x00b"]),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode(), b"X-Auth-Token: " + TOKEN.encode() + b"\x00"]),
    lambda gw: _raw_get(gw, [b"Host: " + hostport(gw).encode(), b"X-Auth-Token: " + TOKEN.encode(), b"X-A: a\rb"]),
], ids=["bare-lf-everywhere", "bare-lf-one-line", "bare-cr-in-host", "obs-fold-space", "obs-fold-tab",
        "nul-in-value", "nul-after-token", "cr-in-value"])
def test_bad_line_endings_and_control_bytes_are_refused(gw, build):
    ex = send(gw, build(gw), timeout=2.0)
    refused_or_closed(ex)
    nothing_forwarded(gw)


# --- sizes -----------------------------------------------------------------------

TOO_BIG = (400, 414, 431)


@pytest.mark.parametrize("build", [
    lambda gw: get(gw, f"{NB}/" + "a" * 70_000),
    lambda gw: get(gw, f"{NB}?q=" + "a" * 70_000),
    lambda gw: get(gw, NB, ("X-Big", "a" * 70_000)),
    lambda gw: get(gw, NB, *[(f"X-H{i}", "v" * 60) for i in range(1200)]),
], ids=["long-path", "long-query", "one-huge-header", "many-headers-70k"])
def test_oversize_head_is_refused(gw, build):
    ex = send(gw, build(gw), timeout=3.0)
    refused_or_closed(ex, statuses=TOO_BIG)
    assert ex.responses, f"an oversize head gets 431/414/400, not a silent close: {ex}"
    nothing_forwarded(gw)


def test_declared_body_over_limit_is_413(gw):
    ex = send(gw, post(gw, b"", [("Content-Length", str(10 * 1024 * 1024 + 1))]))
    assert ex.statuses[:1] == [413], ex
    nothing_forwarded(gw)


def test_chunked_body_over_limit_is_413(gw):
    piece = b"a" * (1024 * 1024)
    body = b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(11)) + b"0\r\n\r\n"
    head = post(gw, b"", [("Transfer-Encoding", "chunked")])
    ex = send(gw, [head, body], timeout=8.0)
    assert ex.statuses[:1] == [413], ex
    nothing_forwarded(gw)


# --- a body on a body-less route -----------------------------------------------


@pytest.mark.parametrize("method, target, framing, body", [
    ("GET", NB1, [("Content-Length", "5")], b"hello"),
    ("GET", NB1, [("Transfer-Encoding", "chunked")], chunked(b"hello")),
    ("GET", NB1, [("Transfer-Encoding", "chunked")], b"0\r\n\r\n"),
    ("GET", NB, [("Content-Length", "2")], b"{}"),
    ("DELETE", NB1, [("Content-Length", "5")], b"hello"),
    ("DELETE", NB1, [("Transfer-Encoding", "chunked")], chunked(b"hello")),
], ids=["get-one-cl", "get-one-chunked", "get-one-empty-chunked", "get-list-cl", "delete-cl",
        "delete-chunked"])
def test_body_on_bodyless_route_is_400(gw, method, target, framing, body):
    ex = send(gw, request(method, target, token_headers(gw, *framing), body))
    refused_400(ex)
    nothing_forwarded(gw)


def test_body_on_bodyless_agentrun_route_is_400(gw):
    from test_acs3_raw import sign

    body = b'{"x":1}'
    headers = sign(gw, "GET", f"{API}/templates", body=body)
    ex = send(gw, request("GET", f"{API}/templates", [*headers.items(), ("Content-Length", "7")], body))
    refused_400(ex, dialect="alibaba")
    nothing_forwarded(gw)


def test_zero_content_length_on_bodyless_route_is_fine(gw):
    ex = send(gw, get(gw, NB, ("Content-Length", "0")))
    assert ex.statuses == [200], ex
    one_forwarded(gw, "GET", NB)


@pytest.mark.parametrize("framing", ["chunked", "content-length", "cl-and-te"])
def test_smuggled_delete_in_a_get_body_never_reaches_the_upstream(gw, framing):
    delete = request("DELETE", f"{NB}/other-id", token_headers(gw, ("Content-Length", "0")))
    if framing == "chunked":
        frame, body = [("Transfer-Encoding", "chunked")], chunked(delete)
    elif framing == "content-length":
        frame, body = [("Content-Length", str(len(delete)))], delete
    else:
        frame, body = [("Content-Length", "0"), ("Transfer-Encoding", "chunked")], chunked(delete)
    ex = send(gw, request("GET", NB1, token_headers(gw, *frame), body), expect=1, linger=0.5)
    assert ex.statuses[:1] == [400], ex
    assert len(ex.responses) == 1, f"the smuggled DELETE must not be answered: {ex}"
    nothing_forwarded(gw)


# --- the forwarded framing is the gateway's own ---------------------------------


@pytest.mark.parametrize("framing", ["content-length", "chunked-3-pieces", "chunked-1-piece"])
def test_forwarded_body_has_the_gateways_content_length(gw, framing):
    if framing == "content-length":
        data = post(gw)
    else:
        sizes = [3, 10, 100] if framing == "chunked-3-pieces" else None
        data = post(gw, chunked(BODY, sizes), [("Transfer-Encoding", "chunked")])
    ex = send(gw, data)
    assert ex.statuses == [200], ex
    seen = one_forwarded(gw, "POST", NB, body_len=len(BODY))
    assert seen["headers"].get("content-length") == str(len(BODY))
    assert "transfer-encoding" not in seen["headers"]


# --- meaning-changing headers ----------------------------------------------------


@pytest.mark.parametrize("name, value", [
    ("X-Original-URL", DENIED), ("X-Rewrite-URL", DENIED), ("X-HTTP-Method-Override", "DELETE"),
    ("X-HTTP-Method", "DELETE"), ("X-Method-Override", "DELETE"), ("x-http-method-override", "PUT"),
])
def test_rewrite_and_override_headers_are_400(gw, name, value):
    ex = send(gw, get(gw, NB, (name, value)))
    refused_400(ex)
    nothing_forwarded(gw)


def test_override_header_on_agentrun_route_is_400(gw):
    from test_acs3_raw import sign

    headers = sign(gw, "GET", f"{API}/templates", extra={"x-http-method-override": "DELETE"})
    ex = send(gw, request("GET", f"{API}/templates", list(headers.items())))
    refused_400(ex, dialect="alibaba")
    nothing_forwarded(gw)


@pytest.mark.parametrize("client", [
    [],
    [("Forwarded", "for=10.9.9.9;host=evil.example;proto=https")],
    [("X-Forwarded-For", "10.9.9.9")],
    [("X-Forwarded-For", "10.9.9.9"), ("X-Forwarded-For", "10.8.8.8")],
    [("X-Forwarded-Host", "evil.example")],
    [("X-Forwarded-Proto", "https")],
    [("Forwarded", "for=10.9.9.9"), ("X-Forwarded-For", "10.9.9.9"),
     ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https")],
], ids=["none", "forwarded", "xff", "xff-twice", "xf-host", "xf-proto", "all"])
def test_forwarding_headers_are_replaced_with_the_gateways(gw, client):
    ex = send(gw, get(gw, NB, *client))
    assert ex.statuses == [200], ex
    seen = one_forwarded(gw, "GET", NB)["headers"]
    host = hostport(gw)
    assert seen.get("x-forwarded-for") == "127.0.0.1", seen
    assert seen.get("x-forwarded-proto") == "http", seen
    assert seen.get("x-forwarded-host") == host, seen
    assert seen.get("forwarded") in (f"for=127.0.0.1;host={host};proto=http",
                                     f'for=127.0.0.1;host="{host}";proto=http'), seen


# --- duplicates, Host, targets and methods ---------------------------------------


@pytest.mark.parametrize("dup", [
    [("X-Auth-Token", TOKEN)], [("X-Auth-Token", "example-token-expired-not-real")],
    [("X-Project-Id", "p-acme-cn4"), ("X-Project-Id", "p-solo-cn4")],
    [("X-Security-Token", "a"), ("X-Security-Token", "b")],
    [("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"), ("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD")],
], ids=["token-twice-equal", "token-valid-then-other", "project-id-twice", "security-token-twice",
        "content-sha256-twice"])
def test_duplicate_credential_headers_with_a_token_are_400(gw, dup):
    ex = send(gw, get(gw, NB, *dup))
    refused_400(ex)
    nothing_forwarded(gw)


@pytest.mark.parametrize("name", ["Authorization", "X-Sdk-Date", "X-Project-Id"])
def test_duplicate_signed_huawei_headers_are_400(gw, name):
    from test_raw_http import sign_huawei

    signed = sign_huawei(gw, "GET", NB)
    headers = [("Host", hostport(gw)), *signed.items(), (name, signed[name])]
    ex = send(gw, request("GET", NB, headers))
    refused_400(ex)
    nothing_forwarded(gw)


@pytest.mark.parametrize("name", ["authorization", "x-acs-date", "x-acs-signature-nonce",
                                  "x-acs-content-sha256", "x-acs-action", "x-acs-version",
                                  "x-acs-security-token"])
def test_duplicate_acs_headers_are_400(gw, name):
    from test_acs3_raw import sign

    extra = {"x-acs-security-token": "tok"} if name == "x-acs-security-token" else None
    headers = sign(gw, "GET", f"{API}/templates", extra=extra)
    ex = send(gw, request("GET", f"{API}/templates", [*headers.items(), (name, headers[name])]))
    refused_400(ex, dialect="alibaba")
    nothing_forwarded(gw)


@pytest.mark.parametrize("hosts", [["same", "same"], ["same", "evil.example"], ["evil.example", "same"]],
                         ids=["equal", "gateway-then-evil", "evil-then-gateway"])
def test_two_host_headers_are_400(gw, hosts):
    values = [hostport(gw) if h == "same" else h for h in hosts]
    ex = send(gw, request("GET", NB, [("Host", v) for v in values] + [("X-Auth-Token", TOKEN)]))
    refused_400(ex)
    nothing_forwarded(gw)


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_missing_host_is_400(gw, version):
    ex = send(gw, request("GET", NB, [("X-Auth-Token", TOKEN)], version=version))
    refused_400(ex)
    nothing_forwarded(gw)


def test_absolute_form_with_another_authority_is_400(gw):
    ex = send(gw, get(gw, f"http://evil.example{NB}"))
    refused_400(ex)
    nothing_forwarded(gw)


def test_absolute_form_with_the_same_authority_is_origin_form(gw):
    ex = send(gw, get(gw, f"http://{hostport(gw)}{NB}?limit=1"))
    assert ex.statuses == [200], ex
    seen = one_forwarded(gw, "GET", NB, query="limit=1")
    assert seen["headers"]["host"] == hostport(gw), seen


def test_asterisk_form_is_refused(gw):
    ex = send(gw, request("OPTIONS", "*", token_headers(gw)))
    assert ex.statuses[:1] in ([400], [404]), ex
    nothing_forwarded(gw)


@pytest.mark.parametrize("method, target", [
    ("CONNECT", NB), ("TRACE", NB), ("OPTIONS", NB), ("FOO", NB), ("PATCH", NB1), ("get", NB),
])
def test_unrouted_methods_on_a_known_path_are_404(gw, method, target):
    ex = send(gw, request(method, target, token_headers(gw)))
    assert ex.statuses[:1] == [404], ex
    assert ex.responses[0].json()["error_code"] == "APIGW.0101"
    nothing_forwarded(gw)


def test_connect_authority_form_is_refused(gw):
    ex = send(gw, request("CONNECT", hostport(gw), token_headers(gw)))
    assert ex.statuses[:1] in ([400], [404]), ex
    nothing_forwarded(gw)
