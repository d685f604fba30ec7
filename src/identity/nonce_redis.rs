//! The ACS3 replay store shared by a fleet: every replica records a nonce in
//! one Redis (or Valkey) with `SET key 1 NX EX ttl`, so a nonce any replica
//! has accepted is refused by all of them for the rest of its window.
//!
//! It fails **closed**: Redis unreachable, slow (every call is bounded by
//! `timeout`) or answering an error (say OOM under `maxmemory`) makes the
//! ACS3 request fail with [`AuthFailure::ReplayStoreUnavailable`] (503),
//! never accepted unchecked. The client reconnects on its own, so the
//! gateway recovers without a restart when Redis is back. Going down and
//! coming back are logged once each (not once per request, which would
//! flood the log during an outage); every refused request is counted by the
//! caller's metrics. The TTL is the same `max(signed, arrival) + window` the
//! in-memory store keeps a nonce for, rounded up to whole seconds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use time::OffsetDateTime;

use super::error::AuthFailure;
use super::nonce::NonceStore;

/// Prefix of every key the gateway writes, so the store can share a Redis.
const KEY_PREFIX: &str = "iamgate:acs3-nonce:";

/// Which replay store a request's nonce is checked against.
#[derive(Clone, Copy)]
pub enum Replay<'a> {
    /// The process's own bounded store (the default).
    Local(&'a NonceStore),
    /// The fleet's Redis.
    Shared(&'a RedisNonceStore),
}

/// Nonces remembered in Redis, shared by every replica pointing at it.
pub struct RedisNonceStore {
    /// `Err` only if the client could not be built from a URL that passed
    /// validation; then every check fails closed.
    conn: Result<ConnectionManager, String>,
    window: time::Duration,
    timeout: Duration,
    /// Whether the last call succeeded; flips are logged.
    healthy: AtomicBool,
}

impl std::fmt::Debug for RedisNonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNonceStore")
            .field("window", &self.window)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Checks that `url` is a Redis URL the client accepts (no connection made).
pub fn validate_redis_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
        return Err(format!(
            "`{url}`: expected redis://host:port/db or redis+unix:///path"
        ));
    }
    redis::Client::open(url)
        .map(|_| ())
        .map_err(|e| format!("`{url}`: {e}"))
}

impl RedisNonceStore {
    /// A store on `url`, remembering nonces for `window`, each call bounded
    /// by `timeout`. Connects lazily (a gateway starts while Redis is down
    /// and answers 503 to ACS3 requests until it is up); must be called
    /// inside a Tokio runtime.
    pub fn new(url: &str, window: Duration, timeout: Duration) -> Self {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // One quick retry per reconnect: a request must not wait out a
            // long backoff; the next request triggers the next attempt.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(timeout);
        let conn = redis::Client::open(url)
            .and_then(|client| ConnectionManager::new_lazy_with_config(client, config))
            .map_err(|e| e.to_string());
        if let Err(e) = &conn {
            tracing::error!(error = %e, "nonce store: the Redis client could not be built; ACS3 requests will be refused (503)");
        }
        Self {
            conn,
            window: time::Duration::try_from(window).unwrap_or(time::Duration::MAX),
            timeout,
            healthy: AtomicBool::new(true),
        }
    }

    /// Records `nonce` of `access_key` (signed at `signed`, arriving at
    /// `now`) unless any replica already has: `NonceReused` then; Redis
    /// failing or slower than the timeout → `ReplayStoreUnavailable`.
    pub async fn check_and_insert(
        &self,
        access_key: &str,
        nonce: &str,
        signed: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), AuthFailure> {
        let mut conn = match &self.conn {
            Ok(c) => c.clone(),
            Err(e) => return Err(self.failed(e)),
        };
        let mut set = redis::cmd("SET");
        set.arg(nonce_key(access_key, nonce))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl_seconds(signed, now, self.window));
        let reply =
            tokio::time::timeout(self.timeout, set.query_async::<Option<String>>(&mut conn)).await;
        match reply {
            Ok(Ok(stored)) => {
                self.recovered();
                stored.map(|_| ()).ok_or(AuthFailure::NonceReused)
            }
            Ok(Err(e)) => Err(self.failed(&e.to_string())),
            Err(_) => Err(self.failed("timed out")),
        }
    }

    /// Logs the first failure of an outage and returns the refusal.
    fn failed(&self, why: &str) -> AuthFailure {
        if self.healthy.swap(false, Ordering::Relaxed) {
            tracing::error!(error = %why, "nonce store: Redis is unavailable; ACS3 requests are refused (503) until it answers");
        } else {
            tracing::debug!(error = %why, "nonce store: Redis still unavailable");
        }
        AuthFailure::ReplayStoreUnavailable
    }

    /// Logs the end of an outage.
    fn recovered(&self) {
        if !self.healthy.swap(true, Ordering::Relaxed) {
            tracing::info!("nonce store: Redis answers again");
        }
    }
}

/// The Redis key of a nonce. The access key's length comes first so that
/// no `(access key, nonce)` pair can spell another pair's key: one tenant
/// cannot pre-empt another's nonces by choosing a key with a `:` in it.
pub(crate) fn nonce_key(access_key: &str, nonce: &str) -> String {
    format!("{KEY_PREFIX}{}:{access_key}:{nonce}", access_key.len())
}

/// Seconds to remember a nonce: until `max(signed, now) + window`, rounded
/// up, plus one second because the in-memory store keeps an entry while
/// `now <= expiry` (inclusive) and Redis expires at the TTL.
pub(crate) fn ttl_seconds(
    signed: OffsetDateTime,
    now: OffsetDateTime,
    window: time::Duration,
) -> u64 {
    let remaining = signed.max(now).saturating_add(window) - now;
    let whole = remaining.whole_seconds().max(0).unsigned_abs();
    let partial = u64::from(remaining.subsec_nanoseconds() > 0);
    whole + partial + 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "nonce_redis_tests.rs"]
mod tests;
