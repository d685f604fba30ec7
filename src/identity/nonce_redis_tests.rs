//! Tests of the shared store that need no Redis: the key encoding, the TTL
//! arithmetic, URL validation, and failing closed when nothing listens.
//! Two gateways sharing a real `redis-server` are tested end to end in
//! `tests/e2e/test_redis_nonces.py`.

use super::*;
use crate::cloud::Cloud;
use crate::identity::reference_signer;
use crate::identity::test_vectors::OwnedRequest;
use crate::identity::{identify, AuthError, Credential};
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);
const WINDOW: time::Duration = time::Duration::minutes(15);

#[test]
fn keys_of_different_pairs_never_collide() {
    assert_ne!(nonce_key("a:b", "c"), nonce_key("a", "b:c"));
    assert_eq!(nonce_key("ak", "n1"), "iamgate:acs3-nonce:2:ak:n1");
}

#[test]
fn ttl_covers_the_window_from_the_later_of_signed_and_arrival() {
    assert_eq!(ttl_seconds(T0, T0, WINDOW), 901);
    // Signed 10 minutes in the future: remembered 25 minutes from arrival.
    let future = T0 + time::Duration::minutes(10);
    assert_eq!(ttl_seconds(future, T0, WINDOW), 25 * 60 + 1);
    // Signed 14 minutes ago: the window still runs from arrival.
    let past = T0 - time::Duration::minutes(14);
    assert_eq!(ttl_seconds(past, T0, WINDOW), 901);
    // A fraction of a second rounds up, never down.
    let frac = T0 + time::Duration::milliseconds(1);
    assert_eq!(ttl_seconds(frac, T0, WINDOW), 902);
}

#[test]
fn only_redis_urls_are_accepted() {
    assert!(validate_redis_url("redis://127.0.0.1:6379/0").is_ok());
    assert!(validate_redis_url("redis+unix:///run/redis.sock").is_ok());
    assert!(validate_redis_url("http://127.0.0.1:6379").is_err());
    assert!(validate_redis_url("redis://").is_err());
}

#[tokio::test]
async fn an_unreachable_redis_fails_closed_within_the_timeout() {
    // Bind then drop a listener: the port is (almost surely) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisNonceStore::new(
        &format!("redis://127.0.0.1:{port}/0"),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_millis(200),
    );
    let start = std::time::Instant::now();
    for _ in 0..2 {
        assert_eq!(
            store.check_and_insert("ak", "n1", T0, T0).await,
            Err(AuthFailure::ReplayStoreUnavailable)
        );
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    assert!(!store.healthy.load(Ordering::Relaxed));
}

#[tokio::test]
async fn a_silent_redis_times_out_and_fails_closed() {
    // Accepts the connection but never answers: the timeout bounds the call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let store = RedisNonceStore::new(
        &format!("redis://127.0.0.1:{port}/0"),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_millis(200),
    );
    let start = std::time::Instant::now();
    assert_eq!(
        store.check_and_insert("ak", "n1", T0, T0).await,
        Err(AuthFailure::ReplayStoreUnavailable)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    hold.abort();
}

fn load_config(extra: &str) -> Result<crate::config::Config, Vec<crate::diag::Diagnostic>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iamgate.toml");
    let text = format!("listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n{extra}");
    std::fs::write(&path, text).unwrap();
    crate::config::Config::load(&path)
}

#[test]
fn the_store_is_in_memory_unless_a_url_is_configured() {
    assert_eq!(load_config("").unwrap().nonce_store, None);
    let config = load_config("[nonce_store]\nurl = \"redis://10.0.0.5:6379/2\"\n").unwrap();
    let shared = config.nonce_store.unwrap();
    assert_eq!(shared.url, "redis://10.0.0.5:6379/2");
    assert_eq!(shared.timeout, std::time::Duration::from_millis(250));
}

#[test]
fn a_bad_url_or_a_zero_timeout_is_a_config_error() {
    let errors = load_config("[nonce_store]\nurl = \"http://x\"\ntimeout_ms = 0\n").unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter().any(|e| e.contains("/nonce_store/url")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|e| e.contains("/nonce_store/timeout_ms")),
        "{text:?}"
    );
}

