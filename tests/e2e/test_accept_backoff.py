"""Accept errors back off (issue 15, item 2). Under `ulimit -n 64` a listener
runs out of file descriptors once enough clients connect; `accept` then
fails with EMFILE while the listening socket stays readable. A loop that
retries at once burns a whole core and writes megabytes of log; iamgate must
sleep (10 ms doubling to 1 s), log at most once a second, count the errors
in `iamgate_accept_errors_total{listener}`, and serve again once descriptors
are free. Checked for the admin listener, the gateway listener and the
standalone mock."""

import os
import socket
import time
import urllib.error
import urllib.request

import pytest
from conftest import REPO, metric_samples, start_process, stop_process, write_config

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOW_ULIMIT = 'ulimit -n 64 && exec "$0" "$@" 2>"$STDERR_FILE"'


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def get(url):
    """Status of a GET (any HTTP answer counts as served), None if no answer."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return None, ""


def start_low(argv, stderr_file, listeners):
    """Start argv under `ulimit -n 64`, stderr into a file (always drained,
    so a flood of log lines cannot block the process and hide a spin)."""
    env = dict(os.environ, STDERR_FILE=str(stderr_file))
    return start_process(["bash", "-c", LOW_ULIMIT, *argv], listeners=listeners, env=env)


@pytest.mark.parametrize("listener", ["admin", "gateway", "mock"])
def test_listener_backs_off_when_out_of_descriptors(tmp_path, iamgate_bin, listener):
    stderr_file = tmp_path / "stderr.log"
    mock = None
    if listener == "mock":
        proc = start_low([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"], stderr_file, 1)
        target, probe = proc.addresses[0], "/-/requests"
    else:
        mock = start_process([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"])
        config = write_config(tmp_path, mock.url)
        proc = start_low([iamgate_bin, "serve", "--config", config], stderr_file, 2)
        target = proc.addresses[1] if listener == "admin" else proc.addresses[0]
        probe = "/metrics" if listener == "admin" else "/"
    clients = []
    try:
        # Fill the descriptor table: every accepted client holds one fd, the
        # rest wait in the kernel's backlog while accept fails.
        for _ in range(120):
            try:
                clients.append(socket.create_connection(target, timeout=5))
            except OSError as e:
                # Say what the process did: a refused or reset connect here
                # means the listener (or the process) is gone.
                code = proc.proc.poll()
                log = stderr_file.read_text() if stderr_file.exists() else ""
                pytest.fail(f"connect #{len(clients) + 1} to the {listener} listener failed: {e}; "
                            f"process exit code {code}; stderr:\n{log[-4000:]}")
        time.sleep(0.5)  # let the loop reach its error state
        before = cpu_seconds(proc.proc.pid)
        time.sleep(2.0)
        burnt = cpu_seconds(proc.proc.pid) - before
        # A spinning accept loop burns ~2 s of CPU here; backing off, ~0.
        assert burnt < 0.3, f"{burnt:.2f} s of CPU in 2 s: the {listener} accept loop spins"
        for s in clients:
            s.close()
        clients = []
        # Descriptors are free again: the listener serves.
        url = f"http://{target[0]}:{target[1]}{probe}"
        deadline = time.monotonic() + 5
        while get(url)[0] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert get(url)[0] is not None, f"the {listener} listener did not recover"
        if listener != "mock":
            admin_host, admin_port = proc.addresses[1]
            _, text = get(f"http://{admin_host}:{admin_port}/metrics")
            counted = dict((l["listener"], v) for l, v in metric_samples(text, "iamgate_accept_errors_total"))
            assert counted.get(listener, 0) >= 1, counted
    finally:
        for s in clients:
            s.close()
        stop_process(proc)
        if mock:
            stop_process(mock)
    log = stderr_file.read_text()
    # A few rate-limited lines, each with the count of suppressed errors.
    assert 0 < len(log) < 4096, f"{len(log)} bytes of log:\n{log[:2000]}"
    assert "accept failed" in log and "suppressed" in log, log
