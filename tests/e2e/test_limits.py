"""Connection and body limits against a running gateway (issue 15 item 1,
upstream body deadline of item 4), each with the limit at 1 s so that a
missing limit shows as a connection still open, or a request still served,
well past it (the defaults are 10 s or more):

- ``header_read_timeout_ms``: a silent connection, and a keep-alive one idle
  after a request, are closed;
- ``tls_handshake_timeout_ms``: a TLS client that never finishes its
  handshake is dropped;
- ``idle_timeout_ms``: an h2c connection with no stream gets GOAWAY, then EOF;
- ``max_connections``: a 5th connection is served only once one of 4 closes;
- ``body_read_timeout_ms``: a short body is 408 and never forwarded;
- ``max_body_bytes_in_flight``: a second large body is 503 ``busy``;
- ``upstream_body_timeout_ms``: a stalled upstream body ends the response.
"""

import socket
import time

import pytest
from conftest import admin_get, metric_samples, self_signed_cert, start_stack, stop_stack
from h2_frames import (ACK, DATA, END_STREAM, GOAWAY, HEADERS, PING, describe, first_response,
                       h2_frames_until_closed, h2c_get, h2c_session)
from hostile_cases import NB, token_headers
from hostile_client import read_responses, request
from slow_upstream import SlowUpstream

LIMIT = 1.0  # seconds: every limit under test is 1000 ms
SLACK = 0.6  # scheduling on a loaded 2-core machine


def limits(**keys):
    return "[limits]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())


@pytest.fixture(scope="module")
def stacks(tmp_path_factory, iamgate_bin):
    """Gateways started on demand (each with its own limits), stopped at the end."""
    started, upstreams = [], []

    def start(name, extra, slow=False):
        url = None
        if slow:
            upstreams.append(SlowUpstream())
            url = upstreams[-1].url
        s = start_stack(tmp_path_factory.mktemp(name), iamgate_bin, extra, modelarts_url=url)
        s.slow = upstreams[-1] if slow else None
        started.append(s)
        return s

    yield start
    for s in started:
        stop_stack(s)
    for u in upstreams:
        u.close()


def protocol_errors(stack, kind):
    status, text = admin_get(stack, "/metrics")
    assert status == 200
    samples = metric_samples(text, "iamgate_protocol_errors_total")
    return sum(v for labels, v in samples if labels.get("kind") == kind)


def wait_metric(stack, kind, at_least, timeout=2.0):
    """The counter may be bumped just after the socket closed."""
    deadline = time.monotonic() + timeout
    while protocol_errors(stack, kind) < at_least and time.monotonic() < deadline:
        time.sleep(0.05)
    return protocol_errors(stack, kind)


def seconds_until_closed(sock, timeout, got=None):
    """Read until EOF or reset (bytes appended to ``got``) → seconds taken; None if still open."""
    began = time.monotonic()
    sock.settimeout(0.05)
    while time.monotonic() - began < timeout:
        try:
            chunk = sock.recv(65536)
            if got is not None:
                got.append(chunk)
            if not chunk:
                return time.monotonic() - began
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - began
    return None


def token_get(gw, target=NB):
    return request("GET", target, token_headers(gw))


# --- header read timeout ----------------------------------------------------------


@pytest.fixture(scope="module")
def header_gw(stacks):
    # idle_timeout far above: what closes these connections is the header timeout.
    return stacks("header", limits(header_read_timeout_ms=1000, idle_timeout_ms=60000))


def test_a_silent_connection_is_closed_at_the_header_timeout(header_gw):
    before = protocol_errors(header_gw, "idle")
    with socket.create_connection((header_gw.host, header_gw.port)) as sock:
        took = seconds_until_closed(sock, LIMIT + 3)
    print(f"silent HTTP/1 connection closed after {took}s")
    assert took is not None and LIMIT - 0.1 <= took <= LIMIT + SLACK, took
    assert wait_metric(header_gw, "idle", before + 1) == before + 1


def test_an_idle_keep_alive_connection_is_closed_at_the_header_timeout(header_gw):
    before = protocol_errors(header_gw, "header_timeout")
    with socket.create_connection((header_gw.host, header_gw.port), timeout=3) as sock:
        sock.sendall(token_get(header_gw))
        ex = read_responses(sock, time.monotonic(), 1, 3.0, 0.0)
        assert ex.statuses == [200] and not ex.closed, ex
        took = seconds_until_closed(sock, LIMIT + 3)
    print(f"idle keep-alive HTTP/1 connection closed {took}s after its response")
    assert took is not None and took <= LIMIT + SLACK, took
    assert wait_metric(header_gw, "header_timeout", before + 1) == before + 1


# --- TLS handshake timeout --------------------------------------------------------


