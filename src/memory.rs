//! The process's memory as the OS sees it (`VmRSS`).
//!
//! **No transparent huge pages.** The gateway's allocator (mimalloc,
//! `src/main.rs`) asks for them on its arenas. A huge page is resident as a
//! whole as soon as one byte of it is, and is zeroed as a whole (2 MiB)
//! when first touched after the allocator returned it. On the 10k tree
//! (10,000 users, 10,000 policy files) a watched reload in the gateway
//! spent ~14 % of its time in the kernel zeroing such pages, and the idle
//! RSS counted partly used ones in full. With them off for the process,
//! both fall (benches/README.md, "Fifth session").

/// Turn transparent huge pages off for this process (Linux; elsewhere
/// nothing to do). Called first thing in `main`: it applies to every page
/// touched from then on, in every thread.
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        // Not fatal: the gateway works the same, with more memory.
        eprintln!("iamgate: cannot turn transparent huge pages off: {e}");
    }
}

/// Whether transparent huge pages are off for this process (`None` where
/// that cannot be asked).
pub fn transparent_huge_pages_disabled() -> Option<bool> {
    #[cfg(target_os = "linux")]
    return rustix::thread::transparent_huge_pages_are_disabled().ok();
    #[cfg(not(target_os = "linux"))]
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn transparent_huge_pages_are_off_once_asked() {
        // Process-wide, as in the gateway; nothing in the tests depends on
        // huge pages.
        no_transparent_huge_pages();
        assert_eq!(transparent_huge_pages_disabled(), Some(true));
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        // Kernels from 6.x report it; older ones have no such line.
        if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            assert!(line.ends_with('0'), "{line}");
        }
    }
}
