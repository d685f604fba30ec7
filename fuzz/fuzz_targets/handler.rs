//! The whole request pipeline in memory: `proxy::handler::handle` on a
//! gateway built exactly as `tests/pipeline.rs` builds it (the repository's
//! routes and sample policies, every upstream a closed local port so that a
//! forwarded request comes back as 502, `debug_headers = true`).
//!
//! Input: a flag byte, then fields separated by 0xFF: method, target
//! (path+query), header lines (`name: value`), body. The flag byte picks
//! the gateway (bit 5: `unmapped = "forward"`) and which credential the
//! harness splices in (bits 0-1: none / a sample token / a Huawei
//! signature / an Alibaba signature over the request as built; bits 2-4:
//! which sample token or key), so allow paths are reached. Never a panic;
//! one `x-request-id` per response; a request that reached the upstream
//! carries the decision `allow` (or `unmapped` on the forwarding gateway):
//! a `Permit` is only ever made when the engine allowed.
#![no_main]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use iamgate::config::Config;
use iamgate::decision_log::DecisionLog;
use iamgate::identity::{
    acs3_canonical_request, acs3_string_to_sign, hmac_sha256_hex, sdk_hmac_canonical_request,
    sdk_hmac_string_to_sign, sha256_hex, HttpParts,
};
use iamgate::metrics::Metrics;
use iamgate::proxy::handler::{handle, Connection};
use iamgate::proxy::Gateway;
use iamgate::snapshot::{Snapshot, SnapshotHolder};
use libfuzzer_sys::fuzz_target;
use time::macros::format_description;
use time::OffsetDateTime;

/// THE place to adapt when `Gateway`/`handle` change: builds the gateway as
/// `tests/pipeline.rs` does. `unmapped_forward` adds `unmapped = "forward"`.
fn build_gateway(unmapped_forward: bool) -> Arc<Gateway> {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let dir = std::env::temp_dir().join(format!(
        "iamgate-fuzz-handler-{}-{unmapped_forward}",
        std::process::id()
    ));
    let extra = if unmapped_forward {
        "unmapped = \"forward\"\n"
    } else {
        ""
    };
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = \"{repo}/routes\"\npolicies = \"{repo}/policies\"\ndebug_headers = true\n{extra}[upstreams]\nmodelarts = \"http://127.0.0.1:9\"\nagentrun = \"http://127.0.0.1:9\"\n[regions]\nagentrun = \"cn-hangzhou\"\n"
    );
    let config_path = dir.join("iamgate.toml");
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&config_path, text));
    if let Err(e) = written {
        panic!("cannot write {}: {e}", config_path.display());
    }
    let config = Config::load(&config_path).unwrap_or_else(|d| panic!("config: {d:?}"));
    let snapshot = Snapshot::load(&config).unwrap_or_else(|d| panic!("snapshot: {d:?}"));
    let dead: http::uri::Authority = "127.0.0.1:9".parse().unwrap_or_else(|e| panic!("{e}"));
    let targets = HashMap::from([
        ("modelarts".to_string(), dead.clone()),
        ("agentrun".to_string(), dead),
    ]);
    let snapshots = Arc::new(SnapshotHolder::new(snapshot));
    Arc::new(Gateway::new(
        config,
        snapshots,
        targets,
        Metrics::new(),
        DecisionLog::disabled(),
    ))
}

/// One current-thread runtime and the two gateways, made once per process.
struct World {
    rt: tokio::runtime::Runtime,
    plain: Arc<Gateway>,
    forwarding: Arc<Gateway>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let (plain, forwarding) = {
            let _guard = rt.enter();
            (build_gateway(false), build_gateway(true))
        };
        World {
            rt,
            plain,
            forwarding,
        }
    })
}

/// Sample tokens (valid, expired, garbage) from `policies/credentials.toml`.
const TOKENS: [&str; 3] = [
    "example-token-alice-not-real",
    "example-token-expired-not-real",
    "example-token-nobody",
];
/// Huawei access keys (id, secret) from `policies/credentials.toml`.
const HUAWEI_KEYS: [(&str, &str); 4] = [
    ("HWALICEEXAMPLEAK0001", "alice-example-secret-not-real"),
    ("HWREADEREXAMPLEAK002", "reader-example-secret-not-real"),
    ("HWOPERATOREXAMPLE003", "operator-example-secret-not-real"),
    ("HWACMEROOTEXAMPLE006", "acme-root-example-secret-not-real"),
];
/// Alibaba access keys (id, secret) from `policies/credentials.toml`.
const ALIYUN_KEYS: [(&str, &str); 4] = [
    ("LTAIRUNNEREXAMPLE0001", "runner-example-secret-not-real"),
    ("LTAIVIEWEREXAMPLE0002", "viewer-example-secret-not-real"),
    ("LTAIGUARDEDEXAMPLE003", "guarded-example-secret-not-real"),
    ("LTAIPRODROOTEXAMPLE04", "prod-root-example-secret-not-real"),
];

fn text<'a>(field: Option<&&'a [u8]>) -> &'a str {
    field
        .and_then(|f| std::str::from_utf8(f).ok())
        .unwrap_or("")
}

