//! The writer task: batches records, serializes them and appends them to the
//! output. A failed write never stops logging for good: the batch is dropped
//! and counted, the file is closed, and the next batch after a backoff opens
//! it again (doubling the backoff while it keeps failing). A reopen request
//! (SIGUSR1, after logrotate moved the file) closes the file so the next
//! batch creates a fresh one; with `max_bytes`, the file is rotated to
//! `<file>.1` before a batch would make it larger than that.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::{Hooks, Message};

/// Records handed to the writer per write call, at most.
const BATCH: usize = 256;

/// The longest wait between two attempts while writes keep failing.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the lines go, and the state needed to recover from failures.
pub(super) enum Sink {
    Stdout,
    File(FileSink),
}

pub(super) struct FileSink {
    pub(super) path: PathBuf,
    pub(super) max_bytes: Option<u64>,
    /// `None` until (re)opened: at start after a failure or a reopen request.
    pub(super) file: Option<tokio::fs::File>,
    /// Bytes in the file, for size-based rotation.
    pub(super) size: u64,
}

/// Retry state after a write error.
pub(super) struct Backoff {
    first: Duration,
    current: Duration,
    until: Option<Instant>,
}

impl Backoff {
    pub(super) fn new(first: Duration) -> Backoff {
        Backoff {
            first,
            current: first,
            until: None,
        }
    }

    fn waiting(&self) -> bool {
        self.until.is_some_and(|t| Instant::now() < t)
    }

    fn failed(&mut self) {
        self.until = Some(Instant::now() + self.current);
        self.current = (self.current * 2).min(MAX_BACKOFF);
    }

    fn succeeded(&mut self) {
        self.current = self.first;
        self.until = None;
    }
}

/// The task: batch, serialize, write, flush when the channel is dry.
pub(super) async fn write_lines(
    mut rx: mpsc::Receiver<Message>,
    mut sink: Sink,
    hooks: Hooks,
    reopen: Arc<AtomicBool>,
    mut backoff: Backoff,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut buf = Vec::new();
    loop {
        batch.clear();
        if rx.recv_many(&mut batch, BATCH).await == 0 {
            break; // every sender is gone
        }
        let (lines, closing) = serialize(&mut batch, &mut buf, &hooks);
        if reopen.swap(false, Ordering::SeqCst) {
            sink.close();
            backoff.succeeded();
        }
        if lines > 0 {
            if backoff.waiting() {
                (0..lines).for_each(|_| (hooks.on_drop)());
            } else if let Err(err) = sink.write(&buf).await {
                tracing::warn!(error = %err, "decision log write failed; retrying after {:?}", backoff.current);
                (hooks.on_write_error)();
                (0..lines).for_each(|_| (hooks.on_drop)());
                sink.close();
                backoff.failed();
            } else {
                backoff.succeeded();
            }
        }
        if closing {
            break;
        }
    }
}

/// JSON lines of the batch's records into `buf`; (lines, close requested).
/// Records after a `Close` are dropped and counted.
fn serialize(batch: &mut Vec<Message>, buf: &mut Vec<u8>, hooks: &Hooks) -> (usize, bool) {
    buf.clear();
    let mut lines = 0usize;
    let mut closing = false;
    for msg in batch.drain(..) {
        match msg {
            Message::Close => closing = true,
            Message::Record(_) if closing => (hooks.on_drop)(),
            Message::Record(rec) => {
                if serde_json::to_writer(&mut *buf, &*rec).is_ok() {
                    buf.push(b'\n');
                    lines += 1;
                } else {
                    (hooks.on_drop)();
                }
            }
        }
    }
    (lines, closing)
}

impl Sink {
    /// Forget the open file; the next write opens the path again.
    fn close(&mut self) {
        if let Sink::File(f) = self {
            f.file = None;
        }
    }

    async fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.write(buf).await,
            Sink::Stdout => {
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
}

impl FileSink {
    /// Opens (append, create) the path and learns its size.
    pub(super) fn open(&mut self) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(tokio::fs::File::from_std(file));
        Ok(())
    }

    async fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            self.open()?;
        }
        let len = buf.len() as u64;
        if self
            .max_bytes
            .is_some_and(|max| self.size > 0 && self.size + len > max)
        {
            self.rotate()?;
        }
        let Some(file) = self.file.as_mut() else {
            return Err(std::io::Error::other("decision log file is not open"));
        };
        file.write_all(buf).await?;
        file.flush().await?;
        self.size += len;
        Ok(())
    }

    /// `<file>` → `<file>.1` (replacing an older one), then a fresh `<file>`.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        std::fs::rename(&self.path, rotated)?;
        self.open()
    }
}
