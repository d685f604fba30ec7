//! Black-box tests of the bundled mock upstream: `serve` on 127.0.0.1:0,
//! driven over a real socket with hyper's client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iamgate::mock::{load_route_dir, serve, MockUpstream, ACCOUNT_HEADER};
use iamgate::routes::file::ServiceFile;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const MODELARTS: &str = r#"
service = "modelarts"
cloud = "huawei"
upstream = "modelarts"
resource = "modelarts:{region}:{account}:{type}:{id}"

[[route]]
method = "POST"
path = "/v2/{project_id}/workflows"
actions = ["modelarts:workflow:create"]
[[route]]
method = "GET"
path = "/v2/{project_id}/workflows"
actions = ["modelarts:workflow:list"]
[[route]]
method = "GET"
path = "/v2/{project_id}/workflows/{workflow_id}"
actions = ["modelarts:workflow:get"]
[[route]]
method = "PUT"
path = "/v2/{project_id}/workflows/{workflow_id}"
actions = ["modelarts:workflow:update"]
[[route]]
method = "DELETE"
path = "/v2/{project_id}/workflows/{workflow_id}"
actions = ["modelarts:workflow:delete"]
[[route]]
method = "POST"
path = "/v2/{project_id}/workflows/{workflow_id}/executions"
actions = ["modelarts:workflow:execute"]
[[route]]
method = "GET"
path = "/v2/{project_id}/workflows/{id}/executions"
actions = ["modelarts:workflow:listExecutions"]
[[route]]
method = "GET"
path = "/v2/{project_id}/workflows/{workflow_id}/executions/{execution_id}"
actions = ["modelarts:workflow:getExecution"]

[[unmapped]]
method = "GET"
path = "/v2/{project_id}/workflows/overview"
operation = "show_workflow_overview"
"#;

const AGENTRUN: &str = r#"
service = "agentrun"
cloud = "aliyun"
upstream = "agentrun"
resource = "acs:agentrun:{region}:{account}:{type}/{id}"

[[route]]
method = "POST"
path = "/2025-09-10/templates"
actions = ["agentrun:CreateTemplate"]
[[route]]
method = "GET"
path = "/2025-09-10/templates/{template_name}"
actions = ["agentrun:GetTemplate"]
[[route]]
method = "DELETE"
path = "/2025-09-10/templates/{template_name}"
actions = ["agentrun:DeleteTemplate"]
[[route]]
method = "POST"
path = "/2025-09-10/agents/runtimes"
actions = ["agentrun:CreateAgentRuntime"]
[[route]]
method = "GET"
path = "/2025-09-10/agents/runtimes"
actions = ["agentrun:ListAgentRuntimes"]
[[route]]
method = "GET"
path = "/2025-09-10/agents/runtimes/{agent_runtime_id}"
actions = ["agentrun:GetAgentRuntime"]
[[route]]
method = "DELETE"
path = "/2025-09-10/agents/runtimes/{agent_runtime_id}"
actions = ["agentrun:DeleteAgentRuntime"]
"#;

/// A mock served on 127.0.0.1:0; dropping it stops the server.
struct Running {
    addr: SocketAddr,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    _stop: oneshot::Sender<()>,
}

impl Running {
    async fn start() -> Running {
        let files: Vec<ServiceFile> = vec![
            toml::from_str(MODELARTS).unwrap(),
            toml::from_str(AGENTRUN).unwrap(),
        ];
        let mock = Arc::new(MockUpstream::new(&files).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, mock, async move {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Running {
            addr,
            client,
            _stop: stop,
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, &[]).await
    }

    /// A call as the gateway makes it for a caller of `account`.
    async fn call_as(
        &self,
        account: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        match account {
            Some(a) => {
                self.call_with(method, path, body, &[(ACCOUNT_HEADER, a)])
                    .await
            }
            None => self.call_with(method, path, body, &[]).await,
        }
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("X-Test-Header", "Yes");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req.body(Full::new(Bytes::from(bytes))).unwrap();
        let resp = self.client.request(req).await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").cloned();
        assert_eq!(content_type.unwrap(), "application/json");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap())
    }
}

#[tokio::test]
async fn huawei_collection_lifecycle() {
    let mock = Running::start().await;
    let (status, created) = mock
        .call(
            "POST",
            "/v2/p1/workflows",
            Some(json!({"name": "wf", "description": "d"})),
        )
        .await;
    assert_eq!(status, 200);
    let id = created["workflow_id"].as_str().unwrap().to_string();
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["name"], "wf");

