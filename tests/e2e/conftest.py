"""Shared helpers for the end-to-end tests: start a binary, find its port.

A started process must print ``listening on HOST:PORT`` on stdout (iamgate
does so for every listener bound to port 0). Tests run against the debug
build (``cargo build`` first); set ``IAMGATE_BIN`` to use another binary.
"""

import os
import pathlib
import re
import subprocess
import threading

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (\S+):(\d+)")


class Started:
    """A running process and the address(es) it announced."""

    def __init__(self, proc, addresses, output):
        self.proc = proc
        self.addresses = addresses  # [(host, port)] in announcement order
        self.output = output  # every stdout line so far (kept filling)

    @property
    def host(self):
        return self.addresses[0][0]

    @property
    def port(self):
        return self.addresses[0][1]

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"


def start_process(argv, listeners=1, timeout=20.0, env=None, cwd=REPO):
    """Start ``argv``; wait until it printed ``listeners`` listening lines."""
    proc = subprocess.Popen(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output, addresses = [], []
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            output.append(line.rstrip("\n"))
            match = LISTENING.search(line)
            if match:
                addresses.append((match.group(1), int(match.group(2))))
                if len(addresses) >= listeners:
                    ready.set()
        ready.set()  # stdout closed: the process is gone

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout) or len(addresses) < listeners:
        proc.kill()
        stderr = proc.stderr.read() if proc.stderr else ""
        raise RuntimeError(f"{argv} did not start: stdout={output} stderr={stderr}")
    return Started(proc, addresses, output)


def stop_process(started, timeout=10.0):
    """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
    started.proc.terminate()
    try:
        return started.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        started.proc.kill()
        return started.proc.wait()


@pytest.fixture
def start_binary():
    """``start_binary(argv, listeners=1)`` → Started; stopped after the test."""
    started = []

    def start(argv, **kwargs):
        process = start_process(argv, **kwargs)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        stop_process(process)


@pytest.fixture(scope="session")
def iamgate_bin():
    path = pathlib.Path(os.environ.get("IAMGATE_BIN", REPO / "target" / "debug" / "iamgate"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build` first")
    return path


@pytest.fixture
def sdk_home(tmp_path, monkeypatch):
    """Point HOME at a scratch folder (the Huawei SDK writes $HOME/.huaweicloud)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home
