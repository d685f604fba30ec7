"""A small HTTP/2 client for the hostile suite (the ``h2`` package, sans-IO):
one request on a fresh connection, over TLS (ALPN h2) or h2c with prior
knowledge on the plain port, with header validation switched off so a test
can send a ``host`` that disagrees with ``:authority``.

Returns the status (None when the stream was reset or the connection closed
without a response) and the response body.
"""

import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events


def connect(host, port, cafile=None, timeout=3.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    if cafile is None:
        return sock
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["h2"])
    tls = ctx.wrap_socket(sock, server_hostname=host)
    assert tls.selected_alpn_protocol() == "h2"
    return tls


def h2_request(host, port, headers, data=None, cafile=None, timeout=3.0):
    """Send one request (``headers``: [(name, value)] pseudo-headers first);
    ``data``: bytes sent as DATA frames after the HEADERS frame (None: the
    HEADERS frame ends the stream) → (status or None, body bytes)."""
    sock = connect(host, port, cafile, timeout)
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                       validate_outbound_headers=False,
                                       normalize_outbound_headers=False,
                                       validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, headers, end_stream=data is None)
    if data is not None:
        conn.send_data(stream, data, end_stream=True)
    try:
        sock.sendall(conn.data_to_send())
        return _read(sock, conn, stream, timeout)
    finally:
        sock.close()


def _read(sock, conn, stream, timeout):
    status, body = None, b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            raw = sock.recv(65536)
        except (socket.timeout, OSError):
            break
        if not raw:
            break
        for event in conn.receive_data(raw):
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                status = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                body += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, stream)
            elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) \
                    and event.stream_id == stream:
                return status, body
            elif isinstance(event, h2.events.ConnectionTerminated):
                return status, body
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)
    return status, body
