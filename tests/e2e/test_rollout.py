"""Rollouts lose nothing (issue 15 item 4): SIGTERM in the middle of load.

Client threads act as a load balancer would: alice's allowed GET in a loop
over keep-alive connections, ``/readyz`` polled every 100 ms, and no *new*
request once it has answered 503 for ``LB_LAG`` (a real balancer needs a
moment to take a backend out; ``drain_delay_ms`` is there to cover it).
Another request is in flight to an upstream that answers after 2 s when the
signal arrives. Every request sent must succeed, the slow one included; the
listener must still accept during the drain delay and stop only after
``/readyz`` turned 503; the process must exit 0 within the grace period.
"""

import http.client
import signal
import socket
import threading
import time
import urllib.request

import pytest
from conftest import self_signed_cert, start_stack, stop_process
from h2_frames import GOAWAY, describe, first_response, h2c_get
from hostile_cases import NB
from hostile_client import TOKEN
from slow_upstream import SLOW_SECONDS, SlowUpstream

DRAIN, GRACE = 1.5, 5.0
LB_LAG = 0.5  # seconds between /readyz failing and the balancer sending nothing new
CLIENTS = 4
EXTRA = f"[limits]\ndrain_delay_ms = {int(DRAIN * 1000)}\nshutdown_grace_ms = {int(GRACE * 1000)}\n"


def get(host, port, path, conn=None):
    """alice's GET → status (a new connection when ``conn`` is None)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers={"X-Auth-Token": TOKEN})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        if own:
            conn.close()


class Balancer:
    """The load balancer's view of one gateway: readiness and traffic."""

    def __init__(self, stack):
        self.stack = stack
        self.out = threading.Event()  # the balancer has taken the backend out
        self.unready_at = None  # when /readyz first answered 503
        self.readyz_errors = []  # /readyz unreachable before it said 503
        self.sent = []  # (time, status or exception) of every request sent
        self.lock = threading.Lock()

    def poll_readiness(self, until):
        while time.monotonic() < until and not self.out.is_set():
            try:
                with urllib.request.urlopen(f"{self.stack.admin_url}/readyz", timeout=1) as r:
                    r.read()
            except urllib.error.HTTPError as e:
                if e.code == 503 and self.unready_at is None:
                    self.unready_at = time.monotonic()
                    threading.Timer(LB_LAG, self.out.set).start()
            except OSError as e:
                self.readyz_errors.append(repr(e))
                self.out.set()
            time.sleep(0.1)

    def client(self):
        conn = http.client.HTTPConnection(self.stack.host, self.stack.port, timeout=10)
        while not self.out.is_set():
            try:
                outcome = get(self.stack.host, self.stack.port, NB, conn)
            except (OSError, http.client.HTTPException) as e:
                outcome = repr(e)
                conn.close()  # a real balancer would retry on a new connection: count it failed
            with self.lock:
                self.sent.append((time.monotonic(), outcome))
            time.sleep(0.01)
        return conn  # kept open: the gateway closes idle connections when it drains


def first_refusal(host, port, since, until):
    """Connect every 50 ms from ``since`` → the first time a connect is refused."""
    while time.monotonic() < until:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            return time.monotonic()
        time.sleep(0.05)
    return None


def run_in_thread(target, *args):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", target(*args)), daemon=True)
    thread.start()
    return thread, result


def test_sigterm_under_load_loses_no_request(tmp_path, iamgate_bin):
    slow = SlowUpstream()
    stack = start_stack(tmp_path, iamgate_bin, EXTRA, modelarts_url=slow.url)
    try:
        report = rollout(stack)
        report["upstream"] = slow.seen()
    finally:
        stop_process(stack.gateway)
        stop_process(stack.mock)
        slow.close()
    check(report)


def rollout(stack):
    lb = Balancer(stack)
    host, port = stack.host, stack.port
    clients = [run_in_thread(lb.client) for _ in range(CLIENTS)]
    poller = run_in_thread(lb.poll_readiness, time.monotonic() + 15)
    time.sleep(0.7)  # steady load first
    slow_started = time.monotonic()
    slow_thread, slow_result = run_in_thread(get, host, port, f"{NB}/nb-slow")
    h2_thread, h2_result = run_in_thread(h2c_get, stack, f"{NB}/nb-slow", DRAIN + GRACE)
    time.sleep(0.3)  # the slow request is in flight upstream
    sigterm_at = time.monotonic()
    stack.gateway.proc.send_signal(signal.SIGTERM)
    probe = run_in_thread(first_refusal, host, port, sigterm_at, sigterm_at + DRAIN + GRACE)
    while lb.unready_at is None and time.monotonic() < sigterm_at + 2:
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the drain delay, the balancer still routes here
    new_conn_at = time.monotonic()
    try:
        new_conn = get(host, port, NB)
    except (OSError, http.client.HTTPException) as e:
        new_conn = repr(e)
    code = stack.gateway.proc.wait(DRAIN + GRACE + 2)
    exited_at = time.monotonic()
    for thread, _ in [*clients, poller, probe, (slow_thread, None), (h2_thread, None)]:
        thread.join(5)
    return {
        "lb": lb, "sigterm_at": sigterm_at, "slow_started": slow_started,
        "slow": slow_result.get("value"), "h2": h2_result.get("value"), "new_conn": new_conn, "new_conn_at": new_conn_at,
        "refused_at": probe[1].get("value"), "code": code, "exited_at": exited_at,
    }


