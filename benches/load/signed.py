#!/usr/bin/env python3
"""The signed-request load scenario of benches/load/run.sh.

`tree DIR` writes a policy tree under DIR/policies: one Huawei account
(`bench0001`, project `p-bench-cn4`) under an organisation of three SCP
levels (root r-bench -> ou-bench -> ou-bench-ml -> the account, each level
FullAccess plus a Deny of something else), 50 users with 10 attached
identity policies each (nine granting other resource types, one granting
the user's own notebooks, with a Deny on their `-prod-` notebooks), and an
access key per user in credentials.toml.

`lua DIR HOST:PORT OUT` signs, with the current `X-Sdk-Date`, 4 requests
per user (`GET /v1/p-bench-cn4/notebooks/nb-<user>-<k>/storage`, action
`modelarts:notebook:listMountedStorages` on that notebook; the mock answers
200 with an empty list) and writes a wrk Lua script that cycles through the
200 pre-signed requests. The signatures hold for the gateway's 15-minute
window, so sign just before the run.

`curl DIR HOST:PORT [--tamper]` prints curl arguments (one per line) for the
first request, for run.sh's sanity check (`--tamper` breaks the signature).

The signer is written from the spec (shared/spec/signing.md, SDK-HMAC-SHA256)
and shares no code with the gateway's verifier.
"""

import hashlib
import hmac
import os
import sys
import time
import urllib.parse

USERS = 50
POLICIES_PER_USER = 10
REQUESTS_PER_USER = 4
ACCOUNT = "bench0001"
PROJECT = "p-bench-cn4"
OTHER_TYPES = ["training-job", "model", "service", "dataset", "pool",
               "image", "algorithm", "node", "workflow"]
SCP_LEVELS = [("r-bench", None, "modelarts:pool:delete"),
              ("ou-bench", "r-bench", "modelarts:service:delete"),
              ("ou-bench-ml", "ou-bench", "modelarts:node:delete")]


def access_key(user):
    return f"HWBENCHSIGNED{user:07d}"


def secret(user):
    return f"bench-signed-secret-{user:03d}-not-real"


def statement(effect, actions, resource):
    quoted = ", ".join(f'"{a}"' for a in actions)
    return (f'{{"Effect": "{effect}", "Action": [{quoted}], '
            f'"Resource": ["{resource}"]}}')


def policy(statements):
    body = ",\n    ".join(statements)
    return f'{{\n  "Version": "5.0",\n  "Statement": [\n    {body}\n  ]\n}}\n'


def user_policies(user):
    """(name, document) of the user's 10 policies; the last grants the request."""
    out = []
    for j, ty in enumerate(OTHER_TYPES[:POLICIES_PER_USER - 1]):
        out.append((f"u{user:02d}-p{j}", policy([
            statement("Allow", [f"modelarts:{ty}:get", f"modelarts:{ty}:list"],
                      f"modelarts:*:*:{ty}:{ty}-{user}-*"),
            statement("Deny", [f"modelarts:{ty}:delete"], "*"),
        ])))
    out.append((f"u{user:02d}-notebooks", policy([
        statement("Allow", ["modelarts:notebook:get", "modelarts:notebook:list*"],
                  f"modelarts:*:*:notebook:nb-{user}-*"),
        statement("Deny", ["modelarts:notebook:*"],
                  f"modelarts:*:*:notebook:nb-{user}-prod-*"),
    ])))
    return out


def accounts_toml():
    lines = ['[[organization]]', 'cloud = "huawei"', 'id = "o-bench"',
             'root = "r-bench"', 'policies = ["FullAccess", "Deny-r-bench"]', '']
    for node, parent, _ in SCP_LEVELS[1:]:
        lines += ['[[organization.unit]]', f'id = "{node}"', f'parent = "{parent}"',
                  f'policies = ["FullAccess", "Deny-{node}"]', '']
    lines += ['[[account]]', f'id = "{ACCOUNT}"', f'name = "{ACCOUNT}"',
              'cloud = "huawei"', f'parent = "{SCP_LEVELS[-1][0]}"', '',
              '[[account.project]]', f'id = "{PROJECT}"', 'name = "cn-north-4"',
              'region = "cn-north-4"', '']
    for u in range(USERS):
        names = ", ".join(f'"{n}"' for n, _ in user_policies(u))
        lines += ['[[account.user]]', f'name = "user-{u:02d}"', f'policies = [{names}]', '']
    return "\n".join(lines)


