#!/usr/bin/env python3
"""Slow-client load test (issue 8 item 8, issue 15 item 1).

N unauthenticated clients each open a connection, send a POST head with
``Content-Length: 10485760`` to a body route (``/v1/p-acme-cn4/notebooks``,
no credentials), push a first burst of body bytes and then trickle the rest
slowly; meanwhile a sampler reads the gateway's RSS (``/proc/<pid>/status``
VmRSS) every 0.5 s and one allowed client (alice's token,
``GET /v1/p-acme-cn4/notebooks``) keeps sending requests, recording
successes and latency. A gateway that authenticates from the headers answers
every slow client 401 at once and holds none of their bytes; one that buffers
bodies before authenticating grows by roughly clients × bytes sent.

    benches/slow_clients.py                     # starts iamgate mock + serve itself
    benches/slow_clients.py --clients 500 --seconds 20 --burst 1048576 --rate 65536
    benches/slow_clients.py --target 127.0.0.1:8080 --pid 1234   # an existing gateway

Safety: the run stops early (and says so) when the gateway's RSS passes
``--rss-cap-mib`` (2048 by default), so a vulnerable build cannot exhaust
the machine. Standard library only; importable (``run``) by the e2e test.
"""

import argparse
import asyncio
import json
import os
import pathlib
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
PATH = "/v1/p-acme-cn4/notebooks"
TOKEN = "example-token-alice-not-real"
DECLARED = 10 * 1024 * 1024


def rss_mib(pid):
    """The process's resident set size in MiB (VmRSS), or None when it is gone."""
    try:
        text = pathlib.Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else None


async def read_status(reader):
    """The status code of the first response line, or None on EOF."""
    line = await reader.readline()
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


PIECE = b"a" * 65536  # one shared buffer: the client side stays small however much is sent


async def send_body(writer, stop, answer, count):
    """Write ``count`` body bytes in 64 KiB pieces (stops early on ``stop`` or an answer)."""
    while count > 0 and not stop.is_set() and not answer.done():
        piece = PIECE[:min(count, len(PIECE))]
        writer.write(piece)
        await writer.drain()
        count -= len(piece)


async def slow_client(host, port, stop, burst, rate, outcomes):
    """One unauthenticated POST that declares 10 MiB and sends it slowly;
    records how it ended: the status answered, a close/reset, or still open."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as err:
        outcomes.append(f"connect-failed:{type(err).__name__}")
        return
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {DECLARED}\r\n\r\n").encode()
    answer = asyncio.ensure_future(read_status(reader))
    sent, outcome = min(burst, DECLARED - 1), "open-at-end"
    try:
        writer.write(head)
        await send_body(writer, stop, answer, sent)
        while not stop.is_set() and not answer.done():
            await asyncio.sleep(0.25)
            piece = min(rate // 4, DECLARED - 1 - sent)
            await send_body(writer, stop, answer, piece)
            sent += piece
    except OSError:
        outcome = "closed-while-sending"
        await asyncio.wait([answer], timeout=1)  # an answer may still be readable
    if answer.done():
        status = answer.result() if not answer.exception() else None
        outcome = f"status-{status}" if status else "closed-no-response"
    else:
        answer.cancel()
    outcomes.append(outcome)
    writer.close()


def allowed_client(host, port, stop, latencies, failures):
    """Alice's allowed GET, one new connection each, until ``stop`` (a thread
    of its own, so the slow clients' event loop cannot delay it)."""
    request = (f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Auth-Token: {TOKEN}\r\n"
               "Connection: close\r\n\r\n").encode()
    while not stop.is_set():
        began = time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
        except OSError as err:
            failures.append(type(err).__name__)
            continue
        parts = answer.split(b" ", 2)
        if len(parts) > 1 and parts[1] == b"200":
            latencies.append(time.monotonic() - began)
        else:
            failures.append(f"status-{parts[1].decode(errors='replace') if len(parts) > 1 else 'none'}")
        time.sleep(0.05)


def sampler(pid, stop, samples, cap_mib, aborted):
    """VmRSS every 0.5 s (a thread); sets ``stop`` past the safety cap."""
    while not stop.is_set():
        rss = rss_mib(pid)
        if rss is None:
            aborted.append("gateway exited")
            stop.set()
            return
        samples.append(rss)
        if rss > cap_mib:
            aborted.append(f"RSS {rss:.0f} MiB passed the {cap_mib} MiB safety cap")
            stop.set()
            return
        time.sleep(0.5)