    let (status, list) = mock.call("GET", "/v2/p1/workflows", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["workflow_id"], id.as_str());
    assert_eq!(list["workflows"][0]["workflow_id"], id.as_str());
    assert_eq!(list["total"], 1);

    let item = format!("/v2/p1/workflows/{id}");
    let (status, got) = mock.call("GET", &item, None).await;
    assert_eq!((status, got["description"].clone()), (200, json!("d")));

    let (status, updated) = mock
        .call("PUT", &item, Some(json!({"description": "e"})))
        .await;
    assert_eq!(
        (status, &updated["description"], &updated["name"]),
        (200, &json!("e"), &json!("wf"))
    );

    let (status, _) = mock.call("DELETE", &item, None).await;
    assert_eq!(status, 200);
    let (status, err) = mock.call("GET", &item, None).await;
    assert_eq!(status, 404);
    assert_eq!(err["error_code"], "Mock.0404");
    assert!(err["error_msg"].as_str().unwrap().contains(&id));
}

#[tokio::test]
async fn items_are_kept_per_concrete_collection_path() {
    let mock = Running::start().await;
    let (_, e) = mock
        .call("POST", "/v2/p1/workflows/w1/executions", Some(json!({})))
        .await;
    let id = e["execution_id"].as_str().unwrap();
    let (_, list1) = mock
        .call("GET", "/v2/p1/workflows/w1/executions", None)
        .await;
    let (_, list2) = mock
        .call("GET", "/v2/p1/workflows/w2/executions", None)
        .await;
    assert_eq!(list1["items"][0]["execution_id"], id);
    assert_eq!(list2["items"], json!([]));
    let (status, _) = mock
        .call("GET", &format!("/v2/p1/workflows/w2/executions/{id}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn aliyun_resources_addressed_by_name() {
    let mock = Running::start().await;
    let body = json!({"templateName": "tpl-1", "cpu": 2.0});
    let (status, created) = mock
        .call("POST", "/2025-09-10/templates", Some(body.clone()))
        .await;
    assert_eq!(status, 200);
    assert_eq!(created["code"], "SUCCESS");
    assert_eq!(created["data"]["templateName"], "tpl-1");
    let (status, got) = mock.call("GET", "/2025-09-10/templates/tpl-1", None).await;
    assert_eq!(
        (status, &got["data"]["templateId"]),
        (200, &created["data"]["templateId"])
    );
    let (status, err) = mock.call("POST", "/2025-09-10/templates", Some(body)).await;
    assert_eq!((status, &err["code"]), (409, &json!("ERR_CONFLICT")));
    mock.call("DELETE", "/2025-09-10/templates/tpl-1", None)
        .await;
    let (status, err) = mock.call("GET", "/2025-09-10/templates/tpl-1", None).await;
    assert_eq!((status, &err["code"]), (404, &json!("ERR_NOT_FOUND")));
}

#[tokio::test]
async fn collections_are_namespaced_by_the_callers_account() {
    let mock = Running::start().await;
    let runtimes = "/2025-09-10/agents/runtimes";
    let (status, created) = mock
        .call_as(
            Some("A"),
            "POST",
            runtimes,
            Some(json!({"agentRuntimeName": "r"})),
        )
        .await;
    assert_eq!(status, 200);
    let id = created["data"]["agentRuntimeId"]
        .as_str()
        .unwrap()
        .to_string();
    let item = format!("{runtimes}/{id}");
    // Account B: not by id, not in its list, cannot delete it.
    for method in ["GET", "DELETE"] {
        let (status, err) = mock.call_as(Some("B"), method, &item, None).await;
        assert_eq!(
            (status, &err["code"]),
            (404, &json!("ERR_NOT_FOUND")),
            "{method}"
        );
    }
    let (_, list) = mock.call_as(Some("B"), "GET", runtimes, None).await;
    assert_eq!(list["data"]["total"], 0);
    // No header is a namespace of its own ("").
    let (status, _) = mock.call("GET", &item, None).await;
    assert_eq!(status, 404);
    // Account A still has it, and names are per account too.
    let (status, got) = mock.call_as(Some("A"), "GET", &item, None).await;
    assert_eq!(
        (status, got["data"]["agentRuntimeId"].as_str()),
        (200, Some(id.as_str()))
    );
    let tpl = json!({"templateName": "same"});
    for account in ["A", "B"] {
        let (status, _) = mock
            .call_as(
                Some(account),
                "POST",
                "/2025-09-10/templates",
                Some(tpl.clone()),
            )
            .await;
        assert_eq!(status, 200, "{account} creates its own template named same");
    }
    let (status, _) = mock.call_as(Some("B"), "DELETE", &item, None).await;
    assert_eq!(status, 404);
    let (status, _) = mock.call_as(Some("A"), "DELETE", &item, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn huawei_items_are_namespaced_too() {
    let mock = Running::start().await;
    let (_, wf) = mock
        .call_as(
            Some("acme0001"),
            "POST",
            "/v2/p1/workflows",
            Some(json!({"name": "w"})),
        )
        .await;
    let item = format!("/v2/p1/workflows/{}", wf["workflow_id"].as_str().unwrap());
    let (status, err) = mock.call_as(Some("solo0002"), "GET", &item, None).await;
    assert_eq!((status, &err["error_code"]), (404, &json!("Mock.0404")));
    let (status, _) = mock.call_as(Some("acme0001"), "GET", &item, None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn other_routes_answer_200_and_unknown_paths_404() {
    let mock = Running::start().await;
    let (status, body) = mock.call("GET", "/v2/p1/workflows/overview", None).await;
    assert_eq!(
        (status, body),
        (200, json!({"operation": "show_workflow_overview"}))
    );
    let (status, body) = mock.call("GET", "/nowhere", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error_code"], "Mock.0404");
    assert_eq!(body["Code"], "ERR_NOT_FOUND");
}

#[tokio::test]
async fn the_request_log_redacts_credentials_one_per_value() {
    let mock = Running::start().await;
    let secrets = [
        (
            "Authorization",
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=abc123",
        ),
        ("X-Auth-Token", "token-one"),
        ("X-Auth-Token", "token-two"),
        ("X-Security-Token", "secret-sts"),
        ("X-Acs-Security-Token", "secret-sts2"),
        ("X-Subject-Token", "secret-subject"),
        ("X-Acs-Signature", "secret-sig"),
        ("X-Acs-Signature-Nonce", "nonce-1"),
    ];
    mock.call_with("GET", "/v2/p1/workflows", None, &secrets)
        .await;
    let (_, log) = mock.call("GET", "/-/requests", None).await;
    let headers = &log[0]["headers"];
    assert_eq!(headers["x-auth-token"], "<redacted>, <redacted>");
    for name in [
        "authorization",
        "x-security-token",
        "x-acs-security-token",
        "x-subject-token",
        "x-acs-signature",
    ] {
        assert_eq!(headers[name], "<redacted>", "{name}");
    }
    assert_eq!(headers["x-acs-signature-nonce"], "nonce-1");
    assert_eq!(headers["x-test-header"], "Yes");
    let text = log.to_string();
    for (_, secret) in &secrets[..7] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn requests_are_recorded_and_cleared() {
    let mock = Running::start().await;
    mock.call("POST", "/v2/p1/workflows?x=1", Some(json!({"name": "a"})))
        .await;
    let (status, log) = mock.call("GET", "/-/requests", None).await;
    assert_eq!(status, 200);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 1, "the admin path is never recorded: {log:?}");
    assert_eq!(log[0]["method"], "POST");
    assert_eq!(log[0]["path"], "/v2/p1/workflows");
    assert_eq!(log[0]["query"], "x=1");
    assert_eq!(log[0]["headers"]["x-test-header"], "Yes");
    assert_eq!(log[0]["body_len"], 12);
    let (status, _) = mock.call("DELETE", "/-/requests", None).await;
    assert_eq!(status, 200);
    let (_, log) = mock.call("GET", "/-/requests", None).await;
    assert_eq!(log, json!([]));
}

#[tokio::test]
async fn serve_returns_after_shutdown() {
    let mock = Arc::new(MockUpstream::new(&[]).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let done = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        serve(listener, mock, async {}),
    );
    assert!(done.await.unwrap().is_ok());
}

#[test]
fn route_dirs_load_every_toml_and_report_every_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("modelarts.toml"), MODELARTS).unwrap();
    std::fs::write(dir.path().join("agentrun.toml"), AGENTRUN).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let files = load_route_dir(dir.path()).unwrap();
    let services: Vec<_> = files.iter().map(|f| f.service.as_str()).collect();
    assert_eq!(services, ["agentrun", "modelarts"]);

    std::fs::write(dir.path().join("a.toml"), "service = 1").unwrap();
    std::fs::write(dir.path().join("b.toml"), "nonsense").unwrap();
    let err = load_route_dir(dir.path()).unwrap_err();
    assert!(err.contains("a.toml") && err.contains("b.toml"), "{err}");
}
