//! Giving back what a load freed. mimalloc (the binary's allocator, see
//! `main.rs`) returns freed pages to the system `purge_delay` (1 s) after
//! they were freed — but only when it next allocates. An idle gateway
//! allocates nothing, so what a load or a reload freed (the replaced
//! snapshot, the files read, the parse trees) stayed resident: the gateway
//! holding 10,000 users and policies idled at ~117 MiB after start-up
//! instead of ~76 MiB. One small allocation after the delay lets the
//! allocator purge. Under traffic this happens on its own; with another
//! allocator it is a few harmless microseconds. After a reload the nudge
//! does not help: a reload allocates and frees on one of tokio's blocking
//! threads, and that memory goes back when the thread exits, so the
//! gateway's runtime lets an idle blocking thread go after
//! [`BLOCKING_KEEP_ALIVE`] (benches/README.md, sixth and seventh sessions).

use std::time::Duration;

/// Longer than mimalloc's default purge delay (1 s).
pub const SETTLE: Duration = Duration::from_millis(1500);

/// How long an idle blocking thread of the runtime lives (tokio's default:
/// 10 s). A reload runs on one, and what it allocated there is given back
/// when the thread exits.
pub const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(2);

/// After [`SETTLE`], [`nudge`] the allocator (on the current tokio runtime).
pub fn return_freed_memory_later() {
    tokio::spawn(async {
        tokio::time::sleep(SETTLE).await;
        nudge();
    });
}

/// Allocate and free a little: enough small blocks that the allocator
/// takes a fresh page, the path on which it purges what waited long enough.
pub fn nudge() {
    let blocks: Vec<Box<[u8; 64]>> = (0..1024).map(|_| Box::new([0; 64])).collect();
    std::hint::black_box(&blocks);
}
