"""Raw HTTP against the AgentRun routes with a small ACS3-HMAC-SHA256 signer
written here (signing.md, checked against the repository's signature vector):
replay, body tampering, clock skew, a key of the other cloud, a missing
Authorization and an unknown path are refused with Alibaba's statuses and
codes, JSON bodies whose RequestId is the single X-Request-Id header, and
nothing reaches the upstream."""

import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote

import pytest
from conftest import REPO, send_raw
from samples import ALICE, RUNNER

API = "/2025-09-10"
ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# --- the signer ---------------------------------------------------------------


def rfc3986(s):
    return quote(s, safe="-_.~")


def canonical_query(raw_query):
    """Form-decode the wire query (`+` is a space), then `k=rfc3986(v)` sorted by key."""
    pairs = parse_qsl(raw_query or "", keep_blank_values=True)
    return "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(pairs))


def canonical_request(method, raw_path, raw_query, headers):
    """`headers`: the signed headers (any case); the payload hash is x-acs-content-sha256."""
    signed = {k.lower(): str(v).strip() for k, v in headers.items()}
    names = sorted(signed)
    return "\n".join([
        method.upper(),
        raw_path or "/",
        canonical_query(raw_query),
        "".join(f"{n}:{signed[n]}\n" for n in names),
        ";".join(names),
        signed["x-acs-content-sha256"],
    ])


