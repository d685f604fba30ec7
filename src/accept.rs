//! Accepting connections without spinning. When `accept` fails because the
//! process is out of a resource (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`),
//! the listening socket stays readable, so retrying at once burns a core and
//! floods the log. [`Acceptor`] sleeps with an exponential backoff (10 ms
//! doubling to 1 s, reset by the next success), logs at most once a second
//! (with how many errors it left out) and counts every error in
//! `iamgate_accept_errors_total{listener}`. Errors that concern one
//! connection only (aborted or reset before we took it) are retried at once:
//! the next connection is unaffected.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::metrics::Metrics;

/// First sleep after a resource error.
pub const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// Longest sleep between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// At most one log line per this interval.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// A listener's accept state: its name (the metric label), the current
/// backoff and the log rate limit.
pub struct Acceptor {
    listener: &'static str,
    metrics: Option<Metrics>,
    backoff: Duration,
    last_log: Option<Instant>,
    suppressed: u64,
}

impl Acceptor {
    /// `listener` is `gateway`, `admin` or `mock` (the metric label);
    /// `metrics` is `None` where no registry exists (the standalone mock).
    pub fn new(listener: &'static str, metrics: Option<Metrics>) -> Acceptor {
        Acceptor {
            listener,
            metrics,
            backoff: MIN_BACKOFF,
            last_log: None,
            suppressed: 0,
        }
    }

    /// The next connection. Never returns an error: resource errors are
    /// waited out. Cancel-safe (use it in `select!` with a shutdown future).
    pub async fn accept(&mut self, listener: &TcpListener) -> (TcpStream, SocketAddr) {
        loop {
            match listener.accept().await {
                Ok(accepted) => {
                    self.backoff = MIN_BACKOFF;
                    return accepted;
                }
                Err(e) if per_connection(&e) => {
                    tracing::debug!(listener = self.listener, error = %e, "accept: connection lost before accepted");
                }
                Err(e) => {
                    let pause = self.failed(&e, Instant::now());
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Count and maybe log one resource error; returns how long to wait.
    fn failed(&mut self, error: &std::io::Error, now: Instant) -> Duration {
        if let Some(m) = &self.metrics {
            m.accept_error(self.listener);
        }
        if self.should_log(now) {
            tracing::warn!(
                listener = self.listener,
                error = %error,
                suppressed = self.suppressed,
                backoff_ms = self.backoff.as_millis() as u64,
                "accept failed; backing off (suppressed = errors not logged in the last second)"
            );
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        pause
    }

    fn should_log(&mut self, now: Instant) -> bool {
        match self.last_log {
            Some(at) if now.duration_since(at) < LOG_EVERY => false,
            _ => {
                self.last_log = Some(now);
                true
            }
        }
    }
}

/// Errors about one incoming connection, not about the process.
fn per_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn emfile() -> std::io::Error {
        std::io::Error::from_raw_os_error(24)
    }

    #[test]
    fn backoff_doubles_to_one_second() {
        let mut a = Acceptor::new("admin", None);
        let now = Instant::now();
        let pauses: Vec<u128> = (0..9)
            .map(|_| a.failed(&emfile(), now).as_millis())
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }

    #[test]
    fn logs_once_per_second_and_counts_the_rest() {
        let mut a = Acceptor::new("admin", None);
        let t0 = Instant::now();
        assert!(a.should_log(t0));
        for ms in [1, 200, 999] {
            assert!(!a.should_log(t0 + Duration::from_millis(ms)));
        }
        assert!(a.should_log(t0 + Duration::from_millis(1000)));
        // failed() keeps the count of what it did not log.
        let mut b = Acceptor::new("admin", None);
        for _ in 0..5 {
            b.failed(&emfile(), t0);
        }
        assert_eq!(b.suppressed, 4);
        b.failed(&emfile(), t0 + LOG_EVERY);
        assert_eq!(b.suppressed, 0);
    }

    #[test]
    fn every_error_is_counted() {
        let m = Metrics::new();
        let mut a = Acceptor::new("gateway", Some(m.clone()));
        for _ in 0..3 {
            a.failed(&emfile(), Instant::now());
        }
        assert!(m
            .render()
            .contains(r#"iamgate_accept_errors_total{listener="gateway"} 3"#));
    }

    #[test]
    fn lost_connections_are_not_resource_errors() {
        assert!(per_connection(&ErrorKind::ConnectionAborted.into()));
        assert!(!per_connection(&emfile()));
    }

    #[tokio::test]
    async fn accepts_and_resets_the_backoff() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut a = Acceptor::new("mock", None);
        a.failed(&emfile(), Instant::now());
        let client = tokio::spawn(TcpStream::connect(addr));
        let (_stream, _) = a.accept(&listener).await;
        client.await.unwrap().unwrap();
        assert_eq!(a.backoff, MIN_BACKOFF);
    }
}