def check(r):
    lb, t0 = r["lb"], r["sigterm_at"]
    after = [s for t, s in lb.sent if t >= t0]
    failed = [(round(t - t0, 3), s) for t, s in lb.sent if not (isinstance(s, int) and 200 <= s < 300)]
    rel = {k: None if r[k] is None else round(r[k] - t0, 3)
           for k in ("refused_at", "exited_at", "new_conn_at")}
    print(f"\nrollout: {len(lb.sent)} requests ({len(after)} after SIGTERM), {len(failed)} failed {failed[:3]}; "
          f"/readyz 503 at +{lb.unready_at - t0 if lb.unready_at else None:.3f}s; new connection at "
          f"+{rel['new_conn_at']}s → {r['new_conn']}; listener refused at +{rel['refused_at']}s; "
          f"slow request → {r['slow']} (sent {t0 - r['slow_started']:.2f}s before SIGTERM); "
          f"exit {r['code']} at +{rel['exited_at']}s")
    assert failed == [], failed[:5]
    assert len(after) > 0, "the balancer kept sending during its lag"
    assert lb.readyz_errors == [], lb.readyz_errors
    assert lb.unready_at is not None and lb.unready_at - t0 < 0.4, "readiness flips at once"
    assert r["new_conn"] == 200, r["new_conn"]
    assert r["slow"] == 200, "the in-flight request finished"
    forwarded = [p for m, p, _ in r["upstream"] if (m, p) == ("GET", NB)]
    assert len(forwarded) == len(lb.sent) + 1, "every request (and the new connection's) reached the upstream"
    assert r["refused_at"] is not None and r["refused_at"] - t0 >= DRAIN - 0.1, rel
    assert lb.unready_at < r["refused_at"], "/readyz fails before the listener closes"
    assert r["code"] == 0
    frames, h2_closed = r["h2"]
    answered, status = first_response(frames) or (None, None)
    goaways = [t for t, k, _, _ in frames if k == GOAWAY]
    print(f"h2c request in flight: GOAWAY at {[round(t + r['slow_started'] - t0, 2) for t in goaways]}s, "
          f"answered {status} at +{answered + r['slow_started'] - t0:.2f}s, closed at "
          f"+{h2_closed + r['slow_started'] - t0:.2f}s (relative to SIGTERM)")
    assert status == "200" and goaways and h2_closed is not None, describe(frames)
    assert min(goaways) < answered <= h2_closed, "asked to finish (GOAWAY), then answered, then closed"
    slow_done = r["slow_started"] + SLOW_SECONDS
    assert r["exited_at"] >= slow_done, "the process waited for the in-flight request"
    assert r["exited_at"] - t0 <= DRAIN + GRACE, rel


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_connection_that_sent_nothing_does_not_hold_the_shutdown(tmp_path, iamgate_bin, tls):
    """A balancer's pre-opened, still silent connection (or a port scanner)
    has no request in flight: the drain closes it at once rather than waiting
    for the header or TLS handshake timeout (10 s by default) or the whole
    grace period."""
    extra = "[limits]\ndrain_delay_ms = 500\nshutdown_grace_ms = 5000\n"
    if tls:
        cert, key = self_signed_cert(tmp_path)
        extra += f'[tls]\ncert = "{cert}"\nkey = "{key}"\n'
    stack = start_stack(tmp_path, iamgate_bin, extra)
    silent = socket.create_connection((stack.host, stack.port))
    try:
        time.sleep(0.2)  # accepted, waiting for its first line (or ClientHello)
        sigterm_at = time.monotonic()
        stack.gateway.proc.send_signal(signal.SIGTERM)
        code = stack.gateway.proc.wait(GRACE + 3)
        took = time.monotonic() - sigterm_at
    finally:
        silent.close()
        stop_process(stack.gateway)
        stop_process(stack.mock)
    print(f"\nexit {code} {took:.2f}s after SIGTERM with a silent {'TLS' if tls else 'plain'} "
          f"connection open (drain 0.5 s)")
    assert code == 0
    assert 0.5 - 0.1 <= took <= 0.5 + 0.7, took
