"""The live console (issue 13) in a real browser: headless Chromium, driven
by Selenium, against a running gateway. Traffic appears live, filters and
pause work, a click shows the per-statement trace, the learned policy panel
matches ``iamgate learn`` on the same traffic, and a principal or path
carrying markup renders as text. Screenshots go to ``artifacts/``
(gitignored); ``docs/console.png`` is one of them, committed.
"""

import json
import pathlib
import shutil
import subprocess
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import REPO, admin_get, http_json, send_raw, start_stack, stop_stack

ARTIFACTS = pathlib.Path(__file__).parent / "artifacts"
ALICE = {"X-Auth-Token": "example-token-alice-not-real"}
EVIL = {"X-Auth-Token": "example-token-evil-not-real"}
# A user name that is markup: rendered as markup it would run a script and
# add an element with id "pwn".
EVIL_NAME = "<img src=x onerror=alert(1)><b id=pwn>mallory</b>"
EVIL_URN = f"iam::evil0003:user:{EVIL_NAME}"
# hyper refuses a raw `<` in a path; an entity is the markup a path can carry.
ENTITY_PATH = "/v1/p-acme-cn4/notebooks/&lt;b&gt;nb&lt;/b&gt;"


def add_hostile_user(work):
    """An account whose user name is markup, with a token."""
    for name in ("routes", "policies"):
        if not (work / name).exists():
            shutil.copytree(REPO / name, work / name)
    with open(work / "policies" / "accounts.toml", "a") as f:
        f.write(
            f"""
[[account]]
id = "evil0003"
name = "evil"
cloud = "huawei"

[[account.project]]
id = "p-evil-cn4"
name = "cn-north-4"
region = "cn-north-4"

[[account.user]]
name = {json.dumps(EVIL_NAME)}
policies = ["NotebookFullAccess"]
"""
        )
    with open(work / "policies" / "credentials.toml", "a") as f:
        f.write(
            f"""
[[token]]
token = "example-token-evil-not-real"
account = "evil0003"
user = {json.dumps(EVIL_NAME)}
expires_at = "2099-01-01T00:00:00Z"
"""
        )


@pytest.fixture(scope="module")
def console(tmp_path_factory, iamgate_bin):
    work = tmp_path_factory.mktemp("console")
    add_hostile_user(work)
    s = start_stack(work, iamgate_bin, extra='[decision_log]\ntarget = "decisions.jsonl"\n')
    yield s
    stop_stack(s)


@pytest.fixture(scope="module")
def browser():
    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        opts.add_argument(arg)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    assert chromium and driver_bin, "chromium and chromium-driver (Debian) are needed"
    opts.binary_location = chromium
    driver = webdriver.Chrome(options=opts, service=Service(driver_bin))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, cond, timeout=15):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: cond(d))


def shot(driver, name):
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def open_console(driver, stack):
    driver.get(f"{stack.admin_url}/ui")
    wait(driver, lambda d: d.find_element(By.ID, "status").text == "live")


def rows(driver):
    """Every visible row: {seq, principal, request, action, decision, reason}."""
    return driver.execute_script(
        """return [...document.querySelectorAll('#decisions tbody tr')]
             .filter(tr => !tr.hidden)
             .map(tr => ({seq: tr.dataset.seq,
                          principal: tr.querySelector('.principal').textContent,
                          request: tr.querySelector('.request').textContent,
                          action: tr.querySelector('.action').textContent,
                          decision: tr.querySelector('.decision').textContent,
                          reason: tr.querySelector('.reason').textContent}))"""
    )


def row_with(driver, request):
    return wait(driver, lambda d: next((r for r in rows(d) if r["request"] == request), None))


def call(stack, method, path, creds):
    status, _, _ = send_raw(stack, method, path, creds)
    return status


def test_traffic_appears_live(console, browser):
    open_console(browser, console)
    assert call(console, "GET", "/v1/p-acme-cn4/notebooks", ALICE) == 200
    row = row_with(browser, "GET /v1/p-acme-cn4/notebooks")
    assert row["principal"] == "iam::acme0001:user:alice"
    assert row["action"] == "modelarts:notebook:list"
    assert row["decision"] == "allow"
    assert "NotebookFullAccess" in row["reason"]
    shot(browser, "01-live")


def test_a_page_opened_late_shows_the_recent_decisions(console, browser):
    assert call(console, "GET", "/v1/p-acme-cn4/images", ALICE) == 403
    open_console(browser, console)
    requests = [r["request"] for r in wait(browser, lambda d: len(rows(d)) >= 2 and rows(d))]
    assert "GET /v1/p-acme-cn4/notebooks" in requests
    assert "GET /v1/p-acme-cn4/images" in requests


