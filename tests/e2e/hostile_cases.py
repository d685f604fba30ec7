"""Shared pieces of the hostile suite: the sample paths, request builders
over alice's token, and the two assertions every case ends with — what the
client got back, and exactly what the recording upstream received.
"""

import time

from hostile_client import TOKEN, exchange, request
from samples import ACME_PROJECT

NB = f"/v1/{ACME_PROJECT}/notebooks"
NB1 = f"{NB}/nb-1"
DENIED = f"/v2/{ACME_PROJECT}/pools"  # alice: 403
API = "/2025-09-10"
# Alibaba codes of authentication failures: a "before authentication" 400 is none of these.
ACS_AUTH_CODES = {"IncompleteSignature", "SignatureDoesNotMatch", "InvalidTimeStamp.Expired",
                  "SignatureNonceUsed", "InvalidAccessKeyId.NotFound"}
BODY = b'{"name":"nb-hostile","description":"x"}'


def hostport(gw):
    return f"{gw.host}:{gw.port}"


def token_headers(gw, *extra):
    """Host + alice's token (an allowed caller on the notebooks) + ``extra``."""
    return [("Host", hostport(gw)), ("X-Auth-Token", TOKEN), *extra]


def get(gw, target=NB, *extra, method="GET"):
    """Bytes of an authorised token request (``extra`` headers appended)."""
    return request(method, target, token_headers(gw, *extra))


def post(gw, body=BODY, framing=None, *extra):
    """An authorised POST of ``body``; ``framing``: header list replacing Content-Length."""
    framing = [("Content-Length", str(len(body)))] if framing is None else framing
    return request("POST", NB, token_headers(gw, ("Content-Type", "application/json"), *framing, *extra), body)


def send(gw, data, **kwargs):
    return exchange(gw.host, gw.port, data, **kwargs)


def nothing_forwarded(gw):
    time.sleep(0.05)  # a smuggled request would arrive right after the answer
    seen = gw.upstream_requests()
    assert seen == [], f"the upstream must see nothing, saw {seen}"


def one_forwarded(gw, method, path, query="", body_len=0):
    """Exactly one request reached the upstream, and it is this one."""
    time.sleep(0.05)
    seen = gw.upstream_requests()
    assert [(r["method"], r["path"], r["query"] or "", r["body_len"]) for r in seen] == [
        (method, path, query, body_len)], seen
    return seen[0]


def refused_400(ex, dialect="huawei"):
    """A handler refusal in the route's dialect: 400 with the bad-request code."""
    assert ex.responses, f"expected a 400, got {ex}"
    resp = ex.responses[0]
    assert resp.status == 400, ex
    body = resp.json()
    assert body is not None, f"a 400 from the handler carries a JSON body: {resp}"
    if dialect == "huawei":
        assert body.get("error_code") == "APIGW.0201", body
    else:
        assert "Code" in body and body["Code"] not in ACS_AUTH_CODES, body
        assert "error_code" not in body, body
    return body


def refused_or_closed(ex, statuses=(400,)):
    """A refusal hyper may produce itself: one of ``statuses`` (any body), or a
    close without any response — but never a timeout, never a success."""
    if ex.responses:
        assert ex.responses[0].status in statuses, ex
    else:
        assert ex.closed, f"neither answered nor closed: {ex}"

