"""The deployment files work as shipped (issue 15, item 7), checked offline:
render the manifests from the sample tree (`render-policies.sh policies/`),
parse every YAML document, check the fields a cluster needs and that every
reference resolves (volumes, ConfigMaps, Secrets, items, ports, selectors,
upstream Services), that file modes and `fsGroup` let the container user
read every mounted file, that the config the image's CMD names exists in
the image, binds safely and agrees with the manifest (ports, token Secret,
narrow trusted proxies, preStop + drain + grace inside the termination
grace period), and finally that `iamgate check` passes on the filesystem
laid out exactly as the pod sees it."""

import ipaddress
import json
import pathlib
import shutil
import subprocess
import tomllib
import urllib.parse

import pytest
import yaml
from conftest import REPO

DEPLOY = REPO / "deploy"
MANIFEST = DEPLOY / "kubernetes" / "iamgate.yaml"
RENDER = DEPLOY / "kubernetes" / "render-policies.sh"
# Secrets the manifest uses but nobody should commit; the manifest's header
# says how to create them.
EXTERNAL_SECRETS = {"iamgate-admin-token": {"token": "test-admin-token\n"}}
DEFAULT_MODE = 0o644  # Kubernetes' default for configMap/secret/projected files


def render(*args):
    out = subprocess.run(["bash", RENDER, *args, REPO / "policies"], capture_output=True, text=True, check=True)
    return out.stdout


@pytest.fixture(scope="module")
def docs():
    rendered = list(yaml.safe_load_all(render()))
    shipped = list(yaml.safe_load_all(MANIFEST.read_text()))
    return [d for d in rendered + shipped if d is not None]


