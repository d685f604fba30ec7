//! Every condition key the gateway supplies (huawei-iam.md and
//! aliyun-ram.md, "keys supplied"), through a real request: the in-memory
//! handler, the sample tree plus the policies and users of
//! `tests/data/condition-keys/` (one user per key, each holding only an
//! allow conditioned on that key), and the bundled mock as a recording
//! upstream. Each key gets a request where it alone makes the difference
//! between allow and deny, so a gateway that forgot to supply it, or
//! supplied it from the wrong input, fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use common::{manifest, one_request_id, send_from, sign, Upstream};
use http::{Request, StatusCode};
use http_body_util::Full;
use iamgate::decision_log::DecisionLog;
use iamgate::proxy::Gateway;
use serde_json::Value;

const NB: &str = "/v1/p-acme-cn4/notebooks";
const SOLO_NB: &str = "/v1/p-solo-cn4/notebooks";
const POOLS: &str = "/v2/p-acme-cn4/pools";
const TEMPLATES: &str = "/2025-09-10/templates";
const ACME: &str = "acme0001";
const DEV: &str = "1234567890123456";
const INSIDE: &str = "203.0.113.7";

/// Where a request comes from: the TCP peer, and whether over TLS.
type Peer = (&'static str, bool);
const LOCAL: Peer = ("127.0.0.1", false);
const LOCAL_TLS: Peer = ("127.0.0.1", true);
const INSIDE_PEER: Peer = (INSIDE, false);

/// Insert `text` before `marker` (which must occur once).
fn splice(text: &str, marker: &str, insert: &str) -> String {
    assert_eq!(text.matches(marker).count(), 1, "marker {marker:?}");
    text.replacen(marker, &format!("{insert}{marker}"), 1)
}

/// The sample tree with the test users, credentials, policies and resources.
fn policy_tree(root: &Path) {
    let data = manifest("tests/data/condition-keys");
    let read = |name: &str| std::fs::read_to_string(data.join(name)).unwrap();
    common::copy_tree(&manifest("policies"), root);
    common::copy_tree(&data.join("huawei"), &root.join("huawei"));
    common::copy_tree(&data.join("aliyun"), &root.join("aliyun"));
    let accounts = std::fs::read_to_string(root.join("accounts.toml")).unwrap();
    let accounts = splice(
        &accounts,
        "\n[[account]]\nid = \"solo0002\"",
        &read("accounts-acme.toml"),
    );
    let accounts = splice(
        &accounts,
        "# --- Alibaba Cloud ---",
        &read("accounts-solo.toml"),
    );
    let accounts = splice(
        &accounts,
        "\n[[account]]\nid = \"6543210987654321\"",
        &read("accounts-dev.toml"),
    );
    let tagger = "policies = [\"NotebookTeamBlue\"]";
    let accounts = splice(&accounts, tagger, "").replacen(
        tagger,
        "policies = [\"NotebookTeamBlue\", \"CondPrincipalTag\"]",
        1,
    );
    std::fs::write(root.join("accounts.toml"), accounts).unwrap();
    for name in ["credentials.toml", "resources.toml"] {
        let mut text = std::fs::read_to_string(root.join(name)).unwrap();
        text.push_str(&read(name));
        std::fs::write(root.join(name), text).unwrap();
    }
}

/// A gateway over the test tree and the mock it forwards to.
struct World {
    gw: Arc<Gateway>,
    upstream: Upstream,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new(extra: &str) -> World {
        let upstream = Upstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        policy_tree(&policies);
        let log = DecisionLog::disabled();
        let gw = common::gateway_at(dir.path(), &policies, extra, &upstream.addr(), log);
        World {
            gw: Arc::new(gw),
            upstream,
            _dir: dir,
        }
    }

    /// Refused by the policy (Huawei 403 `APIGW.0302`, Alibaba 403
    /// `NoPermission`), and the upstream received nothing new.
    async fn denied(&self, req: Request<Full<Bytes>>, from: Peer) {
        let what = format!("{} {}", req.method(), req.uri());
        let before = self.upstream.requests().len();
        let (status, _, body) = send_from(&self.gw, req, from.0, from.1).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        let code = body["error_code"].as_str().or(body["Code"].as_str());
        assert!(
            matches!(code, Some("APIGW.0302" | "NoPermission")),
            "{what}: {body}"
        );
        assert_eq!(
            self.upstream.requests().len(),
            before,
            "{what} was forwarded"
        );
    }

    /// [`World::forwarded`], and the mock answered 200.
    async fn allowed(&self, req: Request<Full<Bytes>>, from: Peer, account: &str) {
        let (status, body) = self.forwarded(req, from, account).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    /// Forwarded: exactly one new upstream request, this one, for `account`,
    /// carrying the request id the client got; the answer is the mock's.
    async fn forwarded(
        &self,
        req: Request<Full<Bytes>>,
        from: Peer,
        account: &str,
    ) -> (StatusCode, Value) {
        let (method, path) = (req.method().to_string(), req.uri().path().to_string());
        let before = self.upstream.requests().len();
        let (status, resp, body) = send_from(&self.gw, req, from.0, from.1).await;
        let seen = self.upstream.requests();
        assert_eq!(seen.len(), before + 1, "{method} {path}: {status} {body}");
        let last = seen.last().unwrap();
        common::assert_forwarded(last, &method, &path, account, &one_request_id(&resp));
        (status, body)
    }
}

fn token_req(method: &str, path: &str, token: &str, body: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", sign::HOST)
        .header("x-auth-token", token)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn get(path: &str, token: &str) -> Request<Full<Bytes>> {
    token_req("GET", path, token, "")
}

#[tokio::test]
async fn principal_tag_comes_from_the_users_tags() {
    let w = World::new("").await;
    w.denied(get(POOLS, "token-kred"), LOCAL).await;
    w.allowed(get(POOLS, "token-tagger"), LOCAL, ACME).await;
}

#[tokio::test]
async fn principal_org_path_names_the_organisation_chain() {
    let w = World::new("").await;
    w.denied(get(SOLO_NB, "token-solo-korg"), LOCAL).await;
    w.allowed(get(NB, "token-korg"), LOCAL, ACME).await;
}

#[tokio::test]
async fn principal_account_is_the_callers_account() {
    let w = World::new("").await;
    w.denied(get(SOLO_NB, "token-solo-kacct"), LOCAL).await;
    w.allowed(get(NB, "token-kacct"), LOCAL, ACME).await;
}

#[tokio::test]
async fn mfa_present_is_the_token_claim_and_false_for_ak_sk() {
    let w = World::new("").await;
    let key = ("HWKMFAEXAMPLEAK00007", "kmfa-example-secret-not-real");
    w.denied(sign::huawei("GET", NB, b"", key, &[]), LOCAL)
        .await;
    w.allowed(get(NB, "token-kmfa"), LOCAL, ACME).await;
}

#[tokio::test]
async fn request_tags_come_from_the_body_in_both_shapes() {
    let w = World::new("").await;
    let post = |body: &str| token_req("POST", NB, "token-kreqtag", body);
    w.denied(
        post(r#"{"name":"a","tags":[{"key":"team","value":"red"}]}"#),
        LOCAL,
    )
    .await;
    w.denied(post(r#"{"name":"b","tags":{"team":"red"}}"#), LOCAL)
        .await;
    w.denied(post(r#"{"name":"c"}"#), LOCAL).await;
    let list = r#"{"name":"d","tags":[{"key":"team","value":"blue"}]}"#;
    w.allowed(post(list), LOCAL, ACME).await;
    let map = r#"{"name":"e","tags":{"team":"blue"}}"#;
    w.allowed(post(map), LOCAL, ACME).await;
}

#[tokio::test]
async fn tag_keys_come_from_the_body_in_both_shapes() {
    let w = World::new("").await;
    let post = |body: &str| token_req("POST", NB, "token-ktagkeys", body);
    w.denied(post(r#"{"tags":[{"key":"owner","value":"x"}]}"#), LOCAL)
        .await;
    w.denied(post(r#"{"tags":{"owner":"x"}}"#), LOCAL).await;
    let list = r#"{"tags":[{"key":"owner","value":"x"},{"key":"team","value":"x"}]}"#;
    w.allowed(post(list), LOCAL, ACME).await;
    w.allowed(post(r#"{"tags":{"team":"x"}}"#), LOCAL, ACME)
        .await;
}

#[tokio::test]
async fn enterprise_project_comes_from_the_body_on_a_create_only() {
    let w = World::new("").await;
    let req = |m: &str, path: &str, body: &str| token_req(m, path, "token-kep", body);
    w.denied(
        req("POST", NB, r#"{"enterprise_project_id":"ep-2"}"#),
        LOCAL,
    )
    .await;
    // A delete takes the key from the resource, never from the client.
    let red = format!("{NB}/nb-red?enterprise_project_id=ep-1");
    w.denied(req("DELETE", &red, ""), LOCAL).await;
    let create = req("POST", NB, r#"{"enterprise_project_id":"ep-1"}"#);
    w.allowed(create, LOCAL, ACME).await;
    // nb-ep is in ep-1 (resources file): allowed, and the mock has no such item.
    let delete = req("DELETE", &format!("{NB}/nb-ep"), "");
    let (status, body) = w.forwarded(delete, LOCAL, ACME).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("Mock.0404"))
    );
}

#[tokio::test]
async fn secure_transport_is_true_over_tls() {
    let w = World::new("").await;
    w.denied(get(NB, "token-ktls"), LOCAL).await;
    w.allowed(get(NB, "token-ktls"), LOCAL_TLS, ACME).await;
}

fn forwarded_for(token: &str, client: &str) -> Request<Full<Bytes>> {
    let mut req = get(NB, token);
    req.headers_mut()
        .insert("x-forwarded-for", client.parse().unwrap());
    req
}

#[tokio::test]
async fn source_ip_is_the_peer_unless_it_is_a_trusted_proxy() {
    let w = World::new("").await;
    w.denied(get(NB, "token-kip"), LOCAL).await;
    // An untrusted peer cannot claim an address.
    w.denied(forwarded_for("token-kip", INSIDE), LOCAL).await;
    w.allowed(get(NB, "token-kip"), INSIDE_PEER, ACME).await;

    let w = World::new("trusted_proxies = [\"127.0.0.1/32\"]").await;
    w.denied(forwarded_for("token-kip", "198.51.100.1"), LOCAL)
        .await;
    w.allowed(forwarded_for("token-kip", INSIDE), LOCAL, ACME)
        .await;
}

#[tokio::test]
async fn user_agent_is_the_request_header() {
    let w = World::new("").await;
    let with_ua = |ua: &str| {
        let mut req = get(NB, "token-kua");
        req.headers_mut().insert("user-agent", ua.parse().unwrap());
        req
    };
    w.denied(with_ua("curl/8.0"), LOCAL).await;
    w.denied(get(NB, "token-kua"), LOCAL).await;
    w.allowed(with_ua("modelarts-sdk/3.1"), LOCAL, ACME).await;
}

#[tokio::test]
async fn acs_access_id_is_the_access_key_used() {
    let w = World::new("").await;
    let two = ("LTAIKEYTWOEXAMPLE0006", "keytwo-example-secret-not-real");
    w.denied(sign::acs3("GET", TEMPLATES, two, &[]), LOCAL)
        .await;
    let one = ("LTAIKEYONEEXAMPLE0005", "keyone-example-secret-not-real");
    w.allowed(sign::acs3("GET", TEMPLATES, one, &[]), LOCAL, DEV)
        .await;
}

#[tokio::test]
async fn acs_source_ip_is_the_peer() {
    let w = World::new("").await;
    let key = ("LTAIACSIPXEXAMPLE0007", "acsip-example-secret-not-real");
    w.denied(sign::acs3("GET", TEMPLATES, key, &[]), LOCAL)
        .await;
    w.allowed(sign::acs3("GET", TEMPLATES, key, &[]), INSIDE_PEER, DEV)
        .await;
}

#[tokio::test]
async fn acs_secure_transport_is_true_over_tls() {
    let w = World::new("").await;
    let key = ("LTAIACSTLSEXAMPLE0008", "acstls-example-secret-not-real");
    w.denied(sign::acs3("GET", TEMPLATES, key, &[]), LOCAL)
        .await;
    w.allowed(sign::acs3("GET", TEMPLATES, key, &[]), LOCAL_TLS, DEV)
        .await;
}

/// huawei-iam.md: values of one key match none for a negated operator, so a
/// plain `StringNotEquals` on the multi-valued `g:TagKeys` holds only when
/// *every* tag key differs. Evaluated with "any value", `team` alone would
/// satisfy it and the `secret` tag would get through.
#[tokio::test]
async fn a_negated_operator_on_tag_keys_needs_every_value_to_differ() {
    let w = World::new("").await;
    let post = |body: &str| token_req("POST", NB, "token-kneg", body);
    let both = r#"{"tags":[{"key":"team","value":"blue"},{"key":"secret","value":"x"}]}"#;
    w.denied(post(both), LOCAL).await;
    w.denied(post(r#"{"tags":{"secret":"x","team":"blue"}}"#), LOCAL)
        .await;
    w.allowed(post(r#"{"tags":{"team":"blue"}}"#), LOCAL, ACME)
        .await;
}
