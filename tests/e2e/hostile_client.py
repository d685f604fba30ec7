"""A raw-socket HTTP/1 client for the hostile suite: send exactly these
bytes, then read back every response the server writes (Content-Length,
chunked and close-delimited bodies, several pipelined responses) and whether
the server closed the connection — with short timeouts, never hanging.

Nothing here normalises a request: the bytes on the wire are the test's.
"""

import json
import socket
import time

TOKEN = "example-token-alice-not-real"


class Response:
    """One parsed HTTP/1 response."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # [(lower-cased name, value)]
        self.body = body

    def header(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class Exchange:
    """What came back on one connection: responses, closed?, seconds taken."""

    def __init__(self, responses, closed, elapsed):
        self.responses = responses
        self.closed = closed
        self.elapsed = elapsed

    @property
    def statuses(self):
        return [r.status for r in self.responses]

    def __repr__(self):
        return f"<Exchange {self.responses} closed={self.closed} {self.elapsed:.2f}s>"


def _parse_chunked(buf, start):
    """→ (body, end offset) or None if incomplete; ValueError if malformed."""
    pos, body = start, b""
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(buf[pos:eol].split(b";")[0].strip() or b"x", 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # trailers end with an empty line
            return (body, end + 4) if end >= 0 else None
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos:pos + size]
        pos += size + 2


def parse_one(buf, closed, head_only=False):
    """Parse one response at the start of ``buf`` → (Response, rest) or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buf[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    names = dict(headers)
    start = end + 4
    if head_only or status in (204, 304) or 100 <= status < 200:
        return Response(status, headers, b""), buf[start:]
    if "chunked" in names.get("transfer-encoding", "").lower():
        parsed = _parse_chunked(buf, start)
        if parsed is None:
            return None
        return Response(status, headers, parsed[0]), buf[parsed[1]:]
    if "content-length" in names:
        length = int(names["content-length"])
        if len(buf) < start + length:
            return None
        return Response(status, headers, buf[start:start + length]), buf[start + length:]
    if not closed:
        return None
    return Response(status, headers, buf[start:]), b""


def exchange(host, port, data, expect=1, timeout=3.0, linger=0.05, sock=None, head_only=False):
    """Send ``data`` (bytes, or a list of bytes sent one after another), read
    responses until ``expect`` were parsed (then wait ``linger`` s more for a
    close or anything unexpected), the server closes, or ``timeout`` s pass."""
    own = sock is None
    sock = sock or socket.create_connection((host, port), timeout=timeout)
    began = time.monotonic()
    try:
        for piece in data if isinstance(data, list) else [data]:
            try:
                sock.sendall(piece)
            except OSError:
                break  # the server may close while we still send: that is an answer too
        return read_responses(sock, began, expect, timeout, linger, head_only)
    finally:
        if own:
            sock.close()


def read_responses(sock, began, expect, timeout, linger, head_only=False):
    buf, responses, closed = b"", [], False
    deadline = began + timeout
    while True:
        now = time.monotonic()
        if len(responses) >= expect:
            deadline = min(deadline, now + linger) if not buf else deadline
        if now >= deadline:
            break
        sock.settimeout(max(0.01, deadline - now))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:  # reset
            closed = True
            chunk = b""
        if not chunk:
            closed = True
        buf += chunk
        while buf:
            parsed = parse_one(buf, closed, head_only)
            if parsed is None:
                break
            responses.append(parsed[0])
            buf = parsed[1]
        if closed:
            break
        if len(responses) >= expect and not buf:
            deadline = min(deadline, time.monotonic() + linger)
    return Exchange(responses, closed, time.monotonic() - began)


def request(method, target, headers, body=b"", version="HTTP/1.1", eol=b"\r\n"):
    """Bytes of one request: ``headers`` is a list of (name, value) sent in
    order exactly as given (no Host or Content-Length added)."""
    head = f"{method} {target} {version}".encode("latin-1") + eol
    for name, value in headers:
        n = name if isinstance(name, bytes) else name.encode("latin-1")
        v = value if isinstance(value, bytes) else value.encode("latin-1")
        head += n + b": " + v + eol
    return head + eol + (body.encode() if isinstance(body, str) else body)


def chunked(body, sizes=None):
    """``body`` framed as chunks (``sizes``: lengths of the pieces)."""
    out, pos = b"", 0
    for size in sizes or [len(body)]:
        piece = body[pos:pos + size]
        pos += size
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    if pos < len(body):
        out += f"{len(body) - pos:x}\r\n".encode() + body[pos:] + b"\r\n"
    return out + b"0\r\n\r\n"
