//! `iamgate::memory::nudge`: with the gateway's allocator, memory freed
//! and left idle stays resident until the allocator allocates again; the
//! nudge is that allocation. The control half fails if a mimalloc update
//! starts purging on its own (then the nudge can go).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

#[test]
fn freed_memory_goes_back_only_after_the_nudge() {
    let before = rss_mib();
    // ~128 MiB in small blocks, as a load's parse trees and maps are.
    let blocks: Vec<Box<[u8; 512]>> = (0..256 * 1024).map(|_| Box::new([7; 512])).collect();
    std::hint::black_box(&blocks);
    let held = rss_mib();
    assert!(held > before + 100.0, "before {before:.1}, held {held:.1}");
    drop(blocks);
    std::thread::sleep(iamgate::memory::SETTLE);
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
