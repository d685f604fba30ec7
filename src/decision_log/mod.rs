//! The decision log: one JSON line per request, off the hot path.
//!
//! The proxy hands each [`DecisionRecord`] (schema in [`record`] and
//! `docs/decision-log.md`) to [`DecisionLog::record`], which never blocks: it
//! `try_send`s into a bounded channel, and when the channel is full the
//! record is dropped and the `on_drop` hook (`iamgate_decision_log_dropped_total`)
//! is called instead. A tokio task ([`writer`]) owns the output (stdout or a
//! file opened in append mode), serializes records in batches and flushes
//! whenever the channel runs dry. A write error calls `on_write_error`
//! (`iamgate_decision_log_write_errors_total`), drops that batch, and is
//! retried after a backoff — never fatal, never the end of logging.
//! [`DecisionLog::reopen`] (SIGUSR1) makes the writer open the file again
//! for logrotate; `max_bytes` rotates to `<file>.1` by itself.
//! [`DecisionLog::close`] drains and flushes for graceful shutdown.

pub mod record;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use record::{
    redact_query, rfc3339_now, ActionRecord, ContextValues, DecisionRecord, ErrorRecord,
    SCHEMA_VERSION,
};
use writer::{Backoff, FileSink, Sink};

/// Where decision lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Off,
    Stdout,
    /// Appended to; created if missing.
    File(PathBuf),
}

/// How the writer behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogOptions {
    /// The bounded channel's size (at least 1).
    pub capacity: usize,
    /// Rotate a file target to `<file>.1` before it would grow past this.
    pub max_bytes: Option<u64>,
    /// The first wait after a write error before writing again (doubles
    /// while writes keep failing, up to 30 s).
    pub retry_after: Duration,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            capacity: 10_000,
            max_bytes: None,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// What travels to the writer task.
enum Message {
    Record(Box<DecisionRecord>),
    /// Write what came before, flush, and stop.
    Close,
}

type Hook = Arc<dyn Fn() + Send + Sync>;

/// Counters the writer reports to (the proxy's metrics).
#[derive(Clone)]
struct Hooks {
    /// Once per record dropped instead of written.
    on_drop: Hook,
    /// Once per failed write (or failed open) of a batch.
    on_write_error: Hook,
}

/// A clonable sender handle to the decision-log writer.
#[derive(Clone)]
pub struct DecisionLog {
    inner: Option<Arc<Sender>>,
}

struct Sender {
    tx: mpsc::Sender<Message>,
    on_drop: Hook,
    reopen: Arc<AtomicBool>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionLog")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

impl DecisionLog {
    /// [`DecisionLog::start_with`] with default options but `capacity`, and
    /// write errors counted as drops only.
    pub fn start(
        target: LogTarget,
        capacity: usize,
        on_drop: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<DecisionLog> {
        let options = LogOptions {
            capacity,
            ..LogOptions::default()
        };
        DecisionLog::start_with(target, options, on_drop, || {})
    }

    /// Opens the target and spawns the writer task (must be called inside a
    /// tokio runtime). A file that cannot be opened now is an error (a
    /// configuration mistake); later failures are retried.
    pub fn start_with(
        target: LogTarget,
        options: LogOptions,
        on_drop: impl Fn() + Send + Sync + 'static,
        on_write_error: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<DecisionLog> {
        let sink = match target {
            LogTarget::Off => return Ok(DecisionLog::disabled()),
            LogTarget::Stdout => Sink::Stdout,
            LogTarget::File(path) => {
                let mut file = FileSink {
                    path,
                    max_bytes: options.max_bytes,
                    file: None,
                    size: 0,
                };
                file.open()?;
                Sink::File(file)
            }
        };
        let hooks = Hooks {
            on_drop: Arc::new(on_drop),
            on_write_error: Arc::new(on_write_error),
        };
        let reopen = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let backoff = Backoff::new(options.retry_after);
        let on_drop = Arc::clone(&hooks.on_drop);
        let task = writer::write_lines(rx, sink, hooks, Arc::clone(&reopen), backoff);
        Ok(DecisionLog {
            inner: Some(Arc::new(Sender {
                tx,
                on_drop,
                reopen,
                writer: Mutex::new(Some(tokio::spawn(task))),
            })),
        })
    }

    /// A log that writes nothing and counts nothing.
    pub fn disabled() -> DecisionLog {
        DecisionLog { inner: None }
    }

    /// Whether lines are written at all (`target = "off"` writes none, so the
    /// proxy need not build them).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues a record without blocking. When the channel is full (or the
    /// writer has stopped) the record is dropped and `on_drop` is called.
    pub fn record(&self, rec: DecisionRecord) {
        let Some(inner) = &self.inner else { return };
        if inner.tx.try_send(Message::Record(Box::new(rec))).is_err() {
            (inner.on_drop)();
        }
    }

    /// Asks the writer to open the file again before its next write (after
    /// logrotate renamed it), and to cut a pending retry backoff short.
    pub fn reopen(&self) {
        if let Some(inner) = &self.inner {
            inner.reopen.store(true, Ordering::SeqCst);
        }
    }

    /// Calls [`DecisionLog::reopen`] on every SIGUSR1 (logrotate's
    /// `postrotate kill -USR1`). The stream is registered before returning,
    /// so a signal sent afterwards is never lost.
    #[cfg(unix)]
    pub fn reopen_on_sigusr1(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut usr1 = signal(SignalKind::user_defined1())?;
        let log = self.clone();
        tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                tracing::info!("SIGUSR1: reopening the decision log");
                log.reopen();
            }
        });
        Ok(())
    }

    /// Writes and flushes every record queued before this call, then stops the
    /// writer. Records sent afterwards through other clones are dropped and
    /// counted.
    pub async fn close(self) {
        let Some(inner) = self.inner else { return };
        // Err means the writer already stopped; nothing left to flush.
        let _ = inner.tx.send(Message::Close).await;
        let writer = inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = writer {
            if let Err(err) = writer.await {
                tracing::warn!(error = %err, "decision log writer ended abnormally");
            }
        }
    }
}

#[cfg(test)]
mod tests;
