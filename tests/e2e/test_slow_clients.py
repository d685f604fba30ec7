"""Slow unauthenticated clients cannot grow the gateway (issue 8 item 8,
issue 15 item 1): 500 clients each declare a 10 MiB body on a body route
with no credentials, send 1 MiB at once and trickle 64 KiB/s more for 5 s,
while alice's allowed GET keeps running. Uses ``benches/slow_clients.py``.

The bound: buffering those bodies would cost ~500 × 1.3 MiB ≈ 650 MiB in
5 s (2 GiB if they completed). A gateway that authenticates from the headers
holds none of it: what remains is per-connection state (hyper's read buffer
and a task, well under 100 KiB each, < 50 MiB for 500) plus at most the global
body budget. 100 MiB above idle leaves room for both and still fails as soon
as about ten 10 MiB bodies are held at once.
"""

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benches"))
import slow_clients  # noqa: E402

CLIENTS, SECONDS = 500, 5.0
BOUND_MIB = 100


def test_slow_unauthenticated_bodies_keep_rss_bounded_and_traffic_served(stack):
    slow_clients.raise_fd_limit()
    stack.clear_upstream()
    report = slow_clients.run(stack.gateway.proc.pid, stack.host, stack.port, clients=CLIENTS,
                              seconds=SECONDS, burst=1024 * 1024, rate=64 * 1024, cap_mib=1024)
    slow_clients.print_report(report)
    assert not report["aborted"], report
    growth = report["rss_peak_mib"] - report["rss_before_mib"]
    assert growth < BOUND_MIB, f"RSS grew {growth:.0f} MiB under slow clients: {report}"
    assert report["allowed_ok"] >= 10, report
    assert report["allowed_success"] >= 0.95, report
    ended = report["slow_clients"]
    # A 401 written while the client still sends may be lost to the RST that
    # closing an unread socket causes: such a client ends "closed-while-sending"
    # or, when the RST wins the race with the client's read, "closed-no-response".
    refused = sum(ended.get(k, 0) for k in ("status-401", "closed-while-sending", "closed-no-response"))
    assert refused >= 0.95 * CLIENTS and ended.get("status-401", 0) > 0, \
        f"slow clients are refused (401) from their headers: {ended}"
    upstream = stack.upstream_requests()
    assert {(r["method"], r["path"]) for r in upstream} == {("GET", "/v1/p-acme-cn4/notebooks")}, \
        "no slow client's POST reached the upstream"