#[tokio::test]
async fn debug_shows_the_window_and_the_timeout_never_the_url() {
    let store = RedisNonceStore::new(
        "redis://user:hunter2@127.0.0.1:1/0",
        std::time::Duration::from_secs(900),
        std::time::Duration::from_millis(200),
    );
    let shown = format!("{store:?}");
    assert!(shown.starts_with("RedisNonceStore {"), "{shown}");
    assert!(shown.contains("timeout: 200ms"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A stand-in for Redis on 127.0.0.1:0 that speaks just enough RESP:
/// `SET key … NX …` stores the key once (`+OK`, then a nil), a key ending
/// in `:oom` gets the error a full Redis sends, anything else `+OK`. Every
/// command received is recorded.
async fn fake_redis() -> (
    u16,
    std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    tokio::task::JoinHandle<()>,
) {
    use std::sync::{Arc, Mutex};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let log = seen.clone();
    let server = tokio::spawn(async move {
        let keys: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve_resp(sock, keys.clone(), log.clone()));
        }
    });
    (port, seen, server)
}

async fn serve_resp(
    sock: tokio::net::TcpStream,
    keys: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    log: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::io::BufReader::new(sock);
    loop {
        let mut line = String::new();
        if sock.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let n: usize = line.trim_start_matches('*').trim().parse().unwrap();
        let mut args = Vec::new();
        for _ in 0..n {
            line.clear();
            sock.read_line(&mut line).await.unwrap();
            let len: usize = line.trim_start_matches('$').trim().parse().unwrap();
            let mut arg = vec![0; len + 2];
            sock.read_exact(&mut arg).await.unwrap();
            arg.truncate(len);
            args.push(String::from_utf8(arg).unwrap());
        }
        let reply: &[u8] = if args[0].eq_ignore_ascii_case("SET") {
            if args[1].ends_with(":oom") {
                b"-OOM command not allowed when used memory > 'maxmemory'\r\n"
            } else if keys.lock().unwrap().insert(args[1].clone()) {
                b"+OK\r\n"
            } else {
                b"$-1\r\n"
            }
        } else {
            b"+OK\r\n"
        };
        log.lock().unwrap().push(args);
        sock.get_mut().write_all(reply).await.unwrap();
    }
}

#[tokio::test]
async fn a_nonce_is_set_once_with_its_ttl_and_a_second_use_is_refused() {
    let (port, seen, server) = fake_redis().await;
    let store = RedisNonceStore::new(
        &format!("redis://127.0.0.1:{port}/0"),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(5),
    );
    assert_eq!(store.check_and_insert("ak", "n1", T0, T0).await, Ok(()));
    assert_eq!(
        store.check_and_insert("ak", "n1", T0, T0).await,
        Err(AuthFailure::NonceReused)
    );
    assert_eq!(store.check_and_insert("ak", "n2", T0, T0).await, Ok(()));
    let sets: Vec<Vec<String>> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c[0] == "SET")
        .cloned()
        .collect();
    assert_eq!(sets.len(), 3);
    assert_eq!(
        sets[0],
        ["SET", "iamgate:acs3-nonce:2:ak:n1", "1", "NX", "EX", "901"]
    );
    server.abort();
}

/// Collects what the `tracing` macros write while it is the default.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_error_reply_fails_closed_and_an_outage_is_logged_once_each_way() {
    let (port, _, server) = fake_redis().await;
    let store = RedisNonceStore::new(
        &format!("redis://127.0.0.1:{port}/0"),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(5),
    );
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    assert_eq!(store.check_and_insert("ak", "n0", T0, T0).await, Ok(()));
    for _ in 0..2 {
        assert_eq!(
            store.check_and_insert("ak", "oom", T0, T0).await,
            Err(AuthFailure::ReplayStoreUnavailable)
        );
    }
    assert!(!store.healthy.load(Ordering::Relaxed));
    for nonce in ["n1", "n2"] {
        assert_eq!(store.check_and_insert("ak", nonce, T0, T0).await, Ok(()));
    }
    assert!(store.healthy.load(Ordering::Relaxed));
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.matches("Redis is unavailable").count(), 1, "{text}");
    assert_eq!(text.matches("Redis answers again").count(), 1, "{text}");
    assert!(text.contains("OOM"), "{text}");
    server.abort();
}