def test_filters_by_decision_principal_service_and_action(console, browser):
    open_console(browser, console)
    assert call(console, "DELETE", "/v2/p-acme-cn4/pools/p1", ALICE) == 403
    assert call(console, "GET", "/v1/p-evil-cn4/notebooks", EVIL) == 200
    assert call(console, "GET", "/v1/p-acme-cn4/images", ALICE) == 403
    assert call(console, "GET", "/no/such/route", ALICE) == 404
    row_with(browser, "GET /no/such/route")
    row_with(browser, "DELETE /v2/p-acme-cn4/pools/p1")
    row_with(browser, "GET /v1/p-evil-cn4/notebooks")
    decision = Select(browser.find_element(By.ID, "f-decision"))
    decision.select_by_value("explicit_deny")
    shown = rows(browser)
    assert [r["request"] for r in shown] == ["DELETE /v2/p-acme-cn4/pools/p1"], shown
    decision.select_by_value("deny")
    assert {r["decision"] for r in rows(browser)} == {"explicit_deny", "implicit_deny"}
    decision.select_by_value("")
    principal = browser.find_element(By.ID, "f-principal")
    principal.send_keys("mallory")
    assert {r["principal"] for r in rows(browser)} == {EVIL_URN}
    principal.clear()
    principal.send_keys(" ")  # clear() fires no input event; a keystroke does
    action = browser.find_element(By.ID, "f-action")
    action.send_keys("pool:")
    assert [r["action"] for r in rows(browser)] == ["modelarts:pool:delete"]
    action.clear()
    action.send_keys(" ")
    Select(browser.find_element(By.ID, "f-service")).select_by_value("modelarts")
    shown = [r["request"] for r in rows(browser)]
    assert len(shown) >= 3 and "GET /no/such/route" not in shown, shown
    shot(browser, "02-filtered")


def test_a_click_shows_the_per_statement_trace(console, browser):
    open_console(browser, console)
    assert call(console, "DELETE", "/v2/p-acme-cn4/pools/p1", ALICE) == 403
    row = row_with(browser, "DELETE /v2/p-acme-cn4/pools/p1")
    browser.find_element(By.CSS_SELECTOR, f'#decisions tr[data-seq="{row["seq"]}"]').click()
    text = wait(browser, lambda d: "ProtectResourcePools" in d.find_element(By.ID, "explain").text
                and d.find_element(By.ID, "explain").text)
    assert "modelarts:pool:delete on modelarts:cn-north-4:acme0001:pool:p1" in text
    assert "organisation level 1 (ou-prod)" in text
    assert "Deny DenyPoolDelete#0 (ProtectResourcePools) — matched" in text
    assert "identity policies" in text
    assert "Allow NotebookFullAccess#0 (AllNotebookActions) — action not matched" in text
    shot(browser, "03-trace")


def test_pause_holds_new_decisions_until_resume(console, browser):
    open_console(browser, console)
    before = len(rows(browser))
    browser.find_element(By.ID, "pause").click()
    assert browser.find_element(By.ID, "status").text == "paused"
    assert call(console, "GET", "/v1/p-acme-cn4/notebooks?limit=1", ALICE) == 200
    wait(browser, lambda d: "1 waiting" in d.find_element(By.ID, "counts").text)
    assert len(rows(browser)) == before
    browser.find_element(By.ID, "pause").click()
    row_with(browser, "GET /v1/p-acme-cn4/notebooks?limit=1")


def test_markup_in_a_principal_or_path_renders_as_text(console, browser):
    open_console(browser, console)
    assert call(console, "GET", ENTITY_PATH, ALICE) in (200, 404)
    assert call(console, "GET", "/v1/p-evil-cn4/notebooks", EVIL) == 200
    row_with(browser, f"GET {ENTITY_PATH}")
    evil = [r for r in rows(browser) if r["principal"] == EVIL_URN]
    assert evil, rows(browser)
    browser.find_element(By.CSS_SELECTOR, f'#decisions tr[data-seq="{evil[0]["seq"]}"]').click()
    wait(browser, lambda d: EVIL_NAME in d.find_element(By.ID, "explain").text)
    wait(browser, lambda d: EVIL_NAME in d.find_element(By.ID, "learned").text)
    # Nothing was parsed as markup: no element, no script ran.
    assert browser.find_elements(By.ID, "pwn") == []
    assert browser.find_elements(By.CSS_SELECTOR, "#decisions img, #explain img, #learned img, #explain b") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    shot(browser, "04-hostile")


def learned_documents_in_panel(driver, count):
    """The panel's policies, once it shows ``count`` of them."""
    driver.find_element(By.ID, "learned-refresh").click()
    return wait(driver, lambda d: (lambda items: len(items) == count and items)(d.execute_script(
        """return [...document.querySelectorAll('#learned .learned-item')]
             .map(i => ({principal: i.dataset.principal, policy: i.querySelector('pre').textContent}))"""
    )))


