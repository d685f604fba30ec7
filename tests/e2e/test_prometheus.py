"""A real Prometheus scrapes the gateway's admin `/metrics` every second; its
query API then returns `iamgate_requests_total` with the allow and
implicit-deny series of the requests we sent."""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from conftest import signed_call, start_stack, stop_stack
from samples import ACME_PROJECT, ALICE, READER

NB = f"/v1/{ACME_PROJECT}/notebooks"


def prometheus_binary():
    path = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    if path is None:
        # Never a skip: the test command (tests/run.sh) installs Prometheus.
        pytest.fail("the `prometheus` binary is not installed (tests/run.sh installs it)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(base, promql):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as resp:
        doc = json.load(resp)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


@pytest.fixture
def prometheus(tmp_path):
    binary = prometheus_binary()

    def start(target):
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: iamgate\n"
            "    scrape_interval: 1s\n"
            "    metrics_path: /metrics\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        port = free_port()
        log = open(tmp_path / "prometheus.log", "w")
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        )
        started.append((proc, log))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return base
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail("prometheus did not become ready in 30 s:\n" + (tmp_path / "prometheus.log").read_text()[-2000:])

    started = []
    yield start
    for proc, log in started:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_prometheus_scrapes_request_counters(tmp_path, iamgate_bin, prometheus):
    stack = start_stack(tmp_path / "stack", iamgate_bin)
    try:
        admin = stack.admin_url.removeprefix("http://")
        base = prometheus(admin)
        for _ in range(3):
            assert signed_call(stack, "GET", NB, ALICE)[0] == 200
        for _ in range(2):
            assert signed_call(stack, "POST", NB, READER, body="{}")[0] == 403

        def series():
            out = {}
            for r in query(base, 'iamgate_requests_total{service="modelarts"}'):
                m = r["metric"]
                out[(m["decision"], m["action"], m["status"])] = float(r["value"][1])
            return out

        want = {
            ("allow", "modelarts:notebook:list", "2xx"): 3.0,
            ("implicit_deny", "modelarts:notebook:create", "4xx"): 2.0,
        }
        got, deadline = {}, time.monotonic() + 30
        while time.monotonic() < deadline:
            got = series()
            if all(got.get(k) == v for k, v in want.items()):
                break
            time.sleep(0.5)
        assert {k: got.get(k) for k in want} == want, got
        # The plain query of the brief, and the scrape target is healthy.
        plain = query(base, "iamgate_requests_total")
        decisions = {r["metric"]["decision"] for r in plain if r["metric"]["service"] == "modelarts"}
        assert {"allow", "implicit_deny"} <= decisions
        assert all(r["metric"]["job"] == "iamgate" and r["metric"]["instance"] == admin for r in plain)
        up = query(base, 'up{job="iamgate"}')
        assert [r["value"][1] for r in up] == ["1"]
        # The fleet-convergence query from deploy/kubernetes/iamgate.yaml.
        assert [r["value"][1] for r in query(base, "count(count by (digest) (iamgate_snapshot_info))")] == ["1"]
    finally:
        stop_stack(stack)
