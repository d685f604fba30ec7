//! Tests of the shared store that need no Redis: the key encoding, the TTL
//! arithmetic, URL validation, and failing closed when nothing listens.
//! Two gateways sharing a real `redis-server` are tested end to end in
//! `tests/e2e/test_redis_nonces.py`.

use super::*;
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
