"""The fleet parts of deploy/ (issue 12, item 5), checked offline: every
manifest passes the Kubernetes schema validator pinned in requirements.txt
(``kubernetes-validate``, schemas shipped in the package, strict mode);
every container has CPU and memory requests and limits; the
HorizontalPodAutoscaler scales the gateway; NetworkPolicies let only the
gateway reach the upstream and the Redis nonce store; the Redis variant of
the image's config is the plain one plus ``[nonce_store]`` and passes
``iamgate check``; the Dockerfile builds ``--locked``, runs as non-root and
its HEALTHCHECK command really probes /healthz."""

import json
import re
import socket
import subprocess
import sys
import tomllib
import urllib.parse

import pytest
import yaml
from conftest import REPO
from test_deploy import DEPLOY, MANIFEST, lay_out_pod, named, render

REDIS_MANIFEST = DEPLOY / "kubernetes" / "redis.yaml"
BASE_CONFIG = DEPLOY / "iamgate.kubernetes.toml"
REDIS_CONFIG = DEPLOY / "iamgate.kubernetes-redis.toml"
KUBERNETES_VERSION = "1.31.0"


@pytest.fixture(scope="module")
def all_docs():
    docs = list(yaml.safe_load_all(render()))
    for path in (MANIFEST, REDIS_MANIFEST):
        docs += list(yaml.safe_load_all(path.read_text()))
    return [d for d in docs if d is not None]


def validate(*paths):
    return subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "-k", KUBERNETES_VERSION, "--strict", *map(str, paths)],
        capture_output=True, text=True, timeout=300)


def test_every_manifest_passes_the_schema_validator(tmp_path):
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(render())
    out = validate(rendered, MANIFEST, REDIS_MANIFEST)
    assert out.returncode == 0, out.stdout + out.stderr
    for kind in ("deployment/iamgate", "horizontalpodautoscaler/iamgate", "networkpolicy/iamgate-mock-only-from-gateway",
                 "deployment/iamgate-redis", "networkpolicy/iamgate-redis-only-from-gateway", "configmap/iamgate-policies-root"):
        assert f"passed for resource {kind} " in out.stdout, kind


def test_the_validator_rejects_a_misspelt_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(REDIS_MANIFEST.read_text().replace("containerPort: 6379", "containerPrt: 6379"))
    out = validate(bad)
    assert out.returncode != 0
    assert "did not validate for resource deployment/iamgate-redis" in out.stdout


def test_every_container_has_cpu_and_memory_requests_and_limits(all_docs):
    for name, dep in named(all_docs, "Deployment").items():
        for c in dep["spec"]["template"]["spec"]["containers"]:
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(part, {})), (name, c["name"], part)


