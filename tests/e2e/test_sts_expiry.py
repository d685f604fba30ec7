"""An STS session that has expired, through the real SDKs: the gateway runs
under libfaketime (Debian `faketime`) with its clock read from a file, so the
test can move the gateway 950 s ahead once a session is issued. A session
lasts at least 900 s (STS's minimum), so it has then expired; the SDK's next
call is refused with `InvalidSecurityToken.Expired` and nothing is forwarded.
(The token is judged before the request's date, which the SDK signs with the
real clock.)"""

import os
from pathlib import Path

import pytest
from alibabacloud_agentrun20250910 import models
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_tea_openapi.exceptions import ClientException
from conftest import REPO, Stack, start_process, stop_stack, write_config
from samples import ASSUMER, DEV_ACCOUNT, session_agentrun_client, sts_client

ROLE = f"acs:ram::{DEV_ACCOUNT}:role/AgentRunReader"
# The multi-threaded build of libfaketime (the gateway runs several threads).
LIBFAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketimeMT.so.1"))), Path("/missing"))


def test_an_expired_session_is_refused_and_nothing_is_forwarded(tmp_path, iamgate_bin):
    assert LIBFAKETIME.exists(), "libfaketime (Debian package faketime) is required; tests/run.sh installs it"
    clock = tmp_path / "clock"
    clock.write_text("+0\n")
    env = dict(
        os.environ,
        LD_PRELOAD=str(LIBFAKETIME),
        FAKETIME_TIMESTAMP_FILE=str(clock),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
    )
    mock = start_process([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes", REPO / "routes"])
    config = write_config(tmp_path, mock.url)
    gateway = start_process([iamgate_bin, "serve", "--config", config], listeners=2, env=env)
    gw = Stack(mock, gateway, tmp_path)
    try:
        req = sts_models.AssumeRoleRequest(role_arn=ROLE, role_session_name="expiring", duration_seconds=900)
        creds = sts_client(gw.host, gw.port, ASSUMER).assume_role(req).body.credentials
        client = session_agentrun_client(gw.host, gw.port, creds)
        assert client.list_templates(models.ListTemplatesRequest()).status_code == 200
        assert len(gw.upstream_requests()) == 1
        gw.clear_upstream()
        clock.write_text("+950\n")
        with pytest.raises(ClientException) as err:
            client.list_templates(models.ListTemplatesRequest())
        e = err.value
        assert (e.status_code, e.code) == (400, "InvalidSecurityToken.Expired"), e.message
        assert gw.upstream_requests() == [], "an expired session must not reach the upstream"
    finally:
        stop_stack(gw)
