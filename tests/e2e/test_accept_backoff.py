"""Accept errors back off (issue 15, item 2). Under `ulimit -n 64` the admin
listener runs out of file descriptors once enough clients connect; `accept`
then fails with EMFILE while the listening socket stays readable. A loop that
retries at once burns a whole core and writes megabytes of log; iamgate must
sleep (10 ms doubling to 1 s), log at most once a second, count the errors
in `iamgate_accept_errors_total{listener}`, and serve again once descriptors
are free."""

import os
import socket
import time

from conftest import REPO, http_json, metric_samples, start_process, stop_process, write_config

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def test_admin_listener_backs_off_when_out_of_descriptors(tmp_path, iamgate_bin):
    mock = start_process([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"])
    config = write_config(tmp_path, mock.url)
    config.write_text(config.read_text().replace("debounce_ms = 100", "debounce_ms = 100\nwatch = false"))
    gateway = start_process(
        ["bash", "-c", 'ulimit -n 64 && exec "$0" serve --config "$1"', iamgate_bin, config], listeners=2
    )
    host, port = gateway.addresses[1]
    clients = []
    try:
        # Fill the descriptor table: every accepted client holds one fd, the
        # rest wait in the kernel's backlog while accept fails.
        for _ in range(120):
            s = socket.create_connection((host, port), timeout=5)
            clients.append(s)
        time.sleep(0.5)  # let the loop reach its error state
        before = cpu_seconds(gateway.proc.pid)
        time.sleep(2.0)
        burnt = cpu_seconds(gateway.proc.pid) - before
        # A spinning accept loop burns ~2 s of CPU here; backing off, ~0.
        assert burnt < 0.3, f"{burnt:.2f} s of CPU in 2 s: the accept loop spins"
    finally:
        for s in clients:
            s.close()
    # Descriptors are free again: the admin listener serves.
    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline:
        try:
            status, text = http_json("GET", f"http://{host}:{port}/metrics")
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    assert status == 200, "the admin listener did not recover"
    errors = metric_samples(text, "iamgate_accept_errors_total")
    admin = [v for labels, v in errors if labels.get("listener") == "admin"]
    assert admin and admin[0] >= 1, errors
    # Everything after the start-up announcement, on stderr: a few lines.
    stop_process(gateway)
    stop_process(mock)
    stderr = gateway.proc.stderr.read()
    assert len(stderr) < 4096, f"{len(stderr)} bytes of log:\n{stderr[:2000]}"
    assert "accept failed" in stderr, stderr