def test_the_autoscaler_scales_the_gateway_on_cpu(all_docs):
    hpas = named(all_docs, "HorizontalPodAutoscaler")
    hpa = hpas["iamgate"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iamgate"}
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]
    cpu = [m for m in hpa["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
    assert cpu and cpu[0]["resource"]["target"]["type"] == "Utilization"
    # Utilization is relative to the request: the gateway must have one.
    container = named(all_docs, "Deployment")["iamgate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"]
    # The PodDisruptionBudget still leaves a replica at the autoscaler's minimum.
    assert named(all_docs, "PodDisruptionBudget")["iamgate"]["spec"]["minAvailable"] < hpa["minReplicas"]


def labels_of_service(all_docs, host):
    svc = named(all_docs, "Service")[host]
    return svc["spec"]["selector"], svc


def only_the_gateway_reaches(all_docs, host, port):
    """The pods behind Service `host` admit traffic on `port` from app=iamgate pods only."""
    selector, _ = labels_of_service(all_docs, host)
    gateway_labels = named(all_docs, "Deployment")["iamgate"]["spec"]["template"]["metadata"]["labels"]
    policies = [p["spec"] for p in named(all_docs, "NetworkPolicy").values()
                if p["spec"]["podSelector"]["matchLabels"].items() <= selector.items()]
    assert policies, f"no NetworkPolicy selects the pods behind {host}"
    for spec in policies:
        assert "Ingress" in spec["policyTypes"]
        assert spec["ingress"], f"{host}: an empty ingress list admits nobody, not the gateway"
        for rule in spec["ingress"]:
            assert rule["from"], f"{host}: a rule without `from` admits every pod"
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, f"{host}: only pods of the gateway may connect"
                assert peer["podSelector"]["matchLabels"].items() <= gateway_labels.items()
            assert [p["port"] for p in rule["ports"]] == [port]


def test_only_the_gateway_reaches_the_upstreams(all_docs):
    cfg = tomllib.loads(BASE_CONFIG.read_text())
    services = named(all_docs, "Service")
    for url in cfg["upstreams"].values():
        u = urllib.parse.urlsplit(url)
        target = next(p["targetPort"] for p in services[u.hostname]["spec"]["ports"] if p["port"] == u.port)
        selector, _ = labels_of_service(all_docs, u.hostname)
        pods = [d for d in named(all_docs, "Deployment").values()
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        container_port = next(p["containerPort"] for p in pods[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
                              if p["name"] == target)
        only_the_gateway_reaches(all_docs, u.hostname, container_port)


def test_the_redis_config_is_the_plain_one_plus_the_nonce_store(all_docs):
    text = REDIS_CONFIG.read_text()
    base = BASE_CONFIG.read_text()
    assert base in text, "the Redis config must repeat the plain config word for word"
    extra = tomllib.loads(text[text.index(base) + len(base):])
    assert set(extra) == {"nonce_store"}
    cfg = tomllib.loads(text)
    assert {k: v for k, v in cfg.items() if k != "nonce_store"} == tomllib.loads(base)
    u = urllib.parse.urlsplit(cfg["nonce_store"]["url"])
    assert u.scheme == "redis"
    _, svc = labels_of_service(all_docs, u.hostname)
    assert u.port in [p["port"] for p in svc["spec"]["ports"]]
    only_the_gateway_reaches(all_docs, u.hostname, 6379)
    # Fail closed on a full Redis rather than forget live nonces.
    redis = named(all_docs, "Deployment")["iamgate-redis"]["spec"]["template"]["spec"]["containers"][0]
    args = redis["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"


def test_the_redis_config_passes_check_in_the_pod(all_docs, tmp_path, iamgate_bin):
    lay_out_pod(all_docs, tmp_path)
    config = tmp_path / "etc" / "iamgate" / "iamgate-redis.toml"
    assert config.is_file(), "the Dockerfile must copy the Redis config into the image"
    check = subprocess.run([iamgate_bin, "check", "--config", config], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def dockerfile_text():
    return (DEPLOY / "Dockerfile").read_text()


def test_the_image_builds_locked_and_runs_as_non_root():
    text = dockerfile_text()
    build = [line for line in text.splitlines() if line.startswith("RUN cargo build")]
    assert build and all("--locked" in line for line in build)
    user = re.findall(r"^USER (\S+)", text, re.M)[-1]
    assert not user.startswith(("0", "root"))


def healthcheck_argv(port):
    line = next(line for line in dockerfile_text().splitlines() if line.startswith("HEALTHCHECK"))
    argv = json.loads(line[line.index("CMD") + 3:])
    return [a.replace("/127.0.0.1/9090", f"/127.0.0.1/{port}") for a in argv]


def test_the_healthcheck_probes_healthz(stack):
    _, port = stack.gateway.addresses[1]
    assert subprocess.run(healthcheck_argv(port), timeout=10).returncode == 0
    # Something else answering on the port is not healthy: the gateway
    # listener answers 404 to /healthz.
    assert subprocess.run(healthcheck_argv(stack.port), timeout=10).returncode != 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert subprocess.run(healthcheck_argv(closed), timeout=10, stderr=subprocess.DEVNULL).returncode != 0
