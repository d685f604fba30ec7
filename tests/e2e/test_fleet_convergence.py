"""Fleet convergence: ``GET /-/snapshot?check=disk`` compiles what is on
disk now (the start-up load path) without swapping it in, and reports that
digest next to the live one, so a rollout can wait until every replica
serves what its files say. Watching is off here so that disk and memory can
differ until an explicit reload."""

import json

import pytest
from conftest import REPO, http_json, metric_samples, start_process, stop_process, write_config

POLICY = "policies/aliyun/identity/agentrun-template-read.json"


@pytest.fixture
def replica(tmp_path, iamgate_bin):
    mock = start_process([iamgate_bin, "mock", "--listen", "127.0.0.1:0", "--routes",
                          REPO / "routes"])
    config = write_config(tmp_path, mock.url)
    config.write_text(config.read_text().replace("[reload]\n", "[reload]\nwatch = false\n"))
    gateway = start_process([iamgate_bin, "serve", "--config", config], listeners=2)
    host, port = gateway.addresses[1]
    yield tmp_path, f"http://{host}:{port}"
    stop_process(gateway)
    stop_process(mock)


def live_metric_digest(admin):
    _, text = http_json("GET", f"{admin}/metrics")
    return [labels["digest"] for labels, _ in metric_samples(text, "iamgate_snapshot_info")]


def check_disk(admin):
    status, doc = http_json("GET", f"{admin}/-/snapshot?check=disk")
    assert status == 200, doc
    return doc


def test_disk_digest_matches_the_live_one_until_the_files_change(replica):
    work, admin = replica
    doc = check_disk(admin)
    assert doc["disk"] == {"ok": True, "digest": doc["digest"], "errors": []}
    assert doc["in_sync"] is True
    assert live_metric_digest(admin) == [doc["digest"]]
    live = doc["digest"]

    # An edit on disk: reported, not swapped in.
    path = work / POLICY
    policy = json.loads(path.read_text())
    policy["Statement"][0]["Sid"] = "ConvergenceTest"
    path.write_text(json.dumps(policy, indent=2))
    doc = check_disk(admin)
    assert doc["digest"] == live and doc["in_sync"] is False
    assert doc["disk"]["ok"] is True and doc["disk"]["digest"] not in (None, live)
    assert live_metric_digest(admin) == [live], "checking must not publish"
    on_disk = doc["disk"]["digest"]

    # The plain document is unchanged (no disk work unless asked).
    _, plain = http_json("GET", f"{admin}/-/snapshot")
    assert "disk" not in plain and "in_sync" not in plain

    # A reload converges: live == what the check predicted.
    status, outcome = http_json("POST", f"{admin}/-/reload")
    assert status == 200 and outcome["digest"] == on_disk
    doc = check_disk(admin)
    assert doc["digest"] == on_disk and doc["in_sync"] is True
    assert live_metric_digest(admin) == [on_disk]


def test_broken_files_on_disk_are_reported_and_the_live_snapshot_stays(replica):
    work, admin = replica
    live = check_disk(admin)["digest"]
    (work / POLICY).write_text("{ not json")
    doc = check_disk(admin)
    assert doc["digest"] == live
    assert doc["in_sync"] is False
    assert doc["disk"]["ok"] is False and doc["disk"]["digest"] is None
    assert any("agentrun-template-read.json" in e["file"] for e in doc["disk"]["errors"]), doc["disk"]
    assert live_metric_digest(admin) == [live]