def credentials_toml():
    lines = []
    for u in range(USERS):
        lines += ['[[access_key]]', f'id = "{access_key(u)}"', f'secret = "{secret(u)}"',
                  f'account = "{ACCOUNT}"', f'user = "user-{u:02d}"', '']
    return "\n".join(lines)


def write_tree(root):
    policies = os.path.join(root, "policies")
    identity = os.path.join(policies, "huawei", "identity")
    scp = os.path.join(policies, "huawei", "scp")
    os.makedirs(identity, exist_ok=True)
    os.makedirs(scp, exist_ok=True)
    for node, _, action in SCP_LEVELS:
        with open(os.path.join(scp, f"Deny-{node}.json"), "w") as f:
            f.write(policy([statement("Deny", [action], "*")]))
    for u in range(USERS):
        for name, doc in user_policies(u):
            with open(os.path.join(identity, f"{name}.json"), "w") as f:
                f.write(doc)
    with open(os.path.join(policies, "accounts.toml"), "w") as f:
        f.write(accounts_toml())
    creds = os.path.join(policies, "credentials.toml")
    with open(creds, "w") as f:
        f.write(credentials_toml())
    os.chmod(creds, 0o600)


# ---- SDK-HMAC-SHA256, from the spec -----------------------------------------

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def encode(raw):
    """Percent-encode every byte outside A-Za-z0-9-_.~ (upper-case hex)."""
    return "".join(chr(b) if chr(b) in UNRESERVED else f"%{b:02X}" for b in raw)


def canonical_uri(path):
    segments = urllib.parse.unquote_to_bytes(path).split(b"/")
    uri = "/".join(encode(s) for s in segments)
    return uri if uri.endswith("/") else uri + "/"


def sign(method, path, headers, ak, sk, body=b""):
    """The Authorization header for `headers` (lower-case names, all signed)."""
    names = sorted(headers)
    canonical = "\n".join([
        method.upper(),
        canonical_uri(path),
        "",  # no query
        "".join(f"{n}:{headers[n].strip()}\n" for n in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    to_sign = "\n".join(["SDK-HMAC-SHA256", headers["x-sdk-date"],
                         hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"SDK-HMAC-SHA256 Access={ak}, SignedHeaders={';'.join(names)}, "
            f"Signature={signature}")


def signed_requests(host):
    """(path, headers) of every request, signed now."""
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = []
    for k in range(REQUESTS_PER_USER):
        for u in range(USERS):
            path = f"/v1/{PROJECT}/notebooks/nb-{u}-{k}/storage"
            headers = {"host": host, "x-sdk-date": date}
            auth = sign("GET", path, headers, access_key(u), secret(u))
            out.append((path, {"Host": host, "X-Sdk-Date": date, "Authorization": auth}))
    return out


def lua_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_lua(host, out):
    entries = []
    for path, headers in signed_requests(host):
        fields = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
        entries.append(f"  {{{lua_string(path)}, {{{fields}}}}},")
    script = "\n".join([
        "-- Generated by benches/load/signed.py: pre-signed SDK-HMAC-SHA256 requests.",
        "local signed = {", *entries, "}",
        "local requests, i = {}, 0",
        "function init(args)",
        "  for n, r in ipairs(signed) do requests[n] = wrk.format(\"GET\", r[1], r[2]) end",
        "end",
        "function request()",
        "  i = i % #requests + 1",
        "  return requests[i]",
        "end",
        "",
    ])
    with open(out, "w") as f:
        f.write(script)


def curl_args(host, tamper):
    path, headers = signed_requests(host)[0]
    if tamper:
        headers["Authorization"] = headers["Authorization"][:-1] + (
            "0" if headers["Authorization"][-1] != "0" else "1")
    args = []
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    args.append(f"http://{host}{path}")
    return args


def main(argv):
    if len(argv) >= 2 and argv[0] == "tree":
        write_tree(argv[1])
    elif len(argv) == 4 and argv[0] == "lua":
        write_lua(argv[2], argv[3])
    elif len(argv) >= 3 and argv[0] == "curl":
        print("\n".join(curl_args(argv[2], "--tamper" in argv[3:])))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
