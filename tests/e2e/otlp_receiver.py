"""A tiny OTLP/HTTP JSON receiver for the trace tests: ``POST /v1/traces``
with ``Content-Type: application/json`` is parsed and kept; anything else
is answered 404/415 and counted, so a test sees every request it got."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OtlpReceiver:
    """Listens on 127.0.0.1:<ephemeral> until ``close()``; a context manager."""

    def __init__(self):
        self.payloads = []  # every parsed ExportTraceServiceRequest
        self.rejected = []  # (path, content type) of requests not accepted
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                kind = self.headers.get("Content-Type", "")
                if self.path != "/v1/traces" or not kind.startswith("application/json"):
                    with receiver.lock:
                        receiver.rejected.append((self.path, kind))
                    self.send_response(404 if self.path != "/v1/traces" else 415)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.payloads.append(json.loads(body))
                reply = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def spans(self):
        """Every received span as (resource attributes, span), attributes
        flattened to ``{key: python value}``."""
        out = []
        with self.lock:
            payloads = list(self.payloads)
        for payload in payloads:
            for rs in payload.get("resourceSpans", []):
                resource = flatten(rs.get("resource", {}).get("attributes", []))
                for ss in rs.get("scopeSpans", []):
                    for span in ss.get("spans", []):
                        out.append((resource, dict(span, attributes=flatten(span.get("attributes", [])))))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def flatten(attributes):
    """OTLP JSON ``[{key, value: {stringValue|intValue|…}}]`` → dict
    (``intValue`` is an int64, which OTLP JSON may write as a string)."""
    out = {}
    for attr in attributes:
        value = attr.get("value", {})
        if "intValue" in value:
            out[attr["key"]] = int(value["intValue"])
        elif value:
            out[attr["key"]] = next(iter(value.values()))
    return out
