"""The operator files under deploy/: the Prometheus alert rules pass
``promtool check rules`` and their unit tests (``promtool test rules``), and
every query of the Grafana dashboard parses as PromQL (Prometheus' own
parser, through promtool) and names only metric families a running gateway
exports on /metrics."""

import json
import re
import shutil
import subprocess

import pytest
from conftest import REPO, admin_get

PROMETHEUS = REPO / "deploy" / "prometheus"
DASHBOARD = REPO / "deploy" / "grafana" / "iamgate.json"
# PromQL functions, aggregations and keywords the dashboard may use.
PROMQL_WORDS = {
    "sum", "count", "max", "min", "avg", "rate", "irate", "increase", "histogram_quantile",
    "clamp_min", "and", "or", "unless", "offset", "bool", "topk", "label_values",
}
# Grafana's variables, replaced by values PromQL accepts before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$job": ".+", "$instance": ".+"}


def promtool(*args, cwd=PROMETHEUS):
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: tests/run.sh installs Debian's prometheus package")
    return subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_alert_rules_are_valid():
    out = promtool("check", "rules", "alerts.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 7 rules found" in out.stdout


def test_alert_rules_unit_tests_pass():
    out = promtool("test", "rules", "alerts_test.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_the_alerts_required_by_issue_12_exist():
    text = (PROMETHEUS / "alerts.yml").read_text()
    names = set(re.findall(r"alert: (\w+)", text))
    assert {"IamgateReloadFailing", "IamgateReplicasOnDifferentDigests", "IamgateUpstreamErrors",
            "IamgateDenySpike", "IamgateNonceStoreDown"} <= names
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS / "alerts_test.yml").read_text()))
    assert names == tested, f"alerts without a unit test: {names - tested}"


def dashboard_queries():
    dash = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] for t in p["targets"]]


def substituted(expr):
    for var, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return expr


def parse_with_promtool(tmp_path, exprs):
    """Every expression as a recording rule, checked by Prometheus' parser."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": substituted(e)} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    return promtool("check", "rules", str(path), cwd=tmp_path)


def test_every_dashboard_query_parses(tmp_path):
    queries = dashboard_queries()
    assert len(queries) >= 10
    out = parse_with_promtool(tmp_path, [e for _, e in queries])
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(queries)} rules found" in out.stdout


def test_the_parse_check_catches_a_broken_query(tmp_path):
    out = parse_with_promtool(tmp_path, ['sum by (kind (rate(iamgate_protocol_errors_total[5m]))'])
    assert out.returncode != 0


def metric_names(expr):
    """Identifiers of an expression that are neither labels, strings, ranges
    nor PromQL words: the metric names it reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)           # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)                    # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)                   # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]?|e\d*", w)}


def live_families(text):
    """Families in a /metrics exposition (histograms with their series names)."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\w+)", line)
        if m:
            names.add(m.group(1))
            if m.group(2) == "histogram":
                names |= {m.group(1) + s for s in ("_bucket", "_sum", "_count")}
    return names


def declared_families():
    """Families registered in src/metrics.rs (a labelled family shows on
    /metrics only once it has a sample, so the source is the full list)."""
    source = (REPO / "src" / "metrics.rs").read_text().split("#[cfg(test)]")[0]
    names = set()
    for ctor, name in re.findall(r'(\w+)\(\s*(?:Opts::new\(\s*)?"(iamgate_\w+)"', source):
        names.add(name)
        if ctor == "histogram_vec":
            names |= {name + s for s in ("_bucket", "_sum", "_count")}
    return names


def test_dashboard_names_only_metrics_the_gateway_exports(stack):
    status, text = admin_get(stack, "/metrics")
    assert status == 200
    live, declared = live_families(text), declared_families()
    assert live and live <= declared, f"the source scan missed {live - declared}"
    assert {"iamgate_requests_total", "iamgate_request_duration_seconds_bucket"} <= declared
    exported = declared
    dash = json.loads(DASHBOARD.read_text())
    # label_values(<series selector>, <label>): the selector is what is read.
    templating = [re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", v["definition"])
                  for v in dash["templating"]["list"] if "definition" in v]
    used = set()
    for title, expr in dashboard_queries() + [("variable", d) for d in templating]:
        names = metric_names(expr)
        assert names, f"{title}: `{expr}` reads no metric"
        assert names <= exported, f"{title}: {names - exported} not exported by iamgate"
        used |= names
    # The panels issue 12 asks for.
    for family in ("iamgate_requests_total", "iamgate_auth_failures_total",
                   "iamgate_authz_duration_seconds_bucket", "iamgate_upstream_errors_total",
                   "iamgate_reloads_total", "iamgate_snapshot_info", "iamgate_protocol_errors_total",
                   "iamgate_nonce_store_rejections_total"):
        assert family in used, family


def test_the_metric_name_check_rejects_an_unknown_metric():
    assert metric_names('sum by (job) (rate(http_requests_total{job="x"}[5m]))') == {"http_requests_total"}
    assert metric_names('histogram_quantile(0.99, sum by (le) (rate(iamgate_authz_duration_seconds_bucket[5m])))') \
        == {"iamgate_authz_duration_seconds_bucket"}
