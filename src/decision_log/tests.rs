//! The writer against real files: lines, drops, reopen, rotation, recovery
//! from write errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;

fn sample(n: u64) -> DecisionRecord {
    DecisionRecord {
        schema: SCHEMA_VERSION,
        // Fixed: every sample line has the same length (rotation tests count bytes).
        time: "2026-12-01T00:00:00.123456789Z".to_owned(),
        request_id: format!("req-{n}"),
        method: "GET".to_owned(),
        path: "/v1/p1/notebooks".to_owned(),
        query: None,
        source_ip: Some("10.0.0.1".to_owned()),
        peer: Some("10.0.0.1".to_owned()),
        tls: false,
        access_key_id: None,
        principal: Some("iam::123:user:alice".to_owned()),
        auth: Some("token"),
        service: Some("modelarts".to_owned()),
        operation: None,
        actions: Vec::new(),
        context: BTreeMap::new(),
        decision: "allow".to_owned(),
        deciding: "ReadOnly#0 (Sid)".to_owned(),
        error: None,
        status: 200,
        latency_us: 42 + n,
        snapshot: "abc123".to_owned(),
    }
}

fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&n);
    (n, move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
}

fn quick(max_bytes: Option<u64>) -> LogOptions {
    LogOptions {
        capacity: 16,
        max_bytes,
        retry_after: Duration::from_millis(20),
    }
}

/// Waits (up to 5 s) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
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

    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "existing", "append mode keeps old content");
    for (n, line) in lines[1..].iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["schema"], SCHEMA_VERSION);
        assert_eq!(v["request_id"], format!("req-{n}"));
        assert_eq!(v["latency_us"], 42 + n as u64);
        assert_eq!(
            v["query"],
            serde_json::Value::Null,
            "absent fields are null"
        );
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
    let text = read(&path);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"req-0\""));
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
    assert_eq!(read(&path), "");
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
    off.reopen();
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

#[tokio::test]
async fn reopen_after_the_file_was_moved_writes_to_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.log");
    let moved = dir.path().join("decisions.log.old");
    let log =
        DecisionLog::start_with(LogTarget::File(path.clone()), quick(None), || {}, || {}).unwrap();
    log.record(sample(0));
    until("first line", || read(&path).contains("req-0")).await;
    std::fs::rename(&path, &moved).unwrap();
    log.record(sample(1)); // still the open (moved) file
    until("second line in the moved file", || {
        read(&moved).contains("req-1")
    })
    .await;
    log.reopen();
    log.record(sample(2));
    log.close().await;
    assert_eq!(read(&moved).lines().count(), 2);
    let fresh = read(&path);
    assert_eq!(fresh.lines().count(), 1, "{fresh}");
    assert!(fresh.contains("req-2"));
}

#[tokio::test]
async fn a_write_error_is_counted_and_lines_resume_once_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.log");
    let (drops, on_drop) = counter();
    let (errors, on_error) = counter();
    let log = DecisionLog::start_with(
        LogTarget::File(path.clone()),
        quick(None),
        on_drop,
        on_error,
    )
    .unwrap();
    // The target turns into a directory: reopening it fails.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    log.reopen();
    log.record(sample(0));
    until("a write error", || errors.load(Ordering::SeqCst) == 1).await;
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the failed line is a drop too"
    );
    // Fixed: after the backoff, the next line lands.
    std::fs::remove_dir(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    log.record(sample(1));
    log.close().await;
    let text = read(&path);
    assert!(text.contains("req-1") && !text.contains("req-0"), "{text}");
    assert_eq!(errors.load(Ordering::SeqCst), 1);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_full_disk_never_stops_the_writer_for_good() {
    let (errors, on_error) = counter();
    let target = LogTarget::File("/dev/full".into());
    let log = DecisionLog::start_with(target, quick(None), || {}, on_error).unwrap();
    log.record(sample(0));
    until("first error", || errors.load(Ordering::SeqCst) == 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await; // past the backoff
    log.record(sample(1));
    until("a second attempt", || errors.load(Ordering::SeqCst) == 2).await;
    log.close().await;
}

#[tokio::test]
async fn max_bytes_rotates_to_dot_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.log");
    let one_line = serde_json::to_vec(&sample(0)).unwrap().len() as u64 + 1;
    let options = quick(Some(one_line * 2));
    let log =
        DecisionLog::start_with(LogTarget::File(path.clone()), options, || {}, || {}).unwrap();
    for n in 0..3 {
        log.record(sample(n));
        let want = format!("req-{n}");
        until("the line", || read(&path).contains(&want)).await;
    }
    log.close().await;
    let rotated = dir.path().join("decisions.log.1");
    let (old, new) = (read(&rotated), read(&path));
    assert_eq!(old.lines().count(), 2, "{old}");
    assert!(old.contains("req-0") && old.contains("req-1"));
    assert_eq!(new.lines().count(), 1, "{new}");
    assert!(new.contains("req-2"));
}