@pytest.fixture(scope="module")
def tls_gw(stacks, tmp_path_factory):
    cert, key = self_signed_cert(tmp_path_factory.mktemp("tls-cert"))
    extra = f'[tls]\ncert = "{cert}"\nkey = "{key}"\n'
    return stacks("tls", extra + limits(tls_handshake_timeout_ms=1000, header_read_timeout_ms=10000))


# A TLS record header announcing a 512-byte ClientHello that never comes.
PARTIAL_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])


@pytest.mark.parametrize("sent", [b"", PARTIAL_HELLO], ids=["nothing", "partial-client-hello"])
def test_an_unfinished_tls_handshake_is_dropped_at_its_timeout(tls_gw, sent):
    before = protocol_errors(tls_gw, "tls_handshake")
    with socket.create_connection((tls_gw.host, tls_gw.port)) as sock:
        sock.sendall(sent)
        took = seconds_until_closed(sock, LIMIT + 3)
    print(f"unfinished TLS handshake ({len(sent)} bytes) dropped after {took}s")
    assert took is not None and LIMIT - 0.1 <= took <= LIMIT + SLACK, took
    assert wait_metric(tls_gw, "tls_handshake", before + 1) == before + 1


# --- HTTP/2 idle timeout ----------------------------------------------------------


@pytest.fixture(scope="module")
def idle_gw(stacks):
    return stacks("idle", limits(idle_timeout_ms=1000, header_read_timeout_ms=10000), slow=True)


def test_an_h2c_connection_without_streams_gets_goaway_at_the_idle_timeout(idle_gw):
    sock, _ = h2c_session(idle_gw)
    with sock:
        frames, took = h2_frames_until_closed(sock, LIMIT + 3)
    print(f"h2c idle: frames {describe(frames)}, closed at {took}s")
    assert took is not None and LIMIT - 0.1 <= took <= LIMIT + SLACK, (took, describe(frames))
    goaways = [(t, p) for t, k, _, p in frames if k == GOAWAY]
    assert goaways and goaways[0][0] <= took, describe(frames)
    assert all(int.from_bytes(p[4:8], "big") == 0 for _, p in goaways), "NO_ERROR: a graceful close"


def test_an_h2c_connection_idle_after_a_request_is_closed_too(idle_gw):
    frames, took = h2c_get(idle_gw, NB, LIMIT + 4)
    ended = [t for t, k, f, _ in frames if k in (HEADERS, DATA) and f & END_STREAM]
    assert first_response(frames)[1] == "200" and ended, describe(frames)
    print(f"h2c idle after a request: answered at {ended[0]:.2f}s, closed at {took}s")
    assert took is not None and took - ended[0] <= LIMIT + SLACK, (took, describe(frames))
    assert any(k == GOAWAY for _, k, _, _ in frames), describe(frames)


def test_a_request_in_flight_keeps_an_h2c_connection_open_and_pinged(idle_gw):
    """2 s upstream answer, idle timeout 1 s: not idle while a stream is open;
    the keep-alive ping (every min(idle, 30 s)) checks the silent client."""
    frames, took = h2c_get(idle_gw, f"{NB}/nb-slow", LIMIT + 5)
    answered, status = first_response(frames) or (None, None)
    assert status == "200", describe(frames)
    pings = [t for t, k, f, _ in frames if k == PING and not f & ACK and t < answered]
    goaway = [t for t, k, _, _ in frames if k == GOAWAY]
    print(f"h2c slow request: answered at {answered:.2f}s, keep-alive pings at "
          f"{[round(t, 2) for t in pings]}, GOAWAY at {[round(t, 2) for t in goaway]}, closed at {took}s")
    assert answered >= 1.9 and pings, describe(frames)
    assert goaway and min(goaway) > answered, "no GOAWAY while the stream was open"


# --- connection cap ---------------------------------------------------------------


@pytest.fixture(scope="module")
def capped_gw(stacks):
    return stacks("capped", limits(max_connections=4))


def test_a_fifth_connection_waits_for_one_of_four_to_close(capped_gw):
    held = []
    for _ in range(4):
        sock = socket.create_connection((capped_gw.host, capped_gw.port), timeout=3)
        sock.sendall(token_get(capped_gw))
        ex = read_responses(sock, time.monotonic(), 1, 3.0, 0.0)
        assert ex.statuses == [200] and not ex.closed, ex
        held.append(sock)
    fifth = socket.create_connection((capped_gw.host, capped_gw.port), timeout=3)  # kernel backlog
    try:
        fifth.sendall(token_get(capped_gw))
        waiting = read_responses(fifth, time.monotonic(), 1, 1.5, 0.0)
        assert waiting.statuses == [] and not waiting.closed, waiting
        assert admin_get(capped_gw, "/readyz")[0] == 200  # the admin listener is not capped
        held.pop().close()
        began = time.monotonic()
        served = read_responses(fifth, began, 1, 3.0, 0.0)
        print(f"5th connection served {served.elapsed:.3f}s after one of 4 closed")
        assert served.statuses == [200], served
    finally:
        fifth.close()
        for sock in held:
            sock.close()