def signature(secret, canonical):
    string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def sign(gw, method, path, query="", body=b"", creds=RUNNER, when=None, nonce=None, extra=None):
    """Headers (Host included) for one request, signed over every header sent."""
    when = when or datetime.now(timezone.utc)
    headers = {
        "host": f"{gw.host}:{gw.port}",
        "accept": "application/json",
        "x-acs-action": "Raw",
        "x-acs-version": "2025-09-10",
        "x-acs-date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if body:
        headers["content-type"] = "application/json; charset=utf-8"
    headers.update(extra or {})
    ak, sk = creds
    sig = signature(sk, canonical_request(method, path, query, headers))
    headers["authorization"] = f"{ALGORITHM} Credential={ak},SignedHeaders={';'.join(sorted(headers))},Signature={sig}"
    return headers


def raw(gw, method, path, headers, body=b"", query=""):
    """Send exactly this request (no client-side normalisation); → status, JSON body, X-Request-Id values."""
    target = f"{path}?{query}" if query else path
    status, resp_headers, payload = send_raw(gw, method, target, headers, body, host=False)
    ids = [v for k, v in resp_headers if k.lower() == "x-request-id"]
    return status, json.loads(payload), ids


def refused(gw, result, status, code):
    """An Alibaba error body: status, Code, RequestId == the one X-Request-Id; nothing forwarded."""
    got_status, body, ids = result
    assert (got_status, body.get("Code")) == (status, code), body
    assert len(ids) == 1 and body["RequestId"] == ids[0]
    assert isinstance(body["Message"], str) and body["Message"]
    assert "error_code" not in body, "an AgentRun path answers in the Alibaba shape only"
    assert "AccessDeniedDetail" not in body
    assert gw.upstream_requests() == [], "a refused request must not reach the upstream"
    return body


# --- the signer against the repository's vector --------------------------------


def vector_sections():
    text = (REPO / "tests" / "data" / "signing-vectors.txt").read_text()
    acs3 = text[text.index("# Alibaba ACS3-HMAC-SHA256"):]
    sections, name = {}, None
    for line in acs3.splitlines():
        if line.startswith("=== ") and line.endswith(" ==="):
            name = line[4:-4]
            sections[name] = []
        elif name:
            sections[name].append(line)
    return {k: "\n".join(v) for k, v in sections.items()}, acs3


def test_signer_reproduces_the_repository_vector():
    sections, acs3 = vector_sections()
    expected_canonical = sections["canonical request"]
    lines = expected_canonical.split("\n")
    method, path = lines[0], lines[1]
    header_lines = lines[3:lines.index("", 3)]
    headers = dict(h.split(":", 1) for h in header_lines)
    wire_query = sections["wire query (SDK urlencode)"].splitlines()[0]
    assert canonical_query(wire_query) == sections["canonical query"].splitlines()[0]
    canonical = canonical_request(method, path, wire_query, headers)
    assert canonical == expected_canonical.rstrip("\n")
    assert sections["string to sign"].strip() == f"{ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    sig = signature("testsecret", canonical)
    authorization = sections["Authorization"].strip()
    assert authorization == f"{ALGORITHM} Credential=testid,SignedHeaders={';'.join(sorted(headers))},Signature={sig}"
    assert f"empty-body sha256: {EMPTY_SHA256}" in acs3


# --- through the gateway -------------------------------------------------------


def test_signed_request_with_a_query_passes(gw):
    query = "templateType=Browser&pageSize=10&name=a+b~c"
    status, body, ids = raw(gw, "GET", f"{API}/templates", sign(gw, "GET", f"{API}/templates", query), query=query)
    assert status == 200, body
    assert len(ids) == 1
    assert [(r["method"], r["path"], r["query"]) for r in gw.upstream_requests()] == [
        ("GET", f"{API}/templates", query)
    ]


def test_replayed_nonce_is_400_signature_nonce_used(gw):
    headers = sign(gw, "GET", f"{API}/templates")
    status, body, _ = raw(gw, "GET", f"{API}/templates", headers)
    assert status == 200, body
    assert len(gw.upstream_requests()) == 1
    again = raw(gw, "GET", f"{API}/templates", headers)
    assert (again[0], again[1]["Code"]) == (400, "SignatureNonceUsed")
    assert len(again[2]) == 1 and again[1]["RequestId"] == again[2][0]
    assert len(gw.upstream_requests()) == 1, "the upstream saw exactly the first request"


def test_same_nonce_with_a_new_signature_is_still_refused(gw):
    nonce = uuid.uuid4().hex
    first = raw(gw, "GET", f"{API}/templates", sign(gw, "GET", f"{API}/templates", nonce=nonce))
    assert first[0] == 200
    gw.clear_upstream()
    other = sign(gw, "GET", f"{API}/agents/runtimes", nonce=nonce)
    refused(gw, raw(gw, "GET", f"{API}/agents/runtimes", other), 400, "SignatureNonceUsed")


def test_body_changed_after_signing_is_400(gw):
    signed_body, sent_body = b'{"templateName":"tpl-a"}', b'{"templateName":"tpl-b"}'
    headers = sign(gw, "POST", f"{API}/templates", body=signed_body)
    refused(gw, raw(gw, "POST", f"{API}/templates", headers, sent_body), 400, "SignatureDoesNotMatch")


def test_body_and_its_hash_changed_after_signing_is_400(gw):
    headers = sign(gw, "POST", f"{API}/templates", body=b'{"templateName":"tpl-a"}')
    sent_body = b'{"templateName":"tpl-b"}'
    headers["x-acs-content-sha256"] = hashlib.sha256(sent_body).hexdigest()
    refused(gw, raw(gw, "POST", f"{API}/templates", headers, sent_body), 400, "SignatureDoesNotMatch")


def test_sixteen_minute_old_date_is_400_expired(gw):
    old = datetime.now(timezone.utc) - timedelta(minutes=16)
    headers = sign(gw, "GET", f"{API}/templates", when=old)
    refused(gw, raw(gw, "GET", f"{API}/templates", headers), 400, "InvalidTimeStamp.Expired")


def test_sixteen_minutes_in_the_future_is_400_expired(gw):
    ahead = datetime.now(timezone.utc) + timedelta(minutes=16)
    headers = sign(gw, "GET", f"{API}/templates", when=ahead)
    refused(gw, raw(gw, "GET", f"{API}/templates", headers), 400, "InvalidTimeStamp.Expired")


def test_huawei_access_key_on_an_agentrun_route_is_404(gw):
    headers = sign(gw, "GET", f"{API}/templates", creds=ALICE)
    refused(gw, raw(gw, "GET", f"{API}/templates", headers), 404, "InvalidAccessKeyId.NotFound")


def test_missing_authorization_is_400_incomplete_signature(gw):
    headers = sign(gw, "GET", f"{API}/templates")
    del headers["authorization"]
    refused(gw, raw(gw, "GET", f"{API}/templates", headers), 400, "IncompleteSignature")


def test_malformed_authorization_is_400_incomplete_signature(gw):
    headers = sign(gw, "GET", f"{API}/templates")
    headers["authorization"] = headers["authorization"].split(",Signature=")[0]
    refused(gw, raw(gw, "GET", f"{API}/templates", headers), 400, "IncompleteSignature")


@pytest.mark.parametrize("method, path", [
    ("GET", f"{API}/no-such-collection"),
    ("DELETE", f"{API}/templates"),
    ("GET", f"{API}/templates/tpl-1/no-such-thing"),
])
def test_unknown_agentrun_path_is_404_invalid_action(gw, method, path):
    headers = sign(gw, method, path)
    body = refused(gw, raw(gw, method, path, headers), 404, "InvalidAction.NotFound")
    assert body["Message"]


def test_a_valid_signature_for_another_path_does_not_transfer(gw):
    headers = sign(gw, "GET", f"{API}/templates")
    refused(gw, raw(gw, "GET", f"{API}/agents/runtimes", headers), 400, "SignatureDoesNotMatch")
