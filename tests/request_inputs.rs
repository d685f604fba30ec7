//! What the policy sees must be true, through the real handler in memory:
//! a full ACS3 replay store answers 503 (never evicting a live nonce), an
//! unsigned Huawei body is refused, and a body the policy cannot read
//! unambiguously is a 400. The upstream is the bundled mock, in-process and
//! recording: a refusal proves it saw nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::sign::{hex_hmac, hex_sha256};
use common::Upstream;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use iamgate::config::Config;
use iamgate::decision_log::DecisionLog;
use iamgate::identity::NonceStore;
use iamgate::proxy::handler::{handle, Connection};
use iamgate::proxy::Gateway;
use serde_json::Value;
use time::macros::format_description;
use time::OffsetDateTime;

const ALICE_TOKEN: &str = "example-token-alice-not-real";
const ALICE: (&str, &str) = ("HWALICEEXAMPLEAK0001", "alice-example-secret-not-real");
const RUNNER: (&str, &str) = ("LTAIRUNNEREXAMPLE0001", "runner-example-secret-not-real");
const VIEWER: (&str, &str) = ("LTAIVIEWEREXAMPLE0002", "viewer-example-secret-not-real");
const GUARDED: (&str, &str) = ("LTAIGUARDEDEXAMPLE003", "guarded-example-secret-not-real");
const NB: &str = "/v1/p-acme-cn4/notebooks";
const TEMPLATES: &str = "/2025-09-10/templates";
const HOST: &str = "127.0.0.1:8080";

fn gateway(dir: &std::path::Path, nonces: NonceStore, upstream: &Upstream) -> Arc<Gateway> {
    let policies = common::manifest("policies");
    let log = DecisionLog::disabled();
    let mut gw = common::gateway_at(dir, &policies, "", &upstream.addr(), log);
    gw.nonces = std::sync::Arc::new(nonces);
    Arc::new(gw)
}