# --- request bodies ---------------------------------------------------------------


MIB = 1024 * 1024


@pytest.fixture(scope="module")
def body_gw(stacks):
    return stacks("bodies", limits(body_read_timeout_ms=1000, max_body_bytes=MIB,
                                   max_body_bytes_in_flight=MIB))


def post_head(gw, length):
    return request("POST", NB, token_headers(gw, ("Content-Type", "application/json"),
                                             ("Content-Length", str(length))))


def test_a_body_that_does_not_arrive_in_time_is_408_and_never_forwarded(body_gw):
    body_gw.clear_upstream()
    with socket.create_connection((body_gw.host, body_gw.port), timeout=4) as sock:
        began = time.monotonic()
        sock.sendall(post_head(body_gw, 100) + b'{"name":"x')
        ex = read_responses(sock, began, 1, LIMIT + 3, 0.0)
    print(f"body_read_timeout: 408 after {ex.elapsed:.2f}s")
    assert ex.statuses == [408], ex
    assert ex.responses[0].json()["error_code"] == "APIGW.0201", ex
    assert LIMIT - 0.1 <= ex.elapsed <= LIMIT + SLACK, ex
    assert body_gw.upstream_requests() == []


def test_a_second_large_body_is_refused_busy_while_the_first_holds_the_budget(body_gw):
    body_gw.clear_upstream()
    length = 800 * 1024
    payload = b'{"name":"nb-budget","description":"x"}'
    payload += b" " * (length - len(payload))
    first = socket.create_connection((body_gw.host, body_gw.port), timeout=4)
    try:
        first.sendall(post_head(body_gw, length) + payload[:1000])  # holds 800 KiB of 1 MiB
        time.sleep(0.1)
        with socket.create_connection((body_gw.host, body_gw.port), timeout=4) as second:
            second.sendall(post_head(body_gw, length) + payload[:1000])
            refused = read_responses(second, time.monotonic(), 1, 3.0, 0.0)
        assert refused.statuses == [503], refused
        assert refused.responses[0].json()["error_code"] == "APIGW.0201", refused
        assert "busy" in refused.responses[0].json()["error_msg"], refused
        first.sendall(payload[1000:])
        done = read_responses(first, time.monotonic(), 1, 3.0, 0.0)
        assert len(done.statuses) == 1 and done.statuses[0] < 500, done
    finally:
        first.close()
    time.sleep(0.05)
    seen = [(r["method"], r["path"], r["body_len"]) for r in body_gw.upstream_requests()]
    assert seen == [("POST", NB, length)], "only the first body is forwarded"
    # The budget came back with the first request: a third large body is served.
    with socket.create_connection((body_gw.host, body_gw.port), timeout=4) as third:
        third.sendall(post_head(body_gw, length) + payload)
        again = read_responses(third, time.monotonic(), 1, 3.0, 0.0)
    assert len(again.statuses) == 1 and again.statuses[0] < 500, again


# --- upstream body deadline -------------------------------------------------------


def read_head(sock, timeout):
    """Bytes up to the end of the response head (and whatever came with it)."""
    buf, deadline = b"", time.monotonic() + timeout
    while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_a_stalled_upstream_body_ends_the_response_at_its_timeout(stacks):
    gw = stacks("stalled", limits(upstream_body_timeout_ms=1000), slow=True)
    with socket.create_connection((gw.host, gw.port), timeout=8) as sock:
        began = time.monotonic()
        sock.sendall(token_get(gw, f"{NB}/nb-stall"))
        head = read_head(sock, 3.0)
        head_at = time.monotonic() - began
        assert head.startswith(b"HTTP/1.1 200") and b"content-length: 1000" in head.lower(), head
        got = [head.partition(b"\r\n\r\n")[2]]
        took = seconds_until_closed(sock, LIMIT + 4, got)
    print(f"stalled upstream body: head after {head_at:.3f}s, connection closed {took}s after the head")
    assert head_at < 0.5, "the head is streamed at once"
    assert len(b"".join(got)) == 10, "the client sees an incomplete body, not a made-up end"
    assert took is not None and LIMIT - 0.1 - head_at <= took <= LIMIT + SLACK, took
    assert [(m, p) for m, p, _ in gw.slow.seen()] == [("GET", f"{NB}/nb-stall")]