def named(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def file_data(obj):
    """Key → text of a ConfigMap or Secret (stringData or base64 data)."""
    import base64

    out = dict(obj.get("data") or {}) if obj["kind"] == "ConfigMap" else {}
    if obj["kind"] == "Secret":
        out.update({k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()})
        out.update(obj.get("stringData") or {})
    return out


def source_of(docs, kind, name):
    if kind == "Secret" and name in EXTERNAL_SECRETS:
        return EXTERNAL_SECRETS[name]
    objs = named(docs, kind)
    assert name in objs, f"{kind} {name} is referenced but neither rendered nor in the manifest"
    return file_data(objs[name])


def volume_files(docs, volume):
    """relative path → (text, mode) of every file a volume shows the pod."""
    files = {}

    def add(kind, name, items, default):
        data = source_of(docs, kind, name)
        chosen = items if items is not None else [{"key": k, "path": k} for k in data]
        for item in chosen:
            assert item["key"] in data, f"{kind} {name} has no key {item['key']}"
            assert item["path"] not in files, f"two sources write {item['path']}"
            files[item["path"]] = (data[item["key"]], item.get("mode", default))

    if "projected" in volume:
        default = volume["projected"].get("defaultMode", DEFAULT_MODE)
        for src in volume["projected"]["sources"]:
            kind, ref = ("ConfigMap", src["configMap"]) if "configMap" in src else ("Secret", src["secret"])
            add(kind, ref["name"], ref.get("items"), default)
    elif "configMap" in volume:
        ref = volume["configMap"]
        add("ConfigMap", ref["name"], ref.get("items"), ref.get("defaultMode", DEFAULT_MODE))
    elif "secret" in volume:
        ref = volume["secret"]
        add("Secret", ref["secretName"], ref.get("items"), ref.get("defaultMode", DEFAULT_MODE))
    else:
        pytest.fail(f"volume {volume['name']}: unsupported type")
    return files


def dockerfile():
    """(final stage's COPY src → dest from the build context, CMD, USER)."""
    copies, cmd, user = [], None, None
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "FROM":
            copies, user = [], None  # only the final stage counts
        elif words[0] == "COPY" and not words[1].startswith("--from"):
            copies.append((words[1], words[2]))
        elif words[0] == "CMD":
            cmd = json.loads(line[3:])
        elif words[0] == "USER":
            user = words[1]
    return copies, cmd, user


def config_arg(argv):
    return argv[argv.index("--config") + 1]


def test_every_document_has_what_a_cluster_needs(docs):
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), d
    deployments = named(docs, "Deployment")
    assert {"iamgate", "iamgate-mock"} <= set(deployments)
    for name, dep in deployments.items():
        template = dep["spec"]["template"]
        labels = template["metadata"]["labels"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
        for c in template["spec"]["containers"]:
            assert c.get("name") and c.get("image"), c
            ports = {p["name"] for p in c.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                if probe in c:
                    action = c[probe].get("httpGet") or c[probe].get("tcpSocket")
                    assert action["port"] in ports, (name, probe)
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            assert mounts <= {v["name"] for v in template["spec"].get("volumes", [])}, name
    for name, svc in named(docs, "Service").items():
        targets = [
            d for d in deployments.values()
            if svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert targets, f"Service {name} selects no Deployment"
        port_names = {p["name"] for c in targets[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        for p in svc["spec"]["ports"]:
            assert p["targetPort"] in port_names, (name, p)
    for pdb in named(docs, "PodDisruptionBudget").values():
        assert any(
            pdb["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
            for d in deployments.values()
        )


def test_the_shipped_projected_volume_matches_the_rendered_tree(docs):
    """No placeholder: the manifest's sources are what the script renders."""
    volumes = {v["name"]: v for v in named(docs, "Deployment")["iamgate"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["policies"]["projected"]["sources"] == yaml.safe_load(render("--sources"))
    # And they put every file of the tree back at its path.
    files = volume_files(docs, volumes["policies"])
    tree = {
        str(p.relative_to(REPO / "policies"))
        for p in (REPO / "policies").rglob("*")
        if p.is_file() and p.suffix in (".json", ".toml")
    }
    assert set(files) == tree


def test_mounted_files_are_readable_by_the_container_user(docs):
    pod = named(docs, "Deployment")["iamgate"]["spec"]["template"]["spec"]
    ctx = pod["securityContext"]
    uid, fs_group = ctx["runAsUser"], ctx.get("fsGroup")
    assert uid != 0 and ctx["runAsNonRoot"] is True
    assert dockerfile()[2] in (str(uid), f"{uid}:{ctx.get('runAsGroup')}"), "image USER differs from runAsUser"
    for volume in pod["volumes"]:
        for path, (_, mode) in volume_files(docs, volume).items():
            # Files are owned by root, group fsGroup (or root without one).
            readable = mode & 0o004 or (fs_group is not None and mode & 0o040)
            assert readable, f"{volume['name']}/{path}: mode {mode:04o}, fsGroup {fs_group}: uid {uid} cannot read it"
            if path.endswith("credentials.toml"):
                assert not mode & 0o007, f"{path}: secrets readable by others (mode {mode:04o})"
            assert not mode & 0o002, f"{path} is world-writable"


def pod_config(docs):
    copies, cmd, _ = dockerfile()
    container = named(docs, "Deployment")["iamgate"]["spec"]["template"]["spec"]["containers"][0]
    argv = container.get("args") or cmd
    return copies, config_arg(argv)


def lay_out_pod(docs, root):
    """The iamgate container's filesystem (the parts iamgate reads) under root."""
    copies, _ = pod_config(docs)
    for src, dest in copies:
        source, target = REPO / src, root / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.write_bytes(source.read_bytes())
    pod = named(docs, "Deployment")["iamgate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in pod["containers"][0]["volumeMounts"]:
        base = root / mount["mountPath"].lstrip("/")
        for path, (text, mode) in volume_files(docs, volumes[mount["name"]]).items():
            f = base / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
            f.chmod(mode)


def test_the_image_config_exists_and_passes_check(docs, tmp_path, iamgate_bin):
    lay_out_pod(docs, tmp_path)
    _, config = pod_config(docs)
    config_file = tmp_path / config.lstrip("/")
    assert config_file.is_file(), f"the image's CMD names {config}, which the image does not contain"
    check = subprocess.run([iamgate_bin, "check", "--config", config_file], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # The mock's routes folder is in the image too.
    mock = named(docs, "Deployment")["iamgate-mock"]["spec"]["template"]["spec"]["containers"][0]
    routes = mock["args"][mock["args"].index("--routes") + 1]
    assert (tmp_path / routes.lstrip("/")).is_dir()


def test_the_config_agrees_with_the_manifest(docs):
    _, config = pod_config(docs)
    assert config == "/etc/iamgate/iamgate.toml"
    cfg = tomllib.loads((DEPLOY / "iamgate.kubernetes.toml").read_text())
    pod = named(docs, "Deployment")["iamgate"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    host, port = cfg["listen"].rsplit(":", 1)
    assert host == "0.0.0.0" and int(port) == ports["http"]
    admin_host, admin_port = cfg["admin_listen"].rsplit(":", 1)
    assert int(admin_port) == ports["admin"]
    # Beyond loopback, the admin /-/ endpoints need a token from a Secret.
    if not ipaddress.ip_address(admin_host.strip("[]")).is_loopback:
        token = "/etc/iamgate/" + cfg["admin"]["token_file"]
        secret_mounts = [
            m["mountPath"] for m in c["volumeMounts"]
            if "secret" in next(v for v in pod["volumes"] if v["name"] == m["name"])
        ]
        assert any(token.startswith(p + "/") for p in secret_mounts), token
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Trusted proxies are the ingress's addresses, never a whole range.
    assert cfg["trusted_proxies"]
    for t in cfg["trusted_proxies"]:
        net = ipaddress.ip_network(t, strict=False)
        assert net.prefixlen >= (24 if net.version == 4 else 64), f"{t} trusts too many addresses"
    # preStop sleep, then drain delay, then the grace: all before SIGKILL.
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0].endswith("sleep")
    limits = cfg["limits"]
    needed = float(pre_stop[1]) + (limits["drain_delay_ms"] + limits["shutdown_grace_ms"]) / 1000
    assert needed < pod["terminationGracePeriodSeconds"], needed
    # Every upstream is a Service of the manifest, on a port it exposes.
    services = named(docs, "Service")
    for name, url in cfg["upstreams"].items():
        u = urllib.parse.urlsplit(url)
        assert u.hostname in services, f"upstream {name}: no Service {u.hostname}"
        assert u.port in [p["port"] for p in services[u.hostname]["spec"]["ports"]], url


def test_the_manifest_says_how_to_create_external_secrets():
    text = MANIFEST.read_text()
    for name in EXTERNAL_SECRETS:
        assert f"kubectl create secret generic {name}" in text


def test_render_refuses_a_file_name_a_configmap_cannot_hold(tmp_path):
    bad = tmp_path / "policies" / "huawei" / "identity"
    bad.mkdir(parents=True)
    (bad / "a b.json").write_text("{}")
    out = subprocess.run(["bash", RENDER, tmp_path / "policies"], capture_output=True, text=True)
    assert out.returncode != 0 and "a b.json" in out.stderr
