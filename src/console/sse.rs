//! `GET /-/events`: server-sent events of new decisions. A stream starts
//! with the ring's backlog (one chunk), then one `decision` event per new
//! record. Each stream has its own bounded buffer, filled with `try_send`:
//! when the browser reads slower than the gateway decides, events are
//! dropped and counted (and the page told how many), never waited for.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::{Console, Entry};
use crate::proxy::BoxError;

/// Chunks a stream may hold before its events are dropped.
pub const CLIENT_BUFFER: usize = 256;

/// A comment line so proxies and the browser see the stream alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One SSE event. Every line of `data` becomes its own `data:` line (a
/// newline inside a value can neither end the event nor forge a field);
/// `event` and `id` are ours, never client input.
pub fn frame(event: &str, id: Option<u64>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(id) = id {
        out.push_str(&format!("id: {id}\n"));
    }
    out.push_str("event: ");
    out.push_str(event);
    out.push('\n');
    for line in data.split(['\n', '\r']) {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The `decision` event of one entry.
pub fn decision_frame(entry: &Entry) -> String {
    let data = serde_json::to_string(entry).unwrap_or_else(|_| "{}".into());
    frame("decision", Some(entry.seq), &data)
}

/// The body of a stream: the chunks its task queued, in order.
pub struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl HttpBody for SseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Open a stream: the backlog, then a task feeding live events until the
/// client goes away (its body, and so the receiver, is dropped).
pub fn open(console: Arc<Console>) -> SseBody {
    let (backlog, live) = console.subscribe();
    let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
    // `retry` tells the browser how soon to reconnect after a drop.
    let mut first = String::from("retry: 2000\n\n");
    for e in &backlog {
        first.push_str(&decision_frame(e));
    }
    // The buffer is empty: the first chunk always fits.
    let _ = tx.try_send(Bytes::from(first));
    tokio::spawn(feed(console, live, tx));
    SseBody { rx }
}

/// Queue one chunk; `false` when the client is gone.
fn offer(console: &Console, tx: &mpsc::Sender<Bytes>, chunk: String) -> bool {
    match tx.try_send(Bytes::from(chunk)) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            console.note_dropped(1);
            true
        }
        Err(TrySendError::Closed(_)) => false,
    }
}

async fn feed(
    console: Arc<Console>,
    mut live: tokio::sync::broadcast::Receiver<Arc<Entry>>,
    tx: mpsc::Sender<Bytes>,
) {
    let mut tick = tokio::time::interval(KEEP_ALIVE);
    tick.tick().await;
    loop {
        let chunk = tokio::select! {
            r = live.recv() => match r {
                Ok(entry) => decision_frame(&entry),
                Err(RecvError::Lagged(n)) => {
                    console.note_dropped(n);
                    frame("dropped", None, &n.to_string())
                }
                Err(RecvError::Closed) => return,
            },
            () = tx.closed() => return,
            _ = tick.tick() => ": keep-alive\n\n".to_string(),
        };
        if !offer(&console, &tx, chunk) {
            return;
        }
    }
}