/// `name: value` lines → headers; a line that is no valid header is skipped.
fn headers(text: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes());
        let value = HeaderValue::from_bytes(value.trim().as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            map.append(name, value);
        }
    }
    map
}

fn set(req: &mut Request<Full<Bytes>>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        req.headers_mut().append(name, v);
    }
}

/// The signed headers the harness adds: `host` (if missing) and the date.
fn prepare_signing(req: &mut Request<Full<Bytes>>, date_header: &'static str, date: &str) {
    if !req.headers().contains_key("host") {
        set(req, "host", "127.0.0.1:8080");
    }
    set(req, date_header, date);
}

fn parts<'a>(req: &'a Request<Full<Bytes>>, body: &'a [u8]) -> HttpParts<'a> {
    HttpParts {
        method: req.method().as_str(),
        raw_path: req.uri().path(),
        raw_query: req.uri().query(),
        authority: req.uri().authority().map(|a| a.as_str()),
        headers: req.headers(),
        body,
    }
}

fn sign_huawei(req: &mut Request<Full<Bytes>>, body: &[u8], (ak, sk): (&str, &str)) {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    let date = OffsetDateTime::now_utc().format(format).unwrap_or_default();
    prepare_signing(req, "x-sdk-date", &date);
    let signed = vec!["host".to_string(), "x-sdk-date".to_string()];
    let Ok(canonical) = sdk_hmac_canonical_request(&parts(req, body), &signed) else {
        return;
    };
    let signature = hmac_sha256_hex(sk.as_bytes(), &sdk_hmac_string_to_sign(&date, &canonical));
    let auth = format!(
        "SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature={signature}"
    );
    set(req, "authorization", &auth);
}

fn sign_aliyun(req: &mut Request<Full<Bytes>>, body: &[u8], (ak, sk): (&str, &str)) {
    static NONCE: AtomicU64 = AtomicU64::new(0);
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let date = OffsetDateTime::now_utc().format(format).unwrap_or_default();
    prepare_signing(req, "x-acs-date", &date);
    set(req, "x-acs-content-sha256", &sha256_hex(body));
    let nonce = format!("fuzz-{}", NONCE.fetch_add(1, Ordering::Relaxed));
    set(req, "x-acs-signature-nonce", &nonce);
    let names = [
        "host",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
    ];
    let signed: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let Ok(canonical) = acs3_canonical_request(&parts(req, body), &signed) else {
        return;
    };
    let signature = hmac_sha256_hex(sk.as_bytes(), &acs3_string_to_sign(&canonical));
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={},Signature={signature}",
        names.join(";")
    );
    set(req, "authorization", &auth);
}

/// Build the request from the input; `None` when method or target is no valid HTTP.
fn request(flags: u8, fields: &[&[u8]]) -> Option<Request<Full<Bytes>>> {
    let method = http::Method::from_bytes(fields.first().copied().unwrap_or(b"GET")).ok()?;
    let uri: http::Uri = text(fields.get(1)).parse().ok()?;
    let body = Bytes::copy_from_slice(fields.get(3).copied().unwrap_or(b""));
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(body.clone()))
        .ok()?;
    *req.headers_mut() = headers(text(fields.get(2)));
    let which = usize::from(flags >> 2) % 4;
    match flags & 3 {
        1 => set(&mut req, "x-auth-token", TOKENS[which % TOKENS.len()]),
        2 => sign_huawei(&mut req, &body, HUAWEI_KEYS[which]),
        3 => sign_aliyun(&mut req, &body, ALIYUN_KEYS[which]),
        _ => {}
    }
    Some(req)
}

/// `IAMGATE_FUZZ_TRACE=1`: print each status and decision (to check that a
/// corpus reaches the allow paths).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("IAMGATE_FUZZ_TRACE").is_some())
}

fuzz_target!(|data: &[u8]| {
    let Some((flags, rest)) = data.split_first() else {
        return;
    };
    let fields: Vec<&[u8]> = rest.split(|b| *b == 0xFF).collect();
    let Some(req) = request(*flags, &fields) else {
        return;
    };
    let w = world();
    let forwarding = flags & 0x20 != 0;
    let gw = if forwarding { &w.forwarding } else { &w.plain };
    let conn = Connection {
        peer: std::net::IpAddr::from([127, 0, 0, 1]),
        tls: false,
        framing: None,
    };
    let resp = w.rt.block_on(handle(gw.clone(), req, conn));
    let ids = resp.headers().get_all("x-request-id").iter().count();
    assert_eq!(ids, 1, "{} x-request-id headers", ids);
    let decision = resp
        .headers()
        .get("x-iamgate-decision")
        .and_then(|v| v.to_str().ok());
    let status = resp.status();
    if trace() {
        eprintln!("trace: {status} decision={decision:?}");
    }
    if matches!(
        status,
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT
    ) {
        if let Some(decision) = decision {
            let ok = decision == "allow" || (forwarding && decision == "unmapped");
            assert!(ok, "forwarded with decision {decision:?}");
        }
    }
});
