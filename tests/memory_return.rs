//! What the gateway does so that freed memory leaves its RSS.
//!
//! `iamgate::memory::nudge`: with the gateway's allocator, memory freed
//! and left idle stays resident until the allocator allocates again; the
//! nudge is that allocation. The control half fails if a mimalloc update
//! starts purging on its own (then the nudge can go).
//!
//! `iamgate::memory::BLOCKING_KEEP_ALIVE`: what a reload allocated and
//! freed on one of the runtime's blocking threads stays resident while that
//! thread idles, and goes back when it exits. The gateway's runtime lets an
//! idle blocking thread go after 2 s instead of tokio's 10 s, so the RSS a
//! reload added falls within seconds. The control half (a thread kept
//! alive) fails if the allocator starts returning such memory on its own.
//!
//! RSS is the whole process's: the tests take turns (`ONE_AT_A_TIME`).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;
use std::time::Duration;

use iamgate::memory::{BLOCKING_KEEP_ALIVE, SETTLE};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

#[test]
fn freed_memory_goes_back_only_after_the_nudge() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = rss_mib();
    // ~128 MiB in small blocks, as a load's parse trees and maps are.
    let blocks: Vec<Box<[u8; 512]>> = (0..256 * 1024).map(|_| Box::new([7; 512])).collect();
    std::hint::black_box(&blocks);
    let held = rss_mib();
    assert!(held > before + 100.0, "before {before:.1}, held {held:.1}");
    drop(blocks);
    std::thread::sleep(SETTLE);
    let idle = rss_mib();
    assert!(
        idle > before + 100.0,
        "freed but idle: still resident (before {before:.1}, idle {idle:.1})"
    );
    iamgate::memory::nudge();
    let nudged = rss_mib();
    assert!(
        nudged < before + 30.0,
        "before {before:.1}, idle {idle:.1}, nudged {nudged:.1}"
    );
}

/// RSS above `before` once a blocking task of a runtime whose idle
/// blocking threads live `keep_alive` allocated and freed ~128 MiB (as a
/// reload's parse trees and the replaced snapshot), and `BLOCKING_KEEP_ALIVE`
/// plus the allocator's settle time went by.
fn left_after_blocking_work(keep_alive: Duration) -> f64 {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_keep_alive(keep_alive)
        .enable_all()
        .build()
        .unwrap();
    let before = rss_mib();
    let held = runtime.block_on(async {
        tokio::task::spawn_blocking(|| {
            let blocks: Vec<Box<[u8; 512]>> = (0..256 * 1024).map(|_| Box::new([7; 512])).collect();
            std::hint::black_box(&blocks);
            rss_mib()
        })
        .await
        .unwrap()
    });
    assert!(held > before + 100.0, "before {before:.1}, held {held:.1}");
    std::thread::sleep(BLOCKING_KEEP_ALIVE + SETTLE);
    let left = rss_mib() - before;
    runtime.shutdown_timeout(Duration::from_secs(5));
    left
}

#[test]
fn memory_freed_on_a_blocking_thread_goes_back_when_the_idle_thread_exits() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let kept = left_after_blocking_work(Duration::from_secs(60));
    assert!(
        kept > 100.0,
        "control: the thread still idles, its freed memory stays ({kept:.1} MiB left)"
    );
    let gone = left_after_blocking_work(BLOCKING_KEEP_ALIVE);
    assert!(
        gone < 30.0,
        "the idle thread exited after {BLOCKING_KEEP_ALIVE:?}: {gone:.1} MiB left"
    );
}