/// `GET /2025-09-10/templates` signed per spec/signing.md (ACS3).
fn acs3_get(key: (&str, &str), nonce: &str) -> Request<Full<Bytes>> {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let date = OffsetDateTime::now_utc().format(fmt).unwrap();
    let empty = hex_sha256(b"");
    let signed = "host;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce";
    let canonical = format!(
        "GET\n{TEMPLATES}\n\nhost:{HOST}\nx-acs-content-sha256:{empty}\nx-acs-date:{date}\nx-acs-signature-nonce:{nonce}\n\n{signed}\n{empty}"
    );
    let sig = hex_hmac(
        key.1,
        &format!("ACS3-HMAC-SHA256\n{}", hex_sha256(canonical.as_bytes())),
    );
    Request::get(TEMPLATES)
        .header("host", HOST)
        .header("x-acs-content-sha256", &empty)
        .header("x-acs-date", &date)
        .header("x-acs-signature-nonce", nonce)
        .header(
            "authorization",
            format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={signed},Signature={sig}",
                key.0
            ),
        )
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn send(gw: &Arc<Gateway>, req: Request<Full<Bytes>>) -> (StatusCode, Value) {
    let conn = Connection {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        framing: None,
    };
    let resp = handle(gw.clone(), req, conn).await;
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn metric(gw: &Gateway, series: &str) -> Option<String> {
    let text = gw.metrics.render();
    let line = text.lines().find(|l| l.starts_with(series))?;
    Some(line.rsplit(' ').next().unwrap().to_string())
}

#[tokio::test]
async fn a_full_replay_store_answers_503_and_forgets_no_live_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let gw = gateway(
        dir.path(),
        NonceStore::with_quota(2, 1, Duration::from_secs(900)),
        &upstream,
    );
    let first = acs3_get(RUNNER, "runner-1");
    let (status, resp, _) = common::send_from(&gw, first, "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::OK, "verified and forwarded");
    let id = common::one_request_id(&resp);
    let seen = upstream.only_request();
    common::assert_forwarded(&seen, "GET", TEMPLATES, "1234567890123456", &id);

    // The key's quota (1) is taken: refused, not forwarded.
    let (status, body) = send(&gw, acs3_get(RUNNER, "runner-2")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["Code"], "ServiceUnavailable");
    assert!(body["Message"].as_str().unwrap().contains("replay"));
    assert_eq!(
        upstream.requests().len(),
        1,
        "the refusal was not forwarded"
    );

    // Another key fills the store; a third key then finds it full.
    let (status, _) = send(&gw, acs3_get(VIEWER, "viewer-1")).await;
    assert_ne!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(upstream.requests().len(), 2);
    let (status, body) = send(&gw, acs3_get(GUARDED, "guarded-1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["Code"], "ServiceUnavailable");

    // The first nonce is still remembered: its replay is refused as such.
    let (status, body) = send(&gw, acs3_get(RUNNER, "runner-1")).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("SignatureNonceUsed"))
    );
    assert_eq!(upstream.requests().len(), 2, "no refusal was forwarded");
    let series = "iamgate_nonce_store_rejections_total{reason=";
    assert_eq!(
        metric(&gw, &format!("{series}\"quota\"}}")).as_deref(),
        Some("1")
    );
    assert_eq!(
        metric(&gw, &format!("{series}\"full\"}}")).as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn an_unsigned_huawei_body_is_refused_before_anything_is_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let gw = gateway(
        dir.path(),
        NonceStore::new(1000, Duration::from_secs(900)),
        &upstream,
    );
    let fmt = format_description!("[year][month][day]T[hour][minute][second]Z");
    let date = OffsetDateTime::now_utc().format(fmt).unwrap();
    let canonical = format!(
        "POST\n{NB}/\n\nhost:{HOST}\nx-sdk-date:{date}\n\nhost;x-sdk-date\nUNSIGNED-PAYLOAD"
    );
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    let sig = hex_hmac(ALICE.1, &to_sign);
    let req = Request::post(NB)
        .header("host", HOST)
        .header("x-sdk-date", &date)
        .header("x-sdk-content-sha256", "UNSIGNED-PAYLOAD")
        .header(
            "authorization",
            format!(
                "SDK-HMAC-SHA256 Access={}, SignedHeaders=host;x-sdk-date, Signature={sig}",
                ALICE.0
            ),
        )
        .body(Full::new(Bytes::from_static(
            br#"{"name":"nb","tags":[{"key":"team","value":"red"}]}"#,
        )))
        .unwrap();
    let (status, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error_code"], "APIGW.0301");
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("UNSIGNED-PAYLOAD"));
    assert!(upstream.requests().is_empty(), "nothing forwarded");
}

fn post_nb(body: &'static [u8], query: &str) -> Request<Full<Bytes>> {
    Request::post(format!("{NB}{query}"))
        .header("host", HOST)
        .header("x-auth-token", ALICE_TOKEN)
        .body(Full::new(Bytes::from_static(body)))
        .unwrap()
}

#[tokio::test]
async fn bodies_the_policy_cannot_read_unambiguously_are_400() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let gw = gateway(
        dir.path(),
        NonceStore::new(1000, Duration::from_secs(900)),
        &upstream,
    );
    let cases: [(&'static [u8], &str); 4] = [
        (
            br#"{"tags":[{"key":"team","value":"blue"},{"key":"team","value":"red"}]}"#,
            "",
        ),
        (
            br#"{"enterprise_project_id":"a","enterprise_project_id":"b"}"#,
            "",
        ),
        (b"name=nb", ""),
        (b"{}", "?enterprise_project_id=a&enterprise_project_id=b"),
    ];
    for (body, query) in cases {
        let (status, answer) = send(&gw, post_nb(body, query)).await;
        let what = String::from_utf8_lossy(body);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}{query}: {answer}");
        assert_eq!(answer["error_code"], "APIGW.0201", "{what}");
        assert!(
            upstream.requests().is_empty(),
            "{what}{query} was forwarded"
        );
    }
}

/// `[limits] nonce_per_key`: a tenth of the capacity unless set; 0 refused.
#[test]
fn nonce_per_key_defaults_to_a_tenth_and_must_be_positive() {
    let dir = tempfile::tempdir().unwrap();
    let load = |limits: &str| {
        let path = dir.path().join("iamgate.toml");
        std::fs::write(
            &path,
            format!("listen = \"127.0.0.1:0\"\n[limits]\n{limits}\n"),
        )
        .unwrap();
        Config::load(&path)
    };
    let config = load("nonce_capacity = 500").unwrap();
    assert_eq!(config.limits.nonce_per_key, 50);
    let config = load("nonce_capacity = 5").unwrap();
    assert_eq!(config.limits.nonce_per_key, 1);
    let config = load("nonce_per_key = 7").unwrap();
    assert_eq!(config.limits.nonce_per_key, 7);
    let errors = load("nonce_per_key = 0").unwrap_err();
    assert!(
        errors.iter().any(|d| d.message.contains("positive")
            && format!("{:?}", d.place).contains("nonce_per_key")),
        "{errors:?}"
    );
}
