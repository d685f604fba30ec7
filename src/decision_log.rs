//! The decision log: one JSON line per authorization decision, off the hot path.
//!
//! The proxy hands each [`DecisionRecord`] to [`DecisionLog::record`], which
//! never blocks: it `try_send`s into a bounded channel, and when the channel
//! is full the record is dropped and the `on_drop` callback (the proxy's
//! `iamgate_decision_log_dropped_total`) is called instead. A tokio task owns
//! the output (stdout or a file opened in append mode), serializes records in
//! batches and flushes whenever the channel runs dry. A write error is warned
//! about once; from then on lines are dropped and counted, so a full disk
//! cannot stall or crash request handling. [`DecisionLog::close`] drains and
//! flushes for graceful shutdown.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One decision, as written to the log (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecisionRecord {
    /// When the decision was made, RFC 3339 (see [`rfc3339_now`]).
    pub time: String,
    pub request_id: String,
    /// The principal URN, or `""` when the request was not authenticated.
    pub principal: String,
    pub service: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    /// What decided, e.g. `"ReadOnly#0 (Sid)"`, `"scp level 1 (ou-prod)"`, `"root"`.
    pub deciding: String,
    /// The digest of the snapshot the request was decided on.
    pub snapshot: String,
    pub latency_us: u64,
    pub status: u16,
}

/// The current UTC time in RFC 3339, for [`DecisionRecord::time`].
pub fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Where decision lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Off,
    Stdout,
    /// Appended to; created if missing.
    File(PathBuf),
}

/// What travels to the writer task.
enum Message {
    Record(Box<DecisionRecord>),
    /// Write what came before, flush, and stop.
    Close,
}

type OnDrop = Arc<dyn Fn() + Send + Sync>;

/// The writer's destination. Stdout is written from the blocking pool since
/// the crate's tokio build has no async stdout.
enum Output {
    Stdout,
    Async(Box<dyn AsyncWrite + Unpin + Send>),
}

/// Records handed to the writer per write call, at most.
const BATCH: usize = 256;

/// A clonable sender handle to the decision-log writer.
#[derive(Clone)]
pub struct DecisionLog {
    inner: Option<Arc<Sender>>,
}

struct Sender {
    tx: mpsc::Sender<Message>,
    on_drop: OnDrop,
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
    /// Opens the target and spawns the writer task (must be called inside a
    /// tokio runtime). `capacity` is the bounded channel's size (at least 1).
    /// `on_drop` is called once per record that is dropped instead of written.
    pub fn start(
        target: LogTarget,
        capacity: usize,
        on_drop: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<DecisionLog> {
        let output = match target {
            LogTarget::Off => return Ok(DecisionLog::disabled()),
            LogTarget::Stdout => Output::Stdout,
            LogTarget::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)?;
                Output::Async(Box::new(tokio::fs::File::from_std(file)))
            }
        };
        let on_drop: OnDrop = Arc::new(on_drop);
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let writer = tokio::spawn(write_lines(rx, output, Arc::clone(&on_drop)));
        Ok(DecisionLog {
            inner: Some(Arc::new(Sender {
                tx,
                on_drop,
                writer: Mutex::new(Some(writer)),
            })),
        })
    }

    /// A log that writes nothing and counts nothing.
    pub fn disabled() -> DecisionLog {
        DecisionLog { inner: None }
    }

    /// Queues a record without blocking. When the channel is full (or the
    /// writer has stopped) the record is dropped and `on_drop` is called.
    pub fn record(&self, rec: DecisionRecord) {
        let Some(inner) = &self.inner else { return };
        if inner.tx.try_send(Message::Record(Box::new(rec))).is_err() {
            (inner.on_drop)();
        }
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

/// The writer task: batch, serialize, write, flush when the channel is dry.
async fn write_lines(mut rx: mpsc::Receiver<Message>, mut output: Output, on_drop: OnDrop) {
    let mut failed = false;
    let mut batch = Vec::with_capacity(BATCH);
    let mut buf = Vec::new();
    loop {
        batch.clear();
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            break; // every sender is gone
        }
        buf.clear();
        let mut lines = 0usize;
        let mut closing = false;
        for msg in batch.drain(..) {
            match msg {
                Message::Close => closing = true,
                Message::Record(_) if failed || closing => on_drop(),
                Message::Record(rec) => {
                    if serde_json::to_writer(&mut buf, &*rec).is_ok() {
                        buf.push(b'\n');
                        lines += 1;
                    } else {
                        on_drop();
                    }
                }
            }
        }
        if lines > 0 {
            if let Err(err) = write_batch(&mut output, &buf).await {
                tracing::warn!(error = %err, "decision log write failed; dropping further lines");
                failed = true;
                (0..lines).for_each(|_| on_drop());
            }
        }
        if closing {
            break;
        }
    }
}

