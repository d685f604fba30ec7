//! The real binary: `[decision_log] max_bytes` is accepted, and SIGUSR1
//! (logrotate's `postrotate kill -USR1`) makes the writer open a fresh file
//! after the old one was moved away.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `iamgate serve`; returns the child and the gateway's address.
fn serve(dir: &Path) -> (Child, String) {
    let config = dir.join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n\
         [decision_log]\ntarget = \"decisions.jsonl\"\nmax_bytes = 1000000\n\
         [upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n\
         [regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"),
        common::manifest("policies"),
    );
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_string();
        }
    };
    (child, addr)
}

/// One HTTP/1.1 request to an unknown path (a 404, which gets a line too);
/// returns its request id.
fn request(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let id = answer.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("x-request-id: ")
            .map(str::to_string)
    });
    id.expect("an X-Request-Id")
}

fn wait_for(path: &Path, needle: &str) {
    for _ in 0..300 {
        if std::fs::read_to_string(path)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{needle} never reached {}", path.display());
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

#[test]
fn sigusr1_reopens_the_decision_log_after_logrotate_moved_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path());
    let log = dir.path().join("decisions.jsonl");
    let moved = dir.path().join("decisions.jsonl.1");
    let before = request(&addr, "/before-rotation");
    wait_for(&log, &before);
    std::fs::rename(&log, &moved).unwrap();
    signal(&child, "USR1");
    std::thread::sleep(Duration::from_millis(300)); // the signal task runs
    let after = request(&addr, "/after-rotation");
    wait_for(&log, &after);
    signal(&child, "TERM");
    assert!(
        child.wait().unwrap().success(),
        "SIGUSR1 did not kill the gateway"
    );
    let old = std::fs::read_to_string(&moved).unwrap();
    assert!(old.contains(&before) && !old.contains(&after), "{old}");
}
