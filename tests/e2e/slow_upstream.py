"""A tiny recording upstream for the limits and rollout tests, in-process
(``http.server`` on a thread per connection), whose timing the test picks by
path:

- a path containing ``slow``: the whole answer comes after ``SLOW_SECONDS``;
- a path containing ``stall``: the head (``Content-Length: 1000``) and 10
  bytes come at once, then nothing for ``STALL_SECONDS``;
- anything else: ``200 {"ok":true}`` at once.

Every request is recorded (method, path, body length) before it is answered.
"""

import http.server
import json
import threading
import time

SLOW_SECONDS = 2.0
STALL_SECONDS = 6.0


class SlowUpstream:
    def __init__(self):
        self.requests = []
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def seen(self):
        with self._lock:
            return list(self.requests)

    def clear(self):
        with self._lock:
            self.requests.clear()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def _record(self, method, path, body_len):
        with self._lock:
            self.requests.append((method, path, body_len))

    def _handler(self):
        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream._record(self.command, self.path, len(body))
                if "stall" in self.path:
                    return self._stall()
                if "slow" in self.path:
                    time.sleep(SLOW_SECONDS)
                payload = json.dumps({"ok": True, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stall(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(STALL_SECONDS)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        return Handler
