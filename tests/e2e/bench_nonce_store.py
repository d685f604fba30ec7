"""A short load figure for the shared nonce store (not a pytest module):
fresh ACS3-signed GETs on one keep-alive connection, against a gateway with
the in-memory store and one with [nonce_store] on a local redis-server,
alternating rounds so both see the same machine load. Prints req/s of each
and the ratio redis / memory.

    IAMGATE_BIN=target/debug/iamgate python bench_nonce_store.py [requests] [rounds]
"""

import http.client
import os
import pathlib
import sys
import tempfile
import time

from conftest import REPO, send_raw, start_stack, stop_stack
from samples import RUNNER
from test_acs3_raw import sign
from test_redis_nonces import TEMPLATES, Redis


def rate(stack, n):
    conn = http.client.HTTPConnection(stack.host, stack.port, timeout=10)
    headers = [sign(stack, "GET", TEMPLATES, creds=RUNNER) for _ in range(n)]  # signing is not timed
    start = time.perf_counter()
    for h in headers:
        status, _, _ = send_raw(stack, "GET", TEMPLATES, h, conn=conn, host=False)
        assert status == 200, status
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    binary = pathlib.Path(os.environ.get("IAMGATE_BIN", REPO / "target" / "debug" / "iamgate"))
    work = pathlib.Path(tempfile.mkdtemp())
    redis = Redis(work)
    redis.start()
    memory = start_stack(work / "memory", binary)
    shared = start_stack(work / "redis", binary, f'[nonce_store]\nurl = "{redis.url}"\n')
    try:
        rate(memory, 50), rate(shared, 50)  # warm-up
        results = {"memory": [], "redis": []}
        for _ in range(rounds):
            results["memory"].append(rate(memory, n))
            results["redis"].append(rate(shared, n))
    finally:
        stop_stack(memory), stop_stack(shared), redis.kill()
    best = {k: max(v) for k, v in results.items()}
    median = {k: sorted(v)[len(v) // 2] for k, v in results.items()}
    for k, v in results.items():
        print(f"{k}: " + ", ".join(f"{r:.0f}" for r in v) + f" req/s (best {best[k]:.0f}, median {median[k]:.0f})")
    print(f"ratio redis/memory: best {best['redis'] / best['memory']:.2f}, median {median['redis'] / median['memory']:.2f}")


if __name__ == "__main__":
    main()