fn sample_directory() -> crate::directory::Directory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    crate::directory::load(&dir, &mut Vec::new()).unwrap().0
}

/// An Alibaba request of an STS session, signed over the token too.
fn sts_request(issued: &crate::sts::sessions::Issued, nonce: &str) -> OwnedRequest {
    let mut req = OwnedRequest {
        method: "GET".into(),
        path: "/".into(),
        ..OwnedRequest::default()
    };
    req.set("host", "agentrun.example");
    req.set("x-acs-date", "2025-01-01T00:00:00Z");
    req.set("x-acs-content-sha256", &crate::identity::sha256_hex(b""));
    req.set("x-acs-signature-nonce", nonce);
    req.set("x-acs-security-token", &issued.token);
    let signed = [
        "host",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-security-token",
        "x-acs-signature-nonce",
    ];
    let sig = reference_signer::acs3_signature(&req, &signed, issued.secret.as_bytes());
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={sig}",
        issued.access_key_id,
        signed.join(";")
    );
    req.set("authorization", &auth);
    req
}

#[tokio::test]
async fn an_alibaba_session_records_its_nonce_in_the_shared_store() {
    let dir = sample_directory();
    let role = dir.role("1234567890123456", "AGENTRUNREADER").unwrap();
    let issued = crate::sts::sessions::issue(role, "ci", None, T0 + time::Duration::hours(1));
    let (port, seen, server) = fake_redis().await;
    let store = RedisNonceStore::new(
        &format!("redis://127.0.0.1:{port}/0"),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(5),
    );
    let req = sts_request(&issued, "sts-n1");
    for expected in [None, Some(AuthError::Verify(AuthFailure::NonceReused))] {
        let cred = identify(&dir, Cloud::Aliyun, &req.parts(), T0).unwrap();
        let got = cred
            .verify_replay(&req.parts(), T0, Replay::Shared(&store))
            .await;
        assert_eq!(got.as_ref().err(), expected.as_ref());
        if let Ok(who) = got {
            assert_eq!(
                who.access_key.as_deref(),
                Some(issued.access_key_id.as_str())
            );
        }
    }
    let key = nonce_key(&issued.access_key_id, "sts-n1");
    let sets = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c[0] == "SET")
        .count();
    assert_eq!(sets, 2);
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|c| c[0] == "SET" && c[1] == key));
    server.abort();
}

#[tokio::test]
async fn a_huawei_session_never_reaches_the_shared_store() {
    // Huawei requests carry no nonce: a Huawei temporary key is verified
    // as Huawei, and Redis is never asked.
    let dir = sample_directory();
    let alice = dir.access_keys.get("HWALICEEXAMPLEAK0001").unwrap();
    let key = crate::directory::AccessKey {
        secret: alice.secret.clone(),
        principal: alice.principal.clone(),
    };
    let mut req = OwnedRequest {
        method: "GET".into(),
        path: "/v1/acme0001/notebooks".into(),
        ..OwnedRequest::default()
    };
    req.set("host", "modelarts.example");
    req.set("x-sdk-date", "20250101T000000Z");
    let signed = ["host", "x-sdk-date"];
    let auth = crate::identity::SignedAuthorization {
        access_key: "HWALICEEXAMPLEAK0001".into(),
        signature: reference_signer::huawei_signature(&req, &signed, &key.secret),
        signed_headers: signed.iter().map(|s| s.to_string()).collect(),
    };
    let (port, seen, server) = fake_redis().await;
    let store = RedisNonceStore::new(
        &format!("redis://127.0.0.1:{port}/0"),
        std::time::Duration::from_secs(900),
        std::time::Duration::from_secs(5),
    );
    let cred = Credential::Session { key, auth };
    let who = cred
        .verify_replay(&req.parts(), T0, Replay::Shared(&store))
        .await
        .unwrap();
    assert_eq!(who.access_key.as_deref(), Some("HWALICEEXAMPLEAK0001"));
    assert!(seen.lock().unwrap().is_empty());
    server.abort();
}