def test_the_learned_panel_matches_iamgate_learn(console, browser, iamgate_bin, tmp_path):
    open_console(browser, console)
    assert call(console, "GET", "/v1/p-acme-cn4/notebooks", ALICE) == 200
    assert call(console, "GET", "/v1/p-evil-cn4/notebooks", EVIL) == 200
    log = console.workdir / "decisions.jsonl"
    _, recent = admin_get(console, "/-/console/recent")
    # The log writer is asynchronous: wait until it has every kept decision.
    deadline = time.time() + 10
    while len(log.read_text().splitlines()) < len(recent["entries"]) and time.time() < deadline:
        time.sleep(0.1)
    out = tmp_path / "learned"
    subprocess.run(
        [iamgate_bin, "learn", "--config", console.workdir / "iamgate.toml", "--out", out, log],
        check=True, capture_output=True, text=True,
    )
    files = {json.dumps(json.loads(p.read_text()), sort_keys=True) for p in (out / "huawei" / "identity").glob("*.json")}
    panel = learned_documents_in_panel(browser, 2)
    assert {p["principal"] for p in panel} == {"iam::acme0001:user:alice", EVIL_URN}
    shown = {json.dumps(json.loads(p["policy"]), sort_keys=True) for p in panel}
    assert shown == files
    assert len(files) == 2
    shot(browser, "05-learned")
    # Copy puts exactly the shown policy on the clipboard.
    browser.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": console.admin_url,
        "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
    })
    browser.find_element(By.CSS_SELECTOR, "#learned .learned-item button.copy").click()
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#learned .learned-item button.copy").text == "Copied")
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0])")
    assert copied == panel[0]["policy"]
    browser.find_element(By.ID, "learned-reset").click()
    wait(browser, lambda d: "Nothing learned yet." in d.find_element(By.ID, "learned").text)


def test_the_snapshot_panel_shows_the_digest_and_counts(console, browser):
    open_console(browser, console)
    _, snap = admin_get(console, "/-/snapshot")
    digest = wait(browser, lambda d: d.find_elements(By.ID, "digest") and d.find_element(By.ID, "digest").text)
    assert digest == snap["digest"]
    text = browser.find_element(By.ID, "snapshot").text
    assert f'{snap["counts"]["policies"]} policies' in text
    assert "none since start" in text


def raw(url, method="GET", headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers.get("content-type")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("content-type")


def test_resets_need_the_console_header(console):
    status, _ = raw(f"{console.admin_url}/-/console/reset", "POST")
    assert status == 403
    assert admin_get(console, "/-/console/recent")[1]["entries"], "nothing was reset"


def test_the_console_is_guarded_like_the_admin_endpoints(tmp_path, iamgate_bin):
    token = "console-test-token-0123"
    (tmp_path / "admin.token").write_text(token + "\n")
    s = start_stack(tmp_path, iamgate_bin, extra='[admin]\ntoken_file = "admin.token"')
    try:
        for path in ("/ui", "/ui/console.js", "/-/events", "/-/console/recent"):
            assert raw(f"{s.admin_url}{path}")[0] == 401, path
        auth = {"Authorization": f"Bearer {token}"}
        assert raw(f"{s.admin_url}/ui", headers=auth) == (200, "text/html; charset=utf-8")
        status, body = http_json("GET", f"{s.admin_url}/-/console/recent")
        assert status == 401, body
        # No decision log here: the ring alone still gets the full record.
        assert call(s, "GET", "/v1/p-acme-cn4/notebooks", ALICE) == 200
        req = urllib.request.Request(f"{s.admin_url}/-/console/recent", headers=auth)
        with urllib.request.urlopen(req, timeout=5) as resp:
            entries = json.loads(resp.read())["entries"]
        assert [a["action"] for a in entries[-1]["actions"]] == ["modelarts:notebook:list"]
        assert entries[-1]["principal"] == "iam::acme0001:user:alice"
    finally:
        stop_stack(s)


def snapshot_text(driver, expect):
    driver.find_element(By.ID, "snapshot-refresh").click()
    return wait(driver, lambda d: expect in d.find_element(By.ID, "snapshot").text
                and d.find_element(By.ID, "snapshot").text)


def test_the_snapshot_panel_shows_reload_errors_and_the_access_diff(console, browser):
    # Last in this module: it changes the stack's policies.
    open_console(browser, console)
    policy = console.workdir / "policies" / "huawei" / "identity" / "NotebookReadOnly.json"
    good = json.loads(policy.read_text())
    policy.write_text('{"Version": "5.0", "Statement": [ {"Effect": "Allow",, } ]}')
    status, body = http_json("POST", f"{console.admin_url}/-/reload")
    assert status == 422, body
    text = snapshot_text(browser, "failed at")
    assert f"{policy}:1:" in text or str(policy) in text, text
    good["Statement"][0]["Action"].append("modelarts:notebook:delete")
    policy.write_text(json.dumps(good))
    status, body = http_json("POST", f"{console.admin_url}/-/reload")
    assert status == 200, body
    text = snapshot_text(browser, "ok at")
    assert "+ iam::acme0001:user:reader modelarts:notebook:delete" in text, text
    assert "+1 gained" in text or "gained" in text
    shot(browser, "06-snapshot")