async def _slow_clients(host, port, clients, seconds, burst, rate, stop, outcomes):
    tasks = [asyncio.ensure_future(slow_client(host, port, stop, burst, rate, outcomes))
             for _ in range(clients)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait(tasks, timeout=10)


def _run(pid, host, port, clients, seconds, burst, rate, cap_mib):
    stop = threading.Event()
    samples, outcomes, latencies, failures, aborted = [], [], [], [], []
    threads = [threading.Thread(target=sampler, args=(pid, stop, samples, cap_mib, aborted)),
               threading.Thread(target=allowed_client, args=(host, port, stop, latencies, failures))]
    for thread in threads:
        thread.start()
    try:
        asyncio.run(_slow_clients(host, port, clients, seconds, burst, rate, stop, outcomes))
    finally:
        during = rss_mib(pid)
        stop.set()
        for thread in threads:
            thread.join(10)
    return samples, outcomes, latencies, failures, aborted, during


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else None


def run(pid, host, port, clients=500, seconds=10.0, burst=1024 * 1024, rate=64 * 1024, cap_mib=2048):
    """Run the load against a gateway (``pid`` for its RSS) → a report dict."""
    before = rss_mib(pid)
    samples, outcomes, latencies, failures, aborted, during = _run(
        pid, host, port, clients, seconds, burst, rate, cap_mib)
    time.sleep(2.0)  # the sockets are closed: what stays resident?
    refused = {}
    for outcome in outcomes:
        refused[outcome] = refused.get(outcome, 0) + 1
    total = len(latencies) + len(failures)
    return {
        "clients": clients, "seconds": seconds, "burst_bytes": burst, "rate_bytes_per_s": rate,
        "rss_before_mib": before, "rss_peak_mib": max([*samples, during or 0], default=before),
        "rss_at_end_mib": during, "rss_after_mib": rss_mib(pid),
        "allowed_ok": len(latencies), "allowed_total": total,
        "allowed_success": len(latencies) / total if total else 0.0,
        "allowed_p50_ms": percentile(latencies, 0.5) and percentile(latencies, 0.5) * 1000,
        "allowed_p99_ms": percentile(latencies, 0.99) and percentile(latencies, 0.99) * 1000,
        "allowed_failures": sorted(set(failures)), "slow_clients": refused, "aborted": aborted,
    }


def start_gateway(binary, workdir):
    """``iamgate mock`` + ``iamgate serve`` (a temp config pointing at the mock)
    → (gateway process, mock process, host, port)."""
    mock = subprocess.Popen([binary, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    mock_addr = _listening(mock, 1)[0]
    for name in ("routes", "policies"):
        shutil.copytree(REPO / name, workdir / name)
    config = workdir / "iamgate.toml"
    config.write_text(f"""listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
routes = "routes"
policies = "policies"

[upstreams]
modelarts = "http://{mock_addr}"
agentrun = "http://{mock_addr}"

[regions]
agentrun = "cn-hangzhou"
""")
    gateway = subprocess.Popen([binary, "serve", "--config", config],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    host, port = _listening(gateway, 2)[0].rsplit(":", 1)
    return gateway, mock, host, int(port)


def _listening(proc, count):
    """The first ``count`` announced addresses; stdout is drained afterwards
    so a chatty process never blocks on a full pipe."""
    found = []
    for line in proc.stdout:
        match = re.search(r"listening on (\S+:\d+)", line)
        if match:
            found.append(match.group(1))
            if len(found) >= count:
                threading.Thread(target=proc.stdout.read, daemon=True).start()
                return found
    raise RuntimeError(f"{proc.args} exited before listening")


def raise_fd_limit():
    """500 clients need ~1000 descriptors here and in the gateway (inherited)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def print_report(report):
    print(f"slow clients: {report['clients']} for {report['seconds']} s "
          f"(burst {report['burst_bytes']} B, then {report['rate_bytes_per_s']} B/s each)")
    print(f"gateway RSS MiB: before {report['rss_before_mib']:.1f}, peak {report['rss_peak_mib']:.1f}, "
          f"at end {report['rss_at_end_mib'] or 0:.1f}, 2 s after close {report['rss_after_mib'] or 0:.1f}")
    p50, p99 = report["allowed_p50_ms"], report["allowed_p99_ms"]
    print(f"allowed requests: {report['allowed_ok']}/{report['allowed_total']} ok "
          f"({report['allowed_success']:.1%}), p50 {p50 or 0:.1f} ms, p99 {p99 or 0:.1f} ms, "
          f"failures {report['allowed_failures']}")
    print(f"slow clients ended: {json.dumps(report['slow_clients'], sort_keys=True)}")
    if report["aborted"]:
        print(f"STOPPED EARLY: {'; '.join(report['aborted'])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=1024 * 1024, help="body bytes sent at once after the head")
    parser.add_argument("--rate", type=int, default=64 * 1024, help="body bytes per second after the burst")
    parser.add_argument("--rss-cap-mib", type=int, default=2048, help="stop when the gateway's RSS passes this")
    parser.add_argument("--target", help="HOST:PORT of a running gateway (else one is started)")
    parser.add_argument("--pid", type=int, help="the running gateway's pid (with --target)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    raise_fd_limit()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.target:
            host, port = args.target.rsplit(":", 1)
            pid = args.pid
        else:
            binary = os.environ.get("IAMGATE_BIN", str(REPO / "target" / "debug" / "iamgate"))
            gateway, mock, host, port = start_gateway(binary, pathlib.Path(tmp))
            procs, pid = [gateway, mock], gateway.pid
            time.sleep(1.0)  # let the idle RSS settle
        try:
            report = run(pid, host, int(port), args.clients, args.seconds, args.burst, args.rate, args.rss_cap_mib)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
    print(json.dumps(report, indent=2) if args.json else "", end="")
    print_report(report)


if __name__ == "__main__":
    sys.exit(main())
