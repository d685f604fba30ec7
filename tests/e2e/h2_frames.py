"""Raw HTTP/2 frames for the limits and rollout tests: an h2c (prior
knowledge) connection set up with the ``h2`` package, then frames read by
hand — h2's state machine refuses the PING hyper sends after its first
GOAWAY, and these tests need to see exactly what arrives and when.
"""

import socket
import time

import h2.config
import h2.connection
import hpack
from hostile_cases import hostport
from hostile_client import TOKEN

GOAWAY, PING, HEADERS, DATA = 0x7, 0x6, 0x1, 0x0
ACK = END_STREAM = 0x1


def h2c_session(gw):
    """An h2c (prior knowledge) connection with the preface and SETTINGS sent."""
    sock = socket.create_connection((gw.host, gw.port), timeout=3)
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def h2_frames_until_closed(sock, timeout):
    """Read raw frames (h2's state machine refuses the PING hyper sends after
    its first GOAWAY), acknowledging pings like a live client, until EOF →
    ([(seconds, type, flags, payload)], closed after seconds or None)."""
    began, buf, frames = time.monotonic(), b"", []
    sock.settimeout(0.05)
    while time.monotonic() - began < timeout:
        try:
            raw = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            raw = b""
        if not raw:
            return frames, time.monotonic() - began
        buf += raw
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length, kind, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
            payload, buf = buf[9:9 + length], buf[9 + length:]
            frames.append((time.monotonic() - began, kind, flags, payload))
            if kind == PING and not flags & ACK:
                sock.sendall(b"\x00\x00\x08" + bytes([PING, ACK]) + b"\x00" * 4 + payload)
    return frames, None


def describe(frames):
    names = {GOAWAY: "GOAWAY", PING: "PING", HEADERS: "HEADERS", DATA: "DATA", 0x4: "SETTINGS"}
    return [(round(t, 2), names.get(k, k), f) for t, k, f, _ in frames]


def h2c_get(gw, path, timeout):
    """One GET on a fresh h2c connection, then idle → (frames, closed after s)."""
    sock, conn = h2c_session(gw)
    with sock:
        stream = conn.get_next_available_stream_id()
        conn.send_headers(stream, [(":method", "GET"), (":scheme", "http"), (":authority", hostport(gw)),
                                   (":path", path), ("x-auth-token", TOKEN)],
                          end_stream=True)
        sock.sendall(conn.data_to_send())
        return h2_frames_until_closed(sock, timeout)


def first_response(frames):
    """(seconds, :status) of the first response HEADERS frame, or None."""
    for t, kind, _, payload in frames:
        if kind == HEADERS:
            return t, dict(hpack.Decoder().decode(payload))[":status"]
    return None
