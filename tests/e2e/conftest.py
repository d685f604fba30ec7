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

    def __init__(self, proc, addresses, output, errors=None):
        self.proc = proc
        self.addresses = addresses  # [(host, port)] in announcement order
        self.output = output  # every stdout line so far (kept filling)
        self.errors = errors if errors is not None else []  # every stderr line so far

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

    errors = []

    def drain():
        # Always read stderr: a full pipe would block the process's logging.
        for line in proc.stderr:
            errors.append(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(timeout) or len(addresses) < listeners:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"{argv} did not start: stdout={output} stderr={errors}")
    return Started(proc, addresses, output, errors)


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


# --- A whole stack: recording mock upstream process + gateway process -------

import json
import shutil
import urllib.request


def http_json(method, url, body=None):
    """A small JSON HTTP call (status, parsed body or text)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read().decode(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


class Stack:
    """The gateway in front of a real, recording mock upstream process."""

    def __init__(self, mock, gateway, workdir):
        self.mock = mock
        self.gateway = gateway
        self.workdir = workdir

    @property
    def url(self):
        return self.gateway.url

    @property
    def host(self):
        return self.gateway.host

    @property
    def port(self):
        return self.gateway.port

    @property
    def admin_url(self):
        host, port = self.gateway.addresses[1]
        return f"http://{host}:{port}"

    def upstream_requests(self):
        status, log = http_json("GET", f"{self.mock.url}/-/requests")
        assert status == 200, log
        return log

    def clear_upstream(self):
        http_json("DELETE", f"{self.mock.url}/-/requests")


def write_config(workdir, mock_url, extra="", modelarts_url=None):
    """An iamgate.toml for tests: port 0 everywhere, the mock as upstream,
    copies of the repository's routes and policies (tests may edit them).
    ``modelarts_url``: another upstream for ModelArts (e.g. a slow one)."""
    for name in ("routes", "policies"):
        if not (workdir / name).exists():
            shutil.copytree(REPO / name, workdir / name)
    config = workdir / "iamgate.toml"
    config.write_text(
        f"""listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
routes = "routes"
policies = "policies"
{extra}
[upstreams]
modelarts = "{modelarts_url or mock_url}"
agentrun = "{mock_url}"

[regions]
agentrun = "cn-hangzhou"

[reload]
debounce_ms = 100
"""
    )
    return config


def start_stack(workdir, iamgate_bin, extra="", modelarts_url=None):
    workdir.mkdir(parents=True, exist_ok=True)
    mock = start_process([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"])
    config = write_config(workdir, mock.url, extra, modelarts_url)
    gateway = start_process([iamgate_bin, "serve", "--config", config], listeners=2)
    return Stack(mock, gateway, workdir)


def stop_stack(stack):
    codes = (stop_process(stack.gateway), stop_process(stack.mock))
    return codes


@pytest.fixture(scope="module")
def stack(tmp_path_factory, iamgate_bin):
    """One gateway + mock per test module (the mock's log is cleared per test)."""
    s = start_stack(tmp_path_factory.mktemp("stack"), iamgate_bin)
    yield s
    stop_stack(s)


@pytest.fixture
def gw(stack):
    stack.clear_upstream()
    return stack


@pytest.fixture(scope="session", autouse=True)
def scratch_home(tmp_path_factory):
    """The Huawei SDK writes $HOME/.huaweicloud: keep it out of the real HOME."""
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield home
    if old is not None:
        os.environ["HOME"] = old


# --- Helpers for the reload / admin / Prometheus tests (appended) -----------

import http.client


def send_raw(stack, method, target, headers, body=b"", conn=None, host=True):
    """Send exactly this request line and these headers, no client-side
    normalisation → (status, [(name, value)] response headers, raw body).
    ``conn``: a reusable ``http.client.HTTPConnection`` (keep-alive); a new
    one when None. ``host``: add ``Host: <gateway>`` (unless given)."""
    data = body.encode() if isinstance(body, str) else body
    own = conn is None
    conn = conn or http.client.HTTPConnection(stack.host, stack.port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        if host and not any(k.lower() == "host" for k in headers):
            conn.putheader("Host", f"{stack.host}:{stack.port}")
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(data or b"")))
        conn.endheaders(data)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        if own:
            conn.close()


def signed_call(stack, method, path, creds, body="", conn=None):
    """One freshly signed Huawei request (the SDK's own signer) →
    (status, headers as a lower-cased dict, raw body)."""
    from test_raw_http import sign_huawei

    headers = sign_huawei(stack, method, path, body=body, creds=creds)
    status, resp_headers, payload = send_raw(stack, method, path, headers, body, conn)
    return status, {k.lower(): v for k, v in resp_headers}, payload


def admin_get(stack, path):
    """GET on the admin listener → (status, parsed JSON or text)."""
    return http_json("GET", f"{stack.admin_url}{path}")


def metric_samples(text, name):
    """Every sample of family ``name`` in a Prometheus text exposition:
    [({label: value}, float)]."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        labels = {}
        if "{" in head:
            metric, _, rest = head.partition("{")
            for part in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest):
                labels[part[0]] = part[1]
        else:
            metric = head
        if metric == name:
            out.append((labels, float(value)))
    return out


def self_signed_cert(workdir):
    """A throw-away certificate for 127.0.0.1 → (cert path, key path)."""
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key
