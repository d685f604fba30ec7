"""The shared ACS3 replay store on a real ``redis-server`` (Debian package,
installed by tests/run.sh): two gateways pointing at one Redis refuse a nonce
either has accepted; Redis killed under load turns ACS3 requests into 503
``ServiceUnavailable`` (counted, logged, nothing forwarded, Huawei traffic
unaffected); Redis restarted → ACS3 requests pass again without restarting
either gateway."""

import shutil
import socket
import subprocess
import threading
import time

import pytest
from conftest import admin_get, metric_samples, signed_call, start_stack, stop_stack
from samples import ACME_PROJECT, ALICE, RUNNER
from test_acs3_raw import API, raw, refused, sign

NB = f"/v1/{ACME_PROJECT}/notebooks"
TEMPLATES = f"{API}/templates"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A throw-away redis-server on a fixed port (so a restart keeps its URL)."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: tests/run.sh installs Debian's redis-server")
    server = Redis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    if server.proc.poll() is None:
        server.kill()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, iamgate_bin, redis):
    """Two gateways (each with its own mock upstream) sharing one Redis."""
    extra = f'[nonce_store]\nurl = "{redis.url}"\ntimeout_ms = 200\n'
    stacks = [start_stack(tmp_path_factory.mktemp(f"gw{i}"), iamgate_bin, extra) for i in range(2)]
    yield stacks
    for s in stacks:
        stop_stack(s)


def acs3_get(gw, nonce=None):
    return raw(gw, "GET", TEMPLATES, sign(gw, "GET", TEMPLATES, creds=RUNNER, nonce=nonce))


def unavailable_count(gw):
    _, text = admin_get(gw, "/metrics")
    return sum(v for labels, v in metric_samples(text, "iamgate_nonce_store_rejections_total")
               if labels.get("reason") == "unavailable")


def test_a_nonce_accepted_by_one_replica_is_refused_by_the_other(fleet):
    a, b = fleet
    for s in fleet:
        s.clear_upstream()
    headers = sign(a, "GET", TEMPLATES, creds=RUNNER)
    status, body, _ = raw(a, "GET", TEMPLATES, headers)
    assert status == 200, body
    assert len(a.upstream_requests()) == 1
    # The same bytes replayed on the other replica (Host is signed, not routed on).
    refused(b, raw(b, "GET", TEMPLATES, headers), 400, "SignatureNonceUsed")
    # A fresh nonce still passes on the other replica.
    status, body, _ = acs3_get(b)
    assert status == 200, body


def test_a_forged_request_does_not_burn_the_nonce_in_redis(fleet):
    a, b = fleet
    b.clear_upstream()
    headers = sign(a, "GET", TEMPLATES, creds=RUNNER)
    forged = dict(headers, authorization=headers["authorization"][:-4] + "0000")
    refused(b, raw(b, "GET", TEMPLATES, forged), 400, "SignatureDoesNotMatch")
    status, body, _ = raw(a, "GET", TEMPLATES, headers)
    assert status == 200, body


def load(gw, stop, results):
    """Fresh ACS3 requests in a loop until ``stop`` is set: [(time, status, Code)]."""
    while not stop.is_set():
        status, body, _ = acs3_get(gw)
        results.append((time.monotonic(), status, body.get("Code")))


def test_redis_killed_mid_load_fails_closed_then_recovers(fleet, redis):
    a, b = fleet
    before = unavailable_count(a)
    stop, results = threading.Event(), []
    worker = threading.Thread(target=load, args=(a, stop, results))
    worker.start()
    try:
        time.sleep(0.5)
        redis.kill()
        killed = time.monotonic()
        time.sleep(1.5)
        # During the outage: 503 in the Alibaba dialect, nothing forwarded.
        b.clear_upstream()
        refused(b, acs3_get(b), 503, "ServiceUnavailable")
        # Huawei requests carry no nonce and are not affected.
        assert signed_call(a, "GET", NB, ALICE)[0] == 200
        restarted = time.monotonic()  # before: the gateway may reach it before our PING does
        redis.start()
        deadline = restarted + 10
        while time.monotonic() < deadline and not any(t > restarted and s == 200 for t, s, _ in results):
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(30)
    assert any(t < killed and s == 200 for t, s, _ in results), "requests passed before the kill"
    outage = [(s, c) for t, s, c in results if killed + 0.5 < t < restarted]
    assert outage and set(outage) == {(503, "ServiceUnavailable")}, outage[:5]
    # Never accepted unchecked: nothing but 200 and 503 throughout.
    assert {s for _, s, _ in results} <= {200, 503}
    assert any(t > restarted and s == 200 for t, s, _ in results), "recovered without a gateway restart"
    # Both gateways recover, and replay protection is shared again.
    headers = sign(b, "GET", TEMPLATES, creds=RUNNER)
    deadline = time.monotonic() + 10
    while raw(b, "GET", TEMPLATES, headers)[0] == 503 and time.monotonic() < deadline:
        headers = sign(b, "GET", TEMPLATES, creds=RUNNER)
        time.sleep(0.1)
    refused_body = raw(a, "GET", TEMPLATES, headers)
    assert (refused_body[0], refused_body[1]["Code"]) == (400, "SignatureNonceUsed")
    # Counted and logged once per outage.
    assert unavailable_count(a) > before
    logs = "\n".join(a.gateway.errors + a.gateway.output)
    assert logs.count("nonce store: Redis is unavailable") >= 1
    assert "nonce store: Redis answers again" in logs


def test_outage_requests_answer_within_the_timeout(fleet, redis):
    a, _ = fleet
    redis.kill()
    try:
        for _ in range(3):
            start = time.monotonic()
            a.clear_upstream()
            refused(a, acs3_get(a), 503, "ServiceUnavailable")
            assert time.monotonic() - start < 2.0, "bounded by timeout_ms, not a TCP timeout"
    finally:
        redis.start()


def test_a_gateway_started_while_redis_is_down_serves_once_it_is_up(tmp_path, iamgate_bin):
    later = Redis(tmp_path)
    gw = start_stack(tmp_path / "gw", iamgate_bin, f'[nonce_store]\nurl = "{later.url}"\ntimeout_ms = 200\n')
    try:
        # Starts and is ready (Huawei traffic must not wait for Redis) ...
        assert admin_get(gw, "/readyz")[0] == 200
        assert signed_call(gw, "GET", NB, ALICE)[0] == 200
        # ... but refuses ACS3 requests until Redis answers.
        gw.clear_upstream()
        refused(gw, acs3_get(gw), 503, "ServiceUnavailable")
        later.start()
        deadline = time.monotonic() + 10
        status = None
        while time.monotonic() < deadline and status != 200:
            status, body, _ = acs3_get(gw)
            time.sleep(0.05)
        assert status == 200, body
    finally:
        stop_stack(gw)
        if later.proc is not None:
            later.kill()