async fn write_batch(output: &mut Output, buf: &[u8]) -> std::io::Result<()> {
    match output {
        Output::Async(out) => {
            out.write_all(buf).await?;
            out.flush().await
        }
        Output::Stdout => {
            let buf = buf.to_vec();
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(&buf)?;
                out.flush()
            })
            .await
            .map_err(std::io::Error::other)?
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn sample(n: u64) -> DecisionRecord {
        DecisionRecord {
            time: rfc3339_now(),
            request_id: format!("req-{n}"),
            principal: "iam::123:user/alice".to_owned(),
            service: "ecs".to_owned(),
            action: "ecs:servers:list".to_owned(),
            resource: "ecs:cn-north-4:123:instance:*".to_owned(),
            decision: "allow".to_owned(),
            deciding: "ReadOnly#0 (Sid)".to_owned(),
            snapshot: "abc123".to_owned(),
            latency_us: 42 + n,
            status: 200,
        }
    }

    fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = Arc::clone(&drops);
        (drops, move || {
            d.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[tokio::test]
    async fn writes_json_lines_to_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.log");
        std::fs::write(&path, "existing\n").unwrap();
        let (drops, on_drop) = counter();
        let log = DecisionLog::start(LogTarget::File(path.clone()), 16, on_drop).unwrap();
        let clone = log.clone();
        log.record(sample(0));
        clone.record(sample(1));
        log.close().await;

        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], "existing", "append mode keeps old content");
        for (n, line) in lines[1..].iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["request_id"], format!("req-{n}"));
            assert_eq!(v["principal"], "iam::123:user/alice");
            assert_eq!(v["service"], "ecs");
            assert_eq!(v["action"], "ecs:servers:list");
            assert_eq!(v["resource"], "ecs:cn-north-4:123:instance:*");
            assert_eq!(v["decision"], "allow");
            assert_eq!(v["deciding"], "ReadOnly#0 (Sid)");
            assert_eq!(v["snapshot"], "abc123");
            assert_eq!(v["latency_us"], 42 + n as u64);
            assert_eq!(v["status"], 200);
            let time = v["time"].as_str().unwrap();
            let format = time::format_description::well_known::Rfc3339;
            assert!(time::OffsetDateTime::parse(time, &format).is_ok(), "{time}");
        }
        assert_eq!(drops.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn full_channel_drops_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.log");
        let (drops, on_drop) = counter();
        let log = DecisionLog::start(LogTarget::File(path.clone()), 1, on_drop).unwrap();
        // On a current-thread runtime the writer cannot run until we yield,
        // so the first record fills the channel and the rest are dropped.
        log.record(sample(0));
        log.record(sample(1));
        log.record(sample(2));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        log.close().await;

        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("\"req-0\""));
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn records_after_close_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.log");
        let (drops, on_drop) = counter();
        let log = DecisionLog::start(LogTarget::File(path.clone()), 4, on_drop).unwrap();
        let clone = log.clone();
        log.close().await;
        clone.record(sample(0));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[tokio::test]
    async fn write_error_drops_and_counts() {
        let (drops, on_drop) = counter();
        let on_drop: OnDrop = Arc::new(on_drop);
        let (tx, rx) = mpsc::channel(8);
        let output = Output::Async(Box::new(FailingWriter));
        let writer = tokio::spawn(write_lines(rx, output, Arc::clone(&on_drop)));
        for n in 0..3 {
            tx.send(Message::Record(Box::new(sample(n)))).await.unwrap();
        }
        tx.send(Message::Close).await.unwrap();
        writer.await.unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn disabled_and_off_write_nothing() {
        let (drops, on_drop) = counter();
        let off = DecisionLog::start(LogTarget::Off, 4, on_drop).unwrap();
        assert!(off.inner.is_none());
        let disabled = DecisionLog::disabled();
        for n in 0..10 {
            disabled.record(sample(n));
            off.record(sample(n));
        }
        disabled.close().await;
        off.close().await;
        assert_eq!(drops.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn open_error_is_reported() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("decisions.log");
        assert!(DecisionLog::start(LogTarget::File(missing), 4, || {}).is_err());
    }

    /// An output whose every write fails, like a full disk.
    struct FailingWriter;

    impl AsyncWrite for FailingWriter {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            _buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::task::Poll::Ready(Err(std::io::Error::other("disk full")))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }
}
